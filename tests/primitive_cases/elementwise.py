"""Cases for the primitives of ``xtrace/_src/prims/elementwise.py``.

References are NumPy (in float64 where accuracy matters). Float tolerances are written in units
of the dtype's epsilon and match what XLA's CPU kernels (the ones JAX uses too) achieve; where a
kernel is known to lose accuracy (lgamma and digamma next to their zeros) an ``atol`` says so.
Correctly rounded operations (add, sub, mul, div, rem, sqrt of reals, min/max, casts) are
checked exactly. Behaviour NumPy leaves undefined (integer division by zero, float -> int
overflow, shifts by the bit width or more) follows XLA, as JAX 0.10 shows it.

Every compile costs ~40 ms on the 2-core test machine, and the table must stay within about a
minute, so each compiled program is made to count:

* a ``main`` case runs the primitive op by op (eagerly: one compile per call) on float32, or
  its natural dtype, with the special values;
* ``Group`` cases put the other dtypes -- and the 0-d and size-0 operands -- of many primitives
  into ONE jitted program (``jit=False``: the runner's own jit would compile it again), which is
  registered under each primitive it covers. So every primitive is checked eagerly and under
  jit, and each dtype's type rule and lowering is exercised. A few ``main`` cases whose jit path
  differs (Python scalars, weak types) also run under the runner's jit.

``typed`` checks the dtype of every output, traced and eager.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

import xtrace
from xtrace import lax
from tests.primitive_cases import Case, rand

BOOL, I8, I16, I32, I64 = (np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64))
U8, U16, U32, U64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
BF16 = np.dtype(ml_dtypes.bfloat16)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
EPS = {F16: 2.0 ** -10, BF16: 2.0 ** -7, F32: 2.0 ** -23, F64: 2.0 ** -52, C64: 2.0 ** -23,
       C128: 2.0 ** -52}
NAN, INF = float("nan"), float("inf")
EXACT = dict(rtol=0.0, atol=0.0)

CASES: dict[str, list[Case]] = {}


# ---------------------------------------------------------------------------------------------
# Helpers (the other case modules use them too)


def typed(fn, *out_dtypes):
    """``fn`` plus a check, eager and traced, that its outputs have ``out_dtypes`` (a single
    dtype applies to every output); eager outputs are read back to check the buffer too."""
    want = [np.dtype(d) for d in out_dtypes]

    def checked(*xs):
        out = fn(*xs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        exp = want * len(outs) if len(want) == 1 else want
        assert len(exp) == len(outs), (len(exp), len(outs))
        for i, (o, d) in enumerate(zip(outs, exp)):
            assert o.dtype == d, f"output {i}: dtype {o.dtype}, expected {d}"
            if isinstance(o, xtrace.Array):
                assert np.asarray(o).dtype == d, f"output {i}: buffer {np.asarray(o).dtype}"
        return out
    return checked


def main(fn, args, ref, *dts, name="main", jit=False, **tol):
    """A case run op by op (eagerly; ``jit=True`` also under the runner's jit)."""
    return Case(typed(fn, *dts), args, ref, name=name, jit=jit, **tol)


def variant(fn, args, ref, *dts, name, x64=False, **tol):
    """A case run as one compiled program (see the module docstring)."""
    return Case(typed(xtrace.jit(fn), *dts), args, ref, name=name, jit=False, x64=x64, **tol)


class Group:
    """Checks of several primitives run as ONE staged program (one compile) and registered as
    a case under each of them; the compiled program is shared, so each extra registration
    only runs it. Each piece is ``fn(*args)`` with reference ``ref(*args)`` and one dtype per
    output; all pieces share the group's tolerance."""

    def __init__(self, name, x64=False, table=None, **tol):
        self.name, self.x64, self.tol = name, x64, tol
        self.table = CASES if table is None else table  # the CASES dict to register in
        self.pieces, self.args, self.dts = [], [], []

    def add(self, prim, fn, args, ref, *dts):
        self.pieces.append((prim, fn, ref, len(args)))
        self.args += list(args)
        self.dts += [np.dtype(d) for d in dts]
        return self

    def _run(self, xs, which):
        out, i = [], 0
        for piece in self.pieces:
            o = piece[which](*xs[i:i + piece[3]])
            out += list(o) if isinstance(o, tuple) else [o]
            i += piece[3]
        return tuple(out)

    def emit(self):
        case = variant(lambda *xs: self._run(xs, 1), self.args,
                       quiet(lambda *xs: self._run(xs, 2)), *self.dts, name=self.name,
                       x64=self.x64, **self.tol)
        for prim in dict.fromkeys(p[0] for p in self.pieces):
            self.table.setdefault(prim, []).append(case)


def each(fn):
    """Apply a one-operand ``fn`` to every argument."""
    return lambda *xs: tuple(fn(x) for x in xs)


def pairwise(fn):
    """Apply a two-operand ``fn`` to consecutive argument pairs."""
    return lambda *xs: tuple(fn(xs[i], xs[i + 1]) for i in range(0, len(xs), 2))


def kind(dt) -> str:
    """NumPy's dtype kind letter, with "f" for bfloat16 too."""
    dt = np.dtype(dt)
    return "f" if dt == BF16 else dt.kind


def shapes(dtype, lo=-2.0, hi=2.0, seed=0, special=()):
    """A (3, 5) array starting with the values ``special``, a 0-d array and a (0, 3) array
    of ``dtype``, drawn from [lo, hi]."""
    main_ = rand((3, 5), dtype, seed, lo, hi)
    with np.errstate(over="ignore"):
        main_.reshape(-1)[:len(special)] = np.array(special, np.float64).astype(dtype)
    return [main_, rand((), dtype, seed + 1, lo, hi), rand((0, 3), dtype, seed + 2, lo, hi)]


def ints(dtype, shape=(4, 6), seed=0):
    """Integers over the whole range of ``dtype``, starting with both extremes, 0 and +-1."""
    dt = np.dtype(dtype)
    info = np.iinfo(dt)
    rng = np.random.default_rng(seed)
    x = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True).reshape(-1)
    edge = np.array([info.min, info.max, 0, 1, info.max - 1] + ([-1] if info.min else []), dt)
    n = min(len(edge), x.size)
    x[:n] = edge[:n]
    return x.reshape(shape)


def add(name, *cases):
    CASES.setdefault(name, []).extend(cases)


def f64(x):
    return np.asarray(x).astype(np.float64)


def c128(x):
    return np.asarray(x).astype(np.complex128)


def quiet(fn):
    """``fn`` with NumPy's floating point warnings off (references run on inf and NaN), and
    bfloat16 results widened to float64 (the runner compares those by value, NaN included)."""
    def widen(r):
        return r.astype(np.float64) if isinstance(r, np.ndarray) and r.dtype == BF16 else r

    def wrapped(*xs):
        with np.errstate(all="ignore"):
            out = fn(*xs)
        return tuple(widen(r) for r in out) if isinstance(out, tuple) else widen(out)
    return wrapped


def on_each(ref):
    """Reference for ``each``."""
    return quiet(lambda *xs: tuple(ref(x) for x in xs))


def on_pairs(ref):
    """Reference for ``pairwise``."""
    return quiet(lambda *xs: tuple(ref(xs[i], xs[i + 1]) for i in range(0, len(xs), 2)))


def interleave(*pairs):
    """[a0, b0, a1, b1, ...] from [(a0, b0), (a1, b1), ...]."""
    return [x for p in pairs for x in p]


# ---------------------------------------------------------------------------------------------
# Float reference functions NumPy lacks


def _vec(f, pole=NAN):
    def g(x):
        x = np.asarray(x, np.float64)
        out = np.empty(x.shape, np.float64)
        for i, v in np.ndenumerate(x):
            try:
                out[i] = f(float(v))
            except (ValueError, OverflowError):
                out[i] = pole
        return out
    return g


def _erf_inv(y):
    y = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        ln = np.log1p(-y * y)
        t = 2 / (np.pi * 0.147) + ln / 2
        x = np.sign(y) * np.sqrt(np.sqrt(t * t - ln / 0.147) - t)  # Winitzki's start
        erf = _vec(math.erf)
        for _ in range(6):  # Newton on erf(x) = y
            x = x - (erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
        x = np.where(np.abs(y) == 1, np.sign(y) * INF, x)
        return np.where(np.abs(y) > 1, NAN, x)


def _digamma1(v: float) -> float:
    if v <= 0 and v == math.floor(v):
        return NAN
    if v < 0:  # reflection
        return _digamma1(1 - v) - math.pi / math.tan(math.pi * v)
    r = 0.0
    while v < 10:
        r -= 1 / v
        v += 1
    f = 1 / (v * v)
    return r + math.log(v) - 0.5 / v - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (
        1 / 240 - f / 132))))


# ---------------------------------------------------------------------------------------------
# Unary float math: name, float64 reference, domain, float32 rtol in eps, float32 atol, whether
# complex operands are accepted, and extra float32 points (domain edges, special values).

S = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0]
UNARY = [
    ("exp", np.exp, (-10, 10), 2, 0, True, S + [88.0, -87.0]),
    ("expm1", np.expm1, (-3, 3), 4, 0, True, S + [1e-6, -1e-6, 80.0]),
    ("log", np.log, (0.01, 100), 2, 1e-7, True, S + [1e-30, 3e38]),
    ("log1p", np.log1p, (-0.9, 10), 2, 0, True, S + [1e-7, -1e-7]),
    ("sin", np.sin, (-10, 10), 2, 1e-7, True, S + [3.1415927, 1e4]),
    ("cos", np.cos, (-10, 10), 2, 1e-7, True, S + [1.5707964, 1e4]),
    ("tan", np.tan, (-1.5, 1.5), 2, 1e-7, True, S + [0.7853982]),
    ("tanh", np.tanh, (-5, 5), 4, 0, True, S + [20.0, -20.0, 1e-20]),
    ("logistic", lambda x: 1 / (1 + np.exp(-x)), (-10, 10), 2, 0, True, S + [20.0, -20.0]),
    ("sqrt", np.sqrt, (0, 100), 0.5, 0, True, S + [4.0, 1e-30, 3e38]),
    ("rsqrt", lambda x: 1 / np.sqrt(x), (0.01, 100), 2, 0, True, S + [4.0, 0.25, 1e30]),
    # jaxlib < 0.5's XLA cbrt is ~6 eps off near 1e30 (2 eps on newer releases)
    ("cbrt", np.cbrt, (-100, 100), 8, 0, False, S + [8.0, -27.0, 1e30]),
    ("asin", np.arcsin, (-1, 1), 3, 0, True, S + [0.5, 2.0]),
    ("acos", np.arccos, (-1, 1), 3, 0, True, S + [0.5, 2.0]),
    ("atan", np.arctan, (-10, 10), 2, 0, True, S + [1e30, -1e30]),
    # XLA's sinh and cosh (JAX's too) are ~12 eps off for large |x|, near overflow
    ("sinh", np.sinh, (-5, 5), 16, 0, True, S + [1e-6, 89.0, -89.0]),
    ("cosh", np.cosh, (-5, 5), 16, 0, True, S + [89.0, -89.0]),
    ("asinh", np.arcsinh, (-10, 10), 3, 0, True, S + [1e-6, 1e30, -1e30]),
    ("acosh", np.arccosh, (1, 10), 3, 0, True, S + [0.5, 1e30]),
    ("atanh", np.arctanh, (-0.99, 0.99), 3, 0, True, S + [0.5, -0.5, 2.0]),
    ("erf", _vec(math.erf), (-3, 3), 3, 0, False, S + [1e-6, 5.0, -5.0]),
    ("erfc", _vec(math.erfc), (-3, 4), 20, 0, False, S + [1e-6, 9.0, -5.0]),
    ("erf_inv", _erf_inv, (-0.99, 0.99), 6, 0, False, S + [0.5, -0.999, 2.0]),  # 5 eps at .999
    # XLA's Lanczos lgamma and its digamma lose relative accuracy next to their zeros
    # (lgamma at 1 and 2, digamma at 1.4616...): the absolute tolerance covers those.
    ("lgamma", _vec(math.lgamma, INF), (0.1, 20), 4, 1.5e-5, False,
     [0.0, 0.5, 3.0, 1e-3, -0.5, -2.0, INF, NAN, 30.5]),
    ("digamma", _vec(_digamma1), (0.1, 20), 4, 2e-6, False,
     [0.5, 1.0, 3.0, -0.5, -2.5, 30.5, NAN]),
    ("exp2", np.exp2, (-10, 10), 1, 0, True, S + [10.0, -100.0, 0.5, 127.5, -125.25]),
]
# float64 kernels are within a few eps except these (XLA:CPU's, as JAX gets them).
F64_RTOL = {"log1p": 2e-13, "atanh": 1e-13, "erfc": 1e-14, "erf_inv": 1e-14}
F64_ATOL = {"lgamma": 1e-13, "digamma": 2e-11}
C64_RTOL = {"sin": 12, "cos": 12, "tan": 12, "tanh": 12, "sinh": 30, "cosh": 30}  # in eps

C64_GROUP = {4: "c64", 12: "c64_trig", 30: "c64_hyperbolic"}
# float16 results below 2**-14 are subnormal: their spacing 2**-24 is the absolute tolerance
_G = {k: Group(k, rtol=2 * EPS[dt], atol=a) for k, dt, a in (("f16", F16, 2.0 ** -24),
                                                             ("bf16", BF16, 0))}
_G.update({k + "_abs": Group(k, rtol=2 * EPS[dt], atol=1e-4) for k, dt in (("f16", F16),
                                                                          ("bf16", BF16))})
_G["f64"] = Group("f64", x64=True, rtol=4 * EPS[F64], atol=0)
_G["f64_loose"] = Group("f64", x64=True, rtol=2e-13, atol=0)
_G["f64_abs"] = Group("f64", x64=True, rtol=4 * EPS[F64], atol=2e-11)
_G.update({g: Group("c64", rtol=k * EPS[C64], atol=1e-7) for k, g in C64_GROUP.items()})
for _i, (_name, _ref, (_lo, _hi), _k, _atol, _cplx, _special) in enumerate(UNARY):
    _op = getattr(lax, _name)
    _r = quiet(lambda x, r=_ref: r(f64(x)))
    add(_name, main(_op, shapes(F32, _lo, _hi, special=_special)[:1], _r, F32,
                    rtol=max(_k, 1) * EPS[F32], atol=_atol))
    _low = (F16, BF16)[_i % 2]  # they take turns
    _G[("f16" if _low == F16 else "bf16") + ("_abs" if _atol else "")].add(
        _name, _op, [rand((3, 4), _low, _i, _lo, _hi)], _r, _low)
    # float64 in three shapes: (3, 5), 0-d (every other op: they cost a compile each) and
    # size 0
    _G["f64_abs" if _name in F64_ATOL else "f64_loose" if _name in F64_RTOL else "f64"].add(
        _name, each(_op), shapes(F64, _lo, _hi, _i)[::1 if _i % 2 else 2], on_each(_ref),
        *[F64] * (3 if _i % 2 else 2))
    if _cplx:
        _G[C64_GROUP[C64_RTOL.get(_name, 4)]].add(
            _name, _op, [rand((3, 4), C64, _i, -1.5, 1.5)], quiet(lambda x, r=_ref: r(c128(x))),
            C64)
for _name, _ref in (("exp", np.exp), ("log", np.log)):
    _G["f64"].add(_name, getattr(lax, _name), [rand((5,), C128, 5, -3, 3)], _ref, C128)
for _g in _G.values():
    _g.emit()


# ---- floor, ceil, round, is_finite: exact ----
_ROUNDING = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.49999997, 2.4, -2.6, 0.0, -0.0,
             INF, -INF, NAN]
_ROUND_MAIN = shapes(F32, -5, 5, special=_ROUNDING)
_ROUND_LOW = [np.array(_ROUNDING + [3.75, 1000.5], F16),
              np.array(_ROUNDING + [3.75, 1000.5], BF16)]  # (floor, ceil: bf16 only)
_ROUND_F64 = np.array([0.5, 1.5, 2.5, -2.5, 4503599627370495.5, 0.49999999999999994, -0.0,
                       1e300, NAN], F64)


def _round_afz(x):
    x = f64(x)
    a = np.abs(x)
    f = np.floor(a)
    with np.errstate(invalid="ignore"):  # inf - inf
        return np.copysign(f + (a - f >= 0.5), x)  # a - f is exact; a + 0.5 may round up


def _round_even(x):
    return np.round(f64(x))


def _rounds(x):
    return lax.round(x), lax.round(x, 1)


def _rounds_ref(x):
    return _round_afz(x), _round_even(x)


_G_LOW = Group("f16_bf16_0d_empty", **EXACT)
_G_64 = Group("f64", x64=True, **EXACT)
for _name, _ref in (("floor", np.floor), ("ceil", np.ceil)):
    _op = getattr(lax, _name)
    _r = lambda x, r=_ref: r(f64(x))
    add(_name, main(_op, _ROUND_MAIN[:1], _r, F32, **EXACT))
    _G_LOW.add(_name, each(_op), _ROUND_LOW[1:] + _ROUND_MAIN[1:], on_each(_r), BF16, F32, F32)
    _G_64.add(_name, _op, [_ROUND_F64], _ref, F64)
add("round",
    main(lambda x: lax.round(x, 0), _ROUND_MAIN[:1], _round_afz, F32, name="away_from_zero",
         **EXACT),
    main(lambda x: lax.round(x, 1), _ROUND_MAIN[:1], _round_even, F32, name="to_even",
         **EXACT))
_G_LOW.add("round", lambda a, b: (*_rounds(a), *_rounds(b)), _ROUND_MAIN[1:],
           lambda a, b: (*_rounds_ref(a), *_rounds_ref(b)), F32, F32, F32, F32)
_G_LOW.add("round", _rounds, _ROUND_LOW[:1], _rounds_ref, F16, F16)
_G_LOW.add("round", _rounds, _ROUND_LOW[1:], _rounds_ref, BF16, BF16)
_G_64.add("round", _rounds, [_ROUND_F64], _rounds_ref, F64, F64)  # lax.round(x): the default
_FIN = shapes(F32, special=[0, -0.0, INF, -INF, NAN, 3e38, 1e-45])
add("is_finite", main(lax.is_finite, _FIN[:1], np.isfinite, BOOL))
_G_LOW.add("is_finite", each(lax.is_finite), [np.array([1, INF, NAN, 65504], F16),
                                              np.array([1, INF, NAN, -3e38], BF16)] + _FIN[1:],
           on_each(lambda x: np.isfinite(f64(x))), BOOL, BOOL, BOOL, BOOL)
_G_64.add("is_finite", lax.is_finite, [np.array([1, INF, NAN, 1e308, -INF], F64)], np.isfinite,
          BOOL)
_G_LOW.emit()
_G_64.emit()


# ---------------------------------------------------------------------------------------------
# neg, sign, abs, square, conj: exact on real operands

_REAL_MAIN = shapes(F32, special=[0, -0.0, INF, -INF, NAN, 1.5, -2.0, 1e-30])
_REAL32 = [ints(I32), ints(U8, (3, 5)), rand((3, 4), BF16, 2)]
_REAL32_T = (I32, U8, BF16)
_REAL64 = [rand((2, 3), F64, 3), ints(I64, (7,)), ints(U64, (7,))]
_REAL64_T = (F64, I64, U64)
_Z64 = np.array([1 + 2j, -3j, 0, 1e-3 - 4j, -2.5 + 0.5j, 3e30 + 4e30j, INF + 1j], C64)


def _sign_ref(x):
    x = np.asarray(x)
    if x.dtype.kind == "c":
        a = np.abs(c128(x))
        return np.where(a == 0, 0, x / np.where(a == 0, 1, a))
    if x.dtype.kind == "u":
        return np.minimum(x, 1).astype(x.dtype)
    return np.sign(x)


# the most negative integer negates (and abs-es) to itself; unsigned negation wraps
_G_INT = Group("ints_bf16_0d_empty", **EXACT)
_G_64 = Group("x64", x64=True, **EXACT)
_G_C = Group("c64_c128", x64=True, rtol=2 * EPS[F32], atol=1e-7)
# (sign and abs have their own unsigned lowering: they get uint8 and uint64; neg and square
# get bfloat16 and float64 instead)
for _name, _ref, _k in (("neg", np.negative, (0, 2)), ("sign", _sign_ref, (0, 1)),
                        ("square", lambda x: x * x, (0, 2)), ("abs", np.abs, (0, 1))):
    _op = getattr(lax, _name)
    add(_name, main(_op, _REAL_MAIN[:1], _ref, F32, **EXACT))
    _G_INT.add(_name, each(_op), [_REAL32[k] for k in _k] + _REAL_MAIN[1:], on_each(_ref),
               *(_REAL32_T[k] for k in _k), F32, F32)
    _k64 = (0, 1) if _k[1] == 2 else (1, 2)
    _G_64.add(_name, each(_op), [_REAL64[k] for k in _k64], on_each(_ref),
              *(_REAL64_T[k] for k in _k64))
# complex abs gives the real dtype (and hypot must not overflow for large parts)
_G_C.add("neg", lax.neg, [_Z64], np.negative, C64)
_G_C.add("sign", lax.sign, [_Z64[:6]], _sign_ref, C64)
_G_C.add("square", lax.square, [rand((3, 4), C64, 5)], lambda x: c128(x) ** 2, C64)
_G_C.add("abs", each(lax.abs), [_Z64, rand((), C64, 3), rand((4,), C128, 4)],
         on_each(lambda x: np.abs(c128(x))), F32, F32, F64)
_G_C.add("conj", each(lax.conj), [rand((), C64, 1), rand((5,), C128)], on_each(np.conj), C64,
         C128)
add("conj", main(lax.conj, [_Z64], np.conj, C64, **EXACT))
# as in JAX, a float32 operand gives complex64 (imaginary part 0); integers are rejected
_G_INT.add("conj", each(lax.conj), [rand((2, 3), F32), np.zeros((0, 2), C64)],
           on_each(lambda x: np.conj(x).astype(C64)), C64, C64)


# ---- not, population_count, clz: exact ----
def _popcount(x):
    x = np.asarray(x)
    u = x.view(f"u{x.dtype.itemsize}").astype(np.uint64)
    n = np.zeros(x.shape, np.int64)
    for _ in range(x.dtype.itemsize * 8):
        n += (u & np.uint64(1)).astype(np.int64)
        u >>= np.uint64(1)
    return n.astype(x.dtype)


def _clz(x):
    x = np.asarray(x)
    bits = x.dtype.itemsize * 8
    u = x.view(f"u{x.dtype.itemsize}").astype(np.uint64)
    n = np.full(x.shape, bits, np.int64)
    for b in range(bits):  # the highest set bit wins
        n = np.where((u >> np.uint64(b)) & np.uint64(1), bits - 1 - b, n)
    return n.astype(x.dtype)


_BITS_MAIN = [np.concatenate([ints(I32, (11,)), np.array([2, 3, 255, 256, 2 ** 30], I32)]),
              np.array(12345, I32), np.zeros((0, 2), I32)]
_BITS32 = [ints(I8, (5,)), np.arange(256, dtype=U8).reshape(16, 16), ints(U32, (6,))]
_BITS32_T = (I8, U8, U32)
_BITS64 = [ints(I64, (6,)), ints(U64, (6,))]
for _name, _prim, _ref in (("population_count", "population_count", _popcount),
                           ("clz", "clz", _clz), ("bitwise_not", "not", np.invert)):
    _op = getattr(lax, _name)
    add(_prim, main(_op, _BITS_MAIN[:1], _ref, I32))
    _G_INT.add(_prim, each(_op), _BITS32 + _BITS_MAIN[1:], on_each(_ref), *_BITS32_T, I32, I32)
    _G_64.add(_prim, each(_op), _BITS64, on_each(_ref), I64, U64)
_G_INT.add("not", each(lax.bitwise_not), [rand((3, 4), BOOL), np.array(True),
                                          np.zeros((0,), BOOL)], on_each(np.invert), BOOL,
           BOOL, BOOL)
for _g in (_G_INT, _G_64, _G_C):
    _g.emit()


# ---------------------------------------------------------------------------------------------
# Binary arithmetic


def _pairs(dtype, lo=-2.0, hi=2.0, seed=0, special_a=(), special_b=()):
    """Operand pairs in three shapes: (3, 5) (starting with the special values), () and
    (0, 3)."""
    a = shapes(dtype, lo, hi, seed, special_a)
    b = shapes(dtype, lo, hi, seed + 10, special_b)
    return interleave(*zip(a, b))


def _ipair(dt, seed=1, shape=(4, 6)):
    return [ints(dt, shape, seed), ints(dt, shape, seed + 1)]


def _fpair(dt, seed=1, shape=(3, 4), lo=-2.0, hi=2.0):
    return [rand(shape, dt, seed, lo, hi), rand(shape, dt, seed + 1, lo, hi)]


def _wrap(fn):
    """A NumPy integer reference that wraps around silently, as XLA does."""
    def g(*xs):
        with np.errstate(all="ignore"):
            return fn(*xs)
    return g


_SPECIAL_A = [0, -0.0, INF, -INF, NAN, 1, -1, 3e38, 1e-30, INF, 2.5]
_SPECIAL_B = [-0.0, 0, 1, INF, 2, NAN, 1, 3e38, -1e-30, -INF, -0.5]
_BIN_MAIN = _pairs(F32, special_a=_SPECIAL_A, special_b=_SPECIAL_B)
_BIN32 = _ipair(I32) + _ipair(U8, 3) + _fpair(BF16, 6)
_BIN32_T = (I32, U8, BF16)
_BIN64 = _fpair(F64, 7) + _ipair(I64, 8) + _ipair(U64, 9)
_BIN64_T = (F64, I64, U64)
_ZA, _ZB = rand((3, 4), C64, 11), rand((3, 4), C64, 12)
_BOOLS = [rand((3, 4), BOOL, 1), rand((3, 4), BOOL, 2)]
# complex max/min compare lexicographically: real parts, then imaginary parts
_ZMAX = [np.array([1 + 5j, 2 - 1j, 3 + 3j, -1 + 0j, 3 + 4j], C64),
         np.array([1 + 2j, 1 + 9j, 3 + 4j, -1 - 1j, 3 + 3j], C64)]

_G_INT = Group("ints_f16_bf16_0d_empty", **EXACT)
_G_64 = Group("x64", x64=True, **EXACT)
_G_C = Group("c64_c128", x64=True, rtol=4 * EPS[F32], atol=1e-7)
for _name, _ref, _n, _more, _more_t in (
        ("add", np.add, 3, [_ZA, _ZB], (C64,)),
        ("sub", np.subtract, 2, [_ZA, _ZB], (C64,)),
        ("mul", np.multiply, 2, _BOOLS, (BOOL,)),
        ("max", np.maximum, 3, _BOOLS + _ZMAX, (BOOL, C64)),  # NaN propagates, as in NumPy
        ("min", np.minimum, 3, _BOOLS + _ZMAX, (BOOL, C64))):
    _op = getattr(lax, _name)
    _r = on_pairs(_wrap(_ref))
    add(_name, main(_op, _BIN_MAIN[:2], _r, F32, **EXACT))
    # int32 and uint8; bfloat16 too for add, max and min; float32 0-d and size 0
    _pick = [0, 1] if _n == 2 else [0, 1, 2]
    _G_INT.add(_name, pairwise(_op), [a for k in _pick for a in _BIN32[2 * k:2 * k + 2]] + _more
               + _BIN_MAIN[2:], _r, *(_BIN32_T[k] for k in _pick), *_more_t, F32, F32)
    _G_64.add(_name, pairwise(_op), _BIN64[6 - 2 * _n:], _r, *_BIN64_T[3 - _n:])
_G_C.add("mul", pairwise(lax.mul), [_ZA, _ZB, c128(_ZA), c128(_ZB)],
         on_pairs(lambda a, b: c128(a) * c128(b)), C64, C128)


def _nonzero(dt, shape, seed):
    """Divisors with no zeros and no -1 (the edge cases come separately)."""
    if kind(dt) == "f":
        x = rand(shape, dt, seed, 0.25, 3.0)
        return np.where(rand(shape, BOOL, seed + 100), x, -x).astype(dt)
    x = ints(dt, shape, seed)
    x = np.where((x == 0) | (x == -1 if kind(dt) == "i" else False), 3, x).astype(dt)
    x.reshape(-1)[:4] = np.array([1, 2, 7, 3], dt)
    return x


def _wrapped_array(vals, dt):
    """Python ints wrapped modulo 2**bits into ``dt``."""
    bits = 8 * dt.itemsize
    out = []
    for v in vals:
        v %= 1 << bits
        if dt.kind == "i" and v >= 1 << (bits - 1):
            v -= 1 << bits
        out.append(v)
    return np.array(out, dt)


def _int_div(a, b):
    """C (truncating) division, with XLA's results where C leaves it undefined: x / 0 is -1
    (all bits set) and INT_MIN / -1 is INT_MIN."""
    a, b = np.asarray(a), np.asarray(b)
    q = [-1 if y == 0 else abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
         for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist())]
    return _wrapped_array(q, a.dtype).reshape(a.shape)


def _int_rem(a, b):
    """C remainder (sign of the dividend), with x % 0 = x and INT_MIN % -1 = 0 (XLA)."""
    a, b = np.asarray(a), np.asarray(b)
    r = [x if y == 0 else abs(x) % abs(y) * (-1 if x < 0 else 1)
         for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist())]
    return _wrapped_array(r, a.dtype).reshape(a.shape)


def _div_ref(a, b):
    return np.divide(a, b) if kind(np.asarray(a).dtype) in "fc" else _int_div(a, b)


def _rem_ref(a, b):
    return np.fmod(a, b) if kind(np.asarray(a).dtype) == "f" else _int_rem(a, b)


def _divisor_args(dts, seed=1):
    args = []
    for i, dt in enumerate(dts):
        a = ints(dt, (4, 6), seed + i) if kind(dt) in "iu" else rand((3, 4), dt, seed + i, -20, 20)
        args += [a, _nonzero(dt, a.shape, seed + 50 + i)]
    return args


_DIV_MAIN = _pairs(F32, -20, 20, special_a=[1, -1, 0, INF, NAN, 0, 1e30, 7.5, -7.5, 7.5, -7.5,
                                            INF, 3, -0.0],
                   special_b=[0, 0, 0, INF, 1, -0.0, 1e-30, 2, 2, -2, -2, 1, INF, 1])
# division by zero and INT_MIN / -1 take XLA's defined results
_DIV_EDGE = [np.array([7, -7, 7, -7, 5, -2 ** 31, 0, -2 ** 31, 2 ** 31 - 1, -5], I32),
             np.array([2, 2, -2, -2, 0, -1, 5, 1, -1, 0], I32),
             np.array([7, 200, 5, 255], U8), np.array([2, 3, 0, 1], U8)]
for _name, _ref in (("div", _div_ref), ("rem", _rem_ref)):
    _op = getattr(lax, _name)
    add(_name, main(_op, _DIV_MAIN[:2], quiet(_ref), F32, **EXACT))
    _G_INT.add(_name, pairwise(_op), _divisor_args((I32, U32, BF16)) + _DIV_EDGE
               + _DIV_MAIN[2:], on_pairs(_ref), I32, U32, BF16, I32, U8, F32, F32)
    _G_64.add(_name, pairwise(_op), _divisor_args((F64, I64, U64)), on_pairs(_ref), *_BIN64_T)
_G_C.add("div", lax.div, [_ZA, _ZB], lambda a, b: c128(a) / c128(b), C64)

_POW_MAIN = _pairs(F32, 0.1, 3.0, special_a=[0, 0, -2, -2, -8, 2, INF, 1, NAN, 1e10, 0.5, 0,
                                             -0.0],
                   special_b=[0, -1, 3, 0.5, 1 / 3, -INF, 0.5, NAN, 0, 3.8, 100, 0.5, -1])
_powref = lambda a, b: f64(a) ** f64(b)
_atan2ref = lambda a, b: np.arctan2(f64(a), f64(b))
add("pow",
    main(lax.pow, _POW_MAIN[:2], quiet(_powref), F32, rtol=4 * EPS[F32], atol=0),
    variant(lax.pow, [rand((5,), C64, 3, -2, 2), rand((5,), C64, 4, -1, 1)],
            lambda a, b: c128(a) ** c128(b), C64, name="c64", rtol=16 * EPS[F32], atol=1e-7))
add("atan2", main(lax.atan2,
                  _pairs(F32, special_a=[1, 1, -1, -1, 0, -0.0, 0, -0.0, 1, INF, INF, NAN, 2],
                         special_b=[1, -1, 1, -1, 1, 1, -1, -1, 0, INF, -1, 1, 1e-30])[:2],
                  _atan2ref, F32, rtol=3 * EPS[F32], atol=0))
_G_F16 = Group("f16", rtol=2 * EPS[F16], atol=0)
_G_BF16 = Group("bf16", rtol=2 * EPS[BF16], atol=0)
_G_F64 = Group("f64", x64=True, rtol=4 * EPS[F64], atol=0)
for _name, _ref, _lo in (("pow", _powref, 0.1), ("atan2", _atan2ref, -2.0)):
    _op = getattr(lax, _name)
    _G_F16.add(_name, _op, _fpair(F16, 1, lo=_lo, hi=3.0), _ref, F16)
    _G_BF16.add(_name, _op, _fpair(BF16, 1, lo=_lo, hi=3.0), _ref, BF16)
    _G_F64.add(_name, pairwise(_op), _pairs(F64, _lo, 3.0, 1), on_pairs(_ref), F64, F64, F64)

_NEXT = _pairs(F32, special_a=[1, 1, 0, 0, -0.0, INF, 3e38, NAN, 2, 1e-45, -1e-45],
               special_b=[2, 0, 1, -1, 1, 0, INF, 1, 2, 0, -1])
add("nextafter", main(lax.nextafter, _NEXT[:2], np.nextafter, F32, **EXACT))
_G_INT.add("nextafter", pairwise(lax.nextafter), _fpair(F16, 3) + _NEXT[2:],
           on_pairs(np.nextafter), F16, F32, F32)
_G_64.add("nextafter", lax.nextafter, [np.array([1, 1, 0, -0.0, 1e308, NAN], F64),
                                       np.array([2, 0, 1, -1, INF, 1], F64)], np.nextafter, F64)
for _g in (_G_INT, _G_64, _G_C, _G_F16, _G_BF16, _G_F64):
    _g.emit()


# ---------------------------------------------------------------------------------------------
# Comparisons: bool results. NaN compares unequal to everything, itself included; unsigned
# values with the top bit set must not be compared as signed ones.

_CMP_MAIN = [np.round(a) for a in _pairs(F32, special_a=[1, 2, NAN, NAN, -0.0, INF, -INF, 1e-30],
                                         special_b=[1, 1, NAN, 0, 0, INF, 1, -1e-30])]
_CMP32 = [ints(I32, (4, 6), 1),  # half the pairs equal
          np.where(rand((4, 6), BOOL, 9), ints(I32, (4, 6), 1), ints(I32, (4, 6), 2)),
          np.array([0, 2 ** 31, 2 ** 32 - 1, 2 ** 31 - 1, 7], U32),
          np.array([2 ** 32 - 1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 31, 7], U32),
          np.array([True, True, False, False]), np.array([True, False, True, False]),
          np.array([1.5, NAN, -2, 0], BF16), np.array([1.5, 1, 3, -0.0], BF16)]
_CMP64 = [np.array([2 ** 62, -2 ** 63, 5, 2 ** 53 + 1], I64),
          np.array([2 ** 62 + 1, 2 ** 63 - 1, 5, 2 ** 53], I64),
          np.array([2 ** 63, 2 ** 64 - 1, 0], U64), np.array([2 ** 63 - 1, 2 ** 64 - 1, 1], U64)]
_CMPC = [np.array([1 + 2j, 1 + 2j, 3, NAN, 0], C64), np.array([1 + 2j, 1 - 2j, 3, NAN, -0.0], C64)]
_G_INT = Group("ints_bool_bf16_0d_empty")
_G_64 = Group("x64", x64=True)
# The six directions share the comparison-type logic (SIGNED, UNSIGNED, FLOAT): each runs on
# int32 and on two of uint32 / bool / bfloat16 in turn (eq and ne also on complex64).
for _i, (_name, _ref) in enumerate((("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                                    ("le", np.less_equal), ("gt", np.greater),
                                    ("ge", np.greater_equal))):
    _op = getattr(lax, _name)
    _r = on_pairs(lambda a, b, r=_ref: r(f64(a), f64(b)) if kind(a.dtype) == "f" else r(a, b))
    _k = [1 + (_i % 3), 1 + ((_i + 1) % 3)]
    _c32 = _CMP32[:2] + [a for k in _k for a in _CMP32[2 * k:2 * k + 2]] + (
        _CMPC if _name in ("eq", "ne") else [])
    add(_name, main(_op, _CMP_MAIN[:2], _r, BOOL))
    _G_INT.add(_name, pairwise(_op), _c32 + _CMP_MAIN[2:], _r, *[BOOL] * (len(_c32) // 2 + 2))
    _G_64.add(_name, pairwise(_op), _CMP64[:2] if _i % 2 else _CMP64, _r,
              *[BOOL] * (1 if _i % 2 else 2))
_G_INT.emit()
_G_64.emit()


# ---------------------------------------------------------------------------------------------
# Bitwise logic and shifts

_G_INT = Group("ints_0d_empty")
_G_64 = Group("x64", x64=True)
for _name, _prim, _ref in (("bitwise_and", "and", np.bitwise_and),
                           ("bitwise_or", "or", np.bitwise_or),
                           ("bitwise_xor", "xor", np.bitwise_xor)):
    _op = getattr(lax, _name)
    add(_prim, main(_op, [rand((3, 4), BOOL, 1), rand((3, 4), BOOL, 2)], _ref, BOOL))
    _G_INT.add(_prim, pairwise(_op), _ipair(I32) + _ipair(U8, 3, (2, 3))
               + [np.array(True), np.array(False), np.zeros((0, 2), BOOL),
                  np.zeros((0, 2), BOOL)], on_pairs(_ref), I32, U8, BOOL, BOOL)
    _G_64.add(_prim, pairwise(_op), _ipair(I64, 5, (5,)) + _ipair(U64, 6, (5,)),
              on_pairs(_ref), I64, U64)


def _shift_ref(how):
    """XLA's shifts: an amount outside [0, bits) gives 0 (left, logical) or the sign fill
    (arithmetic); an arithmetic shift of an unsigned type shifts in its top bit too."""
    def ref(x, s):
        x, s = np.asarray(x), np.asarray(s)
        bits = x.dtype.itemsize * 8
        ut = np.dtype(f"u{x.dtype.itemsize}")
        u = x.view(ut).astype(np.uint64)
        amt = s.astype(np.int64) if s.dtype.kind == "i" else s.astype(np.uint64).astype(np.int64)
        ok = (amt >= 0) & (amt < bits)
        a = np.where(ok, amt, 0).astype(np.uint64)
        mask = np.uint64((1 << bits) - 1)
        if how == "left":
            r = np.where(ok, (u << a) & mask, 0)
        elif how == "logical":
            r = np.where(ok, u >> a, 0)
        else:
            fill = np.where((u >> np.uint64(bits - 1)) & np.uint64(1), mask, np.uint64(0))
            hi = np.where(a == 0, np.uint64(0), fill << (np.uint64(bits) - np.maximum(a, 1)))
            r = np.where(ok, ((u >> a) | hi) & mask, fill)
        return r.astype(np.uint64).astype(ut).view(x.dtype)
    return ref


def _shift_args(dt, seed, n=12):
    """Operands and shift amounts: 0, 1, bits - 1, bits, bits + 1, 3 * bits (and -1)."""
    bits = np.dtype(dt).itemsize * 8
    s = np.random.default_rng(seed).integers(0, bits, size=n).astype(np.int64)
    special = [0, 1, bits - 1, bits, bits + 1, 3 * bits] + ([-1] if kind(dt) == "i" else [])
    s[:len(special)] = special
    return [ints(dt, (n,), seed), s.astype(dt)]


_SHIFT_MAIN = _shift_args(I32, 1, 20)
_SHIFT_MAIN[0][12:] = -5  # a negative value shifted by every special amount
_SHIFT_MAIN[1][12:] = [0, 1, 30, 31, 32, 33, 100, -1]
_SHIFT_MAIN += [np.array(-7, I32), np.array(2, I32), np.zeros((0, 3), I32),
                np.zeros((0, 3), I32)]
for _name, _how in (("shift_left", "left"), ("shift_right_logical", "logical"),
                    ("shift_right_arithmetic", "arith")):
    _op, _ref = getattr(lax, _name), _shift_ref(_how)
    add(_name, main(_op, _SHIFT_MAIN[:2], _ref, I32))
    _G_INT.add(_name, pairwise(_op), _shift_args(I8, 2) + _shift_args(U8, 3)
               + _shift_args(U32, 4) + _SHIFT_MAIN[2:], on_pairs(_ref), I8, U8, U32, I32, I32)
    _G_64.add(_name, pairwise(_op), _shift_args(I64, 7) + _shift_args(U64, 8), on_pairs(_ref),
              I64, U64)
_G_INT.emit()
_G_64.emit()


# ---------------------------------------------------------------------------------------------
# integer_pow: square-and-multiply. Any chain of |y| - 1 multiplications (and a division for
# y < 0) rounds at most about (|y| + 1) / 2 eps away, as NumPy's own loop does.


def _ipow_ref(y):
    def ref(x):
        x = np.asarray(x)
        if x.dtype.kind in "iu":  # wraps modulo 2**bits
            r = np.ones_like(x)
            with np.errstate(over="ignore"):
                for _ in range(y):
                    r = r * x
            return r
        with np.errstate(all="ignore"):
            return (c128(x) if x.dtype.kind == "c" else f64(x)) ** y
    return ref


def _ipows(ys):
    return lambda x: tuple(lax.integer_pow(x, y) for y in ys)


def _ipows_ref(ys):
    return quiet(lambda x: tuple(_ipow_ref(y)(x) for y in ys))


_IPOW_X = rand((3, 5), F32, 1, 0.5, 1.6)
_IPOW_X.reshape(-1)[:6] = [0, -0.0, INF, -INF, NAN, -1.25]
add("integer_pow", main(_ipows((3, -2)), [_IPOW_X], _ipows_ref((3, -2)), F32,
                        rtol=2 * EPS[F32], atol=0))
# integer powers wrap modulo 2**bits like NumPy's integer multiplication
Group("small_y_ints_0d_empty", rtol=2 * EPS[F32], atol=0).add(
    "integer_pow", _ipows((0, 1, -3)), [_IPOW_X], _ipows_ref((0, 1, -3)), F32, F32, F32).add(
    "integer_pow", lambda s, e: (lax.integer_pow(s, 2), lax.integer_pow(e, -1)),
    [rand((), F32, 1), rand((0, 4), F32, 2)], lambda s, e: (_ipow_ref(2)(s), _ipow_ref(-1)(e)),
    F32, F32).add(
    "integer_pow", lambda a, b, c: (*_ipows((3, 31))(a), lax.integer_pow(b, 5),
                                    lax.integer_pow(c, 3)),
    [np.array([-3, -2, -1, 0, 1, 2, 3, 7, 46341, -46341], I32), np.arange(0, 256, 17, dtype=U8),
     ints(I8, (6,))],
    lambda a, b, c: (*_ipows_ref((3, 31))(a), _ipow_ref(5)(b), _ipow_ref(3)(c)),
    I32, I32, U8, I8).emit()
Group("big_y_c64", rtol=16 * EPS[F32], atol=0).add(
    "integer_pow", _ipows((17, 31, -7)), [rand((3, 4), F32, 2, 0.5, 1.6)],
    _ipows_ref((17, 31, -7)), F32, F32, F32).add(
    "integer_pow", _ipows((3, -2)), [rand((4,), C64, 3, 0.5, 2)], _ipows_ref((3, -2)), C64,
    C64).emit()
add("integer_pow",
    variant(_ipows((3, -2)), [rand((4,), BF16, 3, 0.5, 2)], _ipows_ref((3, -2)), BF16,
            name="bf16", rtol=2 * EPS[BF16], atol=0),
    variant(lambda a, b: (lax.integer_pow(a, 40), lax.integer_pow(b, -5)),
            [np.array([-3, 2, 1, -1, 3], I64), rand((4,), F64, 3, 0.5, 2)],
            lambda a, b: (_ipow_ref(40)(a), _ipow_ref(-5)(b)), I64, F64, name="x64", x64=True,
            rtol=4 * EPS[F64], atol=0))


# ---------------------------------------------------------------------------------------------
# Complex parts

def _complex_ref(a, b):
    return np.array([complex(x, y) for x, y in zip(a.reshape(-1), b.reshape(-1))],
                    C64 if a.dtype == F32 else C128).reshape(a.shape)


_G_64 = Group("x64", x64=True, **EXACT)
for _name, _ref in (("real", np.real), ("imag", np.imag)):
    _op = getattr(lax, _name)
    add(_name, main(_op, [_Z64], _ref, F32, **EXACT))
    _G_64.add(_name, each(_op), [rand((2, 3), C128, 2), rand((), C64, 1), np.zeros((0, 2), C64)],
              on_each(_ref), F64, F32, F32)
_CPLX = _pairs(F32, special_a=[INF, NAN, -0.0, 1], special_b=[1, 2, -0.0, -INF])
add("complex", main(lax.complex, _CPLX[:2], _complex_ref, C64, **EXACT))
_G_64.add("complex", pairwise(lax.complex), _fpair(F64) + _CPLX[2:], on_pairs(_complex_ref),
          C128, C64, C64).emit()


# ---------------------------------------------------------------------------------------------
# select_n (and select), clamp


def _select_ref(which, *cases):
    which = np.asarray(which).astype(np.int64)
    return np.choose(np.broadcast_to(which, np.shape(cases[0])), cases)


def _selector(shape, n, seed):
    w = np.random.default_rng(seed).integers(0, n, size=shape).astype(I32)
    w.reshape(-1)[:n] = np.arange(n)  # every case is chosen somewhere
    return w


def _sel(*sizes):
    """select_n calls on consecutive groups of 1 + n arguments, for each n in ``sizes``."""
    def split(xs):
        i = 0
        for n in sizes:
            yield xs[i:i + n + 1]
            i += n + 1
    return (lambda *xs: tuple(lax.select_n(*g) for g in split(xs)),
            lambda *xs: tuple(_select_ref(*g) for g in split(xs)))


_fn, _ref = _sel(2, 2, 2, 1)
add("select_n",
    # bool selectors: an array, a 0-d one, 0-d cases; an int32 selector with a single case
    main(_fn, [rand((3, 4), BOOL, 1), rand((3, 4), F32, 2), rand((3, 4), F32, 3),
               np.array(True), rand((2, 3), F32, 2), rand((2, 3), F32, 3),
               rand((), BOOL, 1), rand((), F32, 2), rand((), F32, 3),
               _selector((3,), 1, 1), rand((3,), F32, 1)], _ref, F32, name="bool", **EXACT))
_fn, _ref = _sel(3, 5, 2, 4)
add("select_n",
    # int32 selectors choosing among 3, 5 and 2 cases; a 0-d int32 selector
    main(_fn, [np.array([0, 1, 2, 2, 1, 0], I32)] + [rand((6,), F32, k) for k in range(3)]
         + [_selector((2, 5), 5, 5)] + [rand((2, 5), F32, 10 + k) for k in range(5)]
         + [_selector((4,), 2, 4), rand((4,), F32, 2), rand((4,), F32, 3)]
         + [np.array(2, I32)] + [rand((2, 3), F32, k) for k in range(4)], _ref, F32,
         name="int32", **EXACT))
_fn, _ref = _sel(2, 7, 2, 2, 3)
add("select_n",
    variant(_fn, [np.zeros((0, 3), BOOL), np.zeros((0, 3), F32), np.zeros((0, 3), F32)]
            + [_selector((9,), 7, 6)] + [np.full(9, k, U8) for k in range(7)]
            + [rand((4,), BOOL, 1), ints(I32, (4,), 2), ints(I32, (4,), 3)]
            + [rand((4,), BOOL, 2), rand((4,), BOOL, 3), rand((4,), BOOL, 4)]
            + [_selector((2, 2), 3, 8)] + [rand((2, 2), C64, k) for k in range(3)],
            _ref, F32, U8, I32, BOOL, C64, name="empty_and_dtypes", **EXACT))
_fn, _ref = _sel(3)
add("select_n",
    variant(_fn, [_selector((6,), 3, 7)] + [rand((6,), F64, k) for k in range(3)], _ref, F64,
            name="f64", x64=True, **EXACT),
    main(lambda p, a, b: lax.select(p, a, b),
         [rand((3, 4), BOOL, 1), rand((3, 4), F32, 2), rand((3, 4), F32, 3)],
         lambda p, a, b: np.where(p, a, b), F32, name="select_wrapper", **EXACT))


def _clamp_ref(lo, x, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _clamps(n):
    return (lambda *xs: tuple(lax.clamp(*xs[i:i + 3]) for i in range(0, 3 * n, 3)),
            lambda *xs: tuple(_clamp_ref(*xs[i:i + 3]) for i in range(0, 3 * n, 3)))


_fn, _ref = _clamps(5)
add("clamp",
    # scalar bounds (NaN and infinities in the operand), array bounds, mixed bounds, crossed
    # bounds (min > max gives max: clamp is min(max(x, lo), hi)), everything 0-d
    main(_fn, [np.float32(-0.5), shapes(F32, special=[NAN, -INF, INF, 0.5])[0], np.float32(1),
               rand((3, 4), F32, 1, -2, 0), rand((3, 4), F32, 2), rand((3, 4), F32, 3, 0, 2),
               rand((3, 4), F32, 1, -2, 0), rand((3, 4), F32, 2), np.float32(0.5),
               np.float32(2), rand((5,), F32), np.float32(1),
               np.float32(0), np.float32(3), np.float32(1)], _ref, F32, **EXACT),
    main(lambda x: lax.clamp(-1.0, x, 1.0), [rand((0, 3), F32)],
         lambda x: np.clip(x, -1, 1), F32, name="python_scalar_bounds_empty", jit=True, **EXACT))
_fn, _ref = _clamps(5)
add("clamp",
    variant(_fn, [np.int32(-5), ints(I32, (4, 6)), np.int32(7),
                  np.uint8(10), ints(U8, (2, 8)), np.uint8(200),
                  np.int8(-100), ints(I8, (6,)), np.int8(100),
                  np.array(-0.5, BF16), rand((5,), BF16), np.array(0.5, BF16),
                  np.float16(0), rand((4,), F16), np.float16(1)], _ref, I32, U8, I8, BF16, F16,
            name="ints_bf16_f16", **EXACT))
_fn, _ref = _clamps(2)
add("clamp",
    variant(_fn, [np.int64(-2 ** 40), ints(I64, (6,)), np.int64(2 ** 40),
                  rand((4,), F64, 1, -1, 0), rand((4,), F64), np.float64(0.25)],
            _ref, I64, F64, name="x64", x64=True, **EXACT))


# ---------------------------------------------------------------------------------------------
# convert_element_type: one case per source dtype, converting to several targets


def _converts(*dts):
    return lambda x: tuple(lax.convert_element_type(x, dt) for dt in dts)


def _to_int(dt, x):
    """XLA's float -> int: truncate toward zero, saturate out-of-range values, NaN -> 0."""
    info = np.iinfo(dt)
    out = [0 if v != v else info.min if v <= info.min else info.max if v >= info.max
           else int(v) for v in f64(x).reshape(-1).tolist()]
    return np.array(out, dt).reshape(np.shape(x))


def _cast(dt, x):
    """``x`` converted to ``dt``; complex -> real keeps the real part, complex -> bool is
    nonzero in either part (xtrace's choice, as NumPy's astype and jnp's; JAX's
    lax.convert_element_type looks at the real part only)."""
    x = np.asarray(x)
    if np.dtype(dt) == BOOL:
        return x != 0
    if x.dtype.kind == "c" and np.dtype(dt).kind != "c":
        x = x.real
    if kind(dt) in "iu" and kind(x.dtype) == "f":
        return _to_int(dt, x)
    return x.astype(dt)


def _casts(*dts):
    return quiet(lambda x: tuple(_cast(dt, x) for dt in dts))


# no denormals: XLA:CPU flushes them to zero (1e-45 would convert to False)
_F2I = np.array([NAN, INF, -INF, 3e9, -3e9, -1.7, 1.7, 300, -5, 0.9999, -0.0, 127.5, -128.5,
                 2 ** 31, 255.9, 0, 1e-30, 65519, 65520, 1 + 2 ** -11, 1e5], F32)
with np.errstate(over="ignore"):
    _F2I_F16, _F2I_BF16 = _F2I.astype(F16), _F2I.astype(BF16)
_FROM_F32 = (U32, F16, C64)
add("convert_element_type",
    main(_converts(I32, U8, BOOL, BF16), [_F2I], _casts(I32, U8, BOOL, BF16), I32, U8, BOOL,
         BF16, name="from_f32", **EXACT),
    # without x64, a 64-bit target means its 32-bit type; 0-d and empty operands
    variant(lambda a, b: (*_converts(np.float64, I32)(a), *_converts(np.int64, BOOL)(b)),
            [rand((), F32, 1, -9, 9), np.zeros((0, 3), F32)],
            lambda a, b: (a.astype(F32), _to_int(I32, a), b.astype(I32), b != 0),
            F32, I32, I32, BOOL, name="0d_empty_64bit_request", **EXACT),
    main(lambda x: lax.convert_element_type(x, F32, weak_type=True), [ints(I32, (3,))],
         lambda x: x.astype(F32), F32, name="weak_type_param", jit=True, **EXACT))
(Group("more", **EXACT)
 .add("convert_element_type", _converts(*_FROM_F32), [_F2I], _casts(*_FROM_F32), *_FROM_F32)
 .add("convert_element_type", _converts(I16, F32, BF16), [_F2I_F16], _casts(I16, F32, BF16),
      I16, F32, BF16)
 .add("convert_element_type", _converts(I32, F16), [_F2I_BF16], _casts(I32, F16), I32, F16)
 .add("convert_element_type", _converts(F32, BOOL, U8),
      [np.array([1.7 + 2j, -3.9 - 1j, 0.5j, 0 + 2j, 0, NAN + 0j, 1e5 - 1j, 300.5], C64)],
      _casts(F32, BOOL, U8), F32, BOOL, U8)
 .add("convert_element_type", _converts(F32, I8, BF16, C64), [ints(I32)],
      _casts(F32, I8, BF16, C64), F32, I8, BF16, C64)
 .add("convert_element_type", _converts(F32, I32), [ints(U32, (7,))], _casts(F32, I32), F32,
      I32)
 .add("convert_element_type", _converts(F32, I32), [rand((2, 3), BOOL)], _casts(F32, I32), F32,
      I32)
 .add("convert_element_type", _converts(U32, I32), [ints(I8, (3, 4))], _casts(U32, I32), U32,
      I32)
 .emit())
(Group("x64", x64=True, **EXACT)
 .add("convert_element_type", _converts(I64, F32, C128),
      [np.array([NAN, 1e19, -1e19, -2.5, 2 ** 53 + 2, 1e300, -1e-300, 1 + 2 ** -30], F64)],
      _casts(I64, F32, C128), I64, F32, C128)
 .add("convert_element_type", _converts(U8, F64), [ints(I64, (7,))], _casts(U8, F64), U8, F64)
 .add("convert_element_type", _converts(C64), [rand((4,), C128, 3)], _casts(C64), C64)
 .emit())


# ---------------------------------------------------------------------------------------------
# bitcast_convert_type


def _view(dt, x):
    """NumPy's view with XLA's shape rule: narrowing adds a trailing dimension, widening
    consumes one (the host is little-endian)."""
    dt = np.dtype(dt)
    x = np.array(x, copy=True)
    if dt.itemsize == x.dtype.itemsize:
        return x.view(dt)
    if dt.itemsize < x.dtype.itemsize:
        return x.reshape(x.shape + (1,)).view(dt)
    return x.view(dt).reshape(x.shape[:-1])


def _bitcasts(*dts):
    return lambda x: tuple(lax.bitcast_convert_type(x, dt) for dt in dts)


def _views(*dts):
    return quiet(lambda x: tuple(_view(dt, x) for dt in dts))


_F32_BITS = np.array([[1.0, -2.5, 0, -0.0], [INF, NAN, 1e-45, 3e38]], F32)
add("bitcast_convert_type",
    main(_bitcasts(I32, U8), [_F32_BITS], _views(I32, U8), I32, U8, name="from_f32", **EXACT),
    # widening consumes the last dimension: (2, 4) u8 -> (2,) f32, (4,) -> 0-d, (0, 4) -> (0,);
    # narrowing a 0-d f32 gives (4,)
    main(lambda a, b, c, d: (lax.bitcast_convert_type(a, F32), lax.bitcast_convert_type(b, F32),
                             lax.bitcast_convert_type(c, I32), lax.bitcast_convert_type(d, U8)),
         [np.array([[0, 0, 128, 63], [0, 0, 32, 192]], U8), ints(U8, (4,)),
          np.zeros((0, 4), U8), np.float32(1.0)],
         quiet(lambda a, b, c, d: (_view(F32, a), _view(F32, b), _view(I32, c), _view(U8, d))),
         F32, F32, I32, U8, name="shapes", **EXACT))
(Group("more", **EXACT)
 .add("bitcast_convert_type", _bitcasts(I16, F32), [_F32_BITS], _views(I16, F32), I16, F32)
 .add("bitcast_convert_type", _bitcasts(F32, I8), [ints(I32, (2, 3))], _views(F32, I8), F32, I8)
 .add("bitcast_convert_type", _bitcasts(BF16, U8), [rand((2, 3), F16)], _views(BF16, U8), BF16,
      U8)
 .add("bitcast_convert_type", _bitcasts(U16), [rand((2, 3), BF16)], _views(U16), U16)
 .add("bitcast_convert_type", _bitcasts(U32), [ints(U16, (3, 2))], _views(U32), U32)
 .emit())
(Group("x64", x64=True, **EXACT)
 .add("bitcast_convert_type", _bitcasts(I64, U8, U32), [np.array([1.0, -0.0, NAN], F64)],
      _views(I64, U8, U32), I64, U8, U32)
 .add("bitcast_convert_type", _bitcasts(F64, I64), [np.array([[1, 2], [3, 4]], U32)],
      _views(F64, I64), F64, I64)
 .emit())

# reduce_precision: rounding to float16's and bfloat16's formats (values inside their range;
# the ones beyond float16's become inf), NaN and inf kept.
def _rounded(x, *dts):
    with np.errstate(over="ignore"):
        return tuple(x.astype(d).astype(x.dtype) for d in dts)


_RP = np.array([1.0001, 3.14159, -2.5e-3, 7e4, 1e-8, NAN, INF], F32)
CASES["reduce_precision"] = [
    Case(lambda x: (lax.reduce_precision(x, 5, 10), lax.reduce_precision(x, 8, 7)), [_RP],
         lambda x: _rounded(x, F16, BF16), rtol=0, atol=0,
         name="f16_bf16"),
    # float64's own format: the identity, so finite differences see the linear JVP rule
    Case(lambda x: lax.reduce_precision(x, 11, 52), [rand((3, 4), F64, 2)], lambda x: x,
         rtol=0, atol=0, name="f64_identity", x64=True),
]
