"""xtrace.numpy.fft and lax.fft against numpy.fft: values, norms, lengths and axes, dtypes,
jit, vmap, gradients (finite differences) and errors."""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import lax

F = xnp.fft
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 6)).astype(np.float32)
C = (RNG.standard_normal((3, 4, 6)) + 1j * RNG.standard_normal((3, 4, 6))).astype(np.complex64)
NORMS = [None, "backward", "ortho", "forward"]


def _close(out, ref, dtype, tol=2e-5, msg=""):
    out = np.asarray(out)
    assert out.dtype == np.dtype(dtype), (msg, out.dtype, dtype)
    assert out.shape == np.shape(ref), (msg, out.shape, np.shape(ref))
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * max(1.0, np.abs(ref).max()),
                               err_msg=msg)


# (name, xtrace call, numpy call, input, result dtype): n / s / axes variants of each function
CALLS = [
    ("fft", lambda m, a, nm: m.fft(a, norm=nm), C, np.complex64),
    ("fft_n_pad_axis0", lambda m, a, nm: m.fft(a, n=5, axis=0, norm=nm), C, np.complex64),
    ("ifft_n_cut", lambda m, a, nm: m.ifft(a, n=4, norm=nm), C, np.complex64),
    ("rfft_odd_n", lambda m, a, nm: m.rfft(a, n=7, axis=1, norm=nm), X, np.complex64),
    ("irfft", lambda m, a, nm: m.irfft(a, norm=nm), C, np.float32),
    ("irfft_n_odd", lambda m, a, nm: m.irfft(a, n=5, axis=-2, norm=nm), C, np.float32),
    ("hfft", lambda m, a, nm: m.hfft(a, norm=nm), C, np.float32),
    ("hfft_n", lambda m, a, nm: m.hfft(a, n=9, axis=1, norm=nm), C, np.float32),
    ("ihfft", lambda m, a, nm: m.ihfft(a, norm=nm), X, np.complex64),
    ("ihfft_n", lambda m, a, nm: m.ihfft(a, n=3, axis=0, norm=nm), X, np.complex64),
    ("fft2", lambda m, a, nm: m.fft2(a, norm=nm), C, np.complex64),
    ("ifft2_s_axes", lambda m, a, nm: m.ifft2(a, s=(5, 3), axes=(2, 0), norm=nm), C,
     np.complex64),
    ("rfft2", lambda m, a, nm: m.rfft2(a, axes=(0, 1), norm=nm), X, np.complex64),
    ("irfft2_s", lambda m, a, nm: m.irfft2(a, s=(3, 7), norm=nm), C, np.float32),
    ("fftn", lambda m, a, nm: m.fftn(a, norm=nm), C, np.complex64),
    ("fftn_s_last", lambda m, a, nm: m.fftn(a, s=(2, 8), axes=(-2, -1), norm=nm), C,
     np.complex64),
    ("ifftn_axes", lambda m, a, nm: m.ifftn(a, axes=(2, 0), norm=nm), C, np.complex64),
    ("rfftn", lambda m, a, nm: m.rfftn(a, norm=nm), X, np.complex64),
    ("rfftn_s_axes", lambda m, a, nm: m.rfftn(a, s=(5, 3), axes=(2, 0), norm=nm), X,
     np.complex64),
    ("irfftn", lambda m, a, nm: m.irfftn(a, norm=nm), C, np.float32),
    ("irfftn_s_axes", lambda m, a, nm: m.irfftn(a, s=(4, 5), axes=(0, 2), norm=nm), C,
     np.float32),
]


@pytest.mark.parametrize("norm", NORMS)
def test_transforms_match_numpy(norm):
    """Every function and variant for one norm, eagerly (the first three) and in one jit."""
    names = [c[0] for c in CALLS]
    refs = [call(np.fft, a.astype(np.complex128 if a.dtype.kind == "c" else np.float64), norm)
            for _, call, a, _ in CALLS]
    jitted = xtrace.jit(lambda *args: [call(F, a, norm) for (_, call, _, _), a in
                                       zip(CALLS, args)])
    outs = jitted(*[a for _, _, a, _ in CALLS])
    for name, out, ref, (_, _, _, dt) in zip(names, outs, refs, CALLS):
        _close(out, ref, dt, msg=name)
    for (name, call, a, dt), ref in list(zip(CALLS, refs))[:3]:
        _close(call(F, a, norm), ref, dt, msg=name)


def test_many_axes_split_into_groups():
    """XLA transforms at most three dimensions at once: 4 and 5 axes are split, as in JAX."""
    x5 = RNG.standard_normal((2, 3, 2, 3, 4)).astype(np.float32)
    c4 = x5[0] + 1j * x5[1]
    f = xtrace.jit(lambda x, c: (F.fftn(x), F.rfftn(x), F.irfftn(c), F.ifftn(c, norm="ortho"),
                                 F.irfftn(F.rfftn(x), s=x.shape)))
    outs = f(x5, c4.astype(np.complex64))
    refs = (np.fft.fftn(x5), np.fft.rfftn(x5), np.fft.irfftn(c4), np.fft.ifftn(c4, norm="ortho"),
            x5)
    for out, ref, dt in zip(outs, refs, (np.complex64, np.complex64, np.float32, np.complex64,
                                         np.float32)):
        _close(out, ref, dt)


def test_dtypes_follow_jax():
    i = np.arange(6, dtype=np.int32)
    assert F.fft(i).dtype == np.complex64
    assert F.rfft(i).dtype == np.complex64
    assert F.fft(np.ones(4, np.bool_)).dtype == np.complex64
    assert F.fft(np.ones(4, np.float16)).dtype == np.complex64
    assert F.irfft(np.ones(4, np.float32)).dtype == np.float32
    assert F.hfft(i).dtype == np.float32
    _close(F.fft(i), np.fft.fft(i), np.complex64)
    _close(F.rfft(i), np.fft.rfft(i), np.complex64)
    # float64 inputs are float32 without x64
    assert F.fft(np.arange(4.0)).dtype == np.complex64
    assert F.fftn(np.float32(3.0)).dtype == np.complex64  # no axes: only the conversion
    # irfft of one frequency has the default length 0: an empty result, as in JAX
    assert F.irfft(np.ones((2, 1), np.complex64), norm="ortho").shape == (2, 0)
    with xtrace.enable_x64():
        x = RNG.standard_normal((4, 6))
        assert F.fft(np.arange(4, dtype=np.int32)).dtype == np.complex64
        assert F.rfft(np.arange(4, dtype=np.int64)).dtype == np.complex128
        assert F.fft(x.astype(np.float32)).dtype == np.complex64
        _close(F.fft2(x), np.fft.fft2(x), np.complex128, 1e-12)
        _close(F.irfft(F.rfft(x), n=6), x, np.float64, 1e-12)
        _close(F.ihfft(x, norm="ortho"), np.fft.ihfft(x, norm="ortho"), np.complex128, 1e-12)


def test_lax_fft():
    x = X
    _close(lax.fft(C, "FFT", (4, 6)), np.fft.fftn(C, axes=(1, 2)), np.complex64)
    _close(lax.fft(C, "ifft", (6,)), np.fft.ifft(C), np.complex64)
    _close(lax.fft(x, lax.FftType.RFFT, (3, 4, 6)), np.fft.rfftn(x), np.complex64)
    _close(lax.fft(C[..., :4], lax.FftType.IRFFT, (4, 7)),
           np.fft.irfftn(C[..., :4], s=(4, 7), axes=(1, 2)), np.float32)
    _close(lax.fft(x, "FFT", ()), x.astype(np.complex64), np.complex64)  # converts only
    assert [t.name for t in lax.FftType] == ["FFT", "IFFT", "RFFT", "IRFFT"]
    assert int(lax.FftType.IRFFT) == 3


def test_jit_vmap():
    f = xtrace.jit(lambda a: F.fftshift(F.fft(a, axis=0)))
    _close(f(C), np.fft.fftshift(np.fft.fft(C, axis=0)), np.complex64)
    # the mapped axis is a transformed (trailing) one: the rule moves it first
    v = xtrace.vmap(lambda a: F.rfft2(a, norm="ortho"), in_axes=2, out_axes=1)(X)
    ref = np.moveaxis(np.fft.rfft2(np.moveaxis(X, 2, 0), norm="ortho"), 0, 1)
    _close(v, ref, np.complex64)
    w = xtrace.jit(xtrace.vmap(lambda a: F.ifft(a, n=8), in_axes=-1))(C)
    _close(w, np.fft.ifft(np.moveaxis(C, -1, 0), n=8), np.complex64)


def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return g


_W = RNG.standard_normal((3, 4))
_V = RNG.standard_normal((3, 10))
LOSSES = {
    "abs2_fft": lambda x: xnp.sum(xnp.abs(F.fft(x)) ** 2),
    "rfft_odd_weighted": lambda x: xnp.sum(xnp.abs(F.rfft(x, n=7)) ** 2 * _W),
    "rfft_irfft_roundtrip": lambda x: xnp.sum(F.irfft(F.rfft(x) * _W) * x),
    "irfft_odd_n": lambda x: xnp.sum(F.irfft(F.rfft(x) * _W, n=5) ** 2),
    "fft2_ortho_ifft2": lambda x: xnp.sum(xnp.real(F.fft2(x, norm="ortho"))
                                          * xnp.imag(F.ifft2(x * x))),
    "hfft": lambda x: xnp.sum(F.hfft(x[:, :4] + 1j * x[:, 2:]) * xnp.arange(6.0)),
    "ihfft": lambda x: xnp.sum(xnp.abs(F.ihfft(x)) * _W),
    "rfftn_forward": lambda x: xnp.sum(xnp.abs(F.rfftn(x, norm="forward")) * _W),
    "irfftn": lambda x: xnp.sum(F.irfftn(x + 1j * x[::-1]) * _V),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_of_real_loss_vs_finite_differences(name):
    loss = LOSSES[name]
    with xtrace.enable_x64():
        x = np.random.default_rng(1).standard_normal((3, 6))
        g = xtrace.jit(xtrace.grad(loss))(x)
        np.testing.assert_allclose(np.asarray(g), _fd_grad(loss, x), rtol=1e-6, atol=1e-6)


def test_grad_float32():
    """Single precision: the gradient of sum |fft(x)|^2 is 2 N x (Parseval)."""
    g = xtrace.grad(lambda x: xnp.sum(xnp.abs(F.fft(x)) ** 2))(X)
    _close(g, 2 * 6 * X, np.float32, 1e-5)


def test_fftfreq_rfftfreq():
    for n, d in ((5, 1.0), (6, 0.3), (1, 2.0)):
        _close(F.fftfreq(n, d), np.fft.fftfreq(n, d), np.float32, 1e-6)
        _close(F.rfftfreq(n, d), np.fft.rfftfreq(n, d), np.float32, 1e-6)
    _close(F.fftfreq(4, xnp.asarray(0.5)), np.fft.fftfreq(4, 0.5), np.float32, 1e-6)
    assert F.fftfreq(4, dtype=xnp.complex64).dtype == np.complex64
    # JAX computes in a float type and casts: the integer frequencies are all zero
    np.testing.assert_array_equal(F.fftfreq(5, dtype=np.int32), np.zeros(5, np.int32))
    with xtrace.enable_x64():
        assert F.fftfreq(4).dtype == np.float64
        assert F.rfftfreq(4, dtype=np.float32).dtype == np.float32
        _close(F.fftfreq(7, 0.1), np.fft.fftfreq(7, 0.1), np.float64, 1e-14)
    _close(xtrace.jit(lambda d: F.fftfreq(6, d))(np.float32(0.25)), np.fft.fftfreq(6, 0.25),
           np.float32, 1e-6)


def test_fftshift_ifftshift():
    a = np.arange(30).reshape(5, 6)
    for axes in (None, 0, 1, (1,), (0, 1), -1):
        np.testing.assert_array_equal(F.fftshift(a, axes), np.fft.fftshift(a, axes))
        np.testing.assert_array_equal(F.ifftshift(a, axes), np.fft.ifftshift(a, axes))
    np.testing.assert_array_equal(F.ifftshift(F.fftshift(np.arange(7))), np.arange(7))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.fft(C, norm="bad"), ValueError, "norm"),
    (lambda: F.fft(C, n=0), ValueError, "positive"),
    (lambda: F.irfft2(C, s=(2, -1)), ValueError, "positive"),
    (lambda: F.fft(C, axis=(0, 1)), ValueError, "multiple axes"),
    (lambda: F.fft(C, axis=3), ValueError, "out of bounds"),
    (lambda: F.rfft(C), ValueError, "real valued"),
    (lambda: F.rfft(np.ones(4, np.float16)), ValueError, "float16"),
    (lambda: F.fftn(C, axes=(0, 0)), ValueError, "repeated axes"),
    (lambda: F.fftn(C, s=(2,), axes=(0, 1)), ValueError, "different lengths"),
    (lambda: F.fft2(C, axes=(0,)), ValueError, "only supports 2 axes"),
    (lambda: F.fftfreq([4]), ValueError, "only takes an int"),
    (lambda: F.rfftfreq(4, d=[1.0]), ValueError, "single value"),
    (lambda: lax.fft(C, "FFT", (5,)), ValueError, r"\(3, 4, 6\)"),
    (lambda: lax.fft(C, "XFFT", (6,)), ValueError, "Unknown FFT type"),
    (lambda: lax.fft(C, 2, (6,)), TypeError, "Unknown FFT type"),
    (lambda: lax.fft(C, "RFFT", (6,)), ValueError, "real valued"),
    (lambda: lax.fft(C, "IRFFT", (3, 7)), ValueError, "fft_lengths"),
    (lambda: lax.fft(C, "IRFFT", (7,)), ValueError, "last dimension"),
    (lambda: lax.fft(C, "FFT", (3, 4, 6, 1)), ValueError, "at least as many"),
    (lambda: lax.fft(C[None], "FFT", (1, 3, 4, 6)), ValueError, "1 to 3"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
