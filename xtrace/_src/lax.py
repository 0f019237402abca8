"""The lax functions: thin wrappers that bind primitives (each defined beside its record)."""
from xtrace._src.prims.elementwise import (  # noqa: F401
    abs, acos, acosh, add, asin, asinh, atan, atan2, atanh, bitcast_convert_type, bitwise_and,
    bitwise_not, bitwise_or, bitwise_xor, cbrt, ceil, clamp, clz, complex, conj,
    convert_element_type, cos, cosh, digamma, div, eq, erf, erf_inv, erfc, exp, exp2, expm1,
    floor, ge, gt, imag, integer_pow, is_finite, le, lgamma, log, log1p, logistic, lt, max, min,
    mul, ne, neg, nextafter, polygamma, population_count, pow, real, rem, round, rsqrt, select,
    select_n,
    shift_left, shift_right_arithmetic, shift_right_logical, sign, sin, sinh, sqrt, square, sub,
    tan, tanh, zeta, bessel_i1e)
from xtrace._src.lax_special import (  # noqa: F401
    bessel_i0e, betainc, igamma, igamma_grad_a, igammac, random_gamma_grad,
    regularized_incomplete_beta)
from xtrace._src.prims.indexing import (  # noqa: F401
    GatherDimensionNumbers, GatherScatterMode, ScatterDimensionNumbers, gather, scatter,
    scatter_add, scatter_max, scatter_min, scatter_mul)
from xtrace._src.prims.linalg import dot, dot_general  # noqa: F401
from xtrace._src.prims.reductions import (  # noqa: F401
    argmax, argmin, cummax, cummin, cumprod, cumsum, reduce_and, reduce_max, reduce_min,
    reduce_or, reduce_prod, reduce_sum, reduce_xor)
from xtrace._src.prims.structural import (  # noqa: F401
    broadcast, broadcast_in_dim, broadcasted_iota, concatenate, dynamic_slice,
    dynamic_update_slice, expand_dims, index_in_dim, iota, pad, reshape, rev, slice,
    slice_in_dim, squeeze, transpose)

from xtrace._src.prims.conv import (  # noqa: F401
    ConvDimensionNumbers, conv, conv_dimension_numbers, conv_general_dilated,
    conv_with_general_padding)
from xtrace._src.prims.sorting import sort, sort_key_val, top_k  # noqa: F401
from xtrace._src.prims.control_flow import (  # noqa: F401
    cond, fori_loop, map, scan, switch, while_loop)
from xtrace._src.prims.collectives import (  # noqa: F401
    all_gather, all_to_all, axis_index, pmax, pmean, pmin, ppermute, psum, psum_scatter)
from xtrace._src.custom_derivatives import stop_gradient  # noqa: F401,E402
