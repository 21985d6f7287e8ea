"""Structured control flow: ``cond``, ``switch``, ``fori_loop``, ``while_loop``, ``scan``.

Each traces its functions once into closed sub-graphs and records one node, which every
transform understands and the compiler turns into a real Python loop or ``if`` inside the
one generated function. Values the functions read from outside become explicit operands,
so gradients flow to them too. Carries are pytrees whose shapes and dtypes must not
change from one iteration to the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.graph import Graph, Var
from fnad.core.spec import ArraySpec
from fnad.core.trace import Builder, Tracer, bind, to_spec, with_location
from fnad.ops.control import cond_p, scan_call, while_call
from fnad.ops.elementwise import convert
from fnad.tree import PyTreeDef, tree_flatten, tree_unflatten


def _leaves(tree: Any, what: str) -> tuple[list[Any], PyTreeDef, list[ArraySpec]]:
    leaves, treedef = tree_flatten(tree)
    leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in leaves]
    return leaves, treedef, [to_spec(x, what) for x in leaves]


def _trace(fn: Callable, groups: Sequence[tuple[PyTreeDef, list[ArraySpec]]]):
    """Trace ``fn(*trees)`` abstractly: ``(inputs, outputs, out_tree, nodes, captured)``."""
    with Builder(concrete=False) as builder:
        args = [
            tree_unflatten(tree, [builder.new_input(s) for s in specs]) for tree, specs in groups
        ]
        out = fn(*args)
        out_leaves, out_tree = tree_flatten(out)
        graph = builder.finish(out_leaves)
    captured = [(var, x) for var, x in builder.captured.values()]
    explicit = graph.inputs[: len(graph.inputs) - len(captured)]
    return explicit, graph, out_tree, captured


def _close(traced: list, fname: str) -> tuple[list[Graph], list[Any]]:
    """Graphs taking ``(*consts, *explicit)`` where consts are every function's captures."""
    consts: dict[int, tuple[Any, ArraySpec]] = {}
    for _, _, _, captured in traced:
        for _, x in captured:
            consts.setdefault(id(x), (x, x.spec))
    graphs = []
    for explicit, graph, _, captured in traced:
        mine = {id(x): var for var, x in captured}
        inputs = [mine.get(key) or Var(spec) for key, (_, spec) in consts.items()]
        graphs.append(Graph((*inputs, *explicit), graph.nodes, graph.outputs))
    return graphs, [x for x, _ in consts.values()]


def _check_carry(
    fname: str, what: str, got: Graph, tree: PyTreeDef, out_tree, specs, skip: int = 0
) -> None:
    """The carry a body returns has the initial carry's structure, shapes and dtypes;
    ``skip`` leading leaves are fnad's own (a loop counter) and not counted in messages."""
    if out_tree != tree:
        raise TypeError(f"fnad.{fname}: {what} returned {out_tree}, but the carry is {tree}")
    for k, (g, s) in enumerate(zip(got.out_specs, specs)):
        if g != s:
            raise TypeError(
                f"fnad.{fname}: {what} returned carry leaf {k - skip} as {g!r}, but the "
                f"initial value is {s!r}; a carry keeps its shape and dtype (convert "
                "the initial value, e.g. np.float64(0) rather than 0)"
            )


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one node.

    Both branches are traced and must return the same structure, shapes and dtypes.

    >>> import fnad, numpy as np
    >>> fnad.cond(np.array(True), np.sin, np.cos, np.zeros(2))
    array([0., 0.])
    """
    index = convert(pred, np.bool_) if isinstance(pred, Tracer) else np.asarray(pred)
    if np.shape(index) != ():
        raise TypeError(f"fnad.cond: pred must be a scalar, got shape {np.shape(index)}")
    return switch(convert(index, np.int32), [false_fun, true_fun], *operands, fname="cond")


def switch(index: Any, branches: Sequence[Callable], *operands: Any, fname: str = "switch"):
    """``branches[index](*operands)``, with ``index`` clamped to the valid range."""
    if not branches:
        raise ValueError(f"fnad.{fname}: needs at least one branch")
    leaves, tree, specs = _leaves(tuple(operands), f"{fname} operand")
    traced = [_trace(lambda ops, b=b: b(*ops), [(tree, specs)]) for b in branches]
    for k, (_, graph, out_tree, _) in enumerate(traced):
        if out_tree != traced[0][2] or graph.out_specs != traced[0][1].out_specs:
            shown = list(graph.out_specs)
            first = list(traced[0][1].out_specs)
            raise TypeError(
                f"fnad.{fname}: branch {k} returns {out_tree} {shown} but branch 0 returns "
                f"{traced[0][2]} {first}; every branch must return the same structure"
            )
    graphs, consts = _close(traced, fname)
    index = index if isinstance(index, Tracer) else np.asarray(index)
    if to_spec(index, f"{fname} index").shape != () or index.dtype.kind not in "iub":
        raise TypeError(f"fnad.{fname}: the index must be a scalar integer, got {index!r}")
    outs = bind(cond_p, convert(index, np.int32), *consts, *leaves, branches=tuple(graphs))
    return tree_unflatten(traced[0][2], list(outs))


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; while cond_fun(val): val = body_fun(val)``, as one node. Reverse
    mode works even though the trip count is only known at run time.

    >>> import fnad
    >>> fnad.while_loop(lambda x: x < 10.0, lambda x: x * 2.0, 1.0)
    array(16.)
    """
    leaves, tree, specs = _leaves(init_val, "while_loop init_val")
    c = _trace(cond_fun, [(tree, specs)])
    b = _trace(body_fun, [(tree, specs)])
    if c[1].out_specs != (ArraySpec((), np.dtype(bool)),):
        raise TypeError(
            f"fnad.while_loop: cond_fun must return a scalar bool, got {list(c[1].out_specs)}"
        )
    _check_carry("while_loop", "body_fun", b[1], tree, b[2], specs)
    (cond_graph,), c_consts = _close([c], "while_loop")
    (body_graph,), b_consts = _close([b], "while_loop")
    try:
        outs = while_call(c_consts, b_consts, leaves, cond_graph, body_graph)
    except (TypeError, ValueError) as exc:
        raise with_location(exc) from None
    return tree_unflatten(tree, list(outs))


def scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    *,
    _caller: tuple[str, str, int] = ("scan", "f", 0),
) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final
    carry and the ``y`` stacked. With ``xs=None``, ``length`` says how many steps.

    >>> import fnad, numpy as np
    >>> fnad.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(1.0, 4.0))
    (array(6.), array([0., 2., 9.]))
    """
    c_leaves, c_tree, c_specs = _leaves(init, "scan init")
    x_leaves, x_tree, x_specs = _leaves(xs, "scan xs")
    lengths = {s.shape[0] for s in x_specs if s.shape}
    if any(not s.shape for s in x_specs) or len(lengths) > 1:
        raise ValueError(
            f"fnad.scan: every leaf of xs needs the same leading axis, got shapes "
            f"{[s.shape for s in x_specs]}"
        )
    if length is None:
        if not lengths:
            raise ValueError("fnad.scan: with no xs, pass length= (the number of steps)")
        (length,) = lengths
    elif lengths and lengths != {length}:
        raise ValueError(f"fnad.scan: length={length} but xs has leading axis {lengths.pop()}")
    slices = [ArraySpec(s.shape[1:], s.dtype) for s in x_specs]
    traced = _trace(f, [(c_tree, c_specs), (x_tree, slices)])
    carry_tree, y_tree = _pair(traced[2])
    (graph,), consts = _close([traced], "scan")
    n = len(c_leaves)
    carry_graph = Graph(graph.inputs, graph.nodes, graph.outputs[:n])
    _check_carry(*_caller[:2], carry_graph, c_tree, carry_tree, c_specs, _caller[2])
    outs = scan_call(consts, c_leaves, x_leaves, graph, int(length), bool(reverse))
    return tree_unflatten(c_tree, list(outs[:n])), tree_unflatten(y_tree, list(outs[n:]))


def _pair(tree: PyTreeDef) -> tuple[PyTreeDef, PyTreeDef]:
    """The two subtrees of a ``(carry, y)`` pair's tree."""
    dummy = tree_unflatten(tree, list(range(tree.num_leaves)))
    if not isinstance(dummy, tuple) or len(dummy) != 2:
        raise TypeError(f"fnad.scan: f must return a pair (carry, y), got {tree}")
    return tree_flatten(dummy[0])[1], tree_flatten(dummy[1])[1]


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val)``.

    With Python int bounds it is a ``scan`` (reverse mode stores one carry per step);
    with traced bounds, a ``while_loop``.

    >>> import fnad
    >>> fnad.fori_loop(0, 4, lambda i, x: x + i, 0.0)
    array(6.)
    """
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        lo, hi = int(lower), int(upper)

        def step(carry, _):
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        (_, val), _ = scan(
            step,
            (np.int64(lo), init_val),
            length=max(hi - lo, 0),
            _caller=("fori_loop", "body_fun", 1),
        )
        return val

    def body(carry):
        i, hi, val = carry
        return i + 1, hi, body_fun(i, val)

    start = convert(lower, np.int64) if isinstance(lower, Tracer) else np.int64(lower)
    stop = convert(upper, np.int64) if isinstance(upper, Tracer) else np.int64(upper)
    return while_loop(lambda c: c[0] < c[1], body, (start, stop, init_val))[2]
