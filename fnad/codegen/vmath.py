"""Vectorizable exponentials and logarithms for fused loops, in float64 and float32.

A call to ``math.exp`` is opaque to LLVM, so a loop holding one runs one element at a time.
These functions are plain arithmetic instead: a range reduction, a polynomial, and integer
bit manipulation through a bit-cast intrinsic. Every special case (NaN, infinities, zeros,
subnormals, overflow and underflow) is a select at the end rather than a branch around the
work, so LLVM inlines them into the loop and vectorizes it (AVX-512 where the CPU has it).

Each function is accurate to at most 2 ulp against a correctly rounded result over the whole
domain (docs/math.md has the measured table). The float32 variants (vmath32.py,
vtrig32.py) compute in float32. ``fnad.jit(..., precise=True)`` uses libm.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# NOTE: no fastmath here: the reductions rely on exact IEEE rounding of every operation.
# NOTE: error_model="numpy": a division by zero gives inf, not a raised exception, and
# leaves no branch in the loop.
_jit = njit(cache=True, nogil=True, error_model="numpy")


def _bitcast(src, dst, src_ir):
    def impl(typingctx, x):
        if x != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], src_ir)

        return dst(src), codegen

    return intrinsic(impl)


f64_bits = _bitcast(types.float64, types.int64, ir.IntType(64))
bits_f64 = _bitcast(types.int64, types.float64, ir.DoubleType())


@intrinsic
def fma(typingctx, x, y, z):
    """``x * y + z`` with one rounding (a single instruction on CPUs with FMA), for three
    float64 or three float32 values."""
    if not (x == y == z and x in (types.float64, types.float32)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return x(x, x, x), codegen


_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer held in the low bits
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with 20 trailing zero bits: n * hi is exact
_LN2_LO = 1.90821492927058770002e-10
_LN2 = math.log(2.0)
_LOG2_E = 1.4426950408889634
_LOG10_E = 0.4342944819032518
_LOG10_2_HI = 3.01029995663611771306e-01
_LOG10_2_LO = 3.69423907715893078616e-13
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_MANT = (1 << 52) - 1


@_jit
def pow2(n):
    """``2.0 ** n`` for an integer ``-1022 <= n <= 1023``, by writing the exponent field."""
    return bits_f64((n + 1023) << 52)


@_jit
def _exp_reduce(x):
    """``(n, r)`` with ``x = n ln2 + r``, ``|r| <= ln2 / 2``, for ``|x| <= 746``."""
    kd = fma(x, _INV_LN2, _SHIFT)
    n = f64_bits(kd) - f64_bits(_SHIFT)
    kd = kd - _SHIFT
    # NOTE: three FMAs where separate products and differences took six operations;
    # kd * _LN2_HI is exact either way
    return n, fma(-kd, _LN2_LO, fma(-kd, _LN2_HI, x))


@_jit
def _expm1_poly(r, r2):
    """``(exp(r) - 1 - r) / r**2`` for ``|r| <= ln2 / 2`` (Taylor to degree 13: error below
    2**-60), by Estrin's scheme: a loop over these functions is bound by the latency of one
    element as much as by its instructions, and Horner's rule would chain all twelve
    steps."""
    r4 = r2 * r2
    p01 = fma(1.6666666666666666e-01, r, 0.5)
    p23 = fma(8.333333333333333e-03, r, 4.1666666666666664e-02)
    p45 = fma(1.984126984126984e-04, r, 1.3888888888888889e-03)
    p67 = fma(2.7557319223985893e-06, r, 2.48015873015873e-05)
    p89 = fma(2.505210838544172e-08, r, 2.755731922398589e-07)
    pab = fma(1.6059043836821613e-10, r, 2.08767569878681e-09)
    p03 = fma(p23, r2, p01)
    p47 = fma(p67, r2, p45)
    p8b = fma(pab, r2, p89)
    return fma(fma(p8b, r4, p47), r4, p03)


@_jit
def _expm1_tail(r):
    """``exp(r) - 1 - r`` for ``|r| <= ln2 / 2``."""
    r2 = r * r
    return r2 * _expm1_poly(r, r2)


@_jit
def _expm1_small(r):
    """``exp(r) - 1`` for ``|r| <= ln2 / 2``, ``r`` added by the polynomial's last FMA: one
    rounding and one operation fewer than ``r + _expm1_tail(r)``."""
    r2 = r * r
    return fma(r2, _expm1_poly(r, r2), r)


@_jit
def _scale(p, n):
    """``p * 2**n`` for ``|n| <= 1076`` in two exact steps, so overflow and subnormal
    results round once."""
    n1 = n >> 1
    return p * pow2(n1) * pow2(n - n1)


@_jit
def exp_f64(x):
    xc = min(max(x, -746.0), 710.0)
    n, r = _exp_reduce(xc)
    y = _scale(1.0 + _expm1_small(r), n)
    return y if x == x else x


@_jit
def _expm1_reduce(x):
    """``(n, r)`` of ``_exp_reduce`` for ``x`` clamped where ``expm1`` saturates."""
    return _exp_reduce(min(max(x, -60.0), 710.0))


@_jit
def _expm1_finish(x, n, r, p):
    """``expm1(x)`` from ``x = n ln2 + r`` and ``exp(r) - 1 = r + p``."""
    # NOTE: 2**1024 is not a double; the last factor of 2 is applied after the sum.
    scale = pow2(min(n, 1023))
    # 2**n (1 + r + p) - 1 = (scale r + (scale - 1)) + scale p, the first sum kept exact
    a = scale * r
    b = scale - 1.0
    u = a + b
    bb = u - a
    err = (a - (u - bb)) + (b - bb)
    y = (u + (err + scale * p)) * (2.0 if n > 1023 else 1.0)
    return x if (x != x or x == 0.0) else y


@_jit
def expm1_f64(x):
    n, r = _expm1_reduce(x)
    return _expm1_finish(x, n, r, _expm1_tail(r))


@_jit
def exp2_f64(x):
    xc = min(max(x, -1080.0), 1025.0)
    kd = xc + _SHIFT
    n = f64_bits(kd) - f64_bits(_SHIFT)
    r = (xc - (kd - _SHIFT)) * _LN2
    y = _scale(1.0 + _expm1_small(r), n)
    return y if x == x else x


@_jit
def _mant_exp(xs):
    """``(e, f)`` with ``xs = 2**e (1 + f)``, ``sqrt(1/2) <= 1 + f < sqrt(2)``, for normal
    ``xs > 0``."""
    bits = f64_bits(xs) - _SQRT_HALF_BITS
    return np.float64(bits >> 52), bits_f64((bits & _MANT) + _SQRT_HALF_BITS) - 1.0


@_jit
def _log_split(x):
    """``(e, f)`` of ``_mant_exp`` for finite ``x > 0``, subnormals included."""
    # NOTE: both splits are computed and one selected: scaling a subnormal by 2**54 first
    # would lengthen every lane's chain of dependent instructions, which costs more.
    e, f = _mant_exp(x)
    e_sub, f_sub = _mant_exp(x * 18014398509481984.0)
    tiny = x < 2.2250738585072014e-308
    return (e_sub - 54.0 if tiny else e), (f_sub if tiny else f)


@_jit
def _log1p_parts(f):
    """``(hfsq, tail)`` with ``log(1 + f) = f - (hfsq - tail)`` for ``|f| <= 0.42``."""
    s = f / (2.0 + f)
    z = s * s
    # 2 atanh(s) = 2s + s z P(z): P a least-squares fit on Chebyshev nodes for
    # z <= (3 - 2 sqrt(2))**2, reweighted toward equal error (computed with mpmath): the
    # error of z P below 2**-57.8, where Taylor's coefficients 2 / (2k + 1) needed two terms
    # more. Estrin's scheme.
    z2 = z * z
    p01 = fma(0.3999999999941429, z, 0.6666666666666734)
    p23 = fma(0.2222219856292714, z, 0.2857142874248112)
    p45 = fma(0.15314035230045484, z, 0.18183564892636936)
    p = fma(fma(0.14796111032115825, z2, p45), z2 * z2, fma(p23, z2, p01))
    hfsq = 0.5 * f * f
    return hfsq, s * (hfsq + z * p)


@_jit
def _log_special(x, y):
    """``y`` for finite ``x > 0``, else the result for x <= 0, inf and NaN."""
    # NOTE: one select of y, the other value computed from x alone; x > 0 is tested once.
    # Written with `and`, or with the first two selects nested in one expression, the
    # tests became branches that LLVM turned into integer compares (vmath32._log_special).
    positive = x > 0.0
    other = x if positive else np.nan
    other = -np.inf if x == 0.0 else other
    return y if (positive & (x < np.inf)) else other


@_jit
def log_f64(x):
    e, f = _log_split(x)
    hfsq, tail = _log1p_parts(f)
    y = e * _LN2_HI + (f - (hfsq - (tail + e * _LN2_LO)))
    return _log_special(x, y)


@_jit
def log2_f64(x):
    e, f = _log_split(x)
    hfsq, tail = _log1p_parts(f)
    y = e + (f - (hfsq - tail)) * _LOG2_E
    return _log_special(x, y)


@_jit
def log10_f64(x):
    e, f = _log_split(x)
    hfsq, tail = _log1p_parts(f)
    y = e * _LOG10_2_HI + ((f - (hfsq - tail)) * _LOG10_E + e * _LOG10_2_LO)
    return _log_special(x, y)


@_jit
def log1p_f64(x):
    u = 1.0 + x
    # NOTE: c is the rounding error of u relative to u, so log(u) + c = log(1 + x).
    c = (x - (u - 1.0)) / u
    # NOTE: u is 0 or at least 2**-53, never subnormal: the normal split suffices
    e, f = _mant_exp(u)
    hfsq, tail = _log1p_parts(f)
    y = e * _LN2_HI + (f - (hfsq - (tail + (e * _LN2_LO + c))))
    # x = -1, x < -1, NaN and inf are log's special cases of u (u = 0 only for x = -1).
    # Written as four tests on x, they were branches that LLVM turned into a longer chain
    # of selects: about 20% slower.
    y = _log_special(u, y)
    return x if abs(x) < 1e-300 else y
