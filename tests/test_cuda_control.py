"""Control flow on the CUDA target (``cond``, ``scan``, ``while_loop``, ``fori_loop`` and their
gradients) equals the interpreter and the CPU jit; loop carries that swap or pass through
stay correct; buffers are reused across iterations; an RNN training step over a ``scan``
keeps its parameters on the device.

Importing ``test_cuda`` first switches on Numba's CUDA simulator when there is no GPU.
"""

from __future__ import annotations

import numpy as np
from test_cuda import _check, pytestmark  # noqa: F401  (the skip mark applies here too)

import fnad


def _control(x, w, n):
    def cell(c, xt):
        h = np.tanh(c @ w + xt)
        return h, np.sum(h * h)

    c, ys = fnad.scan(cell, np.zeros(2), x)
    back, rows = fnad.scan(lambda c, xt: (c * 0.5 + xt, c), x[0], x, reverse=True)
    picked = fnad.switch(n % 3, [lambda a: a * 2.0, lambda a: a - 1.0, np.sin], c)
    fixed = fnad.cond(np.sum(c) > 0, lambda a: a * 3.0, lambda a: a, picked)
    grown = fnad.while_loop(lambda v: np.sum(np.abs(v)) < 10.0, lambda v: v * 2.0 + 0.5, fixed)
    static = fnad.fori_loop(0, 3, lambda i, v: v + np.cos(v) * i, grown)
    traced = fnad.fori_loop(0, n, lambda i, v: np.sin(v) * w[0], static)
    return [c, ys, back, rows, picked, fixed, grown, static, traced]


def _loss(x, w, n):
    outs = _control(x, w, n)
    return sum(np.sum(np.sin(o)) for o in outs[:4]) + np.sum(outs[-1] ** 2)


def _args(n: int):
    rng = np.random.default_rng(3)
    return rng.normal(size=(3, 2)), rng.normal(size=(2, 2)) * 0.5, np.int64(n)


def test_control_flow_forward_equals_interpreter_and_cpu():
    f = fnad.jit(_control, device="cuda")
    for n in (0, 2, 4):
        args = _args(n)
        want = fnad.eval_graph(fnad.make_graph(_control)(*args), *args)
        got = f(*args)
        _check(got, want, 1e-12, range(9))
        _check(got, fnad.jit(_control)(*args), 1e-12, range(9))
    assert f.compile_count == 1


def test_control_flow_gradients_equal_interpreter_and_cpu():
    grad = fnad.grad(_loss, argnums=(0, 1))
    f = fnad.jit(grad, device="cuda")
    for n in (0, 3):
        args = _args(n)
        want = fnad.eval_graph(fnad.make_graph(grad)(*args), *args)
        got = f(*args)
        _check(got, want, 1e-11, ["dx", "dw"])
    _check(got, fnad.jit(grad)(*args), 1e-11, ["dx", "dw"])


def _shuffle(a, b, n):
    """Carries that swap places and one that passes through unchanged."""
    body = lambda i, c: (c[1] + c[2], c[0], c[2])  # noqa: E731
    return fnad.fori_loop(0, n, body, (a, b, a * 2.0))


def test_swapped_and_unchanged_carries_are_not_overwritten():
    f = fnad.jit(_shuffle, device="cuda")
    a, b = np.arange(3.0), np.ones(3)
    for n in (1, 2, 5):
        _check(f(a, b, n), _shuffle(a, b, n), 0, "abc")


def test_loop_buffers_are_reused_across_iterations():
    def f(x, n):
        return fnad.fori_loop(0, n, lambda i, v: np.tanh(v @ v) + v, x)

    jf = fnad.jit(f, device="cuda")
    x = np.eye(2) * 0.3
    _check([jf(x, 1)], [f(x, 1)], 1e-12, "1")
    (plan,) = jf._plans.values()
    buffers = dict(plan.pool.buffers)
    _check([jf(x, 6)], [f(x, 6)], 1e-12, "6")
    assert plan.pool.buffers.keys() == buffers.keys()
    assert all(plan.pool.buffers[k] is buffers[k] for k in buffers)


def _rnn_loss(params, xs, target):
    wx, wh, wo = params

    def cell(h, x):
        h = np.tanh(x @ wx + h @ wh)
        return h, h @ wo

    h0 = np.zeros((xs.shape[1], wh.shape[0]))
    _, outs = fnad.scan(cell, h0, xs)
    return np.mean((outs - target) ** 2)


def _rnn_step(params, xs, target):
    loss, grads = fnad.value_and_grad(_rnn_loss)(params, xs, target)
    return [p - 0.2 * g for p, g in zip(params, grads)], loss


def test_rnn_training_step_over_a_scan_keeps_parameters_on_the_device():
    rng = np.random.default_rng(4)
    params = [rng.normal(size=s) * 0.5 for s in [(3, 4), (4, 4), (4, 2)]]
    xs, target = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 2, 2))
    step = fnad.jit(_rnn_step, device="cuda")
    on_device, want = fnad.device_put(params), params
    for _ in range(2):
        on_device, loss = step(on_device, xs, target)
        want, want_loss = _rnn_step(want, xs, target)
        assert all(fnad.cuda.is_device_array(p) for p in on_device)
        np.testing.assert_allclose(fnad.device_get(loss), want_loss, rtol=1e-12)
    _check(on_device, want, 1e-11, ["wx", "wh", "wo"])
    assert step.compile_count == 1


def test_while_gradient_tape_grows_past_its_first_capacity():
    def loss(x, n):
        return np.sum(fnad.fori_loop(0, n, lambda i, v: np.sin(v) + x, x))

    grad = fnad.jit(fnad.grad(loss), device="cuda")
    x = np.array([0.3, -0.2])
    # NOTE: the device tape starts with 16 rows; 20 steps make it grow once.
    _check([grad(x, 20)], [fnad.grad(loss)(x, 20)], 1e-12, ["dx"])
