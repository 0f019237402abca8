"""``xtrace.scipy.linalg``: the ``jax.scipy.linalg`` functions that need no decomposition."""
from xtrace._src.scipy.linalg import block_diag, toeplitz  # noqa: F401

__all__ = ["block_diag", "toeplitz"]
