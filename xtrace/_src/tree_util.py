"""Pytrees: nested tuples, lists, dicts, None, namedtuples and user-registered containers."""
from __future__ import annotations

import collections
import functools
from typing import Any, Callable, Iterable

_registry: dict[type, tuple[Callable, Callable]] = {}


class PyTreeDef:
    """The structure of a pytree (everything but its leaves); hashable and comparable."""

    __slots__ = ("node_type", "aux", "children", "num_leaves", "_hash")

    def __init__(self, node_type: Any, aux: Any, children: tuple["PyTreeDef", ...]):
        self.node_type, self.aux, self.children = node_type, aux, children
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)
        self._hash = None

    @property
    def num_nodes(self) -> int:
        return 1 + sum(c.num_nodes for c in self.children)

    def __eq__(self, other: Any) -> bool:
        return (self is other) or (type(other) is PyTreeDef and self.node_type is other.node_type
                                    and self.aux == other.aux and self.children == other.children)

    def __hash__(self) -> int:
        if self._hash is None:
            aux = self.aux
            try:
                h = hash(aux)
            except TypeError:
                h = hash(repr(aux))
            self._hash = hash((self.node_type, h, self.children))
        return self._hash

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        return tree_unflatten(self, leaves)

    def __repr__(self) -> str:
        return f"PyTreeDef({_pp(self)})"


def _pp(td: PyTreeDef) -> str:
    if td.node_type is None:
        return "*"
    if td.node_type is _NoneType:
        return "None"
    kids = ", ".join(_pp(c) for c in td.children)
    if td.node_type is tuple:
        return f"({kids}{',' if len(td.children) == 1 else ''})"
    if td.node_type is list:
        return f"[{kids}]"
    if td.node_type is dict:
        return "{" + ", ".join(f"{k!r}: {_pp(c)}" for k, c in zip(td.aux, td.children)) + "}"
    return f"{getattr(td.node_type, '__name__', td.node_type)}[{td.aux!r}]({kids})"


_NoneType = type(None)
_LEAF = PyTreeDef(None, None, ())


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable) -> None:
    """Register a container type: ``flatten(x) -> (children, aux)``, ``unflatten(aux, children)``."""
    if nodetype in _registry:
        raise ValueError(f"Duplicate pytree registration for {nodetype}")
    _registry[nodetype] = (flatten_func, unflatten_func)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: the class defines ``tree_flatten`` and classmethod ``tree_unflatten``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(cls: type, data_fields: list[str] | None = None,
                       meta_fields: list[str] | None = None) -> type:
    import dataclasses
    if data_fields is None:
        data_fields = [f.name for f in dataclasses.fields(cls)]
        meta_fields = []
    meta_fields = list(meta_fields or [])

    def flat(x):
        return [getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields)

    def unflat(aux, children):
        return cls(**dict(zip(data_fields, children)), **dict(zip(meta_fields, aux)))

    register_pytree_node(cls, flat, unflat)
    return cls


register_pytree_node(tuple, lambda x: (x, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda x: (x, None), lambda _, c: list(c))
register_pytree_node(_NoneType, lambda x: ((), None), lambda _, c: None)


def _dict_flat(d):
    keys = sorted(d)
    return [d[k] for k in keys], tuple(keys)


register_pytree_node(dict, _dict_flat, lambda keys, c: dict(zip(keys, c)))
register_pytree_node(collections.OrderedDict, lambda d: (list(d.values()), tuple(d)),
                     lambda keys, c: collections.OrderedDict(zip(keys, c)))
register_pytree_node(
    collections.defaultdict,
    lambda d: ([d[k] for k in sorted(d)], (d.default_factory, tuple(sorted(d)))),
    lambda aux, c: collections.defaultdict(aux[0], zip(aux[1], c)))


def _lookup(x: Any):
    t = type(x)
    entry = _registry.get(t)
    if entry is None and isinstance(x, tuple) and hasattr(t, "_fields"):
        entry = (lambda v: (tuple(v), None), lambda _, c, t=t: t(*c))
        _registry[t] = entry  # namedtuple types are registered on first sight
    return entry


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list[Any], PyTreeDef]:
    """Leaves of ``tree`` in order, and its structure."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves, is_leaf)


def _flatten(x, leaves, is_leaf) -> PyTreeDef:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    entry = _lookup(x)
    if entry is None:
        leaves.append(x)
        return _LEAF
    children, aux = entry[0](x)
    return PyTreeDef(type(x), aux, tuple(_flatten(c, leaves, is_leaf) for c in children))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    it = iter(leaves)
    out = _unflatten(treedef, it)
    try:
        next(it)
    except StopIteration:
        return out
    raise ValueError(f"Too many leaves for {treedef}")


def _unflatten(td: PyTreeDef, it) -> Any:
    if td.node_type is None:
        try:
            return next(it)
        except StopIteration:
            raise ValueError("Too few leaves for the tree structure") from None
    return _registry[td.node_type][1](td.aux, [_unflatten(c, it) for c in td.children])


def tree_leaves(tree: Any, is_leaf: Callable | None = None) -> list[Any]:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable | None = None) -> PyTreeDef:
    return tree_flatten(tree, is_leaf)[1]


def treedef_children(td: PyTreeDef) -> list[PyTreeDef]:
    return list(td.children)


def tree_map(f: Callable, tree: Any, *rest: Any, is_leaf: Callable | None = None) -> Any:
    """Apply ``f`` to corresponding leaves of ``tree`` and ``rest`` (same structure)."""
    leaves, td = tree_flatten(tree, is_leaf)
    all_leaves = [leaves] + [flatten_up_to(td, r) for r in rest]
    return td.unflatten(f(*xs) for xs in zip(*all_leaves))


def flatten_up_to(td: PyTreeDef, tree: Any) -> list[Any]:
    """Leaves of ``tree`` cut at the leaves of ``td`` (``td`` must be a prefix of its structure)."""
    out: list[Any] = []
    _flatten_up_to(td, tree, out, ())
    return out


def _flatten_up_to(td, x, out, path):
    if td.node_type is None:
        out.append(x)
        return
    if type(x) is not td.node_type:
        raise ValueError(f"pytree structure mismatch at {_path_str(path)}: expected "
                         f"{getattr(td.node_type, '__name__', td.node_type)}, got {type(x).__name__}")
    children, aux = _registry[td.node_type][0](x)
    if aux != td.aux or len(children) != len(td.children):
        raise ValueError(f"pytree structure mismatch at {_path_str(path)}: {td} vs "
                         f"{tree_structure(x)}")
    keys = aux if td.node_type is dict else range(len(children))
    for k, c, t in zip(keys, children, td.children):
        _flatten_up_to(t, c, out, path + (k,))


def _path_str(path) -> str:
    return "root" + "".join(f"[{k!r}]" for k in path)


def tree_reduce(f: Callable, tree: Any, initializer: Any = ..., is_leaf=None) -> Any:
    leaves = tree_leaves(tree, is_leaf)
    if initializer is ...:
        return functools.reduce(f, leaves)
    return functools.reduce(f, leaves, initializer)


def tree_all(tree: Any) -> bool:
    return all(tree_leaves(tree))


def tree_transpose(outer: PyTreeDef, inner: PyTreeDef, tree: Any) -> Any:
    flat = flatten_up_to(outer, tree)
    inners = [flatten_up_to(inner, x) for x in flat]
    return inner.unflatten(outer.unflatten(col) for col in zip(*inners))


class Partial(functools.partial):
    """``functools.partial`` that is a pytree (its args are leaves), usable as a jit argument."""

    def __new__(cls, func, *args, **kw):
        return super().__new__(cls, func, *args, **kw)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, c: Partial(func, *c[0], **c[1]))


