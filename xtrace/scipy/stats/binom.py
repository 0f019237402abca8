"""``xtrace.scipy.stats.binom`` (``jax.scipy.stats.binom``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    binom_logpmf as logpmf, binom_pmf as pmf)

__all__ = ['logpmf', 'pmf']
