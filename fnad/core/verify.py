"""The graph verifier: the invariants every transform and pass must preserve."""

from __future__ import annotations

from fnad.core.graph import Graph, Literal, Var
from fnad.core.primitive import PRIMITIVES


class GraphError(ValueError):
    """A graph breaks an invariant of the IR."""


def verify(graph: Graph) -> Graph:
    """Check SSA form, registered primitives and every node's shape rule; return the graph.

    >>> import fnad, numpy as np
    >>> g = fnad.verify(fnad.make_graph(np.sin)(np.ones(2)))
    """
    defined: set[int] = set()

    def define(var: Var, where: str) -> None:
        if not isinstance(var, Var):
            raise GraphError(f"{where}: {var!r} is not a Var")
        if id(var) in defined:
            raise GraphError(f"{where}: variable defined twice")
        defined.add(id(var))

    def use(atom: object, where: str) -> None:
        if isinstance(atom, Literal):
            return
        if not isinstance(atom, Var) or id(atom) not in defined:
            raise GraphError(f"{where}: uses an undefined variable")

    for var in graph.inputs:
        define(var, "graph input")
    for i, node in enumerate(graph.nodes):
        where = f"node {i} ({node.prim.name})"
        if PRIMITIVES.get(node.prim.name) is not node.prim:
            raise GraphError(f"{where}: primitive is not in the registry")
        for atom in node.inputs:
            use(atom, where)
        specs = node.prim.abstract(*(a.spec for a in node.inputs), **node.params)
        specs = specs if node.prim.multiple_results else (specs,)
        if tuple(specs) != tuple(v.spec for v in node.outs):
            raise GraphError(f"{where}: outputs {[v.spec for v in node.outs]} != rule {specs}")
        for var in node.outs:
            define(var, where)
    for atom in graph.outputs:
        use(atom, "graph output")
    return graph
