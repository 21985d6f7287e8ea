"""Layers as pairs of pure functions: ``init(seed, input_shape) -> params`` and
``apply(params, x, key=None, training=False) -> y``.

A layer object holds only its configuration; parameters are plain dicts of NumPy arrays,
so gradients, optimizer states and jit signatures are ordinary pytrees. Shapes are the
full shapes of the layer's input, with ``None`` allowed for the batch (first) dimension.
``Sequential`` stacks layers (its parameters: a list of the layers' dicts) and is a layer.

>>> import numpy as np
>>> from fnad.nn import Dense
>>> layer = Dense(3)
>>> layer.init(0, (None, 4))["w"].shape, layer.output_shape((None, 4))
((4, 3), (None, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.nn import activations, init, random

Shape = tuple[int | None, ...]


class Layer:
    """The layer interface. Subclasses override ``init`` and ``apply``."""

    def init(self, seed: Any, input_shape: Any, dtype: Any = np.float64) -> Any:
        """Parameters for inputs of ``input_shape`` (``None`` allowed for the batch).

        ``seed`` is an int, None or a ``numpy.random.Generator``.
        """
        return self.build(as_rng(seed), check_shape(input_shape), dtype)[0]

    def output_shape(self, input_shape: Any) -> Shape:
        """The output shape for inputs of ``input_shape``."""
        return self.build(as_rng(0), check_shape(input_shape), np.float64)[1]

    def build(self, rng: np.random.Generator, input_shape: Shape, dtype: Any) -> tuple:
        """``(params, output_shape)``: what subclasses override (no parameters by default)."""
        return {}, input_shape

    def apply(self, params: dict, x: Any, *, key: Any = None, training: bool = False) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def as_rng(seed: Any) -> np.random.Generator:
    """A NumPy generator from a seed (int or None) or a generator (used as it is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, int | np.integer):
        return np.random.default_rng(seed)
    raise TypeError(
        f"fnad.nn: seed must be an int, None or a numpy.random.Generator, got {type(seed).__name__}"
    )


def check_shape(input_shape: Any) -> Shape:
    """``input_shape`` as a tuple of ints, with ``None`` allowed only first (the batch)."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(
            f"fnad.nn: input_shape must be a tuple of ints, e.g. (None, 64), got {input_shape!r}"
        ) from None
    for i, d in enumerate(shape):
        if d is None and i == 0:
            continue
        if not isinstance(d, int | np.integer) or d < 0:
            raise ValueError(
                f"fnad.nn: input_shape entries must be non-negative ints (None only for the "
                f"batch dimension, first), got {input_shape!r}"
            )
    return tuple(d if d is None else int(d) for d in shape)


def check_rank(layer: Layer, shape: Shape, rank: int | None, what: str) -> None:
    """Raise a ValueError naming the layer unless ``shape`` has ``rank`` known feature dims."""
    if rank is not None and len(shape) != rank:
        raise ValueError(f"fnad.nn.{type(layer).__name__}: expected {what}, got shape {shape}")
    if any(d is None for d in shape[1:]):
        raise ValueError(
            f"fnad.nn.{type(layer).__name__}: only the batch (first) dimension of the input "
            f"shape may be None, got {shape}"
        )


def check_features(layer: Layer, x: Any, expected: int) -> None:
    """Raise a ValueError naming the layer unless ``x`` has ``expected`` features (last axis)."""
    shape = tuple(fnp.shape(x))
    if not shape or shape[-1] != expected:
        raise ValueError(
            f"fnad.nn.{type(layer).__name__}: the parameters expect inputs with {expected} "
            f"features on the last axis, got an input of shape {shape}"
        )


class Dense(Layer):
    """``activation(x @ w + b)`` over the last axis; no activation means linear."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        *,
        use_bias: bool = True,
        kernel_init: Any = "glorot_uniform",
        bias_init: Any = "zeros",
    ) -> None:
        if not isinstance(units, int | np.integer) or units < 1:
            raise ValueError(f"fnad.nn.Dense: units must be a positive int, got {units!r}")
        activations.get(activation)  # fail early on an unknown name
        self.units, self.activation, self.use_bias = int(units), activation, use_bias
        self.kernel_init, self.bias_init = init.get(kernel_init), init.get(bias_init)

    def build(self, rng, input_shape, dtype):
        if not input_shape:
            raise ValueError("fnad.nn.Dense: expected an input with a feature axis, got shape ()")
        check_rank(self, input_shape, None, "")
        params = {"w": self.kernel_init(rng, (input_shape[-1], self.units), dtype)}
        if self.use_bias:
            params["b"] = self.bias_init(rng, (self.units,), dtype)
        return params, (*input_shape[:-1], self.units)

    def apply(self, params, x, *, key=None, training=False):
        check_features(self, x, fnp.shape(params["w"])[0])
        y = x @ params["w"]
        if self.use_bias:
            y = y + params["b"]
        return activations.get(self.activation)(y)


class Activation(Layer):
    """An activation function as a layer of its own."""

    def __init__(self, activation: Any) -> None:
        activations.get(activation)
        self.activation = activation

    def apply(self, params, x, *, key=None, training=False):
        return activations.get(self.activation)(x)


class Flatten(Layer):
    """Reshape ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``."""

    def build(self, rng, input_shape, dtype):
        if len(input_shape) < 2:
            raise ValueError(
                f"fnad.nn.Flatten: expected a batch axis and feature axes, got shape {input_shape}"
            )
        check_rank(self, input_shape, None, "")
        return {}, (input_shape[0], int(np.prod(input_shape[1:], dtype=np.int64)))

    def apply(self, params, x, *, key=None, training=False):
        shape = fnp.shape(x)
        return fnp.reshape(x, (shape[0], int(np.prod(shape[1:], dtype=np.int64))))


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs while training, scaling the rest by ``1/(1-rate)``.

    Off at inference (``training=False``). Training needs an explicit integer ``key``; the
    mask is ``fnad.nn.random.uniform(key, x.shape) >= rate``, so pass a new key each step.
    """

    def __init__(self, rate: float) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"fnad.nn.Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def apply(self, params, x, *, key=None, training=False):
        if not training or self.rate == 0.0:
            return x
        if key is None:
            raise ValueError(
                "fnad.nn.Dropout: training=True needs a random key, e.g. "
                "model.apply(params, x, key=step, training=True)"
            )
        keep = random.uniform(key, tuple(fnp.shape(x))) >= self.rate
        return fnp.where(keep, x / (1.0 - self.rate), 0.0)


class LayerNorm(Layer):
    """Normalize over the last axis to zero mean and unit variance, then scale and shift."""

    def __init__(self, epsilon: float = 1e-5) -> None:
        self.epsilon = float(epsilon)

    def build(self, rng, input_shape, dtype):
        if not input_shape:
            raise ValueError("fnad.nn.LayerNorm: expected a feature axis, got shape ()")
        check_rank(self, input_shape, None, "")
        features = input_shape[-1]
        return {"scale": np.ones(features, dtype), "shift": np.zeros(features, dtype)}, input_shape

    def apply(self, params, x, *, key=None, training=False):
        centered = x - fnp.mean(x, axis=-1, keepdims=True)
        var = fnp.mean(centered * centered, axis=-1, keepdims=True)
        return centered / fnp.sqrt(var + self.epsilon) * params["scale"] + params["shift"]


class Embedding(Layer):
    """Look up rows of a ``(num_embeddings, features)`` table by integer index."""

    def __init__(self, num_embeddings: int, features: int, *, stddev: float = 1.0) -> None:
        for name, value in (("num_embeddings", num_embeddings), ("features", features)):
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"fnad.nn.Embedding: {name} must be a positive int, got {value!r}")
        self.num_embeddings, self.features, self.stddev = int(num_embeddings), features, stddev

    def build(self, rng, input_shape, dtype):
        check_rank(self, input_shape, None, "")
        table = init.normal(self.stddev)(rng, (self.num_embeddings, self.features), dtype)
        return {"table": table}, (*input_shape, self.features)

    def apply(self, params, x, *, key=None, training=False):
        dtype = getattr(x, "dtype", None) or np.asarray(x).dtype
        if not np.issubdtype(dtype, np.integer):
            raise TypeError(f"fnad.nn.Embedding: indices must be integers, got dtype {dtype}")
        return params["table"][x]


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
