"""Finding accelerator PJRT plugins: platform names, plugin packages, driver checks.

This module never imports jaxlib (backend.py loads what is found here). It answers, for each
accelerator platform, "is there a plugin library to load, and can it work on this machine?",
and when not, a short reason and how to fix it.
"""
from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
from typing import NamedTuple

ACCELERATORS = ("cuda", "tpu")  # tried in this order when no platform is asked for
PLATFORMS = ACCELERATORS + ("cpu",)
ALIASES = {"gpu": "cuda"}

# The CUDA plugins, newest CUDA first. jax-cuda*-pjrt ships the PJRT library;
# jax-cuda*-plugin[with-cuda] brings it along with NVIDIA's CUDA libraries from PyPI.
_CUDA_MAJORS = (13, 12)
_CUDA_HINT = ("install it with: pip install 'xtrace[cuda12]', or 'xtrace[cuda13]' for a driver "
              "that supports CUDA 13")
_TPU_HINT = "install it with: pip install 'xtrace[tpu]' (Colab TPU and Cloud TPU VMs have it)"


class Unavailable(Exception):
    """A platform that cannot be used here: ``reason`` says why, ``hint`` how to fix it."""

    def __init__(self, platform: str, reason: str, hint: str = ""):
        super().__init__(platform, reason, hint)
        self.platform, self.reason, self.hint = platform, reason, hint

    def message(self) -> str:
        hint = f"; {self.hint}" if self.hint else ""
        return f"xtrace backend {self.platform!r} is unavailable: {self.reason}{hint}."


class Plugin(NamedTuple):
    """A PJRT plugin library found on this machine."""

    platform: str       # the name the client is registered under ("cuda", "tpu")
    library_path: str
    package: str        # the distribution that holds it (for messages)
    version: str


def canonical(name: str) -> str:
    """``name`` as one of PLATFORMS (``"gpu"`` means CUDA); RuntimeError for unknown names."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in PLATFORMS:
        raise RuntimeError(f"Unknown backend {name!r}; xtrace knows: "
                           + ", ".join(PLATFORMS) + " ('gpu' means cuda)")
    return key


def parse_platforms(value) -> tuple[str, ...] | None:
    """The ``platforms`` option as a tuple of platform names in priority order, or None for
    automatic selection (unset, empty or ``"auto"``). Accepts a comma list or a sequence."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    parts = [p.strip() for p in parts if p and p.strip()]
    if not parts or parts == ["auto"]:
        return None
    out: list[str] = []
    for p in parts:
        try:
            name = canonical(p)
        except RuntimeError as e:
            raise ValueError(f"xtrace platforms: {e}") from None
        if name not in out:
            out.append(name)
    return tuple(out)


def _dist_file(dist_name: str, relpath: str) -> tuple[str, str] | None:
    """(path, version) of ``relpath`` inside installed distribution ``dist_name``, if both exist."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = os.fspath(dist.locate_file(relpath))
    return (path, dist.version) if os.path.exists(path) else None


def installed_version(dist_name: str) -> str | None:
    try:
        return importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---- CUDA ----
def cuda_driver_version() -> int | None:
    """The CUDA version the installed NVIDIA driver supports (e.g. 12040 for 12.4), or None
    when no driver library can be loaded (no GPU driver on this machine)."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    version = ctypes.c_int(0)
    if lib.cuDriverGetVersion(ctypes.byref(version)) != 0:
        return None
    return version.value


def _cuda_candidates() -> list[Plugin]:
    found = []
    for major in _CUDA_MAJORS:
        hit = _dist_file(f"jax-cuda{major}-pjrt", f"jax_plugins/xla_cuda{major}/xla_cuda_plugin.so")
        if hit is not None:
            found.append(Plugin("cuda", hit[0], f"jax-cuda{major}-pjrt", hit[1]))
    return found


def _fmt_cuda(v: int) -> str:
    return f"{v // 1000}.{v % 1000 // 10}"


def find_cuda() -> Plugin:
    """The CUDA plugin to load: the newest CUDA major whose plugin is installed and that the
    driver supports. Raises Unavailable (plugin missing, no driver, driver too old)."""
    candidates = _cuda_candidates()
    if not candidates:
        raise Unavailable("cuda", "plugin missing: no CUDA PJRT plugin package is installed "
                          "(jax-cuda12-pjrt or jax-cuda13-pjrt)", _CUDA_HINT)
    driver = cuda_driver_version()
    if driver is None:
        raise Unavailable("cuda", f"{candidates[0].package} is installed but no NVIDIA driver "
                          "was found (libcuda.so.1 could not be loaded)")
    for plugin in candidates:
        major = int(plugin.package.split("cuda")[1].split("-")[0])
        if driver >= major * 1000:
            _preload_cuda_libraries()
            return plugin
    needs = min(int(p.package.split("cuda")[1].split("-")[0]) for p in candidates)
    raise Unavailable("cuda", f"NVIDIA driver too old: it supports CUDA {_fmt_cuda(driver)}, "
                      f"the installed plugin ({', '.join(p.package for p in candidates)}) needs "
                      f"CUDA {needs}.0 or newer",
                      "update the NVIDIA driver")


# NVIDIA's libraries from PyPI (nvidia-*-cu12/cu13 wheels) are not on the loader's path: load
# them by file, as JAX's CUDA plugin does, so the plugin's own dlopen finds them loaded.
_NVIDIA_LIBS = (
    ("cuda_runtime", "libcudart.so.12"), ("cu13", "libcudart.so.13"),
    ("cuda_nvrtc", "libnvrtc.so.12"), ("cu13", "libnvrtc.so.13"),
    ("cublas", "libcublas.so.12"), ("cublas", "libcublasLt.so.12"),
    ("cu13", "libcublas.so.13"), ("cu13", "libcublasLt.so.13"),
    ("nccl", "libnccl.so.2"), ("cuda_cupti", "libcupti.so.12"), ("cu13", "libcupti.so.13"),
    ("cusparse", "libcusparse.so.12"), ("cusolver", "libcusolver.so.11"),
    ("cu13", "libcusolver.so.12"), ("cufft", "libcufft.so.11"), ("cu13", "libcufft.so.12"),
    ("nvshmem", "libnvshmem_host.so.3"), ("cudnn", "libcudnn.so.9"),
)


def _preload_cuda_libraries() -> None:
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for module, lib in _NVIDIA_LIBS:
        for root in roots:
            path = os.path.join(root, module, "lib", lib)
            if os.path.exists(path):
                try:
                    ctypes.CDLL(path)
                except OSError:  # the plugin reports what it really misses
                    pass
                break


# ---- TPU ----
def find_tpu() -> Plugin:
    """libtpu's PJRT library (``TPU_LIBRARY_PATH`` overrides). Raises Unavailable."""
    env = os.environ.get("TPU_LIBRARY_PATH")
    if env:
        if not os.path.exists(env):
            raise Unavailable("tpu", f"TPU_LIBRARY_PATH={env} does not exist", _TPU_HINT)
        return Plugin("tpu", env, "TPU_LIBRARY_PATH", installed_version("libtpu") or "?")
    for dist in ("libtpu", "libtpu-nightly"):
        hit = _dist_file(dist, "libtpu/libtpu.so")
        if hit is not None:
            return Plugin("tpu", hit[0], dist, hit[1])
    raise Unavailable("tpu", "plugin missing: the libtpu package is not installed", _TPU_HINT)


_FINDERS = {"cuda": find_cuda, "tpu": find_tpu}


def find(platform: str) -> Plugin:
    return _FINDERS[platform]()


def init_failure(plugin: Plugin, error: BaseException, jaxlib_version: str) -> Unavailable:
    """An Unavailable for a plugin that was found but failed to start; names a version
    mismatch with jaxlib when there is one (the usual cause after a partial upgrade)."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300].rstrip(".")
    reason = f"{plugin.package} {plugin.version} failed to initialize: {first}"
    hint = ""
    if plugin.platform == "cuda" and plugin.version != jaxlib_version:
        hint = (f"{plugin.package} {plugin.version} does not match jaxlib {jaxlib_version}: "
                f"pip install '{plugin.package}=={jaxlib_version}'")
    return Unavailable(plugin.platform, reason, hint)
