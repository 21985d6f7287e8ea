"""``fnad.numpy.linalg``: NumPy's linear algebra, traceable and differentiable.

Stacks of matrices (leading dimensions) work wherever NumPy allows them. On untraced
inputs every function is NumPy's own; ``np.linalg.*`` on a tracer lands here too.

>>> import fnad, numpy as np
>>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
>>> fnad.grad(lambda a: np.linalg.det(a))(a)  # d det / dA = det(A) inv(A).T
array([[ 3., -1.],
       [-1.,  2.]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from fnad.core.trace import bind, with_location
from fnad.numpy import _contract, _methods
from fnad.numpy._complex import conj
from fnad.numpy._contract import matmul, tensordot
from fnad.numpy._core import broadcast_shapes, innermost, is_traced, operand, result_type, shape_of
from fnad.numpy._norms import norm
from fnad.ops import linalg as la
from fnad.ops.linalg_decomp import qr_p, svd_p

LinAlgError = np.linalg.LinAlgError


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


def _matrices(name: str, *arrays: Any, square: bool = True, others: tuple = ()) -> list[Any]:
    """The operands as floating-point tracers of one dtype, checked to be (stacks of)
    matrices (square ones when ``square``); ``others`` (operands that are not matrices)
    take part in the dtype and may be the only traced ones."""
    dtype = result_type(*arrays, *others)
    dtype = dtype if dtype.kind in "fc" else np.dtype(np.float64)
    builder = innermost((*arrays, *others))
    out = []
    for a in arrays:
        shape = tuple(shape_of(a))
        if len(shape) < 2 or (square and shape[-1] != shape[-2]):
            kind = "square matrices" if square else "matrices"
            raise with_location(
                np.linalg.LinAlgError(f"fnad: linalg.{name} needs {kind} (..., m, n), got {shape}")
            )
        out.append(operand(a, dtype, shape, builder))
    return out


def solve(a: Any, b: Any) -> Any:
    """``numpy.linalg.solve``: ``b`` is a vector (..., n) only when 1-d, as in NumPy 2."""
    if not is_traced(a, b):
        return np.linalg.solve(a, b)
    vector = len(shape_of(b)) == 1
    (a,) = _matrices("solve", a, others=(b,))
    b = operand(b, a.dtype, shape_of(b), innermost((a, b)))
    if vector:
        b = b[:, None]
    stack = broadcast_shapes(a.shape[:-2], shape_of(b)[:-2], what="solve operands")
    n, k = a.shape[-1], shape_of(b)[-1]
    x = la.solve(np.broadcast_to(a, (*stack, n, n)), np.broadcast_to(b, (*stack, n, k)))
    return x[..., 0] if vector else x


def inv(a: Any) -> Any:
    """``numpy.linalg.inv`` as a solve against the identity."""
    if not is_traced(a):
        return np.linalg.inv(a)
    (a,) = _matrices("inv", a)
    return la.solve(a, np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape))


def slogdet(a: Any) -> SlogdetResult:
    """``numpy.linalg.slogdet``: ``(sign, logabsdet)``, differentiable in ``logabsdet``
    (and in ``sign`` for complex matrices)."""
    if not is_traced(a):
        return np.linalg.slogdet(a)
    (a,) = _matrices("slogdet", a)
    return SlogdetResult(*bind(la.slogdet_p, a))


def det(a: Any) -> Any:
    """``numpy.linalg.det`` as ``sign * exp(logabsdet)``."""
    if not is_traced(a):
        return np.linalg.det(a)
    sign, logdet = slogdet(a)
    return sign * np.exp(logdet)


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """``numpy.linalg.cholesky`` (reads the lower triangle, or the upper with ``upper``,
    as NumPy does)."""
    if not is_traced(a):
        return np.linalg.cholesky(a, upper=upper)
    (a,) = _matrices("cholesky", a)
    return la.T(la.cholesky(la.T(a))) if upper else la.cholesky(a)


def eigh(a: Any, UPLO: str = "L") -> EighResult:  # noqa: N803  (NumPy's name)
    """``numpy.linalg.eigh`` for real symmetric matrices; gradients need distinct
    eigenvalues (eigenvectors of a repeated eigenvalue are not unique)."""
    if not is_traced(a):
        return np.linalg.eigh(a, UPLO)
    (a,) = _matrices("eigh", a)
    if UPLO not in ("L", "U"):
        raise with_location(ValueError(f"fnad: eigh UPLO must be 'L' or 'U', got {UPLO!r}"))
    return EighResult(*bind(la.eigh_p, a if UPLO == "L" else la.T(a)))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803
    if not is_traced(a):
        return np.linalg.eigvalsh(a, UPLO)
    return eigh(a, UPLO)[0]


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """``numpy.linalg.svd`` of real matrices. ``full_matrices=True`` (NumPy's default) is
    traceable for square matrices only, where it equals the thin decomposition."""
    if not is_traced(a):
        return np.linalg.svd(a, full_matrices, compute_uv, hermitian)
    (a,) = _matrices("svd", a, square=False)
    m, n = a.shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise with_location(
            NotImplementedError(
                f"fnad: svd(full_matrices=True) of a {m}x{n} matrix is not traceable (the "
                "completed basis has no gradient); pass full_matrices=False"
            )
        )
    u, s, vh = bind(svd_p, a)
    return SVDResult(u, s, vh) if compute_uv else s


def svdvals(x: Any, /) -> Any:
    return np.linalg.svdvals(x) if not is_traced(x) else svd(x, compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    """``numpy.linalg.qr`` in modes ``'reduced'``, ``'r'`` and (for m <= n) ``'complete'``;
    differentiable for m >= n."""
    if not is_traced(a):
        return np.linalg.qr(a, mode)
    (a,) = _matrices("qr", a, square=False)
    m, n = a.shape[-2:]
    if mode not in ("reduced", "r", "complete") or (mode == "complete" and m > n):
        raise with_location(
            NotImplementedError(
                f"fnad: qr mode={mode!r} is not traceable for a {m}x{n} matrix; use "
                "'reduced' or 'r'"
            )
        )
    q, r = bind(qr_p, a)
    return r if mode == "r" else QRResult(q, r)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """``numpy.linalg.pinv`` through the thin SVD: singular values at most
    ``rcond * max(s)`` are dropped (NumPy's default cutoff)."""
    if not is_traced(a):
        kwargs = {} if rtol is None else {"rtol": rtol}
        return (
            np.linalg.pinv(a, hermitian=hermitian, **kwargs)
            if rcond is None
            else (np.linalg.pinv(a, rcond, hermitian))
        )
    (a,) = _matrices("pinv", a, square=False)
    cut = rcond if rcond is not None else rtol
    if cut is None:
        cut = max(a.shape[-2:]) * np.finfo(a.dtype).eps
    u, s, vh = bind(svd_p, a)
    keep = s > cut * np.max(s, axis=-1, keepdims=True)
    s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
    return la.T(vh) @ (s_inv[..., :, None] * la.T(u))


def matrix_power(a: Any, n: int) -> Any:
    """``numpy.linalg.matrix_power``: repeated squaring; negative ``n`` inverts first."""
    if not is_traced(a):
        return np.linalg.matrix_power(a, n)
    if not isinstance(n, int | np.integer):
        raise with_location(TypeError(f"fnad: matrix_power exponent must be an int, got {n!r}"))
    (a,) = _matrices("matrix_power", a)
    if n == 0:
        return np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape) + 0 * a
    base, n = (inv(a), -int(n)) if n < 0 else (a, int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:  # noqa: A002
    if not is_traced(x):
        return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:  # noqa: A002
    if not is_traced(x):
        return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    if axis is None:
        out = norm(np.ravel(x), ord, axis=0)
        return np.reshape(out, (1,) * len(x.shape)) if keepdims else out
    return norm(x, ord, axis=axis, keepdims=keepdims)


def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """``numpy.linalg.multi_dot``: left to right (1-d ends are vectors, as in NumPy)."""
    if not is_traced(*arrays):
        return np.linalg.multi_dot(arrays, out=out)
    result = arrays[0]
    for a in arrays[1:]:
        result = matmul(result, a)
    return result


def outer(x1: Any, x2: Any, /) -> Any:
    return np.linalg.outer(x1, x2) if not is_traced(x1, x2) else _contract.outer(x1, x2)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """``numpy.linalg.trace``: over the last two axes."""
    if not is_traced(x) or offset or dtype is not None:
        return np.linalg.trace(x, offset=offset, dtype=dtype)
    return np.sum(diagonal(x), axis=-1)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """``numpy.linalg.diagonal``: of the last two axes."""
    if not is_traced(x) or offset:
        return np.linalg.diagonal(x, offset=offset)
    k = min(x.shape[-2:])
    return np.einsum("...ii->...i", x[..., :k, :k])


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``numpy.linalg.vecdot``: ``sum(conj(x1) * x2)`` along ``axis``."""
    if not is_traced(x1, x2):
        return np.linalg.vecdot(x1, x2, axis=axis)
    return np.sum(conj(x1) * x2, axis=axis)


__all__ = [
    "LinAlgError",
    "cholesky",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "trace",
    "vecdot",
    "vector_norm",
]

for _name in __all__[1:]:
    _methods._FUNCTIONS[getattr(np.linalg, _name)] = globals()[_name]
