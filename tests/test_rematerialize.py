"""checkpoint and saved_residuals: checkpointed gradients equal plain ones (interpreter,
jit, vmap, second order, closures); the backward keeps fewer values (saved_residuals
count and bytes, dynamic-mode peak memory) and, compiled, really recomputes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import fnad

RNG = np.random.default_rng(3)


def layer(w, h):
    return np.tanh(w @ h)


def mlp(ws, x, remat=False):
    """A chain of layers; with ``remat`` the whole chain is one checkpoint."""

    def chain(ws, x):
        for w in ws:
            x = layer(w, x)
        return x

    f = fnad.checkpoint(chain) if remat else chain
    return np.sum(f(ws, x) ** 2)


def _params(n=8, layers=3):
    return [RNG.normal(size=(n, n)) / np.sqrt(n) for _ in range(layers)], RNG.normal(size=n)


def test_checkpointed_gradient_equals_plain():
    ws, x = _params()
    plain = fnad.grad(mlp, argnums=(0, 1))(ws, x)
    remat = fnad.grad(lambda ws, x: mlp(ws, x, remat=True), argnums=(0, 1))(ws, x)
    for a, b in zip(fnad.tree.tree_leaves(plain), fnad.tree.tree_leaves(remat)):
        np.testing.assert_allclose(b, a, rtol=1e-12)
    # per-layer checkpoints, and the alias
    per_layer = fnad.remat(layer)

    def loss(ws, x):
        for w in ws:
            x = per_layer(w, x)
        return np.sum(x**2)

    for a, b in zip(plain[0], fnad.grad(loss)(ws, x)):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_saved_residuals_shrink_with_checkpoint():
    ws, x = _params(n=16, layers=4)
    plain = fnad.saved_residuals(mlp, ws, x)
    remat = fnad.saved_residuals(lambda ws, x: mlp(ws, x, remat=True), ws, x)
    # plain keeps every layer's tanh output; checkpointed keeps the inputs and the output
    assert [r.source for r in plain].count("tanh") == 4
    assert [r.source for r in remat].count("tanh") == 0
    assert len(remat) < len(plain)
    assert sum(r.nbytes for r in remat) < sum(r.nbytes for r in plain)
    assert {r.source for r in remat} == {
        "argument 0 ('ws'), leaf 0",
        "argument 0 ('ws'), leaf 1",
        "argument 0 ('ws'), leaf 2",
        "argument 0 ('ws'), leaf 3",
        "argument 1 ('x')",
        "checkpoint_call",
    }
    assert str(plain[0]) == "f64[16,16] from argument 0 ('ws'), leaf 0"
    assert plain[0].shape == (16, 16) and plain[0].dtype == np.float64
    assert plain[0].nbytes == 16 * 16 * 8


def test_checkpoint_under_jit_recomputes():
    ws, x = _params()

    def grads(ws, x, remat):
        return fnad.grad(lambda ws, x: mlp(ws, x, remat=remat), argnums=(0, 1))(ws, x)

    plain = fnad.jit(lambda ws, x: grads(ws, x, False))
    remat = fnad.jit(lambda ws, x: grads(ws, x, True))
    for a, b in zip(fnad.tree.tree_leaves(plain(ws, x)), fnad.tree.tree_leaves(remat(ws, x))):
        np.testing.assert_allclose(b, a, rtol=1e-12)

    def count(graph, name):
        return sum(node.prim.name == name for node in graph.nodes)

    p, r = plain.lower(ws, x).graph, remat.lower(ws, x).graph
    # the 3 forward matrix products are computed again in the backward (CSE held off)
    assert count(r, "einsum") == count(p, "einsum") + 3
    assert "barrier" not in str(r) and "checkpoint_call" not in str(r)


def test_checkpoint_lowers_peak_memory_in_dynamic_mode():
    x = RNG.normal(size=100_000)

    def block(x):
        return np.tanh(np.sin(x) * 1.01 + np.cos(x))

    def peak(block):
        def chain(x):
            for _ in range(10):
                x = block(x)
            return np.sum(x)

        tracemalloc.start()
        g = fnad.grad(chain)(x)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak, g

    (plain, g1), (remat, g2) = peak(block), peak(fnad.checkpoint(block))
    np.testing.assert_allclose(g2, g1, rtol=1e-12)
    # plain keeps 5 arrays per block for the backward, checkpointed 1 (plus one block's
    # recomputed intermediates at a time)
    assert remat < plain / 2


def test_checkpoint_composes():
    x, w = RNG.normal(size=4), RNG.normal(size=4)
    f = fnad.checkpoint(lambda x: np.sin(x) * w)  # closes over a constant
    plain = fnad.grad(lambda x: np.sum(np.sin(x) * w * x))
    remat = fnad.grad(lambda x: np.sum(f(x) * x))
    np.testing.assert_allclose(remat(x), plain(x), rtol=1e-12)
    # second order
    h1 = fnad.hessian(lambda x: np.sum(np.sin(x) ** 3))(x)
    h2 = fnad.hessian(lambda x: np.sum(fnad.checkpoint(lambda x: np.sin(x) ** 3)(x)))(x)
    np.testing.assert_allclose(h2, h1, rtol=1e-12)
    # vmap, and grad of vmap
    xs = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(fnad.vmap(remat)(xs), np.stack([plain(v) for v in xs]))
    g = fnad.grad(lambda xs: np.sum(fnad.vmap(f)(xs)))(xs)
    np.testing.assert_allclose(g, np.cos(xs) * w)

    # closing over a traced value: its gradient flows through the checkpoint
    def outer(w):
        inner = fnad.checkpoint(lambda x: np.sin(x * w))
        return np.sum(inner(x))

    np.testing.assert_allclose(fnad.grad(outer)(w), np.cos(x * w) * x, rtol=1e-12)
    jitted = fnad.jit(fnad.grad(outer))
    np.testing.assert_allclose(jitted(w), np.cos(x * w) * x, rtol=1e-12)


def test_checkpoint_static_argnums():
    def power(x, n):
        return x**n

    f = fnad.checkpoint(power, static_argnums=1)
    np.testing.assert_allclose(fnad.grad(lambda x: f(x, 3))(2.0), 12.0)
    with pytest.raises(TypeError, match=r"argument 1 \('n'\) of 'power' is in static_argnums"):
        fnad.grad(lambda x: f(x, x))(2.0)
