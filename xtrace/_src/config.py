"""Global configuration flags (``xtrace.config``), read from the environment at import."""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator


def _env_bool(name: str, default: bool) -> bool:
    val = os.environ.get(name)
    if val is None:
        return default
    return val.strip().lower() in ("1", "true", "yes", "on")


_CACHE_OFF = ("off", "0", "false", "no", "none")


def _env_cache_dir() -> str | None:
    """``XTRACE_CACHE_DIR``: a folder for the compilation cache, or None (unset or "off")."""
    val = os.environ.get("XTRACE_CACHE_DIR", "").strip()
    return None if val.lower() in _CACHE_OFF + ("",) else val


class Config:
    """Holds xtrace's global options. Use ``xtrace.config.update(name, value)``."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {
            "enable_x64": _env_bool("XTRACE_ENABLE_X64", False),
            "num_cpu_devices": int(os.environ.get("XTRACE_NUM_CPU_DEVICES", "1")),
            # "cpu", "cuda", "tpu" or a comma list in priority order; None: accelerator first.
            "platforms": os.environ.get("XTRACE_PLATFORMS") or None,
            # Persistent compilation cache and compile diagnostics (docs/compilation_cache.md).
            "compilation_cache": os.environ.get("XTRACE_CACHE_DIR", "").strip().lower()
            not in _CACHE_OFF,
            "compilation_cache_dir": _env_cache_dir(),  # None: ~/.cache/xtrace/compile
            "compilation_cache_min_compile_time": float(
                os.environ.get("XTRACE_CACHE_MIN_COMPILE_TIME", "0.01")),  # seconds
            "compilation_cache_max_size": 1 << 30,  # bytes; <= 0: no limit
            "log_compiles": _env_bool("XTRACE_LOG_COMPILES", False),
            "recompile_warning_threshold": 8,  # None or <= 0: never warn
            # jit-decorated functions run op by op (xtrace.disable_jit()).
            "disable_jit": _env_bool("XTRACE_DISABLE_JIT", False),
            # Device for arrays and computations with no committed input (None: the
            # backend's first device); xtrace.default_device(d) sets it inside a block.
            "default_device": None,
            # Raise FloatingPointError when an operation or jitted call produces a NaN / an
            # infinity (checked on the host after each call: for debugging only).
            "debug_nans": _env_bool("XTRACE_DEBUG_NANS", False),
            "debug_infs": _env_bool("XTRACE_DEBUG_INFS", False),
        }
        # Derived, read on the dispatch fast paths: no default device, no value checks.
        self._values["_plain"] = True
        self._lock = threading.Lock()
        self._listeners: list = []

    def update(self, name: str, value: Any) -> None:
        prefix, _, short = name.partition("_")
        if name not in self._values and prefix in ("jax", "xtrace") and short in self._values:
            name = short  # JAX's option names: "jax_enable_x64", "jax_disable_jit"
        if name not in self._values or name.startswith("_"):
            raise AttributeError(
                f"xtrace.config has no option {name!r}; known options: "
                f"{sorted(n for n in self._values if not n.startswith('_'))}")
        if name == "num_cpu_devices":
            from xtrace._src import backend
            value = int(value)
            if value < 1:
                raise ValueError(f"num_cpu_devices must be >= 1, got {value}")
            if backend.client_created() and value != self._values[name]:
                raise RuntimeError(
                    "num_cpu_devices must be set before xtrace first uses a device "
                    f"(it is already {self._values[name]}); set XTRACE_NUM_CPU_DEVICES "
                    "in the environment or call xtrace.config.update first.")
        if name == "default_device":
            from xtrace._src import backend
            value = backend.validate_default_device(value)
        if name == "platforms":
            from xtrace._src import backend
            value = backend.validate_platforms(value, self._values[name])
        if name in ("enable_x64", "compilation_cache", "log_compiles", "disable_jit",
                    "debug_nans", "debug_infs"):
            value = bool(value)
        if name == "compilation_cache_dir" and value is not None:
            value = os.fspath(value)
        with self._lock:
            self._values[name] = value
            v = self._values
            v["_plain"] = (v["default_device"] is None and not v["debug_nans"]
                           and not v["debug_infs"])
        for fn in self._listeners:
            fn(name, value)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        if name.startswith("jax_") or name.startswith("xtrace_"):
            key = name.split("_", 1)[1]
            if key in values:
                return values[key]
        raise AttributeError(f"xtrace.config has no option {name!r}")

    def read(self, name: str) -> Any:
        return self._values[name]


config = Config()


@contextlib.contextmanager
def enable_x64(new_val: bool = True) -> Iterator[None]:
    """Context manager that turns 64-bit types on (or off) inside its block."""
    old = config.enable_x64
    config.update("enable_x64", new_val)
    try:
        yield
    finally:
        config.update("enable_x64", old)


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Iterator[None]:
    """Inside the block, ``jit``-decorated functions run their Python op by op (each
    operation eagerly), so ``print`` and Python control flow on values work inside them;
    ``lax.cond``/``switch`` with a concrete predicate, ``while_loop`` and ``scan`` run as
    Python control flow too."""
    old = config.disable_jit
    config.update("disable_jit", disable)
    try:
        yield
    finally:
        config.update("disable_jit", old)
