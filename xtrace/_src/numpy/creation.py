"""Array creation: array, asarray, full, zeros, ones, empty, *_like, arange, linspace, logspace,
geomspace, eye, identity, tri, tril, triu, diag, diagonal, meshgrid, indices, fromfunction.

Dtypes follow JAX: Python floats give float32 and Python ints int32 unless x64 is on; a list
takes the JAX promotion of its elements (``[float16_array, 1.0]`` is float16); a bare Python
scalar gives a weakly typed array. Shapes, sizes and counts (``num``, ``N``, ``arange`` bounds)
must be static: under ``jit`` pass them as Python ints (``static_argnums``), not as arrays.
"""
from __future__ import annotations

import builtins
import operator
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array, from_numpy
from xtrace._src.core import Tracer
from xtrace._src.numpy.core import _is_array, broadcast_shapes
from xtrace._src.numpy.shapes import (_eager_jit, _eager_jit_auto, _host, _splat, broadcast_to,
                                      moveaxis, ravel)

# ---------------------------------------------------------------------------------------------
# Helpers


def _canon(dtype: Any, fname: str) -> np.dtype:
    """``dtype`` as the dtype xtrace uses (64-bit types become 32-bit unless x64 is on)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fname}: {dtype!r} is not a valid dtype") from None
    if dt.kind in "OUSMm" or (dt.kind == "V" and dt not in dtypes.SUPPORTED):
        raise TypeError(f"{fname}: dtype {dt} is not supported; xtrace arrays hold booleans, "
                        "integers, floats or complex numbers")
    return dtypes.canonicalize_dtype(dt)


def _static_int(x: Any, what: str, fname: str) -> int:
    if isinstance(x, Tracer):
        raise TypeError(f"{fname}: {what} must be a static Python int, got a traced value "
                        f"{x.aval.str_short()}; under jit pass it as a static argument "
                        "(static_argnums) or a Python constant")
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{fname}: {what} must be an int, got {type(x).__name__} "
                        f"{x!r:.40}") from None


def _static_shape(shape: Any, fname: str) -> tuple[int, ...]:
    if isinstance(shape, Tracer) or (isinstance(shape, (tuple, list)) and builtins.any(
            isinstance(d, Tracer) for d in shape)):
        raise TypeError(f"{fname}: shapes must be static; got a traced value in shape. Under "
                        "jit pass the shape as a static argument (static_argnums) or use "
                        "x.shape of an array argument")
    if isinstance(shape, (int, np.integer)) or (
            _is_array(shape) and np.ndim(shape) == 0):
        shape = (operator.index(shape),)
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{fname}: shape must be an int or a sequence of ints, got "
                        f"{shape!r:.60}") from None
    if builtins.any(d < 0 for d in out):
        raise ValueError(f"{fname}: negative dimensions are not allowed, got shape {out}")
    return out


def _aval_of(x):
    """(dtype, weak) of anything array-like, with JAX's defaults for Python values."""
    if _is_array(x):
        return x.aval.dtype, x.aval.weak_type
    if dtypes.is_python_scalar(x):
        return dtypes.python_scalar_dtype(x), type(x) is not bool
    if isinstance(x, (list, tuple)):
        return _infer_dtype(x), False
    arr = np.asarray(x)
    _check_host_dtype(arr.dtype, x, "asarray")
    return dtypes.canonicalize_dtype(arr.dtype), False


def _check_host_dtype(dt: np.dtype, obj: Any, fname: str) -> None:
    if dt.kind == "O":
        raise TypeError(f"{fname}: cannot convert {type(obj).__name__} {obj!r:.60} to an array; "
                        "xtrace arrays hold numbers only (bool, int, float, complex), built "
                        "from scalars, NumPy arrays, xtrace arrays or (nested) lists of them")
    if dt.kind in "USMm" or (dt.kind == "V" and dt not in dtypes.SUPPORTED):
        raise TypeError(f"{fname}: {dt} values ({type(obj).__name__} {obj!r:.40}) are not "
                        "supported; xtrace arrays hold numbers only (bool, int, float, "
                        "complex)")


def _leaves(xs):
    for x in xs:
        if isinstance(x, (list, tuple)):
            yield from _leaves(x)
        else:
            yield x


def _infer_dtype(obj) -> np.dtype:
    """JAX's dtype for a (nested) list: the weak-type-aware promotion of its leaves."""
    pairs = []
    for leaf in _leaves(obj):
        if _is_array(leaf):
            pairs.append((leaf.aval.dtype, leaf.aval.weak_type))
        elif dtypes.is_python_scalar(leaf):
            pairs.append((dtypes.python_scalar_dtype(leaf), type(leaf) is not bool))
        else:
            arr = np.asarray(leaf)
            _check_host_dtype(arr.dtype, leaf, "array")
            pairs.append((dtypes.canonicalize_dtype(arr.dtype), False))
    if not pairs:
        return dtypes.default_float()
    return dtypes.promote_types_weak(*pairs)[0]


def _stack_nested(obj, dt: np.dtype):
    """Build an array from a nested list that holds xtrace arrays (possibly traced)."""
    if not isinstance(obj, (list, tuple)):
        if not _is_array(obj):
            return from_numpy(np.asarray(obj, dt))
        return lax.convert_element_type(obj, dt, False)
    if len(obj) == 0:
        return lax.broadcast_in_dim(np.zeros((), dt), (0,), ())
    parts = [_stack_nested(o, dt) for o in obj]
    shapes = {p.shape for p in parts}
    if len(shapes) > 1:
        raise ValueError("array: setting an array element with a sequence: the nested "
                         "sequences have inhomogeneous shapes "
                         + ", ".join(str(p.shape) for p in parts))
    return lax.concatenate([lax.expand_dims(p, (0,)) for p in parts], 0)


@_eager_jit("dt")
def _stack_nested_jit(obj, *, dt):
    return _stack_nested(obj, dt)


# ---------------------------------------------------------------------------------------------
# array / asarray


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = None,
          ndmin: int = 0) -> Array:
    """Create an array from ``object`` (scalar, nested list/tuple, NumPy or xtrace array).

    Like ``jax.numpy.array``: Python floats give float32 unless x64 is on, a bare Python scalar
    gives a weakly typed array, lists take the JAX promotion of their elements, and lists may
    mix xtrace arrays (also traced ones, under jit) with scalars. ``copy`` has no effect: xtrace
    arrays are immutable, so sharing is never observable."""
    if order not in (None, "K", "A", "C"):
        raise NotImplementedError(f"array: order={order!r} is not supported; xtrace arrays "
                                  "are always C-ordered (row-major)")
    ndmin = _static_int(ndmin, "ndmin", "array")
    dt = None if dtype is None else _canon(dtype, "array")
    if _is_array(object):
        out = object if dt is None else lax.convert_element_type(object, dt, False)
    elif dtypes.is_python_scalar(object):
        if dt is None:
            out = from_numpy(np.asarray(object, dtypes.python_scalar_dtype(object)),
                             weak_type=type(object) is not bool)
        else:
            out = from_numpy(np.asarray(object).astype(dt))
    elif isinstance(object, (list, tuple)):
        target = _infer_dtype(object) if dt is None else dt
        if builtins.any(_is_array(x) for x in _leaves(object)):
            out = _stack_nested_jit(object, dt=target)
        else:
            try:
                arr = np.asarray(object)
            except ValueError as e:
                raise ValueError(f"array: cannot build an array from a nested sequence with "
                                 f"inhomogeneous shapes ({e})") from None
            _check_host_dtype(arr.dtype, object, "array")
            if dt is None and arr.dtype.kind in "iu" and dtypes.is_int(target) and arr.size:
                info = np.iinfo(target)
                if arr.min() < info.min or arr.max() > info.max:
                    raise OverflowError(f"array: Python int values out of range for {target} "
                                        f"(the default integer type); pass dtype=... or "
                                        f"enable x64")
            out = from_numpy(arr.astype(target) if arr.dtype != target else arr)
    else:
        if hasattr(object, "__jax_array__"):
            return array(object.__jax_array__(), dtype, copy, order, ndmin)
        arr = np.asarray(object)
        _check_host_dtype(arr.dtype, object, "array")
        out = from_numpy(arr, dt)
    if ndmin > out.ndim:
        out = lax.reshape(out, (1,) * (ndmin - out.ndim) + tuple(out.shape))
    return out


def asarray(a: Any, dtype: Any = None, order: str | None = None, *,
            copy: bool | None = None) -> Array:
    """Convert ``a`` to an xtrace array; returns ``a`` itself when it already is one (and no
    dtype change is asked for)."""
    if dtype is None and _is_array(a):
        return a
    return array(a, dtype=dtype, copy=False, order=order)


# ---------------------------------------------------------------------------------------------
# full, zeros, ones, empty and the *_like functions


def _fill(shape: tuple[int, ...], fill_value: Any, dt: np.dtype, weak: bool, fname: str):
    if _is_array(fill_value):
        v = lax.convert_element_type(fill_value, dt, weak)
    else:
        v = np.asarray(fill_value)
        _check_host_dtype(v.dtype, fill_value, fname)
        if v.ndim == 0:
            return _splat(v, shape, dt, weak)
        v = from_numpy(v.astype(dt))
    try:
        broadcast_shapes(v.shape, shape)
        ok = len(v.shape) <= len(shape) and broadcast_shapes(v.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{fname}: fill_value of shape {tuple(v.shape)} cannot be broadcast "
                         f"to shape {shape}")
    return broadcast_to(v, shape)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Array:
    """An array of ``shape`` filled with ``fill_value`` (which broadcasts to ``shape``)."""
    shape = _static_shape(shape, "full")
    if dtype is None:
        dt, weak = _aval_of(fill_value)
    else:
        dt, weak = _canon(dtype, "full"), False
    return _fill(shape, fill_value, dt, weak, "full")


def zeros(shape: Any, dtype: Any = None) -> Array:
    """An array of zeros (float32 unless ``dtype`` says otherwise)."""
    shape = _static_shape(shape, "zeros")
    dt = dtypes.default_float() if dtype is None else _canon(dtype, "zeros")
    return _splat(0, shape, dt)


def ones(shape: Any, dtype: Any = None) -> Array:
    """An array of ones (float32 unless ``dtype`` says otherwise)."""
    shape = _static_shape(shape, "ones")
    dt = dtypes.default_float() if dtype is None else _canon(dtype, "ones")
    return _splat(1, shape, dt)


def empty(shape: Any, dtype: Any = None) -> Array:
    """Like ``zeros``: XLA has no uninitialized memory, so ``empty`` returns zeros."""
    shape = _static_shape(shape, "empty")
    dt = dtypes.default_float() if dtype is None else _canon(dtype, "empty")
    return _splat(0, shape, dt)


def _like(a, dtype, shape, fname):
    if _is_array(a):
        av_shape, (dt, weak) = tuple(a.shape), _aval_of(a)
    else:
        av_shape, (dt, weak) = np.shape(a), _aval_of(a)
    if dtype is not None:
        dt, weak = _canon(dtype, fname), False
    shape = av_shape if shape is None else _static_shape(shape, fname)
    return tuple(shape), dt, weak


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Array:
    """An array like ``a`` (its shape and dtype, weak type included) filled with
    ``fill_value``; ``dtype`` and ``shape`` override."""
    shape, dt, weak = _like(a, dtype, shape, "full_like")
    return _fill(shape, fill_value, dt, weak, "full_like")


def zeros_like(a: Any, dtype: Any = None, shape: Any = None) -> Array:
    shape, dt, weak = _like(a, dtype, shape, "zeros_like")
    return _splat(0, shape, dt, weak)


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> Array:
    shape, dt, weak = _like(a, dtype, shape, "ones_like")
    return _splat(1, shape, dt, weak)


def empty_like(a: Any, dtype: Any = None, shape: Any = None) -> Array:
    """Like ``zeros_like`` (XLA has no uninitialized memory)."""
    return zeros_like(a, dtype, shape)


# ---------------------------------------------------------------------------------------------
# Ranges


def _concrete_scalar(v: Any, name: str, fname: str):
    if isinstance(v, Tracer):
        raise TypeError(f"{fname}: '{name}' must be a concrete (static) number, got a traced "
                        f"value {v.aval.str_short()}. The output size depends on it, so under "
                        "jit pass it as a static argument (static_argnums) or a Python constant")
    if isinstance(v, Array):
        v = _host(v)
    if np.ndim(v) != 0:
        raise ValueError(f"{fname}: '{name}' must be a scalar, got an array of shape "
                         f"{np.shape(v)}")
    if isinstance(v, np.ndarray):
        v = v[()]
    if isinstance(v, (complex, np.complexfloating)):
        raise TypeError(f"{fname}: complex '{name}' is not supported")
    return v


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Array:
    """Evenly spaced values in ``[start, stop)``, as ``numpy.arange``.

    The bounds fix the output size, so they must be concrete (not traced under jit). Values are
    ``start + i * step`` computed in the output dtype (float32 for float bounds unless x64)."""
    names = ("stop", None, None) if stop is None and step is None else ("start", "stop", "step")
    vals = [start, stop, step]
    for i, v in enumerate(vals):
        if v is not None:
            vals[i] = _concrete_scalar(v, names[i] or ("stop" if i == 1 else "step"), "arange")
    start, stop, step = vals
    if dtype is None:
        pairs = [(dtypes.python_scalar_dtype(v), True) if dtypes.is_python_scalar(v)
                 else (dtypes.canonicalize_dtype(np.asarray(v).dtype), False)
                 for v in (start, stop, step) if v is not None]
        dt = dtypes.promote_types_weak(*pairs)[0]
        if dt == dtypes.bool_:
            dt = dtypes.default_int()
    else:
        dt = _canon(dtype, "arange")
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if builtins.all(isinstance(v, (int, np.integer)) for v in (start, stop, step)):
        size = len(range(int(start), int(stop), int(step)))
    else:
        size = builtins.max(0, int(np.ceil((float(stop) - float(start)) / float(step))))
    ints = builtins.all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                        for v in (start, stop, step))
    if not dtypes.is_inexact(dt):
        if not ints or dt == dtypes.bool_:
            # Float bounds with an integer dtype: NumPy's own (odd) rules, as a constant.
            return from_numpy(np.arange(start, stop, step, dtype=dt))
        out = lax.iota(dt, size)
        if step != 1:
            out = lax.mul(out, np.asarray(step).astype(dt)[()])
        if start != 0:
            out = lax.add(out, np.asarray(start).astype(dt)[()])
        return out
    work = dtypes.float32 if dtypes.is_float(dt) and np.dtype(dt).itemsize < 4 else dt
    out = lax.iota(work, size)
    if step != 1:
        out = lax.mul(out, np.asarray(step, work)[()])
    if start != 0:
        out = lax.add(out, np.asarray(start, work)[()])
    return lax.convert_element_type(out, dt, False)


def _bounds(start, stop, comp):
    """``start``/``stop`` as arrays of dtype ``comp``, broadcast to their common shape."""
    s, e = (lax.convert_element_type(v if _is_array(v) else from_numpy(np.asarray(v, comp)),
                                     comp, False) for v in (start, stop))
    shape = broadcast_shapes(s.shape, e.shape, fname="linspace")
    return broadcast_to(s, shape), broadcast_to(e, shape), shape


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0):
    """``num`` evenly spaced samples from ``start`` to ``stop`` (array bounds broadcast; the
    samples run along ``axis``). Integer dtypes floor, as NumPy does."""
    num = _static_int(num, "num", "linspace")
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    if dtype is None:
        dt = dtypes.promote_types_weak(_aval_of(start), _aval_of(stop),
                                       (dtypes.default_float(), True))[0]
    else:
        dt = _canon(dtype, "linspace")
    comp = dt if dtypes.is_inexact(dt) else dtypes.default_float()
    if dtypes.is_float(comp) and np.dtype(comp).itemsize < 4:
        comp = dtypes.float32
    host = not (_is_array(start) or _is_array(stop))
    if host and not dtypes.is_inexact(dt):
        # Integer output from static bounds: NumPy's exact float64 floor, as a constant.
        ref, step = np.linspace(np.asarray(start), np.asarray(stop), num, endpoint,
                                retstep=True, axis=axis, dtype=np.float64)
        out = from_numpy(np.floor(ref).astype(dt))
        return (out, from_numpy(np.asarray(step, comp))) if retstep else out
    nd = len(broadcast_shapes(np.shape(start), np.shape(stop), fname="linspace")) + 1
    if not -nd <= axis < nd:
        raise ValueError(f"linspace: axis {axis} is out of bounds for the result of dimension "
                         f"{nd}")
    s, e = (v if _is_array(v) else np.asarray(v, comp) for v in (start, stop))
    out, delta = _linspace_impl(s, e, num=num, endpoint=bool(endpoint), dt=dt, comp=comp,
                                axis=axis % nd)
    return (out, delta) if retstep else out


@_eager_jit("num", "endpoint", "dt", "comp", "axis")
def _linspace_impl(start, stop, *, num, endpoint, dt, comp, axis):
    s, e, bshape = _bounds(start, stop, comp)
    nd = len(bshape) + 1
    div = (num - 1) if endpoint else num
    nan = np.asarray(np.nan, comp)[()]
    if num > 1:
        delta = lax.div(lax.sub(e, s), np.asarray(div, comp)[()])
        real = np.dtype(comp) if not dtypes.is_complex(comp) else np.dtype(
            np.float32 if comp == dtypes.complex64 else np.float64)
        t = lax.div(lax.iota(real, div), np.asarray(div, real)[()])
        t = lax.broadcast_in_dim(lax.convert_element_type(t, comp), tuple(
            bshape[:axis]) + (div,) + tuple(bshape[axis:]), (axis,))
        bdims = tuple(i for i in range(nd) if i != axis)
        full_shape = tuple(bshape[:axis]) + (div,) + tuple(bshape[axis:])
        sb = lax.broadcast_in_dim(s, full_shape, bdims)
        eb = lax.broadcast_in_dim(e, full_shape, bdims)
        if dtypes.is_inexact(dt):
            # JAX's lerp: exact at both ends.
            one = np.asarray(1, comp)[()]
            out = lax.add(lax.mul(sb, lax.sub(one, t)), lax.mul(eb, t))
        else:
            # Integer output: start + (i * (stop - start)) / div is exact whenever the true
            # value is an integer, so the floor below matches NumPy's.
            i = lax.broadcast_in_dim(lax.iota(comp, div), full_shape, (axis,))
            q = lax.div(lax.mul(i, lax.sub(eb, sb)), np.asarray(div, comp)[()])
            out = lax.add(sb, q)
        if endpoint:
            out = lax.concatenate([out, lax.expand_dims(e, (axis,))], axis)
    elif num == 1:
        delta = _splat(nan, bshape, comp) if endpoint else lax.sub(e, s)
        out = lax.expand_dims(s, (axis,))
    else:
        delta = _splat(nan, bshape, comp)
        out = lax.broadcast_in_dim(np.zeros((), comp), tuple(bshape[:axis]) + (0,)
                                   + tuple(bshape[axis:]), ())
    if not dtypes.is_inexact(dt):
        # Floor, snapping values within float rounding of an integer onto it (XLA may turn
        # the division into a multiplication by the reciprocal, which is not exact).
        tol = lax.mul(lax.max(lax.abs(out), np.asarray(1, comp)[()]),
                      np.asarray(4 * np.finfo(comp).eps, comp)[()])
        out = lax.floor(lax.add(out, tol))
    return lax.convert_element_type(out, dt, False), delta


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             base: Any = 10.0, dtype: Any = None, axis: int = 0) -> Array:
    """``base ** linspace(start, stop, num)``."""
    if dtype is None:
        dt = dtypes.promote_types_weak(_aval_of(start), _aval_of(stop),
                                       (dtypes.default_float(), True))[0]
    else:
        dt = _canon(dtype, "logspace")
    comp = dt if dtypes.is_inexact(dt) else dtypes.default_float()
    num = _static_int(num, "num", "logspace")
    s, e, b = (v if _is_array(v) else np.asarray(v, comp) for v in (start, stop, base))
    return _logspace_impl(s, e, b, num=num, endpoint=bool(endpoint), dt=dt, comp=comp,
                          axis=_static_int(axis, "axis", "logspace"))


@_eager_jit("num", "endpoint", "dt", "comp", "axis")
def _logspace_impl(start, stop, base, *, num, endpoint, dt, comp, axis):
    from xtrace._src.numpy.ufuncs import power
    lin = linspace(start, stop, num, endpoint=endpoint, dtype=comp, axis=axis)
    base = lax.convert_element_type(base, comp, False)
    if base.ndim:
        base = lax.expand_dims(base, (axis % lin.ndim,))
    return lax.convert_element_type(power(base, lin), dt, False)


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
              dtype: Any = None, axis: int = 0) -> Array:
    """Numbers spaced evenly on a log scale from ``start`` to ``stop`` (both nonzero, same
    sign), endpoints exact, as ``numpy.geomspace``."""
    num = _static_int(num, "num", "geomspace")
    if dtype is None:
        dt = dtypes.promote_types_weak(_aval_of(start), _aval_of(stop),
                                       (dtypes.default_float(), True))[0]
    else:
        dt = _canon(dtype, "geomspace")
    comp = dt if dtypes.is_inexact(dt) else dtypes.default_float()
    for v in (start, stop):
        if not isinstance(v, Tracer) and np.any(np.asarray(v) == 0):
            raise ValueError("geomspace: a geometric sequence cannot include zero")
    s, e = (v if _is_array(v) else np.asarray(v, comp) for v in (start, stop))
    return _geomspace_impl(s, e, num=num, endpoint=bool(endpoint), dt=dt, comp=comp,
                           axis=_static_int(axis, "axis", "geomspace"))


@_eager_jit("num", "endpoint", "dt", "comp", "axis")
def _geomspace_impl(start, stop, *, num, endpoint, dt, comp, axis):
    s, e, bshape = _bounds(start, stop, comp)
    sign = lax.sign(s)
    s, e = lax.div(s, sign), lax.div(e, sign)
    ls, le = lax.div(lax.log(s), np.asarray(np.log(10), comp)[()]), \
        lax.div(lax.log(e), np.asarray(np.log(10), comp)[()])
    res = logspace(ls, le, num, endpoint=endpoint, base=10.0, dtype=comp, axis=0)
    if num > 0:
        parts = [lax.expand_dims(s, (0,))]
        if num > 1:
            parts.append(lax.slice_in_dim(res, 1, num - 1 if endpoint else num, axis=0))
            if endpoint:
                parts.append(lax.expand_dims(e, (0,)))
        res = lax.concatenate(parts, 0) if len(parts) > 1 else parts[0]
    res = lax.mul(lax.broadcast_in_dim(sign, res.shape, tuple(range(1, res.ndim))), res)
    if axis != 0:
        res = moveaxis(res, 0, axis)
    return lax.convert_element_type(res, dt, False)


# ---------------------------------------------------------------------------------------------
# Matrices: eye, identity, tri, tril, triu, diag, diagonal


def _offset(k: Any, fname: str):
    """A diagonal offset: a static int, or a traced integer scalar (as an int32 array)."""
    if isinstance(k, Tracer):
        if k.ndim != 0 or not dtypes.is_int(k.dtype):
            raise TypeError(f"{fname}: k must be an integer scalar, got {k.aval.str_short()}")
        return lax.convert_element_type(k, dtypes.int32)
    return _static_int(k, "k", fname)


def _tri_mask(n: int, m: int, k: Any, fname: str):
    """Boolean (n, m) mask of ``j <= i + k``."""
    k = _offset(k, fname)
    r = lax.broadcasted_iota(dtypes.int32, (n, m), 0)
    c = lax.broadcasted_iota(dtypes.int32, (n, m), 1)
    kk = np.int32(k) if isinstance(k, int) else lax.broadcast_in_dim(k, (n, m), ())
    return lax.ge(lax.add(r, kk), c)


def eye(N: int, M: int | None = None, k: Any = 0, dtype: Any = None) -> Array:
    """A 2-D array with ones on the ``k``-th diagonal (``k`` may be traced)."""
    N = _static_int(N, "N", "eye")
    M = N if M is None else _static_int(M, "M", "eye")
    if N < 0 or M < 0:
        raise ValueError(f"eye: negative dimensions are not allowed, got N={N}, M={M}")
    dt = dtypes.default_float() if dtype is None else _canon(dtype, "eye")
    return _eye_impl(N=N, M=M, k=_offset(k, "eye"), dt=dt)


@_eager_jit("N", "M", "k", "dt")
def _eye_impl(*, N, M, k, dt):
    r = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    c = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    kk = np.int32(k) if isinstance(k, int) else lax.broadcast_in_dim(k, (N, M), ())
    return lax.convert_element_type(lax.eq(lax.add(r, kk), c), dt)


def identity(n: int, dtype: Any = None) -> Array:
    """The ``n`` x ``n`` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: Any = 0, dtype: Any = None) -> Array:
    """Ones at and below the ``k``-th diagonal, zeros elsewhere."""
    N = _static_int(N, "N", "tri")
    M = N if M is None else _static_int(M, "M", "tri")
    if N < 0 or M < 0:
        raise ValueError(f"tri: negative dimensions are not allowed, got N={N}, M={M}")
    # (JAX's default is float32 even with x64 enabled)
    dt = dtypes.float32 if dtype is None else _canon(dtype, "tri")
    return _tri_impl(N=N, M=M, k=_offset(k, "tri"), dt=dt)


@_eager_jit("N", "M", "k", "dt")
def _tri_impl(*, N, M, k, dt):
    return lax.convert_element_type(_tri_mask(N, M, k, "tri"), dt)


def _tril_triu(m, k, lower: bool, fname: str):
    m = asarray(m)
    if m.ndim < 1:
        raise ValueError(f"{fname}: input must be at least 1-D, got a scalar")
    return _tril_triu_impl(m, k=_offset(k, fname), lower=lower, fname=fname)


@_eager_jit("k", "lower", "fname")
def _tril_triu_impl(m, *, k, lower, fname):
    n_, m_ = (m.shape[-2], m.shape[-1]) if m.ndim >= 2 else (m.shape[0], m.shape[0])
    if lower:
        mask = _tri_mask(n_, m_, k, fname)
    else:
        k = _offset(k, fname)
        mask = lax.bitwise_not(_tri_mask(n_, m_, k - 1 if isinstance(k, int)
                                         else lax.sub(k, np.int32(1)), fname))
    shape = tuple(m.shape[:-2]) + (n_, m_)
    mb = broadcast_to(m, shape)
    mask = lax.broadcast_in_dim(mask, shape, (len(shape) - 2, len(shape) - 1))
    zero = lax.broadcast_in_dim(lax.convert_element_type(np.zeros((), m.dtype), m.dtype,
                                                         m.weak_type), shape, ())
    return lax.select(mask, mb, zero)


def tril(m: Any, k: Any = 0) -> Array:
    """``m`` with the elements above the ``k``-th diagonal zeroed (on the last two axes; a 1-D
    ``m`` is broadcast to a square matrix first, as in NumPy)."""
    return _tril_triu(m, k, True, "tril")


def triu(m: Any, k: Any = 0) -> Array:
    """``m`` with the elements below the ``k``-th diagonal zeroed (see ``tril``)."""
    return _tril_triu(m, k, False, "triu")


def _axis(a: int, ndim: int, fname: str, name: str = "axis") -> int:
    a = _static_int(a, name, fname)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(f"{fname}: {name} {a} is out of bounds "
                                      f"for array of dimension {ndim}")
    return a % ndim


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The ``offset``-th diagonal of the (``axis1``, ``axis2``) planes of ``a``, as a new last
    axis (the two axes are removed), as ``numpy.diagonal``."""
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal: array must be at least 2-D, got shape {tuple(a.shape)}")
    offset = _static_int(offset, "offset", "diagonal")
    ax1 = _axis(axis1, a.ndim, "diagonal", "axis1")
    ax2 = _axis(axis2, a.ndim, "diagonal", "axis2")
    if ax1 == ax2:
        raise ValueError(f"diagonal: axis1 and axis2 cannot be the same (both are {ax1})")
    return _diagonal_impl(a, offset=offset, ax1=ax1, ax2=ax2)


@_eager_jit("offset", "ax1", "ax2")
def _diagonal_impl(a, *, offset, ax1, ax2):
    a = moveaxis(a, (ax1, ax2), (-2, -1))
    lead, (n, m) = tuple(a.shape[:-2]), a.shape[-2:]
    if offset >= 0:
        length, start = builtins.max(0, builtins.min(n, m - offset)), offset
    else:
        length, start = builtins.max(0, builtins.min(n + offset, m)), -offset * m
    flat = lax.reshape(a, lead + (n * m,))
    if length == 0:
        return lax.slice_in_dim(flat, 0, 0, axis=len(lead))
    return lax.slice_in_dim(flat, start, start + (length - 1) * (m + 1) + 1, m + 1,
                            axis=len(lead))


def diag(v: Any, k: int = 0) -> Array:
    """The ``k``-th diagonal of a 2-D ``v``, or a 2-D array with 1-D ``v`` on its ``k``-th
    diagonal."""
    v = asarray(v)
    k = _static_int(k, "k", "diag")
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {tuple(v.shape)}")
    return _diag_impl(v, k=k)


@_eager_jit("k")
def _diag_impl(v, *, k):
    n = v.shape[0] + builtins.abs(k)
    vp = lax.pad(v, lax.convert_element_type(np.zeros((), v.dtype), v.dtype, v.weak_type),
                 [(0, builtins.abs(k), 0)])
    # Row i holds v[i] (k >= 0) and column j holds v[j] (k < 0).
    vals = lax.broadcast_in_dim(vp, (n, n), (0,) if k >= 0 else (1,))
    r = lax.broadcasted_iota(dtypes.int32, (n, n), 0)
    c = lax.broadcasted_iota(dtypes.int32, (n, n), 1)
    mask = lax.eq(lax.add(r, np.int32(k)), c)
    zero = lax.broadcast_in_dim(
        lax.convert_element_type(np.zeros((), v.dtype), v.dtype, v.weak_type), (n, n), ())
    return lax.select(mask, vals, zero)


def diagflat(v: Any, k: int = 0) -> Array:
    """A 2-D array with the flattened ``v`` on its ``k``-th diagonal."""
    return diag(ravel(asarray(v)), k)


def _index_pair(rows: np.ndarray, cols: np.ndarray):
    return (from_numpy(rows.astype(dtypes.default_int())),
            from_numpy(cols.astype(dtypes.default_int())))


def tril_indices(n: int, k: int = 0, m: int | None = None):
    """Row and column indices of the lower triangle of an (n, m) array (static sizes)."""
    n, k = _static_int(n, "n", "tril_indices"), _static_int(k, "k", "tril_indices")
    m = n if m is None else _static_int(m, "m", "tril_indices")
    return _index_pair(*np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: int | None = None):
    """Row and column indices of the upper triangle of an (n, m) array (static sizes)."""
    n, k = _static_int(n, "n", "triu_indices"), _static_int(k, "k", "triu_indices")
    m = n if m is None else _static_int(m, "m", "triu_indices")
    return _index_pair(*np.triu_indices(n, k, m))


def _shape2d(arr, fname):
    shape = tuple(arr.shape) if hasattr(arr, "shape") else np.shape(arr)
    if len(shape) != 2:
        raise ValueError(f"{fname}: input array must be 2-D, got shape {shape}")
    return shape


def tril_indices_from(arr: Any, k: int = 0):
    """``tril_indices`` for the shape of the 2-D ``arr``."""
    n, m = _shape2d(arr, "tril_indices_from")
    return tril_indices(n, k, m)


def triu_indices_from(arr: Any, k: int = 0):
    """``triu_indices`` for the shape of the 2-D ``arr``."""
    n, m = _shape2d(arr, "triu_indices_from")
    return triu_indices(n, k, m)


def diag_indices(n: int, ndim: int = 2):
    """Indices of the main diagonal of an ``ndim``-dimensional array of side ``n``."""
    n = _static_int(n, "n", "diag_indices")
    ndim = _static_int(ndim, "ndim", "diag_indices")
    if n < 0 or ndim < 0:
        raise ValueError(f"diag_indices: n and ndim must be non-negative, got {n}, {ndim}")
    idx = lax.iota(dtypes.default_int(), n) if n else from_numpy(
        np.zeros(0, dtypes.default_int()))
    return (idx,) * ndim


def diag_indices_from(arr: Any):
    """``diag_indices`` for ``arr``, whose sides must all be equal."""
    shape = tuple(arr.shape) if hasattr(arr, "shape") else np.shape(arr)
    if len(shape) < 2:
        raise ValueError(f"diag_indices_from: input must be at least 2-D, got shape {shape}")
    if len(set(shape)) != 1:
        raise ValueError(f"diag_indices_from: all dimensions of the input must be of equal "
                         f"length, got shape {shape}")
    return diag_indices(shape[0], len(shape))


def copy(a: Any, order: str | None = None) -> Array:
    """``a`` as an array (xtrace arrays are immutable, so no data is duplicated)."""
    return array(a, copy=True, order=order)


# ---------------------------------------------------------------------------------------------
# Grids: meshgrid, indices, fromfunction


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> list[Array]:
    """Coordinate arrays from 1-D coordinate vectors (inputs are raveled), as
    ``numpy.meshgrid``; returns a list."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    return _meshgrid_impl([asarray(x) for x in xi], sparse=bool(sparse), indexing=indexing)


@_eager_jit("sparse", "indexing")
def _meshgrid_impl(xs, *, sparse, indexing):
    xs = [ravel(x) for x in xs]
    nd = len(xs)
    outs = []
    for i, x in enumerate(xs):
        shape = [1] * nd
        shape[i] = x.shape[0]
        outs.append(lax.reshape(x, shape))
    if indexing == "xy" and nd > 1:
        outs[0] = lax.transpose(outs[0], (1, 0) + tuple(range(2, nd)))
        outs[1] = lax.transpose(outs[1], (1, 0) + tuple(range(2, nd)))
    if sparse:
        return outs
    full_shape = [x.shape[0] for x in xs]
    if indexing == "xy" and nd > 1:
        full_shape[0], full_shape[1] = full_shape[1], full_shape[0]
    full_shape = tuple(full_shape)
    return [broadcast_to(o, full_shape) for o in outs]


def indices(dimensions: Sequence[int], dtype: Any = int, sparse: bool = False):
    """Index grids for an array of shape ``dimensions``: one array of shape
    ``(len(dimensions), *dimensions)``, or a tuple of broadcastable arrays when ``sparse``."""
    dims = _static_shape(tuple(dimensions), "indices")
    return _indices_impl(dims=dims, dt=_canon(dtype, "indices"), sparse=bool(sparse))


@_eager_jit("dims", "dt", "sparse")
def _indices_impl(*, dims, dt, sparse):
    nd = len(dims)
    if sparse:
        return tuple(lax.reshape(lax.iota(dt, d), tuple(d if j == i else 1 for j in range(nd)))
                     for i, d in enumerate(dims))
    if nd == 0:
        return lax.broadcast_in_dim(np.zeros((), dt), (0,), ())
    return lax.concatenate([lax.expand_dims(lax.broadcasted_iota(dt, dims, i), (0,))
                            for i in range(nd)], 0)


def fromfunction(function: Callable, shape: Sequence[int], *, dtype: Any = float,
                 **kwargs: Any) -> Any:
    """``function(*indices(shape, dtype), **kwargs)``: the function receives index arrays and
    must be vectorized (as in NumPy)."""
    shape = _static_shape(shape, "fromfunction")
    return function(*indices(shape, dtype=dtype), **kwargs)


# ---------------------------------------------------------------------------------------------
# From bytes, strings and iterators (host data: concrete, like NumPy's)


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0) -> Array:
    """A 1-D array of the items of ``buffer`` (bytes or any buffer object) read as
    ``dtype`` (NumPy's frombuffer; the result is then converted as ``asarray`` does)."""
    return asarray(np.frombuffer(buffer, dtype=dtype, count=count, offset=offset))


def fromstring(string: str, dtype: Any = float, count: int = -1, *, sep: str) -> Array:
    """A 1-D array of the numbers in the text ``string`` separated by ``sep`` (NumPy's
    fromstring in text mode; ``sep`` is required, as in JAX)."""
    return asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def fromiter(*args, **kwargs):
    """Not provided, as in JAX: consuming an iterator is a side effect that jit cannot
    replay. Use ``asarray(numpy.fromiter(...))``."""
    raise NotImplementedError(
        "xtrace.numpy.fromiter() is not implemented because it may be non-pure and thus "
        "unsafe for use with jit and other transformations (it consumes the iterable). Use "
        "xtrace.numpy.asarray(numpy.fromiter(...)) instead.")


def fromfile(*args, **kwargs):
    """Not provided, as in JAX (reading a file is a side effect that jit cannot replay).
    Use ``asarray(numpy.fromfile(...))``."""
    raise NotImplementedError(
        "xtrace.numpy.fromfile() is not implemented because it may be non-pure and thus "
        "unsafe for use with jit and other transformations. Use "
        "xtrace.numpy.asarray(numpy.fromfile(...)) instead.")


def load(file: Any, *args, **kwargs) -> Any:
    """``numpy.load``, with a single saved array returned as an xtrace array (bfloat16
    arrays, which NumPy stores as 2-byte voids, get their dtype back). ``.npz`` archives
    are returned as NumPy's lazy mapping."""
    out = np.load(file, *args, **kwargs)
    if isinstance(out, np.ndarray):
        if out.dtype == np.dtype("V2"):
            out = out.view(dtypes.bfloat16)
        try:
            out = asarray(out)
        except TypeError:  # a dtype xtrace arrays cannot hold: stays a NumPy array
            pass
    return out


save = np.save
savez = np.savez


# ---------------------------------------------------------------------------------------------
# Window functions (the default float dtype; M must be a static int)


def _window(fname: str, M: Any, body: Callable) -> Array:
    M = _static_int(M, "M", fname)
    dt = dtypes.default_float()
    if M <= 1:
        return ones((max(M, 0),), dt)
    n = lax.convert_element_type(lax.iota(dtypes.int32, M), dt)
    return body(n, M)


@_eager_jit_auto
def bartlett(M: int) -> Array:
    """The Bartlett (triangular) window of ``M`` points."""
    import xtrace.numpy as xnp
    return _window("bartlett", M, lambda n, M: 1 - xnp.abs(2 * n + 1 - M) / (M - 1))


@_eager_jit_auto
def blackman(M: int) -> Array:
    """The Blackman window of ``M`` points."""
    import xtrace.numpy as xnp
    return _window("blackman", M, lambda n, M: 0.42 - 0.5 * xnp.cos(2 * np.pi * n / (M - 1))
                   + 0.08 * xnp.cos(4 * np.pi * n / (M - 1)))


@_eager_jit_auto
def hamming(M: int) -> Array:
    """The Hamming window of ``M`` points."""
    import xtrace.numpy as xnp
    return _window("hamming", M, lambda n, M: 0.54 - 0.46 * xnp.cos(2 * np.pi * n / (M - 1)))


@_eager_jit_auto
def hanning(M: int) -> Array:
    """The Hann window of ``M`` points."""
    import xtrace.numpy as xnp
    return _window("hanning", M, lambda n, M: 0.5 - 0.5 * xnp.cos(2 * np.pi * n / (M - 1)))


@_eager_jit_auto
def kaiser(M: int, beta: Any) -> Array:
    """The Kaiser window of ``M`` points with shape parameter ``beta`` (may be traced)."""
    import xtrace.numpy as xnp

    def body(n, M):
        alpha = 0.5 * (M - 1)
        return xnp.i0(beta * xnp.sqrt(1 - ((n - alpha) / alpha) ** 2)) / xnp.i0(beta)
    return _window("kaiser", M, body)


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
