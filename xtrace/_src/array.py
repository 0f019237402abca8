"""``xtrace.Array``: an immutable, device-resident array (a jaxlib buffer plus its aval)."""
from __future__ import annotations

from typing import Any

import numpy as np

from xtrace._src import backend, dtypes
from xtrace._src.core import ShapedArray


class Array:
    """An immutable array living on an XLA device. Operations on it dispatch asynchronously."""

    __array_priority__ = 1000
    __slots__ = ("aval", "_buf", "_npy", "_device", "_deleted_by", "_shards", "__weakref__")

    def __init__(self, buf: Any, aval: ShapedArray, device: Any = None):
        self.aval = aval
        self._buf = buf
        self._npy = None
        self._device = device  # None means the default device
        self._deleted_by = None
        self._shards = None  # a pmap result: Shards (one buffer per device)

    @classmethod
    def sharded(cls, shards: "Shards", aval: ShapedArray) -> "Array":
        """An array split over devices along ``shards.axis`` (what pmap returns). It is
        assembled into one buffer on the default device only when an operation needs it."""
        a = cls(None, aval)
        a._shards = shards
        return a

    # ---- metadata ----
    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def device(self):
        return self._device if self._device is not None else backend.default_device()

    def devices(self) -> set:
        if self._shards is not None:
            return set(self._shards.devices)
        return {self.device}

    # ---- buffer access ----
    @property
    def buffer(self):
        if self._buf is None:
            if self._shards is not None:  # first use outside pmap: gather on the default device
                self._buf = backend.to_device(np.ascontiguousarray(self._value()))
                return self._buf
            raise RuntimeError(
                f"Array {self.aval.str_short()} has been deleted"
                + (f" ({self._deleted_by})" if self._deleted_by else "")
                + " and can no longer be used.")
        return self._buf

    def delete(self, reason: str | None = None) -> None:
        if self._buf is not None:
            backend.delete(self._buf)
        if self._shards is not None:
            for b in self._shards.buffers:
                backend.delete(b)
        self._buf, self._npy, self._shards, self._deleted_by = None, None, None, reason

    def is_deleted(self) -> bool:
        return self._buf is None and self._shards is None

    def block_until_ready(self) -> "Array":
        if self._buf is None and self._shards is not None:
            for b in self._shards.buffers:
                backend.block_until_ready(b)
            return self
        backend.block_until_ready(self.buffer)
        return self

    def is_ready(self) -> bool:
        if self._buf is None and self._shards is not None:
            return all(b.is_ready() for b in self._shards.buffers)
        return self.buffer.is_ready()

    def copy_to_host_async(self) -> None:
        pass

    # ---- NumPy interop ----
    def _value(self) -> np.ndarray:
        if self._npy is None and self._buf is None and self._shards is not None:
            sh = self._shards
            parts = [backend.to_numpy(b, self.aval.dtype).reshape(sh.shard_shape)
                     for b in sh.buffers]
            self._npy = np.stack(parts, axis=sh.axis)
            self._npy.flags.writeable = False
        if self._npy is None:
            # (DLPack hands back 0-d buffers as shape (1,): restore the array's shape)
            self._npy = backend.to_numpy(self.buffer, self.aval.dtype).reshape(self.aval.shape)
        return self._npy

    def __array__(self, dtype=None, copy=None):
        v = self._value()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        return v

    def __dlpack__(self, *args, **kwargs):
        return self._value().__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._value().__dlpack_device__()

    def tobytes(self, order: str = "C") -> bytes:
        return self._value().tobytes(order)

    def item(self, *args) -> Any:
        return self._value().item(*args)

    def tolist(self) -> Any:
        return self._value().tolist()

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"The truth value of an array with shape {self.shape} is ambiguous. "
                             "Use a.any() or a.all()")
        return bool(self._value().reshape(()))

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex"))

    def __index__(self) -> int:
        if self.shape or not dtypes.is_int(self.dtype):  # (as JAX: no bools, no shape (1,))
            raise TypeError("Only integer scalar arrays can be converted to a scalar index; "
                            f"got {self.dtype} of shape {self.shape}")
        return int(self._scalar("index"))

    def _scalar(self, what: str):
        if self.ndim:  # (JAX: even size-1 arrays must be 0-d)
            raise TypeError(f"Only scalar arrays can be converted to Python {what}s; "
                            f"this array has shape {self.shape}")
        return self._value().reshape(())

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        raise TypeError("unhashable type: 'Array' (use a tuple or a Python scalar as a "
                        "static argument instead)")

    def __repr__(self) -> str:
        if self.is_deleted():
            return f"Array(<deleted>, shape={self.shape}, dtype={self.dtype.name})"
        if self.size == 0:
            body = f"[], shape={self.shape}"
        else:
            body = np.array2string(self._value(), separator=", ", prefix="Array(")
        weak = ", weak_type=True" if self.weak_type else ""
        return f"Array({body}, dtype={self.dtype.name}{weak})"

    def __str__(self) -> str:
        return str(self._value())

    def __format__(self, spec: str) -> str:
        return format(self._value() if self.ndim else self._value()[()], spec)

    def __reduce__(self):
        return (_reconstruct, (np.asarray(self), self.weak_type))

    def __copy__(self) -> "Array":
        return self

    def __deepcopy__(self, memo) -> "Array":
        return self


class Shards:
    """The per-device pieces of a pmapped array: ``buffers[i]`` on ``devices[i]`` holds index
    ``i`` along ``axis`` (its shape is ``shard_shape``, the array's shape without ``axis``)."""

    __slots__ = ("buffers", "devices", "axis", "shard_shape")

    def __init__(self, buffers: list, devices: tuple, axis: int, shard_shape: tuple):
        self.buffers, self.devices, self.axis, self.shard_shape = (list(buffers), tuple(devices),
                                                                   axis, tuple(shard_shape))


def _reconstruct(value: np.ndarray, weak_type: bool) -> Array:
    return from_numpy(value, weak_type=weak_type)


def from_numpy(x: Any, dtype: Any = None, weak_type: bool = False, device=None) -> Array:
    """Put a NumPy value on the device as an Array (dtype canonicalized, 64-bit off by default)."""
    x = np.asarray(x)
    dt = dtypes.canonicalize_dtype(x.dtype if dtype is None else dtype)
    if x.dtype != dt:
        x = x.astype(dt)
    if device is None:
        device = backend.chosen_device()
    return Array(backend.to_device(x, device), ShapedArray(x.shape, dt, weak_type),
                 None if device is None or device == backend.default_device() else device)
