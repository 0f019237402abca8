"""Cases for ``xtrace/_src/prims/decompositions.py``: cholesky and triangular_solve, against
NumPy's factorization and solve on the triangle the parameters select."""
from __future__ import annotations

import numpy as np

from xtrace.lax import linalg
from tests.primitive_cases import Case, rand

CASES: dict[str, list[Case]] = {}


def _spd(shape, dtype, seed):
    """Hermitian positive-definite matrices (a stack when ``shape`` has batch dims)."""
    m = rand(shape, dtype, seed, -1.0, 1.0)
    n = shape[-1]
    return (m @ np.conj(np.swapaxes(m, -1, -2)) + n * np.eye(n)).astype(dtype)


def _chol_ref(a):
    a = np.asarray(a)
    return np.linalg.cholesky((a + np.conj(np.swapaxes(a, -1, -2))) / 2)


CASES["cholesky"] = [
    Case(linalg.cholesky, [_spd((3, 3), np.float32, 0)], _chol_ref, rtol=1e-5, atol=1e-5),
    Case(linalg.cholesky, [_spd((2, 4, 4), np.float64, 1)], _chol_ref, rtol=1e-12, atol=1e-12,
         x64=True, name="f64-batch"),
    Case(linalg.cholesky, [_spd((3, 3), np.complex64, 2)], _chol_ref, rtol=1e-5, atol=1e-5,
         name="c64"),
]

# (left_side, lower, transpose_a, conjugate_a, unit_diagonal)
_PARAMS = [(True, True, False, False, False), (True, False, True, False, False),
           (False, True, False, False, True), (False, False, True, False, False)]


def _op(a, lower, transpose_a, conjugate_a, unit_diagonal):
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t = t - np.diag(np.diag(t)) + np.eye(t.shape[-1])
    t = np.conj(t) if conjugate_a else t
    return t.T if transpose_a else t


def _ts_fn(params):
    def fn(a, b):
        return tuple(linalg.triangular_solve(a, b if left else b.T, left_side=left, lower=lo,
                                             transpose_a=tr, conjugate_a=cj,
                                             unit_diagonal=ud)
                     for left, lo, tr, cj, ud in params)
    return fn


def _ts_ref(params):
    def ref(a, b):
        a, b = np.asarray(a, np.complex128), np.asarray(b, np.complex128)
        out = []
        for left, lo, tr, cj, ud in params:
            t = _op(a, lo, tr, cj, ud)
            out.append(np.linalg.solve(t, b) if left else np.linalg.solve(t.T, b).T)
        return tuple(out)
    return ref


def _well_conditioned(shape, dtype, seed):
    return (rand(shape, dtype, seed, -1.0, 1.0) + 4 * np.eye(shape[-1])).astype(dtype)


CASES["triangular_solve"] = [
    Case(_ts_fn(_PARAMS), [_well_conditioned((3, 3), np.float32, 3),
                           rand((3, 2), np.float32, 4)], _ts_ref(_PARAMS)),
    Case(_ts_fn([(True, True, True, True, False), (False, False, False, True, False)]),
         [_well_conditioned((3, 3), np.complex64, 5), rand((3, 3), np.complex64, 6)],
         _ts_ref([(True, True, True, True, False), (False, False, False, True, False)]),
         name="c64"),
]
