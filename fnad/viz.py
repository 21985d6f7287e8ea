"""Pictures of graphs: ``to_dot(graph)`` writes Graphviz DOT text, ``render`` runs ``dot``.

Each node shows its variable names, operation, parameters and output shape and dtype, with
the same names as the printed graph (``str(graph)``). Colours tell the parts apart:

* green ellipses are graph inputs, grey notes are constants (literals), red boxes outputs;
* blue boxes are the forward computation, orange ones the backward pass of a gradient.
  The backward pass records its variables with the hint ``"ct"`` (see
  ``fnad.transforms.vjp.BACKWARD_HINT``), which survives optimization, graph files and
  transforms that re-trace a finished graph (``vmap``, ``jacrev``: ``core.trace.node_hint``),
  so the picture knows which nodes the reverse walk made rather than guessing from the
  shape of the graph;
* a fused region (``fused`` nodes after ``fnad.passes.optimize``) is a dashed cluster
  holding its sub-graph.

Big graphs stay legible: past ``max_nodes`` nodes, the middle of a graph (or of a fused
region) collapses into one summary node that counts the operations it hides.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnad.core.graph import (
    Atom,
    Graph,
    Literal,
    Node,
    Var,
    _format,
    _Namer,
    format_literal,
    format_param,
    subgraphs,
)
from fnad.transforms.vjp import BACKWARD_HINT

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_STYLE = {
    "input": 'shape=ellipse, style=filled, fillcolor="#d5e8d4", color="#82b366"',
    "literal": 'shape=note, style=filled, fillcolor="#f5f5f5", color="#999999", fontsize=9',
    "output": 'shape=invhouse, style=filled, fillcolor="#f8cecc", color="#b85450"',
    "forward": 'shape=box, style="rounded,filled", fillcolor="#dae8fc", color="#6c8ebf"',
    "backward": 'shape=box, style="rounded,filled", fillcolor="#ffe6cc", color="#d79b00"',
    "summary": 'shape=box3d, style=filled, fillcolor="#fff2cc", color="#d6b656"',
}
_LEGEND = {
    "always": "green: inputs   grey: constants   blue: operations   red: outputs",
    "backward": "orange: the backward pass (gradient)",
    "fused": "dashed clusters: fused regions",
}
_PARAM_WIDTH = 40


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program, which ``render`` needs, is not installed."""


def to_dot(graph: Graph, max_nodes: int = 200) -> str:
    """Graphviz DOT text of ``graph``; at most about ``max_nodes`` operations are drawn.

    >>> import fnad, numpy as np
    >>> dot = fnad.make_graph(lambda x: np.sin(x) * x)(np.ones(3)).to_dot()
    >>> dot.startswith("digraph fnad {") and "c = mul" in dot
    True
    """
    if not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"fnad.viz.to_dot: max_nodes must be an int >= 2, got {max_nodes!r}")
    return _Dot(graph, max_nodes).text()


def render(
    graph_or_function: Graph | Callable, path: str | Path, *args: Any, max_nodes: int = 200
) -> Path:
    """Draw a graph, or the graph of ``function(*args)``, to ``path`` (.svg, .png or .pdf).

    Runs the Graphviz ``dot`` program, e.g. ``render(fnad.grad(loss), "grad.svg", w, x)``.
    """
    if isinstance(graph_or_function, Graph):
        if args:
            raise TypeError("fnad.viz.render: pass example arguments with a function, not a Graph")
        graph = graph_or_function
    elif callable(graph_or_function):
        from fnad.make_graph import make_graph

        graph = make_graph(graph_or_function)(*args)
    else:
        raise TypeError(
            "fnad.viz.render: graph_or_function must be a fnad.Graph or a function, got "
            f"{type(graph_or_function).__name__}"
        )
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"fnad.viz.render: path must end in one of {sorted(_FORMATS)}, got {str(path)!r}"
        )
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFoundError(
            "fnad.viz.render needs the Graphviz 'dot' program, which is not on PATH. Install "
            "Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "conda: conda install graphviz), or write graph.to_dot() to a .dot file and open "
            "it with any Graphviz viewer."
        )
    done = subprocess.run(
        [program, f"-T{fmt}", "-o", str(path)],
        input=to_dot(graph, max_nodes),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fnad.viz.render: dot failed: {done.stderr.strip()}")
    return path


def is_backward(node: Node) -> bool:
    """Whether the backward pass of a gradient recorded this node."""
    return any(v.hint == BACKWARD_HINT for v in node.outs)


class _Dot:
    """One DOT document: node ids, where each variable comes from, and the lines."""

    def __init__(self, graph: Graph, max_nodes: int) -> None:
        self.namer = _Namer()
        _format(graph, self.namer, indent=0)  # names as in str(graph)
        self.max_nodes = max_nodes
        self.seen = {"always"}
        self.source: dict[int, str] = {}
        self.counter = 0
        self.clusters = 0
        self.lines = [
            "digraph fnad {",
            '  graph [rankdir=TB, fontname="monospace", fontsize=10, labelloc=b];',
            '  node [fontname="monospace", fontsize=11];',
            '  edge [color="#555555", arrowsize=0.6];',
        ]
        for var in graph.inputs:
            label = self.namer(var) + (f" ({var.hint})" if var.hint else "")
            self.source[id(var)] = self.add("input", f"{label}\n{var.spec!r}")
        self.body(graph.nodes, "  ")
        for k, atom in enumerate(graph.outputs):
            out = self.add("output", f"out {k}\n{atom.spec!r}")
            self.edge(self.atom(atom, "  "), out)

    def text(self) -> str:
        legend = "   ".join(_LEGEND[k] for k in _LEGEND if k in self.seen)
        return "\n".join([*self.lines, f"  graph [label={_quote(legend)}];", "}"]) + "\n"

    def add(self, style: str, label: str, pad: str = "  ") -> str:
        self.counter += 1
        name = f"n{self.counter}"
        self.lines.append(f"{pad}{name} [{_STYLE[style]}, label={_quote(label)}];")
        return name

    def edge(self, src: str, dst: str, pad: str = "  ") -> None:
        self.lines.append(f"{pad}{src} -> {dst};")

    def atom(self, atom: Atom, pad: str) -> str:
        if isinstance(atom, Literal):
            return self.add("literal", format_literal(atom.value), pad)
        return self.source[id(atom)]

    def body(self, nodes: tuple[Node, ...], pad: str) -> None:
        """Draw ``nodes``; past ``max_nodes``, the middle ones become one summary node."""
        if len(nodes) <= self.max_nodes:
            for node in nodes:
                self.node(node, pad)
            return
        head = self.max_nodes // 2
        tail = len(nodes) - (self.max_nodes - head)
        for node in nodes[:head]:
            self.node(node, pad)
        self.summary(nodes[head:tail], pad)
        for node in nodes[tail:]:
            self.node(node, pad)

    def summary(self, hidden: tuple[Node, ...], pad: str) -> None:
        counts = Counter(node.prim.name for node in hidden)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{name}:{n}" for name, n in top[:6]) + (", ..." if top[6:] else "")
        name = self.add("summary", f"{len(hidden)} nodes not drawn\n{_wrap(shown)}", pad)
        made = {id(v) for node in hidden for v in node.outs}
        for src in dict.fromkeys(
            self.source[id(a)]
            for node in hidden
            for a in node.inputs
            if isinstance(a, Var) and id(a) not in made
        ):
            self.edge(src, name, pad)
        for v in made:
            self.source[v] = name

    def node(self, node: Node, pad: str) -> None:
        if node.prim.name == "fused":
            self.region(node, pad)
            return
        style = "backward" if is_backward(node) else "forward"
        self.seen.add(style)
        name = self.add(style, self.label(node), pad)
        for src in dict.fromkeys(self.atom(a, pad) for a in node.inputs):
            self.edge(src, name, pad)
        for v in node.outs:
            self.source[id(v)] = name

    def label(self, node: Node) -> str:
        outs = ", ".join(self.namer(v) for v in node.outs)
        lines = [f"{outs} = {node.prim.name}"]
        params = ", ".join(
            f"{k}={format_param(node.params[k], self.namer, 0)}"
            for k in sorted(node.params)
            if not subgraphs(node.params[k])
        )
        if params:
            lines.append(_wrap(params))
        lines.append(", ".join(repr(v.spec) for v in node.outs))
        return "\n".join(lines)

    def region(self, node: Node, pad: str) -> None:
        region: Graph = node.params["region"]
        self.clusters += 1
        self.seen.add("fused")
        outs = ", ".join(self.namer(v) for v in node.outs)
        color = "#d79b00" if is_backward(node) else "#9673a6"
        self.lines += [
            f"{pad}subgraph cluster_{self.clusters} {{",
            f'{pad}  style="rounded,dashed"; color="{color}"; label={_quote(f"fused -> {outs}")};',
        ]
        for inner, outer in zip(region.inputs, node.inputs):
            self.source[id(inner)] = self.atom(outer, pad + "  ")
        self.body(region.nodes, pad + "  ")
        for var, out in zip(node.outs, region.outputs):
            self.source[id(var)] = self.atom(out, pad + "  ")
        self.lines.append(f"{pad}}}")


def _wrap(text: str) -> str:
    """Long parameter text on several lines, so nodes stay narrow."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) >= _PARAM_WIDTH:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
