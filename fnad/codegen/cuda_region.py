"""CUDA kernels for fused regions: the CPU loop nest's scalar statements, run by a
grid-stride loop over the flat index of the loop shape (unravelled by index arithmetic, so
sizes stay run-time values and broadcasts are reads at computed positions).

A region's reductions are grouped by their axes; each group is one kernel (the first also
stores the region's elementwise outputs; later ones recompute what they need). A
reduction kernel splits every output row into chunks: when the last loop axis is reduced
("inner"), a block reduces a chunk through a shared-memory tree; otherwise a thread
reduces a chunk alone, neighbouring threads reading neighbouring elements. Chunks land in
a partial buffer that a second small kernel combines, or directly in the output when one
chunk per row suffices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fnad.codegen.cpu import scalar_literal
from fnad.codegen.region import REDUCE_STEP, _identity, _loop_shape, _scalar_expr, _sizes
from fnad.core.graph import Atom, Literal, Node, Var

if TYPE_CHECKING:
    from fnad.codegen.cuda import CudaEmitter, Kernel


def emit_region(fused: Node, em: CudaEmitter) -> None:
    region = fused.params["region"]
    shape = _loop_shape(region)
    dims = [em.fresh("n") for _ in shape]
    for name, size in zip(dims, _sizes(region, shape, em)):
        em.emit(f"{name} = {size}")
    reductions = [n for n in region.nodes if n.prim.name in REDUCE_STEP]
    stored = [v for n in region.nodes if n not in reductions for v in n.outs]
    stored = [v for v in stored if v in region.outputs]
    for v in stored:
        em.allocate(v, shape_text(dims))
    axes_sets = list(dict.fromkeys(n.params["axes"] for n in reductions))
    if not axes_sets:
        _elementwise_kernel(region, stored, dims, em)
    for k, axes in enumerate(axes_sets):
        group = [n for n in reductions if n.params["axes"] == axes]
        _reduction_kernel(region, group, stored if k == 0 else [], axes, dims, em)


def shape_text(items: list[str]) -> str:
    """A tuple display: ``()``, ``(n1,)``, ``(n1, n2)``."""
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _needed(region, targets: list[Var]) -> list[Node]:
    """The region's nodes that ``targets`` depend on, in region order."""
    want = set(targets)
    keep = []
    for node in reversed(region.nodes):
        if any(v in want for v in node.outs):
            keep.append(node)
            want.update(a for a in node.inputs if isinstance(a, Var))
    return keep[::-1]


def _elementwise_kernel(region, stored: list[Var], dims: list[str], em: CudaEmitter) -> None:
    k = em.kernel()
    sizes = [k.param(f"n{j}", d) for j, d in enumerate(dims)]
    idx = [f"i{j}" for j in range(len(dims))]
    total = " * ".join(sizes) or "1"
    k.emit(f"for t in range(cuda.grid(1), {total}, cuda.gridsize(1)):")
    unravel(k, "t", sizes, idx, 2)
    _body(k, _needed(region, stored), stored, idx, em, 2)
    em.launch(k, f"rt.blocks({' * '.join(dims) or '1'}, THREADS)", "THREADS")


def _reduction_kernel(region, group, stored, axes, dims, em: CudaEmitter) -> None:
    k = em.kernel()
    sizes = [k.param(f"n{j}", d) for j, d in enumerate(dims)]
    idx = [f"i{j}" for j in range(len(dims))]
    kept = [j for j in range(len(dims)) if j not in axes]
    inner = len(dims) - 1 in axes
    chunks = em.fresh("g")
    k.param("g", chunks)
    host_kept = " * ".join(dims[j] for j in kept) or "1"
    host_reduced = " * ".join(dims[j] for j in axes)
    grid = em.fresh("grid")
    em.emit(f"{chunks}, {grid} = rt.split({host_kept}, {host_reduced}, THREADS, {inner})")
    parts = []
    for node in group:
        out = node.outs[0]
        em.allocate(out, shape_text([dims[j] for j in kept]))
        part = f"p_{em.name(out)}"
        em.emit(f"{part} = rt.partials(pool, {em.slot()}, {em.name(out)}, {host_kept}, {chunks})")
        parts.append((node, k.param(part, part)))
    nk = " * ".join(sizes[j] for j in kept) or "1"
    nk = f"({nk})" if len(kept) > 1 else nk
    nr = " * ".join(sizes[j] for j in axes)
    accs = {n.outs[0]: f"acc_{em.name(n.outs[0])}" for n in group}
    body = _needed(region, stored + list(accs))
    if inner:
        for node, _ in parts:
            k.emit(f"sm_{em.name(node.outs[0])} = {_shared(node)}")
        k.emit("tid = cuda.threadIdx.x")
        k.emit(f"for blk in range(cuda.blockIdx.x, {nk} * g, cuda.gridDim.x):")
        k.emit("row = blk // g", 2)
        k.emit("chunk = blk % g", 2)
        start, step = "chunk * THREADS + tid", "g * THREADS"
    else:
        k.emit(f"for t in range(cuda.grid(1), {nk} * g, cuda.gridsize(1)):")
        k.emit(f"row = t % {nk}", 2)
        k.emit(f"chunk = t // {nk}", 2)
        start, step = "chunk", "g"
    unravel(k, "row", [sizes[j] for j in kept], [idx[j] for j in kept], 2)
    for node in group:
        value = scalar_literal(_identity(node.prim.name, node.outs[0].spec.dtype))
        k.emit(f"{accs[node.outs[0]]} = {value}", 2)
    k.emit(f"for r in range({start}, {nr}, {step}):", 2)
    unravel(k, "r", [sizes[j] for j in axes], [idx[j] for j in axes], 3)
    _body(k, body, stored, idx, em, 3, accs)
    for node, part in parts:
        acc = accs[node.outs[0]]
        if inner:
            _tree(k, node, f"sm_{em.name(node.outs[0])}", acc, part)
        else:
            k.emit(f"{part}[row, chunk] = {acc}", 2)
    em.launch(k, grid, "THREADS")
    for node, part in parts:
        finish = em.finisher(node.prim.name)
        em.emit(f"rt.finish({finish}, {part}, {em.name(node.outs[0])}, {host_kept}, THREADS)")


def _shared(node: Node) -> str:
    return f"cuda.shared.array(THREADS, np.{node.outs[0].spec.dtype.name})"


def _tree(k: Kernel, node: Node, shared: str, acc: str, part: str) -> None:
    """Combine the block's accumulators by halving, then thread 0 stores the chunk."""
    step = REDUCE_STEP[node.prim.name].format(acc=f"{shared}[tid]", v=f"{shared}[tid + s]")
    k.emit(f"{shared}[tid] = {acc}", 2)
    k.emit("cuda.syncthreads()", 2)
    k.emit("s = THREADS // 2", 2)
    k.emit("while s > 0:", 2)
    k.emit("if tid < s:", 3)
    k.emit(step, 4)
    k.emit("cuda.syncthreads()", 3)
    k.emit("s //= 2", 3)
    k.emit("if tid == 0:", 2)
    k.emit(f"{part}[row, chunk] = {shared}[0]", 3)
    # NOTE: the next row of this block must not overwrite the shared buffer early.
    k.emit("cuda.syncthreads()", 2)


def unravel(k: Kernel, flat: str, sizes: list[str], idx: list[str], depth: int) -> None:
    """Split the flat index ``flat`` into ``idx`` (C order) over ``sizes``."""
    if not idx:
        return
    q = f"q{flat}"
    k.emit(f"{q} = {flat}", depth)
    for j in range(len(idx) - 1, 0, -1):
        k.emit(f"{idx[j]} = {q} % {sizes[j]}", depth)
        k.emit(f"{q} = {q} // {sizes[j]}", depth)
    k.emit(f"{idx[0]} = {q}", depth)


def read(atom: Atom, local: dict, idx: list[str], k: Kernel, em: CudaEmitter) -> str:
    """A scalar expression for ``atom`` at the current position, inside kernel ``k``."""
    if isinstance(atom, Var) and atom in local:
        return local[atom]
    if isinstance(atom, Literal) and atom.value.size == 1:
        return scalar_literal(atom.value.reshape(()))
    name = k.param(em.atom(atom), em.atom(atom), atom.spec.ndim)
    return f"{name}[{', '.join(idx) if atom.spec.ndim else '0'}]"


def _broadcast(node: Node, local: dict, idx: list[str], k: Kernel, em: CudaEmitter) -> str:
    src = node.inputs[0]
    if src.spec.ndim == 0 or isinstance(src, Literal) and src.value.size == 1:
        return read(src, local, [], k, em)
    out = node.outs[0].spec.shape
    lead = len(out) - src.spec.ndim
    sub = [
        "0" if d == 1 and out[lead + j] != 1 else idx[lead + j]
        for j, d in enumerate(src.spec.shape)
    ]
    return read(src, local, sub, k, em)


def _body(k: Kernel, nodes, stored, idx, em: CudaEmitter, depth: int, accs=None) -> None:
    local: dict[Var, str] = {}
    for node in nodes:
        out = node.outs[0]
        k.emit(em.comment(node), depth)
        if accs and out in accs:
            value = read(node.inputs[0], local, idx, k, em)
            k.emit(REDUCE_STEP[node.prim.name].format(acc=accs[out], v=value), depth)
            continue
        if node.prim.name == "broadcast_to":
            expr = _broadcast(node, local, idx, k, em)
        elif node.prim.name == "iota":
            lead = len(idx) - out.spec.ndim
            expr = f"np.{out.spec.dtype.name}({idx[lead + node.params['axis']]})"
        else:
            expr = _scalar_expr(node, [read(a, local, idx, k, em) for a in node.inputs], em)
        target = em.name(out) + "_"
        k.emit(f"{target} = {expr}", depth)
        local[out] = target
        if out in stored:
            name = k.param(em.name(out), em.name(out), out.spec.ndim)
            k.emit(f"{name}[{', '.join(idx) if idx else '0'}] = {target}", depth)
