"""Stacked linear algebra and FFTs in generated code.

Each primitive calls a kernel of ``fnad.backends.kernels`` (imported by the generated
module) that loops over the stack: operands are reshaped to ``(stack, *core)``
C-contiguous arrays, the kernel returns results of that form, and they are reshaped back.
Sizes come from the arrays at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fnad.core.graph import Node


def _digest() -> str:
    """Of the kernels' source: part of every generated module that imports them, so the
    compile cache (keyed by the module source) never reuses code built on older kernels."""
    path = Path(__file__).resolve().parent.parent / "backends" / "kernels.py"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


KERNELS_DIGEST = _digest()

if TYPE_CHECKING:
    from fnad.codegen.cpu import Emitter


def _import_line(helper: str) -> str:
    return f"from fnad.backends.kernels import {helper}  # kernels {KERNELS_DIGEST}"


def _stack_size(name: str, stack: int) -> str:
    return " * ".join(f"{name}.shape[{k}]" for k in range(stack)) or "1"


def _flat(name: str, ndim: int, stack: int) -> str:
    core = ", ".join(f"{name}.shape[{k}]" for k in range(stack, ndim))
    return f"np.ascontiguousarray({name}).reshape(({_stack_size(name, stack)}, {core}))"


def emit_stacked(node: Node, em: Emitter, helper: str, core_rank: int = 2) -> None:
    """``outs = helper(*flattened inputs)``, each output reshaped to its stack shape."""
    stack = node.inputs[0].spec.ndim - core_rank
    first = em.atom(node.inputs[0])
    args = ", ".join(_flat(em.atom(a), a.spec.ndim, stack) for a in node.inputs)
    tmp = em.fresh("s")
    em.helpers[helper] = _import_line(helper)
    em.emit(f"{tmp} = {helper}({args})")
    lead = [f"{first}.shape[{k}]" for k in range(stack)]
    for k, out in enumerate(node.outs):
        rank = out.spec.ndim - stack
        if out.spec.ndim == 0:
            em.emit(f"{em.name(out)} = {tmp}[{k}][0]")
            continue
        dims = lead + [f"{tmp}[{k}].shape[{j + 1}]" for j in range(rank)]
        em.emit(f"{em.name(out)} = {tmp}[{k}].reshape(({', '.join(dims)},))")


def _simple(helper: str) -> Callable[[Node, Emitter], None]:
    return lambda node, em: emit_stacked(node, em, helper)


def _fft(node: Node, em: Emitter) -> None:
    """The transformed axis is moved last and the others flattened into rows."""
    (x,) = node.inputs
    axis, nd = node.params["axis"], x.spec.ndim
    perm = tuple(k for k in range(nd) if k != axis) + (axis,)
    src = em.atom(x)
    moved = src if perm == tuple(range(nd)) else f"np.transpose({src}, {perm})"
    rows = " * ".join(f"{src}.shape[{k}]" for k in perm[:-1]) or "1"
    tmp = em.fresh("f")
    em.helpers["_fft_rows"] = _import_line("_fft_rows")
    em.emit(
        f"{tmp} = _fft_rows(np.ascontiguousarray({moved}).reshape(({rows}, {src}.shape[{axis}])), "
        f"{node.params['inverse']})[0]"
    )
    dims = ", ".join(f"{src}.shape[{k}]" for k in perm)
    back = tuple(int(i) for i in np.argsort(perm))
    shaped = f"{tmp}.reshape(({dims},))"
    out = shaped if back == tuple(range(nd)) else f"np.transpose({shaped}, {back})"
    em.emit(f"{em.name(node.outs[0])} = {out}")


STACKED: dict[str, Callable[[Node, Emitter], None]] = {
    "solve": _simple("_la_solve"),
    "cholesky": _simple("_la_cholesky"),
    "slogdet": _simple("_la_slogdet"),
    "eigh": _simple("_la_eigh"),
    "svd": _simple("_la_svd"),
    "qr": _simple("_la_qr"),
    "fft": _fft,
}
