"""``xtrace.scipy.stats.multivariate_normal`` (``jax.scipy.stats.multivariate_normal``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    multivariate_normal_logpdf as logpdf, multivariate_normal_pdf as pdf)

__all__ = ['logpdf', 'pdf']
