"""Places where xtrace.numpy and Array follow JAX's documented behaviour (checked against
NumPy's numbers and JAX's documented dtypes, shapes and errors)."""
import copy
import pickle

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp

X = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5


# ---------------------------------------------------------------------------------------------
# Array methods and operators


def test_round_builtin_gives_default_int():
    r = round(xnp.asarray(np.float32(2.5)))
    assert r.dtype == np.int32 and int(r) == 2
    r = round(xnp.asarray(np.float32(2.567)), 2)
    assert r.dtype == np.float32 and np.isclose(float(r), 2.57)


def test_scalar_conversion_needs_0d():
    x = xnp.asarray(X)
    for conv in (float, int, complex):
        with pytest.raises(TypeError):
            conv(x[:1, :1])
    assert float(x[0, 0]) == -2.5
    with pytest.raises(TypeError):
        [1, 2][xnp.asarray(True)]  # bools are not indices (JAX)
    assert [1, 2, 3][xnp.asarray(np.int32(2))] == 3


def test_operators_refuse_lists_and_tuples():
    x = xnp.asarray(X)
    for other in ([1, 2, 3], (1, 2, 3)):
        with pytest.raises(TypeError):
            x + other
        with pytest.raises(TypeError):
            other * x
    np.testing.assert_allclose(x + np.ones(3, np.float32), X + 1)


def test_format_and_repr():
    x = xnp.asarray(X)
    assert f"{x[0, 0]:.2f}" == "-2.50"
    assert f"{x}" == str(X)
    with pytest.raises(TypeError):
        f"{x:.2f}"  # as NumPy's ndarray.__format__
    assert repr(x[:0]) == "Array([], shape=(0, 3), dtype=float32)"
    assert repr(xnp.zeros((2, 0), "int32")) == "Array([], shape=(2, 0), dtype=int32)"


def test_contains_is_jax_s():
    x = xnp.asarray(np.array([1.0, 2.0, 3.0], np.float32))
    assert 2.0 in x and 5 not in x
    with pytest.raises(ValueError):
        1.0 in xnp.asarray(X)
    with pytest.raises(TypeError):
        None in x


def test_compress_method_takes_condition_first():
    x = xnp.asarray(X)
    cond = np.array([True, False, True])
    np.testing.assert_array_equal(x.compress(cond, axis=1), X.compress(cond, axis=1))
    np.testing.assert_array_equal(x.compress(cond), X.compress(cond))


def test_copy_view_to_device_tobytes_namespace():
    x = xnp.asarray(X)
    c = x.copy()
    assert isinstance(c, xtrace.Array) and c.dtype == np.float32
    np.testing.assert_array_equal(c, X)
    np.testing.assert_array_equal(copy.deepcopy(x), X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(x)), X)
    np.testing.assert_array_equal(x.view(np.int32), X.view(np.int32))
    v = x.view(np.uint8)
    assert v.shape == (2, 12) and v.dtype == np.uint8
    np.testing.assert_array_equal(v, X.view(np.uint8))
    np.testing.assert_array_equal(xnp.asarray(X.view(np.uint8)).view(np.float32), X)
    i16 = np.arange(-3, 3, dtype=np.int16).reshape(2, 3)
    np.testing.assert_array_equal(xnp.asarray(i16).view(np.uint16), i16.view(np.uint16))
    b = np.array([1, 0, 1], np.int8)
    np.testing.assert_array_equal(xnp.asarray(b).view(bool), b.view(bool))
    c64 = np.array([1 + 2j, -3j], np.complex64)
    np.testing.assert_array_equal(xnp.asarray(c64).view(np.float32), c64.view(np.float32))
    np.testing.assert_array_equal(xnp.asarray(c64.view(np.float32)).view(np.complex64), c64)
    with pytest.raises(ValueError):
        xnp.asarray(np.float32(1)).view(np.uint8)
    assert x.to_device(x.device).shape == (2, 3)
    assert x.astype(np.int32, copy=True, device=x.device).dtype == np.int32
    assert x.tobytes() == X.tobytes()
    assert x.__array_namespace__() is xnp
    assert x.__dlpack_device__() == X.__dlpack_device__()
    np.testing.assert_array_equal(xnp.asarray(np.array([3, 1, 2])).argpartition(1)[:1], [1])


# ---------------------------------------------------------------------------------------------
# Indexing


def test_at_get_clamps_static_ints():
    x = xnp.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(x.at[5].get(), [3, 4, 5])
    np.testing.assert_array_equal(x.at[-5].get(), [0, 1, 2])
    assert int(x.at[0, 7].get()) == 2
    np.testing.assert_array_equal(x.at[5].get(mode="fill", fill_value=-1), [-1, -1, -1])
    np.testing.assert_array_equal(x.at[5].set(9), np.arange(6).reshape(2, 3))  # dropped


def test_at_apply():
    x = np.arange(5, dtype=np.float32)
    idx = np.array([1, 1, 3])
    want = x.copy()
    np.sin.at(want, idx)  # NumPy's unbuffered ufunc.at: repeated indices apply again
    np.testing.assert_allclose(xnp.asarray(x).at[idx].apply(xnp.sin), want, rtol=1e-6)
    f = xtrace.jit(lambda v: v.at[idx].apply(xnp.sin))
    np.testing.assert_allclose(f(xnp.asarray(x)), want, rtol=1e-6)
    y = xnp.arange(4, dtype="int32").at[1:3].apply(lambda v: v * 10)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 10, 20, 3])


def test_float_index_is_index_and_type_error():
    x = xnp.asarray(X)
    for idx in (1.0, "1", np.array([0.0, 1.0])):
        with pytest.raises(TypeError):  # JAX's class; NumPy raises IndexError (also true)
            x[idx]
        with pytest.raises(IndexError):
            x[idx]


# ---------------------------------------------------------------------------------------------
# dtypes of numpy functions


def test_convolve_integer_and_bool_inputs_give_float():
    a = np.array([1, 2, 3], np.int8)
    got = xnp.convolve(a, a.astype(np.uint8))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.convolve(a, a).astype(np.float32))
    got = xnp.correlate(np.array([True, False]), np.array([True, True]), "full")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, 1.0, 0.0])


def test_cumulative_sum_widens_narrow_integers():
    a = np.array([100, 100, 100], np.int8)
    got = xnp.cumulative_sum(a)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.cumsum(a, dtype=np.int64))
    assert xnp.cumulative_sum(a.astype(np.uint8)).dtype == np.uint32
    assert xnp.cumulative_sum(a, dtype=np.int8).dtype == np.int8
    assert xnp.cumulative_sum(a.astype(np.float16)).dtype == np.float16
    assert xnp.cumulative_prod(a).dtype == np.int8  # (cumulative_prod keeps the type)
    assert xnp.cumulative_sum(np.array([True, True])).dtype == np.int32


def test_promote_types_python_scalars_are_weak():
    P = xnp.promote_types
    assert P(np.uint8, int) == np.uint8 and P(np.int8, int) == np.int8
    assert P(np.float16, float) == np.float16 and P(np.float16, complex) == np.complex64
    assert P(int, int) == np.int64 and P(float, int) == np.float64  # (not canonicalized)
    assert P(bool, int) == np.int64 and P(np.uint64, int) == np.uint64
    assert P(np.int8, np.uint32) == np.int32  # JAX's 32-bit lattice
    assert P(np.int64, np.uint32) == np.int64 and P(np.int64, np.uint64) == np.float64
    with xtrace.enable_x64():
        assert P(np.int8, np.uint32) == np.int64


def test_tri_defaults_to_float32_even_with_x64():
    with xtrace.enable_x64():
        t = xnp.tri(3, 4, k=1)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t, np.tri(3, 4, k=1))


def test_searchsorted_digitize_give_int32_with_x64():
    a = np.array([1.0, 2.0, 3.0])
    with xtrace.enable_x64():
        s = xnp.searchsorted(a, np.array([0.5, 2.5]))
        d = xnp.digitize(np.array([0.5, 2.5]), a)
        e = xnp.searchsorted(np.zeros(0), np.array([1.0]))
    assert s.dtype == d.dtype == e.dtype == np.int32
    np.testing.assert_array_equal(s, np.searchsorted(a, [0.5, 2.5]))
    np.testing.assert_array_equal(d, np.digitize([0.5, 2.5], a))


# ---------------------------------------------------------------------------------------------
# ufunc objects


def test_ufunc_methods():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    i8 = np.arange(3, dtype=np.int8)
    assert isinstance(xnp.add, xnp.ufunc) and repr(xnp.add) == "<jnp.ufunc 'add'>"
    assert (xnp.add.nin, xnp.add.nout, xnp.add.identity, xnp.negative.nin) == (2, 1, 0, 1)
    np.testing.assert_array_equal(xnp.add.reduce(x), np.add.reduce(x))
    assert float(xnp.add.reduce(x, axis=None)) == 15.0
    r = xnp.add.reduce(i8)
    assert r.dtype == np.int32 and int(r) == 3  # JAX: sum's dtype rule
    assert xnp.add.accumulate(i8).dtype == np.int8  # cumsum's
    np.testing.assert_array_equal(xnp.subtract.reduce(x, axis=1), np.subtract.reduce(x, axis=1))
    np.testing.assert_array_equal(xnp.subtract.accumulate(x, axis=1),
                                  np.subtract.accumulate(x, axis=1))
    np.testing.assert_array_equal(xnp.maximum.accumulate(np.array([1, 3, 2, 5])), [1, 3, 3, 5])
    b = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(xnp.bitwise_xor.reduce(b, axis=(0, 2)),
                                  np.bitwise_xor.reduce(b, axis=(0, 2)))
    np.testing.assert_allclose(xnp.logaddexp.reduce(x, axis=1), np.logaddexp.reduce(x, axis=1),
                               rtol=1e-6)
    np.testing.assert_array_equal(xnp.add.reduce(x, axis=1, where=x > 1),
                                  np.add.reduce(x, axis=1, where=x > 1))
    np.testing.assert_array_equal(xnp.multiply.outer(np.arange(2), np.arange(3.0)),
                                  np.multiply.outer(np.arange(2), np.arange(3.0)))
    with pytest.raises(ValueError):
        xnp.negative.reduce(x)
    with pytest.raises(ValueError):
        xnp.subtract.reduce(np.zeros((0, 3)))
    with pytest.raises(NotImplementedError):
        xnp.add.at(x, 0, 1.0)
    with pytest.raises(NotImplementedError):
        xnp.add(x, x, where=x > 0)


def test_ufunc_at_repeats():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for uf, nuf, args in ((xnp.add, np.add, (np.array([0, 0]), 1.0)),
                          (xnp.subtract, np.subtract, ((0, np.array([1, 1])), 2.0)),
                          (xnp.maximum, np.maximum, ((1, 1), 10.0)),
                          (xnp.negative, np.negative, (np.array([0, 0]),))):
        want = x.copy()
        nuf.at(want, *args)
        np.testing.assert_array_equal(uf.at(x, *args, inplace=False), want)
    want = np.arange(4)
    np.bitwise_xor.at(want, np.array([1, 1, 2]), 3)
    np.testing.assert_array_equal(
        xnp.bitwise_xor.at(np.arange(4), np.array([1, 1, 2]), 3, inplace=False), want)
    f = xtrace.jit(lambda v: xnp.add.reduce(v, axis=0) + xnp.multiply.accumulate(v, axis=1))
    np.testing.assert_allclose(f(x), np.add.reduce(x, 0) + np.multiply.accumulate(x, 1))


def test_axis_errors_are_value_and_index_errors():
    x = np.ones((2, 3), np.float32)
    for f in (lambda: xnp.sum(x, axis=2), lambda: xnp.mean(x, axis=-3),
              lambda: xnp.expand_dims(x, 5), lambda: xnp.squeeze(x, axis=4)):
        with pytest.raises(ValueError):  # JAX raises ValueError or IndexError: AxisError is both
            f()
        with pytest.raises(IndexError):
            f()


def test_setdiff1d_keeps_ar1_dtype_and_size_axis():
    a = np.array([1, 2, 5], np.int8)
    got = xnp.setdiff1d(a, np.array([1.5, 5.0], np.float32))
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, np.setdiff1d(a, [1.5, 5.0]))
    got = xnp.setdiff1d(a, np.array([1, 3], np.int8), size=3, fill_value=0)
    np.testing.assert_array_equal(got, [2, 5, 0])
    assert xnp.setdiff1d(np.array([True, False]), np.array([2]), True).dtype == np.bool_
    x = np.ones((2, 3, 4))
    assert xnp.size(x) == 24 and xnp.size(x, 1) == 3 and xnp.size(x, (0, -1)) == 8
