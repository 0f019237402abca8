"""Table-driven vmap check over the primitive registry.

Every case of tests/primitive_cases runs under ``jit(vmap(fn, in_axes, out_axes))`` on a batch
of two different examples per mapped argument; the result must equal the NumPy reference
computed example by example and stacked. One variant per case maps every argument, the other
every other argument, at several axis positions (negative ones included) and with leading and
trailing ``out_axes``.
"""
import dataclasses

import ml_dtypes
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import core
from tests.primitive_cases import all_cases
from tests.test_primitives import INDIRECT, _check, _prims_in

CASES = all_cases()
B = 2  # batch size


# Primitives without operands never see a batched value, so they need no rule.
NULLARY = {"iota"}


def test_every_primitive_has_a_batching_rule():
    missing = sorted(n for n, p in core.primitives.items() if p.batch is None
                     and n not in NULLARY)
    assert not missing, f"primitives without a batching rule: {missing}"


def _other_example(a: np.ndarray) -> np.ndarray:
    """A second, different but equally valid example: the same values in another order
    (whole rows for integer arrays, which often hold indices with a range per column)."""
    a = np.asarray(a)
    if a.ndim == 0 or a.size <= 1:  # scalars: flip the low bit / halve
        if a.dtype.kind in "iu":
            return a ^ np.ones((), a.dtype)
        if a.dtype.kind == "b":
            return ~a
        return (a * np.asarray(0.5, a.dtype)).astype(a.dtype)
    if a.dtype.kind in "iu":
        return a[::-1].copy()
    return a.reshape(-1)[::-1].reshape(a.shape).copy()


def _axes(case_index: int, args, variant: int):
    """in_axes per argument: variant 0 maps every argument (at rotating positions), variant 1
    every other one (which ones alternates between cases); a one-argument case is mapped in
    both."""
    axes = []
    for j, a in enumerate(args):
        mapped = variant == 0 or (j + case_index) % 2 == 0 or len(args) == 1
        if not mapped:
            axes.append(None)
            continue
        nd = np.ndim(a) + 1
        choice = (case_index + j + 2 * variant) % 3
        axes.append([0, -1, nd // 2][choice] if nd > 1 else 0)
    return axes


def _stack(results, out_axis):
    outs = [r if isinstance(r, (list, tuple)) else [r] for r in results]
    stacked = []
    for k in range(len(outs[0])):
        parts = [np.asarray(o[k]) for o in outs]
        ax = out_axis if out_axis >= 0 else parts[0].ndim + 1 + out_axis
        stacked.append(np.stack(parts, axis=ax))
    return stacked if isinstance(results[0], (list, tuple)) else stacked[0]


def _ids():
    seen = set()  # a shared (Group) case is registered under several primitives: run it once
    for prim, cases in sorted(CASES.items()):
        for i, c in enumerate(cases):
            if id(c) in seen:
                continue
            seen.add(id(c))
            for variant in (0, 1):
                yield pytest.param(prim, i, c, variant, id=f"{prim}-{c.name or i}-v{variant}")


@pytest.mark.parametrize("prim,index,case,variant", list(_ids()))
def test_vmap_primitive(prim, index, case, variant):
    with xtrace.enable_x64(case.x64):
        in_axes = _axes(index, case.args, variant)
        examples = [[np.asarray(a), _other_example(a)] for a in case.args]
        batched = [np.asarray(a) if ax is None else np.stack(ex, axis=ax)
                   for a, ax, ex in zip(case.args, in_axes, examples)]
        out_axis = 0 if variant == 0 else -1
        per_example = [case.ref(*[ex[k] if ax is not None else np.asarray(a)
                                  for a, ax, ex in zip(case.args, in_axes, examples)])
                       for k in range(B)]
        expected = _stack(per_example, out_axis)
        f = xtrace.vmap(case.fn, in_axes=tuple(in_axes), out_axes=out_axis, axis_size=B)
        args = [xnp.asarray(a) for a in batched]
        if prim not in INDIRECT:
            names = _prims_in(xtrace.make_jaxpr(case.fn)(*[xnp.asarray(a)
                                                           for a in case.args]).jaxpr)
            assert prim in names
        _check_ulps(xtrace.jit(f)(*args), expected, case)


def _check_ulps(out, expected, case):
    """``_check`` allowing 2 ulps more: with an operand shared by the batch, XLA may turn
    ``x / broadcast(y)`` into ``x * broadcast(1 / y)`` (as it does for JAX)."""
    outs = out if isinstance(out, (list, tuple)) else [out]
    exps = expected if isinstance(expected, (list, tuple)) else [expected]
    assert len(outs) == len(exps)
    for o, e in zip(outs, exps):
        o = np.asarray(o)
        dt = o.dtype
        eps = float(ml_dtypes.finfo(dt).eps) if dt.kind in "fcV" or dt.name == "bfloat16" \
            else 0.0
        c = dataclasses.replace(case, rtol=max(case.rtol, 2 * eps))
        e = np.asarray(e)
        if eps and e.dtype != dt and e.dtype.kind in "fc" and dt.name != "bfloat16":  # new input pairs may overflow
            with np.errstate(over="ignore", invalid="ignore"):
                e = e.astype(dt) if dt.kind == "c" or e.dtype.kind != "c" else e
        _check(o, e, c)
