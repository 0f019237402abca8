"""The one module that talks to jaxlib: clients, devices, compilation, transfers, execution.

jaxlib's Python surface is an internal API of JAX that changes between releases; every call
into it lives here so the rest of xtrace never imports jaxlib.
"""
from __future__ import annotations

import functools
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


# ---- Shardings and result handlers ----
# jaxlib's array constructors read JAX-style sharding objects by duck typing. Without them,
# its convenience paths (exe.execute, DLPack transfers) look JAX up with an import attempt on
# every call. We hand it a minimal single-device sharding of our own instead.
class _Sharding(_xc.SingleDeviceSharding):
    def __init__(self, device):
        super().__init__(device)
        self._devices = _xc.DeviceList((device,))

    @property
    def _internal_device_list(self):
        return self._devices

    @property
    def memory_kind(self):
        return None

    def _to_xla_hlo_sharding(self, ndim: int):
        return _xc.HloSharding.replicate()


_shardings: dict[int, _Sharding] = {}


def _sharding(device) -> _Sharding:
    sh = _shardings.get(device.id)
    if sh is None:
        sh = _shardings[device.id] = _Sharding(device)
    return sh


def result_handlers(avals: Sequence[Any], device=None) -> list:
    """Per-output handlers that wrap an executable's results as single-device buffers.

    ``avals`` need ``shape``, ``dtype`` and ``weak_type`` (xtrace's ShapedArray has them)."""
    sh = _sharding(device if device is not None else default_device())
    return [_ext.array_result_handler(a, sh, True, True) for a in avals]


# ---- Transfers ----
_COPY = _xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL


class _HostAval:
    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.weak_type = shape, dtype, False


def to_device(x: np.ndarray, device=None) -> Buffer:
    """Copy a NumPy array to ``device`` (default: the first local device).

    The copy happens during the call, so later changes to ``x`` never reach the device."""
    if device is None:
        device = default_device()
    x = np.ascontiguousarray(x)
    return _xc.batched_device_put(_HostAval(x.shape, x.dtype), _sharding(device), [x], [device],
                                  committed=True, force_copy=True, host_buffer_semantics=_COPY,
                                  enable_x64=True)


class _DLPackExport:
    """Presents a device buffer to ``np.from_dlpack`` (CPU memory: read without a copy)."""

    __slots__ = ("buf",)

    def __init__(self, buf: Buffer):
        self.buf = buf

    def __dlpack__(self, stream=None, **kwargs):
        return _ext.buffer_to_dlpack_managed_tensor(self.buf)

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU


def to_numpy(buf: Buffer, dtype: np.dtype | None = None) -> np.ndarray:
    """Read a single-device buffer back to a read-only NumPy array."""
    if dtype is not None and dtype != dtypes.bfloat16 and buf.platform() == "cpu":
        arr = np.from_dlpack(_DLPackExport(buf))  # no JAX lookups on this path
    else:  # NumPy's DLPack refuses bfloat16
        arr, _ = buf._single_device_array_to_np_array_did_copy()
    if arr.flags.writeable:
        arr.flags.writeable = False
    return arr


def block_until_ready(buf: Buffer) -> None:
    buf.block_until_ready()


def delete(buf: Buffer) -> None:
    buf.delete()


# ---- Execution ----
def execute(exe, bufs: Sequence[Buffer], handlers: Sequence[Any]) -> list:
    """Run a single-device executable; returns its output buffers (asynchronously)."""
    return exe.execute_sharded(bufs).consume_with_handlers(handlers)


def execute_replicated(exe, per_arg: Sequence[Sequence[Buffer]], avals: Sequence[Any],
                       devs: Sequence) -> list[list[Buffer]]:
    """Run a replicated executable: ``per_arg[k][i]`` is argument k's buffer on ``devs[i]``;
    ``avals`` are the per-device avals. Returns, per output, one buffer per device."""
    sharding = _replicated_sharding(tuple(devs))
    args = [_xc.ArrayImpl(_HostAval(a.shape, a.dtype), sharding, list(bufs), True, True)
            for bufs, a in zip(per_arg, avals)]
    return exe.execute_sharded(args).disassemble_into_single_device_arrays()


@functools.lru_cache(maxsize=64)
def _replicated_sharding(devs: tuple):
    return _xc.GSPMDSharding(_xc.DeviceList(devs), _xc.HloSharding.replicate())
