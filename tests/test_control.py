"""Control flow: values and derivatives against the unrolled Python equivalent and finite
differences, forward and reverse mode, vmap, the compiled loops, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fd_grad

import fnad

RNG = np.random.default_rng(7)


def rnn_scan(w, xs):
    def step(h, x):
        h = np.tanh(w @ h + x)
        return h, np.sum(h**2)

    h, ys = fnad.scan(step, np.zeros(w.shape[0]), xs)
    return np.sum(h) + np.sum(ys)


def rnn_unrolled(w, xs):
    h, total = np.zeros(w.shape[0]), 0.0
    for x in xs:
        h = np.tanh(w @ h + x)
        total = total + np.sum(h**2)
    return np.sum(h) + total


def newton_sqrt(a):
    """Newton iterations to a tolerance: the trip count depends on the input."""

    def body(c):
        x, n = c
        return 0.5 * (x + a / x), n + 1

    x, _ = fnad.while_loop(lambda c: np.abs(c[0] * c[0] - a) > 1e-12, body, (a, 0))
    return x


def test_scan_matches_the_unrolled_loop_in_value_and_gradients():
    w, xs = RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=(6, 3))
    np.testing.assert_allclose(rnn_scan(w, xs), rnn_unrolled(w, xs), rtol=1e-12)
    for argnum, arg in ((0, w), (1, xs)):
        got = fnad.grad(rnn_scan, argnum)(w, xs)
        np.testing.assert_allclose(got, fnad.grad(rnn_unrolled, argnum)(w, xs), rtol=1e-10)
        f = (lambda z: rnn_scan(z, xs)) if argnum == 0 else (lambda z: rnn_scan(w, z))
        np.testing.assert_allclose(got, fd_grad(f, arg), rtol=1e-6, atol=1e-8)
    v = RNG.normal(size=w.shape)
    _, jv = fnad.jvp(lambda z: rnn_scan(z, xs), (w,), (v,))
    np.testing.assert_allclose(jv, np.sum(fnad.grad(rnn_scan)(w, xs) * v), rtol=1e-10)


def test_scan_reverse_pytrees_and_second_order():
    def f(x):
        carry, ys = fnad.scan(
            lambda c, xi: ({"s": c["s"] + xi["a"] * c["p"], "p": c["p"] * 0.5}, xi["a"] ** 2),
            {"s": 0.0, "p": 1.0},
            {"a": x},
            reverse=True,
        )
        return carry["s"] + np.sum(ys * x)

    def unrolled(x):
        s, p = 0.0, 1.0
        for xi in x[::-1]:
            s, p = s + xi * p, p * 0.5
        return s + np.sum(x**3)

    x = RNG.normal(size=5)
    np.testing.assert_allclose(f(x), unrolled(x), rtol=1e-12)
    np.testing.assert_allclose(fnad.hessian(f)(x), fnad.hessian(unrolled)(x), atol=1e-10)
    np.testing.assert_allclose(
        fnad.grad(lambda z: np.sum(fnad.grad(f)(z) ** 2))(x),
        fd_grad(lambda z: np.sum(fnad.grad(f)(z) ** 2), x),
        rtol=1e-6,
    )


def test_fori_loop_static_and_traced_bounds():
    def body(i, v):
        return v * 0.9 + np.sin(v) * i

    def python(x, n):
        for i in range(n):
            x = body(i, x)
        return np.sum(x)

    x = RNG.normal(size=4)
    static = fnad.grad(lambda z: np.sum(fnad.fori_loop(0, 6, body, z)))(x)
    np.testing.assert_allclose(static, fnad.grad(lambda z: python(z, 6))(x), rtol=1e-12)
    traced = fnad.jit(fnad.grad(lambda z, n: np.sum(fnad.fori_loop(0, n, body, z))))
    np.testing.assert_allclose(traced(x, np.int64(6)), static, rtol=1e-12)
    np.testing.assert_allclose(traced(x, np.int64(2)), fd_grad(lambda z: python(z, 2), x), 1e-6)


def test_while_loop_reverse_mode_with_an_input_dependent_trip_count():
    for a in (2.0, 9.0, 1e4):
        np.testing.assert_allclose(newton_sqrt(a), np.sqrt(a), rtol=1e-12)
        np.testing.assert_allclose(fnad.grad(newton_sqrt)(a), 0.5 / np.sqrt(a), rtol=1e-8)
    np.testing.assert_allclose(fnad.jvp(newton_sqrt, (4.0,), (1.0,))[1], 0.25, rtol=1e-8)
    with pytest.raises(NotImplementedError, match="'while_grad' has no vjp rule"):
        fnad.grad(fnad.grad(newton_sqrt))(2.0)


def test_cond_and_switch_take_one_branch_with_its_gradient():
    def f(x):
        return fnad.cond(np.sum(x) > 0, lambda a: np.sum(np.sin(a)), lambda a: np.sum(a**3), x)

    for x in (np.abs(RNG.normal(size=3)), -np.abs(RNG.normal(size=3))):
        want = np.cos(x) if np.sum(x) > 0 else 3 * x**2
        np.testing.assert_allclose(fnad.grad(f)(x), want, rtol=1e-12)
        np.testing.assert_allclose(fnad.jvp(f, (x,), (np.ones(3),))[1], np.sum(want))
    branches = [lambda a: a * 2.0, lambda a: a + 10.0, lambda a: -a]
    for k, want in [(-5, 2.0), (1, 11.0), (2, -1.0), (9, -1.0)]:
        assert fnad.switch(k, branches, 1.0) == want


def test_vmap_of_control_flow():
    xs = np.array([0.5, 3.0, 20.0, 81.0])
    np.testing.assert_allclose(fnad.vmap(newton_sqrt)(xs), np.sqrt(xs), rtol=1e-12)
    per_example = fnad.vmap(fnad.grad(newton_sqrt))(xs)
    np.testing.assert_allclose(per_example, 0.5 / np.sqrt(xs), rtol=1e-8)

    def pick(x):
        return fnad.cond(x > 1.0, np.log, lambda a: a - 1.0, x)

    np.testing.assert_allclose(fnad.vmap(pick)(xs), [pick(x) for x in xs])
    np.testing.assert_allclose(fnad.vmap(fnad.grad(pick))(xs), [fnad.grad(pick)(x) for x in xs])
    w, batch = RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=(4, 5, 3))
    got = fnad.vmap(fnad.grad(rnn_scan), in_axes=(None, 0))(w, batch)
    np.testing.assert_allclose(got, [fnad.grad(rnn_scan)(w, b) for b in batch], rtol=1e-10)


def test_compiled_control_flow_equals_the_interpreter():
    w, xs = RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=(6, 3))

    def everything(w, xs, a, n):
        return {
            "rnn": fnad.value_and_grad(rnn_scan)(w, xs),
            "newton": fnad.value_and_grad(newton_sqrt)(a),
            "fori": fnad.fori_loop(0, n, lambda i, v: v + i * np.tanh(v), xs[0]),
            "switch": fnad.switch(n, [np.sin, np.cos, np.exp], xs),
            "batched": fnad.vmap(newton_sqrt)(np.abs(xs[:, 0]) + 1.0),
        }

    args = (w, xs, 7.0, np.int64(2))
    compiled = fnad.jit(everything)(*args)
    with fnad.disable_jit():
        reference = everything(*args)
    flat_c, tree_c = fnad.tree.tree_flatten(compiled)
    flat_r, tree_r = fnad.tree.tree_flatten(reference)
    assert tree_c == tree_r
    for c, r in zip(flat_c, flat_r):
        np.testing.assert_allclose(c, r, rtol=1e-10, atol=1e-12)
    source = fnad.jit(everything).lower(*args).source
    assert "while True:" in source and "for step" in source and "if branch" in source


def test_compiled_reverse_scan_over_matrices_and_a_switch_with_constants():
    def f(x, k):
        c, ys = fnad.scan(
            lambda c, xi: (np.tanh(c * xi + 1.0), np.sum(c)), np.ones((2, 3)), x, reverse=True
        )
        table = np.arange(6.0).reshape(2, 3)
        picked = fnad.switch(k, [lambda a: a * table, lambda a: a + table], c)
        return np.sum(ys) + np.sum(picked)

    x = np.linspace(0.1, 1.0, 30).reshape(5, 2, 3)
    for k in (0, 1):
        want = f(x, np.int64(k))
        np.testing.assert_allclose(fnad.jit(f)(x, np.int64(k)), want, rtol=1e-12)
        np.testing.assert_allclose(
            fnad.jit(fnad.grad(f))(x, np.int64(k)), fnad.grad(f)(x, np.int64(k)), rtol=1e-10
        )


def test_loops_keep_the_graph_small():
    def chain(x, n):
        return np.sum(fnad.fori_loop(0, n, lambda i, v: np.sin(v) * 0.5 + v, x))

    small = fnad.make_graph(fnad.grad(lambda x: chain(x, 10)))(np.ones(3))
    large = fnad.make_graph(fnad.grad(lambda x: chain(x, 100_000)))(np.ones(3))
    assert len(small.nodes) == len(large.nodes)


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="carry leaf 0 as f64\\[\\], but the initial value is i64"):
        fnad.fori_loop(0, 3, lambda i, v: v * 0.5, 1)
    with pytest.raises(TypeError, match="branch 1 returns"):
        fnad.cond(True, lambda x: x, lambda x: (x, x), 1.0)
    with pytest.raises(ValueError, match="length=3 but xs has leading axis 4"):
        fnad.scan(lambda c, x: (c, x), 0.0, np.ones(4), length=3)
    with pytest.raises(TypeError, match="cond_fun must return a scalar bool"):
        fnad.while_loop(lambda c: c, lambda c: c, 1.0)
    with pytest.raises(TypeError, match="pred must be a scalar"):
        fnad.cond(np.array([True, False]), np.sin, np.cos, 1.0)


def _scans(graph):
    return [n for n in graph.nodes if n.prim.name == "scan"]


def _prims(graph) -> list[str]:
    from fnad.core.graph import subgraphs

    names = []
    for node in graph.nodes:
        names.append(node.prim.name)
        for k in sorted(node.params):
            for sub in subgraphs(node.params[k]):
                names += _prims(sub)
    return names


def batched_rnn(w, xs, scan=fnad.scan):
    def step(h, x):
        h = np.tanh(h @ w + x)
        return h, np.sum(h * h)

    h, ys = scan(step, np.zeros(xs.shape[1:]), xs)
    return np.sum(h) + np.sum(ys)


def test_scan_reverse_mode_runs_the_body_once_and_drops_unread_cotangents():
    def unrolled(w, xs):
        return batched_rnn(w, xs, lambda f, h, xs: _unrolled_scan(f, h, xs))

    w, xs = RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=(6, 3, 4))
    lowered = fnad.jit(fnad.value_and_grad(batched_rnn)).lower(w, xs)
    forward, backward = _scans(lowered.graph)
    assert backward.params["reverse"] and not forward.params["reverse"]
    # The backward loop reads stacked residuals: it computes no tanh and no forward product.
    assert "tanh" not in _prims(backward.params["body"])
    # The cotangent of xs is not computed; w's gradient is one product after the loop
    # (over the stacked per-step values), not an accumulator carried through it.
    assert backward.params["num_carry"] == 1
    assert len(backward.outs) == 2  # the carry's cotangent and the stacked per-step values
    after = lowered.graph.nodes[lowered.graph.nodes.index(backward) + 1 :]
    assert any(n.prim.name == "einsum" and n.outs[0].spec.shape == w.shape for n in after)
    value, grad = lowered.compile()(w, xs)
    np.testing.assert_allclose(value, unrolled(w, xs), rtol=1e-12)
    np.testing.assert_allclose(grad, fd_grad(lambda v: unrolled(v, xs), w), rtol=1e-6)
    with fnad.disable_jit():
        np.testing.assert_allclose(grad, fnad.grad(unrolled)(w, xs), rtol=1e-10)
    # A vector carry: the weight gradient is an outer product per step; the residuals
    # stacked are vectors, never a broadcast as large as the weight.
    w, xs = w, xs[:, 0]
    forward = _scans(fnad.jit(fnad.grad(rnn_scan)).lower(w, xs).graph)[0]
    assert all(v.spec.ndim <= 2 for v in forward.outs)
    np.testing.assert_allclose(fnad.jit(fnad.grad(rnn_scan))(w, xs), fnad.grad(rnn_unrolled)(w, xs))


def _unrolled_scan(f, h, xs):
    ys = []
    for x in xs:
        h, y = f(h, x)
        ys.append(y)
    return h, np.stack(ys)


def test_a_checkpointed_scan_body_is_recomputed_in_the_backward_loop():
    w, xs = RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=(6, 4))

    def loss(w, xs):
        def step(h, x):
            h = fnad.checkpoint(lambda h, x: np.tanh(w @ h + x))(h, x)
            return h, np.sum(h**2)

        h, ys = fnad.scan(step, np.zeros(4), xs)
        return np.sum(h) + np.sum(ys)

    graph = fnad.make_graph(fnad.grad(loss))(w, xs)
    backward = [n for n in _scans(graph) if n.params["reverse"]][0]
    assert "tanh" in _prims(backward.params["body"])
    plain = [n for n in _scans(fnad.make_graph(fnad.grad(rnn_scan))(w, xs)) if n.params["reverse"]]
    stored = sum(a.spec.size for a in backward.inputs)
    assert stored < sum(a.spec.size for a in plain[0].inputs)  # smaller stacked residuals
    np.testing.assert_allclose(fnad.jit(fnad.grad(loss))(w, xs), fnad.grad(rnn_unrolled)(w, xs))


def test_merge_scans_only_merges_loops_whose_carries_agree():
    from fnad.passes.loops import merge_scans
    from fnad.passes.pipeline import cleanup

    def two(x, xs, same):
        h1, y1 = fnad.scan(lambda h, v: (np.sin(h) + v, h * v), x, xs)
        h2, y2 = fnad.scan(lambda h, v: (np.sin(h) + (v if same else 2 * v), h - v), x, xs)
        return h1 + h2, y1, y2

    x, xs = np.array(0.3), RNG.normal(size=5)
    for same, count in ((True, 1), (False, 2)):
        graph = cleanup(fnad.make_graph(lambda a, b, s=same: two(a, b, s))(x, xs))
        merged = merge_scans(graph, cleanup)
        assert len(_scans(merged)) == count
        fnad.verify(merged)
        for got, want in zip(fnad.eval_graph(merged, x, xs), two(x, xs, same)):
            np.testing.assert_allclose(got, want, rtol=1e-12)
