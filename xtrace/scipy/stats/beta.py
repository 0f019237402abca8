"""``xtrace.scipy.stats.beta`` (``jax.scipy.stats.beta``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    beta_cdf as cdf, beta_logcdf as logcdf, beta_logpdf as logpdf, beta_logsf as logsf,
    beta_pdf as pdf, beta_sf as sf)

__all__ = ['cdf', 'logcdf', 'logpdf', 'logsf', 'pdf', 'sf']
