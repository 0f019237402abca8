"""Per-example gradients of the MNIST MLP (784-512-512-10, batch 128).

Compares, in one run:
* xtrace ``jit(vmap(grad(loss)))``: one compiled program for the whole batch;
* xtrace Python loop of ``jit(grad(loss))`` over the 128 examples;
* NumPy: the hand-written per-example backward pass, batched with einsum;
* JAX ``jit(vmap(grad(loss)))`` when jax is importable (run this script with a Python that has
  jax installed to get that column).

All variants are checked to agree before timing. Rounds alternate; medians printed.

    python benchmarks/vmap.py
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


def make_loss(np_mod):
    """The loss of ONE example, written once for xtrace.numpy and jax.numpy."""
    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = np_mod.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        z = logits - np_mod.max(logits)
        return -np_mod.sum(y * (z - np_mod.log(np_mod.sum(np_mod.exp(z)))))
    return loss


def per_example_grads_numpy(params, x, y):
    acts, pre, h = [x], [], x
    for w, b in params[:-1]:
        a = h @ w + b
        pre.append(a)
        h = np.maximum(a, 0.0)
        acts.append(h)
    w, b = params[-1]
    z = h @ w + b
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    g = e / e.sum(axis=1, keepdims=True) - y
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w, _ = params[i]
        grads.append((np.einsum("bi,bo->bio", acts[i], g), g))
        if i:
            g = (g @ w.T) * (pre[i - 1] > 0)
    return grads[::-1]


def main() -> None:
    rng = np.random.default_rng(0)
    params = init(rng)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
    loss = make_loss(xnp)
    xp = [(xnp.asarray(w), xnp.asarray(b)) for w, b in params]
    xx, xy = xnp.asarray(x), xnp.asarray(y)
    batched = xtrace.jit(xtrace.vmap(xtrace.grad(loss), in_axes=(None, 0, 0)))
    single = xtrace.jit(xtrace.grad(loss))
    rows = [(xx[i], xy[i]) for i in range(BATCH)]

    want = per_example_grads_numpy(params, x, y)
    got = batched(xp, xx, xy)
    for (gw, gb), (nw, nb) in zip(got, want):
        np.testing.assert_allclose(np.asarray(gw), nw, rtol=2e-3, atol=2e-5)
        np.testing.assert_allclose(np.asarray(gb), nb, rtol=2e-3, atol=2e-5)
    g5 = single(xp, *rows[5])
    np.testing.assert_allclose(np.asarray(g5[0][0]), want[0][0][5], rtol=2e-3, atol=2e-5)

    variants = {
        "xtrace jit(vmap(grad))": lambda: batched(xp, xx, xy)[0][0].block_until_ready(),
        "xtrace loop of jit(grad)": lambda: [single(xp, a, b) for a, b in rows][-1][0][0]
        .block_until_ready(),
        "NumPy batched backprop": lambda: per_example_grads_numpy(params, x, y),
    }
    try:
        import jax
        import jax.numpy as jnp
        jloss = make_loss(jnp)
        jb = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
        jp = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        np.testing.assert_allclose(np.asarray(jb(jp, jx, jy)[0][0]), want[0][0], rtol=2e-3,
                                   atol=2e-5)
        variants["JAX jit(vmap(grad))"] = lambda: jb(jp, jx, jy)[0][0].block_until_ready()
    except ImportError:
        pass

    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(5):
        for name, fn in variants.items():
            fn()
            t = time.perf_counter()
            reps = 1 if "loop" in name else 3
            for _ in range(reps):
                fn()
            times[name].append((time.perf_counter() - t) / reps * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"Per-example gradients, MNIST MLP {SIZES}, batch {BATCH}, float32, "
          f"{xtrace.default_backend()} backend, {os.cpu_count()} cores")
    base = med["xtrace jit(vmap(grad))"]
    for k, v in med.items():
        print(f"  {k:28s} {v:9.2f} ms/batch   {v / base:6.2f}x the time of jit(vmap(grad))")


if __name__ == "__main__":
    main()
