"""xtrace.numpy shape manipulation against NumPy: reshape, transpose, joining, splitting,
tiling, flipping, rolling, padding, broadcasting; eagerly and under jit, with error messages.

Each table of cases runs eagerly, then all together as one jitted program (one compile)."""
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


def assert_match(out, exp, ctx, rtol=0):
    if isinstance(exp, (list, tuple)):
        assert isinstance(out, (list, tuple)), f"{ctx}: expected a sequence, got {type(out)}"
        assert len(out) == len(exp), f"{ctx}: {len(out)} outputs, expected {len(exp)}"
        for i, (o, e) in enumerate(zip(out, exp)):
            assert_match(o, e, f"{ctx}[{i}]")
        return
    exp = np.asarray(exp)
    assert isinstance(out, xtrace.Array), f"{ctx}: got {type(out).__name__}"
    assert out.shape == exp.shape, f"{ctx}: shape {out.shape}, expected {exp.shape}"
    assert out.dtype == _CANON.get(exp.dtype, exp.dtype), \
        f"{ctx}: dtype {out.dtype}, expected {exp.dtype}"
    if rtol and exp.dtype.kind in "fc":
        np.testing.assert_allclose(np.asarray(out), exp, rtol=rtol, atol=rtol, err_msg=ctx)
    else:
        np.testing.assert_array_equal(np.asarray(out), exp, err_msg=ctx)


class S:
    """A static argument (kept out of the jit arguments even when it is a NumPy array)."""

    def __init__(self, value):
        self.value = value


def _unwrap(v):
    return v.value if isinstance(v, S) else v


def cast(x, dtype):
    """float32 test data as ``dtype`` (ints: doubled; bool: a pattern)."""
    if dtype == np.float32:
        return x
    ints = np.round(np.asarray(x) * 2).astype(np.int32)
    return ints % 3 == 0 if dtype == np.bool_ else ints.astype(dtype)


def run_cases(xfn, npfn, cases, dtypes=DTYPES, rtol=0):
    """``cases``: (label, args, kwargs). NumPy-array args become jit arguments; the others
    (and those wrapped in ``S``) stay static. Case i turns its float32 arrays into
    ``dtypes[i % len(dtypes)]``, so that a table covers every dtype without running each case
    three times. Checks every other case eagerly (each eager call compiles its own program),
then every case in one jitted program."""
    cases = [(f"{label} [{np.dtype(dtypes[i % len(dtypes)]).name}]",
              tuple(cast(v, dtypes[i % len(dtypes)]) if isinstance(v, np.ndarray) and
                    v.dtype == np.float32 else v for v in a), k)
             for i, (label, a, k) in enumerate(cases)]
    expected = [npfn(*map(_unwrap, a), **k) for _, a, k in cases]
    for i, ((label, a, k), exp) in enumerate(zip(cases, expected)):
        if i % 2 and len(cases) > 3:
            continue  # every other case eagerly (each eager call compiles); all under jit
        args = [xnp.asarray(v) if isinstance(v, np.ndarray) else _unwrap(v) for v in a]
        assert_match(xfn(*args, **k), exp, f"eager {label}", rtol)
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
        assert_match(out, exp, f"jit {label}", rtol)


def C(label, *args, **kwargs):
    return (label, args, kwargs)


def raises(exc, *patterns):
    """pytest.raises that checks every pattern appears in the message."""
    class _Ctx:
        def __enter__(self):
            self.cm = pytest.raises(exc)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *e):
            r = self.cm.__exit__(*e)
            msg = str(self.info.value)
            for p in patterns:
                assert re.search(p, msg), f"{p!r} not in message {msg!r}"
            return r
    return _Ctx()


# ---------------------------------------------------------------------------------------------
# Reshaping and transposing


def test_reshape_ravel():
    cases = []
    for i, (shape, new) in enumerate([
            ((6,), (2, 3)), ((2, 3), (-1,)), ((2, 3, 4), (4, -1)), ((2, 3, 4), (4, -1)),
            ((2, 3, 4), (2, 1, -1, 2)), ((2, 3, 4), (2, 1, -1, 2)), ((0, 3), (3, 0)),
            ((0, 3), (-1, 3)), ((), (1, 1)), ((1,), ()), ((2, 3, 4), 24), ((4, 6), [2, 2, 6]),
            ((4, 6), [2, 2, 6])]):
        order = "CF"[i % 2]
        cases.append(C(f"{shape}->{new} {order}", data(shape), new, order=order))
    run_cases(xnp.reshape, np.reshape, cases)
    run_cases(xnp.ravel, np.ravel, [C("C", data((2, 3, 4)), order="C"),
                                    C("F", data((2, 3, 4)), order="F"),
                                    C("1d", data((5,))), C("0d", data(())),
                                    C("empty", data((0, 2)), order="F")])


def test_reshape_method_and_newshape():
    x = xnp.asarray(data((2, 6)))
    np.testing.assert_array_equal(x.reshape(3, 4), data((2, 6)).reshape(3, 4))
    np.testing.assert_array_equal(x.reshape((4, -1)), data((2, 6)).reshape(4, -1))
    np.testing.assert_array_equal(xnp.reshape(x, newshape=(12,)), data((2, 6)).ravel())
    np.testing.assert_array_equal(xnp.reshape(data((2, 6)).tolist(), (3, 4)),
                                  data((2, 6)).reshape(3, 4))


def test_transpose_moveaxis_swapaxes():
    x = data((2, 3, 4))
    run_cases(xnp.transpose, np.transpose, [
        C("none", x), C("perm", x, (1, 2, 0)), C("neg", x, (-1, 0, -2)), C("list", x, [2, 0, 1]),
        C("1d", data((5,))), C("0d", data(())), C("empty", data((0, 2)))])
    run_cases(xnp.moveaxis, np.moveaxis, [
        C("int", x, 0, 2), C("neg", x, -1, 0), C("tuple", x, (0, 1), (2, 0)),
        C("tuple_neg", x, (-1, 0), (0, -1)), C("same", x, 1, 1), C("empty", data((0, 2)), 0, 1)])
    run_cases(xnp.swapaxes, np.swapaxes, [
        C("01", x, 0, 1), C("neg", x, -1, 0), C("same", x, 2, -1), C("2d", data((2, 5)), 0, 1)])
    run_cases(xnp.permute_dims, np.transpose, [C("perm", x, (2, 0, 1))])


def test_expand_dims_squeeze():
    x = data((2, 3))
    run_cases(xnp.expand_dims, np.expand_dims, [
        C("0", x, 0), C("last", x, 2), C("neg", x, -1), C("neg3", x, -3), C("tuple", x, (0, 3)),
        C("tuple_neg", x, (-1, 0)), C("scalar", data(()), 0), C("empty", data((0,)), 1)])
    y = data((1, 3, 1, 1))
    run_cases(xnp.squeeze, np.squeeze, [
        C("all", y), C("0", y, 0), C("neg", y, -1), C("tuple", y, (0, 2)),
        C("tuple_neg", y, (-2, 0)),
        C("none_to_squeeze", x), C("0d", data(())), C("0d_axis", data(()), 0),
        C("empty", data((0, 1)), 1)])


# ---------------------------------------------------------------------------------------------
# Joining


def test_concatenate():
    a, b = data((2, 3)), data((4, 3))
    c = data((2, 5))
    run_cases(lambda *xs, **k: xnp.concatenate(xs, **k), lambda *xs, **k: np.concatenate(xs, **k), [
        C("axis0", a, b), C("axis1", a, c, axis=1), C("neg", a, c, axis=-1),
        C("none", a, c, axis=None), C("three", a, b, a), C("one", a),
        C("empty", data((0, 3)), a), C("1d", data((3,)), data((0,))),
        C("3d", data((2, 3, 4)), data((2, 1, 4)), axis=-2),
        C("mixed_dtype", a, data((1, 3), np.int32)), C("dtype_kw", a, b, dtype=np.float32)])
    run_cases(xnp.concatenate, np.concatenate, [
        C("array_arg", data((3, 2, 4))), C("array_arg_ax1", data((3, 2, 4)), axis=1),
        C("array_arg_none", data((3, 2)), axis=None)])


def test_concatenate_lists_and_scalars():
    np.testing.assert_array_equal(xnp.concatenate([[1, 2], [3]]), [1, 2, 3])
    assert xnp.concatenate([[1, 2], [3]]).dtype == np.int32
    out = xnp.concatenate([xnp.asarray([1, 2], np.int32), [2.5]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(xnp.concat([np.ones(2), np.zeros(1)]), [1, 1, 0])


def test_stack_family():
    a, b = data((2, 3)), data((2, 3))[::-1].copy()
    s0, s1 = data(()), data(())
    v1, v2 = data((3,)), data((3,))[::-1].copy()
    seq = lambda f: (lambda *xs, **k: f(xs, **k))  # noqa: E731
    run_cases(seq(xnp.stack), seq(np.stack), [
        C("0", a, b), C("1", a, b, axis=1), C("last", a, b, axis=2), C("neg", a, b, axis=-1),
        C("scalars", s0, s1), C("1d", v1, v2, axis=1),
        C("empty", data((0, 2)), data((0, 2)), axis=1)])
    run_cases(seq(xnp.hstack), seq(np.hstack), [
        C("1d", v1, v2), C("2d", a, data((2, 1))), C("scalars", s0, v1)])
    run_cases(seq(xnp.vstack), seq(np.vstack), [
        C("1d", v1, v2), C("2d", a, data((1, 3))), C("mixed", a, v1), C("scalars", s0, s1)])
    run_cases(seq(xnp.dstack), seq(np.dstack), [
        C("1d", v1, v2), C("2d", a, b), C("3d", data((2, 3, 2)), a)])
    run_cases(seq(xnp.column_stack), seq(np.column_stack), [
        C("1d", v1, v2), C("mixed", data((3, 2)), v1)])
    run_cases(xnp.stack, np.stack, [C("array_arg", data((3, 2)), axis=1)])
    run_cases(xnp.unstack, lambda x, axis=0: tuple(np.moveaxis(x, axis, 0)), [
        C("0", a), C("1", a, axis=1), C("neg", a, axis=-1)])


def test_stack_mixed_python_scalars_and_arrays():
    out = xtrace.jit(lambda x: xnp.stack([x, 2.0, 3]))(np.float32(1))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1, 2, 3])


# ---------------------------------------------------------------------------------------------
# Splitting


def test_split_family():
    x, y = data((6, 4)), data((7,))
    z = data((2, 6, 4))
    run_cases(xnp.split, np.split, [
        C("sections", x, 3), C("sections_ax1", x, 2, axis=1), C("neg_axis", x, 4, axis=-1),
        C("indices", y, [2, 5]), C("indices_neg", y, [2, -1]), C("indices_oob", y, [3, 10]),
        C("indices_desc", y, [5, 2]), C("indices_np", x, S(np.array([1, 3])), axis=0),
        C("one", y, 1), C("empty", data((0, 3)), 3, axis=0), C("empty_idx", y, [])])
    run_cases(xnp.array_split, np.array_split, [
        C("uneven", y, 3), C("more_than_len", y, 9), C("ax1", x, 3, axis=1),
        C("indices", y, [2, -1, 10, 3])])
    run_cases(xnp.hsplit, np.hsplit, [C("1d", data((6,)), 3), C("2d", x, [1, 3]),
                                      C("3d", z, 2)])
    run_cases(xnp.vsplit, np.vsplit, [C("2d", x, 2), C("3d", z, [1])])
    run_cases(xnp.dsplit, np.dsplit, [C("3d", z, 2), C("3d_idx", z, [1, 3])])


# ---------------------------------------------------------------------------------------------
# Repeating


def test_tile_repeat_resize():
    x = data((2, 3))
    run_cases(xnp.tile, np.tile, [
        C("int", x, 2), C("tuple", x, (2, 1)), C("longer", x, (2, 1, 3)),
        C("shorter", data((2, 3, 2)), (2,)),
        C("zero", x, (0, 2)), C("scalar", data(()), 3), C("scalar_tuple", data(()), (2, 2)),
        C("empty", data((0, 2)), 3), C("ones", x, (1, 1))])
    run_cases(xnp.repeat, np.repeat, [
        C("scalar", x, 2), C("axis0", x, 3, axis=0), C("axis_neg", x, 2, axis=-1),
        C("per_elem", x, [1, 0, 2], axis=1), C("per_elem_none", data((4,)), [2, 0, 1, 3]),
        C("np_repeats", x, S(np.array([2, 1])), axis=0), C("zero", x, 0, axis=1),
        C("one_list", x, [2], axis=0), C("scalar_input", data(()), 4),
        C("empty", data((0, 3)), 2, axis=0), C("one", x, 1, axis=1)])
    run_cases(xnp.resize, np.resize, [
        C("grow", data((3,)), (2, 4)), C("shrink", x, (4,)), C("same", x, (3, 2)),
        C("int_shape", x, 7), C("empty_out", x, (0, 2))])


def test_repeat_traced_and_total_repeat_length():
    x = data((3, 2))
    expect = np.repeat(x, [2, 0, 3], axis=0)
    f = xtrace.jit(lambda x, r: xnp.repeat(x, r, axis=0, total_repeat_length=5))
    np.testing.assert_array_equal(f(x, np.array([2, 0, 3], np.int32)), expect)
    # Shorter than the total: padded with the last element (JAX's rule); longer: truncated.
    f7 = xtrace.jit(lambda x, r: xnp.repeat(x, r, axis=0, total_repeat_length=7))
    np.testing.assert_array_equal(f7(x, np.array([2, 0, 3], np.int32)),
                                  np.concatenate([expect, x[-1:], x[-1:]]))
    f3 = xtrace.jit(lambda x, r: xnp.repeat(x, r, total_repeat_length=3))
    np.testing.assert_array_equal(f3(x, np.int32(2)), np.repeat(x, 2)[:3])
    np.testing.assert_array_equal(xnp.repeat(x, [2, 0, 3], axis=0, total_repeat_length=4),
                                  expect[:4])
    with raises(TypeError, "total_repeat_length"):
        xtrace.jit(lambda x, r: xnp.repeat(x, r, axis=0))(x, np.array([2, 0, 3], np.int32))
    with raises(ValueError, "negative"):
        xnp.repeat(x, -1)
    with raises(ValueError, "length 2", "size 3"):
        xnp.repeat(x, [1, 2], axis=0)


# ---------------------------------------------------------------------------------------------
# Flipping, rolling, rotating


def test_flip_roll_rot90():
    x = data((2, 3, 4))
    run_cases(xnp.flip, np.flip, [
        C("none", x), C("int", x, 1), C("neg", x, -1), C("tuple", x, (0, 2)),
        C("empty_tuple", x, ()),
        C("0d", data(())), C("empty", data((0, 3)), 1)])
    run_cases(xnp.fliplr, np.fliplr, [C("2d", x[0]), C("3d", x)])
    run_cases(xnp.flipud, np.flipud, [C("1d", x[0, 0]), C("3d", x)])
    run_cases(xnp.roll, np.roll, [
        C("none", x, 5), C("none_neg", x, -7), C("axis", x, 1, axis=1),
        C("neg_shift", x, -1, axis=2),
        C("big_shift", x, 13, axis=-1), C("tuple", x, (1, 2), axis=(0, 2)),
        C("repeated_axis", x, (1, 2), axis=(2, 2)), C("shift_tuple_one_axis", x, (1, 1), axis=1),
        C("one_shift_two_axes", x, 1, axis=(1, 2)), C("zero", x, 0, axis=0),
        C("empty", data((0, 3)), 2, axis=0), C("0d", data(()), 3),
        C("none_tuple", x, (1, 2))])
    run_cases(xnp.rot90, np.rot90, [C(f"k{k}", x, k) for k in (-1, 0, 1, 2, 3, 5)] + [
        C("axes12", x, 1, axes=(1, 2)), C("axes_rev", x, 1, axes=(1, 0)),
        C("axes_neg", x, 3, axes=(-1, 0)), C("2d", x[0], 1), C("empty", data((0, 3)), 1)])


def test_roll_traced_shift():
    x = data((3, 5))
    f = xtrace.jit(lambda x, s: xnp.roll(x, s, axis=1))
    for s in (0, 2, -3, 11):
        np.testing.assert_array_equal(f(x, np.int32(s)), np.roll(x, s, axis=1))
    g = xtrace.jit(lambda x, s: xnp.roll(x, s, axis=(0, 1)))
    np.testing.assert_array_equal(g(x, np.array([1, -2], np.int32)),
                                  np.roll(x, (1, -2), axis=(0, 1)))
    h = xtrace.jit(lambda x, s: xnp.roll(x, s))
    np.testing.assert_array_equal(h(x, np.int32(4)), np.roll(x, 4))


# ---------------------------------------------------------------------------------------------
# pad


PAD_WIDTHS = [1, (2,), (1, 2), ((1, 2),), ((0, 1), (2, 0)), [[3, 1], [0, 2]],
              S(np.array([[1, 0], [2, 3]]))]


def test_pad_width_forms_and_constant_values():
    x = data((3, 4))
    run_cases(xnp.pad, np.pad, [C(f"{pw!r}", x, pw) for pw in PAD_WIDTHS] + [
        C("scalar", x, 2, constant_values=7), C("per_axis", x, ((1, 2), (2, 1)),
                                                 constant_values=((1, 2), (3, 4))),
        C("pair", x, 1, constant_values=(5, 6)),
        C("per_axis_col", x, 1, constant_values=[[1], [2]]),
        C("float_value", x, (0, 1), constant_values=1.5),
        C("empty_axis", data((0, 3)), 1, constant_values=1),
        C("0d", data(()), 2),
        C("3d", data((2, 1, 2)), ((0, 1), (2, 0), (1, 1)), constant_values=(1, 2))])


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
def test_pad_modes(mode):
    x, v = data((3, 4)), data((4,))
    run_cases(xnp.pad, np.pad, [
        C("pairs", x, ((0, 1), (2, 0)), mode), C("large", v, (9, 7), mode),
        C("3d", data((2, 3, 2)), 2, mode), C("0d", data(()), 2, mode),
        C("size1", data((1, 2)), ((3, 2), (1, 1)), mode),
        C("larger_2d", x, ((5, 6), (9, 4)), mode)])
    if mode in ("reflect", "symmetric"):
        run_cases(xnp.pad, np.pad, [
            C("odd", x, ((2, 1), (3, 2)), mode, reflect_type="odd"),
            C("odd_large", v, (9, 7), mode, reflect_type="odd"),
            C("odd_size1", data((1, 3)), ((3, 1), (2, 2)), mode, reflect_type="odd")],
            dtypes=(np.float32, np.int32))


def test_pad_stat_and_ramp_modes():
    x = data((3, 5)) * 3
    x[1, 2] = 20
    cases = []
    for mode in ("maximum", "minimum", "mean"):
        cases += [C(f"{mode}", x, ((1, 2), (2, 1)), mode),
                  C(f"{mode} sl", x, 2, mode, stat_length=2),
                  C(f"{mode} sl_pairs", x, ((1, 1), (2, 3)), mode, stat_length=((1, 2), (3, 9)))]
    cases += [C("median", x, ((1, 0), (0, 2)), "median", stat_length=((1, 2), (3, 2)))]
    cases += [C("ramp", x, 2, "linear_ramp"), C("ramp_ev", x, ((1, 3), (2, 4)), "linear_ramp",
                                                 end_values=((-5, 7), (20, 0))),
              C("ramp_scalar_ev", x, 3, "linear_ramp", end_values=4)]
    run_cases(xnp.pad, np.pad, cases, dtypes=(np.float32, np.int32), rtol=1e-6)
    out = xnp.pad(x, 2, "empty")
    assert out.shape == (7, 9)
    np.testing.assert_array_equal(np.asarray(out)[2:-2, 2:-2], x)


def test_pad_traced_constant_values_and_weak_type():
    x = data((2, 3))
    f = xtrace.jit(lambda x, c: xnp.pad(x, ((1, 0), (0, 2)), constant_values=c))
    np.testing.assert_array_equal(f(x, np.float32(9)), np.pad(x, ((1, 0), (0, 2)),
                                                            constant_values=9))
    g = xtrace.jit(lambda x, c: xnp.pad(x, 1, constant_values=c))
    cv = np.array([[1, 2], [3, 4]], np.float32)
    np.testing.assert_array_equal(g(x, cv), np.pad(x, 1, constant_values=cv))
    w = xnp.pad(xnp.asarray(1.0)[None], 1)
    assert w.aval.weak_type and w.dtype == np.float32


def test_pad_errors():
    x = xnp.asarray(data((2, 3)))
    with raises(ValueError, "negative"):
        xnp.pad(x, -1)
    with raises(ValueError, r"\(2, 2\)", r"\(3,\)"):
        xnp.pad(x, (1, 2, 3))
    with raises(ValueError, "mode 'bogus'"):
        xnp.pad(x, 1, "bogus")
    with raises(ValueError, "constant_values"):
        xnp.pad(x, 1, "edge", constant_values=3)
    with raises(ValueError, "empty axis 0"):
        xnp.pad(xnp.zeros((0, 3)), 1, "wrap")
    with raises(TypeError, "integral"):
        xnp.pad(x, 1.5)
    with raises(TypeError, "static"):
        xtrace.jit(lambda x, p: xnp.pad(x, p))(x, np.int32(1))
    with raises(ValueError, "stat_length of 0"):
        xnp.pad(x, 1, "mean", stat_length=0)


# ---------------------------------------------------------------------------------------------
# Broadcasting and dimension helpers


def test_broadcast_and_atleast():
    run_cases(xnp.broadcast_to, np.broadcast_to, [
        C("same", data((2, 3)), (2, 3)), C("lead", data((3,)), (4, 2, 3)),
        C("ones", data((2, 1)), (2, 5)), C("scalar", data(()), (2, 2)),
        C("int", data((1,)), 4), C("empty", data((1, 3)), (0, 3))])
    run_cases(xnp.broadcast_arrays, np.broadcast_arrays, [
        C("two", data((2, 1)), data((3,))), C("three", data(()), data((1, 4)), data((2, 1))),
        C("one", data((2,)))])
    shapes = [(), (3,), (2, 3), (2, 3, 4)]
    for f, g in [(xnp.atleast_1d, np.atleast_1d), (xnp.atleast_2d, np.atleast_2d),
                 (xnp.atleast_3d, np.atleast_3d)]:
        run_cases(f, g, [C(str(s), data(s)) for s in shapes]
                  + [C("many", *[data(s) for s in shapes])])


def test_broadcast_python_values():
    out = xnp.broadcast_to(2.0, (3,))
    assert out.dtype == np.float32 and out.aval.weak_type
    np.testing.assert_array_equal(xnp.broadcast_to([1, 2], (2, 2)), [[1, 2], [1, 2]])
    a, b = xnp.broadcast_arrays(1, np.ones((2, 2), np.float32))
    assert a.shape == b.shape == (2, 2)


# ---------------------------------------------------------------------------------------------
# append, insert, delete


def test_append_insert_delete():
    x, v = data((3, 4)), data((6,))
    run_cases(xnp.append, np.append, [
        C("none", x, data((2,))), C("axis0", x, data((1, 4)), axis=0),
        C("axis1", x, data((3, 2)), axis=-1)])
    run_cases(xnp.insert, np.insert, [
        C("scalar_none", x, 2, data(())), C("scalar_axis0", x, 1, data((4,)), axis=0),
        C("scalar_axis1_bcast", x, 1, data(()), axis=1), C("seq", v, [1, 3, 3], data((3,))),
        C("seq_neg", v, [-1, 0], data((2,))), C("slice", v, slice(0, 4, 2), data(())),
        C("end", v, 6, data((2,))), C("col", x, [1], data((3, 1)), axis=1),
        C("np_obj", x, S(np.array([0, 2])), data(()), axis=1)])
    mask = np.array([True, False, False, True, False, True])
    run_cases(xnp.delete, np.delete, [
        C("int", v, 2), C("neg", v, -1), C("seq", v, [0, 2, 2]), C("slice", v, slice(1, None, 2)),
        C("mask", v, S(mask)), C("axis0", x, 1, axis=0), C("axis1", x, [0, 3], axis=-1),
        C("none_2d", x, [0, 5]), C("all", v, slice(None)), C("nothing", v, [])])


def test_insert_traced_values():
    f = xtrace.jit(lambda x, v: xnp.insert(x, [1, 2], v))
    x, v = data((4,)), np.array([10.0, 20.0], np.float32)
    np.testing.assert_array_equal(f(x, v), np.insert(x, [1, 2], v))
    with raises(TypeError, "static"):
        xtrace.jit(lambda x, i: xnp.delete(x, i))(x, np.int32(1))


# ---------------------------------------------------------------------------------------------
# A seeded random sweep over shapes, axes and modes (one jitted program)


def test_random_sweep_against_numpy():
    rng = np.random.default_rng(1)
    cases = []
    for i in range(40):
        nd = int(rng.integers(1, 4))
        shape = tuple(int(d) for d in rng.integers(1, 5, nd))
        x = data(shape, [np.float32, np.int32][i % 2])
        ax = int(rng.integers(-nd, nd))
        kind = i % 5
        if kind == 0:
            pw = [tuple(int(v) for v in rng.integers(0, 6, 2)) for _ in range(nd)]
            mode = ["constant", "edge", "reflect", "symmetric", "wrap"][int(rng.integers(5))]
            cases.append(("pad", (x, pw, mode)))
        elif kind == 1:
            cases.append(("roll", (x, int(rng.integers(-9, 9)), ax)))
        elif kind == 2:
            cases.append(("repeat", (x, [int(r) for r in rng.integers(0, 3, shape[ax])], ax)))
        elif kind == 3:
            reps = tuple(int(r) for r in rng.integers(0, 3, int(rng.integers(1, 4))))
            cases.append(("tile", (x, reps)))
        else:
            cases.append(("array_split", (x, int(rng.integers(1, 6)), ax)))
    expected = [getattr(np, name)(*args) for name, args in cases]
    outs = xtrace.jit(lambda xs: [getattr(xnp, name)(x, *args[1:])
                                  for (name, args), x in zip(cases, xs)])(
        [args[0] for _, args in cases])
    for (name, args), out, exp in zip(cases, outs, expected):
        assert_match(out, exp, f"{name}{tuple(np.shape(args[0]))}{args[1:]}")


# ---------------------------------------------------------------------------------------------
# Errors: shapes and axes are named


def test_error_messages():
    x = xnp.asarray(data((2, 3)))
    with raises(ValueError, r"\(2, 3\)", r"\(4, 2\)"):
        xnp.reshape(x, (4, 2))
    with raises(ValueError, r"\(2, 3\)", r"\(4, -1\)"):
        xnp.reshape(x, (4, -1))
    with raises(ValueError, "one unknown dimension"):
        xnp.reshape(x, (-1, -1))
    with raises(ValueError, r"\(2, 3\)", r"\(2, 4\)"):
        xnp.concatenate([x, xnp.zeros((2, 4))])
    with raises(ValueError, "same number of dimensions", r"\(3,\)"):
        xnp.concatenate([x, xnp.zeros(3)])
    with raises(ValueError, "zero-dimensional"):
        xnp.concatenate([1.0, 2.0])
    with raises(ValueError, r"\(2, 3\)", r"\(3, 2\)"):
        xnp.stack([x, xnp.zeros((3, 2))])
    with raises(ValueError, "at least one"):
        xnp.stack([])
    with raises(ValueError, r"\(2, 3\)", r"\(4,\)"):
        xnp.broadcast_to(x, (4,))
    with raises(ValueError, r"\(2, 3\)", r"\(4,\)"):
        xnp.broadcast_arrays(x, xnp.zeros(4))
    with raises(ValueError, "equal division", "size 3", "2 sections"):
        xnp.split(x, 2, axis=1)
    with raises(ValueError, "size not equal to one", "axis 1", "size 3"):
        xnp.squeeze(x, 1)
    with raises(ValueError, "repeated axis"):
        xnp.expand_dims(x, (0, 0))
    with raises(ValueError, "vsplit", "2 or more"):
        xnp.vsplit(xnp.zeros(3), 1)
    with raises(ValueError, "fliplr", "2-D"):
        xnp.fliplr(xnp.zeros(3))
    with raises(ValueError, "rot90", "different"):
        xnp.rot90(x, axes=(1, 1))
    with raises(ValueError, "don't match", "dimension 2"):
        xnp.transpose(x, (1, 0, 2))
    with raises(TypeError, "static"):
        xtrace.jit(lambda x, n: xnp.reshape(x, (n, -1)))(x, np.int32(3))
    with raises(TypeError, "static"):
        xtrace.jit(lambda x, n: xnp.tile(x, n))(x, np.int32(3))


BAD_AXIS = [
    ("transpose", lambda x: xnp.transpose(x, (0, 2))),
    ("moveaxis", lambda x: xnp.moveaxis(x, 2, 0)),
    ("swapaxes", lambda x: xnp.swapaxes(x, 0, -3)),
    ("expand_dims", lambda x: xnp.expand_dims(x, 3)),
    ("squeeze", lambda x: xnp.squeeze(x, 2)),
    ("concatenate", lambda x: xnp.concatenate([x, x], axis=2)),
    ("stack", lambda x: xnp.stack([x, x], axis=-4)),
    ("split", lambda x: xnp.split(x, 1, axis=2)),
    ("repeat", lambda x: xnp.repeat(x, 2, axis=-3)),
    ("flip", lambda x: xnp.flip(x, 2)),
    ("roll", lambda x: xnp.roll(x, 1, axis=5)),
    ("rot90", lambda x: xnp.rot90(x, axes=(0, 2))),
    ("delete", lambda x: xnp.delete(x, 0, axis=2)),
    ("unstack", lambda x: xnp.unstack(x, axis=2)),
]


@pytest.mark.parametrize("name,fn", BAD_AXIS, ids=[n for n, _ in BAD_AXIS])
def test_bad_axis_names_axis_and_ndim(name, fn):
    x = xnp.asarray(data((2, 3)))
    with raises(ValueError, name, r"-?\d+ is out of bounds", r"dimension \d"):
        fn(x)


def test_block_and_rollaxis():
    a, b = data((2, 2)), data((2, 3))
    c, d = data((1, 2)), data((1, 3))
    blk = lambda *xs, **k: xnp.block(k["layout"](*xs))  # noqa: E731
    nblk = lambda *xs, **k: np.block(k["layout"](*xs))  # noqa: E731
    run_cases(blk, nblk, [
        C("2x2", a, b, c, d, layout=lambda a, b, c, d: [[a, b], [c, d]]),
        C("flat", data((3,)), data(()), data((2,)), layout=lambda x, y, z: [x, y, z]),
        C("single", a, layout=lambda x: x), C("nested_1d", data((2,)), layout=lambda x: [[x], [x]]),
        C("3d", data((1, 2, 2)), data((1, 2, 1)), layout=lambda x, y: [[[x, y]], [[x, y]]]),
        C("mixed_dtype", a, data((2, 1), np.int32), layout=lambda x, y: [x, y])])
    with raises(ValueError, "depths are mismatched"):
        xnp.block([[a], b])
    with raises(TypeError, "tuple"):
        xnp.block((a, b))
    with raises(ValueError, r"\(2, 2\)", r"\(1, 3\)"):
        xnp.block([[a], [d]])
    x = data((2, 3, 4))
    run_cases(xnp.rollaxis, np.rollaxis, [
        C("last", x, 2), C("to_end", x, 0, 3), C("neg", x, -1, 1), C("same", x, 1, 1),
        C("start_neg", x, 0, -1), C("fwd", x, 0, 2)])
    with raises(ValueError, "rollaxis", "start 5"):
        xnp.rollaxis(x, 0, 5)
