"""Several processes as one job (xtrace.distributed): real processes on 127.0.0.1 started
through ``python -m xtrace.distributed.launch``, results checked against NumPy, and every
failure the issue names checked to end in a Python error within a bounded time. Each test
is bounded (60 s) and kills what it started."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import xtrace
from xtrace._src import distributed

pytestmark = pytest.mark.slow  # processes and timeouts: about two minutes; CI runs them

WORKERS = Path(__file__).parent / "distributed_workers"
ROOT = Path(__file__).parent.parent


def _run(args, timeout=60, env=None):
    """Run ``python args...`` in its own process group; returns (status, output, seconds)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + env.get("PYTHONPATH", "").split(os.pathsep))
    start = time.monotonic()
    p = subprocess.Popen([sys.executable] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"timed out after {timeout} s:\n{out[-3000:]}")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # anything of the group still running
        except ProcessLookupError:
            pass
    return p.returncode, out, time.monotonic() - start


def _launch(n, *args, devices=2, timeout=60):
    return _run(["-m", "xtrace.distributed.launch", "-n", str(n), "--devices-per-process",
                 str(devices), "--grace", "20"] + [str(a) for a in args], timeout=timeout)


def _coordinator_gone(port, within=30.0):
    """Wait until no coordinator process serves ``port`` (it ends itself after a crash of
    process 0); True when none is left."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        alive = False
        for d in Path("/proc").iterdir() if Path("/proc").exists() else []:
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError):
                continue
            if "xtrace._src.coordinator" in cmd and f":{port} " in cmd:
                alive = True
        if not alive:
            return True
        time.sleep(0.5)
    return False


def test_collectives_and_sgd_step_across_two_processes(tmp_path):
    code, out, _ = _launch(2, WORKERS / "job.py", tmp_path)
    assert code == 0, out[-3000:]
    assert "[0] process 0 of 2 done" in out and "[1] process 1 of 2 done" in out
    rng = np.random.default_rng(0)
    N, L = 4, 2
    X = rng.standard_normal((N, 3)).astype(np.float32)
    A = rng.standard_normal((N, N, 2)).astype(np.float32)
    XB = rng.standard_normal((N, 4, 5)).astype(np.float32)
    YB = rng.standard_normal((N, 4, 3)).astype(np.float32)
    W = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    # the full-batch gradient step of mean squared error, in NumPy
    xs, ys = XB.reshape(-1, 5), YB.reshape(-1, 3)
    r = xs @ W + b - ys
    gW, gb = 2 * xs.T @ r / len(xs), 2 * r.sum(0) / len(xs)
    ints = np.arange(N * 2, dtype=np.int32).reshape(N, 2)
    want = {
        "psum": np.broadcast_to(X.sum(0), X.shape), "pmean": np.broadcast_to(X.mean(0), X.shape),
        "pmax": np.broadcast_to(X.max(0), X.shape), "pmin": np.broadcast_to(X.min(0), X.shape),
        "psum_int": np.broadcast_to(ints.sum(0), ints.shape),
        "all_gather": np.broadcast_to(X, (N,) + X.shape),
        "all_gather_tiled": np.broadcast_to(X.reshape(-1), (N, 3 * N)),
        "axis_index": np.arange(N), "ppermute": np.roll(X, 1, axis=0),
        "all_to_all": np.swapaxes(A, 0, 1), "psum_scatter": A.sum(0),
        "broadcast_arg": np.broadcast_to(2 * X.sum(0), X.shape),
        "explicit_devices": np.broadcast_to(X.sum(0), X.shape),
    }
    for rank in range(2):
        got = np.load(tmp_path / f"rank{rank}.npz")
        np.testing.assert_array_equal(got["counts"], [rank, 2, L, N])
        assert len(set(got["device_ids"].tolist())) == N
        np.testing.assert_array_equal(got["device_procs"], [0, 0, 1, 1])
        np.testing.assert_array_equal(got["local_procs"], [rank, rank])
        rows = slice(rank * L, (rank + 1) * L)
        for k, v in want.items():
            assert got[k].shape == v[rows].shape, k
            np.testing.assert_allclose(got[k], v[rows], rtol=1e-5, atol=1e-6, err_msg=k)
        np.testing.assert_allclose(got["grad_shared"], X.sum(0), rtol=1e-5, atol=1e-6)
        # every device holds the same updated parameters
        np.testing.assert_allclose(got["sgd_w"], np.broadcast_to(W - 0.1 * gW, (L, 5, 3)),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["sgd_b"], np.broadcast_to(b - 0.1 * gb, (L, 3)),
                                   rtol=1e-5, atol=1e-6)


def test_launcher_exit_status_when_a_process_fails():
    code, out, took = _launch(2, WORKERS / "failing.py", "exit3", 3, devices=1)
    # process 1 exits with 3 but waits (alive) for process 0 to leave the job; process 0 then
    # fails with 1 first: the launcher's status is the first failure's, and it names both.
    assert code in (1, 3), out[-3000:]
    assert "[launch] process 1 of 2 failed with status 3" in out
    # process 0 was waiting for process 1 in a collective: it stops with a Python error
    assert "[0] DistributedError after" in out and "process 1 has exited" in out
    assert took < 45


def test_launcher_success_and_prefixes():
    code, out, _ = _launch(2, WORKERS / "failing.py", "ok", 5, devices=1)
    assert code == 0, out[-3000:]
    assert "[0] first [2.0]" in out and "[1] first [2.0]" in out
    assert "[0] finished" in out and "[1] finished" in out


@pytest.mark.parametrize("victim", [1, 0])
def test_a_process_that_dies_mid_run_stops_the_others_with_an_error(victim):
    """Process 1 dies (the others see its heartbeats stop, or their collective fail), or
    process 0 dies (the coordinator runs apart, so the others still get a Python error)."""
    code, out, took = _launch(2, WORKERS / "failing.py", f"die{victim}", 3, devices=1)
    other = 1 - victim
    assert code != 0
    assert f"[{other}] DistributedError after" in out, out[-3000:]
    assert "Aborted" not in out and "terminate called" not in out, out[-3000:]
    assert took < 40
    if victim == 0:  # the orphaned coordinator ends itself
        port = None
        for line in out.splitlines():
            if "coordinator 127.0.0.1:" in line:
                port = line.split("coordinator 127.0.0.1:")[1].split(")")[0]
                break
        assert port is not None and _coordinator_gone(port)


def test_processes_running_different_programs_get_an_error_not_a_hang():
    code, out, took = _launch(2, WORKERS / "failing.py", "mismatch", 5, devices=1)
    assert code == 1, out[-3000:]
    for rank, other in ((0, 1), (1, 0)):
        assert f"[{rank}] DistributedError after" in out, out[-3000:]
    assert "run different pmapped computations" in out
    assert "f32[3]" in out and "f32[4]" in out  # both sides' shapes are named
    assert took < 30


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single(code_text, timeout=60, **env):
    e = dict(os.environ, **{k: str(v) for k, v in env.items()})
    return _run(["-c", code_text], timeout=timeout, env=e)


def test_a_missing_process_is_an_error_naming_the_coordinator():
    port = _free_port()
    for pid in (0, 1):  # the coordinator waits for 1; process 1 finds no coordinator
        code, out, took = _single(
            "import xtrace\n"
            "try:\n"
            f"    xtrace.distributed.initialize('127.0.0.1:{port}', 2, {pid}, "
            "initialization_timeout=3)\n"
            "except xtrace.distributed.DistributedError as e:\n"
            "    print('ERR', e)\n")
        assert code == 0, out[-2000:]
        assert f"ERR xtrace.distributed.initialize (process {pid} of 2, coordinator " \
               f"127.0.0.1:{port})" in out
        assert "initialization_timeout=3 s" in out and "all 2 processes" in out
        assert took < 30


def test_coordinator_port_in_use_is_an_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code, out, _ = _single(
            "import xtrace\n"
            "try:\n"
            f"    xtrace.distributed.initialize('127.0.0.1:{port}', 2, 0, "
            "initialization_timeout=3)\n"
            "except xtrace.distributed.DistributedError as e:\n"
            "    print('ERR', e)\n")
    assert code == 0, out[-2000:]
    assert f"port {port} it is already in use" not in out
    assert f"ERR xtrace.distributed.initialize: process 0 must run the coordinator at " \
           f"127.0.0.1:{port}, but port {port} is already in use" in out


def test_initialize_twice_and_single_process_job():
    port = _free_port()
    code, out, _ = _single(
        "import numpy as np, xtrace\n"
        f"xtrace.distributed.initialize('127.0.0.1:{port}', 1, 0, "
        f"coordinator_bind_address='0.0.0.0:{port}', shutdown_timeout_seconds=5, "
        "heartbeat_timeout_seconds=5)\n"
        "print('count', xtrace.process_count(), xtrace.process_index(), "
        "xtrace.local_device_count())\n"
        "print('psum', np.asarray(xtrace.pmap(lambda v: xtrace.lax.psum(v, 'i'), 'i')"
        "(np.arange(2.0))).tolist())\n"
        "try:\n"
        f"    xtrace.distributed.initialize('127.0.0.1:{port}', 1, 0)\n"
        "except xtrace.distributed.DistributedError as e:\n"
        "    print('ERR', e)\n", XTRACE_NUM_CPU_DEVICES=2)
    assert code == 0, out[-2000:]
    assert "count 1 0 2" in out and "psum [1.0, 1.0]" in out
    assert "ERR xtrace.distributed.initialize was already called in this process " \
           f"(process 0 of 1, coordinator 127.0.0.1:{port})" in out


def test_initialize_after_devices_were_used_is_an_error():
    xtrace.numpy.ones(2).block_until_ready()  # this test process has used a device
    with pytest.raises(distributed.DistributedError,
                       match="must be called before xtrace uses any device"):
        xtrace.distributed.initialize("127.0.0.1:1", 2, 0)
    assert not xtrace.distributed.is_initialized()
    assert xtrace.process_count() == 1 and xtrace.process_index() == 0


def test_settings_come_from_the_environment_and_slurm(monkeypatch):
    for k in ("XTRACE_COORDINATOR_ADDRESS", "XTRACE_NUM_PROCESSES", "XTRACE_PROCESS_ID",
              "SLURM_JOB_ID", "SLURM_PROCID"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(distributed.DistributedError, match="needs coordinator_address, "
                       "num_processes, process_id"):
        distributed._resolve(None, None, None)
    monkeypatch.setenv("SLURM_JOB_ID", "12345")
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "gpu[07-09,12],cpu1")
    assert distributed._resolve(None, None, None) == (f"gpu07:{61000 + 12345 % 4096}", 8, 3)
    monkeypatch.setenv("XTRACE_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    monkeypatch.setenv("XTRACE_PROCESS_ID", "5")
    assert distributed._resolve(None, None, None) == ("10.0.0.1:1234", 8, 5)
    assert distributed._resolve("h:1", 2, 1) == ("h:1", 2, 1)
    with pytest.raises(distributed.DistributedError, match="process_id must be in"):
        distributed._resolve("h:1", 2, 2)
    with pytest.raises(distributed.DistributedError, match="'host:port'"):
        distributed._resolve("nohost", 2, 1)
    monkeypatch.delenv("XTRACE_COORDINATOR_ADDRESS")
    monkeypatch.delenv("XTRACE_PROCESS_ID")
    with pytest.raises(distributed.DistributedError, match="needs coordinator_address"):
        distributed._resolve(None, None, None, slurm=False)  # cluster_detection_method="deactivate"


def test_initialize_takes_jax_arguments_and_refuses_what_it_does_not_do():
    with pytest.raises(ValueError, match="cluster_detection_method must be"):
        xtrace.distributed.initialize("h:1", 2, 0, cluster_detection_method="mpi4py")
    with pytest.raises(NotImplementedError, match="multi-slice"):
        xtrace.distributed.initialize("h:1", 2, 0, slice_index=1)
    assert not xtrace.distributed.is_initialized()


def test_mnist_data_parallel_example_runs_unchanged_under_the_launcher():
    """examples/mnist/data_parallel.py on 2 processes x 2 devices follows the run on one
    process x 4 devices (the same global batches): the same loss and accuracy."""
    script = ROOT / "examples" / "mnist" / "data_parallel.py"
    args = ["--offline", "--epochs", "1", "--limit", "1024"]
    code, multi, _ = _launch(2, script, *args, devices=2)
    assert code == 0, multi[-3000:]
    env = dict(os.environ, XTRACE_NUM_CPU_DEVICES="4")
    env.pop("XTRACE_COORDINATOR_ADDRESS", None)
    code, single, _ = _run([str(script)] + args, env=env)
    assert code == 0, single[-3000:]

    def epoch_line(out):
        line = next(l for l in out.splitlines() if "epoch  1/1" in l)
        return line.split(" s ", 1)[1].strip()  # loss and accuracies, not the time

    assert "[0] final test accuracy" in multi and "in 2 processes" in multi
    assert "[1] epoch" not in multi  # only process 0 prints
    assert epoch_line(multi) == epoch_line(single)


def test_launcher_splits_its_options_from_the_script_or_module_arguments():
    from xtrace._src.launcher import _module_flag
    assert _module_flag(["-n", "2", "-m", "pkg.train", "--lr", "1", "-m", "x"]) == 2
    assert _module_flag(["-n", "2", "script.py", "-m", "foo"]) is None
    assert _module_flag(["--grace", "3", "-n", "1", "-m", "pkg"]) == 4
    assert _module_flag(["-n", "1", "-m"]) is None
