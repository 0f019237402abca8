"""The one module that talks to jaxlib: clients, devices, compilation, transfers, execution.

jaxlib's Python surface is an internal API of JAX that changes between releases; every call
into it lives here so the rest of xtrace never imports jaxlib.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import numpy as np  # noqa: E402
from jaxlib import xla_client as _xc  # noqa: E402

from xtrace._src import dtypes  # noqa: E402
from xtrace._src.config import config  # noqa: E402

try:  # jaxlib >= 0.5 names its extension module _jax; older ones xla_extension.
    from jaxlib import _jax as _ext  # type: ignore
except ImportError:  # pragma: no cover - depends on the installed jaxlib
    from jaxlib import xla_extension as _ext  # type: ignore

XlaRuntimeError = _xc.XlaRuntimeError
Device = Any
Buffer = Any  # a single-device jaxlib ArrayImpl

_lock = threading.RLock()
_client = None


def client_created() -> bool:
    return _client is not None


def _get_client():
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                n = config.read("num_cpu_devices")
                _client = _xc.make_cpu_client(asynchronous=True, num_devices=n)
    return _client


def devices(backend: str | None = None) -> list:
    """All devices of the client (every process's)."""
    _check_backend(backend)
    return list(_get_client().devices())


def local_devices(backend: str | None = None) -> list:
    _check_backend(backend)
    return list(_get_client().local_devices())


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def default_backend() -> str:
    return _get_client().platform


def _check_backend(backend: str | None) -> None:
    if backend is not None and backend != "cpu":
        raise RuntimeError(f"Unknown backend {backend!r}; this xtrace build has: 'cpu'")


def default_device():
    return local_devices()[0]


def live_buffer_count() -> int:
    """How many device buffers the client holds right now."""
    return len(_get_client().live_arrays())


# ---- Compilation ----
_exe_cache: dict[tuple, Any] = {}


class CompileError(RuntimeError):
    """XLA rejected a program that xtrace emitted (a bug in xtrace, not in user code)."""


def compile(text: str, devs: Sequence | None = None, num_replicas: int = 1) -> Any:
    """Compile StableHLO module text for ``devs`` (one per replica); cached on text and devices."""
    if devs is None:
        devs = (default_device(),)
    key = (text, tuple(d.id for d in devs))
    exe = _exe_cache.get(key)
    if exe is not None:
        return exe
    with _lock:
        exe = _exe_cache.get(key)
        if exe is not None:
            return exe
        client = _get_client()
        opts = _xc.CompileOptions()
        opts.num_replicas = num_replicas
        opts.num_partitions = 1
        opts.device_assignment = _xc.DeviceAssignment.create(
            np.array([d.id for d in devs]).reshape(num_replicas, 1))
        try:
            if hasattr(client, "compile_and_load"):
                exe = client.compile_and_load(text.encode(), _xc.DeviceList(tuple(devs)), opts)
            else:  # pragma: no cover - older jaxlib
                exe = client.compile(text.encode(), opts)
        except XlaRuntimeError as e:
            raise CompileError(
                "XLA could not compile the program xtrace generated; this is a bug in xtrace. "
                f"XLA said: {str(e).splitlines()[0][:500]}") from None
        _exe_cache[key] = exe
        return exe


def optimized_hlo(exe) -> str:
    return exe.get_hlo_text()


def cost_analysis(exe) -> dict:
    res = exe.cost_analysis()
    return res[0] if isinstance(res, list) else dict(res)


# ---- Transfers ----
def _dlpack_put(x: np.ndarray, device) -> Buffer:
    return _ext.dlpack_managed_tensor_to_buffer(x.__dlpack__(), device, None)


_BF16_FROM_U16 = """module @xtrace_bf16_put {
  func.func public @main(%a: tensor<SHAPEui16>) -> (tensor<SHAPEbf16>) {
    %0 = "stablehlo.bitcast_convert"(%a) : (tensor<SHAPEui16>) -> tensor<SHAPEbf16>
    return %0 : tensor<SHAPEbf16>
  }
}"""


def to_device(x: np.ndarray, device=None) -> Buffer:
    """Copy a NumPy array to ``device`` (default: the first local device)."""
    if device is None:
        device = default_device()
    if x.dtype == dtypes.bfloat16:
        # NumPy's DLPack refuses bfloat16: send the bits as uint16 and reinterpret on device.
        shape = "".join(f"{d}x" for d in x.shape)
        exe = compile(_BF16_FROM_U16.replace("SHAPE", shape), (device,))
        return execute(exe, [_dlpack_put(np.ascontiguousarray(x).view(np.uint16), device)])[0]
    # jaxlib takes the host memory without copying (DLPack) and may read it after we return
    # (the client is asynchronous): give it a private C-contiguous copy that nobody can
    # change. (NumPy also refuses to export read-only arrays through DLPack.)
    x = np.array(x, copy=True, order="C")
    return _dlpack_put(x, device)


def to_numpy(buf: Buffer) -> np.ndarray:
    """Read a single-device buffer back to a read-only NumPy array."""
    arr, _ = buf._single_device_array_to_np_array_did_copy()
    if arr.flags.writeable:
        arr.flags.writeable = False
    return arr


def block_until_ready(buf: Buffer) -> None:
    buf.block_until_ready()


def delete(buf: Buffer) -> None:
    buf.delete()


def is_deleted(buf: Buffer) -> bool:
    return buf.is_deleted()


def buffer_device(buf: Buffer):
    return buf._sharding._device if hasattr(buf._sharding, "_device") else default_device()


# ---- Execution ----
def execute(exe, bufs: Sequence[Buffer]) -> list:
    """Run a single-device executable; returns its output buffers (asynchronously)."""
    return exe.execute(bufs)
