"""Random numbers inside traced code, from an explicit integer key.

fnad has no random primitive, so ``uniform(key, shape)`` hashes ``(key, position)`` with
unsigned 64-bit integer arithmetic (multiply and xor, which wrap identically in NumPy and in
Numba). The result depends only on the key, so a jitted step gives the same numbers as
the interpreter, and a new key (say, the step number) gives new numbers without a new
trace when the key is an array argument. It is a hash meant for dropout masks, not a
statistically strong generator.

>>> import numpy as np
>>> from fnad.nn import random
>>> u = random.uniform(np.uint64(0), (1000,))
>>> bool(0.45 < u.mean() < 0.55)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp

_WEYL = np.uint64(0x9E3779B97F4A7C15)
_KEY_MUL = np.uint64(0xBF58476D1CE4E5B9)
_MIX = (
    (np.uint64(0x94D049BB133111EB), np.uint64(0xD6E8FEB86659FD93)),
    (np.uint64(0x2545F4914F6CDD1D), np.uint64(0x9FB21C651E98DF69)),
)


def _as_key(key: Any) -> Any:
    dtype = getattr(key, "dtype", None) or np.asarray(key).dtype
    if not np.issubdtype(dtype, np.integer) or fnp.shape(key) != ():
        raise TypeError(
            f"fnad.nn.random: key must be an integer scalar (a seed or step number), got "
            f"shape {fnp.shape(key)} dtype {dtype}"
        )
    return fnp.astype(key, np.uint64)


def fold_in(key: Any, data: int) -> Any:
    """A new key derived from ``key`` and the Python integer ``data`` (e.g. a layer index)."""
    with np.errstate(over="ignore"):
        return (_as_key(key) + np.uint64(data + 1)) * _WEYL ^ _KEY_MUL


def uniform(key: Any, shape: tuple[int, ...], dtype: Any = np.float64) -> Any:
    """Numbers in ``[0, 1)`` of the given shape, a pure function of ``key``."""
    count = int(np.prod(shape, dtype=np.int64))
    with np.errstate(over="ignore"):
        x = np.arange(count, dtype=np.uint64) * _WEYL + _as_key(key) * _KEY_MUL
        for xor, mul in _MIX:
            x = (x ^ xor) * mul
    u = fnp.astype(x, np.float64) * 2.0**-64
    # NOTE: rounding to float64 can reach 1.0 exactly; keep the interval half-open.
    u = fnp.minimum(u, 1.0 - 2.0**-53)
    return fnp.reshape(fnp.astype(u, dtype), shape)


def bernoulli(key: Any, p: float, shape: tuple[int, ...]) -> Any:
    """A boolean array that is True with probability ``p``."""
    return uniform(key, shape) < p
