"""Primitive declarations, one file per family. Importing this package fills the registry."""

from fnad.ops import (
    complex,
    contract,
    elementwise,
    fft,
    fused,
    indexing,
    linalg,
    linalg_decomp,
    reduce,
    shape,
)  # noqa: F401
