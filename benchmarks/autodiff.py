"""value_and_grad of the MNIST MLP loss (784-512-512-10, batch 128): xtrace jit vs NumPy.

The NumPy version is the hand-written forward and backward pass of the same network; both
are checked to agree before timing. Rounds alternate between the variants; medians printed.

    python benchmarks/autodiff.py
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import xtrace  # noqa: E402
import xtrace.numpy as xnp  # noqa: E402

SIZES = [784, 512, 512, 10]
BATCH = 128


def init(rng):
    return [(rng.standard_normal((m, n)).astype(np.float32) * np.sqrt(2.0 / m),
             np.zeros(n, np.float32)) for m, n in zip(SIZES[:-1], SIZES[1:])]


def loss_xtrace(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = xnp.maximum(h @ w + b, 0.0)
    w, b = params[-1]
    logits = h @ w + b
    z = logits - xnp.max(logits, axis=1, keepdims=True)
    logp = z - xnp.log(xnp.sum(xnp.exp(z), axis=1, keepdims=True))
    return -xnp.mean(xnp.sum(y * logp, axis=1))


def value_and_grad_numpy(params, x, y):
    acts, pre = [x], []
    h = x
    for w, b in params[:-1]:
        a = h @ w + b
        pre.append(a)
        h = np.maximum(a, 0.0)
        acts.append(h)
    w, b = params[-1]
    logits = h @ w + b
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    logp = z - np.log(s)
    loss = -np.mean(np.sum(y * logp, axis=1))
    g = (e / s - y) / x.shape[0]
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w, _ = params[i]
        grads.append((acts[i].T @ g, g.sum(axis=0)))
        if i:
            g = (g @ w.T) * (pre[i - 1] > 0)
    return loss, grads[::-1]


def main() -> None:
    rng = np.random.default_rng(0)
    params = init(rng)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
    vg = xtrace.jit(xtrace.value_and_grad(loss_xtrace))
    xp = [(xnp.asarray(w), xnp.asarray(b)) for w, b in params]
    xx, xy = xnp.asarray(x), xnp.asarray(y)
    l_x, g_x = vg(xp, xx, xy)
    l_n, g_n = value_and_grad_numpy(params, x, y)
    np.testing.assert_allclose(float(l_x), l_n, rtol=1e-4)
    for (gw, gb), (nw, nb) in zip(g_x, g_n):
        np.testing.assert_allclose(gw, nw, rtol=2e-3, atol=2e-5)
        np.testing.assert_allclose(gb, nb, rtol=2e-3, atol=2e-5)

    def run_xtrace():
        l, g = vg(xp, xx, xy)
        g[-1][0].block_until_ready()

    def run_numpy():
        value_and_grad_numpy(params, x, y)

    times = {"xtrace jit(value_and_grad)": [], "NumPy forward+backward": []}
    for _ in range(7):
        for name, fn in (("xtrace jit(value_and_grad)", run_xtrace),
                         ("NumPy forward+backward", run_numpy)):
            t = time.perf_counter()
            for _ in range(10):
                fn()
            times[name].append((time.perf_counter() - t) / 10 * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"MNIST MLP {SIZES}, batch {BATCH}, float32, {xtrace.default_backend()} backend")
    for k, v in med.items():
        print(f"  {k:30s} {v:8.2f} ms/step")
    ratio = med["NumPy forward+backward"] / med["xtrace jit(value_and_grad)"]
    print(f"  speed-up of xtrace over NumPy: {ratio:.2f}x")


if __name__ == "__main__":
    main()
