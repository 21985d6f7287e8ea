"""Primitive declarations, one file per family. Importing this package fills the registry."""

from fnad.ops import (  # noqa: F401
    complex,
    contract,
    control,
    custom,
    elementwise,
    fft,
    fused,
    incomplete,
    indexing,
    linalg,
    linalg_decomp,
    reduce,
    scan,
    shape,
    special,
)
