"""``xtrace.scipy.sparse``: ``jax.scipy.sparse`` (the ``linalg`` Krylov solvers)."""
from xtrace.scipy.sparse import linalg  # noqa: F401

__all__ = ["linalg"]
