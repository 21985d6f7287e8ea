"""``fnad.nn``: layers, activations, initializers and losses as pure functions over pytrees.

A layer or model is an object holding configuration, with two functions: ``init(seed, input_shape)``
returns the parameters (nested lists and dicts of NumPy arrays) and ``apply(params, x)``
computes the output. Both are ordinary Python on NumPy operations, so ``fnad.grad``,
``fnad.jit`` and ``fnad.make_graph`` see through them. See docs/nn.md.

>>> import numpy as np
>>> from fnad import nn
>>> model = nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(3)])
>>> params = model.init(0, (None, 4))
>>> model.apply(params, np.zeros((2, 4))).shape
(2, 3)
"""

from fnad.nn import activations, init, losses, random
from fnad.nn.activations import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from fnad.nn.conv import AvgPool2D, Conv2D, MaxPool2D
from fnad.nn.layers import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
    Sequential,
)
from fnad.nn.losses import binary_cross_entropy, mse, one_hot, softmax_cross_entropy

__all__ = [
    "Activation",
    "AvgPool2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Layer",
    "LayerNorm",
    "MaxPool2D",
    "Sequential",
    "activations",
    "binary_cross_entropy",
    "gelu",
    "init",
    "leaky_relu",
    "log_softmax",
    "losses",
    "mse",
    "one_hot",
    "random",
    "relu",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "tanh",
]
