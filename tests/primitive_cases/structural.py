"""Cases for the primitives of ``xtrace/_src/prims/structural.py``.

These primitives only move data, so every check is exact. Each primitive has ``main`` cases
(op by op) over several shapes and parameters -- 0-d and size-0 operands where
the op allows them -- and takes part in two shared programs (``Group``, see ``elementwise.py``)
that repeat one parameter set over the other dtypes, and over the 64-bit ones.
"""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand
from tests.primitive_cases.elementwise import (BF16, BOOL, C64, C128, EXACT, F16, F32, F64, I8,
                                               I16, I32, I64, U8, U32, U64, Group, ints)
from tests.primitive_cases.elementwise import main as _main

CASES: dict[str, list[Case]] = {}

DTYPES32 = (BOOL, I8, U32, BF16, C64)
DTYPES64 = (I64, C128)


def add(name, *cases):
    CASES.setdefault(name, []).extend(cases)


def main(fn, args, ref, *dts, name="main", jit=False):
    return _main(fn, args, ref, *dts, name=name, jit=jit, **EXACT)


def payload(dt, shape, seed=0):
    """Test data of any dtype (ints over their whole range)."""
    dt = np.dtype(dt)
    if dt.kind in "iu":
        return ints(dt, shape, seed)
    return rand(shape, dt, seed)


# every primitive's other dtypes run in one compiled program, the 64-bit ones in another
DTYPES = Group("dtypes", table=CASES, **EXACT)
X64 = Group("x64", x64=True, table=CASES, **EXACT)


def dtype_variants(prim, fn, ref, shape):
    """Apply ``fn`` (and ``ref``) to one operand of ``shape`` per dtype."""
    for group, dts in ((DTYPES, DTYPES32), (X64, DTYPES64)):
        group.add(prim, lambda *xs: tuple(fn(x) for x in xs),
                  [payload(dt, shape, i) for i, dt in enumerate(dts)],
                  lambda *xs: tuple(ref(x) for x in xs), *dts)


def calls(*fns):
    """One function applying each ``fns[i]`` to argument i (several shapes in one case)."""
    return lambda *xs: tuple(f(x) for f, x in zip(fns, xs))


# ---------------------------------------------------------------------------------------------
# iota (nullary)


def _biota(dt, shape, dim):
    dim %= len(shape)
    r = np.arange(shape[dim]).reshape([-1 if i == dim else 1 for i in range(len(shape))])
    return np.broadcast_to(r, shape).astype(dt)


def _iotas(specs):
    """iota / broadcasted_iota for each (dtype, shape, dimension) spec."""
    fn = lambda: tuple(lax.iota(dt, shape[0]) if dim is None else
                       lax.broadcasted_iota(dt, shape, dim) for dt, shape, dim in specs)
    ref = lambda: tuple(_biota(dt, shape, dim or 0) for dt, shape, dim in specs)
    return fn, ref, [dt for dt, _, _ in specs]


_fn, _ref, _dts = _iotas([(I32, (5,), None), (F32, (0,), None), (F32, (2, 3, 4), 1),
                          (I32, (2, 3), -1), (U8, (3, 0), 0), (F32, (4, 1), 0)])
add("iota", main(_fn, [], _ref, *_dts))
# uint8 iota of 300 elements wraps around (XLA and JAX agree); bf16 rounds large values
_fn, _ref, _dts = _iotas([(I8, (100,), None), (U32, (7,), None), (F16, (7,), None),
                          (BF16, (300,), None), (C64, (4,), None), (U8, (300,), None),
                          (I16, (2, 5), 0)])
DTYPES.add("iota", _fn, [], _ref, *_dts)
_fn, _ref, _dts = _iotas([(I64, (5,), None), (F64, (5,), None), (U64, (2, 3), 1),
                          (C128, (3,), None)])
X64.add("iota", _fn, [], _ref, *_dts)


# ---------------------------------------------------------------------------------------------
# broadcast_in_dim (and broadcast)


def _bid_ref(shape, bdims):
    def ref(x):
        x = np.asarray(x)
        tmp = [1] * len(shape)
        for i, d in enumerate(bdims):
            tmp[d] = x.shape[i]
        return np.broadcast_to(x.reshape(tmp), shape)
    return ref


_BID = [((3,), (2, 3), (1,)), ((3, 1), (2, 3, 4), (1, 2)), ((), (2, 3), ()),
        ((0, 2), (3, 0, 2), (1, 2)), ((1, 1), (1, 5), (0, 1)), ((2,), (2, 3), (0,))]
add("broadcast_in_dim",
    main(calls(*[lambda x, s=s, d=d: lax.broadcast_in_dim(x, s, d) for _, s, d in _BID]),
         [rand(shape, F32, i) for i, (shape, _, _) in enumerate(_BID)],
         lambda *xs: tuple(_bid_ref(s, d)(x) for x, (_, s, d) in zip(xs, _BID)), F32),
    main(lambda x, y: (lax.broadcast(x, (3,)), lax.broadcast(y, (2, 0))),
         [rand((2,), F32), rand((), F32, 1)],
         lambda x, y: (np.broadcast_to(x, (3, 2)), np.broadcast_to(y, (2, 0))), F32,
         name="broadcast_wrapper"))
dtype_variants("broadcast_in_dim", lambda x: lax.broadcast_in_dim(x, (2, 3, 2), (1,)),
               _bid_ref((2, 3, 2), (1,)), (3,))


# ---------------------------------------------------------------------------------------------
# reshape (with and without ``dimensions``), transpose, rev, squeeze, expand_dims


def _reshape_ref(new, dims=None):
    return lambda x: np.reshape(x if dims is None else np.transpose(x, dims), new)


_RESHAPE = [((2, 3, 4), (6, 4), None), ((2, 3, 4), (4, 3, 2), (2, 1, 0)),
            ((2, 3, 4), (24,), (1, 0, 2)), ((), (1, 1), None), ((0, 3), (3, 0, 1), None),
            ((2, 3), (3, 2), (0, 1)), ((4,), (2, 2), (0,))]
add("reshape",
    main(calls(*[lambda x, n=n, d=d: lax.reshape(x, n, d) for _, n, d in _RESHAPE]),
         [rand(shape, F32, i) for i, (shape, _, _) in enumerate(_RESHAPE)],
         lambda *xs: tuple(_reshape_ref(n, d)(x) for x, (_, n, d) in zip(xs, _RESHAPE)), F32))
dtype_variants("reshape", lambda x: lax.reshape(x, (3, 2), (1, 0)),
               _reshape_ref((3, 2), (1, 0)), (2, 3))

_TRANSPOSE = [((2, 3, 4), (2, 0, 1)), ((3, 4), (1, 0)), ((0, 3), (1, 0)),
              ((2, 1, 3), (0, 2, 1))]
add("transpose",
    main(calls(*[lambda x, p=p: lax.transpose(x, p) for _, p in _TRANSPOSE]),
         [rand(shape, F32, i) for i, (shape, _) in enumerate(_TRANSPOSE)],
         lambda *xs: tuple(np.transpose(x, p) for x, (_, p) in zip(xs, _TRANSPOSE)), F32))
dtype_variants("transpose", lambda x: lax.transpose(x, (1, 2, 0)),
               lambda x: np.transpose(x, (1, 2, 0)), (2, 3, 2))

_REV = [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)), ((0, 3), (0, 1)), ((5,), (0,)),
        ((2, 1, 3), (2, 1))]
add("rev",
    main(calls(*[lambda x, d=d: lax.rev(x, d) for _, d in _REV]),
         [rand(shape, F32, i) for i, (shape, _) in enumerate(_REV)],
         lambda *xs: tuple(np.flip(x, d) for x, (_, d) in zip(xs, _REV)), F32))
dtype_variants("rev", lambda x: lax.rev(x, (0, 1)), lambda x: np.flip(x, (0, 1)), (2, 3))

_SQUEEZE = [((1, 3, 1), (0, 2)), ((1,), (0,)), ((0, 1), (1,)), ((2, 1, 3), (-2,)),
            ((1, 1, 1), (0, 1, 2))]
add("squeeze",
    main(calls(*[lambda x, d=d: lax.squeeze(x, d) for _, d in _SQUEEZE]),
         [rand(shape, F32, i) for i, (shape, _) in enumerate(_SQUEEZE)],
         lambda *xs: tuple(np.squeeze(x, d) for x, (_, d) in zip(xs, _SQUEEZE)), F32))
dtype_variants("squeeze", lambda x: lax.squeeze(x, (1,)), lambda x: np.squeeze(x, 1),
               (2, 1, 2))

_EXPAND = [((3,), (0,)), ((3,), (1,)), ((), (0,)), ((2, 3), (0, 3)), ((0,), (0, 1)),
           ((2, 3), (-1,))]
add("expand_dims",
    main(calls(*[lambda x, d=d: lax.expand_dims(x, d) for _, d in _EXPAND]),
         [rand(shape, F32, i) for i, (shape, _) in enumerate(_EXPAND)],
         lambda *xs: tuple(np.expand_dims(x, d) for x, (_, d) in zip(xs, _EXPAND)), F32))
dtype_variants("expand_dims", lambda x: lax.expand_dims(x, (0, 2)),
               lambda x: np.expand_dims(x, (0, 2)), (3,))


# ---------------------------------------------------------------------------------------------
# concatenate

_CONCAT = [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 0)], 1), ([(1,), (2,), (0,), (3,)], 0),
           ([(0, 2), (0, 2)], 0), ([(2, 2, 1), (2, 2, 3)], 2)]


def _concat_args():
    out = []
    for k, (shapes_, _) in enumerate(_CONCAT):
        out += [rand(s, F32, 10 * k + i) for i, s in enumerate(shapes_)]
    return out


def _concat_split(xs):
    i = 0
    for shapes_, dim in _CONCAT:
        yield xs[i:i + len(shapes_)], dim
        i += len(shapes_)


add("concatenate",
    main(lambda *xs: tuple(lax.concatenate(g, d) for g, d in _concat_split(xs)), _concat_args(),
         lambda *xs: tuple(np.concatenate(g, d) for g, d in _concat_split(xs)), F32))
for _g, _dts, _shapes, _d in ((DTYPES, DTYPES32, ((2,), (3,)), 0),
                              (X64, DTYPES64, ((2, 1), (2, 2)), 1)):
    _g.add("concatenate", lambda *xs, d=_d: tuple(lax.concatenate([xs[i], xs[i + 1]], d)
                                                  for i in range(0, len(xs), 2)),
           [payload(dt, s, i) for i, dt in enumerate(_dts) for s in _shapes],
           lambda *xs, d=_d: tuple(np.concatenate([xs[i], xs[i + 1]], d)
                                   for i in range(0, len(xs), 2)), *_dts)


# ---------------------------------------------------------------------------------------------
# pad: edge padding (negative values crop) and interior padding


def _pad_ref(x, value, config):
    x = np.asarray(x)
    for d, (lo, hi, interior) in enumerate(config):
        n = x.shape[d]
        if interior and n > 1:
            shape = list(x.shape)
            shape[d] = n + (n - 1) * interior
            y = np.full(shape, value, x.dtype)
            idx = [slice(None)] * x.ndim
            idx[d] = slice(None, None, interior + 1)
            y[tuple(idx)] = x
            x = y
        for amount, at_end in ((lo, False), (hi, True)):
            idx = [slice(None)] * x.ndim
            if amount < 0:
                idx[d] = slice(None, amount) if at_end else slice(-amount, None)
                x = x[tuple(idx)]
            elif amount > 0:
                shape = list(x.shape)
                shape[d] = amount
                fill = np.full(shape, value, x.dtype)
                x = np.concatenate([x, fill] if at_end else [fill, x], d)
    return x


_PAD = [((3, 4), ((1, 2, 0), (0, 0, 1))), ((5,), ((-2, 3, 1),)), ((5,), ((-4, -3, 2),)),
        ((), ()), ((0,), ((1, 2, 3),)), ((3, 4), ((0, 0, 2), (-1, -1, 0))),
        ((2, 3), ((-2, 0, 0), (0, 1, 0))), ((1,), ((0, 0, 5),))]


def _pad_args():
    out = []
    for i, (shape, _) in enumerate(_PAD):
        out += [rand(shape, F32, i), np.float32(-1.5 - i)]
    return out


add("pad",
    main(lambda *xs: tuple(lax.pad(xs[2 * i], xs[2 * i + 1], c) for i, (_, c) in enumerate(_PAD)),
         _pad_args(),
         lambda *xs: tuple(_pad_ref(xs[2 * i], xs[2 * i + 1], c)
                           for i, (_, c) in enumerate(_PAD)), F32),
    main(lambda x: lax.pad(x, 0.5, [(1, 1, 1)]), [rand((3,), F32)],
         lambda x: _pad_ref(x, 0.5, [(1, 1, 1)]), F32, name="python_scalar_value", jit=True))
for _g, _dts, _shape, _c in ((DTYPES, DTYPES32, (3, 2), [(1, -1, 2), (0, 1, 0)]),
                             (X64, DTYPES64, (3,), [(2, 1, 1)])):
    _g.add("pad", lambda *xs, c=_c: tuple(lax.pad(xs[i], xs[i + 1], c)
                                          for i in range(0, len(xs), 2)),
           [a for i, dt in enumerate(_dts) for a in (payload(dt, _shape, i),
                                                     payload(dt, (), i + 10))],
           lambda *xs, c=_c: tuple(_pad_ref(xs[i], xs[i + 1], c)
                                   for i in range(0, len(xs), 2)), *_dts)


# ---------------------------------------------------------------------------------------------
# slice (with strides), slice_in_dim / index_in_dim

_SLICE = [((5, 6), (1, 2), (4, 6), None), ((5, 6), (0, 1), (5, 6), (2, 3)),
          ((7,), (0,), (7,), (3,)), ((5, 6), (2, 2), (2, 6), None), ((), (), (), None),
          ((0, 3), (0, 1), (0, 3), (1, 2)), ((9,), (8,), (9,), (5,))]


def _slice_ref(x, start, limit, strides):
    strides = strides or (1,) * len(start)
    return x[tuple(slice(s, l, st) for s, l, st in zip(start, limit, strides))]


add("slice",
    main(calls(*[lambda x, s=s, l=l, st=st: lax.slice(x, s, l, st) for _, s, l, st in _SLICE]),
         [rand(shape, F32, i) for i, (shape, *_) in enumerate(_SLICE)],
         lambda *xs: tuple(_slice_ref(x, s, l, st) for x, (_, s, l, st) in zip(xs, _SLICE)),
         F32),
    main(lambda x: (lax.slice_in_dim(x, 1, 5, 2, axis=1), lax.index_in_dim(x, 2, 0, False),
                    lax.index_in_dim(x, 1, 1)),
         [rand((3, 6), F32)], lambda x: (x[:, 1:5:2], x[2], x[:, 1:2]), F32, name="wrappers"))
dtype_variants("slice", lambda x: lax.slice(x, (1,), (6,), (2,)), lambda x: x[1:6:2], (7,))


# ---------------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice: XLA clamps the start indices so that the slice (or the
# update) fits inside the operand.
# As in JAX's lax.dynamic_slice, a negative start is first wrapped once, Python-style.


def _clamped(starts, sizes, shape):
    starts = [int(s) + n if int(s) < 0 else int(s) for s, n in zip(starts, shape)]
    return [min(max(s, 0), n - k) for s, k, n in zip(starts, sizes, shape)]


def _ds_ref(x, starts, sizes):
    st = _clamped(starts, sizes, x.shape)
    return x[tuple(slice(s, s + k) for s, k in zip(st, sizes))]


def _dus_ref(x, u, starts):
    st = _clamped(starts, u.shape, x.shape)
    out = np.array(x, copy=True)
    out[tuple(slice(s, s + k) for s, k in zip(st, u.shape))] = u
    return out


_X10, _Y56 = rand((10,), F32), rand((5, 6), F32, 1)
_I = [np.int32(v) for v in (8, -20, 3, 4, -100, 10)]
add("dynamic_slice",
    main(lambda x, y, z, i, j, k, p, q, big: (
        lax.dynamic_slice(x, [i], [4]),          # 8 -> clamped to 6
        lax.dynamic_slice(x, [j], [4]),          # -20 -> 0
        lax.dynamic_slice(x, [k], [3]),          # in range
        lax.dynamic_slice(y, [p, q], [2, 3]),    # (4, -100) -> (3, 0)
        lax.dynamic_slice(y, [big, k], [5, 0]),  # size 0 along one axis
        lax.dynamic_slice(x, [big], [10]),       # the whole operand
        lax.dynamic_slice(z, [], [])),           # 0-d
         [_X10, _Y56, np.float32(7)] + _I[:5] + [_I[5]],
         lambda x, y, z, i, j, k, p, q, big: (
             _ds_ref(x, [i], [4]), _ds_ref(x, [j], [4]), _ds_ref(x, [k], [3]),
             _ds_ref(y, [p, q], [2, 3]), _ds_ref(y, [big, k], [5, 0]), _ds_ref(x, [big], [10]),
             z), F32),
    main(lambda x, i: lax.dynamic_slice(x, [i, 1], [2, 2]), [_Y56, np.int32(1)],
         lambda x, i: _ds_ref(x, [i, 1], [2, 2]), F32, name="python_int_index", jit=True))
# other index dtypes; other operand dtypes
DTYPES.add("dynamic_slice", lambda x, a, b, c, *ys: (
    lax.dynamic_slice(x, [a], [3]), lax.dynamic_slice(x, [b], [3]),
    lax.dynamic_slice(x, [c], [3]), *(lax.dynamic_slice(y, [c], [3]) for y in ys)),
    [_X10, np.int8(-100), np.uint8(200), np.int16(5)]
    + [payload(dt, (6,), i) for i, dt in enumerate(DTYPES32)],
    lambda x, a, b, c, *ys: (_ds_ref(x, [a], [3]), _ds_ref(x, [b], [3]), _ds_ref(x, [c], [3]),
                             *(_ds_ref(y, [c], [3]) for y in ys)),
    F32, F32, F32, *DTYPES32)
X64.add("dynamic_slice", lambda x, y, i, j: (lax.dynamic_slice(x, [i, j], [2, 2]),
                                             lax.dynamic_slice(y, [j], [2])),
        [payload(F64, (3, 4)), payload(C128, (5,)), np.int64(2 ** 40), np.int64(-2 ** 40)],
        lambda x, y, i, j: (_ds_ref(x, [i, j], [2, 2]), _ds_ref(y, [j], [2])), F64, C128)

add("dynamic_update_slice",
    main(lambda x, y, z, u3, u23, u0, uz, i, j, p, q: (
        lax.dynamic_update_slice(x, u3, [i]),        # 9 -> clamped to 7
        lax.dynamic_update_slice(x, u3, [j]),        # -20 -> 0
        lax.dynamic_update_slice(y, u23, [p, q]),    # (4, 5) -> (3, 3)
        lax.dynamic_update_slice(x, u0, [p]),        # empty update
        lax.dynamic_update_slice(z, uz, [])),        # 0-d
         [_X10, _Y56, np.float32(7), rand((3,), F32, 5), rand((2, 3), F32, 6),
          np.zeros((0,), F32), np.float32(-1), np.int32(9), np.int32(-20), np.int32(4),
          np.int32(5)],
         lambda x, y, z, u3, u23, u0, uz, i, j, p, q: (
             _dus_ref(x, u3, [i]), _dus_ref(x, u3, [j]), _dus_ref(y, u23, [p, q]),
             _dus_ref(x, u0, [p]), uz), F32))
DTYPES.add("dynamic_update_slice", lambda i, *xs: tuple(
    lax.dynamic_update_slice(xs[k], xs[k + 1], [i]) for k in range(0, len(xs), 2)),
    [np.uint8(3)] + [a for n, dt in enumerate(DTYPES32)
                     for a in (payload(dt, (5,), n), payload(dt, (3,), n + 10))],
    lambda i, *xs: tuple(_dus_ref(xs[k], xs[k + 1], [i]) for k in range(0, len(xs), 2)),
    *DTYPES32)
X64.add("dynamic_update_slice", lambda x, u, i, j: lax.dynamic_update_slice(x, u, [i, j]),
        [payload(I64, (3, 4)), payload(I64, (2, 2), 1), np.int64(-1), np.int64(2 ** 40)],
        lambda x, u, i, j: _dus_ref(x, u, [i, j]), I64)
DTYPES.emit()
X64.emit()
