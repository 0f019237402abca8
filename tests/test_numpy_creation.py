"""xtrace.numpy array creation against NumPy (values) and JAX's documented dtype rules
(32-bit defaults, weak Python scalars): array, asarray, full/zeros/ones/empty, *_like, arange,
linspace, logspace, geomspace, eye, identity, tri, tril, triu, diag, diagonal, meshgrid,
indices, fromfunction; eagerly and under jit, with error messages."""
import re

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp

DTYPES = [np.float32, np.int32, np.bool_]
_CANON = {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.int64): np.dtype(np.int32),
          np.dtype(np.uint64): np.dtype(np.uint32),
          np.dtype(np.complex128): np.dtype(np.complex64)}


def data(shape, dtype=np.float32):
    n = int(np.prod(shape, dtype=np.int64))
    base = np.arange(n).reshape(shape)
    if dtype == np.bool_:
        return base % 3 == 0
    if np.issubdtype(dtype, np.floating):
        return (base * 0.5 - 3).astype(dtype)
    return (base - 4).astype(dtype)


def cast(x, dtype):
    if dtype == np.float32:
        return x
    ints = np.round(np.asarray(x) * 2).astype(np.int32)
    return ints % 3 == 0 if dtype == np.bool_ else ints.astype(dtype)


def assert_match(out, exp, ctx, rtol=0, dtype=None):
    if isinstance(exp, (list, tuple)):
        assert isinstance(out, (list, tuple)), f"{ctx}: expected a sequence, got {type(out)}"
        assert len(out) == len(exp), f"{ctx}: {len(out)} outputs, expected {len(exp)}"
        for i, (o, e) in enumerate(zip(out, exp)):
            assert_match(o, e, f"{ctx}[{i}]", rtol, dtype)
        return
    exp = np.asarray(exp)
    assert isinstance(out, xtrace.Array), f"{ctx}: got {type(out).__name__}"
    assert out.shape == exp.shape, f"{ctx}: shape {out.shape}, expected {exp.shape}"
    want = np.dtype(dtype) if dtype is not None else _CANON.get(exp.dtype, exp.dtype)
    assert out.dtype == want, f"{ctx}: dtype {out.dtype}, expected {want}"
    if rtol and exp.dtype.kind in "fc":
        np.testing.assert_allclose(np.asarray(out), exp, rtol=rtol, atol=rtol, err_msg=ctx)
    else:
        np.testing.assert_array_equal(np.asarray(out), exp, err_msg=ctx)


class S:
    """A static NumPy argument (not a jit argument)."""

    def __init__(self, value):
        self.value = value


def _unwrap(v):
    return v.value if isinstance(v, S) else v


def C(label, *args, **kwargs):
    return (label, args, kwargs)


def run_cases(xfn, npfn, cases, dtypes=DTYPES, rtol=0, dtype=None):
    """Case i turns its float32 array arguments into ``dtypes[i % len(dtypes)]``; NumPy
    arrays are jit arguments, everything else static. Every other case runs eagerly (each
    eager call compiles), then all cases run in one jitted program."""
    cases = [(f"{label} [{np.dtype(dtypes[i % len(dtypes)]).name}]",
              tuple(cast(v, dtypes[i % len(dtypes)]) if isinstance(v, np.ndarray) and
                    v.dtype == np.float32 else v for v in a), k)
             for i, (label, a, k) in enumerate(cases)]
    expected = [npfn(*map(_unwrap, a), **k) for _, a, k in cases]
    for i, ((label, a, k), exp) in enumerate(zip(cases, expected)):
        if i % 2 and len(cases) > 3:
            continue
        args = [xnp.asarray(v) if isinstance(v, np.ndarray) else _unwrap(v) for v in a]
        assert_match(xfn(*args, **k), exp, f"eager {label}", rtol, dtype)
    arrays = [[v for v in a if isinstance(v, np.ndarray)] for _, a, _ in cases]

    def body(arrays):
        outs = []
        for (_, a, k), arrs in zip(cases, arrays):
            it = iter(arrs)
            outs.append(xfn(*[next(it) if isinstance(v, np.ndarray) else _unwrap(v) for v in a],
                            **k))
        return outs
    outs = xtrace.jit(body)(arrays)
    for (label, _, _), out, exp in zip(cases, outs, expected):
        assert_match(out, exp, f"jit {label}", rtol, dtype)


class raises:
    """pytest.raises that also checks that every pattern appears in the message."""

    def __init__(self, exc, *patterns):
        self.exc, self.patterns = exc, patterns

    def __enter__(self):
        self.cm = pytest.raises(self.exc)
        self.info = self.cm.__enter__()
        return self.info

    def __exit__(self, *e):
        r = self.cm.__exit__(*e)
        for p in self.patterns:
            assert re.search(p, str(self.info.value)), \
                f"{p!r} not in message {str(self.info.value)!r}"
        return r


def aval(x):
    return (x.dtype, x.aval.weak_type, x.shape)


# ---------------------------------------------------------------------------------------------
# array / asarray


F32, I32, BOOL = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_)
F16, I8, C64 = np.dtype(np.float16), np.dtype(np.int8), np.dtype(np.complex64)

# (object, expected (dtype, weak_type, shape)), following JAX's rules.
ARRAY_DTYPES = [
    (1.0, (F32, True, ())), (1, (I32, True, ())), (True, (BOOL, False, ())),
    (1j, (C64, True, ())), ([1, 2.0], (F32, False, (2,))), ([1, 2], (I32, False, (2,))),
    ([], (F32, False, (0,))), ([[], []], (F32, False, (2, 0))), (np.float64(1), (F32, False, ())),
    (np.arange(3), (I32, False, (3,))), (np.ones(2, np.float16), (F16, False, (2,))),
    ([np.float16(1), 1.0], (F16, False, (2,))), ([np.int8(1), 1], (I8, False, (2,))),
    ([np.int32(1), 1.0], (F32, False, (2,))), ([True, False], (BOOL, False, (2,))),
    ([True, 2], (I32, False, (2,))), (((1, 2), (3, 4)), (I32, False, (2, 2))),
    ([1 + 1j, 2], (C64, False, (2,))), ([np.arange(2), [2, 3]], (I32, False, (2, 2))),
]


@pytest.mark.parametrize("obj,expected", ARRAY_DTYPES, ids=[repr(o)[:30] for o, _ in ARRAY_DTYPES])
def test_array_dtype_inference(obj, expected):
    out = xnp.array(obj)
    assert aval(out) == expected
    np.testing.assert_array_equal(np.asarray(out), np.asarray(obj, dtype=out.dtype))
    assert aval(xnp.asarray(obj)) == expected


def test_array_with_xtrace_arrays_eager_and_jit():
    h = xnp.asarray(np.ones(2, np.float16))
    assert aval(xnp.array([h, [1.0, 2.0]])) == (F16, False, (2, 2))
    assert aval(xnp.array([h[0], 1.0])) == (F16, False, (2,))
    assert aval(xnp.array(xnp.asarray(1.0))) == (F32, True, ())  # weak type kept
    assert aval(xnp.array([xnp.asarray(1.0), 2.0])) == (F32, False, (2,))

    def f(x, y):
        return (xnp.array([x, 1.0, 2]), xnp.array([[x, 1], (2, y)]), xnp.array(x),
                xnp.array([x, y], dtype=np.int32), xnp.asarray([y, y]))
    x, y = np.float32(3.5), np.int32(7)
    for outs in (f(xnp.asarray(x), xnp.asarray(y)), xtrace.jit(f)(x, y)):
        a, b, c, d, e = outs
        assert aval(a) == (F32, False, (3,))
        np.testing.assert_array_equal(a, [3.5, 1, 2])
        assert aval(b) == (F32, False, (2, 2))
        np.testing.assert_array_equal(b, [[3.5, 1], [2, 7]])
        assert aval(c) == (F32, False, ())
        np.testing.assert_array_equal(d, [3, 7])
        assert d.dtype == np.int32 and e.dtype == np.int32


def test_array_options():
    x = xnp.asarray(data((2, 3)))
    assert xnp.asarray(x) is x
    assert xnp.array(x, dtype=np.int32).dtype == np.int32
    np.testing.assert_array_equal(xnp.array([1.7, -2.5], dtype=int), [1, -2])
    assert xnp.array(5, dtype=np.float32).aval.weak_type is False
    assert xnp.array(2.0, ndmin=3).shape == (1, 1, 1)
    assert xnp.array(x, ndmin=4).shape == (1, 1, 2, 3)
    assert xnp.array(x, ndmin=1).shape == (2, 3)
    y = xnp.array(x, copy=True)
    np.testing.assert_array_equal(y, x)
    assert xnp.asarray([1, 2], dtype=np.float32).dtype == np.float32
    assert xnp.array(np.array(3.0), dtype=np.bool_).dtype == np.bool_


def test_array_x64(x64):
    assert aval(xnp.array(1.0)) == (np.dtype(np.float64), True, ())
    assert aval(xnp.array([1, 2])) == (np.dtype(np.int64), False, (2,))
    assert xnp.array(np.arange(3)).dtype == np.int64
    assert xnp.array([1, 2], dtype=np.float32).dtype == np.float32


def test_array_errors():
    with raises(TypeError, "str", "numbers only"):
        xnp.array("abc")
    with raises(TypeError, "numbers only"):
        xnp.array([object()])
    with raises(ValueError, "inhomogeneous"):
        xnp.array([[1, 2], [3]])
    with raises(ValueError, "inhomogeneous", r"\(2,\)"):
        xnp.array([xnp.ones(2), xnp.ones(3)])
    with raises(NotImplementedError, "order"):
        xnp.array([1, 2], order="F")
    with raises(TypeError, "not supported"):
        xnp.zeros(3, dtype="U3")
    with raises(TypeError, "not supported"):
        xnp.array([1, 2], dtype=object)
    with raises(OverflowError):
        xnp.array(2 ** 40)


# ---------------------------------------------------------------------------------------------
# full, zeros, ones, empty and *_like


def test_full_zeros_ones_empty():
    shapes = [3, (2, 3), (), (0, 4), [2, 1, 2], np.int64(2)]
    for f, g in [(xnp.zeros, np.zeros), (xnp.ones, np.ones)]:
        run_cases(f, g, [C(repr(s), S(s)) for s in shapes]
                  + [C(f"dtype {d}", (2, 2), dtype=d) for d in (np.int32, bool, np.float16, int)])
    run_cases(xnp.full, np.full, [
        C("float", (2, 3), 1.5), C("int", 4, 7), C("bool", (2,), True),
        C("dtype", (2, 2), 2.7, dtype=np.int32),
        C("array_fill", (3, 2), np.array([1.0, 2.0], np.float32)),
        C("array_fill_2d", (2, 3), np.array([[1], [2]], np.int32)), C("empty", (0, 3), 5),
        C("np_scalar", (2,), S(np.float32(3)))], dtypes=(np.float32,))
    assert aval(xnp.empty((2, 3))) == (F32, False, (2, 3))
    assert aval(xnp.empty(2, dtype=np.int32)) == (I32, False, (2,))
    # Weak types as in JAX: a Python fill value without a dtype gives a weak array.
    assert aval(xnp.full((2,), 1.0)) == (F32, True, (2,))
    assert aval(xnp.full((2,), 1)) == (I32, True, (2,))
    assert aval(xnp.full((2,), np.float32(1))) == (F32, False, (2,))
    assert aval(xnp.zeros(3)) == (F32, False, (3,))
    out = xtrace.jit(lambda v: xnp.full((2, 2), v))(np.int32(4))
    assert aval(out) == (I32, False, (2, 2))
    np.testing.assert_array_equal(out, np.full((2, 2), 4))


def test_like_functions():
    x = data((2, 3))
    run_cases(xnp.zeros_like, np.zeros_like, [
        C("plain", x), C("dtype", x, dtype=np.int32), C("shape", x, shape=(4,)),
        C("shape_int", x, shape=3), C("0d", data(())), C("empty", data((0, 2)))])
    run_cases(xnp.ones_like, np.ones_like, [
        C("plain", x), C("dtype", x, dtype=np.float32), C("shape", x, shape=(1, 2, 2))])
    run_cases(xnp.full_like, np.full_like, [
        C("float", x, 2.5), C("int_trunc", x, S(np.float32(2.7))),
        C("dtype", x, 2.7, dtype=np.float32),
        C("shape", x, 3, shape=(2, 2)), C("array_fill", x, S(np.array([1, 2, 3], np.float32)))])
    e = xnp.empty_like(x, dtype=np.int32, shape=(3, 1))
    assert aval(e) == (I32, False, (3, 1))
    w = xnp.asarray(1.0)
    assert aval(xnp.zeros_like(w)) == (F32, True, ())   # weak type kept (JAX)
    assert aval(xnp.full_like(w, 3)) == (F32, True, ())
    assert aval(xnp.ones_like(1)) == (I32, True, ())
    assert aval(xnp.zeros_like([1.0, 2.0])) == (F32, False, (2,))
    assert aval(xnp.ones_like(w, dtype=np.float32)) == (F32, False, ())


def test_creation_shape_errors():
    with raises(ValueError, "negative dimensions", r"\(2, -1\)"):
        xnp.zeros((2, -1))
    with raises(ValueError, "negative"):
        xnp.full(-3, 1.0)
    with raises(TypeError, "shape"):
        xnp.ones("ab")
    with raises(TypeError, "static"):
        xtrace.jit(lambda n: xnp.zeros(n))(np.int32(3))
    with raises(TypeError, "static"):
        xtrace.jit(lambda n: xnp.zeros((n, 2)))(np.int32(3))
    with raises(ValueError, r"\(3,\)", r"\(2, 2\)"):
        xnp.full((2, 2), np.ones(3))
    with raises(ValueError, "negative"):
        xnp.zeros_like(np.ones(2), shape=(-1,))


# ---------------------------------------------------------------------------------------------
# Ranges


ARANGES = [(5,), (0,), (-3,), (2, 10), (2, 10, 3), (10, 2, -3), (10, 2), (0, 1, 0.1),
           (1.5,), (-1.5, 2.5, 0.5), (0, 10, 2.5), (3, -4, -1.5), (np.int32(4),),
           (np.float32(2.5),), (1, 2, 0.25)]


def test_arange():
    run_cases(xnp.arange, np.arange, [C(repr(a), *a) for a in ARANGES], rtol=1e-6)
    run_cases(xnp.arange, np.arange, [
        C("float_dtype", 5, dtype=np.float32),
        C("int_dtype_float_bounds", 0.5, 4.5, dtype=np.int32),
        C("dtype_int", 1, 7, 2, dtype=int), C("dtype_float16", 0, 1, 0.25, dtype=np.float16),
        C("kw_stop", 0, stop=4), C("bool_dtype", 2, dtype=bool)], rtol=1e-6)
    assert aval(xnp.arange(3)) == (I32, False, (3,))
    assert aval(xnp.arange(3.0)) == (F32, False, (3,))
    with xtrace.enable_x64(True):
        assert xnp.arange(3).dtype == np.int64 and xnp.arange(0, 1, 0.5).dtype == np.float64
    np.testing.assert_array_equal(xnp.arange(xnp.asarray(4)), np.arange(4))  # concrete array


def test_arange_errors():
    with raises(TypeError, "arange", "'stop'", "concrete", "static"):
        xtrace.jit(lambda n: xnp.arange(n))(np.int32(3))
    with raises(TypeError, "'start'"):
        xtrace.jit(lambda n: xnp.arange(n, 10))(np.int32(3))
    with raises(ValueError, "step"):
        xnp.arange(0, 5, 0)
    with raises(ValueError, "scalar"):
        xnp.arange(np.array([1, 2]))


def test_linspace():
    col, row = np.array([[0.0], [1.0]], np.float32), np.array([2.0, 3.0], np.float32)
    run_cases(xnp.linspace, np.linspace, [
        C("basic", 0, 1, 5), C("default_num", -2, 3), C("no_endpoint", 0, 1, 4, endpoint=False),
        C("reverse", 5, -5, 11), C("num0", 0, 1, 0), C("num1", 2, 5, 1), C("num2", 2, 5, 2),
        C("num1_noend", 2, 5, 1, endpoint=False), C("float_bounds", 0.1, 0.9, 9),
        C("array_bounds", np.array([0.0, 1.0], np.float32), np.array([1.0, 3.0], np.float32), 5),
        C("array_axis1", np.array([0.0, 1.0], np.float32), 4.0, 3, axis=1),
        C("array_axis_neg", col, row, 4, axis=-1), C("array_axis_mid", col, row, 3, axis=1),
        C("np_bounds_static", S(np.array([0.0, 10.0])), 20.0, 6),
    ], dtypes=(np.float32,), rtol=2e-6)
    # Integer outputs floor as NumPy does.
    run_cases(xnp.linspace, np.linspace, [
        C("int", 0, 10, 7, dtype=int), C("int_rev", 10, 0, 5, endpoint=False, dtype=np.int32),
        C("int_neg", -3, 7, 6, dtype=np.int32), C("int_float_bounds", -2.5, 2.5, 7, dtype=np.int32),
        C("int_many", 0, 100, 33, dtype=np.int32), C("int_num0", 0, 5, 0, dtype=np.int32),
        C("int_array_bounds", np.array([10, 0], np.int32), np.array([0, 7], np.int32), 5,
          dtype=np.int32,
          endpoint=False),
        C("int_array_axis", np.array([-10, 3], np.int32), 20, 9, dtype=np.int32, axis=1),
    ], dtypes=(np.int32,))


def test_linspace_retstep_and_dtypes():
    out, step = xnp.linspace(0, 1, 5, retstep=True)
    assert float(step) == 0.25 and out.dtype == np.float32
    for num, end in [(1, True), (0, True), (0, False)]:
        assert np.isnan(float(xnp.linspace(2, 5, num, endpoint=end, retstep=True)[1]))
    assert float(xnp.linspace(2, 5, 1, endpoint=False, retstep=True)[1]) == 3.0
    s = xnp.linspace(np.zeros(2, np.float32), np.array([1.0, 2.0], np.float32), 3,
                     retstep=True)[1]
    np.testing.assert_allclose(s, [0.5, 1.0])
    assert xnp.linspace(xnp.asarray(np.float16(0)), 1, 3).dtype == np.float16
    assert xnp.linspace(xnp.asarray(np.int8(0)), 1, 3).dtype == np.float32
    assert xnp.linspace(0, 1, 3, dtype=np.float16).dtype == np.float16
    f = xtrace.jit(lambda a, b: xnp.linspace(a, b, 5, retstep=True))
    out, step = f(np.float32(1), np.float32(3))
    np.testing.assert_allclose(out, np.linspace(1, 3, 5), rtol=1e-6)
    assert float(step) == 0.5
    with raises(ValueError, "non-negative"):
        xnp.linspace(0, 1, -1)
    with raises(TypeError, "num", "static"):
        xtrace.jit(lambda n: xnp.linspace(0, 1, n))(np.int32(3))
    with raises(ValueError, "axis 2", "dimension 2"):
        xnp.linspace(np.zeros(2), 1, 3, axis=2)


def test_logspace_geomspace():
    run_cases(xnp.logspace, np.logspace, [
        C("basic", 0, 3, 4), C("base2", 0, 10, 11, base=2.0), C("noend", -1, 2, 3, endpoint=False),
        C("array", np.array([0.0, 1.0], np.float32), 2.0, 3, axis=1), C("num1", 1, 2, 1),
        C("num0", 1, 2, 0)], dtypes=(np.float32,), rtol=2e-6)
    run_cases(xnp.geomspace, np.geomspace, [
        C("basic", 1, 1000, 4), C("negative", -1, -1000, 4), C("noend", 2, 32, 4, endpoint=False),
        C("frac", 0.5, 8, 5), C("decreasing", 100, 1, 3), C("num1", 3, 7, 1), C("num0", 3, 7, 0),
        C("array", np.array([1.0, -2.0], np.float32), np.array([100.0, -2000.0], np.float32), 4,
          axis=-1),
        C("int_dtype", 1, 256, 9, dtype=np.float32)], dtypes=(np.float32,), rtol=2e-6)
    np.testing.assert_array_equal(xnp.geomspace(3, 300, 5)[np.array([0, -1])], [3, 300])
    with raises(ValueError, "zero"):
        xnp.geomspace(0, 10, 3)


# ---------------------------------------------------------------------------------------------
# Matrices


def test_eye_identity_tri():
    run_cases(xnp.eye, np.eye, [
        C("3", 3), C("rect", 2, 4), C("tall", 4, 2), C("k1", 3, k=1), C("k_neg", 4, 3, k=-2),
        C("k_far", 3, k=5), C("zero", 0), C("dtype", 3, dtype=np.int32), C("bool", 2, 3, 1, bool)])
    run_cases(xnp.identity, np.identity, [C("3", 3), C("int", 2, dtype=int), C("0", 0)])
    run_cases(xnp.tri, np.tri, [
        C("3", 3), C("rect", 2, 4), C("k", 3, 4, 1), C("k_neg", 4, 3, -1),
        C("dtype", 3, dtype=np.int32),
        C("zero", 0, 2)])
    f = xtrace.jit(lambda k: (xnp.eye(4, k=k), xnp.tri(3, k=k), xnp.tril(xnp.ones((3, 3)), k)))
    for k in (-1, 0, 2):
        e, t, l = f(np.int32(k))
        np.testing.assert_array_equal(e, np.eye(4, k=k))
        np.testing.assert_array_equal(t, np.tri(3, k=k))
        np.testing.assert_array_equal(l, np.tril(np.ones((3, 3)), k))
    with raises(ValueError, "negative"):
        xnp.eye(-1)
    with raises(TypeError, "N", "static"):
        xtrace.jit(lambda n: xnp.eye(n))(np.int32(2))


def test_tril_triu():
    x, b = data((4, 5)), data((2, 3, 4))
    for f, g in [(xnp.tril, np.tril), (xnp.triu, np.triu)]:
        run_cases(f, g, [C(f"k{k}", x, k) for k in (-2, -1, 0, 1, 3, 9, -9)] + [
            C("batch", b), C("batch_k", b, -1), C("1d", data((3,))), C("1d_k", data((4,)), 1),
            C("square", data((3, 3))), C("empty", data((0, 3))), C("batch_empty", data((0, 2, 2)))])


def test_diag_diagonal():
    v = data((4,))
    m = data((3, 5))
    run_cases(xnp.diag, np.diag, [C(f"1d k{k}", v, k) for k in (0, 1, -2, 5)] + [
        C(f"2d k{k}", m, k) for k in (0, 2, -1, 4, -3, 7)] + [C("1d_empty", data((0,))),
                                                            C("2d_square", data((4, 4)))])
    t, q = data((2, 3, 4)), data((2, 3, 4, 3))
    run_cases(xnp.diagonal, np.diagonal, [
        C("2d", m), C("2d_off", m, 2), C("2d_neg", m, -1), C("2d_out", m, 5),
        C("2d_out_neg", m, -3),
        C("3d", t), C("3d_axes", t, 0, 1, 2), C("3d_axes_rev", t, 1, 2, 0),
        C("3d_neg_axes", t, -1, -1, -3),
        C("4d", q, 0, 1, 3), C("4d_off", q, -1, 3, 0), C("empty", data((0, 3)))])


def test_matrix_errors():
    with raises(ValueError, "diag", "1-D or 2-D", r"\(2, 2, 2\)"):
        xnp.diag(xnp.zeros((2, 2, 2)))
    with raises(ValueError, "diagonal", "at least 2-D"):
        xnp.diagonal(xnp.zeros(3))
    with raises(ValueError, "axis1 and axis2 cannot be the same"):
        xnp.diagonal(xnp.zeros((2, 2)), 0, 1, -1)
    with raises(ValueError, "diagonal", "axis2 3", "dimension 2"):
        xnp.diagonal(xnp.zeros((2, 2)), 0, 0, 3)
    with raises(ValueError, "tril", "1-D"):
        xnp.tril(xnp.asarray(1.0))


# ---------------------------------------------------------------------------------------------
# Grids


def test_meshgrid():
    a, b, c = data((3,)), data((2,)), data((4,))
    grid = lambda *xs, **k: xnp.meshgrid(*xs, **k)  # noqa: E731
    run_cases(grid, lambda *xs, **k: list(np.meshgrid(*xs, **k)), [
        C("xy", a, b), C("ij", a, b, indexing="ij"), C("three_xy", a, b, c),
        C("three_ij", a, b, c, indexing="ij"), C("sparse", a, b, sparse=True),
        C("sparse_ij3", a, b, c, sparse=True, indexing="ij"), C("one", a),
        C("2d_input", data((2, 2)), b),
        C("empty", data((0,)), b), C("none")])
    with raises(ValueError, "indexing"):
        xnp.meshgrid(a, b, indexing="yx")


def test_indices_fromfunction():
    run_cases(xnp.indices, np.indices, [
        C("2d", (2, 3)), C("3d", (2, 1, 3)), C("1d", [4]), C("empty", (0, 2)), C("none", ()),
        C("dtype", (2, 2), dtype=np.float32)])
    run_cases(xnp.indices, lambda *a, **k: tuple(np.indices(*a, **k)), [
        C("sparse", (2, 3), sparse=True), C("sparse3", (2, 3, 4), sparse=True)])
    for fn, shape, dt in [(lambda i, j: i + 2 * j, (3, 4), float),
                          (lambda i, j: i == j, (3, 3), int),
                          (lambda i: i * i, (5,), np.int32)]:
        for f in (lambda: xnp.fromfunction(fn, shape, dtype=dt),
                  xtrace.jit(lambda: xnp.fromfunction(fn, shape, dtype=dt))):
            assert_match(f(), np.fromfunction(fn, shape, dtype=dt), f"fromfunction {shape}")
    out = xnp.fromfunction(lambda i, j, scale: (i + j) * scale, (2, 2), scale=3)
    np.testing.assert_array_equal(out, [[0, 3], [3, 6]])


def test_index_helpers_diagflat_copy():
    run_cases(lambda *a, **k: xnp.tril_indices(*a, **k), np.tril_indices, [
        C("3", 3), C("k", 4, 1), C("rect", 3, -1, 5), C("zero", 0)], dtypes=(np.float32,))
    run_cases(lambda *a, **k: xnp.triu_indices(*a, **k), np.triu_indices, [
        C("3", 3), C("k", 4, 2), C("rect", 3, 0, 2)], dtypes=(np.float32,))
    m = data((3, 4))
    assert_match(xnp.tril_indices_from(m, 1), np.tril_indices_from(m, 1), "tril_from")
    assert_match(xnp.triu_indices_from(xnp.asarray(m)), np.triu_indices_from(m), "triu_from")
    assert_match(xnp.diag_indices(3), np.diag_indices(3), "diag_indices")
    assert_match(xnp.diag_indices(2, 3), np.diag_indices(2, 3), "diag_indices 3d")
    assert_match(xnp.diag_indices_from(np.ones((2, 2, 2))),
                 np.diag_indices_from(np.ones((2, 2, 2))), "diag_indices_from")
    with raises(ValueError, "equal length"):
        xnp.diag_indices_from(np.ones((2, 3)))
    run_cases(xnp.diagflat, np.diagflat, [C("2d", data((2, 2))), C("k", data((3,)), -1),
                                          C("0d", data(()), 2)])
    x = xnp.asarray(m)
    np.testing.assert_array_equal(xnp.copy(x), m)
    assert xnp.copy([1, 2]).dtype == np.int32
    with raises(OverflowError, "out of range"):
        xnp.array([1, 2 ** 40])
