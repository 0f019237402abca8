"""Record JAX 0.10.2's jax.image.resize / scale_and_translate outputs (x64 disabled) for
tests/test_image.py. Run once with JAX installed: python benchmarks/record_image_resize.py"""
import json, os, numpy as np, jax, jax.numpy as jnp
import jax.image as ji
x = (np.arange(5, dtype=np.float32) ** 2 / 4 - 1).astype(np.float32)
img = np.array([[1., 2., 0.5, 3.], [0., -1., 2., 1.], [4., 1., 1., 2.]], np.float32)
out = {"input_1d": x.tolist(), "input_2d": img.tolist(), "resize": [], "scale_and_translate": []}
for m in ['nearest', 'linear', 'cubic', 'cubic-pytorch', 'lanczos3', 'lanczos5', 'area']:
    for shp in [(8,), (3,)]:
        for aa in [True, False]:
            r = ji.resize(x, shp, m, antialias=aa)
            out["resize"].append(dict(input="input_1d", shape=shp, method=m, antialias=aa, dtype=str(r.dtype), out=np.asarray(r).tolist()))
    r = ji.resize(img, (5, 2), m)
    out["resize"].append(dict(input="input_2d", shape=(5, 2), method=m, antialias=True, dtype=str(r.dtype), out=np.asarray(r).tolist()))
for m in ['linear', 'cubic', 'cubic-pytorch', 'lanczos3', 'area']:
    for aa in [True, False]:
        r = ji.scale_and_translate(img, (4, 6), (0, 1), jnp.array([1.5, 0.7]), jnp.array([0.25, -0.5]), m, antialias=aa)
        out["scale_and_translate"].append(dict(input="input_2d", shape=(4, 6), spatial_dims=(0, 1), scale=[1.5, 0.7], translation=[0.25, -0.5], method=m, antialias=aa, out=np.asarray(r).tolist()))
json.dump(out, open(os.path.join(os.path.dirname(__file__), '..', 'tests', 'data', 'image-resize-answers.json'), 'w'))
print(jax.__version__)
