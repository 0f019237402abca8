"""Train the classic JAX-tutorial MNIST classifier with xtrace, without and with jit.

    python examples/mnist/train.py            # from the repository root, after pip install -e .

First a short un-jitted (eager) pass, where every operation runs as its own small XLA
program, then the full training with ``xtrace.jit(update)``, one fused XLA program per step.
Both start from the same parameters and see the same batches. Each epoch prints its time,
mean loss, and train and test accuracy; the end prints the speed-up of jit.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # data.py and model.py sit beside us

import xtrace  # noqa: E402
import xtrace.numpy as xnp  # noqa: E402
from xtrace import random  # noqa: E402

import data  # noqa: E402
from model import LAYER_SIZES, accuracy, init_network_params, one_hot, update  # noqa: E402

DEFAULTS = dict(epochs=10, batch_size=64, lr=0.3, seed=0, eager_steps=200)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Train a 784-512-512-10 MLP on MNIST with xtrace: a short un-jitted pass, "
                    "then the whole training under jit.",
        epilog="Data: --data DIR, else the full MNIST in the cache folder ($XTRACE_MNIST_DIR or "
               "~/.cache/xtrace/mnist), downloaded there if missing and online, else the "
               "8,000/2,000-digit subset bundled in examples/mnist/mnist-subset. With the "
               "defaults the subset reaches about 95-96% test accuracy in 10 epochs.")
    p.add_argument("--data", metavar="DIR",
                   help="folder with the four MNIST IDX files (.gz or not)")
    p.add_argument("--offline", action="store_true",
                   help="never download (also: XTRACE_MNIST_OFFLINE=1)")
    p.add_argument("--no-verify", action="store_true",
                   help="read --data files whose checksums are not MNIST's (e.g. Fashion-MNIST)")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                   help="epochs of the jit run (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                   help="images per SGD step (default: %(default)s)")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help="SGD step size (default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seed of the initial parameters and of the batch order "
                        "(default: %(default)s)")
    p.add_argument("--eager-steps", type=int, default=DEFAULTS["eager_steps"],
                   help="steps of the un-jitted pass (at most one epoch; 0: one whole epoch); "
                        "a partial epoch reports its per-epoch-equivalent time "
                        "(default: %(default)s)")
    p.add_argument("--no-eager", action="store_true", help="skip the slow un-jitted pass")
    p.add_argument("--limit", type=int, metavar="N",
                   help="use only the first N training and N test images (quick runs)")
    p.add_argument("--plot", metavar="FILE",
                   help="write a PNG of the loss and accuracy curves (needs matplotlib)")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.eager_steps < 0:
        p.error("--epochs and --batch-size must be positive, --eager-steps non-negative")
    return args


class Progress:
    """A one-line progress bar within an epoch, drawn only when stdout is a terminal."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.last = label, total, 0.0
        self.enabled = sys.stdout.isatty()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.1 and done < self.total):
            return
        self.last = now
        filled = 30 * done // self.total
        sys.stdout.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                         f"{done}/{self.total} steps")
        sys.stdout.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stdout.write("\r" + " " * (len(self.label) + 50) + "\r")
            sys.stdout.flush()


def epoch_batches(rng: np.random.Generator, n: int, batch_size: int) -> list[np.ndarray]:
    """Shuffled index batches of one epoch; a last partial batch is dropped so that every
    step has the same shape (one compiled program)."""
    perm = rng.permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def run_steps(step, params, images, targets, batches, lr, progress):
    """Apply ``step`` to each batch. Returns the new params, the per-step losses (arrays: no
    sync per step) and the seconds taken by the first step and by all of them."""
    losses, t0 = [], time.perf_counter()
    first = None
    for i, idx in enumerate(batches, 1):
        params, value = step(params, images[idx], targets[idx], lr)
        losses.append(value)
        if first is None:  # the first step compiles: time it on its own
            xtrace.block_until_ready(params)
            first = time.perf_counter() - t0
        progress.update(i)
    xtrace.block_until_ready(params)
    progress.close()
    return params, losses, first, time.perf_counter() - t0


def row_text(tag: str, what: str, seconds: float, loss: float, train_acc: float,
             test_acc: float) -> str:
    return (f"{tag:6s} {what:<14s} {seconds:6.2f} s   loss {loss:.4f}   "
            f"train {train_acc:7.2%}   test {test_acc:7.2%}")


def mean_loss(losses) -> float:
    return float(np.mean([float(v) for v in losses]))


def steady_ms(first: float, total: float, steps: int) -> float:
    """Milliseconds per step once compiled (the first step's compiles left out when possible)."""
    return 1e3 * ((total - first) / (steps - 1) if steps > 1 else total)


def run_eager(args, ds, params, train_targets, test_targets, steps_per_epoch: int) -> dict:
    """The tutorial's loop without jit, for ``--eager-steps`` steps of the first epoch."""
    batches = epoch_batches(np.random.default_rng(args.seed), len(ds.train_labels), args.batch_size)
    steps = min(args.eager_steps or steps_per_epoch, steps_per_epoch)
    params, losses, first, total = run_steps(update, params, ds.train_images, train_targets,
                                             batches[:steps], args.lr,
                                             Progress("eager epoch 1", steps))
    ms = steady_ms(first, total, steps)
    train_acc = float(accuracy(params, ds.train_images, train_targets))
    test_acc = float(accuracy(params, ds.test_images, test_targets))
    what = "epoch 1" if steps == steps_per_epoch else f"{steps}/{steps_per_epoch} steps"
    print(row_text("eager", what, total, mean_loss(losses), train_acc, test_acc))
    epoch_s = first + ms / 1e3 * (steps_per_epoch - 1)
    print(f"       {ms:.1f} ms/step after a first step of {first:.2f} s (it compiles each "
          f"operation once); about {epoch_s:.1f} s per epoch of {steps_per_epoch} steps")
    return dict(steps=steps, seconds=total, ms_per_step=ms, first_step_s=first,
                epoch_s=epoch_s, loss=mean_loss(losses), train_acc=train_acc, test_acc=test_acc,
                params=params)


def run_jit(args, ds, params, train_targets, test_targets, steps_per_epoch: int) -> dict:
    """The same loop with ``update`` and ``accuracy`` compiled by ``xtrace.jit``."""
    jit_update, jit_accuracy = xtrace.jit(update), xtrace.jit(accuracy)
    train_images, test_images = xnp.asarray(ds.train_images), xnp.asarray(ds.test_images)
    rng = np.random.default_rng(args.seed)  # the same batches as the eager pass
    epochs, step_losses, first_step, steady_s = [], [], 0.0, 0.0
    for epoch in range(1, args.epochs + 1):
        batches = epoch_batches(rng, len(ds.train_labels), args.batch_size)
        params, losses, first, total = run_steps(
            jit_update, params, ds.train_images, train_targets, batches, args.lr,
            Progress(f"jit    epoch {epoch}", len(batches)))
        if epoch == 1:
            first_step, steady_s = first, total - first
        else:
            steady_s += total
        losses = [float(v) for v in losses]
        step_losses += losses
        row = dict(epoch=epoch, seconds=total, loss=float(np.mean(losses)),
                   train_acc=float(jit_accuracy(params, train_images, train_targets)),
                   test_acc=float(jit_accuracy(params, test_images, test_targets)))
        epochs.append(row)
        print(row_text("jit", f"epoch {epoch:2d}/{args.epochs}", total, row["loss"],
                       row["train_acc"], row["test_acc"]))
    steady_steps = args.epochs * steps_per_epoch - 1
    ms = 1e3 * (steady_s / steady_steps if steady_steps else first_step)
    print(f"       {ms:.1f} ms/step after a first step of {first_step:.2f} s (it compiles the "
          f"whole update once); {ms / 1e3 * steps_per_epoch:.2f} s per epoch once compiled")
    return dict(epochs=epochs, step_losses=step_losses, ms_per_step=ms, first_step_s=first_step,
                params=params)


def save_plot(path: str, jit_run: dict, steps_per_epoch: int) -> bool:
    """Loss per step and accuracy per epoch as a PNG; a message instead if matplotlib is absent."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(f"--plot {path}: matplotlib is not installed (pip install matplotlib); "
              "no plot written.")
        return False
    rows = jit_run["epochs"]
    epoch_no = [r["epoch"] for r in rows]
    fig = Figure(figsize=(10, 4), layout="tight")
    ax_loss, ax_acc = fig.subplots(1, 2)
    x = np.arange(1, len(jit_run["step_losses"]) + 1) / steps_per_epoch
    ax_loss.plot(x, jit_run["step_losses"], lw=0.6, alpha=0.5, label="per step")
    ax_loss.plot([e - 0.5 for e in epoch_no], [r["loss"] for r in rows], "o-", label="epoch mean")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="training loss")
    ax_acc.plot(epoch_no, [100 * r["train_acc"] for r in rows], "o-", label="train")
    ax_acc.plot(epoch_no, [100 * r["test_acc"] for r in rows], "o-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")
    return True


def main(argv=None) -> dict:
    """Run the example; returns what it measured (and the final parameters) for tests."""
    args = parse_args(argv)
    print(f"xtrace {xtrace.__version__} on {xtrace.default_backend()}: {xtrace.devices()}")
    ds = data.load_mnist(args.data, offline=True if args.offline else None,
                         verify_data_dir=not args.no_verify).limit(args.limit)
    print(f"data: {ds.source}")
    steps_per_epoch = len(ds.train_labels) // args.batch_size
    if steps_per_epoch == 0:
        raise SystemExit(f"--batch-size {args.batch_size} is larger than the "
                         f"{len(ds.train_labels)} training images")
    print(f"model: MLP {'-'.join(map(str, LAYER_SIZES))}, SGD step size {args.lr}, batch "
          f"{args.batch_size}, {steps_per_epoch} steps per epoch, seed {args.seed}")
    train_targets, test_targets = one_hot(ds.train_labels), one_hot(ds.test_labels)
    init = init_network_params(LAYER_SIZES, random.key(args.seed))
    result = dict(data=ds.source, steps_per_epoch=steps_per_epoch, eager=None)
    if not args.no_eager:
        print("\nwithout jit: each operation is dispatched to XLA on its own")
        result["eager"] = run_eager(args, ds, init, train_targets, test_targets, steps_per_epoch)
    print("\nwith jit: the whole update is one compiled XLA program")
    result["jit"] = run_jit(args, ds, init, train_targets, test_targets, steps_per_epoch)
    if result["eager"] is not None:
        result["speedup"] = result["eager"]["ms_per_step"] / result["jit"]["ms_per_step"]
        print(f"\njit is {result['speedup']:.1f}x faster per step than eager "
              f"({result['jit']['ms_per_step']:.1f} vs {result['eager']['ms_per_step']:.1f} ms)")
    final = result["jit"]["epochs"][-1]
    print(f"final test accuracy {final['test_acc']:.2%} after {args.epochs} epochs")
    if args.plot:
        save_plot(args.plot, result["jit"], steps_per_epoch)
    return result


if __name__ == "__main__":
    main()
