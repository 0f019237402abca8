"""Fusion: a 10-op elementwise chain on 10^6 float32 values, eager vs jit (vs NumPy, vs JAX).

Eager runs the chain as 10 separate XLA programs (one per primitive, each writing a fresh
10^6-element buffer); ``xtrace.jit`` compiles it into one program in which XLA fuses the whole
chain into a single loop. Run from the repository root with either interpreter:

    python benchmarks/fusion.py
    /work/venv-jax/bin/python benchmarks/fusion.py     # adds JAX's figures when jax imports

Variants are timed in interleaved rounds (the order alternating) and the median is reported.
"""
from __future__ import annotations

import argparse
import os
import re
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

N = 10 ** 6


def chain(np_like, x):
    """Ten elementwise operations: mul, add, sin, mul, sub, tanh, abs, sqrt, add, cos."""
    y = x * 2.0
    y = y + 1.0
    y = np_like.sin(y)
    y = y * x
    y = y - 0.5
    y = np_like.tanh(y)
    y = np_like.abs(y)
    y = np_like.sqrt(y)
    y = y + x
    return np_like.cos(y)


def count_fusions(hlo_text: str) -> tuple[int, int]:
    """(fusion instructions in the entry program, fused computations defined) in HLO text."""
    instrs = len(re.findall(r"=\s*\S+\s+fusion\(", hlo_text))
    comps = len(re.findall(r"^%?\S*fused_computation\S*\s*\(", hlo_text, flags=re.M))
    return instrs, comps


def time_ms(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e3


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9, help="interleaved rounds (median taken)")
    p.add_argument("--calls", type=int, default=5, help="calls per variant per round")
    p.add_argument("--no-jax", action="store_true", help="skip JAX even when it imports")
    args = p.parse_args(argv)

    import jaxlib
    host = np.random.default_rng(0).uniform(-2, 2, N).astype(np.float32)
    ref = chain(np, host)
    x = xnp.asarray(host)
    jitted = xtrace.jit(lambda x: chain(xnp, x))

    variants = {
        "numpy": lambda: chain(np, host),
        "xtrace eager": lambda: chain(xnp, x).block_until_ready(),
        "xtrace jit": lambda: jitted(x).block_until_ready(),
    }
    np.testing.assert_allclose(np.asarray(chain(xnp, x)), ref, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.asarray(jitted(x)), ref, rtol=2e-5, atol=2e-5)
    eqns = len(xtrace.make_jaxpr(lambda x: chain(xnp, x))(x).eqns)
    hlo = jitted.lower(x).compile().as_text()
    fusion_instrs, fused_comps = count_fusions(hlo)

    jax_info = "skipped (--no-jax)"
    if not args.no_jax:
        try:
            import jax
            import jax.numpy as jnp
        except Exception as e:  # noqa: BLE001 - any import failure means "no JAX here"
            jax_info = f"skipped: `import jax` failed in this interpreter ({type(e).__name__}: {e})"
        else:
            jax_info = f"jax {jax.__version__}"
            jx = jnp.asarray(host)
            jjit = jax.jit(lambda x: chain(jnp, x))
            np.testing.assert_allclose(np.asarray(jjit(jx)), ref, rtol=2e-5, atol=2e-5)
            variants["jax eager"] = lambda: chain(jnp, jx).block_until_ready()
            variants["jax jit"] = lambda: jjit(jx).block_until_ready()

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, jaxlib "
          f"{jaxlib.__version__}, xtrace {xtrace.__version__}, backend "
          f"{xtrace.default_backend()}, {os.cpu_count()} CPUs")
    print(f"JAX: {jax_info}")
    print(f"chain of 10 elementwise ops on float32[{N}]; the jaxpr has {eqns} equations "
          "(3 of them broadcasts of the Python scalars)")
    print(f"optimized HLO of jit: {fusion_instrs} fusion instruction(s), {fused_comps} fused "
          f"computation(s) {'(the whole chain is one fusion)' if fused_comps == 1 else ''}")
    print(f"{args.rounds} interleaved rounds x {args.calls} calls per variant; median ms/call\n")

    for f in variants.values():
        f()
        f()
    names = list(variants)
    samples: dict = {k: [] for k in names}
    for r in range(args.rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            samples[k].append(time_ms(variants[k], args.calls))
    med = {k: statistics.median(v) for k, v in samples.items()}
    for k in names:
        print(f"  {k:14s} {med[k]:8.2f} ms   (min {min(samples[k]):.2f})")
    print()
    print(f"xtrace jit speed-up over xtrace eager: {med['xtrace eager'] / med['xtrace jit']:.2f}x")
    print(f"xtrace jit speed-up over NumPy:        {med['numpy'] / med['xtrace jit']:.2f}x")
    print(f"xtrace eager vs NumPy (NumPy/eager):   {med['numpy'] / med['xtrace eager']:.2f}x")
    if "jax jit" in med:
        print(f"xtrace jit / jax jit:                  {med['xtrace jit'] / med['jax jit']:.2f}x")
        print(f"xtrace eager / jax eager:              "
              f"{med['xtrace eager'] / med['jax eager']:.2f}x")


if __name__ == "__main__":
    main()
