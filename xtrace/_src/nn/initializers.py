"""Parameter initializers with ``jax.nn.initializers``' API.

Every builder returns ``init(key, shape, dtype=None)`` (``dtype`` None means the builder's
dtype, else the default float). The random ones draw from ``xtrace.random`` with the same calls
as JAX makes, so a key gives the same numbers as JAX's initializer wherever ``xtrace.random``
reproduces JAX's streams. ``xtrace.random`` is imported when an initializer runs, not when this
module is imported.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Protocol, Sequence

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import core, dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.jit import jit

DTypeLike = Any


class Initializer(Protocol):
    """``init(key, shape, dtype=None) -> Array``: what every builder here returns."""

    def __call__(self, key: Any, shape: Sequence[int], dtype: DTypeLike | None = None,
                 out_sharding: Any = None) -> Any:
        ...


def _random():
    try:
        from xtrace import random
    except ImportError as e:  # pragma: no cover - only before xtrace.random exists
        raise ImportError("xtrace.nn.initializers needs xtrace.random for random "
                          f"initializers ({e})") from None
    return random


def _shape(shape, name: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"xtrace.nn.initializers.{name}: shape must be a sequence of ints, got "
                        f"{shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"xtrace.nn.initializers.{name}: negative dimension in shape {shape}")
    return shape


def _dtype(dtype, name: str) -> np.dtype:
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    return dt


def _inexact_dtype(dtype, name: str) -> np.dtype:
    dt = _dtype(dtype, name)
    if not dtypes.is_inexact(dt):  # a ValueError, as jax.nn.initializers
        raise ValueError(f"xtrace.nn.initializers.{name}: dtype must be a float or complex "
                         f"dtype, got {dt}")
    return dt


def _no_sharding(out_sharding, name):
    if out_sharding is not None:
        raise NotImplementedError(f"xtrace.nn.initializers.{name}: out_sharding is not "
                                  "supported")


def _scalar(value, dt):
    """``value`` as a scalar of dtype ``dt`` (a NumPy scalar when it is a plain number, so it
    rounds once, straight to ``dt``, and enters compiled code as a constant)."""
    if isinstance(value, (Array, core.Tracer)):
        return xnp.astype(value, dt)
    return np.asarray(value, dt)[()] if np.ndim(value) == 0 else np.asarray(value, dt)


# ---------------------------------------------------------------------------------------------
# Constant initializers


def zeros(key: Any, shape: Sequence[int], dtype: DTypeLike | None = None,
          out_sharding: Any = None):
    """An array of zeros (``key`` is ignored)."""
    _no_sharding(out_sharding, "zeros")
    return xnp.zeros(_shape(shape, "zeros"), _dtype(dtype, "zeros"))


def ones(key: Any, shape: Sequence[int], dtype: DTypeLike | None = None,
         out_sharding: Any = None):
    """An array of ones (``key`` is ignored)."""
    _no_sharding(out_sharding, "ones")
    return xnp.ones(_shape(shape, "ones"), _dtype(dtype, "ones"))


def constant(value: Any, dtype: DTypeLike | None = None) -> Initializer:
    """Builds an initializer that returns arrays full of ``value``."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "constant")
        return xnp.full(_shape(shape, "constant"), value, _dtype(dtype, "constant"))
    return init


# ---------------------------------------------------------------------------------------------
# Simple distributions


def uniform(scale: Any = 1e-2, dtype: DTypeLike | None = None) -> Initializer:
    """Builds an initializer of values uniform in ``[0, scale)``."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "uniform")
        dt = _inexact_dtype(dtype, "uniform")
        return _random().uniform(key, _shape(shape, "uniform"), dt) * _scalar(scale, dt)
    return init


def normal(stddev: Any = 1e-2, dtype: DTypeLike | None = None) -> Initializer:
    """Builds an initializer of normal values with mean 0 and standard deviation ``stddev``."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "normal")
        dt = _inexact_dtype(dtype, "normal")
        return _random().normal(key, _shape(shape, "normal"), dt) * _scalar(stddev, dt)
    return init


def truncated_normal(stddev: Any = 1e-2, dtype: DTypeLike | None = None, lower: Any = -2.0,
                     upper: Any = 2.0) -> Initializer:
    """Builds an initializer of standard normal values truncated to ``(lower, upper)``, then
    multiplied by ``stddev`` (no variance correction, as in JAX)."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "truncated_normal")
        dt = _inexact_dtype(dtype, "truncated_normal")
        t = _random().truncated_normal(key, lower, upper, _shape(shape, "truncated_normal"), dt)
        return t * _scalar(stddev, dt)
    return init


# ---------------------------------------------------------------------------------------------
# Variance scaling


def _size(shape, axis) -> int:
    if isinstance(axis, (int, np.integer)):
        return shape[axis]
    return math.prod(shape[i] for i in axis)


def _compute_fans(shape: Sequence[int], in_axis: int | Sequence[int] = -2,
                  out_axis: int | Sequence[int] = -1,
                  batch_axis: int | Sequence[int] = ()) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a weight of ``shape``: the sizes of ``in_axis`` and
    ``out_axis`` times the receptive field (the product of the axes in neither of them nor in
    ``batch_axis``), as ``jax.nn.initializers`` computes them."""
    shape = tuple(shape)
    if isinstance(in_axis, (int, np.integer)) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                         "weights tensor with default in_axis. Must be at least 2D or specify "
                         "in_axis explicitly.")
    try:
        in_size = _size(shape, in_axis)
        out_size = _size(shape, out_axis)
        batch_size = _size(shape, batch_axis)
    except IndexError:
        raise ValueError(f"in_axis={in_axis!r}, out_axis={out_axis!r} or "
                         f"batch_axis={batch_axis!r} is out of range for a weight of shape "
                         f"{shape}") from None
    receptive_field_size = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field_size, out_size * receptive_field_size


def _real_dtype(dt):
    return {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)


def _complex_uniform(key, shape, dtype):
    """Complex values uniform on the disk with mean 0 and variance 1."""
    random = _random()
    key_r, key_theta = random.split(key)
    rdt = _real_dtype(dtype)
    r = xnp.astype(xnp.sqrt(2 * random.uniform(key_r, shape, rdt)), dtype)
    theta = 2 * np.pi * xnp.astype(random.uniform(key_theta, shape, rdt), dtype)
    return r * xnp.exp(1j * theta)


def _complex_truncated_normal(key, upper, shape, dtype):
    """Complex normal values (variance 1 before truncation) with modulus below ``upper``."""
    random = _random()
    key_r, key_theta = random.split(key)
    rdt = _real_dtype(dtype)
    t = ((1 - xnp.exp(_scalar(-(upper ** 2), dtype)))
         * xnp.astype(random.uniform(key_r, shape, rdt), dtype))
    r = xnp.sqrt(-xnp.log(1 - t))
    theta = 2 * np.pi * xnp.astype(random.uniform(key_theta, shape, rdt), dtype)
    return r * xnp.exp(1j * theta)


_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale: Any, mode: str, distribution: str,
                     in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                     batch_axis: int | Sequence[int] = (),
                     dtype: DTypeLike | None = None) -> Initializer:
    """Builds an initializer whose values have variance ``scale / n``, ``n`` being the fan-in,
    fan-out, their average or geometric average (``mode``), drawn from a truncated normal
    (truncated at 2 standard deviations, rescaled to the right variance), a normal, or a
    uniform ``distribution``. ``in_axis``/``out_axis``/``batch_axis`` say which axes of the
    weight's shape are its inputs, outputs and batch; the rest are the receptive field."""
    if mode not in _MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode!r}; expected "
                         f"one of {', '.join(_MODES)}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: "
                         f"{distribution!r}; expected one of {', '.join(_DISTRIBUTIONS)}")

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "variance_scaling")
        shape = _shape(shape, "variance_scaling")
        dt = _inexact_dtype(dtype, "variance_scaling")
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        if mode == "fan_in":
            denominator = fan_in
        elif mode == "fan_out":
            denominator = fan_out
        elif mode == "fan_avg":
            denominator = (fan_in + fan_out) / 2
        else:
            denominator = (fan_in * fan_out) ** 0.5
        return _vs_sample(key, _scalar(scale / denominator, dt), distribution, shape, dt)
    return init


def _vs_sample(key, variance, distribution, shape, dt):
    """A sample of ``shape`` with mean 0 and variance ``variance`` from ``distribution``."""
    random = _random()
    is_float = dtypes.is_float(dt)
    if distribution == "truncated_normal":
        if is_float:
            # .8796... is the standard deviation of a standard normal truncated to (-2, 2).
            stddev = xnp.sqrt(variance) / _scalar(.87962566103423978, dt)
            return random.truncated_normal(key, -2, 2, shape, dt) * stddev
        stddev = xnp.sqrt(variance) / _scalar(.95311164380491208, dt)
        return _complex_truncated_normal(key, 2, shape, dt) * stddev
    if distribution == "normal":
        return random.normal(key, shape, dt) * xnp.sqrt(variance)
    if is_float:
        return random.uniform(key, shape, dt, -1) * xnp.sqrt(3 * variance)
    return _complex_uniform(key, shape, dt) * xnp.sqrt(variance)


def _vs_builder(name: str, scale: float, mode: str, distribution: str, what: str):
    def builder(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                batch_axis: int | Sequence[int] = (),
                dtype: DTypeLike | None = None) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis=in_axis,
                                out_axis=out_axis, batch_axis=batch_axis, dtype=dtype)
    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (f"Builds a {what} initializer: ``variance_scaling({scale}, {mode!r}, "
                       f"{distribution!r})``.")
    return builder


glorot_uniform = _vs_builder("glorot_uniform", 1.0, "fan_avg", "uniform",
                             "Glorot (Xavier) uniform")
glorot_normal = _vs_builder("glorot_normal", 1.0, "fan_avg", "truncated_normal",
                            "Glorot (Xavier) normal")
lecun_uniform = _vs_builder("lecun_uniform", 1.0, "fan_in", "uniform", "LeCun uniform")
lecun_normal = _vs_builder("lecun_normal", 1.0, "fan_in", "truncated_normal", "LeCun normal")
he_uniform = _vs_builder("he_uniform", 2.0, "fan_in", "uniform", "He (Kaiming) uniform")
he_normal = _vs_builder("he_normal", 2.0, "fan_in", "truncated_normal", "He (Kaiming) normal")
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


# ---------------------------------------------------------------------------------------------
# Orthogonal


def _householder_q(z):
    """Q of the reduced QR factorization of the ``(m, n)`` matrix ``z`` (``m >= n``), with the
    signs chosen so that R has a non-negative diagonal (which makes Q unique)."""
    m, n = z.shape
    dt = get_aval(z).dtype
    rows = lax.iota(dtypes.int32, m)
    q0 = xnp.astype(lax.broadcasted_iota(dtypes.int32, (m, m), 0)
                    == lax.broadcasted_iota(dtypes.int32, (m, m), 1), dt)

    def body(k, carry):
        r, q = carry
        col = lax.reshape(lax.dynamic_slice(r, (k - k, k), (m, 1)), (m,))
        below = rows >= k
        at_k = rows == k
        x = xnp.where(below, col, 0)
        xk = lax.reduce_sum(xnp.where(at_k, col, 0), (0,))
        norm = xnp.sqrt(lax.reduce_sum(x * x, (0,)))
        alpha = xnp.where(xk >= 0, -norm, norm)
        v = x - xnp.where(at_k, alpha, 0)
        vn2 = lax.reduce_sum(v * v, (0,))
        safe = xnp.where(vn2 > 0, vn2, 1)
        v = xnp.where(vn2 > 0, v * lax.rsqrt(safe), 0)
        r = r - 2 * (lax.expand_dims(v, (1,)) * lax.expand_dims(xnp.matmul(v, r), (0,)))
        q = q - 2 * (lax.expand_dims(xnp.matmul(q, v), (1,)) * lax.expand_dims(v, (0,)))
        return r, q

    r, q = lax.fori_loop(0, n, body, (z, q0))
    q = lax.slice(q, (0, 0), (m, n))
    eye = lax.broadcasted_iota(dtypes.int32, (m, n), 0) == lax.broadcasted_iota(
        dtypes.int32, (m, n), 1)
    d = lax.reduce_sum(xnp.where(eye, r, 0), (0,))  # diag(R), length n
    return q * lax.expand_dims(lax.sign(d), (0,))


_householder_q_jit = jit(_householder_q)


def _orthogonal_matrix(key, n_rows: int, n_cols: int, dt):
    """A random ``(n_rows, n_cols)`` matrix with orthonormal rows or columns (whichever are
    fewer), drawn as JAX's ``random.orthogonal`` does (Haar measure)."""
    random = _random()
    if hasattr(random, "orthogonal"):
        return random.orthogonal(key, n_rows, (), dt, n_cols)
    big, small = max(n_rows, n_cols), min(n_rows, n_cols)
    z = random.normal(key, (big, small), dt)
    if core._state.dynamic_level == 0 and not isinstance(z, core.Tracer):
        q = _householder_q_jit(z)  # eager: compile the factorization once per shape
    else:
        q = _householder_q(z)
    return xnp.transpose(q) if n_rows < n_cols else q


def orthogonal(scale: Any = 1.0, column_axis: int = -1,
               dtype: DTypeLike | None = None) -> Initializer:
    """Builds an initializer of (scaled) orthogonal matrices: the weight, reshaped to
    ``(prod(other axes), shape[column_axis])``, has orthonormal columns or rows, whichever are
    fewer (unitary for complex dtypes)."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "orthogonal")
        shape = _shape(shape, "orthogonal")
        dt = _inexact_dtype(dtype, "orthogonal")
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        if any(d == 0 for d in shape):
            return xnp.zeros(shape, dt)
        col = operator.index(column_axis)
        if not -len(shape) <= col < len(shape):
            raise ValueError(f"xtrace.nn.initializers.orthogonal: column_axis {column_axis} is "
                             f"out of range for shape {shape}")
        col %= len(shape)
        n_cols = shape[col]
        n_rows = math.prod(shape) // n_cols
        q = _orthogonal_matrix(key, n_rows, n_cols, dt)
        q = xnp.reshape(q, tuple(d for i, d in enumerate(shape) if i != col) + (n_cols,))
        q = xnp.moveaxis(q, -1, col)
        return _scalar(scale, dt) * q
    return init


def delta_orthogonal(scale: Any = 1.0, column_axis: int = -1,
                     dtype: DTypeLike | None = None) -> Initializer:
    """Builds an initializer of delta-orthogonal convolution kernels (3D/4D/5D shapes
    ``spatial... + (fan_in, fan_out)``, ``fan_in <= fan_out``): zeros except the spatial centre,
    which holds ``orthogonal(scale, column_axis)`` of shape ``(fan_in, fan_out)``, drawn with
    the same key (as ``jax.nn.initializers.delta_orthogonal``)."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "delta_orthogonal")
        shape = _shape(shape, "delta_orthogonal")
        dt = _inexact_dtype(dtype, "delta_orthogonal")
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape, got "
                             f"{shape}")
        if shape[-1] < shape[-2]:
            raise ValueError(f"delta_orthogonal: fan_in {shape[-2]} must be less than or equal "
                             f"to fan_out {shape[-1]}")
        ortho = orthogonal(scale, column_axis, dt)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return xnp.zeros(shape, dt).at[centre].set(ortho)
    return init


__all__ = [
    "Initializer", "constant", "delta_orthogonal", "glorot_normal", "glorot_uniform",
    "he_normal", "he_uniform",
    "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform", "normal", "ones",
    "orthogonal", "truncated_normal", "uniform", "variance_scaling", "xavier_normal",
    "xavier_uniform", "zeros",
]

