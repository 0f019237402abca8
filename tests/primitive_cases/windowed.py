"""Cases for the primitives of ``xtrace/_src/prims/windowed.py`` (reduce_window_sum, _max,
_min and the general reduce_window), against a NumPy loop over the windows."""
from __future__ import annotations

import itertools

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand


def np_reduce_window(x, init, ufunc, wd, ws, pads, bd=None, wdl=None):
    """Reference: dilate the base with ``init``, pad with ``init``, reduce each (dilated)
    window with ``ufunc.reduce`` starting from ``init``."""
    x = np.asarray(x)
    n = x.ndim
    bd = bd or (1,) * n
    wdl = wdl or (1,) * n
    dil = np.full([0 if d == 0 else (d - 1) * b + 1 for d, b in zip(x.shape, bd)], init,
                  x.dtype)
    dil[tuple(slice(None, None, b) for b in bd)] = x
    padded = np.full([d + lo + hi for d, (lo, hi) in zip(dil.shape, pads)], init, x.dtype)
    padded[tuple(slice(lo, lo + d) for d, (lo, _) in zip(dil.shape, pads))] = dil
    span = [(w - 1) * r + 1 for w, r in zip(wd, wdl)]
    out_shape = [0 if p < s else (p - s) // st + 1 for p, s, st in zip(padded.shape, span, ws)]
    out = np.empty(out_shape, x.dtype)
    for idx in itertools.product(*map(range, out_shape)):
        win = padded[tuple(slice(i * st, i * st + s, r)
                           for i, st, s, r in zip(idx, ws, span, wdl))]
        out[idx] = ufunc.reduce(np.concatenate([np.asarray([init], x.dtype), win.ravel()]))
    return out


_X = rand((4, 5), np.float32, 3)
_P = dict(window_dimensions=(2, 3), window_strides=(1, 2), padding=((1, 0), (1, 2)))
_D = dict(window_dimensions=(2, 2), window_strides=(2, 1), padding=((0, 1), (1, 1)),
          base_dilation=(2, 1), window_dilation=(1, 2))


def _ref(ufunc, init, p):
    return lambda x: np_reduce_window(x, init, ufunc, p["window_dimensions"],
                                      p["window_strides"], p["padding"], p.get("base_dilation"),
                                      p.get("window_dilation"))


def _cases(fn, ufunc, init_of, rtol=1e-6):
    out = []
    for name, p, x in (("strided", _P, _X), ("dilated", _D, _X),
                       ("f64", _P, rand((3, 4), np.float64, 4)),
                       ("int", _D, rand((3, 5), np.int32, 5))):
        init = init_of(x.dtype)
        out.append(Case(lambda v, p=p: fn(v, p), [x], _ref(ufunc, init, p), rtol=rtol,
                        name=name, x64=x.dtype == np.float64))
    return out


def _ident(kind):
    def f(dt):
        if kind == "add":
            return np.zeros((), dt)[()]
        if np.issubdtype(dt, np.floating):
            return np.asarray(-np.inf if kind == "max" else np.inf, dt)[()]
        info = np.iinfo(dt)
        return np.asarray(info.min if kind == "max" else info.max, dt)[()]
    return f


def _monoid(comp, kind):
    return lambda v, p: lax.reduce_window(v, _ident(kind)(v.dtype), comp, **p)


def _generic(v, p):
    # not lax.add itself: the general primitive, with the computation as its region
    return lax.reduce_window(v, np.zeros((), v.dtype)[()], lambda a, b: a + b, **p)


CASES = {
    "reduce_window_sum": _cases(_monoid(lax.add, "add"), np.add, _ident("add")),
    "reduce_window_max": _cases(_monoid(lax.max, "max"), np.maximum, _ident("max")),
    "reduce_window_min": _cases(_monoid(lax.min, "min"), np.minimum, _ident("min")),
    "reduce_window": _cases(_generic, np.add, _ident("add")),
}
