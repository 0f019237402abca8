"""Cases for the primitives of ``xtrace/_src/prims/linalg.py`` (dot_general, and lax.dot).

References are einsum in float64 / complex128 / int64 (integer results wrap to the output
dtype). A dot product of K terms from [-1, 1] computed in a precision with unit roundoff u is
within K * K * u of the exact value whatever the summation order: that bound is the absolute
tolerance (float16/bfloat16 results, possibly accumulated in their own precision, get their
own u). Integer and bool dots are exact.
"""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand
from tests.primitive_cases.elementwise import (BF16, BOOL, C64, C128, EPS, F16, F32, F64, I8,
                                               I32, I64, U8, U32, c128, f64, ints, kind, main,
                                               quiet, variant)

CASES: dict[str, list[Case]] = {}


def _dot_ref(lhs, rhs, dn, out_dtype=None):
    """dot_general by einsum, in a wide type, cast to ``out_dtype`` (default: lhs's)."""
    (lc, rc), (lb, rb) = dn
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    ls, rs = [None] * lhs.ndim, [None] * rhs.ndim
    for a, b in list(zip(lb, rb)) + list(zip(lc, rc)):
        ls[a] = rs[b] = next(letters)
    ls = [c or next(letters) for c in ls]
    rs = [c or next(letters) for c in rs]
    out = ([ls[a] for a in lb] + [ls[i] for i in range(lhs.ndim) if i not in lc + lb]
           + [rs[i] for i in range(rhs.ndim) if i not in rc + rb])
    wide = {"c": c128, "f": f64}.get(kind(lhs.dtype), lambda x: np.asarray(x).astype(np.int64))
    r = np.einsum(f"{''.join(ls)},{''.join(rs)}->{''.join(out)}", wide(lhs), wide(rhs))
    dt = np.dtype(out_dtype or lhs.dtype)
    if dt == BOOL:
        return r != 0
    if dt.kind in "iu":
        return r.astype(dt)  # wraps modulo 2**bits
    return r.astype(np.complex128 if dt.kind == "c" else np.float64)


def _operand(dt, shape, seed):
    dt = np.dtype(dt)
    if dt == BOOL:
        return rand(shape, BOOL, seed)
    if dt.kind in "iu":
        return ints(dt, shape, seed) if dt in (U8, I8) else rand(shape, dt, seed, -0.5, 0.5)
    return rand(shape, dt, seed, -1.0, 1.0)


def _dots(specs):
    """dot_general for each (lhs index, rhs index, dimension_numbers, keyword args) spec."""
    fn = lambda *xs: tuple(lax.dot_general(xs[i], xs[j], dn, **kw) for i, j, dn, kw in specs)
    ref = quiet(lambda *xs: tuple(_dot_ref(xs[i], xs[j], dn, kw.get("preferred_element_type"))
                                  for i, j, dn, kw in specs))
    return fn, ref


def _tol(k, dt):
    return dict(rtol=0.0, atol=k * k * EPS[np.dtype(dt)] / 2)


MATMUL = (((1,), (0,)), ((), ()))
# lhs shape, rhs shape, dimension numbers
_MAIN = [((3, 4), (4, 5), MATMUL),
         ((4,), (4,), (((0,), (0,)), ((), ()))),                    # to a 0-d result
         ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),      # batched matmul
         ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),      # batch dims not leading
         ((2, 3, 4), (3, 4, 5), (((1, 2), (0, 1)), ((), ()))),      # two contracting dims
         ((2,), (3,), (((), ()), ((), ()))),                        # outer product
         ((3, 4), (5, 4), (((1,), (1,)), ((), ()))),                # a @ b.T
         ((2, 0), (0, 3), MATMUL),                                  # K = 0: zeros
         ((0, 2, 3), (0, 3, 4), (((2,), (1,)), ((0,), (0,))))]      # empty batch
_args = [a for i, (ls, rs, _) in enumerate(_MAIN)
         for a in (_operand(F32, ls, 2 * i), _operand(F32, rs, 2 * i + 1))]
_fn, _ref = _dots([(2 * i, 2 * i + 1, dn, {}) for i, (_, _, dn) in enumerate(_MAIN)])
CASES["dot_general"] = [main(_fn, _args, _ref, F32, **_tol(12, F32))]

# precision settings (no effect on CPU results) and preferred_element_type
_A, _B = _operand(F32, (3, 4), 0), _operand(F32, (4, 2), 1)
_fn, _ref = _dots([(0, 1, MATMUL, dict(precision="highest")),
                   (0, 1, MATMUL, dict(precision=("default", "high"))),
                   (0, 1, MATMUL, dict(precision="fastest"))])
CASES["dot_general"].append(variant(_fn, [_A, _B], _ref, F32, name="precision",
                                    **_tol(4, F32)))
# int8 products accumulate in int32 without overflowing; bf16/f16 products are exact in f32
_fn, _ref = _dots([(0, 1, MATMUL, dict(preferred_element_type=I32)),
                   (2, 3, MATMUL, dict(preferred_element_type=F32)),
                   (4, 5, MATMUL, dict(preferred_element_type=F32)),
                   (6, 7, MATMUL, dict(preferred_element_type=F32)),
                   (8, 9, MATMUL, dict(preferred_element_type=U32))])
CASES["dot_general"].append(variant(
    _fn, [_operand(I8, (2, 4), 0), _operand(I8, (4, 3), 1), _operand(BF16, (2, 4), 2),
          _operand(BF16, (4, 3), 3), _operand(F16, (2, 4), 4), _operand(F16, (4, 3), 5),
          _operand(I32, (2, 4), 6), _operand(I32, (4, 3), 7), _operand(U8, (2, 4), 8),
          _operand(U8, (4, 3), 9)],
    _ref, I32, F32, F32, F32, U32, name="preferred_element_type", **_tol(4, F32)))
# other dtypes: int32, int8 and uint8 (wrapping), bool (or of ands), complex64
_fn, _ref = _dots([(2 * i, 2 * i + 1, MATMUL, {}) for i in range(5)])
CASES["dot_general"].append(variant(
    _fn, [a for i, dt in enumerate((I32, I8, U8, BOOL, C64))
          for a in (_operand(dt, (2, 4), 2 * i), _operand(dt, (4, 3), 2 * i + 1))],
    _ref, I32, I8, U8, BOOL, C64, name="ints_bool_c64", **_tol(4, F32)))
for _dt in (F16, BF16):
    _fn, _ref = _dots([(0, 1, MATMUL, {}), (2, 3, (((2,), (2,)), ((0,), (0,))), {})])
    CASES["dot_general"].append(variant(
        _fn, [_operand(_dt, (2, 4), 0), _operand(_dt, (4, 3), 1), _operand(_dt, (2, 3, 4), 2),
              _operand(_dt, (2, 5, 4), 3)], _ref, _dt, name=_dt.name, **_tol(4, _dt)))
_fn, _ref = _dots([(0, 1, MATMUL, {}), (2, 3, MATMUL, {}), (4, 5, MATMUL, {}),
                   (6, 7, MATMUL, dict(preferred_element_type=F64))])
CASES["dot_general"].append(variant(
    _fn, [_operand(F64, (2, 4), 0), _operand(F64, (4, 3), 1),
          rand((2, 4), I64, 2, -1e6, 1e6), rand((4, 3), I64, 3, -1e6, 1e6),
          _operand(C128, (2, 4), 4), _operand(C128, (4, 3), 5),
          _operand(F32, (2, 4), 6), _operand(F32, (4, 3), 7)],
    _ref, F64, I64, C128, F64, name="x64", x64=True, **_tol(4, F64)))

# lax.dot: matrix-matrix, matrix-vector, vector-matrix, vector-vector
_M, _V, _W = _operand(F32, (3, 4), 0), _operand(F32, (4,), 1), _operand(F32, (3,), 2)
CASES["dot_general"].append(main(
    lambda m, v, w: (lax.dot(m, lax.transpose(m, (1, 0))), lax.dot(m, v),
                     lax.dot(w, m), lax.dot(v, v), lax.dot(m, v, preferred_element_type=F32)),
    [_M, _V, _W],
    lambda m, v, w: (f64(m) @ f64(m).T, f64(m) @ f64(v), f64(w) @ f64(m), f64(v) @ f64(v),
                     f64(m) @ f64(v)),
    F32, name="dot_wrapper", **_tol(4, F32)))
