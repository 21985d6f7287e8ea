"""The per-call fast paths of ``fnad.jit``: keys computed from the arguments alone.

A known signature of plain ndarray (or Python float) arguments is one key tuple and one
dict lookup (``fast_key``); pytrees of ndarrays (dicts, lists, tuples, as parameters
usually are) walk their containers once (``tree_key``), in ``fnad.tree``'s leaf order,
without building a ``PyTreeDef``. Anything else takes the general path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_FLOAT_KEY = ((), np.dtype(np.float64), float)


class SlowPath(Exception):
    """An argument the fast paths do not cover."""


def fast_key(args: tuple) -> tuple:
    """Each argument's shape, dtype and type (one argument alone, the common case, skips
    building the tuple of them). ``AttributeError`` for anything but arrays and floats."""
    if len(args) == 1:
        a = args[0]
        return _FLOAT_KEY if type(a) is float else (a.shape, a.dtype, type(a))
    return tuple([_FLOAT_KEY if type(a) is float else (a.shape, a.dtype, type(a)) for a in args])


def converting(plan: Callable) -> Callable:
    """``plan`` taking Python floats where it takes 0-d arrays."""

    def call(*args: Any) -> Any:
        return plan(*[np.asarray(a) if type(a) is float else a for a in args])

    return call


def tree_key(x: Any, leaves: list) -> Any:
    """The structure and leaf specs of a pytree of ndarrays, appending its leaves to
    ``leaves`` in ``fnad.tree`` order (dicts by sorted key). ``SlowPath`` otherwise."""
    t = type(x)
    if t is np.ndarray:
        leaves.append(x)
        return x.shape, x.dtype
    if t is tuple or t is list:
        return t, tuple([tree_key(c, leaves) for c in x])
    if t is dict:
        try:
            keys = tuple(sorted(x))
        except TypeError:
            raise SlowPath from None
        return t, keys, tuple([tree_key(x[k], leaves) for k in keys])
    if x is None:
        return None
    raise SlowPath
