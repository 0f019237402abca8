"""Gather and scatter: the primitives behind NumPy's integer-array indexing and ``x.at[...]``.

Semantics and parameter names follow ``jax.lax``: the index vector is always the last dimension
of the indices; ``mode`` says what happens to out-of-bounds indices:

* ``PROMISE_IN_BOUNDS``: XLA's native behaviour (gather clamps starts, scatter drops windows);
* ``CLIP``: indices are clamped so that every slice / window lies in bounds;
* ``FILL_OR_DROP``: gather returns ``fill_value`` for out-of-bounds slices, scatter skips them.
"""
from __future__ import annotations

import enum
import functools
from typing import Any, NamedTuple, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import LowerCtx, i64_array, tensor_type
from xtrace._src.prims.common import ANY, NUM, check_kind, define, lax_args
from xtrace._src.prims.elementwise import _compare_type
from xtrace._src.prims.reductions import HLO_BINARY


class GatherScatterMode(enum.Enum):
    """How gather / scatter treat out-of-bounds indices (see the module docstring)."""
    CLIP = 1
    FILL_OR_DROP = 2
    PROMISE_IN_BOUNDS = 3

    @staticmethod
    def from_any(s: "str | GatherScatterMode | None") -> "GatherScatterMode":
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f"Unknown gather/scatter mode {s!r}; expected 'clip', 'fill', 'drop' "
                         "or 'promise_in_bounds'")


class GatherDimensionNumbers(NamedTuple):
    """How gather maps ``start_indices`` (index vector last) onto the operand.

    * ``offset_dims``: output dims holding the slice dims that are not collapsed;
    * ``collapsed_slice_dims``: operand dims whose size-1 slice dim is dropped;
    * ``start_index_map``: operand dim indexed by each entry of the index vector;
    * ``operand_batching_dims`` / ``start_indices_batching_dims``: paired batch dims."""
    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How scatter maps ``scatter_indices`` (index vector last) and ``updates`` onto the operand.

    * ``update_window_dims``: dims of ``updates`` that are window dims;
    * ``inserted_window_dims``: operand dims with an implicit size-1 window dim;
    * ``scatter_dims_to_operand_dims``: operand dim indexed by each entry of the index vector;
    * ``operand_batching_dims`` / ``scatter_indices_batching_dims``: paired batch dims."""
    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


def _canon_dnums(cls, dnums):
    if not isinstance(dnums, tuple):
        raise TypeError(f"dimension_numbers must be a {cls.__name__}, got {dnums!r}")
    return cls(*(tuple(int(d) for d in f) for f in dnums))


# ---------------------------------------------------------------------------------------------
# Shared checks


def _check_dims(prim: str, name: str, dims: Sequence[int], rank: int, *, sorted_: bool = True):
    for d in dims:
        if not 0 <= d < rank:
            raise TypeError(f"{prim}: {name} {tuple(dims)} has dim {d} out of range [0, {rank})")
    if len(set(dims)) != len(dims):
        raise TypeError(f"{prim}: {name} {tuple(dims)} must not repeat")
    if sorted_ and list(dims) != sorted(dims):
        raise TypeError(f"{prim}: {name} {tuple(dims)} must be sorted")


def _check_disjoint(prim: str, n1: str, d1, n2: str, d2) -> None:
    if set(d1) & set(d2):
        raise TypeError(f"{prim}: {n1} {tuple(d1)} and {n2} {tuple(d2)} must be disjoint")


def _check_indices(prim: str, indices: ShapedArray, n_index: int, index_name: str) -> None:
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"{prim}: indices must have an integer dtype, got {indices.str_short()}")
    if indices.ndim == 0:
        raise TypeError(f"{prim}: indices must have at least one dimension (the index vector is "
                        f"the last one), got a scalar")
    if indices.shape[-1] != n_index:
        raise TypeError(f"{prim}: {index_name} has {n_index} entries but the index vector "
                        f"(last dim of indices {indices.shape}) has size {indices.shape[-1]}")


def _check_batching(prim, operand, indices, op_name, op_dims, idx_name, idx_dims):
    _check_dims(prim, op_name, op_dims, operand.ndim)
    _check_dims(prim, idx_name, idx_dims, indices.ndim - 1, sorted_=False)
    if len(op_dims) != len(idx_dims):
        raise TypeError(f"{prim}: {op_name} {op_dims} and {idx_name} {idx_dims} must have the "
                        "same length")
    ob = tuple(operand.shape[d] for d in op_dims)
    ib = tuple(indices.shape[d] for d in idx_dims)
    if ob != ib:
        raise TypeError(f"{prim}: operand batching dims have shape {ob} but indices batching "
                        f"dims have shape {ib}")


# ---------------------------------------------------------------------------------------------
# Lowering helpers


def _cmp(ctx: LowerCtx, x: str, y: str, aval: ShapedArray, direction: str) -> str:
    return ctx.op1("stablehlo.compare", [x, y], aval.update(dtype=dtypes.bool_),
                   f"comparison_direction = #stablehlo<comparison_direction {direction}>, "
                   f"compare_type = #stablehlo<comparison_type {_compare_type(aval.dtype)}>",
                   operand_avals=[aval, aval])


def _bounds(ctx: LowerCtx, indices: ShapedArray, upper: Sequence[int]) -> tuple[str, str]:
    """Constants 0 and ``upper`` (one bound per index-vector entry) shaped like ``indices``."""
    ia = indices.update(weak_type=False)
    hi = np.minimum(np.asarray(upper, np.int64), np.iinfo(ia.dtype).max).astype(ia.dtype)
    ha = ShapedArray(hi.shape, ia.dtype)
    hi = ctx.op1("stablehlo.broadcast_in_dim", [ctx.constant(hi, ha)], ia, operand_avals=[ha],
                 attrs=f"broadcast_dimensions = {i64_array([ia.ndim - 1])}")
    return ctx.constant(0, ia), hi


def _upper_bounds(operand: ShapedArray, index_map, window) -> list[int]:
    return [operand.shape[d] - window[d] for d in index_map]


# ---------------------------------------------------------------------------------------------
# gather


def _gather_abstract(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
                     unique_indices, mode, fill_value):
    dn = dimension_numbers
    _check_indices("gather", indices, len(dn.start_index_map), "start_index_map")
    batch_shape = indices.shape[:-1]
    out_rank = len(dn.offset_dims) + len(batch_shape)
    _check_dims("gather", "offset_dims", dn.offset_dims, out_rank)
    _check_dims("gather", "collapsed_slice_dims", dn.collapsed_slice_dims, operand.ndim)
    _check_dims("gather", "start_index_map", dn.start_index_map, operand.ndim, sorted_=False)
    _check_batching("gather", operand, indices, "operand_batching_dims",
                    dn.operand_batching_dims, "start_indices_batching_dims",
                    dn.start_indices_batching_dims)
    _check_disjoint("gather", "collapsed_slice_dims", dn.collapsed_slice_dims,
                    "operand_batching_dims", dn.operand_batching_dims)
    _check_disjoint("gather", "start_index_map", dn.start_index_map,
                    "operand_batching_dims", dn.operand_batching_dims)
    if len(slice_sizes) != operand.ndim:
        raise TypeError(f"gather: slice_sizes {slice_sizes} must have one entry per dimension "
                        f"of the operand {operand.shape}")
    for i, (s, d) in enumerate(zip(slice_sizes, operand.shape)):
        if not 0 <= s <= d:
            raise TypeError(f"gather: slice_sizes {slice_sizes} do not fit operand shape "
                            f"{operand.shape} (dim {i})")
    for d in dn.collapsed_slice_dims:
        if slice_sizes[d] != 1:
            raise TypeError(f"gather: collapsed dims need slice size 1, but "
                            f"slice_sizes[{d}] = {slice_sizes[d]}")
    for d in dn.operand_batching_dims:  # 0 for an empty batch (as StableHLO allows)
        if slice_sizes[d] > 1:
            raise TypeError(f"gather: batching dims need slice size 0 or 1, but "
                            f"slice_sizes[{d}] = {slice_sizes[d]}")
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window = [s for i, s in enumerate(slice_sizes) if i not in dropped]
    if len(window) != len(dn.offset_dims):
        raise TypeError(f"gather: offset_dims {dn.offset_dims} must name one output dim per "
                        f"operand dim that is neither collapsed nor batching ({len(window)})")
    win, bat = iter(window), iter(batch_shape)
    shape = [next(win) if i in dn.offset_dims else next(bat) for i in range(out_rank)]
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _gather_attrs(dn: GatherDimensionNumbers, slice_sizes, index_vector_dim: int,
                  indices_are_sorted: bool) -> str:
    return ("dimension_numbers = #stablehlo.gather<"
            f"offset_dims = {list(dn.offset_dims)}, "
            f"collapsed_slice_dims = {list(dn.collapsed_slice_dims)}, "
            f"operand_batching_dims = {list(dn.operand_batching_dims)}, "
            f"start_indices_batching_dims = {list(dn.start_indices_batching_dims)}, "
            f"start_index_map = {list(dn.start_index_map)}, "
            f"index_vector_dim = {index_vector_dim}>, "
            f"slice_sizes = {i64_array(slice_sizes)}, "
            f"indices_are_sorted = {'true' if indices_are_sorted else 'false'}")


def _gather_lower(ctx, operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
                  unique_indices, mode, fill_value):
    xa, ia = ctx.avals_in
    out = ctx.avals_out[0]
    if out.size == 0:
        return ctx.constant(0, out)
    dn = dimension_numbers
    # XLA's gather clamps start indices so that each slice fits: that is CLIP's meaning.
    res = ctx.op1("stablehlo.gather", [operand, indices],
                  attrs=_gather_attrs(dn, slice_sizes, ia.ndim - 1, indices_are_sorted),
                  operand_avals=[xa, ia])
    if mode != GatherScatterMode.FILL_OR_DROP:
        return res
    # Out-of-bounds slices read fill_value: mask = all(0 <= idx <= dim - slice_size).
    lo, hi = _bounds(ctx, ia, _upper_bounds(xa, dn.start_index_map, slice_sizes))
    ba = ia.update(dtype=dtypes.bool_, weak_type=False)
    ok = ctx.op1("stablehlo.and", [_cmp(ctx, indices, lo, ia, "GE"),
                                   _cmp(ctx, indices, hi, ia, "LE")], ba, operand_avals=[ba, ba])
    sb = ShapedArray((), dtypes.bool_)
    region = _region(ctx, dtypes.bool_, "and")
    ok_a = ShapedArray(ia.shape[:-1], dtypes.bool_)
    ok = ctx.op("stablehlo.reduce", [ok, ctx.constant(True, sb)], [ok_a],
                operand_avals=[ba, sb], regions=[region],
                attrs=f"dimensions = {i64_array([ia.ndim - 1])}")[0]
    batch_pos = [i for i in range(out.ndim) if i not in dn.offset_dims]
    ob = out.update(dtype=dtypes.bool_, weak_type=False)
    ok = ctx.op1("stablehlo.broadcast_in_dim", [ok], ob, operand_avals=[ok_a],
                 attrs=f"broadcast_dimensions = {i64_array(batch_pos)}")
    fill = ctx.constant(fill_value, out.update(weak_type=False))
    return ctx.op1("stablehlo.select", [ok, res, fill], operand_avals=[ob, out, out])


gather_p = define("gather", _gather_abstract, _gather_lower)


_NAN = float("nan")


def _default_fill(dt: np.dtype):
    if dtypes.is_inexact(dt):
        return np.nan
    if dtypes.is_signed_int(dt):
        return int(np.iinfo(dt).min)
    if dtypes.is_unsigned(dt):
        return int(np.iinfo(dt).max)
    return True


def _index_arg(x):
    x, = lax_args(x)
    if dtypes.is_python_scalar(x):
        x = np.asarray(x, dtypes.default_int())
    return x


def gather(operand, start_indices, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Sequence[int], *, indices_are_sorted: bool = False,
           unique_indices: bool = False, mode: str | GatherScatterMode | None = None,
           fill_value: Any = None):
    """XLA gather (``jax.lax.gather``): slices of ``operand`` starting at ``start_indices``.

    ``mode`` defaults to ``"promise_in_bounds"`` (XLA clamps); with ``"fill"`` out-of-bounds
    slices read ``fill_value`` (default: NaN for inexact dtypes, the minimum of signed ints,
    the maximum of unsigned ints, True for bool)."""
    operand, = lax_args(operand)
    idx = _index_arg(start_indices)
    m = GatherScatterMode.from_any("promise_in_bounds" if mode is None else mode)
    dt = get_aval(operand).dtype
    if m == GatherScatterMode.FILL_OR_DROP:
        fill = _default_fill(dt) if fill_value is None else fill_value
        if np.ndim(fill) != 0:
            raise ValueError(f"gather: fill_value must be a scalar, got shape {np.shape(fill)}")
        fill_value = np.asarray(fill).astype(dt).item()
        if fill_value != fill_value:  # one NaN object, so that equal params compare equal
            fill_value = _NAN
    else:
        fill_value = None
    return gather_p.bind(operand, idx,
                         dimension_numbers=_canon_dnums(GatherDimensionNumbers, dimension_numbers),
                         slice_sizes=tuple(int(s) for s in slice_sizes),
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices), mode=m, fill_value=fill_value)


# ---------------------------------------------------------------------------------------------
# scatter, scatter_add, scatter_mul, scatter_min, scatter_max


def _region(ctx: LowerCtx, dt: np.dtype, op: str | None) -> str:
    """The update region ``(a, b) -> op(a, b)``; ``op=None`` returns ``b`` (plain scatter)."""
    em = ctx.emitter
    sa = ShapedArray((), dt)
    t = tensor_type(sa)
    a, b = em.fresh(sa), em.fresh(sa)
    saved = em.lines, em.indent
    em.lines, em.indent = [], em.indent + 4
    r = b if op is None else _combine(em, op, a, b, sa)
    em.lines.append(" " * em.indent + f'"stablehlo.return"({r}) : ({t}) -> ()')
    body = em.lines
    em.lines, em.indent = saved
    return ("{\n" + " " * (em.indent + 2) + f"^bb0({a}: {t}, {b}: {t}):\n" + "\n".join(body)
            + "\n" + " " * em.indent + "}")


def _combine(em, op: str, a: str, b: str, sa: ShapedArray) -> str:
    if sa.dtype == dtypes.bool_:
        op = {"max": "or", "min": "and"}.get(op, op)
    if not dtypes.is_complex(sa.dtype) or op not in ("max", "min"):
        return em.op(HLO_BINARY[op], [a, b], [sa, sa], [sa])[0]
    # Complex max/min compare lexicographically (real part, then imaginary part), as in JAX.
    part = ShapedArray((), dtypes.float32 if sa.dtype == dtypes.complex64 else dtypes.float64)
    sb = ShapedArray((), dtypes.bool_)
    ar, ai, br, bi = (em.op(f"stablehlo.{f}", [v], [sa], [part])[0]
                      for v in (a, b) for f in ("real", "imag"))

    def cmp(x, y, d):
        return em.op("stablehlo.compare", [x, y], [part, part], [sb],
                     f"comparison_direction = #stablehlo<comparison_direction {d}>, "
                     "compare_type = #stablehlo<comparison_type FLOAT>")[0]
    d = "GT" if op == "max" else "LT"
    tie = em.op("stablehlo.and", [cmp(ar, br, "EQ"), cmp(ai, bi, d)], [sb, sb], [sb])[0]
    pick_a = em.op("stablehlo.or", [cmp(ar, br, d), tie], [sb, sb], [sb])[0]
    return em.op("stablehlo.select", [pick_a, a, b], [sb, sa, sa], [sa])[0]


def _scatter_window(operand: ShapedArray, updates: ShapedArray,
                    dn: ScatterDimensionNumbers) -> list[int]:
    """The window size in every operand dim (1 for inserted and batching dims)."""
    sizes, uw = [], iter(dn.update_window_dims)
    for d in range(operand.ndim):
        if d in dn.inserted_window_dims or d in dn.operand_batching_dims:
            sizes.append(1)
        else:
            sizes.append(updates.shape[next(uw)])
    return sizes


def _scatter_abstract(name, kinds, operand, indices, updates, *, dimension_numbers,
                      indices_are_sorted, unique_indices, mode):
    dn = dimension_numbers
    check_kind(name, operand, kinds)
    if updates.dtype != operand.dtype:
        raise TypeError(f"{name}: updates dtype {updates.dtype.name} must equal the operand "
                        f"dtype {operand.dtype.name}")
    _check_indices(name, indices, len(dn.scatter_dims_to_operand_dims),
                   "scatter_dims_to_operand_dims")
    _check_dims(name, "update_window_dims", dn.update_window_dims, updates.ndim)
    _check_dims(name, "inserted_window_dims", dn.inserted_window_dims, operand.ndim)
    _check_dims(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                operand.ndim, sorted_=False)
    _check_batching(name, operand, indices, "operand_batching_dims", dn.operand_batching_dims,
                    "scatter_indices_batching_dims", dn.scatter_indices_batching_dims)
    _check_disjoint(name, "inserted_window_dims", dn.inserted_window_dims,
                    "operand_batching_dims", dn.operand_batching_dims)
    _check_disjoint(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                    "operand_batching_dims", dn.operand_batching_dims)
    n_window = operand.ndim - len(dn.inserted_window_dims) - len(dn.operand_batching_dims)
    if len(dn.update_window_dims) != n_window:
        raise TypeError(f"{name}: update_window_dims {dn.update_window_dims} must name one "
                        f"updates dim per operand dim that is neither inserted nor batching "
                        f"({n_window}) for operand {operand.shape}")
    scatter_shape = tuple(s for i, s in enumerate(updates.shape)
                          if i not in dn.update_window_dims)
    if scatter_shape != indices.shape[:-1]:
        raise TypeError(f"{name}: the scatter dims of updates {updates.shape} (all but "
                        f"update_window_dims {dn.update_window_dims}) have shape "
                        f"{scatter_shape}, but the indices {indices.shape} need "
                        f"{indices.shape[:-1]}")
    for d, w in enumerate(_scatter_window(operand, updates, dn)):
        # (only window dims: an inserted or batching dim may be empty, its windows dropped)
        if w > operand.shape[d] and d not in dn.inserted_window_dims + dn.operand_batching_dims:
            raise TypeError(f"{name}: window size {w} of updates {updates.shape} is larger "
                            f"than operand dim {d} of {operand.shape}")
    return operand


def _scatter_lower(op, ctx, operand, indices, updates, *, dimension_numbers,
                   indices_are_sorted, unique_indices, mode):
    xa, ia, ua = ctx.avals_in
    if ua.size == 0:
        return operand
    dn = dimension_numbers
    if mode == GatherScatterMode.CLIP:
        upper = _upper_bounds(xa, dn.scatter_dims_to_operand_dims,
                              _scatter_window(xa, ua, dn))
        lo, hi = _bounds(ctx, ia, upper)
        indices = ctx.op1("stablehlo.clamp", [lo, indices, hi], ia, operand_avals=[ia] * 3)
    attrs = ("scatter_dimension_numbers = #stablehlo.scatter<"
             f"update_window_dims = {list(dn.update_window_dims)}, "
             f"inserted_window_dims = {list(dn.inserted_window_dims)}, "
             f"input_batching_dims = {list(dn.operand_batching_dims)}, "
             f"scatter_indices_batching_dims = {list(dn.scatter_indices_batching_dims)}, "
             f"scatter_dims_to_operand_dims = {list(dn.scatter_dims_to_operand_dims)}, "
             f"index_vector_dim = {ia.ndim - 1}>, "
             f"indices_are_sorted = {'true' if indices_are_sorted else 'false'}, "
             f"unique_indices = {'true' if unique_indices else 'false'}")
    return ctx.op("stablehlo.scatter", [operand, indices, updates], operand_avals=[xa, ia, ua],
                  regions=[_region(ctx, xa.dtype, op)], attrs=attrs)[0]


def _scatter_prim(name: str, op: str | None, kinds):
    p = define(name, functools.partial(_scatter_abstract, name, kinds),
               functools.partial(_scatter_lower, op))

    def wrapper(operand, scatter_indices, updates,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: str | GatherScatterMode | None = None):
        operand, updates = lax_args(operand, updates)
        return p.bind(operand, _index_arg(scatter_indices), updates,
                      dimension_numbers=_canon_dnums(ScatterDimensionNumbers, dimension_numbers),
                      indices_are_sorted=bool(indices_are_sorted),
                      unique_indices=bool(unique_indices),
                      mode=GatherScatterMode.from_any(mode))
    wrapper.__name__ = name
    what = "replace" if op is None else f"combine with {op}"
    wrapper.__doc__ = (f"XLA scatter (``jax.lax.{name}``): {what} the slices of ``operand`` "
                       "selected by ``scatter_indices`` with ``updates``. ``mode`` defaults to "
                       "dropping out-of-bounds updates; ``'clip'`` clamps the indices.")
    return p, wrapper


scatter_p, scatter = _scatter_prim("scatter", None, ANY)
scatter_add_p, scatter_add = _scatter_prim("scatter_add", "add", NUM)
scatter_mul_p, scatter_mul = _scatter_prim("scatter_mul", "mul", NUM)
scatter_min_p, scatter_min = _scatter_prim("scatter_min", "min", ANY)
scatter_max_p, scatter_max = _scatter_prim("scatter_max", "max", ANY)


def scatter_sub(operand, scatter_indices, updates, dimension_numbers: ScatterDimensionNumbers,
                *, indices_are_sorted: bool = False, unique_indices: bool = False,
                mode: str | GatherScatterMode | None = None):
    """XLA scatter (``jax.lax.scatter_sub``): subtract ``updates`` from the slices of
    ``operand`` selected by ``scatter_indices`` (a ``scatter_add`` of ``-updates``)."""
    from xtrace._src.prims.elementwise import neg
    operand, updates = lax_args(operand, updates)
    return scatter_add(operand, scatter_indices, neg(updates), dimension_numbers,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                       mode=mode)


def scatter_apply(operand, scatter_indices, func, dimension_numbers: ScatterDimensionNumbers,
                  *, update_shape: Sequence[int] = (), indices_are_sorted: bool = False,
                  unique_indices: bool = False, mode: str | GatherScatterMode | None = None):
    """``operand`` with the elementwise ``func`` applied at the positions a scatter of
    ``update_shape`` updates would touch, once per time it touches them (as JAX's
    ``scatter_apply``; ``func`` maps an array to one of the same shape and dtype)."""
    from xtrace._src.prims.control_flow import while_loop
    from xtrace._src.prims.elementwise import convert_element_type, gt, lt, select
    from xtrace._src.prims.reductions import reduce_max
    from xtrace._src.prims.structural import full
    operand, = lax_args(operand)
    a = get_aval(operand)
    counts = scatter_add(full(a.shape, 0, dtypes.int32), scatter_indices,
                         full(tuple(update_shape), 1, dtypes.int32), dimension_numbers,
                         indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                         mode=mode)
    apply = lambda x: convert_element_type(func(x), a.dtype, a.weak_type)
    if unique_indices:
        return select(gt(counts, np.int32(0)), apply(operand), operand)
    most = reduce_max(counts, tuple(range(a.ndim)))

    def body(state):
        i, x = state
        return i + np.int32(1), select(lt(i, counts), apply(x), x)
    return while_loop(lambda s: lt(s[0], most), body, (np.int32(0), operand))[1]


def index_take(src, idxs: Sequence, axes: Sequence[int]):
    """``src`` indexed by one integer index array per axis in ``axes`` (indices wrap modulo
    the axis size); the indexed axes are replaced by the leading index dimension."""
    from xtrace._src.prims.elementwise import add, convert_element_type, lt, rem, select
    from xtrace._src.prims.structural import broadcast_in_dim, concatenate, expand_dims
    src, = lax_args(src)
    shape = get_aval(src).shape
    axes = tuple(int(a) for a in axes)
    if len(idxs) != len(axes):
        raise ValueError(f"index_take: got {len(idxs)} index arrays for {len(axes)} axes")
    cols = [expand_dims(convert_element_type(_index_arg(i), dtypes.int32), (1,)) for i in idxs]
    indices = concatenate(cols, 1)
    ia = get_aval(indices)
    sizes = broadcast_in_dim(np.array([shape[a] for a in axes], np.int32), ia.shape,
                             (ia.ndim - 1,))
    r = rem(indices, sizes)
    indices = select(lt(r, np.int32(0)), add(r, sizes), r)  # Python's (floor) modulo
    slice_sizes = [1 if i in axes else d for i, d in enumerate(shape)]
    dn = GatherDimensionNumbers(offset_dims=tuple(range(1, len(shape) - len(axes) + 1)),
                                collapsed_slice_dims=axes, start_index_map=axes)
    return gather(src, indices, dn, slice_sizes)


# ---------------------------------------------------------------------------------------------
# Differentiation rules.
#
# gather and scatter_add are linear in their array operands (indices are integers, so never
# differentiated). The transposes address exactly the elements the forward operation touched,
# whatever the mode: a gather that clamps (CLIP, and PROMISE_IN_BOUNDS, which is XLA's clamping
# gather) transposes to a clamping scatter_add; a gather that fills out-of-bounds slices
# (FILL_OR_DROP) to a scatter_add that drops them; a scatter that drops out-of-bounds windows
# (FILL_OR_DROP, PROMISE_IN_BOUNDS) transposes to a gather that reads 0 for them.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero, is_undefined  # noqa: E402


def _zero_scalar(dt: np.dtype):
    return np.zeros((), dt).item()


def _gather_dnums_of(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    """The gather that reads back what a scatter with ``dn`` writes (one slice per update)."""
    return GatherDimensionNumbers(
        offset_dims=dn.update_window_dims, collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims)


def _scatter_dnums_of(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)


def _gather_like_scatter(x, indices, dn: ScatterDimensionNumbers, updates_shape, mode,
                         indices_are_sorted=False, unique_indices=False):
    """For each element of a scatter's ``updates``, the element of ``x`` it lands on, or 0
    where the scatter drops it (a clamping scatter reads with the same clamping)."""
    xa = get_aval(x)
    sizes = _scatter_window(xa, ShapedArray(updates_shape, xa.dtype), dn)
    clip = mode == GatherScatterMode.CLIP
    m = GatherScatterMode.CLIP if clip else GatherScatterMode.FILL_OR_DROP
    return gather_p.bind(x, indices, dimension_numbers=_gather_dnums_of(dn),
                         slice_sizes=tuple(sizes), indices_are_sorted=indices_are_sorted,
                         unique_indices=unique_indices, mode=m,
                         fill_value=None if clip else _zero_scalar(xa.dtype))


def _zeros(shape, dt):
    return ad.zeros_like_aval(ShapedArray(tuple(shape), np.dtype(dt)))


def _full(shape, dt, v):
    from xtrace._src.prims.structural import broadcast_in_dim
    return broadcast_in_dim(np.asarray(v, dt)[()], tuple(shape), ())


def _aval_of(x) -> ShapedArray:
    return x.aval if is_undefined(x) else get_aval(x)


# ---- gather ----
def _gather_jvp(primals, tangents, *, dimension_numbers, slice_sizes, indices_are_sorted,
                unique_indices, mode, fill_value):
    x, idx = primals
    g = tangents[0]
    params = dict(dimension_numbers=dimension_numbers, slice_sizes=slice_sizes,
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
    out = gather_p.bind(x, idx, fill_value=fill_value, **params)
    if isinstance(g, Zero):
        return out, ad.zero_of(out)
    # Out-of-bounds slices of a filling gather are constants: their tangent is 0.
    tfill = _zero_scalar(get_aval(g).dtype) if mode == GatherScatterMode.FILL_OR_DROP else None
    return out, gather_p.bind(g, idx, fill_value=tfill, **params)


def _gather_transpose(ct, x, idx, *, dimension_numbers, slice_sizes, indices_are_sorted,
                      unique_indices, mode, fill_value):
    if is_undefined(idx):
        raise ValueError("gather is not linear in its indices")
    if isinstance(ct, Zero):
        return [Zero(ad.tangent_aval(x.aval)), None]
    ca = get_aval(ct)
    smode = (GatherScatterMode.FILL_OR_DROP if mode == GatherScatterMode.FILL_OR_DROP
             else GatherScatterMode.CLIP)
    out = scatter_add_p.bind(_zeros(x.aval.shape, ca.dtype), idx, ct,
                             dimension_numbers=_scatter_dnums_of(dimension_numbers),
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices, mode=smode)
    return [out, None]


gather_p.jvp, gather_p.transpose = _gather_jvp, _gather_transpose


# ---- scatter_add ----
def _scatter_add_jvp(primals, tangents, **params):
    x, idx, u = primals
    tx, _, tu = tangents
    out = scatter_add_p.bind(x, idx, u, **params)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return out, ad.zero_of(out)
    return out, scatter_add_p.bind(ad.instantiate(tx), idx, ad.instantiate(tu), **params)


def _scatter_add_transpose(ct, x, idx, u, *, dimension_numbers, indices_are_sorted,
                           unique_indices, mode):
    if is_undefined(idx):
        raise ValueError("scatter_add is not linear in its indices")
    ua = _aval_of(u)
    if isinstance(ct, Zero):
        return [Zero(ad.tangent_aval(x.aval)) if is_undefined(x) else None, None,
                Zero(ad.tangent_aval(ua)) if is_undefined(u) else None]
    tx = ct if is_undefined(x) else None
    tu = None
    if is_undefined(u):
        tu = _gather_like_scatter(ct, idx, dimension_numbers, ua.shape, mode,
                                  indices_are_sorted, unique_indices)
    return [tx, None, tu]


scatter_add_p.jvp, scatter_add_p.transpose = _scatter_add_jvp, _scatter_add_transpose


# ---- scatter (replace) ----
def _update_ids(updates_shape, dn: ScatterDimensionNumbers):
    """A distinct positive int32 id per scatter index, broadcast over its update window."""
    from xtrace._src.prims.structural import broadcast_in_dim, iota, reshape
    from xtrace._src.prims.elementwise import add
    ids_shape = [1 if d in dn.update_window_dims else s for d, s in enumerate(updates_shape)]
    n = int(np.prod(ids_shape, dtype=np.int64))
    ids = add(reshape(iota(dtypes.int32, n), ids_shape), np.int32(1))
    return broadcast_in_dim(ids, tuple(updates_shape), tuple(range(len(updates_shape))))


def _scatter_winners(idx, operand_shape, updates_shape, *, dimension_numbers,
                     indices_are_sorted, unique_indices, mode):
    """Masks (operand elements left untouched, updates elements that are written) of a
    scatter: with repeated indices, one update per element wins (the one XLA's scatter of
    the ids picks), so the result is a consistent function of the inputs."""
    from xtrace._src.prims.elementwise import eq
    dn = dimension_numbers
    ids = _update_ids(updates_shape, dn)
    scattered = scatter_p.bind(_zeros(operand_shape, dtypes.int32), idx, ids,
                               dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices, mode=mode)
    back = _gather_like_scatter(scattered, idx, dn, updates_shape, mode, indices_are_sorted,
                                unique_indices)
    return eq(scattered, np.int32(0)), eq(ids, back)


def _scatter_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted, unique_indices,
                 mode):
    from xtrace._src.prims.elementwise import select
    x, idx, u = primals
    tx, _, tu = tangents
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        out = scatter_p.bind(x, idx, u, **params)
        return out, ad.zero_of(out)
    tx, tu = ad.instantiate(tx), ad.instantiate(tu)
    if unique_indices:  # the caller promises no overlap: scatter the tangents the same way
        return scatter_p.bind(x, idx, u, **params), scatter_p.bind(tx, idx, tu, **params)
    # Overlapping updates: XLA does not say which one wins, so (as JAX does) pick the winners
    # with a scatter of ids, mask the losers out, and scatter_add what is left, for the primal
    # and the tangent alike (consistent, and scatter_add is transposable).
    xa, ua = get_aval(x), get_aval(u)
    keep_x, keep_u = _scatter_winners(idx, xa.shape, ua.shape, **params)

    def masked(v, keep):
        return select(keep, v, _zeros(get_aval(v).shape, get_aval(v).dtype))

    out = scatter_add_p.bind(masked(x, keep_x), idx, masked(u, keep_u), **params)
    t = scatter_add_p.bind(masked(tx, keep_x), idx, masked(tu, keep_u), **params)
    return out, t


def _scatter_transpose(ct, x, idx, u, *, dimension_numbers, indices_are_sorted,
                       unique_indices, mode):
    from xtrace._src.prims.elementwise import select
    if is_undefined(idx):
        raise ValueError("scatter is not linear in its indices")
    ua = _aval_of(u)
    if isinstance(ct, Zero):
        return [Zero(ad.tangent_aval(x.aval)) if is_undefined(x) else None, None,
                Zero(ad.tangent_aval(ua)) if is_undefined(u) else None]
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    ca = get_aval(ct)
    tx = tu = None
    if is_undefined(x):  # elements overwritten by the scatter get no cotangent
        tx = scatter_p.bind(ct, idx, _zeros(ua.shape, ca.dtype), **params)
    if is_undefined(u):
        tu = _gather_like_scatter(ct, idx, dimension_numbers, ua.shape, mode,
                                  indices_are_sorted, unique_indices)
        if not unique_indices:  # only the winning update of each element gets its cotangent
            _, keep_u = _scatter_winners(idx, x.aval.shape if is_undefined(x)
                                         else get_aval(x).shape, ua.shape, **params)
            tu = select(keep_u, tu, _zeros(ua.shape, ca.dtype))
    return [tx, None, tu]


scatter_p.jvp, scatter_p.transpose = _scatter_jvp, _scatter_transpose


# ---- scatter_mul ----
def _scatter_mul_jvp(primals, tangents, **params):
    """d out[p] = tx[p] * prod_j u_j + sum_j tu_j * x[p] * prod_{k != j} u_k, over the updates
    j landing on p. The product of the others is (product of all) / u_j where u_j != 0, and
    where u_j == 0 the product of the nonzero updates if u_j is the only zero (else 0); so
    nothing divides by zero, the first derivative is exact everywhere and the higher ones
    wherever at most one update landing on an element is zero."""
    from xtrace._src.prims.elementwise import convert_element_type, div, eq, mul, select
    x, idx, u = primals
    tx, _, tu = tangents
    out = scatter_mul_p.bind(x, idx, u, **params)
    t = ad.zero_of(out)
    if not isinstance(tx, Zero):
        t = ad.add_tangents(t, scatter_mul_p.bind(tx, idx, u, **params))
    if not isinstance(tu, Zero):
        xa, ua = get_aval(x), get_aval(u)
        dn, mode = params["dimension_numbers"], params["mode"]
        zero_u = eq(u, _zeros(ua.shape, ua.dtype))
        ones_x, zeros_u = _full(xa.shape, xa.dtype, 1), _zeros(ua.shape, ua.dtype)
        safe_u = select(zero_u, _full(ua.shape, ua.dtype, 1), u)
        prod_all = scatter_mul_p.bind(ones_x, idx, u, **params)
        prod_nz = scatter_mul_p.bind(ones_x, idx, safe_u, **params)
        n_zero = scatter_add_p.bind(_zeros(xa.shape, dtypes.int32), idx,
                                    convert_element_type(zero_u, dtypes.int32), **params)

        def back(v):
            return _gather_like_scatter(v, idx, dn, ua.shape, mode)

        others = select(zero_u,
                        select(eq(back(n_zero), np.int32(1)), back(prod_nz), zeros_u),
                        div(back(prod_all), safe_u))
        coef = mul(back(x), others)
        t = ad.add_tangents(t, scatter_add_p.bind(_zeros(xa.shape, xa.dtype), idx,
                                                  mul(tu, coef), **params))
    return out, t


def _scatter_mul_transpose(ct, x, idx, u, *, dimension_numbers, indices_are_sorted,
                           unique_indices, mode):
    from xtrace._src.prims.elementwise import mul
    if is_undefined(idx):
        raise ValueError("scatter_mul is not linear in its indices")
    ua = _aval_of(u)
    if isinstance(ct, Zero):
        return [Zero(ad.tangent_aval(x.aval)) if is_undefined(x) else None, None,
                Zero(ad.tangent_aval(ua)) if is_undefined(u) else None]
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    if is_undefined(x) and is_undefined(u):
        raise ValueError("scatter_mul is not linear in operand and updates together")
    if is_undefined(x):  # scaling each element by the product of its updates: self-adjoint
        return [scatter_mul_p.bind(ct, idx, u, **params), None, None]
    if not unique_indices:
        raise NotImplementedError("scatter_mul is linear in its updates only when "
                                  "unique_indices=True")
    return [None, None, _gather_like_scatter(mul(ct, x), idx, dimension_numbers, ua.shape,
                                             mode, indices_are_sorted, unique_indices)]


scatter_mul_p.jvp, scatter_mul_p.transpose = _scatter_mul_jvp, _scatter_mul_transpose


# ---- scatter_min / scatter_max ----
def _scatter_extremal_jvp(prim):
    """JAX's rule: where several values (updates, and the operand element itself) tie for the
    result, the tangent is their average."""
    def rule(primals, tangents, **params):
        from xtrace._src.prims.elementwise import (add, convert_element_type, div, eq, max,
                                                   mul, select, sub)
        x, idx, u = primals
        tx, _, tu = tangents
        out = prim.bind(x, idx, u, **params)
        if isinstance(tx, Zero) and isinstance(tu, Zero):
            return out, ad.zero_of(out)
        tx, tu = ad.instantiate(tx), ad.instantiate(tu)
        xa, ua = get_aval(x), get_aval(u)
        dn, mode = params["dimension_numbers"], params["mode"]
        dt = get_aval(tx).dtype

        def back(v):
            return _gather_like_scatter(v, idx, dn, ua.shape, mode)

        target = back(out)
        won = eq(u, target)                 # updates equal to the result
        kept = eq(back(x), target)          # the operand element equals the result
        one_u, zero_u = _full(ua.shape, dt, 1), _zeros(ua.shape, dt)
        n_won = back(scatter_add_p.bind(_zeros(xa.shape, dt), idx, select(won, one_u, zero_u),
                                        **params))
        n_refs = back(scatter_add_p.bind(_zeros(xa.shape, dt), idx, one_u, **params))
        kept_f = convert_element_type(kept, dt)
        # (max with 1 only guards updates that were dropped: their terms are dropped too)
        share = div(one_u, max(add(n_won, kept_f), one_u))
        u_coef = select(won, share, zero_u)
        x_coef = div(sub(mul(kept_f, share), one_u), max(n_refs, one_u))
        t_upd = add(mul(back(tx), x_coef), mul(tu, u_coef))
        return out, scatter_add_p.bind(tx, idx, t_upd, **params)
    return rule


scatter_min_p.jvp = _scatter_extremal_jvp(scatter_min_p)
scatter_max_p.jvp = _scatter_extremal_jvp(scatter_max_p)


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above.
#
# The vmapped axis becomes a dimension of the gather / scatter itself, never a component of the
# index vector, so no index arithmetic is needed and every mode keeps its meaning:
#
# * only the operand batched: a window dimension covering the whole batch (each example's
#   slice is read / written at the same indices in every example);
# * the indices batched (operand too, or broadcast to it): an operand_batching_dims /
#   *_indices_batching_dims pair, StableHLO's batched gather / scatter (example b of the
#   indices addresses example b of the operand only).
#
# The batch dimensions stay where they are when that is valid (else the smallest move puts
# them where the dimension numbers need them); a scatter broadcasts an unbatched operand
# (every example writes into its own copy) or unbatched updates.
from xtrace._src import batching  # noqa: E402


def _slot(dims: Sequence[int], j: int, rank: int) -> tuple[int, int]:
    """The positions ``p`` (in an array with one more dim than ``rank``) at which a new dim
    becomes the ``j``-th of the sorted ``dims`` (positions in the array without it) once the
    dims at ``p`` or after shift by one: ``lo <= p <= hi``."""
    dims = sorted(dims)
    lo = dims[j - 1] + 1 if j > 0 else 0
    hi = dims[j] if j < len(dims) else rank
    return lo, hi


def _insert(dims: Sequence[int], p: int) -> tuple[int, ...]:
    """``dims`` after a new dim is inserted at position ``p``."""
    return tuple(d + (d >= p) for d in dims)


def _add_pair(op_dims, idx_dims, op_d: int, idx_d: int) -> tuple[tuple, tuple]:
    """Batching-dim pairs with ``(op_d, idx_d)`` added, sorted by operand dim (as checked)."""
    pairs = sorted(zip(op_dims + (op_d,), idx_dims + (idx_d,)))
    return tuple(o for o, _ in pairs), tuple(i for _, i in pairs)


def _indices_at(idx, d: int) -> tuple[Any, int]:
    """Batched indices whose batch dim is not the index vector (the last dim of an example)."""
    if d == get_aval(idx).ndim - 1:
        return batching.moveaxis(idx, d, 0), 0
    return idx, d


def _non(dims: Sequence[int], rank: int) -> list[int]:
    return [i for i in range(rank) if i not in dims]


def _gather_batch(axis, vals, dims, *, dimension_numbers, slice_sizes, indices_are_sorted,
                  unique_indices, mode, fill_value):
    x, idx = vals
    xd, id_ = dims
    dn = dimension_numbers
    out_rank = len(dn.offset_dims) + get_aval(idx).ndim - 1 - (id_ is not None)
    if xd is not None:  # operand dims at or after xd shift by one
        dn = dn._replace(collapsed_slice_dims=_insert(dn.collapsed_slice_dims, xd),
                         start_index_map=_insert(dn.start_index_map, xd),
                         operand_batching_dims=_insert(dn.operand_batching_dims, xd))
    if id_ is None:
        # The batch is one more window dim of every slice (the k-th one of the operand).
        k = len(_non(dimension_numbers.collapsed_slice_dims
                     + dimension_numbers.operand_batching_dims, xd))
        p = _slot(dn.offset_dims, k, out_rank)[0]
        dn = dn._replace(offset_dims=tuple(sorted(_insert(dn.offset_dims, p) + (p,))))
        sizes = slice_sizes[:xd] + (axis.size,) + slice_sizes[xd:]
    else:
        idx, id_ = _indices_at(idx, id_)
        # The indices' batch dim is the id_-th batch (non-offset) dim of the output.
        p = _slot(_non(dn.offset_dims, out_rank), id_, out_rank)[0]
        dn = dn._replace(offset_dims=_insert(dn.offset_dims, p),
                         start_indices_batching_dims=_insert(dn.start_indices_batching_dims,
                                                             id_))
        if xd is None:
            # Every example indexes the same operand: together their indices may repeat or be
            # out of order (as in JAX).
            indices_are_sorted = unique_indices = False
            sizes = slice_sizes
        else:
            ob, ib = _add_pair(dn.operand_batching_dims, dn.start_indices_batching_dims, xd, id_)
            dn = dn._replace(operand_batching_dims=ob, start_indices_batching_dims=ib)
            sizes = slice_sizes[:xd] + (min(axis.size, 1),) + slice_sizes[xd:]
    out = gather_p.bind(x, idx, dimension_numbers=dn, slice_sizes=tuple(sizes),
                        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                        mode=mode, fill_value=fill_value)
    return out, p


def _updates_at(u, ud: int | None, slot: tuple[int, int], size: int) -> tuple[Any, int]:
    """Updates with their batch dim inside ``slot`` (moved, or broadcast, as little as needed)."""
    lo, hi = slot
    if ud is None:
        return batching.broadcast_batch(u, size, lo), lo
    p = min(max(ud, lo), hi)
    return batching.moveaxis(u, ud, p), p


def _scatter_indices_at(idx, id_: int, ud: int | None, scatter_dims, u_rank: int):
    """Batched indices placed to match the batched updates' scatter dims: when the updates'
    batch dim is not where the indices' one says, the (usually smaller) indices move."""
    want = id_ if id_ < get_aval(idx).ndim - 1 else 0  # never after the index vector
    if ud is not None:
        lo, hi = _slot(scatter_dims, want, u_rank)
        if not lo <= ud <= hi:
            want = sum(s < ud for s in scatter_dims)
    return batching.moveaxis(idx, id_, want), want


def _scatter_batch(prim):
    def rule(axis, vals, dims, *, dimension_numbers, indices_are_sorted, unique_indices, mode):
        x, idx, u = vals
        xd, id_, ud = dims
        dn = dimension_numbers
        if xd is None:  # the result differs per example: each writes into its own copy
            x, xd = batching.broadcast_batch(x, axis.size, 0), 0
        u_rank = get_aval(u).ndim - (ud is not None)
        dn = dn._replace(inserted_window_dims=_insert(dn.inserted_window_dims, xd),
                         scatter_dims_to_operand_dims=_insert(dn.scatter_dims_to_operand_dims,
                                                              xd),
                         operand_batching_dims=_insert(dn.operand_batching_dims, xd))
        if id_ is None:
            # The batch is one more window dim of every update (the k-th one of the operand).
            k = len(_non(dimension_numbers.inserted_window_dims
                         + dimension_numbers.operand_batching_dims, xd))
            u, p = _updates_at(u, ud, _slot(dn.update_window_dims, k, u_rank), axis.size)
            dn = dn._replace(update_window_dims=tuple(sorted(_insert(dn.update_window_dims, p)
                                                             + (p,))))
        else:
            # The indices' batch dim is the id_-th scatter (non-window) dim of the updates.
            scatter_dims = _non(dn.update_window_dims, u_rank)
            idx, id_ = _scatter_indices_at(idx, id_, ud, scatter_dims, u_rank)
            u, p = _updates_at(u, ud, _slot(scatter_dims, id_, u_rank), axis.size)
            ob, ib = _add_pair(dn.operand_batching_dims,
                               _insert(dn.scatter_indices_batching_dims, id_), xd, id_)
            dn = dn._replace(update_window_dims=_insert(dn.update_window_dims, p),
                             operand_batching_dims=ob, scatter_indices_batching_dims=ib)
        out = prim.bind(x, idx, u, dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices, mode=mode)
        return out, xd
    return rule


gather_p.batch = _gather_batch
for _p in (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    _p.batch = _scatter_batch(_p)
