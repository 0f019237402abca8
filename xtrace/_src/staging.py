"""Staging: trace a Python function into a Jaxpr (used by jit, make_jaxpr and control flow)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import core, dtypes
from xtrace._src.core import (ClosedJaxpr, Jaxpr, JaxprEqn, Literal, ShapedArray, Trace,
                              Tracer, Var, get_aval)


class JaxprTracer(Tracer):
    __slots__ = ("aval",)

    def __init__(self, trace: "JaxprTrace", aval: ShapedArray):
        self._trace = trace
        self.aval = aval


class JaxprBuilder:
    """Shared state of one staging trace: equations, tracer-to-variable map, constants."""

    def __init__(self, fn_name: str | None = None):
        self.fn_name = fn_name
        self.eqns: list[JaxprEqn] = []
        self.tracer_to_var: dict[int, Any] = {}
        self.const_tracers: dict[int, JaxprTracer] = {}
        self.constvals: dict[int, Any] = {}  # var id -> value
        self.tracers: list[JaxprTracer] = []  # keep tracers alive so ids stay unique

    def new_tracer(self, trace, aval: ShapedArray) -> JaxprTracer:
        t = JaxprTracer(trace, aval)
        self.tracers.append(t)
        return t

    def add_var(self, tracer: JaxprTracer) -> Var:
        v = Var(tracer.aval)
        self.tracer_to_var[id(tracer)] = v
        return v

    def getvar(self, tracer: JaxprTracer):
        return self.tracer_to_var[id(tracer)]

    def add_const(self, tracer: JaxprTracer, val: Any) -> None:
        if isinstance(val, (bool, int, float, complex)) or (
                isinstance(val, (np.ndarray, np.generic)) and np.ndim(val) == 0):
            self.tracer_to_var[id(tracer)] = Literal(val, tracer.aval)
        else:
            v = self.add_var(tracer)
            self.constvals[id(v)] = (v, val)

    def build(self, in_tracers: Sequence[JaxprTracer], out_tracers: Sequence[JaxprTracer]
              ) -> ClosedJaxpr:
        invars = [self.getvar(t) for t in in_tracers]
        outvars = [self.getvar(t) for t in out_tracers]
        constvars = [v for v, _ in self.constvals.values()]
        consts = [c for _, c in self.constvals.values()]
        return ClosedJaxpr(Jaxpr(constvars, invars, self.eqns, outvars), consts)


class JaxprTrace(Trace):
    """Records each primitive application as an equation instead of running it."""

    @property
    def builder(self) -> JaxprBuilder:
        return self.main.global_data

    def new_arg(self, aval: ShapedArray) -> JaxprTracer:
        t = self.builder.new_tracer(self, aval)
        self.builder.add_var(t)
        return t

    def pure(self, val: Any) -> JaxprTracer:
        b = self.builder
        t = b.const_tracers.get(id(val))
        if t is None:
            aval = get_aval(val)
            if isinstance(val, Tracer):  # from an outer trace: becomes a constant input
                aval = val.aval
            t = b.new_tracer(self, aval)
            b.add_const(t, val)
            if not isinstance(val, (bool, int, float, complex)):
                b.const_tracers[id(val)] = t
                b.tracers.append(val)  # keep alive so the id is not reused
        return t

    lift = pure

    def process_primitive(self, prim, tracers, params):
        avals_in = [t.aval for t in tracers]
        out = prim.abstract_eval(*avals_in, **params)
        avals_out = list(out) if prim.multiple_results else [out]
        b = self.builder
        outs = [b.new_tracer(self, a) for a in avals_out]
        ins = [b.getvar(t) for t in tracers]
        outvars = [b.add_var(t) for t in outs]
        b.eqns.append(JaxprEqn(prim, ins, outvars, params))
        return outs if prim.multiple_results else outs[0]


def trace_to_jaxpr(flat_fun: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray],
                   fn_name: str | None = None) -> ClosedJaxpr:
    """Stage ``flat_fun`` (flat list of inputs -> flat list of outputs) into a ClosedJaxpr."""
    builder = JaxprBuilder(fn_name)
    with core.new_main(JaxprTrace, builder, dynamic=True) as main:
        trace = JaxprTrace(main)
        in_tracers = [trace.new_arg(a) for a in in_avals]
        outs = flat_fun(*in_tracers)
        out_tracers = [trace.full_raise(o) for o in outs]
        return builder.build(in_tracers, out_tracers)


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any]) -> list[Any]:
    """Interpret a Jaxpr by binding its primitives (under whatever traces are active)."""
    env: dict[Any, Any] = {}

    def read(x):
        return x.val if isinstance(x, Literal) else env[x]

    for v, c in zip(jaxpr.constvars, consts):
        env[v] = c
    for v, a in zip(jaxpr.invars, args):
        env[v] = a
    for eqn in jaxpr.eqns:
        outs = eqn.primitive.bind(*[read(x) for x in eqn.inputs], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for v, o in zip(eqn.outputs, outs):
            env[v] = o
    return [read(x) for x in jaxpr.outvars]


def canonical_aval(x: Any) -> ShapedArray:
    aval = get_aval(x)
    if isinstance(x, (np.ndarray, np.generic)) and aval.dtype != x.dtype:
        aval = aval.update(dtype=dtypes.canonicalize_dtype(x.dtype))
    return aval
