"""fnad.numpy.fft: values and dtypes equal NumPy's for every transform, size and norm;
gradients of real-valued losses through complex spectra equal finite differences; vmap
equals a loop; compiled transforms (radix-2 and Bluestein sizes) equal the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fd_check, traced

import fnad

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6))
Z = X + 1j * RNG.normal(size=(3, 6))

TRANSFORMS = {
    "fft": (lambda z: np.fft.fft(z), Z),
    "fft_n_crop_ortho": (lambda z: np.fft.fft(z, 4, axis=0, norm="ortho"), Z),
    "fft_real_input": (lambda x: np.fft.fft(x, 8), X),
    "ifft_pad_forward": (lambda z: np.fft.ifft(z, 9, norm="forward"), Z),
    "ifft": (lambda z: np.fft.ifft(z, axis=0), Z),
    "rfft": (lambda x: np.fft.rfft(x), X),
    "rfft_n_axis0": (lambda x: np.fft.rfft(x, 7, axis=0, norm="ortho"), X),
    "irfft": (lambda z: np.fft.irfft(z), Z),
    "irfft_odd_n": (lambda z: np.fft.irfft(z, 5, norm="ortho"), Z),
    "irfft_pad": (lambda z: np.fft.irfft(z, 15, axis=0, norm="forward"), Z),
    "fft2": (lambda z: np.fft.fft2(z), Z),
    "ifft2_s": (lambda z: np.fft.ifft2(z, s=(2, 8)), Z),
    "fftn": (lambda x: np.fft.fftn(x[None] * np.ones((2, 1, 1))), X),
    "ifftn_axes": (lambda z: np.fft.ifftn(z, axes=(1,)), Z),
    "fftshift": (lambda z: np.fft.fftshift(np.fft.fft(z)), Z),
    "ifftshift": (lambda x: np.fft.ifftshift(x, axes=1), X),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_values_and_dtypes_equal_numpy(name):
    f, a = TRANSFORMS[name]
    got, want = traced(f, a), f(a)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_gradient_of_real_loss_matches_finite_differences(name):
    f, a = TRANSFORMS[name]
    w = RNG.normal(size=np.shape(f(a))) + 1j * RNG.normal(size=np.shape(f(a)))
    fd_check(lambda a: np.sum(np.abs(f(a) * w) ** 2) + np.sum(np.real(f(a) * w)), a)


def test_single_precision_stays_single():
    x = X.astype(np.float32)
    assert traced(lambda x: np.fft.rfft(x), x).dtype == np.complex64
    assert traced(lambda x: np.fft.irfft(np.fft.rfft(x)), x).dtype == np.float32
    g = fnad.grad(lambda x: np.sum(np.abs(np.fft.fft(x))))(x)
    assert g.dtype == np.float32


def test_second_order_power_spectrum():
    """d^2/dx^2 of sum |rfft(x)|^2 (a quadratic form): the Hessian is constant."""
    x = RNG.normal(size=5)

    def f(x):
        return np.sum(np.abs(np.fft.rfft(x)) ** 2)

    h = fnad.hessian(f)(x)
    eps = 1e-5
    g = fnad.grad(f)
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


def test_vmap_equals_loop():
    batch = RNG.normal(size=(4, 6))

    def f(x):
        return np.fft.irfft(np.fft.rfft(x) * np.exp(-np.arange(4.0)), 6)

    np.testing.assert_allclose(fnad.vmap(f)(batch), np.stack([f(b) for b in batch]), atol=1e-12)


def test_bad_norm_names_the_argument():
    with pytest.raises(ValueError, match="invalid norm 'unitary'"):
        fnad.grad(lambda x: np.sum(np.abs(np.fft.fft(x, norm="unitary"))))(X)


def test_compiled_fft_equals_interpreter():
    """Power-of-two (radix 2) and other (Bluestein) lengths, values and gradients, one
    compile."""
    x8, x6 = RNG.normal(size=(2, 8)), RNG.normal(size=(6, 3))

    def loss(x8, x6):
        spectrum = np.fft.rfft(x8) * np.fft.fft(x6, axis=0)[:5, 0]
        return np.sum(np.abs(spectrum) ** 2) + np.sum(np.fft.irfft(spectrum, 7))

    def both(x8, x6):
        return loss(x8, x6), fnad.grad(loss, argnums=(0, 1))(x8, x6)

    got, want = fnad.jit(both)(x8, x6), both(x8, x6)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
