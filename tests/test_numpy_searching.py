"""xtrace.numpy searching, sorting, counting and set functions, against NumPy.

Every compilation costs time, so the tests reuse a few shapes and check several functions
per jit-compiled function.
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import dtypes
from xtrace._src.core import ConcretizationError


def _canon(dt):
    dt = np.dtype(dt)
    if dtypes.x64_enabled():
        return dt
    return {np.dtype(np.int64): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.complex64),
            np.dtype(np.uint64): np.dtype(np.uint32)}.get(dt, dt)


def check(got, want, rtol=1e-6, atol=0.0, dtype=True):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            check(g, w, rtol, atol, dtype)
        return
    want = np.asarray(want)
    assert isinstance(got, xtrace.Array), type(got)
    g = np.asarray(got)
    assert g.shape == want.shape, (g.shape, want.shape)
    if dtype:
        assert g.dtype == _canon(want.dtype), (g.dtype, want.dtype)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(g, want.astype(g.dtype), rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(g, want)


def _floats(rng, shape, nan=True):
    x = rng.integers(-4, 5, size=shape).astype(np.float32)  # duplicates on purpose
    if nan and x.size > 2:
        x.flat[rng.choice(x.size, 2, replace=False)] = np.nan
    if x.size > 3:
        x.flat[-1] = -0.0
    return x


def _data(rng, shape, kind):
    if kind == "f":
        return _floats(rng, shape)
    if kind == "i":
        return rng.integers(-5, 6, size=shape).astype(np.int32)
    return rng.integers(0, 2, size=shape).astype(bool)


# ---------------------------------------------------------------------------------------------
# sort, argsort, lexsort, partition


def _desc_argsort(x, axis):
    if axis is None:
        x, axis = x.ravel(), 0
    n = x.shape[axis]
    return np.flip(n - 1 - np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)


@pytest.mark.parametrize("kind,axes", [("f", (0, -1, None)), ("i", (-1, None)), ("b", (0,))])
def test_sort_argsort(rng, kind, axes):
    x = _data(rng, (3, 5), kind)
    for axis in axes:
        check(xnp.sort(x, axis=axis), np.sort(x, axis=axis, kind="stable"))
        check(xnp.argsort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"))
    if kind != "b":
        want = np.flip(np.sort(x, axis=0), 0)
        check(xnp.sort(x, axis=0, descending=True), want)
        check(xnp.argsort(x, axis=0, descending=True), _desc_argsort(x, 0))
    y = _data(rng, (2, 3, 4), kind)
    f = xtrace.jit(lambda a, b: (xnp.sort(a, axis=1), xnp.argsort(a, axis=None),
                                 xnp.argsort(b, descending=True), xnp.sort(b, axis=None,
                                                                           descending=True)))
    s, i, d, sd = f(y, x)
    check(s, np.sort(y, axis=1))
    check(i, np.argsort(y, axis=None, kind="stable"))
    check(d, _desc_argsort(x, -1))
    check(sd, np.sort(x, axis=None)[::-1])


def test_sort_special_values():
    x = np.array([np.nan, 1.0, -np.inf, np.inf, -0.0, 0.0, np.nan, -1.0], np.float32)
    np.testing.assert_array_equal(np.asarray(xnp.sort(x)), np.sort(x))
    check(xnp.argsort(x), np.argsort(x, kind="stable"))
    c = np.array([1 + 2j, 1 - 1j, -3 + 0j, 1 + 2j], np.complex64)
    check(xnp.sort(c), np.sort(c))
    check(xnp.sort_complex(np.array([3, 1, 2], np.int32)),
          np.sort_complex([3, 1, 2]).astype(np.complex64))
    with pytest.raises(ValueError, match="out of bounds"):
        xnp.sort(np.ones((2, 3), np.float32), axis=2)
    with pytest.raises(ValueError, match="dimension 0"):
        xnp.sort(np.float32(1))
    check(xnp.sort(np.float32(3), axis=None), np.array([3], np.float32))
    with pytest.raises(NotImplementedError, match="order"):
        xnp.sort(np.ones(3), order="x")
    check(xnp.sort(np.zeros((0, 3), np.float32)), np.zeros((0, 3), np.float32))


def test_lexsort_partition(rng):
    a = rng.integers(0, 3, 12).astype(np.int32)
    b = _floats(rng, 12)
    c = rng.integers(0, 2, 12).astype(np.int32)
    check(xnp.lexsort((a, b, c)), np.lexsort((a, b, c)))
    k = rng.integers(0, 3, (2, 3, 5)).astype(np.int32)
    check(xnp.lexsort(k), np.lexsort(k))
    check(xtrace.jit(lambda k: xnp.lexsort(k, axis=0))(k), np.lexsort(k, axis=0))
    x = _floats(rng, (3, 5), nan=False)
    for kth, axis in ((0, -1), (2, 0), (-1, -1)):
        p = np.asarray(xnp.partition(x, kth, axis=axis))
        ip = np.asarray(xnp.argpartition(x, kth, axis=axis))
        k = kth % x.shape[axis]
        pm, sm = np.moveaxis(p, axis, -1), np.moveaxis(np.sort(x, axis=axis), axis, -1)
        np.testing.assert_array_equal(pm[..., k], sm[..., k])
        assert np.all(pm[..., :k] <= pm[..., k:k + 1]) and np.all(pm[..., k:] >= pm[..., k:k + 1])
        np.testing.assert_array_equal(np.take_along_axis(x, ip, axis), p)
    with pytest.raises(ValueError, match="kth"):
        xnp.partition(x, 5)


# ---------------------------------------------------------------------------------------------
# searchsorted, digitize


@pytest.mark.parametrize("method", ["scan", "scan_unrolled", "compare_all"])
def test_searchsorted(rng, method):
    a = np.sort(_floats(rng, 11))
    v = np.array([[-9, -4, 0, 1.5], [4, 9, np.nan, -0.0]], np.float32)
    ai = np.sort(rng.integers(-3, 4, 11)).astype(np.int32)
    vi = np.arange(-4, 4, dtype=np.int32).reshape(2, 4)
    f = xtrace.jit(lambda a, v, ai, vi: [xnp.searchsorted(a, v, side=s, method=method)
                                         for s in ("left", "right")] + [
        xnp.searchsorted(ai, vi, side=s, method=method) for s in ("left", "right")])
    got = f(a, v, ai, vi)
    want = [np.searchsorted(a, v, side=s) for s in ("left", "right")] + [
        np.searchsorted(ai, vi, side=s) for s in ("left", "right")]
    for g, w in zip(got, want):
        check(g, w)
    check(xnp.searchsorted(a, v, side="right", method=method),
          np.searchsorted(a, v, side="right"))


def test_searchsorted_misc(rng):
    a = _floats(rng, 11)
    srt = np.argsort(a, kind="stable")
    v = np.array([[-9, -4, 0, 1.5], [4, 9, np.nan, -0.0]], np.float32)
    check(xnp.searchsorted(a, v, sorter=srt), np.searchsorted(a, v, sorter=srt))
    check(xnp.searchsorted(np.sort(a), 1.0), np.searchsorted(np.sort(a), 1.0))
    check(xnp.searchsorted(np.zeros(0, np.float32), v), np.zeros((2, 4), np.int64))

    def all_lengths(*ss):
        qs = np.arange(-1, 18, dtype=np.int32)
        return [xnp.searchsorted(s, qs, side=side) for s in ss for side in ("left", "right")]
    lengths = (1, 2, 7, 8, 16, 17)  # around powers of two
    ss = [np.arange(n, dtype=np.int32) for n in lengths]
    got = xtrace.jit(all_lengths)(*ss)
    q = np.arange(-1, 18)
    want = [np.searchsorted(s, q, side=side) for s in ss for side in ("left", "right")]
    for g, w in zip(got, want):
        check(g, w)
    with pytest.raises(ValueError, match="side"):
        xnp.searchsorted(a, v, side="middle")
    with pytest.raises(ValueError, match="1-D"):
        xnp.searchsorted(np.ones((2, 2)), v)


def test_digitize(rng):
    x = rng.uniform(-1, 6, 20).astype(np.float32)
    x[:3] = [0.0, 2.0, 5.0]
    bins = np.array([0.0, 1.0, 2.0, 5.0], np.float32)
    f = xtrace.jit(lambda x, b: [xnp.digitize(x, bb, right=r) for bb in (b, b[::-1])
                                 for r in (False, True)])
    want = [np.digitize(x, bb, right=r) for bb in (bins, bins[::-1]) for r in (False, True)]
    for g, w in zip(f(x, bins), want):
        check(g, w)
    check(xnp.digitize(x, bins[::-1]), np.digitize(x, bins[::-1]))
    with pytest.raises(ValueError, match="monoton"):
        xnp.digitize(x, np.array([0.0, 2.0, 1.0]))


# ---------------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis


@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_take(rng, dt):
    a = (rng.normal(size=(3, 4, 5)) * 10).astype(dt)
    idx = np.array([[0, 2], [-1, 3]])
    big = np.array([7, -8, 1, 30, -1])

    def f(a, idx, big):
        return ([xnp.take(a, idx, axis=ax) for ax in (None, 1, -1)]
                + [xnp.take(a, big, axis=ax, mode=m) for ax in (None, 1) for m in ("clip",
                                                                                  "wrap")]
                + [xnp.take(a, big, axis=2), xnp.take(a, big, axis=2, fill_value=-7)])
    got = xtrace.jit(f)(a, idx, big)
    want = ([np.take(a, idx, axis=ax) for ax in (None, 1, -1)]
            + [np.take(a, big, axis=ax, mode=m) for ax in (None, 1) for m in ("clip", "wrap")])
    for g, w in zip(got, want):
        check(g, w)
    fill = np.nan if dt == np.float32 else np.iinfo(np.int32).min
    w = np.take(a, np.clip(np.where(big < 0, big + 5, big), 0, 4), axis=2).astype(dt)
    w[..., [0, 1, 3]] = fill
    np.testing.assert_array_equal(np.asarray(got[-2]), w)
    w[..., [0, 1, 3]] = -7
    np.testing.assert_array_equal(np.asarray(got[-1]), w)
    check(xnp.take(a, idx, axis=1), np.take(a, idx, axis=1))  # eager
    check(xnp.take(a, big, axis=1, mode="wrap"), np.take(a, big, axis=1, mode="wrap"))
    check(xnp.take(a, 3), np.take(a, 3))


def test_take_errors():
    with pytest.raises(NotImplementedError, match="raise"):
        xnp.take(np.arange(3), np.array([1]), mode="raise")
    with pytest.raises(TypeError, match="integer"):
        xnp.take(np.arange(3), np.array([1.0]))
    with pytest.raises(ValueError, match="out of bounds"):
        xnp.take(np.ones((2, 2)), np.array([0]), axis=2)
    with pytest.raises(IndexError, match="empty"):
        xnp.take(np.ones((2, 0)), np.array([0]), axis=1, mode="clip")


def test_take_along_axis(rng):
    a = _floats(rng, (3, 5), nan=False)
    idx = {ax: np.argsort(a, axis=ax, kind="stable") for ax in (0, 1, None)}
    i1 = rng.integers(0, 5, size=(1, 4))
    i0 = rng.integers(0, 3, size=(4, 1))

    def f(a, i_0, i_1, i_n, i1, i0):
        return [xnp.take_along_axis(a, i_0, axis=0), xnp.take_along_axis(a, i_1, axis=-1),
                xnp.take_along_axis(a, i_n, axis=None), xnp.take_along_axis(a, i1, axis=1),
                xnp.take_along_axis(a, i0, axis=0)]
    got = xtrace.jit(f)(a, idx[0], idx[1], idx[None], i1, i0)
    want = [np.take_along_axis(a, idx[0], 0), np.take_along_axis(a, idx[1], -1),
            np.take_along_axis(a, idx[None], None), np.take_along_axis(a, i1, 1),
            np.take_along_axis(a, i0, 0)]
    for g, w in zip(got, want):
        check(g, w)
    check(xnp.take_along_axis(a, idx[1], axis=1), np.take_along_axis(a, idx[1], 1))
    i = np.array([[0, -1, 5, 9]] * 3)
    got = np.asarray(xnp.take_along_axis(a, i, axis=1))
    np.testing.assert_array_equal(got[:, :2], np.take_along_axis(a, i[:, :2], axis=1))
    assert np.isnan(got[:, 2:]).all()
    check(xnp.take_along_axis(a, i, axis=1, mode="clip"),
          np.take_along_axis(a, np.clip(i, 0, 4), axis=1))
    with pytest.raises(ValueError, match="same number of dimensions"):
        xnp.take_along_axis(a, np.array([0, 1]), axis=1)


@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_put_along_axis(rng, dt):
    a = (rng.normal(size=(3, 5)) * 10).astype(dt)
    i0 = np.argmax(a, axis=0, keepdims=True)
    i1 = np.argmax(a, axis=1, keepdims=True)
    v1 = np.arange(3, dtype=dt).reshape(3, 1)
    flat = np.array([0, 7, -1])

    def f(a, i0, i1, v1, flat):
        return [xnp.put_along_axis(a, i0, 99, axis=0, inplace=False),
                xnp.put_along_axis(a, i1, v1, axis=1, inplace=False),
                xnp.put_along_axis(a, flat, 5, axis=None, inplace=False)]
    wants = [a.copy() for _ in range(3)]
    np.put_along_axis(wants[0], i0, 99, axis=0)
    np.put_along_axis(wants[1], i1, v1, axis=1)
    np.put_along_axis(wants[2], flat, 5, axis=None)
    for g, w in zip(xtrace.jit(f)(a, i0, i1, v1, flat), wants):
        check(g, w)
    check(xnp.put_along_axis(a, i1, v1, axis=1, inplace=False), wants[1])
    with pytest.raises(ValueError, match="inplace=False"):
        xnp.put_along_axis(a, i1, 1, axis=1)


# ---------------------------------------------------------------------------------------------
# nonzero, argwhere, flatnonzero, where(c), extract, compress, count_nonzero


@pytest.mark.parametrize("kind,shape", [("f", (3, 5)), ("i", (11,)), ("b", (2, 3, 2))])
def test_nonzero_family(rng, kind, shape):
    x = _data(rng, shape, kind)
    x.flat[0] = 0
    check(xnp.nonzero(x), np.nonzero(x))
    check(xnp.where(x), np.where(x))
    check(xnp.argwhere(x), np.argwhere(x))
    check(xnp.flatnonzero(x), np.flatnonzero(x))
    check(xnp.count_nonzero(x), np.count_nonzero(x))
    check(xnp.count_nonzero(x, axis=0, keepdims=True), np.count_nonzero(x, axis=0,
                                                                       keepdims=True))


def test_nonzero_edge_cases():
    z = np.zeros((3, 5), np.float32)
    check(xnp.nonzero(z), np.nonzero(z))
    check(xnp.argwhere(z), np.argwhere(z))
    check(xnp.argwhere(np.float32(2)), np.argwhere(np.float32(2)))
    check(xnp.argwhere(np.float32(0)), np.argwhere(np.float32(0)))
    check(xnp.flatnonzero(np.zeros(0)), np.flatnonzero(np.zeros(0)))
    with pytest.raises(ValueError, match="0-d"):
        xnp.nonzero(np.float32(1))


def test_nonzero_jit_size():
    x = np.array([[0, 3, 0], [4, 0, 5]], np.int32)
    nz = np.nonzero(x)  # 3 entries

    def f(x):
        return (xnp.nonzero(x, size=5, fill_value=-1), xnp.nonzero(x, size=2),
                xnp.argwhere(x, size=4, fill_value=(7, 8)), xnp.flatnonzero(x, size=4),
                xnp.where(x > 0, size=3))
    a, b, c, d, e = xtrace.jit(f)(x)
    check(a, tuple(np.concatenate([c_, [-1, -1]]) for c_ in nz))
    check(b, tuple(c_[:2] for c_ in nz))
    check(c, np.concatenate([np.argwhere(x), [[7, 8]]]))
    check(d, np.concatenate([np.flatnonzero(x), [0]]))
    check(e, nz)
    check(xnp.nonzero(x, size=4, fill_value=9), tuple(np.append(c_, 9) for c_ in nz))
    for fn in (xnp.nonzero, xnp.argwhere, xnp.flatnonzero, xnp.where):
        with pytest.raises(ConcretizationError, match="size="):
            xtrace.jit(fn)(x)
    with pytest.raises(TypeError, match="size"):
        xtrace.jit(lambda x: xnp.nonzero(x, size=1.5))(x)


def test_where_three_args():
    c = np.array([True, False, True])
    check(xnp.where(c, np.float32(1), np.array([5, 6, 7], np.float32)),
          np.where(c, np.float32(1), np.array([5, 6, 7], np.float32)))
    with pytest.raises(ValueError):
        xnp.where(c, 1)


def test_extract_compress(rng):
    a = rng.normal(size=(3, 5)).astype(np.float32)
    c = a > 0
    cond = np.array([True, False, True])
    check(xnp.extract(c, a), np.extract(c, a))
    check(xnp.compress(cond, a, axis=0), np.compress(cond, a, axis=0))
    check(xnp.compress([False, True], a, axis=1), np.compress([False, True], a, axis=1))
    f = xtrace.jit(lambda c, a: (xnp.compress(c, a, axis=0, size=3, fill_value=-1),
                                 xnp.extract(a > 0, a, size=20)))
    got, ext = f(cond, a)
    check(got, np.concatenate([np.compress(cond, a, axis=0), -np.ones((1, 5), np.float32)]))
    e = np.extract(c, a)
    check(ext, np.concatenate([e, np.zeros(20 - e.size, np.float32)]))


# ---------------------------------------------------------------------------------------------
# unique


@pytest.mark.parametrize("kind,shape", [("f", (3, 5)), ("i", (11,)), ("b", (11,)),
                                        ("i", (1,))])
def test_unique(rng, kind, shape):
    x = _data(rng, shape, kind)
    check(xnp.unique(x), np.unique(x))
    check(xnp.unique(x, return_index=True, return_inverse=True, return_counts=True),
          np.unique(x, return_index=True, return_inverse=True, return_counts=True))
    check(xnp.unique(x, return_inverse=True), np.unique(x, return_inverse=True))


def test_unique_nan_and_variants():
    x = np.array([np.nan, 1.0, -0.0, 0.0, np.nan, 1.0, 2.0, np.nan, 2.0, 1.0, 0.0],
                 np.float32)
    check(xnp.unique(x), np.unique(x))
    check(xnp.unique(x, return_counts=True), np.unique(x, return_counts=True))
    check(xnp.unique(x, equal_nan=False), np.unique(x, equal_nan=False))
    check(xnp.unique_values(x), np.unique_values(x))
    check(tuple(xnp.unique_counts(x)), tuple(np.unique_counts(x)))
    check(tuple(xnp.unique_inverse(x)), tuple(np.unique_inverse(x)))
    check(xnp.unique(np.zeros(0, np.int32), return_counts=True),
          np.unique(np.zeros(0, np.int32), return_counts=True))


def test_unique_axis(rng):
    x = rng.integers(0, 2, size=(6, 3)).astype(np.int32)
    x = np.concatenate([x, x[:2]], axis=0)
    for xx, axis in ((x, 0), (x.T, 1), (x.T, -1)):
        check(xnp.unique(xx, axis=axis), np.unique(xx, axis=axis))
        check(xnp.unique(xx, return_index=True, return_inverse=True, return_counts=True,
                         axis=axis),
              np.unique(xx, return_index=True, return_inverse=True, return_counts=True,
                        axis=axis))
    x3 = rng.integers(0, 2, size=(2, 4, 2)).astype(np.float32)
    check(xnp.unique(x3, axis=1), np.unique(x3, axis=1))


def test_unique_jit_size():
    x = np.array([3, 1, 1, 2, 3, 3], np.int32)
    x2 = np.array([[1, 2], [1, 2], [0, 5]], np.int32)

    def f(x, x2):
        return (xnp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                           size=5),
                xnp.unique(x, size=2, fill_value=-1),
                xnp.unique(x2, axis=0, size=3, fill_value=9))
    (v, i, inv, c), short, rows = xtrace.jit(f)(x, x2)
    check(v, [1, 2, 3, 1, 1])
    check(i, [1, 3, 0, 1, 1])
    check(inv, np.unique(x, return_inverse=True)[1])
    check(c, [2, 1, 3, 0, 0])
    check(short, [1, 2])
    check(rows, [[0, 5], [1, 2], [9, 9]])
    check(xnp.unique(x, size=4, fill_value=-1), [1, 2, 3, -1])
    with pytest.raises(ConcretizationError, match="size="):
        xtrace.jit(xnp.unique)(x)


# ---------------------------------------------------------------------------------------------
# set operations, isin


def test_set_ops(rng):
    a = _data(rng, (11,), "f")
    b = _data(rng, (2, 3), "f")
    check(xnp.isin(a, b), np.isin(a, b))
    check(xnp.isin(b, a, invert=True), np.isin(b, a, invert=True))
    check(xnp.isin(a, b, method="sort"), np.isin(a, b))
    check(xnp.union1d(a, b), np.union1d(a, b))
    check(xnp.intersect1d(a, b), np.intersect1d(a, b))
    check(xnp.intersect1d(a, b, return_indices=True), np.intersect1d(a, b, return_indices=True))
    check(xnp.setdiff1d(a, b), np.setdiff1d(a, b))
    check(xnp.setxor1d(a, b), np.setxor1d(a, b))


def test_set_ops_jit():
    a = np.array([5, 1, 3, 3, 7], np.int32)
    b = np.array([3, 4, 5, 9], np.int32)
    f = xtrace.jit(lambda a, b: (xnp.union1d(a, b, size=8, fill_value=0),
                                 xnp.intersect1d(a, b, size=3, fill_value=-1),
                                 xnp.setdiff1d(a, b, size=3, fill_value=-1),
                                 xnp.setxor1d(a, b, size=6, fill_value=-1),
                                 xnp.isin(a, b), xnp.isin(a, b, method="sort"),
                                 xnp.setdiff1d(a[::-1], b, assume_unique=True, size=3)))
    u, i, d, x, m1, m2, du = f(a, b)
    ii = xtrace.jit(lambda a, b: xnp.intersect1d(a, b, return_indices=True, size=2))(a, b)
    check(ii, np.intersect1d(a, b, return_indices=True))
    check(u, [1, 3, 4, 5, 7, 9, 0, 0])
    check(i, [3, 5, -1])
    check(d, [1, 7, -1])
    check(x, [1, 4, 7, 9, -1, -1])
    check(m1, np.isin(a, b))
    check(m2, np.isin(a, b))
    check(du, [7, 1, 7])  # in ar1's order; padded with its first value
    with pytest.raises(ConcretizationError, match="size="):
        xtrace.jit(xnp.intersect1d)(a, b)


# ---------------------------------------------------------------------------------------------
# bincount, histogram


def test_bincount(rng):
    x = rng.integers(0, 6, 11).astype(np.int32)
    w = rng.normal(size=11).astype(np.float32)
    check(xnp.bincount(x), np.bincount(x))
    check(xnp.bincount(x, minlength=10), np.bincount(x, minlength=10))
    check(xnp.bincount(x, weights=w), np.bincount(x, weights=w), rtol=1e-5, atol=1e-6)
    check(xnp.bincount(np.zeros(0, np.int32)), np.bincount(np.zeros(0, np.int32)))
    f = xtrace.jit(lambda x, w: (xnp.bincount(x, w, length=4), xnp.bincount(x, length=8),
                                 xnp.bincount(x - 1, length=3)))
    a, b, c = f(x, w)
    check(a, np.bincount(x, weights=w)[:4], rtol=1e-5, atol=1e-6)
    check(b, np.bincount(x, minlength=8))
    check(c, np.bincount(np.maximum(x - 1, 0), minlength=6)[:3])  # negatives count as 0
    with pytest.raises(ConcretizationError, match="length="):
        xtrace.jit(xnp.bincount)(x)
    with pytest.raises(ValueError, match="negative"):
        xnp.bincount(np.array([1, -1]))
    with pytest.raises(TypeError, match="integers"):
        xnp.bincount(np.array([1.0]))


def test_histogram(rng):
    a = (rng.normal(size=50) * 5).astype(np.float32)
    ai = rng.integers(-12, 13, 50).astype(np.int32)
    w = rng.uniform(size=50).astype(np.float32)
    edges = np.array([-10.0, -1.0, 0.0, 2.5, 10.0], np.float32)
    # int data: bins whose edges are exact, since NumPy computes them in float64
    cases = [(a, {"bins": 7}), (a, {"bins": 4, "range": (-3, 6), "density": True}),
             (a, {"bins": edges}), (a, {"bins": 5, "weights": w}),
             (a, {"bins": 5, "weights": w, "density": True}),
             (ai, {"bins": 6, "range": (-12, 12)}), (ai, {"bins": edges, "density": True})]
    for x, kw in cases:
        c, e = xnp.histogram(x, **kw)
        cw, ew = np.histogram(x, **kw)
        check(e, ew, rtol=1e-5)
        check(c, cw, rtol=1e-5, atol=1e-6)
    check(xnp.histogram_bin_edges(a, 7), np.histogram_bin_edges(a, 7), rtol=1e-5)
    f = xtrace.jit(lambda a, ai: (xnp.histogram(a, bins=6), xnp.histogram(ai, 3, (-12, 12))))
    (c, e), (ci, ei) = f(a, ai)
    cw, ew = np.histogram(a, bins=6)
    check(c, cw)
    check(e, ew, rtol=1e-5)
    check(ci, np.histogram(ai, 3, (-12, 12))[0])
    check(xnp.histogram(np.full(4, 2.0, np.float32), bins=2)[0], [0, 4])
    with pytest.raises(ValueError, match="monoton"):
        xnp.histogram(a, bins=np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="larger"):
        xnp.histogram(a, range=(2, 1))
    with pytest.raises(NotImplementedError, match="string"):
        xnp.histogram(a, bins="auto")


# ---------------------------------------------------------------------------------------------
# diff, ediff1d


@pytest.mark.parametrize("kind", ["f", "i", "b"])
def test_diff(rng, kind):
    x = _data(rng, (3, 5), kind)
    check(xnp.diff(x), np.diff(x))
    check(xnp.diff(x, n=0), np.diff(x, n=0))

    def f(x):
        out = [xnp.diff(x, n=2, axis=0), xnp.diff(x, n=2, axis=-1), xnp.diff(x, n=7)]
        if kind != "b":
            out.append(xnp.diff(x, prepend=0, append=x[:, :2]))
        return out
    want = [np.diff(x, n=2, axis=0), np.diff(x, n=2, axis=-1), np.diff(x, n=7)]
    if kind != "b":
        want.append(np.diff(x, prepend=0, append=x[:, :2]))
    for g, w in zip(xtrace.jit(f)(x), want):
        check(g, w)
    with pytest.raises(ValueError, match="non-negative"):
        xnp.diff(x, n=-1)
    with pytest.raises(ValueError, match="one dimensional"):
        xnp.diff(np.float32(1))


def test_ediff1d(rng):
    x = rng.integers(-9, 9, (3, 5)).astype(np.int32)
    check(xnp.ediff1d(x), np.ediff1d(x))
    check(xnp.ediff1d(x, to_end=100, to_begin=np.array([-1, -2])),
          np.ediff1d(x, to_end=100, to_begin=np.array([-1, -2])))
    f = _floats(rng, 11, nan=False)
    check(xtrace.jit(lambda f: xnp.ediff1d(f, to_begin=0.5))(f), np.ediff1d(f, to_begin=0.5))
    with pytest.raises(TypeError, match="same_kind"):
        xnp.ediff1d(x, to_end=np.array([1.5]))


# ---------------------------------------------------------------------------------------------
# convolve, correlate


def test_convolve_correlate(rng):
    modes = ("full", "same", "valid")
    for n, m in ((7, 3), (5, 5), (3, 6), (1, 4)):
        a = rng.normal(size=n).astype(np.float32)
        v = rng.normal(size=m).astype(np.float32)
        f = xtrace.jit(lambda a, v: [op(a, v, mode=md) for op in (xnp.convolve, xnp.correlate)
                                     for md in modes])
        want = [op(a, v, mode=md) for op in (np.convolve, np.correlate) for md in modes]
        for g, w in zip(f(a, v), want):
            check(g, w, rtol=1e-5, atol=1e-5)
    check(xnp.convolve(a, v), np.convolve(a, v), rtol=1e-5, atol=1e-5)  # eager
    check(xnp.correlate(a, v, "same"), np.correlate(a, v, "same"), rtol=1e-5, atol=1e-5)


def test_convolve_dtypes(rng):
    a = rng.integers(-5, 5, 8).astype(np.int32)
    v = np.array([1, 2, -1], np.int32)
    c = (rng.normal(size=5) + 1j * rng.normal(size=5)).astype(np.complex64)
    d = (rng.normal(size=3) + 1j * rng.normal(size=3)).astype(np.complex64)
    modes = ("full", "same", "valid")

    def f(a, v, c, d):
        return ([xnp.convolve(a, v), xnp.correlate(a, v, "full")]
                + [op(x, y, md) for op in (xnp.correlate, xnp.convolve) for x, y in ((c, d),
                                                                                    (d, c))
                   for md in modes])
    want = ([np.convolve(a, v).astype(np.float32), np.correlate(a, v, "full").astype(np.float32)]
            + [op(x, y, md) for op in (np.correlate, np.convolve) for x, y in ((c, d), (d, c))
               for md in modes])
    for g, w in zip(xtrace.jit(f)(a, v, c, d), want):
        check(g, w, rtol=1e-5, atol=1e-5)
    check(xnp.convolve(a, v), np.convolve(a, v).astype(np.float32))  # JAX: ints as floats
    with pytest.raises(ValueError, match="1-d"):
        xnp.convolve(np.ones((2, 2)), v)
    with pytest.raises(ValueError, match="empty"):
        xnp.convolve(np.ones(0), v)
    with pytest.raises(ValueError, match="mode"):
        xnp.convolve(a, v, mode="nope")


# ---------------------------------------------------------------------------------------------
# interp, polyval


def test_interp(rng):
    xp = np.sort(rng.uniform(-3, 3, 8)).astype(np.float32)
    fp = rng.normal(size=8).astype(np.float32)
    x = rng.uniform(-4, 4, (3, 5)).astype(np.float32)
    x[0, :3] = [xp[0], xp[-1], xp[3]]
    x[1, 0] = np.nan
    xpp = np.array([190, -190, 350, -350], np.float32)
    fpp = np.array([5, 10, 3, 4], np.float32)
    xq = np.array([-180, -170, -185, 185, -10, -5, 0, 365], np.float32)
    cf = np.array([1 + 1j, 2 - 1j, 0j], np.complex64)

    def f(x, xp, fp, xq, xpp, fpp, cf):
        return [xnp.interp(x, xp, fp), xnp.interp(x, xp, fp, left=-10, right=10),
                xnp.interp(xq, xpp, fpp, period=360),
                xnp.interp(xq[:2] / 360 + 0.5, np.array([0.0, 1.0, 2.0], np.float32), cf)]
    want = [np.interp(x, xp, fp), np.interp(x, xp, fp, -10, 10),
            np.interp(xq, xpp, fpp, period=360), np.interp(xq[:2] / 360 + 0.5, [0, 1, 2], cf)]
    for g, w in zip(xtrace.jit(f)(x, xp, fp, xq, xpp, fpp, cf), want):
        check(g, w, rtol=1e-5, atol=1e-5)
    check(xnp.interp(x, xp, fp), np.interp(x, xp, fp), rtol=1e-5, atol=1e-5)  # eager
    xi = np.array([0, 1, 2, 5], np.int32)
    check(xnp.interp(xi, np.array([0, 2, 4], np.int32), np.array([0, 10, 0], np.int32)),
          np.interp(xi, [0, 2, 4], [0, 10, 0]))
    with pytest.raises(ValueError, match="same length"):
        xnp.interp(x, xp, fp[:3])
    with pytest.raises(ValueError, match="period"):
        xnp.interp(x, xp, fp, period=0)


def test_polyval(rng):
    p = np.array([2, -1, 3], np.int32)
    x = np.arange(-3, 4, dtype=np.int32).reshape(7, 1)
    pf = rng.normal(size=25).astype(np.float32) * 0.5  # longer than unroll: a loop
    xf = rng.uniform(-1, 1, 6).astype(np.float32)
    check(xnp.polyval(p, x), np.polyval(p, x))
    g = xtrace.jit(lambda p, x, pf, xf: (xnp.polyval(p, 2.0), xnp.polyval(pf, xf)))(p, x, pf, xf)
    check(g[0], np.polyval(p, 2.0).astype(np.float32))
    check(g[1], np.polyval(pf, xf), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# float64 / int64 under x64


def test_x64(x64, rng):
    x = rng.normal(size=11)
    x[3] = np.nan
    s = np.sort(x)
    q = rng.normal(size=5)
    i = rng.integers(0, 7, 11)
    xf = x[~np.isnan(x)]

    def f(x, s, q, xf, i):
        return (xnp.sort(x), xnp.argsort(x), xnp.searchsorted(s, q),
                xnp.unique(x, return_counts=True, size=11), xnp.histogram(xf, bins=5),
                xnp.interp(q, s[:6], np.arange(6.0)), xnp.convolve(x[:5], q),
                xnp.bincount(i, length=7))
    srt, asr, ss, (u, uc), (hc, he), it, cv, bc = xtrace.jit(f)(x, s, q, xf, i)
    check(srt, np.sort(x))
    check(asr, np.argsort(x, kind="stable"))
    check(ss, np.searchsorted(s, q).astype(np.int32))  # (JAX: int32 when the length fits)
    uw, cw = np.unique(x, return_counts=True)
    check(u[:uw.size], uw)
    check(uc[:uw.size], cw)
    cw, ew = np.histogram(xf, bins=5)
    check(hc, cw)
    check(he, ew, rtol=1e-12)
    check(it, np.interp(q, s[:6], np.arange(6.0)), rtol=1e-12)
    check(cv, np.convolve(x[:5], q), rtol=1e-12)
    check(bc, np.bincount(i, minlength=7))
    check(xnp.nonzero(x > 0), np.nonzero(x > 0))
    check(xnp.unique(i, return_counts=True), np.unique(i, return_counts=True))
