"""xtrace.nn: activations, softmax/log_softmax/logsumexp (stable on large inputs), one_hot,
standardize and xtrace.nn.initializers, eager and under jit, against NumPy formulas."""
import math

import numpy as np
import pytest

import xtrace
import xtrace.nn as nn
import xtrace.numpy as xnp
from xtrace.nn import initializers as init
from xtrace._src.nn.initializers import _compute_fans

MODES = ["eager", "jit"]


def run(mode, f, *args):
    return f(*args) if mode == "eager" else xtrace.jit(f)(*args)


def close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# NumPy references (evaluated in float64)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def np_sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.logaddexp(x, 0)


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


REFS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6)),
    "sigmoid": (nn.sigmoid, np_sigmoid),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.logaddexp(-x, 0)),
    "softplus": (nn.softplus, np_softplus),
    "silu": (nn.silu, lambda x: x * np_sigmoid(x)),
    "swish": (nn.swish, lambda x: x * np_sigmoid(x)),
    "gelu_tanh": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(
        np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: 0.5 * x * _erfc(-x / np.sqrt(2))),
    "elu": (nn.elu, np_elu),
    "elu_alpha": (lambda x: nn.elu(x, alpha=0.3), lambda x: np_elu(x, 0.3)),
    "celu": (lambda x: nn.celu(x, alpha=0.7),
             lambda x: np.maximum(x, 0) + 0.7 * np.expm1(np.minimum(x, 0) / 0.7)),
    "selu": (nn.selu, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "leaky_relu_slope": (lambda x: nn.leaky_relu(x, negative_slope=0.2),
                         lambda x: np.where(x >= 0, x, 0.2 * x)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hard_swish": (nn.hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "mish": (nn.mish, lambda x: x * np.tanh(np_softplus(x))),
    # (x + sqrt(x**2 + b)) / 2 cancels for large negative x, in JAX too: test moderate x only
    "squareplus": (nn.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2, 20.0),
    "sparse_plus": (nn.sparse_plus, lambda x: np.where(
        x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    "sparse_sigmoid": (nn.sparse_sigmoid, lambda x: np.clip((x + 1) / 2, 0, 1)),
    "tanh": (nn.tanh, np.tanh),
    "identity": (nn.identity, lambda x: x),
}


def _inputs():
    rng = np.random.default_rng(1)
    special = [0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 7.5, -0.5, 20.0, -20.0, 88.0, -88.0, 200.0,
               -200.0, 1e4, -1e4]
    return np.concatenate([rng.standard_normal(40) * 4, special]).astype(np.float32)


def _check_activation(name, got, x):
    fn, ref, *_ = REFS[name]
    assert got.dtype == np.float32 and got.shape == x.shape, name
    assert np.all(np.isfinite(np.asarray(got))), name
    close(got, ref(x.astype(np.float64)), rtol=2e-5, atol=2e-6)


def _activation_input(name):
    x = _inputs()
    limit = REFS[name][2:]
    return x[np.abs(x) <= limit[0]] if limit else x


@pytest.mark.parametrize("name", sorted(REFS))
def test_activation_matches_numpy(name):
    x = _activation_input(name)
    _check_activation(name, REFS[name][0](x), x)


def test_activations_under_jit():
    # all of them in one program (one compilation)
    xs = {name: _activation_input(name) for name in REFS}
    outs = xtrace.jit(lambda xs: {n: REFS[n][0](x) for n, x in xs.items()})(xs)
    for name in REFS:
        _check_activation(name, outs[name], xs[name])


def test_activations_float64(x64):
    names = ["sigmoid", "softplus", "log_sigmoid", "gelu_tanh", "gelu_exact", "elu", "selu",
             "silu", "mish", "celu"]
    x = _inputs().astype(np.float64)
    outs = xtrace.jit(lambda x: [REFS[n][0](x) for n in names])(x)
    for name, got in zip(names, outs):
        assert got.dtype == np.float64, name
        close(got, REFS[name][1](x), rtol=1e-12, atol=1e-14)


def test_stable_for_large_magnitudes():
    x = np.array([1e4, -1e4, 1e30, -1e30, 89.0, -89.0], np.float32)
    sp = np.asarray(nn.softplus(x))
    close(sp[[0, 1, 2, 3, 4]], [1e4, 0, 1e30, 0, 89.0], rtol=1e-6, atol=1e-30)
    assert 0 <= sp[5] < 1e-37  # exp(-89) is subnormal in float32
    ls = np.asarray(nn.log_sigmoid(x))
    close(ls, [0, -1e4, 0, -1e30, 0, -89.0], rtol=1e-6, atol=1e-30)
    close(nn.sigmoid(x), [1, 0, 1, 0, 1, 0], atol=1e-30)
    close(nn.silu(x)[:2], [1e4, 0])
    assert np.all(np.isfinite(np.asarray(nn.gelu(x[:2])))), "gelu tanh form"
    close(nn.gelu(x[:2], approximate=False), [1e4, 0])
    # softplus keeps NaN and the infinities.
    special = np.array([np.nan, np.inf, -np.inf], np.float32)
    out = np.asarray(nn.softplus(special))
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == 0


def test_dtype_rules():
    xi = np.array([-3, -1, 0, 2, 9], np.int32)
    assert nn.relu(xi).dtype == np.int32 and nn.hard_tanh(xi).dtype == np.int32
    np.testing.assert_array_equal(nn.relu(xi), np.maximum(xi, 0))
    np.testing.assert_array_equal(nn.hard_tanh(xi), np.clip(xi, -1, 1))
    for f in (nn.sigmoid, nn.softplus, nn.gelu, nn.elu, nn.relu6, nn.leaky_relu, nn.soft_sign):
        out = f(xi)
        assert out.dtype == np.float32, f.__name__
    close(nn.sigmoid(xi), np_sigmoid(xi.astype(np.float64)))
    h = np.array([-2.0, 0.5, 3.0], np.float16)
    assert nn.gelu(h).dtype == np.float16 and nn.softplus(h).dtype == np.float16
    assert nn.relu(2.0).dtype == np.float32 and float(nn.relu(-2.0)) == 0.0
    # bfloat16 stays bfloat16
    bf = xnp.astype(xnp.asarray([1.0, -2.0]), xnp.bfloat16)
    assert nn.silu(bf).dtype == xnp.bfloat16 and nn.softmax(bf).dtype == xnp.bfloat16


def test_relu_nan_inf_and_derivatives():
    x = np.array([np.nan, -np.inf, np.inf, -1.0, 0.0, 2.0, 6.0, 7.0], np.float32)
    r, r6 = np.asarray(nn.relu(x)), np.asarray(nn.relu6(x))
    assert np.isnan(r[0]) and np.isnan(r6[0])
    np.testing.assert_array_equal(r[1:], [0, np.inf, 0, 0, 2, 6, 7])
    np.testing.assert_array_equal(r6[1:], [0, 6, 0, 0, 2, 6, 6])
    # JAX's choice of derivative at the kinks: 0 at x == 0 (and at 6 for relu6)
    xs = np.array([-1.0, 0.0, 2.0, 6.0, 7.0], np.float32)
    g = xtrace.jit(xtrace.grad(lambda v: nn.relu(v).sum()))(xs)
    np.testing.assert_array_equal(g, [0, 0, 1, 1, 1])
    g6 = xtrace.jit(xtrace.grad(lambda v: nn.relu6(v).sum()))(xs)
    np.testing.assert_array_equal(g6, [0, 0, 1, 0, 0])


def test_gradients_stay_finite_on_large_inputs():
    x = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]], np.float32)
    grads = xtrace.jit(lambda v: [
        xtrace.grad(lambda u: nn.logsumexp(u, axis=1).sum())(v),
        xtrace.grad(lambda u: nn.log_softmax(u)[:, 0].sum())(v),
        xtrace.grad(lambda u: nn.softplus(u).sum())(v)])(x)
    close(grads[0], np_softmax(x, 1), atol=1e-7)  # d logsumexp = softmax
    close(grads[1], np.eye(3)[0] - np_softmax(x, 1), atol=1e-6)
    close(grads[2], np_sigmoid(x.astype(np.float64)), atol=1e-7)


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax, logsumexp


def np_logsumexp(a, axis=None, b=None, keepdims=False, where=None):
    a = np.asarray(a, np.float64)
    if b is None:
        b = np.ones_like(a)
    a, b = np.broadcast_arrays(a, np.asarray(b, np.float64))
    if where is not None:
        a = np.where(where, a, -np.inf)
    a = np.where(b != 0, a, -np.inf)
    amax = np.max(a, axis=axis, keepdims=True)
    amax = np.where(np.isfinite(amax), amax, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sum(b * np.exp(a - amax), axis=axis, keepdims=True)
        out = np.log(np.abs(s)) + amax
        sign = np.sign(s)
    if not keepdims:
        out = np.squeeze(out, axis=axis)
        sign = np.squeeze(sign, axis=axis)
    return out, sign


def np_softmax(x, axis=-1, where=None):
    x = np.asarray(x, np.float64)
    if where is not None:
        x = np.where(where, x, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        out = e / np.sum(e, axis=axis, keepdims=True)
    return out if where is None else np.where(where, out, 0)


def np_log_softmax(x, axis=-1, where=None):
    x = np.asarray(x, np.float64)
    if where is not None:
        x = np.where(where, x, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = x - np.max(x, axis=axis, keepdims=True)
        out = s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return out if where is None else np.where(where, out, -np.inf)


# axes to test, each in one mode (both modes go through a compiled program: eager calls of
# xtrace.nn functions are compiled as a whole, as jax.nn's are)
AXIS_MODES = [(-1, "eager"), (0, "jit"), ((0, 2), "eager"), (None, "jit")]


@pytest.fixture
def cube():
    rng = np.random.default_rng(2)
    return (rng.standard_normal((3, 4, 5)) * 5).astype(np.float32)


@pytest.mark.parametrize("axis,mode", AXIS_MODES)
def test_softmax_log_softmax(cube, axis, mode):
    sm = run(mode, lambda x: nn.softmax(x, axis=axis), cube)
    lsm = run(mode, lambda x: nn.log_softmax(x, axis=axis), cube)
    assert sm.shape == lsm.shape == cube.shape and sm.dtype == lsm.dtype == np.float32
    close(sm, np_softmax(cube, axis), atol=1e-6)
    close(lsm, np_log_softmax(cube, axis), rtol=1e-5, atol=1e-5)
    close(np.sum(np.asarray(sm), axis=axis), 1.0)


@pytest.mark.parametrize("axis,keepdims,mode", [(-1, False, "eager"), (1, True, "jit"),
                                                ((0, 2), False, "jit"), ((0, 2), True, "eager"),
                                                (None, False, "eager"), (None, True, "jit")])
def test_logsumexp(cube, axis, keepdims, mode):
    got = run(mode, lambda x: nn.logsumexp(x, axis=axis, keepdims=keepdims), cube)
    want, _ = np_logsumexp(cube, axis, keepdims=keepdims)
    assert got.shape == want.shape
    close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis,mode", [(-1, "eager"), ((0, 1), "jit"), (None, "eager")])
def test_where_masks(cube, axis, mode):
    rng = np.random.default_rng(3)
    w = rng.random(cube.shape) > 0.4
    w[1, 2, :] = False  # a slice with nothing selected along the last axis
    sm = run(mode, lambda x, m: nn.softmax(x, axis=axis, where=m), cube, w)
    lsm = run(mode, lambda x, m: nn.log_softmax(x, axis=axis, where=m), cube, w)
    lse = run(mode, lambda x, m: nn.logsumexp(x, axis=axis, where=m), cube, w)
    close(sm, np_softmax(cube, axis, w), atol=1e-6)
    want_lsm = np_log_softmax(cube, axis, w)
    got_lsm = np.asarray(lsm)
    np.testing.assert_array_equal(np.isneginf(got_lsm), np.isneginf(want_lsm))
    close(got_lsm[w], want_lsm[w], atol=1e-5)
    close(lse, np_logsumexp(cube, axis, where=w)[0], atol=1e-5)
    assert not np.any(np.isnan(np.asarray(sm)))
    if axis == -1:  # the all-False slice: softmax 0, log_softmax -inf, logsumexp -inf
        assert np.all(np.asarray(sm)[1, 2] == 0)
        assert np.all(np.isneginf(got_lsm[1, 2]))
        assert np.isneginf(np.asarray(lse)[1, 2])


@pytest.mark.parametrize("axis,mode", [(-1, "eager"), ((0, 2), "jit"), (None, "eager")])
def test_logsumexp_b_and_sign(cube, axis, mode):
    rng = np.random.default_rng(4)
    b = rng.standard_normal(cube.shape).astype(np.float32)
    b[0, 0, 0] = 0.0
    got, sign = run(mode, lambda x, bb: nn.logsumexp(x, axis=axis, b=bb, return_sign=True),
                    cube, b)
    want, wsign = np_logsumexp(cube, axis, b=b)
    close(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(sign, wsign)
    # Without return_sign a negative sum is NaN.
    plain = np.asarray(run(mode, lambda x, bb: nn.logsumexp(x, axis=axis, b=bb), cube, b))
    np.testing.assert_array_equal(np.isnan(plain), np.asarray(wsign) < 0)
    ok = np.asarray(wsign) > 0
    close(plain[ok], np.asarray(want)[ok], rtol=1e-4, atol=1e-4)
    if axis == -1:  # b broadcasts against a; b == 0 drops the term (even an infinite one).
        a = np.array([[1.0, np.inf, 2.0]], np.float32)
        got = nn.logsumexp(a, axis=-1, b=np.array([1.0, 0.0, 3.0], np.float32))
        close(got, [np.log(np.e + 3 * np.e ** 2)])


@pytest.mark.parametrize("mode", MODES)
def test_no_overflow_on_large_inputs(mode):
    x = np.array([[1e4, 1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, -1e4, 5.0], [3e38, 3e38, 1.0]],
                 np.float32)
    lse = np.asarray(run(mode, lambda v: nn.logsumexp(v, axis=-1), x))
    close(lse[:3], [1e4 + np.log(2), -1e4 + np.log(3), 1e4], rtol=1e-6)
    close(lse[3], 3e38, rtol=1e-6)
    sm = np.asarray(run(mode, lambda v: nn.softmax(v, axis=-1), x))
    assert np.all(np.isfinite(sm))
    close(sm[:3], [[0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3], [1, 0, 0]], atol=1e-7)
    lsm = np.asarray(run(mode, lambda v: nn.log_softmax(v, axis=-1), x))
    assert np.all(np.isfinite(lsm[:3]))
    close(lsm[0], [-np.log(2), -np.log(2), -1e4 - np.log(2)], rtol=1e-6)
    close(lsm[1], [-np.log(3)] * 3, rtol=1e-6)
    close(lsm[2], [0, -2e4, 5 - 1e4], rtol=1e-6)
    total = np.asarray(run(mode, lambda v: nn.logsumexp(v), x[:3]))
    close(total, 1e4 + np.log(3), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_infinite_rows_as_jax(mode):
    x = np.array([[-np.inf, -np.inf], [-np.inf, 0.0], [np.inf, 1.0]], np.float32)
    lse = np.asarray(run(mode, lambda v: nn.logsumexp(v, axis=-1), x))
    assert np.isneginf(lse[0]) and lse[1] == 0 and lse[2] == np.inf
    sm = np.asarray(run(mode, lambda v: nn.softmax(v, axis=-1), x))
    assert np.all(np.isnan(sm[0])) and np.all(np.isnan(sm[2]))  # -inf - -inf and inf / inf
    np.testing.assert_array_equal(sm[1], [0, 1])
    lsm = np.asarray(run(mode, lambda v: nn.log_softmax(v, axis=-1), x))
    assert np.all(np.isnan(lsm[0]))
    np.testing.assert_array_equal(lsm[1], [-np.inf, 0])


def test_softmax_float64(x64):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6)) * 300
    got = xtrace.jit(lambda v: nn.softmax(v, axis=0))(x)
    assert got.dtype == np.float64
    close(got, np_softmax(x, 0), rtol=1e-12, atol=1e-300)
    close(nn.log_softmax(x), np_log_softmax(x), rtol=1e-12, atol=1e-12)
    lse = nn.logsumexp(x, axis=1)
    assert lse.dtype == np.float64
    close(lse, np_logsumexp(x, 1)[0], rtol=1e-13)
    big = np.array([1e300, 1e300])
    close(nn.logsumexp(big), 1e300, rtol=1e-15)


def test_softmax_integer_and_scalar_inputs():
    out = nn.softmax(np.array([1, 2, 3], np.int32))
    assert out.dtype == np.float32
    close(out, np_softmax(np.array([1.0, 2.0, 3.0])))
    close(nn.logsumexp(2.0), 2.0)
    # initial: a floor for the shift (and the value masked-out elements take); no effect on
    # the result unless the floor is far above the inputs
    x = np.array([[1.0, 2.0, 3.0], [-4.0, 0.0, 4.0]], np.float32)
    close(nn.softmax(x, initial=10.0), np_softmax(x), atol=1e-7)
    close(nn.logsumexp([1.0, 2.0]), np.logaddexp(1.0, 2.0))


def test_logmeanexp_and_glu(cube):
    close(nn.logmeanexp(cube, axis=1), np_logsumexp(cube, 1)[0] - np.log(4), atol=1e-5)
    x = cube[:, :, :4]
    close(nn.glu(x), x[..., :2] * np_sigmoid(x[..., 2:].astype(np.float64)), atol=1e-6)
    close(nn.glu(cube[:, :4], axis=1),
          cube[:, :2] * np_sigmoid(cube[:, 2:4].astype(np.float64)), atol=1e-6)
    with pytest.raises(ValueError, match="even"):
        nn.glu(cube)


def test_log1mexp():
    x = np.array([1e-6, 0.1, 0.69, 0.7, 5.0, 50.0], np.float32)
    close(nn.log1mexp(x), np.log(-np.expm1(-x.astype(np.float64))), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# standardize


@pytest.mark.parametrize("axis,mode", AXIS_MODES)
def test_standardize(cube, axis, mode):
    x = cube.astype(np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5)
    for algorithm in ("fast", "stable"):
        got = run(mode, lambda v: nn.standardize(v, axis=axis, algorithm=algorithm), cube)
        assert got.dtype == np.float32 and got.shape == cube.shape
        close(got, want, rtol=1e-4, atol=1e-4)


def test_standardize_options(cube):
    x = cube.astype(np.float64)
    # given mean and variance, custom epsilon
    m = np.float32(0.5)
    v = np.full((3, 4, 1), 2.0, np.float32)
    close(nn.standardize(cube, mean=m, variance=v, epsilon=0.1), (x - 0.5) / np.sqrt(2.1),
          rtol=1e-5)
    # where: statistics over the selected elements only
    rng = np.random.default_rng(6)
    w = rng.random(cube.shape) > 0.3
    w[..., 0] = True
    cnt = w.sum(-1, keepdims=True)
    mean = np.where(w, x, 0).sum(-1, keepdims=True) / cnt
    var = np.where(w, (x - mean) ** 2, 0).sum(-1, keepdims=True) / cnt
    close(nn.standardize(cube, where=w), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)
    # integer input
    xi = np.arange(12, dtype=np.int32).reshape(3, 4)
    f = xi.astype(np.float64)
    got = nn.standardize(xi)
    assert got.dtype == np.float32
    close(got, (f - f.mean(-1, keepdims=True)) / np.sqrt(f.var(-1, keepdims=True) + 1e-5),
          rtol=1e-5)
    # large offsets: the stable algorithm stays accurate
    big = (np.float32(1e4) + rng.standard_normal((2, 64)).astype(np.float32))
    b64 = big.astype(np.float64)
    want = (b64 - b64.mean(-1, keepdims=True)) / np.sqrt(b64.var(-1, keepdims=True) + 1e-5)
    close(nn.standardize(big, algorithm="stable"), want, rtol=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match="algorithm"):
        nn.standardize(cube, algorithm="slow")


def test_standardize_float64(x64):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 7))
    got = nn.standardize(x, axis=0)
    assert got.dtype == np.float64
    close(got, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# one_hot


def np_one_hot(labels, n, axis=-1, dtype=np.float32):
    out = (np.asarray(labels)[..., None] == np.arange(n)).astype(dtype)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("axis", [-1, 0, 1, -3])
def test_one_hot(mode, axis):
    labels = np.array([[0, 3, -1], [2, 1, 5]], np.int32)  # -1 and 5 are out of range
    got = run(mode, lambda v: nn.one_hot(v, 4, axis=axis), labels)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np_one_hot(labels, 4, axis))


def test_one_hot_options():
    labels = np.array([0, 4, -2, 2, 100], np.int32)
    got = nn.one_hot(labels, 4)
    np.testing.assert_array_equal(got, np_one_hot(labels, 4))
    assert np.all(np.asarray(got)[[1, 2, 4]] == 0)  # out of range: all zeros, as JAX
    for dt in (np.int32, np.bool_, np.float16):
        out = nn.one_hot(labels, 4, dtype=dt)
        assert out.dtype == dt
        np.testing.assert_array_equal(out, np_one_hot(labels, 4, dtype=dt))
    np.testing.assert_array_equal(nn.one_hot(3, 5), np_one_hot(3, 5))
    np.testing.assert_array_equal(nn.one_hot(np.array([1, 0, 1], np.uint8), 2),
                                  np_one_hot([1, 0, 1], 2))
    np.testing.assert_array_equal(nn.one_hot(np.array([True, False]), 2), np_one_hot([1, 0], 2))
    assert nn.one_hot(labels, 0).shape == (5, 0)
    f = xtrace.jit(nn.one_hot, static_argnums=1)
    np.testing.assert_array_equal(f(labels, 6), np_one_hot(labels, 6))
    with pytest.raises(TypeError, match="static"):
        xtrace.jit(nn.one_hot)(labels, 3)
    with pytest.raises(ValueError, match="axis"):
        nn.one_hot(labels, 3, axis=2)


def test_one_hot_x64(x64):
    labels = np.array([1, 7, 0], np.int64)
    out = nn.one_hot(labels, 3)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np_one_hot(labels, 3, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# Errors


def test_user_errors(cube):
    with pytest.raises(ValueError, match="out of bounds"):
        nn.softmax(cube, axis=3)
    with pytest.raises(ValueError, match="out of bounds"):
        nn.logsumexp(cube, axis=(0, -4))
    with pytest.raises(ValueError, match="repeated"):
        nn.log_softmax(cube, axis=(1, -2))
    with pytest.raises(TypeError):
        nn.relu("abc")
    with pytest.raises(TypeError):
        nn.softmax(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="broadcast"):
        nn.softmax(cube, where=np.ones((2, 2), bool))
    with pytest.raises(TypeError, match="int"):
        nn.one_hot(np.array([1]), 2.5)


# ---------------------------------------------------------------------------------------------
# Initializers


def test_constant_initializers():
    z = init.zeros(None, (2, 3))
    assert z.shape == (2, 3) and z.dtype == np.float32 and not np.any(np.asarray(z))
    o = init.ones(None, (4,), np.int32)
    assert o.dtype == np.int32
    np.testing.assert_array_equal(o, np.ones(4, np.int32))
    c = init.constant(-7.0)(None, (2, 2))
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c, np.full((2, 2), -7.0))
    c16 = init.constant(3, dtype=np.float16)(None, (3,))
    assert c16.dtype == np.float16
    assert init.zeros(None, (2,), dtype=np.float16).dtype == np.float16


def test_compute_fans():
    assert _compute_fans((10, 20)) == (10, 20)
    # conv kernels, HWIO: the receptive field multiplies both fans
    assert _compute_fans((3, 3, 16, 32)) == (144, 288)
    assert _compute_fans((5, 7, 2, 4, 6)) == (5 * 7 * 2 * 4, 5 * 7 * 2 * 6)
    # OIHW with explicit axes
    assert _compute_fans((32, 16, 3, 3), in_axis=1, out_axis=0) == (144, 288)
    # tuples of axes, and a batch axis that is left out
    assert _compute_fans((2, 3, 4, 5), in_axis=(0, 1), out_axis=-1) == (24, 20)
    assert _compute_fans((8, 3, 4), in_axis=1, out_axis=2, batch_axis=0) == (3, 4)
    with pytest.raises(ValueError, match="2D"):
        _compute_fans((5,))


@pytest.fixture
def random():
    from xtrace import random
    return random


# Each xtrace.random sampler compiles once per (shape, dtype): the tests share a few shapes to
# stay fast. SMALL is also the shape of the known answers from JAX; CONV, a convolution kernel
# (HWIO: fan_in 3*3*64 = 576, fan_out 3*3*128 = 1152), is big enough for statistics.
SMALL, CONV = (2, 3), (3, 3, 64, 128)
FAN_IN, FAN_OUT = 3 * 3 * 64, 3 * 3 * 128


def test_initializer_shapes_and_dtypes(random):
    key = random.PRNGKey(0)
    builders = [init.normal(), init.uniform(), init.truncated_normal(), init.glorot_uniform(),
                init.glorot_normal(), init.xavier_uniform(), init.xavier_normal(),
                init.he_uniform(), init.he_normal(), init.kaiming_uniform(),
                init.kaiming_normal(), init.lecun_uniform(), init.lecun_normal(),
                init.variance_scaling(1.0, "fan_geo_avg", "normal"), init.orthogonal()]
    for b in builders:
        out = b(key, SMALL)
        assert out.shape == SMALL and out.dtype == np.float32
        assert np.all(np.isfinite(np.asarray(out)))
    for b in (init.he_normal(), init.glorot_normal(), init.lecun_normal()):
        out = b(key, CONV)
        assert out.shape == CONV and out.dtype == np.float32
    # the dtype argument, and the builder's dtype as its default
    h = init.glorot_normal()(key, SMALL, np.float16)
    assert h.dtype == np.float16
    np.testing.assert_array_equal(init.glorot_normal(dtype=np.float16)(key, SMALL), h)
    with pytest.raises(ValueError, match="float"):
        init.normal()(key, SMALL, np.int32)
    with pytest.raises(ValueError, match="mode"):
        init.variance_scaling(1.0, "fan_middle", "normal")
    with pytest.raises(ValueError, match="distribution"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="2D"):
        init.glorot_normal()(key, (5,))


def test_initializer_x64(x64, random):
    q = init.orthogonal()(random.PRNGKey(1), (6, 4))
    assert q.dtype == np.float64
    q = np.asarray(q)
    close(q.T @ q, np.eye(4), atol=1e-12)


def _check_std(w, std, tol=0.03):
    w = np.asarray(w, np.float64)
    assert abs(w.mean()) < 5 * std / np.sqrt(w.size)
    assert abs(w.std() / std - 1) < tol, (w.std(), std)


def test_initializer_statistics(random):
    key = random.PRNGKey(42)
    # he_normal: a normal truncated at two standard deviations (of the untruncated normal),
    # rescaled to variance 2 / fan_in; the receptive field (3 * 3) is part of the fans.
    he = np.asarray(init.he_normal()(key, CONV), np.float64)
    std = np.sqrt(2 / FAN_IN)
    _check_std(he, std)
    assert np.abs(he).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)
    # glorot_uniform: U(-sqrt(3 var), sqrt(3 var)), var = 1 / fan_avg
    var = 2 / (FAN_IN + FAN_OUT)
    w = np.asarray(init.glorot_uniform()(key, CONV))
    _check_std(w, np.sqrt(var))
    lim = np.sqrt(3 * var)
    assert w.min() >= -lim and w.max() <= lim and w.max() > 0.99 * lim
    _check_std(init.he_uniform()(key, CONV), np.sqrt(2 / FAN_IN))
    # Same key, same distribution: the outputs differ exactly by the ratio of the scales.
    for b, v in [(init.lecun_normal(), 1 / FAN_IN),
                 (init.glorot_normal(), var),
                 (init.variance_scaling(1.0, "fan_out", "truncated_normal"), 1 / FAN_OUT),
                 (init.variance_scaling(1.0, "fan_geo_avg", "truncated_normal"),
                  1 / np.sqrt(FAN_IN * FAN_OUT)),
                 # the kernel read with other axes: inputs on axis 3, outputs on axis 2
                 (init.he_normal(in_axis=3, out_axis=2), 2 / FAN_OUT),
                 (init.he_normal(in_axis=(0, 2), out_axis=-1), 2 / (3 * 64 * 3)),
                 # a batch axis (0) is left out of the receptive field: 3 * 64 inputs
                 (init.lecun_normal(batch_axis=0), 1 / (3 * 64))]:
        w = np.asarray(b(key, CONV), np.float64)
        close(w, he * np.sqrt(v / (2 / FAN_IN)), rtol=1e-5, atol=1e-7)
    for b, v in [(init.lecun_uniform(), 1 / FAN_IN),
                 (init.he_uniform(out_axis=0, in_axis=1), 2 / (3 * 64 * 128))]:
        close(b(key, CONV), w_u := np.asarray(init.glorot_uniform()(key, CONV))
              * np.sqrt(v / var), rtol=1e-5, atol=1e-7)
        assert np.abs(w_u).max() <= np.sqrt(3 * v) * (1 + 1e-6)
    # the simple distributions: exact scalings of each other for one key
    n1 = np.asarray(init.normal(1.0)(key, SMALL))
    close(init.normal(0.25)(key, SMALL), 0.25 * n1)
    u1 = np.asarray(init.uniform(1.0)(key, SMALL))
    assert np.all((u1 >= 0) & (u1 < 1))
    close(init.uniform(3.0)(key, SMALL), 3 * u1)
    t1 = np.asarray(init.truncated_normal(1.0)(key, SMALL))
    assert np.all(np.abs(t1) <= 2)
    close(init.truncated_normal(0.5)(key, SMALL), 0.5 * t1)


def test_initializers_are_deterministic_and_jittable(random):
    key = random.PRNGKey(0)
    g, o = init.glorot_normal(), init.orthogonal()
    a = np.asarray(g(key, SMALL))
    np.testing.assert_array_equal(a, g(key, SMALL))
    assert not np.array_equal(a, np.asarray(g(random.PRNGKey(4), SMALL)))
    ja, jo = xtrace.jit(lambda k: (g(k, SMALL), o(k, SMALL)))(key)
    close(ja, a, rtol=1e-6, atol=1e-7)
    close(jo, o(key, SMALL), rtol=1e-5, atol=1e-6)
    # constant initializers ignore the key
    np.testing.assert_array_equal(xtrace.jit(lambda k: init.ones(k, (2,)))(key), [1, 1])


# (4, 2, 3) with column axis 0 is a 6 x 4 matrix too: it shares the sampler with (6, 4).
@pytest.mark.parametrize("shape,column_axis", [((6, 4), -1), (SMALL, -1), ((4, 2, 3), 0)])
def test_orthogonal(random, shape, column_axis):
    w = np.asarray(init.orthogonal(scale=2.0, column_axis=column_axis)(random.PRNGKey(0), shape),
                   np.float64)
    assert w.shape == shape
    w = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis]) / 2.0
    rows, cols = w.shape
    gram = w.T @ w if rows >= cols else w @ w.T
    close(gram, np.eye(min(rows, cols)), atol=2e-6)


def test_orthogonal_errors(random):
    key = random.PRNGKey(0)
    with pytest.raises(ValueError, match="2D"):
        init.orthogonal()(key, (5,))
    assert init.orthogonal()(key, (0, 3)).shape == (0, 3)
    with pytest.raises(ValueError, match="column_axis"):
        init.orthogonal(column_axis=2)(key, (3, 3))


# Values of jax.nn.initializers.<name>(...)(jax.random.PRNGKey(0), (2, 3), jnp.float32) from
# JAX 0.10.2 (the default threefry generator).
JAX_KNOWN = {
    "glorot_uniform": (init.glorot_uniform(), [
        [0.980789303779602, 1.048516035079956, -0.3674309551715851],
        [-0.0686439648270607, 0.15311850607395172, -0.732846200466156]]),
    "glorot_normal": (init.glorot_normal(), [
        [1.046842336654663, 1.2329133749008179, -0.29671576619148254],
        [-0.05394943431019783, 0.12079361826181412, -0.65617436170578]]),
    "he_normal": (init.he_normal(), [
        [1.6552032232284546, 1.9494074583053589, -0.4691488444805145],
        [-0.08530155569314957, 0.19099149107933044, -1.0375028848648071]]),
    "lecun_uniform": (init.lecun_uniform(), [
        [1.0965558290481567, 1.172276496887207, -0.4108003079891205],
        [-0.07674628496170044, 0.17119169235229492, -0.8193469643592834]]),
    "normal": (init.normal(0.5), [
        [0.8113210797309875, 1.0126323699951172, -0.21679721772670746],
        [-0.03930867463350296, 0.08804544806480408, -0.48604461550712585]]),
    "uniform": (init.uniform(2.0), [
        [1.895334005355835, 1.9571597576141357, 0.6645829677581787],
        [0.9373369216918945, 1.139777421951294, 0.3310060501098633]]),
    "truncated_normal": (init.truncated_normal(1.0), [
        [1.4559592008590698, 1.714748740196228, -0.4126753509044647],
        [-0.07503343373537064, 0.16800101101398468, -0.912614107131958]]),
    "variance_scaling": (init.variance_scaling(2.0, "fan_out", "normal"), [
        [1.3248817920684814, 1.653621792793274, -0.3540283739566803],
        [-0.06419079750776291, 0.14377762377262115, -0.793707549571991]]),
    "orthogonal": (init.orthogonal(), [
        [0.96083664894104, -0.2567500174045563, 0.1042710393667221],
        [0.18604838848114014, 0.31881120800971985, -0.9293790459632874]]),
}


@pytest.mark.parametrize("name", sorted(JAX_KNOWN))
def test_initializers_reproduce_jax(random, name):
    builder, want = JAX_KNOWN[name]
    got = builder(random.PRNGKey(0), (2, 3), np.float32)
    close(got, want, rtol=2e-5, atol=2e-6)


# ---- dot_product_attention ----


def _np_attention(q, k, v, bias=None, keep=None, scale=None):
    """One head at a time, written out: softmax(q k^T * scale + bias, masked) v."""
    B, T, N, H = q.shape
    G = N // k.shape[2]
    scale = 1 / math.sqrt(H) if scale is None else scale
    out = np.zeros(q.shape, np.float64)
    for b in range(B):
        for n in range(N):
            logits = q[b, :, n] @ k[b, :, n // G].T * scale
            if bias is not None:
                logits = logits + np.broadcast_to(bias, (B, N) + logits.shape)[b, n]
            if keep is not None:
                logits = np.where(np.broadcast_to(keep, (B, N) + logits.shape)[b, n], logits,
                                  -0.7 * np.finfo(np.float32).max)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            out[b, :, n] = (p / p.sum(-1, keepdims=True)) @ v[b, :, n // G]
    return out


def test_dot_product_attention_grouped_heads_masks_and_bias():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)  # B T N H, N = 2 groups of K = 2
    k, v = (rng.standard_normal((2, 6, 2, 5)).astype(np.float32) for _ in range(2))
    bias = rng.standard_normal((1, 4, 3, 6)).astype(np.float32)
    keep = rng.random((2, 1, 3, 6)) > 0.3
    t, s = np.arange(3)[:, None], np.arange(6)[None, :]
    f = xtrace.jit(lambda *a, **kw: nn.dot_product_attention(*a, **kw),
                   static_argnames=("is_causal", "local_window_size", "scale"))
    for kw, ref_keep in [({}, None), ({"mask": keep}, keep), ({"is_causal": True}, t >= s),
                         ({"local_window_size": (1, 2)}, (t <= s + 1) & (t >= s - 2))]:
        np.testing.assert_allclose(f(q, k, v, **kw), _np_attention(q, k, v, keep=ref_keep),
                                   rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(f(q, k, v, bias, keep, scale=0.3, is_causal=True),
                               _np_attention(q, k, v, bias, keep & (t >= s), 0.3),
                               rtol=2e-5, atol=2e-6)
    # sequence lengths: padded keys are masked, padded query rows come out as zeros
    got = nn.dot_product_attention(q, k, v, query_seq_lengths=np.array([2, 3]),
                                   key_value_seq_lengths=np.array([4, 6]))
    kv_keep = (s < np.array([4, 6])[:, None, None, None])
    want = _np_attention(q, k, v, keep=kv_keep)
    want[0, 2] = 0
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    # no batch axis, and the logsumexp residual
    out, lse = nn.dot_product_attention(q[0], k[0], v[0], return_residual=True)
    np.testing.assert_allclose(out, _np_attention(q[:1], k[:1], v[:1])[0], rtol=2e-5, atol=2e-6)
    logits = np.einsum("tkgh,skh->tkgs", q[0].reshape(3, 2, 2, 5), k[0]) / math.sqrt(5)
    np.testing.assert_allclose(lse, np.log(np.exp(logits).sum(-1)).reshape(3, 4), rtol=1e-5)
    with pytest.raises(ValueError, match="multiple of K"):
        nn.dot_product_attention(q, k[:, :, :1].repeat(3, 2), v[:, :, :1].repeat(3, 2))


def test_dot_product_attention_grad():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal((1, 3, 2, 4)) for _ in range(3))
    with xtrace.enable_x64():
        g = xtrace.grad(lambda q: (nn.dot_product_attention(q, k, v, is_causal=True) ** 2).sum())(q)
        keep = np.arange(3)[:, None] >= np.arange(3)[None, :]

        def f(q):
            return (_np_attention(q, k, v, keep=keep) ** 2).sum()
        eps, fd = 1e-6, np.zeros_like(q)
        for i in np.ndindex(q.shape):
            d = np.zeros_like(q)
            d[i] = eps
            fd[i] = (f(q + d) - f(q - d)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
