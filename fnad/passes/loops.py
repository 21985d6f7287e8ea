"""Loop passes: scans over the same inputs become one scan, and stacked outputs nobody
reads are no longer computed.

Reverse mode through ``scan`` records a second forward loop that also stacks residuals
(``ops/control._scan_vjp``); merging it with the primal loop runs the body once. Its
backward loop computes the cotangents of every input, including the ``xs`` a user rarely
differentiates; pruning drops those.
"""

from __future__ import annotations

from fnad.core.graph import Graph, Node, Var
from fnad.core.spec import ArraySpec
from fnad.core.trace import eval_graph, trace_graph
from fnad.ops.contract import einsum_p, parse
from fnad.ops.elementwise import add_p
from fnad.passes.cse import atom_key
from fnad.passes.dce import dce
from fnad.passes.rewrite import uses


def prune_scans(graph: Graph) -> Graph:
    """Drop the stacked outputs (``ys``) of scans that nothing reads."""
    count = uses(graph)
    nodes, changed = [], False
    for node in graph.nodes:
        if node.prim.name == "scan":
            nk = node.params["num_carry"]
            keep = [i for i, v in enumerate(node.outs) if i < nk or count.get(v, 0)]
            if len(keep) < len(node.outs):
                body = node.params["body"]
                body = dce(Graph(body.inputs, body.nodes, tuple(body.outputs[i] for i in keep)))
                params = {**node.params, "body": body}
                node = Node(node.prim, node.inputs, params, tuple(node.outs[i] for i in keep))
                changed = True
        nodes.append(node)
    return Graph(graph.inputs, tuple(nodes), graph.outputs) if changed else graph


def _key(node: Node) -> tuple:
    p = node.params
    inputs = tuple(atom_key(a) for a in node.inputs)
    return inputs, p["length"], p["reverse"], p["num_consts"], p["num_carry"]


def _merged(first: Node, later: Node, clean) -> Graph | None:
    """One body computing both scans' outputs, if their carries provably stay equal: with
    the carry inputs identified, ``clean`` (CSE) must map both carry outputs to the same
    values. Then, by induction over the steps, the two loops carry the same values."""
    a, b = first.params["body"], later.params["body"]
    if a.in_specs != b.in_specs:
        return None
    body = clean(trace_graph(lambda *xs: [*eval_graph(a, *xs), *eval_graph(b, *xs)], a.in_specs))
    nk, na = first.params["num_carry"], len(a.outputs)
    if any(x is not y for x, y in zip(body.outputs[:nk], body.outputs[na : na + nk])):
        return None
    return Graph(body.inputs, body.nodes, body.outputs[:na] + body.outputs[na + nk :])


def merge_scans(graph: Graph, clean) -> Graph:
    """Merge each scan into an earlier one over the same inputs with the same parameters,
    when their carries provably agree (``_merged``). ``clean`` is the cleanup pipeline."""
    seen: dict[tuple, int] = {}
    nodes: list[Node] = []
    alias: dict[Var, Var] = {}
    changed = False
    for node in graph.nodes:
        if alias:
            node = Node(
                node.prim, tuple(alias.get(x, x) for x in node.inputs), node.params, node.outs
            )
        if node.prim.name != "scan":
            nodes.append(node)
            continue
        key = _key(node)
        at = seen.get(key)
        body = None if at is None else _merged(nodes[at], node, clean)
        if body is None:
            seen.setdefault(key, len(nodes))
            nodes.append(node)
            continue
        first, nk, changed = nodes[at], node.params["num_carry"], True
        alias.update(zip(node.outs[:nk], first.outs[:nk]))
        outs = first.outs + node.outs[nk:]
        nodes[at] = Node(first.prim, first.inputs, {**first.params, "body": body}, outs)
    if not changed:
        return graph
    outputs = tuple(alias.get(x, x) for x in graph.outputs)
    return Graph(graph.inputs, tuple(nodes), outputs)


def hoist_accumulations(graph: Graph) -> Graph:
    """Sums of products over a loop become one product after it.

    A carry updated as ``acc + einsum(p, q)``, read nowhere else, with ``p`` and ``q``
    changing every step (as reverse mode accumulates a weight's gradient) is replaced by
    stacking ``p`` and ``q`` (or reading them from ``xs``) and, after the loop, one einsum
    summing over the steps too: one large BLAS call instead of one small call per step.
    """
    nodes, changed = [], False
    for node in graph.nodes:
        after: list[Node] = []
        while node.prim.name == "scan" and (done := _hoist_one(node)) is not None:
            node, after, changed = done[0], done[1:] + after, True
        nodes += [node, *after]
    return Graph(graph.inputs, tuple(nodes), graph.outputs) if changed else graph


def _hoist_one(scan: Node) -> list[Node] | None:
    p = scan.params
    body, nc, nk = p["body"], p["num_consts"], p["num_carry"]
    count = uses(body)
    made = {v: n for n in body.nodes for v in n.outs}
    carries, xs_in = body.inputs[nc : nc + nk], body.inputs[nc + nk :]
    for j, k_in in enumerate(carries):
        update = made.get(body.outputs[j])
        if update is None or update.prim.name != "add" or count.get(k_in) != 1:
            continue
        other = [a for a in update.inputs if a is not k_in]
        product = made.get(other[0]) if len(other) == 1 else None
        if product is None or product.prim.name != "einsum":
            continue
        if any(not isinstance(a, Var) or a in body.inputs[:nc] for a in product.inputs):
            continue  # both operands must change with the step
        old_ys = {id(v): scan.outs[i] for i, v in enumerate(body.outputs) if i >= nk}
        stacked = [a for a in product.inputs if a not in xs_in and id(a) not in old_ys]
        keep = [i for i in range(len(body.inputs)) if i != nc + j]
        outs = [*body.outputs[:j], *body.outputs[j + 1 :], *stacked]
        new_body = dce(Graph(tuple(body.inputs[i] for i in keep), body.nodes, tuple(outs)))
        ys = tuple(Var(ArraySpec((p["length"], *a.spec.shape), a.spec.dtype)) for a in stacked)
        params = {**p, "body": new_body, "num_carry": nk - 1}
        new_scan = Node(
            scan.prim,
            tuple(scan.inputs[i] for i in keep),
            params,
            (*scan.outs[:j], *scan.outs[j + 1 :], *ys),
        )
        whole = []
        for a in product.inputs:
            if a in xs_in:
                whole.append(scan.inputs[nc + nk + xs_in.index(a)])
            elif id(a) in old_ys:
                whole.append(old_ys[id(a)])
            else:
                whole.append(ys[stacked.index(a)])
        a_sub, b_sub, out_sub = parse(product.params["spec"])
        step = next(c for c in "zyxwvutsrqponmlkjihgfedcba" if c not in a_sub + b_sub + out_sub)
        spec = f"{step}{a_sub},{step}{b_sub}->{out_sub}"
        total = Var(product.outs[0].spec)
        summed = Node(einsum_p, tuple(whole), {"spec": spec}, (total,))
        final = Node(add_p, (scan.inputs[nc + j], total), {}, (scan.outs[j],))
        return [new_scan, summed, final]
    return None
