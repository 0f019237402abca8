"""pmap: one compiled program replicated over devices, talking through collectives.

``pmap(f)`` traces ``f`` for ONE shard (the mapped axis removed) into a Jaxpr and binds the
``pmap`` primitive on the whole arrays. Its eager rule lowers the Jaxpr once as a replicated
StableHLO module (``mhlo.num_replicas`` = number of devices; collectives get replica groups
from the axis environment), compiles it with a device assignment over the chosen devices and
runs it with one ``execute_sharded`` call that feeds each device its shard. Results come back
as ``Array``s split over the devices (``Array.sharded``): a following pmap takes the pieces
where they are; anything else gathers them once.

As a primitive holding a Jaxpr, pmap composes like control flow does: a JVP rule (the JVP of
the shard function, pmapped), a partial-evaluation rule (known and unknown halves, residuals
kept per device) and a transpose rule (the transposed shard function; cotangents of arguments
every device shares are summed over devices with psum), so ``grad(pmap(f))`` works, and
``pmap(grad(f))`` is plain tracing.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable, Sequence

import numpy as np

from xtrace._src import ad, backend, core, dtypes, lowering
from xtrace._src import jaxpr_util as ju
from xtrace._src.array import Array, Shards
from xtrace._src.core import ClosedJaxpr, ShapedArray, get_aval
from xtrace._src.staging import trace_to_jaxpr
from xtrace._src.tree_util import tree_flatten, tree_structure, tree_unflatten

pmap_p = core.register(core.Primitive("pmap", multiple_results=True))


def _shard_aval(aval: ShapedArray, axis: int | None) -> ShapedArray:
    if axis is None:
        return aval
    return aval.update(shape=aval.shape[:axis] + aval.shape[axis + 1:])


def _global_aval(aval: ShapedArray, axis: int | None, size: int) -> ShapedArray:
    if axis is None:
        return aval
    return aval.update(shape=aval.shape[:axis] + (size,) + aval.shape[axis:])


def _pmap_abstract(*avals, jaxpr, axis_name, axis_size, local_axis_size, in_axes, out_axes,
                   devices, name, donated):
    # axis_size: the whole mapped axis (collectives see it); local_axis_size: this process's
    # part of it, what its arrays hold (the same unless several processes share the axis).
    for a, ax, v in zip(avals, in_axes, jaxpr.in_avals):
        if ax is not None and a.shape[ax] != local_axis_size:
            raise ValueError(f"pmap: mapped axis {ax} of an argument of type {a.str_short()} "
                             f"has size {a.shape[ax]}, expected {local_axis_size}")
    return [_global_aval(a, ax, local_axis_size) for a, ax in zip(jaxpr.out_avals, out_axes)]


def _pmap_lower(ctx, *args, **params):
    raise NotImplementedError(
        "pmap inside jit is not supported: a pmapped function is already compiled, call it "
        "outside jit (jit inside the pmapped function is fine)")


pmap_p.abstract_eval = _pmap_abstract
pmap_p.lower = _pmap_lower


# ---------------------------------------------------------------------------------------------
# Eager execution


@functools.lru_cache(maxsize=256)
def _compiled(jaxpr: ClosedJaxpr, axis_name: Any, devices: tuple, name: str, donated: tuple):
    """The executable, and a fingerprint of the program (text and devices) that processes
    compare before they first run it together."""
    n = len(devices)
    text = lowering.lower_module(jaxpr, name, donated=donated, axis_env=[(axis_name, n)])
    fingerprint = hashlib.sha256(
        (text + repr([d.id for d in devices])).encode()).hexdigest()[:16]
    return backend.compile(text, devices, num_replicas=n), fingerprint


def _shards_of(x: Any, axis: int | None, devices: tuple, aval: ShapedArray) -> list:
    """One buffer per device: ``x``'s slice ``i`` along ``axis`` on device ``i`` (or all of
    ``x`` on every device when ``axis`` is None). Pieces already there are used as they are."""
    if isinstance(x, Array) and x._shards is not None and x._buf is None:
        sh = x._shards
        if axis is not None and sh.axis == axis and sh.devices == devices:
            return sh.buffers
    if isinstance(x, Array) and axis is None and x._shards is None:
        src = x.device
        val = None
        out = []
        for d in devices:
            if d == src:
                out.append(x.buffer)
            else:
                val = np.asarray(x) if val is None else val
                out.append(backend.to_device(val, d))
        return out
    val = np.asarray(x, dtype=aval.dtype) if not isinstance(x, Array) else np.asarray(x)
    if axis is None:
        return [backend.to_device(val, d) for d in devices]
    val = np.moveaxis(val, axis, 0)
    return [backend.to_device(np.ascontiguousarray(val[i]), d) for i, d in enumerate(devices)]


def _pmap_impl(*args, jaxpr, axis_name, axis_size, local_axis_size, in_axes, out_axes, devices,
               name, donated):
    devs = _devices_for(local_axis_size, devices)
    # With several processes, devs spans all of them and this process feeds and gets back
    # the buffers of its own devices only.
    local = _local(devs)
    exe, fingerprint = _compiled(jaxpr, axis_name, devs, name, donated)
    in_avals = [get_aval(a) for a in args]
    per_dev = [_shards_of(a, ax, local, av) for a, ax, av in zip(args, in_axes, in_avals)]
    if len(local) == len(devs):
        outs = backend.execute_replicated(exe, per_dev, jaxpr.in_avals, devs)
    else:  # collectives wait for other processes: fail, never hang, if one died
        from xtrace._src import distributed
        distributed.agree_on_program(fingerprint, (
            f"{name}({', '.join(a.str_short() for a in jaxpr.in_avals)}) per device, on "
            f"{len(devs)} devices"))

        def run():
            outs = backend.execute_replicated(exe, per_dev, jaxpr.in_avals, devs)
            for b in (b for bufs in outs for b in bufs):
                b.block_until_ready()
            return outs
        try:
            outs = distributed.wait_for(run)
        except backend.XlaRuntimeError as e:
            distributed.check_peers()
            distributed.mark_failed()
            raise distributed.DistributedError(
                f"pmap of {name} across processes failed ({distributed.describe()}); another "
                "process of the job has probably died (check its output). XLA said: "
                f"{str(e).strip()[:300]}") from None
    for a, d in zip(args, donated):
        if d and isinstance(a, Array):
            a.delete("donated to a pmapped function")
    results = []
    for bufs, aval, ax in zip(outs, jaxpr.out_avals, out_axes):
        if ax is None:  # the same on every device: keep the first device's copy
            dev = local[0]
            results.append(Array(bufs[0], aval, None if dev == backend.default_device() else dev))
        else:
            results.append(Array.sharded(Shards(bufs, local, ax, aval.shape),
                                         _global_aval(aval, ax, local_axis_size)))
    return results


def _local(devs: tuple) -> tuple:
    me = backend.process_index()
    return devs if devs[0].process_index == me == devs[-1].process_index else tuple(
        d for d in devs if d.process_index == me)


pmap_p.impl = _pmap_impl


def _devices_for(local_size: int, devices: tuple | None) -> tuple:
    """The devices a pmap runs on, in replica order, for a mapped axis of ``local_size`` in
    this process's arrays. With several processes (JAX's rule) every process maps its
    ``local_size`` over its first ``local_size`` local devices, and the program spans them
    all: process 0's devices, then process 1's, and so on."""
    if devices is not None:
        devices = tuple(devices)
        local = _local(devices)
        if len(local) != local_size:
            mine = (f", and {len(local)} of the devices belong to this process"
                    if len(local) != len(devices) else "")
            raise ValueError(f"pmap was given {len(devices)} devices but the mapped axis has "
                             f"size {local_size}{mine}; they must be equal")
        return devices
    b = backend.get_backend()
    if local_size > len(b.local_devices):
        n = len(b.local_devices)
        per = " in this process" if b.process_count > 1 else ""
        raise ValueError(
            f"pmap: the mapped axis has size {local_size} but only {n} device"
            f"{'s are' if n != 1 else ' is'} available{per} ({b.platform}). "
            "Use a leading axis of at most the local device count "
            "(xtrace.local_device_count()); for more CPU devices set XTRACE_NUM_CPU_DEVICES=N "
            "before xtrace starts.")
    if b.process_count == 1:
        return b.local_devices[:local_size]
    by_process: dict[int, list] = {}
    for d in b.devices:
        by_process.setdefault(d.process_index, []).append(d)
    out = []
    for p in sorted(by_process):
        if len(by_process[p]) < local_size:
            raise ValueError(f"pmap: the mapped axis has size {local_size} in every process, "
                             f"but process {p} has only {len(by_process[p])} devices")
        out += by_process[p][:local_size]
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Differentiation: JVP, partial evaluation, transpose


def _pmap_params(params: dict, **changes) -> dict:
    p = dict(params)
    p.update(changes)
    return p


def _pmap_jvp(primals, tangents, **params):
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    nz = [not isinstance(t, ad.Zero) for t in tangents]
    with core.extend_axis_env(params["axis_name"], params["axis_size"]):
        jvp_closed, out_nz = ju.jvp_jaxpr(jaxpr, nz, False)
    jvp_jaxpr, consts = ju.hoist(jvp_closed)
    ts = [t for t in tangents if not isinstance(t, ad.Zero)]
    t_axes = tuple(ax for ax, z in zip(in_axes, nz) if z)
    outs = pmap_p.bind(*consts, *primals, *ts, **_pmap_params(
        params, jaxpr=jvp_jaxpr, in_axes=(None,) * len(consts) + tuple(in_axes) + t_axes,
        out_axes=tuple(out_axes) + tuple(ax for ax, z in zip(out_axes, out_nz) if z),
        donated=(False,) * (len(consts) + len(primals) + len(ts))))
    n = len(out_axes)
    p_out, t_iter = outs[:n], iter(outs[n:])
    t_out = [next(t_iter) if z else ad.zero_of(p) for p, z in zip(p_out, out_nz)]
    return p_out, t_out


def _pmap_partial_eval(trace, tracers, **params):
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    uk = [not t.pval.is_known for t in tracers]
    with core.extend_axis_env(params["axis_name"], params["axis_size"]):
        pe = ju.partial_eval_jaxpr(jaxpr, uk, False)
    known, kconsts = ju.hoist(pe.known)
    n_kout = pe.out_unknowns.count(False)
    n_res = len(pe.res_avals)
    kvals = pmap_p.bind(*kconsts, *[t.pval.const for t, u in zip(tracers, uk) if not u],
                        **_pmap_params(params, jaxpr=known,
                                       in_axes=(None,) * len(kconsts) + tuple(
                                           ax for ax, u in zip(in_axes, uk) if not u),
                                       out_axes=tuple(ax for ax, u in zip(out_axes,
                                                                          pe.out_unknowns)
                                                      if not u) + (0,) * n_res,
                                       donated=(False,) * (len(kconsts) + uk.count(False))))
    k_out, res = kvals[:n_kout], kvals[n_kout:]
    uvals: list = []
    if any(pe.out_unknowns):
        ins = [trace.pure(r) for r in res] + [t for t, u in zip(tracers, uk) if u]
        uparams = _pmap_params(params, jaxpr=pe.unknown,
                               in_axes=(0,) * n_res + tuple(ax for ax, u in zip(in_axes, uk)
                                                            if u),
                               out_axes=tuple(ax for ax, u in zip(out_axes, pe.out_unknowns)
                                              if u),
                               donated=(False,) * (n_res + uk.count(True)))
        uvals = trace.default_process(pmap_p, ins, uparams)
    it_k, it_u = iter(k_out), iter(uvals)
    return [next(it_u) if u else trace.pure(next(it_k)) for u in pe.out_unknowns]


def _pmap_transpose(cts, *args, **params):
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    axis_name = params["axis_name"]
    lin = tuple(ad.is_undefined(x) for x in args)
    ct_nz = tuple(not isinstance(c, ad.Zero) for c in cts)
    lin_axes = [ax for ax, l in zip(in_axes, lin) if l]
    transposed, avals = ju.transpose_fun(jaxpr, lin, ct_nz)

    def tfun(*xs):
        from xtrace._src.prims.collectives import psum
        # an argument every device shares gets the sum of all devices' cotangents
        return [psum(o, axis_name) if ax is None else o
                for o, ax in zip(transposed(*xs), lin_axes)]

    with core.extend_axis_env(axis_name, params["axis_size"]):
        tclosed = trace_to_jaxpr(tfun, avals, "pmap_transpose")
    tjaxpr, consts = ju.hoist(tclosed)
    res = [x for x, l in zip(args, lin) if not l]
    res_axes = tuple(ax for ax, l in zip(in_axes, lin) if not l)
    ct_axes = tuple(ax for ax, z in zip(out_axes, ct_nz) if z)
    cts_in = [c for c in cts if not isinstance(c, ad.Zero)]
    outs = pmap_p.bind(*consts, *res, *cts_in, **_pmap_params(
        params, jaxpr=tjaxpr, in_axes=(None,) * len(consts) + res_axes + ct_axes,
        out_axes=tuple(lin_axes),
        donated=(False,) * (len(consts) + len(res) + len(cts_in))))
    it = iter(outs)
    return [next(it) if l else None for l in lin]


pmap_p.jvp = _pmap_jvp
pmap_p.partial_eval = _pmap_partial_eval
pmap_p.transpose = _pmap_transpose


def _pmap_batch(axis, vals, dims, **params):
    """vmap of pmap: per shard, the vmapped dimension leads; globally it sits right after the
    mapped axis (moved to 0) of mapped inputs and at 0 of shared ones."""
    from xtrace._src import batching
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    new_vals, new_in_axes = [], []
    for v, d, ax in zip(vals, dims, in_axes):
        if d is None:
            new_vals.append(v)
            new_in_axes.append(ax)
        elif ax is None:
            new_vals.append(batching.moveaxis(v, d, 0))
            new_in_axes.append(None)
        else:  # order (mapped, batch, rest...)
            nd = get_aval(v).ndim
            ax = batching.shift_axis(ax, d)
            rest = [i for i in range(nd) if i not in (ax, d)]
            from xtrace._src.prims.structural import transpose
            new_vals.append(transpose(v, [ax, d] + rest))
            new_in_axes.append(0)
    with core.extend_axis_env(params["axis_name"], params["axis_size"]):
        batched, out_b = batching.batch_jaxpr(jaxpr, axis, [d is not None for d in dims])
    bj, consts = ju.hoist(batched)
    new_out_axes = tuple(None if ax is None else (ax + 1 if b else ax)
                         for ax, b in zip(out_axes, out_b))
    outs = pmap_p.bind(*consts, *new_vals, **_pmap_params(
        params, jaxpr=bj, in_axes=(None,) * len(consts) + tuple(new_in_axes),
        out_axes=new_out_axes, donated=(False,) * (len(consts) + len(new_vals))))
    return outs, [0 if b else None for b in out_b]


pmap_p.batch = _pmap_batch


# ---------------------------------------------------------------------------------------------
# The public function


def pmap(fun: Callable, axis_name: Any = None, *, in_axes: Any = 0, out_axes: Any = 0,
         static_broadcasted_argnums: int | Sequence[int] = (), devices: Sequence | None = None,
         backend: str | None = None, axis_size: int | None = None,
         donate_argnums: int | Sequence[int] = ()) -> Callable:
    """Run ``fun`` in parallel on several devices, one slice of the mapped axis on each
    (JAX's ``pmap``). ``in_axes``/``out_axes`` are as in ``vmap`` (non-negative here means any
    axis; None broadcasts an argument to every device or returns one copy of an output that
    is the same everywhere); ``axis_name`` names the device axis for collectives
    (``lax.psum`` ...); ``static_broadcasted_argnums`` are passed as Python values;
    ``donate_argnums`` lets XLA reuse those arguments' memory (they are deleted)."""
    from xtrace._src import api
    if isinstance(static_broadcasted_argnums, int):
        static_broadcasted_argnums = (static_broadcasted_argnums,)
    if isinstance(donate_argnums, int):
        donate_argnums = (donate_argnums,)
    statics = tuple(int(i) for i in static_broadcasted_argnums)
    donate = tuple(int(i) for i in donate_argnums)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    api._check_axes_spec(in_axes, "in_axes")
    api._check_axes_spec(out_axes, "out_axes")
    devs = None if devices is None else tuple(devices)
    fname = getattr(fun, "__name__", "fun")
    cache: dict = {}

    @functools.wraps(fun)
    def mapped(*args, **kwargs):
        nargs = len(args)
        st = [i % nargs if nargs else i for i in statics]
        for i in st:
            if not 0 <= i < nargs:
                raise ValueError(f"pmap: static_broadcasted_argnums {statics} out of range for "
                                 f"{nargs} positional arguments")
        dyn_idx = [i for i in range(nargs) if i not in st]
        if isinstance(in_axes, tuple):
            if len(in_axes) != nargs:
                raise ValueError(
                    "pmap in_axes must be an int, None, or a tuple of entries corresponding to "
                    f"the positional arguments passed to the function, but got len(in_axes)="
                    f"{len(in_axes)}, len(args)={nargs}")
            specs = [in_axes[i] for i in dyn_idx]
        else:
            specs = [in_axes] * len(dyn_idx)
        names = api._arg_names(fun, nargs)
        leaves, dims, where, don = [], [], [], []
        for i, spec in zip(dyn_idx, specs):
            n0 = len(leaves)
            api._spread_axes(spec, args[i], "in_axes", names[i], leaves, dims, where)
            don += [i in donate] * (len(leaves) - n0)
        for k in sorted(kwargs):
            n0 = len(leaves)
            api._spread_axes(0, kwargs[k], "kwargs", k, leaves, dims, where)
            don += [False] * (len(leaves) - n0)
        vals, sizes = [], []
        for x, d, w in zip(leaves, dims, where):
            if isinstance(x, np.ndarray):  # stays on the host until split over the devices
                x = np.asarray(x, dtypes.canonicalize_dtype(x.dtype))
            else:
                x = api._as_array(x)
            if d is not None:
                sizes.append(api._mapped_axis("pmap", get_aval(x), d, w))
            vals.append(x)
        dims = [None if d is None else d % get_aval(v).ndim for v, d in zip(vals, dims)]
        n = api._common_size("pmap", sizes, axis_size)
        devs_now = _devices_for(n, devs)
        n_all = len(devs_now)  # the global axis: the same as n unless several processes
        static_vals = tuple(args[i] for i in st)
        shard_avals = tuple(_shard_aval(get_aval(v).strip_weak() if d is not None
                                        else get_aval(v), d) for v, d in zip(vals, dims))
        arg_trees = tuple(tree_structure(args[i]) for i in dyn_idx)
        kw_trees = tuple((k, tree_structure(kwargs[k])) for k in sorted(kwargs))
        key = (arg_trees, kw_trees, shard_avals, tuple(dims), static_vals, n, n_all,
               dtypes.x64_enabled(), tuple(core._state.axis_env))
        try:
            entry = cache.get(key)
        except TypeError:
            raise TypeError("pmap: static_broadcasted_argnums values must be hashable, got "
                            f"{static_vals!r}") from None
        if entry is None:
            entry = cache[key] = _trace(fun, fname, args, st, dyn_idx, arg_trees, kw_trees,
                                        shard_avals, axis_name, n_all, out_axes)
        jaxpr, consts, out_tree, oaxes = entry
        outs = pmap_p.bind(*consts, *vals, jaxpr=jaxpr, axis_name=axis_name, axis_size=n_all,
                           local_axis_size=n, in_axes=(None,) * len(consts) + tuple(dims),
                           out_axes=oaxes, devices=devs_now if devs is not None else None, name=fname,
                           donated=(False,) * len(consts) + tuple(don))
        return tree_unflatten(out_tree, outs)

    return mapped


def _trace(fun, fname, args, st, dyn_idx, arg_trees, kw_trees, shard_avals, axis_name, n,
           out_axes):
    from xtrace._src import api
    box: list = []

    def flat_fun(*flat):
        it = iter(flat)
        full = list(args)
        for i, t in zip(dyn_idx, arg_trees):
            full[i] = tree_unflatten(t, [next(it) for _ in range(t.num_leaves)])
        kw = {k: tree_unflatten(t, [next(it) for _ in range(t.num_leaves)]) for k, t in kw_trees}
        out = fun(*full, **kw)
        leaves, tree = tree_flatten(out)
        box.append((tree, api._out_dims(out_axes, out), [get_aval(x) for x in leaves]))
        return leaves

    with core.extend_axis_env(axis_name, n):
        closed = trace_to_jaxpr(flat_fun, list(shard_avals), fname)
    tree, oaxes, out_avals = box[0]
    norm = []
    for ax, a in zip(oaxes, closed.out_avals):
        if ax is None:
            norm.append(None)
        else:
            nd = a.ndim + 1
            if not -nd <= ax < nd:
                raise ValueError(f"pmap out_axes {ax} is out of bounds for an output of type "
                                 f"{a.str_short()}")
            norm.append(ax % nd)
    jaxpr, consts = ju.hoist(closed)
    return jaxpr, consts, tree, tuple(norm)


def device_put_replicated(x: Any, devices: Sequence) -> Any:
    """Copies of pytree ``x`` on each of ``devices``, stacked along a new leading axis (an
    array split over the devices, ready for pmap)."""
    devices = tuple(devices)
    if not devices:
        raise ValueError("device_put_replicated needs at least one device")

    def put(leaf):
        from xtrace._src import api
        a = api._as_array(leaf)
        aval = get_aval(a)
        val = np.asarray(a)
        bufs = [backend.to_device(val, d) for d in devices]
        return Array.sharded(Shards(bufs, devices, 0, aval.shape),
                             _global_aval(aval.strip_weak(), 0, len(devices)))
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, [put(l) for l in leaves])


def device_put_sharded(shards: Sequence[Any], devices: Sequence) -> Any:
    """Pytree of arrays whose leading axis indexes ``devices``: ``shards[i]`` (a pytree of the
    same structure for each i) goes to ``devices[i]``."""
    devices = tuple(devices)
    if len(shards) != len(devices):
        raise ValueError(f"device_put_sharded: {len(shards)} shards for {len(devices)} devices; "
                         "the numbers must be equal")
    trees = [tree_flatten(s) for s in shards]
    tree0 = trees[0][1]
    for leaves, t in trees:
        if t != tree0:
            raise ValueError(f"device_put_sharded: shards have different structures: {tree0} "
                             f"and {t}")
    out = []
    from xtrace._src import api
    for parts in zip(*[leaves for leaves, _ in trees]):
        arrs = [np.asarray(api._as_array(p)) for p in parts]
        avals = {(a.shape, a.dtype) for a in arrs}
        if len(avals) > 1:
            raise ValueError(f"device_put_sharded: shards of one leaf must have equal shapes "
                             f"and dtypes, got {sorted(str(s) for s in avals)}")
        aval = get_aval(api._as_array(parts[0])).strip_weak()
        bufs = [backend.to_device(a, d) for a, d in zip(arrs, devices)]
        out.append(Array.sharded(Shards(bufs, devices, 0, aval.shape),
                                 _global_aval(aval, 0, len(devices))))
    return tree_unflatten(tree0, out)
