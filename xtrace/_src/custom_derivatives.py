"""User-defined derivatives (custom_jvp, custom_vjp), checkpoint/remat and stop_gradient.

Each is a primitive holding the traced function as a Jaxpr, so the rule survives staging:
``grad(jit(f))`` re-binds the primitive under the JVP trace and finds the user's rule.
"""
from __future__ import annotations

import functools
import inspect
import types
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import ad, core, dtypes, lowering
from xtrace._src.ad import UndefinedPrimal, Zero, is_undefined
from xtrace._src.core import ClosedJaxpr, Jaxpr, JaxprEqn, get_aval
from xtrace._src.staging import eval_jaxpr, trace_to_jaxpr
from xtrace._src.tree_util import tree_flatten, tree_map, tree_unflatten


def _eval_closed(closed: ClosedJaxpr, *args):
    return eval_jaxpr(closed.jaxpr, closed.consts, args)


def _inline_lower(ctx, *args, jaxpr: ClosedJaxpr, **_):
    consts = [ctx.constant(np.asarray(c), v.aval)
              for c, v in zip(jaxpr.consts, jaxpr.jaxpr.constvars)]
    return lowering.lower_jaxpr_body(ctx.emitter, jaxpr.jaxpr, consts, list(args), ctx.module)


def _hoisted(fun: Callable, avals, name: str) -> tuple[ClosedJaxpr, list[Any]]:
    closed = trace_to_jaxpr(fun, avals, name)
    j = closed.jaxpr
    return (ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []),
            list(closed.consts))


def _resolve_args(fun: Callable, args: tuple, kwargs: dict) -> tuple:
    if not kwargs:
        return args
    sig = inspect.signature(fun)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.arguments.values())


class _Args:
    """A call's arguments split into static ones (``nondiff_argnums``/``static_argnums``) and
    the flat array leaves of the rest; ``full(dyn)`` rebuilds the argument list."""

    def __init__(self, fun: Callable, args: tuple, kwargs: dict, static_argnums: Sequence[int]):
        from xtrace._src.api import _as_array
        self.args = _resolve_args(fun, args, kwargs)
        nd = {i % len(self.args) for i in static_argnums} if self.args else set()
        self.static = {i: self.args[i] for i in nd}
        self.nondiff = [self.static[i] for i in sorted(nd)]
        self.dyn = [a for i, a in enumerate(self.args) if i not in nd]
        leaves, self.in_tree = tree_flatten(tuple(self.dyn))
        self.leaves = [_as_array(x) for x in leaves]

    def full(self, dyn_leaves) -> list:
        it = iter(tree_unflatten(self.in_tree, dyn_leaves))
        return [self.static[i] if i in self.static else next(it)
                for i in range(len(self.args))]

    def trace(self, fun: Callable, name: str) -> tuple[ClosedJaxpr, list[Any], Any]:
        """``fun`` traced on the leaves: (Jaxpr with constants hoisted, constants, out tree)."""
        out_tree_box = []

        def flat_fun(*xs):
            out_leaves, out_tree = tree_flatten(fun(*self.full(xs)))
            out_tree_box.append(out_tree)
            return out_leaves

        jaxpr, consts = _hoisted(flat_fun, [get_aval(x) for x in self.leaves], name)
        return jaxpr, consts, out_tree_box[0]


# ---------------------------------------------------------------------------------------------
# stop_gradient

def _identity_lower(ctx, x):
    return x


stop_gradient_p = core.register(core.Primitive("stop_gradient"))
stop_gradient_p.abstract_eval = lambda x: x
stop_gradient_p.lower = _identity_lower
ad.defjvp_zero(stop_gradient_p)


def stop_gradient(x: Any) -> Any:
    """The identity, with a zero derivative (applied to every leaf of a pytree)."""
    def leaf(v):
        aval = get_aval(v)
        if not dtypes.is_inexact(aval.dtype):
            return v
        return stop_gradient_p.bind(v)
    return tree_map(leaf, x)


# ---------------------------------------------------------------------------------------------
# custom_jvp

custom_jvp_call_p = core.register(core.Primitive("custom_jvp_call", multiple_results=True))
custom_jvp_call_p.abstract_eval = lambda *avals, jaxpr, jvp, num_consts: jaxpr.out_avals
custom_jvp_call_p.lower = _inline_lower
custom_jvp_call_p.impl = lambda *args, jaxpr, jvp, num_consts: _eval_closed(jaxpr, *args)


def _custom_jvp_call_jvp(primals, tangents, *, jaxpr, jvp, num_consts):
    # Closed-over values (the first num_consts operands) are treated as constants.
    consts, primals = primals[:num_consts], primals[num_consts:]
    tangents = tangents[num_consts:]
    if not getattr(jvp, "symbolic_zeros", False):
        tangents = [ad.instantiate(t) if dtypes.is_inexact(get_aval(p).dtype) else t
                    for t, p in zip(tangents, primals)]
    out, t_out = jvp(consts, primals, tangents)
    return out, t_out


custom_jvp_call_p.jvp = _custom_jvp_call_jvp


class custom_jvp:
    """A function with a user-defined JVP: ``f.defjvp(rule)`` where
    ``rule(primals, tangents) -> (primal_out, tangent_out)``; or ``f.defjvps(*partials)``."""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None
        self.symbolic_zeros = False

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        """Set the JVP rule. With ``symbolic_zeros`` the rule sees the tangents of the inputs
        that are not being differentiated as ``SymbolicZero`` objects (``ad.Zero``) instead of
        arrays of zeros."""
        self.jvp = jvp
        self.symbolic_zeros = bool(symbolic_zeros)
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        def jvp(primals, tangents):
            ans = self(*primals)
            t_out = None
            for fn, t in zip(jvps, tangents):
                if fn is None:
                    continue
                contrib = fn(t, ans, *primals)
                t_out = contrib if t_out is None else tree_map(lambda a, b: a + b, t_out,
                                                               contrib)
            if t_out is None:
                t_out = tree_map(lambda a: ad.zeros_like_aval(ad.tangent_aval(get_aval(a))),
                                 ans)
            return ans, t_out
        self.jvp = jvp

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {self.__name__} "
                                 "using defjvp.")
        a = _Args(self.fun, args, kwargs, self.nondiff_argnums)
        jaxpr, consts, out_tree = a.trace(self.fun, self.__name__)
        in_tree, leaves = a.in_tree, a.leaves
        user_jvp = self.jvp
        nondiff = a.nondiff
        symbolic = self.symbolic_zeros

        def flat_jvp(consts_, primals, tangents):
            p = tree_unflatten(in_tree, primals)
            t = tree_unflatten(in_tree, [ad.instantiate(x) if isinstance(x, Zero)
                                         and not symbolic else x for x in tangents])
            res = user_jvp(*nondiff, tuple(p), tuple(t)) if nondiff else user_jvp(tuple(p),
                                                                                   tuple(t))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError(f"custom_jvp rule of {self.__name__} must return a pair "
                                "(primal_out, tangent_out)")
            po, to = res
            po_leaves, po_tree = tree_flatten(po)
            to_leaves, to_tree = tree_flatten(to)
            if po_tree != out_tree or to_tree != out_tree:
                raise TypeError(
                    f"custom_jvp rule of {self.__name__} returned primal/tangent outputs with "
                    f"structures {po_tree} / {to_tree}, but the function returns {out_tree}")
            for p_, t_ in zip(po_leaves, to_leaves):
                if isinstance(t_, Zero):
                    continue
                want, got = ad.tangent_aval(get_aval(p_)), get_aval(t_)
                if got.shape != want.shape or got.dtype != want.dtype:
                    raise TypeError(
                        "Custom JVP rule must produce primal and tangent outputs with "
                        f"corresponding shapes and dtypes. Expected {want.str_short()} (tangent "
                        f"type of {get_aval(p_).str_short()}) but got {got.str_short()}.")
            return po_leaves, to_leaves

        flat_jvp.symbolic_zeros = symbolic
        outs = custom_jvp_call_p.bind(*consts, *leaves, jaxpr=jaxpr, jvp=flat_jvp,
                                      num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------------------------
# custom_vjp

custom_vjp_call_p = core.register(core.Primitive("custom_vjp_call", multiple_results=True))
custom_vjp_call_p.abstract_eval = lambda *avals, jaxpr, fwd, bwd, num_consts: jaxpr.out_avals
custom_vjp_call_p.lower = _inline_lower
custom_vjp_call_p.impl = lambda *args, jaxpr, fwd, bwd, num_consts: _eval_closed(jaxpr, *args)

custom_lin_p = core.register(core.Primitive("custom_lin", multiple_results=True))
custom_lin_p.abstract_eval = lambda *avals, num_res, bwd, out_avals: list(out_avals)


def _custom_lin_impl(*args, num_res, bwd, out_avals):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


custom_lin_p.impl = _custom_lin_impl


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    res = args[:num_res]
    cts = [ad.instantiate(c, a) for c, a in zip(cts, out_avals)]
    cts_in = bwd(list(res), cts)
    return [None] * num_res + list(cts_in)


custom_lin_p.transpose = _custom_lin_transpose


def _custom_vjp_call_jvp(primals, tangents, *, jaxpr, fwd, bwd, num_consts):
    primals = primals[num_consts:]
    tangents = tangents[num_consts:]
    outs, res = fwd(primals)
    out_avals = tuple(ad.tangent_aval(get_aval(o)) for o in outs)
    diff = [dtypes.is_inexact(get_aval(p).dtype) for p in primals]
    ts = [ad.instantiate(t) for t, d in zip(tangents, diff) if d]
    t_out = custom_lin_p.bind(*res, *ts, num_res=len(res), bwd=_BwdDiffOnly(bwd, diff),
                              out_avals=out_avals)
    return outs, t_out


class _BwdDiffOnly:
    """The user's bwd, returning cotangents for the differentiable inputs only."""

    def __init__(self, bwd, diff):
        self.bwd, self.diff = bwd, diff

    def __call__(self, res, cts):
        cts_in = self.bwd(res, cts)
        return [c for c, d in zip(cts_in, self.diff) if d]


custom_vjp_call_p.jvp = _custom_vjp_call_jvp


class custom_vjp:
    """A function with a user-defined VJP: ``f.defvjp(fwd, bwd)`` where
    ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, g) -> tuple of input cotangents``."""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {self.__name__} "
                                 "using defvjp.")
        a = _Args(self.fun, args, kwargs, self.nondiff_argnums)
        name = self.__name__
        jaxpr, consts, out_tree = a.trace(self.fun, name)
        in_tree, leaves, nondiff, dyn = a.in_tree, a.leaves, a.nondiff, a.dyn
        user_fwd, user_bwd = self.fwd, self.bwd
        res_tree_box = []

        def flat_fwd(primals):
            res = user_fwd(*a.full(primals))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError(f"custom_vjp fwd of {name} must return a pair "
                                "(output, residuals)")
            out, residuals = res
            out_leaves, tree = tree_flatten(out)
            if tree != out_tree:
                raise TypeError(f"custom_vjp fwd of {name} returned an output with structure "
                                f"{tree}, but the function returns {out_tree}")
            res_leaves, res_tree = tree_flatten(residuals)
            res_tree_box.append(res_tree)
            return out_leaves, res_leaves

        def flat_bwd(res_leaves, cts):
            residuals = tree_unflatten(res_tree_box[-1], res_leaves)
            g = tree_unflatten(out_tree, cts)
            cts_in = user_bwd(*nondiff, residuals, g)
            if not isinstance(cts_in, (tuple, list)):
                raise TypeError(f"custom_vjp bwd of {name} must return a tuple with one "
                                f"cotangent per (non-static) argument, got "
                                f"{type(cts_in).__name__}")
            ct_leaves, ct_tree = tree_flatten(tuple(cts_in), is_leaf=lambda x: x is None)
            if len(cts_in) != len(dyn) or len(ct_leaves) != len(leaves):
                raise TypeError(
                    f"custom_vjp bwd of {name} returned {len(cts_in)} cotangents with "
                    f"structure {ct_tree}, but the primal inputs have structure {in_tree}")
            for k, (c, p) in enumerate(zip(ct_leaves, leaves)):
                if c is not None and not isinstance(c, Zero) and (
                        np.shape(c) != get_aval(p).shape):
                    raise ValueError(
                        "Custom VJP bwd rule must produce an output with the same type as the "
                        f"args tuple of the primal function, but at output[{k}] the bwd rule of "
                        f"{name} produced an output of shape {np.shape(c)} corresponding to an "
                        f"input of type {get_aval(p).str_short()}, so the shapes do not match")
            return [ad.zeros_like_aval(ad.tangent_aval(get_aval(p))) if c is None else c
                    for c, p in zip(ct_leaves, leaves)]

        outs = custom_vjp_call_p.bind(*consts, *leaves, jaxpr=jaxpr, fwd=flat_fwd,
                                      bwd=flat_bwd, num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------------------------
# closure_convert


def _maybe_perturbed(x: Any) -> bool:
    """Whether ``x`` may carry a nonzero tangent (JAX's heuristic): a JVP tracer with a tangent,
    an inexact value being staged, or an unknown partial-evaluation value."""
    from xtrace._src.batching import BatchTracer
    from xtrace._src.partial_eval import PartialEvalTracer
    from xtrace._src.staging import JaxprTracer
    if not isinstance(x, core.Tracer):
        return False
    if isinstance(x, ad.JVPTracer):
        return not isinstance(x.tangent, Zero) or _maybe_perturbed(x.primal)
    if isinstance(x, JaxprTracer):
        return dtypes.is_inexact(x.aval.dtype)
    if isinstance(x, BatchTracer):
        return _maybe_perturbed(x.val)
    if isinstance(x, PartialEvalTracer) and x.pval.is_known:
        return _maybe_perturbed(x.pval.const)
    return True


def closure_convert(fun: Callable, *example_args: Any) -> tuple[Callable, list[Any]]:
    """``(converted, hoisted)``: ``fun`` specialized to the types of ``example_args``, taking
    the values it closes over that may be differentiated (tracers of an enclosing ``jvp``/
    ``grad``, inexact values being staged) as extra trailing arguments ``hoisted``; for use with
    ``custom_vjp``/``custom_jvp`` of higher-order functions (JAX's ``closure_convert``)."""
    from xtrace._src.api import _as_array
    flat, in_tree = tree_flatten(example_args)
    out_tree_box = []

    def flat_fun(*xs):
        out_leaves, out_tree = tree_flatten(fun(*tree_unflatten(in_tree, xs)))
        out_tree_box.append(out_tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_fun, [get_aval(_as_array(x)) for x in flat], "closure_convert")
    hoist = [_maybe_perturbed(c) for c in closed.consts]
    hoisted = [c for c, h in zip(closed.consts, hoist) if h]
    out_tree = out_tree_box[0]

    def converted_fun(*args_hconsts: Any) -> Any:
        n = len(args_hconsts) - len(hoisted)
        args, it = args_hconsts[:n], iter(args_hconsts[n:])
        leaves, tree = tree_flatten(tuple(args))
        if tree != in_tree:
            raise TypeError("The inputs to the closure produced by closure_convert must have "
                            "the same Pytree structure as the example arguments passed when "
                            f"closure_convert was called. Expected {in_tree}, but got {tree}")
        consts = [next(it) if h else c for c, h in zip(closed.consts, hoist)]
        return tree_unflatten(out_tree, eval_jaxpr(closed.jaxpr, consts, leaves))

    return converted_fun, hoisted


# ---------------------------------------------------------------------------------------------
# checkpoint / remat


remat_p = core.register(core.Primitive("remat", multiple_results=True))
remat_p.abstract_eval = lambda *avals, jaxpr, prevent_cse: jaxpr.out_avals
remat_p.lower = _inline_lower
remat_p.impl = lambda *args, jaxpr, prevent_cse: _eval_closed(jaxpr, *args)


def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse):
    n = len(primals)
    diff = [dtypes.is_inexact(get_aval(p).dtype) for p in primals]
    ts = [ad.instantiate(t) if d else ad.zeros_like_aval(ad.tangent_aval(get_aval(p)))
          for t, p, d in zip(tangents, primals, diff)]

    def jvp_fun(*args):
        po, to = ad.jvp_flat(lambda *a: _eval_closed(jaxpr, *a), args[:n], args[n:])
        return list(po) + [ad.instantiate(t, a) for t, a in zip(to, jaxpr.out_avals)]

    avals = [get_aval(p) for p in primals] + [get_aval(t) for t in ts]
    jvp_jaxpr, consts = _hoisted(jvp_fun, avals, "remat_jvp")
    outs = remat_p.bind(*consts, *primals, *ts, jaxpr=jvp_jaxpr, prevent_cse=prevent_cse)
    m = len(jaxpr.out_avals)
    return outs[:m], outs[m:]


def _remat_partial_eval(trace, tracers, *, jaxpr, prevent_cse):
    """Known part computes only the primal outputs (no residuals kept beyond the inputs);
    the unknown part re-runs the whole JVP from the inputs in the backward pass."""
    known = [t.pval.is_known for t in tracers]
    j = jaxpr.jaxpr
    m = len(j.outvars)
    # Outputs computable from known inputs alone.
    known_vars = {v for v, k in zip(j.invars, known) if k}
    for eqn in j.eqns:
        if all(isinstance(x, core.Literal) or x in known_vars for x in eqn.inputs):
            known_vars.update(eqn.outputs)
    out_known = [isinstance(v, core.Literal) or v in known_vars for v in j.outvars]
    if not any(out_known):
        return trace.default_process(remat_p, tracers, dict(jaxpr=jaxpr,
                                                            prevent_cse=prevent_cse))
    known_jaxpr, _ = dce_jaxpr(j, out_known)
    known_in = [t.pval.const if k else ad.zeros_like_aval(t.aval)
                for t, k in zip(tracers, known)]
    known_outs = remat_p.bind(*known_in, jaxpr=ClosedJaxpr(known_jaxpr, []),
                              prevent_cse=prevent_cse)
    unknown_jaxpr = ClosedJaxpr(dce_jaxpr(j, [not k for k in out_known])[0], [])
    unknown_outs = trace.default_process(remat_p, tracers,
                                         dict(jaxpr=unknown_jaxpr, prevent_cse=prevent_cse))
    it_k, it_u = iter(known_outs), iter(unknown_outs)
    return [trace.pure(next(it_k)) if k else next(it_u) for k in out_known]


def _remat_transpose(cts, *args, jaxpr, prevent_cse):
    res = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, list(args), list(cts))
    return [None if not is_undefined(a) else r for a, r in zip(args, res)]


remat_p.jvp = _remat_jvp
remat_p.partial_eval = _remat_partial_eval
remat_p.transpose = _remat_transpose


def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy: Any = None,
               static_argnums: Sequence[int] = ()) -> Callable:
    """Recompute ``fun``'s intermediates in the backward pass instead of storing them
    (only its inputs are kept as residuals). Alias: ``remat``. ``policy`` is one of
    ``xtrace.checkpoint_policies`` (or a function of the same signature):
    ``everything_saveable`` stores everything (no recomputation); the others recompute."""
    if policy is not None and not callable(policy):
        raise TypeError(f"checkpoint policy must be callable, got {policy!r}")
    if policy is everything_saveable:
        return functools.wraps(fun)(lambda *args, **kwargs: fun(*args, **kwargs))
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        a = _Args(fun, args, kwargs, static_argnums)
        jaxpr, consts, out_tree = a.trace(fun, getattr(fun, "__name__", "checkpoint"))
        outs = remat_p.bind(*consts, *a.leaves, jaxpr=jaxpr, prevent_cse=prevent_cse)
        return tree_unflatten(out_tree, outs)

    return wrapped


remat = checkpoint


# ---------------------------------------------------------------------------------------------
# checkpoint policies: JAX's names and signatures, ``policy(prim, *avals, **params) -> bool``
# (whether to save an equation's output). ``checkpoint(policy=everything_saveable)`` stores
# everything (no recomputation); any other policy recomputes everything but the inputs (the
# values are the same either way: a policy only trades memory for recomputation).


def everything_saveable(*_, **__) -> bool:
    return True


def nothing_saveable(*_, **__) -> bool:
    return False


def dots_saveable(prim, *_, **__) -> bool:
    return getattr(prim, "name", prim) == "dot_general"


def dots_with_no_batch_dims_saveable(prim, *_, **params) -> bool:
    if getattr(prim, "name", prim) != "dot_general":
        return False
    (_, (lhs_batch, _)) = params["dimension_numbers"]
    return not lhs_batch


def save_only_these_names(*names: str) -> Callable:
    return lambda prim, *_, **params: params.get("name") in names


def save_any_names_but_these(*names: str) -> Callable:
    return lambda prim, *_, **params: params.get("name") not in names


def save_from_both_policies(policy_1: Callable, policy_2: Callable) -> Callable:
    return lambda *a, **k: policy_1(*a, **k) or policy_2(*a, **k)


checkpoint_policies = types.SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=dots_saveable,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable,
    save_only_these_names=save_only_these_names,
    save_any_names_but_these=save_any_names_but_these,
    save_anything_except_these_names=save_any_names_but_these,
    save_from_both_policies=save_from_both_policies,
)


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above.
#
# The primal Jaxprs are batched with ``batching.batch_jaxpr``. The user's rules (custom_jvp's
# jvp, custom_vjp's fwd/bwd, custom_lin's bwd) are Python functions called later, by the JVP and
# transposition rules, on whole batches: they are wrapped to run per example under a batching
# interpreter, so ``grad(vmap(f))`` still uses the custom rule. Their outputs are all batched
# (batch dim 0): whether the rule's output depends on the batch is only known once it runs.
# Cotangents of inputs the batch does not vary are summed over the examples.

from xtrace._src import batching  # noqa: E402
from xtrace._src.batching import BatchTrace, BatchTracer  # noqa: E402
from xtrace._src.jaxpr_util import dce_jaxpr, hoist as _hoist  # noqa: E402
from xtrace._src.prims.reductions import reduce_sum  # noqa: E402

stop_gradient_p.batch = batching.vectorized_rule(stop_gradient_p)


def _front(vals: Sequence, dims: Sequence) -> list:
    return [v if d is None else batching.moveaxis(v, d, 0) for v, d in zip(vals, dims)]


class _batch_interpreter:
    """Context giving a BatchTrace over ``axis`` for inputs ``vals``: the vmap's own
    interpreter while it is live and above every input (so tracers that the user's rule closes
    over, from that vmap, stay batched), else a new one."""

    def __init__(self, axis: batching.AxisData, vals: Sequence[Any]):
        self.axis = axis
        self.level = max((v._trace.main.level for v in vals if isinstance(v, core.Tracer)),
                         default=-1)

    def __enter__(self) -> BatchTrace:
        self.ctx = None
        for main in reversed(core._state.stack):
            if (main.trace_type is BatchTrace and main.global_data is self.axis
                    and main.level > self.level):
                return BatchTrace(main)
        self.ctx = core.new_main(BatchTrace, self.axis)
        self.env = batching._axis_env(self.axis)
        main = self.ctx.__enter__()
        self.env.__enter__()
        return BatchTrace(main)

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.env.__exit__(*exc)
            self.ctx.__exit__(*exc)


def _run_batched(axis, fun: Callable, vals: Sequence, dims: Sequence) -> list[tuple]:
    """``fun`` (flat values -> flat values) run per example on ``vals`` batched at ``dims``
    (``Zero`` values allowed); returns (value, batch dim) per output."""
    def per_example(v, d, trace):
        if d is None:
            return v
        if isinstance(v, Zero):  # a symbolic zero of the whole batch: one example's zero
            return Zero(v.aval.update(shape=v.aval.shape[:d] + v.aval.shape[d + 1:]))
        return BatchTracer(trace, v, d)

    with _batch_interpreter(axis, vals) as trace:
        ins = [per_example(v, d, trace) for v, d in zip(vals, dims)]
        outs = []
        for o in fun(*ins):
            if isinstance(o, Zero):
                outs.append((o, None))
            else:
                t = trace.full_raise(o)
                outs.append((t.val, t.bdim))
        return outs


def _at_front(val: Any, dim: int | None, size: int) -> Any:
    """An output of ``_run_batched`` with its batch dim in front (broadcast if unbatched)."""
    if isinstance(val, Zero):
        return Zero(val.aval.update(shape=(size,) + val.aval.shape))
    return batching.matchaxis(val, dim, 0, size)


def _summed(val: Any, dim: int | None) -> Any:
    """An output of ``_run_batched`` summed over the batch (the cotangent of an input that is
    the same for every example)."""
    if dim is None or isinstance(val, Zero):
        return val
    return reduce_sum(val, (dim,))


class _BatchedJvp:
    """custom_jvp's jvp rule (``jvp(consts, primals, tangents)``) run per example; the inputs
    arrive batched at 0 where ``in_b`` says (tangents like their primals)."""

    def __init__(self, jvp: Callable, axis, in_b: Sequence[bool], num_new_consts: int):
        self.jvp, self.axis, self.in_b, self.skip = jvp, axis, list(in_b), num_new_consts

    def __call__(self, consts, primals, tangents):
        consts = list(consts)[self.skip:]
        nc, n = len(consts), len(primals)
        dims = [0 if b else None for b in self.in_b]

        def per_example(*flat):
            po, to = self.jvp(flat[:nc], flat[nc:nc + n], flat[nc + n:])
            return list(po) + list(to)

        outs = _run_batched(self.axis, per_example, [*consts, *primals, *tangents],
                            dims + dims[nc:])
        outs = [_at_front(v, d, self.axis.size) for v, d in outs]
        return outs[:len(outs) // 2], outs[len(outs) // 2:]


def _custom_jvp_call_batch(axis, vals, dims, *, jaxpr, jvp, num_consts):
    in_b = [d is not None for d in dims]
    batched, consts = _hoist(batching.batch_jaxpr(jaxpr, axis, in_b, True)[0])
    outs = custom_jvp_call_p.bind(*consts, *_front(vals, dims), jaxpr=batched,
                                  jvp=_BatchedJvp(jvp, axis, in_b, len(consts)),
                                  num_consts=len(consts) + num_consts)
    return outs, [0] * len(outs)


custom_jvp_call_p.batch = _custom_jvp_call_batch


class _BatchedBwd:
    """A backward rule ``bwd(res, cts) -> cotangents of the inputs`` run per example: residuals
    batched at 0 where ``res_b`` says (set by the batched fwd for custom_vjp), cotangents
    batched at 0; the inputs' cotangents are batched at 0 where ``in_b`` says, else summed."""

    def __init__(self, bwd: Callable, axis, in_b: Sequence[bool], res_b: Sequence[bool] = ()):
        self.bwd, self.axis, self.in_b, self.res_b = bwd, axis, list(in_b), list(res_b)

    def __call__(self, res, cts):
        nr = len(res)
        dims = [0 if b else None for b in self.res_b] + [0] * len(cts)
        outs = _run_batched(self.axis, lambda *a: self.bwd(list(a[:nr]), list(a[nr:])),
                            [*res, *cts], dims)
        return [_at_front(v, d, self.axis.size) if b else _summed(v, d)
                for (v, d), b in zip(outs, self.in_b)]


class _BatchedFwd:
    """custom_vjp's fwd (``fwd(primals) -> (outs, residuals)``) run per example; records which
    residuals are batched for the batched bwd."""

    def __init__(self, fwd: Callable, axis, in_b: Sequence[bool], n_out: int, bwd: _BatchedBwd):
        self.fwd, self.axis, self.in_b, self.n_out, self.bwd = fwd, axis, list(in_b), n_out, bwd

    def __call__(self, primals):
        def per_example(*p):
            outs, res = self.fwd(list(p))
            return list(outs) + list(res)

        outs = _run_batched(self.axis, per_example, list(primals),
                            [0 if b else None for b in self.in_b])
        n = self.n_out
        self.bwd.res_b = [d is not None for _, d in outs[n:]]
        return ([_at_front(v, d, self.axis.size) for v, d in outs[:n]],
                [v if d is None else batching.moveaxis(v, d, 0) for v, d in outs[n:]])


def _custom_vjp_call_batch(axis, vals, dims, *, jaxpr, fwd, bwd, num_consts):
    in_b = [d is not None for d in dims]
    batched, consts = _hoist(batching.batch_jaxpr(jaxpr, axis, in_b, True)[0])
    bbwd = _BatchedBwd(bwd, axis, in_b[num_consts:])
    outs = custom_vjp_call_p.bind(*consts, *_front(vals, dims), jaxpr=batched,
                                  fwd=_BatchedFwd(fwd, axis, in_b[num_consts:],
                                                   len(jaxpr.out_avals), bbwd),
                                  bwd=bbwd, num_consts=len(consts) + num_consts)
    return outs, [0] * len(outs)


custom_vjp_call_p.batch = _custom_vjp_call_batch


def _custom_lin_batch(axis, vals, dims, *, num_res, bwd, out_avals):
    in_b = [d is not None for d in dims]
    out_avals = tuple(a.update(shape=(axis.size,) + a.shape) for a in out_avals)
    outs = custom_lin_p.bind(*_front(vals, dims), num_res=num_res,
                             bwd=_BatchedBwd(bwd, axis, in_b[num_res:], in_b[:num_res]),
                             out_avals=out_avals)
    return outs, [0] * len(outs)


custom_lin_p.batch = _custom_lin_batch


def _remat_batch(axis, vals, dims, *, jaxpr, prevent_cse):
    batched, out_b = batching.batch_jaxpr(jaxpr, axis, [d is not None for d in dims])
    batched, consts = _hoist(batched)
    outs = remat_p.bind(*consts, *_front(vals, dims), jaxpr=batched, prevent_cse=prevent_cse)
    return outs, [0 if b else None for b in out_b]


remat_p.batch = _remat_batch

_ = (UndefinedPrimal, JaxprEqn)
