"""``xtrace.scipy.linalg``: ``jax.scipy.linalg``'s factorizations (Schur too), solvers,
matrix functions and special matrices."""
from xtrace._src.scipy.linalg import (block_diag, circulant, companion,  # noqa: F401
                                      convolution_matrix, dft, fiedler, fiedler_companion,
                                      hadamard, hankel, helmert, hilbert, invhilbert,
                                      invpascal, leslie, pascal, toeplitz)
from xtrace._src.scipy.linalg_decomp import (cho_factor, cho_solve, cholesky,  # noqa: F401
                                             det, eigh, eigh_tridiagonal, hessenberg, inv,
                                             lu, lu_factor, lu_solve, polar, qr, qr_multiply,
                                             solve, solve_triangular, svd)
from xtrace._src.scipy.linalg_expm import expm, expm_frechet  # noqa: F401
from xtrace._src.scipy.linalg_schur import (funm, rsf2csf, schur, solve_sylvester,  # noqa: F401
                                            sqrtm)

__all__ = ["block_diag", "circulant", "companion", "convolution_matrix", "dft", "fiedler",
           "fiedler_companion", "hadamard", "hankel", "helmert", "hilbert", "invhilbert",
           "invpascal", "leslie", "pascal", "toeplitz", "cho_factor", "cho_solve", "cholesky",
           "det", "eigh", "eigh_tridiagonal", "hessenberg", "inv", "lu", "lu_factor",
           "lu_solve", "polar", "qr", "qr_multiply", "solve", "solve_triangular", "svd", "expm",
           "expm_frechet", "funm", "rsf2csf", "schur", "solve_sylvester", "sqrtm"]
