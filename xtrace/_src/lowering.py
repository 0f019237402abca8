"""Our StableHLO emitter: turns a Jaxpr into StableHLO module text (generic MLIR syntax).

Each primitive's ``lower(ctx, *operands, **params)`` rule receives SSA value names and returns
the names of its results; ``LowerCtx`` gives it the avals and the ``op`` helper that writes one
operation. Nothing here knows about particular primitives.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from xtrace._src import core, dtypes
from xtrace._src.core import ClosedJaxpr, Jaxpr, Literal, ShapedArray


def tensor_type(aval: ShapedArray) -> str:
    dims = "".join(f"{d}x" for d in aval.shape)
    return f"tensor<{dims}{dtypes.MLIR_TYPES[aval.dtype]}>"


def sanitize_name(name: str) -> str:
    """A symbol name that cannot change the program text whatever the user called things."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name))[:64]
    return s if s and not s[0].isdigit() else "_" + s


def format_scalar(value: Any, dtype: np.dtype) -> str:
    """A StableHLO element literal; floats are written as exact bit patterns."""
    if dtype == dtypes.bool_:
        return "true" if bool(value) else "false"
    if dtypes.is_int(dtype):
        return str(int(value))
    if dtypes.is_complex(dtype):
        part = dtypes.float32 if dtype == dtypes.complex64 else dtypes.float64
        v = complex(value)
        return f"({format_scalar(v.real, part)}, {format_scalar(v.imag, part)})"
    bits = np.asarray(value, dtype=dtype).reshape(()).view(f"u{dtype.itemsize}").item()
    return f"0x{bits:0{dtype.itemsize * 2}X}"


def dense_attr(value: Any, aval: ShapedArray) -> str:
    arr = np.asarray(value)
    if arr.size == 1 or aval.size == 0:
        inner = format_scalar(arr.reshape(-1)[0] if arr.size else 0, aval.dtype)
        return f"dense<{inner}> : {tensor_type(aval)}"
    arr = np.ascontiguousarray(np.broadcast_to(np.asarray(arr, aval.dtype), aval.shape))
    if aval.dtype == dtypes.bool_:
        arr = arr.astype(np.uint8)
    return f'dense<"0x{arr.tobytes().hex().upper()}"> : {tensor_type(aval)}'


def i64_array(xs: Sequence[int]) -> str:
    return f"array<i64{': ' if len(xs) else ''}{', '.join(str(int(x)) for x in xs)}>"


def bool_array(xs: Sequence[bool]) -> str:
    return f"array<i1{': ' if len(xs) else ''}{', '.join('true' if x else 'false' for x in xs)}>"


class FunctionEmitter:
    """Writes the body of one function (and its nested regions) line by line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.counter = 0
        self.indent = 4
        self.types: dict[str, ShapedArray] = {}  # the type of every SSA value written so far
        # Per region (each region has its own list of lines; rules swap ``lines`` to write
        # one): the token of its last ordered side effect. The list is kept with its token so
        # that its id is not reused while this emitter lives.
        self._tokens: dict[int, tuple[list[str], str]] = {}

    @property
    def token(self) -> str | None:
        entry = self._tokens.get(id(self.lines))
        return entry[1] if entry is not None else None

    @token.setter
    def token(self, name: str) -> None:
        self._tokens[id(self.lines)] = (self.lines, name)

    def fresh(self, aval: ShapedArray | None = None) -> str:
        self.counter += 1
        name = f"%{self.counter - 1}"
        if aval is not None:
            self.types[name] = aval
        return name

    def op(self, name: str, operands: Sequence[str], operand_avals: Sequence[ShapedArray] | None,
           result_avals: Sequence[ShapedArray], attrs: str | None = None,
           regions: Sequence[str] = ()) -> list[str]:
        if operand_avals is None:
            operand_avals = [self.types[o] for o in operands]
        res = self.fresh()
        n = len(result_avals)
        lhs = "" if n == 0 else (f"{res} = " if n == 1 else f"{res}:{n} = ")
        ops = ", ".join(operands)
        reg = f" ({', '.join(regions)})" if regions else ""
        att = f" {{{attrs}}}" if attrs else ""
        ins = ", ".join(tensor_type(a) for a in operand_avals)
        outs = ", ".join(tensor_type(a) for a in result_avals)
        self.lines.append(" " * self.indent +
                          f'{lhs}"{name}"({ops}){reg}{att} : ({ins}) -> ({outs})')
        names = [res] if n == 1 else [f"{res}#{i}" for i in range(n)]
        for nm, a in zip(names, result_avals):
            self.types[nm] = a
        return names


class LowerCtx:
    """What a lowering rule sees: input/output avals and helpers to emit operations."""

    def __init__(self, emitter: FunctionEmitter, avals_in, avals_out, module: "ModuleBuilder"):
        self.emitter, self.avals_in, self.avals_out, self.module = (
            emitter, list(avals_in), list(avals_out), module)

    def op(self, name: str, operands: Sequence[str], result_avals=None, attrs: str | None = None,
           operand_avals=None, regions: Sequence[str] = ()) -> list[str]:
        return self.emitter.op(name, operands, operand_avals,
                               self.avals_out if result_avals is None else result_avals,
                               attrs, regions)

    def op1(self, name: str, operands: Sequence[str], result_aval: ShapedArray | None = None,
            attrs: str | None = None, operand_avals=None) -> str:
        """Emit an op with exactly one result; returns its name."""
        out = self.avals_out[0] if result_aval is None else result_aval
        return self.op(name, operands, [out], attrs, operand_avals)[0]

    def constant(self, value: Any, aval: ShapedArray) -> str:
        return self.emitter.op("stablehlo.constant", [], [], [aval],
                               f"value = {dense_attr(value, aval)}")[0]

    def region(self, jaxpr: ClosedJaxpr | Jaxpr, arg_avals: Sequence[ShapedArray] | None = None,
               captured: Sequence[str] = (), ret_op: str = "stablehlo.return") -> str:
        """Lower ``jaxpr`` as a region whose block arguments are the jaxpr's inputs.

        ``captured`` are names from the enclosing scope passed for the jaxpr's first inputs
        (used by if/case, whose regions have no block arguments)."""
        if isinstance(jaxpr, ClosedJaxpr):
            consts, jaxpr = jaxpr.consts, jaxpr.jaxpr
        else:
            consts = []
        em = self.emitter
        saved = em.lines, em.indent
        em.lines, em.indent = [], em.indent + 4
        invars = jaxpr.invars[len(captured):]
        block_args = [em.fresh(v.aval) for v in invars]
        const_names = [self._const_value(c, v.aval) for c, v in zip(consts, jaxpr.constvars)]
        outs = lower_jaxpr_body(em, jaxpr, const_names, list(captured) + block_args, self.module)
        body = em.lines
        out_avals = [v.aval for v in jaxpr.outvars]
        body.append(" " * em.indent + f'"{ret_op}"({", ".join(outs)}) : '
                    f'({", ".join(tensor_type(a) for a in out_avals)}) -> ()')
        em.lines, em.indent = saved
        head = ""
        if block_args:
            head = (" " * (em.indent + 2) + "^bb0(" + ", ".join(
                f"{n}: {tensor_type(v.aval)}" for n, v in zip(block_args, invars)) + "):\n")
        return "{\n" + head + "\n".join(body) + "\n" + " " * em.indent + "}"

    def _const_value(self, value: Any, aval: ShapedArray) -> str:
        return self.constant(np.asarray(value), aval)


class ModuleBuilder:
    """Collects the functions of one module, and knows its replicated axes (pmap).

    ``axis_env`` lists the pmapped axes as ``(name, size)``, outermost first; replica ``r``
    has index ``(r // stride) % size`` along an axis, ``stride`` being the product of the sizes
    of the axes inside it. Collectives lower with ``replica_groups`` and ``axis_index``."""

    def __init__(self, axis_env: Sequence[tuple[Any, int]] = ()) -> None:
        self.functions: list[str] = []
        self.axis_env = list(axis_env)
        self.channel_counter = 0
        self.host_callbacks: list[Any] = []  # what backend.compile hands the executable

    def add_host_callback(self, callback: Any) -> int:
        """Register a host callback of this module; returns its index."""
        self.host_callbacks.append(callback)
        return len(self.host_callbacks) - 1

    @property
    def num_replicas(self) -> int:
        return int(np.prod([s for _, s in self.axis_env], dtype=np.int64))

    def _axis(self, name: Any) -> tuple[int, int]:
        """(size, stride) of the pmapped axis ``name``."""
        stride = 1
        for n, size in reversed(self.axis_env):
            if n == name:
                return size, stride
            stride *= size
        raise NameError(f"unbound axis name: {name!r} (no enclosing pmap or vmap with this "
                        "axis_name)")

    def replica_groups(self, axes: Sequence[Any]) -> list[list[int]]:
        """Groups of replica ids that differ only in their indices along ``axes`` (each group
        ordered by the linear index over ``axes``): the replica_groups of a collective."""
        sizes_strides = [self._axis(a) for a in axes]
        groups: dict[tuple, list[tuple[int, int]]] = {}
        for r in range(self.num_replicas):
            key = tuple((r // st) % sz if (n not in axes) else -1
                        for (n, sz), st in zip(self.axis_env, self._strides()))
            lin = 0
            for sz, st in sizes_strides:
                lin = lin * sz + (r // st) % sz
            groups.setdefault(key, []).append((lin, r))
        return [[r for _, r in sorted(g)] for g in groups.values()]

    def _strides(self) -> list[int]:
        out, stride = [], 1
        for _, size in reversed(self.axis_env):
            out.append(stride)
            stride *= size
        return out[::-1]

    def axis_index(self, name: Any) -> tuple[int, int]:
        """(size, stride): a replica's index along ``name`` is ``(replica_id // stride) %
        size``."""
        return self._axis(name)

    def next_channel(self) -> int:
        self.channel_counter += 1
        return self.channel_counter


TOKEN = "!stablehlo.token"


def current_token(em: FunctionEmitter) -> str:
    """The token of the last ordered side effect in this region (a fresh one if none yet)."""
    if em.token is None:
        em.token = em.fresh()
        em.lines.append(" " * em.indent + f'{em.token} = "stablehlo.after_all"() : () -> {TOKEN}')
    return em.token


# (after, before): make a control-flow op's operands wait for the earlier ordered side
# effects, and the later ones wait for its results. Set by prims/callbacks.py, which owns the
# ordered side effects.
ordering_hooks: list[Any] = [None, None]


def has_ordered_effect(params: dict) -> bool:
    """Whether a Jaxpr among ``params`` (a loop body, a branch, an inlined call) holds an
    ordered side effect (``io_callback``/``debug`` callbacks with ``ordered=True``)."""
    for v in params.values():
        for sub in (v if isinstance(v, (tuple, list)) else (v,)):
            j = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
            if isinstance(j, Jaxpr) and any(
                    (e.primitive.effectful and e.params.get("ordered"))
                    or has_ordered_effect(e.params) for e in j.eqns):
                return True
    return False


def lower_jaxpr_body(em: FunctionEmitter, jaxpr: Jaxpr, const_names: Sequence[str],
                     arg_names: Sequence[str], module: ModuleBuilder) -> list[str]:
    env: dict[Any, str] = {}
    for v, n in zip(jaxpr.constvars, const_names):
        env[v] = n
    for v, n in zip(jaxpr.invars, arg_names):
        env[v] = n

    def read(x) -> str:
        if isinstance(x, Literal):
            return em.op("stablehlo.constant", [], [], [x.aval],
                         f"value = {dense_attr(x.val, x.aval)}")[0]
        return env[x]

    for eqn in jaxpr.eqns:
        prim = eqn.primitive
        if prim.lower is None:
            raise NotImplementedError(f"primitive {prim.name} has no StableHLO lowering")
        avals_in, avals_out = [x.aval for x in eqn.inputs], [v.aval for v in eqn.outputs]
        ctx = LowerCtx(em, avals_in, avals_out, module)
        operands = [read(x) for x in eqn.inputs]
        ordered = has_ordered_effect(eqn.params)
        if ordered:  # a loop/branch with ordered callbacks runs between the earlier and later
            operands = ordering_hooks[0](ctx, operands)
        outs = prim.lower(ctx, *operands, **eqn.params)
        if isinstance(outs, str):
            outs = [outs]
        if ordered:
            ordering_hooks[1](ctx, list(outs))
        for v, n in zip(eqn.outputs, outs):
            env[v] = n
    return [read(x) for x in jaxpr.outvars]


def lower_module(jaxpr: ClosedJaxpr, name: str = "main", *, consts_as_args: bool = True,
                 donated: Sequence[bool] = (), axis_env: Sequence[tuple[Any, int]] = ()) -> str:
    """The StableHLO module text for ``jaxpr``; its constants become leading arguments.
    ``axis_env`` names the pmapped axes (their sizes multiply to the number of replicas)."""
    j = jaxpr.jaxpr
    em = FunctionEmitter()
    module = ModuleBuilder(axis_env)
    num_replicas = module.num_replicas
    n_consts = len(j.constvars)
    arg_avals = [v.aval for v in j.constvars] + [v.aval for v in j.invars]
    arg_names = [f"%arg{i}" for i in range(len(arg_avals))]
    em.types.update(zip(arg_names, arg_avals))
    outs = lower_jaxpr_body(em, j, arg_names[:n_consts], arg_names[n_consts:], module)
    out_types = [tensor_type(v.aval) for v in j.outvars]
    donated = [False] * n_consts + list(donated) + [False] * (len(j.invars) - len(donated))
    params = ", ".join(
        f"{n}: {tensor_type(a)}" + (" {jax.buffer_donor = true}" if d else "")
        for n, a, d in zip(arg_names, arg_avals, donated))
    ret = f"    return {', '.join(outs)} : {', '.join(out_types)}" if outs else "    return"
    body = "\n".join(em.lines + [ret])
    attrs = (f"mhlo.num_replicas = {num_replicas} : i32, mhlo.num_partitions = 1 : i32")
    text = (f"module @{sanitize_name(name)} attributes {{{attrs}}} {{\n"
            + "".join(f + "\n" for f in module.functions)
            + f"  func.func public @main({params}) -> ({', '.join(out_types)}) {{\n{body}\n  }}\n}}\n")
    return ModuleText(text, module.host_callbacks) if module.host_callbacks else text


class ModuleText(str):
    """Module text whose program calls back into Python: ``host_callbacks`` are the objects
    (``backend.host_callback_call``) the compiled executable must own. Two such modules can
    have the same text and different callbacks, so backend.compile never caches them."""

    host_callbacks: tuple

    def __new__(cls, text: str, host_callbacks: Sequence[Any]):
        self = super().__new__(cls, text)
        self.host_callbacks = tuple(host_callbacks)
        return self


def lower_primitive(prim: core.Primitive, avals_in: Sequence[ShapedArray],
                    params: dict) -> tuple[str, list[ShapedArray]]:
    """Module text running one primitive on arguments of ``avals_in`` (used by eager dispatch)."""
    out = prim.abstract_eval(*avals_in, **params)
    avals_out = list(out) if prim.multiple_results else [out]
    invars = [core.Var(a) for a in avals_in]
    outvars = [core.Var(a) for a in avals_out]
    eqn = core.JaxprEqn(prim, invars, outvars, params)
    jaxpr = ClosedJaxpr(Jaxpr([], invars, [eqn], outvars), [])
    return lower_module(jaxpr, prim.name), avals_out
