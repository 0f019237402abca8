"""The rest of ``jax.random``'s samplers, built on ``random.py``'s keys and draws.

Each sampler follows JAX 0.10.2's algorithm step by step (same key splits, same draws, same
operations in the same order), so that the same key gives JAX's numbers:

* transforms of one or two uniform/normal/exponential draws (cauchy, lognormal, maxwell,
  double_sided_maxwell, pareto, rayleigh, triangular, wald, weibull_min, geometric) and
  ``multivariate_normal`` (a factor of ``cov`` times normal draws);
* gamma by Marsaglia-Tsang rejection, one key and one ``while_loop`` per element (vmapped, as
  JAX lowers it), differentiable in ``a`` by implicit reparameterization (the derivative of
  the sample through the regularized incomplete gamma function, JAX's
  ``random_gamma_grad``); loggamma, beta, dirichlet, chisquare, f, t, generalized_normal and
  ball are built on it;
* poisson (Knuth below rate 10, Hormann's transformed rejection above) and binomial
  (inversion below ``n * p = 10``, BTRS above), whole-array rejection loops; multinomial is a
  scan of binomials.

``orthogonal`` needs the Q factor of a QR decomposition, which xtrace lacks: it is computed
by Gram-Schmidt (twice, for orthogonality to rounding) and sign-fixed as JAX does, which is the
same matrix (the QR factor whose R has a positive diagonal), equal to JAX's up to rounding.
"""
from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from xtrace._src import dtypes, lax, lax_special
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.random import (
    _Sampler, _bcast, _canon_shape, _check_key, _check_shape, _const, _derive_split,
    _exponential_impl, _float_dtype, _is_array, _normal_impl, _normal_plan,
    _normal_real, _one_draw, _rademacher_impl, _subkeys2, _uniform_impl, _xnp)

# ---------------------------------------------------------------------------------------------
# Argument helpers


def _param(x: Any) -> Any:
    """A distribution parameter as given (lists become NumPy arrays)."""
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


def _pshape(x: Any) -> tuple[int, ...]:
    return tuple(get_aval(x).shape)


def _out_shape(name: str, shape: Any, *params: Any) -> tuple[int, ...]:
    """JAX's ``_check_broadcast_shapes``: ``shape`` (checked against the parameters), or the
    parameters' broadcast shape when it is None."""
    shapes = [_pshape(p) for p in params]
    if shape is None:
        try:
            return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
        except ValueError:
            raise ValueError(f"{name}: parameter shapes {shapes} do not broadcast together"
                             ) from None
    shape = _canon_shape(shape, name)
    _check_shape(name, shape, *shapes)
    return shape


def _check_castable(name: str, dtype: np.dtype, *params: Any) -> None:
    """JAX's ``_check_all_safe_to_cast``: each parameter must promote to ``dtype`` (JAX raises
    TypePromotionError, a ValueError)."""
    for p in params:
        av = get_aval(p)
        if dtypes.promote_types_weak((av.dtype, av.weak_type), (dtype, False))[0] != dtype:
            raise ValueError(f"In arguments to {name}, cannot safely cast argument of type "
                             f"{av.dtype} to {dtype}")


def _full(shape: tuple[int, ...], value: Any, dtype: np.dtype) -> Any:
    return lax.broadcast_in_dim(_const(value, dtype), tuple(shape), ())


def _full_like(x: Any, value: Any) -> Any:
    av = get_aval(x)
    return _full(av.shape, value, av.dtype)


def _split_rows(key: Any, n: int) -> list:
    sp = _derive_split(key, (n,))
    return [lax.index_in_dim(sp, i, 0, False) for i in range(n)]


def _as(x: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    return _bcast(lax.convert_element_type(x, dtype), shape)


def _uniform01(key, shape, dtype):
    return _uniform_impl(key, _const(0., dtype), _const(1., dtype), shape, dtype)


def _float_sampler_dtype(dtype: Any, name: str, *params: Any) -> np.dtype:
    dt = _float_dtype(dtype, name)
    _check_castable(name, dt, *params)
    return dt


# ---------------------------------------------------------------------------------------------
# Transforms of uniform and normal draws


def _cauchy_impl(key, shape, dtype):
    u = _uniform_impl(key, _const(dtypes.finfo(dtype).eps, dtype), _const(1., dtype), shape,
                      dtype)
    return lax.tan(lax.mul(_const(np.pi, dtype), lax.sub(u, _const(0.5, dtype))))


_CAUCHY = _Sampler(_cauchy_impl, (1, 2), _one_draw(1))


def cauchy(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard Cauchy values: ``tan(pi * (u - 1/2))`` for uniform ``u`` in ``[eps, 1)``."""
    key = _check_key("cauchy", key)
    return _CAUCHY(key, _canon_shape(shape, "cauchy"), _float_dtype(dtype, "cauchy"))


def _lognormal_impl(key, sigma, shape, dtype):
    sigma = lax.convert_element_type(sigma, dtype)
    return lax.exp(lax.mul(_normal_impl(key, shape, dtype), _bcast(sigma, shape)))


_LOGNORMAL = _Sampler(_lognormal_impl, (2, 3),
                      lambda key, sigma, shape, dtype: _normal_plan(key, shape, dtype))


def lognormal(key: Any, sigma: Any = np.float32(1.), shape: Sequence[int] | None = None,
              dtype: Any = None) -> Array:
    """Log-normal values ``exp(sigma * normal)`` (float or complex ``dtype``)."""
    key = _check_key("lognormal", key)
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_inexact(dt):
        raise ValueError(f"dtype argument to `lognormal` must be a float or complex dtype, "
                         f"got {dt}")
    sigma = _param(sigma)
    _check_castable("lognormal", dt, sigma)
    return _LOGNORMAL(key, sigma, _out_shape("lognormal", shape, sigma), dt)


def _norm_last(x):
    """The 2-norm over the last axis, as ``jnp.linalg.norm``: 16-bit floats square in their
    dtype and sum in float32 (JAX's upcast), so the rounding matches bit for bit."""
    aval = get_aval(x)
    sq = lax.mul(x, x)
    if aval.dtype.itemsize < 4:
        total = lax.reduce_sum(lax.convert_element_type(sq, np.float32), (aval.ndim - 1,))
        return lax.sqrt(lax.convert_element_type(total, aval.dtype))
    return lax.sqrt(lax.reduce_sum(sq, (aval.ndim - 1,)))


def _maxwell_impl(key, shape, dtype):
    return _norm_last(_normal_real(key, shape + (3,), dtype))


_MAXWELL = _Sampler(_maxwell_impl, (1, 2), lambda key, shape, dtype: [(key, shape + (3,))])


def maxwell(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Maxwell values: the norm of three independent standard normals."""
    key = _check_key("maxwell", key)
    return _MAXWELL(key, _canon_shape(shape, "maxwell"), _float_dtype(dtype, "maxwell"))


def _double_sided_maxwell_impl(key, loc, scale, shape, dtype):
    xnp = _xnp()
    k_maxwell, k_sign = _split_rows(key, 2)
    rvs = _maxwell_impl(k_maxwell, shape, dtype)
    sign = _rademacher_impl(k_sign, shape, dtype)
    return xnp.add(xnp.multiply(xnp.multiply(sign, rvs), scale), loc)


_DOUBLE_SIDED_MAXWELL = _Sampler(
    _double_sided_maxwell_impl, (3, 4), lambda key, loc, scale, shape, dtype: [
        (k, s) for k, s in zip(_subkeys2(key), (shape + (3,), shape))])


def double_sided_maxwell(key: Any, loc: Any, scale: Any, shape: Sequence[int] = (),
                         dtype: Any = None) -> Array:
    """Double-sided Maxwell values ``sign * maxwell * scale + loc``. As in JAX the result shape
    is ``shape + broadcast(loc, scale).shape`` (``shape`` defaulting to the latter)."""
    key = _check_key("double_sided_maxwell", key)
    dt = _float_dtype(dtype, "double_sided_maxwell")
    shape = _canon_shape(shape, "double_sided_maxwell")
    loc, scale = _param(loc), _param(scale)
    pshape = tuple(np.broadcast_shapes(_pshape(loc), _pshape(scale)))
    shape = (shape or pshape) + pshape
    return _DOUBLE_SIDED_MAXWELL(key, loc, scale, shape, dt)


def _pareto_impl(key, b, shape, dtype):
    b = _as(b, dtype, shape)
    return lax.exp(lax.div(_exponential_impl(key, shape, dtype), b))


_PARETO = _Sampler(_pareto_impl, (2, 3), _one_draw(2))


def pareto(key: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Array:
    """Pareto values with shape parameter ``b`` (support ``[1, inf)``): ``exp(exponential / b)``."""
    key = _check_key("pareto", key)
    b = _param(b)
    dt = _float_sampler_dtype(dtype, "pareto", b)
    return _PARETO(key, b, _out_shape("pareto", shape, b), dt)


def _rayleigh_impl(key, scale, shape, dtype):
    u = _uniform01(key, shape, dtype)
    scale = _as(scale, dtype, shape)
    return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), _const(-2, dtype))))


_RAYLEIGH = _Sampler(_rayleigh_impl, (2, 3), _one_draw(2))


def rayleigh(key: Any, scale: Any, shape: Sequence[int] | None = None, dtype: Any = None
             ) -> Array:
    """Rayleigh values ``scale * sqrt(-2 log u)``."""
    key = _check_key("rayleigh", key)
    scale = _param(scale)
    dt = _float_sampler_dtype(dtype, "rayleigh", scale)
    return _RAYLEIGH(key, scale, _out_shape("rayleigh", shape, scale), dt)


def _triangular_impl(key, left, mode, right, shape, dtype):
    left, mode, right = (_as(x, dtype, shape) for x in (left, mode, right))
    width = lax.sub(right, left)
    fc = lax.div(lax.sub(mode, left), width)
    u = _uniform01(key, shape, dtype)
    out1 = lax.add(left, lax.sqrt(lax.mul(lax.mul(u, width), lax.sub(mode, left))))
    out2 = lax.sub(right, lax.sqrt(lax.mul(lax.mul(lax.sub(_const(1, dtype), u), width),
                                           lax.sub(right, mode))))
    return lax.select(lax.lt(u, fc), out1, out2)


_TRIANGULAR = _Sampler(_triangular_impl, (4, 5), _one_draw(4))


def triangular(key: Any, left: Any, mode: Any, right: Any,
               shape: Sequence[int] | None = None, dtype: Any = None) -> Array:
    """Triangular values on ``[left, right]`` with peak at ``mode`` (inverse CDF)."""
    key = _check_key("triangular", key)
    left, mode, right = _param(left), _param(mode), _param(right)
    dt = _float_sampler_dtype(dtype, "triangular", left, mode, right)
    return _TRIANGULAR(key, left, mode, right,
                       _out_shape("triangular", shape, left, mode, right), dt)


def _wald_impl(key, mean, shape, dtype):
    k1, k2 = _split_rows(key, 2)
    mean = _as(mean, dtype, shape)
    v = _normal_real(k1, shape, dtype)
    z = _uniform01(k2, shape, dtype)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    c = functools.partial(_const, dtype=dtype)
    sqrt_term = lax.sqrt(lax.add(lax.mul(lax.mul(c(4), mean), y), lax.mul(mean_sq, y_sq)))
    x = lax.sub(lax.add(mean, lax.div(lax.mul(mean_sq, y), c(2))),
                lax.mul(lax.div(mean, c(2)), sqrt_term))
    return lax.select(lax.le(z, lax.div(mean, lax.add(mean, x))), x, lax.div(mean_sq, x))


_WALD = _Sampler(_wald_impl, (2, 3), lambda key, mean, shape, dtype: [
    (k, shape) for k in _subkeys2(key)])


def wald(key: Any, mean: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Array:
    """Wald (inverse Gaussian, scale 1) values with the given ``mean``."""
    key = _check_key("wald", key)
    mean = _param(mean)
    dt = _float_sampler_dtype(dtype, "wald", mean)
    return _WALD(key, mean, _out_shape("wald", shape, mean), dt)


def _weibull_min_impl(key, scale, concentration, shape, dtype):
    xnp = _xnp()
    u = _uniform01(key, shape, dtype)
    return xnp.multiply(xnp.power(lax.neg(lax.log1p(lax.neg(u))),
                                  xnp.divide(1.0, concentration)), scale)


_WEIBULL_MIN = _Sampler(_weibull_min_impl, (3, 4), _one_draw(3))


def weibull_min(key: Any, scale: Any, concentration: Any, shape: Sequence[int] = (),
                dtype: Any = None) -> Array:
    """Weibull values ``(-log1p(-u)) ** (1 / concentration) * scale``; as in JAX the
    parameters broadcast with ``shape`` (NumPy rules)."""
    key = _check_key("weibull_min", key)
    dt = _float_dtype(dtype, "weibull_min")
    return _WEIBULL_MIN(key, _param(scale), _param(concentration),
                        _canon_shape(shape, "weibull_min"), dt)


def _geometric_impl(key, p, shape, dtype):
    u = _uniform01(key, shape, get_aval(p).dtype)
    pdt = get_aval(p).dtype
    u = lax.select(lax.eq(u, _const(0, pdt)), lax.broadcast_in_dim(_const(1, pdt), shape, ()),
                   u)
    log_1mp = _bcast(lax.log1p(lax.neg(p)), shape)
    g = lax.add(lax.floor(lax.div(lax.log(u), log_1mp)), _const(1, pdt))
    return lax.convert_element_type(g, dtype)


_GEOMETRIC = _Sampler(_geometric_impl, (2, 3), _one_draw(2))


def _inexact_array(x: Any) -> Any:
    """JAX's ``promote_dtypes_inexact`` for one operand (weak types dropped)."""
    x = _xnp().asarray(x)
    dt = x.dtype if dtypes.is_inexact(x.dtype) else dtypes.default_float()
    return lax.convert_element_type(x, dt)


def geometric(key: Any, p: Any, shape: Sequence[int] | None = None, dtype: Any = None
              ) -> Array:
    """Geometric values (trials up to the first success, >= 1) with success probability ``p``:
    ``floor(log u / log1p(-p)) + 1``."""
    key = _check_key("geometric", key)
    dt = dtypes.default_int() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_int(dt):
        raise ValueError(f"dtype argument to `geometric` must be an int dtype, got {dt}")
    p = _param(p)
    shape = _out_shape("geometric", shape, p)
    return _GEOMETRIC(key, _inexact_array(p), shape, dt)


# ---------------------------------------------------------------------------------------------
# multivariate_normal, orthogonal


def _cholesky(a: Any) -> Any:
    """Lower Cholesky factor of a stack of symmetric positive definite matrices (column by
    column, Cholesky-Crout); NaN where ``a`` is not positive definite."""
    xnp = _xnp()
    n = a.shape[-1]
    cols = []
    for j in range(n):
        v = a[..., :, j]
        if j:
            prev = xnp.stack(cols, axis=-1)  # (..., n, j)
            v = v - xnp.sum(prev * prev[..., j:j + 1, :], axis=-1)
        d = xnp.sqrt(v[..., j:j + 1])
        cols.append(xnp.where(xnp.arange(n) >= j, v / d, 0))
    return xnp.stack(cols, axis=-1)


def _mvn_impl(key, mean, cov, shape, dtype, method):
    xnp = _xnp()
    if method == "svd":
        u, s, _ = xnp.linalg.svd(cov)
        factor = u * xnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = xnp.linalg.eigh(cov, symmetrize_input=True)
        factor = v * xnp.sqrt(w[..., None, :])
    else:
        chol = getattr(xnp.linalg, "cholesky", None)
        factor = chol(cov) if chol is not None else _cholesky(cov)
    z = _normal_impl(key, shape + mean.shape[-1:], dtype)
    return mean + xnp.einsum("...ij,...j->...i", factor, z)


def multivariate_normal(key: Any, mean: Any, cov: Any, shape: Sequence[int] | None = None,
                        dtype: Any = None, method: str = "cholesky") -> Array:
    """Multivariate normal values ``mean + factor @ normal`` with ``factor @ factor.T == cov``
    (``method``: 'cholesky', or 'eigh'/'svd' which also accept singular ``cov``). Result shape
    ``shape + mean.shape[-1:]`` (``shape`` defaults to the broadcast batch shape of ``mean``
    and ``cov``)."""
    key = _check_key("multivariate_normal", key)
    xnp = _xnp()
    mean, cov = _param(mean), _param(cov)
    mdt = dtypes.promote_types(*(get_aval(x).dtype for x in (mean, cov)))
    if not dtypes.is_inexact(mdt):
        mdt = dtypes.default_float()
    mean, cov = xnp.asarray(mean, dtype=mdt), xnp.asarray(cov, dtype=mdt)
    if method not in {"svd", "eigh", "cholesky"}:
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    dt = mdt if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_float(dt):
        raise ValueError(f"dtype argument to `multivariate_normal` must be a float dtype, "
                         f"got {dt}")
    if mean.ndim < 1:
        raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == "
                         f"{mean.ndim}")
    if cov.ndim < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == "
                         f"{cov.ndim}")
    n = mean.shape[-1]
    if cov.shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, "
                         f"but got cov.shape == {cov.shape}.")
    if shape is None:
        shape = tuple(np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2]))
    else:
        shape = _canon_shape(shape, "multivariate_normal")
        _check_shape("normal", shape, mean.shape[:-1], cov.shape[:-2])
    return _MVN(key, mean, cov, shape, dt, method)


_MVN = _Sampler(_mvn_impl, (3, 4, 5),
                lambda key, mean, cov, shape, dtype, method: [(key, shape + mean.shape[-1:])])


def _gram_schmidt(z: Any) -> Any:
    """Orthonormalize the columns of ``z`` (..., n, k), k <= n, in order: the Q of the QR
    decomposition whose R has a positive diagonal. Two passes keep Q orthogonal to rounding."""
    xnp = _xnp()
    k = z.shape[-1]
    cols = []
    for j in range(k):
        v = z[..., :, j]
        for _ in range(2):
            for q in cols:
                v = v - xnp.sum(xnp.conj(q) * v, axis=-1, keepdims=True) * q
        cols.append(v / xnp.sqrt(xnp.sum(xnp.real(xnp.conj(v) * v), axis=-1,
                                         keepdims=True)).astype(v.dtype))
    return xnp.stack(cols, axis=-1)


def _orthogonal_impl(key, n, m, shape, dtype):
    x = _gram_schmidt(_normal_impl(key, (*shape, max(n, m), min(n, m)), dtype))
    return _xnp().swapaxes(x, -1, -2) if n < m else x


_ORTHOGONAL = _Sampler(_orthogonal_impl, (1, 2, 3, 4), lambda key, n, m, shape, dtype:
                       _normal_plan(key, (*shape, max(n, m), min(n, m)), dtype))


def _static_index(x: Any, what: str) -> int:
    if _is_array(x) and not isinstance(x, Array):
        raise TypeError(f"{what} must be a concrete integer, not a traced value")
    if isinstance(x, Array):
        x = np.asarray(x)
    return operator.index(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x)


def orthogonal(key: Any, n: int, shape: Sequence[int] = (), dtype: Any = None,
               m: int | None = None) -> Array:
    """Haar-random orthogonal (unitary for complex ``dtype``) ``n x m`` matrices, shape
    ``(*shape, n, m)``; semi-orthogonal when ``n != m``. JAX takes Q of the QR decomposition of
    a normal matrix with R's diagonal made positive; xtrace computes that same Q by
    Gram-Schmidt (no QR yet), so values agree with JAX's to rounding."""
    key = _check_key("orthogonal", key)
    shape = _canon_shape(shape, "orthogonal")
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_inexact(dt):
        raise ValueError(f"dtype argument to `orthogonal` must be a float or complex dtype, "
                         f"got {dt}")
    n = _static_index(n, "orthogonal: n")
    m = n if m is None else _static_index(m, "orthogonal: m")
    return _ORTHOGONAL(key, n, m, shape, dt)


# ---------------------------------------------------------------------------------------------
# Gamma: Marsaglia-Tsang, one element at a time (vmapped), with implicit reparameterization


def _gamma_one(key, alpha, log_space):
    dt = get_aval(alpha).dtype
    c = functools.partial(_const, dtype=dt)
    boost_mask = lax.ge(alpha, c(1))
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, c(1)))
    d = lax.sub(alpha, c(1 / 3))
    cc = lax.div(c(1 / 3), lax.sqrt(d))

    def cond(state):
        _, x2, v3, u = state
        squeeze = lax.ge(u, lax.sub(c(1), lax.mul(c(0.0331), lax.mul(x2, x2))))
        log_test = lax.ge(lax.log(u), lax.add(lax.mul(x2, c(0.5)), lax.mul(
            d, lax.add(lax.sub(c(1), v3), lax.log(v3)))))
        return lax.bitwise_and(squeeze, log_test)

    def next_x(state):
        k, sub = _split_rows(state[0], 2)
        x = _normal_real(sub, (), dt)
        return k, x, lax.add(c(1), lax.mul(x, cc))

    def body(state):
        k, x_key, u_key = _split_rows(state[0], 3)
        _, x, v = lax.while_loop(lambda s: lax.le(s[2], c(0)), next_x, (x_key, c(0), c(-1)))
        u = _uniform01(u_key, (), dt)
        return k, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

    key, subkey = _split_rows(key, 2)
    _, _, v3, _ = lax.while_loop(cond, body, (key, c(0), c(1), c(2)))
    if log_space:
        log_samples = lax.neg(_exponential_impl(subkey, (), dt))
        log_boost = lax.select(lax.bitwise_or(boost_mask, lax.eq(log_samples, c(0))), c(0),
                               lax.mul(log_samples, lax.div(c(1), alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v3)), log_boost)
    samples = lax.sub(c(1), _uniform01(subkey, (), dt))
    boost = lax.select(boost_mask, c(1), lax.pow(samples, lax.div(c(1), alpha_orig)))
    return lax.mul(lax.mul(d, v3), boost)


def _gamma_samples(key, a, log_space):
    from xtrace._src.api import vmap
    shape = get_aval(a).shape
    n = math.prod(shape)
    if n == 0:
        return a
    keys = _derive_split(key, (n,))
    out = vmap(functools.partial(_gamma_one, log_space=log_space))(keys, lax.reshape(a, (n,)))
    return lax.reshape(out, shape)


def _any(pred):
    nd = get_aval(pred).ndim
    return lax.reduce_or(pred, tuple(range(nd))) if nd else pred


def _gamma_grad(sample, a, log_space):
    if not log_space:
        return lax_special.random_gamma_grad(a, sample)
    dt = get_aval(a).dtype
    s = lax.exp(sample)
    s = lax.select(lax.eq(s, _const(0, dt)), _full_like(s, dtypes.finfo(dt).tiny), s)
    return lax.div(lax_special.random_gamma_grad(a, s), s)


def _make_random_gamma(log_space: bool):
    from xtrace._src.custom_derivatives import custom_jvp

    def random_gamma(key, a):
        return _gamma_samples(key, a, log_space)

    random_gamma = custom_jvp(random_gamma)

    @random_gamma.defjvp
    def _jvp(primals, tangents):
        key, a = primals
        ans = _gamma_samples(key, a, log_space)
        return ans, lax.mul(tangents[1], _gamma_grad(ans, a, log_space))

    return random_gamma


_RANDOM_GAMMA = {False: _make_random_gamma(False), True: _make_random_gamma(True)}


def _gamma_impl(key, a, shape, dtype, log_space):
    return _RANDOM_GAMMA[log_space](key, _as(a, dtype, shape))


_GAMMA = _Sampler(_gamma_impl, (2, 3, 4), None)


def _gamma_args(name: str, a: Any, shape: Any, dtype: Any) -> tuple:
    dt = _float_dtype(dtype, "gamma")
    a = _param(a)
    return a, (_pshape(a) if shape is None else _out_shape(name, shape, a)), dt


def gamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Array:
    """Standard Gamma(``a``) values (unit scale), by Marsaglia-Tsang rejection with one key
    per element (JAX's algorithm and streams). Differentiable in ``a`` (implicit
    reparameterization, JAX's gradient)."""
    key = _check_key("gamma", key)
    return _GAMMA(key, *_gamma_args("gamma", a, shape, dtype), False)


def loggamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None
             ) -> Array:
    """``log`` of Gamma(``a``) values, computed in log space (accurate for small ``a``);
    ``exp(loggamma(...))`` matches ``gamma(...)`` to rounding."""
    key = _check_key("loggamma", key)
    return _GAMMA(key, *_gamma_args("gamma", a, shape, dtype), True)


def _beta_impl(key, a, b, shape, dtype):
    ka, kb = _split_rows(key, 2)
    lga = _gamma_impl(ka, a, shape, dtype, True)
    lgb = _gamma_impl(kb, b, shape, dtype, True)
    log_max = lax.max(lga, lgb)
    ga, gb = lax.exp(lax.sub(lga, log_max)), lax.exp(lax.sub(lgb, log_max))
    return lax.div(ga, lax.add(ga, gb))


_BETA = _Sampler(_beta_impl, (3, 4), None)


def beta(key: Any, a: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None
         ) -> Array:
    """Beta(``a``, ``b``) values as ``G_a / (G_a + G_b)`` of two log-space gamma draws."""
    key = _check_key("beta", key)
    a, b = _param(a), _param(b)
    dt = _float_sampler_dtype(dtype, "beta", a, b)
    return _BETA(key, a, b, _out_shape("beta", shape, a, b), dt)


def _dirichlet_impl(key, alpha, shape, dtype):
    full = shape + get_aval(alpha).shape[-1:]
    lg = _gamma_impl(key, alpha, full, dtype, True)
    nd = len(full)
    lg_max = lax.max(lax.reduce_max(lg, (nd - 1,)), _const(-np.inf, dtype))
    e = lax.exp(lax.sub(lg, lax.broadcast_in_dim(lg_max, full, tuple(range(nd - 1)))))
    total = lax.reduce_sum(e, (nd - 1,))
    return lax.div(e, lax.broadcast_in_dim(total, full, tuple(range(nd - 1))))


_DIRICHLET = _Sampler(_dirichlet_impl, (2, 3), None)


def dirichlet(key: Any, alpha: Any, shape: Sequence[int] | None = None, dtype: Any = None
              ) -> Array:
    """Dirichlet(``alpha``) values (``alpha`` of shape ``(..., n)``): the softmax of log-gamma
    draws. Result shape ``shape + alpha.shape[-1:]`` (``shape`` defaults to
    ``alpha.shape[:-1]``)."""
    key = _check_key("dirichlet", key)
    dt = _float_dtype(dtype, "dirichlet")
    alpha = _param(alpha)
    ashape = _pshape(alpha)
    if len(ashape) < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == "
                         f"{len(ashape)}")
    if shape is None:
        shape = ashape[:-1]
    else:
        shape = _canon_shape(shape, "dirichlet")
        _check_shape("dirichlet", shape, ashape[:-1])
    return _DIRICHLET(key, alpha, shape, dt)


def _chisquare_impl(key, df, shape, dtype):
    half = lax.div(lax.convert_element_type(df, dtype), _const(2, dtype))
    return lax.mul(lax.exp(_gamma_impl(key, half, shape, dtype, True)), _const(2, dtype))


_CHISQUARE = _Sampler(_chisquare_impl, (2, 3), None)


def chisquare(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None
              ) -> Array:
    """Chi-square values with ``df`` degrees of freedom: ``2 * exp(loggamma(df / 2))``."""
    key = _check_key("chisquare", key)
    df = _param(df)
    dt = _float_sampler_dtype(dtype, "chisquare", df)
    return _CHISQUARE(key, df, _out_shape("chisquare", shape, df), dt)


def _f_impl(key, dfnum, dfden, shape, dtype):
    dfden = _as(dfden, dtype, shape)
    dfnum = _as(dfnum, dtype, shape)
    k_den, k_num = _split_rows(key, 2)
    num = lax.div(_chisquare_impl(k_num, dfnum, shape, dtype), dfnum)
    den = lax.div(_chisquare_impl(k_den, dfden, shape, dtype), dfden)
    return lax.div(num, den)


_F = _Sampler(_f_impl, (3, 4), None)


def f(key: Any, dfnum: Any, dfden: Any, shape: Sequence[int] | None = None, dtype: Any = None
      ) -> Array:
    """F-distributed values: ``(chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)``."""
    key = _check_key("f", key)
    dfnum, dfden = _param(dfnum), _param(dfden)
    dt = _float_sampler_dtype(dtype, "f", dfnum, dfden)
    return _F(key, dfnum, dfden, _out_shape("f", shape, dfnum, dfden), dt)


def _t_impl(key, df, shape, dtype):
    df = _as(df, dtype, shape)
    k_n, k_g = _split_rows(key, 2)
    n = _normal_real(k_n, shape, dtype)
    half = lax.div(df, _const(2, dtype))
    g = _gamma_impl(k_g, half, shape, dtype, False)
    return lax.mul(n, lax.sqrt(lax.div(half, g)))


_T = _Sampler(_t_impl, (2, 3), None)


def t(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Array:
    """Student's t values with ``df`` degrees of freedom: ``normal * sqrt(df/2 / gamma(df/2))``."""
    key = _check_key("t", key)
    df = _param(df)
    dt = _float_sampler_dtype(dtype, "t", df)
    return _T(key, df, _out_shape("t", shape, df), dt)


def _generalized_normal_impl(key, p, shape, dtype):
    k_g, k_r = _split_rows(key, 2)
    inv_p = lax.div(_full_like(p, 1), p)
    g = _gamma_impl(k_g, inv_p, shape, dtype, False)
    r = _rademacher_impl(k_r, shape, dtype)
    return lax.mul(r, lax.pow(g, _bcast(lax.convert_element_type(inv_p, dtype), shape)))


_GENERALIZED_NORMAL = _Sampler(_generalized_normal_impl, (2, 3), None)


def _scalar_float(p: Any) -> Any:
    """``p`` as JAX's jit sees it: a Python number stays weakly typed."""
    if isinstance(p, (int, float, np.integer, np.floating)) and not _is_array(p):
        return float(p)
    return _inexact_array(p)


def generalized_normal(key: Any, p: float, shape: Sequence[int] = (), dtype: Any = None
                       ) -> Array:
    """Generalized normal values (density ∝ ``exp(-|x|**p)``): ``sign * gamma(1/p) ** (1/p)``."""
    key = _check_key("generalized_normal", key)
    shape = _canon_shape(shape, "generalized_normal")
    dt = _float_dtype(dtype, "generalized_normal")
    return _GENERALIZED_NORMAL(key, _scalar_float(p), shape, dt)


def _ball_impl(key, p, d, shape, dtype):
    k1, k2 = _split_rows(key, 2)
    g = _generalized_normal_impl(k1, p, (*shape, d), dtype)
    e = _exponential_impl(k2, shape, dtype)
    pd = lax.convert_element_type(p, dtype)
    nd = len(shape)
    s = lax.reduce_sum(lax.pow(lax.abs(g), _bcast(pd, (*shape, d))), (nd,))
    r = lax.pow(lax.add(s, e), _bcast(lax.div(_const(1, dtype), pd), shape))
    return lax.div(g, lax.broadcast_in_dim(r, (*shape, d), tuple(range(nd))))


_BALL = _Sampler(_ball_impl, (2, 3, 4), None)


def ball(key: Any, d: int, p: float = 2, shape: Sequence[int] = (), dtype: Any = None
         ) -> Array:
    """Points uniformly distributed in the unit ``p``-norm ball of dimension ``d``, shape
    ``(*shape, d)`` (generalized normals scaled by an exponential draw)."""
    key = _check_key("ball", key)
    shape = _canon_shape(shape, "ball")
    dt = _float_dtype(dtype, "ball")
    d = _static_index(d, "ball: d")
    return _BALL(key, _scalar_float(p), d, shape, dt)


# ---------------------------------------------------------------------------------------------
# Poisson, binomial, multinomial: whole-array rejection loops


def _poisson_knuth(key, lam, shape, dtype):
    f32 = dtypes.float32

    def body(carry):
        k, rng, log_prod = carry
        rng, sub = _split_rows(rng, 2)
        k = lax.select(lax.gt(log_prod, lax.neg(lam)), lax.add(k, _const(1, dtype)), k)
        u = _uniform01(sub, shape, f32)
        return k, rng, lax.add(log_prod, lax.log(u))

    def cond(carry):
        return _any(lax.gt(carry[2], lax.neg(lam)))

    init = (_full(shape, 0, dtype), key, _full(shape, 0, f32))
    k = lax.while_loop(cond, body, init)[0]
    return lax.sub(k, _const(1, dtype))


def _poisson_rejection(key, lam, shape, dtype):
    dt = get_aval(lam).dtype
    c = functools.partial(_const, dtype=dt)
    log_lam = lax.log(lam)
    b = lax.add(c(0.931), lax.mul(c(2.53), lax.sqrt(lam)))
    a = lax.add(c(-0.059), lax.mul(c(0.02483), b))
    inv_alpha = lax.add(c(1.1239), lax.div(c(1.1328), lax.sub(b, c(3.4))))
    v_r = lax.sub(c(0.9277), lax.div(c(3.6224), lax.sub(b, c(2))))

    def body(carry):
        k_out, accepted, key = carry
        key, k0, k1 = _split_rows(key, 3)
        u = lax.sub(_uniform01(k0, shape, dt), c(0.5))
        v = _uniform01(k1, shape, dt)
        us = lax.sub(c(0.5), lax.abs(u))
        k = lax.floor(lax.add(lax.add(lax.mul(lax.add(lax.div(lax.mul(c(2), a), us), b), u),
                                      lam), c(0.43)))
        s = lax.log(lax.div(lax.mul(v, inv_alpha), lax.add(lax.div(a, lax.mul(us, us)), b)))
        tt = lax.sub(lax.add(lax.neg(lam), lax.mul(k, log_lam)),
                     lax.lgamma(lax.add(k, c(1))))
        accept1 = lax.bitwise_and(lax.ge(us, c(0.07)), lax.le(v, v_r))
        reject = lax.bitwise_or(lax.lt(k, c(0)), lax.bitwise_and(lax.lt(us, c(0.013)),
                                                                 lax.gt(v, us)))
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject),
                                                         lax.le(s, tt)))
        return lax.select(accept, k, k_out), lax.bitwise_or(accepted, accept), key

    init = (_full(shape, -1, dt), _full(shape, False, np.dtype(bool)), key)
    k = lax.while_loop(lambda carry: _any(lax.bitwise_not(carry[1])), body, init)[0]
    return lax.convert_element_type(k, dtype)


def _poisson_impl(key, lam, shape, dtype):
    lam = _as(lam, dtypes.float32, shape)
    use_knuth = lax.bitwise_or(lax.ne(lam, lam), lax.lt(lam, _const(10, lam.dtype)))
    lam_knuth = lax.select(use_knuth, lam, _full_like(lam, 0.0))
    lam_rej = lax.select(use_knuth, _full_like(lam, 1e5), lam)
    result = lax.select(use_knuth, _poisson_knuth(key, lam_knuth, shape, dtype),
                        _poisson_rejection(key, lam_rej, shape, dtype))
    return lax.select(lax.eq(lam, _const(0, lam.dtype)), _full_like(result, 0), result)


_POISSON = _Sampler(_poisson_impl, (2, 3), None)


def poisson(key: Any, lam: Any, shape: Sequence[int] | None = None, dtype: Any = None
            ) -> Array:
    """Poisson(``lam``) counts (integer ``dtype``): Knuth's product of uniforms for
    ``lam < 10``, Hormann's transformed rejection otherwise (computed in float32, as JAX)."""
    key = _check_key("poisson", key)
    dt = dtypes.default_int() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_int(dt):
        raise ValueError(f"dtype argument to `poisson` must be an integer dtype, got {dt}")
    lam = _param(lam)
    shape = _pshape(lam) if shape is None else _canon_shape(shape, "poisson")
    _check_shape("poisson", shape, _pshape(lam))
    return _POISSON(key, lam, shape, dt)


_STIRLING_TAIL = np.array([
    0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509,
    0.0166446911898211, 0.0138761288230707, 0.0118967099458917, 0.0104112652619720,
    0.00925546218271273, 0.00833056343336287])


def _stirling_approx_tail(k):
    xnp = _xnp()
    dt = get_aval(k).dtype
    c = functools.partial(_const, dtype=dt)
    use_table = lax.le(k, c(9))
    k = lax.clamp(c(0), k, c(9))
    kp1sq = lax.mul(lax.add(k, c(1)), lax.add(k, c(1)))
    approx = lax.div(lax.sub(c(1.0 / 12), lax.div(lax.sub(c(1.0 / 360), lax.div(
        c(1.0 / 1260), kp1sq)), kp1sq)), lax.add(k, c(1)))
    table = xnp.asarray(_STIRLING_TAIL.astype(dt))[
        lax.convert_element_type(lax.floor(k), dtypes.int32)]
    return lax.select(use_table, table, approx)


def _binomial_inversion(key, count, prob, shape):
    dt = get_aval(prob).dtype
    c = functools.partial(_const, dtype=dt)
    log1mp = lax.log1p(lax.neg(prob))

    def body(carry):
        num_geom, geom_sum, key = carry
        sub, key = _split_rows(key, 2)
        num_geom = lax.select(lax.le(geom_sum, count), lax.add(num_geom, c(1)), num_geom)
        u = _uniform01(sub, shape, dt)
        geom = lax.ceil(lax.div(lax.log(u), log1mp))
        return num_geom, lax.add(geom_sum, geom), key

    init = (_full(shape, 0, dt), _full(shape, 0, dt), key)
    k = lax.while_loop(lambda carry: _any(lax.le(carry[1], count)), body, init)[0]
    return lax.sub(k, c(1))


def _btrs(key, count, prob, shape):
    dt = get_aval(prob).dtype
    c = functools.partial(_const, dtype=dt)
    stddev = lax.sqrt(lax.mul(lax.mul(count, prob), lax.sub(c(1), prob)))
    b = lax.add(c(1.15), lax.mul(c(2.53), stddev))
    a = lax.add(lax.add(c(-0.0873), lax.mul(c(0.0248), b)), lax.mul(c(0.01), prob))
    cc = lax.add(lax.mul(count, prob), c(0.5))
    v_r = lax.sub(c(0.92), lax.div(c(4.2), b))
    r = lax.div(prob, lax.sub(c(1), prob))
    alpha = lax.mul(lax.add(c(2.83), lax.div(c(5.1), b)), stddev)
    m = lax.floor(lax.mul(lax.add(count, c(1)), prob))
    log = lax.log
    tail = _stirling_approx_tail

    def body(carry):
        k_out, accepted, key = carry
        key, k0, k1 = _split_rows(key, 3)
        u = _uniform01(k0, shape, dt)
        v = _uniform01(k1, shape, dt)
        u = lax.sub(u, c(0.5))
        us = lax.sub(c(0.5), lax.abs(u))
        accept1 = lax.bitwise_and(lax.ge(us, c(0.07)), lax.le(v, v_r))
        k = lax.floor(lax.add(lax.mul(lax.add(lax.div(lax.mul(c(2), a), us), b), u), cc))
        reject = lax.bitwise_or(lax.lt(k, c(0)), lax.gt(k, count))
        v = log(lax.div(lax.mul(v, alpha), lax.add(lax.div(a, lax.mul(us, us)), b)))
        n_m1 = lax.add(lax.sub(count, m), c(1))
        n_k1 = lax.add(lax.sub(count, k), c(1))
        ub = lax.mul(lax.add(m, c(0.5)), log(lax.div(lax.add(m, c(1)), lax.mul(r, n_m1))))
        ub = lax.add(ub, lax.mul(lax.add(count, c(1)), log(lax.div(n_m1, n_k1))))
        ub = lax.add(ub, lax.mul(lax.add(k, c(0.5)),
                                 log(lax.div(lax.mul(r, n_k1), lax.add(k, c(1))))))
        ub = lax.add(ub, tail(m))
        ub = lax.add(ub, tail(lax.sub(count, m)))
        ub = lax.sub(ub, tail(k))
        ub = lax.sub(ub, tail(lax.sub(count, k)))
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject),
                                                         lax.le(v, ub)))
        return lax.select(accept, k, k_out), lax.bitwise_or(accepted, accept), key

    init = (_full(shape, -1, dt), _full(shape, False, np.dtype(bool)), key)
    return lax.while_loop(lambda carry: _any(lax.bitwise_not(carry[1])), body, init)[0]


def _binomial_impl(key, count, prob, shape, dtype):
    pdt = get_aval(prob).dtype
    c = functools.partial(_const, dtype=pdt)
    count = _as(count, pdt, shape)
    prob = _bcast(prob, shape)
    p_lt_half = lax.lt(prob, c(0.5))
    q = lax.select(p_lt_half, prob, lax.sub(c(1.0), prob))
    count_nan_or_neg = lax.bitwise_or(lax.ne(count, count), lax.lt(count, c(0.0)))
    count_inf = lax.eq(lax.abs(count), c(np.inf))
    q_is_nan = lax.ne(q, q)
    q_l_0 = lax.lt(q, c(0.0))
    q = lax.select(lax.bitwise_or(q_is_nan, q_l_0), _full_like(q, 0.01), q)
    use_inversion = lax.bitwise_or(count_nan_or_neg, lax.le(lax.mul(count, q), c(10.0)))
    count = lax.floor(count)
    count_inv = lax.select(use_inversion, count, _full_like(count, 0.0))
    count_btrs = lax.select(use_inversion, _full_like(count, 1e4), count)
    q_btrs = lax.select(use_inversion, _full_like(q, 0.5), q)
    samples = lax.select(
        use_inversion,
        lax.convert_element_type(_binomial_inversion(key, count_inv, q, shape), dtype),
        lax.convert_element_type(_btrs(key, count_btrs, q_btrs, shape), dtype))
    invalid = lax.bitwise_or(lax.bitwise_or(q_l_0, q_is_nan), count_nan_or_neg)
    samples = lax.select(invalid, _full_like(samples, np.nan), samples)
    samples = lax.select(lax.bitwise_and(count_inf, lax.bitwise_not(invalid)),
                         _full_like(samples, np.inf), samples)
    keep = lax.bitwise_or(lax.bitwise_or(p_lt_half, count_nan_or_neg),
                          lax.bitwise_or(q_is_nan, count_inf))
    return lax.select(keep, samples,
                      lax.sub(lax.convert_element_type(count, dtype), samples))


_BINOMIAL = _Sampler(_binomial_impl, (3, 4), None)


def binomial(key: Any, n: Any, p: Any, shape: Sequence[int] | None = None, dtype: Any = None
             ) -> Array:
    """Binomial(``n``, ``p``) counts as floats: inversion (sums of geometric draws) when
    ``n * min(p, 1-p) <= 10``, BTRS transformed rejection otherwise. NaN for ``n < 0`` or
    invalid ``p``, ``inf`` for ``n = inf``."""
    key = _check_key("binomial", key)
    dt = _float_dtype(dtype, "binomial")
    n, p = _param(n), _param(p)
    shape = _out_shape("binomial", shape, n, p)
    return _BINOMIAL(key, n, _inexact_array(p), shape, dt)


def _multinomial_impl(key, n, p, shape, dtype, unroll):
    xnp = _xnp()
    n = _bcast(n, shape[:-1])
    p = _bcast(p, shape)
    p = xnp.moveaxis(p, -1, 0)
    remaining = lax.cumsum(p, 0, reverse=True)
    ratios = p / xnp.where(remaining == 0, 1, remaining)
    keys = _derive_split(key, (shape[-1],))

    def step(remainder, ratio_key):
        ratio, k = ratio_key
        ratio = lax.clamp(_const(0, ratio.dtype), ratio, _const(1, ratio.dtype))
        count = _binomial_impl(k, remainder, ratio, shape[:-1], remainder.dtype)
        return lax.sub(remainder, count), count

    _, counts = lax.scan(step, n, (ratios, keys), unroll=unroll)
    return lax.convert_element_type(xnp.moveaxis(counts, 0, -1), dtype)


_MULTINOMIAL = _Sampler(_multinomial_impl, (3, 4, 5), None)


def multinomial(key: Any, n: Any, p: Any, *, shape: Sequence[int] | None = None,
                dtype: Any = None, unroll: int | bool = 1) -> Array:
    """Multinomial counts of ``n`` trials over the outcomes of ``p`` (last axis): a scan of
    conditional binomials. ``shape`` is the full result shape (default ``p.shape``), as in
    JAX 0.10.2's code."""
    key = _check_key("multinomial", key)
    xnp = _xnp()
    n, p = _param(n), _param(p)
    avs = [get_aval(x) for x in (n, p)]
    cdt, _ = dtypes.promote_types_weak(*((a.dtype, a.weak_type) for a in avs))
    if not dtypes.is_inexact(cdt):
        cdt = dtypes.default_float()
    n, p = xnp.asarray(n, dtype=cdt), xnp.asarray(p, dtype=cdt)
    if p.ndim < 1:
        raise ValueError(f"multinomial: p must have at least one dimension (the outcomes), "
                         f"got shape {p.shape}")
    shape = p.shape if shape is None else _canon_shape(shape, "multinomial")
    np.broadcast_shapes(n.shape, shape[:-1])
    np.broadcast_shapes(p.shape, shape)
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    return _MULTINOMIAL(key, n, p, tuple(shape), dt, unroll)


# ---------------------------------------------------------------------------------------------
# Keys


def clone(key: Any) -> Any:
    """A copy of ``key`` for reuse (the identity outside JAX's key-reuse checking)."""
    return key


def key_impl(keys: Any) -> str:
    """The name of the keys' PRNG implementation: always ``'threefry2x32'`` in xtrace."""
    _check_key("key_impl", keys, allow_batched=True)
    return "threefry2x32"
