"""Finite differences shared by the tests: the references derivatives are checked against."""

from __future__ import annotations

import numpy as np


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
