"""Cases for the primitives behind stop_gradient, custom_jvp, custom_vjp, custom_vmap and
checkpoint: their forward values must equal the wrapped function's."""
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

@xtrace.custom_batching.custom_vmap
def _sin_times(x, y):
    return xnp.sin(x) * y


_sin_times.def_vmap(lambda n, b, x, y: (xnp.sin(x) * y, any(b)))

_X = rand((3, 4), np.float32, seed=3)
_Y = rand((3, 4), np.float32, seed=4)

CASES = {
    "stop_gradient": [Case(lambda x: lax.stop_gradient(x) * 2.0, [_X], lambda x: x * 2)],
    "custom_jvp_call": [Case(_softplus, [_X], lambda x: np.log1p(np.exp(x)))],
    "custom_vjp_call": [Case(_clip_grad, [_X, _Y], lambda x, y: x * y)],
    "custom_vmap_call": [Case(_sin_times, [_X, _Y], lambda x, y: np.sin(x) * y)],
    "remat": [Case(xtrace.checkpoint(lambda x: xnp.sin(xnp.sin(x)) * x), [_X],
                   lambda x: np.sin(np.sin(x)) * x)],
}
