"""xtrace.random reproduces JAX's default generator (threefry2x32, partitionable) bit for bit.

Expected values come from jax 0.10.2 (CPU, x64 disabled unless said), in two places:
* ``tests/data/prng-known-answers.json`` (a copy of ``shared/data``; see tests/data/README.md);
* the tables below (``JAX_EXTRA``, ``JAX_X64``, ``_DRAWS``), recorded by running the same calls
  with ``jax.random`` in place of ``xtrace.random`` (keys ``PRNGKey(42)`` and ``PRNGKey(123)``).
Eager calls and jitted calls take different paths (see ``xtrace/_src/random.py``): both are
checked against these values.
"""
import json
import math
import pathlib

import ml_dtypes
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
import xtrace.random as xr
from xtrace import lax

_DATA = json.loads((pathlib.Path(__file__).parent / "data" / "prng-known-answers.json")
                   .read_text())
_CASES = {c["seed"]: c for c in _DATA["cases"]}
bf16 = ml_dtypes.bfloat16


def _eq(actual, expected, dtype):
    """Exact equality, dtype included (float32 values compare as float32)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected).astype(dtype)
    assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)


# ---------------------------------------------------------------------------------------------
# The known-answers file: block function and every recorded function, every seed


def test_threefry2x32_block_function():
    f = xtrace.jit(xr.threefry_2x32)
    for case in _DATA["threefry2x32_20_rounds"]:
        key = np.array([int(v, 16) for v in case["key"]], np.uint32)
        ctr = np.array([int(v, 16) for v in case["counter"]], np.uint32)
        out = [int(v, 16) for v in case["out"]]
        _eq(xr.threefry_2x32(key, ctr), out, np.uint32)
        _eq(f(key, ctr), out, np.uint32)


def _known(key):
    return {
        "key_data": xr.key_data(key),
        "split_2": xr.split(key),
        "split_3": xr.split(key, 3),
        "fold_in_7": xr.fold_in(key, 7),
        "bits_uint32_shape_6": xr.bits(key, (6,), xnp.uint32),
        "uniform_f32_shape_5": xr.uniform(key, (5,)),
        "uniform_f32_shape_2x3_minval_-1_maxval_3": xr.uniform(key, (2, 3), minval=-1,
                                                               maxval=3),
        "normal_f32_shape_5": xr.normal(key, (5,)),
        "randint_shape_6_minval_0_maxval_10": xr.randint(key, (6,), 0, 10),
        "bernoulli_p_0.3_shape_8": xr.bernoulli(key, 0.3, (8,)),
        "permutation_10": xr.permutation(key, 10),
    }


_KNOWN_DTYPES = {"key_data": np.uint32, "split_2": np.uint32, "split_3": np.uint32,
                 "fold_in_7": np.uint32, "bits_uint32_shape_6": np.uint32,
                 "uniform_f32_shape_5": np.float32,
                 "uniform_f32_shape_2x3_minval_-1_maxval_3": np.float32,
                 "normal_f32_shape_5": np.float32, "randint_shape_6_minval_0_maxval_10": np.int32,
                 "bernoulli_p_0.3_shape_8": np.bool_, "permutation_10": np.int32}


def test_known_answers_cover_the_file():
    fields = {k for c in _DATA["cases"] for k in c} - {"seed"}
    assert fields == set(_KNOWN_DTYPES)


@pytest.mark.parametrize("seed", sorted(_CASES))
def test_known_answers_eager(seed):
    case = _CASES[seed]
    for make in (xr.PRNGKey, xr.key):
        got = _known(make(seed))
        for name, dt in _KNOWN_DTYPES.items():
            _eq(got[name], case[name], dt)


_known_jit = xtrace.jit(lambda seed: _known(xr.PRNGKey(seed)))


@pytest.mark.parametrize("seed", sorted(_CASES))
def test_known_answers_jit(seed):
    case = _CASES[seed]
    got = _known_jit(np.int32(seed))  # the seed is traced: PRNGKey runs inside the program
    for name, dt in _KNOWN_DTYPES.items():
        _eq(got[name], case[name], dt)


def test_unrolled_threefry_matches():
    # Off CPU the hash is straight-line code instead of a rolled loop: same bits.
    from xtrace._src import random as R
    case = _CASES[42]
    saved = R._rolled
    R._rolled = lambda: False
    try:
        f = xtrace.jit(lambda k: (R._split_words_impl(k, (3,)), R._bits_impl(k, 32, (6,)),
                                  R._uniform_impl(k, -1., 3., (2, 3), np.dtype(np.float32))))
        split3, bits6, u = f(xr.PRNGKey(42))
    finally:
        R._rolled = saved
    _eq(split3, case["split_3"], np.uint32)
    _eq(bits6, case["bits_uint32_shape_6"], np.uint32)
    _eq(u, case["uniform_f32_shape_2x3_minval_-1_maxval_3"], np.float32)


# ---------------------------------------------------------------------------------------------
# More recorded answers: dtypes, bounds, modes and the other distributions (key = PRNGKey(42))

_EXTRA = {
    "split_2x2": lambda k: xr.split(k, (2, 2)),
    "fold_in_max": lambda k: xr.fold_in(k, 2**32 - 1),
    "bits_u8": lambda k: xr.bits(k, (6,), np.uint8),
    "bits_u16": lambda k: xr.bits(k, (2, 3), np.uint16),
    "bits_scalar": lambda k: xr.bits(k),
    "uniform_f16": lambda k: xr.uniform(k, (6,), np.float16),
    "uniform_bf16": lambda k: xr.uniform(k, (6,), bf16, -2., 5.),
    "uniform_bounds": lambda k: xr.uniform(k, (2, 3), minval=np.array([0., 1., 2.], np.float32),
                                           maxval=np.array([[1.], [10.]], np.float32)),
    "normal_f16": lambda k: xr.normal(k, (6,), np.float16),
    "normal_bf16": lambda k: xr.normal(k, (6,), bf16),
    "normal_c64": lambda k: xr.normal(k, (3,), np.complex64),
    "truncated_normal_bounds": lambda k: xr.truncated_normal(
        k, np.array([-3., 0., 1.], np.float32), 4., (2, 3)),
    "randint_i8": lambda k: xr.randint(k, (8,), -100, 100, np.int8),
    "randint_u8_256": lambda k: xr.randint(k, (8,), 0, 256, np.uint8),
    "randint_u32": lambda k: xr.randint(k, (6,), 5, 2**31 - 1, np.uint32),
    "randint_full": lambda k: xr.randint(k, (6,), -2**31, 2**31 - 1),
    "randint_bounds": lambda k: xr.randint(k, (2, 3), np.array([0, 10, 100], np.int32),
                                           np.array([[5], [1000]], np.int32)),
    "randint_empty": lambda k: xr.randint(k, (4,), 7, 3),
    "bernoulli_p": lambda k: xr.bernoulli(k, np.array([0.1, 0.5, 0.9], np.float32), (4, 3)),
    "categorical_axis0": lambda k: xr.categorical(
        k, np.arange(12, dtype=np.float32).reshape(3, 4) / 3, axis=0, shape=(2, 4)),
    "categorical_norep": lambda k: xr.categorical(
        k, np.arange(12, dtype=np.float32).reshape(3, 4) / 3, shape=(2, 3), replace=False),
    "permutation_rows": lambda k: xr.permutation(k, np.arange(12, dtype=np.int32).reshape(4, 3)),
    "permutation_axis1": lambda k: xr.permutation(
        k, np.arange(12, dtype=np.int32).reshape(3, 4), axis=1),
    "permutation_2000_head": lambda k: xr.permutation(k, 2000)[:12],
    "permutation_independent": lambda k: xr.permutation(
        k, np.arange(12, dtype=np.int32).reshape(3, 4), axis=1, independent=True),
    "choice": lambda k: xr.choice(k, 10, (5,)),
    "choice_norep": lambda k: xr.choice(k, 10, (5,), replace=False),
    "choice_p": lambda k: xr.choice(k, 5, (10,), p=np.array([0.1, 0.2, 0.3, 0.2, 0.2],
                                                              np.float32)),
    "choice_axis1": lambda k: xr.choice(k, np.arange(12, dtype=np.int32).reshape(3, 4) * 10,
                                        (2,), axis=1),
    "choice_p_norep": lambda k: xr.choice(
        k, np.arange(5, dtype=np.int32) + 100, (3,), replace=False,
        p=np.array([0.1, 0.2, 0.3, 0.2, 0.2], np.float32)),
}

JAX_EXTRA = {
    'split_2x2': ('uint32', (2, 2, 2), [[[1832780943, 270669613], [64467757, 2916123636]], [[2465931498, 255383827], [3134548294, 894150801]]]),  # noqa: E501
    'fold_in_max': ('uint32', (2,), [2398536845, 3890976714]),
    'bits_u8': ('uint8', (6,), [162, 217, 249, 215, 21, 216]),
    'bits_u16': ('uint16', (2, 3), [[5026, 12505, 63993], [49623, 29461, 20184]]),
    'bits_scalar': ('uint32', (), 2098992034),
    'uniform_f16': ('float16', (6,), [0.076171875, 0.1904296875, 0.9755859375, 0.7568359375, 0.44921875, 0.3076171875]),  # noqa: E501
    'uniform_bf16': ('bfloat16', (6,), [2.4375, 3.90625, 4.78125, 3.84375, -1.453125, 3.90625]),
    'uniform_bounds': ('float32', (2, 3), [0.48870956897735596, 1.0, 2.0, 5.610160827636719, 5.0558013916015625, 6.68692684173584]),  # noqa: E501
    'normal_f16': ('float16', (6,), [-1.4296875, -0.87548828125, 1.974609375, 0.69677734375, -0.1270751953125, -0.501953125]),  # noqa: E501
    'normal_bf16': ('bfloat16', (6,), [0.34375, 1.015625, 1.890625, 0.984375, -1.40625, 1.015625]),
    'normal_c64': ('complex64', (3,), [[0.05368746072053909, 0.4283398389816284], [-0.34389618039131165, 0.5650094747543335], [0.9123944640159607, -0.6427084803581238]]),  # noqa: E501
    'truncated_normal_bounds': ('float32', (2, 3), [-0.026612740010023117, 0.993952751159668, 1.5472618341445923, 0.15500399470329285, 0.5986835956573486, 1.5084235668182373]),  # noqa: E501
    'randint_i8': ('int8', (8,), [-56, 14, -29, 69, 9, -81, 77, -93]),
    'randint_u8_256': ('uint8', (8,), [196, 18, 183, 193, 141, 107, 129, 39]),
    'randint_u32': ('uint32', (6,), [977810639, 1236381725, 780371132, 1127988422, 475579026, 870292848]),  # noqa: E501
    'randint_full': ('int32', (6,), [977810628, 1236381714, -1367112521, -1019495231, -1671904627, -1277190805]),  # noqa: E501
    'randint_bounds': ('int32', (2, 3), [[4, 10, 100], [369, 399, 619]]),
    'randint_empty': ('int32', (4,), [7, 7, 7, 7]),
    'bernoulli_p': ('bool', (4, 3), [[0, 0, 1], [0, 1, 1], [1, 0, 1], [0, 1, 1]]),
    'categorical_axis0': ('int32', (2, 4), [[2, 2, 2, 2], [2, 1, 2, 2]]),
    'categorical_norep': ('int32', (2, 3), [[3, 3, 3], [2, 1, 1]]),
    'permutation_rows': ('int32', (4, 3), [[6, 7, 8], [9, 10, 11], [0, 1, 2], [3, 4, 5]]),
    'permutation_axis1': ('int32', (3, 4), [[2, 3, 0, 1], [6, 7, 4, 5], [10, 11, 8, 9]]),
    'permutation_2000_head': ('int32', (12,), [1474, 815, 539, 874, 1693, 84, 995, 1191, 1713, 508, 594, 825]),  # noqa: E501
    'permutation_independent': ('int32', (3, 4), [[2, 3, 0, 1], [7, 4, 5, 6], [10, 11, 8, 9]]),
    'choice': ('int32', (5,), [4, 4, 1, 9, 9]),
    'choice_norep': ('int32', (5,), [7, 4, 2, 5, 3]),
    'choice_p': ('int32', (10,), [2, 2, 2, 2, 2, 2, 4, 1, 2, 1]),
    'choice_axis1': ('int32', (3, 2), [[0, 20], [40, 60], [80, 100]]),
    'choice_p_norep': ('int32', (3,), [102, 101, 103]),
}


def _expected(entry):
    dt, shape, vals = entry
    dt = bf16 if dt == "bfloat16" else np.dtype(dt)
    if np.dtype(dt).kind == "c":
        vals = [complex(re, im) for re, im in vals]
    return np.asarray(vals, dtype=np.float64 if dt == bf16 else dt).astype(dt).reshape(shape)


def test_extra_table_is_complete():
    assert set(_EXTRA) == set(JAX_EXTRA)


@pytest.mark.parametrize("name", sorted(_EXTRA))
def test_extra_answers(name):
    exp = _expected(JAX_EXTRA[name])
    _eq(_EXTRA[name](xr.PRNGKey(42)), exp, exp.dtype)


def test_extra_answers_jit():
    names = ["randint_i8", "categorical_norep", "choice_p_norep", "normal_c64",
             "permutation_2000_head"]
    got = xtrace.jit(lambda k: [_EXTRA[n](k) for n in names])(xr.PRNGKey(42))
    for name, g in zip(names, got):
        exp = _expected(JAX_EXTRA[name])
        _eq(g, exp, exp.dtype)


# JAX 0.10.2 with jax_enable_x64=True, key = PRNGKey(42).
JAX_X64 = {
    "bits_u64": (lambda k: xr.bits(k, (3,)),
                 ('uint64', (3,), [7871734211187709741, 276886910877598708, 10591095138341673235])),  # noqa: E501
    "uniform_f64": (lambda k: xr.uniform(k, (1000,))[:4],
                    ('float64', (4,), [0.4267275666499091, 0.015010069515314584, 0.5741444178995352, 0.7298188969046309])),  # noqa: E501
    "normal_f64": (lambda k: xr.normal(k, (4,)),
                   ('float64', (4,), [-0.18471174528191162, -2.169824560397754, 0.18693555179382582, 0.6122653570510959])),  # noqa: E501
    "randint_i64": (lambda k: xr.randint(k, (4,), -2**40, 2**40),
                    ('int64', (4,), [-64295291339, -359608887618, -961504916329, -77019434961])),
}


@pytest.mark.parametrize("name", sorted(JAX_X64))
def test_x64_answers(name, x64):
    fn, entry = JAX_X64[name]
    exp = _expected(entry)
    _eq(fn(xr.PRNGKey(42)), exp, exp.dtype)  # default dtypes are the 64-bit ones


def test_x64_seeds(x64):
    # With x64 on, a 64-bit seed fills both words (JAX's values).
    for seed, words in [(-1, [4294967295, 4294967295]), (2**40 + 3, [256, 3]),
                        (2**63 - 1, [2147483647, 4294967295]), (7, [0, 7])]:
        _eq(xr.PRNGKey(seed), words, np.uint32)
        _eq(xr.PRNGKey(np.int64(seed)), words, np.uint32)
    _eq(xr.PRNGKey(np.uint64(2**63 + 5)), [2147483648, 5], np.uint32)
    _eq(xtrace.jit(xr.PRNGKey)(np.int64(-1)), [4294967295, 4294967295], np.uint32)


# ---------------------------------------------------------------------------------------------
# Keys


def test_seeds_x32():
    # x64 off: a seed keeps only its low 32 bits, the high word is 0 (as JAX).
    for seed, lo in [(0, 0), (-1, 2**32 - 1), (-2, 2**32 - 2), (2**31, 2**31),
                     (2**32 - 1, 2**32 - 1), (2**32 + 5, 5), (2**40 + 3, 3),
                     (2**63 - 1, 2**32 - 1), (-2**63, 0), (-2**31 - 1, 2**31 - 1)]:
        _eq(xr.PRNGKey(seed), [0, lo], np.uint32)
    _eq(xr.PRNGKey(np.int8(-3)), [0, 2**32 - 3], np.uint32)
    _eq(xr.PRNGKey(np.uint32(2**32 - 2)), [0, 2**32 - 2], np.uint32)
    _eq(xr.PRNGKey(np.int64(2**40 + 3)), [0, 3], np.uint32)
    _eq(xr.PRNGKey(xnp.asarray(-5)), [0, 2**32 - 5], np.uint32)
    _eq(xtrace.jit(xr.PRNGKey)(-5), [0, 2**32 - 5], np.uint32)
    _eq(xr.key_data(xr.key(-5)), [0, 2**32 - 5], np.uint32)


def test_seed_errors():
    with pytest.raises(OverflowError):
        xr.PRNGKey(2**64)
    with pytest.raises(TypeError, match="integer"):
        xr.PRNGKey(1.5)
    with pytest.raises(TypeError, match="integer"):
        xr.PRNGKey(True)
    with pytest.raises(TypeError, match="integer"):
        xr.PRNGKey(np.float32(1))
    with pytest.raises(TypeError, match="scalar"):
        xr.PRNGKey(np.arange(3))


def test_key_data_and_wrap():
    keys = xr.split(xr.PRNGKey(3), (2, 3))
    assert keys.shape == (2, 3, 2) and keys.dtype == np.uint32
    np.testing.assert_array_equal(np.asarray(xr.key_data(keys)), np.asarray(keys))
    np.testing.assert_array_equal(np.asarray(xr.wrap_key_data(np.array([0, 42], np.uint32))),
                                  np.asarray(xr.PRNGKey(42)))
    assert xr.split(xr.PRNGKey(3), 0).shape == (0, 2)
    assert xr.split(xr.PRNGKey(3), (4,)).shape == (4, 2)


def test_partitionable_structure():
    # In JAX's partitionable mode, split(key, n)[i] == fold_in(key, i), and bits depend on the
    # element's flat index only (not on the requested shape).
    key = xr.PRNGKey(11)
    keys = np.asarray(xr.split(key, 4))
    for i in range(4):
        np.testing.assert_array_equal(keys[i], np.asarray(xr.fold_in(key, i)))
    b = np.asarray(xr.bits(key, (2, 6)))
    np.testing.assert_array_equal(b.ravel(), np.asarray(xr.bits(key, (12,))))
    np.testing.assert_array_equal(b.ravel()[:5], np.asarray(xr.bits(key, (5,))))


def test_fold_in_data_kinds():
    key = xr.PRNGKey(5)
    ref = np.asarray(xr.fold_in(key, 2**32 - 1))
    # A traced int32 -1 wraps to 2**32 - 1, as jnp.asarray(data, uint32) does.
    np.testing.assert_array_equal(np.asarray(xtrace.jit(xr.fold_in)(key, np.int32(-1))), ref)
    np.testing.assert_array_equal(np.asarray(xr.fold_in(key, np.uint32(2**32 - 1))), ref)
    np.testing.assert_array_equal(np.asarray(xr.fold_in(key, 1.5)),
                                  np.asarray(xr.fold_in(key, 1)))
    with pytest.raises(OverflowError):
        xr.fold_in(key, -1)  # as JAX: a Python int must fit in uint32
    with pytest.raises(TypeError, match="scalar"):
        xr.fold_in(key, np.arange(2))

    def body(i, k):
        return xr.fold_in(k, i)
    looped = lax.fori_loop(0, 3, body, key)
    expected = key
    for i in range(3):
        expected = xr.fold_in(expected, i)
    np.testing.assert_array_equal(np.asarray(looped), np.asarray(expected))


def test_map_over_keys():
    # Batching over a leading axis of keys (vmap does not exist yet; lax.map is its loop form).
    keys = xr.split(xr.PRNGKey(0), 3)
    got = lax.map(lambda k: xr.normal(k, (4,)), keys)
    want = np.stack([np.asarray(xr.normal(keys[i], (4,))) for i in range(3)])
    np.testing.assert_array_equal(np.asarray(got), want)


# ---------------------------------------------------------------------------------------------
# Distributions: exact prefix and checksum of a large JAX draw, plus statistics

_N = (10000,)
_P5 = np.array([0.1, 0.2, 0.3, 0.2, 0.2], np.float32)
_LOGITS3 = np.log(np.array([0.1, 0.2, 0.7], np.float32))

# name: (draw from key = PRNGKey(123), (JAX's first 6 values, JAX's checksum)). The checksum is
# sum(float64(v)) for floats and sum(int64(v) * arange(v.size)) for integers.
_DRAWS = {
    "bernoulli_high": (lambda k: xr.bernoulli(k, 0.3, _N, mode="high"),
                       ([0, 0, 0, 1, 1, 1], 14862017)),
    "uniform": (lambda k: xr.uniform(k, _N), (
        [0.9490746259689331, 0.7997726202011108, 0.508825421333313, 0.2983067035675049, 0.24615323543548584, 0.13832461833953857], 5012.580324888229)),  # noqa: E501
    "normal": (lambda k: xr.normal(k, _N), (
        [1.6359468698501587, 0.8408094048500061, 0.022123929113149643, -0.5292768478393555, -0.6866449117660522, -1.0878772735595703], 35.66376183566172)),  # noqa: E501
    "truncated_normal": (lambda k: xr.truncated_normal(k, -1., 2., _N), (
        [1.5185540914535522, 0.8902894258499146, 0.1895700991153717, -0.24598349630832672, -0.35804468393325806, -0.6071158051490784], 2324.8716409613335)),  # noqa: E501
    "exponential": (lambda k: xr.exponential(k, _N), (
        [2.977393865585327, 1.6083016395568848, 0.7109556794166565, 0.35425886511802673, 0.2825661599636078, 0.14887666702270508], 9999.40840264942)),  # noqa: E501
    "laplace": (lambda k: xr.laplace(k, _N), (
        [-2.284247398376465, -0.9151546359062195, -0.017808537930250168, 0.5164858102798462, 0.7086537480354309, 1.2850046157836914], -29.522146992123453)),  # noqa: E501
    "logistic": (lambda k: xr.logistic(k, _N), (
        [2.925126075744629, 1.384873867034912, 0.03530538082122803, -0.8553742170333862, -1.1192348003387451, -1.829275369644165], 46.19374552369118)),  # noqa: E501
    "gumbel": (lambda k: xr.gumbel(k, _N), (
        [2.951373815536499, 1.4986668825149536, 0.3920796513557434, -0.19031710922718048, -0.33775782585144043, -0.6821631193161011], 5792.882445528856)),  # noqa: E501
    "gumbel_high": (lambda k: xr.gumbel(k, _N, mode="high"), (
        [-1.0910483598709106, -0.47517871856689453, 0.34114518761634827, 1.037726879119873, 1.263841986656189, 1.9046363830566406], 5720.103771007765)),  # noqa: E501
    "gumbel_highest": (lambda k: xr.gumbel(k, _N, mode="highest"), (
        [-1.0910484790802002, -0.47517895698547363, 0.34114500880241394, 1.0377273559570312, 1.263841986656189, 1.9046363830566406], 5720.10148230585)),  # noqa: E501
    "rademacher": (lambda k: xr.rademacher(k, _N), ([-1, -1, -1, 1, 1, 1], -254574)),
    "randint": (lambda k: xr.randint(k, _N, 0, 10), ([1, 5, 0, 3, 7, 8], 225082220)),
    "bernoulli": (lambda k: xr.bernoulli(k, 0.3, _N), ([0, 0, 0, 1, 1, 1], 14862017)),
    "categorical": (lambda k: xr.categorical(k, _LOGITS3, shape=_N),
                    ([0, 2, 1, 1, 1, 2], 80049956)),
    "choice_p": (lambda k: xr.choice(k, 5, _N, p=_P5), ([0, 1, 2, 3, 3, 4], 109754891)),
    "permutation": (lambda k: xr.permutation(k, 2000),
                    ([534, 1618, 1617, 755, 872, 1417], 2017083341)),
    "choice_norep": (lambda k: xr.choice(k, 1000, (500,), replace=False),
                     ([693, 534, 596, 830, 63, 118], 60224152)),
}

_EULER = 0.5772156649015329


def _tn_moments(a, b):
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(b) - cdf(a)
    mean = (phi(a) - phi(b)) / z
    var = 1 + (a * phi(a) - b * phi(b)) / z - mean ** 2
    return mean, var


# name: (support check, expected mean, expected variance)
_MOMENTS = {
    "uniform": (lambda v: (v >= 0).all() and (v < 1).all(), 0.5, 1 / 12),
    "normal": (None, 0.0, 1.0),
    "truncated_normal": (lambda v: (v > -1).all() and (v < 2).all(), *_tn_moments(-1., 2.)),
    "exponential": (lambda v: (v >= 0).all(), 1.0, 1.0),
    "laplace": (None, 0.0, 2.0),
    "logistic": (None, 0.0, math.pi ** 2 / 3),
    "gumbel": (None, _EULER, math.pi ** 2 / 6),
    "gumbel_high": (None, _EULER, math.pi ** 2 / 6),
    "gumbel_highest": (None, _EULER, math.pi ** 2 / 6),
    "rademacher": (lambda v: set(np.unique(v)) == {-1, 1}, 0.0, 1.0),
    "randint": (lambda v: set(np.unique(v)) == set(range(10)), 4.5, 8.25),
    "bernoulli": (None, 0.3, 0.21),
    "bernoulli_high": (None, 0.3, 0.21),
}

_DTYPES = {"rademacher": np.int32, "randint": np.int32, "bernoulli": np.bool_,
           "bernoulli_high": np.bool_, "categorical": np.int32, "choice_p": np.int32,
           "permutation": np.int32, "choice_norep": np.int32}


def _check_float_sum(v, checksum):
    """JAX's checksum, to float32 rounding: the bits are exact on every jaxlib, but XLA's log,
    exp and erf_inv change by an ulp here and there between releases (exact on 0.10.2, which
    the references come from). A different stream would miss by far more (~sqrt(n))."""
    total = float(np.sum(v.astype(np.float64)))
    assert abs(total - checksum) <= 2 ** -20 * float(np.sum(np.abs(v.astype(np.float64)))), (
        total, checksum)


@pytest.mark.parametrize("name", sorted(_DRAWS))
def test_distribution(name):
    fn, (head, checksum) = _DRAWS[name]
    v = np.asarray(fn(xr.PRNGKey(123)))
    dt = _DTYPES.get(name, np.float32)
    assert v.dtype == dt
    _eq(v[:6], head, dt)
    if v.dtype.kind == "f":
        _check_float_sum(v, checksum)
    else:
        assert int(np.sum(v.astype(np.int64) * np.arange(v.size))) == checksum
    n = v.size
    if name in _MOMENTS:
        support, mean, var = _MOMENTS[name]
        assert support is None or support(v)
        x = v.astype(np.float64)
        # 6-sigma bounds for the sample mean; 10% for the sample variance.
        assert abs(x.mean() - mean) < 6 * math.sqrt(var / n), (x.mean(), mean)
        assert abs(x.var() - var) < 0.1 * var, (x.var(), var)
    elif name in ("categorical", "choice_p"):
        p = np.exp(_LOGITS3) if name == "categorical" else _P5
        freq = np.bincount(v, minlength=len(p)) / n
        np.testing.assert_allclose(freq, p / p.sum(), atol=6 * math.sqrt(0.25 / n))
    elif name == "permutation":
        np.testing.assert_array_equal(np.sort(v), np.arange(2000))
    elif name == "choice_norep":
        assert len(np.unique(v)) == 500 and v.min() >= 0 and v.max() < 1000


def test_distributions_traced():
    # The same draws inside one jitted program (the hash is traced with the transforms).
    names = ["gumbel_highest", "rademacher", "categorical", "choice_p", "choice_norep"]
    got = xtrace.jit(lambda k: [_DRAWS[n][0](k) for n in names])(xr.PRNGKey(123))
    for name, v in zip(names, got):
        head, checksum = _DRAWS[name][1]
        v = np.asarray(v)
        _eq(v[:6], head, _DTYPES.get(name, np.float32))
        if v.dtype.kind == "f":
            _check_float_sum(v, checksum)
        else:
            assert int(np.sum(v.astype(np.int64) * np.arange(v.size))) == checksum


# ---------------------------------------------------------------------------------------------
# Shapes, dtypes, other arguments


def test_float_dtypes_and_shapes():
    key = xr.PRNGKey(1)
    fns = (xr.exponential, xr.laplace, xr.logistic, xr.gumbel, xr.truncated_normal)
    dts = (np.float16, bf16)

    def draw(k):
        return [fn(k, -1., 1., (3, 2), dt) if fn is xr.truncated_normal else fn(k, (3, 2), dt)
                for fn in fns for dt in dts] + [xr.uniform(k), xr.normal(k)]
    out = draw(key)
    for v, dt in zip(out, [dt for _ in fns for dt in dts]):
        assert v.shape == (3, 2) and v.dtype == np.dtype(dt)
        assert np.isfinite(np.asarray(v).astype(np.float32)).all()
    for s in out[-2:]:
        assert s.shape == () and s.dtype == np.float32
    u = np.asarray(xr.uniform(key, (1000,), bf16, 2., 3.)).astype(np.float32)
    assert (u >= 2).all() and (u <= 3).all()  # rounding in bf16 can reach maxval (as JAX)
    assert xr.uniform(key, (0, 3)).shape == (0, 3)
    t = xr.truncated_normal(key, np.zeros((2, 1), np.float32), np.ones(3, np.float32))
    assert t.shape == (2, 3) and t.dtype == np.float32
    tv = np.asarray(t)
    assert (tv > 0).all() and (tv < 1).all()


def test_float64_under_x64(x64):
    key = xr.PRNGKey(1)
    u = np.asarray(xr.uniform(key, (1000,)))
    assert u.dtype == np.float64
    # 52 random mantissa bits: almost no draw is a multiple of 2**-24 (as float32 ones are).
    assert np.mean((u * 2**24) % 1 != 0) > 0.99
    g = xtrace.jit(lambda k: (xr.exponential(k, (3,)), xr.gumbel(k, (3,)),
                              xr.truncated_normal(k, -1., 1., (3,)),
                              xr.uniform(k, (2,), np.float32), xr.bits(k, (2,), np.uint32)))(key)
    assert [a.dtype for a in g] == [np.float64] * 3 + [np.float32, np.uint32]


def test_integer_dtypes():
    key = xr.PRNGKey(2)

    def draw(k):
        return ([xr.randint(k, (500,), 0, 100, dt) for dt in (np.int16, np.uint16)]
                + [xr.rademacher(k, (8,), dt) for dt in (np.int8, np.uint32, np.float32)]
                # bounds outside the dtype's range clip to it
                + [xr.randint(k, (200,), -1000, 1000, np.int8),
                   xr.randint(k, (3,), 5, 5),  # maxval <= minval gives minval
                   xr.randint(k, (3,), 1.7, 9.2)])  # float bounds truncate, as JAX
    i16, u16, r8, r32, rf, clip8, same, fb = [np.asarray(v) for v in draw(key)]
    for v, dt in ((i16, np.int16), (u16, np.uint16)):
        assert v.dtype == dt and v.min() >= 0 and v.max() < 100
    assert (r8.dtype, r32.dtype, rf.dtype) == (np.int8, np.uint32, np.float32)
    assert set(r8) <= {-1, 1} and set(rf) <= {-1., 1.}
    assert clip8.min() >= -128 and clip8.max() <= 127 and clip8.min() < -100
    assert clip8.max() > 100
    np.testing.assert_array_equal(same, [5, 5, 5])
    assert fb.dtype == np.int32 and fb.min() >= 1 and fb.max() < 9


def test_bernoulli_categorical_choice_permutation_args():
    key = xr.PRNGKey(4)
    logits = np.zeros((3, 4), np.float32)
    m = np.arange(20).reshape(4, 5)

    def draw(k):
        return dict(
            b0=xr.bernoulli(k), b_arr=xr.bernoulli(k, np.full((2, 3), 0.5, np.float32)),
            b_never=xr.bernoulli(k, 0.0, (100,)), b_always=xr.bernoulli(k, 1.0, (100,)),
            c_default=xr.categorical(k, logits), c_axis0=xr.categorical(k, logits, axis=0),
            c_shape=xr.categorical(k, logits, shape=(5, 3)),
            c_norep=xr.categorical(k, logits, shape=(4, 3), replace=False),
            c_ninf=xr.categorical(k, np.array([0., -np.inf, 0.], np.float32), shape=(200,)),
            ch_scalar=xr.choice(k, 5),
            ch_float=xr.choice(k, np.arange(6, dtype=np.float32) * 2, (2, 2)),
            ch_all=xr.choice(k, 8, (8,), replace=False),
            ch_p0=xr.choice(k, 4, (50,), p=np.array([0., 1., 0., 1.], np.float32)),
            ch_int_p=xr.choice(k, 3, (30,), p=[1, 1, 1]),  # integer weights are promoted
            p_float=xr.permutation(k, np.arange(10, dtype=np.float32) * 0.5),
            p_one=xr.permutation(k, 1),
            p_last=xr.permutation(k, m, axis=-1),
            p_ind0=xr.permutation(k, m, axis=0, independent=True))
    d = {n: np.asarray(v) for n, v in draw(key).items()}
    assert d["b0"].shape == () and d["b0"].dtype == np.bool_
    assert d["b_arr"].shape == (2, 3)
    assert not d["b_never"].any() and d["b_always"].all()
    assert d["c_default"].shape == (3,) and d["c_axis0"].shape == (4,)
    assert d["c_shape"].shape == (5, 3)
    assert all(len(set(d["c_norep"][:, j])) == 4 for j in range(3))
    assert 1 not in d["c_ninf"]  # a -inf logit is never drawn
    assert d["ch_scalar"].shape == ()
    assert xr.choice(key, 5, (0,)).shape == (0,)
    c = d["ch_float"]
    assert c.shape == (2, 2) and c.dtype == np.float32 and set(c.ravel()) <= set(range(0, 12, 2))
    np.testing.assert_array_equal(np.sort(d["ch_all"]), np.arange(8))
    assert set(np.unique(d["ch_p0"])) <= {1, 3}
    assert d["ch_int_p"].dtype == np.int32 and set(np.unique(d["ch_int_p"])) <= {0, 1, 2}
    x = np.arange(10, dtype=np.float32) * 0.5
    np.testing.assert_array_equal(np.sort(d["p_float"]), x)
    assert not np.array_equal(d["p_float"], x)
    np.testing.assert_array_equal(d["p_one"], [0])
    np.testing.assert_array_equal(np.sort(d["p_last"], axis=1), m)
    np.testing.assert_array_equal(np.sort(d["p_ind0"], axis=0), m)


def test_under_jit_matches_eager():
    key = xr.PRNGKey(9)

    def many(k, lo, hi, p):
        k1, k2, k3 = xr.split(k, 3)
        return (xr.uniform(k1, (4,), minval=lo, maxval=hi), xr.randint(k2, (4,), lo, hi),
                xr.bernoulli(k3, p, (4,)), xr.truncated_normal(k1, lo, hi, (4,)))

    lo, hi, p = np.float32(-2), np.float32(3), np.float32(0.25)
    eager = many(key, lo, hi, p)
    jitted = xtrace.jit(many)(key, lo, hi, p)
    for a, b in zip(eager, jitted):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors():
    key = xr.PRNGKey(0)
    cases = [
        (lambda: xr.uniform(np.zeros(2, np.int32), (2,)), TypeError, "uint32"),
        (lambda: xr.uniform(np.zeros(3, np.uint32), (2,)), TypeError, r"\(2,\)"),
        (lambda: xr.uniform([0, 0], (2,)), TypeError, "PRNG key"),
        (lambda: xr.normal(xr.split(key, 2), (2,)), ValueError, "single key"),
        (lambda: xr.split(xr.split(key, 2)), ValueError, "single key"),
        (lambda: xr.uniform(key, (2,), np.int32), ValueError, "float dtype"),
        (lambda: xr.normal(key, (2,), np.int32), ValueError, "float"),
        (lambda: xr.exponential(key, (2,), np.int32), ValueError, "float dtype"),
        (lambda: xr.randint(key, (2,), 0, 5, np.float32), TypeError, "integer dtypes"),
        (lambda: xr.bits(key, (2,), np.int32), ValueError, "unsigned"),
        (lambda: xr.bernoulli(key, 1, (2,)), TypeError, "floating"),
        (lambda: xr.bernoulli(key, 0.5, (2,), mode="mid"), ValueError, "mode"),
        (lambda: xr.gumbel(key, (2,), mode="mid"), ValueError, "mode"),
        (lambda: xr.uniform(key, (2, 3), minval=np.zeros(2, np.float32)), ValueError,
         "broadcast"),
        (lambda: xr.uniform(key, (3,), minval=np.zeros((2, 3), np.float32)), ValueError,
         "broadcast"),
        (lambda: xr.randint(key, (3,), np.zeros(2, np.int32), 5), ValueError, "broadcast"),
        (lambda: xr.uniform(key, (2.0,)), TypeError, "integers"),
        (lambda: xr.uniform(key, (-1,)), ValueError, "nonnegative"),
        (lambda: xr.split(key, -1), ValueError, "nonnegative"),
        (lambda: xr.permutation(key, 5.0), TypeError, "integer"),
        (lambda: xr.permutation(key, np.arange(4), axis=1), ValueError, "out of bounds"),
        (lambda: xr.choice(key, 5, 3), TypeError, "sequence"),
        (lambda: xr.choice(key, 5, (7,), replace=False), ValueError, "larger sample"),
        (lambda: xr.choice(key, 5, (2,), p=np.ones(4, np.float32)), ValueError, "p must be"),
        (lambda: xr.choice(key, 0, (2,)), ValueError, "greater than 0"),
        (lambda: xr.categorical(key, np.zeros((3, 4), np.float32), shape=(2, 4)), ValueError,
         "broadcast"),
        (lambda: xr.categorical(key, np.zeros(3, np.float32), shape=(4,), replace=False),
         ValueError, "cannot exceed"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()


def test_traced_static_arguments_error():
    key = xr.PRNGKey(0)
    with pytest.raises(TypeError, match="static"):
        xtrace.jit(lambda k, n: xr.permutation(k, n))(key, 5)
    with pytest.raises(TypeError):
        xtrace.jit(lambda k, n: xr.uniform(k, (n,)))(key, 3)
