"""xtrace.numpy reductions against NumPy: values, shapes and JAX's dtype rules, eager and jit.

Compiling dominates the run time, so each test traces many variants into one jit program and
checks a few of them eagerly as well.
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp

RNG = np.random.default_rng(0)
SHAPE = (3, 4, 5)
DATA = {
    "float32": RNG.uniform(-2, 2, SHAPE).astype(np.float32),
    "int32": RNG.integers(-4, 5, SHAPE).astype(np.int32),
    "bool": RNG.random(SHAPE) > 0.5,
}
# Rows with NaNs, one row all NaN.
NANS = DATA["float32"].copy()
NANS[0, 1, [0, 3]] = np.nan
NANS[1, :, 2] = np.nan
NANS[2, 2, :] = np.nan
AXES = [None, 1, (0, -1)]


def _check(got, want, rtol=2e-5, atol=2e-5, dtype=None):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    if want.dtype.kind in "fc" or got.dtype.kind in "fc":
        kind = np.complex128 if "c" in (want.dtype.kind, got.dtype.kind) else np.float64
        np.testing.assert_allclose(got.astype(kind), want.astype(kind), rtol=rtol, atol=atol,
                                   equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


class _nowarn:
    """Silence NumPy's warnings about empty or all-NaN slices in a reference computation."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _variants(fn, x, axes, **kw):
    """fn over each axis (keepdims alternating), all in one jit program, and eagerly for the
    last axis (eager dispatch compiles one program per primitive, so it is kept to one)."""
    cases = [(ax, i % 2 == 1) for i, ax in enumerate(axes)]
    jitted = xtrace.jit(lambda a: tuple(fn(a, axis=ax, keepdims=kd, **kw) for ax, kd in cases))
    outs = list(jitted(xnp.asarray(x)))
    eager = fn(xnp.asarray(x), axis=axes[-1], **kw)
    return cases + [(axes[-1], False)], outs + [eager]


# ---------------------------------------------------------------------------------------------
# The basic reductions: every axis form, keepdims, three dtypes, eager and jit.

INT = "int32"
FLT = "float32"
# name -> (numpy reference, {input dtype: expected xtrace dtype})
BASIC = {
    "sum": (lambda x, **k: np.sum(x, dtype=np.int32 if x.dtype != np.float32 else None, **k),
            {FLT: FLT, INT: INT, "bool": INT}),
    "prod": (lambda x, **k: np.prod(x, dtype=np.int32 if x.dtype != np.float32 else None, **k),
             {FLT: FLT, INT: INT}),
    "max": (np.max, {FLT: FLT, INT: INT, "bool": "bool"}),
    "min": (np.min, {FLT: FLT, INT: INT}),
    "amin": (np.amin, {INT: INT}),
    "ptp": (np.ptp, {FLT: FLT, INT: INT}),
    "all": (np.all, {FLT: "bool", INT: "bool", "bool": "bool"}),
    "any": (np.any, {INT: "bool", "bool": "bool"}),
    "count_nonzero": (np.count_nonzero, {FLT: INT, INT: INT, "bool": INT}),
    "mean": (lambda x, **k: np.mean(x.astype(np.float64), **k), {FLT: FLT, INT: FLT, "bool": FLT}),
    "var": (lambda x, **k: np.var(x.astype(np.float64), **k), {FLT: FLT, INT: FLT}),
    "std": (lambda x, **k: np.std(x.astype(np.float64), **k), {FLT: FLT}),
    "median": (lambda x, **k: np.median(x.astype(np.float64), **k), {FLT: FLT, INT: FLT}),
}


@pytest.mark.parametrize("name,dt", [(n, d) for n, (_, table) in BASIC.items() for d in table])
def test_basic_reductions(name, dt):
    ref, table = BASIC[name]
    x = DATA[dt]
    if name == "prod":
        x = np.clip(x, -2, 2) if dt != "bool" else x
    for (ax, kd), out in zip(*_variants(getattr(xnp, name), x, AXES)):
        _check(out, ref(x, axis=ax, keepdims=kd), dtype=table[dt])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dt", ["float32", "int32", "bool"])
def test_argmax_argmin(name, dt):
    x = DATA[dt]
    for (ax, kd), out in zip(*_variants(getattr(xnp, name), x, [None, 0, -1])):
        want = getattr(np, name)(x, axis=ax, keepdims=kd)
        _check(out, want, dtype=np.int32)
    # First index on ties; the first NaN wins as in NumPy.
    t = np.array([1.0, 3.0, np.nan, 3.0, np.nan], np.float32)
    assert int(getattr(xnp, name)(t)) == getattr(np, name)(t) == 2
    assert int(xnp.argmax(np.array([1, 3, 3]))) == 1


# ---------------------------------------------------------------------------------------------
# dtype=, where=, initial=, ddof


def test_sum_prod_options():
    x, b = DATA["float32"], DATA["bool"]
    xi = DATA["int32"]
    mask = x > 0
    f = xtrace.jit(lambda x, xi, m: (
        xnp.sum(x, axis=1, where=m), xnp.sum(x, where=m, initial=2.0),
        xnp.prod(xi, axis=(0, 2), where=m), xnp.sum(xi, dtype=xnp.float32),
        xnp.sum(xi, axis=0, initial=3), xnp.prod(x, axis=2, initial=0.5),
        xnp.sum(x, axis=(), keepdims=True)))
    outs = f(x, xi, mask)
    _check(outs[0], np.sum(x, axis=1, where=mask))
    _check(outs[1], np.sum(x, where=mask, initial=2.0))
    _check(outs[2], np.prod(xi, axis=(0, 2), where=mask, dtype=np.int32), dtype=np.int32)
    _check(outs[3], np.sum(xi, dtype=np.float32), dtype=np.float32)
    _check(outs[4], np.sum(xi, axis=0, initial=3, dtype=np.int32), dtype=np.int32)
    _check(outs[5], np.prod(x, axis=2, initial=0.5))
    _check(outs[6], x)
    # Eager, with the where mask a NumPy array or a list.
    _check(xnp.sum(x, axis=1, where=mask[0]), np.sum(x, axis=1, where=mask[0]))
    _check(xnp.sum(b, dtype=bool), True, dtype=bool)
    _check(xnp.sum(np.array([1, 2, 3], np.int8)), 6, dtype=np.int32)
    _check(xnp.sum(np.array([1, 2, 3], np.uint8)), 6, dtype=np.uint32)
    _check(xnp.sum(np.array([100, 100], np.int8), dtype=np.int8), np.int8(-56), dtype=np.int8)
    _check(xnp.sum(np.array([100, 100], np.int8), promote_integers=False), np.int8(-56),
           dtype=np.int8)


def test_max_min_where_initial():
    x = DATA["float32"]
    m = x > 0.5
    f = xtrace.jit(lambda x, m: (xnp.max(x, axis=1, where=m, initial=-5.0),
                                 xnp.min(x, axis=(0, 2), initial=-1.0),
                                 xnp.max(x[:, :0], axis=1, initial=7.0),
                                 xnp.nanmax(x, axis=0, where=m, initial=0.0)))
    outs = f(x, m)
    _check(outs[0], np.max(x, axis=1, where=m, initial=-5.0))
    _check(outs[1], np.min(x, axis=(0, 2), initial=-1.0))
    _check(outs[2], np.max(x[:, :0], axis=1, initial=7.0))
    _check(outs[3], np.nanmax(x, axis=0, where=m, initial=0.0))
    _check(xnp.max(np.array([1.0, np.nan, 3.0])), np.nan)
    _check(xnp.min(np.array([1.0, np.nan, 3.0])), np.nan)


def test_mean_var_std_options():
    x = DATA["float32"]
    xi = DATA["int32"]
    m = x > -1
    f = xtrace.jit(lambda x, xi, m: (
        xnp.mean(x, axis=1, where=m), xnp.var(x, axis=(0, 2), ddof=1),
        xnp.std(xi, axis=0, ddof=2, keepdims=True), xnp.var(x, axis=-1, where=m),
        xnp.std(x, correction=1), xnp.mean(xi, dtype=xnp.float32),
        xnp.var(x, axis=1, ddof=4)))
    outs = f(x, xi, m)
    _check(outs[0], np.mean(x, axis=1, where=m))
    _check(outs[1], np.var(x, axis=(0, 2), ddof=1))
    _check(outs[2], np.std(xi, axis=0, ddof=2, keepdims=True))
    _check(outs[3], np.var(x, axis=-1, where=m))
    _check(outs[4], np.std(x, ddof=1))
    _check(outs[5], np.mean(xi), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"), _nowarn():
        _check(outs[6], np.var(x, axis=1, ddof=4))  # N - ddof = 0: inf, as NumPy
    c = np.array([1 + 1j, 2 - 1j, 0.5j], np.complex64)
    _check(xnp.var(c), np.var(c), dtype=np.float32)
    _check(xnp.std(c), np.std(c), dtype=np.float32)
    h = np.array([1, 2, 3, 4], np.float16)
    _check(xnp.mean(h), 2.5, dtype=np.float16)
    _check(xnp.var(h), np.var(h), rtol=1e-3, dtype=np.float16)
    with pytest.raises(ValueError, match="ddof= or correction="):
        xnp.var(x, ddof=1, correction=1)


def test_average():
    x = DATA["float32"]
    w = RNG.uniform(0.1, 1, SHAPE).astype(np.float32)
    w1 = np.arange(1.0, 5.0, dtype=np.float32)
    f = xtrace.jit(lambda x, w, w1: (
        xnp.average(x, weights=w), xnp.average(x, axis=1, weights=w1, returned=True),
        xnp.average(x, axis=(0, 2), keepdims=True), xnp.average(x, axis=2, weights=w,
                                                                 keepdims=True)))
    outs = f(x, w, w1)
    _check(outs[0], np.average(x, weights=w))
    avg, scl = outs[1]
    wa, ws = np.average(x, axis=1, weights=w1, returned=True)
    _check(avg, wa)
    _check(scl, ws)
    _check(outs[2], np.average(x, axis=(0, 2), keepdims=True))
    _check(outs[3], np.average(x, axis=2, weights=w, keepdims=True))
    a, s = xnp.average(x, axis=0, returned=True)
    _check(a, np.average(x, axis=0))
    _check(s, np.full((4, 5), 3.0))
    _check(xnp.average(DATA["int32"], weights=DATA["int32"] + 5),
           np.average(DATA["int32"], weights=DATA["int32"] + 5), dtype=np.float32)
    w2 = np.ones((5, 3), np.float32)
    _check(xnp.average(x, axis=(2, 0), weights=w2), np.average(x, axis=(2, 0), weights=w2))
    with pytest.raises(ValueError, match="axis must be specified"):
        xnp.average(x, weights=w1)
    with pytest.raises(ValueError, match=r"shape of weights \(4,\)"):
        xnp.average(x, axis=0, weights=w1)


# ---------------------------------------------------------------------------------------------
# Cumulative reductions


def test_cumsum_cumprod():
    x, xi, b = DATA["float32"][:, :, :3], DATA["int32"][:, :, :3], DATA["bool"]
    f = xtrace.jit(lambda x, xi, b: (
        xnp.cumsum(x), xnp.cumsum(x, axis=1), xnp.cumprod(x, axis=-1),
        xnp.cumsum(xi, axis=0), xnp.cumprod(xi, axis=2, dtype=xnp.float32),
        xnp.cumsum(b, axis=1), xnp.cumsum(b, axis=1, dtype=bool),
        xnp.cumulative_sum(x, axis=1, include_initial=True)))
    outs = f(x, xi, b)
    _check(outs[0], np.cumsum(x), rtol=1e-4, atol=1e-4)
    _check(outs[1], np.cumsum(x, axis=1))
    _check(outs[2], np.cumprod(x, axis=-1))
    _check(outs[3], np.cumsum(xi, axis=0), dtype=np.int32)
    _check(outs[4], np.cumprod(xi, axis=2, dtype=np.float32), dtype=np.float32)
    _check(outs[5], np.cumsum(b, axis=1), dtype=np.int32)
    _check(outs[6], np.cumsum(b, axis=1) > 0, dtype=bool)
    _check(outs[7], np.concatenate([np.zeros((3, 1, 3)), np.cumsum(x, axis=1)], axis=1))
    _check(xnp.cumsum(xi), np.cumsum(xi), dtype=np.int32)
    _check(xnp.cumprod(x, axis=0), np.cumprod(x, axis=0))
    _check(xnp.cumsum(np.array([1, 2], np.int8)), [1, 3], dtype=np.int8)  # JAX keeps int8
    _check(xnp.cumsum(2.0), [2.0])
    with pytest.raises(TypeError, match="axis must be an int"):
        xnp.cumsum(x, axis=(0, 1))


# ---------------------------------------------------------------------------------------------
# nan* functions


NAN_FNS = ["nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd",
           "nanmedian", "nanargmax", "nanargmin"]


@pytest.mark.parametrize("name", NAN_FNS)
def test_nan_functions(name):
    x = NANS
    fn = getattr(xnp, name)
    axes = AXES if "arg" not in name else [None, 0, -1]
    for (ax, kd), out in zip(*_variants(fn, x, axes)):
        if "arg" in name:
            # NumPy raises on an all-NaN slice; xtrace (like JAX) returns -1 there.
            xs = np.where(np.isnan(x), np.inf if name == "nanargmin" else -np.inf, x)
            want = getattr(np, name[3:])(xs, axis=ax, keepdims=kd)
            allnan = np.all(np.isnan(x), axis=ax, keepdims=kd)
            want = np.where(allnan, -1, want)
        else:
            with np.errstate(all="ignore"), _nowarn():
                want = getattr(np, name)(x, axis=ax, keepdims=kd)
        _check(out, want)
    # Integer and bool inputs have no NaNs: the plain reductions.
    _check(fn(DATA["int32"], axis=1), getattr(np, name)(DATA["int32"], axis=1))


def test_nan_cumulative_and_quantile():
    x = NANS
    f = xtrace.jit(lambda x: (xnp.nancumsum(x, axis=1), xnp.nancumprod(x),
                              xnp.nanquantile(x, [0.1, 0.9], axis=2, method="nearest"),
                              xnp.nanpercentile(x, 40.0, axis=(0, 1), keepdims=True)))
    outs = f(x)
    with _nowarn():
        _check(outs[0], np.nancumsum(x, axis=1))
        _check(outs[1], np.nancumprod(x), rtol=1e-4)
        _check(outs[2], np.nanquantile(x, [0.1, 0.9], axis=2, method="nearest"))
        _check(outs[3], np.nanpercentile(x, 40.0, axis=(0, 1), keepdims=True))


# ---------------------------------------------------------------------------------------------
# quantile, percentile, median

METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]
CONTINUOUS = ["hazen", "weibull", "median_unbiased", "normal_unbiased",
              "interpolated_inverted_cdf"]
QS = np.array([0.0, 0.1, 0.25, 0.5, 0.625, 0.77, 1.0])


@pytest.mark.parametrize("method", METHODS)
def test_quantile_methods(method):
    x = DATA["float32"]
    xi = DATA["int32"]
    # Concrete q (positions computed exactly, as NumPy does) and traced q, in one program.
    f = xtrace.jit(lambda x, xi, q: (
        xnp.quantile(x, QS, axis=1, method=method),
        xnp.quantile(xi, 0.3, axis=(0, 2), method=method, keepdims=True),
        xnp.quantile(x, q, method=method),
        xnp.percentile(x, QS * 100, axis=-1, method=method)))
    outs = f(x, xi, xnp.asarray(QS[1:4]))
    _check(outs[0], np.quantile(x, QS, axis=1, method=method))
    _check(outs[1], np.quantile(xi, 0.3, axis=(0, 2), method=method, keepdims=True),
           dtype=np.float32)
    _check(outs[2], np.quantile(x, QS[1:4], method=method))
    _check(outs[3], np.percentile(x, QS * 100, axis=-1, method=method))
    _check(xnp.quantile(x, QS.reshape(7, 1), axis=0, method=method),
           np.quantile(x, QS.reshape(7, 1), axis=0, method=method))


def test_quantile_continuous_methods():
    x = DATA["float32"]
    f = xtrace.jit(lambda x, q: tuple((xnp.quantile(x, QS, axis=1, method=m),
                                       xnp.quantile(x, q, axis=-1, method=m))
                                      for m in CONTINUOUS))
    outs = f(x, xnp.asarray(QS))
    for m, (a, b) in zip(CONTINUOUS, outs):
        _check(a, np.quantile(x, QS, axis=1, method=m))
        _check(b, np.quantile(x, QS, axis=-1, method=m))


def test_quantile_nearest_ties_to_even():
    x = np.arange(5.0, dtype=np.float32)
    q = np.array([0.125, 0.375, 0.625, 0.875])  # positions 0.5, 1.5, 2.5, 3.5
    _check(xnp.quantile(x, q, method="nearest"), np.quantile(x, q, method="nearest"))
    _check(xtrace.jit(lambda x, q: xnp.quantile(x, q, method="nearest"))(x, xnp.asarray(q)),
           [0.0, 2.0, 2.0, 4.0])


def test_median_and_nan_rows():
    x = NANS
    f = xtrace.jit(lambda x: (xnp.median(x, axis=-1), xnp.median(x, axis=(0, 1),
                                                                 keepdims=True),
                              xnp.quantile(x, 0.5, axis=1)))
    outs = f(x)
    _check(outs[0], np.median(x, axis=-1))
    _check(outs[1], np.median(x, axis=(0, 1), keepdims=True))
    _check(outs[2], np.quantile(x, 0.5, axis=1))
    _check(xnp.median(DATA["int32"]), np.median(DATA["int32"]), dtype=np.float32)
    _check(xnp.median([3, 1, 2, 10]), 2.5)
    _check(xnp.median(np.zeros((0,), np.float32)), np.nan)
    _check(xnp.median(np.zeros((2, 0), np.float32), axis=1), [np.nan, np.nan])


# ---------------------------------------------------------------------------------------------
# dtype rules, checked on the traced program (no compile)


def _out_aval(fn, *args):
    return xtrace.make_jaxpr(fn)(*args).out_avals[0]


DTYPE_RULES = [
    # (function, input dtype, result dtype without x64, with x64)
    ("sum", "bool", "int32", "int64"), ("sum", "int8", "int32", "int64"),
    ("sum", "uint8", "uint32", "uint64"), ("sum", "int32", "int32", "int64"),
    ("sum", "float16", "float16", "float16"), ("prod", "uint16", "uint32", "uint64"),
    ("max", "int8", "int8", "int8"), ("max", "bool", "bool", "bool"),
    ("mean", "int8", "float32", "float32"), ("mean", "int32", "float32", "float32"),
    ("mean", "bool", "float32", "float32"), ("mean", "float16", "float16", "float16"),
    ("mean", "int64", "float32", "float64"), ("var", "uint8", "float32", "float32"),
    ("median", "int32", "float32", "float32"), ("count_nonzero", "float32", "int32", "int64"),
    ("argmax", "float32", "int32", "int64"), ("cumsum", "bool", "int32", "int64"),
    ("cumsum", "int8", "int8", "int8"), ("nansum", "bool", "int32", "int64"),
    ("all", "float32", "bool", "bool"), ("std", "complex64", "float32", "float32"),
]


@pytest.mark.parametrize("x64", [False, True])
def test_dtype_rules(x64):
    with xtrace.enable_x64(x64):
        for name, dt, want32, want64 in DTYPE_RULES:
            x = np.ones((2, 3), dt)
            av = _out_aval(lambda a: getattr(xnp, name)(a), x)
            assert av.dtype == np.dtype(want64 if x64 else want32), (name, dt, av.dtype)
            assert not av.weak_type, name


def test_python_scalars_and_lists():
    assert xnp.sum(3).dtype == np.int32 and int(xnp.sum(3)) == 3
    s = xnp.sum(2.0)
    assert s.dtype == np.float32 and not s.aval.weak_type
    _check(xnp.mean([1, 2, 3, 4]), 2.5, dtype=np.float32)
    _check(xnp.max([[1, 5], [7, 2]], axis=0), [7, 5])
    _check(xnp.prod([]), 1.0)
    _check(xnp.sum(np.zeros((0, 3), np.float32), axis=0), np.zeros(3))
    with np.errstate(invalid="ignore"), _nowarn():
        _check(xnp.mean(np.zeros((0,), np.float32)), np.nan)


# ---------------------------------------------------------------------------------------------
# float64 under enable_x64


def test_x64_reductions(x64):
    x = RNG.normal(size=(4, 6))
    xi = RNG.integers(-1000, 1000, size=(4, 6))
    f = xtrace.jit(lambda x, xi: (xnp.sum(x, axis=1), xnp.var(x, axis=0, ddof=1),
                                  xnp.quantile(x, [0.2, 0.7], axis=1), xnp.sum(xi),
                                  xnp.mean(xi), xnp.nanstd(x), xnp.cumprod(x, axis=1)))
    outs = f(x, xi)
    assert outs[0].dtype == np.float64 and outs[3].dtype == np.int64
    assert outs[4].dtype == np.float64
    _check(outs[0], x.sum(axis=1), rtol=1e-12, atol=1e-12)
    _check(outs[1], x.var(axis=0, ddof=1), rtol=1e-12, atol=1e-12)
    _check(outs[2], np.quantile(x, [0.2, 0.7], axis=1), rtol=1e-12, atol=1e-12)
    _check(outs[3], xi.sum())
    _check(outs[4], xi.mean(), rtol=1e-12)
    _check(outs[5], np.nanstd(x), rtol=1e-12)
    _check(outs[6], np.cumprod(x, axis=1), rtol=1e-12, atol=1e-12)
    _check(xnp.median(x, axis=0), np.median(x, axis=0), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors():
    x = xnp.asarray(DATA["float32"])
    with pytest.raises(ValueError, match="sum: axis 3 is out of bounds for array of dimension 3"):
        xnp.sum(x, axis=3)
    with pytest.raises(ValueError, match="mean: axis -4 is out of bounds for array of "
                                         "dimension 3"):
        xnp.mean(x, axis=(0, -4))
    with pytest.raises(ValueError, match="duplicate value in 'axis'"):
        xnp.max(x, axis=(1, -2))
    with pytest.raises(ValueError, match="argmax: axis 3 is out of bounds"):
        xnp.argmax(x, axis=3)
    with pytest.raises(NotImplementedError, match="out= argument is not supported"):
        xnp.sum(x, out=x)
    with pytest.raises(ValueError, match="zero-size array to reduction operation max"):
        xnp.max(np.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match="to use a where mask one has to specify 'initial'"):
        xnp.min(x, where=x > 0)
    with pytest.raises(ValueError, match="attempt to get argmin of an empty sequence"):
        xnp.argmin(np.zeros((3, 0)), axis=1)
    with pytest.raises(ValueError, match=r"Quantiles must be in the range \[0, 1\]"):
        xnp.quantile(x, 1.5)
    with pytest.raises(ValueError, match=r"Percentiles must be in the range \[0, 100\]"):
        xnp.percentile(x, [10, 101])
    with pytest.raises(ValueError, match="method 'cubic' is not supported"):
        xnp.quantile(x, 0.5, method="cubic")
    with pytest.raises(TypeError, match="ptp does not support bool"):
        xnp.ptp(DATA["bool"])
    with pytest.raises(ValueError, match=r"where= of shape \(2,\) cannot be broadcast"):
        xnp.sum(x, where=np.array([True, False]))
    with pytest.raises(TypeError, match="axis must be None, an int or a tuple"):
        xnp.sum(x, axis=1.5)
    # Errors are raised while tracing too.
    with pytest.raises(ValueError, match="axis 5 is out of bounds"):
        xtrace.jit(lambda a: xnp.var(a, axis=5))(x)
