"""Table of test cases for every registered primitive (see tests/test_primitives.py).

Each module here defines ``CASES: dict[str, list[Case]]`` for the primitives of one
``xtrace/_src/prims`` module. A ``Case`` calls lax wrappers on xtrace arrays and names a NumPy
reference; the runner checks eager and jit results against the reference, and that tracing
``fn`` really produces the primitive.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable, Sequence

import numpy as np


@dataclasses.dataclass
class Case:
    fn: Callable[..., Any]                 # takes xtrace arrays (one per entry of args)
    args: Sequence[np.ndarray]             # NumPy inputs
    ref: Callable[..., Any]                # NumPy reference on the same inputs
    rtol: float = 1e-5
    atol: float = 1e-6
    name: str = ""                         # shown in the test id
    jit: bool = True                       # also check under jit
    x64: bool = False                      # run with enable_x64


def rand(shape, dtype=np.float32, seed=0, low=-2.0, high=2.0):
    """Deterministic test data of any dtype."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        lo, hi = max(int(low * 10), info.min), min(int(high * 10), info.max)
        return rng.integers(lo, hi + 1, size=shape).astype(dt)
    if np.issubdtype(dt, np.complexfloating):
        return (rng.uniform(low, high, shape) + 1j * rng.uniform(low, high, shape)).astype(dt)
    return rng.uniform(low, high, shape).astype(dt)


def all_cases() -> dict[str, list[Case]]:
    out: dict[str, list[Case]] = {}
    for mod in pkgutil.iter_modules(__path__):
        m = importlib.import_module(f"{__name__}.{mod.name}")
        for name, cases in getattr(m, "CASES", {}).items():
            out.setdefault(name, []).extend(cases)
    return out
