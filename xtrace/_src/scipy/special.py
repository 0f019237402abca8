"""``jax.scipy.special``: special functions with SciPy's names, built from xtrace primitives.

Arguments are promoted as JAX does (integers and bools become the default float, Python
scalars are weak) and broadcast together. Eager calls of the iterative functions run as one
compiled program; everything works under ``jit``, ``grad`` and ``vmap``.
"""
from __future__ import annotations

import builtins
import math
import operator
from fractions import Fraction
from typing import Any

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer, get_aval
from xtrace._src.custom_derivatives import custom_jvp
from xtrace._src.nn import functions as _nn

ArrayLike = Any

logsumexp = _nn.logsumexp
# Eager calls run as one compiled program (as JAX's jitted special functions do).
_jit = _nn._compiled()
_jit_static = _nn._compiled


def promote_args_inexact(name: str, *args) -> list:
    """Promote to one inexact dtype (ints and bools become the default float, Python scalars
    stay weak; ``nn``'s rule) and broadcast to one shape."""
    for x in args:
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"xtrace.scipy.special.{name}: expected an array or a number, got "
                            f"{type(x).__name__}")
    out = _nn._inexact_many(name, *args)
    return xnp.broadcast_arrays(*out) if len(out) > 1 else out


def promote_dtypes_inexact(name: str, *args) -> list:
    """Promote to one inexact dtype without broadcasting (shapes may differ)."""
    xs = [x if isinstance(x, (Array, Tracer)) else xnp.asarray(x) for x in args]
    dt = xnp.result_type(*xs)
    if not dtypes.is_inexact(dt):
        dt = dtypes.default_float()
    return [x if get_aval(x).dtype == dt
            else lax.convert_element_type(x, dt, get_aval(x).weak_type) for x in xs]


def _real_only(name: str, x) -> None:
    if dtypes.is_complex(get_aval(x).dtype):
        raise ValueError(f"{name} does not support complex-valued inputs, got {get_aval(x).dtype}")


def _k(x, v):
    return np.asarray(v, get_aval(x).dtype)[()]


def _float_dtype(name: str, x) -> np.dtype:
    dt = get_aval(x).dtype
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name}: x.dtype={dt} is not supported (float32 or float64 only)")
    return dt


# ---------------------------------------------------------------------------------------------
# Gamma and beta functions


def gammaln(x: ArrayLike) -> Array:
    """``log|Gamma(x)|``."""
    x, = promote_args_inexact("gammaln", x)
    _real_only("gammaln", x)
    return lax.lgamma(x)


@_jit
def gammasgn(x: ArrayLike) -> Array:
    """The sign of ``Gamma(x)``: NaN at the poles (non-positive integers, -inf) and for NaN;
    ``-1`` at ``-0``."""
    x, = promote_args_inexact("gammasgn", x)
    _real_only("gammasgn", x)
    fl = xnp.floor(x)
    neg = x < 0
    nan = (neg & (x == fl)) | xnp.isnan(x)
    minus = (neg & (xnp.fmod(fl, 2) != 0)) | ((x == 0) & xnp.signbit(x))
    return xnp.where(nan, _k(x, np.nan), xnp.where(minus, _k(x, -1), _k(x, 1)))


@_jit
def loggamma(x: ArrayLike) -> Array:
    """The principal branch of ``log(Gamma(x))``; for real ``x`` NaN where ``x <= 0``."""
    x, = promote_args_inexact("loggamma", x)
    _real_only("loggamma", x)
    return xnp.where(x > 0, lax.lgamma(x), _k(x, np.nan))


@_jit
def gamma(x: ArrayLike) -> Array:
    """``Gamma(x)`` for real ``x`` (NaN at the poles, ``+-inf`` at ``+-0``)."""
    x, = promote_args_inexact("gamma", x)
    _real_only("gamma", x)
    return gammasgn(x) * xnp.exp(lax.lgamma(x))


_STIRLING = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156]


def _stirling_corr(z):
    """lgamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2), for z >= 10."""
    r = 1 / (z * z)
    total = xnp.zeros_like(z)
    for c in reversed(_STIRLING):
        total = total * r + _k(z, c)
    return total / z


def _betaln(a, b):
    lo, hi = xnp.minimum(a, b), xnp.maximum(a, b)
    direct = lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)
    # For hi >= 10, lgamma(hi) - lgamma(lo + hi) by Stirling's series, with the leading terms
    # combined through log1p (no cancellation when lo << hi).
    big = hi >= 10
    h = xnp.where(big, hi, _k(hi, 10))
    l = xnp.where(big, lo, _k(lo, 1))
    diff = (-(h - 0.5) * xnp.log1p(l / h) - l * xnp.log(l + h) + l
            + _stirling_corr(h) - _stirling_corr(l + h))
    return xnp.where(big & (lo + hi > 0), lax.lgamma(l) + diff, direct)


@_jit
def betaln(a: ArrayLike, b: ArrayLike) -> Array:
    """``log|B(a, b)|`` = ``gammaln(a) + gammaln(b) - gammaln(a + b)``, accurate also when one
    argument is much larger than the other."""
    a, b = promote_args_inexact("betaln", a, b)
    _real_only("betaln", a)
    return _betaln(a, b)


@_jit
def beta(a: ArrayLike, b: ArrayLike) -> Array:
    """The beta function ``Gamma(a) Gamma(b) / Gamma(a + b)``."""
    a, b = promote_args_inexact("beta", a, b)
    _real_only("beta", a)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * xnp.exp(betaln(a, b))


@_jit
def betainc(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> Array:
    """The regularized incomplete beta function ``I_x(a, b)`` (differentiable in ``x`` only)."""
    a, b, x = promote_args_inexact("betainc", a, b, x)
    _real_only("betainc", a)
    return lax.betainc(a, b, x)


@_jit
def gammainc(a: ArrayLike, x: ArrayLike) -> Array:
    """The regularized lower incomplete gamma function ``P(a, x)``."""
    a, x = promote_args_inexact("gammainc", a, x)
    _real_only("gammainc", a)
    return lax.igamma(a, x)


@_jit
def gammaincc(a: ArrayLike, x: ArrayLike) -> Array:
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``."""
    a, x = promote_args_inexact("gammaincc", a, x)
    _real_only("gammaincc", a)
    return lax.igammac(a, x)


def digamma(x: ArrayLike) -> Array:
    """``psi(x) = d/dx log Gamma(x)``."""
    x, = promote_args_inexact("digamma", x)
    _real_only("digamma", x)
    return lax.digamma(x)


def polygamma(n: ArrayLike, x: ArrayLike) -> Array:
    """The ``n``-th derivative of ``digamma``; ``n`` must have an integer dtype."""
    n_dt = get_aval(n).dtype if isinstance(n, (Array, Tracer)) else np.asarray(n).dtype
    if not np.issubdtype(n_dt, np.integer):
        raise ValueError(f"Argument `n` to polygamma must be of integer type. Got dtype {n_dt}.")
    n, x = promote_args_inexact("polygamma", n, x)
    _real_only("polygamma", x)
    return lax.polygamma(n, x)


@_jit_static("exact")
def factorial(n: ArrayLike, exact: bool = False) -> Array:
    """``n!`` as a float, ``Gamma(n + 1)`` (0 for negative ``n``); ``exact=True`` is not
    supported, as in JAX."""
    if exact:
        raise NotImplementedError("factorial with exact=True")
    n, = promote_args_inexact("factorial", n)
    return xnp.where(n < 0, _k(n, 0), xnp.exp(lax.lgamma(n + 1)))


@_jit_static("repetition")
def comb(N: ArrayLike, k: ArrayLike, *, repetition: bool = False) -> Array:
    """The number of combinations of ``N`` things taken ``k`` at a time, as a float (0 where
    ``k > N``, ``k < 0`` or ``N < 0``); ``repetition=True`` counts multisets."""
    N, k = promote_args_inexact("comb", N, k)
    if repetition:
        return xnp.where((k == 0) & (N >= 0), _k(N, 1), comb(N + k - 1, k))
    ok = (k <= N) & (N >= 0) & (k >= 0)
    sN, sk = xnp.where(ok, N, _k(N, 0)), xnp.where(ok, k, _k(k, 0))
    out = xnp.exp(lax.lgamma(sN + 1) - lax.lgamma(sk + 1) - lax.lgamma(sN + 1 - sk))
    return xnp.where(ok, out, _k(out, 0))


@_jit_static("d")
def multigammaln(a: ArrayLike, d: int) -> Array:
    """The log of the multivariate gamma function of dimension ``d`` (a Python int)."""
    d = operator.index(d)
    a, = promote_args_inexact("multigammaln", a)
    dt = get_aval(a).dtype
    const = np.asarray(0.25 * d * (d - 1) * math.log(math.pi), dt)[()]
    offsets = np.arange(d, dtype=dt) / np.asarray(2, dt)
    return xnp.sum(lax.lgamma(xnp.expand_dims(a, -1) - offsets), axis=-1) + const


def _poch_impl(z, m):
    return xnp.where(m == 0, _k(z, 1), gamma(z + m) / gamma(z))


@custom_jvp
def _poch(z, m):
    return _poch_impl(z, m)


@_poch.defjvp
def _poch_jvp(primals, tangents):
    z, m = primals
    tz, tm = tangents
    out = _poch(z, m)
    dzm = lax.digamma(z + m)
    return out, out * ((dzm - lax.digamma(z)) * tz + dzm * tm)


@_jit
def poch(z: ArrayLike, m: ArrayLike) -> Array:
    """The rising factorial ``Gamma(z + m) / Gamma(z)`` (1 where ``m == 0``)."""
    z, m = promote_args_inexact("poch", z, m)
    _real_only("poch", z)
    return _poch(z, m)


# ---------------------------------------------------------------------------------------------
# Error functions and the normal distribution


def erf(x: ArrayLike) -> Array:
    """The error function."""
    x, = promote_args_inexact("erf", x)
    return lax.erf(x)


def erfc(x: ArrayLike) -> Array:
    """The complementary error function ``1 - erf(x)``."""
    x, = promote_args_inexact("erfc", x)
    return lax.erfc(x)


def erfinv(x: ArrayLike) -> Array:
    """The inverse of ``erf`` on (-1, 1)."""
    x, = promote_args_inexact("erfinv", x)
    return lax.erf_inv(x)


@_jit
def erfcx(x: ArrayLike) -> Array:
    """The scaled complementary error function ``exp(x**2) erfc(x)``, without overflow."""
    x, = promote_args_inexact("erfcx", x)
    _real_only("erfcx", x)
    return _erfcx(x)


def _erfcx_tail(x):
    # The continued fraction exp(x^2) erfc(x) = (1/sqrt(pi)) / (x + 1/2/(x + 1/(x + 3/2/(x + ..
    # evaluated bottom-up; accurate for x >= 2 with 40 levels.
    t = x
    for n in range(40, 0, -1):
        t = x + _k(x, n / 2) / t
    return _k(x, 1 / math.sqrt(math.pi)) / t


@custom_jvp
def _erfcx(x):
    big = x > 2
    direct = xnp.exp(x * x) * lax.erfc(xnp.where(big, _k(x, 0), x))
    return xnp.where(big, _erfcx_tail(xnp.where(big, x, _k(x, 2))), direct)


@_erfcx.defjvp
def _erfcx_jvp(primals, tangents):
    x, = primals
    t, = tangents
    y = _erfcx(x)
    return y, t * (2 * x * y - _k(x, 2 / math.sqrt(math.pi)))


@_jit
def ndtr(x: ArrayLike) -> Array:
    """The standard normal CDF."""
    x = xnp.asarray(x)
    _float_dtype("ndtr", x)
    return _ndtr(x)


def _ndtr(x):
    w = x * _k(x, math.sqrt(0.5))
    z = xnp.abs(w)
    y = xnp.where(z < _k(x, math.sqrt(0.5)), 1 + lax.erf(w),
                  xnp.where(w > 0, 2 - lax.erfc(z), lax.erfc(z)))
    return _k(x, 0.5) * y


def _norm_logpdf(x):
    return _k(x, -0.5 * math.log(2 * math.pi)) - _k(x, 0.5) * x * x


_LOG_NDTR_BOUNDS = {np.dtype(np.float64): (-20.0, 8.0), np.dtype(np.float32): (-10.0, 5.0)}


def _log_ndtr_impl(x, series_order):
    lower, upper = _LOG_NDTR_BOUNDS[get_aval(x).dtype]
    above = x > upper
    res = _ndtr(xnp.where(above, -x, xnp.maximum(x, _k(x, lower))))
    # below the lower bound: log of the asymptotic series of Mills' ratio
    xl = xnp.minimum(x, _k(x, lower))
    x2 = xl * xl
    total, power = xnp.ones_like(xl), x2
    for n in range(1, series_order + 1):
        term = _k(xl, math.prod(range(2 * n - 1, 0, -2))) / power
        total = total - term if n % 2 else total + term
        power = power * x2
    low = _norm_logpdf(xl) - xnp.log(-xl) + xnp.log(total)
    return xnp.where(above, -res, xnp.where(x > lower, xnp.log(res), low))


def _log_ndtr_jvp(series_order, primals, tangents):
    x, = primals
    t, = tangents
    ans = _log_ndtr(series_order, x)
    return ans, t * xnp.exp(_norm_logpdf(x) - ans)


_log_ndtr = custom_jvp(lambda series_order, x: _log_ndtr_impl(x, series_order),
                       nondiff_argnums=(0,))
_log_ndtr.defjvp(_log_ndtr_jvp)


@_jit_static("series_order")
def log_ndtr(x: ArrayLike, series_order: int = 3) -> Array:
    """``log(ndtr(x))``, accurate far into both tails (an asymptotic series of
    ``series_order`` terms below the lower cut-off)."""
    if not isinstance(series_order, int):
        raise TypeError("series_order must be a Python integer.")
    if series_order < 0:
        raise ValueError("series_order must be non-negative.")
    if series_order > 30:
        raise ValueError("series_order must be <= 30.")
    x = xnp.asarray(x)
    _float_dtype("log_ndtr", x)
    return _log_ndtr(series_order, x)


def ndtri(p: ArrayLike) -> Array:
    """The inverse of ``ndtr``: ``-inf`` at 0, ``inf`` at 1, NaN outside [0, 1]."""
    p = xnp.asarray(p)
    _float_dtype("ndtri", p)
    return _ndtri_ad(p)


@custom_jvp
def _ndtri_ad(p):
    return _ndtri(p)


# d ndtri / dp = 1 / pdf(ndtri(p)) = sqrt(2 pi) exp(x^2 / 2)
_ndtri_ad.defjvps(lambda t, x, p: t * xnp.exp(-_norm_logpdf(x)))


@_nn._compiled()
def _ndtri(p):
    # Central part: sqrt(2) erfinv(2p - 1). Tails (p or 1 - p below 0.02): Abramowitz & Stegun
    # 26.2.23 as a start, then Newton steps on log_ndtr(x) = log(p), which stay accurate for
    # tiny p.
    q = xnp.minimum(p, 1 - p)
    tail = q < _k(p, 0.02)
    qs = xnp.where(tail & (q > 0), q, _k(p, 0.01))
    t = xnp.sqrt(-2 * xnp.log(qs))
    x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
          / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    log_q = xnp.log(qs)
    for _ in range(4):
        lnd = _log_ndtr_impl(x, 3)
        x = x - (lnd - log_q) * xnp.exp(lnd - _norm_logpdf(x))
    x = xnp.where(p > 0.5, -x, x)
    central = _k(p, math.sqrt(2)) * lax.erf_inv(2 * p - 1)
    out = xnp.where(tail, x, central)
    out = xnp.where(p == 0, _k(p, -np.inf), xnp.where(p == 1, _k(p, np.inf), out))
    return xnp.where((p < 0) | (p > 1) | xnp.isnan(p), _k(p, np.nan), out)


# ---------------------------------------------------------------------------------------------
# Logistic functions, logs and entropies


def expit(x: ArrayLike) -> Array:
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    x, = promote_args_inexact("expit", x)
    return lax.logistic(x)


@custom_jvp
def _logit(x):
    return xnp.log(x / (1 - x))


_logit.defjvps(lambda g, ans, x: g / (x * (1 - x)))


@_jit
def logit(x: ArrayLike) -> Array:
    """The inverse of ``expit``: ``log(x / (1 - x))``."""
    x, = promote_args_inexact("logit", x)
    return _logit(x)


def softmax(x: ArrayLike, /, *, axis: int | tuple[int, ...] | None = None) -> Array:
    """``exp(x) / sum(exp(x), axis)`` (every axis by default, as SciPy does)."""
    return _nn.softmax(x, axis=axis)


def log_softmax(x: ArrayLike, /, *, axis: int | tuple[int, ...] | None = None) -> Array:
    """``x - logsumexp(x, axis)`` (every axis by default, as SciPy does)."""
    return _nn.log_softmax(x, axis=axis)


@custom_jvp
def _xlogy(x, y):
    return xnp.where((x != 0) | xnp.isnan(y), x * xnp.log(y), xnp.zeros_like(x))


@_xlogy.defjvp
def _xlogy_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    return _xlogy(x, y), tx * xnp.log(y) + ty * x / y


@_jit
def xlogy(x: ArrayLike, y: ArrayLike) -> Array:
    """``x * log(y)``, 0 where ``x == 0`` (unless ``y`` is NaN)."""
    x, y = promote_args_inexact("xlogy", x, y)
    return _xlogy(x, y)


@custom_jvp
def _xlog1py(x, y):
    return xnp.where((x != 0) | xnp.isnan(y), x * xnp.log1p(y), xnp.zeros_like(x))


@_xlog1py.defjvp
def _xlog1py_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    return _xlog1py(x, y), tx * xnp.log1p(y) + ty * x / (1 + y)


@_jit
def xlog1py(x: ArrayLike, y: ArrayLike) -> Array:
    """``x * log1p(y)``, 0 where ``x == 0`` (unless ``y`` is NaN)."""
    x, y = promote_args_inexact("xlog1py", x, y)
    return _xlog1py(x, y)


@custom_jvp
def _xlogx(x):
    return _xlogy(x, x)


_xlogx.defjvps(lambda g, ans, x: g * (xnp.log(x) + 1))


@_jit
def entr(x: ArrayLike) -> Array:
    """The elementwise entropy ``-x log x`` (0 at 0, ``-inf`` for ``x < 0``)."""
    x, = promote_args_inexact("entr", x)
    _real_only("entr", x)
    return xnp.where(x < 0, _k(x, -np.inf), -_xlogx(x))


@_jit
def rel_entr(p: ArrayLike, q: ArrayLike) -> Array:
    """``p log(p / q)`` where both are positive, 0 where ``p == 0 <= q``, else ``inf``."""
    p, q = promote_args_inexact("rel_entr", p, q)
    _real_only("rel_entr", p)
    both = (p > 0) & (q > 0)
    sp, sq = xnp.where(both, p, _k(p, 1)), xnp.where(both, q, _k(q, 1))
    val = _xlogx(sp) - _xlogy(sp, sq)
    return xnp.where(both, val, xnp.where((p == 0) & (q >= 0), _k(p, 0), _k(p, np.inf)))


@_jit
def kl_div(p: ArrayLike, q: ArrayLike) -> Array:
    """``p log(p / q) - p + q`` (``rel_entr(p, q) - p + q``)."""
    p, q = promote_args_inexact("kl_div", p, q)
    _real_only("kl_div", p)
    return rel_entr(p, q) - p + q


# ---------------------------------------------------------------------------------------------
# Zeta, Bessel, Bernoulli


def _bernoulli_exact(n: int) -> list[Fraction]:
    b = [Fraction(0)] * (n + 1)
    for m in range(n + 1):
        b[m] = Fraction(1, 1) if m == 0 else -builtins.sum(
            math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1)
    return b


_B = _bernoulli_exact(34)
# (2j + 2)! / B_{2j + 2}: the Euler-Maclaurin tail's coefficients.
_EM_COEFS = [float(math.factorial(2 * j + 2) / _B[2 * j + 2]) for j in range(16)]


def _zeta_series(s, a):
    """Hurwitz zeta by Euler-Maclaurin: N direct terms, the integral, and M tail terms."""
    dt = get_aval(a).dtype
    n = 8 if dt == np.float32 else 16
    k = np.arange(n, dtype=dt)
    se, ae = xnp.expand_dims(s, -1), xnp.expand_dims(a, -1)
    direct = xnp.sum((ae + k) ** (-se), -1)
    an = a + n
    integral = an ** (1 - s) / (s - 1)
    t0 = an ** (-s)
    ratios = xnp.cumprod((se + np.arange(2 * n, dtype=dt)) / xnp.expand_dims(an, -1), -1)
    ratios = xnp.minimum(ratios[..., ::2], _k(a, np.finfo(dt).max))
    tail = t0 * (0.5 + xnp.sum(ratios / np.asarray(_EM_COEFS[:n], dt), -1))
    return direct + integral + tail


@custom_jvp
def _zeta(x, q):
    return lax.zeta(x, q)


@_zeta.defjvp
def _zeta_jvp(primals, tangents):
    from xtrace._src.api import jvp
    return jvp(_zeta_series, primals, tangents)


@_jit
def zeta(x: ArrayLike, q: ArrayLike | None = None) -> Array:
    """The Hurwitz zeta function ``sum_k (q + k) ** -x``; ``q=None`` (Riemann zeta) is not
    implemented, as in JAX."""
    if q is None:
        raise NotImplementedError("Riemann zeta function not implemented; pass q != None to "
                                  "compute the Hurwitz Zeta function.")
    x, q = promote_args_inexact("zeta", x, q)
    _real_only("zeta", x)
    return _zeta(x, q)


def i0e(x: ArrayLike) -> Array:
    """``exp(-|x|) I_0(x)``."""
    x, = promote_args_inexact("i0e", x)
    return lax.bessel_i0e(x)


@_jit
def i0(x: ArrayLike) -> Array:
    """The modified Bessel function of the first kind of order 0."""
    x, = promote_args_inexact("i0", x)
    return xnp.exp(xnp.abs(x)) * lax.bessel_i0e(x)


def i1e(x: ArrayLike) -> Array:
    """``exp(-|x|) I_1(x)``."""
    x, = promote_args_inexact("i1e", x)
    return lax.bessel_i1e(x)


@_jit
def i1(x: ArrayLike) -> Array:
    """The modified Bessel function of the first kind of order 1."""
    x, = promote_args_inexact("i1", x)
    return xnp.exp(xnp.abs(x)) * lax.bessel_i1e(x)


def bernoulli(n: int) -> Array:
    """The Bernoulli numbers ``B_0 ... B_n`` (``B_1 = -1/2``) in the default float dtype."""
    n = operator.index(n)
    if n < 0:
        raise ValueError("n must be a non-negative integer.")
    b = _B[:n + 1] if n < len(_B) else _bernoulli_exact(n)
    return xnp.asarray(np.array([float(v) for v in b]), dtype=dtypes.default_float())


# ---------------------------------------------------------------------------------------------
# Exponential integrals

_EULER = 0.57721566490153286061


def _expn_fraction(n, x, enabled):
    """E_n(x) for x > 1: the continued fraction, by the modified Lentz method."""
    from xtrace._src.lax_special import _masked_loop
    tiny, eps = np.finfo(get_aval(x).dtype).tiny, np.finfo(get_aval(x).dtype).eps

    def step(st):
        i, b, c, d, h = st
        i = i + 1
        a = -i * (n - 1 + i)
        b = b + 2
        d = 1 / _nonzero(a * d + b, tiny)
        c = _nonzero(b + a / c, tiny)
        delta = c * d
        return (i, b, c, d, h * delta), xnp.abs(delta - 1) <= eps

    b0 = x + n
    d0 = 1 / b0
    st = (xnp.zeros_like(x), b0, xnp.full_like(x, 1 / tiny), d0, d0)
    return _masked_loop(step, enabled, st, 1000)[4] * xnp.exp(-x)


def _nonzero(v, tiny):
    return xnp.where(xnp.abs(v) < tiny, _k(v, tiny), v)


def _expn_series(n, x, enabled):
    """E_n(x) for 0 < x <= 1: the power series (with psi(n) at the term i = n - 1)."""
    from xtrace._src.lax_special import _masked_loop
    eps = np.finfo(get_aval(x).dtype).eps
    nm1 = n - 1
    log_x = xnp.log(x)
    start = xnp.where(nm1 != 0, 1 / xnp.where(nm1 != 0, nm1, _k(n, 1)), -log_x - _EULER)

    def step(st):
        i, fact, total = st
        i = i + 1
        fact = fact * (-x / i)
        psi_term = fact * (lax.digamma(n) - log_x)
        term = xnp.where(i != nm1, -fact / xnp.where(i != nm1, i - nm1, _k(i, 1)), psi_term)
        total = total + term
        return (i, fact, total), xnp.abs(term) <= xnp.abs(total) * eps

    st = (xnp.zeros_like(x), xnp.ones_like(x), start)
    return _masked_loop(step, enabled, st, 1000)[2]


@_nn._compiled()
def _expn_impl(n, x):
    ok = (n >= 0) & (x > 0) & (n == xnp.floor(n))
    big = x > 1
    sx = xnp.where(ok, x, _k(x, 1))
    sn = xnp.where(ok, n, _k(n, 1))
    out = xnp.where(big, _expn_fraction(sn, xnp.where(big, sx, _k(x, 2)), ok & big),
                    _expn_series(sn, xnp.where(big, _k(x, 0.5), sx), ok & ~big))
    out = xnp.where(n == 0, xnp.exp(-x) / x, out)
    at_zero = xnp.where(n < 2, _k(x, np.inf), 1 / xnp.maximum(n - 1, _k(n, 1)))
    out = xnp.where(x == 0, at_zero, out)
    return xnp.where((n < 0) | (x < 0) | xnp.isnan(x) | xnp.isnan(n), _k(x, np.nan), out)


def _expn_jvp(n, primals, tangents):
    x, = primals
    t, = tangents
    return _expn(n, x), -t * _expn_impl(n - 1, x)


_expn = custom_jvp(lambda n, x: _expn_impl(n, x), nondiff_argnums=(0,))
_expn.defjvp(_expn_jvp)


def expn(n: ArrayLike, x: ArrayLike) -> Array:
    """The generalized exponential integral ``E_n(x) = int_1^inf exp(-x t) / t**n dt``
    (differentiable in ``x``: ``-E_{n-1}(x)``)."""
    n, x = promote_args_inexact("expn", n, x)
    _real_only("expn", x)
    return _expn(n, x)


def exp1(x: ArrayLike) -> Array:
    """The exponential integral ``E_1(x)``."""
    x, = promote_args_inexact("exp1", x)
    _real_only("exp1", x)
    return _expn(xnp.ones_like(x), x)


@_nn._compiled()
def _expi_pos(x):
    # Ei(x) = gamma + log x + sum_k x^k / (k k!) (all terms positive) up to 40, then the
    # asymptotic series exp(x)/x sum_k k!/x^k, whose terms shrink for k < x.
    from xtrace._src.lax_special import _masked_loop
    eps = np.finfo(get_aval(x).dtype).eps
    small = x <= 40
    xs = xnp.where(small, x, _k(x, 1))

    def step(st):
        k, term, total = st
        k = k + 1
        term = term * xs / k
        add = term / k
        return (k, term, total + add), add <= total * eps

    total = _masked_loop(step, small, (xnp.zeros_like(x), xnp.ones_like(x), xnp.zeros_like(x)),
                         2000)[2]
    series = _EULER + xnp.log(xs) + total
    xl = xnp.where(small, _k(x, 41), x)
    asym, term = xnp.ones_like(x), xnp.ones_like(x)
    for k in range(1, 40):
        term = term * k / xl
        asym = asym + term
    return xnp.where(small, series, xnp.exp(xl) / xl * asym)


@custom_jvp
def _expi(x):
    pos = x > 0
    return xnp.where(pos, _expi_pos(xnp.where(pos, x, _k(x, 1))),
                     xnp.where(x == 0, _k(x, -np.inf), -_expn_impl(xnp.ones_like(x), -x)))


_expi.defjvps(lambda t, ans, x: t * xnp.exp(x) / x)


def expi(x: ArrayLike) -> Array:
    """The exponential integral ``Ei(x) = -PV int_{-x}^inf exp(-t) / t dt``."""
    x, = promote_args_inexact("expi", x)
    _real_only("expi", x)
    return _expi(x)


# ---------------------------------------------------------------------------------------------
# Dilogarithm


def _dilog_small(u):
    """Li2(u) = sum_k u^k / k^2 for |u| <= 1/2 (Horner, 52 terms: below float64's eps)."""
    total = xnp.zeros_like(u)
    for k in range(52, 0, -1):
        total = (total + _k(u, 1.0 / (k * k))) * u
    return total


@custom_jvp
def _spence(x):
    # spence(x) = Li2(1 - x). Map x into [1/2, 3/2] where the series in w = x - 1 converges,
    # by x -> 1/x (spence(x) = -log(x)^2 / 2 - spence(1/x)) and x -> 1 - x
    # (spence(x) = pi^2/6 - log(x) log(1 - x) - spence(1 - x)).
    inv = x > 2
    y = xnp.where(inv, 1 / xnp.where(inv, x, _k(x, 1)), x)
    flip = y < 0.5
    big = y > 1.5
    w = xnp.where(big, 1 / y - 1, xnp.where(flip, -y, y - 1))
    s = _dilog_small(-w)
    safe = xnp.where(flip & (y > 0), y, _k(y, 0.5))
    s = xnp.where(flip, _k(x, math.pi ** 2 / 6) - xnp.log(safe) * xnp.log1p(-safe) - s, s)
    ly = xnp.log(xnp.where(y > 0, y, _k(y, 1)))
    s = xnp.where(inv | big, -0.5 * ly * ly - s, s)
    s = xnp.where(x == 0, _k(x, math.pi ** 2 / 6), s)
    return xnp.where((x < 0) | xnp.isnan(x) | (x == np.inf), _k(x, np.nan), s)


_spence.defjvps(lambda t, ans, x: t * xnp.where(
    x == 1, _k(x, -1), xnp.log(x) / (1 - xnp.where(x == 1, _k(x, 0), x))))


@_jit
def spence(x: ArrayLike) -> Array:
    """Spence's function ``int_1^x log(t) / (1 - t) dt`` = ``Li2(1 - x)`` for ``x >= 0``
    (NaN below 0)."""
    x, = promote_args_inexact("spence", x)
    _real_only("spence", x)
    return _spence(x)


# ---------------------------------------------------------------------------------------------
# Box-Cox transformations


def _boxcox_of_log(log_x, lmbda):
    zero = lmbda == 0
    safe = xnp.where(zero, xnp.ones_like(lmbda), lmbda)
    return xnp.where(zero, log_x, xnp.expm1(safe * log_x) / safe)


@_jit
def boxcox(x: ArrayLike, lmbda: ArrayLike) -> Array:
    """The Box-Cox transformation ``(x**lmbda - 1) / lmbda`` (``log(x)`` at ``lmbda = 0``)."""
    x, lmbda = promote_args_inexact("boxcox", x, lmbda)
    return _boxcox_of_log(xnp.log(x), lmbda)


@_jit
def boxcox1p(x: ArrayLike, lmbda: ArrayLike) -> Array:
    """The Box-Cox transformation of ``1 + x`` (``log1p(x)`` at ``lmbda = 0``)."""
    x, lmbda = promote_args_inexact("boxcox1p", x, lmbda)
    return _boxcox_of_log(xnp.log1p(x), lmbda)


# ---------------------------------------------------------------------------------------------
# Confluent hypergeometric function


def _hyp1f1_series(a, b, x):
    """sum_k (a)_k / (b)_k x^k / k!, summed until the terms stop mattering (x >= 0 here, after
    Kummer's transformation, so that the terms do not alternate when b > a > 0)."""
    from xtrace._src.lax_special import _masked_loop
    eps = np.finfo(get_aval(x).dtype).eps

    def step(st):
        k, term, total = st
        term = term * (a + k) / (b + k) * x / (k + 1)
        total = total + term
        return (k + 1, term, total), (xnp.abs(term) <= xnp.abs(total) * eps) | (term == 0)

    one = xnp.ones_like(x)
    return _masked_loop(step, xnp.ones_like(x, dtype=bool),
                        (xnp.zeros_like(x), one, one), 5000)[2]


def _hyp1f1_value(a, b, x):
    # Kummer: 1F1(a; b; x) = exp(x) 1F1(b - a; b; -x) for x < 0.
    neg = x < 0
    aa = xnp.where(neg, b - a, a)
    val = _hyp1f1_series(aa, b, xnp.abs(x))
    val = xnp.where(neg, xnp.exp(x) * val, val)
    val = xnp.where(a == 0, xnp.ones_like(x), val)
    val = xnp.where((a == b) & (a != 0), xnp.exp(x), val)
    return xnp.where((b == 0) & (a != 0), _k(x, np.inf), val)


@custom_jvp
def _hyp1f1(a, b, x):
    return _hyp1f1_value(a, b, x)


@_hyp1f1.defjvp
def _hyp1f1_jvp(primals, tangents):
    from xtrace._src.api import jvp
    a, b, x = primals
    ta, tb, tx = tangents
    out = _hyp1f1(a, b, x)
    # d/dx = a/b 1F1(a+1; b+1; x); d/da, d/db: forward mode through the series.
    dx = a / b * _hyp1f1(a + 1, b + 1, x)
    # (with unit tangents, so that the loop stays a primal computation: grad can transpose the
    # result, not the loop)
    one = xnp.ones_like(a)
    _, da = jvp(lambda a_: _hyp1f1_value(a_, b, x), (a,), (one,))
    _, db = jvp(lambda b_: _hyp1f1_value(a, b_, x), (b,), (one,))
    return out, da * ta + db * tb + dx * tx


@_jit
def hyp1f1(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> Array:
    """Kummer's confluent hypergeometric function ``1F1(a; b; x)`` (power series, with
    Kummer's transformation for ``x < 0``)."""
    a, b, x = promote_args_inexact("hyp1f1", a, b, x)
    _real_only("hyp1f1", x)
    return _hyp1f1(a, b, x)


# ---------------------------------------------------------------------------------------------
# Sine and cosine integrals


def _sici_series(t):
    """Si and Ci - log(t) - gamma by their power series (t <= 2)."""
    si, ci = xnp.zeros_like(t), xnp.zeros_like(t)
    term = xnp.ones_like(t)  # (-1)^(n // 2) t^n / n!
    for n in range(1, 30):
        term = term * t / n
        if n % 2:
            si = si + term / n
        else:
            term = -term
            ci = ci + term / n
    return si, ci


def _sici_fraction(t, enabled):
    """The continued fraction of E1(i t) (t > 2) by the modified Lentz method, in real pairs:
    returns (Si, Ci)."""
    from xtrace._src.lax_special import _masked_loop
    eps, tiny = np.finfo(get_aval(t).dtype).eps, np.finfo(get_aval(t).dtype).tiny

    def cmul(p, q):
        return p[0] * q[0] - p[1] * q[1], p[0] * q[1] + p[1] * q[0]

    def cinv(p):
        den = p[0] * p[0] + p[1] * p[1]
        den = xnp.where(den < tiny, _k(den, tiny), den)
        return p[0] / den, -p[1] / den

    def step(st):
        i, br, bi, cr, ci_, dr, di, hr, hi = st
        a = -(i - 1) * (i - 1)
        br = br + 2
        d = cinv((a * dr + br, a * di + bi))
        cinv_c = cinv((cr, ci_))
        c = (br + a * cinv_c[0], bi + a * cinv_c[1])
        delta = cmul(c, d)
        h = cmul((hr, hi), delta)
        done = xnp.abs(delta[0] - 1) + xnp.abs(delta[1]) <= eps
        return (i + 1, br, bi, c[0], c[1], d[0], d[1], h[0], h[1]), done

    one, zero = xnp.ones_like(t), xnp.zeros_like(t)
    d0 = cinv((one, t))
    st = (xnp.full_like(t, 2), one, t, xnp.full_like(t, 1 / tiny), zero, d0[0], d0[1], d0[0],
          d0[1])
    st = _masked_loop(step, enabled, st, 1000)
    h = cmul((xnp.cos(t), -xnp.sin(t)), (st[7], st[8]))
    return _k(t, math.pi / 2) + h[1], -h[0]


@custom_jvp
def _sici(x):
    t = xnp.abs(x)
    small = t <= 2
    ts = xnp.where(small, t, _k(t, 1))
    tl = xnp.where(small | ~xnp.isfinite(t), _k(t, 3), t)
    si_s, ci_s = _sici_series(ts)
    ci_s = ci_s + _EULER + xnp.log(ts)
    si_l, ci_l = _sici_fraction(tl, ~small & xnp.isfinite(t))
    si = xnp.where(small, si_s, si_l)
    ci = xnp.where(small, ci_s, ci_l)
    si = xnp.where(t == np.inf, _k(t, math.pi / 2), si)
    ci = xnp.where(t == np.inf, _k(t, 0), xnp.where(t == 0, _k(t, -np.inf), ci))
    si = xnp.where(x < 0, -si, si)
    ci = xnp.where(x == -np.inf, _k(x, np.nan), ci)
    return si, ci


@_sici.defjvp
def _sici_jvp(primals, tangents):
    x, = primals
    t, = tangents
    si, ci = _sici(x)
    safe = xnp.where(x == 0, xnp.ones_like(x), x)
    dsi = xnp.where(x == 0, xnp.ones_like(x), xnp.sin(safe) / safe)
    return (si, ci), (t * dsi, t * xnp.cos(x) / x)


@_jit
def sici(x: ArrayLike) -> tuple[Array, Array]:
    """The sine and cosine integrals ``(Si(x), Ci(x))``: ``Si = int_0^x sin(t)/t dt``,
    ``Ci = gamma + log|x| + int_0^|x| (cos(t) - 1)/t dt``."""
    x, = promote_args_inexact("sici", x)
    _real_only("sici", x)
    return _sici(x)


# ---------------------------------------------------------------------------------------------
# Owen's T function

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)
_GL_NODES, _GL_WEIGHTS = (_GL_NODES + 1) / 2, _GL_WEIGHTS / 2  # on [0, 1]


def _owens_t_small_a(h, a):
    """a / (2 pi) int_0^1 exp(-h^2 (1 + a^2 u^2) / 2) / (1 + a^2 u^2) du, for |a| <= 1
    (64-point Gauss-Legendre)."""
    dt = get_aval(h).dtype
    r = xnp.expand_dims(a * a, -1) * _GL_NODES.astype(dt) ** 2
    f = xnp.exp(-0.5 * xnp.expand_dims(h * h, -1) * (1 + r)) / (1 + r)
    return a * xnp.sum(f * _GL_WEIGHTS.astype(dt), -1) / _k(h, 2 * math.pi)


@custom_jvp
def _owens_t(h, a):
    h = xnp.abs(h)
    aa = xnp.abs(a)
    inv = aa > 1
    ma = xnp.where(inv, 1 / xnp.where(inv, aa, _k(aa, 1)), aa)
    mh = xnp.where(inv, aa * h, h)
    res = _owens_t_small_a(mh, ma)
    res = xnp.where(mh == 0, xnp.arctan(ma) / _k(h, 2 * math.pi), res)
    r2 = _k(h, math.sqrt(0.5))
    res = xnp.where(ma == 1, 0.125 * lax.erfc(-mh * r2) * lax.erfc(mh * r2), res)
    # T(h, a) = (Phi(h) + Phi(ah))/2 - Phi(h) Phi(ah) - T(ah, 1/a) for a > 1, h >= 0
    qh, qah = lax.erfc(h * r2), lax.erfc(aa * h * r2)
    big = xnp.where(aa * h <= 0.67, 0.25 - 0.25 * lax.erf(h * r2) * lax.erf(aa * h * r2),
                    0.25 * (qh + qah - qh * qah))
    res = xnp.where(inv, big - res, res)
    res = xnp.sign(a) * res
    return xnp.where(xnp.isnan(a) | xnp.isnan(h), _k(res, np.nan), res)


@_owens_t.defjvp
def _owens_t_jvp(primals, tangents):
    h, a = primals
    th, ta = tangents
    out = _owens_t(h, a)
    dh = (-xnp.exp(-0.5 * h * h) * lax.erf(a * h * _k(h, math.sqrt(0.5)))
          / _k(h, 2 * math.sqrt(2 * math.pi)))
    da = xnp.exp(-0.5 * (a * a + 1) * h * h) / (_k(a, 2 * math.pi) * (a * a + 1))
    return out, dh * th + da * ta


@_jit
def owens_t(h: ArrayLike, a: ArrayLike) -> Array:
    """Owen's T function ``1/(2 pi) int_0^a exp(-h^2 (1 + x^2) / 2) / (1 + x^2) dx``."""
    h, a = promote_args_inexact("owens_t", h, a)
    _real_only("owens_t", h)
    return _owens_t(h, a)


# ---------------------------------------------------------------------------------------------
# Bessel functions of the first kind, integer order


def _bessel_jn_small(z, v):
    """J_0..J_v for |z| < 1e-3 by three terms of their power series."""
    h2 = (z / 2) ** 2
    out = []
    for n in range(v + 1):
        lead = (z / 2) ** n / math.factorial(n)
        out.append(lead * (1 - h2 / (n + 1) + h2 * h2 / (2 * (n + 1) * (n + 2))))
    return xnp.stack(out)


@_jit_static("v", "n_iter")
def bessel_jn(z: ArrayLike, *, v: int, n_iter: int = 50) -> Array:
    """Bessel functions of the first kind ``J_0(z) .. J_v(z)`` (shape ``(v + 1,) + z.shape``),
    by Miller's backward recurrence from order ``n_iter`` (rescaled, so it does not overflow),
    normalized by ``J_0 + 2 sum J_2k = 1``."""
    z, = promote_dtypes_inexact("bessel_jn", z)
    if dtypes.is_complex(get_aval(z).dtype):
        raise ValueError("complex input not supported.")
    v, n_iter = operator.index(v), operator.index(n_iter)
    if v < 0:
        raise ValueError(f"bessel_jn: the order v must be non-negative, got {v}")
    if n_iter < v:
        raise ValueError(f"bessel_jn: n_iter ({n_iter}) must be at least v ({v})")
    big = 1e10 if get_aval(z).dtype == np.float32 else 1e100
    small = xnp.abs(z) < 1e-3
    zs = xnp.where(small, xnp.ones_like(z), z)
    orders = lax.broadcasted_iota(np.int32, (v + 1,) + get_aval(z).shape, 0)

    # A loop, not unrolled Python: unrolled, every step's rescaling feeds four values of the
    # next, and some XLA releases (jaxlib 0.8.3) exhaust memory fusing that chain.
    def step(i, carry):
        f0, f1, bs, stored = carry
        k = n_iter - i
        f = 2 * (k + 1).astype(z.dtype) * f1 / zs - f0
        bs = bs + xnp.where(k % 2 == 0, xnp.where(k == 0, f, 2 * f), xnp.zeros_like(f))
        stored = xnp.where(orders == k, f, stored)
        scale = xnp.where(xnp.abs(f) > big, _k(z, 1 / big), xnp.ones_like(z))
        return f1 * scale, f * scale, bs * scale, stored * scale

    init = (xnp.zeros_like(z), xnp.ones_like(z), xnp.zeros_like(z),
            xnp.zeros((v + 1,) + get_aval(z).shape, get_aval(z).dtype))
    _, _, bs, stored = lax.fori_loop(0, n_iter + 1, step, init)
    out = stored / bs
    return xnp.where(small, _bessel_jn_small(z, v), out)


# ---------------------------------------------------------------------------------------------
# Dawson's integral


@custom_jvp
def _dawsn(x):
    # D(x) = x / (1 + 2x^2 - 4x^2 / (3 + 2x^2 - 8x^2 / (5 + 2x^2 - ...))), a continued fraction
    # that converges for every real x; 80 levels evaluated bottom-up reach float64's precision.
    huge = xnp.abs(x) > 1e6
    xs = xnp.where(huge, xnp.ones_like(x), x)
    x2 = xs * xs
    t = 159 + 2 * x2
    for k in range(79, 0, -1):
        t = (2 * k - 1 + 2 * x2) - 4 * k * x2 / t
    return xnp.where(huge, 0.5 / x, xs / t)


_dawsn.defjvps(lambda t, ans, x: t * (1 - 2 * x * ans))


@_jit
def dawsn(x: ArrayLike) -> Array:
    """Dawson's integral ``exp(-x**2) int_0^x exp(t**2) dt``."""
    x, = promote_args_inexact("dawsn", x)
    _real_only("dawsn", x)
    return _dawsn(x)


# ---------------------------------------------------------------------------------------------
# Fresnel integrals


def _fresnel_series(x):
    """S and C by their power series (|x| < 1.5)."""
    s, c = xnp.zeros_like(x), xnp.zeros_like(x)
    u = _k(x, math.pi / 2) * x * x
    term = x  # (-1)^(n // 2) u^n / n! x
    for n in range(0, 40):
        if n:
            term = term * u / n
            if n % 2 == 0:
                term = -term
        if n % 2:
            s = s + term / (2 * n + 1)
        else:
            c = c + term / (2 * n + 1)
    return s, c


def _fresnel_fraction(x, enabled):
    """S and C for x >= 1.5 from the continued fraction of erfc, by the modified Lentz method
    in real pairs."""
    from xtrace._src.lax_special import _masked_loop
    eps, tiny = np.finfo(get_aval(x).dtype).eps, np.finfo(get_aval(x).dtype).tiny
    pix2 = _k(x, math.pi) * x * x

    def cmul(p, q):
        return p[0] * q[0] - p[1] * q[1], p[0] * q[1] + p[1] * q[0]

    def cinv(p):
        den = p[0] * p[0] + p[1] * p[1]
        den = xnp.where(den < tiny, _k(den, tiny), den)
        return p[0] / den, -p[1] / den

    def step(st):
        n, br, bi, cr, ci_, dr, di, hr, hi = st
        n = n + 2
        a = -n * (n + 1)
        br = br + 4
        d = cinv((a * dr + br, a * di + bi))
        ic = cinv((cr, ci_))
        c = (br + a * ic[0], bi + a * ic[1])
        delta = cmul(c, d)
        h = cmul((hr, hi), delta)
        done = xnp.abs(delta[0] - 1) + xnp.abs(delta[1]) <= eps
        return (n, br, bi, c[0], c[1], d[0], d[1], h[0], h[1]), done

    one, zero = xnp.ones_like(x), xnp.zeros_like(x)
    d0 = cinv((one, -pix2))
    st = (-one, one, -pix2, xnp.full_like(x, 1 / tiny), zero, d0[0], d0[1], d0[0], d0[1])
    st = _masked_loop(step, enabled, st, 1000)
    h = cmul((st[7], st[8]), (x, -x))
    e = cmul((xnp.cos(0.5 * pix2), xnp.sin(0.5 * pix2)), h)
    cs = cmul((_k(x, 0.5), _k(x, 0.5)), (1 - e[0], -e[1]))
    return cs[1], cs[0]


@custom_jvp
def _fresnel(x):
    t = xnp.abs(x)
    small = t < 1.5
    s_s, c_s = _fresnel_series(xnp.where(small, t, xnp.ones_like(t)))
    tl = xnp.where(small | ~xnp.isfinite(t), _k(t, 2), t)
    s_l, c_l = _fresnel_fraction(tl, ~small & xnp.isfinite(t))
    s = xnp.where(small, s_s, xnp.where(t == np.inf, _k(t, 0.5), s_l))
    c = xnp.where(small, c_s, xnp.where(t == np.inf, _k(t, 0.5), c_l))
    neg = x < 0
    return xnp.where(neg, -s, s), xnp.where(neg, -c, c)


@_fresnel.defjvp
def _fresnel_jvp(primals, tangents):
    x, = primals
    t, = tangents
    s, c = _fresnel(x)
    arg = _k(x, math.pi / 2) * x * x
    return (s, c), (t * xnp.sin(arg), t * xnp.cos(arg))


@_jit
def fresnel(x: ArrayLike) -> tuple[Array, Array]:
    """The Fresnel integrals ``(S(x), C(x))``: ``int_0^x sin(pi t^2 / 2) dt`` and the cosine
    one."""
    x, = promote_args_inexact("fresnel", x)
    _real_only("fresnel", x)
    return _fresnel(x)
