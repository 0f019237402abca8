"""xtrace.image: closed-form values of each resampling kernel, JAX 0.10.2's recorded outputs
(tests/data/image-resize-answers.json), dtypes, errors, jit and grad."""
import json
import os

import numpy as np
import pytest

import xtrace
import xtrace.image as xi
import xtrace.numpy as xnp

_DATA = os.path.join(os.path.dirname(__file__), "data", "image-resize-answers.json")


def _close(a, b, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), b, rtol=rtol, atol=atol)


def test_linear_upsample_of_a_ramp():
    # pixel centres at half-integers: output j samples input coordinate (j + 0.5) / 2 - 0.5;
    # a ramp is reproduced inside and clamped to the edge values outside
    x = np.arange(4, dtype=np.float32)
    coords = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, 3)
    _close(xi.resize(x, (8,), "linear"), coords)
    _close(xi.resize(x, (8,), "bilinear", antialias=False), coords)


def test_nearest_and_area():
    x = np.arange(6, dtype=np.int32)
    out = xi.resize(x, (3,), "nearest")
    assert out.dtype == np.int32  # nearest keeps the dtype
    np.testing.assert_array_equal(np.asarray(out), [1, 3, 5])  # floor((j + .5) * 6 / 3)
    np.testing.assert_array_equal(np.asarray(xi.resize(x, (12,), "nearest")), np.repeat(x, 2))
    # area downsampling by 2 averages pairs; integers become the default float
    out = xi.resize(x, (3,), "area")
    assert out.dtype == np.float32
    _close(out, [0.5, 2.5, 4.5])
    img = np.arange(16, dtype=np.float32).reshape(4, 4)
    _close(xi.resize(img, (2, 2), "area"), img.reshape(2, 2, 2, 2).mean(axis=(1, 3)))


@pytest.mark.parametrize("method", ["linear", "cubic", "cubic-pytorch", "lanczos3",
                                    "lanczos5", "area"])
def test_constant_images_stay_constant(method):
    # every kernel's weights are normalized to sum to one
    img = np.full((5, 3), 2.5, np.float32)
    for shape in ((9, 3), (2, 7)):
        _close(xi.resize(img, shape, method), np.full(shape, 2.5))


def test_linear_antialias_downsample_weights():
    # downsampling by 2 with antialiasing widens the triangle to radius 2: output 0 samples
    # input coordinate 0.5, so inputs 0, 1, 2 get weights 0.75, 0.75, 0.25 (then normalized)
    x = np.array([1.0, 0, 0, 0], np.float32)
    w = np.array([0.75, 0.75, 0.25])
    _close(xi.resize(x, (2,), "linear")[0], w[0] / w.sum())
    _close(xi.resize(x, (2,), "linear", antialias=False)[0], 0.5)


def test_keys_cubic_interior_value():
    # upsampling by 2 at output 2 samples input coordinate 0.75: Keys' kernel at distances
    # 0.75, 0.25, 1.25, 2.25 from inputs 0..3
    def keys(t):
        t = abs(t)
        if t >= 2:
            return 0.0
        return (1.5 * t - 2.5) * t * t + 1 if t < 1 else ((-0.5 * t + 2.5) * t - 4) * t + 2
    x = np.array([0.0, 1.0, 4.0, 2.0], np.float32)
    w = np.array([keys(0.75 - i) for i in range(4)])
    _close(xi.resize(x, (8,), "cubic")[2], np.dot(w, x) / w.sum())


def _answers():
    with open(_DATA) as f:
        return json.load(f)


def test_recorded_jax_resize():
    data = _answers()
    for case in data["resize"]:
        out = xi.resize(np.asarray(data[case["input"]], np.float32), tuple(case["shape"]),
                        case["method"], antialias=case["antialias"])
        assert str(out.dtype) == case["dtype"]
        _close(out, case["out"], rtol=1e-5, atol=2e-6)


def test_recorded_jax_scale_and_translate():
    data = _answers()
    for case in data["scale_and_translate"]:
        out = xi.scale_and_translate(
            np.asarray(data[case["input"]], np.float32), tuple(case["shape"]),
            tuple(case["spatial_dims"]), np.asarray(case["scale"], np.float32),
            np.asarray(case["translation"], np.float32), case["method"],
            antialias=case["antialias"])
        _close(out, case["out"], rtol=1e-5, atol=2e-6)


def test_resize_method_enum_and_errors():
    assert xi.ResizeMethod.from_string("bicubic") is xi.ResizeMethod.CUBIC
    assert xi.ResizeMethod.from_string("triangle") is xi.ResizeMethod.LINEAR
    assert [m.value for m in xi.ResizeMethod] == list(range(7))
    x = np.arange(4, dtype=np.float32)
    _close(xi.resize(x, (8,), xi.ResizeMethod.LINEAR), xi.resize(x, (8,), "linear"))
    with pytest.raises(ValueError, match="Unknown resize method"):
        xi.resize(x, (8,), "spline")
    with pytest.raises(ValueError, match=r"\(8, 2\) vs \(4,\)"):
        xi.resize(x, (8, 2), "linear")
    with pytest.raises(ValueError, match="Nearest"):
        xi.scale_and_translate(x, (8,), (0,), np.array([2.0]), np.array([0.0]), "nearest")
    assert xi.resize(x.astype(np.float16), (6,), "cubic").dtype == np.float16


@pytest.mark.slow  # compiles long loops (CI runs it with -m slow)
def test_resize_jit_grad_vmap(rng):
    img = rng.normal(size=(4, 5)).astype(np.float32)
    w = rng.normal(size=(7, 3)).astype(np.float32)

    def f(v):
        return xnp.sum(xi.resize(v, (7, 3), "lanczos3") * w)

    g = xtrace.jit(xtrace.grad(f))(img)
    # resize is linear: the gradient's entry (i, j) is f at the unit image e_ij
    eye = np.eye(20, dtype=np.float32).reshape(20, 4, 5)
    expected = np.asarray(xtrace.jit(xtrace.vmap(f))(eye[:6]))
    _close(np.asarray(g).reshape(-1)[:6], expected, rtol=1e-4, atol=1e-5)
    jitted = xtrace.jit(xi.resize, static_argnums=(1, 2))(img, (7, 3), "lanczos3")
    _close(jitted, xi.resize(img, (7, 3), "lanczos3"))
    batch = rng.normal(size=(2, 4, 5)).astype(np.float32)
    out = xtrace.vmap(lambda v: xi.resize(v, (7, 3), "linear"))(batch)
    _close(out, xi.resize(batch, (2, 7, 3), "linear"))
    # scale_and_translate differentiates in the scale too: check it against finite differences
    x = np.array([0.0, 1.0, 4.0, 2.0, 3.0], np.float32)

    def h(s):
        return xnp.sum(xi.scale_and_translate(x, (6,), (0,), s, xnp.zeros(1), "cubic") ** 2)

    s0 = np.array([1.3], np.float32)
    eps = 1e-3
    fd = (float(h(s0 + eps)) - float(h(s0 - eps))) / (2 * eps)
    _close(xtrace.jit(xtrace.grad(h))(s0), [fd], rtol=2e-2, atol=2e-2)
