"""Operators and methods shared by ``Array`` and tracers, installed on both classes."""
from __future__ import annotations

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer
import xtrace.numpy as xnp
from xtrace._src.numpy import indexing


def _swap(f):
    return lambda self, other: f(other, self)


def _defer(f):
    """Binary operator that returns NotImplemented for operands it does not understand."""
    def op(self, other):
        if not _accepts(other):
            return NotImplemented
        return f(self, other)
    return op


def _accepts(x) -> bool:
    import numpy as np
    # (JAX refuses lists and tuples as operands: ``x + [1, 2]`` raises TypeError)
    return isinstance(x, (Array, Tracer, int, float, complex, bool, np.ndarray, np.generic))


def _matmul(a, b):
    return xnp.matmul(a, b)


def _astype(self, dtype, copy=False, device=None):
    return xnp.astype(self, dtype, copy=copy, device=device)


def _compress(self, condition, axis=None, *, out=None, size=None, fill_value=0):
    return xnp.compress(condition, self, axis, out=out, size=size, fill_value=fill_value)


def _copy(self):
    return xnp.copy(self)


def _to_device(self, device, *, stream=None):
    import xtrace
    return xtrace.device_put(self, device)


def _contains(self, other):
    """``other in x`` as JAX: ``x`` must be 1-D and ``other`` a scalar."""
    if other is None or isinstance(other, str):
        raise TypeError(f"Array.__contains__: unsupported operand type {type(other)}.")
    if self.ndim != 1:
        raise ValueError("Array.__contains__: search array must be one-dimensional, "
                         f"got arr.shape={self.shape}.")
    if xnp.ndim(other) != 0:
        raise ValueError(f"Array.__contains__: query value must be a scalar, got "
                         f"shape {xnp.shape(other)}.")
    return xnp.any(self == other)


def _view(self, dtype=None, type=None):
    """The bits of ``self`` read as ``dtype``; the last axis scales with the item sizes."""
    import numpy as np
    if type is not None:
        raise NotImplementedError("`type` argument of array.view() is not supported.")
    if dtype is None:
        return self
    dtype = dtypes.canonicalize_dtype(dtype)
    nin, nout = self.dtype.itemsize, np.dtype(dtype).itemsize
    if self.ndim == 0:
        if nin != nout:
            raise ValueError("view() of a 0d array is only supported if the itemsize is "
                             "unchanged.")
        return _view(xnp.expand_dims(self, 0), dtype).squeeze(0)
    if (self.shape[-1] * nin) % nout:
        raise ValueError("When changing to a larger dtype, its size must be a divisor of the "
                         "total size in bytes of the last axis of the array.")
    if self.dtype == dtype:
        return self
    if self.dtype == dtypes.bool_:
        return _view(self.astype("uint8"), dtype)
    if np.dtype(dtype) == dtypes.bool_:
        return _view(self, "uint8").astype(bool)
    if self.dtype.kind == "c":
        parts = xnp.stack([xnp.real(self), xnp.imag(self)], -1)
        return _view(parts.reshape(*self.shape[:-1], 2 * self.shape[-1]), dtype)
    if np.dtype(dtype).kind == "c":
        out = _view(self, xnp.finfo(dtype).dtype)
        return lax.complex(out[..., 0::2], out[..., 1::2])
    if nin < nout:
        return lax.bitcast_convert_type(
            self.reshape(*self.shape[:-1], self.shape[-1] * nin // nout, nout // nin), dtype)
    if nin > nout:
        out = lax.bitcast_convert_type(self, dtype)
        return out.reshape(*self.shape[:-1], self.shape[-1] * nin // nout)
    return lax.bitcast_convert_type(self, dtype)


def _operator_round(self, ndigits=None):
    # round(x) of a builtin float is an int, so round(x) gives the default int dtype (as JAX)
    out = xnp.round(self, ndigits or 0)
    return out.astype(int) if ndigits is None else out


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return xnp.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return xnp.transpose(self, axes or None)


def _setitem(self, idx, value):
    raise TypeError(
        f"xtrace arrays are immutable: '{type(self).__name__}' object does not support item "
        "assignment. Instead of `x[idx] = y`, use `x = x.at[idx].set(y)`.")


_OPERATORS = {
    "__setitem__": _setitem,
    "__add__": _defer(xnp.add), "__radd__": _defer(_swap(xnp.add)),
    "__sub__": _defer(xnp.subtract), "__rsub__": _defer(_swap(xnp.subtract)),
    "__mul__": _defer(xnp.multiply), "__rmul__": _defer(_swap(xnp.multiply)),
    "__truediv__": _defer(xnp.true_divide), "__rtruediv__": _defer(_swap(xnp.true_divide)),
    "__floordiv__": _defer(xnp.floor_divide), "__rfloordiv__": _defer(_swap(xnp.floor_divide)),
    "__mod__": _defer(xnp.remainder), "__rmod__": _defer(_swap(xnp.remainder)),
    "__divmod__": _defer(xnp.divmod), "__rdivmod__": _defer(_swap(xnp.divmod)),
    "__pow__": _defer(xnp.power), "__rpow__": _defer(_swap(xnp.power)),
    "__matmul__": _defer(_matmul), "__rmatmul__": _defer(_swap(_matmul)),
    "__and__": _defer(xnp.bitwise_and), "__rand__": _defer(_swap(xnp.bitwise_and)),
    "__or__": _defer(xnp.bitwise_or), "__ror__": _defer(_swap(xnp.bitwise_or)),
    "__xor__": _defer(xnp.bitwise_xor), "__rxor__": _defer(_swap(xnp.bitwise_xor)),
    "__lshift__": _defer(xnp.left_shift), "__rlshift__": _defer(_swap(xnp.left_shift)),
    "__rshift__": _defer(xnp.right_shift), "__rrshift__": _defer(_swap(xnp.right_shift)),
    "__eq__": _defer(xnp.equal), "__ne__": _defer(xnp.not_equal),
    "__lt__": _defer(xnp.less), "__le__": _defer(xnp.less_equal),
    "__gt__": _defer(xnp.greater), "__ge__": _defer(xnp.greater_equal),
    "__neg__": lambda self: xnp.negative(self), "__pos__": xnp.positive, "__abs__": xnp.absolute,
    "__invert__": xnp.invert,
    "__getitem__": indexing.getitem,
    "__contains__": _contains, "__round__": _operator_round,
}

_METHODS = {
    "astype": _astype, "reshape": _reshape, "transpose": _transpose,
    "sum": xnp.sum, "prod": xnp.prod, "mean": xnp.mean, "max": xnp.max, "min": xnp.min,
    "argmax": xnp.argmax, "argmin": xnp.argmin, "all": xnp.all, "any": xnp.any,
    "dot": xnp.dot, "ravel": xnp.ravel, "flatten": xnp.ravel, "squeeze": xnp.squeeze,
    "swapaxes": xnp.swapaxes, "conj": xnp.conj, "conjugate": xnp.conj, "clip": xnp.clip,
    "compress": _compress, "copy": _copy, "view": _view, "to_device": _to_device,
}

_PROPERTIES = {
    "T": property(lambda self: xnp.transpose(self)),
    "mT": property(lambda self: xnp.swapaxes(self, -1, -2)),
    "real": property(xnp.real), "imag": property(xnp.imag),
    "at": property(indexing._IndexUpdateHelper),
}


# NumPy ndarray methods that are the xtrace.numpy function of the same name.
_SAME_NAME_METHODS = ("argsort", "sort", "take", "nonzero", "searchsorted", "cumsum", "cumprod",
                      "var", "std", "round", "repeat", "trace", "diagonal", "ptp", "choose",
                      "argpartition")


def _same_name_method(name):
    def method(self, *args, **kwargs):
        return getattr(xnp, name)(self, *args, **kwargs)
    method.__name__ = name
    return method


def _install(cls) -> None:
    for name in _SAME_NAME_METHODS:
        setattr(cls, name, _same_name_method(name))
    for name, fn in {**_OPERATORS, **_METHODS, **_PROPERTIES}.items():
        setattr(cls, name, fn)
    cls.__array_namespace__ = lambda self, *, api_version=None: xnp


for _cls in (Array, Tracer):
    _install(_cls)

_ = (dtypes, lax)
