"""``jax.scipy.linalg``'s special matrices, which need no matrix decomposition:
``block_diag``, ``toeplitz``, ``hankel``, ``circulant``, ``leslie``, ``companion``, ``fiedler``,
``fiedler_companion``, ``convolution_matrix``, ``hilbert``, ``invhilbert``, ``pascal``,
``invpascal``, ``helmert``, ``hadamard`` and ``dft``."""
from __future__ import annotations

import math
import operator

import numpy as np

import xtrace.numpy as xnp
from xtrace._src.array import Array
from xtrace._src.numpy.core import promote_dtypes_only


def block_diag(*arrs) -> Array:
    """The block-diagonal matrix of the arguments (scalars and vectors count as 1-row blocks);
    no argument gives an empty ``(1, 0)`` matrix."""
    if not arrs:
        arrs = (xnp.zeros((1, 0)),)
    arrs = [xnp.asarray(a) for a in promote_dtypes_only(*[xnp.asarray(a) for a in arrs])]
    bad = [i for i, a in enumerate(arrs) if a.ndim > 2]
    if bad:
        raise ValueError("Arguments to xtrace.scipy.linalg.block_diag must have at most 2 "
                         f"dimensions, got {arrs[bad[0]].shape} at argument {bad[0]}.")
    arrs = [xnp.reshape(a, (1, -1)) if a.ndim < 2 else a for a in arrs]
    cols = sum(a.shape[1] for a in arrs)
    rows, start = [], 0
    for a in arrs:
        rows.append(xnp.pad(a, ((0, 0), (start, cols - start - a.shape[1]))))
        start += a.shape[1]
    return xnp.concatenate(rows, axis=0)


def toeplitz(c, r=None) -> Array:
    """The Toeplitz matrix with first column ``c`` and first row ``r`` (``r[0]`` is ignored;
    default ``conj(c)``); leading dimensions of ``c`` and ``r`` broadcast as batches."""
    c = xnp.asarray(c)
    if r is None:
        r = xnp.conj(c)
    r = xnp.asarray(r)
    c, r = promote_dtypes_only(c, r)
    c, r = xnp.atleast_1d(c), xnp.atleast_1d(r)
    batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    c = xnp.broadcast_to(c, batch + c.shape[-1:])
    r = xnp.broadcast_to(r, batch + r.shape[-1:])
    n, m = c.shape[-1], r.shape[-1]
    # entry (i, j) is c[i - j] below the diagonal and r[j - i] above: index the sequence
    # [c[n-1], ..., c[1], c[0], r[1], ..., r[m-1]] at (j - i) + n - 1.
    seq = xnp.concatenate([xnp.flip(c, -1), r[..., 1:]], axis=-1)
    idx = np.arange(m)[None, :] - np.arange(n)[:, None] + n - 1
    return seq[..., idx]


def _vectors(name: str, *xs):
    xs = [xnp.asarray(x) for x in xs]
    for x in xs:
        if x.ndim == 0:
            raise ValueError(f"{name}: the arguments must be at least 1-dimensional, got a "
                             "scalar.")
    return xs


def hankel(c, r=None) -> Array:
    """The Hankel matrix ``H[i, j] = v[i + j]`` with ``v = concatenate([c, r[1:]])``: first
    column ``c``, last row ``r`` (``r[0]`` is ignored; default zeros); leading dimensions of
    ``c`` and ``r`` broadcast as batches."""
    c, = _vectors("hankel", c)
    r, = _vectors("hankel", xnp.zeros_like(c) if r is None else r)
    c, r = promote_dtypes_only(c, r)
    batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    c = xnp.broadcast_to(c, batch + c.shape[-1:])
    r = xnp.broadcast_to(r, batch + r.shape[-1:])
    n, m = c.shape[-1], r.shape[-1]
    if n == 0 or m == 0:
        return xnp.zeros(batch + (n, m), c.dtype)
    seq = xnp.concatenate([c, r[..., 1:]], axis=-1)
    return seq[..., np.arange(n)[:, None] + np.arange(m)[None, :]]


def circulant(c) -> Array:
    """The circulant matrix with first column ``c`` (``C[i, j] = c[(i - j) % n]``); leading
    dimensions are batches."""
    c = xnp.atleast_1d(xnp.asarray(c))
    n = c.shape[-1]
    return c[..., (np.arange(n)[:, None] - np.arange(n)[None, :]) % n]


def leslie(f, s) -> Array:
    """The Leslie matrix: fecundities ``f`` ``(..., n)`` (n >= 2) as its first row, survival
    rates ``s`` ``(..., n - 1)`` on the first subdiagonal."""
    f, s = xnp.atleast_1d(xnp.asarray(f)), xnp.atleast_1d(xnp.asarray(s))
    if f.shape[-1] < 2:
        raise ValueError(f"The length of f along the last axis must be at least 2; got shape "
                         f"{f.shape}.")
    if s.shape[-1] != f.shape[-1] - 1:
        raise ValueError("Incorrect lengths for f and s. The length of s along the last axis "
                         "must be one less than the length of f; got f shape "
                         f"{f.shape} and s shape {s.shape}.")
    f, s = promote_dtypes_only(f, s)
    batch = np.broadcast_shapes(f.shape[:-1], s.shape[:-1])
    n = f.shape[-1]
    f = xnp.broadcast_to(f, batch + (n,))
    s = xnp.broadcast_to(s, batch + (n - 1,))
    sub = xnp.pad(s, [(0, 0)] * len(batch) + [(0, 1)])[..., None, :]  # (..., 1, n)
    below = xnp.where(np.eye(n, k=-1, dtype=bool), sub, xnp.zeros((), f.dtype))
    return xnp.where((np.arange(n) == 0)[:, None], f[..., None, :], below)


def _inexact(name: str, a):
    from xtrace._src.nn.functions import _inexact_many
    a, = _inexact_many(name, a)
    return xnp.atleast_1d(a)


def companion(a) -> Array:
    """The companion matrix of the polynomial with coefficients ``a`` (highest degree first,
    ``len(a) >= 2``): first row ``-a[1:] / a[0]``, ones on the subdiagonal."""
    a = _inexact("companion", a)
    if a.shape[-1] < 2:
        raise ValueError(f"The length of `a` along the last axis must be at least 2; got shape "
                         f"{a.shape}.")
    m = a.shape[-1] - 1
    first = -a[..., 1:] / a[..., :1]
    eye = xnp.broadcast_to(xnp.eye(m, k=-1, dtype=a.dtype), a.shape[:-1] + (m, m))
    return xnp.where((np.arange(m) == 0)[:, None], first[..., None, :], eye)


def fiedler(a) -> Array:
    """The symmetric Fiedler matrix ``F[i, j] = |a[i] - a[j]|``; leading dimensions are
    batches."""
    a = xnp.atleast_1d(xnp.asarray(a))
    return xnp.abs(a[..., :, None] - a[..., None, :])


def fiedler_companion(a) -> Array:
    """The Fiedler companion matrix of the polynomial with coefficients ``a`` (highest degree
    first): a pentadiagonal matrix with the roots of the polynomial as eigenvalues."""
    a = _inexact("fiedler_companion", a)
    if a.shape[-1] == 0:
        raise ValueError("fiedler_companion requires the last axis of 'a' to have nonzero "
                         f"length, but got an array of shape {a.shape}.")
    n = a.shape[-1] - 1
    batch = a.shape[:-1]
    if n == 0:
        return xnp.zeros(batch + (0, 0), a.dtype)
    a = a / a[..., :1]
    if n == 1:
        return -a[..., 1:, None]
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    even, odd = i % 2 == 0, i % 2 == 1
    # c[0,0] = -a[1], c[1,0] = 1; even rows: -a[i+2] right of the diagonal and 1 two right,
    # -a[i+1] left of the diagonal (i >= 2); odd rows: 1 two left of the diagonal (i >= 3).
    coef = np.full((n, n), -1)  # index of -a[k] at each cell, or -1
    coef[(i == 0) & (j == 0)] = 1
    coef[np.broadcast_to((j == i + 1) & even, (n, n))] = np.broadcast_to(i + 2, (n, n))[
        (j == i + 1) & even]
    mask_sub = (j == i - 1) & even & (i >= 2)
    coef[mask_sub] = np.broadcast_to(i + 1, (n, n))[mask_sub]
    ones = ((i == 1) & (j == 0)) | ((j == i + 2) & even) | ((j == i - 2) & odd & (i >= 3))
    vals = -a[..., np.maximum(coef, 0)]
    zero = xnp.zeros((), a.dtype)
    return xnp.where(coef >= 0, vals, xnp.where(ones, xnp.ones((), a.dtype), zero))


def convolution_matrix(a, n: int, mode: str = "full") -> Array:
    """The Toeplitz matrix ``A`` (``n`` columns) with ``A @ v == convolve(a, v, mode)``;
    ``mode`` 'full' (``m + n - 1`` rows), 'same' (``max(m, n)``) or 'valid'
    (``max(m, n) - min(m, n) + 1``); leading dimensions of ``a`` are batches."""
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"n must be a positive integer; got {n}.")
    a = xnp.asarray(a)
    if a.ndim == 0:
        raise ValueError("convolution_matrix: a must be at least 1-dimensional, got a scalar.")
    m = a.shape[-1]
    if m < 1:
        raise ValueError(f"len(a) must be at least 1; got shape {a.shape}.")
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"mode must be one of 'full', 'valid', 'same'; got {mode!r}.")
    pad = [(0, 0)] * (a.ndim - 1) + [(0, n - 1)]
    az, raz = xnp.pad(a, pad), xnp.pad(xnp.flip(a, -1), pad)
    length = m + n - 1
    if mode == "same":
        trim = min(n, m) - 1
        tb, te = trim // 2, trim - trim // 2
    elif mode == "valid":
        tb = te = min(n, m) - 1
    else:
        tb = te = 0
    return toeplitz(az[..., tb:length - te], raz[..., length - n - tb:length - tb])


def _float_grid(n: int):
    a = np.arange(n, dtype=np.float64)
    return a[:, None], a[None, :]


def hilbert(n: int) -> Array:
    """The Hilbert matrix ``1 / (i + j + 1)`` of order ``n`` (the default float dtype)."""
    i, j = _float_grid(operator.index(n))
    return xnp.asarray(1.0 / (i + j + 1.0), dtype=_default_float())


def _default_float():
    from xtrace._src import dtypes
    return dtypes.default_float()


def _binom(n, k, dtype=np.float32):
    """Binomial coefficients through log-gamma, as JAX computes them."""
    from xtrace._src import lax
    n, k = xnp.asarray(n, dtype), xnp.asarray(k, dtype)
    return lax.exp(lax.lgamma(n + 1.0) - lax.lgamma(n - k + 1.0) - lax.lgamma(k + 1.0))


def _check_kind(kind):
    kind = "symmetric" if kind is None else kind
    valid = ["symmetric", "lower", "upper"]
    if kind not in valid:
        raise ValueError(f"Expected kind to be one of: {valid}; got {kind}")
    return kind


def pascal(n: int, kind: str | None = None) -> Array:
    """The Pascal matrix of order ``n``: ``kind`` 'symmetric' (default, ``binom(i + j, i)``),
    'lower' or 'upper' (binomial coefficients in a triangle); float32, as in JAX."""
    kind = _check_kind(kind)
    i, j = _float_grid(operator.index(n))
    low = _binom(i, j)
    if kind == "lower":
        return low
    if kind == "upper":
        return low.T
    return xnp.matmul(low, low.T, precision="highest")


def invpascal(n: int, kind: str | None = None) -> Array:
    """The inverse of ``pascal(n, kind)`` from its closed form (the default float dtype)."""
    kind = _check_kind(kind)
    i, j = _float_grid(operator.index(n))
    low = xnp.asarray((-1.0) ** (i - j), _default_float()) * _binom(i, j, _default_float())
    if kind == "lower":
        return low
    if kind == "upper":
        return low.T
    return xnp.matmul(low.T, low, precision="highest")


def invhilbert(n: int) -> Array:
    """The inverse of the Hilbert matrix of order ``n`` from its closed form with binomial
    coefficients (the default float dtype; large ``n`` overflows)."""
    from xtrace._src.scipy.special import comb
    n = operator.index(n)
    i, j = (xnp.asarray(x, _default_float()) for x in _float_grid(n))
    s = i + j
    return ((-1.0) ** s * (s + 1.0) * comb(n + i, n - j - 1) * comb(n + j, n - i - 1)
            * comb(s, i) ** 2)


def helmert(n: int, full: bool = False) -> Array:
    """The Helmert matrix of order ``n``: ``(n - 1, n)`` rows orthonormal and orthogonal to
    the ones vector, with the row ``1 / sqrt(n)`` on top when ``full``."""
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}.")
    i, j = np.arange(n - 1)[:, None], np.arange(n)[None, :]
    k = xnp.asarray(i + 1, _default_float())
    denom = xnp.sqrt(k * (k + 1))
    h = xnp.where(j <= i, 1.0 / denom, xnp.where(j == i + 1, -k / denom, 0.0))
    if full:
        h = xnp.concatenate([xnp.full((1, n), 1.0 / np.sqrt(n), h.dtype), h], axis=0)
    return h


def hadamard(n: int, dtype=int) -> Array:
    """The Sylvester Hadamard matrix of order ``n`` (a power of 2), entries +-1 of ``dtype``
    (default: the default integer)."""
    n = operator.index(n)
    if n < 1 or not math.log2(n).is_integer():
        raise ValueError(f"n must be a positive power of 2; got {n}.")
    h = np.ones((1, 1), np.int64)
    for _ in range(int(math.log2(n))):
        h = np.block([[h, h], [h, -h]])
    return xnp.asarray(h, dtype=dtype)


def dft(n: int, scale: str | None = None, *, dtype=None) -> Array:
    """The discrete Fourier transform matrix ``exp(-2j pi i k / n)`` of order ``n`` (the
    default complex dtype), divided by ``sqrt(n)`` (``scale='sqrtn'``) or ``n`` ('n')."""
    from xtrace._src import dtypes
    if scale is not None and scale not in ("sqrtn", "n"):
        raise ValueError(f"scale must be None, 'sqrtn', or 'n'; got {scale!r}.")
    if dtype is None:
        dtype = dtypes.default_complex()
    else:
        dtype = dtypes.canonicalize_dtype(np.dtype(dtype))
        if not dtypes.is_complex(dtype):
            raise ValueError(f"dtype must be a complex floating-point type; got {dtype}.")
    n = operator.index(n)
    a = xnp.arange(n, dtype=dtype)
    omegas = xnp.exp(-2j * np.pi * a[:, None] * a[None, :] / n)
    if scale == "sqrtn":
        omegas = omegas / np.sqrt(n)
    elif scale == "n":
        omegas = omegas / n
    return omegas.astype(dtype)
