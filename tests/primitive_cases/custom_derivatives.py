"""Cases for the primitives behind stop_gradient, custom_jvp, custom_vjp and checkpoint:
their forward values must equal the wrapped function's."""
import numpy as np

import xtrace
import xtrace.numpy as xnp
from xtrace import lax
from tests.primitive_cases import Case, rand


@xtrace.custom_jvp
def _softplus(x):
    return xnp.log1p(xnp.exp(x))


_softplus.defjvp(lambda p, t: (_softplus(p[0]), t[0] * lax.logistic(p[0])))


@xtrace.custom_vjp
def _clip_grad(x, y):
    return x * y


_clip_grad.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1], g * res[0]))

_X = rand((3, 4), np.float32, seed=3)
_Y = rand((3, 4), np.float32, seed=4)

CASES = {
    "stop_gradient": [Case(lambda x: lax.stop_gradient(x) * 2.0, [_X], lambda x: x * 2)],
    "custom_jvp_call": [Case(_softplus, [_X], lambda x: np.log1p(np.exp(x)))],
    "custom_vjp_call": [Case(_clip_grad, [_X, _Y], lambda x, y: x * y)],
    "remat": [Case(xtrace.checkpoint(lambda x: xnp.sin(xnp.sin(x)) * x), [_X],
                   lambda x: np.sin(np.sin(x)) * x)],
}
