"""Pytree utilities: flatten nested containers into leaves and a structure, and rebuild them.

A *pytree* is a nested structure of containers whose non-container parts are *leaves*. Built-in
containers are ``tuple``, ``list``, ``dict`` (children ordered by sorted keys, as in JAX), ``None``
(a node with no children, not a leaf) and namedtuples (any ``tuple`` subclass with ``_fields``,
rebuilt with its own class). Other classes become containers via :func:`register_pytree_node`.
Everything else (NumPy arrays, scalars, arbitrary objects) is a leaf.

>>> leaves, treedef = tree_flatten((1, {"b": None, "a": [2, 3]}))
>>> leaves
[1, 2, 3]
>>> treedef
PyTreeDef((*, {'a': [*, *], 'b': None}))
>>> tree_unflatten(treedef, [10, 20, 30])
(10, {'a': [20, 30], 'b': None})

:class:`PyTreeDef` is immutable, hashable and cheap to compare, so it can serve as a cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]

IsLeaf = Callable[[Any], bool] | None


class _Node:
    """How to take apart and rebuild one container type (internal)."""

    __slots__ = ("flatten", "unflatten")

    def __init__(self, flatten: Callable, unflatten: Callable) -> None:
        self.flatten = flatten  # obj -> (children, aux)
        self.unflatten = unflatten  # (type, aux, children tuple) -> obj


def _flatten_dict(d: dict) -> tuple[list, tuple]:
    try:
        keys = tuple(sorted(d))
    except TypeError as e:
        raise TypeError(f"pytree dict keys must be mutually sortable, got {list(d)!r}") from e
    return [d[k] for k in keys], keys


_NAMEDTUPLE = _Node(lambda t: (t, None), lambda typ, aux, ch: typ(*ch))

# Exact-type lookup table: the hot path does one dict lookup per node.
_registry: dict[type, _Node] = {
    tuple: _Node(lambda t: (t, None), lambda typ, aux, ch: ch),
    list: _Node(lambda t: (t, None), lambda typ, aux, ch: list(ch)),
    dict: _Node(_flatten_dict, lambda typ, aux, ch: dict(zip(aux, ch))),
    type(None): _Node(lambda t: ((), None), lambda typ, aux, ch: None),
}


class PyTreeDef:
    """Immutable description of a pytree's structure (containers and leaf positions).

    Hashable and comparable with ``==``; the hash is computed once at construction.

    >>> treedef = tree_structure([1, (2, 3)])
    >>> treedef.num_leaves
    3
    >>> treedef.unflatten(["a", "b", "c"])
    ['a', ('b', 'c')]
    """

    __slots__ = ("_type", "_node", "_aux", "_children", "_num_leaves", "_hash")

    def __init__(
        self, typ: type | None, node: _Node | None, aux: Any, children: tuple[PyTreeDef, ...]
    ) -> None:
        _set = object.__setattr__
        _set(self, "_type", typ)  # None marks a leaf
        _set(self, "_node", node)
        _set(self, "_aux", aux)
        _set(self, "_children", children)
        _set(self, "_num_leaves", 1 if typ is None else sum(c._num_leaves for c in children))
        try:
            h = hash((typ, aux, tuple([c._hash for c in children])))
        except TypeError as e:
            raise TypeError(
                f"pytree aux data for {typ.__name__} must be hashable, got {aux!r}"
            ) from e
        _set(self, "_hash", h)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("PyTreeDef is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("PyTreeDef is immutable")

    @property
    def num_leaves(self) -> int:
        """Number of leaves in the structure."""
        return self._num_leaves

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Rebuild a pytree of this structure from ``leaves`` (in flattening order)."""
        leaves = list(leaves)
        if len(leaves) != self._num_leaves:
            raise ValueError(
                f"tree_unflatten: expected {self._num_leaves} leaves, got {len(leaves)} "
                f"for structure {self!r}"
            )
        return _build(self, iter(leaves))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return (
            self._hash == other._hash
            and self._type is other._type
            and self._num_leaves == other._num_leaves
            and self._aux == other._aux
            and self._children == other._children
        )

    def __repr__(self) -> str:
        return f"PyTreeDef({self._str()})"

    def _str(self) -> str:
        typ, ch = self._type, [c._str() for c in self._children]
        if typ is None:
            return "*"
        if typ is tuple:
            return f"({ch[0]},)" if len(ch) == 1 else f"({', '.join(ch)})"
        if typ is list:
            return f"[{', '.join(ch)}]"
        if typ is dict:
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self._aux, ch)) + "}"
        if typ is type(None):
            return "None"
        if self._node is _NAMEDTUPLE:
            return f"{typ.__name__}(" + ", ".join(f"{f}={c}" for f, c in zip(typ._fields, ch)) + ")"
        return f"CustomNode({typ.__name__}[{self._aux!r}], [{', '.join(ch)}])"


_LEAF = PyTreeDef(None, None, None, ())


def _build(td: PyTreeDef, it: Any) -> Any:
    if td._type is None:
        return next(it)
    return td._node.unflatten(td._type, td._aux, tuple([_build(c, it) for c in td._children]))


def _flatten(tree: Any, leaves: list, is_leaf: IsLeaf) -> PyTreeDef:
    if is_leaf is not None and is_leaf(tree):
        leaves.append(tree)
        return _LEAF
    typ = type(tree)
    node = _registry.get(typ)
    if node is None:
        if issubclass(typ, tuple) and hasattr(typ, "_fields"):
            node = _NAMEDTUPLE
        else:
            leaves.append(tree)
            return _LEAF
    children, aux = node.flatten(tree)
    return PyTreeDef(typ, node, aux, tuple([_flatten(c, leaves, is_leaf) for c in children]))


def register_pytree_node(
    cls: type,
    flatten_fn: Callable[[Any], tuple[Iterable[Any], Any]],
    unflatten_fn: Callable[[Any, Iterable[Any]], Any],
) -> None:
    """Register ``cls`` as a container type (exact type match; subclasses are not included).

    ``flatten_fn(obj) -> (children, aux_data)``; ``aux_data`` must be hashable.
    ``unflatten_fn(aux_data, children) -> obj``.

    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    >>> tree_leaves(Pair(1, [2]))
    [1, 2]
    """
    if cls in _registry:
        raise ValueError(f"{cls.__name__} is already registered as a pytree node")
    _registry[cls] = _Node(flatten_fn, lambda typ, aux, ch: unflatten_fn(aux, ch))


def tree_flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Any], PyTreeDef]:
    """Flatten ``tree`` into ``(leaves, treedef)``; ``is_leaf(x)`` true stops recursion at ``x``.

    >>> tree_flatten({"b": 1, "a": (2, None)})
    ([2, 1], PyTreeDef({'a': (*, None), 'b': *}))
    """
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree from ``treedef`` and ``leaves``; ValueError if the count is wrong.

    >>> tree_unflatten(tree_structure([0, (0, 0)]), [1, 2, 3])
    [1, (2, 3)]
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Any]:
    """Return the leaves of ``tree`` in flattening order.

    >>> tree_leaves([1, {"y": 2, "x": 3}, None])
    [1, 3, 2]
    """
    leaves: list[Any] = []
    _flatten(tree, leaves, is_leaf)
    return leaves


def tree_structure(tree: Any, is_leaf: IsLeaf = None) -> PyTreeDef:
    """Return the :class:`PyTreeDef` of ``tree``.

    >>> tree_structure((1, [2, 3]))
    PyTreeDef((*, [*, *]))
    """
    return _flatten(tree, [], is_leaf)


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Apply ``f`` leafwise to ``tree`` and the same-structured trees in ``rest``.

    >>> tree_map(lambda x, y: x + y, {"a": 1, "b": (2,)}, {"a": 10, "b": (20,)})
    {'a': 11, 'b': (22,)}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    all_leaves = [leaves]
    for other in rest:
        other_leaves, other_def = tree_flatten(other, is_leaf)
        if other_def != treedef:
            raise ValueError(
                f"tree_map: structure mismatch: first tree has {treedef!r}, "
                f"another tree has {other_def!r}"
            )
        all_leaves.append(other_leaves)
    return treedef.unflatten([f(*xs) for xs in zip(*all_leaves)])
