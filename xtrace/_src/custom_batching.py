"""User-defined batching rules: ``custom_vmap`` (``def_vmap``) and ``sequential_vmap``.

A ``custom_vmap`` call is the ``custom_vmap_call`` primitive holding the function's Jaxpr and
the user's rule, so the rule survives staging (``vmap(jit(f))`` still calls it). Outside vmap the
Jaxpr runs as is. Under vmap the batching rule calls ``rule(axis_size, in_batched, *args)`` with
the batched arguments' batch axis moved to the front; it returns ``(out, out_batched)``.

As in JAX, forward mode (``jvp``) works, and reverse mode works where vmap is applied inside
``grad`` (the rule's output is differentiated). The tangents are the JVP of the function's
Jaxpr (batched by the ordinary rules when a vmap surrounds the JVP).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from xtrace._src import ad, core
from xtrace._src.custom_derivatives import _Args, _eval_closed, _inline_lower
from xtrace._src.tree_util import tree_flatten, tree_map, tree_unflatten

custom_vmap_call_p = core.register(core.Primitive("custom_vmap_call", multiple_results=True))
custom_vmap_call_p.abstract_eval = lambda *avals, jaxpr, rule, num_consts: jaxpr.out_avals
custom_vmap_call_p.lower = _inline_lower
custom_vmap_call_p.impl = lambda *args, jaxpr, rule, num_consts: _eval_closed(jaxpr, *args)


def _custom_vmap_call_jvp(primals, tangents, *, jaxpr, rule, num_consts):
    outs = custom_vmap_call_p.bind(*primals, jaxpr=jaxpr, rule=rule, num_consts=num_consts)
    _, t_out = ad.jvp_flat(lambda *a: _eval_closed(jaxpr, *a), primals, tangents)
    return outs, t_out


def _custom_vmap_call_batch(axis, vals, dims, *, jaxpr, rule, num_consts):
    from xtrace._src import batching
    if any(d is not None for d in dims[:num_consts]):
        raise ValueError(
            "a custom_vmap function closes over a value batched by this vmap "
            f"(its vmap rule is {rule.name}); pass it to the function as an argument instead")
    args = [v if d is None else batching.moveaxis(v, d, 0)
            for v, d in zip(vals[num_consts:], dims[num_consts:])]
    outs, out_batched = rule(axis.size, [d is not None for d in dims[num_consts:]], args)
    return outs, [0 if b else None for b in out_batched]


custom_vmap_call_p.jvp = _custom_vmap_call_jvp
custom_vmap_call_p.batch = _custom_vmap_call_batch


class _FlatRule:
    """The user's rule on flat argument leaves: rebuilds the argument pytrees (and
    ``in_batched`` as the same pytrees of bools), checks the output trees."""

    def __init__(self, rule: Callable, name: str, in_tree, out_tree):
        self.rule, self.name, self.in_tree, self.out_tree = rule, name, in_tree, out_tree

    def __call__(self, axis_size: int, flat_batched: list, flat_args: list):
        from xtrace._src.api import _as_array
        args = tree_unflatten(self.in_tree, flat_args)
        in_batched = list(tree_unflatten(self.in_tree, flat_batched))
        res = self.rule(axis_size, in_batched, *args)
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError(f"custom vmap rule ({self.name}) must return a pair "
                            "(output, output_batched)")
        out, out_batched = res
        outs, tree1 = tree_flatten(out)
        flat_ob, tree2 = tree_flatten(out_batched)
        if tree1 != tree2:
            raise ValueError(
                "structure of output value and output batching specification returned by "
                f"custom vmap rule ({self.name}) do not match.\nOutput values: {tree1}\n"
                f"Batching spec: {tree2}")
        if tree1 != self.out_tree:
            raise ValueError(
                f"structure of output returned by custom vmap rule ({self.name}) does not "
                "match that of original custom-vmapped function.\nOriginal output: "
                f"{self.out_tree}\nRule output: {tree1}")
        return [_as_array(o) for o in outs], [bool(b) for b in flat_ob]


class custom_vmap:
    """A function with a user-defined vmap rule (JAX's ``jax.custom_batching.custom_vmap``).

    ``f.def_vmap(rule)`` sets ``rule(axis_size, in_batched, *args) -> (out, out_batched)``:
    ``in_batched`` is a list with one pytree of bools per argument (whether each leaf is
    batched; batched leaves have the batch axis in front), ``out_batched`` a pytree of bools
    with the structure of ``out``. Unbatched calls run the function itself.
    """

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vmap_rule: Callable[..., tuple[Any, Any]] | None = None

    def def_vmap(self, vmap_rule: Callable[..., tuple[Any, Any]]
                 ) -> Callable[..., tuple[Any, Any]]:
        """Set the vmap rule; returns it unchanged (usable as a decorator)."""
        self.vmap_rule = vmap_rule
        return vmap_rule

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.fun, "__name__", "<unnamed function>")
        if self.vmap_rule is None:
            raise AttributeError(f"No batching rule defined for custom_vmap function {name} "
                                 "using def_vmap.")
        a = _Args(self.fun, args, kwargs, ())
        jaxpr, consts, out_tree = a.trace(self.fun, name)
        rule = _FlatRule(self.vmap_rule, getattr(self.vmap_rule, "__name__", "<unnamed rule>"),
                         a.in_tree, out_tree)
        outs = custom_vmap_call_p.bind(*consts, *a.leaves, jaxpr=jaxpr, rule=rule,
                                       num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


def sequential_vmap(f: Callable[..., Any]) -> custom_vmap:
    """``f`` as a ``custom_vmap`` whose vmap rule loops over the batch (``lax.map``) instead of
    batching ``f``'s operations; every output is batched."""
    from xtrace._src.prims.control_flow import map as lax_map
    f = custom_vmap(f)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        del axis_size
        mapped = tree_map(lambda b, x: x if b else None, in_batched, list(args))
        fixed = tree_map(lambda b, x: None if b else x, in_batched, list(args))

        def one(xs):
            return f(*tree_map(lambda b, x, y: x if b else y, in_batched, xs, fixed))

        out = lax_map(one, mapped)
        return out, tree_map(lambda _: True, out)

    return f

