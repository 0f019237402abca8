"""Host callbacks: primitives that call a Python function from inside a program.

* ``pure_callback``: ``*args -> results``, a function without side effects (XLA may drop or
  repeat it); batched as its ``vmap_method`` says; not differentiable (use ``custom_jvp``).
* ``io_callback``: ``*args -> results`` with side effects; never dropped; ``ordered=True``
  keeps program order; batched by calling it once per example; not differentiable.
* ``debug_callback``: ``*args -> ()`` (``debug.print``, ``debug.callback``); never dropped;
  under JVP it sees the primal values; under vmap it runs once per example.

Eagerly the function runs at once on the Arrays. Compiled, the program calls it through a
custom call (``backend.host_callback_call``); ordered callbacks thread a ``!stablehlo.token``
through their region, so they run in program order. The function receives Arrays and returns
values whose shapes and dtypes must match ``result_avals``.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import backend, batching, dtypes, lowering
from xtrace._src.core import ShapedArray
from xtrace._src.prims.common import define

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")


class FlatCallback:
    """The user's function taking the flat array leaves of its arguments and returning the
    flat leaves of its results. Compared by identity: two callbacks never share a program."""

    __slots__ = ("fn", "__weakref__")

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, *flat: Any) -> list:
        from xtrace._src.tree_util import tree_leaves
        return tree_leaves(self.fn(*flat))

    def __repr__(self) -> str:
        return f"FlatCallback({getattr(self.fn, '__name__', self.fn)!r})"


def check_results(outs: Sequence[Any], result_avals: Sequence[ShapedArray]) -> list[np.ndarray]:
    """The callback's results as NumPy arrays of the declared shapes and dtypes (RuntimeError,
    as JAX raises, when they differ)."""
    if len(outs) != len(result_avals):
        raise RuntimeError("Mismatched number of outputs from callback. "
                           f"Expected: {len(result_avals)}, Actual: {len(outs)}")
    vals = []
    for i, (o, aval) in enumerate(zip(outs, result_avals)):
        v = np.asarray(o)
        v = v.astype(dtypes.canonicalize_dtype(v.dtype), copy=False)
        if v.shape != aval.shape:
            raise RuntimeError(f"Incorrect output shape for return value #{i}: "
                               f"Expected: {aval.shape}, Actual: {v.shape}")
        if v.dtype != aval.dtype:
            raise RuntimeError(f"Incorrect output dtype for return value #{i}: "
                               f"Expected: {aval.dtype}, Actual: {v.dtype}")
        vals.append(v)
    return vals


def _as_arrays(vals: Sequence[Any], avals: Sequence[ShapedArray]) -> list:
    from xtrace._src.array import Array, from_numpy
    return [v if isinstance(v, Array) else from_numpy(v, a.dtype, a.weak_type)
            for v, a in zip(vals, avals)]


def _run(callback: FlatCallback, args: Sequence[Any], result_avals: Sequence[ShapedArray]):
    """Eager evaluation: call at once, results as Arrays."""
    from xtrace._src.core import get_aval
    outs = callback(*_as_arrays(args, [get_aval(a) for a in args]))
    return _as_arrays(check_results(outs or [], result_avals), result_avals)


# ---- lowering: one custom call ----
TOKEN = lowering.TOKEN


def _host_function(callback: Callable, avals_in, result_avals, token: bool,
                   as_arrays: bool = True) -> Callable:
    """What the compiled program calls: NumPy operands in, a tuple of results out (a leading
    None in both for the token).

    jaxlib keeps the callables it is given for the life of the process (checked on 0.8.3 and
    0.10.2), so this one holds the user's function only weakly: the Jaxpr holding the
    callback's equation (kept by whatever holds the executable: a jit cache entry, an eager
    cache key, ``Compiled``) owns it, and it is freed with them."""
    ref = weakref.ref(callback)

    def run(*args):
        fn = ref()
        if fn is None:
            raise RuntimeError("xtrace: the Python callback of this compiled program was "
                               "freed (the program outlived the function that traced it)")
        if token:
            args = args[1:]
        vals = _as_arrays(args, avals_in) if as_arrays else args
        outs = tuple(check_results(fn(*vals) or [], result_avals))
        return (None,) + outs if token else outs
    return run


def _custom_call(em, operands: Sequence[str], in_types: Sequence[str], out_types: Sequence[str],
                 attrs: str) -> list[str]:
    res = em.fresh()
    n = len(out_types)
    lhs = "" if n == 0 else (f"{res} = " if n == 1 else f"{res}:{n} = ")
    em.lines.append(" " * em.indent + f'{lhs}"stablehlo.custom_call"({", ".join(operands)}) '
                    f'{{{attrs}}} : ({", ".join(in_types)}) -> ({", ".join(out_types)})')
    return [res] if n == 1 else [f"{res}#{i}" for i in range(n)]


def lower_callback(ctx, *args, callback, result_avals, has_side_effect: bool, ordered: bool,
                   as_arrays: bool = True):
    em = ctx.emitter
    fn = _host_function(callback, ctx.avals_in, result_avals, ordered, as_arrays)
    tok = [((), None)] if ordered else []
    call = backend.host_callback_call(
        fn, len(ctx.module.host_callbacks), tok + [(a.shape, a.dtype) for a in ctx.avals_in],
        tok + [(a.shape, a.dtype) for a in result_avals])
    ctx.module.add_host_callback(call.host_callback)
    operands, in_types = list(args), [lowering.tensor_type(a) for a in ctx.avals_in]
    out_types = [lowering.tensor_type(a) for a in result_avals]
    if ordered:
        operands, in_types, out_types = ([lowering.current_token(em)] + operands,
                                         [TOKEN] + in_types,
                                         [TOKEN] + out_types)
    if call.descriptor is not None:
        operands.insert(0, ctx.constant(call.descriptor, ShapedArray((), np.dtype(np.uint64))))
        in_types.insert(0, "tensor<ui64>")
    attrs = (f'call_target_name = "{call.target}", api_version = {call.api_version} : i32, '
             f'has_side_effect = {"true" if has_side_effect else "false"}, '
             f"backend_config = {call.backend_config}")
    if call.tuple_results:
        tup = f"tuple<{', '.join(out_types)}>"
        t = _custom_call(em, operands, in_types, [tup], attrs)[0]
        outs = [_custom_call_get(em, t, tup, i, ty) for i, ty in enumerate(out_types)]
    else:
        outs = _custom_call(em, operands, in_types, out_types, attrs)
    if ordered:
        em.token, outs = outs[0], outs[1:]
    for name, aval in zip(outs, result_avals):
        em.types[name] = aval
    return outs


# A loop or branch holding ordered callbacks must run after the ordered callbacks before it
# and before those after it. XLA orders only by data: the smallest operand of the loop passes
# through an ordered host call that returns it unchanged (so the loop waits for the token), and
# an ordered host call that reads all the loop's results continues the token after it.
def _identity(*xs):
    return list(xs)


def _ignore(*xs):
    return []


def order_after(ctx, operands: list[str]) -> list[str]:
    """``operands`` of a control-flow op, made to wait for the earlier ordered callbacks."""
    if not operands:
        return operands
    k = min(range(len(operands)), key=lambda i: ctx.avals_in[i].size)
    aval = ctx.avals_in[k]
    sub = lowering.LowerCtx(ctx.emitter, [aval], [aval], ctx.module)
    out = lower_callback(sub, operands[k], callback=_identity, result_avals=(aval,),
                         has_side_effect=True, ordered=True, as_arrays=False)
    return operands[:k] + out + operands[k + 1:]


def order_before(ctx, results: list[str]) -> None:
    """Make the later ordered callbacks wait for a control-flow op's ``results``."""
    if results:
        sub = lowering.LowerCtx(ctx.emitter, ctx.avals_out, [], ctx.module)
        lower_callback(sub, *results, callback=_ignore, result_avals=(), has_side_effect=True,
                       ordered=True, as_arrays=False)


lowering.ordering_hooks[:] = [order_after, order_before]


def _custom_call_get(em, tup: str, tup_type: str, i: int, ty: str) -> str:
    res = em.fresh()
    em.lines.append(" " * em.indent + f'{res} = "stablehlo.get_tuple_element"({tup}) '
                    f"{{index = {i} : i32}} : ({tup_type}) -> {ty}")
    return res


# ---- batching helpers ----
def _sequential(prim, axis, vals, dims, params):
    """Call the primitive once per example (a lax.map over the batch)."""
    from xtrace._src.prims.control_flow import map as lax_map
    batched = [batching.bdim_at_front(v, d, axis.size) for v, d in zip(vals, dims)
               if d is not None]

    def one(xs):
        it = iter(xs)
        return prim.bind(*[next(it) if d is not None else v for v, d in zip(vals, dims)],
                         **params)

    outs = lax_map(one, batched)
    return list(outs), [0] * len(outs)


def _batched_avals(result_avals, size: int) -> tuple:
    return tuple(a.update(shape=(size,) + a.shape) for a in result_avals)


# ---- pure_callback ----
def _pure_batch(axis, vals, dims, *, callback, result_avals, vmap_method):
    params = dict(callback=callback, result_avals=result_avals, vmap_method=vmap_method)
    if vmap_method in ("sequential", "sequential_unrolled"):
        return _sequential(pure_callback_p, axis, vals, dims, params)
    if vmap_method not in ("expand_dims", "broadcast_all", "legacy_vectorized"):
        raise NotImplementedError(
            "vmap is only supported for the pure_callback primitive when vmap_method is one "
            "of 'sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all', or "
            f"'legacy_vectorized'. Got vmap_method={vmap_method!r}.")
    from xtrace._src.prims.structural import expand_dims
    size = axis.size
    new = []
    for v, d in zip(vals, dims):
        if d is not None:
            new.append(batching.bdim_at_front(v, d, size))
        elif vmap_method == "broadcast_all":
            new.append(batching.broadcast_batch(v, size, 0))
        elif vmap_method == "expand_dims":
            new.append(expand_dims(v, (0,)))
        else:
            new.append(v)
    params["result_avals"] = _batched_avals(result_avals, size)
    outs = pure_callback_p.bind(*new, **params)
    return outs, [0] * len(outs)


def _pure_jvp(primals, tangents, **params):
    raise ValueError("Pure callbacks do not support JVP. Please use `xtrace.custom_jvp` to use "
                     "callbacks while taking gradients.")


def _pure_transpose(ct, *args, **params):
    raise ValueError("Pure callbacks do not support transpose. Please use `xtrace.custom_vjp` "
                     "to use callbacks while taking gradients.")


pure_callback_p = define(
    "pure_callback", lambda *avals, result_avals, **_: list(result_avals),
    lambda ctx, *args, callback, result_avals, vmap_method: lower_callback(
        ctx, *args, callback=callback, result_avals=result_avals, has_side_effect=False,
        ordered=False),
    multiple_results=True,
    impl=lambda *args, callback, result_avals, vmap_method: _run(callback, args, result_avals))
pure_callback_p.jvp = _pure_jvp
pure_callback_p.transpose = _pure_transpose
pure_callback_p.batch = _pure_batch
pure_callback_p.differentiable = False  # the autodiff table skips it


# ---- io_callback ----
def _io_batch(axis, vals, dims, *, callback, result_avals, ordered):
    if ordered:
        raise ValueError("Cannot `vmap` ordered IO callback.")
    return _sequential(io_callback_p, axis, vals, dims,
                       dict(callback=callback, result_avals=result_avals, ordered=ordered))


def _io_jvp(primals, tangents, **params):
    raise ValueError("IO callbacks do not support JVP.")


io_callback_p = define(
    "io_callback", lambda *avals, result_avals, **_: list(result_avals),
    lambda ctx, *args, callback, result_avals, ordered: lower_callback(
        ctx, *args, callback=callback, result_avals=result_avals, has_side_effect=True,
        ordered=ordered),
    multiple_results=True,
    impl=lambda *args, callback, result_avals, ordered: _run(callback, args, result_avals))
io_callback_p.effectful = True
io_callback_p.jvp = _io_jvp
io_callback_p.transpose = _pure_transpose
io_callback_p.batch = _io_batch
io_callback_p.differentiable = False


# ---- debug_callback ----
def _debug_jvp(primals, tangents, *, callback, ordered):
    debug_callback_p.bind(*primals, callback=callback, ordered=ordered)
    return [], []


def _debug_transpose(ct, *args, **params):
    return [None] * len(args)


debug_callback_p = define(
    "debug_callback", lambda *avals, **_: [],
    lambda ctx, *args, callback, ordered: lower_callback(
        ctx, *args, callback=callback, result_avals=(), has_side_effect=True, ordered=ordered),
    multiple_results=True,
    impl=lambda *args, callback, ordered: _run(callback, args, ()))
debug_callback_p.effectful = True
debug_callback_p.jvp = _debug_jvp
debug_callback_p.transpose = _debug_transpose
debug_callback_p.batch = lambda axis, vals, dims, **params: _sequential(
    debug_callback_p, axis, vals, dims, params)
