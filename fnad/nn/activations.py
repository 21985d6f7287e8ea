"""Activation functions, written with NumPy operations so they trace, differentiate and jit.

Each works on NumPy arrays and on traced values alike. The exponentials are shifted so that
large inputs never overflow: ``sigmoid`` goes through ``tanh``, ``softmax`` and
``log_softmax`` subtract the row maximum first.

>>> import numpy as np
>>> from fnad.nn import activations
>>> activations.softmax(np.array([0.0, 1000.0]))
array([0., 1.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp

_GELU_C = float(np.sqrt(2.0 / np.pi))


def relu(x: Any) -> Any:
    """``max(x, 0)``."""
    return fnp.maximum(x, 0.0)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """``x`` for positive inputs, ``negative_slope * x`` otherwise."""
    return fnp.where(x > 0, x, negative_slope * x)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, computed as ``(tanh(x / 2) + 1) / 2`` so it never overflows."""
    return 0.5 * (fnp.tanh(0.5 * x) + 1.0)


def tanh(x: Any) -> Any:
    """The hyperbolic tangent."""
    return fnp.tanh(x)


def gelu(x: Any) -> Any:
    """The Gaussian error linear unit in its tanh form (fnad has no ``erf`` primitive)."""
    return 0.5 * x * (1.0 + fnp.tanh(_GELU_C * (x + 0.044715 * x**3)))


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``x - log(sum(exp(x)))`` along ``axis``, shifted by the maximum for stability."""
    shifted = x - fnp.max(x, axis=axis, keepdims=True)
    return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum for stability."""
    e = fnp.exp(x - fnp.max(x, axis=axis, keepdims=True))
    return e / fnp.sum(e, axis=axis, keepdims=True)


def linear(x: Any) -> Any:
    """The identity: what a layer without an activation applies."""
    return x


ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "gelu": gelu,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "linear": linear,
}


def get(activation: str | Callable | None) -> Callable[[Any], Any]:
    """The activation named ``activation`` (``None`` is linear); callables pass through."""
    if activation is None:
        return linear
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise ValueError(
        f"fnad.nn: unknown activation {activation!r}; expected one of "
        f"{', '.join(sorted(ACTIVATIONS))}, None or a callable"
    )
