"""Loss functions: scalar means over the batch, traceable, differentiable and jittable.

>>> import numpy as np
>>> from fnad.nn import losses
>>> float(losses.softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([1])))  # log 2
0.6931471805599453
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.nn.activations import log_softmax


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(fnp.shape(x))


def _dtype(x: Any) -> np.dtype:
    return np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float64) -> Any:
    """``labels[..., None] == arange(num_classes)`` as ``dtype``: one comparison node."""
    if not np.issubdtype(_dtype(labels), np.integer):
        raise TypeError(f"fnad.nn.one_hot: labels must be integers, got {_dtype(labels)}")
    classes = np.arange(num_classes, dtype=_dtype(labels))
    return fnp.astype(fnp.expand_dims(labels, -1) == classes, dtype)


def softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    """Mean cross-entropy between ``softmax(logits)`` and ``labels``, computed from logits.

    ``labels`` are either integer classes of shape ``logits.shape[:-1]`` or probabilities
    (for example one-hot rows) of the same shape as ``logits``.
    """
    shape, label_shape = _shape(logits), _shape(labels)
    if not shape:
        raise ValueError("fnad.nn.softmax_cross_entropy: logits must have a class axis, got 0-d")
    if np.issubdtype(_dtype(labels), np.integer):
        if label_shape != shape[:-1]:
            raise ValueError(
                "fnad.nn.softmax_cross_entropy: integer labels must have shape "
                f"logits.shape[:-1] = {shape[:-1]}, got {label_shape}"
            )
        labels = one_hot(labels, shape[-1], _dtype(logits))
    elif label_shape != shape:
        raise ValueError(
            "fnad.nn.softmax_cross_entropy: probability (one-hot) labels must have the "
            f"logits' shape {shape}, got {label_shape}; integer class labels need an integer dtype"
        )
    return -fnp.mean(fnp.sum(labels * log_softmax(logits), axis=-1))


def binary_cross_entropy(pred: Any, labels: Any, *, from_logits: bool = False) -> Any:
    """Mean binary cross-entropy of ``labels`` in [0, 1] against probabilities ``pred``.

    With ``from_logits=True``, ``pred`` are logits and the loss is computed stably as
    ``log(1 + exp(z)) - z * y``; probabilities are clipped to ``[1e-12, 1 - 1e-12]``.
    """
    _check_same("binary_cross_entropy", pred, labels)
    if from_logits:
        return fnp.mean(fnp.logaddexp(0.0, pred) - pred * labels)
    p = fnp.clip(pred, 1e-12, 1.0 - 1e-12)
    return -fnp.mean(labels * fnp.log(p) + (1.0 - labels) * fnp.log(1.0 - p))


def mse(pred: Any, target: Any) -> Any:
    """Mean squared error ``mean((pred - target) ** 2)``."""
    _check_same("mse", pred, target)
    return fnp.mean((pred - target) ** 2)


def _check_same(name: str, pred: Any, target: Any) -> None:
    if _shape(pred) != _shape(target):
        raise ValueError(
            f"fnad.nn.{name}: predictions and targets must have the same shape, "
            f"got {_shape(pred)} and {_shape(target)}"
        )
