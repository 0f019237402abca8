"""Table-driven autodiff checks over the primitive registry, in float64.

For each differentiable primitive (one with a JVP rule that is not declared zero), take its
cases from tests/primitive_cases, and check on the floating-point inputs:
* JVP against central finite differences (order 1),
* the JVP of the JVP against finite differences of the JVP (order 2),
* the VJP by the dot-product test <v, J u> = <J^T v, u> (transpose rules).
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import core
from tests.primitive_cases import all_cases
from tests.test_primitives import _prims_in

CASES = all_cases()
EPS = 1e-6
# Primitives whose derivative is not defined by a rule here (yet), with the reason.
NO_RULE_YET = {
    "digamma": "needs polygamma",
}


def _float_positions(args):
    return [i for i, a in enumerate(args)
            if np.asarray(a).dtype.kind == "f" and np.asarray(a).size > 0]


def _differentiable_cases():
    for name, cases in sorted(CASES.items()):
        prim = core.primitives.get(name)
        if prim is None or getattr(prim, "differentiable", True) is False:
            continue
        if name in NO_RULE_YET:
            continue
        # Cases already in float64 first; others are converted to float64.
        picked = sorted((c for c in cases if _float_positions(c.args)),
                        key=lambda c: not any(np.asarray(a).dtype == np.float64
                                              for a in c.args))
        if picked:
            yield pytest.param(name, picked, id=name)


def _setup(case):
    args = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
            for a in case.args]
    pos = _float_positions(case.args)

    def f(*fargs):
        full = [xnp.asarray(a) for a in args]
        for i, v in zip(pos, fargs):
            full[i] = v
        out = case.fn(*full)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return [o for o in outs if np.dtype(o.dtype).kind == "f"]

    return f, [args[i] for i in pos]


def _fd(f, xs, us, eps=EPS):
    plus = f(*[xnp.asarray(x + eps * u) for x, u in zip(xs, us)])
    minus = f(*[xnp.asarray(x - eps * u) for x, u in zip(xs, us)])
    return [(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(plus, minus)]


@pytest.mark.parametrize("name,cases", list(_differentiable_cases()))
def test_derivatives(name, cases):
    checked = 0
    for case in cases:
        if checked == 2:
            break
        with xtrace.enable_x64(True):
            f, xs = _setup(case)
            try:  # cases written for float32 may assert their dtypes
                jaxpr = xtrace.make_jaxpr(lambda *a: f(*a))(*[xnp.asarray(x) for x in xs])
            except AssertionError:
                continue
            if name not in _prims_in(jaxpr.jaxpr):
                continue
            if _check(f, xs):
                checked += 1
    assert checked, f"no float64-capable case exercised {name}"


def _check(f, xs):
    if True:
        rng = np.random.default_rng(0)
        us = [rng.standard_normal(x.shape) for x in xs]
        primals = tuple(xnp.asarray(x) for x in xs)
        tangents = tuple(xnp.asarray(u) for u in us)
        outs, touts = xtrace.jvp(lambda *a: f(*a), primals, tangents)
        if not outs:
            return False
        # order 1: JVP vs central differences
        for t, e in zip(touts, _fd(f, xs, us)):
            np.testing.assert_allclose(np.asarray(t), e, rtol=1e-5, atol=1e-6)
        # transpose: <v, J u> == <J^T v, u>
        vs = [rng.standard_normal(np.shape(o)) for o in outs]
        _, f_vjp = xtrace.vjp(lambda *a: f(*a), *primals)
        cts = f_vjp([xnp.asarray(v) for v in vs])
        lhs = sum(float(np.sum(v * np.asarray(t))) for v, t in zip(vs, touts))
        rhs = sum(float(np.sum(np.asarray(c) * u)) for c, u in zip(cts, us))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-6, atol=1e-8)

        # order 2: derivative of the JVP along the same direction
        def df(*a):
            return xtrace.jvp(lambda *b: f(*b), a, tangents)[1]

        _, t2 = xtrace.jvp(df, primals, tangents)
        for t, e in zip(t2, _fd(df, xs, us, eps=1e-4)):
            np.testing.assert_allclose(np.asarray(t), e, rtol=1e-4, atol=1e-5)
        return True
