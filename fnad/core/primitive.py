"""Primitives and the registry: every operation fnad knows is declared once, here described.

A ``Primitive`` bundles everything about one operation: its shape/dtype rule (``abstract``),
its NumPy reference implementation (``impl``), its JVP and VJP rules written with fnad
operations (so derivatives are themselves differentiable graphs), its batching rule, its
scalar code template for fused loops, and test inputs for the registry-driven suite.

Rule calling conventions (``xs`` are the primal inputs, arrays or tracers):

* ``vjp(ct, *xs, out=out, **params)`` returns one cotangent per input; ``None`` is a
  symbolic zero. Multi-output primitives receive a tuple ``cts`` and ``outs=``.
* ``jvp(ts, *xs, out=out, **params)`` receives one tangent per input (``None`` for zero)
  and returns the output tangent (a tuple for multi-output primitives).
* ``batch(xs, batched, size, **params)`` receives the inputs with the batch axis first
  where ``batched[i]`` (unbatched inputs as they are) and returns the output batched
  along its first axis of length ``size`` (a tuple of such for multi-output primitives).
  Elementwise primitives get a default: unbatched operands are broadcast.

Rule families (``unary``, ``binary``, ``compare``) keep most declarations to one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fnad.core.spec import ArraySpec

Rule = Callable[..., Any]

#: The registry: primitive name -> Primitive. One of fnad's three pieces of global state.
PRIMITIVES: dict[str, Primitive] = {}


@dataclass(eq=False)
class Primitive:
    """One operation fnad can trace, differentiate, batch and compile, declared once.

    ``impl(*arrays, **params)`` is the NumPy reference, ``abstract(*specs, **params)`` the
    shape/dtype rule; ``vjp``, ``jvp`` and ``batch`` follow the calling conventions in
    this module's docstring. ``register`` adds it to ``PRIMITIVES``; ``bind`` applies it::

        double_p = register(Primitive(
            "double", impl=lambda x: 2 * x, abstract=lambda spec: spec,
            vjp=lambda ct, x, *, out: (2 * ct,), jvp=lambda ts, x, *, out: 2 * ts[0],
            scalar="2 * {x}", elementwise=True))
        y = bind(double_p, x)
    """

    name: str
    impl: Rule
    abstract: Rule
    vjp: Rule | None = None
    jvp: Rule | None = None
    batch: Rule | None = None
    #: Python expression template for fused loops, e.g. ``"math.sin({x})"``.
    scalar: str | None = None
    #: ``cases(rng) -> [(args, params), ...]``: inputs for the registry-driven tests.
    cases: Callable[[np.random.Generator], list[tuple[tuple, dict]]] | None = None
    multiple_results: bool = False
    #: Outputs never carry derivatives (comparisons, argmax...): no rule is needed.
    nondiff: bool = False
    #: Elementwise primitives are fused into loops by the compiler.
    elementwise: bool = False
    tags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch is None and self.elementwise:
            self.batch = self._batch_elementwise

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def _batch_elementwise(self, xs: tuple, batched: tuple, size: int, **params: Any) -> Any:
        from fnad.core.trace import bind
        from fnad.ops.shape import batch_all

        return bind(self, *batch_all(xs, batched, size), **params)

    def rule(self, kind: str) -> Rule:
        """The named rule, or a clear error when this primitive lacks it."""
        fn = getattr(self, kind)
        if fn is None:
            why = self.tags.get("first_order_only")
            raise NotImplementedError(
                f"fnad: primitive '{self.name}' has no {kind} rule" + (f" ({why})" if why else "")
            )
        return fn


def register(prim: Primitive) -> Primitive:
    if prim.name in PRIMITIVES:
        raise ValueError(f"fnad: primitive '{prim.name}' is declared twice")
    PRIMITIVES[prim.name] = prim
    return prim


def same_spec(*specs: ArraySpec, **params: Any) -> ArraySpec:
    """Shape rule of strict elementwise primitives: all inputs share one shape and dtype."""
    first = specs[0]
    for spec in specs[1:]:
        if spec != first:
            raise TypeError(f"fnad: strict elementwise operands differ: {first!r} vs {spec!r}")
    return first


def float_cases(arity: int, domain: tuple[float, float]) -> Callable:
    lo, hi = domain

    def cases(rng: np.random.Generator) -> list[tuple[tuple, dict]]:
        return [
            (tuple(rng.uniform(lo, hi, shape) for _ in range(arity)), {})
            for shape in [(), (3,), (2, 3)]
        ]

    return cases


def elementwise(
    name: str,
    np_fn: Callable,
    derivs: tuple[Callable | None, ...],
    *,
    scalar: str | None = None,
    domain: tuple[float, float] = (-2.0, 2.0),
) -> Primitive:
    """An elementwise function with partial derivatives ``d(*xs, out)``, one per input;
    ``None`` declares a zero derivative. JVP and VJP both come from ``derivs``."""

    def vjp(ct, *xs, out):
        return tuple(None if d is None else ct * d(*xs, out) for d in derivs)

    def jvp(ts, *xs, out):
        terms = [t * d(*xs, out) for t, d in zip(ts, derivs) if t is not None and d is not None]
        total = terms[0] if terms else None
        for term in terms[1:]:
            total = total + term
        return total

    return register(
        Primitive(
            name,
            impl=np_fn,
            abstract=same_spec,
            vjp=vjp,
            jvp=jvp,
            scalar=scalar,
            cases=float_cases(len(derivs), domain),
            elementwise=True,
        )
    )


def unary(name: str, np_fn: Callable, *, deriv: Callable | None = None, **kwargs) -> Primitive:
    """An elementwise function of one array. ``deriv(x, out)`` is its derivative;
    ``None`` declares a piecewise-constant function (zero derivative)."""
    return elementwise(name, np_fn, (deriv,), **kwargs)


def binary(name: str, np_fn: Callable, *, derivs: tuple, **kwargs) -> Primitive:
    """An elementwise function of two arrays with partial derivatives ``d(x, y, out)``."""
    return elementwise(name, np_fn, derivs, **kwargs)


def compare(name: str, np_fn: Callable, *, scalar: str, arity: int = 2) -> Primitive:
    """An elementwise predicate: boolean result, no derivative."""

    def abstract(*specs: ArraySpec) -> ArraySpec:
        return ArraySpec(same_spec(*specs).shape, np.dtype(bool))

    return register(
        Primitive(
            name,
            impl=np_fn,
            abstract=abstract,
            scalar=scalar,
            cases=float_cases(arity, (-2.0, 2.0)),
            nondiff=True,
            elementwise=True,
        )
    )
