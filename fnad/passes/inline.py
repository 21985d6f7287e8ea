"""Inlining: call primitives become their sub-graphs, compile-time identities disappear.

Runs first in the pipeline, after differentiation has used what these primitives were
for (custom rules, rematerialization, ``stop_gradient``), so the code generator sees plain
primitives only and the cleanup passes can optimize across the former call boundaries.

* ``inline`` splices the ``graph`` param of primitives tagged ``inline`` (recursively,
  with fresh variables, so a sub-graph used twice stays SSA) and forwards the inputs of
  primitives tagged ``transparent``.
* ``drop_barriers`` forwards the inputs of ``barrier`` nodes. It runs after CSE: the
  barriers keep a checkpoint's recomputation from being merged with the forward values
  it recomputes, which would store them after all.
"""

from __future__ import annotations

from fnad.core.graph import Atom, Graph, Node, Var


def inline(graph: Graph) -> Graph:
    """``graph`` with ``inline`` primitives spliced and ``transparent`` ones erased."""
    return _splice(graph, ("inline", "transparent"))


def drop_barriers(graph: Graph) -> Graph:
    """``graph`` with ``barrier`` nodes erased (their outputs are their inputs)."""
    return _splice(graph, ("barrier",))


def _splice(graph: Graph, tags: tuple[str, ...]) -> Graph:
    if not any(node.prim.tags.get(t) for node in graph.nodes for t in tags):
        return graph
    nodes: list[Node] = []
    outs = _emit(graph, list(graph.inputs), nodes, tags, fresh=False)
    return Graph(graph.inputs, tuple(nodes), tuple(outs))


def _emit(
    graph: Graph, args: list[Atom], nodes: list[Node], tags: tuple[str, ...], fresh: bool
) -> list[Atom]:
    """Append ``graph``'s nodes applied to ``args`` to ``nodes``; return its outputs.
    ``fresh`` gives the copied nodes new output variables (for spliced sub-graphs)."""
    env: dict[Var, Atom] = dict(zip(graph.inputs, args))

    def rename(a: Atom) -> Atom:
        return env.get(a, a) if isinstance(a, Var) else a

    for node in graph.nodes:
        inputs = [rename(a) for a in node.inputs]
        if "inline" in tags and node.prim.tags.get("inline"):
            results = _emit(node.params["graph"], inputs, nodes, tags, fresh=True)
        elif any(node.prim.tags.get(t) for t in tags):
            results = inputs
        else:
            outs = tuple(Var(v.spec, v.hint) for v in node.outs) if fresh else node.outs
            nodes.append(Node(node.prim, tuple(inputs), node.params, outs))
            results = list(outs)
        env.update(zip(node.outs, results))
    return [rename(a) for a in graph.outputs]
