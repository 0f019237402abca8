"""Batching (vmap's interpreter) and helpers for writing batching rules.

``BatchTrace`` carries, for each value, the array holding the whole batch and the position of
the batch dimension in it (``bdim``; ``None`` when the value is the same for every example).
At each primitive it calls the primitive's ``batch`` rule::

    rule(axis: AxisData, vals: list, dims: list[int | None], **params) -> (out, out_dim)

``vals`` are the batched arrays (the batch dimension included), ``dims`` their batch
dimensions, at least one not ``None``. The rule returns the batched result and where its batch
dimension is (lists for primitives with several results). Rules bind primitives on whole
batches: a dot_general gains a batch dimension, elementwise ops broadcast their unbatched
operands; none loops over the examples.

``batch_jaxpr`` batches a Jaxpr into a Jaxpr (for control flow and jit); ``AxisData`` names the
axis so collectives (``lax.psum`` ...) can reduce over it.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from xtrace._src import core
from xtrace._src.core import ClosedJaxpr, ShapedArray, Trace, Tracer, get_aval


class AxisData:
    """The mapped axis of one vmap: its size and (optional) name."""

    __slots__ = ("size", "name")

    def __init__(self, size: int, name: Any = None):
        self.size, self.name = int(size), name

    def __repr__(self) -> str:
        return f"AxisData(size={self.size}, name={self.name!r})"


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace: "BatchTrace", val: Any, bdim: int | None):
        self._trace, self.val, self.bdim = trace, val, bdim

    @property
    def aval(self) -> ShapedArray:
        a = get_aval(self.val)
        if self.bdim is None:
            return a
        return a.update(shape=a.shape[:self.bdim] + a.shape[self.bdim + 1:])

    def full_lower(self) -> Any:
        return core.full_lower(self.val) if self.bdim is None else self

    def to_concrete(self) -> Any:
        return core.concrete(self.val) if self.bdim is None else None

    def escape(self) -> Any:
        return self.val if self.bdim is None else self


class BatchTrace(Trace):
    @property
    def axis(self) -> AxisData:
        return self.main.global_data

    def pure(self, val: Any) -> BatchTracer:
        return BatchTracer(self, val, None)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        if all(d is None for d in dims) and not prim.collective and not (
                self.axis.name is not None and _mentions_axis(params, self.axis.name)):
            out = prim.bind(*vals, **params)
            if prim.multiple_results:
                return [BatchTracer(self, o, None) for o in out]
            return BatchTracer(self, out, None)
        if prim.batch is None:
            raise NotImplementedError(f"Batching rule for '{prim.name}' is not implemented")
        out, out_dim = prim.batch(self.axis, vals, dims, **params)
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return BatchTracer(self, out, out_dim)


def _mentions_axis(params: dict, name: Any) -> bool:
    """Whether a Jaxpr in ``params`` (control flow, jit) holds a collective over ``name``: such
    a call must reach its batching rule even when no operand is batched."""
    for v in params.values():
        for sub in (v if isinstance(v, (tuple, list)) else (v,)):
            j = getattr(sub, "jaxpr", sub)
            if isinstance(j, core.Jaxpr) and _jaxpr_mentions(j, name):
                return True
    return False


def _jaxpr_mentions(jaxpr: core.Jaxpr, name: Any) -> bool:
    for eqn in jaxpr.eqns:
        if eqn.primitive.collective and name in eqn.params.get("axes", ()):
            return True
        if _mentions_axis(eqn.params, name):
            return True
    return False


def _named_axis_trace(prim, args, params) -> "BatchTrace | None":
    """The innermost vmap interpreter over an axis that ``prim`` names (a collective's ``axes``
    or a collective inside its Jaxpr params), when it sits above every trace of ``args``."""
    for m in reversed(core._state.stack):
        if not issubclass(m.trace_type, BatchTrace) or m.global_data.name is None:
            continue
        name = m.global_data.name
        if (name in params.get("axes", ())) if prim.collective else _mentions_axis(params, name):
            if m.level > core.find_top_trace(args).main.level:
                return BatchTrace(m)
            return None
    return None


core.named_axis_trace = _named_axis_trace


# ---------------------------------------------------------------------------------------------
# Moving the batch dimension (helpers for rules)


def moveaxis(x: Any, src: int, dst: int):
    """``x`` with axis ``src`` moved to position ``dst`` (one transpose, none if equal)."""
    from xtrace._src.prims.structural import transpose
    nd = get_aval(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, perm)


def broadcast_batch(x: Any, size: int, dim: int):
    """Unbatched ``x`` with a new batch axis of ``size`` at position ``dim``."""
    from xtrace._src.prims.structural import broadcast_in_dim
    a = get_aval(x)
    shape = a.shape[:dim] + (size,) + a.shape[dim:]
    return broadcast_in_dim(x, shape, [i for i in range(len(shape)) if i != dim])


def matchaxis(x: Any, src: int | None, dst: int, size: int):
    """``x`` (batch dimension at ``src`` or unbatched) with its batch dimension at ``dst``."""
    if src is None:
        return broadcast_batch(x, size, dst % (get_aval(x).ndim + 1))
    return moveaxis(x, src, dst)


def bdim_at_front(x: Any, bdim: int | None, size: int):
    return matchaxis(x, bdim, 0, size)


def shift_axis(axis: int, bdim: int) -> int:
    """Where axis ``axis`` of an example lies in the batched array with batch dim ``bdim``."""
    return axis + 1 if axis >= bdim else axis


def first_size(vals: Sequence[Any], dims: Sequence[int | None]) -> int:
    for v, d in zip(vals, dims):
        if d is not None:
            return get_aval(v).shape[d]
    raise ValueError("no batched operand")


# ---------------------------------------------------------------------------------------------
# Common rules


def broadcasting_rule(prim: core.Primitive) -> Callable:
    """Rule for ops whose operands have one common shape (elementwise): batched operands are
    aligned on the first batched operand's batch dimension, unbatched ones broadcast into it;
    rank-0 operands of ops that allow them (select_n's selector, clamp's bounds) too."""

    def rule(axis, vals, dims, **params):
        size = axis.size
        ranks = [get_aval(v).ndim - (d is not None) for v, d in zip(vals, dims)]
        rank = max(ranks)
        out_dim = next((d for d, r in zip(dims, ranks) if d is not None and r == rank), 0)
        full = _full_shape(vals, dims, rank)
        args = []
        for v, d in zip(vals, dims):
            a = get_aval(v)
            ex_rank = a.ndim - (d is not None)
            if ex_rank == rank:
                args.append(matchaxis(v, d, out_dim, size))
            elif d is None:  # a rank-0 operand the same for all examples: leave it
                args.append(v)
            else:  # a rank-0 operand per example: broadcast to the full batched shape
                from xtrace._src.prims.structural import broadcast_in_dim
                shape = full[:out_dim] + (size,) + full[out_dim:]
                args.append(broadcast_in_dim(v, shape, (out_dim,)))
        return prim.bind(*args, **params), out_dim

    return rule


def _full_shape(vals, dims, rank) -> tuple[int, ...]:
    for v, d in zip(vals, dims):
        a = get_aval(v)
        if a.ndim - (d is not None) == rank:
            s = a.shape
            return s[:d] + s[d + 1:] if d is not None else s
    return ()


def defbroadcasting(*prims: core.Primitive) -> None:
    for p in prims:
        p.batch = broadcasting_rule(p)


def vectorized_rule(prim: core.Primitive) -> Callable:
    """Rule for one-operand ops acting on each element independently with shape-free params:
    the batch dimension stays where it is."""

    def rule(axis, vals, dims, **params):
        x, = vals
        d, = dims
        return prim.bind(x, **params), d

    return rule


def defvectorized(*prims: core.Primitive) -> None:
    for p in prims:
        p.batch = vectorized_rule(p)


# ---------------------------------------------------------------------------------------------
# Batching a Jaxpr (control flow bodies, jit_call)


def batch_jaxpr(closed: ClosedJaxpr, axis: AxisData, in_batched: Sequence[bool],
                force_out: bool | Sequence[bool] = False
                ) -> tuple[ClosedJaxpr, list[bool]]:
    """Batch ``closed`` over ``axis``: inputs marked in ``in_batched`` gain a leading batch
    dimension. Returns the new ClosedJaxpr and which outputs are batched (leading dimension);
    outputs marked in ``force_out`` are batched even when they do not depend on the batch."""
    from xtrace._src.staging import eval_jaxpr, trace_to_jaxpr
    n_out = len(closed.jaxpr.outvars)
    force = [force_out] * n_out if isinstance(force_out, bool) else list(force_out)
    out_batched: list[bool] = []

    def fun(*args):
        with core.new_main(BatchTrace, axis) as main:
            trace = BatchTrace(main)
            ins = [BatchTracer(trace, a, 0) if b else a for a, b in zip(args, in_batched)]
            outs = [trace.full_raise(o)
                    for o in eval_jaxpr(closed.jaxpr, closed.consts, ins)]
            res = []
            out_batched.clear()
            for o, f in zip(outs, force):
                if o.bdim is None and not f:
                    res.append(o.val)
                    out_batched.append(False)
                else:
                    res.append(bdim_at_front(o.val, o.bdim, axis.size))
                    out_batched.append(True)
            return res

    avals = [a.update(shape=(axis.size,) + a.shape) if b else a
             for a, b in zip(closed.in_avals, in_batched)]
    with _axis_env(axis):
        jaxpr = trace_to_jaxpr(fun, avals)
    return jaxpr, list(out_batched)


class _axis_env:
    def __init__(self, axis: AxisData):
        self.ctx = core.extend_axis_env(axis.name, axis.size) if axis.name is not None else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def batch_flat(fun: Callable, axis: AxisData, vals: Sequence[Any], dims: Sequence[int | None],
               out_dim: int | Sequence[int | None] = 0) -> list[Any]:
    """Run ``fun`` (flat list of examples -> flat list) over the batch ``vals`` whose batch
    dimensions are ``dims``; outputs get their batch dimension at ``out_dim`` (per output,
    ``None`` leaves an unbatched output unbatched but errors on a batched one)."""
    with core.new_main(BatchTrace, axis) as main, _axis_env(axis):
        trace = BatchTrace(main)
        ins = [v if d is None else BatchTracer(trace, v, d) for v, d in zip(vals, dims)]
        outs = [trace.full_raise(o) for o in fun(*ins)]
        if callable(out_dim):
            out_dim = out_dim()
        dsts = [out_dim] * len(outs) if not isinstance(out_dim, (list, tuple)) else out_dim
        res = []
        for i, (o, dst) in enumerate(zip(outs, dsts)):
            if dst is None:
                if o.bdim is not None:
                    raise ValueError(f"at vmap out_axes, got axis spec None but output was "
                                     f"batched on axis {o.bdim}: vmap has mapped output "
                                     f"(output {i}, of type {o.aval.str_short()}) but out_axes "
                                     "is None for it")
                res.append(o.val)
            else:
                nd = o.aval.ndim + 1
                if not -nd <= dst < nd:
                    raise ValueError(f"vmap out_axes {dst} is out of bounds for output {i} of "
                                     f"type {o.aval.str_short()} (batched rank {nd})")
                res.append(matchaxis(o.val, o.bdim, dst % nd, axis.size))
        return [core.full_lower(r) for r in res]
