"""``xtrace.scipy.stats``: probability distributions, one module each (as in
``jax.scipy.stats``): ``xtrace.scipy.stats.norm.logpdf(x, loc, scale)`` and so on."""
from xtrace.scipy.stats import (  # noqa: F401
    bernoulli, beta, betabinom, binom, cauchy, chi2, expon, gamma, geom, gumbel_l, gumbel_r,
    laplace, logistic, nbinom, norm, pareto, poisson, t, uniform)

__all__ = ["bernoulli", "beta", "betabinom", "binom", "cauchy", "chi2", "expon", "gamma", "geom",
           "gumbel_l", "gumbel_r", "laplace", "logistic", "nbinom", "norm", "pareto", "poisson",
           "t", "uniform"]
