"""Table-driven autodiff checks over the primitive registry, in float64.

For each differentiable primitive (one with a JVP rule that is not declared zero), take its
cases from tests/primitive_cases, and check on the floating-point inputs:
* JVP against central finite differences (order 1),
* the JVP of the JVP against finite differences of the JVP (order 2),
* the VJP by the dot-product test <v, J u> = <J^T v, u> (transpose rules).
"""
import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace._src import core
from tests.primitive_cases import all_cases
from tests.test_primitives import _prims_in

CASES = all_cases()
EPS = 1e-6


def _u(lo, hi):
    return lambda shape, seed: np.random.default_rng(seed).uniform(lo, hi, shape)


def _away(lo, hi):  # |x| in [lo, hi] with random signs
    def f(shape, seed):
        r = np.random.default_rng(seed)
        return r.uniform(lo, hi, shape) * np.where(r.random(shape) > 0.5, 1, -1)
    return f


# Float64 inputs inside each elementwise primitive's smooth domain.
ELEMENTWISE_DOMAINS = {
    "add": (2, _u(-2, 2)), "sub": (2, _u(-2, 2)), "mul": (2, _u(-2, 2)),
    "div": (2, _away(0.5, 2)), "rem": (2, _u(0.6, 0.9)), "pow": (2, _u(0.5, 2)),
    "max": (2, _u(-2, 2)), "min": (2, _u(-2, 2)), "atan2": (2, _away(0.5, 2)),
    "neg": (1, _u(-2, 2)), "abs": (1, _away(0.2, 2)), "exp": (1, _u(-2, 2)),
    "exp2": (1, _u(-2, 2)), "expm1": (1, _u(-2, 2)), "log": (1, _u(0.5, 3)),
    "log1p": (1, _u(-0.5, 2)), "sin": (1, _u(-3, 3)), "cos": (1, _u(-3, 3)),
    "tan": (1, _u(-1.2, 1.2)), "tanh": (1, _u(-2, 2)), "logistic": (1, _u(-3, 3)),
    "sqrt": (1, _u(0.5, 3)), "rsqrt": (1, _u(0.5, 3)), "cbrt": (1, _away(0.5, 3)),
    "asin": (1, _u(-0.8, 0.8)), "acos": (1, _u(-0.8, 0.8)), "atan": (1, _u(-2, 2)),
    "sinh": (1, _u(-2, 2)), "cosh": (1, _u(-2, 2)), "asinh": (1, _u(-2, 2)),
    "acosh": (1, _u(1.5, 3)), "atanh": (1, _u(-0.8, 0.8)), "erf": (1, _u(-2, 2)),
    "erfc": (1, _u(-2, 2)), "erf_inv": (1, _u(-0.8, 0.8)), "lgamma": (1, _u(0.5, 4)),
    "digamma": (1, _u(0.5, 4)), "polygamma": (1, _u(0.5, 4)),
    "zeta": (1, _u(0.5, 4)), "bessel_i1e": (1, _away(0.5, 4)),
    "square": (1, _u(-2, 2)), "integer_pow": (1, _away(0.5, 2)),
    "convert_element_type": (1, _u(-2, 2)), "select_n": (2, _u(-2, 2)),
    "clamp": (1, _u(-2, 2)), "real": (1, _u(-2, 2)), "imag": (1, _u(-2, 2)),
    "complex": (2, _u(-2, 2)), "conj": (1, _u(-2, 2)),
}


def _elementwise_fn(name):
    from xtrace import lax
    special = {
        "integer_pow": lambda x: (lax.integer_pow(x, 3), lax.integer_pow(x, -2)),
        "polygamma": lambda x: lax.polygamma(np.float64(1), x),
        "zeta": lambda q: lax.zeta(np.float64(2.5), q),
        "convert_element_type": lambda x: lax.convert_element_type(
            lax.convert_element_type(x, np.float32), np.float64),
        "select_n": lambda x, y: lax.select_n(lax.gt(x, y), x, y),
        "clamp": lambda x: lax.clamp(-1.0, x, 1.0),
        "real": lambda x: lax.real(lax.complex(x, lax.mul(x, x))),
        "imag": lambda x: lax.imag(lax.complex(x, lax.mul(x, x))),
        "complex": lambda x, y: (lax.real(lax.complex(x, y)), lax.imag(lax.complex(x, y))),
        "conj": lambda x: lax.imag(lax.conj(lax.complex(x, lax.sin(x)))),
    }
    if name in special:
        return special[name]
    return getattr(lax, {"and": "bitwise_and"}.get(name, name))


def _elementwise_cases():
    from tests.primitive_cases import Case
    out = {}
    for name, (arity, sample) in ELEMENTWISE_DOMAINS.items():
        out[name] = [Case(_elementwise_fn(name), [sample((3, 4), s) for s in range(arity)],
                          ref=None, name="ad", x64=True)]
    return out


def _extra_cases():
    """Float64 cases with distinct values where ties would make finite differences non-linear."""
    from tests.primitive_cases import Case
    from xtrace import lax
    import xtrace
    x = np.random.default_rng(5).permutation(24).reshape(4, 6).astype(np.float64) / 7.0
    r = np.random.default_rng(6)
    a34, a3_1, a56 = r.standard_normal((3, 4)), r.standard_normal((3, 1)), r.standard_normal(
        (5, 6))
    pos = r.uniform(0.5, 1.5, (3, 5))

    def c(fn, *args):
        return [Case(fn, list(args), ref=None, name="ad")]

    @xtrace.custom_vjp
    def cv(u, v):
        return u * xtrace.numpy.sin(v)

    cv.defvjp(lambda u, v: (u * xtrace.numpy.sin(v), (u, v)),
              lambda res, g: (g * xtrace.numpy.sin(res[1]), g * res[0] * xtrace.numpy.cos(res[1])))
    return {
        "top_k": c(lambda v: lax.top_k(v, 3)[0], x),
        "broadcast_in_dim": c(lambda v: lax.broadcast_in_dim(v, (2, 3, 4), (1, 2)), a3_1),
        "reshape": c(lambda v: (lax.reshape(v, (2, 6)), lax.reshape(v, (4, 3), (1, 0))), a34),
        "transpose": c(lambda v: lax.transpose(lax.reshape(v, (2, 3, 2)), (2, 0, 1)), a34),
        "rev": c(lambda v: lax.rev(v, (0, 1)), a34),
        "squeeze": c(lambda v: lax.squeeze(v, (1,)), a3_1),
        "expand_dims": c(lambda v: lax.expand_dims(v, (0, 2)), a34),
        "concatenate": c(lambda u, v: lax.concatenate([u, v, u], 1), a34, a3_1),
        "pad": c(lambda v, p: lax.pad(v, p, [(1, 2, 1), (-1, 1, 0)]), a34, np.float64(0.5)),
        "slice": c(lambda v: lax.slice(v, (1, 0), (5, 6), (2, 3)), a56),
        "dynamic_slice": c(lambda v: lax.dynamic_slice(v, (1, 2), (3, 3)), a56),
        "dynamic_update_slice": c(lambda v, u: lax.dynamic_update_slice(v, u, (1, 2)), a56, a34),
        "reduce_sum": c(lambda v: (lax.reduce_sum(v, (1,)), lax.reduce_sum(v, (0, 1))), a34),
        "reduce_prod": c(lambda v: lax.reduce_prod(v, (1,)), pos),
        "cumsum": c(lambda v: (lax.cumsum(v, 1), lax.cumsum(v, 0, reverse=True)), a56),
        "cumprod": c(lambda v: (lax.cumprod(v, 1), lax.cumprod(v, 0, reverse=True)), pos),
        "cummax": c(lambda v: (lax.cummax(v, 1), lax.cummax(v, 0, reverse=True)), a56),
        "cummin": c(lambda v: (lax.cummin(v, 1), lax.cummin(v, 0, reverse=True)), a56),
        "convert_element_type": c(lambda v: lax.real(lax.convert_element_type(
            v, np.complex128)), a34),
        "real": c(lambda v: lax.real(lax.complex(v, v)), a34),
        "custom_vjp_call": c(cv, a34, a34),
    }


for _name, _cases in {**_elementwise_cases(), **_extra_cases()}.items():
    CASES[_name] = _cases + CASES.get(_name, [])
HELPERS_EXTRA = {"convert_element_type": {"real"}, "custom_vjp_call": {"sin", "mul"}, "real": {"complex"}, "imag": {"complex", "mul"}, "complex": {"real", "imag"},
                 "conj": {"complex", "imag", "sin"}, "select_n": {"gt"},
                 "fft": {"complex", "real", "imag", "slice"},
                 "cholesky": {"add", "mul", "select_n"}}
# Primitives whose derivative is not defined by a rule here (yet), with the reason.
NO_RULE_YET: dict[str, str] = {}
FORWARD_ONLY = {"while", "reduce_window"}  # reverse mode of these is an error, as in JAX
REVERSE_ONLY = {"custom_vjp_call"}  # forward mode of custom_vjp is an error, as in JAX


def _top_prims(jaxpr):
    """Primitives of the top level (looking through jit_call, not into control-flow bodies)."""
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        if eqn.primitive.name == "jit_call":
            names |= _top_prims(eqn.params["jaxpr"].jaxpr)
    return names


# Linear bookkeeping primitives a case may use around the primitive it is about.
HELPERS = {"jit_call", "broadcast_in_dim", "reshape", "convert_element_type", "squeeze",
           "expand_dims", "transpose"}


def _float_positions(args):
    return [i for i, a in enumerate(args)
            if np.asarray(a).dtype.kind == "f" and np.asarray(a).size > 0]


def _finite(args):
    return all(np.all(np.isfinite(np.asarray(a))) for a in args
               if np.asarray(a).dtype.kind in "fc")


def _differentiable_cases():
    for name, cases in sorted(CASES.items()):
        prim = core.primitives.get(name)
        if prim is None or getattr(prim, "differentiable", True) is False:
            continue
        if name in NO_RULE_YET:
            continue
        # Cases already in float64 first; others are converted to float64.
        picked = sorted((c for c in cases if _float_positions(c.args) and _finite(c.args)),
                        key=lambda c: not any(np.asarray(a).dtype == np.float64
                                              for a in c.args))
        if picked:
            yield pytest.param(name, picked, id=name)


def _setup(case):
    args = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
            for a in case.args]
    pos = _float_positions(case.args)

    def f(*fargs):
        full = [xnp.asarray(a) for a in args]
        for i, v in zip(pos, fargs):
            full[i] = v
        out = case.fn(*full)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return [o for o in outs if np.dtype(o.dtype).kind == "f"]

    return f, [args[i] for i in pos]


def _fd(f, xs, us, eps=EPS):
    plus = f(*[xnp.asarray(x + eps * u) for x, u in zip(xs, us)])
    minus = f(*[xnp.asarray(x - eps * u) for x, u in zip(xs, us)])
    return [(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(plus, minus)]


@pytest.mark.parametrize("name,cases", list(_differentiable_cases()))
def test_derivatives(name, cases):
    checked = 0
    for case in cases:
        if checked == 2:
            break
        with xtrace.enable_x64(True):
            f, xs = _setup(case)
            try:  # cases written for float32 may assert their dtypes
                jaxpr = xtrace.make_jaxpr(lambda *a: f(*a))(*[xnp.asarray(x) for x in xs])
            except AssertionError:
                continue
            if any(v.aval.dtype != np.float64 for v in jaxpr.jaxpr.outvars):
                continue  # finite differences need float64 throughout
            used = _top_prims(jaxpr.jaxpr)
            if name not in used or used - HELPERS - {name} - HELPERS_EXTRA.get(name, set()):
                continue  # a case about several primitives: not a clean derivative test
            if name in REVERSE_ONLY:
                _check_reverse_only(f, xs)
                checked += 1
            elif _check(f, xs, name not in FORWARD_ONLY):
                checked += 1
    assert checked, f"no float64-capable case exercised {name}"


def _check_reverse_only(f, xs):
    """<v, J u> from the VJP against finite differences of f along u."""
    rng = np.random.default_rng(0)
    us = [rng.standard_normal(x.shape) for x in xs]
    outs, f_vjp = xtrace.vjp(lambda *a: f(*a), *[xnp.asarray(x) for x in xs])
    vs = [rng.standard_normal(np.shape(o)) for o in outs]
    cts = f_vjp([xnp.asarray(v) for v in vs])
    lhs = sum(float(np.sum(v * d)) for v, d in zip(vs, _fd(f, xs, us)))
    rhs = sum(float(np.sum(np.asarray(c) * u)) for c, u in zip(cts, us))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-6, atol=1e-8)


def _check(f, xs, reverse=True):
    if True:
        rng = np.random.default_rng(0)
        us = [rng.standard_normal(x.shape) for x in xs]
        primals = tuple(xnp.asarray(x) for x in xs)
        tangents = tuple(xnp.asarray(u) for u in us)
        outs, touts = xtrace.jvp(lambda *a: f(*a), primals, tangents)
        if not outs:
            return False
        # order 1: JVP vs central differences
        for t, e in zip(touts, _fd(f, xs, us)):
            np.testing.assert_allclose(np.asarray(t), e, rtol=1e-5, atol=1e-6)
        # transpose: <v, J u> == <J^T v, u>
        if reverse:
            vs = [rng.standard_normal(np.shape(o)) for o in outs]
            _, f_vjp = xtrace.vjp(lambda *a: f(*a), *primals)
            cts = f_vjp([xnp.asarray(v) for v in vs])
            lhs = sum(float(np.sum(v * np.asarray(t))) for v, t in zip(vs, touts))
            rhs = sum(float(np.sum(np.asarray(c) * u)) for c, u in zip(cts, us))
            np.testing.assert_allclose(lhs, rhs, rtol=1e-6, atol=1e-8)

        # order 2: derivative of the JVP along the same direction
        def df(*a):
            return xtrace.jvp(lambda *b: f(*b), a, tangents)[1]

        _, t2 = xtrace.jvp(df, primals, tangents)
        for t, e in zip(t2, _fd(df, xs, us)):
            np.testing.assert_allclose(np.asarray(t), e, rtol=1e-4, atol=1e-5)
        return True
