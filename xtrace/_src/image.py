"""``jax.image``: ``resize``, ``scale_and_translate`` and ``ResizeMethod``.

Every method except nearest is separable: along each resized dimension the output is the
input times a ``(input_size, output_size)`` weight matrix built from the method's kernel
(triangle, Keys cubic, OpenCV/PyTorch cubic, Lanczos, or box overlap for area), normalized to
sum to one per output sample. With ``antialias`` the kernel is widened by the downsampling
factor. The weights follow JAX 0.10.2's ``jax._src.image.scale``.
"""
from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Sequence

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import lax
from xtrace._src.array import Array
from xtrace._src.numpy.shapes import _eager_jit_auto


def _promote(name: str, *xs) -> list:
    # imported here: ``import xtrace`` loads this module but not scipy.special
    from xtrace._src.scipy.special import promote_dtypes_inexact
    return promote_dtypes_inexact(name, *xs)


class ResizeMethod(enum.Enum):
    """Image resize methods (``jax.image.ResizeMethod``); ``from_string`` parses the names
    ``resize`` accepts."""
    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s: str) -> "ResizeMethod":
        names = {"nearest": ResizeMethod.NEAREST, "linear": ResizeMethod.LINEAR,
                 "bilinear": ResizeMethod.LINEAR, "trilinear": ResizeMethod.LINEAR,
                 "triangle": ResizeMethod.LINEAR, "lanczos3": ResizeMethod.LANCZOS3,
                 "lanczos5": ResizeMethod.LANCZOS5, "cubic": ResizeMethod.CUBIC,
                 "bicubic": ResizeMethod.CUBIC, "tricubic": ResizeMethod.CUBIC,
                 "cubic-pytorch": ResizeMethod.CUBIC_PYTORCH,
                 "bicubic-pytorch": ResizeMethod.CUBIC_PYTORCH, "area": ResizeMethod.AREA}
        if s not in names:
            raise ValueError(f'Unknown resize method "{s}"')
        return names[s]


def _lanczos(radius: float, x):
    y = radius * xnp.sin(np.pi * x) * xnp.sin(np.pi * x / radius)
    out = xnp.where(x > 1e-3, y / xnp.where(x != 0, np.pi ** 2 * x ** 2, 1), 1)
    return xnp.where(x > radius, 0.0, out)


def _keys_cubic(x):
    out = (1.5 * x - 2.5) * x * x + 1.0
    out = xnp.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return xnp.where(x >= 2.0, 0.0, out)


def _opencv_cubic(x):
    a = -0.75
    out = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    out = xnp.where(x >= 1.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a, out)
    return xnp.where(x >= 2.0, 0.0, out)


def _triangle(x):
    return xnp.maximum(0, 1 - xnp.abs(x))


_AREA = object()  # box-overlap weights instead of a kernel

# method -> (kernel radius, kernel)
_KERNELS = {
    ResizeMethod.LINEAR: (1, _triangle),
    ResizeMethod.LANCZOS3: (3, lambda x: _lanczos(3.0, x)),
    ResizeMethod.LANCZOS5: (5, lambda x: _lanczos(5.0, x)),
    ResizeMethod.CUBIC: (2, _keys_cubic),
    ResizeMethod.CUBIC_PYTORCH: (2, _opencv_cubic),
    ResizeMethod.AREA: (1, _AREA),
}

_EPS_SUM = 1000.0 * float(np.finfo(np.float32).eps)


def _normalize(weights):
    total = xnp.sum(weights, axis=0, keepdims=True)
    return xnp.where(xnp.abs(total) > _EPS_SUM, weights / xnp.where(total != 0, total, 1), 0)


def _weight_matrix(in_size: int, out_size: int, scale, translation, kernel: Callable,
                   antialias: bool, edge_padding: bool, radius: int):
    """The ``(in_size, out_size)`` resampling weights along one dimension."""
    dtype = xnp.result_type(scale, translation)
    inv_scale = 1.0 / scale
    kernel_scale = xnp.maximum(inv_scale, 1.0) if antialias else 1.0
    # output sample centres, in input coordinates
    sample_f = ((xnp.arange(out_size, dtype=dtype) + 0.5) * inv_scale
                - translation * inv_scale - 0.5)
    k = radius if edge_padding else 0  # edge padding only comes without antialiasing
    expanded = xnp.arange(-k, in_size + k, dtype=dtype)
    if kernel is _AREA:
        left_out = xnp.arange(out_size, dtype=dtype) * inv_scale - translation * inv_scale
        right_out = left_out + inv_scale
        left_in = xnp.arange(in_size, dtype=dtype)
        weights = xnp.maximum(0.0, xnp.minimum(right_out[None, :], left_in[:, None] + 1.0)
                              - xnp.maximum(left_out[None, :], left_in[:, None]))
    else:
        weights = kernel(xnp.abs(sample_f[None, :] - expanded[:, None]) / kernel_scale)
    if edge_padding:
        # samples beyond the edges take the edge value: fold their weights onto it
        clamped = xnp.clip(expanded.astype(np.int32), 0, in_size - 1)
        mat = xnp.zeros((in_size, out_size), dtype=dtype)
        cols = xnp.broadcast_to(xnp.arange(out_size)[None, :], (expanded.shape[0], out_size))
        return _normalize(mat.at[clamped[:, None], cols].add(weights))
    weights = _normalize(weights)
    inside = (sample_f >= -0.5) & (sample_f <= in_size - 0.5)
    return xnp.where(inside[None, :], weights, 0)


def _scale_and_translate(x, shape, spatial_dims, scale, translation, kernel, antialias,
                         precision, edge_padding=False, radius=None):
    for i, d in enumerate(spatial_dims):
        d = _dim(d, x.ndim)
        w = _weight_matrix(x.shape[d], shape[d], scale[i], translation[i], kernel, antialias,
                           edge_padding, radius).astype(x.dtype)
        x = xnp.moveaxis(xnp.tensordot(x, w, axes=([d], [0]), precision=precision), -1, d)
    return x


def _dim(d, ndim: int) -> int:
    d = operator.index(d)
    if not -ndim <= d < ndim:
        raise ValueError(f"spatial dimension {d} is out of bounds for an image with {ndim} "
                         "dimensions")
    return d % ndim


def _canonical_shape(shape, image) -> tuple[int, ...]:
    shape = tuple(operator.index(s) for s in (shape if isinstance(shape, (tuple, list))
                                              else (shape,)))
    if len(shape) != image.ndim:
        raise ValueError("shape must have length equal to the number of dimensions of x;  "
                         f"{shape} vs {image.shape}")
    return shape


def _method(method) -> ResizeMethod:
    if isinstance(method, str):
        method = ResizeMethod.from_string(method)
    if not isinstance(method, ResizeMethod):
        raise TypeError(f"method must be a string or a ResizeMethod, got {method!r}")
    return method


def _kernel_for(method: ResizeMethod, antialias: bool):
    if method == ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    radius, kernel = _KERNELS[method]
    return radius, kernel, method == ResizeMethod.CUBIC_PYTORCH


@_eager_jit_auto
def scale_and_translate(image, shape: Sequence[int], spatial_dims: Sequence[int], scale,
                        translation, method: str | ResizeMethod, antialias: bool = True,
                        precision=lax.Precision.HIGHEST) -> Array:
    """Resample ``image`` to ``shape`` along ``spatial_dims`` with output coordinates
    ``x_out = x_in * scale + translation`` (pixel centres at half-integers), using ``method``
    (any but nearest). With ``antialias``, downsampling widens the kernel by ``1/scale``."""
    image = xnp.asarray(image)
    shape = _canonical_shape(shape, image)
    method = _method(method)
    if method == ResizeMethod.NEAREST:
        raise ValueError("Nearest neighbor resampling is not currently supported for "
                         "scale_and_translate.")
    radius, kernel, edge_padding = _kernel_for(method, antialias)
    (image,) = _promote("xtrace.image.scale_and_translate", image)
    for name, v in (("scale", scale), ("translation", translation)):
        if isinstance(v, (list, tuple)):
            raise TypeError(f"scale_and_translate: {name} must be an array, got a "
                            f"{type(v).__name__} (as in JAX)")
    scale, translation = _promote("xtrace.image.scale_and_translate", scale, translation)
    spatial_dims = tuple(spatial_dims)
    if len(spatial_dims) != np.size(scale) or len(spatial_dims) != np.size(translation):
        raise ValueError("scale and translation must have one entry per spatial dimension, "
                         f"got {np.shape(scale)} and {np.shape(translation)} for "
                         f"spatial_dims={spatial_dims}")
    scale, translation = xnp.reshape(scale, (-1,)), xnp.reshape(translation, (-1,))
    return _scale_and_translate(image, shape, spatial_dims, scale, translation, kernel,
                                antialias, precision, edge_padding, radius)


def _resize_nearest(x, shape) -> Array:
    for d, (m, n) in enumerate(zip(x.shape, shape)):
        if m == n:
            continue
        offsets = np.floor((np.arange(n, dtype=np.float32) + np.float32(0.5))
                           * np.float32(m) / np.float32(n)).astype(np.int32)
        x = xnp.take(x, offsets, axis=d)
    return x


@_eager_jit_auto
def resize(image, shape: Sequence[int], method: str | ResizeMethod, antialias: bool = True,
           precision=lax.Precision.HIGHEST) -> Array:
    """Resize ``image`` to ``shape`` (``jax.image.resize``): every dimension whose size
    changes is resampled with ``method`` ('nearest', 'linear', 'cubic', 'cubic-pytorch',
    'lanczos3', 'lanczos5', 'area' or a ``ResizeMethod``); pixel centres sit at half-integers.
    Nearest keeps the dtype; the others return an inexact array."""
    image = xnp.asarray(image)
    shape = _canonical_shape(shape, image)
    method = _method(method)
    if method == ResizeMethod.NEAREST:
        return _resize_nearest(image, shape)
    (image,) = _promote("xtrace.image.resize", image)
    dims = tuple(i for i in range(image.ndim) if image.shape[i] != shape[i])
    radius, kernel, edge_padding = _kernel_for(method, antialias)
    scale = [1.0 if shape[d] == 0 else shape[d] / image.shape[d] for d in dims]
    return _scale_and_translate(image, shape, dims, scale, [0.0] * len(dims), kernel,
                                antialias, precision, edge_padding, radius)
