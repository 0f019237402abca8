"""``jax.scipy.fft``: the type-2 discrete cosine transform and its inverse (``dct``, ``dctn``,
``idct``, ``idctn``), computed with one FFT per axis."""
from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes
from xtrace._src.array import Array
from xtrace._src.numpy.shapes import _eager_jit_auto
from xtrace._src.scipy.special import promote_dtypes_inexact as _promote


def _check(name: str, x, type: int, norm) -> Array:
    if type != 2:
        raise NotImplementedError("Only DCT type 2 is implemented.")
    if norm is not None and norm not in ("backward", "ortho"):
        raise ValueError(f"xtrace.scipy.fft.{name}: norm={norm!r} is not implemented")
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"xtrace.scipy.fft.{name}: expected an array, got {type(x).__name__}")
    return xnp.asarray(x)


def _axis(axis: int, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def _resize_axis(x, n: int | None, axis: int) -> Array:
    """Zero-pad or truncate ``x`` to length ``n`` along ``axis``."""
    if n is None or n == x.shape[axis]:
        return x
    if n < x.shape[axis]:
        return xnp.take(x, np.arange(n), axis=axis)
    width = [(0, 0)] * x.ndim
    width[axis] = (0, n - x.shape[axis])
    return xnp.pad(x, width)


def _along(v, axis: int, ndim: int):
    return xnp.reshape(v, [-1 if a == axis else 1 for a in range(ndim)])


def _ortho_factor(n: int, dt) -> np.ndarray:
    """``sqrt(4n)`` for the first coefficient, ``sqrt(2n)`` for the others."""
    f = np.full((n,), 2.0 * n)
    f[0] = 4.0 * n
    return np.sqrt(f).astype(dt)


def _w4(n: int, k):
    return xnp.exp(-0.5j * np.pi * k / n)


@_eager_jit_auto
def dct(x, type: int = 2, n: int | None = None, axis: int = -1,
        norm: str | None = None) -> Array:
    """Type-2 DCT along ``axis`` (``scipy.fft.dct``); ``norm`` is None/'backward' or 'ortho';
    ``n`` zero-pads or truncates first."""
    x = _check("dct", x, type, norm)
    if dtypes.is_complex(x.dtype):
        return _complex(dct, x, n=n, axis=axis, norm=norm)
    axis = _axis(axis, x.ndim)
    x = _resize_axis(x, n, axis)
    N = x.shape[axis]
    # even samples in order, then odd samples reversed (Makhoul's reordering)
    order = np.concatenate([np.arange(0, N, 2), np.arange(1, N, 2)[::-1]])
    V = xnp.fft.fft(xnp.take(x, order, axis=axis), axis=axis)
    k = _along(xnp.arange(N, dtype=xnp.real(V).dtype), axis, x.ndim)
    out = 2 * xnp.real(V * _w4(N, k))
    if norm == "ortho":
        out = out / _along(_ortho_factor(N, out.dtype), axis, x.ndim)
    return out


@_eager_jit_auto
def idct(x, type: int = 2, n: int | None = None, axis: int = -1,
         norm: str | None = None) -> Array:
    """Inverse of the type-2 DCT along ``axis`` (``scipy.fft.idct`` of type 2)."""
    x = _check("idct", x, type, norm)
    if dtypes.is_complex(x.dtype):
        return _complex(idct, x, n=n, axis=axis, norm=norm)
    axis = _axis(axis, x.ndim)
    x = _resize_axis(x, n, axis)
    N = x.shape[axis]
    (x,) = _promote("xtrace.scipy.fft.idct", x)
    f = _along(_ortho_factor(N, x.dtype), axis, x.ndim)
    x = x / f if norm == "ortho" else x / (f * f)
    k = _along(xnp.arange(N, dtype=x.dtype), axis, x.ndim)
    v = xnp.real(xnp.fft.ifft(x / _w4(N, k) * (2 * N), axis=axis))
    # undo the reordering: first ceil(N/2) entries are the even samples
    h = (N + 1) // 2
    inverse = np.empty(N, int)
    inverse[0::2] = np.arange(h)
    inverse[1::2] = np.arange(N - 1, h - 1, -1)
    return xnp.take(v, inverse, axis=axis)


def _complex(fn, x, **kw) -> Array:
    re, im = fn(xnp.real(x), **kw), fn(xnp.imag(x), **kw)
    return re + 1j * im


def _nd_axes(x, s, axes):
    if s is not None:
        try:
            s = list(s)
        except TypeError:
            s = [operator.index(s)]
        if len(s) > x.ndim:
            raise ValueError(f"s must have at most x.ndim ({x.ndim}) elements, got {len(s)}")
    if axes is None:
        axes = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
    else:
        axes = tuple(_axis(a, x.ndim) for a in axes)
    ns = list(s) if s is not None else [None] * len(axes)
    return axes, ns


def _along_axes(transform, x, s, axes, norm):
    """``transform`` (dct or idct) applied along each of ``axes`` in turn."""
    axes, ns = _nd_axes(x, s, axes)
    for axis, n in zip(axes, ns):
        x = transform(x, n=n, axis=axis, norm=norm)
    return x


@_eager_jit_auto
def dctn(x, type: int = 2, s: Sequence[int] | None = None,
         axes: Sequence[int] | None = None, norm: str | None = None) -> Array:
    """Multidimensional type-2 DCT over ``axes`` (default: all, or the last ``len(s)``)."""
    return _along_axes(dct, _check("dctn", x, type, norm), s, axes, norm)


@_eager_jit_auto
def idctn(x, type: int = 2, s: Sequence[int] | None = None,
          axes: Sequence[int] | None = None, norm: str | None = None) -> Array:
    """Multidimensional inverse type-2 DCT over ``axes``."""
    return _along_axes(idct, _check("idctn", x, type, norm), s, axes, norm)
