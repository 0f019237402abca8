"""Data-parallel MNIST MLP training step: pmap over 2 CPU devices vs 1 device, same global batch.

The step is grad + SGD on [784, 512, 512, 10] with global batch 256: on one device
``jit(update)`` on all 256 examples; with pmap each device takes 128 and the gradients are
averaged with ``lax.pmean``. Both are checked to give the same parameters before timing;
rounds alternate, medians printed, with the machine's core count (both "devices" share it).

    python benchmarks/pmap.py [--devices 2] [--batch 256]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    os.environ["XTRACE_NUM_CPU_DEVICES"] = str(args.devices)

    import numpy as np
    import xtrace
    import xtrace.numpy as xnp
    from xtrace import lax

    sizes = [784, 512, 512, 10]
    n = args.devices
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((m, k)).astype(np.float32) * np.sqrt(2.0 / m),
               np.zeros(k, np.float32)) for m, k in zip(sizes[:-1], sizes[1:])]
    x = rng.random((args.batch, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)]

    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = xnp.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        return -xnp.mean(xnp.sum(y * xtrace.nn.log_softmax(logits), axis=1))

    def sgd(params, grads):
        return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(params, grads)]

    single = xtrace.jit(lambda p, x, y: sgd(p, xtrace.grad(loss)(p, x, y)))

    def dp_step(p, x, y):
        return sgd(p, lax.pmean(xtrace.grad(loss)(p, x, y), "batch"))

    parallel = xtrace.pmap(dp_step, "batch")
    devs = xtrace.devices()[:n]
    rep = xtrace.device_put_replicated(params, devs)
    xs = xtrace.device_put_sharded(list(x.reshape(n, -1, 784)), devs)
    ys = xtrace.device_put_sharded(list(y.reshape(n, -1, 10)), devs)
    xp = [(xnp.asarray(w), xnp.asarray(b)) for w, b in params]
    xx, xy = xnp.asarray(x), xnp.asarray(y)

    a = single(xp, xx, xy)
    b = parallel(rep, xs, ys)
    for (wa, ba), (wb, bb) in zip(a, b):
        np.testing.assert_allclose(np.asarray(wb)[0], np.asarray(wa), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(np.asarray(bb)[n - 1], np.asarray(ba), rtol=1e-4, atol=1e-6)

    variants = {
        "1 device, jit": lambda: single(xp, xx, xy)[0][0].block_until_ready(),
        f"{n} devices, pmap": lambda: parallel(rep, xs, ys)[0][0].block_until_ready(),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            fn()
            t = time.perf_counter()
            for _ in range(5):
                fn()
            times[name].append((time.perf_counter() - t) / 5)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"MNIST MLP {sizes} training step, global batch {args.batch}, {n} CPU devices, "
          f"{os.cpu_count()} cores")
    for k, v in med.items():
        print(f"  {k:22s} {v * 1e3:8.2f} ms/step  {1 / v:7.1f} steps/s")
    base = med["1 device, jit"]
    print(f"  speed-up of pmap over 1 device: {base / med[f'{n} devices, pmap']:.2f}x")


if __name__ == "__main__":
    main()
