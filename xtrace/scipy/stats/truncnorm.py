"""``xtrace.scipy.stats.truncnorm`` (``jax.scipy.stats.truncnorm``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    truncnorm_cdf as cdf, truncnorm_logcdf as logcdf, truncnorm_logpdf as logpdf,
    truncnorm_logsf as logsf, truncnorm_pdf as pdf, truncnorm_sf as sf)

__all__ = ['cdf', 'logcdf', 'logpdf', 'logsf', 'pdf', 'sf']
