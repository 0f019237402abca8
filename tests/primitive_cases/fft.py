"""Cases for ``xtrace/_src/prims/fft.py`` (the ``fft`` primitive through ``lax.fft``).

References are NumPy's transforms in float64/complex128. The "real_io" case takes real inputs
and returns real outputs (complex values built with ``lax.complex``, results split with
``lax.real``/``lax.imag``), so the autodiff table checks all four transforms' JVPs and
transposes against finite differences; the batching table maps it at every axis position,
also the transformed (trailing) ones.
"""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand

CASES: dict[str, list[Case]] = {}


def _real_io(x, y):
    c = lax.complex(x, y)
    f = lax.fft(c, "FFT", (3, 8))
    i = lax.fft(c, lax.FftType.IFFT, (8,))
    r = lax.fft(x, "RFFT", (3, 8))
    r_odd = lax.fft(lax.slice_in_dim(x, 0, 7, axis=2), "rfft", (7,))
    return (lax.real(f), lax.imag(f), lax.real(i), lax.imag(i), lax.real(r), lax.imag(r),
            lax.real(r_odd), lax.imag(r_odd), lax.fft(c, "IRFFT", (3, 14)),
            lax.fft(c, "IRFFT", (15,)))


def _real_io_ref(x, y):
    c = x.astype(np.float64) + 1j * y.astype(np.float64)
    x = x.astype(np.float64)
    f = np.fft.fftn(c, axes=(1, 2))
    i = np.fft.ifft(c)
    r = np.fft.rfftn(x, axes=(1, 2))
    r_odd = np.fft.rfft(x[..., :7])
    return (f.real, f.imag, i.real, i.imag, r.real, r.imag, r_odd.real, r_odd.imag,
            np.fft.irfftn(c, s=(3, 14), axes=(1, 2)), np.fft.irfft(c, 15))


CASES["fft"] = [
    Case(_real_io, [rand((2, 3, 8), seed=1), rand((2, 3, 8), seed=2)], _real_io_ref,
         rtol=1e-5, atol=2e-5, name="real_io"),
    # complex64 in, the three-dimensional transforms, and integer input (converted to
    # complex64 as in JAX)
    Case(lambda c, k: (lax.fft(c, "FFT", (2, 3, 4)), lax.fft(c, "IFFT", (2, 3, 4)),
                       lax.fft(k, "FFT", (4,)), lax.fft(k, "RFFT", (3, 4))),
         [rand((2, 3, 4), np.complex64, 3), rand((3, 4), np.int32, 4)],
         lambda c, k: (np.fft.fftn(c), np.fft.ifftn(c), np.fft.fft(k), np.fft.rfft2(k)),
         rtol=1e-5, atol=2e-5, name="c64_3d_int"),
    # complex128 / float64 with x64
    Case(lambda c, x: (lax.fft(c, "FFT", (5,)), lax.fft(c, "IRFFT", (8,)),
                       lax.fft(x, "RFFT", (2, 5))),
         [rand((2, 5), np.complex128, 5), rand((2, 5), np.float64, 6)],
         lambda c, x: (np.fft.fft(c), np.fft.irfft(c, 8), np.fft.rfft2(x)),
         rtol=1e-12, atol=1e-12, name="x64", x64=True),
]
