"""``xtrace.numpy.linalg``: the norms, products, decompositions and solvers of ``numpy.linalg``
with ``jax.numpy.linalg``'s semantics.

``svd``/``svdvals`` and ``eigh``/``eigvalsh`` are Jacobi methods written with lax primitives
(any backend, jit, vmap and grad); the matrix norms ord=2, -2 and 'nuc' use them. ``cholesky``
is StableHLO's op; ``solve``, ``inv``, ``det`` and ``slogdet`` use LU with partial pivoting and
``qr`` Householder reflections, both lax loops (LAPACK's conventions, so NumPy's signs), with
StableHLO's ``triangular_solve``; ``lstsq``, ``pinv``, ``matrix_rank`` and ``cond`` the SVD.
All take stacks of matrices and work under jit, vmap and grad (JAX's derivative rules).
``eig``/``eigvals`` (general, non-Hermitian eigenproblems) reduce to Hessenberg form and run
shifted QR iterations to complex Schur form (lax loops, ``_src/numpy/linalg_eig.py``).
"""
from xtrace._src.numpy.linalg import (EighResult, SVDResult, _diagonal,  # noqa: F401
                                      cross as _cross, eigh, eigvalsh, matmul, matrix_norm,
                                      matrix_transpose, norm, outer, svd, svdvals, tensordot,
                                      trace as _trace, vecdot, vector_norm)
from xtrace._src.numpy.linalg_solve import (QRResult, SlogdetResult, cholesky, cond,  # noqa: F401
                                            det, inv, linalg_qr as qr, lstsq, matrix_power,
                                            matrix_rank, multi_dot, pinv, slogdet, solve,
                                            tensorinv, tensorsolve)
from xtrace._src.numpy.linalg_eig import EigResult, eig, eigvals  # noqa: F401


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
           "eigvalsh", "SVDResult", "EighResult", "cholesky", "qr", "solve", "inv", "det",
           "slogdet", "lstsq", "pinv", "matrix_power", "matrix_rank", "multi_dot", "cond",
           "tensorinv", "tensorsolve", "QRResult", "SlogdetResult", "eig", "eigvals",
           "EigResult"]
