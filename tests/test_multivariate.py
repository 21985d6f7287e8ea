"""``fnad.scipy.stats.multivariate_normal``: SciPy's argument forms (scalar, diagonal and
full covariances, one point or stacks of points, dimension 1), gradients in the point,
mean and covariance against finite differences of SciPy, ``vmap`` and ``jit`` against
SciPy, and the clear errors for what is not supported."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss

import fnad
import fnad.scipy.stats as fst
from fnad.numpy._methods import UnsupportedError

R = np.random.default_rng(0)
A = R.normal(size=(3, 3))
COV = A @ A.T + np.eye(3)
MEAN = R.normal(size=3)

FORMS = {
    "one point": (R.normal(size=3), MEAN, COV),
    "stack of points": (R.normal(size=(2, 4, 3)), MEAN, COV),
    "diagonal cov": (R.normal(size=(5, 3)), MEAN, np.array([0.5, 1.0, 2.0])),
    "scalar cov": (R.normal(size=(5, 3)), MEAN, np.array(1.7)),
    "dimension 1": (R.normal(size=5), np.array(0.3), np.array(2.0)),
    "one point, dimension 1": (np.array(0.4), np.array(0.3), np.array(2.0)),
}


def _fd(f, args, i, v, eps=1e-6):
    hi, lo = list(args), list(args)
    hi[i], lo[i] = args[i] + eps * v, args[i] - eps * v
    return (np.sum(f(*hi)) - np.sum(f(*lo))) / (2 * eps)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_values_and_gradients_match_scipy(form):
    args = FORMS[form]
    got = fnad.vjp(fst.multivariate_normal.logpdf, *args)[0]
    want = ss.multivariate_normal.logpdf(*args)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    grads = fnad.grad(lambda *a: np.sum(fst.multivariate_normal.logpdf(*a)), argnums=(0, 1, 2))(
        *args
    )
    for i, (g, a) in enumerate(zip(grads, args)):
        v = R.normal(size=np.shape(a))
        expected = _fd(ss.multivariate_normal.logpdf, args, i, v)
        np.testing.assert_allclose(np.sum(g * v), expected, rtol=1e-6, atol=1e-8)


def test_covariance_gradient_reads_the_lower_triangle():
    x = R.normal(size=3)
    g = fnad.grad(lambda c: fst.multivariate_normal.logpdf(x, MEAN, c))(COV)
    np.testing.assert_array_equal(np.triu(g, 1), 0.0)
    # d/d cov of the symmetric function, folded onto the lower triangle.
    inv = np.linalg.inv(COV)
    r = inv @ (x - MEAN)
    full = 0.5 * (np.outer(r, r) - inv)
    np.testing.assert_allclose(g, np.tril(2 * full) - np.diag(np.diag(full)), rtol=1e-10)


def test_jit_and_vmap_match_scipy():
    x = R.normal(size=(4, 3))
    means = R.normal(size=(2, 3))
    batched = fnad.jit(fnad.vmap(lambda m: fst.multivariate_normal.pdf(x, m, COV)))(means)
    want = np.stack([ss.multivariate_normal.pdf(x, m, COV) for m in means])
    np.testing.assert_allclose(batched, want, rtol=1e-12)


def test_unsupported_forms_raise_clearly():
    x = R.normal(size=3)
    with pytest.raises(UnsupportedError, match="allow_singular"):
        fnad.grad(lambda x: fst.multivariate_normal.logpdf(x, MEAN, COV, allow_singular=True))(x)
    with pytest.raises(UnsupportedError, match=r"multivariate_normal\.cdf .*numerical"):
        fnad.grad(lambda x: fst.multivariate_normal.cdf(x, MEAN, COV))(x)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 3\)"):
        fnad.grad(lambda x: np.sum(fst.multivariate_normal.logpdf(x, MEAN, COV)))(np.ones(4))
    with pytest.raises(ValueError, match=r"cov must be .* got shape \(2, 2\)"):
        fnad.grad(lambda m: fst.multivariate_normal.logpdf(x, m, np.eye(2)))(MEAN)
    # Untraced, every method is SciPy's (a randomized integral: equal to its tolerance).
    want = ss.multivariate_normal.cdf(x, MEAN, COV)
    np.testing.assert_allclose(fst.multivariate_normal.cdf(x, MEAN, COV), want, rtol=1e-3)
