"""Top-level utilities of ``jax.*`` that are not transformations of their own:
``ShapeDtypeStruct``/``eval_shape``/``typeof`` (types without running), ``device_get``,
``linear_transpose``, ``custom_gradient``, ``named_call``/``named_scope``, the process aliases
(``host_count`` ...) and ``live_arrays``."""
from __future__ import annotations

import contextlib
import functools
import gc
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from xtrace._src import ad, core, dtypes
from xtrace._src import backend as _backend
from xtrace._src.array import Array
from xtrace._src.core import ShapedArray
from xtrace._src.tree_util import (Partial, tree_flatten, tree_map, tree_unflatten,
                                   treedef_is_leaf)

float0 = ad.float0  # the tangent dtype of integer and boolean values


# ---------------------------------------------------------------------------------------------
# Types without values


class ShapeDtypeStruct:
    """A shape, dtype and weak-type flag standing for an array (``eval_shape``'s inputs and
    outputs; ``jit(f).lower`` accepts it too). ``sharding`` is accepted and kept, unused."""

    __slots__ = ("shape", "dtype", "weak_type", "sharding")

    def __init__(self, shape: Sequence[int], dtype: Any, *, sharding: Any = None,
                 weak_type: bool = False):
        if dtype is None:
            raise ValueError("ShapeDtypeStruct: dtype must be specified.")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self.sharding = sharding

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    @property
    def aval(self) -> ShapedArray:
        """The abstract value (dtype canonicalized), what tracing sees for this struct."""
        return ShapedArray(self.shape, dtypes.canonicalize_dtype(self.dtype), self.weak_type)

    def update(self, shape=None, dtype=None, weak_type=None, sharding=None
               ) -> "ShapeDtypeStruct":
        return ShapeDtypeStruct(self.shape if shape is None else shape,
                                self.dtype if dtype is None else dtype,
                                weak_type=self.weak_type if weak_type is None else weak_type,
                                sharding=self.sharding if sharding is None else sharding)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"

    __str__ = __repr__


def _leaf_aval(x: Any) -> ShapedArray:
    if isinstance(x, ShapeDtypeStruct):
        return x.aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(
            x, (Array, core.Tracer, np.ndarray, np.generic)):
        return ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype),
                           getattr(x, "weak_type", False))  # e.g. a ShapedArray
    return typeof(x)


def typeof(x: Any) -> ShapedArray:
    """The abstract value (``ShapedArray``: shape, dtype, weak type) of an array, tracer,
    NumPy value or Python scalar."""
    try:
        return core.get_aval(x)
    except TypeError:
        raise TypeError(f"typeof: {type(x).__name__} {x!r:.60} is not an array type "
                        "(expected an xtrace Array, a NumPy value or a Python scalar)") from None


def eval_shape(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes of ``fun(*args, **kwargs)`` as a pytree of ``ShapeDtypeStruct``,
    found by tracing ``fun`` without computing or compiling anything. Array leaves of the
    arguments may be ``ShapeDtypeStruct`` s (or anything with ``shape`` and ``dtype``)."""
    from xtrace._src.staging import trace_to_jaxpr
    leaves, in_tree = tree_flatten((args, kwargs))
    avals = [_leaf_aval(x) for x in leaves]
    out_tree_box = []

    def flat_fun(*tracers):
        a, kw = tree_unflatten(in_tree, tracers)
        out_leaves, out_tree = tree_flatten(fun(*a, **kw))
        out_tree_box.append(out_tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_fun, avals, getattr(fun, "__name__", "eval_shape"))
    outs = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
            for a in closed.out_avals]
    return tree_unflatten(out_tree_box[0], outs)


# ---------------------------------------------------------------------------------------------
# Host values


def device_get(x: Any) -> Any:
    """Copy every array of the pytree ``x`` to the host: xtrace Arrays (and NumPy scalars)
    become NumPy arrays; other leaves (Python scalars, strings ...) are returned unchanged."""
    def get(v):  # a tracer without a concrete value raises ConcretizationError here
        if isinstance(v, (Array, core.Tracer, np.generic)):
            return np.asarray(v)
        return v

    return tree_map(get, x)


def live_arrays(platform: str | None = None) -> list[Array]:
    """The xtrace Arrays alive now (not deleted), on ``platform``'s devices or all."""
    out = []
    for o in gc.get_objects():
        if type(o) is Array and not o.is_deleted():
            if platform is None or any(d.platform == platform for d in o.devices()):
                out.append(o)
    return out


# ---------------------------------------------------------------------------------------------
# Process aliases (JAX keeps the old "host" names, deprecated)


def _renamed(old: str, new: Callable) -> Callable:
    @functools.wraps(new)
    def alias(backend: str | None = None):
        warnings.warn(f"xtrace.{old} has been renamed to xtrace.{new.__name__}. This alias "
                      "will eventually be removed; please update your code.", stacklevel=2)
        return new(backend)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated alias of ``{new.__name__}``."
    return alias


def process_indices(backend: str | None = None) -> list[int]:
    """The indices of the processes that own devices of ``backend``, sorted."""
    return sorted({d.process_index for d in _backend.devices(backend)})


host_count = _renamed("host_count", _backend.process_count)
host_id = _renamed("host_id", _backend.process_index)
host_ids = _renamed("host_ids", process_indices)


# ---------------------------------------------------------------------------------------------
# linear_transpose and custom_gradient


def _is_inexact(avals) -> bool:
    return all(dtypes.is_inexact(a.dtype) for a in avals)


def _is_integer(avals) -> bool:
    return all(np.issubdtype(a.dtype, np.integer) for a in avals)


def linear_transpose(fun: Callable, *primals: Any, reduce_axes: Sequence = ()) -> Callable:
    """The transpose of the linear function ``fun`` at the types of ``primals`` (only their
    shapes and dtypes matter): a function of an output cotangent returning one cotangent per
    primal, as a tuple. ``fun`` must be linear in its inputs (``TypeError`` / the missing
    transpose rule's ``NotImplementedError`` otherwise). The result is a pytree, usable as a
    ``jit`` argument."""
    if reduce_axes:
        raise NotImplementedError("reduce_axes argument to transpose is deprecated")
    from xtrace._src.staging import trace_to_jaxpr
    leaves, in_tree = tree_flatten(primals)
    in_avals = [_leaf_aval(x) for x in leaves]
    out_tree_box = []

    def flat_fun(*tracers):
        out_leaves, out_tree = tree_flatten(fun(*tree_unflatten(in_tree, tracers)))
        out_tree_box.append(out_tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_fun, in_avals, getattr(fun, "__name__", "linear_transpose"))
    out_avals = closed.out_avals
    if not (_is_inexact(in_avals + out_avals) or _is_integer(in_avals + out_avals)):
        raise TypeError("linear_transpose only supports [float or complex] -> [float or complex],"
                        " and integer -> integer functions, but got "
                        f"{[a.dtype for a in in_avals]} -> {[a.dtype for a in out_avals]}.")
    rule = _TransposeRule(closed.jaxpr, in_tree, out_tree_box[0], tuple(in_avals),
                          tuple(out_avals), getattr(fun, "__name__", "fun"))
    return Partial(rule, list(closed.consts))


class _TransposeRule:
    """The body of ``linear_transpose``'s result: ``rule(consts, cotangent)``."""

    def __init__(self, jaxpr, in_tree, out_tree, in_avals, out_avals, name):
        self.jaxpr, self.in_tree, self.out_tree = jaxpr, in_tree, out_tree
        self.in_avals, self.out_avals, self.name = in_avals, out_avals, name

    def __call__(self, consts, out_cotangent):
        cts, tree = tree_flatten(out_cotangent)
        if tree != self.out_tree:
            raise TypeError("cotangent tree does not match function output, expected "
                            f"{self.out_tree} but got {tree}")
        got = [typeof(c) for c in cts]
        if any(g.shape != a.shape or g.dtype != a.dtype for g, a in zip(got, self.out_avals)):
            raise TypeError("cotangent type does not match function output, expected "
                            f"{[a.str_short() for a in self.out_avals]} but got "
                            f"{[g.str_short() for g in got]}")
        args = [ad.UndefinedPrimal(v.aval) for v in self.jaxpr.invars]
        try:
            in_cts = ad.backward_pass(self.jaxpr, consts, args, cts)
        except TypeError as e:
            if "UndefinedPrimal" not in str(e):
                raise
            raise TypeError(f"linear_transpose: {self.name} is not linear in its inputs (an "
                            "operation combines two values that depend on them non-linearly, "
                            "e.g. x * x)") from None
        from xtrace._src.api import _as_array
        in_cts = [ad.instantiate(c, a) if isinstance(c, ad.Zero) else _as_array(c)
                  for c, a in zip(in_cts, self.in_avals)]
        return tree_unflatten(self.in_tree, in_cts)

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def custom_gradient(fun: Callable) -> Callable:
    """JAX's ``custom_gradient``: ``fun(*args)`` returns ``(value, vjp)`` where
    ``vjp(g)`` gives the cotangents of the arguments (a tuple, or one value for one
    argument). Built on ``custom_vjp``: the VJP function is traced in the forward pass."""
    from xtrace._src.custom_derivatives import custom_vjp

    @custom_vjp
    @functools.wraps(fun)  # fun's signature: keyword arguments are bound to positions
    def wrapped(*args):
        return fun(*args)[0]

    def fwd(*args):
        ans, rule = fun(*args)
        return ans, _trace_rule(rule, ans)

    def bwd(res, g):
        cts = res(g)
        return (cts,) if res.func.single else tuple(cts)

    wrapped.defvjp(fwd, bwd)
    return wrapped


class _RuleCall:
    """A traced VJP rule: the Jaxpr and the structures (hashable aux data of a Partial)."""

    def __init__(self, jaxpr, out_tree):
        self.jaxpr, self.out_tree = jaxpr, out_tree
        self.single = treedef_is_leaf(out_tree)  # the rule returned one cotangent, no tuple

    def __call__(self, consts, g):
        from xtrace._src.staging import eval_jaxpr
        flat = tree_flatten(g)[0]
        outs = eval_jaxpr(self.jaxpr.jaxpr, consts, flat)
        return tree_unflatten(self.out_tree, outs)

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def _trace_rule(rule: Callable, ans: Any) -> Partial:
    from xtrace._src.staging import trace_to_jaxpr
    ans_leaves, ans_tree = tree_flatten(ans)
    avals = [ad.tangent_aval(core.get_aval(x)) for x in ans_leaves]
    box = []

    def flat_rule(*cts):
        out = rule(tree_unflatten(ans_tree, cts))
        out_leaves, out_tree = tree_flatten(out)
        box.append(out_tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_rule, avals, getattr(rule, "__name__", "vjp"))
    return Partial(_RuleCall(closed, box[0]), list(closed.consts))


# ---------------------------------------------------------------------------------------------
# Names (xtrace keeps no name stack: these only check their arguments and keep semantics)


def named_call(fun: Callable, *, name: str | None = None) -> Callable:
    """``fun`` under the name ``name`` for profiles and IR; xtrace calls it unchanged."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"named_call name must be a string, got {name!r}")

    @functools.wraps(fun)
    def named(*args, **kwargs):
        return fun(*args, **kwargs)

    if name is not None:
        named.__name__ = name
    return named


@contextlib.contextmanager
def named_scope(name: str) -> Iterator[None]:
    """A context naming the operations inside it (JAX's name stack); no effect on values."""
    if not isinstance(name, str):
        raise TypeError("named_scope name argument must be a string.")
    yield
