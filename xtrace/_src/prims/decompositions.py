"""Matrix factorization primitives that StableHLO has as ops: ``cholesky`` and
``triangular_solve`` (``xtrace.lax.linalg``). Both act on the last two axes and map over the
leading (batch) axes; XLA expands them on every backend.

Their rules are JAX's: the Cholesky JVP of Murray (arXiv:1602.07527), and the triangular solve
JVP / transpose (linear in ``b``, like ``div`` in its numerator).
"""
from __future__ import annotations

import numpy as np

from xtrace._src import ad, batching, dtypes
from xtrace._src.ad import Zero, is_undefined
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.prims.common import INEXACT, check_kind, define, lax_args


def _check_matrix_dtype(name: str, a: ShapedArray) -> None:
    check_kind(name, a, INEXACT)
    if a.dtype in (np.dtype(np.float16), dtypes.bfloat16):
        raise TypeError(f"{name} does not accept dtype {a.dtype.name}; use float32, float64, "
                        "complex64 or complex128")


def _check_square(name: str, a: ShapedArray, what: str = "the operand") -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: {what} must be a (batch of) square matrices with shape "
                         f"[..., n, n], got shape {a.shape}")


# ---------------------------------------------------------------------------------------------
# Shared helpers (lax primitives only, so they work under every trace)


def _tri(x, k: int, lower: bool):
    """``x`` with the elements outside its lower (``k``-th diagonal and below) or upper
    (``k``-th diagonal and above) triangle set to zero."""
    from xtrace._src.prims.elementwise import select
    from xtrace._src.prims.structural import broadcast_in_dim
    a = get_aval(x)
    n, m = a.shape[-2:]
    mask = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
    nd = a.ndim
    mask = broadcast_in_dim(mask, a.shape, (nd - 2, nd - 1))
    zero = broadcast_in_dim(np.zeros((), a.dtype)[()], a.shape, ())
    return select(mask, x, zero)


def tril(x, k: int = 0):
    return _tri(x, k, True)


def triu(x, k: int = 0):
    return _tri(x, k, False)


def _mT(x):
    from xtrace._src.prims.structural import transpose
    nd = get_aval(x).ndim
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _H(x):
    from xtrace._src.prims.elementwise import conj
    x = _mT(x)
    return conj(x) if dtypes.is_complex(get_aval(x).dtype) else x


def _bmm(x, y):
    """Batched matrix product of (..., m, k) and (..., k, n) with equal batch dimensions."""
    from xtrace._src.prims.linalg import dot_general
    nd = get_aval(x).ndim
    batch = tuple(range(nd - 2))
    return dot_general(x, y, (((nd - 1,), (nd - 2,)), (batch, batch)), precision="highest")


# ---------------------------------------------------------------------------------------------
# cholesky


def _cholesky_abstract(x):
    _check_square("cholesky", x)
    _check_matrix_dtype("cholesky", x)
    return ShapedArray(x.shape, x.dtype)


def _cholesky_lower(ctx, x):
    return ctx.op1("stablehlo.cholesky", [x], attrs="lower = true")


cholesky_p = define("cholesky", _cholesky_abstract, _cholesky_lower)


def cholesky(x, *, symmetrize_input: bool = True):
    """Lower-triangular ``L`` with ``x = L @ L^H`` for (batches of) Hermitian positive-definite
    ``x`` (``jax.lax.linalg.cholesky``). ``symmetrize_input`` uses ``(x + x^H) / 2``; otherwise
    only the lower triangle is read. A matrix that is not positive definite gives NaNs."""
    x, = lax_args(x)
    if symmetrize_input:
        from xtrace._src.prims.elementwise import add, mul
        x = mul(add(x, _H(x)), np.asarray(0.5, get_aval(x).dtype)[()])
    return tril(cholesky_p.bind(x))


def _cholesky_jvp(primals, tangents):
    """dL = L phi(L^-1 dA L^-H), phi taking the lower triangle with a halved diagonal."""
    from xtrace._src.prims.elementwise import mul
    from xtrace._src.prims.structural import broadcast_in_dim
    x, = primals
    dx, = tangents
    L = tril(cholesky_p.bind(x))
    if isinstance(dx, Zero):
        return L, ad.zero_of(L)
    tmp = triangular_solve(L, dx, left_side=False, transpose_a=True, conjugate_a=True,
                           lower=True)
    inner = triangular_solve(L, tmp, left_side=True, lower=True)
    a = get_aval(x)
    n = a.shape[-1]
    half = broadcast_in_dim(np.where(np.eye(n, dtype=bool), 0.5, 1.0).astype(a.dtype),
                            a.shape, (a.ndim - 2, a.ndim - 1))
    return L, _bmm(L, mul(tril(inner), half))


def _cholesky_batch(axis, vals, dims):
    x, = vals
    x = batching.moveaxis(x, dims[0], 0)
    return cholesky_p.bind(x), 0


cholesky_p.jvp = _cholesky_jvp
cholesky_p.batch = _cholesky_batch


# ---------------------------------------------------------------------------------------------
# triangular_solve


# (transpose_a, conjugate_a) -> StableHLO's transpose_a; the wrapper conjugates ``a`` itself
# for conjugate_a without transpose_a, so the primitive never sees that pair.
_TRANSPOSE = {(False, False): "NO_TRANSPOSE", (True, False): "TRANSPOSE",
              (True, True): "ADJOINT"}


def _ts_abstract(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    _check_square("triangular_solve", a, "a")
    _check_matrix_dtype("triangular_solve", a)
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have the same dtype, got "
                        f"{a.dtype.name} and {b.dtype.name}")
    if b.ndim != a.ndim or a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"triangular_solve: a and b must have equal batch dimensions, got "
                         f"shapes {a.shape} and {b.shape}")
    m = a.shape[-1]
    side = b.shape[-2] if left_side else b.shape[-1]
    if side != m:
        raise ValueError(f"triangular_solve: b's {'rows' if left_side else 'columns'} must "
                         f"match a's size {m} (left_side={left_side}), got shapes {a.shape} "
                         f"and {b.shape}")
    return ShapedArray(b.shape, b.dtype)


def _ts_lower(ctx, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    t = _TRANSPOSE[(transpose_a, conjugate_a and dtypes.is_complex(ctx.avals_in[0].dtype))]
    attrs = (f"left_side = {str(left_side).lower()}, lower = {str(lower).lower()}, "
             f"unit_diagonal = {str(unit_diagonal).lower()}, "
             f"transpose_a = #stablehlo<transpose {t}>")
    return ctx.op1("stablehlo.triangular_solve", [a, b], attrs=attrs)


triangular_solve_p = define("triangular_solve", _ts_abstract, _ts_lower)


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """Solve ``op(a) @ x = b`` (``left_side=True``) or ``x @ op(a) = b`` for ``x``, where
    ``a`` is triangular (only its ``lower`` or upper triangle is read; a unit diagonal is
    assumed with ``unit_diagonal``) and ``op`` transposes (``transpose_a``) and/or conjugates
    (``conjugate_a``) it (``jax.lax.linalg.triangular_solve``). ``b`` may be a batch of
    vectors (one dimension fewer than ``a``)."""
    from xtrace._src.prims.elementwise import conj
    from xtrace._src.prims.structural import expand_dims, squeeze
    a, b = lax_args(a, b)
    aa, ba = get_aval(a), get_aval(b)
    conjugate_a = bool(conjugate_a) and dtypes.is_complex(aa.dtype)
    if conjugate_a and not transpose_a:
        a, conjugate_a = conj(a), False
    singleton = ba.ndim == aa.ndim - 1
    if singleton:  # a batch of vectors: a column (left side) or a row (right side)
        b = expand_dims(b, (ba.ndim if left_side else ba.ndim - 1,))
    out = triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                  transpose_a=bool(transpose_a), conjugate_a=conjugate_a,
                                  unit_diagonal=bool(unit_diagonal))
    if singleton:
        out = squeeze(out, (ba.ndim if left_side else ba.ndim - 1,))
    return out


def _ts_jvp_a(ga, ans, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    """d x = -op(a)^-1 op(da) x (left) or -x op(da) op(a)^-1 (right), in the cheaper order."""
    from xtrace._src.prims.elementwise import conj, neg
    m, n = get_aval(b).shape[-2:]
    k = 1 if unit_diagonal else 0
    ga = tril(ga, -k) if lower else triu(ga, k)
    ga = neg(ga)
    ga = _mT(ga) if transpose_a else ga
    ga = conj(ga) if conjugate_a else ga
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)

    def a_inverse(rhs):
        return triangular_solve(a, rhs, **params)

    if left_side:
        return a_inverse(_bmm(ga, ans)) if m > n else _bmm(a_inverse(ga), ans)
    return a_inverse(_bmm(ans, ga)) if m < n else _bmm(ans, a_inverse(ga))


def _ts_jvp(primals, tangents, **params):
    a, b = primals
    ga, gb = tangents
    ans = triangular_solve_p.bind(a, b, **params)
    t = ad.zero_of(ans)
    if not isinstance(gb, Zero):
        t = ad.add_tangents(t, triangular_solve_p.bind(a, gb, **params))
    if not isinstance(ga, Zero):
        t = ad.add_tangents(t, _ts_jvp_a(ga, ans, a, b, **params))
    return ans, t


def _ts_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    if is_undefined(a):
        raise NotImplementedError("triangular_solve is not linear in its first argument a")
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    return [None, triangular_solve(a, ct, left_side=left_side, lower=lower,
                                   transpose_a=not transpose_a, conjugate_a=conjugate_a,
                                   unit_diagonal=unit_diagonal)]


def _ts_batch(axis, vals, dims, **params):
    a, b = (batching.bdim_at_front(v, d, axis.size) for v, d in zip(vals, dims))
    return triangular_solve_p.bind(a, b, **params), 0


triangular_solve_p.jvp = _ts_jvp
triangular_solve_p.transpose = _ts_transpose
triangular_solve_p.batch = _ts_batch
