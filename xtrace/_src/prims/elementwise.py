"""Elementwise primitives: arithmetic, math functions, comparisons, logic, select, clamp, casts."""
from __future__ import annotations

import builtins
import enum
import functools
import math
from typing import Any

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.prims.common import (ANY, FLOAT, INEXACT, INTEGRAL, NUM, broadcast_rank0,
                                      check_kind, define, kind, lax_args, same_shapes_dtypes)


def _ew_abstract(name, kinds, out_dtype, *avals, **params):
    same_shapes_dtypes(name, avals)
    for a in avals:
        check_kind(name, a, kinds)
    a0 = avals[0]
    weak = all(a.weak_type for a in avals)
    if out_dtype is None:
        return ShapedArray(a0.shape, a0.dtype, weak)
    dt = out_dtype(a0.dtype)
    return ShapedArray(a0.shape, dt, weak and dt == a0.dtype)


def _ew_lower(hlo, ctx, *xs, **params):
    return ctx.op1(hlo, xs)


def elementwise(name: str, hlo: str | None, kinds, nargs: int, *, out_dtype=None, lower=None):
    """Define an elementwise primitive and return it together with its lax wrapper."""
    p = define(name, functools.partial(_ew_abstract, name, kinds, out_dtype),
               lower or functools.partial(_ew_lower, hlo))

    if nargs == 1:
        def wrapper(x):
            return p.bind(*lax_args(x))
    else:
        def wrapper(*args):
            return p.bind(*broadcast_rank0(lax_args(*args)))
    wrapper.__name__ = name
    wrapper.__doc__ = f"Elementwise ``{name}`` (the ``{name}`` primitive)."
    wrapper.primitive = p  # lets xtrace.numpy bind directly when operands already agree
    return p, wrapper


def _real_dtype(dt):
    return {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)


def _lower_chlo(name):
    return functools.partial(_ew_lower, f"chlo.{name}")


def _const_like(ctx, value, aval):
    return ctx.constant(value, ShapedArray(aval.shape, aval.dtype))


# ---- arithmetic ----
add_p, add = elementwise("add", "stablehlo.add", NUM, 2)
sub_p, sub = elementwise("sub", "stablehlo.subtract", NUM, 2)
mul_p, mul = elementwise("mul", "stablehlo.multiply", ANY, 2)
div_p, div = elementwise("div", "stablehlo.divide", NUM, 2)
rem_p, rem = elementwise("rem", "stablehlo.remainder", ("int", "uint", "float"), 2)
pow_p, _pow_same_dtype = elementwise("pow", "stablehlo.power", INEXACT, 2)


def _pow_abstract(x, y):
    """As ``jax.lax.pow``: an inexact base, and an exponent of the same dtype or of any
    integer dtype (the result has the base's dtype)."""
    if kind(y.dtype) not in ("int", "uint"):
        return _ew_abstract("pow", INEXACT, None, x, y)
    if x.shape != y.shape:
        raise TypeError(f"pow got incompatible shapes for broadcasting: {x.shape}, {y.shape}")
    check_kind("pow", x, INEXACT)
    return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)


def _pow_lower(ctx, x, y):
    ax, ay = ctx.avals_in
    if ay.dtype != ax.dtype:  # an integer exponent: XLA's power wants one element type
        y = ctx.op1("stablehlo.convert", [y], ShapedArray(ay.shape, ax.dtype))
    return ctx.op1("stablehlo.power", [x, y], operand_avals=[ax, ax])


pow_p.abstract_eval, pow_p.lower = _pow_abstract, _pow_lower


def pow(x, y):
    """Elementwise ``x ** y`` (``jax.lax.pow``): ``x`` inexact, ``y`` of ``x``'s dtype or an
    integer dtype. A Python float base meeting an integer exponent is a weak float."""
    if type(x) in (float, builtins.complex) and not dtypes.is_python_scalar(y) and kind(
            get_aval(y).dtype) in ("int", "uint"):
        return pow_p.bind(*broadcast_rank0([x, *lax_args(y)]))
    return pow_p.bind(*broadcast_rank0(lax_args(x, y)))


pow.primitive = pow_p
max_p, max = elementwise("max", "stablehlo.maximum", ANY, 2)
min_p, min = elementwise("min", "stablehlo.minimum", ANY, 2)
neg_p, neg = elementwise("neg", "stablehlo.negate", NUM, 1)
sign_p, sign = elementwise("sign", "stablehlo.sign", NUM, 1)
abs_p, abs = elementwise("abs", "stablehlo.abs", NUM, 1, out_dtype=_real_dtype)
nextafter_p, nextafter = elementwise("nextafter", "chlo.next_after", FLOAT, 2)
atan2_p, atan2 = elementwise("atan2", "stablehlo.atan2", INEXACT, 2)


def _lower_uint_sign(ctx, x):
    a = ctx.avals_in[0]
    if kind(a.dtype) == "uint":  # stablehlo.sign rejects unsigned: sign(x) = min(x, 1)
        return ctx.op1("stablehlo.minimum", [x, _const_like(ctx, 1, a)])
    return ctx.op1("stablehlo.sign", [x])


sign_p.lower = _lower_uint_sign


def _lower_abs(ctx, x):
    if kind(ctx.avals_in[0].dtype) == "uint":
        return x
    return ctx.op1("stablehlo.abs", [x])


abs_p.lower = _lower_abs


def complex_minmax(em, x, y, aval, direction):
    """Emit the lexicographic max (``direction`` "GT") or min ("LT") of complex ``x`` and ``y``
    of type ``aval``: compare real parts, then imaginary parts on ties (as JAX and NumPy do;
    XLA's own complex maximum/minimum does not)."""
    part = ShapedArray(aval.shape, _real_dtype(aval.dtype))
    pred = ShapedArray(aval.shape, dtypes.bool_)

    def cmp(u, v, d):
        return em.op("stablehlo.compare", [u, v], [part, part], [pred],
                     f"comparison_direction = #stablehlo<comparison_direction {d}>, "
                     "compare_type = #stablehlo<comparison_type FLOAT>")[0]

    rx, ry = (em.op("stablehlo.real", [v], [aval], [part])[0] for v in (x, y))
    ix, iy = (em.op("stablehlo.imag", [v], [aval], [part])[0] for v in (x, y))
    pick_x = em.op("stablehlo.select", [cmp(rx, ry, "EQ"), cmp(ix, iy, direction),
                                        cmp(rx, ry, direction)], [pred] * 3, [pred])[0]
    return em.op("stablehlo.select", [pick_x, x, y], [pred, aval, aval], [aval])[0]


def _minmax_lower(hlo, direction, ctx, x, y):
    a = ctx.avals_in[0]
    if kind(a.dtype) == "complex":
        return complex_minmax(ctx.emitter, x, y, a, direction)
    return ctx.op1(hlo, [x, y])


max_p.lower = functools.partial(_minmax_lower, "stablehlo.maximum", "GT")
min_p.lower = functools.partial(_minmax_lower, "stablehlo.minimum", "LT")

# ---- transcendental ----
exp_p, exp = elementwise("exp", "stablehlo.exponential", INEXACT, 1)
expm1_p, expm1 = elementwise("expm1", "stablehlo.exponential_minus_one", INEXACT, 1)
log_p, log = elementwise("log", "stablehlo.log", INEXACT, 1)
log1p_p, log1p = elementwise("log1p", "stablehlo.log_plus_one", INEXACT, 1)
sin_p, sin = elementwise("sin", "stablehlo.sine", INEXACT, 1)
cos_p, cos = elementwise("cos", "stablehlo.cosine", INEXACT, 1)
tan_p, tan = elementwise("tan", "stablehlo.tan", INEXACT, 1)
tanh_p, tanh = elementwise("tanh", "stablehlo.tanh", INEXACT, 1)
logistic_p, logistic = elementwise("logistic", "stablehlo.logistic", INEXACT, 1)
sqrt_p, sqrt = elementwise("sqrt", "stablehlo.sqrt", INEXACT, 1)
rsqrt_p, rsqrt = elementwise("rsqrt", "stablehlo.rsqrt", INEXACT, 1)
cbrt_p, cbrt = elementwise("cbrt", "stablehlo.cbrt", FLOAT, 1)
asin_p, asin = elementwise("asin", None, INEXACT, 1, lower=_lower_chlo("asin"))
acos_p, acos = elementwise("acos", None, INEXACT, 1, lower=_lower_chlo("acos"))
atan_p, atan = elementwise("atan", None, INEXACT, 1, lower=_lower_chlo("atan"))
sinh_p, sinh = elementwise("sinh", None, INEXACT, 1, lower=_lower_chlo("sinh"))
cosh_p, cosh = elementwise("cosh", None, INEXACT, 1, lower=_lower_chlo("cosh"))
asinh_p, asinh = elementwise("asinh", None, INEXACT, 1, lower=_lower_chlo("asinh"))
acosh_p, acosh = elementwise("acosh", None, INEXACT, 1, lower=_lower_chlo("acosh"))
atanh_p, atanh = elementwise("atanh", None, INEXACT, 1, lower=_lower_chlo("atanh"))
erf_p, erf = elementwise("erf", None, FLOAT, 1, lower=_lower_chlo("erf"))
erfc_p, erfc = elementwise("erfc", None, FLOAT, 1, lower=_lower_chlo("erfc"))
erf_inv_p, erf_inv = elementwise("erf_inv", None, FLOAT, 1, lower=_lower_chlo("erf_inv"))
lgamma_p, lgamma = elementwise("lgamma", None, FLOAT, 1, lower=_lower_chlo("lgamma"))
digamma_p, digamma = elementwise("digamma", None, FLOAT, 1, lower=_lower_chlo("digamma"))
# polygamma(m, x): the m-th derivative of digamma; m is a float array of integer values.
polygamma_p, polygamma = elementwise("polygamma", None, FLOAT, 2, lower=_lower_chlo("polygamma"))
# zeta(x, q): the Hurwitz zeta function sum_k (q + k)**-x; bessel_i1e: exp(-|x|) I_1(x).
zeta_p, zeta = elementwise("zeta", None, FLOAT, 2, lower=_lower_chlo("zeta"))
bessel_i1e_p, bessel_i1e = elementwise("bessel_i1e", None, FLOAT, 1,
                                       lower=_lower_chlo("bessel_i1e"))


def _lower_exp2(ctx, x):
    a = ctx.avals_in[0]
    if kind(a.dtype) == "float":  # XLA's power is correctly rounded; exp(x * log 2) is not
        return ctx.op1("stablehlo.power", [_const_like(ctx, 2.0, a), x])  # (bf16: 2% off)
    return ctx.op1("stablehlo.exponential",
                   [ctx.op1("stablehlo.multiply", [x, _const_like(ctx, math.log(2.0), a)])])


exp2_p, exp2 = elementwise("exp2", None, INEXACT, 1, lower=_lower_exp2)

# ---- rounding ----
floor_p, floor = elementwise("floor", "stablehlo.floor", FLOAT, 1)
ceil_p, ceil = elementwise("ceil", "stablehlo.ceil", FLOAT, 1)


def _round_abstract(x, rounding_method=0):
    if rounding_method not in (0, 1):
        raise ValueError("round: rounding_method must be 0 (away from zero) or 1 (to even)")
    return _ew_abstract("round", FLOAT, None, x)


def _round_lower(ctx, x, rounding_method=0):
    return ctx.op1("stablehlo.round_nearest_afz" if rounding_method == 0
                   else "stablehlo.round_nearest_even", [x])


round_p = define("round", _round_abstract, _round_lower)


class RoundingMethod(enum.IntEnum):
    """``round``'s tie-breaking rule."""
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x, rounding_method: int = 0):
    """Round to nearest; ``rounding_method`` 0 = away from zero (lax default), 1 = to even."""
    return round_p.bind(*lax_args(x), rounding_method=int(rounding_method))


is_finite_p, is_finite = elementwise("is_finite", "stablehlo.is_finite", FLOAT, 1,
                                     out_dtype=lambda dt: dtypes.bool_)


# ---- powers ----
def _integer_pow_abstract(x, y):
    if not isinstance(y, int):
        raise TypeError(f"integer_pow needs a Python int exponent, got {y!r}")
    check_kind("integer_pow", x, NUM)
    if y < 0 and kind(x.dtype) in ("int", "uint"):
        raise TypeError(f"integer_pow: integers cannot be raised to negative powers, got "
                        f"{x.str_short()} ** {y}")
    return x


def _integer_pow_lower(ctx, x, y):
    a = ctx.avals_in[0]
    if y == 0:
        return _const_like(ctx, 1, a)
    n, acc, base = builtins_abs(y), None, x
    while n:  # square-and-multiply
        if n & 1:
            acc = base if acc is None else ctx.op1("stablehlo.multiply", [acc, base])
        n >>= 1
        if n:
            base = ctx.op1("stablehlo.multiply", [base, base])
    if y < 0:
        acc = ctx.op1("stablehlo.divide", [_const_like(ctx, 1, a), acc])
    return acc


builtins_abs = __builtins__["abs"] if isinstance(__builtins__, dict) else __builtins__.abs
integer_pow_p = define("integer_pow", _integer_pow_abstract, _integer_pow_lower)


def integer_pow(x, y: int):
    """``x ** y`` for a static Python int ``y``."""
    return integer_pow_p.bind(*lax_args(x), y=int(y))


def reciprocal(x):
    """Elementwise ``1 / x`` (``integer_pow(x, -1)``, as in JAX)."""
    return integer_pow(x, -1)


# ---- reduce_precision: round to a float format with fewer exponent/mantissa bits ----
def _reduce_precision_abstract(x, *, exponent_bits, mantissa_bits):
    check_kind("reduce_precision", x, FLOAT)
    return x


def _reduce_precision_lower(ctx, x, *, exponent_bits, mantissa_bits):
    return ctx.op1("stablehlo.reduce_precision", [x],
                   attrs=f"exponent_bits = {exponent_bits} : i32, "
                         f"mantissa_bits = {mantissa_bits} : i32")


reduce_precision_p = define("reduce_precision", _reduce_precision_abstract,
                            _reduce_precision_lower)


def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
    """Round ``operand`` to the nearest value of a float format with ``exponent_bits`` and
    ``mantissa_bits`` (e.g. 5 and 10 for float16), keeping its dtype."""
    import operator
    e, m = operator.index(exponent_bits), operator.index(mantissa_bits)
    if e < 1 or m < 0:
        raise ValueError(f"reduce_precision: exponent_bits must be >= 1 and mantissa_bits >= 0,"
                         f" got {e} and {m}")
    return reduce_precision_p.bind(*lax_args(operand), exponent_bits=e, mantissa_bits=m)


def mulhi(x, y, /):
    """Elementwise high half of the double-width integer product ``x * y`` (as JAX computes
    it: half-width partial products in the unsigned type, then a sign correction)."""
    x, y = broadcast_rank0(lax_args(x, y))
    xa, ya = get_aval(x), get_aval(y)
    if xa.dtype != ya.dtype or not dtypes.is_int(xa.dtype):
        raise TypeError(f"mulhi requires integer arguments of the same dtype, got "
                        f"{xa.dtype.name} and {ya.dtype.name}")
    dt = xa.dtype
    bits = dt.itemsize * 8
    udt = np.dtype(f"uint{bits}")
    h = bits // 2
    c = lambda v: np.asarray(v, udt)[()]
    xu, yu = bitcast_convert_type(x, udt), bitcast_convert_type(y, udt)
    mask = c(2 ** h - 1)
    xl, xh = bitwise_and(xu, mask), shift_right_logical(xu, c(h))
    yl, yh = bitwise_and(yu, mask), shift_right_logical(yu, c(h))
    lo_lo, lo_hi, hi_lo, hi_hi = mul(xl, yl), mul(xl, yh), mul(xh, yl), mul(xh, yh)
    cross = add(add(bitwise_and(lo_hi, mask), bitwise_and(hi_lo, mask)),
                shift_right_logical(lo_lo, c(h)))
    hi = add(hi_hi, add(shift_right_logical(lo_hi, c(h)),
                        add(shift_right_logical(hi_lo, c(h)), shift_right_logical(cross, c(h)))))
    hi = bitcast_convert_type(hi, dt)
    if dtypes.is_signed_int(dt):
        sh = np.asarray(bits - 1, dt)[()]
        hi = add(hi, add(mul(shift_right_arithmetic(x, sh), y),
                         mul(shift_right_arithmetic(y, sh), x)))
    return hi


def _square_lower(ctx, x):
    return ctx.op1("stablehlo.multiply", [x, x])


square_p, square = elementwise("square", None, NUM, 1, lower=_square_lower)

# ---- complex parts ----
real_p, real = elementwise("real", "stablehlo.real", ("complex",), 1, out_dtype=_real_dtype)
imag_p, imag = elementwise("imag", "stablehlo.imag", ("complex",), 1, out_dtype=_real_dtype)


def _complex_abstract(x, y):
    same_shapes_dtypes("complex", [x, y])
    check_kind("complex", x, FLOAT)
    if x.dtype not in (dtypes.float32, dtypes.float64):
        raise TypeError(f"complex requires float32 or float64 parts, got {x.dtype.name}")
    dt = dtypes.complex64 if x.dtype == dtypes.float32 else dtypes.complex128
    return ShapedArray(x.shape, dt, x.weak_type and y.weak_type)


complex_p = define("complex", _complex_abstract,
                   lambda ctx, x, y: ctx.op1("stablehlo.complex", [x, y]))


def complex(x, y):
    return complex_p.bind(*broadcast_rank0(lax_args(x, y)))


def _conj_lower(ctx, x):
    if kind(ctx.avals_in[0].dtype) != "complex":
        return x
    a = ctx.avals_in[0]
    part = ShapedArray(a.shape, _real_dtype(a.dtype))
    re = ctx.op1("stablehlo.real", [x], part)
    im = ctx.op1("stablehlo.imag", [x], part)
    nim = ctx.op1("stablehlo.negate", [im], part)
    return ctx.op1("stablehlo.complex", [re, nim], operand_avals=[part, part])


conj_p, _conj_same_dtype = elementwise("conj", None, NUM, 1, lower=_conj_lower)


def conj(x):
    """Complex conjugate. As ``jax.lax.conj``, a float32/float64 operand gives its complex
    dtype (imaginary part 0); other real dtypes are a ``TypeError``."""
    x, = lax_args(x)
    aval = get_aval(x)
    if aval.dtype in (dtypes.float32, dtypes.float64):
        cdt = dtypes.complex64 if aval.dtype == dtypes.float32 else dtypes.complex128
        return convert_element_type(x, cdt, weak_type=aval.weak_type)
    if kind(aval.dtype) != "complex":
        raise TypeError(f"conj does not accept dtype {aval.dtype.name}; it accepts float32, "
                        "float64 and complex dtypes")
    return conj_p.bind(x)


conj.primitive = conj_p


# ---- comparisons ----
def _compare_type(dt) -> str:
    k = kind(dt)
    return {"float": "FLOAT", "complex": "FLOAT", "int": "SIGNED", "uint": "UNSIGNED",
            "bool": "UNSIGNED"}[k]


def _compare_lower(direction, ctx, x, y):
    ct = _compare_type(ctx.avals_in[0].dtype)
    return ctx.op1("stablehlo.compare", [x, y],
                   attrs=f"comparison_direction = #stablehlo<comparison_direction {direction}>, "
                         f"compare_type = #stablehlo<comparison_type {ct}>")


def _comparison(name, direction, kinds):
    return elementwise(name, None, kinds, 2, out_dtype=lambda dt: dtypes.bool_,
                       lower=functools.partial(_compare_lower, direction))


ORDERED = ("bool", "int", "uint", "float")
eq_p, eq = _comparison("eq", "EQ", ANY)
ne_p, ne = _comparison("ne", "NE", ANY)
lt_p, lt = _comparison("lt", "LT", ORDERED)
le_p, le = _comparison("le", "LE", ORDERED)
gt_p, gt = _comparison("gt", "GT", ORDERED)
ge_p, ge = _comparison("ge", "GE", ORDERED)

# ---- logic and bits ----
and_p, bitwise_and = elementwise("and", "stablehlo.and", INTEGRAL, 2)
or_p, bitwise_or = elementwise("or", "stablehlo.or", INTEGRAL, 2)
xor_p, bitwise_xor = elementwise("xor", "stablehlo.xor", INTEGRAL, 2)
not_p, bitwise_not = elementwise("not", "stablehlo.not", INTEGRAL, 1)
population_count_p, population_count = elementwise(
    "population_count", "stablehlo.popcnt", ("int", "uint"), 1)
clz_p, clz = elementwise("clz", "stablehlo.count_leading_zeros", ("int", "uint"), 1)
shift_left_p, shift_left = elementwise("shift_left", "stablehlo.shift_left", ("int", "uint"), 2)
shift_right_arithmetic_p, shift_right_arithmetic = elementwise(
    "shift_right_arithmetic", "stablehlo.shift_right_arithmetic", ("int", "uint"), 2)
shift_right_logical_p, shift_right_logical = elementwise(
    "shift_right_logical", "stablehlo.shift_right_logical", ("int", "uint"), 2)


# ---- select_n and clamp ----
def _select_n_abstract(which, *cases):
    if not cases:
        raise TypeError("select_n needs at least one case")
    same_shapes_dtypes("select_n", cases)
    if which.dtype not in (dtypes.bool_, dtypes.int32):
        raise TypeError(f"select_n: the selector must be bool or int32, got {which.dtype.name}")
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise TypeError("select_n: a bool selector allows at most two cases")
    if which.shape not in ((), cases[0].shape):
        raise TypeError(f"select_n: selector shape {which.shape} must be scalar or match the "
                        f"cases' shape {cases[0].shape}")
    return ShapedArray(cases[0].shape, cases[0].dtype, all(c.weak_type for c in cases))


def _select_n_lower(ctx, which, *cases):
    wa = ctx.avals_in[0]
    out = ctx.avals_out[0]
    if len(cases) == 1:
        return cases[0]
    pred_aval = ShapedArray(wa.shape, dtypes.bool_)

    def pick(lo, hi):  # cases[lo:hi]; the predicate is true when the upper half is chosen
        if hi - lo == 1:
            return cases[lo]
        mid = (lo + hi) // 2
        if wa.dtype == dtypes.bool_:
            pred = which
        else:
            pred = ctx.op1("stablehlo.compare",
                           [which, ctx.constant(mid, ShapedArray(wa.shape, wa.dtype))],
                           pred_aval, "comparison_direction = #stablehlo<comparison_direction "
                           "GE>, compare_type = #stablehlo<comparison_type SIGNED>",
                           operand_avals=[wa, wa])
        return ctx.op1("stablehlo.select", [pred, pick(mid, hi), pick(lo, mid)], out,
                       operand_avals=[pred_aval, out, out])

    return pick(0, len(cases))


select_n_p = define("select_n", _select_n_abstract, _select_n_lower)


def select_n(which, *cases):
    """``cases[which]`` elementwise; ``which`` is bool (2 cases) or int32."""
    args = lax_args(*cases)
    return select_n_p.bind(*lax_args(which), *args)


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (lax.select)."""
    return select_n(pred, on_false, on_true)


def _clamp_abstract(lo, x, hi):
    for name, a in (("min", lo), ("max", hi)):
        if a.dtype != x.dtype:
            raise TypeError(f"clamp: {name} has dtype {a.dtype.name} but the operand has "
                            f"{x.dtype.name}")
        if a.shape not in ((), x.shape):
            raise TypeError(f"clamp: {name} shape {a.shape} must be scalar or {x.shape}")
    check_kind("clamp", x, ("int", "uint", "float"))
    return x


def _clamp_lower(ctx, lo, x, hi):
    return ctx.op1("stablehlo.clamp", [lo, x, hi])


clamp_p = define("clamp", _clamp_abstract, _clamp_lower)


def clamp(min, x, max):
    """Clamp ``x`` to [min, max] (lax argument order)."""
    x, = lax_args(x)
    lo, _ = lax_args(min, x)
    hi, _ = lax_args(max, x)
    return clamp_p.bind(lo, x, hi)


# ---- dtype conversion ----
def _convert_abstract(x, new_dtype, weak_type):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_lower(ctx, x, new_dtype, weak_type):
    a = ctx.avals_in[0]
    out = ctx.avals_out[0]
    if a.dtype == new_dtype:
        return x
    src_k, dst_k = kind(a.dtype), kind(new_dtype)
    if src_k == "complex" and dst_k == "bool":  # nonzero if either part is
        zero = ctx.constant(0, ShapedArray(a.shape, a.dtype))
        return ctx.op1("stablehlo.compare", [x, zero], out,
                       "comparison_direction = #stablehlo<comparison_direction NE>, "
                       "compare_type = #stablehlo<comparison_type FLOAT>")
    if src_k == "complex" and dst_k != "complex":
        part = ShapedArray(a.shape, _real_dtype(a.dtype))
        x = ctx.op1("stablehlo.real", [x], part)
        a = part
    if dst_k == "bool":
        zero = ctx.constant(0, ShapedArray(a.shape, a.dtype))
        ct = _compare_type(a.dtype)
        return ctx.op1("stablehlo.compare", [x, zero], out,
                       f"comparison_direction = #stablehlo<comparison_direction NE>, "
                       f"compare_type = #stablehlo<comparison_type {ct}>", operand_avals=[a, a])
    return ctx.op1("stablehlo.convert", [x], out, operand_avals=[a])


convert_element_type_p = define("convert_element_type", _convert_abstract, _convert_lower)


def convert_element_type(x, new_dtype, weak_type: bool = False):
    """Cast ``x`` to ``new_dtype`` (canonicalized: 64-bit only with x64 enabled)."""
    new_dtype = dtypes.canonicalize_dtype(new_dtype)
    if dtypes.is_python_scalar(x):
        return convert_element_type_p.bind(np.asarray(x, dtype=dtypes.python_scalar_dtype(x)),
                                           new_dtype=new_dtype, weak_type=bool(weak_type))
    x, = lax_args(x)
    from xtrace._src.core import get_aval
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == bool(weak_type) and hasattr(x, "aval"):
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))


def _bitcast_abstract(x, new_dtype):
    src, dst = x.dtype.itemsize, new_dtype.itemsize
    if src == dst:
        shape = x.shape
    elif src > dst:
        shape = x.shape + (src // dst,)
    else:
        if not x.shape or x.shape[-1] != dst // src:
            raise TypeError(f"bitcast_convert_type from {x.dtype.name} to {new_dtype.name} "
                            f"needs a last dimension of {dst // src}, got shape {x.shape}")
        shape = x.shape[:-1]
    if x.dtype != new_dtype and any(kind(d) in ("bool", "complex") for d in (x.dtype, new_dtype)):
        raise TypeError(f"bitcast_convert_type does not support bool or complex values unless "
                        f"the operand and destination types match, got {x.dtype.name} to "
                        f"{new_dtype.name}")
    return ShapedArray(shape, new_dtype)


def _bitcast_lower(ctx, x, new_dtype):
    return ctx.op1("stablehlo.bitcast_convert", [x])


bitcast_convert_type_p = define("bitcast_convert_type", _bitcast_abstract, _bitcast_lower)


def bitcast_convert_type(x, new_dtype):
    """Reinterpret the bits of ``x`` as ``new_dtype`` (shape changes when widths differ)."""
    return bitcast_convert_type_p.bind(*lax_args(x),
                                       new_dtype=dtypes.canonicalize_dtype(new_dtype))




# ---------------------------------------------------------------------------------------------
# Differentiation rules (JVP, transpose) of the records above.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero, defjvp, defjvp2, defjvp_zero, is_undefined  # noqa: E402


def _c(x, v):
    """A scalar constant ``v`` of ``x``'s dtype (weak-typed via lax_args)."""
    from xtrace._src.core import get_aval
    return np.asarray(v, get_aval(x).dtype)[()]


def _t_add(ct, x, y):
    return [ct if is_undefined(x) else None, ct if is_undefined(y) else None]


def _t_sub(ct, x, y):
    return [ct if is_undefined(x) else None,
            (Zero(ct.aval) if isinstance(ct, Zero) else neg(ct)) if is_undefined(y) else None]


def _jvp_add(primals, tangents):
    x, y = primals
    tx, ty = tangents
    return add(x, y), ad.add_tangents(tx, ty)


def _jvp_sub(primals, tangents):
    x, y = primals
    tx, ty = tangents
    out = sub(x, y)
    if isinstance(ty, Zero):
        return out, tx
    return out, ad.add_tangents(tx, neg(ty))


add_p.jvp, add_p.transpose = _jvp_add, _t_add
sub_p.jvp, sub_p.transpose = _jvp_sub, _t_sub
defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))


def _t_mul(ct, x, y):
    if isinstance(ct, Zero):
        return [None, None]
    return [mul(ct, y) if is_undefined(x) else None, mul(x, ct) if is_undefined(y) else None]


mul_p.transpose = _t_mul
defjvp2(div_p, lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(div(mul(g, ans), y)))
div_p.transpose = lambda ct, x, y: [None if isinstance(ct, Zero) else div(ct, y), None]
ad.deflinear(neg_p, lambda ct, x: [neg(ct)])
defjvp(rem_p, lambda g, x, y: g,
       lambda g, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))


def _pow_dx(g, ans, x, y):
    if get_aval(y).dtype != get_aval(x).dtype:  # an integer exponent
        y = convert_element_type(y, get_aval(x).dtype)
    return mul(g, mul(y, pow(x, sub(y, _c(y, 1)))))


def _pow_dy(g, ans, x, y):
    safe_x = select(eq(x, _c(x, 0)), full_like_scalar(x, 1), x)
    return mul(g, mul(log(safe_x), ans))


def full_like_scalar(x, v):
    from xtrace._src.core import get_aval
    from xtrace._src.prims.structural import broadcast_in_dim
    a = get_aval(x)
    return broadcast_in_dim(_c(x, v), a.shape, ())


defjvp2(pow_p, _pow_dx, _pow_dy)


def _minmax_partial(cmp):
    # d max(x, y)/dx is 1 where x wins, 0.5 on ties, 0 where y wins (JAX's choice).
    def dx(g, x, y):
        half = full_like_scalar(g, 0.5)
        one = full_like_scalar(g, 1)
        zero = full_like_scalar(g, 0)
        w = select(cmp(x, y), one, select(eq(x, y), half, zero))
        return mul(g, w)

    def dy(g, x, y):
        return dx(g, y, x)
    return dx, dy


defjvp(max_p, *_minmax_partial(gt))
defjvp(min_p, *_minmax_partial(lt))
for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p, nextafter_p, eq_p, ne_p, lt_p, le_p,
           gt_p, ge_p, and_p, or_p, xor_p, not_p, population_count_p, clz_p, shift_left_p,
           shift_right_arithmetic_p, shift_right_logical_p, bitcast_convert_type_p):
    defjvp_zero(_p)


def _abs_jvp(g, ans, x):
    from xtrace._src.core import get_aval
    if dtypes.is_complex(get_aval(x).dtype):
        safe = select(eq(ans, full_like_scalar(ans, 0)), full_like_scalar(ans, 1), ans)
        return real(mul(conj(x), div(g, convert_element_type(safe, get_aval(x).dtype))))
    return mul(g, sign(x))


defjvp2(abs_p, _abs_jvp)
defjvp2(exp_p, lambda g, ans, x: mul(g, ans))
defjvp2(exp2_p, lambda g, ans, x: mul(g, mul(ans, _c(ans, math.log(2.0)))))
defjvp2(expm1_p, lambda g, ans, x: mul(g, add(ans, _c(ans, 1))))
defjvp(log_p, lambda g, x: div(g, x))
defjvp(log1p_p, lambda g, x: div(g, add(x, _c(x, 1))))
defjvp(sin_p, lambda g, x: mul(g, cos(x)))
defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))
defjvp2(tan_p, lambda g, ans, x: mul(g, add(_c(ans, 1), mul(ans, ans))))
defjvp2(tanh_p, lambda g, ans, x: mul(g, sub(_c(ans, 1), mul(ans, ans))))
defjvp2(logistic_p, lambda g, ans, x: mul(g, mul(ans, sub(_c(ans, 1), ans))))
defjvp2(sqrt_p, lambda g, ans, x: div(g, mul(_c(ans, 2), ans)))
defjvp2(rsqrt_p, lambda g, ans, x: mul(g, mul(_c(ans, -0.5), div(ans, x))))
defjvp2(cbrt_p, lambda g, ans, x: mul(g, mul(_c(x, 1 / 3), integer_pow(ans, -2))))
defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_c(x, 1), mul(x, x)))))
defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(sub(_c(x, 1), mul(x, x))))))
defjvp(atan_p, lambda g, x: div(g, add(_c(x, 1), mul(x, x))))
defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(mul(x, x), _c(x, 1)))))
defjvp(acosh_p, lambda g, x: mul(g, rsqrt(mul(sub(x, _c(x, 1)), add(x, _c(x, 1))))))
defjvp(atanh_p, lambda g, x: div(g, sub(_c(x, 1), mul(x, x))))
defjvp(atan2_p,
       lambda g, x, y: mul(g, div(y, add(mul(x, x), mul(y, y)))),
       lambda g, x, y: neg(mul(g, div(x, add(mul(x, x), mul(y, y))))))
defjvp(erf_p, lambda g, x: mul(g, mul(_c(x, 2 / math.sqrt(math.pi)), exp(neg(mul(x, x))))))
defjvp(erfc_p, lambda g, x: mul(g, mul(_c(x, -2 / math.sqrt(math.pi)), exp(neg(mul(x, x))))))
defjvp2(erf_inv_p, lambda g, ans, x: mul(g, mul(_c(x, math.sqrt(math.pi) / 2),
                                                exp(mul(ans, ans)))))
defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))
defjvp(digamma_p, lambda g, x: mul(g, polygamma(_c(x, 1), x)))
defjvp(polygamma_p, None, lambda g, m, x: mul(g, polygamma(add(m, _c(m, 1)), x)))


# Like polygamma's order, zeta's exponent gets no derivative here (xtrace.scipy.special.zeta has
# one, from a series).
defjvp(zeta_p, None, lambda g, x, q: mul(g, neg(mul(x, zeta(add(x, _c(x, 1)), q)))))


def _bessel_i1e_dx(g, ans, x):
    # d/dx i1e = i0e(x) - i1e(x) * (sign(x) + 1/x), with the limit 1/2 at x = 0.
    from xtrace._src.lax_special import bessel_i0e
    eps = float(np.finfo(get_aval(x).dtype).eps)
    tiny = lt(abs(x), _c(x, eps))
    safe = select(tiny, full_like_scalar(x, eps), x)
    d = sub(bessel_i0e(safe), mul(ans, add(sign(safe), div(_c(x, 1), safe))))
    return mul(g, select(tiny, full_like_scalar(x, 0.5), d))


defjvp2(bessel_i1e_p, _bessel_i1e_dx)


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return full_like_scalar(g, 0)
    if y == 1:
        return g
    return mul(g, mul(_c(x, y), x if y == 2 else integer_pow(x, y - 1)))


defjvp(integer_pow_p, _integer_pow_jvp)
defjvp(square_p, lambda g, x: mul(g, mul(_c(x, 2), x)))


def _complex_parts_transpose(part):
    def t(ct, x):
        from xtrace._src.core import get_aval
        if isinstance(ct, Zero):
            return [None]
        zeros = full_like_scalar(ct, 0)
        return [complex(ct, zeros) if part == "real" else complex(zeros, neg(ct))]
    return t


ad.deflinear(real_p, _complex_parts_transpose("real"))
ad.deflinear(imag_p, _complex_parts_transpose("imag"))
ad.deflinear(complex_p, lambda ct, x, y: [real(ct) if is_undefined(x) else None,
                                          neg(imag(ct)) if is_undefined(y) else None])
ad.deflinear(conj_p, lambda ct, x: [_conj_same_dtype(ct)])


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    ts = tangents[1:]
    if all(isinstance(t, Zero) for t in ts):
        return out, ad.zero_of(out)
    return out, select_n(which, *[ad.instantiate(t) for t in ts])


def _select_n_transpose(ct, which, *cases):
    if is_undefined(which):
        raise ValueError("select_n is not linear in its selector")
    res = [None]
    for i, c in enumerate(cases):
        if not is_undefined(c):
            res.append(None)
        elif isinstance(ct, Zero):
            res.append(Zero(c.aval))
        else:
            zeros = full_like_scalar(ct, 0)
            res.append(select_n(which, *[ct if j == i else zeros for j in range(len(cases))]))
    return res


select_n_p.jvp, select_n_p.transpose = _select_n_jvp, _select_n_transpose


def _clamp_jvp(primals, tangents):
    lo, x, hi = primals
    out = clamp(lo, x, hi)
    t_out = Zero(ad.tangent_aval(out.aval if hasattr(out, "aval") else x.aval))
    tlo, tx, thi = tangents

    def bcast(v):
        from xtrace._src.core import get_aval
        from xtrace._src.prims.structural import broadcast_in_dim
        a = get_aval(x)
        return v if get_aval(v).shape == a.shape else broadcast_in_dim(v, a.shape, ())

    zeros = full_like_scalar(x, 0)
    if not isinstance(tx, Zero):
        inside = bitwise_and(gt(x, bcast(lo)), lt(x, bcast(hi)))
        t_out = ad.add_tangents(t_out, select(inside, tx, zeros))
    if not isinstance(tlo, Zero):
        t_out = ad.add_tangents(t_out, select(lt(x, bcast(lo)), bcast(tlo), zeros))
    if not isinstance(thi, Zero):
        t_out = ad.add_tangents(t_out, select(gt(x, bcast(hi)), bcast(thi), zeros))
    return out, t_out


clamp_p.jvp = _clamp_jvp


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    x, = primals
    t, = tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if isinstance(t, Zero) or not (dtypes.is_inexact(new_dtype)
                                   and dtypes.is_inexact(t.aval.dtype if hasattr(t, "aval")
                                                         else new_dtype)):
        return out, ad.zero_of(out)
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=False)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=False)]


convert_element_type_p.jvp, convert_element_type_p.transpose = _convert_jvp, _convert_transpose

# reduce_precision is treated as linear (JAX's rule): tangents and cotangents are rounded too.
ad.deflinear(reduce_precision_p, lambda ct, x, **params: [
    Zero(x.aval) if isinstance(ct, Zero) else reduce_precision_p.bind(ct, **params)])


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above.
from xtrace._src import batching  # noqa: E402

batching.defbroadcasting(*[p for p in list(globals().values())
                           if isinstance(p, type(add_p)) and p is not bitcast_convert_type_p])


def _bitcast_batch(axis, vals, dims, *, new_dtype):
    x, = vals
    d, = dims
    if d == get_aval(x).ndim - 1:  # the last axis may grow or shrink: keep the batch off it
        x, d = batching.moveaxis(x, d, 0), 0
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d


bitcast_convert_type_p.batch = _bitcast_batch
