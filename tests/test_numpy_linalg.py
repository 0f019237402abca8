"""xtrace.numpy products and contractions, and xtrace.numpy.linalg.norm, against NumPy."""

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace.numpy import linalg as xla

RNG = np.random.default_rng(1)


def _rand(*shape, dtype=np.float32):
    if np.dtype(dtype) == np.bool_:
        return RNG.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-3, 4, shape).astype(dtype)
    return RNG.uniform(-1, 1, shape).astype(dtype)


def _check(got, want, rtol=1e-5, atol=1e-5, dtype=None):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    if want.dtype.kind in "fc" or got.dtype.kind in "fc":
        kind = np.complex128 if "c" in (want.dtype.kind, got.dtype.kind) else np.float64
        np.testing.assert_allclose(got.astype(kind), want.astype(kind), rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


def _eager_and_jit(fn, *args):
    """fn's result eagerly and under jit (as NumPy values)."""
    xs = [xnp.asarray(a) for a in args]
    return fn(*xs), xtrace.jit(fn)(*xs)


def _prims(fn, *args):
    jaxpr = xtrace.make_jaxpr(fn)(*[xnp.asarray(a) for a in args])
    return [e.primitive.name for e in jaxpr.eqns], jaxpr


# ---------------------------------------------------------------------------------------------
# matmul / dot / vdot / inner / outer / tensordot

MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((1, 3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5))]


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_matmul(dtype):
    pairs = [(_rand(*sa, dtype=dtype), _rand(*sb, dtype=dtype)) for sa, sb in MATMUL_SHAPES]
    flat = [x for p in pairs for x in p]
    outs = xtrace.jit(lambda *xs: tuple(xnp.matmul(xs[i], xs[i + 1])
                                        for i in range(0, len(xs), 2)))(*flat)
    for (a, b), out in zip(pairs, outs):
        want = np.matmul(a, b)
        _check(out, want, dtype=dtype)
    for a, b in pairs[:5]:
        _check(xnp.matmul(a, b), np.matmul(a, b), dtype=dtype)
        _check(xnp.asarray(a) @ xnp.asarray(b), a @ b)


def test_matmul_lowers_to_one_dot_general():
    a, b = _rand(2, 3, 4), _rand(4, 5)
    names, _ = _prims(xnp.matmul, a, b)
    assert names == ["dot_general"], names  # no broadcast of b, no transpose
    names, _ = _prims(xnp.matmul, _rand(2, 1, 3, 4), _rand(5, 4, 2))
    assert names.count("dot_general") == 1 and "broadcast_in_dim" not in names, names


def test_matmul_promotion_and_options():
    a8, u8 = _rand(2, 3, dtype=np.int8), _rand(3, 2, dtype=np.uint8)
    _check(xnp.matmul(a8, u8), a8.astype(np.int16) @ u8.astype(np.int16), dtype=np.int16)
    f, i = _rand(2, 3), _rand(3, 2, dtype=np.int32)
    _check(xnp.matmul(f, i), f @ i, dtype=np.float32)
    out = xnp.matmul(a8, a8.T, preferred_element_type=np.int32)
    _check(out, a8.astype(np.int32) @ a8.T.astype(np.int32), dtype=np.int32)
    _check(xnp.matmul(f, f.T, precision="highest"), f @ f.T)


DOT_SHAPES = [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 2)),
              ((4,), (2, 4, 3))]


def test_dot_vdot_inner_outer():
    pairs = [(_rand(*sa), _rand(*sb)) for sa, sb in DOT_SHAPES]
    flat = [x for p in pairs for x in p]
    c = (_rand(2, 3) + 1j * _rand(2, 3)).astype(np.complex64)
    d = (_rand(6) + 1j * _rand(6)).astype(np.complex64)
    fns = lambda *xs: (tuple(xnp.dot(xs[i], xs[i + 1]) for i in range(0, 12, 2)),
                       xnp.vdot(xs[12], xs[13]), xnp.inner(xs[14], xs[15]),
                       xnp.inner(xs[16], xs[17]), xnp.outer(xs[18], xs[19]),
                       xnp.outer(xs[20], xs[21]))
    extra = [c, d, _rand(2, 3), _rand(4, 5, 3), _rand(3), _rand(3), _rand(2, 3), _rand(4),
             _rand(3, dtype=np.bool_), _rand(2, 2, dtype=np.bool_)]
    for outs in _eager_and_jit(fns, *flat, *extra):
        dots, vd, inn, inn1, out, outb = outs
        for (a, b), got in zip(pairs, dots):
            _check(got, np.dot(a, b))
        _check(vd, np.vdot(c, d), dtype=np.complex64)
        _check(inn, np.inner(extra[2], extra[3]))
        _check(inn1, np.inner(extra[4], extra[5]))
        _check(out, np.outer(extra[6], extra[7]))
        _check(outb, np.outer(extra[8], extra[9]), dtype=np.bool_)
    _check(xnp.dot(2.0, 3), 6.0)
    v = _rand(3)
    _check(xnp.inner(2.0, v), 2.0 * v)
    _check(xnp.vecdot(c, c[::-1]), np.sum(np.conj(c) * c[::-1], axis=-1), dtype=np.complex64)
    _check(xnp.vecdot(_rand(3, 4), np.ones((2, 1, 4), np.float32), axis=-1).shape, (2, 3))


def test_tensordot():
    a, b = _rand(2, 3, 4), _rand(3, 4, 5)
    c = _rand(4, 3, 2)
    cases = [(a, b, 2), (a, b, ([1, 2], [0, 1])), (a, c, ([1, -1], [1, 0])),
             (a, b, 0), (a, c, (2, 0)), (a, b[0], 1)]
    fn = lambda a, b, c, b0: (xnp.tensordot(a, b, 2), xnp.tensordot(a, b, ([1, 2], [0, 1])),
                              xnp.tensordot(a, c, ([1, -1], [1, 0])), xnp.tensordot(a, b, 0),
                              xnp.tensordot(a, c, (2, 0)), xnp.tensordot(a, b0, 1))
    for outs in _eager_and_jit(fn, a, b, c, b[0]):
        for (x, y, ax), got in zip(cases, outs):
            _check(got, np.tensordot(x, y, ax))


# ---------------------------------------------------------------------------------------------
# einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ijk->kj", [(2, 3, 4)]),
    ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,j", [(3,), (4,)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("...ij,...jk->...ik", [(5, 1, 2, 3), (4, 3, 2)]),
    ("...ij,...jk", [(2, 3, 4), (4, 5)]),
    ("i...->...", [(3, 2, 2)]),
    ("ijk,kl,lm->ijm", [(2, 3, 4), (4, 5), (5, 6)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 2)]),
    ("ij,jk,ki->", [(3, 4), (4, 5), (5, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,kj,k->i", [(3, 4), (5, 4), (5,)]),
    (",ij->ij", [(), (2, 3)]),
    ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]),
]


def test_einsum_cases():
    ops = [[_rand(*s) for s in shapes] for _, shapes in EINSUM_CASES]
    flat = [x for o in ops for x in o]
    counts = [len(o) for o in ops]

    def many(*xs):
        outs, i = [], 0
        for (sub, _), n in zip(EINSUM_CASES, counts):
            outs.append(xnp.einsum(sub, *xs[i:i + n]))
            i += n
        return tuple(outs)
    outs = xtrace.jit(many)(*flat)
    for (sub, _), o, got in zip(EINSUM_CASES, ops, outs):
        want = np.einsum(sub, *o)
        assert np.asarray(got).shape == want.shape, sub
        _check(got, want, rtol=1e-4, atol=1e-5)
    for (sub, _), o in list(zip(EINSUM_CASES, ops))[::4]:
        _check(xnp.einsum(sub, *o), np.einsum(sub, *o), rtol=1e-4, atol=1e-5)


def test_einsum_dtypes_and_forms():
    i = _rand(3, 4, dtype=np.int32)
    f = _rand(4, 2)
    _check(xnp.einsum("ij,jk", i, f), np.einsum("ij,jk", i, f), dtype=np.float32)
    b1, b2 = _rand(3, 4, dtype=np.bool_), _rand(4, 2, dtype=np.bool_)
    _check(xnp.einsum("ij,jk->ik", b1, b2), np.einsum("ij,jk->ik", b1, b2), dtype=np.bool_)
    _check(xnp.einsum("ij,", i, 2), i * 2, dtype=np.int32)
    a, b = _rand(2, 3), _rand(3, 4)
    _check(xnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), a @ b)
    b2 = _rand(3, 2)
    _check(xnp.einsum(a, [Ellipsis, 1], b2, [1, Ellipsis]),
           np.einsum(a, [Ellipsis, 1], b2, [1, Ellipsis]))
    _check(xnp.einsum("ij,jk->ik", i, i.T, preferred_element_type=np.float32), i @ i.T,
           dtype=np.float32)
    _check(xnp.einsum("ij, jk -> ik", a, b, optimize=False), a @ b)
    with xtrace.enable_x64(True):
        a64, b64 = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 5))
        c64 = RNG.normal(size=(5,))
        out = xnp.einsum("ij,jk,k->i", a64, b64, c64)
        assert out.dtype == np.float64
        _check(out, a64 @ b64 @ c64, rtol=1e-12, atol=1e-12)


def test_einsum_contraction_order():
    # A large matrix-matrix product with a vector: greedy contracts the vector first, so no
    # (64, 64) intermediate is built.
    a, b, v = _rand(64, 64), _rand(64, 64), _rand(64)
    names, jaxpr = _prims(lambda a, b, v: xnp.einsum("ij,jk,k->i", a, b, v), a, b, v)
    dots = [e for e in jaxpr.eqns if e.primitive.name == "dot_general"]
    assert len(dots) == 2, names
    assert all(np.prod(e.outputs[0].aval.shape) <= 64 for e in dots)
    names, _ = _prims(lambda *xs: xnp.einsum("ab,bc,cd,de->ae", *xs), _rand(2, 3),
                      _rand(3, 4), _rand(4, 5), _rand(5, 2))
    assert names.count("dot_general") == 3
    names, _ = _prims(lambda a, b: xnp.einsum("bij,bjk->bik", a, b), _rand(2, 3, 4),
                      _rand(2, 4, 5))
    assert names == ["dot_general"], names


def test_einsum_errors():
    with pytest.raises(ValueError, match=r"size of label 'j' is 4 in operand 1 \(shape "
                                         r"\(4, 5\)\) but 3 in operand 0 \(shape \(2, 3\)\)"):
        xnp.einsum("ij,jk", _rand(2, 3), _rand(4, 5))
    with pytest.raises(ValueError, match="operand 0 has 2 dimensions"):
        xnp.einsum("ijk->i", _rand(2, 3))
    with pytest.raises(ValueError, match="name 1 operands but 2 were given"):
        xnp.einsum("ij", _rand(2, 3), _rand(2, 3))
    with pytest.raises(ValueError, match="output subscript 'z'"):
        xnp.einsum("ij->z", _rand(2, 3))
    with pytest.raises(ValueError, match="invalid subscripts"):
        xnp.einsum("i1,j", _rand(2), _rand(2))


# ---------------------------------------------------------------------------------------------
# trace, kron, cross


def _np_cross_2d(a, b):
    """NumPy's cross with 2-vectors, which NumPy 2.0 deprecated and 2.5 removed: a 2-vector
    has a zero z component, and two 2-vectors give only the z component of their product."""
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    pad = lambda v: np.concatenate([v, np.zeros(v.shape[:-1] + (1,), v.dtype)], -1) \
        if v.shape[-1] == 2 else v  # noqa: E731
    return np.cross(pad(a), pad(b))


def test_trace_kron_cross():
    m = _rand(3, 4, 5)
    mi = _rand(4, 4, dtype=np.int8)
    a3, b3 = _rand(4, 3), _rand(4, 3)
    a2, b2 = _rand(4, 2), _rand(2)
    axc, bxc = _rand(3, 5), _rand(5, 3)

    def fn(m, mi, a3, b3, a2, b2, axc, bxc):
        return (xnp.trace(m), xnp.trace(m, offset=2, axis1=2, axis2=0),
                xnp.trace(m, offset=-1, axis1=-1, axis2=1), xnp.trace(mi),
                xnp.trace(m, offset=7), xnp.kron(m[0], mi[:2, :3]), xnp.kron(m[0, 0], m[:2]),
                xnp.cross(a3, b3), xnp.cross(a2, b2), xnp.cross(a2, b3),
                xnp.cross(a3, b2), xnp.cross(axc, bxc, axisa=0, axisb=1, axisc=0),
                xnp.cross(axc.T, bxc, axis=1))
    for outs in _eager_and_jit(fn, m, mi, a3, b3, a2, b2, axc, bxc):
        _check(outs[0], np.trace(m))
        _check(outs[1], np.trace(m, offset=2, axis1=2, axis2=0))
        _check(outs[2], np.trace(m, offset=-1, axis1=-1, axis2=1))
        _check(outs[3], np.trace(mi), dtype=np.int32)  # sum's rule: int8 -> int32
        _check(outs[4], np.trace(m, offset=7))
        _check(outs[5], np.kron(m[0], mi[:2, :3]))
        _check(outs[6], np.kron(m[0, 0], m[:2]))
        _check(outs[7], np.cross(a3, b3))
        _check(outs[8], _np_cross_2d(a2, b2))
        _check(outs[9], _np_cross_2d(a2, b3))
        _check(outs[10], _np_cross_2d(a3, b2))
        _check(outs[11], np.cross(axc, bxc, axisa=0, axisb=1, axisc=0))
        _check(outs[12], np.cross(axc.T, bxc, axis=1))
    _check(xnp.kron(_rand(2, 2, dtype=np.bool_), np.ones((2,), bool)).dtype, np.dtype(bool))
    with pytest.raises(ValueError, match=r"dimension must be 2 or 3\): a.shape\[-1\] = 4"):
        xnp.cross(_rand(4), _rand(3))
    with pytest.raises(ValueError, match="axis1 and axis2 must differ"):
        xnp.trace(m, axis1=1, axis2=-2)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        xnp.trace(_rand(3))


# ---------------------------------------------------------------------------------------------
# xtrace.numpy.linalg.norm

VEC_ORDS = [None, 1, 2, np.inf, -np.inf, 0, 3, -1, 0.5]
MAT_ORDS = [None, "fro", 1, -1, np.inf, -np.inf]


def test_norm_vector_and_matrix():
    x = _rand(3, 4, 5)
    x[0, 0, 0] = 0.0
    m = _rand(4, 5)

    def fn(x, m):
        return (tuple(xla.norm(x, ord=o, axis=-1) for o in VEC_ORDS),
                tuple(xla.norm(m, ord=o) for o in MAT_ORDS),
                tuple(xla.norm(x, ord=o, axis=(2, 0), keepdims=True) for o in MAT_ORDS),
                xla.norm(x), xla.norm(x, axis=(0, 2), keepdims=True), xla.norm(m[0], 1),
                xla.norm(x, 3, 1, True))
    for outs in _eager_and_jit(fn, x, m):
        vec, mat, mat3, full, full_kd, v1, v3 = outs
        for o, got in zip(VEC_ORDS, vec):
            with np.errstate(divide="ignore"):
                _check(got, np.linalg.norm(x, ord=o, axis=-1), rtol=2e-5)
        for o, got in zip(MAT_ORDS, mat):
            _check(got, np.linalg.norm(m, ord=o), rtol=2e-5)
        for o, got in zip(MAT_ORDS, mat3):
            _check(got, np.linalg.norm(x, ord=o, axis=(2, 0), keepdims=True), rtol=2e-5)
        _check(full, np.linalg.norm(x))
        _check(full_kd, np.linalg.norm(x, axis=(0, 2), keepdims=True))
        _check(v1, np.linalg.norm(m[0], 1))
        _check(v3, np.linalg.norm(x, 3, 1, True))


def test_norm_dtypes_and_errors():
    i = _rand(3, 4, dtype=np.int32)
    _check(xla.norm(i), np.linalg.norm(i), dtype=np.float32)
    _check(xla.norm(i, 1, axis=0), np.linalg.norm(i, 1, axis=0), dtype=np.float32)
    c = (_rand(5) + 1j * _rand(5)).astype(np.complex64)
    _check(xla.norm(c), np.linalg.norm(c), dtype=np.float32)
    _check(xla.norm(c, np.inf), np.linalg.norm(c, np.inf), dtype=np.float32)
    v = _rand(2, 3)
    _check(xla.vector_norm(v, ord=1), np.abs(v).sum())
    _check(xla.vector_norm(v, axis=(0, 1), keepdims=True), np.linalg.norm(v, keepdims=True))
    _check(xla.matrix_norm(np.ones((2, 3, 4), np.float32), ord=np.inf),
           np.linalg.norm(np.ones((2, 3, 4)), ord=np.inf, axis=(-2, -1)))
    with xtrace.enable_x64(True):
        m64 = RNG.normal(size=(4, 4))
        out = xla.norm(m64, "fro")
        assert out.dtype == np.float64
        _check(out, np.linalg.norm(m64, "fro"), rtol=1e-13)
    with pytest.raises(ValueError, match="invalid order 'fro' for a vector norm"):
        xla.norm(_rand(3), "fro")
    with pytest.raises(ValueError, match="invalid order 3.0 for a matrix norm|invalid order 3 "):
        xla.norm(_rand(3, 3), 3)
    with pytest.raises(ValueError, match="improper number of dimensions"):
        xla.norm(_rand(2, 3, 4), 1)
    with pytest.raises(ValueError, match="axis 2 is out of bounds for array of dimension 2"):
        xla.norm(_rand(2, 3), axis=2)
    with pytest.raises(ValueError, match="improper number of axes"):
        xla.norm(_rand(2, 3, 4), axis=(0, 1, 2))


# ---------------------------------------------------------------------------------------------
# Contraction size errors name the shapes; float64


def test_shape_errors():
    with pytest.raises(ValueError, match=r"matmul: contracting dimensions differ: shapes "
                                         r"\(2, 3\) and \(2, 3\)"):
        xnp.matmul(_rand(2, 3), _rand(2, 3))
    with pytest.raises(ValueError, match=r"shapes \(4,\) and \(3, 2\)"):
        xnp.matmul(_rand(4), _rand(3, 2))
    with pytest.raises(ValueError, match="operands must have at least one dimension"):
        xnp.matmul(_rand(2, 2), 2.0)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3, 4\), \(5, 4, 4\) cannot be "
                                         r"broadcast|cannot be broadcast"):
        xnp.matmul(_rand(2, 3, 4), _rand(5, 4, 4))
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) and \(2, 3\) not aligned"):
        xnp.dot(_rand(2, 3), _rand(2, 3))
    with pytest.raises(ValueError, match=r"inner: the last dimensions of shapes \(2, 3\) and "
                                         r"\(2, 2\) differ"):
        xnp.inner(_rand(2, 3), _rand(2, 2))
    with pytest.raises(ValueError, match=r"vdot: arrays of shapes \(2, 3\) and \(5,\)"):
        xnp.vdot(_rand(2, 3), _rand(5))
    with pytest.raises(ValueError, match=r"tensordot: shape mismatch for sum: a.shape\[1\] = 3 "
                                         r"but b.shape\[0\] = 2 \(shapes \(2, 3\) and "
                                         r"\(2, 2\)\)"):
        xnp.tensordot(_rand(2, 3), _rand(2, 2), 1)
    with pytest.raises(ValueError, match="axis 5 is out of bounds for a of dimension 2"):
        xnp.tensordot(_rand(2, 3), _rand(3, 2), ([5], [0]))
    with pytest.raises(NotImplementedError, match="out= argument is not supported"):
        xnp.outer(_rand(2), _rand(2), out=1)


def test_x64_products(x64):
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(4, 5))
    outs = xtrace.jit(lambda a, b: (xnp.matmul(a, b), xnp.tensordot(a, b, 1),
                                    xnp.einsum("bij,jk->bk", a, b), xnp.trace(a[0, :, :3]),
                                    xnp.kron(a[0], b[:2]), xnp.cross(a[..., :3], b[:3, :3]),
                                    xla.norm(a, axis=-1)))(a, b)
    assert all(np.asarray(o).dtype == np.float64 for o in outs)
    _check(outs[0], a @ b, rtol=1e-12, atol=1e-12)
    _check(outs[1], np.tensordot(a, b, 1), rtol=1e-12, atol=1e-12)
    _check(outs[2], np.einsum("bij,jk->bk", a, b), rtol=1e-12, atol=1e-12)
    _check(outs[3], np.trace(a[0, :, :3]), rtol=1e-12)
    _check(outs[4], np.kron(a[0], b[:2]), rtol=1e-12)
    _check(outs[5], np.cross(a[..., :3], b[:3, :3]), rtol=1e-12, atol=1e-12)
    _check(outs[6], np.linalg.norm(a, axis=-1), rtol=1e-12)
    i64 = RNG.integers(-5, 5, size=(3, 3))
    _check(xnp.matmul(i64, i64), i64 @ i64, dtype=np.int64)


def test_linalg_namespace():
    assert xnp.linalg is xla
    for name in ("norm", "vector_norm", "matrix_norm"):
        assert not hasattr(xnp, name), name
    x = _rand(2, 3, 3)
    _check(xla.trace(x, offset=1), np.trace(x, offset=1, axis1=-2, axis2=-1))
    _check(xla.diagonal(x), np.diagonal(x, axis1=-2, axis2=-1))
    _check(xla.matmul(x, x), x @ x)
    _check(xnp.matrix_transpose(x), np.swapaxes(x, -1, -2))
