"""``multivariate_normal``: the log-density of a Gaussian with a full covariance, through a
Cholesky factorization and a solve, differentiable in the point, the mean and the
covariance (``fnad.scipy.stats`` exposes it).

>>> import numpy as np, fnad
>>> from fnad.scipy.stats import multivariate_normal
>>> cov = np.array([[2.0, 0.5], [0.5, 1.0]])
>>> g = fnad.grad(lambda m: multivariate_normal.logpdf(np.zeros(2), m, cov))(np.ones(2))
>>> np.allclose(g, -np.linalg.solve(cov, np.ones(2)))
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats as ss

import fnad.numpy as fnp
from fnad.numpy._core import is_traced, shape_of
from fnad.numpy._methods import UnsupportedError

_LOG_2PI = math.log(2.0 * math.pi)


def _dimension(mean: Any, cov: Any) -> int:
    if mean is not None:
        return int(np.prod(shape_of(mean), dtype=int))
    shape = shape_of(cov)
    return 1 if not shape else shape[0]


def _parameters(mean: Any, cov: Any) -> tuple[int, Any, Any]:
    """``(d, mean (d,), cov (d, d))`` from SciPy's forms: ``mean`` None or a scalar or a
    vector; ``cov`` a scalar (times the identity), a vector (a diagonal) or a matrix."""
    d = _dimension(mean, cov)
    mean = fnp.zeros(d) if mean is None else fnp.reshape(fnp.asarray(mean), (d,))
    ndim = len(shape_of(cov))
    if ndim == 0:
        cov = fnp.multiply(cov, np.eye(d))
    elif ndim == 1:
        cov = fnp.diag(cov)
    if tuple(shape_of(cov)) != (d, d):
        raise ValueError(
            f"fnad: multivariate_normal: cov must be a scalar, a vector of {d} variances or "
            f"a ({d}, {d}) matrix for a mean of {d} entries, got shape {shape_of(cov)}"
        )
    return d, mean, cov


def _points(x: Any, d: int) -> Any:
    """``x`` as ``(..., d)``, as SciPy reads it (a vector is one point, or ``d == 1``
    points of dimension 1)."""
    x = fnp.asarray(x)
    if x.ndim == 0:
        return fnp.reshape(x, (1, 1) if d == 1 else (1,))
    if x.ndim == 1 and d == 1:
        return x[:, None]
    if x.shape[-1] != d:
        raise ValueError(
            f"fnad: multivariate_normal: x must have shape (..., {d}) for a mean of {d} "
            f"entries, got shape {x.shape}"
        )
    return x


def _not_singular(allow_singular: bool) -> None:
    if allow_singular:
        raise UnsupportedError(
            "fnad: multivariate_normal(allow_singular=True) is not supported on traced "
            "values (a singular covariance has no Cholesky factor); pass a positive "
            "definite cov"
        )


class _MultivariateNormal:
    """The Gaussian ``multivariate_normal(mean, cov)``: ``logpdf`` and ``pdf``."""

    def logpdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False):
        """SciPy's ``multivariate_normal.logpdf`` for points ``x`` of shape ``(..., d)``:
        ``-(d log 2 pi + log det cov + |L^-1 (x - mean)|^2) / 2`` with ``cov = L L^T``.
        As SciPy's, it reads the lower triangle of ``cov`` only."""
        if not is_traced(x, mean, cov):
            return ss.multivariate_normal.logpdf(x, mean, cov, allow_singular)
        _not_singular(allow_singular)
        d, mean, cov = _parameters(mean, cov)
        x = _points(x, d)
        lower = fnp.linalg.cholesky(cov)
        centered = fnp.reshape(fnp.subtract(x, mean), (-1, d))
        z = fnp.linalg.solve(lower, centered.T)
        distance = fnp.reshape(fnp.sum(z * z, axis=0), x.shape[:-1])
        log_det = 2.0 * fnp.sum(fnp.log(fnp.diagonal(lower)))
        return fnp.squeeze(-0.5 * (distance + (log_det + d * _LOG_2PI)))

    def pdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False):
        """SciPy's ``multivariate_normal.pdf``: ``exp(logpdf)``."""
        if not is_traced(x, mean, cov):
            return ss.multivariate_normal.pdf(x, mean, cov, allow_singular)
        return fnp.exp(self.logpdf(x, mean, cov, allow_singular))

    def cdf(self, x: Any, mean: Any = None, cov: Any = 1, **kwargs: Any):
        """Not supported on traced values: SciPy integrates it numerically."""
        return self._integral("cdf", x, mean, cov, kwargs)

    def logcdf(self, x: Any, mean: Any = None, cov: Any = 1, **kwargs: Any):
        """Not supported on traced values: SciPy integrates it numerically."""
        return self._integral("logcdf", x, mean, cov, kwargs)

    def _integral(self, name: str, x: Any, mean: Any, cov: Any, kwargs: dict) -> Any:
        if not is_traced(x, mean, cov):
            return getattr(ss.multivariate_normal, name)(x, mean, cov, **kwargs)
        raise UnsupportedError(
            f"fnad: multivariate_normal.{name} is not supported on traced values: SciPy "
            "computes it by randomized numerical integration, which has no gradient here. "
            "Compute it outside the traced function, or use the univariate "
            "fnad.scipy.stats.norm for independent coordinates."
        )


multivariate_normal = _MultivariateNormal()
