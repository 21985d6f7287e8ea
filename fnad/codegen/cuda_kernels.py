"""CUDA kernels for the nodes outside fused regions: contractions, transposes,
concatenation, gather and scatter-add, argmax/argmin. Reshapes are views.

Contractions run one tiled shared-memory kernel per dtype: ``z[b, m, n] = sum_k x[b, m, k]
y[b, k, n]`` where each of b, m, n, k is a group of consecutive axes of an operand, read
through a stride, so matmul, dot, outer and batched forms need no copies; an operand whose
groups are not consecutive is transposed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fnad.codegen.cpu import reshaped, scalar_literal
from fnad.codegen.cuda_region import shape_text, unravel
from fnad.codegen.indexing import check_index
from fnad.core.graph import Node
from fnad.core.spec import ArraySpec
from fnad.ops.contract import parse

if TYPE_CHECKING:
    from fnad.codegen.cuda import CudaEmitter, Kernel


def _loop(k: Kernel, sizes: list[str], idx: list[str]) -> None:
    k.emit(f"for t in range(cuda.grid(1), {' * '.join(sizes) or '1'}, cuda.gridsize(1)):")
    unravel(k, "t", sizes, idx, 2)


def _at(name: str, idx: list[str]) -> str:
    return f"{name}[{', '.join(idx) if idx else '0'}]"


def _reshape(node: Node, em: CudaEmitter) -> None:
    name, src = em.name(node.outs[0]), em.atom(node.inputs[0])
    em.emit(f"{name} = {src}.reshape({reshaped(em, src, node.outs[0].spec.shape)})")
    em.views.add(name)


def transpose(src: str, spec: ArraySpec, perm: tuple[int, ...], out: str, em: CudaEmitter) -> None:
    """Launch a kernel writing ``np.transpose(src, perm)`` into ``out`` (allocated)."""
    k = em.kernel()
    sizes = [k.param(f"n{j}", f"{out}.shape[{j}]") for j in range(spec.ndim)]
    idx = [f"i{j}" for j in range(spec.ndim)]
    x, y = k.param("x", src), k.param("y", out)
    source = [""] * spec.ndim
    for j, p in enumerate(perm):
        source[p] = idx[j]
    _loop(k, sizes, idx)
    k.emit(f"{_at(y, idx)} = {_at(x, source)}", 2)
    em.launch(k, f"rt.blocks({out}.size, THREADS)", "THREADS")


def _transpose(node: Node, em: CudaEmitter) -> None:
    (x,), perm = node.inputs, node.params["perm"]
    src = em.atom(x)
    out = em.allocate(node.outs[0], shape_text([f"{src}.shape[{p}]" for p in perm]))
    transpose(src, x.spec, perm, out, em)


def _concatenate(node: Node, em: CudaEmitter) -> None:
    axis, rank = node.params["axis"], node.outs[0].spec.ndim
    parts = [em.atom(a) for a in node.inputs]
    first = parts[0]
    dims = [f"{first}.shape[{j}]" for j in range(rank)]
    dims[axis] = " + ".join(f"{p}.shape[{axis}]" for p in parts)
    out = em.allocate(node.outs[0], shape_text(dims))
    k = em.kernel()
    sizes = [k.param(f"n{j}", "") for j in range(rank)]
    k.param("off", "")
    k.param("x", "")
    k.param("y", "")
    idx = [f"i{j}" for j in range(rank)]
    target = [f"{i} + off" if j == axis else i for j, i in enumerate(idx)]
    _loop(k, sizes, idx)
    k.emit(f"{_at('y', target)} = {_at('x', idx)}", 2)
    name = em.add_kernel(k)
    offset = em.fresh("off")
    em.emit(f"{offset} = 0")
    for p in parts:
        args = [f"{p}.shape[{j}]" for j in range(rank)] + [offset, p, out]
        em.emit(f"rt.launch({name}, rt.blocks({p}.size, THREADS), THREADS, {', '.join(args)})")
        em.emit(f"{offset} += {p}.shape[{axis}]")


def _index_walk(node: Node, em: CudaEmitter, k: Kernel, x: str, arrays: list[str]):
    """(out sizes as host expressions, source index expressions over i0, i1, ...)."""
    out_sizes, source, axis = [], [], 0
    for e in node.params["index"].entries:
        o = f"i{len(out_sizes)}"
        if e is None:
            out_sizes.append("1")
            continue
        n = f"{x}.shape[{axis}]"
        if isinstance(e, slice):
            start, step, length = em.fresh("start"), em.fresh("step"), em.fresh("len")
            bounds = f"slice{(e.start, e.stop, e.step)}"
            em.emit(f"{start}, {step}, {length} = rt.slice_args({bounds}, {n})")
            out_sizes.append(length)
            source.append(f"{k.param(start, start)} + {k.param(step, step)} * {o}")
        elif isinstance(e, tuple):
            arr = k.param(f"ix{e[1]}", arrays[e[1]])
            out_sizes.append(f"{arrays[e[1]]}.shape[0]")
            source.append(f"({arr}[{o}] % {k.param(f'm{axis}', n)})")
        else:
            c = em.fresh("c")
            em.emit(f"{c} = rt.integer({e}, {n})")
            source.append(k.param(c, c))
        axis += 1
    return out_sizes, source


def _gather(node: Node, em: CudaEmitter) -> None:
    x, *arrays = node.inputs
    check_index(node, tuple(arrays), any_rank=False)
    src, names = em.atom(x), [em.atom(a) for a in arrays]
    k = em.kernel()
    out_sizes, source = _index_walk(node, em, k, src, names)
    out = em.allocate(node.outs[0], shape_text(out_sizes))
    sizes = [k.param(f"n{j}", s) for j, s in enumerate(out_sizes)]
    idx = [f"i{j}" for j in range(len(out_sizes))]
    xk, yk = k.param("x", src, x.spec.ndim), k.param("y", out, node.outs[0].spec.ndim)
    _loop(k, sizes, idx)
    k.emit(f"{_at(yk, idx)} = {_at(xk, source)}", 2)
    em.launch(k, f"rt.blocks({out}.size, THREADS)", "THREADS")


def _index_add(node: Node, em: CudaEmitter) -> None:
    x, v, *arrays = node.inputs
    check_index(node, tuple(arrays), any_rank=False)
    src, value, names = em.atom(x), em.atom(v), [em.atom(a) for a in arrays]
    out = em.allocate(node.outs[0], f"{src}.shape")
    em.emit(f"{out}.copy_to_device({src})")
    k = em.kernel()
    out_sizes, target = _index_walk(node, em, k, src, names)
    sizes = [k.param(f"n{j}", f"{value}.shape[{j}]") for j in range(len(out_sizes))]
    idx = [f"i{j}" for j in range(len(out_sizes))]
    vk, yk = k.param("v", value, v.spec.ndim), k.param("y", out, x.spec.ndim)
    _loop(k, sizes, idx)
    if node.params["index"].basic:
        k.emit(f"{_at(yk, target)} += {_at(vk, idx)}", 2)
    else:
        # NOTE: repeated indices add up, so the updates are atomic.
        k.emit(f"cuda.atomic.add({yk}, {shape_text(target)}, {_at(vk, idx)})", 2)
    em.launch(k, f"rt.blocks({value}.size, THREADS)", "THREADS")


def _arg(node: Node, em: CudaEmitter) -> None:
    (x,), axis = node.inputs, node.params["axis"]
    src = em.atom(x)
    kept = [j for j in range(x.spec.ndim) if j != axis]
    out = em.allocate(node.outs[0], shape_text([f"{src}.shape[{j}]" for j in kept]))
    k = em.kernel()
    sizes = [k.param(f"n{j}", f"{src}.shape[{j}]") for j in kept]
    idx = [f"i{j}" for j in kept]
    xk, yk = k.param("x", src), k.param("y", out, node.outs[0].spec.ndim)
    count = k.param("m", f"{src}.shape[{axis}]")
    at = [f"i{j}" if j != axis else "j" for j in range(x.spec.ndim)]
    better = ">" if node.prim.name == "argmax" else "<"
    _loop(k, sizes, idx)
    k.emit(f"best = {_at(xk, [i if i != 'j' else '0' for i in at])}", 2)
    k.emit("where = 0", 2)
    k.emit(f"for j in range(1, {count}):", 2)
    k.emit(f"v = {_at(xk, at)}", 3)
    # NOTE: the first NaN wins, as in NumPy: nothing compares better than NaN.
    k.emit(f"if v {better} best or (v != v and best == best):", 3)
    k.emit("best = v", 4)
    k.emit("where = j", 4)
    k.emit(f"{_at(yk, idx)} = where", 2)
    em.launch(k, f"rt.blocks({out}.size, THREADS)", "THREADS")


_GEMM = """@cuda.jit(cache=True)
def {name}(nb, m, n, kk, x, sxb, sxm, sxk, y, syb, syk, syn, z, szb, szm, szn):
    tx = cuda.shared.array((TILE, TILE), np.{dtype})
    ty = cuda.shared.array((TILE, TILE), np.{dtype})
    c = cuda.threadIdx.x
    r = cuda.threadIdx.y
    for b in range(cuda.blockIdx.z, nb, cuda.gridDim.z):
        for bm in range(cuda.blockIdx.y * TILE, m, cuda.gridDim.y * TILE):
            for bn in range(cuda.blockIdx.x * TILE, n, cuda.gridDim.x * TILE):
                acc = {zero}
                for k0 in range(0, kk, TILE):
                    ok = bm + r < m and k0 + c < kk
                    tx[r, c] = x[b * sxb + (bm + r) * sxm + (k0 + c) * sxk] if ok else {zero}
                    ok = k0 + r < kk and bn + c < n
                    ty[r, c] = y[b * syb + (k0 + r) * syk + (bn + c) * syn] if ok else {zero}
                    cuda.syncthreads()
                    for j in range(TILE):
                        acc += tx[r, j] * ty[j, c]
                    cuda.syncthreads()
                if bm + r < m and bn + c < n:
                    z[b * szb + (bm + r) * szm + (bn + c) * szn] = acc
"""


def _consecutive(subs: str, groups: list[list[str]]) -> bool:
    for group in groups:
        pos = [subs.index(c) for c in group]
        if pos and pos != list(range(pos[0], pos[0] + len(pos))):
            return False
    return True


def _axes(subs: str, groups: list[list[str]]) -> str:
    return shape_text([shape_text([str(subs.index(c)) for c in g]) for g in groups])


def _einsum(node: Node, em: CudaEmitter) -> None:
    a, b, o = parse(node.params["spec"])
    x, y = node.inputs
    xn, yn = em.atom(x), em.atom(y)
    batch = [c for c in o if c in a and c in b]
    contract = [c for c in a if c in b and c not in o]
    free_a, free_b = [c for c in a if c not in b], [c for c in b if c not in a]
    xn, a = _arrange(xn, x.spec, a, [batch, free_a, contract], em)
    yn, b = _arrange(yn, y.spec, b, [batch, contract, free_b], em)
    dims = {c: f"{xn}.shape[{a.index(c)}]" for c in a}
    dims.update({c: f"{yn}.shape[{b.index(c)}]" for c in b if c not in dims})
    dtype = node.outs[0].spec.dtype
    zero = scalar_literal(np.zeros((), dtype))
    name = f"_gemm_{dtype.name}"
    kernel = em.module_kernel(name, _GEMM.format(name=name, dtype=dtype.name, zero=zero))
    zgroups = [batch, free_a, free_b]
    if _consecutive(o, zgroups):
        z, zs = em.allocate(node.outs[0], shape_text([dims[c] for c in o])), o
    else:
        zs = "".join(batch + free_a + free_b)
        z = em.fresh("z")
        shape = shape_text([dims[c] for c in zs])
        em.emit(f"{z} = pool.get({em.slot()}, {shape}, np.{dtype.name})")
    groups = [_axes(a, [batch, free_a, contract]), _axes(b, [batch, contract, free_b])]
    groups.append(_axes(zs, zgroups))
    em.emit(f"rt.gemm({kernel}, {xn}, {yn}, {z}, {', '.join(groups)}, TILE)")
    if zs != o:
        out = em.allocate(node.outs[0], shape_text([dims[c] for c in o]))
        transpose(z, node.outs[0].spec, tuple(zs.index(c) for c in o), out, em)


def _arrange(name: str, spec: ArraySpec, subs: str, groups, em: CudaEmitter) -> tuple[str, str]:
    """The operand with each group of letters on consecutive axes (transposed if needed)."""
    if _consecutive(subs, groups):
        return name, subs
    order = "".join(c for g in groups for c in g)
    perm = tuple(subs.index(c) for c in order)
    tmp = em.fresh("u")
    shape = shape_text([f"{name}.shape[{p}]" for p in perm])
    em.emit(f"{tmp} = pool.get({em.slot()}, {shape}, np.{spec.dtype.name})")
    transpose(name, spec, perm, tmp, em)
    return tmp, order


EMITTERS = {
    "reshape": _reshape,
    "transpose": _transpose,
    "concatenate": _concatenate,
    "gather": _gather,
    "index_add": _index_add,
    "argmax": _arg,
    "argmin": _arg,
    "einsum": _einsum,
}
