"""Control flow on the CUDA target: ``cond``, ``scan``, ``while`` and ``while_grad`` run their
branches and loops in the host function, around the kernels of their sub-graphs (emitted by
the same CUDA backend, inline in the host function).

Values stay on the device. Only a branch index or a loop predicate comes back to the host,
as one scalar per test. A loop carry lives in two pool buffers used in turn: each
iteration reads one and the body's result is copied into the other, so a body that swaps
its carries or returns one unchanged never overwrites what it still reads, and the
body's own buffers are the same in every iteration. ``scan`` writes each step's outputs
into rows of arrays allocated before the loop; ``while_grad`` keeps each iteration's carry
on a device tape (``rt.Tape``) and then runs the body's VJP over it backwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fnad.codegen.control import _assign, _bind, _Nested
from fnad.core.graph import Atom, Graph, Literal, Node, Var

if TYPE_CHECKING:
    from fnad.codegen.cuda import CudaEmitter

_ACCUMULATE = """@cuda.jit(cache=True)
def _accumulate(acc, r):
    for t in range(cuda.grid(1), acc.shape[0], cuda.gridsize(1)):
        acc[t] += r[t]
"""


def _value(em: CudaEmitter, atom: Atom) -> str:
    """A device array for ``atom`` (a scalar literal becomes a 0-d device array)."""
    if isinstance(atom, Literal) and atom.value.ndim == 0:
        return f"rt.scalar({em.atom(atom)}, np.{atom.spec.dtype.name})"
    return em.atom(atom)


def _body(em: CudaEmitter, graph: Graph) -> list[str]:
    """Emit ``graph``'s nodes (its inputs already bound); device arrays of its outputs."""
    from fnad.codegen.cuda import emit_node

    for node in graph.nodes:
        emit_node(node, em)
    return [_value(em, a) for a in graph.outputs]


def _carries(em: CudaEmitter, carry: Sequence[Var], init: Sequence[str]) -> list[str]:
    """Copy ``init`` into each carry's first buffer; the names of the second buffers."""
    spares = []
    for var, start in zip(carry, init):
        name, spare = em.name(var), em.fresh("spare")
        em.emit(f"{name} = rt.carry(pool, {em.slot()}, {start})")
        em.emit(f"{spare} = pool.get({em.slot()}, {name}.shape, {name}.dtype)")
        if var.spec.ndim:
            em.learn_dims(name, var.spec)
        spares.append(spare)
    return spares


def _advance(em: CudaEmitter, carry: Sequence[Var], spares: list[str], res: list[str]) -> None:
    """The body's results become the carry: copied into the spare buffers, then swapped."""
    for spare, expr in zip(spares, res):
        em.emit(f"rt.assign({spare}, {expr})")
    for var, spare in zip(carry, spares):
        em.emit(f"{em.name(var)}, {spare} = {spare}, {em.name(var)}")


def _outputs(em: CudaEmitter, outs: Sequence[Var], exprs: Sequence[str]) -> None:
    """Bind ``outs`` to buffers the function does not own (copied if they are results)."""
    _assign(em, [em.name(v) for v in outs], exprs)
    em.views.update(em.name(v) for v in outs)


def _cond(node: Node, em: CudaEmitter) -> None:
    index, *ops = node.inputs
    branches = node.params["branches"]
    k = em.fresh("branch")
    em.emit(f"{k} = rt.index({em.atom(index)}, {len(branches)})")
    for j, branch in enumerate(branches):
        head = "if" if j == 0 else "elif" if j < len(branches) - 1 else "else"
        em.emit(f"{head} {k} == {j}:" if head != "else" else "else:")
        with _Nested(em):
            _bind(em, branch.inputs, [_value(em, a) for a in ops])
            _outputs(em, node.outs, _body(em, branch))


def _scan(node: Node, em: CudaEmitter) -> None:
    p = node.params
    body, nc, nk = p["body"], p["num_consts"], p["num_carry"]
    consts, init, xs = node.inputs[:nc], node.inputs[nc : nc + nk], node.inputs[nc + nk :]
    c_in, k_in, x_in = body.inputs[:nc], body.inputs[nc : nc + nk], body.inputs[nc + nk :]
    _bind(em, c_in, [_value(em, a) for a in consts])
    spares = _carries(em, k_in, [_value(em, a) for a in init])
    n, i = em.fresh("steps"), em.fresh("step")
    em.emit(f"{n} = {em.atom(xs[0])}.shape[0]" if xs else f"{n} = {p['length']}")
    ys = node.outs[nk:]
    for y in ys:
        em.allocate(y, f"({n}, *{em.shape(y.spec.shape[1:])})")
    em.emit(f"for {i} in range({n}):")
    with _Nested(em):
        at = f"{n} - 1 - {i}" if p["reverse"] else i
        _bind(em, x_in, [f"rt.row({em.atom(a)}, {at})" for a in xs])
        res = _body(em, body)
        for y, expr in zip(ys, res[nk:]):
            em.emit(f"rt.assign(rt.row({em.name(y)}, {at}), {expr})")
        _advance(em, k_in, spares, res[:nk])
    _outputs(em, node.outs[:nk], [em.name(v) for v in k_in])


def _loop_head(node: Node, em: CudaEmitter, inputs: Sequence[Atom]) -> tuple[list[Var], list]:
    """Bind a while loop's consts and carry; (the body's carry inputs, their spare buffers)."""
    cond, body = node.params["cond"], node.params["body"]
    nk = len(body.outputs)
    nc, nb = len(cond.inputs) - nk, len(body.inputs) - nk
    _bind(em, cond.inputs[:nc], [_value(em, a) for a in inputs[:nc]])
    _bind(em, body.inputs[:nb], [_value(em, a) for a in inputs[nc : nc + nb]])
    carry = list(body.inputs[nb:])
    return carry, _carries(em, carry, [_value(em, a) for a in inputs[nc + nb :]])


def _test(em: CudaEmitter, cond: Graph, carry: Sequence[Var]) -> None:
    """Leave the loop when the predicate, copied back to the host, is false."""
    nk = len(carry)
    _bind(em, cond.inputs[len(cond.inputs) - nk :], [em.name(v) for v in carry])
    (pred,) = cond.outputs
    _body(em, cond)
    em.emit(f"if not rt.truth({em.atom(pred)}):")
    em.emit("break", 2)


def _while(node: Node, em: CudaEmitter) -> None:
    cond, body = node.params["cond"], node.params["body"]
    carry, spares = _loop_head(node, em, node.inputs)
    em.emit("while True:")
    with _Nested(em):
        _test(em, cond, carry)
        _advance(em, carry, spares, _body(em, body))
    _outputs(em, node.outs, [em.name(v) for v in carry])


def _while_grad(node: Node, em: CudaEmitter) -> None:
    cond, body, back = node.params["cond"], node.params["body"], node.params["back"]
    nk = len(body.outputs)
    nb = len(body.inputs) - nk
    carry, spares = _loop_head(node, em, node.inputs[:-nk])
    tapes = [em.fresh("tape") for _ in carry]
    for tape in tapes:
        em.emit(f"{tape} = rt.Tape()")
    em.emit("while True:")
    with _Nested(em):
        _test(em, cond, carry)
        for tape, v in zip(tapes, carry):
            em.emit(f"{tape}.push({em.name(v)})")
        _advance(em, carry, spares, _body(em, body))
    b_in, k_in, ct_in = back.inputs[:nb], back.inputs[nb : nb + nk], back.inputs[nb + nk :]
    _bind(em, b_in, [em.name(v) for v in body.inputs[:nb]])
    ct_spares = _carries(em, ct_in, [_value(em, a) for a in node.inputs[-nk:]])
    accs = [em.name(v) for v in node.outs[:nb]]
    for acc, v in zip(accs, b_in):
        em.emit(f"{acc} = rt.zeros({em.name(v)}.shape, np.{v.spec.dtype.name})")
    add = em.module_kernel("_accumulate", _ACCUMULATE)
    j = em.fresh("back")
    em.emit(f"for {j} in range({tapes[0]}.count - 1, -1, -1):")
    with _Nested(em):
        _bind(em, k_in, [f"{tape}.at({j})" for tape in tapes])
        res = _body(em, back)
        for acc, r in zip(accs, res[nk : nk + nb]):
            em.emit(f"rt.accumulate({add}, {acc}, {r})")
        _advance(em, ct_in, ct_spares, res[nk + nb :])
    _outputs(em, node.outs[nb:], [em.name(v) for v in ct_in])


CONTROL = {"cond": _cond, "scan": _scan, "while": _while, "while_grad": _while_grad}
