"""Record JAX's outputs for the samplers of ``xtrace._src.random_distributions``.

Run with a JAX installation (not xtrace's environment), from anywhere:

    python benchmarks/record_random_distributions.py   # with JAX installed

It writes ``tests/data/random-distributions-answers.json``: for each case, the Python
expression (evaluated by ``tests/test_random_distributions.py`` with ``r`` = xtrace.random),
JAX's result (dtype, shape, values; for large bit-exact results a SHA-256 digest of the
bytes and the first values) and the tolerance the test uses (``rtol`` 0 = bit-exact).
Names available to the expressions: ``r`` (the random module), ``np``, ``K`` = PRNGKey(0),
``KS`` = split(PRNGKey(42), 3), ``jit``, ``vmap``, ``grad``. Recorded with JAX 0.10.2, x64
disabled, default (partitionable threefry) PRNG.
"""
import hashlib
import json
import os

import numpy as np

COV3 = "np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]], np.float32)"
F32 = "np.float32"

# (name, expression, rtol): rtol 0 asks for bit-exact equality. Not bit-exact: orthogonal (JAX
# uses a Householder QR, xtrace Gram-Schmidt), multivariate_normal (factor and einsum rounding),
# the gradients (series/continued-fraction sums in another association), and gamma vmapped over
# keys (XLA's vectorized log/pow differ by an ulp or two with the loop's width).
CASES = [
    ("cauchy", "r.cauchy(K, (2000,))", 0),
    ("lognormal", f"r.lognormal(K, np.array([0.5, 2.0], {F32}), (1000, 2))", 0),
    ("lognormal_default", "r.lognormal(K, shape=(4,))", 0),
    ("maxwell", "r.maxwell(K, (2000,))", 0),
    ("maxwell_jit", "jit(lambda k: r.maxwell(k, (4,)))(K)", 0),
    ("double_sided_maxwell", f"r.double_sided_maxwell(K, np.array([0., 1.], {F32}), 2.0, "
                             "(1000,))", 0),
    ("double_sided_maxwell_jit", "jit(lambda k: r.double_sided_maxwell(k, 1.0, 0.5))(K)", 0),
    ("pareto", f"r.pareto(K, np.array([1., 3.], {F32}), (1000, 2))", 0),
    ("rayleigh", "r.rayleigh(K, 2.0, (2000,))", 0),
    ("triangular", f"r.triangular(K, 0.0, np.array([0.2, 0.8], {F32}), 1.0, (1000, 2))", 0),
    ("wald", f"r.wald(K, np.array([0.5, 3.0], {F32}), (1000, 2))", 0),
    ("wald_jit", "jit(lambda k, m: r.wald(k, m, (3,)))(K, np.float32(1.5))", 0),
    ("weibull_min", f"r.weibull_min(K, 2.0, np.array([0.7, 1.5], {F32}), (1000, 2))", 0),
    ("geometric", f"r.geometric(K, np.array([0.1, 0.5, 0.9], {F32}), (1000, 3))", 0),
    ("geometric_int16", "r.geometric(K, 0.3, (4,), np.int16)", 0),
    ("gamma", f"r.gamma(K, np.array([0.1, 0.5, 1.0, 2.5, 10.0, 100.0], {F32}), (500, 6))", 0),
    ("loggamma", f"r.loggamma(K, np.array([0.01, 0.5, 1.0, 5.0], {F32}), (500, 4))", 0),
    ("beta", f"r.beta(K, np.array([0.2, 1.0, 5.0], {F32}), 2.0, (500, 3))", 0),
    ("dirichlet", f"r.dirichlet(K, np.array([[0.5, 1.0, 2.0], [3.0, 0.1, 1.0]], {F32}), "
                  "(500, 2))", 0),
    ("chisquare", f"r.chisquare(K, np.array([1.0, 4.0], {F32}), (1000, 2))", 0),
    # (JAX's f needs array parameters of the full shape: its lax.div does not broadcast)
    ("f", f"r.f(K, 3.0, np.tile(np.array([2.0, 10.0], {F32}), (1000, 1)), (1000, 2))", 0),
    ("t", f"r.t(K, np.array([1.0, 5.0, 30.0], {F32}), (700, 3))", 0),
    ("poisson", f"r.poisson(K, np.array([0.0, 0.5, 4.0, 9.99, 10.0, 50.0, 1000.0], {F32}), "
                "(500, 7))", 0),
    ("poisson_int16", "r.poisson(K, 3.0, (2, 3), np.int16)", 0),
    # columns: n * min(p, 1-p) <= 10 (inversion), > 10 (BTRS), p > 1/2, n = 0, then invalid n
    # (-1: NaN, inf: inf) and p (NaN, < 0: NaN)
    ("binomial", f"r.binomial(K, np.array([8., 60., 500., 0., -1., np.inf, 5., 5.], {F32}), "
                 f"np.array([0.4, 0.3, 0.8, 0.3, 0.5, 0.5, np.nan, -0.1], {F32}), (300, 8))", 0),
    ("multinomial", f"r.multinomial(K, 20.0, np.array([0.1, 0.2, 0.3, 0.4], {F32}))", 0),
    ("multinomial_batch", f"r.multinomial(K, np.array([5., 50.], {F32}), "
                          f"np.array([[0.5, 0.5, 0.], [0.2, 0.3, 0.5]], {F32}))", 0),
    ("generalized_normal", "r.generalized_normal(K, 1.5, (2000,))", 0),
    ("ball", "r.ball(K, 3, 1.0, (500,))", 0),
    ("multivariate_normal", f"r.multivariate_normal(K, np.array([1., -1., 0.5], {F32}), "
                            f"{COV3}, (2,))", 1e-6),
    ("multivariate_normal_batch", f"r.multivariate_normal(K, np.zeros((2, 3), {F32}), {COV3})",
     1e-6),
    ("orthogonal", "r.orthogonal(K, 4)", 2e-6),
    ("orthogonal_rect", "r.orthogonal(K, 2, (2,), m=4)", 2e-6),
    ("orthogonal_complex", "r.orthogonal(K, 3, dtype=np.complex64)", 2e-6),
    # vmap over keys and over parameters
    ("vmap_gamma_keys", f"vmap(lambda k: r.gamma(k, np.array([0.5, 2.0], {F32})))(KS)", 2e-6),
    ("vmap_poisson_keys", f"vmap(lambda k: r.poisson(k, np.array([2.0, 30.0], {F32})))(KS)",
     0),
    ("vmap_binomial_p", f"vmap(lambda p: r.binomial(K, 50.0, p, (2,)))"
                        f"(np.array([0.1, 0.5, 0.9], {F32}))", 0),
    ("vmap_wald_mean", f"vmap(lambda m: r.wald(K, m, (2,)))(np.array([0.5, 4.0], {F32}))", 0),
    ("vmap_cauchy_keys", "vmap(lambda k: r.cauchy(k, (2,)))(KS)", 0),
    # implicit reparameterization gradients
    ("grad_gamma", f"grad(lambda a: r.gamma(K, a).sum())"
                   f"(np.array([0.3, 1.0, 4.0, 20.0], {F32}))", 2e-6),
    ("grad_gamma_jit_vmap", f"jit(vmap(grad(lambda a: r.gamma(K, a))))"
                            f"(np.array([0.8, 2.0, 9.0], {F32}))", 2e-6),
]


def _encode(x, rtol):
    """Small or inexact results are stored whole; large exact ones as a SHA-256 digest of their
    bytes (C order) and their first values."""
    x = np.ascontiguousarray(x)
    out = {"dtype": x.dtype.name, "shape": list(x.shape)}
    if rtol == 0 and x.size > 64:
        out["sha256"] = hashlib.sha256(x.tobytes()).hexdigest()
        x = x.ravel()[:8]
    if np.iscomplexobj(x):
        out["values"] = [[float(v.real), float(v.imag)] for v in x.ravel()]
    else:
        out["values"] = [v.item() for v in x.ravel()]
    return out


def main():
    import jax
    import jax.random as r

    env = {"r": r, "np": np, "K": r.PRNGKey(0), "KS": r.split(r.PRNGKey(42), 3),
           "jit": jax.jit, "vmap": jax.vmap, "grad": jax.grad}
    from jaxlib import version
    out = {"jax_version": jax.__version__, "jaxlib_version": version.__version__, "cases": {}}
    for name, expr, rtol in CASES:
        out["cases"][name] = {"expr": expr, "rtol": rtol, **_encode(eval(expr, dict(env)), rtol)}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data",
                        "random-distributions-answers.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
