"""``xtrace.scipy.stats.betabinom`` (``jax.scipy.stats.betabinom``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    betabinom_logpmf as logpmf, betabinom_pmf as pmf)

__all__ = ['logpmf', 'pmf']
