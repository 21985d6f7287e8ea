"""Elementwise primitives: arithmetic, transcendental functions, comparisons, select, convert.

All are strict: operands share one shape and dtype (``fnad.numpy`` inserts the
``broadcast_to`` and ``convert`` nodes NumPy's broadcasting and promotion imply). Rules are
written with NumPy names and Python operators, which work on arrays and on tracers alike.
"""

from __future__ import annotations

import math

import numpy as np

from fnad.core.primitive import (
    Primitive,
    binary,
    compare,
    float_cases,
    register,
    same_spec,
    unary,
)
from fnad.core.spec import ArraySpec, is_float
from fnad.core.trace import bind

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _tie(win, tie, dtype):
    """1 where ``win``, 0.5 where ``tie``, else 0: gradients split evenly between ties."""
    return win.astype(dtype) + tie.astype(dtype) * 0.5


# --- linear arithmetic ------------------------------------------------------------------

add_p = register(
    Primitive(
        "add",
        impl=np.add,
        abstract=same_spec,
        vjp=lambda ct, x, y, *, out: (ct, ct),
        jvp=lambda ts, x, y, *, out: (
            ts[0] if ts[1] is None else ts[1] if ts[0] is None else ts[0] + ts[1]
        ),
        scalar="({x} + {y})",
        cases=float_cases(2, (-2.0, 2.0)),
        elementwise=True,
    )
)
sub_p = register(
    Primitive(
        "sub",
        impl=np.subtract,
        abstract=same_spec,
        vjp=lambda ct, x, y, *, out: (ct, -ct),
        jvp=lambda ts, x, y, *, out: (
            -ts[1] if ts[0] is None else ts[0] if ts[1] is None else ts[0] - ts[1]
        ),
        scalar="({x} - {y})",
        cases=float_cases(2, (-2.0, 2.0)),
        elementwise=True,
    )
)
neg_p = register(
    Primitive(
        "neg",
        impl=np.negative,
        abstract=same_spec,
        vjp=lambda ct, x, *, out: (-ct,),
        jvp=lambda ts, x, *, out: None if ts[0] is None else -ts[0],
        scalar="(-{x})",
        cases=float_cases(1, (-2.0, 2.0)),
        elementwise=True,
    )
)

# --- products and powers ----------------------------------------------------------------

mul_p = binary(
    "mul", np.multiply, scalar="({x} * {y})", derivs=(lambda x, y, out: y, lambda x, y, out: x)
)
div_p = binary(
    "div",
    np.true_divide,
    scalar="({x} / {y})",
    derivs=(lambda x, y, out: 1 / y, lambda x, y, out: -out / y),
    domain=(0.5, 2.0),
)
pow_p = binary(
    "pow",
    np.power,
    scalar="({x} ** {y})",
    derivs=(lambda x, y, out: y * x ** (y - 1), lambda x, y, out: np.log(x) * out),
    domain=(0.5, 2.0),
)
maximum_p = binary(
    "maximum",
    np.maximum,
    scalar="max({x}, {y})",
    derivs=(
        lambda x, y, out: _tie(x > y, x == y, x.dtype),
        lambda x, y, out: _tie(y > x, x == y, x.dtype),
    ),
)
minimum_p = binary(
    "minimum",
    np.minimum,
    scalar="min({x}, {y})",
    derivs=(
        lambda x, y, out: _tie(x < y, x == y, x.dtype),
        lambda x, y, out: _tie(y < x, x == y, x.dtype),
    ),
)
arctan2_p = binary(
    "arctan2",
    np.arctan2,
    scalar="math.atan2({x}, {y})",
    derivs=(lambda x, y, out: y / (x * x + y * y), lambda x, y, out: -x / (x * x + y * y)),
    domain=(0.5, 2.0),
)
hypot_p = binary(
    "hypot",
    np.hypot,
    scalar="math.hypot({x}, {y})",
    derivs=(lambda x, y, out: x / out, lambda x, y, out: y / out),
    domain=(0.5, 2.0),
)
logaddexp_p = binary(
    "logaddexp",
    np.logaddexp,
    scalar="_logaddexp({x}, {y})",
    derivs=(lambda x, y, out: np.exp(x - out), lambda x, y, out: np.exp(y - out)),
)

copysign_p = binary(
    "copysign",
    np.copysign,
    scalar="math.copysign({x}, {y})",
    derivs=(lambda x, y, out: bind(copysign_p, np.ones_like(x), x * y), None),
)


def _integer_pow_impl(x, *, n):
    return np.power(x, np.asarray(n, dtype=x.dtype))


def _integer_pow_deriv(x, n):
    return n * integer_pow(x, n - 1) if n != 1 else np.ones_like(x)


def integer_pow(x, n: int):
    """``x ** n`` for a Python int ``n`` (exact for negative ``x``; ``x*x`` when compiled)."""
    return x if n == 1 else bind(integer_pow_p, x, n=n)


integer_pow_p = register(
    Primitive(
        "integer_pow",
        impl=_integer_pow_impl,
        abstract=same_spec,
        vjp=lambda ct, x, *, out, n: (None if n == 0 else ct * _integer_pow_deriv(x, n),),
        jvp=lambda ts, x, *, out, n: (
            None if n == 0 or ts[0] is None else ts[0] * _integer_pow_deriv(x, n)
        ),
        scalar="({x} ** {n})",
        cases=lambda rng: [
            ((rng.uniform(-2, 2, shape),), {"n": n}) for shape in [(), (4,)] for n in (2, 3, -1)
        ],
        elementwise=True,
    )
)

# --- unary functions --------------------------------------------------------------------

exp_p = unary("exp", np.exp, scalar="math.exp({x})", deriv=lambda x, out: out)
exp2_p = unary("exp2", np.exp2, scalar="2.0 ** {x}", deriv=lambda x, out: out * _LN2)
expm1_p = unary("expm1", np.expm1, scalar="math.expm1({x})", deriv=lambda x, out: out + 1)
log_p = unary("log", np.log, scalar="math.log({x})", deriv=lambda x, out: 1 / x, domain=(0.1, 4.0))
log2_p = unary(
    "log2",
    np.log2,
    scalar="math.log2({x})",
    deriv=lambda x, out: 1 / (x * _LN2),
    domain=(0.1, 4.0),
)
log10_p = unary(
    "log10",
    np.log10,
    scalar="math.log10({x})",
    deriv=lambda x, out: 1 / (x * _LN10),
    domain=(0.1, 4.0),
)
log1p_p = unary(
    "log1p",
    np.log1p,
    scalar="math.log1p({x})",
    deriv=lambda x, out: 1 / (1 + x),
    domain=(-0.5, 3.0),
)
sin_p = unary("sin", np.sin, scalar="math.sin({x})", deriv=lambda x, out: np.cos(x))
cos_p = unary("cos", np.cos, scalar="math.cos({x})", deriv=lambda x, out: -np.sin(x))
tan_p = unary(
    "tan", np.tan, scalar="math.tan({x})", deriv=lambda x, out: 1 + out * out, domain=(-1.2, 1.2)
)
arcsin_p = unary(
    "arcsin",
    np.arcsin,
    scalar="math.asin({x})",
    deriv=lambda x, out: 1 / np.sqrt(1 - x * x),
    domain=(-0.9, 0.9),
)
arccos_p = unary(
    "arccos",
    np.arccos,
    scalar="math.acos({x})",
    deriv=lambda x, out: -1 / np.sqrt(1 - x * x),
    domain=(-0.9, 0.9),
)
arctan_p = unary("arctan", np.arctan, scalar="math.atan({x})", deriv=lambda x, out: 1 / (1 + x * x))
sinh_p = unary("sinh", np.sinh, scalar="math.sinh({x})", deriv=lambda x, out: np.cosh(x))
cosh_p = unary("cosh", np.cosh, scalar="math.cosh({x})", deriv=lambda x, out: np.sinh(x))
tanh_p = unary("tanh", np.tanh, scalar="math.tanh({x})", deriv=lambda x, out: 1 - out * out)
arcsinh_p = unary(
    "arcsinh", np.arcsinh, scalar="math.asinh({x})", deriv=lambda x, out: 1 / np.sqrt(x * x + 1)
)
arccosh_p = unary(
    "arccosh",
    np.arccosh,
    scalar="math.acosh({x})",
    deriv=lambda x, out: 1 / np.sqrt(x * x - 1),
    domain=(1.2, 4.0),
)
arctanh_p = unary(
    "arctanh",
    np.arctanh,
    scalar="math.atanh({x})",
    deriv=lambda x, out: 1 / (1 - x * x),
    domain=(-0.9, 0.9),
)
sqrt_p = unary(
    "sqrt", np.sqrt, scalar="math.sqrt({x})", deriv=lambda x, out: 0.5 / out, domain=(0.1, 4.0)
)
cbrt_p = unary(
    "cbrt",
    np.cbrt,
    scalar="np.cbrt({x})",
    deriv=lambda x, out: 1 / (3 * out * out),
    domain=(0.1, 4.0),
)
square_p = unary("square", np.square, scalar="({x} * {x})", deriv=lambda x, out: 2 * x)
reciprocal_p = unary(
    "reciprocal",
    np.reciprocal,
    scalar="(1.0 / {x})",
    deriv=lambda x, out: -out * out,
    domain=(0.5, 2.0),
)


def _abs_abstract(x: ArraySpec) -> ArraySpec:
    return ArraySpec(x.shape, np.empty(0, x.dtype).real.dtype) if x.dtype.kind == "c" else x


def _abs_unit(x, out):
    """d|x| as a factor: sign(x) for reals, conj(x)/|x| (0 at 0) for complex ``x``."""
    if x.dtype.kind != "c":
        return np.sign(x)
    safe = select(out == 0, np.ones_like(out), out)
    return np.conj(x) / convert(safe, x.dtype)


abs_p = register(
    Primitive(
        "abs",
        impl=np.abs,
        abstract=_abs_abstract,
        vjp=lambda ct, x, *, out: (convert(ct, x.dtype) * _abs_unit(x, out),),
        jvp=lambda ts, x, *, out: np.real(ts[0] * _abs_unit(x, out)),
        scalar="abs({x})",
        cases=lambda rng: (
            float_cases(1, (-2.0, 2.0))(rng)
            + [((rng.normal(size=(3,)) + 1j * rng.normal(size=(3,)),), {})]
        ),
        elementwise=True,
    )
)
sign_p = unary("sign", np.sign, scalar="_sign({x})")
floor_p = unary("floor", np.floor, scalar="np.floor({x})")
ceil_p = unary("ceil", np.ceil, scalar="np.ceil({x})")
rint_p = unary("rint", np.rint, scalar="_rint({x})")
trunc_p = unary("trunc", np.trunc, scalar="np.trunc({x})")

# --- predicates (boolean results, no derivatives) ---------------------------------------

less_p = compare("less", np.less, scalar="({x} < {y})")
less_equal_p = compare("less_equal", np.less_equal, scalar="({x} <= {y})")
greater_p = compare("greater", np.greater, scalar="({x} > {y})")
greater_equal_p = compare("greater_equal", np.greater_equal, scalar="({x} >= {y})")
equal_p = compare("equal", np.equal, scalar="({x} == {y})")
not_equal_p = compare("not_equal", np.not_equal, scalar="({x} != {y})")
isnan_p = compare("isnan", np.isnan, scalar="math.isnan({x})", arity=1)
isinf_p = compare("isinf", np.isinf, scalar="math.isinf({x})", arity=1)
isfinite_p = compare("isfinite", np.isfinite, scalar="math.isfinite({x})", arity=1)


def _integer_op(name: str, impl, scalar: str, cases) -> Primitive:
    """A non-differentiable elementwise primitive on booleans and integers."""
    return register(
        Primitive(
            name,
            impl=impl,
            abstract=same_spec,
            scalar=scalar,
            cases=cases,
            nondiff=True,
            elementwise=True,
        )
    )


def _bitwise(name: str, np_fn, scalar: str, arity: int = 2) -> Primitive:
    """Bitwise/logical operations on booleans and integers (``&``, ``|``, ``^``, ``~``)."""

    def cases(rng):
        return [(tuple(rng.uniform(size=(5,)) > 0.5 for _ in range(arity)), {})]

    return _integer_op(name, np_fn, scalar, cases)


and_p = _bitwise("and", np.bitwise_and, "({x} & {y})")
or_p = _bitwise("or", np.bitwise_or, "({x} | {y})")
xor_p = _bitwise("xor", np.bitwise_xor, "({x} ^ {y})")
not_p = _bitwise("not", np.invert, "(~{x})", arity=1)


def _integer_division(name: str, np_fn, scalar: str) -> Primitive:
    """``//`` and ``%`` of integers, computed in integers: exact for every int64, and 0 for
    a zero divisor, as NumPy gives (floats go through ``floor(x / y)`` instead)."""

    def impl(x, y):
        with np.errstate(divide="ignore"):
            return np_fn(x, y)

    def cases(rng):
        x = rng.integers(-50, 50, size=(8,))
        return [((x, np.array([3, -3, 0, 7, -1, 2, 1 << 40, -5])), {})]

    return _integer_op(name, impl, scalar, cases)


# NOTE: generated functions use error_model="numpy", under which Numba's integer // and %
# give 0 for a zero divisor and floor semantics otherwise, as NumPy does.
floor_divide_p = _integer_division("floor_divide", np.floor_divide, "({x} // {y})")
remainder_p = _integer_division("remainder", np.remainder, "({x} % {y})")

# --- select and convert -----------------------------------------------------------------


def _select_abstract(cond: ArraySpec, x: ArraySpec, y: ArraySpec) -> ArraySpec:
    if cond.dtype != np.bool_ or cond.shape != x.shape:
        raise TypeError(f"fnad: select needs a bool condition of shape {x.shape}, got {cond!r}")
    return same_spec(x, y)


def _select_vjp(ct, cond, x, y, *, out):
    zero = np.zeros_like(ct)
    return None, select(cond, ct, zero), select(cond, zero, ct)


def _select_jvp(ts, cond, x, y, *, out):
    _, tx, ty = ts
    if tx is None and ty is None:
        return None
    return select(
        cond,
        np.zeros_like(out) if tx is None else tx,
        np.zeros_like(out) if ty is None else ty,
    )


def select(cond, x, y):
    """``where(cond, x, y)`` on operands of one shape and dtype."""
    return bind(select_p, cond, x, y)


select_p = register(
    Primitive(
        "select",
        impl=np.where,
        abstract=_select_abstract,
        vjp=_select_vjp,
        jvp=_select_jvp,
        scalar="({x} if {cond} else {y})",
        cases=lambda rng: [
            ((rng.uniform(size=s) > 0.5, rng.normal(size=s), rng.normal(size=s)), {})
            for s in [(), (4,), (2, 3)]
        ],
        elementwise=True,
    )
)


def convert(x, dtype):
    """``x.astype(dtype)`` as a node; a no-op when the dtype already matches."""
    dtype = np.dtype(dtype)
    return x if x.dtype == dtype else bind(convert_p, x, dtype=dtype)


def _convert_vjp(ct, x, *, out, dtype):
    if not is_float(x.dtype):
        return (None,)
    if np.issubdtype(dtype, np.complexfloating) and not np.issubdtype(x.dtype, np.complexfloating):
        ct = np.real(ct)
    return (convert(ct, x.dtype),)


convert_p = register(
    Primitive(
        "convert",
        impl=lambda x, *, dtype: np.asarray(x).astype(dtype),
        abstract=lambda x, *, dtype: ArraySpec(x.shape, dtype),
        vjp=_convert_vjp,
        jvp=lambda ts, x, *, out, dtype: (
            None if ts[0] is None or not is_float(dtype) else convert(ts[0], dtype)
        ),
        scalar="{x}",
        cases=lambda rng: [
            ((rng.normal(size=(3,)),), {"dtype": np.dtype(np.float32)}),
            ((rng.normal(size=(2, 2)).astype(np.float32),), {"dtype": np.dtype(np.float64)}),
        ],
        elementwise=True,
    )
)
