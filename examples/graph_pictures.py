"""Pictures of a model's forward graph and of its gradient graph.

A small ``fnad.nn.Sequential`` model is just a function, so ``fnad.make_graph(model.apply)``
traces its forward computation and ``fnad.make_graph(fnad.grad(loss))`` the forward and
backward passes of training. Each graph is printed as text and drawn with
``fnad.viz.render`` (forward nodes blue, backward nodes orange, fused regions as dashed
clusters in the optimized graph). Drawing needs the Graphviz ``dot`` program; without it
the script writes the DOT text (``graph.to_dot()``) instead and says how to install it.

    python examples/graph_pictures.py [--out DIR]
"""

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

import fnad
from fnad import nn
from fnad.passes import optimize

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, help="directory for the pictures (default: a temp dir)")
out = parser.parse_args().out or Path(tempfile.mkdtemp(prefix="fnad-graphs-"))
out.mkdir(parents=True, exist_ok=True)

model = nn.Sequential([nn.Dense(8, activation="tanh"), nn.Dense(3)])
params = model.init(0, (None, 4))
x = np.random.default_rng(0).normal(size=(5, 4))
labels = np.array([0, 2, 1, 1, 0])


def loss(params, x, labels):
    return nn.softmax_cross_entropy(model.apply(params, x), labels)


graphs = {
    "forward": fnad.make_graph(model.apply)(params, x),
    "gradient": fnad.make_graph(fnad.grad(loss))(params, x, labels),
}
graphs["gradient_optimized"] = optimize(graphs["gradient"])

for name, graph in graphs.items():
    print(f"--- {name}: {len(graph.nodes)} nodes ---")
    print(graph)
    dot = graph.to_dot()
    # the picture names each operation of the graph
    assert dot.startswith("digraph fnad {") and all(n.prim.name in dot for n in graph.nodes)

if shutil.which("dot"):
    for name, graph in graphs.items():
        path = fnad.viz.render(graph, out / f"{name}.svg")
        svg = path.read_text()
        assert svg.lstrip().startswith("<?xml") and svg.rstrip().endswith("</svg>")
        print(f"wrote {path} ({len(svg)} bytes)")
else:
    for name, graph in graphs.items():
        path = out / f"{name}.dot"
        path.write_text(graph.to_dot())
        print(f"wrote {path}")
    print(
        "Graphviz 'dot' is not installed, so the graphs were written as DOT text. Install it "
        "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) and rerun, "
        f"or run: dot -Tsvg {out / 'gradient.dot'} -o gradient.svg"
    )
