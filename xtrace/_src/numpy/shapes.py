"""Shape manipulation: reshape, ravel, transpose, moveaxis, swapaxes, expand_dims, squeeze,
concatenate, stack (and h/v/d/column_stack), split (array_split, h/v/dsplit), tile, repeat,
flip, roll, rot90, pad, broadcast_to, broadcast_arrays, atleast_nd, resize, append, insert and
delete.

Everything is static-shaped: axes, shapes, section counts, split indices, repeats, pad widths
and the positions given to insert/delete must be Python values (not traced under jit). The
amounts of ``roll`` and the values of ``pad(mode="constant")`` may be traced.
"""
from __future__ import annotations

import builtins
import functools
import operator
from typing import Any

import numpy as np

from xtrace._src import core as _core
from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer
from xtrace._src.jit import jit as _xjit
from xtrace._src.numpy.core import _is_array, broadcast_shapes

# ---------------------------------------------------------------------------------------------
# Helpers


def _has_tracer(x: Any) -> bool:
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return builtins.any(_has_tracer(v) for v in x)
    if isinstance(x, dict):
        return builtins.any(_has_tracer(v) for v in x.values())
    return False


def _eager_jit(*static_argnames: str):
    """Run the decorated multi-step function as one compiled program when it is called
    eagerly (one compile per shape and static arguments, instead of one dispatch per
    primitive); under a trace, call it directly so that it is inlined. Static arguments must
    be passed by keyword and be hashable."""
    def wrap(fun):
        jitted = _xjit(fun, static_argnames=static_argnames)

        @functools.wraps(fun)
        def call(*args, **kwargs):
            if _core._state.dynamic_level > 0 or _has_tracer(args) or _has_tracer(kwargs):
                return fun(*args, **kwargs)
            return jitted(*args, **kwargs)
        return call
    return wrap


def _eager_jit_auto(fun):
    """Like ``_eager_jit``, with the static arguments found by themselves: called eagerly,
    the array leaves of the arguments (xtrace and NumPy arrays) are the jit inputs and every
    other leaf (Python numbers, strings, bools) is static, part of the cache key; under a
    trace, or with an unhashable leaf, ``fun`` is called directly. For functions whose
    result depends on argument values only through arrays (no concreteness checks)."""
    from xtrace._src.tree_util import tree_flatten, tree_unflatten
    cache: dict = {}

    @functools.wraps(fun)
    def call(*args, **kwargs):
        if _core._state.dynamic_level > 0 or _has_tracer(args) or _has_tracer(kwargs):
            return fun(*args, **kwargs)
        leaves, tree = tree_flatten((args, kwargs))
        # 0-d NumPy arrays count as static (sizes such as M may come as np.array(5)); being
        # unhashable, they send the call down the direct path
        dyn = [isinstance(v, Array) or (isinstance(v, np.ndarray) and v.ndim > 0)
               for v in leaves]
        key = (tree, tuple((type(v), v) for v, d in zip(leaves, dyn) if not d))
        try:
            jitted = cache.get(key)
        except TypeError:  # an unhashable static leaf
            return fun(*args, **kwargs)
        if jitted is None:
            if len(cache) > 256:
                cache.clear()
            statics = [v for v, d in zip(leaves, dyn) if not d]

            def run(*arrays):
                it_a, it_s = iter(arrays), iter(statics)
                a, kw = tree_unflatten(tree, [next(it_a) if d else next(it_s) for d in dyn])
                return fun(*a, **kw)
            jitted = cache[key] = _xjit(run)
        return jitted(*[v for v, d in zip(leaves, dyn) if d])
    return call


def _host(x: Any) -> np.ndarray:
    """A concrete value as a NumPy array of its own shape."""
    if isinstance(x, Array):
        return np.asarray(x).reshape(x.shape)
    return np.asarray(x)


def _arr(x: Any) -> Any:
    if _is_array(x):
        return x
    from xtrace._src.numpy.creation import asarray
    return asarray(x)


def _static(x: Any, what: str, fname: str) -> int:
    if isinstance(x, Tracer):
        raise TypeError(f"{fname}: {what} must be static (a Python int), got a traced value "
                        f"{x.aval.str_short()}; under jit pass it as a static argument "
                        "(static_argnums)")
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{fname}: {what} must be an int, got {type(x).__name__} "
                        f"{x!r:.40}") from None


def _static_ints(xs: Any, what: str, fname: str) -> tuple[int, ...]:
    if isinstance(xs, Tracer):
        _static(xs, what, fname)
    if isinstance(xs, (int, np.integer)) or (isinstance(xs, (np.ndarray, Array))
                                             and np.ndim(xs) == 0):
        return (_static(xs, what, fname),)
    if isinstance(xs, (np.ndarray, Array)):
        xs = _host(xs).tolist()
    try:
        return tuple(_static(x, what, fname) for x in xs)
    except TypeError as e:
        if "traced" in str(e):
            raise
        raise TypeError(f"{fname}: {what} must be an int or a sequence of ints, got "
                        f"{xs!r:.60}") from None


def _axis(a: Any, ndim: int, fname: str, name: str = "axis") -> int:
    a = _static(a, name, fname)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(f"{fname}: {name} {a} is out of bounds "
                                      f"for array of dimension {ndim}")
    return a % ndim


def _axes(axis: Any, ndim: int, fname: str, name: str = "axis") -> tuple[int, ...]:
    """Normalized axes (not sorted); None means all axes; repeated axes are an error."""
    if axis is None:
        return tuple(range(ndim))
    items = _static_ints(axis, name, fname)
    out = tuple(_axis(a, ndim, fname, name) for a in items)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}: repeated {name} in {tuple(items)}")
    return out


def _splat(value: Any, shape: tuple, dt: np.dtype, weak: bool = False) -> Array:
    """An array of ``shape`` filled with the scalar ``value`` (always an xtrace array)."""
    v = np.asarray(value).astype(dt)
    if shape == ():
        return from_numpy(v, weak_type=weak)
    return lax.broadcast_in_dim(from_numpy(v, weak_type=True) if weak else v[()], shape, ())


def _promote(xs: list, fname: str) -> list:
    """Convert to arrays of one dtype (JAX's weak-type-aware promotion)."""
    xs = [_arr(x) for x in xs]
    dt, weak = dtypes.promote_types_weak(*[(x.aval.dtype, x.aval.weak_type) for x in xs])
    return [x if x.aval.dtype == dt and x.aval.weak_type == weak
            else lax.convert_element_type(x, dt, weak) for x in xs]


def _sequence(arrays: Any, fname: str) -> list:
    """The items of a list/tuple, or the sub-arrays along axis 0 of an array."""
    if _is_array(arrays):
        if arrays.ndim == 0:
            raise ValueError(f"{fname}: expected a sequence of arrays, got a 0-d array")
        return [lax.index_in_dim(arrays, i, 0, keepdims=False)
                for i in range(arrays.shape[0])]
    if isinstance(arrays, np.ndarray):
        return list(arrays)
    if dtypes.is_python_scalar(arrays) or not hasattr(arrays, "__iter__"):
        raise TypeError(f"{fname}: expected a sequence of arrays, got {type(arrays).__name__}")
    return list(arrays)


def _take_static(a, idx: np.ndarray, axis: int):
    """``a`` indexed along ``axis`` by a static integer array (a slice when it is one)."""
    idx = np.asarray(idx, np.int64)
    n = a.shape[axis]
    if idx.ndim == 1 and idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return lax.slice_in_dim(a, int(idx[0]), int(idx[0]) + idx.size, axis=axis)
    if idx.size == 0 or n == 0:
        shape = tuple(a.shape[:axis]) + idx.shape + tuple(a.shape[axis + 1:])
        return _splat(0, shape, a.dtype, a.weak_type)
    from xtrace._src.numpy.indexing import getitem
    return getitem(a, (slice(None),) * axis + (idx.astype(np.int32),))


# ---------------------------------------------------------------------------------------------
# Reshaping and transposing


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: bool | None = None) -> Array:
    """``a`` with a new shape of the same size (one entry may be -1); ``order="F"`` reads and
    writes the elements in column-major order."""
    a = _arr(a)
    if shape is None:
        if newshape is None:
            raise TypeError("reshape: missing the new shape")
        shape = newshape
    if order not in ("C", "F", "A", "K", None):
        raise ValueError(f"reshape: order must be 'C' or 'F', got {order!r}")
    if isinstance(shape, Tracer) or (isinstance(shape, (list, tuple)) and builtins.any(
            isinstance(d, Tracer) for d in shape)):
        raise TypeError("reshape: the new shape must be static; got a traced value. Under jit "
                        "use Python ints (e.g. computed from x.shape) or static_argnums")
    shape = list(_static_ints(shape, "shape", "reshape"))
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension (-1), got "
                         f"{tuple(shape)}")
    if builtins.any(d < -1 for d in shape):
        raise ValueError(f"reshape: invalid dimension in shape {tuple(shape)}")
    size = int(np.prod(a.shape, dtype=np.int64))
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape array of shape {tuple(a.shape)} (size "
                             f"{size}) into shape {tuple(shape)}")
        shape[shape.index(-1)] = size // known
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError(f"reshape: cannot reshape array of shape {tuple(a.shape)} (size "
                         f"{size}) into shape {tuple(shape)}")
    if order == "F" and a.ndim > 1 or order == "F" and len(shape) > 1:
        rev_in = tuple(range(a.ndim))[::-1]
        out = lax.reshape(lax.transpose(a, rev_in), shape[::-1])
        return lax.transpose(out, tuple(range(len(shape)))[::-1])
    return lax.reshape(a, shape)


def ravel(a: Any, order: str = "C") -> Array:
    """``a`` flattened to 1-D (``order="F"``: column-major)."""
    return reshape(a, (-1,), "F" if order == "F" else "C")


def transpose(a: Any, axes: Any = None) -> Array:
    """``a`` with its axes permuted (reversed by default)."""
    a = _arr(a)
    if axes is None:
        return lax.transpose(a, tuple(range(a.ndim))[::-1])
    items = _static_ints(axes, "axes", "transpose")
    if len(items) != a.ndim:
        raise ValueError(f"transpose: axes {tuple(items)} don't match array of dimension "
                         f"{a.ndim} (shape {tuple(a.shape)})")
    perm = _axes(items, a.ndim, "transpose", "axis")
    return lax.transpose(a, perm)


permute_dims = transpose


def moveaxis(a: Any, source: Any, destination: Any) -> Array:
    """``a`` with the axes ``source`` moved to positions ``destination``, the others keeping
    their order."""
    a = _arr(a)
    src = _axes(source, a.ndim, "moveaxis", "source")
    dst = _axes(destination, a.ndim, "moveaxis", "destination")
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} must have "
                         "the same number of elements")
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lax.transpose(a, perm)


def rollaxis(a: Any, axis: int, start: int = 0) -> Array:
    """``a`` with ``axis`` moved to before position ``start`` (the older form of
    ``moveaxis``)."""
    a = _arr(a)
    n = a.ndim
    ax = _axis(axis, n, "rollaxis")
    start = _static(start, "start", "rollaxis")
    if not -n <= start <= n:
        raise ValueError(f"rollaxis: start {start} is out of bounds for array of dimension {n} "
                         f"(it must be in [{-n}, {n}])")
    if start < 0:
        start += n
    if ax < start:
        start -= 1
    return a if ax == start else moveaxis(a, ax, start)


def swapaxes(a: Any, axis1: int, axis2: int) -> Array:
    """``a`` with ``axis1`` and ``axis2`` interchanged."""
    a = _arr(a)
    i = _axis(axis1, a.ndim, "swapaxes", "axis1")
    j = _axis(axis2, a.ndim, "swapaxes", "axis2")
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, perm)


def squeeze(a: Any, axis: Any = None) -> Array:
    """``a`` without its size-1 axes (all of them, or those in ``axis``, which must have size
    1)."""
    a = _arr(a)
    if axis is None:
        return lax.squeeze(a, tuple(i for i, d in enumerate(a.shape) if d == 1))
    if a.ndim == 0:
        for ax in _static_ints(axis, "axis", "squeeze"):
            if ax not in (0, -1):
                raise ValueError(f"squeeze: axis {ax} is out of bounds for array of "
                                 "dimension 0")
        return a
    axes = _axes(axis, a.ndim, "squeeze")
    for ax in axes:
        if a.shape[ax] != 1:
            raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size "
                             f"not equal to one: axis {ax} of shape {tuple(a.shape)} has size "
                             f"{a.shape[ax]}")
    return lax.squeeze(a, axes)


def expand_dims(a: Any, axis: Any) -> Array:
    """``a`` with new size-1 axes at positions ``axis`` (int or tuple, positions in the
    result)."""
    a = _arr(a)
    items = _static_ints(axis, "axis", "expand_dims")
    axes = _axes(items, a.ndim + len(items), "expand_dims")
    return lax.expand_dims(a, tuple(sorted(axes)))


# ---------------------------------------------------------------------------------------------
# Joining


def _concat_checked(arrays: list, axis: int, fname: str):
    nd = arrays[0].ndim
    shapes = [tuple(x.shape) for x in arrays]
    if builtins.any(x.ndim != nd for x in arrays):
        raise ValueError(f"{fname}: all the input arrays must have the same number of "
                         "dimensions, got shapes " + ", ".join(map(str, shapes)))
    for s in shapes:
        if builtins.any(d != e for i, (d, e) in enumerate(zip(s, shapes[0])) if i != axis):
            raise ValueError(f"{fname}: all the input array dimensions except for the "
                             f"concatenation axis ({axis}) must match exactly, got shapes "
                             + ", ".join(map(str, shapes)))
    return lax.concatenate(arrays, axis)


def concatenate(arrays: Any, axis: int | None = 0, dtype: Any = None) -> Array:
    """Join arrays along an existing ``axis`` (``axis=None``: flatten them first). Dtypes
    promote as in JAX; an array argument is treated as the sequence of its rows."""
    if _is_array(arrays) or isinstance(arrays, np.ndarray):
        arr = _arr(arrays)
        if axis is None:
            out = ravel(arr)
        else:
            if arr.ndim < 2:
                raise ValueError(f"concatenate: an array argument must be at least 2-D (it is "
                                 f"a sequence of arrays), got shape {tuple(arr.shape)}")
            ax = _axis(axis, arr.ndim - 1, "concatenate")
            out = reshape(moveaxis(arr, 0, ax), tuple(arr.shape[1:ax + 1]) + (
                arr.shape[0] * arr.shape[ax + 1],) + tuple(arr.shape[ax + 2:]))
        return out if dtype is None else lax.convert_element_type(
            out, _dtype(dtype, "concatenate"), False)
    arrays = _sequence(arrays, "concatenate")
    if not arrays:
        raise ValueError("concatenate: need at least one array to concatenate")
    arrays = [_arr(x) for x in arrays]
    if axis is None:
        arrays = [ravel(x) for x in arrays]
        axis = 0
    for x in arrays:
        if x.ndim == 0:
            raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated "
                             "(use stack, or atleast_1d first)")
    arrays = _promote(arrays, "concatenate")
    if dtype is not None:
        dt = _dtype(dtype, "concatenate")
        arrays = [lax.convert_element_type(x, dt, False) for x in arrays]
    ax = _axis(axis, arrays[0].ndim, "concatenate")
    return _concat_checked(arrays, ax, "concatenate")


concat = concatenate


def _dtype(dtype, fname):
    from xtrace._src.numpy.creation import _canon
    return _canon(dtype, fname)


def stack(arrays: Any, axis: int = 0, dtype: Any = None) -> Array:
    """Join same-shaped arrays along a new ``axis``."""
    if _is_array(arrays) or isinstance(arrays, np.ndarray):
        arr = _arr(arrays)
        if arr.ndim == 0:
            raise ValueError("stack: expected a sequence of arrays, got a 0-d array")
        out = moveaxis(arr, 0, _axis(axis, arr.ndim, "stack"))
        return out if dtype is None else lax.convert_element_type(
            out, _dtype(dtype, "stack"), False)
    arrays = _sequence(arrays, "stack")
    if not arrays:
        raise ValueError("stack: need at least one array to stack")
    arrays = _promote(arrays, "stack")
    shapes = [tuple(x.shape) for x in arrays]
    if builtins.any(s != shapes[0] for s in shapes):
        raise ValueError("stack: all input arrays must have the same shape, got shapes "
                         + ", ".join(map(str, shapes)))
    if dtype is not None:
        dt = _dtype(dtype, "stack")
        arrays = [lax.convert_element_type(x, dt, False) for x in arrays]
    ax = _axis(axis, arrays[0].ndim + 1, "stack")
    return _stack_impl(arrays, ax=ax)


@_eager_jit("ax")
def _stack_impl(arrays, *, ax):
    return lax.concatenate([lax.expand_dims(x, (ax,)) for x in arrays], ax)


def unstack(x: Any, /, *, axis: int = 0) -> tuple:
    """The sub-arrays of ``x`` along ``axis``, as a tuple."""
    x = _arr(x)
    if x.ndim == 0:
        raise ValueError("unstack: input must be at least 1-D")
    ax = _axis(axis, x.ndim, "unstack")
    return tuple(lax.index_in_dim(x, i, ax, keepdims=False) for i in range(x.shape[ax]))


def _join(tup, kind, fname, dtype):
    arrays = [_arr(x) for x in _sequence(tup, fname)]
    if not arrays:
        raise ValueError(f"{fname}: need at least one array to concatenate")
    arrays = _promote(arrays, fname)
    if dtype is not None:
        dt = _dtype(dtype, fname)
        arrays = [lax.convert_element_type(x, dt, False) for x in arrays]
    return _join_impl(arrays, kind=kind, fname=fname)


@_eager_jit("kind", "fname")
def _join_impl(arrays, *, kind, fname):
    if kind == "column":
        arrays = [lax.reshape(x, (x.size, 1)) if x.ndim < 2 else x for x in arrays]
        axis = 1
    else:
        arrays = [_atleast(kind)(x) for x in arrays]
        axis = {1: 0 if arrays[0].ndim == 1 else 1, 2: 0, 3: 2}[kind]
    return _concat_checked(arrays, axis, fname)


def hstack(tup: Any, dtype: Any = None) -> Array:
    """Join along axis 1 (axis 0 for 1-D inputs)."""
    return _join(tup, 1, "hstack", dtype)


def vstack(tup: Any, dtype: Any = None) -> Array:
    """Join along axis 0 after making the inputs at least 2-D."""
    return _join(tup, 2, "vstack", dtype)


def dstack(tup: Any, dtype: Any = None) -> Array:
    """Join along axis 2 after making the inputs at least 3-D."""
    return _join(tup, 3, "dstack", dtype)


def column_stack(tup: Any) -> Array:
    """Join 1-D arrays as columns (and 2-D arrays as they are) along axis 1."""
    return _join(tup, "column", "column_stack", None)


def _block_depth(x, path=()) -> tuple[int, list]:
    """Nesting depth of the lists in ``x`` (checked to be uniform) and its leaves."""
    if isinstance(x, tuple):
        raise TypeError(f"block: arrays is a tuple at index {list(path)}; use lists only "
                        "(tuples are not allowed in block, as in NumPy)")
    if not isinstance(x, list):
        return 0, [x]
    if not x:
        raise ValueError(f"block: list at index {list(path)} cannot be empty")
    depths, leaves = set(), []
    for i, e in enumerate(x):
        d, lv = _block_depth(e, path + (i,))
        depths.add(d)
        leaves += lv
    if len(depths) > 1:
        raise ValueError(f"block: list depths are mismatched at index {list(path)}")
    return depths.pop() + 1, leaves


def block(arrays: Any) -> Array:
    """Assemble an array from nested lists of blocks, as ``numpy.block``: the innermost lists
    join along the last axis, the next ones along the second-last, and so on."""
    depth, leaves = _block_depth(arrays)
    leaves = _promote(leaves, "block")
    ndim = builtins.max([depth] + [x.ndim for x in leaves])
    it = iter(leaves)

    def build(x, level):
        if not isinstance(x, list):
            leaf = next(it)
            return lax.reshape(leaf, (1,) * (ndim - leaf.ndim) + tuple(leaf.shape))
        parts = [build(e, level + 1) for e in x]
        return _concat_checked(parts, ndim - (depth - level), "block")
    return build(arrays, 0)


# ---------------------------------------------------------------------------------------------
# Splitting


def _split(ary, indices_or_sections, axis, fname, equal: bool) -> list:
    ary = _arr(ary)
    if ary.ndim == 0:
        raise ValueError(f"{fname}: cannot split a 0-d array")
    ax = _axis(axis, ary.ndim, fname)
    n = ary.shape[ax]
    if isinstance(indices_or_sections, Tracer):
        _static(indices_or_sections, "indices_or_sections", fname)
    if isinstance(indices_or_sections, (int, np.integer)) or (
            np.ndim(indices_or_sections) == 0 and not isinstance(indices_or_sections,
                                                                 (list, tuple))):
        sections = _static(indices_or_sections, "sections", fname)
        if sections <= 0:
            raise ValueError(f"{fname}: number of sections must be larger than 0, got "
                             f"{sections}")
        if equal and n % sections:
            raise ValueError(f"{fname}: array split does not result in an equal division: "
                             f"axis {ax} of size {n} into {sections} sections")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        points = np.cumsum([0] + sizes).tolist()
        bounds = list(zip(points[:-1], points[1:]))
    else:
        idx = _static_ints(indices_or_sections, "indices", fname)
        points = [0, *idx, n]
        bounds = []
        for st, en in zip(points[:-1], points[1:]):
            s, e, _ = builtins.slice(st, en).indices(n)
            bounds.append((s, builtins.max(s, e)))
    return _split_impl(ary, bounds=tuple(bounds), ax=ax)


@_eager_jit("bounds", "ax")
def _split_impl(ary, *, bounds, ax):
    return [lax.slice_in_dim(ary, s, e, axis=ax) for s, e in bounds]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Array]:
    """Split into equal sections (an int, which must divide the axis) or at static indices."""
    return _split(ary, indices_or_sections, axis, "split", True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Array]:
    """Like ``split``, but an int number of sections need not divide the axis (the first
    sections get one element more)."""
    return _split(ary, indices_or_sections, axis, "array_split", False)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Array]:
    """Split along axis 1 (axis 0 for 1-D arrays)."""
    ary = _arr(ary)
    if ary.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return _split(ary, indices_or_sections, 1 if ary.ndim > 1 else 0, "hsplit", True)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Array]:
    """Split along axis 0 (arrays of 2 or more dimensions)."""
    ary = _arr(ary)
    if ary.ndim < 2:
        raise ValueError(f"vsplit only works on arrays of 2 or more dimensions, got shape "
                         f"{tuple(ary.shape)}")
    return _split(ary, indices_or_sections, 0, "vsplit", True)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Array]:
    """Split along axis 2 (arrays of 3 or more dimensions)."""
    ary = _arr(ary)
    if ary.ndim < 3:
        raise ValueError(f"dsplit only works on arrays of 3 or more dimensions, got shape "
                         f"{tuple(ary.shape)}")
    return _split(ary, indices_or_sections, 2, "dsplit", True)


# ---------------------------------------------------------------------------------------------
# Repeating: tile, repeat, resize


def tile(A: Any, reps: Any) -> Array:
    """``A`` repeated ``reps`` times along each axis (``reps`` static)."""
    A = _arr(A)
    reps = _static_ints(reps, "reps", "tile")
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    return _tile_impl(A, reps=tuple(reps))


@_eager_jit("reps")
def _tile_impl(A, *, reps):
    nd = builtins.max(len(reps), A.ndim)
    reps = (1,) * (nd - len(reps)) + tuple(reps)
    shape = (1,) * (nd - A.ndim) + tuple(A.shape)
    A = lax.reshape(A, shape)
    if builtins.all(r == 1 for r in reps):
        return A
    big = tuple(v for r, d in zip(reps, shape) for v in (r, d))
    out = lax.broadcast_in_dim(A, big, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(out, tuple(r * d for r, d in zip(reps, shape)))


def repeat(a: Any, repeats: Any, axis: int | None = None, *,
           total_repeat_length: int | None = None) -> Array:
    """Repeat each element of ``a`` (along ``axis``; flattened when None) ``repeats`` times.

    ``repeats`` is an int or one int per element. Static repeats need nothing else; traced
    repeats (under jit) need a static ``total_repeat_length``, the output length: extra
    elements are dropped, and a short result is padded with the last element (as JAX)."""
    a = _arr(a)
    if axis is None:
        a, ax = ravel(a), 0
    else:
        if a.ndim == 0:
            raise ValueError(f"repeat: axis {axis} is out of bounds for array of dimension 0")
        ax = _axis(axis, a.ndim, "repeat")
    n = a.shape[ax]
    if total_repeat_length is not None:
        total_repeat_length = _static(total_repeat_length, "total_repeat_length", "repeat")
        if total_repeat_length < 0:
            raise ValueError("repeat: total_repeat_length must be non-negative")
    if isinstance(repeats, Tracer):
        if total_repeat_length is None:
            raise TypeError(
                "repeat: repeats is a traced array, so the output size is unknown; pass a "
                "static total_repeat_length=... (the output length along the axis), or make "
                "repeats static")
        return _repeat_traced(a, repeats, ax, total_repeat_length)
    r = _host(repeats)
    if not (np.issubdtype(r.dtype, np.integer) or r.dtype == np.bool_):
        raise TypeError(f"repeat: repeats must be integers, got {r.dtype}")
    if r.ndim > 1:
        raise ValueError(f"repeat: repeats must be an int or 1-D, got shape {r.shape}")
    if np.any(r < 0):
        raise ValueError("repeat: repeats may not contain negative values")
    if r.ndim == 1 and r.size == 1:
        r = r.reshape(())
    if r.ndim == 1 and r.size != n:
        raise ValueError(f"repeat: repeats of length {r.size} does not match axis {ax} of "
                         f"size {n}")
    if r.ndim == 0 and (total_repeat_length is None or total_repeat_length == int(r) * n):
        k = int(r)
        if k == 1:
            return a
        shape = tuple(a.shape)
        big = shape[:ax + 1] + (k,) + shape[ax + 1:]
        out = lax.broadcast_in_dim(a, big, tuple(i for i in range(len(big)) if i != ax + 1))
        return lax.reshape(out, shape[:ax] + (n * k,) + shape[ax + 1:])
    idx = np.repeat(np.arange(n), np.broadcast_to(r, (n,)))
    if total_repeat_length is not None:
        if idx.size >= total_repeat_length:
            idx = idx[:total_repeat_length]
        elif n:
            idx = np.concatenate([idx, np.full(total_repeat_length - idx.size, n - 1)])
        else:
            raise ValueError("repeat: cannot fill total_repeat_length from an empty axis")
    return _take_static(a, idx, ax)


def _repeat_traced(a, repeats, ax, total):
    from xtrace._src.numpy.indexing import getitem
    n = a.shape[ax]
    r = lax.convert_element_type(repeats, dtypes.int32)
    if r.ndim == 0:
        r = lax.broadcast_in_dim(r, (n,), ())
    elif r.shape != (n,):
        raise ValueError(f"repeat: repeats of shape {tuple(r.shape)} does not match axis "
                         f"{ax} of size {n}")
    if n == 0 or total == 0:
        shape = tuple(a.shape[:ax]) + (total,) + tuple(a.shape[ax + 1:])
        if total and not n:
            raise ValueError("repeat: cannot fill total_repeat_length from an empty axis")
        return _splat(0, shape, a.dtype, a.weak_type)
    ends = lax.cumsum(r, axis=0)
    j = lax.broadcasted_iota(dtypes.int32, (total, n), 0)
    covered = lax.convert_element_type(
        lax.ge(j, lax.broadcast_in_dim(ends, (total, n), (1,))), dtypes.int32)
    idx = lax.min(lax.reduce_sum(covered, (1,)), np.int32(n - 1))
    return getitem(a, (slice(None),) * ax + (idx,))


def resize(a: Any, new_shape: Any) -> Array:
    """An array of ``new_shape`` filled with the elements of ``a`` repeated cyclically (zeros
    when ``a`` is empty)."""
    a = _arr(a)
    shape = _static_ints(new_shape, "new_shape", "resize")
    if builtins.any(d < 0 for d in shape):
        raise ValueError(f"resize: all elements of new_shape must be non-negative, got {shape}")
    return _resize_impl(a, shape=shape)


@_eager_jit("shape")
def _resize_impl(a, *, shape):
    total = int(np.prod(shape, dtype=np.int64))
    flat = ravel(a)
    if flat.shape[0] == 0:
        return _splat(0, shape, a.dtype, a.weak_type)
    reps = -(-total // flat.shape[0])
    flat = tile(flat, reps)
    return lax.reshape(lax.slice_in_dim(flat, 0, total), shape)


# ---------------------------------------------------------------------------------------------
# Flipping and rotating: flip, fliplr, flipud, roll, rot90


def flip(m: Any, axis: Any = None) -> Array:
    """``m`` with the order of elements reversed along ``axis`` (all axes when None)."""
    m = _arr(m)
    axes = _axes(axis, m.ndim, "flip")
    return lax.rev(m, axes) if axes else m


def fliplr(m: Any) -> Array:
    """Reverse axis 1 (arrays of 2 or more dimensions)."""
    m = _arr(m)
    if m.ndim < 2:
        raise ValueError(f"fliplr: input must be at least 2-D, got shape {tuple(m.shape)}")
    return lax.rev(m, (1,))


def flipud(m: Any) -> Array:
    """Reverse axis 0 (arrays of 1 or more dimensions)."""
    m = _arr(m)
    if m.ndim < 1:
        raise ValueError("flipud: input must be at least 1-D, got a 0-d array")
    return lax.rev(m, (0,))


def _roll_static(a, shift: int, ax: int):
    n = a.shape[ax]
    s = shift % n if n else 0
    if s == 0:
        return a
    return lax.concatenate([lax.slice_in_dim(a, n - s, n, axis=ax),
                            lax.slice_in_dim(a, 0, n - s, axis=ax)], ax)


def _roll_traced(a, shift, ax: int):
    n = a.shape[ax]
    if n == 0:
        return a
    shift = lax.convert_element_type(shift, dtypes.int32)
    i = lax.rem(lax.neg(shift), np.int32(n))
    i = lax.select(lax.lt(i, np.int32(0)), lax.add(i, np.int32(n)), i)
    doubled = lax.concatenate([a, a], ax)
    starts = [np.int32(0)] * a.ndim
    starts[ax] = i
    return lax.dynamic_slice(doubled, starts, tuple(a.shape))


def roll(a: Any, shift: Any, axis: Any = None) -> Array:
    """Shift the elements of ``a`` cyclically by ``shift`` along ``axis`` (flattened when
    None); ``shift`` and ``axis`` may be sequences (they broadcast), and ``shift`` may be
    traced."""
    a = _arr(a)
    if axis is None:
        return lax.reshape(roll(ravel(a), shift, 0), tuple(a.shape))
    axes = _static_ints(axis, "axis", "roll")
    axes = tuple(_axis(x, a.ndim, "roll") for x in axes)
    scalar_axis = isinstance(axis, (int, np.integer))
    if isinstance(shift, Tracer):
        if shift.ndim > 1 or not (dtypes.is_int(shift.dtype) or shift.dtype == dtypes.bool_):
            raise TypeError(f"roll: shift must be an integer scalar or 1-D, got "
                            f"{shift.aval.str_short()}")
        k = shift.shape[0] if shift.ndim else 1
        if not (k == len(axes) or k == 1 or len(axes) == 1):
            raise ValueError(f"roll: shift of shape {tuple(shift.shape)} and axis {axis} must "
                             "broadcast together")
        count = builtins.max(k, len(axes))
        shifts = [shift if shift.ndim == 0 else lax.index_in_dim(
            shift, i if k > 1 else 0, 0, keepdims=False) for i in range(count)]
        axes = axes * count if len(axes) == 1 else axes
        out = a
        for s, ax in zip(shifts, axes):
            out = _roll_traced(out, s, ax)
        return out
    shifts = _static_ints(shift, "shift", "roll")
    try:
        sh, ax_b = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
    except ValueError:
        raise ValueError(f"roll: shift {shift} and axis {axis} must broadcast together") \
            from None
    if (np.ndim(shift) == 0 and scalar_axis) or sh.ndim == 0:
        sh, ax_b = sh.reshape(1), ax_b.reshape(1)
    total = {}
    for s, ax in zip(sh.tolist(), ax_b.tolist()):
        total[ax] = total.get(ax, 0) + s
    items = tuple((ax, s % a.shape[ax]) for ax, s in total.items()
                  if a.shape[ax] and s % a.shape[ax])
    return _roll_impl(a, items=items) if items else a


@_eager_jit("items")
def _roll_impl(a, *, items):
    for ax, s in items:
        a = _roll_static(a, s, ax)
    return a


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Array:
    """``m`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (from the first axis
    towards the second)."""
    m = _arr(m)
    k = _static(k, "k", "rot90")
    axes = _static_ints(axes, "axes", "rot90")
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must have length 2, got {axes}")
    if m.ndim < 2:
        raise ValueError(f"rot90: array must be at least 2-D, got shape {tuple(m.shape)}")
    a0, a1 = (_axis(x, m.ndim, "rot90") for x in axes)
    if a0 == a1:
        raise ValueError(f"rot90: axes must be different, got {axes}")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return lax.rev(m, (a0, a1))
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return lax.transpose(lax.rev(m, (a1,)), perm)
    return lax.rev(lax.transpose(m, perm), (a1,))


# ---------------------------------------------------------------------------------------------
# pad


def _pairs(v: Any, nd: int, name: str, *, integral: bool = True) -> tuple:
    """``v`` broadcast to ``nd`` (before, after) pairs (static, NumPy's accepted forms)."""
    if isinstance(v, Tracer) or (isinstance(v, (list, tuple)) and builtins.any(
            isinstance(x, Tracer) for x in _leaves(v))):
        raise TypeError(f"pad: {name} must be static (Python ints), got a traced value")
    arr = _host(v)
    if integral and arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"pad: {name} must be of integral type, got {arr.dtype}")
    try:
        arr = np.broadcast_to(arr, (nd, 2))
    except ValueError:
        raise ValueError(f"pad: {name} of shape {arr.shape} cannot be broadcast to ({nd}, 2) "
                         f"(one (before, after) pair per axis)") from None
    return tuple((a.item(), b.item()) for a, b in arr)


def _leaves(xs):
    for x in xs:
        if isinstance(x, (list, tuple)):
            yield from _leaves(x)
        else:
            yield x


def _no_empty_pad(a, pw, mode):
    for i, (b, e) in enumerate(pw):
        if a.shape[i] == 0 and (b or e):
            raise ValueError(f"pad: can't extend empty axis {i} using mode {mode!r}; only "
                             "'constant' and 'empty' can pad an empty axis")


def _pad_constant(a, pw, values):
    nd = a.ndim
    if _is_array(values):
        v = lax.convert_element_type(values, a.dtype, a.weak_type)
    else:
        v = np.asarray(values)
        if v.dtype.kind not in "biufc" and v.dtype not in dtypes.SUPPORTED:
            raise TypeError(f"pad: constant_values must be numbers, got {v.dtype}")
        v = v.astype(a.dtype)
    if np.ndim(v) == 0:
        pv = v if _is_array(v) else lax.convert_element_type(v[()], a.dtype, a.weak_type)
        return lax.pad(a, pv, [(b, e, 0) for b, e in pw])
    try:
        np.broadcast_shapes(np.shape(v), (nd, 2))
        if np.ndim(v) > 2:
            raise ValueError
    except ValueError:
        raise ValueError(f"pad: constant_values of shape {np.shape(v)} cannot be broadcast to "
                         f"({nd}, 2) (one (before, after) pair per axis)") from None
    if not _is_array(v):
        v = np.broadcast_to(v, (nd, 2))
        vals = [[lax.convert_element_type(v[i, j], a.dtype, a.weak_type) for j in range(2)]
                for i in range(nd)]
    else:
        v = broadcast_to(v, (nd, 2))
        vals = [[lax.reshape(lax.slice(v, (i, j), (i + 1, j + 1)), ()) for j in range(2)]
                for i in range(nd)]
    for i, (b, e) in enumerate(pw):
        cfg = [(0, 0, 0)] * nd
        if b:
            cfg[i] = (b, 0, 0)
            a = lax.pad(a, vals[i][0], cfg)
        if e:
            cfg[i] = (0, e, 0)
            a = lax.pad(a, vals[i][1], cfg)
    return a


def _pad_wrap(a, pw):
    for i, (b, e) in enumerate(pw):
        n = a.shape[i]
        if n == 0 or not (b or e):
            continue
        lr, lrem = divmod(b, n)
        rr, rrem = divmod(e, n)
        parts = []
        if lrem:
            parts.append(lax.slice_in_dim(a, n - lrem, n, axis=i))
        parts += [a] * (lr + rr + 1)
        if rrem:
            parts.append(lax.slice_in_dim(a, 0, rrem, axis=i))
        a = lax.concatenate(parts, i)
    return a


def _pad_reflect(a, pw, mode, reflect_type):
    from xtrace._src.numpy.ufuncs import subtract, multiply
    for i, (b, e) in enumerate(pw):
        n = a.shape[i]
        if n == 0 or not (b or e):
            continue
        offset = 1 if (mode == "reflect" and n > 1) else 0

        def build(a, padding, before):
            edge = lax.slice_in_dim(a, 0, 1, axis=i) if before else \
                lax.slice_in_dim(a, a.shape[i] - 1, a.shape[i], axis=i)
            while padding > 0:
                cur = builtins.min(padding, n - offset)
                padding -= cur
                size = a.shape[i]
                if before:
                    x = lax.slice_in_dim(a, offset, offset + cur, axis=i)
                else:
                    stop = size if (mode == "symmetric" or n == 1) else size - 1
                    x = lax.slice_in_dim(a, stop - cur, stop, axis=i)
                x = lax.rev(x, (i,))
                if reflect_type == "odd":
                    x = subtract(multiply(2, broadcast_to(edge, x.shape)), x)
                    x = lax.convert_element_type(x, a.dtype, a.weak_type)
                    if n > 1:
                        edge = lax.slice_in_dim(x, 0, 1, axis=i) if before else \
                            lax.slice_in_dim(x, x.shape[i] - 1, x.shape[i], axis=i)
                a = lax.concatenate([x, a] if before else [a, x], i)
            return a
        a = build(a, b, True)
        a = build(a, e, False)
    return a


def _pad_edge(a, pw):
    for i, (b, e) in enumerate(pw):
        n = a.shape[i]
        if not (b or e):
            continue
        parts = []
        if b:
            parts.append(repeat(lax.slice_in_dim(a, 0, 1, axis=i), b, axis=i))
        parts.append(a)
        if e:
            parts.append(repeat(lax.slice_in_dim(a, n - 1, n, axis=i), e, axis=i))
        a = lax.concatenate(parts, i)
    return a


def _pad_linear_ramp(a, pw, end_values):
    from xtrace._src.numpy.creation import linspace
    for i, (b, e) in enumerate(pw):
        if not (b or e):
            continue
        n = a.shape[i]
        parts = []
        if b:
            edge = lax.index_in_dim(a, 0, i, keepdims=False)
            ramp = linspace(end_values[i][0], edge, b, endpoint=False, dtype=a.dtype, axis=i)
            parts.append(lax.convert_element_type(ramp, a.dtype, a.weak_type))
        parts.append(a)
        if e:
            edge = lax.index_in_dim(a, n - 1, i, keepdims=False)
            ramp = linspace(end_values[i][1], edge, e, endpoint=False, dtype=a.dtype, axis=i)
            parts.append(lax.rev(lax.convert_element_type(ramp, a.dtype, a.weak_type), (i,)))
        a = lax.concatenate(parts, i)
    return a


def _pad_stats(a, pw, stat_length, mode):
    from xtrace._src.numpy import reductions
    func = {"maximum": reductions.max, "minimum": reductions.min, "mean": reductions.mean,
            "median": reductions.median}[mode]
    for i, (b, e) in enumerate(pw):
        if not (b or e):
            continue
        n = a.shape[i]
        if stat_length is None:
            sb = se = func(a, axis=i, keepdims=True)
        else:
            lb, le = stat_length[i]
            if lb == 0 or le == 0:
                raise ValueError("pad: stat_length of 0 yields no value for padding")
            lb, le = builtins.min(lb, n), builtins.min(le, n)
            sb = func(lax.slice_in_dim(a, 0, lb, axis=i), axis=i, keepdims=True)
            se = func(lax.slice_in_dim(a, n - le, n, axis=i), axis=i, keepdims=True)
        stats = []
        for s in (sb, se):
            if not dtypes.is_inexact(a.dtype) and dtypes.is_inexact(s.dtype):
                s = lax.round(s, 1)
            stats.append(lax.convert_element_type(s, a.dtype, a.weak_type))
        parts = ([repeat(stats[0], b, axis=i)] if b else []) + [a] + (
            [repeat(stats[1], e, axis=i)] if e else [])
        a = lax.concatenate(parts, i)
    return a


_PAD_KWARGS = {"constant": {"constant_values"}, "edge": set(), "wrap": set(), "empty": set(),
               "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
               "linear_ramp": {"end_values"}, "maximum": {"stat_length"},
               "minimum": {"stat_length"}, "mean": {"stat_length"}, "median": {"stat_length"}}


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Array:
    """Pad an array, as ``numpy.pad``: ``pad_width`` in any of NumPy's forms (an int, a pair,
    or one pair per axis; static); modes constant (``constant_values``, scalar or per
    axis/side, possibly traced), edge, reflect and symmetric (``reflect_type``), wrap,
    linear_ramp (``end_values``), maximum, minimum, mean, median (``stat_length``), empty."""
    a = _arr(array)
    if callable(mode):
        raise NotImplementedError("pad: a callable mode is not supported; use one of "
                                  + ", ".join(_PAD_KWARGS))
    if mode not in _PAD_KWARGS:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of "
                         + ", ".join(_PAD_KWARGS))
    bad = set(kwargs) - _PAD_KWARGS[mode]
    if bad:
        raise ValueError(f"pad: unsupported keyword arguments for mode {mode!r}: "
                         f"{sorted(bad)}")
    nd = a.ndim
    pw = _pairs(pad_width, nd, "pad_width")
    if builtins.any(x < 0 for p in pw for x in p):
        raise ValueError(f"pad: pad_width can't contain negative values, got {pad_width}")
    if nd == 0 or builtins.all(x == 0 for p in pw for x in p):
        return a
    cv, rt, sl, ev = 0, "even", None, None
    if mode == "constant":
        cv = kwargs.get("constant_values", 0)
        if not (_is_array(cv) or dtypes.is_python_scalar(cv)):
            cv = np.asarray(cv)
            if cv.dtype.kind not in "biufc" and cv.dtype not in dtypes.SUPPORTED:
                raise TypeError(f"pad: constant_values must be numbers, got {cv.dtype}")
    elif mode == "linear_ramp":
        ev = kwargs.get("end_values", 0)
        if isinstance(ev, Tracer):
            raise TypeError("pad: end_values must be static")
        ev = _pairs(ev, nd, "end_values", integral=False)
    elif mode in ("reflect", "symmetric"):
        rt = kwargs.get("reflect_type", "even")
        if rt not in ("even", "odd"):
            raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {rt!r}")
    elif mode in ("maximum", "minimum", "mean", "median"):
        sl = kwargs.get("stat_length")
        sl = None if sl is None else _pairs(sl, nd, "stat_length")
        if sl is not None and builtins.any(x == 0 for p in sl for x in p):
            raise ValueError("pad: stat_length of 0 yields no value for padding")
    if mode not in ("constant", "empty", "linear_ramp"):
        _no_empty_pad(a, pw, mode)
    return _pad_impl(a, cv, pw=pw, mode=mode, rt=rt, sl=sl, ev=ev)


@_eager_jit("pw", "mode", "rt", "sl", "ev")
def _pad_impl(a, cv, *, pw, mode, rt, sl, ev):
    if mode == "constant":
        return _pad_constant(a, pw, cv)
    if mode == "empty":
        return _pad_constant(a, pw, 0)
    if mode == "linear_ramp":
        return _pad_linear_ramp(a, pw, ev)
    if mode == "wrap":
        return _pad_wrap(a, pw)
    if mode == "edge":
        return _pad_edge(a, pw)
    if mode in ("reflect", "symmetric"):
        return _pad_reflect(a, pw, mode, rt)
    return _pad_stats(a, pw, sl, mode)


# ---------------------------------------------------------------------------------------------
# Broadcasting and dimension helpers


def broadcast_to(array: Any, shape: Any) -> Array:
    """``array`` broadcast to ``shape`` (NumPy's rules: align trailing axes; size-1 axes
    stretch)."""
    a = _arr(array)
    if isinstance(shape, Tracer):
        _static(shape, "shape", "broadcast_to")
    shape = _static_ints(shape, "shape", "broadcast_to")
    if builtins.any(d < 0 for d in shape):
        raise ValueError(f"broadcast_to: negative dimensions are not allowed, got {shape}")
    xs = tuple(a.shape)
    if xs == shape:
        return a
    lead = len(shape) - len(xs)
    if lead < 0 or builtins.any(d != 1 and d != shape[lead + i] for i, d in enumerate(xs)):
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape {xs} to shape "
                         f"{shape}")
    keep = [i for i, d in enumerate(xs) if d == shape[lead + i]]
    if len(keep) != len(xs):
        a = lax.reshape(a, [xs[i] for i in keep])
    return lax.broadcast_in_dim(a, shape, [lead + i for i in keep])


def broadcast_arrays(*args: Any) -> list[Array]:
    """The arguments broadcast against each other (a list)."""
    arrays = [_arr(x) for x in args]
    shape = broadcast_shapes(*[x.shape for x in arrays], fname="broadcast_arrays")
    return [broadcast_to(x, shape) for x in arrays]


def _atleast(n: int):
    def conv(x):
        x = _arr(x)
        if x.ndim >= n:
            return x
        if n == 3 and x.ndim == 1:
            return lax.reshape(x, (1, x.shape[0], 1))
        if n == 3 and x.ndim == 2:
            return lax.reshape(x, tuple(x.shape) + (1,))
        return lax.reshape(x, (1,) * (n - x.ndim) + tuple(x.shape))
    return conv


def atleast_1d(*arys: Any):
    """Each input as an array of at least one dimension (a list when there are several)."""
    out = [_atleast(1)(x) for x in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any):
    """Each input with at least two dimensions (new axes in front)."""
    out = [_atleast(2)(x) for x in arys]
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any):
    """Each input with at least three dimensions: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    out = [_atleast(3)(x) for x in arys]
    return out[0] if len(out) == 1 else out


# ---------------------------------------------------------------------------------------------
# append, insert, delete (static positions)


def append(arr: Any, values: Any, axis: int | None = None) -> Array:
    """``values`` joined to the end of ``arr`` (both flattened when ``axis`` is None)."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


def _static_positions(obj: Any, fname: str):
    if isinstance(obj, Tracer) or (isinstance(obj, (list, tuple)) and builtins.any(
            isinstance(x, Tracer) for x in _leaves(obj))):
        raise TypeError(f"{fname}: the positions (obj) must be static (Python ints, slices or "
                        "NumPy arrays), because they fix the output shape; got a traced value")
    if isinstance(obj, Array):
        return _host(obj)
    return obj


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Array:
    """``arr`` with ``values`` inserted before the static positions ``obj`` (an int, a slice
    or a sequence of ints), along ``axis`` (flattened when None), as ``numpy.insert``;
    ``values`` may be traced and is cast to ``arr``'s dtype."""
    a = _arr(arr)
    obj = _static_positions(obj, "insert")
    v = _arr(values)
    v = lax.convert_element_type(v, a.dtype, a.weak_type)
    if axis is not None:
        _axis(axis, a.ndim, "insert")
    # Insert integer labels with NumPy, then gather the elements those labels name.
    labels = np.arange(a.size, dtype=np.int64).reshape(a.shape)
    vlabels = a.size + np.arange(v.size, dtype=np.int64).reshape(v.shape)
    try:
        out = np.insert(labels, obj, vlabels, axis=axis)
    except (ValueError, IndexError) as e:
        raise type(e)(f"insert: {e}") from None
    flat = lax.concatenate([lax.reshape(a, (a.size,)), lax.reshape(v, (v.size,))], 0)
    if out.size == 0:
        return _splat(0, out.shape, a.dtype, a.weak_type)
    return lax.reshape(_take_static(flat, out.ravel(), 0), out.shape)


def delete(arr: Any, obj: Any, axis: int | None = None) -> Array:
    """``arr`` without the entries at the static positions ``obj`` (an int, a slice, a
    sequence of ints or a boolean mask) along ``axis`` (flattened when None)."""
    a = _arr(arr)
    obj = _static_positions(obj, "delete")
    if axis is None:
        a, ax = ravel(a), 0
    else:
        ax = _axis(axis, a.ndim, "delete")
    n = a.shape[ax]
    try:
        keep = np.delete(np.arange(n), obj)
    except (ValueError, IndexError) as e:
        raise type(e)(f"delete: {e}") from None
    return _take_static(a, keep, ax)


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
