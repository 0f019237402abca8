"""``xtrace.scipy.stats``: probability distributions, one module each (as in
``jax.scipy.stats``): ``xtrace.scipy.stats.norm.logpdf(x, loc, scale)`` and so on."""
from xtrace.scipy.stats import (  # noqa: F401
    bernoulli, beta, betabinom, binom, cauchy, chi2, dirichlet, expon, gamma, gennorm, geom,
    gumbel_l, gumbel_r, laplace, logistic, multinomial, multivariate_normal, nbinom, norm, pareto,
    poisson, t, truncnorm, uniform, vonmises, wrapcauchy)
from xtrace._src.scipy.stats.summary import ModeResult, mode, rankdata, sem  # noqa: F401

__all__ = ["ModeResult", "mode", "rankdata", "sem", "bernoulli", "beta", "betabinom", "binom",
           "cauchy", "chi2", "dirichlet", "expon", "gamma", "gennorm", "geom", "gumbel_l",
           "gumbel_r", "laplace", "logistic", "multinomial", "multivariate_normal", "nbinom",
           "norm", "pareto", "poisson", "t", "truncnorm", "uniform", "vonmises", "wrapcauchy"]
