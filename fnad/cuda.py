"""``fnad.cuda``: whether CUDA kernels can run here, and waiting for them.

``numba.cuda`` is imported by the first call, never by ``import fnad``.

>>> import fnad
>>> fnad.cuda.is_available() in (True, False)
True
"""

from __future__ import annotations

from fnad.backends import cuda as _backend
from fnad.backends.cuda import CudaUnavailableError, is_device_array

__all__ = ["CudaUnavailableError", "is_available", "is_device_array", "simulated", "synchronize"]


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
