"""``xtrace.scipy.stats.wrapcauchy`` (``jax.scipy.stats.wrapcauchy``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    wrapcauchy_logpdf as logpdf, wrapcauchy_pdf as pdf)

__all__ = ['logpdf', 'pdf']
