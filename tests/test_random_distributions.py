"""The samplers of xtrace.random beyond uniform/normal/...: JAX's numbers and the
distributions' statistics.

``test_matches_jax`` evaluates each expression recorded by
``tests/data/record_random_distributions.py`` (JAX 0.10.2) with xtrace and compares: bit-exact
where the case's ``rtol`` is 0, within ``rtol`` (a few float32 ulps) otherwise. The statistics
tests use fixed keys, so they are deterministic; their tolerances are several standard errors.
"""
import json
import os

import numpy as np
import pytest
from scipy import special, stats

import xtrace
import xtrace.random as r

_PATH = os.path.join(os.path.dirname(__file__), "data", "random-distributions-answers.json")
with open(_PATH) as _fh:
    _CASES = json.load(_fh)["cases"]


def _env():
    return {"r": r, "np": np, "K": r.PRNGKey(0), "KS": r.split(r.PRNGKey(42), 3),
            "jit": xtrace.jit, "vmap": xtrace.vmap, "grad": xtrace.grad}


def _expected(case):
    vals = np.array(case["values"], dtype=np.float64)
    if case["dtype"].startswith("complex"):
        vals = vals[:, 0] + 1j * vals[:, 1]
    return vals.reshape(case["shape"])


@pytest.mark.parametrize("name", sorted(_CASES))
def test_matches_jax(name):
    case = _CASES[name]
    got = np.asarray(eval(case["expr"], _env()))
    want = _expected(case)
    assert got.dtype.name == case["dtype"] and got.shape == want.shape, case["expr"]
    if case["rtol"] == 0:
        np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=case["expr"])
    else:
        np.testing.assert_allclose(got, want, rtol=case["rtol"], atol=case["rtol"],
                                   err_msg=case["expr"])


# ---------------------------------------------------------------------------------------------
# Statistics


def _check_moments(x, mean, var, axis=0, k=5.0):
    """Sample mean and variance within ``k`` standard errors (normal approximations)."""
    n = x.shape[axis]
    m, v = x.mean(axis), x.var(axis, ddof=1)
    np.testing.assert_array_less(np.abs(m - mean), k * np.sqrt(var / n))
    np.testing.assert_array_less(np.abs(v - var), k * var * np.sqrt(2.0 / n) * 3)


def test_gamma_family_statistics():
    a = np.array([0.3, 2.0, 15.0], np.float32)
    keys = r.split(r.PRNGKey(7), 4)
    x = np.asarray(r.gamma(keys[0], a, (3000, 3)), np.float64)
    assert x.dtype == np.float64 and (x > 0).all()
    _check_moments(x, a, a)
    for j in range(3):  # Kolmogorov-Smirnov against SciPy's CDF
        assert stats.kstest(x[:, j], stats.gamma(a[j]).cdf).pvalue > 1e-3
    lg = np.asarray(r.loggamma(keys[0], a, (3000, 3)))
    np.testing.assert_allclose(np.exp(lg), x, rtol=2e-5, atol=1e-30)
    b = np.asarray(r.beta(keys[1], 2.0, 5.0, (3000,)))
    assert stats.kstest(b, stats.beta(2, 5).cdf).pvalue > 1e-3
    t = np.asarray(r.t(keys[2], 4.0, (3000,)))
    assert stats.kstest(t, stats.t(4).cdf).pvalue > 1e-3
    d = np.asarray(r.dirichlet(keys[3], np.array([1.0, 2.0, 3.0]), (2000,)))
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)
    _check_moments(d, np.array([1, 2, 3]) / 6, np.array([5, 8, 9]) / 36 / 7)


def test_poisson_binomial_statistics():
    lam = np.array([0.7, 6.0, 40.0], np.float32)
    x = np.asarray(r.poisson(r.PRNGKey(3), lam, (4000, 3)))
    assert x.dtype == np.int32 and (x >= 0).all()
    _check_moments(x.astype(np.float64), lam, lam)
    n = np.array([8.0, 60.0, 500.0], np.float32)
    p = np.array([0.4, 0.3, 0.8], np.float32)
    y = np.asarray(r.binomial(r.PRNGKey(4), n, p, (4000, 3)), np.float64)
    assert (y >= 0).all() and (y <= n).all() and (y == np.round(y)).all()
    _check_moments(y, n * p, n * p * (1 - p))


def test_multinomial_counts():
    p = np.array([0.1, 0.6, 0.3], np.float32)
    x = np.asarray(r.multinomial(r.PRNGKey(5), 30.0, p, shape=(2000, 3)), np.float64)
    np.testing.assert_array_equal(x.sum(-1), 30)
    _check_moments(x, 30 * p, 30 * p * (1 - p))


@pytest.mark.parametrize("method", ["cholesky", "eigh", "svd"])
def test_multivariate_normal_covariance(method):
    mean = np.array([1.0, -2.0, 0.5], np.float32)
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]], np.float32)
    x = np.asarray(r.multivariate_normal(r.PRNGKey(11), mean, cov, (6000,), method=method))
    assert x.shape == (6000, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(0), mean, atol=0.08)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.12)


def test_multivariate_normal_singular_eigh():
    cov = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)  # rank 1: x0 == x1
    x = np.asarray(r.multivariate_normal(r.PRNGKey(2), np.zeros(2), cov, (50,), method="eigh"))
    np.testing.assert_allclose(x[:, 0], x[:, 1], atol=1e-5)


def test_orthogonal_is_orthogonal_and_haar():
    q = np.asarray(r.orthogonal(r.PRNGKey(1), 3, (400,)), np.float64)
    assert q.shape == (400, 3, 3)
    np.testing.assert_allclose(q @ q.transpose(0, 2, 1), np.broadcast_to(np.eye(3), q.shape),
                               atol=2e-6)
    # Haar measure: every entry has mean 0 and variance 1/n.
    _check_moments(q.reshape(400, 9), np.zeros(9), np.full(9, 1 / 3))
    w = np.asarray(r.orthogonal(r.PRNGKey(1), 2, m=5))
    np.testing.assert_allclose(w @ w.T, np.eye(2), atol=2e-6)


def test_closed_form_samplers_statistics():
    keys = r.split(r.PRNGKey(9), 4)
    n = 4000
    checks = [
        (r.cauchy(keys[0], (n,)), stats.cauchy.cdf),
        (r.rayleigh(keys[1], 2.0, (n,)), stats.rayleigh(scale=2).cdf),
        (r.weibull_min(keys[2], 1.5, 2.5, (n,)), stats.weibull_min(2.5, scale=1.5).cdf),
        (r.wald(keys[3], 1.5, (n,)), stats.invgauss(1.5).cdf),
        (r.maxwell(keys[0], (n,)), stats.maxwell.cdf),
        (r.pareto(keys[1], 3.0, (n,)), stats.pareto(3.0).cdf),
        (r.triangular(keys[2], -1.0, 0.5, 2.0, (n,)), stats.triang(0.5, loc=-1, scale=3).cdf),
        (r.lognormal(keys[3], 0.5, (n,)), stats.lognorm(0.5).cdf),
        (r.chisquare(keys[0], 3.0, (n,)), stats.chi2(3).cdf),
        (r.f(keys[1], 4.0, 7.0, (n,)), stats.f(4, 7).cdf),
        (r.generalized_normal(keys[2], 1.5, (n,)), stats.gennorm(1.5).cdf),
    ]
    for x, cdf in checks:
        assert stats.kstest(np.asarray(x, np.float64), cdf).pvalue > 1e-3


def test_discrete_and_ball():
    g = np.asarray(r.geometric(r.PRNGKey(8), 0.25, (4000,)))
    assert g.dtype == np.int32 and g.min() >= 1
    _check_moments(g.astype(np.float64), 4.0, 0.75 / 0.25 ** 2)
    b = np.asarray(r.ball(r.PRNGKey(8), 3, 1.0, (500,)))
    assert b.shape == (500, 3) and (np.abs(b).sum(-1) < 1).all()
    d = np.asarray(r.double_sided_maxwell(r.PRNGKey(8), 2.0, 0.5, (4000,)))
    _check_moments(d, 2.0, 3 * 0.25)


# ---------------------------------------------------------------------------------------------
# Gradients, transformations, shapes, dtypes and errors


def test_gamma_gradient_is_implicit_reparameterization():
    """d sample / d a = -(dF/da) / pdf at the sample, F the gamma CDF (SciPy's gammainc)."""
    a = np.array([0.4, 1.7, 6.0], np.float32)
    key = r.PRNGKey(12)
    x = np.asarray(r.gamma(key, a), np.float64)
    g = np.asarray(xtrace.grad(lambda a: r.gamma(key, a).sum())(a))
    h = 1e-5
    a64 = a.astype(np.float64)
    dF_da = (special.gammainc(a64 + h, x) - special.gammainc(a64 - h, x)) / (2 * h)
    np.testing.assert_allclose(g, -dF_da / stats.gamma(a64).pdf(x), rtol=2e-3)


def test_gamma_vmap_over_keys_and_parameters_matches_loop():
    keys = r.split(r.PRNGKey(5), 2)
    a = np.array([0.5, 3.0], np.float32)
    both = np.asarray(xtrace.vmap(lambda k, a: r.gamma(k, a, (2,)))(keys, a))
    for i in range(2):
        np.testing.assert_allclose(both[i], np.asarray(r.gamma(keys[i], a[i], (2,))),
                                   rtol=2e-6)


def test_shapes_and_dtypes():
    k = r.PRNGKey(0)
    assert r.double_sided_maxwell(k, np.zeros(3), 1.0, (2,)).shape == (2, 3)
    assert r.weibull_min(k, np.ones(3), 1.0, (2, 1)).shape == (2, 3)
    assert r.triangular(k, 0, 1, 2).dtype == np.float32
    assert r.geometric(k, np.array([1])).dtype == np.int32
    assert r.lognormal(k, shape=(2,), dtype=np.complex64).dtype == np.complex64
    assert r.multinomial(k, 10, np.array([0.5, 0.5])).dtype == np.float32
    assert r.multinomial(k, 10.0, np.array([0.5, 0.5]), shape=(3, 2)).shape == (3, 2)
    assert r.gamma(k, np.ones((0, 2))).shape == (0, 2)
    with xtrace.enable_x64():
        x = r.gamma(r.PRNGKey(0), 2.0, (3,))
        assert x.dtype == np.float64 and (np.asarray(x) > 0).all()
        assert r.poisson(r.PRNGKey(0), 3.0, (2,)).dtype == np.int64


def test_keys_helpers():
    k = r.PRNGKey(3)
    assert r.key_impl(k) == "threefry2x32" and r.key_impl(r.split(k, 3)) == "threefry2x32"
    np.testing.assert_array_equal(np.asarray(r.clone(k)), np.asarray(k))
    data = r.key_data(k)
    np.testing.assert_array_equal(np.asarray(r.wrap_key_data(data, impl="threefry2x32")),
                                  np.asarray(k))
    with pytest.raises(ValueError, match="rbg"):
        r.wrap_key_data(data, impl="rbg")
    with pytest.raises(TypeError):
        r.key_impl(np.zeros(3, np.float32))


@pytest.mark.parametrize("call, exc, match", [
    (lambda k: r.gamma(k, 2.0, dtype=np.int32), ValueError, "float dtype"),
    (lambda k: r.poisson(k, 2.0, (2,), np.float32), ValueError, "integer dtype"),
    (lambda k: r.geometric(k, 0.5, dtype=np.float32), ValueError, "int dtype"),
    (lambda k: r.binomial(k, 5.0, 0.5, dtype=np.int32), ValueError, "float dtype"),
    (lambda k: r.gamma(k, np.ones(3), (2,)), ValueError, r"\(2,\)"),
    (lambda k: r.poisson(k, np.ones(3), (2,)), ValueError, r"\(2,\)"),
    (lambda k: r.beta(k, 1j, 2.0), ValueError, "complex"),
    (lambda k: r.multivariate_normal(k, np.zeros(2), np.eye(2), method="qr"), ValueError,
     "method"),
    (lambda k: r.multivariate_normal(k, np.zeros(2), np.eye(3)), ValueError, r"\(3, 3\)"),
    (lambda k: r.dirichlet(k, 1.0), ValueError, "alpha.ndim"),
    (lambda k: r.orthogonal(k, 2.5), TypeError, ""),
    (lambda k: r.cauchy(k, dtype=np.int32), ValueError, "float dtype"),
    (lambda k: r.gamma(r.split(k, 2), 1.0), ValueError, r"\(2, 2\)"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(r.PRNGKey(0))
