"""``jax.scipy.sparse.linalg``: the Krylov solvers ``cg``, ``bicgstab`` and ``gmres``.

``A`` (and the preconditioner ``M``) is a square matrix or a function computing ``A @ x``;
``b`` may be any pytree of arrays. Each solver is one ``lax.while_loop`` wrapped in
``lax.custom_linear_solve``, so derivatives come from another solve (implicit
differentiation), as in JAX. The algorithms and stopping rules follow JAX 0.10.2.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer, get_aval
from xtrace._src.prims.decompositions import triangular_solve
from xtrace._src.tree_util import (Partial, tree_leaves, tree_map, tree_reduce,
                                   tree_structure)

_HI = lax.Precision.HIGHEST
_dot = functools.partial(xnp.dot, precision=_HI)


def _vdot_real_part(x, y):
    """``Re(vdot(x, y))`` without forming complex products."""
    out = xnp.vdot(xnp.real(x), xnp.real(y), precision=_HI)
    if xnp.iscomplexobj(x) or xnp.iscomplexobj(y):
        out = out + xnp.vdot(xnp.imag(x), xnp.imag(y), precision=_HI)
    return out


def _vdot_real_tree(x, y):
    return sum(tree_leaves(tree_map(_vdot_real_part, x, y)))


def _vdot_tree(x, y):
    return sum(tree_leaves(tree_map(functools.partial(xnp.vdot, precision=_HI), x, y)))


def _norm(x):
    xs = tree_leaves(x)
    return xnp.sqrt(sum(map(_vdot_real_part, xs, xs)))


def _mul(scalar, tree):
    return tree_map(lambda v: scalar * v, tree)


_add = functools.partial(tree_map, operator.add)
_sub = functools.partial(tree_map, operator.sub)


@Partial
def _identity(x):
    return x


def _lattice_type(tree) -> tuple[np.dtype, bool]:
    leaves = tree_leaves(tree)
    return xnp.result_type(*leaves), all(get_aval(v).weak_type for v in leaves)


def _normalize_matvec(f):
    """A callable computing ``f @ x`` (``f`` a function, a square matrix, or a ``@``-able)."""
    if callable(f):
        return f
    if isinstance(f, (np.ndarray, Array, Tracer)):
        if np.ndim(f) != 2 or f.shape[0] != f.shape[1]:
            raise ValueError("linear operator must be a square matrix, but has shape: "
                             f"{np.shape(f)}")
        return functools.partial(_dot, f)
    if hasattr(f, "__matmul__"):
        if hasattr(f, "shape") and (len(f.shape) != 2 or f.shape[0] != f.shape[1]):
            raise ValueError(f"linear operator must be a square matrix, but has shape: "
                             f"{f.shape}")
        return functools.partial(operator.matmul, f)
    raise TypeError(f"linear operator must be either a function or ndarray: {f}")


def _shapes(tree):
    return [np.shape(v) for v in tree_leaves(tree)]


def _prepare(A, b, x0, M):
    b = tree_map(xnp.asarray, b)
    x0 = tree_map(xnp.zeros_like, b) if x0 is None else tree_map(xnp.asarray, x0)
    if tree_structure(x0) != tree_structure(b):
        raise ValueError("x0 and b must have matching tree structure: "
                         f"{tree_structure(x0)} vs {tree_structure(b)}")
    A = _normalize_matvec(A)
    M = _identity if M is None else _normalize_matvec(M)
    return A, b, x0, M


# --------------------------------------------------------------------------------------------
# cg and bicgstab


def _cg_solve(A, b, x0=None, *, maxiter, tol=1e-5, atol=0.0, M=_identity):
    bs = _vdot_real_tree(b, b)
    atol2 = xnp.maximum(xnp.square(tol) * bs, xnp.square(atol))
    r0 = _sub(b, A(x0))
    p0 = z0 = M(r0)
    dtype = xnp.result_type(*tree_leaves(p0))
    gamma0 = _vdot_real_tree(r0, z0).astype(dtype)

    def cond_fun(value):
        _, r, gamma, _, k = value
        rs = xnp.real(gamma) if M is _identity else _vdot_real_tree(r, r)
        return (rs > atol2) & (k < maxiter)

    def body_fun(value):
        x, r, gamma, p, k = value
        Ap = A(p)
        alpha = gamma / _vdot_real_tree(p, Ap).astype(dtype)
        x_ = _add(x, _mul(alpha, p))
        r_ = _sub(r, _mul(alpha, Ap))
        z_ = M(r_)
        gamma_ = _vdot_real_tree(r_, z_).astype(dtype)
        p_ = _add(z_, _mul(gamma_ / gamma, p))
        return x_, r_, gamma_, p_, k + 1

    return lax.while_loop(cond_fun, body_fun, (x0, r0, gamma0, p0, 0))[0]


def _bicgstab_solve(A, b, x0=None, *, maxiter, tol=1e-5, atol=0.0, M=_identity):
    bs = _vdot_real_tree(b, b)
    atol2 = xnp.maximum(xnp.square(tol) * bs, xnp.square(atol))

    def cond_fun(value):
        _, r, *_, k = value
        return (_vdot_real_tree(r, r) > atol2) & (k < maxiter) & (k >= 0)

    def body_fun(value):
        x, r, rhat, alpha, omega, rho, p, q, k = value
        rho_ = _vdot_tree(rhat, r)
        beta = rho_ / rho * alpha / omega
        p_ = _add(r, _mul(beta, _sub(p, _mul(omega, q))))
        phat = M(p_)
        q_ = A(phat)
        alpha_ = rho_ / _vdot_tree(rhat, q_)
        s = _sub(r, _mul(alpha_, q_))
        exit_early = _vdot_real_tree(s, s) < atol2
        shat = M(s)
        t = A(shat)
        omega_ = _vdot_tree(t, s) / _vdot_tree(t, t)
        pick = functools.partial(xnp.where, exit_early)
        x_ = tree_map(pick, _add(x, _mul(alpha_, phat)),
                      _add(x, _add(_mul(alpha_, phat), _mul(omega_, shat))))
        r_ = tree_map(pick, s, _sub(s, _mul(omega_, t)))
        # breakdown: stop with a negative counter, as JAX does
        k_ = xnp.where((omega_ == 0) | (alpha_ == 0), -11, k + 1)
        k_ = xnp.where(rho_ == 0, -10, k_)
        return x_, r_, rhat, alpha_, omega_, rho_, p_, q_, k_

    r0 = _sub(b, A(x0))
    one = lax.convert_element_type(1, *_lattice_type(b))
    init = (x0, r0, r0, one, one, one, r0, r0, 0)
    return lax.while_loop(cond_fun, body_fun, init)[0]


def _isolve(solve_fn, A, b, x0=None, *, tol=1e-5, atol=0.0, maxiter=None, M=None,
            check_symmetric=False):
    A, b, x0, M = _prepare(A, b, x0, M)
    if maxiter is None:
        maxiter = 10 * sum(v.size for v in tree_leaves(b))
    if _shapes(x0) != _shapes(b):
        raise ValueError(f"arrays in x0 and b must have matching shapes: {_shapes(x0)} vs "
                         f"{_shapes(b)}")
    solve = functools.partial(solve_fn, x0=x0, tol=tol, atol=atol, maxiter=maxiter, M=M)
    symmetric = (check_symmetric
                 and all(not dtypes.is_complex(get_aval(v).dtype) for v in tree_leaves(b)))
    x = lax.custom_linear_solve(A, b, solve=solve, transpose_solve=solve, symmetric=symmetric)
    return x, None


def cg(A, b, x0=None, *, tol=1e-5, atol=0.0, maxiter=None, M=None):
    """Conjugate gradients for a Hermitian positive-definite ``A`` (``scipy.sparse.linalg.cg``):
    ``(x, None)``; stops when ``norm(r) <= max(tol * norm(b), atol)`` or after ``maxiter``
    (default ``10 * size``) steps."""
    return _isolve(_cg_solve, A, b, x0, tol=tol, atol=atol, maxiter=maxiter, M=M,
                   check_symmetric=True)


def bicgstab(A, b, x0=None, *, tol=1e-5, atol=0.0, maxiter=None, M=None):
    """Biconjugate gradient stabilized for a general ``A`` (``scipy.sparse.linalg.bicgstab``):
    ``(x, None)``."""
    return _isolve(_bicgstab_solve, A, b, x0, tol=tol, atol=atol, maxiter=maxiter, M=M)


# --------------------------------------------------------------------------------------------
# gmres


def _safe_normalize(x, thresh=None):
    """``(x / norm(x), norm(x))``, or zeros when the norm is at most ``thresh`` (default eps)."""
    norm = _norm(x)
    dtype, weak = _lattice_type(x)
    if thresh is None:
        thresh = np.finfo(get_aval(norm).dtype).eps
    thresh = xnp.real(xnp.asarray(thresh).astype(dtype))
    use = norm > thresh
    norm_cast = lax.convert_element_type(norm, dtype, weak)
    out = tree_map(lambda y: xnp.where(use, y / norm_cast, 0.0), x)
    return out, xnp.where(use, norm, 0.0)


def _project_on_columns(Q, v):
    proj = tree_map(lambda X, y: xnp.einsum("...n,...->n", xnp.conj(X), y, precision=_HI),
                    Q, v)
    return tree_reduce(operator.add, proj)


def _gram_schmidt(Q, x, xnorm, max_iterations=2):
    """Orthogonalize ``x`` against ``Q``'s columns, repeating (at most ``max_iterations``
    times) while the overlap ``r`` stays large: ``(q, r)``."""
    Q0 = tree_leaves(Q)[0]
    r = xnp.zeros(Q0.shape[-1], dtype=Q0.dtype)

    def body(carry):
        k, q, r, qnorm_scaled = carry
        h = _project_on_columns(Q, q)
        q = _sub(q, tree_map(lambda X: _dot(X, h), Q))
        r = _add(r, h)

        def qnorm_cond(c):
            k, not_done, _, _ = c
            return xnp.logical_and(not_done, k < max_iterations - 1)

        def qnorm(c):
            k, _, q, _ = c
            _, n = _safe_normalize(q)
            return k, False, q, n / xnp.sqrt(2.0)

        _, _, q, qnorm_scaled = lax.while_loop(qnorm_cond, qnorm, (k, True, q, qnorm_scaled))
        return k + 1, q, r, qnorm_scaled

    def cond(carry):
        k, _, r, qnorm_scaled = carry
        _, rnorm = _safe_normalize(r)
        return xnp.logical_and(k < max_iterations - 1, rnorm < qnorm_scaled)

    carry = body((0, x, r, xnorm / xnp.sqrt(2.0)))
    _, q, r, _ = lax.while_loop(cond, body, carry)
    return q, r


def _arnoldi_step(k, A, M, V, H):
    """Add the ``k+1``-th orthonormal Krylov vector to ``V`` and its overlaps to ``H[k]``."""
    dtype, _ = _lattice_type(V)
    eps = np.finfo(dtype).eps
    v = M(A(tree_map(lambda X: X[..., k], V)))
    _, v_norm_0 = _safe_normalize(v)
    v, h = _gram_schmidt(V, v, v_norm_0, max_iterations=2)
    unit_v, v_norm_1 = _safe_normalize(v, thresh=eps * v_norm_0)
    V = tree_map(lambda X, y: X.at[..., k + 1].set(y), V, unit_v)
    h = h.at[k + 1].set(v_norm_1.astype(dtype))
    return V, H.at[k, :].set(h), v_norm_1 == 0.0


def _rotate(H, i, cs, sn):
    x1, y1 = H[i], H[i + 1]
    H = H.at[i].set(xnp.conj(cs) * x1 - xnp.conj(sn) * y1)
    return H.at[i + 1].set(sn * x1 + cs * y1)


def _givens(a, b):
    b_zero = abs(b) == 0
    a_lt_b = abs(a) < abs(b)
    t = -xnp.where(a_lt_b, a, b) / xnp.where(a_lt_b, b, a)
    r = lax.rsqrt(1 + abs(t) ** 2).astype(t.dtype)
    cs = xnp.where(b_zero, 1, xnp.where(a_lt_b, r * t, r))
    sn = xnp.where(b_zero, 0, xnp.where(a_lt_b, r, r * t))
    return cs, sn


def _apply_givens(row, givens, k):
    row = lax.fori_loop(0, k, lambda i, h: _rotate(h, i, givens[i, 0], givens[i, 1]), row)
    cs, sn = _givens(row[k], row[k + 1])
    givens = givens.at[k, 0].set(cs).at[k, 1].set(sn)
    return _rotate(row, k, cs, sn), givens


def _krylov_basis(unit_residual, restart):
    return tree_map(lambda x: xnp.pad(x[..., None], ((0, 0),) * x.ndim + ((0, restart),)),
                    unit_residual)


def _finish(A, M, b, x0, V, y):
    x = _add(x0, tree_map(lambda X: _dot(X[..., :-1], y), V))
    unit_residual, residual_norm = _safe_normalize(M(_sub(b, A(x))))
    return x, unit_residual, residual_norm


def _gmres_incremental(A, b, x0, unit_residual, residual_norm, ptol, restart, M):
    """One restart, building the QR factorization of the Hessenberg matrix with Givens
    rotations (and stopping early once the estimated residual is below ``ptol``)."""
    V = _krylov_basis(unit_residual, restart)
    dtype = xnp.result_type(*tree_leaves(b))
    R = xnp.eye(restart, restart + 1, dtype=dtype)
    givens = xnp.zeros((restart, 2), dtype=dtype)
    beta = xnp.zeros(restart + 1, dtype=dtype).at[0].set(residual_norm.astype(dtype))

    def cond(carry):
        k, err, *_ = carry
        return xnp.logical_and(k < restart, err > ptol)

    def step(carry):
        k, _, V, R, beta, givens = carry
        V, H, _ = _arnoldi_step(k, A, M, V, R)
        row, givens = _apply_givens(H[k, :], givens, k)
        R = R.at[k, :].set(row)
        beta = _rotate(beta, k, givens[k, 0], givens[k, 1])
        return k + 1, abs(beta[k + 1]), V, R, beta, givens

    _, _, V, R, beta, _ = lax.while_loop(cond, step, (0, residual_norm, V, R, beta, givens))
    y = triangular_solve(R[:, :-1].T, beta[:-1], left_side=True, lower=False)
    return _finish(A, M, b, x0, V, y)


def _gmres_batched(A, b, x0, unit_residual, residual_norm, ptol, restart, M):
    """One restart: the whole Arnoldi process, then the small least-squares problem."""
    del ptol
    V = _krylov_basis(unit_residual, restart)
    dtype, weak = _lattice_type(b)
    H = lax.convert_element_type(xnp.eye(restart, restart + 1, dtype=dtype), dtype, weak)

    def cond(carry):
        _, _, breakdown, k = carry
        return xnp.logical_and(k < restart, xnp.logical_not(breakdown))

    def step(carry):
        V, H, _, k = carry
        V, H, breakdown = _arnoldi_step(k, A, M, V, H)
        return V, H, breakdown, k + 1

    V, H, _, _ = lax.while_loop(cond, step, (V, H, False, 0))
    beta = xnp.zeros((restart + 1,), H.dtype).at[0].set(residual_norm.astype(dtype))
    a = H.T
    ah = xnp.conj(a).T
    y = xnp.linalg.solve(_dot(ah, a), _dot(ah, beta))
    return _finish(A, M, b, x0, V, y)


def _gmres_solve(A, b, x0, atol, ptol, restart, maxiter, M, gmres_func):
    unit_residual, residual_norm = _safe_normalize(M(_sub(b, A(x0))))

    def cond(value):
        _, k, _, residual_norm = value
        return xnp.logical_and(k < maxiter, residual_norm > atol)

    def body(value):
        x, k, unit_residual, residual_norm = value
        x, unit_residual, residual_norm = gmres_func(A, b, x, unit_residual, residual_norm,
                                                     ptol, restart, M)
        return x, k + 1, unit_residual, residual_norm

    return lax.while_loop(cond, body, (x0, 0, unit_residual, residual_norm))[0]


def gmres(A, b, x0=None, *, tol=1e-5, atol=0.0, restart: int = 20, maxiter=None, M=None,
          solve_method: str = "batched"):
    """Restarted GMRES for a general ``A`` (``scipy.sparse.linalg.gmres``): ``(x, info)``,
    ``info`` is 0, or -1 when the solution holds NaNs. ``restart`` is the Krylov subspace
    size, ``maxiter`` the number of restarts (default ``10 * size``); ``solve_method`` is
    'batched' (least squares after each restart) or 'incremental' (Givens QR, early exit)."""
    A, b, x0, M = _prepare(A, b, x0, M)
    size = sum(v.size for v in tree_leaves(b))
    if maxiter is None:
        maxiter = 10 * size
    restart = min(restart, size)
    if solve_method == "incremental":
        gmres_func = _gmres_incremental
    elif solve_method == "batched":
        gmres_func = _gmres_batched
    else:
        raise ValueError(f"invalid solve_method {solve_method}, must be either "
                         "'incremental' or 'batched'")
    b_norm = _norm(b)
    atol = xnp.maximum(tol * b_norm, atol)
    ptol = _norm(M(b)) * xnp.minimum(1.0, atol / b_norm)

    def solve(A, b):
        return _gmres_solve(A, b, x0, atol, ptol, restart, maxiter, M, gmres_func)

    x = lax.custom_linear_solve(A, b, solve=solve, transpose_solve=solve)
    info = xnp.where(xnp.isnan(_norm(x)), -1, 0)
    return x, info
