"""Products and contractions: matmul, dot, vdot, vecdot, inner, outer, tensordot, einsum,
trace, kron, cross; and the norms behind ``xtrace.numpy.linalg.norm``.

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

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.numpy import reductions as _red
from xtrace._src.numpy.reductions import _jit
from xtrace._src.numpy import ufuncs as _ufuncs
from xtrace._src.numpy.core import (_is_array, asarray, broadcast_shapes, broadcast_to,
                                     promote_dtypes_only)


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
        raise ValueError(
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
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
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


def _check_matrix_ord(ord):
    if ord in _SVD_ORDS:
        raise NotImplementedError(
            f"norm: the matrix norm ord={ord!r} needs singular values (an SVD), which xtrace "
            "does not provide yet; use ord='fro', 1, -1, inf or -inf")
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"norm: invalid order {ord!r} for a matrix norm (use None, 'fro', 1, "
                         "-1, inf or -inf)")
    return ord if isinstance(ord, str) or ord is None else float(ord)


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Array:
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    ``axis`` None: the 2-norm of the flattened array when ``ord`` is None, else a vector norm
    (1-D) or matrix norm (2-D). An int (or 1-tuple) ``axis`` gives vector norms: ``ord`` None/2
    (Euclidean), 1, inf (max |x|), -inf (min |x|), 0 (number of nonzeros), or any p
    (``sum(|x|**p)**(1/p)``). A 2-tuple gives matrix norms: None/'fro', 1 and -1 (max/min
    column sum), inf and -inf (max/min row sum); 2, -2 and 'nuc' need an SVD and raise
    NotImplementedError. Integer inputs give float32 results."""
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
        return _matrix_norm(x, ord=_check_matrix_ord(ord), axes=axes, keepdims=bool(keepdims))
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


_LINALG_ONLY = ("norm", "vector_norm", "matrix_norm")
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
