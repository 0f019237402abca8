"""``jax.scipy.linalg.expm`` and ``expm_frechet``: the matrix exponential by scaling and
squaring with Pade approximants (Higham 2005, as JAX and SciPy): degree 3 to 13 chosen by the
1-norm (3 to 7 in single precision), the matrix scaled by ``2**-s`` and the result squared
``s`` times (at most ``max_squarings``, else NaNs). Derivatives come from differentiating
these steps; ``expm_frechet`` is the JVP."""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import lax
from xtrace._src.api import jvp
from xtrace._src.array import Array
from xtrace._src.jit import jit
from xtrace._src.nn.functions import _inexact_many
from xtrace._src.numpy import linalg_solve as _nls
from xtrace._src.prims.decompositions import triangular_solve

ArrayLike = Any

_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
# by bytes per real: (largest 1-norm before scaling, 1-norm bounds between degrees, degrees)
_LIMITS = {8: (5.371920351148152, (1.495585217958292e-002, 2.539398330063230e-001,
                                   9.504178996162932e-001, 2.097847961257068e+000),
               (3, 5, 7, 9, 13)),
           4: (3.925724783138660, (4.258730016922831e-001, 1.880152677804762e+000), (3, 5, 7))}


def _dot(a, b):
    return xnp.matmul(a, b, precision="highest")


def _pade(degree: int, a):
    """``(U, V)``: the odd and even parts of the degree-``degree`` Pade numerator."""
    b = _PADE[degree]
    ident = xnp.eye(a.shape[-1], dtype=a.dtype)
    a2 = _dot(a, a)
    if degree == 13:
        a4 = _dot(a2, a2)
        a6 = _dot(a4, a2)
        u = _dot(a, _dot(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
                 + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
        v = _dot(a6, b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 \
            + b[2] * a2 + b[0] * ident
        return u, v
    powers = [ident, a2]
    while len(powers) < (degree + 1) // 2:
        powers.append(_dot(powers[-1], a2))
    u = _dot(a, sum(b[2 * i + 1] * p for i, p in enumerate(powers)))
    v = sum(b[2 * i] * p for i, p in enumerate(powers))
    return u, v


def _calc_p_q(a):
    norm1 = xnp.linalg.norm(a, 1)
    maxnorm, conds, degrees = _LIMITS[np.finfo(a.real.dtype).bits // 8]
    n_squarings = xnp.maximum(0, xnp.floor(xnp.log2(norm1 / maxnorm)))
    a = a / (2 ** n_squarings).astype(a.dtype)
    idx = xnp.digitize(norm1, xnp.asarray(conds, norm1.dtype))
    u, v = lax.switch(idx, [functools.partial(_pade, d) for d in degrees], a)
    return u + v, -u + v, n_squarings


def _expm_2d(a, upper_triangular: bool, max_squarings: int):
    p, q, n_squarings = _calc_p_q(a)

    def compute(args):
        _, p, q = args
        if upper_triangular:
            r = triangular_solve(q, p, left_side=True, lower=False)
        else:
            r = _nls.solve(q, p)

        def square(c, i):
            return lax.cond(i < n_squarings, lambda x: _dot(x, x), lambda x: x, c), None

        return lax.scan(square, r, xnp.arange(max_squarings, dtype=n_squarings.dtype))[0]

    return lax.cond(n_squarings > max_squarings, lambda args: xnp.full_like(args[0], np.nan),
                    compute, (a, p, q))


@functools.partial(jit, static_argnames=("upper_triangular", "max_squarings"))
def _expm(a, *, upper_triangular, max_squarings):
    fn = functools.partial(_expm_2d, upper_triangular=upper_triangular,
                           max_squarings=max_squarings)
    return xnp.vectorize(fn, signature="(n,n)->(n,n)")(a)


def expm(A: ArrayLike, *, upper_triangular: bool = False, max_squarings: int = 16) -> Array:
    """Matrix exponential of a (batch of) square matrices. ``upper_triangular`` solves the
    Pade system with a triangular solve; a matrix needing more than ``max_squarings``
    squarings gives NaNs."""
    a, = _inexact_many("expm", A)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Expected A to be a (batched) square matrix, got A.shape={a.shape}.")
    return _expm(a, upper_triangular=bool(upper_triangular), max_squarings=int(max_squarings))


@functools.partial(jit, static_argnames=("compute_expm",))
def _expm_frechet(a, e, *, compute_expm):
    fn = functools.partial(_expm, upper_triangular=False, max_squarings=16)
    expm_a, frechet = jvp(fn, (a,), (e,))
    return (expm_a, frechet) if compute_expm else frechet


def expm_frechet(A: ArrayLike, E: ArrayLike, *, method: str | None = None,
                 compute_expm: bool = True) -> Array | tuple[Array, Array]:
    """The Frechet derivative of ``expm`` at ``A`` in the direction ``E`` (the JVP of
    ``expm``), with ``expm(A)`` first when ``compute_expm``; ``method`` is ignored."""
    del method
    a, e = _inexact_many("expm_frechet", A, E)
    if a.ndim < 2 or a.shape[-2] != a.shape[-1]:
        raise ValueError(f"expected A to be a (batched) square matrix, got A.shape={a.shape}")
    if e.ndim < 2 or e.shape[-2] != e.shape[-1]:
        raise ValueError(f"expected E to be a (batched) square matrix, got E.shape={e.shape}")
    if a.shape != e.shape:
        raise ValueError(f"expected A and E to be the same shape, got A.shape={a.shape} "
                         f"E.shape={e.shape}")
    return _expm_frechet(a, e, compute_expm=bool(compute_expm))
