"""xtrace.numpy.linalg.eig / eigvals, xtrace.numpy.roots and poly of a matrix against NumPy:
eigenvalues compared sorted (their order is not LAPACK's), eigenvectors through the residual
``A v - v w`` and their unit norms; dtypes, stacks, jit, vmap, and the eigenvalue derivative
against central finite differences. Shapes are few and small: each new one compiles the QR
iteration afresh."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace.numpy import linalg as xla

RNG = np.random.default_rng(11)


def _sorted(w):
    """Eigenvalues sorted by real part, then imaginary part, rounded so that ties in the real
    part of a conjugate pair sort the same way on both sides."""
    w = np.asarray(w)
    key = np.round(w.real, 4) + 0j
    order = np.lexsort((w.imag, key.real), axis=-1)
    return np.take_along_axis(w, order, -1)


def _stack_f32():
    """A random matrix, a symmetric one, and one with a conjugate pair and a repeated real
    eigenvalue (similar to block-diag(rotation, 2, 2))."""
    r = RNG.standard_normal((4, 4))
    s = RNG.standard_normal((4, 4))
    b = np.zeros((4, 4))
    b[:2, :2] = [[0.5, -2.0], [2.0, 0.5]]
    b[2, 2] = b[3, 3] = 2.0
    q, _ = np.linalg.qr(RNG.standard_normal((4, 4)))
    return np.stack([r, s + s.T, q @ b @ q.T]).astype(np.float32)


A32 = _stack_f32()


def _check_eig(a, w, v, tol):
    w, v = np.asarray(w), np.asarray(v)
    want = np.linalg.eigvals(a.astype(np.complex128))
    scale = np.abs(a).max()
    np.testing.assert_allclose(_sorted(w), _sorted(want), rtol=0, atol=tol * scale)
    res = np.einsum("...ij,...jk->...ik", a, v) - v * w[..., None, :]
    assert np.abs(res).max() <= tol * scale
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1, rtol=0, atol=tol)
    # geev's normalization: the largest component of each eigenvector is real
    big = np.take_along_axis(v, np.abs(v).argmax(-2)[..., None, :], -2)
    assert np.abs(big.imag).max() <= tol


def test_eig_float32_stack():
    w, v = xla.eig(A32)
    assert w.dtype == np.complex64 and v.dtype == np.complex64
    assert w.shape == (3, 4) and v.shape == (3, 4, 4)
    _check_eig(A32, w, v, 1e-5)
    w = np.asarray(w)
    # real input: exactly conjugate pairs, real eigenvalues exactly real
    np.testing.assert_array_equal(np.sort_complex(w), np.sort_complex(np.conj(w)))
    assert np.all(w[1].imag == 0)


def test_eig_result_fields():
    res = xla.eig(A32)
    assert isinstance(res, xla.EigResult)
    assert res.eigenvalues.shape == (3, 4) and res.eigenvectors.shape == (3, 4, 4)


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_eigvals_stack_int_and_vmap():
    w = xla.eigvals(A32)
    assert w.dtype == np.complex64 and w.shape == (3, 4)
    np.testing.assert_allclose(_sorted(w), _sorted(np.linalg.eigvals(A32.astype(float))),
                               atol=1e-5 * np.abs(A32).max())
    ints = RNG.integers(-4, 5, (3, 4, 4)).astype(np.int32)
    wi = xla.eigvals(ints)  # promoted to float32, as in JAX
    assert wi.dtype == np.complex64
    np.testing.assert_allclose(_sorted(wi), _sorted(np.linalg.eigvals(ints.astype(float))),
                               atol=1e-4)
    wv = xtrace.vmap(xla.eigvals)(A32)
    np.testing.assert_allclose(_sorted(wv), _sorted(w), atol=1e-5 * np.abs(A32).max())


def test_eig_complex64():
    a = (RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))).astype(np.complex64)
    w, v = xla.eig(a)
    assert w.dtype == np.complex64 and v.dtype == np.complex64
    _check_eig(a, w, v, 1e-5)


def test_eig_float64_badly_scaled_and_defective():
    d = np.diag(10.0 ** np.arange(-3, 2))
    a1 = d @ RNG.standard_normal((5, 5)) @ np.linalg.inv(d)
    a2 = np.diag(np.full(5, 3.0)) + np.diag(np.ones(4), 1)  # one Jordan block
    a3 = np.diag([1.0, 1, 2, 2, 5])  # repeated eigenvalues
    with xtrace.enable_x64():
        for a in (a1, a2, a3):
            w, v = xla.eig(a)
            assert w.dtype == np.complex128 and v.dtype == np.complex128
            w, v = np.asarray(w), np.asarray(v)
            if a is a2:  # defective: eigenvalues only to sqrt-ish precision, residual still small
                np.testing.assert_allclose(w, 3, atol=1e-2)
                assert np.abs(a @ v - v * w).max() < 1e-12
            else:
                _check_eig(a, w, v, 1e-12)


def test_eigvals_grad_vs_finite_differences():
    a = RNG.standard_normal((3, 3)).astype(np.float32)

    def f_np(m):
        w = np.linalg.eigvals(m)
        return np.sum(w.real ** 2 - w.imag ** 2 + 0.5 * w.real)

    def f(m):
        w = xla.eigvals(m)
        return xnp.sum(xnp.real(w) ** 2 - xnp.imag(w) ** 2 + 0.5 * xnp.real(w))

    g = np.asarray(xtrace.jit(xtrace.grad(f))(a))
    a64, h = a.astype(np.float64), 1e-6
    fd = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = h
            fd[i, j] = (f_np(a64 + e) - f_np(a64 - e)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-3, atol=1e-3)


def test_eig_eigenvectors_not_differentiable():
    def f(m):
        return xnp.sum(xnp.real(xla.eig(m)[1]))
    with pytest.raises(NotImplementedError):
        xtrace.grad(f)(np.eye(2, dtype=np.float32))


@pytest.mark.parametrize("fn", [xla.eig, xla.eigvals])
def test_eig_errors(fn):
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        fn(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="at least 2"):
        fn(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float16"):
        fn(np.ones((2, 2), np.float16))


def test_eig_empty_and_1x1():
    w, v = xla.eig(np.zeros((0, 0), np.float32))
    assert w.shape == (0,) and w.dtype == np.complex64 and v.shape == (0, 0)
    w, v = xla.eig(np.array([[-2.5]], np.float32))
    np.testing.assert_allclose(np.asarray(w), [-2.5])
    np.testing.assert_allclose(np.asarray(v), [[1.0]])


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_roots_and_poly_of_matrix():
    p = np.array([2.0, -3.0, -11.0, 6.0], np.float32)  # roots 3, -2, 0.5
    r = xnp.roots(p)
    assert r.dtype == np.complex64 and r.shape == (3,)
    np.testing.assert_allclose(_sorted(r), _sorted(np.roots(p).astype(complex)), atol=1e-5)
    # leading zeros are stripped (needs concrete input), or give NaN roots under jit
    r0 = xnp.roots(np.concatenate([[0.0], p]).astype(np.float32))
    np.testing.assert_allclose(_sorted(r0), _sorted(r), atol=1e-5)
    rj = np.asarray(xtrace.jit(lambda q: xnp.roots(q, strip_zeros=False))(
        np.concatenate([[0.0], p]).astype(np.float32)))
    assert np.isnan(rj[-1]) and np.isfinite(rj[:3]).all()
    np.testing.assert_allclose(_sorted(rj[:3]), _sorted(r), atol=1e-5)
    assert xnp.roots(np.array([4.0], np.float32)).shape == (0,)
    with pytest.raises(ValueError, match="rank-1"):
        xnp.roots(np.ones((2, 2)))
    m = np.array([[2.0, 1, 0], [1, 3, 1], [0, 1, 4]], np.float32)
    c = xnp.poly(m)
    assert c.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(c), np.poly(m.astype(float)), atol=1e-4)
