"""Partial evaluation: split a graph into what its known inputs determine and the rest.

The scan VJP uses it on a loop body's backward graph: the known part (everything that
depends on the primal values only) runs in the forward loop and stacks its residuals;
the unknown part (what needs the cotangents) runs in the backward loop. This is how a
scan's reverse mode stores what the backward needs instead of recomputing the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from fnad.core.graph import Atom, Graph, Literal, Var
from fnad.passes.dce import dce

#: Nodes never moved into the known part: a barrier starts the recomputation of a
#: ``checkpoint``, which must stay in the backward pass to save memory.
_STAY_UNKNOWN = ("barrier",)
#: Known nodes the unknown part recomputes rather than reading as residuals: a broadcast
#: or a reshape is free to redo inside a loop, and a broadcast as large as the loop to store.
_RECOMPUTED = ("broadcast_to", "reshape", "iota")


@dataclass(frozen=True)
class Split:
    """``known``: known inputs -> (known outputs, *residuals); ``unknown``: (*residuals,
    *unknown inputs) -> unknown outputs. ``residuals`` are Vars of the original graph."""

    known: Graph
    unknown: Graph
    residuals: tuple[Var, ...]


def split_known(graph: Graph, known_inputs: list[bool], known_outputs: list[bool]) -> Split:
    """Split ``graph``: inputs flagged in ``known_inputs`` are known, and the outputs
    flagged in ``known_outputs`` must be computable from them (else ``ValueError``)."""
    known = {v for v, k in zip(graph.inputs, known_inputs) if k}
    known_nodes, unknown_nodes = [], []
    for node in graph.nodes:
        if node.prim.name not in _STAY_UNKNOWN and all(
            isinstance(a, Literal) or a in known for a in node.inputs
        ):
            known_nodes.append(node)
            known.update(node.outs)
            if node.prim.name in _RECOMPUTED:
                unknown_nodes.append(node)  # dropped again by DCE where unused
        else:
            unknown_nodes.append(node)
    wanted = [a for a, k in zip(graph.outputs, known_outputs) if k]
    rest = [a for a, k in zip(graph.outputs, known_outputs) if not k]
    if any(isinstance(a, Var) and a not in known for a in wanted):
        raise ValueError("fnad: an output flagged known depends on unknown inputs")
    residuals: dict[Var, None] = {}
    unknown_graph = dce(Graph((), tuple(unknown_nodes), tuple(rest)))
    recomputed = {v for n in unknown_graph.nodes if n.prim.name in _RECOMPUTED for v in n.outs}
    for atom in [a for n in unknown_graph.nodes for a in n.inputs] + rest:
        if isinstance(atom, Var) and atom in known and atom not in recomputed:
            residuals.setdefault(atom)
    res = tuple(residuals)
    known_in = tuple(v for v, k in zip(graph.inputs, known_inputs) if k)
    unknown_in = tuple(v for v, k in zip(graph.inputs, known_inputs) if not k)
    known_graph = dce(Graph(known_in, tuple(known_nodes), (*wanted, *res)))
    unknown_graph = Graph((*res, *unknown_in), unknown_graph.nodes, tuple(rest))
    return Split(known_graph, unknown_graph, res)


def position(atom: Atom, inputs: tuple[Var, ...]) -> int | None:
    """The index of ``atom`` among ``inputs``, or None."""
    for i, v in enumerate(inputs):
        if v is atom:
            return i
    return None
