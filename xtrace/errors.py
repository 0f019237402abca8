"""``xtrace.errors``: the exception classes of ``jax.errors``, raised under the same
circumstances."""
from xtrace._src.core import (ConcretizationTypeError, TracerArrayConversionError,
                              TracerBoolConversionError, TracerIntegerConversionError,
                              UnexpectedTracerError)
from xtrace._src.numpy.indexing import NonConcreteBooleanIndexError

__all__ = ["ConcretizationTypeError", "NonConcreteBooleanIndexError",
           "TracerArrayConversionError", "TracerBoolConversionError",
           "TracerIntegerConversionError", "UnexpectedTracerError"]
