"""``jax.scipy.signal``: N-d convolution and correlation (direct via ``conv_general_dilated``
or by FFT), ``detrend``, and the windowed-FFT family ``stft`` / ``istft`` / ``csd`` /
``welch``, with JAX's signatures, defaults and dtypes."""
from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer
from xtrace._src.numpy.shapes import _eager_jit_auto
from xtrace._src.scipy.special import promote_dtypes_inexact as _promote

_MODES = ("full", "same", "valid")


def _inexact(name: str, *xs) -> list:
    return _promote(f"xtrace.scipy.signal.{name}", *xs)


def _axis(axis, ndim: int, name: str) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"xtrace.scipy.signal.{name}: axis {axis} is out of bounds for an "
                         f"array of dimension {ndim}")
    return axis % ndim


def _complex_dtype(dt) -> np.dtype:
    return np.result_type(dt, np.complex64)


def _real_dtype(dt) -> np.dtype:
    return np.finfo(np.dtype(dt)).dtype


# --------------------------------------------------------------------------------------------
# convolution and correlation


def _convolve_nd(in1, in2, mode: str, precision, name: str) -> Array:
    in1, in2 = xnp.asarray(in1), xnp.asarray(in2)
    if mode not in _MODES:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    if in1.ndim != in2.ndim:
        raise ValueError(f"xtrace.scipy.signal.{name}: in1 and in2 must have the same number "
                         f"of dimensions, got shapes {in1.shape} and {in2.shape}")
    if in1.size == 0 or in2.size == 0:
        raise ValueError("zero-size arrays not supported in convolutions, got shapes "
                         f"{in1.shape} and {in2.shape}.")
    in1, in2 = _inexact(name, in1, in2)
    no_swap = all(s1 >= s2 for s1, s2 in zip(in1.shape, in2.shape))
    swap = all(s1 <= s2 for s1, s2 in zip(in1.shape, in2.shape))
    if not (no_swap or swap):
        raise ValueError("One input must be smaller than the other in every dimension, got "
                         f"shapes {in1.shape} and {in2.shape}.")
    shape_o = in2.shape
    if swap:
        in1, in2 = in2, in1
    shape = in2.shape
    in2 = xnp.flip(in2)
    if mode == "valid":
        padding = [(0, 0) for _ in shape]
    elif mode == "same":
        padding = [(s - 1 - (so - 1) // 2, s - so + (so - 1) // 2)
                   for s, so in zip(shape, shape_o)]
    else:
        padding = [(s - 1, s - 1) for s in shape]
    out = lax.conv_general_dilated(in1[None, None], in2[None, None], (1,) * len(shape),
                                   padding, precision=precision)
    return out[0, 0]


@_eager_jit_auto
def fftconvolve(in1, in2, mode: str = "full", axes: Sequence[int] | None = None) -> Array:
    """N-d convolution by FFT (``scipy.signal.fftconvolve``); ``axes`` limits the convolved
    axes, the others must match and are treated as batch axes."""
    in1, in2 = _inexact("fftconvolve", xnp.asarray(in1), xnp.asarray(in2))
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality, got shapes "
                         f"{in1.shape} and {in2.shape}")
    if mode not in _MODES:
        raise ValueError("mode must be one of ['same', 'full', 'valid']")
    if axes is None:
        axes = tuple(range(in1.ndim))
    else:
        axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
        axes = tuple(_axis(a, in1.ndim, "fftconvolve") for a in axes)
    mapped = [i for i in range(in1.ndim) if i not in axes]
    if any(in1.shape[i] != in2.shape[i] for i in mapped):
        raise ValueError(f"mapped axes must have same shape; got in1.shape={in1.shape} "
                         f"in2.shape={in2.shape} axes={axes}")
    # convolve over the trailing axes, with the mapped ones moved in front
    k = len(mapped)
    in1 = xnp.moveaxis(in1, mapped, list(range(k)))
    in2 = xnp.moveaxis(in2, mapped, list(range(k)))
    out = _fftconvolve_trailing(in1, in2, mode, k)
    return xnp.moveaxis(out, list(range(k)), mapped)


def _fftconvolve_trailing(in1, in2, mode: str, k: int) -> Array:
    s1, s2 = in1.shape[k:], in2.shape[k:]
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    if mode == "valid":
        no_swap = all(a >= b for a, b in zip(s1, s2))
        swap = all(a <= b for a, b in zip(s1, s2))
        if not (no_swap or swap):
            raise ValueError("For 'valid' mode, One input must be at least as large as the "
                             f"other in every dimension, got shapes {in1.shape} and "
                             f"{in2.shape}.")
        if swap:
            in1, in2, s1, s2 = in2, in1, s2, s1
    fft_axes = tuple(range(k, in1.ndim))
    if all(a == 1 or b == 1 for a, b in zip(s1, s2)):
        conv = in1 * in2
    elif dtypes.is_complex(in1.dtype):
        conv = xnp.fft.ifftn(xnp.fft.fftn(in1, full, fft_axes) * xnp.fft.fftn(in2, full, fft_axes),
                             full, fft_axes)
    else:
        conv = xnp.fft.irfftn(xnp.fft.rfftn(in1, full, fft_axes)
                              * xnp.fft.rfftn(in2, full, fft_axes), full, fft_axes)
    if mode == "full":
        out = full
    elif mode == "same":
        out = s1
    else:
        out = tuple(a - b + 1 for a, b in zip(s1, s2))
    starts = [(f - o) // 2 for f, o in zip(full, out)]
    idx = (slice(None),) * k + tuple(slice(s, s + o) for s, o in zip(starts, out))
    return conv[idx]


@_eager_jit_auto
def convolve(in1, in2, mode: str = "full", method: str = "auto", precision=None) -> Array:
    """N-d convolution (``scipy.signal.convolve``); ``method`` 'auto'/'direct' use
    ``lax.conv_general_dilated``, 'fft' uses ``fftconvolve``."""
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method in ("direct", "auto"):
        return _convolve_nd(in1, in2, mode, precision, "convolve")
    raise ValueError(f"Got method={method!r}; expected 'auto', 'fft', or 'direct'.")


def _check_2d(name: str, in1, in2, boundary, fillvalue) -> None:
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError(f"{name}() only supports boundary='fill', fillvalue=0")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError(f"{name}() only supports 2-dimensional inputs, got shapes "
                         f"{np.shape(in1)} and {np.shape(in2)}.")


@_eager_jit_auto
def convolve2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
               precision=None) -> Array:
    """2-d convolution (``scipy.signal.convolve2d``); only ``boundary='fill'`` with
    ``fillvalue=0``."""
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return _convolve_nd(in1, in2, mode, precision, "convolve2d")


@_eager_jit_auto
def correlate(in1, in2, mode: str = "full", method: str = "auto", precision=None) -> Array:
    """N-d cross-correlation (``scipy.signal.correlate``): ``convolve(in1, flip(conj(in2)))``."""
    in2 = xnp.asarray(in2)
    return convolve(in1, xnp.flip(xnp.conj(in2)), mode, method=method, precision=precision)


@_eager_jit_auto
def correlate2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
                precision=None) -> Array:
    """2-d cross-correlation (``scipy.signal.correlate2d``); only ``boundary='fill'`` with
    ``fillvalue=0``."""
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    in1, in2 = xnp.asarray(in1), xnp.asarray(in2)
    swap = all(a <= b for a, b in zip(in1.shape, in2.shape))
    same_shape = in1.shape == in2.shape
    conv = lambda a, b: _convolve_nd(a, b, mode, precision, "correlate2d")  # noqa: E731
    # SciPy swaps the inputs in 'full' and 'valid' mode when in2 is the larger one
    if mode == "valid" and swap and not same_shape:
        return conv(xnp.flip(in2), xnp.conj(in1))
    if mode == "full" and swap:
        return xnp.conj(conv(xnp.flip(in2), xnp.conj(in1)))
    return xnp.flip(conv(xnp.flip(in1), xnp.conj(in2)))


# --------------------------------------------------------------------------------------------
# detrending


def _line_projection(n: int) -> np.ndarray:
    """The ``(n, n)`` matrix projecting a series onto its least-squares line (static)."""
    a = np.stack([np.ones(n), np.arange(1, n + 1) / n], axis=1)
    return a @ np.linalg.pinv(a)


def detrend(data, axis: int = -1, type: str = "linear",
            bp: int | Sequence[int] | np.ndarray = 0, overwrite_data: None = None) -> Array:
    """Remove the mean (``type='constant'``) or a least-squares line (``'linear'``, piecewise
    between the breakpoints ``bp``) along ``axis`` (``scipy.signal.detrend``)."""
    if overwrite_data is not None:
        raise NotImplementedError("overwrite_data argument not implemented.")
    if type not in ("constant", "linear"):
        raise ValueError("Trend type must be 'linear' or 'constant'.")
    return _detrend(data, axis, type, tuple(int(b) for b in np.ravel(bp)))


@_eager_jit_auto
def _detrend(data, axis: int, type: str, bp: tuple) -> Array:
    (data,) = _inexact("detrend", xnp.asarray(data))
    if type == "constant":
        return data - xnp.mean(data, axis, keepdims=True)
    axis = _axis(axis, data.ndim, "detrend")
    n = data.shape[axis]
    bps = np.sort(np.unique(np.r_[0, bp, n]))
    if bps[0] < 0 or bps[-1] > n:
        raise ValueError("Breakpoints must be non-negative and less than length of data "
                         "along given axis.")
    data = xnp.moveaxis(data, axis, -1)
    pieces = []
    for lo, hi in zip(bps[:-1], bps[1:]):
        seg = data[..., lo:hi]
        proj = np.asarray(_line_projection(hi - lo), xnp.real(seg).dtype)
        pieces.append(seg - xnp.matmul(seg, proj.T, precision=lax.Precision.HIGHEST))
    return xnp.moveaxis(xnp.concatenate(pieces, axis=-1), -1, axis)


# --------------------------------------------------------------------------------------------
# windowed FFTs


def _hann(n: int, dt) -> Array:
    if n == 1:
        return xnp.ones((1,), dt)
    return (xnp.sin(xnp.linspace(0, np.pi, n, endpoint=False)) ** 2).astype(dt)


def _named_window(window, n: int, dt) -> Array:
    if isinstance(window, str) and window == "hann":
        return _hann(n, dt)
    try:
        from scipy.signal import get_window
    except ImportError as err:
        raise ImportError(f"scipy must be available to use window={window!r}") from err
    return xnp.asarray(np.asarray(get_window(window, n)), dtype=dt)


def _triage_segments(window, nperseg, input_length: int, dt):
    """The window array and the segment length (SciPy's ``_triage_segments``)."""
    if isinstance(window, (str, tuple)):
        n = input_length if nperseg is None else int(nperseg)
        if n > input_length:
            warnings.warn(f"nperseg={n} is greater than input_length={input_length}, using "
                          f"nperseg={input_length}")
            n = input_length
        return _named_window(window, n, dt), n
    win = xnp.asarray(window, dtype=dt)
    n = win.size if nperseg is None else int(nperseg)
    if win.ndim != 1:
        raise ValueError("window must be 1-D")
    if input_length < win.size:
        raise ValueError("window is longer than input signal")
    if n != win.size:
        raise ValueError("value specified for nperseg is different from length of window")
    return win, n


def _median_bias(n: int) -> float:
    ii = np.arange(2.0, n, 2)
    return 1 + np.sum(1.0 / (ii + 1) - 1.0 / ii)


def _segments(x, nperseg: int, noverlap: int) -> Array:
    """``(..., nseg, nperseg)`` strided view of the last axis."""
    if nperseg == 1 and noverlap == 0:
        return x[..., None]
    starts = np.arange(0, x.shape[-1] - nperseg + 1, nperseg - noverlap)
    return x[..., starts[:, None] + np.arange(nperseg)[None, :]]


def _fft_helper(x, win, detrend_func, nperseg, noverlap, nfft, sides) -> Array:
    if np.dtype(x.dtype).kind == "i":
        x = x.astype(win.dtype)
    seg = detrend_func(_segments(x, nperseg, noverlap))
    if dtypes.is_complex(win.dtype) and not dtypes.is_complex(seg.dtype):
        seg = seg.astype(_complex_dtype(seg.dtype))
    seg = win * seg
    if sides == "twosided":
        return xnp.fft.fft(seg, n=nfft)
    return xnp.fft.rfft(xnp.real(seg), n=nfft)


def _odd_ext(x, n: int, axis: int = -1) -> Array:
    if n < 1:
        return x
    if n > x.shape[axis] - 1:
        raise ValueError(f"The extension length n ({n}) is too big. It must not exceed "
                         f"x.shape[axis]-1, which is {x.shape[axis] - 1}.")
    x = xnp.moveaxis(x, axis, -1)
    left = 2 * x[..., :1] - xnp.flip(x[..., 1:n + 1], -1)
    right = 2 * x[..., -1:] - xnp.flip(x[..., -(n + 1):-1], -1)
    return xnp.moveaxis(xnp.concatenate([left, x, right], -1), -1, axis)


def _pad_last(mode: str, **kw) -> Callable:
    def pad(x, n, axis=-1):
        width = [(0, 0)] * x.ndim
        width[axis] = (n, n)
        return xnp.pad(x, width, mode, **kw)
    return pad


_BOUNDARY = {"even": _pad_last("reflect"), "odd": _odd_ext, "constant": _pad_last("edge"),
             "zeros": _pad_last("constant", constant_values=0.0),
             None: lambda x, *args, **kw: x}


def _static_int(v, what: str) -> int:
    if isinstance(v, Tracer):
        raise TypeError(f"{what} must be a static integer, got a traced value")
    return operator.index(v) if not isinstance(v, (float, np.floating)) else int(v)


def _detrend_func(detrend_type, axis: int) -> Callable:
    if isinstance(detrend_type, str):
        return lambda d: detrend(d, type=detrend_type, axis=-1)
    if callable(detrend_type):
        if axis != -1:
            def wrapped(d):
                return xnp.moveaxis(detrend_type(xnp.moveaxis(d, axis, -1)), -1, axis)
            return wrapped
        return detrend_type
    if not detrend_type:
        return lambda d: d
    raise ValueError(f"Unsupported detrend type: {detrend_type}")


def _spectral_helper(x, y, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None,
                     detrend_type="constant", return_onesided=True, scaling="density",
                     axis=-1, mode="psd", boundary=None, padded=False):
    """SciPy's ``_spectral_helper`` (``y=None``: auto-spectrum): (freqs, times, result)."""
    if mode not in ("psd", "stft"):
        raise ValueError(f"Unknown value for mode {mode}, must be one of: ('psd', 'stft')")
    if boundary not in _BOUNDARY:
        raise ValueError(f"Unknown boundary option '{boundary}', must be one of: "
                         f"{list(_BOUNDARY)}")
    x = xnp.asarray(x)
    axis = _axis(axis, x.ndim, "spectral")
    if y is None:
        (x,) = _inexact("spectral", x)
        outershape = x.shape[:axis] + x.shape[axis + 1:]
    else:
        if mode != "psd":
            raise ValueError("two-argument mode is available only when mode=='psd'")
        x, y = _inexact("csd", x, xnp.asarray(y))
        if x.ndim != y.ndim:
            raise ValueError(f"two-arguments must have the same rank ({x.ndim} vs {y.ndim}).")
        try:
            outershape = np.broadcast_shapes(x.shape[:axis] + x.shape[axis + 1:],
                                             y.shape[:axis] + y.shape[axis + 1:])
        except ValueError as err:
            raise ValueError(f"x and y cannot be broadcast together, got shapes {x.shape} and "
                             f"{y.shape}.") from err
    result_dtype = _complex_dtype(x.dtype)
    freq_dtype = _real_dtype(result_dtype)
    if nperseg is not None:
        nperseg = _static_int(nperseg, "nperseg")
        if nperseg < 1:
            raise ValueError("nperseg must be a positive integer")
    win, nperseg = _triage_segments(window, nperseg, x.shape[axis], x.dtype)
    noverlap = nperseg // 2 if noverlap is None else _static_int(noverlap, "noverlap")
    nfft = nperseg if nfft is None else _static_int(nfft, "nfft")
    if x.size == 0 or (y is not None and y.size == 0):
        shape = x.shape if y is None else (
            outershape[:axis] + (min(x.shape[axis], y.shape[axis]),) + outershape[axis:])
        return (xnp.zeros(shape, freq_dtype), xnp.zeros(shape, freq_dtype),
                xnp.zeros(shape, result_dtype))
    x = xnp.moveaxis(x, axis, -1)
    if y is not None and y.ndim > 1:
        y = xnp.moveaxis(y, axis, -1)
    if y is not None and x.shape[-1] != y.shape[-1]:
        n = max(x.shape[-1], y.shape[-1])
        x = xnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
        y = xnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])])
    if nfft < nperseg:
        raise ValueError("nfft must be greater than or equal to nperseg.")
    if noverlap >= nperseg:
        raise ValueError("noverlap must be less than nperseg.")
    nstep = nperseg - noverlap
    if boundary is not None:
        x = _BOUNDARY[boundary](x, nperseg // 2, axis=-1)
        if y is not None:
            y = _BOUNDARY[boundary](y, nperseg // 2, axis=-1)
    if padded:
        nadd = (-(x.shape[-1] - nperseg) % nstep) % nperseg
        x = xnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, nadd)])
        if y is not None:
            y = xnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, nadd)])
    detrend_func = _detrend_func(detrend_type, axis)
    if scaling == "density":
        scale = 1.0 / (fs * xnp.sum(win * win))
    elif scaling == "spectrum":
        scale = 1.0 / xnp.sum(win) ** 2
    else:
        raise ValueError(f"Unknown scaling: {scaling}")
    if mode == "stft":
        scale = xnp.sqrt(scale)
    sides = "onesided" if return_onesided else "twosided"
    if return_onesided and (dtypes.is_complex(x.dtype)
                            or (y is not None and dtypes.is_complex(y.dtype))):
        sides = "twosided"
        warnings.warn("Input data is complex, switching to return_onesided=False")
    if sides == "twosided":
        freqs = xnp.fft.fftfreq(nfft, 1 / fs, dtype=freq_dtype)
    else:
        freqs = xnp.fft.rfftfreq(nfft, 1 / fs, dtype=freq_dtype)
    result = _fft_helper(x, win, detrend_func, nperseg, noverlap, nfft, sides)
    if y is not None:
        result = xnp.conj(result) * _fft_helper(y, win, detrend_func, nperseg, noverlap, nfft,
                                                sides)
    elif mode == "psd":
        result = xnp.conj(result) * result
    result = result * scale
    if sides == "onesided" and mode == "psd":
        end = None if nfft % 2 else -1
        result = result.at[..., 1:end].multiply(2)
    time = xnp.arange(nperseg / 2, x.shape[-1] - nperseg / 2 + 1, nperseg - noverlap,
                      dtype=freq_dtype) / fs
    if boundary is not None:
        time = time - (nperseg / 2) / fs
    result = result.astype(result_dtype)
    if y is None and mode != "stft":
        result = xnp.real(result)
    return freqs, time, xnp.moveaxis(result, -1, axis)


@_eager_jit_auto
def stft(x, fs=1.0, window="hann", nperseg: int = 256, noverlap: int | None = None,
         nfft: int | None = None, detrend: Any = False, return_onesided: bool = True,
         boundary: str | None = "zeros", padded: bool = True, axis: int = -1):
    """Short-time Fourier transform (``scipy.signal.stft``): ``(f, t, Zxx)``."""
    return _spectral_helper(x, None, fs, window, nperseg, noverlap, nfft, detrend,
                            return_onesided, scaling="spectrum", axis=axis, mode="stft",
                            boundary=boundary, padded=padded)


@_eager_jit_auto
def csd(x, y, fs=1.0, window="hann", nperseg: int | None = None,
        noverlap: int | None = None, nfft: int | None = None, detrend: Any = "constant",
        return_onesided: bool = True, scaling: str = "density", axis: int = -1,
        average: str = "mean"):
    """Cross power spectral density by Welch's method (``scipy.signal.csd``): ``(f, Pxy)``;
    ``y=None`` computes ``x``'s PSD."""
    freqs, _, pxy = _spectral_helper(x, y, fs, window, nperseg, noverlap, nfft, detrend,
                                     return_onesided, scaling, axis, mode="psd")
    if y is not None:
        pxy = pxy + 0j
    if pxy.ndim >= 2 and pxy.size > 0:
        if pxy.shape[-1] > 1:
            if average == "median":
                bias = np.asarray(_median_bias(pxy.shape[-1]), pxy.dtype)
                if dtypes.is_complex(pxy.dtype):
                    pxy = (xnp.median(xnp.real(pxy), axis=-1)
                           + 1j * xnp.median(xnp.imag(pxy), axis=-1))
                else:
                    pxy = xnp.median(pxy, axis=-1)
                pxy = pxy / bias
            elif average == "mean":
                pxy = xnp.mean(pxy, axis=-1)
            else:
                raise ValueError(f'average must be "median" or "mean", got {average}')
        else:
            pxy = xnp.reshape(pxy, pxy.shape[:-1])
    return freqs, pxy


@_eager_jit_auto
def welch(x, fs=1.0, window="hann", nperseg: int | None = None,
          noverlap: int | None = None, nfft: int | None = None, detrend: Any = "constant",
          return_onesided: bool = True, scaling: str = "density", axis: int = -1,
          average: str = "mean"):
    """Power spectral density by Welch's method (``scipy.signal.welch``): ``(f, Pxx)``."""
    freqs, pxx = csd(x, None, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap,
                     nfft=nfft, detrend=detrend, return_onesided=return_onesided,
                     scaling=scaling, axis=axis, average=average)
    return freqs, xnp.real(pxx)


def _overlap_and_add(x, step: int) -> Array:
    """Sum the frames of ``x`` (``(..., frames, frame_length)``) placed ``step`` apart."""
    *batch, nframes, seglen = x.shape
    out_len = step * (nframes - 1) + seglen
    pos = np.arange(nframes)[:, None] * step + np.arange(seglen)[None, :]
    out = xnp.zeros((*batch, out_len), x.dtype)
    return out.at[..., pos].add(x)


@_eager_jit_auto
def istft(Zxx, fs=1.0, window="hann", nperseg: int | None = None,
          noverlap: int | None = None, nfft: int | None = None, input_onesided: bool = True,
          boundary: bool = True, time_axis: int = -1, freq_axis: int = -2):
    """Inverse short-time Fourier transform (``scipy.signal.istft``): ``(t, x)``."""
    Zxx = xnp.asarray(Zxx)
    if Zxx.ndim < 2:
        raise ValueError(f"Input stft must be at least 2d!, got shape {Zxx.shape}")
    freq_axis = _axis(freq_axis, Zxx.ndim, "istft")
    time_axis = _axis(time_axis, Zxx.ndim, "istft")
    if freq_axis == time_axis:
        raise ValueError("Must specify differing time and frequency axes!")
    Zxx = Zxx.astype(_complex_dtype(Zxx.dtype))
    n_default = 2 * (Zxx.shape[freq_axis] - 1) if input_onesided else Zxx.shape[freq_axis]
    nfft_arg = nfft
    nperseg = _static_int(nperseg or n_default, "nperseg")
    if nperseg < 1:
        raise ValueError("nperseg must be a positive integer")
    if nfft is None:
        nfft = n_default + (1 if input_onesided and nperseg == n_default + 1 else 0)
    else:
        nfft = _static_int(nfft, "nfft")
    if nfft < nperseg:
        raise ValueError(f"FFT length ({nfft}) must be longer than nperseg ({nperseg}).")
    noverlap = _static_int(noverlap or nperseg // 2, "noverlap")
    if noverlap >= nperseg:
        raise ValueError("noverlap must be less than nperseg.")
    nstep = nperseg - noverlap
    if time_axis != Zxx.ndim - 1 or freq_axis != Zxx.ndim - 2:
        outer = tuple(i for i in range(Zxx.ndim) if i not in (time_axis, freq_axis))
        Zxx = xnp.transpose(Zxx, outer + (freq_axis, time_axis))
    ifunc = xnp.fft.irfft if input_onesided else xnp.fft.ifft
    # JAX passes the user's nfft (None: the FFT's own default length)
    xsubs = ifunc(Zxx, axis=-2, n=nfft_arg)[..., :nperseg, :]
    if isinstance(window, (str, tuple)):
        win = _named_window(window, nperseg, xsubs.dtype)
    else:
        win = xnp.asarray(window)
        if win.ndim != 1:
            raise ValueError("window must be 1-D")
        if win.shape[0] != nperseg:
            raise ValueError(f"window must have length of {nperseg}")
    xsubs = xsubs * xnp.sum(win)
    win = xnp.reshape(win, (1,) * (xsubs.ndim - 2) + (nperseg, 1))
    x = _overlap_and_add(xnp.swapaxes(xsubs * win, -2, -1), nstep)
    win_sq = xnp.repeat(win * win, xsubs.shape[-1], axis=-1)
    norm = _overlap_and_add(xnp.swapaxes(win_sq, -2, -1), nstep)
    if boundary:
        h = nperseg // 2
        x, norm = x[..., h:-h], norm[..., h:-h]
    x = x / xnp.where(norm > 1e-10, norm, 1.0)
    if x.ndim > 1 and time_axis != Zxx.ndim - 1:
        if freq_axis < time_axis:
            time_axis -= 1
        x = xnp.moveaxis(x, -1, time_axis)
    time = xnp.arange(x.shape[0], dtype=_real_dtype(x.dtype)) / fs
    return time, x
