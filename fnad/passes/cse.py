"""Common subexpression elimination: one node for each (primitive, inputs, params)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from fnad.core.graph import Atom, Graph, Literal, Node, format_param
from fnad.passes.rewrite import rewrite


def atom_key(a: Atom) -> Any:
    if isinstance(a, Literal):
        data = np.ascontiguousarray(a.value)
        return ("lit", data.dtype.str, data.shape, hashlib.sha1(data.tobytes()).hexdigest())
    return id(a)


def node_key(prim_name: str, inputs: tuple[Atom, ...], params: dict[str, Any]) -> Any:
    text = tuple((k, format_param(params[k], lambda a: "", 0)) for k in sorted(params))
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
