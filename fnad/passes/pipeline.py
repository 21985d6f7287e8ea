"""The optimization pipeline: the one place that decides which passes run, in what order."""

from __future__ import annotations

from collections.abc import Callable

from fnad.core.graph import Graph, Node, map_subgraphs
from fnad.passes.cse import cse
from fnad.passes.dce import dce
from fnad.passes.fold import fold_constants
from fnad.passes.fuse import fuse
from fnad.passes.inline import drop_barriers, inline
from fnad.passes.loops import hoist_accumulations, merge_scans, prune_scans
from fnad.passes.simplify import simplify

Pass = Callable[[Graph], Graph]

#: Cleanup passes, repeated until none of them changes the graph.
CLEANUP: tuple[Pass, ...] = (simplify, fold_constants, cse, dce, prune_scans)
MAX_ROUNDS = 8


def cleanup(graph: Graph, check: Pass | None = None) -> Graph:
    for _ in range(MAX_ROUNDS):
        before = graph
        for p in CLEANUP:
            graph = p(graph)
            if check is not None:
                check(graph)
        if graph is before:
            break
    return graph


def optimize(graph: Graph, check: Pass | None = None, fusion: bool = True) -> Graph:
    """Inline call primitives; simplify, fold, CSE, DCE and prune unread loop outputs to a
    fixed point, merging loops over the same inputs; drop
    barriers; then fuse elementwise regions. The sub-graphs of control flow (loop bodies,
    branches) are optimized the same way.

    ``check`` (e.g. ``fnad.verify``) runs after every pass; the tests pass it.
    """
    graph = inline(graph)
    if check is not None:
        check(graph)
    # NOTE: loops merge before their bodies are fused, while CSE can still see into them.
    graph = hoist_accumulations(merge_scans(cleanup(graph, check), cleanup))
    graph = _inner(graph, lambda g: optimize(g, check, fusion))
    graph = cleanup(graph, check)
    # NOTE: barriers go only after CSE, which they exist to stop (see passes/inline.py).
    graph = drop_barriers(graph)
    if fusion:
        graph = fuse(graph)
        if check is not None:
            check(graph)
    return graph


def _inner(graph: Graph, fn: Pass) -> Graph:
    """``graph`` with ``fn`` applied to the sub-graphs its nodes hold (not fused regions)."""
    nodes, changed = [], False
    for node in graph.nodes:
        if node.prim.name != "fused":
            params = {k: map_subgraphs(v, fn) for k, v in node.params.items()}
            if any(params[k] is not node.params[k] for k in params):
                node, changed = Node(node.prim, node.inputs, params, node.outs), True
        nodes.append(node)
    return Graph(graph.inputs, tuple(nodes), graph.outputs) if changed else graph
