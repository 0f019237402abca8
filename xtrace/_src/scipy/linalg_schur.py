"""``jax.scipy.linalg``'s Schur-based functions: ``schur``, ``rsf2csf``, ``sqrtm`` and ``funm``,
on the Hessenberg reduction and QR iterations of ``xtrace._src.numpy.linalg_eig``.

The real Schur form (``output='real'`` for real input) comes from Francis double-shift QR steps
in real arithmetic (LAPACK's ``lahqr``: 3-element Householder reflectors chase the bulge), with
each converged 2x2 block put in LAPACK's standard form (``lanv2``: real eigenvalues are split,
a complex pair gives equal diagonal entries and off-diagonal entries of opposite signs).
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from xtrace._src import dtypes, lax
from xtrace._src.array import Array
from xtrace._src.core import get_aval
from xtrace._src.jit import jit
from xtrace._src.numpy import ufuncs as _uf
from xtrace._src.numpy.core import asarray
from xtrace._src.numpy.linalg import _H, _diag_of, _expand, _linalg_operand, _mm, _prepare
from xtrace._src.numpy.linalg_eig import (_bmask, _cols, _complex_dtype, _complex_schur_impl,
                                          _hessenberg, _index, _pick, _qr_iterations,
                                          _rows, _set_cols, _set_rows)
from xtrace._src.numpy.linalg_solve import _householder

_where = _uf.where


def _entry(t, i, j):
    """``t[..., i, j]`` for per-matrix indices ``i``, ``j`` (...,)."""
    return _pick(_pick_row(t, i), j)


def _pick_row(t, i):
    nd = get_aval(t).ndim
    n = get_aval(t).shape[-2]
    hit = _expand(lax.iota(dtypes.int32, n) == _expand(i, nd - 2), nd - 1)
    return lax.reduce_sum(_where(hit, t, 0), (nd - 2,))


def _double_shift(t, hi, its):
    """Trace and determinant of the trailing 2x2 block of the window (the two Francis shifts),
    or ``lahqr``'s exceptional shifts every 10 iterations."""
    him = lax.max(hi - 1, np.int32(0))
    a, b = _entry(t, him, him), _entry(t, him, hi)
    c, d = _entry(t, hi, him), _entry(t, hi, hi)
    tr = _uf.add(a, d)
    det = _uf.subtract(_uf.multiply(a, d), _uf.multiply(b, c))
    s = _uf.add(lax.abs(c), lax.abs(_entry(t, him, lax.max(hi - 2, np.int32(0)))))
    h11 = _uf.add(_uf.multiply(0.75, s), d)
    exceptional = _uf.logical_and(its > 0, lax.rem(its, np.int32(10)) == 0)
    ex_det = _uf.add(_uf.square(h11), _uf.multiply(0.4375, _uf.square(s)))
    return (_where(exceptional, _uf.multiply(2, h11), tr), _where(exceptional, ex_det, det))


def _francis_sweep(t, z, lo, hi, its):
    """One double-shift QR step on the windows ``[lo, hi]`` (size >= 3): the first column of
    ``(H - s1)(H - s2)`` starts a bulge that 3-element reflectors chase down; the last one has
    two elements. ``t`` carries one zero row and column of padding so that three rows can
    always be sliced."""
    nd = get_aval(t).ndim
    tr, det = _double_shift(t, hi, its)
    h00, h01 = _entry(t, lo, lo), _entry(t, lo, lo + 1)
    h10, h11 = _entry(t, lo + 1, lo), _entry(t, lo + 1, lo + 1)
    h21 = _entry(t, lo + 2, lo + 1)
    v1 = _uf.add(_uf.subtract(_uf.add(_uf.square(h00), _uf.multiply(h01, h10)),
                              _uf.multiply(tr, h00)), det)
    v2 = _uf.multiply(h10, _uf.subtract(_uf.add(h00, h11), tr))
    v3 = _uf.multiply(h10, h21)
    sc = _uf.add(_uf.add(lax.abs(v1), lax.abs(v2)), lax.abs(v3))
    sc = _where(sc > 0, sc, 1)
    first_v = [_uf.true_divide(v, sc) for v in (v1, v2, v3)]

    def step(k, carry):
        t, z = carry
        active3 = _uf.logical_and(lo <= k, k <= hi - 2)
        active = _uf.logical_or(active3, k == hi - 1)
        first = lo == k
        rows = _rows(t, k, 3)  # (..., 3, n+1)
        col = _index(_cols(rows, lax.max(k - 1, np.int32(0)), 1), -1, 0)  # (..., 3)
        x, y, w = (_where(first, f, _index(col, -1, i)) for i, f in enumerate(first_v))
        w = _where(active3, w, 0)
        _, tau, scale, _ = _householder(x, _uf.add(_uf.square(y), _uf.square(w)))
        tau = _where(active, tau, 0)
        one = lax.broadcast_in_dim(np.ones((), get_aval(t).dtype)[()], get_aval(x).shape, ())
        v = lax.concatenate([_expand(e, nd - 2) for e in
                             (one, _uf.multiply(y, scale), _uf.multiply(w, scale))], nd - 2)
        taum = _expand(_expand(tau, nd - 2), nd - 2)
        vc, vr = _expand(v, nd - 1), _expand(v, nd - 2)  # (..., 3, 1), (..., 1, 3)
        wrow = lax.reduce_sum(_uf.multiply(vc, rows), (nd - 2,))  # v^T rows
        t = _set_rows(t, k, _uf.subtract(rows, _uf.multiply(taum, _uf.multiply(
            vc, _expand(wrow, nd - 2)))))

        def right(m):
            cols = _cols(m, k, 3)
            cv = lax.reduce_sum(_uf.multiply(cols, vr), (nd - 1,))
            return _set_cols(m, k, _uf.subtract(cols, _uf.multiply(
                taum, _uf.multiply(_expand(cv, nd - 1), vr))))

        return right(t), right(z)

    k0 = lax.reduce_min(lo, tuple(range(nd - 2))) if nd > 2 else lo
    k1 = lax.reduce_max(hi, tuple(range(nd - 2))) if nd > 2 else hi
    return lax.fori_loop(k0, k1, step, (t, z))


def _sign(x):
    return _where(x >= 0, 1, -1).astype(get_aval(x).dtype)


def _lanv2(a, b, c, d, eps):
    """LAPACK's ``lanv2``: the rotation ``(cs, sn)`` that puts ``[[a, b], [c, d]]`` in standard
    form, and that form ``(a, b, c, d)``."""
    zero = _uf.multiply(a, 0)
    one = _uf.add(zero, 1)
    # c == 0: nothing; b == 0: swap rows and columns
    b0 = b == 0
    # general case
    temp = _uf.subtract(a, d)
    p = _uf.multiply(0.5, temp)
    bcmax = lax.max(lax.abs(b), lax.abs(c))
    bcmis = _uf.multiply(_uf.multiply(lax.min(lax.abs(b), lax.abs(c)), _sign(b)), _sign(c))
    scale = lax.max(lax.abs(p), bcmax)
    safe_scale = _where(scale > 0, scale, 1)
    zz = _uf.add(_uf.multiply(_uf.true_divide(p, safe_scale), p),
                 _uf.multiply(_uf.true_divide(bcmax, safe_scale), bcmis))
    real = zz >= 4 * eps
    # real eigenvalues
    zr = _uf.add(p, _uf.multiply(_sign(p), _uf.multiply(lax.sqrt(safe_scale),
                                                       lax.sqrt(lax.max(zz, zero)))))
    safe_zr = _where(zr != 0, zr, 1)
    ar = _uf.add(d, zr)
    dr = _uf.subtract(d, _uf.multiply(_uf.true_divide(bcmax, safe_zr), bcmis))
    taur = _uf.hypot(c, zr)
    safe_taur = _where(taur > 0, taur, 1)
    csr, snr = _uf.true_divide(zr, safe_taur), _uf.true_divide(c, safe_taur)
    br = _uf.subtract(b, c)
    # complex or nearly equal eigenvalues: make the diagonal equal
    sigma = _uf.add(b, c)
    tau = _uf.hypot(sigma, temp)
    safe_tau = _where(tau > 0, tau, 1)
    cs = lax.sqrt(_uf.multiply(0.5, _uf.add(1, _uf.true_divide(lax.abs(sigma), safe_tau))))
    sn = _uf.multiply(_uf.negative(_uf.true_divide(p, _uf.multiply(safe_tau, cs))), _sign(sigma))
    aa, bb = _uf.add(_uf.multiply(a, cs), _uf.multiply(b, sn)), \
        _uf.add(_uf.multiply(_uf.negative(a), sn), _uf.multiply(b, cs))
    cc, dd = _uf.add(_uf.multiply(c, cs), _uf.multiply(d, sn)), \
        _uf.add(_uf.multiply(_uf.negative(c), sn), _uf.multiply(d, cs))
    bc = _uf.add(_uf.multiply(bb, cs), _uf.multiply(dd, sn))
    cc2 = _uf.add(_uf.multiply(_uf.negative(aa), sn), _uf.multiply(cc, cs))
    mid = _uf.multiply(0.5, _uf.add(_uf.add(_uf.multiply(aa, cs), _uf.multiply(cc, sn)),
                                    _uf.add(_uf.multiply(_uf.negative(bb), sn),
                                            _uf.multiply(dd, cs))))
    # after equalizing: b == 0 -> swap; b, c of one sign -> real eigenvalues, split them
    bz = bc == 0
    same = _uf.logical_and(_uf.logical_and(cc2 != 0, _uf.logical_not(bz)),
                           _sign(bc) == _sign(cc2))
    sab, sac = lax.sqrt(lax.abs(bc)), lax.sqrt(lax.abs(cc2))
    pp = _uf.multiply(_sign(cc2), _uf.multiply(sab, sac))
    tau1 = _uf.true_divide(1, lax.sqrt(_where(same, lax.abs(_uf.add(bc, cc2)), 1)))
    cs1, sn1 = _uf.multiply(sab, tau1), _uf.multiply(sac, tau1)
    cplx = dict(
        a=_where(same, _uf.add(mid, pp), mid), d=_where(same, _uf.subtract(mid, pp), mid),
        b=_where(same, _uf.subtract(bc, cc2), _where(_uf.logical_and(bz, cc2 != 0),
                                                      _uf.negative(cc2), bc)),
        c=_where(_uf.logical_or(same, bz), zero, cc2),
        cs=_where(same, _uf.subtract(_uf.multiply(cs, cs1), _uf.multiply(sn, sn1)),
                  _where(_uf.logical_and(bz, cc2 != 0), _uf.negative(sn), cs)),
        sn=_where(same, _uf.add(_uf.multiply(cs, sn1), _uf.multiply(sn, cs1)),
                  _where(_uf.logical_and(bz, cc2 != 0), cs, sn)))
    out = {}
    for key, rv, sw, keep in (("a", ar, d, a), ("b", br, _uf.negative(c), b),
                              ("c", zero, zero, c), ("d", dr, a, d),
                              ("cs", csr, zero, one), ("sn", snr, one, zero)):
        gen = _where(real, rv, cplx[key])
        out[key] = _where(c == 0, keep, _where(b0, sw, gen))
    # a pair that is already standard (equal diagonal, b and c of opposite signs) stays
    std = _uf.logical_and(_uf.logical_and(c != 0, _uf.logical_not(b0)),
                          _uf.logical_and(temp == 0, _sign(b) != _sign(c)))
    for key, keep in (("a", a), ("b", b), ("c", c), ("d", d), ("cs", one), ("sn", zero)):
        out[key] = _where(std, keep, out[key])
    return out


def _standardize(t, z):
    """Put each 2x2 diagonal block of the quasi-triangular ``t`` in ``lanv2``'s standard form,
    rotating the rest of ``t`` and ``z`` accordingly."""
    n = get_aval(t).shape[-1]
    nd = get_aval(t).ndim
    eps = float(np.finfo(get_aval(t).dtype).eps)

    def step(i, carry):
        t, z = carry
        rows = _rows(t, i, 2)
        blk = _cols(rows, i, 2)
        a, b = _index(_index(blk, -2, 0), -1, 0), _index(_index(blk, -2, 0), -1, 1)
        c, d = _index(_index(blk, -2, 1), -1, 0), _index(_index(blk, -2, 1), -1, 1)
        o = _lanv2(a, b, c, d, eps)
        act = c != 0
        cs = _expand(_expand(_where(act, o["cs"], 1), nd - 2), nd - 2)
        sn = _expand(_expand(_where(act, o["sn"], 0), nd - 2), nd - 2)
        r0, r1 = lax.slice_in_dim(rows, 0, 1, axis=nd - 2), lax.slice_in_dim(rows, 1, 2,
                                                                             axis=nd - 2)
        t = _set_rows(t, i, lax.concatenate(
            [_uf.add(_uf.multiply(cs, r0), _uf.multiply(sn, r1)),
             _uf.subtract(_uf.multiply(cs, r1), _uf.multiply(sn, r0))], nd - 2))

        def right(m):
            cols = _cols(m, i, 2)
            q0 = lax.slice_in_dim(cols, 0, 1, axis=nd - 1)
            q1 = lax.slice_in_dim(cols, 1, 2, axis=nd - 1)
            return _set_cols(m, i, lax.concatenate(
                [_uf.add(_uf.multiply(cs, q0), _uf.multiply(sn, q1)),
                 _uf.subtract(_uf.multiply(cs, q1), _uf.multiply(sn, q0))], nd - 1))

        t, z = right(t), right(z)
        new = lax.concatenate([lax.concatenate([_expand(_expand(o[k], nd - 2), nd - 2)
                                                for k in ks], nd - 1)
                               for ks in (("a", "b"), ("c", "d"))], nd - 2)
        blk_now = _cols(_rows(t, i, 2), i, 2)
        t = lax.dynamic_update_slice(t, _where(_bmask(act), new, blk_now),
                                     (np.int32(0),) * (nd - 2) + (i, i))
        return t, z

    return lax.fori_loop(0, n - 1, step, (t, z))


def _real_schur_impl(a):
    """Real Schur form of real ``a`` (..., n, n): ``(t, z)``, ``a = z t z^T``, t quasi upper
    triangular with standardized 2x2 blocks."""
    *batch, n, _ = get_aval(a).shape
    nd = get_aval(a).ndim
    if n == 0:
        return a, a
    x, scale, finite = _prepare(a)
    h, q = _hessenberg(x)
    if n > 2:
        pad = [(0, 0, 0)] * (nd - 2)
        zero = np.zeros((), get_aval(a).dtype)[()]
        t, z = _qr_iterations(lax.pad(h, zero, pad + [(0, 1, 0), (0, 1, 0)]),
                              lax.pad(q, zero, pad + [(0, 0, 0), (0, 1, 0)]),
                              _francis_sweep, 3)
        h = lax.slice(t, (0,) * nd, tuple(batch) + (n, n))
        q = lax.slice(z, (0,) * nd, tuple(batch) + (n, n))
    if n > 1:
        h, q = _standardize(h, q)
        # only the standardized 2x2 blocks keep a subdiagonal entry
        h = _where(np.tri(n, n, -2, dtype=bool), 0, h)
    t = _uf.multiply(h, _expand(scale, nd - 2))
    return _where(_bmask(finite), t, np.nan), _where(_bmask(finite), q, np.nan)


@jit
def _schur_real_jit(a):
    return _real_schur_impl(a)


@jit
def _schur_complex_jit(a):
    return _complex_schur_impl(a)


def schur(a, output: str = "real") -> tuple[Array, Array]:
    """Schur decomposition ``a = Z T Z^H`` of a square matrix or stack of them, as
    ``jax.scipy.linalg.schur``: for real input and ``output='real'`` (the default) the real
    Schur form (T quasi upper triangular, 2x2 blocks in LAPACK's standard form for complex
    pairs, Z orthogonal); otherwise the complex Schur form (T upper triangular, Z unitary). The
    order of the eigenvalues along T's diagonal is not LAPACK's. Not differentiable."""
    if output not in ("real", "complex"):
        raise ValueError(f"Expected 'output' to be either 'real' or 'complex', got "
                         f"output={output!r}.")
    a = _linalg_operand("schur", a, square=True)
    if output == "complex" or dtypes.is_complex(a.dtype):
        return _schur_complex_jit(lax.convert_element_type(a, _complex_dtype(a.dtype)))
    return _schur_real_jit(a)


def _rsf2csf_impl(t, z):
    n = get_aval(t).shape[-1]
    nd = get_aval(t).ndim
    dt = get_aval(t).dtype
    eps = float(np.finfo(_complex_dtype(dt)).eps)
    idx = lax.iota(dtypes.int32, n)

    def step(i, carry):
        t, z = carry
        m = n - 1 - i
        rows = _rows(t, m - 1, 2)
        blk = _cols(rows, m - 1, 2)
        a, b = _index(_index(blk, -2, 0), -1, 0), _index(_index(blk, -2, 0), -1, 1)
        c, d = _index(_index(blk, -2, 1), -1, 0), _index(_index(blk, -2, 1), -1, 1)
        act = lax.abs(c) > _uf.multiply(eps, _uf.add(lax.abs(a), lax.abs(d)))
        half = _uf.multiply(0.5, _uf.subtract(a, d))
        mu = _uf.add(half, _uf.sqrt(_uf.add(_uf.square(half), _uf.multiply(b, c))))  # l1 - d
        r = _uf.hypot(lax.abs(mu), lax.abs(c))
        safe_r = _where(act, r, 1).astype(dt)
        cg = _where(act, _uf.true_divide(mu, safe_r), 1)
        sg = _where(act, _uf.true_divide(c, safe_r), 0)
        cm, sm = (_expand(_expand(v, nd - 2), nd - 2) for v in (cg, sg))
        r0, r1 = lax.slice_in_dim(rows, 0, 1, axis=nd - 2), lax.slice_in_dim(rows, 1, 2,
                                                                             axis=nd - 2)
        # G = [[conj(c), s], [-s, c]] on rows m-1, m (columns >= m-1) ...
        new_rows = lax.concatenate(
            [_uf.add(_uf.multiply(_uf.conj(cm), r0), _uf.multiply(sm, r1)),
             _uf.subtract(_uf.multiply(cm, r1), _uf.multiply(sm, r0))], nd - 2)
        t = _set_rows(t, m - 1, _where(idx >= m - 1, new_rows, rows))

        def right(x, limit):  # ... and G^H on columns m-1, m (rows < limit)
            cols = _cols(x, m - 1, 2)
            q0 = lax.slice_in_dim(cols, 0, 1, axis=nd - 1)
            q1 = lax.slice_in_dim(cols, 1, 2, axis=nd - 1)
            new = lax.concatenate(
                [_uf.add(_uf.multiply(cm, q0), _uf.multiply(sm, q1)),
                 _uf.subtract(_uf.multiply(_uf.conj(cm), q1), _uf.multiply(_uf.conj(sm), q0))],
                nd - 1)
            return _set_cols(x, m - 1, _where(_expand(idx < limit, 1), new, cols))

        t, z = right(t, m + 1), right(z, n)
        return _where((idx[:, None] == m) & (idx[None, :] == m - 1), 0, t), z

    return lax.fori_loop(0, n - 1, step, (t, z)) if n > 1 else (t, z)


@jit
def _rsf2csf_jit(t, z):
    return _rsf2csf_impl(t, z)


def rsf2csf(T, Z, check_finite: bool = True) -> tuple[Array, Array]:
    """Convert a real Schur form ``(T, Z)`` to the complex one (T upper triangular), as
    ``jax.scipy.linalg.rsf2csf``; stacks of matrices are supported."""
    del check_finite
    t, z = asarray(T), asarray(Z)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"Input 'T' must be square, got shape {t.shape}.")
    if z.ndim < 2 or z.shape[-1] != z.shape[-2]:
        raise ValueError(f"Input 'Z' must be square, got shape {z.shape}.")
    if t.shape[-1] != z.shape[-1]:
        raise ValueError(f"Input array shapes must match: Z: {z.shape} vs. T: {t.shape}")
    t = _linalg_operand("rsf2csf", t)
    z = _linalg_operand("rsf2csf", z)
    cdt = np.promote_types(_complex_dtype(t.dtype), _complex_dtype(z.dtype))
    shape = np.broadcast_shapes(t.shape, z.shape)
    t, z = (lax.broadcast_in_dim(lax.convert_element_type(x, cdt), shape,
                                 tuple(range(len(shape) - x.ndim, len(shape)))) for x in (t, z))
    return _rsf2csf_jit(t, z)


def _sqrtm_triu(t):
    """Square root of upper triangular ``t``, one superdiagonal at a time: entry (i, j) is
    ``(t_ij - sum_{i<k<j} u_ik u_kj) / (u_ii + u_jj)`` (0 where the numerator vanishes)."""
    n = get_aval(t).shape[-1]
    nd = get_aval(t).ndim
    d = _uf.sqrt(_diag_of(t))
    u = _where(np.eye(n, dtype=bool), _expand(d, nd - 2), 0)
    den = _uf.add(_expand(d, nd - 1), _expand(d, nd - 2))
    for p in range(1, n):
        mask = np.eye(n, k=p, dtype=bool)
        s = _mm(u, u)
        val = _where(t == s, 0, _uf.true_divide(_uf.subtract(t, s), _where(mask, den, 1)))
        u = _where(mask, val, u)
    return u


@jit
def _sqrtm_jit(a):
    t, z = _complex_schur_impl(a)
    return _mm(_mm(z, _sqrtm_triu(t)), _H(z))


def sqrtm(A, blocksize: int = 1) -> Array:
    """Matrix square root (complex) of a square matrix or stack of them through the complex
    Schur form, as ``jax.scipy.linalg.sqrtm``; only ``blocksize=1``."""
    if blocksize > 1:
        raise NotImplementedError("Blocked version is not implemented yet.")
    a = _linalg_operand("sqrtm", A, square=True)
    return _sqrtm_jit(lax.convert_element_type(a, _complex_dtype(a.dtype)))


@jit
def _parlett(t, f):
    """Golub and Van Loan's algorithm 11.1.1: the off-diagonal of ``F = func(T)`` from its
    diagonal, one superdiagonal at a time (``F T = T F``); also the smallest ``|t_jj - t_ii|``
    seen (and ``|t_00|``), for the error estimate."""
    n = get_aval(t).shape[-1]
    diag = _diag_of(t)
    minden = lax.abs(_index(diag, -1, 0))
    diffs = _uf.subtract(diag[None, :], diag[:, None])
    for p in range(1, n):
        mask = np.eye(n, k=p, dtype=bool)
        s = _uf.subtract(_mm(t, f), _mm(f, t))
        den = _where(mask, diffs, 1)
        f = _where(mask, _where(den != 0, _uf.true_divide(s, den), s), f)
        minden = lax.min(minden, lax.reduce_min(_where(mask, lax.abs(diffs), np.inf), (0, 1)))
    return f, minden


@jit
def _funm_back(z, f):
    return _mm(_mm(z, f), _H(z))


def funm(A, func: Callable[[Array], Array], disp: bool = True):
    """``func`` of a square matrix (2-D) through its complex Schur form and Parlett's
    recurrence, as ``jax.scipy.linalg.funm`` (``func`` maps the eigenvalues, a 1-D complex
    array); with ``disp=False`` also an error estimate. Inaccurate for close eigenvalues."""
    a = asarray(A)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"expected square array_like input, got shape {a.shape}")
    a = _linalg_operand("funm", a, square=True)
    t, z = _schur_complex_jit(lax.convert_element_type(a, _complex_dtype(a.dtype)))
    n = t.shape[-1]
    fd = asarray(func(_diag_of(t))).astype(t.dtype)
    f = _where(np.eye(n, dtype=bool), fd[None, :], 0)
    f, minden = _parlett(t, f)
    f = _funm_back(z, f)
    if disp:
        return f
    import xtrace.numpy as xnp
    tol = float(np.finfo(_complex_dtype(f.dtype)).eps)
    minden = _where(minden == 0, tol, minden)
    off = xnp.triu(t, 1)
    err = _where(xnp.any(xnp.isinf(f)), np.inf, xnp.minimum(1, xnp.maximum(
        tol, (tol / minden) * xnp.linalg.norm(off, 1))))
    return f, err


# ---------------------------------------------------------------------------------------------
# Sylvester equations


def _sylvester_triangular(r, t, f):
    """``Y`` with ``R Y + Y T = F`` for upper triangular ``R`` (m x m) and ``T`` (n x n), one
    column at a time: ``(R + t_kk I) y_k = f_k - sum_{j<k} t_jk y_j`` (Bartels-Stewart)."""
    import xtrace.numpy as xnp
    from xtrace._src.prims.decompositions import triangular_solve
    m, n = get_aval(f).shape
    eye = xnp.eye(m, dtype=r.dtype)

    def column(k, y):
        rhs = f[:, k] - y @ t[:, k]  # columns k.. of y are still zero
        yk = triangular_solve(r + t[k, k] * eye, rhs[:, None], left_side=True, lower=False)
        return lax.dynamic_update_slice(y, yk, (0, k))
    return lax.fori_loop(0, n, column, xnp.zeros((m, n), r.dtype))


def _solve_sylvester_2d(a, b, c, *, method, tol):
    import xtrace.numpy as xnp
    cdt = _complex_dtype(c.dtype)
    if method == "schur":
        r, u = _complex_schur_impl(a.astype(cdt))
        t, v = _complex_schur_impl(b.astype(cdt))
        y = _sylvester_triangular(r, t, _mm(_mm(_H(u), c.astype(cdt)), v))
        x = _mm(_mm(u, y), _H(v))
        wa, wb = _diag_of(r), _diag_of(t)
    else:
        wa, ua = xnp.linalg.eig(a)
        wb, ub = xnp.linalg.eig(b)
        f = xnp.linalg.solve(ua, _mm(c.astype(wa.dtype), ub))
        x = _mm(_mm(ua, f / (wa[:, None] + wb[None, :])), xnp.linalg.inv(ub))
    if not dtypes.is_complex(c.dtype):
        x = x.real
    singular = xnp.any(xnp.abs(wa[:, None] + wb[None, :]) < tol)
    return xnp.where(singular, xnp.full_like(x, np.nan), x)


def solve_sylvester(A, B, C, *, method: str = "schur", tol: float = 1e-8) -> Array:
    """``X`` with ``A X + X B = C`` (``A`` m x m, ``B`` n x n, ``C`` m x n; leading batch
    dimensions broadcast), as ``jax.scipy.linalg.solve_sylvester``: ``method='schur'``
    (Bartels-Stewart on the complex Schur forms) or ``'eigen'`` (eigendecompositions; faster,
    less accurate for ill-conditioned problems). NaNs where some eigenvalue sum of ``A`` and
    ``B`` is within ``tol`` of zero (no unique solution)."""
    import xtrace.numpy as xnp
    from xtrace._src.nn.functions import _inexact_many
    if method not in ("schur", "eigen"):
        raise ValueError(f'Unrecognized method {method}. The two valid methods are either '
                         f'"schur" or "eigen".')
    A, B, C = _inexact_many("solve_sylvester", A, B, C)
    if A.ndim < 2 or B.ndim < 2 or C.ndim < 2:
        raise ValueError(f"solve_sylvester: A, B and C must be matrices, got shapes {A.shape}, "
                         f"{B.shape} and {C.shape}")
    m, n = C.shape[-2:]
    if A.shape[-2:] != (m, m) or B.shape[-2:] != (n, n):
        raise ValueError(f"Incompatible shapes for Sylvester equation:\nA: {A.shape}\n"
                         f"B: {B.shape}\nC: {C.shape}")
    return _solve_sylvester_jit(A, B, C, method=method, tol=tol)


@functools.partial(jit, static_argnames=("method", "tol"))
def _solve_sylvester_jit(a, b, c, *, method, tol):
    import xtrace.numpy as xnp
    return xnp.vectorize(functools.partial(_solve_sylvester_2d, method=method, tol=tol),
                         signature="(m,m),(n,n),(m,n)->(m,n)")(a, b, c)
