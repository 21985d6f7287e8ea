"""Gradient checking and property-based testing for fnad users and for fnad itself.

* :func:`check_grads` tests a function's forward and reverse derivatives, up to any order,
  against central finite differences and against each other.
* :func:`assert_allclose` compares pytrees leaf by leaf, naming the leaf that differs.
* :func:`check_backends` runs a function through the interpreter and the compiler and
  checks that they agree.
* :mod:`fnad.testing.strategies` (imported on first use, it needs hypothesis) draws arrays,
  shapes, pytrees and random programs of fnad primitives.

>>> import numpy as np
>>> from fnad.testing import check_grads
>>> check_grads(lambda x: np.tanh(x) ** 2, (np.linspace(-1.0, 1.0, 5),), order=3)
"""

from __future__ import annotations

import importlib
from typing import Any

from fnad.testing.check import check_grads
from fnad.testing.compare import assert_allclose, check_backends

__all__ = ["assert_allclose", "check_backends", "check_grads", "strategies"]


def __getattr__(name: str) -> Any:
    # NOTE: strategies imports hypothesis, a test-only dependency: load it on first use.
    if name in ("strategies", "programs"):
        return importlib.import_module(f"fnad.testing.{name}")
    raise AttributeError(f"module 'fnad.testing' has no attribute {name!r}")
