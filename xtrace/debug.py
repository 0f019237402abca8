"""``xtrace.debug``: printing and callbacks with runtime values (JAX's ``jax.debug``)."""
from xtrace._src.callback import debug_callback as callback
from xtrace._src.callback import debug_print as print  # noqa: A001

__all__ = ["callback", "print"]
