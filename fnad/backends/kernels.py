"""Numba kernels that generated modules import: stacked linear algebra and FFTs.

Numba's ``np.linalg`` takes single 2-d arrays; these loop over a stack ``(stack, *core)``
of C-contiguous arrays. They live in one real module, compiled once per dtype and cached
by Numba, because each costs seconds to compile: emitted into every generated module
they would be compiled again for each.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _la_solve(a, b):
    out = np.empty_like(b)
    for i in range(a.shape[0]):
        out[i] = np.linalg.solve(a[i], b[i])
    return (out,)


@njit(cache=True)
def _la_cholesky(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = np.linalg.cholesky(a[i])
    return (out,)


@njit(cache=True)
def _la_slogdet(a):
    s0, l0 = np.linalg.slogdet(a[0])
    sign = np.full(a.shape[0], s0)
    logdet = np.full(a.shape[0], l0)
    for i in range(1, a.shape[0]):
        sign[i], logdet[i] = np.linalg.slogdet(a[i])
    return sign, logdet


@njit(cache=True)
def _la_eigh(a):
    w = np.empty(a.shape[:2], a.dtype)
    v = np.empty_like(a)
    for i in range(a.shape[0]):
        w[i], v[i] = np.linalg.eigh(a[i])
    return w, v


@njit(cache=True)
def _la_svd(a):
    nb, m, n = a.shape
    k = min(m, n)
    u = np.empty((nb, m, k), a.dtype)
    s = np.empty((nb, k), a.dtype)
    vh = np.empty((nb, k, n), a.dtype)
    for i in range(nb):
        u[i], s[i], vh[i] = np.linalg.svd(a[i], full_matrices=False)
    return u, s, vh


@njit(cache=True)
def _la_qr(a):
    nb, m, n = a.shape
    k = min(m, n)
    q = np.empty((nb, m, k), a.dtype)
    r = np.empty((nb, k, n), a.dtype)
    for i in range(nb):
        q[i], r[i] = np.linalg.qr(a[i])
    return q, r
