"""Vectorizable float32 ``sin``, ``cos`` and ``tan`` for fused loops, computed in float32.

vtrig.py's scheme in float32 arithmetic, so that a 512-bit vector holds 16 lanes rather
than 8: the argument is reduced by multiples of pi/2 held in three float32 parts (72 bits
of pi/2), the reduced argument kept as two float32 words ``r + lo``, and the polynomials
evaluated with FMA. The reduction is exact enough up to ``HUGE``; beyond it a fused loop
notices through ``trig_huge`` and recomputes the region with libm, as for float64. ``tan``
has its own polynomial; where it is ``-1 / tan(r)`` the reciprocal takes one correction
step, so that it stays faithfully rounded (docs/math.md).
"""

from __future__ import annotations

import numpy as np

from fnad.codegen.vmath import _jit, fma
from fnad.codegen.vmath32 import f32_bits

F = np.float32
HUGE = F(2.0**17)
"""Largest float32 ``|x|`` the vectorized ``sin``/``cos``/``tan`` reduce; beyond it, libm."""

_ONE, _HALF, _ZERO, _INF = F(1.0), F(0.5), F(0.0), F(np.inf)
_TINY = F(1e-9)
_SHIFT = F(12582912.0)  # 1.5 * 2**23: adding it rounds to an integer held in the low bits
_TWO_OVER_PI = F(0.63661975)
# NOTE: pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3 to about 2**-77; _PIO2_1 is float32(pi/2), so
# x - n _PIO2_1 is exact (one FMA) for |n| < 2**24.
_PIO2_1 = F(1.5707964)
_PIO2_2 = F(-4.371139e-08)
_PIO2_3 = F(-1.7151245e-15)


_HUGE_NEXT = np.uint32(np.float32(HUGE).view(np.uint32) + 1)
_HUGE_SPAN = np.uint32(0x7F800000) - _HUGE_NEXT  # the finite float32 magnitudes above HUGE


@_jit
def trig_huge(x):
    """Whether float32 ``x`` is finite and too large for the vectorized reduction."""
    # NOTE: one unsigned compare of |x|'s bits against the range (HUGE, inf) rather than two
    # float compares and an and: one instruction fewer in every loop over sin, cos or tan
    return np.uint32(np.uint32(f32_bits(x) & np.int32(0x7FFFFFFF)) - _HUGE_NEXT) < _HUGE_SPAN


@_jit
def _reduce(x):
    """``(q, r, lo)``: ``x = n pi/2 + r + lo`` with ``q = n mod 4``, ``|r| <= pi/4``
    (about), ``lo`` about an ulp of ``r`` or less (``r + lo`` is not renormalized: the
    polynomials only add ``lo`` in)."""
    kd = fma(x, _TWO_OVER_PI, _SHIFT)
    q = f32_bits(kd) & 3
    n = kd - _SHIFT
    r1 = fma(-n, _PIO2_1, x)  # exact
    ph = n * _PIO2_2
    pl = fma(n, _PIO2_2, -ph)  # n _PIO2_2 = ph + pl exactly
    r = r1 - ph
    # NOTE: the rounding error of r (Fast2Sum; where r1 and ph nearly cancel, r is exact
    # and the error 0)
    err = (r1 - r) - ph
    return q, r, fma(-n, _PIO2_3, err - pl)


@_jit
def _sin_parts(r, lo):
    """``(r, tail)`` with ``sin(r + lo) = r + tail`` for ``|r| <= pi/4`` (Taylor to degree
    9: truncation below 2**-28 relative)."""
    z = r * r
    p = F(2.7557319223985893e-06)
    p = fma(p, z, F(-1.984126984126984e-04))
    p = fma(p, z, F(8.333333333333333e-03))
    p = fma(p, z, F(-1.6666666666666666e-01))
    return r, fma(r * z, p, lo * fma(-_HALF, z, _ONE))


@_jit
def _cos_parts(r, lo):
    """``(w, tail)`` with ``cos(r + lo) = w + tail`` for ``|r| <= pi/4`` (Taylor to degree
    10)."""
    z = r * r
    p = F(-2.755731922398589e-07)
    p = fma(p, z, F(2.48015873015873e-05))
    p = fma(p, z, F(-1.3888888888888889e-03))
    p = fma(p, z, F(4.1666666666666664e-02))
    hz = _HALF * z
    w = _ONE - hz
    # NOTE: (1 - w) - hz is the exact rounding error of w.
    return w, ((_ONE - w) - hz) + fma(z * z, p, -r * lo)


@_jit
def sin_f32(x):
    q, r, lo = _reduce(x)
    s, s_tail = _sin_parts(r, lo)
    c, c_tail = _cos_parts(r, lo)
    v = c + c_tail if q & 1 else s + s_tail
    v = -v if q & 2 else v
    return x if abs(x) < _TINY else v


@_jit
def cos_f32(x):
    q, r, lo = _reduce(x)
    s, s_tail = _sin_parts(r, lo)
    c, c_tail = _cos_parts(r, lo)
    v = s + s_tail if q & 1 else c + c_tail
    # NOTE: negative for q = 1 or 2, tested on q's two bits: (q + 1) & 2 would widen the
    # lanes of q to int64 (two vectors per vector of data)
    return -v if (q & 1 != 0) != (q & 2 != 0) else v


@_jit
def _tan_parts(r, lo):
    """``(r, tail)`` with ``tan(r + lo) = r + tail`` for ``|r| <= pi/4`` (a least-squares
    fit in ``z = r**2`` on Chebyshev nodes: error below 2**-28 relative), by Estrin's
    scheme: these loops are bound by one element's latency."""
    z = r * r
    z2 = z * z
    p01 = fma(F(0.13332464), z, F(0.33333355))
    p23 = fma(F(0.021161089), z, F(0.05408295))
    p45 = fma(F(-0.00032172992), z, F(0.011155188))
    p = fma(fma(F(0.0045819716), z2, p45), z2 * z2, fma(p23, z2, p01))
    # NOTE: tan'(r) = 1 + tan(r)**2, about 1 + z: lo is below an ulp of r, so this suffices.
    return r, fma(r * z, p, fma(lo, z, lo))


@_jit
def tan_f32(x):
    q, r, lo = _reduce(x)
    t, t_tail = _tan_parts(r, lo)
    y = t + t_tail
    # NOTE: tiny arguments (q = 0; -0 needs x itself) are selected before the division's
    # chain ends, not after it
    even = x if abs(x) < _TINY else y
    # tan = -1 / tan(r) for odd q: one correction step on -1 / y, its residual taken
    # against t + t_tail rather than y, removes the roundings of the sum and of the
    # quotient (three FMAs after the division, where correcting for y's rounding error
    # separately took five operations and a longer chain)
    m = -_ONE / y
    m = fma(m, fma(m, t_tail, fma(m, t, _ONE)), m)
    return m if q & 1 else even
