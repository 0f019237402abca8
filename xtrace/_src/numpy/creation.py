"""Array creation: full, zeros, ones, *_like, arange, linspace, eye, identity."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer, get_aval
from xtrace._src.numpy.core import _shape_tuple, _is_array, asarray, astype, broadcast_to, result_type
from xtrace._src.numpy.shapes import concatenate, expand_dims, moveaxis, reshape


def _dtype_or(dtype, default):
    return dtypes.canonicalize_dtype(default if dtype is None else dtype)




def full(shape, fill_value, dtype=None) -> Array:
    shape = _shape_tuple(shape)
    if dtype is None:
        dt = result_type(fill_value)
    else:
        dt = dtypes.canonicalize_dtype(dtype)
    if _is_array(fill_value):
        return broadcast_to(astype(fill_value, dt), shape)
    return lax.broadcast_in_dim(np.asarray(fill_value, dt)[()] if np.ndim(fill_value) == 0
                                else np.asarray(fill_value, dt),
                                shape, tuple(range(len(shape) - np.ndim(fill_value),
                                                   len(shape))))


def zeros(shape, dtype=None) -> Array:
    return full(shape, 0, _dtype_or(dtype, dtypes.default_float()))


def ones(shape, dtype=None) -> Array:
    return full(shape, 1, _dtype_or(dtype, dtypes.default_float()))


def empty(shape, dtype=None) -> Array:
    return zeros(shape, dtype)


def zeros_like(a, dtype=None, shape=None) -> Array:
    av = get_aval(a)
    return full(av.shape if shape is None else shape, 0, av.dtype if dtype is None else dtype)


def ones_like(a, dtype=None, shape=None) -> Array:
    av = get_aval(a)
    return full(av.shape if shape is None else shape, 1, av.dtype if dtype is None else dtype)


def full_like(a, fill_value, dtype=None, shape=None) -> Array:
    av = get_aval(a)
    return full(av.shape if shape is None else shape, fill_value,
                av.dtype if dtype is None else dtype)


def arange(start, stop=None, step=None, dtype=None) -> Array:
    """Like numpy.arange; bounds must be concrete (not traced)."""
    for v in (start, stop, step):
        if isinstance(v, Tracer):
            raise TypeError("arange needs concrete bounds; inside jit make them static "
                            "arguments (static_argnums)")
    if stop is None and step is None and dtype is None or (
            stop is None and step is None and dtypes.is_int(np.dtype(dtype))):
        n = operator.index(start) if not isinstance(start, float) else None
        if n is not None:
            return lax.iota(_dtype_or(dtype, dtypes.default_int()), builtins.max(n, 0))
    ref = np.arange(start, stop, step)
    if dtype is None:
        dtype = dtypes.default_float() if ref.dtype.kind == "f" else dtypes.default_int()
    return asarray(np.arange(start, stop, step, dtype=dtypes.canonicalize_dtype(dtype)))


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0):
    dt = _dtype_or(dtype, dtypes.default_float())
    num = operator.index(num)
    start, stop = asarray(start, dt if dtypes.is_inexact(dt) else dtypes.default_float()), \
        asarray(stop, dt if dtypes.is_inexact(dt) else dtypes.default_float())
    div = (num - 1) if endpoint else num
    step = (stop - start) / builtins.max(div, 1)
    i = lax.convert_element_type(lax.iota(dtypes.int32, num), step.dtype)
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    ish = (num,) + (1,) * len(shape)
    out = reshape(i, ish) * step + start
    if endpoint and num > 1:
        out = concatenate([out[:-1], expand_dims(broadcast_to(stop, shape), 0)])
    out = moveaxis(out, 0, axis) if axis != 0 else out
    out = astype(out, dt)
    return (out, step) if retstep else out


def eye(N: int, M: int | None = None, k: int = 0, dtype=None) -> Array:
    M = N if M is None else M
    dt = _dtype_or(dtype, dtypes.default_float())
    r = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    c = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(r, np.int32(k)), c), dt)


def identity(n: int, dtype=None) -> Array:
    return eye(n, dtype=dtype)


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
