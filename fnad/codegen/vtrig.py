"""Vectorizable float64 trigonometric and hyperbolic functions for fused loops (see
vmath.py; float32 ``sin``/``cos``/``tan`` are in vtrig32.py).

``sin``, ``cos`` and ``tan`` reduce the argument by multiples of pi/2 held in three parts
(Cody and Waite's scheme, with FMA and double-double arithmetic), exact enough for
``|x| <= HUGE``. A fused loop that meets a larger finite argument notices it through
``trig_huge`` (an integer OR, which vectorizes) and recomputes the whole region with libm
afterwards, so the common path never carries a call. ``sinh`` and ``tanh`` are a
polynomial near zero and built from ``exp`` beyond, both computed and one selected;
overflow thresholds are handled by exact scaling.
"""

from __future__ import annotations

import math

import numpy as np

from fnad.codegen.vmath import (
    _INV_LN2,
    _LN2,
    _SHIFT,
    _exp_reduce,
    _expm1_small,
    _jit,
    bits_f64,
    f64_bits,
    fma,
    pow2,
)

HUGE = 2.0**28
"""Largest ``|x|`` the vectorized ``sin``/``cos``/``tan`` reduce; beyond it, libm."""

_TWO_OVER_PI = 0.6366197723675814
_SIGN_BIT = -(1 << 63)
_PIO2_1 = 1.5707963267948966
_PIO2_2 = 6.123233995736766e-17
_PIO2_3 = -1.4973849048591698e-33


@_jit
def trig_huge(x):
    """Whether ``x`` is finite and too large for the vectorized reduction."""
    a = abs(np.float64(x))
    return a > HUGE and a != np.inf


@_jit
def _reduce(x):
    """``(q, hi, lo)``: ``x = n pi/2 + hi + lo`` with ``q = n mod 4``, ``|hi| <= pi/4``
    (about), ``lo`` about an ulp of ``hi`` or less."""
    kd = fma(x, _TWO_OVER_PI, _SHIFT)
    q = f64_bits(kd) & 3
    n = kd - _SHIFT
    r1 = fma(-n, _PIO2_1, x)  # exact: the difference fits in 53 bits
    ph = n * _PIO2_2
    pl = fma(n, _PIO2_2, -ph)
    hi = r1 - ph
    # NOTE: the rounding error of hi (Fast2Sum; where r1 and ph nearly cancel, hi is exact
    # and the error 0). hi + lo is not renormalized: the polynomials only add lo in.
    err = (r1 - hi) - ph
    return q, hi, fma(-n, _PIO2_3, err - pl)


@_jit
def _sin_poly(r, lo):
    z = r * r
    z2 = z * z
    # Taylor's coefficients by Estrin's scheme (Horner's rule chains eight steps)
    p01 = fma(8.333333333333333e-03, z, -1.6666666666666666e-01)
    p23 = fma(2.7557319223985893e-06, z, -1.984126984126984e-04)
    p45 = fma(1.6059043836821613e-10, z, -2.505210838544172e-08)
    p67 = fma(2.8114572543455206e-15, z, -7.647163731819816e-13)
    p = fma(fma(p67, z2, p45), z2 * z2, fma(p23, z2, p01))
    return r + (r * z * p + lo * (1.0 - 0.5 * z))


@_jit
def _cos_poly(r, lo):
    z = r * r
    z2 = z * z
    p01 = fma(-1.3888888888888889e-03, z, 4.1666666666666664e-02)
    p23 = fma(-2.755731922398589e-07, z, 2.48015873015873e-05)
    p45 = fma(-1.1470745597729725e-11, z, 2.08767569878681e-09)
    p67 = fma(-1.5619206968586225e-16, z, 4.779477332387385e-14)
    p = fma(fma(p67, z2, p45), z2 * z2, fma(p23, z2, p01))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * z * p - r * lo))


@_jit
def _sin_pick(x, q, s, c):
    v = c if q & 1 else s
    v = -v if q & 2 else v
    return x if abs(x) < 1e-9 else v


@_jit
def _cos_pick(q, s, c):
    v = s if q & 1 else c
    return -v if (q + 1) & 2 else v


@_jit
def _tan_pick(x, q, s, c):
    # NOTE: one division, its operands selected: -c / s if q & 1 else s / c computed both
    odd = q & 1 != 0
    v = (-c if odd else s) / (s if odd else c)
    return x if abs(x) < 1e-9 else v


@_jit
def sin_f64(x):
    q, r, lo = _reduce(x)
    return _sin_pick(x, q, _sin_poly(r, lo), _cos_poly(r, lo))


@_jit
def cos_f64(x):
    q, r, lo = _reduce(x)
    return _cos_pick(q, _sin_poly(r, lo), _cos_poly(r, lo))


@_jit
def tan_f64(x):
    q, r, lo = _reduce(x)
    return _tan_pick(x, q, _sin_poly(r, lo), _cos_poly(r, lo))


@_jit
def _exp_half(a):
    """``exp(a) / 2`` for ``0 <= a``, without overflowing before the true result does."""
    n, r = _exp_reduce(min(a, 711.0))
    y = 1.0 + _expm1_small(r)
    return (y + y) * pow2(n - 2)  # NOTE: see _sinh_large


@_jit
def _sinh_large(a, sign_bit):
    """``sinh(a)`` for ``a >= 1``, overflowing only where the result does, its sign bit set
    to ``sign_bit``."""
    n, r = _exp_reduce(min(a, 711.0))
    s = _expm1_small(r)
    m = 1.0 + s
    m_lo = s - (m - 1.0)  # the rounding of m, put back: it would cost half an ulp
    # exp(a) / 2 = 2**(n - 1) m and exp(-a) / 2 = 2**(n - 1) 2**(-2n) / m; beyond 2**-1022
    # the second term is far below an ulp of the first
    t = m_lo - pow2(-min(n + n, 1022)) / m
    # NOTE: 2 y 2**(n - 2) with y = m + t: 2 y = fma(t, 2, 2 m) rounds as m + t does, and
    # 2**(n - 2) is a double up to n = 1025; n = 1026 (a > 710.8) gives inf, as the result
    # overflows from a = 710.48 on. The sign goes onto the power of two, beside the work,
    # rather than onto the result after it.
    return fma(t, 2.0, m + m) * bits_f64(((n + 1021) << 52) | sign_bit)


@_jit
def sinh_f64(x):
    z = x * x
    # sinh(x) = x + x z P(z) below 1: P a Chebyshev fit (error below 2**-61)
    z2 = z * z
    p01 = fma(0.008333333333333299, z, 0.16666666666666666)
    p23 = fma(2.7557319191381816e-06, z, 0.00019841269841324198)
    p45 = fma(1.6057679623801638e-10, z, 2.5052117695907823e-08)
    p = fma(fma(fma(7.746178593018827e-13, z2, p45), z2, p23), z2, p01)
    # NOTE: x z P(z) has x's sign, so -0 stays -0
    small = fma(x * z, p, x)
    a = abs(x)
    large = _sinh_large(a, f64_bits(x) & _SIGN_BIT)
    return small if a < 1.0 else large


@_jit
def cosh_f64(x):
    h = _exp_half(abs(x))
    return x * x if x != x else h + 0.25 / h


@_jit
def tanh_f64(x):
    a = min(abs(x), 20.0)  # tanh rounds to 1 from 19.1 on
    z = a * a
    # tanh(a) = a + a z P(z) below 0.55: P a Chebyshev fit (error below 2**-56)
    z2 = z * z
    z4 = z2 * z2
    p01 = fma(0.13333333333332714, z, -0.3333333333333333)
    p23 = fma(0.021869488493666944, z, -0.053968253967434016)
    p45 = fma(0.003592110378689024, z, -0.008863234397814355)
    p67 = fma(0.0005889360520074057, z, -0.001455661830100716)
    p89 = fma(8.511313685577672e-05, z, -0.0002346347410887237)
    p03 = fma(p23, z2, p01)
    p47 = fma(p67, z2, p45)
    p = fma(fma(fma(-2.060276537636634e-05, z2, p89), z4, p47), z4, p03)
    small = fma(a * z, p, a)
    # 1 - 2 / (exp(2a) + 1) above: the quotient (below 0.45) would cost an ulp of the
    # result if the roundings of the sum and of the reciprocal were not put back
    a2 = a + a
    kd = fma(a2, _INV_LN2, _SHIFT)
    n = f64_bits(kd) - f64_bits(_SHIFT)
    # NOTE: 2a - n ln2 without ln 2's second word: its error, below n 2**-55, is scaled by
    # the quotient 2 / (exp(2a) + 1) < 2**(1 - n), a fifth of an ulp of the result at most
    r = fma(-(kd - _SHIFT), _LN2, a2)
    s = _expm1_small(r)
    scale = pow2(n)
    c = scale + 1.0
    d = fma(s, scale, c)
    d_err = fma(s, scale, c - d)  # d + d_err = (1 + s) 2**n + 1, the rounding of d put back
    inv = 1.0 / d
    # the residual 1 - inv (d + d_err) in two FMAs, then one correction step
    inv = fma(inv, fma(-inv, d_err, fma(-inv, d, 1.0)), inv)
    large = fma(-2.0, inv, 1.0)
    return math.copysign(small if a < 0.55 else large, x)
