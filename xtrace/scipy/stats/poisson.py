"""``xtrace.scipy.stats.poisson`` (``jax.scipy.stats.poisson``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    poisson_cdf as cdf, poisson_entropy as entropy, poisson_logpmf as logpmf, poisson_pmf as pmf)

__all__ = ['cdf', 'entropy', 'logpmf', 'pmf']
