"""``xtrace.lax.linalg``: matrix factorizations with ``jax.lax.linalg``'s names and semantics."""
from xtrace._src.prims.decompositions import cholesky, triangular_solve  # noqa: F401

__all__ = ["cholesky", "triangular_solve"]
