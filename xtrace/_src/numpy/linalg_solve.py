"""Factorizations and solvers: LU with partial pivoting and Householder QR written with lax loops
(``xtrace.lax.linalg.lu``/``qr``), and on them ``xtrace.numpy.linalg``'s ``cholesky``, ``qr``,
``solve``, ``inv``, ``det``, ``slogdet``, ``lstsq``, ``pinv``, ``matrix_power``,
``matrix_rank``, ``multi_dot``, ``cond``, ``tensorinv`` and ``tensorsolve`` (JAX's semantics).

LU follows LAPACK's ``getrf`` (the pivot is the largest ``|re| + |im|`` in the column; a zero
pivot leaves its column unscaled, so singular matrices give a zero on U's diagonal and inf/nan
solutions instead of an error) and QR LAPACK's ``geqrf``/``orgqr`` (Householder reflectors
``I - tau v v^H`` with ``v[0] = 1`` and ``beta = -sign(Re alpha) ||x||``, none where the column is
already reduced), so signs match NumPy's. Each loop step updates whole stacks of matrices with
masks, so leading batch dimensions cost no Python loop. Derivatives come from custom JVP rules
(JAX's formulas), never from differentiating the loops.
"""
from __future__ import annotations

import builtins
import functools
import math
import operator
from typing import NamedTuple, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.custom_derivatives import custom_jvp
from xtrace._src.jit import jit
from xtrace._src.numpy import ufuncs as _uf
from xtrace._src.numpy.core import broadcast_shapes, broadcast_to
from xtrace._src.numpy.linalg import (_H, _abs2, _arr, _diag_of, _expand, _eye_like,
                                      _linalg_operand, _mm, _promote, _real_dtype, matmul, norm,
                                      svd)
from xtrace._src.numpy.reductions import _inexact_dtype
from xtrace._src.prims.decompositions import cholesky as _lax_cholesky
from xtrace._src.prims.decompositions import triangular_solve, tril, triu

_where = _uf.where


def _sum(x, axis: int):
    return lax.reduce_sum(x, (axis % get_aval(x).ndim,))


def _zeros(shape, dt):
    return lax.broadcast_in_dim(np.zeros((), dt)[()], tuple(shape), ())


# ---------------------------------------------------------------------------------------------
# LU with partial pivoting (lax.linalg.lu)


def _lu_step(j, state):
    """Step ``j`` of unblocked ``getrf``: pick the pivot row, swap it into row j, scale the
    multipliers below it and update the trailing submatrix."""
    a, piv, perm = state
    *_, m, n = get_aval(a).shape
    nd = get_aval(a).ndim
    rows, cols = lax.iota(dtypes.int32, m), lax.iota(dtypes.int32, n)
    k = get_aval(piv).shape[-1]
    col = _sum(_where(cols == j, a, 0), -1)  # (..., m)
    if dtypes.is_complex(get_aval(a).dtype):
        mag = lax.add(lax.abs(lax.real(col)), lax.abs(lax.imag(col)))
    else:
        mag = lax.abs(col)
    mag = _where(rows >= j, mag, -np.inf)
    p = lax.argmax(mag, nd - 2, dtypes.int32)  # (...,)
    is_p, is_j = rows == _expand(p, nd - 2), rows == j  # (..., m), (m,)
    row_p = _sum(_where(_expand(is_p, nd - 1), a, 0), -2)  # (..., n)
    row_j = _sum(_where(_expand(is_j, 1), a, 0), -2)
    a = _where(_expand(is_j, 1), _expand(row_p, nd - 2),
               _where(_expand(is_p, nd - 1), _expand(row_j, nd - 2), a))
    perm_p, perm_j = _sum(_where(is_p, perm, 0), -1), _sum(_where(is_j, perm, 0), -1)
    perm = _where(is_j, _expand(perm_p, nd - 2), _where(is_p, _expand(perm_j, nd - 2), perm))
    piv = _where(lax.iota(dtypes.int32, k) == j, _expand(p, nd - 2), piv)
    x = _expand(_sum(_where(cols == j, row_p, 0), -1), nd - 2)  # the pivot, (..., 1)
    nonzero = x != 0
    col = _sum(_where(cols == j, a, 0), -1)
    scaled = _where(_uf.logical_and(rows > j, nonzero),
                    _uf.true_divide(col, _where(nonzero, x, 1)), col)
    a = _where(cols == j, _expand(scaled, nd - 1), a)
    update = _uf.multiply(_expand(scaled, nd - 1), _expand(row_p, nd - 2))
    mask = _uf.logical_and(_expand(rows > j, 1), cols > j)
    return _uf.subtract(a, _where(mask, update, 0)), piv, perm


def _lu_impl(a):
    *batch, m, n = get_aval(a).shape
    batch = tuple(batch)
    k = builtins.min(m, n)
    perm = lax.broadcast_in_dim(lax.iota(dtypes.int32, m), batch + (m,), (len(batch),))
    piv = _zeros(batch + (k,), dtypes.int32)
    if k == 0:
        return a, piv, perm
    return lax.fori_loop(0, k, _lu_step, (a, piv, perm))


def _lu_jvp_tangent(lu, a_dot, perm):
    """De Hoog, Anderssen & Lukas: with X = L^-1 P dA U^-1, dL = L tril(X, -1) and
    dU = triu(X) U (L padded to m x m and U to n x n with identities)."""
    *batch, m, n = get_aval(lu).shape
    k = builtins.min(m, n)
    dt = get_aval(lu).dtype
    nd = len(batch) + 2
    l = tril(lax.slice_in_dim(lu, 0, k, axis=nd - 1), -1)
    if m > k:
        l = lax.pad(l, np.zeros((), dt)[()], [(0, 0, 0)] * (nd - 1) + [(0, m - k, 0)])
    l = _uf.add(l, np.eye(m, dtype=dt))
    u = triu(lax.slice_in_dim(lu, 0, k, axis=nd - 2))
    if n > k:
        u = lax.pad(u, np.zeros((), dt)[()], [(0, 0, 0)] * (nd - 2) + [(0, n - k, 0), (0, 0, 0)])
        u = _uf.add(u, np.pad(np.eye(n - k, dtype=dt), ((k, 0), (k, 0))))
    la = triangular_solve(l, _permute_rows(perm, a_dot), left_side=True, lower=True,
                          unit_diagonal=True)
    lau = triangular_solve(u, la, left_side=False, lower=False)
    return _uf.add(_mm(l, tril(lau, -1)), _mm(triu(lau), u))


def _permute_rows(perm, x):
    """``x[..., perm, :]`` as a product with a one-hot matrix (linear in ``x``, so its
    transpose is another product)."""
    m = get_aval(perm).shape[-1]
    nd = get_aval(perm).ndim
    onehot = _expand(perm, nd) == lax.iota(dtypes.int32, m)
    return _mm(lax.convert_element_type(onehot, get_aval(x).dtype), x)


@custom_jvp
def _lu(a):
    return _lu_impl(a)


@_lu.defjvp
def _lu_jvp(primals, tangents):
    a, = primals
    da, = tangents
    lu, piv, perm = _lu_impl(a)
    return (lu, piv, perm), (_lu_jvp_tangent(lu, da, perm), piv, perm)


_lu_jit = jit(_lu)


def lu(x):
    """LU decomposition with partial pivoting of a (batch of) matrices (``jax.lax.linalg.lu``):
    ``(lu, pivots, permutation)`` with ``x[..., permutation, :] == L @ U``, L unit lower
    triangular (below the diagonal of ``lu``) and U upper triangular (on and above it);
    ``pivots`` (int32, ``[..., min(m, n)]``) are the row swaps of LAPACK's ``getrf``."""
    x = _arr(x)
    if x.ndim < 2:
        raise ValueError(f"lu: the operand must have shape [..., m, n], got shape {x.shape}")
    if not dtypes.is_inexact(x.dtype):
        raise TypeError(f"lu: the operand must have a floating-point or complex dtype, got "
                        f"{x.dtype.name}")
    return _lu_jit(x)


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The permutation that the row swaps ``pivots`` (``[..., k]``) apply to
    ``range(permutation_size)`` (``jax.lax.linalg.lu_pivots_to_permutation``)."""
    pivots = _arr(pivots)
    *batch, k = pivots.shape
    if permutation_size < k:
        raise ValueError(f"lu_pivots_to_permutation: permutation_size {permutation_size} is "
                         f"smaller than the number of pivots {k} (shape {pivots.shape})")
    return _pivots_to_perm(pivots, permutation_size=int(permutation_size))


@functools.partial(jit, static_argnames=("permutation_size",))
def _pivots_to_perm(pivots, *, permutation_size):
    *batch, k = pivots.shape
    nd = pivots.ndim
    rows = lax.iota(dtypes.int32, permutation_size)
    perm = lax.broadcast_in_dim(rows, tuple(batch) + (permutation_size,), (len(batch),))
    pivots = lax.convert_element_type(pivots, dtypes.int32)

    def step(j, perm):
        p = _sum(_where(lax.iota(dtypes.int32, k) == j, pivots, 0), -1)
        is_p, is_j = rows == _expand(p, nd - 1), rows == j
        pp, pj = _sum(_where(is_p, perm, 0), -1), _sum(_where(is_j, perm, 0), -1)
        return _where(is_j, _expand(pp, nd - 1), _where(is_p, _expand(pj, nd - 1), perm))

    return lax.fori_loop(0, k, step, perm) if k else perm


def _lu_solve(lu_, perm, b):
    """Solve ``a x = b`` from a's LU factors (equal batch dimensions, b ``[..., m, r]``)."""
    x = _permute_rows(perm, b)
    x = triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
    return triangular_solve(lu_, x, left_side=True, lower=False)


# ---------------------------------------------------------------------------------------------
# Householder QR (lax.linalg.qr)


def _householder(alpha, xnorm2):
    """LAPACK's ``larfg`` on a column with head ``alpha`` and ``||tail||**2 = xnorm2``:
    (beta, tau, 1 / (alpha - beta), reflect); no reflection where the tail is zero and alpha
    is real."""
    dt = get_aval(alpha).dtype
    rdt = _real_dtype(dt)
    complex_ = dtypes.is_complex(dt)
    re = lax.real(alpha) if complex_ else alpha
    im2 = lax.square(lax.imag(alpha)) if complex_ else _zeros(get_aval(alpha).shape, rdt)
    reflect = _uf.logical_or(xnorm2 > 0, im2 > 0)
    nrm = lax.sqrt(lax.add(lax.add(lax.square(re), im2), xnorm2))
    beta = _where(re >= 0, lax.neg(nrm), nrm)
    beta = _where(reflect, beta, re)
    safe_beta = lax.convert_element_type(_where(reflect, beta, 1), dt)
    tau = _where(reflect, _uf.true_divide(_uf.subtract(safe_beta, alpha), safe_beta), 0)
    denom = _uf.subtract(alpha, safe_beta)
    scale = _where(reflect, _uf.true_divide(1, _where(reflect, denom, 1)), 0)
    return beta, lax.convert_element_type(tau, dt), scale, reflect


def _geqrf_step(j, state):
    a, taus = state
    *_, m, n = get_aval(a).shape
    nd = get_aval(a).ndim
    dt = get_aval(a).dtype
    rows, cols = lax.iota(dtypes.int32, m), lax.iota(dtypes.int32, n)
    k = get_aval(taus).shape[-1]
    col = _sum(_where(cols == j, a, 0), -1)  # (..., m)
    alpha = _sum(_where(rows == j, col, 0), -1)
    below = rows > j
    tail = _where(below, col, 0)
    xnorm2 = _sum(_abs2(tail), -1)
    beta, tau, scale, _ = _householder(alpha, xnorm2)
    v = _where(rows == j, np.ones((), dt)[()], _uf.multiply(tail, _expand(scale, nd - 2)))
    # a[j:, j+1:] -= conj(tau) v (v^H a[j:, j+1:])
    w = _sum(_uf.multiply(_expand(_uf.conj(v), nd - 1), a), -2)  # (..., n)
    upd = _uf.multiply(_expand(_expand(_uf.conj(tau), nd - 2), nd - 2),
                       _uf.multiply(_expand(v, nd - 1), _expand(w, nd - 2)))
    a = _uf.subtract(a, _where(cols > j, upd, 0))
    newcol = _where(rows == j, _expand(lax.convert_element_type(beta, dt), nd - 2),
                    _where(below, v, col))
    a = _where(cols == j, _expand(newcol, nd - 1), a)
    taus = _where(lax.iota(dtypes.int32, k) == j, _expand(tau, nd - 2), taus)
    return a, taus


def _geqrf_impl(a):
    """LAPACK's ``geqrf``: R on and above the diagonal, the reflectors' tails below, and
    ``taus`` ``[..., min(m, n)]``."""
    *batch, m, n = get_aval(a).shape
    k = builtins.min(m, n)
    taus = _zeros(tuple(batch) + (k,), get_aval(a).dtype)
    if k == 0:
        return a, taus
    return lax.fori_loop(0, k, _geqrf_step, (a, taus))


def _householder_product(h, taus, cols: int):
    """The first ``cols`` columns of ``H_0 H_1 ... H_{k-1}`` (LAPACK's ``orgqr``)."""
    *batch, m, _ = get_aval(h).shape
    k = get_aval(taus).shape[-1]
    nd = get_aval(h).ndim
    dt = get_aval(h).dtype
    rows = lax.iota(dtypes.int32, m)
    q = _eye_like(tuple(batch), m, dt)

    def step(i, q):
        j = k - 1 - i  # Q = H_j Q, from the last reflector to the first
        col = _sum(_where(lax.iota(dtypes.int32, get_aval(h).shape[-1]) == j, h, 0), -1)
        v = _where(rows == j, np.ones((), dt)[()], _where(rows > j, col, 0))
        tau = _sum(_where(lax.iota(dtypes.int32, k) == j, taus, 0), -1)
        w = _sum(_uf.multiply(_expand(_uf.conj(v), nd - 1), q), -2)  # v^H Q, (..., m)
        return _uf.subtract(q, _uf.multiply(_expand(_expand(tau, nd - 2), nd - 2),
                                            _uf.multiply(_expand(v, nd - 1),
                                                         _expand(w, nd - 2))))

    if k:
        q = lax.fori_loop(0, k, step, q)
    return lax.slice_in_dim(q, 0, cols, axis=nd - 1)


def _qr_impl(a, full_matrices: bool):
    *_, m, n = get_aval(a).shape
    k = builtins.min(m, n)
    h, taus = _geqrf_impl(a)
    q = _householder_product(h, taus, m if full_matrices else k)
    r = triu(h if full_matrices else lax.slice_in_dim(h, 0, k, axis=get_aval(a).ndim - 2))
    return q, r


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def _qr(a, full_matrices):
    return _qr_impl(a, full_matrices)


@_qr.defjvp
def _qr_jvp(full_matrices, primals, tangents):
    """JAX's QR JVP (j-towns.github.io/papers/qr-derivative.pdf): m >= n, and square matrices
    when ``full_matrices``."""
    a, = primals
    da, = tangents
    *_, m, n = get_aval(a).shape
    if m < n or (full_matrices and m != n):
        raise NotImplementedError(
            f"qr: the derivative is only implemented for matrices with at least as many rows "
            f"as columns (and square ones with mode='complete'), got shape {get_aval(a).shape}")
    q, r = _qr_impl(a, full_matrices)
    dx_rinv = triangular_solve(r, da)  # da r^-1 (right side, upper)
    qt_dx_rinv = _mm(_H(q), dx_rinv)
    low = tril(qt_dx_rinv, -1)
    do = _uf.subtract(low, _H(low))
    if dtypes.is_complex(get_aval(a).dtype):
        im = _uf.subtract(qt_dx_rinv, lax.convert_element_type(_uf.real(qt_dx_rinv),
                                                               get_aval(a).dtype))
        do = _uf.add(do, _where(np.eye(n, dtype=bool), im, 0))
    dq = _uf.add(_mm(q, _uf.subtract(do, qt_dx_rinv)), dx_rinv)
    dr = _mm(_uf.subtract(qt_dx_rinv, do), r)
    return (q, r), (dq, dr)


@functools.partial(jit, static_argnames=("full_matrices",))
def _qr_jit(a, *, full_matrices):
    return _qr(a, full_matrices)


_geqrf_jit = jit(_geqrf_impl)


def qr(x, *, pivoting: bool = False, full_matrices: bool = True):
    """QR decomposition ``(q, r)`` of a (batch of) matrices (``jax.lax.linalg.qr``): ``q``
    unitary, ``r`` upper triangular; ``full_matrices=False`` gives the reduced factors."""
    if pivoting:
        raise NotImplementedError("qr: pivoting=True is not supported")
    x = _arr(x)
    if x.ndim < 2 or not dtypes.is_inexact(x.dtype):
        raise ValueError(f"qr: the operand must be a (batch of) floating-point or complex "
                         f"matrices [..., m, n], got shape {x.shape} and dtype {x.dtype.name}")
    return _qr_jit(x, full_matrices=bool(full_matrices))


# ---------------------------------------------------------------------------------------------
# numpy.linalg: cholesky, qr


class QRResult(NamedTuple):
    """``qr``'s result: ``Q @ R`` is the matrix."""
    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    """``slogdet``'s result: ``sign * exp(logabsdet)`` is the determinant."""
    sign: Array
    logabsdet: Array


@functools.partial(jit, static_argnames=("upper", "symmetrize_input"))
def _cholesky_jit(a, *, upper, symmetrize_input):
    L = _lax_cholesky(a, symmetrize_input=symmetrize_input)
    return _H(L) if upper else L


def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True) -> Array:
    """Cholesky factor of a (stack of) Hermitian positive-definite matrices, as
    ``jax.numpy.linalg.cholesky``: lower-triangular ``L`` with ``a = L @ L^H``, or ``L^H`` with
    ``upper=True``. ``a`` is symmetrized first (``symmetrize_input``, JAX's default); otherwise
    its lower triangle is read. Matrices that are not positive definite give NaNs."""
    a = _linalg_operand("cholesky", a, square=True)
    return _cholesky_jit(a, upper=bool(upper), symmetrize_input=bool(symmetrize_input))


def linalg_qr(a, mode: str = "reduced"):
    """QR decomposition of a (stack of) matrices, as ``numpy.linalg.qr``: ``QRResult(Q, R)``
    for ``mode='reduced'`` (Q ``[..., m, k]``, R ``[..., k, n]``, k = min(m, n)) or
    ``'complete'`` (Q ``[..., m, m]``, R ``[..., m, n]``); ``'r'`` returns only R, ``'raw'``
    LAPACK's ``(h, tau)`` with ``h`` transposed. Signs follow LAPACK (and NumPy).
    Differentiable for m >= n ('reduced', 'r') and square matrices ('complete')."""
    a = _linalg_operand("qr", a)
    if mode == "raw":
        h, taus = _geqrf_jit(a)
        return QRResult(lax.transpose(h, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)),
                        taus)
    if mode in ("reduced", "r", "full"):
        full = False
    elif mode == "complete":
        full = True
    else:
        raise ValueError(f"qr: unsupported mode {mode!r}; use 'reduced', 'complete', 'r' or "
                         "'raw'")
    q, r = _qr_jit(a, full_matrices=full)
    return r if mode == "r" else QRResult(q, r)


# ---------------------------------------------------------------------------------------------
# solve, inv


def _inexact_pair(name, a, b):
    a, b = _promote(a, b)
    if not dtypes.is_inexact(a.dtype):
        dt = _inexact_dtype(a.dtype)
        a, b = (lax.convert_element_type(x, dt, False) for x in (a, b))
    if a.dtype in (np.dtype(np.float16), dtypes.bfloat16):
        raise TypeError(f"{name}: array type {a.dtype.name} is unsupported in linalg (as in "
                        "NumPy); convert it first, e.g. a.astype(xnp.float32)")
    return a, b


@custom_jvp
def _solve_core(a, b):
    lu_, _, perm = _lu_impl(a)
    return _lu_solve(lu_, perm, b)


@_solve_core.defjvp
def _solve_core_jvp(primals, tangents):
    """x = a^-1 b, dx = a^-1 (db - da x): the factorization is shared."""
    a, b = primals
    da, db = tangents
    lu_, _, perm = _lu_impl(a)
    x = _lu_solve(lu_, perm, b)
    return x, _lu_solve(lu_, perm, _uf.subtract(db, _mm(da, x)))


@jit
def _solve_jit(a, b):
    vector = b.ndim == 1
    if vector:
        b = lax.expand_dims(b, (1,))
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], fname="solve")
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    x = _solve_core(a, b)
    return lax.squeeze(x, (x.ndim - 1,)) if vector else x


def solve(a, b) -> Array:
    """Solve ``a @ x = b`` for ``x``, as ``jax.numpy.linalg.solve`` (NumPy 2's rules): a
    1-D ``b`` is one vector (``(..., m, m), (m,) -> (..., m)``), otherwise ``b`` is a stack of
    ``(m, k)`` matrices whose leading dimensions broadcast against ``a``'s. LU with partial
    pivoting; a singular ``a`` gives inf/nan, not an error."""
    a, b = _inexact_pair("solve", a, b)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"solve: a must be a (stack of) square matrices [..., m, m], got "
                         f"shape {a.shape}")
    if b.ndim == 0:
        raise ValueError(f"solve: b must have at least one dimension, got shape {b.shape}")
    if b.ndim > 1 and a.ndim == b.ndim + 1 and a.shape[-1] == b.shape[-1] \
            and a.shape[-1] != b.shape[-2]:
        raise ValueError(f"solve: invalid shapes {a.shape} and {b.shape}: b is a stack of "
                         "matrices (NumPy 2); for a stack of vectors use "
                         "solve(a, b[..., None])[..., 0]")
    m = a.shape[-1]
    if (b.shape[0] if b.ndim == 1 else b.shape[-2]) != m:
        raise ValueError(f"solve: shapes {a.shape} and {b.shape} do not match: b needs {m} "
                         f"rows ({'its length' if b.ndim == 1 else 'b.shape[-2]'})")
    return _solve_jit(a, b)


def inv(a) -> Array:
    """Inverse of a (stack of) square matrices (``solve(a, I)``); singular matrices give
    inf/nan."""
    a = _linalg_operand("inv", a, square=True)
    return _inv_jit(a)


@jit
def _inv_jit(a):
    return _solve_core(a, _eye_like(a.shape[:-2], a.shape[-1], a.dtype))


# ---------------------------------------------------------------------------------------------
# det, slogdet


def _lu_sign_logdet(a):
    lu_, piv, _ = _lu_impl(a)
    dt = get_aval(a).dtype
    nd = get_aval(a).ndim
    diag = _diag_of(lu_)
    is_zero = lax.reduce_or(diag == 0, (nd - 2,))
    parity = _sum(lax.convert_element_type(piv != lax.iota(dtypes.int32, a.shape[-1]),
                                           dtypes.int32), -1)
    if dtypes.is_complex(dt):
        sign = lax.reduce_prod(_uf.true_divide(diag, lax.convert_element_type(
            lax.abs(diag), dt)), (nd - 2,))
    else:
        sign = np.ones((), dt)[()]
        parity = lax.add(parity, _sum(lax.convert_element_type(diag < 0, dtypes.int32), -1))
    flip = lax.convert_element_type(lax.sub(1, lax.mul(2, lax.rem(parity, 2))), dt)
    sign = _where(is_zero, np.zeros((), dt)[()], _uf.multiply(sign, flip))
    logdet = _where(is_zero, -np.inf, _sum(lax.log(lax.abs(diag)), -1))
    return sign, logdet


def _slogdet_small_impl(a):
    n = a.shape[-1]
    if n == 1:
        det = a[..., 0, 0]
    else:
        det = _uf.subtract(_uf.multiply(a[..., 0, 0], a[..., 1, 1]),
                           _uf.multiply(a[..., 0, 1], a[..., 1, 0]))
    return _uf.sign(det), _uf.real(lax.log(lax.abs(det)))


def _slogdet_tangents(a, sign, ans_dot):
    if dtypes.is_complex(a.dtype):
        sign_dot = _uf.multiply(_uf.subtract(ans_dot, lax.convert_element_type(
            _uf.real(ans_dot), ans_dot.dtype)), sign)
        return sign_dot, _uf.real(ans_dot)
    return _uf.multiply(sign, 0), ans_dot


@custom_jvp
def _slogdet_small(a):
    return _slogdet_small_impl(a)


@_slogdet_small.defjvp
def _slogdet_small_jvp(primals, tangents):
    x, = primals
    g, = tangents
    sign, ans = _slogdet_small_impl(x)
    if x.shape[-1] == 1:
        ans_dot = _uf.true_divide(g[..., 0, 0], x[..., 0, 0])
    else:
        det = _uf.subtract(_uf.multiply(x[..., 0, 0], x[..., 1, 1]),
                           _uf.multiply(x[..., 0, 1], x[..., 1, 0]))
        num = _uf.add(_uf.subtract(_uf.multiply(g[..., 0, 0], x[..., 1, 1]),
                                   _uf.multiply(g[..., 0, 1], x[..., 1, 0])),
                      _uf.subtract(_uf.multiply(g[..., 1, 1], x[..., 0, 0]),
                                   _uf.multiply(g[..., 1, 0], x[..., 0, 1])))
        ans_dot = _uf.true_divide(num, det)
    return (sign, ans), _slogdet_tangents(x, sign, ans_dot)


def _slogdet_qr_impl(a):
    if dtypes.is_complex(a.dtype):
        raise NotImplementedError("slogdet: method='qr' is not implemented for complex inputs")
    n = a.shape[-1]
    h, taus = _geqrf_impl(a)
    diag = _diag_of(h)
    logdet = _sum(lax.log(lax.abs(diag)), -1)
    sign = lax.reduce_prod(_uf.sign(diag), (a.ndim - 2,))
    flips = _where(lax.slice_in_dim(taus, 0, builtins.max(n - 1, 0), axis=a.ndim - 2) != 0,
                   -1, 1)
    sign = _uf.multiply(sign, lax.convert_element_type(
        lax.reduce_prod(lax.convert_element_type(flips, a.dtype), (a.ndim - 2,)), a.dtype))
    return sign, logdet


def _slogdet_jvp(impl, primals, tangents):
    """d log|det a| = tr(a^-1 da); the sign's tangent is zero (real) or its phase's."""
    x, = primals
    g, = tangents
    sign, ans = impl(x)
    lu_, _, perm = _lu_impl(x)
    ans_dot = _sum(_diag_of(_lu_solve(lu_, perm, g)), -1)
    return (sign, ans), _slogdet_tangents(x, sign, ans_dot)


@custom_jvp
def _slogdet_lu(a):
    return _lu_sign_logdet(a)


@custom_jvp
def _slogdet_qr(a):
    return _slogdet_qr_impl(a)


_slogdet_lu.defjvp(functools.partial(_slogdet_jvp, _lu_sign_logdet))
_slogdet_qr.defjvp(functools.partial(_slogdet_jvp, _slogdet_qr_impl))


@functools.partial(jit, static_argnames=("method",))
def _slogdet_jit(a, *, method):
    n = a.shape[-1]
    if n == 0:
        batch = a.shape[:-2]
        return (lax.broadcast_in_dim(np.ones((), a.dtype)[()], batch, ()),
                _zeros(batch, _real_dtype(a.dtype)))
    if method == "qr":
        return _slogdet_qr(a)
    return _slogdet_small(a) if n <= 2 else _slogdet_lu(a)


def slogdet(a, *, method: str | None = None) -> SlogdetResult:
    """Sign and natural log of the absolute value of the determinant of a (stack of) square
    matrices (``SlogdetResult(sign, logabsdet)``); ``method`` 'lu' (default) or 'qr'. A
    singular matrix gives sign 0 and logabsdet -inf."""
    a = _linalg_operand("slogdet", a, square=True)
    if method not in (None, "lu", "qr"):
        raise ValueError(f"slogdet: unknown method {method!r}; use 'lu' (None) or 'qr'")
    return SlogdetResult(*_slogdet_jit(a, method=method or "lu"))


def _cofactor_solve(a, b):
    """``(det(a), adj(a) @ b)``, defined for singular ``a`` too (JAX's ``_cofactor_solve``):
    for rank n-1 the last pivot of U is replaced so that the solve stays finite, and ranks
    below n-1 give zeros."""
    n = a.shape[-1]
    if n == 1:
        return a[..., 0, 0], b
    nd = a.ndim
    dt = a.dtype
    lu_, piv, perm = _lu_impl(a)
    diag = _diag_of(lu_)
    parity = _sum(lax.convert_element_type(piv != lax.iota(dtypes.int32, n), dtypes.int32), -1)
    sign = lax.convert_element_type(lax.sub(1, lax.mul(2, lax.rem(parity, 2))), dt)
    partial_det = _uf.multiply(lax.cumprod(diag, nd - 2), _expand(sign, nd - 2))
    corner = np.zeros((n, n), dtype=bool)
    corner[-1, -1] = True
    lu_ = _where(corner, _expand(_expand(_uf.true_divide(1, partial_det[..., -2]), nd - 2),
                                 nd - 2), lu_)
    d = triangular_solve(lu_, lax.broadcast_in_dim(np.ones((), dt)[()], b.shape[:-1], ()),
                         left_side=True, lower=False)
    bad = lax.reduce_or(_uf.logical_not(lax.is_finite(d)), (nd - 2,))
    bad = _expand(_expand(bad, nd - 2), nd - 2)
    x = _where(bad, 0, b)
    x = _permute_rows(perm, x)
    x = triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
    last = np.arange(n) == n - 1
    x = _where(_expand(last, 1), x, _uf.multiply(x, _expand(_expand(partial_det[..., -1],
                                                                     nd - 2), nd - 2)))
    x = triangular_solve(lu_, x, left_side=True, lower=False)
    return partial_det[..., -1], _where(bad, 0, x)


def _det_closed(a):
    """det of 2x2 and 3x3 matrices by their formulas (differentiated directly, as in JAX)."""
    e = lambda i, j: a[..., i, j]  # noqa: E731
    m = _uf.multiply
    if a.shape[-1] == 2:
        return _uf.subtract(m(e(0, 0), e(1, 1)), m(e(0, 1), e(1, 0)))
    terms = [m(m(e(0, 0), e(1, 1)), e(2, 2)), m(m(e(0, 1), e(1, 2)), e(2, 0)),
             m(m(e(0, 2), e(1, 0)), e(2, 1)), m(m(e(0, 2), e(1, 1)), e(2, 0)),
             m(m(e(0, 0), e(1, 2)), e(2, 1)), m(m(e(0, 1), e(1, 0)), e(2, 2))]
    return _uf.subtract(_uf.add(_uf.add(terms[0], terms[1]), terms[2]),
                        _uf.add(_uf.add(terms[3], terms[4]), terms[5]))


@custom_jvp
def _det_lu(a):
    sign, logdet = _lu_sign_logdet(a)
    return _uf.multiply(sign, lax.convert_element_type(lax.exp(logdet), a.dtype))


@_det_lu.defjvp
def _det_lu_jvp(primals, tangents):
    x, = primals
    g, = tangents
    y, z = _cofactor_solve(x, g)
    return y, _sum(_diag_of(z), -1)


@jit
def _det_jit(a):
    n = a.shape[-1]
    if n == 0:
        return lax.broadcast_in_dim(np.ones((), a.dtype)[()], a.shape[:-2], ())
    return _det_closed(a) if n in (2, 3) else _det_lu(a)


def det(a) -> Array:
    """Determinant of a (stack of) square matrices. Closed forms for 2x2 and 3x3, LU
    otherwise; the gradient is the adjugate, finite for singular matrices too."""
    a = _linalg_operand("det", a, square=True)
    return _det_jit(a)


# ---------------------------------------------------------------------------------------------
# lstsq, pinv, matrix_rank, cond


def _lstsq_impl(a, b, rcond, numpy_resid: bool):
    b_vector = b.ndim == 1
    if b_vector:
        b = lax.expand_dims(b, (1,))
    m, n = a.shape
    dt = a.dtype
    rdt = _real_dtype(dt)
    if a.size == 0:
        s = _zeros((0,), rdt)
        rank = np.asarray(0, dtypes.int32)[()]
        x = _zeros((n,) + b.shape[1:], dt)
    else:
        eps = float(np.finfo(rdt).eps)
        rcond = eps * builtins.max(n, m) if rcond is None else _where(
            _arr(rcond) < 0, eps, rcond)
        u, s, vt = svd(a, full_matrices=False)
        mask = _uf.logical_and(s > 0, s >= _uf.multiply(
            lax.convert_element_type(_arr(rcond), rdt), s[0]))
        rank = _sum(lax.convert_element_type(mask, dtypes.int32), 0)
        safe_s = lax.convert_element_type(_where(mask, s, 1), dt)
        s_inv = _expand(_where(mask, _uf.true_divide(1, safe_s), 0), 1)
        x = _mm(_H(vt), _uf.multiply(s_inv, _mm(_H(u), b)))
    if numpy_resid and (int(rank) < n or m <= n):
        resid = _zeros((0,), rdt)
    else:
        resid = lax.square(norm(_uf.subtract(b, _mm(a, x)), axis=0))
    if b_vector:
        x = lax.reshape(x, (n,))
    return x, resid, rank, s


_lstsq_jit = jit(functools.partial(_lstsq_impl, numpy_resid=False))


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """Least-squares solution of ``a @ x = b`` for a 2-D ``a`` (``jax.numpy.linalg.lstsq``):
    ``(x, residuals, rank, s)`` from the SVD; singular values below ``rcond`` times the largest
    are dropped (default ``eps * max(m, n)``; negative: machine precision). ``residuals`` are
    the squared 2-norms of ``b - a @ x`` per column, always; ``numpy_resid=True`` returns an
    empty array where NumPy does (rank < n or m <= n; not under jit)."""
    a, b = _inexact_pair("lstsq", a, b)
    if a.ndim != 2:
        raise TypeError(f"lstsq: {a.ndim}-dimensional array given; a must be two-dimensional, "
                        f"got shape {a.shape}")
    if b.ndim not in (1, 2):
        raise TypeError(f"lstsq: {b.ndim}-dimensional array given; b must be one- or "
                        f"two-dimensional, got shape {b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"lstsq: leading dimensions of a {a.shape} and b {b.shape} must match")
    if numpy_resid:
        return _lstsq_impl(a, b, rcond, True)
    return _lstsq_jit(a, b, rcond)


def _pinv_impl(a, rtol, hermitian: bool):
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return _zeros(a.shape[:-2] + (n, m), a.dtype)
    rdt = _real_dtype(a.dtype)
    a = _uf.conj(a)
    if rtol is None:
        rtol = np.asarray(10.0 * builtins.max(m, n) * np.finfo(rdt).eps, rdt)
    rtol = lax.convert_element_type(_arr(rtol), rdt)
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    rtol = _expand(rtol, rtol.ndim)  # (..., 1): a per-matrix rtol broadcasts from the right
    cutoff = _uf.multiply(rtol, s[..., 0:1])
    s = lax.convert_element_type(_where(s > cutoff, s, np.inf), a.dtype)
    return _mm(lax.transpose(vh, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)),
               _uf.true_divide(lax.transpose(u, tuple(range(a.ndim - 2)) + (a.ndim - 1,
                                                                             a.ndim - 2)),
                               _expand(s, s.ndim)))


@functools.partial(custom_jvp, nondiff_argnums=(2,))
def _pinv(a, rtol, hermitian):
    return _pinv_impl(a, rtol, hermitian)


@_pinv.defjvp
def _pinv_jvp(hermitian, primals, tangents):
    """Golub & Pereyra's derivative of the pseudo-inverse (JAX's rule)."""
    a, rtol = primals
    a_dot, _ = tangents
    p = _pinv_impl(a, rtol, hermitian)
    if hermitian:
        a = _uf.multiply(0.5, _uf.add(a, _H(a)))
        a_dot = _uf.multiply(0.5, _uf.add(a_dot, _H(a_dot)))
    m, n = a.shape[-2:]
    neg = _uf.negative
    if m >= n:
        s = _mm(_mm(p, _H(p)), _H(a_dot))
        t = _mm(_mm(_H(a_dot), _H(p)), p)
        p_dot = _uf.add(_uf.subtract(_uf.add(neg(_mm(_mm(p, a_dot), p)), s),
                                     _mm(_mm(s, a), p)), _uf.subtract(t, _mm(_mm(p, a), t)))
    else:
        s = _mm(p, _mm(_H(p), _H(a_dot)))
        t = _mm(_H(a_dot), _mm(_H(p), p))
        p_dot = _uf.add(_uf.subtract(_uf.add(neg(_mm(p, _mm(a_dot, p))), s),
                                     _mm(s, _mm(a, p))), _uf.subtract(t, _mm(p, _mm(a, t))))
    return p, p_dot


@functools.partial(jit, static_argnames=("hermitian",))
def _pinv_jit(a, rtol, *, hermitian):
    return _pinv(a, rtol, hermitian)


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None) -> Array:
    """Moore-Penrose pseudo-inverse of a (stack of) matrices from the SVD, as
    ``jax.numpy.linalg.pinv``: singular values at most ``rtol`` times the largest count as
    zero (default ``10 * max(m, n) * eps``; ``rcond`` is the older name). Differentiable."""
    if rcond is not None:
        if rtol is not None:
            raise ValueError("pinv: only one of rtol and rcond may be specified")
        rtol = rcond
    a = _linalg_operand("pinv", a)
    if rtol is None:
        rdt = _real_dtype(a.dtype)
        rtol = np.asarray(10.0 * builtins.max(a.shape[-2:]) * np.finfo(rdt).eps, rdt)
    return _pinv_jit(a, _arr(rtol), hermitian=bool(hermitian))


@functools.partial(jit, static_argnames=("hermitian",))
def _matrix_rank_jit(M, rtol, *, hermitian):
    S = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
    rdt = S.dtype
    if rtol is None:
        rtol = _uf.multiply(lax.reduce_max(S, (S.ndim - 1,)),
                            np.asarray(builtins.max(M.shape[-2:]) * np.finfo(rdt).eps, rdt))
    rtol = _expand(_arr(rtol), get_aval(_arr(rtol)).ndim)
    return _sum(lax.convert_element_type(S > rtol, dtypes.int32), -1)


def matrix_rank(M, rtol=None, *, hermitian: bool = False, tol=None) -> Array:
    """Number of singular values above ``rtol`` (default ``max(S) * max(m, n) * eps``; ``tol``
    is the older name) per matrix of a stack; for fewer than 2 dimensions, whether any entry
    is nonzero (int32, as in JAX)."""
    if tol is not None:
        if rtol is not None:
            raise ValueError("matrix_rank: only one of tol or rtol may be specified")
        rtol = tol
    M = _arr(M)
    if M.ndim < 2:
        return lax.convert_element_type(
            lax.reduce_or(M != 0, tuple(range(M.ndim))), dtypes.int32)
    M = _linalg_operand("matrix_rank", M)
    return _matrix_rank_jit(M, None if rtol is None else _arr(rtol), hermitian=bool(hermitian))


@functools.partial(jit, static_argnames=("p",))
def _cond_jit(x, *, p):
    if p is None or p == 2:
        from xtrace._src.numpy.linalg import svdvals
        s = svdvals(x)
        return _uf.true_divide(s[..., 0], s[..., -1])
    if p == -2:
        from xtrace._src.numpy.linalg import svdvals
        s = svdvals(x)
        r = _uf.true_divide(s[..., -1], s[..., 0])
    else:
        r = _uf.multiply(norm(x, ord=p, axis=(-2, -1)), norm(_inv_jit(x), ord=p, axis=(-2, -1)))
    nan_in = lax.reduce_or(_uf.isnan(x), (x.ndim - 2, x.ndim - 1))
    return _where(_uf.logical_and(_uf.isnan(r), _uf.logical_not(nan_in)), np.inf, r)


def cond(x, p=None) -> Array:
    """Condition number of a (stack of) matrices in the norm ``p`` (None/2, -2: ratio of the
    extreme singular values; 'fro', 'nuc', 1, -1, inf, -inf: ``norm(x, p) * norm(inv(x), p)``,
    square matrices only). Singular matrices give inf."""
    x = _linalg_operand("cond", x)
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"cond: the matrices must not be empty, got shape {x.shape}")
    if p not in (None, 2, -2, 1, -1, np.inf, -np.inf, "fro", "nuc"):
        raise ValueError(f"cond: invalid norm order {p!r}")
    if p not in (None, 2, -2) and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"cond: for p={p!r} the matrices must be square, got shape {x.shape}")
    return _cond_jit(x, p=p if isinstance(p, str) or p is None else float(p))


# ---------------------------------------------------------------------------------------------
# matrix_power, multi_dot, tensorinv, tensorsolve


def matrix_power(a, n: int) -> Array:
    """``a`` (a stack of square matrices) to the integer power ``n`` by repeated squaring;
    ``n = 0`` gives identities and negative ``n`` powers of ``inv(a)``."""
    a = _arr(a)
    if a.ndim < 2:
        raise TypeError(f"matrix_power: {a.ndim}-dimensional array given; the array must be at "
                        f"least two-dimensional, got shape {a.shape}")
    if a.shape[-2] != a.shape[-1]:
        raise TypeError(f"matrix_power: the last 2 dimensions must be square, got shape "
                        f"{a.shape}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}") from None
    return _matrix_power_jit(a, n=n)


@functools.partial(jit, static_argnames=("n",))
def _matrix_power_jit(a, *, n):
    if n == 0:
        return broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a = inv(a)
        n = -n
    z = result = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def _chain_order(dims: Sequence[int]):
    """The cheapest parenthesization of a matrix chain with these dimensions (the classic
    dynamic programme, as ``numpy.linalg.multi_dot``): split[i][j]."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays, *, precision=None) -> Array:
    """Product of a chain of matrices in the cheapest order (``numpy.linalg.multi_dot``): the
    first and last arrays may be 1-D (a row and a column vector), the others must be 2-D."""
    arrs = [_arr(x) for x in arrays]
    if len(arrs) < 2:
        raise ValueError(f"multi_dot: needs at least two arrays, got {len(arrs)}")
    shapes = [x.shape for x in arrs]
    if not (arrs[0].ndim in (1, 2) and arrs[-1].ndim in (1, 2)
            and all(x.ndim == 2 for x in arrs[1:-1])):
        raise ValueError("multi_dot: the arrays must be 2-D, except the first and last, which "
                         f"may be 1-D; got shapes {shapes}")
    if any(x.shape[-1] != y.shape[0] for x, y in zip(arrs[:-1], arrs[1:])):
        raise ValueError(f"multi_dot: the last dimension of each array must match the first "
                         f"of the next; got shapes {shapes}")
    first_vec, last_vec = arrs[0].ndim == 1, arrs[-1].ndim == 1
    if first_vec:
        arrs[0] = lax.expand_dims(arrs[0], (0,))
    if last_vec:
        arrs[-1] = lax.expand_dims(arrs[-1], (1,))
    dims = [arrs[0].shape[0]] + [x.shape[1] for x in arrs]
    split = _chain_order(dims)

    def prod(i, j):
        if i == j:
            return arrs[i]
        k = split[i][j]
        return matmul(prod(i, k), prod(k + 1, j), precision=precision)

    out = prod(0, len(arrs) - 1)
    if first_vec and last_vec:
        return lax.reshape(out, ())
    if first_vec:
        return lax.reshape(out, out.shape[1:])
    if last_vec:
        return lax.reshape(out, out.shape[:1])
    return out


def tensorinv(a, ind: int = 2) -> Array:
    """Inverse of ``a`` seen as a linear map from its first ``ind`` dimensions to the rest:
    shape ``a.shape[ind:] + a.shape[:ind]``."""
    a = _arr(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    out_shape, in_shape = a.shape[:ind], a.shape[ind:]
    rows, cols = math.prod(out_shape), math.prod(in_shape)
    if rows != cols:
        raise ValueError(f"tensorinv: the product of the first ind={ind} dimensions must equal "
                         f"that of the others, got shape {a.shape}")
    return lax.reshape(inv(lax.reshape(a, (rows, cols))), tuple(in_shape) + tuple(out_shape))


def tensorsolve(a, b, axes=None) -> Array:
    """``x`` with ``tensordot(a, x, x.ndim) == b``: ``a``'s dimensions after ``b.ndim`` are
    ``x``'s (``axes`` of ``a`` are first moved to the end)."""
    from xtrace._src.numpy.shapes import moveaxis
    a, b = _arr(a), _arr(b)
    if axes is not None:
        axes = tuple(axes)
        a = moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
    out_shape = a.shape[b.ndim:]
    if a.shape[:b.ndim] != b.shape:
        raise ValueError(f"tensorsolve: after moving axes to the end, the leading shape of a "
                         f"must match b's: got a.shape={a.shape}, b.shape={b.shape}")
    if b.size != math.prod(out_shape):
        raise ValueError(f"tensorsolve: prod(a.shape[:b.ndim]) must equal "
                         f"prod(a.shape[b.ndim:]); got a.shape={a.shape}, b.ndim={b.ndim}")
    x = solve(lax.reshape(a, (b.size, math.prod(out_shape))), lax.reshape(b, (b.size,)))
    return lax.reshape(x, tuple(out_shape))
