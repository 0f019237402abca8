"""Host callbacks, JAX's API: ``pure_callback``, ``experimental.io_callback``,
``debug.callback`` and ``debug.print`` (the primitives are in prims/callbacks.py)."""
from __future__ import annotations

import string
from typing import Any, Callable

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, Tracer
from xtrace._src.prims.callbacks import (VMAP_METHODS, FlatCallback, debug_callback_p,
                                         io_callback_p, pure_callback_p)
from xtrace._src.tree_util import tree_flatten, tree_unflatten


def _is_dynamic(x: Any) -> bool:
    """Whether a leaf is an array value (passed through the program) rather than a Python
    object handed to the callback as is (a string, None, ...)."""
    from xtrace._src.array import Array
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex))


def _to_array(x: Any):
    from xtrace._src.dispatch import device_put
    return x if isinstance(x, Tracer) else device_put(x)


def _flatten_args(callback: Callable, args: tuple, kwargs: dict):
    """(dynamic leaves as arrays, FlatCallback over them); other leaves stay in the closure."""
    leaves, tree = tree_flatten((args, kwargs))
    dynamic = [_is_dynamic(x) for x in leaves]
    vals = [_to_array(x) for x, d in zip(leaves, dynamic) if d]
    statics = [None if d else x for x, d in zip(leaves, dynamic)]

    def rebuild(*dyn):
        it = iter(dyn)
        full = [next(it) if d else x for x, d in zip(statics, dynamic)]
        a, k = tree_unflatten(tree, full)
        return callback(*a, **k)

    return vals, FlatCallback(rebuild)


def _result_avals(result_shape_dtypes: Any):
    leaves, tree = tree_flatten(result_shape_dtypes)
    avals = []
    for x in leaves:
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError("result_shape_dtypes must be a pytree of objects with .shape and "
                            f".dtype (e.g. xtrace.ShapeDtypeStruct), got {x!r}")
        avals.append(ShapedArray(tuple(int(d) for d in x.shape),
                                 dtypes.canonicalize_dtype(x.dtype),
                                 bool(getattr(x, "weak_type", False))))
    return tuple(avals), tree


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None, **kwargs: Any) -> Any:
    """Call the side-effect-free Python function ``callback(*args, **kwargs)`` from inside
    traced code; its results must match ``result_shape_dtypes`` (a pytree of
    ``ShapeDtypeStruct``). XLA may skip it when its results are unused. Under ``vmap``,
    ``vmap_method`` says how: "sequential" (one call per example), "expand_dims" (unbatched
    arguments get a leading axis of size 1), "broadcast_all" (every argument gets the batch
    axis); None raises. Not differentiable: wrap it in ``custom_jvp``/``custom_vjp``.
    Runs on the CPU backend (``sharding`` is accepted and unused)."""
    if vmap_method not in VMAP_METHODS + (None,):
        raise ValueError(f"vmap_method must be one of the allowed methods "
                         f"{list(VMAP_METHODS) + [None]}, but got: {vmap_method}")
    avals, out_tree = _result_avals(result_shape_dtypes)
    vals, flat = _flatten_args(callback, args, kwargs)
    outs = pure_callback_p.bind(*vals, callback=flat, result_avals=avals,
                                vmap_method=vmap_method)
    return tree_unflatten(out_tree, outs)


def io_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                sharding: Any = None, ordered: bool = False, **kwargs: Any) -> Any:
    """Call the Python function ``callback(*args, **kwargs)``, which may have side effects,
    from inside traced code: it is never skipped, and ``ordered=True`` keeps the calls in
    program order (ordered callbacks cannot be vmapped). Results must match
    ``result_shape_dtypes``. Not differentiable. Runs on the CPU backend."""
    avals, out_tree = _result_avals(result_shape_dtypes)
    vals, flat = _flatten_args(callback, args, kwargs)
    outs = io_callback_p.bind(*vals, callback=flat, result_avals=avals, ordered=bool(ordered))
    return tree_unflatten(out_tree, outs)


def debug_callback(callback: Callable[..., None], *args: Any, ordered: bool = False,
                   partitioned: bool = False, **kwargs: Any) -> None:
    """Call ``callback(*args, **kwargs)`` for its side effects with the runtime values of the
    arrays among ``args``/``kwargs`` (eagerly, under jit, inside loops: each iteration, under
    vmap: each example, under grad: the primal values). Returns None; ``ordered=True`` keeps
    program order."""
    if not callable(callback):
        raise TypeError(f"debug.callback expects a callable, got {callback!r}")
    def call(*a: Any, **k: Any) -> None:  # its return value is ignored, as in JAX
        callback(*a, **k)

    vals, flat = _flatten_args(call, args, kwargs)
    debug_callback_p.bind(*vals, callback=flat, ordered=bool(ordered))


def _print_formatted(fmt: str, *args: Any, **kwargs: Any) -> None:
    print(fmt.format(*args, **kwargs))


def _check_format(fmt: str, args: tuple, kwargs: dict) -> None:
    """Raise, while tracing, what ``fmt.format`` would raise at run time for a missing
    argument: IndexError (positional) or KeyError (named), as JAX does."""
    auto = 0
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if name == "":
            name, auto = str(auto), auto + 1
        if name.isdigit():
            if int(name) >= len(args):
                raise IndexError(f"Replacement index {name} out of range for positional args "
                                 f"tuple (debug.print got {len(args)} positional arguments)")
        elif name not in kwargs:
            raise KeyError(name)


def debug_print(fmt: str, *args: Any, ordered: bool = False, partitioned: bool = False,
                skip_format_check: bool = False, **kwargs: Any) -> None:
    """Print ``fmt.format(*args, **kwargs)`` with the runtime values of the arrays (eagerly,
    under jit, in each loop iteration, per example under vmap, primal values under grad).
    A placeholder without an argument raises IndexError/KeyError while tracing."""
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print expects a format string first, got {type(fmt).__name__}")
    if not skip_format_check:
        _check_format(fmt, args, kwargs)
    debug_callback(_print_formatted, fmt, *args, ordered=ordered, **kwargs)
