"""Elementwise math, comparisons, logic, where and clip, with NumPy promotion."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer, get_aval
from xtrace._src.numpy.core import (_is_array, asarray, astype, broadcast_arrays,
                                     broadcast_arrays_for, promote_args, promote_dtypes_only)
from xtrace._src.numpy.creation import full_like, zeros_like


def _unary(lax_fn, name, *, int_to_float=False):
    prim = getattr(lax_fn, "primitive", None)

    def fn(x, /):
        if prim is not None and type(x) is Array and (
                not int_to_float or x.aval.dtype in dtypes.INEXACT_DTYPES):
            return prim.bind(x)  # fast path: nothing to convert
        x = asarray(x) if not _is_array(x) else x
        if int_to_float and not dtypes.is_inexact(x.dtype):
            x = lax.convert_element_type(x, dtypes.default_float(), x.weak_type)
        return lax_fn(x)
    fn.__name__ = name
    fn.__doc__ = f"NumPy-style elementwise ``{name}``."
    return fn


def _binary(lax_fn, name):
    prim = getattr(lax_fn, "primitive", None)

    def fn(x1, x2, /):
        if prim is not None and type(x1) is Array and type(x2) is Array and x1.aval == x2.aval:
            return prim.bind(x1, x2)  # fast path: same shape, dtype and weak type
        return lax_fn(*promote_args(name, x1, x2))
    fn.__name__ = name
    fn.__doc__ = f"NumPy-style elementwise ``{name}`` with broadcasting and type promotion."
    return fn


add = _binary(lax.add, "add")
subtract = _binary(lax.sub, "subtract")
multiply = _binary(lax.mul, "multiply")
maximum = _binary(lax.max, "maximum")
minimum = _binary(lax.min, "minimum")
arctan2 = None  # set below (needs float promotion)
negative = _unary(lax.neg, "negative")
positive = _unary(lambda x: x, "positive")
sign = _unary(lax.sign, "sign")
exp = _unary(lax.exp, "exp", int_to_float=True)
exp2 = _unary(lax.exp2, "exp2", int_to_float=True)
expm1 = _unary(lax.expm1, "expm1", int_to_float=True)
log = _unary(lax.log, "log", int_to_float=True)
log1p = _unary(lax.log1p, "log1p", int_to_float=True)
sin = _unary(lax.sin, "sin", int_to_float=True)
cos = _unary(lax.cos, "cos", int_to_float=True)
tan = _unary(lax.tan, "tan", int_to_float=True)
arcsin = _unary(lax.asin, "arcsin", int_to_float=True)
arccos = _unary(lax.acos, "arccos", int_to_float=True)
arctan = _unary(lax.atan, "arctan", int_to_float=True)
sinh = _unary(lax.sinh, "sinh", int_to_float=True)
cosh = _unary(lax.cosh, "cosh", int_to_float=True)
tanh = _unary(lax.tanh, "tanh", int_to_float=True)
arcsinh = _unary(lax.asinh, "arcsinh", int_to_float=True)
arccosh = _unary(lax.acosh, "arccosh", int_to_float=True)
arctanh = _unary(lax.atanh, "arctanh", int_to_float=True)
sqrt = _unary(lax.sqrt, "sqrt", int_to_float=True)
cbrt = _unary(lax.cbrt, "cbrt", int_to_float=True)
floor = _unary(lambda x: x if not dtypes.is_float(x.dtype) else lax.floor(x), "floor")
ceil = _unary(lambda x: x if not dtypes.is_float(x.dtype) else lax.ceil(x), "ceil")
isfinite = _unary(lambda x: lax.is_finite(x) if dtypes.is_float(x.dtype)
                  else full_like(x, True, dtypes.bool_), "isfinite")
square = _unary(lambda x: lax.integer_pow(x, 2), "square")
logical_not = _unary(lambda x: lax.bitwise_not(astype(x, dtypes.bool_)), "logical_not")
bitwise_not = invert = _unary(lax.bitwise_not, "invert")
equal = _binary(lax.eq, "equal")
not_equal = _binary(lax.ne, "not_equal")
less = _binary(lax.lt, "less")
less_equal = _binary(lax.le, "less_equal")
greater = _binary(lax.gt, "greater")
greater_equal = _binary(lax.ge, "greater_equal")
bitwise_and = _binary(lax.bitwise_and, "bitwise_and")
bitwise_or = _binary(lax.bitwise_or, "bitwise_or")
bitwise_xor = _binary(lax.bitwise_xor, "bitwise_xor")


def absolute(x, /):
    x = asarray(x) if not _is_array(x) else x
    return x if x.dtype == dtypes.bool_ else lax.abs(x)


abs = absolute


def _float_args(name, *xs):
    xs = promote_args(name, *xs)
    out = []
    for x in xs:
        av = get_aval(x)
        if not dtypes.is_inexact(av.dtype):
            x = lax.convert_element_type(x, dtypes.default_float(), av.weak_type)
        out.append(x)
    return out


def true_divide(x1, x2, /):
    return lax.div(*_float_args("true_divide", x1, x2))


divide = true_divide


def arctan2(x1, x2, /):
    return lax.atan2(*_float_args("arctan2", x1, x2))


def floor_divide(x1, x2, /):
    a, b = promote_args("floor_divide", x1, x2)
    dt = get_aval(a).dtype
    if dtypes.is_int(dt):
        if dtypes.is_unsigned(dt):
            return lax.div(a, b)
        q = lax.div(a, b)  # rounds toward zero; fix the sign
        r = lax.rem(a, b)
        fix = lax.bitwise_and(lax.ne(r, _zero(r)),
                              lax.ne(lax.lt(r, _zero(r)), lax.lt(b, _zero(b))))
        return lax.select(fix, lax.sub(q, _one(q)), q)
    if dt == dtypes.bool_:
        raise TypeError("floor_divide does not support bool")
    return lax.floor(lax.div(a, b)) if dtypes.is_float(dt) else lax.div(a, b)


def remainder(x1, x2, /):
    a, b = promote_args("remainder", x1, x2)
    if get_aval(a).dtype == dtypes.bool_:
        raise TypeError("remainder does not support bool")
    r = lax.rem(a, b)
    if dtypes.is_unsigned(get_aval(a).dtype):
        return r
    fix = lax.bitwise_and(lax.ne(r, _zero(r)), lax.ne(lax.lt(r, _zero(r)), lax.lt(b, _zero(b))))
    return lax.select(fix, lax.add(r, b), r)


mod = remainder


def fmod(x1, x2, /):
    return lax.rem(*promote_args("fmod", x1, x2))


def divmod(x1, x2, /):
    return floor_divide(x1, x2), remainder(x1, x2)


def power(x1, x2, /):
    if isinstance(x2, int) and not isinstance(x2, bool) and _is_array(x1) and (
            x2 >= 0 or dtypes.is_inexact(x1.dtype)):
        return lax.integer_pow(x1, x2)
    a, b = promote_args("power", x1, x2)
    dt = get_aval(a).dtype
    if dtypes.is_inexact(dt):
        return lax.pow(a, b)
    return _int_pow(a, b)


def _int_pow(a, b):
    # Integer power by squaring over the bits of b (b >= 0), as a fixed 32/64-step loop.
    dt = get_aval(a).dtype
    acc = _one(a)
    base = a
    nbits = dt.itemsize * 8
    for _ in range(nbits):
        bit = lax.ne(lax.bitwise_and(b, _one(b)), _zero(b))
        acc = lax.select(bit, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        b = lax.shift_right_logical(b, _one(b))
    return acc


def _zero(x):
    return full_like(x, 0)


def _one(x):
    return full_like(x, 1)


def logical_and(x1, x2, /):
    return lax.bitwise_and(*[astype(v, dtypes.bool_) for v in broadcast_arrays(x1, x2)])


def logical_or(x1, x2, /):
    return lax.bitwise_or(*[astype(v, dtypes.bool_) for v in broadcast_arrays(x1, x2)])


def logical_xor(x1, x2, /):
    return lax.bitwise_xor(*[astype(v, dtypes.bool_) for v in broadcast_arrays(x1, x2)])


def left_shift(x1, x2, /):
    return lax.shift_left(*promote_args("left_shift", x1, x2))


def right_shift(x1, x2, /):
    a, b = promote_args("right_shift", x1, x2)
    if dtypes.is_unsigned(get_aval(a).dtype):
        return lax.shift_right_logical(a, b)
    return lax.shift_right_arithmetic(a, b)


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y``, broadcasting all three."""
    if x is None and y is None:
        raise NotImplementedError(
            "where(condition) with one argument is data-dependent; use nonzero(condition)")
    if x is None or y is None:
        raise ValueError("where needs either one or three arguments")
    x, y = promote_dtypes_only(x, y)
    c, x, y = broadcast_arrays_for("where", [astype(condition, dtypes.bool_)
                                             if _is_array(condition) else
                                             np.asarray(condition, bool), x, y])
    return lax.select(c, x, y)


def clip(a, a_min=None, a_max=None, /):
    out = a
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out




# ---------------------------------------------------------------------------------------------


def conj(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.conj(x) if dtypes.is_complex(x.dtype) else x


conjugate = conj


def real(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.real(x) if dtypes.is_complex(x.dtype) else x


def imag(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.imag(x) if dtypes.is_complex(x.dtype) else zeros_like(x)


def isnan(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.ne(x, x) if dtypes.is_inexact(x.dtype) else full_like(x, False, dtypes.bool_)


def isinf(x, /):
    x = x if _is_array(x) else asarray(x)
    if not dtypes.is_float(x.dtype):
        return full_like(x, False, dtypes.bool_)
    return lax.eq(lax.abs(x), np.asarray(np.inf, x.dtype)[()])


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
