"""``xtrace.scipy.integrate``: ``jax.scipy.integrate.trapezoid``."""
from xtrace._src.numpy.calculus import trapezoid  # noqa: F401

__all__ = ["trapezoid"]
