"""One SGD training step of the MNIST MLP of JAX's tutorial (784-512-512-10, batch 128).

The step is the tutorial's ``update``: ``grad`` of the loss of ``vmap(predict)`` followed by
the SGD update of every parameter. Timed in one process:

* NumPy: the same step written by hand (forward, backward, update), the floor to beat;
* xtrace eager: ``update`` called as plain Python, each operation one small XLA program;
* xtrace jit: ``jit(update)``, one XLA program;
* JAX eager and JAX jit: the same code on ``jax`` when it is importable (run this script with
  a Python that has jax installed to get those rows; ``--no-jax`` skips them).

Each variant trains its own copy of the parameters on a fixed device-resident batch (the
new parameters feed the next step, as in a training loop, with no ``block_until_ready``
between steps, only at the end of each timed block). Before timing, one step from the same
parameters is checked against NumPy for every variant. Each round times every variant once,
in a shuffled order with a short pause before each (``--pause``), and the median over rounds
is reported.

Printed per variant: ms per step, seconds per 60,000-image epoch (60000 / 128 steps), the
first call (tracing, compiling and running; for eager variants the first step compiles one
program per operation; xtrace's on-disk compilation cache is turned off so that this is a
real compile), GFLOP/s of the matrix multiplies (the same analytic count for every
variant), and the time relative to NumPy; then the ratios the issue's targets are about.

    python benchmarks/mnist.py                      # one core (how the targets were measured)
    python benchmarks/mnist.py --threads 0          # every CPU
    /work/venv-jax/bin/python benchmarks/mnist.py --markdown   # with JAX's rows

``--threads N`` (default 1) must act before NumPy and XLA start: it sets OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS, MKL_NUM_THREADS and pins the process to N CPUs with ``sched_setaffinity``.
The pinning is what limits XLA (pinned to one CPU, its CPU time equals its wall time). No
XLA_FLAGS setting does it with jaxlib 0.10.2: ``--xla_cpu_multi_thread_eigen=false`` leaves the
dots multi-threaded (CPU time ~1.9x wall time on 2 cores), and
``--intra_op_parallelism_threads`` is not an XLA flag (XLA aborts on it).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1,
                   help="limit NumPy's BLAS and XLA to this many CPUs (default 1, as the "
                        "issue's targets were measured; 0: use every CPU)")
    p.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median reported)")
    p.add_argument("--steps", type=int, default=20, help="steps per variant per round")
    p.add_argument("--eager-steps", type=int, default=5,
                   help="steps per round for the (slow) eager variants")
    p.add_argument("--pause", type=float, default=0.2,
                   help="seconds of idle time before each timed block (lets the previous "
                        "variant's worker threads stop spinning)")
    p.add_argument("--no-jax", action="store_true", help="skip JAX even if importable")
    p.add_argument("--no-eager", action="store_true", help="skip the eager variants")
    p.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    return p.parse_args(argv)


def limit_threads(n: int) -> None:
    """Limit BLAS and XLA to ``n`` CPUs; must run before numpy or jaxlib is imported."""
    if n <= 0:
        return
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    cpus = sorted(os.sched_getaffinity(0))
    if n > len(cpus):
        sys.exit(f"--threads {n}: only {len(cpus)} CPUs are available to this process")
    os.sched_setaffinity(0, cpus[:n])


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    limit_threads(ARGS.threads)
    # First calls must measure compiling, not loading xtrace's on-disk compilation cache
    # (JAX's persistent cache is off unless configured).
    os.environ["XTRACE_CACHE_DIR"] = "off"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import xtrace  # noqa: E402
import xtrace.numpy as xnp  # noqa: E402

SIZES = [784, 512, 512, 10]
BATCH = 128
STEP_SIZE = 0.01
EPOCH = 60_000


def matmul_flops(batch: int = BATCH) -> int:
    """Multiply-adds x 2 of one step: forward, weight gradients, and the input gradients of
    every layer but the first (the image needs none)."""
    layers = list(zip(SIZES[:-1], SIZES[1:]))
    fwd = sum(2 * batch * m * n for m, n in layers)
    return fwd + fwd + sum(2 * batch * m * n for m, n in layers[1:])


def init_params(rng):
    """Weights stored (out, in) as in the tutorial, scaled so activations stay O(1)."""
    return [(rng.standard_normal((n, m)).astype(np.float32) * np.float32(np.sqrt(2.0 / m)),
             rng.standard_normal(n).astype(np.float32) * np.float32(0.01))
            for m, n in zip(SIZES[:-1], SIZES[1:])]


def make_update(np_mod, grad, vmap, logsumexp):
    """The tutorial's ``predict``/``loss``/``update``, written once for xtrace and JAX."""
    def predict(params, image):
        activations = image
        for w, b in params[:-1]:
            activations = np_mod.maximum(np_mod.dot(w, activations) + b, 0.0)
        final_w, final_b = params[-1]
        logits = np_mod.dot(final_w, activations) + final_b
        return logits - logsumexp(logits)

    batched_predict = vmap(predict, in_axes=(None, 0))

    def loss(params, images, targets):
        return -np_mod.mean(batched_predict(params, images) * targets)

    def update(params, x, y):
        grads = grad(loss)(params, x, y)
        return [(w - STEP_SIZE * dw, b - STEP_SIZE * db)
                for (w, b), (dw, db) in zip(params, grads)]

    return update


def update_numpy(params, x, y):
    """The same step by hand: forward, backward of -mean(logp * y), SGD."""
    acts, pre, h = [x], [], x
    for w, b in params[:-1]:
        a = h @ w.T + b
        pre.append(a)
        h = np.maximum(a, 0.0)
        acts.append(h)
    w, b = params[-1]
    z = h @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    softmax = e / e.sum(axis=1, keepdims=True)
    # d(-mean(logp * y))/dz = (softmax * sum(y) - y) / y.size
    g = (softmax * y.sum(axis=1, keepdims=True) - y) * np.float32(1.0 / y.size)
    new = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        dw, db = g.T @ acts[i], g.sum(axis=0)
        if i:
            g = (g @ w) * (pre[i - 1] > 0)
        new[i] = (w - np.float32(STEP_SIZE) * dw, b - np.float32(STEP_SIZE) * db)
    return new


def leaves(params):
    return [np.asarray(a) for wb in params for a in wb]


def check(name, got, want):
    for g, w in zip(leaves(got), leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6, err_msg=name)


class Variant:
    """One way of running the step: its own parameters, a step function, a sync."""

    def __init__(self, name, step, params, x, y, sync, steps):
        self.name, self.step, self.x, self.y, self.sync = name, step, x, y, sync
        self.params, self.steps, self.times = params, steps, []
        self.first = 0.0

    def first_call(self):
        t = time.perf_counter()
        out = self.step(self.params, self.x, self.y)
        self.sync(out)
        self.first = time.perf_counter() - t
        return out

    def run_block(self):
        t = time.perf_counter()
        p = self.params
        for _ in range(self.steps):
            p = self.step(p, self.x, self.y)
        self.sync(p)
        self.times.append((time.perf_counter() - t) / self.steps)
        self.params = p


def build_variants(args, params, x, y):
    """NumPy, xtrace (eager, jit) and JAX (eager, jit) variants, each checked once."""
    want = update_numpy(params, x, y)
    variants = [Variant("NumPy", update_numpy, params, x, y, lambda p: None, args.steps)]
    variants[0].first_call()

    xupdate = make_update(xnp, xtrace.grad, xtrace.vmap, xtrace.nn.logsumexp)
    xparams = [(xnp.asarray(w), xnp.asarray(b)) for w, b in params]
    xx, xy = xnp.asarray(x), xnp.asarray(y)
    xsync = xtrace.block_until_ready
    variants.append(Variant("xtrace jit", xtrace.jit(xupdate), xparams, xx, xy, xsync,
                            args.steps))
    if not args.no_eager:
        variants.append(Variant("xtrace eager", xupdate, xparams, xx, xy, xsync,
                                args.eager_steps))

    jax = None if args.no_jax else _import_jax()
    if jax is not None:
        import jax.numpy as jnp
        jupdate = make_update(jnp, jax.grad, jax.vmap, jax.nn.logsumexp)
        jparams = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        jsync = jax.block_until_ready
        variants.append(Variant("JAX jit", jax.jit(jupdate), jparams, jx, jy, jsync,
                                args.steps))
        if not args.no_eager:
            variants.append(Variant("JAX eager", jupdate, jparams, jx, jy, jsync,
                                    args.eager_steps))

    _warm_up_xla(jax)
    for v in variants[1:]:
        check(v.name, v.first_call(), want)
    return variants, jax


def _warm_up_xla(jax):
    """Compile a small program with each library first, so that XLA's one-time start-up
    (shared by both in this process) is not billed to whichever first call comes first."""
    a = np.ones((8, 8), np.float32)
    xtrace.block_until_ready(xtrace.jit(lambda u, v: (u @ v).sum())(a, a))
    if jax is not None:
        jax.block_until_ready(jax.jit(lambda u, v: (u @ v).sum())(a, a))


def _import_jax():
    try:
        import jax
    except ImportError:
        print("(jax is not importable here: JAX rows skipped)")
        return None
    return jax


def time_rounds(variants, rounds, pause):
    """Each round runs every variant once, in a fresh random order (so that no variant always
    follows the same one), pausing between them: worker threads of the previous variant
    (OpenBLAS's, XLA's) keep spinning for a while after their last job, which would slow
    whichever variant comes next."""
    order = random.Random(0)
    for _ in range(rounds):
        for v in order.sample(variants, len(variants)):
            time.sleep(pause)
            v.run_block()


def report(variants, args, jax):
    flops = matmul_flops()
    med = {v.name: statistics.median(v.times) for v in variants}
    base = med["NumPy"]
    threads = f"{args.threads} thread(s)" if args.threads else \
        f"all {len(os.sched_getaffinity(0))} CPUs"
    print(f"MNIST MLP {SIZES}, batch {BATCH}, float32, SGD step incl. grad; "
          f"{xtrace.default_backend()} backend, {threads}; "
          f"median of {args.rounds} rounds; {flops / 1e6:.1f} MFLOP of matmuls per step")
    print(f"  jaxlib {_version('jaxlib')}, NumPy {np.__version__}"
          + (f", JAX {jax.__version__}" if jax is not None else ""))
    header = f"  {'variant':14s} {'ms/step':>9s} {'s/epoch':>8s} {'first call s':>13s} " \
             f"{'GFLOP/s':>8s} {'vs NumPy':>9s}"
    print(header)
    rows = []
    for v in variants:
        ms = med[v.name] * 1e3
        row = (v.name, ms, med[v.name] * EPOCH / BATCH, v.first, flops / med[v.name] / 1e9,
               med[v.name] / base)
        rows.append(row)
        print(f"  {row[0]:14s} {row[1]:9.2f} {row[2]:8.2f} {row[3]:13.3f} {row[4]:8.2f} "
              f"{row[5]:8.2f}x")
    ratios = _ratios(med)
    for text, value in ratios:
        print(f"  {text}: {value:.2f}x")
    if args.markdown:
        print("\n| variant | ms/step | s/epoch | first call (s) | GFLOP/s | time vs NumPy |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.3f} | {r[4]:.2f} | {r[5]:.2f}x |")
        print()
        for text, value in ratios:
            print(f"- {text}: {value:.2f}x")


def _ratios(med):
    """The comparisons the targets are stated in (time ratios; < 1 means the first is faster)."""
    pairs = [("xtrace jit / JAX jit", "xtrace jit", "JAX jit"),
             ("xtrace jit / NumPy", "xtrace jit", "NumPy"),
             ("xtrace eager / JAX eager", "xtrace eager", "JAX eager"),
             ("JAX jit / NumPy", "JAX jit", "NumPy")]
    out = [(t, med[a] / med[b]) for t, a, b in pairs if a in med and b in med]
    if "xtrace eager" in med:
        out.append(("speed-up of xtrace jit over xtrace eager",
                    med["xtrace eager"] / med["xtrace jit"]))
    return out


def _version(dist):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def main(args) -> None:
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.random((BATCH, SIZES[0]), dtype=np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    variants, jax = build_variants(args, params, x, y)
    time_rounds(variants, args.rounds, args.pause)
    report(variants, args, jax)


if __name__ == "__main__":
    main(ARGS)
