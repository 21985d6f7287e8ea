"""Readable names for the leaves of pytree arguments, for error messages.

``leaf_paths(tree)`` follows the flattening order of ``fnad.tree`` and names each leaf by
how to reach it: ``['w'][0]`` for a dict holding a list, ``.bias`` for a namedtuple field.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fnad.tree import tree_leaves


def leaf_paths(tree: Any) -> list[str]:
    """One path per leaf of ``tree``, in ``fnad.tree`` flattening order ('' for a leaf).

    >>> leaf_paths({"b": [1, 2], "a": 3})
    ["['a']", "['b'][0]", "['b'][1]"]
    """
    paths: list[str] = []
    _walk(tree, "", paths)
    if len(paths) != len(tree_leaves(tree)):
        # A registered container the walk does not know: number the leaves instead.
        return [f"[leaf {k}]" for k in range(len(tree_leaves(tree)))]
    return paths


def _walk(tree: Any, prefix: str, paths: list[str]) -> None:
    if tree is None:
        return
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):
        for name, child in zip(type(tree)._fields, tree):
            _walk(child, f"{prefix}.{name}", paths)
    elif type(tree) in (tuple, list):
        for i, child in enumerate(tree):
            _walk(child, f"{prefix}[{i}]", paths)
    elif type(tree) is dict:
        for key in sorted(tree):
            _walk(tree[key], f"{prefix}[{key!r}]", paths)
    else:
        leaves = tree_leaves(tree)
        if len(leaves) == 1 and leaves[0] is tree:
            paths.append(prefix)
        else:
            paths.extend(f"{prefix}[leaf {k}]" for k in range(len(leaves)))


def argument_names(f: Callable, args: tuple) -> list[str]:
    """``"argument 0 ('x')"`` for each positional argument, with the name when known."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(len(args)):
        if i < len(params) and params[i].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            names.append(f"argument {i} ('{params[i].name}')")
        elif params and params[-1].kind is inspect.Parameter.VAR_POSITIONAL:
            names.append(f"argument {i} ('{params[-1].name}[{i - len(params) + 1}]')")
        else:
            names.append(f"argument {i}")
    return names


def describe_leaves(f: Callable, args: tuple) -> list[str]:
    """One description per leaf of ``args``: the argument and, inside a pytree, the path."""
    out = []
    for name, arg in zip(argument_names(f, args), args):
        for path in leaf_paths(arg):
            out.append(f"{name} at {path}" if path else name)
    return out
