"""Cases for the control-flow primitives cond, while and scan (bodies written with lax/numpy ops
on xtrace arrays, references in plain NumPy/Python loops)."""
from __future__ import annotations

import numpy as np

import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases import Case, rand


# ---- cond (lax.cond and lax.switch) ----
def _np_switch(i, branches, *ops):
    return branches[min(max(int(i), 0), len(branches) - 1)](*ops)


_SWITCH = [lambda v: v * 2, lambda v: v - 1, lambda v: -v]
_cond_cases = [
    Case(lambda p, x: lax.cond(p > 0, lambda v: v * 2, lambda v: v - 1, x),
         [np.int32(3), rand((3,))], lambda p, x: x * 2 if p > 0 else x - 1, name="f32_true"),
    Case(lambda p, x: lax.cond(p > 0, lambda v: v * 2, lambda v: v - 1, x),
         [np.int32(-3), rand((3,))], lambda p, x: x * 2 if p > 0 else x - 1, name="f32_false"),
    Case(lambda p, x: lax.cond(p, lambda v: v + v.T, lambda v: v * 3, x),
         [np.bool_(True), rand((3, 3), np.int32)], lambda p, x: x + x.T if p else x * 3,
         name="i32_bool_pred"),
    Case(lambda p, x: lax.cond(p, lambda v: xnp.sin(v), lambda v: xnp.cos(v), x),
         [np.bool_(False), rand((2, 3), np.float64)],
         lambda p, x: np.sin(x) if p else np.cos(x), x64=True, name="f64"),
    Case(lambda p, x: lax.cond(p, lambda v: v * 1j, lambda v: xnp.conj(v), x),
         [np.int32(0), rand((4,), np.complex64)],
         lambda p, x: x * 1j if p else np.conj(x), name="c64_int_pred"),
    Case(lambda p, x, y: lax.cond(p, lambda a, b: (b, a & b), lambda a, b: (a | b, a), x, y),
         [np.bool_(True), rand((5,), np.bool_, 1), rand((5,), np.bool_, 2)],
         lambda p, x, y: (y, x & y) if p else (x | y, x), name="bool_pytree"),
    Case(lambda p, x: lax.cond(p, lambda v: v + np.uint8(7), lambda v: v // np.uint8(2), x),
         [np.bool_(True), rand((2, 2), np.uint8, low=0)],
         lambda p, x: x + np.uint8(7) if p else x // np.uint8(2), name="u8"),
    Case(lambda p, x: lax.cond(p, lambda: x.sum(), lambda: x.max()),  # no operands: closure
         [np.bool_(False), rand((6,))], lambda p, x: x.sum() if p else x.max(), name="closure"),
    Case(lambda i, x: lax.switch(i, _SWITCH, x), [np.int32(1), rand((2, 3))],
         lambda i, x: _np_switch(i, _SWITCH, x), name="switch"),
    Case(lambda i, x: lax.switch(i, _SWITCH, x), [np.int32(-5), rand((2, 3))],
         lambda i, x: _np_switch(i, _SWITCH, x), name="switch_clamp_low"),
    Case(lambda i, x: lax.switch(i, _SWITCH, x), [np.uint32(9), rand((4,), np.int16)],
         lambda i, x: _np_switch(i, _SWITCH, x), name="switch_clamp_high_i16"),
]


# ---- while ----
def _np_newton_sqrt(a):
    y = np.ones_like(a)
    for _ in range(100):
        if np.all(np.abs(y * y - a) <= 1e-4 * a):
            break
        y = 0.5 * (y + a / y)
    return y


def _newton_sqrt(a):
    return lax.while_loop(lambda y: xnp.any(xnp.abs(y * y - a) > 1e-4 * a),
                          lambda y: 0.5 * (y + a / y), xnp.ones_like(a))


def _np_doublings(n):
    k, v = 0, 1
    while k < n:
        k, v = k + 1, v * 2
    return np.int32(k), np.int32(v)


def _np_u8(x):
    while x.max() < 200:
        x = (x + x // 2 + 1).astype(np.uint8)
    return x


def _np_c64(x):
    while np.real(x * np.conj(x)).sum() < 100.0:
        x = (x * (1 + 1j)).astype(np.complex64)
    return x


_while_cases = [
    Case(lambda n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2), (0, 1)),
         [np.int32(10)], _np_doublings, name="i32_count"),
    Case(lambda n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2), (0, 1)),
         [np.int32(-1)], _np_doublings, name="zero_trips"),
    Case(_newton_sqrt, [rand((5,), low=0.5, high=9.0)], _np_newton_sqrt, rtol=1e-4,
         name="f32_newton"),
    Case(_newton_sqrt, [rand((2, 3), np.float64, low=0.5, high=9.0)], _np_newton_sqrt,
         rtol=1e-4, x64=True, name="f64_newton"),
    Case(lambda x: lax.while_loop(lambda v: v.max() < 200, lambda v: v + v // 2 + 1, x),
         [np.array([1, 5, 9], np.uint8)], _np_u8, name="u8"),
    Case(lambda x: lax.while_loop(lambda v: xnp.real(v * xnp.conj(v)).sum() < 100.0,
                                  lambda v: v * (1 + 1j), x),
         [np.array([0.5 + 0.25j, -0.5j], np.complex64)], _np_c64, rtol=1e-5,
         name="c64"),
]


# ---- scan (lax.scan, fori_loop with concrete bounds, lax.map) ----
def _cumsum_scan(xs, **kw):
    return lax.scan(lambda c, x: (c + x, c + x), xnp.zeros(xs.shape[1:], xs.dtype), xs, **kw)


def _np_scan(f, init, xs):
    carry, ys = init, []
    for x in xs:
        carry, y = f(carry, x)
        ys.append(y)
    return carry, np.stack(ys)


_scan_cases = [
    Case(_cumsum_scan, [rand((6, 3))],
         lambda xs: (xs.sum(0), np.cumsum(xs, 0)), name="f32_cumsum"),
    Case(lambda xs: _cumsum_scan(xs, reverse=True), [rand((5,), np.int32)],
         lambda xs: (xs.sum(0), np.cumsum(xs[::-1])[::-1]), name="i32_reverse"),
    Case(lambda xs: _cumsum_scan(xs, unroll=2), [rand((7, 2), np.float64)],
         lambda xs: (xs.sum(0), np.cumsum(xs, 0)), x64=True, name="f64_unroll2"),
    Case(lambda xs: _cumsum_scan(xs, unroll=True, reverse=True), [rand((4, 2, 2), np.int16)],
         lambda xs: (xs.sum(0, dtype=np.int16), np.cumsum(xs[::-1], 0, dtype=np.int16)[::-1]),
         name="i16_full_unroll"),
    Case(lambda xs: _cumsum_scan(xs), [rand((0, 3))],
         lambda xs: (np.zeros(3, np.float32), np.zeros((0, 3), np.float32)), name="empty"),
    Case(lambda xs: lax.scan(lambda c, x: (c * x, c), xnp.ones_like(xs[0]), xs),
         [rand((4, 3), np.complex64)],
         lambda xs: _np_scan(lambda c, x: (c * x, c), np.ones_like(xs[0]), xs), name="c64"),
    Case(lambda a, b: lax.scan(lambda c, x: ((c[0] | x["p"], c[1] + x["n"]), x["n"] * 2),
                               (xnp.zeros(3, bool), 0), {"p": a, "n": b}),
         [rand((5, 3), np.bool_), rand((5,), np.int32)],
         lambda a, b: ((a.any(0), b.sum()), b * 2), name="pytree_bool"),
    Case(lambda x: lax.scan(lambda c, _: (c * 2, c), x, None, length=4), [rand((2,))],
         lambda x: (x * 16, np.stack([x, 2 * x, 4 * x, 8 * x])), name="xs_none"),
    Case(lambda x: lax.fori_loop(0, 5, lambda i, c: c * 2 + i, x), [rand((3,), np.int32)],
         lambda x: ((((x * 2) * 2 + 1) * 2 + 2) * 2 + 3) * 2 + 4, name="fori_concrete"),
    Case(lambda x: lax.map(lambda r: (r.sum(), r[::-1]), x), [rand((4, 3), np.float16)],
         lambda x: (x.sum(1), x[:, ::-1]), rtol=1e-2, atol=1e-2, name="map_f16"),
]


def _flat(f):
    """Flatten nested tuple outputs (the runner compares a flat list of arrays)."""
    def g(*a):
        out, stack = [], [f(*a)]
        while stack:
            v = stack.pop(0)
            if isinstance(v, (tuple, list)):
                stack[:0] = list(v)
            else:
                out.append(v)
        return out
    return g


for _c in _scan_cases + _while_cases + _cond_cases:
    _c.fn, _c.ref = _flat(_c.fn), _flat(_c.ref)

CASES = {"cond": _cond_cases, "while": _while_cases, "scan": _scan_cases}

def _barrier_flat(tree):
    out = lax.optimization_barrier(tree)
    return out[0], out[1]["y"]


CASES["optimization_barrier"] = [
    Case(lambda x, y: lax.optimization_barrier((lax.sin(x), y)), [rand((3, 4)),
                                                                  np.arange(5, dtype=np.int32)],
         lambda x, y: (np.sin(x), y), name="pytree"),
    Case(lambda x, y: _barrier_flat([x, {"y": y}]),
         [rand((2, 3), np.float64, 1), rand((4,), np.float64, 2)],
         lambda x, y: (x, y), name="f64", x64=True),
]
