"""Fusion: maximal regions of elementwise nodes over one loop shape, with the reductions
that consume them, become ``fused`` nodes, each compiled as a single loop nest.

Nodes are visited in order. An elementwise node joins the region of one of its producers
(or the latest region of its shape) unless that would make the region wait for itself:
``after`` records which regions each value transitively waits for. Reduction results
leave their region, so nothing in the same loop can read them. The items (plain nodes and
regions) are then ordered topologically, stable in the original order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from fnad.core.graph import Graph, Node, Var
from fnad.ops.fused import fused_p
from fnad.passes.dce import dce
from fnad.passes.rewrite import uses

REDUCTIONS = ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod")


@dataclass(eq=False)
class _Region:
    id: int
    shape: tuple[int, ...]
    nodes: list[Node] = field(default_factory=list)
    waits: set[int] = field(default_factory=set)


def _fusible(node: Node) -> bool:
    return node.prim.elementwise or node.prim.name in REDUCTIONS


def _loop_shape(node: Node) -> tuple[int, ...]:
    return node.inputs[0].spec.shape if node.prim.name in REDUCTIONS else node.outs[0].spec.shape


def split_broadcasts(graph: Graph) -> Graph:
    """Give each fusible consumer of a broadcast its own copy of it.

    A broadcast read inside a loop is index arithmetic, free; shared between regions it
    would be materialized as an array as large as the loop. Unused originals are dropped.
    """
    made: dict[Var, Node] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.prim.name == "broadcast_to":
            made[node.outs[0]] = node
        if _fusible(node) and any(a in made for a in node.inputs if isinstance(a, Var)):
            inputs = []
            for a in node.inputs:
                source = made.get(a) if isinstance(a, Var) else None
                if source is not None:
                    copy = Node(source.prim, source.inputs, source.params, (Var(a.spec, a.hint),))
                    nodes.append(copy)
                    a = copy.outs[0]
                inputs.append(a)
            node = Node(node.prim, tuple(inputs), node.params, node.outs)
        nodes.append(node)
    return dce(Graph(graph.inputs, tuple(nodes), graph.outputs)) if made else graph


def fuse(graph: Graph) -> Graph:
    graph = split_broadcasts(graph)
    regions: list[_Region] = []
    region_of: dict[Var, _Region] = {}  # values computed inside a loop (not reductions)
    after: dict[Var, frozenset[int]] = {}
    placed: list[object] = []  # plain nodes and regions, in first-seen order

    def waits_of(a) -> frozenset[int]:
        if not isinstance(a, Var):
            return frozenset()
        return after.get(a, frozenset())

    def closure(ids: set[int]) -> set[int]:
        seen, stack = set(), list(ids)
        while stack:
            r = stack.pop()
            if r not in seen:
                seen.add(r)
                stack.extend(regions[r].waits)
        return seen

    # Broadcasts of values from outside any loop wait here and join their consumer's region.
    pending: dict[Var, Node] = {}

    def new_region(shape: tuple[int, ...]) -> _Region:
        region = _Region(len(regions), shape)
        regions.append(region)
        placed.append(region)
        return region

    def flush(a) -> None:
        """A pending broadcast read by a plain node or a graph output: its own region."""
        node = pending.pop(a, None) if isinstance(a, Var) else None
        if node is not None:
            region = new_region(node.outs[0].spec.shape)
            region.nodes.append(node)
            region.waits |= set(waits_of(node.inputs[0]))
            region_of[a] = region
            after[a] = frozenset({region.id})

    for node in graph.nodes:
        src = node.inputs[0] if node.inputs else None
        if node.prim.name == "broadcast_to" and not (isinstance(src, Var) and src in region_of):
            pending[node.outs[0]] = node
            after[node.outs[0]] = waits_of(src)
            continue
        if not _fusible(node):
            for a in node.inputs:
                flush(a)
            deps = frozenset().union(*(waits_of(a) for a in node.inputs))
            for v in node.outs:
                after[v] = deps
            placed.append(node)
            continue
        shape = _loop_shape(node)
        candidates = [region_of[a] for a in node.inputs if isinstance(a, Var) and a in region_of]
        candidates += [r for r in reversed(regions) if r.shape == shape][:1]
        chosen = None
        for region in sorted(set(candidates), key=lambda r: -r.id):
            if region.shape != shape:
                continue
            external = set().union(
                *(waits_of(a) for a in node.inputs if region_of.get(a) is not region)
            )
            if region.id not in closure(external):
                chosen, new_waits = region, external
                break
        if chosen is None:
            chosen = new_region(shape)
            new_waits = set().union(*(waits_of(a) for a in node.inputs))
        for a in node.inputs:
            source = pending.get(a) if isinstance(a, Var) else None
            if source is not None and source.outs[0].spec.shape == shape:
                del pending[a]
                chosen.nodes.append(source)
                region_of[a] = chosen
            elif source is not None:
                flush(a)
        chosen.nodes.append(node)
        chosen.waits |= new_waits - {chosen.id}
        for v in node.outs:
            after[v] = frozenset({chosen.id})
            if node.prim.name not in REDUCTIONS:
                region_of[v] = chosen
    for a in graph.outputs:
        flush(a)
    if not regions:
        return graph
    return _assemble(graph, placed, regions, region_of)


def _assemble(graph: Graph, placed, regions, region_of) -> Graph:
    counts = uses(graph)
    items = []
    for item in placed:
        if isinstance(item, Node):
            items.append(item)
            continue
        defined = {v for n in item.nodes for v in n.outs}
        internal_uses: dict[Var, int] = {}
        inputs: list[Var] = []
        for n in item.nodes:
            for a in n.inputs:
                if isinstance(a, Var):
                    if a in defined:
                        internal_uses[a] = internal_uses.get(a, 0) + 1
                    elif a not in inputs:
                        inputs.append(a)
        outs = [v for n in item.nodes for v in n.outs if counts.get(v, 0) > internal_uses.get(v, 0)]
        region = Graph(tuple(inputs), tuple(item.nodes), tuple(outs))
        items.append(Node(fused_p, tuple(inputs), {"region": region}, tuple(outs)))
    return Graph(graph.inputs, tuple(_toposort(items)), graph.outputs)


def _toposort(items: list[Node]) -> list[Node]:
    """Order nodes so every input is defined first, keeping the given order where possible."""
    producer = {v: i for i, n in enumerate(items) for v in n.outs}
    users: list[list[int]] = [[] for _ in items]
    pending = [0] * len(items)
    for i, n in enumerate(items):
        for p in {producer[a] for a in n.inputs if isinstance(a, Var) and a in producer}:
            users[p].append(i)
            pending[i] += 1
    ready = [i for i in range(len(items)) if pending[i] == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(items[i])
        for u in users[i]:
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(items):
        raise AssertionError("fnad: fusion produced a cycle")
    return order
