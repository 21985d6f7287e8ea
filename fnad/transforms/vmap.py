"""Batching. ``vmap(f)`` traces ``f`` once on one example's shapes, then walks the graph
calling each node's batching rule on the batched values: the result is one batched graph
(or one batched NumPy computation), never a Python loop over the examples.

Inside the walk every batched value carries its batch axis first; ``in_axes`` and
``out_axes`` move axes only at the boundary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.graph import Graph, Var
from fnad.core.spec import ArraySpec
from fnad.core.trace import Builder, Tracer, bind, node_hint, read, to_spec, user_location
from fnad.ops.shape import broadcast_to, moveaxis
from fnad.transforms.common import to_user
from fnad.tree import PyTreeDef, tree_flatten, tree_structure, tree_unflatten


def vmap_pass(
    graph: Graph, args: Sequence[Any], batched: Sequence[bool], size: int
) -> tuple[list[Any], list[bool]]:
    """Run ``graph`` on ``args``, where ``batched[i]`` says ``args[i]`` has an extra
    leading axis of length ``size``. Returns the outputs and which of them are batched."""
    env: dict[Var, Any] = dict(zip(graph.inputs, args))
    is_batched = {v for v, b in zip(graph.inputs, batched) if b}
    for node in graph.nodes:
        xs = [read(env, a) for a in node.inputs]
        flags = tuple(isinstance(a, Var) and a in is_batched for a in node.inputs)
        with node_hint(node):
            if not any(flags):
                outs = bind(node.prim, *xs, **node.params)
            else:
                outs = node.prim.rule("batch")(tuple(xs), flags, size, **node.params)
                is_batched.update(node.outs)
        env.update(zip(node.outs, outs if node.prim.multiple_results else (outs,)))
    outs = [read(env, a) for a in graph.outputs]
    return outs, [isinstance(a, Var) and a in is_batched for a in graph.outputs]


def _flat_axes(axes: Any, tree: Any, what: str) -> list[int | None]:
    """One axis per leaf of ``tree``: ``axes`` is an int, None, or a pytree prefix of it."""
    if axes is None or isinstance(axes, int):
        return [axes] * len(tree_flatten(tree)[0])
    if isinstance(axes, list) and isinstance(tree, tuple):
        axes = tuple(axes)
    if isinstance(axes, (tuple, list, dict)) and type(axes) is type(tree):
        keys = sorted(axes) if isinstance(axes, dict) else range(len(axes))
        if (sorted(tree) if isinstance(tree, dict) else range(len(tree))) != keys:
            raise ValueError(
                f"fnad.vmap: {what} {axes!r} does not match the structure "
                f"{tree_structure(tree)} of the arguments"
            )
        flat: list[int | None] = []
        for k in keys:
            flat += _flat_axes(axes[k], tree[k], what)
        return flat
    raise ValueError(
        f"fnad.vmap: {what} must be an int, None, or a tuple/list/dict prefix of the "
        f"arguments' structure {tree_structure(tree)}, got {axes!r}"
    )


def _batch_size(leaves: list[Any], axes: list[int | None], axis_size: int | None) -> int:
    sizes = {}
    for k, (leaf, axis) in enumerate(zip(leaves, axes)):
        if axis is None:
            continue
        shape = to_spec(leaf, f"vmap input {k}").shape
        if not -len(shape) <= axis < len(shape):
            raise ValueError(
                f"fnad.vmap: in_axes {axis} is out of range for input {k} of shape {shape}"
            )
        sizes.setdefault(shape[axis], []).append(k)
    if len(sizes) > 1:
        detail = ", ".join(f"size {n} for inputs {ks}" for n, ks in sorted(sizes.items()))
        raise ValueError(f"fnad.vmap: the batched axes have different sizes: {detail}")
    if sizes:
        (size,) = sizes
        if axis_size is not None and axis_size != size:
            raise ValueError(f"fnad.vmap: axis_size={axis_size} but the inputs have size {size}")
        return size
    if axis_size is None:
        raise ValueError(
            "fnad.vmap: no input is batched (in_axes are all None); pass axis_size= to "
            "say how many copies to make"
        )
    return axis_size


def _trace(f: Callable, in_tree: PyTreeDef, specs: list[ArraySpec]):
    with Builder(concrete=False) as builder:
        tracers = [builder.new_input(s) for s in specs]
        out = f(*tree_unflatten(in_tree, tracers))
        out_leaves, out_tree = tree_flatten(out)
        graph = builder.finish(out_leaves)
    return graph, out_tree, [x for _, x in builder.captured.values()]


def vmap(
    f: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_size: int | None = None
) -> Callable:
    """Vectorize ``f`` over an axis of its inputs: ``vmap(f)(xs)[i] == f(xs[i])``.

    ``in_axes`` (an int, None for unbatched, or a tuple/dict prefix of the arguments)
    says which axis of each input is mapped; ``out_axes`` where the batch axis goes in
    each output. The whole batch runs as one graph, under ``jit`` one compiled kernel.

    >>> import fnad, numpy as np
    >>> fnad.vmap(lambda w, x: w @ x, in_axes=(None, 0))(np.eye(2), np.ones((3, 2)))
    array([[1., 1.],
           [1., 1.],
           [1., 1.]])
    """

    @functools.wraps(f)
    def batched(*args: Any) -> Any:
        leaves, in_tree = tree_flatten(args)
        axes = _flat_axes(in_axes, args, "in_axes")
        size = _batch_size(leaves, axes, axis_size)
        moved, specs = [], []
        for k, (leaf, axis) in enumerate(zip(leaves, axes)):
            leaf = leaf if isinstance(leaf, Tracer) else np.asarray(leaf)
            spec = to_spec(leaf, f"vmap input {k}")
            if axis is not None:
                axis %= len(spec.shape)
                leaf = moveaxis(leaf, axis, 0)
                spec = ArraySpec(spec.shape[:axis] + spec.shape[axis + 1 :], spec.dtype)
            moved.append(leaf)
            specs.append(spec)
        graph, out_tree, captured = _trace(f, in_tree, specs)
        flags = [a is not None for a in axes] + [False] * len(captured)
        outs, out_batched = vmap_pass(graph, [*moved, *captured], flags, size)
        out_ax = _flat_axes(out_axes, tree_unflatten(out_tree, outs), "out_axes")
        results = []
        for k, (out, b, axis) in enumerate(zip(outs, out_batched, out_ax)):
            results.append(to_user(_place(out, b, axis, size, k)))
        return tree_unflatten(out_tree, results)

    return batched


def _place(out: Any, is_batched: bool, axis: int | None, size: int, k: int) -> Any:
    """Move an output's batch axis from the front to ``axis``."""
    if axis is None:
        if is_batched:
            raise ValueError(
                f"fnad.vmap: out_axes is None for output {k}, but it depends on the batched "
                f"inputs\n  at {user_location()}"
            )
        return out
    if not is_batched:
        out = broadcast_to(out, (size, *np.shape(out)))
    ndim = np.ndim(out)
    if not -ndim <= axis < ndim:
        raise ValueError(f"fnad.vmap: out_axes {axis} is out of range for output {k}")
    return moveaxis(out, 0, axis % ndim)
