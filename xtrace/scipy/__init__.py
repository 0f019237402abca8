"""``xtrace.scipy``: SciPy's API on xtrace arrays (``special``, ``stats``, ``linalg``), like
``jax.scipy``.

The submodules load on first use (``xtrace.scipy.special`` after ``import xtrace``, or
``import xtrace.scipy.special``), so ``import xtrace`` stays cheap, as in JAX.
"""
import importlib as _importlib

__all__ = ["cluster", "fft", "integrate", "interpolate", "linalg", "ndimage", "signal", "sparse",
           "special", "stats"]


def __getattr__(name):
    if name in __all__:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
