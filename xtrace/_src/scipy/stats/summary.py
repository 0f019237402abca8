"""``jax.scipy.stats``'s summary functions: ``rankdata``, ``sem``, ``mode``."""
from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes, lax
from xtrace._src.api import vmap
from xtrace._src.array import Array
from xtrace._src.nn.functions import _compiled
from xtrace._src.scipy.special import promote_args_inexact

_NAN_POLICIES = ("propagate", "omit", "raise")


def _check_nan_policy(name: str, nan_policy: str, omit_ok: bool = False) -> None:
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                         "{'propagate', 'omit', 'raise'}")
    if nan_policy == "omit" and not omit_ok:
        raise NotImplementedError(f"{name}: nan_policy='omit' is not implemented")
    if nan_policy == "raise":
        raise NotImplementedError(f"{name}: nan_policy='raise' would need to look at the values "
                                  "(not possible under jit); check for NaNs before the call")


def _axis(axis, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def _rank_1d(a, method: str):
    out_dtype = dtypes.default_float()
    n = a.shape[0]
    arr, sorter = lax.sort_key_val(a, xnp.arange(n))
    inv = xnp.zeros_like(sorter).at[sorter].set(xnp.arange(n, dtype=sorter.dtype))
    if method == "ordinal":
        ranks = (inv + 1).astype(out_dtype)
    else:
        obs = xnp.concatenate([xnp.array([True]), arr[1:] != arr[:-1]])
        dense = xnp.cumsum(obs)[inv]
        if method == "dense":
            ranks = dense.astype(out_dtype)
        else:
            count = xnp.nonzero(xnp.concatenate([obs, xnp.array([True])]),
                                size=n + 1, fill_value=n)[0].astype(out_dtype)
            ranks = {"max": lambda: count[dense],
                     "min": lambda: count[dense - 1] + 1,
                     "average": lambda: 0.5 * (count[dense] + count[dense - 1] + 1)}[method]()
    return xnp.where(xnp.any(xnp.isnan(a)), xnp.full_like(ranks, np.nan), ranks)


@_compiled("method", "axis", "nan_policy")
def rankdata(a, method: str = "average", *, axis: int | None = None,
             nan_policy: str = "propagate") -> Array:
    """Ranks of the data, 1-based, ties resolved by ``method`` ('average', 'min', 'max',
    'dense', 'ordinal'); NaN everywhere (per slice along ``axis``) when a NaN is present."""
    _check_nan_policy("rankdata", nan_policy)
    if method not in ("average", "min", "max", "dense", "ordinal"):
        raise ValueError(f"unknown method '{method}'")
    a = xnp.asarray(a)
    if axis is None:
        return _rank_1d(xnp.ravel(a), method)
    axis = _axis(axis, a.ndim)
    moved = xnp.moveaxis(a, axis, -1)
    flat = xnp.reshape(moved, (-1, moved.shape[-1]))
    ranks = vmap(lambda r: _rank_1d(r, method))(flat)
    return xnp.moveaxis(xnp.reshape(ranks, moved.shape), -1, axis)


@_compiled("axis", "ddof", "nan_policy", "keepdims")
def sem(a, axis: int | None = 0, ddof: int = 1, nan_policy: str = "propagate", *,
        keepdims: bool = False) -> Array:
    """The standard error of the mean: ``std(a, ddof) / sqrt(n)`` along ``axis``
    (``nan_policy='omit'`` leaves NaNs out)."""
    if nan_policy not in ("propagate", "omit"):
        raise ValueError(f"{nan_policy} is not supported")
    b, = promote_args_inexact("sem", a)
    if nan_policy == "propagate":
        size = math.prod(b.shape) if axis is None else b.shape[_axis(axis, b.ndim)]
        return xnp.std(b, axis, ddof=ddof, keepdims=keepdims) / np.sqrt(size).astype(b.dtype)
    count = xnp.sum(~xnp.isnan(b), axis, keepdims=keepdims)
    return xnp.nanstd(b, axis, ddof=ddof, keepdims=keepdims) / xnp.sqrt(count).astype(b.dtype)


class ModeResult(NamedTuple):
    """``mode``'s result: the most frequent values and their counts."""
    mode: Array
    count: Array


def _mode_1d(x):
    vals, counts = xnp.unique(x, return_counts=True, size=x.shape[0])
    return vals[xnp.argmax(counts)], xnp.max(counts)


@_compiled("axis", "nan_policy", "keepdims")
def mode(a, axis: int | None = 0, nan_policy: str = "propagate",
         keepdims: bool = False) -> ModeResult:
    """The most frequent value along ``axis`` (the smallest among ties) and its count."""
    _check_nan_policy("mode", nan_policy)
    x = xnp.atleast_1d(xnp.asarray(a))
    if axis is None:
        out_shape = (1,) * x.ndim if keepdims else ()
        x, axis = xnp.ravel(x), 0
    else:
        axis = _axis(axis, x.ndim)
        out_shape = tuple(1 if i == axis else s for i, s in enumerate(x.shape)) if keepdims \
            else tuple(s for i, s in enumerate(x.shape) if i != axis)
    x = xnp.moveaxis(x, axis, 0)
    x = xnp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))
    if x.shape[0] == 0:
        nan = xnp.full(out_shape, np.nan, dtypes.default_float())
        return ModeResult(nan, xnp.zeros(out_shape, dtypes.default_float()))
    vals, counts = vmap(_mode_1d, in_axes=1)(x)
    return ModeResult(xnp.reshape(vals, out_shape), xnp.reshape(counts, out_shape))
