"""Collectives and data-parallel training across processes vs within one process.

Two measurements, each in fresh processes started by this script:
  * all-reduce (``lax.psum`` in a pmap) of an MNIST-gradient-sized array (669,706 float32,
    the gradient of the [784, 512, 512, 10] MLP) across 2 processes (1 CPU device each,
    gloo over loopback TCP) vs across 2 devices of one process;
  * the MNIST data-parallel SGD step (grad + ``lax.pmean`` + update, global batch 128) on
    2 processes x 1 device vs 1 process x 1 device, and 1 process x 2 devices.
Medians over rounds; the ratio column compares with the single-process figure. Both
processes share this machine's cores (printed), so this measures overhead, not scaling.

    python benchmarks/multiprocess.py [--steps 40] [--reps 30]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GRAD_SIZE = 669_706  # parameters of the [784, 512, 512, 10] MLP


def worker(args) -> None:
    """One process of a measurement: prints one JSON line (process 0 only)."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "examples", "mnist"))
    import numpy as np

    import xtrace
    from xtrace import lax
    if os.environ.get("XTRACE_COORDINATOR_ADDRESS"):
        xtrace.distributed.initialize()
    me, nproc = xtrace.process_index(), xtrace.process_count()
    n_local = xtrace.local_device_count()
    n = n_local * nproc
    out = {"processes": nproc, "devices": n}

    # all-reduce of a gradient-sized array, result brought back to NumPy each time
    allreduce = xtrace.pmap(lambda v: lax.psum(v, "i"), "i")
    g = np.ones((n_local, GRAD_SIZE), np.float32)
    r = np.asarray(allreduce(g))
    assert float(r[0, 0]) == n
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        np.asarray(allreduce(g))
        times.append(time.perf_counter() - t0)
    out["allreduce_ms"] = 1e3 * statistics.median(times)

    # the MNIST data-parallel step at a fixed global batch
    from model import LAYER_SIZES, init_network_params, loss

    def update(params, x, y):
        grads = lax.pmean(xtrace.grad(loss)(params, x, y), "i")
        return [(w - 0.01 * dw, b - 0.01 * db) for (w, b), (dw, db) in zip(params, grads)]

    step = xtrace.pmap(update, "i")
    rng = np.random.default_rng(0)
    per = args.batch // n
    x = rng.random((args.batch, 784), dtype=np.float32)[me * n_local * per:][:n_local * per]
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)][me * n_local * per:]
    x, y = x.reshape(n_local, per, 784), y[:n_local * per].reshape(n_local, per, 10)
    params = xtrace.device_put_replicated(
        init_network_params(LAYER_SIZES, xtrace.random.key(0)), xtrace.local_devices())
    params = step(params, x, y)  # compile
    xtrace.block_until_ready(params)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        params = step(params, x, y)
    xtrace.block_until_ready(params)
    out["step_ms"] = 1e3 * (time.perf_counter() - t0) / args.steps
    if me == 0:
        print("RESULT " + json.dumps(out), flush=True)


def run(cmd: list[str], env_extra: dict) -> dict:
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable] + cmd, env=env, capture_output=True, text=True,
                       timeout=600)
    for line in p.stdout.splitlines():
        if "RESULT " in line:
            return json.loads(line.split("RESULT ", 1)[1])
    raise SystemExit(f"measurement failed ({' '.join(cmd)}):\n{p.stdout[-2000:]}\n"
                     f"{p.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    me = [os.path.abspath(__file__), "--worker", "--steps", str(args.steps), "--reps",
          str(args.reps), "--batch", str(args.batch)]
    launch = ["-m", "xtrace.distributed.launch", "-n", "2", "--devices-per-process", "1"]
    one_dev = run(me, {"XTRACE_NUM_CPU_DEVICES": "1"})
    two_dev = run(me, {"XTRACE_NUM_CPU_DEVICES": "2"})
    two_proc = run(launch + me, {})
    print(f"cores: {os.cpu_count()}; all-reduce of {GRAD_SIZE:,} float32; MNIST step at "
          f"global batch {args.batch}")
    print(f"{'configuration':34s} {'all-reduce ms':>14s} {'step ms':>9s} {'steps/s':>8s}"
          f" {'vs 1 process':>13s}")
    for name, r in (("1 process x 1 device", one_dev), ("1 process x 2 devices", two_dev),
                    ("2 processes x 1 device", two_proc)):
        ar = f"{r['allreduce_ms']:14.2f}" if r["devices"] > 1 else f"{'-':>14s}"
        print(f"{name:34s} {ar} {r['step_ms']:9.2f} {1e3 / r['step_ms']:8.1f} "
              f"{one_dev['step_ms'] / r['step_ms']:12.2f}x")
    print(f"all-reduce across 2 processes / across 2 devices of one process: "
          f"{two_proc['allreduce_ms'] / two_dev['allreduce_ms']:.2f}x")


if __name__ == "__main__":
    main()
