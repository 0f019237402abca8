"""Table-driven vmap check over the primitive registry.

Every case of tests/primitive_cases runs under ``jit(vmap(fn, in_axes, out_axes))`` on a batch
of two different examples per mapped argument; the result must equal the NumPy reference
computed example by example and stacked. Two variants per case between them map every argument
and leave every argument unmapped at least once, at several axis positions (negative ones
included) and with both leading and trailing ``out_axes``.
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import core
from tests.primitive_cases import all_cases
from tests.test_primitives import INDIRECT, _check, _prims_in

CASES = all_cases()
B = 2  # batch size


def test_every_primitive_has_a_batching_rule():
    missing = sorted(n for n, p in core.primitives.items() if p.batch is None)
    assert not missing, f"primitives without a batching rule: {missing}"


def _other_example(a: np.ndarray) -> np.ndarray:
    """A second, different but equally valid example: the same values in another order
    (whole rows for integer arrays, which often hold indices with a range per column)."""
    a = np.asarray(a)
    if a.ndim == 0 or a.size <= 1:
        return a.copy()
    if a.dtype.kind in "iu":
        return a[::-1].copy()
    return a.reshape(-1)[::-1].reshape(a.shape).copy()


def _axes(case_index: int, args, variant: int):
    """in_axes per argument: variant 0 maps arguments 0, 2, 4... (at rotating positions),
    variant 1 the others; arguments of a one-argument case are mapped in both."""
    axes = []
    for j, a in enumerate(args):
        mapped = (j + variant + case_index) % 2 == 0 or len(args) == 1
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
    for prim, cases in sorted(CASES.items()):
        for i, c in enumerate(cases):
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
        _check(xtrace.jit(f)(*args), expected, case)
