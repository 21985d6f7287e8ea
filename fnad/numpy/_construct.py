"""Shape and construction functions as slices, gathers, broadcasts and concatenations.

``flip``, ``roll``, ``rot90``, ``tile``, ``repeat``, ``pad``, ``diag``, ``diagonal``,
``triu``, ``tril``, ``kron``, ``split``, ``meshgrid``... Each is built from primitives
whose rules already exist, so they differentiate, batch and compile. Index vectors are
computed with NumPy at trace time (``pad`` uses ``np.pad`` on positions for every mode),
so every gather takes at most one 1-d integer array, the form the compiler handles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.trace import with_location
from fnad.numpy._core import is_traced, multiply, shape_of, where
from fnad.numpy._indexing import add_at, getitem
from fnad.numpy._shape import (
    broadcast_to,
    concatenate,
    full_like,
    moveaxis,
    ndim,
    normalize_axes,
    normalize_axis,
    reshape,
    swapaxes,
    zeros_like,
)


def _along(x: Any, axis: int, index: Any) -> Any:
    """``x`` indexed by ``index`` (a slice or a 1-d integer vector) along ``axis``."""
    return getitem(x, (slice(None),) * axis + (index,))


def flip(m: Any, axis: Any = None) -> Any:
    if not is_traced(m):
        return np.flip(m, axis)
    key = [slice(None)] * m.ndim
    for a in normalize_axes(axis, m.ndim):
        key[a] = slice(None, None, -1)
    return getitem(m, tuple(key))


def fliplr(m: Any) -> Any:
    return flip(m, 1) if is_traced(m) else np.fliplr(m)


def flipud(m: Any) -> Any:
    return flip(m, 0) if is_traced(m) else np.flipud(m)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    if not is_traced(a):
        return np.roll(a, shift, axis)
    if axis is None:
        return reshape(roll(reshape(a, (-1,)), shift, 0), a.shape)
    shifts, axes = np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))
    out = a
    for s, ax in zip(shifts.tolist(), axes.tolist()):
        ax = normalize_axis(ax, a.ndim)
        n = a.shape[ax]
        if n and s % n:
            k = n - s % n
            out = concatenate([_along(out, ax, slice(k, None)), _along(out, ax, slice(0, k))], ax)
    return out


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    if not is_traced(m):
        return np.rot90(m, k, axes)
    a0, a1 = (normalize_axis(a, m.ndim) for a in axes)
    if a0 == a1:
        raise with_location(ValueError("fnad: rot90 axes must be different"))
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    return swapaxes(flip(m, a1), a0, a1) if k == 1 else flip(swapaxes(m, a0, a1), a1)


def tile(A: Any, reps: Any) -> Any:
    if not is_traced(A):
        return np.tile(A, reps)
    reps = tuple(int(r) for r in np.atleast_1d(reps))
    nd = max(len(reps), A.ndim)
    shape = (1,) * (nd - A.ndim) + tuple(A.shape)
    reps = (1,) * (nd - len(reps)) + reps
    spread = reshape(A, tuple(d for s in shape for d in (1, s)))
    wide = broadcast_to(spread, tuple(d for r, s in zip(reps, shape) for d in (r, s)))
    return reshape(wide, tuple(r * s for r, s in zip(reps, shape)))


def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    if not is_traced(a):
        return np.repeat(a, repeats, axis)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = normalize_axis(axis, a.ndim)
    reps = np.asarray(repeats)
    if reps.ndim == 0:
        n = int(reps)
        wide = broadcast_to(
            reshape(a, a.shape[: axis + 1] + (1,) + a.shape[axis + 1 :]),
            a.shape[: axis + 1] + (n,) + a.shape[axis + 1 :],
        )
        return reshape(wide, a.shape[:axis] + (a.shape[axis] * n,) + a.shape[axis + 1 :])
    return _along(a, axis, np.repeat(np.arange(a.shape[axis]), reps))


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """``numpy.pad``; every mode without a callable, and constant values not traced."""
    if not is_traced(array):
        return np.pad(array, pad_width, mode, **kwargs)
    if callable(mode):
        raise with_location(TypeError("fnad: pad with a callable mode is not supported"))
    widths = np.broadcast_to(np.asarray(pad_width, np.int64), (array.ndim, 2))
    values = np.broadcast_to(np.asarray(kwargs.pop("constant_values", 0)), (array.ndim, 2))
    out = array
    for ax, (before, after) in enumerate(widths.tolist()):
        if not before and not after:
            continue
        if mode == "constant":
            parts = [
                _block(out, ax, before, values[ax, 0]),
                out,
                _block(out, ax, after, values[ax, 1]),
            ]
            out = concatenate([p for p in parts if p is not None], ax)
        else:
            positions = np.pad(np.arange(out.shape[ax]), (before, after), mode, **kwargs)
            out = _along(out, ax, positions)
    return out


def _block(x: Any, axis: int, width: int, value: Any) -> Any:
    if not width:
        return None
    shape = tuple(width if k == axis else d for k, d in enumerate(x.shape))
    return full_like(x, value, shape=shape)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``numpy.diagonal``: the diagonal becomes the last axis."""
    if not is_traced(a):
        return np.diagonal(a, offset, axis1, axis2)
    x = moveaxis(a, (axis1, axis2), (-2, -1))
    n, m = x.shape[-2:]
    length = max(0, min(n + min(offset, 0), m - max(offset, 0)))
    rows = np.arange(length) + max(-offset, 0)
    cols = np.arange(length) + max(offset, 0)
    flat = reshape(x, x.shape[:-2] + (n * m,))
    return getitem(flat, (Ellipsis, rows * m + cols))


def diag(v: Any, k: int = 0) -> Any:
    """``numpy.diag``: a 1-d input becomes a matrix, a 2-d input gives its diagonal."""
    if not is_traced(v):
        return np.diag(v, k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise with_location(ValueError(f"fnad: diag needs a 1-d or 2-d input, got {v.ndim}-d"))
    n = v.shape[0] + abs(k)
    positions = (np.arange(v.shape[0]) + max(-k, 0)) * n + np.arange(v.shape[0]) + max(k, 0)
    flat = add_at(zeros_like(v, shape=(n * n,)), positions, v)
    return reshape(flat, (n, n))


def _triangle(m: Any, mask: np.ndarray) -> Any:
    if ndim(m) < 2:
        raise with_location(ValueError("fnad: triu/tril need an array of at least 2 dimensions"))
    return where(mask, m, zeros_like(m))


def tril(m: Any, k: int = 0) -> Any:
    if not is_traced(m):
        return np.tril(m, k)
    return _triangle(m, np.tri(*m.shape[-2:], k=k, dtype=bool))


def triu(m: Any, k: int = 0) -> Any:
    if not is_traced(m):
        return np.triu(m, k)
    return _triangle(m, ~np.tri(*m.shape[-2:], k=k - 1, dtype=bool))


def kron(a: Any, b: Any) -> Any:
    """``numpy.kron``: blocks ``a[i] * b``, as one broadcast product and a reshape."""
    if not is_traced(a, b):
        return np.kron(a, b)
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    wide = multiply(
        reshape(a, tuple(d for s in sa for d in (s, 1))),
        reshape(b, tuple(d for s in sb for d in (1, s))),
    )
    return reshape(wide, tuple(x * y for x, y in zip(sa, sb)))


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    if not is_traced(ary):
        return np.array_split(ary, indices_or_sections, axis)
    axis = normalize_axis(axis, ary.ndim)
    n = ary.shape[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise with_location(ValueError("fnad: number sections must be larger than 0"))
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), n]
    return [_along(ary, axis, slice(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    if not is_traced(ary):
        return np.split(ary, indices_or_sections, axis)
    if np.ndim(indices_or_sections) == 0 and ary.shape[axis] % int(indices_or_sections):
        raise with_location(ValueError("fnad: array split does not result in an equal division"))
    return array_split(ary, indices_or_sections, axis)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> list:
    if not is_traced(*xi):
        return np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    sizes = [int(np.prod(shape_of(x), dtype=np.int64)) for x in xi]
    shape = [1] * len(xi)
    outs = []
    for i, x in enumerate(xi):
        s = list(shape)
        s[i] = sizes[i]
        if indexing == "xy" and len(xi) > 1 and i < 2:
            s[0], s[1] = s[1], s[0]
        outs.append(reshape(x, tuple(s)))
    if sparse:
        return outs
    full = tuple(np.broadcast_shapes(*(shape_of(o) for o in outs)))
    return [broadcast_to(o, full) for o in outs]


def atleast_3d(*arys: Any) -> Any:
    out = []
    for a in arys:
        s = tuple(shape_of(a))
        new = {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s)
        out.append(reshape(a, new) if new != s else a)
    return out[0] if len(out) == 1 else out
