"""Partial evaluation: run what is known now, stage what is unknown into a Jaxpr.

Used by ``linearize``: with primal inputs known and tangent inputs unknown, the JVP of a
function splits into the primal computation (evaluated right away, or staged by an outer
trace) and a linear Jaxpr over the tangents whose constants are the residuals.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

from xtrace._src import core, dtypes
from xtrace._src.core import (ClosedJaxpr, Jaxpr, JaxprEqn, Literal, ShapedArray, Trace, Tracer,
                              Var, get_aval)


class PartialVal:
    """A value that is either known (``const``) or only known by its aval."""

    __slots__ = ("aval", "const")

    def __init__(self, aval: ShapedArray, const: Any):
        self.aval, self.const = aval, const

    @classmethod
    def known(cls, val: Any) -> "PartialVal":
        return cls(get_aval(val), val)

    @classmethod
    def unknown(cls, aval: ShapedArray) -> "PartialVal":
        return cls(aval, None)

    @property
    def is_known(self) -> bool:
        return self.const is not None


class _LambdaBinding:
    pass


class _ConstRecipe:
    __slots__ = ("val",)

    def __init__(self, val: Any):
        self.val = val


class _EqnRecipe:
    __slots__ = ("prim", "tracers_in", "params", "avals_out", "tracer_refs_out")

    def __init__(self, prim, tracers_in, params, avals_out, tracer_refs_out):
        self.prim, self.tracers_in, self.params = prim, tracers_in, params
        self.avals_out, self.tracer_refs_out = avals_out, tracer_refs_out


class PartialEvalTracer(Tracer):
    __slots__ = ("pval", "recipe")

    def __init__(self, trace: "PartialEvalTrace", pval: PartialVal, recipe: Any):
        self._trace, self.pval, self.recipe = trace, pval, recipe

    @property
    def aval(self) -> ShapedArray:
        return self.pval.aval

    def full_lower(self) -> Any:
        if self.pval.is_known:
            return core.full_lower(self.pval.const)
        return self

    def to_concrete(self) -> Any:
        return core.concrete(self.pval.const) if self.pval.is_known else None

    def escape(self) -> Any:
        return self.pval.const if self.pval.is_known else self


class PartialEvalTrace(Trace):
    def new_arg(self, pval: PartialVal) -> PartialEvalTracer:
        return PartialEvalTracer(self, pval, _LambdaBinding())

    def pure(self, val: Any) -> PartialEvalTracer:
        return PartialEvalTracer(self, PartialVal.known(val), None)

    lift = pure

    def instantiate_const(self, tracer: PartialEvalTracer) -> PartialEvalTracer:
        if not tracer.pval.is_known:
            return tracer
        return PartialEvalTracer(self, PartialVal.unknown(tracer.aval),
                                 _ConstRecipe(tracer.pval.const))

    def process_primitive(self, prim, tracers, params):
        if all(t.pval.is_known for t in tracers):
            return prim.bind(*[t.pval.const for t in tracers], **params)
        rule = getattr(prim, "partial_eval", None)
        if rule is not None:
            return rule(self, tracers, **params)
        return self.default_process(prim, tracers, params)

    def default_process(self, prim, tracers, params):
        """Stage ``prim`` as an unknown equation (known inputs become residuals)."""
        tracers_in = [self.instantiate_const(t) for t in tracers]
        out = prim.abstract_eval(*[t.aval for t in tracers_in], **params)
        avals_out = list(out) if prim.multiple_results else [out]
        tracers_out = [PartialEvalTracer(self, PartialVal.unknown(a), None) for a in avals_out]
        recipe = _EqnRecipe(prim, tracers_in, params, avals_out,
                            [weakref.ref(t) for t in tracers_out])
        for t in tracers_out:
            t.recipe = recipe
        return tracers_out if prim.multiple_results else tracers_out[0]


def partial_eval_flat(fun: Callable, pvals_in: Sequence[PartialVal],
                      instantiate: Callable[[int], Sequence[bool]]
                      ) -> tuple[ClosedJaxpr, list[PartialVal]]:
    """Evaluate ``fun`` on partially known inputs.

    Returns a Jaxpr over the unknown inputs computing the unknown outputs (its constants are
    the residuals) and the outputs' PartialVals. ``instantiate(n_outputs)`` says which
    outputs to make unknown (computed by the Jaxpr) even if they are known."""
    with core.new_main(PartialEvalTrace) as main:
        trace = PartialEvalTrace(main)
        tracers_in = [trace.new_arg(p) for p in pvals_in]
        outs = fun(*tracers_in)
        tracers_out = [trace.full_raise(o) for o in outs]
        tracers_out = [trace.instantiate_const(t) if inst else t
                       for t, inst in zip(tracers_out, instantiate(len(tracers_out)))]
        pvals_out = [t.pval for t in tracers_out]
        unknown_in = [t for t in tracers_in if not t.pval.is_known]
        unknown_out = [t for t in tracers_out if not t.pval.is_known]
        return tracers_to_jaxpr(unknown_in, unknown_out), pvals_out


def tracers_to_jaxpr(tracers_in: list[PartialEvalTracer], tracers_out: list[PartialEvalTracer]
                     ) -> ClosedJaxpr:
    var_of: dict[int, Any] = {}
    consts: dict[int, tuple[Var, Any]] = {}
    for t in tracers_in:
        var_of[id(t)] = Var(t.aval)
    eqns: list[JaxprEqn] = []
    processed: set[int] = set()
    for t in _toposort(tracers_out):
        r = t.recipe
        if isinstance(r, _LambdaBinding):
            if id(t) not in var_of:
                raise ValueError("a traced input leaked out of the function being linearized")
        elif isinstance(r, _ConstRecipe):
            val = r.val
            if dtypes.is_python_scalar(val):
                var_of[id(t)] = Literal(val, t.aval)
            else:
                v = Var(t.aval)
                consts[id(t)] = (v, val)
                var_of[id(t)] = v
        elif isinstance(r, _EqnRecipe):
            if id(r) in processed:
                continue
            processed.add(id(r))
            ins = [var_of[id(x)] for x in r.tracers_in]
            outs = []
            for ref, aval in zip(r.tracer_refs_out, r.avals_out):
                v = Var(aval)
                o = ref()
                if o is not None:
                    var_of[id(o)] = v
                outs.append(v)
            eqns.append(JaxprEqn(r.prim, ins, outs, r.params))
        else:
            raise TypeError(f"unexpected recipe {r!r}")
    constvars = [v for v, _ in consts.values()]
    constvals = [c for _, c in consts.values()]
    jaxpr = Jaxpr(constvars, [var_of[id(t)] for t in tracers_in], eqns,
                  [var_of[id(t)] for t in tracers_out])
    return ClosedJaxpr(jaxpr, constvals)


def _parents(t: PartialEvalTracer) -> list[PartialEvalTracer]:
    return list(t.recipe.tracers_in) if isinstance(t.recipe, _EqnRecipe) else []


def _toposort(outs: list[PartialEvalTracer]) -> list[PartialEvalTracer]:
    """Tracers reachable from ``outs``, each after all its parents (iterative DFS)."""
    order: list[PartialEvalTracer] = []
    state: dict[int, int] = {}  # 1 = visiting, 2 = done
    for root in outs:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            key = id(node)
            if expanded:
                if state.get(key) != 2:
                    state[key] = 2
                    order.append(node)
                continue
            if state.get(key):
                continue
            state[key] = 1
            stack.append((node, True))
            for p in _parents(node):
                if not state.get(id(p)):
                    stack.append((p, False))
    return order


_ = (Trace, Tracer)
