"""Primitive declarations, one file per family. Importing this package fills the registry."""

from fnad.ops import (  # noqa: F401
    contract,
    elementwise,
    fused,
    indexing,
    reduce,
    scan,
    shape,
    special,
)
