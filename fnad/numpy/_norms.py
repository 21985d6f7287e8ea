"""``numpy.linalg.norm`` for every vector and matrix order NumPy supports, composed from
differentiable operations (the matrix 2-norms and the nuclear norm through the SVD)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.trace import with_location
from fnad.numpy._core import is_traced, shape_of
from fnad.numpy._shape import normalize_axis


def _abs2(x: Any) -> Any:
    return np.real(x * np.conj(x)) if np.dtype(x.dtype).kind == "c" else x * x


def _vector(x: Any, ord: Any, axis: int) -> Any:  # noqa: A002
    if ord is None or ord == 2:
        return np.sqrt(np.sum(_abs2(x), axis=axis))
    if isinstance(ord, str):
        raise with_location(ValueError(f"fnad: invalid norm order {ord!r} for vectors"))
    a = np.abs(x)
    if ord == np.inf:
        return np.max(a, axis=axis)
    if ord == -np.inf:
        return np.min(a, axis=axis)
    if ord == 0:
        return np.sum((x != 0).astype(a.dtype), axis=axis)
    if ord == 1:
        return np.sum(a, axis=axis)
    return np.sum(a**ord, axis=axis) ** (1.0 / ord)


def _singular_values(x: Any) -> Any:
    from fnad.numpy.linalg import svd

    return svd(x, full_matrices=False, compute_uv=False)


def _matrix(x: Any, ord: Any) -> Any:  # noqa: A002
    """A norm of the matrices in the last two axes of ``x``."""
    if ord is None or ord == "fro":
        return np.sqrt(np.sum(_abs2(x), axis=(-2, -1)))
    if ord == "nuc":
        return np.sum(_singular_values(x), axis=-1)
    if ord in (2, -2):
        s = _singular_values(x)
        return np.max(s, axis=-1) if ord == 2 else np.min(s, axis=-1)
    if ord in (1, -1, np.inf, -np.inf):
        sums = np.sum(np.abs(x), axis=-2 if ord in (1, -1) else -1)
        return np.max(sums, axis=-1) if ord > 0 else np.min(sums, axis=-1)
    raise with_location(ValueError(f"fnad: invalid norm order {ord!r} for matrices"))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """``numpy.linalg.norm``: vector orders (None, 2, inf, -inf, 0, 1, -1, any p) along
    one axis, matrix orders (None, 'fro', 'nuc', 2, -2, 1, -1, inf, -inf) over two."""
    if not is_traced(x):
        return np.linalg.norm(x, ord, axis, keepdims)
    nd = len(shape_of(x))
    if axis is None:
        if ord is None or nd == 1:
            out = _vector(np.ravel(x), ord, 0)
            return np.reshape(out, (1,) * nd) if keepdims else out
        if nd != 2:
            raise with_location(ValueError("fnad: improper number of dimensions to norm"))
        axis = (0, 1)
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(normalize_axis(a, nd) for a in axes)
    if len(axes) == 1:
        out = _vector(x, ord, axes[0])
    elif len(axes) == 2 and axes[0] != axes[1]:
        out = _matrix(np.moveaxis(x, axes, (-2, -1)), ord)
    else:
        raise with_location(ValueError(f"fnad: norm axis {axis} must name one or two axes"))
    if keepdims:
        out = np.expand_dims(out, tuple(sorted(axes)))
    return out
