"""Per-call dispatch overhead: jaxlib's raw floor vs xtrace vs JAX, measured side by side.

Run from the repository root with either interpreter:

    python benchmarks/dispatch.py                  # xtrace and the raw floor
    /work/venv-jax/bin/python benchmarks/dispatch.py   # ... and JAX, when ``import jax`` works

Every variant times ``--calls`` calls (each ending in ``block_until_ready``) per round; rounds
alternate between the variants so that machine load hits all of them alike, and the figure
reported is the median over ``--rounds`` rounds. On a noisy machine compare the ratios, which
are measured side by side, rather than the absolute microseconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import xtrace  # noqa: E402
import xtrace.numpy as xnp  # noqa: E402

_RAW_ADD_ONE = """module @raw_add_one {
  func.func public @main(%a: tensor<SHAPEf32>) -> (tensor<SHAPEf32>) {
    %c = stablehlo.constant dense<1.0> : tensor<SHAPEf32>
    %0 = stablehlo.add %a, %c : tensor<SHAPEf32>
    return %0 : tensor<SHAPEf32>
  }
}"""
_RAW_ADD = """module @raw_add {
  func.func public @main(%a: tensor<100xf32>, %b: tensor<100xf32>) -> (tensor<100xf32>) {
    %0 = stablehlo.add %a, %b : tensor<100xf32>
    return %0 : tensor<100xf32>
  }
}"""
_RAW_SIN = """module @raw_sin {
  func.func public @main(%a: tensor<100xf32>) -> (tensor<100xf32>) {
    %0 = stablehlo.sine %a : tensor<100xf32>
    return %0 : tensor<100xf32>
  }
}"""


class _AvalLike:
    """What jaxlib's result handler reads from an aval."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.weak_type = tuple(shape), np.dtype(dtype), False


def raw_variants():
    """The floor: the same tiny programs compiled and run through jaxlib directly.

    No xtrace and no JAX: ``make_cpu_client``, ``compile_and_load``, a DLPack transfer of the
    inputs once, then per call ``exe.execute([...])`` and ``block_until_ready``.

    Returns two dicts: ``exe.execute`` (the plain API), and ``execute_sharded`` +
    ``consume_with_handlers`` with result handlers built once. The second matters: to build its
    output arrays ``exe.execute`` (through ``disassemble_into_single_device_arrays``) calls
    ``jax._src.sharding_impls.make_single_device_sharding``, so in an interpreter without JAX
    it attempts (and fails) ``import jax`` on every call; the handler path does not."""
    from jaxlib import xla_client as xc
    try:
        from jaxlib import _jax as ext
    except ImportError:  # older jaxlib
        from jaxlib import xla_extension as ext
    client = xc.make_cpu_client(asynchronous=True)
    dev = client.devices()[0]
    sharding = xc.SingleDeviceSharding(dev)

    def compile_(text):
        if hasattr(client, "compile_and_load"):
            return client.compile_and_load(text.encode(), xc.DeviceList((dev,)),
                                           xc.CompileOptions())
        return client.compile(text.encode(), xc.CompileOptions())  # older jaxlib

    def put(x):
        return ext.dlpack_managed_tensor_to_buffer(x.__dlpack__(), dev, None)

    def make(text, host_args, ref):
        exe = compile_(text)
        bufs = [put(a) for a in host_args]
        out = exe.execute(bufs)[0]
        out.block_until_ready()
        got, _ = out._single_device_array_to_np_array_did_copy()
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
        handlers = [ext.array_result_handler(_AvalLike(np.shape(ref), np.float32), sharding,
                                             True, True)]
        got, _ = (exe.execute_sharded(bufs).consume_with_handlers(handlers)[0]
                  ._single_device_array_to_np_array_did_copy())
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)

        def call():
            exe.execute(bufs)[0].block_until_ready()

        def call_h():
            exe.execute_sharded(bufs).consume_with_handlers(handlers)[0].block_until_ready()
        return call, call_h

    s = np.float32(2.0)
    v = np.arange(1000, dtype=np.float32)
    a, b = _eager_inputs()
    made = {
        "jit x+1, scalar": make(_RAW_ADD_ONE.replace("SHAPE", ""), [np.asarray(s)], s + 1),
        "jit x+1, f32[1000]": make(_RAW_ADD_ONE.replace("SHAPE", "1000x"), [v], v + 1),
        "eager x+y, f32[100]": make(_RAW_ADD, [a, b], a + b),
        "eager sin(x), f32[100]": make(_RAW_SIN, [a], np.sin(a)),
    }
    return {k: c for k, (c, _) in made.items()}, {k: h for k, (_, h) in made.items()}


def _eager_inputs():
    return (np.linspace(0, 1, 100, dtype=np.float32), np.linspace(1, 2, 100, dtype=np.float32))


KEYS = ["jit x+1, scalar", "jit x+1, f32[1000]", "eager x+y, f32[100]",
        "eager sin(x), f32[100]"]


def xtrace_variants():
    jf = xtrace.jit(lambda x: x + 1)
    s = xnp.asarray(np.float32(2.0))
    v = xnp.asarray(np.arange(1000, dtype=np.float32))
    a, b = (xnp.asarray(t) for t in _eager_inputs())
    np.testing.assert_allclose(np.asarray(jf(v)), np.arange(1000, dtype=np.float32) + 1)
    np.testing.assert_allclose(np.asarray(a + b), np.asarray(a) + np.asarray(b), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(xnp.sin(a)), np.sin(np.asarray(a)), rtol=1e-6)
    return {
        "jit x+1, scalar": lambda: jf(s).block_until_ready(),
        "jit x+1, f32[1000]": lambda: jf(v).block_until_ready(),
        "eager x+y, f32[100]": lambda: (a + b).block_until_ready(),
        "eager sin(x), f32[100]": lambda: xnp.sin(a).block_until_ready(),
    }


def jax_variants():
    """JAX's own figures for the same calls, or (None, why) when JAX is not importable."""
    try:
        import jax
        import jax.numpy as jnp
    except Exception as e:  # noqa: BLE001 - any import failure means "no JAX here"
        return None, f"{type(e).__name__}: {e}"
    jf = jax.jit(lambda x: x + 1)
    s = jnp.asarray(np.float32(2.0))
    v = jnp.asarray(np.arange(1000, dtype=np.float32))
    a, b = (jnp.asarray(t) for t in _eager_inputs())
    return {
        "jit x+1, scalar": lambda: jf(s).block_until_ready(),
        "jit x+1, f32[1000]": lambda: jf(v).block_until_ready(),
        "eager x+y, f32[100]": lambda: (a + b).block_until_ready(),
        "eager sin(x), f32[100]": lambda: jnp.sin(a).block_until_ready(),
    }, f"jax {jax.__version__}"


def time_per_call(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median taken)")
    p.add_argument("--calls", type=int, default=200, help="calls per variant per round")
    p.add_argument("--no-jax", action="store_true", help="skip JAX even when it imports")
    args = p.parse_args(argv)

    import jaxlib
    variants: dict = {}
    raw, raw_h = raw_variants()
    for lib, vs in (("raw", raw), ("raw-h", raw_h), ("xtrace", xtrace_variants())):
        for k, f in vs.items():
            variants[(lib, k)] = f
    jax_info = "skipped (--no-jax)"
    if not args.no_jax:
        jv, jax_info = jax_variants()
        if jv is None:
            jax_info = f"skipped: `import jax` failed in this interpreter ({jax_info})"
        else:
            for k, f in jv.items():
                variants[("jax", k)] = f

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, jaxlib "
          f"{jaxlib.__version__}, xtrace {xtrace.__version__}, backend "
          f"{xtrace.default_backend()}, {os.cpu_count()} CPUs")
    print(f"JAX: {jax_info}")
    print(f"{args.rounds} interleaved rounds x {args.calls} calls per variant, each call "
          "ending in block_until_ready; median over rounds\n")

    for f in variants.values():  # warm up: compile, fill caches
        for _ in range(50):
            f()
    names = list(variants)
    samples: dict = {k: [] for k in names}
    for r in range(args.rounds):
        for k in (names if r % 2 == 0 else names[::-1]):  # alternate the order as well
            samples[k].append(time_per_call(variants[k], args.calls))
    med = {k: statistics.median(v) for k, v in samples.items()}

    have_jax = any(lib == "jax" for lib, _ in names)
    head = f"{'call':24s} {'raw µs':>8s} {'raw-h µs':>9s} {'xtrace µs':>10s}"
    if have_jax:
        head += f" {'jax µs':>8s} {'xtrace/jax':>11s} {'jax/raw':>8s}"
    head += f" {'xtrace/raw':>11s} {'xtrace/raw-h':>13s}"
    print(head)
    for k in KEYS:
        raw, rawh, xt = med[("raw", k)], med[("raw-h", k)], med[("xtrace", k)]
        line = f"{k:24s} {raw:8.1f} {rawh:9.1f} {xt:10.1f}"
        if have_jax:
            jx = med[("jax", k)]
            line += f" {jx:8.1f} {xt / jx:10.2f}x {jx / raw:7.2f}x"
        line += f" {xt / raw:10.2f}x {xt / rawh:12.2f}x"
        print(line)
    jax_loaded = "jax" in sys.modules
    print("\nraw   = the same program through jaxlib directly: exe.execute([...]) + "
          "block_until_ready.")
    print("raw-h = the same through exe.execute_sharded([...]).consume_with_handlers(...) "
          "with handlers built once.")
    print(f"jax is {'' if jax_loaded else 'NOT '}in sys.modules: exe.execute "
          f"{'finds' if jax_loaded else 'fails to import'} jax._src.sharding_impls on every "
          "call" + ("" if jax_loaded else " (hence raw >> raw-h here)") + ".")


if __name__ == "__main__":
    main()
