"""lax.cond / switch / while_loop / fori_loop / scan / map: eager and under jit, against NumPy
and plain Python loops; pytrees, closures, nesting, weak types, caching and error messages."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from xtrace._src import backend, core

MODES = ["eager", "jit"]


def run(mode, f, *args):
    return f(*args) if mode == "eager" else xtrace.jit(f)(*args)


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


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **{"rtol": 1e-5, **kw})


# ---------------------------------------------------------------------------------------------
# cond / switch


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p", [True, False])
def test_cond_pytrees_and_closures(mode, p):
    w = xnp.asarray(np.arange(3.0, dtype=np.float32))   # closed-over Array
    k = np.array([1, 2, 3], np.int32)                     # closed-over NumPy array

    def f(p, x, n):
        return lax.cond(p, lambda t: {"a": t[0] * w, "b": (t[1] + k, 1.0)},
                        lambda t: {"a": t[0] - w, "b": (t[1] * k, 2.0)}, (x, n))

    x, n = np.float32(2.0), np.array([4, 5, 6], np.int32)
    out = run(mode, f, p, x, n)
    wn, kn = np.arange(3.0), np.array([1, 2, 3])
    assert sorted(out) == ["a", "b"] and len(out["b"]) == 2
    close(out["a"], x * wn if p else x - wn)
    np.testing.assert_array_equal(out["b"][0], n + kn if p else n * kn)
    assert float(out["b"][1]) == (1.0 if p else 2.0)


@pytest.mark.parametrize("mode", MODES)
def test_cond_closure_over_outer_tracer(mode):
    def f(x, y):
        return lax.cond(x.sum() > 0, lambda: x * y, lambda: x + y)

    x = np.array([1.0, -3.0], np.float32)
    close(run(mode, f, x, np.float32(3.0)), x + 3.0)
    close(run(mode, f, -x, np.float32(3.0)), -x * 3.0)


@pytest.mark.parametrize("mode", MODES)
def test_cond_numeric_pred_and_operand_kw(mode):
    f = lambda p, x: lax.cond(p, lambda v: v + 1, lambda v: v - 1, operand=x)  # noqa: E731
    for p, want in [(np.int32(0), 1), (np.int32(-4), 3), (np.float32(0.5), 3)]:
        assert int(run(mode, f, p, np.int32(2))) == want


@pytest.mark.parametrize("mode", MODES)
def test_switch_clamps_index(mode):
    branches = [lambda x: x, lambda x: x * 10, lambda x: x * 100]
    f = lambda i, x: lax.switch(i, branches, x)  # noqa: E731
    for i, want in [(-7, 1), (0, 1), (1, 10), (2, 100), (3, 100), (1 << 20, 100)]:
        assert int(run(mode, f, np.int32(i), np.int32(1))) == want
        assert int(lax.switch(i, branches, 1)) == want  # Python int index, eager
    assert int(lax.switch(np.uint8(200), branches, 1)) == 100
    assert lax.switch(5, [lambda: 42]) == 42  # one branch: just called, as in JAX


def test_switch_shared_closure_is_one_operand():
    w = xnp.ones(3)
    jaxpr = xtrace.make_jaxpr(
        lambda i: lax.switch(i, [lambda: w * 2, lambda: w + 1, lambda: w]))(np.int32(0))
    eqn = [e for e in jaxpr.eqns if e.primitive.name == "cond"][0]
    assert len(eqn.inputs) == 2  # index and w, once
    assert all(len(b.in_avals) == 1 for b in eqn.params["branches"])


def test_cond_weak_types_join_like_jax():
    assert lax.cond(True, lambda: 1.0, lambda: 2.0).weak_type
    out = lax.cond(True, lambda: 1.0, lambda: np.float32(2))
    assert not out.weak_type and out.dtype == np.float32 and float(out) == 1.0


def test_cond_lowers_to_case():
    text = xtrace.jit(lambda p, x: lax.cond(p, xnp.sin, xnp.cos, x)).lower(True, 1.0).as_text()
    assert "stablehlo.case" in text


def test_cond_errors():
    with pytest.raises(TypeError, match=r"(?s)equal output types.*true_fun.*f32\[\].*"
                                         r"false_fun.*i32\[\]"):
        lax.cond(True, lambda x: x, lambda x: x.astype(np.int32), 1.0)
    with pytest.raises(TypeError, match=r"same pytree structure.*\(f32\[\], f32\[\]\).*f32\[\]"):
        lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)
    with pytest.raises(TypeError, match=r"shapes do not match"):
        lax.cond(True, lambda: xnp.ones(2), lambda: xnp.ones(3))
    with pytest.raises(TypeError, match="Pred must be a scalar"):
        lax.cond(np.array([True, False]), lambda: 1, lambda: 2)
    with pytest.raises(TypeError, match="Pred type must be either boolean or number"):
        lax.cond(np.complex64(1), lambda: 1, lambda: 2)
    with pytest.raises(TypeError, match="should be callable"):
        lax.cond(True, 1, lambda: 2)
    with pytest.raises(TypeError, match=r"branch 0.*branch 2.*i32\[\]"):
        lax.switch(0, [lambda: 1.0, lambda: 2.0, lambda: 3])
    with pytest.raises(TypeError, match="Index type must be an integer"):
        lax.switch(1.0, [lambda: 1, lambda: 2])
    with pytest.raises(ValueError, match="Empty branch sequence"):
        lax.switch(0, [])


# ---------------------------------------------------------------------------------------------
# while_loop / fori_loop


def collatz_steps(n):
    def body(c):
        k, m = c
        return k + 1, xnp.where(m % 2 == 0, m // 2, 3 * m + 1)
    return lax.while_loop(lambda c: c[1] != 1, body, (0, n))[0]


def np_collatz(n):
    k = 0
    while n != 1:
        n, k = (n // 2 if n % 2 == 0 else 3 * n + 1), k + 1
    return k


@pytest.mark.parametrize("mode", MODES)
def test_while_data_dependent_trip_count(mode):
    for n in [1, 6, 7, 27, 97]:
        assert int(run(mode, collatz_steps, np.int32(n))) == np_collatz(n)

    def newton_sqrt(a):  # iterate until converged: the trip count depends on the data
        def body(s):
            y, k = s
            return 0.5 * (y + a / y), k + 1
        return lax.while_loop(lambda s: xnp.abs(s[0] * s[0] - a) > 1e-5 * a, body, (a, 0))

    for a in [2.0, 49.0, 1e4]:
        y, k = run(mode, newton_sqrt, np.float32(a))
        close(y, np.sqrt(a), rtol=1e-5)
        assert 0 < int(k) < 30


@pytest.mark.parametrize("mode", MODES)
def test_while_closure_and_pytree_carry(mode):
    def f(x, limit):
        step = x * 2  # an outer value (a tracer under jit) used by both cond and body

        def body(c):
            return {"v": c["v"] + step, "n": c["n"] + 1}
        return lax.while_loop(lambda c: c["v"].sum() < limit, body, {"v": x, "n": 0})

    x = np.array([1.0, 2.0], np.float32)
    out = run(mode, f, x, np.float32(50.0))
    v, n = x.copy(), 0
    while v.sum() < 50:
        v, n = v + 2 * x, n + 1
    close(out["v"], v)
    assert int(out["n"]) == n


@pytest.mark.parametrize("mode", MODES)
def test_while_weak_init_is_promoted(mode):
    out = run(mode, lambda: lax.while_loop(lambda c: c < 10, lambda c: c + 1.5, 0))
    assert out.dtype == np.float32 and float(out) == 10.5
    out = run(mode, lambda: lax.while_loop(lambda c: c < 10, lambda c: c + 1, 0))
    assert out.dtype == np.int32 and out.weak_type and int(out) == 10
    out = lax.while_loop(lambda c: c < 3, lambda c: c + np.int32(1), 0)
    assert out.dtype == np.int32 and not out.weak_type and int(out) == 3


def test_while_lowers_to_while():
    f = xtrace.jit(lambda n: lax.while_loop(lambda c: c < n, lambda c: c * 2, 1))
    assert "stablehlo.while" in f.lower(np.int32(5)).as_text()
    assert int(f(np.int32(100))) == 128


def test_while_errors():
    with pytest.raises(TypeError, match=r"body_fun output and input must have identical types"
                                         r".*\[1\] has type i32\[\].*f32\[\].*dtypes"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 1.5),
                       (0, np.int32(1)))
    with pytest.raises(TypeError, match=r"identical types.*f32\[3\].*f32\[1,3\].*shapes"):
        lax.while_loop(lambda c: True, lambda c: c[None], xnp.ones(3))
    with pytest.raises(TypeError, match=r"same pytree structure.*\(i32\[\], i32\[\]\).*i32"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: c[0] + 1, (np.int32(0), np.int32(1)))
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c - 1, np.int32(3))
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        lax.while_loop(lambda c: c < xnp.ones(2), lambda c: c - 1, 3.0)


@pytest.mark.parametrize("mode", MODES)
def test_fori_loop_concrete_bounds_use_scan(mode):
    f = lambda x: lax.fori_loop(2, 7, lambda i, c: c * 2 + i, x)  # noqa: E731
    want = np.int32(3)
    for i in range(2, 7):
        want = want * 2 + i
    assert int(run(mode, f, np.int32(3))) == want
    names = prims(f, np.int32(3))
    assert "scan" in names and "while" not in names
    assert float(lax.fori_loop(5, 2, lambda i, c: c + i, 1.0)) == 1.0  # empty range
    assert float(lax.fori_loop(0, xnp.asarray(4), lambda i, c: c + i, 0.0)) == 6.0


@pytest.mark.parametrize("mode", MODES)
def test_fori_loop_traced_bounds_use_while(mode):
    def f(x, lo, hi):
        return lax.fori_loop(lo, hi, lambda i, c: c + xnp.asarray(x)[i], 0.0)
    x = np.arange(10, dtype=np.float32) ** 2
    assert float(run(mode, f, x, np.int32(2), np.int32(6))) == x[2:6].sum()
    assert float(run(mode, f, x, np.int32(6), np.int32(2))) == 0.0
    assert "while" in prims(lambda hi: lax.fori_loop(0, hi, lambda i, c: c + i, 0), np.int32(3))
    # a Python-int bound with a traced one: the weak bound takes the other's dtype
    g = xtrace.jit(lambda hi: lax.fori_loop(0, hi, lambda i, c: c + i, np.int32(0)))
    assert int(g(np.int32(5))) == 10


def test_fori_loop_errors():
    with pytest.raises(TypeError, match="must have equal types, got int32 and int16"):
        xtrace.jit(lambda a, b: lax.fori_loop(a, b, lambda i, c: c, 0))(np.int32(0),
                                                                          np.int16(3))
    with pytest.raises(TypeError, match="integer scalar"):
        lax.fori_loop(0.5, 3, lambda i, c: c, 0)
    with pytest.raises(ValueError, match="unroll"):
        xtrace.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c, 0, unroll=2))(np.int32(3))


# ---------------------------------------------------------------------------------------------
# scan / map


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 3, 0, True])
def test_scan_cumsum(mode, reverse, unroll):
    xs = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    f = lambda xs: lax.scan(lambda c, x: (c + x, c + x), xnp.zeros(3), xs,  # noqa: E731
                            reverse=reverse, unroll=unroll)
    carry, ys = run(mode, f, xs)
    want = np.cumsum(xs[::-1], 0)[::-1] if reverse else np.cumsum(xs, 0)
    close(ys, want, atol=1e-5)
    close(carry, xs.sum(0), atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_scan_pytrees(mode):
    def f(xs):
        def body(c, x):
            s, n = c["s"], c["n"]
            return {"s": s + x["a"] * x["b"][0], "n": n + 1}, (s, [x["b"][1] * 2])
        init = {"s": xnp.zeros(2), "n": 0}
        return lax.scan(body, init, {"a": xs[0], "b": (xs[1], xs[2].astype(np.int32))})

    rng = np.random.default_rng(1)
    xs = rng.normal(size=(3, 5, 2)).astype(np.float32)
    carry, (s_hist, [b2]) = run(mode, f, xs)
    prods = xs[0] * xs[1]
    close(carry["s"], prods.sum(0), atol=1e-5)
    assert int(carry["n"]) == 5
    close(s_hist, np.concatenate([np.zeros((1, 2)), np.cumsum(prods, 0)[:-1]]), atol=1e-5)
    np.testing.assert_array_equal(b2, xs[2].astype(np.int32) * 2)


@pytest.mark.parametrize("mode", MODES)
def test_scan_xs_none_and_no_ys(mode):
    fib = lambda: lax.scan(lambda c, _: ((c[1], c[0] + c[1]), c[0]), (0, 1), None,  # noqa
                           length=10)
    (a, b), ys = run(mode, fib)
    assert (int(a), int(b)) == (55, 89)
    np.testing.assert_array_equal(ys, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34])
    carry, ys = run(mode, lambda x: lax.scan(lambda c, x: (c * x, None), 1.0, x),
                    np.arange(1.0, 6.0, dtype=np.float32))
    assert float(carry) == 120.0 and ys is None


@pytest.mark.parametrize("mode", MODES)
def test_scan_closure_and_weak_init(mode):
    def f(xs, w):
        return lax.scan(lambda c, x: (c + x * w, c), 0, xs)  # int init, float body: promoted

    xs = np.arange(4, dtype=np.float32)
    carry, ys = run(mode, f, xs, np.float32(2.0))
    assert carry.dtype == np.float32 and float(carry) == 12.0
    np.testing.assert_array_equal(ys, [0, 0, 2, 6])


@pytest.mark.parametrize("mode", MODES)
def test_map(mode):
    xs = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = run(mode, lambda xs: lax.map(lambda r: {"s": r.sum(), "r": r[::-1]}, xs), xs)
    close(out["s"], xs.sum(1))
    close(out["r"], xs[:, ::-1])
    assert "scan" in prims(lambda xs: lax.map(xnp.sin, xs), xs)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 10])
def test_map_batch_size(batch_size):
    # JAX's semantics: a scan over whole batches of f vmapped, then the leftover rows vmapped
    xs = np.arange(14, dtype=np.float32).reshape(7, 2)
    f = lambda r: {"s": xnp.sin(r).sum(), "v": r * 2}  # noqa: E731
    out = xtrace.jit(lambda xs: lax.map(f, xs, batch_size=batch_size))(xs)
    close(out["s"], np.sin(xs).sum(1))
    close(out["v"], xs * 2)
    g = xtrace.grad(lambda xs: lax.map(lambda r: xnp.sin(r).sum(), xs,
                                       batch_size=batch_size).sum())(xs)
    close(g, np.cos(xs))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        lax.map(f, xs, batch_size=0)


def test_scan_lowering_is_a_while_loop():
    text = xtrace.jit(lambda xs: lax.scan(lambda c, x: (c + x, c * x), 0.0, xs)).lower(
        np.ones(5, np.float32)).as_text()
    for op in ["stablehlo.while", "stablehlo.dynamic_slice", "stablehlo.dynamic_update_slice"]:
        assert op in text


def test_scan_errors():
    body = lambda c, x: (c, x)  # noqa: E731
    with pytest.raises(ValueError, match="different leading axis sizes: 3, 4"):
        lax.scan(body, 0.0, (xnp.ones(3), xnp.ones(4)))
    with pytest.raises(ValueError, match=r"`length` argument of 5 .* sizes \[3\]"):
        lax.scan(body, 0.0, xnp.ones(3), length=5)
    with pytest.raises(ValueError, match="no values to scan over and `length` not provided"):
        lax.scan(body, 0.0, None)
    with pytest.raises(ValueError, match="no leading axis"):
        lax.scan(body, 0.0, 1.0)
    with pytest.raises(TypeError, match="must be a pair"):
        lax.scan(lambda c, x: c, 0.0, xnp.ones(3))
    with pytest.raises(TypeError, match=r"identical types.*f32\[\].*f32\[2\]"):
        lax.scan(lambda c, x: (c * x, None), np.float32(1), xnp.ones((3, 2)))
    with pytest.raises(ValueError, match="unroll"):
        lax.scan(body, 0.0, xnp.ones(3), unroll=-1)


# ---------------------------------------------------------------------------------------------
# nesting, tracing behaviour and caching


def nested(n, xs):
    """while (over rounds) of cond (on parity) of scan (running sums of xs)."""
    def body(state):
        k, acc = state
        acc = lax.cond(k % 2 == 0,
                       lambda a: lax.scan(lambda c, x: (c + x, c), a, xs)[0],
                       lambda a: a * 2.0, acc)
        return k + 1, acc
    return lax.while_loop(lambda s: s[0] < n, body, (0, xnp.zeros(xs.shape[1:])))[1]


def np_nested(n, xs):
    acc = np.zeros(xs.shape[1:], np.float32)
    for k in range(n):
        acc = acc + xs.sum(0) if k % 2 == 0 else acc * 2.0
    return acc


@pytest.mark.parametrize("mode", MODES)
def test_nested_scan_in_cond_in_while(mode):
    xs = np.arange(6, dtype=np.float32).reshape(3, 2)
    for n in [0, 1, 4, 5]:
        close(run(mode, nested, np.int32(n), xs), np_nested(n, xs))
    assert {"while", "cond", "scan"} <= prims(nested, np.int32(1), xs)


def test_side_effects_run_once_per_trace():
    calls = []

    def body(c, x):
        calls.append(1)
        return c + x, c

    xs = xnp.arange(10.0)
    lax.scan(body, 0.0, xs)
    assert len(calls) == 1  # traced once, not once per iteration
    xtrace.jit(lambda xs: lax.scan(body, 0.0, xs))(xs)
    assert len(calls) == 1  # same function and types: the staged body is reused


def test_eager_calls_do_not_retrace_or_recompile(monkeypatch):
    traces, compiles = [], []
    real = backend.compile

    def counting(*a, **k):
        compiles.append(1)
        return real(*a, **k)

    def t(x):
        traces.append(1)
        return x + 1

    def e(x):
        return x - 1

    def cond_(c):
        return c[0] < 5

    def body(c):
        traces.append(1)
        return c[0] + 1, c[1] * 2

    def sbody(c, x):
        traces.append(1)
        return c + x, c

    def fbody(i, c):
        traces.append(1)
        return c + i

    def run_all(x):
        return (lax.cond(True, t, e, x), lax.switch(1, [t, e, t], x),
                lax.while_loop(cond_, body, (0, x)), lax.scan(sbody, x, xnp.ones((3, 2))),
                lax.fori_loop(0, 3, fbody, x), lax.map(t, xnp.ones((2, 2))))

    x, x3 = xnp.ones(2), xnp.ones(2) * 3
    first = run_all(x)
    monkeypatch.setattr(backend, "compile", counting)
    n_traces = len(traces)
    second = run_all(x3)
    assert len(traces) == n_traces and not compiles
    close(second[0], np.full(2, 4.0))
    close(first[3][0], np.full(2, 4.0))


@pytest.mark.parametrize("mode", MODES)
def test_jit_inside_body_and_body_inside_jit(mode):
    inner = xtrace.jit(lambda c, x: (c * x, c + x))
    f = lambda xs: lax.scan(inner, 1.0, xs)  # noqa: E731
    carry, ys = run(mode, f, np.arange(1.0, 5.0, dtype=np.float32))
    assert float(carry) == 24.0
    np.testing.assert_array_equal(ys, [2, 3, 5, 10])


def test_make_jaxpr_shows_bodies():
    text = str(xtrace.make_jaxpr(lambda x: lax.scan(lambda c, x: (c + x, c), 0.0, x))(
        np.ones(3, np.float32)))
    assert "scan[" in text and "num_carry=1" in text and "length=3" in text
