"""Cases for the primitives of ``xtrace/_src/prims/higher_order.py`` (custom_linear_solve):
2x2 systems solved exactly (Cramer's rule inside ``solve``), against ``np.linalg.solve``."""
from __future__ import annotations

import numpy as np

import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases import Case


def _cramer(a):
    det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    adj = xnp.stack([xnp.stack([a[1, 1], -a[0, 1]]), xnp.stack([-a[1, 0], a[0, 0]])])
    return lambda v: (adj @ v) / det


def _solve(a, b):
    return lax.custom_linear_solve(lambda x: a @ x, b, lambda mv, v: _cramer(a)(v),
                                   lambda vm, v: _cramer(a.T)(v))


def _solve_sym(a, b):
    s = a + a.T
    return lax.custom_linear_solve(lambda x: s @ x, b, lambda mv, v: _cramer(s)(v),
                                   lambda vm, v: _cramer(s)(v), symmetric=True)


_A = np.array([[4.0, 1.0], [-1.5, 3.0]], np.float32)
_B = np.array([1.0, -2.0], np.float32)

CASES = {"custom_linear_solve": [
    Case(_solve, [_A, _B], lambda a, b: np.linalg.solve(a, b), rtol=1e-5, name="f32"),
    Case(_solve_sym, [_A.astype(np.float64), _B.astype(np.float64)],
         lambda a, b: np.linalg.solve(a + a.T, b), rtol=1e-12, name="sym_f64", x64=True),
]}
