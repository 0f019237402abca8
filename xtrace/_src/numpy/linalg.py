"""Products and contractions: matmul, dot, vdot, vecdot, inner, outer, tensordot, einsum,
trace, kron, cross; the norms behind ``xtrace.numpy.linalg.norm``; and the Jacobi SVD and
Hermitian eigendecomposition behind ``xtrace.numpy.linalg.svd``/``eigh``.

Every contraction lowers to ``dot_general`` (one per pair of operands in ``einsum``). Operands
are promoted to a common dtype first (JAX's lattice), so ``int8 @ uint8`` is ``int16`` and
``bool`` products stay ``bool`` (or-of-ands), as in JAX.
"""
from __future__ import annotations

import builtins
import functools
import itertools
import operator
import string
from typing import NamedTuple

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.custom_derivatives import custom_jvp
from xtrace._src.jit import jit
from xtrace._src.numpy import reductions as _red
from xtrace._src.numpy.reductions import _jit
from xtrace._src.numpy import ufuncs as _ufuncs
from xtrace._src.numpy.core import (ShapeError, _is_array, asarray, broadcast_shapes,
                                     broadcast_to, promote_dtypes_only)


def _arr(x):
    return x if _is_array(x) else asarray(x)


def _promote(*xs):
    return [_arr(x) for x in promote_dtypes_only(*[_arr(x) for x in xs])]


def _dot_general(a, b, contract, batch, precision, preferred_element_type):
    return lax.dot_general(a, b, (contract, batch), precision, preferred_element_type)


def _mul(a, b):
    """Elementwise product with broadcasting (``and`` for bool)."""
    return (_ufuncs.logical_and if get_aval(a).dtype == dtypes.bool_ else _ufuncs.multiply)(a, b)


# ---------------------------------------------------------------------------------------------
# matmul, dot, vdot, vecdot, inner, outer


def matmul(a, b, /, *, precision=None, preferred_element_type=None) -> Array:
    """NumPy's ``a @ b``: 1-D operands are vectors, leading (batch) dimensions broadcast.

    Lowers to one ``dot_general``: batch dimensions present in both operands become its batch
    dimensions, and a batch dimension only one operand has (or where the other has size 1) is a
    free dimension of that operand, so nothing is broadcast in memory."""
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension (use multiply "
                         f"for scalars), got shapes {a.shape} and {b.shape}")
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if (a_vec or b_vec) and a.shape[-1] == b.shape[0 if b_vec else -2]:
        # A vector operand contracts directly (no reshape to a 1-row matrix): the free
        # dimensions of the other operand are already in matmul's output order, and the
        # gradient with respect to the matrix is a plain outer product.
        dims = ((a.ndim - 1,), (0 if b_vec else b.ndim - 2,))
        return lax.dot_general(a, b, (dims, ((), ())), precision, preferred_element_type)
    if a_vec:
        a = lax.reshape(a, (1,) + a.shape)
    if b_vec:
        b = lax.reshape(b, b.shape + (1,))
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(
            f"matmul: contracting dimensions differ: shapes {a.shape if not a_vec else a.shape[1:]}"
            f" and {b.shape if not b_vec else b.shape[:1]} (size {a.shape[-1]} is different "
            f"from {b.shape[-2]})")
    ab, bb = a.shape[:-2], b.shape[:-2]
    nb = builtins.max(len(ab), len(bb))
    bshape = broadcast_shapes(ab, bb, fname="matmul")
    ab_full = (None,) * (nb - len(ab)) + tuple(ab)
    bb_full = (None,) * (nb - len(bb)) + tuple(bb)
    kinds = []  # per batch position: "batch", "a", "b" or "one"
    for da, db in zip(ab_full, bb_full):
        if da is not None and db is not None and da == db and da != 1:
            kinds.append("batch")
        elif (da is None or da == 1) and (db is None or db == 1):
            kinds.append("one")
        elif da is None or da == 1:
            kinds.append("b")
        else:
            kinds.append("a")
    # Drop a's batch dims that are not its own (size-1 or broadcast), likewise for b.
    a_keep = [i for i in range(nb) if ab_full[i] is not None and kinds[i] in ("batch", "a")]
    b_keep = [i for i in range(nb) if bb_full[i] is not None and kinds[i] in ("batch", "b")]
    if len(a_keep) != len(ab):
        a = lax.reshape(a, tuple(ab_full[i] for i in a_keep) + a.shape[-2:])
    if len(b_keep) != len(bb):
        b = lax.reshape(b, tuple(bb_full[i] for i in b_keep) + b.shape[-2:])
    batch = [i for i in range(nb) if kinds[i] == "batch"]
    la = [a_keep.index(i) for i in batch]
    lb = [b_keep.index(i) for i in batch]
    out = lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 2,)), (tuple(la), tuple(lb))),
                          precision, preferred_element_type)
    # dot_general's output: batch, a's free (a-only batch dims, M), b's free (b-only, N).
    order = batch + [i for i in a_keep if kinds[i] == "a"] + ["M"] + \
        [i for i in b_keep if kinds[i] == "b"] + ["N"]
    want = [i for i in range(nb) if kinds[i] != "one"] + ["M", "N"]
    perm = [order.index(w) for w in want]
    if perm != list(range(len(perm))):
        out = lax.transpose(out, perm)
    final = tuple(bshape) + (() if a_vec else (get_aval(out).shape[-2],)) + \
        (() if b_vec else (get_aval(out).shape[-1],))
    if get_aval(out).shape != final:
        out = lax.reshape(out, final)
    return out


def dot(a, b, *, precision=None, preferred_element_type=None) -> Array:
    """NumPy's ``dot``: a product for scalars, the inner product of vectors, and otherwise a sum
    over the last axis of ``a`` and the second-to-last of ``b`` (the last if ``b`` is 1-D)."""
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        out = _mul(a, b)
        return out if preferred_element_type is None else lax.convert_element_type(
            out, dtypes.canonicalize_dtype(preferred_element_type), False)
    bc = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[bc]:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(dim {a.ndim - 1}) != {b.shape[bc]} (dim {bc})")
    return lax.dot_general(a, b, (((a.ndim - 1,), (bc,)), ((), ())), precision,
                           preferred_element_type)


def vdot(a, b, /, *, precision=None, preferred_element_type=None) -> Array:
    """Dot product of the flattened arrays, conjugating ``a`` if complex."""
    a, b = _promote(a, b)
    if a.size != b.size:
        raise ValueError(f"vdot: arrays of shapes {a.shape} and {b.shape} have different sizes "
                         f"({a.size} and {b.size})")
    a = _ufuncs.conj(a)
    return lax.dot_general(lax.reshape(a, (a.size,)), lax.reshape(b, (b.size,)),
                           (((0,), (0,)), ((), ())), precision, preferred_element_type)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None) -> Array:
    """Vector dot product over ``axis`` (conjugating ``x1``), broadcasting the other axes."""
    a, b = _promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"vecdot: operands must have at least one dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    ax_a = _red._one_axis(axis, a.ndim, "vecdot")
    ax_b = _red._one_axis(axis, b.ndim, "vecdot")
    if a.shape[ax_a] != b.shape[ax_b]:
        raise ValueError(f"vecdot: shapes {a.shape} and {b.shape} differ along axis {axis} "
                         f"({a.shape[ax_a]} != {b.shape[ax_b]})")
    a = lax.transpose(a, [i for i in range(a.ndim) if i != ax_a] + [ax_a])
    b = lax.transpose(b, [i for i in range(b.ndim) if i != ax_b] + [ax_b])
    out = matmul(lax.expand_dims(_ufuncs.conj(a), (a.ndim - 1,)),
                 lax.expand_dims(b, (b.ndim,)), precision=precision,
                 preferred_element_type=preferred_element_type)
    return lax.reshape(out, get_aval(out).shape[:-2])


def _matvec_check(name: str, m, v, m_axis: int) -> None:
    if m.ndim < 2 or v.ndim < 1:
        raise ValueError(f"{name}: expected a matrix (at least 2-d) and a vector (at least "
                         f"1-d), got shapes {m.shape} and {v.shape}")
    if m.shape[m_axis] != v.shape[-1]:
        raise ShapeError(f"{name}: shapes {m.shape} and {v.shape} are not aligned "
                         f"({m.shape[m_axis]} != {v.shape[-1]})")


def matvec(x1, x2, /) -> Array:
    """Matrix-vector product over the last axes: ``x1[..., i, j] x2[..., j]``, the other
    axes broadcast."""
    a, b = _promote(x1, x2)
    _matvec_check("matvec", a, b, -1)
    return matmul(a, lax.expand_dims(b, (b.ndim,)))[..., 0]


def vecmat(x1, x2, /) -> Array:
    """Vector-matrix product over the last axes: ``conj(x1[..., i]) x2[..., i, j]``, the
    other axes broadcast."""
    a, b = _promote(x1, x2)
    _matvec_check("vecmat", b, a, -2)
    return matmul(lax.expand_dims(_ufuncs.conj(a), (a.ndim - 1,)), b)[..., 0, :]


def inner(a, b, /, *, precision=None, preferred_element_type=None) -> Array:
    """Sum product over the last axes: shape ``a.shape[:-1] + b.shape[:-1]``."""
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return dot(a, b, preferred_element_type=preferred_element_type)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last dimensions of shapes {a.shape} and {b.shape} differ "
                         f"({a.shape[-1]} != {b.shape[-1]})")
    return lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 1,)), ((), ())), precision,
                           preferred_element_type)


def outer(a, b, out=None) -> Array:
    """Outer product of the flattened arrays: shape ``(a.size, b.size)``."""
    _red._check_out("outer", out)
    return _outer_impl(*_promote(a, b))


@_jit
def _outer_impl(a, b):
    n, m = get_aval(a).size, get_aval(b).size
    a = lax.broadcast_in_dim(lax.reshape(a, (n,)), (n, m), (0,))
    b = lax.broadcast_in_dim(lax.reshape(b, (m,)), (n, m), (1,))
    return _mul(a, b)


# ---------------------------------------------------------------------------------------------
# tensordot


def _axis_list(ax) -> list[int]:
    if isinstance(ax, (list, tuple)):
        return [operator.index(x) for x in ax]
    return [operator.index(ax)]


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None) -> Array:
    """Sum products over ``axes``: an int N (the last N axes of ``a`` with the first N of
    ``b``) or a pair ``(axes_a, axes_b)`` of ints or sequences. The result has ``a``'s free
    axes, then ``b``'s."""
    a, b = _promote(a, b)
    if isinstance(axes, (list, tuple)) and len(axes) == 2:
        ax_a, ax_b = _axis_list(axes[0]), _axis_list(axes[1])
    else:
        try:
            n = operator.index(axes)
        except TypeError:
            raise TypeError("tensordot: axes must be an int or a pair of axis sequences, got "
                            f"{axes!r}") from None
        if n < 0 or n > builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} must be between 0 and the smaller rank of "
                             f"shapes {a.shape} and {b.shape}")
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {axes!r} pair {len(ax_a)} axes of a with "
                         f"{len(ax_b)} axes of b")
    for x, nd, nm in ((ax_a, a.ndim, "a"), (ax_b, b.ndim, "b")):
        for i in x:
            if not -nd <= i < nd:
                raise ValueError(f"tensordot: axis {i} is out of bounds for {nm} of dimension "
                                 f"{nd}")
    ax_a = [i % a.ndim for i in ax_a]
    ax_b = [i % b.ndim for i in ax_b]
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: shape mismatch for sum: a.shape[{i}] = {a.shape[i]} "
                             f"but b.shape[{j}] = {b.shape[j]} (shapes {a.shape} and "
                             f"{b.shape})")
    return lax.dot_general(a, b, ((tuple(ax_a), tuple(ax_b)), ((), ())), precision,
                           preferred_element_type)


# ---------------------------------------------------------------------------------------------
# einsum

_LETTERS = set(string.ascii_letters)


def _parse_einsum(subscripts: str, shapes: list[tuple[int, ...]]):
    """Labels per operand (letters as str, ellipsis dims as ints 0..L-1), output labels, and the
    size of each label. Raises ValueError naming the problem."""
    sub = subscripts.replace(" ", "")
    if "->" in sub:
        lhs, rhs = sub.split("->", 1)
        if "->" in rhs:
            raise ValueError(f"einsum: subscripts {subscripts!r} contain '->' more than once")
    else:
        lhs, rhs = sub, None
    specs = lhs.split(",")
    if len(specs) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(specs)} operands but "
                         f"{len(shapes)} were given")

    def letters(spec, what):
        bad = set(spec.replace("...", "")) - _LETTERS
        if bad or spec.count("...") > 1:
            raise ValueError(f"einsum: invalid subscripts {spec!r} for {what} in {subscripts!r}"
                             " (use letters and at most one '...')")
        return spec

    ell_nd = 0
    parsed = []
    for k, (spec, shape) in enumerate(zip(specs, shapes)):
        letters(spec, f"operand {k}")
        named = len(spec.replace("...", ""))
        if "..." in spec:
            if named > len(shape):
                raise ValueError(f"einsum: operand {k} has {len(shape)} dimensions (shape "
                                 f"{shape}) but subscripts {spec!r} name {named}")
            ell_nd = builtins.max(ell_nd, len(shape) - named)
        elif named != len(shape):
            raise ValueError(f"einsum: operand {k} has {len(shape)} dimensions (shape {shape}) "
                             f"but subscripts {spec!r} name {named}")
        parsed.append(spec)
    labels_in = []
    for spec, shape in zip(parsed, shapes):
        if "..." in spec:
            pre, post = spec.split("...")
            ne = len(shape) - len(pre) - len(post)
            labels_in.append(list(pre) + list(range(ell_nd - ne, ell_nd)) + list(post))
        else:
            labels_in.append(list(spec))
    sizes: dict = {}
    where: dict = {}
    for k, (labs, shape) in enumerate(zip(labels_in, shapes)):
        for lab, d in zip(labs, shape):
            if lab not in sizes or (sizes[lab] == 1 and d != 1):
                sizes[lab], where[lab] = d, k
            elif d != sizes[lab] and d != 1:
                j = where[lab]
                name = f"label {lab!r}" if isinstance(lab, str) else "broadcast dimension"
                raise ValueError(f"einsum: size of {name} is {d} in operand {k} (shape "
                                 f"{shapes[k]}) but {sizes[lab]} in operand {j} (shape "
                                 f"{shapes[j]})")
    counts: dict = {}
    for labs in labels_in:
        for lab in labs:
            counts[lab] = counts.get(lab, 0) + 1
    if rhs is None:
        out = list(range(ell_nd)) + sorted(
            (lab for lab, c in counts.items() if isinstance(lab, str) and c == 1))
    else:
        letters(rhs, "the output")
        if "..." in rhs:
            pre, post = rhs.split("...")
            out = list(pre) + list(range(ell_nd)) + list(post)
        else:
            out = list(rhs)
        for lab in out:
            if isinstance(lab, str) and lab not in counts:
                raise ValueError(f"einsum: output subscript {lab!r} in {subscripts!r} does not "
                                 "appear in the inputs")
            if out.count(lab) > 1:
                raise ValueError(f"einsum: output subscript {lab!r} appears more than once in "
                                 f"{subscripts!r}")
    return labels_in, out, sizes


def _diag_last(x, nd):
    """The diagonal of the last two (equal) dimensions of ``x``."""
    n = get_aval(x).shape[-1]
    shape = get_aval(x).shape[:-2]
    flat = lax.reshape(x, shape + (n * n,))
    return lax.slice(flat, (0,) * (nd - 2) + (0,), shape + (n * n,), (1,) * (nd - 2) + (n + 1,))


def _sum_labels(x, labs, drop):
    axes = tuple(i for i, lab in enumerate(labs) if lab in drop)
    if not axes:
        return x, labs
    red = lax.reduce_or if get_aval(x).dtype == dtypes.bool_ else lax.reduce_sum
    return red(x, axes), [lab for lab in labs if lab not in drop]


def _prepare_operand(x, labs, sizes, needed):
    """Squeeze broadcast (size-1) dims, take diagonals of repeated labels, and sum labels that
    no other operand or the output needs."""
    shape = get_aval(x).shape
    keep = [i for i, (lab, d) in enumerate(zip(labs, shape)) if not (d == 1 and sizes[lab] != 1)]
    if len(keep) != len(labs):
        x = lax.reshape(x, tuple(shape[i] for i in keep))
        labs = [labs[i] for i in keep]
    while len(set(labs)) != len(labs):
        lab = next(lab for lab in labs if labs.count(lab) > 1)
        i = labs.index(lab)
        j = labs.index(lab, i + 1)
        rest = [k for k in range(len(labs)) if k not in (i, j)]
        x = lax.transpose(x, rest + [i, j])
        x = _diag_last(x, len(labs))
        labs = [labs[k] for k in rest] + [lab]
    return _sum_labels(x, labs, {lab for lab in labs if lab not in needed})


def _contraction_order(label_sets, out, sizes, greedy: bool):
    """Pairs of operand positions to contract, in order (positions in the shrinking list)."""
    sets = [set(s) for s in label_sets]
    steps = []
    while len(sets) > 1:
        best = None
        pairs = itertools.combinations(range(len(sets)), 2) if greedy else [(0, 1)]
        for i, j in pairs:
            others = set(out).union(*[s for k, s in enumerate(sets) if k not in (i, j)])
            res = {lab for lab in sets[i] | sets[j] if lab in others}
            size = int(np.prod([sizes[lab] for lab in res], dtype=np.float64))
            flops = int(np.prod([sizes[lab] for lab in sets[i] | sets[j]], dtype=np.float64))
            key = (size, flops, i, j)
            if best is None or key < best[0]:
                best = (key, res)
        (_, _, i, j), res = best
        steps.append((i, j))
        sets = [s for k, s in enumerate(sets) if k not in (i, j)] + [res]
    return steps


@functools.partial(_jit, static_argnames=("plan", "precision", "pet"))
def _einsum_impl(*operands, plan, precision, pet):
    labels_in, out, sizes, steps = plan
    sizes = dict(sizes)
    ops = []
    for k, (x, labs) in enumerate(zip(operands, labels_in)):
        needed = set(out).union(*[set(l) for m, l in enumerate(labels_in) if m != k])
        ops.append(_prepare_operand(x, list(labs), sizes, needed))
    for i, j in steps:
        (a, la), (b, lb) = ops[i], ops[j]
        rest = [ops[k] for k in range(len(ops)) if k not in (i, j)]
        needed = set(out).union(*[set(l) for _, l in rest])
        shared = [lab for lab in la if lab in lb]
        batch = [lab for lab in shared if lab in needed]
        contract = [lab for lab in shared if lab not in needed]
        # Labels of one operand that nothing else needs are summed before the product.
        a, la = _sum_labels(a, la, {lab for lab in la if lab not in needed and lab not in lb})
        b, lb = _sum_labels(b, lb, {lab for lab in lb if lab not in needed and lab not in la})
        r = lax.dot_general(
            a, b, ((tuple(la.index(l) for l in contract), tuple(lb.index(l) for l in contract)),
                   (tuple(la.index(l) for l in batch), tuple(lb.index(l) for l in batch))),
            precision, pet)
        lr = batch + [l for l in la if l not in shared] + [l for l in lb if l not in shared]
        ops = rest + [(r, lr)]
    x, labs = ops[0]
    x, labs = _sum_labels(x, labs, {lab for lab in labs if lab not in out})
    if labs != list(out):
        x = lax.transpose(x, [labs.index(lab) for lab in out])
    if pet is not None and get_aval(x).dtype != pet:
        x = lax.convert_element_type(x, pet, False)
    return x


def _interleaved(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [sublistout]) -> (subscripts, operands)."""
    args = list(args)
    out = args.pop() if len(args) % 2 == 1 else None

    def conv(sub):
        s = ""
        for v in sub:
            if v is Ellipsis:
                s += "..."
            else:
                v = operator.index(v)
                if not 0 <= v < 52:
                    raise ValueError(f"einsum: subscript {v} must be in [0, 52)")
                s += string.ascii_letters[v]
        return s
    ops = args[0::2]
    subs = ",".join(conv(s) for s in args[1::2])
    return subs + ("" if out is None else "->" + conv(out)), ops


def einsum(subscripts, /, *operands, out=None, optimize="auto", precision=None,
           preferred_element_type=None, _dot_general=None) -> Array:
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``.

    Subscripts are letters with at most one ``...`` per operand (the ellipsis dimensions
    broadcast, and so do size-1 dimensions); without ``->`` the output is the ellipsis
    dimensions followed by the letters used once, sorted. Repeated letters in one operand take
    a diagonal; letters that only one operand has and the output lacks are summed first.

    Each pairwise contraction lowers to one ``dot_general``. With three or more operands the
    order is greedy: at each step the pair whose result (the labels still needed by other
    operands or the output) is smallest is contracted, ties broken by the pair's total size and
    then by position (``optimize=False`` contracts left to right instead). The interleaved form
    ``einsum(op0, sublist0, op1, sublist1, ..., [sublistout])`` is accepted too.
    """
    _red._check_out("einsum", out)
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved((subscripts,) + operands)
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    ops = _promote(*operands) if len(operands) > 1 else [_arr(operands[0])]
    shapes = [tuple(get_aval(x).shape) for x in ops]
    labels_in, out_labels, sizes = _parse_einsum(subscripts, shapes)
    # Contraction order on the operands as they will be after preparation.
    prepared = []
    for k, labs in enumerate(labels_in):
        needed = set(out_labels).union(*[set(l) for m, l in enumerate(labels_in) if m != k])
        prepared.append({lab for lab, d in zip(labs, shapes[k])
                         if lab in needed and not (d == 1 and sizes[lab] != 1)})
    steps = _contraction_order(prepared, out_labels, sizes, optimize is not False)
    plan = (tuple(tuple(l) for l in labels_in), tuple(out_labels),
            tuple(sorted(sizes.items(), key=lambda kv: (isinstance(kv[0], str), kv[0]))),
            tuple(steps))
    pet = (None if preferred_element_type is None
           else dtypes.canonicalize_dtype(preferred_element_type))
    try:
        hash(precision)
    except TypeError:
        precision = tuple(precision)
    return _einsum_impl(*ops, plan=plan, precision=precision, pet=pet)


# ---------------------------------------------------------------------------------------------
# trace, kron, cross


def einsum_path(subscripts, /, *operands, optimize="auto"):
    """(path, description) of the contraction order ``einsum`` would use for these operands'
    shapes, as JAX returns it: ``path`` is a list of tuples of operand positions (NumPy's
    path search; ``'auto'`` is ``'optimal'`` up to 4 operands, else ``'greedy'``)."""
    if not isinstance(subscripts, str):
        raise NotImplementedError("einsum_path: only the subscripts-string form is supported "
                                  "(einsum_path('ij,jk->ik', a, b))")
    avals = [get_aval(np.asarray(x) if isinstance(x, (list, tuple)) else x) for x in operands]
    shaped = [np.broadcast_to(np.zeros((), av.dtype), av.shape) for av in avals]
    n = len(operands)
    if optimize is False:
        _, info = np.einsum_path(subscripts, *shaped, optimize=False)
        return [(0, 1)] * (n - 1) if n > 1 else [(0,)], info
    if optimize is True:
        optimize = "optimal"
    elif optimize == "auto":
        optimize = "optimal" if n <= 4 else "greedy"
    elif isinstance(optimize, list):
        optimize = ["einsum_path", *optimize]
    path, info = np.einsum_path(subscripts, *shaped, optimize=optimize)
    return [tuple(p) for p in path[1:]], info


def _diagonal(a, offset: int, axis1: int, axis2: int):
    """The ``offset`` diagonal of ``a`` over ``axis1``/``axis2``, as its last axis."""
    nd = a.ndim
    rest = [i for i in range(nd) if i not in (axis1, axis2)]
    x = lax.transpose(a, rest + [axis1, axis2]) if rest + [axis1, axis2] != list(range(nd)) \
        else a
    n, m = a.shape[axis1], a.shape[axis2]
    r0, c0 = (0, offset) if offset >= 0 else (-offset, 0)
    length = builtins.max(0, builtins.min(n - r0, m - c0))
    bshape = tuple(a.shape[i] for i in rest)
    if length == 0:
        return lax.broadcast_in_dim(np.zeros((), a.dtype)[()], bshape + (0,), ())
    x = lax.slice(x, (0,) * len(rest) + (r0, c0), bshape + (r0 + length, c0 + length))
    return _diag_last(x, nd)


def trace(a, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype=None, out=None) -> Array:
    """Sum of the ``offset`` diagonal over ``axis1``/``axis2`` (dtype rules of ``sum``)."""
    _red._check_out("trace", out)
    a = _arr(a)
    if a.ndim < 2:
        raise ValueError(f"trace: the array must have at least 2 dimensions, got shape "
                         f"{a.shape}")
    ax1 = _red._one_axis(axis1, a.ndim, "trace")
    ax2 = _red._one_axis(axis2, a.ndim, "trace")
    if ax1 == ax2:
        raise ValueError(f"trace: axis1 and axis2 must differ, got {axis1} and {axis2} for "
                         f"dimension {a.ndim}")
    return _trace_impl(a, offset=operator.index(offset), ax1=ax1, ax2=ax2,
                       dtype=_red._canon(dtype))


@functools.partial(_jit, static_argnames=("offset", "ax1", "ax2", "dtype"))
def _trace_impl(a, *, offset, ax1, ax2, dtype):
    return _red.sum(_diagonal(a, offset, ax1, ax2), axis=-1, dtype=dtype)


def kron(a, b) -> Array:
    """Kronecker product: blocks ``a[i, j] * b``, shape ``a.shape * b.shape`` (after padding
    the lower-rank operand's shape with leading ones)."""
    return _kron_impl(*_promote(a, b))


@_jit
def _kron_impl(a, b):
    nd = builtins.max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    full = tuple(itertools.chain.from_iterable(zip(sa, sb)))
    a = lax.broadcast_in_dim(lax.reshape(a, sa), full, tuple(range(0, 2 * nd, 2)))
    b = lax.broadcast_in_dim(lax.reshape(b, sb), full, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(_mul(a, b), tuple(x * y for x, y in zip(sa, sb)))


def cross(a, b, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis=None) -> Array:
    """Cross product of 3-vectors (or 2-vectors, taken with a zero z component) along
    ``axisa``/``axisb`` (``axis`` sets all three), broadcasting the other axes. Two 2-vectors
    give the z component only (a scalar per pair), as in NumPy."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _promote(a, b)
    if a.dtype == dtypes.bool_:
        raise TypeError("cross does not support bool arrays")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"cross: operands must be vectors, got shapes {a.shape} and "
                         f"{b.shape}")
    ax_a = _red._one_axis(axisa, a.ndim, "cross")
    ax_b = _red._one_axis(axisb, b.ndim, "cross")
    na, nb = a.shape[ax_a], b.shape[ax_b]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must "
                         f"be 2 or 3): a.shape[{axisa}] = {na} (shape {a.shape}), "
                         f"b.shape[{axisb}] = {nb} (shape {b.shape})")
    bshape = broadcast_shapes(a.shape[:ax_a] + a.shape[ax_a + 1:],
                              b.shape[:ax_b] + b.shape[ax_b + 1:], fname="cross")
    return _cross_impl(a, b, ax_a=ax_a, ax_b=ax_b, axisc=operator.index(axisc),
                       bshape=bshape)


@functools.partial(_jit, static_argnames=("ax_a", "ax_b", "axisc", "bshape"))
def _cross_impl(a, b, *, ax_a, ax_b, axisc, bshape):
    def comps(x, ax):
        return [broadcast_to(lax.index_in_dim(x, i, ax, keepdims=False), bshape)
                for i in range(get_aval(x).shape[ax])]
    ac, bc = comps(a, ax_a), comps(b, ax_b)
    sub, mul = lax.sub, lax.mul
    if len(ac) == 2 and len(bc) == 2:
        return sub(mul(ac[0], bc[1]), mul(ac[1], bc[0]))
    if len(ac) == 3 and len(bc) == 3:
        c = [sub(mul(ac[1], bc[2]), mul(ac[2], bc[1])),
             sub(mul(ac[2], bc[0]), mul(ac[0], bc[2])),
             sub(mul(ac[0], bc[1]), mul(ac[1], bc[0]))]
    elif len(ac) == 2:  # a_z = 0
        c = [mul(ac[1], bc[2]), lax.neg(mul(ac[0], bc[2])),
             sub(mul(ac[0], bc[1]), mul(ac[1], bc[0]))]
    else:  # b_z = 0
        c = [lax.neg(mul(ac[2], bc[1])), mul(ac[2], bc[0]),
             sub(mul(ac[0], bc[1]), mul(ac[1], bc[0]))]
    nd = len(bshape) + 1
    axc = _red._one_axis(axisc, nd, "cross (axisc)")
    c = [lax.expand_dims(x, (axc,)) for x in c]
    return lax.concatenate(c, axc)


# ---------------------------------------------------------------------------------------------
# Norms (public as xtrace.numpy.linalg.norm / vector_norm / matrix_norm)


def _abs_float(x):
    """|x| as a real float array (ints and bool become float32, or float64 for 64-bit)."""
    dt = x.dtype
    if not dtypes.is_inexact(dt):
        x = lax.convert_element_type(x, _red._inexact_dtype(dt), False)
    return lax.abs(x)


def _sumsq(x, axes, keepdims):
    x = _arr(x)
    if dtypes.is_complex(x.dtype):
        sq = lax.add(lax.square(lax.real(x)), lax.square(lax.imag(x)))
    else:
        x = x if dtypes.is_inexact(x.dtype) else lax.convert_element_type(
            x, _red._inexact_dtype(x.dtype), False)
        sq = lax.square(x)
    return lax.sqrt(_red._keep(lax.reduce_sum(sq, axes), get_aval(sq).shape, axes, keepdims))


@functools.partial(_jit, static_argnames=("ord", "axes", "keepdims"))
def _vector_norm(x, *, ord, axes, keepdims):
    if ord is None or ord == 2:
        return _sumsq(x, axes, keepdims)
    ax = _abs_float(x)
    shape = get_aval(ax).shape
    if ord == np.inf:
        return _red._keep(lax.reduce_max(ax, axes), shape, axes, keepdims)
    if ord == -np.inf:
        return _red._keep(lax.reduce_min(ax, axes), shape, axes, keepdims)
    if ord == 0:
        nz = lax.convert_element_type(lax.ne(ax, _red._const(0, ax.dtype)), ax.dtype, False)
        return _red._keep(lax.reduce_sum(nz, axes), shape, axes, keepdims)
    if ord == 1:
        return _red._keep(lax.reduce_sum(ax, axes), shape, axes, keepdims)
    p = _red._const(ord, ax.dtype)
    s = lax.reduce_sum(lax.pow(ax, lax.broadcast_in_dim(p, shape, ())), axes)
    return _red._keep(lax.pow(s, _red._const(1.0 / ord, ax.dtype)), shape, axes, keepdims)


@functools.partial(_jit, static_argnames=("ord", "axes", "keepdims"))
def _matrix_norm(x, *, ord, axes, keepdims):
    row, col = axes
    both = tuple(sorted(axes))
    if ord is None or ord == "fro":
        return _sumsq(x, both, keepdims)
    ax = _abs_float(x)
    shape = get_aval(ax).shape
    if ord in (1, -1):
        inner, outer_ax = row, col
    else:  # inf, -inf
        inner, outer_ax = col, row
    s = _red._keep(lax.reduce_sum(ax, (inner,)), shape, (inner,), True)
    red = lax.reduce_max if ord in (1, np.inf) else lax.reduce_min
    res = _red._keep(red(s, (outer_ax,)), shape, both, True)
    return res if keepdims else lax.reshape(res, [d for i, d in enumerate(shape)
                                                  if i not in both])


_MATRIX_ORDS = (None, "fro", 1, -1, np.inf, -np.inf)
_SVD_ORDS = (2, -2, "nuc")


def _check_vector_ord(ord):
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid order {ord!r} for a vector norm (use None, an int, "
                         "a float, inf or -inf)")
    try:
        return None if ord is None else float(ord)
    except TypeError:
        raise TypeError(f"norm: ord must be a number, inf or a string, got {ord!r}") from None


def _svd_norm(x, ord, row, col, keepdims):
    """The largest (ord=2) or smallest (-2) singular value, or their sum ('nuc'). Not one
    compiled program like the other norms: eagerly, the singular values come from ``svd``'s
    own program, shared by every ord, axis and keepdims on matrices of one shape."""
    nd = x.ndim
    rest = [i for i in range(nd) if i not in (row, col)]
    perm = rest + [row, col]
    xm = _linalg_operand("norm", lax.transpose(x, perm) if perm != list(range(nd)) else x)
    s = _svd_jit(xm, full_matrices=False, compute_uv=False)[0]
    last = (nd - 2,)
    if get_aval(s).shape[-1] == 0:
        if ord == -2:
            raise ValueError("norm: ord=-2 of an empty matrix is undefined (the smallest of "
                             f"no singular values), got shape {x.shape}")
        res = lax.broadcast_in_dim(np.zeros((), s.dtype)[()], get_aval(s).shape[:-1], ())
    else:
        res = {2: lax.reduce_max, -2: lax.reduce_min}.get(ord, lax.reduce_sum)(s, last)
    if keepdims:
        res = lax.reshape(res, [1 if i in (row, col) else d for i, d in enumerate(x.shape)])
    return res


def _check_matrix_ord(ord):
    if ord not in _MATRIX_ORDS + _SVD_ORDS:
        raise ValueError(f"norm: invalid order {ord!r} for a matrix norm (use None, 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf)")
    return ord if isinstance(ord, str) or ord is None else float(ord)


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Array:
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    ``axis`` None: the 2-norm of the flattened array when ``ord`` is None, else a vector norm
    (1-D) or matrix norm (2-D). An int (or 1-tuple) ``axis`` gives vector norms: ``ord`` None/2
    (Euclidean), 1, inf (max |x|), -inf (min |x|), 0 (number of nonzeros), or any p
    (``sum(|x|**p)**(1/p)``). A 2-tuple gives matrix norms: None/'fro', 1 and -1 (max/min
    column sum), inf and -inf (max/min row sum), 2 and -2 (largest/smallest singular value)
    and 'nuc' (sum of the singular values, see ``svd``). Integer inputs give float32
    results."""
    x = _arr(x)
    if axis is None:
        if ord is None:
            return _vector_norm(x, ord=None, axes=tuple(range(x.ndim)),
                                keepdims=bool(keepdims))
        if x.ndim == 1:
            axes = (0,)
        elif x.ndim == 2:
            axes = (0, 1)
        else:
            raise ValueError(f"norm: improper number of dimensions to norm: ord={ord!r} needs "
                             f"a 1-D or 2-D array or an explicit axis, got shape {x.shape}")
    else:
        items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        axes = tuple(operator.index(a) for a in items)
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                raise ValueError(f"norm: axis {a} is out of bounds for array of dimension "
                                 f"{x.ndim}")
        axes = tuple(a % x.ndim for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord=_check_vector_ord(ord), axes=axes, keepdims=bool(keepdims))
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError(f"norm: duplicate axes given: {axis}")
        ord = _check_matrix_ord(ord)
        if ord in _SVD_ORDS:
            return _svd_norm(x, ord, *axes, bool(keepdims))
        return _matrix_norm(x, ord=ord, axes=axes, keepdims=bool(keepdims))
    raise ValueError(f"norm: improper number of axes: axis={axis!r}; pass one axis for a "
                     "vector norm or two for a matrix norm")


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2) -> Array:
    """The array API's vector norm: over all elements when ``axis`` is None, else over the
    axis or axes given."""
    x = _arr(x)
    axes = _red._axes(axis, x.ndim, "vector_norm")
    return _vector_norm(x, ord=_check_vector_ord(ord), axes=axes, keepdims=bool(keepdims))


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro") -> Array:
    """The array API's matrix norm over the last two axes."""
    x = _arr(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: the array must have at least 2 dimensions, got shape "
                         f"{x.shape}")
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def matrix_transpose(x, /) -> Array:
    """Swap the last two axes."""
    x = _arr(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: the array must have at least 2 dimensions, got "
                         f"shape {x.shape}")
    return lax.transpose(x, list(range(x.ndim - 2)) + [x.ndim - 1, x.ndim - 2])


# ---------------------------------------------------------------------------------------------
# Singular values and Hermitian eigenvalues (public as xtrace.numpy.linalg.svd, svdvals, eigh
# and eigvalsh; behind the matrix norms ord=2, -2 and 'nuc')
#
# Both are cyclic Jacobi methods written with lax primitives, so they run on every backend and
# under jit, vmap and grad. A sweep applies a rotation to each of the n(n-1)/2 pairs of columns
# (one-sided Jacobi for the SVD: the rotated columns of A become orthogonal, their norms are the
# singular values) or of rows and columns (two-sided Jacobi for eigh: the matrix becomes
# diagonal). The pairs of a sweep are grouped into n-1 rounds of n/2 disjoint pairs, the
# round-robin ("tournament") ordering of Brent and Luk: a round rotates all its pairs at once,
# pairing the first half of the columns with the second half elementwise, and a fixed
# permutation (slices and one concatenate) then brings the next round's pairs into place; after
# n-1 rounds the columns are back in their original order. Sweeps repeat in a while_loop until
# a sweep rotates nothing (every pair already orthogonal to working precision); an odd n gets a
# zero column, which never rotates. Matrices are scaled by their largest entry first, so sums
# of squares cannot overflow, and a matrix with a NaN or an infinity gives NaN results instead
# of iterating on them. Derivatives come from custom JVP rules (JAX's formulas), not from
# differentiating the loop.

_MAX_SWEEPS = 100  # cyclic Jacobi converges quadratically; 6 to 12 sweeps are typical


class SVDResult(NamedTuple):
    """``svd``'s result: ``U @ (S[..., None] * Vh)`` is the matrix."""
    U: Array
    S: Array
    Vh: Array


class EighResult(NamedTuple):
    """``eigh``'s result: eigenvalues in ascending order, eigenvectors as columns."""
    eigenvalues: Array
    eigenvectors: Array


def _linalg_operand(name: str, a, square: bool = False):
    """``a`` as a stack of matrices of an inexact dtype (ints and bool become the default
    float, as in JAX); half-precision floats are rejected as NumPy's linalg does."""
    a = _arr(a)
    if a.ndim < 2:
        raise ValueError(f"{name}: the array must have at least 2 dimensions (a matrix or a "
                         f"stack of matrices), got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: the last two dimensions must be square, got shape "
                         f"{a.shape}")
    dt = a.dtype
    if dt in (np.dtype(np.float16), dtypes.bfloat16):
        raise TypeError(f"{name}: array type {dt.name} is unsupported in linalg (as in NumPy);"
                        " convert it first, e.g. a.astype(xnp.float32)")
    if not dtypes.is_inexact(dt):
        a = lax.convert_element_type(a, _red._inexact_dtype(dt), False)
    return a


def _real_dtype(dt) -> np.dtype:
    return np.dtype(np.float32) if dt == np.complex64 else (
        np.dtype(np.float64) if dt == np.complex128 else np.dtype(dt))


def _abs2(x):
    """|x|**2 as a real array."""
    if dtypes.is_complex(get_aval(x).dtype):
        return lax.add(lax.square(lax.real(x)), lax.square(lax.imag(x)))
    return lax.square(x)


def _H(x):
    """Conjugate transpose of the last two axes."""
    nd = get_aval(x).ndim
    return _ufuncs.conj(lax.transpose(x, list(range(nd - 2)) + [nd - 1, nd - 2]))


def _mm(a, b):
    return matmul(a, b, precision="highest")


def _expand(x, axis: int):
    return lax.expand_dims(x, (axis,))


def _prepare(x):
    """``x`` scaled by the largest ``|entry|`` of each matrix, with non-finite matrices
    replaced by zeros: (scaled, scale (..., 1), finite (...,))."""
    nd = x.ndim
    amax = lax.reduce_max(lax.abs(x), (nd - 2, nd - 1))
    finite = lax.is_finite(amax)
    scale = _ufuncs.where(_ufuncs.logical_and(finite, amax > 0), amax, 1)
    x = _ufuncs.true_divide(x, _expand(_expand(scale, nd - 2), nd - 2))
    x = _ufuncs.where(_expand(_expand(finite, nd - 2), nd - 2), x, 0)
    return x, _expand(scale, nd - 2), finite


def _nan_where_not(finite, x):
    """``x`` with every matrix (or vector) of a non-finite input replaced by NaNs."""
    extra = get_aval(x).ndim - get_aval(finite).ndim
    f = finite
    for _ in range(extra):
        f = _expand(f, get_aval(f).ndim)
    return _ufuncs.where(f, x, np.nan)


def _rotation(alpha, beta, gamma, thresh):
    """Per pair, the Jacobi rotation for the 2x2 Hermitian block ``[[alpha, gamma],
    [conj(gamma), beta]]`` (alpha, beta real): (c, s, w, rotated) with c, s real and w of
    modulus 1 such that columns ``p' = c p - s w q`` and ``q' = s p + c w q`` are orthogonal
    (w takes gamma's phase away, then a real rotation finishes). Pairs with
    ``|gamma| <= thresh`` are left alone (c=1, s=0)."""
    g = lax.abs(gamma)
    rotated = _ufuncs.greater(g, thresh)
    gs = _ufuncs.where(rotated, g, 1)
    zeta = _ufuncs.true_divide(lax.sub(beta, alpha), _ufuncs.multiply(gs, 2))
    # t = sign(zeta) / (|zeta| + sqrt(1 + zeta**2)), the smaller root of t**2 + 2 zeta t = 1;
    # for |zeta| > 1 divided through by |zeta| so that zeta**2 cannot overflow.
    az = lax.abs(zeta)
    big = az > 1
    r = _ufuncs.where(big, _ufuncs.true_divide(1, az), az)
    t = _ufuncs.true_divide(_ufuncs.where(big, r, 1), lax.add(
        _ufuncs.where(big, 1, r), _ufuncs.sqrt(_ufuncs.add(1, lax.square(r)))))
    t = _ufuncs.where(zeta >= 0, t, _ufuncs.negative(t))
    c = lax.rsqrt(_ufuncs.add(1, lax.square(t)))
    s = _ufuncs.where(rotated, lax.mul(c, t), 0)
    c = _ufuncs.where(rotated, c, 1)
    w = _ufuncs.where(rotated, _ufuncs.true_divide(_ufuncs.conj(gamma), gs), 1)
    return c, s, w, rotated


def _rotate_pairs(top, bot, c, s, w, axis: int):
    """Rotate the pairs (top[i], bot[i]) along ``axis`` (c, s, w per pair, broadcast along
    the other matrix axis): ``(c top - s w bot, s top + c w bot)``."""
    nd = get_aval(top).ndim
    other = nd - 2 if axis == nd - 1 else nd - 1
    c, s, w = (_expand(v, other) for v in (c, s, w))
    wb = _ufuncs.multiply(w, bot)
    return (_ufuncs.subtract(_ufuncs.multiply(c, top), _ufuncs.multiply(s, wb)),
            _ufuncs.add(_ufuncs.multiply(s, top), _ufuncs.multiply(c, wb)))


def _halves(x, axis: int):
    k = get_aval(x).shape[axis] // 2
    return lax.slice_in_dim(x, 0, k, axis=axis), lax.slice_in_dim(x, k, 2 * k, axis=axis)


def _next_round(top, bot, axis: int):
    """The halves joined in the order of the next round: position 0 stays, the others move
    one place around the ring top[1..k-1], bot[k-1..0] (period 2k-1)."""
    k = get_aval(top).shape[axis]
    if k == 1:
        return lax.concatenate([top, bot], axis)
    sl = functools.partial(lax.slice_in_dim, axis=axis)
    parts = [sl(top, 0, 1), sl(bot, 0, 1), sl(top, 1, k - 1), sl(bot, 1, k), sl(top, k - 1, k)]
    return lax.concatenate([p for p in parts if get_aval(p).shape[axis]], axis)


def _any(x):
    return lax.reduce_or(x, tuple(range(get_aval(x).ndim)))


def _sweeps(round_fn, n_pairs_axis: int, state):
    """Run sweeps of ``n_pairs_axis - 1`` rounds until one rotates nothing."""
    def sweep(carry):
        st, count, _ = carry
        st, rotated = lax.fori_loop(0, n_pairs_axis - 1, round_fn, (st, np.bool_(False)))
        return st, count + 1, rotated

    def more(carry):
        return lax.bitwise_and(carry[2], carry[1] < _MAX_SWEEPS)

    return lax.while_loop(more, sweep, (state, np.int32(0), np.bool_(True)))[0]


def _pad_even(x, axes):
    """Append one zero row/column along ``axes`` if their size is odd."""
    n = get_aval(x).shape[axes[0]]
    if n % 2 == 0:
        return x
    cfg = [(0, 1 if i in axes else 0, 0) for i in range(get_aval(x).ndim)]
    return lax.pad(x, np.zeros((), get_aval(x).dtype)[()], cfg)


def _eye_like(batch, n: int, dt):
    return lax.broadcast_in_dim(np.eye(n, dtype=dt), tuple(batch) + (n, n),
                                (len(batch), len(batch) + 1))


def _one_sided_jacobi(x, want_v: bool):
    """Columns made orthogonal by rotations: (y, v) with ``y = x @ v`` for ``x`` of shape
    (..., m, n), m >= n, scaled (|entries| <= 1); v is None unless ``want_v``."""
    *batch, m, n = x.shape
    nd = x.ndim
    x = _pad_even(x, (nd - 1,))
    big_n = get_aval(x).shape[-1]
    # v's columns turn with x's: rotate the stacked [x; v] (one set of operations for both).
    if want_v:
        x = lax.concatenate([x, _eye_like(batch, big_n, x.dtype)], nd - 2)
    # Rotate while |<p, q>| > tol |p| |q|: LAPACK's gesvj uses sqrt(m) eps.
    tol = float(np.sqrt(m) * np.finfo(_real_dtype(x.dtype)).eps)

    def round_fn(_, carry):
        z, rotated = carry
        top, bot = _halves(z, nd - 1)
        xt, xb = (lax.slice_in_dim(h, 0, m, axis=nd - 2) for h in (top, bot)) if want_v \
            else (top, bot)
        alpha = lax.reduce_sum(_abs2(xt), (nd - 2,))
        beta = lax.reduce_sum(_abs2(xb), (nd - 2,))
        gamma = lax.reduce_sum(_ufuncs.multiply(_ufuncs.conj(xt), xb), (nd - 2,))
        thresh = _ufuncs.multiply(tol, lax.mul(lax.sqrt(alpha), lax.sqrt(beta)))
        c, s, w, did = _rotation(alpha, beta, gamma, thresh)
        z = _next_round(*_rotate_pairs(top, bot, c, s, w, nd - 1), nd - 1)
        return z, lax.bitwise_or(rotated, _any(did))

    z = _sweeps(round_fn, big_n, x)
    y = lax.slice(z, (0,) * nd, tuple(batch) + (m, n))
    v = lax.slice(z, (0,) * (nd - 2) + (m, 0), tuple(batch) + (m + n, n)) if want_v else None
    return y, v


def _two_sided_jacobi(a, want_v: bool):
    """Hermitian ``a`` (..., n, n), scaled, diagonalized by rotations: (d, v) with
    ``a = v @ diag(d) @ v^H`` (d real, unsorted); v is None unless ``want_v``."""
    *batch, n, _ = a.shape
    nd = a.ndim
    a = _pad_even(a, (nd - 2, nd - 1))
    big_n = get_aval(a).shape[-1]
    k = big_n // 2
    rdt = _real_dtype(a.dtype)
    # Rotate while |a_pq| > eps ||a||_F: the eigenvalues are then accurate to a few eps ||a||.
    fro = lax.sqrt(lax.reduce_sum(_abs2(a), (nd - 2, nd - 1)))
    thresh = _expand(_ufuncs.multiply(float(np.finfo(rdt).eps), fro), nd - 2)
    eye_n = np.eye(big_n, dtype=bool)
    eye_k = np.eye(k, dtype=bool)
    pairs = np.zeros((big_n, big_n), bool)
    pairs[np.arange(k), np.arange(k) + k] = pairs[np.arange(k) + k, np.arange(k)] = True
    if want_v:  # v's columns turn with a's: rotate the columns of the stacked [a; v]
        a = lax.concatenate([a, _eye_like(batch, big_n, a.dtype)], nd - 2)

    def round_fn(_, carry):
        z, rotated = carry
        a = lax.slice_in_dim(z, 0, big_n, axis=nd - 2) if want_v else z
        d = _ufuncs.real(lax.reduce_sum(_ufuncs.where(eye_n, a, 0), (nd - 1,)))
        app, aqq = _halves(d, nd - 2)
        corner = lax.slice(a, (0,) * (nd - 2) + (0, k), tuple(batch) + (k, big_n))
        apq = lax.reduce_sum(_ufuncs.where(eye_k, corner, 0), (nd - 1,))
        c, s, w, did = _rotation(app, aqq, apq, thresh)
        z = lax.concatenate(_rotate_pairs(*_halves(z, nd - 1), c, s, w, nd - 1), nd - 1)
        a = lax.slice_in_dim(z, 0, big_n, axis=nd - 2) if want_v else z
        a = lax.concatenate(_rotate_pairs(*_halves(a, nd - 2), c, s, _ufuncs.conj(w), nd - 2),
                            nd - 2)
        a = _ufuncs.where(pairs, 0, a)  # the rotated entries are zero, up to rounding
        parts = [_next_round(*_halves(a, nd - 2), nd - 2)]
        if want_v:
            parts.append(lax.slice_in_dim(z, big_n, 2 * big_n, axis=nd - 2))
        z = lax.concatenate(parts, nd - 2) if want_v else parts[0]
        return _next_round(*_halves(z, nd - 1), nd - 1), lax.bitwise_or(rotated, _any(did))

    z = _sweeps(round_fn, big_n, a)
    a = lax.slice_in_dim(z, 0, big_n, axis=nd - 2) if want_v else z
    d = _ufuncs.real(lax.reduce_sum(_ufuncs.where(eye_n, a, 0), (nd - 1,)))
    d = lax.slice_in_dim(d, 0, n, axis=nd - 2)
    v = lax.slice(z, (0,) * (nd - 2) + (big_n, 0), tuple(batch) + (big_n + n, n)) \
        if want_v else None
    return d, v


def _sort_last(keys, *others, descending: bool = False):
    """``keys`` sorted along the last axis (stable), and the columns of each of ``others``
    (..., r, n) permuted the same way."""
    nd = get_aval(keys).ndim
    idx = lax.broadcasted_iota(dtypes.int32, get_aval(keys).shape, nd - 1)
    k = lax.neg(keys) if descending else keys
    _, perm = lax.sort([k, idx], dimension=nd - 1, num_keys=1)
    out = [_take_cols(keys, perm)]
    for o in others:
        out.append(_take_cols(o, perm))
    return out


def _take_cols(x, perm):
    from xtrace._src.numpy.searching import take_along_axis
    xa, pa = get_aval(x), get_aval(perm)
    if xa.ndim > pa.ndim:
        perm = lax.broadcast_in_dim(perm, xa.shape, tuple(range(pa.ndim - 1)) + (xa.ndim - 1,))
    return take_along_axis(x, perm, axis=-1, mode="clip")


def _complete_basis(u, valid):
    """``u`` (..., m, q), q <= m, whose columns marked ``valid`` (..., q) (a leading run in
    each matrix) are orthonormal, with the other columns replaced by an orthonormal
    completion: the matching columns of Q in a Householder QR of the valid columns."""
    *batch, m, q = u.shape
    nd = u.ndim
    dt = u.dtype
    valid_c = _expand(valid, nd - 2)
    mat = _ufuncs.where(valid_c, u, 0)
    rows, cols = lax.iota(dtypes.int32, m), lax.iota(dtypes.int32, q)

    def step(j, carry):
        mat, qm = carry
        col = lax.reduce_sum(_ufuncs.where(_ufuncs.equal(cols, j), mat, 0), (nd - 1,))
        x = _ufuncs.where(_ufuncs.greater_equal(rows, j), col, 0)
        e_j = _ufuncs.equal(rows, j)
        xj = lax.reduce_sum(_ufuncs.where(e_j, x, 0), (nd - 2,))
        axj = lax.abs(xj)
        phase = _ufuncs.where(axj > 0, _ufuncs.true_divide(xj, _ufuncs.where(axj > 0, axj, 1)),
                              1)
        nrm = lax.sqrt(lax.reduce_sum(_abs2(x), (nd - 2,)))
        alpha = _ufuncs.negative(_ufuncs.multiply(phase, nrm))
        vec = _ufuncs.subtract(x, _ufuncs.where(e_j, _expand(alpha, nd - 2), 0))
        vn2 = lax.reduce_sum(_abs2(vec), (nd - 2,))
        tau = _ufuncs.where(vn2 > 0, _ufuncs.true_divide(2, _ufuncs.where(vn2 > 0, vn2, 1)), 0)
        tau = lax.convert_element_type(tau, dt)
        vc = _expand(vec, nd - 1)  # (..., m, 1)
        vhm = lax.reduce_sum(_ufuncs.multiply(_ufuncs.conj(vc), mat), (nd - 2,))  # (..., q)
        mat = _ufuncs.subtract(mat, _ufuncs.multiply(_expand(_expand(tau, nd - 2), nd - 2),
                                                     _ufuncs.multiply(vc, _expand(vhm, nd - 2))))
        qv = lax.reduce_sum(_ufuncs.multiply(qm, _expand(vec, nd - 2)), (nd - 1,))  # (..., m)
        qm = _ufuncs.subtract(qm, _ufuncs.multiply(
            _expand(_expand(tau, nd - 2), nd - 2),
            _ufuncs.multiply(_expand(qv, nd - 1), _expand(_ufuncs.conj(vec), nd - 2))))
        return mat, qm

    _, qm = lax.fori_loop(0, q, step, (mat, _eye_like(batch, m, dt)))
    qm = lax.slice(qm, (0,) * nd, tuple(batch) + (m, q))
    return _ufuncs.where(valid_c, u, qm)


def _svd_impl(a, full_matrices: bool, compute_uv: bool):
    """SVD of ``a`` (..., m, n): ``(s,)`` or ``(u, s, vh)``, s descending."""
    *batch, m, n = a.shape
    nd = a.ndim
    batch = tuple(batch)
    p = builtins.min(m, n)
    rdt = _real_dtype(a.dtype)
    if p == 0:
        s = lax.broadcast_in_dim(np.zeros((), rdt)[()], batch + (0,), ())
        if not compute_uv:
            return (s,)
        u = _eye_like(batch, m, a.dtype) if full_matrices else \
            lax.broadcast_in_dim(np.zeros((), a.dtype)[()], batch + (m, 0), ())
        vh = _eye_like(batch, n, a.dtype) if full_matrices else \
            lax.broadcast_in_dim(np.zeros((), a.dtype)[()], batch + (0, n), ())
        return u, s, vh
    wide = n > m
    x = _H(a) if wide else a  # (..., big, p) with big >= p
    big = builtins.max(m, n)
    x, scale, finite = _prepare(x)
    y, v = _one_sided_jacobi(x, compute_uv)
    s = lax.sqrt(lax.reduce_sum(_abs2(y), (nd - 2,)))
    if not compute_uv:
        s, = _sort_last(s, descending=True)
        return (_nan_where_not(finite, _ufuncs.multiply(s, scale)),)
    s, y, v = _sort_last(s, y, v, descending=True)
    # Columns of y with a zero (or underflowed) norm give no direction: complete those.
    valid = s > float(np.finfo(rdt).tiny / np.finfo(rdt).eps)
    u = _ufuncs.true_divide(y, _expand(_ufuncs.where(valid, s, 1), nd - 2))
    if full_matrices and big > p:
        u = lax.pad(u, np.zeros((), u.dtype)[()], [(0, 0, 0)] * (nd - 1) + [(0, big - p, 0)])
        valid = lax.pad(valid, np.bool_(False), [(0, 0, 0)] * (nd - 2) + [(0, big - p, 0)])
        u = _complete_basis(u, valid)
    else:
        u = lax.cond(lax.reduce_and(valid, tuple(range(nd - 1))), lambda u, _: u,
                     _complete_basis, u, valid)
    s = _nan_where_not(finite, _ufuncs.multiply(s, scale))
    u, v = _nan_where_not(finite, u), _nan_where_not(finite, v)
    return (v, s, _H(u)) if wide else (u, s, _H(v))


def _eigh_impl(a, compute_v: bool):
    """Eigendecomposition of Hermitian ``a`` (..., n, n): ``(w,)`` or ``(w, v)``, w
    ascending."""
    *batch, n, _ = a.shape
    if n == 0:
        w = lax.broadcast_in_dim(np.zeros((), _real_dtype(a.dtype))[()], tuple(batch) + (0,), ())
        return (w, a) if compute_v else (w,)
    x, scale, finite = _prepare(a)
    d, v = _two_sided_jacobi(x, compute_v)
    d = _ufuncs.multiply(d, scale)
    if not compute_v:
        d, = _sort_last(d)
        return (_nan_where_not(finite, d),)
    d, v = _sort_last(d, v)
    return _nan_where_not(finite, d), _nan_where_not(finite, v)


def _diag_of(x):
    nd = get_aval(x).ndim
    n = get_aval(x).shape[-1]
    return lax.reduce_sum(_ufuncs.where(np.eye(n, dtype=bool), x, 0), (nd - 1,))


@jit
def _thin_svd(a):
    return _svd_impl(a, False, True)


@jit
def _full_eigh(a):
    return _eigh_impl(a, True)


@functools.partial(custom_jvp, nondiff_argnums=(1, 2))
def _svd_ad(a, full_matrices, compute_uv):
    return _svd_impl(a, full_matrices, compute_uv)


@_svd_ad.defjvp
def _svd_jvp(full_matrices, compute_uv, primals, tangents):
    """JAX's SVD JVP: with dS = U^H dA V, ds = Re(diag dS); dU and dV from the off-diagonal of
    dS over the differences s_j**2 - s_i**2 (undefined for repeated singular values), plus the
    components outside the range of U (tall) or V (wide)."""
    a, = primals
    da, = tangents
    *_, m, n = a.shape
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            "svd: derivatives of U and Vh with full_matrices=True are only defined for square "
            "matrices (the extra columns are not unique); use full_matrices=False")
    u, s, vh = _thin_svd(a)
    p = builtins.min(m, n)
    if p == 0:
        zero = functools.partial(_ufuncs.multiply, 0)
        return ((s,), (zero(s),)) if not compute_uv else ((u, s, vh),
                                                         (zero(u), zero(s), zero(vh)))
    nd = a.ndim
    v = _H(vh)
    ds_mat = _mm(_mm(_H(u), da), v)
    ds = _ufuncs.real(_diag_of(ds_mat))
    if not compute_uv:
        return (s,), (ds,)
    dt = a.dtype
    sc = lax.convert_element_type(s, dt)
    s_row, s_col = _expand(sc, nd - 2), _expand(sc, nd - 1)
    eye = np.eye(p, dtype=bool)
    diffs = _ufuncs.multiply(_ufuncs.add(s_row, s_col), _ufuncs.subtract(s_row, s_col))
    f = _ufuncs.where(eye, 0, _ufuncs.true_divide(1, _ufuncs.where(eye, 1, diffs)))
    dss = _ufuncs.multiply(ds_mat, s_row)
    sds = _ufuncs.multiply(s_col, ds_mat)
    s_inv = _ufuncs.where(s_row == 0, 0, _ufuncs.true_divide(1, _ufuncs.where(s_row == 0, 1,
                                                                                s_row)))
    dudv_diag = _ufuncs.where(eye, _ufuncs.multiply(
        _ufuncs.multiply(0.5, _ufuncs.subtract(ds_mat, _H(ds_mat))), s_inv), 0)
    du = _mm(u, _ufuncs.add(_ufuncs.multiply(f, _ufuncs.add(dss, _H(dss))), dudv_diag))
    dv = _mm(v, _ufuncs.multiply(f, _ufuncs.add(sds, _H(sds))))
    if m > n:
        dav = _mm(da, v)
        du = _ufuncs.add(du, _ufuncs.true_divide(
            _ufuncs.subtract(dav, _mm(u, _mm(_H(u), dav))), s_row))
    if n > m:
        dahu = _mm(_H(da), u)
        dv = _ufuncs.add(dv, _ufuncs.true_divide(
            _ufuncs.subtract(dahu, _mm(v, _mm(vh, dahu))), s_row))
    return (u, s, vh), (du, ds, _H(dv))


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def _eigh_ad(a, compute_v):
    return _eigh_impl(a, compute_v)


@_eigh_ad.defjvp
def _eigh_jvp(compute_v, primals, tangents):
    """JAX's eigh JVP: with M = V^H dA V, dw = Re(diag M) and dV = V (F * M), where
    F_ij = 1 / (w_j - w_i) off the diagonal (undefined for repeated eigenvalues)."""
    a, = primals
    da, = tangents
    w, v = _full_eigh(a)
    n = a.shape[-1]
    if n == 0:
        return ((w, v), (w, v)) if compute_v else ((w,), (w,))
    nd = a.ndim
    vdav = _mm(_mm(_H(v), da), v)
    dw = _ufuncs.real(_diag_of(vdav))
    if not compute_v:
        return (w,), (dw,)
    wc = lax.convert_element_type(w, a.dtype)
    eye = np.eye(n, dtype=bool)
    diffs = _ufuncs.subtract(_expand(wc, nd - 2), _expand(wc, nd - 1))
    f = _ufuncs.where(eye, 0, _ufuncs.true_divide(1, _ufuncs.where(eye, 1, diffs)))
    return (w, v), (dw, _mm(v, _ufuncs.multiply(f, vdav)))


# The entry points are jit-compiled functions (not ``_jit``, which inlines under a trace):
# vmap batches the compiled call as a whole, and eager grad runs the primal decomposition in
# the JVP rules as one program instead of primitive by primitive.
@functools.partial(jit, static_argnames=("full_matrices", "compute_uv"))
def _svd_jit(a, *, full_matrices, compute_uv):
    return _svd_ad(a, full_matrices, compute_uv)


@functools.partial(jit, static_argnames=("compute_uv",))
def _svd_hermitian(a, *, compute_uv):
    """NumPy's SVD of a Hermitian matrix: |eigenvalues| in the reverse order of a stable
    ascending sort, U the eigenvectors, Vh = (U * copysign(1, w))^H."""
    out = _eigh_ad(a, compute_uv)
    w = lax.abs(out[0])
    if w.shape[-1] == 0:
        return (w, out[1], out[1]) if compute_uv else (w,)
    nd = w.ndim
    idx = lax.broadcasted_iota(dtypes.int32, w.shape, nd - 1)
    _, perm = lax.sort([w, idx], dimension=nd - 1, num_keys=1)
    perm = lax.rev(perm, (nd - 1,))
    s = _take_cols(w, perm)
    if not compute_uv:
        return (s,)
    u = _take_cols(out[1], perm)
    # NumPy's copysign(1, w): a zero eigenvalue still gives a unit row of Vh.
    sgn = lax.convert_element_type(_take_cols(_ufuncs.copysign(1.0, out[0]), perm), u.dtype)
    return u, s, _H(_ufuncs.multiply(u, _expand(sgn, nd - 1)))


@functools.partial(_jit, static_argnames=("uplo", "symmetrize"))
def _hermitian(a, *, uplo: str, symmetrize: bool = False):
    """The Hermitian matrix stored in the lower (``'L'``) or upper (``'U'``) triangle of
    ``a`` (the imaginary part of the diagonal is ignored, as LAPACK does), or
    ``(a + a^H) / 2``. Outside the decomposition's program, which all variants share."""
    if symmetrize:
        return _ufuncs.multiply(0.5, _ufuncs.add(a, _H(a)))
    n = a.shape[-1]
    tri = a if uplo == "L" else _H(a)  # the wanted triangle, as a lower triangle
    lower = np.tril(np.ones((n, n), dtype=bool), -1)
    diag = _ufuncs.real(tri)
    if dtypes.is_complex(a.dtype):
        diag = lax.convert_element_type(diag, a.dtype)
    return _ufuncs.where(lower, tri, _ufuncs.where(lower.T, _H(tri), diag))


@functools.partial(jit, static_argnames=("compute_v",))
def _eigh_jit(a, *, compute_v):
    return _eigh_ad(a, compute_v)


def _check_uplo(name, uplo):
    if uplo not in ("L", "U"):
        raise ValueError(f"{name}: UPLO must be 'L' or 'U', got {uplo!r}")
    return uplo


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (ascending, real) and eigenvectors (columns) of a Hermitian matrix or stack
    of them. As in JAX, ``symmetrize_input=True`` (the default) uses ``(a + a^H) / 2``, which
    also makes the gradient symmetric; ``False`` reads only the lower (``UPLO='L'``, the
    default) or upper (``'U'``) triangle, as ``numpy.linalg.eigh`` does."""
    a = _linalg_operand("eigh", a, square=True)
    uplo = _check_uplo("eigh", "L" if UPLO is None else UPLO)
    w, v = _eigh_jit(_hermitian(a, uplo=uplo, symmetrize=bool(symmetrize_input)),
                     compute_v=True)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True) -> Array:
    """Eigenvalues (ascending, real) of a Hermitian matrix or stack of them; ``UPLO`` and
    ``symmetrize_input`` as in ``eigh`` (JAX's defaults: the input is symmetrized)."""
    a = _linalg_operand("eigvalsh", a, square=True)
    uplo = _check_uplo("eigvalsh", "L" if UPLO is None else UPLO)
    return _eigh_jit(_hermitian(a, uplo=uplo, symmetrize=bool(symmetrize_input)),
                     compute_v=False)[0]


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """Singular value decomposition of a matrix or stack of matrices, as ``numpy.linalg.svd``:
    ``SVDResult(U, S, Vh)`` with ``a == U @ (S[..., None] * Vh)`` and ``S`` descending, or
    only ``S`` when ``compute_uv=False``. ``full_matrices=False`` gives the thin factors
    (``U`` (..., m, k), ``Vh`` (..., k, n), k = min(m, n)). ``hermitian=True`` derives the SVD
    from ``eigh`` (reading the lower triangle), as NumPy does.

    Differentiable (JAX's rules): singular values always; ``U`` and ``Vh`` only with
    ``full_matrices=False`` or square matrices, and not at repeated singular values."""
    a = _linalg_operand("svd", a)
    full_matrices, compute_uv = bool(full_matrices), bool(compute_uv)
    if hermitian:
        if a.shape[-1] != a.shape[-2]:
            raise ValueError(f"svd: hermitian=True needs square matrices, got shape {a.shape}")
        out = _svd_hermitian(_hermitian(a, uplo="L"), compute_uv=compute_uv)
    else:  # full_matrices does not matter without U and Vh: share one program
        out = _svd_jit(a, full_matrices=full_matrices and compute_uv, compute_uv=compute_uv)
    return SVDResult(*out) if compute_uv else out[0]


def svdvals(x, /) -> Array:
    """Singular values, descending (the array API's ``svdvals``)."""
    return svd(x, compute_uv=False)


# ---------------------------------------------------------------------------------------------


_LINALG_ONLY = ("norm", "vector_norm", "matrix_norm", "svd", "svdvals", "eigh", "eigvalsh",
                "SVDResult", "EighResult")
__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", None) == __name__
           and _n not in _LINALG_ONLY]


def _attach_public_module() -> None:
    """Make ``xtrace.numpy.linalg`` an attribute of ``xtrace.numpy`` as soon as the package
    imports this module, so that ``xnp.linalg.norm`` works after ``import xtrace.numpy as xnp``
    (the submodule only re-exports names defined above)."""
    import importlib
    importlib.import_module("xtrace.numpy.linalg")


_attach_public_module()
