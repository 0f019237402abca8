"""Cases for special functions without a NumPy counterpart, against series references."""
import numpy as np
import scipy.special as sc

from xtrace import lax
from tests.primitive_cases import Case


def _trigamma(x, n=60):
    # psi_1(x) = sum_k 1/(x+k)^2, with the asymptotic tail after n terms.
    x = np.asarray(x, np.float64)
    s = sum(1.0 / (x + k) ** 2 for k in range(n))
    z = x + n
    return s + 1 / z + 1 / (2 * z ** 2) + 1 / (6 * z ** 3) - 1 / (30 * z ** 5)


def _tetragamma(x, n=60):
    x = np.asarray(x, np.float64)
    s = sum(-2.0 / (x + k) ** 3 for k in range(n))
    z = x + n
    return s - 1 / z ** 2 - 1 / z ** 3 - 1 / (2 * z ** 4) + 1 / (6 * z ** 6)


_X = np.random.default_rng(7).uniform(0.5, 5.0, (3, 5))

CASES = {
    "polygamma": [
        Case(lambda x: lax.polygamma(np.float32(1), x), [_X.astype(np.float32)], _trigamma,
             rtol=1e-4),
        Case(lambda x: lax.polygamma(np.float64(2), x), [_X], _tetragamma, rtol=1e-9,
             x64=True, name="order2_f64"),
    ],
    "zeta": [
        Case(lambda q: lax.zeta(np.float32(2.5), q), [_X.astype(np.float32)],
             lambda q: sc.zeta(2.5, q), rtol=1e-5),
        Case(lambda q: lax.zeta(np.float64(3.5), q), [_X], lambda q: sc.zeta(3.5, q),
             rtol=1e-12, x64=True, name="f64"),
    ],
    "bessel_i1e": [
        Case(lax.bessel_i1e, [(_X * 4 - 10).astype(np.float32)], sc.i1e, rtol=1e-5),
        Case(lax.bessel_i1e, [_X * 4 - 10], sc.i1e, rtol=1e-12, x64=True, name="f64"),
    ],
}
