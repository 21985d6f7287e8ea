"""Scans and orderings along one axis: ``cumsum`` (forward or reversed) and ``argsort``.

``cumsum`` is linear: its transpose is the reversed cumulative sum. ``argsort`` is an
integer result without derivatives; ``sort`` and ``take_along_axis`` in ``fnad.numpy`` are
gathers at its positions, so their gradients are scatters. ``cumprod`` is a composition
(a log-depth product scan, exact at zeros) in ``fnad.numpy``.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind


def _check_axis(x: ArraySpec, axis: int, what: str) -> None:
    if not 0 <= axis < x.ndim:
        raise ValueError(f"fnad: {what} axis {axis} is invalid for {x!r}")


def cumsum(x, axis: int, reverse: bool = False):
    """Inclusive cumulative sum along ``axis`` (from the end when ``reverse``)."""
    return bind(cumsum_p, x, axis=int(axis), reverse=bool(reverse))


def _cumsum_impl(x, *, axis, reverse):
    if not reverse:
        return np.cumsum(x, axis=axis)
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


def _cumsum_abstract(x: ArraySpec, *, axis: int, reverse: bool) -> ArraySpec:
    _check_axis(x, axis, "cumsum")
    return x


def _scan_cases(rng):
    return [
        ((rng.normal(size=(5,)),), {"axis": 0, "reverse": False}),
        ((rng.normal(size=(3, 4)),), {"axis": 1, "reverse": True}),
        ((rng.normal(size=(3, 2, 4)),), {"axis": 0, "reverse": False}),
        ((rng.normal(size=(2, 3, 4)),), {"axis": 1, "reverse": True}),
    ]


cumsum_p = register(
    Primitive(
        "cumsum",
        impl=_cumsum_impl,
        abstract=_cumsum_abstract,
        vjp=lambda ct, x, *, out, axis, reverse: (cumsum(ct, axis, not reverse),),
        jvp=lambda ts, x, *, out, axis, reverse: (
            None if ts[0] is None else cumsum(ts[0], axis, reverse)
        ),
        batch=lambda xs, batched, size, *, axis, reverse: cumsum(xs[0], axis + 1, reverse),
        cases=_scan_cases,
    )
)


def argsort(x, axis: int):
    """Positions that sort ``x`` along ``axis`` (stable; NaN last, as NumPy)."""
    return bind(argsort_p, x, axis=int(axis))


def _argsort_abstract(x: ArraySpec, *, axis: int) -> ArraySpec:
    _check_axis(x, axis, "argsort")
    return ArraySpec(x.shape, np.dtype(np.int64))


def _argsort_cases(rng):
    ties = np.array([[2.0, 1.0, 2.0, 1.0], [0.5, 0.5, 0.5, -1.0]])
    return [
        ((rng.normal(size=(6,)),), {"axis": 0}),
        ((rng.normal(size=(3, 4)),), {"axis": 0}),
        ((ties,), {"axis": 1}),
    ]


argsort_p = register(
    Primitive(
        "argsort",
        impl=lambda x, *, axis: np.argsort(x, axis=axis, kind="stable").astype(np.int64),
        abstract=_argsort_abstract,
        batch=lambda xs, batched, size, *, axis: argsort(xs[0], axis + 1),
        cases=_argsort_cases,
        nondiff=True,
    )
)
