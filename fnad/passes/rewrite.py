"""Helpers shared by passes: rebuilding a graph with variables replaced, use counts."""

from __future__ import annotations

from collections.abc import Callable

from fnad.core.graph import Atom, Graph, Node, Var


def uses(graph: Graph) -> dict[Var, int]:
    """How many times each variable is read (node inputs and graph outputs)."""
    count: dict[Var, int] = {}
    for node in graph.nodes:
        for a in node.inputs:
            if isinstance(a, Var):
                count[a] = count.get(a, 0) + 1
    for a in graph.outputs:
        if isinstance(a, Var):
            count[a] = count.get(a, 0) + 1
    return count


def rewrite(graph: Graph, step: Callable[[Node, tuple[Atom, ...]], Atom | Node | None]) -> Graph:
    """Walk the nodes in order with inputs already renamed; ``step(node, inputs)`` returns
    ``None`` to keep the node (with renamed inputs), an atom to replace its single output,
    a tuple of atoms to replace all its outputs, or a new node. Returns ``graph`` itself
    when nothing changed."""
    env: dict[Var, Atom] = {}
    nodes: list[Node] = []
    changed = False

    def rename(a: Atom) -> Atom:
        return env.get(a, a) if isinstance(a, Var) else a

    for node in graph.nodes:
        inputs = tuple(rename(a) for a in node.inputs)
        result = step(node, inputs)
        if result is None:
            if any(x is not y for x, y in zip(inputs, node.inputs)):
                node, changed = Node(node.prim, inputs, node.params, node.outs), True
            nodes.append(node)
        elif isinstance(result, Node):
            nodes.append(result)
            changed = True
        elif isinstance(result, tuple):
            env.update(zip(node.outs, result))
            changed = True
        else:
            env[node.outs[0]] = result
            changed = True
    if not changed:
        return graph
    return Graph(graph.inputs, tuple(nodes), tuple(rename(a) for a in graph.outputs))
