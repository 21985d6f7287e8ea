"""Vectorizable float32 exponentials, logarithms and hyperbolic functions for fused loops.

The float32 versions of vmath.py's functions, computed in float32 throughout: float32
constants, float32 polynomials (shorter than float64's), 32-bit integer bit manipulation.
A loop over float32 then runs twice as many lanes per vector instruction as one that
widens to float64 (16 on AVX-512). Each result is faithfully rounded: at most 1 ulp from
the correctly rounded float32 value (docs/math.md), special cases selected at the end.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types

from fnad.codegen.vmath import _bitcast, _jit, fma

f32_bits = _bitcast(types.float32, types.int32, ir.IntType(32))
bits_f32 = _bitcast(types.int32, types.float32, ir.FloatType())

# NOTE: every constant is a float32 (or int32) global: a Python float literal is a
# float64 to Numba and would widen the whole computation.
F = np.float32
_ZERO, _ONE, _TWO = F(0.0), F(1.0), F(2.0)
_INF, _NAN = F(np.inf), F(np.nan)
_SHIFT = F(12582912.0)  # 1.5 * 2**23: adding it rounds to an integer held in the low bits
_SHIFT_BITS = np.int32(0x4B400000)
_SHIFT_EXP = F(12583039.0)  # _SHIFT + 127
_SHIFT_PAIR = F(12583037.0)  # _SHIFT + 125
_SIGN_BIT = np.int32(-(1 << 31))
_PAIR_CAP = np.int32(0x4B400000 + 125 + 63)  # the bits of _SHIFT_PAIR + 63
_PAIR_NEG = np.int32(0x4B400000 + 125 + 127)  # minus the bits of _SHIFT_PAIR + n: 127 - n
_INV_LN2 = F(1.4426950408889634)
_TWO_INV_LN2 = F(2.0) * _INV_LN2
_LN2 = F(0.6931471805599453)
_LN2_HALF = F(0.5) * _LN2
_LN2_LO = F(0.6931471805599453 - float(_LN2))  # with FMA, n * _LN2 is subtracted exactly
_LN2_HI16 = F(6.9313812256e-01)  # ln 2 with 16 significant bits: e * hi is exact
_LN2_LO16 = F(9.0580006145e-06)
_LOG2_E = F(1.4426950408889634)
_LOG10_E = F(0.4342944819032518)
_LOG10_2_HI = F(3.0102920532e-01)  # 16 significant bits
_LOG10_2_LO = F(0.30102999566398120 - 3.0102920532e-01)
_TINY = F(1.1754943508222875e-38)
_SQRT_HALF_BITS = np.int32(0x3F3504F3)
_MANT = np.int32((1 << 23) - 1)


@_jit
def pow2(n):
    """``2.0 ** n`` as float32 for an integer ``-126 <= n <= 127``."""
    return bits_f32(np.int32((n + 127) << 23))


@_jit
def _reduce(x):
    """``(n, r)`` with ``x = n ln2 + r``, ``|r| <= ln2 / 2``, for ``|x| <= 110``."""
    kd = fma(x, _INV_LN2, _SHIFT)
    n = np.int32(f32_bits(kd) - _SHIFT_BITS)
    nd = kd - _SHIFT
    return n, fma(-nd, _LN2_LO, fma(-nd, _LN2, x))


@_jit
def _tail_poly(r, r2):
    """``(exp(r) - 1 - r) / r**2`` for ``|r| <= ln2 / 2``: a degree-4 fit (least squares
    on Chebyshev nodes, weighted toward the minimax error relative to ``exp(r)``: below
    2**-27.9 with float32 coefficients, as good as Taylor's degree 7 with one FMA fewer),
    by Estrin's scheme: shorter latency than Horner's rule, which bounds these loops."""
    p01 = fma(F(0.16666521), r, F(0.49999994))
    p23 = fma(F(0.008368712), r, F(0.04166839))
    return fma(fma(F(0.0013814592), r2, p23), r2, p01)


@_jit
def _tail(r):
    """``exp(r) - 1 - r`` for ``|r| <= ln2 / 2``."""
    r2 = r * r
    return r2 * _tail_poly(r, r2)


@_jit
def _expm1_small(r):
    """``exp(r) - 1`` for ``|r| <= ln2 / 2``, ``r`` added by the polynomial's last FMA: one
    rounding and one operation fewer than ``r + _tail(r)``."""
    r2 = r * r
    return fma(r2, _tail_poly(r, r2), r)


@_jit
def _scale(p, n):
    """``p * 2**n`` for ``|n| <= 252`` in two exact steps, so that overflow and subnormal
    results round once."""
    n1 = n >> 1
    return p * pow2(n1) * pow2(n - n1)


@_jit
def exp_f32(x):
    n, r = _reduce(min(max(x, F(-104.0)), F(89.0)))
    y = _scale(_ONE + _expm1_small(r), n)
    return y if x == x else x


@_jit
def exp2_f32(x):
    xc = min(max(x, F(-151.0)), F(129.0))
    kd = xc + _SHIFT
    n = np.int32(f32_bits(kd) - _SHIFT_BITS)
    t = xc - (kd - _SHIFT)  # exact, |t| <= 1/2
    # 2**t = 1 + t P(t): P of degree 5, a least-squares fit on Chebyshev nodes (error below
    # 2**-25.9 relative to 2**t), by Horner's rule in t itself: no product t ln 2 to carry
    # in two words, and the last FMA forms 1 + t P(t) with one rounding (faithful on every
    # float32, tests/test_vmath.py)
    p = fma(F(0.00015353599), t, F(0.0013398887))
    p = fma(p, t, F(0.009618437))
    p = fma(p, t, F(0.055503324))
    p = fma(p, t, F(0.24022648))
    p = fma(p, t, F(0.6931472))
    y = _scale(fma(p, t, _ONE), n)
    return y if x == x else x


@_jit
def _expm1_parts(x):
    """``(hi, lo)``, ``hi + lo = expm1(x)`` to about 2**-40 relative, for ``x <= 89``."""
    n, r = _reduce(min(max(x, F(-18.0)), F(89.0)))
    p = _tail(r)
    # NOTE: 2**128 is not a float32: the last factor of 2 is applied by the caller.
    scale = pow2(min(n, 127))
    # 2**n (1 + r + p) - 1 = (scale r + (scale - 1)) + scale p, the first sum kept exact
    a = scale * r
    b = scale - _ONE
    u = a + b
    bb = u - a
    err = (a - (u - bb)) + (b - bb)
    return u, fma(scale, p, err), n


@_jit
def expm1_f32(x):
    hi, lo, n = _expm1_parts(x)
    y = (hi + lo) * (_TWO if n > 127 else _ONE)
    return x if (x != x or x == _ZERO) else y


@_jit
def _mant_exp(xs):
    """``(e, f)`` with ``xs = 2**e (1 + f)``, ``sqrt(1/2) <= 1 + f < sqrt(2)``, for normal
    ``xs > 0``."""
    bits = np.int32(f32_bits(xs) - _SQRT_HALF_BITS)
    m = bits_f32(np.int32((bits & _MANT) + _SQRT_HALF_BITS))
    return F(np.int32(bits >> 23)), m - _ONE


@_jit
def _log_split(x):
    """``(e, f)`` of ``_mant_exp`` for finite ``x > 0``, subnormals included."""
    # NOTE: both splits are computed and one selected: scaling a subnormal by 2**23 first
    # would lengthen every lane's chain of dependent instructions, which costs more.
    e, f = _mant_exp(x)
    e_sub, f_sub = _mant_exp(x * F(8388608.0))
    tiny = x < _TINY
    return (e_sub - F(23.0) if tiny else e), (f_sub if tiny else f)


# log(1 + f) = c f + f**2 Q(f) on [sqrt(1/2) - 1, sqrt(2) - 1], c = 1, 1 / ln 2 or
# 1 / ln 10. Q: least-squares fits on Chebyshev nodes weighted by f**2 / log(1 + f), so the
# error of f**2 Q relative to the result is below 2**-27 for ln. The log2 and log10 fits
# take c as the float32 constant and absorb part of its rounding error (what is left:
# 2**-26.1 and 2**-25.3 relative), so c needs no second word.
_Q_LN = (F(-0.49999988), F(0.33333325), F(-0.250016), F(0.20002002), F(-0.16608764))
_Q_LN += (F(0.14181177), F(-0.13244627), F(0.12908785), F(-0.07623394))
_Q_LOG2 = (F(-0.7213475), F(0.4809037), F(-0.36068258), F(0.2883078), F(-0.23979296))
_Q_LOG2 += (F(0.20880857), F(-0.19322222), F(0.16376525), F(-0.08041272))
_Q_LOG10 = (F(-0.21714725), F(0.14476192), F(-0.10857233), F(0.086994134), F(-0.07243584))
_Q_LOG10 += (F(0.05981165), F(-0.0534457), F(0.0638477), F(-0.05091851))


@_jit
def _q8(f, q):
    """``Q(f)``, ``Q``'s nine coefficients ``q``, by Estrin's scheme: these loops are bound
    by the latency of one element as much as by the number of instructions, and Horner's
    rule doubles the latency."""
    f2 = f * f
    f4 = f2 * f2
    q03 = fma(fma(q[3], f, q[2]), f2, fma(q[1], f, q[0]))
    q47 = fma(fma(q[7], f, q[6]), f2, fma(q[5], f, q[4]))
    return fma(fma(q[8], f4, q47), f4, q03)


@_jit
def _log_special(x, y):
    """``y`` for finite ``x > 0``, else the result for x <= 0, inf and NaN."""
    # NOTE: x > 0 is tested once and both of its uses share the mask; the other value is
    # computed from x alone, which is shorter than a chain of selects on y. Written with
    # `and`, or with the first two selects nested in one expression, the tests became
    # branches that LLVM turned into integer compares: the loops were 5-20% slower.
    positive = x > _ZERO
    other = x if positive else _NAN
    other = -_INF if x == _ZERO else other
    return y if (positive & (x < _INF)) else other


# The logarithms below add their terms smallest first and round about twice: log(x) =
# a + (f + t), log2(x) = e + (c f + t) with c f + t rounded by one FMA, log10 likewise with
# a = e log10(2) (``a`` exact: ``e`` times 16 bits of the constant). Either the inner sum
# is at most about half the result, so that its rounding costs about a quarter ulp of it,
# or (e = 1 or -1 against f near its ends) the two nearly cancel and the outer sum is
# exact (Sterbenz's lemma): the results are faithful (every positive float32 is tested).


@_jit
def log_f32(x):
    e, f = _log_split(x)
    t = fma(f * f, _q8(f, _Q_LN), e * _LN2_LO16)
    return _log_special(x, e * _LN2_HI16 + (f + t))


@_jit
def log2_f32(x):
    e, f = _log_split(x)
    t = f * f * _q8(f, _Q_LOG2)
    return _log_special(x, e + fma(f, _LOG2_E, t))


@_jit
def log10_f32(x):
    e, f = _log_split(x)
    t = fma(f * f, _q8(f, _Q_LOG10), e * _LOG10_2_LO)
    return _log_special(x, e * _LOG10_2_HI + fma(f, _LOG10_E, t))


@_jit
def log1p_f32(x):
    u = _ONE + x
    # NOTE: c is the rounding error of u relative to u, so log(u) + c = log(1 + x).
    c = (x - (u - _ONE)) / u
    e, f = _mant_exp(u)  # NOTE: u is 0 or at least 2**-24, never subnormal
    t = fma(f * f, _q8(f, _Q_LN), fma(e, _LN2_LO16, c))
    # x = -1, x < -1, NaN and inf are log's special cases of u (vmath.log1p_f64)
    y = _log_special(u, e * _LN2_HI16 + (f + t))
    return x if abs(x) < F(1e-30) else y


@_jit
def _exp_pair(a, sign, sign_bit):
    """``(exp(a) + sign exp(-a)) / 2`` for ``a >= 0`` (``sign`` -1 only for ``a >= 0.7``),
    overflowing only where the result does, its sign bit set to ``sign_bit``."""
    ac = min(a, F(90.0))
    # NOTE: the low bits of kd hold n + 125, so that shifting them into the exponent field
    # gives 2**(n - 2) in one instruction (as in tanh_f32)
    kd = fma(ac, _INV_LN2, _SHIFT_PAIR)
    nd = kd - _SHIFT_PAIR
    s = _expm1_small(fma(-nd, _LN2_LO, fma(-nd, _LN2, ac)))
    bits = f32_bits(kd)
    # exp(a) / 2 = 2**(n - 1) (1 + s) and exp(-a) / 2 = 2**(n - 1) 2**(-2n) / (1 + s); beyond
    # 2**-126 the second term is far below an ulp of the first
    e = bits_f32(np.int32((_PAIR_NEG - min(bits, _PAIR_CAP)) << 23))  # 2**-min(n, 63)
    e = e * e  # NOTE: squared rather than 2**(-2n): doubling n would widen it to int64
    # NOTE: y = 1 + w, w = s + sign e / (1 + s): w is at most about half of y, so its
    # rounding costs at most about a quarter ulp of y, and the last sum rounds once.
    # (Adding to the rounded 1 + s its rounding error instead took two operations more.)
    w = fma(sign, e / (_ONE + s), s)
    # NOTE: 2 y 2**(n - 2) rounds twice at most: 2 y = 2 w + 2 rounds as 1 + w does, and
    # 2**(n - 2) is a float32 up to n = 129; n = 130 (a > 89.7) gives inf, as the result
    # overflows from a = 89.42 on. The sign goes onto the power of two, beside the work,
    # rather than onto the result after it.
    return fma(w, _TWO, _TWO) * bits_f32(np.int32((bits << 23) | sign_bit))


@_jit
def sinh_f32(x):
    z = x * x
    # sinh(x) = x + x z P(z) below 0.7: P of degree 2, a least-squares fit on Chebyshev
    # nodes (error below 2**-28); _exp_pair stays faithful down to 0.7, where exp(-a) is
    # a quarter of exp(a). (x z P(z) has x's sign, so -0 stays -0.)
    p = fma(F(0.00020101015), z, F(0.008332599))
    p = fma(p, z, F(0.16666673))
    a = abs(x)
    large = _exp_pair(a, -_ONE, np.int32(f32_bits(x) & _SIGN_BIT))
    return fma(x * z, p, x) if a < F(0.7) else large


@_jit
def cosh_f32(x):
    return _exp_pair(abs(x), _ONE, np.int32(0))


@_jit
def tanh_f32(x):
    a = abs(x)
    z = a * a
    # tanh(x) = x (1 + z P(z)) below 0.7: P a least-squares fit on Chebyshev nodes (error
    # below 2**-25 relative), by Horner's rule (the short branch: fewer operations matter
    # more than its latency). x times a positive factor keeps x's sign, -0 included.
    p = fma(F(-0.005138723), z, F(0.020092048))
    p = fma(p, z, F(-0.0535589))
    p = fma(p, z, F(0.13329111))
    p = fma(p, z, F(-0.3333319))
    small = x * fma(z, p, _ONE)
    # 1 - 2 / (exp(2a) + 1) above: the quotient is below 0.4, so its rounding errors stay
    # below half an ulp of the result, and it scales a relative error of exp(2a) by at
    # most 0.32, so exp(r) is a degree-5 polynomial here (a fit on Chebyshev nodes, error
    # below 2**-23 relative), one coefficient fewer than _expm1_small's (faithful on every
    # float32, tests/test_vmath.py).
    ac = min(a, F(9.5))  # tanh rounds to 1 from 9.01 on
    # NOTE: the low bits of kd hold n + 127, so shifting them into the exponent field
    # gives 2**n in one instruction: _SHIFT's own bits (0x4B400000) shift out entirely
    kd = fma(ac, _TWO_INV_LN2, _SHIFT_EXP)
    scale = bits_f32(np.int32(f32_bits(kd) << np.int32(23)))
    # h = (2a - n ln2) / 2, exactly half of the reduced argument r: the polynomial in h
    # with coefficients scaled by powers of 2 rounds as the one in r would, without 2a.
    # NOTE: ln 2's second word is left out: its error, n 2**-29 at most, is scaled by the
    # quotient 2 / (exp(2a) + 1) < 2**(1 - n), far below an ulp of the result
    h = fma(-(kd - _SHIFT_EXP), _LN2_HALF, ac)
    # exp(r) = 1 + r (1 + r (c2 + r (c3 + r (c4 + r c5)))) by Horner's rule, as 1 + h (2 +
    # h (4 c2 + ...)); exp(2a) + 1 = 2**n exp(r) + 1 is then one FMA
    g = fma(F(0.2660108), h, F(0.67024374))
    g = fma(g, h, F(1.3333689))
    g = fma(g, h, F(1.9999692))
    g = fma(g, h, _TWO)
    # NOTE: sign(x) (1 - 2 / d) with the signs taken from x beside the work, rather than
    # copying x's sign onto the selected result after the division (4% faster)
    d = fma(fma(g, h, _ONE), scale, _ONE)
    large = math.copysign(_ONE, x) - math.copysign(_TWO, x) / d
    return small if a < F(0.7) else large
