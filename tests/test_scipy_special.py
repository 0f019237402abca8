"""xtrace.scipy.special and the composite lax special functions, against SciPy."""
import numpy as np
import pytest
import scipy.special as sc

import xtrace
import xtrace.numpy as xnp
import xtrace.scipy.special as xsp
from xtrace import lax

RNG = np.random.default_rng(0)
POS = RNG.uniform(0.2, 6.0, 8)
REAL = RNG.uniform(-4.0, 4.0, 8)
UNIT = RNG.uniform(0.02, 0.98, 8)

UNARY = [  # name, inputs, rtol (float32)
    ("gammaln", POS, 2e-5), ("digamma", POS, 2e-5), ("gamma", POS, 2e-5),
    ("loggamma", POS, 2e-5), ("erf", REAL, 1e-6), ("erfc", REAL, 1e-5),
    ("erfinv", UNIT * 2 - 1, 1e-5), ("erfcx", REAL, 2e-5), ("ndtr", REAL, 1e-5),
    ("ndtri", UNIT, 1e-5), ("log_ndtr", REAL, 1e-5), ("expit", REAL, 1e-6),
    ("logit", UNIT, 2e-5), ("i0", REAL, 1e-5), ("i0e", REAL, 1e-5), ("i1", REAL, 1e-5),
    ("i1e", REAL, 1e-5), ("entr", POS, 1e-5), ("gammasgn", REAL, 0),
    ("expi", REAL, 2e-5), ("exp1", POS, 2e-5), ("spence", POS, 2e-5), ("dawsn", REAL, 2e-5),
]


@pytest.mark.parametrize("name,x,rtol", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float32(name, x, rtol):
    out = getattr(xsp, name)(x.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), getattr(sc, name)(x), rtol=rtol, atol=1e-6)


BINARY = [  # name, a, b, rtol (float32)
    ("gammainc", POS, POS * 1.3, 2e-5), ("gammaincc", POS, POS * 0.7, 2e-5),
    ("betaln", POS, POS[::-1], 2e-5), ("beta", POS, POS[::-1], 2e-5),
    ("xlogy", REAL, POS, 1e-6), ("xlog1py", REAL, POS, 1e-6), ("rel_entr", POS, POS[::-1], 2e-5),
    ("kl_div", POS, POS[::-1], 2e-5), ("zeta", POS + 1.2, POS, 2e-5),
    ("poch", POS, UNIT * 3, 5e-5),
    ("comb", np.floor(POS * 3), np.floor(POS), 5e-5), ("boxcox", POS, REAL / 4, 2e-5),
    ("boxcox1p", POS, REAL / 4, 2e-5),
]


@pytest.mark.parametrize("name,a,b,rtol", BINARY, ids=[u[0] for u in BINARY])
def test_binary_float32_jit(name, a, b, rtol):
    f = xtrace.jit(getattr(xsp, name))
    out = f(a.astype(np.float32), b.astype(np.float32))
    np.testing.assert_allclose(np.asarray(out), getattr(sc, name)(a, b), rtol=rtol, atol=1e-6)


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_float64_iterative():
    with xtrace.enable_x64():
        a = np.array([0.1, 0.5, 2.0, 3.0, 10.0, 30.0])
        x = np.array([0.01, 4.0, 2.0, 3.0, 12., 25.])
        np.testing.assert_allclose(np.asarray(xsp.gammainc(a, x)), sc.gammainc(a, x), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(xsp.gammaincc(a, x)), sc.gammaincc(a, x),
                                   rtol=1e-12)
        b, u = a[::-1] + 0.3, np.array([0.01, 0.3, 0.5, 0.7, 0.9, 0.99])
        np.testing.assert_allclose(np.asarray(xsp.betainc(a, b, u)), sc.betainc(a, b, u),
                                   rtol=1e-11)
        p = np.array([1e-300, 1e-20, 1e-5, 0.3, 0.9, 1 - 1e-12])
        np.testing.assert_allclose(np.asarray(xsp.ndtri(p)), sc.ndtri(p), rtol=1e-13)
        z = np.array([-60.0, -25.0, -3.0, 0.5, 9.0])
        np.testing.assert_allclose(np.asarray(xsp.log_ndtr(z)), sc.log_ndtr(z), rtol=1e-11)
        v = np.array([-30.0, -9.0, -0.5, 0.0, 3.0, 8.5, 50.0])
        for name in ("i0e", "i1e", "erfcx"):
            np.testing.assert_allclose(np.asarray(getattr(xsp, name)(v)), getattr(sc, name)(v),
                                       rtol=1e-13, err_msg=name)
        n = np.array([0, 1, 2, 3, 5, 10, 1, 3.0])
        e = np.array([0.5, 0.3, 1.0, 2.5, 0.0, 30.0, 1e-5, 0.999])
        np.testing.assert_allclose(np.asarray(xsp.expn(n, e)), sc.expn(n.astype(int), e),
                                   rtol=1e-13)
        w = np.array([-30, -0.1, 1e-3, 3.0, 39.0, 41.0, 500.0])
        np.testing.assert_allclose(np.asarray(xsp.expi(w)), sc.expi(w), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(xsp.exp1(w[2:])), sc.exp1(w[2:]), rtol=1e-13)
        s = np.array([0.0, 1e-8, 0.3, 0.9, 1.0, 1.7, 2.5, 10.0, 1e6])
        np.testing.assert_allclose(np.asarray(xsp.spence(s)), sc.spence(s), rtol=1e-14,
                                   atol=1e-300)
        ha = np.array([0.5, 1.0, -1.5, 0.0, 2.0, 1.0, 5.0])
        hb = np.array([1.5, 2, 2.5, 1, 2, 4, 1.5])
        hx = np.array([0.3, -2.0, 1.0, 3.0, 1.5, -30.0, 40.0])
        np.testing.assert_allclose(np.asarray(xsp.hyp1f1(ha, hb, hx)), sc.hyp1f1(ha, hb, hx),
                                   rtol=1e-13)
        v = np.array([-2.0, 1e-3, 1.0, 2.0, 2.01, 4.0, 30.0, 1e4, np.inf])
        si, ci = xsp.sici(v)
        np.testing.assert_allclose(np.asarray(si), sc.sici(v)[0], rtol=1e-14)
        np.testing.assert_allclose(np.asarray(ci), sc.sici(v)[1], rtol=1e-14, atol=1e-300)
        oh = np.array([0.0, 0.5, -1.0, 2.0, 10.0, 1.5, 3.0])
        oa = np.array([0.5, 1, 0.3, -2, 0.5, 3, 100])
        np.testing.assert_allclose(np.asarray(xsp.owens_t(oh, oa)), sc.owens_t(oh, oa),
                                   rtol=1e-13)
        fx = np.array([-2.0, 0.0, 0.5, 1.49, 1.5, 3.0, 7.0, np.inf])
        fs, fc = xsp.fresnel(fx)
        np.testing.assert_allclose(np.asarray(fs), sc.fresnel(fx)[0], rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(np.asarray(fc), sc.fresnel(fx)[1], rtol=1e-13, atol=1e-300)
        d = np.array([-3.0, 0.0, 0.1, 1.0, 4.0, 30.0, 1e8])
        np.testing.assert_allclose(np.asarray(xsp.dawsn(d)), sc.dawsn(d), rtol=1e-14)
        la = np.array([0.001, 0.5, 30.0, 1e3, 2.0, -0.5])
        lb = np.array([50.0, 10, 30, 1e4, 1e6, 50])
        np.testing.assert_allclose(np.asarray(xsp.betaln(la, lb)), sc.betaln(la, lb), rtol=1e-11)
        np.testing.assert_allclose(np.asarray(xsp.zeta(a + 1.5, x + 0.5)),
                                   sc.zeta(a + 1.5, x + 0.5), rtol=1e-12)


def test_special_values():
    f = np.float32
    np.testing.assert_array_equal(
        np.asarray(lax.igamma(f([0, 1, 2, -1, 0, 3]), f([0, 0, np.inf, 1, 2, -1]))),
        [np.nan, 0, 1, np.nan, 1, np.nan])  # JAX's and SciPy 1.17's edge values
    np.testing.assert_array_equal(
        np.asarray(lax.igammac(f([0, 1, 2, 0]), f([0, 0, np.inf, 2]))), [np.nan, 1, 0, 0])
    a, b = [0, 1, 2, -1, 0, 2, 2, 2], [1, 0, 2, 1, 0, np.inf, 3, 3]
    x = [.5, .5, 0, .5, .5, .3, 1, 2]
    # JAX's and SciPy 1.17's values (older SciPy, the only one on Python 3.10, gives NaN for
    # a = 0 or b = 0)
    np.testing.assert_array_equal(np.asarray(xsp.betainc(f(a), f(b), f(x))),
                                  [1, 0, 0, np.nan, np.nan, 1, 1, np.nan])
    g = np.asarray(xsp.gammasgn(f([-0.5, -1.0, 0.0, -0.0, 2.5, -np.inf, np.nan])))
    np.testing.assert_array_equal(g, [-1, np.nan, 1, -1, 1, np.nan, np.nan])
    np.testing.assert_array_equal(np.asarray(xsp.entr(f([-1, 0]))), [-np.inf, 0])
    np.testing.assert_array_equal(np.asarray(xsp.expn(f([1, 2, 3, -1]), f([0, 0, -1, 1]))),
                                  [np.inf, 1, np.nan, np.nan])
    assert float(xsp.expi(0.0)) == -np.inf
    assert float(xsp.xlogy(0.0, 0.0)) == 0 and float(xsp.rel_entr(0.0, 0.0)) == 0
    assert float(xsp.kl_div(1.0, 0.0)) == np.inf
    np.testing.assert_array_equal(np.asarray(xsp.ndtri(f([0, 1, -0.5]))),
                                  [-np.inf, np.inf, np.nan])
    np.testing.assert_allclose(np.asarray(xsp.factorial(f([-1, 0, 5]))), [0, 1, 120], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(xsp.comb(5, 2, repetition=True)), 15, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(xsp.multigammaln(f([3.0, 4.5]), 3)),
                               sc.multigammaln([3.0, 4.5], 3), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(xsp.bernoulli(12)), sc.bernoulli(12), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(np.asarray(xsp.polygamma(np.array([1, 2]), f([2.0, 3.0]))),
                               sc.polygamma([1, 2], [2.0, 3.0]), rtol=1e-5)


def test_bessel_jn():
    z = np.array([0.0, 1e-5, 1.0, 5.0, -2.0, 15.0, 0.01], np.float32)
    out = xsp.bessel_jn(z, v=4)
    assert out.shape == (5, 7) and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), sc.jv(np.arange(5)[:, None], z), atol=2e-7)
    g = xtrace.jit(xtrace.grad(lambda x: xsp.bessel_jn(x, v=1)[0]))(np.float32(2.0))
    np.testing.assert_allclose(float(g), -sc.jv(1, 2.0), rtol=1e-5)  # J0' = -J1
    with pytest.raises(ValueError, match="n_iter"):
        xsp.bessel_jn(z, v=5, n_iter=3)


def test_reductions_and_softmax():
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(xsp.logsumexp(x, axis=1)), sc.logsumexp(x, axis=1),
                               rtol=1e-6)
    out, sign = xsp.logsumexp(x, b=-np.ones_like(x), return_sign=True)
    ref, ref_sign = sc.logsumexp(x, b=-np.ones_like(x), return_sign=True)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6)
    assert float(sign) == ref_sign
    np.testing.assert_allclose(np.asarray(xsp.softmax(x)), sc.softmax(x), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(xsp.log_softmax(x, axis=0)), sc.log_softmax(x, axis=0),
                               rtol=1e-5)


def test_dtypes_and_promotion():
    assert xsp.gammaln(3).dtype == np.float32
    assert xsp.gammaln(np.arange(3, dtype=np.int32) + 1).dtype == np.float32
    assert xsp.xlogy(np.float32(1), 2.0).dtype == np.float32
    assert xsp.gammainc(np.ones((2, 1), np.float32), np.ones(3, np.float32)).shape == (2, 3)
    with xtrace.enable_x64():
        assert xsp.gammainc(1.0, np.float64(2)).dtype == np.float64


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_gradients_against_finite_differences():
    with xtrace.enable_x64():
        cases = [  # f(x) in xtrace, its SciPy twin
            (lambda x: xsp.gammainc(2.5, x), lambda x: sc.gammainc(2.5, x), 1.7),
            (lambda a: xsp.gammainc(a, 3.0), lambda a: sc.gammainc(a, 3.0), 2.0),
            (lambda a: xsp.gammaincc(a, 0.7), lambda a: sc.gammaincc(a, 0.7), 1.5),
            (lambda x: xsp.betainc(2.0, 3.5, x), lambda x: sc.betainc(2.0, 3.5, x), 0.3),
            (lambda q: xsp.zeta(2.5, q), lambda q: sc.zeta(2.5, q), 1.3),
            (lambda s: xsp.zeta(s, 1.5), lambda s: sc.zeta(s, 1.5), 3.0),
            (lambda x: xsp.log_ndtr(x), sc.log_ndtr, -30.0),
            (lambda x: xsp.i0e(x), sc.i0e, -1.3), (lambda x: xsp.i1e(x), sc.i1e, 2.2),
            (lambda x: xsp.erfcx(x), sc.erfcx, 3.0), (lambda x: xsp.logit(x), sc.logit, 0.3),
            (lambda z: xsp.poch(z, 2.5), lambda z: sc.poch(z, 2.5), 1.5),
            (lambda y: xsp.xlogy(2.0, y), lambda y: sc.xlogy(2.0, y), 1.5),
            (lambda x: xsp.entr(x), sc.entr, 0.4), (xsp.expi, sc.expi, -1.5),
            (xsp.spence, sc.spence, 2.7), (lambda h: xsp.owens_t(h, 0.7),
                                           lambda h: sc.owens_t(h, 0.7), 0.8),
            (lambda a: xsp.owens_t(1.2, a), lambda a: sc.owens_t(1.2, a), 1.7),
            (lambda x: xsp.sici(x)[1], lambda x: sc.sici(x)[1], 3.0),
            (xsp.ndtri, sc.ndtri, 0.003), (xsp.dawsn, sc.dawsn, 1.7),
            (lambda x: xsp.fresnel(x)[0], lambda x: sc.fresnel(x)[0], 1.2),
            (lambda x: xsp.expn(3, x), lambda x: sc.expn(3, x), 1.5),
        ]
        for i, (f, ref, x0) in enumerate(cases):
            g = float(xtrace.jit(xtrace.grad(f))(np.float64(x0)))
            np.testing.assert_allclose(g, _fd(ref, x0), rtol=1e-6, err_msg=str(i))
        for i in range(3):  # hyp1f1 in each argument
            args = [np.float64(1.3), np.float64(2.2), np.float64(-1.7)]
            g = float(xtrace.jit(xtrace.grad(xsp.hyp1f1, argnums=i))(*args))
            up, dn = list(args), list(args)
            up[i] += 1e-6
            dn[i] -= 1e-6
            np.testing.assert_allclose(g, (sc.hyp1f1(*up) - sc.hyp1f1(*dn)) / 2e-6, rtol=1e-6)
        # second order and jit(grad) through the loops
        g2 = float(xtrace.jit(xtrace.grad(xtrace.grad(lambda x: xsp.gammainc(2.5, x))))(1.7))
        np.testing.assert_allclose(g2, _fd(lambda x: _fd(lambda y: sc.gammainc(2.5, y), x,
                                                         1e-5), 1.7, 1e-4), rtol=1e-5)


def test_vmap_and_jit():
    a = POS.astype(np.float32)
    x = (POS[::-1] * 1.1).astype(np.float32)
    out = xtrace.vmap(lambda a, x: xsp.gammainc(a, x))(a, x)
    np.testing.assert_allclose(np.asarray(out), sc.gammainc(a, x), rtol=2e-5)
    ga = xtrace.jit(xtrace.vmap(xtrace.grad(lambda a: xsp.gammainc(a, 2.0))))(a)
    h = 1e-3
    np.testing.assert_allclose(np.asarray(ga), (sc.gammainc(a + h, 2.0) - sc.gammainc(a - h, 2.0))
                               / (2 * h), rtol=2e-3, atol=1e-5)
    b = xtrace.vmap(xsp.betainc, in_axes=(None, None, 0))(2.0, 3.0, UNIT.astype(np.float32))
    np.testing.assert_allclose(np.asarray(b), sc.betainc(2.0, 3.0, UNIT), rtol=2e-5)


def test_errors():
    with pytest.raises(ValueError, match="integer"):
        xsp.polygamma(1.0, 2.0)
    with pytest.raises(NotImplementedError):
        xsp.zeta(2.0)
    with pytest.raises(TypeError, match="series_order"):
        xsp.log_ndtr(1.0, series_order=2.0)
    with pytest.raises(ValueError, match="30"):
        xsp.log_ndtr(1.0, series_order=31)
    for wrt in (0, 1):
        with pytest.raises(ValueError, match="not supported"):
            xtrace.grad(xsp.betainc, argnums=wrt)(1.0, 2.0, 0.5)
    with pytest.raises(ValueError, match="not supported"):
        xtrace.jit(xtrace.grad(lambda a: xsp.betainc(a, 2.0, 0.5)))(1.0)
    with pytest.raises(ValueError, match="complex"):
        xsp.gammaln(xnp.ones(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="float"):
        lax.igamma(np.int32(1), np.int32(2))
    with pytest.raises(NotImplementedError):
        xsp.factorial(3, exact=True)


def test_lazy_submodules():
    import subprocess
    import sys
    code = ("import sys, xtrace; assert 'xtrace.scipy.special' not in sys.modules; "
            "print(float(xtrace.scipy.special.gammaln(4.0)), 'xtrace.scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    value, stats_loaded = out.stdout.split()
    assert abs(float(value) - np.log(6)) < 1e-5 and stats_loaded == "False"
