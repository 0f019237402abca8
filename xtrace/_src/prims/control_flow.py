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
from xtrace._src.config import config as _config
from xtrace._src.core import ClosedJaxpr, ConcretizationError, Jaxpr, ShapedArray, Tracer, Var
from xtrace._src.jit import hoist_consts
from xtrace._src.lowering import LowerCtx, i64_array, lower_jaxpr_body, tensor_type
from xtrace._src.prims.common import define, kind
from xtrace._src.prims.elementwise import clamp, convert_element_type, ne
from xtrace._src.staging import canonical_aval, trace_to_jaxpr
from xtrace._src.tree_util import PyTreeDef, tree_flatten, tree_map, tree_unflatten

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


_reducer_cache: "weakref.WeakKeyDictionary[ClosedJaxpr, ClosedJaxpr]" = \
    weakref.WeakKeyDictionary()


def stage_reducer(computation: Callable, tree: PyTreeDef, avals: Sequence[ShapedArray],
                  what: str) -> ClosedJaxpr:
    """The Jaxpr of ``computation(x, y)`` on two pytrees ``tree`` of scalars ``avals``, which
    must return such a pytree: the region of a reduction. Its inputs are ``[*x, *y]``; values it
    closes over stay constants of the region (tracers cannot: as in JAX, an error)."""
    pair = tree_flatten((tree_unflatten(tree, list(avals)),) * 2)[1]
    staged = _stage(computation, pair, list(avals) * 2, what)
    if staged.out_tree != tree:
        raise TypeError(f"{what} must return a pytree like its init values {tree}, got "
                        f"{staged.out_tree}")
    outs = staged.jaxpr.out_avals
    if not _all_match(outs, avals):
        raise TypeError(f"{what} must return {_show(tree, avals)} (the init values' types), "
                        f"got {_show(tree, outs)}")
    if any(isinstance(c, Tracer) for c in staged.consts):
        raise NotImplementedError(f"{what} closes over a traced value; reduction computations "
                                  "can only close over constants")
    hit = _reducer_cache.get(staged.jaxpr)
    if hit is None:
        j, k = staged.jaxpr.jaxpr, len(staged.consts)
        hit = ClosedJaxpr(Jaxpr(j.invars[:k], j.invars[k:], j.eqns, j.outvars), staged.consts)
        _reducer_cache[staged.jaxpr] = hit
    return hit


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
        if _config.disable_jit:
            return (true_fun if index else false_fun)(*operands)
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
        if _config.disable_jit:
            return branches[index](*operands)
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
    if _config.disable_jit:
        try:
            val = init_val
            while cond_fun(val):
                val = body_adapt(body_fun, val)
            return val
        except ConcretizationError:  # a traced predicate (under vmap, say): one XLA loop
            pass
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
    if _config.disable_jit and length > 0:
        return _python_scan(f, init, xs, length, reverse, adapt)
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


def _python_scan(f: Callable, init: Any, xs: Any, length: int, reverse: bool,
                 adapt: Callable) -> tuple[Any, Any]:
    """scan under ``disable_jit``: a Python loop, the ``ys`` stacked at the end."""
    from xtrace._src.numpy.shapes import stack
    carry, ys = init, []
    for i in (reversed(range(length)) if reverse else range(length)):
        carry, y = adapt(f, carry, tree_map(lambda v: v[i], xs))
        ys.append(y)
    ys = ys[::-1] if reverse else ys
    return carry, tree_map(lambda *v: stack(v), *ys)


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final carry
    and the stacked ``y`` values. ``xs`` and ``ys`` may be pytrees; ``xs=None`` needs ``length``.
    ``reverse`` scans from the end; ``unroll`` iterations share one loop step."""
    return _scan(f, init, xs, length, reverse, unroll, _call)


def _map_step(f, _, x):
    return (), f(x)


def _map_batch_step(f, _, x):
    from xtrace._src.api import vmap
    return (), vmap(f)(x)


def map(f: Callable, xs: Any, *, batch_size: int | None = None) -> Any:  # noqa: A001
    """``stack([f(x) for x in xs])`` over the leading axis of the pytree ``xs``, via scan.

    With ``batch_size``, as in JAX: a scan over batches of that many rows, ``f`` vmapped over
    each batch, and the leftover rows (``len(xs) % batch_size``) vmapped once more at the end.
    """
    if batch_size is None:
        return _scan(f, (), xs, None, False, 1, _map_step)[1]
    from xtrace._src.api import vmap
    from xtrace._src.prims.structural import concatenate, reshape, slice_in_dim
    batch_size = operator.index(batch_size)
    if batch_size < 1:
        raise ValueError(f"lax.map: batch_size must be a positive integer, got {batch_size}")
    leaves, tree = tree_flatten(xs)
    if not leaves:
        raise ValueError("lax.map: xs must hold at least one array to map over")
    n = np.shape(leaves[0])[0]
    whole, rest = divmod(n, batch_size)
    stacked = [reshape(slice_in_dim(x, 0, whole * batch_size), (whole, batch_size)
                       + tuple(np.shape(x)[1:])) for x in leaves]
    ys = _scan(f, (), tree_unflatten(tree, stacked), None, False, 1,
               _map_batch_step)[1] if whole else None
    ys = None if ys is None else tree_map(
        lambda y: reshape(y, (whole * batch_size,) + tuple(np.shape(y)[2:])), ys)
    if not rest:
        return ys
    tail = vmap(f)(tree_unflatten(tree, [slice_in_dim(x, whole * batch_size, n) for x in leaves]))
    return tail if ys is None else tree_map(lambda a, b: concatenate([a, b], 0), ys, tail)



# ---------------------------------------------------------------------------------------------
# Differentiation: JVP, partial-evaluation and transposition rules
#
# * cond/switch: JVP (each branch JVP'd with one tangent pattern), partial evaluation (a known
#   cond computing the known outputs and residuals, bound now, and a staged unknown cond), and
#   transposition (a cond of the transposed branches).
# * while: JVP only (a while over primal and tangent carries); partial evaluation keeps the known
#   carries known (so linearize works); transposition raises: reverse mode needs a static trip
#   count (scan / fori_loop with concrete bounds).
# * scan: JVP, partial evaluation (the known scan stacks per-iteration residuals as extra ys; the
#   loop-invariant ones are computed once outside), transposition (a scan the other way whose
#   body is the transposed body; the cotangents of the linear consts are summed in the carry).

from xtrace._src import ad  # noqa: E402
from xtrace._src import jaxpr_util as ju  # noqa: E402
from xtrace._src.ad import UndefinedPrimal, Zero, is_undefined  # noqa: E402
from xtrace._src.core import get_aval  # noqa: E402

_plans = ju.Memo(1024)


def _t_aval(a: ShapedArray) -> ShapedArray:
    return ad.tangent_aval(a)


def _or(xs: Sequence[bool], ys: Sequence[bool]) -> list[bool]:
    return [bool(x or y) for x, y in zip(xs, ys)]


def _join_branches(closed: Sequence[ClosedJaxpr]) -> tuple[tuple, list]:
    """Const-free branches taking ``[*all branches' consts, *operands]``, and those consts."""
    hoisted = [ju.hoist(b) for b in closed]
    const_vars = [v for h, cs in hoisted for v in h.jaxpr.invars[:len(cs)]]
    consts = [c for _, cs in hoisted for c in cs]
    if not consts:
        return tuple(h for h, _ in hoisted), []
    out, off = [], 0
    for h, cs in hoisted:
        k, j = len(cs), h.jaxpr
        invars = ([Var(v.aval) for v in const_vars[:off]] + j.invars[:k]
                  + [Var(v.aval) for v in const_vars[off + k:]] + j.invars[k:])
        out.append(ClosedJaxpr(Jaxpr([], invars, j.eqns, j.outvars), []))
        off += k
    return tuple(out), consts


# ---- cond ----


def _cond_jvp_plan(branches: tuple, nz: tuple):
    out_nz = [False] * len(branches[0].out_avals)
    for b in branches:
        out_nz = _or(out_nz, ju.jvp_jaxpr(b, nz, False)[1])
    jvps = [ju.jvp_jaxpr(b, nz, out_nz)[0] for b in branches]
    joined, consts = _join_branches(jvps)
    return joined, consts, out_nz


def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], primals[1:]
    nz = tuple(not isinstance(t, Zero) and ju.is_diff(a)
               for t, a in zip(tangents[1:], branches[0].in_avals))
    jbranches, consts, out_nz = _plans(("cond_jvp", branches, nz),
                                       lambda: _cond_jvp_plan(branches, nz), lambda r: r[1])
    ts = [t for t, n in zip(tangents[1:], nz) if n]
    outs = cond_p.bind(index, *consts, *ops, *ts, branches=jbranches)
    n = len(branches[0].out_avals)
    p_out, it = outs[:n], iter(outs[n:])
    t_out = [next(it) if z else Zero(_t_aval(get_aval(p))) for p, z in zip(p_out, out_nz)]
    return p_out, t_out


def _merge_residuals(res_avals_per_branch: Sequence[Sequence[ShapedArray]]):
    """Residual slots shared by the branches (one slot per aval a branch needs, reused across
    branches); returns the slot avals and each branch's residual-to-slot map."""
    slots: list[ShapedArray] = []
    maps = []
    for avals in res_avals_per_branch:
        used: set[int] = set()
        m = []
        for a in avals:
            s = next((i for i, sa in enumerate(slots) if i not in used and sa == a), None)
            if s is None:
                s = len(slots)
                slots.append(a)
            used.add(s)
            m.append(s)
        maps.append(m)
    return slots, maps


def _cond_pe_plan(branches: tuple, uk: tuple):
    n_out = len(branches[0].out_avals)
    out_uk = [False] * n_out
    for b in branches:
        out_uk = _or(out_uk, ju.partial_eval_jaxpr(b, uk, False).out_unknowns)
    pes = [ju.partial_eval_jaxpr(b, uk, out_uk) for b in branches]
    slots, maps = _merge_residuals([pe.res_avals for pe in pes])
    n_kout = out_uk.count(False)
    known_avals = [a for a, u in zip(branches[0].in_avals, uk) if not u]
    known, unknown = [], []
    for pe, m in zip(pes, maps):
        def kfun(*args, pe=pe, m=m):
            outs = ju.eval_closed(pe.known, *args)
            vals: list[Any] = [None] * len(slots)
            for r, s in zip(outs[n_kout:], m):
                vals[s] = r
            return outs[:n_kout] + [ad.zeros_like_aval(a) if v is None else v
                                    for v, a in zip(vals, slots)]
        known.append(trace_to_jaxpr(kfun, known_avals, "cond_known"))
        uj = pe.unknown.jaxpr
        own = dict(zip(m, uj.invars[:pe.num_res]))
        invars = [own.get(s) or Var(a) for s, a in enumerate(slots)] + uj.invars[pe.num_res:]
        unknown.append(ClosedJaxpr(Jaxpr([], invars, uj.eqns, uj.outvars), []))
    kbranches, kconsts = _join_branches(known)
    return out_uk, kbranches, kconsts, tuple(unknown), len(slots)


def _cond_partial_eval(trace, tracers, *, branches):
    index, ops = tracers[0], tracers[1:]
    if not index.pval.is_known:
        return trace.default_process(cond_p, tracers, dict(branches=branches))
    uk = tuple(not t.pval.is_known for t in ops)
    out_uk, kbranches, kconsts, ubranches, n_res = _plans(
        ("cond_pe", branches, uk), lambda: _cond_pe_plan(branches, uk), lambda r: r[2])
    kouts = cond_p.bind(index.pval.const, *kconsts,
                        *[t.pval.const for t, u in zip(ops, uk) if not u], branches=kbranches)
    n_kout = out_uk.count(False)
    kvals, res = kouts[:n_kout], kouts[n_kout:]
    uvals: list = []
    if any(out_uk):
        ins = [index] + [trace.pure(r) for r in res] + [t for t, u in zip(ops, uk) if u]
        uvals = trace.default_process(cond_p, ins, dict(branches=ubranches))
    it_k, it_u = iter(kvals), iter(uvals)
    return [next(it_u) if u else trace.pure(next(it_k)) for u in out_uk]


def _cond_transpose_plan(branches: tuple, lin: tuple, ct_nz: tuple):
    out = []
    for b in branches:
        tfun, avals = ju.transpose_fun(b, lin, ct_nz)
        out.append(trace_to_jaxpr(tfun, avals, "cond_transpose"))
    return _join_branches(out)


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise ValueError("cond: cannot transpose with respect to the branch index")
    lin = tuple(is_undefined(x) for x in ops)
    ct_nz = tuple(not isinstance(c, Zero) for c in cts)
    tbranches, consts = _plans(("cond_T", branches, lin, ct_nz),
                               lambda: _cond_transpose_plan(branches, lin, ct_nz),
                               lambda r: r[1])
    res = [x for x, l in zip(ops, lin) if not l]
    outs = cond_p.bind(index, *consts, *res, *[c for c in cts if not isinstance(c, Zero)],
                       branches=tbranches)
    it = iter(outs)
    return [None] + [next(it) if l else None for l in lin]


cond_p.jvp = _cond_jvp
cond_p.partial_eval = _cond_partial_eval
cond_p.transpose = _cond_transpose


# ---- while ----


def _while_jvp_plan(cond_jaxpr, body_jaxpr, bc_nz: tuple, carry_nz: tuple):
    carry_nz = list(carry_nz)
    nb = len(bc_nz)
    while True:
        _, out_nz = ju.jvp_jaxpr(body_jaxpr, list(bc_nz) + carry_nz, carry_nz)
        new = _or(carry_nz, out_nz)
        if new == carry_nz:
            break
        carry_nz = new
    jb, _ = ju.jvp_jaxpr(body_jaxpr, list(bc_nz) + carry_nz, carry_nz)
    jb, jconsts = ju.hoist(jb)
    nj, nk, nbt, nkt = len(jconsts), len(carry_nz), sum(bc_nz), sum(carry_nz)
    # jb inputs: [jconsts, bc, carry, bc tangents, carry tangents] -> [consts..., carry...]
    order = (list(range(nj + nb)) + list(range(nj + nb + nk, nj + nb + nk + nbt))
             + list(range(nj + nb, nj + nb + nk)) + list(range(nj + nb + nk + nbt,
                                                                 nj + nb + nk + nbt + nkt)))
    body = ju.permute_invars(jb, order)
    cj = cond_jaxpr.jaxpr
    extra = [Var(_t_aval(a)) for a, z in zip(body_jaxpr.out_avals, carry_nz) if z]
    cond = ClosedJaxpr(Jaxpr(cj.constvars, cj.invars + extra, cj.eqns, cj.outvars),
                       cond_jaxpr.consts)
    return cond, body, jconsts, carry_nz


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(primals, cond_nconsts, body_nconsts)
    _, bct, ct = _split(tangents, cond_nconsts, body_nconsts)
    avals = body_jaxpr.in_avals
    bc_nz = tuple(not isinstance(t, Zero) and ju.is_diff(a) for t, a in zip(bct, avals))
    carry_nz = tuple(not isinstance(t, Zero) and ju.is_diff(a)
                     for t, a in zip(ct, avals[body_nconsts:]))
    cond, body, jconsts, carry_nz = _plans(
        ("while_jvp", cond_jaxpr, body_jaxpr, bc_nz, carry_nz),
        lambda: _while_jvp_plan(cond_jaxpr, body_jaxpr, bc_nz, carry_nz), lambda r: r[2])
    bts = [t for t, z in zip(bct, bc_nz) if z]
    cts = [ad.instantiate(t, _t_aval(a))
           for t, a, z in zip(ct, avals[body_nconsts:], carry_nz) if z]
    outs = while_p.bind(*cc, *jconsts, *bc, *bts, *carry, *cts, cond_jaxpr=cond, body_jaxpr=body,
                        cond_nconsts=cond_nconsts,
                        body_nconsts=len(jconsts) + len(bc) + len(bts))
    nk = len(carry)
    p_out, it = outs[:nk], iter(outs[nk:])
    return p_out, [next(it) if z else Zero(_t_aval(get_aval(p))) for p, z in zip(p_out, carry_nz)]


def _while_pe_plan(cond_jaxpr, body_jaxpr, bc_uk: tuple, carry_uk: tuple):
    carry_uk = list(carry_uk)
    while True:
        pe = ju.partial_eval_jaxpr(body_jaxpr, list(bc_uk) + carry_uk, carry_uk)
        new = _or(carry_uk, pe.out_unknowns)
        if new == carry_uk:
            break
        carry_uk = new
    nc = len(cond_jaxpr.in_avals) - len(carry_uk)
    pe_c = ju.partial_eval_jaxpr(cond_jaxpr, [False] * nc + carry_uk, False)
    if pe_c.out_unknowns[0] or all(carry_uk):
        return None
    n_kout = carry_uk.count(False)
    kc, kc_consts = ju.hoist(ju.dce_closed(pe_c.known, [True] + [False] * pe_c.num_res)[0])
    kb, kb_consts = ju.hoist(ju.dce_closed(pe.known, [True] * n_kout
                                           + [False] * pe.num_res)[0])
    return carry_uk, kc, kc_consts, kb, kb_consts


def _while_partial_eval(trace, tracers, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    cc, bc, carry = _split(tracers, cond_nconsts, body_nconsts)
    if not all(t.pval.is_known for t in cc):
        return trace.default_process(while_p, tracers, params)
    bc_uk = tuple(not t.pval.is_known for t in bc)
    carry_uk = tuple(not t.pval.is_known for t in carry)
    plan = _plans(("while_pe", cond_jaxpr, body_jaxpr, bc_uk, carry_uk),
                  lambda: _while_pe_plan(cond_jaxpr, body_jaxpr, bc_uk, carry_uk),
                  lambda r: () if r is None else r[2] + r[4])
    if plan is None:  # the loop condition depends on unknowns: stage everything
        return trace.default_process(while_p, tracers, params)
    carry_uk, kc, kc_consts, kb, kb_consts = plan
    kbc = [t.pval.const for t, u in zip(bc, bc_uk) if not u]
    kcarry = [t.pval.const for t, u in zip(carry, carry_uk) if not u]
    kouts = while_p.bind(*kc_consts, *[t.pval.const for t in cc], *kb_consts, *kbc, *kcarry,
                         cond_jaxpr=kc, body_jaxpr=kb, cond_nconsts=len(kc_consts) + len(cc),
                         body_nconsts=len(kb_consts) + len(kbc))
    if not any(carry_uk):  # the unknown inputs do not reach the results
        return [trace.pure(v) for v in kouts]
    # The unknown loop recomputes the known carries alongside (it needs them each iteration).
    uouts = trace.default_process(while_p, tracers, params)
    it = iter(kouts)
    return [u if uk else trace.pure(next(it)) for u, uk in zip(uouts, carry_uk)]


def _while_transpose(cts, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
        "dynamic start/stop values. Try using lax.scan, or using fori_loop with static "
        "start/stop (concrete Python ints), which is a scan; forward mode (jvp, jacfwd) works "
        "through while_loop.")


while_p.jvp = _while_jvp
while_p.partial_eval = _while_partial_eval
while_p.transpose = _while_transpose


# ---- scan ----


def _scan_jvp_plan(jaxpr, nc: int, nk: int, nz: tuple):
    const_nz, carry_nz, xs_nz = _split(nz, nc, nk)
    ny = len(jaxpr.out_avals) - nk
    while True:
        _, out_nz = ju.jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz, carry_nz + [False] * ny)
        new = _or(carry_nz, out_nz[:nk])
        if new == carry_nz:
            break
        carry_nz = new
    jj, out_nz = ju.jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz, carry_nz + [False] * ny)
    ys_nz = out_nz[nk:]
    jj, jconsts = ju.hoist(jj)
    nj, nx = len(jconsts), len(xs_nz)
    nct, nkt, nyt = sum(const_nz), sum(carry_nz), sum(ys_nz)
    # jj inputs: [jconsts, consts, carry, xs, const_t, carry_t, xs_t];
    # outputs: [carry, ys, carry_t, ys_t]
    p = nj + nc + nk + nx  # start of the tangents
    order = (list(range(nj + nc)) + list(range(p, p + nct))
             + list(range(nj + nc, nj + nc + nk)) + list(range(p + nct, p + nct + nkt))
             + list(range(nj + nc + nk, p)) + list(range(p + nct + nkt, len(jj.in_avals))))
    out_order = (list(range(nk)) + list(range(nk + ny, nk + ny + nkt))
                 + list(range(nk, nk + ny)) + list(range(nk + ny + nkt, nk + ny + nkt + nyt)))
    body = ju.permute_outvars(ju.permute_invars(jj, order), out_order)
    return body, jconsts, carry_nz, ys_nz


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    in_avals = jaxpr.in_avals
    nz = tuple(not isinstance(t, Zero) and ju.is_diff(a) for t, a in zip(tangents, in_avals))
    body, jconsts, carry_nz, ys_nz = _plans(("scan_jvp", jaxpr, nc, nk, nz),
                                            lambda: _scan_jvp_plan(jaxpr, nc, nk, nz),
                                            lambda r: r[1])
    consts, init, xs = _split(primals, nc, nk)
    ct, it, xt = _split(tangents, nc, nk)
    const_nz, _, xs_nz = _split(nz, nc, nk)
    const_t = [t for t, z in zip(ct, const_nz) if z]
    init_t = [ad.instantiate(t, _t_aval(a))
              for t, a, z in zip(it, in_avals[nc:nc + nk], carry_nz) if z]
    xs_t = [t for t, z in zip(xt, xs_nz) if z]
    outs = scan_p.bind(*jconsts, *consts, *const_t, *init, *init_t, *xs, *xs_t, jaxpr=body,
                       num_consts=len(jconsts) + nc + len(const_t),
                       num_carry=nk + len(init_t), length=length, reverse=reverse,
                       unroll=unroll)
    carry, carry_t, ys, ys_t = _split(outs, nk, len(init_t), len(outs) - nk - len(init_t)
                                      - sum(ys_nz))
    it_k, it_y = iter(carry_t), iter(ys_t)
    t_out = ([next(it_k) if z else Zero(_t_aval(get_aval(p))) for p, z in zip(carry, carry_nz)]
             + [next(it_y) if z else Zero(_t_aval(get_aval(p))) for p, z in zip(ys, ys_nz)])
    return carry + ys, t_out


def _scan_pe_plan(jaxpr, nc: int, nk: int, uk: tuple):
    const_uk, carry_uk, xs_uk = _split(uk, nc, nk)
    ny = len(jaxpr.out_avals) - nk
    while True:
        pe = ju.partial_eval_jaxpr(jaxpr, const_uk + carry_uk + xs_uk, carry_uk + [False] * ny)
        new = _or(carry_uk, pe.out_unknowns[:nk])
        if new == carry_uk:
            break
        carry_uk = new
    ys_uk = pe.out_unknowns[nk:]
    n_kc, n_kk, n_kx = const_uk.count(False), carry_uk.count(False), xs_uk.count(False)
    n_kout = n_kk + ys_uk.count(False)
    kj = pe.known
    # Residuals depending only on the known consts are loop invariant: computed once, outside.
    variant = ju.depends_on(kj.jaxpr, [False] * n_kc + [True] * (n_kk + n_kx))[n_kout:]
    inv = ju.dce_closed(kj, [False] * n_kout + [not v for v in variant])[0] \
        if not all(variant) else None
    # Residuals that are known xs themselves are forwarded, not stacked again.
    xs_pos = {v: i for i, v in enumerate(kj.jaxpr.invars[n_kc + n_kk:])}
    fwd = [xs_pos.get(v) if var and isinstance(v, Var) else None
           for v, var in zip(kj.jaxpr.outvars[n_kout:], variant)]
    stacked = [var and f is None for var, f in zip(variant, fwd)]
    body, bconsts = ju.hoist(ju.dce_closed(kj, [True] * n_kout + stacked)[0])
    R = pe.num_res
    n_uc, n_uk = const_uk.count(True), carry_uk.count(True)
    inv_idx = [i for i in range(R) if not variant[i]]
    var_idx = [i for i in range(R) if variant[i]]
    order = (inv_idx + list(range(R, R + n_uc + n_uk)) + var_idx
             + list(range(R + n_uc + n_uk, len(pe.unknown.in_avals))))
    ubody = ju.permute_invars(pe.unknown, order)
    return carry_uk, ys_uk, inv, body, bconsts, ubody, len(inv_idx), [fwd[i] for i in var_idx]


def _scan_partial_eval(trace, tracers, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    uk = tuple(not t.pval.is_known for t in tracers)
    carry_uk, ys_uk, inv, body, bconsts, ubody, n_inv, var_fwd = _plans(
        ("scan_pe", jaxpr, nc, nk, uk), lambda: _scan_pe_plan(jaxpr, nc, nk, uk),
        lambda r: list(r[4]) + (list(r[2].consts) if r[2] is not None else []))
    consts, init, xs = _split(tracers, nc, nk)
    const_uk, _, xs_uk = _split(uk, nc, nk)
    kconsts = [t.pval.const for t, u in zip(consts, const_uk) if not u]
    kinit = [t.pval.const for t, u in zip(init, carry_uk) if not u]
    kxs = [t.pval.const for t, u in zip(xs, xs_uk) if not u]
    inv_res = []
    if inv is not None:  # the carry and xs inputs are unused there
        inv_res = ju.eval_closed(inv, *kconsts, *[None] * (len(kinit) + len(kxs)))
    kouts = scan_p.bind(*bconsts, *kconsts, *kinit, *kxs, jaxpr=body,
                        num_consts=len(bconsts) + len(kconsts), num_carry=len(kinit),
                        length=length, reverse=reverse, unroll=unroll)
    n_ky = ys_uk.count(False)
    kcarry, kys, stacked = _split(kouts, len(kinit), n_ky)
    it_s = iter(stacked)
    var_res = [next(it_s) if f is None else kxs[f] for f in var_fwd]
    uvals: list = []
    if any(carry_uk) or any(ys_uk):
        ins = ([trace.pure(r) for r in inv_res] + [t for t, u in zip(consts, const_uk) if u]
               + [t for t, u in zip(init, carry_uk) if u] + [trace.pure(r) for r in var_res]
               + [t for t, u in zip(xs, xs_uk) if u])
        uvals = trace.default_process(scan_p, ins, dict(
            jaxpr=ubody, num_consts=n_inv + const_uk.count(True), num_carry=carry_uk.count(True),
            length=length, reverse=reverse, unroll=unroll))
    n_uk = carry_uk.count(True)
    it_kc, it_ky = iter(kcarry), iter(kys)
    it_uc, it_uy = iter(uvals[:n_uk]), iter(uvals[n_uk:])
    return ([next(it_uc) if u else trace.pure(next(it_kc)) for u in carry_uk]
            + [next(it_uy) if u else trace.pure(next(it_ky)) for u in ys_uk])


def _scan_transpose_plan(jaxpr, nc: int, nk: int, c_lin: tuple, x_lin: tuple, ys_nz: tuple):
    c_avals, k_avals, x_avals = _split(jaxpr.in_avals, nc, nk)
    y_avals = jaxpr.out_avals[nk:]
    rc_avals = [a for a, l in zip(c_avals, c_lin) if not l]
    lc_avals = [_t_aval(a) for a, l in zip(c_avals, c_lin) if l]
    kt_avals = [_t_aval(a) for a in k_avals]
    rx_avals = [a for a, l in zip(x_avals, x_lin) if not l]
    yt_avals = [_t_aval(a) for a, z in zip(y_avals, ys_nz) if z]
    sizes = (len(rc_avals), len(lc_avals), len(kt_avals), len(rx_avals))

    def tbody(*args):
        rc, acc, ct_k, rx, ct_y = _split(args, *sizes)
        it_c, it_x, it_y = iter(rc), iter(rx), iter(ct_y)
        primals = ([UndefinedPrimal(a) if l else next(it_c) for a, l in zip(c_avals, c_lin)]
                   + [UndefinedPrimal(a) for a in k_avals]
                   + [UndefinedPrimal(a) if l else next(it_x) for a, l in zip(x_avals, x_lin)])
        cts = list(ct_k) + [next(it_y) if z else Zero(_t_aval(a))
                            for a, z in zip(y_avals, ys_nz)]
        cts_in = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, primals, cts)
        ct_c, ct_kin, ct_x = _split(cts_in, nc, nk)
        new_acc = [ad.add_tangents(a, c) for a, c in zip(acc, [c for c, l in zip(ct_c, c_lin)
                                                                if l])]
        return (new_acc + [ad.instantiate(c, a) for c, a in zip(ct_kin, kt_avals)]
                + [ad.instantiate(c, _t_aval(a)) for c, a, l in zip(ct_x, x_avals, x_lin) if l])

    tj, tconsts = ju.trace_hoisted(tbody, rc_avals + lc_avals + kt_avals + rx_avals + yt_avals,
                                   "scan_transpose")
    return tj, tconsts, lc_avals, kt_avals


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    consts, init, xs = _split(args, nc, nk)
    c_lin = tuple(is_undefined(x) for x in consts)
    x_lin = tuple(is_undefined(x) for x in xs)
    ct_k, ct_y = cts[:nk], cts[nk:]
    ys_nz = tuple(not isinstance(c, Zero) for c in ct_y)
    tj, tconsts, lc_avals, kt_avals = _plans(
        ("scan_T", jaxpr, nc, nk, c_lin, x_lin, ys_nz),
        lambda: _scan_transpose_plan(jaxpr, nc, nk, c_lin, x_lin, ys_nz), lambda r: r[1])
    rc = [x for x, l in zip(consts, c_lin) if not l]
    rx = [x for x, l in zip(xs, x_lin) if not l]
    acc = [ad.zeros_like_aval(a) for a in lc_avals]
    ct_k = [ad.instantiate(c, a) for c, a in zip(ct_k, kt_avals)]
    ct_y = [c for c in ct_y if not isinstance(c, Zero)]
    outs = scan_p.bind(*tconsts, *rc, *acc, *ct_k, *rx, *ct_y,
                       jaxpr=tj, num_consts=len(tconsts) + len(rc), num_carry=len(acc) + nk,
                       length=length, reverse=not reverse, unroll=unroll)
    ct_c, ct_init, ct_x = _split(outs, len(acc), nk)
    it_c, it_x = iter(ct_c), iter(ct_x)
    return ([next(it_c) if l else None for l in c_lin]
            + [c if is_undefined(x) else None for c, x in zip(ct_init, init)]
            + [next(it_x) if l else None for l in x_lin])


scan_p.jvp = _scan_jvp
scan_p.partial_eval = _scan_partial_eval
scan_p.transpose = _scan_transpose


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above.
#
# The bodies are batched with ``batching.batch_jaxpr`` (batch dims leading), and the loops find
# which carries are batched by a fixpoint: a carry becomes batched when the body makes it so.
#
# * cond: an unbatched index gives a cond of batched branches (an output is batched when any
#   branch batches it); a batched index runs every branch on the whole batch and picks each
#   example's result with ``select_n``.
# * while: with an unbatched predicate the loop body is simply batched. A batched predicate
#   makes every carry batched: the loop runs while any example goes on, and the body keeps the
#   carries of the finished examples unchanged (a select on the per-example predicate).
# * scan: batched xs/ys carry the batch at axis 1 (the scan axis stays in front).

from xtrace._src import batching  # noqa: E402
from xtrace._src.prims.reductions import reduce_or  # noqa: E402
from xtrace._src.prims.elementwise import select_n  # noqa: E402
from xtrace._src.prims.structural import broadcast_in_dim  # noqa: E402


def _front(vals: Sequence, dims: Sequence) -> list:
    """``vals`` with each batch dimension moved to the front (unbatched ones unchanged)."""
    return [v if d is None else batching.moveaxis(v, d, 0) for v, d in zip(vals, dims)]


def _select_rows(which: Any, cases: Sequence) -> Any:
    """Per example ``b``: ``cases[which[b]][b]``; ``which`` is ``(B,)``, cases ``(B, ...)``."""
    shape = get_aval(cases[0]).shape
    if len(shape) > 1:
        which = broadcast_in_dim(which, shape, (0,))
    return select_n(which, *cases)


def _carry_fixpoint(body: ClosedJaxpr, axis, const_b: Sequence[bool], carry_b: Sequence[bool],
                    xs_b: Sequence[bool] = ()) -> list[bool]:
    """The batched carries of a loop whose body takes ``[*consts, *carry, *xs]`` and returns
    ``[*carry, ...]``: those batched initially or made batched by the body."""
    carry_b, n = list(carry_b), len(carry_b)
    while True:
        _, out_b = batching.batch_jaxpr(body, axis, list(const_b) + carry_b + list(xs_b))
        new = _or(carry_b, out_b[:n])
        if new == carry_b:
            return carry_b
        carry_b = new


# ---- cond ----


def _cond_batch_plan(branches: tuple, in_b: tuple, axis) -> tuple:
    out_b = [False] * len(branches[0].out_avals)
    for b in branches:
        out_b = _or(out_b, batching.batch_jaxpr(b, axis, in_b)[1])
    joined, consts = _join_branches([batching.batch_jaxpr(b, axis, in_b, out_b)[0]
                                     for b in branches])
    return joined, consts, out_b


def _cond_batch(axis, vals, dims, *, branches):
    if dims[0] is not None:  # each example takes its own branch: run all, then select
        index = batching.moveaxis(vals[0], dims[0], 0)
        outs = [batching.batch_flat(functools.partial(ju.eval_closed, b), axis, vals[1:],
                                    dims[1:])
                for b in branches]
        return [_select_rows(index, os) for os in zip(*outs)], [0] * len(outs[0])
    index, ops = vals[0], _front(vals[1:], dims[1:])
    in_b = tuple(d is not None for d in dims[1:])
    bbranches, consts, out_b = _plans(
        ("cond_batch", branches, in_b, axis.size, axis.name),
        lambda: _cond_batch_plan(branches, in_b, axis), lambda r: r[1])
    outs = cond_p.bind(index, *consts, *ops, branches=bbranches)
    return outs, [0 if b else None for b in out_b]


cond_p.batch = _cond_batch


# ---- while ----


def _while_batch_plan(cond_jaxpr, body_jaxpr, cc_b: tuple, bc_b: tuple, carry_b: tuple, axis):
    nk = len(carry_b)
    carry_b = _carry_fixpoint(body_jaxpr, axis, bc_b, carry_b)
    pred_b = batching.batch_jaxpr(cond_jaxpr, axis, list(cc_b) + carry_b)[1][0]
    if pred_b:
        carry_b = [True] * nk
    cond_b, _ = batching.batch_jaxpr(cond_jaxpr, axis, list(cc_b) + carry_b)
    body_b, _ = batching.batch_jaxpr(body_jaxpr, axis, list(bc_b) + carry_b, carry_b)
    if not pred_b:
        cj, cconsts = ju.hoist(cond_b)
        bj, bconsts = ju.hoist(body_b)
        return carry_b, pred_b, cj, cconsts, bj, bconsts
    ncc, nbc = len(cc_b), len(bc_b)

    def cond(*args):  # [*cond consts, *carry]: go on while any example goes on
        pred, = ju.eval_closed(cond_b, *args)
        return [reduce_or(pred, (0,))]

    def body(*args):  # [*cond consts, *body consts, *carry]: finished examples keep theirs
        cc, bc, carry = _split(args, ncc, nbc)
        pred, = ju.eval_closed(cond_b, *cc, *carry)
        new = ju.eval_closed(body_b, *bc, *carry)
        return [_select_rows(pred, [c, n]) for c, n in zip(carry, new)]

    cj, cconsts = ju.trace_hoisted(cond, cond_b.in_avals, "while_batched_cond")
    bj, bconsts = ju.trace_hoisted(body, cond_b.in_avals[:ncc] + body_b.in_avals,
                                   "while_batched_body")
    return carry_b, pred_b, cj, cconsts, bj, bconsts


def _while_batch(axis, vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(_front(vals, dims), cond_nconsts, body_nconsts)
    cc_b, bc_b, init_b = (tuple(d is not None for d in ds)
                          for ds in _split(dims, cond_nconsts, body_nconsts))
    carry_b, pred_b, cj, cconsts, bj, bconsts = _plans(
        ("while_batch", cond_jaxpr, body_jaxpr, cc_b, bc_b, init_b, axis.size, axis.name),
        lambda: _while_batch_plan(cond_jaxpr, body_jaxpr, cc_b, bc_b, init_b, axis),
        lambda r: list(r[3]) + list(r[5]))
    carry = [batching.broadcast_batch(c, axis.size, 0) if b and not was else c
             for c, b, was in zip(carry, carry_b, init_b)]
    body_in = [*bconsts, *cc, *bc] if pred_b else [*bconsts, *bc]
    outs = while_p.bind(*cconsts, *cc, *body_in, *carry, cond_jaxpr=cj, body_jaxpr=bj,
                        cond_nconsts=len(cconsts) + len(cc), body_nconsts=len(body_in))
    return outs, [0 if b else None for b in carry_b]


while_p.batch = _while_batch


# ---- scan ----


def _scan_batch_plan(jaxpr, nc: int, nk: int, const_b: tuple, init_b: tuple, xs_b: tuple,
                     axis):
    carry_b = _carry_fixpoint(jaxpr, axis, const_b, init_b, xs_b)
    ny = len(jaxpr.out_avals) - nk
    batched, out_b = batching.batch_jaxpr(jaxpr, axis, list(const_b) + carry_b + list(xs_b),
                                          carry_b + [False] * ny)
    body, bconsts = ju.hoist(batched)
    return body, bconsts, carry_b, out_b[nk:]


def _scan_batch(axis, vals, dims, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    consts, init, xs = _split(vals, nc, nk)
    const_d, init_d, xs_d = _split(dims, nc, nk)
    const_b, init_b, xs_b = (tuple(d is not None for d in ds) for ds in (const_d, init_d, xs_d))
    body, bconsts, carry_b, ys_b = _plans(
        ("scan_batch", jaxpr, nc, nk, const_b, init_b, xs_b, axis.size, axis.name),
        lambda: _scan_batch_plan(jaxpr, nc, nk, const_b, init_b, xs_b, axis),
        lambda r: r[1])
    consts = _front(consts, const_d)
    init = [batching.matchaxis(c, d, 0, axis.size) if b else c
            for c, d, b in zip(init, init_d, carry_b)]
    xs = [x if d is None else batching.moveaxis(x, d, 1) for x, d in zip(xs, xs_d)]
    outs = scan_p.bind(*bconsts, *consts, *init, *xs, jaxpr=body,
                       num_consts=len(bconsts) + nc, num_carry=nk, length=length,
                       reverse=reverse, unroll=unroll)
    return outs, [0 if b else None for b in carry_b] + [1 if b else None for b in ys_b]


scan_p.batch = _scan_batch


# ---------------------------------------------------------------------------------------------
# platform_dependent: the branch for the platform programs run on (the default backend's).

def platform_dependent(*args: Any, default: Callable | None = None,
                       **per_platform: Callable) -> Any:
    """``per_platform[p](*args)`` for the default backend's platform ``p`` ('cpu', 'cuda',
    'rocm', 'tpu'), else ``default(*args)``; NotImplementedError when neither exists."""
    from xtrace._src import backend
    if "gpu" in per_platform:
        raise ValueError("Use 'cuda' or 'rocm' for lax.platform_dependent.")
    platform = backend.default_backend()
    platform = {"gpu": "cuda"}.get(platform, platform)
    fn = per_platform.get(platform, default)
    if fn is None:
        raise NotImplementedError(f"platform_dependent: no branch for platform {platform!r} "
                                  f"(branches: {sorted(per_platform)}) and no default")
    return fn(*args)


# ---------------------------------------------------------------------------------------------
# optimization_barrier: the identity on a pytree, which XLA may not move computations across
# (``stablehlo.optimization_barrier``). Tangents, cotangents and batches pass through their own
# barrier, as in JAX.
from xtrace._src import ad  # noqa: E402
from xtrace._src.prims.common import lax_args  # noqa: E402


def _barrier_lower(ctx: LowerCtx, *xs):
    return ctx.op("stablehlo.optimization_barrier", list(xs), list(ctx.avals_in))


optimization_barrier_p = define("optimization_barrier", lambda *avals: list(avals),
                                _barrier_lower, multiple_results=True)


def optimization_barrier(operand: Any, /) -> Any:
    """``operand`` (any pytree of arrays) unchanged, with an optimization barrier: XLA keeps
    the computations before it (that produce its inputs) from moving past it."""
    leaves, tree = tree_flatten(operand)
    leaves = [lax_args(x)[0] for x in leaves]
    if not leaves:
        return operand
    return tree_unflatten(tree, optimization_barrier_p.bind(*leaves))


def _barrier_jvp(primals, tangents):
    outs = optimization_barrier_p.bind(*primals)
    nz = [i for i, t in enumerate(tangents) if not isinstance(t, ad.Zero)]
    t_out = [ad.zero_of(o) for o in outs]
    if nz:
        for i, t in zip(nz, optimization_barrier_p.bind(*[tangents[i] for i in nz])):
            t_out[i] = t
    return outs, t_out


def _barrier_transpose(cts, *args):
    nz = [i for i, c in enumerate(cts) if not isinstance(c, ad.Zero)]
    res = [ad.Zero(a.aval) if isinstance(a, ad.UndefinedPrimal) else None for a in args]
    if nz:
        for i, c in zip(nz, optimization_barrier_p.bind(*[cts[i] for i in nz])):
            if isinstance(args[i], ad.UndefinedPrimal):
                res[i] = c
    return res


optimization_barrier_p.jvp, optimization_barrier_p.transpose = _barrier_jvp, _barrier_transpose
optimization_barrier_p.batch = lambda axis, vals, dims: (
    optimization_barrier_p.bind(*vals), list(dims))
