"""Primitive declarations, one file per family. Importing this package fills the registry."""

from fnad.ops import complex, contract, elementwise, fused, indexing, reduce, shape  # noqa: F401
