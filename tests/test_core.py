"""Arrays, eager dispatch, jit, the IR and dtype semantics, against NumPy."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax


def test_array_basics():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = xnp.asarray(a)
    assert isinstance(x, xtrace.Array)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x), a)
    assert "Array(" in repr(x) and "dtype=float32" in repr(x)
    assert x.device == xtrace.devices()[0]
    assert len(x) == 2
    assert [r.tolist() for r in x] == a.tolist()
    assert float(x[1, 2]) == 5.0 and int(x[0, 1]) == 1 and x[1, 2].item() == 5.0
    assert x.tolist() == a.tolist()


def test_arrays_are_immutable():
    x = xnp.asarray([1.0, 2.0])
    with pytest.raises(TypeError):
        x[0] = 3.0
    v = np.asarray(x)
    with pytest.raises(ValueError):
        v[0] = 5.0


def test_numpy_input_is_copied():
    a = np.ones(3, np.float32)
    x = xnp.asarray(a)
    a[0] = 7
    np.testing.assert_array_equal(np.asarray(x), [1, 1, 1])


def test_eager_ops_match_numpy(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    x, y = xnp.asarray(a), xnp.asarray(b)
    np.testing.assert_allclose(x + y, a + b, rtol=1e-6)
    np.testing.assert_allclose(x * y - y / 2, a * b - b / 2, rtol=1e-6)
    np.testing.assert_allclose(xnp.sin(x), np.sin(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x @ y.T, a @ b.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.sum(axis=1), a.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(x.mean(), a.mean(), rtol=1e-5)
    np.testing.assert_array_equal(x.argmax(axis=0), a.argmax(axis=0))
    np.testing.assert_array_equal(x > y, a > b)
    np.testing.assert_allclose(-x, -a)
    np.testing.assert_allclose(abs(x), np.abs(a))
    np.testing.assert_allclose(x ** 2, a ** 2, rtol=1e-6)
    np.testing.assert_allclose(2.0 ** x, 2.0 ** a, rtol=1e-5)
    np.testing.assert_allclose(x.T, a.T)
    np.testing.assert_allclose(x.reshape(4, 3), a.reshape(4, 3))


def test_integer_ops_match_numpy():
    a = np.array([-7, -3, 0, 3, 7], np.int32)
    b = np.array([2, -2, 3, -3, 2], np.int32)
    x, y = xnp.asarray(a), xnp.asarray(b)
    np.testing.assert_array_equal(x // y, a // b)
    np.testing.assert_array_equal(x % y, a % b)
    np.testing.assert_array_equal(x & y, a & b)
    np.testing.assert_array_equal(x | y, a | b)
    np.testing.assert_array_equal(x ^ y, a ^ b)
    np.testing.assert_array_equal(~x, ~a)
    np.testing.assert_array_equal(x << 2, a << 2)
    np.testing.assert_array_equal(x >> 1, a >> 1)
    np.testing.assert_array_equal(xnp.asarray([2, 3]) ** xnp.asarray([3, 4]), [8, 81])


def test_basic_indexing_matches_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = xnp.asarray(a)
    for idx in [0, -1, (1, 2), (slice(None), 1), (Ellipsis, 2), (None, 0),
                (slice(None, None, -1),), (0, slice(1, None), slice(None, None, 2)),
                (slice(None), slice(None, None, -2), None, 3), (1, Ellipsis, None)]:
        np.testing.assert_array_equal(x[idx], a[idx], err_msg=str(idx))
    with pytest.raises(IndexError):
        x[5]


def test_default_dtypes_are_32_bit():
    assert xnp.asarray(np.arange(3)).dtype == np.int32
    assert xnp.asarray(np.ones(3)).dtype == np.float32
    assert xnp.asarray([1.5, 2.0]).dtype == np.float32
    assert xnp.arange(4).dtype == np.int32
    assert xnp.zeros(3).dtype == np.float32


def test_x64_opt_in(x64):
    assert xnp.asarray(np.ones(3)).dtype == np.float64
    assert xnp.asarray([1, 2]).dtype == np.int64
    x = xnp.asarray(np.array([1e-300, 1.0]))
    np.testing.assert_array_equal(np.asarray(x * 1.0), [1e-300, 1.0])


def test_weak_scalar_promotion():
    x16 = xnp.asarray(np.ones(2, np.float16))
    assert (x16 + 1.0).dtype == np.float16          # weak float keeps float16
    assert (x16 + 1).dtype == np.float16
    i8 = xnp.asarray(np.ones(2, np.int8))
    assert (i8 + 1).dtype == np.int8                 # weak int keeps int8
    assert (i8 + 1.5).dtype == np.float32            # int8 + weak float -> float32 (weak)
    assert (i8 + 1.5).weak_type
    assert (xnp.asarray(np.ones(2, np.int32)) + xnp.asarray(np.ones(2, np.float16))).dtype \
        == np.float16
    assert (xnp.asarray(np.ones(2, np.uint8)) + xnp.asarray(np.ones(2, np.int8))).dtype \
        == np.int16
    assert xnp.promote_types(np.int64, np.uint64) == np.float64
    assert xnp.promote_types(np.bfloat16 if hasattr(np, "bfloat16") else xnp.bfloat16,
                             np.float16) == np.float32


def test_bfloat16_round_trip():
    import ml_dtypes
    a = np.array([1.5, -2.25, 3.0], dtype=ml_dtypes.bfloat16)
    x = xnp.asarray(a)
    assert x.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(np.asarray(x).astype(np.float32), a.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(x * 2).astype(np.float32),
                                  (a.astype(np.float32) * 2))


def test_jit_matches_numpy_and_caches():
    calls = []

    @xtrace.jit
    def f(x, y):
        calls.append(1)
        return xnp.tanh(x) * y + 1.0

    a = np.linspace(-1, 1, 5).astype(np.float32)
    for _ in range(3):
        np.testing.assert_allclose(f(xnp.asarray(a), xnp.asarray(a)), np.tanh(a) * a + 1,
                                   rtol=1e-6)
    assert len(calls) == 1                          # traced once
    f(xnp.asarray(a[:3]), xnp.asarray(a[:3]))
    assert len(calls) == 2                          # new shape: retraced


def test_jit_pytrees_and_statics():
    @xtrace.jit
    def f(params, x):
        return {"y": params["w"] @ x + params["b"], "aux": (x.sum(), None)}

    w = np.eye(3, dtype=np.float32) * 2
    b = np.ones(3, np.float32)
    x = np.arange(3, dtype=np.float32)
    out = f({"w": w, "b": b}, x)
    np.testing.assert_allclose(out["y"], w @ x + b)
    assert out["aux"][1] is None
    np.testing.assert_allclose(out["aux"][0], 3.0)

    g = xtrace.jit(lambda x, n: x * n, static_argnums=1)
    np.testing.assert_allclose(g(x, 3), x * 3)
    h = xtrace.jit(lambda x, *, mode: x + 1 if mode == "inc" else x - 1,
                   static_argnames="mode")
    np.testing.assert_allclose(h(x, mode="inc"), x + 1)
    np.testing.assert_allclose(h(x, mode="dec"), x - 1)
    with pytest.raises(ValueError, match="hashable"):
        g(x, [1, 2])


def test_jit_closure_constants_and_nested():
    c = xnp.asarray(np.arange(4, dtype=np.float32))
    inner = xtrace.jit(lambda x: x * c)

    @xtrace.jit
    def outer(x):
        return inner(x) + inner(x + 1.0)

    a = np.ones(4, np.float32)
    np.testing.assert_allclose(outer(a), a * np.arange(4) + (a + 1) * np.arange(4))
    jaxpr = xtrace.make_jaxpr(outer)(a)
    assert "jit_call" in str(jaxpr)


def test_traced_bool_error_names_function_and_fix():
    @xtrace.jit
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(TypeError, match="lax.cond") as info:
        f(1.0)
    assert "static_argnums" in str(info.value) and "test_core.py" in str(info.value)
    assert "`f`" in str(info.value)


def test_make_jaxpr_prints_typed_ir():
    j = xtrace.make_jaxpr(lambda x: xnp.sin(x) * 2.0)(np.ones(3, np.float32))
    s = str(j)
    assert "a:f32[3]" in s and "sin a" in s and "mul" in s


def test_lower_and_compile_show_one_fusion():
    f = xtrace.jit(lambda x: xnp.exp(xnp.sin(x) * 2.0 + 1.0).sum())
    x = np.ones(1000, np.float32)
    text = f.lower(x).as_text()
    assert "stablehlo.sine" in text and "func.func public @main" in text
    compiled = f.lower(x).compile()
    assert "fusion" in compiled.as_text()
    assert compiled.cost_analysis()["flops"] > 0


def test_lax_is_strict_about_dtypes_and_shapes():
    with pytest.raises(TypeError, match="same dtypes"):
        lax.add(xnp.ones(3, np.float32), xnp.ones(3, np.int32))
    with pytest.raises(TypeError, match=r"\(3,\), \(4,\)"):
        lax.add(xnp.ones(3), xnp.ones(4))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        xnp.ones(3) + xnp.ones(4)
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        xnp.ones((2, 3)).sum(axis=2)
    with pytest.raises(TypeError, match="sin does not accept dtype int32"):
        lax.sin(xnp.ones(3, np.int32))


def test_devices_and_backend():
    assert xtrace.default_backend() == "cpu"
    assert xtrace.device_count() == 4           # from XTRACE_NUM_CPU_DEVICES in conftest
    assert len(xtrace.local_devices()) == 4


def test_device_put_and_ops_on_another_device():
    d1 = xtrace.devices()[1]
    a = np.arange(4, dtype=np.float32)
    x = xtrace.device_put(a, d1)
    assert x.device == d1
    y = x * 2.0 + 1.0
    assert y.device == d1
    np.testing.assert_allclose(y, a * 2 + 1)
    f = xtrace.jit(lambda u, v: u @ v)
    z = f(x, xnp.asarray(a))          # the default-device argument follows x
    assert z.device == d1 and float(z) == float(a @ a)
    back = xtrace.device_put(x, xtrace.devices()[0])
    assert back.device == xtrace.devices()[0]
    np.testing.assert_allclose(back, a)


def test_num_cpu_devices_from_config_and_env():
    import subprocess
    import sys
    code = ("import xtrace; xtrace.config.update('num_cpu_devices', 3); "
            "print(xtrace.device_count())")
    env = {k: v for k, v in __import__("os").environ.items() if k != "XTRACE_NUM_CPU_DEVICES"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "3", out.stderr
    env["XTRACE_NUM_CPU_DEVICES"] = "2"
    out = subprocess.run([sys.executable, "-c", "import xtrace; print(xtrace.device_count())"],
                         capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "2", out.stderr
    with pytest.raises(RuntimeError, match="before xtrace first uses a device"):
        xtrace.config.update("num_cpu_devices", 7)


def test_config_rejects_unknown_options():
    with pytest.raises(AttributeError, match="no option"):
        xtrace.config.update("enable_x65", True)


def test_compiled_is_callable_and_eval_shape():
    f = xtrace.jit(lambda x: (x * 2).sum(axis=0))
    a = np.ones((3, 2), np.float32)
    c = f.lower(a).compile()
    np.testing.assert_allclose(c(a), [6.0, 6.0])
    s = f.eval_shape(a)
    assert s.shape == (2,) and s.dtype == np.float32


def test_jit_python_scalar_args_are_weak():
    f = xtrace.jit(lambda x, y: x * y)
    out = f(xnp.ones(2, np.float16), 3.0)
    assert out.dtype == np.float16
    np.testing.assert_allclose(f(2, 3), 6)
    assert f(2, 3).dtype == np.int32 and f(2, 3).weak_type


def test_lax_broadcasts_rank0_operands_like_jax():
    np.testing.assert_allclose(lax.add(xnp.ones(2), 1.0), [2.0, 2.0])
    np.testing.assert_allclose(lax.mul(xnp.ones((2, 2)), xnp.asarray(3.0)), np.full((2, 2), 3.0))
    with pytest.raises(TypeError, match="incompatible shapes"):
        lax.add(xnp.ones(2), xnp.ones(3))


def test_complex_to_bool_and_lax_on_numpy_scalars():
    z = np.array([1j, 0j, 1 + 0j, -2 - 1j], np.complex64)
    np.testing.assert_array_equal(xnp.asarray(z).astype(bool), z.astype(bool))
    out = lax.broadcast_in_dim(np.float32(1.5), (), ())
    assert isinstance(out, xtrace.Array) and float(out) == 1.5


def test_dynamic_slice_negative_starts_count_from_the_end_once():
    a = np.arange(10, dtype=np.int32)
    np.testing.assert_array_equal(lax.dynamic_slice(xnp.asarray(a), [-3], [4]), a[6:10])
    f = xtrace.jit(lambda i: lax.dynamic_slice(xnp.asarray(a), [i], [4]))
    np.testing.assert_array_equal(f(-3), a[6:10])
    np.testing.assert_array_equal(f(-30), a[0:4])      # then clamped
    out = lax.dynamic_update_slice(xnp.zeros(5), xnp.ones(2), [-1])
    np.testing.assert_array_equal(out, [0, 0, 0, 1, 1])
