"""Top-level jax.* utilities: eval_shape/ShapeDtypeStruct/typeof, device_get, jacobian,
linear_transpose, custom_gradient, disable_jit, clear_caches, ensure_compile_time_eval,
named_call/named_scope, checkpoint_policies, float0, process aliases, live_arrays,
default_device, Device, version. Numbers are checked against NumPy and finite differences."""
import pathlib
import re
import warnings

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax


def fd_grad(f, x, eps=1e-3):
    """Central finite differences of a scalar function of a float64 NumPy vector."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


# ---- ShapeDtypeStruct, eval_shape, typeof ----


def test_shape_dtype_struct():
    s = xtrace.ShapeDtypeStruct((2, 3), np.float32)
    assert (s.shape, s.dtype, s.weak_type, s.ndim, s.size, len(s)) == (
        (2, 3), np.dtype(np.float32), False, 2, 6, 2)
    assert s == xtrace.ShapeDtypeStruct([2, 3], "float32")
    assert hash(s) == hash(xtrace.ShapeDtypeStruct((2, 3), np.float32))
    assert s != xtrace.ShapeDtypeStruct((2, 3), np.float32, weak_type=True)
    assert repr(s) == "ShapeDtypeStruct(shape=(2, 3), dtype=float32)"
    assert repr(xtrace.ShapeDtypeStruct((), np.int32, weak_type=True)) == (
        "ShapeDtypeStruct(shape=(), dtype=int32, weak_type=True)")
    assert xtrace.ShapeDtypeStruct((1,), np.float32, sharding=object()).shape == (1,)
    with pytest.raises(ValueError, match="dtype must be specified"):
        xtrace.ShapeDtypeStruct((2,), None)


def test_eval_shape_traces_without_running():
    S = xtrace.ShapeDtypeStruct
    big = S((100_000, 100_000), np.float32)  # 40 GB if it were ever computed

    def f(x, y, scale=1.0):
        return {"prod": x @ x.T * scale, "sum": xnp.sum(x, axis=0) + y, "n": 3}

    out = xtrace.eval_shape(f, big, 2.0, scale=S((), np.float32))
    assert out == {"prod": S((100_000, 100_000), np.float32), "sum": S((100_000,), np.float32),
                   "n": S((), np.int32, weak_type=True)}
    assert xtrace.eval_shape(lambda x: x + 1, 1.0) == S((), np.float32, weak_type=True)
    assert xtrace.eval_shape(lambda x: x + 1, np.ones(3)) == S((3,), np.float32)
    assert xtrace.eval_shape(lambda x: x.astype(np.int8), xnp.ones((2, 2))) == S((2, 2), np.int8)
    assert xtrace.eval_shape(lambda x: x, xtrace.ShapedArray((4,), np.int32)) == S((4,), np.int32)
    with pytest.raises((TypeError, ValueError), match=r"\(2, 3\)"):
        xtrace.eval_shape(lambda x, y: x @ y, S((2, 3), np.float32), S((2, 3), np.float32))


def test_jit_lower_accepts_shape_dtype_struct():
    lowered = xtrace.jit(lambda x: x * 2).lower(xtrace.ShapeDtypeStruct((3,), np.float32))
    assert "tensor<3xf32>" in lowered.as_text()
    out = xtrace.jit(lambda x: x.sum()).eval_shape(xtrace.ShapeDtypeStruct((5, 2), np.int32))
    assert out.shape == () and out.dtype == np.int32


def test_typeof():
    assert xtrace.typeof(xnp.ones((2, 3))) == xtrace.ShapedArray((2, 3), np.float32)
    assert xtrace.typeof(1.0) == xtrace.ShapedArray((), np.float32, weak_type=True)
    assert xtrace.typeof(np.ones(2, np.int64)) == xtrace.ShapedArray((2,), np.int32)
    seen = []
    xtrace.jit(lambda x: seen.append(xtrace.typeof(x)) or x)(np.ones((4,), np.float32))
    assert seen == [xtrace.ShapedArray((4,), np.float32)]
    with pytest.raises(TypeError, match="not an array type"):
        xtrace.typeof("a string")


# ---- host values ----


def test_device_get():
    tree = {"a": xnp.arange(3.0), "b": 3, "c": np.int8(2), "d": "name", "e": (xnp.ones(2),)}
    out = xtrace.device_get(tree)
    assert type(out["a"]) is np.ndarray and out["a"].dtype == np.float32
    np.testing.assert_array_equal(out["a"], [0.0, 1.0, 2.0])
    assert out["b"] == 3 and type(out["b"]) is int and out["d"] == "name"
    assert type(out["c"]) is np.ndarray and out["c"].dtype == np.int8
    assert type(out["e"]) is tuple and type(out["e"][0]) is np.ndarray
    with pytest.raises(TypeError):
        xtrace.jit(lambda x: xtrace.device_get(x))(1.0)


def test_live_arrays():
    a = xnp.full((7, 3), 2.0)
    live = xtrace.live_arrays()
    assert any(x is a for x in live) and all(isinstance(x, xtrace.Array) for x in live)
    assert any(x is a for x in xtrace.live_arrays("cpu"))
    a.delete()
    assert not any(x is a for x in xtrace.live_arrays())


# ---- jacobian, linear_transpose, custom_gradient ----


def test_jacobian_is_jacrev():
    A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], np.float32)
    x = np.array([0.3, -0.2, 0.9], np.float32)
    J = xtrace.jacobian(lambda v: xnp.tanh(A @ v))(x)
    expected = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    np.testing.assert_allclose(J, expected, rtol=1e-5)
    Jx, Jy = xtrace.jacobian(lambda a, b: a * b, argnums=(0, 1))(x, 2 * x)
    np.testing.assert_allclose(Jx, np.diag(2 * x), rtol=1e-6)
    np.testing.assert_allclose(Jy, np.diag(x), rtol=1e-6)


def test_linear_transpose_matches_matrix_transpose():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4)).astype(np.float32)
    f_t = xtrace.linear_transpose(lambda x: A @ x, xtrace.ShapeDtypeStruct((4,), np.float32))
    ct = rng.normal(size=3).astype(np.float32)
    (got,) = f_t(ct)
    np.testing.assert_allclose(got, A.T @ ct, rtol=1e-5)
    (got_jit,) = xtrace.jit(f_t)(ct)  # the transposed function is a pytree
    np.testing.assert_allclose(got_jit, A.T @ ct, rtol=1e-5)
    # several inputs and a pytree output; an input the output ignores gets zeros
    f_t = xtrace.linear_transpose(lambda x, y, z: {"a": 2 * x + y.sum(), "b": x[:2]},
                                  np.ones(3, np.float32), 1.0, np.ones(2, np.float32))
    gx, gy, gz = f_t({"a": np.arange(3.0, dtype=np.float32), "b": np.ones(2, np.float32)})
    np.testing.assert_allclose(gx, [1.0, 3.0, 4.0])
    np.testing.assert_allclose(gy, 3.0)
    np.testing.assert_allclose(gz, [0.0, 0.0])
    assert gz.dtype == np.float32
    # <f(x), c> == <x, f^T(c)>
    conv = lambda x: xnp.convolve(x, xnp.array([1.0, -2.0, 0.5]), mode="same")  # noqa: E731
    x, c = rng.normal(size=6).astype(np.float32), rng.normal(size=6).astype(np.float32)
    (xt,) = xtrace.linear_transpose(conv, x)(c)
    np.testing.assert_allclose(np.dot(np.asarray(conv(x)), c), np.dot(x, xt), rtol=1e-5)


def test_linear_transpose_errors():
    with pytest.raises(TypeError, match="not linear"):
        xtrace.linear_transpose(lambda x: x * x, 1.0)(1.0)
    with pytest.raises(NotImplementedError, match="sin"):
        xtrace.linear_transpose(xnp.sin, 1.0)(1.0)
    with pytest.raises(TypeError, match=r"\[float or complex\]"):
        xtrace.linear_transpose(lambda x: x.astype(np.int32), np.ones(2, np.float32))
    f_t = xtrace.linear_transpose(lambda x: x * 2, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="cotangent type does not match"):
        f_t(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="cotangent type does not match"):
        f_t(np.ones(3, np.float16))
    with pytest.raises(TypeError, match="cotangent tree does not match"):
        f_t((np.ones(3, np.float32),))


def test_custom_gradient():
    @xtrace.custom_gradient
    def f(x):
        return x ** 2, lambda g: (g * x,)  # deliberately half the true derivative

    assert float(f(3.0)) == 9.0
    assert float(xtrace.grad(f)(3.0)) == 3.0
    assert float(xtrace.jit(xtrace.grad(f))(3.0)) == 3.0
    np.testing.assert_allclose(xtrace.vmap(xtrace.grad(f))(xnp.arange(3.0)), [0.0, 1.0, 2.0])

    @xtrace.custom_gradient
    def h(x, y):
        return x * y, lambda g: (g * y * 10, g * x)

    gx, gy = xtrace.grad(h, argnums=(0, 1))(2.0, 3.0)
    assert (float(gx), float(gy)) == (30.0, 2.0)
    assert float(xtrace.grad(lambda x: h(x, y=3.0))(2.0)) == 30.0  # keyword arguments

    @xtrace.custom_gradient
    def clip_grad(x):  # one argument: the rule may return a bare cotangent
        return xnp.sum(x ** 2), lambda g: xnp.clip(2 * g * x, -1.0, 1.0)

    x = np.array([0.1, 2.0, -3.0], np.float32)
    np.testing.assert_allclose(xtrace.grad(clip_grad)(x), [0.2, 1.0, -1.0], rtol=1e-6)

    @xtrace.custom_gradient
    def log1pexp(x):  # the classic use: a numerically stable gradient
        e = xnp.exp(x)
        return xnp.log1p(e), lambda g: (g * (1 - 1 / (1 + e)),)

    xs = np.array([-2.0, 0.5, 3.0])
    g = xtrace.vmap(xtrace.grad(log1pexp))(xs.astype(np.float32))
    np.testing.assert_allclose(g, [fd_grad(lambda v: np.log1p(np.exp(v[0])), [v])[0]
                                   for v in xs], rtol=1e-4)


# ---- disable_jit, ensure_compile_time_eval, clear_caches ----


def test_disable_jit_runs_python():
    @xtrace.jit
    def f(x):
        if x > 0:  # Python control flow on a value: only possible without jit
            return x * 2
        return -x

    with pytest.raises(TypeError):
        f(1.0)
    with xtrace.disable_jit():
        assert xtrace.config.disable_jit
        assert float(f(3.0)) == 6.0 and float(f(xnp.float32(-2.0))) == 2.0
        calls = []
        out = lax.cond(xnp.float32(1.0) > 0, lambda v: calls.append(v) or v + 1,
                       lambda v: v - 1, 1.0)
        assert float(out) == 2.0 and calls == [1.0]  # only the taken branch ran
        assert int(lax.while_loop(lambda v: v < 10, lambda v: v * 2, 1)) == 16
        carry, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, xnp.arange(4.0), reverse=True)
        np.testing.assert_allclose(ys, [0.0, 5.0, 6.0, 0.0])
        assert float(carry) == 6.0
        assert int(lax.fori_loop(0, 5, lambda i, v: v + i, 0)) == 10
        v = xtrace.vmap(lambda v: lax.while_loop(lambda v: v < 10, lambda v: v * 2, v))(
            xnp.array([1, 3, 7]))
        np.testing.assert_array_equal(v, [16, 12, 14])
    assert not xtrace.config.disable_jit
    with pytest.raises(TypeError):
        f(1.0)
    xtrace.config.update("jax_disable_jit", True)  # JAX's option name works too
    try:
        assert xtrace.config.jax_disable_jit and float(f(1.0)) == 2.0
    finally:
        xtrace.config.update("disable_jit", False)


def test_ensure_compile_time_eval():
    seen = []

    @xtrace.jit
    def f(x):
        with xtrace.ensure_compile_time_eval():
            y = xnp.arange(3.0) * 2
            seen.append(float(y.sum()))  # concrete at trace time
            n = int(xnp.argmax(y))
        return x + y[n]

    assert float(f(1.0)) == 5.0 and seen == [6.0]
    with xtrace.ensure_compile_time_eval():
        np.testing.assert_allclose(xnp.ones(2) + 1, [2.0, 2.0])


def test_clear_caches():
    traces = []

    @xtrace.jit
    def f(x):
        traces.append(1)
        return x * 3

    assert float(f(2.0)) == 6.0 and float(f(4.0)) == 12.0 and len(traces) == 1
    xtrace.clear_caches()
    assert f._cache_size() == 0
    assert float(f(2.0)) == 6.0 and len(traces) == 2
    np.testing.assert_allclose(xnp.sin(xnp.ones(2)), np.sin(np.ones(2, np.float32)))


# ---- names, policies, float0, aliases, devices, version ----


def test_named_call_and_scope():
    g = xtrace.named_call(lambda x: x * 2 + 1, name="affine")
    assert g.__name__ == "affine"
    with xtrace.named_scope("outer"):
        np.testing.assert_allclose(xtrace.jit(g)(np.arange(3.0)), [1.0, 3.0, 5.0])
    assert float(xtrace.grad(g)(1.0)) == 2.0
    with pytest.raises(TypeError, match="must be a string"):
        with xtrace.named_scope(1):
            pass


@pytest.mark.parametrize("name", ["everything_saveable", "nothing_saveable", "dots_saveable",
                                  "dots_with_no_batch_dims_saveable"])
def test_checkpoint_policies(name):
    policy = getattr(xtrace.checkpoint_policies, name)
    W = np.array([[0.5, -1.0], [2.0, 0.3]], np.float32)

    def loss(x):
        return xnp.sum(xnp.sin(W @ xnp.sin(x)) ** 2)

    f = xtrace.checkpoint(loss, policy=policy)
    x = np.array([0.2, -0.7], np.float32)
    ref = fd_grad(lambda v: np.sum(np.sin(W.astype(np.float64) @ np.sin(v)) ** 2), x)
    np.testing.assert_allclose(xtrace.grad(f)(x), ref, rtol=1e-3, atol=1e-4)
    with pytest.raises(TypeError, match="policy"):
        xtrace.checkpoint(loss, policy="dots")


def test_checkpoint_policy_functions():
    cp = xtrace.checkpoint_policies
    assert cp.checkpoint_dots is cp.dots_saveable
    only = cp.save_only_these_names("a")
    assert only("name", name="a") and not only("name", name="b")
    both = cp.save_from_both_policies(cp.nothing_saveable, cp.save_any_names_but_these("b"))
    assert both("p", name="a") and not both("p", name="b")


def test_float0_tangents_of_integer_inputs():
    g = xtrace.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert float(g[0]) == 3.0
    assert g[1].dtype == xtrace.float0 and g[1].shape == ()
    with pytest.raises(TypeError, match="allow_int"):
        xtrace.grad(lambda x, n: x * n, argnums=1)(2.0, 3)


def test_process_aliases_and_devices():
    with pytest.warns(UserWarning, match="process_count"):
        assert xtrace.host_count() == xtrace.process_count() == 1
    with pytest.warns(UserWarning, match="process_index"):
        assert xtrace.host_id() == 0
    with pytest.warns(UserWarning, match="process_indices"):
        assert xtrace.host_ids() == [0]
    assert xtrace.process_indices() == [0]
    assert all(isinstance(d, xtrace.Device) for d in xtrace.devices())
    assert xtrace.__version__ == xtrace.version.__version__
    pyproject = (pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == xtrace.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xtrace.process_indices()


def test_default_device():
    devs = xtrace.devices()
    if len(devs) < 2:
        pytest.skip("needs two devices (XTRACE_NUM_CPU_DEVICES)")
    d = devs[1]
    with xtrace.default_device(d):
        a = xnp.arange(3.0)
        b = a * 2
        c = xtrace.jit(lambda x: x + 1)(np.ones(2, np.float32))
        e = xtrace.device_put(np.ones(2))
        assert {a.device, b.device, c.device, e.device} == {d}
        np.testing.assert_allclose(b, [0.0, 2.0, 4.0])
        np.testing.assert_allclose(c, [2.0, 2.0])
    assert xnp.ones(2).device == devs[0] and xtrace.config.default_device is None
    with xtrace.default_device("cpu"):
        assert xnp.ones(2).device == devs[0]
    with pytest.raises(TypeError, match="default_device"):
        with xtrace.default_device(3):
            pass
    xtrace.config.update("jax_default_device", devs[1])
    try:
        assert xnp.zeros(1).device == devs[1]
    finally:
        xtrace.config.update("default_device", None)


def test_debug_nans_and_infs():
    x = xnp.array([1.0, -1.0])
    assert np.isnan(np.asarray(xnp.log(x))[1])  # off by default: NaN comes back quietly
    f = xtrace.jit(lambda v: xnp.sqrt(v) * 2)
    try:
        xtrace.config.update("jax_debug_nans", True)  # JAX's option name
        with pytest.raises(FloatingPointError, match=r"invalid value \(nan\) encountered in log"):
            xnp.log(x)
        with pytest.raises(FloatingPointError, match=r"nan\) encountered in jit\(<lambda>\)"):
            f(x)
        np.testing.assert_allclose(f(xnp.array([4.0, 9.0])), [4.0, 6.0])
        np.testing.assert_array_equal(xnp.log(xnp.array([1.0, 0.0])), [0.0, -np.inf])
        xtrace.config.update("debug_infs", True)
        with pytest.raises(FloatingPointError, match=r"invalid value \(inf\) encountered in log"):
            xnp.log(xnp.array([1.0, 0.0]))
        np.testing.assert_array_equal(xnp.array([3, 4]) + 1, [4, 5])  # integers: not checked
    finally:
        xtrace.config.update("debug_nans", False)
        xtrace.config.update("debug_infs", False)
    np.testing.assert_allclose(np.asarray(f(x))[0], 2.0)
    with pytest.raises(AttributeError, match="no option '_plain'"):
        xtrace.config.update("_plain", False)
