"""``fnad.scipy.stats``: log-densities and distribution functions with gradients in every
argument (the point, ``loc``, ``scale`` and the shape parameters).

``norm`` (``logpdf pdf cdf logcdf sf logsf ppf``), ``t``, ``gamma``, ``beta``
(``logpdf pdf``) and ``poisson`` (``logpmf pmf``). Outside the support a log-density is
``-inf`` with a zero gradient (arguments are made safe before the logarithms, so no NaN
leaks into gradients). On untraced inputs each function is SciPy's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats as ss

from fnad.numpy import _core as fn
from fnad.numpy._core import is_traced
from fnad.scipy import special as fsp

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _standard(x: Any, loc: Any, scale: Any) -> Any:
    return fn.divide(fn.subtract(x, loc), scale)


def _inside(cond: Any, x: Any, value: Any) -> tuple[Any, Any]:
    """``x`` where ``cond``, else a safe 0.5 (so logs stay finite): ``(safe, wrap)`` where
    ``wrap(v)`` is ``v`` inside the support and ``value`` outside."""
    safe = fn.where(cond, x, 0.5)
    return safe, lambda v: fn.where(cond, v, value)


class _Norm:
    """The normal distribution ``norm(loc, scale)``."""

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, loc, scale):
            return ss.norm.logpdf(x, loc, scale)
        z = _standard(x, loc, scale)
        return fn.subtract(fn.multiply(-0.5, fn.square(z)), fn.add(fn.log(scale), _LOG_SQRT_2PI))

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        return (
            fn.exp(self.logpdf(x, loc, scale))
            if is_traced(x, loc, scale)
            else ss.norm.pdf(x, loc, scale)
        )

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, loc, scale):
            return ss.norm.cdf(x, loc, scale)
        return fsp.ndtr(_standard(x, loc, scale))

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, loc, scale):
            return ss.norm.logcdf(x, loc, scale)
        return fsp.log_ndtr(_standard(x, loc, scale))

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, loc, scale):
            return ss.norm.sf(x, loc, scale)
        return fsp.ndtr(fn.negative(_standard(x, loc, scale)))

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, loc, scale):
            return ss.norm.logsf(x, loc, scale)
        return fsp.log_ndtr(fn.negative(_standard(x, loc, scale)))

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(q, loc, scale):
            return ss.norm.ppf(q, loc, scale)
        return fn.add(loc, fn.multiply(scale, fsp.ndtri(q)))


class _T:
    """Student's t distribution ``t(df, loc, scale)``."""

    def logpdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, df, loc, scale):
            return ss.t.logpdf(x, df, loc, scale)
        z = _standard(x, loc, scale)
        half = fn.multiply(fn.add(df, 1.0), 0.5)
        norm = fn.subtract(fsp.gammaln(half), fsp.gammaln(fn.multiply(df, 0.5)))
        norm = fn.subtract(norm, fn.multiply(0.5, fn.log(fn.multiply(df, math.pi))))
        tail = fn.multiply(half, fn.log1p(fn.divide(fn.square(z), df)))
        return fn.subtract(fn.subtract(norm, fn.log(scale)), tail)

    def pdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, df, loc, scale):
            return ss.t.pdf(x, df, loc, scale)
        return fn.exp(self.logpdf(x, df, loc, scale))


class _Gamma:
    """The gamma distribution ``gamma(a, loc, scale)``."""

    def logpdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, a, loc, scale):
            return ss.gamma.logpdf(x, a, loc, scale)
        y = _standard(x, loc, scale)
        y, wrap = _inside(fn.greater_equal(y, 0), y, -np.inf)
        body = fn.subtract(fsp.xlogy(fn.subtract(a, 1.0), y), y)
        return wrap(fn.subtract(body, fn.add(fsp.gammaln(a), fn.log(scale))))

    def pdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, a, loc, scale):
            return ss.gamma.pdf(x, a, loc, scale)
        return fn.exp(self.logpdf(x, a, loc, scale))


class _Beta:
    """The beta distribution ``beta(a, b, loc, scale)``."""

    def logpdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, a, b, loc, scale):
            return ss.beta.logpdf(x, a, b, loc, scale)
        y = _standard(x, loc, scale)
        y, wrap = _inside(fn.greater_equal(y, 0) & fn.less_equal(y, 1), y, -np.inf)
        body = fn.add(
            fsp.xlogy(fn.subtract(a, 1.0), y), fsp.xlog1py(fn.subtract(b, 1.0), fn.negative(y))
        )
        return wrap(fn.subtract(body, fn.add(fsp.betaln(a, b), fn.log(scale))))

    def pdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        if not is_traced(x, a, b, loc, scale):
            return ss.beta.pdf(x, a, b, loc, scale)
        return fn.exp(self.logpdf(x, a, b, loc, scale))


class _Poisson:
    """The Poisson distribution ``poisson(mu, loc)``; differentiable in ``mu``."""

    def logpmf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        if not is_traced(k, mu, loc):
            return ss.poisson.logpmf(k, mu, loc)
        k = fn.subtract(k, loc)
        valid = fn.greater_equal(k, 0) & fn.equal(fn.floor(k), k)
        k, wrap = _inside(valid, k, -np.inf)
        return wrap(fn.subtract(fn.subtract(fsp.xlogy(k, mu), mu), fsp.gammaln(fn.add(k, 1.0))))

    def pmf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        if not is_traced(k, mu, loc):
            return ss.poisson.pmf(k, mu, loc)
        return fn.exp(self.logpmf(k, mu, loc))


norm = _Norm()
t = _T()
gamma = _Gamma()
beta = _Beta()
poisson = _Poisson()
