"""Polynomials as coefficient arrays (highest degree first), as in NumPy and JAX.

poly, polyadd, polysub, polymul, polydiv, polyder, polyint, polyfit, vander, trim_zeros
(``polyval`` lives in ``searching``), roots. ``roots`` and ``poly`` of a square matrix use the
eigenvalues of ``xtrace.numpy.linalg.eigvals`` (the roots are those of the companion matrix, as
in JAX, and are complex and unordered).

Degrees (``m``, ``deg``, ``N``) are static Python ints. ``polyfit`` solves its least-squares
problem with the SVD of ``xtrace.numpy.linalg.svd`` (as JAX's ``lstsq`` does), so it works
under jit, vmap and grad.
"""
from __future__ import annotations


import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.numpy import creation as _creation
from xtrace._src.numpy import shapes as _shapes
from xtrace._src.numpy.shapes import _eager_jit_auto
from xtrace._src.numpy.core import asarray, promote_dtypes_only
from xtrace._src.numpy.index_tricks import _arrays, _concrete
import xtrace.numpy as xnp


def _inexact(*xs) -> list:
    """Promote to a common dtype, then integers and bools to the default float."""
    xs = [asarray(x) for x in promote_dtypes_only(*xs)]
    if dtypes.is_inexact(xs[0].dtype):
        return xs
    return [lax.convert_element_type(x, dtypes.default_float(), x.aval.weak_type) for x in xs]


def _static(v, what: str, fname: str) -> int:
    return _creation._static_int(v, what, fname)


def _check_1d(fname: str, **arrays) -> None:
    for name, a in arrays.items():
        if a.ndim != 1:
            raise ValueError(f"{fname}: {name} must be 1-d, got shape {a.shape}")


def trim_zeros(filt, trim: str = "fb", axis=None):
    """``filt`` without its leading (``'f'`` in ``trim``) and trailing (``'b'``) zeros, along
    ``axis`` (default: every axis; a slice is trimmed where it is entirely zero). The result's
    size depends on the values, so ``filt`` must be concrete (not under jit)."""
    (filt,) = _arrays("trim_zeros", filt)
    host = np.asarray(_concrete(filt, "the `filt` argument of trim_zeros()"))
    axes = set(range(filt.ndim)) if axis is None else {
        a % filt.ndim for a in ((axis,) if np.ndim(axis) == 0 else axis)}
    trim = trim.lower()
    if not axes or ("f" not in trim and "b" not in trim):
        return filt
    index = []
    for ax in range(filt.ndim):
        if ax not in axes:
            index.append(slice(None))
            continue
        nz = np.any(host != 0, axis=tuple(i for i in range(filt.ndim) if i != ax))
        if not nz.any():
            index.append(slice(0, 0))
            continue
        start = int(nz.argmax()) if "f" in trim else None
        stop = filt.shape[ax] - int(nz[::-1].argmax()) if "b" in trim else None
        index.append(slice(start, stop))
    return filt[tuple(index)]


def _trim_zeros_tol(filt, tol, trim: str = "fb"):
    host = np.asarray(_concrete(filt, "the `u` argument of polydiv(trim_leading_zeros=True)"))
    small = np.abs(host) < tol
    if small.all():
        return _creation.empty(0, filt.dtype)
    start = int(np.argmin(small)) if "f" in trim else 0
    end = int(np.argmin(small[::-1])) if "b" in trim else 0
    return filt[start:filt.shape[0] - end]


@_eager_jit_auto
def poly(seq_of_zeros):
    """The coefficients of the monic polynomial whose roots are ``seq_of_zeros`` (1-D), or the
    characteristic polynomial of a non-empty square matrix (complex coefficients, as in JAX)."""
    (z,) = _inexact(*_arrays("poly", seq_of_zeros))
    z = _shapes.atleast_1d(z)
    if z.ndim == 2 and z.shape[0] == z.shape[1] and z.shape[0] != 0:
        from xtrace._src.numpy.linalg_eig import eigvals
        z = eigvals(z)
    if z.ndim != 1:
        raise ValueError(f"poly: input must be 1d or non-empty square 2d array, got shape "
                         f"{z.shape}")
    a = _creation.ones((1,) if z.shape[0] else (), z.dtype)
    for k in range(z.shape[0]):
        a = xnp.convolve(a, _shapes.stack([_creation.ones((), z.dtype), -z[k]]))
    return a


@_eager_jit_auto
def polyadd(a1, a2):
    """The sum of two polynomials (the shorter one aligned to the lower degrees)."""
    a1, a2 = (asarray(x) for x in promote_dtypes_only(*_arrays("polyadd", a1, a2)))
    _check_1d("polyadd", a1=a1, a2=a2)
    if a2.shape[0] > a1.shape[0]:
        a1, a2 = a2, a1
    return a1.at[a1.shape[0] - a2.shape[0]:].add(a2)


@_eager_jit_auto
def polysub(a1, a2):
    """The difference of two polynomials."""
    a1, a2 = (asarray(x) for x in promote_dtypes_only(*_arrays("polysub", a1, a2)))
    return polyadd(a1, xnp.negative(a2))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    """The product of two polynomials (a full convolution of the coefficients)."""
    a1, a2 = _inexact(*_arrays("polymul", a1, a2))
    _check_1d("polymul", a1=a1, a2=a2)
    if trim_leading_zeros and (a1.shape[0] > 1 or a2.shape[0] > 1):
        a1, a2 = trim_zeros(a1, trim="f"), trim_zeros(a2, trim="f")
    return _polymul(a1, a2)


@_eager_jit_auto
def _polymul(a1, a2):
    if a1.shape[0] == 0:
        a1 = _creation.zeros(1, a2.dtype)
    if a2.shape[0] == 0:
        a2 = _creation.zeros(1, a1.dtype)
    return xnp.convolve(a1, a2, mode="full")


def polydiv(u, v, *, trim_leading_zeros: bool = False):
    """(quotient, remainder) of the polynomial division ``u / v``. As in JAX the remainder
    keeps ``u``'s length unless ``trim_leading_zeros`` (concrete inputs only) trims it."""
    u, v = _inexact(*_arrays("polydiv", u, v))
    _check_1d("polydiv", u=u, v=v)
    q, u = _polydiv(u, v)
    if trim_leading_zeros:
        u = _trim_zeros_tol(u, tol=np.sqrt(np.finfo(u.dtype).eps), trim="f")
    return q, u


@_eager_jit_auto
def _polydiv(u, v):
    m, n = u.shape[0] - 1, v.shape[0] - 1
    scale = xnp.true_divide(1.0, v[0])
    q = _creation.zeros(max(m - n + 1, 1), u.dtype)
    for k in range(0, m - n + 1):
        d = scale * u[k]
        q = q.at[k].set(d)
        u = u.at[k:k + n + 1].add(-d * v)
    return q, u


@_eager_jit_auto
def polyder(p, m: int = 1):
    """The ``m``-th derivative of the polynomial ``p``."""
    (p,) = _inexact(*_arrays("polyder", p))
    _check_1d("polyder", p=p)
    m = _static(m, "m", "polyder")
    if m < 0:
        raise ValueError("polyder: order of derivative must be positive")
    if m == 0:
        return p
    n = p.shape[0]
    coeff = np.prod(np.arange(m, n)[None] - np.arange(m)[:, None], axis=0) if n > m else \
        np.zeros(0)
    return p[:max(n - m, 0)] * np.asarray(coeff[::-1], p.dtype)


@_eager_jit_auto
def polyint(p, m: int = 1, k=None):
    """The ``m``-th antiderivative of ``p``; ``k`` holds the integration constants (a scalar
    or ``m`` values, highest order first)."""
    m = _static(m, "m", "polyint")
    p, k = _inexact(*_arrays("polyint", p, 0 if k is None else k))
    _check_1d("polyint", p=p)
    if m < 0:
        raise ValueError("polyint: order of integral must be positive (see polyder)")
    k = _shapes.atleast_1d(k)
    if k.shape == (1,):
        k = _shapes.broadcast_to(k, (m,))
    if k.shape != (m,):
        raise ValueError(f"polyint: k must be a scalar or a rank-1 array of length 1 or m, "
                         f"got shape {k.shape}")
    if m == 0:
        return p
    grid = np.arange(p.shape[0] + m)[None] - np.arange(m)[:, None]
    coeff = np.maximum(1, grid).prod(0)[::-1]
    return xnp.true_divide(_shapes.concatenate([p, k]), np.asarray(coeff, p.dtype))


@_eager_jit_auto
def vander(x, N: int | None = None, increasing: bool = False):
    """The Vandermonde matrix of the 1-D ``x``: columns ``x**(N-1), ..., x**0`` (reversed
    with ``increasing``); ``N`` defaults to ``len(x)``."""
    (x,) = _arrays("vander", x)
    if x.ndim != 1:
        raise ValueError(f"vander: x must be a one-dimensional array, got shape {x.shape}")
    N = x.shape[0] if N is None else _static(N, "N", "vander")
    if N < 0:
        raise ValueError("vander: N must be nonnegative")
    powers = np.arange(N) if increasing else np.arange(N - 1, -1, -1)
    dt = x.dtype if x.dtype != dtypes.bool_ else dtypes.default_int()
    return xnp.power(x[:, None], np.asarray(powers, dt)[None, :])


def _lstsq_svd(a, b, rcond: float):
    """Least squares by the thin SVD (JAX's lstsq): (x, residuals, rank, s, v_over_s)."""
    u, s, vt = xnp.linalg.svd(a, full_matrices=False)
    mask = xnp.logical_and(s > 0, s >= rcond * s[0])
    rank = xnp.sum(mask)
    s_inv = xnp.where(mask, 1 / xnp.where(mask, s, 1), 0)
    x = xnp.matmul(vt.T, s_inv[:, None] * xnp.matmul(u.T, b))
    resid = xnp.sum(xnp.square(b - xnp.matmul(a, x)), axis=0)
    return x, resid, rank, s, vt.T * s_inv[None, :]


@_eager_jit_auto
def polyfit(x, y, deg: int, rcond: float | None = None, full: bool = False, w=None,
            cov: bool | str = False):
    """The least-squares polynomial of degree ``deg`` through (``x``, ``y``); ``y`` may be
    2-D (one fit per column). ``w``: weights of the residuals. ``full=True`` also returns
    (residuals, rank, singular values, rcond); ``cov=True`` (or ``'unscaled'``) the
    covariance of the coefficients."""
    x, y, *ws = _arrays("polyfit", x, y, *(() if w is None else (w,)))
    deg = _static(deg, "deg", "polyfit")
    order = deg + 1
    if deg < 0:
        raise ValueError("polyfit: expected deg >= 0")
    if x.ndim != 1:
        raise TypeError(f"polyfit: expected 1D vector for x, got shape {x.shape}")
    if x.size == 0:
        raise TypeError("polyfit: expected non-empty vector for x")
    if y.ndim < 1 or y.ndim > 2:
        raise TypeError(f"polyfit: expected 1D or 2D array for y, got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise TypeError(f"polyfit: expected x and y to have same length, got shapes "
                        f"{x.shape} and {y.shape}")
    x, y, *ws = _inexact(x, y, *ws)
    if rcond is None:
        rcond = x.shape[0] * float(np.finfo(x.dtype).eps)
    rcond = float(_concrete(rcond, "polyfit's rcond"))
    lhs, rhs = vander(x, order), y
    if ws:
        (wv,) = ws
        if wv.ndim != 1:
            raise TypeError(f"polyfit: expected a 1-d array for weights, got shape {wv.shape}")
        if wv.shape[0] != y.shape[0]:
            raise TypeError("polyfit: expected w and y to have the same length")
        lhs = lhs * wv[:, None]
        rhs = rhs * (wv[:, None] if rhs.ndim == 2 else wv)
    scale = xnp.sqrt(xnp.sum(lhs * lhs, axis=0))
    lhs = lhs / scale[None, :]
    c, resids, rank, s, v_over_s = _lstsq_svd(lhs, rhs if rhs.ndim == 2 else rhs[:, None],
                                              rcond)
    c = c / scale[:, None]
    if y.ndim == 1:
        c, resids = c[:, 0], resids
    if full:
        return c, resids, rank, s, xnp.asarray(rcond)
    if not cov:
        return c
    vbase = xnp.matmul(v_over_s, v_over_s.T) / xnp.outer(scale, scale)
    if cov == "unscaled":
        fac = xnp.asarray(1.0, vbase.dtype)
    else:
        if x.shape[0] <= order:
            raise ValueError("polyfit: the number of data points must exceed order to scale "
                             "the covariance matrix")
        fac = resids / (x.shape[0] - order)
    if y.ndim == 1:
        return c, vbase * _shapes.atleast_1d(fac)[None]
    return c, vbase[:, :, None] * _shapes.atleast_1d(fac)[None, None, :]


def _roots_no_zeros(p):
    """Eigenvalues of the companion matrix of ``p`` (``p[0] != 0``)."""
    from xtrace._src.numpy.linalg_eig import eigvals, _complex_dtype
    n = p.shape[0]
    if n < 2:
        return _creation.zeros((0,), _complex_dtype(p.dtype))
    a = _creation.diag(_creation.ones((n - 2,), p.dtype), -1)
    a = a.at[0, :].set(xnp.negative(p[1:]) / p[0])
    return eigvals(a)


@_eager_jit_auto
def _roots_with_zeros(p, num_leading_zeros):
    p = xnp.where(num_leading_zeros == p.shape[0], xnp.ones_like(p), p)
    r = _roots_no_zeros(xnp.roll(p, -num_leading_zeros))
    _, r = lax.sort_key_val(r == 0, r)
    keep = xnp.arange(r.shape[0]) < r.shape[0] - num_leading_zeros
    return xnp.where(keep, r, complex(np.nan, np.nan))


def roots(p, *, strip_zeros: bool = True):
    """The roots of the polynomial with coefficients ``p`` (highest degree first), as the
    eigenvalues of its companion matrix: always complex, in no particular order. With
    ``strip_zeros=True`` (NumPy's behaviour) leading zeros are removed, which needs a concrete
    ``p``; ``strip_zeros=False`` works under jit and gives NaN for the roots lost to leading
    zeros."""
    (p,) = _inexact(*_arrays("roots", p))
    p = _shapes.atleast_1d(p)
    if p.ndim != 1:
        raise ValueError(f"roots: input must be a rank-1 array, got shape {p.shape}")
    from xtrace._src.numpy.linalg_eig import _complex_dtype
    if p.shape[0] < 2:
        return _creation.zeros((0,), _complex_dtype(p.dtype))
    nz = p != 0
    lead = xnp.where(xnp.any(nz), xnp.argmax(nz), p.shape[0])
    if strip_zeros:
        k = int(_concrete(lead, "roots(strip_zeros=True): the number of leading zeros (pass "
                                "strip_zeros=False under jit; lost roots are then NaN)"))
        return _eager_roots(p[k:])
    return _roots_with_zeros(p, lead)


@_eager_jit_auto
def _eager_roots(p):
    return _roots_no_zeros(p)


__all__ = ["roots", "poly", "polyadd", "polysub", "polymul", "polydiv", "polyder", "polyint",
           "polyfit", "vander", "trim_zeros"]
