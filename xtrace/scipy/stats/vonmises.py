"""``xtrace.scipy.stats.vonmises`` (``jax.scipy.stats.vonmises``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    vonmises_logpdf as logpdf, vonmises_pdf as pdf)

__all__ = ['logpdf', 'pdf']
