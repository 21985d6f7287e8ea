"""Algebraic simplification: identities that tracing and differentiation leave behind.

x*1, 1*x, x+(-0), (-0)+x, x-(+0) -> x; neg(neg x) -> x; reshape of reshape, transpose of
transpose and broadcast of broadcast collapse to one node (or none); a reshaped or
transposed broadcast of a scalar stays a broadcast; converting to the same dtype is
dropped. "1" and "0" include broadcasts of such scalars. IEEE decides the zeros: x + (+0.0)
turns -0.0 into +0.0, so only a negative float zero is an additive identity (any integer
zero is).
"""

from __future__ import annotations

import numpy as np

from fnad.core.graph import Atom, Graph, Literal, Node, Var
from fnad.passes.rewrite import rewrite


def _constant(atom: Atom, producers: dict[Var, Node]) -> np.ndarray | None:
    """The value of a literal, or of a broadcast of a literal, else None."""
    if isinstance(atom, Literal):
        return atom.value
    node = producers.get(atom)
    if (
        node is not None
        and node.prim.name == "broadcast_to"
        and isinstance(node.inputs[0], Literal)
    ):
        return node.inputs[0].value
    return None


def _is(atom: Atom, value: float, producers: dict[Var, Node]) -> bool:
    const = _constant(atom, producers)
    return const is not None and const.size > 0 and bool(np.all(const == value))


def _is_zero(atom: Atom, negative: bool, producers: dict[Var, Node]) -> bool:
    """Whether ``atom`` is a constant zero whose float parts all have sign ``negative``."""
    const = _constant(atom, producers)
    if const is None or const.size == 0 or not np.all(const == 0):
        return False
    if const.dtype.kind not in "fc":
        return True
    parts = (const.real, const.imag) if const.dtype.kind == "c" else (const,)
    return all(bool(np.all(np.signbit(p) == negative)) for p in parts)


def _remake(node: Node, inputs: tuple[Atom, ...], **params) -> Node:
    return Node(node.prim, inputs, {**node.params, **params}, node.outs)


def simplify(graph: Graph) -> Graph:
    producers: dict[Var, Node] = {}

    def step(node: Node, inputs: tuple[Atom, ...]) -> Atom | Node | None:
        result = _simplify_node(node, inputs, producers)
        if isinstance(result, Node):
            producers[result.outs[0]] = result
        elif result is None:
            producers[node.outs[0]] = Node(node.prim, inputs, node.params, node.outs)
        return result

    return rewrite(graph, step)


def _simplify_node(node: Node, inputs: tuple[Atom, ...], producers) -> Atom | Node | None:
    name, out = node.prim.name, node.outs[0]
    if name == "mul":
        x, y = inputs
        if _is(y, 1, producers):
            return x
        if _is(x, 1, producers):
            return y
    elif name == "add":
        x, y = inputs
        if _is_zero(y, True, producers):
            return x
        if _is_zero(x, True, producers):
            return y
    elif name == "sub":
        x, y = inputs
        if _is_zero(y, False, producers):
            return x
    elif name == "neg":
        inner = producers.get(inputs[0])
        if inner is not None and inner.prim.name == "neg":
            return inner.inputs[0]
    elif name == "convert" and inputs[0].spec.dtype == out.spec.dtype:
        return inputs[0]
    elif name in ("reshape", "broadcast_to", "transpose"):
        return _collapse(node, inputs, producers)
    return None


def _collapse(node: Node, inputs: tuple[Atom, ...], producers) -> Atom | Node | None:
    (x,) = inputs
    out = node.outs[0]
    if x.spec == out.spec and node.prim.name != "transpose":
        return x
    inner = producers.get(x)
    if inner is not None and inner.prim.name == "broadcast_to" and node.prim.name != "broadcast_to":
        # NOTE: a reshaped or transposed broadcast scalar is a broadcast scalar: keeping it a
        # broadcast lets fusion read it by index instead of materializing it.
        source = inner.inputs[0]
        if source.spec.size == 1 and source.spec.ndim <= out.spec.ndim:
            return Node(inner.prim, (source,), {"shape": out.spec.shape}, node.outs)
    if inner is None or inner.prim.name != node.prim.name:
        if node.prim.name == "transpose" and node.params["perm"] == tuple(range(x.spec.ndim)):
            return x
        return None
    source = inner.inputs[0]
    if node.prim.name == "transpose":
        perm = tuple(inner.params["perm"][p] for p in node.params["perm"])
        if perm == tuple(range(len(perm))):
            return source
        return _remake(node, (source,), perm=perm)
    if source.spec.shape == out.spec.shape:
        return source
    return _remake(node, (source,))
