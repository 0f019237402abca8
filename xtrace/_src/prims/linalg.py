"""Contractions: dot_general (batch and contracting dimensions, precision, preferred type)."""
from __future__ import annotations

import enum
from typing import Any, Sequence, Union

import ml_dtypes

from xtrace._src import dtypes
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.lowering import i64_array
from xtrace._src.prims.common import NUM, check_kind, define, lax_args

_PRECISIONS = {None: "DEFAULT", "default": "DEFAULT", "fastest": "DEFAULT", "high": "HIGH",
               "highest": "HIGHEST", "bfloat16": "DEFAULT", "tensorfloat32": "HIGH",
               "float32": "HIGHEST"}


class Precision(enum.Enum):
    """Matrix-multiply precision (``DEFAULT``, ``HIGH``, ``HIGHEST``; also from the strings
    'default', 'fastest', 'high', 'highest', 'bfloat16', 'tensorfloat32', 'float32'). It only
    matters on accelerators: CPU computes float32 products in float32 whatever it says."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value: object) -> "Precision | None":
        name = _PRECISIONS.get(value.lower()) if isinstance(value, str) else None
        return None if name is None else cls[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __str__(self) -> str:
        return self.name


PrecisionLike = Union[None, str, Precision, tuple[str, str], tuple[Precision, Precision]]
DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]


def canonicalize_precision(precision: Any) -> tuple[str, str]:
    if isinstance(precision, (tuple, list)) and len(precision) == 2:
        return tuple(canonicalize_precision(p)[0] for p in precision)  # type: ignore
    key = precision.lower() if isinstance(precision, str) else precision
    key = getattr(key, "name", key)
    if isinstance(key, str):
        key = key.lower()
    if key not in _PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use None, 'default', 'high' or "
                         "'highest'")
    p = _PRECISIONS[key]
    return (p, p)


def _dot_abstract(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    for name, dims, a in (("lhs contracting", lc, lhs), ("rhs contracting", rc, rhs),
                          ("lhs batch", lb, lhs), ("rhs batch", rb, rhs)):
        if any(not 0 <= d < a.ndim for d in dims):
            raise TypeError(f"dot_general: {name} dimensions {dims} out of range for shape "
                            f"{a.shape}")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f"dot_general: dimension_numbers {dimension_numbers} pair unequal "
                        "numbers of dimensions")
    if len(set(lc) | set(lb)) != len(lc) + len(lb) or len(set(rc) | set(rb)) != len(rc) + len(rb):
        raise TypeError(f"dot_general: repeated dimensions in {dimension_numbers}")
    for l, r in zip(lc, rc):
        if lhs.shape[l] != rhs.shape[r]:
            raise TypeError(f"dot_general: contracting dimension {l} of lhs {lhs.shape} "
                            f"(size {lhs.shape[l]}) does not match dimension {r} of rhs "
                            f"{rhs.shape} (size {rhs.shape[r]})")
    for l, r in zip(lb, rb):
        if lhs.shape[l] != rhs.shape[r]:
            raise TypeError(f"dot_general: batch dimension {l} of lhs {lhs.shape} does not "
                            f"match dimension {r} of rhs {rhs.shape}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general requires operands of the same dtype, got "
                        f"{lhs.dtype.name} and {rhs.dtype.name}")
    check_kind("dot_general", lhs, NUM + ("bool",))
    batch = [lhs.shape[d] for d in lb]
    lfree = [s for i, s in enumerate(lhs.shape) if i not in lc and i not in lb]
    rfree = [s for i, s in enumerate(rhs.shape) if i not in rc and i not in rb]
    dt = lhs.dtype if preferred_element_type is None else preferred_element_type
    return ShapedArray(batch + lfree + rfree, dt,
                       lhs.weak_type and rhs.weak_type and preferred_element_type is None)


def _dims(xs: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(x)) for x in xs) + "]"


def _outer_lower(ctx, lhs, rhs, lb, rb):
    """A dot_general without contracting dimensions is an (batched) outer product: broadcast
    both operands to the output shape and multiply. XLA fuses this into one loop, where its dot
    emitter would run a matrix multiply with an inner dimension of 1 per batch element (the
    per-example gradients of a dense layer are exactly this)."""
    la, ra = ctx.avals_in
    out = ctx.avals_out[0]
    nb = len(lb)
    lfree = [i for i in range(la.ndim) if i not in lb]
    rfree = [i for i in range(ra.ndim) if i not in rb]
    ldims = [0] * la.ndim
    for k, d in enumerate(lb):
        ldims[d] = k
    for k, d in enumerate(lfree):
        ldims[d] = nb + k
    rdims = [0] * ra.ndim
    for k, d in enumerate(rb):
        rdims[d] = k
    for k, d in enumerate(rfree):
        rdims[d] = nb + len(lfree) + k
    full = ShapedArray(out.shape, out.dtype)
    operands = []
    for x, a, dims in ((lhs, la, ldims), (rhs, ra, rdims)):
        if a.dtype != out.dtype:
            x = ctx.op1("stablehlo.convert", [x], a.update(dtype=out.dtype), operand_avals=[a])
            a = a.update(dtype=out.dtype)
        operands.append(ctx.op1("stablehlo.broadcast_in_dim", [x], full,
                                f"broadcast_dimensions = {i64_array(dims)}", operand_avals=[a]))
    return ctx.op1("stablehlo.multiply", operands, full, operand_avals=[full, full])


def _dot_lower(ctx, lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    if not lc and ctx.avals_out[0].dtype != dtypes.bool_:
        return _outer_lower(ctx, lhs, rhs, lb, rb)
    p0, p1 = precision
    attrs = (f"dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = {_dims(lb)}, "
             f"rhs_batching_dimensions = {_dims(rb)}, lhs_contracting_dimensions = {_dims(lc)}, "
             f"rhs_contracting_dimensions = {_dims(rc)}>, precision_config = "
             f"[#stablehlo<precision {p0}>, #stablehlo<precision {p1}>]")
    return ctx.op1("stablehlo.dot_general", [lhs, rhs], attrs=attrs)


dot_general_p = define("dot_general", _dot_abstract, _dot_lower)


def _dot_type_rank(dt) -> tuple:
    """XLA's "higher precision type" order (JAX's dot_general dtype rule): complex first, then
    exponent range, mantissa bits, bit width, signedness."""
    fl = ml_dtypes.finfo(dt) if dtypes.is_inexact(dt) else None  # complex: its real part's
    bits = 1 if dt == dtypes.bool_ else 8 * dt.itemsize // (2 if dtypes.is_complex(dt) else 1)
    return (dtypes.is_complex(dt), fl.maxexp if fl else -1, fl.nmant if fl else -1, bits,
            not dtypes.is_unsigned(dt))


def _dot_operands(lhs, rhs):
    """Operands of different dtypes meet at the more precise one, as in JAX (``int8 @ float32``
    is a float32 product); two dtypes of equal rank are a TypeError."""
    ld, rd = get_aval(lhs).dtype, get_aval(rhs).dtype
    if ld == rd:
        return lhs, rhs
    lr, rr = _dot_type_rank(ld), _dot_type_rank(rd)
    if lr == rr:
        raise TypeError(f"dot_general requires operands of the same dtype, got {ld.name} and "
                        f"{rd.name}")
    from xtrace._src.prims.elementwise import convert_element_type
    if lr > rr:
        return lhs, convert_element_type(rhs, ld)
    return convert_element_type(lhs, rd), rhs


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """General tensor contraction: ``dimension_numbers = ((lhs_contract, rhs_contract),
    (lhs_batch, rhs_batch))``; output dims are batch, lhs free, rhs free. Operands of
    different dtypes are computed in the more precise one (JAX's rule)."""
    lhs, rhs = _dot_operands(*lax_args(lhs, rhs))
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(int(d) for d in lc), tuple(int(d) for d in rc)),
          (tuple(int(d) for d in lb), tuple(int(d) for d in rb)))
    pet = None if preferred_element_type is None else dtypes.canonicalize_dtype(
        preferred_element_type)
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = ((tuple(d % max(la.ndim, 1) for d in dn[0][0]),
           tuple(d % max(ra.ndim, 1) for d in dn[0][1])), dn[1])
    if pet == la.dtype and la.dtype == ra.dtype:
        pet = None
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn,
                              precision=canonicalize_precision(precision),
                              preferred_element_type=pet)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix product of rank-1 or rank-2 arrays (lax.dot)."""
    la, ra = get_aval(lhs), get_aval(rhs)
    if la.ndim not in (1, 2) or ra.ndim not in (1, 2):
        raise TypeError(f"lax.dot needs rank-1 or rank-2 operands, got shapes {la.shape} and "
                        f"{ra.shape}")
    return dot_general(lhs, rhs, (((la.ndim - 1,), (0,)), ((), ())), precision,
                       preferred_element_type)


def batch_matmul(lhs, rhs, precision=None):
    """Matrix products of ``lhs[..., i, j]`` and ``rhs[..., j, k]`` over equal leading batch
    dimensions."""
    lhs, rhs = lax_args(lhs, rhs)
    ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
    if min(ln, rn) < 2:
        raise ValueError(f"Arguments to batch_matmul must be at least 2D, got {ln}, {rn}")
    if ln != rn:
        raise ValueError(f"Arguments to batch_matmul must have same ndim, got {ln}, {rn}")
    batch = tuple(range(ln - 2))
    return dot_general(lhs, rhs, (((ln - 1,), (rn - 2,)), (batch, batch)), precision=precision)


# ---------------------------------------------------------------------------------------------
# Differentiation rules: dot_general is bilinear.
from xtrace._src import ad  # noqa: E402
from xtrace._src.ad import Zero, is_undefined  # noqa: E402


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield list(range(start, start + len(x)))
        start += len(x)


def _remaining(n, *removed):
    drop = set(d for r in removed for d in r)
    return [i for i in range(n) if i not in drop]


def _dot_transpose_lhs(ct, x_aval, y, *, dimension_numbers, precision,
                       preferred_element_type, swap_ans=False):
    import numpy as np
    from xtrace._src.prims.elementwise import convert_element_type
    from xtrace._src.prims.structural import transpose
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    y_ndim = get_aval(y).ndim
    x_kept = _remaining(x_aval.ndim, x_contract, x_batch)
    y_kept = _remaining(y_ndim, y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((tuple(ans_y), tuple(y_kept)), (tuple(ans_batch), tuple(y_batch)))
    x_contract_sorted_by_y = list(np.take(x_contract, np.argsort(y_contract))) \
        if len(x_contract) else []
    out_axes = np.argsort(list(x_batch) + x_kept + x_contract_sorted_by_y)
    y = convert_element_type(y, get_aval(ct).dtype) if get_aval(y).dtype != get_aval(
        ct).dtype else y
    perm = [int(i) for i in out_axes]
    if not dims[0][0] and perm != sorted(perm):
        # An outer product (no contraction): order the operands so that it comes out in x's
        # layout instead of transposing a possibly huge result (per-example weight gradients).
        nb, n_ct = len(dims[1][0]), get_aval(ct).ndim - len(dims[1][0])
        to_swapped = [i if i < nb else
                      (i - nb + (get_aval(y).ndim - nb) + nb if i < nb + n_ct else i - n_ct)
                      for i in range(len(perm))]
        swapped = [to_swapped[i] for i in perm]
        if swapped == sorted(swapped):
            res = dot_general_p.bind(y, ct, dimension_numbers=(((), ()), (dims[1][1], dims[1][0])),
                                     precision=tuple(precision[::-1]),
                                     preferred_element_type=None)
            perm = None
    if perm is not None:
        res = dot_general_p.bind(ct, y, dimension_numbers=dims, precision=precision,
                                 preferred_element_type=None)
        res = transpose(res, tuple(perm))
    if get_aval(res).dtype != x_aval.dtype:
        res = convert_element_type(res, x_aval.dtype)
    return res


def _dot_transpose(ct, x, y, *, dimension_numbers, precision, preferred_element_type):
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None,
                Zero(y.aval) if is_undefined(y) else None]
    (xc, yc), (xb, yb) = dimension_numbers
    tx = ty = None
    if is_undefined(x):
        tx = _dot_transpose_lhs(ct, x.aval, y, dimension_numbers=dimension_numbers,
                                precision=precision,
                                preferred_element_type=preferred_element_type)
    if is_undefined(y):
        ty = _dot_transpose_lhs(ct, y.aval, x, dimension_numbers=((yc, xc), (yb, xb)),
                                precision=precision,
                                preferred_element_type=preferred_element_type, swap_ans=True)
    return [tx, ty]


ad.defbilinear(dot_general_p, _dot_transpose)


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap) of the records above: the vmapped dimension becomes one more dimension
# of the same dot_general, so no operand is moved or copied.
from xtrace._src import batching  # noqa: E402


def _bump(dims: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Example dimensions ``dims`` renumbered in the array whose batch dimension is ``bdim``."""
    return tuple(batching.shift_axis(d, bdim) for d in dims)


def _dot_batch_dims(ndims, bdims, dimension_numbers):
    """The dimension numbers of the batched dot_general and the output's batch dimension.

    Both operands batched: the two batch dimensions pair up as a new dot_general batch
    dimension, put first (output dimension 0). One operand batched: its batch dimension is a
    free dimension; the output lists batch dimensions, then lhs free, then rhs free dimensions
    (each in operand order), which places it."""
    lbd, rbd = bdims
    (lc, rc), (lb, rb) = dimension_numbers
    if lbd is not None and rbd is not None:
        dn = ((_bump(lc, lbd), _bump(rc, rbd)),
              ((lbd,) + _bump(lb, lbd), (rbd,) + _bump(rb, rbd)))
        return dn, 0
    if lbd is not None:
        lfree = [d for d in range(ndims[0] - 1) if d not in lc and d not in lb]
        out_dim = len(lb) + sum(d < lbd for d in lfree)
        return ((_bump(lc, lbd), rc), (_bump(lb, lbd), rb)), out_dim
    rfree = [d for d in range(ndims[1] - 1) if d not in rc and d not in rb]
    out_dim = ndims[0] - len(lc) + sum(d < rbd for d in rfree)
    return ((lc, _bump(rc, rbd)), (lb, _bump(rb, rbd))), out_dim


def _dot_batch(axis, vals, dims, *, dimension_numbers, precision, preferred_element_type):
    lhs, rhs = vals
    ndims = (get_aval(lhs).ndim, get_aval(rhs).ndim)
    dn, out_dim = _dot_batch_dims(ndims, dims, dimension_numbers)
    out = dot_general_p.bind(lhs, rhs, dimension_numbers=dn, precision=precision,
                             preferred_element_type=preferred_element_type)
    return out, out_dim


dot_general_p.batch = _dot_batch
