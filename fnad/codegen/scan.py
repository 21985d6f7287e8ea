"""Loops for scans along one axis (``cumsum``, ``argsort``), which Numba's NumPy lacks
with an ``axis`` argument.

The scanned axis is moved last and the array viewed as rows; each row is scanned by an
explicit loop (``argsort`` by Numba's stable ``np.argsort`` of the row); the result is
viewed back and the axis moved home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fnad.core.graph import Node

if TYPE_CHECKING:
    from fnad.codegen.cpu import Emitter


def _rows(node: Node, em: Emitter) -> tuple[str, str, tuple[int, ...] | None]:
    """Emit the rows view of the input: ``(rows, moved, inverse permutation or None)``."""
    x = node.inputs[0]
    axis, ndim = node.params["axis"], x.spec.ndim
    src = em.atom(x)
    moved, rows = em.fresh("moved"), em.fresh("rows")
    if axis == ndim - 1:
        em.emit(f"{moved} = np.ascontiguousarray({src})")
        inverse = None
    else:
        perm = tuple(i for i in range(ndim) if i != axis) + (axis,)
        em.emit(f"{moved} = np.ascontiguousarray(np.transpose({src}, {perm}))")
        inverse = tuple(int(i) for i in np.argsort(perm))
    em.emit(f"{rows} = {moved}.reshape((-1, {moved}.shape[{ndim - 1}]))")
    return rows, moved, inverse


def _finish(node: Node, em: Emitter, result: str, moved: str, inverse) -> None:
    out = em.name(node.outs[0])
    back = f"{result}.reshape({moved}.shape)"
    em.emit(f"{out} = {back}" if inverse is None else f"{out} = np.transpose({back}, {inverse})")


def emit_cumsum(node: Node, em: Emitter) -> None:
    rows, moved, inverse = _rows(node, em)
    result, r, j, acc = em.fresh("scan"), em.fresh("r"), em.fresh("j"), em.fresh("acc")
    n = f"{rows}.shape[1]"
    order = f"range({n} - 1, -1, -1)" if node.params["reverse"] else f"range({n})"
    em.emit(f"{result} = np.empty_like({rows})")
    em.emit(f"for {r} in range({rows}.shape[0]):")
    zero = "0.0" if node.outs[0].spec.dtype.kind in "fc" else "0"
    em.emit(f"{acc} = {zero}", 2)
    em.emit(f"for {j} in {order}:", 2)
    em.emit(f"{acc} += {rows}[{r}, {j}]", 3)
    em.emit(f"{result}[{r}, {j}] = {acc}", 3)
    _finish(node, em, result, moved, inverse)


def emit_argsort(node: Node, em: Emitter) -> None:
    rows, moved, inverse = _rows(node, em)
    result, r = em.fresh("order"), em.fresh("r")
    em.emit(f"{result} = np.empty({rows}.shape, np.int64)")
    em.emit(f"for {r} in range({rows}.shape[0]):")
    em.emit(f'{result}[{r}] = np.argsort({rows}[{r}], kind="mergesort")', 2)
    _finish(node, em, result, moved, inverse)
