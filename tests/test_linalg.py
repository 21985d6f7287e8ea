"""fnad.numpy.linalg: values equal NumPy's (single matrices and stacks), gradients of
real-valued losses equal central finite differences, every norm order, errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fd_check, traced

import fnad
import fnad.numpy as fnp

RNG = np.random.default_rng(0)


def spd(*shape):
    x = RNG.normal(size=shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def well(*shape):
    return RNG.normal(size=shape) + 3 * np.eye(shape[-1])


W = RNG.normal(size=(3, 3))

CASES = {
    "inv": (lambda a: np.linalg.inv(a), [well(3, 3)]),
    "inv_stack": (lambda a: np.linalg.inv(a), [well(2, 3, 3)]),
    "det": (lambda a: np.linalg.det(a), [well(3, 3)]),
    "det_stack": (lambda a: np.linalg.det(a), [well(2, 2, 3, 3)]),
    "slogdet": (lambda a: np.linalg.slogdet(a)[1], [well(3, 3) - 6 * np.eye(3)]),
    "solve_vec": (lambda a, b: np.linalg.solve(a, b), [well(3, 3), RNG.normal(size=3)]),
    "solve_mat": (lambda a, b: np.linalg.solve(a, b), [well(2, 3, 3), RNG.normal(size=(2, 3, 2))]),
    "solve_bcast": (lambda a, b: np.linalg.solve(a, b), [well(3, 3), RNG.normal(size=(4, 3, 1))]),
    "cholesky": (lambda a: np.linalg.cholesky(a), [spd(3, 3)]),
    "cholesky_upper": (lambda a: np.linalg.cholesky(a, upper=True), [spd(2, 3, 3)]),
    "eigh_w": (lambda a: np.linalg.eigh(a)[0], [spd(4, 4)]),
    "eigh_v": (lambda a: np.abs(np.linalg.eigh(a)[1]), [spd(3, 3)]),
    "eigvalsh_U": (lambda a: np.linalg.eigvalsh(a, "U"), [spd(2, 3, 3)]),
    "svd_s": (lambda a: np.linalg.svd(a, compute_uv=False), [RNG.normal(size=(4, 3))]),
    "svd_u": (
        lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[0]),
        [RNG.normal(size=(4, 3))],
    ),
    "svd_vh": (lambda a: np.abs(np.linalg.svd(a)[2]), [RNG.normal(size=(2, 3, 3))]),
    "qr_r": (lambda a: np.linalg.qr(a, mode="r"), [RNG.normal(size=(4, 3))]),
    "qr_q": (lambda a: np.linalg.qr(a)[0], [RNG.normal(size=(2, 3, 3))]),
    "pinv": (lambda a: np.linalg.pinv(a), [RNG.normal(size=(4, 3))]),
    "pinv_stack": (lambda a: np.linalg.pinv(a), [RNG.normal(size=(2, 3, 5))]),
    "matrix_power_3": (lambda a: np.linalg.matrix_power(a, 3), [RNG.normal(size=(3, 3))]),
    "matrix_power_-2": (lambda a: np.linalg.matrix_power(a, -2), [well(2, 3, 3)]),
    "matrix_power_0": (lambda a: np.linalg.matrix_power(a, 0), [RNG.normal(size=(3, 3))]),
    "complex_solve": (
        lambda a, b: np.linalg.solve(a, b),
        [well(3, 3) + 1j * RNG.normal(size=(3, 3)), RNG.normal(size=3) + 1j],
    ),
    "complex_det": (lambda a: np.linalg.det(a), [well(3, 3) + 1j * RNG.normal(size=(3, 3))]),
    "multi_dot": (
        lambda a, b, c: np.linalg.multi_dot([a, b, c]),
        [RNG.normal(size=3), RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))],
    ),
    "trace_diagonal": (
        lambda a: np.linalg.trace(a) + np.sum(np.linalg.diagonal(a), axis=-1),
        [RNG.normal(size=(2, 3, 4))],
    ),
    "vecdot_outer": (
        lambda a, b: np.linalg.outer(np.linalg.vecdot(a, b), a[0]),
        [RNG.normal(size=(2, 3)) + 1j, RNG.normal(size=(2, 3)) - 2j],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_equal_numpy(name):
    f, args = CASES[name]
    np.testing.assert_allclose(traced(f, *args), f(*args), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    f, args = CASES[name]
    w = RNG.normal(size=np.shape(f(*args)))
    fd_check(lambda *xs: np.real(np.sum(f(*xs) * w)), *args)


VECTOR_ORDS = [None, 2, 1, 3, 0.5, np.inf, -np.inf, -1]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS + [0])
def test_vector_norms(ord):
    x = RNG.normal(size=(3, 5))
    for axis, keepdims in [(1, False), (0, True), (-1, True)]:
        want = np.linalg.norm(x, ord, axis, keepdims)
        got = traced(lambda x, axis=axis, keep=keepdims: np.linalg.norm(x, ord, axis, keep), x)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    if ord != 0:
        fd_check(lambda x: np.sum(np.linalg.norm(x, ord, axis=1)), x)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norms(ord):
    x = RNG.normal(size=(2, 4, 3))
    for axis, keepdims in [((1, 2), False), ((2, 1), True), ((-1, 0), False)]:
        want = np.linalg.norm(x, ord, axis, keepdims)
        got = traced(lambda x, axis=axis, keep=keepdims: np.linalg.norm(x, ord, axis, keep), x)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    fd_check(lambda x: np.sum(np.linalg.norm(x, ord, axis=(1, 2))), x)


def test_norm_defaults_and_complex():
    z = RNG.normal(size=(3, 3)) + 1j * RNG.normal(size=(3, 3))
    for f in [
        lambda z: np.linalg.norm(z),
        lambda z: np.linalg.norm(z, 1),
        lambda z: np.linalg.norm(z[0]),
        lambda z: fnp.linalg.vector_norm(z, ord=3),
        lambda z: fnp.linalg.matrix_norm(z, ord="fro"),
    ]:
        np.testing.assert_allclose(traced(f, z), f(z), rtol=1e-12)
        fd_check(f, z)


def test_solve_with_a_constant_matrix_and_a_traced_right_hand_side():
    a = spd(3, 3)
    b = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(traced(lambda b: np.linalg.solve(a, b), b), np.linalg.solve(a, b))
    fd_check(lambda b: np.sum(np.linalg.solve(a, b) ** 2), b)


def test_second_order_through_linalg():
    a = spd(3, 3)

    def f(a):
        return np.linalg.slogdet(a)[1] + np.sum(np.linalg.cholesky(a))

    h = fnad.hessian(f)(a)
    eps = 1e-5
    e = np.zeros_like(a)
    e[1, 0] = 1.0
    g = fnad.grad(f)
    expected = (g(a + eps * e) - g(a - eps * e)) / (2 * eps)
    np.testing.assert_allclose(h[:, :, 1, 0], expected, rtol=1e-5, atol=1e-7)


def test_vmap_of_linalg_equals_loop():
    a = well(4, 3, 3)
    b = RNG.normal(size=(4, 3))

    def f(a, b):
        return np.linalg.solve(a, b) + np.linalg.eigh(a @ a.T)[0] + np.linalg.det(a)

    got = fnad.vmap(f)(a, b)
    np.testing.assert_allclose(got, np.stack([f(a[i], b[i]) for i in range(4)]), rtol=1e-10)


def test_errors_name_the_problem():
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        fnad.grad(lambda a: np.linalg.det(a))(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        fnad.grad(lambda a: np.sum(np.linalg.svd(a)[0]))(np.ones((3, 2)))
    with pytest.raises(TypeError, match="real floating-point"):
        fnad.grad(lambda z: np.real(np.sum(np.linalg.cholesky(z))))(np.eye(2) + 0j)
    with pytest.raises(NotImplementedError, match="wide"):
        fnad.grad(lambda a: np.sum(np.linalg.qr(a)[1]))(RNG.normal(size=(2, 3)))


def test_compiled_linalg_equals_interpreter():
    """Every linalg primitive and its gradient in one compiled function."""
    a, s, t = well(2, 3, 3), spd(3, 3), RNG.normal(size=(4, 3))

    def loss(a, s, t):
        return (
            np.sum(np.linalg.solve(a, t[:3]) ** 2)
            + np.sum(np.linalg.slogdet(a)[1])
            + np.sum(np.linalg.cholesky(s) * W)
            + np.sum(np.linalg.eigh(s)[0] * W[0])
            + np.sum(np.linalg.svd(t, compute_uv=False))
            + np.sum(np.abs(np.linalg.qr(t)[1]))
        )

    def both(a, s, t):
        return loss(a, s, t), fnad.grad(loss, argnums=(0, 1, 2))(a, s, t)

    got = fnad.jit(both)(a, s, t)
    want = both(a, s, t)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11)
