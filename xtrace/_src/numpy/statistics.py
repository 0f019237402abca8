"""Covariance, correlation and multi-dimensional histograms (JAX's semantics).

cov, corrcoef, histogramdd, histogram2d. The histograms reuse ``histogram_bin_edges`` and
``bincount``; with array-valued (or traced) inputs they work under jit, since their result
sizes depend only on the number of bins.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from xtrace._src import dtypes
from xtrace._src.numpy.index_tricks import _arrays, ix_, ravel_multi_index
from xtrace._src.numpy.polynomial import _inexact
from xtrace._src.numpy.shapes import _eager_jit_auto
import xtrace.numpy as xnp


def _check_inexact_dtype(fname: str, dtype) -> None:
    if dtype is not None and not dtypes.issubdtype(np.dtype(dtype), np.inexact):
        raise ValueError(f"{fname}: dtype must be a subclass of float or complex; got "
                         f"dtype={dtype}")


def _weights(name: str, w, n: int, integer: bool):
    (w,) = _arrays("cov", w)
    if w.ndim > 1:
        raise RuntimeError(f"cov: cannot handle multidimensional {name}, got shape {w.shape}")
    if w.shape[0] != n:
        raise RuntimeError(f"cov: incompatible numbers of samples ({n}) and {name} "
                           f"({w.shape[0]})")
    if integer and not dtypes.is_int(w.dtype):
        raise TypeError(f"cov: fweights must be integer, got dtype {w.dtype.name}")
    return xnp.abs(w)


def _cov_impl(X, fw, aw, *, ddof, dtype):
    w = fw if aw is None else (aw if fw is None else fw * aw)
    if dtype is not None:
        X = X.astype(dtype)
        w = None if w is None else w.astype(dtype)
    avg, w_sum = xnp.average(X, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    if w is None:
        f = X.shape[1] - ddof
    elif ddof == 0:
        f = w_sum
    elif aw is None:
        f = w_sum - ddof
    else:
        f = w_sum - ddof * xnp.sum(w * aw) / w_sum
    X = X - avg[:, None]
    X_T = (X if w is None else X * w[None, :]).T
    return xnp.squeeze(xnp.true_divide(xnp.dot(X, xnp.conj(X_T)), f))


@_eager_jit_auto
def cov(m, y=None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights=None, aweights=None, dtype=None):
    """The covariance matrix of the variables in the rows of ``m`` (columns with
    ``rowvar=False``), with ``y`` as more variables. Normalized by ``N - 1`` (``N`` with
    ``bias``, or ``N - ddof``); ``fweights`` (integer repeat counts) and ``aweights``
    weight the observations. A single variable gives a 0-d result."""
    _check_inexact_dtype("cov", dtype)
    m, *ys = _inexact(*_arrays("cov", m, *(() if y is None else (y,))))
    if ys and ys[0].ndim > 2:
        raise ValueError(f"cov: y has more than 2 dimensions (shape {ys[0].shape})")
    if m.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {m.shape})")
    X = xnp.atleast_2d(m)
    if not rowvar and m.ndim != 1:
        X = X.T
    if X.shape[0] == 0:
        return xnp.zeros((0, 0), X.dtype)
    if ys:
        Y = xnp.atleast_2d(ys[0])
        if not rowvar and Y.shape[0] != 1:
            Y = Y.T
        X = xnp.concatenate([X, Y], axis=0)
    if X.shape[1] == 0:
        return xnp.full(() if X.shape[0] == 1 else (X.shape[0],) * 2, np.nan, X.dtype)
    if ddof is None:
        ddof = 1 if not bias else 0
    ddof = int(ddof)
    n = X.shape[1]
    fw = None if fweights is None else _weights("fweights", fweights, n, True)
    aw = None if aweights is None else _weights("aweights", aweights, n, False)
    return _cov_impl(X, fw, aw, ddof=ddof,
                     dtype=None if dtype is None else dtypes.canonicalize_dtype(dtype))


def _corr_impl(c):
    d = xnp.diagonal(c)
    std = xnp.sqrt(xnp.real(d)).astype(c.dtype)
    c = c / std[:, None] / std[None, :]
    re = xnp.clip(xnp.real(c), -1, 1)
    if dtypes.is_complex(c.dtype):
        return re + 1j * xnp.clip(xnp.imag(c), -1, 1)
    return re


@_eager_jit_auto
def corrcoef(x, y=None, rowvar: bool = True, dtype=None):
    """Pearson correlation coefficients: :func:`cov` normalized by the standard deviations,
    clipped to [-1, 1]."""
    _check_inexact_dtype("corrcoef", dtype)
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return xnp.divide(c, c)
    return _corr_impl(c)


@_eager_jit_auto
def histogramdd(sample, bins=10, range=None, weights=None, density: bool | None = None):
    """(counts, [edges per dimension]) of the ``N`` points of ``sample`` (shape ``(N, D)``).
    ``bins``: one int or array of edges for every dimension, or a sequence of ``D`` of them;
    ``range``: ``D`` (min, max) pairs or Nones. Points on a last edge count in the last bin,
    points outside are dropped."""
    if weights is None:
        (sample,) = _inexact(*_arrays("histogramdd", sample))
    else:
        sample, weights = _inexact(*_arrays("histogramdd", sample, weights))
        if weights.shape != sample.shape[:1]:
            raise ValueError(f"histogramdd: should have one weight for each sample; got "
                             f"weights of shape {weights.shape} for sample {sample.shape}")
    if sample.ndim != 2:
        raise ValueError(f"histogramdd: sample must have shape (N, D), got {sample.shape}")
    D = sample.shape[1]
    if range is not None and (len(range) != D or any(
            r is not None and np.shape(r)[0] != 2 for r in range)):
        raise ValueError(f"histogramdd: for sample.shape={sample.shape}, range must be a "
                         f"sequence of {D} pairs or Nones; got range={range}")
    try:
        per_dim = list(bins)
    except TypeError:
        per_dim = D * [bins]
    else:
        if len(per_dim) != D:
            raise ValueError(f"histogramdd: should be a bin for each dimension ({D}), got "
                             f"{len(per_dim)}")
    idx, edges = [], []
    for i in builtins.range(D):
        col = sample[:, i]
        e = xnp.histogram_bin_edges(col, per_dim[i], None if range is None else range[i])
        b = xnp.searchsorted(e, col, side="right")
        idx.append(xnp.where(col == e[-1], b - 1, b))
        edges.append(e)
    nbins = tuple(e.shape[0] + 1 for e in edges)
    flat = ravel_multi_index(tuple(idx), nbins, mode="clip")
    hist = xnp.bincount(flat, weights, length=math.prod(nbins)).reshape(nbins)
    hist = hist[D * (slice(1, -1),)]
    if density:
        hist = hist.astype(sample.dtype)
        hist = hist / hist.sum()
        for norm in ix_(*[xnp.diff(e) for e in edges]):
            hist = hist / norm
    return hist, edges


@_eager_jit_auto
def histogram2d(x, y, bins=10, range=None, weights=None, density: bool | None = None):
    """(counts, x_edges, y_edges) of the points (``x[i]``, ``y[i]``): :func:`histogramdd`
    of two dimensions. ``bins``: an int or edge array for both, or a pair of them."""
    x, y = _inexact(*_arrays("histogram2d", x, y))
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n != 1 and n != 2:
        bins = [xnp.asarray(bins)] * 2
    hist, edges = histogramdd(xnp.stack([x, y], axis=1), bins, range, weights, density)
    return hist, edges[0], edges[1]


__all__ = ["cov", "corrcoef", "histogramdd", "histogram2d"]
