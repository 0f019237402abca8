"""Control flow whose bodies are traced functions: ``cond``/``switch``, ``while_loop``/
``fori_loop`` and ``scan``/``map``, with JAX's API and semantics.

A body is staged with ``staging.trace_to_jaxpr`` on the avals of its inputs. Values it closes
over (outer tracers, arrays) are hoisted into explicit leading operands, so the primitives'
params hold const-free ``ClosedJaxpr`` s. Staged bodies are cached per (function, input types):
eager dispatch caches compiled programs on params and jaxprs hash by identity, so calling
``cond``/``scan``/... again with the same function neither retraces nor recompiles (and, as in
JAX, a body's Python side effects run once per trace).

Primitives (operands -> results):

* ``cond[branches]``: ``index:i32[], *consts, *operands -> outs``; ``stablehlo.case``.
* ``while[cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts]``:
  ``*cond_consts, *body_consts, *carry -> carry``; ``stablehlo.while`` (consts ride along as
  loop-invariant carries, so the regions capture nothing).
* ``scan[jaxpr, num_consts, num_carry, length, reverse, unroll]``:
  ``*consts, *carry, *xs -> *carry, *ys``; a ``stablehlo.while`` over an i32 counter that
  dynamic-slices the xs and dynamic-update-slices each y into a preallocated buffer.
"""
from __future__ import annotations

import functools
import operator
import weakref
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.array import Array
from xtrace._src.core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer, Var
from xtrace._src.jit import hoist_consts
from xtrace._src.lowering import LowerCtx, i64_array, lower_jaxpr_body, tensor_type
from xtrace._src.prims.common import define, kind
from xtrace._src.prims.elementwise import clamp, convert_element_type, ne
from xtrace._src.staging import canonical_aval, trace_to_jaxpr
from xtrace._src.tree_util import PyTreeDef, tree_flatten, tree_unflatten

_I32 = ShapedArray((), dtypes.int32)

# ---------------------------------------------------------------------------------------------
# Staging bodies (cached per function and input types) and describing their types in errors


class _Staged(NamedTuple):
    jaxpr: ClosedJaxpr      # no consts: its inputs are [*consts, *args]
    consts: list            # values for the hoisted constants
    out_tree: PyTreeDef


def _call(fun: Callable, *args: Any) -> Any:
    return fun(*args)


_stage_cache: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()


def _stage(fun: Callable, args_tree: PyTreeDef, avals: Sequence[ShapedArray], what: str,
           adapt: Callable = _call) -> _Staged:
    """Stage ``adapt(fun, *args)`` for args of tree ``args_tree`` and leaf ``avals``.

    ``adapt`` (a module-level function, so its identity is stable) lets wrappers such as
    fori_loop's body share the cache entry of the user's function."""
    key = (adapt, args_tree, tuple(avals), dtypes.x64_enabled())
    try:
        entries = _stage_cache.setdefault(fun, {})
    except TypeError:  # not weak-referenceable or not hashable: no caching
        entries = {}
    hit = entries.get(key)
    if hit is not None:
        return hit
    out_trees = []

    def flat(*leaves):
        out_leaves, out_tree = tree_flatten(adapt(fun, *tree_unflatten(args_tree, leaves)))
        for o in out_leaves:
            if not isinstance(o, (Tracer, Array, np.ndarray, np.generic)) \
                    and not dtypes.is_python_scalar(o):
                raise TypeError(f"{what} returned a {type(o).__name__} ({o!r:.60}), which is "
                                "not an array type")
        out_trees.append(out_tree)
        return out_leaves

    jaxpr, consts = hoist_consts(trace_to_jaxpr(flat, avals, getattr(fun, "__name__", what)))
    staged = _Staged(jaxpr, list(consts), out_trees[0])
    if not any(isinstance(c, Tracer) for c in consts):  # tracer consts belong to one trace
        entries[key] = staged
    return staged


def _aval(x: Any) -> ShapedArray:
    return x.aval if isinstance(x, (Tracer, Array)) else canonical_aval(x)


def _typematch(a: ShapedArray, b: ShapedArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _all_match(xs: Sequence[ShapedArray], ys: Sequence[ShapedArray]) -> bool:
    """Equal shapes and dtypes, ignoring weak types (JAX's ``typematch``)."""
    return len(xs) == len(ys) and all(_typematch(a, b) for a, b in zip(xs, ys))


class _Ty(str):
    __repr__ = str.__str__  # shows ``f32[3]`` unquoted inside containers


def _show(tree: PyTreeDef, avals: Sequence[ShapedArray]) -> str:
    """``avals`` laid out in the pytree ``tree``, e.g. ``(f32[3], {'n': i32[]})``."""
    tys = [_Ty(a.str_short()) for a in avals]
    try:
        return repr(tree_unflatten(tree, tys))
    except Exception:  # a custom node that rejects these leaves
        return repr(tys)


def _paths(tree: PyTreeDef, prefix: str = "") -> list[str]:
    """One ``[k][i]`` path string per leaf of ``tree``."""
    if tree.node_type is None:
        return [prefix]
    keys = tree.aux if tree.node_type is dict else range(len(tree.children))
    return [p for k, c in zip(keys, tree.children) for p in _paths(c, f"{prefix}[{k!r}]")]


def _mismatch(a: ShapedArray, b: ShapedArray) -> str:
    what = [w for w, bad in (("shapes", a.shape != b.shape), ("dtypes", a.dtype != b.dtype))
            if bad]
    return f"the {' and '.join(what)} do not match"


def _describe(fun: Callable) -> str:
    code = getattr(fun, "__code__", None)
    name = getattr(fun, "__name__", type(fun).__name__)
    return f"{name} at {code.co_filename}:{code.co_firstlineno}" if code else name


def _promote_weak(vals: list, avals: list, out_avals: list) -> tuple[list, bool]:
    """JAX's rule for weakly typed initial carries (e.g. Python scalars): when the body's output
    type differs, convert the initial value to the promoted (strong) type and retrace."""
    changed = False
    vals = list(vals)
    for i, (v, a, o) in enumerate(zip(vals, avals, out_avals)):
        if a.weak_type and not _typematch(a, o):
            dt = dtypes.promote_types_weak((a.dtype, True), (o.dtype, o.weak_type))[0]
            vals[i] = (convert_element_type(v, dt) if isinstance(v, (Tracer, Array))
                       else np.asarray(v, dt))
            changed = True
    return vals, changed


def _check_carry(what: str, fun: Callable, in_tree: PyTreeDef, in_avals, out_tree: PyTreeDef,
                 out_avals) -> None:
    if in_tree != out_tree:
        raise TypeError(
            f"{what} carry output and carry input must have the same pytree structure, but the "
            f"input carry is {_show(in_tree, in_avals)} and the output carry is "
            f"{_show(out_tree, out_avals)} ({_describe(fun)}).")
    if not _all_match(in_avals, out_avals):
        diffs = [f"the input carry{p} has type {a.str_short()} but the output carry{p} has "
                 f"type {b.str_short()}, so {_mismatch(a, b)}"
                 for p, a, b in zip(_paths(in_tree), in_avals, out_avals) if not _typematch(a, b)]
        raise TypeError(
            f"{what} output and input must have identical types, but they differ: "
            + "; ".join(diffs) + f". The input carry is {_show(in_tree, in_avals)}, the output "
            f"carry is {_show(out_tree, out_avals)} ({_describe(fun)}). Revise the function so "
            "that its carry output types match its carry input types.")


def _split(xs: Sequence, *sizes: int) -> list[list]:
    out, i = [], 0
    for n in sizes:
        out.append(list(xs[i:i + n]))
        i += n
    out.append(list(xs[i:]))
    return out


def _inline(ctx: LowerCtx, closed: ClosedJaxpr, args: Sequence[str]) -> list[str]:
    """Lower ``closed`` at the current insertion point on SSA values ``args``."""
    consts = [ctx.constant(np.asarray(c), v.aval)
              for c, v in zip(closed.consts, closed.jaxpr.constvars)]
    return lower_jaxpr_body(ctx.emitter, closed.jaxpr, consts, list(args), ctx.module)


def _region(ctx: LowerCtx, arg_avals: Sequence[ShapedArray],
            build: Callable[[list[str]], list[str]]) -> str:
    """A region whose block arguments have ``arg_avals``; ``build(args)`` emits its body and
    returns the values it yields."""
    em = ctx.emitter
    saved = em.lines, em.indent
    em.lines, em.indent = [], em.indent + 4
    args = [em.fresh(a) for a in arg_avals]
    outs = build(args)
    types = ", ".join(tensor_type(em.types[o]) for o in outs)
    em.lines.append(" " * em.indent + f'"stablehlo.return"({", ".join(outs)}) : ({types}) -> ()')
    body = em.lines
    em.lines, em.indent = saved
    head = ""
    if args:
        head = (" " * (em.indent + 2) + "^bb0(" + ", ".join(
            f"{n}: {tensor_type(a)}" for n, a in zip(args, arg_avals)) + "):\n")
    return "{\n" + head + "\n".join(body) + "\n" + " " * em.indent + "}"


def _while_op(ctx: LowerCtx, init: Sequence[str], avals: Sequence[ShapedArray],
              cond: Callable[[list[str]], str], body: Callable[[list[str]], list[str]]
              ) -> list[str]:
    return ctx.op("stablehlo.while", list(init), list(avals), operand_avals=list(avals),
                  regions=[_region(ctx, avals, lambda a: [cond(a)]), _region(ctx, avals, body)])


# ---------------------------------------------------------------------------------------------
# cond / switch


def _cond_abstract(index, *args, branches):
    if index.shape != () or index.dtype != dtypes.int32:
        raise TypeError(f"cond: the branch index must be an int32 scalar, got "
                        f"{index.str_short()}")
    for i, b in enumerate(branches):
        if not _all_match(b.in_avals, args):
            raise TypeError(f"cond: branch {i} takes {[a.str_short() for a in b.in_avals]} but "
                            f"the operands are {[a.str_short() for a in args]}")
        if not _all_match(b.out_avals, branches[0].out_avals):
            raise TypeError(f"cond: branch {i} returns {[a.str_short() for a in b.out_avals]} "
                            "but branch 0 returns "
                            f"{[a.str_short() for a in branches[0].out_avals]}")
    # an output is weakly typed only when it is in every branch (JAX's join)
    return [a.update(weak_type=all(b.out_avals[i].weak_type for b in branches))
            for i, a in enumerate(branches[0].out_avals)]


def _cond_lower(ctx, index, *args, branches):
    return ctx.op("stablehlo.case", [index], operand_avals=ctx.avals_in[:1],
                  regions=[ctx.region(b, captured=args) for b in branches])


cond_p = define("cond", _cond_abstract, _cond_lower, multiple_results=True)


_NO_OPERAND = object()


def _operands(operands: tuple, operand: Any) -> tuple:
    if operand is _NO_OPERAND:
        return operands
    if operands:
        raise TypeError("if 'operand' keyword is passed then no positional operands can be "
                        f"passed, got operand={operand!r} and positional operands {operands!r}")
    return (operand,)


@functools.lru_cache(maxsize=1024)
def _padded_branches(jaxprs: tuple, layouts: tuple, const_avals: tuple) -> tuple:
    """Give every branch the same inputs ``[*all consts, *operands]``: each branch ignores the
    constants of the others. Cached, so equal inputs give identical (hash-equal) params."""
    out = []
    for j, lay in zip(jaxprs, layouts):
        if lay == tuple(range(len(const_avals))):
            out.append(j)
            continue
        own = dict(zip(lay, j.jaxpr.invars[:len(lay)]))
        invars = [own.get(k) or Var(a) for k, a in enumerate(const_avals)]
        invars += j.jaxpr.invars[len(lay):]
        out.append(ClosedJaxpr(Jaxpr([], invars, j.jaxpr.eqns, j.jaxpr.outvars), []))
    return tuple(out)


def _bind_cond(index: Any, funs: Sequence[Callable], names: Sequence[str], operands: tuple,
               api: str, check_order: Sequence[int]) -> Any:
    leaves, args_tree = tree_flatten(tuple(operands))
    avals = [_aval(x) for x in leaves]
    staged = [_stage(f, args_tree, avals, n) for f, n in zip(funs, names)]
    i0 = check_order[0]
    s0, n0 = staged[i0], names[i0]
    for i in check_order[1:]:
        s, n = staged[i], names[i]
        a0, a = s0.jaxpr.out_avals, s.jaxpr.out_avals
        if s.out_tree != s0.out_tree:
            raise TypeError(
                f"{api} branch outputs must have the same pytree structure, but {n0} returns "
                f"{_show(s0.out_tree, a0)} and {n} returns {_show(s.out_tree, a)} "
                f"({n0} is {_describe(funs[i0])}; {n} is {_describe(funs[i])}).")
        if not _all_match(a0, a):
            diffs = [f"the output of {n0}{p} has type {x.str_short()} but the corresponding "
                     f"output of {n} has type {y.str_short()}, so {_mismatch(x, y)}"
                     for p, x, y in zip(_paths(s0.out_tree), a0, a) if not _typematch(x, y)]
            raise TypeError(
                f"{api} branches must have equal output types, but they differ: "
                + "; ".join(diffs) + f". {n0} returns {_show(s0.out_tree, a0)} and {n} returns "
                f"{_show(s.out_tree, a)} ({n0} is {_describe(funs[i0])}; {n} is "
                f"{_describe(funs[i])}).")
    consts, pos, layouts = [], {}, []
    for s in staged:  # one operand per distinct constant, shared by the branches using it
        for c in s.consts:
            if id(c) not in pos:
                pos[id(c)] = len(consts)
                consts.append(c)
        layouts.append(tuple(pos[id(c)] for c in s.consts))
    const_avals = tuple(_aval(c) for c in consts)
    branches = _padded_branches(tuple(s.jaxpr for s in staged), tuple(layouts), const_avals)
    outs = cond_p.bind(index, *consts, *leaves, branches=branches)
    return tree_unflatten(staged[0].out_tree, outs)


def _is_concrete(x: Any) -> bool:
    """A Python or NumPy value (known on the host without a device sync)."""
    return not isinstance(x, (Tracer, Array))


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any,
         operand: Any = _NO_OPERAND) -> Any:
    """``true_fun(*operands) if pred else false_fun(*operands)``, with a traced ``pred``.

    Both branches are traced; their outputs must have the same pytree structure and types."""
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    operands = _operands(operands, operand)
    if pred is None:
        raise TypeError("cond predicate is None")
    a = _aval(pred)
    if a.shape != ():
        raise TypeError(f"Pred must be a scalar, got {pred!r:.60} of shape {a.shape}.")
    if kind(a.dtype) == "complex":
        raise TypeError(f"Pred type must be either boolean or number, got {a.dtype.name}.")
    if _is_concrete(pred):
        index = np.int32(bool(np.asarray(pred)))
    else:
        if a.dtype != dtypes.bool_:
            pred = ne(pred, 0)
        index = convert_element_type(pred, dtypes.int32)
    return _bind_cond(index, (false_fun, true_fun), ("false_fun", "true_fun"), operands, "cond",
                      check_order=(1, 0))


def switch(index: Any, branches: Sequence[Callable], *operands: Any,
           operand: Any = _NO_OPERAND) -> Any:
    """``branches[clamp(index, 0, len(branches) - 1)](*operands)``, with a traced ``index``."""
    branches = tuple(branches)
    if not all(callable(b) for b in branches):
        raise TypeError("lax.switch: branches argument should be a sequence of callables.")
    operands = _operands(operands, operand)
    a = _aval(index)
    if a.shape != ():
        raise TypeError(f"Branch index must be scalar, got {index!r:.60} of shape {a.shape}.")
    if kind(a.dtype) not in ("int", "uint"):
        raise TypeError(f"Index type must be an integer, got {index!r:.60} as {a.dtype.name}")
    if not branches:
        raise ValueError("Empty branch sequence")
    if len(branches) == 1:
        return branches[0](*operands)
    hi = len(branches) - 1
    if _is_concrete(index):
        index = np.int32(min(max(int(index), 0), hi))
    else:
        index = clamp(np.int32(0), convert_element_type(index, dtypes.int32), np.int32(hi))
    names = [f"branch {i}" for i in range(len(branches))]
    return _bind_cond(index, branches, names, operands, "switch",
                      check_order=range(len(branches)))


# ---------------------------------------------------------------------------------------------
# while_loop / fori_loop


def _while_abstract(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    pred = cond_jaxpr.out_avals
    if len(pred) != 1 or not _typematch(pred[0], ShapedArray((), dtypes.bool_)):
        raise TypeError("while: cond_jaxpr must return one bool scalar, got "
                        f"{[a.str_short() for a in pred]}")
    for what, j, ins in (("cond_jaxpr", cond_jaxpr, cc + carry),
                         ("body_jaxpr", body_jaxpr, bc + carry)):
        if not _all_match(j.in_avals, ins):
            raise TypeError(f"while: {what} takes {[a.str_short() for a in j.in_avals]} but "
                            f"gets {[a.str_short() for a in ins]}")
    outs = body_jaxpr.out_avals
    if not _all_match(outs, carry):
        raise TypeError("while: body_fun output and input must have identical types, got "
                        f"{[a.str_short() for a in outs]} for carry "
                        f"{[a.str_short() for a in carry]}")
    return list(outs)


def _while_lower(ctx, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc = cond_nconsts + body_nconsts

    def cond(a):
        return _inline(ctx, cond_jaxpr, a[:cond_nconsts] + a[nc:])[0]

    def body(a):
        return a[:nc] + _inline(ctx, body_jaxpr, a[cond_nconsts:])

    return _while_op(ctx, args, ctx.avals_in, cond, body)[nc:]


while_p = define("while", _while_abstract, _while_lower, multiple_results=True)


def _stage_while(cond_fun, body_fun, args_tree, avals, body_adapt):
    c = _stage(cond_fun, args_tree, avals, "cond_fun")
    pred = c.jaxpr.out_avals
    if c.out_tree.node_type is not None or not _typematch(pred[0], ShapedArray((), np.bool_)):
        raise TypeError("cond_fun must return a boolean scalar, but got output type(s) "
                        f"{_show(c.out_tree, pred)}.")
    return c, _stage(body_fun, args_tree, avals, "body_fun", body_adapt)


def _while(cond_fun: Callable, body_fun: Callable, init_val: Any,
           body_adapt: Callable = _call) -> Any:
    leaves, args_tree = tree_flatten((init_val,))
    carry_tree = args_tree.children[0]
    avals = [_aval(x) for x in leaves]
    c, b = _stage_while(cond_fun, body_fun, args_tree, avals, body_adapt)
    if b.out_tree == carry_tree:
        leaves, changed = _promote_weak(leaves, avals, b.jaxpr.out_avals)
        if changed:
            avals = [_aval(x) for x in leaves]
            c, b = _stage_while(cond_fun, body_fun, args_tree, avals, body_adapt)
    _check_carry("while_loop body_fun", body_fun, carry_tree, avals, b.out_tree,
                 b.jaxpr.out_avals)
    outs = while_p.bind(*c.consts, *b.consts, *leaves, cond_jaxpr=c.jaxpr, body_jaxpr=b.jaxpr,
                        cond_nconsts=len(c.consts), body_nconsts=len(b.consts))
    return tree_unflatten(carry_tree, outs)


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; while cond_fun(val): val = body_fun(val)``, as one XLA loop.

    ``body_fun`` must return the same pytree structure and types as its input (weakly typed
    initial values such as Python scalars are promoted to the body's output types)."""
    if not (callable(cond_fun) and callable(body_fun)):
        raise TypeError("lax.while_loop: cond_fun and body_fun arguments should be callable.")
    return _while(cond_fun, body_fun, init_val)


def _fori_scan_step(body_fun, carry, _):
    i, x = carry
    return (i + 1, body_fun(i, x)), None


def _fori_cond(state):
    return state[0] < state[1]


def _fori_while_step(body_fun, state):
    i, upper, x = state
    return i + 1, upper, body_fun(i, x)


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any, *,
              unroll: int | bool | None = None) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns ``val``.

    With concrete bounds this is a ``scan`` (reverse-differentiable); with traced bounds it is
    a ``while_loop``."""
    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    la, ua = _aval(lower), _aval(upper)
    for name, a in (("lower", la), ("upper", ua)):
        if a.shape != () or kind(a.dtype) not in ("int", "uint"):
            raise TypeError(f"fori_loop: {name} must be an integer scalar, got {a.str_short()}")
    dtype = la.dtype
    if la.dtype != ua.dtype:
        if la.weak_type and not ua.weak_type:
            dtype = ua.dtype
        elif ua.weak_type and not la.weak_type:
            dtype = la.dtype
        else:
            raise TypeError("lower and upper arguments to fori_loop must have equal types, got "
                            f"{la.dtype.name} and {ua.dtype.name}")
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        lo, hi = operator.index(lower), operator.index(upper)
        (_, result), _ = _scan(body_fun, (lo, init_val), None, max(hi - lo, 0), False,
                               1 if unroll is None else unroll, _fori_scan_step)
        return result
    if unroll not in (None, False, 1):
        raise ValueError("Can only use `unroll` in `fori_loop` if the loop bounds are "
                         "statically known.")
    lower, upper = (convert_element_type(x, dtype) if a.dtype != dtype else x
                    for x, a in ((lower, la), (upper, ua)))
    return _while(_fori_cond, body_fun, (lower, upper, init_val), _fori_while_step)[2]


# ---------------------------------------------------------------------------------------------
# scan / map


def _scan_abstract(*args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    consts, carry, xs = _split(args, num_consts, num_carry)
    ins = jaxpr.in_avals
    x_avals = [ShapedArray(a.shape[1:], a.dtype, a.weak_type) for a in xs]
    if len(ins) != len(args) or any(a.shape[:1] != (length,) for a in xs) or not _all_match(
            ins, consts + carry + x_avals):
        raise TypeError(f"scan: jaxpr takes {[a.str_short() for a in ins]} but the operands are "
                        f"{[a.str_short() for a in args]} (length {length})")
    outs = jaxpr.out_avals
    if not _all_match(outs[:num_carry], carry):
        raise TypeError("scan: the body's carry output and input must have identical types, "
                        f"got {[a.str_short() for a in outs[:num_carry]]} for carry "
                        f"{[a.str_short() for a in carry]}")
    return list(outs[:num_carry]) + [a.update(shape=(length, *a.shape))
                                     for a in outs[num_carry:]]


def _scan_lower(ctx, *args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    avals = ctx.avals_in
    nc, nk = num_consts, num_carry
    nx = len(args) - nc - nk
    y_avals = jaxpr.out_avals[nk:]
    ys = [ctx.constant(0, a.update(shape=(length, *a.shape))) for a in y_avals]

    def step(i, consts, xs, carry, ys):
        """One iteration at counter ``i`` (an i32 SSA value): returns new (carry, ys)."""
        idx = i if not reverse else ctx.op1("stablehlo.subtract", [
            ctx.constant(length - 1, _I32), i], _I32)
        zero = ctx.constant(0, _I32)
        x_slices = []
        for x, a in zip(xs, avals[nc + nk:]):
            row = a.update(shape=(1, *a.shape[1:]))
            s = ctx.op1("stablehlo.dynamic_slice", [x, idx] + [zero] * (a.ndim - 1), row,
                        attrs=f"slice_sizes = {i64_array(row.shape)}")
            x_slices.append(ctx.op1("stablehlo.reshape", [s], a.update(shape=a.shape[1:])))
        outs = _inline(ctx, jaxpr, consts + carry + x_slices)
        new_ys = []
        for buf, y, a in zip(ys, outs[nk:], y_avals):
            row = ctx.op1("stablehlo.reshape", [y], a.update(shape=(1, *a.shape)))
            new_ys.append(ctx.op1("stablehlo.dynamic_update_slice",
                                  [buf, row, idx] + [zero] * a.ndim, ctx.emitter.types[buf]))
        return outs[:nk], new_ys

    u = unroll if unroll > 0 else length
    trips, rem = divmod(length, u) if u else (0, 0)
    if u != 1 and trips == 1:  # fully unrolled: no loop
        trips, rem = 0, length
    consts, carry, xs = _split(args, nc, nk)
    if trips:
        loop_avals = [_I32] + avals + [ctx.emitter.types[b] for b in ys]

        def cond(a):
            return ctx.op1("stablehlo.compare", [a[0], ctx.constant(trips * u, _I32)],
                           ShapedArray((), dtypes.bool_),
                           attrs="comparison_direction = #stablehlo<comparison_direction LT>, "
                                 "compare_type = #stablehlo<comparison_type SIGNED>")

        def body(a):
            i, (c, k, x, y) = a[0], _split(a[1:], nc, nk, nx)
            for _ in range(u):
                k, y = step(i, c, x, k, y)
                i = ctx.op1("stablehlo.add", [i, ctx.constant(1, _I32)], _I32)
            return [i] + c + k + x + y

        res = _while_op(ctx, [ctx.constant(0, _I32)] + list(args) + ys, loop_avals, cond, body)
        _, carry, _, ys = _split(res[1:], nc, nk, nx)
    for j in range(trips * u, trips * u + rem):
        carry, ys = step(ctx.constant(j, _I32), consts, xs, carry, ys)
    return carry + ys


scan_p = define("scan", _scan_abstract, _scan_lower, multiple_results=True)


def _scan_length(xs_avals: Sequence[ShapedArray], length: Any) -> int:
    if any(a.ndim == 0 for a in xs_avals):
        raise ValueError("scan got value with no leading axis to scan over: "
                         + ", ".join(a.str_short() for a in xs_avals if a.ndim == 0) + ".")
    sizes = [a.shape[0] for a in xs_avals]
    if length is not None:
        if isinstance(length, Tracer):
            raise TypeError("The `length` argument to `scan` expects a concrete `int` value. "
                            "For scan-like iteration with a dynamic length, use `while_loop` "
                            "or `fori_loop`.")
        length = operator.index(length)
        if any(s != length for s in sizes):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {sizes}.")
        return length
    if len(set(sizes)) > 1:
        raise ValueError("scan got values with different leading axis sizes: "
                         + ", ".join(str(s) for s in sizes) + ".")
    if not sizes:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    return sizes[0]


def _stage_scan(f, args_tree, avals, adapt):
    s = _stage(f, args_tree, avals, "scan body_fun", adapt)
    t = s.out_tree
    if t.node_type not in (tuple, list) or len(t.children) != 2:
        raise TypeError("scan body output must be a pair (carry, y), got "
                        f"{_show(t, s.jaxpr.out_avals)} ({_describe(f)}).")
    return s


def _scan(f: Callable, init: Any, xs: Any, length: Any, reverse: bool, unroll: int | bool,
          adapt: Callable) -> tuple[Any, Any]:
    if not callable(f):
        raise TypeError("lax.scan: f argument should be a callable.")
    init_leaves, init_tree = tree_flatten(init)
    xs_leaves, _ = tree_flatten(xs)
    _, args_tree = tree_flatten((init, xs))
    xs_avals = [_aval(x) for x in xs_leaves]
    length = _scan_length(xs_avals, length)
    if isinstance(unroll, bool):
        unroll = max(length, 1) if unroll else 1
    unroll = operator.index(unroll)
    if unroll < 0:
        raise ValueError("`unroll` must be a `bool` or a non-negative `int`.")
    x_avals = [ShapedArray(a.shape[1:], a.dtype, a.weak_type) for a in xs_avals]
    avals = [_aval(x) for x in init_leaves]
    s = _stage_scan(f, args_tree, avals + x_avals, adapt)
    nk = len(init_leaves)
    if s.out_tree.children[0] == init_tree:
        init_leaves, changed = _promote_weak(init_leaves, avals, s.jaxpr.out_avals[:nk])
        if changed:
            avals = [_aval(x) for x in init_leaves]
            s = _stage_scan(f, args_tree, avals + x_avals, adapt)
    carry_tree, y_tree = s.out_tree.children
    _check_carry("scan body_fun", f, init_tree, avals, carry_tree,
                 s.jaxpr.out_avals[:carry_tree.num_leaves])
    operands = [*s.consts, *init_leaves, *xs_leaves]
    outs = scan_p.bind(*operands, jaxpr=s.jaxpr, num_consts=len(s.consts), num_carry=nk,
                       length=length, reverse=bool(reverse), unroll=unroll)
    return tree_unflatten(init_tree, outs[:nk]), tree_unflatten(y_tree, outs[nk:])


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final carry
    and the stacked ``y`` values. ``xs`` and ``ys`` may be pytrees; ``xs=None`` needs ``length``.
    ``reverse`` scans from the end; ``unroll`` iterations share one loop step."""
    return _scan(f, init, xs, length, reverse, unroll, _call)


def _map_step(f, _, x):
    return (), f(x)


def map(f: Callable, xs: Any, *, batch_size: int | None = None) -> Any:  # noqa: A001
    """``stack([f(x) for x in xs])`` over the leading axis of the pytree ``xs``, via scan."""
    if batch_size is not None:
        raise NotImplementedError("lax.map: batch_size needs vmap, which xtrace lacks so far")
    return _scan(f, (), xs, None, False, 1, _map_step)[1]

