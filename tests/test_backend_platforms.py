"""Backends by platform, platform selection, plugin discovery, environment report.

No accelerator is needed: the CPU client is real, and so are the missing-plugin paths (no
CUDA or TPU plugin package in the test environment). On a machine that has a plugin, the
tests check the other branch (it started, or the reason it did not) instead.
"""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import backend, plugins

_NO_CUDA_PLUGIN = not plugins._cuda_candidates()
_NO_TPU_PLUGIN = plugins.installed_version("libtpu") is None and not os.environ.get(
    "TPU_LIBRARY_PATH")


def _run(code: str, **env_extra) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (the platform choice is fixed once per process)."""
    env = {k: v for k, v in os.environ.items() if k != "XTRACE_PLATFORMS"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_parse_platforms():
    assert plugins.parse_platforms(None) is None
    assert plugins.parse_platforms("") is None
    assert plugins.parse_platforms(" auto ") is None
    assert plugins.parse_platforms("cpu") == ("cpu",)
    assert plugins.parse_platforms("CUDA, cpu") == ("cuda", "cpu")
    assert plugins.parse_platforms("gpu,cuda,tpu") == ("cuda", "tpu")  # alias, deduplicated
    assert plugins.parse_platforms(["tpu", "cpu"]) == ("tpu", "cpu")
    with pytest.raises(ValueError, match="Unknown backend 'cdua'.*cpu"):
        plugins.parse_platforms("cdua")


def test_default_backend_is_cpu_without_accelerator_plugins():
    if _NO_CUDA_PLUGIN and _NO_TPU_PLUGIN:
        assert xtrace.default_backend() == "cpu"
    assert xtrace.devices() == xtrace.devices(xtrace.default_backend())
    cpu = xtrace.devices("cpu")
    assert [d.platform for d in cpu] == ["cpu"] * 4  # XTRACE_NUM_CPU_DEVICES=4 (conftest)
    assert xtrace.device_count("cpu") == 4 and xtrace.local_devices("cpu") == cpu


def test_first_call_leaves_nothing_alive():
    # Starting the backend on the first call records why the accelerator plugins were skipped;
    # that record must not keep the first call's frames (and the user's jit function) alive.
    r = _run("import gc, weakref, numpy as np, xtrace\n"
             "class Big: pass\n"
             "def make():\n"
             "    b = Big()\n"
             "    f = xtrace.jit(lambda x: x * 2 + (b is not None))\n"
             "    f(np.ones(3, np.float32))\n"
             "    return weakref.ref(b), weakref.ref(f)\n"
             "rb, rf = make(); gc.collect(); print(rb() is None, rf() is None)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]


def test_cpu_devices_run_programs():
    d = xtrace.devices("cpu")[2]
    x = xtrace.device_put(np.arange(3.0, dtype=np.float32), d)
    y = xtrace.jit(lambda v: v * 2 + 1)(x)
    assert y.device == d
    np.testing.assert_allclose(y, [1, 3, 5])


def test_unknown_backend_name():
    with pytest.raises(RuntimeError, match="Unknown backend 'metal'"):
        xtrace.devices("metal")


def test_missing_cuda_plugin_is_explained():
    if _NO_CUDA_PLUGIN:
        for name in ("gpu", "cuda"):
            with pytest.raises(RuntimeError) as e:
                xtrace.devices(name)
            msg = str(e.value)
            assert "plugin missing" in msg and "jax-cuda12-pjrt" in msg
            assert "pip install 'xtrace[cuda12]'" in msg
    else:  # a plugin is installed: it either started or says why not
        try:
            assert all(d.platform in ("gpu", "cuda") for d in xtrace.devices("cuda"))
        except RuntimeError as e:
            assert "cuda" in str(e)


def test_missing_tpu_plugin_is_explained():
    if _NO_TPU_PLUGIN:
        with pytest.raises(RuntimeError, match=r"libtpu.*pip install 'xtrace\[tpu\]'"):
            xtrace.devices("tpu")


def test_requested_cuda_without_plugin_fails_clearly():
    """XTRACE_PLATFORMS=cuda must not fall back to the CPU silently."""
    code = """
import xtrace
try:
    xtrace.devices()
except RuntimeError as e:
    print("ERROR:", e)
else:
    print("DEFAULT:", xtrace.default_backend())
print("CPU:", len(xtrace.devices("cpu")))
xtrace.print_environment_info()
"""
    for value in ("gpu", "cuda,cpu"):
        out = _run(code, XTRACE_PLATFORMS=value)
        assert out.returncode == 0, out.stderr
        if _NO_CUDA_PLUGIN:
            assert "ERROR: xtrace backend 'cuda' is unavailable: plugin missing" in out.stdout
            assert "jax-cuda12-pjrt" in out.stdout
            assert "pip install 'xtrace[cuda12]'" in out.stdout
            assert "XTRACE_PLATFORMS=cpu" in out.stdout
            assert "no default backend: xtrace backend 'cuda' is unavailable" in out.stdout
        else:
            assert "DEFAULT: cuda" in out.stdout or "ERROR: xtrace backend 'cuda'" in out.stdout
        assert "CPU: 4" in out.stdout  # the CPU is always reachable by name


def test_platforms_from_config_before_first_use():
    code = """
import xtrace
xtrace.config.update("platforms", "tpu")
try:
    xtrace.numpy.ones(3)
except RuntimeError as e:
    print("ERROR:", e)
print(xtrace.config.platforms)
"""
    out = _run(code)
    assert out.returncode == 0, out.stderr
    if _NO_TPU_PLUGIN:
        assert "ERROR: xtrace backend 'tpu' is unavailable: plugin missing" in out.stdout
        assert "pip install 'xtrace[tpu]'" in out.stdout
    assert out.stdout.strip().endswith("tpu")


def test_explicit_cpu_disables_accelerators():
    code = """
import xtrace, xtrace.numpy as xnp
print("DEFAULT:", xtrace.default_backend(), float(xnp.arange(4.0).sum()))
try:
    xtrace.devices("cuda")
except RuntimeError as e:
    print("ERROR:", e)
xtrace.print_environment_info()
"""
    out = _run(code, XTRACE_PLATFORMS="cpu")
    assert out.returncode == 0, out.stderr
    assert "DEFAULT: cpu 6.0" in out.stdout
    assert "ERROR: xtrace backend 'cuda' is not enabled" in out.stdout
    assert "platforms option: cpu" in out.stdout
    assert "not in the platforms option" in out.stdout


def test_invalid_platforms_env():
    out = _run("import xtrace; xtrace.devices()", XTRACE_PLATFORMS="cpu,quantum")
    assert out.returncode != 0
    assert "Unknown backend 'quantum'" in out.stderr


def test_platforms_fixed_after_first_use():
    xtrace.devices()
    current = xtrace.config.platforms
    with pytest.raises(RuntimeError, match="before xtrace first uses a device"):
        xtrace.config.update("platforms", "tpu" if current != "tpu" else "cpu")
    with pytest.raises(ValueError, match="Unknown backend"):
        xtrace.config.update("platforms", "nope")
    xtrace.config.update("platforms", current)  # the same choice again is fine
    assert xtrace.config.platforms == current


def test_backend_choice_is_logged():
    code = """
import logging, xtrace
logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
xtrace.devices()
"""
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert "xtrace INFO xtrace: default backend" in out.stderr
    if _NO_CUDA_PLUGIN:
        assert "xtrace: backend cuda skipped: plugin missing" in out.stderr


def test_print_environment_info():
    from importlib.metadata import version
    buf = io.StringIO()
    xtrace.print_environment_info(file=buf)
    text = buf.getvalue()
    assert f"xtrace:     {xtrace.__version__}" in text
    assert f"jaxlib:     {version('jaxlib')}" in text
    assert f"numpy:      {np.__version__}" in text
    assert f"python:     {sys.version.split()[0]}" in text
    assert "platform:" in text and "backends:" in text
    rows = {line.split()[0]: line for line in text.splitlines()[text.splitlines().index(
        "backends:") + 1:][:3]}
    assert set(rows) == {"cuda", "tpu", "cpu"}
    assert "default" in rows[xtrace.default_backend()]
    if _NO_CUDA_PLUGIN:
        assert "skipped" in rows["cuda"] and "plugin missing" in rows["cuda"]
    for d in xtrace.devices():
        assert str(d) in text


def test_cuda_driver_probe_does_not_fail():
    v = plugins.cuda_driver_version()
    assert v is None or v >= 1000


# ---- jaxlib adapters: the paths whose jaxlib calls differ between releases ----
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool", "bfloat16",
                                   "complex128", "uint8"])
def test_transfer_round_trip(x64, dtype):
    from xtrace._src import dtypes
    dt = dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    a = (np.arange(6) % 3).astype(dt).reshape(2, 3)
    for device in (None, xtrace.devices("cpu")[1]):
        buf = backend.to_device(a, device)
        back = backend.to_numpy(buf, dt)
        assert back.dtype == dt and back.shape == (2, 3)  # never narrowed to 32 bits
        cmp = np.float32 if dtype == "bfloat16" else dt  # NumPy compares bfloat16 as float
        np.testing.assert_array_equal(back.astype(cmp), a.astype(cmp))
        assert not back.flags.writeable


def test_transfer_scalar_and_non_contiguous():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(backend.to_numpy(backend.to_device(a), a.dtype), a)
    s = backend.to_numpy(backend.to_device(np.float32(2.5)), np.dtype(np.float32))
    assert float(s.reshape(())) == 2.5


def test_optimized_hlo_and_cost_analysis():
    f = xtrace.jit(lambda v: xnp.sin(v) * 2)
    compiled = f.lower(xnp.ones(8)).compile()
    assert "HloModule" in compiled.as_text()
    assert isinstance(compiled.cost_analysis(), dict)


def test_replicated_execution_on_cpu_devices():
    out = xtrace.pmap(lambda v: v * 2 + xtrace.lax.psum(v, "i"), axis_name="i")(
        xnp.arange(4.0))
    np.testing.assert_allclose(out, np.arange(4.0) * 2 + 6)


def test_adapter_feature_detection_reads_jaxlib_signatures():
    xc = backend._xc
    assert "aval" in backend._signature_text(xc.batched_device_put)
    assert backend._accepts(xc.make_cpu_client, "asynchronous")
    assert not backend._accepts(xc.make_cpu_client, "no_such_parameter")
