"""NumPy indexing (``x[idx]``) and functional updates (``x.at[idx].set(v)``)."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.core import Tracer
from xtrace._src.numpy import core as xnp


def _normalize_index(idx: Any, shape: tuple) -> tuple:
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_ellipsis = sum(1 for i in idx if i is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_real = sum(1 for i in idx if i is not None and i is not Ellipsis and not (
        _is_bool_mask(i)))
    n_real += sum(np.ndim(i) for i in idx if _is_bool_mask(i))
    if n_real > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{n_real} were indexed")
    if n_ellipsis == 0:
        idx = idx + (Ellipsis,)
    out = []
    for i in idx:
        if i is Ellipsis:
            out.extend([slice(None)] * (len(shape) - n_real))
        else:
            out.append(i)
    return tuple(out)


def _is_bool_mask(i) -> bool:
    if isinstance(i, (list, np.ndarray)):
        return np.asarray(i).dtype == np.bool_
    return hasattr(i, "dtype") and hasattr(i, "shape") and i.dtype == dtypes.bool_ and i.shape != ()


def _is_int_array(i) -> bool:
    if isinstance(i, (bool, np.bool_)):
        return False
    if isinstance(i, (int, np.integer)):
        return False
    if isinstance(i, (list, tuple, np.ndarray)):
        return True
    return hasattr(i, "dtype") and hasattr(i, "shape")


def getitem(x, idx):
    """``x[idx]`` for ints, slices, None, Ellipsis, integer arrays and (outside jit) masks."""
    idx = _normalize_index(idx, x.shape)
    # Boolean masks become integer arrays (needs a concrete mask, as in JAX).
    expanded = []
    for i in idx:
        if _is_bool_mask(i):
            if isinstance(i, Tracer):
                raise IndexError(
                    "Array boolean indices must be concrete; inside jit use "
                    "xnp.where(mask, x, 0) or a static-size nonzero instead")
            expanded.extend(xnp.asarray(v) for v in np.nonzero(np.asarray(i)))
        else:
            expanded.append(i)
    idx = tuple(expanded)
    if any(_is_int_array(i) for i in idx):
        return _advanced_getitem(x, idx)
    return _basic_getitem(x, idx)


def _basic_getitem(x, idx):
    starts, limits, strides, rev_dims, squeeze_dims, new_axes = [], [], [], [], [], []
    dim = 0
    out_pos = 0
    shape = x.shape
    dyn = []  # (dim, traced index)
    for i in idx:
        if i is None:
            new_axes.append(out_pos)
            out_pos += 1
            continue
        n = shape[dim]
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step > 0:
                count = max(0, (stop - start + step - 1) // step)
                starts.append(start)
                limits.append(start + (count - 1) * step + 1 if count else start)
                strides.append(step)
            else:
                count = max(0, (start - stop - step - 1) // (-step))
                lo = start + (count - 1) * step if count else start
                starts.append(lo if count else 0)
                limits.append(start + 1 if count else 0)
                strides.append(-step)
                rev_dims.append(dim)
            out_pos += 1
        else:
            if isinstance(i, Tracer) or (hasattr(i, "aval") and not isinstance(i, (int,))):
                if isinstance(i, Tracer):
                    dyn.append((dim, i))
                    starts.append(0)
                    limits.append(1)
                    strides.append(1)
                    squeeze_dims.append(dim)
                    dim += 1
                    continue
                i = operator.index(i)
            i = operator.index(i)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {dim} with size {n}")
            i %= n
            starts.append(i)
            limits.append(i + 1)
            strides.append(1)
            squeeze_dims.append(dim)
        dim += 1
    out = x
    if dyn:
        full_starts = [0] * x.ndim
        sizes = list(x.shape)
        for d, t in dyn:
            t = lax.convert_element_type(t, dtypes.int32) if t.dtype != dtypes.int32 else t
            full_starts[d] = lax.select(lax.lt(t, np.int32(0)), lax.add(t, np.int32(x.shape[d])),
                                        t)
            sizes[d] = 1
        out = lax.dynamic_slice(out, [s if not isinstance(s, int) else np.int32(s)
                                      for s in full_starts], sizes)
    if any(s != 0 or l != d or st != 1 for s, l, st, d in
           zip(starts, limits, strides, out.shape)):
        out = lax.slice(out, starts, limits, strides)
    if rev_dims:
        out = lax.rev(out, rev_dims)
    if squeeze_dims:
        out = lax.squeeze(out, squeeze_dims)
    if new_axes:
        out = lax.expand_dims(out, new_axes)
    return out


def _advanced_getitem(x, idx):
    raise NotImplementedError(
        "integer-array indexing needs the gather primitive, which is not in this build yet")


class _IndexUpdateHelper:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.array, idx)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """``x.at[idx]``: ``get``, ``set``, ``add``, ``multiply``, ``divide``, ``power``, ``min``,
    ``max`` return updated copies; ``x`` itself never changes."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def get(self, **kwargs):
        return getitem(self.array, self.index)

    def set(self, values, **kwargs):
        return _update(self.array, self.index, values, "set")

    def add(self, values, **kwargs):
        return _update(self.array, self.index, values, "add")

    def subtract(self, values, **kwargs):
        return _update(self.array, self.index, xnp.negative(values), "add")

    def multiply(self, values, **kwargs):
        return _update(self.array, self.index, values, "mul")

    mul = multiply

    def divide(self, values, **kwargs):
        return _update(self.array, self.index, xnp.true_divide(1, values), "mul")

    def power(self, values, **kwargs):
        cur = getitem(self.array, self.index)
        return _update(self.array, self.index, xnp.power(cur, values), "set")

    def min(self, values, **kwargs):
        return _update(self.array, self.index, values, "min")

    def max(self, values, **kwargs):
        return _update(self.array, self.index, values, "max")


def _update(x, idx, values, op):
    """Functional update through the scatter primitives; basic indices use the same path."""
    from xtrace._src.numpy import scatter_update
    return scatter_update(x, idx, values, op)
