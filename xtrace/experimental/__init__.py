"""``xtrace.experimental``: JAX's ``jax.experimental`` functions that xtrace provides."""
from xtrace._src.callback import io_callback

__all__ = ["io_callback"]
