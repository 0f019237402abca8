"""Jaxpr-to-Jaxpr transformations used by the rules of higher-order primitives (control flow).

* ``jvp_jaxpr``: the JVP of a ClosedJaxpr as a new ClosedJaxpr (tangent inputs only for the
  selected arguments, tangent outputs for those nonzero or asked for).
* ``partial_eval_jaxpr``: split a ClosedJaxpr, given which inputs are unknown, into a known
  Jaxpr (known inputs -> known outputs + residuals) and an unknown one (residuals + unknown
  inputs -> unknown outputs).
* ``transpose_fun``: the transpose of a linear ClosedJaxpr as a function to trace (cond, pmap).
* ``dce_jaxpr``: drop outputs and the equations only they need (optionally unused inputs too).
* ``hoist``: constants of a ClosedJaxpr moved into leading inputs (primitive params hold
  const-free Jaxprs, as in ``control_flow.py``).

Both traced transformations are cached per (Jaxpr object, pattern): the control-flow bodies are
staged once per function and input types, so repeated differentiation of the same program gives
identical Jaxprs and hits the eager-dispatch and jit caches.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

from xtrace._src import ad, dtypes
from xtrace._src.core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer, Var
from xtrace._src.staging import eval_jaxpr, trace_to_jaxpr

def eval_closed(closed: ClosedJaxpr, *args: Any) -> list[Any]:
    return eval_jaxpr(closed.jaxpr, closed.consts, args)


def is_diff(aval: ShapedArray) -> bool:
    """Whether values of ``aval`` carry (nonzero) tangents."""
    return dtypes.is_inexact(aval.dtype)


def hoist(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """``closed`` with its constants turned into leading inputs, and the constants' values."""
    j = closed.jaxpr
    if not j.constvars:
        return closed, []
    return (ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []),
            list(closed.consts))


def trace_hoisted(fun: Callable, avals: Sequence[ShapedArray], name: str | None = None
                  ) -> tuple[ClosedJaxpr, list[Any]]:
    return hoist(trace_to_jaxpr(fun, list(avals), name))


def permute_invars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    """A Jaxpr whose k-th input is ``closed``'s input ``order[k]``."""
    j = closed.jaxpr
    assert sorted(order) == list(range(len(j.invars))), order
    return ClosedJaxpr(Jaxpr(j.constvars, [j.invars[i] for i in order], j.eqns, j.outvars),
                       closed.consts)


def permute_outvars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    j = closed.jaxpr
    assert sorted(order) == list(range(len(j.outvars))), order
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.eqns, [j.outvars[i] for i in order]),
                       closed.consts)


def transpose_fun(closed: ClosedJaxpr, linear: Sequence[bool], ct_nonzero: Sequence[bool]
                  ) -> tuple[Callable, list[ShapedArray]]:
    """The transpose of ``closed`` (linear in the inputs marked ``linear``) as a function
    ``f(*residuals, *nonzero_cotangents)`` returning the cotangents of the linear inputs
    (zeros instantiated), and the avals ``f`` takes. Rules trace it (maybe wrapped) into the
    Jaxpr of a transposed higher-order primitive."""
    res_avals = [a for a, l in zip(closed.in_avals, linear) if not l]
    ct_avals = [ad.tangent_aval(a) for a, z in zip(closed.out_avals, ct_nonzero) if z]
    nres = len(res_avals)

    def fun(*args):
        it_r, it_c = iter(args[:nres]), iter(args[nres:])
        primals = [ad.UndefinedPrimal(a) if l else next(it_r)
                   for a, l in zip(closed.in_avals, linear)]
        cts = [next(it_c) if z else ad.Zero(ad.tangent_aval(a))
               for a, z in zip(closed.out_avals, ct_nonzero)]
        cts_in = ad.backward_pass(closed.jaxpr, closed.consts, primals, cts)
        return [ad.instantiate(c, ad.tangent_aval(a))
                for c, a, l in zip(cts_in, closed.in_avals, linear) if l]
    return fun, res_avals + ct_avals


def dce_jaxpr(jaxpr: Jaxpr, used_outputs: Sequence[bool], prune_inputs: bool = False
              ) -> tuple[Jaxpr, list[bool]]:
    """``jaxpr`` keeping only the selected outputs and the equations they need. Returns the new
    Jaxpr and which inputs are used; with ``prune_inputs`` the unused inputs are dropped."""
    outvars = [v for v, u in zip(jaxpr.outvars, used_outputs) if u]
    live = {v for v in outvars if isinstance(v, Var)}
    eqns = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.effectful or any(v in live for v in eqn.outputs):
            eqns.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    used_in = [v in live for v in jaxpr.invars]
    invars = [v for v, u in zip(jaxpr.invars, used_in) if u] if prune_inputs else jaxpr.invars
    return Jaxpr(jaxpr.constvars, invars, eqns[::-1], outvars), used_in


def dce_closed(closed: ClosedJaxpr, used_outputs: Sequence[bool], prune_inputs: bool = False
               ) -> tuple[ClosedJaxpr, list[bool]]:
    j, used_in = dce_jaxpr(closed.jaxpr, used_outputs, prune_inputs)
    return ClosedJaxpr(j, closed.consts), used_in


def depends_on(jaxpr: Jaxpr, sources: Sequence[bool]) -> list[bool]:
    """For each output, whether it (conservatively) depends on an input marked in ``sources``."""
    dep = {v for v, s in zip(jaxpr.invars, sources) if s}
    for eqn in jaxpr.eqns:
        if any(isinstance(x, Var) and x in dep for x in eqn.inputs):
            dep.update(eqn.outputs)
    return [isinstance(v, Var) and v in dep for v in jaxpr.outvars]


# ---------------------------------------------------------------------------------------------
# Caching per Jaxpr object

_caches: dict[str, "weakref.WeakKeyDictionary[ClosedJaxpr, dict]"] = {}


def _cached(kind: str, closed: ClosedJaxpr, key: tuple, compute: Callable[[], Any],
            consts_of: Callable[[Any], Sequence[Any]]) -> Any:
    cache = _caches.setdefault(kind, weakref.WeakKeyDictionary())
    key = key + (dtypes.x64_enabled(),)
    try:
        entries = cache.setdefault(closed, {})
    except TypeError:
        entries = {}
    hit = entries.get(key)
    if hit is not None:
        return hit
    res = compute()
    if not any(isinstance(c, Tracer) for c in closed.consts) and \
            not any(isinstance(c, Tracer) for c in consts_of(res)):
        entries[key] = res
    return res


# ---------------------------------------------------------------------------------------------
# JVP of a Jaxpr


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros: Sequence[bool], instantiate: Sequence[bool] | bool
              ) -> tuple[ClosedJaxpr, list[bool]]:
    """The JVP of ``closed``: inputs ``[*primals, *tangents of the nonzeros]``, outputs
    ``[*primals out, *tangents of the nonzero outputs]``. An output's tangent is present when
    it is not a symbolic zero or ``instantiate`` asks for it (never for integer/boolean
    outputs). Returns the Jaxpr (it may hold constants) and which outputs have tangents."""
    n_out = len(closed.out_avals)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    nonzeros = tuple(bool(nz) and is_diff(a) for nz, a in zip(nonzeros, closed.in_avals))
    instantiate = tuple(bool(i) and is_diff(a) for i, a in zip(instantiate, closed.out_avals))
    return _cached("jvp", closed, (nonzeros, instantiate),
                   lambda: _jvp_jaxpr(closed, nonzeros, instantiate), lambda r: r[0].consts)


def _jvp_jaxpr(closed, nonzeros, instantiate):
    in_avals = closed.in_avals
    n = len(in_avals)
    t_avals = [ad.tangent_aval(a) for a, nz in zip(in_avals, nonzeros) if nz]
    out_nz_box: list[list[bool]] = []

    def fun(*args):
        primals, it = args[:n], iter(args[n:])
        tangents = [next(it) if nz else ad.Zero(ad.tangent_aval(a))
                    for a, nz in zip(in_avals, nonzeros)]
        p_out, t_out = ad.jvp_flat(lambda *a: eval_closed(closed, *a), primals, tangents)
        out_nz = [is_diff(a) and (inst or not isinstance(t, ad.Zero))
                  for t, a, inst in zip(t_out, closed.out_avals, instantiate)]
        out_nz_box.append(out_nz)
        return list(p_out) + [ad.instantiate(t, ad.tangent_aval(a))
                              for t, a, nz in zip(t_out, closed.out_avals, out_nz) if nz]

    jaxpr = trace_to_jaxpr(fun, list(in_avals) + t_avals, "jvp")
    return jaxpr, out_nz_box[0]


# ---------------------------------------------------------------------------------------------
# Partial evaluation of a Jaxpr


class PartialEvalResult:
    """``known``: known inputs -> ``[*known outputs, *residuals]``; ``unknown``:
    ``[*residuals, *unknown inputs]`` -> unknown outputs (const-free)."""

    __slots__ = ("known", "unknown", "out_unknowns", "res_avals")

    def __init__(self, known, unknown, out_unknowns, res_avals):
        self.known, self.unknown = known, unknown
        self.out_unknowns, self.res_avals = out_unknowns, res_avals

    @property
    def num_res(self) -> int:
        return len(self.res_avals)


def partial_eval_jaxpr(closed: ClosedJaxpr, unknowns: Sequence[bool],
                       instantiate: Sequence[bool] | bool) -> PartialEvalResult:
    """Split ``closed`` by which inputs are ``unknowns``. Outputs are unknown when they depend
    on unknown inputs (as the primitives' partial-evaluation rules decide) or ``instantiate``
    says so."""
    n_out = len(closed.out_avals)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    unknowns, instantiate = tuple(map(bool, unknowns)), tuple(map(bool, instantiate))
    return _cached("pe", closed, (unknowns, instantiate),
                   lambda: _partial_eval_jaxpr(closed, unknowns, instantiate),
                   lambda r: r.known.consts)


def _partial_eval_jaxpr(closed, unknowns, instantiate):
    from xtrace._src.partial_eval import PartialVal, partial_eval_flat
    in_avals = closed.in_avals
    known_avals = [a for a, u in zip(in_avals, unknowns) if not u]
    box: list[Any] = []

    def known_fun(*kvals):
        it = iter(kvals)
        pvals = [PartialVal.unknown(a) if u else PartialVal.known(next(it))
                 for a, u in zip(in_avals, unknowns)]
        unknown, pvals_out = partial_eval_flat(lambda *a: eval_closed(closed, *a), pvals,
                                               lambda _n: list(instantiate))
        box.append((unknown.jaxpr, [not pv.is_known for pv in pvals_out]))
        return [pv.const for pv in pvals_out if pv.is_known] + list(unknown.consts)

    known = trace_to_jaxpr(known_fun, known_avals, "known")
    uj, out_uk = box[0]
    unknown = ClosedJaxpr(Jaxpr([], uj.constvars + uj.invars, uj.eqns, uj.outvars), [])
    return PartialEvalResult(known, unknown, out_uk, [v.aval for v in uj.constvars])



class Memo:
    """A small LRU cache for rule "plans" (Jaxprs derived from params): equal inputs give the
    identical Jaxpr objects, so eager dispatch and jit caches keyed on params hit. Results that
    hold tracers (belonging to one trace) are not stored."""

    def __init__(self, size: int = 512):
        import collections
        self.size = size
        self.entries: "collections.OrderedDict[Any, Any]" = collections.OrderedDict()

    def __call__(self, key: tuple, compute: Callable[[], Any],
                 values: Callable[[Any], Sequence[Any]] = lambda r: ()) -> Any:
        key = key + (dtypes.x64_enabled(),)
        try:
            hit = self.entries.get(key)
        except TypeError:  # unhashable key: no caching
            return compute()
        if hit is not None:
            try:
                self.entries.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
            return hit
        res = compute()
        if not any(isinstance(v, Tracer) for v in values(res)):
            self.entries[key] = res
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return res
