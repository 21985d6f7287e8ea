"""Constant folding: nodes whose inputs are all literals become literals, when scalar.

Larger results stay nodes (a broadcast constant stays a broadcast), so folding neither
grows the graph's constants nor bakes array sizes into generated code."""

from __future__ import annotations

import numpy as np

from fnad.core.graph import Atom, Graph, Literal, Node
from fnad.passes.rewrite import rewrite

MAX_FOLDED = 1


def fold_constants(graph: Graph) -> Graph:
    def step(node: Node, inputs: tuple[Atom, ...]) -> Atom | None:
        if node.prim.multiple_results or not all(isinstance(a, Literal) for a in inputs):
            return None
        if node.out.spec.size > MAX_FOLDED:
            return None
        value = node.prim.impl(*(a.value for a in inputs), **node.params)
        return Literal(np.asarray(value, dtype=node.out.spec.dtype).reshape(node.out.spec.shape))

    return rewrite(graph, step)
