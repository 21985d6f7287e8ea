"""The graph IR: a flat SSA list of nodes, each variable defined exactly once.

``Graph(inputs, nodes, outputs)`` is immutable. Node inputs are ``Var`` (defined by a graph
input or an earlier node) or ``Literal`` (a constant array held by the graph). Variables
compare by identity; their printed names are assigned in graph order, so printing,
fingerprints and generated source are deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fnad.core.spec import ArraySpec, short_dtype

if TYPE_CHECKING:
    from fnad.core.primitive import Primitive

# NOTE: literals of at most this many elements print their values; larger ones print a
# digest of their bytes, so the printed text still identifies the graph exactly.
_INLINE_SIZE = 4
_PYTHON_DTYPE = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}


@dataclass(frozen=True, eq=False, slots=True)
class Var:
    """A value in a graph. ``hint`` is a readable name suggestion (e.g. the user's name)."""

    spec: ArraySpec
    hint: str = ""


@dataclass(frozen=True, eq=False, slots=True)
class Literal:
    """A constant array used as a node input or a graph output."""

    value: np.ndarray

    @property
    def spec(self) -> ArraySpec:
        return ArraySpec(self.value.shape, self.value.dtype)


Atom = Var | Literal


@dataclass(frozen=True, eq=False, slots=True)
class Node:
    """One primitive application: ``outs = prim(*inputs, **params)``."""

    prim: Primitive
    inputs: tuple[Atom, ...]
    params: dict[str, Any]
    outs: tuple[Var, ...]

    @property
    def out(self) -> Var:
        (out,) = self.outs
        return out


@dataclass(frozen=True, eq=False, slots=True)
class Graph:
    """A pure function from ``inputs`` to ``outputs`` as a list of nodes in execution order.

    >>> import fnad, numpy as np
    >>> print(fnad.make_graph(lambda x: np.sin(x) * x)(np.ones(3)))
    { lambda a:f64[3] .
        b:f64[3] = sin a
        c:f64[3] = mul b a
      return c }
    """

    inputs: tuple[Var, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Atom, ...]

    def __str__(self) -> str:
        return "\n".join(_format(self, _Namer(), indent=0))

    def __repr__(self) -> str:
        return f"<Graph {len(self.inputs)} inputs, {len(self.nodes)} nodes>"

    @property
    def in_specs(self) -> tuple[ArraySpec, ...]:
        return tuple(v.spec for v in self.inputs)

    @property
    def out_specs(self) -> tuple[ArraySpec, ...]:
        return tuple(a.spec for a in self.outputs)

    def fingerprint(self) -> str:
        """A stable digest of the graph's structure, params and constants (hex sha256)."""
        return hashlib.sha256(str(self).encode()).hexdigest()

    def to_json(self, indent: int | None = None) -> str:
        """The graph as JSON text (see ``fnad.serialize``); ``Graph.from_json`` reads it."""
        from fnad.serialize import to_json

        return to_json(self, indent)

    @staticmethod
    def from_json(text: str | bytes) -> Graph:
        """A graph from ``to_json`` text. Never evaluates code from the file."""
        from fnad.serialize import from_json

        return from_json(text)

    def to_dot(self, max_nodes: int = 200) -> str:
        """Graphviz DOT text of the graph (see ``fnad.viz``)."""
        from fnad.viz import to_dot

        return to_dot(self, max_nodes=max_nodes)


def subgraphs(value: Any) -> tuple[Graph, ...]:
    """The graphs a node param holds: a fused region or loop body, or a tuple of branches."""
    if isinstance(value, Graph):
        return (value,)
    if isinstance(value, tuple) and value and all(isinstance(v, Graph) for v in value):
        return value
    return ()


def map_subgraphs(value: Any, fn: Callable[[Graph], Graph]) -> Any:
    """``value`` with ``fn`` applied to the graphs it holds (itself when it holds none)."""
    if isinstance(value, Graph):
        return fn(value)
    return tuple(fn(g) for g in value) if subgraphs(value) else value


class _Namer:
    """Assigns a, b, ..., z, ba, bb, ... to variables in the order they are first seen."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def __call__(self, atom: Atom) -> str:
        if isinstance(atom, Literal):
            return format_literal(atom.value)
        name = self.names.get(id(atom))
        if name is None:
            name = _letters(len(self.names))
            self.names[id(atom)] = name
        return name


def _letters(n: int) -> str:
    out = ""
    while True:
        out = chr(ord("a") + n % 26) + out
        n //= 26
        if n == 0:
            return out


def format_literal(value: np.ndarray) -> str:
    """Readable and exact: small constants show their values, large ones a digest."""
    if value.size <= _INLINE_SIZE:
        scalar = value.tolist()
        # NOTE: a 0-d literal omits its dtype only where its Python value implies it.
        if value.ndim == 0 and _PYTHON_DTYPE.get(type(scalar)) == value.dtype.name:
            return repr(scalar)
        return f"{scalar!r}:{short_dtype(value.dtype)}"
    digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:12]
    return f"const<{ArraySpec(value.shape, value.dtype)!r} #{digest}>"


def format_param(value: Any, namer: _Namer, indent: int) -> str:
    if isinstance(value, Graph):
        return "\n" + "\n".join(_format(value, namer, indent + 4))
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        inner = ",".join(format_param(v, namer, indent) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value) if isinstance(value, str) else str(value)


def _format(graph: Graph, namer: _Namer, indent: int) -> list[str]:
    pad = " " * indent

    def typed(v: Var) -> str:
        return f"{namer(v)}:{v.spec!r}"

    lines = [f"{pad}{{ lambda {' '.join(typed(v) for v in graph.inputs)} ."]
    for node in graph.nodes:
        outs = " ".join(typed(v) for v in node.outs)
        params = ", ".join(
            f"{k}={format_param(node.params[k], namer, indent)}" for k in sorted(node.params)
        )
        head = node.prim.name + (f"[{params}]" if params else "")
        args = " ".join(namer(a) for a in node.inputs)
        lines.append(f"{pad}    {outs} = {head} {args}".rstrip())
    lines.append(f"{pad}  return {' '.join(namer(a) for a in graph.outputs)} }}")
    return lines
