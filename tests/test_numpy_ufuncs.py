"""xtrace.numpy's elementwise functions against NumPy: values (special values included), dtypes
(JAX's rules: 32-bit defaults, weak Python scalars, integers into float functions give the
default float), broadcasting, eager and jit, and the errors a user sees.

Compiling is the slow part, so the sweeps put many functions into one jitted program per dtype
and reuse a few shapes; the eager tests run each function on float32 (some on int8 too).
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp

F32 = np.array([-np.inf, -3.7, -2.5, -1.5, -1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 2.5,
                10.0, np.inf, np.nan], np.float32)
F32_B = np.array([-np.inf, -2.0, -1.5, -0.0, 0.0, 0.5, 1.5, 3.0, np.inf, np.nan], np.float32)
INPUTS = {
    "float32": F32,
    "int32": np.array([-100, -9, -3, -2, -1, 0, 1, 2, 3, 7, 9, 100, 127], np.int32),
    "int8": np.array([-128, -100, -9, -3, -1, 0, 1, 2, 3, 7, 100, 127], np.int8),
    "uint8": np.array([0, 1, 2, 3, 7, 9, 100, 200, 255], np.uint8),
    "bool": np.array([True, False]),
}
INT_B = np.array([-7, -3, -2, -1, 0, 1, 2, 3, 5, 8], np.int32)


@pytest.fixture(autouse=True)
def _quiet_numpy():
    """NumPy's reference values overflow and divide by zero on purpose."""
    with np.errstate(all="ignore"):
        yield


def _np(fn, *args):
    with np.errstate(all="ignore"):
        return fn(*args)


def check(got, want, dtype=None, rtol=1e-5, atol=1e-6, signed_zeros=False):
    """``got`` (an xtrace array) equals ``want`` (values; NaNs match) and has ``dtype``."""
    got_np = np.asarray(got)
    if dtype is not None:
        assert got_np.dtype == np.dtype(dtype), (got_np.dtype, dtype)
    want = np.asarray(want)
    assert got_np.shape == want.shape, (got_np.shape, want.shape)
    if got_np.dtype.kind in "biu" or want.dtype.kind in "biu" and got_np.dtype.kind == "b":
        np.testing.assert_array_equal(got_np.astype(np.int64), want.astype(np.int64))
    else:
        np.testing.assert_allclose(got_np.astype(np.complex128 if got_np.dtype.kind == "c"
                                                 else np.float64), want, rtol=rtol, atol=atol,
                                   equal_nan=True)
    if signed_zeros:
        zero = (want == 0) & ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got_np[zero]), np.signbit(want[zero]))


def _float_out(dt):
    return np.dtype(dt) if np.dtype(dt).kind in "fc" else np.dtype(np.float32)


# ---------------------------------------------------------------------------------------------
# Unary functions: name -> (NumPy reference, kind, dtypes the function does not take)
# kind "F": float result (ints and bools give float32, the reference is computed in float32);
#      "S": same dtype as the input; "B": bool result.
NOT_BOOL = ("bool",)
FLOAT_ONLY = ("int32", "int8", "uint8", "bool")
UNARY = {
    "negative": (np.negative, "S", NOT_BOOL),
    "positive": (lambda x: x, "S", ()),
    "sqrt": (np.sqrt, "F", ()), "cbrt": (np.cbrt, "F", ()),
    "exp": (np.exp, "F", ()), "exp2": (np.exp2, "F", ()), "expm1": (np.expm1, "F", ()),
    "log": (np.log, "F", ()), "log2": (np.log2, "F", ()), "log10": (np.log10, "F", ()),
    "log1p": (np.log1p, "F", ()),
    "sin": (np.sin, "F", ()), "cos": (np.cos, "F", ()), "tan": (np.tan, "F", ()),
    "arcsin": (np.arcsin, "F", ()), "arccos": (np.arccos, "F", ()),
    "arctan": (np.arctan, "F", ()), "sinh": (np.sinh, "F", ()), "cosh": (np.cosh, "F", ()),
    "tanh": (np.tanh, "F", ()), "arcsinh": (np.arcsinh, "F", ()),
    "arccosh": (np.arccosh, "F", ()), "arctanh": (np.arctanh, "F", ()),
    "asin": (np.arcsin, "F", ()), "acosh": (np.arccosh, "F", ()),
    "deg2rad": (np.deg2rad, "F", ()), "rad2deg": (np.rad2deg, "F", ()),
    "degrees": (np.degrees, "F", ()), "radians": (np.radians, "F", ()),
    "sign": (np.sign, "S", NOT_BOOL),
    "signbit": (np.signbit, "B", NOT_BOOL),
    "absolute": (np.absolute, "S", ()), "abs": (np.abs, "S", ()),
    "fabs": (np.fabs, "F", ()),
    "rint": (np.rint, "F", ()),
    "floor": (np.floor, "S", NOT_BOOL), "ceil": (np.ceil, "S", NOT_BOOL),
    "trunc": (np.trunc, "S", NOT_BOOL), "fix": (np.fix, "S", NOT_BOOL),
    "round": (np.round, "S", NOT_BOOL), "around": (np.round, "S", NOT_BOOL),
    "isnan": (np.isnan, "B", ()), "isinf": (np.isinf, "B", ()),
    "isfinite": (np.isfinite, "B", ()),
    "isposinf": (np.isposinf, "B", NOT_BOOL), "isneginf": (np.isneginf, "B", NOT_BOOL),
    "nan_to_num": (np.nan_to_num, "S", ()),
    "real": (np.real, "S", ()), "imag": (np.imag, "S", ()), "conj": (np.conj, "S", ()),
    "conjugate": (np.conjugate, "S", ()),
    "angle": (np.angle, "F", ()),
    "sinc": (np.sinc, "F", ()), "i0": (np.i0, "F", ()),
    "square": (np.square, "S", ()),
    "reciprocal": (np.reciprocal, "F", ()),
    "spacing": (np.spacing, "F", ()),
    "logical_not": (np.logical_not, "B", ()),
    "invert": (np.invert, "S", ("float32",)), "bitwise_not": (np.invert, "S", ("float32",)),
    "bitwise_count": (lambda x: np.bitwise_count(x.astype(np.uint8) if x.dtype == bool else x),
                      "U8", ("float32",)),
    "iscomplex": (np.iscomplex, "B", ()), "isreal": (np.isreal, "B", ()),
}
BOOL_TO_INT = ("square",)


def _unary_expected(name, x):
    """(reference values, expected xtrace dtype) of unary ``name`` on NumPy array ``x``."""
    ref, kind, _ = UNARY[name]
    dt = x.dtype
    if kind == "F":
        out = _float_out(dt)
        return _np(ref, x.astype(out)).astype(out), out
    if kind == "B":
        return _np(ref, x), np.dtype(bool)
    if kind == "U8":
        return _np(ref, x), np.dtype(np.uint8)
    if name in BOOL_TO_INT and dt == bool:
        return _np(ref, x.astype(np.int32)), np.dtype(np.int32)
    return _np(ref, x), dt


# Float functions share the integer-to-float conversion, so integer and bool inputs run a few
# of them (every function's result dtype for every input dtype is checked, without compiling,
# in test_unary_dtypes).
FLOAT_SAMPLE = ("exp", "sqrt", "log2", "arctanh", "sinc", "rint", "angle", "reciprocal", "fabs",
                "spacing")


def _unary_names(dtype, sample=False):
    return [n for n, (_, kind, skip) in UNARY.items() if dtype not in skip
            and (not sample or kind != "F" or n in FLOAT_SAMPLE)]


@pytest.mark.parametrize("dtype", list(INPUTS))
def test_unary_sweep_jit(dtype):
    """The unary functions on one dtype, all in one jitted program."""
    x = INPUTS[dtype]
    names = _unary_names(dtype, sample=dtype != "float32")
    outs = xtrace.jit(lambda v: {n: getattr(xnp, n)(v) for n in names})(x)
    for n in names:
        want, dt = _unary_expected(n, x)
        try:
            check(outs[n], want, dt, signed_zeros=n in ("negative", "copysign", "trunc", "fix",
                                                       "floor", "ceil", "rint", "round"))
        except AssertionError as e:
            raise AssertionError(f"{n}({dtype}): {e}") from None


def _avals(fn, *args):
    """(dtype name, weak type) of each output of ``fn(*args)``, traced without compiling."""
    return [(str(a.dtype), a.weak_type) for a in xtrace.make_jaxpr(fn)(*args).out_avals]


def test_unary_dtypes():
    """Result dtypes for every unary function and input dtype (JAX's rules), traced only."""
    for dtype in ("float32", "float16", "int32", "int8", "uint8", "bool"):
        x = np.zeros(3, dtype)
        for name in _unary_names(dtype if dtype != "float16" else "float32"):
            _, want = _unary_expected(name, x)
            got = _avals(getattr(xnp, name), x)
            assert got == [(str(want), False)], (name, dtype, got)
    weak = _avals(lambda: [xnp.exp(1), xnp.sqrt(2.0), xnp.negative(3), xnp.rint(2), xnp.imag(1.0),
                           xnp.isnan(1.0)])
    assert weak == [("float32", True), ("float32", True), ("int32", True), ("float32", True),
                    ("float32", True), ("bool", False)]


EAGER_INT8 = ("negative", "absolute", "round", "square", "isfinite", "invert", "exp", "sinc")


# float32 calls of these bind one primitive directly (tested with the primitives)
PRIMITIVE_FAST_PATH = ("exp", "exp2", "expm1", "log", "log1p", "sin", "cos", "tan", "arcsin",
                       "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
                       "arctanh", "asin", "acosh", "sqrt", "cbrt", "absolute", "abs", "fabs",
                       "floor", "ceil", "isfinite")


@pytest.mark.parametrize("name", [n for n in UNARY if n not in PRIMITIVE_FAST_PATH[3:]])
def test_unary_eager(name):
    """Eagerly on float32 (the fast path where there is one), and for some functions on int8
    (the converting path), on a 2-d array."""
    for dtype in ("float32", "int8"):
        if dtype in UNARY[name][2] or (dtype == "int8" and name not in EAGER_INT8):
            continue
        x = INPUTS[dtype][:12].reshape(3, 4)
        want, dt = _unary_expected(name, x)
        check(getattr(xnp, name)(xnp.asarray(x)), want, dt)


def test_unary_python_scalars_and_lists():
    check(xnp.exp(1), np.exp(np.float32(1)), np.float32)
    assert xnp.exp(1).weak_type and xnp.sqrt(2.0).weak_type
    check(xnp.sin([0.5, 1.5]), np.sin(np.float32([0.5, 1.5])), np.float32)
    check(xnp.negative([1, 2]), [-1, -2], np.int32)
    check(xnp.isnan(np.array([1.0, np.nan])), [False, True], bool)
    check(xnp.floor(np.float32(2.5)), 2.0, np.float32)


def test_float16_and_bfloat16_keep_their_type():
    for dt in (np.float16, xnp.bfloat16):
        x = np.array([0.5, 1.5, -2.0], dt)
        for fn in (xnp.exp, xnp.sin, xnp.sqrt, xnp.log1p, xnp.sinc, xnp.rint):
            assert fn(x).dtype == np.dtype(dt), fn.__name__
        check(xnp.exp(x), np.exp(x.astype(np.float32)), dt, rtol=1e-2)
        assert xnp.add(x, 1.0).dtype == np.dtype(dt)
        assert xnp.arctan2(np.array([1, 2], np.int8), x[:2]).dtype == np.dtype(dt)


# ---------------------------------------------------------------------------------------------
# Binary functions: name -> (NumPy reference, kind, dtypes not taken)
INT_ONLY = ("float32", "bool")
BINARY = {
    "add": (np.add, "S", ()), "subtract": (np.subtract, "S", NOT_BOOL),
    "multiply": (np.multiply, "S", ()),
    "divide": (np.divide, "F", ()), "true_divide": (np.true_divide, "F", ()),
    "floor_divide": (np.floor_divide, "I", ()), "remainder": (np.remainder, "I", ()),
    "mod": (np.mod, "I", ()), "fmod": (np.fmod, "I", ()),
    "power": (np.power, "I", ()), "float_power": (np.float_power, "F", ()),
    "arctan2": (np.arctan2, "F", ()), "hypot": (np.hypot, "F", ()),
    "logaddexp": (np.logaddexp, "F", ()), "logaddexp2": (np.logaddexp2, "F", ()),
    "copysign": (np.copysign, "F", ()), "heaviside": (np.heaviside, "F", ()),
    "nextafter": (np.nextafter, "F", ()),
    "maximum": (np.maximum, "S", ()), "minimum": (np.minimum, "S", ()),
    "fmax": (np.fmax, "S", ()), "fmin": (np.fmin, "S", ()),
    "equal": (np.equal, "B", ()), "not_equal": (np.not_equal, "B", ()),
    "less": (np.less, "B", ()), "less_equal": (np.less_equal, "B", ()),
    "greater": (np.greater, "B", ()), "greater_equal": (np.greater_equal, "B", ()),
    "logical_and": (np.logical_and, "B", ()), "logical_or": (np.logical_or, "B", ()),
    "logical_xor": (np.logical_xor, "B", ()),
    "bitwise_and": (np.bitwise_and, "S", ("float32",)),
    "bitwise_or": (np.bitwise_or, "S", ("float32",)),
    "bitwise_xor": (np.bitwise_xor, "S", ("float32",)),
    "left_shift": (np.left_shift, "I", ("float32",)),
    "right_shift": (np.right_shift, "I", ("float32",)),
    "gcd": (np.gcd, "I", INT_ONLY), "lcm": (np.lcm, "I", INT_ONLY),
}
# Operand pairs: (name, x1, x2, dtype of the promoted operands per JAX's lattice). Shapes
# broadcast to a grid so every special value meets every other.
PAIRS = {
    "float32": (F32[:, None], F32_B[None, :], np.float32),
    "int32": (INPUTS["int32"][:, None], INT_B[None, :], np.int32),
    "int8_uint8": (INPUTS["int8"][:, None], INPUTS["uint8"][None, :8], np.int16),
    "bool": (np.array([True, False])[:, None], np.array([True, False])[None, :], bool),
    "float32_pyfloat": (F32, 2.5, np.float32),
    "int32_pyint": (INPUTS["int32"], 3, np.int32),
}
PAIR_KIND = {"float32": "float32", "int32": "int32", "int8_uint8": "int32", "bool": "bool",
             "float32_pyfloat": "float32", "int32_pyint": "int32"}


SCALAR_SAMPLE = ("add", "subtract", "multiply", "divide", "floor_divide", "remainder", "fmod",
                 "power", "maximum", "fmin", "less", "equal", "copysign", "arctan2", "logaddexp",
                 "bitwise_and", "left_shift", "right_shift", "gcd", "logical_or")


SMALL_INT_SAMPLE = ("add", "subtract", "multiply", "floor_divide", "remainder", "power",
                    "maximum", "minimum", "less", "equal", "logical_xor", "bitwise_or",
                    "right_shift", "left_shift", "divide")


def _binary_names(pair):
    kind = PAIR_KIND[pair]
    names = [n for n, (_, k, skip) in BINARY.items() if kind not in skip]
    if pair.endswith(("pyfloat", "pyint")):
        return [n for n in names if n in SCALAR_SAMPLE]
    if pair in ("bool", "int8_uint8"):
        return [n for n in names if n in SMALL_INT_SAMPLE]
    if pair != "float32":  # float functions share the integer-to-float conversion
        return [n for n in names if BINARY[n][1] != "F" or n in ("divide", "arctan2")]
    return names


def _binary_operands(name, pair):
    a, b, dt = PAIRS[pair]
    if name in ("power", "left_shift", "right_shift") and np.dtype(dt).kind in "iub":
        b = np.abs(b) if not isinstance(b, int) else b  # NumPy refuses negative int powers
        if name != "power":
            b = np.minimum(b, 7) if not isinstance(b, int) else b
    return a, b, np.dtype(dt)


def _binary_expected(name, a, b, dt):
    ref, kind, _ = BINARY[name]
    if kind == "F":
        out = _float_out(dt)
        bb = b if isinstance(b, (int, float)) else b.astype(out)
        return _np(ref, a.astype(out), bb).astype(out), out
    if kind == "B":
        return _np(ref, a, b), np.dtype(bool)
    out = np.dtype(np.int32) if kind == "I" and dt == bool else dt
    aa = a.astype(out)
    bb = b if isinstance(b, (int, float)) else b.astype(out)
    return _np(ref, aa, bb), out


@pytest.mark.parametrize("pair", list(PAIRS))
def test_binary_sweep_jit(pair):
    """Every binary function on one operand pair, broadcasting, all in one jitted program."""
    names = _binary_names(pair)
    ops = {n: _binary_operands(n, pair) for n in names}
    arrays = {n: (a, b) for n, (a, b, _) in ops.items()}
    scalar = isinstance(PAIRS[pair][1], (int, float))

    def run(arrs):
        return {n: getattr(xnp, n)(a, PAIRS[pair][1] if scalar else b)
                for n, (a, b) in arrs.items()}
    outs = xtrace.jit(run)({n: (a, a if scalar else b) for n, (a, b) in arrays.items()})
    for n in names:
        a, b, dt = ops[n]
        want, out_dt = _binary_expected(n, a, b, dt)
        try:
            check(outs[n], want, out_dt, signed_zeros=n in ("remainder", "mod", "fmod",
                                                           "copysign", "floor_divide"))
        except AssertionError as e:
            raise AssertionError(f"{n}({pair}): {e}") from None
        if scalar:
            assert not outs[n].weak_type


def test_binary_dtypes():
    """Result dtypes for every binary function and operand pair (JAX's rules), traced only."""
    for pair, (a, b, dt) in PAIRS.items():
        for name in [n for n, (_, _, skip) in BINARY.items() if PAIR_KIND[pair] not in skip]:
            a2, b2, dt2 = _binary_operands(name, pair)
            _, want = _binary_expected(name, a2, b2, dt2)
            if isinstance(b, (int, float)):
                got = _avals(lambda x: getattr(xnp, name)(x, b), a2)
            else:
                got = _avals(getattr(xnp, name), a2, b2)
            assert got == [(str(want), False)], (name, pair, got)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_eager(name):
    """Eagerly: float32 against a broadcast float32 row (or int32 for integer functions)."""
    pair = "int32" if "float32" in BINARY[name][2] else "float32"
    a, b, dt = _binary_operands(name, pair)
    want, out_dt = _binary_expected(name, a, b, dt)
    check(getattr(xnp, name)(xnp.asarray(a), xnp.asarray(b)), want, out_dt,
          signed_zeros=name in ("remainder", "fmod", "copysign"))


def test_dtype_rules_match_jax():
    """Result dtypes and weak types, checked against jax.numpy 0.10.2 (recorded)."""
    def cases(i8, u8, b, f16, i32):
        return [
        (xnp.add(b, b), "bool", False), (xnp.multiply(b, b), "bool", False),
        (xnp.add(i8, u8), "int16", False), (xnp.add(i8, 1), "int8", False),
        (xnp.multiply(u8, 2.0), "float32", True), (xnp.add(f16, 1.0), "float16", False),
        (xnp.floor_divide(b, b), "int32", False), (xnp.remainder(b, b), "int32", False),
        (xnp.power(b, b), "int32", False), (xnp.left_shift(b, b), "int32", False),
        (xnp.true_divide(i8, i8), "float32", False), (xnp.exp(u8), "float32", False),
        (xnp.exp(1), "float32", True), (xnp.add(1, 2), "int32", True),
        (xnp.square(b), "int32", False), (xnp.reciprocal(i8), "float32", False),
        (xnp.rint(i8), "float32", False), (xnp.floor(i8), "int8", False),
        (xnp.sign(u8), "uint8", False), (xnp.abs(b), "bool", False),
        (xnp.bitwise_count(i8), "uint8", False), (xnp.imag(i8), "int8", False),
        (xnp.angle(i8), "float32", False), (xnp.fabs(i8), "float32", False),
        (xnp.where(b, 1, 2.0), "float32", True), (xnp.where(b, 1, u8), "uint8", False),
        (xnp.clip(i32, 0.5, 1), "float32", True),
        (xnp.float_power(2, 3), "float32", True), (xnp.arctan2(i8, f16), "float16", False),
        (xnp.right_shift(u8, i8), "int16", False), (xnp.gcd(u8, i32), "int32", False),
        (xnp.select([b], [i32], 3.0), "float32", True), (xnp.hypot(i8, i8), "float32", False),
        (xnp.logaddexp(u8, 1.0), "float32", True), (xnp.maximum(b, b), "bool", False),
        (xnp.less(i8, u8), "bool", False), (xnp.logical_and(f16, 1), "bool", False),
        (xnp.bitwise_xor(i8, u8), "int16", False), (xnp.nextafter(f16, 1), "float16", False),
    ]
    args = [np.zeros(2, t) for t in (np.int8, np.uint8, bool, np.float16, np.int32)]
    want = []

    def results(*a):
        cs = cases(*a)
        want[:] = [(dt, weak) for _, dt, weak in cs]
        return [r for r, _, _ in cs]
    got = _avals(results, *args)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, (i, g, w)


# ---------------------------------------------------------------------------------------------
# Division, modulus and power: NumPy's sign rules and edge cases


def test_integer_division_and_modulus():
    a = np.array([7, -7, 7, -7, 0, 5, -2**31, -2**31, 3], np.int32)
    b = np.array([2, 2, -2, -2, 3, 0, -1, 1, 0], np.int32)
    run = xtrace.jit(lambda a, b: (xnp.floor_divide(a, b), xnp.remainder(a, b),
                                   xnp.fmod(a, b), xnp.divmod(a, b)))
    for fd, rem, fm, dm in (run(a, b), (xnp.floor_divide(a, b), xnp.remainder(a, b),
                                         xnp.fmod(a, b), xnp.divmod(a, b))):
        check(fd, _np(np.floor_divide, a, b), np.int32)   # x // 0 == 0, as in NumPy
        check(rem, _np(np.remainder, a, b), np.int32)
        check(fm, _np(np.fmod, a, b), np.int32)
        check(dm[0], fd), check(dm[1], rem)
    u = np.array([7, 200, 5], np.uint8)
    v = np.array([2, 7, 0], np.uint8)
    check(xnp.floor_divide(u, v), _np(np.floor_divide, u, v), np.uint8)
    check(xnp.remainder(u, v), _np(np.remainder, u, v), np.uint8)


def test_float_division_and_modulus_sign_rules():
    a = np.array([7.5, -7.5, 7.5, -7.5, 0.0, -0.0, 0.0, 6.0, -6.0, 1.0, -1.0, 1.0, 0.0, np.inf,
                  1.0, -1.0, np.nan], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 3.0, 3.0, -3.0, -3.0, 3.0, 0.0, 0.0, 0.1, 0.0, 2.0,
                  np.inf, np.inf, 1.0], np.float32)
    q, r = xnp.divmod(a, b)
    check(q, _np(np.floor_divide, a, b), np.float32, signed_zeros=True)
    check(r, _np(np.remainder, a, b), np.float32, signed_zeros=True)
    check(xnp.fmod(a, b), _np(np.fmod, a, b), np.float32, signed_zeros=True)
    q2, r2 = xnp.divmod(a, 2.5)
    check(q2, _np(np.floor_divide, a, np.float32(2.5)), np.float32)
    check(r2, _np(np.remainder, a, np.float32(2.5)), np.float32)
    # operators
    x = xnp.asarray(a)
    check(x // 2.0, _np(np.floor_divide, a, np.float32(2)))
    check(x % -2.0, _np(np.remainder, a, np.float32(-2)), signed_zeros=True)
    check(divmod(x, 3.0)[1], _np(np.remainder, a, np.float32(3)))               # __divmod__


def test_complex_floor_divide_and_remainder_raise():
    z = xnp.asarray(np.array([1 + 1j], np.complex64))
    for fn in (xnp.floor_divide, xnp.remainder, xnp.fmod):
        with pytest.raises(TypeError, match="complex"):
            fn(z, 2)


def test_integer_power():
    a = np.array([3, 2, -2, 0, 0, 5, -1, 7, 1], np.int32)
    b = np.array([25, 31, 3, 0, 5, 1, 7, 0, 100], np.int32)
    check(xnp.power(a, b), _np(np.power, a, b), np.int32)           # wraps like NumPy
    check(xtrace.jit(xnp.power)(a, b), _np(np.power, a, b), np.int32)
    i8 = np.array([2, 3, -3, 127], np.int8)
    check(xnp.power(i8, np.array([7, 5, 3, 2], np.int8)),
          _np(np.power, i8, np.array([7, 5, 3, 2], np.int8)), np.int8)
    u8 = np.array([2, 3, 255], np.uint8)
    check(xnp.power(u8, np.array([8, 5, 2], np.uint8)),
          _np(np.power, u8, np.array([8, 5, 2], np.uint8)), np.uint8)
    # a static Python exponent
    check(xnp.power(xnp.asarray(a), 3), _np(np.power, a, 3), np.int32)
    check(xnp.power(xnp.asarray(np.array([True, False])), 3), [1, 0], np.int32)
    check(xnp.asarray(a) ** 2, a ** 2, np.int32)
    # negative exponents: NumPy raises; xtrace gives trunc(1 / a**-b) (it cannot look at values)
    check(xnp.power(np.array([1, -1, -1, 2, 0], np.int32), np.array([-3, -3, -2, -1, -2])),
          [1, -1, 1, 0, 0], np.int32)
    check(xnp.power(np.float32([2.0, 4.0]), -1), [0.5, 0.25], np.float32)
    check(xnp.power(np.float32([-8.0, 2.0, 0.0]), np.float32([1 / 3, 0.5, -1.0])),
          _np(np.power, np.float32([-8.0, 2.0, 0.0]), np.float32([1 / 3, 0.5, -1.0])))


def test_shifts_past_the_width():
    a = np.array([1, -8, 1, -8, 5], np.int32)
    s = np.array([40, 40, -1, -1, 2], np.int32)
    check(xnp.left_shift(a, s), [0, 0, 0, 0, 20], np.int32)
    check(xnp.right_shift(a, s), [0, -1, 0, -1, 1], np.int32)
    u = np.array([1, 128, 255], np.uint8)
    check(xnp.left_shift(u, np.array([9, 1, 4], np.uint8)), [0, 0, 240], np.uint8)
    check(xnp.right_shift(u, np.array([9, 7, 4], np.uint8)), [0, 1, 15], np.uint8)
    check(xnp.right_shift(np.array([-128, -1], np.int8), np.array([9, 3], np.int8)), [-1, -1])


# ---------------------------------------------------------------------------------------------
# Rounding


def test_round_decimals():
    x = np.array([0.25, 0.35, 1.5, 2.5, -2.5, -0.5, 1234.5678, -1250.0, 1350.0, np.nan, np.inf],
                 np.float32)
    decimals = (0, 1, 2, -1, -2, -3, -12)
    round_all = xtrace.jit(lambda v: [xnp.round(v, d) for d in decimals])
    for d, got in zip(decimals, round_all(x)):
        check(got, np.round(x, d), np.float32, rtol=1e-6)
    check(xtrace.jit(xnp.round, static_argnames="decimals")(x, decimals=1), np.round(x, 1))
    check(xnp.around(x), np.round(x), np.float32)
    for dt, vals in ((np.int32, [15, 25, -15, -25, 14, 16, 2**31 - 600, -5]),
                     (np.int8, [15, 25, -15, -25, 127, -128, 5, 0]),
                     (np.uint8, [250, 245, 5, 15, 255, 0, 25, 35])):
        v = np.array(vals, dt)
        for d, got in zip(decimals, round_all(v)):
            check(got, np.round(v, d), dt)
    check(xnp.round(v, -1), np.round(v, -1), np.uint8)                 # eagerly
    z = np.array([1.25 + 2.35j, -0.5 - 1.5j], np.complex64)
    check(xnp.round(z, 1), np.round(z, 1), np.complex64)
    check(xnp.rint(z), np.rint(z), np.complex64)
    with pytest.raises(NotImplementedError, match="out="):
        xnp.round(x, out=x)


def test_floor_ceil_trunc_keep_integers_and_signed_zeros():
    x = np.array([-0.5, -0.0, 0.0, 0.5, -1.5, 2.7], np.float32)
    for name in ("floor", "ceil", "trunc", "fix", "rint"):
        check(getattr(xnp, name)(x), getattr(np, name)(x), np.float32, signed_zeros=True)
    i = np.array([-3, 0, 4], np.int16)
    for name in ("floor", "ceil", "trunc", "fix"):
        check(getattr(xnp, name)(i), i, np.int16)


# ---------------------------------------------------------------------------------------------
# maximum/minimum/fmax/fmin, clip


def test_nan_handling_of_maximum_minimum_fmax_fmin():
    a = np.array([np.nan, 1.0, np.nan, -0.0, 2.0], np.float32)
    b = np.array([0.0, np.nan, np.nan, 0.0, -np.inf], np.float32)
    for name in ("maximum", "minimum", "fmax", "fmin"):
        check(getattr(xnp, name)(a, b), getattr(np, name)(a, b), np.float32)
    z = np.array([complex(np.nan, 0), 1 + 2j, 1 + 1j], np.complex64)
    w = np.array([1 + 1j, 1 + 1j, complex(0, np.nan)], np.complex64)
    check(xnp.maximum(z, w), np.maximum(z, w))
    check(xnp.minimum(z, w), np.minimum(z, w))
    check(xnp.fmax(z, w), np.fmax(z, w))


def test_clip():
    x = np.array([-2.0, -0.5, 0.5, 3.0, np.nan], np.float32)
    check(xnp.clip(x, -1, 1), np.clip(x, -1, 1), np.float32)
    check(xnp.clip(x, min=0), np.clip(x, 0, None), np.float32)
    check(xnp.clip(x, max=0), np.clip(x, None, 0), np.float32)
    check(xnp.clip(x, a_min=-1, a_max=2), np.clip(x, -1, 2), np.float32)
    check(xnp.clip(x), x, np.float32)
    check(xnp.clip(x, np.nan, 3), [np.nan] * 5)                     # NaN bound gives NaN
    check(xnp.clip(x, 3, 1), np.clip(x, 3, 1))                      # min > max gives max
    lo = np.array([0.0, -1.0, 0.0, 2.0, 0.0], np.float32)
    check(xnp.clip(x, lo, 2.5), np.clip(x, lo, 2.5))                 # array bounds
    check(xnp.asarray(x).clip(-1, 1), np.clip(x, -1, 1))            # the method
    i = np.array([-5, 0, 5, 200], np.int32)
    check(xnp.clip(i, 0, 100), np.clip(i, 0, 100), np.int32)
    check(xnp.clip(np.array([0, 100, 255], np.uint8), 10, 200), [10, 100, 200], np.uint8)
    check(xtrace.jit(lambda v: xnp.clip(v, -1.0, 1.0))(x), np.clip(x, -1, 1))
    with pytest.raises(ValueError, match="complex"):
        xnp.clip(np.array([1j]), 0, 1)
    with pytest.raises(TypeError, match="once"):
        xnp.clip(x, 0, a_min=1)


# ---------------------------------------------------------------------------------------------
# Floating-point helpers, complex parts, classification


def test_copysign_signbit_heaviside():
    x = np.array([1.0, -2.0, np.nan, 0.0, np.inf, 3.0], np.float32)
    y = np.array([-1.0, 1.0, -1.0, -0.0, -0.0, np.nan], np.float32)
    check(xnp.copysign(x, y), np.copysign(x, y), signed_zeros=True)
    check(xnp.signbit(np.array([-np.nan, np.nan, -0.0, 0.0, -np.inf], np.float32)),
          [True, False, True, False, True])
    check(xnp.signbit(np.array([-3, 0, 5], np.int8)), [True, False, False])
    check(xnp.signbit(np.array([0, 255], np.uint8)), [False, False])
    check(xnp.heaviside(np.array([-1.0, -0.0, 0.0, 2.0, np.nan], np.float32), 0.5),
          np.heaviside(np.array([-1.0, -0.0, 0.0, 2.0, np.nan], np.float32), 0.5))


def test_frexp_ldexp_modf_nextafter_spacing():
    # subnormals included: XLA flushes them in arithmetic, so these work on the bits
    x = np.array([1e-45, 3e-39, -3e-39, -1.5, 8.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e30],
                 np.float32)
    m, e = xnp.frexp(x)
    nm, ne = np.frexp(x)
    check(m, nm, np.float32, signed_zeros=True)
    check(e, ne, np.int32)
    xs = np.array([1.5, 1.0, 1.0, 1.0, 3.0, -1.0, 0.75, 1.0, 5e-39, 0.0, np.nan, 1e-45],
                  np.float32)
    k = np.array([3, 200, -149, -150, -149, 128, 128, -127, 2, 5, 3, 149], np.int32)
    check(xnp.ldexp(xs, k), _np(np.ldexp, xs, k), np.float32, rtol=0, atol=0)
    check(xnp.ldexp(np.float32(1.0), np.array([2, -3])), [4.0, 0.125], np.float32)
    f, w = xnp.modf(np.array([-1.5, 2.25, -0.0, np.inf, -np.inf, np.nan], np.float32))
    nf, nw = np.modf(np.array([-1.5, 2.25, -0.0, np.inf, -np.inf, np.nan], np.float32))
    check(f, nf, signed_zeros=True), check(w, nw, signed_zeros=True)
    check(xnp.modf(np.array([3, -2]))[1], [3.0, -2.0], np.float32)
    s = np.array([0.0, 1.0, -1.0, 1e-40, 1e30, np.inf], np.float32)
    check(xnp.spacing(s), np.spacing(s), np.float32, rtol=0, atol=0)
    check(xnp.nextafter(s, np.float32(2)), np.nextafter(s, np.float32(2)), rtol=0, atol=0)
    with pytest.raises(TypeError, match="integer"):
        xnp.ldexp(xs, 2.5)


def test_logaddexp_hypot_extremes():
    a = np.array([1e30, -1e30, np.inf, -np.inf, np.inf, 0.0, np.nan, 88.0], np.float32)
    b = np.array([1e30, -1e30, np.inf, -np.inf, -np.inf, 0.0, 1.0, 88.0], np.float32)
    check(xnp.logaddexp(a, b), np.logaddexp(a, b), np.float32)
    check(xnp.logaddexp2(a, b), np.logaddexp2(a, b), np.float32)
    check(xnp.hypot(a, b), _np(np.hypot, a, b), np.float32)
    check(xnp.hypot(np.float32([3e30, 0.0, np.nan]), np.float32([4e30, 0.0, np.inf])),
          [5e30, 0.0, np.inf])


def test_sinc_i0():
    x = np.array([0.0, -0.0, 1e-20, 0.5, 1.0, -2.5, 30.0, 90.0, np.inf, np.nan], np.float32)
    check(xnp.sinc(x), np.sinc(x), np.float32)
    check(xnp.i0(x), _np(np.i0, x.astype(np.float64)).astype(np.float32), np.float32,
          rtol=2e-6)
    with pytest.raises(TypeError, match="complex"):
        xnp.i0(np.array([1j]))


def test_complex_inputs():
    z = np.array([1 + 2j, -3 - 4j, 0j, complex(np.nan, 0), -2 + 0j, 0.5 - 1j], np.complex64)
    names = ("sqrt", "exp", "log", "sin", "tanh", "absolute", "sign", "square", "conj", "real",
             "imag", "angle", "isnan", "isinf", "isfinite", "negative", "reciprocal",
             "iscomplex", "isreal", "exp2", "log10", "rint")
    outs = xtrace.jit(lambda v: [getattr(xnp, n)(v) for n in names])(z)
    for name, got in zip(names, outs):
        check(got, _np(getattr(np, name), z), _np(getattr(np, name), z).dtype, rtol=1e-5,
              atol=1e-5)
    check(xnp.sqrt(z), np.sqrt(z), np.complex64, rtol=1e-6)               # eagerly
    check(xnp.angle(z, deg=True), np.angle(z, deg=True), np.float32)
    zz = np.array([1 + 2j, 1 + 1j, 2 + 0j, 1 + 1j], np.complex64)
    ww = np.array([1 + 1j, 1 + 1j, 1 + 5j, 1 + 2j], np.complex64)
    names = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "maximum",
             "minimum", "add", "multiply", "true_divide", "power")
    outs = xtrace.jit(lambda u, v: [getattr(xnp, n)(u, v) for n in names])(zz, ww)
    for name, got in zip(names, outs):
        check(got, getattr(np, name)(zz, ww), rtol=1e-5)
    check(xnp.nan_to_num(np.array([complex(np.nan, np.inf), complex(-np.inf, 1)], np.complex64)),
          np.nan_to_num(np.array([complex(np.nan, np.inf), complex(-np.inf, 1)], np.complex64)))
    check(xnp.logical_and(np.array([1j, 0j, 0j]), np.array([1, 1, 0])), [True, False, False])
    check(xnp.logical_not(np.array([1j, 0j])), [False, True])
    for fn in (xnp.isposinf, xnp.signbit, xnp.copysign, xnp.hypot, xnp.arctan2):
        with pytest.raises(TypeError, match="complex"):
            fn(z, z) if fn in (xnp.copysign, xnp.hypot, xnp.arctan2) else fn(z)


def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -0.0], np.float32)
    check(xnp.nan_to_num(x), np.nan_to_num(x), np.float32)
    check(xnp.nan_to_num(x, nan=-1, posinf=9.5, neginf=-9.5),
          np.nan_to_num(x, nan=-1, posinf=9.5, neginf=-9.5), np.float32)
    h = x.astype(np.float16)
    check(xnp.nan_to_num(h), np.nan_to_num(h), np.float16)
    check(xtrace.jit(lambda v: xnp.nan_to_num(v, posinf=7.0))(x), np.nan_to_num(x, posinf=7.0))
    check(xnp.nan_to_num(np.array([1, 2], np.int8)), [1, 2], np.int8)


def test_classification_and_misc():
    assert xnp.iscomplexobj(1j) and xnp.iscomplexobj([1, 2j])
    assert xnp.iscomplexobj(xnp.zeros(2, np.complex64)) and not xnp.iscomplexobj(np.ones(2))
    assert xnp.isrealobj(xnp.zeros(2)) and not xnp.isrealobj(np.array([1j]))
    assert xnp.isscalar(1.0) and xnp.isscalar(np.float32(1)) and xnp.isscalar(xnp.asarray(2))
    assert not xnp.isscalar([1]) and not xnp.isscalar(xnp.zeros(2)) and not xnp.isscalar(None)
    check(xnp.iscomplex(np.array([1 + 0j, 1j])), [False, True])
    check(xnp.isreal(np.array([1 + 0j, 1j])), [True, False])
    check(xnp.isreal(np.array([1.0, 2.0])), [True, True])
    for a, b, casting in ((np.int32, np.float32, "safe"), (np.int8, np.float16, "safe"),
                          (np.float32, np.int32, "unsafe"), (np.int64, np.float64, "same_kind"),
                          (np.int8, np.uint8, "same_kind"), (np.float64, np.float32, "safe"),
                          (np.uint8, np.int16, "safe"), ("float32", "float64", "equiv")):
        assert xnp.can_cast(a, b, casting) == np.can_cast(a, b, casting), (a, b, casting)
    assert xnp.can_cast(xnp.zeros(2, np.int8), np.int16)
    with pytest.raises(TypeError, match="Python"):
        xnp.can_cast(1, np.int8)


def test_bitwise_count_gcd_lcm():
    x = np.array([-128, -1, 0, 1, 127, 85], np.int8)
    check(xnp.bitwise_count(x), np.bitwise_count(x), np.uint8)
    check(xnp.bitwise_count(np.array([2**31 - 1, -1], np.int32)), [31, 1], np.uint8)
    a = np.array([12, -8, 0, 0, 17, 2**20, -2**31], np.int32)
    b = np.array([-18, 12, 5, 0, 5, 2**12 * 3, 0], np.int32)
    check(xnp.gcd(a, b), np.gcd(a, b), np.int32)
    check(xnp.lcm(a[:-1], b[:-1]), np.lcm(a[:-1], b[:-1]), np.int32)
    check(xnp.gcd(np.int32(12), 18), 6, np.int32)
    check(xtrace.jit(xnp.gcd)(a[:, None], b[None, :]), np.gcd(a[:, None], b[None, :]))
    with pytest.raises(TypeError, match="integer"):
        xnp.gcd(np.float32([1.0]), 2)


# ---------------------------------------------------------------------------------------------
# where, select, piecewise


def test_where():
    c = np.array([[True], [False]])
    x = np.arange(3, dtype=np.float32)
    check(xnp.where(c, x, -1.0), np.where(c, x, -1.0), np.float32)     # broadcast all three
    check(xnp.where(np.array([0, 2, 0]), 1, x), np.where(np.array([0, 2, 0]), 1, x))
    check(xnp.where(x > 0.5, x, np.int8(7)), np.where(x > 0.5, x, 7), np.float32)
    check(xnp.where(True, 1, 2), 1, np.int32)
    xa = xnp.asarray(x)
    check(xnp.where(xa > 0.5, xa, xa), x)                                # the fast path
    run = xtrace.jit(lambda c, a: xnp.where(c, a, xnp.nan))
    check(run(np.array([True, False, True]), x), [0.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="both"):
        xnp.where(c, x)
    with pytest.raises(ValueError, match="broadcast"):
        xnp.where(np.ones(4, bool), x, x)


def test_select():
    x = np.arange(-3, 4, dtype=np.int32)
    conds = [x < 0, x > 1, x < 2]
    choices = [x * 10, x * 100, np.float32(0.5)]
    check(xnp.select(conds, choices, default=-1), np.select(conds, choices, default=-1))
    check(xnp.select([x < 0], [x]), np.select([x < 0], [x]), np.int32)
    check(xnp.select([np.array([True, False])[:, None]], [np.ones((1, 3))], 5.0),
          np.select([np.array([True, False])[:, None]], [np.ones((1, 3))], 5.0))
    run = xtrace.jit(lambda v: xnp.select([v < 0, v > 1], [-v, v * 2], 0))
    check(run(x), np.select([x < 0, x > 1], [-x, x * 2], 0), np.int32)
    with pytest.raises(ValueError, match="same length"):
        xnp.select([x < 0], [x, x])
    with pytest.raises(ValueError, match="non-empty"):
        xnp.select([], [])


def test_piecewise():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0], np.float32)
    conds = [x < 0, x > 0]
    funcs = [lambda v: -v, lambda v: v * 10]
    check(xnp.piecewise(x, conds, funcs), np.piecewise(x, conds, funcs), np.float32)
    funcs3 = [lambda v: -v, lambda v: v * 10, 7.0]                        # "otherwise"
    check(xnp.piecewise(x, conds, funcs3), np.piecewise(x, conds, funcs3), np.float32)
    overlap = [x < 1, x > -1]                                            # later ones win
    check(xnp.piecewise(x, overlap, [1.0, 2.0]), np.piecewise(x, overlap, [1.0, 2.0]))
    check(xnp.piecewise(x, x < 0, [lambda v: v ** 2]), np.piecewise(x, x < 0, [lambda v: v ** 2]))
    check(xnp.piecewise(np.array(2.0, np.float32), [True], [lambda v: v * 10]), 20.0)
    i = np.array([-1, 0, 1], np.int32)
    check(xnp.piecewise(i, [i < 0], [1.5, 2.5]), np.piecewise(i, [i < 0], [1.5, 2.5]), np.int32)
    scaled = [lambda v, k: v * k, 0]                                     # extra arguments
    check(xnp.piecewise(x, conds, scaled, 3), np.piecewise(x, conds, scaled, 3))
    run = xtrace.jit(lambda v: xnp.piecewise(v, [v < 0, v > 0], funcs3))
    check(run(x), np.piecewise(x, conds, funcs3))
    with pytest.raises(ValueError, match="2 or 3 functions"):
        xnp.piecewise(x, conds, [1.0])


# ---------------------------------------------------------------------------------------------
# isclose, allclose, array_equal, array_equiv


def test_isclose_allclose():
    a = np.array([1.0, 1e10, np.inf, np.inf, np.nan, 1.0, 0.0, -np.inf], np.float32)
    b = np.array([1.00001, 1.00001e10, np.inf, -np.inf, np.nan, 1.1, 1e-9, -np.inf], np.float32)
    check(xnp.isclose(a, b), np.isclose(a, b))
    check(xnp.isclose(a, b, equal_nan=True), np.isclose(a, b, equal_nan=True))
    check(xnp.isclose(a, b, rtol=0.2, atol=0), np.isclose(a, b, rtol=0.2, atol=0))
    check(xnp.isclose(a[:, None], b[None, :3]), np.isclose(a[:, None], b[None, :3]))
    i = np.array([1, 10, 100, 2**30 + 1])
    j = np.array([2, 10, 103, 2**30])
    check(xnp.isclose(i, j, atol=1), np.isclose(i, j, atol=1))
    check(xnp.isclose(i, j, rtol=0, atol=0), np.isclose(i, j, rtol=0, atol=0))
    z = np.array([1 + 1j, 1 + 2j])
    check(xnp.isclose(z, z + 1e-7), np.isclose(z, z + 1e-7))
    r = xnp.allclose(a[:2], b[:2], rtol=1e-4)
    assert r.shape == () and r.dtype == bool and bool(r)
    assert not bool(xnp.allclose(a, b)) and bool(xnp.allclose(a[4:5], a[4:5], equal_nan=True))
    assert bool(xtrace.jit(xnp.allclose)(a[2:3], b[2:3]))


def test_array_equal_equiv():
    a = np.array([1.0, 2.0, np.nan], np.float32)
    assert not bool(xnp.array_equal(a, a))
    assert bool(xnp.array_equal(a, a, equal_nan=True))
    assert bool(xnp.array_equal(np.array([1, 2]), np.array([1.0, 2.0])))
    assert not bool(xnp.array_equal(a, a[:2]))
    assert not bool(xnp.array_equal(a, "abc"))
    assert bool(xnp.array_equiv(np.array([1, 2]), np.array([[1, 2], [1, 2]])))
    assert not bool(xnp.array_equiv(np.array([1, 2]), np.array([[1, 2], [1, 3]])))
    assert not bool(xnp.array_equiv(np.array([1, 2]), np.array([1, 2, 3])))
    assert bool(xtrace.jit(xnp.array_equal)(a[:2], a[:2]))


# ---------------------------------------------------------------------------------------------
# Logic and comparisons with mixed types


def test_logical_and_comparisons_mixed():
    x = np.array([0.0, np.nan, 2.0, -1.0], np.float32)
    y = np.array([0, 0, 3, 0], np.int8)
    for name in ("logical_and", "logical_or", "logical_xor"):
        check(getattr(xnp, name)(x, y), getattr(np, name)(x, y), bool)
    check(xnp.logical_not(x), np.logical_not(x), bool)
    check(xnp.equal(np.array([True, False]), 1), [True, False])
    check(xnp.less(np.array([1, 200], np.uint8), np.array([-1, 3], np.int8)),
          np.less(np.array([1, 200], np.uint8), np.array([-1, 3], np.int8)))
    check(xnp.greater(np.array([1, 2], np.int32), 1.5), [False, True])
    b = xnp.asarray(np.array([True, False]))
    check(b & True, [True, False]), check(b | False, [True, False]), check(~b, [False, True])


def test_array_operators():
    a = xnp.asarray(np.array([-3, 4, 7], np.int32))
    check(a + 1, [-2, 5, 8], np.int32)
    check(a // 2, [-2, 2, 3]), check(a % -3, [0, -2, -2]), check(-a, [3, -4, -7])
    check(abs(a), [3, 4, 7]), check(a ** 2, [9, 16, 49]), check(2 ** a[1:], [16, 128])
    check(1 / a, 1 / np.array([-3, 4, 7], np.float32), np.float32)
    check(a << 1, [-6, 8, 14]), check(a >> 1, [-2, 2, 3]), check(~a, [2, -5, -8])
    check(a == 4, [False, True, False]), check(3 > a, [True, False, False])


# ---------------------------------------------------------------------------------------------
# 64-bit


def test_x64_sweep(x64):
    x = np.array([-np.inf, -2.5, -0.5, -0.0, 0.0, 0.3, 0.5, 1.5, 2.5, 10.0, np.inf, np.nan])
    names = [n for n in _unary_names("float32", sample=True)
             if n not in ("invert", "bitwise_not", "bitwise_count")] + ["sin", "tanh", "i0",
                                                                       "arccos", "expm1"]
    outs = xtrace.jit(lambda v: {n: getattr(xnp, n)(v) for n in names})(x)
    for n in names:
        want, dt = _unary_expected(n, x)
        check(outs[n], want, dt, rtol=1e-12, atol=1e-13)
    i = np.array([-9, -2, 0, 3, 2**40], np.int64)
    a, b = np.array([7.5, -7.5, -0.0]), np.array([-2.0, 2.0, 3.0])
    tiny = np.array([5e-324, 1e-310, -1.5, 1e300])

    def many(i, a, b, tiny):
        return [xnp.exp(i[:-1]), xnp.floor_divide(i, 2), xnp.power(i, 2),
                xnp.power(i[3:4], i[3:4] * 13), xnp.true_divide(i, 3), xnp.add(i, 1),
                xnp.round(a * 0.37, 2), xnp.frexp(tiny), xnp.ldexp(b, i[:3] * 500),
                xnp.remainder(a, b), xnp.isclose(a, a + 1e-12)]
    outs = xtrace.jit(many)(i, a, b, tiny)
    wants = [(np.exp(i[:-1].astype(np.float64)), np.float64), (i // 2, np.int64),
             (i ** 2, np.int64), ([3 ** 39], np.int64), (i / 3, np.float64),
             (i + 1, np.int64), (np.round(a * 0.37, 2), np.float64), (None, None),
             (np.ldexp(b, i[:3] * 500), np.float64), (np.remainder(a, b), np.float64),
             ([True] * 3, bool)]
    for k, (got, (want, dt)) in enumerate(zip(outs, wants)):
        if want is not None:
            check(got, want, dt, rtol=1e-14, atol=0, signed_zeros=k == 9)
    m, e = outs[7]
    nm, ne = np.frexp(tiny)
    check(m, nm, np.float64, rtol=0), check(e, ne, np.int32)
    assert xnp.exp(1).dtype == np.float64 and xnp.exp(1).weak_type
    check(xnp.floor_divide(i, 2), i // 2, np.int64)                     # eagerly


# ---------------------------------------------------------------------------------------------
# Errors and tracing


@pytest.mark.parametrize("bad,what", [
    ("abc", "string"), (["a", "b"], "strings"), (np.array(["a"]), "strings"),
    (np.array([object()]), "Python objects"), (None, "None"),
    (np.array(["2020-01-01"], "datetime64[D]"), "datetimes"), ({"a": 1}, "dict"),
])
def test_unsupported_operands(bad, what):
    for fn in (xnp.sin, xnp.negative, lambda v: xnp.add(v, 1), lambda v: xnp.where(v, 1, 2),
               lambda v: xnp.clip(v, 0, 1)):
        with pytest.raises(TypeError, match=what):
            fn(bad)


def test_shape_and_dtype_errors():
    with pytest.raises(ValueError, match=r"add: shapes \(3,\), \(4,\) cannot be broadcast"):
        xnp.add(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="remainder.*cannot be broadcast"):
        xnp.remainder(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        xtrace.jit(xnp.hypot)(np.ones(3), np.ones(4))
    b = np.array([True, False])
    with pytest.raises(TypeError, match="boolean subtract"):
        xnp.subtract(b, b)
    with pytest.raises(TypeError, match="boolean negative"):
        xnp.negative(b)
    with pytest.raises(TypeError, match="sign.*bool"):
        xnp.sign(b)
    with pytest.raises(TypeError, match="integer and bool"):
        xnp.invert(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="integer and bool"):
        xnp.bitwise_and(np.ones(2, np.float32), 1)
    with pytest.raises(TypeError, match="integer arrays"):
        xnp.left_shift(np.ones(2, np.float32), 1)
    with pytest.raises(TypeError, match="cbrt"):
        xnp.cbrt(np.array([1j]))


def test_traced_programs_stay_flat():
    """Under jit the multi-primitive functions are inlined (no nested programs)."""
    text = str(xtrace.make_jaxpr(lambda a, b: xnp.remainder(a, b) + xnp.logaddexp(a, b))(
        np.ones(3, np.float32), np.ones(3, np.float32)))
    assert "jit_call" not in text and "rem" in text


def test_eager_kernels_cache_and_keep_weak_types():
    x = xnp.asarray(np.array([1.5, -2.5], np.float32))
    r1, r2 = xnp.remainder(x, 2.0), xnp.remainder(x, 3.0)          # same program, new scalar
    check(r1, np.remainder(np.asarray(x), np.float32(2))), check(r2, [1.5, 0.5])
    w = xnp.asarray(2.0)
    assert xnp.remainder(w, 1.5).weak_type and xnp.hypot(w, 1.0).weak_type
    assert not xnp.hypot(x, 1.0).weak_type
