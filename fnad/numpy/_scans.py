"""Scans, sorting and NaN-aware or weighted reductions with NumPy's signatures.

``cumsum`` is a primitive; ``cumprod`` is a log-depth product scan of multiplications, so
its derivatives are exact at zeros (no division). ``sort`` is ``take_along_axis`` at the
positions ``argsort`` gives, and ``take_along_axis`` is one gather from the flattened
array: the gradient of a sort scatters back to where each element came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.trace import Tracer, with_location
from fnad.numpy import _reductions as rd
from fnad.numpy._core import (
    add,
    broadcast_shapes,
    divide,
    is_traced,
    isnan,
    less,
    multiply,
    shape_of,
    where,
)
from fnad.numpy._indexing import getitem
from fnad.numpy._reductions import _sum_dtype
from fnad.numpy._shape import broadcast_to, moveaxis, normalize_axis, ravel, reshape
from fnad.ops import scan
from fnad.ops.elementwise import convert
from fnad.ops.reduce import _exclusive_cumprod


def _prepare(a: Any, axis: Any, dtype: Any) -> tuple[Any, int]:
    """``a`` flattened when ``axis`` is None, converted to the accumulation dtype."""
    if axis is None:
        a, axis = ravel(a), 0
    target = np.dtype(dtype) if dtype is not None else _sum_dtype(a.dtype)
    return convert(a, target), normalize_axis(axis, a.ndim)


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``numpy.cumsum`` (traceable, differentiable)."""
    if not is_traced(a):
        return np.cumsum(a, axis=axis, dtype=dtype, out=out)
    x, axis = _prepare(a, axis, dtype)
    return scan.cumsum(x, axis)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``numpy.cumprod``; gradients are exact where elements are zero."""
    if not is_traced(a):
        return np.cumprod(a, axis=axis, dtype=dtype, out=out)
    x, axis = _prepare(a, axis, dtype)
    if x.shape[axis] == 0:
        return x
    last = moveaxis(x, axis, -1)
    return moveaxis(_exclusive_cumprod(last) * last, -1, axis)


def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None):
    """``numpy.argsort``; always stable (equal elements keep their order), NaN last."""
    if not is_traced(a):
        return np.argsort(a, axis=axis, kind=kind, order=order, stable=stable)
    if order is not None:
        raise with_location(TypeError("fnad: argsort(order=...) needs structured arrays"))
    if axis is None:
        a, axis = ravel(a), 0
    if a.ndim == 0:
        return reshape(np.zeros((), np.int64), (1,))
    return scan.argsort(a, normalize_axis(axis, a.ndim))


def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None):
    """``numpy.sort``, differentiable: the gradient goes back to each element's position."""
    if not is_traced(a):
        return np.sort(a, axis=axis, kind=kind, order=order, stable=stable)
    if axis is None:
        a, axis = ravel(a), 0
    return take_along_axis(a, argsort(a, axis, order=order), axis)


def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    """``numpy.take_along_axis`` as one gather from the flattened array."""
    if not is_traced(arr, indices):
        return np.take_along_axis(arr, indices, axis=axis)
    if axis is None:
        arr, axis = ravel(arr), 0
    shape, ishape = tuple(shape_of(arr)), tuple(shape_of(indices))
    if len(ishape) != len(shape) or not np.issubdtype(indices.dtype, np.integer):
        raise with_location(
            IndexError(
                f"fnad: take_along_axis needs integer indices with {len(shape)} dimensions, "
                f"got {indices.dtype}{list(ishape)}"
            )
        )
    axis = normalize_axis(axis, len(shape))
    other = broadcast_shapes(
        *(tuple(1 if k == axis else d for k, d in enumerate(s)) for s in (shape, ishape))
    )
    full = tuple(shape[axis] if k == axis else d for k, d in enumerate(other))
    out_shape = tuple(ishape[axis] if k == axis else d for k, d in enumerate(other))
    strides = np.cumprod((full[1:] + (1,))[::-1])[::-1].astype(np.int64)
    base = np.zeros(out_shape, np.int64)
    for k, d in enumerate(out_shape):
        if k != axis:
            base = (
                base
                + np.arange(d).reshape([-1 if j == k else 1 for j in range(len(full))]) * strides[k]
            )
    n = shape[axis]
    idx = broadcast_to(indices, out_shape)
    idx = where(less(idx, 0), add(idx, n), idx) if isinstance(idx, Tracer) else idx % n
    flat = add(multiply(convert_index(idx), int(strides[axis])), base)
    values = ravel(broadcast_to(arr, full))
    return reshape(getitem(values, ravel(flat)), out_shape)


def convert_index(idx: Any) -> Any:
    return convert(idx, np.int64) if isinstance(idx, Tracer) else np.asarray(idx, np.int64)


def average(
    a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *, keepdims=False
):
    """``numpy.average``: the mean, or the weighted mean ``sum(a w) / sum(w)``."""
    if not is_traced(a, weights):
        return np.average(a, axis=axis, weights=weights, returned=returned, keepdims=keepdims)
    if weights is None:
        total = rd.mean(a, axis=axis, keepdims=keepdims)
        count = np.asarray(a.size // max(total.size, 1), total.dtype)
        return (total, broadcast_to(count, shape_of(total))) if returned else total
    ashape, wshape = tuple(shape_of(a)), tuple(shape_of(weights))
    if ashape != wshape:
        if axis is None or len(wshape) != 1:
            raise with_location(
                TypeError("fnad: average needs weights of a's shape, or 1-d weights and an axis")
            )
        ax = normalize_axis(axis, len(ashape))
        weights = reshape(weights, tuple(-1 if k == ax else 1 for k in range(len(ashape))))
    scale = rd.sum(
        broadcast_to(weights, broadcast_shapes(ashape, shape_of(weights))),
        axis=axis,
        keepdims=keepdims,
    )
    total = divide(rd.sum(multiply(a, weights), axis=axis, keepdims=keepdims), scale)
    return (total, broadcast_to(scale, shape_of(total))) if returned else total


def _nan_fill(a: Any, fill: float) -> Any:
    return where(isnan(a), fill, a)


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False):
    """``numpy.nansum``: NaNs count as zero (and get zero gradient)."""
    if not is_traced(a):
        return np.nansum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)
    return rd.sum(_nan_fill(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False):
    if not is_traced(a):
        return np.nanprod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)
    return rd.prod(_nan_fill(a, 1.0), axis=axis, dtype=dtype, keepdims=keepdims)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False):
    """``numpy.nanmean``: the mean of the non-NaN entries (NaN where there are none)."""
    if not is_traced(a):
        return np.nanmean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)
    count = rd.sum(convert(~isnan(a), a.dtype), axis=axis, keepdims=keepdims)
    return divide(nansum(a, axis=axis, dtype=dtype, keepdims=keepdims), count)


def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False):
    if not is_traced(a):
        return np.nanmax(a, axis=axis, out=out, keepdims=keepdims)
    return rd.max(_nan_fill(a, -np.inf), axis=axis, keepdims=keepdims)


def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False):
    if not is_traced(a):
        return np.nanmin(a, axis=axis, out=out, keepdims=keepdims)
    return rd.min(_nan_fill(a, np.inf), axis=axis, keepdims=keepdims)
