"""xtrace.numpy.linalg.svd / svdvals / eigh / eigvalsh and the SVD-based norms, against NumPy
(values, factor properties, shapes, dtypes), under jit and vmap, and their derivatives against
central finite differences."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace.numpy import linalg as xla

RNG = np.random.default_rng(7)
EPS32 = np.finfo(np.float32).eps


def _rand(*shape, dtype=np.float32):
    a = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def _low_rank(m, n, r):
    return (RNG.standard_normal((m, r)) @ RNG.standard_normal((r, n))).astype(np.float32)


def _H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _check_svd(a, res, full, tol=30):
    """``res`` is an SVD of ``a``: NumPy's shapes and singular values, orthonormal factors and
    ``U S Vh == a``, all to ``tol`` units of the working precision."""
    u, s, vh = (np.asarray(x) for x in res)
    want_u, want_s, want_vh = np.linalg.svd(a.astype(np.complex128 if a.dtype.kind == "c"
                                                      else np.float64), full_matrices=full)
    assert (u.shape, s.shape, vh.shape) == (want_u.shape, want_s.shape, want_vh.shape)
    eps = np.finfo(s.dtype).eps
    assert s.dtype == np.finfo(a.dtype).dtype
    scale = max(float(np.abs(a).max(initial=0)), 1e-30)
    np.testing.assert_allclose(s, want_s, rtol=0, atol=tol * eps * scale)
    assert np.all(np.diff(s, axis=-1) <= 0), "singular values must be descending"
    k = s.shape[-1]
    np.testing.assert_allclose(u[..., :, :k] * s[..., None, :] @ vh[..., :k, :], a,
                               atol=tol * eps * scale)
    for q in (u, _H(vh)):
        np.testing.assert_allclose(_H(q) @ q, np.broadcast_to(np.eye(q.shape[-1]),
                                                              q.shape[:-2] + (q.shape[-1],) * 2),
                                   atol=tol * eps)


# ---------------------------------------------------------------------------------------------
# svd


# Tests reuse a few shapes so that the compiled decompositions are shared between them.
@pytest.mark.parametrize("shape, full", [((5, 5), False), ((7, 3), True), ((3, 7), True),
                                         ((2, 3, 6, 4), False), ((1, 4), True),
                                         ((16, 12), False)])
def test_svd_matches_numpy(shape, full):
    a = _rand(*shape)
    _check_svd(a, xla.svd(a, full_matrices=full), full)
    if len(shape) > 2 or shape[0] > 10:
        s = xla.svd(a, compute_uv=False)
        np.testing.assert_allclose(s, np.linalg.svd(a.astype(np.float64), compute_uv=False),
                                   atol=30 * EPS32 * np.abs(a).max())


def test_svd_complex_and_integer_inputs():
    c = _rand(4, 3, dtype=np.complex64)
    _check_svd(c, xla.svd(c, full_matrices=False), False)
    i = np.arange(12, dtype=np.int32).reshape(3, 4)
    s = xla.svdvals(i)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, np.linalg.svd(i.astype(np.float64), compute_uv=False),
                               rtol=1e-5, atol=1e-5)


def test_svd_float64(x64):
    a = RNG.standard_normal((6, 4))
    res = xla.svd(a, full_matrices=False)
    assert res.S.dtype == np.float64 and res.U.dtype == np.float64
    _check_svd(a, res, False)
    np.testing.assert_allclose(xla.svdvals(a), np.linalg.svd(a, compute_uv=False),
                               rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("case", ["rank2", "rank1_tall", "rank1_wide", "zero",
                                  "equal_columns"])
def test_svd_rank_deficient(case):
    """Columns of U (or V) for zero singular values still complete an orthonormal basis."""
    a, full = {"rank2": (_low_rank(5, 5, 2), False), "rank1_tall": (_low_rank(7, 3, 1), True),
               "rank1_wide": (_low_rank(3, 7, 1), True),
               "zero": (np.zeros((5, 5), np.float32), False),
               "equal_columns": (np.repeat(_rand(7, 1), 3, axis=1), True)}[case]
    _check_svd(a, xla.svd(a, full_matrices=full), full)


def test_svd_empty_and_nonfinite():
    for shape in [(0, 3), (3, 0), (2, 0, 3), (0, 2, 2)]:
        a = np.zeros(shape, np.float32)
        for full in (True, False):
            got = xla.svd(a, full_matrices=full)
            for g, w in zip(got, np.linalg.svd(a, full_matrices=full)):
                assert g.shape == w.shape
                np.testing.assert_array_equal(g, w)
        assert xla.svd(a, compute_uv=False).shape == shape[:-2] + (min(shape[-2:]),)
    for bad in (np.nan, np.inf):
        a = _rand(5, 5)
        a[1, 2] = bad
        u, s, vh = xla.svd(a, full_matrices=False)
        assert np.isnan(s).all() and np.isnan(u).all() and np.isnan(vh).all()


def test_svd_hermitian():
    a = _rand(5, 5)
    for a in (a + a.T, np.diag([2.0, 0.0, -1.0, 3.0, 0.5]).astype(np.float32)):
        u, s, vh = (np.asarray(x) for x in xla.svd(a, hermitian=True))
        want_s = np.linalg.svd(a, hermitian=True, compute_uv=False)
        np.testing.assert_allclose(s, want_s, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose((u * s) @ vh, a, atol=1e-5)
        # NumPy moves copysign(1, w) into Vh: a zero eigenvalue still gives a unit row.
        np.testing.assert_allclose(vh @ vh.T, np.eye(5), atol=1e-5)
        np.testing.assert_allclose(xla.svd(a, compute_uv=False, hermitian=True), want_s,
                                   rtol=1e-5, atol=1e-5)


def test_svd_under_jit_and_vmap():
    a = _rand(4, 5, 3)
    want = np.linalg.svd(a.astype(np.float64), compute_uv=False)
    res = xtrace.jit(xtrace.vmap(lambda m: xla.svd(m, full_matrices=False)))(a)
    _check_svd(a, res, False)
    s = xtrace.vmap(xla.svdvals, in_axes=1)(np.moveaxis(a, 0, 1))
    np.testing.assert_allclose(s, want, atol=1e-5)


def test_svd_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        xla.svd(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float16 is unsupported in linalg"):
        xla.svd(np.ones((2, 2), np.float16))
    with pytest.raises(ValueError, match="hermitian=True needs square"):
        xla.svd(np.ones((2, 3), np.float32), hermitian=True)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        xtrace.grad(lambda m: xla.svd(m).U.sum())(np.ones((3, 2), np.float32))


# ---------------------------------------------------------------------------------------------
# eigh / eigvalsh


@pytest.mark.parametrize("dtype, shape", [(np.complex64, (5, 5)), (np.float32, (3, 4, 4)),
                                          (np.float32, (1, 1))])
def test_eigh_matches_numpy(dtype, shape):
    a = _rand(*shape, dtype=dtype)  # not Hermitian: only the chosen triangle is read
    for uplo in ("L", "U"):
        w, v = (np.asarray(x) for x in xla.eigh(a, UPLO=uplo, symmetrize_input=False))
        want = np.linalg.eigvalsh(a, UPLO=uplo)
        scale = np.abs(want).max()
        np.testing.assert_allclose(w, want, atol=30 * EPS32 * scale)
        h = (np.tril(a) if uplo == "L" else _H(np.triu(a)))
        h = h + _H(np.tril(h, -1))
        h = h - 1j * np.imag(h) * np.eye(shape[-1]) if h.dtype.kind == "c" else h
        np.testing.assert_allclose(h @ v, v * w[..., None, :], atol=30 * EPS32 * scale)
        np.testing.assert_allclose(_H(v) @ v, np.broadcast_to(np.eye(shape[-1]), v.shape),
                                   atol=30 * EPS32)
    np.testing.assert_allclose(xla.eigvalsh(a, UPLO="U", symmetrize_input=False),
                               np.linalg.eigvalsh(a, UPLO="U"), atol=30 * EPS32 * scale)


def test_eigh_symmetrize_empty_float64(x64):
    a = RNG.standard_normal((5, 5))
    w, v = xla.eigh(a)  # JAX's default: symmetrized
    np.testing.assert_allclose(w, np.linalg.eigvalsh((a + a.T) / 2), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(xla.eigvalsh(a), w, rtol=1e-13, atol=1e-13)
    assert w.dtype == np.float64
    w, v = xla.eigh(np.zeros((2, 0, 0)))
    assert w.shape == (2, 0) and v.shape == (2, 0, 0)
    with pytest.raises(ValueError, match="square"):
        xla.eigh(np.ones((2, 3)))
    with pytest.raises(ValueError, match="UPLO"):
        xla.eigvalsh(np.ones((2, 2)), UPLO="X")


# ---------------------------------------------------------------------------------------------
# norm


def test_svd_norms_match_numpy():
    x = _rand(4, 4, 4)  # every axis pair gives a stack of 4x4 matrices: one SVD program
    for o in (2, -2, "nuc"):
        for axis in [(1, 2), (2, 1), (0, 2), (-1, 0)]:
            for keepdims in (False, True):
                got = xla.norm(x, o, axis=axis, keepdims=keepdims)
                want = np.linalg.norm(x.astype(np.float64), o, axis=axis, keepdims=keepdims)
                assert got.shape == want.shape and got.dtype == np.float32
                np.testing.assert_allclose(got, want, rtol=3e-6)
    x = _rand(3, 5)
    for o in (2, -2, "nuc"):
        np.testing.assert_allclose(xla.norm(x, o), np.linalg.norm(x.astype(np.float64), o),
                                   rtol=3e-6)
    np.testing.assert_allclose(xtrace.jit(lambda m: xla.norm(m, -2))(x),
                               np.linalg.norm(x.astype(np.float64), -2), rtol=3e-6)
    np.testing.assert_allclose(xla.matrix_norm(x, ord="nuc"), np.linalg.norm(x, "nuc"),
                               rtol=3e-6)
    m = np.arange(15).reshape(3, 5)
    np.testing.assert_allclose(xla.norm(m, 2), np.linalg.norm(m, 2), rtol=1e-6)
    e = np.zeros((0, 3), np.float32)
    assert xla.norm(e, 2) == 0 and xla.norm(e, "nuc") == 0
    with pytest.raises(ValueError, match="ord=-2 of an empty matrix"):
        xla.norm(e, -2)


# ---------------------------------------------------------------------------------------------
# Derivatives (float64, against central differences of NumPy's functions)


def _fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_grad_of_svd_norms(x64):
    """Random matrices have well-separated singular values, where the norms are smooth."""
    for shape in [(5, 3), (3, 5)]:
        x = RNG.standard_normal(shape)
        for o in (2, -2, "nuc"):
            got = xtrace.grad(lambda m: xla.norm(m, o))(x)
            want = _fd_grad(lambda m: np.linalg.norm(m, o), x)
            np.testing.assert_allclose(got, want, atol=1e-7)
    xs = RNG.standard_normal((3, 5, 3))
    got = xtrace.jit(xtrace.vmap(xtrace.grad(lambda m: xla.norm(m, 2))))(xs)
    want = np.stack([_fd_grad(lambda m: np.linalg.norm(m, 2), x) for x in xs])
    np.testing.assert_allclose(got, want, atol=1e-7)
    # At a rank-deficient matrix the nuclear norm's gradient is the subgradient U V^T (as JAX).
    x = np.zeros((5, 3))
    x[0, 0] = 3.0
    want = np.zeros((5, 3))
    want[:3, :3] = np.eye(3)
    np.testing.assert_allclose(xtrace.grad(lambda m: xla.norm(m, "nuc"))(x), want, atol=1e-15)


def test_grad_of_svd_factors(x64):
    """A function of U and Vh that does not depend on their column signs."""
    def f(m, svd):
        u, s, vh = svd(m)
        return ((u ** 2) @ np.arange(1.0, u.shape[-1] + 1)).sum() + \
            ((vh ** 2) * np.arange(1.0, vh.shape[-2] + 1)[:, None]).sum() + (s ** 3).sum()

    for shape in [(5, 3), (3, 5)]:  # tall and wide: all the terms of the rule
        x = RNG.standard_normal(shape)
        got = xtrace.grad(lambda m: f(m, lambda z: xla.svd(z, full_matrices=False)))(x)
        want = _fd_grad(lambda m: f(m, lambda z: np.linalg.svd(z, full_matrices=False)), x)
        np.testing.assert_allclose(got, want, atol=1e-6)
    t = RNG.standard_normal((5, 3))
    x = RNG.standard_normal((5, 3))
    _, tan = xtrace.jvp(xla.svdvals, (x,), (t,))
    want = (np.linalg.svd(x + 1e-6 * t, compute_uv=False) -
            np.linalg.svd(x - 1e-6 * t, compute_uv=False)) / 2e-6
    np.testing.assert_allclose(tan, want, atol=1e-7)


def test_grad_of_eigh(x64):
    h = RNG.standard_normal((4, 4))
    h = h + h.T

    def f(m, eigh):
        w, v = eigh(m)
        return ((v ** 2) @ np.arange(1.0, 5.0)).sum() + (w ** 3).sum()

    got = xtrace.grad(lambda m: f(m, lambda z: xla.eigh(z, symmetrize_input=True)))(h)
    want = _fd_grad(lambda m: f((m + m.T) / 2, np.linalg.eigh), h)
    np.testing.assert_allclose(got, want, atol=1e-6)
    got = xtrace.grad(lambda m: (xla.eigvalsh(m, symmetrize_input=False) ** 3).sum())(h)
    want = _fd_grad(lambda m: (np.linalg.eigvalsh(m) ** 3).sum(), h)  # the lower triangle
    np.testing.assert_allclose(got, want, atol=1e-6)
    got = xtrace.grad(lambda m: (xla.eigvalsh(m) ** 3).sum())(h)  # symmetrized, as JAX
    want = _fd_grad(lambda m: (np.linalg.eigvalsh((m + m.T) / 2) ** 3).sum(), h)
    np.testing.assert_allclose(got, want, atol=1e-6)
