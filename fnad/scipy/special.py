"""``fnad.scipy.special``: SciPy's special functions on traced values.

Functions with a primitive (``gammaln``, ``digamma``, ``polygamma``, ``erf``, ``erfc``,
``erfinv``, ``expit``, ``log_ndtr``, ``xlogy``, ``xlog1py``, ``gammainc``, ``gammaincc``,
``betainc``) follow NumPy's promotion rules; the rest are compositions. On untraced inputs
every function is SciPy's own. The incomplete gamma and beta functions are differentiable
in every argument to first order; second derivatives only in ``x``.

>>> import fnad, fnad.scipy.special as fsp
>>> round(float(fnad.grad(fsp.gammaln)(3.0)), 6)  # digamma(3)
0.922784
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special as sc

from fnad.numpy import _core, _methods, _reductions
from fnad.numpy._core import elementwise, is_traced
from fnad.ops import incomplete as inc
from fnad.ops import special as sp


def _ufunc(prim: Any, sc_fn: Any):
    def fn(*args: Any) -> Any:
        return elementwise(prim, sc_fn, args)

    fn.__name__ = sc_fn.__name__
    fn.__doc__ = f"``scipy.special.{sc_fn.__name__}`` (traceable, differentiable)."
    return fn


gammaln = _ufunc(sp.gammaln_p, sc.gammaln)
digamma = psi = _ufunc(sp.digamma_p, sc.digamma)
erf = _ufunc(sp.erf_p, sc.erf)
erfc = _ufunc(sp.erfc_p, sc.erfc)
erfinv = _ufunc(sp.erfinv_p, sc.erfinv)
expit = _ufunc(sp.expit_p, sc.expit)
log_ndtr = _ufunc(sp.log_ndtr_p, sc.log_ndtr)
xlogy = _ufunc(sp.xlogy_p, sc.xlogy)
xlog1py = _ufunc(sp.xlog1py_p, sc.xlog1py)
gammainc = _ufunc(inc.gammainc_p, sc.gammainc)
gammaincc = _ufunc(inc.gammaincc_p, sc.gammaincc)
betainc = _ufunc(inc.betainc_p, sc.betainc)

_SQRT2 = math.sqrt(2.0)


def polygamma(n: Any, x: Any) -> Any:
    """``scipy.special.polygamma`` for a Python int order ``n`` (``n = 0`` is digamma)."""
    if not is_traced(x):
        return sc.polygamma(n, x)
    if is_traced(n) or np.ndim(n) or int(n) != n or n < 0:
        raise TypeError(f"fnad: polygamma needs a non-negative int order n, got {n!r}")
    x = _core.asfloat(x, np.result_type(x.dtype, np.float16))
    return sp.polygamma(int(n), x)


def logit(p: Any) -> Any:
    """``log(p / (1 - p))``."""
    return (
        _core.subtract(_core.log(p), _core.log1p(_core.negative(p)))
        if is_traced(p)
        else sc.logit(p)
    )


def ndtr(x: Any) -> Any:
    """The standard normal CDF."""
    return _core.multiply(0.5, erfc(_core.divide(x, -_SQRT2))) if is_traced(x) else sc.ndtr(x)


def ndtri(p: Any) -> Any:
    """The standard normal quantile, ``sqrt(2) erfinv(2p - 1)``."""
    if not is_traced(p):
        return sc.ndtri(p)
    return _core.multiply(_SQRT2, erfinv(_core.subtract(_core.multiply(2.0, p), 1.0)))


def betaln(a: Any, b: Any) -> Any:
    """``log |B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``."""
    if not is_traced(a, b):
        return sc.betaln(a, b)
    return _core.subtract(_core.add(gammaln(a), gammaln(b)), gammaln(_core.add(a, b)))


def logsumexp(
    a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False
) -> Any:
    """``log(sum(b * exp(a)))`` along ``axis``, shifted by the maximum against overflow."""
    if not is_traced(a, b):
        return sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    a = _core.asfloat(a, np.result_type(_core.result_type(a), np.float16))
    top = _reductions.max(a, axis=axis, keepdims=True)
    top = _core.where(_core.isfinite(top), top, 0.0)
    terms = _core.exp(_core.subtract(a, top))
    if b is not None:
        terms = _core.multiply(terms, b)
    total = _reductions.sum(terms, axis=axis, keepdims=keepdims)
    shift = top if keepdims else _squeeze(top, axis)
    out = _core.add(_core.log(_core.abs(total) if return_sign else total), shift)
    return (out, _core.sign(total)) if return_sign else out


def _squeeze(x: Any, axis: Any) -> Any:
    from fnad.numpy._shape import normalize_axes, squeeze

    return squeeze(x, normalize_axes(axis, x.ndim))


def softmax(x: Any, axis: Any = None) -> Any:
    """``exp(x - logsumexp(x, axis))``."""
    if not is_traced(x):
        return sc.softmax(x, axis=axis)
    return _core.exp(log_softmax(x, axis))


def log_softmax(x: Any, axis: Any = None) -> Any:
    """``x - logsumexp(x, axis)``."""
    if not is_traced(x):
        return sc.log_softmax(x, axis=axis)
    return _core.subtract(x, logsumexp(x, axis=axis, keepdims=True))


def entr(x: Any) -> Any:
    """``-x log x`` for ``x >= 0`` (0 at 0), ``-inf`` below."""
    if not is_traced(x):
        return sc.entr(x)
    safe = _core.where(_core.less(x, 0), 1.0, x)
    return _core.where(_core.less(x, 0), -np.inf, _core.negative(xlogy(safe, safe)))


# SciPy's special functions are ufuncs: route them from NumPy's protocol to these.
_methods._UFUNCS.update(
    {
        sc.gammaln: gammaln,
        sc.psi: digamma,
        sc.erf: erf,
        sc.erfc: erfc,
        sc.erfinv: erfinv,
        sc.expit: expit,
        sc.logit: logit,
        sc.log_ndtr: log_ndtr,
        sc.ndtr: ndtr,
        sc.ndtri: ndtri,
        sc.xlogy: xlogy,
        sc.xlog1py: xlog1py,
        sc.gammainc: gammainc,
        sc.gammaincc: gammaincc,
        sc.betainc: betainc,
        sc.betaln: betaln,
        sc.entr: entr,
    }
)
