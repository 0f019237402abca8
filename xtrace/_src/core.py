"""The core: abstract values, primitives, the interpreter stack, tracers and the typed IR.

Modelled on Autodidax. ``Primitive.bind`` finds the innermost interpreter (trace) among its
arguments and asks it to process the primitive: the eval trace runs it on XLA, the staging
trace records it into a ``Jaxpr``; later transformations (jvp, transpose, batching) add traces.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import dtypes

# ---------------------------------------------------------------------------------------------
# Abstract values


class ShapedArray:
    """Shape, dtype and weak-type flag of an array: what tracing and type rules see."""

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, self.dtype, self.weak_type))

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other: Any) -> bool:
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return self._hash

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak(self) -> "ShapedArray":
        return self.update(weak_type=False) if self.weak_type else self

    def str_short(self) -> str:
        return f"{dtypes.SHORT_NAMES[self.dtype]}[{','.join(map(str, self.shape))}]"

    def __repr__(self) -> str:
        return f"ShapedArray({self.str_short()}{', weak_type=True' if self.weak_type else ''})"


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of an Array, tracer, NumPy value or Python scalar."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if dtypes.is_python_scalar(x):
        return ShapedArray((), dtypes.python_scalar_dtype(x), type(x) is not bool)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(np.shape(x), dtypes.canonicalize_dtype(x.dtype))
    raise TypeError(f"Value {x!r} of type {type(x).__name__} is not a valid xtrace type "
                    "(expected an xtrace Array, a NumPy array or a Python scalar)")


def is_concrete_value(x: Any) -> bool:
    return not isinstance(x, Tracer)


# ---------------------------------------------------------------------------------------------
# Primitives


class Primitive:
    """One primitive operation. Everything about it lives on this record:

    * ``abstract_eval(*avals, **params)``: shape/dtype rule, returns an aval (or a list);
    * ``lower(ctx, *operands, **params)``: StableHLO lowering (see ``lowering.py``);
    * ``jvp``, ``transpose``, ``batch``: rules added by the transformation issues.
    """

    def __init__(self, name: str, *, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.abstract_eval: Callable | None = None
        self.lower: Callable | None = None
        self.jvp: Callable | None = None
        self.transpose: Callable | None = None
        self.batch: Callable | None = None
        self.impl: Callable = self._default_impl
        self.eager_cache: dict = {}  # avals -> compiled program, for parameterless eager calls
        # A collective (psum, all_gather, axis_index, ...) names axes in its ``axes`` param; a
        # batching trace calls its rule even when no operand is batched along its own axis.
        self.collective = False
        # A primitive with side effects (host callbacks) is never removed as dead code.
        self.effectful = False

    def __repr__(self) -> str:
        return self.name

    def _default_impl(self, *args, **params):
        return _apply_primitive(self, args, params)

    def bind(self, *args, **params):
        state = _state
        if state.axis_env and named_axis_trace is not None:
            # Inside vmap(axis_name=...): a collective (or a call whose Jaxpr holds one) goes to
            # that vmap's interpreter even without batched operands (``axis_index('i')``).
            top = named_axis_trace(self, args, params)
            if top is not None:
                outs = top.process_primitive(self, [top.full_raise(a) for a in args], params)
                if self.multiple_results:
                    return [full_lower(o) for o in outs]
                return full_lower(outs)
        if state.dynamic_level == 0:
            for a in args:
                if isinstance(a, Tracer):
                    break
            else:
                return self.impl(*args, **params)
        top = find_top_trace(args)
        tracers = [top.full_raise(a) for a in args]
        outs = top.process_primitive(self, tracers, params)
        if self.multiple_results:
            return [full_lower(o) for o in outs]
        return full_lower(outs)


primitives: dict[str, Primitive] = {}
# Set by batching.py: (prim, args, params) -> the vmap trace that must see this bind, or None.
named_axis_trace: Callable | None = None


def _apply_primitive(prim, args, params):
    """Eager execution of one primitive; replaced by dispatch.apply_primitive on import."""
    from xtrace._src import dispatch
    return dispatch.apply_primitive(prim, args, params)


def register(prim: Primitive) -> Primitive:
    if prim.name in primitives:
        raise ValueError(f"primitive {prim.name!r} registered twice")
    primitives[prim.name] = prim
    return prim


# ---------------------------------------------------------------------------------------------
# Interpreter stack


class MainTrace:
    """One entry of the interpreter stack: a trace type, its level and its shared data."""

    __slots__ = ("level", "trace_type", "global_data")

    def __init__(self, level: int, trace_type: type, global_data: Any):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[MainTrace] = [MainTrace(0, EvalTrace, None)]
        self.dynamic: MainTrace = self.stack[0]
        self.dynamic_level = 0
        self.axis_env: list[tuple[Any, int]] = []  # named axes (vmap/pmap) in scope: (name, size)


class new_main:
    """Context manager pushing a new interpreter (optionally the dynamic, always-on one)."""

    def __init__(self, trace_type: type, global_data: Any = None, dynamic: bool = False):
        self.trace_type, self.global_data, self.dynamic = trace_type, global_data, dynamic

    def __enter__(self) -> MainTrace:
        st = _state
        self.main = MainTrace(len(st.stack), self.trace_type, self.global_data)
        st.stack.append(self.main)
        if self.dynamic:
            self.prev = st.dynamic
            st.dynamic = self.main
            st.dynamic_level = self.main.level
        return self.main

    def __exit__(self, *exc) -> None:
        st = _state
        st.stack.pop()
        if self.dynamic:
            st.dynamic = self.prev
            st.dynamic_level = self.prev.level


class extend_axis_env:
    """Context manager putting a named axis of ``size`` in scope (vmap's and pmap's
    ``axis_name``), so collectives staged inside can find its size."""

    def __init__(self, name: Any, size: int):
        self.frame = (name, int(size))

    def __enter__(self) -> None:
        _state.axis_env.append(self.frame)

    def __exit__(self, *exc) -> None:
        _state.axis_env.pop()


def axis_size(name: Any) -> int:
    """The size of the innermost named axis ``name`` in scope, or a NameError naming those
    that are."""
    for n, size in reversed(_state.axis_env):
        if n == name:
            return size
    names = ", ".join(repr(n) for n, _ in _state.axis_env) or "none"
    raise NameError(f"unbound axis name: {name!r}. Collectives such as lax.psum need an "
                    f"enclosing vmap or pmap with axis_name={name!r}; axis names in scope: "
                    f"{names}")


class Trace:
    """An interpreter: turns primitive applications on its tracers into something."""

    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val: Any) -> "Tracer":
        raise NotImplementedError

    lift = pure

    def full_raise(self, val: Any) -> Any:
        if not isinstance(val, Tracer):
            return self.pure(val)
        level = self.main.level
        if val._trace.main is self.main:
            return val
        if val._trace.main.level < level:
            return self.lift(val)
        raise Exception(f"Can't lift a tracer of level {val._trace.main.level} to {level}: "
                        "a value from an inner transformation leaked out of it.")

    def process_primitive(self, prim: Primitive, tracers: list, params: dict):
        raise NotImplementedError


class EvalTrace(Trace):
    """The bottom of the stack: run primitives eagerly on XLA."""

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, prim, args, params):
        return prim.impl(*args, **params)


def find_top_trace(args: Sequence[Any]) -> Trace:
    st = _state
    top = st.dynamic
    for a in args:
        if isinstance(a, Tracer):
            main = a._trace.main
            if main.level >= len(st.stack) or st.stack[main.level] is not main:
                raise UnexpectedTracerError(a)
            if main.level > top.level:
                top = main
    return top.trace_type(top)


def full_lower(x: Any) -> Any:
    return x.full_lower() if isinstance(x, Tracer) else x


def concrete(x: Any) -> Any:
    """``x`` itself if not a tracer, else its concrete value or None."""
    return x.to_concrete() if isinstance(x, Tracer) else x


def strip_dead_tracers(x: Any) -> Any:
    """Values computed inside a transformation that has finished, as ordinary values."""
    while isinstance(x, Tracer) and x._trace.main.level >= len(_state.stack):
        inner = x.escape()
        if inner is x:
            break
        x = inner
    return x


_state = _State()


# ---------------------------------------------------------------------------------------------
# Tracers


class Tracer:
    """A value flowing through a trace; has an aval and Array's operator surface."""

    __array_priority__ = 1000
    __slots__ = ("_trace", "__weakref__")

    aval: ShapedArray

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def full_lower(self) -> Any:
        return self

    def escape(self) -> Any:
        """What this tracer stands for once its trace is gone (the primal of a JVP tracer,
        a known value); ``self`` if nothing."""
        return self

    def to_concrete(self) -> Any:
        """The concrete value behind this tracer if it has one (e.g. the primal of a JVP
        tracer outside jit), else None."""
        return None

    def _concrete_or_raise(self, what: str):
        val = self.to_concrete()
        if val is None:
            raise _CONVERSION_ERRORS.get(what, ConcretizationTypeError)(self, what)
        return val

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return bool(self._concrete_or_raise("bool"))

    def __int__(self):
        return int(self._concrete_or_raise("int"))

    def __float__(self):
        return float(self._concrete_or_raise("float"))

    def __complex__(self):
        return complex(self._concrete_or_raise("complex"))

    def __index__(self):
        return self._concrete_or_raise("index").__index__()

    def __array__(self, *args, **kwargs):
        return self._concrete_or_raise("numpy").__array__(*args, **kwargs)

    def item(self):
        return self._concrete_or_raise("item").item()

    def tolist(self):
        return self._concrete_or_raise("tolist").tolist()

    def __hash__(self):
        raise TypeError(f"unhashable type: traced array {self.aval.str_short()}")

    def __repr__(self) -> str:
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"


class ConcretizationTypeError(TypeError):
    """A traced value was used where Python needs a concrete one (``if``, ``int()``, ...);
    JAX's ``jax.errors.ConcretizationTypeError`` (also named ``ConcretizationError`` here)."""

    def __init__(self, tracer: Tracer, what: str):
        import traceback
        where = ""
        for fr in reversed(traceback.extract_stack()[:-2]):
            if "/xtrace/_src/" not in fr.filename.replace("\\", "/"):
                where = f" at {fr.filename}:{fr.lineno} (in {fr.name})"
                break
        fn = getattr(tracer._trace.main.global_data, "fn_name", None)
        inside = f" while tracing `{fn}`" if fn else ""
        conv = {"bool": "a Python bool (an `if`, `while`, `and`/`or` or `bool()`)",
                "int": "a Python int (`int()`)", "float": "a Python float (`float()`)",
                "complex": "a Python complex", "index": "a Python index (`range`, slicing)",
                "numpy": "a NumPy array", "item": "a Python scalar (`.item()`)",
                "tolist": "a Python list (`.tolist()`)"}[what]
        super().__init__(
            f"Cannot convert a traced array {tracer.aval.str_short()} to {conv}{where}{inside}. "
            "Inside jit (and other transformations) array values are not known while the "
            "function is traced, only their shapes and dtypes. Use xtrace.lax.cond / "
            "xtrace.lax.while_loop or xtrace.numpy.where for value-dependent control flow, or "
            "mark the argument static with jit's static_argnums / static_argnames.")


ConcretizationError = ConcretizationTypeError


class TracerBoolConversionError(ConcretizationTypeError):
    """``bool()`` (an ``if``, ``while``, ``and``/``or``) of a traced value."""


class TracerIntegerConversionError(ConcretizationTypeError):
    """``__index__`` (``range``, list indexing, slicing) of a traced value."""


class TracerArrayConversionError(ConcretizationTypeError):
    """``numpy.asarray`` (``__array__``) of a traced value."""


_CONVERSION_ERRORS = {"bool": TracerBoolConversionError, "index": TracerIntegerConversionError,
                      "numpy": TracerArrayConversionError}


class UnexpectedTracerError(TypeError):
    """A traced value used after its transformation finished (it leaked out of the function,
    e.g. stored in a global or a list)."""

    def __init__(self, tracer: "Tracer"):
        super().__init__(
            "Encountered an unexpected tracer. A function transformed by xtrace had a side "
            f"effect, allowing for a reference to an intermediate value with type "
            f"{tracer.aval.str_short()} wrapped in a {type(tracer).__name__} to escape the scope "
            "of the transformation. Transformations require that functions explicitly return "
            "their outputs, and disallow saving intermediate values to global state.")


# ---------------------------------------------------------------------------------------------
# The IR: Var, Literal, JaxprEqn, Jaxpr, ClosedJaxpr


class Var:
    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(Var._counter)

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Literal:
    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self) -> str:
        v = self.val
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            v = v.item()
        return f"{v}:{self.aval.str_short()}"


Atom = "Var | Literal"


class JaxprEqn:
    __slots__ = ("primitive", "inputs", "outputs", "params")

    def __init__(self, primitive: Primitive, inputs: list, outputs: list, params: dict):
        self.primitive, self.inputs, self.outputs, self.params = primitive, inputs, outputs, params


class Jaxpr:
    """A typed program: input variables, equations in order, output atoms."""

    def __init__(self, constvars: list[Var], invars: list[Var], eqns: list[JaxprEqn],
                 outvars: list):
        self.constvars, self.invars, self.eqns, self.outvars = constvars, invars, eqns, outvars

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A Jaxpr with values for its constant variables."""

    def __init__(self, jaxpr: Jaxpr, consts: list):
        self.jaxpr, self.consts = jaxpr, list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __str__(self) -> str:
        return pp_jaxpr(self.jaxpr)

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:  # IPython
        p.text(str(self))


def _var_names():
    for n in itertools.count():
        s, n2 = "", n
        while True:
            s = chr(ord("a") + n2 % 26) + s
            n2 = n2 // 26 - 1
            if n2 < 0:
                break
        yield s


def pp_jaxpr(jaxpr: Jaxpr, indent: int = 0) -> str:
    names: dict[Var, str] = {}
    gen = _var_names()

    def name(v) -> str:
        if isinstance(v, Literal):
            return repr(v)
        if v not in names:
            names[v] = next(gen)
        return names[v]

    def decl(v) -> str:
        return f"{name(v)}:{v.aval.str_short()}"

    pad = " " * indent
    consts = " ".join(decl(v) for v in jaxpr.constvars)
    ins = " ".join(decl(v) for v in jaxpr.invars)
    lines = [f"{{ lambda {consts}; {ins}. let"]
    for eqn in jaxpr.eqns:
        lhs = " ".join(decl(v) for v in eqn.outputs)
        params = _pp_params(eqn.params, indent + 4)
        rhs = " ".join(name(v) for v in eqn.inputs)
        lines.append(f"    {lhs} = {eqn.primitive.name}{params} {rhs}".rstrip())
    outs = ", ".join(name(v) for v in jaxpr.outvars)
    lines.append(f"  in ({outs}{',' if len(jaxpr.outvars) == 1 else ''}) }}")
    return ("\n" + pad).join(lines)


def _pp_params(params: dict, indent: int) -> str:
    if not params:
        return ""
    parts = []
    for k, v in params.items():
        if isinstance(v, ClosedJaxpr):
            v = "\n" + " " * (indent + 2) + pp_jaxpr(v.jaxpr, indent + 2)
        elif isinstance(v, tuple) and v and all(isinstance(x, ClosedJaxpr) for x in v):
            v = "(" + "".join("\n" + " " * (indent + 2) + pp_jaxpr(x.jaxpr, indent + 2)
                              for x in v) + ")"
        elif isinstance(v, np.dtype):
            v = dtypes.SHORT_NAMES.get(v, str(v))
        parts.append(f"{k}={v}")
    return "[" + " ".join(parts) + "]"
