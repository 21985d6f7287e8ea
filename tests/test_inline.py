"""The inline pass: call primitives become their sub-graphs (nested ones too, each copy
with fresh variables), transparent ones vanish, barriers survive CSE and go after it."""

from __future__ import annotations

import numpy as np

import fnad
from fnad.passes.inline import drop_barriers, inline
from fnad.passes.pipeline import optimize


@fnad.custom_jvp
def square(x):
    return x * x


square.defjvp(lambda p, t: (square(p[0]), 2.0 * p[0] * t[0]))


def test_inline_nested_calls_twice_with_fresh_variables():
    def f(x):
        inner = fnad.checkpoint(lambda x: np.sin(square(x)))
        return inner(x) + inner(x * 2.0) + fnad.stop_gradient(x)

    x = np.linspace(0.0, 1.0, 4)
    graph = fnad.make_graph(f)(x)
    flat = fnad.verify(inline(graph))
    names = [node.prim.name for node in flat.nodes]
    assert names.count("mul") == 3 and names.count("sin") == 2
    assert not {"checkpoint_call", "custom_jvp_call", "stop_gradient"} & set(names)
    np.testing.assert_allclose(fnad.eval_graph(flat, x)[0], fnad.eval_graph(graph, x)[0])
    assert inline(flat) is flat


def test_barrier_keeps_recomputation_apart_until_cse_is_done():
    def f(x):
        a = np.sin(x)
        (b,) = fnad.core.trace.bind(fnad.PRIMITIVES["barrier"], x)
        return a + np.sin(b)

    x = np.linspace(0.0, 1.0, 3)
    graph = fnad.make_graph(f)(x)
    optimized = optimize(graph, check=fnad.verify, fusion=False)
    names = [node.prim.name for node in optimized.nodes]
    assert names.count("sin") == 2 and "barrier" not in names
    assert drop_barriers(optimized) is optimized
    np.testing.assert_allclose(fnad.eval_graph(optimized, x)[0], 2 * np.sin(x))
