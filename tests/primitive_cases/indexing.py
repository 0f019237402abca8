"""Cases for gather and scatter[_add|_mul|_min|_max], checked against a loop-based NumPy model
of XLA's semantics (index vector last, windows, batching dims, out-of-bounds modes)."""
from __future__ import annotations


import numpy as np

from tests.primitive_cases import Case, rand
from xtrace import lax

GD, SD = lax.GatherDimensionNumbers, lax.ScatterDimensionNumbers


# ---- NumPy reference models ----------------------------------------------------------------


def _start(shape, vec, index_map, batch_pairs, b):
    start = [0] * len(shape)
    for k, d in enumerate(index_map):
        start[d] = int(vec[k])
    for od, idim in batch_pairs:
        start[od] = b[idim]
    return start


def np_gather(x, idx, dn: GD, slice_sizes, mode="promise_in_bounds", fill_value=None):
    idx = np.asarray(idx)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window = [s for d, s in enumerate(slice_sizes) if d not in dropped]
    out_rank = len(window) + idx.ndim - 1
    bshape = idx.shape[:-1]
    win, bat = iter(window), iter(bshape)
    out = np.zeros([next(win) if i in dn.offset_dims else next(bat) for i in range(out_rank)],
                   x.dtype)
    if fill_value is None and mode == "fill":
        fill_value = (np.nan if x.dtype.kind in "fc" else True if x.dtype == bool else
                      np.iinfo(x.dtype).min if x.dtype.kind == "i" else np.iinfo(x.dtype).max)
    pairs = list(zip(dn.operand_batching_dims, dn.start_indices_batching_dims))
    for b in np.ndindex(*bshape):
        start = _start(x.shape, idx[b], dn.start_index_map, pairs, b)
        ok = all(0 <= start[d] <= x.shape[d] - slice_sizes[d] for d in dn.start_index_map)
        start = [min(max(s, 0), n - z) for s, n, z in zip(start, x.shape, slice_sizes)]
        sl = x[tuple(slice(s, s + z) for s, z in zip(start, slice_sizes))]
        sl = sl.reshape(window)
        bi = iter(b)
        pos = tuple(slice(None) if i in dn.offset_dims else next(bi) for i in range(out_rank))
        out[pos] = sl if ok or mode != "fill" else fill_value
    return out


_COMBINE = {"set": lambda a, b: b, "add": np.add, "mul": np.multiply, "min": np.minimum,
            "max": np.maximum}


def np_scatter(op, x, idx, upd, dn: SD, mode="drop"):
    out = np.array(x, copy=True)
    idx = np.asarray(idx)
    inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    uw = iter(dn.update_window_dims)
    size = [1 if d in inserted else upd.shape[next(uw)] for d in range(x.ndim)]
    scatter_dims = [i for i in range(upd.ndim) if i not in dn.update_window_dims]
    pairs = list(zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims))
    for b in np.ndindex(*[upd.shape[i] for i in scatter_dims]):
        start = _start(x.shape, idx[b], dn.scatter_dims_to_operand_dims, pairs, b)
        if mode == "clip":
            start = [min(max(s, 0), n - z) for s, n, z in zip(start, x.shape, size)]
        if any(s < 0 or s + z > n for s, n, z in zip(start, x.shape, size)):
            continue
        bi = iter(b)
        window = upd[tuple(next(bi) if i in scatter_dims else slice(None)
                           for i in range(upd.ndim))]
        region = tuple(slice(s, s + z) for s, z in zip(start, size))
        out[region] = _COMBINE[op](out[region], window.reshape(size))
    return out


# ---- cases ---------------------------------------------------------------------------------


def _g(dn, sizes, shape, idx, dtype=np.float32, mode=None, fill_value=None, name=""):
    idx = np.asarray(idx, np.int32)

    def fn(x, i):
        return lax.gather(x, i, dn, sizes, mode=mode, fill_value=fill_value)
    return Case(fn, [rand(shape, dtype), idx],
                lambda x, i: np_gather(x, i, dn, sizes, mode or "promise_in_bounds",
                                       fill_value), name=name)


ROWS = GD(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
COLS = GD(offset_dims=(0,), collapsed_slice_dims=(1,), start_index_map=(1,))
POINTS = GD(offset_dims=(), collapsed_slice_dims=(0, 1), start_index_map=(0, 1))
WINDOWS = GD(offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(1, 0))
BATCHED = GD(offset_dims=(2,), collapsed_slice_dims=(1,), start_index_map=(1,),
             operand_batching_dims=(0,), start_indices_batching_dims=(0,))

GATHER = [
    _g(ROWS, (1, 3), (5, 3), [[4], [1], [1], [0]], name="rows_f32"),
    _g(ROWS, (1, 3), (5, 3), [[4], [1], [0]], np.int32, name="rows_i32"),
    _g(ROWS, (1, 3), (5, 3), [[7], [-2], [2]], name="rows_oob_clamped"),
    _g(ROWS, (1, 3), (5, 3), [[7], [-2], [2]], mode="clip", name="rows_clip"),
    _g(ROWS, (1, 3), (5, 3), [[7], [-2], [2]], mode="fill", name="rows_fill_nan"),
    _g(ROWS, (1, 3), (5, 3), [[7], [-2], [2]], np.int32, mode="fill", name="rows_fill_i32"),
    _g(ROWS, (1, 3), (5, 3), [[7], [2]], np.uint8, mode="fill", name="rows_fill_u8"),
    _g(ROWS, (1, 3), (5, 3), [[7], [2]], np.bool_, mode="fill", name="rows_fill_bool"),
    _g(ROWS, (1, 3), (5, 3), [[9], [3]], mode="fill", fill_value=-1.5, name="rows_fill_value"),
    _g(COLS, (3, 1), (3, 5), [[4], [0], [2], [2]], name="cols_offset_first"),
    _g(POINTS, (1, 1), (4, 5), [[[0, 1], [3, 4]], [[2, 2], [1, 0]]], name="points_2d_batch"),
    _g(POINTS, (1, 1), (4, 5), [[0, 1], [3, 4]], np.int32, name="points_i32"),
    _g(WINDOWS, (2, 3), (6, 7), [[1, 0], [4, 5], [0, 6]], name="windows_clamped"),
    _g(WINDOWS, (2, 3), (6, 7), [[1, 0], [4, 5], [0, 6]], mode="fill", name="windows_fill"),
    _g(BATCHED, (1, 1, 4), (3, 5, 4), [[[1], [4]], [[0], [0]], [[2], [3]]],
       name="batching_dims"),
    _g(BATCHED, (1, 1, 4), (3, 5, 4), [[[1], [9]], [[0], [0]], [[2], [3]]], np.int32,
       mode="fill", name="batching_dims_fill"),
]


def _s(prim, dn, shape, idx, upd_shape, dtype=np.float32, mode=None, name="", seed=1):
    idx = np.asarray(idx, np.int32)
    fn_ = getattr(lax, prim)
    op = {"scatter": "set"}.get(prim, prim[len("scatter_"):])

    def fn(x, i, u):
        return fn_(x, i, u, dn, mode=mode)
    return Case(fn, [rand(shape, dtype), idx, rand(upd_shape, dtype, seed=seed)],
                lambda x, i, u: np_scatter(op, x, i, u, dn, mode or "drop"), name=name)


S_ROWS = SD(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
S_POINTS = SD(update_window_dims=(), inserted_window_dims=(0, 1),
              scatter_dims_to_operand_dims=(0, 1))
S_WINDOWS = SD(update_window_dims=(1, 2), inserted_window_dims=(),
               scatter_dims_to_operand_dims=(1, 0))
S_BATCHED = SD(update_window_dims=(2,), inserted_window_dims=(1,),
               scatter_dims_to_operand_dims=(1,), operand_batching_dims=(0,),
               scatter_indices_batching_dims=(0,))

REPEATED = [[1], [3], [1], [1], [0]]
SCATTER = {
    "scatter": [
        _s("scatter", S_ROWS, (5, 3), [[4], [1], [0]], (3, 3), name="rows_f32"),
        _s("scatter", S_ROWS, (5, 3), [[4], [1], [0]], (3, 3), np.int32, name="rows_i32"),
        _s("scatter", S_ROWS, (5, 3), [[7], [-1], [2]], (3, 3), name="oob_dropped"),
        _s("scatter", S_ROWS, (5, 3), [[7], [2]], (2, 3), mode="clip", name="clip"),
        _s("scatter", S_POINTS, (4, 5), [[[0, 1], [3, 4]]], (1, 2), np.bool_, name="bool"),
        _s("scatter", S_WINDOWS, (6, 7), [[1, 0], [4, 3]], (2, 2, 3), name="windows"),
        _s("scatter", S_BATCHED, (3, 5, 4), [[[1], [4]], [[0], [2]], [[2], [3]]], (3, 2, 4),
           name="batching_dims"),
    ],
    "scatter_add": [
        _s("scatter_add", S_ROWS, (5, 3), REPEATED, (5, 3), name="repeated_f32"),
        _s("scatter_add", S_ROWS, (5, 3), REPEATED, (5, 3), np.int32, name="repeated_i32"),
        _s("scatter_add", S_POINTS, (4, 5), [[0, 1], [0, 1], [3, 9], [-1, 0]], (4,),
           name="points_oob_dropped"),
        _s("scatter_add", S_POINTS, (4, 5), [[0, 1], [0, 1], [3, 9], [-1, 0]], (4,),
           np.int32, mode="clip", name="points_clip"),
        _s("scatter_add", S_WINDOWS, (6, 7), [[1, 0], [1, 0], [5, 5]], (3, 2, 3),
           name="windows_overlap_oob"),
        _s("scatter_add", S_BATCHED, (3, 5, 4), [[[1], [1]], [[0], [2]], [[2], [2]]],
           (3, 2, 4), np.int32, name="batching_dims"),
    ],
    "scatter_mul": [
        _s("scatter_mul", S_ROWS, (5, 3), REPEATED, (5, 3), name="repeated_f32"),
        _s("scatter_mul", S_ROWS, (5, 3), REPEATED, (5, 3), np.int32, name="repeated_i32"),
    ],
    "scatter_min": [
        _s("scatter_min", S_ROWS, (5, 3), REPEATED, (5, 3), name="repeated_f32"),
        _s("scatter_min", S_POINTS, (4, 5), [[0, 1], [0, 1], [2, 2]], (3,), np.int32,
           name="points_i32"),
        _s("scatter_min", S_POINTS, (4, 5), [[0, 1], [0, 1], [2, 2]], (3,), np.bool_,
           name="points_bool"),
    ],
    "scatter_max": [
        _s("scatter_max", S_ROWS, (5, 3), REPEATED, (5, 3), np.int32, name="repeated_i32"),
        _s("scatter_max", S_BATCHED, (3, 5, 4), [[[1], [1]], [[0], [2]], [[2], [2]]],
           (3, 2, 4), name="batching_dims"),
        _s("scatter_max", S_POINTS, (4, 5), [[0, 1], [0, 1], [2, 2]], (3,), np.bool_,
           name="points_bool"),
    ],
}

CASES = {"gather": GATHER, **SCATTER}
