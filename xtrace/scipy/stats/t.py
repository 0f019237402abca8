"""``xtrace.scipy.stats.t`` (``jax.scipy.stats.t``)."""
from xtrace._src.scipy.stats.distributions import (  # noqa: F401
    t_logpdf as logpdf, t_pdf as pdf)

__all__ = ['logpdf', 'pdf']
