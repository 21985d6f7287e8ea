"""The CUDA runtime that generated host functions call: device arrays, launch sizes, the
buffer pool, and the compiled object ``jit(device="cuda")`` returns.

``numba.cuda`` is imported on first use, never when fnad is imported. Under
``NUMBA_ENABLE_CUDASIM=1`` the same code runs on Numba's CUDA simulator (Python threads),
with small launch sizes so that tests stay quick; the generated source records the sizes
it was written for (``THREADS``, ``TILE``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.backends import cuda_blas
from fnad.codegen.cpu import Generated
from fnad.core.graph import Graph
from fnad.core.spec import ArraySpec
from fnad.tree import tree_unflatten

#: (threads per block, matmul tile, most blocks per launch, target blocks of a reduction)
_REAL = (256, 16, 8192, 1024)
_SIMULATED = (8, 4, 2, 2)


class CudaUnavailableError(RuntimeError):
    """CUDA was requested but there is no usable GPU (or numba-cuda is not installed)."""


@functools.cache
def cuda() -> Any:
    """The ``numba.cuda`` module, imported on first use."""
    try:
        from numba import cuda as module
    except ImportError as exc:  # pragma: no cover - numba always ships some numba.cuda
        raise CudaUnavailableError(
            "fnad: device='cuda' needs numba-cuda: pip install 'fnad[cuda]'"
        ) from exc
    return module


def simulated() -> bool:
    """Whether ``numba.cuda`` is Numba's CPU simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def is_available() -> bool:
    """Whether kernels can run: a CUDA GPU with a driver, or the simulator."""
    try:
        return bool(cuda().is_available())
    except Exception:
        return False


def require() -> None:
    if not is_available():
        raise CudaUnavailableError(
            "fnad: device='cuda' was requested but no CUDA GPU is available (numba.cuda "
            "found no device or driver). Use device='cpu', or set NUMBA_ENABLE_CUDASIM=1 "
            "before importing numba to run the kernels on the CPU simulator."
        )


def launch_sizes() -> tuple[int, int, int, int]:
    return _SIMULATED if simulated() else _REAL


def generate(graph: Graph, function: str) -> Generated:
    """The CUDA module of ``graph``, written for this process's launch sizes."""
    from fnad.codegen.cuda import generate as write

    threads, tile, _, _ = launch_sizes()
    return write(graph, function, threads, tile)


def is_device_array(x: Any) -> bool:
    """Whether ``x`` lives on the GPU: ``__cuda_array_interface__`` or a simulator array."""
    if hasattr(x, "__cuda_array_interface__"):
        return True
    # NOTE: the simulator's arrays have no interface; checked only once it is imported.
    return type(x).__name__ == "FakeCUDAArray"


def to_device(x: Any, what: str = "argument") -> Any:
    """A C-contiguous device array for ``x``: device arrays in place, others copied in."""
    if is_device_array(x):
        array = x if type(x).__name__ in ("DeviceNDArray", "FakeCUDAArray") else None
        array = array if array is not None else cuda().as_cuda_array(x)
        if not array.is_c_contiguous():
            raise ValueError(
                f"fnad: {what} is a strided device array (shape {array.shape}); device "
                "inputs must be C-contiguous (copy it first, e.g. x.copy() in CuPy)"
            )
        return array
    # NOTE: np.ascontiguousarray makes 0-d arrays 1-d; the reshape keeps the caller's shape.
    return cuda().to_device(np.ascontiguousarray(x).reshape(np.shape(x)))


def empty(shape: tuple[int, ...], dtype: Any) -> Any:
    return cuda().device_array(shape, np.dtype(dtype))


def copy(x: Any) -> Any:
    out = empty(x.shape, x.dtype)
    out.copy_to_device(x)
    return out


def scalar(value: Any, dtype: Any) -> Any:
    return cuda().to_device(np.asarray(value, dtype))


def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
    return cuda().to_device(np.zeros(shape, dtype))


#: Kernels launched by generated functions in this process (cuBLAS calls count as one).
_LAUNCHES = [0]


def launch_count() -> int:
    """How many kernels fnad's CUDA functions have launched in this process so far."""
    return _LAUNCHES[0]


def launch(kernel: Callable, grid: Any, block: Any, *args: Any) -> None:
    """Launch ``kernel`` (and count it)."""
    _LAUNCHES[0] += 1
    kernel[grid, block](*args)


def assign(dst: Any, src: Any) -> None:
    """Copy ``src`` (a device array or a host scalar) into the device array ``dst``."""
    if not is_device_array(src):
        src = np.asarray(src, dst.dtype)
    dst.copy_to_device(src)


def row(x: Any, k: int) -> Any:
    """A view of ``x[k]`` on the device (a 0-d array for a 1-d ``x``)."""
    return x[k : k + 1].reshape(()) if x.ndim == 1 else x[k]


def carry(pool: Pool, slot: int, start: Any) -> Any:
    """A loop carry's first buffer, holding a copy of ``start``."""
    buf = pool.get(slot, start.shape, start.dtype)
    buf.copy_to_device(start)
    return buf


def index(x: Any, branches: int) -> int:
    """A branch index copied back to the host, clamped to ``[0, branches - 1]``."""
    value = int(x.copy_to_host()) if is_device_array(x) else int(x)
    return min(max(value, 0), branches - 1)


def truth(x: Any) -> bool:
    """A loop predicate copied back to the host."""
    return bool(x.copy_to_host()) if is_device_array(x) else bool(x)


class Tape:
    """Copies of a loop carry, one per iteration, in a device array that doubles when full."""

    def __init__(self) -> None:
        self.rows: Any = None
        self.count = 0

    def push(self, x: Any) -> None:
        if self.rows is None:
            self.rows = empty((16, *x.shape), x.dtype)
        elif self.count == self.rows.shape[0]:
            grown = empty((2 * self.count, *x.shape), x.dtype)
            grown[: self.count].copy_to_device(self.rows)
            self.rows = grown
        assign(row(self.rows, self.count), x)
        self.count += 1

    def at(self, k: int) -> Any:
        return row(self.rows, k)


def accumulate(kernel: Callable, acc: Any, x: Any) -> None:
    """``acc += x`` on the device (same shapes)."""
    if acc.size:
        flat = acc.reshape((acc.size,))
        threads = launch_sizes()[0]
        launch(kernel, blocks(acc.size, threads), threads, flat, x.reshape((acc.size,)))


class Pool:
    """Intermediate buffers of one compiled function, kept across calls.

    Kernels run in launch order on one stream, so a buffer is reused by the next call
    only after this call's kernels that read it. Results returned to the caller are
    never pool buffers."""

    def __init__(self) -> None:
        self.buffers: dict[int, Any] = {}

    def get(self, slot: int, shape: tuple[int, ...], dtype: Any) -> Any:
        buf = self.buffers.get(slot)
        if buf is None or buf.shape != shape:
            buf = empty(shape, dtype)
            self.buffers[slot] = buf
        return buf


def blocks(n: int, threads: int) -> int:
    """Blocks of a grid-stride launch over ``n`` items."""
    most = launch_sizes()[2]
    return max(1, min(-(-n // threads), most))


def split(kept: int, reduced: int, threads: int, inner: bool) -> tuple[int, int]:
    """(chunks per output, grid blocks) of a reduction of ``reduced`` items per output.

    Inner reductions give each (output, chunk) a block; outer ones give it a thread."""
    _, _, most, target = launch_sizes()
    if inner:
        chunks = min(-(-reduced // (threads * 4)), -(-target // max(kept, 1)), 1024)
        chunks = max(chunks, 1)
        return chunks, max(1, min(kept * chunks, most))
    chunks = min(-(-reduced // 16), -(-(target * threads) // max(kept, 1)), 1024)
    chunks = max(chunks, 1)
    return chunks, blocks(kept * chunks, threads)


def partials(pool: Pool, slot: int, out: Any, kept: int, chunks: int) -> Any:
    """Where a reduction kernel writes: ``out`` itself when one chunk covers each row."""
    if chunks == 1:
        return out.reshape((kept, 1))
    return pool.get(slot, (kept, chunks), out.dtype)


def finish(kernel: Callable, part: Any, out: Any, kept: int, threads: int) -> None:
    """Combine the per-chunk partial results into ``out`` (a second, small pass)."""
    if part.shape[1] > 1:
        launch(kernel, blocks(kept, threads), threads, part, out.reshape((kept,)))


def slice_args(index: slice, n: int) -> tuple[int, int, int]:
    """(start, step, length) of ``index`` on an axis of ``n`` elements."""
    start, stop, step = index.indices(n)
    return start, step, len(range(start, stop, step))


def integer(index: int, n: int) -> int:
    return index + n if index < 0 else index


def groups(shape: tuple[int, ...], axes: Sequence[Sequence[int]]) -> list[int]:
    """(size, stride) of each group of consecutive axes of a C-contiguous array."""
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    out: list[int] = []
    for group in axes:
        out.append(math.prod(shape[k] for k in group))
        out.append(strides[group[-1]] if group else 0)
    return out


def gemm(kernel: Callable, x: Any, y: Any, z: Any, xg, yg, zg, tile: int) -> None:
    """z[b, m, n] = sum_k x[b, m, k] y[b, k, n] over groups of axes of each operand, by
    cuBLAS when ``FNAD_CUDA_BLAS`` chooses it (see ``cuda_blas``), else by ``kernel``."""
    nb, sxb, m, sxm, kk, sxk = groups(x.shape, xg)
    _, syb, _, syk, n, syn = groups(y.shape, yg)
    _, szb, _, szm, _, szn = groups(z.shape, zg)
    strides = (sxb, sxm, sxk, syb, syk, syn, szb, szm, szn)
    if cuda_blas.matmul(x, y, z, (nb, m, n, kk, *strides)):
        _LAUNCHES[0] += 1
        return
    most = launch_sizes()[2]
    grid = (min(-(-n // tile), most) or 1, min(-(-m // tile), most) or 1, min(nb, 65535) or 1)
    flat = [a.reshape((a.size,)) if a.size else a for a in (x, y, z)]
    launch(
        kernel,
        grid,
        (tile, tile),
        *(nb, m, n, kk, flat[0], sxb, sxm, sxk, flat[1], syb, syk, syn, flat[2], szb, szm, szn),
    )


class CudaCompiled:
    """The compiled host function of one signature; takes the flat leaves (NumPy arrays,
    scalars or device arrays) and returns device arrays."""

    __slots__ = ("fn", "consts", "out_tree", "single", "pool")

    def __init__(self, fn: Callable, consts, out_specs: Sequence[ArraySpec], out_tree) -> None:
        from fnad.tree import tree_structure

        self.fn = fn
        self.consts = tuple(to_device(c) for c in consts)
        self.out_tree = out_tree
        self.single = out_tree == tree_structure(0)
        self.pool = Pool()

    def __call__(self, *leaves: Any) -> Any:
        arrays = [to_device(x, f"array argument {n}") for n, x in enumerate(leaves)]
        outs = self.fn(self.pool, *arrays, *self.consts)
        return outs[0] if self.single else tree_unflatten(self.out_tree, list(outs))
