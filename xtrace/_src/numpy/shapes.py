"""Shape manipulation: reshape, transpose, moveaxis, squeeze, concatenate, stack, ..."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer, get_aval
from xtrace._src.numpy.core import (_axis_tuple, _is_array, _shape_tuple, asarray,
                                     promote_dtypes_only)


def _axis_tuple(axis, ndim, fname) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(operator.index(a) for a in axis)
    else:
        axes = (operator.index(axis),)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{fname}: axis {a} is out of bounds for array of dimension {ndim}")
    return tuple(sorted(a % builtins.max(ndim, 1) for a in axes))


def reshape(a, shape=None, order: str = "C", *, newshape=None) -> Array:
    a = a if _is_array(a) else asarray(a)
    shape = newshape if shape is None else shape
    shape = list(_shape_tuple(shape))
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or a.size % known:
            raise ValueError(f"cannot reshape array of shape {a.shape} (size {a.size}) into "
                             f"shape {tuple(shape)}")
        shape[shape.index(-1)] = a.size // known
    if order == "F":
        return transpose(lax.reshape(transpose(a), shape[::-1]))
    return lax.reshape(a, shape)


def ravel(a, order: str = "C") -> Array:
    return reshape(a, (-1,), order)


def transpose(a, axes=None) -> Array:
    a = a if _is_array(a) else asarray(a)
    if axes is None:
        axes = tuple(range(a.ndim))[::-1]
    else:
        axes = tuple(operator.index(x) % builtins.max(a.ndim, 1) for x in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} don't match array of shape {a.shape}")
    return lax.transpose(a, axes)


def moveaxis(a, source, destination) -> Array:
    a = a if _is_array(a) else asarray(a)
    src = _axis_list(source, a.ndim)
    dst = _axis_list(destination, a.ndim)
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lax.transpose(a, perm)


def _axis_list(ax, ndim):
    ax = [ax] if isinstance(ax, int) else list(ax)
    return [operator.index(a) % ndim for a in ax]


def swapaxes(a, axis1: int, axis2: int) -> Array:
    a = a if _is_array(a) else asarray(a)
    perm = list(range(a.ndim))
    i, j = axis1 % a.ndim, axis2 % a.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, perm)


def squeeze(a, axis=None) -> Array:
    a = a if _is_array(a) else asarray(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = _axis_tuple(axis, a.ndim, "squeeze")
    return lax.squeeze(a, axes)


def expand_dims(a, axis) -> Array:
    a = a if _is_array(a) else asarray(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return lax.expand_dims(a, axes)


def concatenate(arrays, axis: int | None = 0, dtype=None) -> Array:
    arrays = [asarray(x) if not _is_array(x) else x for x in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(x) for x in arrays]
        axis = 0
    arrays = promote_dtypes_only(*arrays)
    if dtype is not None:
        arrays = [astype(x, dtype) for x in arrays]
    nd = arrays[0].ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return lax.concatenate(arrays, operator.index(axis) % nd)


def stack(arrays, axis: int = 0, dtype=None) -> Array:
    arrays = [asarray(x) if not _is_array(x) else x for x in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {x.shape for x in arrays}
    if len(shapes) > 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(shapes)}")
    ax = operator.index(axis) % (arrays[0].ndim + 1)
    return concatenate([lax.expand_dims(x, (ax,)) for x in arrays], ax, dtype)


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
