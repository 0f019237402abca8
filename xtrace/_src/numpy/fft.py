"""``xtrace.numpy.fft``: NumPy's discrete Fourier transforms with JAX's semantics.

Every transform is one composition around the ``fft`` primitive (``lax.fft``): move the
transformed axes to the end, cut or zero-pad them to the requested lengths, transform (XLA
does at most three dimensions at once; more are split, as in JAX), scale for ``norm`` and move
the axes back. Dtypes follow JAX: bool/integer/float32 inputs give complex64 (float64 and
64-bit integers give complex128 with x64 enabled), ``irfft``/``hfft`` give the matching real
type; ``rfft`` rejects complex inputs.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer
from xtrace._src.numpy.reductions import _jit
from xtrace._src.prims.fft import FftType, _real_dtype, _to_inexact

_NORMS = (None, "backward", "ortho", "forward")


def _arr(a: Any) -> Any:
    from xtrace._src.numpy.shapes import _arr as arr
    return arr(a)


def _check_norm(norm: str | None) -> None:
    if norm not in _NORMS:
        raise ValueError(f'Invalid norm value {norm!r}; should be None, "backward", "ortho" '
                         'or "forward".')


def _norm_factor(func_name: str, norm: str | None, s: Sequence[int]) -> float:
    """The scale of the result: the primitive's inverse transforms already divide by n."""
    n = math.prod(s)
    if norm in (None, "backward") or n == 0:  # n == 0: an empty result (irfft of length 1)
        return 1.0
    inverse = func_name.startswith("i")
    if norm == "ortho":
        return math.sqrt(n) if inverse else 1.0 / math.sqrt(n)
    return float(n) if inverse else 1.0 / n


def _fit(arr, shape: Sequence[int]):
    """``arr`` cut and/or zero-padded at the end of each dimension to ``shape``."""
    cur = tuple(arr.shape)
    if any(t < c for t, c in zip(shape, cur)):
        arr = lax.slice(arr, [0] * len(cur), [min(t, c) for t, c in zip(shape, cur)])
    if any(t > c for t, c in zip(shape, arr.shape)):
        arr = lax.pad(arr, np.zeros((), arr.dtype),
                      [(0, t - c, 0) for t, c in zip(shape, arr.shape)])
    return arr


def _fft_nd(arr, fft_type: FftType, s: tuple[int, ...]):
    """The transform over the last ``len(s)`` axes; XLA handles at most three at once, so more
    are done in groups (the complex-to-complex part on the leading group)."""
    if len(s) <= 3:
        return lax.fft(arr, fft_type, s)
    from xtrace._src.numpy.shapes import moveaxis
    n = 2 if len(s) == 4 else 3
    src = tuple(range(arr.ndim - len(s), arr.ndim - n))
    dst = tuple(range(arr.ndim - len(s) + n, arr.ndim))
    if fft_type in (FftType.RFFT, FftType.FFT):
        arr = lax.fft(arr, fft_type, s[-n:])
        arr = moveaxis(_fft_nd(moveaxis(arr, src, dst), FftType.FFT, s[:-n]), dst, src)
    else:
        arr = moveaxis(_fft_nd(moveaxis(arr, src, dst), FftType.IFFT, s[:-n]), dst, src)
        arr = lax.fft(arr, fft_type, s[-n:])
    return arr


@_jit(static_argnames=("func_name", "fft_type", "s", "axes", "norm"))
def _transform(arr, *, func_name: str, fft_type: FftType, s: tuple[int, ...] | None,
               axes: tuple[int, ...], norm: str | None):
    """The transform of ``arr`` over the (normalized, distinct) ``axes``."""
    from xtrace._src.numpy.shapes import moveaxis
    end = tuple(range(arr.ndim - len(axes), arr.ndim))
    arr = moveaxis(arr, axes, end)
    if s is not None:
        in_s = list(arr.shape)
        for ax, n in zip(end, s):
            in_s[ax] = n
        if fft_type == FftType.IRFFT:
            in_s[-1] = in_s[-1] // 2 + 1
        arr = _fit(arr, in_s)
    else:
        s = tuple(arr.shape[ax] for ax in end)
        if fft_type == FftType.IRFFT and s:
            s = s[:-1] + (max(0, 2 * (s[-1] - 1)),)
    out = _fft_nd(arr, fft_type, s)
    factor = _norm_factor(func_name, norm, s)
    if factor != 1.0:
        out = out * factor
    return moveaxis(out, end, axes)


def _normalize_axes(full_name: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    out = []
    for ax in axes:
        ax = operator.index(ax)
        if not -ndim <= ax < ndim:
            raise ValueError(f"{full_name}: axis {ax} is out of bounds for array of dimension "
                             f"{ndim}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{full_name} does not support repeated axes. Got axes "
                         f"{tuple(axes)}.")
    return tuple(out)


def _fft_core(func_name: str, fft_type: FftType, a: Any, s: Sequence[int] | None,
              axes: Sequence[int] | None, norm: str | None) -> Array:
    full_name = f"xtrace.numpy.fft.{func_name}"
    arr = _arr(a)
    _check_norm(norm)
    if s is not None:
        s = tuple(operator.index(n) for n in s)
        if any(n <= 0 for n in s):
            raise ValueError(f"{full_name}: the transform lengths must be positive, got "
                             f"s={s}")
    if s is not None and axes is not None and len(s) != len(axes):
        raise ValueError(f"{full_name}: s={s} and axes={tuple(axes)} have different lengths")
    if axes is None:
        axes = range(arr.ndim) if s is None else range(arr.ndim - len(s), arr.ndim)
    if fft_type == FftType.RFFT and dtypes.is_complex(arr.dtype):
        raise ValueError(f"{full_name}: only real valued inputs are supported, got "
                         f"{arr.dtype.name}")
    axes = _normalize_axes(full_name, list(axes), arr.ndim)
    return _transform(arr, func_name=func_name, fft_type=fft_type, s=s, axes=axes, norm=norm)


def _one_axis(func_name: str, axis: Any) -> list[int]:
    if isinstance(axis, (list, tuple)):
        raise ValueError(f"xtrace.numpy.fft.{func_name} does not support multiple axes. Please "
                         f"use xtrace.numpy.fft.{func_name}n. Got axis = {axis!r}.")
    return [axis]


def _fft_1d(func_name: str, fft_type: FftType, a: Any, n: int | None, axis: int,
            norm: str | None) -> Array:
    return _fft_core(func_name, fft_type, a, None if n is None else [n],
                     _one_axis(func_name, axis), norm)


def _two_axes(func_name: str, axes: Sequence[int]) -> Sequence[int]:
    if len(axes) != 2:
        raise ValueError(f"xtrace.numpy.fft.{func_name} only supports 2 axes. Got axes = "
                         f"{axes!r}.")
    return axes


def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """One-dimensional discrete Fourier transform along ``axis``, of length ``n`` (the input
    is cut or zero-padded to it)."""
    return _fft_1d("fft", FftType.FFT, a, n, axis, norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """One-dimensional inverse discrete Fourier transform along ``axis``."""
    return _fft_1d("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """Discrete Fourier transform of real input: the ``n // 2 + 1`` non-negative
    frequencies."""
    return _fft_1d("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """Inverse of ``rfft``: a real result of length ``n`` (default ``2 * (m - 1)`` for ``m``
    input frequencies)."""
    return _fft_1d("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """Transform of a Hermitian-symmetric signal given by its first half: a real spectrum of
    length ``n`` (default ``2 * (m - 1)``)."""
    from xtrace._src.numpy.ufuncs import conj
    arr = _arr(a)
    out = _fft_1d("hfft", FftType.IRFFT, conj(arr), n, axis, norm)
    return out * ((arr.shape[axis] - 1) * 2 if n is None else n)


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """Inverse of ``hfft``: the ``n // 2 + 1`` first terms of a Hermitian spectrum of real
    input."""
    from xtrace._src.numpy.ufuncs import conj
    arr = _arr(a)
    out = _fft_1d("ihfft", FftType.RFFT, arr, n, axis, norm)
    return conj(out) * (1 / (arr.shape[axis] if n is None else n))


def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None) -> Array:
    """Two-dimensional discrete Fourier transform over ``axes``."""
    return _fft_core("fft2", FftType.FFT, a, s, _two_axes("fft2", axes), norm)


def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Array:
    """Two-dimensional inverse discrete Fourier transform over ``axes``."""
    return _fft_core("ifft2", FftType.IFFT, a, s, _two_axes("ifft2", axes), norm)


def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Array:
    """Two-dimensional transform of real input (half spectrum along the last axis)."""
    return _fft_core("rfft2", FftType.RFFT, a, s, _two_axes("rfft2", axes), norm)


def irfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None) -> Array:
    """Inverse of ``rfft2``: a real result of shape ``s`` over ``axes``."""
    return _fft_core("irfft2", FftType.IRFFT, a, s, _two_axes("irfft2", axes), norm)


def fftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None) -> Array:
    """N-dimensional discrete Fourier transform over ``axes`` (all, or the last ``len(s)``,
    by default)."""
    return _fft_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Array:
    """N-dimensional inverse discrete Fourier transform."""
    return _fft_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Array:
    """N-dimensional transform of real input (half spectrum along the last axis)."""
    return _fft_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None) -> Array:
    """Inverse of ``rfftn``: a real result of shape ``s`` over ``axes``."""
    return _fft_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def _check_freq_args(func_name: str, n: Any, d: Any) -> None:
    if isinstance(n, (list, tuple)):
        raise ValueError(f"The n argument of xtrace.numpy.fft.{func_name} only takes an int. "
                         f"Got n = {list(n)}.")
    if isinstance(d, (list, tuple)):
        raise ValueError(f"The d argument of xtrace.numpy.fft.{func_name} only takes a single "
                         f"value. Got d = {list(d)}.")


def _placed(x: Array, device: Any) -> Array:
    if device is None:
        return x
    from xtrace._src.jit import device_put
    return device_put(x, device)


def _freqs(k: np.ndarray, d: Any, n: int, dt: np.dtype) -> Array:
    """``k / (d * n)`` computed in ``dt``. With a concrete ``d`` and a float32/float64 ``dt``
    NumPy does it (the same correctly rounded division XLA does, without compiling a program
    per length); otherwise on device."""
    from xtrace._src.numpy.creation import asarray
    if isinstance(d, (Array, Tracer)) or dt not in (np.float32, np.float64):
        return asarray(k, dtype=dt) / asarray(d * n, dtype=dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        return asarray(np.asarray(k, dt) / np.asarray(d * n, dt))


def fftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Array:
    """The sample frequencies of a length-``n`` transform with sample spacing ``d``:
    ``[0, 1, ..., n//2 - 1 (or (n-1)//2), -(n//2), ..., -1] / (d * n)``, computed in ``dtype``
    (default: the default float type; integer and complex dtypes compute in a float type and
    cast, as in JAX)."""
    _check_freq_args("fftfreq", n, d)
    out_dtype = dtypes.canonicalize_dtype(dtypes.default_float() if dtype is None else dtype)
    dt = _real_of(out_dtype)
    k = (np.arange(n) + n // 2) % n - n // 2
    return _placed(_freqs(k, d, n, dt).astype(out_dtype), device)


def _real_of(dt: np.dtype) -> np.dtype:
    """JAX's ``finfo(to_inexact_dtype(dt)).dtype``: the real floating type that computes."""
    return _real_dtype(dt) if dtypes.is_complex(dt) else _to_inexact(dt)


def rfftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Array:
    """The ``n // 2 + 1`` non-negative sample frequencies of ``rfft``:
    ``[0, 1, ..., n // 2] / (d * n)`` in ``dtype`` (an integer dtype divides as ``/`` does,
    giving floats, as in JAX)."""
    _check_freq_args("rfftfreq", n, d)
    dt = dtypes.canonicalize_dtype(dtypes.default_float() if dtype is None else dtype)
    return _placed(_freqs(np.arange(n // 2 + 1), d, n, dt), device)


def _shifts(x, axes: Any, sign: int):
    if axes is None:
        axes = tuple(range(x.ndim))
        return [sign * (dim // 2) for dim in x.shape], axes
    if isinstance(axes, (int, np.integer)):
        return sign * (x.shape[axes] // 2), axes
    return [sign * (x.shape[ax] // 2) for ax in axes], axes


def fftshift(x: Any, axes: None | int | Sequence[int] = None) -> Array:
    """Move the zero frequency to the center: ``roll`` by ``dim // 2`` along ``axes`` (all by
    default)."""
    from xtrace._src.numpy.shapes import roll
    x = _arr(x)
    shift, axes = _shifts(x, axes, 1)
    return roll(x, shift, axes)


def ifftshift(x: Any, axes: None | int | Sequence[int] = None) -> Array:
    """Inverse of ``fftshift``: ``roll`` by ``-(dim // 2)`` along ``axes``."""
    from xtrace._src.numpy.shapes import roll
    x = _arr(x)
    shift, axes = _shifts(x, axes, -1)
    return roll(x, shift, axes)


__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "fftn", "ifftn", "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
