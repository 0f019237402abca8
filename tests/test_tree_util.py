"""Pytrees: flatten/unflatten/map/leaves/structure/transpose, registration, and jit with pytrees."""
import collections
import dataclasses
import functools

import numpy as np
import pytest

import xtrace
import xtrace.numpy as xnp
from xtrace import tree_util as tu

Point = collections.namedtuple("Point", ["x", "y"])


# ---- builtin containers ----


def test_flatten_tuples_lists_none():
    tree = (1, [2, (3, None)], None, [])
    leaves, td = tu.tree_flatten(tree)
    assert leaves == [1, 2, 3]
    assert td.num_leaves == 3
    assert tu.tree_unflatten(td, [10, 20, 30]) == (10, [20, (30, None)], None, [])
    assert type(tu.tree_unflatten(td, leaves)[1]) is list
    assert tu.tree_leaves(None) == []
    assert tu.tree_leaves(5) == [5]
    assert tu.tree_unflatten(tu.tree_structure(5), ["leaf"]) == "leaf"


def test_dict_keys_are_sorted():
    d = {"b": 1, "a": 2, "c": {"z": 3, "y": 4}}
    leaves, td = tu.tree_flatten(d)
    assert leaves == [2, 1, 4, 3]  # a, b, c.y, c.z
    out = tu.tree_unflatten(td, leaves)
    assert out == d and type(out) is dict
    # Insertion order does not matter for the structure.
    assert tu.tree_structure({"a": 0, "b": 0}) == tu.tree_structure({"b": 0, "a": 0})


def test_ordered_dict_keeps_insertion_order():
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    leaves, td = tu.tree_flatten(od)
    assert leaves == [1, 2]
    out = tu.tree_unflatten(td, [5, 6])
    assert type(out) is collections.OrderedDict and list(out.items()) == [("b", 5), ("a", 6)]
    assert td != tu.tree_structure({"b": 1, "a": 2})


def test_namedtuple():
    p = Point(1, (2, 3))
    leaves, td = tu.tree_flatten(p)
    assert leaves == [1, 2, 3]
    out = tu.tree_unflatten(td, [4, 5, 6])
    assert type(out) is Point and out == Point(4, (5, 6))
    assert td != tu.tree_structure((1, (2, 3)))


def test_structure_equality_and_hash():
    a = tu.tree_structure(([1, 2], {"k": 3}))
    b = tu.tree_structure((["x", "y"], {"k": 7}))
    assert a == b and hash(a) == hash(b)
    assert a != tu.tree_structure(([1], {"k": 3}))
    assert a != tu.tree_structure(((1, 2), {"k": 3}))  # list vs tuple
    assert a.num_leaves == 3
    assert "PyTreeDef" in repr(a)


def test_tree_map_single_and_multiple():
    t = {"w": [1.0, 2.0], "b": (3.0,)}
    assert tu.tree_map(lambda v: v * 2, t) == {"w": [2.0, 4.0], "b": (6.0,)}
    u = {"w": [10.0, 20.0], "b": (30.0,)}
    assert tu.tree_map(lambda a, b: a + b, t, u) == {"w": [11.0, 22.0], "b": (33.0,)}
    assert tu.tree_map(lambda v: v, None) is None


def test_tree_map_is_leaf():
    t = [(1, 2), (3, 4)]
    out = tu.tree_map(lambda p: p[0] * p[1], t, is_leaf=lambda x: isinstance(x, tuple))
    assert out == [2, 12]
    leaves = tu.tree_leaves(t, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), (3, 4)]


def test_tree_map_mismatched_structures_raise():
    with pytest.raises(ValueError, match="mismatch"):
        tu.tree_map(lambda a, b: a + b, [1, 2], (1, 2))
    with pytest.raises(ValueError):
        tu.tree_map(lambda a, b: a + b, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        tu.tree_map(lambda a, b: a + b, {"a": 1}, {"b": 1})
    with pytest.raises(ValueError):
        tu.tree_map(lambda a, b: a + b, (1, (2, 3)), (1, 2))


def test_unflatten_wrong_number_of_leaves():
    td = tu.tree_structure((1, 2))
    with pytest.raises(ValueError):
        tu.tree_unflatten(td, [1])
    with pytest.raises(ValueError):
        tu.tree_unflatten(td, [1, 2, 3])


def test_tree_transpose():
    outer = tu.tree_structure([0, 0, 0])
    inner = tu.tree_structure((0, 0))
    tree = [(1, 2), (3, 4), (5, 6)]
    assert tu.tree_transpose(outer, inner, tree) == ([1, 3, 5], [2, 4, 6])
    back = tu.tree_transpose(inner, outer, ([1, 3, 5], [2, 4, 6]))
    assert back == tree


def test_tree_reduce_and_all():
    assert tu.tree_reduce(lambda a, b: a + b, {"a": 1, "b": [2, 3]}) == 6
    assert tu.tree_reduce(lambda a, b: a + b, [], 10) == 10
    assert tu.tree_all([True, (True,)]) and not tu.tree_all([True, (False,)])


# ---- registration ----


class Box:
    def __init__(self, value, label):
        self.value, self.label = value, label


tu.register_pytree_node(Box, lambda b: ((b.value,), b.label),
                        lambda label, children: Box(children[0], label))


@tu.register_pytree_node_class
class Pair:
    def __init__(self, a, b, tag="t"):
        self.a, self.b, self.tag = a, b, tag

    def tree_flatten(self):
        return (self.a, self.b), self.tag

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, tag=aux)


@dataclasses.dataclass
class Params:
    w: object
    b: object
    name: str = "layer"


tu.register_dataclass(Params, data_fields=["w", "b"], meta_fields=["name"])


@dataclasses.dataclass
class AllData:
    p: object
    q: object


tu.register_dataclass(AllData)


def test_register_pytree_node():
    leaves, td = tu.tree_flatten(Box([1, 2], "lbl"))
    assert leaves == [1, 2]
    out = tu.tree_unflatten(td, [3, 4])
    assert isinstance(out, Box) and out.value == [3, 4] and out.label == "lbl"
    assert td != tu.tree_structure(Box([1, 2], "other"))  # aux data is part of the structure


def test_duplicate_registration_raises():
    with pytest.raises(ValueError):
        tu.register_pytree_node(Box, lambda b: ((), None), lambda a, c: Box(None, None))


def test_register_pytree_node_class():
    leaves, td = tu.tree_flatten(Pair(1, {"x": 2}, tag="T"))
    assert leaves == [1, 2]
    out = tu.tree_map(lambda v: v + 1, Pair(1, {"x": 2}, tag="T"))
    assert isinstance(out, Pair) and out.a == 2 and out.b == {"x": 3} and out.tag == "T"


def test_register_dataclass():
    leaves, td = tu.tree_flatten(Params(w=1.0, b=2.0, name="dense"))
    assert leaves == [1.0, 2.0]
    out = tu.tree_unflatten(td, [5.0, 6.0])
    assert out == Params(5.0, 6.0, "dense")
    assert tu.tree_leaves(AllData(p=[1], q=(2, 3))) == [1, 2, 3]
    assert tu.tree_map(lambda v: -v, AllData(1, 2)) == AllData(-1, -2)


def test_partial_is_a_pytree():
    def f(a, b, *, c):
        return a * b + c

    p = tu.Partial(f, 2.0, c=1.0)
    assert isinstance(p, functools.partial)
    assert p(3.0) == 7.0
    leaves, td = tu.tree_flatten(p)
    assert sorted(leaves) == [1.0, 2.0]
    q = tu.tree_map(lambda v: v * 10, p)
    assert isinstance(q, tu.Partial) and q.func is f and q(3.0) == 20.0 * 3.0 + 10.0


# ---- jit with pytrees in and out ----


def test_jit_dict_and_tuple_in_and_out(rng):
    a = rng.standard_normal((3, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    x = rng.standard_normal((4, 3)).astype(np.float32)

    @xtrace.jit
    def layer(params, inputs):
        h = inputs[0] @ params["w"] + params["b"]
        return {"out": h, "stats": (h.sum(), [h.max()])}

    res = layer({"w": xnp.asarray(a), "b": xnp.asarray(b)}, (xnp.asarray(x),))
    assert set(res) == {"out", "stats"}
    assert isinstance(res["stats"], tuple) and isinstance(res["stats"][1], list)
    h = x @ a + b
    np.testing.assert_allclose(res["out"], h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res["stats"][0], h.sum(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(res["stats"][1][0], h.max(), rtol=1e-5)


def test_jit_namedtuple_ordereddict_none():
    @xtrace.jit
    def f(p, od, nothing):
        assert nothing is None
        return Point(p.x + od["k2"], p.y * od["k1"]), None

    od = collections.OrderedDict([("k2", xnp.asarray([1.0, 2.0])), ("k1", xnp.asarray(3.0))])
    out, none = f(Point(xnp.asarray([10.0, 20.0]), xnp.asarray(2.0)), od, None)
    assert none is None and type(out) is Point
    np.testing.assert_allclose(out.x, [11.0, 22.0])
    np.testing.assert_allclose(out.y, 6.0)


def test_jit_registered_classes_in_and_out():
    @xtrace.jit
    def step(params, pair, box):
        new = Params(w=params.w - 0.5 * pair.a, b=params.b + box.value[0], name=params.name)
        return new, Pair(pair.a * 2, pair.b, tag=pair.tag)

    params = Params(xnp.asarray([1.0, 2.0]), xnp.asarray(0.5), name="dense")
    new, pair = step(params, Pair(xnp.asarray([2.0, 4.0]), xnp.asarray(1.0), tag="z"),
                     Box([xnp.asarray(3.0)], "b"))
    assert isinstance(new, Params) and new.name == "dense"
    np.testing.assert_allclose(new.w, [0.0, 0.0])
    np.testing.assert_allclose(new.b, 3.5)
    assert isinstance(pair, Pair) and pair.tag == "z"
    np.testing.assert_allclose(pair.a, [4.0, 8.0])
    np.testing.assert_allclose(pair.b, 1.0)


def test_jit_retraces_on_new_structure_and_aux():
    traces = []

    @xtrace.jit
    def f(p):
        traces.append(1)
        return sum(tu.tree_leaves(p))

    one = xnp.asarray(1.0)
    assert float(f([one, one])) == 2.0
    assert float(f([one, one])) == 2.0
    assert len(traces) == 1
    assert float(f([one, one, one])) == 3.0
    assert float(f((one, one))) == 2.0
    assert len(traces) == 3
    assert float(f(Params(one, one, "a"))) == 2.0
    assert float(f(Params(one, one, "b"))) == 2.0  # meta field change: a new specialization
    assert len(traces) == 5


def test_jit_partial_argument():
    def scale(x, s):
        return x * s

    @xtrace.jit
    def apply(fn, x):
        return fn(x)

    out = apply(tu.Partial(scale, s=xnp.asarray(3.0)), xnp.asarray([1.0, 2.0]))
    np.testing.assert_allclose(out, [3.0, 6.0])


def test_tree_map_over_arrays_matches_numpy(rng):
    tree = {"a": rng.standard_normal(3).astype(np.float32),
            "b": [rng.standard_normal((2, 2)).astype(np.float32)]}
    xt = tu.tree_map(xnp.asarray, tree)
    out = tu.tree_map(lambda v: xnp.exp(v) + 1, xt)
    np.testing.assert_allclose(out["a"], np.exp(tree["a"]) + 1, rtol=1e-5)
    np.testing.assert_allclose(out["b"][0], np.exp(tree["b"][0]) + 1, rtol=1e-5)


# ---- key paths (jax.tree_util 0.10 semantics) ----


def test_flatten_with_path_keys_and_keystr():
    tree = {"b": Point(3, 4), "a": [1, (2, None)]}
    pairs, td = tu.tree_flatten_with_path(tree)
    assert td == tu.tree_structure(tree)
    assert [x for _, x in pairs] == tu.tree_leaves(tree) == [1, 2, 3, 4]
    paths = [p for p, _ in pairs]
    assert paths[1] == (tu.DictKey("a"), tu.SequenceKey(1), tu.SequenceKey(0))
    assert paths[2] == (tu.DictKey("b"), tu.GetAttrKey("x"))
    assert [tu.keystr(p) for p in paths] == ["['a'][0]", "['a'][1][0]", "['b'].x", "['b'].y"]
    assert [tu.keystr(p, simple=True, separator="/") for p in paths] == [
        "a/0", "a/1/0", "b/x", "b/y"]
    assert tu.keystr(paths[1], simple=True) == "a10"
    assert tu.keystr(()) == "" and tu.keystr(("a", 1)) == "a1"
    assert tu.tree_leaves_with_path(5) == [((), 5)] and tu.tree_leaves_with_path(None) == []


def test_key_entries():
    assert tu.DictKey("a") == tu.DictKey("a") and tu.DictKey("a") != tu.DictKey("b")
    assert tu.SequenceKey(1) != tu.FlattenedIndexKey(1)
    assert len({tu.SequenceKey(1), tu.SequenceKey(1), tu.GetAttrKey("x")}) == 2
    assert (tu.DictKey("a").key, tu.SequenceKey(1).idx, tu.GetAttrKey("x").name,
            tu.FlattenedIndexKey(2).key) == ("a", 1, "x", 2)
    assert repr(tu.DictKey("a")) == "DictKey(key='a')"
    assert repr(tu.FlattenedIndexKey(2)) == "FlattenedIndexKey(key=2)"
    assert [str(k) for k in (tu.DictKey(1), tu.SequenceKey(0), tu.GetAttrKey("w"),
                             tu.FlattenedIndexKey(3))] == ["[1]", "[0]", ".w",
                                                           "[<flat index 3>]"]
    match tu.GetAttrKey("w"):
        case tu.GetAttrKey(name=n):
            assert n == "w"
    with pytest.raises(AttributeError):
        tu.DictKey("a").key = "b"


def test_paths_of_registered_dicts_dataclasses_and_plain_nodes():
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    assert [p for p, _ in tu.tree_leaves_with_path(od)] == [(tu.DictKey("b"),), (tu.DictKey("a"),)]
    dd = collections.defaultdict(list, b=1, a=2)
    assert [p for p, _ in tu.tree_leaves_with_path(dd)] == [(tu.DictKey("a"),), (tu.DictKey("b"),)]
    assert [p for p, _ in tu.tree_leaves_with_path(Params(1.0, 2.0, "n"))] == [
        (tu.GetAttrKey("w"),), (tu.GetAttrKey("b"),)]
    assert [p for p, _ in tu.tree_leaves_with_path(Box([7, 8], "l"))] == [
        (tu.FlattenedIndexKey(0), tu.SequenceKey(0)), (tu.FlattenedIndexKey(0), tu.SequenceKey(1))]
    partial_paths = [p for p, _ in tu.tree_leaves_with_path(tu.Partial(max, 1, key=2))]
    assert partial_paths == [(tu.FlattenedIndexKey(0), tu.SequenceKey(0)),
                             (tu.FlattenedIndexKey(1), tu.DictKey("key"))]


def test_is_leaf_with_and_without_path():
    tree = [1, (2, [3])]
    got = tu.tree_leaves_with_path(tree, is_leaf=lambda p, x: isinstance(x, list) and len(p) > 0,
                                   is_leaf_takes_path=True)
    assert got[-1] == ((tu.SequenceKey(1), tu.SequenceKey(1)), [3])
    got = tu.tree_leaves_with_path(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert got == [((tu.SequenceKey(0),), 1), ((tu.SequenceKey(1),), (2, [3]))]


def test_tree_map_with_path():
    out = tu.tree_map_with_path(lambda p, x, y: (tu.keystr(p), x + y),
                                {"a": 1, "b": (2,)}, {"a": 10, "b": (20,)})
    assert out == {"a": ("['a']", 11), "b": (("['b'][0]", 22),)}
    with pytest.raises(ValueError):
        tu.tree_map_with_path(lambda p, x, y: x, [1, 2], [1, 2, 3])
    w = {"w": np.ones(2, np.float32), "b": np.ones(2, np.float32)}
    decayed = tu.tree_map_with_path(lambda p, x: x * 0.5 if p[-1].key == "w" else x, w)
    np.testing.assert_allclose(decayed["w"], [0.5, 0.5])
    np.testing.assert_allclose(decayed["b"], [1.0, 1.0])


class KeyedPair:
    def __init__(self, first, second, tag="t"):
        self.first, self.second, self.tag = first, second, tag

    def tree_flatten_with_keys(self):
        return ((tu.GetAttrKey("first"), self.first), (tu.GetAttrKey("second"), self.second)), \
            self.tag

    @classmethod
    def tree_unflatten(cls, tag, children):
        return cls(*children, tag)


tu.register_pytree_with_keys_class(KeyedPair)


class Triple:
    def __init__(self, a, b, c):
        self.abc = (a, b, c)


tu.register_pytree_with_keys(
    Triple, lambda t: ([(tu.DictKey(k), v) for k, v in zip("abc", t.abc)], None),
    lambda _, c: Triple(*c))


@tu.register_static
class Mode(str):
    pass


def test_register_with_keys_and_static():
    pairs, td = tu.tree_flatten_with_path(KeyedPair(1, [2], "q"))
    assert [tu.keystr(p) for p, _ in pairs] == [".first", ".second[0]"]
    back = td.unflatten([5, 6])
    assert (back.first, back.second, back.tag) == (5, [6], "q")
    assert tu.tree_leaves(Triple(1, 2, 3)) == [1, 2, 3]
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(Triple(1, 2, 3))] == [
        "['a']", "['b']", "['c']"]
    assert tu.tree_leaves([Mode("add"), 1]) == [1]
    calls = []

    @xtrace.jit
    def f(x, mode):
        calls.append(mode)
        return x + 1 if mode == "add" else x - 1

    assert float(f(1.0, Mode("add"))) == 2.0 and float(f(1.0, Mode("sub"))) == 0.0
    assert float(f(3.0, Mode("add"))) == 4.0 and len(calls) == 2


def test_one_level_and_node_predicates():
    assert tu.flatten_one_level({"b": 1, "a": [2]}) == (([2], 1), ("a", "b"))
    assert tu.flatten_one_level(None) == ((), None)
    assert tu.flatten_one_level_with_keys({"b": 1, "a": [2]}) == (
        ((tu.DictKey("a"), [2]), (tu.DictKey("b"), 1)), ("a", "b"))
    with pytest.raises(ValueError, match="can't tree-flatten type"):
        tu.flatten_one_level(3)
    assert tu.is_tree_node(type(None)) and tu.is_tree_node(Point) and tu.is_tree_node(Box)
    assert not tu.is_tree_node(int)
    assert tu.treedef_is_leaf(tu.tree_structure(1)) and tu.treedef_is_leaf(tu.tree_structure(None))
    assert not tu.treedef_is_leaf(tu.tree_structure([1]))
    td = tu.treedef_tuple([tu.tree_structure(1), tu.tree_structure([1, 2])])
    assert td == tu.tree_structure((0, [0, 0]))
    assert tu.all_leaves([1, 2.0, "s"]) and tu.all_leaves([])
    assert not tu.all_leaves([1, None]) and not tu.all_leaves([1, (2,)])
    assert tu.all_leaves([(1,)], is_leaf=lambda x: isinstance(x, tuple))
    assert tu.default_registry.flatten_one_level(3) is None
    assert tu.default_registry.flatten([1, 2])[0] == [1, 2]


def test_broadcast_and_reduce_associative():
    assert tu.tree_broadcast([1, {"a": 2}], [[3, 4], {"a": (5, 6)}]) == [[1, 1], {"a": (2, 2)}]
    with pytest.raises(ValueError):
        tu.tree_broadcast([1, 2], [3, 4, 5])
    assert tu.tree_reduce_associative(lambda a, b: (a, b), [1, 2, 3, 4, 5]) == (
        (1, 2), (3, (4, 5)))
    assert tu.tree_reduce_associative(lambda a, b: a + b, [], identity=0) == 0
    with pytest.raises(TypeError, match="identity"):
        tu.tree_reduce_associative(lambda a, b: a + b, [])
    xs = [np.arange(3.0), {"k": np.ones(3)}]
    np.testing.assert_allclose(tu.tree_reduce_associative(np.add, xs), [1.0, 2.0, 3.0])


def test_treedef_flatten_up_to():
    td = tu.tree_structure([0, {"a": 0}])
    assert td.flatten_up_to([(1, 2), {"a": [3]}]) == [(1, 2), [3]]


def test_transpose_infers_inner_structure():
    tree = [(1, 2, 3), (4, 5, 6)]
    assert tu.tree_transpose(tu.tree_structure([0, 0]), None, tree) == ([1, 4], [2, 5], [3, 6])
    with pytest.raises(TypeError, match="Mismatch"):
        tu.tree_transpose(tu.tree_structure([0, 0]), tu.tree_structure((0, 0)), tree)


def test_jax_tree_module():
    from xtrace import tree
    t = {"a": [1, 2], "b": 3}
    assert tree.leaves(t) == [1, 2, 3]
    assert tree.map(lambda x: x * 2, t) == {"a": [2, 4], "b": 6}
    leaves, td = tree.flatten(t)
    assert tree.unflatten(td, leaves) == t and tree.structure(t) == td
    assert tree.reduce(lambda a, b: a + b, t) == 6 and tree.reduce(max, t, 10) == 10
    assert tree.all(t) and not tree.all([1, 0])
    assert tree.reduce_associative(lambda a, b: a + b, t) == 6
    assert tree.transpose(tree.structure([0, 0]), None, [(1, 2), (3, 4)]) == ([1, 3], [2, 4])
    assert tree.broadcast(0, {"x": (1, 2)}) == {"x": (0, 0)}
    assert [tu.keystr(p) for p, _ in tree.leaves_with_path(t)] == ["['a'][0]", "['a'][1]", "['b']"]
    assert tree.flatten_with_path(t)[1] == td
    assert tree.map_with_path(lambda p, x: len(p), t) == {"a": [2, 2], "b": 1}

    @tu.register_dataclass
    @dataclasses.dataclass
    class Layer:
        w: float
        act: str = tree.static(default="relu")

    leaves, td = tree.flatten(Layer(2.0, "tanh"))
    assert leaves == [2.0]
    assert tree.unflatten(td, [5.0]) == Layer(5.0, "tanh")
    assert tree.structure(Layer(1.0)) != td
