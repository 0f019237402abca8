"""``xtrace.scipy.stats.uniform`` (``jax.scipy.stats.uniform``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    uniform_cdf as cdf, uniform_logpdf as logpdf, uniform_pdf as pdf, uniform_ppf as ppf)

__all__ = ['cdf', 'logpdf', 'pdf', 'ppf']
