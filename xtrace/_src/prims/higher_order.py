"""Higher-order lax functions built on traced user functions, with JAX's semantics:

* ``associative_scan``: the parallel prefix algorithm (Blelloch), written with strided slices,
  pads and the user's combining function, so it is differentiable and batchable as is;
* ``custom_root``: a root found by ``solve``, differentiated implicitly (the implicit function
  theorem) with ``tangent_solve``; a ``custom_jvp`` over the Jaxprs of the user's functions,
  whose closed-over values become explicit arguments;
* ``custom_linear_solve``: the ``custom_linear_solve`` primitive
  ``*matvec_consts, *vecmat_consts, *solve_consts, *transpose_solve_consts, *b -> x (, aux)``:
  it runs ``solve``; its JVP solves again for the tangents, its transpose runs
  ``transpose_solve`` with the transposed operator, so reverse mode never differentiates
  through the solver itself.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from xtrace._src import ad, batching, dtypes, lowering
from xtrace._src.core import get_aval
from xtrace._src.jaxpr_util import eval_closed, trace_hoisted
from xtrace._src.prims.common import check_axes, define
from xtrace._src.tree_util import tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------------------------
# associative_scan

def _interleave(a, b, axis: int):
    """``a[0], b[0], a[1], b[1], ...`` along ``axis`` (``a`` may be one longer)."""
    from xtrace._src import lax
    na, nb = get_aval(a).shape[axis], get_aval(b).shape[axis]
    a_pad = [(0, 0, 0)] * get_aval(a).ndim
    b_pad = [(0, 0, 0)] * get_aval(b).ndim
    a_pad[axis] = (0, 1 if na == nb else 0, 1)
    b_pad[axis] = (1, 0 if na == nb else 1, 1)
    dt = get_aval(a).dtype
    op = lax.bitwise_or if dt == dtypes.bool_ else lax.add
    zero = np.zeros((), dt)[()]
    return op(lax.pad(a, zero, a_pad), lax.pad(b, zero, b_pad))


def associative_scan(fn: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """All prefix combinations ``fn(...fn(fn(e0, e1), e2)..., ek)`` of ``elems`` (an array or
    pytree of arrays of one length along ``axis``) for an associative ``fn``, computed in
    O(log n) depth (Blelloch's parallel prefix). ``reverse`` scans from the end."""
    from xtrace._src import lax
    if not callable(fn):
        raise TypeError("lax.associative_scan: fn argument should be callable.")
    flat, tree = tree_flatten(elems)
    if not flat:
        return elems
    flat = [lax.convert_element_type(x, get_aval(x).dtype) if not hasattr(x, "aval") else x
            for x in flat]
    axis = check_axes("associative_scan", (int(axis),), get_aval(flat[0]).ndim)[0]
    n = get_aval(flat[0]).shape[axis]
    if any(get_aval(x).shape[axis] != n for x in flat[1:]):
        raise ValueError("Array inputs to associative_scan must have the same first dimension."
                         f" (saw: {[get_aval(x).shape for x in flat]})")
    if reverse:
        flat = [lax.rev(x, (axis,)) for x in flat]

    def combine(a, b):
        out, out_tree = tree_flatten(fn(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        if out_tree != tree:
            raise TypeError(f"associative_scan: fn must return a pytree like elems {tree}, "
                            f"got {out_tree}")
        return out

    def sl(x, start, stop=None, stride=1):
        size = get_aval(x).shape[axis]
        stop = size if stop is None else stop % size if stop < 0 else stop
        return lax.slice_in_dim(x, start, max(stop, start), stride, axis)

    def scan(xs):
        m = get_aval(xs[0]).shape[axis]
        if m < 2:
            return xs
        reduced = combine([sl(x, 0, -1, 2) for x in xs], [sl(x, 1, None, 2) for x in xs])
        odd = scan(reduced)
        if m % 2 == 0:
            even = combine([sl(e, 0, -1) for e in odd], [sl(x, 2, None, 2) for x in xs])
        else:
            even = combine(odd, [sl(x, 2, None, 2) for x in xs])
        even = [lax.concatenate([sl(x, 0, 1), e], axis) for x, e in zip(xs, even)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = scan(flat)
    if reverse:
        out = [lax.rev(x, (axis,)) for x in out]
    return tree_unflatten(tree, out)


# ---------------------------------------------------------------------------------------------
# Shared: tracing the user's functions on the avals of a pytree

def _trace(fun: Callable, tree, avals, what: str, has_aux: bool = False, out=None):
    """``fun`` (of one pytree argument) as a const-free Jaxpr, its constants and aux tree;
    checks that it returns a pytree like ``out = (tree, avals)`` (by default its input), plus
    an aux value with ``has_aux``."""
    out_trees = []

    def flat(*leaves):
        out = fun(tree_unflatten(tree, list(leaves)))
        main, aux = (out if has_aux else (out, None))
        main_leaves, main_tree = tree_flatten(main)
        aux_leaves, aux_tree = tree_flatten(aux)
        out_trees.append((main_tree, aux_tree))
        return main_leaves + aux_leaves

    jaxpr, consts = trace_hoisted(flat, list(avals), what)
    main_tree, aux_tree = out_trees[0]
    want_tree, want_avals = (tree, avals) if out is None else out
    if main_tree != want_tree:
        raise TypeError(f"{what} output must have the same structure as its input, got "
                        f"{main_tree} and {want_tree}")
    got = [a.shape for a in jaxpr.out_avals[:len(want_avals)]]
    if got != [a.shape for a in want_avals]:
        raise ValueError(f"{what} output shapes must match its input, got {got} and "
                         f"{[a.shape for a in want_avals]}")
    return jaxpr, consts, aux_tree


def _split(xs: Sequence, lengths: Sequence[int]) -> list[list]:
    out, i = [], 0
    for k in lengths:
        out.append(list(xs[i:i + k]))
        i += k
    out.append(list(xs[i:]))
    return out


def _zero_tangents_for_ints(values, tangents):
    return [t if dtypes.is_inexact(get_aval(v).dtype) and not isinstance(t, ad.Zero)
            else ad.Zero(ad.tangent_aval(get_aval(v))) for v, t in zip(values, tangents)]


# ---------------------------------------------------------------------------------------------
# custom_root

def custom_root(f: Callable, initial_guess: Any, solve: Callable[[Callable, Any], Any],
                tangent_solve: Callable[[Callable, Any], Any], has_aux: bool = False) -> Any:
    """``solve(f, initial_guess)``, a root of ``f``, differentiated with respect to the values
    ``f`` closes over by the implicit function theorem: the tangent is
    ``-tangent_solve(g, df)``, ``g`` being ``f`` linearized at the root (``solve`` itself is
    never differentiated). With ``has_aux``, ``solve`` returns ``(root, aux)``."""
    from xtrace._src import api
    from xtrace._src.custom_derivatives import custom_jvp
    from xtrace._src.prims.elementwise import neg
    guess, tree = tree_flatten(initial_guess)
    avals = [get_aval(g).strip_weak() for g in guess]
    n = len(guess)
    f_jaxpr, f_consts, _ = _trace(f, tree, avals, "custom_root f")
    s_jaxpr, s_consts, aux_tree = _trace(functools.partial(solve, f), tree, avals,
                                         "custom_root solve", has_aux)

    def linearize_and_solve(xb):
        x, b = xb
        _, f_jvp = api.linearize(f, x)
        return tangent_solve(f_jvp, b)

    pair_tree = tree_flatten((tree_unflatten(tree, avals),) * 2)[1]
    l_jaxpr, l_consts, _ = _trace(linearize_and_solve, pair_tree, avals * 2,
                                  "custom_root tangent_solve", out=(tree, avals))

    @custom_jvp
    def root(fc, sc, lc, g):
        return eval_closed(s_jaxpr, *sc, *g)

    @root.defjvp
    def root_jvp(primals, tangents):
        fc, sc, lc, g = primals
        out = root(fc, sc, lc, g)
        sol = list(out[:n])
        _, rhs = ad.jvp_flat(lambda *p: eval_closed(f_jaxpr, *p, *sol), list(fc),
                             _zero_tangents_for_ints(fc, tangents[0]))
        rhs = [ad.instantiate(r, a) for r, a in zip(rhs, avals)]
        sol_dot = [neg(t) for t in eval_closed(l_jaxpr, *lc, *sol, *rhs)]
        aux_dot = [ad.zeros_like_aval(ad.tangent_aval(get_aval(a))) for a in out[n:]]
        return out, sol_dot + aux_dot

    out = root(list(f_consts), list(s_consts), list(l_consts), guess)
    solution = tree_unflatten(tree, out[:n])
    return (solution, tree_unflatten(aux_tree, out[n:])) if has_aux else solution


# ---------------------------------------------------------------------------------------------
# custom_linear_solve

class _Solve(NamedTuple):
    matvec: Any
    vecmat: Any
    solve: Any
    transpose_solve: Any

    def transpose(self) -> "_Solve":
        return _Solve(self.vecmat, self.matvec, self.transpose_solve, self.solve)


def _ls_abstract(*avals, const_lengths, jaxprs):
    return list(jaxprs.solve.out_avals)


def _ls_lower(ctx, *args, const_lengths, jaxprs):
    params, b = _split(args, const_lengths)[:4], _split(args, const_lengths)[4]
    return lowering.lower_jaxpr_body(ctx.emitter, jaxprs.solve.jaxpr, [], params[2] + b,
                                     ctx.module)


def _ls_impl(*args, const_lengths, jaxprs):
    parts = _split(args, const_lengths)
    return eval_closed(jaxprs.solve, *parts[2], *parts[4])


linear_solve_p = define("custom_linear_solve", _ls_abstract, _ls_lower, multiple_results=True,
                        impl=_ls_impl)


def custom_linear_solve(matvec: Callable, b: Any,
                        solve: Callable[[Callable, Any], Any],
                        transpose_solve: Callable[[Callable, Any], Any] | None = None,
                        symmetric: bool = False, has_aux: bool = False) -> Any:
    """``solve(matvec, b)``: the solution ``x`` of the linear system ``matvec(x) = b``, with
    derivatives defined through the system instead of through ``solve``: forward mode solves
    again for the tangents, reverse mode uses ``transpose_solve(vecmat, ct)`` (``vecmat`` is
    the transpose of ``matvec``; with ``symmetric``, ``matvec`` itself, and ``transpose_solve``
    defaults to ``solve``). With ``has_aux``,
    ``solve`` returns ``(x, aux)``."""
    from xtrace._src import api
    if transpose_solve is None and symmetric:  # as JAX: solve is its own transpose
        transpose_solve = solve
    b_flat, tree = tree_flatten(b)
    avals = [get_aval(x).strip_weak() for x in b_flat]
    mv_jaxpr, mv_consts, _ = _trace(matvec, tree, avals, "custom_linear_solve matvec")
    s_jaxpr, s_consts, aux_tree = _trace(functools.partial(solve, matvec), tree, avals,
                                         "custom_linear_solve solve", has_aux)
    vm_jaxpr = ts_jaxpr = None
    vm_consts: list = []
    ts_consts: list = []
    if transpose_solve is not None:
        if symmetric:
            vecmat, vm_jaxpr, vm_consts = matvec, mv_jaxpr, mv_consts
        else:
            def vecmat(y):  # matvec is linear: its VJP at any point is its transpose
                zeros = tree_unflatten(tree, [ad.zeros_like_aval(a) for a in avals])
                return api.vjp(matvec, zeros)[1](y)[0]
            vm_jaxpr, vm_consts, _ = _trace(vecmat, tree, avals, "custom_linear_solve vecmat")
        ts_jaxpr, ts_consts, _ = _trace(functools.partial(transpose_solve, vecmat), tree, avals,
                                        "custom_linear_solve transpose_solve", has_aux)
    consts = [list(mv_consts), list(vm_consts), list(s_consts), list(ts_consts)]
    outs = linear_solve_p.bind(*[c for cs in consts for c in cs], *b_flat,
                               const_lengths=_Solve(*map(len, consts)),
                               jaxprs=_Solve(mv_jaxpr, vm_jaxpr, s_jaxpr, ts_jaxpr))
    x = tree_unflatten(tree, outs[:len(b_flat)])
    return (x, tree_unflatten(aux_tree, outs[len(b_flat):])) if has_aux else x


def _ls_jvp(primals, tangents, *, const_lengths, jaxprs):
    from xtrace._src.prims.elementwise import sub
    parts = _split(primals, const_lengths)
    t_parts = _split(tangents, const_lengths)
    n = len(parts[4])
    x = linear_solve_p.bind(*primals, const_lengths=const_lengths, jaxprs=jaxprs)
    rhs = [ad.instantiate(t, ad.tangent_aval(get_aval(v))) for t, v in zip(t_parts[4], parts[4])]
    mv_t = _zero_tangents_for_ints(parts[0], t_parts[0])
    if any(not isinstance(t, ad.Zero) for t in mv_t):
        # the operator moves too: d(A x) = dA x + A dx, so A dx = db - dA x
        _, dax = ad.jvp_flat(lambda *p: eval_closed(jaxprs.matvec, *p, *x[:n]), parts[0], mv_t)
        rhs = [r if isinstance(d, ad.Zero) else sub(r, d) for r, d in zip(rhs, dax)]
    params = [p for ps in parts[:4] for p in ps]
    x_dot = linear_solve_p.bind(*params, *rhs, const_lengths=const_lengths, jaxprs=jaxprs)
    aux_dot = [ad.zero_of(a) for a in x[n:]]
    return x, list(x_dot[:n]) + aux_dot


def _ls_transpose(cts, *args, const_lengths, jaxprs):
    if jaxprs.transpose_solve is None:
        raise TypeError("transpose_solve required for backwards mode automatic "
                        "differentiation of custom_linear_solve")
    parts = _split(args, const_lengths)
    if any(ad.is_undefined(p) for ps in parts[:4] for p in ps):
        raise NotImplementedError("custom_linear_solve: transposing with respect to the "
                                  "operator's values is not supported (as in JAX)")
    n = len(parts[4])
    x_ct = [ad.instantiate(c, ad.tangent_aval(b.aval)) for c, b in zip(cts[:n], parts[4])]
    tparts = _Solve(*parts[:4]).transpose()
    out = linear_solve_p.bind(*[p for ps in tparts for p in ps], *x_ct,
                              const_lengths=const_lengths.transpose(),
                              jaxprs=jaxprs.transpose())
    return [None] * sum(const_lengths) + list(out[:n])


linear_solve_p.jvp, linear_solve_p.transpose = _ls_jvp, _ls_transpose


def _ls_batch(axis, vals, dims, *, const_lengths, jaxprs):
    # Everything that depends on b or x is batched (a fixpoint without iterating): each
    # Jaxpr gets its own constants' batching and batched vectors.
    parts = _split(vals, const_lengths)
    pdims = _split(dims, const_lengths)
    new_jaxprs = []
    for j, ps, ds in zip(jaxprs, parts[:4], pdims[:4]):
        if j is None:
            new_jaxprs.append(None)
            continue
        bat = [d is not None for d in ds] + [True] * len(parts[4])
        new_jaxprs.append(batching.batch_jaxpr(j, axis, bat, True)[0])
    params = [v if d is None else batching.moveaxis(v, d, 0)
              for ps, ds in zip(parts[:4], pdims[:4]) for v, d in zip(ps, ds)]
    b = [batching.bdim_at_front(v, d, axis.size) for v, d in zip(parts[4], pdims[4])]
    outs = linear_solve_p.bind(*params, *b, const_lengths=const_lengths,
                               jaxprs=_Solve(*new_jaxprs))
    return outs, [0] * len(outs)


linear_solve_p.batch = _ls_batch
