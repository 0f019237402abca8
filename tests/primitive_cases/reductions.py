"""Cases for the primitives of ``xtrace/_src/prims/reductions.py``.

Float references are computed in float64. XLA may add in any order: a sum or product of n
positive float32 values is within about (n - 1) / 2 eps of the exact one, which sets the
tolerances (the operands of sums and products are positive for that reason). The cumulative
ops are log-depth scans: each result is at most ceil(log2 n) roundings from the exact one.
Integer sums and products wrap like NumPy's when asked to keep the dtype; max/min/and/or/xor
and argmax/argmin are exact. Empty reductions give the identity (-inf for max, all ones for
and, ...); argmax/argmin follow JAX: the first index on ties, and NaN counts as the extreme
(the first NaN wins), as NumPy does too. Complex max/min are lexicographic.

As in ``elementwise.py``: ``main`` cases run op by op (eagerly); ``Group`` cases run many checks
as one jitted program, registered under each primitive they cover.
"""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand
from tests.primitive_cases.elementwise import (BF16, BOOL, C64, EPS, EXACT, F16, F32, F64, I8,
                                               I16, I32, I64, INF, NAN, U8, U32, U64, Group, c128,
                                               f64, ints, kind, main)

CASES: dict[str, list[Case]] = {}


def add(name, *cases):
    CASES.setdefault(name, []).extend(cases)


def _Group(name, **kw):
    return Group(name, table=CASES, **kw)


def _ref64(x):
    """Exact-ish reference operand: float64 or complex128 for inexact dtypes."""
    x = np.asarray(x)
    return c128(x) if x.dtype.kind == "c" else f64(x) if kind(x.dtype) == "f" else x


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
    if dt == BOOL:
        return name == "reduce_min"
    if kind(dt) in "fc":
        return complex(-INF if name == "reduce_max" else INF, 0) if dt.kind == "c" else \
            -INF if name == "reduce_max" else INF
    return np.iinfo(dt).min if name == "reduce_max" else np.iinfo(dt).max


def _reduce_ref(name, x, axes):
    x = np.asarray(x)
    if name in ("reduce_sum", "reduce_prod"):
        x = _ref64(x)
    with np.errstate(over="ignore"):
        return _NP[name].reduce(x, axis=tuple(axes), initial=_identity(name, x.dtype),
                                dtype=x.dtype)


def _reductions(name, specs):
    """lax.<name> and its reference over (operand index, axes) specs: one output each."""
    op = getattr(lax, name)
    return (lambda *xs: tuple(op(xs[i], axes) for i, axes in specs),
            lambda *xs: tuple(_reduce_ref(name, xs[i], axes) for i, axes in specs))


def _operand(name, dt, shape, seed):
    if kind(dt) in "iu":
        if name == "reduce_prod":  # small factors: products still overflow (and wrap)
            return rand(shape, dt, seed, -0.3, 0.3)
        return ints(dt, shape, seed)
    if dt == BOOL:
        return rand(shape, BOOL, seed)
    if dt.kind == "c":
        if name == "reduce_prod":  # factors near the unit circle
            z = rand(shape, F32, seed, 0.9, 1.1) * np.exp(1j * rand(shape, F32, seed + 1, -.5, .5))
        else:
            z = rand(shape, C64, seed, 0.5, 1.2)
        z = z.astype(dt)
        if name in ("reduce_max", "reduce_min"):  # lexicographic: rows 0 and 1 tie in real
            z.real[:2] = 1.0
        return z
    lo, hi = {"reduce_sum": (0.5, 2.0), "reduce_prod": (0.8, 1.25)}.get(name, (-2.0, 2.0))
    x = rand(shape, dt, seed, lo, hi)
    if name in ("reduce_max", "reduce_min") and x.size >= 8:
        # NaN propagates, infinities and signed zeros take part
        x.reshape(-1)[[0, 3, 5, 7]] = np.array([NAN, INF, -INF, -0.0]).astype(dt)
    return x


_G64 = _Group("x64", x64=True, rtol=8 * EPS[F64], atol=0)
for _name, _dts, _low in (("reduce_sum", (I32, U8), BF16),
                          ("reduce_prod", (I32, U8), F16),
                          ("reduce_max", (I32, U8, BOOL, C64), BF16),
                          ("reduce_min", (I8, U32, BOOL, C64), F16),
                          ("reduce_and", (BOOL, I32, U8), None),
                          ("reduce_or", (BOOL, I8, U32), None),
                          ("reduce_xor", (BOOL, I32, U8), None)):
    _exact = _name not in ("reduce_sum", "reduce_prod")
    _tol = EXACT if _exact else dict(rtol=30 * EPS[F32], atol=0)  # (n - 1) / 2 eps, n <= 60
    _x = _operand(_name, F32, (3, 4, 5), 0)
    _g = _Group("dtypes_0d_empty", **_tol)
    if _low is not None:
        # float32: two axes given unsorted, all axes (op by op); one axis, a negative one,
        # empty operands (in one jitted program, with the other dtypes)
        _fn, _ref = _reductions(_name, [(0, (2, 1)), (0, (0, 1, 2))])
        add(_name, main(_fn, [_x], _ref, F32, **_tol))
        _fn, _ref = _reductions(_name, [(0, (0,)), (0, (-1,)), (1, (0,)), (1, (1,))])
        _g.add(_name, _fn, [_x, np.zeros((0, 3), F32)], _ref, F32, F32, F32, F32)
        _fn, _ref = _reductions(_name, [(0, (1,))])
        _Group(_low.name, **(EXACT if _exact else dict(rtol=4 * EPS[_low], atol=0))).add(
            _name, _fn, [_operand(_name, _low, (3, 4), 2)], _ref, _low).emit()
    _specs, _args, _out = [], [], []
    for _j, _dt in enumerate(_dts):  # axis 0 or 1, and an empty operand
        _specs += [(len(_args), (_j % 2,)), (len(_args) + 1, (0, 1))]
        _args += [_operand(_name, _dt, (4, 6), len(_args)), _operand(_name, _dt, (0, 2), 1)]
        _out += [_dt] * 2
    if _low is None:  # bool/integer-only reductions: bool op by op, both axes
        _fn, _ref = _reductions(_name, [(0, (0,)), (0, (1,))])
        add(_name, main(_fn, _args[:1], _ref, BOOL, BOOL, **EXACT))
    _fn, _ref = _reductions(_name, _specs)
    _g.add(_name, _fn, _args, _ref, *_out)
    _g.emit()
    _specs64 = [(0, (0,)), (1, (1,))]
    _fn, _ref = _reductions(_name, _specs64)
    _G64.add(_name, _fn, [_operand(_name, F64 if _low else U64, (5, 3), 9),
                          _operand(_name, I64, (5, 3), 10)], _ref, F64 if _low else U64, I64)
_G64.emit()


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


_G = _Group("dtypes_0d_empty", **EXACT)
_G64 = _Group("x64", x64=True, **EXACT)
for _name, _is_max in (("argmax", True), ("argmin", False)):
    _op = getattr(lax, _name)
    add(_name, main(lambda x, _op=_op: (_op(x, 0), _op(x, 1), _op(x, -1, np.int8)),
                    [_arg_input()],
                    lambda x, m=_is_max: (_arg_ref(m, 0, I32)(x), _arg_ref(m, 1, I32)(x),
                                          _arg_ref(m, 1, I8)(x)), I32, I32, I8))
    _G.add(_name, lambda a, b, c, d, e, f, v, z, _op=_op: (
        _op(a, 1), _op(b, 0, U8), _op(c, 1, I16), _op(d, 0), _op(e, 1), _op(f, 0), _op(v, 0),
        _op(z, 1)),
        [np.where(rand((4, 6), BOOL, 1), ints(I32, (4, 6), 2), 7).astype(I32),
         np.array([3, 200, 255, 255, 128], U8), ints(I8, (3, 5), 3),
         np.array([False, True, True]), _arg_input().astype(BF16),
         _arg_input().astype(F16)[:, :1], np.full(5, 5, F32), np.zeros((0, 3), F32)],
        lambda a, b, c, d, e, f, v, z, m=_is_max: (
            _arg_ref(m, 1, I32)(a), _arg_ref(m, 0, U8)(b), _arg_ref(m, 1, I16)(c),
            _arg_ref(m, 0, I32)(d), _arg_ref(m, 1, I32)(e), _arg_ref(m, 0, I32)(f),
            _arg_ref(m, 0, I32)(v), _arg_ref(m, 1, I32)(z)),
        I32, U8, I16, I32, I32, I32, I32, I32)
    _G64.add(_name, lambda a, b, _op=_op: (_op(a, 1, I64), _op(b, 0, I64)),
             [_arg_input().astype(F64), np.array([2 ** 40, -2 ** 62, 2 ** 40], I64)],
             lambda a, b, m=_is_max: (_arg_ref(m, 1, I64)(a), _arg_ref(m, 0, I64)(b)),
             I64, I64)
_G.emit()
_G64.emit()


# ---------------------------------------------------------------------------------------------
# cumsum, cumprod, cummax, cummin: forward and reverse, several axes, lengths 1, 2, 5, 17


def _cum_np(name, x, axis, reverse):
    x = np.asarray(x)
    if name in ("cumsum", "cumprod"):
        x = _ref64(x)
    f = {"cumsum": np.add, "cumprod": np.multiply, "cummax": np.maximum,
         "cummin": np.minimum}[name].accumulate
    with np.errstate(over="ignore"):
        if reverse:
            return np.flip(f(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
        return f(x, axis=axis, dtype=x.dtype)


def _cums(name, specs):
    """lax.<name> and its reference over (operand index, axis, reverse) specs."""
    op = getattr(lax, name)
    return (lambda *xs: tuple(op(xs[i], axis, reverse) for i, axis, reverse in specs),
            lambda *xs: tuple(_cum_np(name, xs[i], axis, reverse) for i, axis, reverse in specs))


def _cum_operand(name, dt, shape, seed):
    dt = np.dtype(dt)
    if kind(dt) in "iu":
        return rand(shape, dt, seed, -0.3, 0.3) if name == "cumprod" else ints(dt, shape, seed)
    if dt == BOOL:
        return rand(shape, BOOL, seed)
    if dt.kind == "c":
        z = (rand(shape, F32, seed, 0.9, 1.1) * np.exp(1j * rand(shape, F32, seed + 1, -.5, .5))
             ).astype(dt)
        if name in ("cummax", "cummin"):  # lexicographic: ties in the real part
            z.real[:3] = 1.0
        return z
    lo, hi = {"cumsum": (0.5, 2.0), "cumprod": (0.8, 1.25)}.get(name, (-2.0, 2.0))
    x = rand(shape, dt, seed, lo, hi)
    if name in ("cummax", "cummin") and x.ndim == 3:
        x[0, 1, 4] = NAN  # propagates along every axis it is scanned on
        x[1, 2, 0] = INF
        x[1, 3, 9] = -INF
    return x


_LOW = _Group("bf16", rtol=4 * EPS[BF16], atol=0)
_G64 = _Group("x64", x64=True, rtol=4 * EPS[F64], atol=0)
for _name, _dts in (("cumsum", (I32, U8)), ("cumprod", (I32, I8)),
                    ("cummax", (I32, U8, BOOL, F16)), ("cummin", (I8, U32, BOOL, BF16))):
    _exact = _name in ("cummax", "cummin")
    _x = _cum_operand(_name, F32, (2, 5, 17), 0)
    # op by op: the axis of length 17 in reverse, length 1
    _fn, _ref = _cums(_name, [(0, 2, True), (1, 0, False)])
    add(_name, main(_fn, [_x, _cum_operand(_name, F32, (1, 3), 1)], _ref, F32,
                    **(EXACT if _exact else dict(rtol=3 * EPS[F32], atol=0))))
    # one program: length 5 in reverse (a negative axis), 2 forward, an empty operand, other
    # dtypes along lengths 2, 3 and 6 (complex64 needs a few eps more)
    _g = _Group("more_axes_dtypes", **(EXACT if _exact else dict(rtol=6 * EPS[F32], atol=0)))
    _fn, _ref = _cums(_name, [(0, -2, True), (0, 0, False), (1, 1, True)])
    _g.add(_name, _fn, [_x, np.zeros((0, 3), F32)], _ref, *[F32] * 3)
    _fn, _ref = _cums(_name, [(i, i % 2, i % 3 == 1) for i in range(len(_dts) + 1)])
    _g.add(_name, _fn, [_cum_operand(_name, dt, (2, 3), i) for i, dt in enumerate(_dts)]
           + [_cum_operand(_name, C64, (6,), 9)], _ref, *_dts, C64)
    _g.emit()
    if not _exact:
        _fn, _ref = _cums(_name, [(0, 0, True)])
        _LOW.add(_name, _fn, [_cum_operand(_name, BF16, (5,), 3)], _ref, BF16)
    # float64: the axis of length 17 forward
    _fn, _ref = _cums(_name, [(0, 0, False), (1, 0, True)])
    _G64.add(_name, _fn, [_cum_operand(_name, F64, (17,), 6), _cum_operand(_name, I64, (3,), 7)],
             _ref, F64, I64)
_LOW.emit()
_G64.emit()

# cumlogsumexp (floating point only): -inf entries are the identity.
_LSE = np.array([[0.5, -np.inf, 1.0, -3.0, 2.0], [-np.inf, -np.inf, 0.0, 40.0, -40.0]], F32)
add("cumlogsumexp",
    Case(lambda x: (lax.cumlogsumexp(x, 1), lax.cumlogsumexp(x, 1, reverse=True),
                    lax.cumlogsumexp(x, 0)), [_LSE],
         lambda x: (np.logaddexp.accumulate(f64(x), 1),
                    np.logaddexp.accumulate(f64(x)[:, ::-1], 1)[:, ::-1],
                    np.logaddexp.accumulate(f64(x), 0)), rtol=1e-6, name="f32"),
    Case(lambda x: lax.cumlogsumexp(x, -1, True), [rand((3, 17), F64, 2)],
         lambda x: np.logaddexp.accumulate(x[:, ::-1], 1)[:, ::-1], rtol=1e-13, name="f64",
         x64=True))


# reduce with a computation that is not a lax monoid: one operand, and a pytree of two
# (a max with its first index, as an argmax).
def _argmax_pair(a, b):
    take_a = lax.bitwise_or(lax.gt(a[0], b[0]), lax.bitwise_and(lax.eq(a[0], b[0]),
                                                                 lax.lt(a[1], b[1])))
    return lax.select(take_a, a[0], b[0]), lax.select(take_a, a[1], b[1])


_RX = rand((3, 4, 5), F32, 7)
add("reduce",
    Case(lambda x: lax.reduce(x, np.zeros((), x.dtype)[()], lambda a, b: a + b, (0, 2)), [_RX],
         lambda x: f64(x).sum((0, 2)), rtol=1e-5, name="sum"),
    Case(lambda x, i: lax.reduce((x, i), (np.asarray(-np.inf, x.dtype)[()], np.int32(0)),
                                 _argmax_pair, (1,)),
         [_RX[0], np.broadcast_to(np.arange(5, dtype=I32), (4, 5)).copy()],
         lambda x, i: (x.max(1), x.argmax(1).astype(I32)), rtol=0, atol=0, name="argmax_pair"),
    Case(lambda x: lax.reduce(x, np.float64(1), lambda a, b: a * b, (1,)),
         [rand((3, 4), F64, 8, 0.5, 1.5)], lambda x: x.prod(1), rtol=1e-13, name="prod_f64",
         x64=True))
