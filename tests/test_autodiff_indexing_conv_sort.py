"""Differentiation rules of gather / scatter*, conv_general_dilated, sort and top_k, in float64.

Every rule is checked on several shapes and modes:
* JVP against central finite differences (order 1);
* the transpose by the dot-product test <v, J u> = <J^T v, u> (VJP);
* order 2: the JVP of the JVP against finite differences of the JVP;
* some cases also mix modes at order 2: forward-over-reverse (jvp of grad) and
  reverse-over-forward (grad of jvp) against finite differences of the gradient.
Then gradients of realistic uses (integer-array indexing, ``.at[]`` updates, a convolution
of an image batch, a sort-based median) against finite differences, eagerly and under jit.
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax

GD, SD = lax.GatherDimensionNumbers, lax.ScatterDimensionNumbers
EPS = 1e-6


@pytest.fixture(autouse=True)
def _x64():
    with xtrace.enable_x64(True):
        yield


def _fd(f, xs, us, eps=EPS):
    plus = f(*[xnp.asarray(x + eps * u) for x, u in zip(xs, us)])
    minus = f(*[xnp.asarray(x - eps * u) for x, u in zip(xs, us)])
    return [(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(plus, minus)]


def check(f, xs, order2=True, mixed=False, seed=0):
    """``f`` maps float64 arrays to a list of float64 arrays."""
    xs = [np.asarray(x, np.float64) for x in xs]
    rng = np.random.default_rng(seed)
    us = [rng.standard_normal(x.shape) for x in xs]
    primals = tuple(xnp.asarray(x) for x in xs)
    tangents = tuple(xnp.asarray(u) for u in us)
    outs, touts = xtrace.jvp(f, primals, tangents)
    for t, e in zip(touts, _fd(f, xs, us)):
        np.testing.assert_allclose(np.asarray(t), e, rtol=1e-6, atol=1e-7)
    vs = [rng.standard_normal(np.shape(o)) for o in outs]
    _, f_vjp = xtrace.vjp(f, *primals)
    cts = f_vjp([xnp.asarray(v) for v in vs])
    lhs = sum(float(np.sum(v * np.asarray(t))) for v, t in zip(vs, touts))
    rhs = sum(float(np.sum(np.asarray(c) * u)) for c, u in zip(cts, us))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-10)
    if order2:
        def df(*a):
            return xtrace.jvp(f, a, tangents)[1]

        _, t2 = xtrace.jvp(df, primals, tangents)
        for t, e in zip(t2, _fd(df, xs, us)):
            np.testing.assert_allclose(np.asarray(t), e, rtol=1e-5, atol=1e-6)
    if mixed:
        vj = [xnp.asarray(v) for v in vs]
        argnums = tuple(range(len(xs)))

        def loss(*a):
            return sum(xnp.sum(v * o) for v, o in zip(vj, f(*a)))

        def loss_t(*a):  # <v, J(a) u>
            return sum(xnp.sum(v * t) for v, t in zip(vj, xtrace.jvp(f, a, tangents)[1]))

        g = xtrace.grad(loss, argnums)
        fd_g = _fd(lambda *a: list(g(*a)), xs, us)
        _, fwd_rev = xtrace.jvp(lambda *a: list(g(*a)), primals, tangents)
        rev_fwd = xtrace.grad(loss_t, argnums)(*primals)
        for a, b, e in zip(fwd_rev, rev_fwd, fd_g):
            np.testing.assert_allclose(np.asarray(a), e, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(np.asarray(b), e, rtol=1e-5, atol=1e-6)


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------------------------
# gather

ROWS = GD(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
COLS = GD(offset_dims=(0,), collapsed_slice_dims=(1,), start_index_map=(1,))
POINTS = GD(offset_dims=(), collapsed_slice_dims=(0, 1), start_index_map=(0, 1))
WINDOWS = GD(offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(1, 0))
BATCHED = GD(offset_dims=(2,), collapsed_slice_dims=(1,), start_index_map=(1,),
             operand_batching_dims=(0,), start_indices_batching_dims=(0,))
ROW_IDX = [[4], [1], [1], [0], [7], [-2]]       # repeated and out-of-bounds rows

GATHER_CASES = {
    "rows_promise_clamps": (ROWS, (1, 3), (5, 3), ROW_IDX, None),
    "rows_clip": (ROWS, (1, 3), (5, 3), ROW_IDX, "clip"),
    "rows_fill": (ROWS, (1, 3), (5, 3), ROW_IDX, "fill"),
    "cols": (COLS, (3, 1), (3, 5), [[4], [0], [2], [2]], None),
    "points_2d_batch": (POINTS, (1, 1), (4, 5), [[[0, 1], [3, 4]], [[0, 1], [5, 0]]], "fill"),
    "windows_clip": (WINDOWS, (2, 3), (6, 7), [[1, 0], [4, 5], [0, 6], [1, 0]], "clip"),
    "windows_fill": (WINDOWS, (2, 3), (6, 7), [[1, 0], [4, 5], [0, 6], [1, 0]], "fill"),
    "batching_dims": (BATCHED, (1, 1, 4), (3, 5, 4), [[[1], [4]], [[0], [0]], [[2], [9]]],
                      "fill"),
}


@pytest.mark.parametrize("name", list(GATHER_CASES))
def test_gather(name):
    dn, sizes, shape, idx, mode = GATHER_CASES[name]
    idx = xnp.asarray(np.asarray(idx, np.int32))

    def f(x):  # a finite fill value keeps finite differences finite
        return [lax.gather(x, idx, dn, sizes, mode=mode, fill_value=-1.5)]
    check(f, [_rand(shape, 1)], mixed=name == "rows_fill")


def test_gather_fill_rows_get_no_cotangent():
    x = xnp.asarray(_rand((4, 2), 0))
    idx = xnp.asarray(np.array([[1], [9], [-1], [1]], np.int32))
    g = xtrace.grad(lambda x: xnp.sum(lax.gather(x, idx, ROWS, (1, 2), mode="fill",
                                                 fill_value=0.0)))(x)
    np.testing.assert_array_equal(np.asarray(g), [[0, 0], [2, 2], [0, 0], [0, 0]])
    # the clamping gather sends the cotangent of index 9 to the last row, of -1 to the first
    g = xtrace.grad(lambda x: xnp.sum(lax.gather(x, idx, ROWS, (1, 2))))(x)
    np.testing.assert_array_equal(np.asarray(g), [[1, 1], [2, 2], [0, 0], [1, 1]])


# ---------------------------------------------------------------------------------------------
# scatter family

S_ROWS = SD(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
S_POINTS = SD(update_window_dims=(), inserted_window_dims=(0, 1),
              scatter_dims_to_operand_dims=(0, 1))
S_WINDOWS = SD(update_window_dims=(1, 2), inserted_window_dims=(),
               scatter_dims_to_operand_dims=(1, 0))
S_BATCHED = SD(update_window_dims=(2,), inserted_window_dims=(1,),
               scatter_dims_to_operand_dims=(1,), operand_batching_dims=(0,),
               scatter_indices_batching_dims=(0,))
REPEATED = [[1], [3], [1], [1], [0], [7]]       # repeated rows, one out of bounds

SCATTER_CASES = {
    "rows_repeated_drop": (S_ROWS, (5, 3), REPEATED, (6, 3), None),
    "rows_repeated_clip": (S_ROWS, (5, 3), REPEATED, (6, 3), "clip"),
    "points_oob": (S_POINTS, (4, 5), [[0, 1], [0, 1], [3, 9], [-1, 0], [2, 2]], (5,), None),
    "windows_overlap": (S_WINDOWS, (6, 7), [[1, 0], [2, 1], [5, 5], [1, 0]], (4, 2, 3),
                        None),
    "batching_dims": (S_BATCHED, (3, 5, 4), [[[1], [1]], [[0], [2]], [[2], [6]]], (3, 2, 4),
                      None),
}


@pytest.mark.parametrize("prim", ["scatter_add", "scatter", "scatter_mul", "scatter_min",
                                  "scatter_max"])
@pytest.mark.parametrize("name", list(SCATTER_CASES))
def test_scatter(prim, name):
    dn, shape, idx, ushape, mode = SCATTER_CASES[name]
    idx = xnp.asarray(np.asarray(idx, np.int32))
    fn = getattr(lax, prim)

    def f(x, u):
        return [fn(x, idx, u, dn, mode=mode)]
    # random inputs: no ties for min / max, no zero updates for mul
    check(f, [_rand(shape, 1), _rand(ushape, 2)],
          order2=prim == "scatter_mul" or name in ("rows_repeated_drop", "windows_overlap"),
          mixed=name == "rows_repeated_clip" and prim in ("scatter_mul", "scatter",
                                                          "scatter_max"))


def test_scatter_unique_indices():
    idx = xnp.asarray(np.array([[4], [0], [2]], np.int32))

    def f(x, u):
        return [lax.scatter(x, idx, u, S_ROWS, unique_indices=True),
                lax.scatter_mul(x, idx, u, S_ROWS, unique_indices=True)]
    check(f, [_rand((5, 3), 3), _rand((3, 3), 4)], mixed=True)


def test_scatter_repeated_last_write_consistent():
    """With repeated indices one update wins each element, and only it gets a cotangent."""
    x = xnp.asarray(np.zeros(3))
    idx = xnp.asarray(np.array([[1], [1], [2]], np.int32))
    sd = SD(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
    u = xnp.asarray(np.array([5.0, 7.0, 9.0]))
    out, f_vjp = xtrace.vjp(lambda x, u: lax.scatter(x, idx, u, sd), x, u)
    gx, gu = f_vjp(xnp.asarray(np.ones(3)))
    won = int(np.asarray(out)[1] == 7.0)    # which of the two updates XLA kept
    np.testing.assert_array_equal(np.asarray(gx), [1, 0, 0])
    np.testing.assert_array_equal(np.asarray(gu), [1 - won, won, 1])


def test_scatter_mul_zero_updates():
    idx = xnp.asarray(np.array(REPEATED, np.int32))

    def f(x, u):
        return [lax.scatter_mul(x, idx, u, S_ROWS)]
    x, u = _rand((5, 3), 5), _rand((6, 3), 6)
    u1 = u.copy()
    u1[0, 0] = u1[3, 2] = 0.0       # one zero among the updates of an element: all orders
    check(f, [x, u1], mixed=True)
    u2 = u1.copy()
    u2[2, 0] = 0.0                  # two zeros on one element: the first order is exact
    check(f, [x, u2], order2=False)
    x0 = x.copy()
    x0[1, :] = 0.0                  # a zero operand
    check(f, [x0, u1])


@pytest.mark.parametrize("prim", ["scatter_min", "scatter_max"])
def test_scatter_extremal_ties_average(prim):
    sd = SD(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
    idx = xnp.asarray(np.array([[0], [0], [1], [2]], np.int32))
    x = np.array([1.0, 2.0, 3.0])
    u = np.array([1.0, 0.5 if prim == "scatter_max" else 1.5, 2.0, 3.0])  # ties: x0/u0, x1/u2

    def f(x, u):
        return [getattr(lax, prim)(x, idx, u, sd)]
    tx, tu = np.array([1.0, 10.0, 100.0]), np.array([1000.0, 1e4, 1e5, 1e6])
    _, (t,) = xtrace.jvp(f, (xnp.asarray(x), xnp.asarray(u)),
                         (xnp.asarray(tx), xnp.asarray(tu)))
    np.testing.assert_allclose(np.asarray(t), [(1 + 1000) / 2, (10 + 1e5) / 2,
                                               (100 + 1e6) / 2])
    # two tied values: the average is what central differences see
    check(f, [x, u], order2=False)


# ---------------------------------------------------------------------------------------------
# conv_general_dilated

NHWC = ("NHWC", "HWIO", "NHWC")
CONV_CASES = {
    "same_strided": ((2, 3, 7, 6), (4, 3, 3, 3), (2, 1), "SAME", {}),
    "negative_pad": ((1, 2, 5, 6), (3, 2, 3, 2), (1, 2), [(2, 1), (-1, 2)], {}),
    "lhs_dilation": ((2, 2, 4, 5), (3, 2, 3, 3), (1, 1), [(2, 2), (1, 2)],
                     dict(lhs_dilation=(2, 3))),
    "depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), (1, 1), "SAME", dict(feature_group_count=4)),
    "batch_groups_strided": ((4, 3, 5, 5), (6, 3, 2, 2), (2, 1), [(1, 0), (0, 2)],
                             dict(batch_group_count=2, rhs_dilation=(1, 2))),
    "nhwc_groups_lhs_dilation": ((2, 6, 5, 4), (3, 2, 2, 4), (2, 2), [(1, 1), (0, 2)],
                                 dict(dimension_numbers=NHWC, feature_group_count=2,
                                      lhs_dilation=(2, 1))),
    "mixed_layout": ((1, 5, 3, 6), (3, 3, 4, 2), (1, 1), [(1, 0), (2, 1)],
                     dict(dimension_numbers=("NWCH", "IHOW", "CWNH"))),
    "conv1d": ((2, 3, 9), (4, 3, 3), (2,), [(1, 2)], dict(rhs_dilation=(2,))),
    "conv3d": ((1, 2, 4, 5, 3), (2, 2, 2, 3, 2), (1, 2, 1), "SAME", {}),
    "stride_bigger_than_window": ((2, 3, 4, 4), (4, 3, 2, 2), (3, 3), "VALID", {}),
}


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv(name):
    ls, rs, strides, padding, kw = CONV_CASES[name]

    def f(a, b):
        return [lax.conv_general_dilated(a, b, strides, padding, **kw)]
    check(f, [_rand(ls, 1), _rand(rs, 2)], order2=name == "same_strided",
          mixed=name == "batch_groups_strided")


# ---------------------------------------------------------------------------------------------
# sort / top_k


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_sort_single(dim):
    check(lambda x: [lax.sort(x, dim)], [_rand((4, 5, 6), 1)], order2=dim == 1,
          mixed=dim == 2)


def test_sort_several_operands():
    k, v = _rand((3, 7), 1), _rand((3, 7), 2)
    ki = xnp.asarray(np.random.default_rng(3).integers(0, 3, (3, 7)).astype(np.int32))
    check(lambda k, v: list(lax.sort((k, v), 1, True, 1)), [k, v])
    check(lambda k, v: list(lax.sort((ki, k, v), 1, True, 2))[1:], [k, v], order2=False)
    check(lambda k, v: list(lax.sort((k, v), 0, False, 2)), [k, v], order2=False)
    check(lambda k, v: list(lax.sort_key_val(k, v, 0)), [k, v], order2=False)


def test_sort_ties_follow_the_permutation():
    # JAX's rule: the tangent moves with the element the (stable) sort put there
    x = xnp.asarray(np.array([2.0, 1.0, 2.0, 0.0]))
    t = xnp.asarray(np.array([1.0, 2.0, 3.0, 4.0]))
    _, ts = xtrace.jvp(lambda x: lax.sort(x), (x,), (t,))
    np.testing.assert_array_equal(np.asarray(ts), [4.0, 2.0, 1.0, 3.0])


@pytest.mark.parametrize("k,axis", [(3, -1), (2, 0), (6, 1), (0, -1)])
def test_top_k(k, axis):
    check(lambda x: [lax.top_k(x, k, axis=axis)[0]], [_rand((4, 6, 5), 1)],
          order2=k == 3, mixed=k == 2)


# ---------------------------------------------------------------------------------------------
# Realistic uses: gradients against finite differences, eagerly and under jit


def _check_grad(loss, args, argnums, jit):
    g_fn = xtrace.grad(loss, argnums)
    if jit:
        g_fn = xtrace.jit(g_fn)
    xs = [np.asarray(a, np.float64) for a in args]
    grads = g_fn(*[xnp.asarray(x) for x in xs])
    grads = grads if isinstance(grads, tuple) else (grads,)
    rng = np.random.default_rng(7)
    us = [rng.standard_normal(x.shape) if i in argnums else np.zeros(x.shape)
          for i, x in enumerate(xs)]
    fd, = _fd(lambda *a: [loss(*a)], xs, us)
    got = sum(float(np.sum(np.asarray(g) * us[i])) for g, i in zip(grads, argnums))
    np.testing.assert_allclose(got, float(fd), rtol=1e-6, atol=1e-8)
    return grads


@pytest.mark.parametrize("jit", [False, True])
def test_grad_integer_indexing(jit):
    idx = np.array([3, 0, 3, -1, 2, 3])

    def loss(x):
        return xnp.sum(x[xnp.asarray(idx)] * xnp.arange(1.0, 7.0)[:, None])
    g, = _check_grad(loss, [_rand((5, 2), 1)], (0,), jit)
    expected = np.zeros((5, 2))
    np.add.at(expected, idx, np.arange(1.0, 7.0)[:, None] * np.ones((1, 2)))
    np.testing.assert_allclose(np.asarray(g), expected)
    # plain sum: the gradient counts how often each row was read
    g = xtrace.grad(lambda x: x[xnp.asarray(idx)].sum())(xnp.asarray(_rand((5, 2), 1)))
    np.testing.assert_allclose(np.asarray(g)[:, 0], np.bincount(idx % 5, minlength=5))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("method", ["add", "set", "multiply", "min", "max"])
def test_grad_at_updates(method, jit):
    idx = xnp.asarray(np.array([1, 4, 1, 0]))
    w = xnp.asarray(_rand((6, 3), 9))

    def loss(x, v):
        out = getattr(x.at[idx], method)(v)
        return xnp.sum(xnp.sin(out) * w)
    _check_grad(loss, [_rand((6, 3), 1), _rand((4, 3), 2)], (0, 1), jit)


@pytest.mark.parametrize("jit", [False, True])
def test_grad_conv_image_batch(jit):
    def loss(img, w, b):  # two layers: SAME then strided VALID, the same kernel
        y = lax.conv_general_dilated(img, w, (1, 1), "SAME", dimension_numbers=NHWC)
        z = lax.conv_general_dilated(xnp.tanh(y + b), w, (2, 2), "VALID",
                                     dimension_numbers=NHWC)
        return xnp.mean(z ** 2)
    args = [_rand((2, 7, 7, 3), 1), _rand((3, 3, 3, 3), 2) * 0.3, _rand((3,), 3)]
    _check_grad(loss, args, (0, 1, 2), jit)


@pytest.mark.parametrize("jit", [False, True])
def test_grad_sort_median(jit):
    x = _rand((3, 9), 4)

    def loss(x):
        return xnp.sum(xnp.sort(x, axis=1)[:, 4] * xnp.arange(1.0, 4.0))
    g, = _check_grad(loss, [x], (0,), jit)
    expected = np.zeros_like(x)
    expected[np.arange(3), np.argsort(x, axis=1)[:, 4]] = np.arange(1.0, 4.0)
    np.testing.assert_allclose(np.asarray(g), expected)
    if jit:
        _check_grad(lambda x: xnp.sum(xnp.median(x, axis=0) ** 2), [_rand((7, 4), 5)], (0,),
                    jit)


def test_hessian_through_gather_and_sort():
    idx = xnp.asarray(np.array([2, 0, 2]))

    def f(x):
        return xnp.sum(xnp.sort(x[idx] * x) ** 3)
    x = _rand((3,), 6)
    h = np.asarray(xtrace.hessian(f)(xnp.asarray(x)))
    g = xtrace.grad(f)
    fd = np.stack([(np.asarray(g(xnp.asarray(x + EPS * e))) -
                    np.asarray(g(xnp.asarray(x - EPS * e)))) / (2 * EPS) for e in np.eye(3)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


def test_grad_of_jit_and_jit_of_grad():
    idx = xnp.asarray(np.array([4, 0, 4, 2]))

    def f(x, w):
        y = lax.conv_general_dilated(x[idx], w, (1,), "SAME")           # (4, 3, 6)
        top = lax.top_k(y, 2)[0]
        return xnp.sum(xnp.sort(y, axis=0)[1] * top[..., :1]) + xnp.sum(x.at[idx].max(0.3) ** 2)
    args = [_rand((5, 2, 6), 1), _rand((3, 2, 3), 2)]
    g1 = _check_grad(xtrace.jit(f), args, (0, 1), jit=False)         # grad(jit(f))
    g2 = _check_grad(f, args, (0, 1), jit=True)                       # jit(grad(f))
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)
