"""Control flow in generated code: ``cond`` as ``if``/``elif``, ``scan`` as a ``for`` loop,
``while`` as a ``while`` loop, all inside the one generated function. A sub-graph's
nodes are emitted in the loop body; its inputs are plain local names, so a carry is
rebound each iteration and nothing is allocated per step beyond what the body computes.

``while_grad`` records each iteration's carry on a tape that doubles when full, then
runs the body's VJP over it backwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fnad.core.graph import Atom, Graph, Node, Var

if TYPE_CHECKING:
    from fnad.codegen.cpu import Emitter


def _bind(em: Emitter, names: Sequence[Var], exprs: Sequence[str]) -> None:
    for var, expr in zip(names, exprs):
        em.emit(f"{em.name(var)} = {expr}")
        if var.spec.ndim:
            em.learn_dims(em.name(var), var.spec)


def _body(em: Emitter, graph: Graph) -> list[str]:
    """Emit ``graph``'s nodes (its inputs already bound); expressions for its outputs."""
    from fnad.codegen.cpu import emit_node

    for node in graph.nodes:
        emit_node(node, em)
    return [em.atom(a) for a in graph.outputs]


def _assign(em: Emitter, targets: Sequence[str], exprs: Sequence[str]) -> None:
    if targets:
        comma = "," if len(targets) == 1 else ""
        em.emit(f"{', '.join(targets)}{comma} = {', '.join(exprs)}{comma}")


# NOTE: names from ``em.fresh`` end in a number; their stems must differ from the fixed
# names other emitters use (``n0`` loop sizes, ``i0`` indices, ``k0`` constants).


class _Nested:
    """Statements one level deeper; dimensions learned inside stay inside."""

    def __init__(self, em: Emitter) -> None:
        self.em = em

    def __enter__(self) -> None:
        self.dims = dict(self.em.dims)
        self.em.indent += 1

    def __exit__(self, *exc: object) -> None:
        self.em.indent -= 1
        self.em.dims = self.dims


def _cond(node: Node, em: Emitter) -> None:
    index, *ops = node.inputs
    branches = node.params["branches"]
    outs = [em.name(v) for v in node.outs]
    k = em.fresh("branch")
    em.emit(f"{k} = min(max({em.atom(index)}, 0), {len(branches) - 1})")
    for j, branch in enumerate(branches):
        head = "if" if j == 0 else "elif" if j < len(branches) - 1 else "else"
        em.emit(f"{head} {k} == {j}:" if head != "else" else "else:")
        with _Nested(em):
            _bind(em, branch.inputs, [em.atom(a) for a in ops])
            _assign(em, outs, _body(em, branch))


def _scan(node: Node, em: Emitter) -> None:
    p = node.params
    body, nc, nk = p["body"], p["num_consts"], p["num_carry"]
    consts, init, xs = node.inputs[:nc], node.inputs[nc : nc + nk], node.inputs[nc + nk :]
    c_in, k_in = body.inputs[:nc], body.inputs[nc : nc + nk]
    x_in = body.inputs[nc + nk :]
    _bind(em, c_in, [em.atom(a) for a in consts])
    _bind(em, k_in, [em.atom(a) for a in init])
    length = f"{em.atom(xs[0])}.shape[0]" if xs else str(p["length"])
    n, i = em.fresh("steps"), em.fresh("step")
    em.emit(f"{n} = {length}")
    ys = node.outs[nk:]
    for y in ys:
        em.emit(
            f"{em.name(y)} = np.empty(({n}, *{em.shape(y.spec.shape[1:])}), np.{y.spec.dtype.name})"
        )
    em.emit(f"for {i} in range({n}):")
    with _Nested(em):
        at = f"{n} - 1 - {i}" if p["reverse"] else i
        _bind(em, x_in, [f"{em.atom(a)}[{at}]" for a in xs])
        res = _body(em, body)
        for y, expr in zip(ys, res[nk:]):  # NOTE: before the carry is rebound
            em.emit(f"{em.name(y)}[{at}] = {expr}")
        _assign(em, [em.name(v) for v in k_in], res[:nk])
    _assign(em, [em.name(v) for v in node.outs[:nk]], [em.name(v) for v in k_in])


def _loop_head(node: Node, em: Emitter, inputs: Sequence[Atom]) -> list[Var]:
    """Bind a while loop's consts and its carry (the body's carry inputs, returned)."""
    cond, body = node.params["cond"], node.params["body"]
    nk = len(body.outputs)
    nc, nb = len(cond.inputs) - nk, len(body.inputs) - nk
    _bind(em, cond.inputs[:nc], [em.atom(a) for a in inputs[:nc]])
    _bind(em, body.inputs[:nb], [em.atom(a) for a in inputs[nc : nc + nb]])
    carry = list(body.inputs[nb:])
    _bind(em, carry, [em.atom(a) for a in inputs[nc + nb :]])
    return carry


def _while(node: Node, em: Emitter) -> None:
    cond, body = node.params["cond"], node.params["body"]
    carry = _loop_head(node, em, node.inputs)
    em.emit("while True:")
    with _Nested(em):
        _test(em, cond, carry)
        _assign(em, [em.name(v) for v in carry], _body(em, body))
    _assign(em, [em.name(v) for v in node.outs], [em.name(v) for v in carry])


def _test(em: Emitter, cond: Graph, carry: Sequence[Var]) -> None:
    nk = len(carry)
    _bind(em, cond.inputs[len(cond.inputs) - nk :], [em.name(v) for v in carry])
    (pred,) = _body(em, cond)
    em.emit(f"if not {pred}:")
    em.emit("break", 2)


def _while_grad(node: Node, em: Emitter) -> None:
    cond, body, back = node.params["cond"], node.params["body"], node.params["back"]
    nk = len(body.outputs)
    nb = len(body.inputs) - nk
    carry = _loop_head(node, em, node.inputs[:-nk])
    cap, count = em.fresh("cap"), em.fresh("taped")
    tapes = [em.fresh("tape") for _ in carry]
    em.emit(f"{cap} = 16")
    em.emit(f"{count} = 0")
    for tape, v in zip(tapes, carry):
        em.emit(f"{tape} = np.empty(({cap}, *{em.shape(v.spec.shape)}), np.{v.spec.dtype.name})")
    em.emit("while True:")
    with _Nested(em):
        _test(em, cond, carry)
        em.emit(f"if {count} == {cap}:")
        for tape, v in zip(tapes, carry):
            grown = em.fresh("grown")
            shape = em.shape(v.spec.shape)
            em.emit(f"{grown} = np.empty((2 * {cap}, *{shape}), np.{v.spec.dtype.name})", 2)
            em.emit(f"{grown}[:{cap}] = {tape}", 2)
            em.emit(f"{tape} = {grown}", 2)
        em.emit(f"{cap} *= 2", 2)
        for tape, v in zip(tapes, carry):
            em.emit(f"{tape}[{count}] = {em.name(v)}")
        em.emit(f"{count} += 1")
        _assign(em, [em.name(v) for v in carry], _body(em, body))
    b_in, k_in, ct_in = back.inputs[:nb], back.inputs[nb : nb + nk], back.inputs[nb + nk :]
    _bind(em, b_in, [em.name(v) for v in body.inputs[:nb]])
    _bind(em, ct_in, [em.atom(a) for a in node.inputs[-nk:]])
    accs = [em.name(v) for v in node.outs[:nb]]
    for acc, v in zip(accs, b_in):
        zero = "0" if v.spec.dtype.kind in "iub" else "0.0"
        init = f"np.zeros_like({em.name(v)})" if v.spec.ndim else f"np.{v.spec.dtype.name}({zero})"
        em.emit(f"{acc} = {init}")
    j = em.fresh("back")
    em.emit(f"for {j} in range({count} - 1, -1, -1):")
    with _Nested(em):
        _bind(em, k_in, [f"{tape}[{j}]" for tape in tapes])
        res = _body(em, back)
        _assign(em, accs, [f"{a} + {r}" for a, r in zip(accs, res[nk : nk + nb])])
        _assign(em, [em.name(v) for v in ct_in], res[nk + nb :])
    _assign(em, [em.name(v) for v in node.outs[nb:]], [em.name(v) for v in ct_in])


CONTROL = {"cond": _cond, "scan": _scan, "while": _while, "while_grad": _while_grad}
