"""Dead code elimination: drop nodes none of whose outputs is used (all primitives are pure)."""

from __future__ import annotations

from fnad.core.graph import Graph, Var


def dce(graph: Graph) -> Graph:
    live = {id(a) for a in graph.outputs if isinstance(a, Var)}
    kept = []
    for node in reversed(graph.nodes):
        if any(id(v) in live for v in node.outs):
            kept.append(node)
            live.update(id(a) for a in node.inputs if isinstance(a, Var))
    if len(kept) == len(graph.nodes):
        return graph
    return Graph(graph.inputs, tuple(reversed(kept)), graph.outputs)
