"""``xtrace.lax``: the primitive operations, with JAX's names and (strict) semantics."""
from xtrace._src.lax import *  # noqa: F401,F403
from xtrace._src.lax import __dict__ as _d

__all__ = [k for k in _d if not k.startswith("_")]

from xtrace.lax import linalg  # noqa: E402,F401  (``xtrace.lax.linalg``, as ``jax.lax.linalg``)
