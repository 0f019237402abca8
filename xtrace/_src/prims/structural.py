"""Shape-changing primitives: iota, broadcast, reshape, transpose, rev, squeeze, expand_dims,
concatenate, pad, slice, dynamic_slice and dynamic_update_slice."""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import i64_array
from xtrace._src.prims.common import check_axes, define, lax_args


def _ints(xs, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(operator_index(x)) for x in xs)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of Python ints, got {xs!r}") from None


def operator_index(x):
    import operator
    return operator.index(x)


# ---- iota ----
def _iota_abstract(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise ValueError(f"iota: dimension {dimension} out of range for shape {shape}")
    if dtype == dtypes.bool_:
        raise TypeError("iota does not support bool")
    return ShapedArray(shape, dtype)


def _iota_lower(ctx, *, dtype, shape, dimension):
    return ctx.op1("stablehlo.iota", [], attrs=f"iota_dimension = {dimension} : i64")


iota_p = define("iota", _iota_abstract, _iota_lower)


def iota(dtype, size: int):
    """``[0, 1, ..., size-1]`` of ``dtype``."""
    return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape: Sequence[int], dimension: int):
    shape = _ints(shape, "shape")
    return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype), shape=shape,
                       dimension=int(dimension) % max(len(shape), 1))


# ---- broadcast_in_dim ----
def _bid_abstract(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: operand of rank {x.ndim} needs {x.ndim} "
                        f"broadcast_dimensions, got {broadcast_dimensions}")
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise TypeError(f"broadcast_in_dim: cannot broadcast operand shape {x.shape} to "
                            f"{shape} with broadcast_dimensions {broadcast_dimensions}")
    if list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        "be strictly increasing")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _bid_lower(ctx, x, *, shape, broadcast_dimensions):
    return ctx.op1("stablehlo.broadcast_in_dim", [x],
                   attrs=f"broadcast_dimensions = {i64_array(broadcast_dimensions)}")


broadcast_in_dim_p = define("broadcast_in_dim", _bid_abstract, _bid_lower)


def broadcast_in_dim(x, shape: Sequence[int], broadcast_dimensions: Sequence[int]):
    x, = lax_args(x)
    shape = _ints(shape, "shape")
    bd = _ints(broadcast_dimensions, "broadcast_dimensions")
    if get_aval(x).shape == shape and bd == tuple(range(len(shape))) and hasattr(x, "aval"):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd)


def broadcast(x, sizes: Sequence[int]):
    """Add leading dimensions of ``sizes`` to ``x``."""
    x, = lax_args(x)
    nd = get_aval(x).ndim
    sizes = _ints(sizes, "sizes")
    return broadcast_in_dim(x, sizes + get_aval(x).shape,
                            tuple(range(len(sizes), len(sizes) + nd)))


def broadcast_to_rank(x, rank: int):
    shape = get_aval(x).shape
    return broadcast(x, (1,) * (rank - len(shape))) if len(shape) < rank else x


# ---- reshape ----
def _reshape_abstract(x, *, new_sizes, dimensions):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(d < 0 for d in new_sizes):
        raise TypeError(f"reshape: cannot reshape array of shape {x.shape} (size {x.size}) "
                        f"into shape {new_sizes}")
    if dimensions is not None and sorted(dimensions) != list(range(x.ndim)):
        raise TypeError(f"reshape: dimensions {dimensions} is not a permutation of the axes")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_lower(ctx, x, *, new_sizes, dimensions):
    if dimensions is not None and tuple(dimensions) != tuple(range(len(dimensions))):
        a = ctx.avals_in[0]
        ta = ShapedArray([a.shape[d] for d in dimensions], a.dtype)
        x = ctx.op1("stablehlo.transpose", [x], ta, f"permutation = {i64_array(dimensions)}")
        return ctx.op1("stablehlo.reshape", [x], operand_avals=[ta])
    return ctx.op1("stablehlo.reshape", [x])


reshape_p = define("reshape", _reshape_abstract, _reshape_lower)


def reshape(x, new_sizes: Sequence[int], dimensions: Sequence[int] | None = None):
    x, = lax_args(x)
    new_sizes = _ints(new_sizes, "new_sizes")
    dims = None if dimensions is None else _ints(dimensions, "dimensions")
    if get_aval(x).shape == new_sizes and (dims is None or dims == tuple(range(len(dims)))) \
            and hasattr(x, "aval"):
        return x
    return reshape_p.bind(x, new_sizes=new_sizes, dimensions=dims)


# ---- transpose ----
def _transpose_abstract(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise ValueError(f"transpose: permutation {permutation} is not a permutation of the "
                         f"axes of an array of shape {x.shape}")
    return ShapedArray([x.shape[p] for p in permutation], x.dtype, x.weak_type)


transpose_p = define("transpose", _transpose_abstract,
                     lambda ctx, x, *, permutation: ctx.op1(
                         "stablehlo.transpose", [x],
                         attrs=f"permutation = {i64_array(permutation)}"))


def transpose(x, permutation: Sequence[int]):
    x, = lax_args(x)
    perm = _ints(permutation, "permutation")
    if perm == tuple(range(len(perm))) and len(perm) == get_aval(x).ndim and hasattr(x, "aval"):
        return x
    return transpose_p.bind(x, permutation=perm)


# ---- rev ----
def _rev_abstract(x, *, dimensions):
    check_axes("rev", dimensions, x.ndim)
    return x


rev_p = define("rev", _rev_abstract,
               lambda ctx, x, *, dimensions: ctx.op1(
                   "stablehlo.reverse", [x], attrs=f"dimensions = {i64_array(dimensions)}"))


def rev(x, dimensions: Sequence[int]):
    x, = lax_args(x)
    dims = check_axes("rev", _ints(dimensions, "dimensions"), get_aval(x).ndim)
    return rev_p.bind(x, dimensions=dims) if dims else x


# ---- squeeze / expand_dims ----
def _squeeze_abstract(x, *, dimensions):
    dims = check_axes("squeeze", dimensions, x.ndim)
    for d in dims:
        if x.shape[d] != 1:
            raise ValueError(f"squeeze: cannot squeeze axis {d} of size {x.shape[d]} "
                             f"(shape {x.shape}); only axes of size 1 can be squeezed")
    return ShapedArray([s for i, s in enumerate(x.shape) if i not in dims], x.dtype, x.weak_type)


squeeze_p = define("squeeze", _squeeze_abstract,
                   lambda ctx, x, *, dimensions: ctx.op1("stablehlo.reshape", [x]))


def squeeze(x, dimensions: Sequence[int]):
    x, = lax_args(x)
    dims = check_axes("squeeze", _ints(dimensions, "dimensions"), get_aval(x).ndim)
    return squeeze_p.bind(x, dimensions=tuple(sorted(dims))) if dims else x


def _expand_dims_abstract(x, *, dimensions):
    nd = x.ndim + len(dimensions)
    dims = check_axes("expand_dims", dimensions, nd)
    shape = list(x.shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    return ShapedArray(shape, x.dtype, x.weak_type)


expand_dims_p = define("expand_dims", _expand_dims_abstract,
                       lambda ctx, x, *, dimensions: ctx.op1("stablehlo.reshape", [x]))


def expand_dims(x, dimensions: Sequence[int]):
    x, = lax_args(x)
    nd = get_aval(x).ndim + len(dimensions)
    dims = check_axes("expand_dims", _ints(dimensions, "dimensions"), nd)
    return expand_dims_p.bind(x, dimensions=tuple(sorted(dims))) if dims else x


# ---- concatenate ----
def _concat_abstract(*xs, dimension):
    if not xs:
        raise ValueError("concatenate needs at least one operand")
    x0 = xs[0]
    if x0.ndim == 0:
        raise TypeError("concatenate: zero-dimensional arrays cannot be concatenated")
    if not 0 <= dimension < x0.ndim:
        raise ValueError(f"concatenate: dimension {dimension} out of range for rank {x0.ndim}")
    for x in xs:
        if x.dtype != x0.dtype:
            raise TypeError("concatenate: operands must have equal dtypes, got "
                            + ", ".join(a.dtype.name for a in xs))
        if x.ndim != x0.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, x0.shape))
                                    if i != dimension):
            raise TypeError("concatenate: shapes must match except along dimension "
                            f"{dimension}, got " + ", ".join(str(a.shape) for a in xs))
    shape = list(x0.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, x0.dtype, all(x.weak_type for x in xs))


concatenate_p = define("concatenate", _concat_abstract,
                       lambda ctx, *xs, dimension: ctx.op1(
                           "stablehlo.concatenate", xs, attrs=f"dimension = {dimension} : i64"))


def concatenate(operands: Sequence, dimension: int):
    ops = lax_args(*operands)
    if len(ops) == 1:
        return ops[0]
    return concatenate_p.bind(*ops, dimension=int(dimension))


# ---- pad ----
def _pad_abstract(x, padding_value, *, padding_config):
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise TypeError(f"pad: padding_value must be a scalar of dtype {x.dtype.name}, got "
                        f"{padding_value.str_short()}")
    if len(padding_config) != x.ndim:
        raise ValueError(f"pad: padding_config has {len(padding_config)} entries for an array "
                         f"of rank {x.ndim}")
    shape = []
    for d, (lo, hi, interior) in zip(x.shape, padding_config):
        if interior < 0:
            raise ValueError("pad: interior padding must be >= 0")
        n = lo + hi + d + max(d - 1, 0) * interior
        if n < 0:
            raise ValueError(f"pad: padding {padding_config} gives a negative size for shape "
                             f"{x.shape}")
        shape.append(n)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_lower(ctx, x, pv, *, padding_config):
    lo, hi, it = zip(*padding_config) if padding_config else ((), (), ())
    return ctx.op1("stablehlo.pad", [x, pv],
                   attrs=f"edge_padding_low = {i64_array(lo)}, "
                         f"edge_padding_high = {i64_array(hi)}, "
                         f"interior_padding = {i64_array(it)}")


pad_p = define("pad", _pad_abstract, _pad_lower)


def pad(x, padding_value, padding_config: Sequence[tuple[int, int, int]]):
    x, pv = lax_args(x, padding_value)
    cfg = tuple(tuple(int(v) for v in c) for c in padding_config)
    return pad_p.bind(x, pv, padding_config=cfg)


# ---- slice ----
def _slice_abstract(x, *, start_indices, limit_indices, strides):
    n = x.ndim
    strides = strides or (1,) * n
    if not (len(start_indices) == len(limit_indices) == len(strides) == n):
        raise TypeError(f"slice: start_indices {start_indices}, limit_indices {limit_indices} "
                        f"and strides must each have one entry per dimension of {x.shape}")
    shape = []
    for d, s, l, st in zip(x.shape, start_indices, limit_indices, strides):
        if not (0 <= s <= l <= d) or st < 1:
            raise ValueError(f"slice: start {start_indices}, limit {limit_indices}, strides "
                             f"{strides} are out of bounds for shape {x.shape}")
        shape.append((l - s + st - 1) // st)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _slice_lower(ctx, x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    return ctx.op1("stablehlo.slice", [x],
                   attrs=f"start_indices = {i64_array(start_indices)}, "
                         f"limit_indices = {i64_array(limit_indices)}, "
                         f"strides = {i64_array(strides)}")


slice_p = define("slice", _slice_abstract, _slice_lower)


def slice(x, start_indices: Sequence[int], limit_indices: Sequence[int],
          strides: Sequence[int] | None = None):
    x, = lax_args(x)
    return slice_p.bind(x, start_indices=_ints(start_indices, "start_indices"),
                        limit_indices=_ints(limit_indices, "limit_indices"),
                        strides=None if strides is None else _ints(strides, "strides"))


def slice_in_dim(x, start_index: int | None, limit_index: int | None, stride: int = 1,
                 axis: int = 0):
    """``x[..., start:limit:stride, ...]`` along ``axis``; as in JAX, ``None`` means the
    start/end of the axis and a negative index counts once from the end."""
    shape = get_aval(x).shape
    axis = int(axis) % len(shape) if shape else int(axis)
    size = shape[axis]
    start = 0 if start_index is None else int(start_index)
    limit = size if limit_index is None else int(limit_index)
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis] = start + size if start < 0 else start
    limits[axis] = limit + size if limit < 0 else limit
    strides[axis] = stride
    return slice(x, starts, limits, strides)


def index_in_dim(x, index: int, axis: int = 0, keepdims: bool = True):
    """The ``index``-th entry along ``axis`` (a negative index counts from the end; out of
    range is an ``IndexError``, as in JAX)."""
    shape = get_aval(x).shape
    axis = int(axis) % len(shape) if shape else int(axis)
    index, size = int(index), shape[axis]
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
    index = index + size if index < 0 else index
    out = slice_in_dim(x, index, index + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


# ---- dynamic_slice / dynamic_update_slice ----
def _check_indices(prim, x, idx):
    if len(idx) != x.ndim:
        raise TypeError(f"{prim}: got {len(idx)} start indices for an array of rank {x.ndim}")
    for i in idx:
        if i.shape != () or not dtypes.is_int(i.dtype):
            raise TypeError(f"{prim}: start indices must be integer scalars, got "
                            f"{i.str_short()}")
    if len({i.dtype for i in idx}) > 1:
        raise TypeError(f"{prim}: start indices must all have the same dtype, got "
                        + ", ".join(i.dtype.name for i in idx))


def _dyn_slice_abstract(x, *idx, slice_sizes):
    _check_indices("dynamic_slice", x, idx)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= d for s, d in zip(slice_sizes, x.shape)):
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} do not fit shape {x.shape}")
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _dyn_slice_lower(ctx, x, *idx, slice_sizes):
    return ctx.op1("stablehlo.dynamic_slice", [x, *idx],
                   attrs=f"slice_sizes = {i64_array(slice_sizes)}")


dynamic_slice_p = define("dynamic_slice", _dyn_slice_abstract, _dyn_slice_lower)


def _index_args(idx):
    """Start indices as scalars of one integer dtype (StableHLO requires it): Python ints
    take the dtype of the array indices; mixed array dtypes widen to the largest."""
    idx = [i if dtypes.is_python_scalar(i) else lax_args(i)[0] for i in idx]
    arr_dts = {get_aval(i).dtype for i in idx if not dtypes.is_python_scalar(i)}
    target = max(arr_dts, key=lambda d: d.itemsize) if arr_dts else dtypes.int32
    if dtypes.is_unsigned(target) and len(arr_dts) > 1:
        target = dtypes.canonicalize_dtype(np.int64)
    from xtrace._src.prims.elementwise import convert_element_type
    out = []
    for i in idx:
        if dtypes.is_python_scalar(i):
            i = np.asarray(i, target)[()]
        elif get_aval(i).dtype != target:
            i = convert_element_type(i, target)
        out.append(i)
    return out


def _wrap_negative(idx, shape):
    """JAX's rule: a negative start index counts once from the end (then XLA clamps)."""
    from xtrace._src.prims.elementwise import add, lt, select
    out = []
    for i, d in zip(idx, shape):
        if isinstance(i, (np.integer, int)):
            out.append(np.asarray(i + d if i < 0 else i, np.asarray(i).dtype)[()])
        else:
            dt = get_aval(i).dtype
            if dtypes.is_unsigned(dt):
                out.append(i)
                continue
            out.append(select(lt(i, np.zeros((), dt)[()]), add(i, np.asarray(d, dt)[()]), i))
    return out


def _negative_indices(idx, shape, allow):
    """Apply ``allow_negative_indices`` (one bool, or one per dimension, as in JAX): wrap
    negative starts once where allowed; elsewhere a static negative start is a ValueError."""
    allow = [allow] * len(idx) if isinstance(allow, (bool, np.bool_)) else list(allow)
    if len(allow) != len(idx):
        raise ValueError(f"allow_negative_indices has {len(allow)} entries for {len(idx)} "
                         "start indices")
    out = []
    for i, d, a in zip(idx, shape, allow):
        if a:
            i, = _wrap_negative([i], [d])
        elif isinstance(i, (np.integer, int)) and i < 0:
            raise ValueError(f"Index {int(i)} is out of bounds for dimension {d} if "
                             "allow_negative_indices=False")
        out.append(i)
    return out


def dynamic_slice(x, start_indices: Sequence, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True):
    """Slice of ``slice_sizes`` at ``start_indices`` (negative ones count from the end once
    unless ``allow_negative_indices`` is False; then clamped so the slice fits, as in JAX)."""
    x, = lax_args(x)
    idx = _negative_indices(_index_args(start_indices), get_aval(x).shape,
                            allow_negative_indices)
    return dynamic_slice_p.bind(x, *idx, slice_sizes=_ints(slice_sizes, "slice_sizes"))


def _dus_abstract(x, update, *idx):
    _check_indices("dynamic_update_slice", x, idx)
    if update.dtype != x.dtype or update.ndim != x.ndim or any(
            u > d for u, d in zip(update.shape, x.shape)):
        raise TypeError(f"dynamic_update_slice: update {update.str_short()} does not fit "
                        f"operand {x.str_short()}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


dynamic_update_slice_p = define(
    "dynamic_update_slice", _dus_abstract,
    lambda ctx, x, u, *idx: ctx.op1("stablehlo.dynamic_update_slice", [x, u, *idx]))


def dynamic_update_slice(x, update, start_indices: Sequence, *,
                         allow_negative_indices: bool | Sequence[bool] = True):
    """``x`` with ``update`` written at ``start_indices`` (negative ones count from the end
    once unless ``allow_negative_indices`` is False; then clamped so the update fits, as in
    JAX)."""
    x, update = lax_args(x, update)
    idx = _negative_indices(_index_args(start_indices), get_aval(x).shape,
                            allow_negative_indices)
    return dynamic_update_slice_p.bind(x, update, *idx)


# ---- convenience wrappers (no primitives of their own) ----
def _shape_arg(shape, fname: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    out = _ints(shape, f"{fname}: shape")
    if any(d < 0 for d in out):
        raise ValueError(f"{fname}: negative dimensions are not allowed, got shape {out}")
    return out


def full(shape: Sequence[int], fill_value: Any, dtype: Any = None, *, sharding: Any = None):
    """An array of ``shape`` filled with the scalar ``fill_value`` (cast to ``dtype`` if
    given; otherwise its own dtype, weakly typed for Python scalars)."""
    from xtrace._src.prims.elementwise import convert_element_type
    shape = _shape_arg(shape, "full")
    fa = get_aval(fill_value)
    if fa.shape:
        raise TypeError(f"full must be called with scalar fill_value, got fill_value.shape "
                        f"{fa.shape}.")
    dt, weak = (fa.dtype, fa.weak_type) if dtype is None else (
        dtypes.canonicalize_dtype(dtype), False)
    return broadcast(convert_element_type(fill_value, dt, weak), shape)


def full_like(x: Any, fill_value: Any, dtype: Any = None, shape: Sequence[int] | None = None,
              sharding: Any = None):
    """An array like ``x`` (its shape and dtype unless ``shape``/``dtype`` are given) filled
    with ``fill_value``; it is weakly typed when ``x`` is and no ``dtype`` is given."""
    from xtrace._src.prims.elementwise import convert_element_type
    xa = get_aval(x)
    dt = xa.dtype if dtype is None else dtypes.canonicalize_dtype(dtype)
    out = full(xa.shape if shape is None else shape, fill_value, dt)
    if dtype is None and xa.weak_type:
        out = convert_element_type(out, dt, True)
    return out


def empty(shape: Sequence[int], dtype: Any, *, out_sharding: Any = None):
    """An array of ``shape`` and ``dtype`` whose values are unspecified (zeros here: XLA has
    no uninitialized memory)."""
    return full(shape, 0, dtype)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives ``shapes`` (ValueError if they are incompatible)."""
    if not shapes:
        raise TypeError("broadcast_shapes: at least one shape is required")
    shapes = [_ints(s, "broadcast_shapes: shape") for s in shapes]
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"Incompatible shapes for broadcasting: shapes={list(shapes)}") from None


def broadcast_like(arr, like_arr):
    """``arr`` broadcast (numpy-style, leading dimensions added) to the shape of ``like_arr``."""
    arr, = lax_args(arr)
    a, target = get_aval(arr).shape, get_aval(like_arr).shape
    out = broadcast_shapes(a, target)
    if out != tuple(target):
        raise ValueError(f"broadcast_like: cannot broadcast shape {a} to shape {target}")
    dims = tuple(range(len(target) - len(a), len(target)))
    return broadcast_in_dim(arr, target, dims)


def tile(operand, reps: Sequence[int]):
    """``operand`` repeated ``reps[i]`` times along each dimension ``i``."""
    operand, = lax_args(operand)
    reps = _ints(reps, "tile: reps")
    shape = get_aval(operand).shape
    if len(reps) != len(shape):
        raise TypeError(f"reps length must be equal to the ndim of x, got len(reps)="
                        f"{len(reps)} and x.ndim={len(shape)}.")
    wide = tuple(d for r, n in zip(reps, shape) for d in (r, n))
    y = broadcast_in_dim(operand, wide, tuple(range(1, 2 * len(shape), 2)))
    return reshape(y, tuple(r * n for r, n in zip(reps, shape)))


def split(operand, sizes: Sequence[int], axis: int = 0) -> list:
    """Pieces of ``operand`` along ``axis`` of the given ``sizes`` (which sum to its size)."""
    operand, = lax_args(operand)
    sizes = _ints(sizes, "split: sizes")
    shape = get_aval(operand).shape
    axis = check_axes("split", (int(axis),), len(shape))[0]
    if any(s < 0 for s in sizes):
        raise ValueError(f"Sizes passed to split must be nonnegative, got {list(sizes)}")
    if sum(sizes) != shape[axis]:
        raise ValueError(f"Sum of sizes {sum(sizes)} must be equal to dimension {axis} of the "
                         f"operand shape {list(shape)}")
    starts = np.cumsum((0,) + sizes)
    return [slice_in_dim(operand, int(a), int(b), 1, axis)
            for a, b in zip(starts[:-1], starts[1:])]


def stack(operands: Sequence, axis: int = 0):
    """Join arrays of one shape along a new dimension ``axis``."""
    ops = lax_args(*operands)
    if not ops:
        raise ValueError("stack: need at least one array to stack")
    nd = get_aval(ops[0]).ndim + 1
    axis = check_axes("stack", (int(axis),), nd)[0]
    return concatenate([expand_dims(o, (axis,)) for o in ops], axis)


def unstack(x, axis: int = 0) -> tuple:
    """The slices of ``x`` along ``axis``, as a tuple (the inverse of ``stack``)."""
    x, = lax_args(x)
    shape = get_aval(x).shape
    axis = check_axes("unstack", (int(axis),), len(shape))[0]
    return tuple(index_in_dim(x, i, axis, keepdims=False) for i in range(shape[axis]))


def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
    """``operand`` with dimensions ``[start_dimension, stop_dimension)`` merged into one
    (row-major)."""
    operand, = lax_args(operand)
    shape = get_aval(operand).shape
    lo, hi, _ = builtins.slice(start_dimension, stop_dimension).indices(len(shape))
    if hi < lo:
        raise ValueError(f"Invalid dimension range passed to collapse: {shape}"
                         f"[{start_dimension}:{stop_dimension}]")
    size = int(np.prod(shape[lo:hi], dtype=np.int64))
    return reshape(operand, shape[:lo] + (size,) + shape[hi:])


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True):
    """``dynamic_slice`` of ``slice_size`` elements from ``start_index`` along ``axis``."""
    operand, = lax_args(operand)
    shape = get_aval(operand).shape
    axis = check_axes("dynamic_slice_in_dim", (int(axis),), len(shape))[0]
    starts = [0] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = int(slice_size)
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True):
    """Element ``index`` along ``axis`` (a size-1 dimension unless ``keepdims`` is False)."""
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    if keepdims:
        return out
    return squeeze(out, (axis % get_aval(out).ndim,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int, *,
                                allow_negative_indices: bool = True):
    """``dynamic_update_slice`` of ``update`` at ``start_index`` along ``axis``."""
    operand, = lax_args(operand)
    nd = get_aval(operand).ndim
    axis = check_axes("dynamic_update_slice_in_dim", (int(axis),), nd)[0]
    starts = [0] * nd
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts,
                                allow_negative_indices=allow_negative_indices)


def dynamic_update_index_in_dim(operand, update, index, axis: int, *,
                                allow_negative_indices: bool = True):
    """Write ``update`` at ``index`` along ``axis`` (``update`` may lack that dimension)."""
    operand, update = lax_args(operand, update)
    nd = get_aval(operand).ndim
    axis = check_axes("dynamic_update_index_in_dim", (int(axis),), nd)[0]
    if get_aval(update).ndim == nd - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)


# ---------------------------------------------------------------------------------------------
# Differentiation rules: every primitive here is linear in its array operands.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero, deflinear, defjvp_zero, is_undefined  # noqa: E402


def _zeros(aval):
    return ad.zeros_like_aval(ad.tangent_aval(aval))


def _t_broadcast_in_dim(ct, x, *, shape, broadcast_dimensions):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    from xtrace._src.prims.reductions import reduce_sum
    in_shape = x.aval.shape
    sum_axes = [d for d in range(len(shape)) if d not in broadcast_dimensions]
    sum_axes += [d for i, d in enumerate(broadcast_dimensions)
                 if in_shape[i] == 1 and shape[d] != 1]
    out = reduce_sum(ct, sorted(sum_axes)) if sum_axes else ct
    return [reshape(out, in_shape)]


deflinear(broadcast_in_dim_p, _t_broadcast_in_dim)


def _t_reshape(ct, x, *, new_sizes, dimensions):
    if dimensions is None or tuple(dimensions) == tuple(range(len(dimensions))):
        return [reshape(ct, x.aval.shape)]
    inv = tuple(np.argsort(dimensions))
    return [transpose(reshape(ct, [x.aval.shape[d] for d in dimensions]), inv)]


deflinear(reshape_p, _t_reshape)
deflinear(transpose_p, lambda ct, x, *, permutation: [
    transpose(ct, tuple(int(i) for i in np.argsort(permutation)))])
deflinear(rev_p, lambda ct, x, *, dimensions: [rev(ct, dimensions)])
deflinear(squeeze_p, lambda ct, x, *, dimensions: [reshape(ct, x.aval.shape)])
deflinear(expand_dims_p, lambda ct, x, *, dimensions: [reshape(ct, x.aval.shape)])


def _t_concatenate(ct, *xs, dimension):
    res, start = [], 0
    for x in xs:
        shape = ad.get_aval(x).shape if not is_undefined(x) else x.aval.shape
        size = shape[dimension]
        if is_undefined(x):
            res.append(slice_in_dim(ct, start, start + size, 1, dimension))
        else:
            res.append(None)
        start += size
    return res


def _jvp_linear_instantiate(prim):
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if all(isinstance(t, Zero) for t in tangents):
            return out, ad.zero_of(out)
        return out, prim.bind(*[ad.instantiate(t) for t in tangents], **params)
    return rule


concatenate_p.jvp, concatenate_p.transpose = _jvp_linear_instantiate(concatenate_p), \
    _t_concatenate


def _t_pad(ct, x, pv, *, padding_config):
    from xtrace._src.prims.reductions import reduce_sum
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    aval = ad.get_aval(ct)
    unpad = pad(ct, np.zeros((), aval.dtype)[()], [(-a, -b, 0) for a, b in zip(lo, hi)])
    t_x = slice(unpad, [0] * aval.ndim, ad.get_aval(unpad).shape, [i + 1 for i in interior])
    res_x = t_x if is_undefined(x) else None
    res_pv = None
    if is_undefined(pv):
        from xtrace._src.prims.elementwise import sub
        axes = tuple(range(aval.ndim))
        res_pv = sub(reduce_sum(ct, axes), reduce_sum(t_x, axes)) if axes else ct
    return [res_x, res_pv]


pad_p.jvp, pad_p.transpose = _jvp_linear_instantiate(pad_p), _t_pad


def _t_slice(ct, x, *, start_indices, limit_indices, strides):
    shape = x.aval.shape
    strides = strides or (1,) * len(shape)
    out_shape = ad.get_aval(ct).shape
    real_limits = [s + (n - 1) * st + 1 if n else s
                   for s, n, st in zip(start_indices, out_shape, strides)]
    cfg = [(s, d - l, st - 1) for s, d, l, st in zip(start_indices, shape, real_limits, strides)]
    if any(n == 0 for n in out_shape):
        return [_zeros(x.aval)]
    return [pad(ct, np.zeros((), x.aval.dtype)[()], cfg)]


deflinear(slice_p, _t_slice)


def _dyn_slice_jvp(primals, tangents, *, slice_sizes):
    x, *idx = primals
    out = dynamic_slice_p.bind(x, *idx, slice_sizes=slice_sizes)
    if isinstance(tangents[0], Zero):
        return out, ad.zero_of(out)
    return out, dynamic_slice_p.bind(tangents[0], *idx, slice_sizes=slice_sizes)


def _dyn_slice_transpose(ct, x, *idx, slice_sizes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)] + [None] * len(idx)
    return [dynamic_update_slice_p.bind(_zeros(x.aval), ct, *idx)] + [None] * len(idx)


dynamic_slice_p.jvp, dynamic_slice_p.transpose = _dyn_slice_jvp, _dyn_slice_transpose


def _dus_jvp(primals, tangents):
    x, u, *idx = primals
    tx, tu = tangents[:2]
    out = dynamic_update_slice_p.bind(x, u, *idx)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return out, ad.zero_of(out)
    return out, dynamic_update_slice_p.bind(ad.instantiate(tx, ad.get_aval(x)),
                                            ad.instantiate(tu, ad.get_aval(u)), *idx)


def _dus_transpose(ct, x, u, *idx):
    u_aval = u.aval if is_undefined(u) else ad.get_aval(u)
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None,
                Zero(u_aval) if is_undefined(u) else None] + [None] * len(idx)
    t_x = dynamic_update_slice_p.bind(ct, _zeros(u_aval), *idx) if is_undefined(x) else None
    t_u = dynamic_slice_p.bind(ct, *idx, slice_sizes=u_aval.shape) if is_undefined(u) else None
    return [t_x, t_u] + [None] * len(idx)


dynamic_update_slice_p.jvp, dynamic_update_slice_p.transpose = _dus_jvp, _dus_transpose
defjvp_zero(iota_p)


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above. Most keep the batch dimension where it is and
# only renumber the axes in their params; iota has no operands, so it is never batched.
from xtrace._src import batching  # noqa: E402
from xtrace._src.batching import matchaxis, shift_axis  # noqa: E402


def _insert_at(seq, pos: int, item) -> tuple:
    seq = list(seq)
    seq.insert(pos, item)
    return tuple(seq)


def _batch_pos(example_pos: Sequence[int], d: int) -> int:
    """Where to put the batch dim in an output whose example dims hold the operand's dims at
    increasing ``example_pos``: right after the operand dim before the batch dim ``d``, so
    that the operand dims keep their order around it (no transpose needed)."""
    return example_pos[d - 1] + 1 if d > 0 else 0


def _bid_batch(axis, vals, dims, *, shape, broadcast_dimensions):
    x, = vals
    d, = dims
    p = _batch_pos(broadcast_dimensions, d)
    bd = _insert_at([shift_axis(b, p) for b in broadcast_dimensions], d, p)
    return broadcast_in_dim_p.bind(x, shape=_insert_at(shape, p, axis.size),
                                   broadcast_dimensions=bd), p


def _reshape_batch(axis, vals, dims, *, new_sizes, dimensions):
    # reshape's ``dimensions`` transposes first: put the batch dim in front in the same op.
    x, = vals
    d, = dims
    n = get_aval(x).ndim - 1
    if d == 0 and dimensions is None:
        new_dims = None
    else:
        order = range(n) if dimensions is None else dimensions
        new_dims = (d,) + tuple(shift_axis(k, d) for k in order)
    return reshape_p.bind(x, new_sizes=(axis.size,) + tuple(new_sizes), dimensions=new_dims), 0


def _transpose_batch(axis, vals, dims, *, permutation):
    x, = vals
    d, = dims
    perm = _insert_at([shift_axis(p, d) for p in permutation], d, d)
    return transpose_p.bind(x, permutation=perm), d


def _rev_batch(axis, vals, dims, *, dimensions):
    x, = vals
    d, = dims
    return rev_p.bind(x, dimensions=tuple(shift_axis(k, d) for k in dimensions)), d


def _squeeze_batch(axis, vals, dims, *, dimensions):
    x, = vals
    d, = dims
    out_d = d - sum(k < d for k in dimensions)
    return squeeze_p.bind(x, dimensions=tuple(shift_axis(k, d) for k in dimensions)), out_d


def _expand_dims_batch(axis, vals, dims, *, dimensions):
    x, = vals
    d, = dims
    n_out = get_aval(x).ndim - 1 + len(dimensions)
    kept = [i for i in range(n_out) if i not in dimensions]  # where the operand dims land
    p = _batch_pos(kept, d)
    return expand_dims_p.bind(x, dimensions=tuple(shift_axis(k, p) for k in dimensions)), p


def _concatenate_batch(axis, vals, dims, *, dimension):
    d = next(b for b in dims if b is not None)
    xs = [matchaxis(x, b, d, axis.size) for x, b in zip(vals, dims)]
    return concatenate_p.bind(*xs, dimension=shift_axis(dimension, d)), d


def _pad_batch(axis, vals, dims, *, padding_config):
    x, pv = vals
    xd, pd = dims
    if pd is None:  # one padding value for all: the batch dim is just not padded
        cfg = _insert_at(padding_config, xd, (0, 0, 0))
        return pad_p.bind(x, pv, padding_config=cfg), xd
    # A padding value per example: pad with zeros, then select each example's value where a
    # padded mask of the operand's shape says the element is padding.
    from xtrace._src.prims.elementwise import select
    d = 0 if xd is None else xd
    x = matchaxis(x, xd, d, axis.size)
    dt = get_aval(x).dtype
    cfg = _insert_at(padding_config, d, (0, 0, 0))
    out = pad_p.bind(x, np.zeros((), dt)[()], padding_config=cfg)
    shape = get_aval(out).shape
    ones = broadcast_in_dim_p.bind(np.bool_(True), shape=get_aval(x).shape,
                                   broadcast_dimensions=())
    is_x = pad_p.bind(ones, np.bool_(False), padding_config=cfg)
    values = broadcast_in_dim_p.bind(pv, shape=shape, broadcast_dimensions=(d,))
    return select(is_x, out, values), d


def _slice_batch(axis, vals, dims, *, start_indices, limit_indices, strides):
    x, = vals
    d, = dims
    return slice_p.bind(x, start_indices=_insert_at(start_indices, d, 0),
                        limit_indices=_insert_at(limit_indices, d, axis.size),
                        strides=None if strides is None else _insert_at(strides, d, 1)), d


def _zero_index(idx):
    """A 0 start index of the dtype of ``idx`` (int32 when there are none)."""
    dt = get_aval(idx[0]).dtype if idx else np.dtype(np.int32)
    return np.zeros((), dt)[()]


def _stacked_indices(size: int, idx, idims):
    """The start indices as one (batch, n) array of index vectors, for a gather / scatter."""
    cols = [broadcast_in_dim_p.bind(i, shape=(size, 1), broadcast_dimensions=(0,) if b == 0
                                    else ()) for i, b in zip(idx, idims)]
    return cols[0] if len(cols) == 1 else concatenate_p.bind(*cols, dimension=1)


def _dyn_slice_batch(axis, vals, dims, *, slice_sizes):
    x, *idx = vals
    xd, *idims = dims
    if all(b is None for b in idims):  # the same window for all: take the whole batch dim
        idx = _insert_at(idx, xd, _zero_index(idx))
        return dynamic_slice_p.bind(x, *idx, slice_sizes=_insert_at(slice_sizes, xd,
                                                                    axis.size)), xd
    # A window per example: a gather with one index vector per example (batch dim 0 of the
    # output), paired with the operand's batch dim when it has one. CLIP clamps the starts as
    # dynamic_slice does.
    from xtrace._src.prims.indexing import GatherDimensionNumbers, GatherScatterMode, gather_p
    n = len(idx)
    starts = _stacked_indices(axis.size, idx, idims)
    window = tuple(range(1, n + 1))
    if xd is None:
        dn = GatherDimensionNumbers(offset_dims=window, collapsed_slice_dims=(),
                                    start_index_map=tuple(range(n)))
        sizes = tuple(slice_sizes)
    else:
        x = batching.moveaxis(x, xd, 0)
        dn = GatherDimensionNumbers(offset_dims=window, collapsed_slice_dims=(),
                                    start_index_map=window, operand_batching_dims=(0,),
                                    start_indices_batching_dims=(0,))
        sizes = (1,) + tuple(slice_sizes)
    return gather_p.bind(x, starts, dimension_numbers=dn, slice_sizes=sizes,
                         indices_are_sorted=False, unique_indices=False,
                         mode=GatherScatterMode.CLIP, fill_value=None), 0


def _dus_batch(axis, vals, dims):
    x, u, *idx = vals
    xd, ud, *idims = dims
    if all(b is None for b in idims):  # the same window for all: it spans the batch dim
        d = xd if xd is not None else ud
        x, u = matchaxis(x, xd, d, axis.size), matchaxis(u, ud, d, axis.size)
        return dynamic_update_slice_p.bind(x, u, *_insert_at(idx, d, _zero_index(idx))), d
    # A window per example: a scatter of each example's update into its own example (paired
    # batch dims), clamping the starts as dynamic_update_slice does.
    from xtrace._src.prims.indexing import (GatherScatterMode, ScatterDimensionNumbers,
                                            scatter_p)
    n = len(idx)
    x, u = matchaxis(x, xd, 0, axis.size), matchaxis(u, ud, 0, axis.size)
    window = tuple(range(1, n + 1))
    dn = ScatterDimensionNumbers(update_window_dims=window, inserted_window_dims=(),
                                 scatter_dims_to_operand_dims=window,
                                 operand_batching_dims=(0,), scatter_indices_batching_dims=(0,))
    return scatter_p.bind(x, _stacked_indices(axis.size, idx, idims), u, dimension_numbers=dn,
                          indices_are_sorted=True, unique_indices=True,
                          mode=GatherScatterMode.CLIP), 0


broadcast_in_dim_p.batch = _bid_batch
reshape_p.batch = _reshape_batch
transpose_p.batch = _transpose_batch
rev_p.batch = _rev_batch
squeeze_p.batch = _squeeze_batch
expand_dims_p.batch = _expand_dims_batch
concatenate_p.batch = _concatenate_batch
pad_p.batch = _pad_batch
slice_p.batch = _slice_batch
dynamic_slice_p.batch = _dyn_slice_batch
dynamic_update_slice_p.batch = _dus_batch
