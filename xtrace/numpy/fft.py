"""``xtrace.numpy.fft``: discrete Fourier transforms (``numpy.fft`` / ``jax.numpy.fft``).

All transforms lower to XLA's FFT (the ``fft`` primitive, ``xtrace.lax.fft``), so they work
under ``jit``, ``vmap`` and ``grad``.
"""
from xtrace._src.numpy.fft import (fft, fft2, fftfreq, fftn, fftshift, hfft,  # noqa: F401
                                   ifft, ifft2, ifftn, ifftshift, ihfft, irfft, irfft2, irfftn,
                                   rfft, rfft2, rfftfreq, rfftn)

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "fftn", "ifftn", "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
