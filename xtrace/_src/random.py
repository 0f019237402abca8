"""``xtrace.random``: JAX's key-based pseudo-random numbers, bit for bit.

The generator is threefry2x32 (20 rounds), used the way JAX's default implementation uses it
with ``jax_threefry_partitionable=True`` (the default since JAX 0.5), so that the same seed
gives the same numbers as JAX:

* a key is a ``uint32[2]`` array ``(k1, k2)``;
* ``threefry2x32(k1, k2, hi, lo)`` hashes a pair of counters into a pair of words;
* ``split(key, shape)[i] = threefry2x32(key, (0, i))`` (``i`` the row-major index in ``shape``,
  as a 64-bit counter split into high and low words), both words kept;
* ``fold_in(key, d) = threefry2x32(key, (0, d))``;
* ``bits(key, shape)[i]`` is ``w1 ^ w2`` of ``threefry2x32(key, (hi(i), lo(i)))`` for 32 bits,
  its low byte/half for 8/16 bits, and ``w1 << 32 | w2`` for 64 bits.

Every distribution then turns bits into values exactly as JAX does (see each function). Each
function is a pure composition of lax operations, with Python branching only on static
things (shapes, dtypes, modes), so it runs eagerly, under ``xtrace.jit`` and under autodiff,
and is ready to be batched over keys. Called eagerly, a sampler runs as a shared hash program
plus a small transform program (see ``_Sampler``), so that first calls compile quickly.

Differences from JAX: ``key`` returns raw ``uint32[2]`` data like ``PRNGKey`` (no typed key
arrays); only the partitionable derivation (JAX's default) is implemented; a single draw is
limited to 2**32 elements.
"""
from __future__ import annotations

import math
import operator
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from xtrace._src import core, dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import Tracer, get_aval
from xtrace._src.jit import jit

_U32 = dtypes.uint32
_UINT = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}

# ---------------------------------------------------------------------------------------------
# Small helpers


def _xnp():
    import xtrace.numpy as xnp
    return xnp


def _is_array(x: Any) -> bool:
    return isinstance(x, (Array, Tracer))


def _default_uint() -> np.dtype:
    return dtypes.uint64 if dtypes.x64_enabled() else dtypes.uint32


def _canon_shape(shape: Any, name: str) -> tuple[int, ...]:
    """JAX's ``canonicalize_shape``: an int or a sequence of concrete nonnegative ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shapes must be sequences of concrete integers (static Python "
                        f"ints, not traced values), got {shape!r}") from None
    if any(d < 0 for d in out):
        raise ValueError(f"{name}: shape dimensions must be nonnegative, got {out}")
    return out


def _check_shape(name: str, shape: tuple[int, ...], *param_shapes) -> None:
    """The parameters' shapes must broadcast *to* ``shape`` (JAX's ``_check_shape``)."""
    if not param_shapes:
        return
    try:
        res = tuple(np.broadcast_shapes(shape, *[tuple(s) for s in param_shapes]))
    except ValueError:
        res = None
    if res != tuple(shape):
        raise ValueError(
            f"{name} parameter shapes must be broadcast-compatible with the shape argument, and "
            f"the result of broadcasting them must equal it, but got parameter shapes "
            f"{[tuple(s) for s in param_shapes]} for shape argument {tuple(shape)}.")


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_float(dt):
        raise ValueError(f"dtype argument to `{name}` must be a float dtype, got {dt}")
    return dt


def _int_dtype(dtype: Any, name: str) -> np.dtype:
    dt = dtypes.default_int() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_int(dt):
        raise TypeError(f"{name} only accepts integer dtypes, got {dt}")
    return dt


def _bcast(x: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast an array (already of the right dtype) to ``shape``, NumPy style."""
    xs = get_aval(x).shape
    if xs == tuple(shape):
        return x
    nd = len(shape)
    return lax.broadcast_in_dim(lax.reshape(x, tuple(d for d in xs if d != 1)) if 1 in xs
                                else x, shape,
                                tuple(i for i, d in zip(range(nd - len(xs), nd), xs) if d != 1))


def _const(value: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


def _take(x: Any, idx: Any, axis: int) -> Any:
    """``jnp.take(x, idx, axis)`` for a 1-D integer ``idx`` of in-bounds indices."""
    shape = get_aval(x).shape
    nd = len(shape)
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(range(axis)) + tuple(range(axis + 1, nd)),
        collapsed_slice_dims=(axis,), start_index_map=(axis,))
    idx = lax.reshape(idx, (get_aval(idx).shape[0], 1))
    sizes = tuple(1 if i == axis else d for i, d in enumerate(shape))
    return lax.gather(x, idx, dnums, sizes, unique_indices=True, mode="promise_in_bounds")


# ---------------------------------------------------------------------------------------------
# Keys


def _check_key(name: str, key: Any, allow_batched: bool = False) -> Any:
    """Validate a raw key (``uint32[..., 2]``) and return it as an array."""
    if isinstance(key, (np.ndarray, np.generic)):
        key = _xnp().asarray(key)
    if not _is_array(key):
        raise TypeError(
            f"{name}: expected a PRNG key (a uint32 array of shape (2,) made by "
            f"xtrace.random.key(seed) or PRNGKey(seed)), got {type(key).__name__} {key!r:.60}")
    aval = key.aval
    if aval.dtype != _U32:
        raise TypeError(f"{name}: invalid PRNG key data: expected dtype uint32, got "
                        f"{aval.dtype.name}. Make keys with xtrace.random.key(seed) or "
                        "PRNGKey(seed), or split/fold_in an existing key.")
    if aval.shape[-1:] != (2,):
        raise TypeError(f"{name}: invalid PRNG key data: expected a shape ending in (2,) "
                        f"(threefry2x32 keys are two uint32 words), got shape {aval.shape}")
    if not allow_batched and aval.ndim != 1:
        raise ValueError(
            f"{name} accepts a single key (shape (2,)), but was given a key array of shape "
            f"{aval.shape}. Map over the keys (xtrace.lax.map, or vmap once available), or "
            "pass one key.")
    return key


def _key_words(key: Any) -> tuple[Any, Any]:
    ax = get_aval(key).ndim - 1
    return (lax.index_in_dim(key, 0, ax, keepdims=False),
            lax.index_in_dim(key, 1, ax, keepdims=False))


def _stack_words(w1: Any, w2: Any) -> Any:
    nd = get_aval(w1).ndim
    return lax.concatenate([lax.expand_dims(w1, (nd,)), lax.expand_dims(w2, (nd,))], nd)


@jit
def _seed_from_array(seed):
    dt = seed.dtype
    if dt.itemsize == 8:  # only with x64: the high word is the seed's upper 32 bits
        u64 = dtypes.uint64
        u = lax.bitcast_convert_type(seed, u64)
        hi = lax.convert_element_type(lax.shift_right_logical(u, _const(32, u64)), _U32)
        lo = lax.convert_element_type(lax.bitwise_and(u, _const(0xFFFFFFFF, u64)), _U32)
    else:  # JAX: shifting a <= 32-bit seed right by 32 gives 0; the low word sign-extends
        hi = lax.broadcast_in_dim(_const(0, _U32), (), ())
        wide = dtypes.int32 if dtypes.is_signed_int(dt) else _U32
        lo = lax.bitcast_convert_type(lax.convert_element_type(seed, wide), _U32)
    return _stack_words(hi, lo)


def PRNGKey(seed: Any) -> Array:
    """A raw threefry2x32 key (``uint32[2]``) from an integer seed, exactly as JAX makes it.

    With 64-bit types disabled (the default) the key is ``[0, seed mod 2**32]``: a Python int
    seed first becomes an int64 (so it must fit in 64 bits) and only its low 32 bits are kept,
    as in JAX. With ``enable_x64`` on, a 64-bit seed gives ``[seed >> 32, seed & 0xFFFFFFFF]``
    (two's complement for negative seeds)."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r}")
    if isinstance(seed, int):
        if not -2 ** 63 <= seed < 2 ** 63:
            raise OverflowError(f"PRNG key seed {seed} does not fit in 64 bits")
        if dtypes.x64_enabled():
            words = [(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF]
        else:
            words = [0, seed & 0xFFFFFFFF]
        return _xnp().asarray(np.asarray(words, dtype=_U32))
    if isinstance(seed, (np.ndarray, np.generic)):
        seed = _xnp().asarray(seed)
    if not _is_array(seed):
        raise TypeError(f"PRNG key seed must be an integer; got {type(seed).__name__} "
                        f"{seed!r:.60}")
    if seed.ndim:
        raise TypeError(f"PRNG key seed must be a scalar, but was given an array of shape "
                        f"{seed.shape}; make one key per seed (e.g. with xtrace.lax.map).")
    if not dtypes.is_int(seed.dtype):
        raise TypeError(f"PRNG key seed must be an integer; got dtype {seed.dtype.name}")
    return _seed_from_array(seed)


def key(seed: Any) -> Array:
    """A PRNG key from an integer seed (JAX's ``jax.random.key``).

    JAX returns a typed scalar key array; xtrace has no key dtype, so this returns the same raw
    ``uint32[2]`` key data as :func:`PRNGKey` (what ``jax.random.key_data(jax.random.key(s))``
    holds). Every function here accepts it; ``key_data`` of it is itself."""
    return PRNGKey(seed)


def key_data(keys: Any) -> Array:
    """The raw ``uint32[..., 2]`` data of a key array (keys are raw data in xtrace)."""
    return _check_key("key_data", keys, allow_batched=True)


def wrap_key_data(key_bits_array: Any, *, impl: Any = None, dtype: Any = None) -> Array:
    """Make a key from raw ``uint32[..., 2]`` data (the identity after validation). ``impl``
    (or ``dtype``, as in JAX) may name the PRNG, which must be ``'threefry2x32'``."""
    if dtype is not None:
        if impl is not None:
            raise ValueError("Cannot specify both `impl` and `dtype` arguments to "
                             "wrap_key_data")
        impl = dtype
    if impl is not None and impl != "threefry2x32":
        raise ValueError(f"wrap_key_data: xtrace implements only the 'threefry2x32' PRNG, got "
                         f"impl={impl!r}")
    return _check_key("wrap_key_data", key_bits_array, allow_batched=True)


# ---------------------------------------------------------------------------------------------
# The threefry2x32 block function


def _rotl(x: Any, d: int) -> Any:
    return lax.bitwise_or(lax.shift_left(x, _const(d, _U32)),
                          lax.shift_right_logical(x, _const(32 - d, _U32)))


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k1: Any, k2: Any, x1: Any, x2: Any, rolled: bool | None = None
                 ) -> tuple[Any, Any]:
    """Threefry-2x32 with 20 rounds (Random123): hash counters ``(x1, x2)`` under key
    ``(k1, k2)``. All operands are uint32; rank-0 operands broadcast to the others' shape.
    ``rolled`` picks a loop over the five 4-round groups or straight-line code (default: by
    backend, see ``_rolled``); the bits are the same."""
    ks = (k1, k2, lax.bitwise_xor(lax.bitwise_xor(k1, k2), _const(0x1BD11BDA, _U32)))
    x1 = lax.add(x1, ks[0])
    x2 = lax.add(x2, ks[1])
    if _rolled() if rolled is None else rolled:
        return _threefry_rolled(ks, x1, x2)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = lax.add(x1, x2)
            x2 = _rotl(x2, r)
            x2 = lax.bitwise_xor(x1, x2)
        x1 = lax.add(x1, ks[(i + 1) % 3])
        x2 = lax.add(lax.add(x2, ks[(i + 2) % 3]), _const(i + 1, _U32))
    return x1, x2


def _rolled() -> bool:
    # As JAX: on CPU, a rolled loop over the 5 four-round groups; elsewhere, straight-line
    # code. (XLA:CPU fuses chained unrolled hashes into huge kernels: randint, which hashes
    # three times, takes ~2 s to compile unrolled and ~0.5 s rolled.) Same bits either way.
    from xtrace._src import backend
    return backend.default_backend() == "cpu"


def _threefry_rolled(ks, x1, x2):
    def group(i, state):
        x1, x2, ka, kb, kc, rot, rot_next = state
        for j in range(4):
            r = lax.index_in_dim(rot, j, 0, keepdims=False)
            x1 = lax.add(x1, x2)
            x2 = lax.bitwise_or(lax.shift_left(x2, r),
                                lax.shift_right_logical(x2, lax.sub(_const(32, _U32), r)))
            x2 = lax.bitwise_xor(x1, x2)
        x1 = lax.add(x1, ka)
        x2 = lax.add(lax.add(x2, kb), lax.convert_element_type(lax.add(i, 1), _U32))
        return x1, x2, kb, kc, ka, rot_next, rot

    rot = [np.asarray(r, _U32) for r in _ROTATIONS]
    x1, x2, *_ = lax.fori_loop(0, 5, group, (x1, x2, ks[1], ks[2], ks[0], rot[0], rot[1]))
    return x1, x2


def threefry_2x32(keypair: Any, count: Any) -> Array:
    """JAX's ``prng.threefry_2x32``: hash a uint32 ``count`` array under a key; the flattened
    counts are split into two halves (padded by one zero when odd) that form the pairs."""
    k = _check_key("threefry_2x32", keypair)
    count = _xnp().asarray(count)
    if count.dtype != _U32:
        raise TypeError(f"threefry_2x32 requires uint32 counts, got {count.dtype.name}")
    return _threefry_2x32(k, count)


@jit
def _threefry_2x32(key, count):
    k1, k2 = _key_words(key)
    shape = count.shape
    flat = lax.reshape(count, (math.prod(shape),))
    n = flat.shape[0]
    if n % 2:
        flat = lax.concatenate([flat, np.zeros((1,), _U32)], 0)
    half = flat.shape[0] // 2
    y1, y2 = threefry2x32(k1, k2, lax.slice(flat, (0,), (half,)),
                          lax.slice(flat, (half,), (2 * half,)))
    out = lax.concatenate([y1, y2], 0)
    if n % 2:
        out = lax.slice(out, (0,), (n,))
    return lax.reshape(out, shape)


def _iota_2x32(shape: tuple[int, ...]) -> tuple[Any, Any]:
    """High and low words of the 64-bit row-major index of each element of ``shape``."""
    n = math.prod(shape)
    if n > 2 ** 32:
        raise NotImplementedError(
            f"random bits for {n} elements (over 2**32) are not supported")
    zeros = lax.broadcast_in_dim(_const(0, _U32), shape, ())
    if not shape:
        return zeros, zeros
    return zeros, lax.reshape(lax.iota(_U32, n), shape)


# ---------------------------------------------------------------------------------------------
# Where random words come from.
#
# Every random value is made from the pair of words ``threefry2x32(key, (hi(i), lo(i)))`` of
# its flat index ``i`` in the shape of a *draw* (``_draw``). Under tracing, a sampler is one
# program that hashes and transforms. Called eagerly, a sampler runs as two programs (class
# ``_Sampler``): the keys it draws from are derived first (``plan``), one shared hash program
# (``_hash_keys``, one per number of keys and power-of-two size bucket) makes the words of all
# its draws, and a transform program (the sampler's code, traced with the words as inputs:
# ``_Predrawn``) turns them into values. The words are the same either way (in partitionable
# mode a draw's words depend only on the flat index, so a bucket's prefix is the draw), so the
# values are too; eager calls then compile the expensive hash once per size bucket instead of
# once per sampler, shape and dtype.

_local = threading.local()


class _Predrawn:
    """Inside a transform program: the words of each draw, in draw order, as inputs."""

    def __init__(self, w1, w2):
        self.w1, self.w2, self.i = w1, w2, 0

    def next(self, shape):
        n = math.prod(shape)
        if self.i >= get_aval(self.w1).shape[0] or n > get_aval(self.w1).shape[1]:
            raise AssertionError("xtrace.random: a sampler's plan does not match its draws")
        words = []
        for w in (self.w1, self.w2):
            w = lax.index_in_dim(w, self.i, 0, keepdims=False)
            words.append(lax.reshape(lax.slice(w, (0,), (n,)), shape))
        self.i += 1
        return tuple(words)


def _draw(key: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The two threefry words of each element of ``shape`` under ``key``."""
    pre = getattr(_local, "predrawn", None)
    if pre is not None:
        return pre.next(shape)
    k1, k2 = _key_words(key)
    hi, lo = _iota_2x32(shape)
    return threefry2x32(k1, k2, hi, lo)


def _derive_split(key: Any, shape: tuple[int, ...]) -> Any:
    """``split`` used to derive the keys of later draws inside a sampler. In a transform
    program those draws are predrawn, so the derived keys are never used: placeholders."""
    if getattr(_local, "predrawn", None) is not None:
        return lax.broadcast_in_dim(_const(0, _U32), shape + (2,), ())
    k1, k2 = _key_words(key)
    hi, lo = _iota_2x32(shape)
    return _stack_words(*threefry2x32(k1, k2, hi, lo))


def _hash_keys_impl(keys: tuple, m: int):
    """Words of ``iota(m)`` under each of ``keys``: two ``uint32[len(keys), m]``."""
    kk = len(keys)
    ks = lax.concatenate([lax.reshape(k, (1, 2)) for k in keys], 0)
    k1 = lax.broadcast_in_dim(lax.reshape(lax.slice(ks, (0, 0), (kk, 1)), (kk,)), (kk, m), (0,))
    k2 = lax.broadcast_in_dim(lax.reshape(lax.slice(ks, (0, 1), (kk, 2)), (kk,)), (kk, m), (0,))
    hi = lax.broadcast_in_dim(_const(0, _U32), (kk, m), ())
    lo = lax.broadcasted_iota(_U32, (kk, m), 1)
    # A standalone hash compiles fast and runs fast as straight-line code.
    return threefry2x32(k1, k2, hi, lo, rolled=False)


_hash_keys = jit(_hash_keys_impl, static_argnums=(1,))
_BUCKET_MAX = 1 << 20


def _bucket(n: int) -> int:
    n = max(n, 1)
    return n if n > _BUCKET_MAX else 1 << (n - 1).bit_length()


def _tracing(*args: Any) -> bool:
    return core._state.dynamic_level > 0 or any(isinstance(a, Tracer) for a in args)


def _run_predrawn(impl, w1, w2, *args):
    prev = getattr(_local, "predrawn", None)
    pre = _local.predrawn = _Predrawn(w1, w2)
    try:
        out = impl(None, *args)
    finally:
        _local.predrawn = prev
    if pre.i != get_aval(w1).shape[0]:
        raise AssertionError("xtrace.random: a sampler's plan does not match its draws")
    return out


class _Sampler:
    """A sampler ``impl(key, *args)`` (args at ``static_argnums`` static) with its eager
    ``plan(key, *args) -> [(key, draw_shape), ...]``: the keys and shapes of its draws, in
    the order in which ``impl`` makes them. Without a plan (``plan=None``: samplers whose
    draws depend on the values, such as rejection loops) every call runs ``impl`` under jit."""

    def __init__(self, impl, static_argnums: tuple[int, ...], plan):
        self.impl, self.plan = impl, plan
        self.traced = jit(impl, static_argnums=static_argnums)
        self.transform = jit(lambda w1, w2, *args: _run_predrawn(impl, w1, w2, *args),
                             static_argnums=tuple(i + 1 for i in static_argnums))

    def __call__(self, key, *args):
        if self.plan is None or _tracing(key, *args):
            return self.traced(key, *args)
        draws = self.plan(key, *args)
        if draws:
            m = _bucket(max(math.prod(shape) for _, shape in draws))
            w1, w2 = _hash_keys(tuple(k for k, _ in draws), m)
        else:
            w1 = w2 = np.zeros((0, 1), _U32)
        return self.transform(w1, w2, *args)


def _one_draw(shape_arg: int, extra: tuple[int, ...] = ()):
    """Plan of a sampler that draws once from its key, shape ``extra + args[shape_arg]``."""
    return lambda key, *args: [(key, extra + tuple(args[shape_arg - 1]))]


def _subkeys2(key: Any) -> tuple[Any, Any]:
    """Eagerly: the two keys of ``split(key)``."""
    return _rows2(_SPLIT(key, (2,)))


_rows2 = jit(lambda sp: (lax.index_in_dim(sp, 0, 0, False), lax.index_in_dim(sp, 1, 0, False)))


def _split_words_impl(key: Any, shape: tuple[int, ...]) -> Any:
    return _stack_words(*_draw(key, shape))


def _fold_in_impl(key: Any, data: Any) -> Any:
    k1, k2 = _key_words(key)
    data = lax.convert_element_type(data, _U32)
    return _stack_words(*threefry2x32(k1, k2, _const(0, _U32), data))


def _words_to_bits(b1: Any, b2: Any, bit_width: int) -> Any:
    if bit_width == 64:
        u64 = dtypes.uint64
        return lax.bitwise_or(lax.shift_left(lax.convert_element_type(b1, u64), _const(32, u64)),
                              lax.convert_element_type(b2, u64))
    b = lax.bitwise_xor(b1, b2)
    return b if bit_width == 32 else lax.convert_element_type(b, _UINT[bit_width])


def _bits_impl(key: Any, bit_width: int, shape: tuple[int, ...]) -> Any:
    return _words_to_bits(*_draw(key, shape), bit_width)


_SPLIT = _Sampler(_split_words_impl, (1,), _one_draw(1))
_BITS = _Sampler(_bits_impl, (1, 2), _one_draw(2))
_fold_in_jit = jit(_fold_in_impl)


def split(key: Any, num: int | Sequence[int] = 2) -> Array:
    """Split a key into ``num`` new keys (``num`` an int or a shape): ``uint32[*num, 2]``."""
    key = _check_key("split", key)
    shape = tuple(num) if isinstance(num, Sequence) else (num,)
    return _SPLIT(key, _canon_shape(shape, "split"))


def fold_in(key: Any, data: Any) -> Array:
    """A new key that is a deterministic function of ``key`` and the 32-bit integer ``data``."""
    key = _check_key("fold_in", key)
    if np.ndim(data) or (_is_array(data) and data.ndim):
        raise TypeError(f"fold_in accepts a scalar, but was given an array of shape "
                        f"{np.shape(data) if not _is_array(data) else data.shape}")
    if not _is_array(data):  # as jnp.asarray(data, dtype=uint32): out-of-range ints raise
        data = np.asarray(data, dtype=_U32) if isinstance(data, (int, np.integer)) \
            else np.asarray(data).astype(_U32)
    elif not dtypes.is_int(data.dtype) and not dtypes.is_float(data.dtype):
        raise TypeError(f"fold_in: data must be an integer, got dtype {data.dtype.name}")
    return _fold_in_jit(key, data)


def bits(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Uniform random bits as unsigned integers (default uint32; uint64 with x64 on)."""
    key = _check_key("bits", key)
    dt = _default_uint() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_unsigned(dt):
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dt}")
    return _BITS(key, dt.itemsize * 8, _canon_shape(shape, "bits"))


# ---------------------------------------------------------------------------------------------
# Floats


def _uniform_impl(key, minval, maxval, shape, dtype):
    minval = _bcast(lax.convert_element_type(minval, dtype), shape)
    maxval = _bcast(lax.convert_element_type(maxval, dtype), shape)
    fi = dtypes.finfo(dtype)
    nbits, nmant = fi.bits, int(fi.nmant)
    if nbits not in (16, 32, 64):
        raise TypeError(f"uniform only accepts 16-, 32- or 64-bit float dtypes, got {dtype}")
    rng_bits = 8 if nmant < 8 else nbits
    udt = _UINT[nbits]
    b = _bits_impl(key, rng_bits, shape)
    if rng_bits != nbits:
        b = lax.convert_element_type(b, udt)
    # Random mantissa under the exponent of 1.0: a float in [1, 2); minus 1 gives [0, 1).
    fbits = lax.bitwise_or(lax.shift_right_logical(b, _const(rng_bits - nmant, udt)),
                           np.array(1.0, dtype).view(udt))
    floats = lax.sub(lax.bitcast_convert_type(fbits, dtype), _const(1.0, dtype))
    return lax.max(minval, lax.add(lax.mul(floats, lax.sub(maxval, minval)), minval))


_UNIFORM = _Sampler(_uniform_impl, (3, 4), _one_draw(3))


def _minmax_arg(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    return x


def uniform(key: Any, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.,
            maxval: Any = 1.) -> Array:
    """Uniform floats in ``[minval, maxval)``: 1.0's exponent over random mantissa bits, minus
    1, scaled and shifted, then clamped below at ``minval`` (JAX's construction)."""
    key = _check_key("uniform", key)
    dt = _float_dtype(dtype, "uniform")
    shape = _canon_shape(shape, "uniform")
    minval, maxval = _minmax_arg(minval), _minmax_arg(maxval)
    _check_shape("uniform", shape, np.shape(minval), np.shape(maxval))
    return _UNIFORM(key, minval, maxval, shape, dt)


def _normal_real(key, shape, dtype):
    lo = np.nextafter(np.array(-1., dtype), np.array(0., dtype))
    u = _uniform_impl(key, lo, _const(1., dtype), shape, dtype)
    return lax.mul(_const(np.sqrt(2), dtype), lax.erf_inv(u))


def _normal_impl(key, shape, dtype):
    if not dtypes.is_complex(dtype):
        return _normal_real(key, shape, dtype)
    real_dt = np.finfo(dtype).dtype
    sp = _derive_split(key, (2,))
    re = lax.convert_element_type(_normal_real(lax.index_in_dim(sp, 0, 0, False), shape,
                                               real_dt), dtype)
    im = lax.convert_element_type(_normal_real(lax.index_in_dim(sp, 1, 0, False), shape,
                                               real_dt), dtype)
    z = lax.add(re, lax.mul(_const(1j, dtype), im))
    return lax.div(z, _const(np.sqrt(2), dtype))


def _normal_plan(key, shape, dtype):
    if not dtypes.is_complex(dtype):
        return [(key, shape)]
    return [(k, shape) for k in _subkeys2(key)]


_NORMAL = _Sampler(_normal_impl, (1, 2), _normal_plan)


def normal(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard normal values: ``sqrt(2) * erf_inv(u)`` with ``u`` uniform in ``(-1, 1)``.
    Complex dtypes give independent real and imaginary parts of variance 1/2 each."""
    key = _check_key("normal", key)
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_inexact(dt):
        raise ValueError(f"dtype argument to `normal` must be a float or complex dtype, "
                         f"got {dt}")
    return _NORMAL(key, _canon_shape(shape, "normal"), dt)


def _truncated_normal_impl(key, lower, upper, shape, dtype):
    sqrt2 = _const(np.sqrt(2), dtype)
    lower = _bcast(lax.convert_element_type(lower, dtype), shape)
    upper = _bcast(lax.convert_element_type(upper, dtype), shape)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = _uniform_impl(key, a, b, shape, dtype)
    out = lax.mul(sqrt2, lax.erf_inv(u))
    # Clamp into the open interval (lower, upper), as JAX does.
    lo = lax.nextafter(lower, lax.broadcast_in_dim(_const(np.inf, dtype), shape, ()))
    hi = lax.nextafter(upper, lax.broadcast_in_dim(_const(-np.inf, dtype), shape, ()))
    return lax.min(hi, lax.max(lo, out))


_TRUNCATED_NORMAL = _Sampler(_truncated_normal_impl, (3, 4), _one_draw(3))


def truncated_normal(key: Any, lower: Any, upper: Any, shape: Sequence[int] | None = None,
                     dtype: Any = None) -> Array:
    """Standard normal values truncated to the open interval ``(lower, upper)`` (inverse-CDF
    sampling, as JAX). ``shape`` defaults to the broadcast shape of ``lower`` and ``upper``."""
    key = _check_key("truncated_normal", key)
    dt = _float_dtype(dtype, "truncated_normal")
    lower, upper = _minmax_arg(lower), _minmax_arg(upper)
    if shape is None:
        shape = tuple(np.broadcast_shapes(np.shape(lower), np.shape(upper)))
    else:
        shape = _canon_shape(shape, "truncated_normal")
        _check_shape("truncated_normal", shape, np.shape(lower), np.shape(upper))
    return _TRUNCATED_NORMAL(key, lower, upper, shape, dt)


def _exponential_impl(key, shape, dtype):
    u = _uniform_impl(key, _const(0., dtype), _const(1., dtype), shape, dtype)
    return lax.neg(lax.log1p(lax.neg(u)))


def _laplace_impl(key, shape, dtype):
    u = _uniform_impl(key, _const(-1. + float(dtypes.finfo(dtype).epsneg), dtype),
                      _const(1., dtype), shape, dtype)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def _logistic_impl(key, shape, dtype):
    x = _uniform_impl(key, _const(dtypes.finfo(dtype).tiny, dtype), _const(1., dtype), shape,
                      dtype)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


_EXPONENTIAL = _Sampler(_exponential_impl, (1, 2), _one_draw(1))
_LAPLACE = _Sampler(_laplace_impl, (1, 2), _one_draw(1))
_LOGISTIC = _Sampler(_logistic_impl, (1, 2), _one_draw(1))


def exponential(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Exponential(1) values: ``-log1p(-u)`` for uniform ``u`` in ``[0, 1)``."""
    key = _check_key("exponential", key)
    return _EXPONENTIAL(key, _canon_shape(shape, "exponential"),
                            _float_dtype(dtype, "exponential"))


def laplace(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Laplace(0, 1) values: ``sign(u) * log1p(-|u|)`` for uniform ``u`` in ``(-1, 1)``."""
    key = _check_key("laplace", key)
    return _LAPLACE(key, _canon_shape(shape, "laplace"), _float_dtype(dtype, "laplace"))


def logistic(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard logistic values: ``log(u) - log1p(-u)`` for uniform ``u`` in ``(0, 1)``."""
    key = _check_key("logistic", key)
    return _LOGISTIC(key, _canon_shape(shape, "logistic"), _float_dtype(dtype, "logistic"))


def _safe_int_to_float(b1, b2):
    """Two uint32 words as a 64-bit fixed-point fraction -> float32 in (0, 1) (JAX's helper
    for gumbel mode 'highest')."""
    nbits, nmant, minexp = 32, 23, -126
    hiclz, loclz = lax.clz(b1), lax.clz(b2)
    hi_zero = lax.eq(hiclz, _const(32, _U32))
    mantissa = lax.bitwise_or(
        lax.shift_left(b1, hiclz),
        lax.select(hi_zero, lax.shift_left(b2, loclz),
                   lax.shift_right_logical(b2, lax.sub(_const(nbits, _U32), hiclz))))
    mantissa = lax.shift_right_logical(mantissa, _const(nbits - nmant - 1, _U32))
    mantissa = lax.bitwise_and(mantissa, _const((1 << nmant) - 1, _U32))
    lz = lax.select(hi_zero, lax.add(_const(32, _U32), loclz), hiclz)
    exp = lax.shift_left(lax.sub(_const(-minexp, _U32), lz), _const(nmant, _U32))
    exp = lax.bitwise_and(exp, _const((1 << (nbits - 2)) - (1 << (nmant - 1)), _U32))
    return lax.bitcast_convert_type(lax.bitwise_or(exp, mantissa), dtypes.float32)


def _gumbel_impl(key, shape, dtype, mode):
    fi = dtypes.finfo(dtype)
    if dtype == dtypes.float32 and mode == "highest":
        b = _bits_impl(key, 32, (2,) + shape)
        b1, b2 = lax.index_in_dim(b, 0, 0, False), lax.index_in_dim(b, 1, 0, False)
        n1, n2 = lax.bitwise_not(b1), lax.bitwise_not(b2)
        # 1 - bits in 64-bit fixed point.
        carry = lax.convert_element_type(lax.eq(n2, _const(0xFFFFFFFF, _U32)), _U32)
        n1 = lax.add(n1, carry)
        n2 = lax.add(n2, _const(1, _U32))
        flip = lax.lt(b1, _const(1 << 31, _U32))
        x = _safe_int_to_float(lax.select(flip, b1, n1), lax.select(flip, b2, n2))
        small = lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
        large = lax.neg(lax.log(lax.neg(lax.log(x))))
        return lax.select(flip, small, large)
    if mode in ("high", "highest"):
        u = _uniform_impl(key, _const(0., dtype), _const(1., dtype), (2,) + shape, dtype)
        high, low = lax.index_in_dim(u, 0, 0, False), lax.index_in_dim(u, 1, 0, False)
        alt = lax.add(lax.add(high, lax.mul(_const(2. ** -int(fi.nmant), dtype), low)),
                      _const(fi.tiny, dtype))
        x = lax.select(lax.ge(high, _const(0.5, dtype)), high, alt)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = _uniform_impl(key, _const(fi.tiny, dtype), _const(1., dtype), shape, dtype)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


def _gumbel_draw_shape(shape, dtype, mode):
    return shape if mode == "low" else (2,) + shape


_GUMBEL = _Sampler(_gumbel_impl, (1, 2, 3),
                   lambda key, shape, dtype, mode: [(key, _gumbel_draw_shape(shape, dtype, mode))])


def _gumbel_mode(mode: Any) -> str:
    mode = "low" if mode is None else mode
    if mode not in ("highest", "high", "low"):
        raise ValueError(f"Must provide valid mode for gumbel ('low', 'high' or 'highest'), "
                         f"got: {mode!r}")
    return mode


def gumbel(key: Any, shape: Sequence[int] = (), dtype: Any = None, mode: str | None = None
           ) -> Array:
    """Standard Gumbel values ``-log(-log(u))``. ``mode='high'`` uses two uniforms per value
    for a wider range; ``'highest'`` (float32) uses 64 random bits per value."""
    key = _check_key("gumbel", key)
    return _GUMBEL(key, _canon_shape(shape, "gumbel"), _float_dtype(dtype, "gumbel"),
                       _gumbel_mode(mode))


# ---------------------------------------------------------------------------------------------
# Integers and discrete distributions


def _clip_convert(val: Any, dtype: np.dtype) -> Any:
    """Convert an integer array to ``dtype``, clipping to its range instead of wrapping."""
    vi, di = dtypes.iinfo(val.dtype), dtypes.iinfo(dtype)
    lo = _const(max(di.min, vi.min), val.dtype)
    hi = _const(min(di.max, vi.max), val.dtype)
    return lax.convert_element_type(lax.min(lax.max(val, lo), hi), dtype)


def _int_array(x: Any) -> Any:
    x = _xnp().asarray(x)
    dt = x.dtype if dtypes.is_int(x.dtype) else dtypes.default_int()
    return lax.convert_element_type(x, dt)  # also drops weak typing


def _randint_impl(key, minval, maxval, shape, dtype):
    info = dtypes.iinfo(dtype)
    if info.bits < 32:
        # Sample in 32 bits (less modulo bias), bounds clipped to the dtype's range, as JAX.
        i32 = dtypes.int32
        minval = lax.convert_element_type(_int_array(minval), i32)
        maxval = lax.convert_element_type(_int_array(maxval), i32)
        minval = lax.min(lax.max(minval, _const(info.min, i32)), _const(info.max, i32))
        maxval = lax.min(lax.max(maxval, _const(info.min, i32)), _const(info.max + 1, i32))
        return lax.convert_element_type(_randint_impl(key, minval, maxval, shape, i32), dtype)
    minval, maxval = _int_array(minval), _int_array(maxval)
    # maxval above the dtype's range (e.g. 256 for uint8) means "up to and including max".
    vi = dtypes.iinfo(maxval.dtype)
    top = max(min(dtypes.iinfo(dtype).max, vi.max), vi.min)
    max_out = lax.gt(maxval, _const(top, maxval.dtype))
    max_out = _bcast(max_out, shape)
    minval = _bcast(_clip_convert(minval, dtype), shape)
    maxval = _bcast(_clip_convert(maxval, dtype), shape)
    nbits = dtypes.iinfo(dtype).bits
    udt = _UINT[nbits]
    sp = _derive_split(key, (2,))
    higher = _bits_impl(lax.index_in_dim(sp, 0, 0, False), nbits, shape)
    lower = _bits_impl(lax.index_in_dim(sp, 1, 0, False), nbits, shape)
    one = lax.broadcast_in_dim(_const(1, udt), shape, ())
    span = lax.convert_element_type(lax.sub(maxval, minval), udt)
    span = lax.select(lax.le(maxval, minval), one, span)
    span = lax.select(lax.bitwise_and(max_out, lax.gt(maxval, minval)), lax.add(span, one),
                      span)
    # (hi * 2**nbits + lo) mod span without overflow: 2**nbits % span as a squared multiplier.
    mult = lax.rem(lax.broadcast_in_dim(_const(2 ** (nbits // 2), udt), shape, ()), span)
    mult = lax.rem(lax.mul(mult, mult), span)
    off = lax.add(lax.mul(lax.rem(higher, span), mult), lax.rem(lower, span))
    off = lax.rem(off, span)
    return lax.add(minval, lax.convert_element_type(off, dtype))


_RANDINT = _Sampler(_randint_impl, (3, 4),
                   lambda key, minval, maxval, shape, dtype: [(k, shape) for k in _subkeys2(key)])


def randint(key: Any, shape: Sequence[int], minval: Any, maxval: Any, dtype: Any = None
            ) -> Array:
    """Uniform integers in ``[minval, maxval)`` (JAX's scheme: two draws of random bits
    combined modulo the span; 8- and 16-bit dtypes sample in 32 bits)."""
    key = _check_key("randint", key)
    dt = _int_dtype(dtype, "randint")
    shape = _canon_shape(shape, "randint")
    minval, maxval = _minmax_arg(minval), _minmax_arg(maxval)
    _check_shape("randint", shape, np.shape(minval), np.shape(maxval))
    return _RANDINT(key, minval, maxval, shape, dt)


def _bernoulli_impl(key, p, shape, mode):
    dt = get_aval(p).dtype
    p = _bcast(lax.convert_element_type(p, dt), shape)
    if mode == "high":
        u = _uniform_impl(key, _const(0., dt), _const(1., dt), (2,) + shape, dt)
        u1, u2 = lax.index_in_dim(u, 0, 0, False), lax.index_in_dim(u, 1, 0, False)
        u2 = lax.mul(u2, _const(2. ** -int(dtypes.finfo(dt).nmant), dt))
        return lax.lt(u2, lax.sub(p, u1))
    return lax.lt(_uniform_impl(key, _const(0., dt), _const(1., dt), shape, dt), p)


_BERNOULLI = _Sampler(_bernoulli_impl, (2, 3), lambda key, p, shape, mode: [
    (key, shape if mode == "low" else (2,) + shape)])


def bernoulli(key: Any, p: Any = 0.5, shape: Sequence[int] | None = None, mode: str = "low"
              ) -> Array:
    """Boolean samples, True with probability ``p`` (``uniform < p``; mode 'high' adds a
    second uniform's bits for small ``p``)."""
    key = _check_key("bernoulli", key)
    if mode not in ("high", "low"):
        raise ValueError(f"got mode={mode!r}, expected 'high' or 'low'")
    p = _minmax_arg(p)
    dt = get_aval(p).dtype
    if not dtypes.is_float(dt):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {dt}.")
    if shape is None:
        shape = tuple(np.shape(p))
    else:
        shape = _canon_shape(shape, "bernoulli")
        _check_shape("bernoulli", shape, np.shape(p))
    if not _is_array(p) and not isinstance(p, float):
        p = np.asarray(p, dt)
    return _BERNOULLI(key, p, shape, mode)


def rademacher(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Random signs: -1 or +1 with equal probability (``2 * bernoulli(0.5) - 1``)."""
    key = _check_key("rademacher", key)
    dt = dtypes.default_int() if dtype is None else dtypes.canonicalize_dtype(dtype)
    shape = _canon_shape(shape, "rademacher")
    return _RADEMACHER(key, shape, dt)


def _rademacher_impl(key, shape, dtype):
    b = lax.convert_element_type(_bernoulli_impl(key, 0.5, shape, "low"), dtype)
    return lax.sub(lax.mul(_const(2, dtype), b), _const(1, dtype))


_RADEMACHER = _Sampler(_rademacher_impl, (1, 2), _one_draw(1))


def _num_rounds(size: int) -> int:
    # JAX's heuristic number of sort rounds for a collision-safe shuffle (tjablin@).
    return int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))


def _shuffle_impl(key, x, axis):
    shape = get_aval(x).shape
    for _ in range(_num_rounds(math.prod(shape))):
        sp = _derive_split(key, (2,))
        key, subkey = lax.index_in_dim(sp, 0, 0, False), lax.index_in_dim(sp, 1, 0, False)
        sort_keys = _bits_impl(subkey, 32, shape)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def _shuffle_plan(key, n: int, size: int | None = None) -> list:
    """Draws of ``_shuffle_impl`` for ``n`` sort keys per round (``size`` elements in all)."""
    draws = []
    for _ in range(_num_rounds(n if size is None else size)):
        key, subkey = _subkeys2(key)
        draws.append((subkey, None))
    return draws


def _shaped(draws: list, shape: tuple[int, ...]) -> list:
    return [(k, shape) for k, _ in draws]


_SHUFFLE = _Sampler(_shuffle_impl, (2,), lambda key, x, axis: _shaped(
    _shuffle_plan(key, 0, math.prod(x.shape)), tuple(x.shape)))


def _arange(n: int) -> Array:
    return lax.iota(dtypes.default_int(), n)


def _shuffle_arange(key, n):
    return _shuffle_impl(key, _arange(n), 0)


_SHUFFLE_ARANGE = _Sampler(_shuffle_arange, (1,),
                           lambda key, n: _shaped(_shuffle_plan(key, n), (n,)))


def _permute_rows(key, x, axis):
    ind = _shuffle_impl(key, _arange(get_aval(x).shape[axis]), 0)
    return _take(x, ind, axis)


_PERMUTE_ROWS = _Sampler(_permute_rows, (2,), lambda key, x, axis: _shaped(
    _shuffle_plan(key, x.shape[axis]), (x.shape[axis],)))


def _canon_axis(axis: int, ndim: int, name: str) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of dimension "
                         f"{ndim}")
    return axis % ndim


def _static_int(x: Any, what: str) -> int:
    if isinstance(x, Tracer):
        raise TypeError(f"{what} must be a concrete integer (a Python int, or an array outside "
                        "jit); under jit, pass it as a static argument")
    return int(np.asarray(x))


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Array:
    """A random permutation of ``arange(x)`` (int ``x``) or of ``x`` along ``axis``; with
    ``independent=True`` each 1-D slice along ``axis`` is shuffled separately. Uses JAX's
    rounds of sorting by random 32-bit keys."""
    key = _check_key("permutation", key)
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    nd = np.ndim(x) if not _is_array(x) else x.ndim
    axis = _canon_axis(axis, nd or 1, "permutation")
    if not nd:
        if not dtypes.is_int(get_aval(x).dtype):
            raise TypeError("x must be an integer or at least 1-dimensional")
        return _SHUFFLE_ARANGE(key, _static_int(x, "argument x of permutation"))
    if not _is_array(x):
        x = _xnp().asarray(x)
    if independent or nd == 1:
        return _SHUFFLE(key, x, axis)
    return _PERMUTE_ROWS(key, x, axis)


def _promote_inexact(p: Any) -> Any:
    xnp = _xnp()
    p = xnp.asarray(p)
    if not dtypes.is_inexact(p.dtype):
        p = lax.convert_element_type(p, dtypes.default_float())
    return p


def _choice_p_replace(key, p, shape):
    dt = get_aval(p).dtype
    c = lax.cumsum(p, 0)
    n = get_aval(p).shape[0]
    total = lax.index_in_dim(c, n - 1, 0, False)
    u = _uniform_impl(key, _const(0., dt), _const(1., dt), shape, dt)
    r = lax.mul(lax.broadcast_in_dim(total, shape, ()), lax.sub(_const(1., dt), u))
    # searchsorted(c, r, side='left'): how many cumulative sums are below r.
    nd = len(shape)
    cb = lax.broadcast_in_dim(c, shape + (n,), (nd,))
    rb = lax.broadcast_in_dim(r, shape + (n,), tuple(range(nd)))
    below = lax.convert_element_type(lax.lt(cb, rb), dtypes.default_int())
    return lax.reduce_sum(below, (nd,))


def _choice_p_noreplace(key, p, n_draws, mode):
    dt = get_aval(p).dtype
    g = lax.add(_gumbel_impl(key, (get_aval(p).shape[0],), dt, mode), lax.log(p))
    return lax.convert_element_type(lax.top_k(g, n_draws)[1], dtypes.default_int())


def _choice_impl(key, a, p, n, shape, replace, axis, mode):
    """``a`` is None for a population ``arange(n)``; ``p`` is None for equal weights."""
    n_draws = math.prod(shape)
    if p is None and not replace:
        if a is None:
            return lax.reshape(lax.slice_in_dim(_shuffle_arange(key, n), 0, n_draws), shape)
        perm = (_shuffle_impl(key, a, axis) if get_aval(a).ndim == 1
                else _permute_rows(key, a, axis))
        result = lax.slice_in_dim(perm, 0, n_draws, axis=axis)
    else:
        if p is None:
            ind = _randint_impl(key, 0, n, shape, dtypes.default_int())
        elif replace:
            ind = _choice_p_replace(key, p, shape)
        else:
            ind = _choice_p_noreplace(key, p, n_draws, mode)
        if a is None:
            return lax.reshape(ind, shape)
        result = _take(a, lax.reshape(ind, (n_draws,)), axis)
    ashape = get_aval(a).shape
    return lax.reshape(result, ashape[:axis] + shape + ashape[axis + 1:])


def _choice_plan(key, a, p, n, shape, replace, axis, mode):
    if p is None and not replace:
        return _shaped(_shuffle_plan(key, n), (n,))
    if p is None:
        return [(k, shape) for k in _subkeys2(key)]
    if replace:
        return [(key, shape)]
    return [(key, _gumbel_draw_shape((n,), None, mode))]


_CHOICE = _Sampler(_choice_impl, (3, 4, 5, 6, 7), _choice_plan)


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True, p: Any = None,
           axis: int = 0, mode: str | None = None) -> Array:
    """Random samples from ``a`` (an array, or ``arange(a)`` for an int) along ``axis``: with
    replacement via ``randint`` (or inverse-CDF on ``p``); without via ``permutation`` (or the
    Gumbel top-k trick on ``p``), as JAX does."""
    key = _check_key("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"shape argument of choice must be a sequence, got {shape!r}")
    shape = _canon_shape(shape, "choice")
    xnp = _xnp()
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    nd = a.ndim if _is_array(a) else np.ndim(a)
    if nd == 0:
        if not dtypes.is_int(get_aval(a).dtype):
            raise TypeError(f"choice: a must be an integer or an array, got {a!r:.60}")
        n_inputs = _static_int(a, "a (an int population size) in choice")
        arr_dtype = dtypes.default_int() if isinstance(a, int) else get_aval(a).dtype
        a, axis = None, 0
    else:
        a = xnp.asarray(a)
        axis = _canon_axis(axis, nd, "choice")
        n_inputs = a.shape[axis]
        arr_dtype = a.dtype
    n_draws = math.prod(shape)
    if n_draws == 0:
        return xnp.zeros(shape, dtype=arr_dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population "
                         f"(size {n_inputs}) when 'replace=False'")
    if p is not None:
        p = _promote_inexact(p)
        if p.shape != (n_inputs,):
            raise ValueError(
                "p must be None or a 1D vector with the same size as a.shape[axis]. "
                f"p has shape {p.shape} and a.shape[axis] is {n_inputs}.")
    return _CHOICE(key, a, p, n_inputs, shape, bool(replace), axis, _gumbel_mode(mode))


def _categorical_replace(key, logits, shape, batch_shape, axis, mode):
    nd = get_aval(logits).ndim
    prefix = shape[:len(shape) - len(batch_shape)]
    logits_shape = list(shape[len(shape) - len(batch_shape):])
    logits_shape.insert(axis, get_aval(logits).shape[axis])
    g = _gumbel_impl(key, (*prefix, *logits_shape), get_aval(logits).dtype, mode)
    full = tuple(prefix) + tuple(logits_shape)
    lg = _bcast(lax.reshape(logits, (1,) * len(prefix) + get_aval(logits).shape), full)
    return lax.argmax(lax.add(g, lg), len(prefix) + axis, dtypes.default_int())


def _categorical_noreplace(key, logits, shape, batch_shape, axis, mode):
    dt = get_aval(logits).dtype
    lshape = get_aval(logits).shape
    logits = lax.add(logits, _gumbel_impl(key, lshape, dt, mode))
    prefix = shape[:len(shape) - len(batch_shape)]
    k = math.prod(prefix)
    perm = tuple(i for i in range(len(lshape)) if i != axis) + (axis,)
    _, idx = lax.top_k(lax.transpose(logits, perm), k)
    nd = get_aval(idx).ndim
    idx = lax.reshape(idx, shape, (nd - 1, *range(nd - 1)))
    return lax.convert_element_type(idx, dtypes.default_int())


def _categorical_draw(logits_shape, shape, batch_shape, axis):
    prefix = shape[:len(shape) - len(batch_shape)]
    full = list(shape[len(shape) - len(batch_shape):])
    full.insert(axis, logits_shape[axis])
    return tuple(prefix) + tuple(full)


_CATEGORICAL_REPLACE = _Sampler(
    _categorical_replace, (2, 3, 4, 5), lambda key, logits, shape, batch_shape, axis, mode: [
        (key, _gumbel_draw_shape(_categorical_draw(logits.shape, shape, batch_shape, axis),
                                 None, mode))])
_CATEGORICAL_NOREPLACE = _Sampler(
    _categorical_noreplace, (2, 3, 4, 5), lambda key, logits, shape, batch_shape, axis, mode: [
        (key, _gumbel_draw_shape(tuple(logits.shape), None, mode))])


def categorical(key: Any, logits: Any, axis: int = -1, shape: Sequence[int] | None = None,
                replace: bool = True, mode: str | None = None) -> Array:
    """Samples from categorical distributions given unnormalized log-probabilities ``logits``
    (Gumbel-max trick; Gumbel top-k without replacement). The result has ``shape``
    (default: ``logits.shape`` without ``axis``)."""
    key = _check_key("categorical", key)
    xnp = _xnp()
    logits = xnp.asarray(logits)
    if not dtypes.is_float(logits.dtype):
        logits = lax.convert_element_type(logits, dtypes.default_float())
    else:
        logits = lax.convert_element_type(logits, logits.dtype)  # drop weak typing
    if logits.ndim == 0:
        raise ValueError("categorical: logits must have at least one dimension")
    axis = _canon_axis(axis, logits.ndim, "categorical")
    batch_shape = tuple(np.delete(np.array(logits.shape, dtype=np.int64), axis).tolist())
    if shape is None:
        shape = batch_shape
    else:
        shape = _canon_shape(shape, "categorical")
        _check_shape("categorical", shape, batch_shape)
    mode = _gumbel_mode(mode)
    if replace:
        return _CATEGORICAL_REPLACE(key, logits, shape, batch_shape, axis, mode)
    k = math.prod(shape[:len(shape) - len(batch_shape)])
    if k > logits.shape[axis]:
        raise ValueError(f"Number of samples without replacement ({k}) cannot exceed number "
                         f"of categories ({logits.shape[axis]}).")
    return _CATEGORICAL_NOREPLACE(key, logits, shape, batch_shape, axis, mode)


__all__ = ["PRNGKey", "key", "key_data", "wrap_key_data", "split", "fold_in", "bits",
           "uniform", "normal", "truncated_normal", "randint", "bernoulli", "categorical",
           "permutation", "choice", "gumbel", "exponential", "laplace", "logistic",
           "rademacher", "threefry_2x32", "threefry2x32"]
