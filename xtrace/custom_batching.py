"""``xtrace.custom_batching``: user-defined vmap rules, as ``jax.custom_batching``."""
from xtrace._src.custom_batching import custom_vmap, sequential_vmap

__all__ = ["custom_vmap", "sequential_vmap"]
