"""Abstract values: the shape and dtype of an array, without its data.

``ArraySpec`` is what static tracing knows about a value. Dtype helpers here decide which
dtypes are differentiable and how a dtype is written in printed graphs (``f64[3,4]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SHORT = {
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "complex64": "c64",
    "complex128": "c128",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "bool": "bool",
}
_LONG = {short: np.dtype(long) for long, short in _SHORT.items()}


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """Shape and dtype of an array.

    >>> ArraySpec((3, 4), np.dtype("float64"))
    f64[3,4]
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"

    @staticmethod
    def parse(text: str) -> ArraySpec:
        """Inverse of ``repr``: ``ArraySpec.parse("f32[2,3]")``."""
        name, _, dims = text.partition("[")
        if name not in _LONG or not dims.endswith("]"):
            raise ValueError(f"fnad: cannot parse array spec {text!r}")
        dims = dims[:-1]
        return ArraySpec(tuple(int(d) for d in dims.split(",")) if dims else (), _LONG[name])


def short_dtype(dtype: np.dtype) -> str:
    return _SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)


def spec_of(value: object) -> ArraySpec:
    """The spec of a concrete value (array, NumPy scalar or Python scalar)."""
    spec = getattr(value, "spec", None)
    if isinstance(spec, ArraySpec):
        return spec
    arr = np.asarray(value)
    return ArraySpec(arr.shape, arr.dtype)


def is_float(dtype: np.dtype) -> bool:
    """Whether values of this dtype carry gradients (real or complex floating point)."""
    return np.issubdtype(dtype, np.inexact)
