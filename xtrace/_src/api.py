"""Public transformation API: jvp, linearize, vjp, grad, value_and_grad, jacfwd, jacrev, hessian
and vmap.

Everything here is pytree plumbing around ``ad.jvp_flat``, ``partial_eval`` and
``ad.backward_pass``.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import ad, core, dtypes
from xtrace._src.ad import UndefinedPrimal, Zero
from xtrace._src.core import ShapedArray, get_aval
from xtrace._src.partial_eval import PartialVal, partial_eval_flat
from xtrace._src.tree_util import (PyTreeDef, tree_flatten, tree_map, tree_structure,
                                   tree_unflatten)


def _as_array(x: Any):
    """Inputs to transformations: Python scalars and NumPy values become arrays."""
    if isinstance(x, core.Tracer) or hasattr(x, "aval"):
        return x
    import xtrace.numpy as xnp
    try:
        return xnp.asarray(x)
    except TypeError:
        raise TypeError(f"{type(x).__name__} {x!r:.60} is not a valid array input for "
                        "differentiation") from None


def _check_inexact(name: str, aval, what: str, allow_int: bool = False) -> None:
    if not dtypes.is_inexact(aval.dtype) and not allow_int:
        raise TypeError(
            f"{name} requires real- or complex-valued inputs (input dtype that is a sub-dtype of "
            f"np.inexact), but got {aval.dtype.name} for {what}. If you want to use integer or "
            "boolean inputs, use allow_int=True (their gradient is a float0 zero).")


def _check_output(name: str, aval, holomorphic: bool) -> None:
    """Reverse-mode output dtype rule (JAX's): real floating outputs, complex ones with
    ``holomorphic=True``."""
    if holomorphic:
        if not dtypes.is_complex(aval.dtype):
            raise TypeError(f"{name} with holomorphic=True requires outputs with complex dtype, "
                            f"but got {aval.dtype.name}.")
    elif not dtypes.is_float(aval.dtype):
        how = ("For holomorphic differentiation, pass holomorphic=True. For differentiation of "
               "non-holomorphic functions involving complex outputs, use vjp directly."
               if dtypes.is_complex(aval.dtype) else
               "For differentiation of functions with integer outputs, use vjp directly.")
        raise TypeError(f"{name} requires real-valued outputs (output dtype that is a sub-dtype "
                        f"of np.floating), but got {aval.dtype.name}. {how}")


def _check_jacfwd_input(aval, holomorphic: bool) -> None:
    if holomorphic:
        if not dtypes.is_complex(aval.dtype):
            raise TypeError("jacfwd with holomorphic=True requires inputs with complex dtype, "
                            f"but got {aval.dtype.name}.")
    elif not dtypes.is_float(aval.dtype):
        raise TypeError(
            "jacfwd requires real-valued inputs (input dtype that is a sub-dtype of np.floating)"
            f", but got {aval.dtype.name}. For holomorphic differentiation, pass "
            "holomorphic=True. For differentiation of non-holomorphic functions involving "
            "complex inputs or integer inputs, use jvp directly.")


def float0_zeros(aval) -> np.ndarray:
    return np.zeros(aval.shape, dtype=ad.float0)


def _materialize(t: Any, primal: Any):
    if isinstance(t, Zero):
        aval = get_aval(primal)
        if not dtypes.is_inexact(aval.dtype):
            return float0_zeros(aval)
        return ad.zeros_like_aval(ad.tangent_aval(aval))
    return t


def _tangent_in(t: Any, p: Any):
    aval = get_aval(p)
    if not dtypes.is_inexact(aval.dtype):
        if np.dtype(getattr(t, "dtype", None) or np.asarray(t).dtype) != ad.float0:
            raise TypeError(
                "primal and tangent arguments to jvp do not match; dtypes must be equal, or in "
                "case of int/bool primal dtype the tangent dtype must be float0. Got primal "
                f"dtype {aval.dtype.name} and so expected tangent dtype float0, but got tangent "
                f"dtype {np.asarray(t).dtype.name} instead.")
        return Zero(ad.tangent_aval(aval))  # integer/bool tangents (float0) carry nothing
    t = _as_array(t)
    ta = get_aval(t)
    if ta.dtype != aval.dtype:
        raise TypeError("primal and tangent arguments to jvp do not match; dtypes must be equal, "
                        "or in case of int/bool primal dtype the tangent dtype must be float0. "
                        f"Got primal dtype {aval.dtype.name} and so expected tangent dtype "
                        f"{aval.dtype.name}, but got tangent dtype {ta.dtype.name} instead.")
    if ta.shape != aval.shape:
        raise ValueError("jvp called with different primal and tangent shapes; got primal "
                         f"shape {aval.shape} and tangent shape {ta.shape}")
    return t


# ---------------------------------------------------------------------------------------------


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
    """Forward mode: ``(fun(*primals), d fun(primals)[tangents])`` for pytrees of arrays."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    p_flat, in_tree = tree_flatten(tuple(primals))
    t_flat, t_tree = tree_flatten(tuple(tangents))
    if in_tree != t_tree:
        raise TypeError(f"jvp: primal and tangent trees differ: {in_tree} vs {t_tree}")
    p_flat = [_as_array(p) for p in p_flat]
    t_flat = [_tangent_in(t, p) for t, p in zip(t_flat, p_flat)]
    out_tree_box: list[PyTreeDef] = []

    def flat_fun(*args):
        out = fun(*tree_unflatten(in_tree, args))
        if has_aux:
            out, aux = _split_aux(out, "jvp")
            out_tree_box.append(aux)
        leaves, tree = tree_flatten(out)
        out_tree_box.insert(0, tree)
        return leaves

    p_out, t_out = ad.jvp_flat(flat_fun, p_flat, t_flat)
    tree = out_tree_box[0]
    t_out = [_materialize(t, p) for t, p in zip(t_out, p_out)]
    res = (tree_unflatten(tree, p_out), tree_unflatten(tree, t_out))
    if has_aux:
        return res + (_lower_tree(out_tree_box[1]),)
    return res


def _split_aux(out: Any, name: str):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{name} with has_aux=True requires the function to return a pair "
                        f"(output, aux), got {type(out).__name__}")
    return out[0], out[1]


def _lower_tree(tree: Any) -> Any:
    return tree_map(lambda x: core.strip_dead_tracers(core.full_lower(x)), tree)


def _linearize_flat(fun: Callable, primals: list[Any]):
    """Returns ``(primals_out, linear ClosedJaxpr over the tangents)``."""
    n = len(primals)

    def f_jvp(*args):
        p_out, t_out = ad.jvp_flat(fun, args[:n], args[n:])
        return list(p_out) + [ad.instantiate(t) for t in t_out]

    pvals_in = ([PartialVal.known(p) for p in primals]
                + [PartialVal.unknown(ad.tangent_aval(get_aval(p))) for p in primals])
    jaxpr, pvals_out = partial_eval_flat(
        f_jvp, pvals_in, lambda n_out: [False] * (n_out // 2) + [True] * (n_out // 2))
    m = len(pvals_out) // 2
    if not all(pv.is_known for pv in pvals_out[:m]):
        raise RuntimeError("linearize: a primal output depends on tangents (a JVP rule bug)")
    return [pv.const for pv in pvals_out[:m]], jaxpr


def _linearize_tree(fun: Callable, primals: tuple, has_aux: bool, name: str):
    """Pytree version of ``_linearize_flat``: returns the flat primals, their tree, the flat
    primal outputs, the linear Jaxpr, the output tree and the aux box."""
    p_flat, in_tree = tree_flatten(primals)
    p_flat = [_as_array(p) for p in p_flat]
    out_tree_box: list[Any] = []
    aux_box: list[Any] = []

    def flat_fun(*args):
        out = fun(*tree_unflatten(in_tree, args))
        if has_aux:
            out, aux = _split_aux(out, name)
            aux_box.append(aux)
        leaves, tree = tree_flatten(out)
        out_tree_box.append(tree)
        return leaves

    p_out, jaxpr = _linearize_flat(flat_fun, p_flat)
    return p_flat, in_tree, p_out, jaxpr, out_tree_box[0], aux_box


def linearize(fun: Callable, *primals: Any, has_aux: bool = False):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the linearized function
    (the primal computation is done once, here)."""
    p_flat, in_tree, p_out, jaxpr, out_tree, aux_box = _linearize_tree(fun, primals, has_aux,
                                                                     "linearize")

    def f_jvp(*tangents):
        t_flat, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise TypeError(f"linearized function expected tangents with structure {in_tree}, "
                            f"got {t_tree}")
        t_flat = [ad.instantiate(_tangent_in(t, p)) for t, p in zip(t_flat, p_flat)]
        from xtrace._src.staging import eval_jaxpr
        outs = eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, t_flat)
        return tree_unflatten(out_tree, outs)

    res = (tree_unflatten(out_tree, p_out), f_jvp)
    if has_aux:
        return res + (_lower_tree(aux_box[0]),)
    return res


def vjp(fun: Callable, *primals: Any, has_aux: bool = False):
    """``(fun(*primals), f_vjp)`` where ``f_vjp(cotangent)`` returns one cotangent per primal."""
    p_flat, in_tree, p_out, jaxpr, out_tree, aux_box = _linearize_tree(fun, primals, has_aux,
                                                                     "vjp")
    out_avals = [get_aval(p) for p in p_out]

    def f_vjp(ct):
        ct_flat, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise ValueError(f"unexpected tree structure of argument to vjp function: got "
                             f"{ct_tree}, but expected to match {out_tree}")
        cts = []
        for c, a in zip(ct_flat, out_avals):
            if getattr(c, "dtype", None) == ad.float0:  # the cotangent of an int/bool output
                c = Zero(ad.tangent_aval(a))
            c = _as_array(c) if not isinstance(c, Zero) else c
            if not isinstance(c, Zero):
                ca = get_aval(c)
                ta = ad.tangent_aval(a)
                if ca.shape != a.shape or (ca.dtype != ta.dtype and ca.dtype != ad.float0):
                    raise ValueError(
                        "unexpected type (shape/dtype) for argument to vjp function: got "
                        f"{ca.str_short()}, but expected {ta.str_short()} because the "
                        f"corresponding output of the function had type {a.str_short()}")
            cts.append(c)
        args = [UndefinedPrimal(v.aval) for v in jaxpr.jaxpr.invars]
        cts_in = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, args, cts)
        cts_in = [_weak_like(_materialize(c, p), p) for c, p in zip(cts_in, p_flat)]
        return tree_unflatten(in_tree, cts_in)

    res = (tree_unflatten(out_tree, p_out), f_vjp)
    if has_aux:
        return res + (_lower_tree(aux_box[0]),)
    return res


def _weak_like(ct: Any, primal: Any) -> Any:
    """A cotangent is weakly typed exactly when its primal is (JAX: ``grad(f)(2.0)`` is
    weak)."""
    from xtrace._src.prims.elementwise import convert_element_type
    if np.dtype(ct.dtype) == ad.float0:
        return ct
    pa, ca = get_aval(primal), get_aval(ct)
    if ca.dtype != pa.dtype or ca.weak_type == pa.weak_type or not dtypes.is_float(pa.dtype):
        return ct
    return convert_element_type(ct, ca.dtype, weak_type=pa.weak_type)


def _argnums_tuple(argnums) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, int):
        return (argnums,), True
    return tuple(operator.index(a) for a in argnums), False


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """A function returning ``(fun(*args), gradient w.r.t. args[argnums])``."""
    nums, single = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def vg(*args, **kwargs):
        for i in nums:
            if not -len(args) <= i < len(args):
                raise TypeError(f"differentiating with respect to argnums={argnums} requires at "
                                f"least {max(nums) + 1} positional arguments, got {len(args)}")
        nums_n = tuple(i % len(args) for i in nums)
        diff_args = [args[i] for i in nums_n]
        for i, a in zip(nums_n, diff_args):
            for leaf in tree_flatten(a)[0]:
                aval = get_aval(_as_array(leaf))
                _check_inexact("grad", aval, f"argument {i}", allow_int)
                if holomorphic and not dtypes.is_complex(aval.dtype):
                    raise TypeError("grad with holomorphic=True requires complex inputs, got "
                                    f"{aval.dtype.name} for argument {i}")

        def f_partial(*dargs):
            full = list(args)
            for i, d in zip(nums_n, dargs):
                full[i] = d
            return fun(*full, **kwargs)

        if has_aux:
            ans, f_vjp, aux = vjp(f_partial, *diff_args, has_aux=True)
        else:
            ans, f_vjp = vjp(f_partial, *diff_args)
        leaves = tree_flatten(ans)[0]
        if len(leaves) != 1 or get_aval(leaves[0]).shape != ():
            shape = get_aval(leaves[0]).shape if len(leaves) == 1 else None
            raise TypeError("Gradient only defined for scalar-output functions. Output "
                            + (f"had shape: {shape}." if shape is not None else
                               f"was a pytree with {len(leaves)} leaves.")
                            + " Use jacrev/jacfwd or vjp for non-scalar outputs.")
        _check_output("grad", get_aval(leaves[0]), holomorphic)
        ct = _ones_like(leaves[0])
        grads = f_vjp(tree_unflatten(tree_structure(ans), [ct]))
        g = grads[0] if single else tuple(grads)
        if has_aux:
            return (ans, aux), g
        return ans, g

    return vg


def _ones_like(x):
    from xtrace._src import lax
    aval = get_aval(x)
    return lax.broadcast_in_dim(np.ones((), aval.dtype)[()], aval.shape, ())


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """The gradient of scalar-valued ``fun`` with respect to ``args[argnums]`` (reverse mode)."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def g(*args, **kwargs):
        if has_aux:
            (_, aux), gr = vg(*args, **kwargs)
            return gr, aux
        return vg(*args, **kwargs)[1]

    return g


# ---- Jacobians: one vmapped JVP (VJP) over a stacked basis of one-hot tangents ----


def _std_basis(leaves: list[Any]) -> list[Any]:
    """Per leaf, the rows of the identity over all scalar positions of ``leaves``: leaf ``i``
    gets shape ``(N,) + shape_i`` (N the total size), one-hot along the flattened positions."""
    sizes = [get_aval(x).size for x in leaves]
    total = sum(sizes)
    out, off = [], 0
    for x, n in zip(leaves, sizes):
        aval = get_aval(x)
        block = np.zeros((total, n), aval.dtype)
        block[np.arange(off, off + n), np.arange(n)] = 1
        out.append(block.reshape((total,) + aval.shape))
        off += n
    return out


def _jac_blocks(outs: list[Any], ins: list[Any], stacked: Callable[[int, int], Any],
                out_first: bool) -> list[list[Any]]:
    """Jacobian blocks ``[o][i]`` of shape ``o.shape + i.shape``; ``stacked(o, i)`` gives the
    rows (out_first=False: input positions along the last axis of ``o``'s shape; True: output
    positions along axis 0 of ``i``'s shape) for that pair."""
    import xtrace.numpy as xnp
    res = []
    for oi, o in enumerate(outs):
        oa = get_aval(o)
        row = []
        for ii, x in enumerate(ins):
            xa = get_aval(x)
            block = xnp.reshape(stacked(oi, ii), oa.shape + xa.shape)
            row.append(_cast_like(block, xa if out_first else oa))
        res.append(row)
    return res


def _cast_like(block: Any, example: ShapedArray) -> Any:
    """A Jacobian block in the dtype and weak type of its example (JAX: jacfwd's blocks follow
    the output leaf, jacrev's the input leaf; a complex block of a real example keeps its real
    part)."""
    from xtrace._src.prims.elementwise import convert_element_type, real
    ba = get_aval(block)
    if dtypes.is_complex(ba.dtype) and not dtypes.is_complex(example.dtype):
        block = real(block)
        ba = get_aval(block)
    if ba.dtype == example.dtype and ba.weak_type == example.weak_type:
        return block
    return convert_element_type(block, example.dtype, weak_type=example.weak_type)


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """Jacobian by forward mode: output shape is ``out.shape + in.shape``."""
    nums, single = _argnums_tuple(argnums)

    def jac(*args):
        diff = [_as_array_tree(args[i]) for i in nums]
        d_leaves, d_tree = tree_flatten(tuple(diff))
        for x in d_leaves:
            _check_jacfwd_input(get_aval(x), holomorphic)

        def f_flat(*leaves):
            full = list(args)
            for i, d in zip(nums, tree_unflatten(d_tree, leaves)):
                full[i] = d
            return fun(*full)

        def pushfwd(*basis):
            res = jvp(f_flat, tuple(d_leaves), tuple(basis), has_aux=has_aux)
            return res if has_aux else res + (None,)

        basis = _std_basis(d_leaves)
        sizes = [get_aval(x).size for x in d_leaves]
        total = sum(sizes)
        out_p, tangents, aux = vmap(pushfwd, out_axes=(None, -1, None),
                                    axis_size=total)(*basis)
        out_leaves, out_tree = tree_flatten(out_p)
        if holomorphic:
            for o in out_leaves:
                _check_output("jacfwd", get_aval(o), True)
        t_leaves = tree_flatten(tangents)[0]
        offs = np.cumsum([0] + sizes)

        def stacked(oi, ii):
            return t_leaves[oi][..., offs[ii]:offs[ii + 1]]

        blocks = _jac_blocks(out_leaves, d_leaves, stacked, False)
        per_out = [tree_unflatten(d_tree, row) for row in blocks]
        out = tree_unflatten(out_tree, [r[0] if single else r for r in per_out])
        return (out, aux) if has_aux else out

    return jac


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """Jacobian by reverse mode: output shape is ``out.shape + in.shape``."""
    nums, single = _argnums_tuple(argnums)

    def jac(*args):
        diff = tuple(_as_array_tree(args[i]) for i in nums)
        for leaf in tree_flatten(diff)[0]:
            aval = get_aval(leaf)
            _check_inexact("jacrev", aval, "an input", allow_int)
            if holomorphic and not dtypes.is_complex(aval.dtype):
                raise TypeError("jacrev with holomorphic=True requires inputs with complex "
                                f"dtype, but got {aval.dtype.name}.")

        def f_partial(*dargs):
            full = list(args)
            for i, d in zip(nums, dargs):
                full[i] = d
            return fun(*full)

        if has_aux:
            out, f_vjp, aux = vjp(f_partial, *diff, has_aux=True)
        else:
            out, f_vjp = vjp(f_partial, *diff)
        out_leaves, out_tree = tree_flatten(out)
        for o in out_leaves:
            _check_output("jacrev", get_aval(o), holomorphic)
        d_leaves, d_tree = tree_flatten(diff)
        sizes = [get_aval(o).size for o in out_leaves]
        basis = _std_basis(out_leaves)
        inexact = [dtypes.is_inexact(get_aval(x).dtype) for x in d_leaves]
        cts = vmap(lambda *b: [c for c, k in zip(tree_flatten(f_vjp(tree_unflatten(
            out_tree, b)))[0], inexact) if k], axis_size=sum(sizes))(*basis)
        cts_it = iter(cts)  # integer inputs (allow_int) get zero blocks of their own dtype
        cts = [next(cts_it) if k else np.zeros((sum(sizes),) + get_aval(x).shape,
                                                get_aval(x).dtype)
               for x, k in zip(d_leaves, inexact)]
        offs = np.cumsum([0] + sizes)

        def stacked(oi, ii):
            return cts[ii][offs[oi]:offs[oi + 1]]

        blocks = _jac_blocks(out_leaves, d_leaves, stacked, True)
        per_out = [tree_unflatten(d_tree, row) for row in blocks]
        res = tree_unflatten(out_tree, [r[0] if single else r for r in per_out])
        return (res, aux) if has_aux else res

    return jac


jacobian = jacrev  # JAX's alias


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable:
    """Hessian as forward-over-reverse: ``jacfwd(jacrev(fun))``."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)


def _as_array_tree(x: Any) -> Any:
    return tree_map(_as_array, x)


_ = (Zero, UndefinedPrimal)


# ---------------------------------------------------------------------------------------------
# vmap


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None, spmd_axis_name: Any = None) -> Callable:
    """Vectorize ``fun`` over a batch axis (JAX's ``vmap``).

    ``in_axes``: an int, None, or a tuple with one entry per positional argument, each entry a
    pytree prefix of its argument (a dict of axes for a dict argument); None leaves an argument
    unmapped. Keyword arguments are mapped along axis 0. ``out_axes`` is likewise a prefix of
    the output. ``axis_name`` names the axis for collectives (``lax.psum`` ...); ``axis_size``
    gives the batch size when no argument is mapped. ``spmd_axis_name`` (a mesh axis to shard
    the batch over, in JAX) is accepted and has no effect: arrays here are not sharded.
    """
    from xtrace._src import batching
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_axes_spec(in_axes, "in_axes")
    _check_axes_spec(out_axes, "out_axes")
    if not callable(fun):
        raise TypeError(f"vmap requires a callable, got {fun!r}")

    @functools.wraps(fun)
    def batched(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                "vmap in_axes must be an int, None, or a tuple of entries corresponding to the "
                f"positional arguments passed to the function, but got len(in_axes)="
                f"{len(in_axes)}, len(args)={len(args)}")
        specs = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        names = _arg_names(fun, len(args))
        leaves, dims, where = [], [], []
        for i, (a, spec) in enumerate(zip(args, specs)):
            _spread_axes(spec, a, f"in_axes[{i}]" if isinstance(in_axes, tuple) else "in_axes",
                         names[i], leaves, dims, where)
        for k in sorted(kwargs):
            _spread_axes(0, kwargs[k], "kwargs", k, leaves, dims, where)
        vals, size = [], None
        sizes = []
        for x, d, w in zip(leaves, dims, where):
            if d is None:
                vals.append(x)
                continue
            x = _as_array(x)
            vals.append(x)
            sizes.append(_mapped_axis("vmap", get_aval(x), d, w))
        dims = [None if d is None else d % get_aval(v).ndim for v, d in zip(vals, dims)]
        if not sizes and axis_size is None and not leaves and not args and not kwargs:
            raise ValueError("vmap wrapped function must be passed at least one argument "
                             "containing an array, got empty *args=() and **kwargs={}")
        size = _common_size("vmap", sizes, axis_size)
        arg_trees = [tree_structure(a) for a in args]
        kw_trees = {k: tree_structure(kwargs[k]) for k in sorted(kwargs)}
        out_tree_box: list[PyTreeDef] = []

        def flat_fun(*flat):
            it = iter(flat)
            a = [tree_unflatten(t, [next(it) for _ in range(t.num_leaves)]) for t in arg_trees]
            kw = {k: tree_unflatten(t, [next(it) for _ in range(t.num_leaves)])
                  for k, t in kw_trees.items()}
            out = fun(*a, **kw)
            out_leaves, tree = tree_flatten(out)
            out_tree_box.append(tree)
            out_dims_box.extend(_out_dims(out_axes, out))
            return out_leaves

        out_dims_box: list[Any] = []
        outs = batching.batch_flat(flat_fun, batching.AxisData(size, axis_name), vals, dims,
                                   lambda: out_dims_box)
        return tree_unflatten(out_tree_box[0], outs)

    return batched


def _mapped_axis(who: str, a: ShapedArray, d: int, where: str) -> tuple[str, ShapedArray, int]:
    """(where, aval, axis) of an argument mapped along ``d``, checked against its rank."""
    if not -a.ndim <= d < a.ndim:
        raise ValueError(
            f"{who} was requested to map its argument along axis {d}, which implies that its "
            f"rank should be at least {d + 1 if d >= 0 else -d}, but is only {a.ndim} (its "
            f"shape is {a.shape}), for argument {where}")
    return where, a, d % a.ndim


def _common_size(who: str, sizes: list, axis_size: int | None) -> int:
    """The one size of every mapped axis (and ``axis_size``); errors name each argument."""
    distinct = {a.shape[d] for _, a, d in sizes}
    if axis_size is not None:
        distinct.add(int(axis_size))
    if len(distinct) > 1:
        lines = [f"  * argument {w} of type {a.str_short()} has size {a.shape[d]} along axis "
                 f"{d}" for w, a, d in sizes]
        if axis_size is not None:
            lines.append(f"  * axis_size={axis_size}")
        raise ValueError(f"{who} got inconsistent sizes for array axes to be mapped:\n"
                         + "\n".join(lines))
    if not distinct:
        raise ValueError(f"{who} must have at least one non-None value in in_axes (or be "
                         "given axis_size)")
    return distinct.pop()


def _check_axes_spec(spec: Any, what: str) -> None:
    bad = [x for x in tree_flatten(spec, is_leaf=lambda x: x is None)[0]
           if x is not None and not isinstance(x, (int, np.integer)) or isinstance(x, bool)]
    if bad:
        raise TypeError(f"vmap {what} must be an int, None, or a (nested) container with those "
                        f"types as leaves, but got {spec!r}")


def _arg_names(fun: Callable, n: int) -> list[str]:
    import inspect
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY,
                                                  params[i].POSITIONAL_OR_KEYWORD):
            names.append(f"'{params[i].name}' (args[{i}])")
        else:
            names.append(f"args[{i}]")
    return names


def _spread_axes(spec: Any, tree: Any, spec_name: str, name: str, leaves: list, dims: list,
                 where: list) -> None:
    """Append the leaves of ``tree`` with the axis the prefix ``spec`` gives each."""
    from xtrace._src.jit import _leaf_paths
    from xtrace._src.tree_util import flatten_up_to
    spec_leaves, spec_tree = tree_flatten(spec, is_leaf=lambda x: x is None)
    try:
        subtrees = flatten_up_to(spec_tree, tree)
    except ValueError as e:
        raise ValueError(f"vmap {spec_name} specification must be a tree prefix of the "
                         f"corresponding value, got specification {spec!r} for value tree "
                         f"{tree_structure(tree)} of argument {name} ({e})") from None
    for s, sub in zip(spec_leaves, subtrees):
        sub_leaves = tree_flatten(sub)[0]
        paths = _leaf_paths(sub)
        for x, p in zip(sub_leaves, paths):
            leaves.append(x)
            dims.append(None if s is None else int(s))
            where.append(name + p if len(sub_leaves) > 1 or p else name)


def _out_dims(spec: Any, out: Any) -> list[Any]:
    spec_leaves, spec_tree = tree_flatten(spec, is_leaf=lambda x: x is None)
    from xtrace._src.tree_util import flatten_up_to
    try:
        subtrees = flatten_up_to(spec_tree, out)
    except ValueError as e:
        raise ValueError(f"vmap out_axes specification must be a tree prefix of the function's "
                         f"output, got specification {spec!r} for output tree "
                         f"{tree_structure(out)} ({e})") from None
    dims = []
    for s, sub in zip(spec_leaves, subtrees):
        dims += [None if s is None else int(s)] * tree_structure(sub).num_leaves
    return dims
