"""``check_grads``: test a function's derivatives against finite differences, at any order.

For one function ``g`` of the floating-point leaves ``xs`` of the arguments, with a random
direction ``v`` (one array per leaf) and a random output cotangent ``u``, three checks run:

* ``fwd``: ``jvp(g, xs, v)`` equals the central difference ``(g(x + eps v) - g(x - eps v)) /
  2 eps``, element by element;
* ``rev``: ``<vjp(g)(u), v>`` equals ``<u, central difference>``;
* with both modes, the dot-product test ``<u, J v> = <J^T u, v>`` (forward against reverse,
  exact up to rounding, so it has a much tighter tolerance).

Order ``k > 1`` repeats the checks on the derivative functions ``x -> jvp(g, x, v)[1]`` and
``x -> vjp(g, x)[1](u)`` with ``v`` and ``u`` held fixed, down to order 1. A failure is
localized by repeating the failing check one leaf at a time, so the message names the
argument (and the path inside a pytree argument) whose derivative is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fnad.testing.paths import describe_leaves, leaf_paths
from fnad.transforms.jvp import jvp
from fnad.transforms.vjp import vjp
from fnad.tree import tree_flatten, tree_leaves, tree_unflatten

MODES = ("fwd", "rev")
_KINK_HINT = (
    "  (finite differences are meaningless where f is not differentiable, e.g. at a jump of "
    "floor or within eps of a kink: if so, move the inputs or pass eps/rtol/atol)"
)


@dataclass(frozen=True)
class Tolerance:
    """Finite-difference step and tolerances; the dot-product test is held 1000x tighter."""

    eps: float
    rtol: float
    atol: float
    machine_eps: float

    @property
    def dot_rtol(self) -> float:
        return max(self.rtol * 1e-3, 1000 * self.machine_eps)

    @property
    def dot_atol(self) -> float:
        return self.atol * 1e-3


# eps near the cube root of the machine epsilon balances truncation and rounding error.
_DEFAULTS = {
    np.dtype(np.float64): (1e-6, 1e-5, 1e-6),
    np.dtype(np.float32): (1e-3, 2e-2, 2e-2),
    np.dtype(np.float16): (3e-2, 2e-1, 2e-1),
}


def default_tolerance(dtypes: Sequence[np.dtype], eps=None, rtol=None, atol=None) -> Tolerance:
    """Defaults for the least precise of ``dtypes``; explicit values win."""
    least = max(dtypes, key=lambda d: np.finfo(d).eps)
    d_eps, d_rtol, d_atol = _DEFAULTS.get(np.dtype(least), _DEFAULTS[np.dtype(np.float64)])
    return Tolerance(
        d_eps if eps is None else eps,
        d_rtol if rtol is None else rtol,
        d_atol if atol is None else atol,
        float(np.finfo(least).eps),
    )


def _is_float(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    dtype = np.asarray(x).dtype if dtype is None else dtype
    return np.issubdtype(dtype, np.floating)


def _show(x: Any) -> str:
    return np.array2string(np.asarray(x), precision=6, threshold=12, edgeitems=3)


def _show_all(xs: Sequence[Any]) -> str:
    if len(xs) == 1:
        return _show(xs[0])
    return "; ".join(f"[{k}] {_show(x)}" for k, x in enumerate(xs))


def _inner(a: Sequence[Any], b: Sequence[Any]) -> tuple[float, float]:
    """``sum <a_k, b_k>`` in float64 and the sum of the absolute terms (its scale)."""
    terms = [np.asarray(x, np.float64) * np.asarray(y, np.float64) for x, y in zip(a, b)]
    return float(sum(np.sum(t) for t in terms)), float(sum(np.sum(np.abs(t)) for t in terms))


@dataclass
class Verdict:
    """Where a comparison failed: its relative error and a description of the worst spot."""

    rel: float
    lines: list[str]


def compare_arrays(expected, got, rtol: float, atol: float, names=None) -> Verdict | None:
    """Element by element over a list of output arrays; None when all are within tolerance."""
    names = names or [f"output {k}" for k in range(len(expected))]
    worst: tuple[float, float, int, tuple] | None = None
    for k, (e, g) in enumerate(zip(expected, got)):
        e, g = np.asarray(e, np.float64), np.asarray(g, np.float64)
        if e.shape != g.shape:
            return Verdict(np.inf, [f"  {names[k]}: expected shape {e.shape}, got {g.shape}"])
        err = np.abs(g - e)
        ratio = np.where(np.isfinite(err), err / (atol + rtol * np.abs(e)), np.inf)
        if ratio.size and (worst is None or ratio.max() > worst[0]):
            at = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            worst = (float(ratio[at]), float(err[at] / max(abs(e[at]), 1e-300)), k, at)
    if worst is None or worst[0] <= 1.0:
        return None
    _, rel, k, at = worst
    e, g = np.asarray(expected[k], np.float64), np.asarray(got[k], np.float64)
    return Verdict(
        rel,
        [
            f"  expected ({names[k]}): {_show(e)}",
            f"  got      ({names[k]}): {_show(g)}",
            f"  worst element: {names[k]} at index {tuple(int(i) for i in at)}: "
            f"expected {e[at]:.8g}, got {g[at]:.8g}",
        ],
    )


def compare_scalars(expected: float, got: float, scale: float, rtol: float, atol: float):
    err = abs(got - expected)
    if np.isfinite(err) and err <= atol + rtol * scale:
        return None
    return Verdict(err / max(scale, 1e-300) if np.isfinite(err) else np.inf, [])


class _Checker:
    """Runs the checks on ``f`` and its derivative functions, all of the float leaves."""

    def __init__(self, xs: list, names: list[str], tol: Tolerance, modes, seed: int) -> None:
        self.xs, self.names, self.tol, self.modes = xs, names, tol, modes
        self.rng = np.random.default_rng(seed)

    def directions(self, like: Sequence[Any]) -> list[np.ndarray]:
        return [
            np.asarray(self.rng.standard_normal(np.shape(x))).astype(np.asarray(x).dtype)
            for x in like
        ]

    def only(self, vs: list, i: int | None) -> list:
        if i is None:
            return vs
        return [v if j == i else np.zeros_like(v) for j, v in enumerate(vs)]

    def finite_difference(self, fn: Callable, vs: Sequence[Any]) -> list[np.ndarray]:
        eps = self.tol.eps
        hi = fn(*[x + eps * v for x, v in zip(self.xs, vs)])
        lo = fn(*[x - eps * v for x, v in zip(self.xs, vs)])
        return [
            (np.asarray(h, np.float64) - np.asarray(l, np.float64)) / (2 * eps)
            for h, l in zip(hi, lo)
        ]

    def run(self, fn: Callable, order: int, path: tuple[str, ...], outs: list[str]) -> None:
        """Check ``fn`` (whose outputs are called ``outs``), then its derivative functions."""
        out = [np.asarray(o) for o in fn(*self.xs)]
        vs, us = self.directions(self.xs), self.directions(out)
        if out:
            self.check_level(fn, path, vs, us, outs)
        if order > 1 and out:
            if "fwd" in self.modes:
                tangents = [f"tangent of {name}" for name in outs]
                self.run(lambda *xs: list(jvp(fn, xs, vs)[1]), order - 1, (*path, "fwd"), tangents)
            if "rev" in self.modes:
                cts = [f"cotangent of {name}" for name in self.names]
                self.run(lambda *xs: list(vjp(fn, *xs)[1](us)), order - 1, (*path, "rev"), cts)

    def check_level(self, fn: Callable, path: tuple[str, ...], vs: list, us: list, outs) -> None:
        tol, cache = self.tol, {}

        def fd(i):
            if i not in cache:
                cache[i] = self.finite_difference(fn, self.only(vs, i))
            return cache[i]

        def tangent(i):
            if ("jvp", i) not in cache:
                cache["jvp", i] = list(jvp(fn, self.xs, self.only(vs, i))[1])
            return cache["jvp", i]

        def fwd(i):
            return compare_arrays(fd(i), tangent(i), tol.rtol, tol.atol, outs)

        cts = list(vjp(fn, *self.xs)[1](us)) if "rev" in self.modes else []

        def rev(i):
            (e, scale), (g, _) = _inner(us, fd(i)), _inner(cts, self.only(vs, i))
            return self.scalar_verdict(e, g, scale, tol.rtol, tol.atol, "fd")

        def dot(i):
            (e, scale), (g, _) = _inner(us, tangent(i)), _inner(cts, self.only(vs, i))
            return self.scalar_verdict(e, g, scale, tol.dot_rtol, tol.dot_atol, "jvp")

        if "fwd" in self.modes:
            self.verify(fwd, "fwd", path, vs, None, tol.rtol, tol.atol)
        if "rev" in self.modes:
            self.verify(rev, "rev", path, vs, us, tol.rtol, tol.atol)
        if "fwd" in self.modes and "rev" in self.modes:
            self.verify(dot, "dot", path, vs, us, tol.dot_rtol, tol.dot_atol)

    def scalar_verdict(self, e, g, scale, rtol, atol, source) -> Verdict | None:
        verdict = compare_scalars(e, g, scale, rtol, atol)
        if verdict is not None:
            how = "central differences" if source == "fd" else "fnad.jvp"
            verdict.lines = [
                f"  expected <u, J v> by {how}: {e:.10g}",
                f"  got      <J^T u, v> by fnad.vjp: {g:.10g}",
            ]
        return verdict

    def verify(self, check: Callable, kind: str, path, vs, us, rtol, atol) -> None:
        """Run ``check`` on all leaves at once; on failure find the leaf that fails alone."""
        verdict = check(None)
        if verdict is None:
            return
        who, leaf = "all arguments together (no single leaf fails alone)", None
        for i in range(len(self.xs)):
            alone = check(i)
            if alone is not None:
                who, leaf, verdict = self.names[i], i, alone
                break
        raise AssertionError(self.message(kind, path, who, leaf, vs, us, verdict, rtol, atol))

    def message(self, kind, path, who, leaf, vs, us, verdict, rtol, atol) -> str:
        order = len(path) + 1
        mode = "rev" if kind == "dot" else kind
        against = "forward mode (fnad.jvp)" if kind == "dot" else "central finite differences"
        direction = _show(vs[leaf]) if leaf is not None else _show_all(vs)
        lines = [
            f"fnad.testing.check_grads: mode '{mode}' at order {order} disagrees with {against}",
            f"  argument: {who}",
            f"  function: {describe(path)}",
            f"  direction v: {direction}",
        ]
        if us is not None:
            lines.append(f"  cotangent u: {_show_all(us)}")
        lines += verdict.lines
        lines.append(f"  worst relative error: {verdict.rel:.3g} (rtol={rtol:g}, atol={atol:g})")
        if kind != "dot":
            lines.append(f"  finite-difference step eps={self.tol.eps:g}")
            lines.append(_KINK_HINT)
        return "\n".join(lines)


def describe(path: tuple[str, ...]) -> str:
    """The function checked at a level: ``f``, ``jvp(f, x, t1)[1]``, ``vjp(...)[1](u2)``..."""
    text = "f"
    for k, mode in enumerate(path, start=1):
        text = f"x -> jvp({text}, x, t{k})[1]" if mode == "fwd" else f"x -> vjp({text}, x)[1](u{k})"
        text = text if k == len(path) else f"({text})"
    if path:
        text += " for fixed random directions t, u (each order differentiates the one below)"
    return text


def check_grads(
    f: Callable,
    args: Sequence[Any],
    order: int = 2,
    modes: Sequence[str] = MODES,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    *,
    seed: int = 0,
) -> None:
    """Check ``f``'s forward and reverse derivatives up to ``order`` at ``args``.

    ``args`` is the tuple of positional arguments (pytrees of arrays). Every floating-point
    leaf is differentiated; other leaves (integer indices, masks) are held fixed. Forward
    mode is compared with central finite differences along random directions, reverse mode
    likewise through ``<u, J v>``, and the two with each other by the dot-product test;
    ``order=2`` also checks the derivatives of the derivative functions, and so on. The
    step and tolerances default to the least precise float dtype among inputs and outputs
    (float64: ``eps=1e-6, rtol=1e-5, atol=1e-6``; float32: ``eps=1e-3, rtol=atol=2e-2``).
    Directions come from ``numpy.random.default_rng(seed)``. Raises ``AssertionError``
    naming the argument, mode, order, direction, expected and got values.

    >>> import numpy as np
    >>> check_grads(lambda x, y: np.sin(x) * y, (np.ones(3), np.arange(3.0)), order=2)
    """
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            "fnad.testing.check_grads: args must be a tuple of positional arguments, got "
            f"{type(args).__name__}; write check_grads(f, (x,)) for one argument"
        )
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"fnad.testing.check_grads: order must be an int >= 1, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(m not in MODES for m in modes):
        raise ValueError(
            f"fnad.testing.check_grads: modes must be a non-empty subset of {MODES}, got {modes!r}"
        )
    args = tuple(args)
    leaves, in_tree = tree_flatten(args)
    leaves = [x if hasattr(x, "dtype") else np.asarray(x) for x in leaves]
    names = describe_leaves(f, args)
    for name, x in zip(names, leaves):
        if np.iscomplexobj(x):
            raise TypeError(
                f"fnad.testing.check_grads: {name} is complex ({np.asarray(x).dtype}); "
                "check_grads differentiates real floating-point inputs only"
            )
    positions = [k for k, x in enumerate(leaves) if _is_float(x)]
    if not positions:
        raise TypeError(
            "fnad.testing.check_grads: f has no floating-point input to differentiate; got "
            f"leaves of dtypes {[str(np.asarray(x).dtype) for x in leaves]}"
        )
    out = f(*args)
    out_leaves = tree_leaves(out)
    out_float = [k for k, o in enumerate(out_leaves) if _is_float(o)]
    out_names = [f"output {path}" if path else "output" for path in leaf_paths(out)]

    def flat(*xs: Any) -> list[Any]:
        full = list(leaves)
        for k, x in zip(positions, xs):
            full[k] = x
        outs = tree_leaves(f(*tree_unflatten(in_tree, full)))
        return [outs[k] for k in out_float]

    dtypes = [leaves[k].dtype for k in positions] + [
        np.asarray(out_leaves[k]).dtype for k in out_float
    ]
    tol = default_tolerance(dtypes, eps, rtol, atol)
    xs = [leaves[k] for k in positions]
    checker = _Checker(xs, [names[k] for k in positions], tol, modes, seed)
    checker.run(flat, order, (), [out_names[k] for k in out_float])
