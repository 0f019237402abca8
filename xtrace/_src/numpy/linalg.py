"""Products: matmul, dot, vdot."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer, get_aval
from xtrace._src.numpy.core import _is_array, asarray, broadcast_shapes, broadcast_to, promote_dtypes_only
from xtrace._src.numpy.shapes import ravel
from xtrace._src.numpy.ufuncs import conj, multiply


def matmul(a, b, /, *, precision=None, preferred_element_type=None) -> Array:
    a, b = promote_dtypes_only(a, b)
    a = a if _is_array(a) else asarray(a)
    b = b if _is_array(b) else asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must not be scalars, got shapes {a.shape} and "
                         f"{b.shape}")
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = lax.expand_dims(a, (0,))
    if b_vec:
        b = lax.expand_dims(b, (1,))
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: contracting dimensions differ: shapes {a.shape} and "
                         f"{b.shape} (size {a.shape[-1]} is different from {b.shape[-2]})")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], fname="matmul")
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    nb = len(batch)
    out = lax.dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                          precision, preferred_element_type)
    if a_vec:
        out = lax.squeeze(out, (nb,))
    if b_vec:
        out = lax.squeeze(out, (out.ndim - 1,))
    return out


def dot(a, b, *, precision=None, preferred_element_type=None) -> Array:
    a, b = promote_dtypes_only(a, b)
    a = a if _is_array(a) else asarray(a)
    b = b if _is_array(b) else asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim == 1:
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"dot: shapes {a.shape} and {b.shape} not aligned")
        return lax.dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())), precision,
                               preferred_element_type)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(dim {a.ndim - 1}) != {b.shape[-2]} (dim {b.ndim - 2})")
    return lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 2,)), ((), ())), precision,
                           preferred_element_type)


def vdot(a, b) -> Array:
    return dot(ravel(conj(a)), ravel(b))


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
