"""Indexing by position, sorting, searching, counting and set operations.

take / take_along_axis / put_along_axis, sort / argsort / lexsort / partition, searchsorted /
digitize, nonzero / argwhere / flatnonzero / where(c) / extract / compress, unique and the 1-D
set operations, isin, bincount, histogram, diff / ediff1d, convolve / correlate, interp,
polyval.

Each function checks its arguments, then runs one kernel: a jit-compiled function cached on
shapes and static arguments when called eagerly, traced inline when called under a
transformation. So an eager call costs one compilation per new shape, not one per operation.

Functions whose output size depends on the values (nonzero, argwhere, flatnonzero, where(c),
extract, compress, unique, the set operations, bincount) work eagerly on concrete arrays;
while tracing (under ``xtrace.jit`` or inside lax control flow) they need a static ``size=``
(``length=`` for bincount): the result then has exactly that size, truncated or padded with
``fill_value``, as in JAX. Eagerly, the kernel computes the result at its largest possible
size and the result is cut to the size found.

Floats sort like NumPy: every NaN sorts last, and -0.0 equals 0.0.
"""
from __future__ import annotations

import builtins
import functools
import operator
from typing import Any

import numpy as np

from xtrace._src import core as _core
from xtrace._src import dtypes, lax
from xtrace._src.array import from_numpy
from xtrace._src.core import ConcretizationError, Tracer, get_aval
from xtrace._src.jit import jit as _jit
from xtrace._src.numpy import reductions as _reductions
from xtrace._src.numpy import ufuncs as _ufuncs
from xtrace._src.numpy.core import _is_array, asarray, promote_dtypes_only
from xtrace._src.prims.indexing import GatherDimensionNumbers, ScatterDimensionNumbers
from xtrace._src.tree_util import tree_flatten, tree_unflatten

_AxisError = np.exceptions.AxisError


# ---------------------------------------------------------------------------------------------
# Kernels and argument checking


def _kernel(*static: str):
    """Decorator: run ``fun`` as one jit-compiled program when called eagerly (static
    arguments by keyword), or trace it inline while another transformation is tracing."""
    def deco(fun):
        jitted = _jit(fun, static_argnames=static)

        @functools.wraps(fun)
        def call(*args, **params):
            if _core._state.dynamic_level > 0:
                leaves, tree = tree_flatten(args)
                leaves = [x if _is_array(x) else asarray(x) for x in leaves]
                return fun(*tree_unflatten(tree, leaves), **params)
            return jitted(*args, **params)
        return call
    return deco


def _aval(x) -> Any:
    """The abstract value of an argument (lists and tuples as NumPy would see them)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
        if x.dtype == object:
            raise TypeError("xtrace cannot make an array from a ragged or object sequence")
        if x.size == 0 and x.dtype == np.float64:
            x = x.astype(dtypes.default_float())
    try:
        av = get_aval(x)
    except TypeError:
        raise TypeError(f"expected an array, got {type(x).__name__} {x!r:.60}") from None
    return av


def _arg(x) -> Any:
    """An argument as something a kernel accepts: arrays and scalars pass, sequences become
    NumPy arrays."""
    if _is_array(x) or isinstance(x, (np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        return x
    av = _aval(x)
    return np.asarray(x).astype(av.dtype) if isinstance(x, (list, tuple)) else asarray(x)


def _axis(fname: str, axis: Any, ndim: int) -> int:
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{fname}: axis must be an integer or None, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise _AxisError(f"{fname}: axis {ax} is out of bounds for array of dimension {ndim}")
    return ax % ndim


def _traced(*xs) -> bool:
    return _core._state.dynamic_level > 0 or builtins.any(isinstance(x, Tracer) for x in xs)


class _SizeError(ConcretizationError):
    """A data-dependent output size was needed while tracing."""

    def __init__(self, msg: str):  # ConcretizationError.__init__ would build another message
        TypeError.__init__(self, msg)


def _need_size(fname: str, arg: str = "size") -> _SizeError:
    what = "the number of bins" if arg == "length" else (
        "the result then has exactly that many entries, truncated or padded with fill_value")
    return _SizeError(
        f"{fname}: the size of the result depends on the values of the input, which are not "
        "known while tracing (inside xtrace.jit, lax control flow or another "
        f"transformation). Pass a static `{arg}=` argument ({what}), or call {fname} outside "
        "the traced function.")


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


def _scalar_arg(fname: str, name: str, v) -> Any:
    if v is not None and np.ndim(v) != 0 and not (_is_array(v) and v.ndim == 0):
        raise ValueError(f"{fname}: {name} must be a scalar, got shape {np.shape(v)}")
    return v


def _host_prefix(x, k: int, axis: int = 0) -> Any:
    """``x`` cut to its first ``k`` entries along ``axis``, eagerly. The cut is made on the
    host: an XLA slice would be compiled anew for every data-dependent ``k``."""
    if x.shape[axis] == k:
        return x
    sl = [builtins.slice(None)] * x.ndim
    sl[axis] = builtins.slice(0, k)
    return from_numpy(np.asarray(x)[tuple(sl)], weak_type=x.weak_type,
                      device=getattr(x, "_device", None))


# ---------------------------------------------------------------------------------------------
# Helpers used inside kernels (all shapes static)


def _idt() -> np.dtype:
    return dtypes.default_int()


def _full(shape, value, dt) -> Any:
    """An array of ``shape`` filled with ``value`` (a Python/NumPy scalar or a 1-element
    array), of dtype ``dt``."""
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
        return asarray(np.asarray(x).astype(dt))
    if x.dtype == dt and not x.weak_type:
        return x
    return lax.convert_element_type(x, dt)


def _ravel(x) -> Any:
    return x if x.ndim == 1 else lax.reshape(x, (x.size,))


def _slice1(x, start: int, stop: int, axis: int = 0) -> Any:
    return lax.slice_in_dim(x, start, stop, 1, axis)


def _elem(x, i: int) -> Any:
    """The 0-d element ``i`` of a 1-d array."""
    return lax.reshape(_slice1(x, i, i + 1), ())


def _bcast(x, shape) -> Any:
    """NumPy broadcasting of ``x`` to ``shape``."""
    if x.shape == tuple(shape):
        return x
    lead = len(shape) - x.ndim
    keep = [i for i, d in enumerate(x.shape) if d == shape[lead + i]]
    if len(keep) != x.ndim:
        x = lax.reshape(x, [x.shape[i] for i in keep])
    return lax.broadcast_in_dim(x, tuple(shape), tuple(lead + i for i in keep))


def _promote(*xs) -> list:
    return [_cast(x, x.dtype) if _is_array(x) else asarray(x)
            for x in promote_dtypes_only(*xs)]


def _isnan(x) -> Any:
    return lax.ne(x, x)


def _truthy(x) -> Any:
    return x if x.dtype == dtypes.bool_ else lax.ne(x, _full(x.shape, 0, x.dtype))


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
    """``x == y``; with ``equal_nan``, NaN equals NaN."""
    if dtypes.is_complex(x.dtype):
        return lax.bitwise_and(_eq(lax.real(x), lax.real(y), equal_nan),
                               _eq(lax.imag(x), lax.imag(y), equal_nan))
    eq = lax.eq(x, y)
    if equal_nan and dtypes.is_float(x.dtype):
        eq = lax.bitwise_or(eq, lax.bitwise_and(_isnan(x), _isnan(y)))
    return eq


def _gather_rows(x, idx) -> Any:
    """``x[idx]`` along axis 0, indices clamped into bounds."""
    if idx.size == 0 or x.shape[0] == 0:
        return _full(idx.shape + x.shape[1:], 0, x.dtype)
    dn = GatherDimensionNumbers(offset_dims=tuple(range(idx.ndim, idx.ndim + x.ndim - 1)),
                                collapsed_slice_dims=(0,), start_index_map=(0,))
    return lax.gather(x, lax.expand_dims(idx, (idx.ndim,)), dn, (1,) + x.shape[1:],
                      mode="clip")


def _scatter_rows(x, idx, upd, op: str = "set") -> Any:
    """``x.at[idx].set(upd)`` (or ``add``) along axis 0; out-of-bounds rows are dropped."""
    if idx.size == 0 or x.shape[0] == 0:
        return x
    dn = ScatterDimensionNumbers(update_window_dims=tuple(range(idx.ndim, upd.ndim)),
                                 inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
    f = lax.scatter if op == "set" else lax.scatter_add
    return f(x, lax.expand_dims(idx, (idx.ndim,)), upd, dn, mode="drop")


def _index_array(idx) -> Any:
    """An integer (or bool) index array as int32, or int64 when it needs 64 bits and x64 is
    on; huge unsigned values stay out of bounds."""
    dt = idx.dtype
    target = dtypes.int64 if (dt.itemsize == 8 and dtypes.x64_enabled()) else dtypes.int32
    if dtypes.is_unsigned(dt) and dt.itemsize >= target.itemsize:
        idx = lax.min(idx, _full(idx.shape, np.iinfo(target).max, dt))
    return _cast(idx, target)


def _check_index_dtype(fname: str, av) -> None:
    if not (dtypes.is_int(av.dtype) or av.dtype == dtypes.bool_):
        raise TypeError(f"{fname}: indices must be integers, got dtype {av.dtype.name}")


def _prepare_index(idx, n: int, mode: str) -> Any:
    """Indices into a dim of size ``n`` >= 1: wrapped ('wrap'), clamped ('clip'), or with
    negatives counted from the end ('fill')."""
    z, nn = _full(idx.shape, 0, idx.dtype), _full(idx.shape, n, idx.dtype)
    if mode == "wrap":
        r = lax.rem(idx, nn)
        return lax.select(lax.lt(r, z), lax.add(r, nn), r)
    if mode == "clip":
        return lax.clamp(np.asarray(0, idx.dtype)[()], idx, np.asarray(n - 1, idx.dtype)[()])
    return lax.select(lax.lt(idx, z), lax.add(idx, nn), idx)


def _in_bounds(idx, n: int) -> Any:
    return lax.bitwise_and(lax.ge(idx, _full(idx.shape, 0, idx.dtype)),
                           lax.lt(idx, _full(idx.shape, n, idx.dtype)))


def _default_fill(dt: np.dtype):
    if dtypes.is_inexact(dt):
        return np.nan
    if dtypes.is_signed_int(dt):
        return int(np.iinfo(dt).min)
    if dtypes.is_unsigned(dt):
        return int(np.iinfo(dt).max)
    return True


# ---------------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis


def _normalize_mode(fname: str, mode: Any) -> str:
    if mode is None or mode in ("fill", "drop"):
        return "fill"
    if mode in ("clip", "wrap"):
        return mode
    if mode == "raise":
        raise NotImplementedError(
            f"{fname}: mode='raise' is not supported (indices are not checked on the device); "
            "use mode='fill' (out-of-bounds indices give fill_value), 'clip' or 'wrap'")
    raise ValueError(f"{fname}: invalid mode {mode!r}; expected 'fill', 'clip' or 'wrap'")


@_kernel("axis", "mode", "unique_indices", "indices_are_sorted")
def _take_kernel(a, idx, fill, axis, mode, unique_indices, indices_are_sorted):
    if axis is None:
        a, axis = _ravel(a), 0
    idx = _index_array(idx)
    n = a.shape[axis]
    out_shape = a.shape[:axis] + idx.shape + a.shape[axis + 1:]
    if n == 0 or 0 in out_shape:
        return _full(out_shape, _default_fill(a.dtype) if fill is None else fill, a.dtype)
    idx = _prepare_index(idx, n, mode)
    offset = tuple(range(axis)) + tuple(range(axis + idx.ndim, len(out_shape)))
    dn = GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=(axis,),
                                start_index_map=(axis,))
    sizes = a.shape[:axis] + (1,) + a.shape[axis + 1:]
    out = lax.gather(a, lax.expand_dims(idx, (idx.ndim,)), dn, sizes, mode="clip",
                     indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
    if mode != "fill":
        return out
    ok = lax.broadcast_in_dim(_in_bounds(idx, n), out_shape,
                              tuple(range(axis, axis + idx.ndim)))
    fv = _default_fill(a.dtype) if fill is None else fill
    return lax.select(ok, out, _full(out_shape, fv, a.dtype))


def take(a, indices, axis: int | None = None, out=None, mode: str | None = None,
         unique_indices: bool = False, indices_are_sorted: bool = False, fill_value=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` when None).

    As in JAX, ``mode`` is 'fill' by default: negative indices count from the end, and
    indices out of bounds give ``fill_value`` (default NaN for inexact types, the minimum of
    signed and the maximum of unsigned integers, True for bool). 'clip' and 'wrap' have
    NumPy's meanings; NumPy's default 'raise' is not supported."""
    if out is not None:
        raise NotImplementedError("take: the out= argument is not supported (xtrace arrays are "
                                  "immutable)")
    mode = _normalize_mode("take", mode)
    av, iv = _aval(a), _aval(indices)
    _check_index_dtype("take", iv)
    if axis is not None:
        if av.ndim == 0:
            raise _AxisError(f"take: axis {axis} is out of bounds for array of dimension 0")
        axis = _axis("take", axis, av.ndim)
    n = av.size if axis is None else av.shape[axis]
    if n == 0 and iv.size and mode != "fill":
        raise IndexError("take: cannot do a non-empty take from an empty axis")
    return _take_kernel(_arg(a), _arg(indices), _scalar_arg("take", "fill_value", fill_value),
                        axis=axis, mode=mode, unique_indices=bool(unique_indices),
                        indices_are_sorted=bool(indices_are_sorted))


def _along_axis_shape(fname, arr_shape, idx_shape, axis):
    """The broadcast index shape of NumPy's take/put_along_axis."""
    nd = len(arr_shape)
    if len(idx_shape) != nd:
        raise ValueError(f"{fname}: indices and arr must have the same number of dimensions; "
                         f"got indices of shape {tuple(idx_shape)} for arr of shape "
                         f"{tuple(arr_shape)}")
    shape = []
    for d in range(nd):
        a, b = arr_shape[d], idx_shape[d]
        if d == axis:
            shape.append(b)
        elif a == b or a == 1 or b == 1:
            shape.append(b if a == 1 else a)
        else:
            raise ValueError(f"{fname}: shape mismatch: indices {tuple(idx_shape)} and arr "
                             f"{tuple(arr_shape)} cannot be broadcast together (dim {d})")
    return tuple(shape)


def _along_axis_coords(arr_shape, idx, shape, axis, mode):
    """Full coordinates (``shape + (ndim,)``) into ``arr`` and the in-bounds mask."""
    nd = len(arr_shape)
    idx = _bcast(idx, shape)
    n = arr_shape[axis]
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
    return coords, _in_bounds(idx, n)


@_kernel("axis", "mode")
def _take_along_axis_kernel(arr, idx, fill, axis, mode):
    if axis is None:
        arr, axis = _ravel(arr), 0
    idx = _index_array(idx)
    shape = _along_axis_shape("take_along_axis", arr.shape, idx.shape, axis)
    fv = _default_fill(arr.dtype) if fill is None else fill
    if 0 in shape or arr.shape[axis] == 0:
        return _full(shape, fv, arr.dtype)
    coords, ok = _along_axis_coords(arr.shape, idx, shape, axis, mode)
    nd = arr.ndim
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=tuple(range(nd)),
                                start_index_map=tuple(range(nd)))
    out = lax.gather(arr, coords, dn, (1,) * nd, mode="clip")
    return lax.select(ok, out, _full(shape, fv, arr.dtype)) if mode == "fill" else out


def take_along_axis(arr, indices, axis: int | None = -1, mode: str | None = None,
                    fill_value=None):
    """``arr`` indexed by ``indices`` along ``axis`` (NumPy's take_along_axis; the other dims
    broadcast). ``mode`` and ``fill_value`` as in :func:`take` (default 'fill')."""
    mode = _normalize_mode("take_along_axis", mode)
    av, iv = _aval(arr), _aval(indices)
    _check_index_dtype("take_along_axis", iv)
    if axis is None:
        if iv.ndim != 1:
            raise ValueError("take_along_axis: when axis=None, indices must be 1-D, got shape "
                             f"{iv.shape}")
        shape, ax = (av.size,), 0
    else:
        if av.ndim == 0:
            raise _AxisError("take_along_axis: arr must have at least one dimension")
        axis = ax = _axis("take_along_axis", axis, av.ndim)
        shape = av.shape
    out_shape = _along_axis_shape("take_along_axis", shape, iv.shape, ax)
    if shape[ax] == 0 and 0 not in out_shape and mode != "fill":
        raise IndexError("take_along_axis: cannot do a non-empty take from an empty axis")
    return _take_along_axis_kernel(_arg(arr), _arg(indices),
                                   _scalar_arg("take_along_axis", "fill_value", fill_value),
                                   axis=axis, mode=mode)


@_kernel("axis", "mode")
def _put_along_axis_kernel(arr, idx, values, axis, mode):
    shape0, weak = arr.shape, arr.weak_type
    if axis is None:
        arr, axis = _ravel(arr), 0
    idx = _index_array(idx)
    shape = _along_axis_shape("put_along_axis", arr.shape, idx.shape, axis)
    if 0 in shape or arr.size == 0:
        return lax.reshape(arr, shape0)
    coords, _ = _along_axis_coords(arr.shape, idx, shape, axis, mode)
    vals = _bcast(_cast(values, arr.dtype), shape)
    nd = arr.ndim
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=tuple(range(nd)),
                                 scatter_dims_to_operand_dims=tuple(range(nd)))
    out = lax.scatter(arr, coords, vals, dn, mode="drop")
    if weak:
        out = lax.convert_element_type(out, arr.dtype, True)
    return lax.reshape(out, shape0) if out.shape != shape0 else out


def put_along_axis(arr, indices, values, axis: int | None, inplace: bool = True, *,
                   mode: str | None = None):
    """A copy of ``arr`` with ``values`` put at ``indices`` along ``axis`` (NumPy's
    put_along_axis, made functional). xtrace arrays are immutable, so as in JAX
    ``inplace=False`` is required and the new array is returned. Negative indices count from
    the end; out-of-bounds ones are dropped ('fill', the default), clamped ('clip') or
    wrapped ('wrap')."""
    if inplace:
        raise ValueError(
            "put_along_axis: xtrace arrays are immutable, so arr cannot be modified in place. "
            "Call put_along_axis(arr, indices, values, axis, inplace=False) and use the array "
            "it returns.")
    mode = _normalize_mode("put_along_axis", mode)
    av, iv, vv = _aval(arr), _aval(indices), _aval(values)
    _check_index_dtype("put_along_axis", iv)
    if axis is None:
        if iv.ndim != 1:
            raise ValueError("put_along_axis: when axis=None, indices must be 1-D, got shape "
                             f"{iv.shape}")
        shape, ax = (av.size,), 0
    else:
        if av.ndim == 0:
            raise _AxisError("put_along_axis: arr must have at least one dimension")
        axis = ax = _axis("put_along_axis", axis, av.ndim)
        shape = av.shape
    ishape = _along_axis_shape("put_along_axis", shape, iv.shape, ax)
    try:
        ok = np.broadcast_shapes(vv.shape, ishape) == ishape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"put_along_axis: values of shape {vv.shape} cannot be broadcast to "
                         f"the index shape {ishape}")
    return _put_along_axis_kernel(_arg(arr), _arg(indices), _arg(values), axis=axis,
                                  mode=mode)


# ---------------------------------------------------------------------------------------------
# Sorting


def _sort_axis(fname, av, axis, order):
    if order is not None:
        raise NotImplementedError(f"{fname}: order= (structured arrays) is not supported")
    if axis is None:
        return None
    if av.ndim == 0:
        raise _AxisError(f"{fname}: axis {axis} is out of bounds for array of dimension 0; "
                         "use axis=None to sort a 0-d array as 1-d")
    return _axis(fname, axis, av.ndim)


@_kernel("axis", "descending", "indices")
def _sort_kernel(a, axis, descending, indices):
    if axis is None:
        a, axis = _ravel(a), 0
    if a.size == 0:
        return _full(a.shape, 0, _idt()) if indices else a
    if not indices:
        if descending:
            return lax.rev(lax.sort(lax.rev(a, (axis,)), axis), (axis,))
        return lax.sort(a, axis)
    it = lax.broadcasted_iota(_idt(), a.shape, axis)
    if descending:  # reverse, stable sort, reverse: equal elements keep their order
        _, perm = lax.sort_key_val(lax.rev(a, (axis,)), lax.rev(it, (axis,)), axis)
        return lax.rev(perm, (axis,))
    return lax.sort_key_val(a, it, axis)[1]


def sort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
         descending: bool = False):
    """``a`` sorted along ``axis`` (flattened when None). Always stable; NaNs sort last
    (first when ``descending``)."""
    axis = _sort_axis("sort", _aval(a), axis, order)
    return _sort_kernel(_arg(a), axis=axis, descending=bool(descending), indices=False)


def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
            descending: bool = False):
    """Indices that sort ``a`` along ``axis`` (always stable; NaNs last). With
    ``descending`` equal elements keep their original order, as in JAX."""
    axis = _sort_axis("argsort", _aval(a), axis, order)
    return _sort_kernel(_arg(a), axis=axis, descending=bool(descending), indices=True)


@_kernel()
def _sort_complex_kernel(a):
    a = _ravel(a) if a.ndim == 0 else a
    if not dtypes.is_complex(a.dtype):
        ct = dtypes.canonicalize_dtype(np.complex128 if a.dtype.itemsize == 8
                                       else np.complex64)
        a = lax.convert_element_type(a, ct)
    return lax.sort(a, a.ndim - 1) if a.size else a


def sort_complex(a):
    """``a`` sorted along its last axis, as complex numbers."""
    return _sort_complex_kernel(_arg(a))


@_kernel("axis", "stacked")
def _lexsort_kernel(keys, axis, stacked):
    if stacked:
        keys = [lax.index_in_dim(keys[0], i, 0, keepdims=False)
                for i in range(keys[0].shape[0])]
    shape = np.broadcast_shapes(*[k.shape for k in keys])
    keys = [_bcast(k, shape) for k in keys]
    if 0 in shape:
        return _full(shape, 0, _idt())
    it = lax.broadcasted_iota(_idt(), shape, axis)
    return lax.sort(list(keys[::-1]) + [it], axis, True, num_keys=len(keys))[-1]


def lexsort(keys, axis: int = -1):
    """Indices sorting by several keys, the last key first (NumPy's lexsort): ``keys`` is a
    sequence of arrays of one shape, or an array whose first dimension runs over the keys."""
    stacked = _is_array(keys) or isinstance(keys, np.ndarray)
    if stacked:
        kv = _aval(keys)
        if kv.ndim < 2:
            raise TypeError("lexsort: keys must be a sequence of arrays or an array of at "
                            "least 2 dimensions")
        if kv.shape[0] == 0:
            raise TypeError("lexsort: need a sequence of keys with length > 0")
        shape, keys = kv.shape[1:], (keys,)
    else:
        keys = tuple(_arg(k) for k in keys)
        if not keys:
            raise TypeError("lexsort: need a sequence of keys with length > 0")
        try:
            shape = np.broadcast_shapes(*[_aval(k).shape for k in keys])
        except ValueError:
            raise ValueError("lexsort: all keys need to be the same shape; got "
                             + ", ".join(str(_aval(k).shape) for k in keys)) from None
    if len(shape) == 0:
        raise _AxisError("lexsort: keys must have at least one dimension")
    return _lexsort_kernel(keys, axis=_axis("lexsort", axis, len(shape)), stacked=stacked)


def _check_kth(fname, kth, n):
    ks = np.atleast_1d(np.asarray(kth))
    if ks.dtype.kind not in "iu":
        raise TypeError(f"{fname}: kth must be an integer or a sequence of integers")
    for k in ks.tolist():
        if not -n <= k < n:
            raise ValueError(f"{fname}: kth(={k}) out of bounds ({n})")


def partition(a, kth, axis: int = -1):
    """``a`` partitioned around ``kth`` along ``axis``: element ``kth`` is where a sort would
    put it, no larger ones before it, no smaller ones after. xtrace returns the sorted array,
    which satisfies this (NumPy leaves the order within each side unspecified)."""
    av = _aval(a)
    axis = _sort_axis("partition", av, axis, None)
    _check_kth("partition", kth, av.shape[axis])
    return sort(a, axis)


def argpartition(a, kth, axis: int = -1):
    """Indices that partition ``a`` around ``kth`` (see :func:`partition`): argsort's."""
    av = _aval(a)
    axis = _sort_axis("argpartition", av, axis, None)
    _check_kth("argpartition", kth, av.shape[axis])
    return argsort(a, axis)


# ---------------------------------------------------------------------------------------------
# searchsorted, digitize


def _search(a, v, side: str, method: str) -> Any:
    """Insertion points (default int) of ``v`` into the sorted 1-D ``a`` (of one dtype)."""
    n = a.shape[0]
    idt = _idt()
    if n == 0 or v.size == 0:
        return _full(v.shape, 0, idt)
    if method == "compare_all":
        ab = lax.broadcast_in_dim(a, v.shape + (n,), (v.ndim,))
        vb = lax.broadcast_in_dim(v, v.shape + (n,), tuple(range(v.ndim)))
        c = _lt(ab, vb) if side == "left" else lax.bitwise_not(_lt(vb, ab))
        return lax.reduce_sum(lax.convert_element_type(c, idt), (v.ndim,))
    one = _full(v.shape, 1, idt)
    last = _full(v.shape, n - 1, idt)

    def step(_, state):
        lo, hi = state
        mid = lax.shift_right_logical(lax.add(lo, hi), one)
        am = _gather_rows(a, lax.min(mid, last))
        right = _lt(am, v) if side == "left" else lax.bitwise_not(_lt(v, am))
        active = lax.lt(lo, hi)
        lo = lax.select(lax.bitwise_and(active, right), lax.add(mid, one), lo)
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


@_kernel("side", "method")
def _searchsorted_kernel(a, v, sorter, side, method):
    a, v = _promote(a, v)
    if sorter is not None:
        a = _gather_rows(a, _index_array(sorter))
    return _dim_int(_search(a, v, side, method), a.shape[0])


def _dim_int(i, n: int) -> Any:
    """``i`` as int32 when indices up to ``n`` fit, as JAX's searchsorted/digitize return."""
    dt = dtypes.int32 if n <= np.iinfo(np.int32).max else _idt()
    return i if i.dtype == dt else _cast(i, dt)


def searchsorted(a, v, side: str = "left", sorter=None, *, method: str = "scan"):
    """Indices where ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted:
    the first such index for ``side='left'``, the last for 'right'. NaNs count as larger than
    everything (NumPy's sort order). ``method``: 'scan' (a binary search loop, the default),
    'scan_unrolled', or 'compare_all' (counts comparisons: fast for a small ``a``)."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if method not in ("scan", "scan_unrolled", "compare_all"):
        raise ValueError(f"searchsorted: method must be 'scan', 'scan_unrolled' or "
                         f"'compare_all', got {method!r}")
    av = _aval(a)
    if av.ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {av.shape}")
    if sorter is not None:
        sv = _aval(sorter)
        _check_index_dtype("searchsorted", sv)
        if sv.shape != av.shape:
            raise ValueError(f"searchsorted: sorter must have the shape of a {av.shape}, got "
                             f"{sv.shape}")
        sorter = _arg(sorter)
    return _searchsorted_kernel(_arg(a), _arg(v), sorter, side=side, method=method)


@_kernel("side")
def _digitize_kernel(bins, x, side):
    bins, x = _promote(bins, x)
    n = bins.shape[0]
    if n == 0:
        return _full(x.shape, 0, dtypes.int32)
    up = _search(bins, x, side, "scan_unrolled")
    down = lax.sub(_full(x.shape, n, up.dtype),
                   _search(lax.rev(bins, (0,)), x, side, "scan_unrolled"))
    dec = _lt(_elem(bins, n - 1), _elem(bins, 0))
    return _dim_int(lax.select(_full(x.shape, dec, dtypes.bool_), down, up), n)


def digitize(x, bins, right: bool = False, *, method: str | None = None):
    """The index of the bin of each ``x`` (NumPy's digitize; ``bins`` increasing or
    decreasing)."""
    bv = _aval(bins)
    if bv.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, got shape {bv.shape}")
    if not isinstance(bins, Tracer) and bv.size > 1:
        d = np.diff(np.asarray(bins).astype(np.float64 if bv.dtype == dtypes.bool_ else None))
        if not (np.all(d >= 0) or np.all(d <= 0)):
            raise ValueError("digitize: bins must be monotonically increasing or decreasing")
    return _digitize_kernel(_arg(bins), _arg(x), side="left" if right else "right")


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


def _flat_nonzero(mask, size: int):
    """(the first ``size`` flat indices of True in the 1-D ``mask``, zero-padded; the
    number of True)."""
    idt = _idt()
    n = mask.shape[0]
    m = lax.convert_element_type(mask, idt)
    count = lax.reduce_sum(m, (0,)) if n else _full((), 0, idt)
    if n == 0:
        return _full((size,), 0, idt), count
    target = lax.select(mask, lax.sub(lax.cumsum(m, 0), _full((n,), 1, idt)),
                        _full((n,), size, idt))
    return _scatter_rows(_full((size,), 0, idt), target, lax.iota(idt, n)), count


@_kernel("size")
def _flat_nonzero_kernel(a, size):
    return _flat_nonzero(_ravel(_truthy(a)), size)


@_kernel("size", "stack", "flatten")
def _nonzero_kernel(a, fills, size, stack, flatten):
    idt = _idt()
    zero_d = a.ndim == 0
    if flatten or zero_d:
        a = _ravel(a)
    flat, count = _flat_nonzero(_ravel(_truthy(a)), size)
    coords = _unravel(flat, a.shape)
    if fills is not None:
        valid = lax.lt(lax.iota(idt, size), _full((size,), count, idt))
        coords = [lax.select(valid, c, _full((size,), f, idt)) for c, f in zip(coords, fills)]
    if stack:
        if zero_d:  # NumPy's argwhere of a 0-d array: shape (N, 0)
            return _full((size, 0), 0, idt), count
        return lax.concatenate([lax.expand_dims(c, (1,)) for c in coords], 1), count
    return tuple(coords), count


def _nonzero(fname, a, size, fill_value, stack=False, flatten=False):
    av = _aval(a)
    a = _arg(a)
    nd = 1 if flatten else builtins.max(av.ndim, 1)
    kw = dict(stack=stack, flatten=flatten)
    if size is None:
        if _traced(a):
            raise _need_size(fname)
        # One kernel for nonzero, argwhere, where and flatnonzero: the flat indices; they
        # are cut to the size found and unraveled on the host.
        flat, count = _flat_nonzero_kernel(a, size=av.size)
        flat = np.asarray(flat)[:int(count)]
        shape = (av.size,) if flatten else (av.shape or (1,))
        coords = np.unravel_index(flat, shape) if flat.size else [flat] * len(shape)
        dev = getattr(a, "_device", None)
        if stack:
            res = np.stack(coords, 1) if av.ndim else np.zeros((flat.size, 0), flat.dtype)
            return from_numpy(res, device=dev)
        return tuple(from_numpy(c.astype(flat.dtype), device=dev) for c in coords)
    size = _static_size(fname, size)
    if fill_value is None:
        fills = None
    elif isinstance(fill_value, (tuple, list)):
        if len(fill_value) != nd:
            raise ValueError(f"{fname}: fill_value must be a scalar or a tuple of length {nd} "
                             f"(one per dimension), got length {len(fill_value)}")
        fills = tuple(_scalar_arg(fname, "fill_value", f) for f in fill_value)
    else:
        fills = (_scalar_arg(fname, "fill_value", fill_value),) * nd
    return _nonzero_kernel(a, fills, size=size, **kw)[0]


def nonzero(a, *, size: int | None = None, fill_value=None) -> tuple:
    """Indices of the nonzero elements of ``a``, one array per dimension.

    Their number depends on the values: eagerly it is found; while tracing (under jit) pass
    a static ``size``: the first ``size`` indices are returned, padded with ``fill_value``
    (default 0; a scalar, or one per dimension)."""
    if _aval(a).ndim == 0:
        raise ValueError("nonzero: calling nonzero on 0-d arrays is not allowed; use "
                         "atleast_1d(a) or argwhere(a)")
    return _nonzero("nonzero", a, size, fill_value)


def flatnonzero(a, *, size: int | None = None, fill_value=None):
    """Indices of the nonzero elements of the flattened ``a`` (``size`` and ``fill_value`` as
    in :func:`nonzero`)."""
    return _nonzero("flatnonzero", a, size, fill_value, flatten=True)[0]


def argwhere(a, *, size: int | None = None, fill_value=None):
    """Indices of the nonzero elements of ``a`` as an array of shape (N, a.ndim) (``size``
    and ``fill_value`` as in :func:`nonzero`)."""
    return _nonzero("argwhere", a, size, fill_value, stack=True)


def where(condition, x=None, y=None, /, *, size: int | None = None, fill_value=None):
    """``x`` where ``condition`` else ``y`` (broadcast together). With only ``condition``,
    the same as ``nonzero(condition, size=size, fill_value=fill_value)``."""
    if x is None and y is None:
        if _aval(condition).ndim == 0:
            raise ValueError("where: calling where(condition) on a 0-d condition is not "
                             "allowed; use atleast_1d(condition)")
        return _nonzero("where", condition, size, fill_value)
    return _ufuncs.where(condition, x, y, size=size, fill_value=fill_value)


@_kernel("axis", "size")
def _compress_kernel(c, a, fill, axis, size):
    if axis is None:
        a, axis = _ravel(a), 0
    c = _truthy(_ravel(c))
    n = a.shape[axis]
    if c.shape[0] < n:
        c = lax.concatenate([c, _full((n - c.shape[0],), False, dtypes.bool_)], 0)
    idx, count = _flat_nonzero(c, size)
    out_shape = a.shape[:axis] + (size,) + a.shape[axis + 1:]
    if n == 0 or 0 in out_shape:
        return _full(out_shape, 0 if fill is None else fill, a.dtype), count
    dn = GatherDimensionNumbers(offset_dims=tuple(range(axis)) + tuple(
        range(axis + 1, a.ndim)), collapsed_slice_dims=(axis,), start_index_map=(axis,))
    out = lax.gather(a, lax.expand_dims(idx, (1,)), dn,
                     a.shape[:axis] + (1,) + a.shape[axis + 1:], mode="clip")
    if fill is not None:
        valid = lax.lt(lax.iota(_idt(), size), _full((size,), count, _idt()))
        out = lax.select(lax.broadcast_in_dim(valid, out_shape, (axis,)), out,
                         _full(out_shape, fill, a.dtype))
    return out, count


def compress(condition, a, axis: int | None = None, *, size: int | None = None,
             fill_value=0, out=None):
    """The slices of ``a`` along ``axis`` (of the flattened ``a`` when None) where the 1-D
    ``condition`` is true; a shorter ``condition`` counts as False for the rest. Under jit
    pass ``size``; padding slices hold ``fill_value``."""
    return _compress("compress", condition, a, axis, size, fill_value, out)


def extract(condition, arr, *, size: int | None = None, fill_value=0):
    """The elements of the flattened ``arr`` where the flattened ``condition`` is nonzero
    (NumPy's extract). Under jit pass ``size`` (padding with ``fill_value``)."""
    return _compress("extract", condition, arr, None, size, fill_value, None)


def _compress(fname, condition, a, axis, size, fill_value, out):
    if out is not None:
        raise NotImplementedError(f"{fname}: the out= argument is not supported")
    cv, av = _aval(condition), _aval(a)
    if fname == "compress" and cv.ndim != 1:
        raise ValueError(f"{fname}: condition must be a 1-d array, got shape {cv.shape}")
    if axis is not None:
        axis = _axis(fname, axis, builtins.max(av.ndim, 1))
        if av.ndim == 0:
            axis = None
    n = av.size if axis is None else av.shape[axis]
    if cv.size > n:
        raise ValueError(f"{fname}: condition of length {cv.size} is longer than the "
                         f"{'array' if axis is None else f'axis {axis}'} of size {n}")
    c, a = _arg(condition), _arg(a)
    if size is None:
        if _traced(c):
            raise _need_size(fname)
        res, count = _compress_kernel(c, a, None, axis=axis, size=n)
        return _host_prefix(res, int(count), 0 if axis is None else axis)
    size = _static_size(fname, size)
    return _compress_kernel(c, a, _scalar_arg(fname, "fill_value", fill_value), axis=axis,
                            size=size)[0]


@_kernel("axes", "keepdims")
def _count_nonzero_kernel(a, axes, keepdims):
    res = lax.reduce_sum(lax.convert_element_type(_truthy(a), _idt()), axes)
    if keepdims:
        res = lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)])
    return res


def count_nonzero(a, axis=None, keepdims: bool = False):
    """The number of nonzero elements of ``a`` (over ``axis``)."""
    nd = _aval(a).ndim
    axes = tuple(range(nd)) if axis is None else tuple(sorted(
        {_axis("count_nonzero", ax, nd)
         for ax in (axis if isinstance(axis, (tuple, list)) else (axis,))}))
    return _count_nonzero_kernel(_arg(a), axes=axes, keepdims=bool(keepdims))


# ---------------------------------------------------------------------------------------------
# unique and the set operations


def _sorted_flat(a):
    """(sorted values, stable permutation) of the flattened ``a`` (size >= 1)."""
    flat = _ravel(a)
    return lax.sort_key_val(flat, lax.iota(_idt(), flat.shape[0]), 0)


def _new_mask(s, equal_nan: bool):
    """True where the sorted 1-D ``s`` starts a new value."""
    n = s.shape[0]
    head = _full((1,), True, dtypes.bool_)
    if n <= 1:
        return _full((n,), True, dtypes.bool_)
    same = _eq(_slice1(s, 1, n), _slice1(s, 0, n - 1), equal_nan)
    return lax.concatenate([head, lax.bitwise_not(same)], 0)


def _group_outputs(s_rows, perm, new, size, fill, want, rows_shape):
    """unique's outputs from sorted rows ``s_rows`` (m, ...), their permutation and the
    new-value mask; and the number of unique values."""
    idt = _idt()
    m = perm.shape[0]
    gid = lax.sub(lax.cumsum(lax.convert_element_type(new, idt), 0), _full((m,), 1, idt))
    count = lax.add(_elem(gid, m - 1), np.asarray(1, idt)[()])
    target = lax.select(new, gid, _full((m,), size, idt))
    if fill is None:  # pad with the smallest value (the first row), as JAX
        init = lax.broadcast_in_dim(_slice1(s_rows, 0, 1), (size,) + rows_shape,
                                    tuple(range(1 + len(rows_shape))))
    else:
        init = _full((size,) + rows_shape, fill, s_rows.dtype)
    outs = [_scatter_rows(init, target, s_rows)]
    if "index" in want:
        outs.append(_scatter_rows(_full((size,), _slice1(perm, 0, 1), idt), target, perm))
    if "inverse" in want:
        outs.append(_scatter_rows(_full((m,), 0, idt), perm, gid))
    if "counts" in want:
        outs.append(_scatter_rows(_full((size,), 0, idt), gid, _full((m,), 1, idt), "add"))
    return outs, count


@_kernel("axis", "size", "equal_nan", "want")
def _unique_kernel(a, fill, axis, size, equal_nan, want):
    if axis is None:
        s, perm = _sorted_flat(a)
        outs, count = _group_outputs(s, perm, _new_mask(s, equal_nan), size, fill, want, ())
        if "inverse" in want:
            i = want.index("inverse") + 1
            outs[i] = lax.reshape(outs[i], a.shape)
        return outs, count
    # unique slices along axis: sort the rows of (m, r) lexicographically
    rest = a.shape[:axis] + a.shape[axis + 1:]
    m = a.shape[axis]
    x = lax.transpose(a, (axis,) + tuple(d for d in range(a.ndim) if d != axis))
    x = lax.reshape(x, (m, int(np.prod(rest, dtype=np.int64))))
    r = x.shape[1]
    it = lax.iota(_idt(), m)
    cols = [lax.index_in_dim(x, j, 1, keepdims=False) for j in range(r)]
    if r:
        srt = lax.sort(cols + [it], 0, True, num_keys=r)
        s_cols, perm = list(srt[:-1]), srt[-1]
    else:
        s_cols, perm = [], it
    diff = _full((m - 1,), False, dtypes.bool_)
    for c in s_cols:  # NaN rows stay distinct, as in NumPy
        diff = lax.bitwise_or(diff, lax.bitwise_not(
            _eq(_slice1(c, 1, m), _slice1(c, 0, m - 1), False)))
    new = lax.concatenate([_full((1,), True, dtypes.bool_), diff], 0)
    rows = (lax.concatenate([lax.expand_dims(c, (1,)) for c in s_cols], 1) if r
            else _full((m, 0), 0, x.dtype))
    outs, count = _group_outputs(rows, perm, new, size, fill, want, (r,))
    v = lax.reshape(outs[0], (size,) + rest)
    if axis:
        v = lax.transpose(v, tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, a.ndim)))
    outs[0] = v
    return outs, count


def unique(ar, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value=None, sorted: bool = True):
    """The sorted unique elements of ``ar`` (NumPy's unique), and optionally the index of
    the first occurrence of each, the inverse (indices rebuilding ``ar``; shaped like ``ar``
    when ``axis`` is None) and the counts. NaNs sort last and, with ``equal_nan``, count as
    one value. With ``axis``, the unique slices along it (sorted lexicographically).

    The number of unique values depends on the data: eagerly it is found; while tracing
    pass a static ``size``: the result then has ``size`` entries, padded with ``fill_value``
    (default: the smallest unique value; indices are padded with its index, counts with 0)."""
    av = _aval(ar)
    want = tuple(n for n, f in (("index", return_index), ("inverse", return_inverse),
                                ("counts", return_counts)) if f)
    if axis is not None:
        if av.ndim == 0:
            raise _AxisError(f"unique: axis {axis} is out of bounds for array of dimension 0")
        axis = _axis("unique", axis, av.ndim)
    n = av.size if axis is None else av.shape[axis]
    if size is not None:
        size = _static_size("unique", size)
    elif _traced(ar):
        raise _need_size("unique")
    fill = _scalar_arg("unique", "fill_value", fill_value)
    if n == 0:
        k = 0 if size is None else size
        shape = (k,) if axis is None else av.shape[:axis] + (k,) + av.shape[axis + 1:]
        outs = [asarray(np.full(shape, 0 if fill is None else fill, av.dtype))]
        idt = _idt()
        outs += [asarray(np.zeros(av.shape if (w == "inverse" and axis is None) else
                                  ((n,) if w == "inverse" else (k,)), idt)) for w in want]
        return outs[0] if len(outs) == 1 else tuple(outs)
    a = _arg(ar)
    # Eagerly, compute every output (one compilation serves all the flag combinations).
    kwant = want if _traced(a) else ("index", "inverse", "counts")
    outs, count = _unique_kernel(a, fill, axis=axis, size=n if size is None else size,
                                 equal_nan=bool(equal_nan), want=kwant)
    named = dict(zip(("values",) + kwant, outs))
    outs = [named[w] for w in ("values",) + want]
    if size is None:
        k = int(count)
        outs = [o if w == "inverse" else _host_prefix(o, k, axis if (w == "values" and axis)
                                                      else 0)
                for w, o in zip(("values",) + want, outs)]
    return outs[0] if len(outs) == 1 else tuple(outs)


def unique_values(x, /, *, size: int | None = None, fill_value=None):
    """The sorted unique values of the flattened ``x`` (array API: NaNs stay distinct)."""
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size: int | None = None, fill_value=None):
    """(values, counts) of the flattened ``x`` (array API: NaNs stay distinct)."""
    return unique(x, return_counts=True, equal_nan=False, size=size, fill_value=fill_value)


def unique_inverse(x, /, *, size: int | None = None, fill_value=None):
    """(values, inverse_indices) of ``x``; the inverse has the shape of ``x`` (array API:
    NaNs stay distinct)."""
    return unique(x, return_inverse=True, equal_nan=False, size=size, fill_value=fill_value)


def unique_all(x, /, *, size: int | None = None, fill_value=None):
    """(values, indices, inverse_indices, counts) of ``x`` (array API: NaNs stay
    distinct)."""
    return unique(x, True, True, True, equal_nan=False, size=size, fill_value=fill_value)


def _isin_flat(e, t, method: str):
    """Whether each of ``e`` (any shape) is in the 1-D ``t`` (one dtype, not bool)."""
    if t.shape[0] == 0 or e.size == 0:
        return _full(e.shape, False, dtypes.bool_)
    if method == "auto":
        method = "compare_all" if e.size * t.shape[0] <= (1 << 16) else "sort"
    if method == "compare_all":
        eb = lax.broadcast_in_dim(e, e.shape + t.shape, tuple(range(e.ndim)))
        tb = lax.broadcast_in_dim(t, e.shape + t.shape, (e.ndim,))
        return lax.reduce_or(lax.eq(eb, tb), (e.ndim,))
    st = lax.sort(t, 0)
    i = _search(st, e, "left", "scan_unrolled")
    return lax.eq(_gather_rows(st, i), e)


def _cmp_dtype(x):
    return _cast(x, dtypes.int32) if x.dtype == dtypes.bool_ else x


@_kernel("invert", "method")
def _isin_kernel(e, t, invert, method):
    e, t = _promote(e, t)
    r = _isin_flat(_cmp_dtype(e), _ravel(_cmp_dtype(t)), method)
    return lax.bitwise_not(r) if invert else r


def isin(element, test_elements, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto"):
    """Whether each element of ``element`` is in ``test_elements`` (shaped like
    ``element``). ``method``: 'compare_all', 'sort' or 'auto' (by size). NaN is never
    found."""
    if method not in ("auto", "compare_all", "sort"):
        raise ValueError(f"isin: method must be 'auto', 'compare_all' or 'sort', got {method!r}")
    return _isin_kernel(_arg(element), _arg(test_elements), invert=bool(invert),
                        method=method)


def _compact(vals, mask, size: int, fill):
    """(the ``vals`` where ``mask``, in order, in an array of ``size`` padded with ``fill``
    (default: the first value selected); their number)."""
    idt = _idt()
    n = vals.shape[0]
    m = lax.convert_element_type(mask, idt)
    count = lax.reduce_sum(m, (0,)) if n else _full((), 0, idt)
    out = _full((size,), 0, vals.dtype)
    if n:
        target = lax.select(mask, lax.sub(lax.cumsum(m, 0), _full((n,), 1, idt)),
                            _full((n,), size, idt))
        out = _scatter_rows(out, target, vals)
    if size:
        valid = lax.lt(lax.iota(idt, size), _full((size,), count, idt))
        fv = _slice1(out, 0, 1) if fill is None else fill
        out = lax.select(valid, out, _full((size,), fv, vals.dtype))
    return out, count


def _sorted_unique(x):
    """(sorted values, permutation, first-of-a-value mask) of the flattened ``x``."""
    if x.size == 0:
        return x, _full((0,), 0, _idt()), _full((0,), False, dtypes.bool_)
    s, perm = _sorted_flat(x)
    return s, perm, _new_mask(s, True)


@_kernel("op", "size", "assume_unique", "return_indices")
def _setop_kernel(a, b, fill, op, size, assume_unique, return_indices):
    a_dtype = a.dtype  # (setdiff1d's values come from ar1 and keep its dtype, as JAX's)
    a, b = (_ravel(v) for v in _promote(a, b))
    if fill is not None:
        fill = _cast(fill, a.dtype)
    if op == "union1d":
        s, _, new = _sorted_unique(lax.concatenate([a, b], 0))
        return _compact(s, new, size, fill)
    ac, bc = _cmp_dtype(a), _cmp_dtype(b)
    if op == "setdiff1d" and assume_unique:
        vals, count = _compact(a, lax.bitwise_not(_isin_flat(ac, bc, "auto")), size, fill)
        return _cast(vals, a_dtype), count
    sa, perm_a, new_a = _sorted_unique(a)
    sac = _cmp_dtype(sa)
    if op == "intersect1d":
        mask = lax.bitwise_and(new_a, _isin_flat(sac, bc, "auto"))
        vals, count = _compact(sa, mask, size, fill)
        if not return_indices:
            return vals, count
        ia, _ = _compact(perm_a, mask, size, None)
        sb, perm_b, _ = _sorted_unique(b)
        ib_all = _gather_rows(perm_b, _search(_cmp_dtype(sb), sac, "left", "scan_unrolled"))
        ib, _ = _compact(ib_all, mask, size, None)
        return (vals, ia, ib), count
    if op == "setdiff1d":
        vals, count = _compact(sa, lax.bitwise_and(new_a, lax.bitwise_not(
            _isin_flat(sac, bc, "auto"))), size, fill)
        return _cast(vals, a_dtype), count
    # setxor1d: the values in exactly one input, sorted
    sb, _, new_b = _sorted_unique(b)
    ma = lax.bitwise_and(new_a, lax.bitwise_not(_isin_flat(sac, bc, "auto")))
    mb = lax.bitwise_and(new_b, lax.bitwise_not(_isin_flat(_cmp_dtype(sb), ac, "auto")))
    vals, mask = lax.concatenate([sa, sb], 0), lax.concatenate([ma, mb], 0)
    if vals.size == 0:
        return _compact(vals, mask, size, fill)
    key = lax.convert_element_type(lax.bitwise_not(mask), dtypes.int32)
    key, vals = lax.sort([key, vals], 0, True, num_keys=2)  # selected values first, sorted
    return _compact(vals, lax.eq(key, _full(key.shape, 0, dtypes.int32)), size, fill)


def _setop(fname, a, b, size, fill_value, assume_unique=False, return_indices=False):
    av, bv = _aval(a), _aval(b)
    a, b = _arg(a), _arg(b)
    params = dict(op=fname, assume_unique=bool(assume_unique),
                  return_indices=bool(return_indices))
    if size is None:
        if _traced(a, b):
            raise _need_size(fname)
        upper = av.size + (0 if fname in ("intersect1d", "setdiff1d") else bv.size)
        if fname == "intersect1d":  # one compilation for both return_indices
            params["return_indices"] = True
        res, count = _setop_kernel(a, b, None, size=upper, **params)
        k = int(count)
        if isinstance(res, (tuple, list)):
            res = tuple(_host_prefix(r, k) for r in res)
            return res if return_indices else res[0]
        return _host_prefix(res, k)
    size = _static_size(fname, size)
    res, _ = _setop_kernel(a, b, _scalar_arg(fname, "fill_value", fill_value), size=size,
                           **params)
    return tuple(res) if isinstance(res, (tuple, list)) else res


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value=None):
    """The sorted unique values in both ``ar1`` and ``ar2`` (with ``return_indices``, also
    the index of the first occurrence of each in the flattened inputs). Under jit pass
    ``size`` (and ``fill_value``)."""
    return _setop("intersect1d", ar1, ar2, size, fill_value,
                  return_indices=return_indices)


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
              fill_value=None):
    """The sorted unique values of ``ar1`` not in ``ar2`` (with ``assume_unique``: the values
    of ``ar1`` not in ``ar2``, in their order). Under jit pass ``size``."""
    return _setop("setdiff1d", ar1, ar2, size, fill_value, assume_unique=assume_unique)


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
             fill_value=None):
    """The sorted values in exactly one of ``ar1`` and ``ar2``. Under jit pass ``size``."""
    return _setop("setxor1d", ar1, ar2, size, fill_value)


def union1d(ar1, ar2, *, size: int | None = None, fill_value=None):
    """The sorted unique values of ``ar1`` and ``ar2`` together. Under jit pass ``size``."""
    return _setop("union1d", ar1, ar2, size, fill_value)


# ---------------------------------------------------------------------------------------------
# bincount, histogram


@_kernel("length")
def _bincount_kernel(x, weights, length):
    idt = _idt()
    x = _cast(x, idt)
    x = lax.max(x, _full(x.shape, 0, idt))  # JAX: negative values count as 0
    if weights is None:
        w, dt = _full(x.shape, 1, idt), idt
    else:
        dt = weights.dtype if dtypes.is_inexact(weights.dtype) else dtypes.default_float()
        w = _cast(weights, dt)
    return _scatter_rows(_full((length,), 0, dt), x, w, "add")


def bincount(x, weights=None, minlength: int = 0, *, length: int | None = None):
    """The number of occurrences of each value 0, 1, ... in the non-negative 1-D integer
    ``x`` (sums of ``weights`` when given). The result has ``max(x) + 1`` entries, at least
    ``minlength``. Under jit pass a static ``length``: the result has exactly ``length``
    entries, larger values are dropped and (as in JAX) negative values count as 0."""
    xv = _aval(x)
    if xv.ndim != 1:
        raise ValueError(f"bincount: x must be 1-D, got shape {xv.shape}")
    if not (dtypes.is_int(xv.dtype) or xv.dtype == dtypes.bool_):
        raise TypeError(f"bincount: x must hold non-negative integers, got dtype "
                        f"{xv.dtype.name}; cast it with astype(int)")
    minlength = _static_size("bincount", minlength, "minlength")
    if weights is not None:
        wv = _aval(weights)
        if wv.shape != xv.shape:
            raise ValueError(f"bincount: weights of shape {wv.shape} must have the shape of "
                             f"x {xv.shape}")
        weights = _arg(weights)
    x = _arg(x)
    if length is None:
        if _traced(x):
            raise _need_size("bincount", "length")
        length = minlength
        if xv.size:
            xs = np.asarray(x)
            if xs.min() < 0:
                raise ValueError("bincount: x must have no negative elements")
            length = builtins.max(minlength, int(xs.max()) + 1)
    else:
        length = _static_size("bincount", length, "length")
    return _bincount_kernel(x, weights, length=length)


def _bins_dtype(dt) -> np.dtype:
    return dt if dtypes.is_inexact(dt) else dtypes.default_float()


def _uniform_edges(a, lo, hi, bins: int):
    dt = _bins_dtype(a.dtype)
    if lo is None:
        if a.size == 0:
            first, last = _full((), 0, dt), _full((), 1, dt)
        else:
            flat = _ravel(a)
            first = _cast(lax.reduce_min(flat, (0,)), dt)
            last = _cast(lax.reduce_max(flat, (0,)), dt)
    else:
        first, last = _full((), lo, dt), _full((), hi, dt)
    same = lax.eq(first, last)
    half = np.asarray(0.5, dt)[()]
    first = lax.select(same, lax.sub(first, half), first)
    last = lax.select(same, lax.add(last, half), last)
    step = lax.div(lax.sub(last, first), np.asarray(bins, dt)[()])
    i = lax.convert_element_type(lax.iota(dtypes.int32, bins + 1), dt)
    edges = lax.add(lax.mul(i, _full((bins + 1,), step, dt)), _full((bins + 1,), first, dt))
    return lax.concatenate([_slice1(edges, 0, bins), lax.reshape(last, (1,))], 0)


@_kernel("bins", "density", "counts")
def _histogram_kernel(a, edges, lo, hi, weights, bins, density, counts):
    if edges is None:
        edges = _uniform_edges(a, lo, hi, bins)
    else:  # NumPy returns array bins as they are, and compares in the common type
        edges = _cast(edges, edges.dtype)
    if not counts:
        return edges
    idt = _idt()
    nb = edges.shape[0] - 1
    cdt = dtypes.promote_types(edges.dtype, a.dtype)
    x, e = _cast(_ravel(a), cdt), _cast(edges, cdt)
    first = _full(x.shape, _elem(e, 0), cdt)
    last = _full(x.shape, _elem(e, nb), cdt)
    idx = lax.sub(_search(e, x, "right", "scan_unrolled"), _full(x.shape, 1, idt))
    idx = lax.select(lax.eq(x, last), _full(x.shape, nb - 1, idt), idx)
    valid = lax.bitwise_and(lax.ge(x, first), lax.le(x, last))
    idx = lax.select(valid, idx, _full(x.shape, nb, idt))
    if weights is None:
        w, dt = _full(x.shape, 1, idt), idt
    else:
        dt = weights.dtype
        w = _cast(_ravel(weights), dt)
    c = _scatter_rows(_full((nb,), 0, dt), idx, w, "add")
    if density:
        fdt = dt if dtypes.is_inexact(dt) else _bins_dtype(cdt)
        c = _cast(c, fdt)
        widths = _cast(lax.sub(_slice1(edges, 1, nb + 1), _slice1(edges, 0, nb)), fdt)
        total = lax.reduce_sum(c, (0,))
        c = lax.div(lax.div(c, widths), _full((nb,), total, fdt))
    return c, edges


def _histogram_args(a, bins, range):
    av = _aval(a)
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
            lo, hi = _scalar_arg("histogram", "range", lo), _scalar_arg("histogram", "range", hi)
        return dict(edges=None, lo=lo, hi=hi, bins=nb)
    ev = _aval(bins)
    if ev.ndim != 1 or ev.shape[0] < 1:
        raise ValueError(f"histogram: `bins` must be 1d with at least one edge, when an "
                         f"array; got shape {ev.shape}")
    if not isinstance(bins, Tracer) and ev.size > 1 and np.any(np.diff(np.asarray(bins)) < 0):
        raise ValueError("histogram: `bins` must increase monotonically, when an array")
    if ev.shape[0] < 2:
        raise ValueError("histogram: `bins` must hold at least two edges")
    del av
    return dict(edges=_arg(bins), lo=None, hi=None, bins=ev.shape[0] - 1)


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The bin edges :func:`histogram` uses: ``bins + 1`` evenly spaced edges over ``range``
    (default: the min and max of ``a``) for an int ``bins``, or ``bins`` itself (an array of
    edges)."""
    p = _histogram_args(a, bins, range)
    return _histogram_kernel(_arg(a), p["edges"], p["lo"], p["hi"], None, bins=p["bins"],
                             density=False, counts=False)


def histogram(a, bins=10, range=None, weights=None, density: bool | None = None):
    """(counts, bin_edges) of the values of ``a`` (NumPy's histogram): bin ``i`` holds
    ``edges[i] <= x < edges[i+1]``, the last bin also its right edge; values outside are
    ignored. ``bins``: the number of equal bins over ``range`` (default: the min and max of
    ``a``), or the array of edges. Counts are integers (sums of ``weights`` when given);
    ``density`` normalizes them to a probability density."""
    p = _histogram_args(a, bins, range)
    if weights is not None:
        wv = _aval(weights)
        if wv.shape != _aval(a).shape:
            raise ValueError(f"histogram: weights of shape {wv.shape} must have the shape of "
                             f"a {_aval(a).shape}")
        weights = _arg(weights)
    return _histogram_kernel(_arg(a), p["edges"], p["lo"], p["hi"], weights, bins=p["bins"],
                             density=bool(density), counts=True)


# ---------------------------------------------------------------------------------------------
# diff, ediff1d


def _diff_n(a, n: int, axis: int):
    for _ in range(n):
        m = a.shape[axis]
        if m == 0:
            break
        hi, lo = _slice1(a, 1, m, axis), _slice1(a, 0, m - 1, axis)
        a = lax.ne(hi, lo) if a.dtype == dtypes.bool_ else lax.sub(hi, lo)
    return a


@_kernel("n", "axis")
def _diff_kernel(a, prepend, append, n, axis):
    parts = [v for v in (prepend, a, append) if v is not None]
    parts = _promote(*parts)
    parts = [lax.broadcast_in_dim(p, a.shape[:axis] + (1,) + a.shape[axis + 1:], ())
             if p.ndim == 0 else p for p in parts]
    a = parts[0] if len(parts) == 1 else lax.concatenate(parts, axis)
    return _diff_n(a, n, axis)


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (``not_equal`` for booleans), after
    adding ``prepend`` / ``append`` (scalars are broadcast) at the ends."""
    av = _aval(a)
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    if av.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis("diff", axis, av.ndim)
    if n == 0:
        return a if _is_array(a) else asarray(a)
    for name, v in (("prepend", prepend), ("append", append)):
        if v is not None:
            vv = _aval(v)
            if vv.ndim not in (0, av.ndim) or builtins.any(
                    d != e for i, (d, e) in enumerate(zip(vv.shape, av.shape)) if i != axis):
                raise ValueError(f"diff: {name} of shape {vv.shape} must be a scalar or match "
                                 f"the shape {av.shape} of a except along axis {axis}")
    return _diff_kernel(_arg(a), None if prepend is None else _arg(prepend),
                        None if append is None else _arg(append), n=n, axis=axis)


@_kernel()
def _ediff1d_kernel(a, to_begin, to_end):
    a = _ravel(a)
    parts = [_ravel(_cast(to_begin, a.dtype))] if to_begin is not None else []
    parts.append(_diff_n(a, 1, 0))
    if to_end is not None:
        parts.append(_ravel(_cast(to_end, a.dtype)))
    return parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)


def ediff1d(ary, to_end=None, to_begin=None):
    """The differences between consecutive elements of the flattened ``ary``, with
    ``to_begin`` and ``to_end`` (cast to ``ary``'s dtype) added at the ends."""
    av = _aval(ary)
    if av.dtype == dtypes.bool_:
        raise TypeError("ediff1d: boolean subtract is not supported; use diff (not_equal) or "
                        "cast to int first")
    for name, v in (("to_begin", to_begin), ("to_end", to_end)):
        if v is not None:
            vv = _aval(v)
            if not vv.weak_type and not np.can_cast(vv.dtype, av.dtype, "same_kind"):
                raise TypeError(f"ediff1d: dtype of `{name}` ({vv.dtype.name}) must be "
                                f"compatible with input `ary` ({av.dtype.name}) under the "
                                "`same_kind` rule.")
    return _ediff1d_kernel(_arg(ary), None if to_begin is None else _arg(to_begin),
                           None if to_end is None else _arg(to_end))


# ---------------------------------------------------------------------------------------------
# convolve, correlate


@_kernel("op", "mode", "precision", "preferred_element_type")
def _conv_kernel(x, y, op, mode, precision, preferred_element_type):
    x, y = _promote(x, y)
    if not dtypes.is_inexact(x.dtype):  # JAX computes integer and bool inputs as floats
        x, y = _cast(x, dtypes.default_float()), _cast(y, dtypes.default_float())
    flip = False
    if op == "correlate":
        if dtypes.is_complex(y.dtype):
            y = lax.conj(y)
        if x.shape[0] < y.shape[0]:  # correlate(a, v)[k] = correlate(v*, a*)[-k]
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
    return out


def _conv(fname, a, v, mode, precision, preferred_element_type):
    av, vv = _aval(a), _aval(v)
    if av.ndim != 1 or vv.ndim != 1:
        raise ValueError(f"{fname}: only 1-d inputs are supported, got shapes {av.shape} and "
                         f"{vv.shape}")
    if av.shape[0] == 0 or vv.shape[0] == 0:
        raise ValueError(f"{fname}: inputs cannot be empty, got shapes {av.shape} and "
                         f"{vv.shape}")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{fname}: mode must be one of 'full', 'same' or 'valid', got "
                         f"{mode!r}")
    pet = (None if preferred_element_type is None
           else dtypes.canonicalize_dtype(preferred_element_type))
    return _conv_kernel(_arg(a), _arg(v), op=fname, mode=mode, precision=precision,
                        preferred_element_type=pet)


def convolve(a, v, mode: str = "full", *, precision=None, preferred_element_type=None):
    """The discrete linear convolution of the 1-d ``a`` and ``v`` (modes 'full', 'same',
    'valid', as NumPy's)."""
    return _conv("convolve", a, v, mode, precision, preferred_element_type)


def correlate(a, v, mode: str = "valid", *, precision=None, preferred_element_type=None):
    """The cross-correlation ``c[k] = sum_n a[n+k] * conj(v[n])`` of the 1-d ``a`` and ``v``
    (modes 'valid' (the default), 'same', 'full', as NumPy's)."""
    return _conv("correlate", a, v, mode, precision, preferred_element_type)


# ---------------------------------------------------------------------------------------------
# interp, polyval


@_kernel("has_period")
def _interp_kernel(x, xp, fp, left, right, period, has_period):
    x, xp = _promote(x, xp)
    dt = _bins_dtype(x.dtype)
    if dtypes.is_complex(dt):
        raise TypeError("interp: x and xp must be real")
    fdt = dtypes.promote_types(fp.dtype, dt) if dtypes.is_inexact(fp.dtype) else dt
    x, xp, fp = _cast(x, dt), _cast(xp, dt), _cast(fp, fdt)
    if has_period:
        p = lax.abs(_cast(period, dt))
        x = _ufuncs.remainder(x, p)
        xp = _ufuncs.remainder(xp, _full(xp.shape, p, dt))
        xp, fp = lax.sort_key_val(xp, fp, 0)
        n = xp.shape[0]
        p1 = lax.reshape(p, (1,))
        xp = lax.concatenate([lax.sub(_slice1(xp, n - 1, n), p1), xp,
                              lax.add(_slice1(xp, 0, 1), p1)], 0)
        fp = lax.concatenate([_slice1(fp, n - 1, n), fp, _slice1(fp, 0, 1)], 0)
    n = xp.shape[0]
    if n == 1:
        f = _full(x.shape, _elem(fp, 0), fdt)
    else:
        i = _search(xp, x, "right", "scan_unrolled")
        i = lax.clamp(np.asarray(1, i.dtype)[()], i, np.asarray(n - 1, i.dtype)[()])
        im = lax.sub(i, _full(i.shape, 1, i.dtype))
        x0, x1 = _gather_rows(xp, im), _gather_rows(xp, i)
        f0, f1 = _gather_rows(fp, im), _gather_rows(fp, i)
        dx = lax.sub(x1, x0)
        same = lax.eq(dx, _full(dx.shape, 0, dt))
        slope = lax.div(lax.sub(f1, f0),
                        _cast(lax.select(same, _full(dx.shape, 1, dt), dx), fdt))
        f = lax.select(same, f0, lax.add(f0, lax.mul(slope, _cast(lax.sub(x, x0), fdt))))
    if not has_period:
        lo = _full(x.shape, _elem(fp, 0), fdt) if left is None else _bcast(
            _cast(left, fdt), x.shape)
        hi = _full(x.shape, _elem(fp, n - 1), fdt) if right is None else _bcast(
            _cast(right, fdt), x.shape)
        f = lax.select(lax.lt(x, _full(x.shape, _elem(xp, 0), dt)), lo, f)
        f = lax.select(lax.gt(x, _full(x.shape, _elem(xp, n - 1), dt)), hi, f)
    return f


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points (``xp``, ``fp``) at ``x`` (NumPy's
    interp): ``xp`` increasing (unless ``period`` is given); ``left`` / ``right`` (default
    ``fp[0]`` / ``fp[-1]``) for ``x`` outside; ``period`` for periodic ``x``."""
    xv, pv, fv = _aval(x), _aval(xp), _aval(fp)
    if pv.ndim != 1 or fv.ndim != 1:
        raise ValueError(f"interp: xp and fp must be 1-d, got shapes {pv.shape} and "
                         f"{fv.shape}")
    if pv.shape != fv.shape:
        raise ValueError(f"interp: fp and xp are not of the same length ({fv.shape[0]} and "
                         f"{pv.shape[0]})")
    if pv.shape[0] == 0:
        raise ValueError("interp: array of sample points is empty")
    if dtypes.is_complex(xv.dtype) or dtypes.is_complex(pv.dtype):
        raise TypeError("interp: x and xp must be real")
    if period is not None:
        if not isinstance(period, Tracer) and float(np.asarray(period)) == 0:
            raise ValueError("interp: period must be a non-zero value")
        left = right = None
    if isinstance(left, str) or isinstance(right, str):
        raise NotImplementedError("interp: string left/right ('extrapolate') is not supported")
    for name, v in (("left", left), ("right", right)):
        if v is not None:
            try:
                np.broadcast_shapes(_aval(v).shape, xv.shape)
            except ValueError:
                raise ValueError(f"interp: {name} of shape {_aval(v).shape} cannot be "
                                 f"broadcast to the shape of x {xv.shape}") from None
    return _interp_kernel(_arg(x), _arg(xp), _arg(fp), None if left is None else _arg(left),
                          None if right is None else _arg(right),
                          None if period is None else _scalar_arg("interp", "period", period),
                          has_period=period is not None)


@_kernel("unroll")
def _polyval_kernel(p, x, unroll):
    p, x = _promote(p, x)
    n = p.shape[0]
    y = _full(x.shape, 0, x.dtype)
    if n <= unroll:
        for i in range(n):
            y = lax.add(lax.mul(y, x), _full(x.shape, _elem(p, i), x.dtype))
        return y

    def body(i, y):
        c = lax.reshape(lax.dynamic_slice(p, [i], [1]), ())
        return lax.add(lax.mul(y, x), _full(x.shape, c, x.dtype))
    return lax.fori_loop(0, n, body, y)


def polyval(p, x, *, unroll: int = 16):
    """The polynomial with coefficients ``p`` (highest degree first) at ``x`` (Horner's
    rule; loops instead of unrolling beyond ``unroll`` coefficients)."""
    if _aval(p).ndim != 1:
        raise ValueError(f"polyval: p must be 1-d, got shape {_aval(p).shape}")
    return _polyval_kernel(_arg(p), _arg(x), unroll=operator.index(unroll))


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
if "count_nonzero" in getattr(_reductions, "__all__", ()):  # reductions defines its own
    __all__.remove("count_nonzero")
