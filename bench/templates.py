"""Each vectorizable math template in a plain Numba loop against NumPy's ``out=`` loop.

The M table of benchmarks.py times ``fnad.jit(np.<name>)`` on 1,000,000 elements, call and
allocation included, and its ratios move by 10-15% between runs on a shared machine. This
script isolates the part a template change touches: a Numba loop applying one template to
262,144 elements, timed interleaved with NumPy writing into a preallocated array, the
median of 21 per-round ratios. (At 16,384 elements, where the arrays stay in L2, the two
calls' fixed costs differ by about 0.1 us, which favoured the template loop by about 3%;
from about 65,536 elements on the ratio no longer depends on the size.) Run it at two
commits to compare them:

    PYTHONPATH=. python bench/templates.py float32 [exp,log2,...]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from numba import njit

from fnad.codegen import vmath, vmath32, vtrig, vtrig32
from fnad.codegen.region import VECTOR_MATH, vector_function

N = 262_144
ROUNDS = 21
TARGET = 0.02  # seconds per timing


def loop_over(function):
    """A Numba loop writing ``function(x[i])`` to ``out[i]``."""

    @njit(nogil=True, error_model="numpy")
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = function(x[i])

    return loop


def ratio(name: str, dtype: np.dtype) -> float:
    """Median over rounds of (template loop time) / (NumPy ``out=`` time)."""
    module, function = vector_function(name, dtype).split(".")
    modules = {"vmath": vmath, "vmath32": vmath32, "vtrig": vtrig, "vtrig32": vtrig32}
    loop = loop_over(getattr(modules[module], function))
    ufunc = getattr(np, name)
    x = np.random.default_rng(0).uniform(0.1, 3.0, N).astype(dtype)
    out = np.empty_like(x)
    loop(x, out)
    np.testing.assert_allclose(out, ufunc(x), rtol=4 * np.finfo(dtype).eps)
    start = time.perf_counter()
    ufunc(x, out=out)
    reps = max(1, round(TARGET / max(time.perf_counter() - start, 1e-7)))
    ratios = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(reps):
            loop(x, out)
        middle = time.perf_counter()
        for _ in range(reps):
            ufunc(x, out=out)
        ratios.append((middle - start) / (time.perf_counter() - middle))
    return float(np.median(ratios))


def main() -> None:
    dtype = np.dtype(sys.argv[1] if len(sys.argv) > 1 else "float32")
    names = sys.argv[2].split(",") if len(sys.argv) > 2 else sorted(VECTOR_MATH[dtype])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one CPU, as the M table
    print(f"template loop / NumPy out= ({dtype}[{N:_}], median of {ROUNDS} interleaved rounds)")
    for name in names:
        print(f"  {name:<8}{ratio(name, dtype):6.2f}")


if __name__ == "__main__":
    main()
