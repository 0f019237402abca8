"""Collectives (psum, pmean, pmax, pmin, all_gather, axis_index, ppermute, all_to_all,
psum_scatter) under vmap against NumPy, their derivatives against finite differences, and
their StableHLO lowerings compiled for 4 replicas (executing them comes with pmap).

Reference semantics: the examples of a vmap over axis 'i' are the devices along 'i'; over a
tuple of axes they are ordered by their linear index, the first axis major.
"""
import contextlib

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax, vmap
from xtrace._src import backend, core, lowering

RTOL = 1e-5


def _vmap(f, name="i", **kw):
    return xtrace.vmap(f, axis_name=name, **kw)


def _jvmap(f, **kw):
    """jit(vmap(f)): one compiled program per test instead of one per primitive."""
    return xtrace.jit(_vmap(f, **kw))


def _close(out, ref, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(out), ref, rtol=rtol, atol=1e-6)


# ---- NumPy references: a function of the whole batch X (examples along axis 0) ----

def ref_all_gather(X, axis, tiled):
    one = np.concatenate(list(X), axis=axis) if tiled else np.stack(list(X), axis=axis)
    return np.stack([one] * len(X))


def ref_ppermute(X, perm):
    out = np.zeros_like(X)
    for s, d in perm:
        out[d] = X[s]
    return out


def ref_all_to_all(X, split, concat, tiled):
    n = len(X)
    if tiled:
        return np.stack([np.concatenate([np.split(X[j], n, axis=split)[i] for j in range(n)],
                                        axis=concat) for i in range(n)])
    return np.stack([np.stack([np.take(X[j], i, axis=split) for j in range(n)], axis=concat)
                     for i in range(n)])


def ref_psum_scatter(X, dim, tiled):
    s = X.sum(0)
    n = len(X)
    if tiled:
        return np.stack(np.split(s, n, axis=dim))
    return np.stack([np.take(s, i, axis=dim) for i in range(n)])


@pytest.fixture
def X(rng):
    return rng.standard_normal((4, 4, 3)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Each collective inside vmap


def test_reductions(X):
    _close(_vmap(lambda v: lax.psum(v, "i"))(X), np.broadcast_to(X.sum(0), X.shape))
    _close(_vmap(lambda v: lax.pmean(v, "i"))(X), np.broadcast_to(X.mean(0), X.shape))
    _close(_vmap(lambda v: lax.pmax(v, "i"))(X), np.broadcast_to(X.max(0), X.shape))
    _close(_vmap(lambda v: lax.pmin(v, "i"))(X), np.broadcast_to(X.min(0), X.shape))


def test_reductions_batch_dim_not_leading(X):
    # Mapped along axis 1; the reduced value is unbatched and comes out broadcast.
    out = _vmap(lambda v: lax.psum(v, "i"), in_axes=1, out_axes=1)(X)
    _close(out, np.broadcast_to(X.sum(1, keepdims=True), X.shape))


def test_psum_pytree_bool_and_constants(X):
    xs = np.arange(4)
    out = _vmap(lambda v: lax.psum({"a": v, "b": (v > 1, 2.0)}, "i"))(xs)
    _close(out["a"], np.full(4, 6))
    assert out["b"][0].dtype == np.int32
    _close(out["b"][0], np.full(4, 2))
    _close(out["b"][1], np.full(4, 8.0))  # a Python scalar: times the axis size
    assert out["b"][1].weak_type
    # An unmapped operand is the same on every example: psum multiplies by the size.
    out = _vmap(lambda v, c: lax.psum(c, "i") + 0 * v, in_axes=(0, None))(xs, np.float32(1.5))
    _close(out, np.full(4, 6.0))
    assert np.asarray(_vmap(lambda v: lax.pmean(v, "i"))(xs)).dtype == np.float32


def test_pmax_pmin_ints(X):
    xs = np.array([3, -1, 7, 2], np.int32)
    _close(_vmap(lambda v: (lax.pmax(v, "i"), lax.pmin(v, "i")))(xs)[0], np.full(4, 7))
    _close(_vmap(lambda v: lax.pmin(v, "i"))(xs), np.full(4, -1))


@pytest.mark.parametrize("axis,tiled", [(0, False), (1, False), (2, False), (-1, False),
                                        (0, True), (1, True)])
def test_all_gather(X, axis, tiled):
    out = _jvmap(lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled))(X)
    _close(out, ref_all_gather(X, axis % (X.ndim if not tiled else X.ndim - 1), tiled))


def test_all_gather_batch_dim_last(X):
    out = _jvmap(lambda v: lax.all_gather(v, "i", axis=1), in_axes=2, out_axes=0)(
        np.moveaxis(X, 0, 2))
    _close(out, ref_all_gather(X, 1, False))


def test_axis_index(X):
    out = _vmap(lambda v: lax.axis_index("i") + 0 * v.astype(np.int32)[0, 0])(X)
    np.testing.assert_array_equal(np.asarray(out), np.arange(4))
    out = _vmap(lambda v: lax.axis_index("i"), axis_size=3, in_axes=None)(1.0)
    np.testing.assert_array_equal(np.asarray(out), np.arange(3))
    assert out.dtype == np.int32


@pytest.mark.parametrize("perm", [[(0, 1), (1, 2), (2, 3), (3, 0)],   # cyclic shift
                                  [(0, 2), (3, 1)],                   # partial: zeros elsewhere
                                  [(1, 1)], []])
def test_ppermute(X, perm):
    _close(_jvmap(lambda v: lax.ppermute(v, "i", perm))(X), ref_ppermute(X, perm))
    out = _jvmap(lambda v: lax.ppermute(v, "i", perm), in_axes=1, out_axes=1)(X)
    _close(out, np.swapaxes(ref_ppermute(np.swapaxes(X, 0, 1), perm), 0, 1))


def test_ppermute_unmapped_operand(X):
    out = _jvmap(lambda v, c: lax.ppermute(c, "i", [(0, 1), (1, 2)]) + 0 * v[0, 0],
                in_axes=(0, None))(X, X[0])
    _close(out, np.stack([np.zeros_like(X[0]), X[0], X[0], np.zeros_like(X[0])]))


@pytest.mark.parametrize("split,concat", [(0, 0), (0, 1), (1, 0), (0, 2), (2, 1)])
def test_all_to_all(rng, split, concat):
    shape = [3, 2, 5]
    shape[split] = 4  # the axis size
    X = rng.standard_normal([4] + shape).astype(np.float32)
    out = _jvmap(lambda v: lax.all_to_all(v, "i", split, concat))(X)
    _close(out, ref_all_to_all(X, split, concat, False))


@pytest.mark.parametrize("split,concat", [(0, 0), (0, 1), (1, 0)])
def test_all_to_all_tiled(rng, split, concat):
    X = rng.standard_normal((4, 8, 8)).astype(np.float32)
    out = _jvmap(lambda v: lax.all_to_all(v, "i", split, concat, tiled=True), in_axes=1)(
        np.moveaxis(X, 0, 1))
    _close(out, ref_all_to_all(X, split, concat, True))


@pytest.mark.parametrize("dim,tiled", [(0, False), (1, False), (0, True), (1, True)])
def test_psum_scatter(rng, dim, tiled):
    shape = [3, 3]
    shape[dim] = 8 if tiled else 4
    X = rng.standard_normal([4] + shape).astype(np.float32)
    out = _jvmap(lambda v: lax.psum_scatter(v, "i", scatter_dimension=dim, tiled=tiled))(X)
    _close(out, ref_psum_scatter(X, dim, tiled))


# ---------------------------------------------------------------------------------------------
# Two named axes: nested vmap, collectives over one axis and over both (axis_name tuple)


def _nested(f, X, in_axes=0):
    return xtrace.jit(xtrace.vmap(xtrace.vmap(f, axis_name="j", in_axes=in_axes),
                                  axis_name="i"))(X)


def _ref_both(ref, X, order=("i", "j")):
    """Apply a single-axis reference over the linear index of axes (i, j) of X[i, j, ...]."""
    Y = X if order == ("i", "j") else np.swapaxes(X, 0, 1)
    a, b = Y.shape[:2]
    out = ref(Y.reshape((a * b,) + Y.shape[2:]))
    out = out.reshape((a, b) + out.shape[1:])
    return out if order == ("i", "j") else np.swapaxes(out, 0, 1)


@pytest.fixture
def X2(rng):
    return rng.standard_normal((2, 3, 6, 2)).astype(np.float32)


@pytest.mark.parametrize("order", [("i", "j"), ("j", "i")])
def test_nested_reductions_and_index(X2, order):
    out = _nested(lambda v: lax.psum(v, order), X2)
    _close(out, np.broadcast_to(X2.sum((0, 1)), X2.shape))
    _close(_nested(lambda v: lax.pmax(v, order), X2), np.broadcast_to(X2.max((0, 1)), X2.shape))
    _close(_nested(lambda v: lax.psum(v, "i"), X2), np.broadcast_to(X2.sum(0), X2.shape))
    # The inner vmap maps axis 1 of X2[i] (size 6): examples X2[i, :, k].
    out = _nested(lambda v: lax.pmean(v, "j"), X2, in_axes=1)
    _close(out, np.broadcast_to(np.moveaxis(X2, 2, 1).mean(1, keepdims=True), out.shape))
    idx = _nested(lambda v: lax.axis_index(order), X2)
    lin = np.arange(6).reshape(2, 3) if order == ("i", "j") else np.arange(6).reshape(3, 2).T
    np.testing.assert_array_equal(np.asarray(idx), lin)


@pytest.mark.parametrize("order", [("i", "j"), ("j", "i")])
@pytest.mark.parametrize("tiled", [False, True])
def test_nested_all_gather(X2, order, tiled):
    out = _nested(lambda v: lax.all_gather(v, order, axis=1, tiled=tiled), X2)
    _close(out, _ref_both(lambda Y: ref_all_gather(Y, 1, tiled), X2, order))
    out = _nested(lambda v: lax.all_gather(v, "i", axis=0), X2)
    _close(out, np.stack([np.stack([X2[:, j]] * 2) for j in range(3)], 1))


@pytest.mark.parametrize("order", [("i", "j"), ("j", "i")])
def test_nested_ppermute(X2, order):
    perm = [(0, 5), (5, 3), (3, 1), (2, 0)]
    out = _nested(lambda v: lax.ppermute(v, order, perm), X2)
    _close(out, _ref_both(lambda Y: ref_ppermute(Y, perm), X2, order))
    out = _nested(lambda v: lax.ppermute(v, "i", [(0, 1), (1, 0)]), X2)
    _close(out, X2[::-1])


@pytest.mark.parametrize("order", [("i", "j"), ("j", "i")])
@pytest.mark.parametrize("split,concat", [(0, 0), (0, 1), (1, 0)])
def test_nested_all_to_all(rng, order, split, concat):
    shape = [2, 3, 6, 6]
    X = rng.standard_normal(shape).astype(np.float32)
    out = _nested(lambda v: lax.all_to_all(v, order, split, concat), X)
    _close(out, _ref_both(lambda Y: ref_all_to_all(Y, split, concat, False), X, order))
    out = _nested(lambda v: lax.all_to_all(v, order, split, concat, tiled=True),
                  np.concatenate([X, X], axis=2 + split))
    ref = _ref_both(lambda Y: ref_all_to_all(Y, split, concat, True),
                    np.concatenate([X, X], axis=2 + split), order)
    _close(out, ref)
    X3 = rng.standard_normal((2, 3, 2, 5)).astype(np.float32)  # over the outer axis only
    out = _nested(lambda v: lax.all_to_all(v, "i", 0, 1), X3)
    _close(out, np.stack([ref_all_to_all(X3[:, j], 0, 1, False) for j in range(3)], 1))


@pytest.mark.parametrize("order", [("i", "j"), ("j", "i")])
@pytest.mark.parametrize("tiled", [False, True])
def test_nested_psum_scatter(rng, order, tiled):
    X = rng.standard_normal((2, 3, 3, 12 if tiled else 6)).astype(np.float32)
    out = _nested(lambda v: lax.psum_scatter(v, order, scatter_dimension=1, tiled=tiled), X)
    _close(out, _ref_both(lambda Y: ref_psum_scatter(Y, 1, tiled), X, order), rtol=1e-4)
    # Over the outer axis only, the inner vmap mapping axis 1 of X[i]: examples X[i, :, k].
    X = rng.standard_normal((2, 2, 3, 5)).astype(np.float32)
    out = _nested(lambda v: lax.psum_scatter(v, "i", scatter_dimension=0), X, in_axes=1)
    _close(out, X.sum(0), rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# jit


def test_jit_of_vmap_and_vmap_of_jit(X):
    def f(v):
        return (lax.psum(v, "i"), lax.all_gather(v, "i", axis=1), lax.axis_index("i"),
                lax.ppermute(v, "i", [(0, 1), (1, 0)]))
    ref = (np.broadcast_to(X.sum(0), X.shape), ref_all_gather(X, 1, False), np.arange(4),
           ref_ppermute(X, [(0, 1), (1, 0)]))
    for g in (xtrace.jit(_vmap(f)), _vmap(xtrace.jit(f))):
        for o, r in zip(g(X), ref):
            _close(o, r)


def test_staged_collective_prints_in_jaxpr(X):
    with core.extend_axis_env("i", 4):
        jaxpr = xtrace.make_jaxpr(lambda v: lax.psum(v, "i"))(X[0])
    assert "psum[axes=('i',)]" in str(jaxpr)


# ---------------------------------------------------------------------------------------------
# Unbound axis names


def test_unbound_axis_name(X):
    with pytest.raises(NameError, match="unbound axis name: 'i'"):
        lax.psum(X, "i")
    with pytest.raises(NameError, match="unbound axis name: 'j'.*in scope: 'i'"):
        _vmap(lambda v: lax.psum(v, "j"))(X)
    with pytest.raises(NameError, match="unbound axis name"):
        xtrace.jit(lambda v: lax.all_gather(v, "i"))(X)
    with pytest.raises(NameError, match="unbound axis name"):
        lax.axis_index("i")


def test_bad_shapes(X):
    with pytest.raises(ValueError, match="all_to_all requires"):
        _vmap(lambda v: lax.all_to_all(v, "i", 1, 0))(X)
    with pytest.raises(ValueError, match="must match the size"):
        _vmap(lambda v: lax.psum_scatter(v, "i", scatter_dimension=1))(X)
    with pytest.raises(ValueError, match="unique"):
        _vmap(lambda v: lax.ppermute(v, "i", [(0, 1), (2, 1)]))(X)


# ---------------------------------------------------------------------------------------------
# Derivatives: per-example gradients under vmap(grad) transpose the collectives (psum to psum,
# all_gather to psum_scatter, ...), so they are the gradient of the sum over the batch, which
# grad(vmap) computes from the batched primitives. Both against finite differences.


def _fd_total(f, X, eps=1e-4):
    """Central differences of sum(vmap(f)(X)) with respect to every entry of X (float64)."""
    total = xtrace.jit(lambda Y: _vmap(f)(Y).sum())
    F = lambda Y: float(total(Y))  # noqa: E731
    g = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        d = np.zeros_like(X)
        d[idx] = eps
        g[idx] = (F(X + d) - F(X - d)) / (2 * eps)
    return g


SCALAR_FNS = {
    "psum": lambda v: lax.psum(xnp.sin(v), "i").sum() * v[0, 0],
    "pmean": lambda v: (lax.pmean(v ** 2, "i") * v).sum(),
    "all_gather": lambda v: (lax.all_gather(v, "i") ** 2 * xnp.arange(4.0)[:, None]).sum(),
    "all_gather_tiled": lambda v: (xnp.cos(lax.all_gather(v, "i", tiled=True)) * v[0]).sum(),
    "ppermute": lambda v: (lax.ppermute(v, "i", [(0, 1), (1, 3), (3, 0)]) * v ** 2).sum(),
    "all_to_all": lambda v: (lax.all_to_all(v, "i", 0, 1) ** 2 * xnp.arange(4.0)).sum(),
    "psum_scatter": lambda v: (lax.psum_scatter(v, "i") * xnp.sin(v[1])).sum(),
}


@pytest.mark.parametrize("name", sorted(SCALAR_FNS))
def test_grad_rules(x64, rng, name):
    f = SCALAR_FNS[name]
    X = rng.standard_normal((4, 4, 2))
    ref = _fd_total(f, X)
    per_example = xtrace.jit(_vmap(xtrace.grad(f)))(X)
    np.testing.assert_allclose(np.asarray(per_example), ref, rtol=1e-6, atol=1e-7)
    total = xtrace.jit(xtrace.grad(lambda Y: _vmap(f)(Y).sum()))(X)
    np.testing.assert_allclose(np.asarray(total), ref, rtol=1e-6, atol=1e-7)


def test_grad_psum_matches_jax():
    # Values JAX 0.10.2 gives: psum transposes to psum (the gradient of the batch's sum).
    x = np.arange(1.0, 5.0, dtype=np.float32)
    f = lambda v: lax.psum(v ** 2, "i")  # noqa: E731
    _close(_vmap(xtrace.grad(f))(x), [8.0, 16.0, 24.0, 32.0])
    _close(_vmap(xtrace.grad(lambda v: lax.pmean(v ** 2, "i")))(x), [2.0, 4.0, 6.0, 8.0])
    _close(_vmap(xtrace.grad(lambda v: v * lax.psum(v, "i")))(x), [20.0] * 4)
    out = _vmap(lambda v: xtrace.jvp(lambda u: lax.psum(u ** 2, "i"), (v,), (1.0,)))(x)
    _close(out[0], [30.0] * 4)
    _close(out[1], [20.0] * 4)


def test_pmax_has_no_derivative_rule():
    # As in JAX; under grad(vmap(...)) pmax is a reduce_max, which has one.
    x = np.arange(1.0, 5.0, dtype=np.float32)
    with pytest.raises(NotImplementedError, match="pmax"):
        _vmap(xtrace.grad(lambda v: lax.pmax(v ** 2, "i")))(x)
    g = xtrace.grad(lambda y: _vmap(lambda v: lax.pmin(v ** 2, "i"))(y).sum())(x)
    _close(g, [8.0, 0.0, 0.0, 0.0])


# ---------------------------------------------------------------------------------------------
# Lowerings compile for 4 replicas


def _compile(f, args, axis_env):
    """Stage ``f`` with the named axes of ``axis_env`` in scope (as pmap will), lower it for
    those axes and compile it for 4 replicas; returns the module text."""
    with contextlib.ExitStack() as stack:
        for name, size in axis_env:
            stack.enter_context(core.extend_axis_env(name, size))
        closed = xtrace.make_jaxpr(f)(*args)
    text = lowering.lower_module(closed, axis_env=axis_env)
    backend.compile(text, devs=xtrace.devices()[:4], num_replicas=4)
    return text


def test_lowerings_compile(X):
    def f(v, n):
        return (lax.psum(v, "i"), lax.pmax(v, "i"), lax.pmin(n, "i"), lax.pmean(v, "i"),
                lax.all_gather(v, "i"), lax.all_gather(v, "i", axis=1, tiled=True),
                lax.axis_index("i"), lax.ppermute(v, "i", [(0, 1), (1, 2), (2, 3), (3, 0)]),
                lax.ppermute(v, "i", [(0, 2)]), lax.ppermute(v, "i", []),
                lax.all_to_all(v, "i", 0, 1), lax.all_to_all(v, "i", 0, 0, tiled=True),
                lax.psum_scatter(v, "i"), lax.psum_scatter(v, "i", scatter_dimension=1,
                                                           tiled=True))
    text = _compile(f, (xnp.asarray(np.ones((4, 8), np.float32)),
                        xnp.asarray(np.ones(3, np.int32))), [("i", 4)])
    for op in ("all_reduce", "all_gather", "collective_permute", "all_to_all", "reduce_scatter",
               "replica_id"):
        assert f'"stablehlo.{op}"' in text
    assert "replica_groups = dense<[[0, 1, 2, 3]]> : tensor<1x4xi64>" in text


def test_lowerings_compile_two_axes():
    def f(v):
        return (lax.psum(v, "j"), lax.psum(v, ("i", "j")), lax.all_gather(v, "i"),
                lax.axis_index(("i", "j")), lax.ppermute(v, "j", [(0, 1)]),
                lax.all_to_all(v, "i", 0, 0, tiled=True), lax.psum_scatter(v, "j", tiled=True))
    text = _compile(f, (xnp.asarray(np.ones((4, 2), np.float32)),), [("i", 2), ("j", 2)])
    assert "replica_groups = dense<[[0, 1], [2, 3]]> : tensor<2x2xi64>" in text  # over j
    assert "replica_groups = dense<[[0, 2], [1, 3]]> : tensor<2x2xi64>" in text  # over i
    assert "source_target_pairs = dense<[[0, 1], [2, 3]]> : tensor<2x2xi64>" in text


def test_collectives_inside_unbatched_jit_and_loops():
    # Calls whose operands are all unbatched still reach the batching rule when their inner
    # Jaxpr uses the vmapped axis.
    v = np.arange(4, dtype=np.float32)
    out = vmap(lambda x: xtrace.jit(lambda: lax.axis_index("i"))() + x, axis_name="i")(v)
    np.testing.assert_array_equal(np.asarray(out), v + np.arange(4))
    loop = vmap(lambda x: lax.fori_loop(0, 2, lambda k, c: c + lax.axis_index("i"), 0) + x,
                axis_name="i")
    np.testing.assert_array_equal(np.asarray(loop(v)), v + 2 * np.arange(4))


def test_jit_retraces_for_a_new_axis_size():
    f = xtrace.jit(lambda x: lax.all_gather(x, "i").reshape(-1))
    for n in (4, 2):
        v = np.arange(n, dtype=np.float32)
        out = vmap(f, axis_name="i")(v)
        np.testing.assert_array_equal(np.asarray(out), np.broadcast_to(v, (n, n)))
