"""Automatic differentiation: forward mode (JVP) plus transposition gives reverse mode.

* ``JVPTrace`` pushes tangents through each primitive with the primitive's ``jvp`` rule.
* ``linearize`` runs the JVP under partial evaluation (``partial_eval.py``): everything that
  depends only on primal inputs is computed now (the "known" part); what depends on tangents
  is staged into a linear Jaxpr whose constants are the residuals.
* ``vjp`` transposes that linear Jaxpr (``backward_pass``) with each primitive's ``transpose``
  rule, walking equations in reverse and accumulating cotangents.

Symbolic zeros (``Zero``) stand for tangents/cotangents known to be zero, so rules can skip
work; integer and boolean values only ever have zero tangents (``float0`` when materialized,
as in JAX).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import core, dtypes
from xtrace._src.core import Jaxpr, Literal, ShapedArray, Trace, Tracer, get_aval

# A dtype with no data, the tangent type of integer and boolean values (JAX's float0).
float0 = np.dtype([("float0", np.void, 0)])


class Zero:
    """A symbolic zero tangent or cotangent of the given aval."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def is_differentiable_dtype(dt: np.dtype) -> bool:
    return dtypes.is_inexact(dt)


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    return ShapedArray(aval.shape, aval.dtype, False)


def zeros_like_aval(aval: ShapedArray):
    """A materialized zero of ``aval`` (bound as a primitive, so it works under any trace)."""
    from xtrace._src import lax
    return lax.broadcast_in_dim(np.zeros((), aval.dtype)[()], aval.shape, ())


def instantiate(t: Any, aval: ShapedArray | None = None):
    """``t`` with a symbolic zero turned into a real array."""
    if isinstance(t, Zero):
        return zeros_like_aval(t.aval if aval is None else aval)
    return t


def add_tangents(a: Any, b: Any):
    if isinstance(a, Zero):
        return b
    if isinstance(b, Zero):
        return a
    from xtrace._src import lax
    return lax.add(a, b)


def zero_of(x: Any) -> Zero:
    return Zero(tangent_aval(get_aval(x)))


# ---------------------------------------------------------------------------------------------
# Forward mode


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: "JVPTrace", primal: Any, tangent: Any):
        self._trace, self.primal, self.tangent = trace, primal, tangent

    @property
    def aval(self) -> ShapedArray:
        return get_aval(self.primal)

    def to_concrete(self) -> Any:
        return core.concrete(self.primal)

    def escape(self) -> Any:
        return self.primal


class JVPTrace(Trace):
    def pure(self, val: Any) -> JVPTracer:
        return JVPTracer(self, val, zero_of(val))

    lift = pure

    def process_primitive(self, prim, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(isinstance(t, Zero) for t in tangents):
            out = prim.bind(*primals, **params)
            if prim.multiple_results:
                return [JVPTracer(self, o, zero_of(o)) for o in out]
            return JVPTracer(self, out, zero_of(out))
        if prim.jvp is None:
            raise NotImplementedError(
                f"Differentiation rule for '{prim.name}' is not implemented")
        primal_out, tangent_out = prim.jvp(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, p, _fix_tangent(p, t)) for p, t in zip(primal_out,
                                                                            tangent_out)]
        return JVPTracer(self, primal_out, _fix_tangent(primal_out, tangent_out))


def _fix_tangent(primal: Any, tangent: Any):
    """Tangents of non-differentiable outputs are symbolic zeros."""
    if tangent is None or not is_differentiable_dtype(get_aval(primal).dtype):
        return zero_of(primal)
    return tangent


def jvp_flat(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any]
             ) -> tuple[list[Any], list[Any]]:
    """JVP of a function of flat arrays returning a flat list; tangents may be ``Zero``."""
    with core.new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers_in = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*tracers_in)
        tracers_out = [trace.full_raise(o) for o in outs]
        return ([core.full_lower(t.primal) for t in tracers_out],
                [t.tangent if isinstance(t.tangent, Zero) else core.full_lower(t.tangent)
                 for t in tracers_out])


# ---------------------------------------------------------------------------------------------
# Rule-writing helpers (used by the primitive records)


def defjvp(prim: core.Primitive, *partials: Callable | None) -> None:
    """JVP from one function per argument: ``partial(g, *primals, **params)`` gives that
    argument's contribution to the output tangent (``None``: not differentiable in it)."""

    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        t_out = Zero(tangent_aval(get_aval(out)))
        for fn, t in zip(partials, tangents):
            if fn is not None and not isinstance(t, Zero):
                t_out = add_tangents(t_out, fn(t, *primals, **params))
        return out, t_out

    prim.jvp = rule


def defjvp2(prim: core.Primitive, *partials: Callable | None) -> None:
    """Like ``defjvp`` but each function also receives the primal output:
    ``partial(g, ans, *primals, **params)``."""

    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        t_out = Zero(tangent_aval(get_aval(out)))
        for fn, t in zip(partials, tangents):
            if fn is not None and not isinstance(t, Zero):
                t_out = add_tangents(t_out, fn(t, out, *primals, **params))
        return out, t_out

    prim.jvp = rule


def defjvp_zero(prim: core.Primitive) -> None:
    """Declare ``prim`` non-differentiable: its outputs get zero tangents."""

    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if prim.multiple_results:
            return out, [zero_of(o) for o in out]
        return out, zero_of(out)

    prim.jvp = rule
    prim.differentiable = False


def deflinear(prim: core.Primitive, transpose: Callable) -> None:
    """``prim`` is linear in all its arguments: its JVP applies it to the tangents and
    ``transpose(ct, *args, **params)`` gives the cotangents of its inputs."""

    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if all(isinstance(t, Zero) for t in tangents):
            return out, zero_of(out) if not prim.multiple_results else [zero_of(o) for o in out]
        ts = [instantiate(t) for t in tangents]
        return out, prim.bind(*ts, **params)

    prim.jvp = rule
    prim.transpose = transpose


def defbilinear(prim: core.Primitive, transpose: Callable) -> None:
    """``prim(x, y)`` is linear in each argument separately (dot_general, conv): its JVP is
    ``prim(tx, y) + prim(x, ty)`` and ``transpose`` gives the linear arguments' cotangents."""

    def rule(primals, tangents, **params):
        x, y = primals
        tx, ty = tangents
        out = prim.bind(x, y, **params)
        t = zero_of(out)
        if not isinstance(tx, Zero):
            t = add_tangents(t, prim.bind(tx, y, **params))
        if not isinstance(ty, Zero):
            t = add_tangents(t, prim.bind(x, ty, **params))
        return out, t

    prim.jvp = rule
    prim.transpose = transpose


# ---------------------------------------------------------------------------------------------
# Transposition


class UndefinedPrimal:
    """A linear input of a Jaxpr being transposed: its value is unknown, its cotangent wanted."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x: Any) -> bool:
    return isinstance(x, UndefinedPrimal)


def backward_pass(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any],
                  cotangents: Sequence[Any]) -> list[Any]:
    """Transpose ``jaxpr`` with respect to its ``UndefinedPrimal`` arguments.

    Equations whose inputs are all known (non-linear work on residuals, e.g. recomputation
    inside a checkpoint or a control-flow branch) are evaluated forward first; the remaining
    equations must be linear in their undefined inputs and are transposed in reverse order.
    Returns one cotangent per argument (``Zero`` where nothing flowed, ``None`` for known
    arguments)."""
    primal_env: dict[Any, Any] = {}
    for v, c in zip(jaxpr.constvars, consts):
        primal_env[v] = c
    for v, a in zip(jaxpr.invars, args):
        primal_env[v] = a

    def read_primal(x):
        if isinstance(x, Literal):
            return x.val
        return primal_env.get(x, UndefinedPrimal(x.aval))

    linear_eqns = []
    for eqn in jaxpr.eqns:
        ins = [read_primal(x) for x in eqn.inputs]
        if any(is_undefined(x) for x in ins):
            linear_eqns.append(eqn)
            continue
        outs = eqn.primitive.bind(*ins, **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for v, o in zip(eqn.outputs, outs):
            primal_env[v] = o

    ct_env: dict[Any, Any] = {}

    def write_ct(v, ct):
        if isinstance(v, Literal) or ct is None or isinstance(ct, Zero):
            return
        ct_env[v] = add_tangents(ct_env[v], ct) if v in ct_env else ct

    def read_ct(v):
        return ct_env.pop(v, Zero(tangent_aval(v.aval)))

    for v, ct in zip(jaxpr.outvars, cotangents):
        write_ct(v, ct)
    for eqn in reversed(linear_eqns):
        prim = eqn.primitive
        cts_out = [read_ct(v) for v in eqn.outputs]
        if all(isinstance(c, Zero) for c in cts_out):
            continue
        if prim.transpose is None:
            raise NotImplementedError(
                f"Transpose rule (for reverse-mode differentiation) for '{prim.name}' is not "
                "implemented")
        ins = [read_primal(x) for x in eqn.inputs]
        ct_arg = cts_out if prim.multiple_results else cts_out[0]
        cts_in = prim.transpose(ct_arg, *ins, **eqn.params)
        for x, ct in zip(eqn.inputs, cts_in):
            if not isinstance(x, Literal) and is_undefined(read_primal(x)):
                write_ct(x, ct)
    return [read_ct(v) if is_undefined(a) else None for v, a in zip(jaxpr.invars, args)]


def unbroadcast_sum(ct, aval: ShapedArray):
    """Helper for transposes: ``ct`` summed back to ``aval``'s shape (it was broadcast)."""
    from xtrace._src import lax
    if isinstance(ct, Zero):
        return Zero(tangent_aval(aval))
    shape = get_aval(ct).shape
    if shape == aval.shape:
        return ct
    lead = len(shape) - len(aval.shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(aval.shape)
                                       if d == 1 and shape[i + lead] != 1)
    out = lax.reduce_sum(ct, axes)
    return lax.reshape(out, aval.shape)


_ = (Trace, Tracer)
