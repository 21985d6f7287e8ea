"""Indexing: ``gather`` (``x[idx]``) and ``index_add`` (``x.at[idx].add(v)``, its transpose).

NumPy's whole indexing language is one static ``IndexSpec`` param: ints, slices (any
step), ``None`` and positions of integer-array inputs. Integer arrays are node inputs, so
traced indices work. The gradient of a gather is an ``index_add`` into zeros, where
repeated indices accumulate, and the gradient of ``index_add`` is a gather.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec, is_float
from fnad.core.trace import bind


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A normalized NumPy index. Entries: ``int``, ``slice``, ``None``, or ``("array", k)``,
    the k-th integer-array input. Covers every dimension (no Ellipsis)."""

    entries: tuple

    def __str__(self) -> str:
        return "[" + ",".join(_entry_text(e) for e in self.entries) + "]"

    __repr__ = __str__

    def __hash__(self) -> int:
        return hash(tuple(_key(e) for e in self.entries))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexSpec) and [_key(e) for e in self.entries] == [
            _key(e) for e in other.entries
        ]

    @property
    def num_arrays(self) -> int:
        return sum(isinstance(e, tuple) for e in self.entries)

    @property
    def basic(self) -> bool:
        return self.num_arrays == 0

    def build(self, arrays) -> tuple:
        """The index tuple NumPy takes, with the array inputs put in place."""
        return tuple(arrays[e[1]] if isinstance(e, tuple) else e for e in self.entries)

    @staticmethod
    def axis_slice(ndim: int, axis: int, start: int, stop: int) -> IndexSpec:
        full = slice(None)
        return IndexSpec(tuple(slice(start, stop) if i == axis else full for i in range(ndim)))


def _key(entry) -> tuple:
    if isinstance(entry, slice):
        return ("slice", entry.start, entry.stop, entry.step)
    return ("other", entry)


def _entry_text(entry) -> str:
    if entry is None:
        return "None"
    if isinstance(entry, slice):
        parts = ["" if v is None else str(v) for v in (entry.start, entry.stop, entry.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if entry.step is not None else "")
    if isinstance(entry, tuple):
        return f"#{entry[1]}"
    return str(entry)


def _gather_abstract(x: ArraySpec, *arrays: ArraySpec, index: IndexSpec) -> ArraySpec:
    for a in arrays:
        if not np.issubdtype(a.dtype, np.integer):
            raise IndexError(f"fnad: index arrays must be integers, got {a!r}")
    dummy = np.broadcast_to(np.zeros((), x.dtype), x.shape)
    probes = [np.zeros(a.shape, np.intp) for a in arrays]
    return ArraySpec(dummy[index.build(probes)].shape, x.dtype)


def gather(x, index: IndexSpec, *arrays):
    return bind(gather_p, x, *arrays, index=index)


def _gather_vjp(ct, x, *arrays, out, index):
    return (index_add(np.zeros_like(x), ct, index, *arrays), *(None for _ in arrays))


def _index_cases(rng):
    x = rng.normal(size=(4, 5))
    s = slice
    return [
        ((x,), {"index": IndexSpec((1, s(None)))}),
        ((x,), {"index": IndexSpec((s(None, None, -1), s(1, 4, 2)))}),
        ((x,), {"index": IndexSpec((None, s(None), -1))}),
        ((x, np.array([0, 2, 2, 3])), {"index": IndexSpec((("array", 0), s(None)))}),
        (
            (x, np.array([[0, 1], [3, 3]]), np.array([4, 0])),
            {"index": IndexSpec((("array", 0), ("array", 1)))},
        ),
        ((x, np.array([1, 1, -1])), {"index": IndexSpec((s(1, 3), ("array", 0)))}),
    ]


def _advanced(entries: tuple) -> list[int]:
    """Positions of the advanced entries: the arrays, and ints when arrays are present."""
    arrays = [i for i, e in enumerate(entries) if isinstance(e, tuple)]
    ints = [i for i, e in enumerate(entries) if isinstance(e, int) and not isinstance(e, bool)]
    return sorted(arrays + ints) if arrays else []


def _block_first(entries: tuple) -> bool:
    """NumPy puts the advanced dimensions first when advanced entries are not adjacent."""
    adv = _advanced(entries)
    return bool(adv) and adv != list(range(adv[0], adv[0] + len(adv)))


def _batch_index(index: IndexSpec, arrays, batched, size: int, x_batched: bool):
    """A batched gather's ``(index, arrays, move)``: NumPy's placement of the advanced
    dimensions can put the batch axis elsewhere; ``move = (start, length, dst)`` names the
    block of output axes that must move to ``dst`` to give ``(batch, *example_layout)``.

    With batched index arrays, each gets its batch axis leftmost of the index broadcast; a
    batched ``x`` is then indexed along its batch axis by an iota. Unbatched index arrays
    index a batched ``x`` behind a leading ``:``."""
    from fnad.ops.shape import reshape

    rank = max((np.ndim(a) - b for a, b in zip(arrays, batched)), default=0)
    adv = _advanced(index.entries)
    # Output axes before the advanced block, when NumPy keeps the block in place.
    before = 0 if not adv or _block_first(index.entries) else adv[0]
    if not any(batched):
        entries = (slice(None), *index.entries)
        return IndexSpec(entries), list(arrays), (rank if _block_first(entries) else 0, 1, 0)
    arrays = [
        reshape(a, (size, *(1,) * (rank + 1 - np.ndim(a)), *np.shape(a)[1:])) if b else a
        for a, b in zip(arrays, batched)
    ]
    if not x_batched:
        return index, arrays, (before, 1, 0)
    iota = np.arange(size).reshape((size,) + (1,) * rank)
    entries = (("array", len(arrays)), *index.entries)
    return IndexSpec(entries), [*arrays, iota], (1 + rank, before, 1)


def _move_block(ndim: int, start: int, length: int, dst: int) -> tuple[int, ...]:
    """The permutation moving axes ``start:start+length`` to position ``dst``."""
    block = list(range(start, start + length))
    rest = [i for i in range(ndim) if i not in block]
    return tuple(rest[:dst] + block + rest[dst:])


def _gather_batch(xs, batched, size, *, index):
    from fnad.ops.shape import transpose

    x, *arrays = xs
    index, arrays, move = _batch_index(index, arrays, batched[1:], size, batched[0])
    out = gather(x, index, *arrays)
    return transpose(out, _move_block(out.ndim, *move))


gather_p = register(
    Primitive(
        "gather",
        impl=lambda x, *arrays, index: np.asarray(x)[index.build(arrays)],
        abstract=_gather_abstract,
        vjp=_gather_vjp,
        jvp=lambda ts, x, *arrays, out, index: (
            None if ts[0] is None else gather(ts[0], index, *arrays)
        ),
        batch=_gather_batch,
        cases=_index_cases,
    )
)


def _index_add_impl(x, v, *arrays, index):
    out = np.array(x, copy=True)
    if index.basic:
        out[index.build(arrays)] += v
    else:
        np.add.at(out, index.build(arrays), v)
    return out


def _index_add_abstract(x: ArraySpec, v: ArraySpec, *arrays: ArraySpec, index) -> ArraySpec:
    target = _gather_abstract(x, *arrays, index=index)
    if v != target:
        raise ValueError(f"fnad: index_add value {v!r} does not match the indexed {target!r}")
    return x


def index_add(x, v, index: IndexSpec, *arrays):
    return bind(index_add_p, x, v, *arrays, index=index)


def _index_add_vjp(ct, x, v, *arrays, out, index):
    return (ct, gather(ct, index, *arrays) if is_float(v.dtype) else None) + (None,) * len(arrays)


def _index_add_jvp(ts, x, v, *arrays, out, index):
    tx, tv = ts[0], ts[1]
    if tx is None and tv is None:
        return None
    return index_add(
        np.zeros_like(x) if tx is None else tx,
        np.zeros_like(v) if tv is None else tv,
        index,
        *arrays,
    )


def _index_add_cases(rng):
    cases = []
    for (x, *arrays), params in _index_cases(rng):
        target = x[params["index"].build(arrays)]
        cases.append(((x, rng.normal(size=target.shape), *arrays), params))
    return cases


def _index_add_batch(xs, batched, size, *, index):
    from fnad.ops.shape import batch_all, transpose

    x, v = batch_all(xs[:2], batched[:2], size)
    index, arrays, move = _batch_index(index, xs[2:], batched[2:], size, True)
    perm = _move_block(v.ndim, *move)
    return index_add(x, transpose(v, tuple(np.argsort(perm))), index, *arrays)


index_add_p = register(
    Primitive(
        "index_add",
        impl=_index_add_impl,
        abstract=_index_add_abstract,
        vjp=_index_add_vjp,
        jvp=_index_add_jvp,
        batch=_index_add_batch,
        cases=_index_add_cases,
    )
)
