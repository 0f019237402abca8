"""Fast Fourier transforms: the ``fft`` primitive (StableHLO ``fft``) and ``lax.fft``.

One primitive covers the four XLA transforms over the trailing ``len(fft_lengths)`` dimensions
(at most three): ``FFT``/``IFFT`` (complex to complex), ``RFFT`` (real to the non-negative
half of the spectrum, last dimension ``n // 2 + 1``) and ``IRFFT`` (its inverse, real output
of length ``fft_lengths[-1]``). As in XLA and JAX, ``IFFT``/``IRFFT`` include the ``1 / n``
scaling. The transforms are linear, so the JVP is the transform of the tangent; the
transposes follow JAX's convention (a real-to-complex map transposes to the real part of the
complex cotangent pulled back).
"""
from __future__ import annotations

import enum
import math
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import i64_array
from xtrace._src.prims.common import define, lax_args


class FftType(enum.IntEnum):
    """Which transform ``lax.fft`` performs (the names of XLA's ``fft_type``)."""

    FFT = 0    # forward complex-to-complex
    IFFT = 1   # inverse complex-to-complex
    RFFT = 2   # forward real-to-complex
    IRFFT = 3  # inverse complex-to-real


def _fft_type(fft_type: Any) -> FftType:
    if isinstance(fft_type, FftType):
        return fft_type
    if isinstance(fft_type, str):
        try:
            return FftType[fft_type.upper()]
        except KeyError:
            raise ValueError(f"Unknown FFT type '{fft_type}'; use 'FFT', 'IFFT', 'RFFT' or "
                             "'IRFFT' (or lax.FftType)") from None
    raise TypeError(f"Unknown FFT type value '{fft_type}': pass a string such as 'FFT' or a "
                    "lax.FftType")


def _real_dtype(dt: np.dtype) -> np.dtype:
    return np.dtype(np.float64 if dt == np.complex128 else np.float32)


def _complex_dtype(dt: np.dtype) -> np.dtype:
    return np.dtype(np.complex128 if dt in (np.float64, np.complex128) else np.complex64)


def _fft_abstract(x: ShapedArray, *, fft_type: FftType, fft_lengths: tuple[int, ...]):
    k = len(fft_lengths)
    if k > x.ndim:
        raise ValueError(f"FFT input shape {x.shape} must have at least as many input "
                         f"dimensions as fft_lengths {fft_lengths}")
    if not 1 <= k <= 3:
        raise ValueError(f"fft: fft_lengths {fft_lengths} must name 1 to 3 dimensions (XLA's "
                         "limit; xtrace.numpy.fft.fftn splits longer ones)")
    minor = tuple(x.shape[-k:])
    if fft_type == FftType.RFFT:
        if x.dtype not in (np.float32, np.float64):
            raise ValueError(f"RFFT input must be float32 or float64, got {x.dtype.name} "
                             f"(shape {x.shape})")
        if minor != fft_lengths:
            raise ValueError(f"RFFT input shape {x.shape} minor dimensions must be equal to "
                             f"fft_lengths {fft_lengths}")
        shape = x.shape[:-k] + fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
        return ShapedArray(shape, _complex_dtype(x.dtype))
    if not dtypes.is_complex(x.dtype):
        raise ValueError(f"{fft_type.name} input must be complex64 or complex128, got "
                         f"{x.dtype.name} (shape {x.shape})")
    if fft_type == FftType.IRFFT:
        if minor[:-1] != fft_lengths[:-1]:
            raise ValueError(f"IRFFT input shape {x.shape} minor dimensions must be equal to "
                             f"all except the last fft_length, got fft_lengths={fft_lengths}")
        if minor[-1] != fft_lengths[-1] // 2 + 1:
            raise ValueError(f"IRFFT input shape {x.shape}: the last dimension must be "
                             f"fft_lengths[-1] // 2 + 1 = {fft_lengths[-1] // 2 + 1} for "
                             f"fft_lengths={fft_lengths}")
        return ShapedArray(x.shape[:-k] + fft_lengths, _real_dtype(x.dtype))
    if minor != fft_lengths:
        raise ValueError(f"{fft_type.name} input shape {x.shape} minor dimensions must be "
                         f"equal to fft_lengths {fft_lengths}")
    return ShapedArray(x.shape, x.dtype)


def _fft_attrs(fft_type: FftType, fft_lengths: Sequence[int]) -> str:
    return (f"fft_type = #stablehlo<fft_type {fft_type.name}>, "
            f"fft_length = {i64_array(fft_lengths)}")


def _fft_lower(ctx, x, *, fft_type: FftType, fft_lengths):
    if fft_type == FftType.IRFFT and len(fft_lengths) > 1:
        return _irfft_nd_lower(ctx, x, fft_lengths)
    return ctx.op1("stablehlo.fft", [x], attrs=_fft_attrs(fft_type, fft_lengths))


def _irfft_nd_lower(ctx, x, fft_lengths):
    """A multi-dimensional IRFFT as an IFFT over the leading transformed dimensions, then a
    one-dimensional IRFFT over the last (as JAX lowers it for GPUs). cuFFT's own
    multi-dimensional complex-to-real transform assumes Hermitian symmetry in every dimension,
    where NumPy (and XLA on CPU) only use the last one's; since a lowered module is not tied to
    a platform, every platform gets this form."""
    a = ctx.avals_in[0]
    start = a.ndim - len(fft_lengths)
    to_front = list(range(a.ndim))
    to_front.insert(start, to_front.pop())        # the last dimension before the others
    moved = ShapedArray([a.shape[d] for d in to_front], a.dtype)
    x = ctx.op1("stablehlo.transpose", [x], moved, f"permutation = {i64_array(to_front)}",
                operand_avals=[a])
    x = ctx.op1("stablehlo.fft", [x], moved, _fft_attrs(FftType.IFFT, fft_lengths[:-1]),
                operand_avals=[moved])
    back = list(range(a.ndim))
    back.append(back.pop(start))
    x = ctx.op1("stablehlo.transpose", [x], a, f"permutation = {i64_array(back)}",
                operand_avals=[moved])
    return ctx.op1("stablehlo.fft", [x], attrs=_fft_attrs(FftType.IRFFT, fft_lengths[-1:]),
                   operand_avals=[a])


fft_p = define("fft", _fft_abstract, _fft_lower)


def _to_inexact(dt: np.dtype) -> np.dtype:
    """JAX's ``to_inexact_dtype``: bool and integers up to 32 bits -> float32, 64-bit ->
    float64 (canonicalized, so float32 without x64)."""
    if dtypes.is_inexact(dt):
        return dt
    return dtypes.canonicalize_dtype(np.float64 if dt.itemsize == 8 else np.float32)


def fft(x: Any, fft_type: FftType | str, fft_lengths: Sequence[int]):
    """XLA's FFT over the trailing ``len(fft_lengths)`` dimensions (``jax.lax.fft``).

    ``fft_type`` is ``'FFT'``, ``'IFFT'``, ``'RFFT'``, ``'IRFFT'`` (any case) or a
    ``lax.FftType``. Inputs are converted first: to a real floating type for ``RFFT`` (complex
    inputs are an error), to complex64/complex128 otherwise."""
    from xtrace._src.prims.elementwise import convert_element_type
    typ = _fft_type(fft_type)
    x, = lax_args(x)
    dt = get_aval(x).dtype
    if typ == FftType.RFFT:
        if dtypes.is_complex(dt):
            raise ValueError(f"only real valued inputs supported for rfft, got {dt.name}")
        x = convert_element_type(x, _to_inexact(dt))
    else:
        x = convert_element_type(x, _complex_dtype(_to_inexact(dt)))
    lengths = tuple(int(n) for n in fft_lengths)
    if not lengths:
        return x  # XLA has no rank-0 FFT; the empty transform is the identity
    return fft_p.bind(x, fft_type=typ, fft_lengths=lengths)


# ---------------------------------------------------------------------------------------------
# Differentiation rules: every transform is linear.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero  # noqa: E402


def _half_spectrum_weights(n: int, m: int) -> np.ndarray:
    """How many bins of the full spectrum of length ``n`` each of the ``m = n // 2 + 1`` kept
    bins stands for: 1 for the zero frequency (and the Nyquist one when ``n`` is even), 2 for
    the others (each also stands for its conjugate)."""
    w = np.full((m,), 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def _scale_last(x, weights: np.ndarray):
    """``x`` times ``weights`` along its last dimension (in ``x``'s dtype)."""
    from xtrace._src.prims.elementwise import mul
    from xtrace._src.prims.structural import broadcast_in_dim
    a = get_aval(x)
    w = broadcast_in_dim(np.asarray(weights, a.dtype), a.shape, (a.ndim - 1,))
    return mul(x, w)


def _fft_transpose(ct, x, *, fft_type: FftType, fft_lengths):
    from xtrace._src.prims.elementwise import conj
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    n, total = fft_lengths[-1], math.prod(fft_lengths)
    if fft_type == FftType.RFFT:
        # RFFT^T(ct) = Re(sum_k ct_k e^{-2 pi i k.x / N}) = N * IRFFT(conj(ct) / weights):
        # IRFFT rebuilds the mirrored bins, which the weights must not count twice.
        m = get_aval(ct).shape[-1]
        scaled = _scale_last(conj(ct), total / _half_spectrum_weights(n, m))
        return [fft_p.bind(scaled, fft_type=FftType.IRFFT, fft_lengths=fft_lengths)]
    if fft_type == FftType.IRFFT:
        # IRFFT^T(ct) = conj(RFFT(ct) * weights) / N: each kept bin feeds its mirror as well.
        spec = fft_p.bind(ct, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
        m = get_aval(spec).shape[-1]
        return [conj(_scale_last(spec, _half_spectrum_weights(n, m) / total))]
    # The DFT matrix is symmetric: FFT and IFFT are their own transposes.
    return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]


ad.deflinear(fft_p, _fft_transpose)


# ---------------------------------------------------------------------------------------------
# Batching rule: the transform acts on trailing dimensions, so the batch dimension goes first.
from xtrace._src import batching  # noqa: E402


def _fft_batch(axis, vals, dims, *, fft_type, fft_lengths):
    x, = vals
    x = batching.moveaxis(x, dims[0], 0)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


fft_p.batch = _fft_batch
