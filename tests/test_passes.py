"""The optimization passes, each alone and in the pipeline.

Every test builds a small graph that contains the pattern a pass targets, runs the pass and
checks three things: the nodes before and after (by primitive name), that ``fnad.verify``
accepts the result, and that the interpreter gives the same values on random inputs. A
pass that finds nothing to do must return its input object itself. Nothing here compiles.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnad
from fnad import ArraySpec, Graph, Literal, Node, Var
from fnad.core.primitive import PRIMITIVES
from fnad.core.trace import bind
from fnad.passes import optimize
from fnad.passes.cse import cse
from fnad.passes.dce import dce
from fnad.passes.fold import fold_constants
from fnad.passes.fuse import fuse
from fnad.passes.pipeline import CLEANUP, cleanup
from fnad.passes.simplify import simplify

X = np.ones((4, 3))


def trace(f, *args) -> Graph:
    return fnad.verify(fnad.make_graph(f)(*args))


def prims(graph: Graph) -> list[str]:
    return [node.prim.name for node in graph.nodes]


def random_inputs(graph: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for spec in graph.in_specs:
        if spec.dtype.kind == "f":
            out.append(rng.normal(size=spec.shape).astype(spec.dtype))
        elif spec.dtype.kind == "b":
            out.append(rng.random(spec.shape) > 0.5)
        else:
            out.append(rng.integers(-3, 4, size=spec.shape).astype(spec.dtype))
    return out


def assert_same_values(before: Graph, after: Graph) -> None:
    """``after`` is a valid graph computing what ``before`` computes."""
    fnad.verify(after)
    assert after.in_specs == before.in_specs and after.out_specs == before.out_specs
    for seed in (0, 1):
        args = random_inputs(before, seed)
        want = fnad.eval_graph(before, *args)
        got = fnad.eval_graph(after, *args)
        for g, w in zip(got, want):
            assert np.asarray(g).dtype == np.asarray(w).dtype
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)


def run_pass(p, graph: Graph) -> Graph:
    after = p(graph)
    assert_same_values(graph, after)
    return after


def lit(value, dtype=np.float64) -> Literal:
    return Literal(np.asarray(value, dtype))


def var(shape=(), dtype=np.float64) -> Var:
    return Var(ArraySpec(shape, np.dtype(dtype)))


# --- simplify -------------------------------------------------------------------------------

# (function, nodes before, nodes after). The broadcast of an identity constant is left for
# dce: simplify only bypasses the node that used it.
SIMPLIFIED = {
    "x*1": (lambda x: x * 1.0, ["broadcast_to", "mul"], ["broadcast_to"]),
    "1*x": (lambda x: 1.0 * x, ["broadcast_to", "mul"], ["broadcast_to"]),
    "x+(-0)": (lambda x: x + -0.0, ["broadcast_to", "add"], ["broadcast_to"]),
    "(-0)+x": (lambda x: -0.0 + x, ["broadcast_to", "add"], ["broadcast_to"]),
    "x-0": (lambda x: x - 0.0, ["broadcast_to", "sub"], ["broadcast_to"]),
    "--x": (lambda x: np.negative(-x), ["neg", "neg"], ["neg"]),
    "----x": (lambda x: np.negative(np.negative(np.negative(-x))), ["neg"] * 4, ["neg", "neg"]),
    "reshape back": (lambda x: x.reshape(12).reshape(4, 3), ["reshape"] * 2, ["reshape"]),
    "x.T.T": (lambda x: x.T.T, ["transpose"] * 2, ["transpose"]),
}


@pytest.mark.parametrize("name", sorted(SIMPLIFIED))
def test_simplify_removes_identity(name):
    f, before, after = SIMPLIFIED[name]
    graph = trace(f, X)
    assert prims(graph) == before
    simple = run_pass(simplify, graph)
    assert prims(simple) == after
    assert simple.outputs[0] is simple.inputs[0]
    assert prims(dce(simple)) == []


def test_simplify_collapses_chains_into_one_node():
    def f(x):
        y = x.reshape(12).reshape(2, 6).reshape(3, 4)
        z = np.transpose(np.transpose(x[None], (2, 0, 1)), (2, 0, 1))
        w = np.broadcast_to(np.broadcast_to(x[0], (4, 3)), (2, 4, 3))
        return y, z, w

    graph = trace(f, X)
    simple = dce(run_pass(simplify, graph))
    names = prims(simple)
    assert names.count("reshape") == 1
    assert names.count("transpose") == 1
    assert names.count("broadcast_to") == 1
    perm = next(n.params["perm"] for n in simple.nodes if n.prim.name == "transpose")
    assert perm == (1, 2, 0)
    assert_same_values(graph, simple)


def test_simplify_keeps_reshaped_broadcast_scalars_broadcasts():
    """The gradient of a mean reshapes a broadcast scalar; it must stay one broadcast."""
    reshape_p, transpose_p = PRIMITIVES["reshape"], PRIMITIVES["transpose"]

    def f(x):
        b = np.broadcast_to(np.float64(-0.25), (x.shape[0],)) * 1.0 + 0.0
        b = bind(reshape_p, np.broadcast_to(b[0:1], (x.shape[0],)), shape=(x.shape[0], 1))
        c = bind(transpose_p, fnad.numpy.full_like(x, 3.0), perm=(1, 0))
        return x * b, c

    graph = trace(f, X)
    simple = dce(run_pass(simplify, graph))
    assert "reshape" not in prims(simple) and "transpose" not in prims(simple)
    assert_same_values(graph, simple)


def test_simplify_drops_same_dtype_convert():
    convert_p = PRIMITIVES["convert"]
    graph = trace(lambda x: np.sin(bind(convert_p, x, dtype=np.dtype(np.float64))), X)
    assert prims(graph) == ["convert", "sin"]
    assert prims(dce(run_pass(simplify, graph))) == ["sin"]


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sin(x) * x,
        lambda x: x * 2.0 + 1.0,
        lambda x: 0.0 - x,  # not x
        lambda x: x * 0.0,  # not 0: x may be inf or nan
        lambda x: x + 0.0,  # not x: -0.0 + 0.0 is +0.0
        lambda x: 0.0 + x,
        lambda x: x - -0.0,
        lambda x: np.transpose(x[None], (2, 0, 1)),
    ],
    ids=["sin*x", "x*2+1", "0-x", "x*0", "x+0", "0+x", "x-(-0)", "transpose"],
)
def test_simplify_returns_its_input_when_nothing_applies(f):
    graph = trace(f, X)
    assert simplify(graph) is graph


def test_simplified_zero_sums_keep_ieee_signs_under_jit():
    def f(x, n):
        return x + 0.0, 0.0 + x, x + -0.0, -0.0 + x, x - 0.0, x - -0.0, n + 0, 0 + n

    x = np.array([-0.0, 0.0, -1.5, np.inf])
    n = np.array([-3, 0, 4])
    expected = f(x, n)
    for got, want in zip(fnad.jit(f)(x, n), expected, strict=True):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


# --- fold_constants -------------------------------------------------------------------------


def constant_graph() -> Graph:
    """``a * neg(2 + 3)`` and a broadcast constant; written out, since tracing runs
    constant-only arithmetic in NumPy and records nothing."""
    add, neg, mul, bcast = (PRIMITIVES[n] for n in ("add", "neg", "mul", "broadcast_to"))
    a, b, c, d, e = var(), var(), var(), var(), var((3,))
    nodes = (
        Node(add, (lit(2.0), lit(3.0)), {}, (b,)),
        Node(neg, (b,), {}, (c,)),
        Node(mul, (a, c), {}, (d,)),
        Node(bcast, (lit(1.5),), {"shape": (3,)}, (e,)),
    )
    return fnad.verify(Graph((a,), nodes, (d, e)))


def test_fold_constants_folds_scalar_arithmetic():
    graph = constant_graph()
    folded = run_pass(fold_constants, graph)
    # The broadcast stays a node: folding it would bake an array into the graph.
    assert prims(folded) == ["mul", "broadcast_to"]
    const = folded.nodes[0].inputs[1]
    assert isinstance(const, Literal)
    assert const.value.dtype == np.float64 and const.value.shape == () and const.value == -5.0


def test_fold_constants_returns_its_input_when_nothing_applies():
    graph = trace(lambda x: np.sin(x) * 2.0, X)
    assert fold_constants(graph) is graph


# --- cse ------------------------------------------------------------------------------------


def test_cse_merges_duplicated_subexpressions():
    graph = trace(lambda x: np.sin(x) * 2.0 + np.sin(x) * 2.0, X)
    assert prims(graph) == ["sin", "broadcast_to", "mul"] * 2 + ["add"]
    merged = run_pass(cse, graph)
    assert prims(merged) == ["sin", "broadcast_to", "mul", "add"]
    x, y = merged.nodes[-1].inputs
    assert x is y


def test_cse_keeps_nodes_that_differ_in_params_or_constants():
    def f(x):
        return np.sum(x, axis=0), np.sum(x, axis=1), x * 2.0, x * 3.0

    graph = trace(f, X)
    assert cse(graph) is graph


def test_cse_merges_equal_constants_by_value():
    mul = PRIMITIVES["mul"]
    a, b, c = var((2,)), var((2,)), var((2,))
    nodes = (
        Node(mul, (a, lit([1.0, 2.0])), {}, (b,)),
        Node(mul, (a, lit([1.0, 2.0])), {}, (c,)),
    )
    graph = fnad.verify(Graph((a,), nodes, (b, c)))
    merged = run_pass(cse, graph)
    assert prims(merged) == ["mul"]
    assert merged.outputs[0] is merged.outputs[1]


# --- dce ------------------------------------------------------------------------------------


def test_dce_drops_dead_nodes():
    def f(x):
        unused = np.cos(np.exp(x))  # noqa: F841  (dead on purpose)
        return x + 1.0

    graph = trace(f, X)
    assert prims(graph) == ["exp", "cos", "broadcast_to", "add"]
    assert prims(run_pass(dce, graph)) == ["broadcast_to", "add"]


def test_dce_keeps_a_node_with_any_live_output():
    fused = fuse(trace(lambda x: [np.sin(x), np.cos(x)], X))
    assert prims(fused) == ["fused"] and len(fused.nodes[0].outs) == 2
    half = Graph(fused.inputs, fused.nodes, fused.outputs[:1])
    assert dce(half) is half


def test_dce_returns_its_input_when_nothing_applies():
    graph = trace(lambda x: np.sin(x) * x, X)
    assert dce(graph) is graph


# --- fuse -----------------------------------------------------------------------------------


def test_fuse_elementwise_chain_and_trailing_sum_into_one_region():
    graph = trace(lambda x: np.sum(np.sin(x) * x**2 + np.exp(-x)), X)
    fused = run_pass(fuse, graph)
    assert prims(fused) == ["fused"]
    region = fused.nodes[0].params["region"]
    fnad.verify(region)
    assert prims(region) == prims(graph)
    assert prims(region)[-1] == "reduce_sum"
    assert len(region.inputs) == 1 and len(region.outputs) == 1


def test_fuse_exposes_values_used_outside_the_region():
    graph = trace(lambda x: [np.sin(x) * 2.0, np.sum(np.sin(x) * 2.0 + x)], X)
    fused = run_pass(fuse, cse(graph))
    assert prims(fused) == ["fused"]
    assert len(fused.nodes[0].outs) == 2


def test_fuse_splits_regions_at_a_contraction():
    def f(x, w):
        return np.sum(np.cos(np.einsum("ij,jk->ik", np.exp(x) * 2.0, w)))

    graph = trace(f, X, np.ones((3, 5)))
    fused = run_pass(fuse, graph)
    assert prims(fused) == ["fused", "einsum", "fused"]
    first, second = (n.params["region"] for n in fused.nodes if n.prim.name == "fused")
    assert prims(first) == ["exp", "broadcast_to", "mul"]
    assert prims(second) == ["cos", "reduce_sum"]
    einsum = fused.nodes[1]
    assert einsum.inputs[0] is fused.nodes[0].outs[0]
    assert fused.nodes[2].inputs[0] is einsum.outs[0]


def test_fuse_does_not_read_a_reduction_in_its_own_loop():
    graph = trace(lambda x: x / np.sum(x), X)
    fused = run_pass(fuse, graph)
    regions = [n.params["region"] for n in fused.nodes if n.prim.name == "fused"]
    assert len(regions) == 2
    assert prims(regions[0]) == ["reduce_sum"]


def test_fuse_returns_its_input_when_nothing_is_elementwise():
    graph = trace(lambda x, w: (x @ w).reshape(20).T, X, np.ones((3, 5)))
    assert fuse(graph) is graph


# --- pipeline -------------------------------------------------------------------------------


def test_optimize_grad_graph_to_one_region():
    graph = trace(fnad.grad(lambda x: np.sum(np.sin(x) * x**2 + np.exp(-x))), X)
    seen = []
    optimized = optimize(graph, check=lambda g: seen.append(fnad.verify(g)))
    assert_same_values(graph, optimized)
    assert prims(optimized) == ["fused"]
    assert len(seen) >= len(CLEANUP) + 1  # verified after every pass, fusion included
    assert prims(optimize(graph, fusion=False)).count("fused") == 0


def test_cleanup_reaches_a_fixed_point():
    graph = trace(fnad.grad(lambda x, w: np.sum(np.tanh(x @ w) ** 2)), X, np.ones((3, 5)))
    clean = cleanup(graph, check=fnad.verify)
    assert_same_values(graph, clean)
    assert len(clean.nodes) < len(graph.nodes)
    assert cleanup(clean) is clean
    for p in CLEANUP:
        assert p(clean) is clean


OPS = [
    lambda a, b: np.sin(a) * b,
    lambda a, b: a + b * 2.0,
    lambda a, b: np.sum(a, axis=0, keepdims=True) - a,
    lambda a, b: a @ a.T @ b,
    lambda a, b: np.exp(-a) * 1.0 + 0.0,
    lambda a, b: np.negative(-a) + a.T.T,
    lambda a, b: np.maximum(a, b) / (1.0 + b * b),
    lambda a, b: np.where(a > b, a, b * 0.5),
    lambda a, b: a.reshape(-1).reshape(a.shape) * np.max(a, axis=1, keepdims=True),
    lambda a, b: np.tanh(a) * b + np.tanh(a) * b,
]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 9), st.integers(0, 9)),
        max_size=8,
    )
)
def test_every_pass_preserves_random_programs(program):
    """Random compositions of the patterns above and their gradients: every pass alone and
    the pipeline keep the values and a valid graph."""

    def f(x, y):
        vals = [x, y]
        for op, i, j in program:
            vals.append(OPS[op](vals[i % len(vals)], vals[j % len(vals)]))
        return sum(np.sum(v * v) for v in vals)

    for graph in (trace(f, X, X + 1), trace(fnad.grad(f, argnums=(0, 1)), X, X + 1)):
        for p in (*CLEANUP, fuse, optimize):
            run_pass(p, graph)


def test_cse_keeps_loops_whose_bodies_differ_only_in_wiring():
    from fnad.passes.cse import cse

    def f(x, xs):
        a, ya = fnad.scan(lambda h, v: (h - v, h * v), x, xs)
        b, yb = fnad.scan(lambda h, v: (v - h, v * h), x, xs)
        return a, b, ya, yb

    x, xs = np.array(0.5), np.array([1.0, 2.0, 4.0])
    graph = fnad.make_graph(f)(x, xs)
    merged = cse(graph)
    assert len([n for n in merged.nodes if n.prim.name == "scan"]) == 2
    for got, want in zip(fnad.eval_graph(merged, x, xs), f(x, xs)):
        np.testing.assert_allclose(got, want)
    twice = fnad.make_graph(lambda x, xs: [f(x, xs)[0], f(x, xs)[0]])(x, xs)
    assert len([n for n in cse(twice).nodes if n.prim.name == "scan"]) == 2  # a's and b's
