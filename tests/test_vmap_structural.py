"""vmap of the shape-changing primitives in situations the batching table does not reach:
start indices that differ per example (gather / scatter paths of dynamic_slice and
dynamic_update_slice, with clamping), per-example padding values, nested vmap and vmap
mixed with grad. Checked against NumPy, example by example."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases.structural import _clamped, _ds_ref as _ds, _dus_ref as _dus, _pad_ref

B = 3
RNG = np.random.default_rng(0)
X = RNG.standard_normal((B, 5, 6)).astype(np.float32)
U = RNG.standard_normal((B, 2, 3)).astype(np.float32)
# per-example starts: in range, past the end (clamped), negative (wrapped once, then clamped)
I = np.array([1, 4, -2], np.int32)
J = np.array([5, -100, 2], np.int32)


def _pick(a, ax, k):
    return np.asarray(a) if ax is None else np.take(a, k, axis=ax)


def _batched(a, ax):
    """``a`` (batch leading) with its batch dim moved to ``ax``; unbatched: example 0."""
    return a[0] if ax is None else np.moveaxis(a, 0, ax)


def _run(fn, ref, args, in_axes, out_axes=0):
    got = xtrace.jit(xtrace.vmap(fn, in_axes=in_axes, out_axes=out_axes))(
        *[xnp.asarray(_batched(a, ax)) for a, ax in zip(args, in_axes)])
    per = [ref(*[_pick(_batched(a, ax), ax, k) for a, ax in zip(args, in_axes)])
           for k in range(B)]
    np.testing.assert_array_equal(np.asarray(got), np.stack(per, axis=out_axes))


@pytest.mark.parametrize("in_axes", [(0, 0, None), (2, None, 0), (None, 0, 0), (1, 0, 0),
                                     (None, None, 0)])
def test_dynamic_slice_per_example_starts(in_axes):
    _run(lambda x, i, j: lax.dynamic_slice(x, [i, j], [2, 3]),
         lambda x, i, j: _ds(x, [i, j], [2, 3]), [X, I, J], in_axes)


@pytest.mark.parametrize("in_axes", [(0, 0, 0, None), (None, 1, None, 0), (2, None, 0, 0),
                                     (None, None, 0, 0), (1, 2, None, None),
                                     (None, 0, None, None)])
def test_dynamic_update_slice_per_example_starts(in_axes):
    _run(lambda x, u, i, j: lax.dynamic_update_slice(x, u, [i, j]),
         lambda x, u, i, j: _dus(x, u, [i, j]), [X, U, I, J], in_axes, out_axes=-1)


def test_unsigned_and_one_index():
    i = np.array([0, 200, 3], np.uint8)
    x = X.reshape(B, 30)
    _run(lambda x, i: lax.dynamic_slice(x, [i], [4]), lambda x, i: _ds(x, [i], [4]),
         [x, i], (1, 0))
    _run(lambda x, u, i: lax.dynamic_update_slice(x, u, [i]),
         lambda x, u, i: _dus(x, u, [i]), [x, U.reshape(B, 6), i], (0, None, 0))


@pytest.mark.parametrize("in_axes", [(0, 0), (None, 0), (1, 0), (1, None)])
def test_pad_per_example_value(in_axes):
    v = np.array([-1.0, 7.0, 0.5], np.float32)
    cfg = [(1, -2, 1), (-1, 2, 0), (0, 0, 2)]

    x = RNG.standard_normal((B, 5, 6, 3)).astype(np.float32)
    _run(lambda x, pv: lax.pad(x, pv, cfg), lambda x, pv: _pad_ref(x, pv, cfg), [x, v],
         in_axes)


def test_shape_ops_nested_vmap():
    x = RNG.standard_normal((2, 4, 3, 1)).astype(np.float32)

    def f(x):  # (4, 1) per example
        y = lax.transpose(lax.squeeze(x, (1,)), (0,))
        z = lax.broadcast_in_dim(lax.expand_dims(y, (0, 2)), (2, 4, 1), (0, 1, 2))
        w = lax.reshape(lax.rev(z, (1,)), (4, 2), (1, 0, 2))
        return lax.concatenate([lax.slice(w, (1, 0), (4, 2), (2, 1)), w], 0)

    def ref(x):
        z = np.broadcast_to(x[None, :, 0, None], (2, 4, 1))[:, ::-1]
        w = np.transpose(z, (1, 0, 2)).reshape(4, 2)
        return np.concatenate([w[1:4:2], w], 0)

    got = xtrace.jit(xtrace.vmap(xtrace.vmap(f, in_axes=1, out_axes=-1), in_axes=0))(x)
    want = np.stack([np.stack([ref(x[a, :, b]) for b in range(3)], -1) for a in range(2)])
    np.testing.assert_array_equal(np.asarray(got), want)


def test_nested_vmap_dynamic_slice_outer_starts():
    # inner vmap: operand batched, start shared (a dynamic_slice spanning the batch dim);
    # outer vmap: operand and start batched (the gather path with paired batch dims)
    x = RNG.standard_normal((B, 4, 7)).astype(np.float32)
    f = lambda x, i: lax.dynamic_slice(x, [i], [3])
    got = xtrace.jit(xtrace.vmap(xtrace.vmap(f, in_axes=(0, None)), in_axes=(0, 0)))(x, I)
    want = np.stack([np.stack([_ds(x[a, b], [I[a]], [3]) for b in range(4)])
                     for a in range(B)])
    np.testing.assert_array_equal(np.asarray(got), want)


def _ds_sum_grad_ref(x, i, j):
    st = _clamped([i, j], [2, 3], x.shape)
    g = np.zeros_like(x)
    g[st[0]:st[0] + 2, st[1]:st[1] + 3] = 2 * _ds(x, [i, j], [2, 3])
    return g


def test_vmap_of_grad_and_grad_of_vmap():
    def f(x, i, j):
        return (lax.dynamic_slice(x, [i, j], [2, 3]) ** 2).sum()

    got = xtrace.jit(xtrace.vmap(xtrace.grad(f), in_axes=(0, 0, 0)))(X, I, J)
    want = np.stack([_ds_sum_grad_ref(X[k], I[k], J[k]) for k in range(B)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)

    g = xtrace.grad(lambda x: xtrace.vmap(f, in_axes=(0, 0, None))(x, I, np.int32(1)).sum())
    want = np.stack([_ds_sum_grad_ref(X[k], I[k], 1) for k in range(B)])
    np.testing.assert_allclose(np.asarray(xtrace.jit(g)(X)), want, rtol=1e-6)


def test_grad_through_batched_dynamic_update_slice():
    # sum(dus(x, u) * x): d/dx = dus(x, u) + x outside the window; d/du = x in the window
    def f(x, u, i):
        return (lax.dynamic_update_slice(x, u, [i, np.int32(2)]) * x).sum()

    gx, gu = xtrace.jit(xtrace.vmap(xtrace.grad(f, argnums=(0, 1))))(X, U, I)
    for k in range(B):
        r, c = _clamped([I[k], 2], [2, 3], (5, 6))
        inside = np.zeros((5, 6), bool)
        inside[r:r + 2, c:c + 3] = True
        want_x = _dus(X[k], U[k], [I[k], 2]) + np.where(inside, 0, X[k])
        np.testing.assert_allclose(np.asarray(gx[k]), want_x, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(gu[k]), X[k][r:r + 2, c:c + 3], rtol=1e-6)
