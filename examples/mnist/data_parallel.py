"""The MNIST tutorial trained data-parallel with ``xtrace.pmap`` over all devices.

    XTRACE_NUM_CPU_DEVICES=2 python examples/mnist/data_parallel.py     # 2 CPU devices
    python -m xtrace.distributed.launch -n 2 examples/mnist/data_parallel.py   # 2 processes

Every device holds a copy of the parameters and takes an equal slice of each global batch;
the gradients are averaged across devices with ``lax.pmean`` inside the pmapped step, so all
copies stay identical and the training follows the single-device run on the same global
batches (same seed, same accuracy up to float rounding). On a machine without accelerators,
``XTRACE_NUM_CPU_DEVICES=N`` (set before xtrace starts) gives N CPU devices.

Started as several processes (by the launcher, or a scheduler that sets
XTRACE_COORDINATOR_ADDRESS / XTRACE_NUM_PROCESSES / XTRACE_PROCESS_ID), the script joins them
with ``xtrace.distributed.initialize()``: pmap then spans every process's devices, each
process feeds its own devices their slices of the same global batch, and process 0 prints.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # data.py and model.py sit beside us

import xtrace  # noqa: E402
import xtrace.numpy as xnp  # noqa: E402
from xtrace import lax, random  # noqa: E402

import data  # noqa: E402
from model import LAYER_SIZES, accuracy, init_network_params, loss, one_hot  # noqa: E402
from train import DEFAULTS, epoch_batches  # noqa: E402


@partial(xtrace.pmap, axis_name="devices", in_axes=(0, 0, 0, None))
def update(params, x, y, step_size):
    """One SGD step on this device's slice; gradients (and the loss) averaged over devices."""
    value, grads = xtrace.value_and_grad(loss)(params, x, y)
    grads = lax.pmean(grads, "devices")
    new_params = [(w - step_size * dw, b - step_size * db)
                  for (w, b), (dw, db) in zip(params, grads)]
    return new_params, lax.pmean(value, "devices")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", metavar="DIR", help="a folder of MNIST IDX files")
    p.add_argument("--offline", action="store_true", help="never try to download")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                   help="GLOBAL batch size, split evenly over the devices")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--devices", type=int, default=None,
                   help="how many devices to use per process (default: all local ones)")
    p.add_argument("--limit", type=int, metavar="N", help="use only N training images")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if os.environ.get("XTRACE_COORDINATOR_ADDRESS") and not xtrace.distributed.is_initialized():
        xtrace.distributed.initialize()  # one of several processes: join them first
    nproc, me = xtrace.process_count(), xtrace.process_index()
    n_local = args.devices or xtrace.local_device_count()
    devices = xtrace.local_devices()[:n_local]
    n = n_local * nproc  # devices over all processes
    say = print if me == 0 else (lambda *a, **k: None)
    if args.batch_size % n:
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the {n} devices")
    say(f"xtrace {xtrace.__version__}: data-parallel over {n} {xtrace.default_backend()} "
        f"device(s)" + (f" in {nproc} processes" if nproc > 1 else f": {devices}"))
    ds = data.load_mnist(args.data, offline=True if args.offline else None).limit(args.limit)
    say(f"data: {ds.source}")
    train_targets, test_targets = one_hot(ds.train_labels), one_hot(ds.test_labels)
    params = init_network_params(LAYER_SIZES, random.key(args.seed))
    replicated = xtrace.device_put_replicated(params, devices)
    eval_accuracy = xtrace.jit(accuracy)
    train_images, test_images = xnp.asarray(ds.train_images), xnp.asarray(ds.test_images)
    targets_np = np.asarray(train_targets)
    rng = np.random.default_rng(args.seed)  # the same batches as train.py
    per_device = args.batch_size // n
    mine = slice(me * n_local * per_device, (me + 1) * n_local * per_device)  # our rows
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        losses = []
        for idx in epoch_batches(rng, len(ds.train_labels), args.batch_size):
            idx = idx[mine]
            x = ds.train_images[idx].reshape(n_local, per_device, -1)
            y = targets_np[idx].reshape(n_local, per_device, -1)
            replicated, value = update(replicated, x, y, args.lr)
            losses.append(value)
        xtrace.block_until_ready(replicated)
        seconds = time.perf_counter() - t0
        single = [(w[0], b[0]) for w, b in replicated]  # every device holds the same copy
        row = dict(epoch=epoch, seconds=seconds, loss=float(np.mean([float(v[0]) for v in losses])),
                   train_acc=float(eval_accuracy(single, train_images, train_targets)),
                   test_acc=float(eval_accuracy(single, test_images, test_targets)))
        history.append(row)
        say(f"epoch {epoch:2d}/{args.epochs}  {seconds:6.2f} s   loss {row['loss']:.4f}   "
            f"train {row['train_acc']:7.2%}   test {row['test_acc']:7.2%}")
    say(f"final test accuracy {history[-1]['test_acc']:.2%} after {args.epochs} epochs on "
        f"{n} device(s)" + (f" in {nproc} processes" if nproc > 1 else ""))
    return dict(epochs=history, params=[(w[0], b[0]) for w, b in replicated], devices=n)


if __name__ == "__main__":
    main()
