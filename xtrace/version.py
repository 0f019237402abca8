"""xtrace's version (``xtrace.__version__``, as ``jax.version``); pyproject.toml carries the same
string."""

__version__ = "0.1.0"
_version = __version__
