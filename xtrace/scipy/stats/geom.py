"""``xtrace.scipy.stats.geom`` (``jax.scipy.stats.geom``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    geom_logpmf as logpmf, geom_pmf as pmf)

__all__ = ['logpmf', 'pmf']
