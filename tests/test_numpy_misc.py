"""The jax.numpy extras of xtrace.numpy against NumPy: index helpers, statistics, polynomials,
numerical calculus, vectorize / apply_*, choose / put / place / fill_diagonal, bit packing,
window functions, matvec / vecmat / einsum_path, dtype helpers and printing.

Values are compared with NumPy; derivatives with central finite differences of the NumPy
reference (float64); errors with the messages JAX gives."""
from __future__ import annotations

import io

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src.core import ConcretizationError


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of the NumPy function ``f`` (scalar output) at ``x``."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# Index helpers


def test_ix_r_c_grids():
    x = np.arange(20).reshape(4, 5)
    rows, cols = xnp.ix_(np.array([0, 2]), [1, 3, 4])
    assert rows.shape == (2, 1) and cols.shape == (1, 3) and rows.dtype == np.int32
    close(xnp.asarray(x)[rows, cols], x[np.ix_([0, 2], [1, 3, 4])])
    close(xnp.r_[1, 2, np.array([3, 4]), 0:3], np.r_[1, 2, np.array([3, 4]), 0:3])
    close(xnp.r_[0:1:5j], np.r_[0:1:5j])
    close(xnp.r_["0,2", [1, 2], [3, 4]], np.r_["0,2", [1, 2], [3, 4]])
    close(xnp.r_["r", [1, 2]], [[1, 2]])
    close(xnp.c_[np.array([1, 2, 3]), np.array([4, 5, 6])], np.c_[[1, 2, 3], [4, 5, 6]])
    close(xnp.c_[np.ones((2, 2)), np.zeros((2, 1))], np.c_[np.ones((2, 2)), np.zeros((2, 1))])
    m = xnp.mgrid[0:3, 0:4:2]
    assert m.dtype == np.int32
    close(m, np.mgrid[0:3, 0:4:2])
    close(xnp.mgrid[0:1:3j, 0:2], np.mgrid[0:1:3j, 0:2])
    assert xnp.mgrid[0:1:3j].dtype == np.float32
    og = xnp.ogrid[0:3, 0:2]
    assert [o.shape for o in og] == [(3, 1), (1, 2)]
    assert xnp.s_[1:2, ::3] == np.s_[1:2, ::3] and xnp.index_exp[1] == np.index_exp[1]
    with pytest.raises(ValueError, match="beginning"):
        xnp.r_[1, "r"]
    with pytest.raises(ValueError, match="1-dimensional"):
        xnp.ix_(np.ones((2, 2), int))
    with pytest.raises(NotImplementedError, match="boolean"):
        xnp.ix_(np.array([True, False]))


def test_r_under_jit_needs_static_slices():
    close(xtrace.jit(lambda a: xnp.r_[a, 0:2])(xnp.arange(3.)), [0, 1, 2, 0, 1])
    with pytest.raises(ConcretizationError, match="slice stop"):
        xtrace.jit(lambda n: xnp.r_[0:n])(3)


def test_unravel_ravel_multi_index():
    idx = np.array([0, 5, 11, 3])
    for a, b in zip(xnp.unravel_index(idx, (3, 4)), np.unravel_index(idx, (3, 4))):
        close(a, b)
    # JAX clips out-of-bounds flat indices (-1 is the last) instead of raising
    r = xnp.unravel_index(xnp.array([3, 7, -1, -9]), (2, 3))
    close(r[0], [1, 1, 1, 0])
    close(r[1], [0, 2, 2, 0])
    multi = (np.array([1, 0, 2]), np.array([3, 1, 0]))
    for order in "CF":
        out = xnp.ravel_multi_index(multi, (3, 4), order=order)
        assert out.dtype == np.int32
        close(out, np.ravel_multi_index(multi, (3, 4), order=order))
    bad = (np.array([1, 5]), np.array([-1, 2]))
    for mode in ("clip", "wrap"):
        close(xnp.ravel_multi_index(bad, (3, 4), mode=mode),
              np.ravel_multi_index(bad, (3, 4), mode=mode))
        f = xtrace.jit(lambda a, b, mode=mode: xnp.ravel_multi_index((a, b), (3, 4), mode=mode))
        close(f(*bad), np.ravel_multi_index(bad, (3, 4), mode=mode))
    with pytest.raises(ValueError, match="invalid entry"):
        xnp.ravel_multi_index(bad, (3, 4))
    with pytest.raises(ConcretizationError, match="mode='wrap'"):
        xtrace.jit(lambda a: xnp.ravel_multi_index((a,), (3,)))(xnp.array([1]))
    with pytest.raises(ValueError, match="not an integer type"):
        xnp.ravel_multi_index((np.array([1.0]),), (3,), mode="clip")
    with pytest.raises(TypeError, match="int indices"):
        xnp.ravel_multi_index((np.array([1.0]),), (3,), mode="clip", dtype=np.int32)
    with pytest.raises(ValueError, match="order"):
        xnp.ravel_multi_index(multi, (3, 4), order="K")


def test_mask_indices():
    for a, b in zip(xnp.mask_indices(4, xnp.triu, 1), np.mask_indices(4, np.triu, 1)):
        close(a, b)
    i, j = xtrace.jit(lambda: xnp.mask_indices(3, xnp.tril, size=6))()
    close(i, np.tril_indices(3)[0])


def test_choose():
    a = np.array([[0, 1, 2], [2, 1, 0]])
    choices = [np.arange(3), np.arange(3) * 10, np.full(3, 7)]
    close(xnp.choose(a, choices), np.choose(a, choices))
    b = np.array([0, 4, -1])
    for mode in ("wrap", "clip"):
        close(xnp.choose(b, choices, mode=mode), np.choose(b, choices, mode=mode))
    assert xnp.choose(np.array([0, 1]), [np.int8([1, 2]), 3]).dtype == np.int8
    assert not xnp.choose(1, [1, 2]).weak_type
    f = xtrace.jit(lambda a: xnp.choose(a, choices, mode="clip"))
    close(f(b), np.choose(b, choices, mode="clip"))
    with pytest.raises(ValueError, match="invalid entry"):
        xnp.choose(b, choices)
    with pytest.raises(ConcretizationError):
        xtrace.jit(lambda a: xnp.choose(a, choices))(b)
    g = xtrace.grad(lambda c: xnp.choose(np.array([1, 0, 1]), [c, 2 * c]).sum())(xnp.ones(3))
    close(g, [2, 1, 2])


def test_put_fill_diagonal_place():
    a = np.arange(6.0).reshape(2, 3)
    with pytest.raises(ValueError, match="inplace=False"):
        xnp.put(a, [0], [1.0])
    with pytest.raises(NotImplementedError, match="inplace=False"):
        xnp.fill_diagonal(a, 1.0)
    with pytest.raises(ValueError, match="inplace=False"):
        xnp.place(a, a > 2, [1.0])
    ref = a.copy()
    np.put(ref, [0, 4], [10.0, 20.0])
    close(xnp.put(a, xnp.array([0, 4]), xnp.array([10.0, 20.0]), inplace=False), ref)
    for mode in ("wrap", "clip"):
        ref = a.copy()
        np.put(ref, [1, 8, -7], [5.0], mode=mode)
        close(xnp.put(a, np.array([1, 8, -7]), 5.0, mode=mode, inplace=False), ref)
    for shape, val in (((3, 4), 5.0), ((4, 3), [1.0, 2.0]), ((3, 3, 3), 9.0)):
        ref = np.zeros(shape)
        np.fill_diagonal(ref, val)
        close(xnp.fill_diagonal(np.zeros(shape), xnp.asarray(val), inplace=False), ref)
    with pytest.raises(ValueError, match="equal length"):
        xnp.fill_diagonal(np.zeros((2, 3, 4)), 1.0, inplace=False)
    ref = a.copy()
    np.place(ref, a > 2, [40.0, 50.0])
    f = xtrace.jit(lambda x, m, v: xnp.place(x, m, v, inplace=False))
    close(f(a, a > 2, np.array([40.0, 50.0])), ref)
    g = xtrace.grad(lambda x: xnp.fill_diagonal(x, 0.0, inplace=False).sum())(xnp.ones((3, 3)))
    close(g, 1 - np.eye(3))


# ---------------------------------------------------------------------------------------------
# Statistics


def test_cov_corrcoef(rng):
    m = rng.standard_normal((3, 6))
    y = rng.standard_normal(6)
    fw = np.array([1, 2, 1, 3, 1, 2])
    aw = rng.uniform(0.5, 1.5, 6)
    close(xnp.cov(m), np.cov(m))
    close(xnp.cov(m, y), np.cov(m, y))
    close(xnp.cov(m.T, rowvar=False, bias=True), np.cov(m.T, rowvar=False, bias=True))
    close(xnp.cov(m, fweights=fw, aweights=aw), np.cov(m, fweights=fw, aweights=aw))
    close(xnp.cov(m, aweights=aw, ddof=2), np.cov(m, aweights=aw, ddof=2))
    c = xnp.cov(y)
    assert c.shape == () and c.dtype == np.float32
    close(c, np.cov(y))
    assert xnp.cov(np.arange(6).reshape(2, 3)).dtype == np.float32
    z = m + 1j * rng.standard_normal((3, 6))
    close(xnp.cov(z), np.cov(z))
    close(xnp.corrcoef(m), np.corrcoef(m))
    close(xnp.corrcoef(y), 1.0)
    close(xtrace.jit(xnp.cov)(m), np.cov(m))
    g = xtrace.grad(lambda m: xnp.cov(m)[0, 1])(m.astype(np.float32))
    close(g, fd_grad(lambda m: np.cov(m)[0, 1], m), 1e-3)
    close(xtrace.vmap(xnp.cov)(np.stack([m, 2 * m])), [np.cov(m), np.cov(2 * m)], 1e-4)
    with pytest.raises(ValueError, match="more than 2 dimensions"):
        xnp.cov(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="fweights must be integer"):
        xnp.cov(m, fweights=aw)
    with pytest.raises(RuntimeError, match="incompatible numbers"):
        xnp.cov(m, aweights=aw[:3])


def test_histogramdd_histogram2d(rng):
    s = rng.uniform(size=(30, 3))
    for kw in (dict(bins=(2, 3, 4), range=[(0, 1), None, (0, 0.5)]),
               dict(bins=[np.array([0, 0.5, 1.0])] * 3, weights=s[:, 0], density=True)):
        h, e = xnp.histogramdd(s, **kw)
        hn, en = np.histogramdd(s, **kw)
        close(h, hn)
        for a, b in zip(e, en):
            close(a, b)
    assert h.dtype == np.float32 and xnp.histogramdd(s)[0].dtype == np.int32
    h, ex, ey = xnp.histogram2d(s[:, 0], s[:, 1], bins=(3, 5), weights=s[:, 2])
    hn, exn, eyn = np.histogram2d(s[:, 0], s[:, 1], bins=(3, 5), weights=s[:, 2])
    close(h, hn)
    close(ex, exn)
    close(ey, eyn)
    f = xtrace.jit(lambda x, y: xnp.histogram2d(x, y, bins=4, range=[(0, 1), (0, 1)])[0])
    close(f(s[:, 0], s[:, 1]), np.histogram2d(s[:, 0], s[:, 1], 4, [(0, 1), (0, 1)])[0])
    with pytest.raises(ValueError, match="one weight for each sample"):
        xnp.histogramdd(s, weights=np.ones(3))
    with pytest.raises(ValueError, match="bin for each dimension"):
        xnp.histogramdd(s, bins=(2, 3))


# ---------------------------------------------------------------------------------------------
# Polynomials


def test_polynomial_arithmetic():
    close(xnp.poly(np.array([1.0, 2.0, -3.0])), np.poly([1.0, 2.0, -3.0]))
    assert xnp.poly(np.array([1, 2])).dtype == np.float32
    close(xnp.poly(np.zeros(0)), 1.0)
    a, b = np.array([1, 2]), np.array([3, 4, 5])
    assert xnp.polyadd(a, b).dtype == np.int32
    close(xnp.polyadd(a, b), np.polyadd(a, b))
    close(xnp.polyadd(b, a), np.polyadd(b, a))
    close(xnp.polysub(a, b), np.polysub(a, b))
    close(xnp.polymul(a, b), np.polymul(a, b))
    assert xnp.polymul(a, b).dtype == np.float32
    close(xnp.polymul(np.array([0.0, 0, 1, 2]), a, trim_leading_zeros=True), np.polymul([1, 2], a))
    q, r = xnp.polydiv(np.array([1.0, 3, 2, 5]), np.array([2.0, 1]))
    qn, rn = np.polydiv([1.0, 3, 2, 5], [2.0, 1])
    close(q, qn)
    close(r[-1:], rn)  # JAX keeps u's length: the leading entries are zeros
    close(r[:-1], 0)
    close(xnp.polydiv(np.array([1.0, 3, 2, 5]), np.array([2.0, 1]),
                      trim_leading_zeros=True)[1], rn)
    p = np.array([1, -2, 3, 4])
    for m in (0, 1, 2, 5):
        close(xnp.polyder(p, m), np.polyder(p, m))
    close(xnp.polyint(p), np.polyint(p))
    close(xnp.polyint(p, 2, k=[1, 2]), np.polyint(p, 2, k=[1, 2]))
    close(xnp.polyint(p, 3, k=2.0), np.polyint(p, 3, k=2.0))
    with pytest.raises(ValueError, match="positive"):
        xnp.polyder(p, -1)
    with pytest.raises(TypeError, match="static"):
        xtrace.jit(lambda p, m: xnp.polyder(p, m))(p, 1)
    # of a matrix: its characteristic polynomial, complex as in JAX
    np.testing.assert_allclose(xnp.poly(np.eye(2)), np.poly(np.eye(2)), atol=1e-6)


def test_vander_trim_zeros():
    x = np.array([1, 2, 3])
    v = xnp.vander(x)
    assert v.dtype == np.int32
    close(v, np.vander(x))
    close(xnp.vander(np.array([0.5, 2.0]), 4, increasing=True),
          np.vander([0.5, 2.0], 4, increasing=True))
    close(xtrace.jit(xnp.vander, static_argnums=1)(np.array([1.0, 2.0]), 3),
          np.vander([1.0, 2.0], 3))
    f = np.array([0, 0, 1, 2, 0, 3, 0])
    for trim in ("fb", "f", "b"):
        close(xnp.trim_zeros(f, trim), np.trim_zeros(f, trim))
    assert xnp.trim_zeros(np.zeros(3)).shape == (0,)
    f2 = np.zeros((4, 5))
    f2[1:3, 2:4] = 1
    assert xnp.trim_zeros(f2).shape == (2, 2)
    assert xnp.trim_zeros(f2, axis=0).shape == (2, 5)
    with pytest.raises(ConcretizationError):
        xtrace.jit(xnp.trim_zeros)(f)


def test_polyfit(rng):
    x = np.linspace(0, 1, 12)
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(12)
    w = rng.uniform(0.5, 2, 12)
    y2 = np.stack([y, 2 * y + 1], axis=1)
    c, res, rank, sv, rcond = xnp.polyfit(x, y2, 3, w=w, full=True)
    cn, resn, rankn, svn, rcondn = np.polyfit(x, y2, 3, w=w, full=True)
    close(c, cn, 1e-3)
    close(res, resn, 1e-3)
    assert int(rank) == rankn
    close(sv, svn, 1e-4)
    c, cov = xtrace.jit(xnp.polyfit, static_argnums=2, static_argnames="cov")(x, y, 2, cov=True)
    cn, covn = np.polyfit(x, y, 2, cov=True)
    close(c, cn, 1e-3)
    close(cov, covn, 1e-3)
    g = xtrace.grad(lambda y: xnp.polyfit(x, y, 2)[0])(y.astype(np.float32))
    close(g, fd_grad(lambda y: np.polyfit(x, y, 2)[0], y), 1e-3)
    with pytest.raises(TypeError, match="same length"):
        xnp.polyfit(x, y[:5], 2)


# ---------------------------------------------------------------------------------------------
# gradient, trapezoid, unwrap


def test_gradient(rng):
    f = rng.standard_normal((4, 5))
    xs = np.cumsum(rng.uniform(0.2, 1.0, 5))
    for a, b in zip(xnp.gradient(f), np.gradient(f)):
        close(a, b)
    close(xnp.gradient(f, axis=1), np.gradient(f, axis=1))
    close(xnp.gradient(f, xs, axis=-1), np.gradient(f, xs, axis=-1), 1e-4)
    for a, b in zip(xnp.gradient(f, 2.0, xs), np.gradient(f, 2.0, xs)):
        close(a, b, 1e-4)
    close(xnp.gradient(f, edge_order=1, axis=0), np.gradient(f, axis=0))
    assert xnp.gradient(np.arange(4)).dtype == np.float32
    close(xtrace.jit(lambda f: xnp.gradient(f, axis=0))(f), np.gradient(f, axis=0))
    w = rng.standard_normal((4, 5))
    g = xtrace.grad(lambda f: (xnp.gradient(f, axis=1) * w).sum())(f.astype(np.float32))
    close(g, fd_grad(lambda f: (np.gradient(f, axis=1) * w).sum(), f), 1e-3)
    with pytest.raises(NotImplementedError, match="edge_order"):
        xnp.gradient(f, edge_order=2)
    with pytest.raises(ValueError, match="at least 2 elements"):
        xnp.gradient(np.ones((1, 3)))
    with pytest.raises(ValueError, match="same length"):
        xnp.gradient(f, np.arange(3.0), axis=1)


def test_trapezoid(rng):
    y = rng.standard_normal((3, 5))
    x = np.cumsum(rng.uniform(0.1, 1.0, 5))
    close(xnp.trapezoid(y), np.trapezoid(y))
    close(xnp.trapezoid(y, x), np.trapezoid(y, x))
    close(xnp.trapezoid(y, dx=0.5, axis=0), np.trapezoid(y, dx=0.5, axis=0))
    close(xnp.trapezoid(y, y, axis=0), np.trapezoid(y, y, axis=0))
    assert xnp.trapezoid(np.arange(4)).dtype == np.float32
    g = xtrace.grad(lambda y: xnp.trapezoid(y, x).sum())(y.astype(np.float32))
    close(g, fd_grad(lambda y: np.trapezoid(y, x).sum(), y), 1e-3)
    close(xtrace.vmap(lambda y: xnp.trapezoid(y, x))(y), np.trapezoid(y, x))


def test_unwrap(rng):
    p = np.cumsum(rng.uniform(0, 3, (2, 8)), axis=1)
    close(xnp.unwrap(p), np.unwrap(p), 1e-4)
    close(xnp.unwrap(p.T, axis=0), np.unwrap(p.T, axis=0), 1e-4)
    close(xnp.unwrap(p, discont=4.0), np.unwrap(p, discont=4.0), 1e-4)
    close(xnp.unwrap(np.array([0, 7, 14]), period=6), np.unwrap([0, 7, 14], period=6))
    close(xtrace.jit(xnp.unwrap)(p), np.unwrap(p), 1e-4)
    with pytest.raises(ValueError, match="complex"):
        xnp.unwrap(np.ones(3, complex))


# ---------------------------------------------------------------------------------------------
# vectorize, apply_along_axis, apply_over_axes


def test_vectorize(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    close(xnp.vectorize(lambda x, y: x * 2 + y)(a, b), a * 2 + b)
    dot = xnp.vectorize(lambda x, y: xnp.dot(x, y), signature="(n),(n)->()")
    close(dot(a, b), a @ b)
    assert dot(a[None], b).shape == (1, 3)
    power = xnp.vectorize(lambda x, p: x ** p, excluded={1})
    close(power(a, 2), a ** 2)
    two = xnp.vectorize(lambda x: (x.sum(), x.max()), signature="(n)->(),()")
    s, mx = two(a)
    close(s, a.sum(1))
    close(mx, a.max(1))
    close(xtrace.jit(dot)(a, b), a @ b)
    with pytest.raises(ValueError, match="inconsistent size for core dimension 'n'"):
        dot(a, np.ones(5))
    with pytest.raises(ValueError, match="not a valid gufunc signature"):
        xnp.vectorize(lambda x: x, signature="(n->()")(a)
    with pytest.raises(TypeError, match="exclude"):
        xnp.vectorize(lambda x: x, excluded={1.5})


def test_apply_along_over_axes(rng):
    a = rng.standard_normal((3, 4, 2))
    for axis in (0, 1, -1):
        close(xnp.apply_along_axis(lambda v: v.sum() * v[0], axis, a),
              np.apply_along_axis(lambda v: v.sum() * v[0], axis, a))
    close(xnp.apply_along_axis(lambda v, k: xnp.outer(v, v) * k, 1, a, 2.0),
          np.apply_along_axis(lambda v, k: np.outer(v, v) * k, 1, a, 2.0))
    close(xnp.apply_over_axes(xnp.sum, a, [0, 2]), np.apply_over_axes(np.sum, a, [0, 2]))
    close(xnp.apply_over_axes(lambda x, ax: xnp.cumsum(x, ax), a, (1,)),
          np.apply_over_axes(lambda x, ax: np.cumsum(x, ax), a, (1,)))
    with pytest.raises(ValueError, match="correct shape"):
        xnp.apply_over_axes(lambda x, ax: x.sum(), a, [0])


# ---------------------------------------------------------------------------------------------
# Bits, windows, products, creation from host data


def test_packbits_unpackbits(rng):
    b = rng.uniform(size=(3, 11)) > 0.5
    for axis in (None, 0, -1):
        for order in ("big", "little"):
            p = xnp.packbits(b, axis=axis, bitorder=order)
            pn = np.packbits(b, axis=axis, bitorder=order)
            assert p.dtype == np.uint8
            close(p, pn)
            for count in (None, 3, -2, 30):
                close(xnp.unpackbits(pn, axis=axis, count=count, bitorder=order),
                      np.unpackbits(pn, axis=axis, count=count, bitorder=order))
    close(xnp.packbits(np.array([3, 0, -5, 1])), np.packbits(np.array([3, 0, -5, 1]) != 0))
    close(xtrace.jit(xnp.packbits)(b), np.packbits(b))
    with pytest.raises(TypeError, match="unsigned byte"):
        xnp.unpackbits(np.array([1, 2]))
    with pytest.raises(TypeError, match="integer or boolean"):
        xnp.packbits(np.array([1.0]))
    with pytest.raises(ValueError, match="'little' or 'big'"):
        xnp.packbits(b, bitorder="middle")


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows(name):
    for M in (0, 1, 2, 7):
        w = getattr(xnp, name)(M)
        assert w.dtype == np.float32 and w.shape == (M,)
        close(w, getattr(np, name)(M))
    with pytest.raises(TypeError, match="static"):
        xtrace.jit(getattr(xnp, name))(5)


def test_kaiser():
    close(xnp.kaiser(1, 2.5), np.kaiser(1, 2.5))
    close(xtrace.jit(lambda b: xnp.kaiser(6, b))(3.0), np.kaiser(6, 3.0))
    g = xtrace.grad(lambda b: xnp.kaiser(5, b).sum())(3.0)
    close(g, fd_grad(lambda b: np.kaiser(5, float(b)).sum(), 3.0), 1e-3)


def test_matvec_vecmat_einsum_path(rng):
    m = rng.standard_normal((2, 3, 4))
    v = rng.standard_normal(4)
    w = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    close(xnp.matvec(m, v), m @ v)
    close(xnp.matvec(m, np.stack([v, 2 * v])), np.einsum("bij,bj->bi", m, np.stack([v, 2 * v])))
    close(xnp.vecmat(w, m), np.conj(w) @ m)
    assert xnp.matvec(np.ones((2, 3), np.int8), np.ones(3, np.int8)).dtype == np.int8
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        xnp.matvec(np.ones((2, 3)), np.ones(4))
    ops = (np.ones((2, 3)), xnp.ones((3, 4)), np.ones((4, 5)))
    path, info = xnp.einsum_path("ij,jk,kl->il", *ops)
    assert path == [(0, 1), (0, 1)] and "ij,jk,kl->il" in info
    assert xnp.einsum_path("ij,jk,kl->il", *ops, optimize=False)[0] == [(0, 1), (0, 1)]
    assert xnp.einsum_path("ij,jk,kl->il", *ops, optimize=[(1, 2), (0, 1)])[0] == \
        [(1, 2), (0, 1)]


def test_from_host_data_and_io():
    close(xnp.frombuffer(b"\x01\x02\x03", dtype=np.uint8), [1, 2, 3])
    a = xnp.frombuffer(np.arange(3.0).tobytes())
    assert a.dtype == np.float32
    close(a, [0, 1, 2])
    close(xnp.fromstring("1 2 3", sep=" "), [1, 2, 3])
    with pytest.raises(NotImplementedError, match="fromiter"):
        xnp.fromiter(range(3), int)
    with pytest.raises(NotImplementedError, match="fromfile"):
        xnp.fromfile("x")
    f = io.BytesIO()
    xnp.save(f, xnp.array([1.5, 2.0], dtype=xnp.bfloat16))
    f.seek(0)
    b = xnp.load(f)
    assert isinstance(b, xtrace.Array) and b.dtype == xnp.bfloat16
    close(b.astype(np.float32), [1.5, 2.0])


# ---------------------------------------------------------------------------------------------
# Dtypes, constants, printing


def test_dtype_helpers_and_aliases():
    assert xnp.isdtype(xnp.float32, "real floating")
    assert xnp.isdtype(xnp.bfloat16, ("integral", "real floating"))
    assert xnp.isdtype(np.uint8, "integral") and not xnp.isdtype(np.uint8, "signed integer")
    assert xnp.isdtype(np.complex64, "numeric") and not xnp.isdtype(np.bool_, "numeric")
    assert xnp.isdtype(np.int16, np.int16) and not xnp.isdtype(np.int16, np.int32)
    with pytest.raises(ValueError, match="kind"):
        xnp.isdtype(np.float32, "floaty")
    assert xnp.iterable([1]) and not xnp.iterable(1)
    assert xnp.int_ is np.int64 and xnp.uint is np.uint64 and xnp.float_ is np.float64
    assert xnp.double is np.float64 and xnp.single is np.float32
    assert xnp.cdouble is np.complex128 and xnp.csingle is np.complex64
    assert xnp.complex_ is np.complex128 and xnp.bool is np.bool_
    assert xnp.zeros(2, xnp.int_).dtype == np.int32  # 64-bit needs x64, as in JAX
    assert xnp.zeros(2, xnp.bool).dtype == np.bool_
    assert issubclass(xnp.character, xnp.flexible) and xnp.object_ is np.object_
    assert xnp.euler_gamma == np.euler_gamma


def test_dtype_alias_x64(x64):
    assert xnp.zeros(2, xnp.int_).dtype == np.int64
    assert xnp.ones(1, xnp.double).dtype == np.float64


def test_printing():
    x = xnp.arange(3.0)
    assert xnp.array_str(x) == "[0. 1. 2.]"
    assert xnp.array_repr(x) == "Array([0., 1., 2.], dtype=float32)"
    with xnp.printoptions(precision=2):
        assert xnp.get_printoptions()["precision"] == 2
        assert "1.23," not in repr(xnp.array([1.23456])) and "1.23" in repr(xnp.array([1.23456]))
    old = xnp.get_printoptions()["precision"]
    xnp.set_printoptions(precision=3)
    try:
        assert xnp.get_printoptions()["precision"] == 3
    finally:
        xnp.set_printoptions(precision=old)
