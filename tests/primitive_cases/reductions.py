"""Cases for the primitives of ``xtrace/_src/prims/reductions.py``.

Float references are computed in float64. XLA may add in any order: a sum or product of n
positive float32 values is within about (n - 1) / 2 eps of the exact one, which sets the
tolerances (the operands of sums and products are positive for that reason). The cumulative
ops are log-depth scans: each result is at most ceil(log2 n) roundings from the exact one.
Integer sums and products wrap like NumPy's when asked to keep the dtype; max/min/and/or/xor
and argmax/argmin are exact. Empty reductions give the identity (-inf for max, all ones for
and, ...); argmax/argmin follow JAX: the first index on ties, and NaN counts as the extreme
(the first NaN wins), as NumPy does too.
"""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand
from tests.primitive_cases.elementwise import (BF16, BOOL, C64, C128, EPS, EXACT, F16, F32, F64,
                                               I8, I16, I32, I64, INF, NAN, U8, U32, U64, c128,
                                               f64, ints, kind, main, quiet, variant)

CASES: dict[str, list[Case]] = {}


def add(name, *cases):
    CASES.setdefault(name, []).extend(cases)


def _ref64(x):
    """Exact-ish reference operand: float64 or complex128 for inexact dtypes."""
    x = np.asarray(x)
    return c128(x) if x.dtype.kind == "c" else f64(x) if kind(x.dtype) == "f" else x


def _reductions(name, specs):
    """lax.<name> over (operand index, axes) specs: one output per spec."""
    op = getattr(lax, name)
    return lambda *xs: tuple(op(xs[i], axes) for i, axes in specs)


# ---------------------------------------------------------------------------------------------
# reduce_sum, reduce_prod, reduce_max, reduce_min, reduce_and, reduce_or, reduce_xor

_NP = {"reduce_sum": np.add, "reduce_prod": np.multiply, "reduce_max": np.maximum,
       "reduce_min": np.minimum, "reduce_and": np.bitwise_and, "reduce_or": np.bitwise_or,
       "reduce_xor": np.bitwise_xor}


def _identity(name, dt):
    dt = np.dtype(dt)
    if name in ("reduce_sum", "reduce_or", "reduce_xor"):
        return dt.type(0)
    if name == "reduce_prod":
        return dt.type(1)
    if name == "reduce_and":
        return True if dt == BOOL else dt.type(-1) if dt.kind == "i" else np.iinfo(dt).max
    sign = -1 if name == "reduce_max" else 1
    if dt == BOOL:
        return name == "reduce_min"
    if kind(dt) in "fc":
        return sign * INF
    return np.iinfo(dt).min if sign < 0 else np.iinfo(dt).max


def _reduce_ref(name, x, axes):
    x = np.asarray(x)
    if name in ("reduce_sum", "reduce_prod"):
        x = _ref64(x)
    ident = _identity(name, x.dtype)
    if x.dtype.kind == "c" and name in ("reduce_max", "reduce_min"):
        ident = complex(ident, 0)
    with np.errstate(over="ignore"):
        return _NP[name].reduce(x, axis=tuple(axes), initial=ident, dtype=x.dtype)


def _reductions_ref(name, specs):
    return quiet(lambda *xs: tuple(_reduce_ref(name, xs[i], axes) for i, axes in specs))


# axes: one, two (given unsorted), all, a negative one; a size-0 operand; a 0-d one (no axes)
_MAIN_SPECS = [(0, (0,)), (0, (2, 1)), (0, (0, 1, 2)), (0, (-1,)), (1, (0,)), (1, (1,))]
_VAR_SPECS = [(0, (0,)), (0, (1,)), (1, (0, 1))]


def _operands(name, dt, shape, seed):
    if kind(dt) in "iu":
        if name == "reduce_prod":  # small factors: products still overflow (and wrap)
            return rand(shape, dt, seed, -0.3, 0.3)
        return ints(dt, shape, seed)
    if dt == BOOL:
        return rand(shape, BOOL, seed)
    lo, hi = {"reduce_sum": (0.5, 2.0), "reduce_prod": (0.8, 1.25)}.get(name, (-2.0, 2.0))
    x = rand(shape, dt, seed, lo, hi)
    if name in ("reduce_max", "reduce_min") and x.size >= 8:
        # NaN propagates (rows 0), infinities and signed zeros take part
        x.reshape(-1)[[0, 3, 5, 7]] = np.array([NAN, INF, -INF, -0.0]).astype(dt)
    return x


def _reduce_cases(name, dts32, low, dts64, cplx):
    exact = name not in ("reduce_sum", "reduce_prod")
    floaty = name in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min")
    cases = []
    if floaty:
        # float32 in several shapes; exact for max/min, otherwise (n - 1) / 2 eps for n <= 60
        cases.append(main(_reductions(name, _MAIN_SPECS),
                          [_operands(name, F32, (3, 4, 5), 0), _operands(name, F32, (0, 3), 1)],
                          _reductions_ref(name, _MAIN_SPECS), F32,
                          **(EXACT if exact else dict(rtol=30 * EPS[F32], atol=0))))
    specs, args, dts = [], [], []
    for dt in dts32:
        specs += [(len(args), (0,)), (len(args), (1,)), (len(args) + 1, (0, 1))]
        args += [_operands(name, dt, (4, 6), len(args)), _operands(name, dt, (0, 2), 1)]
        dts += [dt] * 3
    if floaty:
        cases.append(variant(_reductions(name, specs), args, _reductions_ref(name, specs), *dts,
                             name="ints_bool", **EXACT))
    else:  # integer-only reductions: this is the main case
        cases.append(main(_reductions(name, specs), args, _reductions_ref(name, specs), *dts,
                          **EXACT))
    if low is not None:
        lspecs = [(0, (1,)), (1, (0,))]
        cases.append(variant(_reductions(name, lspecs),
                             [_operands(name, low, (3, 4), 2), _operands(name, low, (5,), 3)],
                             _reductions_ref(name, lspecs), low, name=low.name,
                             **(EXACT if exact else dict(rtol=4 * EPS[low], atol=0))))
    if cplx:
        if name == "reduce_prod":  # factors near the unit circle
            z = rand((3, 4), F32, 4, 0.9, 1.1) * np.exp(1j * rand((3, 4), F32, 5, -0.5, 0.5))
        else:
            z = rand((3, 4), C64, 4, 0.5, 1.2)
        z = z.astype(C64)
        if exact:  # complex max/min are lexicographic: rows 0 and 1 tie in the real part
            z.real[:2] = 1.0
        zspecs = [(0, (1,)), (0, (0, 1))]
        cases.append(variant(_reductions(name, zspecs), [z], _reductions_ref(name, zspecs), C64,
                             name="c64",
                             **(EXACT if exact else dict(rtol=8 * EPS[F32], atol=0))))
    specs64 = [(i, (0,)) for i in range(len(dts64))]
    args64 = [_operands(name, dt, (5, 3), 9 + i) for i, dt in enumerate(dts64)]
    cases.append(variant(_reductions(name, specs64), args64, _reductions_ref(name, specs64),
                         *dts64, name="x64", x64=True,
                         **(EXACT if exact else dict(rtol=8 * EPS[F64], atol=0))))
    add(name, *cases)


_reduce_cases("reduce_sum", (I32, I8, U8, U32), BF16, (F64, I64, U64, C128), True)
_reduce_cases("reduce_prod", (I32, I8, U8, U32), F16, (F64, I64, U64, C128), True)
_reduce_cases("reduce_max", (I32, I8, U8, U32, BOOL), BF16, (F64, I64, U64), True)
_reduce_cases("reduce_min", (I32, I8, U8, U32, BOOL), F16, (F64, I64, U64), True)
for _name in ("reduce_and", "reduce_or", "reduce_xor"):
    _reduce_cases(_name, (BOOL, I32, I8, U8, U32), None, (I64, U64, BOOL), False)


# ---------------------------------------------------------------------------------------------
# argmax / argmin


def _arg_ref(is_max, axis, index_dtype):
    f = np.argmax if is_max else np.argmin  # NumPy: first index on ties, first NaN wins
    return lambda x: f(np.asarray(x) if kind(np.asarray(x).dtype) != "f" else f64(x),
                       axis=axis).astype(index_dtype)


def _arg_input():
    x = np.round(rand((4, 6), F32, 0, -3, 3))  # rounded: ties
    x[1, [1, 4]] = NAN                          # first NaN wins, even after a larger value
    x[2] = [-0.0, 0.0, 2, 2, -INF, INF]         # signed zeros tie; infinities
    x[3] = NAN                                  # all NaN
    return x


for _name, _is_max in (("argmax", True), ("argmin", False)):
    _op = getattr(lax, _name)
    add(_name,
        main(lambda x, v, e, _op=_op: (_op(x, 0), _op(x, 1), _op(v, 0), _op(e, 1),
                                       _op(x, -1, np.int8)),
             [_arg_input(), np.array([5, 5, 5, 5, 5], F32), np.zeros((0, 3), F32)],
             lambda x, v, e, m=_is_max: (_arg_ref(m, 0, I32)(x), _arg_ref(m, 1, I32)(x),
                                         _arg_ref(m, 0, I32)(v), _arg_ref(m, 1, I32)(e),
                                         _arg_ref(m, 1, I8)(x)),
             I32, I32, I32, I32, I8, **EXACT),
        variant(lambda a, b, c, d, e, f, _op=_op: (_op(a, 1), _op(b, 0, U8), _op(c, 1, I16),
                                                   _op(d, 0), _op(e, 1), _op(f, 0)),
                [np.where(rand((4, 6), BOOL, 1), ints(I32, (4, 6), 2), 7).astype(I32),
                 np.array([3, 200, 255, 255, 128], U8), ints(I8, (3, 5), 3),
                 np.array([False, True, True]),
                 _arg_input().astype(BF16), _arg_input().astype(F16)[:, :1]],
                lambda a, b, c, d, e, f, m=_is_max: (
                    _arg_ref(m, 1, I32)(a), _arg_ref(m, 0, U8)(b), _arg_ref(m, 1, I16)(c),
                    _arg_ref(m, 0, I32)(d), _arg_ref(m, 1, I32)(e), _arg_ref(m, 0, I32)(f)),
                I32, U8, I16, I32, I32, I32, name="dtypes", **EXACT),
        variant(lambda a, b, _op=_op: (_op(a, 1, I64), _op(b, 0, I64)),
                [_arg_input().astype(F64), np.array([2 ** 40, -2 ** 62, 2 ** 40], I64)],
                lambda a, b, m=_is_max: (_arg_ref(m, 1, I64)(a), _arg_ref(m, 0, I64)(b)),
                I64, name="x64", x64=True, **EXACT))


# ---------------------------------------------------------------------------------------------
# cumsum, cumprod, cummax, cummin: forward and reverse, several axes, lengths 1, 2, 5, 17


def _cum_np(name, x, axis, reverse):
    x = np.asarray(x)
    if name in ("cumsum", "cumprod"):
        x = _ref64(x)
    f = {"cumsum": np.add, "cumprod": np.multiply, "cummax": np.maximum,
         "cummin": np.minimum}[name].accumulate
    if reverse:
        return np.flip(f(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    with np.errstate(over="ignore"):
        return f(x, axis=axis, dtype=x.dtype)


def _cums(name, specs):
    op = getattr(lax, name)
    return (lambda *xs: tuple(op(xs[i], axis, reverse) for i, axis, reverse in specs),
            quiet(lambda *xs: tuple(_cum_np(name, xs[i], axis, reverse)
                                    for i, axis, reverse in specs)))


def _cum_operand(name, dt, shape, seed):
    if kind(dt) in "iu":
        return rand(shape, dt, seed, -0.3, 0.3) if name == "cumprod" else ints(dt, shape, seed)
    if dt == BOOL:
        return rand(shape, BOOL, seed)
    lo, hi = {"cumsum": (0.5, 2.0), "cumprod": (0.8, 1.25)}.get(name, (-2.0, 2.0))
    x = rand(shape, dt, seed, lo, hi)
    if name in ("cummax", "cummin") and x.ndim == 3:
        x[0, 1, 4] = NAN  # propagates along every axis it is scanned on
        x[1, 2, 0] = INF
        x[1, 3, 9] = -INF
    return x


# (operand, axis, reverse): the axis of length 17 both ways, 5 forward, 2 reverse, 1, empty
_CUM_MAIN = [(0, 2, False), (0, 2, True), (0, 1, False), (0, 0, True), (1, 0, False),
             (2, 1, True)]
_CUM_MORE = [(0, 0, False), (0, 1, True), (0, -1, False)]
for _name, _dts, _low in (("cumsum", (I32, I8, U8, U32), BF16),
                          ("cumprod", (I32, I8, U8, U32), F16),
                          ("cummax", (I32, I8, U8, U32, BOOL), BF16),
                          ("cummin", (I32, I8, U8, U32, BOOL), F16)):
    _exact = _name in ("cummax", "cummin")
    _fn, _ref = _cums(_name, _CUM_MAIN)
    _tol = EXACT if _exact else dict(rtol=3 * EPS[F32], atol=0)
    add(_name, main(_fn, [_cum_operand(_name, F32, (2, 5, 17), 0),
                          _cum_operand(_name, F32, (1, 3), 1),
                          _cum_operand(_name, F32, (0, 3), 2)], _ref, F32, **_tol))
    _fn, _ref = _cums(_name, _CUM_MORE)
    add(_name, variant(_fn, [_cum_operand(_name, F32, (2, 5, 17), 0)], _ref, F32,
                       name="more_axes", **_tol))
    _specs = [(i, i % 2, i % 3 == 1) for i in range(len(_dts))]
    _fn, _ref = _cums(_name, _specs)
    add(_name, variant(_fn, [_cum_operand(_name, dt, (5, 6), i) for i, dt in enumerate(_dts)],
                       _ref, *_dts, name="ints", **EXACT))
    _fn, _ref = _cums(_name, [(0, 0, False), (0, 0, True)])
    add(_name, variant(_fn, [_cum_operand(_name, _low, (9,), 3)], _ref, _low, name=_low.name,
                       **(EXACT if _exact else dict(rtol=4 * EPS[_low], atol=0))))
    _z = (rand((7,), F32, 4, 0.9, 1.1) * np.exp(1j * rand((7,), F32, 5, -0.5, 0.5))).astype(C64)
    if _exact:
        _z.real[:4] = 1.0  # lexicographic: ties in the real part
    _fn, _ref = _cums(_name, [(0, 0, False), (0, 0, True)])
    add(_name, variant(_fn, [_z], _ref, C64, name="c64",
                       **(EXACT if _exact else dict(rtol=6 * EPS[F32], atol=0))))
    _fn, _ref = _cums(_name, [(0, 1, False), (1, 0, True)])
    add(_name, variant(_fn, [_cum_operand(_name, F64, (3, 17), 6),
                             _cum_operand(_name, I64, (5,), 7)], _ref, F64, I64, name="x64",
                       x64=True, **(EXACT if _exact else dict(rtol=4 * EPS[F64], atol=0))))
