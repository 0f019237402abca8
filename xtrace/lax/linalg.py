"""``xtrace.lax.linalg``: matrix factorizations with ``jax.lax.linalg``'s names and semantics.

``cholesky`` and ``triangular_solve`` are primitives (StableHLO ops); ``lu`` (partial pivoting)
and ``qr`` (Householder) are lax loops with JAX's derivative rules."""
from xtrace._src.numpy.linalg_solve import lu, lu_pivots_to_permutation, qr  # noqa: F401
from xtrace._src.prims.decompositions import cholesky, triangular_solve  # noqa: F401

__all__ = ["cholesky", "triangular_solve", "lu", "lu_pivots_to_permutation", "qr"]
