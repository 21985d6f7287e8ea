"""Reductions with NumPy's signatures: sum, mean, prod, max, min, var, std, argmax, any, all."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from fnad.core.trace import bind, with_location
from fnad.numpy._core import divide, is_traced, square, subtract
from fnad.numpy._shape import normalize_axes, normalize_axis, reshape
from fnad.ops import reduce as rd
from fnad.ops.elementwise import convert
from fnad.ops.reduce import reduce_prod, reduce_sum


@functools.lru_cache(maxsize=256)
def _sum_dtype(dtype: np.dtype) -> np.dtype:
    return np.sum(np.zeros((1,), dtype)).dtype


def _keep(out: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return out
    return reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _reducer(np_fn, reduce_fn, accumulate: bool):
    """A NumPy-style reduction over ``axis`` with ``dtype`` and ``keepdims``."""

    def fn(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False):
        if out is not None:
            raise TypeError(f"fnad: {np_fn.__name__}(out=...) is not supported (pure functions)")
        if not is_traced(a):
            kwargs = {"dtype": dtype} if accumulate else {}
            return np_fn(a, axis=axis, keepdims=keepdims, **kwargs)
        axes = normalize_axes(axis, a.ndim)
        target = np.dtype(dtype) if dtype is not None else a.dtype
        if accumulate and dtype is None:
            target = _sum_dtype(a.dtype)
        result = reduce_fn(convert(a, target), axes) if axes else convert(a, target)
        return _keep(result, a.shape, axes, keepdims)

    fn.__name__ = np_fn.__name__
    fn.__doc__ = f"``numpy.{np_fn.__name__}`` (traceable, differentiable)."
    return fn


def _extreme(prim):
    def reduce_fn(x, axes):
        return bind(prim, x, axes=axes)

    return reduce_fn


sum = _reducer(np.sum, reduce_sum, accumulate=True)  # noqa: A001
prod = _reducer(np.prod, reduce_prod, accumulate=True)
max = amax = _reducer(np.max, _extreme(rd.reduce_max_p), accumulate=False)  # noqa: A001
min = amin = _reducer(np.min, _extreme(rd.reduce_min_p), accumulate=False)  # noqa: A001


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False):
    """``numpy.mean``; integers average in float64 like NumPy."""
    if not is_traced(a):
        return np.mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)
    axes = normalize_axes(axis, a.ndim)
    count = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    target = np.dtype(dtype) if dtype is not None else _float_dtype(a.dtype)
    return divide(sum(a, axis=axes, dtype=target, keepdims=keepdims), count)


def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: int = 0,
    keepdims: bool = False,
):
    """``numpy.var`` with ``ddof``."""
    if not is_traced(a):
        return np.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)
    axes = normalize_axes(axis, a.ndim)
    count = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    centered = subtract(a, mean(a, axis=axes, dtype=dtype, keepdims=True))
    return divide(sum(square(centered), axis=axes, keepdims=keepdims), count - ddof)


def std(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: int = 0,
    keepdims: bool = False,
):
    if not is_traced(a):
        return np.std(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)
    from fnad.numpy._core import sqrt

    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _arg(np_fn, prim):
    def fn(a: Any, axis: int | None = None, out: Any = None, keepdims: bool = False):
        if not is_traced(a):
            return np_fn(a, axis=axis, keepdims=keepdims)
        x, ax = (reshape(a, (-1,)), 0) if axis is None else (a, normalize_axis(axis, a.ndim))
        if x.shape[ax] == 0:
            raise with_location(ValueError(f"fnad: {np_fn.__name__} of an empty sequence"))
        result = bind(prim, x, axis=ax)
        if keepdims:
            full = (1,) * a.ndim if axis is None else None
            result = reshape(
                result, full or tuple(1 if i == ax else d for i, d in enumerate(a.shape))
            )
        return result

    fn.__name__ = np_fn.__name__
    return fn


argmax = _arg(np.argmax, rd.argmax_p)
argmin = _arg(np.argmin, rd.argmin_p)


def any(a: Any, axis: Any = None, keepdims: bool = False):  # noqa: A001
    if not is_traced(a):
        return np.any(a, axis=axis, keepdims=keepdims)
    return max(convert(a, bool), axis=axis, keepdims=keepdims)


def all(a: Any, axis: Any = None, keepdims: bool = False):  # noqa: A001
    if not is_traced(a):
        return np.all(a, axis=axis, keepdims=keepdims)
    return min(convert(a, bool), axis=axis, keepdims=keepdims)
