"""Special functions as elementwise primitives: erf, erfc, erfinv, gammaln, digamma,
polygamma, expit, log_ndtr, xlogy, xlog1py.

The reference implementations are SciPy's. Numba has ``math.erf``, ``math.erfc`` and
``math.lgamma``; the others are scalar helper functions declared here (``tags["helpers"]``)
that the code generator copies into a generated module only when a graph uses them.
Derivatives are written with these primitives again, so every order is available
(``polygamma(n)`` differentiates to ``polygamma(n + 1)``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from fnad.core.primitive import Primitive, elementwise, register, same_spec, unary
from fnad.core.trace import bind

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

_ERFINV = """
@njit(cache=True)
def _erfinv(y):
    if not -1.0 < y < 1.0:
        return np.inf if y == 1.0 else -np.inf if y == -1.0 else np.nan
    a = abs(y)
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p = c + p * w
    x = p * a
    for _ in range(3):
        # Newton steps on erfc near 1, where 1 - a is exact and erf(x) would round to 1.
        err = (1.0 - a) - math.erfc(x) if a > 0.5 else math.erf(x) - a
        x = x - err / (1.1283791670955126 * math.exp(-x * x))
    return x if y >= 0 else -x
"""

_DIGAMMA = """
@njit(cache=True)
def _digamma(x):
    if x <= 0.0 and math.floor(x) == x:
        return -np.inf if x == 0.0 else np.nan
    result = 0.0
    if x < 0.0:
        result = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    tail = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (
        -1.0 / 132 + f * (691.0 / 32760 + f * (-1.0 / 12)))))))
    return result + math.log(x) - 0.5 / x + tail
"""

_POLYGAMMA = """
_BERNOULLI = (1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6,
              -3617.0 / 510, 43867.0 / 798, -174611.0 / 330)


@njit(cache=True)
def _polygamma(n, x):
    if n == 0:
        return _digamma(x)
    if x <= 0.0 and math.floor(x) == x:
        return np.inf if n % 2 == 1 else np.nan
    s = n + 1.0
    total = 0.0
    while x < 20.0 + n:
        # NOTE: the series sum of 1 / (x + k)^(n + 1) converges for negative x too.
        total += 1.0 / x ** (n + 1)
        x += 1.0
    # Euler-Maclaurin tail of the Hurwitz zeta function zeta(s, x).
    total += x ** (1.0 - s) / (s - 1.0) + 0.5 * x ** -s
    rising, fact, power = s, 2.0, x ** (-s - 1.0)
    for j in range(10):
        total += _BERNOULLI[j] / fact * rising * power
        rising *= (s + 2 * j + 1) * (s + 2 * j + 2)
        fact *= (2 * j + 3) * (2 * j + 4)
        power /= x * x
    return (-1.0) ** (n + 1) * math.gamma(n + 1.0) * total
"""

_EXPIT = """
@njit(cache=True, inline="always")
def _expit(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
"""

_LOG_NDTR = """
@njit(cache=True)
def _log_ndtr(x):
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x / 1.4142135623730951))
    if x > -20.0:
        return math.log(0.5 * math.erfc(-x / 1.4142135623730951))
    # Asymptotic series of the Mills ratio: Phi(x) = phi(x) / -x * (1 - 1/x^2 + 3/x^4 ...).
    f = 1.0 / (x * x)
    term, total = 1.0, 1.0
    for k in range(1, 12):
        term *= -(2 * k - 1) * f
        total += term
    return -0.5 * x * x - math.log(-x) - 0.9189385332046728 + math.log(total)
"""

_XLOGY = """
@njit(cache=True, inline="always")
def _xlogy(x, y):
    return 0.0 if x == 0 and y == y else x * math.log(y)


@njit(cache=True, inline="always")
def _xlog1py(x, y):
    return 0.0 if x == 0 and y == y else x * math.log1p(y)
"""


def _special(name, np_fn, derivs, scalar, helpers, domain=(-2.0, 2.0)) -> Primitive:
    prim = elementwise(name, np_fn, derivs, scalar=scalar, domain=domain)
    prim.tags["helpers"] = helpers
    return prim


erf_p = unary(
    "erf", sc.erf, scalar="math.erf({x})", deriv=lambda x, out: _TWO_OVER_SQRT_PI * np.exp(-x * x)
)
erfc_p = unary(
    "erfc",
    sc.erfc,
    scalar="math.erfc({x})",
    deriv=lambda x, out: -_TWO_OVER_SQRT_PI * np.exp(-x * x),
)
erfinv_p = _special(
    "erfinv",
    sc.erfinv,
    (lambda x, out: (0.5 * math.sqrt(math.pi)) * np.exp(out * out),),
    "_erfinv({x})",
    {"_erfinv": _ERFINV},
    domain=(-0.95, 0.95),
)
gammaln_p = unary(
    "gammaln",
    sc.gammaln,
    scalar="math.lgamma({x})",
    deriv=lambda x, out: bind(digamma_p, x),
    domain=(0.2, 5.0),
)
digamma_p = _special(
    "digamma",
    sc.digamma,
    (lambda x, out: polygamma(1, x),),
    "_digamma({x})",
    {"_digamma": _DIGAMMA},
    domain=(0.2, 5.0),
)
digamma_p.cases = lambda rng: (
    [((rng.uniform(0.2, 5.0, shape),), {}) for shape in [(), (3,), (2, 3)]]
    + [((np.array([-2.7, -0.4, 12.5, 30.0]),), {})]
)


def polygamma(n: int, x):
    """The ``n``-th derivative of digamma (``n = 0`` is digamma itself)."""
    return bind(digamma_p, x) if n == 0 else bind(polygamma_p, x, n=int(n))


def _polygamma_vjp(ct, x, *, out, n):
    return (ct * polygamma(n + 1, x),)


def _polygamma_jvp(ts, x, *, out, n):
    return None if ts[0] is None else ts[0] * polygamma(n + 1, x)


polygamma_p = register(
    Primitive(
        "polygamma",
        impl=lambda x, *, n: np.asarray(sc.polygamma(n, x), dtype=np.asarray(x).dtype),
        abstract=lambda x, *, n: same_spec(x),
        vjp=_polygamma_vjp,
        jvp=_polygamma_jvp,
        scalar="_polygamma({n}, {x})",
        cases=lambda rng: [
            ((rng.uniform(0.3, 4.0, shape),), {"n": n}) for shape in [(), (3,)] for n in (1, 2, 3)
        ],
        elementwise=True,
        tags={"helpers": {"_digamma": _DIGAMMA, "_polygamma": _POLYGAMMA}},
    )
)
expit_p = _special(
    "expit",
    sc.expit,
    (lambda x, out: out * (1 - out),),
    "_expit({x})",
    {"_expit": _EXPIT},
    domain=(-4.0, 4.0),
)
log_ndtr_p = _special(
    "log_ndtr",
    sc.log_ndtr,
    (lambda x, out: np.exp(-0.5 * x * x - out) / _SQRT_2PI,),
    "_log_ndtr({x})",
    {"_log_ndtr": _LOG_NDTR},
    domain=(-3.0, 3.0),
)
log_ndtr_p.cases = lambda rng: (
    [((rng.uniform(-3.0, 3.0, shape),), {}) for shape in [(), (3,), (2, 3)]]
    + [((np.array([-45.0, -25.0, -19.0, -8.0, 6.0]),), {})]
)
xlogy_p = _special(
    "xlogy",
    sc.xlogy,
    (lambda x, y, out: np.log(y), lambda x, y, out: x / y),
    "_xlogy({x}, {y})",
    {"_xlogy": _XLOGY},
    domain=(0.2, 3.0),
)
xlog1py_p = _special(
    "xlog1py",
    sc.xlog1py,
    (lambda x, y, out: np.log1p(y), lambda x, y, out: x / (1 + y)),
    "_xlog1py({x}, {y})",
    {"_xlogy": _XLOGY},
    domain=(0.2, 3.0),
)
