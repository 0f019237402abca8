"""Transformations behave as JAX documents them: argument checks and their exception classes,
weak types and dtypes of derivatives, accepted keyword arguments, and ``xtrace.errors``.
Numbers are checked against closed forms (finite differences where a formula is not obvious)."""
import functools

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import errors

X3 = np.array([0.5, -1.0, 2.0], np.float32)
FLOAT0 = xtrace.float0


# ---- jvp / vjp argument checks --------------------------------------------------------------

def test_jvp_tangent_dtype_must_match():
    with pytest.raises(TypeError, match="dtypes must be equal"):
        xtrace.jvp(lambda x: x * 2, (X3,), (X3.astype(np.float16),))
    with pytest.raises(ValueError, match="shape"):
        xtrace.jvp(lambda x: x * 2, (X3,), (X3[:2],))


def test_jvp_integer_primal_needs_float0_tangent():
    with pytest.raises(TypeError, match="float0"):
        xtrace.jvp(lambda x: x * 2, (np.int32(2),), (np.int32(1),))
    p, t = xtrace.jvp(lambda n, y: n * y, (np.int32(2), 3.0), (np.zeros((), FLOAT0), 1.0))
    assert float(p) == 6.0 and float(t) == 2.0


def test_vjp_cotangent_checks_are_value_errors():
    _, f = xtrace.vjp(lambda x: x * 2, X3)
    with pytest.raises(ValueError, match="f16"):
        f(X3.astype(np.float16))
    with pytest.raises(ValueError, match="tree structure"):
        f((X3,))
    np.testing.assert_allclose(f(X3)[0], 2 * X3)
    # A bool output's cotangent is a float0 zero.
    _, f = xtrace.vjp(lambda x: (x * 2, x > 0), X3)
    np.testing.assert_allclose(f((X3, np.zeros(3, FLOAT0)))[0], 2 * X3)


# ---- weak types and dtypes of derivatives ---------------------------------------------------

def test_gradient_of_weak_python_scalar_is_weak():
    g = xtrace.grad(lambda x: x ** 2)(3.0)
    assert g.weak_type and g.dtype == np.float32 and float(g) == 6.0
    gx, gy = xtrace.grad(lambda x, y: xnp.sum(xnp.sin(x) * y), argnums=(0, 1))(X3, 2.0)
    assert not gx.weak_type and gy.weak_type
    np.testing.assert_allclose(gy, np.sin(X3).sum(), rtol=1e-6)
    gg = xtrace.grad(xtrace.grad(lambda x: xnp.sin(x) * x))(1.5)
    assert gg.weak_type
    np.testing.assert_allclose(gg, 2 * np.cos(1.5) - 1.5 * np.sin(1.5), rtol=1e-5)


def test_jacobian_blocks_follow_example_leaf_type():
    # jacfwd: the output leaf's dtype/weak type; jacrev: the input leaf's.
    jf = xtrace.jacfwd(lambda x: x ** 2)(3.0)
    jr = xtrace.jacrev(lambda x: x ** 2)(3.0)
    assert jf.weak_type and jr.weak_type and float(jf) == float(jr) == 6.0
    jt = xtrace.jacrev(lambda d: {"o": d["a"] * d["b"]})({"a": X3, "b": 2.0})
    assert jt["o"]["b"].weak_type and not jt["o"]["a"].weak_type
    np.testing.assert_allclose(jt["o"]["a"], 2 * np.eye(3), rtol=1e-6)
    np.testing.assert_allclose(jt["o"]["b"], X3, rtol=1e-6)
    # A complex block of a real input keeps its real part (jacfwd of a complex output).
    jc = xtrace.jacfwd(lambda x: x * 2j)(X3)
    assert jc.dtype == np.complex64
    np.testing.assert_allclose(jc, 2j * np.eye(3))


def test_jacobian_dtype_checks():
    with pytest.raises(TypeError, match="real-valued outputs"):
        xtrace.jacrev(lambda x: x * 2j)(X3)
    with pytest.raises(TypeError, match="integer outputs"):
        xtrace.jacrev(lambda x: (x * 2).astype(np.int32))(X3)
    with pytest.raises(TypeError, match="requires real-valued inputs"):
        xtrace.jacfwd(lambda z: z * 2)(np.array([1 + 1j], np.complex64))
    with pytest.raises(TypeError, match="holomorphic=True requires inputs with complex"):
        xtrace.jacfwd(lambda z: z ** 2, holomorphic=True)(X3)
    with pytest.raises(TypeError, match="holomorphic=True requires inputs with complex"):
        xtrace.jacrev(lambda z: z ** 2, holomorphic=True)(X3)
    j = xtrace.jacrev(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(X3, np.arange(3))
    np.testing.assert_allclose(j[0], np.diag(np.arange(3)))
    assert j[1].dtype == np.int32 and j[1].shape == (3, 3) and not np.asarray(j[1]).any()
    z = np.array([1 + 1j, 2 - 1j], np.complex64)
    for jac in (xtrace.jacfwd, xtrace.jacrev):
        np.testing.assert_allclose(jac(lambda z: z ** 2, holomorphic=True)(z),
                                   np.diag(2 * z), rtol=1e-6)


# ---- vmap / jit keyword arguments -----------------------------------------------------------

def test_vmap_accepts_spmd_axis_name_and_reports_out_axes_none():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(xtrace.vmap(lambda v: v * 2, spmd_axis_name="d")(x), 2 * x)
    with pytest.raises(ValueError, match="got axis spec None but output was batched on axis 0"):
        xtrace.vmap(lambda v: v * 2, out_axes=None)(x)


def test_jit_keyword_arguments():
    f = xtrace.jit(lambda x, y: x * 2, donate_argnames="x", keep_unused=True, inline=True)
    x = xnp.asarray(X3)
    np.testing.assert_allclose(f(x, X3), 2 * X3)
    with pytest.raises(RuntimeError):  # x was donated
        np.asarray(x)
    with pytest.raises(ValueError, match="static_argnums=\\(5,\\), but only accepts 2"):
        xtrace.jit(lambda x, a: x * a, static_argnums=(5,))


# ---- xtrace.errors --------------------------------------------------------------------------

@pytest.mark.parametrize("fn,cls", [
    (lambda x: 1 if x > 0 else 2, errors.TracerBoolConversionError),
    (lambda x: [1, 2][x], errors.TracerIntegerConversionError),
    (lambda x: np.asarray(x), errors.TracerArrayConversionError),
    (lambda x: float(x), errors.ConcretizationTypeError),
])
def test_tracer_conversion_errors(fn, cls):
    with pytest.raises(cls) as info:
        xtrace.jit(fn)(1)
    assert isinstance(info.value, TypeError)


def test_bool_conversion_is_a_concretization_error():
    assert issubclass(errors.TracerBoolConversionError, errors.ConcretizationTypeError)


def test_nonconcrete_boolean_index_and_leaked_tracer():
    with pytest.raises(errors.NonConcreteBooleanIndexError) as info:
        xtrace.jit(lambda x: x[x > 0])(X3)
    assert isinstance(info.value, IndexError)
    box = []
    xtrace.jit(lambda x: box.append(x) or x)(X3)
    with pytest.raises(errors.UnexpectedTracerError, match="escape the scope"):
        box[0] + 1
    assert issubclass(errors.UnexpectedTracerError, TypeError)


# ---- custom_jvp / custom_vjp / checkpoint checks --------------------------------------------

def test_custom_jvp_tangent_type_is_checked():
    @xtrace.custom_jvp
    def f(x):
        return x

    f.defjvp(lambda p, t: (p[0], t[0].astype(np.float16)))
    with pytest.raises(TypeError, match="corresponding shapes and dtypes"):
        xtrace.jvp(f, (np.float32(1.0),), (np.float32(1.0),))


def test_custom_vjp_bwd_output_shape_is_checked():
    @xtrace.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: (xnp.ones(3), g))
    with pytest.raises(ValueError, match="shapes do not match"):
        xtrace.grad(f)(1.0, 2.0)


def test_checkpoint_static_argnums_int():
    f = xtrace.checkpoint(lambda x, n: x * (1.0 if n > 0 else 2.0) * x, static_argnums=1)
    np.testing.assert_allclose(f(X3, 1), X3 * X3)
    g = xtrace.grad(functools.partial(f, n=-1))(1.5)
    np.testing.assert_allclose(g, 4 * 1.5, rtol=1e-6)
