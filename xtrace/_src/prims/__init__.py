"""Primitive records. Each module defines primitives together with their ``lax`` wrappers.

Importing this package registers every primitive in ``core.primitives``.
"""
from xtrace._src.prims import elementwise, structural, reductions, linalg, indexing  # noqa: F401
from xtrace._src.prims import conv, fft, sorting  # noqa: F401
from xtrace._src.prims import windowed, higher_order, rng  # noqa: F401
from xtrace._src.prims import control_flow, decompositions  # noqa: F401
from xtrace._src.prims import collectives  # noqa: F401
from xtrace._src.prims import callbacks  # noqa: F401
