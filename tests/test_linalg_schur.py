"""xtrace.scipy.linalg.schur / rsf2csf / sqrtm / funm against SciPy: the factors' properties
(orthogonality, ``Z T Z^H == A``, (quasi-)triangular T in LAPACK's standard form), eigenvalues
compared sorted (the order along T's diagonal is not LAPACK's), and the matrix functions'
values."""
import numpy as np
import pytest
import scipy.linalg as sl

import xtrace.numpy as xnp
from xtrace.scipy import linalg as xsl

RNG = np.random.default_rng(5)


def _stack():
    s = RNG.standard_normal((5, 5))
    return np.stack([RNG.standard_normal((5, 5)), s + s.T]).astype(np.float32)


A = _stack()


def _sorted(w):
    w = np.asarray(w)
    order = np.lexsort((w.imag, np.round(w.real, 4)), axis=-1)
    return np.take_along_axis(w, order, -1)


def _check_factors(a, t, z, tol):
    t, z = np.asarray(t), np.asarray(z)
    zh = np.conj(np.swapaxes(z, -1, -2))
    n = a.shape[-1]
    np.testing.assert_allclose(zh @ z, np.broadcast_to(np.eye(n), z.shape), atol=tol)
    np.testing.assert_allclose(z @ t @ zh, a, atol=tol * np.abs(a).max())
    d = np.linalg.eigvals(t.astype(np.complex128))
    np.testing.assert_allclose(_sorted(d), _sorted(np.linalg.eigvals(a.astype(np.float64))),
                               atol=tol * np.abs(a).max())


def test_schur_real_stack():
    t, z = xsl.schur(A)
    assert t.dtype == np.float32 and z.dtype == np.float32 and t.shape == (2, 5, 5)
    _check_factors(A, t, z, 1e-5)
    t = np.asarray(t)
    assert np.all(np.tril(t, -2) == 0)
    sub = np.diagonal(t, -1, -2, -1)
    assert not np.any((sub[:, 1:] != 0) & (sub[:, :-1] != 0))  # 1x1 and 2x2 blocks only
    for b, i in zip(*np.nonzero(sub)):  # lanv2's standard form of a complex pair
        assert t[b, i, i] == t[b, i + 1, i + 1] and t[b, i, i + 1] * t[b, i + 1, i] < 0
    assert np.all(sub[1] == 0)  # symmetric: real eigenvalues, triangular T


def test_schur_complex_output_and_input():
    t, z = xsl.schur(A, output="complex")
    assert t.dtype == np.complex64 and z.dtype == np.complex64
    _check_factors(A, t, z, 1e-5)
    assert np.all(np.tril(np.asarray(t), -1) == 0)
    t2, z2 = xsl.schur(A.astype(np.complex64))  # complex input: the complex form
    assert t2.dtype == np.complex64
    _check_factors(A, t2, z2, 1e-5)


def test_schur_errors():
    with pytest.raises(ValueError, match="output"):
        xsl.schur(A, output="other")
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        xsl.schur(np.ones((2, 3), np.float32))


def test_rsf2csf_matches_scipy():
    a = RNG.standard_normal((4, 4))
    a[:2, :2] = [[0.3, -2.0], [1.5, 0.3]]
    t, z = sl.schur(a)
    tc, zc = xsl.rsf2csf(t.astype(np.float32), z.astype(np.float32))
    assert tc.dtype == np.complex64 and zc.dtype == np.complex64
    want_t, want_z = sl.rsf2csf(t, z)
    np.testing.assert_allclose(np.asarray(tc), want_t, atol=1e-5)
    np.testing.assert_allclose(np.asarray(zc), want_z, atol=1e-5)
    with pytest.raises(ValueError, match="must match"):
        xsl.rsf2csf(np.eye(3), np.eye(4))


def test_sqrtm_and_funm():
    b = RNG.standard_normal((4, 4))
    a = (b @ b.T + np.eye(4)).astype(np.float32)
    r = xsl.sqrtm(a)
    assert r.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(r), sl.sqrtm(a.astype(np.float64)), atol=1e-4)
    with pytest.raises(NotImplementedError):
        xsl.sqrtm(a, blocksize=2)
    m = (0.5 * b).astype(np.float32)
    f = xsl.funm(m, xnp.exp)
    assert f.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(f), sl.expm(0.5 * b), atol=1e-4)
    f2, err = xsl.funm(m, xnp.exp, disp=False)
    np.testing.assert_allclose(np.asarray(f2), np.asarray(f))
    assert 0 < float(err) < 1e-3
    with pytest.raises(ValueError, match="square"):
        xsl.funm(np.ones((2, 3, 3)), xnp.exp)


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_solve_sylvester():
    import xtrace
    a, b, c = RNG.standard_normal((4, 4)), RNG.standard_normal((3, 3)), RNG.standard_normal((4, 3))
    ref = sl.solve_sylvester(a, b, c)
    for method in ("schur", "eigen"):
        x = xsl.solve_sylvester(*(v.astype(np.float32) for v in (a, b, c)), method=method)
        assert x.dtype == np.float32 and x.shape == (4, 3)
        np.testing.assert_allclose(x, ref, atol=2e-4 * np.abs(ref).max())
    with xtrace.enable_x64():
        # linear in c: the gradient of sum(X) solves the transposed equation
        g = xtrace.grad(lambda c: xsl.solve_sylvester(a, b, c).sum())(c)
        np.testing.assert_allclose(g, sl.solve_sylvester(a.T, b.T, np.ones((4, 3))), rtol=1e-9)
        # eigenvalue sums at zero: no unique solution, NaNs (as JAX)
        assert np.isnan(np.asarray(xsl.solve_sylvester(np.eye(4), -np.eye(3), c))).all()
    with pytest.raises(ValueError, match="Incompatible shapes"):
        xsl.solve_sylvester(np.eye(2), np.eye(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="Unrecognized method"):
        xsl.solve_sylvester(np.eye(2), np.eye(2), np.ones((2, 2)), method="qr")
