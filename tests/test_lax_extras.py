"""The jax.lax functions beyond the primitives: wrappers, shape helpers, generic reductions,
scans and solvers, against NumPy and finite differences."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax

R = np.random.default_rng(0)


def _fd_grad(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function of a float64 array."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return g


# ---------------------------------------------------------------------------------------------
# full / full_like / empty


def test_full_dtypes_and_weak_types():
    a = lax.full((2, 3), 2.5)
    np.testing.assert_array_equal(a, np.full((2, 3), 2.5, np.float32))
    assert a.dtype == np.float32 and a.aval.weak_type
    b = lax.full(4, 3, np.int8)
    assert b.dtype == np.int8 and not b.aval.weak_type and b.shape == (4,)
    assert lax.full((2,), True).dtype == np.bool_
    c = lax.full_like(xnp.ones((2, 2), np.int8), 2.7)
    np.testing.assert_array_equal(c, np.full((2, 2), 2, np.int8))
    d = lax.full_like(np.zeros(3, np.float32), 1, shape=(2, 1), dtype=np.int32)
    assert d.shape == (2, 1) and d.dtype == np.int32
    assert lax.full_like(1.0, 2).aval.weak_type
    e = lax.empty((2, 3), np.float32)
    assert e.shape == (2, 3) and e.dtype == np.float32
    with pytest.raises(TypeError, match="scalar fill_value"):
        lax.full((2,), np.ones(2))
    with pytest.raises(ValueError, match="negative"):
        lax.full((-1,), 0.0)


def test_full_under_jit_with_traced_fill():
    f = xtrace.jit(lambda v: lax.full((2, 2), v, np.float32))
    np.testing.assert_array_equal(f(np.int32(3)), np.full((2, 2), 3.0, np.float32))


# ---------------------------------------------------------------------------------------------
# elementwise: reciprocal, mulhi, reduce_precision


def test_reciprocal():
    x = np.array([0.5, -4.0, 3.0], np.float32)
    np.testing.assert_allclose(lax.reciprocal(x), 1 / x, rtol=1e-7)
    np.testing.assert_allclose(xtrace.grad(lambda v: lax.reciprocal(v).sum())(x), -1 / x ** 2,
                               rtol=1e-6)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16, np.int32, np.uint32])
def test_mulhi(dt):
    info = np.iinfo(dt)
    bits = info.bits
    x = R.integers(info.min, info.max, 64, endpoint=True).astype(dt)
    y = R.integers(info.min, info.max, 64, endpoint=True).astype(dt)
    x[:4] = [info.min, info.max, info.min, 0]
    y[:4] = [info.min, info.max, info.max, info.max]
    # The exact product in Python ints, floor-shifted (the two's-complement high half).
    want = np.array([(int(a) * int(b)) >> bits for a, b in zip(x, y)]).astype(np.int64)
    want = (want % (1 << bits)).astype(np.uint64).astype(f"u{bits // 8}").view(dt)
    np.testing.assert_array_equal(lax.mulhi(x, y), want)
    np.testing.assert_array_equal(xtrace.jit(lax.mulhi)(x, y), want)


def test_mulhi_64bit_and_errors():
    with xtrace.enable_x64():
        x = np.array([-(2 ** 63), 2 ** 63 - 1, -12345678901234, 3], np.int64)
        y = np.array([2 ** 63 - 1, 2 ** 63 - 1, 98765432109, -1], np.int64)
        want = np.array([(int(a) * int(b)) >> 64 for a, b in zip(x, y)], np.int64)
        np.testing.assert_array_equal(lax.mulhi(x, y), want)
    with pytest.raises(TypeError, match="integer"):
        lax.mulhi(np.float32(1), np.float32(2))


def test_reduce_precision_values_grad_vmap():
    x = np.array([1.0001, 3.14159, 70000.0, 1e-9, -2.5], np.float32)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(lax.reduce_precision(x, 5, 10),
                                      x.astype(np.float16).astype(np.float32))
    with xtrace.enable_x64():
        x64 = R.standard_normal(5)
        np.testing.assert_array_equal(lax.reduce_precision(x64, 8, 23),
                                      x64.astype(np.float32).astype(np.float64))
    g = xtrace.grad(lambda v: lax.reduce_precision(v * 3.0, 8, 7).sum())(np.ones(3, np.float32))
    np.testing.assert_array_equal(g, np.full(3, 3.0, np.float32))
    v = xtrace.vmap(lambda r: lax.reduce_precision(r, 5, 2))(x[None].repeat(2, 0))
    assert v.shape == (2, 5)
    with pytest.raises(TypeError, match="reduce_precision"):
        lax.reduce_precision(np.int32(3), 5, 10)
    with pytest.raises(ValueError, match="exponent_bits"):
        lax.reduce_precision(np.float32(3), 0, 10)


# ---------------------------------------------------------------------------------------------
# structural wrappers


def test_tile_split_stack_unstack_collapse():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.testing.assert_array_equal(lax.tile(x, (2, 3)), np.tile(x, (2, 3)))
    with pytest.raises(TypeError, match="reps length"):
        lax.tile(x, (2,))
    parts = lax.split(x, (1, 0, 2), axis=1)
    for p, w in zip(parts, np.split(x, [1, 1], axis=1)):
        np.testing.assert_array_equal(p, w)
    with pytest.raises(ValueError, match="Sum of sizes"):
        lax.split(x, (1, 1), axis=1)
    np.testing.assert_array_equal(lax.stack([x, x + 1], axis=-1), np.stack([x, x + 1], -1))
    us = lax.unstack(x, axis=1)
    assert isinstance(us, tuple) and len(us) == 3
    np.testing.assert_array_equal(us[2], x[:, 2])
    y = np.zeros((2, 3, 4, 5))
    assert lax.collapse(y, 1).shape == (2, 60)
    assert lax.collapse(y, 1, 3).shape == (2, 12, 5)
    assert lax.collapse(y, -2, -1).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match="collapse"):
        lax.collapse(y, 3, 1)


def test_broadcast_helpers():
    assert lax.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert lax.broadcast_shapes((1, 4), (5, 1), (4,)) == (5, 4)
    with pytest.raises(ValueError, match="Incompatible shapes"):
        lax.broadcast_shapes((2, 3), (4,))
    assert lax.broadcast_to_rank(np.ones(3), 3).shape == (1, 1, 3)
    np.testing.assert_array_equal(lax.broadcast_like(np.arange(3.0), np.zeros((2, 3))),
                                  np.broadcast_to(np.arange(3.0), (2, 3)))


def test_dynamic_in_dim_helpers_jit_grad_vmap():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    f = xtrace.jit(lambda a, i: lax.dynamic_slice_in_dim(a, i, 2, axis=1))
    np.testing.assert_array_equal(f(x, 1), x[:, 1:3])
    np.testing.assert_array_equal(f(x, -2), x[:, 3:5])  # counts from the end once
    np.testing.assert_array_equal(f(x, 9), x[:, 3:5])   # clamped
    with pytest.raises(ValueError, match="allow_negative_indices=False"):  # as JAX
        lax.dynamic_slice_in_dim(x, -2, 2, 1, allow_negative_indices=False)
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, 2, 0, keepdims=False), x[2])
    assert lax.dynamic_index_in_dim(x, 2, 1).shape == (4, 1)
    out = lax.dynamic_update_slice_in_dim(x, np.zeros((4, 2), np.float32), 3, axis=1)
    want = x.copy()
    want[:, 3:] = 0
    np.testing.assert_array_equal(out, want)
    out = lax.dynamic_update_index_in_dim(x, np.ones(5, np.float32), -1, 0)
    want = x.copy()
    want[-1] = 1
    np.testing.assert_array_equal(out, want)
    g = xtrace.grad(lambda a: lax.dynamic_index_in_dim(a, 1, 1, False).sum())(x)
    want = np.zeros_like(x)
    want[:, 1] = 1
    np.testing.assert_array_equal(g, want)
    v = xtrace.vmap(lambda a, i: lax.dynamic_index_in_dim(a, i, 0, False))(
        np.stack([x, -x]), np.array([0, 3], np.int32))
    np.testing.assert_array_equal(v, np.stack([x[0], -x[3]]))


# ---------------------------------------------------------------------------------------------
# indexing and contraction wrappers


def test_index_take_and_scatter_sub():
    src = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    i0, i2 = np.array([0, 1, -1]), np.array([3, 5, 0])
    got = lax.index_take(src, (i0, i2), (0, 2))
    np.testing.assert_array_equal(got, src[i0 % 2][np.arange(3), :, i2 % 4])
    dn = lax.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    x = np.ones((3, 2), np.float32)
    idx = np.array([[2], [0], [2]], np.int32)
    upd = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    want = x.copy()
    np.subtract.at(want, idx[:, 0], upd)
    np.testing.assert_array_equal(lax.scatter_sub(x, idx, upd, dn), want)
    g = xtrace.grad(lambda u: lax.scatter_sub(x, idx, u, dn).sum())(upd)
    np.testing.assert_array_equal(g, -np.ones_like(upd))
    xu = np.full((3, 2), 10, np.uint8)
    np.testing.assert_array_equal(lax.scatter_sub(xu, idx, upd.astype(np.uint8), dn),
                                  (xu.astype(int) - (x - want)).astype(np.uint8))


def test_batch_matmul():
    a, b = R.standard_normal((2, 3, 4, 5)), R.standard_normal((2, 3, 5, 2))
    np.testing.assert_allclose(lax.batch_matmul(a.astype(np.float32), b.astype(np.float32)),
                               a @ b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="same ndim"):
        lax.batch_matmul(np.ones((2, 3, 4)), np.ones((4, 5)))


# ---------------------------------------------------------------------------------------------
# convolution shape helpers, conv_transpose, patches


def test_conv_shape_helpers():
    assert lax.padtype_to_pads((5, 6), (3, 3), (2, 1), "SAME") == [(1, 1), (1, 1)]
    assert lax.conv_general_permutations(("NHWC", "HWIO", "NHWC")) == (
        (0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_shape_tuple((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), "SAME") == (1, 3, 5, 5)
    assert lax.conv_shape_tuple((4, 2, 7, 5), (3, 2, 3, 2), (2, 1), [(1, 0), (0, 0)], 2) == (
        2, 3, 3, 4)
    dn = ("NHWC", "HWIO", "NHWC")
    assert lax.conv_general_shape_tuple((1, 5, 5, 2), (3, 3, 2, 4), (2, 2), "VALID", dn) == (
        1, 2, 2, 4)
    assert lax.conv_transpose_shape_tuple((1, 5, 5, 2), (3, 3, 2, 4), (2, 2), "SAME", dn) == (
        1, 10, 10, 4)
    with pytest.raises(TypeError, match="explicit pads"):
        lax.conv_shape_tuple((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), [(0, 0)])


def _np_conv_transpose_1d(x, k, stride, pad_lo, pad_hi):
    """NumPy reference: dilate x by the stride, pad, correlate with k (NWC / WIO)."""
    n, w, c = x.shape
    kw, _, o = k.shape
    dil = np.zeros((n, (w - 1) * stride + 1, c))
    dil[:, ::stride] = x
    dil = np.pad(dil, ((0, 0), (pad_lo, pad_hi), (0, 0)))
    out_w = dil.shape[1] - kw + 1
    return np.stack([np.einsum("nkc,kco->no", dil[:, i:i + kw], k) for i in range(out_w)], 1)


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((1, 2),)])
def test_conv_transpose_1d(padding):
    x, k = R.standard_normal((2, 5, 3)), R.standard_normal((3, 3, 4))
    out = lax.conv_transpose(x.astype(np.float32), k.astype(np.float32), (2,), padding)
    lo, hi = {"SAME": (2, 1), "VALID": (2, 2)}.get(padding, (1, 2))
    np.testing.assert_allclose(out, _np_conv_transpose_1d(x, k, 2, lo, hi), rtol=1e-5,
                               atol=1e-5)


def test_conv_transpose_kernel_is_the_conv_gradient():
    # transpose_kernel=True with consistent padding is the VJP of the forward convolution.
    x = R.standard_normal((1, 6, 7, 2)).astype(np.float32)
    k = R.standard_normal((3, 3, 2, 4)).astype(np.float32)
    dn = ("NHWC", "HWIO", "NHWC")
    fwd = lambda v: lax.conv_general_dilated(v, k, (2, 2), [(1, 1), (1, 1)],
                                             dimension_numbers=dn)
    y, vjp = xtrace.vjp(fwd, x)
    ct = R.standard_normal(y.shape).astype(np.float32)
    want, = vjp(xnp.asarray(ct))
    got = lax.conv_transpose(ct, k, (2, 2), [(1, 1), (1, 1)], dimension_numbers=dn,
                             transpose_kernel=True, use_consistent_padding=True)
    # the transposed convolution may be one row/column short where the stride skipped it
    got = np.asarray(got)
    np.testing.assert_allclose(got, np.asarray(want)[:, :got.shape[1], :got.shape[2]],
                               rtol=1e-4, atol=1e-4)


def test_conv_general_dilated_patches():
    x = R.standard_normal((2, 3, 5, 4)).astype(np.float32)  # NCHW
    p = lax.conv_general_dilated_patches(x, (2, 3), (1, 1), "VALID")
    assert p.shape == (2, 3 * 6, 4, 2)
    want = np.stack([x[:, :, i:i + 2, j:j + 3].reshape(2, -1)
                     for i in range(4) for j in range(2)], -1).reshape(2, 18, 4, 2)
    np.testing.assert_allclose(p, want, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# cumlogsumexp, optimization_barrier, axis_size, dtype


def test_cumlogsumexp_grad_vmap():
    x = R.standard_normal((3, 5))
    with xtrace.enable_x64():
        g = xtrace.grad(lambda v: (lax.cumlogsumexp(v, 1, reverse=True) ** 2).sum())(x)
        fd = _fd_grad(lambda v: (np.logaddexp.accumulate(v[:, ::-1], 1)[:, ::-1] ** 2).sum(), x)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
    v = xtrace.vmap(lambda r: lax.cumlogsumexp(r), in_axes=1)(x.astype(np.float32))
    np.testing.assert_allclose(v, np.logaddexp.accumulate(x, 0).T, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="cumlogsumexp"):
        lax.cumlogsumexp(np.arange(3))


def test_optimization_barrier():
    tree = {"a": np.arange(3.0, dtype=np.float32), "b": (np.int32(4),)}
    out = xtrace.jit(lax.optimization_barrier)(tree)
    np.testing.assert_array_equal(out["a"], tree["a"])
    assert int(out["b"][0]) == 4
    text = xtrace.jit(lambda v: lax.optimization_barrier(v * 2)).lower(
        np.ones(2, np.float32)).as_text()
    assert "stablehlo.optimization_barrier" in text
    g = xtrace.grad(lambda v: (lax.optimization_barrier(v) ** 2).sum())(np.arange(3.0))
    np.testing.assert_allclose(g, 2 * np.arange(3.0))


def test_axis_size_and_dtype():
    out = xtrace.vmap(lambda v: v * lax.axis_size("i"), axis_name="i")(np.ones(3, np.float32))
    np.testing.assert_array_equal(out, np.full(3, 3.0))
    nested = xtrace.vmap(xtrace.vmap(lambda v: v + lax.axis_size(("i", "j")), axis_name="j"),
                         axis_name="i")(np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(nested, np.full((2, 3), 6.0))
    with pytest.raises(NameError, match="unbound axis name"):
        lax.axis_size("nope")
    assert lax.dtype(3.0) == np.float32 and lax.dtype(1) == np.int32
    assert lax.dtype(np.float64) == np.float32
    assert lax.dtype(xnp.ones(2, np.int8)) == np.int8
    with xtrace.enable_x64():
        assert lax.dtype(np.zeros(2)) == np.float64


# ---------------------------------------------------------------------------------------------
# reduce and reduce_window with a computation

from tests.primitive_cases.windowed import np_reduce_window  # noqa: E402


def _prims(f, *args):
    return {e.primitive.name for e in xtrace.make_jaxpr(f)(*args).jaxpr.eqns}


def test_reduce_monoids_become_specific_primitives():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert _prims(lambda v: lax.reduce(v, 0.0, lax.add, (0,)), x) == {"reduce_sum"}
    assert _prims(lambda v: lax.reduce(v, -np.inf, lax.max, (1,)), x) == {"reduce_max"}
    assert _prims(lambda v: lax.reduce(v, 1.0, lax.mul, (1,)), x) == {"reduce_prod"}
    assert _prims(lambda v: lax.reduce(v, 2.0, lax.add, (0,)), x) == {"reduce"}
    assert _prims(lambda v: lax.reduce(v, 0.0, lambda a, b: a + b, (0,)), x) == {"reduce"}
    i = np.arange(6, dtype=np.int32)
    assert _prims(lambda v: lax.reduce(v, np.int32(-1), lax.bitwise_and, (0,)), i) == {
        "reduce_and"}
    np.testing.assert_array_equal(lax.reduce(x, 0.0, lax.add, (0, 1)), x.sum())
    out = lax.reduce(i, 0, lax.add, (0,))
    assert out.dtype == np.int32 and int(out) == 15


def test_reduce_general_values_pytree_jit_vmap():
    x = R.standard_normal((4, 6)).astype(np.float32)
    idx = np.broadcast_to(np.arange(6, dtype=np.int32), (4, 6))

    def argmax(v, i):
        def pick(a, b):
            take = lax.bitwise_or(lax.gt(a[0], b[0]),
                                  lax.bitwise_and(lax.eq(a[0], b[0]), lax.lt(a[1], b[1])))
            return lax.select(take, a[0], b[0]), lax.select(take, a[1], b[1])
        return lax.reduce((v, i), (-np.inf, 0), pick, (1,))

    for f in (argmax, xtrace.jit(argmax)):
        m, a = f(x, idx)
        np.testing.assert_array_equal(m, x.max(1))
        np.testing.assert_array_equal(a, x.argmax(1))
    m, a = xtrace.vmap(argmax, in_axes=(2, None))(np.stack([x, -x], -1), idx)
    np.testing.assert_array_equal(m, np.stack([x.max(1), (-x).max(1)]))
    np.testing.assert_array_equal(a, np.stack([x.argmax(1), (-x).argmax(1)]))
    dict_out = lax.reduce({"s": x}, {"s": 0.0}, lambda a, b: {"s": a["s"] + b["s"]}, (0,))
    np.testing.assert_allclose(dict_out["s"], x.sum(0), rtol=1e-5)


def test_reduce_general_grad_and_errors():
    with xtrace.enable_x64():
        x = R.uniform(0.5, 1.5, (3, 4))
        f = lambda v: (lax.reduce(v, 1.0, lambda a, b: a * b, (1,)) ** 2).sum()
        np.testing.assert_allclose(xtrace.grad(f)(x),
                                   _fd_grad(lambda v: (v.prod(1) ** 2).sum(), x), rtol=1e-6)
    with pytest.raises(ValueError, match="tree structure"):
        lax.reduce(np.ones(3), (0.0, 0.0), lambda a, b: a + b, (0,))
    with pytest.raises(TypeError, match="must return"):
        lax.reduce(np.ones(3, np.float32), 0.0, lambda a, b: (a, b), (0,))
    with pytest.raises(ValueError, match="out of bounds"):
        lax.reduce(np.ones(3, np.float32), 0.0, lambda a, b: a + b, (1,))
    y = np.ones(3, np.float32)
    with pytest.raises(NotImplementedError, match="closes over a traced value"):
        xtrace.jit(lambda v: lax.reduce(y, 0.0, lambda a, b: a + b * v[0], (0,)))(y)


@pytest.mark.parametrize("comp,ufunc,init", [(lax.max, np.maximum, -np.inf),
                                             (lax.min, np.minimum, np.inf),
                                             (lax.add, np.add, 0.0),
                                             (lambda a, b: lax.max(a, b), np.maximum, -np.inf)])
def test_reduce_window_values(comp, ufunc, init):
    x = R.standard_normal((2, 7, 6)).astype(np.float32)
    kw = dict(window_dimensions=(1, 3, 2), window_strides=(1, 2, 1), padding="SAME")
    out = xtrace.jit(lambda v: lax.reduce_window(v, init, comp, **kw))(x)
    pads = lax.padtype_to_pads(x.shape, (1, 3, 2), (1, 2, 1), "SAME")
    want = np_reduce_window(x, np.float32(init), ufunc, (1, 3, 2), (1, 2, 1), pads)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)  # window sums may cancel
    assert out.shape == lax.reduce_window_shape_tuple(x.shape, (1, 3, 2), (1, 2, 1), pads)
    dil = dict(window_dimensions=(1, 2, 2), window_strides=(1, 1, 2),
               padding=[(0, 0), (1, 1), (0, 1)], base_dilation=(1, 2, 1),
               window_dilation=(1, 1, 2))
    out = lax.reduce_window(x, init, comp, **dil)
    want = np_reduce_window(x, np.float32(init), ufunc, (1, 2, 2), (1, 1, 2),
                            dil["padding"], (1, 2, 1), (1, 1, 2))
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)


def test_reduce_window_grads_vs_finite_differences():
    x = R.permutation(35).reshape(5, 7) / 7.0  # distinct values: max/min are smooth here
    kw = dict(window_dimensions=(2, 3), window_strides=(2, 1), padding=[(1, 0), (1, 1)],
              window_dilation=(1, 2))
    w = R.standard_normal(lax.reduce_window_shape_tuple(
        x.shape, (2, 3), (2, 1), [(1, 0), (1, 1)], None, (1, 2)))
    with xtrace.enable_x64():
        for comp, ufunc, init in ((lax.max, np.maximum, -np.inf), (lax.min, np.minimum, np.inf),
                                  (lax.add, np.add, 0.0)):
            f = lambda v: (lax.reduce_window(v, init, comp, **kw) * w).sum()
            ref = lambda v: (np_reduce_window(v, init, ufunc, (2, 3), (2, 1),
                                              kw["padding"], None, (1, 2)) * w).sum()
            np.testing.assert_allclose(xtrace.grad(f)(x), _fd_grad(ref, x), rtol=1e-6,
                                       atol=1e-8)
        # the general primitive differentiates in forward mode only, as in JAX
        g = lambda v: lax.reduce_window(v, 0.0, lambda a, b: a + b * b, (2, 2))
        u = R.standard_normal(x.shape)
        _, t = xtrace.jvp(g, (x,), (u,))
        ref = lambda v: np_reduce_window(v * v, 0.0, np.add, (2, 2), (1, 1), [(0, 0)] * 2)
        np.testing.assert_allclose(t, (ref(x + 1e-6 * u) - ref(x - 1e-6 * u)) / 2e-6,
                                   rtol=1e-6)
        with pytest.raises(NotImplementedError, match="reduce_window"):
            xtrace.grad(lambda v: g(v).sum())(x)


def test_reduce_window_vmap_and_errors():
    x = R.standard_normal((3, 4, 5)).astype(np.float32)
    f = lambda v: lax.reduce_window(v, -np.inf, lax.max, (2, 2), (1, 2), "VALID")
    out = xtrace.vmap(f, in_axes=1)(x)
    want = np.stack([np_reduce_window(x[:, i], np.float32(-np.inf), np.maximum, (2, 2),
                                      (1, 2), [(0, 0)] * 2) for i in range(4)])
    np.testing.assert_array_equal(out, want)
    with pytest.raises(TypeError, match="window_dimensions"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2))
    with pytest.raises(TypeError, match="positive"):
        lax.reduce_window(x, 0.0, lax.add, (1, 0, 1))


# ---------------------------------------------------------------------------------------------
# associative_scan, custom_root, custom_linear_solve


@pytest.mark.parametrize("n", [1, 8, 7])
def test_associative_scan_values(n):
    x = R.standard_normal((3, n)).astype(np.float32)
    np.testing.assert_allclose(lax.associative_scan(lax.add, x, axis=1), np.cumsum(x, 1),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lax.associative_scan(lax.max, x, reverse=True, axis=-1),
                               np.maximum.accumulate(x[:, ::-1], 1)[:, ::-1])
    b = x > 0
    np.testing.assert_array_equal(lax.associative_scan(lax.bitwise_or, b, axis=1),
                                  np.logical_or.accumulate(b, 1))


def test_associative_scan_pytree_matmul_jit_grad_vmap():
    np.testing.assert_array_equal(lax.associative_scan(lax.add, np.arange(4), reverse=True),
                                  [6, 6, 5, 3])
    mats = R.standard_normal((5, 2, 2)).astype(np.float32)
    out = xtrace.jit(lambda m: lax.associative_scan(xnp.matmul, m))(mats)
    want = [mats[0]]
    for m in mats[1:]:
        want.append(want[-1] @ m)
    np.testing.assert_allclose(out, np.stack(want), rtol=1e-4, atol=1e-5)

    def affine(a, b):  # (scale, shift) pairs composed: the recurrence h = s * h + t
        return a[0] * b[0], a[1] * b[0] + b[1]
    s, t = R.uniform(0.5, 1.0, 6), R.standard_normal(6)
    _, h = lax.associative_scan(affine, (s.astype(np.float32), t.astype(np.float32)))
    ref = []
    acc = 0.0
    for si, ti in zip(s, t):
        acc = si * acc + ti
        ref.append(acc)
    np.testing.assert_allclose(h, ref, rtol=1e-5, atol=1e-6)
    with xtrace.enable_x64():
        f = lambda v: (lax.associative_scan(lax.mul, v) ** 2).sum()
        x = R.uniform(0.5, 1.5, 5)
        np.testing.assert_allclose(xtrace.grad(f)(x),
                                   _fd_grad(lambda v: (np.cumprod(v) ** 2).sum(), x), rtol=1e-6)
    v = xtrace.vmap(lambda r: lax.associative_scan(lax.add, r))(np.ones((2, 5), np.float32))
    np.testing.assert_array_equal(v, np.tile(np.arange(1.0, 6.0), (2, 1)))
    with pytest.raises(ValueError, match="same first dimension"):
        lax.associative_scan(lambda a, b: a, (np.ones(3), np.ones(4)))
    with pytest.raises(TypeError, match="callable"):
        lax.associative_scan(None, np.ones(3))


def _newton_sqrt(a):
    f = lambda x: x * x - a
    solve = lambda g, x0: lax.fori_loop(0, 25, lambda i, x: x - g(x) / (2 * x), x0)
    return lax.custom_root(f, xnp.ones_like(a), solve, lambda g, y: y / g(xnp.ones_like(y)))


def test_custom_root_implicit_gradients():
    a = np.array([2.0, 9.0, 0.25], np.float32)
    np.testing.assert_allclose(_newton_sqrt(a), np.sqrt(a), rtol=1e-6)
    g = xtrace.grad(lambda v: _newton_sqrt(v).sum())(a)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(a), rtol=1e-5)
    np.testing.assert_allclose(xtrace.jit(xtrace.grad(lambda v: _newton_sqrt(v).sum()))(a), g,
                               rtol=1e-6)
    _, t = xtrace.jvp(_newton_sqrt, (a,), (np.ones(3, np.float32),))
    np.testing.assert_allclose(t, 0.5 / np.sqrt(a), rtol=1e-5)
    v = xtrace.vmap(_newton_sqrt)(np.array([[4.0], [16.0]], np.float32))
    np.testing.assert_allclose(v, [[2.0], [4.0]], rtol=1e-6)
    # has_aux: solve returns (root, diagnostics); the aux value has no derivative
    out, aux = lax.custom_root(lambda x: x - 3.0, 0.0, lambda g, x0: (x0 - g(x0), 7),
                               lambda g, y: y / g(1.0), has_aux=True)
    assert float(out) == 3.0 and int(aux) == 7
    with pytest.raises(TypeError, match="structure"):
        lax.custom_root(lambda x: (x, x), 1.0, lambda g, x0: x0, lambda g, y: y)


def _spd(n, seed):
    m = np.random.default_rng(seed).standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def _cg(matvec, b, iters=12):
    """Conjugate gradients written with lax (exact after n steps for n x n SPD systems)."""
    def body(i, state):
        x, r, p, rr = state
        ap = matvec(p)
        alpha = rr / xnp.maximum(xnp.vdot(p, ap), 1e-30)
        x, r = x + alpha * p, r - alpha * ap
        rr_new = xnp.vdot(r, r)
        return x, r, r + (rr_new / xnp.maximum(rr, 1e-30)) * p, rr_new
    x0 = xnp.zeros_like(b)
    return lax.fori_loop(0, iters, body, (x0, b, b, xnp.vdot(b, b)))[0]


def test_custom_linear_solve_grads_through_the_system():
    with xtrace.enable_x64():
        a0, b0 = _spd(4, 1), R.standard_normal(4)

        def solve(a, b):
            return lax.custom_linear_solve(lambda x: a @ x, b, _cg, symmetric=True,
                                           transpose_solve=_cg)
        np.testing.assert_allclose(solve(a0, b0), np.linalg.solve(a0, b0), rtol=1e-9)
        w = R.standard_normal(4)
        f = lambda a, b: (solve(a, b) * w).sum()
        ref = lambda a, b: (np.linalg.solve(a, b) * w).sum()
        ga, gb = xtrace.grad(f, argnums=(0, 1))(a0, b0)
        np.testing.assert_allclose(gb, _fd_grad(lambda v: ref(a0, v), b0), rtol=1e-6)
        np.testing.assert_allclose(ga, _fd_grad(lambda v: ref(v, b0), a0), rtol=1e-5,
                                   atol=1e-8)
        _, t = xtrace.jvp(lambda b: solve(a0, b), (b0,), (w,))
        np.testing.assert_allclose(t, np.linalg.solve(a0, w), rtol=1e-9)
        bs = R.standard_normal((3, 4))
        np.testing.assert_allclose(xtrace.vmap(lambda b: solve(a0, b))(bs),
                                   np.linalg.solve(a0, bs.T).T, rtol=1e-9)
        # non-symmetric operator: vecmat is matvec's transpose, derived automatically
        m = a0 + np.triu(np.ones((4, 4)), 1)
        mi = np.linalg.inv(m)
        ns = lambda b: lax.custom_linear_solve(lambda x: m @ x, b, lambda mv, v: mi @ v,
                                               lambda vm, v: mi.T @ v)
        np.testing.assert_allclose(xtrace.grad(lambda b: (ns(b) * w).sum())(b0),
                                   np.linalg.solve(m.T, w), rtol=1e-9)
        x, aux = lax.custom_linear_solve(lambda x: a0 @ x, b0,
                                         lambda mv, v: (_cg(mv, v), xnp.float32(1.5)),
                                         has_aux=True)
        np.testing.assert_allclose(x, np.linalg.solve(a0, b0), rtol=1e-9)
        assert float(aux) == 1.5
    # symmetric without transpose_solve: solve is its own transpose (as in JAX)
    sym = lambda b: lax.custom_linear_solve(lambda x: 2.0 * x, b, lambda mv, v: v / 2.0,
                                            symmetric=True)
    np.testing.assert_allclose(xtrace.grad(lambda b: (sym(b) * b).sum())(np.ones(2, np.float32)),
                               [1.0, 1.0])
    no_t = lambda b: lax.custom_linear_solve(lambda x: 2.0 * x, b, lambda mv, v: v / 2.0)
    with pytest.raises(TypeError, match="transpose_solve required"):
        xtrace.grad(lambda b: no_t(b).sum())(np.ones(2, np.float32))


# ---------------------------------------------------------------------------------------------
# approx_max_k / approx_min_k, rng_bit_generator, platform_dependent, scatter_apply


def test_approx_max_min_k():
    x = np.array([[3.0, 1.0, 2.0, 1.0, np.nan, 0.0], [5.0, -1.0, 5.0, 2.0, 0.5, 9.0]],
                 np.float32)
    v, i = lax.approx_max_k(x, 3)
    np.testing.assert_array_equal(v, [[np.nan, 3.0, 2.0], [9.0, 5.0, 5.0]])
    np.testing.assert_array_equal(i, [[4, 0, 2], [5, 0, 2]])
    assert i.dtype == np.int32
    v, i = lax.approx_min_k(x, 2)
    np.testing.assert_array_equal(v, [[0.0, 1.0], [-1.0, 0.5]])
    np.testing.assert_array_equal(i, [[5, 1], [1, 4]])
    v, i = lax.approx_max_k(x[:, :4], 1, reduction_dimension=0)
    np.testing.assert_array_equal(i, [[1, 0, 1, 1]])
    assert lax.approx_max_k(x, 2, aggregate_to_topk=False)[0].shape == (2, 6)
    g = xtrace.grad(lambda a: lax.approx_min_k(a, 2)[0].sum())(np.array([3.0, 1.0, 2.0, 5.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="floating"):
        lax.approx_max_k(np.arange(4), 2)
    with pytest.raises(ValueError, match="k must be"):
        lax.approx_min_k(x, 7)


# Recorded from jax.lax.rng_bit_generator (JAX 0.10.2, CPU): XLA's bits, bit for bit.
_RBG = {
    (0, 0): ([1, 2, 5, 4], [[512747620, 1298009047, 1267190206],
                            [761827841, 1383286907, 1639995030]]),
    (0, 1): ([1, 2, 6, 4], [[1576285164, 740599976, 2436392515],
                            [2249660814, 2425682526, 1497962777]]),
    (1, 2): ([3735928559, 7, 2, 123456789], [[742933184, 2599944409, 2795465618],
                                              [675631665, 2058852157, 375255422]]),
}
_KEYS = [np.array([1, 2, 3, 4], np.uint32), np.array([0xDEADBEEF, 7, 0, 123456789], np.uint32)]


def test_rng_bit_generator_matches_jax():
    for (k, alg), (new_key, bits) in _RBG.items():
        nk, b = lax.rng_bit_generator(_KEYS[k], (2, 3), algorithm=lax.RandomAlgorithm(alg))
        np.testing.assert_array_equal(nk, new_key)
        np.testing.assert_array_equal(b, bits)
        assert b.dtype == np.uint32
    _, b8 = lax.rng_bit_generator(_KEYS[0], (5,), dtype=np.uint8)
    np.testing.assert_array_equal(b8, [100, 215, 190, 1, 123])
    _, b16 = xtrace.jit(lambda k: lax.rng_bit_generator(k, (3,), np.uint16))(_KEYS[0])
    np.testing.assert_array_equal(b16, [59492, 3031, 51646])
    with xtrace.enable_x64():
        _, b64 = lax.rng_bit_generator(_KEYS[0], (2,), dtype=np.uint64)
        np.testing.assert_array_equal(b64, np.array([5574906407289874532, 3272025663544478142],
                                                    np.uint64))
    nk, b = xtrace.vmap(lambda k: lax.rng_bit_generator(k, (2, 3)))(np.stack(_KEYS))
    np.testing.assert_array_equal(b[1], _RBG[(1, 2)][1])
    np.testing.assert_array_equal(nk[0], _RBG[(0, 0)][0])
    with pytest.raises(TypeError, match="unsupported dtype"):
        lax.rng_bit_generator(_KEYS[0], (2,), dtype=np.int32)
    with pytest.raises(TypeError, match="uint32"):
        lax.rng_bit_generator(np.zeros(2, np.uint32), (2,))


def test_platform_dependent():
    from xtrace._src import backend
    here = backend.default_backend()
    branches = {here: lambda x: x + 1.0}
    assert float(lax.platform_dependent(1.0, default=lambda x: x * 5.0, **branches)) == 2.0
    other = "tpu" if here != "tpu" else "cpu"
    assert float(xtrace.jit(lambda v: lax.platform_dependent(
        v, default=lambda x: x * 5.0, **{other: lambda x: x}))(1.0)) == 5.0
    with pytest.raises(NotImplementedError, match="no branch"):
        lax.platform_dependent(1.0, **{other: lambda x: x})
    with pytest.raises(ValueError, match="'cuda' or 'rocm'"):
        lax.platform_dependent(1.0, gpu=lambda x: x)


def test_scatter_apply():
    dn = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    x = np.arange(5.0, dtype=np.float32)
    idx = np.array([[1], [3], [1]], np.int32)
    f = lambda v: lax.scatter_apply(v, idx, lambda u: u * 2 + 1, dn, update_shape=(3,))
    want = np.array([0.0, 7.0, 2.0, 7.0, 4.0], np.float32)  # applied twice at index 1
    np.testing.assert_array_equal(f(x), want)
    np.testing.assert_array_equal(xtrace.jit(f)(x), want)
    np.testing.assert_array_equal(xtrace.vmap(f)(np.stack([x, x + 1])),
                                  np.stack([want, [1.0, 11.0, 3.0, 9.0, 5.0]]))
    far = np.array([[1], [7]], np.int32)
    np.testing.assert_array_equal(
        lax.scatter_apply(x, far, lambda u: -u, dn, update_shape=(2,)), [0, -1, 2, 3, 4])
    np.testing.assert_array_equal(
        lax.scatter_apply(x, far, lambda u: -u, dn, update_shape=(2,), mode="clip"),
        [0, -1, 2, 3, -4])
    np.testing.assert_array_equal(
        lax.scatter_apply(x, idx[:2], lambda u: u * u, dn, update_shape=(2,),
                          unique_indices=True), [0, 1, 2, 9, 4])


def test_precision_and_rounding_enums():
    assert lax.Precision("highest") is lax.Precision.HIGHEST
    assert lax.Precision("tensorfloat32") is lax.Precision.HIGH
    assert repr(lax.Precision.DEFAULT) == "Precision.DEFAULT" and str(lax.Precision.HIGH) == "HIGH"
    a, b = R.standard_normal((3, 4)), R.standard_normal((4, 2))
    out = lax.dot(a.astype(np.float32), b.astype(np.float32), precision=lax.Precision.HIGHEST)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    out = lax.dot_general(a.astype(np.float32), b.astype(np.float32), (((1,), (0,)), ((), ())),
                          precision=(lax.Precision.HIGH, lax.Precision.DEFAULT))
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    x = np.array([0.5, 1.5, 2.5, -0.5], np.float32)
    np.testing.assert_array_equal(lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), np.round(x))
    np.testing.assert_array_equal(lax.round(x, lax.RoundingMethod.AWAY_FROM_ZERO),
                                  [1.0, 2.0, 3.0, -1.0])


def test_conv_general_dilated_local():
    x = R.standard_normal((2, 3, 5, 4)).astype(np.float32)  # NCHW
    fh, fw = 2, 3
    oh, ow = 4, 2  # VALID, stride 1
    w = R.standard_normal((6, 3 * fh * fw, oh, ow)).astype(np.float32)
    out = lax.conv_general_dilated_local(x, w, (1, 1), "VALID", (fh, fw))
    want = np.zeros((2, 6, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i:i + fh, j:j + fw].reshape(2, -1)  # channel-major, then filter
            want[:, :, i, j] = patch @ w[:, :, i, j].T
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    g = xtrace.grad(lambda k: lax.conv_general_dilated_local(x, k, (1, 1), "VALID",
                                                             (fh, fw)).sum())(w)
    assert g.shape == w.shape
