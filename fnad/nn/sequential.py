"""``Sequential``: a stack of layers applied in order, itself a layer and a plain function.

>>> import numpy as np
>>> from fnad.nn import Dense, Sequential
>>> model = Sequential([Dense(8, activation="relu"), Dense(2, activation="softmax")])
>>> params = model.init(0, (None, 4))
>>> model.apply(params, np.ones((3, 4))).shape
(3, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnad.nn import random
from fnad.nn.layers import Layer, Shape


class Sequential(Layer):
    """Layers applied one after the other. Parameters are a list with one dict per layer."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"fnad.nn.Sequential: layers[{i}] must be a fnad.nn layer, got "
                    f"{type(layer).__name__}"
                )
        self.layers = layers

    def build(self, rng, input_shape, dtype) -> tuple[list, Shape]:
        params = []
        for layer in self.layers:
            p, input_shape = layer.build(rng, input_shape, dtype)
            params.append(p)
        return params, input_shape

    def apply(self, params: list, x: Any, *, key: Any = None, training: bool = False) -> Any:
        """Run the layers on ``x``; ``key`` (an integer) feeds Dropout when ``training``."""
        if not isinstance(params, list | tuple) or len(params) != len(self.layers):
            got = len(params) if isinstance(params, list | tuple) else type(params).__name__
            raise ValueError(
                f"fnad.nn.Sequential.apply: params must be a list of {len(self.layers)} "
                f"layer parameter dicts (from model.init), got {got}"
            )
        for i, (layer, p) in enumerate(zip(self.layers, params)):
            sub = random.fold_in(key, i) if training and key is not None else None
            x = layer.apply(p, x, key=sub, training=training)
        return x

    __call__ = apply

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner},\n])"
