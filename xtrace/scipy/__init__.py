"""``xtrace.scipy``: SciPy's API on xtrace arrays (``special``, ``stats``), like ``jax.scipy``.

Not imported by ``import xtrace``: ``import xtrace.scipy.special`` (or ``xtrace.scipy``) loads it.
"""
from xtrace.scipy import linalg, special, stats  # noqa: F401

__all__ = ["linalg", "special", "stats"]
