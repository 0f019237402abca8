"""``xtrace.scipy.cluster``: ``jax.scipy.cluster`` (the ``vq`` module)."""
from xtrace.scipy.cluster import vq  # noqa: F401

__all__ = ["vq"]
