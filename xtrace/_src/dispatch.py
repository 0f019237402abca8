"""Eager execution: each primitive runs as a small compiled XLA program, cached on its types."""
from __future__ import annotations

import collections
import threading
from typing import Any

import numpy as np

from xtrace._src import backend, core, dtypes, lowering
from xtrace._src.array import Array, from_numpy
from xtrace._src.config import config as _config
from xtrace._src.core import ShapedArray, get_aval

_options = _config._values  # read on the fast path (default_device)

# Compiled single-primitive programs by (primitive, avals, params, device), least recently used
# first. Bounded: eager code that makes new functions per call (a cond or scan over a fresh
# lambda) would otherwise keep every program it ever compiled.
_cache: "collections.OrderedDict[tuple, tuple[Any, list[ShapedArray], list]]" = \
    collections.OrderedDict()
CACHE_SIZE = 4096
_lock = threading.Lock()


def apply_primitive(prim, args, params):
    if not params and _options["_plain"]:
        # fast path: Arrays on the default device, cached by avals alone (no default_device,
        # no debug_nans/debug_infs checks)
        try:
            avals = tuple([a.aval for a in args if a._device is None])
        except AttributeError:  # a Python scalar or NumPy value among the arguments
            avals = None
        if avals is not None and len(avals) == len(args):
            entry = prim.eager_cache.get(avals)
            if entry is not None:
                exe, avals_out, handlers = entry
                outs = backend.execute(exe, [a.buffer for a in args], handlers)
                if prim.multiple_results:
                    return [Array(b, av) for b, av in zip(outs, avals_out)]
                return Array(outs[0], avals_out[0])
    device = None
    for a in args:
        if type(a) is Array and a._device is not None:
            device = a._device
            break
    else:
        device = backend.chosen_device()  # xtrace.default_device, or None
    avals = tuple([a.aval if type(a) is Array else get_aval(a) for a in args])
    try:
        key = (prim, avals, tuple(params.items()), device)
        entry = _cache.get(key)
    except TypeError:
        key, entry = None, None
    if entry is not None:
        try:
            _cache.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile
            pass
    else:
        prim.abstract_eval(*avals, **params)  # validates; raises user-facing errors
        text, avals_out = lowering.lower_primitive(prim, avals, params)
        entry = (backend.compile(text, None if device is None else (device,)), avals_out,
                 backend.result_handlers(avals_out, device))
        if key is not None:
            with _lock:
                _cache[key] = entry
                if not params and device is None and all(type(a) is Array for a in args):
                    prim.eager_cache[avals] = entry
                while len(_cache) > CACHE_SIZE:
                    (old_prim, old_avals, old_params, old_dev), _ = _cache.popitem(last=False)
                    if not old_params and old_dev is None:
                        old_prim.eager_cache.pop(old_avals, None)
    exe, avals_out, handlers = entry
    if device is None:
        bufs = [a.buffer if type(a) is Array else to_buffer(a, av) for a, av in zip(args, avals)]
    else:
        bufs = [to_buffer(a, av, device) for a, av in zip(args, avals)]
    outs = backend.execute(exe, bufs, handlers)
    results = [Array(b, av, device) for b, av in zip(outs, avals_out)]
    if not _options["_plain"]:
        check_values(prim.name, results)
    return results if prim.multiple_results else results[0]


def check_values(where: str, arrays) -> None:
    """``debug_nans`` / ``debug_infs``: raise FloatingPointError if an inexact result of
    ``where`` (a primitive or a jitted function) holds a NaN / an infinity."""
    nans, infs = _options["debug_nans"], _options["debug_infs"]
    for a in arrays:
        if not (nans or infs) or not dtypes.is_inexact(a.aval.dtype):
            continue
        v = np.asarray(a)
        if nans and np.isnan(v).any():
            raise FloatingPointError(f"invalid value (nan) encountered in {where}")
        if infs and np.isinf(v).any():
            raise FloatingPointError(f"invalid value (inf) encountered in {where}")


_scalar_cache: "collections.OrderedDict[tuple, Any]" = collections.OrderedDict()
_SCALAR_CACHE_SIZE = 32  # least-recently-used scalars keep their device buffers


def clear_cache() -> None:
    """Forget every compiled single-primitive program and cached scalar buffer."""
    with _lock:
        _cache.clear()
        _scalar_cache.clear()
        for prim in core.primitives.values():
            prim.eager_cache.clear()


def to_buffer(x: Any, aval: ShapedArray, device=None):
    """A buffer holding the value ``x`` (an Array, NumPy value or Python scalar) on ``device``
    (default: the default device), copying an Array that lives on another device."""
    if isinstance(x, Array):
        if x._device is device or x._device == device or (
                device is not None and x._device is None and device == backend.default_device()):
            return x.buffer
        return backend.to_device(np.asarray(x), device)
    if dtypes.is_python_scalar(x) or (isinstance(x, np.generic)):
        key = (type(x), repr(x), aval.dtype, None if device is None else device.id)
        buf = _scalar_cache.get(key)
        if buf is None:
            buf = backend.to_device(np.asarray(x, aval.dtype), device)
            with _lock:
                _scalar_cache[key] = buf
                if len(_scalar_cache) > _SCALAR_CACHE_SIZE:
                    _scalar_cache.popitem(last=False)
        else:
            try:
                _scalar_cache.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
        return buf
    if isinstance(x, np.ndarray):
        return backend.to_device(np.asarray(x, aval.dtype), device)
    raise TypeError(f"Cannot use {type(x).__name__} as an array argument")


def device_put(x: Any, device=None) -> Array:
    """``x`` as an Array on ``device`` (default device if None); no copy if already there."""
    if isinstance(x, Array) and (device is None or x.device == device):
        return x
    weak = isinstance(x, Array) and x.weak_type
    if dtypes.is_python_scalar(x):
        return from_numpy(np.asarray(x, dtypes.python_scalar_dtype(x)),
                          weak_type=type(x) is not bool, device=device)
    return from_numpy(np.asarray(x), weak_type=weak, device=device)


core._apply_primitive = apply_primitive  # the eval trace's way to run a primitive
