"""``make_graph``: trace a function abstractly (static mode) and return its graph."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from fnad.core.graph import Graph
from fnad.core.trace import to_spec, trace_graph
from fnad.transforms.common import describe_arg, function_name
from fnad.tree import tree_flatten, tree_leaves, tree_unflatten


def split_static(args: tuple, static: Sequence[int]) -> tuple[list[Any], list[Any]]:
    """(dynamic arguments, static arguments) in positional order."""
    dyn = [a for i, a in enumerate(args) if i not in static]
    return dyn, [a for i, a in enumerate(args) if i in static]


def merge_static(dyn: Sequence[Any], args: tuple, static: Sequence[int]) -> list[Any]:
    it = iter(dyn)
    return [a if i in static else next(it) for i, a in enumerate(args)]


def make_graph(f: Callable, static_argnums: int | Sequence[int] = ()) -> Callable[..., Graph]:
    """``make_graph(f)(*args)`` traces ``f`` abstractly on the shapes and dtypes of ``args``.

    Arguments may be arrays or ``fnad.ArraySpec``; pytrees are flattened into the graph's
    inputs and outputs in order. ``static_argnums`` arguments are used as Python values.

    >>> import fnad, numpy as np
    >>> print(fnad.make_graph(lambda x, y: x * y + 1.0)(np.ones(2), np.ones(2)))
    { lambda a:f64[2] b:f64[2] .
        c:f64[2] = mul a b
        d:f64[2] = broadcast_to[shape=(2,)] 1.0
        e:f64[2] = add c d
      return e }
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(f)
    def maker(*args: Any) -> Graph:
        static_n = tuple(i % len(args) for i in static) if args else ()
        dyn, _ = split_static(args, static_n)
        leaves, in_tree = tree_flatten(dyn)
        positions = [i for i in range(len(args)) if i not in static_n]
        specs = []
        for i, arg in zip(positions, dyn):
            specs += [to_spec(x, describe_arg(f, i)) for x in tree_leaves(arg)]

        def run(*tracers: Any) -> list[Any]:
            dyn_args = tree_unflatten(in_tree, tracers)
            return tree_leaves(f(*merge_static(dyn_args, args, static_n)))

        return trace_graph(run, specs, f"make_graph({function_name(f)})")

    return maker
