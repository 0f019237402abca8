"""``xtrace.scipy.stats.norm`` (``jax.scipy.stats.norm``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    norm_cdf as cdf, norm_isf as isf, norm_logcdf as logcdf, norm_logpdf as logpdf,
    norm_logsf as logsf, norm_pdf as pdf, norm_ppf as ppf, norm_sf as sf)

__all__ = ['cdf', 'isf', 'logcdf', 'logpdf', 'logsf', 'pdf', 'ppf', 'sf']
