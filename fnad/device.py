"""Devices: where ``jit`` compiles for when no ``device=`` is given, and moving arrays.

The default device is ``"cpu"`` unless the environment variable ``FNAD_DEVICE`` says
otherwise; ``default_device("cuda")`` sets it, and used as a context manager restores
the previous one on exit. It is read when a jitted function is called.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fnad.tree import tree_map

DEVICES = ("cpu", "cuda")
_DEFAULT: list[str | None] = [None]


def check_device(device: Any, what: str = "device") -> str:
    """The device name, or a clear error naming ``what`` when it is not one of DEVICES."""
    if device not in DEVICES:
        raise ValueError(f"fnad: {what} must be one of {DEVICES}, got {device!r}")
    return device


def current_device() -> str:
    """The device ``jit`` compiles for when no ``device=`` is given."""
    if _DEFAULT[0] is None:
        _DEFAULT[0] = check_device(os.environ.get("FNAD_DEVICE", "cpu"), "FNAD_DEVICE")
    return _DEFAULT[0]


class default_device:  # noqa: N801  (a function to users; a class to be a context manager)
    """Make ``device`` the default of ``jit``; as a context manager, only inside the block.

    >>> import fnad
    >>> with fnad.default_device("cpu"):
    ...     fnad.device.current_device()
    'cpu'
    """

    def __init__(self, device: str) -> None:
        self.previous = current_device()
        _DEFAULT[0] = check_device(device)

    def __enter__(self) -> default_device:
        return self

    def __exit__(self, *exc: Any) -> None:
        _DEFAULT[0] = self.previous


def device_put(tree: Any, device: str = "cuda") -> Any:
    """Copy the arrays of a pytree to ``device`` (device arrays stay where they are).

    On ``"cuda"`` the leaves become device arrays (``__cuda_array_interface__``), which
    jitted functions take without copies; on ``"cpu"`` they become NumPy arrays."""
    if check_device(device) == "cpu":
        return device_get(tree)
    from fnad.backends import cuda

    cuda.require()
    return tree_map(lambda x: cuda.to_device(x, "device_put leaf"), tree)


def device_get(tree: Any) -> Any:
    """The arrays of a pytree as NumPy arrays (device arrays are copied to the host)."""

    def get(x: Any) -> Any:
        if hasattr(x, "copy_to_host"):
            return x.copy_to_host()
        return np.asarray(x)

    return tree_map(get, tree)
