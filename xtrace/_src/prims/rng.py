"""XLA's stateless random bit generator: ``rng_bit_generator`` (``stablehlo.rng_bit_generator``)
with JAX's interface: a ``uint32[4]`` key (XLA's ``u64[2]`` state, bitcast), and the new key
returned with the bits. Most code should use ``xtrace.random`` (threefry, as ``jax.random``)."""
from __future__ import annotations

import enum
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray
from xtrace._src.prims.common import define, lax_args

_BITS = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64))


class RandomAlgorithm(enum.IntEnum):
    """Which PRNG algorithm ``rng_bit_generator`` uses."""
    RNG_DEFAULT = 0
    RNG_THREE_FRY = 1
    RNG_PHILOX = 2


_HLO_ALGORITHM = {RandomAlgorithm.RNG_DEFAULT: "DEFAULT",
                  RandomAlgorithm.RNG_THREE_FRY: "THREE_FRY",
                  RandomAlgorithm.RNG_PHILOX: "PHILOX"}


def _rbg_abstract(key, *, shape, dtype, algorithm):
    if key.shape != (4,) or key.dtype != np.uint32:
        raise TypeError(f"rng_bit_generator: key must be a uint32[4] array, got "
                        f"{key.str_short()}")
    return [ShapedArray(key.shape, key.dtype), ShapedArray(shape, dtype)]


def _rbg_lower(ctx, key, *, shape, dtype, algorithm):
    u32x2, u64 = ShapedArray((2, 2), np.dtype(np.uint32)), ShapedArray((2,), np.dtype(np.uint64))
    k = ctx.op1("stablehlo.reshape", [key], u32x2)
    k = ctx.op1("stablehlo.bitcast_convert", [k], u64, operand_avals=[u32x2])
    new, bits = ctx.op("stablehlo.rng_bit_generator", [k], [u64, ctx.avals_out[1]],
                       operand_avals=[u64],
                       attrs=f"rng_algorithm = #stablehlo<rng_algorithm "
                             f"{_HLO_ALGORITHM[algorithm]}>")
    new = ctx.op1("stablehlo.bitcast_convert", [new], u32x2, operand_avals=[u64])
    return [ctx.op1("stablehlo.reshape", [new], ctx.avals_out[0], operand_avals=[u32x2]), bits]


rng_bit_generator_p = define("rng_bit_generator", _rbg_abstract, _rbg_lower,
                             multiple_results=True)


def rng_bit_generator(key: Any, shape: Sequence[int], dtype: Any = np.uint32,
                      algorithm: RandomAlgorithm = RandomAlgorithm.RNG_DEFAULT, *,
                      out_sharding: Any = None) -> tuple[Any, Any]:
    """``(new_key, bits)``: uniformly random unsigned integers of ``shape`` and ``dtype``
    (uint8/16/32/64) from XLA's RngBitGenerator, and the key to use next."""
    key, = lax_args(key)
    shape = tuple(operator.index(d) for d in shape)
    dt = np.dtype(dtype)
    if dt not in _BITS:
        raise TypeError(f"rng_bit_generator: unsupported dtype {dt.name}")
    dt = dtypes.canonicalize_dtype(dt)
    return tuple(rng_bit_generator_p.bind(key, shape=shape, dtype=dt,
                                          algorithm=RandomAlgorithm(algorithm)))


# Integer outputs: nothing to differentiate. A batch of keys draws one batch of bits per key.
from xtrace._src import ad, batching  # noqa: E402

ad.defjvp_zero(rng_bit_generator_p)


def _rbg_batch(axis, vals, dims, **params):
    from xtrace._src.prims.control_flow import map as lax_map
    key = batching.bdim_at_front(vals[0], dims[0], axis.size)
    outs = lax_map(lambda k: tuple(rng_bit_generator_p.bind(k, **params)), key)
    return list(outs), [0, 0]


rng_bit_generator_p.batch = _rbg_batch
