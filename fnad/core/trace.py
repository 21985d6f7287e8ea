"""Tracing: recording primitive applications into a graph.

A ``Builder`` is one trace. Its ``Tracer`` objects stand in for arrays in user code; every
primitive applied to them goes through ``bind``, the single interception point, which
appends a ``Node``. Builders nest (``grad(grad(f))``, ``jit(grad(f))``): ``bind`` records
into the innermost builder among its arguments, and tracers of outer builders used inside
an inner one become inputs of the inner graph ("captured"), so closures work.

Two kinds of builder (DESIGN.md, "two kinds of graph"):

* concrete (dynamic, define-by-run): each tracer also carries ``val``, the value it stands
  for. ``val`` is an array at the top level, or a tracer of the enclosing builder when
  nested, so computing it records the same step one level out. Python control flow on a
  tracer works by looking at ``val``.
* abstract (static): ``val`` is None; only shape and dtype are known. Python control flow
  on such a tracer raises ``ConcretizationError``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from fnad.core.graph import Atom, Graph, Literal, Node, Var
from fnad.core.primitive import Primitive
from fnad.core.spec import ArraySpec, spec_of

_FNAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))

#: Active builders, innermost last. One of fnad's three pieces of global state.
_STACK: list[Builder] = []
#: The hint recorded variables get now, innermost last (``var_hint``; part of the stack).
_HINTS: list[str] = [""]


class ConcretizationError(TypeError):
    """Python needed a concrete value (``if``, ``float()``...) of an abstract traced value."""


class LeakedTracerError(RuntimeError):
    """A tracer was used after the transform that created it had finished."""


def leaked(builder: Builder) -> LeakedTracerError:
    return LeakedTracerError(
        f"fnad: a traced value escaped the trace of {builder.name} and was used after that "
        "trace finished (stored in a global, an attribute or a closure?); return it from "
        f"the function instead\n  at {user_location()}"
    )


@contextlib.contextmanager
def var_hint(hint: str) -> Iterator[None]:
    """Variables recorded inside the block get ``hint``: the backward pass marks its own
    this way, so pictures of a gradient graph can tell it from the forward part."""
    _HINTS.append(hint)
    try:
        yield
    finally:
        _HINTS.pop()


def node_hint(node: Node) -> contextlib.AbstractContextManager:
    """Record under ``node``'s hint, when it has one: a transform re-recording a gradient's
    backward nodes (vmap, jacrev) keeps them marked as backward."""
    hint = node.outs[0].hint if node.outs else ""
    return var_hint(hint) if hint else contextlib.nullcontext()


def user_location() -> str:
    """``file:line`` of the innermost stack frame outside fnad and NumPy."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith((_FNAD_DIR + os.sep, _NUMPY_DIR + os.sep)):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def scipy_hint() -> str:
    """Where a conversion happens inside a SciPy function written in Python (SciPy calls
    ``np.asarray`` on its arguments first, so no protocol reaches fnad), the advice to
    call fnad's namesake instead, at the line that called SciPy; otherwise ``""``."""
    caller, frame = None, sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("scipy."):
            caller = (".".join(module.split(".")[:2]), frame.f_code.co_qualname)
        elif not frame.f_code.co_filename.startswith((_FNAD_DIR + os.sep, _NUMPY_DIR + os.sep)):
            break
        frame = frame.f_back
    if caller is None or frame is None:
        return ""
    public, name = caller
    try:
        ours = getattr(importlib.import_module(f"fnad.{public}"), name, None)
    except ImportError:
        ours = None
    advice = (
        f"use fnad.{public}.{name}, which has the same signature"
        if callable(ours)
        else "docs/numpy-coverage.md lists the SciPy functions fnad.scipy provides"
    )
    return (
        f"fnad: {public}.{name} converts its arguments with np.asarray, so it cannot "
        f"trace them; {advice}.\n  at {frame.f_code.co_filename}:{frame.f_lineno}"
    )


def with_location(exc: Exception) -> Exception:
    """Append the user's source line to an exception raised while tracing."""
    if exc.args and isinstance(exc.args[0], str) and "\n  at " not in exc.args[0]:
        exc.args = (f"{exc.args[0]}\n  at {user_location()}", *exc.args[1:])
    return exc


class Tracer:
    """A stand-in for an array inside a traced function.

    Operators, methods and NumPy's protocols are installed by ``fnad.numpy``.
    """

    __slots__ = ("builder", "ref", "val")
    __array_priority__ = 1000

    def __init__(self, builder: Builder, var: Var, val: Any) -> None:
        self.builder = builder
        self.ref = var
        self.val = val

    @property
    def spec(self) -> ArraySpec:
        return self.ref.spec

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ref.spec.shape

    @property
    def dtype(self) -> np.dtype:
        return self.ref.spec.dtype

    @property
    def ndim(self) -> int:
        return len(self.ref.spec.shape)

    @property
    def size(self) -> int:
        return self.ref.spec.size

    def __repr__(self) -> str:
        kind = "abstract" if self.val is None else "concrete"
        return f"Tracer<{self.ref.spec!r}, {kind}, level {self.builder.level}>"

    def concrete(self, what: str) -> Any:
        """The value behind this tracer, for Python code that needs one (``if x > 0``)."""
        if self.val is None:
            raise ConcretizationError(
                f"fnad: {what} needs a concrete value, but this {self.ref.spec!r} array is "
                f"abstract: under jit/make_graph only shapes and dtypes are known.\n"
                f"  at {user_location()}\n"
                "Mark the argument static (static_argnums=...), use fnad.numpy.where for "
                "elementwise choices, or structured control flow (fnad.cond, fnad.while_loop)."
            )
        return self.val

    def __bool__(self) -> bool:
        return bool(self.concrete("bool() (an if, while, and/or on a traced value)"))

    def __float__(self) -> float:
        return float(self.concrete("float()"))

    def __int__(self) -> int:
        return int(self.concrete("int()"))

    def __index__(self) -> int:
        return int(self.concrete("use as an index or size").__index__())

    def __complex__(self) -> complex:
        return complex(self.concrete("complex()"))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            scipy_hint()
            or "fnad: a traced value cannot be converted to a NumPy array (np.asarray, np.array, "
            "or a NumPy function fnad does not handle). Inside traced functions use "
            "fnad.numpy (e.g. fnp.stack, fnp.asarray) so the operation is recorded.\n"
            f"  at {user_location()}"
        )

    def __hash__(self) -> int:
        return id(self)

    def rebind(self, new: Tracer) -> None:
        """Make this tracer stand for ``new`` from now on: ``x[idx] = v`` in user code."""
        # NOTE: the graph stays in SSA form; only this Python object moves on to the new
        # variable, so every name bound to it sees the update, as with a NumPy array.
        self.builder, self.ref, self.val = new.builder, new.ref, new.val

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("fnad: len() of a 0-d traced array")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Builder:
    """Records the nodes of one trace. Use as a context manager; ``finish`` makes the graph.
    ``name`` says in errors whose trace it is (``jit(f)``)."""

    def __init__(self, concrete: bool, name: str = "a traced function") -> None:
        self.concrete = concrete
        self.name = name
        self.level = len(_STACK)
        self.active = False
        self.inputs: list[Var] = []
        self.nodes: list[Node] = []
        self.captured: dict[int, tuple[Var, Any]] = {}
        #: Var -> the value it stands for (concrete builders only).
        self.vals: dict[Var, Any] = {}

    def __enter__(self) -> Builder:
        self.level = len(_STACK)
        self.active = True
        _STACK.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False
        popped = _STACK.pop()
        assert popped is self, "fnad: trace stack out of order"

    def new_input(self, spec: ArraySpec, val: Any = None, hint: str = "") -> Tracer:
        var = Var(spec, hint)
        self.inputs.append(var)
        if self.concrete:
            self.vals[var] = val
        return Tracer(self, var, val if self.concrete else None)

    def lift(self, x: Any) -> Atom:
        """The atom standing for ``x`` in this graph; outer tracers become captured inputs."""
        if isinstance(x, Tracer):
            if x.builder is self:
                return x.ref
            if not x.builder.active:
                raise leaked(x.builder)
            hit = self.captured.get(id(x))
            if hit is None:
                var = Var(x.spec)
                self.captured[id(x)] = hit = (var, x)
                if self.concrete:
                    self.vals[var] = x
            return hit[0]
        return Literal(np.asarray(x))

    def apply(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
        if not self.active:
            # NOTE: fnad.numpy records into the innermost builder of its arguments without
            # bind, so this check, not bind's, is the one every recorded step passes.
            raise leaked(self)
        atoms = tuple(self.lift(a) for a in args)
        try:
            specs = prim.abstract(*(a.spec for a in atoms), **params)
        except (TypeError, ValueError, IndexError) as exc:
            raise with_location(exc) from None
        specs = specs if prim.multiple_results else (specs,)
        outs = tuple(Var(s, _HINTS[-1]) for s in specs)
        self.nodes.append(Node(prim, atoms, params, outs))
        if self.concrete:
            in_vals = [self.vals[a] if isinstance(a, Var) else a.value for a in atoms]
            if any(isinstance(v, Tracer) for v in in_vals):
                vals = bind(prim, *in_vals, **params)
            elif self.level > 0:
                # NOTE: nested in another trace, steps on constants are recorded one level
                # out rather than folded, or a broadcast constant would enter that graph
                # as a literal as large as the array.
                vals = _STACK[self.level - 1].apply(prim, in_vals, params)
            else:
                vals = run_impl(prim, in_vals, params)
            vals = vals if prim.multiple_results else (vals,)
            for var, val in zip(outs, vals):
                self.vals[var] = val
        else:
            vals = (None,) * len(outs)
        tracers = tuple(Tracer(self, v, val) for v, val in zip(outs, vals))
        return tracers if prim.multiple_results else tracers[0]

    def finish(self, outputs: Sequence[Any]) -> Graph:
        """The recorded graph; captured outer values are appended to its inputs."""
        outs = tuple(self.lift(x) for x in outputs)
        inputs = tuple(self.inputs) + tuple(var for var, _ in self.captured.values())
        return Graph(inputs, tuple(self.nodes), outs)


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``prim``: record it if any argument is traced, else run its NumPy impl."""
    builder = None
    for a in args:
        if isinstance(a, Tracer) and (builder is None or a.builder.level > builder.level):
            builder = a.builder
    if builder is None:
        if not (_STACK and _grows_constants(prim, args, params)):
            return run_impl(prim, args, params)
        # NOTE: inside a trace, a step that makes a constant larger (a broadcast, an iota)
        # is recorded on the innermost trace: folded, it would enter the graph as a literal
        # as large as the array, which a fused loop could have computed from its indices.
        builder = _STACK[-1]
    return builder.apply(prim, args, params)


def run_impl(prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
    """``prim``'s NumPy implementation, run outside every trace (an implementation that
    evaluates a sub-graph must compute, not record on the trace that called it)."""
    if not _STACK:
        return prim.impl(*args, **params)
    saved = _STACK[:]
    _STACK.clear()
    try:
        return prim.impl(*args, **params)
    finally:
        _STACK[:] = saved


def _grows_constants(prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> bool:
    if not args:
        return True
    return prim.name == "broadcast_to" and np.size(args[0]) < int(np.prod(params["shape"]))


def read(env: dict[Var, Any], atom: Atom) -> Any:
    return atom.value if isinstance(atom, Literal) else env[atom]


def eval_graph(graph: Graph, *args: Any) -> list[Any]:
    """Run ``graph`` on ``args`` with ``bind``: NumPy on arrays, recording on tracers.

    This is the reference interpreter every backend is tested against.
    """
    return eval_env(graph, args)[1]


def eval_env(graph: Graph, args: Sequence[Any]) -> tuple[dict[Var, Any], list[Any]]:
    """Like ``eval_graph`` but also returns the value of every variable."""
    if len(args) != len(graph.inputs):
        raise TypeError(f"fnad: graph takes {len(graph.inputs)} inputs, got {len(args)}")
    env: dict[Var, Any] = dict(zip(graph.inputs, args))
    for node in graph.nodes:
        with node_hint(node):
            out = bind(node.prim, *(read(env, a) for a in node.inputs), **node.params)
        if node.prim.multiple_results:
            env.update(zip(node.outs, out))
        else:
            env[node.outs[0]] = out
    return env, [read(env, a) for a in graph.outputs]


def trace_graph(
    fn: Callable[..., Sequence[Any]], specs: Sequence[ArraySpec], name: str = "a traced function"
) -> Graph:
    """Trace ``fn(*tracers) -> list of outputs`` abstractly into a graph; ``name`` says
    whose trace it is in errors."""
    with Builder(concrete=False, name=name) as builder:
        tracers = [builder.new_input(s) for s in specs]
        outs = fn(*tracers)
        graph = builder.finish(outs)
    if builder.captured:
        raise ValueError("fnad: trace_graph's function closed over traced values")
    return graph


def to_spec(x: Any, argname: str = "argument") -> ArraySpec:
    """The spec for a function argument: an ArraySpec, a tracer, or array-like data."""
    if isinstance(x, ArraySpec):
        return x
    try:
        spec = spec_of(x)
    except Exception as exc:
        raise TypeError(f"fnad: {argname} must be array-like, got {type(x).__name__}") from exc
    if spec.dtype == object:
        raise TypeError(f"fnad: {argname} must be a numeric array, got {type(x).__name__}")
    return spec
