"""``xtrace.scipy.stats.laplace`` (``jax.scipy.stats.laplace``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    laplace_cdf as cdf, laplace_logpdf as logpdf, laplace_pdf as pdf)

__all__ = ['cdf', 'logpdf', 'pdf']
