"""grad, jvp, vjp, linearize, jacobians, custom rules, checkpoint: against closed forms and
finite differences (float64 where precision matters)."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax


def fd_grad(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(xnp.asarray(x + e))) - float(f(xnp.asarray(x - e)))) / (2 * eps)
    return g


def test_third_derivative_of_sin_is_minus_cos():
    for x in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(xtrace.grad(xtrace.grad(xtrace.grad(xnp.sin)))(x),
                                   -np.cos(x), rtol=1e-5)


def test_hessian_of_quadratic_form(x64):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    f = lambda x: x @ xnp.asarray(A) @ x
    H = xtrace.hessian(f)(xnp.asarray(rng.standard_normal(4)))
    np.testing.assert_allclose(H, A + A.T, rtol=1e-10)
    # reverse-over-forward agrees
    H2 = xtrace.jacrev(xtrace.jacfwd(f))(xnp.asarray(rng.standard_normal(4)))
    np.testing.assert_allclose(H2, A + A.T, rtol=1e-10)


def _softmax_xent(logits, labels):
    z = logits - xnp.max(logits, axis=-1, keepdims=True)
    logp = z - xnp.log(xnp.sum(xnp.exp(z), axis=-1, keepdims=True))
    return -xnp.mean(xnp.sum(labels * logp, axis=-1))


def test_gradient_of_softmax_cross_entropy(x64):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 3))
    labels = np.eye(3)[rng.integers(0, 3, 5)]
    g = xtrace.grad(_softmax_xent)(xnp.asarray(logits), xnp.asarray(labels))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(g, (p - labels) / 5, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xtrace.jit(xtrace.grad(_softmax_xent))(logits, labels),
                               (p - labels) / 5, rtol=1e-10, atol=1e-12)


def test_mlp_gradients_match_finite_differences(x64):
    rng = np.random.default_rng(2)
    params = {"w1": rng.standard_normal((4, 5)) * 0.5, "b1": rng.standard_normal(5) * 0.1,
              "w2": rng.standard_normal((5, 3)) * 0.5}
    x = rng.standard_normal((6, 4))
    y = np.eye(3)[rng.integers(0, 3, 6)]

    def loss(p):
        h = xnp.tanh(xnp.asarray(x) @ p["w1"] + p["b1"])
        return _softmax_xent(h @ p["w2"], xnp.asarray(y))

    grads = xtrace.grad(loss)(params)
    assert set(grads) == set(params)
    for k in params:
        def f_k(v, k=k):
            return loss({**params, k: v})
        np.testing.assert_allclose(grads[k], fd_grad(f_k, params[k]), rtol=1e-6, atol=1e-9)
    jg = xtrace.jit(xtrace.grad(loss))(params)
    for k in params:
        np.testing.assert_allclose(jg[k], grads[k], rtol=1e-10)


def test_python_control_flow_recursion_and_closures(x64):
    def power(x, n):  # recursion with a Python branch on a concrete int
        return 1.0 if n == 0 else x * power(x, n - 1)

    np.testing.assert_allclose(xtrace.grad(lambda x: power(x, 5))(2.0), 5 * 2.0 ** 4)

    def piecewise(x):
        if float(x) > 0:  # concrete outside jit
            return x ** 2
        return -x

    assert float(xtrace.grad(piecewise)(3.0)) == 6.0
    assert float(xtrace.grad(piecewise)(-3.0)) == -1.0
    scale = xnp.asarray(3.0)
    np.testing.assert_allclose(xtrace.grad(lambda x: scale * xnp.sin(x))(0.5),
                               3 * np.cos(0.5), rtol=1e-6)

    def loop(x):
        acc = x
        for _ in range(4):
            acc = xnp.sin(acc)
        return acc

    expected = fd_grad(lambda v: loop(v), np.array(0.7))
    np.testing.assert_allclose(xtrace.grad(loop)(0.7), expected, rtol=1e-3)


def test_grad_argnums_has_aux_and_value_and_grad():
    f = lambda x, y: (x * y ** 2, {"aux": x + y})
    (v, aux), (gx, gy) = xtrace.value_and_grad(f, argnums=(0, 1), has_aux=True)(2.0, 3.0)
    assert float(v) == 18.0 and float(aux["aux"]) == 5.0
    assert float(gx) == 9.0 and float(gy) == 12.0
    g, aux = xtrace.grad(f, has_aux=True)(2.0, 3.0)
    assert float(g) == 9.0


def test_jvp_linearize_vjp_agree(x64):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4)
    u = rng.standard_normal(4)
    v = rng.standard_normal(4)
    f = lambda x: xnp.sin(x) * xnp.exp(x) + xnp.sum(x ** 2)
    y, t = xtrace.jvp(f, (xnp.asarray(x),), (xnp.asarray(u),))
    y2, f_lin = xtrace.linearize(f, xnp.asarray(x))
    np.testing.assert_allclose(y, y2)
    np.testing.assert_allclose(f_lin(xnp.asarray(u)), t, rtol=1e-12)
    _, f_vjp = xtrace.vjp(f, xnp.asarray(x))
    ct, = f_vjp(xnp.asarray(v))
    np.testing.assert_allclose(np.dot(v, np.asarray(t)), np.dot(np.asarray(ct), u), rtol=1e-10)
    J = xtrace.jacfwd(f)(xnp.asarray(x))
    np.testing.assert_allclose(J, xtrace.jacrev(f)(xnp.asarray(x)), rtol=1e-10)
    np.testing.assert_allclose(J @ u, t, rtol=1e-10)


def test_jit_and_grad_compose_both_ways():
    f = lambda x: xnp.sum(xnp.tanh(x) ** 2)
    x = xnp.asarray(np.linspace(-1, 1, 5).astype(np.float32))
    expected = 2 * np.tanh(np.asarray(x)) * (1 - np.tanh(np.asarray(x)) ** 2)
    for g in (xtrace.grad(f), xtrace.jit(xtrace.grad(f)), xtrace.grad(xtrace.jit(f)),
              xtrace.jit(xtrace.grad(xtrace.jit(f)))):
        np.testing.assert_allclose(g(x), expected, rtol=1e-5, atol=1e-6)


def test_integer_inputs_and_errors():
    with pytest.raises(TypeError, match="scalar-output"):
        xtrace.grad(lambda x: x * 2)(xnp.ones(3))
    with pytest.raises(TypeError, match="int32"):
        xtrace.grad(lambda x: x * 2.0)(3)
    g = xtrace.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert float(g[0]) == 3.0 and g[1].dtype == xtrace._src.ad.float0
    # integer primal in jvp: float0 tangent out
    _, t = xtrace.jvp(lambda n: n * 2, (3,), (np.zeros((), xtrace._src.ad.float0),))
    assert t.dtype == xtrace._src.ad.float0


def test_stop_gradient():
    f = lambda x: x * lax.stop_gradient(x ** 2)
    assert float(xtrace.grad(f)(3.0)) == 9.0


def test_custom_jvp_and_defjvps():
    @xtrace.custom_jvp
    def safe_log1pexp(x):
        return xnp.log1p(xnp.exp(x))

    @safe_log1pexp.defjvp
    def _(primals, tangents):
        x, = primals
        t, = tangents
        return safe_log1pexp(x), t * lax.logistic(x)

    np.testing.assert_allclose(xtrace.grad(safe_log1pexp)(100.0), 1.0)  # no inf/inf
    np.testing.assert_allclose(xtrace.grad(xtrace.jit(safe_log1pexp))(0.0), 0.5)

    @xtrace.custom_jvp
    def f(x, y):
        return xnp.sin(x) * y

    f.defjvps(lambda t, ans, x, y: xnp.cos(x) * y * t, lambda t, ans, x, y: xnp.sin(x) * t)
    gx, gy = xtrace.grad(f, argnums=(0, 1))(0.5, 2.0)
    np.testing.assert_allclose([gx, gy], [np.cos(0.5) * 2, np.sin(0.5)], rtol=1e-6)

    # nondiff_argnums pass through to the rule
    @xtrace.custom_jvp
    def scaled(n, x):
        return x * n

    scaled = xtrace.custom_jvp(lambda n, x: x * n, nondiff_argnums=(0,))
    scaled.defjvp(lambda n, p, t: (p[0] * n, t[0] * n * 10))
    assert float(xtrace.grad(lambda x: scaled(3, x))(1.0)) == 30.0


def test_custom_vjp_and_its_errors():
    @xtrace.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (xnp.clip(g, -1.0, 1.0),))
    f = lambda x: xnp.sum(clip_gradient(x) * 5.0)
    np.testing.assert_allclose(xtrace.grad(f)(xnp.ones(3)), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(xtrace.jit(xtrace.grad(f))(xnp.ones(3)), [1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="forward-mode"):
        xtrace.jvp(clip_gradient, (1.0,), (1.0,))

    @xtrace.custom_vjp
    def bad(x, y):
        return x * y

    bad.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: (g,))  # one cotangent for two args
    with pytest.raises(TypeError, match="cotangents"):
        xtrace.grad(bad)(1.0, 2.0)


def test_checkpoint_recomputes_instead_of_storing():
    def chain(x):
        for _ in range(8):
            x = xnp.sin(x) * 1.01
        return x

    x = xnp.asarray(np.linspace(0, 1, 1000).astype(np.float32))
    f_plain = lambda x: xnp.sum(chain(x))
    f_remat = lambda x: xnp.sum(xtrace.checkpoint(chain)(x))
    np.testing.assert_allclose(xtrace.grad(f_remat)(x), xtrace.grad(f_plain)(x), rtol=1e-5)

    def residual_bytes(f):  # bytes of the residuals the linearized function keeps
        from xtrace._src.api import _linearize_flat
        _, lin = _linearize_flat(lambda v: [f(v)], [x])
        return sum(np.asarray(c).nbytes for c in lin.consts if hasattr(c, "shape"))

    plain, remat = residual_bytes(f_plain), residual_bytes(f_remat)
    # Without checkpoint every sin's cosine is kept (8 arrays); with it only the input.
    assert plain >= 8 * x.nbytes and remat <= 2 * x.nbytes, (plain, remat)
