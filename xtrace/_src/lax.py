"""The lax functions: thin wrappers that bind primitives (each defined beside its record)."""
from xtrace._src.prims.elementwise import (  # noqa: F401
    RoundingMethod, abs, acos, acosh, add, asin, asinh, atan, atan2, atanh,
    bitcast_convert_type, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, cbrt, ceil, clamp,
    clz, complex, conj, convert_element_type, cos, cosh, digamma, div, eq, erf, erf_inv, erfc,
    exp, exp2, expm1, floor, ge, gt, imag, integer_pow, is_finite, le, lgamma, log, log1p,
    logistic, lt, max, min, mul, mulhi, ne, neg, nextafter, polygamma, population_count, pow,
    real, reciprocal, reduce_precision, rem, round, rsqrt, select, select_n, shift_left,
    shift_right_arithmetic, shift_right_logical, sign, sin, sinh, sqrt, square, sub, tan, tanh,
    zeta, bessel_i1e)
from xtrace._src.lax_special import (  # noqa: F401
    bessel_i0e, betainc, igamma, igamma_grad_a, igammac, random_gamma_grad,
    regularized_incomplete_beta)
from xtrace._src.prims.indexing import (  # noqa: F401
    GatherDimensionNumbers, GatherScatterMode, ScatterDimensionNumbers, gather, index_take,
    scatter, scatter_add, scatter_apply, scatter_max, scatter_min, scatter_mul, scatter_sub)
from xtrace._src.prims.linalg import (  # noqa: F401
    DotDimensionNumbers, Precision, PrecisionLike, batch_matmul, dot, dot_general)
from xtrace._src.prims.reductions import (  # noqa: F401
    argmax, argmin, cumlogsumexp, cummax, cummin, cumprod, cumsum, reduce, reduce_and,
    reduce_max, reduce_min, reduce_or, reduce_prod, reduce_sum, reduce_xor)
from xtrace._src.prims.structural import (  # noqa: F401
    broadcast, broadcast_in_dim, broadcast_like, broadcast_shapes, broadcast_to_rank,
    broadcasted_iota, collapse, concatenate, dynamic_index_in_dim, dynamic_slice,
    dynamic_slice_in_dim, dynamic_update_index_in_dim, dynamic_update_slice,
    dynamic_update_slice_in_dim, empty, expand_dims, full, full_like, index_in_dim, iota, pad,
    reshape, rev, slice, slice_in_dim, split, squeeze, stack, tile, transpose, unstack)

from xtrace._src.prims.conv import (  # noqa: F401
    ConvDimensionNumbers, ConvGeneralDilatedDimensionNumbers, conv, conv_dimension_numbers,
    conv_general_dilated, conv_general_dilated_local, conv_general_dilated_patches,
    conv_general_permutations,
    conv_general_shape_tuple, conv_shape_tuple, conv_transpose, conv_transpose_shape_tuple,
    conv_with_general_padding, padtype_to_pads)
from xtrace._src.prims.sorting import (  # noqa: F401
    approx_max_k, approx_min_k, sort, sort_key_val, top_k)
from xtrace._src.prims.higher_order import (  # noqa: F401
    associative_scan, custom_linear_solve, custom_root)
from xtrace._src.prims.rng import RandomAlgorithm, rng_bit_generator  # noqa: F401
from xtrace._src.prims.windowed import reduce_window, reduce_window_shape_tuple  # noqa: F401
from xtrace._src.prims.fft import FftType, fft  # noqa: F401
from xtrace._src.prims.control_flow import (  # noqa: F401
    cond, fori_loop, map, optimization_barrier, platform_dependent, scan, switch, while_loop)
from xtrace._src.prims.collectives import (  # noqa: F401
    all_gather, all_to_all, axis_index, axis_size, pmax, pmean, pmin, ppermute, psum,
    psum_scatter)
from xtrace._src.custom_derivatives import stop_gradient  # noqa: F401,E402


def dtype(x) -> "np.dtype":
    """The (canonical: 32-bit unless x64 is enabled) dtype of an array, scalar or dtype-like."""
    import numpy as np
    from xtrace._src import core, dtypes
    if isinstance(x, (type, np.dtype, str)):
        return dtypes.canonicalize_dtype(x)
    return core.get_aval(x).dtype
