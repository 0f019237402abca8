"""Windowed reductions (``stablehlo.reduce_window``): ``reduce_window_sum``, ``_max``, ``_min``
and the general ``reduce_window`` whose region is a user-given computation, behind JAX's
``lax.reduce_window`` (which picks the specific primitives for ``lax.add``/``max``/``min``
with their identity as init value).

Primitives (operands -> results), all with params ``window_dimensions``, ``window_strides``,
``padding`` ((low, high) per dimension), ``base_dilation`` and ``window_dilation``:

* ``reduce_window_sum|max|min``: ``x -> y``;
* ``reduce_window[jaxpr]``: ``*xs, *inits -> *ys`` (``jaxpr``: the region, on scalars).

Derivatives follow JAX: the sum is linear (its transpose is a padded, dilated window sum);
max/min take the tangent at the element each window chose (found with a general
``reduce_window`` over (value, index) pairs, then a gather, so reverse mode works too); the
general one has a forward-mode rule only (reduce_window of the JVP of the computation).
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import LowerCtx, i64_array
from xtrace._src.prims.common import ANY, NUM, check_kind, define
from xtrace._src.prims.reductions import _flat_pairs, binary_region, identity_value, monoid_op

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")


def _dilate(d: int, r: int) -> int:
    return 0 if d == 0 else 1 + r * (d - 1)


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None) -> tuple[int, ...]:
    """The result shape of a windowed reduction."""
    if base_dilation is not None:
        operand_shape = [_dilate(d, r) for d, r in zip(operand_shape, base_dilation)]
    if window_dilation is not None:
        window_dimensions = [_dilate(d, r) for d, r in zip(window_dimensions, window_dilation)]
    padded = [int(d) + lo + hi for d, (lo, hi) in zip(operand_shape, padding)]
    return tuple(0 if d < w else (d - w) // s + 1
                 for d, w, s in zip(padded, window_dimensions, window_strides))


def _window_shape(name: str, x: ShapedArray, *, window_dimensions, window_strides, padding,
                  base_dilation, window_dilation) -> tuple[int, ...]:
    for what, v in (("window_dimensions", window_dimensions),
                    ("window_strides", window_strides), ("base_dilation", base_dilation),
                    ("window_dilation", window_dilation), ("padding", padding)):
        if len(v) != x.ndim:
            raise TypeError(f"{name}: {what} {tuple(v)} must have one entry per dimension of "
                            f"the operand, shape {x.shape}")
    for what, v in (("window_dimensions", window_dimensions),
                    ("window_strides", window_strides), ("base_dilation", base_dilation),
                    ("window_dilation", window_dilation)):
        if any(d <= 0 for d in v):
            raise TypeError(f"{name}: {what} must be positive, got {tuple(v)}")
    return reduce_window_shape_tuple(x.shape, window_dimensions, window_strides, padding,
                                     base_dilation, window_dilation)


def _window_attrs(window_dimensions, window_strides, padding, base_dilation,
                  window_dilation) -> str:
    n = len(window_dimensions)
    pads = ", ".join(f"[{lo}, {hi}]" for lo, hi in padding)
    return (f"base_dilations = {i64_array(base_dilation)}, "
            f"padding = dense<{'[' + pads + ']' if n else ''}> : tensor<{n}x2xi64>, "
            f"window_dilations = {i64_array(window_dilation)}, "
            f"window_dimensions = {i64_array(window_dimensions)}, "
            f"window_strides = {i64_array(window_strides)}")


# ---- reduce_window_sum / max / min ----
def _monoid_abstract(name, kinds, x, **params):
    check_kind(name, x, kinds)
    return ShapedArray(_window_shape(name, x, **params), x.dtype, x.weak_type)


def _monoid_lower(op, ctx: LowerCtx, x, **params):
    a = ctx.avals_in[0]
    sa = ShapedArray((), a.dtype)
    init = ctx.constant(identity_value(op, a.dtype), sa)
    return ctx.op("stablehlo.reduce_window", [x, init], operand_avals=[a, sa],
                  regions=[binary_region(ctx, op, a.dtype)], attrs=_window_attrs(**params))[0]


def _monoid_prim(name: str, op: str, kinds):
    return define(name, functools.partial(_monoid_abstract, name, kinds),
                  functools.partial(_monoid_lower, op))


reduce_window_sum_p = _monoid_prim("reduce_window_sum", "add", NUM)
reduce_window_max_p = _monoid_prim("reduce_window_max", "max", ANY)
reduce_window_min_p = _monoid_prim("reduce_window_min", "min", ANY)
_MONOID_PRIMS = {"add": reduce_window_sum_p, "max": reduce_window_max_p,
                 "min": reduce_window_min_p}


# ---- reduce_window with a computation ----
def _generic_abstract(*avals, jaxpr, **params):
    n = len(avals) // 2
    ops, inits = avals[:n], avals[n:]
    if any(o.dtype != i.dtype for o, i in zip(ops, inits)):
        raise TypeError("reduce_window got inconsistent dtypes for operands and init_values: "
                        f"got operand dtypes {[o.dtype.name for o in ops]} and init_value "
                        f"dtypes {[i.dtype.name for i in inits]}.")
    if any(i.shape != () for i in inits):
        raise TypeError("reduce_window expected init_values to be scalars but init_values have "
                        f"shapes {[i.shape for i in inits]}.")
    if len({o.shape for o in ops}) > 1:
        raise TypeError(f"reduce_window operands must have the same shape, got "
                        f"{[o.shape for o in ops]}")
    shape = _window_shape("reduce_window", ops[0], **params)
    return [ShapedArray(shape, o.dtype) for o in ops]


def _generic_lower(ctx: LowerCtx, *xs, jaxpr, **params):
    return ctx.op("stablehlo.reduce_window", list(xs), regions=[ctx.region(jaxpr)],
                  attrs=_window_attrs(**params))


reduce_window_p = define("reduce_window", _generic_abstract, _generic_lower,
                         multiple_results=True)


def _ints(xs, what: str, n: int) -> tuple[int, ...]:
    try:
        out = tuple(operator.index(x) for x in xs)
    except TypeError:
        raise TypeError(f"reduce_window: {what} must be a sequence of ints, got {xs!r}") from None
    if len(out) != n:
        raise TypeError(f"reduce_window: {what} {out} must have one entry per dimension ({n})")
    return out


def _window_params(shape, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation) -> dict:
    from xtrace._src.prims.conv import padtype_to_pads
    n = len(shape)
    wd = _ints(window_dimensions, "window_dimensions", n)
    ws = (1,) * n if window_strides is None else _ints(window_strides, "window_strides", n)
    bd = (1,) * n if base_dilation is None else _ints(base_dilation, "base_dilation", n)
    wdl = (1,) * n if window_dilation is None else _ints(window_dilation, "window_dilation", n)
    if isinstance(padding, str):
        pads = padtype_to_pads(shape, [_dilate(d, r) for d, r in zip(wd, wdl)], ws, padding)
    else:
        pads = [(operator.index(lo), operator.index(hi)) for lo, hi in padding]
    return dict(window_dimensions=wd, window_strides=ws, padding=tuple(map(tuple, pads)),
                base_dilation=bd, window_dilation=wdl)


def reduce_window(operand: Any, init_value: Any, computation: Callable,
                  window_dimensions: Sequence[int], window_strides: Sequence[int] | None = None,
                  padding: str | Sequence[tuple[int, int]] = "VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """Reduce each window of ``operand`` (an array or a pytree of same-shaped arrays) with
    ``computation``, starting from ``init_value`` (scalars, the same pytree) — XLA's
    ReduceWindow with general padding ('SAME', 'VALID' or (low, high) pairs) and dilations.

    ``lax.add``/``lax.max``/``lax.min`` with their identity as init value become the
    ``reduce_window_sum``/``_max``/``_min`` primitives, as in JAX."""
    from xtrace._src.prims.control_flow import stage_reducer
    from xtrace._src.tree_util import tree_unflatten
    xs, inits, tree = _flat_pairs("reduce_window", operand, init_value)
    params = _window_params(get_aval(xs[0]).shape, window_dimensions, window_strides, padding,
                            base_dilation, window_dilation)
    op = monoid_op(computation, inits)
    if op in _MONOID_PRIMS:
        return tree_unflatten(tree, [_MONOID_PRIMS[op].bind(xs[0], **params)])
    jaxpr = stage_reducer(computation, tree, [get_aval(i).update(weak_type=False)
                                              for i in inits], "reduce_window computation")
    return tree_unflatten(tree, reduce_window_p.bind(*xs, *inits, jaxpr=jaxpr, **params))


# ---------------------------------------------------------------------------------------------
# Differentiation rules.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero  # noqa: E402


def _sum_transpose(ct, x, *, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation):
    # JAX's rule: pad the cotangent (interior: strides - 1) and window-sum it again with the
    # base dilation as the stride.
    from xtrace._src.prims.conv import _vjp_lhs_padding
    from xtrace._src.prims.structural import pad
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    shape = x.aval.shape
    cshape = get_aval(ct).shape
    pads = _vjp_lhs_padding(shape, window_dimensions, window_strides, cshape, padding,
                            base_dilation, window_dilation)
    cfg = [(lo, hi, s - 1) for (lo, hi), s in zip(pads, window_strides)]
    padded = pad(ct, np.zeros((), get_aval(ct).dtype)[()], cfg)
    out = reduce_window_sum_p.bind(padded, window_dimensions=window_dimensions,
                                   window_strides=base_dilation,
                                   padding=((0, 0),) * len(shape),
                                   base_dilation=(1,) * len(shape),
                                   window_dilation=window_dilation)
    return [out]


ad.deflinear(reduce_window_sum_p, _sum_transpose)


def _chosen_pair(is_max: bool):
    """(value, index) pairs: the larger (smaller) value wins; NaN counts as the extreme and
    ties go to the smaller index, so the choice does not depend on XLA's order."""
    from xtrace._src import lax

    def pick(a, b):
        (av, ai), (bv, bi) = a, b
        better = lax.gt(av, bv) if is_max else lax.lt(av, bv)
        eq = lax.eq(av, bv)
        if dtypes.is_inexact(get_aval(av).dtype):
            a_nan, b_nan = lax.ne(av, av), lax.ne(bv, bv)
            better = lax.bitwise_or(better, lax.bitwise_and(a_nan, lax.bitwise_not(b_nan)))
            eq = lax.bitwise_or(eq, lax.bitwise_and(a_nan, b_nan))
        take_a = lax.bitwise_or(better, lax.bitwise_and(eq, lax.lt(ai, bi)))
        return lax.select(take_a, av, bv), lax.select(take_a, ai, bi)
    return pick


_PICK = {True: _chosen_pair(True), False: _chosen_pair(False)}


def _chooser_jvp(prim, op):
    def rule(primals, tangents, **params):
        from xtrace._src import lax
        from xtrace._src.prims.indexing import GatherDimensionNumbers, gather
        x, = primals
        t, = tangents
        out = prim.bind(x, **params)
        if isinstance(t, Zero):
            return out, ad.zero_of(out)
        a = get_aval(x)
        n = int(np.prod(a.shape, dtype=np.int64))
        idx = lax.reshape(lax.iota(dtypes.int32, n), a.shape)
        # padding and dilation holes carry index n: they lose ties, and read a zero tangent
        init = (np.asarray(identity_value(op, a.dtype), a.dtype)[()], np.int32(n))
        _, chosen = reduce_window((x, idx), init, _PICK[op == "max"], **params)
        t_ext = lax.concatenate([lax.reshape(t, (n,)), lax.full((1,), 0, get_aval(t).dtype)], 0)
        dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
                                    start_index_map=(0,))
        return out, gather(t_ext, lax.expand_dims(chosen, (chosen.ndim,)), dn, (1,))
    return rule


reduce_window_max_p.jvp = _chooser_jvp(reduce_window_max_p, "max")
reduce_window_min_p.jvp = _chooser_jvp(reduce_window_min_p, "min")


def _generic_jvp(primals, tangents, *, jaxpr, **params):
    from xtrace._src.jaxpr_util import eval_closed
    n = len(primals) // 2
    if any(not isinstance(t, Zero) for t in tangents[n:]):
        raise TypeError("reduce_window jvp does not support non-zero init_value_tangent.")
    ts = [ad.instantiate(t) for t in tangents[:n]]
    t_inits = [np.zeros((), get_aval(i).dtype)[()] for i in primals[n:]]

    def pair(left, right):
        outs, touts = ad.jvp_flat(lambda *a: eval_closed(jaxpr, *a),
                                  list(left[:n]) + list(right[:n]),
                                  list(left[n:]) + list(right[n:]))
        return [*outs, *[ad.instantiate(t, get_aval(o)) for t, o in zip(touts, outs)]]

    both = reduce_window([*primals[:n], *ts], [*primals[n:], *t_inits], pair, **params)
    # the primal results on their own, so that linearize sees them known and reverse mode
    # fails at the transpose (the tangent reduction has none, as in JAX) with a clear error
    return reduce_window_p.bind(*primals, jaxpr=jaxpr, **params), list(both[n:])


reduce_window_p.jvp = _generic_jvp


# ---------------------------------------------------------------------------------------------
# Batching rules: the batch dimension becomes one more window dimension of size 1.
from xtrace._src import batching  # noqa: E402


def _insert(params: dict, d: int) -> dict:
    one = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
           "base_dilation": 1, "window_dilation": 1}
    return {k: v[:d] + (one[k],) + v[d:] if k in one else v for k, v in params.items()}


def _monoid_batch(prim):
    def rule(axis, vals, dims, **params):
        x, = vals
        d, = dims
        return prim.bind(x, **_insert(params, d)), d
    return rule


for _p in _MONOID_PRIMS.values():
    _p.batch = _monoid_batch(_p)


def _generic_batch(axis, vals, dims, *, jaxpr, **params):
    n = len(vals) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("reduce_window batching is not implemented for initial "
                                  "values")
    xs = [batching.bdim_at_front(x, d, axis.size) for x, d in zip(vals[:n], dims[:n])]
    outs = reduce_window_p.bind(*xs, *vals[n:], jaxpr=jaxpr, **_insert(params, 0))
    return outs, [0] * n


reduce_window_p.batch = _generic_batch
