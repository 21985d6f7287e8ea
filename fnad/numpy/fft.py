"""``fnad.numpy.fft``: NumPy's discrete Fourier transforms, traceable and differentiable.

Every transform is built from one unnormalized primitive (``fnad.ops.fft``) with
differentiable steps around it: conversion of real input to complex, cropping or
zero-padding for ``n=``/``s=``, the ``norm=`` scale ("backward", "ortho", "forward"),
keeping half the spectrum for ``rfft`` and rebuilding the Hermitian spectrum for
``irfft`` (whose imaginary parts at frequency 0 and n/2 are ignored, as NumPy does).

>>> import fnad, numpy as np
>>> x = np.array([1.0, 2.0, 0.5, -1.0])
>>> g = fnad.grad(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2))(x)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.trace import with_location
from fnad.numpy import _methods
from fnad.numpy._complex import conj, real
from fnad.numpy._core import is_traced, shape_of
from fnad.numpy._shape import concatenate, normalize_axis
from fnad.ops import fft as ops
from fnad.ops.elementwise import convert
from fnad.ops.indexing import IndexSpec, gather

_NORMS = (None, "backward", "ortho", "forward")


def _complex(a: Any) -> Any:
    dtype = np.dtype(a.dtype)
    target = np.complex64 if dtype in (np.float32, np.complex64) else np.complex128
    return convert(a, target)


def _real(a: Any) -> Any:
    a = real(a)
    return convert(a, np.float32 if np.dtype(a.dtype) == np.float32 else np.float64)


def _take(a: Any, axis: int, start: int, stop: int, step: int = 1) -> Any:
    entries = tuple(
        slice(start, stop, step) if k == axis else slice(None) for k in range(len(a.shape))
    )
    return gather(a, IndexSpec(entries))


def _resize(a: Any, n: int, axis: int) -> Any:
    """Crop or zero-pad ``a`` to length ``n`` along ``axis``."""
    size = a.shape[axis]
    if n < 1:
        raise with_location(ValueError(f"fnad: invalid number of FFT data points ({n})"))
    if n <= size:
        return a if n == size else _take(a, axis, 0, n)
    pad = list(a.shape)
    pad[axis] = n - size
    return concatenate([a, np.zeros(pad, a.dtype)], axis=axis)


def _scale(out: Any, n: int, norm: Any, inverse: bool) -> Any:
    if norm not in _NORMS:
        raise with_location(ValueError(f"fnad: invalid norm {norm!r}; expected one of {_NORMS}"))
    if norm == "ortho":
        return out * (1 / np.sqrt(n))
    scaled = (norm == "forward") != inverse
    return out * (1 / n) if scaled else out


def _one(a: Any, n: Any, axis: int, norm: Any, inverse: bool) -> Any:
    axis = normalize_axis(axis, len(a.shape))
    a = _complex(a)
    n = a.shape[axis] if n is None else int(n)
    return _scale(ops.fft(_resize(a, n, axis), axis, inverse), n, norm, inverse)


def fft(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """``numpy.fft.fft``."""
    if not is_traced(a):
        return np.fft.fft(a, n, axis, norm)
    return _one(a, n, axis, norm, False)


def ifft(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """``numpy.fft.ifft``."""
    if not is_traced(a):
        return np.fft.ifft(a, n, axis, norm)
    return _one(a, n, axis, norm, True)


def rfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """``numpy.fft.rfft``: the ``n // 2 + 1`` non-negative frequencies of real input."""
    if not is_traced(a):
        return np.fft.rfft(a, n, axis, norm)
    axis = normalize_axis(axis, len(shape_of(a)))
    a = _real(a)
    n = a.shape[axis] if n is None else int(n)
    full = _one(_resize(a, n, axis), None, axis, norm, False)
    return _take(full, axis, 0, n // 2 + 1)


def irfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """``numpy.fft.irfft``: real output of length ``n`` (default ``2 * (m - 1)``)."""
    if not is_traced(a):
        return np.fft.irfft(a, n, axis, norm)
    axis = normalize_axis(axis, len(shape_of(a)))
    a = _complex(a)
    n = 2 * (a.shape[axis] - 1) if n is None else int(n)
    half = _resize(a, n // 2 + 1, axis)
    mirrored = n - n // 2 - 1
    if mirrored > 0:
        half = concatenate([half, conj(_take(half, axis, mirrored, 0, -1))], axis=axis)
    return _real(_scale(ops.fft(half, axis, True), n, norm, True))


def _axes(a: Any, s: Any, axes: Any) -> tuple[list[int], list[Any]]:
    nd = len(shape_of(a))
    if axes is None:
        axes = list(range(nd)) if s is None else list(range(nd - len(s), nd))
    axes = [normalize_axis(ax, nd) for ax in axes]
    sizes = [None] * len(axes) if s is None else list(s)
    if len(sizes) != len(axes):
        raise with_location(ValueError("fnad: fft shape s and axes have different lengths"))
    return axes, sizes


def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None) -> Any:
    """``numpy.fft.fftn``: one-axis transforms in turn."""
    if not is_traced(a):
        return np.fft.fftn(a, s, axes, norm)
    for axis, n in zip(*_axes(a, s, axes)):
        a = _one(a, n, axis, norm, False)
    return a


def ifftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None) -> Any:
    """``numpy.fft.ifftn``."""
    if not is_traced(a):
        return np.fft.ifftn(a, s, axes, norm)
    for axis, n in zip(*_axes(a, s, axes)):
        a = _one(a, n, axis, norm, True)
    return a


def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None) -> Any:
    """``numpy.fft.fft2``."""
    return np.fft.fft2(a, s, axes, norm) if not is_traced(a) else fftn(a, s, axes, norm)


def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None) -> Any:
    """``numpy.fft.ifft2``."""
    return np.fft.ifft2(a, s, axes, norm) if not is_traced(a) else ifftn(a, s, axes, norm)


def fftshift(x: Any, axes: Any = None) -> Any:
    """``numpy.fft.fftshift``: the zero frequency moved to the centre."""
    return _shift(x, axes, np.fft.fftshift, lambda n: n - n // 2)


def ifftshift(x: Any, axes: Any = None) -> Any:
    """``numpy.fft.ifftshift``, the inverse of ``fftshift``."""
    return _shift(x, axes, np.fft.ifftshift, lambda n: n // 2)


def _shift(x: Any, axes: Any, np_fn: Any, split: Any) -> Any:
    if not is_traced(x):
        return np_fn(x, axes)
    nd = len(shape_of(x))
    axes = range(nd) if axes is None else [axes] if isinstance(axes, int) else axes
    for axis in (normalize_axis(ax, nd) for ax in axes):
        n = x.shape[axis]
        k = split(n)
        if 0 < k < n:
            x = concatenate([_take(x, axis, k, n), _take(x, axis, 0, k)], axis=axis)
    return x


fftfreq = np.fft.fftfreq
rfftfreq = np.fft.rfftfreq

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "irfft",
    "rfft",
    "rfftfreq",
]

for _name in __all__:
    if _name not in ("fftfreq", "rfftfreq"):
        _methods._FUNCTIONS[getattr(np.fft, _name)] = globals()[_name]
