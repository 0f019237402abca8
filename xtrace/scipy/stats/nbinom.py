"""``xtrace.scipy.stats.nbinom`` (``jax.scipy.stats.nbinom``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    nbinom_logpmf as logpmf, nbinom_pmf as pmf)

__all__ = ['logpmf', 'pmf']
