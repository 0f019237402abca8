"""vmap's API (in_axes / out_axes / axis_size, errors) and the patterns users rely on: the MNIST
predict function, per-example gradients, pairwise distances, Jacobians, random keys. Every
expected value comes from NumPy (or recorded JAX answers for random streams)."""
import json
import pathlib

import ml_dtypes
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
import xtrace.random as xr
from xtrace import lax, vmap

rng = np.random.default_rng(0)


def _close(a, b, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# in_axes / out_axes


X = rng.standard_normal((3, 4)).astype(np.float32)
Y = rng.standard_normal((4,)).astype(np.float32)


def test_in_axes_int_none_negative_tuple():
    _close(vmap(lambda a, b: a * b)(X, X), X * X)
    _close(vmap(lambda a, b: a + b, in_axes=(0, None))(X, Y), X + Y)
    _close(vmap(lambda a: a * 2, in_axes=-1)(X), (X * 2).T)
    _close(vmap(lambda a: a * 2, in_axes=1)(X), (X * 2).T)
    _close(vmap(lambda a, b: a - b, in_axes=[1, 0])(X, X.T), (X - X).T)
    _close(vmap(lambda a, b: a * b, in_axes=(None, 0))(Y, X), Y * X)


def test_out_axes():
    _close(vmap(lambda a: a * 2, out_axes=1)(X), (X * 2).T)
    _close(vmap(lambda a: a * 2, out_axes=-1)(X), (X * 2).T)
    a, b = vmap(lambda a: (a, a.sum()), out_axes=(1, 0))(X)
    _close(a, X.T)
    _close(b, X.sum(1))
    # an unbatched output with out_axes=None comes back once; a batched one is broadcast
    c, d = vmap(lambda a, b: (b * 2, b), in_axes=(0, None), out_axes=(None, 0))(X, Y)
    _close(c, Y * 2)
    _close(d, np.broadcast_to(Y, (3, 4)))


def test_pytree_prefixes_and_kwargs():
    params = {"w": rng.standard_normal((5, 2)).astype(np.float32),
              "b": rng.standard_normal((2,)).astype(np.float32)}
    xs = rng.standard_normal((6, 5)).astype(np.float32)
    f = vmap(lambda p, x: x @ p["w"] + p["b"], in_axes=({"w": None, "b": None}, 0))
    _close(f(params, xs), xs @ params["w"] + params["b"], 1e-5, 1e-5)
    g = vmap(lambda p, x: x @ p["w"] + p["b"], in_axes=(None, 0))
    _close(g(params, xs), xs @ params["w"] + params["b"], 1e-5, 1e-5)
    # keyword arguments are mapped along axis 0
    h = vmap(lambda x, *, scale: x * scale)
    _close(h(X, scale=np.arange(3, dtype=np.float32)), X * np.arange(3)[:, None])
    out = vmap(lambda x: {"a": x, "b": [x + 1, x * 2]}, out_axes={"a": 0, "b": 1})(X)
    _close(out["a"], X)
    _close(out["b"][0], (X + 1).T)


def test_axis_size_and_unmapped_function():
    out = vmap(lambda: xnp.ones(2), axis_size=3)()
    _close(out, np.ones((3, 2)))
    out = vmap(lambda y: y * 2, in_axes=None, axis_size=2)(Y)
    _close(out, np.stack([Y * 2] * 2))


def test_size_zero_batch():
    out = vmap(lambda a: a * 2)(np.zeros((0, 3), np.float32))
    assert out.shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# errors


def test_error_inconsistent_sizes_names_arguments():
    with pytest.raises(ValueError, match=r"(?s)inconsistent sizes.*'a'.*size 3.*'b'.*size 4"):
        vmap(lambda a, b: a)(X, Y)


def test_error_axis_out_of_range():
    with pytest.raises(ValueError, match=r"axis 2.*rank.*at least 3.*\(3, 4\).*'a'"):
        vmap(lambda a: a, in_axes=2)(X)
    with pytest.raises(ValueError, match=r"rank.*at least 1.*\(\)"):
        vmap(lambda a: a)(1.0)


def test_error_no_mapped_argument():
    with pytest.raises(ValueError, match="at least one non-None value in in_axes"):
        vmap(lambda a: a, in_axes=None)(X)
    with pytest.raises(ValueError, match="at least one argument"):
        vmap(lambda: 1.0)()


def test_error_in_axes_length_and_type():
    with pytest.raises(ValueError, match=r"len\(in_axes\)=1, len\(args\)=2"):
        vmap(lambda a, b: a, in_axes=(0,))(X, X)
    with pytest.raises(TypeError, match="in_axes must be an int, None"):
        vmap(lambda a: a, in_axes="0")
    with pytest.raises(ValueError, match="tree prefix"):
        vmap(lambda p: p, in_axes=({"w": 0},))({"v": X})


def test_error_out_axes_none_on_batched_output():
    with pytest.raises(ValueError, match="out_axes is None"):
        vmap(lambda a: a, out_axes=None)(X)


def test_error_axis_size_mismatch():
    with pytest.raises(ValueError, match="axis_size=5"):
        vmap(lambda a: a, axis_size=5)(X)


def test_python_control_flow_on_batched_value_is_explained():
    def f(x):
        if x.sum() > 0:
            return x
        return -x
    with pytest.raises(TypeError, match="lax.cond"):
        vmap(f)(X)


# ---------------------------------------------------------------------------------------------
# The MNIST pattern: predict for ONE image, vmapped over a batch


SIZES = [784, 64, 32, 10]


def _init(sizes, seed=0):
    r = np.random.default_rng(seed)
    return [(r.standard_normal((n, m)).astype(np.float32) * 0.05,
             r.standard_normal((n,)).astype(np.float32) * 0.05)
            for m, n in zip(sizes[:-1], sizes[1:])]


def predict(params, image):
    act = image
    for w, b in params[:-1]:
        act = xnp.tanh(xnp.dot(w, act) + b)
    w, b = params[-1]
    logits = xnp.dot(w, act) + b
    return logits - xtrace.nn.logsumexp(logits)


def _np_predict(params, images):
    act = images
    for w, b in params[:-1]:
        act = np.tanh(act @ w.T + b)
    w, b = params[-1]
    logits = act @ w.T + b
    m = logits.max(-1, keepdims=True)
    return logits - (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))


IMAGES = np.random.default_rng(1).random((16, 784), dtype=np.float32)


def test_batched_predict_matches_numpy():
    params = _init(SIZES)
    batched = vmap(predict, in_axes=(None, 0))
    _close(batched(params, IMAGES), _np_predict(params, IMAGES), 1e-4, 1e-5)
    _close(xtrace.jit(batched)(params, IMAGES), _np_predict(params, IMAGES), 1e-4, 1e-5)
    _close(vmap(xtrace.jit(predict), in_axes=(None, 0))(params, IMAGES),
           _np_predict(params, IMAGES), 1e-4, 1e-5)


def _eqns(jaxpr):
    out = []
    for e in jaxpr.eqns:
        out.append(e)
        for v in e.params.values():
            if isinstance(v, xtrace._src.core.ClosedJaxpr):
                out += _eqns(v.jaxpr)
    return out


def test_batched_predict_ir_is_one_matmul_per_layer():
    params = _init(SIZES)
    jaxpr = xtrace.make_jaxpr(vmap(predict, in_axes=(None, 0)))(params, IMAGES).jaxpr
    eqns = _eqns(jaxpr)
    dots = [e for e in eqns if e.primitive.name == "dot_general"]
    assert len(dots) == len(SIZES) - 1
    for e in dots:  # each carries the batch of 16 in its result
        assert 16 in e.outputs[0].aval.shape and e.outputs[0].aval.ndim == 2
    names = {e.primitive.name for e in eqns}
    assert not names & {"while", "scan", "cond"}
    # the weights are used as they are: no transpose of an unbatched weight matrix
    weight_vars = set(jaxpr.invars[0:2 * (len(SIZES) - 1):2])
    assert not [e for e in eqns if e.primitive.name == "transpose"
                and e.inputs[0] in weight_vars]


# ---------------------------------------------------------------------------------------------
# Per-example gradients (vmap of grad) against hand-written NumPy backprop


def _mlp_loss(params, x, y):
    (w1, b1), (w2, b2) = params
    h = xnp.tanh(w1 @ x + b1)
    out = w2 @ h + b2
    return xnp.sum((out - y) ** 2)


def _np_mlp_grads(params, x, y):
    (w1, b1), (w2, b2) = params
    z = w1 @ x + b1
    h = np.tanh(z)
    out = w2 @ h + b2
    d_out = 2 * (out - y)
    g_w2, g_b2 = np.outer(d_out, h), d_out
    d_z = (w2.T @ d_out) * (1 - h ** 2)
    return [(np.outer(d_z, x), d_z), (g_w2, g_b2)]


def test_per_example_gradients():
    r = np.random.default_rng(3)
    params = [(r.standard_normal((5, 4)).astype(np.float32), r.standard_normal(5).astype(np.float32)),
              (r.standard_normal((3, 5)).astype(np.float32), r.standard_normal(3).astype(np.float32))]
    xs = r.standard_normal((7, 4)).astype(np.float32)
    ys = r.standard_normal((7, 3)).astype(np.float32)
    per_ex = vmap(xtrace.grad(_mlp_loss), in_axes=(None, 0, 0))(params, xs, ys)
    jitted = xtrace.jit(vmap(xtrace.grad(_mlp_loss), in_axes=(None, 0, 0)))(params, xs, ys)
    for got in (per_ex, jitted):
        for k in range(7):
            want = _np_mlp_grads(params, xs[k], ys[k])
            for (gw, gb), (ww, wb) in zip(got, want):
                _close(gw[k], ww, 1e-4, 1e-4)
                _close(gb[k], wb, 1e-4, 1e-4)


def test_grad_of_vmap():
    r = np.random.default_rng(4)
    w = r.standard_normal((3,)).astype(np.float32)
    xs = r.standard_normal((5, 3)).astype(np.float32)
    f = lambda w: vmap(lambda w, x: xnp.sin(xnp.dot(w, x)), in_axes=(None, 0))(w, xs).sum()
    _close(xtrace.grad(f)(w), (np.cos(xs @ w)[:, None] * xs).sum(0), 1e-5, 1e-5)


def test_vmap_of_value_and_grad_and_hessian():
    xs = np.linspace(-1, 1, 6, dtype=np.float32)
    v, g = vmap(xtrace.value_and_grad(lambda x: x ** 3))(xs)
    _close(v, xs ** 3)
    _close(g, 3 * xs ** 2)
    h = vmap(xtrace.hessian(lambda x: xnp.sum(x ** 3)))(np.stack([xs, -xs]))
    _close(h, np.stack([np.diag(6 * xs), np.diag(-6 * xs)]), 1e-5, 1e-5)


# ---------------------------------------------------------------------------------------------
# Nested vmap, Jacobians, composition with jit


def test_nested_vmap_pairwise_distances():
    a = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    dist = lambda x, y: xnp.sqrt(xnp.sum((x - y) ** 2))
    pairwise = vmap(vmap(dist, in_axes=(None, 0)), in_axes=(0, None))
    want = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    _close(pairwise(a, b), want)
    _close(xtrace.jit(pairwise)(a, b), want)


def test_vmap_of_jacfwd_and_jacrev():
    xs = rng.standard_normal((4, 3)).astype(np.float32)
    f = lambda x: xnp.sin(x) * xnp.sum(x)
    def np_jac(x):
        return np.diag(np.cos(x) * x.sum()) + np.sin(x)[:, None]
    want = np.stack([np_jac(x) for x in xs])
    _close(vmap(xtrace.jacfwd(f))(xs), want)
    _close(vmap(xtrace.jacrev(f))(xs), want)
    _close(xtrace.jacrev(f)(xs[0]), want[0])


def test_jacrev_is_one_batched_vjp():
    # jacrev pulls back the whole basis at once: the IR has no loop and one dot_general
    w = rng.standard_normal((6, 3)).astype(np.float32)
    jaxpr = xtrace.make_jaxpr(xtrace.jacrev(lambda x: w @ x))(np.ones(3, np.float32)).jaxpr
    dots = [e for e in _eqns(jaxpr) if e.primitive.name == "dot_general"]
    assert len(dots) == 2  # the primal and the batched transpose
    _close(xtrace.jacrev(lambda x: w @ x)(np.ones(3, np.float32)), w)
    _close(xtrace.jacfwd(lambda x: w @ x)(np.ones(3, np.float32)), w)


def test_vmap_of_jit_with_static_args():
    f = xtrace.jit(lambda x, n: x * n, static_argnums=1)
    _close(vmap(lambda x: f(x, 3))(X), X * 3)


def test_vmap_of_numpy_functions():
    a = rng.standard_normal((4, 3, 5)).astype(np.float32)
    _close(vmap(lambda m: xnp.linalg.norm(m))(a), np.linalg.norm(a, axis=(1, 2)), 1e-5, 1e-5)
    _close(vmap(lambda m: xnp.mean(m, axis=0))(a), a.mean(1))
    _close(vmap(lambda m: xnp.transpose(m) @ m)(a), np.einsum("bij,bik->bjk", a, a), 1e-4, 1e-4)
    _close(vmap(lambda m: xnp.concatenate([m, m[::-1]], axis=1))(a),
           np.concatenate([a, a[:, ::-1]], axis=2))


# ---------------------------------------------------------------------------------------------
# Random: a batch of keys reproduces JAX's per-key streams


_VMAP = json.loads((pathlib.Path(__file__).parent / "data" / "prng-vmap-answers.json").read_text())
_VMAP_FUNCS = {
    "split_2": lambda k: xr.split(k, 2),
    "fold_in_7": lambda k: xr.fold_in(k, 7),
    "bits_u8": lambda k: xr.bits(k, (6,), np.uint8),
    "uniform_f32": lambda k: xr.uniform(k, (2, 3)),
    "uniform_bf16": lambda k: xr.uniform(k, (4,), ml_dtypes.bfloat16, -2., 5.),
    "normal_f32": lambda k: xr.normal(k, (5,)),
    "normal_c64": lambda k: xr.normal(k, (3,), np.complex64),
    "truncated_normal": lambda k: xr.truncated_normal(k, -1., 2., (4,)),
    "exponential": lambda k: xr.exponential(k, (4,)),
    "laplace": lambda k: xr.laplace(k, (4,)),
    "logistic": lambda k: xr.logistic(k, (4,)),
    "gumbel": lambda k: xr.gumbel(k, (4,)),
    "randint": lambda k: xr.randint(k, (2, 3), np.array([0, 10, 100], np.int32),
                                    np.array([[5], [1000]], np.int32)),
    "bernoulli": lambda k: xr.bernoulli(k, np.array([0.1, 0.5, 0.9], np.float32), (4, 3)),
    "rademacher": lambda k: xr.rademacher(k, (6,)),
    "categorical": lambda k: xr.categorical(k, np.arange(12, dtype=np.float32).reshape(3, 4) / 3,
                                            axis=0, shape=(2, 4)),
    "categorical_norep": lambda k: xr.categorical(
        k, np.arange(12, dtype=np.float32).reshape(3, 4) / 3, shape=(2, 3), replace=False),
    "permutation_rows": lambda k: xr.permutation(k, np.arange(12, dtype=np.int32).reshape(4, 3)),
    "permutation_independent": lambda k: xr.permutation(
        k, np.arange(12, dtype=np.int32).reshape(3, 4), axis=1, independent=True),
    "permutation_100": lambda k: xr.permutation(k, 100)[:10],
    "choice_norep": lambda k: xr.choice(k, 10, (5,), replace=False),
    "choice_p": lambda k: xr.choice(k, 5, (6,), p=np.array([0.1, 0.2, 0.3, 0.2, 0.2],
                                                           np.float32)),
}


def _recorded(name):
    dt, shape, vals = _VMAP[name]
    dt = ml_dtypes.bfloat16 if dt == "bfloat16" else np.dtype(dt)
    v = np.asarray(vals, np.float64 if dt == ml_dtypes.bfloat16 else None)
    if np.dtype(dt).kind == "c":
        v = v[..., 0] + 1j * v[..., 1]
    return v.astype(dt).reshape(shape)


def test_vmap_random_table_is_complete():
    assert set(_VMAP_FUNCS) == set(_VMAP) - {"keys"}


@pytest.mark.parametrize("name", sorted(_VMAP_FUNCS))
def test_vmap_over_keys_matches_jax(name):
    keys = xr.split(xr.PRNGKey(42), 3)
    np.testing.assert_array_equal(np.asarray(keys), np.asarray(_VMAP["keys"], np.uint32))
    want = _recorded(name)
    got = np.asarray(vmap(_VMAP_FUNCS[name])(keys))
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got.astype(want.dtype), want, rtol=2e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, want)


def test_jit_vmap_over_keys_matches_jax():
    keys = xr.split(xr.PRNGKey(42), 3)
    got = xtrace.jit(vmap(_VMAP_FUNCS["normal_f32"]))(keys)
    np.testing.assert_allclose(np.asarray(got), _recorded("normal_f32"), rtol=2e-6, atol=1e-6)
