"""Packing booleans into the bits of uint8 and back: packbits, unpackbits (JAX's rules)."""
from __future__ import annotations

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.numpy.core import _axis_tuple
from xtrace._src.numpy.index_tricks import _arrays
from xtrace._src.numpy.reductions import _jit
import xtrace.numpy as xnp


def _check_bitorder(bitorder: str) -> None:
    if bitorder not in ("little", "big"):
        raise ValueError(f"'order' must be either 'little' or 'big', got {bitorder!r}")


def _bit_values(bitorder: str):
    bits = np.arange(8, dtype=np.uint8)
    return bits[::-1].copy() if bitorder == "big" else bits


@_jit(static_argnames=("axis", "bitorder"))
def _packbits(a, *, axis, bitorder):
    a = lax.convert_element_type(lax.ne(a, xnp.zeros((), a.dtype)), np.uint8)
    a = xnp.swapaxes(a, axis, -1)
    rem = a.shape[-1] % 8
    if rem:
        a = xnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 8 - rem)])
    a = a.reshape(a.shape[:-1] + (a.shape[-1] // 8, 8))
    packed = xnp.sum(xnp.left_shift(a, _bit_values(bitorder)), axis=-1).astype(np.uint8)
    return xnp.swapaxes(packed, axis, -1)


def packbits(a, axis: int | None = None, bitorder: str = "big"):
    """The non-zero-ness of the elements of ``a`` packed 8 to a uint8 along ``axis``
    (flattened when None), the last byte padded with zeros; ``bitorder``: ``'big'`` puts the
    first element in the most significant bit."""
    (a,) = _arrays("packbits", a)
    if not (dtypes.is_int(a.dtype) or a.dtype == dtypes.bool_):
        raise TypeError(f"packbits: expected an input array of integer or boolean data type, "
                        f"got {a.dtype.name}")
    _check_bitorder(bitorder)
    if axis is None:
        a, axis = xnp.ravel(a), 0
    axis = _axis_tuple(axis, a.ndim, "packbits")[0]
    return _packbits(a, axis=axis, bitorder=bitorder)


@_jit(static_argnames=("axis", "count", "bitorder"))
def _unpackbits(a, *, axis, count, bitorder):
    bits = np.left_shift(np.uint8(1), _bit_values(bitorder))
    a = xnp.swapaxes(a, axis, -1)
    out = (xnp.bitwise_and(a[..., None], bits) > 0).astype(np.uint8)
    out = out.reshape(out.shape[:-2] + (-1,))
    if count is not None:
        if count > out.shape[-1]:
            out = xnp.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, count - out.shape[-1])])
        else:
            out = out[..., :count]
    return xnp.swapaxes(out, axis, -1)


def unpackbits(a, axis: int | None = None, count: int | None = None, bitorder: str = "big"):
    """The bits of the uint8 array ``a`` as uint8 0/1 values along ``axis`` (flattened when
    None); ``count`` keeps that many bits (negative: drops them; more: pads with zeros)."""
    (a,) = _arrays("unpackbits", a)
    if a.dtype != np.uint8:
        raise TypeError(f"unpackbits: expected an input array of unsigned byte data type, "
                        f"got {a.dtype.name}")
    _check_bitorder(bitorder)
    if axis is None:
        a, axis = xnp.ravel(a), 0
    axis = _axis_tuple(axis, a.ndim, "unpackbits")[0]
    count = None if count is None else int(count)
    return _unpackbits(a, axis=axis, count=count, bitorder=bitorder)


__all__ = ["packbits", "unpackbits"]
