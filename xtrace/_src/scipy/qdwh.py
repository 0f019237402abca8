"""QDWH polar decomposition (QR-based dynamically weighted Halley iteration; Nakatsukasa, Bai
and Gygi, SIAM J. Matrix Anal. Appl. 31 (2010)), as JAX's ``qdwh``: the early iterations,
whose weights are known in advance, use a QR of ``[sqrt(c) u; I]``; later ones a Cholesky
factorization of ``c u^H u + I``; then Newton-Schulz polishes ``u``. For one tall matrix
``(m, n)``, m >= n; ``polar`` vectorizes it."""
from __future__ import annotations

import functools

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import lax
from xtrace._src.numpy import linalg_solve as _nls
from xtrace._src.prims.decompositions import cholesky, triangular_solve

_CHOLESKY_CUTOFF = 100


def _H(x):
    return xnp.conj(x.T)


def _dot(a, b):
    return xnp.matmul(a, b, precision="highest")


def _use_qr(u, params):
    a_minus_e_by_sqrt_c, sqrt_c, e = params
    m, n = u.shape
    y = xnp.concatenate([sqrt_c * u, xnp.eye(n, dtype=u.dtype)], axis=0)
    q, _ = _nls._qr(y, False)
    return e * u + a_minus_e_by_sqrt_c * _dot(q[:m], _H(q[m:]))


def _use_cholesky(u, params):
    a_minus_e, c, e = params
    n = u.shape[1]
    x = c * _dot(_H(u), u) + xnp.eye(n, dtype=u.dtype)
    y = cholesky(x, symmetrize_input=False)
    z = xnp.conj(triangular_solve(y, u.T, left_side=True, lower=True, conjugate_a=True))
    z = _H(triangular_solve(y, z, left_side=True, lower=True, transpose_a=True,
                            conjugate_a=True))
    return e * u + a_minus_e * z


def _weights(eps: float, max_iterations: int):
    """The dynamic weights (a, b, c) of the iterations whose lower bound ``l`` on the
    smallest singular value is known: (QR-step parameters, Cholesky-step parameters)."""
    l_, tol_l = eps, 10.0 * eps / 2.0
    qr_coefs, chol_coefs = [], []
    k = 0
    while l_ + tol_l < 1 and k < max_iterations:
        k += 1
        l2 = l_ * l_
        dd = (4 * (1 / l2 - 1) / l2) ** (1 / 3)
        sqd = (1.0 + dd) ** (1 / 2)
        a = sqd + (2 - dd + 2 * (2 - l2) / (l2 * sqd)) ** (1 / 2)
        b = (a - 1) ** 2 / 4
        c = a + b - 1
        l_ = l_ * (a + b * l2) / (1 + c * l2)
        e = b / c
        if c > _CHOLESKY_CUTOFF:
            qr_coefs.append(((a - e) / c ** 0.5, c ** 0.5, e))
        else:
            chol_coefs.append((a - e, c, e))
    return qr_coefs, chol_coefs


def qdwh(x, *, max_iterations: int | None = None, eps: float | None = None):
    """``(u, h)`` with ``x = u @ h`` for one tall matrix ``x`` (traced inside ``polar``)."""
    max_iterations = 10 if max_iterations is None else int(max_iterations)
    eps = float(np.finfo(x.dtype).eps) if eps is None else float(eps)
    one_norm = xnp.linalg.norm(x, ord=1)
    inf_norm = xnp.linalg.norm(x, ord=np.inf)
    alpha_inverse = xnp.where(one_norm == 0, 1, lax.rsqrt(one_norm) * lax.rsqrt(inf_norm))
    u = x * alpha_inverse.astype(x.dtype)
    tol_norm = (10.0 * eps / 2.0) ** (1 / 3)
    qr_coefs, chol_coefs = _weights(eps, max_iterations)

    def step(update, coefs, test_convergence):
        def body(k, state):
            u, _ = state
            params = tuple(c[k] for c in coefs) if coefs is not None else (8 / 3, 3.0, 1 / 3)
            new = update(u, params)
            moving = xnp.linalg.norm(new - u) > tol_norm if test_convergence else True
            return new, xnp.asarray(moving)
        return body

    def iterate(u, coefs, update, test_convergence):
        if not coefs:
            return u, xnp.asarray(True)
        arrs = tuple(xnp.asarray([c[i] for c in coefs], np.finfo(x.dtype).dtype) for i in range(3))
        return lax.fori_loop(0, len(coefs), step(update, arrs, test_convergence),
                             (u, xnp.asarray(True)))

    u, _ = iterate(u, qr_coefs, _use_qr, False)
    u, not_converged = iterate(u, chol_coefs, _use_cholesky, True)
    # Then Halley steps with the limiting weights (a, b, c) = (3, 1, 3) until u stops moving.
    fixed = step(_use_cholesky, None, True)

    def body(state):
        k, u, not_converged = state
        u, not_converged = fixed(k, (u, not_converged))
        return k + 1, u, not_converged

    def cond(state):
        return xnp.logical_and(state[2], state[0] < max_iterations)

    k0 = np.int32(len(qr_coefs) + len(chol_coefs))
    _, u, _ = lax.while_loop(cond, body, (k0, u, not_converged))
    u = 1.5 * u - 0.5 * _dot(u, _dot(_H(u), u))
    h = _dot(_H(u), x)
    return u, (h + _H(h)) / 2


def qdwh_polar(a, side: str, eps, max_iterations):
    """Polar factors of one matrix by QDWH: tall with ``side='right'``, wide with ``'left'``
    (the conjugate transpose of the tall case)."""
    run = functools.partial(qdwh, eps=eps, max_iterations=max_iterations)
    if side == "right":
        return run(a)
    u, h = run(_H(a))
    return _H(u), _H(h)
