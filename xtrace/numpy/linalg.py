"""``xtrace.numpy.linalg``: the norms, products and decompositions of ``numpy.linalg``.

``svd``/``svdvals`` and ``eigh``/``eigvalsh`` are Jacobi methods written with lax primitives
(any backend, jit, vmap and grad); the matrix norms ord=2, -2 and 'nuc' use them. Other
decompositions and solvers (eig, qr, cholesky, solve, inv, det, ...) are not provided yet.
"""
from xtrace._src.numpy.linalg import (EighResult, SVDResult, _diagonal,  # noqa: F401
                                      cross as _cross, eigh, eigvalsh, matmul, matrix_norm,
                                      matrix_transpose, norm, outer, svd, svdvals, tensordot,
                                      trace as _trace, vecdot, vector_norm)


def trace(x, /, *, offset: int = 0, dtype=None):
    """Sum of the ``offset`` diagonal of the last two axes (the array API's ``trace``)."""
    return _trace(x, offset, -2, -1, dtype)


def diagonal(x, /, *, offset: int = 0):
    """The ``offset`` diagonal of the last two axes, as the last axis."""
    from xtrace._src.numpy.core import asarray
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: the array must have at least 2 dimensions, got shape "
                         f"{x.shape}")
    return _diagonal(x, int(offset), x.ndim - 2, x.ndim - 1)


def cross(x1, x2, /, *, axis: int = -1):
    """Cross product of 3-vectors along ``axis`` (the array API's ``cross``)."""
    return _cross(x1, x2, axis=axis)


__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "matrix_transpose", "outer",
           "tensordot", "vecdot", "trace", "diagonal", "cross", "svd", "svdvals", "eigh",
           "eigvalsh", "SVDResult", "EighResult"]
