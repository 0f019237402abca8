"""Reductions with NumPy's signatures and JAX's dtype rules.

sum, prod, max/amax, min/amin, ptp, all, any, count_nonzero, mean, average, var, std,
argmax, argmin, cumsum, cumprod (and cumulative_sum / cumulative_prod), the nan* variants,
median, quantile and percentile (and their nan* variants).

Dtype rules (JAX's):

* ``sum``/``prod`` of bool and of integers narrower than the default int give the default int
  (unsigned: the default unsigned int); ``cumsum``/``cumprod`` promote only bool.
* ``mean``/``var``/``std``/``average``/``median``/``quantile`` of bool and integers give a float
  (float32; float64 for 64-bit integers); float16/bfloat16 accumulate in float32 and return
  their own type; ``var``/``std`` of complex are real.
* Results are never weakly typed (``sum(2.0)`` is a float32 array, as in JAX).

Every function works eagerly and under ``jit`` (no Python control flow on array values). The
multi-step ones run as one internal jit, so that an eager call compiles once per shape.
"""
from __future__ import annotations

import builtins
import functools
import operator

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src import core as _core
from xtrace._src.core import Tracer, get_aval
from xtrace._src.jit import jit as _xjit
from xtrace._src.numpy import ufuncs as _ufuncs
from xtrace._src.numpy.core import _is_array, asarray, broadcast_to
from xtrace._src.prims.indexing import GatherDimensionNumbers

# ---------------------------------------------------------------------------------------------
# Helpers


def _jit(fun=None, *, static_argnames=()):
    """Run ``fun`` as one compiled program when called eagerly (one compile per shape instead
    of one per primitive); under a trace, call it directly so that it is inlined."""
    if fun is None:
        return functools.partial(_jit, static_argnames=static_argnames)
    jitted = _xjit(fun, static_argnames=static_argnames)

    @functools.wraps(fun)
    def call(*args, **kwargs):
        if _core._state.dynamic_level > 0 or builtins.any(isinstance(a, Tracer) for a in args):
            return fun(*args, **kwargs)
        return jitted(*args, **kwargs)
    return call


def _check_out(name: str, out) -> None:
    if out is not None:
        raise NotImplementedError(
            f"{name}: the out= argument is not supported because xtrace arrays are immutable; "
            f"use the returned array instead (y = xnp.{name}(...))")


def _arr(a):
    return a if _is_array(a) else asarray(a)


def _axes(axis, ndim: int, name: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence of ints) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in items:
        try:
            ax = operator.index(ax)
        except TypeError:
            raise TypeError(f"{name}: axis must be None, an int or a tuple of ints, got "
                            f"{axis!r}") from None
        if not -ndim <= ax < ndim:
            raise np.exceptions.AxisError(f"{name}: axis {ax} is out of bounds "
                                          f"for array of dimension {ndim}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: duplicate value in 'axis': {items}")
    return tuple(sorted(out))


def _one_axis(axis, ndim: int, name: str) -> int:
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"{name}: axis must be an int or None, got {axis!r}")
    return _axes(axis, ndim, name)[0]


def _kept_shape(shape, axes) -> list[int]:
    return [1 if i in axes else d for i, d in enumerate(shape)]


def _keep(res, shape, axes, keepdims: bool):
    return lax.reshape(res, _kept_shape(shape, axes)) if keepdims else res


def _unweak(x):
    av = get_aval(x)
    return lax.convert_element_type(x, av.dtype, False) if av.weak_type else x


def _convert(x, dt):
    if not _is_array(x):
        return _const(x, dt)
    av = get_aval(x)
    return x if av.dtype == dt and not av.weak_type else lax.convert_element_type(x, dt, False)


def _const(v, dt):
    """A scalar of dtype ``dt`` (an array when ``v`` is one)."""
    if _is_array(v):
        if get_aval(v).ndim:
            raise ValueError(f"expected a scalar, got an array of shape {get_aval(v).shape}")
        return _convert(v, dt)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(v).astype(dt)[()]


def _full(shape, v, dt):
    return lax.broadcast_in_dim(_const(v, dt), tuple(shape), ())


def _mask(where, shape, name: str):
    """``where`` as a boolean array of ``shape`` (or None)."""
    if where is None:
        return None
    w = where if _is_array(where) else asarray(np.asarray(where, dtype=bool))
    if get_aval(w).dtype != dtypes.bool_:
        w = lax.convert_element_type(w, dtypes.bool_, False)
    try:
        return broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{name}: where= of shape {get_aval(w).shape} cannot be broadcast to "
                         f"the array's shape {tuple(shape)}") from None


def _isnan(x):
    av = get_aval(x)
    return lax.ne(x, x) if dtypes.is_inexact(av.dtype) else None


def _sum_dtype(dt: np.dtype) -> np.dtype:
    """JAX's accumulation type for sum/prod: bool and narrow ints widen to the default int."""
    if dt == dtypes.bool_:
        return dtypes.default_int()
    if dtypes.is_int(dt) and dt.itemsize < dtypes.default_int().itemsize:
        return (dtypes.canonicalize_dtype(np.uint64) if dtypes.is_unsigned(dt)
                else dtypes.default_int())
    return dt


def _inexact_dtype(dt: np.dtype) -> np.dtype:
    """JAX's float type for the mean of ``dt``: ints up to 32 bits and bool give float32."""
    if dtypes.is_inexact(dt):
        return dt
    return dtypes.canonicalize_dtype(np.float64 if dt.itemsize == 8 else np.float32)


def _acc_dtype(dt: np.dtype) -> np.dtype:
    """Accumulate half-precision floats in float32."""
    if dt in (np.dtype(np.float16), dtypes.bfloat16):
        return np.dtype(np.float32)
    return dt


def _real_dtype(dt: np.dtype) -> np.dtype:
    return np.finfo(dt).dtype if dtypes.is_complex(dt) else dt


def _canon(dtype):
    return None if dtype is None else dtypes.canonicalize_dtype(dtype)


# ---------------------------------------------------------------------------------------------
# sum, prod, max, min, all, any, count_nonzero


def _sum_prod(name, op, a, axis, dtype, out, keepdims, initial, where, promote_integers=True):
    _check_out(name, out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, name)
    dt = _canon(dtype)
    if dt is None:
        dt = _sum_dtype(a.dtype) if promote_integers else a.dtype
    a = _convert(a, dt)
    ident = 0 if op == "add" else 1
    mask = _mask(where, a.shape, name)
    if mask is not None:
        a = lax.select(mask, a, _full(a.shape, ident, dt))
    if dt == dtypes.bool_:  # sum of bools with dtype=bool is "any"; prod is "all"
        res = (lax.reduce_or if op == "add" else lax.reduce_and)(a, axes)
    else:
        res = (lax.reduce_sum if op == "add" else lax.reduce_prod)(a, axes)
    if initial is not None:
        init = _const(initial, dt)
        if dt == dtypes.bool_:
            res = (lax.bitwise_or if op == "add" else lax.bitwise_and)(res, init)
        else:
            res = (lax.add if op == "add" else lax.mul)(res, init)
    return _unweak(_keep(res, a.shape, axes, keepdims))


def sum(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None, where=None,
        promote_integers: bool = True):
    """Sum of elements over ``axis`` (None: all; int or tuple; negative counts from the end).

    Bool and integers narrower than the default int are summed as the default int (JAX's rule;
    ``promote_integers=False`` keeps the input type). ``where`` masks elements out; ``initial``
    is added to the result."""
    return _sum_prod("sum", "add", a, axis, dtype, out, keepdims, initial, where,
                     promote_integers)


def prod(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None, where=None,
         promote_integers: bool = True):
    """Product of elements over ``axis``; the dtype rules are those of :func:`sum`."""
    return _sum_prod("prod", "mul", a, axis, dtype, out, keepdims, initial, where,
                     promote_integers)


def _max_min(name, is_max, a, axis, out, keepdims, initial, where):
    _check_out(name, out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, name)
    if where is not None and initial is None:
        raise ValueError(f"reduction operation {name} does not have an identity, so to use a "
                         "where mask one has to specify 'initial'")
    if initial is None and builtins.any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"zero-size array to reduction operation {name} which has no "
                         f"identity (shape {a.shape}, axis {axis}); pass initial= to give "
                         "empty reductions a value")
    dt = a.dtype
    mask = _mask(where, a.shape, name)
    if mask is not None:
        a = lax.select(mask, a, _full(a.shape, initial, dt))
    res = (lax.reduce_max if is_max else lax.reduce_min)(a, axes)
    if initial is not None:
        res = (lax.max if is_max else lax.min)(res, _const(initial, dt))
    return _unweak(_keep(res, a.shape, axes, keepdims))


def max(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
    """Largest element over ``axis``; NaN propagates. Empty reductions need ``initial``."""
    return _max_min("max", True, a, axis, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
    """Smallest element over ``axis``; NaN propagates. Empty reductions need ``initial``."""
    return _max_min("min", False, a, axis, out, keepdims, initial, where)


def amax(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
    """Alias of :func:`max`."""
    return _max_min("amax", True, a, axis, out, keepdims, initial, where)


def amin(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
    """Alias of :func:`min`."""
    return _max_min("amin", False, a, axis, out, keepdims, initial, where)


def ptp(a, axis=None, out=None, keepdims: bool = False):
    """Range (max - min) over ``axis``."""
    _check_out("ptp", out)
    a = _arr(a)
    if a.dtype == dtypes.bool_:
        raise TypeError("ptp does not support bool arrays (max - min would subtract booleans); "
                        "convert with .astype(int) first")
    return lax.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def _all_any(name, is_all, a, axis, out, keepdims, where):
    _check_out(name, out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, name)
    if a.dtype != dtypes.bool_:
        a = lax.ne(a, _const(0, a.dtype))
    mask = _mask(where, a.shape, name)
    if mask is not None:
        a = lax.select(mask, a, _full(a.shape, is_all, dtypes.bool_))
    res = (lax.reduce_and if is_all else lax.reduce_or)(a, axes)
    return _unweak(_keep(res, a.shape, axes, keepdims))


def all(a, axis=None, out=None, keepdims: bool = False, *, where=None):
    """Whether every element over ``axis`` is true (nonzero; NaN counts as true)."""
    return _all_any("all", True, a, axis, out, keepdims, where)


def any(a, axis=None, out=None, keepdims: bool = False, *, where=None):
    """Whether some element over ``axis`` is true (nonzero; NaN counts as true)."""
    return _all_any("any", False, a, axis, out, keepdims, where)


def count_nonzero(a, axis=None, keepdims: bool = False):
    """Number of nonzero elements over ``axis``, as the default int."""
    a = _arr(a)
    axes = _axes(axis, a.ndim, "count_nonzero")
    nz = a if a.dtype == dtypes.bool_ else lax.ne(a, _const(0, a.dtype))
    res = lax.reduce_sum(lax.convert_element_type(nz, dtypes.default_int(), False), axes)
    return _keep(res, a.shape, axes, keepdims)


# ---------------------------------------------------------------------------------------------
# mean, var, std, average


def _count(shape, axes, mask, dt, keepdims):
    """Number of reduced elements (masked ones excluded), as ``dt``: a scalar without a mask."""
    if mask is None:
        return _const(int(np.prod([shape[i] for i in axes], dtype=np.int64)), dt)
    return _keep(lax.reduce_sum(lax.convert_element_type(mask, dt, False), axes), shape, axes,
                 keepdims)


@functools.partial(_jit, static_argnames=("axes", "dt", "keepdims"))
def _mean_impl(a, mask, *, axes, dt, keepdims):
    acc = _acc_dtype(dt if dtypes.is_inexact(dt) else dtypes.default_float())
    x = _convert(a, acc)
    if mask is not None:
        x = lax.select(mask, x, _full(x.shape, 0, acc))
    s = _keep(lax.reduce_sum(x, axes), a.shape, axes, keepdims)
    res = lax.div(s, _count(a.shape, axes, mask, acc, keepdims))
    return _convert(res, dt)


def mean(a, axis=None, dtype=None, out=None, keepdims: bool = False, *, where=None):
    """Arithmetic mean over ``axis`` (bool and integers give a float: JAX's rule). The mean of
    an empty selection is NaN."""
    _check_out("mean", out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, "mean")
    dt = _canon(dtype) or _inexact_dtype(a.dtype)
    return _mean_impl(a, _mask(where, a.shape, "mean"), axes=axes, dt=dt,
                      keepdims=bool(keepdims))


def _ddof(name, ddof, correction):
    if correction is not None:
        if ddof != 0:
            raise ValueError(f"{name}: pass ddof= or correction=, not both")
        return correction
    return ddof


@functools.partial(_jit, static_argnames=("axes", "dt", "keepdims", "take_sqrt", "nan",
                                          "ddof_s"))
def _var_impl(a, mask, ddof, *, axes, dt, keepdims, take_sqrt, nan, ddof_s):
    comp = _acc_dtype(dt if dtypes.is_inexact(dt) else dtypes.default_float())
    if dtypes.is_complex(get_aval(a).dtype) and not dtypes.is_complex(comp):
        comp = np.dtype(np.complex128 if comp == np.float64 else np.complex64)
    rcomp = _real_dtype(comp)
    x = _convert(a, comp)
    if nan:
        valid = lax.eq(x, x)
        mask = valid if mask is None else lax.bitwise_and(mask, valid)
    xm = x if mask is None else lax.select(mask, x, _full(x.shape, 0, comp))
    n = _count(x.shape, axes, mask, rcomp, False)
    m = lax.div(lax.reduce_sum(xm, axes), _convert(n, comp))
    d = lax.sub(x, lax.broadcast_in_dim(m, x.shape, [i for i in range(x.ndim) if i not in axes]))
    if dtypes.is_complex(comp):
        sq = lax.add(lax.square(lax.real(d)), lax.square(lax.imag(d)))
    else:
        sq = lax.square(d)
    if mask is not None:
        sq = lax.select(mask, sq, _full(x.shape, 0, rcomp))
    if ddof is None and not _is_array(n):
        denom = _const(builtins.max(float(n) - ddof_s, 0.0), rcomp)
    else:
        ddof = _const(ddof_s, rcomp) if ddof is None else _convert(ddof, rcomp)
        denom = lax.max(lax.sub(n, ddof), _const(0, rcomp))
    res = lax.div(lax.reduce_sum(sq, axes), denom)
    if take_sqrt:
        res = lax.sqrt(res)
    return _convert(_keep(res, x.shape, axes, keepdims), _real_dtype(dt))


def _var_std(name, take_sqrt, nan, a, axis, dtype, out, ddof, keepdims, where, correction):
    _check_out(name, out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, name)
    ddof = _ddof(name, ddof, correction)
    dt = _canon(dtype) or _inexact_dtype(a.dtype)
    nan = nan and dtypes.is_inexact(a.dtype)
    ddof_s = None if _is_array(ddof) else float(ddof)
    return _var_impl(a, _mask(where, a.shape, name), ddof if _is_array(ddof) else None,
                     axes=axes, dt=dt, keepdims=bool(keepdims), take_sqrt=take_sqrt, nan=nan,
                     ddof_s=ddof_s)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims: bool = False, *, where=None,
        correction=None):
    """Variance over ``axis``: ``sum(|x - mean|**2) / (N - ddof)`` (``correction`` is the array
    API's name for ``ddof``). Complex inputs give a real variance."""
    return _var_std("var", False, False, a, axis, dtype, out, ddof, keepdims, where, correction)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims: bool = False, *, where=None,
        correction=None):
    """Standard deviation over ``axis``: the square root of :func:`var`."""
    return _var_std("std", True, False, a, axis, dtype, out, ddof, keepdims, where, correction)


@functools.partial(_jit, static_argnames=("axes", "keepdims", "returned"))
def _average_impl(a, w, *, axes, keepdims, returned):
    dt = get_aval(a).dtype
    acc = _acc_dtype(dt)
    a, w = _convert(a, acc), _convert(w, acc)
    scl = lax.reduce_sum(w, axes)
    avg = lax.div(lax.reduce_sum(lax.mul(a, w), axes), scl)
    avg = _convert(_keep(avg, a.shape, axes, keepdims), dt)
    if not returned:
        return avg
    scl = _convert(_keep(scl, a.shape, axes, keepdims), dt)
    return avg, scl


def average(a, axis=None, weights=None, returned: bool = False, keepdims: bool = False):
    """Weighted mean over ``axis``. ``weights`` has ``a``'s shape, or (with ``axis`` given) the
    shape of ``a`` along ``axis``. With ``returned=True`` also returns the sum of the weights,
    broadcast to the shape of the average."""
    a = _arr(a)
    axes = _axes(axis, a.ndim, "average")
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        if not returned:
            return avg
        n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
        return avg, _full(get_aval(avg).shape, n, get_aval(avg).dtype)
    w = _arr(weights)
    dt = dtypes.promote_types_weak((a.dtype, get_aval(a).weak_type),
                                   (w.dtype, get_aval(w).weak_type))[0]
    dt = _inexact_dtype(dt)
    a, w = _convert(a, dt), _convert(w, dt)
    if w.shape != a.shape:
        if axis is None:
            raise ValueError(f"average: axis must be specified when the shapes of a {a.shape} "
                             f"and weights {w.shape} differ")
        order = tuple(operator.index(x) % a.ndim for x in
                      (axis if isinstance(axis, (tuple, list)) else (axis,)))
        if w.shape != tuple(a.shape[i] for i in order):
            raise ValueError(f"average: the shape of weights {w.shape} must be that of a "
                             f"{a.shape} or of a along axis {axis} "
                             f"({tuple(a.shape[i] for i in order)})")
        perm = sorted(range(len(order)), key=lambda i: order[i])
        if perm != list(range(len(order))):
            w = lax.transpose(w, perm)
        w = lax.broadcast_in_dim(w, a.shape, sorted(order))
    return _average_impl(a, w, axes=axes, keepdims=bool(keepdims), returned=bool(returned))


# ---------------------------------------------------------------------------------------------
# argmax, argmin


def _arg(name, is_max, a, axis, out, keepdims, nan=False):
    _check_out(name, out)
    a = _arr(a)
    if dtypes.is_complex(a.dtype):
        raise TypeError(f"{name} does not support complex arrays")
    if axis is None:
        if a.size == 0:
            raise ValueError(f"{name}: attempt to get {name} of an empty sequence")
        x, ax = lax.reshape(a, (a.size,)), 0
    else:
        ax = _one_axis(axis, a.ndim, name)
        if a.shape[ax] == 0:
            raise ValueError(f"{name}: attempt to get {name} of an empty sequence (axis {ax} of "
                             f"shape {a.shape} has size 0)")
        x = a
    if nan and dtypes.is_inexact(x.dtype):
        res = _nanarg_impl(x, axis=ax, is_max=is_max)
    else:
        res = (lax.argmax if is_max else lax.argmin)(x, ax, dtypes.default_int())
    if keepdims:
        res = lax.reshape(res, (1,) * a.ndim if axis is None else _kept_shape(a.shape, (ax,)))
    return res


@functools.partial(_jit, static_argnames=("axis", "is_max"))
def _nanarg_impl(x, *, axis, is_max):
    isn = lax.ne(x, x)
    fill = _full(x.shape, -np.inf if is_max else np.inf, x.dtype)
    res = (lax.argmax if is_max else lax.argmin)(lax.select(isn, fill, x), axis,
                                                 dtypes.default_int())
    all_nan = lax.reduce_and(isn, (axis,))
    return lax.select(all_nan, _full(res.shape, -1, res.dtype), res)


def argmax(a, axis=None, out=None, keepdims: bool = False):
    """Index of the largest element (of the flattened array when ``axis`` is None); the first
    one on ties, and the first NaN if there is one."""
    return _arg("argmax", True, a, axis, out, keepdims)


def argmin(a, axis=None, out=None, keepdims: bool = False):
    """Index of the smallest element; the first one on ties, and the first NaN if any."""
    return _arg("argmin", False, a, axis, out, keepdims)


def nanargmax(a, axis=None, out=None, keepdims: bool = False):
    """:func:`argmax` ignoring NaNs; -1 where everything is NaN (JAX's choice: NumPy raises,
    which a compiled program cannot do)."""
    return _arg("nanargmax", True, a, axis, out, keepdims, nan=True)


def nanargmin(a, axis=None, out=None, keepdims: bool = False):
    """:func:`argmin` ignoring NaNs; -1 where everything is NaN."""
    return _arg("nanargmin", False, a, axis, out, keepdims, nan=True)


# ---------------------------------------------------------------------------------------------
# cumulative reductions


def _cumulative(name, op, a, axis, dtype, out, nan=False, include_initial=False,
                promote_integers=False):
    _check_out(name, out)
    a = _arr(a)
    if axis is None:
        a, ax = lax.reshape(a, (a.size,)), 0
    else:
        ax = _one_axis(axis, a.ndim, name)
    dt = _canon(dtype)
    if dt is None and promote_integers:
        dt = _sum_dtype(a.dtype)
    if dt is None:
        dt = dtypes.default_int() if a.dtype == dtypes.bool_ else a.dtype
    if nan:
        isn = _isnan(a)
        if isn is not None:
            a = lax.select(isn, _full(a.shape, 0 if op == "add" else 1, a.dtype), a)
    a = _convert(a, dt)
    if dt == dtypes.bool_:  # running "or" / "and"
        res = (lax.cummax if op == "add" else lax.cummin)(a, ax)
    else:
        res = (lax.cumsum if op == "add" else lax.cumprod)(a, ax)
    if include_initial:
        cfg = [(0, 0, 0)] * a.ndim
        cfg[ax] = (1, 0, 0)
        res = lax.pad(res, _const(0 if op == "add" else 1, dt), cfg)
    return res


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum along ``axis`` (None: of the flattened array). Bool sums as the default
    int; other dtypes keep their type (JAX's rule) unless ``dtype`` is given."""
    return _cumulative("cumsum", "add", a, axis, dtype, out)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product along ``axis`` (None: of the flattened array)."""
    return _cumulative("cumprod", "mul", a, axis, dtype, out)


def nancumsum(a, axis=None, dtype=None, out=None):
    """:func:`cumsum` treating NaN as zero."""
    return _cumulative("nancumsum", "add", a, axis, dtype, out, nan=True)


def nancumprod(a, axis=None, dtype=None, out=None):
    """:func:`cumprod` treating NaN as one."""
    return _cumulative("nancumprod", "mul", a, axis, dtype, out, nan=True)


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial: bool = False):
    """The array API's cumulative sum: ``axis`` is required unless ``x`` is 1-D;
    ``include_initial`` prepends a zero."""
    x = _arr(x)
    if axis is None and x.ndim != 1:
        raise ValueError(f"cumulative_sum: axis must be given for a {x.ndim}-D array")
    # (unlike cumsum, narrow integers sum as the default int, as JAX's cumulative_sum)
    return _cumulative("cumulative_sum", "add", x, axis, dtype, out,
                       include_initial=include_initial, promote_integers=True)


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial: bool = False):
    """The array API's cumulative product; ``include_initial`` prepends a one."""
    x = _arr(x)
    if axis is None and x.ndim != 1:
        raise ValueError(f"cumulative_prod: axis must be given for a {x.ndim}-D array")
    return _cumulative("cumulative_prod", "mul", x, axis, dtype, out,
                       include_initial=include_initial)


# ---------------------------------------------------------------------------------------------
# nan* reductions


def _nan_replaced(a, value):
    isn = _isnan(a)
    return a if isn is None else lax.select(isn, _full(a.shape, value, a.dtype), a)


def nansum(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
           where=None):
    """:func:`sum` treating NaN as zero."""
    _check_out("nansum", out)
    a = _arr(a)
    _axes(axis, a.ndim, "nansum")
    return sum(_nan_replaced(a, 0), axis, dtype, None, keepdims, initial, where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
            where=None):
    """:func:`prod` treating NaN as one."""
    _check_out("nanprod", out)
    a = _arr(a)
    _axes(axis, a.ndim, "nanprod")
    return prod(_nan_replaced(a, 1), axis, dtype, None, keepdims, initial, where)


def _nan_max_min(name, is_max, a, axis, out, keepdims, initial, where):
    _check_out(name, out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, name)
    isn = _isnan(a)
    if isn is None:
        return _max_min(name, is_max, a, axis, None, keepdims, initial, where)
    fill = -np.inf if is_max else np.inf
    res = _max_min(name, is_max, lax.select(isn, _full(a.shape, fill, a.dtype), a), axis, None,
                   keepdims, initial, where)
    if initial is not None:  # NumPy's fmax.reduce: initial stands in for an all-NaN slice
        return res
    all_nan = _all_any(name, True, isn, axes, None, keepdims, where)
    return lax.select(all_nan, _full(get_aval(res).shape, np.nan, a.dtype), res)


def nanmax(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
    """:func:`max` ignoring NaNs; NaN where every element is NaN (``initial`` if given)."""
    return _nan_max_min("nanmax", True, a, axis, out, keepdims, initial, where)


def nanmin(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
    """:func:`min` ignoring NaNs; NaN where every element is NaN."""
    return _nan_max_min("nanmin", False, a, axis, out, keepdims, initial, where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims: bool = False, *, where=None):
    """:func:`mean` of the non-NaN elements; NaN where there are none."""
    _check_out("nanmean", out)
    a = _arr(a)
    axes = _axes(axis, a.ndim, "nanmean")
    dt = _canon(dtype) or _inexact_dtype(a.dtype)
    mask = _mask(where, a.shape, "nanmean")
    isn = _isnan(a)
    if isn is not None:
        valid = lax.bitwise_not(isn)
        mask = valid if mask is None else lax.bitwise_and(mask, valid)
    return _mean_impl(a, mask, axes=axes, dt=dt, keepdims=bool(keepdims))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims: bool = False, *, where=None,
           correction=None):
    """:func:`var` of the non-NaN elements."""
    return _var_std("nanvar", False, True, a, axis, dtype, out, ddof, keepdims, where,
                    correction)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims: bool = False, *, where=None,
           correction=None):
    """:func:`std` of the non-NaN elements."""
    return _var_std("nanstd", True, True, a, axis, dtype, out, ddof, keepdims, where,
                    correction)


# ---------------------------------------------------------------------------------------------
# quantile, percentile, median

# NumPy's continuous methods: virtual index = n*q + alpha + q*(1 - alpha - beta) - 1.
_ALPHA_BETA = {"linear": (1.0, 1.0), "interpolated_inverted_cdf": (0.0, 1.0),
               "hazen": (0.5, 0.5), "weibull": (0.0, 0.0),
               "median_unbiased": (1 / 3, 1 / 3), "normal_unbiased": (3 / 8, 3 / 8)}
_METHODS = tuple(_ALPHA_BETA) + ("lower", "higher", "nearest", "midpoint")


def _take_last(x, idx):
    """``x[..., idx[..., j]]`` row by row: ``x`` is (B..., n), ``idx`` (B..., m) -> (B..., m)."""
    nb = x.ndim - 1
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(nb,),
                                start_index_map=(nb,), operand_batching_dims=tuple(range(nb)),
                                start_indices_batching_dims=tuple(range(nb)))
    return lax.gather(x, lax.expand_dims(idx, (idx.ndim,)), dn, (1,) * x.ndim,
                      mode="promise_in_bounds")


def _positions(xp, n, q, method):
    """(lower index, upper index, weight of the upper) for quantiles ``q`` of ``n`` sorted
    values, with NumPy's formulas; ``xp`` is ``np`` (concrete ``q``) or ``_LaxOps`` (traced
    ``q`` or a per-row ``n``)."""
    if method in _ALPHA_BETA:
        alpha, beta = _ALPHA_BETA[method]
        v = n * q + (alpha + q * (1 - alpha - beta)) - 1
        lo = xp.floor(v)
        g = v - lo
        hi = lo + 1
    else:
        v = (n - 1) * q
        if method == "lower":
            lo = hi = xp.floor(v)
        elif method == "higher":
            lo = hi = xp.ceil(v)
        elif method == "nearest":
            lo = hi = xp.rint(v)
        else:  # midpoint
            lo, hi = xp.floor(v), xp.ceil(v)
        g = (hi - lo) * 0.5
    top = n - 1
    return xp.clip(lo, 0, top), xp.clip(hi, 0, top), g


class _LaxOps:
    """The NumPy functions ``_positions`` uses, on traced values."""
    floor = staticmethod(lambda x: lax.floor(x))
    ceil = staticmethod(lambda x: lax.ceil(x))
    rint = staticmethod(lambda x: lax.round(x, 1))  # ties to even, like numpy.rint
    clip = staticmethod(lambda x, lo, hi: _ufuncs.maximum(_ufuncs.minimum(x, hi), lo))


def _lerp(a, b, t):
    """NumPy's interpolation: exact at both ends, ``a`` where ``a == b``."""
    d = lax.sub(b, a)
    one = _const(1, get_aval(t).dtype)
    half = _const(0.5, get_aval(t).dtype)
    r = lax.select(lax.ge(t, half), lax.sub(b, lax.mul(d, lax.sub(one, t))),
                   lax.add(a, lax.mul(d, t)))
    return lax.select(lax.eq(a, b), a, r)


@functools.partial(_jit, static_argnames=("method", "nan", "host_q", "out_dt"))
def _quantile_impl(x, q, *, method, nan, host_q, out_dt):
    """``x``: (B..., n) rows; ``q``: flat (m,) quantiles (traced) or ``host_q`` (a tuple);
    returns (B..., m)."""
    n = x.shape[-1]
    bshape = x.shape[:-1]
    x = lax.sort(x, dimension=x.ndim - 1)  # NaNs sort last
    comp = _acc_dtype(out_dt)
    if nan:
        cnt = lax.reduce_sum(lax.convert_element_type(lax.eq(x, x), dtypes.default_int(),
                                                      False), (x.ndim - 1,))
    if host_q is not None and not nan:
        lo, hi, g = _positions(np, n, np.asarray(host_q, np.float64), method)
        m = len(host_q)
        lo = lax.broadcast_in_dim(lo.astype(np.int32), bshape + (m,), (len(bshape),))
        hi = lax.broadcast_in_dim(hi.astype(np.int32), bshape + (m,), (len(bshape),))
        g = lax.broadcast_in_dim(g.astype(comp), bshape + (m,), (len(bshape),))
    else:
        qv = (np.asarray(host_q, comp) if host_q is not None else _convert(q, comp))
        m = get_aval(qv).shape[0] if not isinstance(qv, np.ndarray) else qv.shape[0]
        qv = lax.broadcast_in_dim(qv, bshape + (m,), (len(bshape),))
        nn = (lax.broadcast_in_dim(lax.convert_element_type(cnt, comp, False), bshape + (m,),
                                   tuple(range(len(bshape)))) if nan else _const(n, comp))
        lo, hi, g = _positions(_LaxOps, nn, qv, method)
        lo = lax.convert_element_type(lo, np.int32, False)
        hi = lax.convert_element_type(hi, np.int32, False)
    vlo = _convert(_take_last(x, lo), comp)
    vhi = _convert(_take_last(x, hi), comp)
    res = _lerp(vlo, vhi, g)
    if nan:
        bad = lax.eq(cnt, _const(0, get_aval(cnt).dtype))
    else:
        last = lax.slice_in_dim(x, n - 1, n, axis=x.ndim - 1)
        bad = lax.reshape(lax.ne(last, last), bshape)
    bad = lax.broadcast_in_dim(bad, bshape + (m,), tuple(range(len(bshape))))
    res = lax.select(bad, _full(bshape + (m,), np.nan, comp), res)
    return _convert(res, out_dt)


def _quantile(name, a, q, axis, out, overwrite_input, method, keepdims, interpolation, nan,
              scale):
    _check_out(name, out)
    if interpolation is not None:
        method = interpolation
    if method not in _METHODS:
        raise ValueError(f"{name}: method {method!r} is not supported; use one of "
                         + ", ".join(repr(m) for m in _METHODS))
    a = _arr(a)
    if dtypes.is_complex(a.dtype):
        raise TypeError(f"{name} does not support complex arrays")
    axes = _axes(axis, a.ndim, name)
    out_dt = _inexact_dtype(a.dtype)
    # q: concrete values are checked and turned into static positions; arrays stay traced.
    if _is_array(q):
        qa = q
        if not dtypes.is_inexact(get_aval(qa).dtype):
            qa = lax.convert_element_type(qa, dtypes.default_float(), False)
        if scale != 1:
            qa = lax.div(qa, _const(scale, get_aval(qa).dtype))
        q_shape, host_q = get_aval(qa).shape, None
        qa = lax.reshape(qa, (int(np.prod(q_shape, dtype=np.int64)),))
    else:
        qn = np.asarray(q, dtype=np.float64) / scale
        if qn.dtype == object or not np.all((qn >= 0) & (qn <= 1)):
            what = "Percentiles must be in the range [0, 100]" if scale != 1 else \
                "Quantiles must be in the range [0, 1]"
            raise ValueError(f"{name}: {what}, got {q!r}")
        q_shape, host_q, qa = qn.shape, tuple(float(v) for v in qn.ravel()), None
    rest = [i for i in range(a.ndim) if i not in axes]
    bshape = tuple(a.shape[i] for i in rest)
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    m = int(np.prod(q_shape, dtype=np.int64))
    if n == 0:
        res = _full(bshape + (m,), np.nan, out_dt)
    else:
        x = a
        if tuple(rest) + axes != tuple(range(a.ndim)):
            x = lax.transpose(x, tuple(rest) + axes)
        x = lax.reshape(x, bshape + (n,))
        res = _quantile_impl(x, qa, method=method, nan=nan and dtypes.is_inexact(a.dtype),
                             host_q=host_q, out_dt=out_dt)
    # (B..., m) -> q_shape + (kept) B shape
    res = lax.reshape(res, bshape + tuple(q_shape))
    nb, nq = len(bshape), len(q_shape)
    if nq:
        res = lax.transpose(res, tuple(range(nb, nb + nq)) + tuple(range(nb)))
    if keepdims:
        res = lax.reshape(res, tuple(q_shape) + tuple(_kept_shape(a.shape, axes)))
    return res


def quantile(a, q, axis=None, out=None, overwrite_input: bool = False, method: str = "linear",
             keepdims: bool = False, *, weights=None, interpolation=None):
    """The ``q``-th quantiles (``q`` in [0, 1], a scalar or an array) over ``axis``, from a
    sort; the result has shape ``q.shape + reduced shape``. ``method``: 'linear' (default),
    'lower', 'higher', 'nearest' (ties to even, as NumPy), 'midpoint', or the continuous
    'interpolated_inverted_cdf', 'hazen', 'weibull', 'median_unbiased', 'normal_unbiased'.
    A NaN in a reduced row makes that result NaN. Concrete ``q`` is range-checked."""
    if weights is not None:
        raise NotImplementedError("quantile: weights= is not supported")
    return _quantile("quantile", a, q, axis, out, overwrite_input, method, keepdims,
                     interpolation, False, 1)


def percentile(a, q, axis=None, out=None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights=None,
               interpolation=None):
    """:func:`quantile` with ``q`` in percent ([0, 100])."""
    if weights is not None:
        raise NotImplementedError("percentile: weights= is not supported")
    return _quantile("percentile", a, q, axis, out, overwrite_input, method, keepdims,
                     interpolation, False, 100)


def median(a, axis=None, out=None, overwrite_input: bool = False, keepdims: bool = False):
    """Median over ``axis`` (the 0.5 quantile; NaN if a reduced row holds a NaN)."""
    return _quantile("median", a, 0.5, axis, out, overwrite_input, "linear", keepdims, None,
                     False, 1)


def nanquantile(a, q, axis=None, out=None, overwrite_input: bool = False,
                method: str = "linear", keepdims: bool = False, *, weights=None,
                interpolation=None):
    """:func:`quantile` of the non-NaN elements (NaN where a row has none)."""
    if weights is not None:
        raise NotImplementedError("nanquantile: weights= is not supported")
    return _quantile("nanquantile", a, q, axis, out, overwrite_input, method, keepdims,
                     interpolation, True, 1)


def nanpercentile(a, q, axis=None, out=None, overwrite_input: bool = False,
                  method: str = "linear", keepdims: bool = False, *, weights=None,
                  interpolation=None):
    """:func:`percentile` of the non-NaN elements."""
    if weights is not None:
        raise NotImplementedError("nanpercentile: weights= is not supported")
    return _quantile("nanpercentile", a, q, axis, out, overwrite_input, method, keepdims,
                     interpolation, True, 100)


def nanmedian(a, axis=None, out=None, overwrite_input: bool = False, keepdims: bool = False):
    """:func:`median` of the non-NaN elements."""
    return _quantile("nanmedian", a, 0.5, axis, out, overwrite_input, "linear", keepdims, None,
                     True, 1)


# ---------------------------------------------------------------------------------------------


__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__]
