"""``xtrace.scipy.sparse.linalg``: ``jax.scipy.sparse.linalg``'s ``cg``, ``gmres`` and
``bicgstab``."""
from xtrace._src.scipy.sparse_linalg import bicgstab, cg, gmres  # noqa: F401

__all__ = ["bicgstab", "cg", "gmres"]
