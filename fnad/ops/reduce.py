"""Reductions over a tuple of axes: sum, max, min, prod, and argmax/argmin.

Reductions keep the input dtype (``fnad.numpy`` converts first, as ``np.sum`` does for
integers) and drop the reduced axes; ``keepdims`` is a reshape in ``fnad.numpy``.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import PRIMITIVES, Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind
from fnad.ops.indexing import IndexSpec, gather
from fnad.ops.shape import broadcast_to, concatenate, reshape, transpose


def _check_axes(x: ArraySpec, axes: tuple[int, ...]) -> None:
    if sorted(set(axes)) != list(axes) or any(not 0 <= a < x.ndim for a in axes):
        raise ValueError(f"fnad: reduction axes {axes} are invalid for {x!r}")


def _reduce_abstract(x: ArraySpec, *, axes: tuple[int, ...]) -> ArraySpec:
    _check_axes(x, axes)
    return ArraySpec(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


def _minmax_abstract(x: ArraySpec, *, axes: tuple[int, ...]) -> ArraySpec:
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"fnad: max/min of an empty axis of {x!r} (no identity)")
    return _reduce_abstract(x, axes=axes)


def expand_back(y, x_shape: tuple[int, ...], axes: tuple[int, ...]):
    """Broadcast a reduced value back to the shape it was reduced from."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(x_shape))
    return broadcast_to(reshape(y, kept), x_shape)


def _batch_axes(name: str):
    """Batching rule of a reduction: the reduced axes move one place right."""

    def batch(xs, batched, size, *, axes):
        return bind(PRIMITIVES[name], xs[0], axes=tuple(a + 1 for a in axes))

    return batch


def reduce_sum(x, axes: tuple[int, ...]):
    return x if not axes else bind(reduce_sum_p, x, axes=tuple(axes))


def _cases(rng):
    x = rng.normal(size=(2, 3, 4))
    return [((x,), {"axes": axes}) for axes in [(0,), (1, 2), (0, 1, 2), (2,)]]


reduce_sum_p = register(
    Primitive(
        "reduce_sum",
        impl=lambda x, *, axes: np.sum(x, axis=axes),
        abstract=_reduce_abstract,
        vjp=lambda ct, x, *, out, axes: (expand_back(ct, x.shape, axes),),
        jvp=lambda ts, x, *, out, axes: None if ts[0] is None else reduce_sum(ts[0], axes),
        batch=_batch_axes("reduce_sum"),
        cases=_cases,
        tags={"combine": "+", "identity": 0},
    )
)


def _extreme_weights(x, out, axes):
    """Where each element attains the extreme, divided by the number of ties."""
    hit = (x == expand_back(out, x.shape, axes)).astype(x.dtype)
    return hit / expand_back(reduce_sum(hit, axes), x.shape, axes)


def _extreme(name: str, np_fn, combine: str, identity: float) -> Primitive:
    def vjp(ct, x, *, out, axes):
        return (expand_back(ct, x.shape, axes) * _extreme_weights(x, out, axes),)

    def jvp(ts, x, *, out, axes):
        return None if ts[0] is None else reduce_sum(ts[0] * _extreme_weights(x, out, axes), axes)

    def cases(rng):
        ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
        return _cases(rng) + [((ties,), {"axes": (1,)}), ((ties,), {"axes": (0, 1)})]

    return register(
        Primitive(
            name,
            impl=lambda x, *, axes: np_fn(x, axis=axes),
            abstract=_minmax_abstract,
            vjp=vjp,
            jvp=jvp,
            batch=_batch_axes(name),
            cases=cases,
            tags={"combine": combine, "identity": identity},
        )
    )


reduce_max_p = _extreme("reduce_max", np.max, "max", -np.inf)
reduce_min_p = _extreme("reduce_min", np.min, "min", np.inf)


def _exclusive_cumprod(x):
    """Products of the elements before each position along the last axis.

    A log-depth scan of multiplications and shifts, so every derivative order is exact
    (a division by ``x`` would fail at zeros)."""
    n = x.shape[-1]
    lead = (slice(None),) * (x.ndim - 1)
    ones = np.ones_like(gather(x, IndexSpec((*lead, slice(0, 1)))))

    def shifted(p, k):
        pad = ones if k == 1 else concatenate([ones] * k, x.ndim - 1)
        return concatenate([pad, gather(p, IndexSpec((*lead, slice(0, n - k))))], x.ndim - 1)

    p, k = x, 1
    while k < n:
        p = p * shifted(p, k)
        k *= 2
    return shifted(p, 1)


def _prod_others(x, axes):
    """d prod(x) / dx_i: the product of the other elements along ``axes``."""
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = (*kept, *axes)
    moved = transpose(x, perm)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    flat = reshape(moved, (*moved.shape[: len(kept)], n))
    if n == 1:
        return np.ones_like(x)
    lead = (slice(None),) * len(kept)
    flip = IndexSpec((*lead, slice(None, None, -1)))
    before = _exclusive_cumprod(flat)
    after = gather(_exclusive_cumprod(gather(flat, flip)), flip)
    others = reshape(before * after, moved.shape)
    return transpose(others, tuple(np.argsort(perm)))


def reduce_prod(x, axes: tuple[int, ...]):
    return x if not axes else bind(reduce_prod_p, x, axes=tuple(axes))


reduce_prod_p = register(
    Primitive(
        "reduce_prod",
        impl=lambda x, *, axes: np.prod(x, axis=axes),
        abstract=_reduce_abstract,
        vjp=lambda ct, x, *, out, axes: (expand_back(ct, x.shape, axes) * _prod_others(x, axes),),
        jvp=lambda ts, x, *, out, axes: (
            None if ts[0] is None else reduce_sum(ts[0] * _prod_others(x, axes), axes)
        ),
        batch=_batch_axes("reduce_prod"),
        cases=lambda rng: (
            _cases(rng) + [((np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]]),), {"axes": (1,)})]
        ),
        tags={"combine": "*", "identity": 1},
    )
)


def _arg_abstract(x: ArraySpec, *, axis: int) -> ArraySpec:
    if not 0 <= axis < x.ndim or x.shape[axis] == 0:
        raise ValueError(f"fnad: argmax/argmin axis {axis} is invalid for {x!r}")
    return ArraySpec(x.shape[:axis] + x.shape[axis + 1 :], np.dtype(np.int64))


def _arg(name: str, np_fn) -> Primitive:
    return register(
        Primitive(
            name,
            impl=lambda x, *, axis: np_fn(x, axis=axis).astype(np.int64),
            abstract=_arg_abstract,
            batch=lambda xs, batched, size, *, axis: bind(PRIMITIVES[name], xs[0], axis=axis + 1),
            cases=lambda rng: [((rng.normal(size=(3, 4)),), {"axis": a}) for a in (0, 1)],
            nondiff=True,
        )
    )


argmax_p = _arg("argmax", np.argmax)
argmin_p = _arg("argmin", np.argmin)
