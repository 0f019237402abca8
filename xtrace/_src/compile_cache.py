"""The persistent compilation cache: compiled executables kept on disk across processes.

``backend.compile`` calls ``compile_or_load`` for every program it has not compiled in this
process. An entry is one file named by the SHA-256 of everything the executable depends on:
the StableHLO text, the backend's fingerprint (jaxlib release, platform, device kinds, device
assignment), the host CPU and ``XLA_FLAGS``. A file holds a header (magic and format version,
the key, the payload's SHA-256 and length) and the serialized executable; an entry is loaded
only when all of these match, so a truncated, corrupt or foreign file is ignored (and
rewritten), never deserialized. Writers write a temporary file in the cache folder and
``os.replace`` it into place, so concurrent processes never see a half-written entry.

Options (``xtrace.config``): ``compilation_cache`` (on by default; ``XTRACE_CACHE_DIR=off``
turns it off), ``compilation_cache_dir`` (``XTRACE_CACHE_DIR``; default
``$XDG_CACHE_HOME/xtrace/compile`` or ``~/.cache/xtrace/compile``),
``compilation_cache_min_compile_time`` (seconds; faster compiles are not written) and
``compilation_cache_max_size`` (bytes; least recently used entries are removed beyond it).
See docs/compilation_cache.md.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import re
import struct
import tempfile
import time
from typing import Any, Callable

from xtrace._src.config import config

log = logging.getLogger("xtrace")

_MAGIC = b"XTRACE-EXE\x00\x01"  # the last byte is the file format version
_HEADER = struct.Struct("<32s32sQ")  # key digest, payload SHA-256, payload length
_SUFFIX = ".xexe"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_S = 3600  # temporary files older than this were left by a crashed writer

# Counters for this process (tests and diagnostics read them; never reset by xtrace).
stats = {"hits": 0, "misses": 0, "writes": 0, "rejected": 0, "skipped": 0, "errors": 0}

_sizes: dict[str, int] = {}  # cache folder -> its size in bytes as this process last saw it
_warned_dirs: set[str] = set()


def cache_dir() -> str | None:
    """The folder entries go to, or None when the cache is off."""
    if not config.read("compilation_cache"):
        return None
    d = config.read("compilation_cache_dir")
    if d:
        return os.path.abspath(os.path.expanduser(d))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "xtrace", "compile")


def compile_or_load(text: str, fingerprint: tuple[str, ...], build: Callable[[], Any],
                    serialize: Callable[[Any], bytes],
                    deserialize: Callable[[bytes], Any]) -> Any:
    """The executable of ``text``: loaded from the cache folder when a valid entry is there,
    else ``build()`` and, when that took long enough to be worth it, written there."""
    name = _module_name(text)
    d = cache_dir()
    path = key = None
    if d is not None:
        key = _key(text, fingerprint)
        path = os.path.join(d, key.hex() + _SUFFIX)
        t = time.perf_counter()
        exe = _load(path, key, deserialize)
        if exe is not None:
            stats["hits"] += 1
            _log(f"Loaded '{name}' from the compilation cache in "
                 f"{(time.perf_counter() - t) * 1e3:.1f} ms")
            return exe
        stats["misses"] += 1
    t = time.perf_counter()
    exe = build()
    dt = time.perf_counter() - t
    note = ""
    if d is not None:
        if dt >= config.read("compilation_cache_min_compile_time"):
            note = " (written to the compilation cache)" if _store(
                d, path, key, exe, serialize) else ""
        else:
            stats["skipped"] += 1
            note = " (under compilation_cache_min_compile_time: not cached)"
    _log(f"Compiled '{name}' in {dt * 1e3:.1f} ms{note}")
    return exe


def _log(msg: str) -> None:
    # With log_compiles on, compile messages are warnings so they show without logging setup.
    if config.read("log_compiles"):
        log.warning(msg)
    else:
        log.debug(msg)


_MODULE_RE = re.compile(r"module @([\w.$-]+)")


def _module_name(text: str) -> str:
    m = _MODULE_RE.search(text, 0, 300)
    return m.group(1) if m else "module"


def _key(text: str, fingerprint: tuple[str, ...]) -> bytes:
    h = hashlib.sha256(_MAGIC)
    for part in fingerprint + (_host_id(), "XLA_FLAGS=" + os.environ.get("XLA_FLAGS", "")):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(text.encode())
    return h.digest()


@functools.lru_cache(maxsize=None)
def _host_id() -> str:
    """The host CPU (XLA's CPU code uses its instruction set extensions), so that a cache
    folder shared between different machines never hands one's code to another."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^(?:flags|Features)\s*:(.*)$", f.read(), re.M)
        flags = m.group(1) if m else ""
    except OSError:
        pass
    return "host=" + "|".join([platform.machine(), platform.processor(),
                               hashlib.sha256(flags.encode()).hexdigest()[:16]])


def _load(path: str, key: bytes, deserialize: Callable[[bytes], Any]) -> Any:
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        stats["errors"] += 1
        log.debug("compilation cache: cannot read %s: %s", path, e)
        return None
    payload = _check(blob, key)
    if payload is None:
        stats["rejected"] += 1
        _unlink(path)
        log.warning("compilation cache: ignoring invalid entry %s (corrupt, truncated or not "
                    "written for this program); it will be rewritten", path)
        return None
    try:
        exe = deserialize(payload)
    except Exception as e:  # noqa: BLE001 - e.g. a payload jaxlib no longer understands
        stats["rejected"] += 1
        _unlink(path)
        log.warning("compilation cache: could not load %s (%s); recompiling", path,
                    str(e).splitlines()[0][:200] if str(e) else type(e).__name__)
        return None
    try:
        os.utime(path)  # the modification time orders entries for eviction
    except OSError:
        pass
    return exe


def _check(blob: bytes, key: bytes) -> bytes | None:
    """The payload of ``blob`` if its header names ``key`` and its checksum matches."""
    start = len(_MAGIC) + _HEADER.size
    if len(blob) < start or not blob.startswith(_MAGIC):
        return None
    got_key, digest, n = _HEADER.unpack_from(blob, len(_MAGIC))
    payload = blob[start:]
    if got_key != key or n != len(payload) or hashlib.sha256(payload).digest() != digest:
        return None
    return payload


def _store(d: str, path: str, key: bytes, exe: Any, serialize: Callable[[Any], bytes]) -> bool:
    try:
        payload = serialize(exe)
    except Exception as e:  # noqa: BLE001 - some executables cannot be serialized
        stats["errors"] += 1
        log.debug("compilation cache: cannot serialize %s: %s", path, e)
        return False
    blob = (_MAGIC + _HEADER.pack(key, hashlib.sha256(payload).digest(), len(payload))
            + payload)
    tmp = None
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_SUFFIX, dir=d)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)  # atomic: readers see the old entry, no entry, or this one
    except OSError as e:
        stats["errors"] += 1
        if tmp is not None:
            _unlink(tmp)
        if d not in _warned_dirs:
            _warned_dirs.add(d)
            log.warning("compilation cache: cannot write to %s (%s); compiled programs are "
                        "not saved there. Set XTRACE_CACHE_DIR to a writable folder, or "
                        "XTRACE_CACHE_DIR=off.", d, e)
        return False
    stats["writes"] += 1
    _account(d, len(blob))
    return True


def _account(d: str, added: int) -> None:
    """Keep the folder under ``compilation_cache_max_size``: a scan on this process's first
    write there and whenever its running estimate goes over the limit."""
    cap = config.read("compilation_cache_max_size")
    if not cap or cap <= 0:
        return
    size = _sizes.get(d)
    if size is None or size + added > cap:
        _sizes[d] = _evict(d, cap)
    else:
        _sizes[d] = size + added


def _evict(d: str, cap: int) -> int:
    """Remove least recently used entries until the folder holds at most 90% of ``cap``
    bytes (and temporary files crashed writers left); returns the size that remains."""
    entries, now = [], time.time()
    try:
        with os.scandir(d) as it:
            for e in it:
                try:
                    st = e.stat()
                except OSError:
                    continue
                if e.name.startswith(_TMP_PREFIX):
                    if now - st.st_mtime > _STALE_TMP_S:
                        _unlink(e.path)
                elif e.name.endswith(_SUFFIX):
                    entries.append((st.st_mtime, st.st_size, e.path))
    except OSError:
        return 0
    total = sum(size for _, size, _ in entries)
    if total > cap:
        for _, size, p in sorted(entries):
            if total <= cap * 0.9:
                break
            if _unlink(p):
                total -= size
    return total


def _unlink(p: str) -> bool:
    try:
        os.unlink(p)
        return True
    except OSError:
        return False
