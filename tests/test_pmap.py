"""pmap on 4 CPU devices (tests/conftest.py sets XTRACE_NUM_CPU_DEVICES=4): collectives,
in_axes/out_axes, sharded results, composition with grad and vmap, errors. Expected values
come from NumPy on the concatenated data."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax, pmap, vmap

N = 4
rng = np.random.default_rng(0)
X = rng.standard_normal((N, 3)).astype(np.float32)


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def test_four_devices():
    assert xtrace.device_count() >= N


# ---- collectives across devices ----


def test_psum_pmean_pmax_pmin():
    _close(pmap(lambda v: lax.psum(v, "i"), "i")(X), np.broadcast_to(X.sum(0), X.shape))
    _close(pmap(lambda v: lax.pmean(v, "i"), "i")(X), np.broadcast_to(X.mean(0), X.shape))
    _close(pmap(lambda v: lax.pmax(v, "i"), "i")(X), np.broadcast_to(X.max(0), X.shape))
    _close(pmap(lambda v: lax.pmin(v, "i"), "i")(X), np.broadcast_to(X.min(0), X.shape))
    ints = np.arange(8, dtype=np.int32).reshape(N, 2)
    np.testing.assert_array_equal(np.asarray(pmap(lambda v: lax.psum(v, "i"), "i")(ints)),
                                  np.broadcast_to(ints.sum(0), ints.shape))


def test_all_gather_axis_index_ppermute():
    out = pmap(lambda v: lax.all_gather(v, "i"), "i")(X)
    _close(out, np.broadcast_to(X, (N,) + X.shape))
    tiled = pmap(lambda v: lax.all_gather(v, "i", tiled=True), "i")(X)
    _close(tiled, np.broadcast_to(X.reshape(-1), (N, 3 * N)))
    idx = pmap(lambda v: lax.axis_index("i") + 0 * v[0].astype(np.int32), "i")(X)
    np.testing.assert_array_equal(np.asarray(idx), np.arange(N))
    perm = [(i, (i + 1) % N) for i in range(N)]
    _close(pmap(lambda v: lax.ppermute(v, "i", perm), "i")(X), np.roll(X, 1, axis=0))
    partial = pmap(lambda v: lax.ppermute(v, "i", [(0, 2)]), "i")(X)
    want = np.zeros_like(X)
    want[2] = X[0]
    _close(partial, want)


def test_all_to_all_and_psum_scatter():
    a = rng.standard_normal((N, N, 2)).astype(np.float32)
    out = pmap(lambda v: lax.all_to_all(v, "i", 0, 0), "i")(a)
    _close(out, np.swapaxes(a, 0, 1))
    s = pmap(lambda v: lax.psum_scatter(v, "i"), "i")(a)
    _close(s, a.sum(0))
    st = pmap(lambda v: lax.psum_scatter(v, "i", tiled=True), "i")(a.reshape(N, N * 2))
    _close(st, a.reshape(N, N * 2).sum(0).reshape(N, 2))


def test_two_named_axes_with_vmap_inside():
    a = rng.standard_normal((N, 2, 3)).astype(np.float32)
    f = pmap(vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j"), "i")
    _close(f(a), np.broadcast_to(a.sum((0, 1)), a.shape), 1e-5, 1e-5)
    g = pmap(vmap(lambda v: lax.psum(v, "i") * lax.axis_index("j"), axis_name="j"), "i")
    _close(g(a), np.broadcast_to(a.sum(0)[None] * np.arange(2)[None, :, None], a.shape),
           1e-5, 1e-5)


# ---- in_axes / out_axes / statics / results ----


def _mlp(w, x):
    return xnp.tanh(x @ w)


def test_pmap_matches_unmapped_function():
    w = rng.standard_normal((3, 5)).astype(np.float32)
    xs = rng.standard_normal((N, 6, 3)).astype(np.float32)
    out = pmap(_mlp, in_axes=(None, 0))(w, xs)
    _close(out, np.tanh(xs @ w), 1e-5, 1e-5)
    assert out.shape == (N, 6, 5)


def test_in_axes_out_axes_variants():
    xs = rng.standard_normal((3, N)).astype(np.float32)
    _close(pmap(lambda v: v * 2, in_axes=1)(xs), (xs * 2).T)
    _close(pmap(lambda v: v * 2, in_axes=1, out_axes=1)(xs), xs * 2)
    c = pmap(lambda v, s: lax.psum(v, "i") * s, "i", in_axes=(0, None), out_axes=None)(
        X, np.float32(2))
    _close(c, X.sum(0) * 2)
    d = pmap(lambda p: p["a"] + p["b"], in_axes=({"a": 0, "b": None},))(
        {"a": X, "b": np.ones(3, np.float32)})
    _close(d, X + 1)
    _close(pmap(lambda v, *, k: v * k)(X, k=np.arange(N, dtype=np.float32)),
           X * np.arange(N)[:, None])


def test_fewer_shards_than_devices():
    out = pmap(lambda v: lax.psum(v, "i"), "i")(X[:2])
    _close(out, np.broadcast_to(X[:2].sum(0), (2, 3)))


def test_static_broadcasted_argnums():
    f = pmap(lambda v, n: v ** n, static_broadcasted_argnums=1)
    _close(f(X, 2), X ** 2)
    _close(f(X, 3), X ** 3)


def test_sharded_result_behaves_like_an_array():
    y = pmap(lambda v: v + 1)(X)
    assert y.shape == (N, 3) and y.dtype == np.float32
    assert len(y.devices()) == N
    # feeding it into the next pmap uses the pieces where they are (no gather to one device)
    z = pmap(lambda v: v * 2)(y)
    assert y._buf is None and y._shards is not None
    _close(z, (X + 1) * 2)
    _close(y[1], X[1] + 1)
    _close(y.sum(), (X + 1).sum(), 1e-5, 1e-5)
    _close(xnp.mean(y, axis=0), (X + 1).mean(0))
    assert "Array(" in repr(y)


def test_device_put_replicated_and_sharded():
    devs = xtrace.devices()[:N]
    r = xtrace.device_put_replicated({"w": np.arange(3, dtype=np.float32)}, devs)
    assert r["w"].shape == (N, 3)
    _close(r["w"], np.broadcast_to(np.arange(3), (N, 3)))
    s = xtrace.device_put_sharded([X[i] for i in range(N)], devs)
    _close(s, X)
    out = pmap(lambda a, b: a * b)(r["w"], s)
    _close(out, X * np.arange(3))


def test_donate_argnums():
    y = pmap(lambda v: v + 1)(X)
    z = pmap(lambda v: v * 2, donate_argnums=0)(y)
    _close(z, (X + 1) * 2)
    assert y.is_deleted()


# ---- differentiation ----


def _loss(w, x, t):
    return xnp.mean((xnp.tanh(x @ w) - t) ** 2)


def test_data_parallel_sgd_step_matches_single_device():
    w = rng.standard_normal((3, 2)).astype(np.float32)
    xs = rng.standard_normal((N * 8, 3)).astype(np.float32)
    ts = rng.standard_normal((N * 8, 2)).astype(np.float32)

    def step(w, x, t):
        g = xtrace.grad(_loss)(w, x, t)
        return w - 0.1 * lax.pmean(g, "batch")

    new_w = pmap(step, "batch", in_axes=(None, 0, 0))(w, xs.reshape(N, 8, 3),
                                                      ts.reshape(N, 8, 2))
    want = w - 0.1 * np.asarray(xtrace.grad(_loss)(w, xs, ts))
    for k in range(N):
        _close(new_w[k], want, 1e-5, 1e-6)
    # NumPy reference for the gradient itself
    y = np.tanh(xs @ w)
    g = xs.T @ ((2 * (y - ts) / ts.size) * (1 - y ** 2))
    _close(want, w - 0.1 * g, 1e-5, 1e-6)


def test_grad_of_pmap_with_shared_parameter():
    w = rng.standard_normal((3,)).astype(np.float32)
    f = lambda w: pmap(lambda w, x: xnp.sum(xnp.sin(x * w)), in_axes=(None, 0))(w, X).sum()
    _close(xtrace.grad(f)(w), (np.cos(X * w) * X).sum(0), 1e-5, 1e-5)


def test_grad_through_psum_transpose():
    # out_k = psum_j x_j^2 on every device k; d(sum_k out_k)/dx_j = N * 2 x_j
    f = lambda x: pmap(lambda v: lax.psum(v ** 2, "i"), "i")(x).sum()
    _close(xtrace.grad(f)(X), N * 2 * X, 1e-5, 1e-5)
    # pmap of grad: the classic per-device rule, psum transposes to psum
    g = pmap(xtrace.grad(lambda v: lax.psum(xnp.sum(v ** 2), "i")), "i")(X)
    _close(g, N * 2 * X, 1e-5, 1e-5)


def test_jvp_of_pmap():
    t = np.ones_like(X)
    y, ty = xtrace.jvp(lambda x: pmap(xnp.sin)(x), (X,), (t,))
    _close(y, np.sin(X))
    _close(ty, np.cos(X))


def test_vmap_of_pmap():
    a = rng.standard_normal((2, N, 3)).astype(np.float32)
    out = vmap(pmap(lambda v: lax.psum(v, "i"), "i"))(a)
    _close(out, np.broadcast_to(a.sum(1, keepdims=True), a.shape), 1e-5, 1e-5)


# ---- errors ----


def test_error_too_many_shards_names_both_numbers():
    with pytest.raises(ValueError, match=rf"size 9 .* only {xtrace.device_count()} devices"):
        pmap(lambda v: v)(np.zeros((9, 2), np.float32))


def test_error_mismatched_leading_sizes():
    with pytest.raises(ValueError, match=r"(?s)inconsistent sizes.*size 4.*size 2"):
        pmap(lambda a, b: a + b)(X, X[:2])


def test_error_unknown_axis_name():
    with pytest.raises(NameError, match="unbound axis name: 'j'"):
        pmap(lambda v: lax.psum(v, "j"), "i")(X)


def test_error_pmap_inside_jit_is_explained():
    with pytest.raises(NotImplementedError, match="pmap inside jit"):
        xtrace.jit(lambda x: pmap(lambda v: v + 1)(x))(X)


def test_devices_argument():
    devs = xtrace.devices()[1:3]
    out = pmap(lambda v: lax.psum(v, "i"), "i", devices=devs)(X[:2])
    _close(out, np.broadcast_to(X[:2].sum(0), (2, 3)))
    assert out.devices() == set(devs)
    with pytest.raises(ValueError, match="2 devices but the mapped axis has size 4"):
        pmap(lambda v: v, devices=devs)(X)
