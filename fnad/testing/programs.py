"""Random well-typed programs over fnad's primitives, with inputs in every primitive's domain.

A :class:`Program` is a list of :class:`Step` s (one primitive applied to earlier values)
and its input arrays; calling it runs the steps with ``bind``, so it runs on NumPy arrays,
under tracing, under ``jit`` and under every transform. Its ``repr`` is the step list.

:func:`candidate_steps` lists every step that may follow, given the concrete values so far:
a step is offered only when its inputs are in the primitive's domain (``log`` of values
>= 0.1, division by values at least 0.2 away from zero...), when its result stays finite
and bounded, and, for *smooth* programs, at least ``MARGIN`` away from kinks and ties
(``abs`` near 0, ``maximum`` of near-equal values, ``floor`` near an integer), where
finite differences say nothing. ``fnad.testing.strategies.programs`` draws from it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from fnad.core.primitive import PRIMITIVES
from fnad.core.trace import bind
from fnad.ops.indexing import IndexSpec

#: Every value of a program stays finite and at most this large in magnitude.
LIMIT = 1e3
#: Smooth programs keep inputs of kinked primitives this far from a kink or a tie.
MARGIN = 0.05
#: No value of a program has more elements than this.
MAX_SIZE = 64


@dataclass(frozen=True)
class Step:
    """``values.append(op(*values[args], **params))``."""

    op: str
    args: tuple[int, ...]
    params: tuple[tuple[str, Any], ...] = ()

    def apply(self, values: list[Any]) -> Any:
        xs, params = [values[i] for i in self.args], dict(self.params)
        if self.op == "select":
            cond = bind(PRIMITIVES[params["compare"]], xs[0], xs[1])
            return bind(PRIMITIVES["select"], cond, xs[2], xs[3])
        if self.op == "gather":
            extra = [np.asarray(params.pop("indices"))] if "indices" in params else []
            return bind(PRIMITIVES["gather"], xs[0], *extra, **params)
        return bind(PRIMITIVES[self.op], *xs, **params)

    def format(self, names: list[str]) -> str:
        xs, params = [names[i] for i in self.args], dict(self.params)
        if self.op == "select":
            return f"select({params['compare']}({xs[0]}, {xs[1]}), {xs[2]}, {xs[3]})"
        if self.op == "gather" and "indices" in params:
            return f"gather[index={params['index']}]({xs[0]}, a0=np.array({params['indices']}))"
        shown = ", ".join(f"{k}={_param(v)}" for k, v in self.params)
        return f"{self.op}{f'[{shown}]' if shown else ''}({', '.join(xs)})"


def _param(value: Any) -> str:
    return value.name if isinstance(value, np.dtype) else str(value)


@dataclass(frozen=True, eq=False)
class Program:
    """A callable made of ``steps``, with matching inputs ``args``: ``prog(*prog.args)``."""

    steps: tuple[Step, ...]
    args: tuple[np.ndarray, ...]

    def __call__(self, *xs: Any) -> Any:
        if len(xs) != len(self.args):
            raise TypeError(f"this program takes {len(self.args)} inputs, got {len(xs)}")
        values = list(xs)
        for step in self.steps:
            values.append(step.apply(values))
        return values[-1]

    def __repr__(self) -> str:
        names = [f"x{k}" for k in range(len(self.args))]
        lines = [
            f"  x{k} = np.array({x.tolist()!r}, dtype='{x.dtype.name}')"
            for k, x in enumerate(self.args)
        ]
        for step in self.steps:
            names.append(f"v{len(names)}")
            lines.append(f"  {names[-1]} = {step.format(names)}")
        return "\n".join(["Program:", *lines, f"  return {names[-1]}"])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # NOTE: hypothesis prints falsifying examples with this hook; without it a dataclass
        # shows its fields instead of the step listing.
        printer.text(repr(self))


# --- domains -------------------------------------------------------------------------------

Predicate = Callable[..., bool]


def within(lo: float, hi: float) -> Predicate:
    return lambda x: bool(np.all((x >= lo) & (x <= hi)))


def away_from_zero(margin: float) -> Predicate:
    return lambda x: bool(np.all(np.abs(x) >= margin))


def away_from_integers(offset: float = 0.0) -> Predicate:
    def ok(x):
        shifted = np.asarray(x, np.float64) - offset
        return bool(np.all(np.abs(shifted - np.round(shifted)) >= MARGIN))

    return ok


def _apart(x, y) -> bool:
    return bool(np.all(np.abs(x - y) >= MARGIN))


def _off_origin(x, y) -> bool:
    return bool(np.all(x * x + y * y >= 0.04))


def _off_branch_cut(x, y) -> bool:
    """arctan2(x, y) jumps by 2 pi where x crosses 0 with y < 0."""
    return _off_origin(x, y) and bool(np.all((np.abs(x) >= MARGIN) | (y > 0)))


# name -> (domain: always required, smooth: required in smooth programs)
UNARY: dict[str, tuple[Predicate | None, Predicate | None]] = {
    "neg": (None, None),
    "sin": (None, None),
    "cos": (None, None),
    "tanh": (None, None),
    "exp": (within(-4, 4), None),
    "log": (within(0.1, np.inf), None),
    "square": (None, None),
    "sqrt": (within(0.1, np.inf), None),
    "reciprocal": (away_from_zero(0.2), None),
    "arctan": (None, None),
    "arcsinh": (None, None),
    "sinh": (within(-4, 4), None),
    "cosh": (within(-4, 4), None),
    "exp2": (within(-4, 4), None),
    "expm1": (within(-4, 4), None),
    "log1p": (within(-0.9, np.inf), None),
    "log2": (within(0.1, np.inf), None),
    "log10": (within(0.1, np.inf), None),
    "cbrt": (within(0.1, np.inf), None),
    "tan": (within(-1.2, 1.2), None),
    "arcsin": (within(-0.9, 0.9), None),
    "arccos": (within(-0.9, 0.9), None),
    "arctanh": (within(-0.9, 0.9), None),
    "arccosh": (within(1.2, np.inf), None),
    "abs": (None, away_from_zero(MARGIN)),
    "sign": (None, away_from_zero(MARGIN)),
    "floor": (None, away_from_integers()),
    "ceil": (None, away_from_integers()),
    "trunc": (None, away_from_integers()),
    "rint": (None, away_from_integers(0.5)),
}

# name -> (domain(x, y), smooth(x, y))
BINARY: dict[str, tuple[Predicate | None, Predicate | None]] = {
    "add": (None, None),
    "mul": (None, None),
    "sub": (None, None),
    "div": (lambda x, y: away_from_zero(0.2)(y), None),
    "pow": (lambda x, y: within(0.2, np.inf)(x) and within(-3, 3)(y), None),
    "maximum": (None, _apart),
    "minimum": (None, _apart),
    "logaddexp": (None, None),
    "hypot": (None, _off_origin),
    "arctan2": (None, _off_branch_cut),
}


# --- candidate steps -----------------------------------------------------------------------

Candidates = Callable[[list[np.ndarray], int, bool], Iterator[Step]]


def _partners(values: list[np.ndarray], i: int) -> list[int]:
    """Values that may meet ``values[i]`` in a strict elementwise primitive."""
    x = values[i]
    return [j for j, y in enumerate(values) if y.shape == x.shape and y.dtype == x.dtype]


def _unary(name: str, domain: Predicate | None, smooth_at: Predicate | None) -> Candidates:
    def candidates(values, i, smooth):
        x = values[i]
        if (domain is None or domain(x)) and not (smooth and smooth_at and not smooth_at(x)):
            yield Step(name, (i,))

    return candidates


def _binary(name: str, domain: Predicate | None, smooth_at: Predicate | None) -> Candidates:
    def candidates(values, i, smooth):
        for j in _partners(values, i):
            for a, b in dict.fromkeys([(i, j), (j, i)]):
                x, y = values[a], values[b]
                if domain is not None and not domain(x, y):
                    continue
                if not (smooth and smooth_at and not smooth_at(x, y)):
                    yield Step(name, (a, b))

    return candidates


def _integer_pow(values, i, smooth):
    for n in (2, 3, -1):
        if n > 0 or away_from_zero(0.2)(values[i]):
            yield Step("integer_pow", (i,), (("n", n),))


def _axis_subsets(ndim: int) -> list[tuple[int, ...]]:
    return [c for r in range(1, ndim + 1) for c in itertools.combinations(range(ndim), r)]


def _reduction(name: str) -> Candidates:
    def candidates(values, i, smooth):
        x = values[i]
        for axes in _axis_subsets(x.ndim):
            if name in ("reduce_max", "reduce_min") and smooth and not _no_ties(x, axes):
                continue
            yield Step(name, (i,), (("axes", axes),))

    return candidates


def _no_ties(x: np.ndarray, axes: tuple[int, ...]) -> bool:
    """Whether the two largest and two smallest entries along ``axes`` are MARGIN apart."""
    kept = [a for a in range(x.ndim) if a not in axes]
    flat = np.sort(np.transpose(x, (*kept, *axes)).reshape(*(x.shape[a] for a in kept), -1))
    if flat.shape[-1] < 2:
        return True
    gaps = np.stack([flat[..., -1] - flat[..., -2], flat[..., 1] - flat[..., 0]])
    return bool(np.all(gaps >= MARGIN))


def _reshape(values, i, smooth):
    shape = values[i].shape
    options = [(int(np.prod(shape)),), shape[::-1], (*shape, 1), (1, *shape)]
    for new in dict.fromkeys(options):
        if new != shape and len(new) <= 4:
            yield Step("reshape", (i,), (("shape", new),))


def _transpose(values, i, smooth):
    ndim = values[i].ndim
    for perm in itertools.permutations(range(ndim)):
        if perm != tuple(range(ndim)):
            yield Step("transpose", (i,), (("perm", perm),))


def _broadcast_to(values, i, smooth):
    shape = values[i].shape
    options = [(2, *shape)] if len(shape) < 3 else []
    options += [shape[:a] + (3,) + shape[a + 1 :] for a, d in enumerate(shape) if d == 1]
    # The shapes of other values it broadcasts to, so that it can meet them.
    options += [y.shape for y in values if _broadcasts(shape, y.shape)]
    for new in dict.fromkeys(options):
        yield Step("broadcast_to", (i,), (("shape", new),))


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    lead = len(target) - len(shape)
    return (
        shape != target
        and lead >= 0
        and all(d in (1, target[lead + a]) for a, d in enumerate(shape))
    )


def _concatenate(values, i, smooth):
    for j in _partners(values, i):
        for axis in range(values[i].ndim):
            yield Step("concatenate", (i, j), (("axis", axis),))


def _einsum(values, i, smooth):
    x = values[i]
    letters = "abcd"[: x.ndim]
    for j in _partners(values, i):
        for r in range(x.ndim + 1):
            for out in itertools.combinations(letters, r):
                yield Step("einsum", (i, j), (("spec", f"{letters},{letters}->{''.join(out)}"),))
    for j, y in enumerate(values):
        if x.ndim and y.ndim and y.dtype == x.dtype and y.shape[0] == x.shape[-1]:
            other = letters[-1] + "wxyz"[: y.ndim - 1]
            spec = f"{letters},{other}->{letters[:-1]}{other[1:]}"
            yield Step("einsum", (i, j), (("spec", spec),))


def _gather(values, i, smooth):
    x = values[i]
    for axis, d in enumerate(x.shape):
        if d < 2:
            continue
        for entry in (slice(1, None), slice(None, None, -1), slice(None, None, 2), 0):
            index = IndexSpec(tuple(entry if a == axis else slice(None) for a in range(x.ndim)))
            yield Step("gather", (i,), (("index", index),))
        index = IndexSpec(tuple(("array", 0) if a == axis else slice(None) for a in range(x.ndim)))
        yield Step("gather", (i,), (("index", index), ("indices", (0, 0, d - 1))))


def _select(values, i, smooth):
    for j in _partners(values, i):
        if j == i or (smooth and not _apart(values[i], values[j])):
            continue
        for compare in ("less", "greater"):
            for c, d in ((i, j), (j, i)):
                yield Step("select", (i, j, c, d), (("compare", compare),))


def _convert(values, i, smooth):
    x = values[i]
    if x.dtype == np.float32:
        yield Step("convert", (i,), (("dtype", np.dtype(np.float64)),))
    elif not smooth:
        yield Step("convert", (i,), (("dtype", np.dtype(np.float32)),))


#: Every op a program may use, simplest first (hypothesis shrinks towards the front).
OPS: dict[str, Candidates] = {
    **{name: _binary(name, *preds) for name, preds in list(BINARY.items())[:3]},
    **{name: _unary(name, *preds) for name, preds in list(UNARY.items())[:3]},
    "reduce_sum": _reduction("reduce_sum"),
    **{name: _unary(name, *preds) for name, preds in list(UNARY.items())[3:]},
    **{name: _binary(name, *preds) for name, preds in list(BINARY.items())[3:]},
    "integer_pow": _integer_pow,
    "reduce_prod": _reduction("reduce_prod"),
    "reduce_max": _reduction("reduce_max"),
    "reduce_min": _reduction("reduce_min"),
    "reshape": _reshape,
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "concatenate": _concatenate,
    "einsum": _einsum,
    "gather": _gather,
    "select": _select,
    "convert": _convert,
}


def _fits(step: Step, values: list[np.ndarray]) -> np.ndarray | None:
    """The step's value when it is finite, bounded and small enough, else None."""
    with np.errstate(all="ignore"):
        out = np.asarray(step.apply(values))
    if out.size > MAX_SIZE or not np.issubdtype(out.dtype, np.floating):
        return None
    if not np.all(np.isfinite(out)) or np.any(np.abs(out) > LIMIT):
        return None
    return out


def candidate_steps(
    values: list[np.ndarray], smooth: bool = True, ops: list[str] | None = None
) -> dict[str, list[Step]]:
    """Every op with the steps it may take next on ``values[-1]`` (as first or other input)."""
    names = list(OPS) if ops is None else [n for n in OPS if n in ops]
    out = {}
    for name in names:
        steps = [
            s for s in OPS[name](values, len(values) - 1, smooth) if _fits(s, values) is not None
        ]
        if steps:
            out[name] = steps
    return out


def check_op_names(ops: list[str] | None) -> None:
    unknown = sorted(set(ops or ()) - set(OPS))
    if unknown:
        raise ValueError(f"fnad.testing: unknown program ops {unknown}; known: {sorted(OPS)}")
