"""``xtrace.scipy.stats.multinomial`` (``jax.scipy.stats.multinomial``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    multinomial_logpmf as logpmf, multinomial_pmf as pmf)

__all__ = ['logpmf', 'pmf']
