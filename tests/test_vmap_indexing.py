"""vmap of gather and scatter[_add|_mul|_min|_max] (and the xtrace.numpy indexing built on them)
against NumPy computed example by example: every mix of batched operand / indices / updates at
several axis positions (the indices' batch axis last included), every mode, an empty batch,
nested vmap, vmap of grad; jaxpr checks that batching adds no work (one gather / scatter, no
broadcast of an operand that is already batched) and keeps unique_indices as JAX does."""

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases.indexing import (BATCHED, COLS, POINTS, ROWS, S_BATCHED, S_POINTS,
                                            S_ROWS, S_WINDOWS, WINDOWS, np_gather, np_scatter)

RNG = np.random.default_rng(0)
B = 3


def _examples(make, ax):
    """``B`` examples from ``make()`` stacked on ``ax``, or one unbatched example if None."""
    return make() if ax is None else np.stack([make() for _ in range(B)], axis=ax)


def _per_example(ref, args, in_axes, out_axis=0):
    outs = [ref(*[a if ax is None else np.take(a, k, axis=ax) for a, ax in zip(args, in_axes)])
            for k in range(B)]
    return np.stack(outs, axis=out_axis)


def _check(fn, ref, args, in_axes, out_axis=0, tol=1e-5, jit=True):
    f = xtrace.vmap(fn, in_axes=tuple(in_axes), out_axes=out_axis)
    got = np.asarray((xtrace.jit(f) if jit else f)(*args))
    want = _per_example(ref, args, in_axes, out_axis)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _rand(shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-9, 10, shape).astype(dtype)
    return RNG.uniform(-2, 2, shape).astype(dtype)


def _idx(shape, bounds, oob: bool):
    """Random int32 indices (index vector last, one bound per entry); some out of bounds."""
    hi = np.asarray(bounds)
    lo = -2 if oob else 0
    return (RNG.integers(lo, hi + (3 if oob else 1), shape)).astype(np.int32)


def _eqn_counts(f, *args):
    names = [e.primitive.name for e in xtrace.make_jaxpr(f)(*args).jaxpr.eqns]
    return {n: names.count(n) for n in set(names)}


# ---------------------------------------------------------------------------------------------
# gather: (dimension numbers, slice sizes, operand shape, indices shape)

GATHERS = {
    "rows": (ROWS, (1, 3), (5, 3), (4, 1)),
    "cols": (COLS, (3, 1), (3, 5), (4, 1)),
    "points": (POINTS, (1, 1), (4, 5), (2, 2, 2)),
    "windows": (WINDOWS, (2, 3), (6, 7), (3, 2)),
    "batching_dims": (BATCHED, (1, 1, 4), (3, 5, 4), (3, 2, 1)),
}
# (operand axis, indices axis): -1 on the indices puts the batch after the index vector.
GATHER_AXES = [(0, None), (-1, None), (None, 0), (None, -1), (0, 0), (-1, 1)]
SOME_GATHER_AXES = [(1, None), (None, 1), (1, -1)]  # one of each situation


def _gather_args(spec, mode, axes):
    dn, sizes, xshape, ishape = spec
    bounds = [xshape[d] - sizes[d] for d in dn.start_index_map]
    if dn.operand_batching_dims:  # the indices' batching dim pairs with the operand's
        b = xshape[dn.operand_batching_dims[0]]
        ishape = (b,) + ishape[1:]
    x = _examples(lambda: _rand(xshape), axes[0])
    i = _examples(lambda: _idx(ishape, bounds, mode != "promise_in_bounds"), axes[1])
    return x, i


def _gather_check(name, mode, axes_list):
    spec = GATHERS[name]
    dn, sizes = spec[:2]

    def fn(x, i):
        return lax.gather(x, i, dn, sizes, mode=mode)

    def ref(x, i):
        return np_gather(x, i, dn, sizes, mode)

    for axes in axes_list:
        _check(fn, ref, _gather_args(spec, mode, axes), axes,
               out_axis=-1 if axes[0] == -1 else 0)


@pytest.mark.parametrize("name", GATHERS)
def test_gather_fill(name):
    """Every situation in the fill mode (which masks, so has the most to get wrong); one of
    each for the dimension numbers without batching dims or windows of their own."""
    _gather_check(name, "fill", GATHER_AXES if name in ("rows", "windows", "batching_dims")
                  else SOME_GATHER_AXES)


@pytest.mark.parametrize("name", ["rows", "windows", "batching_dims"])
@pytest.mark.parametrize("mode", ["promise_in_bounds", "clip"])
def test_gather_clamping(name, mode):
    _gather_check(name, mode, SOME_GATHER_AXES + [(2, 0)] * (name == "batching_dims"))


def test_gather_fill_value_and_int_dtype():
    dn, sizes = ROWS, (1, 3)
    for axes in [(0, None), (None, 1), (0, 1)]:
        x = _examples(lambda: _rand((5, 3), np.int32), axes[0])
        i = _examples(lambda: _idx((4, 1), [4], True), axes[1])
        _check(lambda x, i: lax.gather(x, i, dn, sizes, mode="fill", fill_value=-7),
               lambda x, i: np_gather(x, i, dn, sizes, "fill", -7), [x, i], axes)


def test_gather_adds_no_work():
    """One gather and no transpose / broadcast when the batch axes are where they can stay."""
    x = _examples(lambda: _rand((5, 3)), 1)
    i = _examples(lambda: _idx((4, 1), [4], False), 0)
    for axes in [(1, None), (None, 0), (1, 0)]:
        f = xtrace.vmap(lambda x, i: lax.gather(x, i, ROWS, (1, 3)), in_axes=axes)
        args = [x if axes[0] is not None else x[:, 0], i if axes[1] is not None else i[0]]
        assert _eqn_counts(f, *args) == {"gather": 1}


def test_gather_unique_indices_and_sorted():
    """Batched indices into a shared operand may repeat across examples: JAX drops the
    promises then, and keeps them when each example has its own operand (or only the operand
    is batched)."""
    x = _examples(lambda: _rand((5, 3)), 0)
    i = np.stack([np.array([[0], [2]], np.int32)] * B)

    def fn(x, i):
        return lax.gather(x, i, ROWS, (1, 3), unique_indices=True, indices_are_sorted=True)

    for axes, kept in [((None, 0), False), ((0, None), True), ((0, 0), True)]:
        args = [x if axes[0] is not None else x[0], i if axes[1] is not None else i[0]]
        eqn, = xtrace.make_jaxpr(xtrace.vmap(fn, in_axes=axes))(*args).jaxpr.eqns
        assert eqn.params["unique_indices"] is kept
        assert eqn.params["indices_are_sorted"] is kept
        _check(fn, lambda x, i: np_gather(x, i, ROWS, (1, 3)), args, axes)


# ---------------------------------------------------------------------------------------------
# scatter: (dimension numbers, operand shape, indices shape, updates shape)

SCATTERS = {
    "rows": (S_ROWS, (5, 3), (4, 1), (4, 3)),
    "points": (S_POINTS, (4, 5), (3, 2), (3,)),
    "windows": (S_WINDOWS, (6, 7), (2, 2), (2, 2, 3)),
    "batching_dims": (S_BATCHED, (3, 5, 4), (3, 2, 1), (3, 2, 4)),
}
# Every mix of batched (operand, indices, updates), at various positions.
SCATTER_AXES = [(0, None, None), (None, 0, None), (None, None, -1), (-1, 0, None),
                (None, -1, 1), (0, None, 1), (-1, 1, 0)]
SOME_SCATTER_AXES = [(1, None, 0), (None, 0, None), (0, -1, -1)]


def _window(spec):
    dn, xshape, _, ushape = spec
    uw = iter(dn.update_window_dims)
    skip = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    return [1 if d in skip else ushape[next(uw)] for d in range(len(xshape))]


def _distinct_starts(spec, n):
    """``n`` index vectors whose windows do not overlap (starts on a grid of window sizes)."""
    dn, xshape = spec[0], spec[1]
    win = _window(spec)
    axes = [np.arange(0, xshape[d] - win[d] + 1, win[d]) for d in dn.scatter_dims_to_operand_dims]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
    return grid[RNG.permutation(len(grid))[:n]].astype(np.int32)


def _scatter_args(spec, axes, dtype, oob, unique):
    dn, xshape, ishape, ushape = spec
    win = _window(spec)
    bounds = [xshape[d] - win[d] for d in dn.scatter_dims_to_operand_dims]

    def idx():
        if not unique:
            return _idx(ishape, bounds, oob)
        if dn.operand_batching_dims:  # distinct within each batch of the batching dim
            return np.stack([_distinct_starts(spec, int(np.prod(ishape[1:-1]))).reshape(
                ishape[1:]) for _ in range(ishape[0])])
        return _distinct_starts(spec, int(np.prod(ishape[:-1]))).reshape(ishape)

    x = _examples(lambda: _rand(xshape, dtype), axes[0])
    i = _examples(idx, axes[1])
    u = _examples(lambda: _rand(ushape, dtype), axes[2])
    return x, i, u


def _scatter_check(prim, name, mode, axes_list, dtype=np.float32, unique=False, tol=1e-5):
    spec = SCATTERS[name]
    dn = spec[0]
    op = "set" if prim == "scatter" else prim[len("scatter_"):]
    fn_ = getattr(lax, prim)
    oob = mode != "promise_in_bounds" and not unique

    def fn(x, i, u):
        return fn_(x, i, u, dn, mode=mode)

    def ref(x, i, u):
        return np_scatter(op, x, i, u, dn, "clip" if mode == "clip" else "drop")

    for axes in axes_list:
        _check(fn, ref, _scatter_args(spec, axes, dtype, oob, unique), axes, tol=tol)


@pytest.mark.parametrize("name", SCATTERS)
def test_scatter_add_every_mix(name):
    """Every mix for the dimension numbers with inserted / batching dims, one of each situation
    for the others."""
    _scatter_check("scatter_add", name, "drop", SCATTER_AXES if name in ("rows", "batching_dims")
                   else SOME_SCATTER_AXES)


def test_scatter_add_clip():
    _scatter_check("scatter_add", "windows", "clip", SOME_SCATTER_AXES)


@pytest.mark.parametrize("prim,name", [("scatter_mul", "rows"), ("scatter_min", "batching_dims"),
                                       ("scatter_max", "windows")])
def test_scatter_combining(prim, name):
    _scatter_check(prim, name, "drop", SOME_SCATTER_AXES, dtype=np.int32)


@pytest.mark.parametrize("name", ["rows", "batching_dims"])
def test_scatter_replace(name):
    _scatter_check("scatter", name, "drop", SOME_SCATTER_AXES, unique=True)


@pytest.mark.parametrize("mode", ["clip", "promise_in_bounds"])
def test_scatter_replace_modes(mode):
    _scatter_check("scatter", "windows", mode, SOME_SCATTER_AXES, unique=True)


def test_scatter_adds_no_work():
    """One scatter, nothing transposed: only an unbatched operand or updates is broadcast."""
    def fn(x, i, u):
        return lax.scatter_add(x, i, u, S_ROWS)

    for axes in [(1, None, None), (1, 0, None), (1, 1, 1), (1, 0, 0), (1, None, 1),
                 (None, 1, 1)]:
        args = [_examples(lambda: _rand((5, 3)), axes[0]),
                _examples(lambda: _idx((4, 1), [4], False), axes[1]),
                _examples(lambda: _rand((4, 3)), axes[2])]
        out_axis = 0 if axes[0] is None else axes[0]  # where the batch lands: not moved
        counts = _eqn_counts(xtrace.vmap(fn, in_axes=axes, out_axes=out_axis), *args)
        assert counts.pop("scatter_add") == 1
        want = {"broadcast_in_dim": (axes[0] is None) + (axes[2] is None)}
        assert counts == {k: v for k, v in want.items() if v}
        _check(fn, lambda x, i, u: np_scatter("add", x, i, u, S_ROWS), args, axes, out_axis)


def test_empty_batch():
    x, i, u = np.zeros((0, 5, 3), np.float32), np.zeros((0, 2, 1), np.int32), \
        np.zeros((0, 2, 3), np.float32)
    g = xtrace.vmap(lambda x, i: lax.gather(x, i, ROWS, (1, 3), mode="fill"))(x, i)
    assert g.shape == (0, 2, 3)
    s = xtrace.vmap(lambda x, i, u: lax.scatter(x, i, u, S_ROWS), (0, 0, 0))(x, i, u)
    assert s.shape == (0, 5, 3)


# ---------------------------------------------------------------------------------------------
# Composition: nested vmap, vmap of grad


def test_nested_vmap_gather():
    x = RNG.uniform(size=(2, B, 5, 3)).astype(np.float32)
    i = RNG.integers(0, 5, (B, 4, 1)).astype(np.int32)

    def fn(x, i):
        return lax.gather(x, i, ROWS, (1, 3))

    got = xtrace.vmap(xtrace.vmap(fn, in_axes=(0, 0)), in_axes=(0, None))(x, i)
    want = np.stack([np.stack([np_gather(x[a, b], i[b], ROWS, (1, 3)) for b in range(B)])
                     for a in range(2)])
    np.testing.assert_allclose(np.asarray(got), want)


def test_nested_vmap_scatter_add():
    x = RNG.uniform(size=(5, 3)).astype(np.float32)
    i = RNG.integers(0, 5, (2, 4, 1)).astype(np.int32)
    u = RNG.uniform(size=(4, 3, B)).astype(np.float32)

    def fn(x, i, u):
        return lax.scatter_add(x, i, u, S_ROWS)

    got = xtrace.vmap(xtrace.vmap(fn, in_axes=(None, None, -1)), in_axes=(None, 0, None))(x, i, u)
    want = np.stack([np.stack([np_scatter("add", x, i[a], u[..., b], S_ROWS) for b in range(B)])
                     for a in range(2)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_vmap_of_grad_through_gather_and_scatter():
    """Per-example gradients: d/dx sum(w * x[i]) scatters w into i's rows; d/du of a
    scatter_add reads the cotangent back at i."""
    x = _examples(lambda: _rand((5, 3)), 0)
    i = _examples(lambda: _idx((4, 1), [4], False), 0)
    w = _rand((4, 3))

    def loss_g(x, i):
        return xnp.sum(lax.gather(x, i, ROWS, (1, 3)) * w)

    def ref_g(x, i):
        return np_scatter("add", np.zeros_like(x), i, np.broadcast_to(w, (4, 3)), S_ROWS)

    for axes in [(0, 0), (0, None), (None, 0)]:
        args = [x if axes[0] is not None else x[0], i if axes[1] is not None else i[0]]
        _check(xtrace.grad(loss_g), ref_g, args, axes)

    u = _examples(lambda: _rand((4, 3)), 0)
    v = _rand((5, 3))

    def loss_s(u, i):
        return xnp.sum(lax.scatter_add(xnp.zeros((5, 3)), i, u, S_ROWS) * v)

    def ref_s(u, i):
        return np_gather(v, i, ROWS, (1, 3))

    for axes in [(0, 0), (None, 0), (0, None)]:
        args = [u if axes[0] is not None else u[0], i if axes[1] is not None else i[0]]
        _check(xtrace.grad(loss_s), ref_s, args, axes)


# ---------------------------------------------------------------------------------------------
# xtrace.numpy indexing under vmap

X = RNG.uniform(-1, 1, (B, 4, 5)).astype(np.float32)
IDX = RNG.integers(-4, 4, (B, 3)).astype(np.int32)
VALS = RNG.uniform(-1, 1, (B, 3, 5)).astype(np.float32)


def _pick(a, ax):
    return a if ax is not None else a[0]


@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0)])
def test_numpy_getitem(axes):
    x, i = _pick(X, axes[0]), _pick(IDX, axes[1])
    _check(lambda x, i: xnp.asarray(x)[i], lambda x, i: x[i], [x, i], axes, jit=False)
    _check(lambda x, i: xnp.asarray(x)[1:, i[:2]], lambda x, i: x[1:, i[:2]], [x, i], axes)
    _check(lambda x, i: xnp.asarray(x)[i[:2], i[1:]], lambda x, i: x[i[:2], i[1:]], [x, i],
           axes)


@pytest.mark.parametrize("axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                  (0, 0, None), (None, 0, 0), (0, None, 0), (0, 0, 0)])
def test_numpy_at_updates(axes):
    x, v = _pick(X, axes[0]), _pick(VALS, axes[2])
    i = _pick(np.stack([RNG.permutation(4)[:3] for _ in range(B)]).astype(np.int32), axes[1])

    def np_set(x, i, v):
        out = x.copy()
        out[i] = v
        return out

    def np_add(x, i, v):
        out = x.copy()
        np.add.at(out, i, v)
        return out

    _check(lambda x, i, v: xnp.asarray(x).at[i].set(v), np_set, [x, i, v], axes)
    ir = _pick(IDX, axes[1])  # repeated and negative indices: add accumulates
    _check(lambda x, i, v: xnp.asarray(x).at[i].add(v), np_add, [x, ir, v], axes)
    _check(lambda x, i, v: x.at[i, 2].add(v[:, 0]),
           lambda x, i, v: np_add(x, (i, 2), v[:, 0]), [x, ir, v], axes)


@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0), (1, -1)])
def test_numpy_take_along_axis(axes):
    args = [_examples(lambda: _rand((4, 5)), axes[0]),
            _examples(lambda: RNG.integers(0, 4, (4, 5)).astype(np.int32), axes[1])]
    _check(lambda a, i: xnp.take_along_axis(a, i, axis=1),
           lambda a, i: np.take_along_axis(a, i, axis=1), args, axes)
    _check(lambda a, i: xnp.take_along_axis(a, i[:2], axis=0),
           lambda a, i: np.take_along_axis(a, i[:2], axis=0), args, axes)
