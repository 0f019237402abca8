"""Numerical derivatives, integrals and phase unwrapping: gradient, trapezoid, unwrap.

Written with xtrace.numpy functions, so they work under jit (axes are static), vmap and grad.
"""
from __future__ import annotations

import numpy as np

from xtrace._src import dtypes
from xtrace._src.numpy.core import _axis_tuple, asarray, promote_dtypes_only
from xtrace._src.numpy.index_tricks import _arrays
from xtrace._src.numpy.polynomial import _inexact
from xtrace._src.numpy.shapes import _eager_jit_auto
import xtrace.numpy as xnp


def _slice(a, start, stop, axis: int):
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(start, stop)
    return a[tuple(idx)]


def _gradient_along(a, h, axis: int):
    s = lambda lo, hi: _slice(a, lo, hi, axis)  # noqa: E731
    upper, lower = s(1, 2) - s(0, 1), s(-1, None) - s(-2, -1)
    if h.ndim == 0:
        inner = (s(2, None) - s(None, -2)) * 0.5 / h
        return xnp.concatenate([upper / h, inner, lower / h], axis=axis)
    if h.ndim != 1:
        raise ValueError(f"gradient: spacing arrays must be 1D arrays or scalars, got shape "
                         f"{h.shape}")
    if h.shape[0] != a.shape[axis]:
        raise ValueError(f"gradient: spacing arrays must have the same length as the "
                         f"dimension along which the gradient is calculated ({h.shape[0]} "
                         f"!= {a.shape[axis]})")
    shape = [1] * a.ndim
    shape[axis] = h.shape[0]
    h = h.reshape(shape)
    x = lambda lo, hi: _slice(h, lo, hi, axis)  # noqa: E731
    upper, lower = upper / (x(1, 2) - x(0, 1)), lower / (x(-1, None) - x(-2, -1))
    dx1, dx2 = x(1, -1) - x(0, -2), x(2, None) - x(1, -1)
    inner = (-dx2 / (dx1 * (dx1 + dx2)) * s(0, -2) + (dx2 - dx1) / (dx1 * dx2) * s(1, -1)
             + dx1 / (dx2 * (dx1 + dx2)) * s(2, None))
    return xnp.concatenate([upper, inner, lower], axis=axis)


@_eager_jit_auto
def gradient(f, *varargs, axis=None, edge_order: int | None = None):
    """The gradient of ``f`` by second-order central differences inside and first-order
    differences at the edges. ``varargs``: one scalar spacing or 1-D coordinates for all
    axes, or one per axis of ``axis`` (default: all axes). Returns one array, or a list of
    them when several axes are differentiated. ``edge_order=2`` is not supported (JAX)."""
    if edge_order is not None and edge_order != 1:
        raise NotImplementedError("gradient: the 'edge_order' argument is not supported "
                                  "(only the first-order edges, edge_order=1)")
    a, *spacing = _inexact(*_arrays("gradient", f, *varargs))
    items = range(a.ndim) if axis is None else (
        axis if isinstance(axis, (tuple, list)) else (axis,))
    axes = tuple(_axis_tuple(ax, a.ndim, "gradient")[0] for ax in items)
    if len(axes) == 0:
        return []
    if min(a.shape[i] for i in axes) < 2:
        raise ValueError(f"gradient: shape of array too small to calculate a numerical "
                         f"gradient, at least 2 elements are required (shape {a.shape})")
    if len(spacing) == 0:
        dx = [asarray(1.0, a.dtype)] * len(axes)
    elif len(spacing) == 1:
        dx = spacing * len(axes)
    elif len(spacing) == len(axes):
        dx = spacing
    else:
        raise TypeError(f"gradient: invalid number of spacing arguments {len(spacing)} for "
                        f"axis={axis}")
    out = [_gradient_along(a, h, ax) for ax, h in zip(axes, dx)]
    return out[0] if len(axes) == 1 else out


@_eager_jit_auto
def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at sample points ``x``
    (1-D, or ``y``'s shape) or with spacing ``dx``."""
    if x is None:
        (y,) = _inexact(*_arrays("trapezoid", y))
        d = asarray(dx)
        if d.ndim > 0:
            d = xnp.moveaxis(xnp.expand_dims(d, tuple(range(y.ndim - d.ndim))), axis, -1)
    else:
        y, x = _inexact(*_arrays("trapezoid", y, x))
        d = xnp.diff(x) if x.ndim == 1 else xnp.moveaxis(xnp.diff(x, axis=axis), axis, -1)
    y = xnp.moveaxis(y, axis, -1)
    if d.ndim == 0 or d.shape[-1] == 1:
        d = d if d.ndim == 0 else d[..., 0]
        return d * (y.sum(-1) - 0.5 * (y[..., 0] + y[..., -1]))
    return 0.5 * (d * (y[..., 1:] + y[..., :-1])).sum(-1)


@_eager_jit_auto
def unwrap(p, discont=None, axis: int = -1, period=2 * np.pi):
    """``p`` with jumps between neighbours along ``axis`` larger than ``discont`` (default
    ``period / 2``) replaced by their ``period`` complement (phase unwrapping)."""
    (p,) = _arrays("unwrap", p)
    p, period = (asarray(v) for v in promote_dtypes_only(p, period))
    if dtypes.is_complex(p.dtype):
        raise ValueError("unwrap: complex inputs are not supported")
    axis = _axis_tuple(axis, p.ndim, "unwrap")[0]
    if p.shape[axis] == 0:
        return p
    if discont is None:
        discont = period / 2
    interval = period // 2 if dtypes.is_int(p.dtype) else period / 2
    dd = xnp.diff(p, axis=axis)
    ddmod = xnp.mod(dd + interval, period) - interval
    ddmod = xnp.where((ddmod == -interval) & (dd > 0), interval, ddmod)
    correct = xnp.where(xnp.abs(dd) < discont, 0, ddmod - dd)
    return xnp.concatenate([_slice(p, 0, 1, axis),
                            _slice(p, 1, None, axis) + xnp.cumsum(correct, axis=axis)],
                           axis=axis)


__all__ = ["gradient", "trapezoid", "unwrap"]
