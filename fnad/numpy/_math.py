"""The rest of NumPy's float ufuncs, mostly as exact compositions of primitives.

``deg2rad``, ``sinc``, ``fmod``, ``logaddexp2``, ``nan_to_num``, ``fmax``... are built from
primitives, so they differentiate, batch and compile with no rules of their own.
Piecewise-constant functions (``round``, ``signbit``) have zero gradients, as their NumPy
definitions imply. ``sinc`` uses the double ``where``, so its gradient at 0 is 0, exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fnad.numpy._core import (
    _ufunc,
    absolute,
    divide,
    equal,
    greater,
    is_traced,
    isinf,
    isnan,
    less,
    logaddexp,
    maximum,
    minimum,
    multiply,
    rint,
    sin,
    subtract,
    trunc,
    ufunc_dtype,
    where,
)
from fnad.ops import elementwise as ew

copysign = _ufunc(ew.copysign_p, np.copysign)


def _as(x: Any, np_fn: Any) -> Any:
    """``x`` converted to the dtype NumPy's ``np_fn`` computes in (ints become float64)."""
    return ew.convert(x, ufunc_dtype(np_fn, (x,)))


def deg2rad(x: Any) -> Any:
    """``numpy.deg2rad`` (also ``radians``)."""
    return multiply(_as(x, np.deg2rad), math.pi / 180) if is_traced(x) else np.deg2rad(x)


def rad2deg(x: Any) -> Any:
    """``numpy.rad2deg`` (also ``degrees``)."""
    return multiply(_as(x, np.rad2deg), 180 / math.pi) if is_traced(x) else np.rad2deg(x)


radians, degrees = deg2rad, rad2deg


def fabs(x: Any) -> Any:
    return absolute(_as(x, np.fabs)) if is_traced(x) else np.fabs(x)


def sinc(x: Any) -> Any:
    """``numpy.sinc``: sin(pi x) / (pi x), 1 at 0; the gradient at 0 is 0."""
    if not is_traced(x):
        return np.sinc(x)
    x = ew.convert(x, ufunc_dtype(np.sin, (x,)))
    zero = equal(x, 0)
    safe = multiply(where(zero, 1, x), math.pi)
    return where(zero, 1, divide(sin(safe), safe))


def fmod(x: Any, y: Any) -> Any:
    """``numpy.fmod``: remainder with the sign of ``x`` (C's fmod), ``x - trunc(x/y) y``."""
    if not is_traced(x, y):
        return np.fmod(x, y)
    out = subtract(x, multiply(trunc(divide(x, y)), y))
    return ew.convert(out, ufunc_dtype(np.fmod, (x, y)))


def logaddexp2(x: Any, y: Any) -> Any:
    """``numpy.logaddexp2``: log2(2**x + 2**y) without overflow."""
    if not is_traced(x, y):
        return np.logaddexp2(x, y)
    ln2 = math.log(2.0)
    return divide(logaddexp(multiply(x, ln2), multiply(y, ln2)), ln2)


def round(a: Any, decimals: int = 0, out: Any = None) -> Any:  # noqa: A001
    """``numpy.round``: half to even, scaled by ``10**decimals`` as NumPy does."""
    if not is_traced(a):
        return np.round(a, decimals, out)
    if out is not None:
        raise TypeError("fnad: round(out=...) is not supported (pure functions)")
    if a.dtype.kind in "iub" and decimals >= 0:
        return a
    if decimals == 0:
        return rint(a)
    scale = 10.0**decimals
    return divide(rint(multiply(a, scale)), scale)


around = round


def signbit(x: Any) -> Any:
    """``numpy.signbit``: True for negative numbers and -0.0 (no gradient)."""
    return less(copysign(1.0, x), 0) if is_traced(x) else np.signbit(x)


def isposinf(x: Any) -> Any:
    return greater(x, 0) & isinf(x) if is_traced(x) else np.isposinf(x)


def isneginf(x: Any) -> Any:
    return less(x, 0) & isinf(x) if is_traced(x) else np.isneginf(x)


def nan_to_num(
    x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None
) -> Any:
    """``numpy.nan_to_num``: gradient 1 at finite entries, 0 at replaced ones."""
    if not is_traced(x):
        return np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf)
    if x.dtype.kind not in "fc":
        return x
    big = np.finfo(x.dtype).max
    hi = big if posinf is None else posinf
    lo = -big if neginf is None else neginf
    out = where(isposinf(x), hi, where(isneginf(x), lo, x))
    return where(isnan(x), nan, out)


def fmax(x: Any, y: Any) -> Any:
    """``numpy.fmax``: the maximum, ignoring a NaN operand."""
    if not is_traced(x, y):
        return np.fmax(x, y)
    return where(isnan(y), x, where(isnan(x), y, maximum(x, y)))


def fmin(x: Any, y: Any) -> Any:
    """``numpy.fmin``: the minimum, ignoring a NaN operand."""
    if not is_traced(x, y):
        return np.fmin(x, y)
    return where(isnan(y), x, where(isnan(x), y, minimum(x, y)))
