"""CPU code for ``gather`` (``x[idx]``) and ``index_add`` (its transpose, ``x.at[idx].add``).

Numba's NumPy takes basic indexing and at most one 1-d integer array among slices. Other
indices are rewritten into those: a 0-d index array is a scalar in generated code, so it
indexes like an int; an n-d index array is flattened, used as a 1-d one, and the result
(or, for ``index_add``, the added value) reshaped with sizes read at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fnad.core.graph import Atom, Node
from fnad.ops.indexing import IndexSpec

if TYPE_CHECKING:
    from fnad.codegen.cpu import Emitter


def index_text(index: IndexSpec, arrays: list[str]) -> str:
    """Source text of ``index`` with ``arrays[k]`` in place of the k-th index array."""
    parts = []
    for e in index.entries:
        if isinstance(e, slice):
            parts.append(":".join("" if v is None else str(v) for v in (e.start, e.stop, e.step)))
        elif isinstance(e, tuple):
            parts.append(arrays[e[1]])
        else:
            parts.append(str(e))
    return ", ".join(parts) if parts else "()"


def check_index(node: Node, arrays: tuple[Atom, ...], any_rank: bool = True) -> None:
    """Raise unless ``node``'s index is basic, or holds one integer array (1-d unless
    ``any_rank``) among slices. With ``any_rank``, 0-d index arrays count as ints."""
    from fnad.codegen.cpu import CodegenError

    index = node.params["index"]
    if any_rank and _scalar_arrays(arrays):
        return
    mixed = index.num_arrays and any(isinstance(e, int) for e in index.entries)
    odd = (None in index.entries and not index.basic) or index.num_arrays > 1 or mixed
    if odd or any(a.spec.ndim != 1 and not (any_rank and a.spec.ndim) for a in arrays):
        what = "one integer array" if any_rank else "one 1-d integer array"
        raise CodegenError(
            f"fnad.jit: this backend compiles basic indexing and {what} index among slices; "
            f"{node.prim.name}{index} is not supported yet"
        )


def _scalar_arrays(arrays: tuple[Atom, ...]) -> bool:
    """Whether every index array is 0-d: NumPy then indexes as with ints."""
    return all(a.spec.ndim == 0 for a in arrays)


def _without_none(index: IndexSpec, x: Atom) -> tuple[IndexSpec, tuple[int, ...]]:
    """The basic index without its ``None`` entries and the shape it selects."""
    plain = IndexSpec(tuple(e for e in index.entries if e is not None))
    dummy = np.broadcast_to(np.zeros((), x.spec.dtype), x.spec.shape)
    return plain, dummy[plain.build([0] * plain.num_arrays)].shape


def _array_position(index: IndexSpec) -> int:
    return next(k for k, e in enumerate(index.entries) if isinstance(e, tuple))


def _flat(em: Emitter, idx: Atom) -> str:
    """A 1-d view of index array ``idx`` (emitted when it has more than one dimension)."""
    if idx.spec.ndim == 1:
        return em.atom(idx)
    flat = em.fresh("flat")
    em.emit(f"{flat} = np.ascontiguousarray({em.atom(idx)}).ravel()")
    return flat


def emit_gather(node: Node, em: Emitter) -> None:
    from fnad.codegen.cpu import tuple_text

    x, *arrays = node.inputs
    check_index(node, tuple(arrays))
    index, out = node.params["index"], node.outs[0]
    src = em.atom(x)
    if x.spec.ndim == 0:  # only None entries: a 0-d value is a scalar in generated code
        full = f"np.full({em.shape(out.spec.shape)}, {src})"
        em.emit(f"{em.name(out)} = {full if out.spec.ndim else src}")
        return
    names = [em.atom(a) for a in arrays]
    if _scalar_arrays(tuple(arrays)):
        plain, _ = _without_none(index, x)
        picked = f"{src}[{index_text(plain, names)}]"
        if plain != index:
            picked = f"np.ascontiguousarray({picked}).reshape({em.shape(out.spec.shape)})"
        em.emit(f"{em.name(out)} = {picked}")
        return
    (idx,) = arrays
    if idx.spec.ndim == 1:
        em.emit(f"{em.name(out)} = {src}[{index_text(index, names)}]")
        return
    picked, pos = em.fresh("picked"), _array_position(index)
    em.emit(f"{picked} = {src}[{index_text(index, [_flat(em, idx)])}]")
    dims = [f"{picked}.shape[{k}]" for k in range(x.spec.ndim)]
    dims[pos : pos + 1] = [f"{names[0]}.shape[{k}]" for k in range(idx.spec.ndim)]
    em.emit(f"{em.name(out)} = np.ascontiguousarray({picked}).reshape({tuple_text(dims)})")


def emit_index_add(node: Node, em: Emitter) -> None:
    from fnad.codegen.cpu import tuple_text

    x, v, *arrays = node.inputs
    check_index(node, tuple(arrays))
    index, out = node.params["index"], em.name(node.outs[0])
    if x.spec.ndim == 0:  # only None entries: ``v`` holds one element
        value = f"np.ascontiguousarray({em.atom(v)}).ravel()[0]" if v.spec.ndim else em.atom(v)
        em.emit(f"{out} = {em.atom(x)} + {value}")
        return
    em.emit(f"{out} = np.copy({em.atom(x)})")
    names = [em.atom(a) for a in arrays]
    value = em.atom(v)
    if _scalar_arrays(tuple(arrays)):
        plain, shape = _without_none(index, x)
        if plain != index and v.spec.ndim:
            value = f"np.ascontiguousarray({value}).reshape({em.shape(shape)})"
        em.emit(f"{out}[{index_text(plain, names)}] += {value}")
        return
    (idx,) = arrays
    pos, rank = _array_position(index), idx.spec.ndim
    flat = _flat(em, idx)
    if rank != 1:  # the value's index dimensions become one, as the index's do
        dims = [f"{value}.shape[{k}]" for k in range(v.spec.ndim)]
        dims[pos : pos + rank] = [f"{flat}.shape[0]"]
        rows = em.fresh("rows")
        em.emit(f"{rows} = np.ascontiguousarray({value}).reshape({tuple_text(dims)})")
        value = rows
    j = em.fresh("j")
    src = ", ".join(j if k == pos else ":" for k in range(v.spec.ndim - rank + 1))
    em.emit(f"for {j} in range({flat}.shape[0]):")
    em.emit(f"{out}[{index_text(index, [f'{flat}[{j}]'])}] += {value}[{src}]", 2)
