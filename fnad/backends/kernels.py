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


@njit(cache=True)
def _fft_pow2(a, inverse):
    """In-place iterative radix-2 DFT of a complex128 vector whose length is a power of 2."""
    n = a.shape[0]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j ^= bit
        if i < j:
            a[i], a[j] = a[j], a[i]
    sign = 1.0 if inverse else -1.0
    length = 2
    while length <= n:
        half = length // 2
        twiddle = np.exp(sign * 2j * np.pi * np.arange(half) / length)
        for start in range(0, n, length):
            for k in range(half):
                u = a[start + k]
                v = a[start + k + half] * twiddle[k]
                a[start + k] = u + v
                a[start + k + half] = u - v
        length *= 2


@njit(cache=True)
def _fft_any(x, inverse):
    """Unnormalized DFT of a complex128 vector of any length (Bluestein's chirp-z for
    lengths that are not powers of 2)."""
    n = x.shape[0]
    a = x.copy()
    if n & (n - 1) == 0:
        _fft_pow2(a, inverse)
        return a
    sign = 1.0 if inverse else -1.0
    k = np.arange(n)
    chirp = np.exp(sign * 1j * np.pi * ((k * k) % (2 * n)) / n)
    m = 1
    while m < 2 * n - 1:
        m *= 2
    fa = np.zeros(m, np.complex128)
    fb = np.zeros(m, np.complex128)
    fa[:n] = a * chirp
    fb[:n] = np.conj(chirp)
    fb[m - n + 1 :] = np.conj(chirp[1:][::-1])
    _fft_pow2(fa, False)
    _fft_pow2(fb, False)
    fa *= fb
    _fft_pow2(fa, True)
    return chirp * fa[:n] / m


@njit(cache=True)
def _fft_rows(x, inverse):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _fft_any(x[i].astype(np.complex128), inverse)
    return (out,)
