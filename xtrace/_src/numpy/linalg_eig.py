"""General (non-Hermitian) eigenproblems written with lax loops: ``xtrace.numpy.linalg.eig`` and
``eigvals``, and the complex Schur decomposition they rest on (also used by
``xtrace.scipy.linalg.schur``, ``sqrtm`` and ``funm``).

StableHLO has no eigensolver (JAX calls LAPACK's ``geev`` on CPU), so this is LAPACK's route
written out: scaling-only balancing (``gebal``), Householder reduction to Hessenberg form
(``gehrd``), single-shift QR iterations with Wilkinson shifts and deflation to complex Schur form
(``hseqr``/``lahqr``, in complex arithmetic for every input), and eigenvectors by
back-substitution on the triangular factor (``trevc``). Each loop step updates whole stacks of
matrices with masks and dynamic slices at the (unbatched) loop index, so it runs on any backend,
under jit and vmap.

Conventions (as LAPACK's ``geev``): eigenvectors are the columns of ``v``, of unit 2-norm, with
their largest component real and positive. For real input the eigenvalues come in exactly
conjugate pairs and real eigenvalues have a zero imaginary part (computed values within a few
ulps of the real axis are put on it). The eigenvalues are in the order in which deflation finds
them, which is not LAPACK's: compare sorted values.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.custom_derivatives import custom_jvp
from xtrace._src.jit import jit
from xtrace._src.numpy import ufuncs as _uf
from xtrace._src.numpy.linalg import (_abs2, _diag_of, _expand, _eye_like, _linalg_operand, _mm,
                                      _prepare, _real_dtype)
from xtrace._src.numpy.linalg_solve import _householder, inv

_where = _uf.where
_MAX_BALANCE_SWEEPS = 30


class EigResult(NamedTuple):
    """``eig``'s result: complex eigenvalues and the right eigenvectors as columns."""
    eigenvalues: Array
    eigenvectors: Array


def _complex_dtype(dt) -> np.dtype:
    return np.dtype(np.complex128) if np.dtype(dt) in (np.float64, np.complex128) \
        else np.dtype(np.complex64)


def _cabs1(x):
    """LAPACK's cheap modulus ``|re| + |im|``."""
    if dtypes.is_complex(get_aval(x).dtype):
        return lax.add(lax.abs(lax.real(x)), lax.abs(lax.imag(x)))
    return lax.abs(x)


def _pick(vec, idx):
    """``vec[..., idx]`` for a per-matrix index ``idx`` (...,)."""
    n = get_aval(vec).shape[-1]
    hit = lax.iota(dtypes.int32, n) == _expand(idx, get_aval(idx).ndim)
    return lax.reduce_sum(_where(hit, vec, 0), (get_aval(vec).ndim - 1,))


def _bmask(mask):
    """``mask`` (...,) as (..., 1, 1), for a per-matrix select on stacks of matrices."""
    return _expand(_expand(mask, get_aval(mask).ndim), get_aval(mask).ndim)


def _rows(x, k, count):
    return lax.dynamic_slice_in_dim(x, k, count, axis=get_aval(x).ndim - 2)


def _cols(x, k, count):
    return lax.dynamic_slice_in_dim(x, k, count, axis=get_aval(x).ndim - 1)


def _set_rows(x, k, upd):
    return lax.dynamic_update_slice_in_dim(x, upd, k, axis=get_aval(x).ndim - 2)


def _set_cols(x, k, upd):
    return lax.dynamic_update_slice_in_dim(x, upd, k, axis=get_aval(x).ndim - 1)


def _offdiag(t, k: int):
    """The subdiagonal ``t[..., i + 1, i]`` (k=1) or superdiagonal ``t[..., i, i + 1]``
    (k=-1), as (..., n - 1)."""
    nd = get_aval(t).ndim
    n = get_aval(t).shape[-1]
    r0, c0 = (1, 0) if k == 1 else (0, 1)
    return _diag_of(lax.slice_in_dim(lax.slice_in_dim(t, r0, r0 + n - 1, axis=nd - 2), c0,
                                     c0 + n - 1, axis=nd - 1))


def _index(x, axis, i):
    return lax.index_in_dim(x, i, axis % get_aval(x).ndim, keepdims=False)


# ---------------------------------------------------------------------------------------------
# Balancing (gebal, scaling only)


def _balance(a):
    """``(b, d)`` with ``b = diag(d)^-1 a diag(d)`` and row/column norms of ``b`` balanced by
    powers of two (Osborne's iteration, as LAPACK's ``gebal`` with job 'S')."""
    *batch, n, _ = get_aval(a).shape
    nd = get_aval(a).ndim
    rdt = _real_dtype(get_aval(a).dtype)
    idx = lax.iota(dtypes.int32, n)

    def step(i, carry):
        a, d, changed = carry
        col = _index(_cols(a, i, 1), -1, 0)  # (..., n)
        row = _index(_rows(a, i, 1), -2, 0)
        off = idx != i
        c = lax.sqrt(lax.reduce_sum(_where(off, _abs2(col), 0), (nd - 2,)))
        r = lax.sqrt(lax.reduce_sum(_where(off, _abs2(row), 0), (nd - 2,)))
        ok = _uf.logical_and(c > 0, r > 0)
        cs, rs = _where(ok, c, 1), _where(ok, r, 1)
        # f = 2**round(log2(sqrt(r / c))): the power of two closest to equalizing c f and r / f
        f = _uf.exp2(_uf.round(_uf.multiply(0.5, _uf.log2(_uf.true_divide(rs, cs)))))
        better = _uf.less(_uf.add(_uf.multiply(cs, f), _uf.true_divide(rs, f)),
                          _uf.multiply(0.95, _uf.add(cs, rs)))
        f = lax.convert_element_type(_where(_uf.logical_and(ok, better), f, 1), rdt)
        fc = lax.convert_element_type(f, get_aval(a).dtype)
        a = _set_cols(a, i, _expand(_uf.multiply(col, _expand(fc, nd - 2)), nd - 1))
        row = _index(_rows(a, i, 1), -2, 0)
        a = _set_rows(a, i, _expand(_uf.true_divide(row, _expand(fc, nd - 2)), nd - 2))
        d = _where(idx == i, _uf.multiply(d, _expand(f, nd - 2)), d)
        return a, d, _uf.logical_or(changed, lax.reduce_or(f != 1, tuple(range(nd - 2))))

    def sweep(carry):
        a, d, _, count = carry
        a, d, changed = lax.fori_loop(0, n, step, (a, d, np.bool_(False)))
        return a, d, changed, count + 1

    def more(carry):
        return lax.bitwise_and(carry[2], carry[3] < _MAX_BALANCE_SWEEPS)

    d0 = lax.broadcast_in_dim(np.ones((), rdt)[()], tuple(batch) + (n,), ())
    a, d, _, _ = lax.while_loop(more, sweep, (a, d0, np.bool_(True), np.int32(0)))
    return a, d


# ---------------------------------------------------------------------------------------------
# Hessenberg reduction (gehrd + orghr)


def _hessenberg(a):
    """``(h, q)`` with ``a = q h q^H``, h upper Hessenberg and q unitary (Householder
    reflectors ``I - tau v v^H``, LAPACK's ``larfg``)."""
    *batch, n, _ = get_aval(a).shape
    nd = get_aval(a).ndim
    dt = get_aval(a).dtype
    rows = lax.iota(dtypes.int32, n)

    def step(k, carry):
        a, q = carry
        col = _index(_cols(a, k, 1), -1, 0)  # (..., n)
        alpha = _pick(col, lax.broadcast_in_dim(k + 1, tuple(batch), ()))
        tail = _where(rows > k + 1, col, 0)
        _, tau, scale, _ = _householder(alpha, lax.reduce_sum(_abs2(tail), (nd - 2,)))
        v = _where(rows == k + 1, np.ones((), dt)[()], _uf.multiply(tail, _expand(scale, nd - 2)))
        tau_m = _expand(_expand(tau, nd - 2), nd - 2)
        vc, vr = _expand(v, nd - 1), _expand(v, nd - 2)  # column (..., n, 1), row (..., 1, n)
        # a := H^H a H, q := q H with H = I - tau v v^H
        a = _uf.subtract(a, _uf.multiply(_uf.conj(tau_m), _uf.multiply(
            vc, _expand(lax.reduce_sum(_uf.multiply(_uf.conj(vc), a), (nd - 2,)), nd - 2))))
        av = lax.reduce_sum(_uf.multiply(a, vr), (nd - 1,))
        a = _uf.subtract(a, _uf.multiply(tau_m, _uf.multiply(_expand(av, nd - 1), _uf.conj(vr))))
        qv = lax.reduce_sum(_uf.multiply(q, vr), (nd - 1,))
        q = _uf.subtract(q, _uf.multiply(tau_m, _uf.multiply(_expand(qv, nd - 1), _uf.conj(vr))))
        return a, q

    q = _eye_like(batch, n, dt)
    if n > 2:
        a, q = lax.fori_loop(0, n - 2, step, (a, q))
    return _where(np.tri(n, n, -2, dtype=bool), 0, a), q


# ---------------------------------------------------------------------------------------------
# Complex Schur form by shifted QR (lahqr)


def _givens(x, y):
    """``(c, s)``, c real, with ``[[c, s], [-conj(s), c]] @ [x, y] = [r, 0]``."""
    ax, ay = lax.abs(x), lax.abs(y)
    nrm = _uf.hypot(ax, ay)
    xz = ax == 0
    safe_ax = _where(xz, 1, ax)
    phase = _where(xz, 1, _uf.true_divide(x, lax.convert_element_type(safe_ax, get_aval(x).dtype)))
    nz = nrm > 0
    safe = lax.convert_element_type(_where(nz, nrm, 1), get_aval(x).dtype)
    c = _where(nz, _uf.true_divide(ax, _where(nz, nrm, 1)), 1)
    s = _where(nz, _uf.true_divide(_uf.multiply(phase, _uf.conj(y)), safe), 0)
    return c, s


def _wilkinson_shift(t, hi, its):
    """The eigenvalue of the trailing 2x2 block of the active window closer to its last
    diagonal entry (``lahqr``'s formula), or an exceptional shift every 10 iterations."""
    nd = get_aval(t).ndim
    diag = _diag_of(t)
    sub = _offdiag(t, 1)
    sup = _offdiag(t, -1)
    him = lax.max(hi - 1, np.int32(0))
    a, d = _pick(diag, him), _pick(diag, hi)
    b, c = _pick(sup, him), _pick(sub, him)
    dt = get_aval(t).dtype
    # mu = d - u**2 / (x + y), u**2 = b c, x = (a - d) / 2, y = sqrt(x**2 + u**2) taking x's
    # side; scaled by s ~ max(|u|, |x|) against overflow
    u2 = _uf.multiply(b, c)
    x = _uf.multiply(0.5, _uf.subtract(a, d))
    s = lax.max(lax.sqrt(_cabs1(u2)), _cabs1(x))
    ok = s > 0
    safe_s = lax.convert_element_type(_where(ok, s, 1), dt)
    xs = _uf.true_divide(x, safe_s)
    us2 = _uf.true_divide(_uf.true_divide(u2, safe_s), safe_s)
    ys = _uf.sqrt(_uf.add(_uf.square(xs), us2))
    flip = _uf.less(_uf.add(_uf.multiply(lax.real(xs), lax.real(ys)),
                            _uf.multiply(lax.imag(xs), lax.imag(ys))), 0)
    den = _uf.add(xs, _where(flip, _uf.negative(ys), ys))
    ok = _uf.logical_and(ok, lax.abs(den) > 0)
    mu = _where(ok, _uf.subtract(d, _uf.true_divide(us2, _where(ok, den, 1)) * safe_s), d)
    exceptional = _uf.logical_and(its > 0, lax.rem(its, np.int32(10)) == 0)
    ex = _uf.add(d, _uf.multiply(0.75, lax.abs(lax.real(c))))
    return _where(exceptional, ex, mu)


def _qr_sweep(t, z, lo, hi, mu):
    """One implicit single-shift QR step (a bulge chase by Givens rotations) on the windows
    ``[lo, hi]``, applied to whole rows and columns so that ``t`` stays the full Schur factor
    and ``z`` accumulates the rotations."""
    nd = get_aval(t).ndim

    def step(k, carry):
        t, z = carry
        active = _uf.logical_and(lo <= k, k < hi)
        first = lo == k
        rows = _rows(t, k, 2)  # (..., 2, n)
        c0 = lax.max(k - 1, np.int32(0))
        blk = _cols(rows, c0, 2)  # (..., 2, 2): columns k-1, k (or 0, 1 when k == 0)
        colk = _where(k >= 1, _index(blk, -1, 1), _index(blk, -1, 0))
        colkm1 = _index(blk, -1, 0)
        x = _where(first, _uf.subtract(_index(colk, -1, 0), mu), _index(colkm1, -1, 0))
        y = _where(first, _index(colk, -1, 1), _index(colkm1, -1, 1))
        c, s = _givens(x, y)
        c = lax.convert_element_type(_where(active, c, 1), get_aval(t).dtype)
        s = _where(active, s, 0)
        cm, sm = _expand(_expand(c, nd - 2), nd - 2), _expand(_expand(s, nd - 2), nd - 2)
        r0, r1 = lax.slice_in_dim(rows, 0, 1, axis=nd - 2), lax.slice_in_dim(rows, 1, 2,
                                                                             axis=nd - 2)
        t = _set_rows(t, k, lax.concatenate(
            [_uf.add(_uf.multiply(cm, r0), _uf.multiply(sm, r1)),
             _uf.subtract(_uf.multiply(cm, r1), _uf.multiply(_uf.conj(sm), r0))], nd - 2))

        def right(m):
            cols = _cols(m, k, 2)
            q0 = lax.slice_in_dim(cols, 0, 1, axis=nd - 1)
            q1 = lax.slice_in_dim(cols, 1, 2, axis=nd - 1)
            return _set_cols(m, k, lax.concatenate(
                [_uf.add(_uf.multiply(cm, q0), _uf.multiply(_uf.conj(sm), q1)),
                 _uf.subtract(_uf.multiply(cm, q1), _uf.multiply(sm, q0))], nd - 1))

        return right(t), right(z)

    k0 = lax.reduce_min(lo, tuple(range(nd - 2))) if nd > 2 else lo
    k1 = lax.reduce_max(hi, tuple(range(nd - 2))) if nd > 2 else hi
    return lax.fori_loop(k0, k1, step, (t, z))


def _deflate(t, eps, smlnum, min_size: int = 2):
    """Zero negligible subdiagonal entries; return ``(t, lo, hi, done)``: the active window
    ``[lo, hi]`` is the lowest unreduced block of at least ``min_size`` rows (2 for the complex
    Schur form; 3 for the real one, whose 2x2 blocks stay)."""
    n = get_aval(t).shape[-1]
    nd = get_aval(t).ndim
    diag = _diag_of(t)
    sub = _offdiag(t, 1)  # (..., n-1): t[i+1, i]
    da = _cabs1(diag)
    near = _uf.add(lax.slice_in_dim(da, 0, n - 1, axis=nd - 2),
                   lax.slice_in_dim(da, 1, n, axis=nd - 2))
    small = _uf.logical_or(_cabs1(sub) <= _uf.multiply(eps, near), _cabs1(sub) <= smlnum)
    small_rows = lax.pad(small, np.bool_(False), [(0, 0, 0)] * (nd - 2) + [(1, 0, 0)])
    t = _where(_uf.logical_and(np.eye(n, k=-1, dtype=bool), _expand(small_rows, nd - 1)), 0, t)
    r = lax.iota(dtypes.int32, n)
    nz_rows = _uf.logical_and(r > 0, _uf.logical_not(small_rows))  # t[r, r-1] != 0
    cand = nz_rows
    if min_size == 3:  # a block end whose block has >= 3 rows: two nonzero subdiagonals
        nxt = lax.pad(lax.slice_in_dim(nz_rows, 1, n, axis=nd - 2), np.bool_(False),
                      [(0, 0, 0)] * (nd - 2) + [(0, 1, 0)])
        prev = lax.pad(lax.slice_in_dim(nz_rows, 0, n - 1, axis=nd - 2), np.bool_(False),
                       [(0, 0, 0)] * (nd - 2) + [(1, 0, 0)])
        cand = _uf.logical_and(_uf.logical_and(cand, prev), _uf.logical_not(nxt))
    hi = lax.reduce_max(_where(cand, r, 0), (nd - 2,))
    split = _uf.logical_and(_uf.logical_not(nz_rows), r <= _expand(hi, nd - 2))
    lo = lax.reduce_max(_where(split, r, 0), (nd - 2,))
    return t, lo, hi, hi == 0


def _qr_iterations(h, z, sweep, min_size: int):
    """Sweeps ``sweep(t, z, lo, hi, its)`` on the active windows until every matrix of the stack
    has converged (``_deflate`` with ``min_size``), at most ``30 max(10, n)`` of them (LAPACK's
    limit); entries below the subdiagonal are kept exactly zero."""
    *batch, n, _ = get_aval(h).shape
    nd = get_aval(h).ndim
    rdt = _real_dtype(get_aval(h).dtype)
    eps = float(np.finfo(rdt).eps)
    smlnum = float(np.finfo(rdt).tiny) * n / eps
    max_its = 30 * max(10, n)
    zeros_i = lax.broadcast_in_dim(np.int32(0), tuple(batch), ())

    def body(carry):
        t, z, lo, hi, its, _, total = carry
        t, z = sweep(t, z, lo, hi, its)
        t = _where(np.tri(n, n, -2, dtype=bool), 0, t)
        t, lo, new_hi, done = _deflate(t, eps, smlnum, min_size)
        its = _where(new_hi == hi, its + 1, 0)
        return t, z, lo, new_hi, its, done, total + 1

    def more(carry):
        done, total = carry[5], carry[6]
        return lax.bitwise_and(lax.bitwise_not(lax.reduce_and(done, tuple(range(nd - 2)))),
                               total < max_its)

    t, lo, hi, done = _deflate(h, eps, smlnum, min_size)
    init = (t, z, lo, hi, zeros_i, done, np.int32(0))
    t, z, *_ = lax.while_loop(more, body, init)
    return t, z


def _complex_sweep(t, z, lo, hi, its):
    return _qr_sweep(t, z, lo, hi, _wilkinson_shift(t, hi, its))


def _schur_complex(h, z):
    """Complex Schur form of the Hessenberg ``h``: ``(t, z)`` with t upper triangular and
    ``z`` the input ``z`` times the accumulated rotations (``h0 = z_rot t z_rot^H``)."""
    n = get_aval(h).shape[-1]
    if n < 2:
        return h, z
    t, z = _qr_iterations(h, z, _complex_sweep, 2)
    return _where(np.tri(n, n, -1, dtype=bool), 0, t), z


def _complex_schur_impl(a):
    """``(t, z)``, ``a = z t z^H`` with t upper triangular, for complex ``a`` (scaled and with
    non-finite matrices turned into NaNs)."""
    n = get_aval(a).shape[-1]
    if n == 0:
        return a, a
    x, scale, finite = _prepare(a)
    h, q = _hessenberg(x)
    t, z = _schur_complex(h, q)
    t = _uf.multiply(t, lax.convert_element_type(_expand(scale, get_aval(a).ndim - 2),
                                                 get_aval(a).dtype))
    nan = functools.partial(_where, _bmask(finite))
    return nan(t, np.nan), nan(z, np.nan)


# ---------------------------------------------------------------------------------------------
# Eigenvectors of the triangular factor (trevc)


def _triangular_eigvecs(t):
    """Columns ``x_i`` with ``t x_i = t_ii x_i``, ``x_i[i] = 1`` before scaling and zero below:
    back-substitution for all columns at once, row by row from the bottom (near-zero pivots
    replaced by a tiny number, as ``trevc`` does; columns rescaled as they grow)."""
    *batch, n, _ = get_aval(t).shape
    nd = get_aval(t).ndim
    dt = get_aval(t).dtype
    rdt = _real_dtype(dt)
    w = _diag_of(t)
    eps = float(np.finfo(rdt).eps)
    smin = lax.max(_uf.multiply(eps, _cabs1(w)),
                   np.asarray(np.finfo(rdt).tiny / eps, rdt)[()])  # per column i
    cols = lax.iota(dtypes.int32, n)

    def step(jj, x):
        j = n - 2 - jj
        trow = _index(_rows(t, j, 1), -2, 0)  # (..., n)
        tjj = _pick(trow, lax.broadcast_in_dim(j, tuple(batch), ()))
        trow = _where(cols > j, trow, 0)
        num = lax.reduce_sum(_uf.multiply(_expand(trow, nd - 1), x), (nd - 2,))  # (..., n)
        den = _uf.subtract(_expand(tjj, nd - 2), w)
        tiny = _cabs1(den) < smin
        den = _where(tiny, lax.convert_element_type(smin, dt), den)
        xj = _where(cols > j, _uf.negative(_uf.true_divide(num, den)), _index(_rows(x, j, 1),
                                                                               -2, 0))
        x = _set_rows(x, j, _expand(xj, nd - 2))
        big = lax.reduce_max(_cabs1(x), (nd - 2,))
        return _uf.true_divide(x, _expand(lax.convert_element_type(lax.max(
            big, np.ones((), rdt)[()]), dt), nd - 2))

    x = _eye_like(batch, n, dt)
    return lax.fori_loop(0, n - 1, step, x) if n > 1 else x


def _normalize_columns(v):
    """Unit 2-norm columns with the largest-modulus component real and positive (``geev``)."""
    nd = get_aval(v).ndim
    dt = get_aval(v).dtype
    mag = _abs2(v)
    nrm = lax.sqrt(lax.reduce_sum(mag, (nd - 2,)))
    k = lax.argmax(mag, nd - 2, dtypes.int32)
    n = get_aval(v).shape[-1]
    big = lax.reduce_sum(_where(lax.iota(dtypes.int32, n)[:, None] == _expand(k, nd - 2), v, 0),
                         (nd - 2,))
    ab = lax.abs(big)
    ok = _uf.logical_and(ab > 0, nrm > 0)
    phase = _where(ok, _uf.true_divide(_uf.conj(big), lax.convert_element_type(
        _where(ok, _uf.multiply(ab, nrm), 1), dt)), 1)
    return _uf.multiply(v, _expand(phase, nd - 2))


# ---------------------------------------------------------------------------------------------
# Real input: exact conjugate pairs


def _conjugate_pairs(w, real_tol):
    """Eigenvalues of a real matrix made exactly closed under conjugation: values within
    ``real_tol`` of the real axis become real, and each remaining value and its mutual nearest
    conjugate partner are averaged (``(w_i + conj(w_j)) / 2`` and its conjugate)."""
    n = get_aval(w).shape[-1]
    nd = get_aval(w).ndim
    isreal = lax.abs(lax.imag(w)) <= real_tol
    w = _where(isreal, lax.convert_element_type(lax.real(w), get_aval(w).dtype), w)
    if n < 2:
        return w, isreal
    # dist[i, j] = |w_j - conj(w_i)|, only between distinct non-real values
    wi, wj = _expand(w, nd), _expand(w, nd - 1)  # (..., n, 1), (..., 1, n)
    dist = lax.abs(_uf.subtract(wj, _uf.conj(wi)))
    valid = _uf.logical_and(_uf.logical_not(np.eye(n, dtype=bool)), _uf.logical_and(
        _expand(_uf.logical_not(isreal), nd), _expand(_uf.logical_not(isreal), nd - 1)))
    dist = _where(valid, dist, np.inf)
    partner = lax.argmin(dist, nd, dtypes.int32)  # (..., n)
    back = _pick_rows(partner, partner)
    mutual = _uf.logical_and(back == lax.iota(dtypes.int32, n), _uf.logical_not(isreal))
    wp = _pick_rows(w, partner)
    avg = _uf.multiply(0.5, _uf.add(w, _uf.conj(wp)))
    return _where(mutual, avg, w), isreal


def _pick_rows(vec, idx):
    """``vec[..., idx[..., i]]`` for each i (both (..., n))."""
    n = get_aval(vec).shape[-1]
    nd = get_aval(vec).ndim
    hit = _expand(idx, nd) == lax.iota(dtypes.int32, n)  # (..., n, n)
    return lax.reduce_sum(_where(hit, _expand(vec, nd - 1), 0), (nd,))


# ---------------------------------------------------------------------------------------------
# eig / eigvals


def _eig_impl(a, compute_v: bool):
    """``(w,)`` or ``(w, v)`` for ``a`` (..., n, n) of any inexact dtype."""
    *batch, n, _ = get_aval(a).shape
    real_input = not dtypes.is_complex(get_aval(a).dtype)
    cdt = _complex_dtype(get_aval(a).dtype)
    nd = get_aval(a).ndim
    a = lax.convert_element_type(a, cdt)
    if n == 0:
        w = lax.broadcast_in_dim(np.zeros((), cdt)[()], tuple(batch) + (0,), ())
        return (w, a) if compute_v else (w,)
    x, scale, finite = _prepare(a)
    x, d = _balance(x)
    h, q = _hessenberg(x)
    t, z = _schur_complex(h, q)
    w = _diag_of(t)
    isreal = None
    if real_input:
        tol = float(8 * n * np.finfo(_real_dtype(cdt)).eps)
        w, isreal = _conjugate_pairs(w, tol)
    wout = _where(_expand(finite, nd - 2), _uf.multiply(
        w, lax.convert_element_type(scale, cdt)), np.nan)
    if not compute_v:
        return (wout,)
    v = _mm(z, _triangular_eigvecs(t))
    v = _uf.multiply(v, _expand(lax.convert_element_type(d, cdt), nd - 1))
    v = _normalize_columns(v)
    if real_input:
        v = _where(_expand(isreal, nd - 2), lax.convert_element_type(lax.real(v), cdt), v)
    return wout, _where(_bmask(finite), v, np.nan)


@jit
def _eig_full(a):
    return _eig_impl(a, True)


@custom_jvp
def _eigvals_ad(a):
    return _eig_impl(a, False)[0]


@_eigvals_ad.defjvp
def _eigvals_jvp(primals, tangents):
    """JAX's eigenvalue derivative: ``dw = diag(V^-1 dA V)``."""
    a, = primals
    da, = tangents
    w, v = _eig_full(a)
    if get_aval(a).shape[-1] == 0:
        return w, w
    vinv = inv(v)  # primal only, so the tangent map stays a product of matrices
    dw = _diag_of(_mm(_mm(vinv, lax.convert_element_type(da, get_aval(v).dtype)), v))
    return w, dw


@custom_jvp
def _eig_ad(a):
    return _eig_impl(a, True)


@_eig_ad.defjvp
def _eig_jvp(primals, tangents):
    raise NotImplementedError(
        "eig: the derivatives of eigenvectors are not implemented (as in JAX); differentiate "
        "eigvals instead")


@jit
def _eigvals_jit(a):
    return _eigvals_ad(a)


@jit
def _eig_jit(a):
    return _eig_ad(a)


def eig(a) -> EigResult:
    """Eigenvalues and right eigenvectors of a general square matrix or stack of them, as
    ``numpy.linalg.eig`` with JAX's dtypes: both complex (float32 gives complex64), eigenvectors
    the columns of ``eigenvectors`` with unit 2-norm (``a @ v[:, i] = w[i] * v[:, i]``).

    The eigenvalues are not in LAPACK's order (compare sorted values). As in JAX, eigenvectors
    are not differentiable; differentiate ``eigvals``."""
    a = _linalg_operand("eig", a, square=True)
    w, v = _eig_jit(a)
    return EigResult(w, v)


def eigvals(a) -> Array:
    """Eigenvalues (complex, unordered) of a general square matrix or stack of them;
    differentiable (``dw = diag(V^-1 dA V)``, undefined at repeated eigenvalues)."""
    a = _linalg_operand("eigvals", a, square=True)
    return _eigvals_jit(a)
