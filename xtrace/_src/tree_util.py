"""Pytrees: nested tuples, lists, dicts, None, namedtuples and user-registered containers."""
from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Callable, Hashable, Iterable, TypeVar

_registry: dict[type, tuple[Callable, Callable]] = {}
# Optional per type: ``flatten_with_keys(x) -> ([(key, child), ...], aux)`` (key paths).
_key_registry: dict[type, Callable] = {}


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

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """The subtrees of ``tree`` at this structure's leaves."""
        return flatten_up_to(self, tree)

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
    name = getattr(td.node_type, "__name__", td.node_type)
    if _is_namedtuple_type(td.node_type):  # JAX: CustomNode(namedtuple[NT], [*, *])
        name, aux = "namedtuple", name
    else:
        aux = td.aux
    return f"CustomNode({name}[{aux}], [{kids}])"


def _is_namedtuple_type(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


_NoneType = type(None)
_LEAF = PyTreeDef(None, None, ())


# ---- key paths: where a leaf sits in a tree ----


class _Key:
    __slots__ = ()
    _field = ""

    def __init__(self, value: Any):
        object.__setattr__(self, self._field, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _value(self) -> Any:
        return getattr(self, self._field)

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and self._value() == other._value()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._field}={self._value()!r})"

    def __reduce__(self):
        return type(self), (self._value(),)


class DictKey(_Key):
    """The key of a dict entry: ``str`` is ``['a']``."""
    __slots__ = ("key",)
    __match_args__ = ("key",)
    _field = "key"

    def __str__(self) -> str:
        return f"[{self.key!r}]"


class SequenceKey(_Key):
    """The index of a tuple or list entry: ``str`` is ``[0]``."""
    __slots__ = ("idx",)
    __match_args__ = ("idx",)
    _field = "idx"

    def __str__(self) -> str:
        return f"[{self.idx}]"


class GetAttrKey(_Key):
    """An attribute (namedtuple field, dataclass field): ``str`` is ``.name``."""
    __slots__ = ("name",)
    __match_args__ = ("name",)
    _field = "name"

    def __str__(self) -> str:
        return f".{self.name}"


class FlattenedIndexKey(_Key):
    """The position among the children of a node registered without keys."""
    __slots__ = ("key",)
    __match_args__ = ("key",)
    _field = "key"

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


KeyEntry = TypeVar("KeyEntry", bound=Any)
KeyPath = tuple[KeyEntry, ...]


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """A key path as a string: ``['a'][0].x``; ``simple=True`` writes only the keys
    (``a/0/x`` with ``separator='/'``)."""
    str_fn = _simple_entrystr if simple else str
    return separator.join(map(str_fn, keys))


def _simple_entrystr(key: Any) -> str:
    return str(key._value()) if isinstance(key, _Key) else str(key)


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None) -> None:
    """Register a container type: ``flatten(x) -> (children, aux)``, ``unflatten(aux, children)``
    and optionally ``flatten_with_keys(x) -> ([(key, child), ...], aux)`` for key paths."""
    if nodetype in _registry:
        raise ValueError(f"Duplicate pytree registration for {nodetype}")
    _registry[nodetype] = (flatten_func, unflatten_func)
    if flatten_with_keys_func is not None:
        _key_registry[nodetype] = flatten_with_keys_func


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: the class defines ``tree_flatten`` and classmethod ``tree_unflatten``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(cls: type, data_fields: list[str] | None = None,
                       meta_fields: list[str] | None = None,
                       drop_fields: Iterable[str] = ()) -> type:
    """Register a dataclass: ``data_fields`` are children (key paths ``.name``), ``meta_fields``
    go into the treedef. Without both, fields marked ``xtrace.tree.static()`` (metadata
    ``static=True``) are meta fields and the other ``init`` fields are data. ``drop_fields``
    names ``init`` fields left out of both (they take their defaults on unflattening)."""
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError("register_dataclass: data_fields and meta_fields are required when "
                            f"{cls.__name__} is not a dataclass")
        fields = [f for f in dataclasses.fields(cls) if f.init and f.name not in drop_fields]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
    elif data_fields is None or meta_fields is None:
        raise TypeError("register_dataclass: pass both data_fields and meta_fields, or neither")
    data_fields, meta_fields = list(data_fields), list(meta_fields)
    if dataclasses.is_dataclass(cls):  # JAX: every init field must be named, and only those
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        named = set(data_fields) | set(meta_fields)
        init -= set(drop_fields)
        if named != init:
            raise ValueError(f"register_dataclass({cls.__name__}): data_fields and meta_fields "
                             "must include all dataclass fields with init=True and only them; "
                             f"missing {sorted(init - named)}, extra {sorted(named - init)}")

    def flat(x):
        return [getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields)

    def flat_keys(x):
        return ([(GetAttrKey(n), getattr(x, n)) for n in data_fields],
                tuple(getattr(x, n) for n in meta_fields))

    def unflat(aux, children):
        return cls(**dict(zip(data_fields, children)), **dict(zip(meta_fields, aux)))

    register_pytree_node(cls, flat, unflat, flat_keys)
    return cls


def _seq_keys(x):
    return [(SequenceKey(i), c) for i, c in enumerate(x)], None


register_pytree_node(tuple, lambda x: (x, None), lambda _, c: tuple(c), _seq_keys)
register_pytree_node(list, lambda x: (x, None), lambda _, c: list(c), _seq_keys)
register_pytree_node(_NoneType, lambda x: ((), None), lambda _, c: None,
                     lambda x: ((), None))


def _sorted_keys(d) -> list:
    try:
        return sorted(d)
    except TypeError as e:  # JAX raises ValueError for keys without an order (1 and "a")
        raise ValueError("Comparator raised exception while sorting pytree dictionary keys: "
                         f"{list(d)!r} ({e})") from None


def _dict_flat(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], tuple(keys)


def _dict_keys(keys, children):
    return [(DictKey(k), c) for k, c in zip(keys, children)]


register_pytree_node(dict, _dict_flat, lambda keys, c: dict(zip(keys, c)),
                     lambda d: (_dict_keys(_sorted_keys(d),
                                           [d[k] for k in _sorted_keys(d)]),
                                tuple(_sorted_keys(d))))
register_pytree_node(collections.OrderedDict, lambda d: (list(d.values()), tuple(d)),
                     lambda keys, c: collections.OrderedDict(zip(keys, c)),
                     lambda d: (_dict_keys(d, d.values()), tuple(d)))
register_pytree_node(
    collections.defaultdict,
    lambda d: ([d[k] for k in _sorted_keys(d)], (d.default_factory, tuple(_sorted_keys(d)))),
    lambda aux, c: collections.defaultdict(aux[0], zip(aux[1], c)),
    lambda d: (_dict_keys(_sorted_keys(d), [d[k] for k in _sorted_keys(d)]),
               (d.default_factory, tuple(_sorted_keys(d)))))


def _lookup(x: Any):
    t = type(x)
    entry = _registry.get(t)
    if entry is None and isinstance(x, tuple) and hasattr(t, "_fields"):
        entry = (lambda v: (tuple(v), None), lambda _, c, t=t: t(*c))
        _registry[t] = entry  # namedtuple types are registered on first sight
        _key_registry[t] = lambda v: ([(GetAttrKey(n), c) for n, c in zip(v._fields, v)], None)
    return entry


def _keyed_children(x: Any, entry) -> tuple[list[tuple[Any, Any]], Any]:
    """``([(key, child), ...], aux)`` of a node; nodes registered without keys get
    ``FlattenedIndexKey`` s."""
    with_keys = _key_registry.get(type(x))
    if with_keys is not None:
        pairs, aux = with_keys(x)
        return list(pairs), aux
    children, aux = entry[0](x)
    return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux


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


class _Unspecified:
    def __repr__(self) -> str:
        return "<unspecified>"


_UNSPECIFIED = _Unspecified()


def tree_reduce(function: Callable, tree: Any, initializer: Any = _UNSPECIFIED,
                is_leaf: Callable | None = None) -> Any:
    """``functools.reduce`` over the leaves of ``tree``."""
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _UNSPECIFIED:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_reduce_associative(operation: Callable, tree: Any, *, identity: Any = _UNSPECIFIED,
                            is_leaf: Callable | None = None) -> Any:
    """Reduce the leaves pairwise as a balanced tree (``operation`` must be associative);
    ``identity`` is the result for a tree without leaves."""
    return _parallel_reduce(tree_leaves(tree, is_leaf), operation, identity)


def _parallel_reduce(seq: list, op: Callable, identity: Any) -> Any:
    if not seq:
        if identity is _UNSPECIFIED:
            raise TypeError("Must specify identity for parallel reduction of empty sequence.")
        return identity
    if len(seq) == 1:
        return seq[0]
    half = len(seq) // 2
    return op(_parallel_reduce(seq[:half], op, identity),
              _parallel_reduce(seq[half:], op, identity))


def tree_all(tree: Any, *, is_leaf: Callable | None = None) -> bool:
    """Whether every leaf is truthy."""
    return all(tree_leaves(tree, is_leaf))


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """Turn a tree of structure (outer, inner) into one of structure (inner, outer);
    ``inner_treedef=None`` takes the inner structure from the first outer leaf."""
    flat, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        inner_treedef = tree_structure(flatten_up_to(outer_treedef, pytree_to_transpose)[0])
    n_in, n_out = inner_treedef.num_leaves, outer_treedef.num_leaves
    if treedef.num_leaves != n_in * n_out:
        raise TypeError(f"Mismatch\n{treedef}\n != \n{outer_treedef} composed with "
                        f"{inner_treedef}")
    it = iter(flat)
    rows = [[next(it) for _ in range(n_in)] for _ in range(n_out)]
    return inner_treedef.unflatten(outer_treedef.unflatten(col) for col in zip(*rows))


def tree_broadcast(prefix_tree: Any, full_tree: Any, is_leaf: Callable | None = None) -> Any:
    """``full_tree`` 's structure with each leaf of ``prefix_tree`` (a prefix of it) repeated
    over the subtree it stands for."""
    prefix_leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
    try:
        subtrees = flatten_up_to(prefix_def, full_tree)
    except ValueError as e:
        raise ValueError(f"tree_broadcast: prefix_tree {prefix_def} is not a prefix of "
                         f"full_tree {tree_structure(full_tree)} ({e})") from None
    leaves = [x for x, sub in zip(prefix_leaves, subtrees)
              for _ in range(tree_structure(sub).num_leaves)]
    return tree_structure(full_tree).unflatten(leaves)


# ---- key paths ----


def _path_is_leaf(is_leaf: Callable | None, takes_path: bool) -> Callable | None:
    if is_leaf is None or takes_path:
        return is_leaf
    return lambda _, x: is_leaf(x)


def tree_flatten_with_path(tree: Any, is_leaf: Callable | None = None,
                           is_leaf_takes_path: bool = False
                           ) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like ``tree_flatten``, but each leaf comes with its key path: ``[(path, leaf), ...]``.
    With ``is_leaf_takes_path=True``, ``is_leaf`` is called as ``is_leaf(path, x)``."""
    out: list[tuple[KeyPath, Any]] = []
    td = _flatten_keys(tree, (), out, _path_is_leaf(is_leaf, is_leaf_takes_path))
    return out, td


def _flatten_keys(x, path, out, is_leaf) -> PyTreeDef:
    if is_leaf is not None and is_leaf(path, x):
        out.append((path, x))
        return _LEAF
    entry = _lookup(x)
    if entry is None:
        out.append((path, x))
        return _LEAF
    pairs, aux = _keyed_children(x, entry)
    return PyTreeDef(type(x), aux, tuple(_flatten_keys(c, path + (k,), out, is_leaf)
                                         for k, c in pairs))


def tree_leaves_with_path(tree: Any, is_leaf: Callable | None = None,
                          is_leaf_takes_path: bool = False) -> list[tuple[KeyPath, Any]]:
    """The ``(path, leaf)`` pairs of ``tree`` in flattening order."""
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f: Callable, tree: Any, *rest: Any, is_leaf: Callable | None = None,
                       is_leaf_takes_path: bool = False) -> Any:
    """``tree_map`` where ``f(path, leaf, *others)`` also gets each leaf's key path."""
    pairs, td = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = [flatten_up_to(td, r) for r in rest]
    return td.unflatten(f(p, x, *xs) for (p, x), *xs in zip(pairs, *others))


def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable,
                              unflatten_func: Callable,
                              flatten_func: Callable | None = None) -> None:
    """Register a container whose ``flatten_with_keys(x)`` returns
    ``([(key, child), ...], aux)``; ``flatten_func`` (same order, no keys) is optional."""
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [c for _, c in pairs], aux
    register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: the class defines ``tree_flatten_with_keys`` (and optionally
    ``tree_flatten``) and classmethod ``tree_unflatten``."""
    flat = (lambda x: x.tree_flatten()) if hasattr(cls, "tree_flatten") else None
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              flat)
    return cls


def register_static(cls: type) -> type:
    """Register ``cls`` as a pytree with no leaves: its (hashable) instances live in the
    treedef, so jit treats them as static."""
    register_pytree_with_keys(cls, lambda x: ((), x), lambda x, _: x)
    return cls


def is_tree_node(typ: type) -> bool:
    """Whether ``typ`` is a pytree node type (registered, built in, or a namedtuple)."""
    return typ in _registry or (issubclass(typ, tuple) and hasattr(typ, "_fields"))


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Whether the structure has a single node (a leaf, ``None`` or an empty container)."""
    return treedef.num_nodes == 1


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The structure of a tuple whose elements have the given structures."""
    return PyTreeDef(tuple, None, tuple(treedefs))


def all_leaves(iterable: Iterable[Any], is_leaf: Callable | None = None) -> bool:
    """Whether every element of ``iterable`` is a leaf (``None`` is not: it is a node)."""
    items = list(iterable)
    leaves = tree_leaves(items, is_leaf)
    return len(leaves) == len(items) and all(a is b for a, b in zip(items, leaves))


def flatten_one_level(tree: Any) -> tuple[Iterable[Any], Hashable]:
    """The children and aux data of a pytree node (``ValueError`` for a leaf)."""
    entry = _lookup(tree)
    if entry is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    children, aux = entry[0](tree)
    return tuple(children), aux


def flatten_one_level_with_keys(tree: Any) -> tuple[Iterable[tuple[Any, Any]], Hashable]:
    """``([(key, child), ...], aux)`` of a pytree node (``ValueError`` for a leaf)."""
    entry = _lookup(tree)
    if entry is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    pairs, aux = _keyed_children(tree, entry)
    return tuple((k, c) for k, c in pairs), aux


class PyTreeRegistry:
    """The registry of pytree node types; ``default_registry`` is the one every function of
    ``tree_util`` uses."""

    def register_node(self, nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                      flatten_with_keys_func: Callable | None = None) -> None:
        register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys_func)

    def flatten(self, tree: Any, is_leaf: Callable | None = None):
        return tree_flatten(tree, is_leaf)

    def flatten_with_path(self, tree: Any, is_leaf: Callable | None = None):
        return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path=True)

    def flatten_one_level(self, tree: Any):
        entry = _lookup(tree)
        return None if entry is None else entry[0](tree)

    def flatten_one_level_with_keys(self, tree: Any):
        entry = _lookup(tree)
        return None if entry is None else _keyed_children(tree, entry)

    def is_node(self, typ: type) -> bool:
        return is_tree_node(typ)


default_registry = PyTreeRegistry()


class Partial(functools.partial):
    """``functools.partial`` that is a pytree (its args are leaves), usable as a jit argument."""

    def __new__(cls, func, *args, **kw):
        return super().__new__(cls, func, *args, **kw)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, c: Partial(func, *c[0], **c[1]))


