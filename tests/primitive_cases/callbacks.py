"""Cases for ``xtrace/_src/prims/callbacks.py``: host callbacks computing with NumPy.

``pure_callback`` and ``io_callback`` are not differentiable (the autodiff table skips them);
``debug_callback`` returns nothing, so its case returns its operand (the derivative table
checks the identity).
"""
from __future__ import annotations

import numpy as np

import xtrace
from xtrace.experimental import io_callback
from tests.primitive_cases import Case, rand

CASES: dict[str, list[Case]] = {}


def _pure(x, y):
    out = xtrace.ShapeDtypeStruct(np.broadcast_shapes(x.shape, y.shape), x.dtype)
    return xtrace.pure_callback(lambda a, b: np.hypot(a, b).astype(a.dtype), out, x, y,
                                vmap_method="broadcast_all")


def _io(x):
    return io_callback(lambda a: np.cumsum(a, axis=-1, dtype=a.dtype),
                       xtrace.ShapeDtypeStruct(x.shape, x.dtype), x)


def _debug(x):
    xtrace.debug.callback(lambda a: None, x)
    return x


CASES["pure_callback"] = [
    Case(_pure, [rand((2, 3)), rand((2, 3), seed=1)], np.hypot, name="hypot"),
    Case(_pure, [rand((4,), np.int32), rand((4,), np.int32, seed=1)],
         lambda a, b: np.hypot(a, b).astype(np.int32), name="int"),
]
CASES["io_callback"] = [Case(_io, [rand((2, 3))], lambda a: np.cumsum(a, axis=-1))]
CASES["debug_callback"] = [Case(_debug, [rand((3,))], lambda a: a)]
