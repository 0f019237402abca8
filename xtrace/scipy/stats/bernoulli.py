"""``xtrace.scipy.stats.bernoulli`` (``jax.scipy.stats.bernoulli``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    bernoulli_cdf as cdf, bernoulli_logpmf as logpmf, bernoulli_pmf as pmf, bernoulli_ppf as ppf)

__all__ = ['cdf', 'logpmf', 'pmf', 'ppf']
