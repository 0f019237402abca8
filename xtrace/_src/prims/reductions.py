"""Reductions (sum, prod, max, min, and, or, argmax, argmin) and cumulative reductions."""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import LowerCtx, i64_array, tensor_type
from xtrace._src.prims.common import (ANY, FLOAT, INTEGRAL, NUM, check_axes, check_axis,
                                      check_kind, define, kind, lax_args)
from xtrace._src.prims.elementwise import _compare_type, complex_minmax


def identity_value(op: str, dt: np.dtype):
    """The neutral element of reduction ``op`` for dtype ``dt``."""
    if op == "add" or op == "or" or op == "xor":
        return False if dt == dtypes.bool_ else 0
    if op == "mul":
        return True if dt == dtypes.bool_ else 1
    if op == "and":
        return True if dt == dtypes.bool_ else -1 if dtypes.is_signed_int(dt) else np.iinfo(dt).max
    if op == "logaddexp":
        return -np.inf
    if op in ("max", "min"):
        if dt == dtypes.bool_:
            return op == "min"
        if dtypes.is_inexact(dt):  # complex: (-inf, 0) / (inf, 0), as in JAX
            return -np.inf if op == "max" else np.inf
        info = np.iinfo(dt)
        return info.min if op == "max" else info.max
    raise ValueError(op)


HLO_BINARY = {"add": "stablehlo.add", "mul": "stablehlo.multiply", "max": "stablehlo.maximum",
              "min": "stablehlo.minimum", "and": "stablehlo.and", "or": "stablehlo.or",
              "xor": "stablehlo.xor"}


def binary_region(ctx: LowerCtx, op: str, dt: np.dtype) -> str:
    """A reduction region ``(a, b) -> op(a, b)`` on scalars of ``dt``."""
    em = ctx.emitter
    sa = ShapedArray((), dt)
    a, b = em.fresh(sa), em.fresh(sa)
    t = tensor_type(ShapedArray((), dt))
    saved = em.lines, em.indent
    em.lines, em.indent = [], em.indent + 4
    r = binary_op(em, op, a, b, sa)
    em.lines.append(" " * em.indent + f'"stablehlo.return"({r}) : ({t}) -> ()')
    body = em.lines
    em.lines, em.indent = saved
    return ("{\n" + " " * (em.indent + 2) + f"^bb0({a}: {t}, {b}: {t}):\n"
            + "\n".join(body) + "\n" + " " * em.indent + "}")


def binary_op(em, op: str, a: str, b: str, aval: ShapedArray) -> str:
    """Emit ``op(a, b)`` on values of type ``aval``; complex max/min are lexicographic."""
    if op in ("max", "min") and dtypes.is_complex(aval.dtype):
        return complex_minmax(em, a, b, aval, "GT" if op == "max" else "LT")
    if op == "logaddexp":
        return _logaddexp_ops(em, a, b, aval)
    return em.op(HLO_BINARY[op], [a, b], [aval, aval], [aval])[0]


def _logaddexp_ops(em, a: str, b: str, aval: ShapedArray) -> str:
    """``max(a, b) + log1p(exp(-|a - b|))``, or ``a + b`` where ``a - b`` is NaN (equal
    infinities), as JAX's logaddexp."""
    def op(name, *xs, out=aval, attrs=None):
        return em.op(name, list(xs), [em.types[x] for x in xs], [out], attrs)[0]
    amax = op("stablehlo.maximum", a, b)
    delta = op("stablehlo.subtract", a, b)
    isnan = op("stablehlo.compare", delta, delta, out=ShapedArray(aval.shape, dtypes.bool_),
               attrs="comparison_direction = #stablehlo<comparison_direction NE>, "
                     "compare_type = #stablehlo<comparison_type FLOAT>")
    soft = op("stablehlo.log_plus_one", op("stablehlo.exponential",
                                           op("stablehlo.negate", op("stablehlo.abs", delta))))
    return op("stablehlo.select", isnan, op("stablehlo.add", a, b), op("stablehlo.add", amax, soft))


# ---- reduce_<op> ----
def _reduce_abstract(name, kinds, x, *, axes):
    axes = check_axes(name, axes, x.ndim)
    check_kind(name, x, kinds)
    return ShapedArray([d for i, d in enumerate(x.shape) if i not in axes], x.dtype, x.weak_type)


def _reduce_lower(op, ctx, x, *, axes):
    a = ctx.avals_in[0]
    init = ctx.constant(identity_value(op, a.dtype), ShapedArray((), a.dtype))
    return ctx.op("stablehlo.reduce", [x, init], operand_avals=[a, ShapedArray((), a.dtype)],
                  regions=[binary_region(ctx, op, a.dtype)],
                  attrs=f"dimensions = {i64_array(axes)}")[0]


def _reduction(name, op, kinds):
    p = define(name, functools.partial(_reduce_abstract, name, kinds),
               functools.partial(_reduce_lower, op))

    def wrapper(x, axes: Sequence[int]):
        x, = lax_args(x)
        ax = check_axes(name, tuple(int(a) for a in axes), get_aval(x).ndim)
        return p.bind(x, axes=tuple(sorted(ax))) if ax else x
    wrapper.__name__ = name
    wrapper.__doc__ = f"Reduce ``x`` over ``axes`` with {op}."
    return p, wrapper


reduce_sum_p, reduce_sum = _reduction("reduce_sum", "add", NUM)
reduce_prod_p, reduce_prod = _reduction("reduce_prod", "mul", NUM)
reduce_max_p, reduce_max = _reduction("reduce_max", "max", ANY)
reduce_min_p, reduce_min = _reduction("reduce_min", "min", ANY)
reduce_and_p, reduce_and = _reduction("reduce_and", "and", INTEGRAL)
reduce_or_p, reduce_or = _reduction("reduce_or", "or", INTEGRAL)
reduce_xor_p, reduce_xor = _reduction("reduce_xor", "xor", INTEGRAL)


# ---- reduce: a reduction with a user-given computation (the region of stablehlo.reduce) ----
def _generic_reduce_abstract(*avals, jaxpr, dimensions):
    n = len(avals) // 2
    ops, inits = avals[:n], avals[n:]
    if any(a.shape != () for a in inits):
        raise ValueError(f"reduce found non-scalar initial value: {[a.shape for a in inits]}")
    if [o.dtype for o in ops] != [i.dtype for i in inits]:
        raise TypeError("reduce operand dtypes should match corresponding initial value dtypes,"
                        f" got operands={[o.str_short() for o in ops]} and initial_values="
                        f"{[i.str_short() for i in inits]}")
    if len({o.shape for o in ops}) > 1:
        raise ValueError(f"reduce operands must have the same shape, got "
                         f"{[o.shape for o in ops]}")
    dims = check_axes("reduce", dimensions, ops[0].ndim)
    return [ShapedArray([d for k, d in enumerate(o.shape) if k not in dims], o.dtype,
                        o.weak_type and i.weak_type) for o, i in zip(ops, inits)]


def _generic_reduce_lower(ctx, *xs, jaxpr, dimensions):
    n = len(xs) // 2
    return ctx.op("stablehlo.reduce", list(xs), regions=[ctx.region(jaxpr)],
                  attrs=f"dimensions = {i64_array(dimensions)}")[:n]


reduce_p = define("reduce", _generic_reduce_abstract, _generic_reduce_lower,
                  multiple_results=True)

# lax function name -> monoid; monoid -> its reduction
_MONOIDS = {"add": "add", "mul": "mul", "max": "max", "min": "min", "bitwise_and": "and",
            "bitwise_or": "or", "bitwise_xor": "xor"}
_MONOID_REDUCERS = {"add": reduce_sum, "mul": reduce_prod, "max": reduce_max,
                    "min": reduce_min, "and": reduce_and, "or": reduce_or, "xor": reduce_xor}


def monoid_op(computation, inits: Sequence) -> str | None:
    """The monoid (``"add"``, ``"max"``...) that ``computation`` is, when it is that lax
    function and the only init value is a concrete scalar equal to its identity (JAX's rule)."""
    from xtrace._src import lax
    from xtrace._src.core import Tracer
    if len(inits) != 1 or isinstance(inits[0], Tracer):
        return None
    name = next((k for k in _MONOIDS if getattr(lax, k) is computation), None)
    if name is None:
        return None
    a = get_aval(inits[0])
    op = _MONOIDS[name]
    if a.shape != () or (op in ("and", "or", "xor") and kind(a.dtype) not in INTEGRAL):
        return None
    ok = np.equal(np.asarray(inits[0]), np.asarray(identity_value(op, a.dtype), a.dtype))
    return op if bool(ok) else None


def _flat_pairs(what: str, operands, init_values):
    from xtrace._src.tree_util import tree_flatten
    xs, tree = tree_flatten(operands)
    inits, itree = tree_flatten(init_values)
    if tree != itree:
        raise ValueError(f"Operands must have the same tree structure as init_values: {tree} "
                         f"vs. {itree}")
    if not xs:
        raise ValueError(f"{what} must have at least one operand")
    pairs = [lax_args(x, i) for x, i in zip(xs, inits)]
    return [p[0] for p in pairs], [p[1] for p in pairs], tree


def reduce(operands, init_values, computation, dimensions: Sequence[int],
           out_sharding=None):
    """Reduce ``operands`` (an array or pytree of same-shaped arrays) over ``dimensions`` with
    ``computation(acc, x)`` starting from the scalar ``init_values`` (the same pytree).

    As in JAX, ``lax.add``/``mul``/``max``/``min``/``bitwise_*`` with their identity as init
    value become ``reduce_sum``/...; any other computation is traced once to the region of a
    general ``reduce`` (it should be associative and commutative: XLA may reduce in any order).
    """
    from xtrace._src.tree_util import tree_unflatten
    from xtrace._src.prims.control_flow import stage_reducer
    from xtrace._src.prims.elementwise import convert_element_type
    xs, inits, tree = _flat_pairs("reduce", operands, init_values)
    dims = tuple(int(d) for d in dimensions)
    op = monoid_op(computation, inits)
    if op is not None:
        a, ia = get_aval(xs[0]), get_aval(inits[0])
        out = _MONOID_REDUCERS[op](xs[0], dims)
        weak = a.weak_type and ia.weak_type
        return tree_unflatten(tree, [convert_element_type(out, a.dtype, weak)])
    jaxpr = stage_reducer(computation, tree, [get_aval(i).update(weak_type=False)
                                              for i in inits], "reduce computation")
    dims = tuple(sorted(check_axes("reduce", dims, get_aval(xs[0]).ndim)))
    return tree_unflatten(tree, reduce_p.bind(*xs, *inits, jaxpr=jaxpr, dimensions=dims))


# ---- argmax / argmin ----
def _arg_abstract(name, x, *, axes, index_dtype):
    if len(axes) != 1:
        raise ValueError(f"{name} reduces exactly one axis, got {axes}")
    ax = check_axis(name, axes[0], x.ndim)
    if x.ndim == 0:
        raise ValueError(f"{name}: cannot reduce a 0-d array")
    if x.shape[ax] == 0:
        raise ValueError(f"{name}: attempt to get {name} of an empty sequence (axis {ax})")
    check_kind(name, x, ("bool", "int", "uint", "float"))
    if not dtypes.is_int(index_dtype):
        raise TypeError(f"{name}: index_dtype must be an integer type, got {index_dtype}")
    return ShapedArray([d for i, d in enumerate(x.shape) if i != ax], index_dtype)


def _arg_lower(is_max, ctx, x, *, axes, index_dtype):
    a = ctx.avals_in[0]
    ax = axes[0]
    idx_aval = ShapedArray(a.shape, index_dtype)
    idx = ctx.op1("stablehlo.iota", [], idx_aval, f"iota_dimension = {ax} : i64",
                  operand_avals=[])
    sv, si = ShapedArray((), a.dtype), ShapedArray((), index_dtype)
    init_v = ctx.constant(identity_value("max" if is_max else "min", a.dtype), sv)
    init_i = ctx.constant(0, si)
    em = ctx.emitter
    av, ai, bv, bi = em.fresh(sv), em.fresh(si), em.fresh(sv), em.fresh(si)
    tv, ti = tensor_type(sv), tensor_type(si)
    saved = em.lines, em.indent
    em.lines, em.indent = [], em.indent + 4
    ct = _compare_type(a.dtype)

    def cmp(x_, y_, d, t=ct):
        return em.op("stablehlo.compare", [x_, y_], [sv, sv],
                     [ShapedArray((), dtypes.bool_)],
                     f"comparison_direction = #stablehlo<comparison_direction {d}>, "
                     f"compare_type = #stablehlo<comparison_type {t}>")[0]

    b_ = ShapedArray((), dtypes.bool_)
    pick_a = cmp(av, bv, "GT" if is_max else "LT")
    eq = cmp(av, bv, "EQ")
    if kind(a.dtype) == "float":
        a_nan = cmp(av, av, "NE")
        b_nan = cmp(bv, bv, "NE")
        pick_a = em.op("stablehlo.or", [pick_a, a_nan], [b_, b_], [b_])[0]
        both = em.op("stablehlo.and", [a_nan, b_nan], [b_, b_], [b_])[0]
        eq = em.op("stablehlo.or", [eq, both], [b_, b_], [b_])[0]
    val = em.op("stablehlo.select", [pick_a, av, bv], [b_, sv, sv], [sv])[0]
    mi = em.op("stablehlo.minimum", [ai, bi], [si, si], [si])[0]
    pi = em.op("stablehlo.select", [pick_a, ai, bi], [b_, si, si], [si])[0]
    ri = em.op("stablehlo.select", [eq, mi, pi], [b_, si, si], [si])[0]
    em.lines.append(" " * em.indent + f'"stablehlo.return"({val}, {ri}) : ({tv}, {ti}) -> ()')
    body = em.lines
    em.lines, em.indent = saved
    region = ("{\n" + " " * (em.indent + 2) + f"^bb0({av}: {tv}, {ai}: {ti}, {bv}: {tv}, "
              f"{bi}: {ti}):\n" + "\n".join(body) + "\n" + " " * em.indent + "}")
    out = ctx.avals_out[0]
    outs = ctx.op("stablehlo.reduce", [x, idx, init_v, init_i],
                  [ShapedArray(out.shape, a.dtype), out],
                  operand_avals=[a, idx_aval, sv, si], regions=[region],
                  attrs=f"dimensions = {i64_array([ax])}")
    return outs[1]


argmax_p = define("argmax", functools.partial(_arg_abstract, "argmax"),
                  functools.partial(_arg_lower, True))
argmin_p = define("argmin", functools.partial(_arg_abstract, "argmin"),
                  functools.partial(_arg_lower, False))


def argmax(x, axis: int, index_dtype=dtypes.int32):
    """Index of the largest element along ``axis`` (first one on ties; NaN counts as largest)."""
    x, = lax_args(x)
    ax = check_axis("argmax", int(axis), get_aval(x).ndim)
    return argmax_p.bind(x, axes=(ax,), index_dtype=dtypes.canonicalize_dtype(index_dtype))


def argmin(x, axis: int, index_dtype=dtypes.int32):
    """Index of the smallest element along ``axis`` (first one on ties; NaN counts as smallest)."""
    x, = lax_args(x)
    ax = check_axis("argmin", int(axis), get_aval(x).ndim)
    return argmin_p.bind(x, axes=(ax,), index_dtype=dtypes.canonicalize_dtype(index_dtype))


# ---- cumulative reductions: log-depth (Hillis-Steele) scans made of pad + slice + op ----
def _cum_abstract(name, kinds, x, *, axis, reverse):
    if x.ndim == 0:
        raise ValueError(f"{name}: axis {axis} is out of bounds for a 0-d array")
    check_axis(name, axis, x.ndim)
    check_kind(name, x, kinds)
    return x


def _cum_lower(op, ctx, x, *, axis, reverse):
    a = ctx.avals_in[0]
    n = a.shape[axis]
    ident = ctx.constant(identity_value(op, a.dtype), ShapedArray((), a.dtype))
    shift = 1
    while shift < n:
        lo = [0] * a.ndim
        hi = [0] * a.ndim
        if reverse:
            hi[axis] = shift
        else:
            lo[axis] = shift
        padded_shape = list(a.shape)
        padded_shape[axis] += shift
        pa = ShapedArray(padded_shape, a.dtype)
        p = ctx.op1("stablehlo.pad", [x, ident], pa, operand_avals=[a, ShapedArray((), a.dtype)],
                    attrs=f"edge_padding_low = {i64_array(lo)}, edge_padding_high = "
                          f"{i64_array(hi)}, interior_padding = {i64_array([0] * a.ndim)}")
        start = [0] * a.ndim
        if reverse:
            start[axis] = shift
        limit = [s + d for s, d in zip(start, a.shape)]
        s = ctx.op1("stablehlo.slice", [p], a, operand_avals=[pa],
                    attrs=f"start_indices = {i64_array(start)}, limit_indices = "
                          f"{i64_array(limit)}, strides = {i64_array([1] * a.ndim)}")
        x = binary_op(ctx.emitter, op, x, s, a)
        shift *= 2
    return x


def _cumulative(name, op, kinds):
    p = define(name, functools.partial(_cum_abstract, name, kinds),
               functools.partial(_cum_lower, op))

    def wrapper(x, axis: int = 0, reverse: bool = False):
        x, = lax_args(x)
        ax = check_axis(name, int(axis), get_aval(x).ndim)
        return p.bind(x, axis=ax, reverse=bool(reverse))
    wrapper.__name__ = name
    wrapper.__doc__ = f"Cumulative {op} along ``axis`` (from the end when ``reverse``)."
    return p, wrapper


cumsum_p, cumsum = _cumulative("cumsum", "add", NUM)
cumprod_p, cumprod = _cumulative("cumprod", "mul", NUM)
cummax_p, cummax = _cumulative("cummax", "max", ANY)
cummin_p, cummin = _cumulative("cummin", "min", ANY)
cumlogsumexp_p, cumlogsumexp = _cumulative("cumlogsumexp", "logaddexp", FLOAT)


# ---------------------------------------------------------------------------------------------
# Differentiation rules.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero, deflinear, defjvp_zero  # noqa: E402


def _kept_dims(ndim, axes):
    return tuple(i for i in range(ndim) if i not in axes)


def _t_reduce_sum(ct, x, *, axes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    from xtrace._src.prims.structural import broadcast_in_dim
    return [broadcast_in_dim(ct, x.aval.shape, _kept_dims(x.aval.ndim, axes))]


deflinear(reduce_sum_p, _t_reduce_sum)


def _chooser_jvp(prim):
    # Ties share the tangent equally (JAX's choice for max/min reductions).
    def rule(primals, tangents, *, axes):
        from xtrace._src import lax
        x, = primals
        g, = tangents
        ans = prim.bind(x, axes=axes)
        shape = get_aval(x).shape
        kept = _kept_dims(len(shape), axes)
        loc = lax.convert_element_type(lax.eq(x, lax.broadcast_in_dim(ans, shape, kept)),
                                       get_aval(g).dtype)
        counts = lax.reduce_sum(loc, axes)
        return ans, lax.div(lax.reduce_sum(lax.mul(g, loc), axes), counts)
    return rule


reduce_max_p.jvp = _chooser_jvp(reduce_max_p)
reduce_min_p.jvp = _chooser_jvp(reduce_min_p)


def _reduce_prod_jvp(primals, tangents, *, axes):
    # d prod = sum_i g_i * prod_{j != i} x_j, with the "others" product from exclusive
    # cumulative products from both ends (exact even where x has zeros).
    from xtrace._src import lax
    x, = primals
    g, = tangents
    ans = reduce_prod_p.bind(x, axes=axes)
    a = get_aval(x)
    kept = _kept_dims(a.ndim, axes)
    perm = kept + tuple(axes)
    rest = [a.shape[i] for i in kept]
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    xf = lax.reshape(lax.transpose(x, perm), rest + [n])
    gf = lax.reshape(lax.transpose(g, perm), rest + [n])
    one = np.ones((), a.dtype)[()]
    cfg_l = [(0, 0, 0)] * len(rest) + [(1, -1, 0)]
    cfg_r = [(0, 0, 0)] * len(rest) + [(-1, 1, 0)]
    left = lax.pad(cumprod(xf, axis=len(rest)), one, cfg_l)
    right = lax.pad(cumprod(xf, axis=len(rest), reverse=True), one, cfg_r)
    others = lax.mul(left, right)
    return ans, lax.reduce_sum(lax.mul(gf, others), (len(rest),))


reduce_prod_p.jvp = _reduce_prod_jvp
for _p in (reduce_and_p, reduce_or_p, reduce_xor_p, argmax_p, argmin_p):
    defjvp_zero(_p)

deflinear(cumsum_p, lambda ct, x, *, axis, reverse: [
    Zero(x.aval) if isinstance(ct, Zero) else cumsum(ct, axis, not reverse)])


def _cum_composite(op, x, axis, reverse):
    """The same log-depth scan as the lowering, built from differentiable primitives."""
    from xtrace._src import lax
    a = get_aval(x)
    n = a.shape[axis]
    ident = np.asarray(identity_value(op, a.dtype), a.dtype)[()]
    fn = {"mul": lax.mul, "max": lax.max, "min": lax.min, "logaddexp": _logaddexp}[op]
    shift = 1
    while shift < n:
        cfg = [(0, 0, 0)] * a.ndim
        cfg[axis] = (0, shift, 0) if reverse else (shift, 0, 0)
        padded = lax.pad(x, ident, cfg)
        start = [0] * a.ndim
        if reverse:
            start[axis] = shift
        limit = [s + d for s, d in zip(start, a.shape)]
        x = fn(x, lax.slice(padded, start, limit))
        shift *= 2
    return x


def _cum_jvp(op, prim):
    def rule(primals, tangents, *, axis, reverse):
        out, t = ad.jvp_flat(lambda v: [_cum_composite(op, v, axis, reverse)],
                             primals, tangents)
        return prim.bind(primals[0], axis=axis, reverse=reverse), t[0]
    return rule


cumprod_p.jvp = _cum_jvp("mul", cumprod_p)
cummax_p.jvp = _cum_jvp("max", cummax_p)
cummin_p.jvp = _cum_jvp("min", cummin_p)
cumlogsumexp_p.jvp = _cum_jvp("logaddexp", cumlogsumexp_p)


def _logaddexp(x, y):
    from xtrace._src import lax
    delta = lax.sub(x, y)
    soft = lax.add(lax.max(x, y), lax.log1p(lax.exp(lax.neg(lax.abs(delta)))))
    return lax.select(lax.ne(delta, delta), lax.add(x, y), soft)


def _generic_reduce_jvp(primals, tangents, *, jaxpr, dimensions):
    # JAX's rule: the reduced axes flattened to the front, then halved repeatedly with the
    # computation (vmapped over the rest) under jvp.
    from xtrace._src import api, lax
    from xtrace._src.jaxpr_util import eval_closed
    n = len(primals) // 2
    xs, inits = list(primals[:n]), list(primals[n:])
    if any(not isinstance(t, Zero) for t in tangents[n:]):
        raise NotImplementedError("Gradient of general lax.reduce with non-zero tangents for "
                                  "initial values to reduction not implemented")
    shape = get_aval(xs[0]).shape
    kept = _kept_dims(len(shape), dimensions)
    size = int(np.prod([shape[d] for d in dimensions], dtype=np.int64))
    new_shape = (size,) + tuple(shape[d] for d in kept)
    perm = tuple(dimensions) + kept
    flat = lambda v: lax.reshape(v, new_shape, perm)
    ts = [t if isinstance(t, Zero) else flat(t) for t in tangents[:n]]
    reducer = lambda *a: eval_closed(jaxpr, *a)
    for _ in range(len(kept) + 1):
        reducer = api.vmap(reducer)

    def tree_reduce(*vs):
        vs = list(vs)
        while vs[0].shape[0] > 1:
            m = vs[0].shape[0]
            h = (m + 1) // 2
            lo = [lax.slice_in_dim(v, 0, h) for v in vs]
            hi = [lax.slice_in_dim(v, h, m) for v in vs]
            if m - h != h:
                cfg = [(0, 1, 0)] + [(0, 0, 0)] * len(kept)
                hi = [lax.pad(v, i, cfg) for v, i in zip(hi, inits)]
            vs = list(reducer(*lo, *hi))
        if vs[0].shape[0] == 0:
            return [lax.full(new_shape[1:], i) for i in inits]
        return [lax.squeeze(v, (0,)) for v in vs]

    outs, touts = ad.jvp_flat(tree_reduce, [flat(x) for x in xs], ts)
    return outs, touts


reduce_p.jvp = _generic_reduce_jvp


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above: every op acts along axes given as params, so the
# batch dimension stays where it is and the axes shift past it.
from xtrace._src import batching  # noqa: E402


def _out_dim(bdim: int, reduced: Sequence[int]) -> int:
    """Where the batch dimension lands once the (batched-array) axes ``reduced`` are gone."""
    return bdim - sum(a < bdim for a in reduced)


def _reduce_batch(prim):
    def rule(axis, vals, dims, *, axes, **params):
        x, = vals
        d, = dims
        new_axes = tuple(batching.shift_axis(a, d) for a in axes)  # still sorted
        return prim.bind(x, axes=new_axes, **params), _out_dim(d, new_axes)
    return rule


def _cum_batch(prim):
    def rule(axis_data, vals, dims, *, axis, reverse):
        x, = vals
        d, = dims
        return prim.bind(x, axis=batching.shift_axis(axis, d), reverse=reverse), d
    return rule


for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p,
           reduce_xor_p, argmax_p, argmin_p):
    _p.batch = _reduce_batch(_p)
for _p in (cumsum_p, cumprod_p, cummax_p, cummin_p, cumlogsumexp_p):
    _p.batch = _cum_batch(_p)


def _generic_reduce_batch(axis, vals, dims, *, jaxpr, dimensions):
    n = len(vals) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("vmap of lax.reduce over batched init values is not "
                                  "implemented (as in JAX)")
    xs = [batching.bdim_at_front(x, d, axis.size) for x, d in zip(vals[:n], dims[:n])]
    outs = reduce_p.bind(*xs, *vals[n:], jaxpr=jaxpr, dimensions=tuple(d + 1 for d in dimensions))
    return outs, [0] * n


reduce_p.batch = _generic_reduce_batch
