"""conv / sort / top_k: convenience wrappers, dimension numbers, return types and errors."""
import numpy as np
import pytest

import xtrace
from xtrace import lax
from tests.primitive_cases import rand
from tests.primitive_cases.conv import np_conv
from tests.primitive_cases.sorting import np_sort, np_top_k

X = rand((2, 3, 6, 5), seed=1)
W = rand((4, 3, 3, 2), seed=2)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-4)


# ---- conv ----
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv_wrapper(padding):
    _close(lax.conv(X, W, (2, 1), padding), np_conv(X, W, (2, 1), padding))


def test_conv_with_general_padding():
    pads = [(1, 2), (0, 1)]
    out = lax.conv_with_general_padding(X, W, (1, 2), pads, (2, 1), (1, 2))
    _close(out, np_conv(X, W, (1, 2), pads, (2, 1), (1, 2)))
    _close(lax.conv_with_general_padding(X, W, (1, 1), "SAME", None, None),
           np_conv(X, W, (1, 1), "SAME"))


def test_conv_dimension_numbers():
    dn = lax.conv_dimension_numbers(X.shape, W.shape, ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_dimension_numbers(X.shape, W.shape, None) == ((0, 1, 2, 3),) * 3
    dn = lax.conv_dimension_numbers(X.shape, W.shape, ("NWCH", "IHOW", "CWNH"))
    assert dn == ((0, 2, 3, 1), (2, 0, 1, 3), (2, 0, 3, 1))


def test_conv_dimension_numbers_object_matches_strings():
    x, w = np.moveaxis(X, 1, 3), np.transpose(W, (2, 3, 1, 0))   # NHWC, HWIO
    specs = ("NHWC", "HWIO", "NHWC")
    dn = lax.conv_dimension_numbers(x.shape, w.shape, specs)
    a = lax.conv_general_dilated(x, w, (1, 2), "SAME", dimension_numbers=specs)
    b = xtrace.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 2), "SAME",
                                                         dimension_numbers=dn))(x, w)
    _close(a, np.asarray(b))
    _close(a, np.moveaxis(np_conv(X, W, (1, 2), "SAME"), 1, 3))


def test_conv_jaxpr_params():
    jaxpr = xtrace.make_jaxpr(lambda x, w: lax.conv(x, w, (1, 1), "SAME"))(X, W)
    eqn, = jaxpr.jaxpr.eqns
    assert eqn.primitive.name == "conv_general_dilated"
    assert eqn.params["padding"] == ((1, 1), (0, 1))
    assert eqn.outputs[0].aval.shape == (2, 4, 6, 5)


def test_conv_preferred_element_type():
    x, w = X.astype(np.float16), W.astype(np.float16)
    out = lax.conv(x, w, (1, 1), "VALID", preferred_element_type=np.float32)
    assert out.dtype == np.float32
    xi, wi = (X * 4).astype(np.int8), (W * 4).astype(np.int8)
    out = lax.conv(xi, wi, (1, 1), "VALID", preferred_element_type=np.int32)
    np.testing.assert_array_equal(out, np_conv(xi, wi, (1, 1), "VALID", out_dtype=np.int32))
    with pytest.raises(TypeError, match="narrower"):
        lax.conv(X, W, (1, 1), "VALID", preferred_element_type=np.float16)
    with pytest.raises(TypeError, match="incompatible"):
        lax.conv(X, W, (1, 1), "VALID", preferred_element_type=np.int32)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(rhs=rand((4, 2, 3, 3))), ValueError, r"feature dimension size 3.*\(2, 3, 6, 5\)"),
    (dict(feature_group_count=2), ValueError, "feature_group_count 2 must divide"),
    (dict(window_strides=(0, 1)), ValueError, "window_strides must be positive"),
    (dict(window_strides=(1,)), TypeError, "window_strides"),
    (dict(rhs_dilation=(1, -1)), ValueError, "rhs_dilation must be positive"),
    (dict(padding=[(1, 1)]), TypeError, "padding"),
    (dict(padding="FULL"), ValueError, "unrecognized padding"),
    (dict(padding=[1, 2]), ValueError, "low, high"),
    (dict(padding=[(-5, -2), (0, 0)]), ValueError, "negative padding"),
    (dict(padding="SAME", lhs_dilation=(2, 1)), ValueError, "lhs_dilation"),
    (dict(dimension_numbers=("NCHW", "OIHW")), TypeError, "dimension_numbers"),
    (dict(dimension_numbers=("NCHW", "OIHW", "NCHX")), TypeError, "spatial characters"),
    (dict(dimension_numbers=("NCHH", "OIHW", "NCHW")), TypeError, "duplicate"),
    (dict(dimension_numbers=("NXHW", "OIHW", "NCHW")), TypeError, "'N' and 'C'"),
    (dict(dimension_numbers=("NCH", "OIH", "NCH")), TypeError, "length"),
    (dict(dimension_numbers=lax.ConvDimensionNumbers((0, 1, 2, 2), (0, 1, 2, 3),
                                                     (0, 1, 2, 3))),
     TypeError, "not a permutation"),
    (dict(rhs=rand((4, 3, 3))), TypeError, "same rank"),
    (dict(rhs=W.astype(np.int32)), TypeError, "same dtype"),
    (dict(batch_group_count=3), ValueError, "batch_group_count 3 must divide"),
    (dict(rhs=rand((4, 1, 3, 3)), lhs=rand((2, 2, 6, 5)), feature_group_count=2,
          batch_group_count=2), ValueError, "at most one"),
])
def test_conv_errors(kwargs, exc, match):
    args = dict(lhs=X, rhs=W, window_strides=(1, 1), padding="VALID")
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        lax.conv_general_dilated(**args)


def test_conv_errors_under_jit():
    with pytest.raises(ValueError, match="rhs input feature"):
        xtrace.jit(lambda x, w: lax.conv(x, w, (1, 1), "SAME"))(X, rand((4, 2, 3, 3)))


# ---- sort ----
def test_sort_return_types():
    x = rand((3, 4), seed=3)
    out = lax.sort(x)
    assert isinstance(out, xtrace.Array)
    outs = lax.sort([x, x.astype(np.int32)], dimension=0)
    assert isinstance(outs, tuple) and len(outs) == 2
    assert outs[1].dtype == np.int32
    k, v = lax.sort_key_val(x, np.arange(12, dtype=np.int32).reshape(3, 4), 0)
    rk, rv = np_sort([x, np.arange(12, dtype=np.int32).reshape(3, 4)], 0)
    np.testing.assert_array_equal(k, rk)
    np.testing.assert_array_equal(v, rv)


def test_sort_jit_num_keys():
    a = np.array([2, 1, 2, 1, 2], np.int32)
    b = np.array([0.5, 3.0, -1.0, np.nan, -0.0], np.float32)
    c = np.arange(5, dtype=np.int32)
    f = xtrace.jit(lambda a, b, c: lax.sort((a, b, c), num_keys=2))
    for got, want in zip(f(a, b, c), np_sort([a, b, c], num_keys=2)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: lax.sort([x, x[:, :2]]), TypeError, "equal shapes"),
    (lambda x: lax.sort([x, x], num_keys=3), ValueError, "num_keys=3"),
    (lambda x: lax.sort([x, x], num_keys=0), ValueError, "num_keys=0"),
    (lambda x: lax.sort(x, num_keys=2), ValueError, "single operand"),
    (lambda x: lax.sort(x, dimension=2), ValueError, "out of bounds"),
    (lambda x: lax.sort(np.float32(1.0)), TypeError, "rank >= 1"),
    (lambda x: lax.sort([]), TypeError, "at least one"),
])
def test_sort_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(rand((3, 4)))


# ---- top_k ----
def test_top_k_jit_and_jaxpr():
    x = rand((3, 6), seed=4)
    f = lambda x: lax.top_k(x, 4)  # noqa: E731
    assert [e.primitive.name for e in xtrace.make_jaxpr(f)(x).jaxpr.eqns] == ["top_k"]
    v, i = xtrace.jit(f)(x)
    rv, ri = np_top_k(x, 4)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(i, ri)
    assert i.dtype == np.int32


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: lax.top_k(x, 7), ValueError, "k=7"),
    (lambda x: lax.top_k(x, -1), ValueError, "nonnegative"),
    (lambda x: lax.top_k(x, 1, axis=2), ValueError, "out of bounds"),
    (lambda x: lax.top_k(x.astype(np.complex64), 1), ValueError, "complex"),
    (lambda x: lax.top_k(np.float32(1.0), 1), TypeError, "rank >= 1"),
])
def test_top_k_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(rand((3, 6)))
