"""Pictures of graphs: DOT text (always tested) and rendering through Graphviz ``dot``.

CI machines have no Graphviz, so the rendering test adapts: with ``dot`` on PATH it
renders SVG and PNG and checks them; without it, it checks the error that says how to
install Graphviz. The error is also checked on every machine with PATH emptied.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import fnad
from fnad import viz
from fnad.passes import optimize

_DECL = re.compile(r'^\s*(n\d+) \[.*label="((?:[^"\\]|\\.)*)"\];$')
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+);$")


def _parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str]], str]:
    """(node id -> declaration line, edges, text): checks every line is well-formed DOT."""
    lines = dot.splitlines()
    assert lines[0] == "digraph fnad {" and lines[-1] == "}"
    decls, edges, depth = {}, [], 0
    for line in lines[1:-1]:
        if m := _DECL.match(line):
            assert m.group(1) not in decls, f"node declared twice: {line}"
            decls[m.group(1)] = line
        elif m := _EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        elif line.strip().startswith("subgraph cluster_") and line.endswith("{"):
            depth += 1
        elif line.strip() == "}":
            depth -= 1
        else:
            assert re.match(r"^\s*(graph|node|edge) \[.*\];$|^\s*style=", line), line
    assert depth == 0
    for src, dst in edges:
        assert src in decls and dst in decls, f"edge {src} -> {dst} to an undeclared node"
    return decls, edges, dot


def _ops(decls, colour):
    return [
        re.search(r'label="(\w+) = (\w+)', line).group(2)
        for line in decls.values()
        if colour in line and " = " in line
    ]


def _loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2) + 0.5 * np.sum(w * w)


W, X = np.ones((3, 4)), np.ones((5, 3))


def test_dot_names_every_op_input_output_and_literal():
    graph = fnad.make_graph(lambda x, y: np.sum(np.sin(x) * y, axis=1) + 2.0)(
        np.ones((2, 3)), np.ones(3, np.float32)
    )
    decls, edges, dot = _parse(graph.to_dot())
    printed = str(graph)
    for node in graph.nodes:
        assert f"= {node.prim.name}" in dot
    # Labels use the printed graph's variable names, e.g. "g = reduce_sum" with its params.
    for line in printed.splitlines()[1:-1]:
        name, op = re.match(r"\s*(\w+):\S+ = (\w+)", line).groups()
        assert f'label="{name} = {op}' in dot
    assert 'label="a\\nf64[2,3]"' in dot and 'label="b\\nf32[3]"' in dot
    assert 'label="out 0\\nf64[2]"' in dot and 'label="2.0"' in dot
    assert "axes=(1,)" in dot and "dtype=float64" in dot
    kinds = [next(k for k, s in viz._STYLE.items() if s in line) for line in decls.values()]
    assert kinds.count("input") == 2 and kinds.count("output") == 1
    assert kinds.count("forward") == len(graph.nodes) and "backward" not in kinds
    assert len(edges) == sum(len(set(map(id, n.inputs))) for n in graph.nodes) + 1


def test_backward_pass_is_drawn_apart_from_the_forward_pass():
    forward = fnad.make_graph(_loss)(W, X)
    graph = fnad.make_graph(fnad.grad(_loss))(W, X)
    # NOTE: the grad graph records f's forward nodes first, then the backward pass.
    n = len(forward.nodes)
    assert [nd.prim.name for nd in graph.nodes[:n]] == [nd.prim.name for nd in forward.nodes]
    assert [viz.is_backward(nd) for nd in graph.nodes] == [False] * n + [True] * (
        len(graph.nodes) - n
    )
    decls, _, dot = _parse(graph.to_dot())
    assert sorted(_ops(decls, viz._STYLE["forward"])) == sorted(
        nd.prim.name for nd in forward.nodes
    )
    assert len(_ops(decls, viz._STYLE["backward"])) == len(graph.nodes) - n
    assert "orange: the backward pass" in dot
    # The mark survives a graph file.
    assert fnad.Graph.from_json(graph.to_json()).to_dot() == graph.to_dot()


def test_vjp_graph_marks_the_backward_pass():
    forward = fnad.make_graph(np.tanh)(np.ones(3))
    graph = fnad.vjp_graph(forward)
    assert not viz.is_backward(graph.nodes[0]) and all(map(viz.is_backward, graph.nodes[1:]))


def test_vmap_and_jacrev_of_a_gradient_keep_the_backward_marks():
    def f(x):
        return np.sin(x) * x

    def loss(x):
        return np.sum(f(x))

    x = np.linspace(0.1, 1.0, 3)
    backward = [nd.prim.name for nd in fnad.make_graph(fnad.grad(loss))(x).nodes[3:]]
    cases = [(fnad.vmap(fnad.grad(loss)), np.ones((2, 3))), (fnad.jacrev(f), x)]
    for transformed, arg in cases:
        graph = fnad.make_graph(transformed)(arg)
        marked = [nd.prim.name for nd in graph.nodes if viz.is_backward(nd)]
        # The derivative's own nodes: the product rule's multiplies, cos and the final add.
        assert sorted(set(marked)) == ["add", "broadcast_to", "cos", "mul"], marked
        assert set(marked) <= set(backward)
        decls, _, _ = _parse(graph.to_dot())
        assert len(_ops(decls, viz._STYLE["backward"])) == len(marked)
        assert not viz.is_backward(graph.nodes[0])  # sin, forward


def test_fused_regions_are_clusters_with_their_sub_graph():
    graph = optimize(fnad.make_graph(fnad.grad(_loss))(W, X))
    fused = [node for node in graph.nodes if node.prim.name == "fused"]
    assert fused
    decls, _, dot = _parse(graph.to_dot())
    assert dot.count("subgraph cluster_") == len(fused)
    inner = [nd.prim.name for node in fused for nd in node.params["region"].nodes]
    outer = [nd.prim.name for nd in graph.nodes if nd.prim.name != "fused"]
    drawn = _ops(decls, viz._STYLE["forward"]) + _ops(decls, viz._STYLE["backward"])
    assert sorted(drawn) == sorted(inner + outer)
    assert "fused ->" in dot and "dashed clusters" in dot


def test_big_graphs_collapse_into_a_summary_node():
    graph = fnad.make_graph(lambda x: sum(np.sin(x * i) for i in range(60)))(np.ones(3))
    assert len(graph.nodes) > 200
    decls, edges, dot = _parse(graph.to_dot(max_nodes=20))
    ops = _ops(decls, viz._STYLE["forward"])
    assert len(ops) == 20
    hidden = len(graph.nodes) - 20
    sins = sum(node.prim.name == "sin" for node in graph.nodes[10:-10])
    assert f"{hidden} nodes not drawn" in dot and f"sin:{sins}" in dot
    (summary,) = [k for k, line in decls.items() if "not drawn" in line]
    assert any(dst == summary for _, dst in edges) and any(src == summary for src, _ in edges)
    assert len(_parse(graph.to_dot())[0]) > len(decls)
    with pytest.raises(ValueError, match="max_nodes"):
        graph.to_dot(max_nodes=0)


def test_render_writes_svg_or_says_how_to_install_graphviz(tmp_path):
    path = tmp_path / "grad.svg"
    if shutil.which("dot") is None:
        with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
            viz.render(fnad.grad(_loss), path, W, X)
        assert not path.exists()
        return
    assert viz.render(fnad.grad(_loss), path, W, X) == path
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t for t in root.itertext())
    for op in ("einsum", "tanh", "reduce_sum", "mul", "out 0"):
        assert op in text
    png = viz.render(optimize(fnad.make_graph(fnad.grad(_loss))(W, X)), tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_dot_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    graph = fnad.make_graph(np.sin)(np.ones(2))
    with pytest.raises(viz.GraphvizNotFoundError, match="Graphviz 'dot' program"):
        viz.render(graph, tmp_path / "g.svg")


def test_render_checks_its_arguments(tmp_path):
    graph = fnad.make_graph(np.sin)(np.ones(2))
    with pytest.raises(ValueError, match=r"\.svg"):
        viz.render(graph, tmp_path / "g.jpg")
    with pytest.raises(TypeError, match="not a Graph"):
        viz.render(graph, tmp_path / "g.svg", np.ones(2))
    with pytest.raises(TypeError, match="got int"):
        viz.render(3, tmp_path / "g.svg")
