"""Host callbacks (pure_callback, experimental.io_callback, debug.callback, debug.print):
eagerly, under jit, in loop bodies, under vmap and autodiff; printed text as JAX prints it."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as jnp
from xtrace import lax
from xtrace.experimental import io_callback

S = xtrace.ShapeDtypeStruct


def _lines(capsys):
    return capsys.readouterr().out.splitlines()


def test_debug_print_formats_like_jax(capsys):
    xtrace.debug.print("x={x} y={} z={z}", np.float32(2.5), x=jnp.arange(3.0),
                       z={"a": jnp.ones(2)})
    xtrace.debug.print("{:.2f} {}", np.float32(1.23456), 3)
    xtrace.debug.print("{x}", x=jnp.ones((2, 2), jnp.int32))
    xtrace.debug.print("no args")
    assert _lines(capsys) == ["x=[0. 1. 2.] y=2.5 z={'a': Array([1., 1.], dtype=float32)}",
                              "1.23 3", "[[1 1]", " [1 1]]", "no args"]


def test_debug_print_missing_argument_raises_while_tracing():
    with pytest.raises(KeyError):
        xtrace.debug.print("{x}")
    with pytest.raises(KeyError):
        xtrace.jit(lambda a: xtrace.debug.print("{x}", a))(1.0)
    with pytest.raises(IndexError):
        xtrace.debug.print("{} {}", 1.0)


def test_debug_print_under_jit_and_loops(capsys):
    @xtrace.jit
    def f(x):
        xtrace.debug.print("in jit {x} {y}", x=x, y=x.sum())

        def body(c, v):
            xtrace.debug.print("c={c} v={v}", c=c, v=v)
            return c + v, c
        c, _ = lax.scan(body, 0.0, x)
        lax.fori_loop(0, 2, lambda i, a: (xtrace.debug.print("i={}", i), a)[1], 0)
        lax.while_loop(lambda k: k < 2, lambda k: (xtrace.debug.print("w={}", k), k + 1)[1], 0)
        lax.cond(c > 1, lambda: xtrace.debug.print("T"), lambda: xtrace.debug.print("F"))
        return x * 2

    out = f(jnp.arange(3.0))
    np.testing.assert_allclose(np.asarray(out), np.arange(3.0) * 2)
    lines = _lines(capsys)
    expected = ["in jit [0. 1. 2.] 3.0", "c=0.0 v=0.0", "c=0.0 v=1.0", "c=1.0 v=2.0", "i=0",
                "i=1", "w=0", "w=1", "T"]
    assert sorted(lines) == sorted(expected)
    for prefix in ("c=", "i=", "w="):  # unordered: only each loop's iterations are in order
        assert [s for s in lines if s.startswith(prefix)] == [
            s for s in expected if s.startswith(prefix)]


def test_ordered_prints_keep_program_order(capsys):
    @xtrace.jit
    def f(x):
        for i in range(6):
            xtrace.debug.print("{i} {x}", i=i, x=x + i, ordered=True)
        return x

    f(1.0).block_until_ready()
    assert _lines(capsys) == [f"{i} {1.0 + i}" for i in range(6)]


def test_ordered_prints_keep_order_across_loops_and_branches(capsys):
    @xtrace.jit
    def f(x):
        def p(*a, **k):
            xtrace.debug.print(*a, ordered=True, **k)
        p("start {}", x)

        def body(c, v):
            p("c={c} v={v}", c=c, v=v)
            return c + v, c
        c, _ = lax.scan(body, 0.0, x)
        p("mid")
        lax.while_loop(lambda k: k < 2, lambda k: (p("w={}", k), k + 1)[1], 0)
        y = lax.cond(c > 1, lambda: (p("T"), 1.0)[1], lambda: (p("F"), 2.0)[1])
        p("end {}", y)
        return x

    f(jnp.arange(3.0)).block_until_ready()
    assert _lines(capsys) == ["start [0. 1. 2.]", "c=0.0 v=0.0", "c=0.0 v=1.0", "c=1.0 v=2.0",
                              "mid", "w=0", "w=1", "T", "end 1.0"]


def test_debug_print_vmap_and_grad(capsys):
    xtrace.vmap(lambda x: xtrace.debug.print("v {x} {y}", x=x, y=2.0))(jnp.arange(3.0))
    xtrace.vmap(lambda x: xtrace.debug.print("c {}", x), in_axes=1)(jnp.ones((2, 2)))

    def g(x):
        xtrace.debug.print("g {x}", x=x)
        return x ** 2
    assert float(xtrace.grad(g)(3.0)) == 6.0
    assert float(xtrace.jit(xtrace.grad(g))(3.0)) == 6.0
    assert _lines(capsys) == ["v 0.0 2.0", "v 1.0 2.0", "v 2.0 2.0", "c [1. 1.]", "c [1. 1.]",
                              "g 3.0", "g 3.0"]


def test_debug_callback_gets_arrays_and_static_values():
    seen = []
    f = xtrace.jit(lambda x: xtrace.debug.callback(  # its return value (here 0) is ignored
        lambda a, tag, k: seen.append((np.asarray(a), tag, float(k))) or 0, x, "t", k=2.0))
    assert f(jnp.arange(2.0)) is None
    xtrace.debug.callback(lambda a: seen.append(type(a)), jnp.ones(1))
    np.testing.assert_array_equal(seen[0][0], [0.0, 1.0])
    assert seen[0][1:] == ("t", 2.0) and seen[1] is xtrace.Array


def test_pure_callback_values_eager_and_jit():
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    spec = S((5,), np.float32)
    for fn in (lambda v: xtrace.pure_callback(np.sin, spec, v),
               xtrace.jit(lambda v: xtrace.pure_callback(np.sin, spec, v) * 2)):
        out = fn(jnp.asarray(x))
        assert out.dtype == np.float32 and out.shape == (5,)
    np.testing.assert_allclose(np.asarray(out), 2 * np.sin(x), rtol=1e-6)
    tree = xtrace.pure_callback(lambda a: [a, {"b": a.astype(np.int32)}],
                                [S((), np.float32), {"b": S((), np.int32)}], np.float32(3))
    assert float(tree[0]) == 3.0 and tree[1]["b"].dtype == np.int32
    # float64 results are canonicalized to the declared float32, as in JAX
    assert xtrace.pure_callback(lambda: np.float64(1), S((), np.float32)).dtype == np.float32


def test_different_callbacks_never_share_a_program():
    def make(k):
        return xtrace.jit(lambda x: xtrace.pure_callback(lambda v: v + np.float32(k),
                                                         S((), np.float32), x))
    assert float(make(1)(1.0)) == 2.0 and float(make(2)(1.0)) == 3.0


@pytest.mark.parametrize("method,shapes", [("sequential", [(2,), (2,)]),
                                           ("expand_dims", [(3, 2), (1, 2)]),
                                           ("broadcast_all", [(3, 2), (3, 2)])])
def test_pure_callback_vmap_methods(method, shapes):
    seen = []

    def cb(x, y):
        seen.append([x.shape, y.shape])
        return (x * y).astype(np.float32)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = xtrace.vmap(lambda v: xtrace.pure_callback(cb, S((2,), np.float32), v, jnp.ones(2) * 2,
                                                     vmap_method=method))(x)
    np.testing.assert_allclose(np.asarray(out), x * 2)
    assert seen[0] == shapes and len(seen) == (3 if method == "sequential" else 1)


def test_pure_callback_errors():
    with pytest.raises(NotImplementedError, match="vmap_method=None"):
        xtrace.vmap(lambda v: xtrace.pure_callback(np.sin, S((), np.float32), v))(jnp.ones(2))
    with pytest.raises(ValueError, match="vmap_method"):
        xtrace.pure_callback(np.sin, S((), np.float32), 1.0, vmap_method="bad")
    with pytest.raises(ValueError, match="Pure callbacks do not support JVP"):
        xtrace.grad(lambda v: xtrace.pure_callback(np.sin, S((), np.float32), v))(1.0)
    with pytest.raises(RuntimeError,
                       match=r"Incorrect output shape .* Expected: \(2,\), Actual: \(3,\)"):
        xtrace.pure_callback(lambda v: np.ones(3, np.float32), S((2,), np.float32), 1.0)
    with pytest.raises(RuntimeError, match="Incorrect output shape"):
        xtrace.jit(lambda v: xtrace.pure_callback(lambda a: np.ones(3, np.float32),
                                                  S((2,), np.float32), v))(1.0)


def test_callback_exception_surfaces():
    def bad(x):
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        xtrace.debug.callback(bad, 1.0)
    with pytest.raises(RuntimeError, match="boom"):
        xtrace.jit(lambda v: xtrace.pure_callback(bad, S((), np.float32), v))(1.0)
    with pytest.raises(RuntimeError, match="boom"):
        xtrace.jit(lambda v: xtrace.debug.callback(bad, v))(1.0)
    assert float(xtrace.jit(lambda v: v + 1)(1.0)) == 2.0  # the runtime still works


def test_pure_callback_under_custom_jvp():
    @xtrace.custom_jvp
    def sin(x):
        return xtrace.pure_callback(np.sin, S((), np.float32), x)

    sin.defjvp(lambda p, t: (sin(p[0]),
                             xtrace.pure_callback(np.cos, S((), np.float32), p[0]) * t[0]))
    np.testing.assert_allclose(float(xtrace.grad(sin)(0.5)), np.cos(0.5), rtol=1e-6)
    np.testing.assert_allclose(float(xtrace.jit(xtrace.grad(sin))(0.5)), np.cos(0.5), rtol=1e-6)


def test_io_callback():
    log = []

    def record(x):
        log.append(float(x))
        return np.float32(x) * 2

    @xtrace.jit
    def f(x):
        a = io_callback(record, S((), np.float32), x, ordered=True)
        b = io_callback(record, S((), np.float32), x + 1, ordered=True)
        io_callback(record, S((), np.float32), x + 2)  # unused: still runs (side effect)
        return a + b

    assert float(f(1.0)) == 6.0 and sorted(log) == [1.0, 2.0, 3.0]
    assert log.index(1.0) < log.index(2.0)  # the ordered two in program order
    out = xtrace.vmap(lambda v: io_callback(record, S((), np.float32), v))(jnp.arange(3.0))
    np.testing.assert_allclose(np.asarray(out), [0.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="Cannot `vmap` ordered IO callback"):
        xtrace.vmap(lambda v: io_callback(record, S((), np.float32), v, ordered=True))(
            jnp.ones(2))
    with pytest.raises(ValueError, match="IO callbacks do not support JVP"):
        xtrace.grad(lambda v: io_callback(record, S((), np.float32), v))(1.0)


def test_compiled_callbacks_are_freed_with_their_program():
    import gc
    import weakref

    class Payload:
        pass

    def run():
        payload = Payload()

        def cb(x):
            assert payload is not None
            return x
        f = xtrace.jit(lambda v: xtrace.pure_callback(cb, S((), np.float32), v) + 1)
        assert float(f(1.0)) == 2.0
        return weakref.ref(payload)

    ref = run()
    gc.collect()
    assert ref() is None


def test_callbacks_under_pmap(capsys):
    n = min(2, xtrace.device_count())
    out = xtrace.pmap(lambda x: (xtrace.debug.print("p {}", x),
                                 xtrace.pure_callback(np.sin, S((), np.float32), x))[1])(
        jnp.arange(float(n)))
    np.testing.assert_allclose(np.asarray(out), np.sin(np.arange(n)), rtol=1e-6)
    assert sorted(_lines(capsys)) == [f"p {float(i)}" for i in range(n)]
