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


# ---------------------------------------------------------------------------------------------
# Factorizations and solvers

RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 4)).astype(np.float32)
SPD = (A @ A.T + 4 * np.eye(4)).astype(np.float32)
TRI = (np.triu(A) + 3 * np.eye(4)).astype(np.float32)
B = RNG.standard_normal((4, 2)).astype(np.float32)


def _close(got, want, tol=1e-4):
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)


def _fd_check(f_xtrace, f_scipy, x, h=1e-6, tol=1e-6, sym=False):
    """The directional derivative of sum(w * f) along a random direction (symmetric with
    ``sym``: the Cholesky rules assume symmetric perturbations, as JAX's): xtrace's gradient
    against central differences of SciPy's function (float64)."""
    rng = np.random.default_rng(1)
    out = np.asarray(f_scipy(x))
    w = rng.standard_normal(out.shape)
    u = rng.standard_normal(x.shape)
    u = u + u.T if sym else u
    g = xtrace.jit(xtrace.grad(lambda y: (f_xtrace(y) * w).sum()))(x)
    fd = ((w * f_scipy(x + h * u)).sum() - (w * f_scipy(x - h * u)).sum()) / (2 * h)
    np.testing.assert_allclose(float((np.asarray(g) * u).sum()), fd, rtol=tol, atol=tol)


def test_solve_triangular():
    for trans in (0, 1, 2, "T"):
        _close(xsl.solve_triangular(TRI, B, trans=trans), sl.solve_triangular(TRI, B, trans=trans))
        _close(xsl.solve_triangular(TRI.T, B[:, 0], trans=trans, lower=True, unit_diagonal=True),
               sl.solve_triangular(TRI.T, B[:, 0], trans=trans, lower=True, unit_diagonal=True))
    out = xsl.solve_triangular(np.stack([TRI, 2 * TRI]), B)  # leading dimensions broadcast
    assert out.shape == (2, 4, 2)
    _close(out[1], sl.solve_triangular(2 * TRI, B))
    ints = xsl.solve_triangular(np.eye(2, dtype=np.int32), np.array([1, 2]))
    assert ints.dtype == np.float32
    with pytest.warns(FutureWarning):  # a stack of vectors: JAX's deprecated reading
        xsl.solve_triangular(np.stack([TRI, TRI]), B.T)
    with pytest.raises(ValueError, match="trans"):
        xsl.solve_triangular(TRI, B, trans=3)
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        xsl.solve_triangular(TRI[:, :3], B)


def test_cholesky_and_cho_solve():
    _close(xsl.cholesky(SPD), sl.cholesky(SPD))
    _close(xsl.cholesky(SPD, lower=True), sl.cholesky(SPD, lower=True))
    assert xsl.cholesky(np.eye(3, dtype=np.int32)).dtype == np.float32
    for lower in (False, True):
        c = xsl.cho_factor(SPD, lower=lower)
        assert c[1] is lower
        _close(xsl.cho_solve(c, B), sl.cho_solve(sl.cho_factor(SPD, lower=lower), B))
        _close(xsl.cho_solve(c, B[:, 0]), np.linalg.solve(SPD, B[:, 0]))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        xsl.cholesky(SPD[:, :3])


def test_lu():
    for a in (A, A[:3]):
        for got, want in zip(xsl.lu(a), sl.lu(a)):
            _close(got, want)
    _close(xsl.lu(A[:, :3], permute_l=True)[0], sl.lu(A[:, :3], permute_l=True)[0])
    lu_, piv = xsl.lu_factor(A)
    want_lu, want_piv = sl.lu_factor(A)
    _close(lu_, want_lu)
    np.testing.assert_array_equal(np.asarray(piv), want_piv)
    assert piv.dtype == np.int32
    for trans in (0, 1, 2):
        _close(xsl.lu_solve((lu_, piv), B, trans=trans), sl.lu_solve((want_lu, want_piv), B,
                                                                      trans=trans))
    _close(xsl.lu_solve((lu_, piv), B[:, 0]), sl.lu_solve((want_lu, want_piv), B[:, 0]))
    lus, pivs = xsl.lu_factor(np.stack([A, A.T]))
    _close(xsl.lu_solve((lus, pivs), B)[1], np.linalg.solve(A.T, B))
    with pytest.raises(ValueError, match="trans"):
        xsl.lu_solve((lu_, piv), B, trans=3)


def test_qr():
    a = A[:, :3]
    for mode in ("full", "economic", "r"):
        got, want = xsl.qr(a, mode=mode), sl.qr(a, mode=mode)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w)
    for a, mode in ((A[:, :3], "full"), (A[:3], "economic")):
        q, r, p = xsl.qr(a, mode=mode, pivoting=True)
        wq, wr, wp = sl.qr(a, mode=mode, pivoting=True)
        np.testing.assert_array_equal(np.asarray(p), wp)
        assert p.dtype == np.int32
        _close(q, wq)
        _close(r, wr)
    r, p = xtrace.eval_shape(lambda a: xsl.qr(a, mode="r", pivoting=True), A)
    assert r.shape == (4, 4) and p.shape == (4,)
    q, r, p = xsl.qr(np.stack([A, 2 * A]), pivoting=True)
    _close(np.take_along_axis(np.asarray(q @ r), np.argsort(np.asarray(p))[:, None, :], -1),
           np.stack([A, 2 * A]))
    with pytest.raises(ValueError, match="raw"):
        xsl.qr(A, mode="raw")


def test_qr_multiply():
    c = RNG.standard_normal((2, 4)).astype(np.float32)
    a = A[:, :3]
    for mode, cc in (("right", c), ("left", c[:, :3].T), ("right", c[0])):
        for pivoting in (False, True):
            got = xsl.qr_multiply(a, cc, mode=mode, pivoting=pivoting)
            want = sl.qr_multiply(a, cc, mode=mode, pivoting=pivoting)
            for g, w in zip(got, want):
                _close(g, w)
    with pytest.raises(ValueError, match="expected 3"):
        xsl.qr_multiply(a, c, mode="left")


def test_svd_eigh_det_inv():
    u, s, vh = xsl.svd(A[:3])
    assert u.shape == (3, 3) and vh.shape == (4, 4)
    _close(s, sl.svd(A[:3], compute_uv=False))
    _close((u * s) @ vh[:3], A[:3])
    assert xsl.svd(A, full_matrices=False, compute_uv=False).shape == (4,)
    w, v = xsl.eigh(SPD)
    _close(w, sl.eigh(SPD, eigvals_only=True), 1e-3)
    _close((v * w) @ v.T, SPD, 1e-3)
    _close(xsl.eigh(SPD, eigvals_only=True, lower=False), sl.eigvalsh(SPD), 1e-3)
    with pytest.raises(NotImplementedError):
        xsl.eigh(SPD, np.eye(4))
    _close(xsl.det(A), sl.det(A))
    _close(xsl.inv(A), sl.inv(A), 1e-3)
    assert xsl.det(np.eye(2, dtype=np.int32)).dtype == np.float32


def test_solve():
    for assume_a in ("gen", "sym", "her", "pos"):
        _close(xsl.solve(SPD, B, assume_a=assume_a), sl.solve(SPD, B, assume_a=assume_a))
        _close(xsl.solve(SPD, B[:, 0], assume_a=assume_a, lower=True),
               sl.solve(SPD, B[:, 0], assume_a=assume_a, lower=True))
    out = xsl.solve(np.stack([SPD, 2 * SPD]), B.T, assume_a="pos")  # stacks of vectors
    _close(out[1], np.linalg.solve(2 * SPD, B[:, 1]))
    with pytest.raises(ValueError, match="assume_a"):
        xsl.solve(SPD, B, assume_a="banded")
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(3,\)"):
        xsl.solve(SPD, B[:3, 0], assume_a="pos")


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_factorization_grads(x64):
    a, spd, tri = A.astype(np.float64), SPD.astype(np.float64), TRI.astype(np.float64)
    b = B.astype(np.float64)
    _fd_check(lambda t: xsl.solve_triangular(t, b, trans=2), lambda t: sl.solve_triangular(
        t, b, trans=2), tri)
    _fd_check(lambda s: xsl.cho_solve(xsl.cho_factor(s, lower=True), b),
              lambda s: sl.cho_solve(sl.cho_factor(s, lower=True), b), spd, sym=True)
    _fd_check(lambda m: xsl.lu_solve(xsl.lu_factor(m), b, trans=1),
              lambda m: sl.lu_solve(sl.lu_factor(m), b, trans=1), a)
    _fd_check(lambda m: xsl.qr(m, pivoting=True)[1], lambda m: sl.qr(m, pivoting=True)[1], a)
    _fd_check(lambda s: xsl.solve(s, b, assume_a="pos"),
              lambda s: sl.solve(s, b, assume_a="pos"), spd, sym=True)
    _fd_check(lambda m: xsl.polar(m, method="svd")[1], lambda m: sl.polar(m)[1], a)


def test_jit_and_vmap_of_solvers():
    lu_and_piv = xsl.lu_factor(A)
    out = xtrace.jit(xsl.lu_solve, static_argnames="trans")(lu_and_piv, B, trans=1)
    _close(out, sl.lu_solve(sl.lu_factor(A), B, trans=1))
    c = xsl.cho_factor(SPD)
    vm = xtrace.vmap(lambda x: xsl.cho_solve(c, x), in_axes=1, out_axes=1)(B)
    _close(vm, np.linalg.solve(SPD, B))


# ---------------------------------------------------------------------------------------------
# expm, expm_frechet, polar, hessenberg, eigh_tridiagonal


def test_expm():
    for scale in (0.01, 0.5, 3.0, 40.0):  # every Pade degree and some squarings
        want = sl.expm(scale * A.astype(np.float64))
        np.testing.assert_allclose(np.asarray(xsl.expm(scale * A)), want,
                                   rtol=1e-4, atol=1e-5 * np.abs(want).max())
    out = xsl.expm(np.stack([A, 1000 * A]), max_squarings=3)  # too many squarings: NaNs
    assert out.shape == (2, 4, 4) and out.dtype == np.float32
    _close(out[0], sl.expm(A), 1e-3)
    assert np.isnan(np.asarray(out[1])).all()
    _close(xsl.expm(TRI, upper_triangular=True), sl.expm(TRI))
    assert xsl.expm(np.eye(4, dtype=np.int32)).dtype == np.float32
    e = np.ones((4, 4), np.float32)
    w_expm, w_frechet = sl.expm_frechet(A, e)
    got_expm, got_frechet = xsl.expm_frechet(A, e)
    _close(got_expm, w_expm, 1e-3)
    _close(got_frechet, w_frechet, 1e-3)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        xsl.expm(np.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        xsl.expm_frechet(A, e[:3, :3])


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_expm_x64_and_grad(x64):
    a = A.astype(np.float64)
    for scale in (0.1, 1.0, 8.0):
        np.testing.assert_allclose(np.asarray(xsl.expm(scale * a)), sl.expm(scale * a),
                                   rtol=1e-11)
    _fd_check(lambda m: xsl.expm(8.0 * m), lambda m: sl.expm(8.0 * m), a, tol=1e-5)
    assert xsl.expm(a).dtype == np.float64


def test_polar_hessenberg():
    u, p = xsl.polar(A[:3], side="left")  # QDWH of the conjugate transpose
    wu, wp = sl.polar(A[:3], side="left")
    _close(u, wu, 1e-3)
    _close(p, wp, 1e-3)
    u, p = xsl.polar(A[:3], method="svd")  # SVD: any shape and side
    _close(p, sl.polar(A[:3])[1], 1e-3)
    with pytest.raises(NotImplementedError, match="qdwh"):
        xsl.polar(A[:3])
    assert xtrace.eval_shape(xsl.polar, np.stack([A[:, :3]] * 2))[1].shape == (2, 3, 3)
    z = (A + 1j * TRI).astype(np.complex64)
    for a in (A, z):
        h, q = xsl.hessenberg(a, calc_q=True)
        wh, wq = sl.hessenberg(a, calc_q=True)
        _close(h, wh)
        _close(q, wq)
    assert xtrace.eval_shape(xsl.hessenberg, np.stack([A, A])).shape == (2, 4, 4)
    with pytest.raises(TypeError, match="int32"):
        xsl.hessenberg(np.eye(3, dtype=np.int32))


def test_polar_qdwh_x64(x64):
    a = RNG.standard_normal((5, 3))
    z = a + 1j * RNG.standard_normal((5, 3))
    u, p = xsl.polar(np.stack([a, z]))  # QDWH, complex, batched
    np.testing.assert_allclose(np.asarray(u[1]), sl.polar(z)[0], atol=1e-12)
    np.testing.assert_allclose(np.asarray(p[0]), sl.polar(a)[1], atol=1e-12)


def test_eigh_tridiagonal():
    d, e = np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.array([0.5, 0.3, 0.2], np.float32)
    _close(xsl.eigh_tridiagonal(d, e, eigvals_only=True),
           sl.eigh_tridiagonal(d, e, eigvals_only=True))
    _close(xsl.eigh_tridiagonal(d, e, eigvals_only=True, select="i", select_range=(1, 2)),
           sl.eigh_tridiagonal(d, e, eigvals_only=True, select="i", select_range=(1, 2)))
    w, v = xsl.eigh_tridiagonal(d, e)
    t = np.diag(d) + np.diag(e, 1) + np.diag(e, -1)
    _close(t @ v, v * w, 1e-3)
    with pytest.raises(TypeError, match="float32"):
        xsl.eigh_tridiagonal(np.array([1, 2]), np.array([1]))
    with pytest.raises(NotImplementedError):
        xsl.eigh_tridiagonal(d, e, select="v", select_range=(0.0, 2.0))


# ---------------------------------------------------------------------------------------------
# Special matrices


def test_special_matrices_from_vectors():
    c, r = np.array([1, 2, 3]), np.array([4.0, 5.0])
    for got, want in [(xsl.hankel(c), sl.hankel(c)), (xsl.hankel(c, r), sl.hankel(c, r)),
                      (xsl.circulant(c), sl.circulant(c)), (xsl.fiedler(c), sl.fiedler(c)),
                      (xsl.companion(c), sl.companion(c)),
                      (xsl.leslie(np.array([1, 2, 3]), r), sl.leslie([1, 2, 3], r))]:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    assert xsl.circulant(c).dtype == np.int32 and xsl.companion(c).dtype == np.float32
    assert xsl.hankel(np.ones((2, 3)), r).shape == (2, 3, 2)
    assert xsl.leslie(np.ones((2, 3)), np.ones(2)).shape == (2, 3, 3)
    for k in (2, 3, 6):
        coeffs = np.arange(1.0, k + 1)
        _close(xsl.fiedler_companion(coeffs), sl.fiedler_companion(coeffs))
    for mode in ("full", "same", "valid"):
        for a, n in ((c, 5), (np.arange(1, 7), 3)):
            np.testing.assert_array_equal(np.asarray(xsl.convolution_matrix(a, n, mode)),
                                          sl.convolution_matrix(a, n, mode))
    with pytest.raises(ValueError, match="at least 2"):
        xsl.companion(np.array([1.0]))
    with pytest.raises(ValueError, match="one less"):
        xsl.leslie(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="positive"):
        xsl.convolution_matrix(c, 0)


def test_special_matrices_of_order_n():
    _close(xsl.hilbert(4), sl.hilbert(4), 1e-6)
    _close(xsl.invhilbert(5), sl.invhilbert(5), 1e-3)
    for kind in ("symmetric", "lower", "upper"):
        np.testing.assert_allclose(np.asarray(xsl.pascal(5, kind)), sl.pascal(5, kind),
                                   rtol=1e-5)
        np.testing.assert_allclose(np.asarray(xsl.invpascal(5, kind)), sl.invpascal(5, kind),
                                   rtol=1e-5, atol=1e-5)
    for full in (False, True):
        _close(xsl.helmert(4, full=full), sl.helmert(4, full=full), 1e-6)
    h = xsl.hadamard(8)
    assert h.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(h), sl.hadamard(8))
    assert xsl.hadamard(4, np.float32).dtype == np.float32
    for scale in (None, "sqrtn", "n"):
        d = xsl.dft(4, scale)
        assert d.dtype == np.complex64
        _close(d, sl.dft(4, scale), 1e-6)
    for name, args in [("pascal", (3, "bad")), ("helmert", (0,)), ("hadamard", (3,))]:
        with pytest.raises(ValueError):
            getattr(xsl, name)(*args)
    with pytest.raises(ValueError, match="complex"):
        xsl.dft(3, dtype=np.float32)


def test_special_matrices_x64(x64):
    assert xsl.hilbert(3).dtype == np.float64
    assert xsl.dft(3).dtype == np.complex128
    assert xsl.pascal(3).dtype == np.float32  # JAX builds it in float32
    assert xsl.invpascal(3).dtype == np.float64
    _close(xsl.invhilbert(6), sl.invhilbert(6), 1e-8)
