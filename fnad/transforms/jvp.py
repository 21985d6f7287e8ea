"""Forward mode. The forward pass pairs every value with its tangent and calls each node's
JVP rule; like the backward pass it computes on arrays and records on tracers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.graph import Graph, Var
from fnad.core.spec import is_float
from fnad.core.trace import eval_env, read, to_spec, trace_graph
from fnad.transforms.common import check_differentiable, to_user, trace_concrete
from fnad.tree import tree_flatten, tree_unflatten


def jvp_pass(graph: Graph, env: dict[Var, Any], tangents: Sequence[Any]) -> list[Any]:
    """Tangents of ``graph.outputs`` given tangents of ``graph.inputs``; ``None`` is zero."""
    t_env = {v: t for v, t in zip(graph.inputs, tangents) if t is not None}
    for node in graph.nodes:
        ts = [t_env.get(a) if isinstance(a, Var) else None for a in node.inputs]
        if node.prim.nondiff or all(t is None for t in ts):
            continue
        xs = [read(env, a) for a in node.inputs]
        rule = node.prim.rule("jvp")
        if node.prim.multiple_results:
            outs = rule(ts, *xs, outs=tuple(env[v] for v in node.outs), **node.params)
        else:
            outs = (rule(ts, *xs, out=env[node.outs[0]], **node.params),)
        for var, t in zip(node.outs, outs):
            if t is not None and is_float(var.spec.dtype):
                t_env[var] = t
    return [t_env.get(a) if isinstance(a, Var) else None for a in graph.outputs]


def jvp_graph(graph: Graph) -> Graph:
    """Inputs ``(*primals, *tangents)``, outputs ``(*outputs, *output_tangents)``."""
    n = len(graph.inputs)

    def forward(*args: Any) -> list[Any]:
        env, outs = eval_env(graph, args[:n])
        ts = jvp_pass(graph, env, args[n:])
        return [*outs, *(np.zeros_like(o) if t is None else t for t, o in zip(ts, outs))]

    return trace_graph(forward, [*graph.in_specs, *graph.in_specs])


def jvp(
    f: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> tuple:
    """``(f(*primals), J @ tangents)``: forward-mode derivative along ``tangents``.
    With ``has_aux``, ``f`` returns ``(out, aux)`` and ``aux`` comes back third.

    >>> import fnad, numpy as np
    >>> fnad.jvp(np.sin, (np.zeros(2),), (np.ones(2),))
    (array([0., 0.]), array([1., 1.]))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    check_differentiable(f, primals, tuple(range(len(primals))), "jvp")
    p_leaves, p_tree = tree_flatten(primals)
    t_leaves, t_tree = tree_flatten(tangents)
    if p_tree != t_tree:
        raise ValueError(f"fnad.jvp: tangents {t_tree} do not match primals {p_tree}")
    for k, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        ps, ts = to_spec(p, "primal"), to_spec(t, "tangent")
        if ps.shape != ts.shape or ps.dtype != ts.dtype:
            raise ValueError(f"fnad.jvp: tangent {k} is {ts!r} but its primal is {ps!r}")
    trace = trace_concrete(f, primals, has_aux, fname="jvp")
    t_out = jvp_pass(
        trace.graph, trace.env, [*t_leaves, *[None] * (len(trace.graph.inputs) - trace.num_args)]
    )
    outs = trace.out_values
    t_out = [np.zeros_like(o) if t is None else t for t, o in zip(t_out, outs)]
    result = (
        tree_unflatten(trace.out_tree, [to_user(o) for o in outs]),
        tree_unflatten(trace.out_tree, [to_user(t) for t in t_out]),
    )
    return (*result, trace.aux) if has_aux else result
