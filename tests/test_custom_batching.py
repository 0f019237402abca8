"""custom_batching.custom_vmap / sequential_vmap and closure_convert, against NumPy and finite
differences (JAX's documented behaviour hard-coded)."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from xtrace.custom_batching import custom_vmap, sequential_vmap

X = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3)


def _counted_sin_times():
    calls = []

    @custom_vmap
    def f(x, y):
        return xnp.sin(x) * y

    @f.def_vmap
    def rule(axis_size, in_batched, x, y):
        calls.append((axis_size, list(in_batched), np.shape(x)))
        return xnp.sin(x) * y, any(in_batched)

    return f, calls


def test_custom_vmap_unbatched_call_runs_function():
    f, calls = _counted_sin_times()
    np.testing.assert_allclose(f(X[0], 2.0), np.sin(X[0]) * 2, rtol=1e-6)
    assert calls == []


def test_custom_vmap_rule_sees_axis_size_and_in_batched():
    f, calls = _counted_sin_times()
    out = xtrace.vmap(f, (1, None))(X, 3.0)
    np.testing.assert_allclose(out, np.sin(X.T) * 3, rtol=1e-6)
    assert calls == [(3, [True, False], (3, 2))]  # batch axis moved to the front


def test_custom_vmap_under_jit_and_nested_vmap():
    f, calls = _counted_sin_times()
    out = xtrace.jit(xtrace.vmap(f, (0, None)))(X, 2.0)
    np.testing.assert_allclose(out, np.sin(X) * 2, rtol=1e-6)
    assert calls[0][:2] == (2, [True, False])
    calls.clear()  # the rule survives staging: vmap of a jitted call still uses it
    out = xtrace.vmap(xtrace.jit(f), (0, None))(X, 2.0)
    np.testing.assert_allclose(out, np.sin(X) * 2, rtol=1e-6)
    assert calls and calls[0][:2] == (2, [True, False])
    # vmap of a vmapped custom_vmap: the inner rule runs once, the outer vmap batches it.
    calls.clear()
    xs = np.stack([X, 2 * X])
    out = xtrace.vmap(xtrace.vmap(f, (0, None)), (0, None))(xs, 2.0)
    np.testing.assert_allclose(out, np.sin(xs) * 2, rtol=1e-6)
    assert len(calls) == 1


def test_custom_vmap_unbatched_output_and_pytrees():
    @custom_vmap
    def f(d):
        return {"s": d["a"].sum(), "c": d["b"] * 2.0}

    @f.def_vmap
    def rule(axis_size, in_batched, d):
        assert in_batched == [{"a": True, "b": False}]
        return {"s": d["a"].sum(axis=1), "c": d["b"] * 2.0}, {"s": True, "c": False}

    out = xtrace.vmap(f, ({"a": 0, "b": None},), {"s": 0, "c": None})(
        {"a": X, "b": np.float32(1.5)})
    np.testing.assert_allclose(out["s"], X.sum(1), rtol=1e-6)
    assert out["c"].shape == () and float(out["c"]) == 3.0


def test_custom_vmap_rule_can_differ_from_function():
    # The rule is what vmap uses (here deliberately a different function).
    @custom_vmap
    def f(x):
        return x + 1.0

    f.def_vmap(lambda n, b, x: (x * 10.0, True))
    np.testing.assert_allclose(f(X[0]), X[0] + 1, rtol=1e-6)
    np.testing.assert_allclose(xtrace.vmap(f)(X), X * 10, rtol=1e-6)


def test_custom_vmap_jvp_and_grad_of_vmap():
    f, calls = _counted_sin_times()
    p, t = xtrace.jvp(xtrace.vmap(f, (0, None)), (X[0], 2.0), (np.ones(3, np.float32), 1.0))
    np.testing.assert_allclose(p, np.sin(X[0]) * 2, rtol=1e-6)
    np.testing.assert_allclose(t, np.cos(X[0]) * 2 + np.sin(X[0]), rtol=1e-5)
    g = xtrace.grad(lambda x: xtrace.vmap(f, (0, None))(x, 2.0).sum())(X[0])
    eps = 1e-3
    x64 = X[0].astype(np.float64)
    fd = (np.sin(x64 + eps) - np.sin(x64 - eps)) * 2 / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-4)
    assert calls


def test_custom_vmap_errors():
    @custom_vmap
    def f(x):
        return x

    with pytest.raises(AttributeError, match="No batching rule defined"):
        f(X)
    f.def_vmap(lambda n, b, x: ((x, x), True))
    with pytest.raises(ValueError, match="structure of output value and output batching"):
        xtrace.vmap(f)(X)
    f.def_vmap(lambda n, b, x: ((x, x), (True, True)))
    with pytest.raises(ValueError, match="does not match that of original"):
        xtrace.vmap(f)(X)


def test_sequential_vmap_loops_and_matches():
    traced = []

    @sequential_vmap
    def f(x, y):
        traced.append(np.shape(x))
        return xnp.sum(x * y)

    out = xtrace.vmap(f, (0, None))(X, np.arange(3, dtype=np.float32))
    np.testing.assert_allclose(out, X @ np.arange(3), rtol=1e-5)
    assert all(s == (3,) for s in traced)  # f only ever sees one example
    jaxpr = str(xtrace.make_jaxpr(xtrace.vmap(f, (0, None)))(X, np.ones(3, np.float32)))
    assert "scan" in jaxpr or "while" in jaxpr
    ints = xtrace.vmap(sequential_vmap(lambda x: x + 1))(np.arange(3))
    np.testing.assert_array_equal(ints, [1, 2, 3])
    assert ints.dtype == np.int32


def test_closure_convert_hoists_differentiated_closures():
    def outer(c):
        g = lambda x: xnp.sin(c * x)  # noqa: E731
        fn, hoisted = xtrace.closure_convert(g, 1.0)
        assert len(hoisted) == 1  # c, a JVP tracer of the enclosing grad
        return fn(0.5, *hoisted)

    c = 0.7
    g = xtrace.grad(outer)(c)
    np.testing.assert_allclose(g, np.cos(c * 0.5) * 0.5, rtol=1e-5)


def test_closure_convert_keeps_concrete_constants_and_checks_trees():
    a = xnp.asarray(X)
    fn, hoisted = xtrace.closure_convert(lambda x, y: a * x + y, 1.0, 2.0)
    assert hoisted == []
    np.testing.assert_allclose(fn(2.0, 1.0), X * 2 + 1, rtol=1e-6)
    with pytest.raises(TypeError, match="same Pytree structure"):
        fn((2.0,), 1.0)


def test_closure_convert_with_custom_vjp_higher_order():
    @xtrace.custom_vjp
    def apply(fn, x, *args):
        return fn(x, *args)

    def fwd(fn, x, *args):
        return fn(x, *args), (x, args)

    def bwd(fn, res, g):
        x, args = res
        _, vjp = xtrace.vjp(fn, x, *args)
        return vjp(g)

    apply = xtrace.custom_vjp(apply.fun, nondiff_argnums=(0,))
    apply.defvjp(fwd, bwd)

    def loss(c, x):
        fn, hoisted = xtrace.closure_convert(lambda x: c * lax.sin(x), x)
        return apply(fn, x, *hoisted)

    gc, gx = xtrace.grad(loss, argnums=(0, 1))(0.3, 0.9)
    np.testing.assert_allclose(gc, np.sin(0.9), rtol=1e-5)
    np.testing.assert_allclose(gx, 0.3 * np.cos(0.9), rtol=1e-5)
