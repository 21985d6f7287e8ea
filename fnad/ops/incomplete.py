"""The regularized incomplete gamma and beta functions as elementwise primitives:
``gammainc(a, x)``, ``gammaincc(a, x)``, ``betainc(a, b, x)``.

Values are SciPy's in the interpreter; compiled code calls the scalar helpers below (a
power series and a continued fraction, each where it converges fast). The derivative in
``x`` is the density, in closed form. The derivatives in the shape parameters ``a`` and
``b`` have no closed form: they are the series differentiated term by term, as primitives
of their own (``gammainc_da``, ``betainc_grad``) whose interpreter implementation runs the
same helper source as plain Python. Those are first order only: differentiating them
again raises a clear error, while second derivatives in ``x`` alone work.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.special as sc

from fnad.core.primitive import Primitive, register, same_spec
from fnad.core.trace import bind
from fnad.ops.special import _DIGAMMA, gammaln_p, xlog1py_p, xlogy_p

_GAMMAINC = """
@njit(cache=True)
def _gammainc_series(a, x):
    # P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)), for x < a + 1.
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-17 * total and n < 100000:
        n += 1
        term *= x / (a + n)
        total += term
    return total * math.exp(a * math.log(x) - x - math.lgamma(a + 1.0))


@njit(cache=True)
def _gammainc_cf(a, x):
    # Q(a, x) by Lentz's continued fraction, which converges fast for x >= a + 1.
    tiny = 1e-300
    b = x + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h * math.exp(a * math.log(x) - x - math.lgamma(a))


@njit(cache=True)
def _gammainc(a, x, upper):
    a, x = float(a), float(x)
    if not (a >= 0.0 and x >= 0.0) or (a == 0.0 and x == 0.0):
        return np.nan
    if a == 0.0 or x == np.inf:
        lower = 1.0
    elif x == 0.0:
        lower = 0.0
    elif x < a + 1.0:
        lower = _gammainc_series(a, x)
    else:
        q = _gammainc_cf(a, x)
        return q if upper else 1.0 - q
    return 1.0 - lower if upper else lower
"""

_GAMMAINC_DA = """
@njit(cache=True)
def _gammainc_da_series(a, x):
    # d/da of the series of P(a, x): term n is exp((a + n) log x - x - lgamma(a + n + 1)),
    # whose log has derivative log x - digamma(a + n + 1).
    logx = math.log(x)
    term = math.exp(a * logx - x - math.lgamma(a + 1.0))
    psi = _digamma(a + 1.0)
    total, deriv, n = term, term * (logx - psi), 0
    while term > 1e-17 * total and n < 100000:
        n += 1
        psi += 1.0 / (a + n)
        term *= x / (a + n)
        total += term
        deriv += term * (logx - psi)
    return deriv


@njit(cache=True)
def _gammaincc_da_cf(a, x):
    # d/da of Q(a, x) = h(a) exp(a log x - x - lgamma(a)): Lentz's continued fraction for h
    # run with its derivative in a alongside (forward mode through the recurrence), so the
    # result is accurate relative to Q even where Q is tiny.
    tiny = 1e-300
    b, db = x + 1.0 - a, -1.0
    c, dc = 1.0 / tiny, 0.0
    d = 1.0 / b
    dd = -db * d * d
    h, dh = d, dd
    for i in range(1, 100000):
        an, dan = -i * (i - a), float(i)
        b += 2.0
        d, dd = an * d + b, dan * d + an * dd + db
        d = tiny if abs(d) < tiny else d
        c, dc = b + an / c, db + dan / c - an / c * dc / c
        c = tiny if abs(c) < tiny else c
        d, dd = 1.0 / d, -dd / (d * d)
        step = dh * d * c + h * (dd * c + d * dc)
        h *= d * c
        dh = step
        if abs(d * c - 1.0) < 1e-16 and abs(dd * c + d * dc) * abs(h) < 1e-16 * abs(dh):
            break
    front = math.exp(a * math.log(x) - x - math.lgamma(a))
    return (dh + h * (math.log(x) - _digamma(a))) * front


@njit(cache=True)
def _gammainc_da(a, x):
    a, x = float(a), float(x)
    if not (a > 0.0 and x >= 0.0):
        return np.nan
    if x == 0.0 or x == np.inf:
        return 0.0
    if x < a + 1.0:
        return _gammainc_da_series(a, x)
    return -_gammaincc_da_cf(a, x)
"""

_BETAINC = """
@njit(cache=True)
def _betainc_cf(a, b, x):
    # I_x(a, b) by Lentz's continued fraction, for x <= (a + 1) / (a + b + 2).
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (tiny if abs(d) < tiny else d)
    h = d
    for m in range(1, 100000):
        for aa in (m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m)),
                   -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))):
            d = 1.0 + aa * d
            d = 1.0 / (tiny if abs(d) < tiny else d)
            c = 1.0 + aa / c
            c = tiny if abs(c) < tiny else c
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    front = a * math.log(x) + b * math.log1p(-x) - math.log(a)
    return h * math.exp(front - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))


@njit(cache=True)
def _betainc(a, b, x):
    a, b, x = float(a), float(b), float(x)
    if not (a >= 0.0 and b >= 0.0 and 0.0 <= x <= 1.0) or (a == 0.0 and b == 0.0):
        return np.nan
    if a == 0.0 or x == 1.0:
        return 0.0 if b == 0.0 and x < 1.0 else 1.0
    if b == 0.0 or x == 0.0:
        return 0.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc_cf(b, a, 1.0 - x)
    return _betainc_cf(a, b, x)
"""

_BETAINC_GRAD = """
@njit(cache=True)
def _betainc_series_grad(a, b, x):
    # I_x(a, b) = sum_n t_n, t_0 = x^a (1 - x)^b / (a B(a, b)),
    # t_(n+1) = t_n x (a + b + n) / (a + 1 + n); each log t_n differentiated in a and b.
    psab = _digamma(a + b)
    ga = math.log(x) - 1.0 / a - _digamma(a) + psab
    gb = math.log1p(-x) - _digamma(b) + psab
    front = a * math.log(x) + b * math.log1p(-x) - math.log(a)
    term = math.exp(front - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))
    total, da, db = term, term * ga, term * gb
    for n in range(10000000):
        # NOTE: below the switch point in _betainc_grad the ratio is < 1: terms decrease.
        term *= x * (a + b + n) / (a + 1.0 + n)
        ga += 1.0 / (a + b + n) - 1.0 / (a + 1.0 + n)
        gb += 1.0 / (a + b + n)
        total += term
        da += term * ga
        db += term * gb
        if term <= 1e-17 * total:
            break
    return da, db


@njit(cache=True)
def _betainc_grad(a, b, x, wrt):
    a, b, x = float(a), float(b), float(x)
    if not (a > 0.0 and b > 0.0 and 0.0 <= x <= 1.0):
        return np.nan
    if x == 0.0 or x == 1.0:
        return 0.0
    if x > (a + 1.0) / (a + b + 2.0):
        # I_x(a, b) = 1 - I_(1-x)(b, a): the roles of a and b swap, the sign flips.
        db, da = _betainc_series_grad(b, a, 1.0 - x)
        return -da if wrt == 0 else -db
    da, db = _betainc_series_grad(a, b, x)
    return da if wrt == 0 else db
"""


def _python(name: str, *sources: str) -> Callable:
    """The helper ``name`` as plain Python (the interpreter's reference), vectorized over
    arrays and returning the inputs' dtype as the compiled loop does."""
    namespace = {"math": math, "np": np, "njit": lambda **_: lambda fn: fn}
    for source in sources:
        exec(source, namespace)
    scalar = namespace[name]

    def impl(*xs: np.ndarray, **params: int) -> np.ndarray:
        def one(*values: float) -> float:
            return scalar(*values, *params.values())

        dtype = np.result_type(*xs)
        return np.asarray(np.vectorize(one, otypes=[np.float64])(*xs), dtype=dtype)

    return impl


def _cases(ranges: list[tuple[float, float]], extra: list[tuple]) -> Callable:
    def cases(rng: np.random.Generator) -> list[tuple[tuple, dict]]:
        drawn = [
            (tuple(rng.uniform(lo, hi, shape) for lo, hi in ranges), {})
            for shape in [(), (3,), (2, 3)]
        ]
        return drawn + [(tuple(np.array(v) for v in args), {}) for args in extra]

    return cases


def _gamma_density(a, x):
    """``x^(a-1) e^-x / Gamma(a)``, the derivative of ``gammainc`` in ``x``."""
    return np.exp(bind(xlogy_p, a - 1, x) - x - bind(gammaln_p, a))


def _beta_density(a, b, x):
    """``x^(a-1) (1-x)^(b-1) / B(a, b)``, the derivative of ``betainc`` in ``x``."""
    log_beta = bind(gammaln_p, a) + bind(gammaln_p, b) - bind(gammaln_p, a + b)
    return np.exp(bind(xlogy_p, a - 1, x) + bind(xlog1py_p, b - 1, -x) - log_beta)


_SHAPE_ONLY = "second derivatives of gammainc/betainc through a shape parameter a or b"

gammainc_da_p = register(
    Primitive(
        "gammainc_da",
        impl=_python("_gammainc_da", _DIGAMMA, _GAMMAINC_DA),
        abstract=same_spec,
        scalar="_gammainc_da({x}, {y})",
        cases=_cases([(0.5, 4.0), (0.2, 5.0)], [([0.7, 2.0, 3.5], [4.0, 9.0, 12.0])]),
        elementwise=True,
        tags={
            "helpers": {"_digamma": _DIGAMMA, "_gammainc_da": _GAMMAINC_DA},
            "first_order_only": _SHAPE_ONLY + " are not implemented",
        },
    )
)
betainc_grad_p = register(
    Primitive(
        "betainc_grad",
        impl=_python("_betainc_grad", _DIGAMMA, _BETAINC_GRAD),
        abstract=same_spec,
        scalar="_betainc_grad({cond}, {x}, {y}, {wrt})",
        cases=lambda rng: [
            ((rng.uniform(0.5, 4.0, s), rng.uniform(0.5, 4.0, s), rng.uniform(0.05, 0.95, s)), p)
            for s, p in [((), {"wrt": 0}), ((3,), {"wrt": 1}), ((2, 3), {"wrt": 0})]
        ],
        elementwise=True,
        tags={
            "helpers": {"_digamma": _DIGAMMA, "_betainc_grad": _BETAINC_GRAD},
            "first_order_only": _SHAPE_ONLY + " are not implemented",
        },
    )
)


def _gammainc_vjp(sign: float) -> Callable:
    def vjp(ct, a, x, *, out):
        return (ct * (sign * bind(gammainc_da_p, a, x)), ct * (sign * _gamma_density(a, x)))

    return vjp


def _gammainc_jvp(sign: float) -> Callable:
    def jvp(ts, a, x, *, out):
        ta, tx = ts
        da = None if ta is None else ta * (sign * bind(gammainc_da_p, a, x))
        dx = None if tx is None else tx * (sign * _gamma_density(a, x))
        return dx if da is None else da if dx is None else da + dx

    return jvp


_GAMMA_CASES = _cases([(0.5, 4.0), (0.2, 5.0)], [([0.7, 2.0, 3.5, 30.0], [4.0, 9.0, 1.5, 28.0])])
_GAMMA_TAGS = {"helpers": {"_gammainc": _GAMMAINC}, "max_reverse_order": 1}

gammainc_p = register(
    Primitive(
        "gammainc",
        impl=sc.gammainc,
        abstract=same_spec,
        vjp=_gammainc_vjp(1.0),
        jvp=_gammainc_jvp(1.0),
        scalar="_gammainc({x}, {y}, False)",
        cases=_GAMMA_CASES,
        elementwise=True,
        tags=dict(_GAMMA_TAGS),
    )
)
gammaincc_p = register(
    Primitive(
        "gammaincc",
        impl=sc.gammaincc,
        abstract=same_spec,
        vjp=_gammainc_vjp(-1.0),
        jvp=_gammainc_jvp(-1.0),
        scalar="_gammainc({x}, {y}, True)",
        cases=_GAMMA_CASES,
        elementwise=True,
        tags=dict(_GAMMA_TAGS),
    )
)


_BETAINC_PARTIALS = (
    lambda a, b, x: bind(betainc_grad_p, a, b, x, wrt=0),
    lambda a, b, x: bind(betainc_grad_p, a, b, x, wrt=1),
    _beta_density,
)


def _betainc_vjp(ct, a, b, x, *, out):
    return tuple(ct * d(a, b, x) for d in _BETAINC_PARTIALS)


def _betainc_jvp(ts, a, b, x, *, out):
    terms = [t * d(a, b, x) for t, d in zip(ts, _BETAINC_PARTIALS) if t is not None]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


betainc_p = register(
    Primitive(
        "betainc",
        impl=sc.betainc,
        abstract=same_spec,
        vjp=_betainc_vjp,
        jvp=_betainc_jvp,
        scalar="_betainc({cond}, {x}, {y})",
        cases=lambda rng: (
            [
                (
                    (
                        rng.uniform(0.5, 4.0, s),
                        rng.uniform(0.5, 4.0, s),
                        rng.uniform(0.05, 0.95, s),
                    ),
                    {},
                )
                for s in [(), (3,), (2, 3)]
            ]
            + [
                (
                    (
                        np.array([0.6, 20.0, 3.0]),
                        np.array([5.0, 2.5, 40.0]),
                        np.array([0.3, 0.9, 0.1]),
                    ),
                    {},
                )
            ]
        ),
        elementwise=True,
        tags={"helpers": {"_betainc": _BETAINC}, "max_reverse_order": 1},
    )
)
