"""The vectorizable math functions of fnad.codegen (vmath, vtrig) against NumPy and mpmath.

Every function of both dtypes is compiled into one Numba function per dtype (compiles are
the slow part), then applied to dense sweeps of the whole float range, to values drawn by
hypothesis and to the special values, and compared in ulp with the documented bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import fnad
from fnad.codegen import vmath, vmath32, vtrig, vtrig32
from fnad.codegen.region import VECTOR_MATH, vector_function
from fnad.jit import PARALLEL_MIN_ELEMENTS

NAMES = sorted(VECTOR_MATH[np.dtype(np.float64)])
# Maximum error in ulp against NumPy's float64 functions (float32: NumPy's float64 result
# rounded to float32), as measured and documented in docs/math.md.
BOUND = {np.float64: dict.fromkeys(NAMES, 2.0), np.float32: dict.fromkeys(NAMES, 1.0)}
# Where each function is interesting: wider than the range where the result is finite.
RANGE = {"exp": 800, "expm1": 800, "exp2": 1100, "sinh": 800, "cosh": 800, "tanh": 30}
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, 2.0, 1e-300, -1e-300]
TRIG = ("sin", "cos", "tan")


def reducible(name: str, x: np.ndarray) -> np.ndarray:
    """``x`` without the finite arguments of sin/cos/tan that fused loops hand to libm."""
    if name not in TRIG:
        return x
    huge = vtrig.HUGE if x.dtype == np.float64 else vtrig32.HUGE
    return x[~(np.abs(x) > huge)]


def _build(dtype):
    """One Numba function applying function number ``k`` of NAMES to an array."""
    lines = ["def apply(k, x, out):"]
    for k, name in enumerate(NAMES):
        lines.append(f"    {'if' if k == 0 else 'elif'} k == {k}:")
        function = vector_function(name, dtype)
        lines.append(f"        for j in range(x.shape[0]): out[j] = {function}(x[j])")
    namespace = {"vmath": vmath, "vmath32": vmath32, "vtrig": vtrig, "vtrig32": vtrig32}
    exec("\n".join(lines), namespace)
    return njit(namespace["apply"])


APPLY = {np.float64: _build(np.float64), np.float32: _build(np.float32)}


def apply(name: str, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    APPLY[x.dtype.type](NAMES.index(name), x, out)
    return out


def reference(name: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return getattr(np, name)(x.astype(np.float64)).astype(x.dtype)


def ulp_error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the last place of ref; 0 where both agree (NaN included)."""
    dtype = ref.dtype
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    finite = np.isfinite(ref) & np.isfinite(got)
    spacing = np.maximum(np.spacing(np.abs(np.where(finite, ref, 1)).astype(dtype)), 0)
    spacing = np.maximum(spacing.astype(np.float64), np.finfo(dtype).smallest_subnormal)
    diff = np.abs(np.where(finite, got, 0).astype(np.float64) - np.where(finite, ref, 0))
    return np.where(same, 0.0, np.where(finite, diff / spacing, np.inf))


def sweep(name: str, dtype, n: int, seed: int = 0) -> np.ndarray:
    """Random bit patterns (every binade, subnormals, NaN, inf), a uniform sweep of the
    function's interesting range, and dense values near zero."""
    rng = np.random.default_rng(seed)
    itype = np.uint64 if dtype == np.float64 else np.uint32
    parts = [
        rng.integers(0, np.iinfo(itype).max, n, dtype=itype, endpoint=True).view(dtype),
        rng.uniform(-RANGE.get(name, 1e6), RANGE.get(name, 1e6), n).astype(dtype),
        rng.uniform(-4, 4, n).astype(dtype),
        np.array(SPECIAL, dtype),
    ]
    return reducible(name, np.concatenate(parts))


def check(name: str, x: np.ndarray) -> None:
    if not x.size:
        return
    err = ulp_error(apply(name, x), reference(name, x))
    worst = int(np.argmax(err))
    bound = BOUND[x.dtype.type][name]
    assert err[worst] <= bound, (
        f"{name}[{x.dtype}]({x[worst]!r}) = {apply(name, x[worst : worst + 1])[0]!r}, "
        f"reference {reference(name, x[worst : worst + 1])[0]!r}: {err[worst]:.2f} ulp"
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_sweep_within_bound(name, dtype):
    check(name, sweep(name, dtype, 100_000))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_dense_sweep_within_bound(name, dtype):
    for seed in range(5):
        check(name, sweep(name, dtype, 4_000_000, seed))


# Float32 functions whose error bound rests on an argument about where rounding errors
# cancel, with the range beyond which the result is trivially right (or libm's). The
# logarithms: every positive float32 (and log1p every one in (-1, 0) as well); exp2 every
# float32 of either sign up to 151 (it overflows from 128 on and is 0 below -150).
EXHAUSTIVE = {"sin": vtrig32.HUGE, "cos": vtrig32.HUGE, "tan": vtrig32.HUGE}
EXHAUSTIVE.update(tanh=9.5, sinh=90.0, cosh=90.0, exp2=151.0)
EXHAUSTIVE.update(dict.fromkeys(("log", "log2", "log10", "log1p"), np.finfo(np.float32).max))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXHAUSTIVE))
def test_float32_exhaustive(name):
    """Every positive float32 up to EXHAUSTIVE[name] (the functions are odd or even, but
    for log1p and exp2, whose negative arguments are checked as well)."""
    top = int(np.array([EXHAUSTIVE[name]], np.float32).view(np.uint32)[0])
    minus_one = int(np.array([1.0], np.float32).view(np.uint32)[0])
    for start in range(0, top + 1, 1 << 24):
        x = np.arange(start, min(start + (1 << 24), top + 1), dtype=np.uint32).view(np.float32)
        check(name, x)
        if name == "log1p" and start < minus_one:
            check(name, -x[x < 1])
        if name == "exp2":
            check(name, -x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_special_values_exact(name, dtype):
    fi = np.finfo(dtype)
    x = np.array(
        SPECIAL + [fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal], dtype
    )
    if name in ("sin", "cos", "tan", "sinh", "cosh", "tanh"):
        x = reducible(name, np.concatenate([x, np.array([fi.max, -fi.max], dtype)]))
    got, ref = apply(name, x), reference(name, x)
    special = ~np.isfinite(ref) | (ref == 0) | (np.abs(x) < 1e-30)
    np.testing.assert_array_equal(got[special], ref[special])
    signed = special & ~np.isnan(ref)  # the sign of zeros and infinities, not of NaN
    assert np.array_equal(np.signbit(got[signed]), np.signbit(ref[signed]))
    assert np.all(ulp_error(got, ref) <= BOUND[dtype][name])


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20),
)
def test_hypothesis_float64(name, values):
    check(name, reducible(name, np.array(values, np.float64)))


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    values=st.lists(st.floats(width=32), min_size=1, max_size=20),
)
def test_hypothesis_float32(name, values):
    check(name, reducible(name, np.array(values, np.float32)))


def test_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.prec = 120
    rng = np.random.default_rng(1)
    for name in NAMES:
        x = sweep(name, np.float64, 150, seed=2)
        x = x[np.isfinite(x)][:300]
        x = np.concatenate([x, rng.uniform(-3, 3, 50)])
        got = apply(name, x)
        special = {
            "exp2": lambda v: mpmath.power(2, v),
            "log2": lambda v: mpmath.log(v, 2),
        }
        fn = special.get(name) or getattr(mpmath, name)
        for xi, yi in zip(x, got):
            if name.startswith("log") and xi <= (-1 if name == "log1p" else 0):
                continue
            try:
                exact = fn(mpmath.mpf(float(xi)))
            except (ValueError, ZeroDivisionError):
                continue
            exact = float(exact) if abs(exact) < 1.8e308 else math.copysign(np.inf, exact)
            assert ulp_error(np.array([yi]), np.array([exact]))[0] <= 2.0, (name, xi, yi, exact)


def test_huge_trig_arguments_are_flagged():
    flags = [vtrig.trig_huge(v) for v in (1.0, vtrig.HUGE, 2 * vtrig.HUGE, 1e300, np.inf)]
    assert flags == [0, 0, 1, 1, 0]
    values = np.array([1.0, vtrig32.HUGE, 2 * vtrig32.HUGE, 3e38, np.inf, -np.inf], np.float32)
    assert [vtrig32.trig_huge(v) for v in values] == [0, 0, 1, 1, 0, 0]
    above = np.nextafter(vtrig32.HUGE, np.float32(np.inf))
    big = np.finfo(np.float32).max
    values = np.array([above, -above, -vtrig32.HUGE, -big, big, np.nan, -np.nan, 0.0, -0.0])
    values = values.astype(np.float32)
    assert [vtrig32.trig_huge(v) for v in values] == [1, 1, 0, 1, 1, 0, 0, 0, 0]


def w2(x):
    return np.sum(np.sin(x) * x**2 + np.exp(-x) + np.tanh(x) + np.log1p(x * x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jit_uses_vectorizable_math_and_precise_uses_libm(dtype):
    x = np.linspace(-3, 3, 101).astype(dtype)
    x[7] = 1e12  # beyond vtrig.HUGE: the region reruns with libm
    vg = fnad.value_and_grad(w2)
    fast, precise = fnad.jit(vg), fnad.jit(vg, precise=True)
    source = fast.lower(x).source
    for name in ("sin", "cos", "exp", "tanh", "log1p"):
        assert vector_function(name, dtype) + "(" in source
    assert "math.sin(" in source  # the libm rerun for huge arguments
    assert "vmath" not in precise.lower(x).source and "vtrig" not in precise.lower(x).source
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for _ in range(2):
        expected = vg(x)  # the reference interpreter, on NumPy's functions
        for f in (fast, precise):
            for got, want in zip(f(x), expected):
                np.testing.assert_allclose(got, want, rtol=rtol)
        x[7] = 0.5


def trig3(x):
    return np.sin(x), np.cos(x), np.tan(x)


@pytest.mark.parametrize("parallel", [False, True])
def test_float32_trig_flags_its_own_threshold(parallel):
    """A float32 argument beyond vtrig32.HUGE (but far below float64's vtrig.HUGE) sends the
    region to libm, in the serial and the 2-thread loop alike."""
    x = np.random.default_rng(3).uniform(-4e5, 4e5, PARALLEL_MIN_ELEMENTS + 999)
    x = x.astype(np.float32)
    x[123] = 3 * vtrig32.HUGE
    f = fnad.jit(trig3, parallel=parallel)
    source = f.lower(x).source
    assert "vtrig32.trig_huge(" in source and "math.sin(" in source
    assert ("prange" in source) == parallel
    for _ in range(2):
        for name, got in zip(TRIG, f(x)):
            assert np.max(ulp_error(got, reference(name, x))) <= 1.0, name
        x[np.abs(x) > vtrig32.HUGE] = 0.25  # now every lane takes the vectorized path
