"""Conversion, dtype promotion and broadcasting: the base of xtrace.numpy."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer, get_aval


ndarray = Array
ArrayLike = Any


# ---------------------------------------------------------------------------------------------
# Conversion, promotion, broadcasting


def _is_array(x) -> bool:
    return isinstance(x, (Array, Tracer))


def asarray(a: ArrayLike, dtype: Any = None, copy: bool | None = None) -> Array:
    """Convert ``a`` to an xtrace array (the full rules live in ``creation.asarray``)."""
    if _is_array(a) and dtype is None:
        return a
    from xtrace._src.numpy.creation import asarray as _asarray
    return _asarray(a, dtype)


def _flat(xs):
    for x in xs:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def array(object: ArrayLike, dtype: Any = None, copy: bool = True, ndmin: int = 0) -> Array:
    out = asarray(object, dtype)
    if _is_array(object) or dtypes.is_python_scalar(object):
        if out.aval.weak_type and dtype is None and not dtypes.is_python_scalar(object):
            pass
    if ndmin > out.ndim:
        out = lax.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def result_type(*args: Any) -> np.dtype:
    pairs = []
    for a in args:
        if isinstance(a, (np.dtype, type)) or isinstance(a, str):
            pairs.append((dtypes.canonicalize_dtype(a), False))
        else:
            av = get_aval(a)
            pairs.append((av.dtype, av.weak_type))
    return dtypes.promote_types_weak(*pairs)[0]


def _to_dtype(x, dt: np.dtype, weak: bool):
    """Convert one operand to ``(dt, weak)``, keeping Python scalars as cheap literals."""
    if dtypes.is_python_scalar(x):
        if weak and dt == dtypes.python_scalar_dtype(
                {"i": 0, "u": 0, "f": 0.0, "c": 0j, "b": False}.get(dt.kind, 0.0)):
            return {"i": int, "u": int, "f": float, "c": builtins.complex}.get(dt.kind, float)(x)
        return np.asarray(x, dtype=dt)[()]
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        return np.asarray(x, dtype=dt)
    av = x.aval
    if av.dtype == dt and av.weak_type == weak:
        return x
    return lax.convert_element_type(x, dt, weak)


def promote_args(fname: str, *args: Any) -> list[Any]:
    """Promote to a common dtype (JAX lattice) and broadcast to a common shape."""
    avals = []
    for a in args:
        if isinstance(a, (list, tuple)):
            a = np.asarray(a)
        try:
            avals.append(get_aval(a))
        except TypeError:
            raise TypeError(f"{fname}: argument of type {type(a).__name__} is not an array "
                            "or scalar") from None
    dt, weak = dtypes.promote_types_weak(*[(a.dtype, a.weak_type) for a in avals])
    out = [_to_dtype(a, dt, weak) for a in args]
    return broadcast_arrays_for(fname, out, avals)


def promote_dtypes_only(*args: Any) -> list[Any]:
    avals = [get_aval(np.asarray(a) if isinstance(a, (list, tuple)) else a) for a in args]
    dt, weak = dtypes.promote_types_weak(*[(a.dtype, a.weak_type) for a in avals])
    return [_to_dtype(a, dt, weak) for a in args]


class ShapeError(TypeError, ValueError):
    """Operand shapes that do not fit together: a ValueError, as NumPy raises, and a TypeError,
    as JAX raises, so code written for either catches it."""


def broadcast_shapes(*shapes: Sequence[int], fname: str = "broadcast_shapes") -> tuple:
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ShapeError(f"{fname}: shapes " + ", ".join(str(tuple(s)) for s in shapes)
                         + " cannot be broadcast together") from None


def broadcast_arrays_for(fname: str, xs: list, avals=None) -> list:
    shapes = [np.shape(x) if not _is_array(x) else x.shape for x in xs]
    if builtins.all(s == shapes[0] for s in shapes):
        return xs
    shape = broadcast_shapes(*shapes, fname=fname)
    return [broadcast_to(x, shape) if s != shape else x for x, s in zip(xs, shapes)]


def broadcast_to(x: ArrayLike, shape: Sequence[int]) -> Array:
    shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    xs = np.shape(x) if not _is_array(x) else x.shape
    if xs == shape:
        return x if _is_array(x) or dtypes.is_python_scalar(x) else asarray(x)
    nd = len(shape)
    if len(xs) > nd:
        raise ValueError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    lead = nd - len(xs)
    for i, d in enumerate(xs):
        if d != 1 and d != shape[lead + i]:
            raise ValueError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    keep = [i for i, d in enumerate(xs) if d == shape[lead + i]]
    if len(keep) != len(xs):
        x = lax.reshape(x, [xs[i] for i in keep])
    return lax.broadcast_in_dim(x, shape, [lead + i for i in keep])


def broadcast_arrays(*args: ArrayLike) -> list[Array]:
    return [asarray(a) for a in broadcast_arrays_for("broadcast_arrays", list(args))]


# ---------------------------------------------------------------------------------------------


def astype(x, dtype, copy: bool = False, device=None) -> Array:
    """``x`` cast to ``dtype`` (canonicalized: 64-bit types need enable_x64), on ``device``
    when one is given."""
    x = x if _is_array(x) else asarray(x)
    out = lax.convert_element_type(x, dtypes.canonicalize_dtype(dtype), False)
    if device is not None:
        from xtrace._src.dispatch import device_put
        out = device_put(out, device)
    return out


def _shape_tuple(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None


def _axis_tuple(axis, ndim, fname) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(operator.index(a) for a in axis)
    else:
        axes = (operator.index(axis),)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise np.exceptions.AxisError(f"{fname}: axis {a} is out of bounds "
                                          f"for array of dimension {ndim}")
    return tuple(sorted(a % builtins.max(ndim, 1) for a in axes))


def shape(a) -> tuple:
    return tuple(get_aval(a).shape)


def ndim(a) -> int:
    return get_aval(a).ndim


def size(a, axis: int | tuple[int, ...] | None = None) -> int:
    """The number of elements of ``a`` (along ``axis``: an int or a tuple of ints)."""
    aval = get_aval(a)
    if axis is None:
        return aval.size
    axes = _axis_tuple(axis, aval.ndim, "size")
    return int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
__all__ = [n for n in __all__
           if n not in ("broadcast_arrays_for", "promote_args", "promote_dtypes_only", "ShapeError")]
