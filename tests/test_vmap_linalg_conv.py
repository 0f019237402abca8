"""vmap of dot_general and conv_general_dilated (and the xtrace.numpy products built on them)
against NumPy computed example by example; jaxpr checks that batching adds no work (one
dot_general per matmul, the unbatched operand used as it is)."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases.conv import np_conv
from tests.primitive_cases.linalg import _dot_ref

RNG = np.random.default_rng(0)
B = 3


def _rand(*shape, dtype=np.float32):
    return RNG.uniform(-1, 1, shape).astype(dtype)


def _batched(x, ax):
    """``B`` different examples shaped like ``x`` stacked on axis ``ax`` (``x`` if None)."""
    if ax is None:
        return x
    return np.stack([x * (k + 1) - 0.25 * k for k in range(B)], axis=ax)


def _per_example(ref, args, in_axes, out_axis=0):
    outs = [ref(*[a if ax is None else np.take(a, k, axis=ax) for a, ax in zip(args, in_axes)])
            for k in range(B)]
    return np.stack(outs, axis=out_axis)


def _vmap_check(fn, ref, examples, in_axes, out_axis=0, tol=1e-5):
    args = [_batched(x, ax) for x, ax in zip(examples, in_axes)]
    got = xtrace.jit(xtrace.vmap(fn, in_axes=in_axes, out_axes=out_axis))(*args)
    want = _per_example(ref, args, in_axes, out_axis)
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol)


def _eqns(f, *args):
    return xtrace.make_jaxpr(f)(*args).jaxpr


def _count(jaxpr, name):
    return sum(e.primitive.name == name for e in jaxpr.eqns)


# ---------------------------------------------------------------------------------------------
# dot_general

_DNS = [  # lhs shape, rhs shape, dimension numbers
    ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),
    ((2, 3, 4), (3, 4, 5), (((1, 2), (0, 1)), ((), ()))),
    ((2,), (3,), (((), ()), ((), ()))),
    ((4,), (4,), (((0,), (0,)), ((), ()))),
]
_AXES = [(0, 0), (1, -1), (None, 0), (None, -1), (0, None), (-1, None), (1, None), (None, 1)]


@pytest.mark.parametrize("ls,rs,dn", _DNS)
def test_dot_general_in_axes(ls, rs, dn):
    lhs, rhs = _rand(*ls), _rand(*rs)
    fn = lambda a, b: lax.dot_general(a, b, dn)
    ref = lambda a, b: _dot_ref(a, b, dn)
    for k, in_axes in enumerate(_AXES):
        _vmap_check(fn, ref, [lhs, rhs], in_axes, out_axis=-(k % 2))


def test_dot_general_keeps_batch_dim_in_place():
    """One operand batched: the vmap dimension is a free dimension of the dot_general, so
    the jaxpr is the dot_general alone; both batched: a new leading batch dimension."""
    W, X = xnp.asarray(_rand(5, 4)), xnp.asarray(_rand(4, B))
    mm = lambda w, x: lax.dot_general(w, x, (((1,), (0,)), ((), ())))
    jx = _eqns(xtrace.vmap(mm, in_axes=(None, 1), out_axes=1), W, X)
    assert [e.primitive.name for e in jx.eqns] == ["dot_general"]
    jx = _eqns(xtrace.vmap(mm, in_axes=(0, None), out_axes=0), xnp.asarray(_rand(B, 5, 4)),
               xnp.asarray(_rand(4, 2)))
    assert [e.primitive.name for e in jx.eqns] == ["dot_general"]
    jx = _eqns(xtrace.vmap(mm, in_axes=(2, 1), out_axes=0), xnp.asarray(_rand(5, 4, B)),
               X)
    assert [e.primitive.name for e in jx.eqns] == ["dot_general"]
    assert jx.eqns[0].params["dimension_numbers"] == (((1,), (0,)), ((2,), (1,)))


def test_dot_general_params_preserved():
    a, b = _rand(B, 3, 4).astype(np.float16), _rand(4, 2).astype(np.float16)
    fn = lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())), precision="highest",
                                      preferred_element_type=np.float32)
    jx = _eqns(xtrace.vmap(fn, in_axes=(0, None)), xnp.asarray(a), xnp.asarray(b))
    dot, = [e for e in jx.eqns if e.primitive.name == "dot_general"]
    assert dot.params["precision"] == ("HIGHEST", "HIGHEST")
    assert np.dtype(dot.params["preferred_element_type"]) == np.float32
    got = xtrace.vmap(fn, in_axes=(0, None))(a, b)
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_allclose(got, np.einsum("bij,jk->bik", a.astype(np.float64),
                                              b.astype(np.float64)), rtol=1e-5, atol=1e-5)


def test_nested_vmap_dot_general():
    a, b = _rand(2, B, 3, 4), _rand(B, 4, 5)
    mm = lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())))
    f = xtrace.vmap(xtrace.vmap(mm, in_axes=(0, 0)), in_axes=(0, None))
    np.testing.assert_allclose(f(a, b), np.einsum("nbij,bjk->nbik", a, b), rtol=1e-5,
                               atol=1e-5)


# ---------------------------------------------------------------------------------------------
# xtrace.numpy products under vmap


_NP_CASES = [  # name, function (same for xnp and np), example shapes, in_axes
    ("matmul_mv", lambda m, a, b: m.matmul(a, b), [(5, 4), (4,)], [(None, 0), (0, 0), (0, None)]),
    ("matmul_mm", lambda m, a, b: m.matmul(a, b), [(3, 4), (4, 2)],
     [(None, 0), (1, None), (0, 1), (-1, -1)]),
    ("matmul_vm", lambda m, a, b: a @ b, [(4,), (4, 3)], [(0, None), (None, 2), (1, 0)]),
    ("matmul_bcast", lambda m, a, b: m.matmul(a, b), [(2, 3, 4), (4, 5)],
     [(None, 0), (1, None), (0, 0)]),
    ("dot_vv", lambda m, a, b: m.dot(a, b), [(4,), (4,)], [(0, 0), (None, 0), (1, None)]),
    ("dot_nd", lambda m, a, b: m.dot(a, b), [(2, 3, 4), (5, 4, 2)], [(0, None), (None, 2)]),
    ("einsum_mm", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)],
     [(0, 0), (None, 1), (2, None)]),
    ("einsum_outer", lambda m, a, b: m.einsum("i,j->ij", a, b), [(3,), (2,)],
     [(0, 0), (None, 0), (1, None)]),
    ("einsum_batch", lambda m, a, b: m.einsum("bij,bjk->bki", a, b), [(2, 3, 4), (2, 4, 5)],
     [(0, 0), (1, None), (None, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes,axes_list", _NP_CASES, ids=[c[0] for c in _NP_CASES])
def test_numpy_products(name, fn, shapes, axes_list):
    examples = [_rand(*s) for s in shapes]
    for in_axes in axes_list:
        _vmap_check(lambda a, b: fn(xnp, a, b),
                    lambda a, b: fn(np, a.astype(np.float64), b.astype(np.float64)),
                    examples, in_axes)


def test_matvec_is_one_matmul():
    """vmap(W @ x) over x: a single dot_general taking W itself (no transpose or copy of W)."""
    W, X = xnp.asarray(_rand(5, 4)), xnp.asarray(_rand(B, 4))
    jx = _eqns(xtrace.vmap(lambda w, x: w @ x, in_axes=(None, 0)), W, X)
    dots = [e for e in jx.eqns if e.primitive.name == "dot_general"]
    assert len(dots) == 1
    assert dots[0].inputs[0] is jx.invars[0]
    assert not any(e.primitive.name == "transpose" and jx.invars[0] in e.inputs
                   for e in jx.eqns)
    np.testing.assert_allclose(xtrace.vmap(lambda w, x: w @ x, in_axes=(None, 0))(W, X),
                               np.asarray(X) @ np.asarray(W).T, rtol=1e-5, atol=1e-5)


def _mlp_params():
    return [(_rand(8, 4), _rand(8)), (_rand(6, 8), _rand(6)), (_rand(3, 6), _rand(3))]


def _predict(params, x, m=xnp):
    for W, b in params[:-1]:
        x = m.tanh(W @ x + b)
    W, b = params[-1]
    return W @ x + b


def test_vmap_mlp_one_dot_per_layer():
    params, xs = _mlp_params(), _rand(B, 4)
    f = xtrace.vmap(_predict, in_axes=(None, 0))
    jx = _eqns(f, params, xs)
    assert _count(jx, "dot_general") == len(params)
    ws = set(jx.invars[0:2 * len(params):2])
    assert all(e.inputs[0] in ws for e in jx.eqns if e.primitive.name == "dot_general")
    want = np.stack([_predict(params, x.astype(np.float64), np) for x in xs])
    np.testing.assert_allclose(xtrace.jit(f)(params, xs), want, rtol=1e-5, atol=1e-5)


def test_per_example_gradients():
    """vmap(grad) of a linear layer: dW per example is an outer product, batched as one
    dot_general."""
    W, b = _rand(5, 4), _rand(5)
    xs, ys = _rand(B, 4), _rand(B, 5)

    def loss(params, x, y):
        W, b = params
        r = W @ x + b - y
        return xnp.sum(r * r)

    f = xtrace.vmap(xtrace.grad(loss), in_axes=(None, 0, 0))
    dW, db = xtrace.jit(f)((W, b), xs, ys)
    r = np.einsum("ij,bj->bi", W.astype(np.float64), xs) + b - ys
    np.testing.assert_allclose(dW, 2 * np.einsum("bi,bj->bij", r, xs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(db, 2 * r, rtol=1e-5, atol=1e-5)
    assert _count(_eqns(f, (W, b), xs, ys), "dot_general") == 2  # forward, and dW


# ---------------------------------------------------------------------------------------------
# conv_general_dilated

_CONVS = [  # name, lhs shape, rhs shape, strides, padding, keyword arguments
    ("nchw", (2, 3, 6, 5), (4, 3, 3, 2), (1, 1), "VALID", {}),
    ("nhwc_strided", (2, 6, 5, 3), (3, 2, 3, 4), (2, 1), "SAME",
     dict(dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ("mixed_layout_dilated", (1, 5, 3, 6), (3, 3, 4, 2), (1, 1), [(1, 0), (2, 1)],
     dict(dimension_numbers=("NWCH", "IHOW", "CWNH"), lhs_dilation=(2, 1),
          rhs_dilation=(1, 2))),
    ("feature_groups", (1, 6, 5, 4), (4, 3, 2, 2), (1, 1), "VALID",
     dict(feature_group_count=2)),
    ("depthwise_nhwc", (2, 5, 5, 4), (3, 3, 1, 8), (1, 1), "SAME",
     dict(feature_group_count=4, dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ("batch_groups", (4, 3, 5, 5), (6, 3, 2, 2), (1, 1), "VALID", dict(batch_group_count=2)),
    ("batch_groups_nhwc", (6, 4, 4, 2), (2, 2, 2, 6), (1, 1), "SAME",
     dict(batch_group_count=3, dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ("conv1d", (2, 3, 9), (4, 3, 3), (2,), [(1, 2)], {}),
]
_CONV_AXES = [(0, None), (None, 0), (0, 0), (-1, None), (None, 2), (2, -1)]


def _np_conv_fn(strides, padding, kw):
    np_kw = {k: v for k, v in kw.items() if k != "dimension_numbers"}
    if "dimension_numbers" in kw:
        np_kw["specs"] = kw["dimension_numbers"]
    return lambda a, b: np_conv(a.astype(np.float64), b.astype(np.float64), strides, padding,
                                **np_kw)


@pytest.mark.parametrize("name,ls,rs,strides,padding,kw", _CONVS, ids=[c[0] for c in _CONVS])
def test_conv_in_axes(name, ls, rs, strides, padding, kw):
    lhs, rhs = _rand(*ls), _rand(*rs)
    fn = lambda a, b: lax.conv_general_dilated(a, b, strides, padding, **kw)
    ref = _np_conv_fn(strides, padding, kw)
    for in_axes in _CONV_AXES:
        _vmap_check(fn, ref, [lhs, rhs], in_axes, out_axis=-1 if in_axes[0] == 2 else 0,
                    tol=1e-4)


def test_conv_one_conv_no_loop():
    lhs, rhs = _rand(B, 2, 3, 6, 5), _rand(B, 4, 3, 3, 2)
    fn = lambda a, b: lax.conv_general_dilated(a, b, (1, 1), "SAME")
    for in_axes in [(0, None), (None, 0), (0, 0)]:
        args = [xnp.asarray(x if ax is not None else x[0]) for x, ax in zip((lhs, rhs), in_axes)]
        jx = _eqns(xtrace.vmap(fn, in_axes=in_axes), *args)
        assert _count(jx, "conv_general_dilated") == 1


def test_conv_empty_batch():
    fn = lambda a, b: lax.conv_general_dilated(a, b, (1, 1), "VALID", feature_group_count=2)
    lhs, rhs = np.zeros((0, 1, 4, 5, 5), np.float32), _rand(0, 4, 2, 2, 2)
    for in_axes in [(0, None), (None, 0), (0, 0)]:
        args = [x if ax is not None else x[0] if len(x) else np.zeros(x.shape[1:], x.dtype)
                for x, ax in zip((lhs, rhs), in_axes)]
        out = xtrace.vmap(fn, in_axes=in_axes, axis_size=0)(*args)
        assert np.shape(out) == (0, 1, 4, 4, 4)


def test_vmap_grad_conv():
    """Per-example gradients of a convolution layer (both operands' transposes batched)."""
    w, xs = _rand(4, 3, 3, 3), _rand(B, 1, 3, 6, 6)

    def loss(w, x):
        return xnp.sum(xnp.tanh(lax.conv_general_dilated(x, w, (1, 1), "SAME")))

    gw, gx = xtrace.jit(xtrace.vmap(xtrace.grad(loss, argnums=(0, 1)), in_axes=(None, 0)))(
        w, xs)
    eps = 1e-3
    for k in range(B):  # a directional derivative per example, by central differences in f64
        dw, dx = _rand(*w.shape).astype(np.float64), _rand(*xs.shape[1:]).astype(np.float64)
        f = lambda t: np.sum(np.tanh(np_conv(xs[k] + t * dx, w + t * dw, (1, 1), "SAME")))
        fd = (f(eps) - f(-eps)) / (2 * eps)
        got = np.sum(np.asarray(gw[k], np.float64) * dw) + np.sum(
            np.asarray(gx[k], np.float64) * dx)
        np.testing.assert_allclose(got, fd, rtol=1e-3, atol=1e-3)
