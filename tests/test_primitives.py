"""Table-driven: every registered primitive, eager and under jit, against NumPy."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import core
from tests.primitive_cases import all_cases

CASES = all_cases()
# Primitives exercised through other primitives' cases rather than on their own.
INDIRECT = {"jit_call", "custom_lin"}  # custom_lin: tested through grad of custom_vjp
# Collectives only run inside vmap/pmap (they need a named axis): see tests/test_collectives.py.
INDIRECT |= {"psum", "pmax", "pmin", "all_gather", "axis_index", "ppermute", "all_to_all",
             "reduce_scatter"}
# pmap runs on several devices: tests/test_pmap.py checks it against NumPy.
INDIRECT |= {"pmap"}
# XLA's random bits have no NumPy reference: tests/test_lax_extras.py checks them against
# JAX's recorded outputs (eagerly, under jit and vmap).
INDIRECT |= {"rng_bit_generator"}


def test_every_primitive_has_cases():
    missing = sorted(set(core.primitives) - set(CASES) - INDIRECT)
    assert not missing, f"primitives without test cases: {missing}"


def _ids():
    for prim, cases in sorted(CASES.items()):
        for i, c in enumerate(cases):
            yield pytest.param(prim, c, id=f"{prim}-{c.name or i}")


def _check(out, expected, case):
    outs = out if isinstance(out, (list, tuple)) else [out]
    exps = expected if isinstance(expected, (list, tuple)) else [expected]
    assert len(outs) == len(exps)
    for o, e in zip(outs, exps):
        e = np.asarray(e)
        o = np.asarray(o)
        assert o.shape == e.shape, (o.shape, e.shape)
        if e.dtype.kind in "fc" or o.dtype.kind in "fc":
            np.testing.assert_allclose(o.astype(np.complex128 if e.dtype.kind == "c" else
                                                np.float64),
                                       e, rtol=case.rtol, atol=case.atol)
        else:
            np.testing.assert_array_equal(o, e)


@pytest.mark.parametrize("prim,case", list(_ids()))
def test_primitive(prim, case):
    with xtrace.enable_x64(case.x64):
        args = [xnp.asarray(a) for a in case.args]
        expected = case.ref(*[np.asarray(a) for a in case.args])
        jaxpr = xtrace.make_jaxpr(case.fn)(*args)
        names = _prims_in(jaxpr.jaxpr)
        assert prim in names, f"case for {prim} traced to {sorted(names)}"
        _check(case.fn(*args), expected, case)
        if case.jit:
            _check(xtrace.jit(case.fn)(*args), expected, case)


def _prims_in(jaxpr):
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for v in eqn.params.values():
            for sub in (v if isinstance(v, tuple) else (v,)):
                if isinstance(sub, core.ClosedJaxpr):
                    names |= _prims_in(sub.jaxpr)
    return names
