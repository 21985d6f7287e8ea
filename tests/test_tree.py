"""Tests for fnad.tree (pytree utilities)."""

from __future__ import annotations

import copy
from collections import OrderedDict, namedtuple
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnad.tree import (
    PyTreeDef,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

Point = namedtuple("Point", ["x", "y"])


class Pair(NamedTuple):
    first: object
    second: object


class Box:
    """A registered container with aux data (a label) and two children."""

    def __init__(self, label: str, a: object, b: object) -> None:
        self.label, self.a, self.b = label, a, b

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is Box
            and self.label == other.label
            and strict_equal(self.a, other.a)
            and strict_equal(self.b, other.b)
        )

    def __repr__(self) -> str:
        return f"Box({self.label!r}, {self.a!r}, {self.b!r})"


register_pytree_node(Box, lambda b: ((b.a, b.b), b.label), lambda label, ch: Box(label, *ch))


def strict_equal(x: object, y: object) -> bool:
    """Structural equality that also requires identical container types (tuple != namedtuple)."""
    if type(x) is not type(y):
        return False
    if isinstance(x, tuple | list):
        return len(x) == len(y) and all(strict_equal(a, b) for a, b in zip(x, y))
    if isinstance(x, dict):
        return sorted(x) == sorted(y) and all(strict_equal(x[k], y[k]) for k in x)
    if isinstance(x, np.ndarray):
        return x.dtype == y.dtype and np.array_equal(x, y)
    return x == y


# ---------------------------------------------------------------------------------------------
# Round trips with explicit expectations


def test_nested_round_trip_explicit():
    arr = np.arange(3.0)
    tree = (1, [arr, None], {"b": "s", "a": (2.5,)}, Point(3, [4]))
    leaves, treedef = tree_flatten(tree)
    assert len(leaves) == 6
    assert leaves[0] == 1
    assert leaves[1] is arr
    assert leaves[2:] == [2.5, "s", 3, 4]
    assert treedef.num_leaves == 6
    assert repr(treedef) == "PyTreeDef((*, [*, None], {'a': (*,), 'b': *}, Point(x=*, y=[*])))"
    rebuilt = tree_unflatten(treedef, leaves)
    assert strict_equal(rebuilt, tree)
    assert type(rebuilt[3]) is Point
    assert rebuilt[1][0] is arr


def test_unflatten_with_new_leaves():
    treedef = tree_structure({"x": [0, 0], "y": None, "z": Pair(0, ())})
    out = treedef.unflatten(["a", "b", "c"])
    assert strict_equal(out, {"x": ["a", "b"], "y": None, "z": Pair("c", ())})


def test_registered_class_round_trip():
    tree = [Box("lbl", 1, {"k": 2}), 3]
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef([CustomNode(Box['lbl'], [*, {'k': *}]), *])"
    out = tree_unflatten(treedef, [10, 20, 30])
    assert out == [Box("lbl", 10, {"k": 20}), 30]
    # aux data is part of the structure
    assert tree_structure(Box("a", 1, 2)) != tree_structure(Box("b", 1, 2))
    assert tree_structure(Box("a", 1, 2)) == tree_structure(Box("a", 5, 6))


def test_register_twice_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_node(Box, lambda b: ((), None), lambda aux, ch: None)
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_node(tuple, lambda b: ((), None), lambda aux, ch: None)


def test_unhashable_aux_data_raises():
    class Bad:
        pass

    register_pytree_node(Bad, lambda b: ((), [1, 2]), lambda aux, ch: Bad())
    with pytest.raises(TypeError, match="hashable"):
        tree_flatten(Bad())


def test_leaves_are_everything_else():
    obj = object()
    arr = np.ones((2, 2))
    for leaf in [obj, arr, 3, 2.0, "str", b"bytes", np.float64(1.5), OrderedDict(a=1)]:
        leaves, treedef = tree_flatten(leaf)
        assert len(leaves) == 1 and leaves[0] is leaf
        assert repr(treedef) == "PyTreeDef(*)"
        assert treedef.num_leaves == 1


def test_empty_containers():
    for empty, text in [((), "()"), ([], "[]"), ({}, "{}"), (None, "None")]:
        leaves, treedef = tree_flatten(empty)
        assert leaves == []
        assert treedef.num_leaves == 0
        assert repr(treedef) == f"PyTreeDef({text})"
        assert strict_equal(tree_unflatten(treedef, []), empty)
    defs = [tree_structure(e) for e in [(), [], {}, None]]
    assert all(a != b for i, a in enumerate(defs) for b in defs[i + 1 :])


# ---------------------------------------------------------------------------------------------
# Dict ordering


def test_dict_children_sorted_by_key():
    leaves, treedef = tree_flatten({"c": 3, "a": 1, "b": 2})
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef({'a': *, 'b': *, 'c': *})"
    assert tree_leaves({2: "two", 10: "ten", 1: "one"}) == ["one", "two", "ten"]


def test_dict_insertion_order_irrelevant():
    d1 = {"x": 1, "y": 2}
    d2 = {"y": 2, "x": 1}
    assert tree_structure(d1) == tree_structure(d2)
    assert hash(tree_structure(d1)) == hash(tree_structure(d2))
    assert tree_leaves(d1) == tree_leaves(d2) == [1, 2]


def test_unsortable_dict_keys_raise():
    with pytest.raises(TypeError, match="sortable"):
        tree_flatten({1: "a", "b": 2})


# ---------------------------------------------------------------------------------------------
# None handling


def test_none_has_no_leaves():
    assert tree_leaves(None) == []
    assert tree_leaves([None, 1, (None,)]) == [1]
    assert tree_structure(None) != tree_structure(0)
    assert repr(tree_structure([None, 1])) == "PyTreeDef([None, *])"
    assert tree_map(lambda v: v * 2, [None, 1]) == [None, 2]


def test_none_as_leaf_via_is_leaf():
    leaves, treedef = tree_flatten([None, 1], is_leaf=lambda v: v is None)
    assert leaves == [None, 1]
    assert repr(treedef) == "PyTreeDef([*, *])"


# ---------------------------------------------------------------------------------------------
# is_leaf


def test_is_leaf_stops_recursion():
    tree = {"a": (1, 2), "b": [(3, 4), 5]}
    leaves, treedef = tree_flatten(tree, is_leaf=lambda v: isinstance(v, tuple))
    assert leaves == [(1, 2), (3, 4), 5]
    assert repr(treedef) == "PyTreeDef({'a': *, 'b': [*, *]})"
    assert strict_equal(treedef.unflatten(leaves), tree)


def test_is_leaf_applies_to_root():
    leaves, treedef = tree_flatten([1, 2], is_leaf=lambda v: isinstance(v, list))
    assert leaves == [[1, 2]]
    assert repr(treedef) == "PyTreeDef(*)"


def test_tree_map_is_leaf():
    out = tree_map(len, {"a": (1, 2), "b": [(3,)]}, is_leaf=lambda v: isinstance(v, tuple))
    assert out == {"a": 2, "b": [1]}


# ---------------------------------------------------------------------------------------------
# tree_map


def test_tree_map_single():
    out = tree_map(lambda v: v + 1, (1, [2, {"k": 3}], Point(4, 5)))
    assert strict_equal(out, (2, [3, {"k": 4}], Point(5, 6)))


def test_tree_map_multiple_trees():
    a = {"w": np.array([1.0, 2.0]), "b": (1, Point(2, 3))}
    b = {"w": np.array([10.0, 20.0]), "b": (10, Point(20, 30))}
    c = {"w": np.array([100.0, 200.0]), "b": (100, Point(200, 300))}
    out = tree_map(lambda x, y, z: x + y + z, a, b, c)
    assert strict_equal(out, {"w": np.array([111.0, 222.0]), "b": (111, Point(222, 333))})


def test_tree_map_structure_mismatch():
    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x + y, (1, 2), [1, 2])
    msg = str(info.value)
    assert "PyTreeDef((*, *))" in msg and "PyTreeDef([*, *])" in msg

    with pytest.raises(ValueError, match="mismatch"):
        tree_map(lambda x, y: x + y, {"a": 1}, {"b": 1})
    with pytest.raises(ValueError, match="mismatch"):
        tree_map(lambda x, y: x, (1, 2), (1, (2, 3)))
    with pytest.raises(ValueError, match="mismatch"):
        tree_map(lambda x, y: x, Point(1, 2), (1, 2))
    with pytest.raises(ValueError, match="mismatch"):
        tree_map(lambda x, y, z: x, [1], [1], [1, 2])


# ---------------------------------------------------------------------------------------------
# Wrong leaf count


def test_wrong_leaf_count():
    treedef = tree_structure((1, [2, 3]))
    with pytest.raises(ValueError, match="expected 3 leaves, got 2"):
        tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match="expected 3 leaves, got 4"):
        treedef.unflatten([1, 2, 3, 4])
    with pytest.raises(ValueError, match="expected 0 leaves, got 1"):
        tree_unflatten(tree_structure(None), [1])


def test_unflatten_accepts_iterators():
    treedef = tree_structure([0, 0, 0])
    assert tree_unflatten(treedef, iter(range(3))) == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# PyTreeDef hashing / equality / immutability


def test_treedef_equal_structures_hash_equal():
    t1 = tree_structure({"a": [1, np.zeros(3)], "b": (None, Point(1, 2))})
    t2 = tree_structure({"b": ("x", Point("y", "z")), "a": [3.0, "w"]})
    # different leaves inside the same containers: `b` has a leaf where t1 has None
    assert t1 != t2
    t3 = tree_structure({"b": (None, Point("y", "z")), "a": [3.0, "w"]})
    assert t1 == t3
    assert hash(t1) == hash(t3)
    assert {t1: "cached"}[t3] == "cached"


def test_treedef_different_structures_unequal():
    pairs = [
        ([1, 2], (1, 2)),
        ({"a": 1}, {"b": 1}),
        ({"a": 1}, {"a": 1, "b": 2}),
        ((1,), (1, 2)),
        ((1, None), (1, 2)),
        ((1, 2), Point(1, 2)),
        (Point(1, 2), Pair(1, 2)),
        ([[1]], [1]),
        (None, ()),
        (1, None),
    ]
    for x, y in pairs:
        dx, dy = tree_structure(x), tree_structure(y)
        assert dx != dy, (x, y)
        assert not (dx == dy)
        assert dx == tree_structure(copy.deepcopy(x))


class CollidingLabel:
    """Aux data whose hash always collides, so equality must compare aux data itself."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CollidingLabel) and self.name == other.name


def test_treedef_equality_checks_aux_data_not_just_hash():
    da = tree_structure(Box(CollidingLabel("a"), 1, 2))
    db = tree_structure(Box(CollidingLabel("b"), 1, 2))
    assert hash(da) == hash(db)
    assert da != db
    assert da == tree_structure(Box(CollidingLabel("a"), 3, 4))


def test_treedef_compares_unequal_to_other_types():
    treedef = tree_structure((1, 2))
    assert treedef != (1, 2)
    assert treedef != "PyTreeDef((*, *))"


def test_treedef_is_immutable():
    treedef = tree_structure([1, 2])
    assert isinstance(treedef, PyTreeDef)
    with pytest.raises(AttributeError):
        treedef.num_leaves = 5
    with pytest.raises(AttributeError):
        treedef._children = ()
    with pytest.raises(AttributeError):
        del treedef._aux
    assert treedef.num_leaves == 2


def test_treedef_repr_forms():
    assert repr(tree_structure((1,))) == "PyTreeDef((*,))"
    assert repr(tree_structure((1, {"a": 1, "b": None}))) == "PyTreeDef((*, {'a': *, 'b': None}))"
    assert repr(tree_structure({1: [], 0: ()})) == "PyTreeDef({0: (), 1: []})"
    assert repr(tree_structure(Pair(1, None))) == "PyTreeDef(Pair(first=*, second=None))"


# ---------------------------------------------------------------------------------------------
# Property-based round trips


def ref_leaves(x: object) -> list:
    """Independent reference for the flattening order (no code from fnad.tree)."""
    if x is None:
        return []
    if type(x) in (tuple, list, Point, Pair):
        return [leaf for c in x for leaf in ref_leaves(c)]
    if type(x) is dict:
        return [leaf for k in sorted(x) for leaf in ref_leaves(x[k])]
    if type(x) is Box:
        return ref_leaves(x.a) + ref_leaves(x.b)
    return [x]


leaf_values = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.booleans(),
    st.builds(np.array, st.lists(st.integers(-5, 5), max_size=3)),
)


def extend(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), children, max_size=4),
        st.builds(Point, children, children),
        st.builds(Pair, children, children),
        st.builds(Box, st.sampled_from(["p", "q"]), children, children),
    )


trees = st.recursive(st.one_of(leaf_values, st.none()), extend, max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_property_round_trip(x):
    leaves, treedef = tree_flatten(x)
    expected_leaves = ref_leaves(x)
    assert len(leaves) == len(expected_leaves) == treedef.num_leaves
    assert all(a is b for a, b in zip(leaves, expected_leaves))
    assert strict_equal(tree_unflatten(treedef, leaves), x)
    assert strict_equal(tree_map(lambda v: v, x), x)
    # structure is independent of leaf values, and stable under copying
    relabelled = tree_map(lambda v: "leaf", x)
    assert tree_structure(relabelled) == treedef
    assert hash(tree_structure(copy.deepcopy(x))) == hash(treedef)
    assert tree_leaves(relabelled) == ["leaf"] * len(leaves)
