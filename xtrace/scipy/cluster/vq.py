"""``xtrace.scipy.cluster.vq``: ``jax.scipy.cluster.vq.vq``."""
from xtrace._src.scipy.misc import vq  # noqa: F401

__all__ = ["vq"]
