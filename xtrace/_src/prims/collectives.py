"""Collectives over named axes (vmap's and pmap's ``axis_name``): psum, pmax, pmin, all_gather,
axis_index, ppermute, all_to_all and reduce_scatter (``psum_scatter``), with JAX's semantics.

Each names the axes it works over in its ``axes`` param (a tuple of names; over several axes
the devices are ordered by their linear index, the first axis major). Under ``vmap`` the batching
rule does the work on the whole batch with ordinary primitives (a psum over the vmapped axis is
a ``reduce_sum`` over the batch dimension) and binds the collective again for the axes that
remain; under ``pmap`` the primitives lower to StableHLO's cross-replica collectives.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from xtrace._src import batching, core, dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import LowerCtx
from xtrace._src.prims.common import check_kind, lax_args, ANY, NUM
from xtrace._src.prims.elementwise import add, convert_element_type, mul
from xtrace._src.prims.indexing import GatherDimensionNumbers, gather
from xtrace._src.prims.reductions import binary_region, reduce_max, reduce_min, reduce_sum
from xtrace._src.prims.structural import (broadcast_in_dim, expand_dims, iota, reshape, squeeze,
                                          transpose)
from xtrace._src.tree_util import tree_map


def _define(name: str, abstract_eval, lower) -> core.Primitive:
    p = core.Primitive(name)
    p.collective = True  # a vmap over one of its axes sees it even without batched operands
    p.abstract_eval, p.lower = abstract_eval, lower
    return core.register(p)


def _checked_bind(prim: core.Primitive, *args, **params):
    """Bind after checking the call with the shape rule: a vmap batching the collective calls
    its rule without it, and an unbound axis name or a bad shape should still fail clearly."""
    prim.abstract_eval(*[get_aval(a) for a in args], **params)
    return prim.bind(*args, **params)


def _axes_of(axis_name: Any) -> tuple:
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _size(axes: Sequence[Any]) -> int:
    """The number of devices along ``axes`` (NameError naming the axes in scope if unbound)."""
    return math.prod(core.axis_size(a) for a in axes)


def _canon_axis(fn: str, what: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fn}: {what}={axis} is out of bounds for rank {ndim}")
    return int(axis) % ndim


def _scale(x, n: int):
    """``x * n`` in ``x``'s dtype (a weak-typed ``x`` stays weak)."""
    dt = get_aval(x).dtype
    c = complex(n) if dtypes.is_complex(dt) else float(n) if dtypes.is_inexact(dt) else int(n)
    return mul(x, c)


def _split_axes(axes: tuple, name: Any) -> tuple[tuple, tuple]:
    """The axes before and after ``name`` in ``axes`` (major and minor to it)."""
    i = axes.index(name)
    return axes[:i], axes[i + 1:]


# ---------------------------------------------------------------------------------------------
# psum, pmax, pmin: all-reduce


def _allreduce_abstract(name, kinds, x, *, axes):
    _size(axes)
    check_kind(name, x, kinds)
    return x


def _allreduce_lower(op, ctx: LowerCtx, x, *, axes):
    a = ctx.avals_in[0]
    return ctx.op("stablehlo.all_reduce", [x], regions=[binary_region(ctx, op, a.dtype)],
                  attrs=f"replica_groups = {_groups_attr(ctx.module.replica_groups(axes))}")[0]


def _allreduce(name, op, kinds):
    return _define(name, lambda x, *, axes: _allreduce_abstract(name, kinds, x, axes=axes),
                   lambda ctx, x, *, axes: _allreduce_lower(op, ctx, x, axes=axes))


psum_p = _allreduce("psum", "add", NUM)
pmax_p = _allreduce("pmax", "max", ANY)
pmin_p = _allreduce("pmin", "min", ANY)


def axis_size(axis_name) -> int:
    """The size of the named axis ``axis_name`` (a name or tuple of names: the product) of
    an enclosing vmap or pmap; NameError if it is not bound."""
    return _size(_axes_of(axis_name))


def psum(x, axis_name):
    """Sum of ``x`` over the named axis (or tuple of axes) ``axis_name``; ``x`` may be a pytree.
    Booleans are summed as int32; a value that is the same along the axis (a Python scalar, an
    unmapped array) is multiplied by the axis size."""
    axes = _axes_of(axis_name)
    if not axes:
        return x

    def leaf(v):
        v, = lax_args(v)
        if get_aval(v).dtype == dtypes.bool_:
            v = convert_element_type(v, dtypes.int32)
        return _checked_bind(psum_p, v, axes=axes)
    return tree_map(leaf, x)


def pmean(x, axis_name):
    """Mean of ``x`` over the named axis (or axes): ``psum(x) / size``; integers give floats."""
    from xtrace._src.numpy.ufuncs import true_divide
    axes = _axes_of(axis_name)
    n = _size(axes)
    return tree_map(lambda v: true_divide(v, n), psum(x, axes))


def _pminmax(prim):
    def wrapper(x, axis_name):
        axes = _axes_of(axis_name)
        if not axes:
            return x
        return tree_map(lambda v: _checked_bind(prim, *lax_args(v), axes=axes), x)
    wrapper.__name__ = prim.name
    wrapper.__doc__ = (f"{'Maximum' if prim is pmax_p else 'Minimum'} of ``x`` over the named "
                       "axis (or tuple of axes) ``axis_name``; ``x`` may be a pytree.")
    return wrapper


pmax = _pminmax(pmax_p)
pmin = _pminmax(pmin_p)


# ---------------------------------------------------------------------------------------------
# all_gather


def _all_gather_abstract(x, *, axes, all_gather_dimension, tiled):
    n = _size(axes)
    shape = list(x.shape)
    if tiled:
        shape[all_gather_dimension] *= n
    else:
        shape.insert(all_gather_dimension, n)
    return x.update(shape=shape)


def _all_gather_lower(ctx: LowerCtx, x, *, axes, all_gather_dimension, tiled):
    a = ctx.avals_in[0]
    if not tiled:  # gather along a new dim of size 1
        shape = list(a.shape)
        shape.insert(all_gather_dimension, 1)
        a = a.update(shape=shape)
        x = ctx.op1("stablehlo.reshape", [x], a)
    return ctx.op("stablehlo.all_gather", [x], operand_avals=[a],
                  attrs=f"all_gather_dim = {all_gather_dimension} : i64, replica_groups = "
                        f"{_groups_attr(ctx.module.replica_groups(axes))}")[0]


all_gather_p = _define("all_gather", _all_gather_abstract, _all_gather_lower)


def all_gather(x, axis_name, *, axis: int = 0, tiled: bool = False):
    """The values of ``x`` on every device along ``axis_name``, stacked along a new dimension
    ``axis`` (or concatenated along the existing ``axis`` when ``tiled``)."""
    axes = _axes_of(axis_name)
    if not axes:
        return x

    def leaf(v):
        v, = lax_args(v)
        nd = get_aval(v).ndim + (0 if tiled else 1)
        ax = _canon_axis("all_gather", "axis", axis, nd)
        return _checked_bind(all_gather_p, v, axes=axes, all_gather_dimension=ax,
                             tiled=bool(tiled))
    return tree_map(leaf, x)


# ---------------------------------------------------------------------------------------------
# axis_index


def _axis_index_abstract(*, axes):
    _size(axes)
    return ShapedArray((), dtypes.int32)


def _axis_index_lower(ctx: LowerCtx, *, axes):
    size, stride = ctx.module.axis_index(axes[0])
    u32 = ShapedArray((), dtypes.uint32)
    idx = ctx.op1("stablehlo.replica_id", [], u32, operand_avals=[])
    if stride != 1:
        idx = ctx.op1("stablehlo.divide", [idx, ctx.constant(stride, u32)], u32)
    idx = ctx.op1("stablehlo.remainder", [idx, ctx.constant(size, u32)], u32)
    return ctx.op1("stablehlo.convert", [idx])


axis_index_p = _define("axis_index", _axis_index_abstract, _axis_index_lower)


def axis_index(axis_name):
    """This device's (int32) index along ``axis_name``; over a tuple of axes, the linear index
    with the first axis major."""
    index, inner = np.int32(0), 1
    for name in reversed(_axes_of(axis_name)):
        i = _checked_bind(axis_index_p, axes=(name,))
        index = i if inner == 1 else add(index, _scale(i, inner))
        inner *= core.axis_size(name)
    return index


# ---------------------------------------------------------------------------------------------
# ppermute


def _check_perm(perm, n: int) -> None:
    for pair in perm:
        if any(not 0 <= i < n for i in pair):
            raise ValueError(f"ppermute: indices in perm {list(perm)} must be in [0, {n}) "
                             "(the size of the named axes)")
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute sources and destinations must be unique, got {list(perm)}.")


def _ppermute_abstract(x, *, axes, perm):
    _check_perm(perm, _size(axes))
    return x


def _ppermute_lower(ctx: LowerCtx, x, *, axes, perm):
    if not perm:  # nobody receives anything
        return ctx.constant(0, ctx.avals_out[0].update(weak_type=False))
    pairs = [[g[s], g[d]] for g in ctx.module.replica_groups(axes) for s, d in perm]
    return ctx.op1("stablehlo.collective_permute", [x],
                   attrs=f"source_target_pairs = {_dense_i64(pairs)}")


ppermute_p = _define("ppermute", _ppermute_abstract, _ppermute_lower)


def ppermute(x, axis_name, perm):
    """Send ``x`` from device ``src`` to device ``dst`` for each ``(src, dst)`` in ``perm``
    (indices along ``axis_name``); devices that receive nothing get zeros."""
    axes = _axes_of(axis_name)
    perm = tuple((int(s), int(d)) for s, d in perm)
    return tree_map(lambda v: _checked_bind(ppermute_p, *lax_args(v), axes=axes, perm=perm), x)


# ---------------------------------------------------------------------------------------------
# all_to_all (the primitive is the rank-preserving, "tiled" form)


def _all_to_all_abstract(x, *, axes, split_axis, concat_axis):
    n = _size(axes)
    shape = list(x.shape)
    if shape[split_axis] % n:
        raise ValueError(f"all_to_all: the size of split_axis ({shape[split_axis]}) has to be "
                         f"divisible by the size of the named axis {axes} ({n})")
    shape[split_axis] //= n
    shape[concat_axis] *= n
    return x.update(shape=shape)


def _all_to_all_lower(ctx: LowerCtx, x, *, axes, split_axis, concat_axis):
    groups = ctx.module.replica_groups(axes)
    return ctx.op1("stablehlo.all_to_all", [x],
                   attrs=f"split_dimension = {split_axis} : i64, concat_dimension = "
                         f"{concat_axis} : i64, split_count = {len(groups[0])} : i64, "
                         f"replica_groups = {_groups_attr(groups)}")


all_to_all_p = _define("all_to_all", _all_to_all_abstract, _all_to_all_lower)


def all_to_all(x, axis_name, split_axis: int, concat_axis: int, *, tiled: bool = False):
    """Split ``x`` along ``split_axis`` into one chunk per device along ``axis_name``, send
    chunk ``j`` to device ``j`` and concatenate what arrives along ``concat_axis`` (a new axis
    when not ``tiled``: then ``x.shape[split_axis]`` must equal the axis size)."""
    axes = _axes_of(axis_name)

    def leaf(v):
        v, = lax_args(v)
        a = get_aval(v)
        n = _size(axes)
        split = _canon_axis("all_to_all", "split_axis", split_axis, a.ndim)
        concat = _canon_axis("all_to_all", "concat_axis", concat_axis, a.ndim)
        if tiled:
            return _checked_bind(all_to_all_p, v, axes=axes, split_axis=split,
                                 concat_axis=concat)
        if a.shape[split] != n:
            raise ValueError("all_to_all requires the size of the mapped axis axis_name to "
                             "equal x.shape[split_axis], but they are "
                             f"{n} and {a.shape[split]} respectively.")
        # Exchange into a new size-1 axis at concat_axis, then drop the emptied split axis.
        if split < concat:
            concat += 1
            v = expand_dims(v, (concat,))
        elif split > concat:
            v = expand_dims(v, (concat,))
            split += 1
        out = all_to_all_p.bind(v, axes=axes, split_axis=split, concat_axis=concat)
        return out if split == concat else squeeze(out, (split,))
    return tree_map(leaf, x)


# ---------------------------------------------------------------------------------------------
# reduce_scatter (psum_scatter)


def _reduce_scatter_abstract(x, *, axes, scatter_dimension, tiled):
    n = _size(axes)
    check_kind("psum_scatter", x, NUM)
    shape = list(x.shape)
    size = shape[scatter_dimension]
    if tiled:
        if size % n:
            raise ValueError(f"psum_scatter: tiled scatter dimension size {size} must be "
                             f"divisible by the size of the named axis {axes} ({n})")
        shape[scatter_dimension] = size // n
    else:
        if size != n:
            raise ValueError(f"psum_scatter: scatter dimension size {size} must match the size "
                             f"of the named axis {axes} ({n})")
        del shape[scatter_dimension]
    return x.update(shape=shape)


def _reduce_scatter_lower(ctx: LowerCtx, x, *, axes, scatter_dimension, tiled):
    a = ctx.avals_in[0]
    groups = ctx.module.replica_groups(axes)
    shape = list(a.shape)
    shape[scatter_dimension] //= len(groups[0])
    scattered = a.update(shape=shape)
    out = ctx.op("stablehlo.reduce_scatter", [x], [scattered],
                 regions=[binary_region(ctx, "add", a.dtype)],
                 attrs=f"scatter_dimension = {scatter_dimension} : i64, replica_groups = "
                       f"{_groups_attr(groups)}")[0]
    return out if tiled else ctx.op1("stablehlo.reshape", [out])


reduce_scatter_p = _define("reduce_scatter", _reduce_scatter_abstract, _reduce_scatter_lower)


def psum_scatter(x, axis_name, *, scatter_dimension: int = 0, tiled: bool = False):
    """``psum(x, axis_name)`` of which each device keeps its own chunk along
    ``scatter_dimension`` (that dimension, of the axis size, is dropped unless ``tiled``)."""
    axes = _axes_of(axis_name)
    if not axes:
        return x

    def leaf(v):
        v, = lax_args(v)
        sd = _canon_axis("psum_scatter", "scatter_dimension", scatter_dimension,
                         get_aval(v).ndim)
        return _checked_bind(reduce_scatter_p, v, axes=axes, scatter_dimension=sd,
                             tiled=bool(tiled))
    return tree_map(leaf, x)


# ---------------------------------------------------------------------------------------------
# Lowering helpers


def _dense_i64(rows: Sequence[Sequence[int]]) -> str:
    n, m = len(rows), len(rows[0])
    body = ", ".join("[" + ", ".join(str(int(v)) for v in r) + "]" for r in rows)
    return f"dense<[{body}]> : tensor<{n}x{m}xi64>"


def _groups_attr(groups: Sequence[Sequence[int]]) -> str:
    return _dense_i64(groups)


# ---------------------------------------------------------------------------------------------
# Differentiation rules. All but pmax/pmin are linear; each transposes to its mirror image.
# pmax and pmin have no rule, as in JAX (under vmap they become reduce_max/min, which have).
from xtrace._src.ad import Zero, deflinear  # noqa: E402


def _linear(prim, mirror):
    """``prim`` is linear; its transpose binds ``mirror(params)`` (a prim and its params)."""
    def transpose(ct, x, **params):
        if isinstance(ct, Zero):
            return [Zero(x.aval)]
        p, kw = mirror(**params)
        return [p.bind(ct, **kw)]
    deflinear(prim, transpose)


# psum is psum followed by a broadcast back to every device; its transpose sums again.
_linear(psum_p, lambda *, axes: (psum_p, dict(axes=axes)))
_linear(all_gather_p, lambda *, axes, all_gather_dimension, tiled: (
    reduce_scatter_p, dict(axes=axes, scatter_dimension=all_gather_dimension, tiled=tiled)))
_linear(reduce_scatter_p, lambda *, axes, scatter_dimension, tiled: (
    all_gather_p, dict(axes=axes, all_gather_dimension=scatter_dimension, tiled=tiled)))
_linear(ppermute_p, lambda *, axes, perm: (
    ppermute_p, dict(axes=axes, perm=tuple((d, s) for s, d in perm))))
_linear(all_to_all_p, lambda *, axes, split_axis, concat_axis: (
    all_to_all_p, dict(axes=axes, split_axis=concat_axis, concat_axis=split_axis)))


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above. When the vmapped axis is not among a collective's
# axes, the collective acts on the batched value unchanged (its axis params shifted past the
# batch dim). When it is, the rule does the vmapped axis's share of the work on the batch
# dimension and binds the collective again for the other axes, if any.


def _relayout(x, labels: list, groups: Sequence[Sequence[Any]]):
    """``x``, whose dims are named by ``labels``, transposed into the order of ``groups`` with
    each group of dims merged into one (a group's first label is major). Dims left out of
    ``groups`` must have size 1; they are dropped."""
    shape = get_aval(x).shape
    order = [lab for g in groups for lab in g]
    dropped = [i for i, lab in enumerate(labels) if lab not in order]
    assert all(shape[i] == 1 for i in dropped)
    perm = [labels.index(lab) for lab in order] + dropped
    if perm != list(range(len(perm))):
        x = transpose(x, perm)
    sizes = [math.prod(shape[labels.index(lab)] for lab in g) for g in groups]
    return reshape(x, sizes) if tuple(sizes) != get_aval(x).shape else x


def _allreduce_batch(prim, reducer):
    def rule(axis, vals, dims, *, axes):
        x, = vals
        d, = dims
        if axis.name not in axes:
            return prim.bind(x, axes=axes), d
        if d is None:  # the same on every example: psum multiplies, pmax/pmin keep it
            out = _scale(x, axis.size) if prim is psum_p else x
        else:
            out = reducer(x, (d,))
        rest = tuple(a for a in axes if a != axis.name)
        return (prim.bind(out, axes=rest) if rest else out), None
    return rule


psum_p.batch = _allreduce_batch(psum_p, reduce_sum)
pmax_p.batch = _allreduce_batch(pmax_p, reduce_max)
pmin_p.batch = _allreduce_batch(pmin_p, reduce_min)


def _all_gather_batch(axis, vals, dims, *, axes, all_gather_dimension, tiled):
    x, = vals
    d, = dims
    ax = all_gather_dimension
    if axis.name not in axes:
        if d is None:
            return all_gather_p.bind(x, axes=axes, all_gather_dimension=ax, tiled=tiled), None
        if d <= ax:  # the gathered dim lands after the batch dim
            return all_gather_p.bind(x, axes=axes, all_gather_dimension=ax + 1,
                                     tiled=tiled), d
        return (all_gather_p.bind(x, axes=axes, all_gather_dimension=ax, tiled=tiled),
                d + (not tiled))
    # The batch, stacked at ``ax``, is this axis's share; the axes before it in ``axes`` gather
    # in front of it, those after it behind, and one reshape merges them (and, tiled, ``ax``).
    shape = _example_shape(x, d)
    y = batching.matchaxis(x, d, ax, axis.size)
    major, minor = _split_axes(axes, axis.name)
    if major:
        y = all_gather_p.bind(y, axes=major, all_gather_dimension=ax, tiled=False)
    if minor:
        y = all_gather_p.bind(y, axes=minor, all_gather_dimension=ax + 1 + bool(major),
                              tiled=False)
    n = get_aval(y).size // math.prod(shape)
    out_shape = shape[:ax] + ((n * shape[ax],) if tiled else (n,)) + shape[ax + 1 - (not tiled):]
    return reshape(y, out_shape), None


all_gather_p.batch = _all_gather_batch


def _example_shape(x, d: int | None) -> tuple[int, ...]:
    shape = get_aval(x).shape
    return shape if d is None else shape[:d] + shape[d + 1:]


def _axis_index_batch(axis, vals, dims, *, axes):
    if axis.name != axes[0]:
        return axis_index_p.bind(axes=axes), None
    return iota(dtypes.int32, axis.size), 0


axis_index_p.batch = _axis_index_batch


def _ppermute_batch(axis, vals, dims, *, axes, perm):
    x, = vals
    d, = dims
    if axis.name not in axes:
        return ppermute_p.bind(x, axes=axes, perm=perm), d
    # Gather every device's value along ``axes`` into one leading dim (in linear order), then
    # each example picks its source's; those no one sends to read the fill value, zero.
    b = axis.size
    major, minor = _split_axes(axes, axis.name)
    n = b * _size(major) * _size(minor)
    src = np.full(n, n, np.int32)  # out of bounds: receives nothing
    for s, t in perm:
        src[t] = s
    y = batching.bdim_at_front(x, d, b)
    rest = get_aval(y).shape[1:]
    if not major and not minor:
        idx = src.reshape(b, 1)
    else:
        y = expand_dims(y, (0, 2))
        if major:
            y = all_gather_p.bind(y, axes=major, all_gather_dimension=0, tiled=True)
        if minor:
            y = all_gather_p.bind(y, axes=minor, all_gather_dimension=2, tiled=True)
        y = reshape(y, (n,) + rest)
        # The linear index of example k: (p * b + k) * q_size + q, with p and q this device's
        # (linear) indices along the major and minor axes.
        lin = iota(dtypes.int32, b)
        if major:
            lin = add(_scale(broadcast_in_dim(axis_index(major), (b,), ()), b), lin)
        if minor:
            lin = add(_scale(lin, _size(minor)), broadcast_in_dim(axis_index(minor), (b,), ()))
        idx = reshape(_take(src, lin), (b, 1))
    dn = GatherDimensionNumbers(offset_dims=tuple(range(1, len(rest) + 1)),
                                collapsed_slice_dims=(0,), start_index_map=(0,))
    out = gather(y, idx, dn, (1,) + rest, mode="fill", fill_value=0)
    return out, 0


def _take(table: np.ndarray, idx):
    """``table[idx]`` for a constant table and traced int32 indices (in bounds)."""
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,))
    return gather(table, reshape(idx, get_aval(idx).shape + (1,)), dn, (1,),
                  mode="promise_in_bounds")


ppermute_p.batch = _ppermute_batch


def _all_to_all_batch(axis, vals, dims, *, axes, split_axis, concat_axis):
    x, = vals
    d, = dims
    if axis.name not in axes:
        if d is None:
            return all_to_all_p.bind(x, axes=axes, split_axis=split_axis,
                                     concat_axis=concat_axis), None
        return all_to_all_p.bind(x, axes=axes, split_axis=split_axis + (d <= split_axis),
                                 concat_axis=concat_axis + (d <= concat_axis)), d
    # Name the dims: example dims by their index, the batch "own". The split dim becomes
    # (tp, tb, tq, split): target position along the major axes, this axis, the minor axes,
    # and the chunk itself; sp and sq (size 1) will receive the sources along the major and
    # minor axes. The collectives over major and minor axes move tp -> sp and tq -> sq; along
    # this axis the exchange is a renaming: the value in batch slot own for target tb is, seen
    # from example tb, the one it receives from source own.
    b = axis.size
    major, minor = _split_axes(axes, axis.name)
    p, q = _size(major), _size(minor)
    y = batching.bdim_at_front(x, d, b)
    shape = get_aval(y).shape
    labels = ["sp", "sq", "own"]
    sizes = [1, 1, b]
    for k, s in enumerate(shape[1:]):
        if k == split_axis:
            labels += ["tp", "tb", "tq", k]
            sizes += [p, b, q, s // (p * b * q)]
        else:
            labels.append(k)
            sizes.append(s)
    y = reshape(y, sizes)
    if major:
        y = all_to_all_p.bind(y, axes=major, split_axis=labels.index("tp"),
                              concat_axis=labels.index("sp"))
    if minor:
        y = all_to_all_p.bind(y, axes=minor, split_axis=labels.index("tq"),
                              concat_axis=labels.index("sq"))
    labels = ["sb" if lab == "own" else "own" if lab == "tb" else lab for lab in labels]
    groups = [("own",)] + [("sp", "sb", "sq", k) if k == concat_axis else (k,)
                           for k in range(len(shape) - 1)]
    return _relayout(y, labels, groups), 0


all_to_all_p.batch = _all_to_all_batch


def _reduce_scatter_batch(axis, vals, dims, *, axes, scatter_dimension, tiled):
    x, = vals
    d, = dims
    sd = scatter_dimension
    if axis.name not in axes:
        if d is None:
            return reduce_scatter_p.bind(x, axes=axes, scatter_dimension=sd, tiled=tiled), None
        out_d = d if tiled or d <= sd else d - 1
        return reduce_scatter_p.bind(x, axes=axes, scatter_dimension=sd + (d <= sd),
                                     tiled=tiled), out_d
    # Sum the batch, split the scatter dim into (major, this axis, minor, chunk) positions,
    # scatter the major and minor parts over their axes; this axis's part is the new batch dim.
    b = axis.size
    major, minor = _split_axes(axes, axis.name)
    p, q = _size(major), _size(minor)
    y = _scale(x, b) if d is None else reduce_sum(x, (d,))
    shape = get_aval(y).shape
    chunk = shape[sd] // (p * b * q)
    y = reshape(y, shape[:sd] + (p, b, q, chunk) + shape[sd + 1:])
    if minor:
        y = reduce_scatter_p.bind(y, axes=minor, scatter_dimension=sd + 2, tiled=False)
    if major:
        y = reduce_scatter_p.bind(y, axes=major, scatter_dimension=sd, tiled=False)
    # Left: (b, chunk) at sd, with size-1 dims where an axis group was empty; non-tiled, the
    # chunk has size 1 too and goes.
    out_shape = shape[:sd] + (b,) + ((chunk,) if tiled else ()) + shape[sd + 1:]
    return reshape(y, out_shape), sd


reduce_scatter_p.batch = _reduce_scatter_batch
