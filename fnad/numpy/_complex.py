"""Complex parts with NumPy's names: ``real``, ``imag``, ``conj``/``conjugate``, ``angle``.

On real arrays they follow NumPy: ``real`` and ``conj`` return the array, ``imag`` zeros
and ``angle`` 0 or pi (piecewise constant, zero gradient). See ``fnad.ops.complex`` for
the gradient convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.numpy._core import is_traced, where
from fnad.numpy._shape import zeros_like
from fnad.ops import complex as cx


def _is_complex(x: Any) -> bool:
    return np.dtype(x.dtype).kind == "c"


def real(val: Any) -> Any:
    """``numpy.real``; differentiable (the cotangent enters the real part)."""
    if not is_traced(val):
        return np.real(val)
    return cx.real(val) if _is_complex(val) else val


def imag(val: Any) -> Any:
    """``numpy.imag``; zeros for real arrays."""
    if not is_traced(val):
        return np.imag(val)
    return cx.imag(val) if _is_complex(val) else zeros_like(val)


def conj(x: Any) -> Any:
    """``numpy.conj``; the identity on real arrays."""
    if not is_traced(x):
        return np.conj(x)
    return cx.conj(x) if _is_complex(x) else x


conjugate = conj


def angle(z: Any, deg: bool = False) -> Any:
    """``numpy.angle``: the argument of ``z`` in radians (degrees with ``deg=True``)."""
    if not is_traced(z):
        return np.angle(z, deg)
    if _is_complex(z):
        out = cx.angle(z)
    else:
        zero = 0.0 * z
        out = where(z < 0, zero + np.pi, zero)
    return out * (180.0 / np.pi) if deg else out
