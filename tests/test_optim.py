"""fnad.optim: every optimizer against its update rule written out in NumPy, and all of them
in one jitted step against the interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import optim
from fnad.tree import tree_leaves, tree_map

RNG = np.random.default_rng(0)
PARAMS = {"w": RNG.normal(size=(3, 2)), "layers": [RNG.normal(size=4), RNG.normal(size=())]}
GRADS = [tree_map(lambda p: RNG.normal(size=np.shape(p)), PARAMS) for _ in range(3)]


def reference(name, p, g, state, t, lr):
    """One step of the textbook rule for one array; ``state`` is a dict updated in place."""
    if name == "sgd":
        return p - lr * g
    if name in ("momentum", "nesterov"):
        v = state["v"] = 0.9 * state.get("v", 0.0) + g
        return p - lr * (g + 0.9 * v if name == "nesterov" else v)
    if name == "rmsprop":
        s = state["s"] = 0.9 * state.get("s", 0.0) + 0.1 * g**2
        return p - lr * g / (np.sqrt(s) + 1e-8)
    m = state["m"] = 0.9 * state.get("m", 0.0) + 0.1 * g
    v = state["v"] = 0.999 * state.get("v", 0.0) + 0.001 * g**2
    m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
    decay = 0.05 * p if name == "adamw" else 0.0
    return p - lr * (m_hat / (np.sqrt(v_hat) + 1e-8) + decay)


OPTIMIZERS = {
    "sgd": lambda lr: optim.sgd(lr),
    "momentum": lambda lr: optim.momentum(lr),
    "nesterov": lambda lr: optim.momentum(lr, nesterov=True),
    "rmsprop": lambda lr: optim.rmsprop(lr),
    "adam": lambda lr: optim.adam(lr),
    "adamw": lambda lr: optim.adamw(lr, weight_decay=0.05),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_three_steps_match_the_numpy_rule(name):
    opt = OPTIMIZERS[name](0.1)
    params, state = PARAMS, opt.init(PARAMS)
    expected = [np.array(p, dtype=float) for p in tree_leaves(PARAMS)]
    states = [{} for _ in expected]
    for t, grads in enumerate(GRADS, start=1):
        params, state = opt.update(grads, state, params)
        for k, g in enumerate(tree_leaves(grads)):
            expected[k] = reference(name, expected[k], g, states[k], t, 0.1)
    assert int(state["count"]) == 3
    for got, want in zip(tree_leaves(params), expected):
        assert np.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_schedules_and_float32():
    opt = optim.adam(lambda count: 0.1 / (1.0 + count))
    p = {"w": np.ones(3, np.float32)}
    state = opt.init(p)
    for g in (np.full(3, 2.0, np.float32), np.full(3, -1.0, np.float32)):
        p, state = opt.update({"w": g}, state, p)
    assert p["w"].dtype == np.float32
    # step 1 moves by lr(0) = 0.1 (Adam's first step is lr * sign(g)), step 2 by lr(1) * ...
    m, v = 0.9 * 0.1 * 2 + 0.1 * -1, 0.999 * 0.001 * 4 + 0.001 * 1
    second = 0.05 * (m / 0.19) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    assert np.allclose(p["w"], 1 - 0.1 - second, rtol=1e-6)


def test_global_norm():
    assert optim.global_norm(GRADS[0]) == pytest.approx(
        np.sqrt(sum(np.sum(g**2) for g in tree_leaves(GRADS[0])))
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="learning_rate must be a positive float"):
        optim.sgd(-1.0)
    with pytest.raises(ValueError, match=r"adam: b2 must be in \[0, 1\), got 1.0"):
        optim.adam(0.1, b2=1.0)
    opt = optim.momentum(0.1)
    with pytest.raises(ValueError, match="grads and params must have the same structure"):
        opt.update({"w": np.ones(2)}, opt.init(PARAMS), PARAMS)


def test_all_optimizers_in_one_jitted_step_match_the_interpreter():
    """value_and_grad and every optimizer's update inside one jitted function: one compile."""
    opts = {name: make(0.05) for name, make in OPTIMIZERS.items()}

    def loss(p, x):
        return np.sum(np.tanh(x @ p["w"])) + np.sum(p["layers"][0] ** 2) * p["layers"][1]

    def step(params, states, x):
        out = {}
        for name in sorted(opts):
            value, grads = fnad.value_and_grad(loss)(params[name], x)
            out[name] = (*opts[name].update(grads, states[name], params[name]), value)
        return out

    params = {name: PARAMS for name in opts}
    states = {name: opt.init(PARAMS) for name, opt in opts.items()}
    x = RNG.normal(size=(5, 3))
    jitted = fnad.jit(step)
    compiled = jitted(params, states, x)
    with fnad.disable_jit():
        interpreted = jitted(params, states, x)
    assert jitted.compile_count <= 1
    for a, b in zip(tree_leaves(compiled), tree_leaves(interpreted)):
        assert a.dtype == b.dtype and np.allclose(a, b, rtol=1e-12, atol=1e-14)
    # the interpreter itself follows the NumPy rules (checked above); one rule here too
    g = fnad.grad(loss)(PARAMS, x)
    assert np.allclose(compiled["sgd"][0]["w"], PARAMS["w"] - 0.05 * g["w"])
