"""Property-based tests (hypothesis): xtrace.numpy against NumPy on generated shapes, dtypes,
axes and indices, where a search finds the corners hand-written cases miss (size-0 and size-1
dimensions, negative axes and steps, newaxis and Ellipsis, empty reductions).

Deterministic and bounded: ``derandomize=True`` (the same examples on every run), no example
database, few examples per test (each new shape compiles a small program).
"""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xtrace.numpy as xnp

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

DTYPES = ["bool", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float16", "float32",
          "complex64"]

# jnp.result_type of two arrays in JAX 0.10.2 (64-bit types disabled), row by column in DTYPES
# order: JAX's promotion lattice, which xtrace follows (NumPy's differs: int8 + uint32 is
# int64 there, int32 + float16 is float64).
_JAX_PROMOTION = {
    "bool": "bool int8 int16 int32 uint8 uint16 uint32 float16 float32 complex64",
    "int8": "int8 int8 int16 int32 int16 int32 int32 float16 float32 complex64",
    "int16": "int16 int16 int16 int32 int16 int32 int32 float16 float32 complex64",
    "int32": "int32 int32 int32 int32 int32 int32 int32 float16 float32 complex64",
    "uint8": "uint8 int16 int16 int32 uint8 uint16 uint32 float16 float32 complex64",
    "uint16": "uint16 int32 int32 int32 uint16 uint16 uint32 float16 float32 complex64",
    "uint32": "uint32 int32 int32 int32 uint32 uint32 uint32 float16 float32 complex64",
    "float16": "float16 float16 float16 float16 float16 float16 float16 float16 float32 complex64",
    "float32": "float32 float32 float32 float32 float32 float32 float32 float32 float32 complex64",
    "complex64": " ".join(["complex64"] * 10),
}
JAX_PROMOTION = {(a, b): r for a, row in _JAX_PROMOTION.items()
                 for b, r in zip(DTYPES, row.split())}
# JAX 0.10.2's dtype of (array + Python int / float / complex): weak scalars keep the array's
# kind where they fit.
JAX_WEAK = {"bool": ("int32", "float32"), "float16": ("float16", "float16"),
            "float32": ("float32", "float32"), "complex64": ("complex64", "complex64")}


def _weak_result(dtype, scalar):
    if isinstance(scalar, complex):
        return "complex64"
    ints, floats = JAX_WEAK.get(dtype, (dtype, "float32"))
    return floats if isinstance(scalar, float) else ints


def _values(rng, shape, dtype, low=-3, high=3):
    """Small integer-valued data: exact in every dtype, so results compare exactly."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("uint"):
        low = 0
    v = rng.integers(low, high + 1, shape)
    if dtype.startswith("complex"):
        v = v + 1j * rng.integers(low, high + 1, shape)
    return v.astype(dtype)


def _compare(got, want, dtype):
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    if np.dtype(dtype).kind in "fc":
        rtol = 1e-3 if dtype == "float16" else 1e-6
        np.testing.assert_allclose(got, want.astype(dtype), rtol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want.astype(dtype))


# ---------------------------------------------------------------------------------------------
# Broadcasting and promotion of binary operations

BINARY = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
          "maximum": np.maximum, "minimum": np.minimum, "less": operator.lt,
          "equal": operator.eq, "true_divide": operator.truediv}


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                min_side=0, max_side=3),
       dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 16))
def test_binary_broadcasting_and_promotion(shapes, dtypes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (_values(rng, s, d) for s, d in zip(shapes.input_shapes, dtypes))
    dt = JAX_PROMOTION[dtypes]
    fn = getattr(xnp, op)
    if op == "subtract" and dt == "bool":
        with pytest.raises(TypeError):
            fn(a, b)
        return
    got = fn(a, b)
    if op in ("less", "equal"):
        out_dt = "bool"
    elif op == "true_divide" and np.dtype(dt).kind in "biu":
        out_dt = "float32"
    else:
        out_dt = dt
    with np.errstate(divide="ignore", invalid="ignore"):
        want = BINARY[op](a.astype(out_dt if op == "true_divide" else dt),
                          b.astype(out_dt if op == "true_divide" else dt))
    assert got.shape == shapes.result_shape
    _compare(got, np.asarray(want), out_dt)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
       dtype=st.sampled_from(DTYPES), scalar=st.sampled_from([2, -1, 1.5, 0.5j]),
       reverse=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_weak_scalar_promotion(shape, dtype, scalar, reverse, seed):
    """A Python scalar keeps the array's dtype where its kind fits (JAX's weak types)."""
    if dtype.startswith("uint") and scalar == -1:
        scalar = 3
    a = _values(np.random.default_rng(seed), shape, dtype)
    dt = _weak_result(dtype, scalar)
    got = xnp.add(scalar, a) if reverse else xnp.add(a, scalar)
    _compare(got, a.astype(dt) + np.asarray(scalar).astype(dt), dt)


# ---------------------------------------------------------------------------------------------
# Reductions over generated axes

REDUCTIONS = ["sum", "prod", "max", "min", "mean", "any", "all", "argmax", "cumsum"]


@st.composite
def _axis(draw, ndim, single):
    """None, an int (possibly negative) or, unless ``single``, a tuple of distinct axes."""
    if ndim == 0:
        return None
    one = st.integers(-ndim, ndim - 1)
    if single:
        return draw(st.none() | one)
    return draw(st.none() | one | hnp.valid_tuple_axes(ndim))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
       dtype=st.sampled_from(["bool", "int8", "int32", "uint8", "float32"]),
       op=st.sampled_from(REDUCTIONS), keepdims=st.booleans(), data=st.data())
def test_reductions_over_random_axes(shape, dtype, op, keepdims, data):
    single = op in ("argmax", "cumsum")
    axis = data.draw(_axis(len(shape), single), label="axis")
    low, high = (-1, 1) if op == "prod" else (-3, 3)  # products stay small
    x = _values(np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed")),
                shape, dtype, low, high)
    kwargs = {} if op == "cumsum" else {"keepdims": keepdims}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the mean of nothing is NaN
            want = np.asarray(getattr(np, op)(x, axis=axis, **kwargs))
    except ValueError:  # an empty max/min/argmax: xtrace must refuse too
        with pytest.raises(ValueError):
            getattr(xnp, op)(x, axis=axis, **kwargs)
        return
    got = np.asarray(getattr(xnp, op)(x, axis=axis, **kwargs))
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "fc" or got.dtype.kind in "fc":
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6,
                                   atol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(got.astype(np.int64), want.astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Basic indexing: ints, slices (any start/stop/step), None and Ellipsis


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
def test_basic_indexing_and_at_set(data, shape):
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True),
                    label="index")
    xa = xnp.asarray(x)
    np.testing.assert_array_equal(np.asarray(xa[idx]), x[idx])
    want = x.copy()
    want[idx] = -1
    np.testing.assert_array_equal(np.asarray(xa.at[idx].set(-1)), want)


# ---------------------------------------------------------------------------------------------
# Advanced indexing: integer arrays mixed with slices and ints (where the advanced dimensions
# go depends on whether the array indices are adjacent)


@st.composite
def _mixed_index(draw, shape):
    bshape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    index = []
    for size in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["array", "slice", "int"] if size else ["slice"]))
        if kind == "array":
            shp = draw(st.sampled_from([bshape, bshape[1:], ()]))
            index.append(np.asarray(draw(hnp.arrays(np.int32, shp,
                                                    elements=st.integers(-size, size - 1)))))
        elif kind == "slice":
            index.append(draw(st.slices(size)))
        else:
            index.append(draw(st.integers(-size, size - 1)))
    return tuple(index)


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
def test_advanced_indexing_mixed_with_slices(data, shape):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    idx = data.draw(_mixed_index(shape), label="index")
    np.testing.assert_array_equal(np.asarray(xnp.asarray(x)[idx]), x[idx])
