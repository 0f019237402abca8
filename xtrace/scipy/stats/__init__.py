"""``xtrace.scipy.stats``: probability distributions (one module each, like
``jax.scipy.stats``)."""
