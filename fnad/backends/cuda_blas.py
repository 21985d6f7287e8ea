"""Which kernel a CUDA contraction runs: cuBLAS through CuPy, or fnad's tiled Numba kernel.

The environment variable ``FNAD_CUDA_BLAS`` chooses, read at every contraction so that a
benchmark can compare both in one process:

* ``auto`` (the default): CuPy's ``matmul`` (cuBLAS) when CuPy can be imported and the
  kernels run on a real GPU; the Numba kernel otherwise;
* ``cupy``: always CuPy (an error when it cannot be imported);
* ``numba``: always the Numba kernel.

CuPy is optional (``pip install cupy-cuda12x``, matching the CUDA driver). It sees fnad's
device arrays through ``__cuda_array_interface__``: the operands and the result are
strided views of the same device memory, so nothing is copied. Only float32 and float64
go to cuBLAS; other dtypes always use the Numba kernel.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

CHOICES = ("auto", "cupy", "numba")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def choice() -> str:
    """The value of ``FNAD_CUDA_BLAS`` (``auto`` when unset), checked."""
    value = os.environ.get("FNAD_CUDA_BLAS", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"fnad: FNAD_CUDA_BLAS must be one of {CHOICES}, got {value!r}")
    return value


def _import_cupy(required: bool) -> Any:
    try:
        import cupy
    except ImportError as exc:
        if not required:
            return None
        from fnad.backends.cuda import CudaUnavailableError

        raise CudaUnavailableError(
            "fnad: FNAD_CUDA_BLAS=cupy, but CuPy cannot be imported; install the wheel for "
            "your CUDA version (e.g. pip install cupy-cuda12x) or set FNAD_CUDA_BLAS=numba"
        ) from exc
    return cupy


def backend(dtype: Any = np.float32) -> str:
    """``"cupy"`` or ``"numba"``: what a contraction of ``dtype`` runs on now.

    >>> backend(np.int64)  # integers never go to cuBLAS
    'numba'
    """
    return "numba" if _cupy_for(np.dtype(dtype)) is None else "cupy"


def _cupy_for(dtype: np.dtype) -> Any:
    """The CuPy module when this contraction goes to cuBLAS, else None."""
    from fnad.backends.cuda import simulated

    mode = choice()
    if mode == "numba" or dtype not in _FLOATS:
        return None
    # NOTE: simulator arrays live in host memory; only an explicit request tries CuPy there.
    if mode == "auto" and simulated():
        return None
    return _import_cupy(mode == "cupy")


def matmul(x: Any, y: Any, z: Any, dims: tuple[int, ...]) -> bool:
    """``z[b, m, n] = x[b, m, k] @ y[b, k, n]`` with cuBLAS, when chosen; whether it ran.

    ``dims`` are (nb, m, n, kk) and the element strides of x (b, m, k), y (b, k, n) and
    z (b, m, n), as the tiled kernel takes them."""
    cupy = _cupy_for(np.dtype(z.dtype))
    if cupy is None:
        return False
    nb, m, n, kk, sxb, sxm, sxk, syb, syk, syn, szb, szm, szn = dims
    xv = _view(cupy, x, (nb, m, kk), (sxb, sxm, sxk))
    yv = _view(cupy, y, (nb, kk, n), (syb, syk, syn))
    zv = _view(cupy, z, (nb, m, n), (szb, szm, szn))
    cupy.matmul(xv, yv, out=zv)
    return True


def _view(cupy: Any, a: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A CuPy view of the device array ``a`` (no copy) with these element strides."""
    base = cupy.asarray(a)
    item = base.dtype.itemsize
    return cupy.lib.stride_tricks.as_strided(base, shape, tuple(s * item for s in strides))
