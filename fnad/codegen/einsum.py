"""Contractions as BLAS calls: a normalized einsum becomes ``np.dot`` on 2-d views, with a
loop over batch indices when there are any. A float32 or float64 matrix product calls
fnad.codegen.gemm instead when the emitter says so (``fnad.backends.cpu_blas``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fnad.backends import gemm as gemm_backend
from fnad.core.graph import Node
from fnad.ops.contract import parse

if TYPE_CHECKING:
    from fnad.codegen.cpu import Emitter


def _product(name: str, subs: str, letters: list[str]) -> str:
    dims = [f"{name}.shape[{subs.index(c)}]" for c in letters]
    return " * ".join(dims) if dims else "1"


def _as_matrix(name: str, subs: str, rows: list[str], cols: list[str], batch: list[str]) -> str:
    """``name`` viewed as (batch..., rows, cols) flattened to 2-d (or 3-d with batch)."""
    order = batch + rows + cols
    if not batch and len(rows) <= 1 and len(cols) <= 1 and len(subs) == 2:
        if "".join(order) == subs:
            return name
        if "".join(order) == subs[::-1]:
            return f"{name}.T"
    if not batch and "".join(cols + rows) == subs and rows and cols:
        # NOTE: stored columns-first: a free reshape and a transposed view, which BLAS
        # reads directly, instead of a transposing copy.
        dims = ", ".join(_product(name, subs, g) for g in (cols, rows))
        return f"np.ascontiguousarray({name}).reshape(({dims})).T"
    perm = tuple(subs.index(c) for c in order)
    view = name if perm == tuple(range(len(subs))) else f"np.transpose({name}, {perm})"
    dims = [_product(name, subs, g) for g in ((batch,) if batch else ()) + (rows, cols)]
    return f"np.ascontiguousarray({view}).reshape(({', '.join(dims)}))"


def emit_einsum(node: Node, em: Emitter) -> None:
    x, y = node.inputs
    a, b, o = parse(node.params["spec"])
    xn, yn, out = em.atom(x), em.atom(y), em.name(node.outs[0])
    batch = [c for c in o if c in a and c in b]
    contract = [c for c in a if c in b and c not in o]
    free_a = [c for c in a if c not in b]
    free_b = [c for c in b if c not in a]
    if (
        not batch
        and len(a) <= 2
        and len(b) <= 2
        and len(contract) == 1
        and (len(a) == 1 or len(b) == 1)
    ):
        xm = xn if len(a) == 1 else _as_matrix(xn, a, free_a, contract, [])
        ym = yn if len(b) == 1 else _as_matrix(yn, b, contract, free_b, [])
        em.emit(f"{out} = np.dot({xm}, {ym})")
        _finish(em, out, free_a + free_b, o)
        return
    xm = _as_matrix(xn, a, free_a, contract, batch)
    ym = _as_matrix(yn, b, contract, free_b, batch)
    entry = _gemm_entry(node, em)
    if batch:
        tmp = em.fresh("t")
        em.emit(f"{tmp}x = {xm}")
        em.emit(f"{tmp}y = {ym}")
        em.emit(
            f"{tmp} = np.empty(({tmp}x.shape[0], {tmp}x.shape[1], {tmp}y.shape[2]), {tmp}x.dtype)"
        )
        em.emit(f"for {tmp}b in range({tmp}x.shape[0]):")
        operands = f"{tmp}x[{tmp}b], {tmp}y[{tmp}b]"
        if entry is None:
            em.emit(f"{tmp}[{tmp}b] = np.dot({operands})", 2)
        else:
            em.emit(f"gemm.matmul_into({entry}, {operands}, {tmp}[{tmp}b])", 2)
        em.emit(f"{out} = {tmp}")
    elif entry is None:
        em.emit(f"{out} = np.dot({xm}, {ym})")
    else:
        em.emit(f"{out} = gemm.matmul({entry}, {xm}, {ym})")
    result = batch + free_a + free_b
    sizes = [f"{xn}.shape[{a.index(c)}]" if c in a else f"{yn}.shape[{b.index(c)}]" for c in result]
    if len(result) == 0:
        em.emit(f"{out} = {out}.ravel()[0]")
        return
    if not (len(batch) <= 1 and len(free_a) == 1 and len(free_b) == 1):
        em.emit(f"{out} = np.ascontiguousarray({out}).reshape(({', '.join(sizes)},))")
    _finish(em, out, result, o)


def _gemm_entry(node: Node, em: Emitter) -> str | None:
    """The constant argument holding the address of fnad's GEMM for ``node``'s dtype, or
    None when the product goes to ``np.dot``."""
    dtypes = {v.spec.dtype for v in (*node.inputs, node.outs[0])}
    dtype = dtypes.pop() if len(dtypes) == 1 else None
    if not em.gemm or dtype not in (np.float32, np.float64):
        return None
    em.modules.add("gemm")
    address = gemm_backend.address
    return em.process_const(f"gemm_{dtype}", lambda: np.array([address(dtype)], np.int64))


def _finish(em: Emitter, out: str, order: list[str], want: str) -> None:
    if "".join(order) != want:
        perm = tuple(order.index(c) for c in want)
        em.emit(f"{out} = np.transpose({out}, {perm})")
