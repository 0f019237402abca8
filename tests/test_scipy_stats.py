"""xtrace.scipy.stats distributions against scipy.stats."""
import numpy as np
import pytest
import scipy.stats as ss

import xtrace
import xtrace.scipy.stats as xst

X = np.array([-1.5, -0.2, 0.0, 0.3, 0.9, 1.7, 3.2], np.float32)
Q = np.array([0.0, 0.01, 0.2, 0.5, 0.93, 1.0], np.float32)
K = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 5.0], np.float32)

CONT = [  # distribution, shape parameters, loc, scale, functions
    ("norm", (), 0.5, 2.0, "logpdf pdf cdf logcdf sf logsf ppf isf"),
    ("expon", (), -0.5, 1.5, "logpdf pdf cdf logcdf sf logsf ppf"),
    ("uniform", (), -0.5, 2.0, "logpdf pdf cdf ppf"),
    ("laplace", (), 0.3, 1.2, "logpdf pdf cdf"),
    ("logistic", (), 0.3, 1.2, "logpdf pdf cdf sf ppf isf"),
    ("cauchy", (), 0.3, 1.2, "logpdf pdf cdf logcdf sf logsf ppf isf"),
    ("t", (3.5,), 0.3, 1.2, "logpdf pdf"),
    ("chi2", (3.0,), -1.6, 1.3, "logpdf pdf cdf logcdf sf logsf"),
    ("gamma", (2.5,), -1.6, 1.3, "logpdf pdf cdf logcdf sf logsf"),
    ("beta", (2.0, 3.5), -1.6, 5.0, "logpdf pdf cdf logcdf sf logsf"),
    ("pareto", (2.5,), -1.0, 0.8, "logpdf pdf cdf logcdf sf logsf ppf"),
    ("gumbel_r", (), 0.3, 1.2, "logpdf pdf cdf logcdf sf logsf ppf"),
    ("gumbel_l", (), 0.3, 1.2, "logpdf pdf cdf logcdf sf logsf ppf"),
]


@pytest.mark.filterwarnings("ignore:jit-compiled function")  # one program per distribution
@pytest.mark.parametrize("dist,shape,loc,scale,fns", CONT, ids=[c[0] for c in CONT])
def test_continuous_against_scipy(dist, shape, loc, scale, fns):
    ref, mod, fns = getattr(ss, dist), getattr(xst, dist), fns.split()
    # quantiles at 0 and 1 follow JAX (gumbel: NaN, cauchy: tan(-+pi/2)), not SciPy
    q = Q if dist not in ("cauchy", "gumbel_r", "gumbel_l") else Q[1:-1]

    @xtrace.jit  # one program per distribution
    def all_fns(x, q, *params):
        return [getattr(mod, fn)(q if fn in ("ppf", "isf") else x, *params) for fn in fns]

    outs = all_fns(X, q, *[np.float32(s) for s in shape], np.float32(loc), np.float32(scale))
    for fn, out in zip(fns, outs):
        assert out.dtype == np.float32, (dist, fn)
        arg = q if fn in ("ppf", "isf") else X
        want = getattr(ref, fn)(arg.astype(np.float64), *shape, loc=loc, scale=scale)
        np.testing.assert_allclose(np.asarray(out), want, rtol=2e-4, atol=1e-5,
                                   err_msg=f"{dist}.{fn}")


DISC = [
    ("poisson", (2.5,), "logpmf pmf cdf"), ("bernoulli", (0.3,), "logpmf pmf cdf"),
    ("binom", (4.0, 0.35), "logpmf pmf"), ("nbinom", (3.0, 0.4), "logpmf pmf"),
    ("geom", (0.3,), "logpmf pmf"), ("betabinom", (5.0, 2.0, 3.5), "logpmf pmf"),
]


@pytest.mark.parametrize("dist,shape,fns", DISC, ids=[c[0] for c in DISC])
def test_discrete_against_scipy(dist, shape, fns):
    ref = getattr(ss, dist)
    for fn in fns.split():
        out = getattr(getattr(xst, dist), fn)(K, *shape)
        want = getattr(ref, fn)(K.astype(np.float64), *shape)
        np.testing.assert_allclose(np.asarray(out), want, rtol=2e-5, atol=1e-6,
                                   err_msg=f"{dist}.{fn}")


def test_shape_only_distributions():
    x = np.linspace(-2, 2, 5).astype(np.float32)
    checks = [
        (xst.truncnorm.logpdf(x, -1.0, 1.5), ss.truncnorm.logpdf(x, -1.0, 1.5)),
        (xst.truncnorm.logcdf(x, -1.0, 1.5), ss.truncnorm.logcdf(x, -1.0, 1.5)),
        (xst.truncnorm.sf(x, -1.0, 1.5, 0.2, 1.3), ss.truncnorm.sf(x, -1.0, 1.5, 0.2, 1.3)),
        (xst.gennorm.logpdf(x, 1.5), ss.gennorm.logpdf(x, 1.5)),
        (xst.gennorm.cdf(x, 1.5), ss.gennorm.cdf(x, 1.5)),
        (xst.vonmises.logpdf(x, 1.5), ss.vonmises.logpdf(x, 1.5)),
        (xst.wrapcauchy.logpdf(x + 2, 0.5), ss.wrapcauchy.logpdf(x + 2, 0.5)),
    ]
    a, pts = np.array([1.5, 2.0, 3.0]), np.array([[0.2, 0.3], [0.3, 0.5], [0.5, 0.2]])
    checks.append((xst.dirichlet.logpdf(pts, a), ss.dirichlet.logpdf(pts, a)))
    checks.append((xst.dirichlet.logpdf(pts[:2], a), ss.dirichlet.logpdf(pts, a)))
    checks.append((xst.multinomial.logpmf(np.array([1, 2, 3]), 6, np.array([0.2, 0.3, 0.5])),
                   ss.multinomial.logpmf([1, 2, 3], 6, [0.2, 0.3, 0.5])))
    cov, m = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([0.1, -0.2])
    y = np.array([[0.0, 1.0], [1.0, -1.0], [0.3, 0.3]])
    checks.append((xst.multivariate_normal.logpdf(y, m, cov),
                   ss.multivariate_normal.logpdf(y, m, cov)))
    checks.append((xst.multivariate_normal.pdf(y, m, 1.5),
                   ss.multivariate_normal.pdf(y, m, 1.5)))
    for i, (out, want) in enumerate(checks):
        np.testing.assert_allclose(np.asarray(out), want, rtol=2e-5, atol=1e-6, err_msg=str(i))
    g = xtrace.jit(xtrace.grad(lambda mu: xst.multivariate_normal.logpdf(y[0], mu, cov)))(m)
    np.testing.assert_allclose(np.asarray(g), np.linalg.solve(cov, y[0] - m), rtol=1e-5)
    assert np.isnan(float(xst.truncnorm.logpdf(0.0, 1.0, 0.5)))
    assert np.isnan(float(xst.vonmises.logpdf(0.0, -1.0)))
    assert float(xst.dirichlet.logpdf(np.array([0.5, 0.6]), np.ones(2))) == -np.inf
    with pytest.raises(ValueError, match="incompatible shapes"):
        xst.multivariate_normal.logpdf(y, m, np.eye(3))
    with pytest.raises(ValueError, match="one-dimensional"):
        xst.dirichlet.logpdf(pts, np.ones((3, 1)))
    with pytest.raises(ValueError, match="integer"):
        xst.multinomial.logpmf(np.array([1.0, 2.0]), 3, np.array([0.5, 0.5]))


def test_poisson_entropy():
    mu = np.array([0.0, 0.5, 3.0, 9.9, 10.0, 50.0, 99.0, 100.0, 300.0], np.float32)
    np.testing.assert_allclose(np.asarray(xst.poisson.entropy(mu)), ss.poisson.entropy(mu),
                               rtol=5e-6, atol=1e-7)


def test_broadcasting_dtypes_and_defaults():
    out = xst.norm.logpdf(np.zeros((3, 1), np.float32), np.arange(4.0, dtype=np.float32))
    assert out.shape == (3, 4) and out.dtype == np.float32
    assert xst.norm.cdf(1).dtype == np.float32  # ints promote to the default float
    np.testing.assert_allclose(np.asarray(xst.norm.cdf(1)), ss.norm.cdf(1), rtol=1e-6)
    with xtrace.enable_x64():
        x = np.linspace(-3, 3, 5)
        assert xst.gamma.cdf(x, 2.0).dtype == np.float64
        np.testing.assert_allclose(np.asarray(xst.gamma.cdf(x, 2.0)), ss.gamma.cdf(x, 2.0),
                                   rtol=1e-12)
        np.testing.assert_allclose(np.asarray(xst.norm.logcdf(np.array([-40.0, 2.0]))),
                                   ss.norm.logcdf([-40.0, 2.0]), rtol=1e-12)


def test_out_of_support_values():
    assert float(xst.poisson.logpmf(1.5, 2.0)) == -np.inf
    assert np.isnan(float(xst.expon.ppf(1.5)))
    assert np.isnan(float(xst.gumbel_r.logpdf(0.0, 0.0, -1.0)))
    assert np.isnan(float(xst.gumbel_r.ppf(0.0))) and np.isnan(float(xst.gumbel_l.ppf(1.0)))
    assert np.isnan(float(xst.beta.logpdf(0.5, -1.0, 2.0)))
    np.testing.assert_array_equal(np.asarray(xst.bernoulli.ppf(np.float32([0.2, 0.9, 2.0]), 0.3)),
                                  [0, 1, np.nan])


def test_grad_and_vmap():
    g = xtrace.grad(lambda m: xst.norm.logpdf(1.0, m, 2.0))(0.5)
    np.testing.assert_allclose(float(g), (1.0 - 0.5) / 4.0, rtol=1e-6)
    ga = xtrace.grad(lambda x: xst.gamma.cdf(x, 2.5))(1.3)
    np.testing.assert_allclose(float(ga), ss.gamma.pdf(1.3, 2.5), rtol=1e-5)
    v = xtrace.vmap(lambda mu: xst.poisson.logpmf(K, mu))(np.float32([0.5, 2.0]))
    np.testing.assert_allclose(np.asarray(v), ss.poisson.logpmf(K, [[0.5], [2.0]]), rtol=1e-5)


def test_rankdata_sem_mode():
    a = np.array([[3.0, 1, 2, 3], [2, 2, 5, 1], [0, 4, 4, 4]], np.float32)
    for method in ("average", "min", "max", "dense", "ordinal"):
        np.testing.assert_array_equal(np.asarray(xst.rankdata(a, method)),
                                      ss.rankdata(a, method), err_msg=method)
    np.testing.assert_array_equal(np.asarray(xst.rankdata(a, axis=1)), ss.rankdata(a, axis=1))
    assert np.isnan(np.asarray(xst.rankdata(np.array([1.0, np.nan])))).all()
    np.testing.assert_allclose(np.asarray(xst.sem(a)), ss.sem(a), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(xst.sem(a, axis=None, ddof=0)),
                               ss.sem(a, axis=None, ddof=0), rtol=1e-6)
    r = xst.mode(a, axis=1)
    want = ss.mode(a, axis=1)
    np.testing.assert_array_equal(np.asarray(r.mode), want.mode)
    np.testing.assert_array_equal(np.asarray(r.count), want.count)
    r = xst.mode(a, axis=None, keepdims=True)
    assert r.mode.shape == (1, 1) and float(r.mode[0, 0]) == 2.0 and int(r.count[0, 0]) == 3
    with pytest.raises(ValueError, match="unknown method"):
        xst.rankdata(a, "middle")
    with pytest.raises(ValueError, match="nan_policy"):
        xst.mode(a, nan_policy="ignore")
