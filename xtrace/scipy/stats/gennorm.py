"""``xtrace.scipy.stats.gennorm`` (``jax.scipy.stats.gennorm``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    gennorm_cdf as cdf, gennorm_logpdf as logpdf, gennorm_pdf as pdf)

__all__ = ['cdf', 'logpdf', 'pdf']
