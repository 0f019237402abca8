"""``python -m xtrace.distributed.launch``: start N local processes of one script as a job.

Each process gets XTRACE_COORDINATOR_ADDRESS (a free loopback port), XTRACE_NUM_PROCESSES
and XTRACE_PROCESS_ID, so ``xtrace.distributed.initialize()`` needs no arguments. Their output
is streamed with a ``[rank]`` prefix. When one exits with an error the others get ``--grace``
seconds to stop on their own (they notice within their heartbeat timeout) before they are
terminated; the launcher's status is that of the process that failed first.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stream(rank: int, pipe, out, lock: threading.Lock) -> None:
    prefix = f"[{rank}] ".encode()
    for line in iter(pipe.readline, b""):
        with lock:
            out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
            out.flush()
    pipe.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m xtrace.distributed.launch",
        description="Run a script as N local processes of one xtrace job (for trying "
                    "multi-process code on one machine; on a cluster the scheduler starts "
                    "the processes).")
    p.add_argument("-n", "--num-processes", type=int, required=True, help="number of processes")
    p.add_argument("--devices-per-process", type=int, default=None, metavar="K",
                   help="CPU devices per process (sets XTRACE_NUM_CPU_DEVICES)")
    p.add_argument("--port", type=int, default=None, help="coordinator port (default: a free one)")
    p.add_argument("--grace", type=float, default=30.0, metavar="S",
                   help="seconds the others may take to stop after one process fails (30)")
    p.add_argument("-m", dest="module", default=None, help="run a module (like python -m)")
    p.add_argument("script", nargs="?", help="the script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def _module_flag(argv: list[str]) -> int | None:
    """Where "-m MODULE" is among the launcher's own options (before any script), or None."""
    takes_value = {"-n", "--num-processes", "--devices-per-process", "--port", "--grace"}
    skip = False
    for i, tok in enumerate(argv):
        if skip:
            skip = False
        elif tok == "-m":
            return i if i + 1 < len(argv) else None
        elif tok in takes_value:
            skip = True
        elif not tok.startswith("-"):
            return None  # the script: what follows is its own
    return None


def _status(code: int) -> int:
    return 128 - code if code < 0 else code  # killed by signal k: 128 + k, as shells report


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i = _module_flag(argv)
    if i is not None:  # everything after "-m MODULE" belongs to the module, as with python -m
        opts = _parser().parse_args(argv[:i])
        opts.module, opts.args = argv[i + 1], argv[i + 2:]
    else:
        opts = _parser().parse_args(argv)
    if opts.module is not None:
        target = ["-m", opts.module] + opts.args
    elif opts.script:
        target = [opts.script] + opts.args
    else:
        _parser().error("give a script to run (or -m module)")
    n = opts.num_processes
    if n < 1:
        _parser().error(f"--num-processes must be at least 1, got {n}")
    address = f"127.0.0.1:{opts.port or _free_port()}"
    out = sys.stdout.buffer
    lock = threading.Lock()
    procs, streams = [], []
    for rank in range(n):
        env = dict(os.environ, XTRACE_COORDINATOR_ADDRESS=address,
                   XTRACE_NUM_PROCESSES=str(n), XTRACE_PROCESS_ID=str(rank),
                   PYTHONUNBUFFERED="1")
        if opts.devices_per_process is not None:
            env["XTRACE_NUM_CPU_DEVICES"] = str(opts.devices_per_process)
        p = subprocess.Popen([sys.executable] + target, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        t = threading.Thread(target=_stream, args=(rank, p.stdout, out, lock), daemon=True)
        t.start()
        procs.append(p)
        streams.append(t)

    first_fail: tuple[int, int] | None = None  # (rank, status)
    deadline = None
    try:
        while any(p.poll() is None for p in procs):
            for rank, p in enumerate(procs):
                code = p.poll()
                if code not in (None, 0) and first_fail is None:
                    first_fail = (rank, _status(code))
                    deadline = time.monotonic() + opts.grace
            if deadline is not None and time.monotonic() > deadline:
                _stop(procs, f"still running {opts.grace:g} s after process {first_fail[0]} "
                             "failed", out, lock)
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        _stop(procs, "interrupted", out, lock)
        return 130
    for t in streams:
        t.join(timeout=5)
    failed = [(rank, _status(p.returncode)) for rank, p in enumerate(procs)
              if p.returncode not in (None, 0)]
    with lock:
        for rank, status in failed:
            out.write(f"[launch] process {rank} of {n} failed with status {status}\n".encode())
        out.flush()
    if first_fail is None and failed:
        first_fail = failed[0]
    return 0 if first_fail is None else (first_fail[1] or 1)


def _stop(procs, why: str, out, lock) -> None:
    """Terminate the processes still running (SIGTERM, then SIGKILL after 5 s)."""
    alive = [r for r, p in enumerate(procs) if p.poll() is None]
    if alive:
        with lock:
            out.write(f"[launch] stopping process(es) {', '.join(map(str, alive))}: {why}\n"
                      .encode())
            out.flush()
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + 5
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
