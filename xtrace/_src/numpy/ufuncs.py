"""Elementwise math, comparisons, logic, where/select/piecewise and clip, with NumPy promotion.

Dtypes follow JAX: 32-bit defaults, weak Python scalars that do not widen arrays, integer and
bool inputs to floating-point functions give the default float. Values follow NumPy: the sign
rules of ``remainder``/``floor_divide``, NaN propagation in ``maximum``/``minimum``, integer
division by zero giving 0, ``round`` to even.

Everything works eagerly and under ``jit``. A function that is one primitive binds it directly
when its operands already agree (the fast path); a function built from several primitives runs
eagerly as one compiled program (a cached ``jit`` of its body) and is inlined when traced.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable

import numpy as np

from xtrace._src import core as _core
from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer, get_aval
from xtrace._src.jit import jit as _jit
from xtrace._src.numpy.core import (_is_array, asarray, broadcast_arrays_for, broadcast_shapes,
                                     broadcast_to, promote_args, promote_dtypes_only)

_BOOL = dtypes.bool_
_SCALAR_TYPES = (bool, int, float, complex)
_SUPPORTED = frozenset(dtypes.SUPPORTED)
_ALL = _SUPPORTED
_NO_BOOL = frozenset(d for d in _SUPPORTED if d != _BOOL)
_INEXACT = frozenset(d for d in _SUPPORTED if dtypes.is_inexact(d))
_FLOATS = frozenset(d for d in _SUPPORTED if dtypes.is_float(d))
_INTEGRAL = frozenset(d for d in _SUPPORTED if d == _BOOL or dtypes.is_int(d))
_REAL = frozenset(d for d in _SUPPORTED if not dtypes.is_complex(d))
_COMPLEX = frozenset(d for d in _SUPPORTED if dtypes.is_complex(d))
_INT_OF_WIDTH = {2: dtypes.int16, 4: dtypes.int32, 8: dtypes.int64}


# ---------------------------------------------------------------------------------------------
# Operand checks and the eager/traced runner


def _bad_dtype_message(name: str, dt: np.dtype) -> str:
    what = {"U": "strings", "S": "bytes", "O": "Python objects", "M": "datetimes",
            "m": "timedeltas", "V": "structured or void values"}.get(dt.kind)
    if what is not None:
        return (f"{name}: xtrace arrays cannot hold {what} (got dtype {dt}); convert the data "
                "to a numeric or bool dtype first")
    return (f"{name}: xtrace does not support dtype {dt}; supported: "
            + ", ".join(str(d) for d in dtypes.SUPPORTED))


def _operand(name: str, x: Any) -> Any:
    """Check one array argument of ``name``; lists and tuples become arrays."""
    t = type(x)
    if t is Array or t in _SCALAR_TYPES or isinstance(x, Tracer):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype not in _SUPPORTED:
            raise TypeError(_bad_dtype_message(name, x.dtype))
        return x
    if isinstance(x, (list, tuple)):
        try:
            return asarray(x)
        except (TypeError, ValueError) as e:
            try:
                dt = np.asarray(x).dtype
            except Exception:  # ragged lists and the like
                dt = None
            if dt is not None and dt not in _SUPPORTED:
                raise TypeError(_bad_dtype_message(name, dt)) from None
            raise TypeError(f"{name}: {e}") from None
    if isinstance(x, str):
        raise TypeError(f"{name}: got the string {x!r:.40}; xtrace arrays hold numbers and "
                        "bools only")
    raise TypeError(f"{name}: expected an array or a number, got {t.__name__} ({x!r:.40})")


def _arr(x: Any) -> Any:
    """``x`` as an array (Array or tracer); Python and NumPy values become constants."""
    return x if isinstance(x, (Array, Tracer)) else asarray(x)


_scalar_arrays: dict = {}
_SCALAR_CACHE_SIZE = 256


def _eager_arg(a: Any) -> Any:
    """An eager argument as an Array, so a kernel call takes jit's all-Arrays fast path.
    Python scalars become weakly typed Arrays, cached (the common ``x * 2`` case)."""
    t = type(a)
    if t is Array:
        return a
    if t in _SCALAR_TYPES:
        key = (t, repr(a), dtypes.x64_enabled())
        arr = _scalar_arrays.get(key)
        if arr is None:
            arr = asarray(a)
            if len(_scalar_arrays) >= _SCALAR_CACHE_SIZE:
                _scalar_arrays.clear()
            _scalar_arrays[key] = arr
        return arr
    if isinstance(a, (np.ndarray, np.generic)):
        return asarray(a)
    if t is list:  # select's lists of operands
        return [_eager_arg(v) for v in a]
    return a


def _kernel(body: Callable, name: str, static_argnames: tuple = ()) -> Callable:
    """Run ``body`` eagerly as one compiled program (a cached jit); call it inline when any
    argument is being traced, so that traced programs stay flat."""
    body.__name__ = body.__qualname__ = name
    jitted = _jit(body, static_argnames=static_argnames)
    state = _core._state

    def run(*args, **params):
        if state.dynamic_level == 0:
            for a in args:
                if isinstance(a, Tracer):
                    break
            else:
                return jitted(*[_eager_arg(a) for a in args], **params)
        return body(*args, **params)
    return run


def _dt(x) -> np.dtype:
    return x.aval.dtype


def _weak(x) -> bool:
    return x.aval.weak_type


def _restore_weak(out, weak: bool):
    """Results of all-weak inputs stay weak (constants inside a body would make them strong)."""
    if weak and not out.aval.weak_type and out.aval.dtype != _BOOL:
        return lax.convert_element_type(out, out.aval.dtype, True)
    return out


def _full(x, value, dtype=None):
    """A constant with ``x``'s shape (and dtype unless given)."""
    dt = _dt(x) if dtype is None else np.dtype(dtype)
    return _arr(lax.broadcast_in_dim(np.asarray(value, dt)[()], x.aval.shape, ()))


def _c(x, value):
    """A scalar constant of ``x``'s dtype (lax broadcasts rank-0 operands)."""
    return np.asarray(value, _dt(x))[()]


def _to_float(x):
    """Integers and bools become the default float (keeping weak types); inexact stays."""
    if _dt(x) in _INEXACT:
        return x
    return lax.convert_element_type(x, dtypes.default_float(), _weak(x))


def _to_int(x):
    """Bools become the default integer, as JAX does for integer-only arithmetic."""
    if _dt(x) == _BOOL:
        return lax.convert_element_type(x, dtypes.default_int(), _weak(x))
    return x


def _promote(name: str, *xs):
    return [_arr(v) for v in promote_args(name, *xs)]


def _real_dtype(dt: np.dtype) -> np.dtype:
    return {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)


def _no_complex(name: str, x, hint: str = "") -> None:
    if dtypes.is_complex(_dt(x)):
        raise TypeError(f"{name} does not support complex inputs (got {_dt(x).name})"
                        + (f"; {hint}" if hint else ""))


def _only_int(name: str, x) -> None:
    if not dtypes.is_int(_dt(x)):
        raise TypeError(f"{name} is only defined for integer arrays, got {_dt(x).name}")


def _unary(name: str, impl: Callable, prim=None, fast=frozenset()) -> Callable:
    """A NumPy-style unary function: binds ``prim`` directly for an Array whose dtype is in
    ``fast``; otherwise runs ``impl`` on the array."""
    def body(x):
        x = _arr(x)
        return _restore_weak(impl(x), _weak(x))
    run = _kernel(body, name)

    def fn(x, /):
        if type(x) is Array and prim is not None and x.aval.dtype in fast:
            return prim.bind(x)  # fast path: nothing to convert
        return run(_operand(name, x))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"NumPy-style elementwise ``{name}``."
    return fn


def _binary(name: str, impl: Callable, prim=None, fast=frozenset()) -> Callable:
    """A NumPy-style binary function: binds ``prim`` directly for two Arrays of the same shape,
    dtype (in ``fast``) and weak type; otherwise promotes, broadcasts and runs ``impl``."""
    def body(x1, x2):
        a, b = _promote(name, x1, x2)
        return _restore_weak(impl(a, b), _weak(a))
    run = _kernel(body, name)

    def fn(x1, x2, /):
        if (type(x1) is Array and type(x2) is Array and prim is not None
                and x1.aval == x2.aval and x1.aval.dtype in fast):
            return prim.bind(x1, x2)  # fast path: same shape, dtype and weak type
        return run(_operand(name, x1), _operand(name, x2))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"NumPy-style elementwise ``{name}`` with broadcasting and type promotion."
    return fn


def _prim(lax_fn):
    return getattr(lax_fn, "primitive", None)


def _float_unary(name: str, lax_fn, kinds=_INEXACT) -> Callable:
    """A floating-point function: integer and bool inputs give the default float."""
    return _unary(name, lambda x: lax_fn(_to_float(x)), _prim(lax_fn), kinds)


# ---------------------------------------------------------------------------------------------
# Small helpers used inside bodies (operands are arrays of one dtype and shape)


def _isnan(x):
    dt = _dt(x)
    if dt in _INEXACT:
        return lax.ne(x, x)
    return _full(x, False, _BOOL)


def _isinf(x):
    dt = _dt(x)
    if dt in _COMPLEX:
        return lax.bitwise_or(_isinf(lax.real(x)), _isinf(lax.imag(x)))
    if dt in _FLOATS:
        return lax.eq(lax.abs(x), _c(x, np.inf))
    return _full(x, False, _BOOL)


def _isfinite(x):
    dt = _dt(x)
    if dt in _COMPLEX:
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    if dt in _FLOATS:
        return lax.is_finite(x)
    return _full(x, True, _BOOL)


def _signbit(x):
    dt = _dt(x)
    if dt in _FLOATS:
        bits = lax.bitcast_convert_type(x, _INT_OF_WIDTH[dt.itemsize])
        return lax.lt(bits, _c(bits, 0))
    if dtypes.is_signed_int(dt):
        return lax.lt(x, _c(x, 0))
    return _full(x, False, _BOOL)


def _copysign(x, y):
    """``|x|`` with the sign bit of ``y`` (floats of one dtype)."""
    ax = lax.abs(x)
    return lax.select(_signbit(y), lax.neg(ax), ax)


def _truthy(x):
    """``x != 0`` as bool (complex: either part nonzero; NaN is true)."""
    if _dt(x) == _BOOL:
        return x
    return lax.ne(x, _c(x, 0))


def _lex_compare(direction: str, a, b):
    """Lexicographic complex ordering (real parts, then imaginary parts), as NumPy does."""
    op = {"lt": lax.lt, "le": lax.le, "gt": lax.gt, "ge": lax.ge}[direction]
    strict = {"lt": lax.lt, "le": lax.lt, "gt": lax.gt, "ge": lax.gt}[direction]
    ra, rb, ia, ib = lax.real(a), lax.real(b), lax.imag(a), lax.imag(b)
    return lax.select(lax.eq(ra, rb), op(ia, ib), strict(ra, rb))


def _int_divide_safe(b):
    """``b`` with zeros replaced by ones (integer division by zero gives 0, as in NumPy)."""
    zero = lax.eq(b, _c(b, 0))
    return zero, lax.select(zero, _full(b, 1), b)


# ---------------------------------------------------------------------------------------------
# Arithmetic


def _add(a, b):
    return lax.bitwise_or(a, b) if _dt(a) == _BOOL else lax.add(a, b)


def _subtract(a, b):
    if _dt(a) == _BOOL:
        raise TypeError("subtract: numpy boolean subtract, the `-` operator, is not supported; "
                        "use bitwise_xor (the `^` operator) or logical_xor instead")
    return lax.sub(a, b)


def _multiply(a, b):
    return lax.bitwise_and(a, b) if _dt(a) == _BOOL else lax.mul(a, b)


add = _binary("add", _add, _prim(lax.add), _NO_BOOL)
subtract = _binary("subtract", _subtract, _prim(lax.sub), _NO_BOOL)
multiply = _binary("multiply", _multiply, _prim(lax.mul), _NO_BOOL)


def _negative(x):
    if _dt(x) == _BOOL:
        raise TypeError("negative: the numpy boolean negative, the `-` operator, is not "
                        "supported; use the `~` operator or logical_not instead")
    return lax.neg(x)


negative = _unary("negative", _negative, _prim(lax.neg), _NO_BOOL)


def positive(x, /):
    """NumPy-style elementwise ``positive``: the array itself (arrays are immutable)."""
    return _arr(_operand("positive", x))


def _true_divide(a, b):
    a, b = _to_float(a), _to_float(b)
    return lax.div(a, b)


true_divide = _binary("true_divide", _true_divide, _prim(lax.div), _INEXACT)
divide = true_divide


def _float_divmod(a, b):
    """NumPy's (and CPython's) floor division and modulus for floats."""
    mod = lax.rem(a, b)
    corrected = lax.select(lax.eq(b, _c(b, 0)), a, lax.sub(a, mod))
    div = lax.div(corrected, b)
    fix = lax.bitwise_and(lax.ne(mod, _c(mod, 0)),
                          lax.ne(lax.lt(mod, _c(mod, 0)), lax.lt(b, _c(b, 0))))
    mod = lax.select(fix, lax.add(mod, b), mod)
    div = lax.select(fix, lax.sub(div, _c(div, 1)), div)
    # A zero remainder takes the sign of the divisor: flip it by multiplying with -1 (not by
    # selecting a constant, which would cut the gradient d mod / d a = 1 at those points).
    flip = lax.bitwise_and(lax.eq(mod, _c(mod, 0)), lax.ne(_signbit(mod), _signbit(b)))
    mod = lax.mul(mod, lax.select(flip, _full(mod, -1), _full(mod, 1)))
    div = lax.round(div, 0)
    # a zero quotient takes the sign of a / b
    neg = lax.ne(_signbit(a), _signbit(b))
    div = lax.select(lax.eq(div, _c(div, 0)),
                     lax.select(neg, _full(div, -0.0), _full(div, 0.0)), div)
    return div, mod


def _int_floor_divide(a, b):
    zero, b1 = _int_divide_safe(b)
    q = lax.div(a, b1)
    if dtypes.is_signed_int(_dt(a)):
        r = lax.rem(a, b1)
        fix = lax.bitwise_and(lax.ne(r, _c(r, 0)),
                              lax.ne(lax.lt(r, _c(r, 0)), lax.lt(b1, _c(b1, 0))))
        q = lax.select(fix, lax.sub(q, _c(q, 1)), q)
    return lax.select(zero, _full(q, 0), q)


def _int_remainder(a, b):
    _, b1 = _int_divide_safe(b)
    r = lax.rem(a, b1)
    if dtypes.is_signed_int(_dt(a)):
        fix = lax.bitwise_and(lax.ne(r, _c(r, 0)),
                              lax.ne(lax.lt(r, _c(r, 0)), lax.lt(b1, _c(b1, 0))))
        r = lax.select(fix, lax.add(r, b1), r)
    return r


def _floor_divide(a, b):
    a, b = _to_int(a), _to_int(b)
    _no_complex("floor_divide", a)
    if dtypes.is_int(_dt(a)):
        return _int_floor_divide(a, b)
    return _float_divmod(a, b)[0]


def _remainder(a, b):
    a, b = _to_int(a), _to_int(b)
    _no_complex("remainder", a)
    if dtypes.is_int(_dt(a)):
        return _int_remainder(a, b)
    return _float_divmod(a, b)[1]


def _fmod(a, b):
    a, b = _to_int(a), _to_int(b)
    _no_complex("fmod", a)
    if dtypes.is_int(_dt(a)):
        return lax.rem(a, _int_divide_safe(b)[1])
    return lax.rem(a, b)


floor_divide = _binary("floor_divide", _floor_divide)
remainder = _binary("remainder", _remainder)
mod = remainder
fmod = _binary("fmod", _fmod)


def _divmod_body(x1, x2):
    a, b = _promote("divmod", x1, x2)
    weak = _weak(a)
    a, b = _to_int(a), _to_int(b)
    _no_complex("divmod", a)
    if dtypes.is_int(_dt(a)):
        q, r = _int_floor_divide(a, b), _int_remainder(a, b)
    else:
        q, r = _float_divmod(a, b)
    return _restore_weak(q, weak), _restore_weak(r, weak)


_divmod_run = _kernel(_divmod_body, "divmod")


def divmod(x1, x2, /):
    """``(floor_divide(x1, x2), remainder(x1, x2))``."""
    return tuple(_divmod_run(_operand("divmod", x1), _operand("divmod", x2)))


def _int_pow(a, b):
    """``a ** b`` for integer arrays of one dtype: square-and-multiply over every bit of
    ``b`` (wrapping on overflow, as NumPy does). Negative exponents give the truncated value
    of ``1 / a**-b`` (NumPy raises; that check needs the values)."""
    dt = _dt(a)
    signed = dtypes.is_signed_int(dt)
    nbits = dt.itemsize * 8 - (1 if signed else 0)
    one = _full(a, 1)
    acc, base, e = one, a, b
    for i in range(nbits):
        bit = lax.ne(lax.bitwise_and(e, _c(e, 1)), _c(e, 0))
        acc = lax.select(bit, lax.mul(acc, base), acc)
        if i + 1 < nbits:
            base = lax.mul(base, base)
            e = lax.shift_right_logical(e, _c(e, 1))
    if signed:
        odd = lax.ne(lax.bitwise_and(b, _c(b, 1)), _c(b, 0))
        neg_result = lax.select(lax.eq(a, _c(a, 1)), one,
                                lax.select(lax.eq(a, _c(a, -1)),
                                           lax.select(odd, _full(a, -1), one), _full(a, 0)))
        acc = lax.select(lax.lt(b, _c(b, 0)), neg_result, acc)
    return acc


def _power(a, b):
    a, b = _to_int(a), _to_int(b)
    if _dt(a) in _INEXACT:
        return lax.pow(a, b)
    return _int_pow(a, b)


_power_binary = _binary("power", _power, _prim(lax.pow), _INEXACT)


def _integer_pow_body(x, y):
    x = _arr(x)
    x = _to_int(x)
    return lax.integer_pow(x, y)


_integer_pow_run = _kernel(_integer_pow_body, "power", static_argnames=("y",))


def power(x1, x2, /):
    """``x1 ** x2`` elementwise. A Python int exponent uses repeated multiplication.

    Integer arrays raised to negative integer powers give the truncated ``1 / x1**-x2``
    (1, -1 or 0) where NumPy raises, as the check would need the values."""
    if type(x2) is int and isinstance(x1, (Array, Tracer)):
        dt = x1.aval.dtype
        if dt != _BOOL and (x2 >= 0 or dt in _INEXACT):
            return lax.integer_pow(x1, x2)
        if dt == _BOOL and x2 >= 0:
            return _integer_pow_run(x1, y=x2)
    return _power_binary(x1, x2)


pow = power


def _float_power(a, b):
    return lax.pow(_to_float(a), _to_float(b))


float_power = _binary("float_power", _float_power)


def _square(x):
    return lax.square(_to_int(x))


square = _unary("square", _square, _prim(lax.square), _NO_BOOL)
def _reciprocal(x):
    x = _to_float(x)
    return lax.div(_c(x, 1), x)


reciprocal = _unary("reciprocal", _reciprocal)
sqrt = _float_unary("sqrt", lax.sqrt)
cbrt = _unary("cbrt", lambda x: lax.cbrt(_to_float(x)), _prim(lax.cbrt), _FLOATS)


def _absolute(x):
    return x if _dt(x) == _BOOL else lax.abs(x)


absolute = _unary("absolute", _absolute, _prim(lax.abs), _NO_BOOL)
abs = absolute


def _fabs(x):
    _no_complex("fabs", x, "use absolute")
    return lax.abs(_to_float(x))


fabs = _unary("fabs", _fabs, _prim(lax.abs), _FLOATS)


def _sign(x):
    if _dt(x) == _BOOL:
        raise TypeError("sign is not defined for bool arrays; convert with astype(int) first")
    return lax.sign(x)


sign = _unary("sign", _sign, _prim(lax.sign), _NO_BOOL)


def _signbit_impl(x):
    _no_complex("signbit", x)
    return _signbit(x)


signbit = _unary("signbit", _signbit_impl)


def _copysign_impl(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("copysign", a)
    return _copysign(a, b)


copysign = _binary("copysign", _copysign_impl)


def _heaviside(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("heaviside", a)
    out = lax.select(lax.lt(a, _c(a, 0)), _full(a, 0),
                     lax.select(lax.gt(a, _c(a, 0)), _full(a, 1), b))
    return lax.select(_isnan(a), a, out)


heaviside = _binary("heaviside", _heaviside)


# ---------------------------------------------------------------------------------------------
# Exponentials, logarithms, trigonometry

exp = _float_unary("exp", lax.exp)
exp2 = _float_unary("exp2", lax.exp2)
expm1 = _float_unary("expm1", lax.expm1)
log = _float_unary("log", lax.log)
log1p = _float_unary("log1p", lax.log1p)
def _times(x, factor: float):
    """``x * factor`` for a real constant (complex: per part, so infinities stay clean)."""
    if _dt(x) in _COMPLEX:
        re, im = lax.real(x), lax.imag(x)
        return lax.complex(lax.mul(re, _c(re, factor)), lax.mul(im, _c(im, factor)))
    return lax.mul(x, _c(x, factor))


def _log_base(base: float):
    def impl(x):
        x = _to_float(x)
        if _dt(x) in _COMPLEX:
            return _times(lax.log(x), 1 / math.log(base))
        return lax.div(lax.log(x), _c(x, math.log(base)))  # exact at powers of the base
    return impl


log2 = _unary("log2", _log_base(2))
log10 = _unary("log10", _log_base(10))
sin = _float_unary("sin", lax.sin)
cos = _float_unary("cos", lax.cos)
tan = _float_unary("tan", lax.tan)
arcsin = asin = _float_unary("arcsin", lax.asin)
arccos = acos = _float_unary("arccos", lax.acos)
arctan = atan = _float_unary("arctan", lax.atan)
sinh = _float_unary("sinh", lax.sinh)
cosh = _float_unary("cosh", lax.cosh)
tanh = _float_unary("tanh", lax.tanh)
arcsinh = asinh = _float_unary("arcsinh", lax.asinh)
arccosh = acosh = _float_unary("arccosh", lax.acosh)
arctanh = atanh = _float_unary("arctanh", lax.atanh)


def _arctan2(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("arctan2", a)
    return lax.atan2(a, b)


arctan2 = atan2 = _binary("arctan2", _arctan2, _prim(lax.atan2), _FLOATS)


def _logaddexp(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("logaddexp", a)
    amax = lax.max(a, b)
    delta = lax.sub(a, b)
    out = lax.add(amax, lax.log1p(lax.exp(lax.neg(lax.abs(delta)))))
    return lax.select(_isnan(delta), lax.add(a, b), out)  # equal infinities, or a NaN


def _logaddexp2(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("logaddexp2", a)
    amax = lax.max(a, b)
    delta = lax.sub(a, b)
    out = lax.add(amax, lax.div(lax.log1p(lax.exp2(lax.neg(lax.abs(delta)))),
                                _c(a, math.log(2))))
    return lax.select(_isnan(delta), lax.add(a, b), out)


logaddexp = _binary("logaddexp", _logaddexp)
logaddexp2 = _binary("logaddexp2", _logaddexp2)


def _hypot(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("hypot", a, "use absolute on each part first")
    x, y = lax.abs(a), lax.abs(b)
    big, small = lax.max(x, y), lax.min(x, y)
    safe = lax.select(lax.eq(big, _c(big, 0)), _full(big, 1), big)
    ratio = lax.div(small, safe)
    out = lax.mul(big, lax.sqrt(lax.add(_c(ratio, 1), lax.mul(ratio, ratio))))
    out = lax.select(lax.eq(big, _c(big, 0)), big, out)
    return lax.select(lax.bitwise_or(_isinf(x), _isinf(y)), _full(out, np.inf), out)


hypot = _binary("hypot", _hypot)


def _scale(factor):
    return lambda x: _times(_to_float(x), factor)


deg2rad = _unary("deg2rad", _scale(math.pi / 180))
radians = _unary("radians", _scale(math.pi / 180))
rad2deg = _unary("rad2deg", _scale(180 / math.pi))
degrees = _unary("degrees", _scale(180 / math.pi))


def _sinc(x):
    x = _to_float(x)
    zero = lax.eq(x, _c(x, 0))
    safe = lax.select(zero, _full(x, 1), x)
    pix = lax.mul(safe, _c(x, math.pi))
    return lax.select(zero, _full(x, 1), lax.div(lax.sin(pix), pix))


sinc = _unary("sinc", _sinc)

# Chebyshev coefficients of Cephes' i0 (as NumPy's numpy.i0 uses), shared with lax.bessel_i0e.
from xtrace._src.lax_special import _I0E_A as _I0A, _I0E_B as _I0B  # noqa: E402


def _chbevl(x, coeffs):
    b0, b1, b2 = _full(x, coeffs[0]), _full(x, 0), _full(x, 0)
    for c in coeffs[1:]:
        b2, b1 = b1, b0
        b0 = lax.add(lax.sub(lax.mul(x, b1), b2), _c(x, c))
    return lax.mul(_c(x, 0.5), lax.sub(b0, b2))


def _i0(x):
    _no_complex("i0", x)
    x = lax.abs(_to_float(x))
    small = lax.le(x, _c(x, 8.0))
    xs = lax.select(small, x, _full(x, 8.0))
    xl = lax.select(small, _full(x, 8.0), x)
    # exp(x) split in two halves so the product stays finite as long as i0(x) is
    half = lax.exp(lax.mul(x, _c(x, 0.5)))
    ys = _chbevl(lax.sub(lax.mul(xs, _c(x, 0.5)), _c(x, 2.0)), _I0A)
    yl = lax.div(_chbevl(lax.sub(lax.div(_c(x, 32.0), xl), _c(x, 2.0)), _I0B), lax.sqrt(xl))
    return lax.mul(lax.mul(half, lax.select(small, ys, yl)), half)


i0 = _unary("i0", _i0)


# ---------------------------------------------------------------------------------------------
# Rounding

def _identity_for_ints(name: str, float_impl: Callable, prim) -> Callable:
    def impl(x):
        if _dt(x) in _INTEGRAL:
            return x
        _no_complex(name, x)
        return float_impl(x)
    return _unary(name, impl, prim, _FLOATS)


floor = _identity_for_ints("floor", lax.floor, _prim(lax.floor))
ceil = _identity_for_ints("ceil", lax.ceil, _prim(lax.ceil))


def _trunc_float(x):
    return lax.select(lax.lt(x, _c(x, 0)), lax.ceil(x), lax.floor(x))


trunc = _identity_for_ints("trunc", _trunc_float, None)
fix = _identity_for_ints("fix", _trunc_float, None)


def _rint(x):
    x = _to_float(x)
    if _dt(x) in _COMPLEX:
        return lax.complex(lax.round(lax.real(x), 1), lax.round(lax.imag(x), 1))
    return lax.round(x, 1)


rint = _unary("rint", _rint)


def _round_float(x, decimals: int):
    if decimals == 0:
        return lax.round(x, 1)
    if decimals > 0:
        f = _c(x, 10.0 ** decimals)
        return lax.div(lax.round(lax.mul(x, f), 1), f)
    f = _c(x, 10.0 ** -decimals)
    return lax.mul(lax.round(lax.div(x, f), 1), f)


def _round_int(x, decimals: int):
    """Round integers to a multiple of ``10**-decimals``, half to even (NumPy's result)."""
    if decimals >= 0:
        return x
    dt = _dt(x)
    m = 10 ** -decimals
    if m > np.iinfo(dt).max:
        return _full(x, 0)
    mc = _full(x, m)
    q = lax.div(x, mc)
    r = lax.rem(x, mc)
    if dtypes.is_signed_int(dt):  # floor division
        neg = lax.lt(r, _c(r, 0))
        q = lax.select(neg, lax.sub(q, _c(q, 1)), q)
        r = lax.select(neg, lax.add(r, mc), r)
    rest = lax.sub(mc, r)
    odd = lax.ne(lax.bitwise_and(q, _c(q, 1)), _c(q, 0))
    up = lax.bitwise_or(lax.gt(r, rest), lax.bitwise_and(lax.eq(r, rest), odd))
    q = lax.select(up, lax.add(q, _c(q, 1)), q)
    return lax.mul(q, mc)


def _round_body(x, decimals):
    x = _arr(x)
    dt = _dt(x)
    if dt == _BOOL:
        return x
    if dtypes.is_int(dt):
        out = _round_int(x, decimals)
    elif dt in _COMPLEX:
        out = lax.complex(_round_float(lax.real(x), decimals),
                          _round_float(lax.imag(x), decimals))
    else:
        out = _round_float(x, decimals)
    return _restore_weak(out, _weak(x))


_round_run = _kernel(_round_body, "round", static_argnames=("decimals",))


def round(a, decimals: int = 0, out=None):
    """Round to ``decimals`` decimal places, halves to even (as NumPy does)."""
    if out is not None:
        raise NotImplementedError("round: the out= argument is not supported (xtrace arrays "
                                  "are immutable); use the return value")
    decimals = int(decimals)
    if decimals == 0 and type(a) is Array and a.aval.dtype in _FLOATS:
        return lax.round(a, 1)
    return _round_run(_operand("round", a), decimals=decimals)


around = round


def _modf_body(x):
    x = _to_float(_arr(x))
    _no_complex("modf", x)
    whole = _trunc_float(x)
    frac = lax.select(_isinf(x), _full(x, 0), lax.sub(x, whole))
    frac = _copysign(frac, x)  # the fraction keeps the sign of x, even when zero
    return _restore_weak(frac, _weak(x)), _restore_weak(whole, _weak(x))


_modf_run = _kernel(_modf_body, "modf")


def modf(x, /):
    """``(fractional part, integral part)``, both with the sign of ``x``."""
    return tuple(_modf_run(_operand("modf", x)))


# ---------------------------------------------------------------------------------------------
# Floating-point representation: frexp, ldexp, nextafter, spacing


def _float_bits(dt):
    """Bit layout of float dtype ``dt``: (int type, nmant, bias, minexp, width)."""
    info = dtypes.finfo(dt)
    return _INT_OF_WIDTH[dt.itemsize], int(info.nmant), int(info.maxexp) - 1, int(info.minexp), \
        dt.itemsize * 8


def _frexp_parts(x):
    """Sign bits, normalized fraction bits, exponent (int32) and a "zero, inf or NaN" mask
    of float ``x``, all computed on the bits: XLA flushes subnormal floats to zero in
    arithmetic and comparisons, so subnormal inputs are decoded here with integer ops."""
    it, nmant, bias, minexp, width = _float_bits(_dt(x))
    bits = lax.bitcast_convert_type(x, it)
    sign_mask = np.asarray(1 << (width - 1), np.uint64).astype(it)[()]
    sign = lax.bitwise_and(bits, sign_mask)
    mag = lax.bitwise_and(bits, np.asarray((1 << (width - 1)) - 1, it)[()])
    field = lax.shift_right_logical(mag, _c(mag, nmant))
    frac = lax.bitwise_and(mag, _c(mag, (1 << nmant) - 1))
    special = lax.bitwise_or(lax.eq(mag, _c(mag, 0)),
                             lax.eq(field, _c(field, (2 * bias + 1))))
    sub = lax.eq(field, _c(field, 0))
    top = lax.sub(_c(frac, width - 1), lax.clz(frac))  # highest set bit of a subnormal
    frac_sub = lax.bitwise_and(lax.shift_left(frac, lax.sub(_c(top, nmant), top)),
                               _c(frac, (1 << nmant) - 1))
    e = lax.select(sub, lax.add(top, _c(top, minexp - nmant + 1)),
                   lax.sub(field, _c(field, bias - 1)))
    frac = lax.select(sub, frac_sub, frac)
    return sign, frac, lax.convert_element_type(e, dtypes.int32), special


def _frexp(x):
    it, nmant, bias, _, _ = _float_bits(_dt(x))
    sign, frac, e, special = _frexp_parts(x)
    mbits = lax.bitwise_or(lax.bitwise_or(sign, frac), _c(frac, (bias - 1) << nmant))
    m = lax.select(special, x, lax.bitcast_convert_type(mbits, _dt(x)))
    return m, lax.select(special, _full(e, 0), e)


def _frexp_body(x):
    x = _to_float(_arr(x))
    _no_complex("frexp", x)
    m, e = _frexp(x)
    return _restore_weak(m, _weak(x)), e


_frexp_run = _kernel(_frexp_body, "frexp")


def frexp(x, /):
    """``(mantissa, exponent)`` with ``x == mantissa * 2**exponent``, ``0.5 <= |mantissa| < 1``
    (the exponent is int32)."""
    return tuple(_frexp_run(_operand("frexp", x)))


def _ldexp_body(x1, x2):
    x = _to_float(_arr(x1))
    _no_complex("ldexp", x)
    e = _arr(x2)
    if not dtypes.is_int(_dt(e)) and _dt(e) != _BOOL:
        raise TypeError(f"ldexp: the exponent must be an integer array, got {_dt(e).name}")
    x, e = (_arr(v) for v in broadcast_arrays_for("ldexp", [x, e]))
    e = lax.convert_element_type(e, dtypes.int32)
    dt = _dt(x)
    it, nmant, bias, _, _ = _float_bits(dt)
    span = 2 * bias + 2 * nmant + 8
    sign, frac, ex, special = _frexp_parts(x)
    # The result is 1.frac * 2**(big - bias) with biased exponent ``big``; built on the bits
    # (XLA flushes subnormal results of arithmetic to zero).
    big = lax.add(lax.add(ex, lax.clamp(_c(e, -span), e, _c(e, span))), _c(ex, bias - 1))
    big = lax.convert_element_type(lax.clamp(_c(big, -nmant - 4), big, _c(big, 2 * bias + 1)),
                                   it)
    normal = lax.bitwise_or(lax.shift_left(big, _c(big, nmant)), frac)
    # subnormal: shift the significand right by 1 - big, rounding half to even
    s = lax.sub(_c(big, 1), big)
    sig = lax.bitwise_or(frac, _c(frac, 1 << nmant))
    q = lax.shift_right_logical(sig, s)
    r = lax.bitwise_and(sig, lax.sub(lax.shift_left(_c(s, 1), s), _c(s, 1)))
    half = lax.shift_left(_c(s, 1), lax.sub(s, _c(s, 1)))
    up = lax.bitwise_or(lax.gt(r, half), lax.bitwise_and(
        lax.eq(r, half), lax.ne(lax.bitwise_and(q, _c(q, 1)), _c(q, 0))))
    subnormal = lax.select(up, lax.add(q, _c(q, 1)), q)
    mag = lax.select(lax.le(big, _c(big, 0)), subnormal, normal)
    mag = lax.select(lax.gt(big, _c(big, 2 * bias)), _full(mag, (2 * bias + 1) << nmant), mag)
    out = lax.bitcast_convert_type(lax.bitwise_or(sign, mag), dt)
    return _restore_weak(lax.select(special, x, out), _weak(x))


_ldexp_run = _kernel(_ldexp_body, "ldexp")


def ldexp(x1, x2, /):
    """``x1 * 2**x2`` for an integer ``x2``, without intermediate overflow."""
    return _ldexp_run(_operand("ldexp", x1), _operand("ldexp", x2))


def _nextafter(a, b):
    a, b = _to_float(a), _to_float(b)
    _no_complex("nextafter", a)
    return lax.nextafter(a, b)


nextafter = _binary("nextafter", _nextafter, _prim(lax.nextafter), _FLOATS)


def _spacing(x):
    x = _to_float(x)
    _no_complex("spacing", x)
    neg = _signbit(x)
    toward = lax.select(neg, _full(x, -np.inf), _full(x, np.inf))
    out = lax.sub(lax.nextafter(x, toward), x)
    # every subnormal spacing is the smallest subnormal, which XLA's subtraction flushes to 0
    tiny = float(dtypes.finfo(_dt(x)).smallest_subnormal)
    return lax.select(lax.eq(out, _c(out, 0)),
                      lax.select(neg, _full(x, -tiny), _full(x, tiny)), out)


spacing = _unary("spacing", _spacing)


# ---------------------------------------------------------------------------------------------
# Maximum, minimum, clip


def _nan_first(a, b, out):
    """``out`` where neither operand is NaN, else the NaN (complex: either part NaN)."""
    return lax.select(_isnan(a), a, lax.select(_isnan(b), b, out))


def _maximum(a, b):
    out = lax.max(a, b)  # XLA's max already propagates NaN for real floats
    return _nan_first(a, b, out) if _dt(a) in _COMPLEX else out


def _minimum(a, b):
    out = lax.min(a, b)
    return _nan_first(a, b, out) if _dt(a) in _COMPLEX else out


maximum = _binary("maximum", _maximum, _prim(lax.max), _REAL)
minimum = _binary("minimum", _minimum, _prim(lax.min), _REAL)


def _fmax(a, b):
    if _dt(a) not in _INEXACT:
        return lax.max(a, b)
    return lax.select(_isnan(b), a, lax.select(_isnan(a), b, lax.max(a, b)))


def _fmin(a, b):
    if _dt(a) not in _INEXACT:
        return lax.min(a, b)
    return lax.select(_isnan(b), a, lax.select(_isnan(a), b, lax.min(a, b)))


fmax = _binary("fmax", _fmax)
fmin = _binary("fmin", _fmin)


def _clip_body(x, lo, hi):
    args = [v for v in (x, lo, hi) if v is not None]
    dt, weak = dtypes.promote_types_weak(*[(get_aval(v).dtype, get_aval(v).weak_type)
                                           for v in args])
    if dtypes.is_complex(dt):
        raise ValueError("clip: complex values have no ordering and cannot be clipped; clip "
                         "the real and imaginary parts separately")
    out = x
    if lo is not None:
        out = _binary_impl("clip", _maximum, out, lo)
    if hi is not None:
        out = _binary_impl("clip", _minimum, out, hi)
    return out


def _binary_impl(name, impl, x1, x2):
    a, b = _promote(name, x1, x2)
    return _restore_weak(impl(a, b), _weak(a))


_clip_both = _kernel(lambda x, lo, hi: _clip_body(x, lo, hi), "clip")
_clip_lo = _kernel(lambda x, lo: _clip_body(x, lo, None), "clip")
_clip_hi = _kernel(lambda x, hi: _clip_body(x, None, hi), "clip")


def clip(arr=None, /, min=None, max=None, *, a=None, a_min=None, a_max=None):
    """Limit values to ``[min, max]`` (either may be None). NaN in the array or in a bound
    gives NaN. ``a_min``/``a_max`` (NumPy's names) are accepted too."""
    if a is not None:
        if arr is not None:
            raise TypeError("clip: pass the array once (positionally or as a=)")
        arr = a
    if arr is None:
        raise TypeError("clip: the array to clip is missing (got None)")
    if a_min is not None:
        if min is not None:
            raise TypeError("clip: pass the lower bound once (min= or a_min=)")
        min = a_min
    if a_max is not None:
        if max is not None:
            raise TypeError("clip: pass the upper bound once (max= or a_max=)")
        max = a_max
    arr = _operand("clip", arr)
    if min is None and max is None:
        return _arr(arr)
    if min is None:
        return _clip_hi(arr, _operand("clip", max))
    if max is None:
        return _clip_lo(arr, _operand("clip", min))
    return _clip_both(arr, _operand("clip", min), _operand("clip", max))


# ---------------------------------------------------------------------------------------------
# Classification and complex parts


def _isnan_impl(x):
    return _isnan(x)


isnan = _unary("isnan", _isnan_impl)
isinf = _unary("isinf", _isinf)
isfinite = _unary("isfinite", _isfinite, _prim(lax.is_finite), _FLOATS)


def _isposinf(x):
    _no_complex("isposinf", x)
    if _dt(x) not in _FLOATS:
        return _full(x, False, _BOOL)
    return lax.eq(x, _c(x, np.inf))


def _isneginf(x):
    _no_complex("isneginf", x)
    if _dt(x) not in _FLOATS:
        return _full(x, False, _BOOL)
    return lax.eq(x, _c(x, -np.inf))


isposinf = _unary("isposinf", _isposinf)
isneginf = _unary("isneginf", _isneginf)


def _nan_to_num_real(x, nan, posinf, neginf):
    def const(v):
        return lax.broadcast_in_dim(lax.convert_element_type(v, _dt(x)), x.aval.shape, ())
    out = lax.select(_isnan(x), const(nan), x)
    out = lax.select(lax.eq(x, _c(x, np.inf)), const(posinf), out)
    return lax.select(lax.eq(x, _c(x, -np.inf)), const(neginf), out)


def _nan_to_num_body(x, nan, posinf, neginf):
    x, nan, posinf, neginf = (_arr(v) for v in (x, nan, posinf, neginf))
    if _dt(x) in _COMPLEX:
        return lax.complex(_nan_to_num_real(lax.real(x), nan, posinf, neginf),
                           _nan_to_num_real(lax.imag(x), nan, posinf, neginf))
    return _restore_weak(_nan_to_num_real(x, nan, posinf, neginf), _weak(x))


_nan_to_num_run = _kernel(_nan_to_num_body, "nan_to_num")


def nan_to_num(x, copy: bool = True, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with ``nan`` and infinities with ``posinf``/``neginf`` (default: the
    largest finite values of the dtype). Integer and bool arrays are returned unchanged."""
    x = _operand("nan_to_num", x)
    dt = get_aval(x).dtype
    if dt not in _INEXACT:
        return _arr(x)
    info = dtypes.finfo(_real_dtype(dt))
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    return _nan_to_num_run(x, nan, posinf, neginf)


def _conj(x):
    return lax.conj(x) if _dt(x) in _COMPLEX else x


def _real(x):
    return lax.real(x) if _dt(x) in _COMPLEX else x


def _imag(x):
    return lax.imag(x) if _dt(x) in _COMPLEX else _full(x, 0)


conj = _unary("conj", _conj, _prim(lax.conj), _COMPLEX)
conjugate = conj
real = _unary("real", _real, _prim(lax.real), _COMPLEX)
imag = _unary("imag", _imag, _prim(lax.imag), _COMPLEX)


def _angle_body(z, deg):
    z = _arr(z)
    weak = _weak(z)
    if _dt(z) in _COMPLEX:
        out = lax.atan2(lax.imag(z), lax.real(z))
    else:
        z = _to_float(z)
        out = lax.atan2(_full(z, 0), z)
    if deg:
        out = lax.mul(out, _c(out, 180 / math.pi))
    return _restore_weak(out, weak)


_angle_run = _kernel(_angle_body, "angle", static_argnames=("deg",))


def angle(z, deg: bool = False):
    """The argument of complex ``z`` (radians, or degrees with ``deg=True``)."""
    return _angle_run(_operand("angle", z), deg=bool(deg))


def iscomplex(x):
    """Elementwise: is the imaginary part nonzero (False for real dtypes)."""
    return _iscomplex(_operand("iscomplex", x))


def isreal(x):
    """Elementwise: is the imaginary part zero (True for real dtypes)."""
    return _isreal(_operand("isreal", x))


_iscomplex = _kernel(lambda x: _iscomplex_body(_arr(x)), "iscomplex")
_isreal = _kernel(lambda x: _isreal_body(_arr(x)), "isreal")


def _iscomplex_body(x):
    if _dt(x) in _COMPLEX:
        return lax.ne(lax.imag(x), _c(lax.imag(x), 0))
    return _full(x, False, _BOOL)


def _isreal_body(x):
    if _dt(x) in _COMPLEX:
        return lax.eq(lax.imag(x), _c(lax.imag(x), 0))
    return _full(x, True, _BOOL)


def iscomplexobj(x) -> bool:
    """Whether ``x`` has a complex dtype (its values are not looked at)."""
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic)):
        return dtypes.is_complex(x.dtype)
    if type(x) in _SCALAR_TYPES:
        return type(x) is complex
    try:
        return dtypes.is_complex(asarray(x).dtype)
    except TypeError:
        return bool(np.iscomplexobj(x))


def isrealobj(x) -> bool:
    """Whether ``x`` does not have a complex dtype."""
    return not iscomplexobj(x)


def isscalar(element) -> bool:
    """True for Python and NumPy scalars and for 0-d arrays (as ``jax.numpy.isscalar``)."""
    if np.isscalar(element):
        return True
    if isinstance(element, (Array, Tracer, np.ndarray)):
        return element.ndim == 0
    return False


# ---------------------------------------------------------------------------------------------
# Comparisons


def _compare(name: str, lax_fn, complex_order: str | None = None) -> Callable:
    def impl(a, b):
        if complex_order is not None and _dt(a) in _COMPLEX:
            return _lex_compare(complex_order, a, b)
        return lax_fn(a, b)
    fast = _ALL if complex_order is None else _REAL
    return _binary(name, impl, _prim(lax_fn), fast)


equal = _compare("equal", lax.eq)
not_equal = _compare("not_equal", lax.ne)
less = _compare("less", lax.lt, "lt")
less_equal = _compare("less_equal", lax.le, "le")
greater = _compare("greater", lax.gt, "gt")
greater_equal = _compare("greater_equal", lax.ge, "ge")


# ---------------------------------------------------------------------------------------------
# Logic and bits


def _logical(name: str, lax_fn) -> Callable:
    def body(x1, x2):
        a, b = broadcast_arrays_for(name, [_truthy(_arr(x1)), _truthy(_arr(x2))])
        return lax_fn(_arr(a), _arr(b))
    run = _kernel(body, name)
    prim = _prim(lax_fn)

    def fn(x1, x2, /):
        if (type(x1) is Array and type(x2) is Array and x1.aval.dtype == _BOOL
                and x1.aval == x2.aval):
            return prim.bind(x1, x2)
        return run(_operand(name, x1), _operand(name, x2))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` of the truth values (nonzero is true)."
    return fn


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)
logical_not = _unary("logical_not", lambda x: lax.bitwise_not(_truthy(x)),
                     _prim(lax.bitwise_not), frozenset([_BOOL]))


def _bitwise(name: str, lax_fn) -> Callable:
    def impl(a, b):
        if _dt(a) not in _INTEGRAL:
            raise TypeError(f"{name} is only defined for integer and bool arrays, got "
                            f"{_dt(a).name}")
        return lax_fn(a, b)
    return _binary(name, impl, _prim(lax_fn), _INTEGRAL)


bitwise_and = _bitwise("bitwise_and", lax.bitwise_and)
bitwise_or = _bitwise("bitwise_or", lax.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", lax.bitwise_xor)


def _invert(x):
    if _dt(x) not in _INTEGRAL:
        raise TypeError(f"invert (bitwise_not, ~) is only defined for integer and bool "
                        f"arrays, got {_dt(x).name}")
    return lax.bitwise_not(x)


invert = _unary("invert", _invert, _prim(lax.bitwise_not), _INTEGRAL)
bitwise_not = bitwise_invert = invert


def _bitwise_count(x):
    dt = _dt(x)
    if dt == _BOOL:
        return lax.convert_element_type(x, dtypes.uint8)
    _only_int("bitwise_count", x)
    if dtypes.is_signed_int(dt):
        x = lax.abs(x)
    return lax.convert_element_type(lax.population_count(x), dtypes.uint8)


bitwise_count = _unary("bitwise_count", _bitwise_count)


def _shift_operands(name, a, b):
    a, b = _to_int(a), _to_int(b)
    _only_int(name, a)
    return a, b


def _left_shift(a, b):
    a, b = _shift_operands("left_shift", a, b)
    return lax.shift_left(a, b)


def _right_shift(a, b):
    a, b = _shift_operands("right_shift", a, b)
    if dtypes.is_unsigned(_dt(a)):
        return lax.shift_right_logical(a, b)
    return lax.shift_right_arithmetic(a, b)


left_shift = bitwise_left_shift = _binary("left_shift", _left_shift)
right_shift = bitwise_right_shift = _binary("right_shift", _right_shift)


def _gcd_abs(a, b):
    a, b = lax.abs(a), lax.abs(b)
    everything = tuple(range(a.aval.ndim))

    def cond(c):
        return lax.reduce_or(lax.ne(c[1], _c(c[1], 0)), everything)

    def body(c):
        x, y = c
        zero, y1 = _int_divide_safe(y)
        return lax.select(zero, x, y), lax.select(zero, y, lax.rem(x, y1))
    return lax.abs(lax.while_loop(cond, body, (a, b))[0])  # abs(INT_MIN) stays negative


def _gcd(a, b):
    _only_int("gcd", a)
    return _gcd_abs(a, b)


def _lcm(a, b):
    _only_int("lcm", a)
    g = _gcd_abs(a, b)
    zero, g1 = _int_divide_safe(g)
    out = lax.abs(lax.mul(lax.div(a, g1), b))
    return lax.select(zero, _full(out, 0), out)


gcd = _binary("gcd", _gcd)
lcm = _binary("lcm", _lcm)


# ---------------------------------------------------------------------------------------------
# where, select, piecewise


def _where_body(condition, x, y):
    c = _truthy(_arr(condition))
    x, y = (_arr(v) for v in promote_dtypes_only(x, y))
    c, x, y = broadcast_arrays_for("where", [c, x, y])
    return lax.select(_arr(c), _arr(x), _arr(y))


_where_run = _kernel(_where_body, "where")


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """``x`` where ``condition`` is true (nonzero), else ``y``, broadcasting all three.

    With only ``condition`` it is ``nonzero(condition)``, which needs a static ``size=``
    under jit."""
    if x is None and y is None:
        from xtrace._src.numpy import searching  # nonzero lives there (imports this module)
        return searching.where(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("where: pass either both x and y, or neither")
    if type(condition) is Array and type(x) is Array and type(y) is Array and (
            condition.aval.dtype == _BOOL and x.aval == y.aval
            and condition.aval.shape == x.aval.shape):
        return lax.select(condition, x, y)  # fast path
    return _where_run(_operand("where", condition), _operand("where", x),
                      _operand("where", y))


def _select_body(condlist, choicelist, default):
    choices = [_arr(v) for v in promote_dtypes_only(*choicelist, default)]
    conds = [_truthy(_arr(c)) for c in condlist]
    shape = broadcast_shapes(*[v.aval.shape for v in conds + choices], fname="select")
    out = broadcast_to(choices[-1], shape)
    for c, v in reversed(list(zip(conds, choices[:-1]))):
        out = lax.select(broadcast_to(c, shape), broadcast_to(v, shape), out)
    return _arr(out)


_select_run = _kernel(_select_body, "select")


def select(condlist, choicelist, default=0):
    """``choicelist[i]`` where ``condlist[i]`` is the first true condition, else
    ``default`` (all broadcast together)."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length, got "
                         f"{len(condlist)} and {len(choicelist)}")
    if not condlist:
        raise ValueError("select: condlist must be non-empty")
    return _select_run([_operand("select", c) for c in condlist],
                       [_operand("select", v) for v in choicelist],
                       _operand("select", default))


def piecewise(x, condlist, funclist, *args, **kw):
    """Evaluate ``funclist[i]`` where ``condlist[i]`` holds (later conditions win); an extra
    last function (or value) applies where no condition holds, else 0.

    Unlike NumPy, each function is called on the whole of ``x`` (not on the selected
    elements), so functions must work elementwise; the result has ``x``'s dtype."""
    x = _arr(_operand("piecewise", x))
    if isinstance(condlist, (list, tuple)):
        conds = list(condlist)
        if conds and x.ndim != 0 and builtins.all(
                isinstance(c, (bool, np.bool_)) for c in conds):
            conds = [conds]  # one condition written as a list of bools, as NumPy reads it
    elif _is_array(condlist) or isinstance(condlist, np.ndarray):
        nd = np.ndim(condlist) if isinstance(condlist, np.ndarray) else condlist.ndim
        conds = [condlist] if nd <= x.ndim else [condlist[i] for i in range(len(condlist))]
    else:
        conds = [condlist]
    n = len(conds)
    funcs = list(funclist) if isinstance(funclist, (list, tuple)) else [funclist]
    if len(funcs) not in (n, n + 1):
        raise ValueError(f"piecewise: with {n} condition(s), either {n} or {n + 1} functions "
                         f"are expected; got {len(funcs)}")

    def value(f):
        v = f(x, *args, **kw) if callable(f) else f
        v = _arr(_operand("piecewise", v))
        if _dt(v) != _dt(x) or _weak(v):
            v = lax.convert_element_type(v, _dt(x), False)
        return broadcast_to(v, x.shape)

    out = value(funcs[n]) if len(funcs) == n + 1 else _full(x, 0)
    out = lax.convert_element_type(out, _dt(x), False)
    for c, f in zip(conds, funcs[:n]):
        c = broadcast_to(_truthy(_arr(_operand("piecewise", c))), x.shape)
        out = lax.select(_arr(c), value(f), out)
    return out


# ---------------------------------------------------------------------------------------------
# Closeness and equality of whole arrays


def _isclose_impl(a, b, rtol, atol, equal_nan):
    a, b = _promote("isclose", a, b)
    exact = lax.eq(a, b)
    if _dt(a) not in _INEXACT:
        # |a - b| exactly, in the unsigned type of the same width (no overflow), then float
        a, b = _to_int(a), _to_int(b)
        ut = np.dtype(f"u{_dt(a).itemsize}")
        ua, ub = lax.convert_element_type(a, ut), lax.convert_element_type(b, ut)
        udiff = lax.select(lax.gt(a, b), lax.sub(ua, ub), lax.sub(ub, ua))
        diff = lax.convert_element_type(udiff, dtypes.default_float())
        a, b = _to_float(a), _to_float(b)
        ok = None
    else:
        ok = lax.bitwise_and(_isfinite(a), _isfinite(b))
        diff = lax.abs(lax.sub(a, b))
    rdt = _real_dtype(_dt(a))
    rtol = lax.convert_element_type(_arr(rtol), rdt)
    atol = lax.convert_element_type(_arr(atol), rdt)
    close = lax.le(diff, lax.add(atol, lax.mul(rtol, lax.abs(b))))
    if ok is not None:
        close = lax.bitwise_and(close, ok)
    out = lax.bitwise_or(close, exact)
    if equal_nan:
        out = lax.bitwise_or(out, lax.bitwise_and(_isnan(a), _isnan(b)))
    return out


_isclose_run = _kernel(_isclose_impl, "isclose", static_argnames=("equal_nan",))


def _all(x):
    return lax.reduce_and(x, tuple(range(x.aval.ndim)))


_allclose_run = _kernel(lambda a, b, rtol, atol, equal_nan:
                        _all(_isclose_impl(a, b, rtol, atol, equal_nan)),
                        "allclose", static_argnames=("equal_nan",))


def _tolerance(name, v):
    if _is_array(v) or type(v) in _SCALAR_TYPES or isinstance(v, (np.ndarray, np.generic)):
        return float(v) if isinstance(v, (int, np.integer)) else v
    raise TypeError(f"{name}: rtol and atol must be numbers, got {type(v).__name__}")


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan: bool = False):
    """Elementwise ``|a - b| <= atol + rtol * |b|`` (infinities equal only to themselves;
    NaNs equal each other only with ``equal_nan``). Integers are compared as floats, and
    exactly equal values are always close."""
    return _isclose_run(_operand("isclose", a), _operand("isclose", b),
                        _tolerance("isclose", rtol), _tolerance("isclose", atol),
                        equal_nan=bool(equal_nan))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan: bool = False):
    """Whether ``isclose`` holds everywhere (a 0-d bool array)."""
    return _allclose_run(_operand("allclose", a), _operand("allclose", b),
                         _tolerance("allclose", rtol), _tolerance("allclose", atol),
                         equal_nan=bool(equal_nan))


def _array_equal_body(a, b, equal_nan):
    a, b = _promote("array_equal", a, b)
    eq = lax.eq(a, b)
    if equal_nan:
        eq = lax.bitwise_or(eq, lax.bitwise_and(_isnan(a), _isnan(b)))
    return _all(eq)


_array_equal_run = _kernel(_array_equal_body, "array_equal", static_argnames=("equal_nan",))


def array_equal(a1, a2, equal_nan: bool = False):
    """Whether the arrays have the same shape and elements (a 0-d bool array)."""
    try:
        a1, a2 = _operand("array_equal", a1), _operand("array_equal", a2)
    except TypeError:
        return asarray(False)
    if _shape(a1) != _shape(a2):
        return asarray(False)
    return _array_equal_run(a1, a2, equal_nan=bool(equal_nan))


def _shape(x) -> tuple:
    return tuple(x.shape) if _is_array(x) else np.shape(x)


def array_equiv(a1, a2):
    """Whether the arrays are broadcast-compatible and equal everywhere (a 0-d bool array)."""
    try:
        a1, a2 = _operand("array_equiv", a1), _operand("array_equiv", a2)
        broadcast_shapes(_shape(a1), _shape(a2))
    except (TypeError, ValueError):
        return asarray(False)
    return _array_equal_run(a1, a2, equal_nan=False)


def can_cast(from_, to, casting: str = "safe") -> bool:
    """Whether ``from_`` (a dtype or an array) can be cast to dtype ``to`` under ``casting``
    (NumPy's rules; Python scalars are refused because the answer would depend on values)."""
    if type(from_) in _SCALAR_TYPES:
        raise TypeError("can_cast: Python int, float and complex values are not supported, "
                        "because the answer would depend on the value; pass a dtype or an "
                        "array")
    src = from_.dtype if isinstance(from_, (Array, Tracer, np.ndarray, np.generic)) \
        else np.dtype(from_)
    return bool(np.can_cast(src, np.dtype(to), casting))


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
