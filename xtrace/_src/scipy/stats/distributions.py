"""``jax.scipy.stats`` distributions: log-densities, CDFs and quantiles with SciPy's
parameters (``loc``/``scale`` where SciPy has them), broadcasting, and JAX's values outside the
support (``-inf`` log-density, 0/1 CDF, NaN quantile outside [0, 1]).
"""
from __future__ import annotations

import math

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import lax
from xtrace._src.core import get_aval
from xtrace._src.nn.functions import _compiled
from xtrace._src.scipy import special as sp

_args = sp.promote_args_inexact


def _k(x, v):
    return np.asarray(v, get_aval(x).dtype)[()]


def _bad_q(q):
    return xnp.isnan(q) | (q < 0) | (q > 1)


# ---- norm ----
def norm_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("norm.logpdf", x, loc, scale)
    z = (x - loc) / scale
    return -0.5 * z * z - xnp.log(scale) - _k(x, 0.5 * math.log(2 * math.pi))


def norm_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("norm.cdf", x, loc, scale)
    return sp.ndtr((x - loc) / scale)


def norm_logcdf(x, loc=0, scale=1):
    x, loc, scale = _args("norm.logcdf", x, loc, scale)
    return sp.log_ndtr((x - loc) / scale)


def norm_sf(x, loc=0, scale=1):
    x, loc, scale = _args("norm.sf", x, loc, scale)
    return sp.ndtr((loc - x) / scale)


def norm_logsf(x, loc=0, scale=1):
    x, loc, scale = _args("norm.logsf", x, loc, scale)
    return sp.log_ndtr((loc - x) / scale)


def norm_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("norm.ppf", q, loc, scale)
    return sp.ndtri(q) * scale + loc


def norm_isf(q, loc=0, scale=1):
    q, loc, scale = _args("norm.isf", q, loc, scale)
    return -sp.ndtri(q) * scale + loc


# ---- expon ----
def expon_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.logpdf", x, loc, scale)
    return xnp.where(x < loc, _k(x, -np.inf), -((x - loc) / scale + xnp.log(scale)))


def expon_logsf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.logsf", x, loc, scale)
    return xnp.where(x < loc, _k(x, 0), (loc - x) / scale)


def expon_sf(x, loc=0, scale=1):
    return xnp.exp(expon_logsf(x, loc, scale))


def expon_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.cdf", x, loc, scale)
    return xnp.where(x < loc, _k(x, 0), -xnp.expm1((loc - x) / scale))


def expon_logcdf(x, loc=0, scale=1):
    return xnp.log1p(-expon_sf(x, loc, scale))


def expon_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("expon.ppf", q, loc, scale)
    return xnp.where(_bad_q(q), _k(q, np.nan), loc - scale * xnp.log1p(-q))


# ---- uniform ----
def uniform_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("uniform.logpdf", x, loc, scale)
    out = (x > loc + scale) | (x < loc)
    return xnp.where(out, _k(x, -np.inf), -xnp.log(scale))


def uniform_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("uniform.cdf", x, loc, scale)
    return xnp.where(x < loc, _k(x, 0), xnp.where(x > loc + scale, _k(x, 1), (x - loc) / scale))


def uniform_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("uniform.ppf", q, loc, scale)
    return xnp.where(_bad_q(q), _k(q, np.nan), loc + scale * q)


# ---- laplace ----
def laplace_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("laplace.logpdf", x, loc, scale)
    return -(xnp.abs(x - loc) / scale + xnp.log(2 * scale))


def laplace_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("laplace.cdf", x, loc, scale)
    d = (x - loc) / scale
    return xnp.where(d <= 0, 0.5 * xnp.exp(d), 1 - 0.5 * xnp.exp(-d))


# ---- logistic ----
def logistic_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("logistic.logpdf", x, loc, scale)
    h = (x - loc) / scale / 2
    return -2 * xnp.logaddexp(h, -h) - xnp.log(scale)


def logistic_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("logistic.cdf", x, loc, scale)
    return lax.logistic((x - loc) / scale)


def logistic_sf(x, loc=0, scale=1):
    x, loc, scale = _args("logistic.sf", x, loc, scale)
    return lax.logistic((loc - x) / scale)


def logistic_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("logistic.ppf", q, loc, scale)
    return sp.logit(q) * scale + loc


def logistic_isf(q, loc=0, scale=1):
    q, loc, scale = _args("logistic.isf", q, loc, scale)
    return -sp.logit(q) * scale + loc


# ---- cauchy ----
def cauchy_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("cauchy.logpdf", x, loc, scale)
    z = (x - loc) / scale
    return -(xnp.log(_k(x, np.pi) * scale) + xnp.log1p(z * z))


def cauchy_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("cauchy.cdf", x, loc, scale)
    return 0.5 + xnp.arctan((x - loc) / scale) / _k(x, np.pi)


def cauchy_logcdf(x, loc=0, scale=1):
    return xnp.log(cauchy_cdf(x, loc, scale))


def cauchy_sf(x, loc=0, scale=1):
    x, loc, scale = _args("cauchy.sf", x, loc, scale)
    return cauchy_cdf(-x, -loc, scale)


def cauchy_logsf(x, loc=0, scale=1):
    return xnp.log(cauchy_sf(x, loc, scale))


def cauchy_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("cauchy.ppf", q, loc, scale)
    return xnp.tan(_k(q, np.pi) * q - _k(q, np.pi / 2)) * scale + loc


def cauchy_isf(q, loc=0, scale=1):
    q, loc, scale = _args("cauchy.isf", q, loc, scale)
    return xnp.tan(_k(q, np.pi / 2) - _k(q, np.pi) * q) * scale + loc


# ---- t ----
def t_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    norm = (lax.lgamma(df / 2) + 0.5 * xnp.log(scale * scale * _k(x, np.pi) * df)
            - lax.lgamma(df / 2 + 0.5))
    return -(norm + (df + 1) / 2 * xnp.log1p(z * z / df))


# ---- chi2 and gamma ----
def chi2_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("chi2.logpdf", x, df, loc, scale)
    y = (x - loc) / scale
    out = ((df / 2 - 1) * xnp.log(y) - y / 2 - lax.lgamma(df / 2) - df / 2 * _k(x, math.log(2))
           - xnp.log(scale))
    return xnp.where(x < loc, _k(x, -np.inf), out)


def _chi2_y(x, loc, scale):
    return xnp.clip((x - loc) / (scale * 2), 0, np.inf)


def chi2_cdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("chi2.cdf", x, df, loc, scale)
    return lax.igamma(df / 2, _chi2_y(x, loc, scale))


def chi2_sf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("chi2.sf", x, df, loc, scale)
    return lax.igammac(df / 2, _chi2_y(x, loc, scale))


def chi2_logcdf(x, df, loc=0, scale=1):
    return xnp.log(chi2_cdf(x, df, loc, scale))


def chi2_logsf(x, df, loc=0, scale=1):
    return xnp.log(chi2_sf(x, df, loc, scale))


def gamma_logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _args("gamma.logpdf", x, a, loc, scale)
    ok = x >= loc
    y = xnp.where(ok, (x - loc) / scale, _k(x, 1))
    out = sp.xlogy(a - 1, y) - y - lax.lgamma(a) - xnp.log(scale)
    return xnp.where(ok, out, _k(x, -np.inf))


def gamma_cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _args("gamma.cdf", x, a, loc, scale)
    return lax.igamma(a, xnp.clip((x - loc) / scale, 0, np.inf))


def gamma_sf(x, a, loc=0, scale=1):
    x, a, loc, scale = _args("gamma.sf", x, a, loc, scale)
    y = (x - loc) / scale
    return xnp.where(y < 0, _k(y, 1), lax.igammac(a, xnp.maximum(y, _k(y, 0))))


def gamma_logcdf(x, a, loc=0, scale=1):
    return xnp.log(gamma_cdf(x, a, loc, scale))


def gamma_logsf(x, a, loc=0, scale=1):
    return xnp.log(gamma_sf(x, a, loc, scale))


# ---- beta ----
def beta_logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("beta.logpdf", x, a, b, loc, scale)
    y = (x - loc) / scale
    out = (sp.xlogy(a - 1, y) + sp.xlog1py(b - 1, -y) - sp.betaln(a, b) - xnp.log(scale))
    out = xnp.where((x > loc + scale) | (x < loc), _k(x, -np.inf), out)
    return xnp.where((a <= 0) | (b <= 0) | (scale <= 0), _k(x, np.nan), out)


def beta_cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("beta.cdf", x, a, b, loc, scale)
    return lax.betainc(a, b, xnp.clip((x - loc) / scale, 0, 1))


def beta_sf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("beta.sf", x, a, b, loc, scale)
    return lax.betainc(b, a, 1 - xnp.clip((x - loc) / scale, 0, 1))


def beta_logcdf(x, a, b, loc=0, scale=1):
    return xnp.log(beta_cdf(x, a, b, loc, scale))


def beta_logsf(x, a, b, loc=0, scale=1):
    return xnp.log(beta_sf(x, a, b, loc, scale))


# ---- pareto ----
def pareto_logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = _args("pareto.logpdf", x, b, loc, scale)
    y = (x - loc) / scale
    out = -(xnp.log(scale / b) + (b + 1) * xnp.log(y))
    return xnp.where(x < loc + scale, _k(x, -np.inf), out)


def pareto_cdf(x, b, loc=0, scale=1):
    x, b, loc, scale = _args("pareto.cdf", x, b, loc, scale)
    out = 1 - ((x - loc) / scale) ** (-b)
    return xnp.where(x < loc + scale, _k(x, 0), out)


def pareto_logcdf(x, b, loc=0, scale=1):
    x, b, loc, scale = _args("pareto.logcdf", x, b, loc, scale)
    out = xnp.log1p(-(((x - loc) / scale) ** (-b)))
    return xnp.where(x < loc + scale, _k(x, -np.inf), out)


def pareto_logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = _args("pareto.logsf", x, b, loc, scale)
    out = -b * xnp.log((x - loc) / scale)
    return xnp.where(x < loc + scale, _k(x, 0), out)


def pareto_sf(x, b, loc=0, scale=1):
    return xnp.exp(pareto_logsf(x, b, loc, scale))


def pareto_ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = _args("pareto.ppf", q, b, loc, scale)
    return xnp.where(_bad_q(q), _k(q, np.nan), loc + scale * (1 - q) ** (-1 / b))


# ---- gumbel_r, gumbel_l ----
def _nan_unless(ok, v):
    return xnp.where(ok, v, _k(v, np.nan))


def gumbel_r_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("gumbel_r.logpdf", x, loc, scale)
    z = (x - loc) / scale
    return _nan_unless(scale > 0, -xnp.log(scale) - (z + xnp.exp(-z)))


def gumbel_r_logcdf(x, loc=0, scale=1):
    x, loc, scale = _args("gumbel_r.logcdf", x, loc, scale)
    return _nan_unless(scale > 0, -xnp.exp(-(x - loc) / scale))


def gumbel_r_cdf(x, loc=0, scale=1):
    return xnp.exp(gumbel_r_logcdf(x, loc, scale))


def gumbel_r_sf(x, loc=0, scale=1):
    return -xnp.expm1(gumbel_r_logcdf(x, loc, scale))


def gumbel_r_logsf(x, loc=0, scale=1):
    from xtrace._src.nn.functions import log1mexp
    x, loc, scale = _args("gumbel_r.logsf", x, loc, scale)
    return _nan_unless(scale > 0, log1mexp(xnp.exp((loc - x) / scale)))


def gumbel_r_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("gumbel_r.ppf", q, loc, scale)
    return _nan_unless((q > 0) & (q < 1), loc - scale * xnp.log(-xnp.log(q)))


def gumbel_l_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("gumbel_l.logpdf", x, loc, scale)
    return gumbel_r_logpdf(-x, -loc, scale)


def gumbel_l_logsf(x, loc=0, scale=1):
    x, loc, scale = _args("gumbel_l.logsf", x, loc, scale)
    return gumbel_r_logcdf(-x, -loc, scale)


def gumbel_l_sf(x, loc=0, scale=1):
    return xnp.exp(gumbel_l_logsf(x, loc, scale))


def gumbel_l_cdf(x, loc=0, scale=1):
    return -xnp.expm1(gumbel_l_logsf(x, loc, scale))


def gumbel_l_logcdf(x, loc=0, scale=1):
    x, loc, scale = _args("gumbel_l.logcdf", x, loc, scale)
    return gumbel_r_logsf(-x, -loc, scale)


def gumbel_l_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("gumbel_l.ppf", q, loc, scale)
    return _nan_unless((q > 0) & (q < 1), loc + scale * xnp.log(-xnp.log1p(-q)))


# ---- discrete ----
def poisson_logpmf(k, mu, loc=0):
    k, mu, loc = _args("poisson.logpmf", k, mu, loc)
    x = k - loc
    out = sp.xlogy(x, mu) - lax.lgamma(x + 1) - mu
    return xnp.where((x < 0) | (xnp.round(k) != k), _k(k, -np.inf), out)


def poisson_cdf(k, mu, loc=0):
    k, mu, loc = _args("poisson.cdf", k, mu, loc)
    x = k - loc
    return xnp.where(x < 0, _k(k, 0), lax.igammac(xnp.floor(1 + xnp.maximum(x, _k(x, 0))), mu))


def _poisson_entropy_sum(mu, kmax, bound):
    k = np.arange(kmax, dtype=get_aval(mu).dtype)
    m = xnp.expand_dims(mu, -1)
    logp = sp.xlogy(k, m) - lax.lgamma(k + 1) - m
    terms = -xnp.exp(logp) * logp
    return xnp.sum(xnp.where(k < xnp.expand_dims(bound, -1), terms, _k(mu, 0)), -1)


def poisson_entropy(mu, loc=0):
    """The entropy of ``scipy.stats.poisson(mu)`` (``loc`` does not change it): a direct sum
    below ``mu = 100``, the asymptotic expansion above."""
    mu, loc = _args("poisson.entropy", mu, loc)
    small = _poisson_entropy_sum(mu, 35, xnp.ceil(mu + 20))
    medium = _poisson_entropy_sum(mu, 250, xnp.ceil(mu + 10 * xnp.sqrt(mu) + 20))
    large = 0.5 * xnp.log(_k(mu, 2 * np.pi * np.e) * mu) - 1 / (12 * mu)
    out = xnp.where(mu < 10, small, xnp.where(mu < 100, medium, large))
    return xnp.where(mu == 0, _k(mu, 0), out)


def bernoulli_logpmf(k, p, loc=0):
    k, p, loc = _args("bernoulli.logpmf", k, p, loc)
    x = k - loc
    out = sp.xlogy(x, p) + sp.xlog1py(1 - x, -p)
    return xnp.where((x < 0) | (x > 1), _k(k, -np.inf), out)


def bernoulli_cdf(k, p):
    k, p = _args("bernoulli.cdf", k, p)
    bad = xnp.isnan(k) | xnp.isnan(p) | (p < 0) | (p > 1)
    out = xnp.where(k < 0, _k(k, 0), xnp.where(k < 1, 1 - p, _k(k, 1)))
    return _nan_unless(~bad, out)


def bernoulli_ppf(q, p):
    q, p = _args("bernoulli.ppf", q, p)
    bad = xnp.isnan(q) | xnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return _nan_unless(~bad, xnp.where(q <= 1 - p, _k(q, 0), _k(q, 1)))


def binom_logpmf(k, n, p, loc=0):
    k, n, p, loc = _args("binom.logpmf", k, n, p, loc)
    y = k - loc
    comb = lax.lgamma(n + 1) - lax.lgamma(y + 1) - lax.lgamma(n - y + 1)
    lin = sp.xlogy(y, p) + sp.xlog1py(n - y, -p)
    out = xnp.where(((y == 0) & (n == 0)) | (lin == 0), _k(k, 0), comb + lin)
    return xnp.where((k >= loc) & (k < loc + n + 1), out, _k(k, -np.inf))


def nbinom_logpmf(k, n, p, loc=0):
    k, n, p, loc = _args("nbinom.logpmf", k, n, p, loc)
    y = k - loc
    out = (lax.lgamma(y + n) - lax.lgamma(n) - lax.lgamma(y + 1) + sp.xlogy(n, p)
           + sp.xlogy(y, 1 - p))
    return xnp.where(k < loc, _k(k, -np.inf), out)


def geom_logpmf(k, p, loc=0):
    k, p, loc = _args("geom.logpmf", k, p, loc)
    x = k - loc
    out = sp.xlog1py(x - 1, -p) + xnp.log(p)
    return xnp.where(x <= 0, _k(k, -np.inf), out)


def betabinom_logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = _args("betabinom.logpmf", k, n, a, b, loc)
    y = k - loc
    comb = lax.lgamma(n + 1) - lax.lgamma(y + 1) - lax.lgamma(n - y + 1)
    out = comb + sp.betaln(y + a, n - y + b) - sp.betaln(a, b)
    out = xnp.where((y < 0) | (y > n), _k(k, -np.inf), out)
    return xnp.where((a <= 0) | (b <= 0) | (n < 0), _k(k, np.nan), out)


# ---- gennorm, vonmises, wrapcauchy ----
def gennorm_logpdf(x, beta):
    x, beta = _args("gennorm.logpdf", x, beta)
    return xnp.log(0.5 * beta) - lax.lgamma(1 / beta) - xnp.abs(x) ** beta


def gennorm_cdf(x, beta):
    x, beta = _args("gennorm.cdf", x, beta)
    return 0.5 * (1 + xnp.sign(x) * lax.igamma(1 / beta, xnp.abs(x) ** beta))


def vonmises_logpdf(x, kappa):
    x, kappa = _args("vonmises.logpdf", x, kappa)
    out = kappa * (xnp.cos(x) - 1) - xnp.log(_k(x, 2 * np.pi) * lax.bessel_i0e(kappa))
    return _nan_unless(kappa > 0, out)


def wrapcauchy_logpdf(x, c):
    x, c = _args("wrapcauchy.logpdf", x, c)
    out = (xnp.log(1 - c * c) - _k(x, math.log(2 * np.pi))
           - xnp.log(1 + c * c - 2 * c * xnp.cos(x)))
    out = xnp.where((x >= 0) & (x <= _k(x, 2 * np.pi)), out, _k(x, -np.inf))
    return _nan_unless((c > 0) & (c < 1), out)


# ---- truncnorm ----
def _log_diff(lx, ly):
    """log(exp(lx) - exp(ly)) for lx >= ly."""
    from xtrace._src.nn.functions import log1mexp
    return lx + log1mexp(lx - ly)


def _log_gauss_mass(a, b):
    """log(ndtr(b) - ndtr(a)), accurate in both tails."""
    left, right = b <= 0, a > 0
    a_t, b_t = xnp.where(right, -b, a), xnp.where(right, -a, b)
    tail = _log_diff(sp.log_ndtr(b_t), sp.log_ndtr(a_t))
    central = xnp.log1p(-sp.ndtr(a) - sp.ndtr(-b))
    return xnp.where(left | right, tail, central)


def truncnorm_logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("truncnorm.logpdf", x, a, b, loc, scale)
    z = (x - loc) / scale
    out = norm_logpdf(x, loc, scale) - _log_gauss_mass(a, b)
    out = xnp.where((z < a) | (z > b), _k(x, -np.inf), out)
    return xnp.where(a >= b, _k(x, np.nan), out)


def truncnorm_logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("truncnorm.logcdf", x, a, b, loc, scale)
    from xtrace._src.nn.functions import log1mexp
    z = (x - loc) / scale
    mass = _log_gauss_mass(a, b)
    zc = xnp.clip(z, a, b)
    logcdf = _log_gauss_mass(a, zc) - mass
    logsf = _log_gauss_mass(zc, b) - mass
    out = xnp.where(logcdf > -0.1, log1mexp(-logsf), logcdf)
    out = xnp.where(z <= a, _k(x, -np.inf), out)
    out = xnp.where(z >= b, _k(x, 0), out)
    return xnp.where(a >= b, _k(x, np.nan), out)


def truncnorm_logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("truncnorm.logsf", x, a, b, loc, scale)
    return truncnorm_logcdf(-x, -b, -a, -loc, scale)


def truncnorm_cdf(x, a, b, loc=0, scale=1):
    return xnp.exp(truncnorm_logcdf(x, a, b, loc, scale))


def truncnorm_sf(x, a, b, loc=0, scale=1):
    return xnp.exp(truncnorm_logsf(x, a, b, loc, scale))


# ---- multivariate ----
def dirichlet_logpdf(x, alpha):
    x, alpha = sp.promote_dtypes_inexact("dirichlet.logpdf", x, alpha)
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    if x.ndim == 0 or x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError("`x` must have either the same number of entries as `alpha` or one "
                         f"entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] != alpha.shape[0]:
        x = xnp.concatenate([x, 1 - xnp.sum(x, 0, keepdims=True)], axis=0)
    norm = xnp.sum(lax.lgamma(alpha)) - lax.lgamma(xnp.sum(alpha))
    alpha = xnp.reshape(alpha, alpha.shape + (1,) * (x.ndim - 1))
    out = xnp.sum(sp.xlogy(alpha - 1, x), axis=0) - norm
    simplex = xnp.all(x > 0, axis=0) & (xnp.abs(xnp.sum(x, axis=0) - 1) < 1e-6)
    return xnp.where(simplex, out, _k(out, -np.inf))


def multivariate_normal_logpdf(x, mean, cov, allow_singular=None):
    """The log density of ``scipy.stats.multivariate_normal`` (``cov``: a scalar, or a
    positive-definite ``(..., n, n)`` matrix; batch dimensions broadcast)."""
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = sp.promote_dtypes_inexact("multivariate_normal.logpdf", x, mean, cov)
    log2pi = _k(x, math.log(2 * math.pi))
    if not mean.shape:
        return -0.5 * (x - mean) ** 2 / cov - 0.5 * (log2pi + xnp.log(cov))
    n = mean.shape[-1]
    y = x - mean
    if not cov.shape:
        return -0.5 * xnp.sum(y * y, axis=-1) / cov - n / 2 * (log2pi + xnp.log(cov))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError("multivariate_normal.logpdf got incompatible shapes: mean "
                         f"{mean.shape}, cov {cov.shape} (cov must end in ({n}, {n}))")
    # Mahalanobis distance and log-determinant from the eigendecomposition of cov.
    w, v = xnp.linalg.eigh(cov)
    proj = xnp.einsum("...ji,...j->...i", v, y)
    maha = xnp.sum(proj * proj / w, axis=-1)
    return -0.5 * maha - n / 2 * log2pi - 0.5 * xnp.sum(xnp.log(w), axis=-1)


def multinomial_logpmf(x, n, p):
    p, = sp.promote_dtypes_inexact("multinomial.logpmf", p)
    x, n = xnp.asarray(x), xnp.asarray(n)
    if not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(n.dtype, np.integer)):
        raise ValueError(f"x and n must be of integer type; got x.dtype={x.dtype}, "
                         f"n.dtype={n.dtype}")
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    out = lax.lgamma(n + 1) + xnp.sum(sp.xlogy(x, p) - lax.lgamma(x + 1), axis=-1)
    return xnp.where(xnp.sum(x) == n, out, _k(out, -np.inf))


def _exp_of(logf):
    def f(*args, **kwargs):
        return xnp.exp(logf(*args, **kwargs))
    return f


_NAMES = {"pdf": "density", "logpdf": "log density", "pmf": "probability mass",
          "logpmf": "log probability mass", "cdf": "CDF", "logcdf": "log CDF",
          "sf": "survival function 1 - CDF", "logsf": "log survival function",
          "ppf": "quantile function (inverse CDF)", "isf": "inverse survival function"}

for _name, _f in list(globals().items()):
    _dist, _, _fn = _name.rpartition("_")
    if callable(_f) and _fn in _NAMES and _dist and not _name.startswith("_"):
        if not _f.__doc__:
            _f.__doc__ = f"The {_NAMES[_fn]} of ``scipy.stats.{_dist}``."
        _f.__name__ = _fn
        _f.__qualname__ = _fn
poisson_entropy.__name__ = poisson_entropy.__qualname__ = "entropy"
poisson_entropy = _compiled()(poisson_entropy)
for _dist, _log in [(d, n) for n in list(globals()) if n.endswith(("_logpdf", "_logpmf"))
                    for d in [n.rsplit("_", 1)[0]]]:
    _plain = _log.replace("_log", "_", 1).replace("__", "_")
    if _plain not in globals():
        _g = _exp_of(globals()[_log])
        _g.__name__ = _g.__qualname__ = _plain.rsplit("_", 1)[1]
        _g.__doc__ = f"The {_NAMES[_g.__name__]} of ``scipy.stats.{_dist}``."
        globals()[_plain] = _g
# Eager calls run as one compiled program each (tracers and unusual arguments take the plain
# path); the wrapper keeps the function's name and docstring.
for _name, _f in list(globals().items()):
    if callable(_f) and _name.rpartition("_")[2] in _NAMES and not _name.startswith("_") \
            and _f.__module__ == __name__:
        globals()[_name] = _compiled()(_f)
