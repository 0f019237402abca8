"""Reductions: sum, prod, max, min, all, any, mean, argmax, argmin."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer, get_aval
from xtrace._src.numpy.core import _axis_tuple, _is_array, asarray, astype, broadcast_to
from xtrace._src.numpy.creation import full_like
from xtrace._src.numpy.shapes import ravel
from xtrace._src.numpy.ufuncs import add, maximum, minimum, multiply


def _reduction(name, lax_fn, *, bool_to_int=False, upcast_int=False):
    def fn(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
           where=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the out= argument is not supported "
                                      "(xtrace arrays are immutable)")
        a = a if _is_array(a) else asarray(a)
        axes = _axis_tuple(axis, a.ndim, name)
        if dtype is not None:
            a = astype(a, dtype)
        elif bool_to_int and (a.dtype == dtypes.bool_ or (
                upcast_int and dtypes.is_int(a.dtype) and a.dtype.itemsize < 4)):
            a = astype(a, dtypes.default_int() if not dtypes.is_unsigned(a.dtype)
                       else dtypes.canonicalize_dtype(np.uint64))
        if where is not None:
            ident = {"sum": 0, "prod": 1}.get(name)
            if ident is None:
                if initial is None:
                    raise ValueError(f"{name} with where= needs an initial value")
                ident = initial
            a = lax.select(broadcast_to(asarray(where, dtypes.bool_), a.shape), a,
                           full_like(a, ident))
        if name in ("max", "min") and a.size == 0 and initial is None:
            raise ValueError(f"zero-size array to reduction operation {name} which has no "
                             "identity")
        res = lax_fn(a, axes)
        if initial is not None:
            res = {"sum": add, "prod": multiply, "max": maximum, "min": minimum}[name](
                res, initial)
            res = astype(res, a.dtype)
        if keepdims:
            res = lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)])
        return res
    fn.__name__ = name
    fn.__doc__ = f"NumPy-style ``{name}`` over ``axis``."
    return fn


sum = _reduction("sum", lax.reduce_sum, bool_to_int=True, upcast_int=True)
prod = _reduction("prod", lax.reduce_prod, bool_to_int=True, upcast_int=True)
max = amax = _reduction("max", lax.reduce_max)
min = amin = _reduction("min", lax.reduce_min)


def all(a, axis=None, keepdims: bool = False):
    a = astype(a, dtypes.bool_)
    axes = _axis_tuple(axis, a.ndim, "all")
    res = lax.reduce_and(a, axes)
    return lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)]) \
        if keepdims else res


def any(a, axis=None, keepdims: bool = False):
    a = astype(a, dtypes.bool_)
    axes = _axis_tuple(axis, a.ndim, "any")
    res = lax.reduce_or(a, axes)
    return lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)]) \
        if keepdims else res


def mean(a, axis=None, dtype=None, out=None, keepdims: bool = False):
    a = a if _is_array(a) else asarray(a)
    axes = _axis_tuple(axis, a.ndim, "mean")
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    if dtype is None:
        dtype = a.dtype if dtypes.is_inexact(a.dtype) else dtypes.default_float()
    s = sum(astype(a, dtype), axis=axes, keepdims=keepdims)
    return lax.div(s, np.asarray(n, dtypes.canonicalize_dtype(dtype))[()])


def _arg(name, lax_fn):
    def fn(a, axis=None, out=None, keepdims: bool = False):
        a = a if _is_array(a) else asarray(a)
        if axis is None:
            res = lax_fn(ravel(a), 0, dtypes.default_int())
            return lax.reshape(res, (1,) * a.ndim) if keepdims else res
        ax = operator.index(axis) % builtins.max(a.ndim, 1)
        res = lax_fn(a, ax, dtypes.default_int())
        return lax.expand_dims(res, (ax,)) if keepdims else res
    fn.__name__ = name
    return fn


argmax = _arg("argmax", lax.argmax)
argmin = _arg("argmin", lax.argmin)


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
