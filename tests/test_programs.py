"""Property tests over random programs of fnad primitives (``fnad.testing.strategies``).

Each program is a short composition of primitives with inputs in their domains. Properties:
the interpreter reproduces NumPy; forward and reverse derivatives up to order 3 match
central finite differences and each other; the static derivative graphs (``jvp_graph``,
``vjp_graph``) agree with dynamic ``jvp``/``vjp``; the compiled function agrees with the
interpreter; and ``grad(jit(f)) == jit(grad(f))``. Interpreter-only properties run hundreds
of examples; compiled ones (~0.5 s of Numba per example) run twenty under the ``ci`` profile.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

import fnad
from fnad.testing import assert_allclose, check_backends, check_grads
from fnad.testing.strategies import max_examples, programs


def _weights(out, seed=0):
    return np.random.default_rng(seed).normal(size=np.shape(out)).astype(np.asarray(out).dtype)


@settings(max_examples=max_examples(250))
@given(programs(smooth=False, max_steps=6))
def test_interpreter_matches_numpy(prog):
    graph = fnad.verify(fnad.make_graph(prog)(*prog.args))
    (got,) = fnad.eval_graph(graph, *prog.args)
    want = prog(*prog.args)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@settings(max_examples=max_examples(150))
@given(programs())
def test_derivatives_match_finite_differences(prog):
    check_grads(prog, prog.args, order=2)


@settings(max_examples=max_examples(100))
@given(programs(dtype=np.float32))
def test_float32_derivatives_match_finite_differences(prog):
    check_grads(prog, prog.args, order=2)


@settings(max_examples=max_examples(30))
@given(programs(max_steps=4))
def test_third_order_derivatives(prog):
    check_grads(prog, prog.args, order=3)


@settings(max_examples=max_examples(150))
@given(programs())
def test_static_derivative_graphs_match_dynamic_transforms(prog):
    args = prog.args
    graph = fnad.make_graph(prog)(*args)
    out = prog(*args)
    vs = [_weights(x, seed=k + 1) for k, x in enumerate(args)]
    u = _weights(out)
    _, tangent = fnad.jvp(prog, args, vs)
    _, vjp_fn = fnad.vjp(prog, *args)
    cts = vjp_fn(u)
    # The dot-product test: <u, J v> = <J^T u, v>.
    lhs = np.sum(u * tangent)
    rhs = sum(np.sum(c * v) for c, v in zip(cts, vs))
    scale = np.sum(np.abs(u * tangent)) + sum(np.sum(np.abs(c * v)) for c, v in zip(cts, vs))
    assert abs(lhs - rhs) <= 1e-9 * scale + 1e-12
    jvp_outs = fnad.eval_graph(fnad.verify(fnad.jvp_graph(graph)), *args, *vs)
    assert_allclose(jvp_outs, [out, tangent], rtol=1e-12, atol=1e-12)
    vjp_outs = fnad.eval_graph(fnad.verify(fnad.vjp_graph(graph)), *args, u)
    assert_allclose(vjp_outs, [out, *cts], rtol=1e-12, atol=1e-12)


@settings(max_examples=max_examples(20))
@given(programs(smooth=False, max_steps=6))
def test_jit_matches_interpreter(prog):
    check_backends(prog, prog.args)


@settings(max_examples=max_examples(20))
@given(programs())
def test_grad_of_jit_is_jit_of_grad(prog):
    argnums = tuple(range(len(prog.args)))
    w = _weights(prog(*prog.args))

    def loss(*xs):
        return np.sum(prog(*xs) * w)

    reference = fnad.value_and_grad(loss, argnums)(*prog.args)
    # One compile per example: the loss and its gradient come from one jitted graph.
    jit_of_grad = fnad.jit(lambda *xs: fnad.value_and_grad(loss, argnums)(*xs))
    assert_allclose(jit_of_grad(*prog.args), reference, rtol=1e-9, atol=1e-12)
    grad_of_jit = fnad.grad(fnad.jit(loss), argnums)(*prog.args)
    assert_allclose(grad_of_jit, reference[1], rtol=1e-12, atol=1e-14)
