"""Helpers shared by the primitive records: definition, dtype checks, argument conversion."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import core, dtypes
from xtrace._src.core import ShapedArray, Tracer

KIND_NAMES = {"bool": "bool", "int": "signed integer", "uint": "unsigned integer",
              "float": "floating point", "complex": "complex"}
NUM = ("int", "uint", "float", "complex")
FLOAT = ("float",)
INEXACT = ("float", "complex")
INTEGRAL = ("bool", "int", "uint")
ANY = ("bool", "int", "uint", "float", "complex")


def kind(dt: np.dtype) -> str:
    if dt == dtypes.bool_:
        return "bool"
    if dtypes.is_signed_int(dt):
        return "int"
    if dtypes.is_unsigned(dt):
        return "uint"
    if dtypes.is_complex(dt):
        return "complex"
    return "float"


def define(name: str, abstract_eval: Callable, lower: Callable, *,
           multiple_results: bool = False, impl: Callable | None = None) -> core.Primitive:
    """Create and register a primitive record with its shape rule and lowering."""
    p = core.Primitive(name, multiple_results=multiple_results)
    p.abstract_eval = abstract_eval
    p.lower = lower
    if impl is not None:
        p.impl = impl
    return core.register(p)


def check_kind(prim: str, aval: ShapedArray, kinds: Sequence[str], arg: str = "") -> None:
    if kind(aval.dtype) not in kinds:
        allowed = ", ".join(KIND_NAMES[k] for k in kinds)
        raise TypeError(f"{prim} does not accept dtype {aval.dtype.name}"
                        f"{' for ' + arg if arg else ''}; it accepts: {allowed}")


def check_axis(prim: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{prim}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim if ndim else 0


def check_axes(prim: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{prim}: axis {a} is out of bounds for an array of rank {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{prim}: repeated axis in {tuple(axes)}")
    return tuple(out)


def same_shapes_dtypes(prim: str, avals: Sequence[ShapedArray]) -> None:
    shapes = {a.shape for a in avals}
    if len(shapes) > 1:
        raise TypeError(f"{prim} got incompatible shapes for broadcasting: "
                        + ", ".join(str(a.shape) for a in avals)
                        + " (lax-level operations need equal shapes; xtrace.numpy broadcasts)")
    dts = {a.dtype for a in avals}
    if len(dts) > 1:
        raise TypeError(f"{prim} requires arguments to have the same dtypes, got "
                        + ", ".join(a.dtype.name for a in avals)
                        + " (xtrace.numpy promotes; in lax, convert with "
                        "lax.convert_element_type)")


def lax_args(*args: Any) -> list[Any]:
    """Convert Python scalars to the dtype of the array operands (lax's weak-type rule)."""
    target = None
    for a in args:
        if not dtypes.is_python_scalar(a):
            target = core.get_aval(a)
            break
    out = []
    for a in args:
        if target is not None and dtypes.is_python_scalar(a):
            if target.weak_type and dtypes.python_scalar_dtype(a) == target.dtype:
                out.append(a)
            else:
                _check_scalar_fits(a, target.dtype)
                out.append(np.asarray(a, dtype=target.dtype)[()])
        elif isinstance(a, (np.ndarray, np.generic, list, tuple)) and not isinstance(a, Tracer):
            arr = np.asarray(a)
            out.append(arr.astype(dtypes.canonicalize_dtype(arr.dtype)))
        else:
            out.append(a)
    return out


def _check_scalar_fits(x: Any, dtype: np.dtype) -> None:
    """A Python float cannot become an integer/bool operand, nor a complex a real one: that
    would silently drop its fraction or imaginary part (JAX's lax raises a TypeError)."""
    k = kind(dtype)
    if (type(x) is float and k in ("int", "uint", "bool")) or (type(x) is complex
                                                               and k != "complex"):
        raise TypeError(f"lax operations require operands of one dtype: got a Python "
                        f"{type(x).__name__} ({x!r}) with a {dtype.name} operand (convert it "
                        "with lax.convert_element_type, or use xtrace.numpy, which promotes)")


def tensor_dims(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in shape)


def broadcast_rank0(args: list[Any]) -> list[Any]:
    """Broadcast rank-0 operands to the shape of the others, as JAX's lax n-ary ops do."""
    shapes = [core.get_aval(a).shape for a in args]
    target = next((s for s in shapes if s), None)
    if target is None or all(s == target for s in shapes):
        return args
    from xtrace._src.prims.structural import broadcast_in_dim
    return [broadcast_in_dim(a, target, ()) if s == () else a for a, s in zip(args, shapes)]
