"""Matrix decompositions with gradients: thin ``svd`` and reduced ``qr`` of real stacks.

The rules are the standard ones for distinct nonzero singular values (``svd``) and for
tall or square matrices of full column rank (``qr``); wide ``qr`` has no rule yet and
says so. As in ``fnad.ops.linalg``, everything is written with NumPy names over stacks
``(..., m, n)`` so derivatives are differentiable again.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind
from fnad.ops.linalg import T, check_inexact, diag_embed, diag_part, solve, tril_mask

# --- svd ----------------------------------------------------------------------------------


def _svd_abstract(a: ArraySpec) -> tuple[ArraySpec, ArraySpec, ArraySpec]:
    if a.ndim < 2:
        raise ValueError(f"fnad: svd needs matrices (..., m, n), got {a!r}")
    check_inexact("svd", a, real_only=True)
    *stack, m, n = a.shape
    k = min(m, n)
    return (
        ArraySpec((*stack, m, k), a.dtype),
        ArraySpec((*stack, k), a.dtype),
        ArraySpec((*stack, k, n), a.dtype),
    )


def _square_gaps(s):
    """``F[i, j] = 1 / (s[j]**2 - s[i]**2)`` off the diagonal, 0 on it."""
    eye = np.eye(s.shape[-1], dtype=s.dtype)
    sq = s * s
    return (1 - eye) / (sq[..., None, :] - sq[..., :, None] + eye)


def _svd_jvp(ts, a, *, outs):
    u, s, vh = outs
    v, da = T(vh), ts[0]
    m, n = a.shape[-2:]
    f = _square_gaps(s)
    p = T(u) @ da @ v
    ps = p * s[..., None, :]
    sp = p * s[..., :, None]
    du = u @ (f * (ps + T(ps)))
    dv = v @ (f * (sp + T(sp)))
    if m > n:
        dav = da @ v
        du = du + (dav - u @ (T(u) @ dav)) / s[..., None, :]
    if n > m:
        dau = T(da) @ u
        dv = dv + (dau - v @ (vh @ dau)) / s[..., None, :]
    return du, diag_part(p), T(dv)


def _svd_vjp(cts, a, *, outs):
    u, s, vh = outs
    ct_u, ct_s, ct_vh = cts
    v = T(vh)
    m, n = a.shape[-2:]
    f = _square_gaps(s)
    inner = np.zeros((*a.shape[:-2], s.shape[-1], s.shape[-1]), a.dtype)
    if ct_s is not None:
        inner = inner + diag_embed(ct_s)
    extra = np.zeros(a.shape, a.dtype)
    if ct_u is not None:
        j = T(u) @ ct_u
        inner = inner + (f * (j - T(j))) * s[..., None, :]
        if m > n:
            extra = extra + ((ct_u - u @ j) / s[..., None, :]) @ vh
    if ct_vh is not None:
        ct_v = T(ct_vh)
        k = T(v) @ ct_v
        inner = inner + s[..., :, None] * (f * (k - T(k)))
        if n > m:
            extra = extra + u @ T((ct_v - v @ k) / s[..., None, :])
    return (u @ inner @ vh + extra,)


def _svd_cases(rng):
    def spread(*shape):
        u, _, vh = np.linalg.svd(rng.normal(size=shape), full_matrices=False)
        k = min(shape[-2:])
        return (
            u * (np.arange(k, 0, -1) + rng.uniform(0.2, 0.6, (*shape[:-2], k)))[..., None, :]
        ) @ vh

    return [((spread(3, 3),), {}), ((spread(4, 2),), {}), ((spread(2, 2, 3),), {})]


svd_p = register(
    Primitive(
        "svd",
        impl=lambda a: tuple(np.linalg.svd(a, full_matrices=False)),
        abstract=_svd_abstract,
        vjp=_svd_vjp,
        jvp=_svd_jvp,
        batch=lambda xs, batched, size: bind(svd_p, xs[0]),
        cases=_svd_cases,
        multiple_results=True,
    )
)

# --- qr -----------------------------------------------------------------------------------


def _qr_abstract(a: ArraySpec) -> tuple[ArraySpec, ArraySpec]:
    if a.ndim < 2:
        raise ValueError(f"fnad: qr needs matrices (..., m, n), got {a!r}")
    check_inexact("qr", a, real_only=True)
    *stack, m, n = a.shape
    k = min(m, n)
    return ArraySpec((*stack, m, k), a.dtype), ArraySpec((*stack, k, n), a.dtype)


def _check_tall(a) -> None:
    m, n = a.shape[-2:]
    if m < n:
        raise NotImplementedError(
            f"fnad: qr of wide matrices ({m}x{n}) has no derivative rule; qr is "
            "differentiable for m >= n (transpose the problem, or use svd)"
        )


def _right_solve_upper(x, r):
    """``x @ inv(r)`` through a solve with ``r.T``."""
    return T(solve(T(r), T(x)))


def _qr_jvp(ts, a, *, outs):
    _check_tall(a)
    q, r = outs
    da = ts[0]
    dar = _right_solve_upper(da, r)
    c = T(q) @ dar
    low = c * tril_mask(c.shape[-1], -1, c.dtype)
    omega = low - T(low)
    return q @ omega + dar - q @ c, (c - omega) @ r


def _qr_vjp(cts, a, *, outs):
    _check_tall(a)
    q, r = outs
    ct_q, ct_r = cts
    ct_q = np.zeros(q.shape, q.dtype) if ct_q is None else ct_q
    m = -(T(ct_q) @ q)
    if ct_r is not None:
        m = m + r @ T(ct_r)
    mask = tril_mask(m.shape[-1], -1, m.dtype)
    copied = m * (mask + np.eye(m.shape[-1], dtype=m.dtype)) + T(m * mask)
    # NOTE: (x) @ inv(r).T is a solve with r on the transposed right-hand side.
    return (T(solve(r, T(ct_q + q @ copied))),)


qr_p = register(
    Primitive(
        "qr",
        impl=lambda a: tuple(np.linalg.qr(a)),
        abstract=_qr_abstract,
        vjp=_qr_vjp,
        jvp=_qr_jvp,
        batch=lambda xs, batched, size: bind(qr_p, xs[0]),
        cases=lambda rng: [
            ((rng.normal(size=(3, 3)) + 2 * np.eye(3),), {}),
            ((rng.normal(size=(4, 2)),), {}),
            ((rng.normal(size=(2, 3, 3)) + 2 * np.eye(3),), {}),
        ],
        multiple_results=True,
    )
)
