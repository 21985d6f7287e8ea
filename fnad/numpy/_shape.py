"""Shape manipulation and array creation with NumPy's names and semantics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.trace import Tracer, with_location
from fnad.numpy._core import innermost, is_traced, operand, result_type, shape_of
from fnad.ops import shape as sh
from fnad.ops.elementwise import convert


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise with_location(
            np.exceptions.AxisError(
                f"fnad: {what} {axis} is out of bounds for an array of dimension {ndim}"
            )
        )
    return axis % ndim


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = sorted(normalize_axis(a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise with_location(ValueError(f"fnad: repeated axis in {axis}"))
    return tuple(out)


def shape(a: Any) -> tuple[int, ...]:
    return tuple(shape_of(a))


def ndim(a: Any) -> int:
    return len(shape_of(a))


def size(a: Any, axis: int | None = None) -> int:
    s = shape_of(a)
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None) -> Any:
    """``numpy.reshape`` (C order; one dimension may be -1)."""
    shape = newshape if shape is None else shape
    if not is_traced(a):
        return np.reshape(a, shape, order=order)
    if order != "C":
        raise NotImplementedError("fnad: reshape supports order='C' only")
    dims = [int(d) for d in ((shape,) if isinstance(shape, int | np.integer) else shape)]
    if dims.count(-1) > 1:
        raise with_location(ValueError("fnad: reshape can only infer one dimension"))
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if known == 0 or a.size % known:
            raise with_location(ValueError(f"fnad: cannot reshape {a.spec!r} into {tuple(dims)}"))
        dims[dims.index(-1)] = a.size // known
    return sh.reshape(a, tuple(dims))


def ravel(a: Any, order: str = "C") -> Any:
    return reshape(a, (-1,), order) if is_traced(a) else np.ravel(a, order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    if not is_traced(a):
        return np.transpose(a, axes)
    perm = (
        tuple(reversed(range(a.ndim)))
        if axes is None
        else tuple(normalize_axis(x, a.ndim) for x in axes)
    )
    return sh.transpose(a, perm)


def permute_dims(a: Any, axes: Sequence[int] | None = None) -> Any:
    return transpose(a, axes)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    if not is_traced(a):
        return np.swapaxes(a, axis1, axis2)
    perm = list(range(a.ndim))
    i, j = normalize_axis(axis1, a.ndim), normalize_axis(axis2, a.ndim)
    perm[i], perm[j] = perm[j], perm[i]
    return sh.transpose(a, tuple(perm))


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    if not is_traced(a):
        return np.moveaxis(a, source, destination)
    src = [normalize_axis(s, a.ndim) for s in np.atleast_1d(source)]
    dst = [normalize_axis(d, a.ndim) for d in np.atleast_1d(destination)]
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return sh.transpose(a, tuple(order))


def expand_dims(a: Any, axis: Any) -> Any:
    if not is_traced(a):
        return np.expand_dims(a, axis)
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out_ndim = a.ndim + len(axes)
    new = normalize_axes(axes, out_ndim)
    dims = iter(a.shape)
    return sh.reshape(a, tuple(1 if i in new else next(dims) for i in range(out_ndim)))


def squeeze(a: Any, axis: Any = None) -> Any:
    if not is_traced(a):
        return np.squeeze(a, axis)
    if axis is None:
        axes = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = normalize_axes(axis, a.ndim)
        if any(a.shape[i] != 1 for i in axes):
            raise with_location(ValueError("fnad: cannot squeeze an axis of size other than 1"))
    return sh.reshape(a, tuple(d for i, d in enumerate(a.shape) if i not in axes))


def broadcast_to(array: Any, shape: Any) -> Any:
    if not is_traced(array):
        return np.broadcast_to(array, shape)
    shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(shape)
    return sh.broadcast_to(array, shape)


def broadcast_arrays(*args: Any) -> list[Any]:
    if not is_traced(*args):
        return np.broadcast_arrays(*args)
    target = np.broadcast_shapes(*(shape_of(a) for a in args))
    return [broadcast_to(a, target) for a in args]


def atleast_1d(*arys: Any) -> Any:
    out = [a if ndim(a) >= 1 else reshape(a, (1,)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    out = [reshape(a, (1,) * (2 - ndim(a)) + shape(a)) if ndim(a) < 2 else a for a in arys]
    return out[0] if len(out) == 1 else out


def concatenate(arrays: Sequence[Any], axis: int | None = 0, dtype: Any = None) -> Any:
    """``numpy.concatenate``; operands are promoted to a common dtype."""
    arrays = list(arrays)
    if not is_traced(*arrays):
        return np.concatenate(arrays, axis=axis, dtype=dtype)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    dtype = np.dtype(dtype) if dtype is not None else result_type(*arrays)
    builder = innermost(arrays)
    parts = [operand(a, dtype, shape_of(a), builder) for a in arrays]
    if any(len(shape_of(p)) == 0 for p in parts):
        raise with_location(ValueError("fnad: zero-dimensional arrays cannot be concatenated"))
    return builder.apply(sh.concatenate_p, parts, {"axis": normalize_axis(axis, ndim(parts[0]))})


def stack(arrays: Sequence[Any], axis: int = 0, dtype: Any = None) -> Any:
    arrays = list(arrays)
    if not is_traced(*arrays):
        return np.stack(arrays, axis=axis, dtype=dtype)
    shapes = {tuple(shape_of(a)) for a in arrays}
    if len(shapes) != 1:
        raise with_location(ValueError("fnad: all input arrays must have the same shape"))
    axis = normalize_axis(axis, ndim(arrays[0]) + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis, dtype)


def hstack(tup: Sequence[Any]) -> Any:
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, 0 if ndim(arrs[0]) == 1 else 1)


def vstack(tup: Sequence[Any]) -> Any:
    return concatenate([atleast_2d(a) for a in tup], 0)


def array(obj: Any, dtype: Any = None) -> Any:
    """``numpy.array`` that also accepts (nested) sequences containing tracers."""
    if isinstance(obj, Tracer):
        return obj if dtype is None else astype(obj, dtype)
    if isinstance(obj, list | tuple) and _contains_tracer(obj):
        return stack([array(o) for o in obj], 0, dtype)
    return np.array(obj, dtype=dtype)


def asarray(a: Any, dtype: Any = None) -> Any:
    if isinstance(a, Tracer) or (isinstance(a, list | tuple) and _contains_tracer(a)):
        return array(a, dtype)
    return np.asarray(a, dtype=dtype)


def _contains_tracer(obj: Any) -> bool:
    if isinstance(obj, list | tuple):
        return any(_contains_tracer(o) for o in obj)
    return isinstance(obj, Tracer)


def astype(x: Any, dtype: Any, copy: bool = True) -> Any:
    return convert(x, dtype) if is_traced(x) else np.asarray(x).astype(dtype, copy=copy)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """A constant array shaped like ``a``: in traced code one broadcast of a scalar."""
    if not is_traced(a):
        return np.full_like(a, fill_value, dtype=dtype, shape=shape)
    dtype = np.dtype(dtype) if dtype is not None else a.dtype
    shape = tuple(a.shape) if shape is None else tuple(np.atleast_1d(shape))
    value = np.asarray(fill_value, dtype=dtype)
    return innermost([a]).apply(sh.broadcast_to_p, (value,), {"shape": shape})


def zeros_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    return full_like(a, 0, dtype, shape)


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    return full_like(a, 1, dtype, shape)


def copy(a: Any) -> Any:
    return a if is_traced(a) else np.copy(a)
