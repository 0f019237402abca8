"""Recompilation diagnostics: why each jit compile happened, and a warning for a function that
keeps being compiled again.

``jit`` compiles one program per specialization (argument structure, shapes and dtypes,
static values, x64 mode, device, named axes). ``record_compile`` runs before each such compile:
it compares the new specialization with the previous compile of the same function (the same
code object, so that ``jit(lambda ...)`` created anew on every call counts as one function)
and names what changed. With ``xtrace.config.update("log_compiles", True)`` each compile is
logged (logger "xtrace", as warnings so they show without logging setup); a function compiled
more than ``recompile_warning_threshold`` times triggers one ``UserWarning`` that shows what
kept changing. Functions defined inside xtrace (``xtrace.numpy`` helpers run as jit programs)
are logged but never warned about: their recompiles follow the user's shapes.
"""
from __future__ import annotations

import collections
import functools
import itertools
import logging
import os
import sys
import threading
import warnings
from typing import Any, Callable

from xtrace._src.config import config

log = logging.getLogger("xtrace")

_serials = itertools.count()
_lock = threading.Lock()
_MAX_SERIALS = 1024  # jitted-function objects remembered per function (to spot new ones)


class FunctionId:
    """What identifies one jitted function across ``jit`` objects, made once per ``jit``."""

    __slots__ = ("ident", "serial", "name", "where", "internal")

    def __init__(self, fun: Callable, name: str):
        self.ident = _identity(fun)
        self.serial = next(_serials)
        self.name = name
        f = _unwrap(fun)  # the user's function, under functools.wraps wrappers (grad, ...)
        code = getattr(f, "__code__", None)
        self.where = (f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"
                      if code is not None else type(f).__qualname__)
        self.internal = (getattr(f, "__module__", None) or "").startswith("xtrace.")


def _unwrap(f: Any) -> Any:
    for _ in range(16):
        while isinstance(f, functools.partial):
            f = f.func
        if not hasattr(f, "__wrapped__"):
            break
        f = f.__wrapped__
    return f


def _identity(f: Any, depth: int = 0) -> Any:
    """A hashable stand-in for "the same function": its code object and, recursively, the
    functions it closes over (``grad(f)`` and ``grad(g)`` share their wrapper's code but not
    their closures). Closed-over values other than functions count by type: a fresh
    ``lambda x: x * w`` for each ``w`` is the same function compiled anew."""
    while isinstance(f, functools.partial):
        f = f.func
    code = getattr(f, "__code__", None)
    if code is None:
        inner = getattr(f, "__wrapped__", None)  # e.g. a jitted function
        return _identity(inner, depth + 1) if inner is not None and depth < 4 else type(f)
    cells = getattr(f, "__closure__", None) or ()
    if not cells or depth >= 4:
        return code
    parts = []
    for c in cells:
        try:
            v = c.cell_contents
        except ValueError:  # an empty cell
            v = None
        parts.append(_identity(v, depth + 1) if callable(v) and not isinstance(v, type)
                     else type(v))
    return (code, tuple(parts))


class CompileInfo:
    """One specialization about to be compiled: its cache key, spelled out."""

    __slots__ = ("fid", "in_tree", "arg_names", "avals", "statics", "x64", "device", "axes")

    def __init__(self, fid: FunctionId, key: tuple, arg_names: list[str], statics: dict):
        self.fid = fid
        self.in_tree, self.avals, _, self.x64, self.device, self.axes = key
        self.arg_names = arg_names
        self.statics = statics  # parameter name -> value


class _History:
    __slots__ = ("count", "serials", "last", "changes", "last_change", "warned")

    def __init__(self):
        self.count = 0
        self.serials: set[int] = set()
        self.last: CompileInfo | None = None
        self.changes: collections.Counter = collections.Counter()
        self.last_change: dict[str, str] = {}
        self.warned = False


_history: dict[Any, _History] = {}


def record_compile(info: CompileInfo) -> None:
    """Log why ``info`` is compiled and warn once if its function keeps recompiling."""
    fid = info.fid
    with _lock:
        h = _history.get(fid.ident)
        if h is None:
            h = _history[fid.ident] = _History()
        changes = _changes(h, info)
        h.count += 1
        if len(h.serials) >= _MAX_SERIALS:
            h.serials.clear()
        h.serials.add(fid.serial)
        h.last = info
        for what, detail in changes:
            h.changes[what] += 1
            h.last_change[what] = detail
        count = h.count
        threshold = config.read("recompile_warning_threshold")
        warn = (threshold is not None and threshold > 0 and count > threshold
                and not h.warned and not fid.internal)
        if warn:
            h.warned = True
            summary = _summary(h)
    reason = "; ".join(f"{w} {d}" if d else w for w, d in changes) or "first compile"
    msg = (f"Compiling jit of '{fid.name}' ({fid.where}), compile #{count} of this function: "
           f"{reason}")
    if config.read("log_compiles"):
        log.warning(msg)
    else:
        log.debug(msg)
    if warn:
        warnings.warn(
            f"jit-compiled function '{fid.name}' ({fid.where}) has been compiled {count} "
            f"times, more than recompile_warning_threshold={threshold}. What changed between "
            f"compiles: {summary}. Each new argument shape, dtype, pytree structure or static "
            "value compiles a new program: pad inputs to a few fixed shapes, pass values that "
            "change as arrays rather than static arguments, and create jitted functions once "
            "(not jit(lambda ...) on every call). xtrace.config.update('log_compiles', True) "
            "logs every compile.", UserWarning, stacklevel=_user_stacklevel())


def _changes(h: _History, cur: CompileInfo) -> list[tuple[str, str]]:
    """(what, detail) pairs telling ``cur`` apart from the function's previous compile."""
    out = []
    if h.count and cur.fid.serial not in h.serials:
        out.append(("new function object", "(jit applied to a function created anew; "
                                           "this code was compiled before)"))
    prev = h.last
    if prev is None:
        return out
    if prev.in_tree != cur.in_tree:
        out.append(("argument structure", _arrow(prev.in_tree, cur.in_tree)))
    else:
        for name, a, b in zip(cur.arg_names, prev.avals, cur.avals):
            if a != b:
                out.append((f"argument '{name}'", f"{_aval_str(a)} -> {_aval_str(b)}"))
    for k in sorted(set(prev.statics) | set(cur.statics)):
        old, new = prev.statics.get(k, _NOT_PASSED), cur.statics.get(k, _NOT_PASSED)
        if not _same(old, new):
            out.append((f"static argument '{k}'", _arrow(old, new)))
    if prev.x64 != cur.x64:
        out.append(("enable_x64", _arrow(prev.x64, cur.x64)))
    if prev.device != cur.device:
        out.append(("device", _arrow(prev.device, cur.device)))
    if prev.axes != cur.axes:
        out.append(("named axes", _arrow(prev.axes, cur.axes)))
    if not out:
        out.append(("same specialization as before", "(cache cleared, or its entry could "
                                                     "not be kept)"))
    return out


class _NotPassed:
    def __repr__(self) -> str:
        return "(not passed)"


_NOT_PASSED = _NotPassed()


def _summary(h: _History) -> str:
    parts = []
    for what, n in h.changes.most_common(4):
        times = "once" if n == 1 else f"{n} times"
        last = h.last_change[what]
        parts.append(f"{what} {times} (last: {last})" if last else f"{what} {times}")
    return "; ".join(parts) or "nothing recorded"


def _aval_str(a) -> str:
    return a.str_short() + (" (weak type)" if getattr(a, "weak_type", False) else "")


def _arrow(old, new) -> str:
    return f"{_short(old)} -> {_short(new)}"


def _short(v, n: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= n else s[:n - 3] + "..."


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - e.g. an object whose == returns an array
        return a is b


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_stacklevel() -> int:
    """``warnings.warn`` stacklevel that points at the first frame outside xtrace."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PKG_DIR):
        frame, level = frame.f_back, level + 1
    return level
