"""The persistent compilation cache (xtrace/_src/compile_cache.py) and the recompilation
diagnostics (log_compiles, the recompile warning).

Cross-process behaviour runs small programs in fresh Python processes, each with its own cache
folder under tmp_path, and reads the cache's counters (hits, writes, rejected) that the
process prints: whether a process loaded instead of compiling is counted, not timed.
"""
import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from functools import partial

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import compile_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Programs: an eager op, a jitted function, a second shape of it, and a replicated (pmap)
# program over two devices.
PROGRAM = r"""
import json, sys
import numpy as np
sys.path.insert(0, {root!r})
import xtrace, xtrace.numpy as xnp
from xtrace._src import compile_cache
f = xtrace.jit(lambda a, b: xnp.tanh(a @ b).sum(axis=0))
x = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
g = xtrace.pmap(lambda v: xtrace.lax.psum(v * 2, "i"), axis_name="i",
                devices=xtrace.devices()[:2])
out = [np.asarray(xnp.sin(xnp.asarray(x))).tolist(), np.asarray(f(x, x.T)).tolist(),
       np.asarray(f(x[:2], x.T[:, :2])).tolist(), np.asarray(g(x[:2])).tolist()]
print(json.dumps({{"out": out, "stats": compile_cache.stats}}))
"""


def _env(cache, tmp_path):
    env = dict(os.environ, XTRACE_CACHE_DIR=str(cache), XTRACE_CACHE_MIN_COMPILE_TIME="0",
               XTRACE_NUM_CPU_DEVICES="2",
               HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop("XTRACE_LOG_COMPILES", None)
    return env


def _start(cache, tmp_path):
    return subprocess.Popen([sys.executable, "-c", PROGRAM.format(root=ROOT)],
                            env=_env(cache, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc):
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


def _run(cache, tmp_path):
    return _finish(_start(cache, tmp_path))


def _expected():
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    return [np.sin(x), np.tanh(x @ x.T).sum(axis=0), np.tanh(x[:2] @ x.T[:, :2]).sum(axis=0),
            np.broadcast_to((x[:2] * 2).sum(axis=0), (2, 4))]


def _check_out(res):
    for got, want in zip(res["out"], _expected()):
        np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=1e-5, atol=1e-6)


def _entries(cache):
    return sorted(p for p in cache.iterdir() if p.suffix == ".xexe")


def test_second_process_loads_instead_of_compiling(tmp_path):
    cache = tmp_path / "cache"
    first, _ = _run(cache, tmp_path)
    _check_out(first)
    n = first["stats"]["writes"]
    assert n >= 3 and first["stats"]["hits"] == 0
    assert len(_entries(cache)) == n
    second, _ = _run(cache, tmp_path)
    _check_out(second)
    assert second["stats"]["hits"] == n
    assert second["stats"]["misses"] == second["stats"]["writes"] == 0
    # Nothing went to the user's folders.
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()


def test_corrupt_and_foreign_entries_are_ignored_and_rewritten(tmp_path):
    cache = tmp_path / "cache"
    first, _ = _run(cache, tmp_path)
    entries = _entries(cache)
    a, b, c = entries[:3]
    c.write_bytes(b.read_bytes())  # a valid entry, but of another key: foreign
    blob = bytearray(a.read_bytes())  # one flipped payload byte: checksum mismatch
    blob[-10] ^= 0xFF
    a.write_bytes(bytes(blob))
    b.write_bytes(b.read_bytes()[:100])  # truncated
    second, err = _run(cache, tmp_path)
    _check_out(second)
    assert second["stats"]["rejected"] == 3, err
    assert second["stats"]["writes"] == 3
    assert "ignoring invalid entry" in err
    third, _ = _run(cache, tmp_path)  # the rewritten entries are valid again
    _check_out(third)
    assert third["stats"]["hits"] == first["stats"]["writes"]
    assert third["stats"]["rejected"] == 0


def test_disabled_by_env_writes_nothing(tmp_path):
    res, _ = _run("off", tmp_path)
    _check_out(res)
    assert res["stats"] == dict.fromkeys(res["stats"], 0)
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()
    assert not (tmp_path / "off").exists()


def test_concurrent_processes_writing_the_same_entries(tmp_path):
    cache = tmp_path / "cache"
    procs = [_start(cache, tmp_path) for _ in range(2)]
    results = [_finish(p)[0] for p in procs]
    for r in results:
        _check_out(r)
        assert r["stats"]["errors"] == 0 and r["stats"]["rejected"] == 0
    assert not [p for p in cache.iterdir() if p.suffix != ".xexe"]  # no temporary files left
    again, _ = _run(cache, tmp_path)
    assert again["stats"]["hits"] == len(_entries(cache)) >= 3
    assert again["stats"]["rejected"] == 0


# ---- the cache module in this process, with stand-ins for compile/serialize/deserialize ----


class _Fake:
    """Compiles "programs" into objects; serializes them as their text's bytes."""

    def __init__(self):
        self.compiles = 0

    def build(self, text):
        self.compiles += 1
        return ("exe", text)

    @staticmethod
    def serialize(exe):
        return exe[1].encode()

    @staticmethod
    def deserialize(data):
        return ("exe", data.decode())


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setitem(xtrace.config._values, "compilation_cache", True)
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_dir", str(d))
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_min_compile_time", 0.0)
    monkeypatch.setitem(compile_cache._sizes, str(d), None)
    return d


def _get(fake, text, fp=("fp",)):
    return compile_cache.compile_or_load(text, fp, lambda: fake.build(text), fake.serialize,
                                         fake.deserialize)


def test_cache_hit_and_key_parts(cache_dir):
    fake = _Fake()
    assert _get(fake, "module @a {}") == ("exe", "module @a {}")
    assert _get(fake, "module @a {}") == ("exe", "module @a {}")
    assert fake.compiles == 1
    _get(fake, "module @a {}", fp=("other device kind",))  # another fingerprint: compiled
    assert fake.compiles == 2 and len(list(cache_dir.iterdir())) == 2


def test_config_disables_the_cache(cache_dir, monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "compilation_cache", False)
    xtrace.config.update("compilation_cache", False)
    fake = _Fake()
    _get(fake, "module @a {}")
    _get(fake, "module @a {}")
    assert fake.compiles == 2 and not cache_dir.exists()
    assert compile_cache.cache_dir() is None


def test_default_folder_is_per_user(monkeypatch, tmp_path):
    monkeypatch.setitem(xtrace.config._values, "compilation_cache", True)
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_dir", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.cache_dir() == str(tmp_path / "xtrace" / "compile")


def test_fast_compiles_are_not_written(cache_dir, monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_min_compile_time", 60.0)
    _get(_Fake(), "module @a {}")
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_undeserializable_entry_is_recompiled(cache_dir):
    fake = _Fake()
    _get(fake, "module @a {}")

    def broken(data):
        raise RuntimeError("cannot load")

    exe = compile_cache.compile_or_load("module @a {}", ("fp",), lambda: fake.build("module @a {}"),
                                        fake.serialize, broken)
    assert exe == ("exe", "module @a {}") and fake.compiles == 2


def test_size_limit_evicts_least_recently_used(cache_dir, monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_max_size", 3000)
    fake = _Fake()
    for i in range(6):
        _get(fake, f"module @m{i} {{}}" + "x" * 900)
        p = max(cache_dir.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        os.utime(p, (i, i))  # distinct, increasing ages
    sizes = [p.stat().st_size for p in cache_dir.iterdir()]
    assert sum(sizes) <= 3000
    # The newest entry survived; the oldest did not.
    fake.compiles = 0
    _get(fake, "module @m5 {}" + "x" * 900)
    _get(fake, "module @m0 {}" + "x" * 900)
    assert fake.compiles == 1


def test_readers_never_see_a_partial_entry(cache_dir):
    """Writers replacing one entry over and over while readers load it: every load finds the
    whole entry (never a torn or half-written file)."""
    text = "module @race {}" + "y" * 200_000
    key = compile_cache._key(text, ("fp",))
    path = str(cache_dir / (key.hex() + ".xexe"))
    exe = ("exe", text)
    compile_cache._store(str(cache_dir), path, key, exe, _Fake.serialize)
    bad = []

    def write():
        for _ in range(30):
            compile_cache._store(str(cache_dir), path, key, exe, _Fake.serialize)

    def read():
        for _ in range(60):
            got = compile_cache._load(path, key, _Fake.deserialize)
            if got != exe:
                bad.append(got)

    rejected = compile_cache.stats["rejected"]
    threads = [threading.Thread(target=f) for f in (write, write, read, read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad and compile_cache.stats["rejected"] == rejected
    assert [p.name for p in cache_dir.iterdir()] == [key.hex() + ".xexe"]


def test_unwritable_folder_does_not_fail(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setitem(xtrace.config._values, "compilation_cache", True)
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_dir", str(blocker / "sub"))
    monkeypatch.setitem(xtrace.config._values, "compilation_cache_min_compile_time", 0.0)
    fake = _Fake()
    assert _get(fake, "module @a {}") == ("exe", "module @a {}")


# ---- recompilation diagnostics ----


@pytest.fixture
def log_compiles(monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "log_compiles", True)


def _messages(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "xtrace" and r.getMessage().startswith("Compiling jit")]


def test_log_compiles_names_the_reason(log_compiles, caplog):
    @partial(xtrace.jit, static_argnames="n")
    def scaled(x, n=1):
        return x * n

    with caplog.at_level(logging.WARNING, logger="xtrace"):
        scaled(xnp.ones(3))
        scaled(xnp.ones(3))  # cached: no message
        scaled(xnp.ones(4))
        scaled(xnp.ones(4), n=2)
        scaled(xnp.ones(4, dtype="int32"), n=2)
    msgs = _messages(caplog)
    assert len(msgs) == 4, msgs
    assert "'scaled'" in msgs[0] and "first compile" in msgs[0]
    assert "argument 'x' f32[3] -> f32[4]" in msgs[1]
    assert "static argument 'n' (not passed) -> 2" in msgs[2]
    assert "argument 'x' f32[4] -> i32[4]" in msgs[3]
    assert any("Compiled '" in r.getMessage() or "Loaded '" in r.getMessage()
               for r in caplog.records)


def test_log_compiles_spots_new_function_objects(log_compiles, caplog):
    with caplog.at_level(logging.WARNING, logger="xtrace"):
        for _ in range(2):
            xtrace.jit(lambda x: x + 1)(xnp.ones(2))
    msgs = _messages(caplog)
    assert len(msgs) == 2 and "new function object" in msgs[1]


def test_log_compiles_names_pytree_leaves(log_compiles, caplog):
    def total(params):
        return params["w"].sum() + params["b"].sum()

    f = xtrace.jit(total)
    with caplog.at_level(logging.WARNING, logger="xtrace"):
        f({"w": xnp.ones(2), "b": xnp.ones(3)})
        f({"w": xnp.ones(2), "b": xnp.ones(5)})
    assert "argument 'params['b']' f32[3] -> f32[5]" in _messages(caplog)[-1]


def test_no_compile_messages_by_default(caplog, monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "log_compiles", False)
    with caplog.at_level(logging.WARNING, logger="xtrace"):
        xtrace.jit(lambda x: x * 3)(xnp.ones(7))
    assert not _messages(caplog)


def test_recompile_warning_once_with_what_changes(monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "recompile_warning_threshold", 3)

    @xtrace.jit
    def grows(x):
        return x * 2

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for n in range(1, 8):
            grows(xnp.ones(n))
    rec = [x for x in w if "recompile_warning_threshold" in str(x.message)]
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert "'grows'" in msg and "compiled 4 times" in msg
    assert "argument 'x' 3 times (last: f32[3] -> f32[4])" in msg
    assert rec[0].filename == __file__  # points at the user's call


def test_recompile_warning_for_fresh_lambdas(monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "recompile_warning_threshold", 2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(4):
            xtrace.jit(lambda x: x - 1)(xnp.ones(2))
    rec = [x for x in w if "recompile_warning_threshold" in str(x.message)]
    assert len(rec) == 1 and "new function object 2 times" in str(rec[0].message)


def test_library_functions_do_not_warn(monkeypatch):
    monkeypatch.setitem(xtrace.config._values, "recompile_warning_threshold", 1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for n in range(2, 6):
            xnp.linspace(0.0, 1.0, n)  # xtrace.numpy runs it as a jit program per shape
    assert not [x for x in w if "recompile_warning_threshold" in str(x.message)]
