"""Primitive records. Each module defines primitives together with their ``lax`` wrappers.

Importing this package registers every primitive in ``core.primitives``.
"""
from xtrace._src.prims import elementwise, structural, reductions, linalg  # noqa: F401
