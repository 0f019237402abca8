"""NumPy indexing and ``.at[...]`` updates, against NumPy (and JAX's documented semantics where
they differ from NumPy: out-of-bounds clamping on reads, dropping on updates, ``mode=``)."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax

A = np.arange(60).reshape(3, 4, 5)
MASK2 = (A[:, :, 0] % 3) == 0            # (3, 4) mask
I = np.array


# Index expressions for an array of shape (3, 4, 5): basic, advanced and mixed.
GETITEM = {
    "int": (1,),
    "neg_int": (-1, 2),
    "slice": (slice(1, 3),),
    "neg_step": (slice(None, None, -1), slice(3, 0, -2)),
    "ellipsis_int": (Ellipsis, 2),
    "none": (None, 1, None),
    "empty_tuple": (),
    "arr": (I([0, 2, 1, 0]),),
    "arr_neg": (I([-1, -3]),),
    "arr_2d": (I([[0, 1], [2, 2]]),),
    "arr_last": (Ellipsis, I([4, 0, -1])),
    "arr_middle": (slice(None), I([1, 3])),
    "two_arr_broadcast": (I([[0], [2]]), I([1, 3, 0])),
    "three_arr": (I([0, 1]), I([1, 2]), I([3, 4])),
    "arr_slice_arr_first": (I([[0, 1], [2, 0]]), slice(1, 4), I([4, 0])),
    "int_slice_arr_first": (0, slice(None), I([0, 1])),
    "int_arr_adjacent": (slice(None), 1, I([0, 4, 2])),
    "arr_none_arr_first": (I([0, 1]), None, I([1, 2])),
    "none_arr_ellipsis_step": (None, I([2]), Ellipsis, slice(0, 5, 2)),
    "arr_rev_slice": (slice(None, None, -1), I([3, 0, -2])),
    "arr_strided_mid": (I([0, 2]), slice(None, None, 2), slice(1, 4)),
    "list": ([0, 2],),
    "lists": ([0, 1], [1, 2], [3, 4]),
    "nested_list": ([[0, 1], [1, 2]],),
    "empty_arr": (I([], np.int32),),
    "empty_list": ([],),
    "mask_1d": (I([True, False, True]),),
    "mask_2d": (MASK2,),
    "mask_and_slice": (slice(None), I([True, False, True, True])),
    "mask_and_arr": (I([True, False, True]), slice(None), I([4, 0])),
    "true": (True,),
    "false": (False,),
    "true_arr": (True, I([0, 2])),
    "np_int": (np.int64(2), np.int32(-1)),
    "zero_d_arr": (I(1), I([0, 3])),
}

DTYPES = [np.float32, np.int32]


def _split(idx):
    """Integer index arrays become jit arguments; everything else stays static."""
    arrays = [i for i in idx if isinstance(i, np.ndarray) and i.dtype != bool and i.ndim]
    it = iter(range(len(arrays)))
    template = tuple(("arr", next(it)) if isinstance(i, np.ndarray) and i.dtype != bool and
                     i.ndim else i for i in idx)

    def build(arrs):
        return tuple(arrs[t[1]] if isinstance(t, tuple) and t[:1] == ("arr",) else t
                     for t in template)
    return arrays, build


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(GETITEM))
def test_getitem_matches_numpy(name, dtype):
    a = A.astype(dtype)
    idx = GETITEM[name]
    expected = a[idx]
    x = xnp.asarray(a)
    for out in (x[idx], xtrace.jit(lambda x: x[idx])(x)):
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_array_equal(np.asarray(out), expected)
    arrays, build = _split(idx)
    if arrays:  # index arrays traced under jit
        out = xtrace.jit(lambda x, *arrs: x[build(arrs)])(x, *arrays)
        np.testing.assert_array_equal(np.asarray(out), expected)


def test_traced_scalar_indices():
    x = xnp.asarray(A)
    f = xtrace.jit(lambda x, i, j: x[i, 1:, j])
    for i, j in [(0, 0), (2, -1), (-3, 4), (-1, -5)]:
        np.testing.assert_array_equal(np.asarray(f(x, i, j)), A[i, 1:, j])
    g = xtrace.jit(lambda x, i, a: x[i, :, a])  # traced int with a traced array: advanced
    np.testing.assert_array_equal(np.asarray(g(x, -1, I([0, 3]))), A[-1, :, I([0, 3])])
    h = xtrace.jit(lambda x, i: x.at[i, 1].add(100))
    expected = A.copy()
    expected[-2, 1] += 100
    np.testing.assert_array_equal(np.asarray(h(x, -2)), expected)


def test_out_of_bounds_reads_clamp_like_jax():
    x = xnp.arange(5.0)
    np.testing.assert_array_equal(np.asarray(x[I([7, -1, -9, 2])]), [4.0, 4.0, 0.0, 2.0])
    m = xnp.asarray(np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(np.asarray(m[I([5, -4]), I([1, 9])]), [9, 3])
    jitted = xtrace.jit(lambda x, i: x[i])(x, I([7, -9]))
    np.testing.assert_array_equal(np.asarray(jitted), [4.0, 0.0])


# ---- .at updates ---------------------------------------------------------------------------

UPDATE_INDICES = {k: GETITEM[k] for k in [
    "int", "neg_int", "slice", "neg_step", "ellipsis_int", "none", "empty_tuple", "arr",
    "arr_2d", "arr_middle", "two_arr_broadcast", "arr_slice_arr_first", "int_slice_arr_first",
    "arr_none_arr_first", "none_arr_ellipsis_step", "arr_rev_slice", "arr_strided_mid",
    "lists", "empty_arr", "mask_2d", "mask_and_arr", "true", "false", "true_arr"]}
UPDATE_INDICES["repeated"] = (I([0, 2, 0, 0]),)
UPDATE_INDICES["repeated_pairs"] = (I([1, 1, 2, 1]), slice(None), I([3, 3, 0, 3]))

UFUNC_AT = {"add": np.add.at, "subtract": np.subtract.at, "multiply": np.multiply.at,
            "min": np.minimum.at, "max": np.maximum.at}


@pytest.mark.parametrize("op,dtype", [(op, np.float32) for op in UFUNC_AT]
                         + [("add", np.int32), ("min", np.int32)])
@pytest.mark.parametrize("name", list(UPDATE_INDICES))
def test_at_update_matches_ufunc_at(name, op, dtype):
    a = A.astype(dtype)
    idx = UPDATE_INDICES[name]
    shape = a[idx].shape
    vals = (np.arange(int(np.prod(shape))).reshape(shape) % 7 + 1).astype(dtype)
    expected = a.copy()
    UFUNC_AT[op](expected, idx, vals)
    x = xnp.asarray(a)
    arrays, build = _split(idx)
    outs = [getattr(x.at[idx], op)(vals),
            xtrace.jit(lambda x, v, *arrs: getattr(x.at[build(arrs)], op)(v))(x, vals, *arrays)]
    for out in outs:
        assert out.dtype == a.dtype
        np.testing.assert_array_equal(np.asarray(out), expected)
    np.testing.assert_array_equal(np.asarray(x), a)  # the original is unchanged


@pytest.mark.parametrize("name", [k for k in UPDATE_INDICES if not k.startswith("repeated")])
def test_at_set_matches_assignment(name):
    idx = UPDATE_INDICES[name]
    a = A.astype(np.float32)
    shape = a[idx].shape
    for vals in (np.float32(-1.5), (np.arange(int(np.prod(shape))).reshape(shape) * 0.5)
                 .astype(np.float32), np.ones(shape[-1:], np.float32) * 9):
        expected = a.copy()
        expected[idx] = vals
        x = xnp.asarray(a)
        np.testing.assert_array_equal(np.asarray(x.at[idx].set(vals)), expected)
        out = xtrace.jit(lambda x, v: x.at[idx].set(v))(x, vals)
        np.testing.assert_array_equal(np.asarray(out), expected)


def test_at_get_matches_getitem():
    x = xnp.asarray(A)
    for idx in (GETITEM["arr_slice_arr_first"], GETITEM["neg_step"], GETITEM["mask_2d"]):
        np.testing.assert_array_equal(np.asarray(x.at[idx].get()), A[idx])
        out = x.at[idx].get(indices_are_sorted=True, unique_indices=True)
        np.testing.assert_array_equal(np.asarray(out), A[idx])


def test_divide_and_power():
    a = np.arange(1.0, 6.0, dtype=np.float32)
    x = xnp.asarray(a)
    expected = a.copy()
    np.divide.at(expected, [2, 2, 4], 2.0)
    np.testing.assert_allclose(np.asarray(x.at[I([2, 2, 4])].divide(2.0)), expected)
    expected = a.copy()
    np.power.at(expected, [2, 3, 3], 2.0)
    np.testing.assert_allclose(np.asarray(x.at[I([2, 3, 3])].power(2.0)), expected)


def test_scalar_and_0d():
    x = xnp.asarray(np.float32(3.0))
    assert float(x.at[()].set(5.0)) == 5.0
    assert float(x.at[None].add(5.0)) == 8.0
    assert float(xtrace.jit(lambda x: x.at[...].multiply(2.0))(x)) == 6.0


# ---- JAX's semantics where NumPy has none (values recorded from JAX 0.10.2) ----------------

_X, _XI = np.arange(5.0, dtype=np.float32), np.arange(5, dtype=np.int32)
_M = np.arange(12, dtype=np.int32).reshape(3, 4)
NAN = np.nan
JAX_CASES = {
    "fill_get": (lambda x, xi, m: x.at[I([7, -1, -9, 2])].get(mode="fill"),
                 [NAN, 4.0, NAN, 2.0], np.float32),
    "fill_get_val": (lambda x, xi, m: xi.at[I([7, -1, -9, 2])].get(mode="fill", fill_value=-1),
                     [-1, 4, -1, 2], np.int32),
    "fill_get_int_default": (lambda x, xi, m: xi.at[I([7])].get(mode="fill"),
                             [np.iinfo(np.int32).min], np.int32),
    "fill_get_rows": (lambda x, xi, m: m.at[I([3, 0])].get(mode="fill", fill_value=0),
                      [[0, 0, 0, 0], [0, 1, 2, 3]], np.int32),
    "fill_get_static_int": (lambda x, xi, m: x.at[6].get(mode="fill"), NAN, np.float32),
    "clip_get": (lambda x, xi, m: x.at[I([7, -9])].get(mode="clip"), [4.0, 0.0], np.float32),
    "clip_get_static_int": (lambda x, xi, m: x.at[7].get(mode="clip"), 4.0, np.float32),
    "oob_set_dropped": (lambda x, xi, m: x.at[I([7, -1, -9, 5])].set(100.0),
                        [0.0, 1.0, 2.0, 3.0, 100.0], np.float32),
    "oob_static_int_dropped": (lambda x, xi, m: x.at[9].add(100.0),
                               [0.0, 1.0, 2.0, 3.0, 4.0], np.float32),
    "clip_set": (lambda x, xi, m: x.at[I([7, -9])].set(I([10.0, 20.0]), mode="clip"),
                 [20.0, 1.0, 2.0, 3.0, 10.0], np.float32),
    "clip_add_2d": (lambda x, xi, m: m.at[I([5, -7]), 1].add(100, mode="clip"),
                    [[0, 101, 2, 3], [4, 5, 6, 7], [8, 109, 10, 11]], np.int32),
    "drop_mode": (lambda x, xi, m: x.at[I([1, 8])].add(1.0, mode="drop"),
                  [0.0, 2.0, 2.0, 3.0, 4.0], np.float32),
    "int_set_float": (lambda x, xi, m: xi.at[1].set(2.7), [0, 2, 2, 3, 4], np.int32),
    "int_add_float_repeated": (lambda x, xi, m: xi.at[I([1, 1])].add(1.5),
                               [0, 4, 2, 3, 4], np.int32),
    "int_mul_float": (lambda x, xi, m: xi.at[I([2, 3])].multiply(1.5), [0, 1, 3, 4, 4],
                      np.int32),
    "int_divide": (lambda x, xi, m: xi.at[I([2, 2])].divide(2), [0.0, 1.0, 0.5, 3.0, 4.0],
                   np.float32),
    "int_power": (lambda x, xi, m: xi.at[I([2, 3, 3])].power(2), [0, 1, 4, 81, 4], np.int32),
    "uint_subtract": (lambda x, xi, m: xnp.asarray(np.arange(4, dtype=np.uint8))
                      .at[I([0, 0, 3])].subtract(np.uint8(2)), [252, 1, 2, 1], np.uint8),
    "complex_max": (lambda x, xi, m: xnp.asarray(I([1 + 2j, 3, 0], np.complex64))
                    .at[I([0, 1])].max(I([1 + 3j, 2 + 5j], np.complex64)),
                    [1 + 3j, 3, 0], np.complex64),
}


@pytest.mark.parametrize("name", list(JAX_CASES))
def test_jax_semantics(name):
    fn, expected, dtype = JAX_CASES[name]
    args = [xnp.asarray(a) for a in (_X, _XI, _M)]
    for out in (fn(*args), xtrace.jit(fn)(*args)):
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(expected, dtype))


def test_at_kwargs_reach_the_primitives():
    x = xnp.arange(5.0)
    jaxpr = xtrace.make_jaxpr(lambda x: x.at[I([0, 2])].add(
        1.0, indices_are_sorted=True, unique_indices=True, mode="clip"))(x)
    (eqn,) = [e for e in jaxpr.eqns if e.primitive.name == "scatter_add"]
    assert eqn.params["indices_are_sorted"] and eqn.params["unique_indices"]
    assert eqn.params["mode"] == lax.GatherScatterMode.CLIP
    names = {e.primitive.name for e in xtrace.make_jaxpr(lambda x: x[I([0, 1])])(x).eqns}
    assert "gather" in names
    names = {e.primitive.name for e in xtrace.make_jaxpr(lambda x: x[1:3, None])(x).eqns}
    assert "gather" not in names  # basic indexing stays a slice


def test_x64_index_arrays():
    with xtrace.enable_x64(True):
        x = xnp.asarray(np.arange(10.0))
        idx = np.array([9, -1, 3], np.int64)
        np.testing.assert_array_equal(np.asarray(x[idx]), np.arange(10.0)[idx])
        out = xtrace.jit(lambda x, i: x.at[i].add(1.0))(x, idx)
        expected = np.arange(10.0)
        np.add.at(expected, idx, 1.0)
        np.testing.assert_array_equal(np.asarray(out), expected)


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("idx,match", [
    ((0, 0, 0, 0), "too many indices"),
    ((I([0]), 0, 0, 0), "too many indices"),
    ((MASK2, 0, 0), "too many indices"),
    ((1.0,), "only integers, slices"),
    ((slice(None), 2.5), "only integers, slices"),
    ((I([0.0, 1.0]),), "integer \\(or boolean\\) type"),
    (("a",), "only integers, slices"),
    ((Ellipsis, 0, Ellipsis), "single ellipsis"),
    ((I([True, False]),), "boolean index did not match"),
    ((I([0, 1]), I([0, 1, 2])), "shape mismatch"),
])
def test_index_errors_match_numpy(idx, match):
    with pytest.raises(IndexError):
        A[idx]
    x = xnp.asarray(A)
    with pytest.raises(IndexError, match=match):
        x[idx]
    with pytest.raises(IndexError, match=match):
        xtrace.jit(lambda x: x[idx])(x)
    with pytest.raises(IndexError, match=match):
        x.at[idx].set(0)


def test_traced_index_errors():
    x = xnp.asarray(A)
    with pytest.raises(IndexError, match="must be concrete"):
        xtrace.jit(lambda x, m: x[m])(x, MASK2)
    with pytest.raises(IndexError, match="integer \\(or boolean\\) type"):
        xtrace.jit(lambda x, i: x[i])(x, I([0.0]))
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]  # static ints are checked, as in NumPy
    with pytest.raises(ValueError, match="cannot broadcast"):
        x.at[I([0, 1])].set(np.ones(3))


def test_lax_errors_name_shapes():
    x = xnp.zeros((5, 3))
    dn = lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                    start_index_map=(0,))
    with pytest.raises(TypeError, match="index vector"):
        lax.gather(x, np.zeros((2, 2), np.int32), dn, (1, 3))
    with pytest.raises(TypeError, match="slice_sizes"):
        lax.gather(x, np.zeros((2, 1), np.int32), dn, (1, 4))
    with pytest.raises(TypeError, match="integer dtype"):
        lax.gather(x, np.zeros((2, 1), np.float32), dn, (1, 3))
    sdn = lax.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                      scatter_dims_to_operand_dims=(0,))
    with pytest.raises(TypeError, match=r"\(2,\)"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), xnp.zeros((4, 3)), sdn)
    with pytest.raises(TypeError, match="dtype"):
        lax.scatter(x, np.zeros((2, 1), np.int32), xnp.zeros((2, 3), np.int32), sdn)
    with pytest.raises(TypeError, match="bool"):
        lax.scatter_add(xnp.zeros(3, bool), np.zeros((1, 1), np.int32), xnp.ones(1, bool),
                        lax.ScatterDimensionNumbers((), (0,), (0,)))
    with pytest.raises(ValueError, match="Unknown"):
        lax.gather(x, np.zeros((2, 1), np.int32), dn, (1, 3), mode="wrap")


def test_dimension_numbers_are_hashable_namedtuples():
    dn = lax.GatherDimensionNumbers((1,), (0,), (0,))
    assert dn.operand_batching_dims == () and hash(dn) == hash(tuple(dn))
    sdn = lax.ScatterDimensionNumbers(update_window_dims=[1], inserted_window_dims=[0],
                                      scatter_dims_to_operand_dims=[0])
    out = lax.scatter(xnp.zeros((3, 2)), np.array([[1]]), xnp.ones((1, 2)), sdn)  # lists ok
    np.testing.assert_array_equal(np.asarray(out), [[0, 0], [1, 1], [0, 0]])
    assert lax.GatherScatterMode.from_any("fill") is lax.GatherScatterMode.FILL_OR_DROP


def test_traced_negative_scalar_index_counts_from_the_end_once():
    # JAX: a traced index is wrapped once (i + n if i < 0), then clamped into range
    f = xtrace.jit(lambda x, i: x[i])
    x = xnp.arange(5.0)
    got = [float(f(x, i)) for i in (-1, -5, -6, -7, -10, 4, 5, 7)]
    assert got == [4.0, 0.0, 0.0, 0.0, 0.0, 4.0, 4.0, 4.0]
