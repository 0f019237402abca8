"""xtrace.numpy.linalg's solvers and factorizations (cholesky, qr, solve, inv, det, slogdet,
lstsq, pinv, matrix_power, matrix_rank, multi_dot, cond, tensorinv, tensorsolve) and
xtrace.lax.linalg (lu, qr, cholesky, triangular_solve) against NumPy: values, dtypes, batch
dimensions, jit, vmap, errors, singular inputs, and derivatives against central finite
differences in float64."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace.lax import linalg as lax_linalg
from xtrace.numpy import linalg as xla

RNG = np.random.default_rng(11)


def _rand(*shape, dtype=np.float32):
    a = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def _spd(*shape, dtype=np.float32):
    m = _rand(*shape, dtype=dtype)
    n = shape[-1]
    return (m @ np.conj(np.swapaxes(m, -1, -2)) + n * np.eye(n)).astype(dtype)


def _close(got, want, tol=2e-5):
    got = np.asarray(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# values against NumPy


def test_solve_matches_numpy_broadcasting():
    for a_shape, b_shape in [((2, 4, 4), (4,)), ((1, 4, 4), (2, 4, 2))]:
        a, b = _rand(*a_shape) + 3 * np.eye(4, dtype=np.float32), _rand(*b_shape)
        got = xla.solve(a, b)
        assert got.dtype == np.float32
        _close(got, np.linalg.solve(a, b))


def test_solve_inv_dtypes():
    a = np.array([[3, 1], [2, 4]], np.int32)
    b = np.array([1, 2], np.int32)
    assert xla.solve(a, b).dtype == np.float32
    _close(xla.solve(a, b), np.linalg.solve(a, b))
    assert xla.inv(a).dtype == np.float32
    c = _rand(2, 4, 4, dtype=np.complex64) + 3 * np.eye(4)
    cb = _rand(4, 2, dtype=np.complex64)
    assert xla.solve(c, cb).dtype == np.complex64
    _close(xla.solve(c, cb), np.linalg.solve(c, cb))
    _close(xla.inv(c), np.linalg.inv(c))
    # mixed dtypes promote as JAX does
    assert xla.solve(a, b.astype(np.float32)).dtype == np.float32


def test_inv_batched_and_empty():
    a = _rand(2, 4, 4) + 2 * np.eye(4, dtype=np.float32)
    _close(xla.inv(a), np.linalg.inv(a), 1e-4)
    assert xla.inv(np.ones((0, 0), np.float32)).shape == (0, 0)


def test_det_slogdet_match_numpy():
    for n in (1, 3, 4):  # slogdet's small formula, det's closed form, LU for both
        a = _rand(2, n, n)
        _close(xla.det(a), np.linalg.det(a), 1e-4)
        sign, logdet = xla.slogdet(a)
        want = np.linalg.slogdet(a)
        _close(sign, want.sign)
        _close(logdet, want.logabsdet)
    a = _rand(2, 4, 4)
    res = xla.slogdet(a, method="qr")
    assert isinstance(res, xla.SlogdetResult)
    _close(res.sign, np.linalg.slogdet(a).sign)
    _close(res.logabsdet, np.linalg.slogdet(a).logabsdet)
    c = _rand(4, 4, dtype=np.complex64)
    _close(xla.det(c), np.linalg.det(c), 1e-4)
    s, l = xla.slogdet(c)
    assert s.dtype == np.complex64 and l.dtype == np.float32
    _close(s, np.linalg.slogdet(c).sign, 1e-5)
    _close(l, np.linalg.slogdet(c).logabsdet, 1e-5)
    # 0x0 matrices: det 1, slogdet (1, 0)
    _close(xla.det(np.ones((2, 0, 0), np.float32)), np.ones(2))
    _close(xla.slogdet(np.ones((0, 0), np.float32)).sign, 1.0)
    assert xla.det(np.array([[1, 2], [3, 4]])).dtype == np.float32


def test_singular_matrices_give_nonfinite_not_errors():
    sing = np.array([[1., 2, 3, 4], [2, 4, 6, 8], [1, 0, 1, 0], [0, 0, 0, 1]], np.float32)
    assert float(xla.det(sing)) == 0.0
    assert float(xla.det(sing[1:, 1:] * 0)) == 0.0
    sign, logdet = xla.slogdet(sing)
    assert float(sign) == 0.0 and float(logdet) == -np.inf
    assert not np.all(np.isfinite(np.asarray(xla.solve(sing, np.ones(4, np.float32)))))
    assert not np.all(np.isfinite(np.asarray(xla.inv(sing))))
    assert float(xla.cond(sing)) > 1e6
    # a non-positive-definite matrix: NaNs in the lower triangle, as JAX
    L = np.asarray(xla.cholesky(-np.eye(3, dtype=np.float32)))
    assert np.all(np.isnan(L[np.tril_indices(3)])) and np.all(np.triu(L, 1) == 0)


def test_cholesky_matches_numpy():
    a = _spd(2, 4, 4)
    L = xla.cholesky(a)
    _close(L, np.linalg.cholesky(a), 1e-5)
    _close(xla.cholesky(a, upper=True), np.linalg.cholesky(a, upper=True), 1e-5)
    # symmetrize_input=False reads the lower triangle only
    junk = np.tril(a) + np.triu(_rand(4, 4), 1)
    _close(xla.cholesky(junk, symmetrize_input=False), np.linalg.cholesky(a), 1e-5)
    c = _spd(3, 3, dtype=np.complex64)
    _close(xla.cholesky(c), np.linalg.cholesky(c), 1e-5)
    assert xla.cholesky(np.array([[4, 2], [2, 3]])).dtype == np.float32


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_qr_matches_numpy(shape):
    a = _rand(*shape)
    for mode in ("reduced", "complete"):
        res = xla.qr(a, mode=mode)
        assert isinstance(res, xla.QRResult)
        want = np.linalg.qr(a, mode=mode)
        _close(res.Q, want.Q)
        _close(res.R, want.R)
    _close(xla.qr(a, mode="r"), np.linalg.qr(a, mode="r"))
    if len(shape) == 2:
        h, tau = xla.qr(a, mode="raw")
        want_h, want_tau = np.linalg.qr(a, mode="raw")
        _close(h, want_h)
        _close(tau, want_tau)


def test_qr_complex_and_triangular_input():
    c = _rand(4, 3, dtype=np.complex64)
    q, r = xla.qr(c)
    wq, wr = np.linalg.qr(c)
    _close(q, wq)
    _close(r, wr)
    # an upper-triangular matrix needs no reflection: Q = I, R = a (LAPACK's tau = 0)
    t = np.triu(_rand(3, 3))
    q, r = xla.qr(t)
    _close(q, np.eye(3))
    _close(r, t)


def test_lstsq_matches_numpy():
    a, b = _rand(5, 3), _rand(5, 2)
    x, resid, rank, s = xla.lstsq(a, b)
    wx, wresid, wrank, ws = np.linalg.lstsq(a, b)
    _close(x, wx, 1e-4)
    _close(resid, wresid, 1e-4)
    assert int(rank) == wrank and rank.dtype == np.int32
    _close(s, ws, 1e-5)
    # rank deficient and wide, 1-D b: NumPy's empty residuals with numpy_resid
    low = (_rand(3, 2) @ _rand(2, 5)).astype(np.float32)
    bb = _rand(3)
    x, resid, rank, _ = xla.lstsq(low, bb, numpy_resid=True)
    # float64 reference with float32's default cutoff (NumPy's float32 answer is noise here)
    wx, wresid, wrank, _ = np.linalg.lstsq(low.astype(np.float64), bb,
                                           rcond=5 * np.finfo(np.float32).eps)
    _close(x, wx, 1e-4)
    assert resid.shape == wresid.shape == (0,) and int(rank) == wrank == 2
    x, resid, rank, _ = xla.lstsq(low, bb)  # JAX's default: residuals always
    assert resid.shape == (1,)
    x, _, rank, _ = xla.lstsq(a, b, rcond=0.9)
    assert int(rank) == np.linalg.lstsq(a, b, rcond=0.9)[2]


def test_pinv_rank_cond():
    a = _rand(2, 5, 3)
    _close(xla.pinv(a), np.linalg.pinv(a))
    rtol = np.array([0.05, 0.5], np.float32)  # one per matrix
    _close(xla.pinv(a, rtol), np.linalg.pinv(a, rtol=rtol))
    low = (_rand(2, 5, 2) @ _rand(2, 2, 3)).astype(np.float32)
    low[1, :, 1:] = low[1, :, :1]  # rank 1
    ref = low.astype(np.float64)  # NumPy's float32 answer is noise at this rank
    _close(xla.pinv(low), np.linalg.pinv(ref, rtol=50 * np.finfo(np.float32).eps), 1e-4)
    _close(xla.pinv(low, rtol=0.5), np.linalg.pinv(ref, rtol=0.5), 1e-4)
    sym = _spd(4, 4)
    _close(xla.pinv(sym, hermitian=True), np.linalg.pinv(sym, hermitian=True), 1e-5)
    rank = xla.matrix_rank(low)
    assert rank.dtype == np.int32
    _close(rank, [2, 1])
    _close(xla.matrix_rank(low, tol=1e3), np.linalg.matrix_rank(low, tol=1e3))
    assert int(xla.matrix_rank(np.zeros(3))) == 0 and int(xla.matrix_rank(np.ones(3))) == 1
    sq = _rand(2, 4, 4)
    for p in (None, 1):
        _close(xla.cond(sq, p), np.linalg.cond(sq, p), 1e-3)


def test_matrix_power_multi_dot_tensor_functions():
    a = _rand(2, 4, 4) + 2 * np.eye(4, dtype=np.float32)
    for n in (0, 5, -2):
        _close(xla.matrix_power(a, n), np.linalg.matrix_power(a, n), 1e-4)
    assert xla.matrix_power(np.eye(2, dtype=np.int32), 3).dtype == np.int32
    xs = [_rand(*s) for s in [(3,), (3, 5), (5, 2), (2, 4)]]
    _close(xla.multi_dot(xs), np.linalg.multi_dot(xs))
    xs = [_rand(*s) for s in [(10, 2), (2, 8), (8, 3), (3,)]]
    _close(xla.multi_dot(xs), np.linalg.multi_dot(xs))
    _close(xla.multi_dot([xs[2][0], xs[3]]), np.linalg.multi_dot([xs[2][0], xs[3]]))
    t = _rand(2, 3, 6)
    _close(xla.tensorinv(t, 2), np.linalg.tensorinv(t, 2), 1e-3)
    t = _rand(2, 3, 3, 2)
    b = _rand(2, 3)
    _close(xla.tensorsolve(t, b), np.linalg.tensorsolve(t, b), 1e-3)
    t2 = np.moveaxis(t, 2, 0)  # axes=(0,) moves it back to the end
    _close(xla.tensorsolve(t2, b, axes=(0,)), np.linalg.tensorsolve(t2, b, axes=(0,)), 1e-3)


def test_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        xla.solve(np.ones((3, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"\(2, 3, 3\).*\(2, 3\)"):
        xla.solve(np.ones((2, 3, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(4,\)"):
        xla.solve(np.eye(3), np.ones(4))
    for f in (xla.inv, xla.det, xla.slogdet, xla.cholesky):
        with pytest.raises(ValueError, match=r"\(2, 3\)"):
            f(np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"\(3,\)"):
            f(np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        xla.qr(np.ones((2, 2)), mode="economic")
    with pytest.raises(ValueError, match="method"):
        xla.slogdet(np.eye(2), method="svd")
    with pytest.raises(TypeError, match=r"\(2, 3\)"):
        xla.matrix_power(np.ones((2, 3)), 2)
    with pytest.raises(TypeError, match="integer"):
        xla.matrix_power(np.eye(2), 1.5)
    with pytest.raises(TypeError, match=r"\(2, 2, 2\)"):
        xla.lstsq(np.ones((2, 2, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        xla.lstsq(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ValueError, match=r"\[\(2, 3\), \(2, 2\)\]"):
        xla.multi_dot([np.ones((2, 3)), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        xla.tensorinv(np.ones((2, 3, 4)), 1)
    with pytest.raises(ValueError, match="rcond"):
        xla.pinv(np.eye(2), rtol=0.1, rcond=0.1)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        xla.cond(np.ones((2, 3)), 1)
    with pytest.raises(TypeError, match="float16"):
        xla.inv(np.eye(2, dtype=np.float16))


# ---------------------------------------------------------------------------------------------
# jit, vmap, lax.linalg


def test_jit_and_vmap():
    a = _rand(3, 4, 4) + 3 * np.eye(4, dtype=np.float32)
    b = _rand(3, 4)
    _close(xtrace.jit(xla.solve)(a, b[0]), np.linalg.solve(a, b[0]))
    _close(xtrace.vmap(xla.solve)(a, b), np.linalg.solve(a, b[..., None])[..., 0])
    _close(xtrace.jit(xtrace.vmap(lambda m: xla.slogdet(m).logabsdet))(a),
           np.linalg.slogdet(a).logabsdet)
    _close(xtrace.vmap(xla.inv, in_axes=2, out_axes=0)(np.moveaxis(a, 0, 2)),
           np.linalg.inv(a), 1e-4)
    q, r = xtrace.vmap(xla.qr)(a)
    _close(q, np.linalg.qr(a).Q)
    spd = _spd(3, 4, 4)
    _close(xtrace.vmap(xla.cholesky)(spd), np.linalg.cholesky(spd), 1e-5)


def test_lax_linalg():
    a = _rand(2, 5, 4)
    lu, piv, perm = lax_linalg.lu(a)
    assert piv.shape == (2, 4) and perm.shape == (2, 5) and piv.dtype == np.int32
    lu = np.asarray(lu)
    for k in range(2):
        L = np.tril(lu[k], -1)[:, :4] + np.eye(5, 4)
        U = np.triu(lu[k])[:4]
        _close(L @ U, a[k][np.asarray(perm)[k]])
    _close(lax_linalg.lu_pivots_to_permutation(piv, 5), perm)
    q, r = lax_linalg.qr(a, full_matrices=False)
    _close(q @ r, a)
    spd = _spd(3, 3)
    L = lax_linalg.cholesky(spd)
    _close(L, np.linalg.cholesky(spd), 1e-5)
    b = _rand(3, 2)
    _close(lax_linalg.triangular_solve(L, b, left_side=True, lower=True),
           np.linalg.solve(np.asarray(L), b), 1e-5)
    _close(lax_linalg.triangular_solve(L, b.T, lower=True, transpose_a=True),
           np.linalg.solve(np.asarray(L), b).T, 1e-5)


# ---------------------------------------------------------------------------------------------
# derivatives (float64, against central finite differences)


def _check_grad(f, *args):
    """The gradient of ``sum(w * f(x))`` (random weights w, one compiled program) against
    central differences along a random direction."""
    rng = np.random.default_rng(3)
    outs = f(*args)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    ws = [rng.standard_normal(np.shape(o)) for o in outs]

    def scalar(*a):
        o = f(*a)
        o = list(o) if isinstance(o, (tuple, list)) else [o]
        return sum((w * x).sum() for w, x in zip(ws, o))

    grads = xtrace.jit(xtrace.grad(scalar, argnums=tuple(range(len(args)))))(*args)
    us = [rng.standard_normal(np.shape(a)) for a in args]
    h = 1e-6
    fd = (float(scalar(*[a + h * u for a, u in zip(args, us)]))
          - float(scalar(*[a - h * u for a, u in zip(args, us)]))) / (2 * h)
    got = sum(float(np.sum(np.asarray(g) * u)) for g, u in zip(grads, us))
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7)


def test_grad_det_slogdet(x64):
    a = RNG.standard_normal((2, 4, 4))
    _check_grad(xla.det, a)  # LU and the cofactor rule
    _check_grad(lambda m: tuple(xla.slogdet(m)), a)
    _check_grad(lambda m: xla.slogdet(m).logabsdet, a[0, :2, :2])
    # jvp too, and the gradient of det is the transposed adjugate, also at a singular matrix
    # of rank n-1 (closed form)
    _, t = xtrace.jit(lambda x, u: xtrace.jvp(xla.det, (x,), (u,)))(a[0], a[1])
    np.testing.assert_allclose(t, np.linalg.det(a[0]) * np.trace(np.linalg.solve(a[0], a[1])))
    np.testing.assert_allclose(xtrace.jit(xtrace.grad(xla.det))(np.array([[1., 2], [2, 4]])),
                               [[4, -2], [-2, 1]])


def test_grad_solve_inv(x64):
    a = RNG.standard_normal((2, 4, 4)) + 3 * np.eye(4)
    b = RNG.standard_normal((4, 2))
    _check_grad(xla.solve, a, b)
    _check_grad(xla.inv, a)


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_grad_factorizations(x64):
    spd = _spd(2, 4, 4).astype(np.float64)
    _check_grad(xla.cholesky, spd)
    tall = RNG.standard_normal((5, 3))
    _check_grad(lambda m: tuple(xla.qr(m)), tall)
    _check_grad(lambda m: lax_linalg.lu(m)[0], RNG.standard_normal((4, 3)))
    _check_grad(xla.pinv, tall)
    _check_grad(lambda m, v: xla.lstsq(m, v)[0], tall, RNG.standard_normal(5))
    with pytest.raises(NotImplementedError, match=r"\(3, 5\)"):
        xtrace.grad(lambda m: xla.qr(m).R.sum())(tall.T)
