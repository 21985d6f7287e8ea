"""Finite differences shared by the tests: the references derivatives are checked against."""

from __future__ import annotations

import numpy as np

import fnad


def fd_grad(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function of one array."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = eps
        g[k] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def fd_jacobian(f, x, eps=1e-6):
    """Central-difference Jacobian of an array function, shaped ``out.shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    out_shape = np.shape(f(x))
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(out_shape + x.shape)


def fd_check(f, *xs, eps=1e-6, rtol=1e-5, atol=1e-7):
    """grad of real-valued ``f`` against central differences along random directions
    (complex inputs: directions with real and imaginary parts, pairing Re(sum(g * v)))."""
    grads = fnad.grad(f, argnums=tuple(range(len(xs))))(*xs)
    rng = np.random.default_rng(1)
    for _ in range(2):
        vs = [
            rng.normal(size=x.shape) + (1j * rng.normal(size=x.shape) if x.dtype.kind == "c" else 0)
            for x in xs
        ]
        hi = f(*[x + eps * v for x, v in zip(xs, vs)])
        lo = f(*[x - eps * v for x, v in zip(xs, vs)])
        expected = (hi - lo) / (2 * eps)
        got = sum(np.real(np.sum(g * v)) for g, v in zip(grads, vs))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def traced(f, *args):
    """``f`` run on tracers (the forward pass of ``vjp``), as a NumPy result."""
    out, _ = fnad.vjp(f, *args)
    return out
