"""``xtrace.scipy.signal``: ``jax.scipy.signal``'s convolutions, detrending and windowed FFTs."""
from xtrace._src.scipy.signal import (convolve, convolve2d, correlate, correlate2d,  # noqa: F401
                                      csd, detrend, fftconvolve, istft, stft, welch)

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "csd", "detrend",
           "fftconvolve", "istft", "stft", "welch"]
