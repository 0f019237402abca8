"""xtrace.scipy.linalg's decomposition-free functions against SciPy."""
import numpy as np
import pytest
import scipy.linalg as sl

import xtrace
import xtrace.scipy.linalg as xsl


def test_toeplitz():
    c, r = np.arange(1.0, 5.0, dtype=np.float32), np.arange(10.0, 13.0, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(xsl.toeplitz(c, r)), sl.toeplitz(c, r))
    np.testing.assert_array_equal(np.asarray(xsl.toeplitz(np.array([1, 2, 3]))),
                                  sl.toeplitz([1, 2, 3]))
    z = np.array([1 + 1j, 2 - 1j], np.complex64)
    np.testing.assert_array_equal(np.asarray(xsl.toeplitz(z)), sl.toeplitz(z))
    batched = xsl.toeplitz(np.ones((2, 3), np.float32), np.zeros(4, np.float32))
    assert batched.shape == (2, 3, 4)
    out = xtrace.jit(xsl.toeplitz)(c, r)
    np.testing.assert_array_equal(np.asarray(out), sl.toeplitz(c, r))
    g = xtrace.grad(lambda c: xsl.toeplitz(c, r).sum())(c)
    np.testing.assert_array_equal(np.asarray(g), [3, 3, 2, 1])  # c[k] appears min(m, n-k) times


def test_block_diag():
    a, b = np.ones((2, 2), np.float32), np.array([5, 6])
    out = xsl.block_diag(a, b, 3.0)
    np.testing.assert_array_equal(np.asarray(out), sl.block_diag(a, b, 3.0))
    assert out.dtype == np.float32
    assert xsl.block_diag().shape == (1, 0)
    assert xsl.block_diag(np.ones(2, np.int32), np.int32(2)).dtype == np.int32
    with pytest.raises(ValueError, match="at most 2"):
        xsl.block_diag(np.ones((1, 1, 1)))
