"""Indexing by position, sorting, searching, counting and set operations.

take / take_along_axis / put_along_axis, sort / argsort / lexsort / partition, searchsorted /
digitize, nonzero / argwhere / flatnonzero / where(c), unique, bincount, histogram, diff /
ediff1d, convolve / correlate, interp, polyval, isin and the 1-D set operations.

Functions whose output size depends on the values (nonzero, argwhere, flatnonzero, where(c),
unique, bincount, extract, compress and the set operations) work eagerly on concrete arrays;
while tracing (under ``xtrace.jit``, inside lax control flow) they need a static ``size=``
(``length=`` for bincount): the result is then truncated or padded with ``fill_value``, as in
JAX. The multi-step functions run as one cached, jit-compiled kernel, also when called eagerly;
eagerly, a data-dependent result is computed at its largest possible size and then cut to
the size found.

Floats sort like NumPy: every NaN sorts last, and -0.0 equals 0.0.
"""
from __future__ import annotations

import builtins
import functools
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import core as _core
from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import ConcretizationError, Tracer, get_aval
from xtrace._src.jit import jit as _jit
from xtrace._src.numpy import reductions as _reductions
from xtrace._src.numpy import ufuncs as _ufuncs
from xtrace._src.numpy.core import _is_array, asarray, promote_dtypes_only
from xtrace._src.prims.indexing import GatherDimensionNumbers, ScatterDimensionNumbers

_AxisError = np.exceptions.AxisError


# ---------------------------------------------------------------------------------------------
# Small helpers (all shapes static)


def _arr(x) -> Any:
    if _is_array(x):
        return x
    if isinstance(x, (list, tuple)) and len(x) == 0:
        return asarray(np.zeros(0, dtypes.default_float()))
    return asarray(x)


def _axis(fname: str, axis: Any, ndim: int) -> int:
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{fname}: axis must be an integer or None, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise _AxisError(f"{fname}: axis {ax} is out of bounds for array of dimension {ndim}")
    return ax % ndim


def _idt() -> np.dtype:
    return dtypes.default_int()


def _full(shape, value, dt) -> Any:
    """An array of ``shape`` filled with ``value`` (a Python/NumPy scalar or a 0-d array)."""
    dt = np.dtype(dt)
    if _is_array(value):
        v = value if value.dtype == dt and not value.weak_type else \
            lax.convert_element_type(value, dt)
        if v.ndim:
            v = lax.reshape(v, ())
        return lax.broadcast_in_dim(v, tuple(shape), ())
    return lax.broadcast_in_dim(np.asarray(value).astype(dt)[()], tuple(shape), ())


def _cast(x, dt) -> Any:
    dt = np.dtype(dt)
    if not _is_array(x):
        return np.asarray(x).astype(dt)
    if x.dtype == dt and not x.weak_type:
        return x
    return lax.convert_element_type(x, dt)


def _ravel(x) -> Any:
    return x if x.ndim == 1 else lax.reshape(x, (x.size,))


def _slice1(x, start: int, stop: int, axis: int = 0) -> Any:
    return lax.slice_in_dim(x, start, stop, 1, axis)


def _isnan(x) -> Any:
    return lax.ne(x, x)


def _truthy(x) -> Any:
    if x.dtype == dtypes.bool_:
        return x
    return lax.ne(x, _full(x.shape, 0, x.dtype))


def _lt(x, y) -> Any:
    """``x < y`` in NumPy's sort order (NaN after everything; -0.0 == 0.0)."""
    k = x.dtype
    if dtypes.is_complex(k):
        xr, yr, xi, yi = lax.real(x), lax.real(y), lax.imag(x), lax.imag(y)
        return lax.bitwise_or(_lt(xr, yr), lax.bitwise_and(_eq(xr, yr), _lt(xi, yi)))
    if dtypes.is_float(k):
        return lax.bitwise_or(lax.lt(x, y),
                              lax.bitwise_and(_isnan(y), lax.bitwise_not(_isnan(x))))
    if k == dtypes.bool_:
        return lax.bitwise_and(lax.bitwise_not(x), y)
    return lax.lt(x, y)


def _eq(x, y, equal_nan: bool = True) -> Any:
    """``x == y`` where, with ``equal_nan``, NaN equals NaN."""
    if dtypes.is_complex(x.dtype):
        return lax.bitwise_and(_eq(lax.real(x), lax.real(y), equal_nan),
                               _eq(lax.imag(x), lax.imag(y), equal_nan))
    eq = lax.eq(x, y)
    if equal_nan and dtypes.is_float(x.dtype):
        eq = lax.bitwise_or(eq, lax.bitwise_and(_isnan(x), _isnan(y)))
    return eq


def _gather_rows(x, idx, mode: str = "clip") -> Any:
    """``x[idx]`` along axis 0 (``idx`` any shape, in bounds or clamped)."""
    if idx.size == 0:
        return _full(idx.shape + x.shape[1:], 0, x.dtype)
    dn = GatherDimensionNumbers(offset_dims=tuple(range(idx.ndim, idx.ndim + x.ndim - 1)),
                                collapsed_slice_dims=(0,), start_index_map=(0,))
    return lax.gather(x, lax.expand_dims(idx, (idx.ndim,)), dn, (1,) + x.shape[1:],
                      mode=mode)


def _scatter_rows(x, idx, upd, op: str = "set") -> Any:
    """``x.at[idx].set(upd)`` (or ``add``) along axis 0; out-of-bounds rows are dropped."""
    if idx.size == 0 or x.shape[0] == 0:
        return x
    dn = ScatterDimensionNumbers(update_window_dims=tuple(range(idx.ndim, upd.ndim)),
                                 inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
    f = lax.scatter if op == "set" else lax.scatter_add
    return f(x, lax.expand_dims(idx, (idx.ndim,)), upd, dn, mode="drop")


def _as_index(idx, fname: str) -> Any:
    """An integer index array as a signed int (int32, or int64 when needed and enabled)."""
    idx = _arr(idx)
    dt = idx.dtype
    if dt == dtypes.bool_:
        return lax.convert_element_type(idx, dtypes.int32)
    if not dtypes.is_int(dt):
        raise TypeError(f"{fname}: indices must be integers, got dtype {dt.name}")
    target = dtypes.int64 if (dt.itemsize == 8 and dtypes.x64_enabled()) else dtypes.int32
    if dtypes.is_unsigned(dt):
        if dt.itemsize >= target.itemsize:  # keep huge unsigned values out of bounds
            idx = lax.min(idx, _full(idx.shape, np.iinfo(target).max, dt))
        return lax.convert_element_type(idx, target)
    return _cast(idx, target) if dt != target else idx


def _traced(*xs) -> bool:
    return _core._state.dynamic_level > 0 or builtins.any(isinstance(x, Tracer) for x in xs)


class _SizeError(ConcretizationError):
    def __init__(self, msg: str):  # noqa: super().__init__ builds another message
        TypeError.__init__(self, msg)


def _need_size(fname: str, arg: str = "size") -> _SizeError:
    return _SizeError(
        f"{fname}: the size of the result depends on the values of the input, which are not "
        "known while tracing (inside xtrace.jit, lax control flow or another "
        f"transformation). Pass a static `{arg}=` argument: the result then has exactly that "
        "many entries, truncated or padded with `fill_value`"
        + (" (see its docstring)." if arg == "size" else " (the number of bins)."))


def _static_size(fname: str, size: Any, arg: str = "size") -> int:
    if isinstance(size, Tracer):
        raise TypeError(f"{fname}: `{arg}` must be a static Python int, got a traced value; "
                        "mark it static (jit's static_argnums / static_argnames)")
    try:
        size = operator.index(size)
    except TypeError:
        raise TypeError(f"{fname}: `{arg}` must be an int, got {size!r}") from None
    if size < 0:
        raise ValueError(f"{fname}: `{arg}` must be non-negative, got {size}")
    return size


# ---------------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis


def _normalize_mode(fname: str, mode: Any) -> str:
    if mode is None or mode == "fill":
        return "fill"
    if mode in ("clip", "wrap"):
        return mode
    if mode == "raise":
        raise NotImplementedError(
            f"{fname}: mode='raise' is not supported (values are not checked on the device); "
            "use mode='fill' (out-of-bounds indices give fill_value), 'clip' or 'wrap'")
    raise ValueError(f"{fname}: invalid mode {mode!r}; expected 'fill', 'clip' or 'wrap'")


def _prepare_index(idx, n: int, mode: str) -> Any:
    """Indices for a dim of size ``n`` >= 1: wrapped, clamped, or (fill) negatives wrapped."""
    z = _full(idx.shape, 0, idx.dtype)
    nn = _full(idx.shape, n, idx.dtype)
    if mode == "wrap":
        r = lax.rem(idx, nn)
        return lax.select(lax.lt(r, z), lax.add(r, nn), r)
    if mode == "clip":
        return lax.clamp(np.asarray(0, idx.dtype)[()], idx, np.asarray(n - 1, idx.dtype)[()])
    return lax.select(lax.lt(idx, z), lax.add(idx, nn), idx)


def take(a, indices, axis: int | None = None, out=None, mode: str | None = None,
         unique_indices: bool = False, indices_are_sorted: bool = False, fill_value=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` when None).

    As in JAX, ``mode`` is 'fill' by default (negative indices count from the end; indices
    out of bounds give ``fill_value``: NaN for inexact types, the minimum of signed and the
    maximum of unsigned integers, True for bool), or 'clip' or 'wrap' (NumPy's meanings).
    NumPy's default 'raise' is not supported."""
    if out is not None:
        raise NotImplementedError("take: the out= argument is not supported (xtrace arrays are "
                                  "immutable)")
    a = _arr(a)
    mode = _normalize_mode("take", mode)
    idx = _as_index(indices, "take")
    if axis is None:
        a, axis = _ravel(a), 0
    else:
        if a.ndim == 0:
            raise _AxisError(f"take: axis {axis} is out of bounds for array of dimension 0")
        axis = _axis("take", axis, a.ndim)
    n = a.shape[axis]
    out_shape = a.shape[:axis] + idx.shape + a.shape[axis + 1:]
    if n == 0 and idx.size:
        if mode != "fill":
            raise IndexError("take: cannot do a non-empty take from an empty axis")
        from xtrace._src.prims.indexing import _default_fill
        return _full(out_shape, _default_fill(a.dtype) if fill_value is None else fill_value,
                     a.dtype)
    if idx.size == 0 or 0 in out_shape:
        return _full(out_shape, 0, a.dtype)
    idx = _prepare_index(idx, n, mode)
    offset = tuple(range(axis)) + tuple(range(axis + idx.ndim, len(out_shape)))
    dn = GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=(axis,),
                                start_index_map=(axis,))
    sizes = a.shape[:axis] + (1,) + a.shape[axis + 1:]
    return lax.gather(a, lax.expand_dims(idx, (idx.ndim,)), dn, sizes,
                      mode="fill" if mode == "fill" else "clip",
                      fill_value=fill_value if mode == "fill" else None,
                      indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)


def _along_axis_coords(fname, arr_shape, idx, axis, mode):
    """Full coordinates (shape S + (ndim,)) for NumPy's take/put_along_axis with broadcasting
    of the non-axis dims; S is the broadcast index shape."""
    nd = len(arr_shape)
    if idx.ndim != nd:
        raise ValueError(f"{fname}: indices and arr must have the same number of dimensions; "
                         f"got indices of shape {idx.shape} for arr of shape {arr_shape}")
    rest = []
    for d in range(nd):
        if d == axis:
            rest.append(1)
            continue
        a, b = arr_shape[d], idx.shape[d]
        if a != b and a != 1 and b != 1:
            raise ValueError(f"{fname}: shape mismatch: indices {idx.shape} and arr "
                             f"{tuple(arr_shape)} cannot be broadcast along dim {d}")
        rest.append(builtins.max(a, b) if a and b else 0)
    shape = tuple(idx.shape[d] if d == axis else rest[d] for d in range(nd))
    if idx.shape != shape:
        idx = lax.broadcast_in_dim(idx, shape, tuple(range(nd)))
    n = arr_shape[axis]
    if n:
        idx = _prepare_index(idx, n, mode)
    comps = []
    for d in range(nd):
        if d == axis:
            comps.append(idx)
        elif arr_shape[d] == 1:
            comps.append(_full(shape, 0, idx.dtype))
        else:
            comps.append(lax.broadcasted_iota(idx.dtype, shape, d))
    coords = lax.concatenate([lax.expand_dims(c, (nd,)) for c in comps], nd)
    return coords, shape


def take_along_axis(arr, indices, axis: int | None = -1, mode: str | None = None,
                    fill_value=None):
    """``arr`` indexed by ``indices`` along ``axis`` (NumPy's take_along_axis: the other dims
    broadcast). ``mode`` and ``fill_value`` as in :func:`take` (default 'fill')."""
    arr = _arr(arr)
    mode = _normalize_mode("take_along_axis", mode)
    idx = _as_index(indices, "take_along_axis")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError("take_along_axis: when axis=None, indices must be 1-D, got shape "
                             f"{idx.shape}")
        arr, axis = _ravel(arr), 0
    else:
        if arr.ndim == 0:
            raise _AxisError("take_along_axis: arr must have at least one dimension")
        axis = _axis("take_along_axis", axis, arr.ndim)
    coords, shape = _along_axis_coords("take_along_axis", arr.shape, idx, axis, mode)
    if coords.size == 0 or 0 in shape:
        return _full(shape, 0, arr.dtype)
    if arr.shape[axis] == 0:
        if mode != "fill":
            raise IndexError("take_along_axis: cannot do a non-empty take from an empty axis")
        from xtrace._src.prims.indexing import _default_fill
        return _full(shape, _default_fill(arr.dtype) if fill_value is None else fill_value,
                     arr.dtype)
    nd = arr.ndim
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=tuple(range(nd)),
                                start_index_map=tuple(range(nd)))
    return lax.gather(arr, coords, dn, (1,) * nd, mode="fill" if mode == "fill" else "clip",
                      fill_value=fill_value if mode == "fill" else None)


def put_along_axis(arr, indices, values, axis: int | None, inplace: bool = True, *,
                   mode: str | None = None):
    """A copy of ``arr`` with ``values`` put at ``indices`` along ``axis`` (NumPy's
    put_along_axis, functional). xtrace arrays are immutable, so as in JAX ``inplace=False``
    is required; the new array is returned. Out-of-bounds indices are dropped ('fill', the
    default) or clamped ('clip'), or wrap ('wrap'); negative indices count from the end."""
    if inplace:
        raise ValueError(
            "put_along_axis: xtrace arrays are immutable, so arr cannot be modified in place. "
            "Call put_along_axis(arr, indices, values, axis, inplace=False) and use the array "
            "it returns.")
    arr = _arr(arr)
    mode = _normalize_mode("put_along_axis", "fill" if mode == "drop" else mode)
    idx = _as_index(indices, "put_along_axis")
    shape0 = arr.shape
    if axis is None:
        if idx.ndim != 1:
            raise ValueError("put_along_axis: when axis=None, indices must be 1-D, got shape "
                             f"{idx.shape}")
        arr, axis = _ravel(arr), 0
    else:
        if arr.ndim == 0:
            raise _AxisError("put_along_axis: arr must have at least one dimension")
        axis = _axis("put_along_axis", axis, arr.ndim)
    coords, shape = _along_axis_coords("put_along_axis", arr.shape, idx, axis, mode)
    if coords.size == 0 or 0 in shape or arr.size == 0:
        return lax.reshape(arr, shape0)
    vals = _arr(values)
    try:
        bshape = np.broadcast_shapes(vals.shape, shape)
    except ValueError:
        bshape = None
    if bshape != shape:
        raise ValueError(f"put_along_axis: values of shape {vals.shape} cannot be broadcast to "
                         f"the index shape {shape}")
    vals = _cast(vals, arr.dtype)
    if vals.shape != shape:
        vals = lax.broadcast_in_dim(vals, shape, tuple(range(len(shape) - vals.ndim,
                                                             len(shape))))
    nd = arr.ndim
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=tuple(range(nd)),
                                 scatter_dims_to_operand_dims=tuple(range(nd)))
    out = lax.scatter(arr, coords, vals, dn, mode="clip" if mode == "clip" else "drop")
    if arr.weak_type:
        out = lax.convert_element_type(out, arr.dtype, True)
    return lax.reshape(out, shape0) if out.shape != shape0 else out


# ---------------------------------------------------------------------------------------------
# Sorting


def _sort_setup(fname, a, axis, order):
    if order is not None:
        raise NotImplementedError(f"{fname}: order= (structured arrays) is not supported")
    a = _arr(a)
    if axis is None:
        return _ravel(a), 0
    if a.ndim == 0:
        raise _AxisError(f"{fname}: axis {axis} is out of bounds for array of dimension 0; "
                         "use axis=None to sort a 0-d array as 1-d")
    return a, _axis(fname, axis, a.ndim)


def sort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
         descending: bool = False):
    """``a`` sorted along ``axis`` (flattened when None). Always stable; NaNs sort last
    (first when ``descending``, which keeps equal elements in their original order)."""
    a, axis = _sort_setup("sort", a, axis, order)
    if a.size == 0:
        return a
    if descending:
        return lax.rev(lax.sort(lax.rev(a, (axis,)), axis), (axis,))
    return lax.sort(a, axis)


def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
            descending: bool = False):
    """Indices that sort ``a`` along ``axis`` (stable; NaNs last; ``descending`` keeps equal
    elements in their original order, as JAX does)."""
    a, axis = _sort_setup("argsort", a, axis, order)
    idt = _idt()
    if a.size == 0:
        return _full(a.shape, 0, idt)
    it = lax.broadcasted_iota(idt, a.shape, axis)
    if descending:
        _, perm = lax.sort_key_val(lax.rev(a, (axis,)), lax.rev(it, (axis,)), axis)
        return lax.rev(perm, (axis,))
    return lax.sort_key_val(a, it, axis)[1]


def sort_complex(a):
    """``a`` sorted (flattened along the last axis) and returned as complex."""
    a = sort(a)
    if dtypes.is_complex(a.dtype):
        return a
    ct = dtypes.canonicalize_dtype(np.complex128 if a.dtype.itemsize == 8 else np.complex64)
    return lax.convert_element_type(a, ct)


def lexsort(keys, axis: int = -1):
    """Indices sorting by several keys: the last key is the primary one (NumPy's lexsort)."""
    if _is_array(keys) or isinstance(keys, np.ndarray):
        keys = _arr(keys)
        if keys.ndim < 1:
            raise TypeError("lexsort: keys must be a sequence of arrays or a 2-d array")
        keys = [lax.index_in_dim(keys, i, 0, keepdims=False) for i in range(keys.shape[0])]
    else:
        keys = [_arr(k) for k in keys]
    if not keys:
        raise TypeError("lexsort: need a sequence of keys with length > 0")
    try:
        shape = np.broadcast_shapes(*[k.shape for k in keys])
    except ValueError:
        raise ValueError("lexsort: all keys need to be the same shape; got "
                         + ", ".join(str(k.shape) for k in keys)) from None
    keys = [k if k.shape == shape else lax.broadcast_in_dim(
        k, shape, tuple(range(len(shape) - k.ndim, len(shape)))) for k in keys]
    if len(shape) == 0:
        return _full((), 0, _idt())
    axis = _axis("lexsort", axis, len(shape))
    if 0 in shape:
        return _full(shape, 0, _idt())
    it = lax.broadcasted_iota(_idt(), shape, axis)
    outs = lax.sort(list(keys[::-1]) + [it], axis, True, num_keys=len(keys))
    return outs[-1]


def _check_kth(fname, kth, n):
    ks = np.atleast_1d(np.asarray(kth))
    if ks.dtype.kind not in "iu":
        raise TypeError(f"{fname}: kth must be an integer or a sequence of integers")
    for k in ks.tolist():
        if not -n <= k < n:
            raise ValueError(f"{fname}: kth(={k}) out of bounds ({n})")


def partition(a, kth, axis: int = -1):
    """``a`` partitioned around ``kth`` along ``axis``: the k-th element is where a sort would
    put it, smaller ones before it, larger ones after. xtrace returns the fully sorted array,
    which satisfies this (NumPy leaves the order within each side unspecified)."""
    a, ax = _sort_setup("partition", a, axis, None)
    _check_kth("partition", kth, a.shape[ax])
    return sort(a, ax)


def argpartition(a, kth, axis: int = -1):
    """Indices that partition ``a`` around ``kth`` (see :func:`partition`): argsort's."""
    a, ax = _sort_setup("argpartition", a, axis, None)
    _check_kth("argpartition", kth, a.shape[ax])
    return argsort(a, ax)


# ---------------------------------------------------------------------------------------------
# searchsorted, digitize


def _search(a, v, side: str, method: str) -> Any:
    """Insertion points of ``v`` into the sorted 1-D ``a`` (both of one dtype)."""
    n = a.shape[0]
    idt = _idt()
    if n == 0 or v.size == 0:
        return _full(v.shape, 0, idt)
    if a.dtype == dtypes.bool_:
        a, v = lax.convert_element_type(a, dtypes.int32), lax.convert_element_type(v, dtypes.int32)
    if method == "compare_all":
        ab = lax.broadcast_in_dim(a, v.shape + (n,), (v.ndim,))
        vb = lax.broadcast_in_dim(v, v.shape + (n,), tuple(range(v.ndim)))
        c = _lt(ab, vb) if side == "left" else lax.bitwise_not(_lt(vb, ab))
        return lax.reduce_sum(lax.convert_element_type(c, idt), (v.ndim,))

    def step(_, state):
        lo, hi = state
        mid = lax.shift_right_logical(lax.add(lo, hi), _full(lo.shape, 1, idt))
        am = _gather_rows(a, lax.min(mid, _full(mid.shape, n - 1, idt)))
        right = _lt(am, v) if side == "left" else lax.bitwise_not(_lt(v, am))
        active = lax.lt(lo, hi)
        lo = lax.select(lax.bitwise_and(active, right), lax.add(mid, _full(mid.shape, 1, idt)),
                        lo)
        hi = lax.select(lax.bitwise_and(active, lax.bitwise_not(right)), mid, hi)
        return lo, hi

    state = (_full(v.shape, 0, idt), _full(v.shape, n, idt))
    steps = int(n).bit_length()
    if method == "scan_unrolled":
        for i in range(steps):
            state = step(i, state)
    else:
        state = lax.fori_loop(0, steps, step, state)
    return state[0]


@functools.partial(_jit, static_argnames=("side", "method"))
def _searchsorted_kernel(a, v, sorter, side, method):
    if sorter is not None:
        a = _gather_rows(a, sorter)
    return _search(a, v, side, method)


def searchsorted(a, v, side: str = "left", sorter=None, *, method: str = "scan"):
    """Indices where ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted.

    ``side='left'`` gives the first such index, 'right' the last. NaNs count as larger than
    everything (NumPy's sort order). ``method``: 'scan' (a binary search in a loop, the
    default), 'scan_unrolled' or 'compare_all' (counts comparisons; fast for small ``a``)."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if method not in ("scan", "scan_unrolled", "compare_all"):
        raise ValueError(f"searchsorted: method must be 'scan', 'scan_unrolled' or "
                         f"'compare_all', got {method!r}")
    a = _arr(a)
    if a.ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {a.shape}")
    a, v = promote_dtypes_only(a, v)
    a, v = _arr(a), _arr(v)
    if sorter is not None:
        sorter = _as_index(sorter, "searchsorted")
        if sorter.shape != a.shape:
            raise ValueError(f"searchsorted: sorter must have the shape of a {a.shape}, got "
                             f"{sorter.shape}")
    if a.weak_type:
        a = lax.convert_element_type(a, a.dtype, False)
    if v.weak_type:
        v = lax.convert_element_type(v, v.dtype, False)
    return _searchsorted_kernel(a, v, sorter, side=side, method=method)


def digitize(x, bins, right: bool = False, *, method: str | None = None):
    """Index of the bin of each ``x``: ``bins`` increasing or decreasing (NumPy's digitize)."""
    bins = _arr(bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, got shape {bins.shape}")
    if bins.shape[0] == 0:
        return _full(np.shape(x) if not _is_array(x) else x.shape, 0, _idt())
    if not isinstance(bins, Tracer):
        b = np.asarray(bins)
        d = np.diff(b.astype(np.float64) if b.dtype.kind == "b" else b)
        if not (np.all(d >= 0) or np.all(d <= 0)):
            raise ValueError("digitize: bins must be monotonically increasing or decreasing")
    return _digitize_kernel(bins, _arr(x), side="left" if right else "right",
                            method=method or "scan")


@functools.partial(_jit, static_argnames=("side", "method"))
def _digitize_kernel(bins, x, side, method):
    bins, x = promote_dtypes_only(bins, x)
    bins, x = _cast(bins, bins.dtype), _cast(_arr(x), bins.dtype)
    n = bins.shape[0]
    up = _search(bins, x, side, method)
    down = lax.sub(_full(x.shape, n, up.dtype), _search(lax.rev(bins, (0,)), x, side, method))
    inc = lax.ge(_slice1(bins, n - 1, n), _slice1(bins, 0, 1))
    if dtypes.is_complex(bins.dtype):
        inc = lax.bitwise_not(_lt(_slice1(bins, n - 1, n), _slice1(bins, 0, 1)))
    return lax.select(_full(x.shape, lax.reshape(inc, ()), dtypes.bool_), up, down)


# ---------------------------------------------------------------------------------------------
# nonzero, argwhere, flatnonzero, where(c), extract, compress, count_nonzero


def _unravel(flat, shape) -> list:
    """Per-dim coordinates of the C-order flat indices ``flat`` (all in range)."""
    if 0 in shape:
        return [_full(flat.shape, 0, flat.dtype) for _ in shape]
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    out = []
    for i, (d, st) in enumerate(zip(shape, strides)):
        c = flat if st == 1 else lax.div(flat, _full(flat.shape, st, flat.dtype))
        out.append(c if i == 0 else lax.rem(c, _full(flat.shape, d, flat.dtype)))
    return out


@functools.partial(_jit, static_argnames=("size",))
def _nonzero_kernel(a, fills, size):
    idt = _idt()
    mask = _ravel(_truthy(a))
    n = mask.shape[0]
    m = lax.convert_element_type(mask, idt)
    count = lax.reduce_sum(m, (0,))
    pos = lax.sub(lax.cumsum(m, 0), _full((n,), 1, idt))
    target = lax.select(mask, pos, _full((n,), size, idt))
    flat = _scatter_rows(_full((size,), 0, idt), target, lax.iota(idt, n))
    coords = _unravel(flat, a.shape)
    if fills is not None:
        valid = lax.lt(lax.iota(idt, size), _full((size,), count, idt))
        coords = [lax.select(valid, c, _full((size,), f, idt)) for c, f in zip(coords, fills)]
    return coords, count


def _nonzero_coords(fname, a, size, fill_value):
    """Per-dim index arrays of the nonzero entries of ``a`` (ndim >= 1), and their count."""
    if size is None:
        if _traced(a):
            raise _need_size(fname)
        coords, count = _nonzero_kernel(a, None, size=a.size)
        k = int(count)
        return [c if k == a.size else _slice1(c, 0, k) for c in coords]
    size = _static_size(fname, size)
    if fill_value is None:
        fills = None
    elif isinstance(fill_value, (tuple, list)):
        if len(fill_value) != a.ndim:
            raise ValueError(f"{fname}: fill_value must be a scalar or a tuple of length "
                             f"{a.ndim} (one per dimension), got length {len(fill_value)}")
        fills = tuple(fill_value)
    else:
        if np.ndim(fill_value) != 0:
            raise ValueError(f"{fname}: fill_value must be a scalar or a tuple of scalars, got "
                             f"shape {np.shape(fill_value)}")
        fills = (fill_value,) * a.ndim
    coords, _ = _nonzero_kernel(a, fills, size=size)
    return coords


def nonzero(a, *, size: int | None = None, fill_value=None) -> tuple:
    """Indices of the nonzero elements of ``a``, one array per dimension.

    The number of results depends on the values: eagerly it is found; while tracing (under
    jit) pass a static ``size``: the first ``size`` indices are returned, padded with
    ``fill_value`` (default 0; a scalar, or one per dimension)."""
    a = _arr(a)
    if a.ndim == 0:
        raise ValueError("nonzero: calling nonzero on 0-d arrays is not allowed; use "
                         "atleast_1d(a).nonzero() or argwhere(a)")
    return tuple(_nonzero_coords("nonzero", a, size, fill_value))


def flatnonzero(a, *, size: int | None = None, fill_value=None):
    """Indices of the nonzero elements of the flattened ``a`` (``size``/``fill_value`` as in
    :func:`nonzero`)."""
    a = _arr(a)
    return _nonzero_coords("flatnonzero", _ravel(a), size, fill_value)[0]


def argwhere(a, *, size: int | None = None, fill_value=None):
    """Indices of the nonzero elements of ``a``, as an array of shape (N, a.ndim)
    (``size``/``fill_value`` as in :func:`nonzero`)."""
    a = _arr(a)
    if a.ndim == 0:
        coords = _nonzero_coords("argwhere", lax.reshape(a, (1,)), size, fill_value)
        return lax.slice(lax.expand_dims(coords[0], (1,)), (0, 0), (coords[0].shape[0], 0))
    coords = _nonzero_coords("argwhere", a, size, fill_value)
    return lax.concatenate([lax.expand_dims(c, (1,)) for c in coords], 1)


def where(condition, x=None, y=None, /, *, size: int | None = None, fill_value=None):
    """``x`` where ``condition`` else ``y`` (broadcast); with only ``condition``, the same as
    ``nonzero(condition, size=size, fill_value=fill_value)``."""
    if x is None and y is None:
        c = _arr(condition)
        if c.ndim == 0:
            raise ValueError("where: calling where(condition) on a 0-d condition is not "
                             "allowed; use atleast_1d(condition)")
        return nonzero(c, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("where: pass either only condition, or condition, x and y")
    if size is not None or fill_value is not None:
        raise ValueError("where: size and fill_value can only be used with where(condition) "
                         "(one argument)")
    return _ufuncs.where(condition, x, y)


def extract(condition, arr, *, size: int | None = None, fill_value=0):
    """The elements of ``arr`` where ``condition`` is nonzero, flattened (NumPy's extract);
    under jit pass ``size`` (padding with ``fill_value``)."""
    return compress(_ravel(_arr(condition)), _ravel(_arr(arr)), size=size,
                    fill_value=fill_value, _fname="extract")


def compress(condition, a, axis: int | None = None, *, size: int | None = None,
             fill_value=0, out=None, _fname: str = "compress"):
    """The slices of ``a`` along ``axis`` where the 1-D ``condition`` is true (flattened ``a``
    when ``axis`` is None); a shorter ``condition`` counts as False for the rest. Under jit
    pass ``size``; the padding slices hold ``fill_value``."""
    if out is not None:
        raise NotImplementedError(f"{_fname}: the out= argument is not supported")
    c = _arr(condition)
    if c.ndim != 1:
        raise ValueError(f"{_fname}: condition must be a 1-d array, got shape {c.shape}")
    a = _arr(a)
    if axis is None:
        a, axis = _ravel(a), 0
    else:
        axis = _axis(_fname, axis, builtins.max(a.ndim, 1))
        if a.ndim == 0:
            a = lax.reshape(a, (1,))
    n = a.shape[axis]
    if c.shape[0] > n:
        raise ValueError(f"{_fname}: condition of length {c.shape[0]} is longer than axis "
                         f"{axis} of size {n}")
    if c.shape[0] < n:
        c = lax.concatenate([_truthy(c), _full((n - c.shape[0],), False, dtypes.bool_)], 0)
    idx = _nonzero_coords(_fname, c, size, None if size is None else n)[0]
    if size is None:
        return take(a, idx, axis)
    return take(a, idx, axis, mode="fill", fill_value=fill_value)


def _count_nonzero(a, axis=None, keepdims: bool = False):
    a = _arr(a)
    m = lax.convert_element_type(_truthy(a), _idt())
    axes = tuple(range(a.ndim)) if axis is None else tuple(
        sorted(_axis("count_nonzero", ax, a.ndim)
               for ax in (axis if isinstance(axis, (tuple, list)) else (axis,))))
    res = lax.reduce_sum(m, axes)
    if keepdims:
        res = lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)])
    return res


def count_nonzero(a, axis=None, keepdims: bool = False):
    """The number of nonzero elements of ``a`` (over ``axis``)."""
    return _count_nonzero(a, axis, keepdims)


# ---------------------------------------------------------------------------------------------
# unique and set operations


def _sorted_flat(a):
    """(sorted values, stable permutation) of the flattened ``a`` (n >= 1)."""
    flat = _ravel(a)
    return lax.sort_key_val(flat, lax.iota(_idt(), flat.shape[0]), 0)


def _new_mask(s, equal_nan: bool):
    """True where a sorted 1-D ``s`` starts a new value."""
    n = s.shape[0]
    head = _full((1,), True, dtypes.bool_)
    if n == 1:
        return head
    same = _eq(_slice1(s, 1, n), _slice1(s, 0, n - 1), equal_nan)
    return lax.concatenate([head, lax.bitwise_not(same)], 0)


@functools.partial(_jit, static_argnames=("size", "equal_nan", "want"))
def _unique_kernel(a, fill, size, equal_nan, want):
    idt = _idt()
    n = a.size
    s, perm = _sorted_flat(a)
    new = _new_mask(s, equal_nan)
    gid = lax.sub(lax.cumsum(lax.convert_element_type(new, idt), 0), _full((n,), 1, idt))
    count = lax.add(lax.reshape(_slice1(gid, n - 1, n), ()), np.asarray(1, idt)[()])
    target = lax.select(new, gid, _full((n,), size, idt))
    fv = _slice1(s, 0, 1) if fill is None else fill
    outs = [_scatter_rows(_full((size,), fv, s.dtype), target, s)]
    if "index" in want:
        outs.append(_scatter_rows(_full((size,), _slice1(perm, 0, 1), idt), target, perm))
    if "inverse" in want:
        outs.append(lax.reshape(_scatter_rows(_full((n,), 0, idt), perm, gid), a.shape))
    if "counts" in want:
        outs.append(_scatter_rows(_full((size,), 0, idt), gid, _full((n,), 1, idt), "add"))
    return outs, count


@functools.partial(_jit, static_argnames=("size", "want"))
def _unique_rows_kernel(x, fill, size, want):
    """unique along axis 0 of the 2-D ``x`` (m >= 1 rows, lexicographic order)."""
    idt = _idt()
    m, r = x.shape
    it = lax.iota(idt, m)
    cols = [lax.index_in_dim(x, j, 1, keepdims=False) for j in range(r)]
    if r:
        outs = lax.sort(cols + [it], 0, True, num_keys=r)
        s_cols, perm = list(outs[:-1]), outs[-1]
    else:
        s_cols, perm = [], it
    if m > 1:
        diff = _full((m - 1,), False, dtypes.bool_)
        for c in s_cols:
            diff = lax.bitwise_or(diff, lax.bitwise_not(
                _eq(_slice1(c, 1, m), _slice1(c, 0, m - 1), False)))
        new = lax.concatenate([_full((1,), True, dtypes.bool_), diff], 0)
    else:
        new = _full((1,), True, dtypes.bool_)
    gid = lax.sub(lax.cumsum(lax.convert_element_type(new, idt), 0), _full((m,), 1, idt))
    count = lax.add(lax.reshape(_slice1(gid, m - 1, m), ()), np.asarray(1, idt)[()])
    target = lax.select(new, gid, _full((m,), size, idt))
    rows = (lax.concatenate([lax.expand_dims(c, (1,)) for c in s_cols], 1) if r
            else _full((m, 0), 0, x.dtype))
    init = (lax.broadcast_in_dim(_slice1(rows, 0, 1), (size, r), (0, 1)) if fill is None
            else _full((size, r), fill, x.dtype))
    outs = [_scatter_rows(init, target, rows)]
    if "index" in want:
        outs.append(_scatter_rows(_full((size,), _slice1(perm, 0, 1), idt), target, perm))
    if "inverse" in want:
        outs.append(_scatter_rows(_full((m,), 0, idt), perm, gid))
    if "counts" in want:
        outs.append(_scatter_rows(_full((size,), 0, idt), gid, _full((m,), 1, idt), "add"))
    return outs, count


def _fill_scalar(fname, fill_value, dt):
    if fill_value is None:
        return None
    if np.ndim(fill_value) != 0:
        raise ValueError(f"{fname}: fill_value must be a scalar, got shape "
                         f"{np.shape(fill_value)}")
    return _cast(fill_value if _is_array(fill_value) else np.asarray(fill_value), dt)


def unique(ar, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value=None, sorted: bool = True):
    """The sorted unique elements of ``ar`` (NumPy's unique), and optionally the index of the
    first occurrence of each, the inverse (indices rebuilding ``ar``, shaped like ``ar`` when
    ``axis`` is None) and the counts. NaNs sort last and, with ``equal_nan``, count as one.

    The number of unique values depends on the data: eagerly it is found; while tracing
    pass a static ``size``: the result then has ``size`` entries, padded with ``fill_value``
    (default: the smallest unique value; indices are padded with its index, counts with 0)."""
    a = _arr(ar)
    want = tuple(n for n, f in (("index", return_index), ("inverse", return_inverse),
                                ("counts", return_counts)) if f)
    idt = _idt()
    if axis is None:
        n = a.size
        shape_out = lambda k: (k,)  # noqa: E731
    else:
        if a.ndim == 0:
            raise _AxisError(f"unique: axis {axis} is out of bounds for array of dimension 0")
        axis = _axis("unique", axis, a.ndim)
        n = a.shape[axis]
        rest = a.shape[:axis] + a.shape[axis + 1:]
        shape_out = lambda k: a.shape[:axis] + (k,) + a.shape[axis + 1:]  # noqa: E731
    if size is not None:
        size = _static_size("unique", size)
    elif _traced(a):
        raise _need_size("unique")
    fill = _fill_scalar("unique", fill_value, a.dtype)
    if n == 0:
        k = 0 if size is None else size
        outs = [_full(shape_out(k), 0 if fill is None else fill, a.dtype)]
        if "index" in want:
            outs.append(_full((k,), 0, idt))
        if "inverse" in want:
            outs.append(_full(a.shape if axis is None else (0,), 0, idt))
        if "counts" in want:
            outs.append(_full((k,), 0, idt))
        return outs[0] if len(outs) == 1 else tuple(outs)
    if axis is None:
        kernel = functools.partial(_unique_kernel, a, fill, equal_nan=bool(equal_nan),
                                   want=want)
    else:
        x = lax.transpose(a, (axis,) + tuple(d for d in range(a.ndim) if d != axis))
        x = lax.reshape(x, (n, int(np.prod(rest, dtype=np.int64))))
        kernel = functools.partial(_unique_rows_kernel, x, fill, want=want)
    if size is None:
        outs, count = kernel(size=n)
        k = int(count)
        inv = want.index("inverse") + 1 if "inverse" in want else -1
        outs = [o if j == inv or k == n else _slice1(o, 0, k) for j, o in enumerate(outs)]
    else:
        outs, _ = kernel(size=size)
        k = size
    outs = list(outs)
    if axis is not None:
        v = lax.reshape(outs[0], (k,) + rest)
        outs[0] = lax.transpose(v, tuple(range(1, axis + 1)) + (0,) + tuple(
            range(axis + 1, a.ndim))) if axis else v
    return outs[0] if len(outs) == 1 else tuple(outs)


def unique_values(x, /, *, size: int | None = None, fill_value=None):
    """The sorted unique values of the flattened ``x`` (array API)."""
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size: int | None = None, fill_value=None):
    """(values, counts) of the flattened ``x`` (array API)."""
    return unique(x, return_counts=True, size=size, fill_value=fill_value)


def unique_inverse(x, /, *, size: int | None = None, fill_value=None):
    """(values, inverse_indices) of ``x``; the inverse has the shape of ``x`` (array API)."""
    return unique(x, return_inverse=True, size=size, fill_value=fill_value)


def unique_all(x, /, *, size: int | None = None, fill_value=None):
    """(values, indices, inverse_indices, counts) of ``x`` (array API)."""
    return unique(x, True, True, True, size=size, fill_value=fill_value)


def _isin_flat(e, t, method: str):
    """``e`` (any shape) in the 1-D ``t``; both of one dtype."""
    if t.shape[0] == 0 or e.size == 0:
        return _full(e.shape, False, dtypes.bool_)
    if method == "auto":
        method = "compare_all" if e.size * t.shape[0] <= (1 << 16) else "sort"
    if method == "compare_all":
        eb = lax.broadcast_in_dim(e, e.shape + t.shape, tuple(range(e.ndim)))
        tb = lax.broadcast_in_dim(t, e.shape + t.shape, (e.ndim,))
        return lax.reduce_or(lax.eq(eb, tb), (e.ndim,))
    st = lax.sort(t, 0)
    i = _search(st, e, "left", "scan")
    i = lax.min(i, _full(i.shape, t.shape[0] - 1, i.dtype))
    return lax.eq(_gather_rows(st, i), e)


@functools.partial(_jit, static_argnames=("invert", "method"))
def _isin_kernel(e, t, invert, method):
    e, t = promote_dtypes_only(e, t)
    e, t = _arr(e), _ravel(_arr(t))
    if e.dtype == dtypes.bool_:
        e, t = _cast(e, dtypes.int32), _cast(t, dtypes.int32)
    r = _isin_flat(e, t, method)
    return lax.bitwise_not(r) if invert else r


def isin(element, test_elements, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto"):
    """Whether each element of ``element`` is in ``test_elements`` (shape of ``element``).
    ``method``: 'compare_all', 'sort' or 'auto' (by size). NaN is never found."""
    if method not in ("auto", "compare_all", "sort"):
        raise ValueError(f"isin: method must be 'auto', 'compare_all' or 'sort', got {method!r}")
    return _isin_kernel(_arr(element), _arr(test_elements), invert=bool(invert), method=method)


def _compact(vals, mask, size: int, fill):
    """The ``vals`` where ``mask``, in order, in an array of ``size`` (rest: ``fill``, default
    the first selected value), and their count."""
    idt = _idt()
    n = vals.shape[0]
    m = lax.convert_element_type(mask, idt)
    count = lax.reduce_sum(m, (0,))
    target = lax.select(mask, lax.sub(lax.cumsum(m, 0), _full((n,), 1, idt)),
                        _full((n,), size, idt))
    out = _scatter_rows(_full((size,), 0, vals.dtype), target, vals)
    if size:
        valid = lax.lt(lax.iota(idt, size), _full((size,), count, idt))
        fv = _slice1(out, 0, 1) if fill is None else fill
        out = lax.select(valid, out, _full((size,), fv, vals.dtype))
    return out, count


@functools.partial(_jit, static_argnames=("op", "size", "assume_unique", "return_indices"))
def _setop_kernel(a, b, fill, op, size, assume_unique, return_indices):
    a, b = promote_dtypes_only(a, b)
    a, b = _ravel(_arr(a)), _ravel(_arr(b))
    dt = a.dtype
    cmp_dt = dtypes.int32 if dt == dtypes.bool_ else dt
    ac, bc = _cast(a, cmp_dt), _cast(b, cmp_dt)
    fill = None if fill is None else _cast(fill, dt)
    if op == "setdiff1d" and assume_unique:
        return _compact(a, lax.bitwise_not(_isin_flat(ac, bc, "auto")), size, fill)
    if a.size == 0:
        sa, perm_a, new_a = a, _full((0,), 0, _idt()), _full((0,), False, dtypes.bool_)
    else:
        sa, perm_a = _sorted_flat(a)
        new_a = _new_mask(sa, True)
    sac = _cast(sa, cmp_dt)
    if op == "intersect1d":
        mask = lax.bitwise_and(new_a, _isin_flat(sac, bc, "auto"))
        vals, count = _compact(sa, mask, size, fill)
        if not return_indices:
            return vals, count
        ia, _ = _compact(perm_a, mask, size, None)
        sb, perm_b = _sorted_flat(b) if b.size else (b, _full((0,), 0, _idt()))
        pos = _search(_cast(sb, cmp_dt), sac, "left", "scan")
        ib_all = _gather_rows(perm_b, lax.min(pos, _full(pos.shape, builtins.max(
            b.size - 1, 0), pos.dtype))) if b.size else _full(pos.shape, 0, _idt())
        ib, _ = _compact(ib_all, mask, size, None)
        return (vals, ia, ib), count
    if op == "setdiff1d":
        return _compact(sa, lax.bitwise_and(new_a, lax.bitwise_not(
            _isin_flat(sac, bc, "auto"))), size, fill)
    # setxor1d: values of exactly one of the inputs, sorted
    if b.size == 0:
        sb, new_b = b, _full((0,), False, dtypes.bool_)
    else:
        sb, _ = _sorted_flat(b)
        new_b = _new_mask(sb, True)
    ma = lax.bitwise_and(new_a, lax.bitwise_not(_isin_flat(sac, bc, "auto")))
    mb = lax.bitwise_and(new_b, lax.bitwise_not(_isin_flat(_cast(sb, cmp_dt), ac, "auto")))
    vals = lax.concatenate([sa, sb], 0)
    mask = lax.concatenate([ma, mb], 0)
    if vals.size == 0:
        return _compact(vals, mask, size, fill)
    out = lax.sort([lax.convert_element_type(lax.bitwise_not(mask), dtypes.int32), vals], 0,
                   True, num_keys=2)
    return _compact(out[1], lax.eq(out[0], _full(mask.shape, 0, dtypes.int32)), size, fill)


def _setop(fname, a, b, size, fill_value, **params):
    a, b = _arr(a), _arr(b)
    if size is None:
        if _traced(a, b):
            raise _need_size(fname)
        upper = a.size + (b.size if fname == "setxor1d" else 0)
        res, count = _setop_kernel(a, b, None, op=fname, size=upper, **params)
        k = int(count)
        if k == upper:
            return res
        return (tuple(_slice1(r, 0, k) for r in res) if isinstance(res, (tuple, list))
                else _slice1(res, 0, k))
    size = _static_size(fname, size)
    dt = promote_dtypes_only(a, b)[0].dtype
    res, _ = _setop_kernel(a, b, _fill_scalar(fname, fill_value, dt), op=fname, size=size,
                           **params)
    return tuple(res) if isinstance(res, (tuple, list)) else res


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value=None):
    """The sorted unique values in both ``ar1`` and ``ar2`` (and, with ``return_indices``, the
    index of their first occurrence in each). Under jit pass ``size`` (and ``fill_value``)."""
    return _setop("intersect1d", ar1, ar2, size, fill_value, assume_unique=False,
                  return_indices=bool(return_indices))


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
              fill_value=None):
    """The sorted unique values of ``ar1`` that are not in ``ar2`` (with ``assume_unique``: in
    the order of ``ar1``). Under jit pass ``size`` (and ``fill_value``)."""
    return _setop("setdiff1d", ar1, ar2, size, fill_value, assume_unique=bool(assume_unique),
                  return_indices=False)


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
             fill_value=None):
    """The sorted values in exactly one of ``ar1`` and ``ar2``. Under jit pass ``size``."""
    return _setop("setxor1d", ar1, ar2, size, fill_value, assume_unique=False,
                  return_indices=False)


def union1d(ar1, ar2, *, size: int | None = None, fill_value=None):
    """The sorted unique values of ``ar1`` and ``ar2`` together. Under jit pass ``size``."""
    a, b = promote_dtypes_only(_arr(ar1), _arr(ar2))
    a, b = _arr(a), _arr(b)
    both = lax.concatenate([_ravel(a), _ravel(b)], 0)
    return unique(both, size=size, fill_value=fill_value)


# ---------------------------------------------------------------------------------------------
# bincount, histogram


@functools.partial(_jit, static_argnames=("length",))
def _bincount_kernel(x, weights, length):
    idt = _idt()
    x = _cast(x, idt)
    x = lax.max(x, _full(x.shape, 0, idt))
    if weights is None:
        w, dt = _full(x.shape, 1, idt), idt
    else:
        dt = weights.dtype if dtypes.is_inexact(weights.dtype) else dtypes.default_float()
        w = _cast(weights, dt)
    return _scatter_rows(_full((length,), 0, dt), x, w, "add")


def bincount(x, weights=None, minlength: int = 0, *, length: int | None = None):
    """The number of occurrences of each value 0, 1, ... in the non-negative integer 1-D ``x``
    (weighted sums with ``weights``). The result has ``max(x) + 1`` entries, at least
    ``minlength``; under jit pass a static ``length`` (values >= length are dropped and, as in
    JAX, negative values count as 0)."""
    x = _arr(x)
    if x.ndim != 1:
        raise ValueError(f"bincount: x must be 1-D, got shape {x.shape}")
    if not (dtypes.is_int(x.dtype) or x.dtype == dtypes.bool_):
        raise TypeError(f"bincount: x must hold non-negative integers, got dtype "
                        f"{x.dtype.name}; cast it with astype(int)")
    minlength = _static_size("bincount", minlength, "minlength")
    if weights is not None:
        weights = _arr(weights)
        if weights.shape != x.shape:
            raise ValueError(f"bincount: weights of shape {weights.shape} must have the shape "
                             f"of x {x.shape}")
    if length is None:
        if _traced(x):
            raise _need_size("bincount", "length")
        if x.size:
            lo, hi = (int(v) for v in np.asarray(_minmax(x)))
            if lo < 0:
                raise ValueError("bincount: x must have no negative elements")
            length = builtins.max(minlength, hi + 1)
        else:
            length = minlength
    else:
        length = _static_size("bincount", length, "length")
    return _bincount_kernel(x, weights, length=length)


@_jit
def _minmax(x):
    x = _cast(x, _idt())
    return lax.concatenate([lax.reshape(lax.reduce_min(x, (0,)), (1,)),
                            lax.reshape(lax.reduce_max(x, (0,)), (1,))], 0)


def _bins_dtype(a) -> np.dtype:
    return a.dtype if dtypes.is_inexact(a.dtype) else dtypes.default_float()


@functools.partial(_jit, static_argnames=("bins",))
def _uniform_edges(a, lo, hi, bins):
    dt = _bins_dtype(a)
    if lo is None:
        if a.size == 0:
            first, last = np.asarray(0, dt)[()], np.asarray(1, dt)[()]
        else:
            flat = _ravel(a)
            first = _cast(lax.reduce_min(flat, (0,)), dt)
            last = _cast(lax.reduce_max(flat, (0,)), dt)
    else:
        first, last = _cast(lo, dt), _cast(hi, dt)
    first, last = _full((), first, dt), _full((), last, dt)
    same = lax.eq(first, last)
    half = np.asarray(0.5, dt)[()]
    first = lax.select(same, lax.sub(first, half), first)
    last = lax.select(same, lax.add(last, half), last)
    step = lax.div(lax.sub(last, first), np.asarray(bins, dt)[()])
    i = lax.convert_element_type(lax.iota(dtypes.int32, bins + 1), dt)
    edges = lax.add(lax.mul(i, _full((bins + 1,), step, dt)), _full((bins + 1,), first, dt))
    return lax.concatenate([_slice1(edges, 0, bins), lax.reshape(last, (1,))], 0)


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The bin edges :func:`histogram` uses: ``bins + 1`` evenly spaced edges over ``range``
    (default: min to max of ``a``) for an int ``bins``, or ``bins`` itself (an array)."""
    a = _arr(a)
    if isinstance(bins, str):
        raise NotImplementedError(f"histogram: string bins ({bins!r}) are not supported; pass "
                                  "the number of bins or the array of bin edges")
    if np.ndim(bins) == 0 and not _is_array(bins):
        try:
            nb = operator.index(bins)
        except TypeError:
            raise TypeError(f"histogram: bins must be an int or a 1-d array of edges, got "
                            f"{bins!r}") from None
        if nb < 1:
            raise ValueError("histogram: `bins` must be positive, when an integer")
        lo = hi = None
        if range is not None:
            if len(range) != 2:
                raise ValueError("histogram: range must be a pair (min, max)")
            lo, hi = range
            if not isinstance(lo, Tracer) and not isinstance(hi, Tracer):
                flo, fhi = float(np.asarray(lo)), float(np.asarray(hi))
                if flo > fhi:
                    raise ValueError("histogram: max must be larger than min in range "
                                     "parameter.")
                if not (np.isfinite(flo) and np.isfinite(fhi)):
                    raise ValueError(f"histogram: supplied range of [{flo}, {fhi}] is not "
                                     "finite")
        return _uniform_edges(a, lo, hi, bins=nb)
    edges = _arr(bins)
    if edges.ndim != 1:
        raise ValueError(f"histogram: `bins` must be 1d, when an array; got shape "
                         f"{edges.shape}")
    if not isinstance(edges, Tracer) and edges.size > 1 and np.any(np.diff(np.asarray(edges)) < 0):
        raise ValueError("histogram: `bins` must increase monotonically, when an array")
    dt = promote_dtypes_only(edges, np.zeros((), _bins_dtype(a)))[0].dtype
    return _cast(edges, dt)


@functools.partial(_jit, static_argnames=("density",))
def _histogram_kernel(a, edges, weights, density):
    idt = _idt()
    nb = edges.shape[0] - 1
    x = _cast(_ravel(a), edges.dtype)
    idx = lax.sub(_search(edges, x, "right", "scan"), _full(x.shape, 1, idt))
    last = _full(x.shape, lax.reshape(_slice1(edges, nb, nb + 1), ()), edges.dtype)
    first = _full(x.shape, lax.reshape(_slice1(edges, 0, 1), ()), edges.dtype)
    idx = lax.select(lax.eq(x, last), _full(x.shape, nb - 1, idt), idx)
    valid = lax.bitwise_and(lax.ge(x, first), lax.le(x, last))
    idx = lax.select(valid, idx, _full(x.shape, nb, idt))
    if weights is None:
        w, dt = _full(x.shape, 1, idt), idt
    else:
        dt = weights.dtype
        w = _ravel(weights)
    counts = _scatter_rows(_full((nb,), 0, dt), idx, w, "add")
    if not density:
        return counts
    fdt = dt if dtypes.is_inexact(dt) else edges.dtype
    c = _cast(counts, fdt)
    widths = _cast(lax.sub(_slice1(edges, 1, nb + 1), _slice1(edges, 0, nb)), fdt)
    total = lax.reduce_sum(c, (0,))
    return lax.div(lax.div(c, widths), _full((nb,), total, fdt))


def histogram(a, bins=10, range=None, weights=None, density: bool | None = None):
    """(counts, bin_edges) of the values of ``a`` (NumPy's histogram): each bin holds
    ``edges[i] <= x < edges[i+1]``, the last also its right edge; values outside are ignored.

    ``bins``: the number of equal bins over ``range`` (default: min to max of ``a``), or the
    array of edges. Counts are integers (sums of ``weights`` when given); ``density``
    normalizes them to a probability density."""
    a = _arr(a)
    edges = histogram_bin_edges(a, bins, range)
    if weights is not None:
        weights = _arr(weights)
        if weights.shape != a.shape:
            raise ValueError(f"histogram: weights of shape {weights.shape} must have the shape "
                             f"of a {a.shape}")
        if weights.weak_type:
            weights = lax.convert_element_type(weights, weights.dtype, False)
    return _histogram_kernel(a, edges, weights, density=bool(density)), edges


# ---------------------------------------------------------------------------------------------
# diff, ediff1d


@functools.partial(_jit, static_argnames=("n", "axis"))
def _diff_kernel(a, n, axis):
    for _ in range(n):
        m = a.shape[axis]
        if m == 0:
            break
        hi, lo = _slice1(a, 1, m, axis), _slice1(a, 0, m - 1, axis)
        a = lax.ne(hi, lo) if a.dtype == dtypes.bool_ else lax.sub(hi, lo)
    return a


def _edge(x, like, axis):
    x = _arr(x)
    if x.ndim == 0:
        shape = like.shape[:axis] + (1,) + like.shape[axis + 1:]
        return lax.broadcast_in_dim(x, shape, ())
    return x


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (``not_equal`` for booleans), after
    adding ``prepend`` / ``append`` (scalars are broadcast) at the ends."""
    a = _arr(a)
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    if a.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis("diff", axis, a.ndim)
    if n == 0:
        return a
    if prepend is not None or append is not None:
        parts = ([_edge(prepend, a, axis)] if prepend is not None else []) + [a] + (
            [_edge(append, a, axis)] if append is not None else [])
        parts = [_arr(p) for p in promote_dtypes_only(*parts)]
        for p in parts:
            if p.ndim != a.ndim:
                raise ValueError(f"diff: prepend/append must be scalars or have {a.ndim} "
                                 f"dimensions, got shape {p.shape}")
        a = lax.concatenate(parts, axis)
    return _diff_kernel(a, n=n, axis=axis)


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences between consecutive elements of the flattened ``ary``, with ``to_begin``
    and ``to_end`` (cast to ``ary``'s dtype) added at the ends."""
    a = _ravel(_arr(ary))
    if a.dtype == dtypes.bool_:
        raise TypeError("ediff1d: boolean subtract is not supported; use diff (not_equal) or "
                        "cast to int first")
    parts = []
    for name, v in (("to_begin", to_begin), ("to_end", to_end)):
        if v is None:
            parts.append(None)
            continue
        v = _arr(v)
        if not v.weak_type and not np.can_cast(v.dtype, a.dtype, "same_kind"):
            raise TypeError(f"ediff1d: dtype of `{name}` ({v.dtype.name}) must be compatible "
                            f"with input `ary` ({a.dtype.name}) under the `same_kind` rule.")
        parts.append(_cast(_ravel(v) if v.ndim else lax.reshape(v, (1,)), a.dtype))
    d = _diff_kernel(a, n=1, axis=0)
    pieces = [p for p in (parts[0], d, parts[1]) if p is not None]
    return pieces[0] if len(pieces) == 1 else lax.concatenate(pieces, 0)


# ---------------------------------------------------------------------------------------------
# convolve, correlate


def _conv(fname, a, v, mode, precision, preferred_element_type):
    a, v = _arr(a), _arr(v)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"{fname}: only 1-d inputs are supported, got shapes {a.shape} and "
                         f"{v.shape}")
    if a.shape[0] == 0 or v.shape[0] == 0:
        raise ValueError(f"{fname}: inputs cannot be empty, got shapes {a.shape} and "
                         f"{v.shape}")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{fname}: mode must be one of 'full', 'same' or 'valid', got "
                         f"{mode!r}")
    a, v = (_arr(x) for x in promote_dtypes_only(a, v))
    return _conv_kernel(a, v, op=fname, mode=mode, precision=precision,
                        preferred_element_type=None if preferred_element_type is None
                        else dtypes.canonicalize_dtype(preferred_element_type))


@functools.partial(_jit, static_argnames=("op", "mode", "precision", "preferred_element_type"))
def _conv_kernel(x, y, op, mode, precision, preferred_element_type):
    is_bool = x.dtype == dtypes.bool_
    if is_bool:
        x, y = _cast(x, dtypes.int32), _cast(y, dtypes.int32)
    flip = False
    if op == "correlate":
        if dtypes.is_complex(y.dtype):
            y = lax.conj(y)
        if x.shape[0] < y.shape[0]:
            x, y, flip = y, x, True
    else:
        if x.shape[0] < y.shape[0]:
            x, y = y, x
        y = lax.rev(y, (0,))
    m = y.shape[0]
    pad = {"valid": (0, 0), "same": (m // 2, m - m // 2 - 1), "full": (m - 1, m - 1)}[mode]
    out = lax.conv_general_dilated(lax.reshape(x, (1, 1, x.shape[0])),
                                   lax.reshape(y, (1, 1, m)), (1,), [pad],
                                   precision=precision,
                                   preferred_element_type=preferred_element_type)
    out = lax.reshape(out, (out.shape[-1],))
    if flip:
        out = lax.rev(out, (0,))
        if op == "correlate" and dtypes.is_complex(out.dtype):
            out = lax.conj(out)
    if is_bool:
        out = lax.ne(out, _full(out.shape, 0, out.dtype))
    return out


def convolve(a, v, mode: str = "full", *, precision=None, preferred_element_type=None):
    """The discrete linear convolution of the 1-d ``a`` and ``v`` (modes 'full', 'same',
    'valid', as NumPy's)."""
    return _conv("convolve", a, v, mode, precision, preferred_element_type)


def correlate(a, v, mode: str = "valid", *, precision=None, preferred_element_type=None):
    """The cross-correlation ``c[k] = sum_n a[n+k] * conj(v[n])`` of the 1-d ``a`` and ``v``
    (modes 'valid' (default), 'same', 'full', as NumPy's)."""
    return _conv("correlate", a, v, mode, precision, preferred_element_type)


# ---------------------------------------------------------------------------------------------
# interp, polyval


@functools.partial(_jit, static_argnames=("has_period",))
def _interp_kernel(x, xp, fp, left, right, period, has_period):
    dt = x.dtype
    if has_period:
        p = lax.abs(_full((), period, dt))
        x = _ufuncs.remainder(x, p)
        xp = _ufuncs.remainder(xp, _full(xp.shape, p, dt))
        xp, fp = lax.sort_key_val(xp, fp, 0)
        n = xp.shape[0]
        xp = lax.concatenate([lax.sub(_slice1(xp, n - 1, n), lax.reshape(p, (1,))), xp,
                              lax.add(_slice1(xp, 0, 1), lax.reshape(p, (1,)))], 0)
        fp = lax.concatenate([_slice1(fp, n - 1, n), fp, _slice1(fp, 0, 1)], 0)
    n = xp.shape[0]
    if n == 1:
        f = _full(x.shape, lax.reshape(fp, ()), fp.dtype)
    else:
        i = _search(xp, x, "right", "scan")
        i = lax.clamp(np.asarray(1, i.dtype)[()], i, np.asarray(n - 1, i.dtype)[()])
        im = lax.sub(i, _full(i.shape, 1, i.dtype))
        x0, x1 = _gather_rows(xp, im), _gather_rows(xp, i)
        f0, f1 = _gather_rows(fp, im), _gather_rows(fp, i)
        dx = lax.sub(x1, x0)
        delta = lax.sub(x, x0)
        tiny = lax.le(lax.abs(dx), _full(dx.shape, 0, dt))
        slope = lax.div(lax.sub(f1, f0),
                        _cast(lax.select(tiny, _full(dx.shape, 1, dt), dx), fp.dtype))
        f = lax.select(tiny, f0, lax.add(f0, lax.mul(slope, _cast(delta, fp.dtype))))
    if not has_period:
        lo = _full(x.shape, lax.reshape(_slice1(fp, 0, 1), ()), fp.dtype) if left is None \
            else _cast(left, fp.dtype)
        hi = _full(x.shape, lax.reshape(_slice1(fp, n - 1, n), ()), fp.dtype) \
            if right is None else _cast(right, fp.dtype)
        if lo.shape != x.shape:
            lo = lax.broadcast_in_dim(lo, x.shape, tuple(range(x.ndim - lo.ndim, x.ndim)))
        if hi.shape != x.shape:
            hi = lax.broadcast_in_dim(hi, x.shape, tuple(range(x.ndim - hi.ndim, x.ndim)))
        f = lax.select(_lt(x, _full(x.shape, lax.reshape(_slice1(xp, 0, 1), ()), dt)), lo, f)
        f = lax.select(lax.gt(x, _full(x.shape, lax.reshape(_slice1(xp, n - 1, n), ()), dt)),
                       hi, f)
    return f


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points (``xp``, ``fp``) at ``x`` (NumPy's interp):
    ``xp`` increasing (unless ``period`` is given); ``left``/``right`` (default ``fp[0]`` /
    ``fp[-1]``) for ``x`` outside; ``period`` for periodic ``x``."""
    xp_, fp_ = _arr(xp), _arr(fp)
    if xp_.ndim != 1 or fp_.ndim != 1:
        raise ValueError(f"interp: xp and fp must be 1-d, got shapes {xp_.shape} and "
                         f"{fp_.shape}")
    if xp_.shape != fp_.shape:
        raise ValueError(f"interp: fp and xp are not of the same length ({fp_.shape[0]} and "
                         f"{xp_.shape[0]})")
    if xp_.shape[0] == 0:
        raise ValueError("interp: array of sample points is empty")
    if period is not None and not isinstance(period, Tracer) and float(np.asarray(period)) == 0:
        raise ValueError("interp: period must be a non-zero value")
    if isinstance(left, str) or isinstance(right, str):
        raise NotImplementedError("interp: string left/right ('extrapolate') is not supported")
    x, xp_ = (_arr(v) for v in promote_dtypes_only(_arr(x), xp_))
    dt = x.dtype if dtypes.is_inexact(x.dtype) else dtypes.default_float()
    if dtypes.is_complex(dt):
        raise TypeError("interp: x and xp must be real")
    fdt = dtypes.canonicalize_dtype(
        dtypes.promote_types(fp_.dtype, dt) if dtypes.is_inexact(fp_.dtype) else dt)
    x, xp_, fp_ = _cast(x, dt), _cast(xp_, dt), _cast(fp_, fdt)
    left = None if left is None or period is not None else _cast(_arr(left), fdt)
    right = None if right is None or period is not None else _cast(_arr(right), fdt)
    per = None if period is None else _cast(_arr(period), dt)
    return _interp_kernel(x, xp_, fp_, left, right, per, has_period=period is not None)


@functools.partial(_jit, static_argnames=("unroll",))
def _polyval_kernel(p, x, unroll):
    n = p.shape[0]
    y = _full(x.shape, 0, x.dtype)
    if n <= unroll:
        for i in range(n):
            c = lax.reshape(_slice1(p, i, i + 1), ())
            y = lax.add(lax.mul(y, x), _full(x.shape, c, x.dtype))
        return y

    def body(i, y):
        c = lax.reshape(lax.dynamic_slice(p, [i], [1]), ())
        return lax.add(lax.mul(y, x), _full(x.shape, c, x.dtype))
    return lax.fori_loop(0, n, body, y)


def polyval(p, x, *, unroll: int = 16):
    """The polynomial with coefficients ``p`` (highest degree first) at ``x`` (Horner)."""
    p = _arr(p)
    if p.ndim != 1:
        raise ValueError(f"polyval: p must be 1-d, got shape {p.shape}")
    p, x = (_arr(v) for v in promote_dtypes_only(p, x))
    if x.weak_type:
        x = lax.convert_element_type(x, x.dtype, False)
    return _polyval_kernel(_cast(p, x.dtype), x, unroll=operator.index(unroll))


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
if "count_nonzero" in getattr(_reductions, "__all__", ()):  # reductions has its own
    __all__.remove("count_nonzero")

_ = (Array, get_aval, Sequence)
