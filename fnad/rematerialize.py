"""Rematerialization: ``checkpoint`` (alias ``remat``) and ``saved_residuals``.

``checkpoint(f)`` records ``f`` as one ``checkpoint_call`` node: the forward pass keeps
only its inputs and outputs, and its VJP recomputes the intermediates from the inputs
before running ``f``'s backward pass. ``saved_residuals(f, *args)`` lists what the
backward pass of ``f`` reads from its forward pass, so the saving can be checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fnad.core.graph import Graph, Node, Var
from fnad.core.spec import ArraySpec
from fnad.core.trace import Builder, bind, eval_env, to_spec, trace_graph
from fnad.custom_rules import trace_call
from fnad.ops.custom import checkpoint_call_p
from fnad.passes.dce import dce
from fnad.transforms.common import describe_arg
from fnad.transforms.vjp import backward_pass
from fnad.tree import tree_flatten, tree_leaves, tree_unflatten


def checkpoint(fun: Callable, *, static_argnums: int | Sequence[int] = ()) -> Callable:
    """``fun``, whose reverse-mode derivative recomputes ``fun``'s intermediate values
    from its inputs instead of keeping them from the forward pass: less memory, one more
    evaluation of ``fun``. ``static_argnums`` arguments are passed as Python values.

    >>> import fnad, numpy as np
    >>> layer = fnad.checkpoint(lambda x: np.tanh(np.sin(x)))
    >>> float(fnad.grad(lambda x: layer(x) * 2.0)(0.0))
    2.0
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def wrapped(*args: Any) -> Any:
        graph, operands, sig = trace_call(fun, args, nums, "checkpoint")
        outs = bind(checkpoint_call_p, *operands, graph=graph, name=sig.name)
        return tree_unflatten(sig.out_tree, outs)

    return wrapped


remat = checkpoint


@dataclass(frozen=True)
class Residual:
    """A value the backward pass keeps from the forward pass."""

    spec: ArraySpec
    #: Where it comes from: ``"argument 0 ('x')"`` or the primitive that computed it.
    source: str

    @property
    def shape(self) -> tuple[int, ...]:
        return self.spec.shape

    @property
    def dtype(self) -> np.dtype:
        return self.spec.dtype

    @property
    def nbytes(self) -> int:
        return self.spec.size * self.spec.dtype.itemsize

    def __str__(self) -> str:
        return f"{self.spec!r} from {self.source}"


def saved_residuals(f: Callable, *args: Any) -> list[Residual]:
    """The values reverse mode through ``f`` keeps from the forward pass to use in the
    backward pass, in the order they are computed: arguments and intermediate results.

    Traced abstractly on the shapes and dtypes of ``args``; the graph is the one ``vjp``
    records, before the compiler's optimizations.

    >>> import fnad, numpy as np
    >>> [str(r) for r in fnad.saved_residuals(lambda x: np.sum(np.sin(x) ** 2), np.ones(3))]
    ["f64[3] from argument 0 ('x')", 'f64[3] from sin']
    """
    in_tree = tree_flatten(args)[1]
    specs, sources = [], []
    for i, arg in enumerate(args):
        arg_leaves = tree_leaves(arg)
        for k, leaf in enumerate(arg_leaves):
            where = describe_arg(f, i) + (f", leaf {k}" if len(arg_leaves) > 1 else "")
            specs.append(to_spec(leaf, where))
            sources.append(where)
    graph = trace_graph(lambda *xs: tree_leaves(f(*tree_unflatten(in_tree, xs))), specs)
    both, forward = _forward_backward(graph)
    return _read_across(both, forward, dict(zip(both.inputs, sources)))


def _forward_backward(graph: Graph) -> tuple[Graph, set[Node]]:
    """The reverse-mode graph of ``graph`` (outputs: the input cotangents, dead code
    removed) and the set of its nodes that belong to the forward pass."""
    with Builder(concrete=False) as builder:
        primals = [builder.new_input(s) for s in graph.in_specs]
        env, _ = eval_env(graph, primals)
        forward = set(builder.nodes)
        cts = [builder.new_input(s) for s in graph.out_specs]
        grads = backward_pass(graph, env, cts, [True] * len(primals))
        both = builder.finish([g for g in grads if g is not None])
    return dce(both), forward


def _read_across(graph: Graph, forward: set[Node], sources: dict[Var, str]) -> list[Residual]:
    """Values defined by forward nodes or arguments and read by backward nodes."""
    origin = dict(sources)
    for node in graph.nodes:
        if node in forward:
            origin.update((v, node.prim.name) for v in node.outs)
    read = set()
    for node in graph.nodes:
        if node not in forward:
            read.update(a for a in node.inputs if isinstance(a, Var) and a in origin)
    order = [*graph.inputs, *(v for node in graph.nodes for v in node.outs)]
    return [Residual(v.spec, origin[v]) for v in order if v in read]
