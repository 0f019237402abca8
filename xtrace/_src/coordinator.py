"""XLA's coordination service in a small process of its own (started by process 0's
``xtrace.distributed.initialize``).

Why not inside process 0: when the service goes away, jaxlib ends every other process at
once (an abort in its error-polling thread). Run apart, the service outlives a crash of
process 0, so the other processes notice the missing heartbeats and stop with a Python error.

    python -m xtrace._src.coordinator ADDRESS NUM_PROCESSES REGISTER_TIMEOUT SHUTDOWN_TIMEOUT LINGER

It prints "ready" (or "error: ...") on stdout, then serves until process 0 writes "bye" on
its stdin (then it waits for the clients to disconnect); if stdin ends without it (process 0
died), it serves LINGER more seconds so the others can notice and stop, then exits.
"""
from __future__ import annotations

import os
import sys
import time


def main(argv: list[str]) -> int:
    address, num, register_timeout, shutdown_timeout, linger = argv
    try:
        from xtrace._src import backend
        service = backend.start_coordinator(address, int(num), register_timeout=int(register_timeout),
                                  heartbeat_timeout=int(os.environ.get(
                                      "XTRACE_JAXLIB_HEARTBEAT_TIMEOUT", 24 * 3600)),
                                  shutdown_timeout=int(shutdown_timeout))
    except Exception as e:
        print(f"error: {str(e).strip()[:300]}", flush=True)
        return 1
    print("ready", flush=True)  # (``service`` must stay referenced: dropping it stops it)
    line = sys.stdin.readline()
    if line.strip() == "bye":  # every process is leaving: let them disconnect first
        service.shutdown()
    else:
        time.sleep(float(linger))
    os._exit(0)  # skip interpreter teardown: nothing is left to clean up


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
