"""Several processes as one set of devices (``xtrace.distributed``).

Every process of a job calls ``initialize`` before anything else touches a device. Process 0
starts XLA's coordination service at the coordinator address; every process connects to it,
and the backends created afterwards see the devices of all processes (``devices()``), of which
this process drives its own (``local_devices()``). On CPU the processes exchange collective
data through gloo over TCP; on GPU through NCCL. pmap (pmap.py) then spans all of them.

Failures. jaxlib ends the whole process (abort, segfault) when its coordination service
reports a dead peer, when its port is taken, or when a shutdown barrier fails; its
error callback cannot even be called from Python. So xtrace keeps jaxlib's own failure
detection out of the way (a very long heartbeat timeout, no shutdown barrier unless every
process is there) and watches the job itself: a thread in each process writes a heartbeat
into the service's key-value store every second and reads the others'. A process silent for
``heartbeat_timeout_seconds``, or one that announced it is exiting while others wait for it
in a collective, makes waits fail with ``DistributedError`` (pmap.py runs executions that need other
processes through ``wait_for``, which polls ``check_peers`` while they run).
"""
from __future__ import annotations

import atexit
import concurrent.futures
import errno
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, Sequence, TypeVar

from xtrace._src import backend

ENV_ADDRESS = "XTRACE_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "XTRACE_NUM_PROCESSES"
ENV_PROCESS_ID = "XTRACE_PROCESS_ID"
DEFAULT_HEARTBEAT_TIMEOUT = 20  # seconds without a peer's heartbeat before it counts as dead
HEARTBEAT_INTERVAL = 1.0        # seconds between this process's heartbeats
JAXLIB_HEARTBEAT_TIMEOUT = 24 * 3600  # keeps jaxlib's fatal detection quiet (in ms: fits 32 bits)
SHUTDOWN_TIMEOUT = 300          # seconds the final meeting of all processes may take (JAX's)
_ALIVE, _LEFT, _PROGRAM = "xtrace/alive/", "xtrace/left/", "xtrace/program/"


class DistributedError(RuntimeError):
    """A multi-process job could not start, or one of its processes failed."""


_lock = threading.Lock()
_where = ""                   # "process 1 of 2, coordinator 127.0.0.1:1234", for messages
_watch: "_Watch | None" = None
_jobs: queue.SimpleQueue | None = None  # work for the thread that waits on other processes
_gave_up = False              # this process raised DistributedError: it ends with status 1
_shutdown_timeout = SHUTDOWN_TIMEOUT
_agreed: set = set()          # fingerprints of programs all processes have agreed to run
_programs_seen = 0            # how many new programs this process has run with the others
T = TypeVar("T")
_broken_jobs: list = []       # jaxlib objects of a failed job: never destroyed (see shutdown)


def _slurm_settings() -> tuple[str | None, int | None, int | None]:
    """(coordinator address, number of processes, process id) from a SLURM job step: one
    process per task, the coordinator on the step's first node, a port made from the job id."""
    env = os.environ
    if "SLURM_JOB_ID" not in env or "SLURM_PROCID" not in env:
        return None, None, None
    nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or ""
    first = _first_slurm_host(nodes)
    port = 61000 + int(env["SLURM_JOB_ID"]) % 4096
    address = f"{first}:{port}" if first else None
    ntasks = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS")
    return address, int(ntasks) if ntasks else None, int(env["SLURM_PROCID"])


def _first_slurm_host(nodelist: str) -> str | None:
    """The first host of a SLURM node list: "node[03-05,7],gpu1" -> "node03"."""
    m = re.match(r"\s*([^,\[]+)(?:\[([^\],]+))?", nodelist)
    if not m:
        return None
    prefix, ranges = m.group(1), m.group(2)
    return prefix + ranges.split("-")[0] if ranges else prefix


def _int_setting(value: int | None, env: str, what: str) -> int | None:
    if value is not None:
        return int(value)
    raw = os.environ.get(env)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise DistributedError(f"{env}={raw!r} is not an integer ({what})") from None


def _check_port_free(host: str, port: int, address: str) -> None:
    """jaxlib's service crashes the process (SIGSEGV) when its port is taken: check first."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]") if host not in ("", "localhost") else
                    ("::1" if family == socket.AF_INET6 else "127.0.0.1"), port))
        except OSError as e:
            why = ("is already in use (another job, or a previous run still exiting?)"
                   if e.errno == errno.EADDRINUSE else f"cannot be bound here: {e.strerror}")
            raise DistributedError(
                f"xtrace.distributed.initialize: process 0 must run the coordinator at "
                f"{address}, but port {port} {why}. Choose another port in "
                f"coordinator_address ({ENV_ADDRESS}); on one machine "
                "`python -m xtrace.distributed.launch` picks a free one.") from None


def _on_jaxlib_error(status) -> None:  # pragma: no cover - jaxlib cannot call it (see top)
    """Given to jaxlib so that a failed ``connect`` raises instead of aborting."""


class _Watch(threading.Thread):
    """Heartbeats through the coordination service's key-value store: writes this process's
    every HEARTBEAT_INTERVAL, reads everyone's, and notes who went silent or left."""

    def __init__(self, client, pid: int, num: int, timeout: float):
        super().__init__(name="xtrace-distributed-heartbeat", daemon=True)
        self.client, self.pid, self.num, self.timeout = client, pid, num, timeout
        self.failure: str | None = None       # why the job is broken, once it is
        self.left: dict[int, float] = {}      # peer -> when this process saw it leave
        self.stop = threading.Event()
        now = time.monotonic()
        self._seen = {p: ("", now) for p in range(num) if p != pid}  # last beat, when seen

    def run(self) -> None:
        beat = 0
        while not self.stop.is_set():
            try:
                self.client.key_value_set(f"{_ALIVE}{self.pid}", str(beat), allow_overwrite=True)
                beats = dict(self.client.key_value_dir_get(_ALIVE))
                left = dict(self.client.key_value_dir_get(_LEFT))
            except Exception as e:  # the service (process 0) is gone or unreachable
                if self.failure is None:
                    self.failure = (f"the coordinator stopped answering ({str(e).strip()[:200]});"
                                    " process 0 has probably exited or crashed")
                return
            beat += 1
            now = time.monotonic()
            for p, (last, when) in self._seen.items():
                key = f"{_ALIVE}{p}"
                if beats.get(key, "") != last:
                    self._seen[p] = (beats[key], now)
                elif now - when > self.timeout and self.failure is None and p not in self.left:
                    self.failure = (f"process {p} sent no heartbeat for {self.timeout:g} s: it "
                                    "died, hangs outside Python, or its host is unreachable")
                if f"{_LEFT}{p}" in left and p not in self.left:
                    self.left[p] = now
            self.stop.wait(HEARTBEAT_INTERVAL)

    def problem(self) -> str | None:
        """Why collectives across processes cannot complete now, or None."""
        if self.failure is not None:
            return self.failure
        now = time.monotonic()
        gone = sorted(p for p, t in self.left.items() if now - t > self.timeout)
        if gone:  # left a while ago, and this process still waits for it
            return (f"process {', '.join(map(str, gone))} has exited (or is exiting) while this "
                    "process waits for it in a collective: the processes did not run the same "
                    "sequence of pmapped computations")
        return None


def mark_failed() -> None:
    """This process gave up on the job (a wait may still be stuck inside jaxlib): when it
    exits, it ends at once with status 1 after leaving the job."""
    global _gave_up
    _gave_up = True


def check_peers() -> None:
    """Raise DistributedError if a process of the job died, went silent or left."""
    w = _watch
    why = w.problem() if w is not None else None
    if why is not None:
        mark_failed()
        raise DistributedError(
            f"xtrace.distributed ({_where}): {why}. Collectives across processes cannot "
            "complete; check the other processes' output for their error. This process cannot "
            "use the other processes' devices any more.")


def wait_for(fn: Callable[[], T]) -> T:
    """``fn()``, run on a helper thread because it may block inside jaxlib waiting for other
    processes (a collective, gloo's first rendezvous); this thread polls ``check_peers``
    meanwhile, so a dead peer ends the wait with DistributedError instead of a hang."""
    global _jobs
    if _jobs is None:  # one daemon thread: a wait stuck in jaxlib must not block exit
        _jobs = queue.SimpleQueue()
        threading.Thread(target=_run_jobs, args=(_jobs,), daemon=True,
                         name="xtrace-distributed-exec").start()
    future: concurrent.futures.Future = concurrent.futures.Future()
    _jobs.put((fn, future))
    while True:
        check_peers()
        try:
            return future.result(timeout=0.01)
        except concurrent.futures.TimeoutError:
            pass


def agree_on_program(fingerprint: str, what: str) -> None:
    """Before this process first runs a program with the others: check, through the key-value
    store, that every process runs the same program at this point (the n-th new one). With
    different shapes or functions the processes would wait on each other's collectives for
    ever; this makes it a DistributedError naming both sides."""
    global _programs_seen
    d = backend._distributed
    if d is None or fingerprint in _agreed:
        return
    n = _programs_seen
    _programs_seen += 1
    d.client.key_value_set(f"{_PROGRAM}{n}/{d.process_id}", f"{fingerprint} {what}",
                           allow_overwrite=True)
    for p in range(d.num_processes):
        if p == d.process_id:
            continue
        theirs = wait_for(lambda p=p: _blocking_get(d.client, f"{_PROGRAM}{n}/{p}"))
        if theirs.split(" ", 1)[0] != fingerprint:
            mark_failed()
            raise DistributedError(
                f"xtrace.distributed ({_where}): the processes run different pmapped "
                f"computations: this one runs {what}, process {p} runs "
                f"{theirs.split(' ', 1)[1]}. Every process must call the same pmapped "
                "functions in the same order, with arguments of the same shapes (each "
                "process's mapped axis its local device count).")
    _agreed.add(fingerprint)


def _blocking_get(client, key: str) -> str:
    """The value of ``key``, waiting for it in short slices (the caller's wait_for checks the
    other processes in between)."""
    while True:
        try:
            return client.blocking_key_value_get(key, 200)
        except Exception as e:
            if "DEADLINE_EXCEEDED" not in str(e) and "timed out" not in str(e).lower():
                raise


def _run_jobs(jobs: queue.SimpleQueue) -> None:
    while True:
        fn, future = jobs.get()
        try:
            future.set_result(fn())
        except BaseException as e:  # handed to the waiting thread
            future.set_exception(e)


def _resolve(coordinator_address: str | None, num_processes: int | None,
             process_id: int | None, slurm: bool = True) -> tuple[str, int, int]:
    """(address, number of processes, process id): the arguments, else the XTRACE_*
    variables, else (``slurm``) a SLURM job step's; checked."""
    s_addr, s_num, s_id = _slurm_settings() if slurm else (None, None, None)
    address = coordinator_address or os.environ.get(ENV_ADDRESS) or s_addr
    num = _int_setting(num_processes, ENV_NUM_PROCESSES, "the number of processes")
    pid = _int_setting(process_id, ENV_PROCESS_ID, "this process's id")
    num = s_num if num is None else num
    pid = s_id if pid is None else pid
    missing = [name for name, v in (("coordinator_address", address),
                                    ("num_processes", num), ("process_id", pid)) if v is None]
    if missing:
        raise DistributedError(
            f"xtrace.distributed.initialize needs {', '.join(missing)}: pass them, or set "
            f"{ENV_ADDRESS}, {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID} (the launcher "
            "`python -m xtrace.distributed.launch` and SLURM job steps set them).")
    if num < 1 or not 0 <= pid < num:
        raise DistributedError(
            f"xtrace.distributed.initialize: process_id must be in [0, num_processes), got "
            f"process_id={pid} and num_processes={num}")
    host, sep, port_s = address.rpartition(":")
    if not sep or not port_s.isdigit() or not host:
        raise DistributedError(
            f"xtrace.distributed.initialize: coordinator_address must be 'host:port', got "
            f"{address!r}")
    return address, num, pid


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, local_device_ids: int | Sequence[int] | None = None,
               cluster_detection_method: str | None = None, initialization_timeout: int = 300,
               heartbeat_timeout_seconds: int = DEFAULT_HEARTBEAT_TIMEOUT,
               shutdown_timeout_seconds: int = SHUTDOWN_TIMEOUT,
               coordinator_bind_address: str | None = None, slice_index: int | None = None,
               partition_index: int | None = None) -> None:
    """Join this process to a multi-process job (JAX's ``jax.distributed.initialize``).

    Call it once, first, in every process. Arguments left out come from the environment
    (``XTRACE_COORDINATOR_ADDRESS``, ``XTRACE_NUM_PROCESSES``, ``XTRACE_PROCESS_ID``), else
    from a SLURM job step (``cluster_detection_method="deactivate"`` turns that off). Process 0
    runs the coordinator at ``coordinator_address`` ("host:port", reachable by every process;
    it listens on ``coordinator_bind_address`` if given). Every process waits here until all
    ``num_processes`` have arrived, at most ``initialization_timeout`` seconds.
    ``local_device_ids`` restricts the GPUs this process uses. A process that stops sending
    heartbeats for ``heartbeat_timeout_seconds`` (20, JAX: 100) counts as failed: the others
    get errors. ``shutdown_timeout_seconds`` bounds the final meeting of all processes.
    """
    if slice_index is not None or partition_index is not None:
        raise NotImplementedError("xtrace.distributed.initialize: multi-slice jobs "
                                  "(slice_index, partition_index) are not supported")
    if cluster_detection_method not in (None, "slurm", "deactivate"):
        raise ValueError(f"xtrace.distributed.initialize: cluster_detection_method must be "
                         f"None, 'slurm' or 'deactivate', got {cluster_detection_method!r}")
    heartbeat_timeout = int(heartbeat_timeout_seconds)
    global _where, _shutdown_timeout
    with _lock:
        if backend._distributed is not None:
            raise DistributedError(
                f"xtrace.distributed.initialize was already called in this process ({_where}); "
                "call it once per process, or xtrace.distributed.shutdown() first.")
        if backend.any_backend_started():
            raise DistributedError(
                "xtrace.distributed.initialize must be called before xtrace uses any device, "
                "but this process has already created arrays or run computations on "
                f"{', '.join(sorted(backend._backends))}. Call it first thing in the script "
                "(right after `import xtrace`).")
        address, num, pid = _resolve(coordinator_address, num_processes, process_id,
                                     slurm=cluster_detection_method != "deactivate")
        bind = coordinator_bind_address or address
        host, port = bind.rpartition(":")[0], int(bind.rpartition(":")[2])
        _shutdown_timeout = max(1, int(shutdown_timeout_seconds))
        if isinstance(local_device_ids, int):
            local_device_ids = [local_device_ids]
        timeout = max(1, int(initialization_timeout))
        _where = f"process {pid} of {num}, coordinator {address}"
        service = None
        if pid == 0:
            _check_port_free(host, port, bind)
            service = _start_coordinator_process(bind, num, timeout, heartbeat_timeout)
        try:
            client = backend.connect_to_coordinator(
                address, pid, init_timeout=timeout, heartbeat_timeout=JAXLIB_HEARTBEAT_TIMEOUT,
                shutdown_timeout=_shutdown_timeout, on_error=_on_jaxlib_error)
        except Exception as e:  # jaxlib says little (e.g. "std::bad_cast"): say what to check
            if service is not None:
                _stop_coordinator_process(service)
            raise DistributedError(
                f"xtrace.distributed.initialize ({_where}): the job did not come together "
                f"within initialization_timeout={timeout} s. Check that all {num} processes were "
                f"started with distinct process ids 0..{num - 1}, that process 0 is running and "
                f"{address} is reachable from this host (firewall, hostname), and that every "
                f"process was given the same coordinator address and number of processes. "
                f"(jaxlib said: {str(e).strip()[:300]})") from None
        backend.use_distributed(backend.Distributed(service, client, pid, num, address,
                                                    local_device_ids))
        global _watch
        _watch = _Watch(client, pid, num, float(heartbeat_timeout))
        _watch.start()
    atexit.register(_shutdown_at_exit)


def shutdown() -> bool:
    """Leave the job (also run at exit): announce it, wait until every other process has left
    too or is dead, then disconnect (jaxlib's shutdown barrier, only when all are there) and
    stop the coordinator in process 0. A process that leaves early waits here for the others
    as long as they are alive. False when the job had broken (a process died or went
    silent): then a process ending through ``exit`` ends at once with status 1."""
    global _watch
    with _lock:
        d, w = backend._distributed, _watch
        if d is None:
            return True
        backend.use_distributed(None)  # the backends already made keep working locally
        _watch = None
        peers = set(range(d.num_processes)) - {d.process_id}
        if w.failure is None:
            try:
                d.client.key_value_set(f"{_LEFT}{d.process_id}", "1", allow_overwrite=True)
            except Exception:
                pass
        while w.failure is None and not peers <= set(w.left):
            time.sleep(0.05)
        w.stop.set()
        if w.failure is not None:
            # No clean way out: jaxlib aborts the process when its service or the link to it
            # goes down (destroying them does), and a collective may still be stuck on a
            # device thread. Keep them alive and let the caller decide (at exit: end the
            # process at once, status 1).
            _broken_jobs.append(d)
            return False
        try:  # everyone is leaving: meet, so that the coordinator outlives every client
            d.client.wait_at_barrier("xtrace/shutdown", int(_shutdown_timeout * 1000))
            d.client.shutdown()
        except Exception as e:  # not worth a crash on the way out
            print(f"xtrace.distributed ({_where}): shutdown: {str(e).strip()[:200]}",
                  file=sys.stderr, flush=True)
        if d.service is not None:
            _stop_coordinator_process(d.service)
        return True


def _start_coordinator_process(address: str, num: int, timeout: int,
                               heartbeat_timeout: int) -> subprocess.Popen:
    """Run the coordination service in a child process (coordinator.py says why) and wait
    until it listens."""
    linger = heartbeat_timeout + 10
    proc = subprocess.Popen(
        [sys.executable, "-m", "xtrace._src.coordinator", address, str(num), str(timeout),
         str(_shutdown_timeout), str(linger)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
        env={**os.environ, "XTRACE_JAXLIB_HEARTBEAT_TIMEOUT": str(JAXLIB_HEARTBEAT_TIMEOUT)})
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise DistributedError(
            f"xtrace.distributed.initialize (process 0 of {num}): the coordination service "
            f"could not start at {address}: {line or 'its process ended'}")
    return proc


def _stop_coordinator_process(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.write("bye\n")
        proc.stdin.close()
        proc.wait(timeout=10)
    except Exception:
        proc.kill()


def _shutdown_at_exit() -> None:
    # The job broke (end now, before jaxlib's threads abort the process or a stuck wait
    # blocks the interpreter's teardown), or this process gave up on it.
    if not shutdown() or _gave_up:
        import logging
        logging.shutdown()
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        os._exit(1)


def is_initialized() -> bool:
    return backend._distributed is not None


def describe() -> str:
    """"process 1 of 2, coordinator host:port", for messages ("" before initialize)."""
    return _where
