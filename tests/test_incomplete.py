"""The incomplete gamma and beta functions: compiled values against SciPy over a sweep of
shapes and points (both branches of each helper, edge values), gradients in ``x`` against
the densities, gradients in ``a`` and ``b`` against finite differences of SciPy, second
derivatives in ``x``, and the clear error for second derivatives in a shape parameter."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as ss

import fnad
import fnad.scipy.special as fsp

R = np.random.default_rng(0)
N = 400
# Shapes from 0.05 to 200 on a log scale, points from a / 20 to 20 a: both helper branches.
A = np.exp(R.uniform(np.log(0.05), np.log(200.0), N))
X = A * np.exp(R.uniform(-3.0, 3.0, N))
B = np.exp(R.uniform(np.log(0.05), np.log(200.0), N))
U = np.concatenate([R.beta(A[: N // 2], B[: N // 2]), R.uniform(0.0, 1.0, N - N // 2)])
U = np.clip(U, 1e-6, 1 - 1e-6)


def _all(a, x, b, u):
    """Values and every first derivative, from one function (one compile)."""

    def total(a, x, b, u):
        return np.sum(fsp.gammainc(a, x) + fsp.gammaincc(a, x) * 2.0 + fsp.betainc(a, b, u))

    values = (fsp.gammainc(a, x), fsp.gammaincc(a, x), fsp.betainc(a, b, u))
    return values, fnad.grad(total, argnums=(0, 1, 2, 3))(a, x, b, u)


@pytest.fixture(scope="module")
def compiled():
    return fnad.jit(_all)(A, X, B, U)


def test_compiled_values_match_scipy(compiled):
    (p, q, i), _ = compiled
    np.testing.assert_allclose(p, sc.gammainc(A, X), rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(q, sc.gammaincc(A, X), rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(i, sc.betainc(A, B, U), rtol=1e-10, atol=1e-300)


def test_compiled_gradients_in_x_are_the_densities(compiled):
    _, (_, gx, _, gu) = compiled
    np.testing.assert_allclose(gx, -ss.gamma.pdf(X, A), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(gu, ss.beta.pdf(U, A, B), rtol=1e-9, atol=1e-300)


def _fd(f, x, rel=1e-5):
    h = rel * x
    return (f(x + h) - f(x - h)) / (2 * h)


def test_compiled_gradients_in_shapes_match_finite_differences(compiled):
    _, (ga, _, gb, _) = compiled
    fd_a = _fd(lambda a: sc.gammainc(a, X) + 2 * sc.gammaincc(a, X) + sc.betainc(a, B, U), A)
    fd_b = _fd(lambda b: sc.betainc(A, b, U), B)
    # NOTE: finite differences of SciPy carry ~1e-11 / (1e-5 a) of rounding noise.
    np.testing.assert_allclose(ga, fd_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, fd_b, rtol=1e-5, atol=1e-6)


def test_interpreter_equals_compiled(compiled):
    idx = slice(0, 40)
    (p, q, i), grads = _all(A[idx], X[idx], B[idx], U[idx])
    (cp, cq, ci), cgrads = compiled
    for got, want in zip((p, q, i, *grads), (cp, cq, ci, *cgrads)):
        np.testing.assert_allclose(got, want[idx], rtol=1e-9, atol=1e-300)


def test_edge_values_compiled_match_scipy():
    a = np.array([0.0, 0.0, 1.0, -1.0, 1.0, 2.0, np.nan, 3.0])
    x = np.array([1.0, 0.0, 0.0, 1.0, -1.0, np.inf, 1.0, 1e-300])
    b = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 2.0, 1.0, 3.0])
    u = np.array([0.5, 0.5, 0.5, 0.5, 1.5, 1.0, 0.5, 0.0])
    p, q, i = fnad.jit(lambda a, x, b, u: _all(a, x, b, u)[0])(a, x, b, u)
    np.testing.assert_array_equal(p, sc.gammainc(a, x))
    np.testing.assert_array_equal(q, sc.gammaincc(a, x))
    np.testing.assert_array_equal(i, sc.betainc(a, b, u))


def test_second_derivative_in_x():
    a, x = np.array([0.8, 2.5, 6.0]), np.array([0.5, 3.0, 9.0])

    def slope(x):
        return fnad.grad(lambda x: np.sum(fsp.gammainc(a, x)))(x)

    curvature = fnad.grad(lambda x: np.sum(slope(x)))(x)
    np.testing.assert_allclose(curvature, _fd(lambda x: ss.gamma.pdf(x, a), x), rtol=1e-6)


def test_second_derivative_in_a_raises_clearly():
    def slope(a):
        return fnad.grad(lambda a: np.sum(fsp.betainc(a, 2.0, 0.3)))(a)

    with pytest.raises(NotImplementedError, match="betainc_grad.*shape parameter"):
        fnad.grad(lambda a: np.sum(slope(a)))(np.array([1.5]))


def test_scipy_ufuncs_on_tracers_are_routed():
    got = fnad.grad(lambda x: np.sum(sc.gammaincc(2.0, x) + sc.betainc(2.0, 3.0, x / 4)))(
        np.array([0.5, 2.0])
    )
    want = -ss.gamma.pdf([0.5, 2.0], 2.0) + ss.beta.pdf([0.125, 0.5], 2.0, 3.0) / 4
    np.testing.assert_allclose(got, want, rtol=1e-12)
