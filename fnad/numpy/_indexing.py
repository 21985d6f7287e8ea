"""NumPy indexing on traced arrays: ``x[idx]`` as one ``gather`` node, and ``nonzero``.

Ints, slices (any step), ``None``, ``Ellipsis``, integer arrays (traced or not) and
boolean masks follow NumPy's rules exactly: the index is normalized to an ``IndexSpec``
and NumPy itself computes the result shape. A boolean mask's True positions decide the
result's shape, so a traced mask needs a concrete value (dynamic mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.trace import Tracer, with_location
from fnad.ops.elementwise import convert
from fnad.ops.indexing import IndexSpec, gather, index_add


def concrete_value(x: Any, what: str) -> np.ndarray:
    """The NumPy value behind ``x``, looking through nested tracers."""
    while isinstance(x, Tracer):
        x = x.concrete(what)
    return np.asarray(x)


def nonzero(a: Any) -> tuple[np.ndarray, ...]:
    """``numpy.nonzero``; a traced argument must be concrete (the result shape depends on it)."""
    return np.nonzero(concrete_value(a, "nonzero (or boolean-mask indexing)"))


def _index_entry(k: Any, entries: list, arrays: list) -> int:
    """Append ``k``'s normalized entries; return how many dimensions it consumes."""
    if k is None:
        entries.append(None)
        return 0
    if isinstance(k, slice):
        entries.append(
            slice(*(None if v is None else v.__index__() for v in (k.start, k.stop, k.step)))
        )
        return 1
    if isinstance(k, bool | np.bool_):
        raise with_location(IndexError("fnad: boolean scalar indices are not supported"))
    if isinstance(k, int | np.integer):
        entries.append(int(k))
        return 1
    arr = k if isinstance(k, Tracer) else np.asarray(k)
    if isinstance(k, list | tuple) and arr.size == 0:
        arr = arr.astype(np.intp)  # NumPy reads an empty list as an empty integer index
    if arr.dtype == np.bool_:
        positions = nonzero(arr)
        for p in positions:
            entries.append(("array", len(arrays)))
            arrays.append(p)
        return len(positions)
    if not np.issubdtype(arr.dtype, np.integer):
        raise with_location(
            IndexError(f"fnad: arrays used as indices must be integer or boolean, got {arr.dtype}")
        )
    entries.append(("array", len(arrays)))
    arrays.append(arr)
    return 1


def _advanced(entries: list) -> bool:
    return any(isinstance(e, int | tuple) for e in entries)


def normalize_index(key: Any, ndim: int) -> tuple[IndexSpec, list, int | None]:
    """``(index, arrays, drop)``: ``drop`` is an axis of size 1 to remove from the result."""
    key = key if isinstance(key, tuple) else (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise with_location(IndexError("fnad: an index can only have a single ellipsis"))
    before: list = []
    after: list = []
    arrays: list = []
    consumed, target = 0, before
    for k in key:
        if k is Ellipsis:
            target = after
            continue
        consumed += _index_entry(k, target, arrays)
    if consumed > ndim:
        raise with_location(
            IndexError(f"fnad: too many indices: array is {ndim}-dimensional, {consumed} indexed")
        )
    fill = [slice(None)] * (ndim - consumed)
    drop = None
    if not fill and arrays and _advanced(before) and _advanced(after):
        # NOTE: even an empty Ellipsis separates advanced indices for NumPy, which then puts
        # their dimensions first. A None separates them alike; its axis is dropped after.
        fill = [None]
        basic = [e for e in before if e is None or isinstance(e, slice)]
        drop = len(np.broadcast_shapes(*(tuple(a.shape) for a in arrays))) + len(basic)
    return IndexSpec(tuple(before + fill + after)), arrays, drop


def _drop_axis(x: Any, axis: int | None) -> Any:
    return x if axis is None else x.reshape(x.shape[:axis] + x.shape[axis + 1 :])


def getitem(a: Any, key: Any) -> Any:
    """``a[key]`` with NumPy's semantics; differentiable in ``a``."""
    index, arrays, drop = normalize_index(key, a.ndim if isinstance(a, Tracer) else np.ndim(a))
    if not isinstance(a, Tracer) and not any(isinstance(x, Tracer) for x in arrays):
        return _drop_axis(np.asarray(a)[index.build(arrays)], drop)
    try:
        return _drop_axis(gather(a, index, *arrays), drop)
    except IndexError as exc:
        raise with_location(exc) from None


def add_at(a: Any, key: Any, values: Any) -> Any:
    """Functional ``np.add.at``: a copy of ``a`` with ``values`` added at ``key`` (repeats add)."""
    from fnad.numpy import _shape
    from fnad.numpy._core import innermost, operand, result_type, shape_of

    index, arrays, drop = normalize_index(key, len(shape_of(a)))
    target = tuple(shape_of(getitem(a, key)))
    if drop is not None:
        values = _shape.broadcast_to(values, target)
        target = target[:drop] + (1,) + target[drop:]
        values = _shape.reshape(values, target)
    if not any(isinstance(x, Tracer) for x in (a, values, *arrays)):
        out = np.array(a, dtype=result_type(a, values), copy=True)
        np.add.at(out, index.build(arrays), values)
        return out
    dtype = a.dtype if isinstance(a, Tracer) else result_type(a, values)
    builder = innermost([a, values, *arrays])
    base = operand(a, dtype, shape_of(a), builder)
    return index_add(base, operand(values, dtype, target, builder), index, *arrays)


def setitem(a: Any, key: Any, value: Any) -> Any:
    """Functional ``a[key] = value``: a new array equal to ``a`` except at ``key``.

    ``value`` is cast to ``a``'s dtype and broadcast to ``a[key]``'s shape. Where an index
    array repeats a position the last value wins, as in NumPy. The gradient reaches ``a``
    everywhere except the overwritten positions, and ``value`` through a gather. Indices
    traced abstractly (under ``jit``) are handled by ``_setitem_traced``.
    """
    parts = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, Tracer) and not _is_concrete(k) for k in parts):
        return _setitem_traced(a, key, parts, value)
    if any(isinstance(k, Tracer) for k in parts):
        # NOTE: dynamic mode records the path taken: concrete indices become constants.
        concrete = tuple(
            concrete_value(k, "x[idx] = v") if isinstance(k, Tracer) else k for k in parts
        )
        key = concrete if isinstance(key, tuple) else concrete[0]
    return _setitem_known(a, key, value)


def _is_concrete(x: Tracer) -> bool:
    while isinstance(x, Tracer):
        if x.val is None:
            return False
        x = x.val
    return True


def _setitem_known(a: Any, key: Any, value: Any) -> Any:
    from fnad.numpy._core import where
    from fnad.numpy._shape import broadcast_to, reshape, zeros_like

    index, arrays, drop = normalize_index(key, a.ndim)
    positions = _drop_axis(np.arange(a.size).reshape(a.shape)[index.build(arrays)], drop)
    value = broadcast_to(value if isinstance(value, Tracer) else np.asarray(value), positions.shape)
    value = convert(value, a.dtype) if isinstance(value, Tracer) else value.astype(a.dtype)
    flat = positions.ravel()
    reversed_unique, first = np.unique(flat[::-1], return_index=True)
    mask = np.zeros(a.size, bool)
    mask[flat] = True
    if len(reversed_unique) < len(flat):
        # NOTE: a position written twice keeps its last value, so only those are scattered.
        value = getitem(reshape(value, (-1,)), len(flat) - 1 - first)
        flat = reversed_unique
    written = add_at(zeros_like(a, shape=(a.size,)), flat, reshape(value, (-1,)))
    return where(mask.reshape(a.shape), reshape(written, a.shape), a)


def _setitem_traced(a: Any, key: Any, parts: tuple, value: Any) -> Any:
    """``a[key] = value`` where ``key`` holds abstract tracers: which positions are written
    is known only at run time, so they are marked by a scatter and chosen by ``where``.
    A position an index array repeats gets the mean of its values (their common value
    when they agree, as for a scalar ``value``)."""
    from fnad.numpy._core import divide, floor_divide, maximum, where
    from fnad.numpy._shape import broadcast_to, reshape, zeros_like

    if any(isinstance(k, Tracer) and k.dtype == np.bool_ for k in parts):
        return _set_by_mask(a, parts, value)
    value = value if isinstance(value, Tracer) else np.asarray(value)
    value = convert(value, a.dtype) if isinstance(value, Tracer) else value.astype(a.dtype)
    positions = getitem(np.arange(a.size).reshape(a.shape), key)
    flat = reshape(positions, (-1,))
    counts = add_at(np.zeros(a.size, np.int64), flat, np.int64(1))
    written = reshape(counts, a.shape) > 0
    if np.size(value) == 1:
        return where(written, reshape(value, ()), a)
    sums = add_at(
        zeros_like(a, shape=(a.size,)), flat, reshape(broadcast_to(value, positions.shape), (-1,))
    )
    share = floor_divide if np.issubdtype(a.dtype, np.integer) else divide
    mean = convert(share(sums, maximum(counts, 1)), a.dtype)
    return where(written, reshape(mean, a.shape), a)


def _set_by_mask(a: Any, parts: tuple, value: Any) -> Any:
    from fnad.numpy._core import where
    from fnad.numpy._shape import reshape

    (mask,) = parts if len(parts) == 1 else (None,)
    if mask is None or mask.shape != tuple(a.shape[: mask.ndim]):
        raise with_location(
            IndexError(
                f"fnad: x[mask] = v with a traced mask needs the mask alone, shaped like the "
                f"leading axes of x {tuple(a.shape)}"
            )
        )
    if np.size(value) != 1:
        raise with_location(
            TypeError(
                "fnad: x[mask] = v with a traced mask under jit needs a scalar v: how many "
                "entries are True is unknown at trace time; use fnad.numpy.where(mask, v, x)"
            )
        )
    value = reshape(value, ()) if isinstance(value, Tracer) else np.asarray(value).reshape(())
    value = convert(value, a.dtype) if isinstance(value, Tracer) else value.astype(a.dtype)
    mask = reshape(mask, mask.shape + (1,) * (a.ndim - mask.ndim))
    return where(mask, value, a)
