"""``xtrace.random``: JAX's key-based pseudo-random numbers (threefry2x32), bit for bit.

Keys are raw ``uint32[2]`` arrays (``key`` and ``PRNGKey`` make the same thing); the same seed
gives the same numbers as ``jax.random`` (with ``jax_threefry_partitionable=True``, JAX's
default). Functions are pure: pass a fresh key (``split``/``fold_in``) for fresh numbers.
"""
from xtrace._src.random import (  # noqa: F401
    PRNGKey, bernoulli, bits, categorical, choice, exponential, fold_in, gumbel, key, key_data,
    laplace, logistic, normal, permutation, rademacher, randint, split, threefry_2x32,
    truncated_normal, uniform, wrap_key_data)

__all__ = ["PRNGKey", "key", "key_data", "wrap_key_data", "split", "fold_in", "bits",
           "uniform", "normal", "truncated_normal", "randint", "bernoulli", "categorical",
           "permutation", "choice", "gumbel", "exponential", "laplace", "logistic",
           "rademacher", "threefry_2x32"]
