"""Differentiation through control flow, in float64: cond/switch (both modes), scan, fori_loop
with static bounds and lax.map (both modes; reverse mode stores per-iteration residuals), and
while_loop (forward mode; reverse mode is a clear error).

Each function is checked eagerly and under jit: JVP against central finite differences, VJP by
the dot-product test <v, J u> = <J^T v, u>, and for scalar losses grad (plain, of jit, and
jitted) against finite differences; plus second order (grad of grad) through scan and cond.
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from xtrace.tree_util import tree_leaves, tree_map

EPS = 1e-6


@pytest.fixture(autouse=True)
def _x64():
    with xtrace.enable_x64(True):
        yield


def _rand_like(tree, rng):
    return tree_map(lambda x: rng.standard_normal(np.shape(x)), tree)


def _shift(tree, u, s):
    return tree_map(lambda x, d: np.asarray(x) + s * d, tree, u)


def _vdot(a, b):
    return sum(float(np.sum(np.asarray(x) * np.asarray(y)))
               for x, y in zip(tree_leaves(a), tree_leaves(b)))


def _fd(f, args, u, eps=EPS):
    plus = f(*_shift(args, u, eps))
    minus = f(*_shift(args, u, -eps))
    return tree_map(lambda p, m: (np.asarray(p) - np.asarray(m)) / (2 * eps), plus, minus)


def _close_trees(a, b, rtol=1e-6, atol=1e-7):
    la, lb = tree_leaves(a), tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def check_jvp_vjp(f, args, seed=0):
    """JVP vs finite differences and the dot-product test for VJP, eagerly and with the whole
    derivative computation staged under jit."""
    rng = np.random.default_rng(seed)
    jf = xtrace.jit(f)
    u = _rand_like(args, rng)
    fd = _fd(jf, args, u)
    args = tuple(args)

    def jvp_fn(a, t):
        return xtrace.jvp(f, a, t)

    def vjp_fn(a, ct):
        out, f_vjp = xtrace.vjp(f, *a)
        return out, f_vjp(ct)

    for use_jit in (False, True):
        out, t_out = (xtrace.jit(jvp_fn) if use_jit else jvp_fn)(args, tuple(u))
        _close_trees(t_out, fd, rtol=1e-5, atol=1e-6)
        v = _rand_like(out, rng)
        out2, cts = (xtrace.jit(vjp_fn) if use_jit else vjp_fn)(args, v)
        _close_trees(out2, out)
        np.testing.assert_allclose(_vdot(v, t_out), _vdot(cts, u), rtol=1e-9, atol=1e-9)


def check_grad(loss, args, seed=1, modes=("grad", "grad_of_jit", "jit_of_grad")):
    """grad (all arguments) against a finite-difference directional derivative."""
    rng = np.random.default_rng(seed)
    argnums = tuple(range(len(args)))
    u = _rand_like(args, rng)
    fd = float(np.asarray(_fd(xtrace.jit(loss), args, u)))
    for mode in modes:
        if mode == "grad":
            gf = xtrace.grad(loss, argnums)
        elif mode == "grad_of_jit":
            gf = xtrace.grad(xtrace.jit(loss), argnums)
        else:
            gf = xtrace.jit(xtrace.grad(loss, argnums))
        g = gf(*args)
        np.testing.assert_allclose(_vdot(g, u), fd, rtol=1e-6, atol=1e-8, err_msg=mode)


def _scalar(f):
    """A scalar loss from any pytree output."""
    def loss(*args):
        return sum(xnp.sum(xnp.sin(o)) for o in tree_leaves(f(*args)))
    return loss


# ---------------------------------------------------------------------------------------------
# cond / switch


def _cond_pytree(x, p):
    """Pytree operands and outputs; the branches close over ``p['w']`` (a differentiated
    parameter) and pass an integer through."""
    w = p["w"]

    def true_fun(ops):
        a, (b, n) = ops
        return {"u": xnp.sin(a) * w, "v": (b * b, n + 1)}

    def false_fun(ops):
        a, (b, n) = ops
        return {"u": a * xnp.exp(p["s"]), "v": (xnp.cos(b) + w.sum(), n)}

    out = lax.cond(xnp.sum(x) > 0, true_fun, false_fun, (x, (x[:2] * 3.0, 7)))
    return out["u"], out["v"][0]


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["true", "false"])
def test_cond_pytree_closure(sign):
    x = sign * np.array([0.7, 0.4, 0.9])
    p = {"w": np.array([1.5, -0.5, 2.0]), "s": np.array(0.3)}
    check_jvp_vjp(_cond_pytree, (x, p))
    check_grad(_scalar(_cond_pytree), (x, p))


def test_cond_integer_output_has_zero_tangent():
    def f(x):
        return lax.cond(x > 0, lambda v: (v * v, 1), lambda v: (-v, 2), x)

    (y, n), (ty, tn) = xtrace.jvp(f, (2.0,), (1.0,))
    assert float(ty) == 4.0 and int(n) == 1
    assert np.asarray(tn).dtype == xtrace._src.ad.float0
    assert float(xtrace.grad(lambda x: f(x)[0])(-2.0)) == -1.0


_BRANCHES = [lambda x, y: xnp.sin(x) * y, lambda x, y: x * y * y, lambda x, y: xnp.exp(x) + y]


@pytest.mark.parametrize("i", [-1, 1, 5])
def test_switch(i):
    def f(x, y):
        return lax.switch(xnp.int32(i) + (x.shape[0] - 3), _BRANCHES, x, y)

    args = (np.array([0.2, -0.4, 0.6]), np.array([1.1, 0.8, -0.3]))
    check_jvp_vjp(f, args)
    check_grad(_scalar(f), args)


def test_cond_branches_with_different_residuals():
    # one branch needs no residual, the other several of different shapes
    def f(x, m):
        return lax.cond(x[0] > 0, lambda a, b: xnp.tanh(b @ xnp.sin(a)) * xnp.cos(a),
                        lambda a, b: 2.0 * a, x, m)

    m = np.arange(9.0).reshape(3, 3) / 10
    for x in (np.array([0.5, 0.2, -0.1]), np.array([-0.5, 0.2, -0.1])):
        check_jvp_vjp(f, (x, m))
        check_grad(_scalar(f), (x, m))


def test_cond_second_order():
    def f(x):
        return lax.cond(x > 0.5, lambda v: xnp.sin(v) * v ** 3, lambda v: xnp.exp(v) * v, x)

    d2, g = xtrace.grad(xtrace.grad(f)), xtrace.jit(xtrace.grad(f))
    for x in (1.3, 0.2):
        fd = (float(g(x + EPS)) - float(g(x - EPS))) / (2 * EPS)
        np.testing.assert_allclose(float(d2(x)), fd, rtol=1e-6)
        np.testing.assert_allclose(float(xtrace.jit(d2)(x)), fd, rtol=1e-6)
    # forward over reverse
    h = xtrace.hessian(lambda v: xnp.sum(lax.cond(v[0] > 0, lambda a: xnp.sin(a) ** 2,
                                                  lambda a: a ** 3, v)))
    x = np.array([0.4, -0.7])
    np.testing.assert_allclose(np.asarray(h(x)), np.diag(2 * np.cos(2 * x)), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# scan, fori_loop, map


def _cumprod(xs):
    return lax.scan(lambda c, x: (c * x, c * x), np.float64(1.0), xs)


def test_scan_cumulative_product():
    xs = np.array([1.2, -0.7, 0.9, 1.5, 0.8])
    c, ys = _cumprod(xs)
    np.testing.assert_allclose(np.asarray(ys), np.cumprod(xs))
    check_jvp_vjp(_cumprod, (xs,))
    check_grad(_scalar(_cumprod), (xs,))
    g = xtrace.grad(lambda v: _cumprod(v)[0])(xs)
    np.testing.assert_allclose(np.asarray(g), np.prod(xs) / xs, rtol=1e-12)


def _rnn(params, h0, xs, reverse=False):
    def step(h, x):
        h = xnp.tanh(params["W"] @ h + params["U"] @ x + params["b"])
        return h, xnp.sum(h * h)
    return lax.scan(step, h0, xs, reverse=reverse)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_rnn(reverse):
    rng = np.random.default_rng(3)
    params = {"W": rng.standard_normal((4, 4)) * 0.5, "U": rng.standard_normal((4, 2)),
              "b": rng.standard_normal(4) * 0.1}
    h0, xs = rng.standard_normal(4), rng.standard_normal((6, 2))

    def f(p, h, x):
        return _rnn(p, h, x, reverse)

    check_jvp_vjp(f, (params, h0, xs))
    if not reverse:
        check_grad(lambda p, h, x: xnp.sum(xnp.concatenate(f(p, h, x))), (params, h0, xs))


def _plain_rnn_loss(p, h, xs):
    for x in xs:
        h = xnp.tanh(p["W"] @ h + p["U"] @ x + p["b"])
    return xnp.sum(h)


def test_scan_rnn_matches_unrolled_gradient():
    rng = np.random.default_rng(4)
    params = {"W": rng.standard_normal((3, 3)) * 0.5, "U": rng.standard_normal((3, 2)),
              "b": rng.standard_normal(3) * 0.1}
    h0, xs = rng.standard_normal(3), rng.standard_normal((5, 2))
    g1 = xtrace.grad(lambda p: xnp.sum(_rnn(p, h0, xs)[0]))(params)
    g2 = xtrace.jit(xtrace.grad(lambda p: _plain_rnn_loss(p, h0, xs)))(params)
    _close_trees(g1, g2, rtol=1e-12, atol=1e-12)


def test_scan_residuals_stacked_per_iteration():
    """The linearized scan reads per-iteration residuals as stacked xs; loop-invariant values
    (the parameters) are passed once as consts, not stacked."""
    from xtrace._src.api import _linearize_flat
    rng = np.random.default_rng(5)
    W, U, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 2)), rng.standard_normal(4)
    h0, xs = rng.standard_normal(4), rng.standard_normal((7, 2))

    def f(W, h):
        return [_rnn({"W": W, "U": U, "b": b}, h, xs)[0]]

    _, lin = _linearize_flat(f, [xnp.asarray(W), xnp.asarray(h0)])
    scans = [e for e in lin.jaxpr.eqns if e.primitive.name == "scan"]
    assert len(scans) == 1
    eqn = scans[0]
    nc = eqn.params["num_consts"]
    consts, xs_in = eqn.inputs[:nc], eqn.inputs[nc + eqn.params["num_carry"]:]
    res_consts = [v for v in consts if v in lin.jaxpr.constvars]
    res_xs = [v for v in xs_in if v in lin.jaxpr.constvars]
    assert any(v.aval.shape == (4, 4) for v in res_consts)  # W, once
    assert res_xs and all(v.aval.shape[0] == 7 for v in res_xs)  # stacked per iteration
    assert not any(v.aval.shape == (7, 4, 4) for v in res_xs)  # W is not stacked


def test_fori_loop_static_bounds():
    def f(x, a):
        return lax.fori_loop(1, 5, lambda i, c: xnp.sin(c) * a + i * c, x)

    args = (np.array([0.3, -0.2]), np.array([1.1, 0.9]))
    check_jvp_vjp(f, args)
    check_grad(_scalar(f), args)


def test_map():
    def f(xs, w):
        return lax.map(lambda r: (xnp.sin(r) @ w, xnp.exp(r[0]) * w), xs)

    args = (np.random.default_rng(6).standard_normal((4, 3)), np.array([0.5, -1.0, 2.0]))
    check_jvp_vjp(f, args)
    check_grad(_scalar(f), args)


def test_scan_with_cond_inside():
    def f(xs, c0, w):
        def step(c, x):
            c = lax.cond(x > 0, lambda v: xnp.sin(v) * w, lambda v: v * x + w, c)
            return c, c * x
        return lax.scan(step, c0, xs)

    args = (np.array([0.5, -0.3, 1.2, -0.8]), np.array(0.7), np.array(1.3))
    check_jvp_vjp(f, args)
    check_grad(_scalar(f), args)


def test_scan_carry_tangent_instantiated():
    # the carry's tangent starts at zero (only xs is differentiated) but becomes nonzero
    def f(xs):
        return lax.scan(lambda c, x: (c * x + x, c), np.float64(2.0), xs)

    check_jvp_vjp(f, (np.array([0.5, 1.5, -1.0]),))


def test_scan_second_order():
    def f(x):
        c, ys = lax.scan(lambda c, w: (xnp.sin(c) * w + c * c, c), x, np.array([0.5, 1.2, -0.7]))
        return c + xnp.sum(ys)

    g, gg = xtrace.grad(f), xtrace.grad(xtrace.grad(f))
    for x in (0.3, -1.1):
        fd = (float(g(x + EPS)) - float(g(x - EPS))) / (2 * EPS)
        np.testing.assert_allclose(float(gg(x)), fd, rtol=1e-6)
        np.testing.assert_allclose(float(xtrace.jit(gg)(x)), fd, rtol=1e-6)
        np.testing.assert_allclose(float(xtrace.grad(xtrace.jit(g))(x)), fd, rtol=1e-6)


def test_scan_hessian_forward_over_reverse():
    def f(v):
        return lax.scan(lambda c, x: (c + xnp.sum(x * v) ** 2, None), 0.0,
                        np.eye(3)[:2] + 0.5)[0]

    v = np.array([0.3, -0.4, 0.8])
    a = np.eye(3)[:2] + 0.5
    np.testing.assert_allclose(np.asarray(xtrace.hessian(f)(v)), 2 * a.T @ a, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# while_loop: forward mode only


def _newton_sqrt(a):
    return lax.while_loop(lambda y: xnp.abs(y * y - a) > 1e-14 * a,
                          lambda y: 0.5 * (y + a / y), xnp.ones_like(a) + a / 2)


@pytest.mark.parametrize("use_jit", [False, True])
def test_while_newton_sqrt_forward(use_jit):
    f = xtrace.jit(_newton_sqrt) if use_jit else _newton_sqrt
    for a in (2.0, 9.0, 0.3):
        y, t = xtrace.jvp(f, (np.float64(a),), (np.float64(1.0),))
        np.testing.assert_allclose(float(y), np.sqrt(a), rtol=1e-12)
        np.testing.assert_allclose(float(t), 1 / (2 * np.sqrt(a)), rtol=1e-9)
    x = np.array([2.0, 9.0, 0.3])
    jac = xtrace.jacfwd(lambda v: lax.map(_newton_sqrt, v))(x)
    np.testing.assert_allclose(np.asarray(jac), np.diag(1 / (2 * np.sqrt(x))), rtol=1e-9,
                               atol=1e-15)
    _, f_jvp = xtrace.linearize(f, np.float64(4.0))
    np.testing.assert_allclose(float(f_jvp(np.float64(1.0))), 0.25, rtol=1e-9)


def test_while_forward_with_params():
    # body constants (a closed-over parameter) get tangents too; the counter is an int carry
    def f(x, w):
        return lax.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, xnp.sin(c[1]) * w),
                              (0, x))[1]

    args = (np.array([0.3, 0.8]), np.array([1.2, 0.7]))
    rng = np.random.default_rng(7)
    for g in (f, xtrace.jit(f)):
        u = _rand_like(args, rng)
        _, t = xtrace.jvp(g, args, tuple(u))
        _close_trees(t, _fd(g, args, u), rtol=1e-6, atol=1e-8)


def test_grad_of_while_loop_raises():
    msg = "Reverse-mode differentiation does not work for lax.while_loop"
    with pytest.raises(ValueError, match=msg):
        xtrace.grad(_newton_sqrt)(np.float64(2.0))
    with pytest.raises(ValueError, match=msg):
        xtrace.jit(xtrace.grad(_newton_sqrt))(np.float64(2.0))

    def dyn_fori(x, n):
        return lax.fori_loop(0, n, lambda i, c: c * x, 1.0)
    with pytest.raises(ValueError, match="fori_loop with static start/stop"):
        xtrace.jit(xtrace.grad(dyn_fori))(np.float64(1.5), 3)
