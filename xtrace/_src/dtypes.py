"""Dtypes with JAX's semantics: 32-bit by default, weak Python scalars, the promotion lattice."""
from __future__ import annotations

import functools
from typing import Any

import ml_dtypes
import numpy as np

from xtrace._src.config import config

bfloat16 = np.dtype(ml_dtypes.bfloat16)
bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

SUPPORTED = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
             bfloat16, float16, float32, float64, complex64, complex128)
_SUPPORTED_SET = frozenset(SUPPORTED)
INEXACT_DTYPES = frozenset((bfloat16, float16, float32, float64, complex64, complex128))

_TO_32 = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}

# StableHLO element type names.
MLIR_TYPES = {
    bool_: "i1", int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "ui8", uint16: "ui16", uint32: "ui32", uint64: "ui64",
    bfloat16: "bf16", float16: "f16", float32: "f32", float64: "f64",
    complex64: "complex<f32>", complex128: "complex<f64>",
}

SHORT_NAMES = {
    bool_: "bool", int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    bfloat16: "bf16", float16: "f16", float32: "f32", float64: "f64",
    complex64: "c64", complex128: "c128",
}


def x64_enabled() -> bool:
    return config.read("enable_x64")


def canonicalize_dtype(dtype: Any) -> np.dtype:
    """The dtype xtrace really uses for ``dtype``: 64-bit types map to 32-bit unless x64 is on."""
    dt = np.dtype(dtype)
    if dt not in _SUPPORTED_SET:
        raise TypeError(f"xtrace does not support dtype {dt}; supported: "
                        + ", ".join(str(d) for d in SUPPORTED))
    if not x64_enabled():
        return _TO_32.get(dt, dt)
    return dt


def default_int() -> np.dtype:
    return int64 if x64_enabled() else int32


def default_float() -> np.dtype:
    return float64 if x64_enabled() else float32


def default_complex() -> np.dtype:
    return complex128 if x64_enabled() else complex64


def is_python_scalar(x: Any) -> bool:
    return type(x) in (bool, int, float, complex)


def python_scalar_dtype(x: Any) -> np.dtype:
    t = type(x)
    if t is bool:
        return bool_
    if t is int:
        return default_int()
    if t is float:
        return default_float()
    if t is complex:
        return default_complex()
    raise TypeError(f"not a Python scalar: {x!r}")


def issubdtype(dt: Any, kind: Any) -> bool:
    dt = np.dtype(dt)
    if dt == bfloat16:
        return kind in (np.floating, np.inexact, np.number, np.generic)
    return np.issubdtype(dt, kind)


def is_float(dt: np.dtype) -> bool:
    return dt == bfloat16 or np.issubdtype(dt, np.floating)


def is_complex(dt: np.dtype) -> bool:
    return np.issubdtype(dt, np.complexfloating)


def is_inexact(dt: np.dtype) -> bool:
    return is_float(dt) or is_complex(dt)


def is_int(dt: np.dtype) -> bool:
    return np.issubdtype(dt, np.integer)


def is_signed_int(dt: np.dtype) -> bool:
    return np.issubdtype(dt, np.signedinteger)


def is_unsigned(dt: np.dtype) -> bool:
    return np.issubdtype(dt, np.unsignedinteger)


def finfo(dt: Any):
    dt = np.dtype(dt)
    return ml_dtypes.finfo(dt) if dt == bfloat16 else np.finfo(dt)


def iinfo(dt: Any):
    return np.iinfo(np.dtype(dt))


# ---- The promotion lattice (JAX's): weak Python scalar kinds are "i*", "f*", "c*". ----
_LATTICE: dict[Any, list] = {
    bool_: ["i*"],
    "i*": [uint8, int8],
    uint8: [int16, uint16], uint16: [int32, uint32], uint32: [int64, uint64], uint64: ["f*"],
    int8: [int16], int16: [int32], int32: [int64], int64: ["f*"],
    "f*": [bfloat16, float16, "c*"],
    bfloat16: [float32], float16: [float32], float32: [float64, complex64], float64: [complex128],
    "c*": [complex64], complex64: [complex128], complex128: [],
}


def _upper_sets() -> dict:
    ups: dict = {}

    def visit(node):
        if node not in ups:
            s = {node}
            for nxt in _LATTICE[node]:
                s |= visit(nxt)
            ups[node] = frozenset(s)
        return ups[node]

    for n in _LATTICE:
        visit(n)
    return ups


_UPPER = _upper_sets()
_WEAK_NODES = {"i*": "int", "f*": "float", "c*": "complex"}


@functools.lru_cache(maxsize=None)
def _join(nodes: tuple) -> Any:
    common = frozenset.intersection(*(_UPPER[n] for n in nodes))
    for cand in common:
        if _UPPER[cand] == common:
            return cand
    raise TypeError(f"no common type for {nodes}")


def _weak_node(dt: np.dtype) -> str:
    if is_complex(dt):
        return "c*"
    if is_float(dt):
        return "f*"
    if dt == bool_:
        return bool_  # bool is never weak
    return "i*"


def promote_types_weak(*pairs: tuple[np.dtype, bool]) -> tuple[np.dtype, bool]:
    """Result (dtype, weak_type) of combining ``(dtype, weak)`` operands under JAX's lattice."""
    nodes = tuple(_weak_node(dt) if weak else dt for dt, weak in pairs)
    res = _join(nodes)
    if isinstance(res, str):
        kind = _WEAK_NODES[res]
        # A weak result keeps the width of a weak operand when one is already wider.
        dt = {"int": default_int(), "float": default_float(), "complex": default_complex()}[kind]
        return dt, True
    return canonicalize_dtype(res), False


_PY_WEAK = {int: "i*", float: "f*", complex: "c*"}


def promote_types(a: Any, b: Any) -> np.dtype:
    """``numpy.promote_types`` with JAX's lattice (no value-based casting, no canonicalizing).
    The Python types ``int``, ``float`` and ``complex`` are weak (``(uint8, int) -> uint8``),
    and without x64 a 32-bit unsigned with a signed int gives int32, as in JAX."""
    nodes = tuple(_PY_WEAK.get(t) or np.dtype(t) for t in (a, b))
    res = _join(nodes)
    if isinstance(res, str):  # e.g. int64 with uint64 meets at "f*": the widest float
        return {"i*": int64, "f*": float64, "c*": complex128}[res]
    if res == int64 and not x64_enabled() and int64 not in nodes:
        return int32  # (JAX's x32 lattice has uint32 -> int32)
    return res


def mlir_type(dt: np.dtype) -> str:
    return MLIR_TYPES[dt]
