"""``xtrace.scipy.ndimage``: ``jax.scipy.ndimage.map_coordinates``."""
from xtrace._src.scipy.misc import map_coordinates  # noqa: F401

__all__ = ["map_coordinates"]
