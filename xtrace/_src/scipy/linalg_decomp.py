"""``jax.scipy.linalg``'s factorizations and solvers: ``cholesky``, ``cho_factor``,
``cho_solve``, ``lu``, ``lu_factor``, ``lu_solve``, ``qr`` (with column pivoting),
``qr_multiply``, ``svd``,
``eigh``, ``det``, ``inv``, ``solve``, ``solve_triangular``, ``polar``, ``hessenberg`` and
``eigh_tridiagonal``.

They reuse ``xtrace.lax.linalg`` (the ``cholesky`` and ``triangular_solve`` primitives, the LU
and Householder loops) and ``xtrace.numpy.linalg`` (Jacobi SVD and eigh), so derivatives are
those rules. SciPy's ``overwrite_*``, ``check_finite``, ``lwork``, ``debug``, ``turbo`` and
``lapack_driver`` arguments are accepted and ignored, as in JAX.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes, lax
from xtrace._src.api import vmap
from xtrace._src.array import Array
from xtrace._src.jit import jit
from xtrace._src.nn.functions import _inexact_many
from xtrace._src.numpy import linalg as _nla
from xtrace._src.numpy import linalg_solve as _nls
from xtrace._src.prims.decompositions import cholesky as _lax_cholesky
from xtrace._src.prims.decompositions import triangular_solve

ArrayLike = Any


def _square(name: str, a, what: str = "a") -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: {what} must be a (batch of) square matrices with shape "
                         f"[..., n, n], got shape {a.shape}")


def _matrix(name: str, a, what: str = "a") -> None:
    if a.ndim < 2:
        raise ValueError(f"{name}: {what} must have at least 2 dimensions [..., m, n], got "
                         f"shape {a.shape}")


def _mT(x):
    return xnp.swapaxes(x, -1, -2)


def _vector_or_matrix_rhs(name: str, a, b) -> bool:
    """Whether ``b`` holds vectors (JAX's rule): a 1-D ``b``, or (deprecated, with a
    FutureWarning) a stack of vectors with one dimension fewer than ``a``."""
    if b.ndim == 1:
        return True
    if a.ndim == b.ndim + 1 and a.shape[-1] == b.shape[-1]:
        warnings.warn(f"xtrace.scipy.linalg.{name}: batched 1D solves with b.ndim > 1 are "
                      "deprecated, and in the future will be treated as a batched 2D solve. "
                      f"Use {name}(..., b[..., None]).squeeze(-1) to avoid this warning.",
                      category=FutureWarning, stacklevel=3)
        return True
    return False


def _vectorized(name, fn, a, b, *rest):
    """``fn(a, *rest, b)`` on core matrices ``(n, n)`` and ``b`` (``(n,)`` or ``(n, k)``),
    broadcasting leading dimensions as ``jnp.vectorize`` does."""
    if b.ndim == 0:
        raise ValueError(f"{name}: b must have at least one dimension, got shape {b.shape}")
    vec = _vector_or_matrix_rhs(name, a, b)
    core = "(n)" if vec else "(n,k)"
    n = a.shape[-1]
    rows = b.shape[-1] if vec else b.shape[-2]
    if rows != n:
        raise ValueError(f"{name}: a {a.shape} and b {b.shape} do not match: b needs {n} rows")
    extra = "".join(",(n)" for _ in rest)
    return xnp.vectorize(fn, signature=f"(n,n){extra},{core}->{core}")(a, *rest, b)


# ---------------------------------------------------------------------------------------------
# Triangular solves and Cholesky


_TRANS = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
          2: (True, True), "C": (True, True)}


@functools.partial(jit, static_argnames=("transpose_a", "conjugate_a", "lower",
                                          "unit_diagonal"))
def _solve_triangular(a, b, *, transpose_a, conjugate_a, lower, unit_diagonal):
    fn = functools.partial(triangular_solve, left_side=True, lower=lower,
                           transpose_a=transpose_a, conjugate_a=conjugate_a,
                           unit_diagonal=unit_diagonal)
    return _vectorized("solve_triangular", fn, a, b)


def solve_triangular(a: ArrayLike, b: ArrayLike, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False, debug: Any = None,
                     check_finite: bool = True) -> Array:
    """Solve ``op(a) @ x = b`` for triangular ``a`` (only its ``lower`` or upper triangle is
    read; ``unit_diagonal`` assumes ones on the diagonal); ``trans`` 0/'N', 1/'T' or 2/'C'
    makes ``op`` the identity, the transpose or the conjugate transpose. ``b`` is ``(..., n)``
    or ``(..., n, k)``; leading dimensions broadcast."""
    del overwrite_b, debug, check_finite
    try:
        transpose_a, conjugate_a = _TRANS[trans]
    except (KeyError, TypeError):
        raise ValueError(f"Invalid 'trans' value {trans}") from None
    a, b = _inexact_many("solve_triangular", a, b)
    _square("solve_triangular", a)
    return _solve_triangular(a, b, transpose_a=transpose_a, conjugate_a=conjugate_a,
                             lower=bool(lower), unit_diagonal=bool(unit_diagonal))


@functools.partial(jit, static_argnames=("lower",))
def _cholesky(a, *, lower):
    l_ = _lax_cholesky(a if lower else xnp.conj(_mT(a)), symmetrize_input=False)
    return l_ if lower else xnp.conj(_mT(l_))


def cholesky(a: ArrayLike, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Array:
    """Cholesky factor of a (batch of) Hermitian positive-definite matrices: upper-triangular
    ``U`` with ``a = U^H U`` (SciPy's default), or lower ``L`` with ``a = L L^H`` when
    ``lower``. Only that triangle of ``a`` is read; matrices that are not positive definite
    give NaNs."""
    del overwrite_a, check_finite
    a, = _inexact_many("cholesky", a)
    _square("cholesky", a)
    return _cholesky(a, lower=bool(lower))


def cho_factor(a: ArrayLike, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Array, bool]:
    """``(c, lower)`` for ``cho_solve``: ``c`` is ``cholesky(a, lower)`` (its other triangle
    is zero)."""
    del overwrite_a, check_finite
    return cholesky(a, lower=lower), lower


def _cho_solve_core(c, b, lower: bool):
    """Solve with the Cholesky factor ``c`` (core shapes, equal batch dimensions)."""
    ts = functools.partial(triangular_solve, left_side=True, lower=lower)
    b = ts(c, b, transpose_a=not lower, conjugate_a=not lower)
    return ts(c, b, transpose_a=lower, conjugate_a=lower)


@functools.partial(jit, static_argnames=("lower",))
def _cho_solve(c, b, *, lower):
    return _vectorized("cho_solve", functools.partial(_cho_solve_core, lower=lower), c, b)


def cho_solve(c_and_lower: tuple[ArrayLike, bool], b: ArrayLike, overwrite_b: bool = False,
              check_finite: bool = True) -> Array:
    """Solve ``a @ x = b`` from ``cho_factor(a)``'s ``(c, lower)``; ``b`` is ``(..., n)`` or
    ``(..., n, k)``, leading dimensions broadcast."""
    del overwrite_b, check_finite
    c, lower = c_and_lower
    c, b = _inexact_many("cho_solve", c, b)
    _square("cho_solve", c, "c")
    return _cho_solve(c, b, lower=bool(lower))


# ---------------------------------------------------------------------------------------------
# LU


def lu_factor(a: ArrayLike, overwrite_a: bool = False,
              check_finite: bool = True) -> tuple[Array, Array]:
    """``(lu, piv)``: the LU factors of a (batch of) matrices in one array (unit-diagonal L
    below the diagonal, U on and above it) and LAPACK's row interchanges (int32)."""
    del overwrite_a, check_finite
    a, = _inexact_many("lu_factor", a)
    _matrix("lu_factor", a)
    lu_, piv, _ = _nls.lu(a)
    return lu_, piv


@functools.partial(jit, static_argnames=("permute_l",))
def _lu(a, *, permute_l):
    lu_, _, perm = _nls._lu(a)
    *_, m, n = a.shape
    k = min(m, n)
    p = lax.convert_element_type(perm[..., None, :] == xnp.arange(m, dtype=perm.dtype)[:, None],
                                 a.dtype)
    l_ = xnp.tril(lu_, -1)[..., :, :k] + xnp.eye(m, k, dtype=a.dtype)
    u = xnp.triu(lu_)[..., :k, :]
    if permute_l:
        return xnp.matmul(p, l_, precision="highest"), u
    return p, l_, u


def lu(a: ArrayLike, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True) -> tuple[Array, Array] | tuple[Array, Array, Array]:
    """LU decomposition with partial pivoting: ``(p, l, u)`` with ``a = p @ l @ u`` (``l``
    ``(..., m, k)`` unit lower triangular, ``u`` ``(..., k, n)`` upper, ``k = min(m, n)``),
    or ``(p @ l, u)`` with ``permute_l``. Leading dimensions are batches."""
    del overwrite_a, check_finite
    a, = _inexact_many("lu", a)
    _matrix("lu", a)
    return _lu(a, permute_l=bool(permute_l))


def _lu_solve_core(lu_, perm, b, trans: int):
    ts = functools.partial(triangular_solve, lu_, left_side=True)
    if trans == 0:
        x = b[..., perm, :] if b.ndim == 2 else b[perm]
        x = ts(x, lower=True, unit_diagonal=True)
        return ts(x, lower=False)
    conj = trans == 2
    x = ts(b, lower=False, transpose_a=True, conjugate_a=conj)
    x = ts(x, lower=True, unit_diagonal=True, transpose_a=True, conjugate_a=conj)
    inv_perm = xnp.argsort(perm)
    return x[inv_perm, :] if x.ndim == 2 else x[inv_perm]


@functools.partial(jit, static_argnames=("trans",))
def _lu_solve(lu_, piv, b, *, trans):
    perm = _nls.lu_pivots_to_permutation(piv, lu_.shape[-2])
    fn = functools.partial(_lu_solve_core, trans=trans)
    return _vectorized("lu_solve", lambda l_, p, x: fn(l_, p, x), lu_, b, perm)


def lu_solve(lu_and_piv: tuple[Array, ArrayLike], b: ArrayLike, trans: int = 0,
             overwrite_b: bool = False, check_finite: bool = True) -> Array:
    """Solve ``a @ x = b`` (``trans=0``), ``a^T @ x = b`` (1) or ``a^H @ x = b`` (2) from
    ``lu_factor(a)``'s ``(lu, piv)``; ``b`` is ``(..., n)`` or ``(..., n, k)``."""
    del overwrite_b, check_finite
    if trans not in (0, 1, 2) or isinstance(trans, bool):
        raise ValueError(f"'trans' value must be 0, 1, or 2, got {trans}")
    lu_, piv = lu_and_piv
    lu_, b = _inexact_many("lu_solve", lu_, b)
    _square("lu_solve", lu_, "lu")
    return _lu_solve(lu_, xnp.asarray(piv), b, trans=int(trans))


# ---------------------------------------------------------------------------------------------
# QR


def _geqp3_step(j, state):
    """Column pivoting (the remaining column of largest norm moves to position j), then
    step j of Householder QR."""
    a, taus, perm = state
    *_, m, n = a.shape
    rows, cols = lax.iota(dtypes.int32, m), lax.iota(dtypes.int32, n)
    norms = xnp.sum(xnp.where((rows >= j)[:, None], _nla._abs2(a), 0), axis=-2)
    p = xnp.argmax(xnp.where(cols >= j, norms, -1), axis=-1)
    swap = xnp.where(cols == j, p[..., None], xnp.where(cols == p[..., None], j, cols))
    a = xnp.take_along_axis(a, xnp.broadcast_to(swap[..., None, :], a.shape), axis=-1)
    perm = xnp.take_along_axis(perm, swap, axis=-1)
    a, taus = _nls._geqrf_step(j, (a, taus))
    return a, taus, perm


def _qr_pivots(a):
    """LAPACK ``geqp3``'s column permutation (no derivative)."""
    *batch, m, n = a.shape
    a = lax.stop_gradient(a)
    perm = xnp.broadcast_to(xnp.arange(n, dtype=dtypes.int32), tuple(batch) + (n,))
    taus = xnp.zeros(tuple(batch) + (min(m, n),), a.dtype)
    return lax.fori_loop(0, min(m, n), _geqp3_step, (a, taus, perm))[2]


@functools.partial(jit, static_argnames=("mode", "pivoting"))
def _qr(a, *, mode, pivoting):
    p = None
    if pivoting:
        p = _qr_pivots(a)
        a = xnp.take_along_axis(a, xnp.broadcast_to(p[..., None, :], a.shape), axis=-1)
    q, r = _nls._qr(a, mode != "economic")
    out = (r,) if mode == "r" else (q, r)
    return out + (p,) if pivoting else out


def qr(a: ArrayLike, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True
       ) -> tuple[Array] | tuple[Array, Array] | tuple[Array, Array, Array]:
    """QR decomposition ``(q, r)`` of a (batch of) matrices: ``mode='full'`` (``q``
    ``(..., m, m)``), ``'economic'`` (``q`` ``(..., m, k)``, ``r`` ``(..., k, n)``) or ``'r'``
    (``(r,)``, full size). ``pivoting=True`` also returns the column permutation ``p``
    (int32) of LAPACK's ``geqp3``, with ``a[..., p] = q @ r`` and ``|diag(r)|`` decreasing.
    Derivatives as ``xtrace.lax.linalg.qr`` (the permutation is piecewise constant)."""
    del overwrite_a, lwork, check_finite
    if mode not in ("full", "r", "economic"):
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    a, = _inexact_many("qr", a)
    _matrix("qr", a)
    return _qr(a, mode=mode, pivoting=bool(pivoting))


def qr_multiply(a: ArrayLike, c: ArrayLike, mode: str = "right", pivoting: bool = False,
                conjugate: bool = False, overwrite_a: bool = False, overwrite_c: bool = False
                ) -> tuple[Array, Array] | tuple[Array, Array, Array]:
    """``(Q @ c, r)`` (``mode='left'``, ``c`` with ``min(m, n)`` rows) or ``(c @ Q, r)``
    (``'right'``, ``c`` with ``m`` columns) for the economic QR factors of ``a``, ``Q``
    conjugated with ``conjugate``; ``pivoting`` appends the column permutation. A 1-D ``c``
    gives a 1-D product; leading dimensions of ``a`` and ``c`` broadcast."""
    del overwrite_a, overwrite_c
    a, c = _inexact_many("qr_multiply", a, c)
    if mode not in ("right", "left"):
        raise ValueError(f"mode must be 'right' or 'left', got {mode!r}")
    _matrix("qr_multiply", a)
    onedim = c.ndim == 1
    if onedim:
        c = c[:, None] if mode == "left" else c[None, :]
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "left" and c.shape[-2] != k:
        raise ValueError(f"Array shapes are not compatible for Q @ c operation: a has shape "
                         f"{a.shape} so Q has {k} columns, but c has {c.shape[-2]} rows "
                         f"(expected {k}).")
    if mode == "right" and c.shape[-1] != m:
        raise ValueError(f"Array shapes are not compatible for c @ Q operation: a has shape "
                         f"{a.shape} so Q has {m} rows, but c has {c.shape[-1]} columns "
                         f"(expected {m}).")
    q, r, *p = _qr(a, mode="economic", pivoting=bool(pivoting))
    q = xnp.conj(q) if conjugate else q
    cq = xnp.matmul(q, c, precision="highest") if mode == "left" else \
        xnp.matmul(c, q, precision="highest")
    if onedim:
        cq = xnp.ravel(cq)
    return (cq, r, *p)


# ---------------------------------------------------------------------------------------------
# svd, eigh, det, inv, solve


def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True,
        overwrite_a: bool = False, check_finite: bool = True,
        lapack_driver: str = "gesdd") -> Array | tuple[Array, Array, Array]:
    """Singular value decomposition: ``(u, s, vh)`` with ``a = u @ diag(s) @ vh`` and ``s``
    descending, or only ``s`` without ``compute_uv``; ``full_matrices=False`` gives the thin
    factors. As ``xtrace.numpy.linalg.svd`` (same derivative rules)."""
    del overwrite_a, check_finite, lapack_driver
    a, = _inexact_many("svd", a)
    out = _nla.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def eigh(a: ArrayLike, b: ArrayLike | None = None, lower: bool = True,
         eigvals_only: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
         turbo: bool = True, eigvals: None = None, type: int = 1,
         check_finite: bool = True) -> Array | tuple[Array, Array]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a (batch of) Hermitian matrices,
    or the eigenvalues only with ``eigvals_only``. As in JAX the input is symmetrized
    (``(a + a^H) / 2``), so ``lower`` does not matter; the generalized problem (``b``),
    ``type != 1`` and ``eigvals`` subsets raise NotImplementedError."""
    del overwrite_a, overwrite_b, turbo, check_finite
    if b is not None:
        raise NotImplementedError("Only the b=None case of eigh is implemented")
    if type != 1:
        raise NotImplementedError("Only the type=1 case of eigh is implemented.")
    if eigvals is not None:
        raise NotImplementedError("Only the eigvals=None case of eigh is implemented.")
    a, = _inexact_many("eigh", a)
    uplo = "L" if lower else "U"
    if eigvals_only:
        return _nla.eigvalsh(a, UPLO=uplo)
    w, v = _nla.eigh(a, UPLO=uplo)
    return w, v


def det(a: ArrayLike, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """Determinant of a (batch of) square matrices (``xtrace.numpy.linalg.det``)."""
    del overwrite_a, check_finite
    return _nls.det(a)


def inv(a: ArrayLike, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """Inverse of a (batch of) square matrices (``xtrace.numpy.linalg.inv``)."""
    del overwrite_a, check_finite
    return _nls.inv(a)


def _broadcasted_matvec(a, x):
    """``(..., n, m), (..., m) -> (..., n)`` with broadcast leading dimensions."""
    batch = np.broadcast_shapes(a.shape[:-2], x.shape[:-1])
    a = xnp.broadcast_to(a, batch + a.shape[-2:])
    x = xnp.broadcast_to(x, batch + x.shape[-1:])
    nb = tuple(range(len(batch)))
    return lax.dot_general(a, x, (((a.ndim - 1,), (x.ndim - 1,)), (nb, nb)),
                           precision="highest")


@functools.partial(jit, static_argnames=("lower",))
def _solve_pos(a, b, *, lower):
    c = _cholesky(lax.stop_gradient(a), lower=lower)

    def solve_vec(x):
        return xnp.vectorize(functools.partial(_cho_solve_core, lower=lower),
                             signature="(n,n),(n)->(n)")(c, x)

    custom_solve = functools.partial(lax.custom_linear_solve,
                                     lambda x: _broadcasted_matvec(a, x),
                                     solve=lambda _, x: solve_vec(x),
                                     transpose_solve=lambda _, x: solve_vec(x), symmetric=True)
    if a.ndim == b.ndim + 1:
        return custom_solve(b)
    return vmap(custom_solve, b.ndim - 1, max(a.ndim, b.ndim) - 1)(b)


def solve(a: ArrayLike, b: ArrayLike, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: bool = False, check_finite: bool = True,
          assume_a: str = "gen") -> Array:
    """Solve ``a @ x = b``. ``assume_a`` 'gen', 'sym' and 'her' use LU with partial pivoting
    (``xtrace.numpy.linalg.solve``); 'pos' (positive definite) a Cholesky factorization of
    the ``lower`` or upper triangle, with derivatives through the linear system."""
    del overwrite_a, overwrite_b, debug, check_finite
    valid = ["gen", "sym", "her", "pos"]
    if assume_a not in valid:
        raise ValueError(f"Expected assume_a to be one of {valid}; got {assume_a!r}")
    if assume_a != "pos":
        return _nls.solve(a, b)
    a, b = _inexact_many("solve", a, b)
    if not (a.ndim >= 2 and b.ndim in (a.ndim, a.ndim - 1)
            and a.shape[-1] == a.shape[-2] == b.shape[a.ndim - 2]):
        raise ValueError("The arguments to solve must have shapes a=[..., m, m] and "
                         f"b=[..., m, k] or b=[..., m]; got a={a.shape} and b={b.shape}")
    return _solve_pos(a, b, lower=bool(lower))


# ---------------------------------------------------------------------------------------------
# polar, hessenberg, eigh_tridiagonal


@functools.partial(jit, static_argnames=("side",))
def _polar_svd(a, *, side):
    u, s, vh = _nla.svd(a, full_matrices=False)
    s = lax.convert_element_type(s, a.dtype)
    unitary = xnp.matmul(u, vh, precision="highest")
    if side == "right":
        posdef = xnp.matmul(xnp.conj(_mT(vh)) * s[..., None, :], vh, precision="highest")
    else:
        posdef = xnp.matmul(u * s[..., None, :], xnp.conj(_mT(u)), precision="highest")
    return unitary, posdef


@functools.partial(jit, static_argnames=("side", "eps", "max_iterations"))
def _polar_qdwh(a, *, side, eps, max_iterations):
    from xtrace._src.scipy.qdwh import qdwh_polar
    fn = functools.partial(qdwh_polar, side=side, eps=eps, max_iterations=max_iterations)
    p = "(n,n)" if side == "right" else "(m,m)"
    return xnp.vectorize(fn, signature=f"(m,n)->(m,n),{p}")(a)


def polar(a: ArrayLike, side: str = "right", *, method: str = "qdwh",
          eps: float | None = None, max_iterations: int | None = None) -> tuple[Array, Array]:
    """Polar decomposition ``(u, p)`` of a (batch of) matrices: ``a = u @ p`` (``side='right'``,
    ``p`` ``(..., n, n)``) or ``a = p @ u`` (``'left'``, ``p`` ``(..., m, m)``), ``u`` with
    orthonormal columns (rows if n > m) and ``p`` positive semidefinite. ``method='qdwh'``
    (QR-based dynamically weighted Halley iteration, to relative tolerance ``eps`` in at most
    ``max_iterations`` steps; tall matrices with 'right', wide with 'left', as in JAX; no
    reverse-mode derivative) or ``'svd'`` (``u = U Vh``; any shape, differentiable)."""
    a, = _inexact_many("polar", a)
    if a.ndim < 2:
        raise ValueError("The input `a` must be at least a 2-D array.")
    if side not in ("right", "left"):
        raise ValueError("The argument `side` must be either 'right' or 'left'.")
    m, n = a.shape[-2:]
    if method == "svd":
        return _polar_svd(a, side=side)
    if method != "qdwh":
        raise ValueError(f"Unknown polar decomposition method {method}.")
    if not ((m >= n and side == "right") or (m < n and side == "left")):
        raise NotImplementedError("method='qdwh' only supports mxn matrices where m < n "
                                  "where side='right' and m >= n side='left', got "
                                  f"{a.shape[-2:]} with side={side!r}")
    return _polar_qdwh(a, side=side, eps=None if eps is None else float(eps),
                       max_iterations=None if max_iterations is None else int(max_iterations))


def _gehrd_step(j, state):
    """Step j of LAPACK's ``gehrd``: a reflector ``H = I - tau v v^H`` (``v[j+1] = 1``) zeroes
    column j below the subdiagonal; ``a <- H^H a H``, its tail stored below the subdiagonal."""
    a, taus = state
    n = a.shape[-1]
    dt = a.dtype
    rows = lax.iota(dtypes.int32, n)
    col = xnp.sum(xnp.where(rows == j, a, 0), axis=-1)  # a[..., :, j]
    alpha = xnp.sum(xnp.where(rows == j + 1, col, 0), axis=-1)
    below = rows > j + 1
    tail = xnp.where(below, col, 0)
    beta, tau, scale, _ = _nls._householder(alpha, xnp.sum(_nla._abs2(tail), axis=-1))
    v = xnp.where(rows == j + 1, np.ones((), dt)[()], tail * scale[..., None])
    # a <- (I - conj(tau) v v^H) a (the columns right of j: the others hold reflectors),
    # then a <- a (I - tau v v^H)
    w = xnp.where(rows > j, xnp.sum(xnp.conj(v)[..., :, None] * a, axis=-2), 0)
    a = a - xnp.conj(tau)[..., None, None] * v[..., :, None] * w[..., None, :]
    z = xnp.sum(a * v[..., None, :], axis=-1)
    a = a - tau[..., None, None] * z[..., :, None] * xnp.conj(v)[..., None, :]
    newcol = xnp.where(rows == j + 1, lax.convert_element_type(beta, dt)[..., None],
                       xnp.where(below, v, col))
    a = xnp.where(rows == j, newcol[..., :, None], a)
    taus = xnp.where(lax.iota(dtypes.int32, n - 1) == j, tau[..., None], taus)
    return a, taus


@functools.partial(jit, static_argnames=("calc_q",))
def _hessenberg(a, *, calc_q):
    *batch, n, _ = a.shape
    taus = xnp.zeros(tuple(batch) + (n - 1,), a.dtype)
    h, taus = lax.fori_loop(0, n - 1, _gehrd_step, (a, taus))
    if not calc_q:
        return xnp.triu(h, -1)
    q = _nls._householder_product(h[..., 1:, :-1], taus, n - 1)
    q = xnp.pad(q, [(0, 0)] * len(batch) + [(1, 0), (1, 0)])
    q = q + xnp.asarray(np.pad(np.ones((1, 1)), ((0, n - 1), (0, n - 1))), a.dtype)
    return xnp.triu(h, -1), q


def hessenberg(a: ArrayLike, *, calc_q: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> Array | tuple[Array, Array]:
    """Upper Hessenberg form ``h`` of a (batch of) square matrices by Householder reflections
    (LAPACK's ``gehrd``), and with ``calc_q`` the unitary ``q`` with ``a = q @ h @ q^H``."""
    del overwrite_a, check_finite
    a = xnp.asarray(a)
    if not dtypes.is_inexact(a.dtype):
        raise TypeError(f"hessenberg does not accept dtype {a.dtype.name}; use a floating or "
                        "complex dtype")
    _square("hessenberg", a)
    if a.shape[-1] == 0:
        return (xnp.zeros_like(a), xnp.zeros_like(a)) if calc_q else xnp.zeros_like(a)
    return _hessenberg(a, calc_q=bool(calc_q))


@functools.partial(jit, static_argnames=("eigvals_only", "select", "select_range"))
def _eigh_tridiagonal(d, e, *, eigvals_only, select, select_range):
    n = d.shape[0]
    t = xnp.zeros((n, n), d.dtype)
    idx = np.arange(n - 1)
    t = t.at[idx, idx + 1].set(e).at[idx + 1, idx].set(xnp.conj(e))
    t = t + xnp.diag(d)
    if eigvals_only:
        w, v = _nla.eigvalsh(t, symmetrize_input=False), None
    else:
        w, v = _nla.eigh(t, symmetrize_input=False)
    if select == "i":
        lo, hi = select_range
        w = w[lo:hi + 1]
        v = None if v is None else v[:, lo:hi + 1]
    return w if eigvals_only else (w, v)


def eigh_tridiagonal(d: ArrayLike, e: ArrayLike, *, eigvals_only: bool = False,
                     select: str = "a", select_range: tuple[float, float] | None = None,
                     tol: float | None = None, key: Array | None = None
                     ) -> Array | tuple[Array, Array]:
    """Eigenvalues (ascending, real) of the Hermitian tridiagonal matrix with diagonal ``d``
    ``(n,)`` and superdiagonal ``e`` ``(n - 1,)`` (the subdiagonal is ``conj(e)``), and unless
    ``eigvals_only`` its eigenvectors (columns). ``select='a'`` gives all of them, ``'i'``
    the indices ``select_range = (lo, hi)`` (inclusive); ``tol`` and ``key`` are accepted for
    JAX's signature (the matrix is solved by the Jacobi eigensolver of ``eigh``)."""
    del tol, key
    d, e = xnp.asarray(d), xnp.asarray(e)
    if d.dtype != e.dtype:
        raise TypeError(f"diagonal and off-diagonal values must have same dtype, got "
                        f"{d.dtype} and {e.dtype}")
    if d.dtype.type not in (np.float32, np.float64, np.complex64, np.complex128):
        raise TypeError("Only float32 and float64 inputs are supported as inputs to "
                        f"xtrace.scipy.linalg.eigh_tridiagonal, got {d.dtype} and {e.dtype}")
    if d.ndim != 1 or e.shape != (max(d.shape[0] - 1, 0),):
        raise ValueError(f"eigh_tridiagonal: d must be (n,) and e (n - 1,), got shapes "
                         f"{d.shape} and {e.shape}")
    n = d.shape[0]
    if select == "v":
        raise NotImplementedError("eigh_tridiagonal(..., select='v') is not implemented")
    if select == "i":
        if select_range is None:
            raise ValueError("for select='i', select_range must be specified.")
        lo, hi = (int(i) for i in select_range)
        if not 0 <= lo <= hi < n:
            raise ValueError(f"for select='i', select_range must be 0 <= lo <= hi < n = {n}, "
                             f"got {select_range}")
        select_range = (lo, hi)
    elif select == "a":
        select_range = None
    else:
        raise ValueError(f"'select' must be 'a', 'i' or 'v', got {select!r}")
    if n <= 1:
        w = xnp.real(d)
        return w if eigvals_only else (w, xnp.eye(n, dtype=d.dtype))
    return _eigh_tridiagonal(d, e, eigvals_only=bool(eigvals_only), select=select,
                             select_range=select_range)
