"""First-call time of the MNIST update step with the persistent compilation cache cold and warm.

The step is the JAX tutorial's ``update``: ``jit`` of ``grad`` of the loss of
``vmap(predict)`` plus the SGD update, for the [784, 512, 512, 10] MLP on a batch of 128. Each
measurement is a fresh Python process (so nothing is cached in memory) that creates its
parameters and data on the device, then times the first ``update`` call up to
``block_until_ready``: tracing, lowering, then compiling or loading, then running. Per round:

* **off**: ``XTRACE_CACHE_DIR=off`` (no disk cache at all);
* **cold**: an empty cache folder (compiles, then writes the entry);
* **warm**: the folder the cold run just filled (loads instead of compiling).

The median over ``--rounds`` rounds is printed, with warm/cold and the entry size.

    python benchmarks/compile_cache.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SIZES = [784, 512, 512, 10]
BATCH = 128
STEP_SIZE = 0.01


def child() -> None:
    """One fresh process: time the first call of jit(update); print JSON."""
    t_start = time.perf_counter()
    sys.path.insert(0, ROOT)
    import numpy as np

    import xtrace
    import xtrace.numpy as xnp
    from xtrace._src import compile_cache

    def predict(params, image):
        act = image
        for w, b in params[:-1]:
            act = xnp.maximum(xnp.dot(w, act) + b, 0.0)
        w, b = params[-1]
        logits = xnp.dot(w, act) + b
        return logits - xtrace.nn.logsumexp(logits)

    batched_predict = xtrace.vmap(predict, in_axes=(None, 0))

    def loss(params, images, targets):
        return -xnp.mean(batched_predict(params, images) * targets)

    def update(params, x, y):
        grads = xtrace.grad(loss)(params, x, y)
        return [(w - STEP_SIZE * dw, b - STEP_SIZE * db)
                for (w, b), (dw, db) in zip(params, grads)]

    rng = np.random.default_rng(0)
    params = [(xnp.asarray(rng.standard_normal((n, m)).astype(np.float32) * np.sqrt(2 / m)),
               xnp.asarray(np.zeros(n, np.float32))) for m, n in zip(SIZES[:-1], SIZES[1:])]
    x = xnp.asarray(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32))
    y = xnp.asarray(np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, 10, BATCH)])
    xtrace.block_until_ready((params, x, y))
    step = xtrace.jit(update)
    t = time.perf_counter()
    xtrace.block_until_ready(step(params, x, y))
    now = time.perf_counter()
    print(json.dumps({"first_call": now - t, "process": now - t_start,
                      "stats": compile_cache.stats}))


def run_child(cache: str) -> dict:
    env = dict(os.environ, XTRACE_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def folder_bytes(d: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child()
    times: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
    procs: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
    size = 0
    for _ in range(args.rounds):
        d = tempfile.mkdtemp(prefix="xtrace-bench-cache-")
        try:
            for mode in ("off", "cold", "warm"):
                r = run_child("off" if mode == "off" else d)
                hits = r["stats"]["hits"]
                if (mode == "warm") != (hits > 0):
                    sys.exit(f"unexpected cache behaviour in the {mode} run: {r['stats']}")
                times[mode].append(r["first_call"])
                procs[mode].append(r["process"])
            size = folder_bytes(d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"MNIST update step (jit(grad + SGD), MLP {SIZES}, batch {BATCH}), first call in a "
          f"fresh process, median of {args.rounds} rounds; cache folder after one run: "
          f"{size / 1024:.0f} KiB")
    for k in ("off", "cold", "warm"):
        print(f"  cache {k:5s} first call {med[k] * 1e3:8.1f} ms   "
              f"(start of process to first result {statistics.median(procs[k]):.2f} s)")
    print(f"  warm / cold: {med['warm'] / med['cold']:.3f}  "
          f"(cold is {med['cold'] / med['warm']:.1f}x slower); "
          f"cold / off: {med['cold'] / med['off']:.3f} (writing the entry; about 1 where "
          "that cost is below the noise)")


if __name__ == "__main__":
    main()
