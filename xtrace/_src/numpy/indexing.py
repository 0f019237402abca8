"""NumPy indexing (``x[idx]``) and functional updates (``x.at[idx].set(v)``).

An index is first parsed into one entry per indexed dimension (``_parse``): Ellipsis expanded,
boolean masks turned into integer arrays (they must be concrete, as in JAX), scalar booleans
turned into a new axis indexed by a length-1 or length-0 array.

* Basic indices (ints, slices, None) lower to ``slice`` / ``rev`` / ``dynamic_slice``.
* Integer arrays lower to one ``gather`` and every ``.at`` update to one ``scatter``; both use
  ``_plan``, which maps NumPy's rules onto gather/scatter dimension numbers: unit-stride slices
  are windows, while ints, integer arrays and strided slices become components of the index
  vector. Advanced indices broadcast together; their dims replace the first advanced index, or
  go first when the advanced indices are not adjacent (NumPy's rule).

Out-of-bounds integer-array indices clamp when reading (JAX's default) and are dropped by
updates; ``.at[idx].get/set/...`` accept ``mode=`` ("clip", "fill"/"drop",
"promise_in_bounds"), ``indices_are_sorted`` and ``unique_indices`` like JAX.
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer
import xtrace.numpy as xnp
from xtrace._src.numpy.core import promote_dtypes_only
from xtrace._src.prims.indexing import (GatherDimensionNumbers, GatherScatterMode,
                                        ScatterDimensionNumbers)


class NonConcreteBooleanIndexError(IndexError):
    """A boolean mask index that is traced (its number of selected elements, the result's
    shape, is unknown): JAX's ``jax.errors.NonConcreteBooleanIndexError``."""


_INVALID = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer "
            "or boolean arrays are valid indices")
_ADVANCED = ("int", "scalar", "array")  # entry kinds that are index-vector components


class _InvalidIndexError(IndexError, TypeError):
    """A non-integer index: NumPy raises IndexError, JAX TypeError; this is both."""

# ---------------------------------------------------------------------------------------------
# Parsing


def _classify(i: Any) -> tuple[str, Any]:
    """One raw index item as (kind, value); kinds: none, ellipsis, slice, int (static),
    scalar (traced integer), bool (static scalar), mask, array (integer, ndim >= 1)."""
    if i is None:
        return "none", None
    if i is Ellipsis:
        return "ellipsis", None
    if isinstance(i, slice):
        return "slice", i
    if isinstance(i, (bool, np.bool_)):
        return "bool", bool(i)
    if isinstance(i, (int, np.integer)):
        return "int", operator.index(i)
    if isinstance(i, (Array, Tracer)):
        arr, dt, ndim = i, i.dtype, i.ndim
    elif isinstance(i, (list, tuple, np.ndarray)):
        arr = np.asarray(i)
        if isinstance(i, (list, tuple)) and arr.size == 0:
            arr = arr.astype(np.int32)
        dt, ndim = arr.dtype, arr.ndim
    else:
        try:
            return "int", operator.index(i)
        except TypeError:
            raise _InvalidIndexError(f"{_INVALID}; got {type(i).__name__} {i!r:.40}") from None
    if dt == np.bool_:
        if isinstance(arr, Tracer):
            raise NonConcreteBooleanIndexError(
                f"Array boolean indices must be concrete; got a traced {arr.aval.str_short()}. "
                "Inside jit use xnp.where(mask, x, 0) instead of x[mask]")
        return ("bool", bool(arr)) if ndim == 0 else ("mask", np.asarray(arr))
    if not np.issubdtype(dt, np.integer):
        raise _InvalidIndexError(f"arrays used as indices must be of integer (or boolean) "
                                 f"type, got {np.dtype(dt).name}")
    if ndim == 0:
        return ("scalar", arr) if isinstance(arr, Tracer) else ("int", operator.index(arr))
    return "array", arr


def _parse(shape: tuple[int, ...], idx: Any) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:
    """Entries (one per dim of the result's source, plus None entries) and the dims where
    scalar booleans insert a new size-1 axis into ``x`` before indexing."""
    items = [_classify(i) for i in (idx if isinstance(idx, tuple) else (idx,))]
    kinds = [k for k, _ in items]
    if kinds.count("ellipsis") > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_real = sum(k in ("slice",) + _ADVANCED for k in kinds) + sum(
        v.ndim for k, v in items if k == "mask")
    if n_real > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{n_real} were indexed")
    if "ellipsis" not in kinds:
        items.append(("ellipsis", None))
    entries: list[tuple[str, Any]] = []
    bool_dims: list[int] = []
    od = 0  # dim of the original x
    for k, v in items:
        if k == "ellipsis":
            entries += [("slice", slice(None))] * (len(shape) - n_real)
            od += len(shape) - n_real
        elif k == "none":
            entries.append((k, v))
        elif k == "bool":
            bool_dims.append(od + len(bool_dims))
            entries.append(("array", np.zeros(int(v), np.int32)))
        elif k == "mask":
            for j, m in enumerate(v.shape):
                if shape[od + j] != m:
                    raise IndexError(
                        f"boolean index did not match indexed array along axis {od + j}; size "
                        f"of axis is {shape[od + j]} but size of corresponding boolean axis "
                        f"is {m}")
            entries += [("array", nz) for nz in np.nonzero(v)]
            od += v.ndim
        else:
            entries.append((k, v))
            od += 1
    return entries, tuple(bool_dims)


# ---------------------------------------------------------------------------------------------
# Basic indexing: slice, rev, squeeze, dynamic_slice


def _basic_getitem(x, entries, clamp=False):
    starts, limits, strides, rev_dims, squeeze_dims, new_axes = [], [], [], [], [], []
    dyn = []  # (dim, traced index)
    dim = out_pos = 0
    for k, i in entries:
        if k == "none":
            new_axes.append(out_pos)
            out_pos += 1
            continue
        n = x.shape[dim]
        if k == "slice":
            start, stop, step = i.indices(n)
            count = len(range(start, stop, step))
            if step > 0:
                starts.append(start)
                limits.append(start + (count - 1) * step + 1 if count else start)
                strides.append(step)
            else:
                starts.append(start + (count - 1) * step if count else 0)
                limits.append(start + 1 if count else 0)
                strides.append(-step)
                rev_dims.append(dim)
            out_pos += 1
        else:
            if k == "scalar":
                dyn.append((dim, i))
                i = 0
            elif not -n <= i < n:
                if not clamp:  # (x.at[i].get() clamps, as JAX's gathers do)
                    raise IndexError(f"index {i} is out of bounds for axis {dim} with size {n}")
                i = min(max(i + n if i < 0 else i, 0), n - 1)
            starts.append(i % n)
            limits.append(i % n + 1)
            strides.append(1)
            squeeze_dims.append(dim)
        dim += 1
    out = x
    if dyn:
        full_starts: list[Any] = [np.int32(0)] * x.ndim
        sizes = list(x.shape)
        for d, t in dyn:
            t = lax.convert_element_type(t, dtypes.int32)
            full_starts[d] = t  # lax.dynamic_slice counts a negative index from the end once
            sizes[d] = 1
        out = lax.dynamic_slice(out, full_starts, sizes)
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


# ---------------------------------------------------------------------------------------------
# Gather / scatter plans


class _Plan(NamedTuple):
    indices: Any                    # integer array S + (K,) (NumPy when the index is static)
    dnums: GatherDimensionNumbers   # scatter's numbers are derived from these
    slice_sizes: tuple[int, ...]
    result_shape: tuple[int, ...]   # NumPy's shape of x[idx]
    new_dims: tuple[int, ...]       # positions of None dims in result_shape


def _shape(v) -> tuple[int, ...]:
    return () if isinstance(v, int) else tuple(v.shape)


def _index_component(v, n: int, bshape, idt):
    """Integer index ``v`` for a dim of size ``n``: negatives wrapped, broadcast to ``bshape``."""
    if isinstance(v, (int, np.ndarray)):
        v = np.asarray(v).astype(np.int64)
        return np.broadcast_to(np.where(v < 0, v + n, v), bshape).astype(idt)
    unsigned = dtypes.is_unsigned(v.dtype)
    v = lax.convert_element_type(v, idt)
    if not unsigned:
        v = xnp.where(xnp.less(v, 0), xnp.add(v, n), v)
    return xnp.broadcast_to(v, bshape)


def _plan(shape: tuple[int, ...], entries: list[tuple[str, Any]]) -> _Plan:
    adv = [p for p, (k, _) in enumerate(entries) if k in _ADVANCED]
    adv_shapes = [_shape(entries[p][1]) for p in adv]
    try:
        bshape = tuple(np.broadcast_shapes(*adv_shapes))
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         "shapes " + " ".join(str(s) for s in adv_shapes)) from None
    adjacent = adv == list(range(adv[0], adv[-1] + 1)) if adv else True
    big = any(k in ("array", "scalar") and dtypes.canonicalize_dtype(v.dtype).itemsize == 8
              for k, v in entries)
    idt = dtypes.canonicalize_dtype(np.int64 if big else np.int32)

    # The result's dims, in NumPy's order: ("new",), ("adv", j) or ("slice", dim, range).
    res: list[tuple] = []
    dim = 0
    for p, (k, v) in enumerate(entries):
        if k == "none":
            res.append(("new",))
            continue
        if k == "slice":
            res.append(("slice", dim, range(*v.indices(shape[dim]))))
        elif adjacent and p == adv[0]:
            res += [("adv", j) for j in range(len(bshape))]
        dim += 1
    if not adjacent:
        res = [("adv", j) for j in range(len(bshape))] + res
    result_shape = tuple(1 if r[0] == "new" else bshape[r[1]] if r[0] == "adv" else len(r[2])
                         for r in res)
    upd = [r for r in res if r[0] != "new"]  # gather output / scatter updates
    is_window = [r[0] == "slice" and r[2].step == 1 for r in upd]
    batch = [r for r, w in zip(upd, is_window) if not w]  # the index array's leading dims
    batch_shape = tuple(bshape[r[1]] if r[0] == "adv" else len(r[2]) for r in batch)
    adv_pos = tuple(i for i, r in enumerate(batch) if r[0] == "adv")

    comps: list[tuple[int, Any, tuple[int, ...]]] = []  # (operand dim, value, dims in batch)
    slice_sizes, collapsed = [], []
    dim = 0
    for k, v in entries:
        if k == "none":
            continue
        if k == "slice":
            r = range(*v.indices(shape[dim]))
            if r.step != 1:
                pos = next(i for i, b in enumerate(batch) if b[0] == "slice" and b[1] == dim)
                comps.append((dim, np.asarray(r, idt), (pos,)))
                collapsed.append(dim)
            elif r.start != 0:
                comps.append((dim, np.asarray(r.start, idt), ()))
            slice_sizes.append(1 if r.step != 1 else len(r))
        else:
            comps.append((dim, _index_component(v, shape[dim], bshape, idt), adv_pos))
            collapsed.append(dim)
            slice_sizes.append(1)
        dim += 1
    if not comps:  # only full slices: index dim 0 at 0 so that the index vector is not empty
        comps.append((0, np.asarray(0, idt), ()))

    def place(v, dims):
        if isinstance(v, np.ndarray):
            s = [1] * len(batch_shape)
            for j, d in zip(v.shape, dims):
                s[d] = j
            return np.broadcast_to(v.reshape(s), batch_shape)[..., None]
        return lax.broadcast_in_dim(v, batch_shape + (1,), dims)

    parts = [place(v, dims) for _, v, dims in comps]
    if all(isinstance(p, np.ndarray) for p in parts):
        indices = np.concatenate(parts, axis=-1)
    else:
        indices = lax.concatenate([xnp.asarray(p) for p in parts], len(batch_shape))
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(i for i, w in enumerate(is_window) if w),
        collapsed_slice_dims=tuple(collapsed),
        start_index_map=tuple(d for d, _, _ in comps))
    return _Plan(indices, dnums, tuple(slice_sizes), result_shape,
                 tuple(i for i, r in enumerate(res) if r[0] == "new"))


# ---------------------------------------------------------------------------------------------
# Getting


def getitem(x: Any, idx: Any) -> Any:
    """``x[idx]`` for ints, slices, None, Ellipsis, integer arrays and (concrete) masks."""
    return _getitem(x, idx)


def _getitem(x: Any, idx: Any, *, mode: Any = None, fill_value: Any = None,
             indices_are_sorted: bool = False, unique_indices: bool = False,
             clamp: bool = False) -> Any:
    entries, bool_dims = _parse(x.shape, idx)
    if bool_dims:
        x = lax.expand_dims(x, bool_dims)
    gather_ints = mode is not None and (
        GatherScatterMode.from_any(mode) != GatherScatterMode.PROMISE_IN_BOUNDS)
    if not any(k == "array" or (gather_ints and k in _ADVANCED) for k, _ in entries):
        return _basic_getitem(x, entries, clamp)
    p = _plan(x.shape, entries)
    if 0 in p.result_shape:
        return lax.broadcast_in_dim(lax.convert_element_type(0, x.dtype, x.weak_type),
                                    p.result_shape, ())
    out = lax.gather(x, p.indices, p.dnums, p.slice_sizes, mode=mode, fill_value=fill_value,
                     indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
    return lax.expand_dims(out, p.new_dims)


# ---------------------------------------------------------------------------------------------
# Updating: x.at[idx].set(v) and friends


_SCATTERS = {"set": lax.scatter, "add": lax.scatter_add, "sub": lax.scatter_add,
             "mul": lax.scatter_mul, "min": lax.scatter_min, "max": lax.scatter_max}


def _update(x: Any, idx: Any, values: Any, op: str, *, mode: Any = None,
            indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
    """``x[idx] op= values`` without mutation, as one scatter (JAX's ``_scatter_update``).

    Values are promoted with ``x``, broadcast to the shape of ``x[idx]``, combined, and the
    result cast back to ``x``'s dtype; repeated indices accumulate, out-of-bounds ones drop."""
    x = xnp.asarray(x)
    dtype, weak = x.dtype, x.weak_type
    entries, bool_dims = _parse(x.shape, idx)
    xe = lax.expand_dims(x, bool_dims) if bool_dims else x
    if xe.ndim == 0:
        xe, entries = lax.reshape(xe, (1,)), [("int", 0)] + entries
    p = _plan(xe.shape, entries)
    if 0 in p.result_shape:
        return x
    if (isinstance(values, int) and dtypes.is_int(dtype)
            and np.iinfo(dtype).min <= values <= np.iinfo(dtype).max):
        values = np.asarray(values, dtype)
    xp, y = promote_dtypes_only(xe, values)
    y = xnp.asarray(y)
    try:
        ok = np.broadcast_shapes(y.shape, p.result_shape) == p.result_shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"cannot broadcast values of shape {y.shape} to the indexed shape "
                         f"{p.result_shape}")
    y = lax.reshape(xnp.broadcast_to(y, p.result_shape),
                    [s for i, s in enumerate(p.result_shape) if i not in p.new_dims])
    if op == "sub":
        y = lax.neg(y)
    dn = ScatterDimensionNumbers(update_window_dims=p.dnums.offset_dims,
                                 inserted_window_dims=p.dnums.collapsed_slice_dims,
                                 scatter_dims_to_operand_dims=p.dnums.start_index_map)
    out = _SCATTERS[op](xp, p.indices, y, dn, mode=mode, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices)
    out = lax.convert_element_type(out, dtype, weak)
    return lax.reshape(out, x.shape) if out.shape != x.shape else out


class _IndexUpdateHelper:
    """``x.at``: index it to get an ``_IndexUpdateRef``."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx) -> "_IndexUpdateRef":
        return _IndexUpdateRef(self.array, idx)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """``x.at[idx]``: ``get``, ``set``, ``add``, ``subtract``, ``multiply``, ``divide``,
    ``power``, ``min``, ``max`` return updated copies; ``x`` itself never changes.

    Each takes ``mode`` (default: clamp for ``get``, drop out-of-bounds updates otherwise),
    ``indices_are_sorted`` and ``unique_indices``; ``get`` also takes ``fill_value``."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted: bool = False, unique_indices: bool = False,
            mode=None, fill_value=None):
        return _getitem(self.array, self.index, mode=mode, fill_value=fill_value,
                        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                        clamp=True)

    def apply(self, ufunc, *, indices_are_sorted: bool = False, unique_indices: bool = False,
              mode=None):
        """``x`` with the unary elementwise ``ufunc`` applied at ``idx``; an index repeated
        ``k`` times applies it ``k`` times, as JAX's ``.at[].apply`` does."""
        x = xnp.asarray(self.array)
        hits = _update(xnp.zeros(x.shape, dtypes.int32), self.index, 1, "add", mode=mode,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)

        def step(i, y):
            return xnp.where(hits > i, xnp.asarray(ufunc(y)).astype(x.dtype), y)
        return lax.fori_loop(0, xnp.max(hits, initial=0), step, x)

    def _do(self, values, op, **kwargs):
        return _update(self.array, self.index, values, op, **kwargs)

    def set(self, values, **kwargs):
        return self._do(values, "set", **kwargs)

    def add(self, values, **kwargs):
        return self._do(values, "add", **kwargs)

    def subtract(self, values, **kwargs):
        return self._do(values, "sub", **kwargs)

    def multiply(self, values, **kwargs):
        return self._do(values, "mul", **kwargs)

    mul = multiply

    def divide(self, values, **kwargs):
        """``x / d`` where ``d`` is 1 except at ``idx``, where it is the product of values."""
        ones = xnp.ones_like(self.array)
        return xnp.true_divide(self.array, _update(ones, self.index, values, "mul", **kwargs))

    def power(self, values, **kwargs):
        """``x ** e`` where ``e`` is 1 except at ``idx``, where it is the product of values."""
        ones = xnp.ones_like(self.array)
        return xnp.power(self.array, _update(ones, self.index, values, "mul", **kwargs))

    def min(self, values, **kwargs):
        return self._do(values, "min", **kwargs)

    def max(self, values, **kwargs):
        return self._do(values, "max", **kwargs)
