"""``fnad.cuda``: whether CUDA kernels can run here, what contractions run on, how many
kernels ran, and waiting for them.

``numba.cuda`` is imported by the first call, never by ``import fnad``.

>>> import fnad
>>> fnad.cuda.is_available() in (True, False)
True
"""

from __future__ import annotations

import numpy as np

from fnad.backends import cuda as _backend
from fnad.backends.cuda import CudaUnavailableError, is_device_array

__all__ = [
    "CudaUnavailableError",
    "blas",
    "is_available",
    "is_device_array",
    "launch_count",
    "simulated",
    "synchronize",
]


def is_available() -> bool:
    """Whether ``jit(f, device="cuda")`` can run: a GPU with a driver, or Numba's
    simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported)."""
    return _backend.is_available()


def simulated() -> bool:
    """Whether CUDA kernels run on Numba's CPU simulator."""
    return _backend.simulated()


def synchronize() -> None:
    """Wait until every launched kernel has finished (for timing)."""
    _backend.require()
    _backend.cuda().synchronize()


def launch_count() -> int:
    """How many kernels fnad has launched on the GPU in this process (a cuBLAS call counts
    as one). The difference around a call is that call's kernels:

    >>> before = fnad.cuda.launch_count()
    >>> fnad.cuda.launch_count() - before
    0
    """
    return _backend.launch_count()


def blas(dtype=np.float32) -> str:
    """What a contraction of ``dtype`` runs on now: ``"cupy"`` (cuBLAS) or ``"numba"`` (fnad's
    tiled kernel), as the environment variable ``FNAD_CUDA_BLAS`` (``auto``, ``cupy`` or
    ``numba``) chooses; see docs/gpu.md.

    >>> fnad.cuda.blas(np.int64)
    'numba'
    """
    from fnad.backends.cuda_blas import backend

    return backend(dtype)
