"""Which kernel a CPU matrix product runs: the BLAS behind Numba's ``np.dot``, or fnad's own.

Numba's ``np.dot`` calls SciPy's bundled OpenBLAS. OpenBLAS picks its kernels once, when it
loads: by CPU detection or by ``OPENBLAS_CORETYPE``, and it can pick 256-bit (Haswell)
kernels on a CPU with 512-bit vectors. fnad's blocked GEMM (``fnad/codegen/gemm.py``) uses
the full vector width on one thread. The environment variable ``FNAD_GEMM`` chooses, read
when a function is lowered (the choice is part of the generated source):

* ``auto`` (the default): fnad's kernel for float32 and float64 products when the CPU has
  AVX-512, SciPy's OpenBLAS runs kernels without it, and OpenBLAS runs on one thread (with
  more threads, its narrower kernels on several cores are the better choice);
* ``fnad``: fnad's kernel for every float32 and float64 product large enough to pay for it;
* ``blas``: always ``np.dot``.

>>> choice() in CHOICES
True
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import glob
import os
from collections.abc import Iterator

CHOICES = ("auto", "fnad", "blas")
#: OpenBLAS kernel families written for AVX-512.
WIDE_CORES = ("skylakex", "cooperlake", "sapphirerapids")


_FORCED: contextvars.ContextVar[str | None] = contextvars.ContextVar("fnad_gemm", default=None)


@contextlib.contextmanager
def forced(value: str) -> Iterator[None]:
    """Lower with ``value`` whatever ``FNAD_GEMM`` says (``fnad.export`` writes modules
    that must not import fnad, so it forces ``blas``)."""
    if value not in CHOICES:
        raise ValueError(f"fnad: the GEMM choice must be one of {CHOICES}, got {value!r}")
    token = _FORCED.set(value)
    try:
        yield
    finally:
        _FORCED.reset(token)


def choice() -> str:
    """The value of ``FNAD_GEMM`` (``auto`` when unset), checked."""
    if (value := _FORCED.get()) is not None:
        return value
    value = os.environ.get("FNAD_GEMM", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"fnad: FNAD_GEMM must be one of {CHOICES}, got {value!r}")
    return value


def use_fnad_gemm() -> bool:
    """Whether lowering now writes float matrix products as calls to fnad's GEMM."""
    value = choice()
    if value != "auto":
        return value == "fnad"
    core, threads = openblas()
    return host_has_avx512() and core is not None and core not in WIDE_CORES and threads == 1


@functools.cache
def host_has_avx512() -> bool:
    """Whether the CPU Numba compiles for has 512-bit vectors (AVX-512F)."""
    import llvmlite.binding as llvm

    return "+avx512f" in llvm.get_host_cpu_features().flatten().split(",")


def openblas() -> tuple[str | None, int]:
    """(kernel family, threads) of SciPy's bundled OpenBLAS, (None, 0) when there is none."""
    lib = _scipy_openblas()
    if lib is None:
        return None, 0
    corename = _symbol(lib, "scipy_openblas_get_corename")
    threads = _symbol(lib, "scipy_openblas_get_num_threads")
    if corename is None or threads is None:
        return None, 0
    corename.restype, threads.restype = ctypes.c_char_p, ctypes.c_int
    return corename().decode().lower(), int(threads())


@functools.cache
def _scipy_openblas() -> ctypes.CDLL | None:
    import scipy

    root = os.path.dirname(os.path.dirname(scipy.__file__))
    paths = sorted(glob.glob(os.path.join(root, "scipy.libs", "*openblas*")))
    return ctypes.CDLL(paths[0]) if paths else None


def _symbol(lib: ctypes.CDLL, name: str):
    # NOTE: 64-bit-integer builds append "64_" to every exported name.
    return getattr(lib, name + "64_", None) or getattr(lib, name, None)
