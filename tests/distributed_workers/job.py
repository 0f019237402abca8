"""One process of a multi-process test job (tests/test_distributed.py starts it through
``python -m xtrace.distributed.launch``): runs every collective and a data-parallel SGD step
over the devices of all processes and saves this process's results to OUT_DIR/rank<i>.npz.

    job.py OUT_DIR
"""
import sys

import numpy as np

import xtrace
from xtrace import lax, pmap

xtrace.distributed.initialize(heartbeat_timeout_seconds=10)

out_dir = sys.argv[1]
me, nproc = xtrace.process_index(), xtrace.process_count()
L, N = xtrace.local_device_count(), xtrace.device_count()
rng = np.random.default_rng(0)  # the same global data in every process
X = rng.standard_normal((N, 3)).astype(np.float32)
A = rng.standard_normal((N, N, 2)).astype(np.float32)
mine = slice(me * L, (me + 1) * L)  # this process's rows of the global axis

res = {
    "device_ids": np.array([d.id for d in xtrace.devices()]),
    "device_procs": np.array([d.process_index for d in xtrace.devices()]),
    "local_procs": np.array([d.process_index for d in xtrace.local_devices()]),
    "counts": np.array([me, nproc, L, N]),
    "psum": pmap(lambda v: lax.psum(v, "i"), "i")(X[mine]),
    "pmean": pmap(lambda v: lax.pmean(v, "i"), "i")(X[mine]),
    "pmax": pmap(lambda v: lax.pmax(v, "i"), "i")(X[mine]),
    "pmin": pmap(lambda v: lax.pmin(v, "i"), "i")(X[mine]),
    "psum_int": pmap(lambda v: lax.psum(v, "i"), "i")(np.arange(N * 2, dtype=np.int32)
                                                     .reshape(N, 2)[mine]),
    "all_gather": pmap(lambda v: lax.all_gather(v, "i"), "i")(X[mine]),
    "all_gather_tiled": pmap(lambda v: lax.all_gather(v, "i", tiled=True), "i")(X[mine]),
    "axis_index": pmap(lambda v: lax.axis_index("i") + 0 * v[0].astype(np.int32), "i")(X[mine]),
    "ppermute": pmap(lambda v: lax.ppermute(v, "i", [(i, (i + 1) % N) for i in range(N)]),
                     "i")(X[mine]),
    "all_to_all": pmap(lambda v: lax.all_to_all(v, "i", 0, 0), "i")(A[mine]),
    "psum_scatter": pmap(lambda v: lax.psum_scatter(v, "i"), "i")(A[mine]),
    "broadcast_arg": pmap(lambda v, c: lax.psum(v * c, "i"), "i", in_axes=(0, None))(
        X[mine], np.float32(2.0)),
    "explicit_devices": pmap(lambda v: lax.psum(v, "i"), "i", devices=xtrace.devices())(
        X[mine]),
    # a shared (unmapped) argument's cotangent is summed over every device of every process
    "grad_shared": xtrace.grad(lambda w: pmap(lambda w, v: (w * v).sum(), "i",
                                              in_axes=(None, 0))(w, X[mine]).sum())(
        np.ones(3, np.float32)),
}

# A data-parallel SGD step of a linear model with squared error: per-device gradients of the
# local batch, averaged over all devices with pmean (equal batch sizes: the full-batch mean).
B = 4  # examples per device
XB = rng.standard_normal((N, B, 5)).astype(np.float32)
YB = rng.standard_normal((N, B, 3)).astype(np.float32)
W = rng.standard_normal((5, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)


def loss(params, x, y):
    w, c = params
    return xtrace.numpy.mean(xtrace.numpy.sum((x @ w + c - y) ** 2, axis=-1))


def step(params, x, y):
    grads = lax.pmean(xtrace.grad(loss)(params, x, y), "i")
    return [p - 0.1 * g for p, g in zip(params, grads)]


new_w, new_b = pmap(step, "i", in_axes=(None, 0, 0))((W, b), XB[mine], YB[mine])
res["sgd_w"], res["sgd_b"] = new_w, new_b
np.savez(f"{out_dir}/rank{me}.npz", **{k: np.asarray(v) for k, v in res.items()})
print(f"process {me} of {nproc} done", flush=True)
