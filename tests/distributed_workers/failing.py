"""A process of a multi-process test job that fails on purpose (tests/test_distributed.py).

    failing.py MODE HEARTBEAT_TIMEOUT
MODE: "exit3" (process 1 exits with status 3 before the first pmap), "die1" / "die0" (that
process dies hard after one pmap, the others keep computing), "mismatch" (the processes pass
different shapes), "ok".
"""
import os
import sys
import time

import numpy as np

import xtrace
from xtrace import lax

mode, hb = sys.argv[1], float(sys.argv[2])
xtrace.distributed.initialize(heartbeat_timeout_seconds=hb)
me = xtrace.process_index()
f = xtrace.pmap(lambda v: lax.psum(v, "i"), "i")
x = np.ones(xtrace.local_device_count(), np.float32)
if mode == "mismatch":  # each process a different shape: different programs
    x = np.ones((xtrace.local_device_count(), 3 + me), np.float32)
if mode == "exit3" and me == 1:
    sys.exit(3)
start = time.monotonic()
try:
    print("first", np.asarray(f(x)).tolist(), flush=True)
    if mode == f"die{me}":
        os._exit(9)  # no Python clean-up at all: like a crash or a kill
    for _ in range(20 if mode == "ok" else 400):
        np.asarray(f(x))
        time.sleep(0.05)
except xtrace.distributed.DistributedError as e:
    print(f"DistributedError after {time.monotonic() - start:.1f} s: {e}", flush=True)
    sys.exit(1)
print("finished", flush=True)
