"""Complex numbers: NEP 50 promotion, the gradient convention (the transpose under
Re(sum(a * b)), as in JAX and autograd), real-valued losses of complex intermediates
against finite differences, jvp, vmap, and compiled code against the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fd_check, traced

import fnad

RNG = np.random.default_rng(0)
Z = RNG.normal(size=4) + 1j * RNG.normal(size=4)
X = RNG.normal(size=4)
M = RNG.normal(size=(3, 4)) + 1j * RNG.normal(size=(3, 4))


def test_promotion_follows_nep50():
    x32 = np.ones(3, np.float32)
    assert traced(lambda x: x * 1j, x32).dtype == np.complex64
    assert traced(lambda x: x + np.ones(3, np.complex128), x32).dtype == np.complex128
    assert traced(lambda x: np.real(x * 1j), x32).dtype == np.float32
    assert traced(lambda x: np.abs(x * (1 + 1j)), x32).dtype == np.float32
    assert traced(lambda z: np.angle(z), Z.astype(np.complex64)).dtype == np.float32


def test_convention_modulus_squared_gives_twice_the_conjugate():
    np.testing.assert_allclose(fnad.grad(lambda z: np.sum(np.abs(z) ** 2))(Z), 2 * np.conj(Z))


def test_convention_real_part_of_holomorphic_gives_the_derivative():
    g = fnad.grad(lambda z: np.sum(np.real(np.exp(z) * z)))(Z)
    np.testing.assert_allclose(g, np.exp(Z) * (1 + Z))


def test_parts_values_equal_numpy():
    for f in (np.real, np.imag, np.conj, np.conjugate, np.angle, np.abs):
        np.testing.assert_allclose(traced(f, Z), f(Z))
        np.testing.assert_allclose(traced(f, X), f(X))
    np.testing.assert_allclose(traced(lambda z: np.angle(z, deg=True), Z), np.angle(Z, deg=True))


LOSSES = {
    "holomorphic": lambda z: np.sum(np.abs(np.sin(z) * np.exp(z) / (z + 3) + np.sqrt(z + 4))),
    "logs_powers": lambda z: np.sum(np.real(np.log(z) ** 3 + z**2.5 - 1 / z)),
    "parts": lambda z: np.sum(np.real(z) * np.imag(z) ** 2 + np.angle(z) + np.abs(np.conj(z))),
    "reductions": lambda z: np.abs(np.sum(z * z)) + np.real(np.mean(np.tanh(z))),
    "contraction": lambda m: np.sum(np.abs(m @ m.T.conj() @ np.conj(m)) ** 2),
    "einsum": lambda m: np.real(np.einsum("ij,kj,k->", m, np.conj(m), m[:, 0])),
    "real_to_complex": lambda x: np.sum(np.abs(np.exp(1j * x) + x * (2 - 1j)) ** 3),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_real_losses_of_complex_intermediates_match_finite_differences(name):
    f = LOSSES[name]
    arg = X if name == "real_to_complex" else (M if name in ("contraction", "einsum") else Z)
    fd_check(f, arg)


def test_jvp_with_complex_tangents_matches_finite_differences():
    def f(z):
        return np.abs(z) * np.exp(1j * np.angle(z) * 2) + np.conj(z) * z

    t = RNG.normal(size=4) + 1j * RNG.normal(size=4)
    _, jv = fnad.jvp(f, (Z,), (t,))
    eps = 1e-6
    np.testing.assert_allclose(jv, (f(Z + eps * t) - f(Z - eps * t)) / (2 * eps), rtol=1e-6)


def test_vmap_of_complex_functions_equals_loop():
    def f(z):
        return np.sum(np.abs(np.exp(z) * np.conj(z)) ** 2)

    per_example = fnad.vmap(fnad.grad(f))(M)
    np.testing.assert_allclose(per_example, np.stack([fnad.grad(f)(m) for m in M]))


def test_grad_of_complex_output_is_refused():
    with pytest.raises(TypeError, match="real floating-point scalar"):
        fnad.grad(lambda z: np.sum(z * z))(Z)


def test_compiled_complex_equals_interpreter():
    def loss(z, x):
        w = np.exp(z) * np.sin(z) + np.log(z) * np.sqrt(z) + np.tanh(z) / np.conj(z)
        return np.sum(np.abs(w + x * 1j) ** 2 + np.real(z) * np.imag(z) + np.angle(z))

    def both(z, x):
        return loss(z, x), fnad.grad(loss, argnums=(0, 1))(z, x)

    got, want = fnad.jit(both)(Z, X), both(Z, X)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    for g, w in zip(got[1], want[1]):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-10)


def test_compiled_complex_expm1_log1p_log2_equal_numpy_with_gradients():
    def f(z):
        return np.expm1(z), np.log1p(z), np.log2(z)

    def loss(z):
        return sum(np.sum(np.abs(out) ** 2) for out in f(z))

    z = np.concatenate([Z, [1e-9 + 2e-9j, -0.5 + 0.0j]])
    for dtype, tol in ((np.complex128, 1e-14), (np.complex64, 1e-6)):
        for got, want in zip(fnad.jit(f)(z.astype(dtype)), f(z.astype(dtype)), strict=True):
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(fnad.jit(fnad.grad(loss))(Z), fnad.grad(loss)(Z), rtol=1e-12)
    fd_check(loss, Z)


def test_complex_cbrt_is_refused_at_trace_time():
    with pytest.raises(TypeError, match=r"numpy\.cbrt does not take complex128"):
        fnad.make_graph(np.cbrt)(Z)
