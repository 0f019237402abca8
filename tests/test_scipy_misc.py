"""xtrace.scipy's fft (DCT), integrate, ndimage, interpolate, cluster.vq and sparse.linalg
against SciPy / NumPy."""
import numpy as np
import pytest
import scipy.cluster.vq as svq
import scipy.fft as sfft
import scipy.integrate as sint
import scipy.interpolate as sinterp
import scipy.ndimage as snd

import xtrace
import xtrace.numpy as xnp
import xtrace.scipy.cluster.vq as xvq
import xtrace.scipy.fft as xfft
import xtrace.scipy.integrate as xint
import xtrace.scipy.interpolate as xinterp
import xtrace.scipy.ndimage as xnd
import xtrace.scipy.sparse.linalg as xsl


def _close(a, b, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), b, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------------
# fft


@pytest.mark.parametrize("norm", [None, "ortho"])
def test_dct_idct(rng, norm):
    x = rng.normal(size=(3, 5)).astype(np.float32)
    out = xfft.dct(x, axis=0, norm=norm)
    assert out.dtype == np.float32
    _close(out, sfft.dct(x, axis=0, norm=norm))
    _close(xfft.idct(x, norm=norm), sfft.idct(x, norm=norm))
    _close(xfft.dct(x, n=3, norm=norm), sfft.dct(x, n=3, norm=norm))
    _close(xfft.dctn(x, norm=norm), sfft.dctn(x, norm=norm))
    _close(xfft.idctn(x, norm=norm), sfft.idctn(x, norm=norm))
    _close(xfft.dctn(x, s=(4, 6), norm=norm), sfft.dctn(x, s=(4, 6), norm=norm))
    _close(xfft.idctn(xfft.dctn(x, norm=norm), norm=norm), x)


def test_dct_dtypes_errors_grad(rng):
    assert xfft.dct(np.arange(4)).dtype == np.float32
    _close(xfft.dct(np.arange(4)), sfft.dct(np.arange(4.0)))
    z = np.array([1 + 2j, 3, -1j, 0.5], np.complex64)
    out = xfft.dct(z)
    assert out.dtype == np.complex64
    _close(out, sfft.dct(z))
    with pytest.raises(NotImplementedError, match="type 2"):
        xfft.dct(np.ones(4), type=3)
    with pytest.raises(ValueError, match="norm"):
        xfft.dct(np.ones(4), norm="forward")
    # the DCT is linear: its gradient against weights w is dct's transpose applied to w
    w = rng.normal(size=5).astype(np.float32)
    g = xtrace.grad(lambda v: xnp.sum(xfft.dct(v, norm="ortho") * w))(np.ones(5, np.float32))
    _close(g, sfft.idct(w, norm="ortho"))  # ortho DCT-II is orthogonal
    _close(xtrace.jit(xfft.idct)(w), sfft.idct(w))


# --------------------------------------------------------------------------------------------
# integrate


def test_trapezoid(rng):
    y = rng.normal(size=(3, 6)).astype(np.float32)
    _close(xint.trapezoid(y), sint.trapezoid(y))
    x = np.linspace(0, 2, 6)
    _close(xint.trapezoid(y, x), sint.trapezoid(y, x))
    _close(xint.trapezoid(y, dx=0.3, axis=0), sint.trapezoid(y, dx=0.3, axis=0))
    assert xint.trapezoid(np.arange(5)).dtype == np.float32


# --------------------------------------------------------------------------------------------
# ndimage


_COORDS = [np.array([-1.2, 0.0, 0.5, 1.5, 2.5, 3.7, 4.6, 7.0]),
           np.array([0.3, -0.7, 4.5, 2.5, 1.49, 5.2, -3.0, 9.1])]
# JAX's 'constant' and 'wrap' are SciPy's grid-constant and grid-wrap
_SCIPY_MODE = {"constant": "grid-constant", "nearest": "nearest", "wrap": "grid-wrap",
               "mirror": "mirror", "reflect": "reflect"}


@pytest.mark.parametrize("mode", list(_SCIPY_MODE))
def test_map_coordinates(rng, mode):
    img = rng.normal(size=(4, 5)).astype(np.float32)
    for order in (0, 1):
        out = xnd.map_coordinates(img, _COORDS, order, mode=mode, cval=1.5)
        assert out.dtype == np.float32 and out.shape == (8,)
        ref = snd.map_coordinates(img, _COORDS, order=order, mode=_SCIPY_MODE[mode], cval=1.5)
        _close(out, ref)


def test_map_coordinates_ints_grad_errors(rng):
    img = np.arange(20).reshape(4, 5)
    out = xnd.map_coordinates(img, _COORDS, 1, mode="nearest")
    assert out.dtype == np.int32  # the input's (canonical) dtype
    ref = snd.map_coordinates(img.astype(float), _COORDS, order=1, mode="nearest")
    np.testing.assert_array_equal(np.asarray(out), np.where(ref < 0, -np.floor(-ref + 0.5),
                                                            np.floor(ref + 0.5)))
    f = rng.normal(size=(4, 5)).astype(np.float32)
    c = [np.array([0.3, 1.7, 2.2], np.float32), np.array([0.6, 3.1, 1.4], np.float32)]
    g = xtrace.grad(lambda c0: xnp.sum(xnd.map_coordinates(f, [c0, c[1]], 1)))(c[0])
    eps = 1e-3
    fd = [(snd.map_coordinates(f, [c[0] + eps * e, c[1]], order=1).sum()
           - snd.map_coordinates(f, [c[0] - eps * e, c[1]], order=1).sum()) / (2 * eps)
          for e in np.eye(3)]
    _close(g, fd, rtol=1e-2, atol=1e-3)
    out = xtrace.jit(lambda a, b: xnd.map_coordinates(f, [a, b], 1, mode="mirror"))(*c)
    _close(out, snd.map_coordinates(f, c, order=1, mode="mirror"))
    with pytest.raises(ValueError, match="length input.ndim"):
        xnd.map_coordinates(f, c[:1], 1)
    with pytest.raises(NotImplementedError, match="order"):
        xnd.map_coordinates(f, c, 3)
    with pytest.raises(NotImplementedError, match="mode"):
        xnd.map_coordinates(f, c, 1, mode="grid-wrap")


# --------------------------------------------------------------------------------------------
# interpolate


@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_regular_grid_interpolator(rng, method):
    grid = (np.array([0.0, 1.0, 2.5, 4.0]), np.array([-1.0, 0.0, 2.0]))
    vals = rng.normal(size=(4, 3)).astype(np.float32)
    pts = np.array([[0.5, 0.0], [3.9, 1.9], [0.0, -1.0], [2.5, 0.3], [1.2, 1.7]])
    ref = sinterp.RegularGridInterpolator(grid, vals, method=method)
    interp = xinterp.RegularGridInterpolator(grid, vals, method=method)
    out = interp(pts)
    assert out.dtype == np.float32
    _close(out, ref(pts))
    outside = np.array([[-1.0, 0.0], [5.0, 1.0]])
    assert np.isnan(np.asarray(interp(outside))).all()
    extrap = xinterp.RegularGridInterpolator(grid, vals, method=method, fill_value=None)
    ref_ex = sinterp.RegularGridInterpolator(grid, vals, method=method, bounds_error=False,
                                              fill_value=None)
    _close(extrap(outside), ref_ex(outside))
    _close(interp((pts[:, 0], pts[:, 1])), ref(pts))
    v3 = rng.normal(size=(4, 3, 2)).astype(np.float32)
    _close(xinterp.RegularGridInterpolator(grid, v3, method=method)(pts),
           sinterp.RegularGridInterpolator(grid, v3, method=method)(pts))
    # a pytree: it passes through jit
    _close(xtrace.jit(lambda r, p: r(p))(interp, pts), ref(pts))


def test_regular_grid_interpolator_errors():
    grid = (np.arange(3.0),)
    with pytest.raises(ValueError, match="method"):
        xinterp.RegularGridInterpolator(grid, np.ones(3), method="cubic")
    with pytest.raises(ValueError, match="fill_value"):
        xinterp.RegularGridInterpolator(grid, np.ones(3), fill_value=1j)
    with pytest.raises(ValueError, match="dimension"):
        xinterp.RegularGridInterpolator(grid, np.ones(3))(np.ones((2, 2)))
    with pytest.raises(NotImplementedError):
        xinterp.RegularGridInterpolator(grid, np.ones(3), bounds_error=True)


# --------------------------------------------------------------------------------------------
# cluster.vq


def test_vq(rng):
    obs = rng.normal(size=(6, 3)).astype(np.float32)
    book = rng.normal(size=(4, 3)).astype(np.float32)
    code, dist = xvq.vq(obs, book)
    rcode, rdist = svq.vq(obs, book)
    np.testing.assert_array_equal(np.asarray(code), rcode)
    _close(dist, rdist)
    assert code.dtype == np.int32 and dist.dtype == np.float32
    code, dist = xvq.vq(obs[:, 0], book[:, 0])
    np.testing.assert_array_equal(np.asarray(code), svq.vq(obs[:, 0], book[:, 0])[0])
    assert xvq.vq(np.arange(4).reshape(2, 2), np.eye(2, dtype=int))[1].dtype == np.float32
    with pytest.raises(ValueError, match="same rank"):
        xvq.vq(obs, book[:, 0])


# --------------------------------------------------------------------------------------------
# sparse.linalg


def _systems(rng, n=6):
    q = rng.normal(size=(n, n)).astype(np.float32)
    spd = (q @ q.T + n * np.eye(n)).astype(np.float32)
    general = (q + 3 * np.eye(n)).astype(np.float32)
    return spd, general, rng.normal(size=n).astype(np.float32)


@pytest.mark.parametrize("name", ["cg", "bicgstab",
                                  pytest.param("gmres", marks=pytest.mark.slow)])
def test_krylov_solvers(rng, name):
    spd, general, b = _systems(rng)
    A = spd if name == "cg" else general
    solve = getattr(xsl, name)
    ref = np.linalg.solve(A.astype(np.float64), b)
    x, info = solve(A, b)
    assert x.dtype == np.float32
    _close(x, ref, rtol=1e-3, atol=1e-4)
    assert (info is None) if name != "gmres" else int(info) == 0
    # operator as a function, preconditioner as a matrix, a starting guess
    extra = dict(restart=3, solve_method="incremental") if name == "gmres" else {}
    x, _ = solve(lambda v: xnp.dot(A, v), b, x0=b, M=np.diag(1 / np.diag(A)), **extra)
    _close(x, ref, rtol=1e-3, atol=1e-4)
    # a pytree right-hand side with a pytree operator
    tree_b = {"a": b[:2], "b": b[2:]}

    def op(t):  # symmetric positive definite, as cg needs
        return {"a": 2 * t["a"] + 0.5 * t["b"][:2],
                "b": 3.0 * t["b"] + xnp.pad(0.5 * t["a"], (0, 2))}

    dense = np.zeros((6, 6), np.float32)
    dense[:2, :2] = 2 * np.eye(2)
    dense[:2, 2:4] = dense[2:4, :2] = 0.5 * np.eye(2)
    dense[2:, 2:] = 3 * np.eye(4)
    x, _ = solve(op, tree_b)
    flat = np.linalg.solve(dense.astype(np.float64), b)
    _close(x["a"], flat[:2], rtol=1e-3, atol=1e-4)
    _close(x["b"], flat[2:], rtol=1e-3, atol=1e-4)
    with pytest.raises(TypeError):  # as in JAX: an integer b gives an integer carry
        solve(A, np.arange(6))
    # maxiter bounds the work: one step of cg is not the solution
    if name == "cg":
        x1, _ = solve(A, b, maxiter=1)
        assert np.linalg.norm(np.asarray(x1) - ref) > 1e-3
    with pytest.raises(ValueError, match="square matrix"):
        solve(A[:3], b)
    with pytest.raises(ValueError, match="tree structure"):
        solve(A, b, x0=(b,))


def test_krylov_grad_jit_complex(rng):
    spd, general, b = _systems(rng)
    # d/db sum(A^-1 b)^2 = 2 A^-T A^-1 b
    ainv = np.linalg.inv(spd.astype(np.float64))
    expected = 2 * ainv.T @ (ainv @ b)
    g = xtrace.grad(lambda v: xnp.sum(xsl.cg(spd, v)[0] ** 2))(b)
    _close(g, expected, rtol=1e-3, atol=1e-4)
    ginv = np.linalg.inv(general.astype(np.float64))
    g = xtrace.grad(lambda v: xnp.sum(xsl.gmres(general, v)[0] ** 2))(b)
    _close(g, 2 * ginv.T @ (ginv @ b), rtol=1e-3, atol=1e-4)
    x = xtrace.jit(lambda v: xsl.bicgstab(general, v)[0])(b)
    _close(x, ginv @ b, rtol=1e-3, atol=1e-4)
    z = (b + 1j * b[::-1]).astype(np.complex64)
    x, _ = xsl.bicgstab(general.astype(np.complex64), z)
    assert x.dtype == np.complex64
    _close(x, ginv @ z, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="solve_method"):
        xsl.gmres(general, b, solve_method="lu")
