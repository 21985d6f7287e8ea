"""``fnad.scipy.stats``: log-densities and distribution functions with gradients in every
argument (the point, ``loc``, ``scale`` and the shape parameters).

``norm`` (``logpdf pdf cdf logcdf sf logsf ppf``), ``t``, ``gamma``, ``beta``
(``logpdf pdf cdf logcdf sf logsf``) and ``poisson`` (``logpmf pmf cdf logcdf sf logsf``).
Outside the support a log-density is ``-inf`` with a zero gradient (arguments are made
safe before the logarithms, so no NaN leaks into gradients). The distribution functions of
``t``, ``gamma``, ``beta`` and ``poisson`` are the incomplete gamma and beta functions, so
their shape parameters have first derivatives only. ``multivariate_normal`` (``logpdf
pdf``; its ``cdf`` is a numerical integral in SciPy and is not supported on traced values)
is in ``fnad.scipy._multivariate``. On untraced inputs each function is SciPy's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats as ss

from fnad.numpy import _core as fn
from fnad.numpy._core import is_traced
from fnad.scipy import _multivariate
from fnad.scipy import special as fsp

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _standard(x: Any, loc: Any, scale: Any) -> Any:
    return fn.divide(fn.subtract(x, loc), scale)


def _log_both(low: Any, cdf: Any, sf: Any) -> Any:
    """``log(cdf)`` accurately in both tails: ``log(cdf)`` where ``low`` (the lower tail,
    where ``cdf`` is small), else ``log1p(-sf)``. The branch not taken gets a safe
    argument, so its infinite slope cannot turn the gradient into NaN."""
    cdf, sf = fn.where(low, cdf, 1.0), fn.where(low, 0.0, sf)
    return fn.where(low, fn.log(cdf), fn.log1p(fn.negative(sf)))


def _inside(cond: Any, x: Any, value: Any) -> tuple[Any, Any]:
    """``x`` where ``cond``, else a safe 0.5 (so logs stay finite): ``(safe, wrap)`` where
    ``wrap(v)`` is ``v`` inside the support and ``value`` outside."""
    safe = fn.where(cond, x, 0.5)
    return safe, lambda v: fn.where(cond, v, value)


class _Tails:
    """``cdf``, ``logcdf``, ``sf`` and ``logsf`` of a distribution from its ``_tails(x,
    *params) -> (cdf, sf, lower)`` (``lower``: where the lower tail is the small one),
    with SciPy's ``_scipy`` distribution on untraced inputs. The parameters, and their
    defaults, are those of ``_tails``."""

    _scipy: Any

    def _untraced(self, x: Any, args: tuple, kwargs: dict) -> bool:
        return not is_traced(x, *args, *kwargs.values())

    def cdf(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self._untraced(x, args, kwargs):
            return self._scipy.cdf(x, *args, **kwargs)
        return self._tails(x, *args, **kwargs)[0]

    def logcdf(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self._untraced(x, args, kwargs):
            return self._scipy.logcdf(x, *args, **kwargs)
        cdf, sf, lower = self._tails(x, *args, **kwargs)
        return _log_both(lower, cdf, sf)

    def sf(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self._untraced(x, args, kwargs):
            return self._scipy.sf(x, *args, **kwargs)
        return self._tails(x, *args, **kwargs)[1]

    def logsf(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self._untraced(x, args, kwargs):
            return self._scipy.logsf(x, *args, **kwargs)
        cdf, sf, lower = self._tails(x, *args, **kwargs)
        return _log_both(fn.logical_not(lower), sf, cdf)


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


class _T(_Tails):
    """Student's t distribution ``t(df, loc, scale)``."""

    _scipy = ss.t

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

    def _tails(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> tuple[Any, Any, Any]:
        """``(cdf, sf, x < loc)``. The upper tail ``P(T > |t|)`` is
        ``I_{df/(df+t^2)}(df/2, 1/2) / 2`` for ``|t| >= 1`` and
        ``1/2 - I_{t^2/(df+t^2)}(1/2, df/2) / 2`` below, where that difference keeps at
        least 0.3 (no cancellation) and ``1 - x`` is not rounded away. Each branch gets a
        safe argument where it is not used. At ``t = 0`` the slope of the second is
        ``inf * 0``, so there ``cdf`` is ``1/2 + t pdf(0)``: the same value with the
        exact derivatives."""
        z = _standard(x, loc, scale)
        zero = fn.equal(z, 0)
        z = fn.where(zero, 1.0, z)
        square = fn.square(z)
        near_side = fn.less(square, 1.0)
        half = fn.multiply(df, 0.5)
        far_square = fn.where(near_side, 1.0, square)
        near_square = fn.where(near_side, square, 0.5)
        far = fsp.betainc(half, 0.5, fn.divide(df, fn.add(df, far_square)))
        near = fsp.betainc(0.5, half, fn.divide(near_square, fn.add(df, near_square)))
        upper = fn.multiply(0.5, fn.where(near_side, fn.subtract(1.0, near), far))
        at_zero = fn.multiply(fn.subtract(x, loc), self.pdf(loc, df, loc, scale))
        negative = fn.less(z, 0)
        cdf = fn.where(negative, upper, fn.subtract(1.0, upper))
        sf = fn.where(negative, fn.subtract(1.0, upper), upper)
        return (
            fn.where(zero, fn.add(0.5, at_zero), cdf),
            fn.where(zero, fn.subtract(0.5, at_zero), sf),
            fn.less(x, loc),
        )


class _Gamma(_Tails):
    """The gamma distribution ``gamma(a, loc, scale)``."""

    _scipy = ss.gamma

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

    def _tails(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> tuple[Any, Any, Any]:
        """``(cdf, sf, lower)``; ``lower`` marks the points below the mean ``a``."""
        y = _standard(x, loc, scale)
        inside = fn.greater(y, 0)
        y = fn.where(inside, y, 1.0)
        cdf = fn.where(inside, fsp.gammainc(a, y), 0.0)
        return cdf, fn.where(inside, fsp.gammaincc(a, y), 1.0), fn.less(y, a)


class _Beta(_Tails):
    """The beta distribution ``beta(a, b, loc, scale)``."""

    _scipy = ss.beta

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

    def _tails(
        self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0
    ) -> tuple[Any, Any, Any]:
        """``(cdf, sf, lower)``: ``sf`` is ``I_{1-y}(b, a)``, accurate in the upper tail."""
        y = _standard(x, loc, scale)
        inside = fn.greater(y, 0) & fn.less(y, 1)
        above = fn.greater_equal(y, 1)
        y = fn.where(inside, y, 0.5)
        cdf = fn.where(inside, fsp.betainc(a, b, y), fn.where(above, 1.0, 0.0))
        sf = fn.where(inside, fsp.betainc(b, a, fn.subtract(1.0, y)), fn.where(above, 0.0, 1.0))
        return cdf, sf, fn.less(fn.multiply(y, fn.add(a, b)), a)


class _Poisson(_Tails):
    """The Poisson distribution ``poisson(mu, loc)``; differentiable in ``mu``."""

    _scipy = ss.poisson

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

    def _tails(self, k: Any, mu: Any, loc: Any = 0) -> tuple[Any, Any, Any]:
        """``(cdf, sf, lower)``: ``cdf = gammaincc(floor(k) + 1, mu)``, ``sf = gammainc``."""
        k = fn.floor(fn.subtract(k, loc))
        inside = fn.greater_equal(k, 0)
        shape = fn.add(fn.where(inside, k, 0.0), 1.0)
        cdf = fn.where(inside, fsp.gammaincc(shape, mu), 0.0)
        return cdf, fn.where(inside, fsp.gammainc(shape, mu), 1.0), fn.less(k, mu)


norm = _Norm()
t = _T()
gamma = _Gamma()
beta = _Beta()
poisson = _Poisson()
multivariate_normal = _multivariate.multivariate_normal
