"""``jit``: stage a function into one Jaxpr, lower it to StableHLO, compile once, run fast."""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import backend, compile_diagnostics, core, dtypes, lowering
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer
from xtrace._src.dispatch import to_buffer
from xtrace._src.staging import eval_jaxpr, trace_to_jaxpr
from xtrace._src.config import config as _config
from xtrace._src.tree_util import tree_flatten, tree_unflatten

_x64_flag = _config._values  # read on the fast path without a function call (x64, disable_jit)

# ---------------------------------------------------------------------------------------------
# jit_call: a call to a staged function, as a primitive (so nested jit and later
# transformations see one equation holding the inner Jaxpr).

jit_call_p = core.register(core.Primitive("jit_call", multiple_results=True))


def _jit_call_abstract_eval(*avals, jaxpr: ClosedJaxpr, name: str, donated: tuple):
    return jaxpr.out_avals


def _jit_call_lower(ctx, *args, jaxpr: ClosedJaxpr, name: str, donated: tuple):
    return lowering.lower_jaxpr_body(ctx.emitter, jaxpr.jaxpr, [], list(args), ctx.module)


def _jit_call_impl(*args, jaxpr: ClosedJaxpr, name: str, donated: tuple):
    exe, handlers = _compiled_for(jaxpr, name, donated)
    bufs = [to_buffer(a, core.get_aval(a)) for a in args]
    outs = backend.execute(exe, bufs, handlers)
    return [Array(b, v.aval) for b, v in zip(outs, jaxpr.jaxpr.outvars)]


def _jit_call_jvp(primals, tangents, *, jaxpr: ClosedJaxpr, name: str, donated: tuple):
    # Differentiate through the inner function by inlining it (an outer jit compiles it).
    from xtrace._src import ad
    return ad.jvp_flat(lambda *a: eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, a), primals, tangents)


def _jit_call_batch(axis, vals, dims, *, jaxpr: ClosedJaxpr, name: str, donated: tuple):
    # The batched call is again one staged call: batch the inner Jaxpr, batch dims leading.
    from xtrace._src import batching
    vals = [v if d is None else batching.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    batched, out_batched = batching.batch_jaxpr(jaxpr, axis, [d is not None for d in dims])
    inner, consts = hoist_consts(batched)
    outs = jit_call_p.bind(*consts, *vals, jaxpr=inner, name=name,
                           donated=(False,) * len(consts) + tuple(donated))
    return outs, [0 if b else None for b in out_batched]


jit_call_p.abstract_eval = _jit_call_abstract_eval
jit_call_p.batch = _jit_call_batch
jit_call_p.jvp = _jit_call_jvp
jit_call_p.lower = _jit_call_lower
jit_call_p.impl = _jit_call_impl


@functools.lru_cache(maxsize=4096)
def _compiled_for(jaxpr: ClosedJaxpr, name: str, donated: tuple):
    exe = backend.compile(lowering.lower_module(jaxpr, name, donated=donated))
    return exe, backend.result_handlers(jaxpr.out_avals)


def hoist_consts(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """Turn a ClosedJaxpr's constants into leading inputs; returns the new jaxpr and the values."""
    j = closed.jaxpr
    if not j.constvars:
        return closed, []
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []), closed.consts


# ---------------------------------------------------------------------------------------------


class _Entry:
    """One compiled specialization of a jitted function."""

    __slots__ = ("jaxpr", "out_tree", "exe", "const_bufs", "consts", "text", "donated",
                 "out_avals", "name", "handlers", "single_out", "device", "cacheable", "info")


def _lower_entry(e: _Entry) -> str:
    if e.text is None:
        e.text = lowering.lower_module(e.jaxpr, f"jit_{e.name}", donated=e.donated)
    return e.text


def _compile_entry(e: _Entry) -> None:
    """Lower and compile ``e`` and put its constants on its device (first eager call)."""
    dev = e.device
    compile_diagnostics.record_compile(e.info)  # log_compiles, recompile warning
    exe = backend.compile(_lower_entry(e), None if dev is None else (dev,))
    e.handlers = backend.result_handlers(e.out_avals, dev)
    e.const_bufs = [to_buffer(c, core.get_aval(c), dev) for c in e.consts]
    e.exe = exe


def _leaf_paths(tree: Any) -> list[str]:
    """``[key]`` paths of the leaves of ``tree``, in flattening order."""
    from xtrace._src.tree_util import _registry, _lookup
    out: list[str] = []

    def walk(x, path):
        entry = _lookup(x)
        if entry is None:
            out.append(path)
            return
        children, aux = entry[0](x)
        keys = aux if type(x) is dict else range(len(children))
        for k, c in zip(keys, children):
            walk(c, f"{path}[{k!r}]")
    del _registry
    walk(tree, "")
    return out


def _leaf_aval(x: Any, where) -> ShapedArray:
    if type(x) is Array or isinstance(x, Tracer):
        return x.aval
    try:
        aval = core.get_aval(x)
    except TypeError:
        where = where() if callable(where) else where
        raise TypeError(
            f"{where} is a {type(x).__name__} ({x!r:.60}), which is not a valid array type for "
            "jit. Pass arrays, NumPy values or Python scalars, or mark the argument static "
            "with static_argnums / static_argnames.") from None
    if isinstance(x, (np.ndarray, np.generic)):
        aval = aval.update(dtype=dtypes.canonicalize_dtype(x.dtype))
    return aval


class Lowered:
    """The result of ``jitted.lower(*args)``: StableHLO text, compilable."""

    def __init__(self, entry: _Entry, fun: "JitFunction"):
        self._entry, self._fun = entry, fun

    def as_text(self) -> str:
        return _lower_entry(self._entry)

    def compile(self) -> "Compiled":
        if self._entry.exe is None:
            _compile_entry(self._entry)
        return Compiled(self._entry, self._fun)


class Compiled:
    """A compiled executable: optimized HLO text, XLA's cost analysis; callable."""

    def __init__(self, entry: _Entry, fun: "JitFunction"):
        self._entry, self._fun = entry, fun

    def __call__(self, *args, **kwargs):
        return self._fun(*args, **kwargs)

    def as_text(self) -> str:
        return backend.optimized_hlo(self._entry.exe)

    def cost_analysis(self) -> dict:
        return backend.cost_analysis(self._entry.exe)


class JitFunction:
    """A function compiled with ``xtrace.jit``; call it like the original."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(), donate_argnums=(),
                 donate_argnames=()):
        if not callable(fun):
            raise TypeError(f"jit expected a callable, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        self._fid = compile_diagnostics.FunctionId(fun, self._name)
        static_argnums = _tuple_of_ints(static_argnums, "static_argnums")
        static_argnames = ((static_argnames,) if isinstance(static_argnames, str)
                           else tuple(static_argnames))
        donate_argnums = _tuple_of_ints(donate_argnums, "donate_argnums")
        try:
            sig = inspect.signature(fun)
        except (TypeError, ValueError):
            sig = None
        params = list(sig.parameters.values()) if sig else []
        positional = [p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # Normalize negatives and make static_argnums and static_argnames agree, as JAX does.
        nums = set()
        for i in static_argnums:
            if i < 0:
                if sig is None or any(p.kind == p.VAR_POSITIONAL for p in params):
                    raise ValueError("negative static_argnums need a fixed signature")
                i += len(positional)
            nums.add(i)
        names = set(static_argnames)
        for i in list(nums):
            if i < len(positional):
                names.add(positional[i])
        for n in list(names):
            if n in positional:
                nums.add(positional.index(n))
        if sig is not None and not any(p.kind == p.VAR_POSITIONAL for p in params):
            for i in static_argnums:
                if i >= len(positional):
                    raise ValueError(f"Jitted function has static_argnums={static_argnums}, but "
                                     f"only accepts {len(positional)} positional arguments.")
        self._static_argnums = frozenset(nums)
        self._static_argnames = frozenset(names)
        donate_argnames = ((donate_argnames,) if isinstance(donate_argnames, str)
                           else tuple(donate_argnames))
        self._donate_argnums = frozenset(
            [i if i >= 0 else i + len(positional) for i in donate_argnums]
            + [positional.index(n) for n in donate_argnames if n in positional])
        if self._donate_argnums & self._static_argnums:
            raise ValueError("an argument cannot be both static and donated: "
                             f"{sorted(self._donate_argnums & self._static_argnums)}")
        self._positional = positional
        self._cache: dict[Any, _Entry] = {}
        self._fast_cache: dict[Any, _Entry] = {}  # all-Array positional calls, keyed on avals
        self._lock = threading.RLock()
        self._simple = not nums and not names and not self._donate_argnums
        _instances.add(self)

    def __repr__(self) -> str:
        return f"<xtrace.jit of {self._name}>"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    # ---- the call path ----
    def __call__(self, *args, **kwargs):
        if _x64_flag["disable_jit"]:
            return self._fun(*args, **kwargs)
        if (self._simple and not kwargs and core._state.dynamic_level == 0
                and _x64_flag["_plain"]):
            avals = []
            for a in args:
                if type(a) is not Array or a._device is not None:
                    break
                avals.append(a.aval)
            else:  # fast path: positional Arrays only, nothing being traced
                avals.append(_x64_flag["enable_x64"])
                entry = self._fast_cache.get(tuple(avals))
                if entry is not None:
                    outs = backend.execute(entry.exe, entry.const_bufs + [a.buffer for a in args],
                                           entry.handlers)
                    if entry.single_out:
                        return Array(outs[0], entry.out_avals[0])
                    return tree_unflatten(entry.out_tree,
                                          [Array(b, v) for b, v in zip(outs, entry.out_avals)])
        out = self._call_slow(args, kwargs)
        if not _x64_flag["_plain"] and core._state.dynamic_level == 0:
            from xtrace._src.dispatch import check_values
            check_values(f"jit({self._name})", [x for x in tree_flatten(out)[0]
                                               if type(x) is Array])
        return out

    def _call_slow(self, args, kwargs):
        statics, dyn_args, dyn_kwargs, donate_mask_args = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(_leaf_aval(x, lambda i=i: self._describe_leaf(i, args, kwargs))
                      for i, x in enumerate(leaves))
        device = _committed_device(leaves)
        key = (in_tree, avals, statics, dtypes.x64_enabled(), device,
               tuple(core._state.axis_env))  # collectives' shapes depend on named axis sizes
        entry = self._cache.get(key)
        if entry is None:
            entry = self._specialize(key, in_tree, avals, statics, args, kwargs, dyn_args,
                                     donate_mask_args, device)
        tracing = (core._state.dynamic_level > 0 or bool(core._state.axis_env)
                   or any(isinstance(x, Tracer) for x in leaves))
        if tracing or not entry.cacheable:
            outs = jit_call_p.bind(*entry.consts, *leaves, jaxpr=entry.jaxpr, name=entry.name,
                                   donated=entry.donated)
            return tree_unflatten(entry.out_tree, outs)
        if entry.exe is None:
            _compile_entry(entry)
        bufs = entry.const_bufs + [to_buffer(x, a, device) for x, a in zip(leaves, avals)]
        outs = backend.execute(entry.exe, bufs, entry.handlers)
        if any(entry.donated):
            for x, d in zip(leaves, entry.donated[len(entry.consts):]):
                if d and isinstance(x, Array):
                    x.delete(f"donated to jit-compiled function '{self._name}'")
        if device is None and self._simple and not kwargs and all(
                type(a) is Array for a in args):
            self._fast_cache[avals + (dtypes.x64_enabled(),)] = entry
        return tree_unflatten(entry.out_tree,
                              [Array(b, v, device) for b, v in zip(outs, entry.out_avals)])

    def _describe_leaf(self, i: int, args, kwargs) -> str:
        """Name the parameter (and the path inside it) that holds dynamic leaf ``i``."""
        names = self._leaf_names(args, kwargs)
        if i < len(names):
            return f"argument '{names[i]}' of jit-compiled function '{self._name}'"
        return f"an argument of jit-compiled function '{self._name}'"

    def _leaf_names(self, args, kwargs) -> list[str]:
        """``param[path]`` of every dynamic leaf, in flattening order."""
        named = [(self._arg_name(j), a)
                 for j, a in enumerate(args) if j not in self._static_argnums]
        named += [(k, kwargs[k]) for k in sorted(kwargs) if k not in self._static_argnames]
        return [name + p for name, a in named for p in _leaf_paths(a)]

    def _arg_name(self, j: int) -> str:
        return self._positional[j] if j < len(self._positional) else f"args[{j}]"

    def _split(self, args, kwargs):
        statics = []
        dyn_args = []
        donate = []
        for i, a in enumerate(args):
            if i in self._static_argnums:
                statics.append((i, _check_hashable(a, f"static argument {i}", self._name)))
            else:
                dyn_args.append(a)
                donate.append(i in self._donate_argnums)
        dyn_kwargs = {}
        for k in sorted(kwargs):
            v = kwargs[k]
            if k in self._static_argnames:
                statics.append((k, _check_hashable(v, f"static argument '{k}'", self._name)))
            else:
                dyn_kwargs[k] = v
        return tuple(statics), tuple(dyn_args), dyn_kwargs, donate

    def _specialize(self, key, in_tree, avals, statics, args, kwargs, dyn_args, donate_args,
                    device=None):
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                return entry
            static_pos = {k: v for k, v in statics if isinstance(k, int)}
            static_kw = {k: v for k, v in statics if isinstance(k, str)}
            out_tree_box = []

            def flat_fun(*leaf_tracers):
                d_args, d_kwargs = tree_unflatten(in_tree, leaf_tracers)
                it = iter(d_args)
                full_args = [static_pos[i] if i in static_pos else next(it)
                             for i in range(len(args))]
                out = self._fun(*full_args, **d_kwargs, **static_kw)
                out_leaves, out_tree = tree_flatten(out)
                for o in out_leaves:
                    if not (isinstance(o, (Tracer, Array, np.ndarray, np.generic))
                            or dtypes.is_python_scalar(o)):
                        raise TypeError(
                            f"jit-compiled function '{self._name}' returned a "
                            f"{type(o).__name__}, which is not an array type")
                out_tree_box.append(out_tree)
                return out_leaves

            closed = trace_to_jaxpr(flat_fun, avals, self._name)
            jaxpr, consts = hoist_consts(closed)
            leaf_donated = []
            for a, d in zip(dyn_args, donate_args):
                leaf_donated += [d] * len(tree_flatten(a)[0])
            leaf_donated += [False] * (len(avals) - len(leaf_donated))
            e = _Entry()
            e.name = self._name
            e.jaxpr, e.out_tree, e.consts = jaxpr, out_tree_box[0], consts
            e.out_avals = jaxpr.out_avals
            e.single_out = e.out_tree.node_type is None  # the function returns one array
            e.donated = tuple([False] * len(consts) + leaf_donated)
            e.text = e.exe = None  # lowered and compiled on first eager use (not when nested)
            e.device = device
            e.cacheable = not any(isinstance(c, Tracer) for c in consts)
            e.info = compile_diagnostics.CompileInfo(
                self._fid, key, self._leaf_names(args, kwargs),
                {(self._arg_name(k) if isinstance(k, int) else k): v for k, v in statics})
            if e.cacheable:  # else it closes over an outer trace: valid for this call only
                self._cache[key] = e
            return e

    # ---- ahead-of-time API ----
    def lower(self, *args, **kwargs) -> Lowered:
        statics, dyn_args, dyn_kwargs, donate = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(_leaf_aval(x, lambda i=i: self._describe_leaf(i, args, kwargs))
                      for i, x in enumerate(leaves))
        device = _committed_device(leaves)
        key = (in_tree, avals, statics, dtypes.x64_enabled(), device,
               tuple(core._state.axis_env))  # collectives' shapes depend on named axis sizes
        entry = self._cache.get(key) or self._specialize(key, in_tree, avals, statics, args,
                                                         kwargs, dyn_args, donate, device)
        return Lowered(entry, self)

    def eval_shape(self, *args, **kwargs):
        entry = self.lower(*args, **kwargs)._entry
        return tree_unflatten(entry.out_tree, entry.out_avals)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast_cache.clear()

    def _cache_size(self) -> int:
        return len({id(e) for e in self._cache.values()})


_instances: "weakref.WeakSet[JitFunction]" = weakref.WeakSet()  # for clear_caches


def clear_caches() -> None:
    """Clear every compilation cache in memory: each jitted function's specializations, the
    eager per-primitive programs, staged control-flow bodies and compiled executables. The
    next calls trace and compile again (the on-disk compilation cache is kept)."""
    from xtrace._src import dispatch
    from xtrace._src.prims import control_flow
    for f in list(_instances):
        f.clear_cache()
    _compiled_for.cache_clear()
    dispatch.clear_cache()
    control_flow._stage_cache.clear()
    backend.clear_exe_cache()


@contextlib.contextmanager
def default_device(device: Any):
    """Inside the block, arrays created and computations run without a committed input
    (one placed with ``device_put(x, device)``) go to ``device``: an xtrace ``Device``, a
    platform name (its first device), or None for the backend's default."""
    old = _config.read("default_device")
    _config.update("default_device", device)
    try:
        yield
    finally:
        _config.update("default_device", old)


@contextlib.contextmanager
def ensure_compile_time_eval():
    """Inside the block, operations whose inputs are all concrete (not traced) run eagerly
    even while tracing under ``jit``, so their values are known at trace time (usable in
    Python control flow); operations on traced values are staged as usual."""
    st = core._state
    prev, prev_level = st.dynamic, st.dynamic_level
    st.dynamic, st.dynamic_level = st.stack[0], 0
    try:
        yield
    finally:
        st.dynamic, st.dynamic_level = prev, prev_level


def _committed_device(leaves):
    """The device of the first argument placed on a non-default device, else the device
    ``xtrace.default_device`` chose, else None (the backend's default)."""
    for x in leaves:
        if type(x) is Array and x._device is not None:
            return x._device
    return backend.chosen_device()


def _tuple_of_ints(x, what: str) -> tuple[int, ...]:
    if x is None:
        return ()
    if isinstance(x, int):
        return (x,)
    try:
        return tuple(int(i) for i in x)
    except TypeError:
        raise TypeError(f"{what} must be an int or a sequence of ints, got {x!r}") from None


def _check_hashable(v: Any, what: str, fname: str) -> Any:
    try:
        hash(v)
    except TypeError:
        raise ValueError(
            f"Non-hashable static arguments are not supported: {what} of jit-compiled function "
            f"'{fname}' is a {type(v).__name__} ({v!r:.80}). Static arguments must be hashable "
            "(use a tuple instead of a list, or pass the value as an array).") from None
    return v


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
        donate_argnames: str | Sequence[str] = (), keep_unused: bool = False,
        inline: bool = False):
    """Compile ``fun`` into one XLA program, specialized on argument shapes and dtypes.

    Usable as ``jit(f, ...)``, ``@jit`` or ``@jit(static_argnums=...)``. ``donate_argnames``
    donates arguments by name. ``keep_unused`` and ``inline`` are accepted for JAX
    compatibility: unused arguments are always kept, and a jitted function called under
    another trace is always inlined when lowered."""
    del keep_unused, inline
    if fun is None:
        return lambda f: JitFunction(f, static_argnums, static_argnames, donate_argnums,
                                     donate_argnames)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums, donate_argnames)


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = ()):
    """``make_jaxpr(f)(*args)`` returns the ClosedJaxpr xtrace traces ``f`` into."""
    static = set(_tuple_of_ints(static_argnums, "static_argnums"))

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        leaves, in_tree = tree_flatten((dyn, kwargs))
        avals = [_leaf_aval(x, f"argument leaf {i}") for i, x in enumerate(leaves)]

        def flat_fun(*tracers):
            d_args, d_kwargs = tree_unflatten(in_tree, tracers)
            it = iter(d_args)
            full = [a if i in static else next(it) for i, a in enumerate(args)]
            return tree_flatten(fun(*full, **d_kwargs))[0]

        return trace_to_jaxpr(flat_fun, avals, getattr(fun, "__name__", None))

    return wrapped


def eval_closed_jaxpr(closed: ClosedJaxpr, *args):
    return eval_jaxpr(closed.jaxpr, closed.consts, args)


def device_put(x: Any, device=None) -> Any:
    from xtrace._src.dispatch import device_put as _dp
    from xtrace._src.tree_util import tree_map
    return tree_map(lambda v: _dp(v, device), x)


def block_until_ready(x: Any) -> Any:
    from xtrace._src.tree_util import tree_leaves
    for leaf in tree_leaves(x):
        if isinstance(leaf, Array):
            leaf.block_until_ready()
    return x


_ = from_numpy
