"""Edge cases where xtrace.lax / xtrace.tree_util once differed from JAX 0.10.2 (expected values
are NumPy's numbers, finite differences, or JAX's documented behaviour written out)."""
import collections
import dataclasses
import json
import os

import ml_dtypes
import numpy as np
import pytest

import xtrace
import xtrace.lax as lax
import xtrace.random as xr
import xtrace.tree_util as tu

_ANSWERS = os.path.join(os.path.dirname(__file__), "data", "lax-conformance-answers.json")


# ---- lax.conj / lax.complex ----
def test_conj_of_real_is_complex():
    out = lax.conj(np.float32([1.5, -2.0]))
    assert out.dtype == np.complex64
    np.testing.assert_array_equal(np.asarray(out), np.array([1.5, -2.0], np.complex64))
    assert not np.signbit(np.imag(np.asarray(out))).any()  # imaginary part +0, as JAX
    w = lax.conj(2.5)  # a weak Python float stays weak
    assert w.dtype == np.complex64 and w.aval.weak_type
    np.testing.assert_array_equal(np.asarray(lax.conj(np.complex64([1 + 2j]))), [1 - 2j])
    with pytest.raises(TypeError, match="int32"):
        lax.conj(np.int32([1]))
    assert float(xtrace.grad(lambda x: lax.real(lax.conj(x)))(1.0)) == 1.0


def test_complex_broadcasts_a_scalar():
    out = lax.complex(np.float32([1.0, 2.0]), 3.0)
    np.testing.assert_array_equal(np.asarray(out), np.array([1 + 3j, 2 + 3j], np.complex64))


# ---- Python scalars in lax ops: no silent truncation ----
@pytest.mark.parametrize("x, s", [(np.int32([1]), 2.5), (np.array([True]), 1.0),
                                  (np.float32([1.0]), 2j), (np.uint8([1]), 0.5)])
def test_lossy_python_scalar_is_a_type_error(x, s):
    with pytest.raises(TypeError, match="Python"):
        lax.add(x, s)
    with pytest.raises(TypeError, match="Python"):
        lax.add(s, x)


def test_exact_python_scalars_still_convert():
    np.testing.assert_array_equal(np.asarray(lax.add(np.int8([1, 2]), 3)), [4, 5])
    assert lax.add(np.int8([1]), 3).dtype == np.int8
    assert lax.mul(np.float16([1.5]), 2.0).dtype == np.float16


# ---- lax.pow with an integer exponent ----
def test_pow_integer_exponent():
    x = np.array([2.0, 3.0, -2.0, 0.5], np.float32)
    y = np.array([3, -1, 3, -2], np.int32)
    out = lax.pow(x, y)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), np.power(x, y.astype(np.float32)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(xtrace.jit(lax.pow)(x, y)),
                               np.power(x, y.astype(np.float32)), rtol=1e-6)
    h = np.asarray(lax.pow(np.float16([2.0, 3.0]), np.uint8([2, 3])))
    assert h.dtype == np.float16 and h.tolist() == [4.0, 27.0]
    w = lax.pow(3.5, np.int8([0, 1, 2]))  # a Python float base: the default float dtype
    assert w.dtype == np.float32
    np.testing.assert_allclose(np.asarray(w), [1.0, 3.5, 12.25])
    with pytest.raises(TypeError):
        lax.pow(2, np.int32([1, 2]))  # an integer base is not accepted


def test_pow_integer_exponent_grad_and_vmap():
    f = lambda x: lax.pow(x, np.int32(3))  # noqa: E731
    x0, eps = 1.7, 1e-3
    fd = (1.7 + eps) ** 3 / (2 * eps) - (1.7 - eps) ** 3 / (2 * eps)
    np.testing.assert_allclose(float(xtrace.grad(f)(np.float32(x0))), fd, rtol=1e-5)
    out = xtrace.vmap(lambda a: lax.pow(a, np.int32([2, 3])))(np.float32([[1, 2], [3, 4]]))
    np.testing.assert_allclose(np.asarray(out), [[1, 8], [9, 64]])


# ---- dynamic_slice / slice_in_dim / index_in_dim ----
def test_dynamic_slice_allow_negative_indices():
    y = np.arange(10, dtype=np.int32)
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(y, (-3,), (2,))), [7, 8])
    with pytest.raises(ValueError, match="allow_negative_indices"):
        lax.dynamic_slice(y, (-1,), (4,), allow_negative_indices=False)
    with pytest.raises(ValueError, match="allow_negative_indices"):
        lax.dynamic_update_slice(y, np.int32([5]), (-1,), allow_negative_indices=False)
    # traced negative starts are clamped (XLA), not wrapped
    out = xtrace.jit(lambda s: lax.dynamic_slice(y, (s,), (4,), allow_negative_indices=False))(-1)
    np.testing.assert_array_equal(np.asarray(out), [0, 1, 2, 3])
    m = np.arange(12, dtype=np.int32).reshape(3, 4)  # one flag per dimension
    out = lax.dynamic_slice(m, (-1, 1), (2, 2), allow_negative_indices=(True, False))
    np.testing.assert_array_equal(np.asarray(out), m[1:3, 1:3])


def test_slice_in_dim_none_and_negative():
    y = np.arange(10).reshape(2, 5).astype(np.int32)
    for start, limit, stride in [(None, None, 1), (-3, None, 1), (1, -1, 1), (-4, -1, 2)]:
        out = lax.slice_in_dim(y, start, limit, stride, axis=-1)
        np.testing.assert_array_equal(np.asarray(out), y[:, start:limit:stride])
    np.testing.assert_array_equal(np.asarray(lax.index_in_dim(y, -1, 1, False)), y[:, -1])
    np.testing.assert_array_equal(np.asarray(lax.index_in_dim(y, -5, -1)), y[:, 0:1])
    with pytest.raises(IndexError):
        lax.index_in_dim(y, 5, 1)


# ---- tree_util ----
NT = collections.namedtuple("NT", ["b", "a"])


class _Box:
    def __init__(self, a, b):
        self.a, self.b = a, b


tu.register_pytree_node(_Box, lambda s: ((s.a, s.b), "aux"), lambda aux, c: _Box(*c))


def test_treedef_repr_custom_nodes():
    assert (repr(tu.tree_structure(NT(1, (2,))))
            == "PyTreeDef(CustomNode(namedtuple[NT], [*, (*,)]))")
    od = collections.OrderedDict(b=1, a=2)
    assert repr(tu.tree_structure(od)) == "PyTreeDef(CustomNode(OrderedDict[('b', 'a')], [*, *]))"
    dd = collections.defaultdict(list, b=1, a=2)
    assert (repr(tu.tree_structure(dd))
            == "PyTreeDef(CustomNode(defaultdict[(<class 'list'>, ('a', 'b'))], [*, *]))")
    box = _Box(1, {"x": _Box(2, 3)})
    assert (repr(tu.tree_structure(box))
            == "PyTreeDef(CustomNode(_Box[aux], [*, {'x': CustomNode(_Box[aux], [*, *])}]))")
    assert repr(tu.tree_structure([None, (1,), {}])) == "PyTreeDef([None, (*,), {}])"


def test_unsortable_dict_keys_are_a_value_error():
    with pytest.raises(ValueError, match="sorting pytree dictionary keys"):
        tu.tree_leaves({1: "a", "b": 2})
    assert tu.tree_leaves({"b": 1, "a": 2}) == [2, 1]


def test_register_dataclass_checks_fields():
    @dataclasses.dataclass
    class F:
        x: int
        y: int

    with pytest.raises(ValueError, match="y"):
        tu.register_dataclass(F, data_fields=["x"], meta_fields=[])

    @dataclasses.dataclass
    class G:
        x: int
        y: int = 5

    tu.register_dataclass(G, data_fields=["x"], meta_fields=[], drop_fields=["y"])
    assert tu.tree_leaves(G(1, 2)) == [1]
    assert tu.tree_map(lambda v: v + 1, G(1, 2)) == G(2, 5)  # dropped fields take defaults


# ---- random: bit-exact 16-bit samplers (JAX's outputs, benchmarks/record_lax_conformance.py) --
with open(_ANSWERS) as _fh:
    _RANDOM_CASES = json.load(_fh)["cases"]


@pytest.mark.parametrize("name", sorted(_RANDOM_CASES))
def test_random_16bit_bit_exact(name):
    case = _RANDOM_CASES[name]
    out = np.asarray(eval(case["expr"], {"r": xr, "np": np, "ml_dtypes": ml_dtypes,
                                         "K": xr.PRNGKey(0)}))
    assert out.dtype.name == case["dtype"] and list(out.shape) == case["shape"]
    bits = np.ascontiguousarray(out).view(f"uint{8 * out.dtype.itemsize}").ravel()
    np.testing.assert_array_equal(bits, np.array(case["bits"], bits.dtype))


# ---- nn.initializers ----
def test_delta_orthogonal():
    from xtrace.nn import initializers as init
    w = np.array(init.delta_orthogonal(scale=2.0)(xr.PRNGKey(3), (3, 3, 2, 5)))
    assert w.shape == (3, 3, 2, 5) and w.dtype == np.float32
    centre = w[1, 1]
    np.testing.assert_allclose(centre @ centre.T, 4.0 * np.eye(2), atol=1e-5)  # scale**2 * I
    w[1, 1] = 0
    assert not w.any()  # zero away from the spatial centre
    w3 = np.asarray(init.delta_orthogonal()(xr.PRNGKey(0), (4, 3, 3)))
    np.testing.assert_allclose(w3[1] @ w3[1].T, np.eye(3), atol=1e-5)  # centre (4 - 1) // 2
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        init.delta_orthogonal()(xr.PRNGKey(0), (3, 3))
    with pytest.raises(ValueError, match="fan_in"):
        init.delta_orthogonal()(xr.PRNGKey(0), (3, 3, 5, 2))


def test_orthogonal_complex_and_dtype_errors():
    from xtrace.nn import initializers as init
    q = np.asarray(init.orthogonal()(xr.PRNGKey(1), (4, 3), np.complex64))
    assert q.dtype == np.complex64
    np.testing.assert_allclose(q.conj().T @ q, np.eye(3), atol=1e-5)  # orthonormal columns
    for builder in (init.uniform(), init.normal(), init.truncated_normal()):
        with pytest.raises(ValueError, match="int32"):
            builder(xr.PRNGKey(0), (2,), np.int32)


# ---- dot_general with operands of different dtypes ----
@pytest.mark.parametrize("a, b, out", [(np.int8, np.float32, np.float32),
                                       (np.float16, np.float32, np.float32),
                                       (np.uint32, np.int32, np.int32),
                                       (np.float16, ml_dtypes.bfloat16, ml_dtypes.bfloat16),
                                       (np.float32, np.complex64, np.complex64)])
def test_dot_general_mixed_dtypes(a, b, out):
    x = (np.arange(6).reshape(2, 3) % 3).astype(a)
    y = (np.arange(12).reshape(3, 4) % 4).astype(b)
    r = lax.dot_general(x, y, (((1,), (0,)), ((), ())))
    assert r.dtype == np.dtype(out)
    np.testing.assert_array_equal(np.asarray(r).astype(np.complex128),
                                  x.astype(np.complex128) @ y.astype(np.complex128))


def test_dot_general_mixed_dtypes_grad():
    x = np.ones((2, 3), np.float16)
    y = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    gx, gy = xtrace.grad(lambda u, v: lax.dot(u, v).sum(), (0, 1))(x, y)
    assert gx.dtype == np.float16 and gy.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(gx), np.tile(y.sum(1), (2, 1)).astype(np.float16))
    np.testing.assert_array_equal(np.asarray(gy), np.full((3, 4), 2.0, np.float32))


# ---- nn.log1mexp's derivative: JAX's g / expm1(x) rule ----
def test_log1mexp_grad_at_edges():
    import xtrace.nn as nn
    g = xtrace.grad(nn.log1mexp)
    assert float(g(np.float32(0.0))) == np.inf and float(g(np.float32(-0.0))) == -np.inf
    for v in (1e-3, 0.5, 3.0):  # d/dx log(1 - exp(-x)) = 1 / expm1(x), in float64
        np.testing.assert_allclose(float(g(np.float32(v))), 1 / np.expm1(v), rtol=1e-5)
    x = np.float32([0.1, 2.0])
    np.testing.assert_allclose(np.asarray(nn.log1mexp(x)), np.log(-np.expm1(-x.astype(np.float64))),
                               rtol=1e-6)
