"""Cases for sort and top_k against NumPy's stable sorts."""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand


def np_sort(operands, dimension=-1, num_keys=1):
    """Stable lexicographic sort of ``operands`` by the first ``num_keys`` (NumPy orders
    floats like lax.sort: -0.0 == 0.0, NaNs last)."""
    keys = operands[:num_keys][::-1]
    keys = [np.moveaxis(k, dimension, -1) for k in keys]
    if len(keys) == 1:
        perm = np.argsort(keys[0], axis=-1, kind="stable")
    else:
        perm = np.lexsort(keys, axis=-1)
    return [np.moveaxis(np.take_along_axis(np.moveaxis(x, dimension, -1), perm, -1), -1,
                        dimension) for x in operands]


def total_order_key(x: np.ndarray) -> np.ndarray:
    """Integer keys ordering floats as -NaN < -inf < ... < -0.0 < 0.0 < ... < inf < NaN."""
    if x.dtype.kind not in "f" and x.dtype.name != "bfloat16":
        return x.astype(np.int64)
    bits = x.view(f"i{x.dtype.itemsize}").astype(np.int64)
    return np.where(bits < 0, -(bits & ((1 << (8 * x.dtype.itemsize - 1)) - 1)) - 1, bits)


def np_top_k(x, k, axis=-1):
    """Top k along ``axis`` by XLA's total order, equal entries in index order."""
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    idx = (n - 1 - np.argsort(total_order_key(xm)[..., ::-1], axis=-1, kind="stable"))
    idx = idx[..., ::-1][..., :k]
    vals = np.take_along_axis(xm, idx, -1)
    return [np.moveaxis(vals, -1, axis), np.moveaxis(idx.astype(np.int32), -1, axis)]


def _iota_like(x, dim):
    return np.broadcast_to(np.expand_dims(np.arange(x.shape[dim], dtype=np.int32),
                                          tuple(i for i in range(x.ndim) if i != dim % x.ndim)),
                           x.shape).copy()


def _sort_case(args, name, dimension=-1, num_keys=1, is_stable=True, x64=False, single=False):
    if single:
        fn = lambda x: lax.sort(x, dimension, is_stable)  # noqa: E731
        ref = lambda x: np_sort([x], dimension)[0]  # noqa: E731
    else:
        fn = lambda *xs: lax.sort(xs, dimension, is_stable, num_keys)  # noqa: E731
        ref = lambda *xs: np_sort(list(xs), dimension, num_keys)  # noqa: E731
    return Case(fn, args, ref, name=name, x64=x64)


_special = np.array([1.5, np.nan, -0.0, 0.0, -np.inf, -np.nan, 2.0, np.inf, 0.0, -0.0, np.nan,
                     -3.0, 1.5], np.float32)
_dups = np.round(rand((5, 7), seed=3) * 1.5).astype(np.float32)   # many equal keys
_ties = np.array([[3, 1, 3, 2, 1, 3], [0, 0, 0, 0, 0, 0], [5, 4, 3, 2, 1, 0]], np.int32)

CASES = {
    "sort": [
        _sort_case([rand((11,), seed=1)], "f32_1d", single=True),
        _sort_case([rand((4, 5, 6), seed=2)], "f32_3d_dim0", dimension=0, single=True),
        _sort_case([rand((4, 5, 6), seed=2)], "f32_3d_dim1", dimension=1, single=True),
        _sort_case([rand((4, 5, 6), seed=2)], "f32_3d_dim2", dimension=-1, single=True),
        _sort_case([rand((3, 8), np.int32, seed=4)], "int32", single=True),
        _sort_case([rand((9,), np.uint8, seed=5, low=0, high=25)], "uint8", single=True),
        _sort_case([rand((10,), np.bool_, seed=6)], "bool", single=True),
        _sort_case([(np.round(rand((8,), seed=7)) + 1j * rand((8,), seed=17)).astype(
            np.complex64)], "complex64", single=True),
        _sort_case([rand((2, 6), np.float64, seed=8)], "f64_x64", dimension=0, x64=True,
                   single=True),
        # NaNs (of both signs) last, -0.0 == 0.0: the index operand checks stability.
        _sort_case([_special, np.arange(_special.size, dtype=np.int32)], "nan_zero_stable"),
        _sort_case([_dups, _iota_like(_dups, 1)], "stable_dups_dim1", dimension=1),
        _sort_case([_dups, _iota_like(_dups, 0), rand((5, 7), np.int32, seed=9)],
                   "three_operands_dim0", dimension=0),
        _sort_case([_dups, np.round(rand((5, 7), seed=10)).astype(np.int32),
                    _iota_like(_dups, 1)], "num_keys2", num_keys=2),
        _sort_case([rand((3, 7), seed=11), rand((3, 7), np.int32, seed=12)], "unstable",
                   is_stable=False),
        Case(lambda k, v: lax.sort_key_val(k, v), [_ties, rand((3, 6), seed=13)],
             lambda k, v: np_sort([k, v]), name="sort_key_val"),
    ],
    "top_k": [
        Case(lambda x: lax.top_k(x, 3), [rand((10,), seed=14)], lambda x: np_top_k(x, 3),
             name="f32_1d"),
        Case(lambda x: lax.top_k(x, 1), [_ties], lambda x: np_top_k(x, 1), name="k1_ties"),
        Case(lambda x: lax.top_k(x, 6), [_ties], lambda x: np_top_k(x, 6), name="k_n_ties"),
        Case(lambda x: lax.top_k(x, _special.size), [_special],
             lambda x: np_top_k(x, _special.size), name="nan_zero_inf"),
        Case(lambda x: lax.top_k(x, 2), [_dups], lambda x: np_top_k(x, 2), name="dups_2d"),
        Case(lambda x: lax.top_k(x, 2, axis=0), [rand((4, 3, 2), seed=15)],
             lambda x: np_top_k(x, 2, axis=0), name="axis0"),
        Case(lambda x: lax.top_k(x, 3), [rand((2, 5), np.uint8, seed=16, low=0, high=1)],
             lambda x: np_top_k(x, 3), name="uint8"),
        Case(lambda x: lax.top_k(x, 0), [rand((2, 5), seed=17)], lambda x: np_top_k(x, 0),
             name="k0"),
    ],
}
