"""The discrete Fourier transform along one axis: one primitive, ``fft``.

``fft(x, axis, inverse)`` is unnormalized both ways (``sum_j x_j exp(-+2 pi i jk/n)``);
``fnad.numpy.fft`` builds every NumPy transform (normalizations, ``n=`` padding and
cropping, real input, Hermitian output, several axes) from it with differentiable
operations. The DFT matrix is symmetric, so under fnad's gradient convention (the
transpose, see ``fnad.ops.complex``) the VJP of a transform is the same transform.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind


def fft(x, axis: int, inverse: bool = False):
    return bind(fft_p, x, axis=int(axis), inverse=bool(inverse))


def _impl(x, *, axis, inverse):
    if inverse:
        return np.fft.ifft(x, axis=axis, norm="forward")
    return np.fft.fft(x, axis=axis)


def _abstract(x: ArraySpec, *, axis: int, inverse: bool) -> ArraySpec:
    if x.dtype.kind != "c":
        raise TypeError(f"fnad: the fft primitive takes complex arrays, got {x!r}")
    if not 0 <= axis < x.ndim:
        raise ValueError(f"fnad: fft axis {axis} is out of range for {x!r}")
    return x


def _cases(rng):
    def z(*shape):
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    return [
        ((z(5),), {"axis": 0, "inverse": False}),
        ((z(2, 8),), {"axis": 1, "inverse": False}),
        ((z(6, 3),), {"axis": 0, "inverse": True}),
    ]


fft_p = register(
    Primitive(
        "fft",
        impl=_impl,
        abstract=_abstract,
        vjp=lambda ct, x, *, out, axis, inverse: (fft(ct, axis, inverse),),
        jvp=lambda ts, x, *, out, axis, inverse: fft(ts[0], axis, inverse),
        batch=lambda xs, batched, size, *, axis, inverse: fft(xs[0], axis + 1, inverse),
        cases=_cases,
    )
)
