"""vmap through control flow (cond/switch, while_loop/fori_loop, scan) and the custom-derivative
primitives (custom_jvp, custom_vjp, custom_lin, checkpoint, stop_gradient), alone and combined
with grad in both orders; references are NumPy loops over the examples (gradients by central
differences of NumPy code where no closed form is at hand)."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from xtrace._src import ad, core
from xtrace._src.batching import AxisData, batch_jaxpr
from xtrace._src.custom_derivatives import custom_lin_p
from xtrace._src.staging import trace_to_jaxpr


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **{"rtol": 1e-5, **kw})


def prims(f, *args):
    """Names of the primitives ``f`` traces to, including inside control-flow bodies."""
    names = set()

    def walk(j):
        for e in j.eqns:
            names.add(e.primitive.name)
            for v in e.params.values():
                for sub in v if isinstance(v, tuple) else (v,):
                    if isinstance(sub, core.ClosedJaxpr):
                        walk(sub.jaxpr)
    walk(xtrace.make_jaxpr(f)(*args).jaxpr)
    return names


def num_grad(f, x, eps=1e-6):
    """Central-difference gradient of the NumPy function ``f`` (float64) at ``x``."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


RNG = np.random.default_rng(0)

# ---------------------------------------------------------------------------------------------
# cond / switch


def _branchy(p, x):
    return lax.cond(p > 0, lambda v: v * 2.0, lambda v: xnp.sin(v) - 1.0, x)


def _np_branchy(p, x):
    return x * 2.0 if p > 0 else np.sin(x) - 1.0


def test_cond_batched_predicate_selects_per_example():
    p = np.array([1, -1, 3, 0], np.int32)
    x = RNG.normal(size=(3, 4)).astype(np.float32)  # examples along axis 1
    out = xtrace.vmap(_branchy, in_axes=(0, 1))(p, x)
    close(out, np.stack([_np_branchy(p[b], x[:, b]) for b in range(4)]))
    names = prims(xtrace.vmap(_branchy, in_axes=(0, 1)), p, x)
    assert "cond" not in names and "select_n" in names


def test_cond_unbatched_predicate_stays_a_cond():
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    for p in (np.int32(2), np.int32(-2)):
        out = xtrace.jit(xtrace.vmap(_branchy, in_axes=(None, 0)))(p, x)
        close(out, np.stack([_np_branchy(p, r) for r in x]))
    assert "cond" in prims(xtrace.vmap(_branchy, in_axes=(None, 0)), np.int32(1), x)


def test_cond_output_batched_in_one_branch_only():
    # true branch returns the unbatched operand, false the batched one: output forced batched
    f = lambda p, a, b: lax.cond(p, lambda u, v: (u, u + 1), lambda u, v: (v, u - 1), a, b)
    a = np.float32(5.0)
    b = np.arange(3, dtype=np.float32)
    for p in (True, False):
        o1, o2 = xtrace.vmap(f, in_axes=(None, None, 0))(np.bool_(p), a, b)
        close(o1, np.full(3, a) if p else b)
        close(o2, np.full(3, a + 1 if p else a - 1))


def test_cond_batched_closure_and_unbatched_predicate():
    def f(y, p):  # the branches close over the batched y
        return lax.cond(p, lambda: y * 3.0, lambda: -y)
    y = RNG.normal(size=(5, 2)).astype(np.float32)
    close(xtrace.vmap(f, in_axes=(0, None))(y, np.bool_(True)), y * 3)
    close(xtrace.vmap(f, in_axes=(0, None))(y, np.bool_(False)), -y)


_BRANCHES = [lambda v: (v * 2.0, xnp.sum(v).astype(np.int32)),
             lambda v: (v - 1.0, xnp.int32(7)),
             lambda v: (-v, xnp.argmax(v).astype(np.int32))]
_NP_BRANCHES = [lambda v: (v * 2.0, np.int32(np.sum(v))),
                lambda v: (v - 1.0, np.int32(7)),
                lambda v: (-v, np.int32(np.argmax(v)))]


def test_switch_batched_index_with_clamping():
    i = np.array([0, 1, 2, -4, 9, 1], np.int32)
    x = RNG.normal(size=(6, 3)).astype(np.float32) * 3
    outs = xtrace.jit(xtrace.vmap(lambda k, v: lax.switch(k, _BRANCHES, v)))(i, x)
    refs = [_NP_BRANCHES[min(max(k, 0), 2)](v) for k, v in zip(i, x)]
    close(outs[0], np.stack([r[0] for r in refs]))
    np.testing.assert_array_equal(outs[1], np.array([r[1] for r in refs]))


def test_switch_batched_index_unbatched_operand():
    i = np.array([2, 0, 1], np.int32)
    v = np.array([1.0, -2.0], np.float32)
    out = xtrace.vmap(lambda k: lax.switch(k, _BRANCHES, v)[0])(i)
    close(out, np.stack([_NP_BRANCHES[k](v)[0] for k in i]))


def test_vmap_of_grad_and_grad_of_vmap_through_cond():
    p = np.array([1, -1, 2, -3], np.int32)
    x = np.array([0.3, 0.7, -1.2, 2.0], np.float32)
    g = xtrace.vmap(xtrace.grad(lambda q, v: _branchy(q, v), argnums=1))(p, x)
    close(g, np.where(p > 0, 2.0, np.cos(x)))
    # grad of vmap: a batched predicate (select) and an unbatched one (cond of batched branches)
    g2 = xtrace.grad(lambda v: xtrace.vmap(_branchy)(p, v).sum())(x)
    close(g2, np.where(p > 0, 2.0, np.cos(x)))
    g3 = xtrace.grad(lambda v: xtrace.vmap(_branchy, in_axes=(None, 0))(np.int32(-1), v).sum())(x)
    close(g3, np.cos(x))
    # the shared weight's gradient sums the examples' contributions
    w = np.float32(1.5)
    g4 = xtrace.grad(lambda w_: xtrace.vmap(lambda q, v: _branchy(q, v * w_))(p, x).sum())(w)
    close(g4, np.sum(np.where(p > 0, 2.0 * x, np.cos(x * w) * x)), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# while_loop / fori_loop


def _newton(a):
    """sqrt(a) by Newton's method, with the iteration count (each example its own)."""
    def cond(c):
        y, k = c
        return xnp.abs(y * y - a) > 1e-5 * a

    def body(c):
        y, k = c
        return 0.5 * (y + a / y), k + 1
    return lax.while_loop(cond, body, (xnp.ones_like(a), 0))


def _np_newton(a):
    y, k = np.float32(1.0), 0
    while abs(y * y - a) > 1e-5 * a:
        y, k = np.float32(0.5) * (y + a / y), k + 1
    return y, k


def test_while_batched_predicate_newton():
    a = np.array([1.0, 4.0, 100.0, 0.25, 12345.0], np.float32)
    y, k = xtrace.jit(xtrace.vmap(_newton))(a)
    refs = [_np_newton(v) for v in a]
    close(y, [r[0] for r in refs], rtol=1e-5)
    np.testing.assert_array_equal(k, [r[1] for r in refs])
    assert len(set(np.asarray(k).tolist())) > 2  # different trip counts per example
    assert len([e for e in xtrace.make_jaxpr(xtrace.vmap(_newton))(a).jaxpr.eqns
                if e.primitive.name == "while"]) == 1


def _collatz(n):
    def body(c):
        m, k = c
        return xnp.where(m % 2 == 0, m // 2, 3 * m + 1), k + 1
    return lax.while_loop(lambda c: c[0] != 1, body, (n, 0))[1]


def _np_collatz(n):
    k = 0
    while n != 1:
        n, k = (n // 2 if n % 2 == 0 else 3 * n + 1), k + 1
    return k


def test_while_collatz_counts_and_nested_vmap():
    n = np.array([[1, 6, 7, 27], [12, 97, 2, 3]], np.int32)
    ref = np.vectorize(_np_collatz)(n)
    np.testing.assert_array_equal(xtrace.vmap(_collatz)(n.reshape(-1)), ref.reshape(-1))
    np.testing.assert_array_equal(xtrace.vmap(xtrace.vmap(_collatz))(n), ref)
    np.testing.assert_array_equal(xtrace.vmap(xtrace.vmap(_collatz), in_axes=1)(n), ref.T)


def test_while_unbatched_predicate_and_carry_made_batched():
    x = RNG.normal(size=(4, 2)).astype(np.float32)

    def f(v):  # the counter stays unbatched; the float carry starts unbatched, becomes batched
        return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0 + v),
                              (0, xnp.zeros(2, np.float32)))
    k, s = xtrace.vmap(f)(x)
    np.testing.assert_array_equal(k, [3] * 4)
    close(s, 7 * x)
    assert "select_n" not in prims(xtrace.vmap(f), x)


def test_while_batched_cond_consts_only():
    limit = np.array([0, 1, 5, 3], np.int32)  # the cond closes over the batched limit
    out = xtrace.vmap(lambda m: lax.while_loop(lambda c: c < m, lambda c: c + 2, 0))(limit)
    np.testing.assert_array_equal(out, [0, 2, 6, 4])


def test_fori_loop_concrete_and_batched_bounds():
    x = RNG.normal(size=(3, 2)).astype(np.float32)
    out = xtrace.vmap(lambda v: lax.fori_loop(0, 4, lambda i, c: c * 1.5 + i, v))(x)
    ref = x.copy()
    for i in range(4):
        ref = ref * 1.5 + i
    close(out, ref)
    hi = np.array([0, 2, 5], np.int32)
    out = xtrace.vmap(lambda n, v: lax.fori_loop(0, n, lambda i, c: c + v * i, v))(hi, x)
    close(out, np.stack([x[b] * (1 + sum(range(hi[b]))) for b in range(3)]))


def test_vmap_of_forward_derivatives_through_while():
    a = np.array([2.0, 9.0, 0.5], np.float32)
    d = xtrace.vmap(xtrace.jacfwd(lambda v: _newton(v)[0]))(a)
    close(d, 0.5 / np.sqrt(a), rtol=1e-4)
    _, t = xtrace.jvp(xtrace.vmap(lambda v: _newton(v)[0]), (a,), (np.ones(3, np.float32),))
    close(t, 0.5 / np.sqrt(a), rtol=1e-4)


def test_vmap_of_grad_and_grad_of_vmap_through_fori_loop():
    x = np.array([0.5, -1.0, 2.0], np.float32)
    f = lambda v: lax.fori_loop(0, 3, lambda i, c: xnp.sin(c) * (i + 1.0), v)

    def np_f(v):
        for i in range(3):
            v = np.sin(v) * (i + 1.0)
        return v
    ref = np.array([num_grad(np_f, v) for v in x])
    close(xtrace.vmap(xtrace.grad(f))(x), ref, rtol=1e-5)
    close(xtrace.grad(lambda v: xtrace.vmap(f)(v).sum())(x), ref, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# scan


def test_scan_cumsum_xs_at_axis_1():
    xs = RNG.normal(size=(5, 3, 2)).astype(np.float32)  # examples along axis 1
    f = lambda v: lax.scan(lambda c, x: (c + x, c + x), xnp.zeros(2, np.float32), v)
    carry, ys = xtrace.vmap(f, in_axes=1, out_axes=(0, 1))(xs)
    close(carry, xs.sum(0))
    close(ys, np.cumsum(xs, 0))
    carry, ys = xtrace.jit(xtrace.vmap(
        lambda v: lax.scan(lambda c, x: (c + x, c), 0.0, v, reverse=True), in_axes=1))(xs[:, :, 0])
    close(carry, xs[:, :, 0].sum(0))
    close(ys, (np.cumsum(xs[::-1, :, 0], 0)[::-1] - xs[:, :, 0]).T, atol=1e-6)


def _rnn(W, U, h0, xs):
    return lax.scan(lambda h, x: (xnp.tanh(W @ h + U @ x), h.sum()), h0, xs)


def _np_rnn(W, U, h0, xs):
    h, ys = h0, []
    for x in xs:
        ys.append(h.sum())
        h = np.tanh(W @ h + U @ x)
    return h, np.array(ys)


def test_scan_rnn_carry_batched_by_the_xs():
    W = RNG.normal(size=(3, 3)).astype(np.float32) * 0.5
    U = RNG.normal(size=(3, 2)).astype(np.float32)
    h0 = np.zeros(3, np.float32)
    xs = RNG.normal(size=(4, 6, 2)).astype(np.float32)  # 4 sequences of length 6
    h, ys = xtrace.vmap(_rnn, in_axes=(None, None, None, 0))(W, U, h0, xs)
    refs = [_np_rnn(W, U, h0, s) for s in xs]
    close(h, np.stack([r[0] for r in refs]), rtol=1e-5, atol=1e-6)
    close(ys, np.stack([r[1] for r in refs]), rtol=1e-5, atol=1e-6)
    # batched initial state, unbatched inputs (the xs stay unbatched inside)
    h0s = RNG.normal(size=(4, 3)).astype(np.float32)
    h, ys = xtrace.vmap(_rnn, in_axes=(None, None, 0, None))(W, U, h0s, xs[0])
    refs = [_np_rnn(W, U, g, xs[0]) for g in h0s]
    close(h, np.stack([r[0] for r in refs]), rtol=1e-5, atol=1e-6)


def test_scan_unbatched_carry_batched_ys():
    xs = RNG.normal(size=(3, 5)).astype(np.float32)
    f = lambda v: lax.scan(lambda c, x: (c + 1, x * c), 0, v)
    k, ys = xtrace.vmap(f)(xs)
    np.testing.assert_array_equal(k, [5, 5, 5])
    close(ys, xs * np.arange(5))


def test_grads_through_scan_rnn(x64):
    W = RNG.normal(size=(3, 3)) * 0.5
    U = RNG.normal(size=(3, 2))
    h0 = np.zeros(3)
    xs = RNG.normal(size=(4, 5, 2))

    def loss(W_, x):
        h, ys = _rnn(W_, U, h0, x)
        return (h ** 2).sum() + ys.sum()

    def np_loss(W_, x):
        h, ys = _np_rnn(W_, U, h0, x)
        return (h ** 2).sum() + ys.sum()
    per_example = np.stack([num_grad(lambda w: np_loss(w, s), W) for s in xs])
    # vmap of grad: one weight gradient per sequence
    g = xtrace.vmap(xtrace.grad(loss), in_axes=(None, 0))(W, xs)
    close(g, per_example, rtol=1e-6, atol=1e-8)
    # grad of vmap: the shared weight's gradient is the sum over sequences
    g = xtrace.jit(xtrace.grad(lambda w: xtrace.vmap(loss, in_axes=(None, 0))(w, xs).sum()))(W)
    close(g, per_example.sum(0), rtol=1e-6, atol=1e-8)
    # and with respect to the batched inputs
    gx = xtrace.grad(lambda x: xtrace.vmap(loss, in_axes=(None, 0))(W, x).sum())(xs)
    close(gx, np.stack([num_grad(lambda x: np_loss(W, x), s) for s in xs]), rtol=1e-6,
          atol=1e-8)


# ---------------------------------------------------------------------------------------------
# custom_jvp / custom_vjp / custom_lin


@xtrace.custom_jvp
def _scaled(x, y):
    return xnp.sin(x) * y


@_scaled.defjvp
def _scaled_jvp(primals, tangents):  # deliberately 10x d/dx, so the custom rule is observable
    x, y = primals
    tx, ty = tangents
    return _scaled(x, y), 10.0 * xnp.cos(x) * y * tx + xnp.sin(x) * ty


def test_custom_jvp_under_vmap_and_grad():
    x = np.array([0.1, 0.5, -1.0], np.float32)
    y = np.array([2.0, -1.0, 3.0], np.float32)
    close(xtrace.vmap(_scaled)(x, y), np.sin(x) * y)
    dx = 10 * np.cos(x) * y
    close(xtrace.vmap(xtrace.grad(_scaled))(x, y), dx)
    close(xtrace.grad(lambda v: xtrace.vmap(_scaled)(v, y).sum())(x), dx)
    close(xtrace.jit(xtrace.grad(lambda v: xtrace.vmap(_scaled)(v, y).sum()))(x), dx)
    close(xtrace.grad(lambda v: xtrace.vmap(xtrace.jit(_scaled))(v, y).sum())(x), dx)
    # an unbatched y: its cotangent sums the examples'
    gy = xtrace.grad(lambda w: xtrace.vmap(_scaled, in_axes=(0, None))(x, w).sum())(np.float32(2))
    close(gy, np.sin(x).sum())
    gx = xtrace.grad(lambda v: xtrace.vmap(_scaled, in_axes=(None, 0))(v, y).sum())(np.float32(.5))
    close(gx, (10 * np.cos(0.5) * y).sum())
    _, t = xtrace.jvp(xtrace.vmap(_scaled), (x, y), (np.ones(3, np.float32),
                                                       np.zeros(3, np.float32)))
    close(t, dx)


def test_custom_jvp_closing_over_a_batched_value():
    def f(x, y):
        @xtrace.custom_jvp
        def g(v):
            return xnp.sin(v) * y
        g.defjvp(lambda p, t: (g(p[0]), 2.0 * t[0] * y))
        return g(x)
    x = np.array([1.0, 2.0, 3.0], np.float32)
    y = np.array([4.0, 5.0, 6.0], np.float32)
    close(xtrace.vmap(f)(x, y), np.sin(x) * y)
    close(xtrace.vmap(xtrace.grad(f))(x, y), 2 * y)
    close(xtrace.grad(lambda v: xtrace.vmap(f)(v, y).sum())(x), 2 * y)


@xtrace.custom_vjp
def _clipped_mul(x, w):
    return x * w


_clipped_mul.defvjp(lambda x, w: (x * w, (x, w)),  # x's cotangent clipped to [-1, 1]
                    lambda res, g: (xnp.clip(g * res[1], -1.0, 1.0), g * res[0]))


def test_custom_vjp_under_vmap_and_grad():
    x = np.array([0.5, -2.0, 1.0, 3.0], np.float32)
    w = np.array([0.5, 4.0, -3.0, 0.1], np.float32)
    close(xtrace.vmap(_clipped_mul)(x, w), x * w)
    gx = np.clip(w, -1, 1)
    close(xtrace.vmap(xtrace.grad(_clipped_mul))(x, w), gx)
    close(xtrace.grad(lambda v: xtrace.vmap(_clipped_mul)(v, w).sum())(x), gx)
    close(xtrace.jit(xtrace.grad(lambda v: xtrace.vmap(_clipped_mul)(v, w).sum()))(x), gx)
    # a shared weight: per-example cotangents g * x, summed
    s = np.float32(2.0)
    g = xtrace.grad(lambda s_: xtrace.vmap(_clipped_mul, in_axes=(0, None))(x, s_).sum())(s)
    close(g, x.sum())
    g = xtrace.grad(lambda v: xtrace.vmap(_clipped_mul, in_axes=(0, None))(v, s).sum())(x)
    close(g, np.ones(4))  # 2.0 clipped to 1
    # the x cotangent of an unbatched x sums the clipped per-example values
    g = xtrace.grad(lambda v: xtrace.vmap(_clipped_mul, in_axes=(None, 0))(v, w).sum())(
        np.float32(1.0))
    close(g, gx.sum())


def test_custom_vjp_inside_scan_with_grad_both_orders():
    def f(x):
        return lax.scan(lambda c, a: (_clipped_mul(c, a), c), x, xnp.full(3, 1.5))[0]
    x = np.array([1.0, 2.0, -3.0], np.float32)
    close(xtrace.vmap(f)(x), x * 1.5 ** 3)
    close(xtrace.vmap(xtrace.grad(f))(x), np.ones(3))  # each step's 1.5 clipped to 1
    close(xtrace.grad(lambda v: xtrace.vmap(f)(v).sum())(x), np.ones(3))


def test_custom_lin_batching_then_transpose():
    """A linear Jaxpr holding custom_lin (what linearizing a custom_vjp function stages),
    batched and then transposed: the batched bwd runs per example, and the cotangent of an
    unbatched tangent input sums the examples'."""
    def bwd(res, cts):
        return [res[0] * cts[0]]
    aval = core.ShapedArray((2,), np.float32)

    def lin(r, t):
        return custom_lin_p.bind(r, t, num_res=1, bwd=bwd, out_avals=(aval,))
    closed = trace_to_jaxpr(lin, [aval, aval])
    r = RNG.normal(size=(3, 2)).astype(np.float32)
    ct = RNG.normal(size=(3, 2)).astype(np.float32)
    for t_batched in (True, False):
        batched, out_b = batch_jaxpr(closed, AxisData(3), [True, t_batched])
        assert out_b == [True]
        t_aval = core.ShapedArray((3, 2) if t_batched else (2,), np.float32)
        ct_r, ct_t = ad.backward_pass(batched.jaxpr, batched.consts,
                                      [r, ad.UndefinedPrimal(t_aval)], [ct])
        assert ct_r is None
        close(ct_t, r * ct if t_batched else (r * ct).sum(0))


# ---------------------------------------------------------------------------------------------
# checkpoint / stop_gradient


def test_checkpoint_under_vmap_and_grad():
    f = xtrace.checkpoint(lambda x, w: xnp.sin(xnp.sin(x) * w))
    x = np.array([0.3, -0.8, 1.4], np.float32)
    w = np.float32(1.7)
    close(xtrace.vmap(f, in_axes=(0, None))(x, w), np.sin(np.sin(x) * w))
    assert "remat" in prims(xtrace.vmap(f, in_axes=(0, None)), x, w)
    dx = np.cos(np.sin(x) * w) * np.cos(x) * w
    close(xtrace.vmap(xtrace.grad(f), in_axes=(0, None))(x, w), dx)
    close(xtrace.grad(lambda v: xtrace.vmap(f, in_axes=(0, None))(v, w).sum())(x), dx)
    gw = xtrace.grad(lambda u: xtrace.vmap(f, in_axes=(0, None))(x, u).sum())(w)
    close(gw, (np.cos(np.sin(x) * w) * np.sin(x)).sum())


def test_stop_gradient_under_vmap_and_grad():
    f = lambda x: x * lax.stop_gradient(x) + x
    x = np.array([1.0, -2.0, 3.0], np.float32)
    close(xtrace.vmap(f)(x), x * x + x)
    close(xtrace.vmap(xtrace.grad(f))(x), x + 1)
    close(xtrace.grad(lambda v: xtrace.vmap(f)(v).sum())(x), x + 1)
