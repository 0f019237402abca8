"""Mapping Python functions over array axes with ``vmap``: vectorize, apply_along_axis,
apply_over_axes (JAX's implementations: the function is traced once, not called per
element)."""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, Collection, Sequence

import numpy as np

from xtrace._src.api import vmap
from xtrace._src.numpy.core import _axis_tuple, asarray, broadcast_shapes
from xtrace._src.numpy.index_tricks import _arrays
import xtrace.numpy as xnp

_DIM = r"\w+"
_CORE_DIMS = "(?:{0:}(?:,{0:})*)?".format(_DIM)
_ARGUMENT = rf"\({_CORE_DIMS}\)"
_ARGUMENT_LIST = "{0:}(?:,{0:})*".format(_ARGUMENT)
_SIGNATURE = "^{0:}->{0:}$".format(_ARGUMENT_LIST)


def _parse_signature(signature: str) -> tuple[list[tuple], list[tuple]]:
    """``'(m,n),(n)->(m)'`` as ([('m', 'n'), ('n',)], [('m',)])."""
    if not re.match(_SIGNATURE, signature.replace(" ", "")):
        raise ValueError(f"vectorize: not a valid gufunc signature: {signature}")
    ins, outs = ([tuple(re.findall(_DIM, arg)) for arg in re.findall(_ARGUMENT, part)]
                 for part in signature.replace(" ", "").split("->"))
    return ins, outs


def _update_dim_sizes(sizes: dict, shape: tuple, core: tuple, context: str, *,
                      is_input: bool) -> None:
    if is_input and len(shape) < len(core):
        raise ValueError(f"vectorize: input with shape {shape} does not have enough "
                         f"dimensions for all core dimensions {core} {context}")
    if not is_input and len(shape) != len(core):
        raise ValueError(f"vectorize: output shape {shape} does not match core dimensions "
                         f"{core} {context}")
    for dim, size in zip(core, shape[len(shape) - len(core):] if core else ()):
        if sizes.setdefault(dim, size) != size:
            raise ValueError(f"vectorize: inconsistent size for core dimension {dim!r}: "
                             f"{size} vs {sizes[dim]} {context}")


def _check_outputs(func: Callable, sizes: dict, out_core: list, context: str) -> Callable:
    def wrapped(*args):
        out = func(*args)
        outs = out if isinstance(out, tuple) else [out]
        if len(out_core) > 1 and not isinstance(out, tuple):
            raise TypeError(f"vectorize: output must be a tuple when multiple outputs are "
                            f"expected, got {out!r} {context}")
        if len(outs) != len(out_core):
            raise TypeError(f"vectorize: wrong number of output arguments: expected "
                            f"{len(out_core)}, got {len(outs)} {context}")
        sizes_out = dict(sizes)
        for o, core in zip(outs, out_core):
            _update_dim_sizes(sizes_out, np.shape(o), core, context, is_input=False)
        return out
    return wrapped


def _apply_excluded(func: Callable, excluded: Collection, args: Sequence, kwargs: dict):
    """``func`` with the ``excluded`` positional/keyword arguments bound, and the rest."""
    if not excluded:
        return func, list(args), kwargs
    dyn_args = [a for i, a in enumerate(args) if i not in excluded]
    dyn_kwargs = {k: v for k, v in kwargs.items() if k not in excluded}
    static_args = [(i, args[i]) for i in sorted(e for e in excluded if isinstance(e, int))
                   if i < len(args)]
    static_kwargs = {k: v for k, v in kwargs.items() if k in excluded}

    def new_func(*a, **kw):
        a = list(a)
        for i, v in static_args:
            a.insert(i, v)
        return func(*a, **kw, **static_kwargs)
    return new_func, dyn_args, dyn_kwargs


def vectorize(pyfunc: Callable, *, excluded: Collection = frozenset(),
              signature: str | None = None) -> Callable:
    """``pyfunc`` made to broadcast over leading axes, as ``numpy.vectorize`` but with
    ``vmap`` (``pyfunc`` is traced once per batch level, not called per element).
    ``excluded``: positions or names of arguments passed through unchanged; ``signature``: a
    gufunc signature such as ``'(n),(n)->()'`` naming the core dimensions ``pyfunc`` sees."""
    if any(not isinstance(e, (str, int)) for e in excluded):
        raise TypeError(f"vectorize can only exclude integer or string arguments, but "
                        f"excluded={excluded!r}")
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f"vectorize: excluded={excluded!r} contains negative numbers")

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        context = f"on vectorized function with excluded={excluded!r} and " \
                  f"signature={signature!r}"
        func, args, kwargs = _apply_excluded(pyfunc, excluded, args, kwargs)
        if signature is not None:
            in_core, out_core = _parse_signature(signature)
        else:
            in_core, out_core = [()] * len(args), None
        nones = {i for i, a in enumerate(args) if a is None}
        if nones:
            if any(in_core[i] != () for i in nones):
                raise ValueError(f"vectorize: cannot pass None at locations {nones} with "
                                 f"signature={signature!r}")
            func, args, _ = _apply_excluded(func, nones, args, {})
            in_core = [d for i, d in enumerate(in_core) if i not in nones]
        if kwargs:  # keyword arguments that are not excluded are passed unmapped
            func = functools.partial(func, **kwargs)
        args = [asarray(a) for a in args]
        if len(args) != len(in_core):
            raise TypeError(f"vectorize: wrong number of positional arguments: expected "
                            f"{len(in_core)}, got {len(args)} {context}")
        sizes: dict = {}
        for a, core in zip(args, in_core):
            _update_dim_sizes(sizes, a.shape, core, context, is_input=True)
        shapes = [a.shape[:a.ndim - len(c)] for a, c in zip(args, in_core)]
        bshape = broadcast_shapes(*shapes, fname="vectorize")
        checked = func if out_core is None else _check_outputs(func, sizes, out_core, context)
        squeezed, rev_filled = [], []
        for a, s in zip(args, shapes):
            rev_filled.append(((len(bshape) - len(s)) * (1,) + s)[::-1])
            squeezed.append(xnp.squeeze(a, axis=tuple(i for i, d in enumerate(s) if d == 1)))
        mapped, expand = checked, []
        for negdim, sizes_here in enumerate(zip(*rev_filled)):
            in_axes = tuple(None if d == 1 else 0 for d in sizes_here)
            if all(ax is None for ax in in_axes):
                expand.append(len(bshape) - 1 - negdim)
            else:
                mapped = vmap(mapped, in_axes)
        result = mapped(*squeezed)
        if not expand:
            return result
        if isinstance(result, tuple):
            return tuple(xnp.expand_dims(r, expand) for r in result)
        return xnp.expand_dims(result, expand)
    return wrapped


def apply_along_axis(func1d: Callable, axis: int, arr, *args, **kwargs):
    """``func1d(a, *args, **kwargs)`` applied to every 1-D slice of ``arr`` along ``axis``
    (by ``vmap``); the slices' results take the place of ``axis``."""
    (arr,) = _arrays("apply_along_axis", arr)
    axis = _axis_tuple(axis, arr.ndim, "apply_along_axis")[0]

    def func(a):
        return func1d(a, *args, **kwargs)
    for i in range(1, arr.ndim - axis):
        func = vmap(func, in_axes=i, out_axes=-1)
    for _ in range(axis):
        func = vmap(func, in_axes=0, out_axes=0)
    return func(arr)


def apply_over_axes(func: Callable[[Any, int], Any], a, axes: Sequence[int]):
    """``func(a, axis)`` applied for each axis in turn; a result with one dimension less
    gets the axis back (size 1), so the rank never changes."""
    (a,) = _arrays("apply_over_axes", a)
    for axis in axes:
        b = asarray(func(a, axis))
        if b.ndim == a.ndim - 1:
            b = xnp.expand_dims(b, axis)
        elif b.ndim != a.ndim:
            raise ValueError(f"apply_over_axes: function is not returning an array of the "
                             f"correct shape (got {b.shape} from input {a.shape})")
        a = b
    return a


__all__ = ["vectorize", "apply_along_axis", "apply_over_axes"]
