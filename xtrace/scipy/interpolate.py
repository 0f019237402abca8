"""``xtrace.scipy.interpolate``: ``jax.scipy.interpolate.RegularGridInterpolator``."""
from xtrace._src.scipy.misc import RegularGridInterpolator  # noqa: F401

__all__ = ["RegularGridInterpolator"]
