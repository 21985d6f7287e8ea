"""Serial against threaded fused loops, call by call: is ``jit(parallel=None)`` right?

Each case compiles ``fnad.jit(f, parallel=False)`` and ``fnad.jit(f, parallel=True)`` and
calls them alternately (the serial one with ``numba.set_num_threads(1)``, the twin with 2),
so a busy stretch of a shared machine hits both. It prints the fastest and the median call
of each: the fastest is what the loop does with two free cores, the median what the machine
gave. A calibration line before and after (a ``prange`` of pure arithmetic) tells how free
the second core was: about 2.0 when it was free.

    PYTHONPATH=. python bench/threads.py              # W2, M (float64, float32), sizes
    PYTHONPATH=. python bench/threads.py --only W2
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import fnad
from fnad.jit import PARALLEL_MIN_ELEMENTS

MATH = ("exp", "expm1", "exp2", "log", "log2", "log10", "log1p")
MATH += ("sin", "cos", "tan", "sinh", "cosh", "tanh", "sqrt")


def w2(x):
    """The W2 function of bench/benchmarks.py; its gradient is timed."""
    return np.sum(np.sin(x) * x**2 + np.exp(-x))


@numba.njit(parallel=True)
def _arithmetic(n):
    acc = 0.0
    for i in numba.prange(n):
        v = 1.0 * i
        for _ in range(50):
            v = v * 0.999 + 1.0
        acc += v
    return acc


def calibrate() -> str:
    """The 2-thread speed-up of arithmetic without memory traffic: what the machine gives."""
    best = {1: np.inf, 2: np.inf}
    for threads in (1, 2, 1, 2):
        numba.set_num_threads(threads)
        _arithmetic(1000)
        start = time.perf_counter()
        _arithmetic(400_000)
        best[threads] = min(best[threads], time.perf_counter() - start)
    numba.set_num_threads(1)
    return f"[calibration: arithmetic on 2 threads {best[1] / best[2]:.2f}x]"


def compare(label: str, fun, x: np.ndarray, calls: int) -> None:
    serial, threaded = fnad.jit(fun, parallel=False), fnad.jit(fun, parallel=True)
    numba.set_num_threads(2)
    threaded(x)  # compiles the twin; the plan is chosen with 2 threads
    numba.set_num_threads(1)
    serial(x)
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(calls):
        for threads, fn in ((1, serial), (2, threaded)):
            numba.set_num_threads(threads)
            start = time.perf_counter()
            fn(x)
            times[threads].append((time.perf_counter() - start) * 1e3)
    numba.set_num_threads(1)
    one, two = np.array(times[1]), np.array(times[2])
    print(
        f"  {label:<28} 1 thread {one.min():8.3f} / {np.median(one):8.3f} ms"
        f"   2 threads {two.min():8.3f} / {np.median(two):8.3f} ms"
        f"   speed-up {one.min() / two.min():4.2f}x (median {np.median(one / two):4.2f}x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="W2,M,N", help="comma-separated: W2, M, N")
    parts = parser.parse_args().only.split(",")
    print(calibrate(), "fastest / median call", flush=True)
    rng = np.random.default_rng(0)
    if "W2" in parts:
        for dtype in (np.float64, np.float32):
            x = rng.uniform(-3.0, 3.0, 10_000_000).astype(dtype)
            compare(f"W2 grad {np.dtype(dtype)}[10_000_000]", fnad.grad(w2), x, 15)
    if "M" in parts:
        for dtype in (np.float64, np.float32):
            x = rng.uniform(0.1, 3.0, 1_000_000).astype(dtype)
            for name in MATH:
                compare(f"M {name} {np.dtype(dtype)}[1_000_000]", getattr(np, name), x, 41)
    if "N" in parts:
        for n in (1000, 10_000, 65_536, PARALLEL_MIN_ELEMENTS, 1 << 18):
            x = rng.uniform(0.1, 3.0, n)
            compare(f"exp float64[{n:_}]", np.exp, x, 201)
            compare(f"W2 grad float64[{n:_}]", fnad.grad(w2), x, 201)
    print(calibrate(), "threading layer:", numba.threading_layer())


if __name__ == "__main__":
    main()
