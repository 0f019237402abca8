"""Record JAX's outputs for the bit-exact random cases of ``tests/test_lax_conformance.py``.

Run with a JAX installation (not xtrace's environment), from anywhere:

    python benchmarks/record_lax_conformance.py   # with JAX installed

It writes ``tests/data/lax-conformance-answers.json``: for each case the Python expression
(evaluated by the test with ``r`` = xtrace.random, ``np``, ``ml_dtypes`` and ``K`` =
PRNGKey(0)) and JAX's result as raw bits (``bits``: the values viewed as unsigned integers of
the same width), its dtype and shape. Recorded with JAX 0.10.2, x64 disabled, default PRNG.
"""
import json
import os

import ml_dtypes
import numpy as np

# 16-bit maxwell: JAX squares in the dtype and sums the squares in float32 (jnp.linalg.norm).
CASES = [
    ("maxwell_bf16", "r.maxwell(K, (64,), ml_dtypes.bfloat16)"),
    ("maxwell_f16", "r.maxwell(K, (64,), np.float16)"),
    ("double_sided_maxwell_bf16",
     "r.double_sided_maxwell(K, 0.5, 2.0, (64,), ml_dtypes.bfloat16)"),
]


def _bits(x):
    x = np.ascontiguousarray(x)
    return {"dtype": x.dtype.name, "shape": list(x.shape),
            "bits": x.view(f"uint{8 * x.dtype.itemsize}").ravel().tolist()}


def main():
    import jax
    import jax.random as r

    env = {"r": r, "np": np, "ml_dtypes": ml_dtypes, "K": r.PRNGKey(0)}
    out = {"jax_version": jax.__version__, "cases": {}}
    for name, expr in CASES:
        out["cases"][name] = {"expr": expr, **_bits(eval(expr, dict(env)))}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data",
                        "lax-conformance-answers.json")
    with open(path, "w") as fh:
        json.dump(out, fh)
        fh.write("\n")


if __name__ == "__main__":
    main()
