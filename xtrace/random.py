"""``xtrace.random``: JAX's key-based pseudo-random numbers (threefry2x32), bit for bit.

Keys are raw ``uint32[2]`` arrays (``key`` and ``PRNGKey`` make the same thing); the same seed
gives the same numbers as ``jax.random`` (with ``jax_threefry_partitionable=True``, JAX's
default). Functions are pure: pass a fresh key (``split``/``fold_in``) for fresh numbers.
"""
from xtrace._src.random import (  # noqa: F401
    PRNGKey, bernoulli, bits, categorical, choice, exponential, fold_in, gumbel, key, key_data,
    laplace, logistic, normal, permutation, rademacher, randint, split, threefry_2x32,
    truncated_normal, uniform, wrap_key_data)
from xtrace._src.random_distributions import (  # noqa: F401
    ball, beta, binomial, cauchy, chisquare, clone, dirichlet, double_sided_maxwell, f, gamma,
    generalized_normal, geometric, key_impl, loggamma, lognormal, maxwell, multinomial,
    multivariate_normal, orthogonal, pareto, poisson, rayleigh, t, triangular, wald,
    weibull_min)

__all__ = ["PRNGKey", "key", "key_data", "wrap_key_data", "split", "fold_in", "bits",
           "uniform", "normal", "truncated_normal", "randint", "bernoulli", "categorical",
           "permutation", "choice", "gumbel", "exponential", "laplace", "logistic",
           "rademacher", "threefry_2x32", "key_impl", "clone", "gamma", "loggamma", "beta",
           "dirichlet", "chisquare", "f", "t", "poisson", "binomial", "multinomial",
           "geometric", "cauchy", "lognormal", "maxwell", "double_sided_maxwell", "pareto",
           "rayleigh", "triangular", "wald", "weibull_min", "generalized_normal",
           "multivariate_normal", "orthogonal", "ball"]
