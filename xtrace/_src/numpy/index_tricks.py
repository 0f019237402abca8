"""Index helpers and functional index updates (JAX's ``index_tricks`` and friends).

ix_, r_, c_, s_, index_exp, mgrid, ogrid, unravel_index, ravel_multi_index, mask_indices,
choose, put, fill_diagonal, place.

xtrace arrays are immutable: ``put``, ``fill_diagonal`` and ``place`` need ``inplace=False``
and return the updated array (with the default ``inplace=True`` they raise, as in JAX).
Slice bounds of ``r_``/``c_``/``mgrid``/``ogrid`` and the index values checked by
``mode='raise'`` must be concrete; under jit use ``mode='wrap'`` or ``'clip'``.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.core import ConcretizationError, Tracer
from xtrace._src.numpy import creation as _creation
from xtrace._src.numpy import searching as _searching
from xtrace._src.numpy import shapes as _shapes
from xtrace._src.numpy.shapes import _eager_jit_auto
from xtrace._src.numpy.core import (_is_array, asarray, broadcast_arrays, promote_dtypes_only)
import xtrace.numpy as xnp


class _NotConcreteError(ConcretizationError):
    """A traced value was given where the function needs a concrete one."""

    def __init__(self, msg: str):  # ConcretizationError.__init__ builds its own message
        TypeError.__init__(self, msg)


def _concrete(x: Any, what: str, hint: str = "") -> Any:
    """``x`` itself, or its concrete value; raises ``ConcretizationError`` for a tracer."""
    if isinstance(x, Tracer):
        val = x.to_concrete()
        if val is None:
            raise _NotConcreteError(
                f"Abstract tracer value encountered where a concrete value is expected: {what} "
                f"got a traced array {x.aval.str_short()}. {hint}".rstrip())
        return val
    return x


def _arrays(fname: str, *xs) -> list:
    out = []
    for x in xs:
        if isinstance(x, (list, tuple)) and any(isinstance(v, Tracer) for v in x):
            x = _shapes.stack(list(x))
        elif isinstance(x, str) or x is None:
            raise TypeError(f"{fname}: expected an array, got {type(x).__name__} {x!r:.40}")
        out.append(x if _is_array(x) else asarray(x))
    return out


# ---------------------------------------------------------------------------------------------
# ix_, grids, r_ / c_


def ix_(*args) -> tuple:
    """Open-mesh index arrays: the ``i``-th 1-D sequence reshaped to have length along axis
    ``i`` and 1 elsewhere, so that ``x[ix_(rows, cols)]`` picks a cross product."""
    n = len(args)
    out = []
    for i, a in enumerate(_arrays("ix_", *args)):
        if a.ndim != 1:
            raise ValueError(f"ix_: cross index must be 1-dimensional, got shape {a.shape} for "
                             f"argument {i}")
        if a.dtype == dtypes.bool_:
            raise NotImplementedError("ix_: boolean arguments are not implemented (their "
                                      "nonzero entries depend on the values); pass integer "
                                      "indices")
        shape = [1] * n
        shape[i] = a.shape[0]
        out.append(lax.reshape(a, shape))
    return tuple(out)


def _grid_1d(s: slice, fname: str):
    hint = f"The bounds of {fname} must be static Python numbers."
    start = _concrete(s.start, f"slice start of {fname}", hint)
    stop = _concrete(s.stop, f"slice stop of {fname}", hint)
    step = _concrete(s.step, f"slice step of {fname}", hint)
    start = 0 if start is None else start
    step = 1 if step is None else step
    if np.iscomplexobj(step):
        return _creation.linspace(start, stop, int(abs(step)))
    return _creation.arange(start, stop, step)


class _Grid:
    """``mgrid[...]`` / ``ogrid[...]``: dense or open meshes of ``arange``/``linspace`` ranges
    given as slices (a complex step ``5j`` is a number of points, end included)."""

    def __init__(self, sparse: bool, name: str):
        self.sparse, self.name = sparse, name

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _grid_1d(key, self.name)
        grids = [_grid_1d(k, self.name) for k in key]
        grids = [asarray(g) for g in promote_dtypes_only(*grids)] if grids else []
        out = _creation.meshgrid(*grids, indexing="ij", sparse=self.sparse)
        if self.sparse:
            return out
        return _shapes.stack(out, 0) if out else _creation.arange(0)

    def __repr__(self) -> str:
        return f"xtrace.numpy.{self.name}"


mgrid = _Grid(False, "mgrid")
ogrid = _Grid(True, "ogrid")


class _AxisConcat:
    """``r_[...]`` / ``c_[...]``: concatenate arrays, scalars and slice ranges along an axis;
    a leading string directive (``'r'``, ``'c'``, ``'axis,ndmin,trans1d'``) as in NumPy."""

    def __init__(self, axis: int, ndmin: int, trans1d: int, name: str):
        self.axis, self.ndmin, self.trans1d, self.name = axis, ndmin, trans1d, name

    def _params(self, directive: str) -> list[int]:
        params = [self.axis, self.ndmin, self.trans1d, -1]
        if directive == "r":
            params[-1] = 0
        elif directive == "c":
            params[-1] = 1
        else:
            vec: list[Any] = directive.split(",")
            vec = vec + params[len(vec):] if len(vec) < 4 else vec[:3] + [params[-1]]
            try:
                params = [int(v) for v in vec]
            except ValueError:
                raise ValueError(f"{self.name}: could not understand directive "
                                 f"{directive!r}") from None
        return params

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        params = [self.axis, self.ndmin, self.trans1d, -1]
        if key and isinstance(key[0], str):
            params, key = self._params(key[0]), key[1:]
        axis, ndmin, trans1d, matrix = params
        parts = []
        for item in key:
            if isinstance(item, slice):
                obj, item_ndim = _grid_1d(item, self.name), 0
            elif isinstance(item, str):
                raise ValueError(f"{self.name}: string directive must be placed at the "
                                 "beginning")
            else:
                obj = _creation.array(item, copy=False)
                item_ndim = obj.ndim
            obj = _creation.array(obj, copy=False, ndmin=ndmin)
            if trans1d != -1 and ndmin - item_ndim > 0:
                order = tuple(range(ndmin))
                shift = ndmin - abs(ndmin + trans1d + 1) % ndmin
                obj = _shapes.transpose(obj, order[shift:] + order[:shift])
            parts.append(obj)
        res = _shapes.concatenate(parts, axis=axis)
        if matrix != -1 and res.ndim == 1:
            res = _shapes.expand_dims(res, matrix)
        return res

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"xtrace.numpy.{self.name}"


r_ = _AxisConcat(0, 1, -1, "r_")
c_ = _AxisConcat(-1, 2, 0, "c_")
s_ = np.s_
index_exp = np.index_exp


# ---------------------------------------------------------------------------------------------
# Flat <-> multi-dimensional indices


def unravel_index(indices, shape) -> tuple:
    """The multi-index arrays of the flat ``indices`` into an array of ``shape`` (C order).
    As in JAX, out-of-bounds indices are clipped instead of raising (``-1`` is the last)."""
    (idx,) = _arrays("unravel_index", indices)
    if not (dtypes.is_int(idx.dtype) or idx.dtype == dtypes.bool_):
        raise TypeError(f"unravel_index: indices must be integers, got dtype {idx.dtype.name}")
    try:
        dims = list(shape)
    except TypeError:
        dims = [shape]
    if any(np.ndim(s) != 0 for s in dims):
        raise ValueError("unravel_index: shape should be a scalar or 1D sequence.")
    dims = [operator.index(_concrete(s, "the shape of unravel_index")) for s in dims]
    return _unravel(idx, tuple(dims))


@_eager_jit_auto
def _unravel(idx, dims):
    out: list[Any] = [0] * len(dims)
    for i in reversed(range(len(dims))):
        idx, out[i] = xnp.divmod(idx, dims[i])
    too_big = xnp.greater(idx, 0)
    too_small = (xnp.less(idx, -1) if not dtypes.is_unsigned(idx.dtype)
                 else _creation.zeros(idx.shape, dtypes.bool_))
    return tuple(_searching.where(too_big, s - 1, _searching.where(too_small, 0, i))
                 for s, i in zip(dims, out))


def ravel_multi_index(multi_index: Sequence, dims: Sequence[int], mode: str = "raise",
                      order: str = "C", *, dtype=None):
    """Flat indices of the index arrays ``multi_index`` into an array of shape ``dims``.
    ``mode``: ``'raise'`` (the default; needs concrete indices, so not under jit), ``'wrap'``,
    ``'clip'`` or ``'ignore'``; ``order``: ``'C'`` or ``'F'``."""
    if len(multi_index) != len(dims):
        raise ValueError(f"ravel_multi_index: len(multi_index)={len(multi_index)} != "
                         f"len(dims)={len(dims)}")
    dims = tuple(operator.index(_concrete(d, "the dims of ravel_multi_index")) for d in dims)
    idx = _arrays("ravel_multi_index", *multi_index)
    if dtype is None:
        dt = dtypes.promote_types_weak((dtypes.default_int(), True),
                                       *[(i.dtype, i.aval.weak_type) for i in idx])[0]
    else:
        dt = dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_int(dt):
        raise ValueError(f"ravel_multi_index: dtype={dt} is not an integer type.")
    if math.prod(dims) - 1 > np.iinfo(dt).max:
        raise ValueError(f"ravel_multi_index: dtype={dt} not large enough to hold flattened "
                         f"index for dims={dims}. Use the dtype argument to pass a suitable "
                         "dtype.")
    for i in idx:
        if not dtypes.is_int(i.dtype):
            raise TypeError(f"ravel_multi_index: only int indices permitted, got dtype "
                            f"{i.dtype.name}")
    if mode == "raise":
        hint = ("The error occurred because ravel_multi_index was jit-compiled with "
                "mode='raise'. Use mode='wrap' or mode='clip' instead.")
        vals = [np.asarray(_concrete(i, "ravel_multi_index's indices", hint)) for i in idx]
        if any(np.any((v < 0) | (v >= d)) for v, d in zip(vals, dims)):
            raise ValueError("ravel_multi_index: invalid entry in coordinates array")
    elif mode not in ("clip", "wrap", "ignore"):
        raise ValueError(f"ravel_multi_index: invalid mode={mode!r}. Expected 'raise', "
                         "'wrap', 'clip', or 'ignore'.")
    if order == "F":
        strides = np.cumprod((1,) + dims[:-1])
    elif order == "C":
        strides = np.cumprod((1,) + dims[1:][::-1])[::-1]
    else:
        raise ValueError(f"ravel_multi_index: invalid order={order!r}. Expected 'C' or 'F'")
    return _ravel(idx, dims, mode, tuple(int(s) for s in strides), dt.name)


@_eager_jit_auto
def _ravel(idx, dims, mode, strides, dt):
    if mode == "clip":
        idx = [xnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    elif mode == "wrap":
        idx = [xnp.remainder(i, d) for i, d in zip(idx, dims)]
    result = _creation.zeros((), dt)
    for i, s in zip(idx, strides):
        result = xnp.add(result, xnp.multiply(i.astype(dt), s))
    return result


def mask_indices(n: int, mask_func: Callable, k: int = 0, *, size: int | None = None) -> tuple:
    """The (row, column) indices where ``mask_func(ones((n, n)), k)`` is non-zero (e.g.
    ``triu``); under jit pass a static ``size`` as for ``nonzero``."""
    n = _creation._static_int(n, "n", "mask_indices")
    return _searching.nonzero(mask_func(_creation.ones((n, n)), k), size=size)


# ---------------------------------------------------------------------------------------------
# choose, put, fill_diagonal, place


def choose(a, choices, out=None, mode: str = "raise"):
    """``choices[a[I]][I]`` for every index ``I`` of the broadcast shapes. ``mode``:
    ``'raise'`` (concrete ``a`` only), ``'wrap'`` or ``'clip'``."""
    if out is not None:
        raise NotImplementedError("choose: the 'out' argument is not supported (xtrace arrays "
                                  "are immutable)")
    a, *chs = _arrays("choose", a, *choices)
    if not dtypes.is_int(a.dtype):
        raise ValueError(f"choose: `a` array must be integer typed, got dtype {a.dtype.name}")
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"choose: mode={mode!r} not understood. Must be 'raise', 'wrap', or "
                         "'clip'")
    if mode == "raise":
        hint = ("The error occurred because choose was jit-compiled with mode='raise'. Use "
                "mode='wrap' or mode='clip' instead.")
        v = np.asarray(_concrete(a, "choose's index array", hint))
        if np.any((v < 0) | (v >= len(chs))):
            raise ValueError("choose: invalid entry in choice array")
    return _choose(a, chs, mode)


@_eager_jit_auto
def _choose(a, chs, mode):
    n = len(chs)
    a = xnp.remainder(a, n) if mode == "wrap" else xnp.clip(a, 0, n - 1) if mode == "clip" else a
    a, *chs = broadcast_arrays(a, *chs)
    chs = [asarray(c) for c in promote_dtypes_only(*chs)]
    stacked = _shapes.stack([lax.convert_element_type(c, c.dtype, False) for c in chs])
    return stacked[(a,) + tuple(_creation.indices(a.shape, sparse=True))]


_INPLACE = ("{0} cannot modify arrays in-place, because xtrace arrays are immutable. Pass "
            "inplace=False to instead return an updated array.")


def _tile_to_size(v, n: int):
    """``v`` (1-D) repeated and cut to length ``n``."""
    reps = -(-n // v.shape[0])
    return _shapes.tile(v, reps)[:n] if reps > 1 or v.shape[0] != n else v


def put(a, ind, v, mode: str | None = None, *, inplace: bool = True):
    """A copy of ``a`` with the flat positions ``ind`` set to ``v`` (repeated as needed).
    Requires ``inplace=False``. ``mode``: None (out-of-bounds indices are dropped),
    ``'wrap'`` or ``'clip'``."""
    if inplace:
        raise ValueError(_INPLACE.format("put"))
    arr, ind, v = _arrays("put", a, ind, v)
    ind, v = _shapes.ravel(ind), _shapes.ravel(v)
    if not arr.size or not ind.size or not v.size:
        return arr
    if mode == "raise":
        raise NotImplementedError("put: the 'raise' mode is not supported")
    if mode not in (None, "clip", "wrap"):
        raise ValueError(f"put: mode should be one of 'wrap' or 'clip'; got mode={mode!r}")
    return _put(arr, ind, v, mode)


@_eager_jit_auto
def _put(arr, ind, v, mode):
    v = _tile_to_size(v, ind.shape[0])
    if mode is None:
        scatter_mode = "drop"
    elif mode == "clip":
        ind, scatter_mode = xnp.clip(ind, 0, arr.size - 1), "promise_in_bounds"
    else:
        ind, scatter_mode = xnp.remainder(ind, arr.size), "promise_in_bounds"
    return arr.at[unravel_index(ind, arr.shape)].set(v, mode=scatter_mode)


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
    """A copy of ``a`` (at least 2-D, all sides equal beyond 2-D) with its main diagonal set
    to ``val`` (repeated as needed). Requires ``inplace=False``; ``wrap=True`` is not
    supported."""
    if inplace:
        raise NotImplementedError("fill_diagonal: xtrace arrays are immutable, must use "
                                  "inplace=False")
    if wrap:
        raise NotImplementedError("fill_diagonal: wrap=True is not implemented, must use "
                                  "wrap=False")
    a, val = _arrays("fill_diagonal", a, val)
    if a.ndim < 2:
        raise ValueError(f"fill_diagonal: array must be at least 2-d, got shape {a.shape}")
    if a.ndim > 2 and not all(n == a.shape[0] for n in a.shape[1:]):
        raise ValueError(f"fill_diagonal: all dimensions of input must be of equal length, "
                         f"got shape {a.shape}")
    return _fill_diagonal(a, val)


@_eager_jit_auto
def _fill_diagonal(a, val):
    n = min(a.shape)
    idx = _creation.diag_indices(n, a.ndim)
    return a.at[idx].set(val if val.ndim == 0 else _tile_to_size(_shapes.ravel(val), n))


def place(arr, mask, vals, *, inplace: bool = True):
    """A copy of ``arr`` whose entries where ``mask`` is true are, in order, the values of
    ``vals`` (repeated as needed). Requires ``inplace=False``; works under jit."""
    data, mask, vals = _arrays("place", arr, mask, vals)
    vals = _shapes.ravel(vals)
    if inplace:
        raise ValueError(_INPLACE.format("place"))
    if data.size != mask.size:
        raise ValueError(f"place: arr and mask must be the same size, got shapes {data.shape} "
                         f"and {mask.shape}")
    if not vals.size:
        raise ValueError("place: cannot place values from an empty array")
    if not data.size:
        return data
    return _place(data, mask, vals)


@_eager_jit_auto
def _place(data, mask, vals):
    (pos,) = _searching.nonzero(_shapes.ravel(mask), size=mask.size, fill_value=mask.size)
    vals = _tile_to_size(vals, pos.shape[0])
    return _shapes.reshape(_shapes.ravel(data).at[pos].set(vals, mode="drop"), data.shape)


__all__ = ["ix_", "r_", "c_", "s_", "index_exp", "mgrid", "ogrid", "unravel_index",
           "ravel_multi_index", "mask_indices", "choose", "put", "fill_diagonal", "place"]
