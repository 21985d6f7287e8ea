"""Linear-algebra primitives on stacks of matrices: solve, slogdet, cholesky, eigh.

Every primitive takes arrays of shape ``(..., m, n)``: the leading dimensions are a stack,
so batching just adds one more leading dimension. Derivative rules are the standard
matrix-calculus ones written with NumPy names (``@``, ``np.swapaxes``, ``np.einsum``),
which record fnad nodes on tracers, so every derivative is differentiable again.
``inv``, ``det``, ``pinv``, ``norm`` and ``matrix_power`` are compositions in
``fnad.numpy.linalg``; the decompositions ``svd`` and ``qr`` live in ``linalg_decomp``.

``cholesky`` and ``eigh`` read only the lower triangle, as NumPy's do: their gradients
are those of that function of all ``n*n`` entries (zero above the diagonal).
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind
from fnad.ops.shape import batch_all


def T(x):
    """Transpose of the last two axes."""
    return np.swapaxes(x, -1, -2)


def diag_part(x):
    return np.einsum("...ii->...i", x)


def diag_embed(v):
    n = v.shape[-1]
    return v[..., None, :] * np.eye(n, dtype=v.dtype)


def tril_mask(n: int, k: int = 0, dtype=np.float64) -> np.ndarray:
    return np.tril(np.ones((n, n), dtype), k)


def sym(x):
    return 0.5 * (x + T(x))


def from_lower(x):
    """The symmetric matrix a lower-triangle reader sees: ``tril(x) + tril(x, -1).T``."""
    low = x * tril_mask(x.shape[-1], -1, x.dtype)
    return low + T(low) + diag_embed(diag_part(x))


def to_lower(g):
    """Gradient of a lower-triangle reader from the symmetric gradient ``g``."""
    n = g.shape[-1]
    return g * (2 * tril_mask(n, -1, g.dtype) + np.eye(n, dtype=g.dtype))


def check_square(name: str, a: ArraySpec, real_only: bool = False) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"fnad: {name} needs square matrices (..., n, n), got {a!r}")
    check_inexact(name, a, real_only)


def check_inexact(name: str, a: ArraySpec, real_only: bool = False) -> None:
    kinds = "f" if real_only else "fc"
    if a.dtype.kind not in kinds:
        what = "real floating-point" if real_only else "floating-point or complex"
        raise TypeError(f"fnad: {name} needs {what} matrices, got {a!r}")


def _cases_spd(rng, shapes):
    out = []
    for shape in shapes:
        x = rng.normal(size=shape)
        out.append(x @ T(x) + shape[-1] * np.eye(shape[-1]))
    return out


# --- solve --------------------------------------------------------------------------------


def solve(a, b):
    """``x`` with ``a @ x == b`` for ``a`` of shape (..., n, n) and ``b`` (..., n, k)."""
    return bind(solve_p, a, b)


def _solve_abstract(a: ArraySpec, b: ArraySpec) -> ArraySpec:
    check_square("solve", a)
    if b.ndim != a.ndim or b.shape[:-1] != a.shape[:-1] or b.dtype != a.dtype:
        raise ValueError(
            f"fnad: solve needs b of shape {a.shape[:-1]} + (k,) like {a!r}, got {b!r}"
        )
    return b


def _solve_vjp(ct, a, b, *, out):
    cb = solve(T(a), ct)
    return -(cb @ T(out)), cb


def _solve_jvp(ts, a, b, *, out):
    ta, tb = ts
    rhs = tb if ta is None else -(ta @ out) if tb is None else tb - ta @ out
    return solve(a, rhs)


solve_p = register(
    Primitive(
        "solve",
        impl=np.linalg.solve,
        abstract=_solve_abstract,
        vjp=_solve_vjp,
        jvp=_solve_jvp,
        batch=lambda xs, batched, size: solve(*batch_all(xs, batched, size)),
        cases=lambda rng: [
            ((rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=(3, 2))), {}),
            ((rng.normal(size=(2, 4, 4)) + 4 * np.eye(4), rng.normal(size=(2, 4, 1))), {}),
        ],
    )
)

# --- slogdet ------------------------------------------------------------------------------


def _slogdet_abstract(a: ArraySpec) -> tuple[ArraySpec, ArraySpec]:
    check_square("slogdet", a)
    real = np.empty(0, a.dtype).real.dtype
    return ArraySpec(a.shape[:-2], a.dtype), ArraySpec(a.shape[:-2], real)


def _inv_T(a):
    eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return solve(T(a), eye)


def _slogdet_vjp(cts, a, *, outs):
    ct_sign, ct_log = cts
    sign, _ = outs
    weight = np.zeros(sign.shape, a.dtype) if ct_log is None else ct_log.astype(a.dtype)
    if a.dtype.kind == "c" and ct_sign is not None:
        weight = weight + 1j * np.imag(ct_sign * sign)
    return (np.reshape(weight, (*weight.shape, 1, 1)) * _inv_T(a),)


def _slogdet_jvp(ts, a, *, outs):
    trace = np.einsum("...ii->...", solve(a, ts[0]))
    if a.dtype.kind != "c":
        return None, trace
    return outs[0] * 1j * np.imag(trace), np.real(trace)


slogdet_p = register(
    Primitive(
        "slogdet",
        impl=lambda a: tuple(np.linalg.slogdet(a)),
        abstract=_slogdet_abstract,
        vjp=_slogdet_vjp,
        jvp=_slogdet_jvp,
        batch=lambda xs, batched, size: bind(slogdet_p, xs[0]),
        cases=lambda rng: [
            ((rng.normal(size=(3, 3)) + 3 * np.eye(3),), {}),
            ((rng.normal(size=(2, 3, 3)) - 3 * np.eye(3),), {}),
            ((rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)) + 3 * np.eye(3),), {}),
        ],
        multiple_results=True,
    )
)

# --- cholesky -----------------------------------------------------------------------------


def cholesky(a):
    return bind(cholesky_p, a)


def _cholesky_abstract(a: ArraySpec) -> ArraySpec:
    check_square("cholesky", a, real_only=True)
    return a


def _phi(x):
    """Lower triangle with the diagonal halved."""
    n = x.shape[-1]
    return x * (tril_mask(n, -1, x.dtype) + 0.5 * np.eye(n, dtype=x.dtype))


def _cholesky_jvp(ts, a, *, out):
    y = solve(out, from_lower(ts[0]))
    return out @ _phi(T(solve(out, T(y))))


def _cholesky_vjp(ct, a, *, out):
    p = _phi(T(out) @ ct)
    z = solve(T(out), p)
    return (to_lower(sym(T(solve(T(out), T(z))))),)


cholesky_p = register(
    Primitive(
        "cholesky",
        impl=np.linalg.cholesky,
        abstract=_cholesky_abstract,
        vjp=_cholesky_vjp,
        jvp=_cholesky_jvp,
        batch=lambda xs, batched, size: cholesky(xs[0]),
        cases=lambda rng: [((a,), {}) for a in _cases_spd(rng, [(3, 3), (2, 4, 4)])],
    )
)

# --- eigh ---------------------------------------------------------------------------------


def _eigh_abstract(a: ArraySpec) -> tuple[ArraySpec, ArraySpec]:
    check_square("eigh", a, real_only=True)
    return ArraySpec(a.shape[:-1], a.dtype), a


def _gaps(w):
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it."""
    eye = np.eye(w.shape[-1], dtype=w.dtype)
    return (1 - eye) / (w[..., None, :] - w[..., :, None] + eye)


def _eigh_jvp(ts, a, *, outs):
    w, v = outs
    p = T(v) @ from_lower(ts[0]) @ v
    return diag_part(p), v @ (_gaps(w) * p)


def _eigh_vjp(cts, a, *, outs):
    ct_w, ct_v = cts
    w, v = outs
    inner = np.zeros(a.shape, a.dtype) if ct_v is None else _gaps(w) * (T(v) @ ct_v)
    if ct_w is not None:
        inner = inner + diag_embed(ct_w)
    return (to_lower(sym(v @ inner @ T(v))),)


def _eigh_cases(rng):
    def spectrum(*shape):
        q, _ = np.linalg.qr(rng.normal(size=shape))
        w = np.arange(1.0, shape[-1] + 1) * 1.5 + rng.uniform(0, 0.5, shape[:-1])
        return (q * w[..., None, :]) @ T(q)

    return [((spectrum(3, 3),), {}), ((spectrum(2, 4, 4),), {})]


eigh_p = register(
    Primitive(
        "eigh",
        impl=lambda a: tuple(np.linalg.eigh(a)),
        abstract=_eigh_abstract,
        vjp=_eigh_vjp,
        jvp=_eigh_jvp,
        batch=lambda xs, batched, size: bind(eigh_p, xs[0]),
        cases=_eigh_cases,
        multiple_results=True,
    )
)
