"""Weight initializers: ``init(rng, shape, dtype) -> ndarray`` with NumPy's random generator.

Fan-in and fan-out follow the usual convention: for a dense kernel ``(fan_in, fan_out)``,
for a convolution kernel ``(kh, kw, in_channels, out_channels)`` both are multiplied by the
receptive field ``kh * kw``.

>>> import numpy as np
>>> from fnad.nn import init
>>> init.glorot_uniform(np.random.default_rng(0), (64, 32)).shape
(64, 32)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, tuple[int, ...], np.dtype], np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel of this shape."""
    if len(shape) < 2:
        raise ValueError(f"fnad.nn: a kernel needs at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[:-2], dtype=np.int64))
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
    """Uniform on ``[-l, l]`` with ``l = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
    """Normal with standard deviation ``sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_uniform(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
    """Uniform on ``[-l, l]`` with ``l = sqrt(6 / fan_in)``: for ReLU layers."""
    fan_in, _ = fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
    """Normal with standard deviation ``sqrt(2 / fan_in)``: for ReLU layers."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def zeros(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
    """All zeros (biases)."""
    return np.zeros(shape, dtype)


def ones(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
    """All ones (normalization scales)."""
    return np.ones(shape, dtype)


def normal(stddev: float = 1.0) -> Initializer:
    """Normal with the given standard deviation (embedding tables)."""

    def init(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64):
        return (rng.standard_normal(shape) * stddev).astype(dtype)

    return init


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "zeros": zeros,
    "ones": ones,
}


def get(initializer: str | Initializer) -> Initializer:
    """The initializer named ``initializer``; callables pass through."""
    if callable(initializer):
        return initializer
    if isinstance(initializer, str) and initializer in INITIALIZERS:
        return INITIALIZERS[initializer]
    raise ValueError(
        f"fnad.nn: unknown initializer {initializer!r}; expected one of "
        f"{', '.join(sorted(INITIALIZERS))} or a callable (rng, shape, dtype) -> array"
    )
