"""vmap of reductions, cumulative reductions, sort and top_k beyond the batching table: batch
dimensions on either side of the reduced axes, mixed batched/unbatched sort operands, nested
vmap, vmap of grad, and the xtrace.numpy functions built on these primitives. References are
NumPy results computed example by example."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases import rand
from tests.primitive_cases.sorting import np_sort, np_top_k

B = 3


def _close(got, want, rtol=1e-5, atol=1e-6):
    got = got if isinstance(got, (list, tuple)) else [got]
    want = want if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = np.asarray(g)
        assert g.shape == np.shape(w) and g.dtype == np.asarray(w).dtype, (g.shape, g.dtype,
                                                                           np.shape(w))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _per_example(ref, batch, in_axis, out_axis=0):
    """``ref`` on each example of ``batch`` (mapped on ``in_axis``), stacked on ``out_axis``."""
    outs = [ref(np.take(batch, i, axis=in_axis)) for i in range(batch.shape[in_axis])]
    if isinstance(outs[0], (list, tuple)):
        return [np.stack([o[k] for o in outs], out_axis) for k in range(len(outs[0]))]
    return np.stack(outs, out_axis)


def _prims(f, *args):
    return [e.primitive.name for e in xtrace.make_jaxpr(f)(*args).jaxpr.eqns]


# ---- reductions: the batch dimension before, between and after the reduced axes ----
def _reductions(x):
    return (lax.reduce_sum(x, (0, 2)), lax.reduce_max(x, (1,)), lax.reduce_min(x, (0, 1, 2)),
            lax.reduce_prod(x, (2,)), lax.argmax(x, 1), lax.argmin(x, 2, np.int8),
            lax.cumsum(x, 0), lax.cumprod(x, 2, reverse=True), lax.cummax(x, 1, reverse=True),
            lax.cummin(x, 2))


def _np_reductions(x):
    return (x.sum((0, 2)), x.max(1), x.min(), x.prod(2), x.argmax(1).astype(np.int32),
            x.argmin(2).astype(np.int8), np.cumsum(x, 0),
            np.flip(np.cumprod(np.flip(x, 2), 2), 2),
            np.flip(np.maximum.accumulate(np.flip(x, 1), 1), 1), np.minimum.accumulate(x, 2))


@pytest.mark.parametrize("in_axis,out_axis", [(0, 0), (1, -1), (2, 0), (-1, -1)])
def test_reductions_at_every_batch_position(in_axis, out_axis):
    x = rand((2, 4, 3), seed=1, low=0.5, high=1.5)
    batch = np.stack([x * (i + 1) - i for i in range(B)], in_axis % 4)
    f = xtrace.jit(xtrace.vmap(_reductions, in_axes=in_axis, out_axes=out_axis))
    _close(f(batch), _per_example(_np_reductions, batch, in_axis % 4, out_axis), rtol=1e-5)


def test_integer_and_bool_reductions():
    x = rand((B, 4, 5), np.int32, seed=2)
    b = x % 3 == 0
    f = xtrace.vmap(lambda x, b: (lax.reduce_and(x, (0,)), lax.reduce_or(x, (1,)),
                                  lax.reduce_xor(x, (0, 1)), lax.reduce_and(b, (1,)),
                                  lax.reduce_or(b, (0,)), lax.argmax(b, 0)),
                    in_axes=(2, 1))
    xb, bb = np.moveaxis(x, 0, 2), np.moveaxis(b, 0, 1)
    want = [np.stack(w) for w in zip(*[
        (np.bitwise_and.reduce(e, 0), np.bitwise_or.reduce(e, 1),
         np.bitwise_xor.reduce(e, (0, 1)), np.logical_and.reduce(c, 1),
         np.logical_or.reduce(c, 0), c.argmax(0).astype(np.int32)) for e, c in zip(x, b)])]
    _close(xtrace.jit(f)(xb, bb), want)


def test_reductions_keep_the_batch_dimension_in_place():
    x = xnp.zeros((4, B, 5))
    names = _prims(xtrace.vmap(lambda v: (lax.reduce_sum(v, (1,)), lax.cumsum(v, 0),
                                          lax.argmax(v, 0), lax.sort(v, 1)),
                                in_axes=1, out_axes=(1, 1, 0, 1)), x)
    assert "transpose" not in names, names


def test_nested_vmap():
    x = rand((B, 2, 4, 5), seed=3)
    f = xtrace.vmap(xtrace.vmap(lambda v: (lax.reduce_max(v, (1,)), lax.cumsum(v, 0),
                                           lax.argmin(v, 1)), in_axes=1), in_axes=0, out_axes=1)
    want = [np.stack([np.stack([[v.max(1), np.cumsum(v, 0), v.argmin(1).astype(np.int32)][k]
                                for v in np.moveaxis(e, 1, 0)]) for e in x], 1) for k in range(3)]
    _close(xtrace.jit(f)(x), want)


# ---- sort: several operands, some unbatched, num_keys, every dimension ----
def test_sort_mixed_batched_operands():
    keys = np.round(rand((4, 6), seed=4) * 2).astype(np.float32)   # ties: stability matters
    vals = rand((B, 4, 6), np.int32, seed=5)
    iota = np.broadcast_to(np.arange(6, dtype=np.int32), (4, 6))

    def f(k, v):
        return (*lax.sort((k, v), 1, num_keys=1), *lax.sort((v, k), 0, num_keys=2),
                *lax.sort((k, v, iota), 1, num_keys=2))

    g = xtrace.jit(xtrace.vmap(f, in_axes=(None, 2), out_axes=-1))
    vb = np.moveaxis(vals, 0, 2)
    want = [np.stack(w, -1) for w in zip(*[
        (*np_sort([keys, v], 1), *np_sort([v, keys], 0, 2), *np_sort([keys, v, iota], 1, 2))
        for v in vals])]
    _close(g(keys, vb), want)


@pytest.mark.parametrize("in_axis,dimension", [(0, 0), (1, 0), (2, 0), (0, -1), (1, 1),
                                               (2, 1)])
def test_sort_batched_keys(in_axis, dimension):
    keys = np.round(rand((B, 5, 4), seed=6) * 2).astype(np.float32)
    keys[1, 2, 1] = np.nan
    vals = rand((5, 4), seed=7)
    kb = np.moveaxis(keys, 0, in_axis)
    f = xtrace.vmap(lambda k, v: lax.sort((k, v), dimension), in_axes=(in_axis, None))
    want = [np.stack(w) for w in zip(*[np_sort([k, vals], dimension) for k in keys])]
    _close(xtrace.jit(f)(kb, vals), want)


# ---- top_k: the batch dimension never ends up on the top_k axis ----
@pytest.mark.parametrize("in_axis,axis", [(0, -1), (1, -1), (2, -1), (0, 0), (2, 0), (1, 1)])
def test_top_k(in_axis, axis):
    x = np.round(rand((B, 4, 6), seed=8) * 3).astype(np.float32)
    xb = np.moveaxis(x, 0, in_axis)
    f = xtrace.vmap(lambda v: lax.top_k(v, 3, axis=axis), in_axes=in_axis)
    _close(xtrace.jit(f)(xb), [np.stack(w) for w in zip(*[np_top_k(e, 3, axis) for e in x])])


def test_top_k_batch_last_moves_once():
    names = _prims(xtrace.vmap(lambda v: lax.top_k(v, 2), in_axes=1), xnp.zeros((5, B)))
    assert names.count("transpose") == 1, names


# ---- vmap of grad through the batching rules of the jvp's primitives ----
def test_vmap_of_grad():
    x = rand((B, 3, 5), seed=9, low=0.5, high=1.5)
    x[1, 0, 2] = x[1, 0, 4] = 2.0  # a tie for the max: the gradient is shared
    w = rand((3, 5), seed=10)

    def loss(v):
        return (lax.reduce_sum(lax.reduce_max(v, (1,)), (0,))
                + lax.reduce_sum(lax.mul(lax.sort(v, 1), w), (0, 1))
                + lax.reduce_sum(lax.mul(lax.cumsum(v, 1), w), (0, 1))
                + lax.reduce_sum(lax.reduce_prod(v, (0,)), (0,))
                + lax.reduce_sum(lax.top_k(v, 2)[0], (0, 1)))

    def ref(v):
        m = (v == v.max(1, keepdims=True)).astype(np.float32)
        g = m / m.sum(1, keepdims=True)
        perm = np.argsort(v, 1, kind="stable")
        np.put_along_axis(gs := np.zeros_like(v), perm, w, 1)
        g += gs + np.flip(np.cumsum(np.flip(w, 1), 1), 1)
        g += v.prod(0, keepdims=True) / v
        top = np.zeros_like(v)
        np.put_along_axis(top, np_top_k(v, 2)[1].astype(np.int64), 1.0, 1)
        return g + top

    f = xtrace.jit(xtrace.vmap(xtrace.grad(loss), in_axes=2, out_axes=1))
    _close(f(np.moveaxis(x, 0, 2)), np.stack([ref(e) for e in x], 1), rtol=1e-5)


# ---- xtrace.numpy functions built on these primitives ----
def test_numpy_functions_per_example():
    x = rand((B, 4, 7), seed=11)
    x[0, 1, 3] = x[0, 1, 5]  # ties for argsort's stability
    q = np.array([0.1, 0.5, 0.9], np.float32)

    def f(v):
        return (xnp.sum(v, axis=1), xnp.sum(v, axis=(0, 1)), xnp.argsort(v), xnp.argsort(v, 0),
                xnp.cumsum(v, 1), xnp.cumsum(v), xnp.sort(v, axis=0), xnp.argmax(v, 1),
                xnp.median(v, axis=1), xnp.percentile(v, 30.0, axis=0),
                xnp.quantile(v, q, axis=1), xnp.max(v), xnp.cumprod(v, 0))

    def ref(v):
        return (v.sum(1), v.sum((0, 1)), np.argsort(v, kind="stable").astype(np.int32),
                np.argsort(v, 0, kind="stable").astype(np.int32), np.cumsum(v, 1),
                np.cumsum(v), np.sort(v, 0), v.argmax(1).astype(np.int32),
                np.median(v, 1).astype(np.float32),
                np.percentile(v, 30.0, 0).astype(np.float32),
                np.quantile(v, q, 1).astype(np.float32), v.max(), np.cumprod(v, 0))

    g = xtrace.jit(xtrace.vmap(f, in_axes=1, out_axes=-1))
    _close(g(np.moveaxis(x, 0, 1)), _per_example(ref, np.moveaxis(x, 0, 1), 1, -1),
           rtol=2e-5, atol=1e-5)
