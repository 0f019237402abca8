"""``xtrace.scipy.stats.dirichlet`` (``jax.scipy.stats.dirichlet``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    dirichlet_logpdf as logpdf, dirichlet_pdf as pdf)

__all__ = ['logpdf', 'pdf']
