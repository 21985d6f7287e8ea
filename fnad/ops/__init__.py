"""Primitive declarations, one file per family. Importing this package fills the registry."""

from fnad.ops import (  # noqa: F401
    contract,
    control,
    custom,
    elementwise,
    fused,
    indexing,
    reduce,
    shape,
)
