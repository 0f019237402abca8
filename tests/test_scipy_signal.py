"""xtrace.scipy.signal against SciPy: convolutions, detrend, stft/istft, csd/welch."""
import warnings

import numpy as np
import pytest
import scipy.signal as ss

import xtrace
import xtrace.numpy as xnp
import xtrace.scipy.signal as xs

TOL = dict(rtol=2e-5, atol=2e-5)


def _close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a), b, **(kw or TOL))


@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve"])
def test_nd_convolutions(rng, name):
    x, y = rng.normal(size=7).astype(np.float32), rng.normal(size=3).astype(np.float32)
    X, Y = rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32)
    xf, sf = getattr(xs, name), getattr(ss, name)
    for mode in ("full", "same", "valid"):
        for a, b in ((x, y), (y, x), (X, Y)):
            out = xf(a, b, mode=mode)
            assert out.dtype == np.float32
            _close(out, sf(a, b, mode=mode), rtol=1e-4, atol=1e-5)
    out = xf(np.arange(5), np.array([1, 2, 1]))  # integers promote to the default float
    assert out.dtype == np.float32
    _close(out, sf(np.arange(5), [1, 2, 1]))
    z = (x[:4] + 1j * x[3:]).astype(np.complex64)
    out = xf(z, y, mode="same")
    assert out.dtype == np.complex64
    _close(out, sf(z, y, mode="same"), rtol=1e-4, atol=1e-5)


def test_convolve_methods_and_errors(rng):
    x, y = rng.normal(size=9).astype(np.float32), rng.normal(size=4).astype(np.float32)
    for method in ("auto", "direct", "fft"):
        _close(xs.convolve(x, y, method=method), ss.convolve(x, y), rtol=1e-4, atol=1e-5)
        _close(xs.correlate(x, y, "same", method=method), ss.correlate(x, y, "same"),
               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="method"):
        xs.convolve(x, y, method="spectral")
    with pytest.raises(ValueError, match="mode"):
        xs.convolve(x, y, mode="middle")
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        xs.convolve(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        xs.convolve(np.ones((2, 3)), np.ones(3))


def test_fftconvolve_axes(rng):
    a = rng.normal(size=(3, 8, 4)).astype(np.float32)
    b = rng.normal(size=(3, 3, 4)).astype(np.float32)
    for mode in ("full", "same", "valid"):
        _close(xs.fftconvolve(a, b, mode=mode, axes=1), ss.fftconvolve(a, b, mode, axes=1),
               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="mapped axes"):
        xs.fftconvolve(a, b, axes=0)


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d(rng, name):
    A = rng.normal(size=(5, 6)).astype(np.float32)
    B = rng.normal(size=(2, 3)).astype(np.float32)
    xf, sf = getattr(xs, name), getattr(ss, name)
    for mode in ("full", "same", "valid"):
        for a, b in ((A, B), (B, A), (A + 1j * A, B - 2j * B), (B + 0.5j, A - 1j)):
            if mode == "valid" and a.shape[0] < b.shape[0] and name == "convolve2d":
                continue  # SciPy >= 1.x refuses; xtrace swaps, as JAX does
            _close(xf(a, b, mode=mode), sf(a, b, mode=mode), rtol=1e-4, atol=1e-4)
    with pytest.raises(NotImplementedError, match="boundary"):
        xf(A, B, boundary="wrap")
    with pytest.raises(ValueError, match="2-dimensional"):
        xf(A[0], B[0])


def test_convolve_grad_jit_vmap(rng):
    x, y = rng.normal(size=6).astype(np.float32), rng.normal(size=3).astype(np.float32)
    w = rng.normal(size=6).astype(np.float32)

    def f(x, y):
        return xnp.sum(xs.convolve(x, y, mode="same") * w)

    gx, gy = xtrace.grad(f, argnums=(0, 1))(x, y)
    # linear in x: the gradient's entry i is f at the i-th unit vector
    _close(gx, [np.sum(ss.convolve(e, y, "same") * w) for e in np.eye(6)], rtol=1e-4, atol=1e-5)
    eps = 1e-3
    fd = [(float(f(x, y + eps * e)) - float(f(x, y - eps * e))) / (2 * eps)
          for e in np.eye(3, dtype=np.float32)]
    _close(gy, fd, rtol=1e-2, atol=1e-3)
    jitted = xtrace.jit(xs.convolve, static_argnames="mode")(x, y, mode="valid")
    _close(jitted, ss.convolve(x, y, "valid"), rtol=1e-4, atol=1e-5)
    batch = rng.normal(size=(2, 6)).astype(np.float32)
    out = xtrace.vmap(lambda a: xs.correlate(a, y))(batch)
    _close(out, np.stack([ss.correlate(b, y) for b in batch]), rtol=1e-4, atol=1e-5)


def test_detrend(rng):
    d = np.array([1.0, 4.0, 8.0, 8.0, 9.0, 3.0, 2.0, 7.0], np.float32)
    for type_ in ("linear", "constant"):
        _close(xs.detrend(d, type=type_), ss.detrend(d, type=type_), rtol=1e-4, atol=1e-4)
    _close(xs.detrend(d, bp=[3, 5]), ss.detrend(d, bp=[3, 5]), rtol=1e-4, atol=1e-4)
    x = rng.normal(size=(3, 7, 2)).astype(np.float32)
    _close(xs.detrend(x, axis=1), ss.detrend(x, axis=1), rtol=1e-4, atol=1e-4)
    out = xs.detrend(np.arange(6) ** 2)
    assert out.dtype == np.float32
    _close(out, ss.detrend((np.arange(6) ** 2).astype(float)), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="Trend type"):
        xs.detrend(d, type="quadratic")


def _sig(rng, shape=(2, 50)):
    return rng.normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("kw", [
    dict(nperseg=16, noverlap=4, nfft=20), dict(nperseg=15, return_onesided=False),
    dict(nperseg=16, boundary="odd", padded=False), dict(nperseg=16, boundary=None),
    dict(nperseg=10, window="hamming", detrend="linear", boundary="even"),
    dict(window=np.ones(8), nperseg=8),
])
def test_stft(rng, kw):
    x = _sig(rng)
    f, t, Z = xs.stft(x, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf, st, sZ = ss.stft(x, **kw)
    assert Z.dtype == np.complex64 and f.dtype == np.float32
    _close(f, sf)
    _close(t, st)
    _close(Z, sZ, rtol=1e-4, atol=1e-5)


def test_stft_axis_and_istft(rng):
    x = _sig(rng, (40, 2))
    f, t, Z = xs.stft(x, nperseg=16, axis=0)
    _close(Z, ss.stft(x, nperseg=16, axis=0)[2], rtol=1e-4, atol=1e-5)
    x = _sig(rng)
    _, _, Z = ss.stft(x, nperseg=16)
    Z = Z.astype(np.complex64)
    for kw in ({}, dict(noverlap=4), dict(window="hamming"), dict(boundary=False)):
        t, xr = xs.istft(Z, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SciPy's NOLA warning without the boundary
            st, sx = ss.istft(Z, **kw)
        assert xr.dtype == np.float32
        _close(xr, sx, rtol=1e-4, atol=1e-4)
        _close(t[:len(st)], st)
    # round trip
    _, _, Z = xs.stft(x, nperseg=16)
    _close(xs.istft(Z)[1][..., :50], x, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="noverlap"):
        xs.istft(Z, noverlap=16)


@pytest.mark.parametrize("kw", [
    {}, dict(nperseg=16, average="median", scaling="spectrum"),
    dict(nperseg=15, nfft=17, detrend="linear"), dict(nperseg=16, detrend=False, fs=10.0),
    dict(nperseg=16, return_onesided=False),
])
def test_welch_csd(rng, kw):
    x, y = _sig(rng), _sig(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf, sp = ss.welch(x, **kw)
        cf, cp = ss.csd(x, y, **kw)
        f, p = xs.welch(x, **kw)
    assert p.dtype == np.float32
    _close(f, sf)
    _close(p, sp, rtol=1e-4, atol=1e-6)
    f, p = xs.csd(x, y, **kw)
    assert p.dtype == np.complex64
    _close(p, cp, rtol=1e-4, atol=1e-6)


def test_welch_dtypes_errors_jit(rng):
    f, p = xs.welch(np.arange(20) % 5, nperseg=8)
    assert p.dtype == np.float32
    _close(p, ss.welch((np.arange(20) % 5).astype(float), nperseg=8)[1], rtol=1e-4, atol=1e-6)
    x = _sig(rng)
    with pytest.raises(ValueError, match="noverlap"):
        xs.welch(x, nperseg=8, noverlap=8)
    with pytest.raises(ValueError, match="scaling"):
        xs.welch(x, nperseg=8, scaling="power")
    with pytest.raises(ValueError, match="average"):
        xs.welch(x, nperseg=8, average="mode")
    out = xtrace.jit(lambda v: xs.welch(v, nperseg=8)[1])(x)
    _close(out, ss.welch(x, nperseg=8)[1], rtol=1e-4, atol=1e-6)
