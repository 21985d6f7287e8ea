"""``fnad.optim``: gradient-descent optimizers as pairs of pure functions over pytrees.

Each constructor returns an ``Optimizer(init, update)``::

    opt = fnad.optim.adam(1e-3)
    state = opt.init(params)
    params, state = opt.update(grads, state, params)

``params``, ``grads`` and ``state`` are pytrees (nested dicts, lists and tuples of arrays);
nothing is mutated. The state holds arrays only (the step count is a 0-d int64 array), so a
whole training step, ``value_and_grad`` and ``update`` together, compiles with ``fnad.jit``.
The learning rate is a float or a schedule ``lr(count) -> float`` written with NumPy
operations (``count`` is the 0-d step count before this update).

>>> import numpy as np, fnad
>>> opt = fnad.optim.sgd(0.1)
>>> params, state = opt.update({"w": np.ones(2)}, opt.init({"w": np.zeros(2)}), {"w": np.zeros(2)})
>>> params["w"]
array([-0.1, -0.1])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad.tree import tree_leaves, tree_map, tree_structure

__all__ = ["Optimizer", "adam", "adamw", "global_norm", "momentum", "rmsprop", "sgd"]


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params) -> (params, state)``."""

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], tuple[Any, Any]]


def _check_lr(name: str, learning_rate: Any) -> None:
    if callable(learning_rate):
        return
    if not isinstance(learning_rate, int | float) or learning_rate <= 0:
        raise ValueError(
            f"fnad.optim.{name}: learning_rate must be a positive float or a schedule "
            f"callable, got {learning_rate!r}"
        )


def _lr(learning_rate: Any, count: Any) -> Any:
    return learning_rate(count) if callable(learning_rate) else learning_rate


def _check_tree(name: str, grads: Any, params: Any) -> None:
    if tree_structure(grads) != tree_structure(params):
        raise ValueError(
            f"fnad.optim.{name}.update: grads and params must have the same structure, got "
            f"{tree_structure(grads)} and {tree_structure(params)}"
        )


def _zeros(params: Any) -> Any:
    return tree_map(lambda p: np.zeros(np.shape(p), np.result_type(p)), params)


def _cast(value: Any, like: Any) -> Any:
    """A 0-d schedule value in ``like``'s dtype, so float32 parameters stay float32."""
    # NOTE: np.float64 subclasses float but is not weakly typed under NEP 50: cast it too.
    return value if type(value) in (int, float) else fnp.astype(value, like.dtype)


def sgd(learning_rate: Any) -> Optimizer:
    """Plain gradient descent: ``p -= lr * g``."""
    _check_lr("sgd", learning_rate)

    def init(params):
        return {"count": np.zeros((), np.int64)}

    def update(grads, state, params):
        _check_tree("sgd", grads, params)
        lr = _lr(learning_rate, state["count"])
        new = tree_map(lambda p, g: p - _cast(lr, p) * g, params, grads)
        return new, {"count": state["count"] + 1}

    return Optimizer(init, update)


def momentum(learning_rate: Any, beta: float = 0.9, *, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum: ``v = beta * v + g; p -= lr * v``.

    With ``nesterov=True`` the step is ``lr * (g + beta * v)``.
    """
    _check_lr("momentum", learning_rate)

    def init(params):
        return {"count": np.zeros((), np.int64), "velocity": _zeros(params)}

    def update(grads, state, params):
        _check_tree("momentum", grads, params)
        lr = _lr(learning_rate, state["count"])
        velocity = tree_map(lambda v, g: beta * v + g, state["velocity"], grads)
        step = tree_map(lambda v, g: g + beta * v, velocity, grads) if nesterov else velocity
        new = tree_map(lambda p, s: p - _cast(lr, p) * s, params, step)
        return new, {"count": state["count"] + 1, "velocity": velocity}

    return Optimizer(init, update)


def rmsprop(learning_rate: Any, decay: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """``s = decay * s + (1 - decay) * g**2; p -= lr * g / (sqrt(s) + eps)``."""
    _check_lr("rmsprop", learning_rate)

    def init(params):
        return {"count": np.zeros((), np.int64), "square_avg": _zeros(params)}

    def update(grads, state, params):
        _check_tree("rmsprop", grads, params)
        lr = _lr(learning_rate, state["count"])
        avg = tree_map(lambda s, g: decay * s + (1.0 - decay) * g * g, state["square_avg"], grads)
        new = tree_map(
            lambda p, g, s: p - _cast(lr, p) * g / (fnp.sqrt(s) + eps), params, grads, avg
        )
        return new, {"count": state["count"] + 1, "square_avg": avg}

    return Optimizer(init, update)


def adam(learning_rate: Any, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam with bias-corrected first and second moment estimates."""
    return _adam("adam", learning_rate, b1, b2, eps, 0.0)


def adamw(
    learning_rate: Any,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> Optimizer:
    """Adam with decoupled weight decay: ``p -= lr * (adam_step + weight_decay * p)``."""
    return _adam("adamw", learning_rate, b1, b2, eps, weight_decay)


def _adam(name: str, learning_rate, b1, b2, eps, weight_decay) -> Optimizer:
    _check_lr(name, learning_rate)
    for what, value in (("b1", b1), ("b2", b2)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"fnad.optim.{name}: {what} must be in [0, 1), got {value!r}")

    def init(params):
        return {"count": np.zeros((), np.int64), "mu": _zeros(params), "nu": _zeros(params)}

    def update(grads, state, params):
        _check_tree(name, grads, params)
        lr = _lr(learning_rate, state["count"])
        t = fnp.astype(state["count"] + 1, np.float64)
        mu = tree_map(lambda m, g: b1 * m + (1.0 - b1) * g, state["mu"], grads)
        nu = tree_map(lambda v, g: b2 * v + (1.0 - b2) * g * g, state["nu"], grads)
        # NOTE: 0-d bias corrections, cast to each leaf's dtype so float32 stays float32.
        c1, c2 = 1.0 / (1.0 - b1**t), 1.0 / (1.0 - b2**t)

        def step(p, m, v):
            m_hat, v_hat = m * fnp.astype(c1, p.dtype), v * fnp.astype(c2, p.dtype)
            direction = m_hat / (fnp.sqrt(v_hat) + eps)
            if weight_decay:
                direction = direction + weight_decay * p
            return p - _cast(lr, p) * direction

        new = tree_map(step, params, mu, nu)
        return new, {"count": state["count"] + 1, "mu": mu, "nu": nu}

    return Optimizer(init, update)


def global_norm(tree: Any) -> Any:
    """``sqrt(sum of squares of every leaf)``, e.g. to monitor or clip gradients."""
    return fnp.sqrt(sum(fnp.sum(g * g) for g in tree_leaves(tree)))
