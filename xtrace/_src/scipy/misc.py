"""Small ``jax.scipy`` modules: ``ndimage.map_coordinates``, ``cluster.vq.vq`` and
``interpolate.RegularGridInterpolator``."""
from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Sequence

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.numpy.shapes import _eager_jit_auto
from xtrace._src.scipy.special import promote_dtypes_inexact as _promote
from xtrace._src.tree_util import register_pytree_node

# --------------------------------------------------------------------------------------------
# ndimage.map_coordinates


def _mirror_index(index, size: int):
    s = size - 1  # half-wavelength of the triangular wave
    return xnp.abs((index + s) % (2 * s) - s)


def _reflect_index(index, size: int):
    return xnp.floor_divide(_mirror_index(2 * index + 1, 2 * size + 1) - 1, 2)


_INDEX_FIXERS = {
    "constant": lambda index, size: index,
    "nearest": lambda index, size: xnp.clip(index, 0, size - 1),
    "wrap": lambda index, size: index % size,
    "mirror": _mirror_index,
    "reflect": _reflect_index,
}


def _round_half_away(a):
    return a if dtypes.is_int(a.dtype) else lax.round(a)


def _nearest_nodes(coordinate):
    return [(_round_half_away(coordinate).astype(np.int32), np.asarray(1, coordinate.dtype))]


def _linear_nodes(coordinate):
    lower = xnp.floor(coordinate)
    upper_weight = coordinate - lower
    index = lower.astype(np.int32)
    return [(index, 1 - upper_weight), (index + 1, upper_weight)]


@_eager_jit_auto
def map_coordinates(input, coordinates: Sequence, order: int, mode: str = "constant",
                    cval=0.0) -> Array:
    """Sample ``input`` at ``coordinates`` (one array per input dimension) by nearest
    (``order=0``) or linear (``order=1``) interpolation (``scipy.ndimage.map_coordinates``);
    ``mode`` is 'constant' (``cval`` outside), 'nearest', 'wrap', 'mirror' or 'reflect'."""
    x = xnp.asarray(input)
    coords = [xnp.asarray(c) for c in coordinates]
    cval = xnp.asarray(cval, x.dtype)
    if len(coords) != x.ndim:
        raise ValueError("coordinates must be a sequence of length input.ndim, but "
                         f"{len(coords)} != {x.ndim}")
    fixer = _INDEX_FIXERS.get(mode)
    if fixer is None:
        raise NotImplementedError(
            f"xtrace.scipy.ndimage.map_coordinates does not yet support mode {mode}. "
            f"Currently supported modes are {set(_INDEX_FIXERS)}.")
    if order == 0:
        nodes_fn = _nearest_nodes
    elif order == 1:
        nodes_fn = _linear_nodes
    else:
        raise NotImplementedError(
            "xtrace.scipy.ndimage.map_coordinates currently requires order<=1")
    per_dim = []
    for c, size in zip(coords, x.shape):
        nodes = []
        for index, weight in nodes_fn(c):
            valid = ((0 <= index) & (index < size)) if mode == "constant" else None
            nodes.append((fixer(index, size), valid, weight))
        per_dim.append(nodes)
    outputs = []
    for items in itertools.product(*per_dim):
        indices, valids, weights = zip(*items)
        value = x[tuple(indices)]
        if mode == "constant":
            value = xnp.where(functools.reduce(operator.and_, valids), value, cval)
        outputs.append(functools.reduce(operator.mul, weights) * value)
    result = functools.reduce(operator.add, outputs)
    if dtypes.is_int(x.dtype) or x.dtype == np.bool_:
        result = _round_half_away(result)
    return result.astype(x.dtype)


# --------------------------------------------------------------------------------------------
# cluster.vq.vq


@_eager_jit_auto
def vq(obs, code_book, check_finite: bool = True) -> tuple[Array, Array]:
    """Assign each observation to its nearest code (Euclidean): ``(codes, distances)``."""
    del check_finite
    obs, cb = _promote("xtrace.scipy.cluster.vq.vq", xnp.asarray(obs), xnp.asarray(code_book))
    if obs.ndim != cb.ndim:
        raise ValueError("Observation and code_book should have the same rank, got shapes "
                         f"{obs.shape} and {cb.shape}")
    if obs.ndim == 1:
        obs, cb = obs[..., None], cb[..., None]
    if obs.ndim != 2:
        raise ValueError("ndim different than 1 or 2 are not supported")
    dist = xnp.linalg.norm(obs[:, None, :] - cb[None, :, :], axis=-1)
    code = xnp.argmin(dist, axis=-1)
    return code, xnp.take_along_axis(dist, code[:, None], axis=-1)[:, 0]


# --------------------------------------------------------------------------------------------
# interpolate.RegularGridInterpolator


def _ndim_coords(points, ndim):
    if isinstance(points, tuple) and len(points) == 1:
        points = points[0]
    if isinstance(points, tuple):
        p = xnp.broadcast_arrays(*points)
        return xnp.stack([xnp.asarray(q, dtypes.default_float()) for q in p], axis=-1)
    points = xnp.asarray(points)
    if points.ndim == 1:
        points = points.reshape(-1, ndim)
    return points


class RegularGridInterpolator:
    """Linear or nearest-neighbour interpolation on a rectilinear grid
    (``scipy.interpolate.RegularGridInterpolator``); points outside the grid get
    ``fill_value`` (default NaN), or are extrapolated when it is None. A pytree."""

    def __init__(self, points, values, method: str = "linear", bounds_error: bool = False,
                 fill_value=np.nan):
        if method not in ("linear", "nearest"):
            raise ValueError(f"method {method!r} is not defined")
        self.method = method
        self.bounds_error = bounds_error
        if bounds_error:
            raise NotImplementedError("`bounds_error` takes no effect under JIT")
        values = xnp.asarray(values)
        if len(points) > values.ndim:
            raise ValueError(f"there are {len(points)} point arrays, but values has "
                             f"{values.ndim} dimensions")
        (values,) = _promote("RegularGridInterpolator", values)
        if fill_value is not None:
            fill_value = xnp.asarray(fill_value)
            if not xnp.can_cast(fill_value.dtype, values.dtype, casting="same_kind"):
                raise ValueError("fill_value must be either 'None' or of a type compatible "
                                 "with values")
        self.fill_value = fill_value
        self.grid = tuple(xnp.asarray(p) for p in points)
        self.values = values

    def __call__(self, xi, method: str | None = None) -> Array:
        method = self.method if method is None else method
        if method not in ("linear", "nearest"):
            raise ValueError(f"method {method!r} is not defined")
        ndim = len(self.grid)
        xi = _ndim_coords(xi, ndim)
        if xi.shape[-1] != ndim:
            raise ValueError(f"the requested sample points xi have dimension {xi.shape[-1]}, "
                             f"but this RegularGridInterpolator has dimension {ndim}")
        xi_shape = xi.shape
        xi = xi.reshape(-1, xi_shape[-1])
        indices, dists, out_of_bounds = self._find_indices(xi.T)
        if method == "linear":
            result = self._evaluate_linear(indices, dists)
        else:
            result = self._evaluate_nearest(indices, dists)
        if self.fill_value is not None:
            shape = result.shape[:1] + (1,) * (result.ndim - 1)
            result = xnp.where(out_of_bounds.reshape(shape), self.fill_value, result)
        return result.reshape(xi_shape[:-1] + self.values.shape[ndim:])

    def _evaluate_linear(self, indices, dists):
        vslice = (slice(None),) + (None,) * (self.values.ndim - len(indices))
        values = xnp.asarray(0.0)
        for edge in itertools.product(*[[i, i + 1] for i in indices]):
            weight = xnp.asarray(1.0)
            for ei, i, yi in zip(edge, indices, dists):
                weight = weight * xnp.where(ei is i, 1 - yi, yi)
            values = values + self.values[edge] * weight[vslice]
        return values

    def _evaluate_nearest(self, indices, dists):
        idx = [xnp.where(yi <= 0.5, i, i + 1) for i, yi in zip(indices, dists)]
        return self.values[tuple(idx)]

    def _find_indices(self, xi):
        indices, dists = [], []
        out_of_bounds = xnp.zeros((xi.shape[1],), dtype=bool)
        for x, g in zip(xi, self.grid):
            i = xnp.clip(xnp.searchsorted(g, x) - 1, 0, g.size - 2)
            indices.append(i)
            dists.append((x - g[i]) / (g[i + 1] - g[i]))
            out_of_bounds = out_of_bounds | (x < g[0]) | (x > g[-1])
        return indices, dists, out_of_bounds


register_pytree_node(
    RegularGridInterpolator,
    lambda obj: ((obj.grid, obj.values, obj.fill_value), (obj.method, obj.bounds_error)),
    lambda aux, children: RegularGridInterpolator(*children[:2], *aux, *children[2:]))
