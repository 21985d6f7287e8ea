"""2-D convolution and pooling on NHWC arrays (batch, height, width, channels).

Both start from the same patches: one gather of the flattened input with an integer index
array computed in NumPy at trace time (padding reads an extra constant row). A convolution
multiplies the patches by the kernel (one matrix product), a pooling layer reduces over
them. Only existing primitives appear (gather, concatenate, einsum, reduce), so gradients,
jit and every backend work without a convolution primitive, and the graph stays small.

>>> import numpy as np
>>> from fnad.nn import Conv2D
>>> conv = Conv2D(8, 3, padding="same")
>>> conv.output_shape((None, 5, 5, 2)), conv.init(0, (None, 5, 5, 2))["w"].shape
((None, 5, 5, 8), (3, 3, 2, 8))
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.nn import activations, init
from fnad.nn.layers import Layer, check_features, check_rank


def _pair(value: Any, what: str, layer: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and v >= 1 for v in pair):
        raise ValueError(f"fnad.nn.{layer}: {what} must be a positive int or a pair, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_padding(padding: str, layer: str) -> str:
    if padding not in ("valid", "same"):
        raise ValueError(f"fnad.nn.{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _out_and_pads(size: int, k: int, s: int, padding: str, layer: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one spatial axis."""
    if padding == "same":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return out, total // 2, total - total // 2
    if size < k:
        raise ValueError(f"fnad.nn.{layer}: window {k} is larger than the input size {size}")
    return (size - k) // s + 1, 0, 0


def window_index(shape, kernel, strides, padding: str, layer: str) -> tuple[np.ndarray, tuple]:
    """Flat positions ``(out_h * out_w * kh * kw,)`` into a ``(h * w + 1)`` row axis, and the
    output's ``(out_h, out_w)``. Padded positions point at row ``h * w``, the padding row."""
    (h, w), (kh, kw), (sh, sw) = shape, kernel, strides
    (oh, top, _), (ow, left, _) = (
        _out_and_pads(shape[a], kernel[a], strides[a], padding, layer) for a in (0, 1)
    )
    rows = np.arange(oh)[:, None, None, None] * sh + np.arange(kh)[None, None, :, None] - top
    cols = np.arange(ow)[None, :, None, None] * sw + np.arange(kw)[None, None, None, :] - left
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    return np.where(inside, rows * w + cols, h * w).astype(np.int64).ravel(), (oh, ow)


def patches(x: Any, kernel, strides, padding: str, value: float, layer: str) -> Any:
    """The windows of NHWC ``x`` as ``(n, out_h, out_w, kh * kw, c)``: one gather node.

    Positions outside the input read ``value`` (0 for convolutions, -inf for max pooling).
    """
    shape = tuple(fnp.shape(x))
    if len(shape) != 4:
        raise ValueError(f"fnad.nn.{layer}: expected an NHWC input of rank 4, got shape {shape}")
    n, h, w, c = shape
    index, (oh, ow) = window_index((h, w), kernel, strides, padding, layer)
    flat = fnp.reshape(x, (n, h * w, c))
    if index.size and index.max() == h * w:
        flat = fnp.concatenate([flat, fnp.full_like(x, value, shape=(n, 1, c))], axis=1)
    return fnp.reshape(flat[:, index, :], (n, oh, ow, kernel[0] * kernel[1], c))


def _spatial_shape(layer: Layer, input_shape, kernel, strides, padding, channels) -> tuple:
    check_rank(layer, input_shape, 4, "an NHWC input shape of rank 4")
    name = type(layer).__name__
    sizes = [
        _out_and_pads(input_shape[1 + a], kernel[a], strides[a], padding, name)[0] for a in (0, 1)
    ]
    return (input_shape[0], *sizes, channels)


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library) on NHWC input.

    The kernel has shape ``(kh, kw, in_channels, filters)``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        *,
        strides: Any = 1,
        padding: str = "valid",
        activation: Any = None,
        use_bias: bool = True,
        kernel_init: Any = "glorot_uniform",
    ) -> None:
        self.filters = _pair(filters, "filters", "Conv2D")[0]
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = _pair(strides, "strides", "Conv2D")
        self.padding = _check_padding(padding, "Conv2D")
        activations.get(activation)
        self.activation, self.use_bias = activation, use_bias
        self.kernel_init = init.get(kernel_init)

    def build(self, rng, input_shape, dtype):
        out = _spatial_shape(
            self, input_shape, self.kernel_size, self.strides, self.padding, self.filters
        )
        params = {
            "w": self.kernel_init(rng, (*self.kernel_size, input_shape[3], self.filters), dtype)
        }
        if self.use_bias:
            params["b"] = np.zeros(self.filters, dtype)
        return params, out

    def apply(self, params, x, *, key=None, training=False):
        check_features(self, x, fnp.shape(params["w"])[2])
        cols = patches(x, self.kernel_size, self.strides, self.padding, 0.0, "Conv2D")
        n, oh, ow, k, c = fnp.shape(cols)
        y = fnp.reshape(cols, (n * oh * ow, k * c)) @ fnp.reshape(params["w"], (k * c, -1))
        y = fnp.reshape(y, (n, oh, ow, self.filters))
        if self.use_bias:
            y = y + params["b"]
        return activations.get(self.activation)(y)


class _Pool2D(Layer):
    def __init__(self, pool_size: Any = 2, *, strides: Any = None, padding: str = "valid") -> None:
        name = type(self).__name__
        self.pool_size = _pair(pool_size, "pool_size", name)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", name)
        self.padding = _check_padding(padding, name)

    def build(self, rng, input_shape, dtype):
        channels = input_shape[3] if len(input_shape) == 4 else None
        return {}, _spatial_shape(
            self, input_shape, self.pool_size, self.strides, self.padding, channels
        )


class MaxPool2D(_Pool2D):
    """The maximum over each ``pool_size`` window (stride defaults to the window)."""

    def apply(self, params, x, *, key=None, training=False):
        cols = patches(x, self.pool_size, self.strides, self.padding, -np.inf, "MaxPool2D")
        return fnp.max(cols, axis=3)


class AvgPool2D(_Pool2D):
    """The mean over each window; with ``padding='same'`` padded positions are not counted."""

    def apply(self, params, x, *, key=None, training=False):
        n, h, w, _ = fnp.shape(x)
        args = (self.pool_size, self.strides, self.padding, "AvgPool2D")
        index, (oh, ow) = window_index((h, w), *args)
        count = np.sum(index.reshape(oh, ow, -1) < h * w, axis=-1)[:, :, None]
        total = fnp.sum(patches(x, *args[:3], 0.0, args[3]), axis=3)
        return total / count.astype(total.dtype)
