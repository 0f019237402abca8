"""``xtrace.scipy.fft``: ``jax.scipy.fft``'s type-2 discrete cosine transforms."""
from xtrace._src.scipy.fft import dct, dctn, idct, idctn  # noqa: F401

__all__ = ["dct", "dctn", "idct", "idctn"]
