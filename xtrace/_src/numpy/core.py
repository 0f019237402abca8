"""NumPy-style functions on top of lax: promotion, broadcasting, creation, math, reductions."""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import ShapedArray, Tracer, get_aval

ndarray = Array
ArrayLike = Any


# ---------------------------------------------------------------------------------------------
# Conversion, promotion, broadcasting


def _is_array(x) -> bool:
    return isinstance(x, (Array, Tracer))


def asarray(a: ArrayLike, dtype: Any = None, copy: bool | None = None) -> Array:
    """Convert ``a`` to an xtrace array (64-bit values become 32-bit unless x64 is on)."""
    if _is_array(a):
        return a if dtype is None else astype(a, dtype)
    if dtypes.is_python_scalar(a) and dtype is None:
        return from_numpy(np.asarray(a, dtypes.python_scalar_dtype(a)),
                          weak_type=type(a) is not bool)
    if isinstance(a, (list, tuple)) and builtins.any(_is_array(x) for x in _flat(a)):
        return stack([asarray(x) for x in a]) if dtype is None else astype(
            stack([asarray(x) for x in a]), dtype)
    arr = np.asarray(a)
    if arr.dtype == object:
        raise TypeError(f"xtrace cannot make an array from {type(a).__name__} {a!r:.60}")
    if dtype is None and isinstance(a, (list, tuple)):
        # Python number lists take the default types, as in JAX.
        if arr.dtype == np.float64:
            arr = arr.astype(dtypes.default_float())
        elif arr.dtype == np.int64:
            arr = arr.astype(dtypes.default_int())
    return from_numpy(arr, dtype)


def _flat(xs):
    for x in xs:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def array(object: ArrayLike, dtype: Any = None, copy: bool = True, ndmin: int = 0) -> Array:
    out = asarray(object, dtype)
    if _is_array(object) or dtypes.is_python_scalar(object):
        if out.aval.weak_type and dtype is None and not dtypes.is_python_scalar(object):
            pass
    if ndmin > out.ndim:
        out = lax.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def result_type(*args: Any) -> np.dtype:
    pairs = []
    for a in args:
        if isinstance(a, (np.dtype, type)) or isinstance(a, str):
            pairs.append((dtypes.canonicalize_dtype(a), False))
        else:
            av = get_aval(a)
            pairs.append((av.dtype, av.weak_type))
    return dtypes.promote_types_weak(*pairs)[0]


def _to_dtype(x, dt: np.dtype, weak: bool):
    """Convert one operand to ``(dt, weak)``, keeping Python scalars as cheap literals."""
    if dtypes.is_python_scalar(x):
        if weak and dt == dtypes.python_scalar_dtype(
                {"i": 0, "u": 0, "f": 0.0, "c": 0j, "b": False}.get(dt.kind, 0.0)):
            return {"i": int, "u": int, "f": float, "c": builtins.complex}.get(dt.kind, float)(x)
        return np.asarray(x, dtype=dt)[()]
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        return np.asarray(x, dtype=dt)
    av = x.aval
    if av.dtype == dt and av.weak_type == weak:
        return x
    return lax.convert_element_type(x, dt, weak)


def promote_args(fname: str, *args: Any) -> list[Any]:
    """Promote to a common dtype (JAX lattice) and broadcast to a common shape."""
    avals = []
    for a in args:
        if isinstance(a, (list, tuple)):
            a = np.asarray(a)
        try:
            avals.append(get_aval(a))
        except TypeError:
            raise TypeError(f"{fname}: argument of type {type(a).__name__} is not an array "
                            "or scalar") from None
    dt, weak = dtypes.promote_types_weak(*[(a.dtype, a.weak_type) for a in avals])
    out = [_to_dtype(a, dt, weak) for a in args]
    return broadcast_arrays_for(fname, out, avals)


def promote_dtypes_only(*args: Any) -> list[Any]:
    avals = [get_aval(np.asarray(a) if isinstance(a, (list, tuple)) else a) for a in args]
    dt, weak = dtypes.promote_types_weak(*[(a.dtype, a.weak_type) for a in avals])
    return [_to_dtype(a, dt, weak) for a in args]


def broadcast_shapes(*shapes: Sequence[int], fname: str = "broadcast_shapes") -> tuple:
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ValueError(f"{fname}: shapes " + ", ".join(str(tuple(s)) for s in shapes)
                         + " cannot be broadcast together") from None


def broadcast_arrays_for(fname: str, xs: list, avals=None) -> list:
    shapes = [np.shape(x) if not _is_array(x) else x.shape for x in xs]
    if builtins.all(s == shapes[0] for s in shapes):
        return xs
    shape = broadcast_shapes(*shapes, fname=fname)
    return [broadcast_to(x, shape) if s != shape else x for x, s in zip(xs, shapes)]


def broadcast_to(x: ArrayLike, shape: Sequence[int]) -> Array:
    shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    xs = np.shape(x) if not _is_array(x) else x.shape
    if xs == shape:
        return x if _is_array(x) or dtypes.is_python_scalar(x) else asarray(x)
    nd = len(shape)
    if len(xs) > nd:
        raise ValueError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    lead = nd - len(xs)
    for i, d in enumerate(xs):
        if d != 1 and d != shape[lead + i]:
            raise ValueError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    keep = [i for i, d in enumerate(xs) if d == shape[lead + i]]
    if len(keep) != len(xs):
        x = lax.reshape(x, [xs[i] for i in keep])
    return lax.broadcast_in_dim(x, shape, [lead + i for i in keep])


def broadcast_arrays(*args: ArrayLike) -> list[Array]:
    return [asarray(a) for a in broadcast_arrays_for("broadcast_arrays", list(args))]


# ---------------------------------------------------------------------------------------------
# Creation


def _dtype_or(dtype, default):
    return dtypes.canonicalize_dtype(default if dtype is None else dtype)


def _shape_tuple(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None


def full(shape, fill_value, dtype=None) -> Array:
    shape = _shape_tuple(shape)
    if dtype is None:
        dt = result_type(fill_value)
    else:
        dt = dtypes.canonicalize_dtype(dtype)
    if _is_array(fill_value):
        return broadcast_to(astype(fill_value, dt), shape)
    return lax.broadcast_in_dim(np.asarray(fill_value, dt)[()] if np.ndim(fill_value) == 0
                                else np.asarray(fill_value, dt),
                                shape, tuple(range(len(shape) - np.ndim(fill_value),
                                                   len(shape))))


def zeros(shape, dtype=None) -> Array:
    return full(shape, 0, _dtype_or(dtype, dtypes.default_float()))


def ones(shape, dtype=None) -> Array:
    return full(shape, 1, _dtype_or(dtype, dtypes.default_float()))


def empty(shape, dtype=None) -> Array:
    return zeros(shape, dtype)


def zeros_like(a, dtype=None, shape=None) -> Array:
    av = get_aval(a)
    return full(av.shape if shape is None else shape, 0, av.dtype if dtype is None else dtype)


def ones_like(a, dtype=None, shape=None) -> Array:
    av = get_aval(a)
    return full(av.shape if shape is None else shape, 1, av.dtype if dtype is None else dtype)


def full_like(a, fill_value, dtype=None, shape=None) -> Array:
    av = get_aval(a)
    return full(av.shape if shape is None else shape, fill_value,
                av.dtype if dtype is None else dtype)


def arange(start, stop=None, step=None, dtype=None) -> Array:
    """Like numpy.arange; bounds must be concrete (not traced)."""
    for v in (start, stop, step):
        if isinstance(v, Tracer):
            raise TypeError("arange needs concrete bounds; inside jit make them static "
                            "arguments (static_argnums)")
    if stop is None and step is None and dtype is None or (
            stop is None and step is None and dtypes.is_int(np.dtype(dtype))):
        n = operator.index(start) if not isinstance(start, float) else None
        if n is not None:
            return lax.iota(_dtype_or(dtype, dtypes.default_int()), builtins.max(n, 0))
    ref = np.arange(start, stop, step)
    if dtype is None:
        dtype = dtypes.default_float() if ref.dtype.kind == "f" else dtypes.default_int()
    return asarray(np.arange(start, stop, step, dtype=dtypes.canonicalize_dtype(dtype)))


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0):
    dt = _dtype_or(dtype, dtypes.default_float())
    num = operator.index(num)
    start, stop = asarray(start, dt if dtypes.is_inexact(dt) else dtypes.default_float()), \
        asarray(stop, dt if dtypes.is_inexact(dt) else dtypes.default_float())
    div = (num - 1) if endpoint else num
    step = (stop - start) / builtins.max(div, 1)
    i = lax.convert_element_type(lax.iota(dtypes.int32, num), step.dtype)
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    ish = (num,) + (1,) * len(shape)
    out = reshape(i, ish) * step + start
    if endpoint and num > 1:
        out = concatenate([out[:-1], expand_dims(broadcast_to(stop, shape), 0)])
    out = moveaxis(out, 0, axis) if axis != 0 else out
    out = astype(out, dt)
    return (out, step) if retstep else out


def eye(N: int, M: int | None = None, k: int = 0, dtype=None) -> Array:
    M = N if M is None else M
    dt = _dtype_or(dtype, dtypes.default_float())
    r = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    c = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(r, np.int32(k)), c), dt)


def identity(n: int, dtype=None) -> Array:
    return eye(n, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Elementwise math


def _unary(lax_fn, name, *, int_to_float=False):
    prim = getattr(lax_fn, "primitive", None)

    def fn(x, /):
        if prim is not None and type(x) is Array and (
                not int_to_float or x.aval.dtype in dtypes.INEXACT_DTYPES):
            return prim.bind(x)  # fast path: nothing to convert
        x = asarray(x) if not _is_array(x) else x
        if int_to_float and not dtypes.is_inexact(x.dtype):
            x = lax.convert_element_type(x, dtypes.default_float(), x.weak_type)
        return lax_fn(x)
    fn.__name__ = name
    fn.__doc__ = f"NumPy-style elementwise ``{name}``."
    return fn


def _binary(lax_fn, name):
    prim = getattr(lax_fn, "primitive", None)

    def fn(x1, x2, /):
        if prim is not None and type(x1) is Array and type(x2) is Array and x1.aval == x2.aval:
            return prim.bind(x1, x2)  # fast path: same shape, dtype and weak type
        return lax_fn(*promote_args(name, x1, x2))
    fn.__name__ = name
    fn.__doc__ = f"NumPy-style elementwise ``{name}`` with broadcasting and type promotion."
    return fn


add = _binary(lax.add, "add")
subtract = _binary(lax.sub, "subtract")
multiply = _binary(lax.mul, "multiply")
maximum = _binary(lax.max, "maximum")
minimum = _binary(lax.min, "minimum")
arctan2 = None  # set below (needs float promotion)
negative = _unary(lax.neg, "negative")
positive = _unary(lambda x: x, "positive")
sign = _unary(lax.sign, "sign")
exp = _unary(lax.exp, "exp", int_to_float=True)
exp2 = _unary(lax.exp2, "exp2", int_to_float=True)
expm1 = _unary(lax.expm1, "expm1", int_to_float=True)
log = _unary(lax.log, "log", int_to_float=True)
log1p = _unary(lax.log1p, "log1p", int_to_float=True)
sin = _unary(lax.sin, "sin", int_to_float=True)
cos = _unary(lax.cos, "cos", int_to_float=True)
tan = _unary(lax.tan, "tan", int_to_float=True)
arcsin = _unary(lax.asin, "arcsin", int_to_float=True)
arccos = _unary(lax.acos, "arccos", int_to_float=True)
arctan = _unary(lax.atan, "arctan", int_to_float=True)
sinh = _unary(lax.sinh, "sinh", int_to_float=True)
cosh = _unary(lax.cosh, "cosh", int_to_float=True)
tanh = _unary(lax.tanh, "tanh", int_to_float=True)
arcsinh = _unary(lax.asinh, "arcsinh", int_to_float=True)
arccosh = _unary(lax.acosh, "arccosh", int_to_float=True)
arctanh = _unary(lax.atanh, "arctanh", int_to_float=True)
sqrt = _unary(lax.sqrt, "sqrt", int_to_float=True)
cbrt = _unary(lax.cbrt, "cbrt", int_to_float=True)
floor = _unary(lambda x: x if not dtypes.is_float(x.dtype) else lax.floor(x), "floor")
ceil = _unary(lambda x: x if not dtypes.is_float(x.dtype) else lax.ceil(x), "ceil")
isfinite = _unary(lambda x: lax.is_finite(x) if dtypes.is_float(x.dtype)
                  else full_like(x, True, dtypes.bool_), "isfinite")
square = _unary(lambda x: lax.integer_pow(x, 2), "square")
logical_not = _unary(lambda x: lax.bitwise_not(astype(x, dtypes.bool_)), "logical_not")
bitwise_not = invert = _unary(lax.bitwise_not, "invert")
equal = _binary(lax.eq, "equal")
not_equal = _binary(lax.ne, "not_equal")
less = _binary(lax.lt, "less")
less_equal = _binary(lax.le, "less_equal")
greater = _binary(lax.gt, "greater")
greater_equal = _binary(lax.ge, "greater_equal")
bitwise_and = _binary(lax.bitwise_and, "bitwise_and")
bitwise_or = _binary(lax.bitwise_or, "bitwise_or")
bitwise_xor = _binary(lax.bitwise_xor, "bitwise_xor")


def absolute(x, /):
    x = asarray(x) if not _is_array(x) else x
    return x if x.dtype == dtypes.bool_ else lax.abs(x)


abs = absolute


def _float_args(name, *xs):
    xs = promote_args(name, *xs)
    out = []
    for x in xs:
        av = get_aval(x)
        if not dtypes.is_inexact(av.dtype):
            x = lax.convert_element_type(x, dtypes.default_float(), av.weak_type)
        out.append(x)
    return out


def true_divide(x1, x2, /):
    return lax.div(*_float_args("true_divide", x1, x2))


divide = true_divide


def arctan2(x1, x2, /):
    return lax.atan2(*_float_args("arctan2", x1, x2))


def floor_divide(x1, x2, /):
    a, b = promote_args("floor_divide", x1, x2)
    dt = get_aval(a).dtype
    if dtypes.is_int(dt):
        if dtypes.is_unsigned(dt):
            return lax.div(a, b)
        q = lax.div(a, b)  # rounds toward zero; fix the sign
        r = lax.rem(a, b)
        fix = lax.bitwise_and(lax.ne(r, _zero(r)),
                              lax.ne(lax.lt(r, _zero(r)), lax.lt(b, _zero(b))))
        return lax.select(fix, lax.sub(q, _one(q)), q)
    if dt == dtypes.bool_:
        raise TypeError("floor_divide does not support bool")
    return lax.floor(lax.div(a, b)) if dtypes.is_float(dt) else lax.div(a, b)


def remainder(x1, x2, /):
    a, b = promote_args("remainder", x1, x2)
    if get_aval(a).dtype == dtypes.bool_:
        raise TypeError("remainder does not support bool")
    r = lax.rem(a, b)
    if dtypes.is_unsigned(get_aval(a).dtype):
        return r
    fix = lax.bitwise_and(lax.ne(r, _zero(r)), lax.ne(lax.lt(r, _zero(r)), lax.lt(b, _zero(b))))
    return lax.select(fix, lax.add(r, b), r)


mod = remainder


def fmod(x1, x2, /):
    return lax.rem(*promote_args("fmod", x1, x2))


def divmod(x1, x2, /):
    return floor_divide(x1, x2), remainder(x1, x2)


def power(x1, x2, /):
    if isinstance(x2, int) and not isinstance(x2, bool) and _is_array(x1) and (
            x2 >= 0 or dtypes.is_inexact(x1.dtype)):
        return lax.integer_pow(x1, x2)
    a, b = promote_args("power", x1, x2)
    dt = get_aval(a).dtype
    if dtypes.is_inexact(dt):
        return lax.pow(a, b)
    return _int_pow(a, b)


def _int_pow(a, b):
    # Integer power by squaring over the bits of b (b >= 0), as a fixed 32/64-step loop.
    dt = get_aval(a).dtype
    acc = _one(a)
    base = a
    nbits = dt.itemsize * 8
    for _ in range(nbits):
        bit = lax.ne(lax.bitwise_and(b, _one(b)), _zero(b))
        acc = lax.select(bit, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        b = lax.shift_right_logical(b, _one(b))
    return acc


def _zero(x):
    return full_like(x, 0)


def _one(x):
    return full_like(x, 1)


def logical_and(x1, x2, /):
    return lax.bitwise_and(*[astype(v, dtypes.bool_) for v in broadcast_arrays(x1, x2)])


def logical_or(x1, x2, /):
    return lax.bitwise_or(*[astype(v, dtypes.bool_) for v in broadcast_arrays(x1, x2)])


def logical_xor(x1, x2, /):
    return lax.bitwise_xor(*[astype(v, dtypes.bool_) for v in broadcast_arrays(x1, x2)])


def left_shift(x1, x2, /):
    return lax.shift_left(*promote_args("left_shift", x1, x2))


def right_shift(x1, x2, /):
    a, b = promote_args("right_shift", x1, x2)
    if dtypes.is_unsigned(get_aval(a).dtype):
        return lax.shift_right_logical(a, b)
    return lax.shift_right_arithmetic(a, b)


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y``, broadcasting all three."""
    if x is None and y is None:
        raise NotImplementedError(
            "where(condition) with one argument is data-dependent; use nonzero(condition)")
    if x is None or y is None:
        raise ValueError("where needs either one or three arguments")
    x, y = promote_dtypes_only(x, y)
    c, x, y = broadcast_arrays_for("where", [astype(condition, dtypes.bool_)
                                             if _is_array(condition) else
                                             np.asarray(condition, bool), x, y])
    return lax.select(c, x, y)


def clip(a, a_min=None, a_max=None, /):
    out = a
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def astype(x, dtype, copy: bool = False) -> Array:
    x = x if _is_array(x) else asarray(x)
    return lax.convert_element_type(x, dtypes.canonicalize_dtype(dtype), False)


# ---------------------------------------------------------------------------------------------
# Shapes


def _axis_tuple(axis, ndim, fname) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(operator.index(a) for a in axis)
    else:
        axes = (operator.index(axis),)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{fname}: axis {a} is out of bounds for array of dimension {ndim}")
    return tuple(sorted(a % builtins.max(ndim, 1) for a in axes))


def reshape(a, shape=None, order: str = "C", *, newshape=None) -> Array:
    a = a if _is_array(a) else asarray(a)
    shape = newshape if shape is None else shape
    shape = list(_shape_tuple(shape))
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or a.size % known:
            raise ValueError(f"cannot reshape array of shape {a.shape} (size {a.size}) into "
                             f"shape {tuple(shape)}")
        shape[shape.index(-1)] = a.size // known
    if order == "F":
        return transpose(lax.reshape(transpose(a), shape[::-1]))
    return lax.reshape(a, shape)


def ravel(a, order: str = "C") -> Array:
    return reshape(a, (-1,), order)


def transpose(a, axes=None) -> Array:
    a = a if _is_array(a) else asarray(a)
    if axes is None:
        axes = tuple(range(a.ndim))[::-1]
    else:
        axes = tuple(operator.index(x) % builtins.max(a.ndim, 1) for x in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} don't match array of shape {a.shape}")
    return lax.transpose(a, axes)


def moveaxis(a, source, destination) -> Array:
    a = a if _is_array(a) else asarray(a)
    src = _axis_list(source, a.ndim)
    dst = _axis_list(destination, a.ndim)
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lax.transpose(a, perm)


def _axis_list(ax, ndim):
    ax = [ax] if isinstance(ax, int) else list(ax)
    return [operator.index(a) % ndim for a in ax]


def swapaxes(a, axis1: int, axis2: int) -> Array:
    a = a if _is_array(a) else asarray(a)
    perm = list(range(a.ndim))
    i, j = axis1 % a.ndim, axis2 % a.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, perm)


def squeeze(a, axis=None) -> Array:
    a = a if _is_array(a) else asarray(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = _axis_tuple(axis, a.ndim, "squeeze")
    return lax.squeeze(a, axes)


def expand_dims(a, axis) -> Array:
    a = a if _is_array(a) else asarray(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return lax.expand_dims(a, axes)


def concatenate(arrays, axis: int | None = 0, dtype=None) -> Array:
    arrays = [asarray(x) if not _is_array(x) else x for x in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(x) for x in arrays]
        axis = 0
    arrays = promote_dtypes_only(*arrays)
    if dtype is not None:
        arrays = [astype(x, dtype) for x in arrays]
    nd = arrays[0].ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return lax.concatenate(arrays, operator.index(axis) % nd)


def stack(arrays, axis: int = 0, dtype=None) -> Array:
    arrays = [asarray(x) if not _is_array(x) else x for x in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {x.shape for x in arrays}
    if len(shapes) > 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(shapes)}")
    ax = operator.index(axis) % (arrays[0].ndim + 1)
    return concatenate([lax.expand_dims(x, (ax,)) for x in arrays], ax, dtype)


# ---------------------------------------------------------------------------------------------
# Reductions


def _reduction(name, lax_fn, *, bool_to_int=False, upcast_int=False):
    def fn(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
           where=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the out= argument is not supported "
                                      "(xtrace arrays are immutable)")
        a = a if _is_array(a) else asarray(a)
        axes = _axis_tuple(axis, a.ndim, name)
        if dtype is not None:
            a = astype(a, dtype)
        elif bool_to_int and (a.dtype == dtypes.bool_ or (
                upcast_int and dtypes.is_int(a.dtype) and a.dtype.itemsize < 4)):
            a = astype(a, dtypes.default_int() if not dtypes.is_unsigned(a.dtype)
                       else dtypes.canonicalize_dtype(np.uint64))
        if where is not None:
            ident = {"sum": 0, "prod": 1}.get(name)
            if ident is None:
                if initial is None:
                    raise ValueError(f"{name} with where= needs an initial value")
                ident = initial
            a = lax.select(broadcast_to(asarray(where, dtypes.bool_), a.shape), a,
                           full_like(a, ident))
        if name in ("max", "min") and a.size == 0 and initial is None:
            raise ValueError(f"zero-size array to reduction operation {name} which has no "
                             "identity")
        res = lax_fn(a, axes)
        if initial is not None:
            res = {"sum": add, "prod": multiply, "max": maximum, "min": minimum}[name](
                res, initial)
            res = astype(res, a.dtype)
        if keepdims:
            res = lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)])
        return res
    fn.__name__ = name
    fn.__doc__ = f"NumPy-style ``{name}`` over ``axis``."
    return fn


sum = _reduction("sum", lax.reduce_sum, bool_to_int=True, upcast_int=True)
prod = _reduction("prod", lax.reduce_prod, bool_to_int=True, upcast_int=True)
max = amax = _reduction("max", lax.reduce_max)
min = amin = _reduction("min", lax.reduce_min)


def all(a, axis=None, keepdims: bool = False):
    a = astype(a, dtypes.bool_)
    axes = _axis_tuple(axis, a.ndim, "all")
    res = lax.reduce_and(a, axes)
    return lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)]) \
        if keepdims else res


def any(a, axis=None, keepdims: bool = False):
    a = astype(a, dtypes.bool_)
    axes = _axis_tuple(axis, a.ndim, "any")
    res = lax.reduce_or(a, axes)
    return lax.reshape(res, [1 if i in axes else d for i, d in enumerate(a.shape)]) \
        if keepdims else res


def mean(a, axis=None, dtype=None, out=None, keepdims: bool = False):
    a = a if _is_array(a) else asarray(a)
    axes = _axis_tuple(axis, a.ndim, "mean")
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    if dtype is None:
        dtype = a.dtype if dtypes.is_inexact(a.dtype) else dtypes.default_float()
    s = sum(astype(a, dtype), axis=axes, keepdims=keepdims)
    return lax.div(s, np.asarray(n, dtypes.canonicalize_dtype(dtype))[()])


def _arg(name, lax_fn):
    def fn(a, axis=None, out=None, keepdims: bool = False):
        a = a if _is_array(a) else asarray(a)
        if axis is None:
            res = lax_fn(ravel(a), 0, dtypes.default_int())
            return lax.reshape(res, (1,) * a.ndim) if keepdims else res
        ax = operator.index(axis) % builtins.max(a.ndim, 1)
        res = lax_fn(a, ax, dtypes.default_int())
        return lax.expand_dims(res, (ax,)) if keepdims else res
    fn.__name__ = name
    return fn


argmax = _arg("argmax", lax.argmax)
argmin = _arg("argmin", lax.argmin)


# ---------------------------------------------------------------------------------------------
# Products


def matmul(a, b, /, *, precision=None, preferred_element_type=None) -> Array:
    a, b = promote_dtypes_only(a, b)
    a = a if _is_array(a) else asarray(a)
    b = b if _is_array(b) else asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must not be scalars, got shapes {a.shape} and "
                         f"{b.shape}")
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = lax.expand_dims(a, (0,))
    if b_vec:
        b = lax.expand_dims(b, (1,))
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: contracting dimensions differ: shapes {a.shape} and "
                         f"{b.shape} (size {a.shape[-1]} is different from {b.shape[-2]})")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], fname="matmul")
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    nb = len(batch)
    out = lax.dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                          precision, preferred_element_type)
    if a_vec:
        out = lax.squeeze(out, (nb,))
    if b_vec:
        out = lax.squeeze(out, (out.ndim - 1,))
    return out


def dot(a, b, *, precision=None, preferred_element_type=None) -> Array:
    a, b = promote_dtypes_only(a, b)
    a = a if _is_array(a) else asarray(a)
    b = b if _is_array(b) else asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim == 1:
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"dot: shapes {a.shape} and {b.shape} not aligned")
        return lax.dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())), precision,
                               preferred_element_type)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(dim {a.ndim - 1}) != {b.shape[-2]} (dim {b.ndim - 2})")
    return lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 2,)), ((), ())), precision,
                           preferred_element_type)


def vdot(a, b) -> Array:
    return dot(ravel(conj(a)), ravel(b))


def conj(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.conj(x) if dtypes.is_complex(x.dtype) else x


conjugate = conj


def real(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.real(x) if dtypes.is_complex(x.dtype) else x


def imag(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.imag(x) if dtypes.is_complex(x.dtype) else zeros_like(x)


def isnan(x, /):
    x = x if _is_array(x) else asarray(x)
    return lax.ne(x, x) if dtypes.is_inexact(x.dtype) else full_like(x, False, dtypes.bool_)


def isinf(x, /):
    x = x if _is_array(x) else asarray(x)
    if not dtypes.is_float(x.dtype):
        return full_like(x, False, dtypes.bool_)
    return lax.eq(lax.abs(x), np.asarray(np.inf, x.dtype)[()])


def shape(a) -> tuple:
    return tuple(get_aval(a).shape)


def ndim(a) -> int:
    return get_aval(a).ndim


def size(a) -> int:
    return get_aval(a).size


_ = ShapedArray
