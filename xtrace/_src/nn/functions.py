"""Activation functions, softmax and friends with ``jax.nn``'s names, signatures and semantics.

Everything here is built from ``xtrace.numpy`` operations and lax primitives, so it works both
eagerly and under ``xtrace.jit``. The reductions (``logsumexp``, ``softmax``, ``log_softmax``,
``standardize``) subtract the maximum first and so do not overflow on large inputs.
"""
from __future__ import annotations

import builtins
import functools
import inspect
import operator
from typing import Any

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import core, dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer, get_aval
from xtrace._src.custom_derivatives import custom_jvp
from xtrace._src.jit import jit

Axis = Any


def _compiled(*static: str):
    """Run eager calls of the decorated function as one compiled program (as ``jax.nn`` does
    with ``jax.jit``) instead of one program per primitive; ``static`` names the arguments
    that select the program (axes, flags, dtypes). Calls made while tracing (under jit, grad,
    ...) or with arguments jit cannot take run the plain function."""
    def deco(fn):
        sig = inspect.signature(fn)
        jitted = jit(fn, static_argnames=static)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if core._state.dynamic_level != 0:
                return fn(*args, **kwargs)
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:
                return fn(*args, **kwargs)  # let the function report the bad call
            call = {}
            for name, v in bound.arguments.items():
                if name in static:
                    if isinstance(v, list):
                        v = tuple(v)
                    try:
                        hash(v)
                    except TypeError:
                        return fn(*args, **kwargs)
                elif not (v is None or type(v) is Array or dtypes.is_python_scalar(v) or (
                        isinstance(v, (np.ndarray, np.generic))
                        and v.dtype in _JIT_DTYPES)):
                    return fn(*args, **kwargs)  # tracers, lists, strings: the plain path
                call[name] = v
            return jitted(**call)
        return wrapper
    return deco


_JIT_DTYPES = frozenset(dtypes.SUPPORTED)


# ---------------------------------------------------------------------------------------------
# Helpers


def _is_array(x) -> bool:
    return isinstance(x, (Array, Tracer))


def _arr(name: str, x) -> Any:
    """``x`` as an xtrace array (Python scalars stay weakly typed)."""
    if _is_array(x):
        return x
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"xtrace.nn.{name}: expected an array or a number, got "
                        f"{type(x).__name__} {x!r:.40}")
    try:
        return xnp.asarray(x)
    except TypeError as e:
        raise TypeError(f"xtrace.nn.{name}: cannot use {type(x).__name__} as an array ({e})") \
            from None


def _inexact(name: str, x) -> Any:
    """``x`` as an array of an inexact dtype: integers and bools become the default float."""
    x = _arr(name, x)
    av = get_aval(x)
    if not dtypes.is_inexact(av.dtype):
        x = lax.convert_element_type(x, dtypes.default_float(), av.weak_type)
    return x


def _inexact_many(name: str, *xs) -> list:
    """Promote ``xs`` to a common inexact dtype (shapes are left for the caller to broadcast)."""
    xs = [_arr(name, x) for x in xs]
    dt = xnp.result_type(*xs)
    weak = builtins.all(get_aval(x).weak_type for x in xs)
    if not dtypes.is_inexact(dt):
        dt = dtypes.default_float()
    out = []
    for x in xs:
        av = get_aval(x)
        if av.dtype != dt or av.weak_type != weak:
            x = lax.convert_element_type(x, dt, weak)
        out.append(x)
    return out


def _axes(name: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    """Canonical, sorted, non-negative reduction axes (``None`` means every axis)."""
    if axis is None:
        return tuple(range(ndim))
    raw = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in raw:
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(f"xtrace.nn.{name}: axis must be an int, a tuple of ints or None, "
                            f"got {axis!r}") from None
        if not -ndim <= a < ndim:
            raise ValueError(f"xtrace.nn.{name}: axis {a} is out of bounds for an array of "
                             f"dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"xtrace.nn.{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _mask(name: str, where, shape) -> Any:
    """The boolean ``where=`` mask, broadcast to ``shape``."""
    m = _arr(name, where)
    if get_aval(m).dtype != dtypes.bool_:
        m = xnp.astype(m, dtypes.bool_)
    if tuple(m.shape) != tuple(shape):
        try:
            m = xnp.broadcast_to(m, shape)
        except ValueError:
            raise ValueError(f"xtrace.nn.{name}: where= of shape {tuple(m.shape)} does not "
                             f"broadcast to the input's shape {tuple(shape)}") from None
    return m


def _full(x, value) -> Any:
    av = get_aval(x)
    return xnp.full(av.shape, value, av.dtype)


def _keep(r, axes, keepdims: bool):
    return lax.expand_dims(r, axes) if keepdims and axes else r


def _rmax(x, axes, keepdims: bool, mask=None, initial=None):
    """max over ``axes``, only where ``mask``, never below ``initial``."""
    if mask is not None:
        if initial is None:
            raise ValueError("a masked max needs an initial value")
        x = lax.select(mask, x, _full(x, initial))
    r = lax.reduce_max(x, axes)
    if initial is not None:
        r = xnp.astype(xnp.maximum(r, initial), get_aval(x).dtype)
    return _keep(r, axes, keepdims)


def _rsum(x, axes, keepdims: bool, mask=None):
    if mask is not None:
        x = lax.select(mask, x, _full(x, 0))
    return _keep(lax.reduce_sum(x, axes), axes, keepdims)


def _rmean(x, axes, keepdims: bool, mask=None):
    s = _rsum(x, axes, keepdims, mask)
    if mask is None:
        n = int(np.prod([get_aval(x).shape[i] for i in axes], dtype=np.int64))
        return xnp.true_divide(s, np.asarray(n, get_aval(s).dtype)[()])
    count = _rsum(xnp.astype(mask, get_aval(x).dtype), axes, keepdims)
    return xnp.true_divide(s, count)


def _real(x):
    return lax.real(x) if dtypes.is_complex(get_aval(x).dtype) else x


# ---------------------------------------------------------------------------------------------
# Activations


def identity(x) -> Array:
    """The identity activation: returns ``x`` (as an array)."""
    return _arr("identity", x)


def _relu(x):
    # max(x, 0), NaN kept, written with selects so that its derivative at 0 is 0 (JAX's choice,
    # set there with a custom JVP rule) rather than the 1/2 that max's rule gives at a tie.
    if not dtypes.is_inexact(get_aval(x).dtype):
        return xnp.maximum(x, 0)
    return xnp.where(x > 0, x, xnp.where(xnp.isnan(x), x, 0))


@_compiled()
def relu(x) -> Array:
    """Rectified linear unit: ``max(x, 0)`` (keeps integer dtypes); its derivative at 0 is 0."""
    return _relu(_arr("relu", x))


@_compiled()
def relu6(x) -> Array:
    """``min(max(x, 0), 6)``; its derivative at 0 and at 6 is 0, as in JAX."""
    y = _relu(_arr("relu6", x))
    return xnp.where(y >= 6, 6., y)


@_compiled()
def sigmoid(x) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return lax.logistic(_inexact("sigmoid", x))


@_compiled()
def softplus(x) -> Array:
    """``log(1 + exp(x))``, computed as ``logaddexp(x, 0)`` (stable for large ``|x|``)."""
    x = _inexact("softplus", x)
    if dtypes.is_complex(get_aval(x).dtype):
        return xnp.log1p(xnp.exp(x))
    stable = xnp.maximum(x, 0) + xnp.log1p(xnp.exp(-xnp.abs(x)))
    return xnp.where(xnp.isnan(x), x, stable)


@_compiled()
def log_sigmoid(x) -> Array:
    """``log(sigmoid(x)) = -softplus(-x)`` (stable for large ``|x|``)."""
    return -softplus(-_inexact("log_sigmoid", x))


@_compiled()
def soft_sign(x) -> Array:
    """``x / (|x| + 1)``."""
    x = _arr("soft_sign", x)
    return x / (xnp.abs(x) + 1)


@_compiled()
def silu(x) -> Array:
    """SiLU (a.k.a. swish): ``x * sigmoid(x)``."""
    x = _inexact("silu", x)
    return x * sigmoid(x)


swish = silu


@_compiled()
def mish(x) -> Array:
    """``x * tanh(softplus(x))``."""
    x = _inexact("mish", x)
    return x * xnp.tanh(softplus(x))


@_compiled()
def tanh(x) -> Array:
    """Hyperbolic tangent."""
    return xnp.tanh(_arr("tanh", x))


@_compiled()
def elu(x, alpha=1.0) -> Array:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    x = _arr("elu", x)
    pos = x > 0
    return xnp.where(pos, x, alpha * xnp.expm1(xnp.where(pos, 0., x)))


@_compiled()
def leaky_relu(x, negative_slope=1e-2) -> Array:
    """``x`` if ``x >= 0`` else ``negative_slope * x``."""
    x = _arr("leaky_relu", x)
    return xnp.where(x >= 0, x, negative_slope * x)


@_compiled()
def hard_tanh(x) -> Array:
    """``x`` clipped to ``[-1, 1]`` (keeps integer dtypes)."""
    x = _arr("hard_tanh", x)
    return xnp.where(x > 1, 1, xnp.where(x < -1, -1, x))


@_compiled()
def celu(x, alpha=1.0) -> Array:
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``."""
    x = _arr("celu", x)
    return xnp.maximum(x, 0.0) + alpha * xnp.expm1(xnp.minimum(x, 0.0) / alpha)


@_compiled()
def selu(x) -> Array:
    """Scaled ELU with the self-normalizing constants."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


@_compiled('approximate')
def gelu(x, approximate: bool = True) -> Array:
    """Gaussian error linear unit: the tanh approximation, or the exact erf form when
    ``approximate=False``."""
    x = _inexact("gelu", x)
    dt = get_aval(x).dtype
    if approximate:
        c = np.asarray(np.sqrt(2 / np.pi), dt)[()]
        cdf = 0.5 * (1.0 + xnp.tanh(c * (x + 0.044715 * (x ** 3))))
        return x * cdf
    sqrt_half = np.asarray(np.sqrt(0.5), dt)[()]
    out = 0.5 * x * lax.erfc(-x * sqrt_half)
    return xnp.astype(out, dt) if get_aval(out).dtype != dt else out


@_compiled()
def hard_sigmoid(x) -> Array:
    """``relu6(x + 3) / 6``."""
    return relu6(_arr("hard_sigmoid", x) + 3.) / 6.


@_compiled()
def hard_silu(x) -> Array:
    """``x * hard_sigmoid(x)``."""
    x = _arr("hard_silu", x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


@_compiled()
def squareplus(x, b=4) -> Array:
    """``(x + sqrt(x**2 + b)) / 2``."""
    x = _arr("squareplus", x)
    y = x + xnp.sqrt(xnp.square(x) + b)
    return y / 2


@_compiled()
def sparse_plus(x) -> Array:
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)**2 / 4`` in between."""
    x = _arr("sparse_plus", x)
    return xnp.where(x <= -1.0, 0.0, xnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


@_compiled()
def sparse_sigmoid(x) -> Array:
    """``clip((x + 1) / 2, 0, 1)``."""
    x = _arr("sparse_sigmoid", x)
    return 0.5 * xnp.clip(x + 1.0, 0.0, 2.0)


@custom_jvp
def _log1mexp(x):
    c = float(np.log(2.0))
    return xnp.where(x < c, xnp.log(-xnp.expm1(-x)), xnp.log1p(-xnp.exp(-x)))


@_log1mexp.defjvp
def _log1mexp_jvp(primals, tangents):
    # JAX's rule, g / expm1(x): finite away from 0 and +-inf at +-0, where the two branches
    # of the where would give 0 * inf = NaN
    x, = primals
    t, = tangents
    return _log1mexp(x), t / xnp.expm1(x)


@_compiled()
def log1mexp(x) -> Array:
    """``log(1 - exp(-x))`` for ``x >= 0``, accurate on the whole range."""
    return _log1mexp(_inexact("log1mexp", x))


@_compiled('axis')
def glu(x, axis: int = -1) -> Array:
    """Gated linear unit: split ``x`` in two halves ``a, b`` along ``axis``; ``a * sigmoid(b)``."""
    x = _arr("glu", x)
    ax, = _axes("glu", axis, x.ndim)
    size = x.shape[ax]
    if size % 2:
        raise ValueError(f"xtrace.nn.glu: the size of axis {axis} must be even, got {size}")
    x1 = lax.slice_in_dim(x, 0, size // 2, axis=ax)
    x2 = lax.slice_in_dim(x, size // 2, size, axis=ax)
    return x1 * sigmoid(x2)


# ---------------------------------------------------------------------------------------------
# Normalizations and reductions


@_compiled('axis', 'keepdims', 'return_sign')
def logsumexp(a, axis: Axis = None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
    """``log(sum(b * exp(a), axis))`` computed without overflow (``jax.nn.logsumexp``).

    ``b`` scales the exponentials (broadcast against ``a``; where ``b == 0`` the term is left
    out); ``where`` selects the elements to include. With ``return_sign`` returns
    ``(log|sum|, sign(sum))``; otherwise a negative sum gives NaN.
    """
    a = _arr("logsumexp", a)
    if where is not None:
        a = xnp.where(where, a, 0)
    if b is not None:
        a, b = _inexact_many("logsumexp", a, b)
        a = xnp.where(b != 0, a, -np.inf)
    else:
        a = _inexact("logsumexp", a)
    av = get_aval(a)
    is_complex = dtypes.is_complex(av.dtype)
    axes = _axes("logsumexp", axis, av.ndim)
    mask = None if where is None else _mask("logsumexp", where, av.shape)
    amax = _rmax(_real(a), axes, True, mask, -np.inf)
    # constant for differentiation (as in JAX): the shift cancels in value and gradient alike
    amax = lax.stop_gradient(lax.select(lax.is_finite(amax), amax, _full(amax, 0)))
    exp_a = xnp.exp(a - xnp.astype(amax, av.dtype))
    if b is not None:
        exp_a = exp_a * b
    sumexp = _rsum(exp_a, axes, keepdims, mask)
    sign = lax.sign(sumexp)
    if return_sign or not is_complex:
        sumexp = xnp.abs(sumexp)
    if not keepdims and axes:
        amax = lax.reshape(amax, [d for i, d in enumerate(av.shape) if i not in axes])
    out = xnp.log(sumexp) + xnp.astype(amax, get_aval(sumexp).dtype)
    if return_sign:
        return out, sign
    if b is not None and not is_complex:
        out = xnp.where(sign < 0, np.asarray(np.nan, get_aval(out).dtype)[()], out)
    return out


@_compiled('axis', 'keepdims')
def logmeanexp(x, axis: Axis = None, where=None, keepdims: bool = False) -> Array:
    """``log(mean(exp(x), axis))`` computed without overflow."""
    x = _inexact("logmeanexp", x)
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    axes = _axes("logmeanexp", axis, x.ndim)
    dt = get_aval(lse).dtype
    if where is None:
        n = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
        return lse - xnp.log(np.asarray(n, dt)[()])
    mask = _mask("logmeanexp", where, x.shape)
    count = _rsum(xnp.astype(mask, dt), axes, keepdims)
    return lse - xnp.log(count)


@_compiled('axis', 'initial')
def softmax(x, axis: Axis = -1, where=None, initial=-np.inf) -> Array:
    """``exp(x) / sum(exp(x), axis)``, shifted by the maximum so that it never overflows.

    Masked-out elements (``where`` False) give 0. A slice that is entirely ``-inf`` gives NaN,
    as in JAX.
    """
    x = _inexact("softmax", x)
    av = get_aval(x)
    axes = _axes("softmax", axis, av.ndim)
    mask = None if where is None else _mask("softmax", where, av.shape)
    x_max = _rmax(x, axes, True, mask, initial)
    x_safe = x if mask is None else lax.select(mask, x, _full(x, initial))
    unnormalized = xnp.exp(x_safe - x_max)
    result = unnormalized / _rsum(unnormalized, axes, True, mask)
    if mask is not None:
        result = lax.select(mask, result, _full(result, 0))
    return result


@_compiled('axis')
def log_softmax(x, axis: Axis = -1, where=None) -> Array:
    """``x - logsumexp(x, axis)``, shifted by the maximum so that it never overflows.

    Masked-out elements (``where`` False) give ``-inf``.
    """
    x = _inexact("log_softmax", x)
    av = get_aval(x)
    axes = _axes("log_softmax", axis, av.ndim)
    mask = None if where is None else _mask("log_softmax", where, av.shape)
    x_max = _rmax(x, axes, True, mask, -np.inf)
    x_safe = x if mask is None else lax.select(mask, x, _full(x, -np.inf))
    shifted = x_safe - x_max
    shifted_lse = xnp.log(_rsum(xnp.exp(shifted), axes, True, mask))
    result = shifted - shifted_lse
    if mask is not None:
        result = lax.select(mask, result, _full(result, -np.inf))
    return result


@_compiled('axis', 'algorithm')
def standardize(x, axis: Axis = -1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm: str = "fast") -> Array:
    """``(x - mean) / sqrt(variance + epsilon)`` with the mean and variance over ``axis``
    (those of ``x`` unless given). ``algorithm="fast"`` uses ``mean(x**2) - mean(x)**2``
    (clipped at 0), ``"stable"`` the two-pass ``mean((x - mean)**2)``."""
    x = _arr("standardize", x)
    xf = _inexact("standardize", x)
    av = get_aval(xf)
    axes = _axes("standardize", axis, av.ndim)
    mask = None if where is None else _mask("standardize", where, av.shape)
    if mean is None:
        mean = _rmean(xf, axes, True, mask)
    if variance is None:
        if algorithm == "stable":
            variance = _rmean(xnp.square(xf - mean), axes, True, mask)
        elif algorithm == "fast":
            variance = _rmean(xnp.square(xf), axes, True, mask) - xnp.square(mean)
            variance = xnp.maximum(variance, 0)
        else:
            raise ValueError(f"xtrace.nn.standardize: unknown algorithm {algorithm!r}; "
                             "expected 'fast' or 'stable'")
    denom = _inexact("standardize", xnp.add(variance, epsilon))
    return xnp.subtract(x, mean) * lax.rsqrt(denom)


@_compiled('num_classes', 'dtype', 'axis')
def one_hot(x, num_classes: int, *, dtype=None, axis: int = -1) -> Array:
    """One-hot encode the integer array ``x`` along a new axis ``axis`` of size
    ``num_classes``. Indices outside ``[0, num_classes)`` encode as all zeros."""
    if _is_array(num_classes) and isinstance(num_classes, Tracer):
        raise TypeError("xtrace.nn.one_hot: num_classes must be a concrete Python int (it sets "
                        "the output shape); under jit pass it as a static argument")
    try:
        num_classes = operator.index(num_classes)
    except TypeError:
        raise TypeError(f"xtrace.nn.one_hot: num_classes must be an int, got "
                        f"{num_classes!r}") from None
    if num_classes < 0:
        raise ValueError(f"xtrace.nn.one_hot: num_classes must be >= 0, got {num_classes}")
    x = _arr("one_hot", x)
    av = get_aval(x)
    if av.dtype == dtypes.bool_:
        x = lax.convert_element_type(x, dtypes.default_int(), False)
        av = get_aval(x)
    elif dtypes.is_complex(av.dtype):
        raise TypeError("xtrace.nn.one_hot: x must hold integer class indices, got "
                        f"{av.dtype}")
    dtype = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    try:
        pos = operator.index(axis)
    except TypeError:
        raise TypeError(f"xtrace.nn.one_hot: axis must be an int, got {axis!r}") from None
    nd = av.ndim + 1
    if not -nd <= pos < nd:
        raise ValueError(f"xtrace.nn.one_hot: axis {axis} is out of bounds for the output of "
                         f"dimension {nd}")
    pos %= nd
    lhs = lax.expand_dims(x, (pos,))
    rhs_shape = [1] * av.ndim
    rhs_shape.insert(pos, num_classes)
    rhs = lax.broadcasted_iota(av.dtype, rhs_shape, pos)
    return xnp.astype(xnp.equal(lhs, rhs), dtype)


__all__ = [
    "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax", "logmeanexp",
    "logsumexp", "mish", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "soft_sign",
    "softmax", "softplus", "sparse_plus", "sparse_sigmoid", "squareplus", "standardize", "swish",
    "tanh",
]
