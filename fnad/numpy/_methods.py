"""NumPy's protocols on tracers: operators, array methods, ``__array_ufunc__`` and
``__array_function__``, so user code written with ``import numpy as np`` traces."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.trace import Tracer, with_location
from fnad.numpy import (
    _complex,
    _construct,
    _contract,
    _core,
    _indexing,
    _math,
    _reductions,
    _scans,
    _shape,
)


class UnsupportedError(TypeError):
    """A NumPy function or ufunc method that fnad cannot trace."""


def _unsupported(name: str) -> UnsupportedError:
    return with_location(
        UnsupportedError(
            f"fnad: numpy.{name} is not supported on traced values. Use an equivalent from "
            "fnad.numpy (see docs/numpy-coverage.md), or compute it outside the traced "
            "function and pass the result in."
        )
    )


def _swap(fn):
    return lambda self, other: fn(other, self)


_OPERATORS = {
    "add": _core.add,
    "sub": _core.subtract,
    "mul": _core.multiply,
    "truediv": _core.divide,
    "floordiv": _core.floor_divide,
    "mod": _core.mod,
    "pow": _core.power,
    "matmul": _contract.matmul,
    "and": _core.bitwise_and,
    "or": _core.bitwise_or,
    "xor": _core.bitwise_xor,
}
_COMPARISONS = {
    "lt": _core.less,
    "le": _core.less_equal,
    "gt": _core.greater,
    "ge": _core.greater_equal,
    "eq": _core.equal,
    "ne": _core.not_equal,
}


def _reshape_method(self: Tracer, *shape: Any, order: str = "C") -> Any:
    return _shape.reshape(self, shape[0] if len(shape) == 1 else shape, order)


def _transpose_method(self: Tracer, *axes: Any) -> Any:
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return _shape.transpose(self, axes or None)


def _sort_method(self: Tracer, axis: int = -1, kind: Any = None, order: Any = None) -> None:
    """``x.sort()`` sorts in place in NumPy: the tracer moves on to the sorted value."""
    self.rebind(_scans.sort(self, axis, kind, order))


_METHODS = {
    "reshape": _reshape_method,
    "transpose": _transpose_method,
    "sum": _reductions.sum,
    "mean": _reductions.mean,
    "prod": _reductions.prod,
    "max": _reductions.max,
    "min": _reductions.min,
    "var": _reductions.var,
    "std": _reductions.std,
    "argmax": _reductions.argmax,
    "argmin": _reductions.argmin,
    "argsort": _scans.argsort,
    "sort": _sort_method,
    "cumsum": _scans.cumsum,
    "cumprod": _scans.cumprod,
    "round": _math.round,
    "diagonal": _construct.diagonal,
    "repeat": _construct.repeat,
    "any": _reductions.any,
    "all": _reductions.all,
    "dot": _contract.dot,
    "astype": _shape.astype,
    "ravel": _shape.ravel,
    "flatten": _shape.ravel,
    "squeeze": _shape.squeeze,
    "swapaxes": _shape.swapaxes,
    "clip": _core.clip,
    "copy": _shape.copy,
    "trace": _contract.trace,
    "nonzero": _indexing.nonzero,
    "__getitem__": _indexing.getitem,
    "__setitem__": lambda self, key, value: self.rebind(_indexing.setitem(self, key, value)),
    "__neg__": _core.negative,
    "__pos__": _core.positive,
    "__abs__": _core.absolute,
    "__invert__": _core.invert,
    "T": property(lambda self: _shape.transpose(self)),
    "mT": property(lambda self: _shape.swapaxes(self, -1, -2)),
    "conj": _complex.conj,
    "conjugate": _complex.conj,
    "real": property(_complex.real),
    "imag": property(_complex.imag),
}


def _array_ufunc(self: Tracer, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any):
    if kwargs.get("out") is not None:
        raise with_location(TypeError("fnad: out= is not supported in traced code"))
    fn = _UFUNCS.get(ufunc)
    if method == "__call__" and fn is not None and not kwargs:
        return fn(*inputs)
    if method == "reduce" and ufunc in _UFUNC_REDUCE:
        # NOTE: ufunc.reduce reduces axis 0 by default, where np.sum reduces all axes.
        return _UFUNC_REDUCE[ufunc](*inputs, **{"axis": 0, **kwargs})
    if method == "at" and ufunc is np.add:
        raise with_location(
            TypeError(
                "fnad: np.add.at mutates its argument; use "
                "fnad.numpy.add_at(a, indices, values), which returns a "
                "new array"
            )
        )
    suffix = "" if method == "__call__" else f".{method}"
    extra = f" with {sorted(kwargs)}" if kwargs and fn is not None else ""
    raise _unsupported(f"{ufunc.__name__}{suffix}{extra}")


def _array_function(self: Tracer, func: Any, types: Any, args: Any, kwargs: Any):
    fn = _FUNCTIONS.get(func)
    if fn is None:
        module = getattr(func, "__module__", "numpy") or "numpy"
        prefix = module.replace("numpy.", "", 1) + "." if module.startswith("numpy.") else ""
        raise _unsupported(prefix + func.__name__)
    return fn(*args, **kwargs)


_UFUNCS: dict[np.ufunc, Any] = {}
_UFUNC_REDUCE: dict[np.ufunc, Any] = {
    np.add: _reductions.sum,
    np.multiply: _reductions.prod,
    np.maximum: _reductions.max,
    np.minimum: _reductions.min,
}
_FUNCTIONS: dict[Any, Any] = {}


def install(namespace: dict[str, Any]) -> None:
    """Give ``Tracer`` NumPy's operators and methods; route NumPy's protocols to ``namespace``."""
    for name, fn in _OPERATORS.items():
        setattr(Tracer, f"__{name}__", fn)
        setattr(Tracer, f"__r{name}__", _swap(fn))
    for name, fn in _COMPARISONS.items():
        setattr(Tracer, f"__{name}__", fn)
    for name, fn in _METHODS.items():
        setattr(Tracer, name, fn)
    Tracer.__hash__ = lambda self: id(self)
    Tracer.__array_ufunc__ = _array_ufunc
    Tracer.__array_function__ = _array_function
    for name, fn in namespace.items():
        target = getattr(np, name, None)
        if target is fn:
            continue
        if isinstance(target, np.ufunc):
            _UFUNCS[target] = fn
        elif callable(target) and not name.startswith("_"):
            _FUNCTIONS[target] = fn
