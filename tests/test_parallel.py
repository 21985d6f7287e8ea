"""jit(parallel=...): fused regions on Numba's threads, chosen per signature by size.

One function with several kinds of fused regions (elementwise, a full sum, a product, a
row sum keeping axis 0, sin beyond the vectorized range) is compiled serial and parallel;
both are compared with NumPy's results on sizes below and above the threshold. Regions
whose threads would race (a column sum, a maximum) stay serial.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import fnad
from fnad.jit import PARALLEL_MIN_ELEMENTS, uses_threads


def program(x, m):
    y = np.sin(x) * x**2 + np.exp(-x)
    rows = np.sum(np.tanh(m) * m, axis=1)
    return y, np.sum(y), np.prod(1.0 + x * 1e-6), rows


def expected(x, m):
    with np.errstate(all="ignore"):
        return program(x, m)


def inputs(n: int, huge: bool = False):
    rng = np.random.default_rng(n)
    x = rng.uniform(-2.0, 2.0, n)
    if huge:
        x[n // 2] = 1e12  # beyond vtrig.HUGE: the region reruns with libm
    m = rng.uniform(-1.0, 1.0, (n // 64 + 1, 64))
    return x, m


SMALL, LARGE = 1000, PARALLEL_MIN_ELEMENTS + 4097


@pytest.fixture(scope="module")
def jitted():
    return {p: fnad.jit(program, parallel=p) for p in (None, True, False)}


def check(got, want) -> None:
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs NUMBA_NUM_THREADS >= 2")
@pytest.mark.parametrize("n, huge", [(SMALL, False), (LARGE, False), (LARGE, True)])
def test_parallel_and_serial_agree_with_numpy(jitted, n, huge):
    x, m = inputs(n, huge)
    want = expected(x, m)
    serial, parallel = jitted[False](x, m), jitted[True](x, m)
    check(serial, want)
    check(parallel, want)
    check(jitted[None](x, m), want)
    # elementwise results are identical: only the order of sums may differ
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[3], parallel[3])


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs NUMBA_NUM_THREADS >= 2")
def test_chosen_by_size_with_one_compile(jitted):
    f = fnad.jit(program, parallel=None)
    small, large = f.lower(*inputs(SMALL)), f.lower(*inputs(LARGE))
    assert small.source == large.source  # sizes never enter the source
    assert "prange(" in small.source
    assert not uses_threads(small.generated, None)
    assert uses_threads(large.generated, None)
    assert uses_threads(small.generated, True)
    assert not uses_threads(large.generated, False)
    counts = []
    for n in (SMALL, LARGE, SMALL + 1, LARGE + 1):
        f(*inputs(n))
        counts.append(f.compile_count)
    assert counts == [counts[0]] * 4 and counts[0] <= 1  # 0 when jitted compiled it


def test_regions_that_would_race_stay_serial():
    f = fnad.jit(lambda m: (np.sum(m, axis=0), np.max(m)), parallel=True)
    m = np.random.default_rng(0).uniform(size=(300, 7))
    lowered = f.lower(m)
    assert "prange(" not in lowered.source and lowered.generated.parallel_function is None
    got = f(m)
    np.testing.assert_allclose(got[0], m.sum(axis=0), rtol=1e-14)
    assert got[1] == m.max()


def test_parallel_false_source_has_no_parallel_function():
    x, m = inputs(SMALL)
    source = fnad.jit(program, parallel=False).lower(x, m).source
    assert "prange" not in source and "parallel=True" not in source


def test_one_thread_runs_serial():
    x, m = inputs(LARGE)
    lowered = fnad.jit(program, parallel=None).lower(x, m)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert not uses_threads(lowered.generated, True)
    finally:
        numba.set_num_threads(previous)


def test_bad_parallel_argument_is_named():
    with pytest.raises(TypeError, match="parallel must be None .* got 'yes'"):
        fnad.jit(np.sin, parallel="yes")


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs NUMBA_NUM_THREADS >= 2")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parallel_loops_compile_without_falling_back(dtype, caplog):
    """Chunked loops (a sum along the inner axis, the per-chunk flag of sin) must compile
    as parallel loops: Numba's prange takes a step of 1 only."""
    x, m = inputs(LARGE)
    f = fnad.jit(program, parallel=True)
    with caplog.at_level("WARNING", logger="fnad"):
        got = f(x.astype(dtype), m.astype(dtype))
    assert "failed to compile" not in caplog.text
    # float32 sums and products of 135,000 terms round at about 1e-4; a lost chunk of 512
    # elements would be off by 4e-3
    tol = 1e-12 if dtype == np.float64 else 1e-3
    for g, w in zip(got, expected(x.astype(dtype), m.astype(dtype)), strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs NUMBA_NUM_THREADS >= 2")
def test_threads_chosen_by_size_by_default():
    f = fnad.jit(program)
    assert f.parallel is None
    small, large = f.lower(*inputs(SMALL)), f.lower(*inputs(LARGE))
    assert not uses_threads(small.generated, small.parallel)
    assert uses_threads(large.generated, large.parallel)
    check(f(*inputs(LARGE)), expected(*inputs(LARGE)))
    # NOTE: a layer that pip's numba wheel ships (tbb only if the user installed it)
    assert numba.threading_layer() in ("omp", "workqueue", "tbb")


def _machine_code(source: str, function: str, *args) -> str:
    """The assembly of ``function`` of a generated module, compiled afresh (Numba shows no
    assembly for code loaded from its cache)."""
    namespace: dict = {}
    exec(compile(source.replace("cache=True", "cache=False"), "<fnad test>", "exec"), namespace)
    fn = namespace[function]
    fn(*args)
    return fn.inspect_asm(fn.signatures[0])


def test_chunked_loops_load_contiguously():
    """Loops over chunks (sin's per-chunk flag, a sum split into chunk buffers) index with
    unsigned integers: a signed index that may be negative is wrapped per element, and the
    wrap turns the loop's loads and stores into gathers and scatters (2.4x slower)."""
    x = np.linspace(-2.0, 2.0, 4096)
    lowered = fnad.jit(lambda x: (np.sin(x) * x, np.sum(np.exp(x))), parallel=True).lower(x)
    gen = lowered.generated
    for function in (gen.function, gen.parallel_function):
        asm = _machine_code(lowered.source, function, x)
        assert "gather" not in asm and "scatter" not in asm, function
