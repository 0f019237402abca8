"""``xtrace.numpy.ufunc``: JAX's ufunc objects (``add``, ``multiply``, ...) with ``reduce``,
``accumulate``, ``outer`` and ``at`` on top of the elementwise function."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import lax
from xtrace._src.core import Tracer


class ufunc:
    """A NumPy-style universal function over xtrace arrays (``jax.numpy.ufunc``)."""

    def __init__(self, func: Callable, name: str, nin: int, nout: int = 1, identity: Any = None,
                 reduce_fn: Callable | None = None, accumulate_fn: Callable | None = None,
                 at_op: str | None = None):
        self._func, self.__name__, self.nin, self.nout = func, name, nin, nout
        self.identity, self._reduce_fn, self._accumulate_fn = identity, reduce_fn, accumulate_fn
        self._at_op = at_op
        self.__doc__ = func.__doc__

    @property
    def nargs(self) -> int:
        return self.nin

    def __repr__(self) -> str:
        return f"<jnp.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        if out is not None:
            raise NotImplementedError(f"out argument of {self}")
        if where is not None:
            raise NotImplementedError(f"where argument of {self}")
        return self._func(*args)

    def _binary(self, method: str) -> None:
        if self.nin != 2 or self.nout != 1:
            raise ValueError(f"{method} only supported for binary ufuncs with a single output, "
                             f"got {self}")

    def outer(self, A, B, /):
        """``f(A[i, j, ...], B[k, l, ...])`` for every pair: shape ``A.shape + B.shape``."""
        self._binary("outer")
        A, B = xnp.asarray(A), xnp.asarray(B)
        return self(A.reshape(A.shape + (1,) * B.ndim), B)

    def reduce(self, a, axis: int | None = 0, dtype=None, out=None, keepdims: bool = False,
               initial=None, where=None):
        """Fold the ufunc along ``axis`` (None: all axes), as NumPy's ``ufunc.reduce``."""
        self._binary("reduce")
        if out is not None:
            raise NotImplementedError(f"out argument of {self}.reduce()")
        if self._reduce_fn is not None:
            return self._reduce_fn(a, axis=axis, dtype=dtype, keepdims=keepdims,
                                   initial=initial, where=where)
        a = xnp.asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        if axis is None or isinstance(axis, tuple):
            axes = tuple(range(a.ndim)) if axis is None else axis
            keep = [i for i in range(a.ndim) if i not in [x % a.ndim for x in axes]]
            moved = xnp.transpose(a, [x % a.ndim for x in axes] + keep)
            flat = moved.reshape((-1,) + tuple(a.shape[i] for i in keep))
            res = self.reduce(flat, 0, None, None, False, initial, None if where is None
                              else xnp.transpose(xnp.broadcast_to(where, a.shape),
                                                 [x % a.ndim for x in axes] + keep)
                              .reshape(flat.shape))
            if keepdims:
                res = xnp.expand_dims(res, sorted(x % a.ndim for x in axes))
            return res
        axis = axis % a.ndim if a.ndim else axis
        x = xnp.moveaxis(a, axis, 0)
        if where is not None:
            if self.identity is None and initial is None:
                raise ValueError(f"reduction operation {self.__name__!r} does not have an "
                                 "identity, so to use a where mask one has to specify "
                                 "'initial'.")
            fill = self.identity if initial is None else initial
            w = xnp.moveaxis(xnp.broadcast_to(where, a.shape), axis, 0)
            x = xnp.where(w, x, xnp.asarray(fill).astype(x.dtype))
        if x.shape[0] == 0 and initial is None:
            if self.identity is None:
                raise ValueError(f"zero-size array to reduction operation {self.__name__} "
                                 "which has no identity")
            initial = self.identity
        acc = x[0] if initial is None else self(xnp.asarray(initial).astype(x.dtype), x[0]) \
            if x.shape[0] else xnp.full(x.shape[1:], initial, x.dtype)
        for i in range(1, x.shape[0]):
            acc = self(acc, x[i])
        return xnp.expand_dims(acc, axis) if keepdims else acc

    def accumulate(self, a, axis: int = 0, dtype=None, out=None):
        """The running fold along ``axis`` (NumPy's ``ufunc.accumulate``)."""
        self._binary("accumulate")
        if out is not None:
            raise NotImplementedError(f"out argument of {self}.accumulate()")
        if self._accumulate_fn is not None:
            return self._accumulate_fn(a, axis=axis, dtype=dtype)
        a = xnp.asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        x = xnp.moveaxis(a, axis, 0)
        if x.shape[0] == 0:
            return a
        parts = [x[0]]
        for i in range(1, x.shape[0]):
            parts.append(self(parts[-1], x[i]).astype(x.dtype))
        return xnp.moveaxis(xnp.stack(parts), 0, axis)

    def at(self, a, indices, b=None, /, *, inplace: bool = True):
        """``a`` with the ufunc applied at ``indices`` (with ``b`` for binary ufuncs); repeated
        indices apply it again. Pass ``inplace=False``: xtrace arrays are immutable."""
        if inplace:
            raise NotImplementedError(
                "Because xtrace arrays are immutable, ufunc.at() cannot operate inplace like "
                "np.ufunc.at(). Pass inplace=False and use the result: "
                "arr = xnp.add.at(arr, ind, val, inplace=False)")
        a = xnp.asarray(a)
        if self.nin == 1:
            if b is not None:
                raise ValueError(f"{self}.at() takes no values for a unary ufunc")
            return a.at[indices].apply(self._func)
        if b is None:
            raise ValueError(f"{self}.at() needs the values b for a binary ufunc")
        if self._at_op is not None:
            if self.__name__ == "subtract":
                b = xnp.negative(b)
            return getattr(a.at[indices], self._at_op)(b)
        if isinstance(indices, (np.ndarray, list, xnp.ndarray, Tracer)) and np.ndim(indices):
            idx = xnp.asarray(indices)  # an index array may repeat: apply one at a time
            vals = xnp.broadcast_to(b, idx.shape + a.shape[1:])

            def step(k, acc):
                i = idx.ravel()[k]
                return acc.at[i].set(self(acc[i], vals.reshape((-1,) + a.shape[1:])[k]))
            return lax.fori_loop(0, idx.size, step, a)
        return a.at[indices].set(self(a[indices], b))  # ints and slices never repeat


def _cumulative(fn):
    return lambda a, axis, dtype: fn(a, axis=axis, dtype=dtype)


def _reduction(fn, has_dtype: bool = True):
    def reduce(a, axis, dtype, keepdims, initial, where):
        kw = {"dtype": dtype} if has_dtype else {}
        if not has_dtype and dtype is not None:
            a = xnp.asarray(a).astype(dtype)
        return fn(a, axis=axis, keepdims=keepdims, initial=initial, where=where, **kw)
    return reduce


def _bool_reduction(fn):
    def reduce(a, axis, dtype, keepdims, initial, where):
        a = xnp.asarray(a)
        res = fn(a, axis=axis, keepdims=keepdims, where=where)
        if initial is not None:
            res = (xnp.logical_and if fn is xnp.all else xnp.logical_or)(res, initial)
        return res if dtype is None else res.astype(dtype)
    return reduce


def make_ufuncs(ns: dict) -> None:
    """Replace JAX's ufunc names in ``ns`` (xtrace.numpy's namespace) by ufunc objects."""
    spec = {
        "add": (2, 0, _reduction(xnp.sum), _cumulative(xnp.cumsum), "add"),
        "multiply": (2, 1, _reduction(xnp.prod), _cumulative(xnp.cumprod), "multiply"),
        "maximum": (2, None, _reduction(xnp.max, False), None, "max"),
        "minimum": (2, None, _reduction(xnp.min, False), None, "min"),
        "subtract": (2, None, None, None, "subtract"),
        "logical_and": (2, True, _bool_reduction(xnp.all), None, None),
        "logical_or": (2, False, _bool_reduction(xnp.any), None, None),
        "logical_xor": (2, False, None, None, None),
        "bitwise_and": (2, -1, None, None, None),
        "bitwise_or": (2, 0, None, None, None),
        "bitwise_xor": (2, 0, None, None, None),
        "logaddexp": (2, -np.inf, None, None, None),
        "logaddexp2": (2, -np.inf, None, None, None),
        "negative": (1, None, None, None, None),
    }
    for name, (nin, ident, red, acc, at_op) in spec.items():
        ns[name] = ufunc(ns[name], name, nin, 1, ident, red, acc,
                         "add" if at_op == "subtract" else at_op)
