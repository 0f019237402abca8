"""The one module that talks to jaxlib: clients, devices, compilation, transfers, execution.

jaxlib's Python surface is an internal API of JAX that changes between releases; every call
into it lives here so the rest of xtrace never imports jaxlib. What differs between the
supported releases (docs/install.md) is detected once at import, by what jaxlib has, in
"jaxlib adapters" below, never by comparing version strings.

Backends: one client per platform ("cpu", "cuda", "tpu"), created when first needed. The
default one (what ``devices()`` and arrays without an explicit device use) is picked by the
``platforms`` option (``XTRACE_PLATFORMS``) or, when unset, is the first accelerator whose
PJRT plugin starts, else the CPU. plugins.py finds the plugin libraries.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import re
import sys
import threading
import warnings
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import numpy as np  # noqa: E402
from jaxlib import xla_client as _xc  # noqa: E402

from xtrace._src import dtypes, plugins  # noqa: E402
from xtrace._src.config import config  # noqa: E402

try:  # jaxlib >= 0.5 names its extension module _jax; older ones xla_extension.
    from jaxlib import _jax as _ext  # type: ignore
except ImportError:  # pragma: no cover - depends on the installed jaxlib
    from jaxlib import xla_extension as _ext  # type: ignore

XlaRuntimeError = _xc.XlaRuntimeError
Device = _xc.Device  # the class of every device xtrace.devices() returns
Buffer = Any  # a single-device jaxlib ArrayImpl

logger = logging.getLogger("xtrace")


# ---- jaxlib adapters: the differences between releases, detected once ----
def jaxlib_version() -> str:
    from jaxlib import version
    return version.__version__


def _signature_text(fn) -> str:
    """A jaxlib function's parameter list as text (nanobind functions hide it from inspect)."""
    nb = getattr(fn, "__nb_signature__", None)
    if nb:
        return " ".join(str(s[0]) for s in nb)
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return fn.__doc__ or ""


def _accepts(fn, param: str) -> bool:
    return re.search(rf"\b{param}\b", _signature_text(fn)) is not None


# make_cpu_client(num_devices=) (newer) or the XLA flag (older) for several CPU devices.
_CPU_CLIENT_NUM_DEVICES = _accepts(_xc.make_cpu_client, "num_devices")
# batched_device_put(enable_x64=): older releases read the flag from JAX's jit state instead.
_PUT_KWARGS = dict(committed=True, force_copy=True,
                   host_buffer_semantics=_xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL)
if _accepts(_xc.batched_device_put, "enable_x64"):
    _PUT_KWARGS["enable_x64"] = True
# array_result_handler(aval, sharding, committed[, _skip_checks]): the last went away.
_HANDLER_EXTRA = (True,) if _accepts(_ext.array_result_handler, "_skip_checks") else ()
if hasattr(_xc.ArrayImpl, "_single_device_array_to_np_array_did_copy"):
    def _copy_to_numpy(buf: Buffer) -> np.ndarray:
        return buf._single_device_array_to_np_array_did_copy()[0]
else:  # older jaxlib
    def _copy_to_numpy(buf: Buffer) -> np.ndarray:
        return buf._single_device_array_to_np_array()
if hasattr(_xc.LoadedExecutable, "get_hlo_text"):
    def optimized_hlo(exe) -> str:
        return exe.get_hlo_text()
else:  # older jaxlib
    def optimized_hlo(exe) -> str:
        return "\n\n".join(m.to_string() for m in exe.hlo_modules())


def _init_jit_state() -> None:
    """Older jaxlib aborts the process (a C++ check, not an exception) on the first transfer
    unless JAX's jit state was set up: give it an empty per-thread initializer and plain
    global flags. x64 on: xtrace picks dtypes itself, jaxlib must not narrow them. When JAX
    is already imported it has done this, with its own flags, and is left alone."""
    jax_jit = getattr(_ext, "jax_jit", None)
    set_init = getattr(jax_jit, "set_thread_local_state_initialization_callback", None)
    if set_init is None or "jax" in sys.modules:
        return
    set_init(lambda: None)
    if not hasattr(jax_jit, "global_state"):  # later releases keep no such flags in jaxlib
        return
    state = jax_jit.global_state()
    for flag, value in (("enable_x64", True), ("enable_memories", False), ("disable_jit", False)):
        if hasattr(state, flag):  # which flags there are differs between releases
            setattr(state, flag, value)


_init_jit_state()


def _make_cpu_client():
    n = config.read("num_cpu_devices")
    kwargs: dict = {}
    if _distributed is not None:  # the CPU devices of every process, joined by gloo over TCP
        d = _distributed
        host = d.address.rsplit(":", 1)[0]
        loopback = host in ("localhost", "::1", "[::1]") or host.startswith("127.")
        kwargs = dict(distributed_client=d.client, node_id=d.process_id,
                      num_nodes=d.num_processes,
                      collectives=_ext.make_gloo_tcp_collectives(
                          distributed_client=d.client,
                          hostname="127.0.0.1" if loopback else None))
    if _CPU_CLIENT_NUM_DEVICES:
        return _xc.make_cpu_client(asynchronous=True, num_devices=n, **kwargs)
    # Older jaxlib reads the CPU device count from XLA_FLAGS when the first client is made:
    # set the flag for that moment only (child processes keep the user's XLA_FLAGS).
    flag = "--xla_force_host_platform_device_count"
    old = os.environ.get("XLA_FLAGS")
    kept = [f for f in (old or "").split() if not f.startswith(flag + "=")]
    os.environ["XLA_FLAGS"] = " ".join(kept + [f"{flag}={n}"])
    try:
        client = _xc.make_cpu_client(asynchronous=True, **kwargs)
    finally:
        if old is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = old
    if len(client.local_devices()) != n:  # XLA read its flags earlier (another jaxlib user did)
        warnings.warn(f"xtrace asked this jaxlib for {n} CPU devices but got "
                      f"{len(client.local_devices())}: with jaxlib < 0.5, set XTRACE_NUM_CPU_DEVICES "
                      "before anything else in the process uses jaxlib.", RuntimeWarning)
    return client


def _make_plugin_client(plugin: plugins.Plugin):
    """Load a PJRT plugin library and make a client of it (jaxlib's plugin API)."""
    name = plugin.platform
    if not _xc.pjrt_plugin_loaded(name):
        _xc.load_pjrt_plugin_dynamically(name, plugin.library_path)
    if not _xc.pjrt_plugin_initialized(name):
        _xc.initialize_pjrt_plugin(name)
    options: dict = {}
    if name == "cuda":
        gen = getattr(_xc, "generate_pjrt_gpu_plugin_options", None)
        options = dict(gen()) if gen is not None else {"platform_name": "cuda"}
    d = _distributed
    if d is not None and name == "cuda":  # NCCL finds its peers through the distributed client
        options.update(node_id=d.process_id, num_nodes=d.num_processes)
        if d.local_device_ids is not None:
            options["visible_devices"] = list(d.local_device_ids)
    return _xc.make_c_api_client(name, options, d.client if d is not None else None)


# ---- Several processes: XLA's distributed runtime (a coordination service over gRPC) ----
class Distributed:
    """What ``xtrace.distributed.initialize`` set up in this process."""

    __slots__ = ("service", "client", "process_id", "num_processes", "address",
                 "local_device_ids")

    def __init__(self, service, client, process_id: int, num_processes: int, address: str,
                 local_device_ids: Sequence[int] | None):
        self.service, self.client = service, client
        self.process_id, self.num_processes, self.address = process_id, num_processes, address
        self.local_device_ids = local_device_ids


_distributed: Distributed | None = None


def _heartbeat_kwargs(fn, timeout_s: int) -> dict:
    """A heartbeat timeout as this jaxlib takes it: one timeout, or (0.4.3x) an interval and a
    number of missed beats."""
    if _accepts(fn, "heartbeat_timeout"):
        return {"heartbeat_timeout": timeout_s}
    interval = max(1, timeout_s // 5)
    return {"heartbeat_interval": interval, "max_missing_heartbeats": max(2, timeout_s // interval)}


def start_coordinator(address: str, num_processes: int, *, register_timeout: int,
                      heartbeat_timeout: int, shutdown_timeout: int):
    """Start the coordination service (process 0 only). The port must be free: jaxlib
    crashes the process when it cannot bind it, so the caller checks first."""
    fn = _ext.get_distributed_runtime_service
    return fn(address, num_processes, cluster_register_timeout=register_timeout,
              shutdown_timeout=shutdown_timeout, **_heartbeat_kwargs(fn, heartbeat_timeout))


def connect_to_coordinator(address: str, process_id: int, *, init_timeout: int,
                           heartbeat_timeout: int, shutdown_timeout: int, on_error):
    """A client of the coordination service, connected (every process waits here until all
    have arrived). ``on_error`` is jaxlib's missed-heartbeat callback: with one, a failed
    connect raises instead of aborting; jaxlib cannot actually call it (it passes a type
    Python cannot receive), so later service errors still end the process, and
    distributed.py keeps them from happening."""
    fn = _ext.get_distributed_runtime_client
    client = fn(address, process_id, init_timeout=init_timeout,
                shutdown_timeout=shutdown_timeout, missed_heartbeat_callback=on_error,
                shutdown_on_destruction=False, **_heartbeat_kwargs(fn, heartbeat_timeout))
    try:
        client.connect()
    except Exception:
        # Destroying a client whose connect failed hangs some releases (0.4.36), even at
        # interpreter exit: leak it on purpose, with a reference nobody will ever drop.
        import ctypes
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(client))
        raise
    return client


def use_distributed(d: Distributed | None) -> None:
    """Make the backends created from now on span every process (None: back to one)."""
    global _distributed
    if d is not None and _backends:
        raise RuntimeError("the distributed runtime must be set up before any backend starts")
    _distributed = d


def any_backend_started() -> bool:
    return bool(_backends)


# ---- Backends: one client per platform, a default one ----
class Backend:
    """One platform that started: its client and devices."""

    __slots__ = ("platform", "client", "devices", "local_devices", "plugin", "process_index",
                 "process_count")

    def __init__(self, platform: str, client, plugin: plugins.Plugin | None = None):
        self.platform, self.client, self.plugin = platform, client, plugin
        self.devices = tuple(client.devices())
        self.local_devices = tuple(client.local_devices())
        self.process_index = client.process_index()
        self.process_count = 1 + max(d.process_index for d in self.devices)

    def describe(self) -> str:
        kinds = sorted({d.device_kind for d in self.devices})
        src = f", from {self.plugin.package} {self.plugin.version}" if self.plugin else ""
        return f"{len(self.devices)} device(s) ({', '.join(kinds)}{src})"


_lock = threading.RLock()
_backends: dict[str, Backend] = {}                  # platforms that started
_unavailable: dict[str, plugins.Unavailable] = {}   # platforms that were tried and failed
_default: Backend | None = None
_client = None           # the default backend's client and first device: read on fast paths
_default_device = None


def client_created() -> bool:
    """Whether the CPU client exists (its device count is fixed from then on)."""
    return "cpu" in _backends


def default_chosen() -> bool:
    """Whether the default backend is chosen (the platforms option is fixed from then on)."""
    return _default is not None


def _requested() -> tuple[str, ...] | None:
    return plugins.parse_platforms(config.read("platforms"))


def _start(platform: str) -> Backend:
    """The backend of ``platform``, started if needed; RuntimeError saying why it cannot be."""
    b = _backends.get(platform)
    if b is not None:
        return b
    with _lock:
        b = _backends.get(platform)
        if b is not None:
            return b
        err = _unavailable.get(platform)
        if err is None:
            requested = _requested()
            if platform != "cpu" and requested is not None and platform not in requested:
                raise RuntimeError(
                    f"xtrace backend {platform!r} is not enabled: the platforms option "
                    f"(XTRACE_PLATFORMS) is {','.join(requested)!r}; add {platform} to it.")
            try:
                b = _backends[platform] = _create(platform)
                logger.info("xtrace: backend %s started: %s", platform, b.describe())
                return b
            except plugins.Unavailable as e:
                # kept for later messages, without the traceback: its frames (the caller's
                # first jit call, say) would otherwise live as long as the process
                err = _unavailable[platform] = e.with_traceback(None)
                e.__context__ = e.__cause__ = None
                logger.info("xtrace: backend %s skipped: %s", platform, e.reason)
        msg = err.message()
        requested = _requested()
        if requested is not None and platform in requested and "XTRACE_PLATFORMS" not in msg:
            msg = (msg[:-1] + f"; or leave {platform} out of the platforms option "
                   f"(XTRACE_PLATFORMS={','.join(requested)}), e.g. XTRACE_PLATFORMS=cpu.")
        raise RuntimeError(msg)


def _create(platform: str) -> Backend:
    if platform == "cpu":
        return Backend("cpu", _make_cpu_client())
    plugin = plugins.find(platform)  # raises Unavailable: plugin missing, driver too old
    try:
        client = _make_plugin_client(plugin)
        backend = Backend(platform, client, plugin)
    except Exception as e:  # XlaRuntimeError and friends: no device, version mismatch, ...
        raise plugins.init_failure(plugin, e, jaxlib_version()) from None
    if not backend.local_devices:
        raise plugins.Unavailable(platform, f"{plugin.package} started but found no devices")
    return backend


def _pick_default() -> Backend:
    """Start the default backend: the first of the requested platforms (each of which must
    start), or else the first accelerator that starts, or else the CPU."""
    global _default, _client, _default_device
    with _lock:
        if _default is not None:
            return _default
        requested = _requested()
        if requested is not None:
            chosen = [_start(p) for p in requested][0]
        else:
            chosen = None
            for p in plugins.ACCELERATORS:
                try:
                    chosen = _start(p)
                    break
                except RuntimeError:  # recorded in _unavailable and logged
                    pass
            if chosen is None:
                chosen = _start("cpu")
        _client, _default_device = chosen.client, chosen.local_devices[0]
        _default = chosen
        skipped = "; ".join(f"{p}: {e.reason}" for p, e in _unavailable.items())
        logger.info("xtrace: default backend %s%s", chosen.platform,
                    f" (skipped {skipped})" if skipped else "")
        return chosen


def get_backend(platform: str | None = None) -> Backend:
    """The backend of ``platform`` ("cpu", "cuda" or "gpu", "tpu"); None: the default one."""
    if platform is None:
        return _default if _default is not None else _pick_default()
    if _default is None and platform != "cpu":
        _pick_default()  # explicit platforms must all start, and start first
    return _start(plugins.canonical(platform))


def _get_client():
    return _client if _client is not None else _pick_default().client


def devices(backend: str | None = None) -> list:
    """All devices of a backend (every process's); the default backend when None."""
    return list(get_backend(backend).devices)


def local_devices(backend: str | None = None) -> list:
    return list(get_backend(backend).local_devices)


def device_count(backend: str | None = None) -> int:
    return len(get_backend(backend).devices)


def local_device_count(backend: str | None = None) -> int:
    return len(get_backend(backend).local_devices)


def process_index(backend: str | None = None) -> int:
    """This process's index among the job's processes (0 with one process)."""
    return get_backend(backend).process_index


def process_count(backend: str | None = None) -> int:
    return get_backend(backend).process_count


def default_backend() -> str:
    return get_backend().platform


def default_device():
    return _default_device if _default_device is not None else _pick_default().local_devices[0]


def validate_default_device(value: Any):
    """The ``default_device`` option's value: a Device, a platform name (its first device) or
    None."""
    if isinstance(value, str):
        return devices(value)[0]
    if value is not None and not isinstance(value, Device):
        raise TypeError(f"default_device expects a Device, a platform name or None, got "
                        f"{type(value).__name__} {value!r:.60}")
    return value


def chosen_device():
    """The device ``xtrace.default_device`` chose for uncommitted work, or None when none was
    chosen (or it is the backend's default device)."""
    d = config.read("default_device")
    if d is None or d == default_device():
        return None
    return d


def live_buffer_count() -> int:
    """How many device buffers the started clients hold right now."""
    return sum(len(b.client.live_arrays()) for b in list(_backends.values()))


def backend_report() -> list[tuple[str, str, str]]:
    """(platform, status, detail) for every platform xtrace knows, for print_environment_info:
    status is "default", "started", "skipped" (detail: why) or "not started"."""
    default = _default.platform if _default is not None else None
    requested = _requested()
    rows = []
    for p in plugins.PLATFORMS:
        b, err = _backends.get(p), _unavailable.get(p)
        if b is not None:
            rows.append((p, "default" if p == default else "started", b.describe()))
        elif err is not None:
            rows.append((p, "skipped", err.reason + (f"; {err.hint}" if err.hint else "")))
        elif p != "cpu" and requested is not None and p not in requested:
            rows.append((p, "not started", "not in the platforms option"))
        else:
            try:
                found = f"{plugins.find(p).package} found" if p != "cpu" else "built into jaxlib"
            except plugins.Unavailable as e:
                found = e.reason
            rows.append((p, "not started", f"{found}; xtrace.devices({p!r}) starts it"))
    return rows


def validate_platforms(value: Any, current: Any) -> str | None:
    """The ``platforms`` option normalized ("cuda,cpu"; None: automatic). It can change only
    before xtrace first uses a device."""
    parsed = plugins.parse_platforms(value)
    new = None if parsed is None else ",".join(parsed)
    old = plugins.parse_platforms(current)
    if default_chosen() and parsed != old:
        raise RuntimeError(
            "platforms must be set before xtrace first uses a device (the default backend is "
            f"already {default_backend()!r}); set XTRACE_PLATFORMS in the environment or call "
            "xtrace.config.update('platforms', ...) first.")
    return new


# ---- Compilation ----
_exe_cache: dict[tuple, Any] = {}  # by (module text, devices); oldest dropped past the size
EXE_CACHE_SIZE = 4096


class CompileError(RuntimeError):
    """XLA rejected a program that xtrace emitted (a bug in xtrace, not in user code)."""


def compile(text: str, devs: Sequence | None = None, num_replicas: int = 1) -> Any:
    """Compile StableHLO module text for ``devs`` (one per replica); cached on text and devices."""
    if devs is None:
        devs = (default_device(),)
    callbacks = getattr(text, "host_callbacks", ())
    if callbacks:  # the executable owns these callables: no cache may share it
        return _compile_uncached(text, devs, num_replicas, callbacks)
    key = (text, tuple(devs))  # devices, not ids: ids repeat across platforms
    exe = _exe_cache.get(key)
    if exe is not None:
        return exe
    with _lock:
        exe = _exe_cache.get(key)
        if exe is not None:
            return exe
        client = devs[0].client  # the devices' own backend (CPU, GPU, TPU)
        opts = _compile_options(devs, num_replicas)

        def build():
            with _compile_errors():
                if hasattr(client, "compile_and_load"):
                    return client.compile_and_load(text.encode(), _xc.DeviceList(tuple(devs)),
                                                   opts)
                return client.compile(text.encode(), opts)  # pragma: no cover - older jaxlib

        from xtrace._src import compile_cache  # the on-disk cache across processes
        exe = compile_cache.compile_or_load(
            text, cache_fingerprint(devs, num_replicas), build, serialize,
            lambda data: deserialize(data, devs, opts))
        _exe_cache[key] = exe
        while len(_exe_cache) > EXE_CACHE_SIZE:  # callers (jit, dispatch) keep what they use
            del _exe_cache[next(iter(_exe_cache))]
        return exe


def _compile_options(devs: Sequence, num_replicas: int):
    opts = _xc.CompileOptions()
    opts.num_replicas = num_replicas
    opts.num_partitions = 1
    opts.device_assignment = _xc.DeviceAssignment.create(
        np.array([d.id for d in devs]).reshape(num_replicas, 1))
    return opts


@contextlib.contextmanager
def _compile_errors():
    try:
        yield
    except XlaRuntimeError as e:
        raise CompileError(
            "XLA could not compile the program xtrace generated; this is a bug in "
            f"xtrace. XLA said: {str(e).splitlines()[0][:500]}") from None


def _compile_uncached(text: str, devs: Sequence, num_replicas: int, callbacks: Sequence):
    platform = devs[0].client.platform
    if platform != "cpu":
        raise NotImplementedError(
            "xtrace's host callbacks (pure_callback, io_callback, debug.print, debug.callback) "
            f"run in compiled programs only on the CPU backend, not on {platform!r} (eagerly "
            "they run anywhere). Run the program on the CPU: XTRACE_PLATFORMS=cpu, or "
            "xtrace.default_device(xtrace.devices('cpu')[0]).")
    with _compile_errors():
        return _compile_with_callbacks(devs[0].client, str(text), devs,
                                       _compile_options(devs, num_replicas), callbacks)


def clear_exe_cache() -> None:
    """Forget the compiled executables kept in memory (the on-disk cache stays)."""
    with _lock:
        _exe_cache.clear()


def serialize(exe) -> bytes:
    """The bytes of a compiled executable, for the persistent compilation cache."""
    client = exe.client
    if hasattr(client, "serialize_executable"):
        return bytes(client.serialize_executable(exe))
    return bytes(exe.serialize())  # pragma: no cover - older jaxlib


def deserialize(data: bytes, devs: Sequence, opts) -> Any:
    """Load an executable that ``serialize`` wrote, for ``devs`` with compile options ``opts``."""
    client = devs[0].client
    try:
        return client.deserialize_executable(data, _xc.DeviceList(tuple(devs)), opts)
    except TypeError:  # pragma: no cover - older jaxlib: (bytes, options)
        return client.deserialize_executable(data, opts)


def cache_fingerprint(devs: Sequence, num_replicas: int) -> tuple[str, ...]:
    """What, besides the program text, an executable depends on: the jaxlib release, the
    platform and its version, the device kinds and the device assignment."""
    from jaxlib import version as _jaxlib_version
    client = devs[0].client
    return (f"jaxlib={_jaxlib_version.__version__}", f"platform={client.platform}",
            f"platform_version={client.platform_version}",
            "kinds=" + ",".join(sorted({d.device_kind for d in devs})),
            f"replicas={num_replicas}", "devices=" + ",".join(str(d.id) for d in devs))


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


_shardings: dict[Any, _Sharding] = {}  # by device (ids repeat across platforms)


def _sharding(device) -> _Sharding:
    sh = _shardings.get(device)
    if sh is None:
        sh = _shardings[device] = _Sharding(device)
    return sh


def result_handlers(avals: Sequence[Any], device=None) -> list:
    """Per-output handlers that wrap an executable's results as single-device buffers.

    ``avals`` need ``shape``, ``dtype`` and ``weak_type`` (xtrace's ShapedArray has them)."""
    sh = _sharding(device if device is not None else default_device())
    return [_ext.array_result_handler(a, sh, True, *_HANDLER_EXTRA) for a in avals]


# ---- Transfers ----
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
                                  **_PUT_KWARGS)


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
        arr = _copy_to_numpy(buf)
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


# ---- Host callbacks: a compiled program calling back into Python (CPU) ----
# Newer jaxlib (0.5+) runs the FFI custom call "xla_ffi_python_cpu_callback"; its
# backend_config {index = k} picks the k-th Python callable handed to compile_and_load, which
# then wants an MLIR module object rather than text. Older jaxlib (0.4.3x) runs
# "xla_python_cpu_callback" (custom-call API version 2), whose first operand is a descriptor
# (a uint64 constant naming the callable) that the client makes; the "keepalive" it returns
# goes to compile and keeps the callable alive as long as the executable. In both cases the
# callables belong to the executable: programs with callbacks are never shared through the
# compile caches (different callbacks can give the same text).
_LEGACY_CALLBACKS = hasattr(_ext.Client, "get_emit_python_callback_descriptor")


class CallbackCall:
    """How the lowering writes one host callback: the custom call's target, API version and
    backend_config, the descriptor operand (legacy: an int, else None), whether the results
    come as one tuple (legacy), and the object compile must receive (``host_callback``)."""

    __slots__ = ("target", "api_version", "backend_config", "descriptor", "tuple_results",
                 "host_callback")

    def __init__(self, target, api_version, backend_config, descriptor, tuple_results,
                 host_callback):
        self.target, self.api_version, self.backend_config = target, api_version, backend_config
        self.descriptor, self.tuple_results = descriptor, tuple_results
        self.host_callback = host_callback


def _xla_shape(shape, dtype):
    if dtype is None:
        return _xc.Shape.token_shape()
    return _xc.Shape.array_shape(np.dtype(dtype), tuple(shape))


def host_callback_call(fn, index: int, operands: Sequence[tuple], results: Sequence[tuple]
                       ) -> CallbackCall:
    """Describe a custom call that runs ``fn(*numpy_operands) -> tuple of results`` on the host.

    ``index`` is the callback's position in the module's list; ``operands``/``results`` are
    ``(shape, dtype)`` pairs, dtype None for a token (passed to ``fn`` and returned by it as
    None)."""
    if not _LEGACY_CALLBACKS:
        return CallbackCall("xla_ffi_python_cpu_callback", 4, f"{{index = {index} : ui64}}",
                            None, False, fn)
    client = get_backend("cpu").client
    descriptor, keepalive = client.get_emit_python_callback_descriptor(
        fn, [_xla_shape(*o) for o in operands], [_xla_shape(*r) for r in results])
    return CallbackCall("xla_python_cpu_callback", 2, f'"{descriptor}"', int(descriptor), True,
                        keepalive)


_mlir_context = None


def _mlir_module(text: str):
    """Parse module text into an MLIR module object (what compile_and_load takes together with
    host callbacks)."""
    global _mlir_context
    from jaxlib.mlir import ir
    with _lock:
        if _mlir_context is None:
            _mlir_context = _make_mlir_context(ir)
    with _mlir_context:
        try:
            return ir.Module.parse(text)
        except Exception as e:  # MLIRError
            raise CompileError("MLIR could not parse the program xtrace generated; this is a "
                               f"bug in xtrace. It said: {str(e)[:500]}") from None


def _make_mlir_context(ir):
    """An MLIR context knowing the func and StableHLO dialects."""
    from jaxlib.mlir._mlir_libs import _jax_mlir_ext
    from jaxlib.mlir.dialects import stablehlo
    ctx = ir.Context()
    registry = ir.DialectRegistry()
    _jax_mlir_ext.register_dialects(registry)
    ctx.append_dialect_registry(registry)
    ctx.load_all_available_dialects()
    stablehlo.register_dialect(ctx)
    return ctx


def _compile_with_callbacks(client, text: str, devs: Sequence, opts, callbacks: Sequence):
    if _LEGACY_CALLBACKS:
        return client.compile(text.encode(), opts, host_callbacks=list(callbacks))
    return client.compile_and_load(_mlir_module(text), _xc.DeviceList(tuple(devs)), opts,
                                   list(callbacks))
