"""Sorting: ``sort`` (several operands, lexicographic on the first ``num_keys``) and ``top_k``.

Floats sort like NumPy: -0.0 and 0.0 compare equal and every NaN sorts last (the comparator
canonicalizes zeros and NaNs, then uses a total order); complex numbers sort by (real, imag).
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import LowerCtx, i64_array, tensor_type
from xtrace._src.prims.common import ANY, check_axis, check_kind, define, kind, lax_args

_BOOL = ShapedArray((), dtypes.bool_)


# ---- sort ----
def _sort_abstract(*avals, dimension, is_stable, num_keys):
    if not avals:
        raise TypeError("sort requires at least one operand")
    if any(a.shape != avals[0].shape for a in avals):
        raise TypeError("sort: operands must have equal shapes, got "
                        + ", ".join(str(a.shape) for a in avals))
    if avals[0].ndim == 0:
        raise TypeError("sort: operands must have rank >= 1, got shape ()")
    check_axis("sort", dimension, avals[0].ndim)
    if not 1 <= num_keys <= len(avals):
        raise ValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(avals)})")
    for a in avals:
        check_kind("sort", a, ANY)
    return list(avals)


class _Scalars:
    """Emits scalar operations into the region body currently being written."""

    def __init__(self, ctx: LowerCtx):
        self.ctx, self.em = ctx, ctx.emitter

    def op(self, name: str, args: Sequence[str], out: ShapedArray, attrs: str | None = None
           ) -> str:
        return self.em.op(name, list(args), None, [out], attrs)[0]

    def compare(self, x: str, y: str, direction: str, ctype: str) -> str:
        return self.op("stablehlo.compare", [x, y], _BOOL,
                       f"comparison_direction = #stablehlo<comparison_direction {direction}>, "
                       f"compare_type = #stablehlo<comparison_type {ctype}>")

    def canonical_float(self, x: str) -> str:
        """``x`` with -0.0 mapped to 0.0 and every NaN to the same NaN."""
        a = self.em.types[x]
        zero = self.ctx.constant(0, a)
        is_zero = self.compare(x, zero, "EQ", "FLOAT")
        x = self.op("stablehlo.select", [is_zero, zero, x], a)
        is_nan = self.compare(x, x, "NE", "FLOAT")
        return self.op("stablehlo.select", [is_nan, self.ctx.constant(np.nan, a), x], a)

    def keys(self, x: str) -> list[tuple[str, str]]:
        """(key, compare type) pairs whose lexicographic order is the sort order of ``x``."""
        a = self.em.types[x]
        k = kind(a.dtype)
        if k == "complex":
            part = ShapedArray((), np.finfo(a.dtype).dtype)
            return [(self.canonical_float(self.op(f"stablehlo.{p}", [x], part)), "TOTALORDER")
                    for p in ("real", "imag")]
        if k == "float":
            return [(self.canonical_float(x), "TOTALORDER")]
        return [(x, "SIGNED" if k == "int" else "UNSIGNED")]


def _comparator(ctx: LowerCtx, avals: Sequence[ShapedArray], num_keys: int) -> str:
    """The region ``(x0, y0, x1, y1, ...) -> x < y`` lexicographically on the first keys."""
    em = ctx.emitter
    args = [em.fresh(ShapedArray((), a.dtype)) for a in avals for _ in (0, 1)]
    saved = em.lines, em.indent
    em.lines, em.indent = [], em.indent + 4
    s = _Scalars(ctx)
    xs, ys = [], []
    for i in range(num_keys):
        xs += s.keys(args[2 * i])
        ys += s.keys(args[2 * i + 1])
    less = None
    for (x, ct), (y, _) in reversed(list(zip(xs, ys))):
        lt = s.compare(x, y, "LT", ct)
        if less is not None:
            tie = s.op("stablehlo.and", [s.compare(x, y, "EQ", ct), less], _BOOL)
            lt = s.op("stablehlo.or", [lt, tie], _BOOL)
        less = lt
    em.lines.append(" " * em.indent + f'"stablehlo.return"({less}) : '
                    f'({tensor_type(_BOOL)}) -> ()')
    body = em.lines
    em.lines, em.indent = saved
    head = ", ".join(f"{n}: {tensor_type(em.types[n])}" for n in args)
    return ("{\n" + " " * (em.indent + 2) + f"^bb0({head}):\n" + "\n".join(body) + "\n"
            + " " * em.indent + "}")


def _sort_lower(ctx, *operands, dimension, is_stable, num_keys):
    region = _comparator(ctx, ctx.avals_in, num_keys)
    return ctx.op("stablehlo.sort", list(operands), regions=[region],
                  attrs=f"dimension = {dimension} : i64, "
                        f"is_stable = {'true' if is_stable else 'false'}")


sort_p = define("sort", _sort_abstract, _sort_lower, multiple_results=True)


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort ``operand`` (an array, or a sequence of equal-shaped arrays sorted together by the
    first ``num_keys`` of them, lexicographically) along ``dimension``."""
    single = not isinstance(operand, (list, tuple))
    ops = lax_args(operand) if single else lax_args(*operand)
    if not ops:
        raise TypeError("sort requires at least one operand")
    if single and num_keys != 1:
        raise ValueError(f"sort: num_keys={num_keys} must be 1 for a single operand")
    nd = get_aval(ops[0]).ndim
    if nd == 0:
        raise TypeError("sort: operands must have rank >= 1, got shape ()")
    dim = check_axis("sort", operator.index(dimension), nd)
    outs = sort_p.bind(*ops, dimension=dim, is_stable=bool(is_stable),
                       num_keys=operator.index(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys: Any, values: Any, dimension: int = -1, is_stable: bool = True
                 ) -> tuple[Any, Any]:
    """Sort ``keys`` along ``dimension`` and apply the same permutation to ``values``."""
    return sort([keys, values], dimension, is_stable, num_keys=1)


# ---- top_k ----
def _top_k_abstract(x, *, k, axis):
    if kind(x.dtype) == "complex":
        raise ValueError(f"top_k does not accept complex inputs, got {x.dtype.name}")
    if x.ndim == 0:
        raise TypeError("top_k: operand must have rank >= 1, got shape ()")
    check_axis("top_k", axis, x.ndim)
    if not 0 <= k <= x.shape[axis]:
        raise ValueError(f"top_k: k={k} must be between 0 and the size {x.shape[axis]} of axis "
                         f"{axis} of shape {x.shape}")
    shape = list(x.shape)
    shape[axis] = k
    return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, dtypes.int32)]


def _top_k_lower(ctx, x, *, k, axis):
    """chlo.top_k works on the last axis: move ``axis`` there and back if needed."""
    a = ctx.avals_in[0]
    vals, idxs = ctx.avals_out
    last = a.ndim - 1
    if axis == last:
        return ctx.op("chlo.top_k", [x], attrs=f"k = {k} : i64")
    perm = list(range(a.ndim))
    perm[axis], perm[last] = last, axis  # a swap is its own inverse
    moved = [ShapedArray([av.shape[p] for p in perm], av.dtype) for av in (a, vals, idxs)]
    xt = ctx.op1("stablehlo.transpose", [x], moved[0], f"permutation = {i64_array(perm)}")
    v, i = ctx.op("chlo.top_k", [xt], moved[1:], attrs=f"k = {k} : i64")
    return [ctx.op1("stablehlo.transpose", [t], out, f"permutation = {i64_array(perm)}")
            for t, out in ((v, vals), (i, idxs))]


top_k_p = define("top_k", _top_k_abstract, _top_k_lower, multiple_results=True)


def top_k(operand: Any, k: int, *, axis: int = -1) -> tuple[Any, Any]:
    """The ``k`` largest entries along ``axis`` (default last) and their int32 indices, largest
    first; equal entries keep index order. NaN counts as larger than +inf, -NaN as smaller than
    -inf, and 0.0 as larger than -0.0 (XLA's total order)."""
    x, = lax_args(operand)
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"top_k: k must be nonnegative, got {k}")
    nd = get_aval(x).ndim
    if nd == 0:
        raise TypeError("top_k: operand must have rank >= 1, got shape ()")
    outs = top_k_p.bind(x, k=k, axis=check_axis("top_k", operator.index(axis), nd))
    return tuple(outs)


def _approx_k(name: str, is_max: bool, operand, k, reduction_dimension, aggregate_to_topk):
    from xtrace._src.prims.structural import broadcasted_iota, slice_in_dim
    x, = lax_args(operand)
    a = get_aval(x)
    k = operator.index(k)
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if a.ndim == 0:
        raise TypeError(f"approx_top_k operand must have >= 1 dimension, got {a.shape}")
    if kind(a.dtype) != "float":
        raise ValueError(f"operand must be a floating type, got {a.dtype.name}")
    d = check_axis(name, operator.index(reduction_dimension), a.ndim)
    if a.shape[d] < k:
        raise ValueError(f"k must be smaller than the size of reduction_dim {a.shape[d]}, "
                         f"got {k}")
    keep = k if aggregate_to_topk else a.shape[d]
    if is_max:
        return top_k(x, keep, axis=d)
    vals, idx = sort((x, broadcasted_iota(dtypes.int32, a.shape, d)), dimension=d, num_keys=1)
    return slice_in_dim(vals, 0, keep, 1, d), slice_in_dim(idx, 0, keep, 1, d)


def approx_max_k(operand: Any, k: int, reduction_dimension: int = -1,
                 recall_target: float = 0.95, reduction_input_size_override: int = -1,
                 aggregate_to_topk: bool = True) -> tuple[Any, Any]:
    """The ``k`` largest values along ``reduction_dimension`` and their int32 indices, largest
    first. Exact here (JAX's result on CPU; ``recall_target`` only matters on TPU); without
    ``aggregate_to_topk`` the whole dimension comes back, sorted."""
    return _approx_k("approx_max_k", True, operand, k, reduction_dimension, aggregate_to_topk)


def approx_min_k(operand: Any, k: int, reduction_dimension: int = -1,
                 recall_target: float = 0.95, reduction_input_size_override: int = -1,
                 aggregate_to_topk: bool = True) -> tuple[Any, Any]:
    """The ``k`` smallest values along ``reduction_dimension`` and their int32 indices,
    smallest first (NaN last); exact, as ``approx_max_k``."""
    return _approx_k("approx_min_k", False, operand, k, reduction_dimension, aggregate_to_topk)


# ---------------------------------------------------------------------------------------------
# Differentiation rules: sorting permutes, so tangents are gathered with the permutation (the
# sort of an iota carried along with the operands); top_k gathers them at its indices. The
# gathers are linear in the tangents, hence transposable (their transpose is a scatter_add).
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero  # noqa: E402


def _take_along(t, idx, axis: int):
    """``t`` gathered along ``axis`` at ``idx`` (same rank; other dims are batch dims)."""
    from xtrace._src.prims.indexing import GatherDimensionNumbers, GatherScatterMode, gather_p
    from xtrace._src.prims.structural import expand_dims
    nd = get_aval(idx).ndim
    batch = tuple(d for d in range(nd) if d != axis)
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(axis,),
                                start_index_map=(axis,), operand_batching_dims=batch,
                                start_indices_batching_dims=batch)
    return gather_p.bind(t, expand_dims(idx, (nd,)), dimension_numbers=dn,
                         slice_sizes=(1,) * nd, indices_are_sorted=False, unique_indices=True,
                         mode=GatherScatterMode.PROMISE_IN_BOUNDS, fill_value=None)


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    from xtrace._src.prims.structural import broadcasted_iota
    shape = get_aval(primals[0]).shape
    idt = dtypes.int32 if shape[dimension] < 2 ** 31 else dtypes.int64
    outs = sort_p.bind(*primals, broadcasted_iota(idt, shape, dimension),
                       dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    perm = outs[-1]
    t_out = [ad.zero_of(o) if isinstance(t, Zero) else _take_along(t, perm, dimension)
             for o, t in zip(outs[:-1], tangents)]
    return outs[:-1], t_out


def _top_k_jvp(primals, tangents, *, k, axis):
    x, = primals
    t, = tangents
    vals, idxs = top_k_p.bind(x, k=k, axis=axis)
    tv = ad.zero_of(vals) if isinstance(t, Zero) else _take_along(t, idxs, axis)
    return [vals, idxs], [tv, ad.zero_of(idxs)]


sort_p.jvp = _sort_jvp
top_k_p.jvp = _top_k_jvp


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above.
from xtrace._src import batching  # noqa: E402


def _sort_batch(axis, vals, dims, *, dimension, is_stable, num_keys):
    """All operands share one shape: align them on the first batch dimension (broadcasting
    unbatched ones, which then sort per example too) and sort along the shifted dimension."""
    d = next(d for d in dims if d is not None)
    ops = [batching.matchaxis(v, vd, d, axis.size) for v, vd in zip(vals, dims)]
    outs = sort_p.bind(*ops, dimension=batching.shift_axis(dimension, d), is_stable=is_stable,
                       num_keys=num_keys)
    return outs, [d] * len(outs)


def _top_k_batch(axis_data, vals, dims, *, k, axis):
    """top_k lowers to chlo.top_k on the last axis: when the example's axis is its last one,
    keep the batch dimension off the end so that no transposes are needed."""
    x, = vals
    d, = dims
    nd = get_aval(x).ndim
    if d == nd - 1 and axis == nd - 2:
        x, d = batching.moveaxis(x, d, 0), 0
    outs = top_k_p.bind(x, k=k, axis=batching.shift_axis(axis, d))
    return outs, [d, d]


sort_p.batch = _sort_batch
top_k_p.batch = _top_k_batch
