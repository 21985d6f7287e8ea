"""Common subexpression elimination: one node for each (primitive, inputs, params)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from fnad.core.graph import Atom, Graph, Literal, Node, format_param, subgraphs
from fnad.passes.rewrite import rewrite


def atom_key(a: Atom) -> Any:
    if isinstance(a, Literal):
        data = np.ascontiguousarray(a.value)
        return ("lit", data.dtype.str, data.shape, hashlib.sha1(data.tobytes()).hexdigest())
    return id(a)


def param_key(value: Any) -> Any:
    """A param as a hashable key; a graph (a loop body, a region) by its fingerprint, which
    names its variables: two bodies of the same shape wired differently must differ."""
    graphs = subgraphs(value)
    if graphs:
        return tuple(g.fingerprint() for g in graphs)
    return format_param(value, lambda a: "", 0)


def node_key(prim_name: str, inputs: tuple[Atom, ...], params: dict[str, Any]) -> Any:
    text = tuple((k, param_key(params[k])) for k in sorted(params))
    return prim_name, tuple(atom_key(a) for a in inputs), text


def cse(graph: Graph) -> Graph:
    seen: dict[Any, Node] = {}

    def step(node: Node, inputs: tuple[Atom, ...]) -> Any:
        key = node_key(node.prim.name, inputs, node.params)
        prior = seen.get(key)
        if prior is None:
            seen[key] = node
            return None
        return prior.outs if node.prim.multiple_results else prior.outs[0]

    return rewrite(graph, step)
