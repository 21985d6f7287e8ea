"""NumPy semantics on top of strict primitives: type promotion, broadcasting, ufuncs.

Every function here accepts arrays, Python scalars and tracers. With no tracer among its
arguments it is exactly NumPy (the function is called directly). With tracers it computes
the result dtype the way NumPy 2 does (NEP 50: Python scalars are weak, so float32 stays
float32), converts and broadcasts operands with explicit nodes, and binds the primitive.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.trace import Builder, Tracer, with_location
from fnad.ops import elementwise as ew
from fnad.ops.shape import broadcast_to_p

_WEAK = (bool, int, float, complex)


def is_traced(*args: Any) -> bool:
    return any(isinstance(a, Tracer) for a in args)


def innermost(args: Sequence[Any]) -> Builder:
    return max((a.builder for a in args if isinstance(a, Tracer)), key=lambda b: b.level)


def _dtype_key(x: Any) -> Any:
    """What decides ``x``'s part in type promotion: a dtype, or a weak Python scalar type."""
    if type(x) in _WEAK:
        return type(x)
    dtype = getattr(x, "dtype", None)
    return dtype if isinstance(dtype, np.dtype) else np.asarray(x).dtype


@functools.lru_cache(maxsize=4096)
def _ufunc_dtype(np_fn: Callable, keys: tuple) -> np.dtype:
    # NOTE: identity tests: np.dtype("float64") == float is True.
    probes = [k(1) if isinstance(k, type) else np.empty((0,), k) for k in keys]
    return np_fn(*probes).dtype


def ufunc_dtype(np_fn: Callable, args: Sequence[Any]) -> np.dtype:
    """The dtype NumPy's ``np_fn`` gives for these operands (NEP 50 weak scalars)."""
    return _ufunc_dtype(np_fn, tuple(_dtype_key(a) for a in args))


def result_type(*args: Any) -> np.dtype:
    """``np.result_type`` that understands tracers and weak Python scalars."""
    return np.result_type(*(a if type(a) in _WEAK else _dtype_key(a) for a in args))


def shape_of(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tracer) else np.shape(x)


def broadcast_shapes(*shapes: tuple[int, ...], what: str = "operands") -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        text = " ".join(str(tuple(s)) for s in shapes)
        raise with_location(
            ValueError(f"fnad: {what} could not be broadcast together with shapes {text}")
        ) from None


def operand(x: Any, dtype: np.dtype, shape: tuple[int, ...], builder: Builder) -> Any:
    """``x`` converted to ``dtype`` and broadcast to ``shape``, recorded in ``builder``."""
    if isinstance(x, Tracer):
        x = ew.convert(x, dtype)
    else:
        x = np.asarray(x, dtype=dtype)
    if tuple(shape_of(x)) != tuple(shape):
        x = builder.apply(broadcast_to_p, (x,), {"shape": tuple(shape)})
    return x


def elementwise(
    prim, np_fn: Callable, args: Sequence[Any], compute_dtype: np.dtype | None = None
) -> Any:
    """Apply strict ``prim`` to NumPy-style operands (promoted, broadcast)."""
    if not is_traced(*args):
        return np_fn(*args)
    if compute_dtype is None:
        try:
            compute_dtype = ufunc_dtype(np_fn, args)
        except TypeError as exc:
            dtypes = ", ".join(str(result_type(a)) for a in args)
            raise with_location(
                TypeError(f"fnad: numpy.{np_fn.__name__} does not take {dtypes} ({exc})")
            ) from None
    shape = broadcast_shapes(*(shape_of(a) for a in args), what=f"operands of {np_fn.__name__}")
    builder = innermost(args)
    return builder.apply(prim, [operand(a, compute_dtype, shape, builder) for a in args], {})


def _ufunc(prim, np_fn: Callable, predicate: bool = False) -> Callable:
    """A NumPy-compatible function for an elementwise primitive."""

    if predicate:

        def fn(*args: Any) -> Any:
            if not is_traced(*args):
                return np_fn(*args)
            return elementwise(prim, np_fn, args, compute_dtype=result_type(*args))

    else:

        def fn(*args: Any) -> Any:
            return elementwise(prim, np_fn, args)

    fn.__name__ = np_fn.__name__
    fn.__doc__ = f"``numpy.{np_fn.__name__}`` (traceable, differentiable)."
    return fn


add = _ufunc(ew.add_p, np.add)
subtract = _ufunc(ew.sub_p, np.subtract)
multiply = _ufunc(ew.mul_p, np.multiply)
divide = true_divide = _ufunc(ew.div_p, np.true_divide)
maximum = _ufunc(ew.maximum_p, np.maximum)
minimum = _ufunc(ew.minimum_p, np.minimum)
arctan2 = _ufunc(ew.arctan2_p, np.arctan2)
hypot = _ufunc(ew.hypot_p, np.hypot)
logaddexp = _ufunc(ew.logaddexp_p, np.logaddexp)
negative = _ufunc(ew.neg_p, np.negative)
exp = _ufunc(ew.exp_p, np.exp)
exp2 = _ufunc(ew.exp2_p, np.exp2)
expm1 = _ufunc(ew.expm1_p, np.expm1)
log = _ufunc(ew.log_p, np.log)
log2 = _ufunc(ew.log2_p, np.log2)
log10 = _ufunc(ew.log10_p, np.log10)
log1p = _ufunc(ew.log1p_p, np.log1p)
sin = _ufunc(ew.sin_p, np.sin)
cos = _ufunc(ew.cos_p, np.cos)
tan = _ufunc(ew.tan_p, np.tan)
arcsin = _ufunc(ew.arcsin_p, np.arcsin)
arccos = _ufunc(ew.arccos_p, np.arccos)
arctan = _ufunc(ew.arctan_p, np.arctan)
sinh = _ufunc(ew.sinh_p, np.sinh)
cosh = _ufunc(ew.cosh_p, np.cosh)
tanh = _ufunc(ew.tanh_p, np.tanh)
arcsinh = _ufunc(ew.arcsinh_p, np.arcsinh)
arccosh = _ufunc(ew.arccosh_p, np.arccosh)
arctanh = _ufunc(ew.arctanh_p, np.arctanh)
sqrt = _ufunc(ew.sqrt_p, np.sqrt)
cbrt = _ufunc(ew.cbrt_p, np.cbrt)
square = _ufunc(ew.square_p, np.square)
reciprocal = _ufunc(ew.reciprocal_p, np.reciprocal)


def absolute(x: Any) -> Any:
    """``numpy.absolute``; of a complex array, its real modulus."""
    if is_traced(x) and np.dtype(x.dtype).kind == "c":
        return innermost((x,)).apply(ew.abs_p, (x,), {})
    return elementwise(ew.abs_p, np.absolute, (x,))


abs = absolute
sign = _ufunc(ew.sign_p, np.sign)
floor = _ufunc(ew.floor_p, np.floor)
ceil = _ufunc(ew.ceil_p, np.ceil)
rint = _ufunc(ew.rint_p, np.rint)
trunc = _ufunc(ew.trunc_p, np.trunc)
less = _ufunc(ew.less_p, np.less, predicate=True)
less_equal = _ufunc(ew.less_equal_p, np.less_equal, predicate=True)
greater = _ufunc(ew.greater_p, np.greater, predicate=True)
greater_equal = _ufunc(ew.greater_equal_p, np.greater_equal, predicate=True)
equal = _ufunc(ew.equal_p, np.equal, predicate=True)
not_equal = _ufunc(ew.not_equal_p, np.not_equal, predicate=True)
isnan = _ufunc(ew.isnan_p, np.isnan, predicate=True)
isinf = _ufunc(ew.isinf_p, np.isinf, predicate=True)
isfinite = _ufunc(ew.isfinite_p, np.isfinite, predicate=True)
bitwise_and = _ufunc(ew.and_p, np.bitwise_and)
bitwise_or = _ufunc(ew.or_p, np.bitwise_or)
bitwise_xor = _ufunc(ew.xor_p, np.bitwise_xor)
invert = bitwise_not = _ufunc(ew.not_p, np.invert)


def _logical(prim, np_fn: Callable) -> Callable:
    def fn(*args: Any) -> Any:
        if not is_traced(*args):
            return np_fn(*args)
        return elementwise(prim, np_fn, args, compute_dtype=np.dtype(bool))

    fn.__name__ = np_fn.__name__
    return fn


logical_and = _logical(ew.and_p, np.logical_and)
logical_or = _logical(ew.or_p, np.logical_or)
logical_xor = _logical(ew.xor_p, np.logical_xor)
logical_not = _logical(ew.not_p, np.logical_not)


def positive(x: Any) -> Any:
    return x if is_traced(x) else np.positive(x)


def power(x: Any, y: Any) -> Any:
    """``x ** y``; a Python int exponent becomes exact repeated multiplication."""
    if is_traced(x) and type(y) is int and not is_traced(y):
        dtype = ufunc_dtype(np.power, (x, y))
        if dtype.kind in "fc" or y >= 0:
            return ew.integer_pow(ew.convert(x, dtype), y)
    return elementwise(ew.pow_p, np.power, (x, y))


def float_power(x: Any, y: Any) -> Any:
    return power(asfloat(x, np.float64), asfloat(y, np.float64))


def asfloat(x: Any, dtype: Any) -> Any:
    return ew.convert(x, dtype) if is_traced(x) else np.asarray(x, dtype)


def floor_divide(x: Any, y: Any) -> Any:
    """``x // y``; integer operands give integers, as in NumPy (0 for a zero divisor)."""
    if not is_traced(x, y):
        return np.floor_divide(x, y)
    dtype = ufunc_dtype(np.floor_divide, (x, y))
    if np.issubdtype(dtype, np.integer):
        return elementwise(ew.floor_divide_p, np.floor_divide, (x, y))
    out = floor(divide(x, y))
    return out if out.dtype == dtype else ew.convert(out, dtype)


def mod(x: Any, y: Any) -> Any:
    """``x % y`` with NumPy's sign convention; derivative 1 in ``x``, -floor(x/y) in ``y``."""
    if not is_traced(x, y):
        return np.mod(x, y)
    if np.issubdtype(ufunc_dtype(np.remainder, (x, y)), np.integer):
        return elementwise(ew.remainder_p, np.remainder, (x, y))
    return subtract(x, multiply(floor_divide(x, y), y))


remainder = mod


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``numpy.where(condition, x, y)``, differentiable in ``x`` and ``y``."""
    if x is None or y is None:
        raise TypeError("fnad: where(condition) with one argument is not traceable; use nonzero")
    if not is_traced(condition, x, y):
        return np.where(condition, x, y)
    dtype = result_type(x, y)
    shape = broadcast_shapes(shape_of(condition), shape_of(x), shape_of(y), what="where operands")
    builder = innermost((condition, x, y))
    cond = operand(condition, np.dtype(bool), shape, builder)
    return builder.apply(
        ew.select_p,
        [cond, operand(x, dtype, shape, builder), operand(y, dtype, shape, builder)],
        {},
    )


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """``numpy.clip``; gradient 1 inside the interval, 0 outside (split at the bounds)."""
    if not is_traced(a, a_min, a_max):
        return np.clip(a, a_min, a_max)
    out = a if a_min is None else maximum(a, a_min)
    return out if a_max is None else minimum(out, a_max)
