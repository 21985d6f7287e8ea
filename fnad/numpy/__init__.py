"""``fnad.numpy``: NumPy's API, traceable and differentiable.

Inside traced functions plain ``numpy`` works too (tracers implement NumPy's protocols);
this namespace is for what those protocols cannot reach, such as building an array from a
list of traced values (``fnp.stack``, ``fnp.array``). On untraced inputs every function
here is NumPy itself.

>>> import fnad, fnad.numpy as fnp
>>> float(fnad.grad(lambda x: fnp.sum(fnp.sin(x)))(0.0))
1.0
"""

from numpy import (  # noqa: F401  (dtypes and constants, re-exported)
    arange,  # noqa: F401  (creation functions take no traced inputs)
    bool_,
    complex64,
    complex128,
    dtype,
    e,
    empty,  # noqa: F401
    euler_gamma,
    eye,  # noqa: F401
    float16,
    float32,
    float64,
    full,  # noqa: F401
    identity,  # noqa: F401
    inf,
    int8,
    int16,
    int32,
    int64,
    linspace,  # noqa: F401
    nan,
    newaxis,
    ones,  # noqa: F401
    pi,
    uint8,
    zeros,  # noqa: F401
)

from fnad.numpy._complex import angle, conj, conjugate, imag, real
from fnad.numpy._construct import (
    array_split,
    atleast_3d,
    diag,
    diagonal,
    flip,
    fliplr,
    flipud,
    kron,
    meshgrid,
    pad,
    repeat,
    roll,
    rot90,
    split,
    tile,
    tril,
    triu,
)
from fnad.numpy._contract import dot, einsum, inner, matmul, outer, tensordot, trace, vdot
from fnad.numpy._core import (
    abs,
    absolute,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    equal,
    exp,
    exp2,
    expm1,
    float_power,
    floor,
    floor_divide,
    greater,
    greater_equal,
    hypot,
    invert,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    positive,
    power,
    reciprocal,
    remainder,
    rint,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
    where,
)
from fnad.numpy._indexing import add_at, getitem, nonzero, setitem
from fnad.numpy._math import (
    around,
    copysign,
    deg2rad,
    degrees,
    fabs,
    fmax,
    fmin,
    fmod,
    isneginf,
    isposinf,
    logaddexp2,
    nan_to_num,
    rad2deg,
    radians,
    round,
    signbit,
    sinc,
)
from fnad.numpy._methods import UnsupportedError, install
from fnad.numpy._reductions import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from fnad.numpy._scans import (
    argsort,
    average,
    cumprod,
    cumsum,
    nanmax,
    nanmean,
    nanmin,
    nanprod,
    nansum,
    sort,
    take_along_axis,
)
from fnad.numpy._shape import (
    array,
    asarray,
    astype,
    atleast_1d,
    atleast_2d,
    broadcast_arrays,
    broadcast_to,
    concatenate,
    copy,
    expand_dims,
    full_like,
    hstack,
    moveaxis,
    ndim,
    ones_like,
    permute_dims,
    ravel,
    reshape,
    shape,
    size,
    squeeze,
    stack,
    swapaxes,
    transpose,
    vstack,
    zeros_like,
)

install(dict(globals()))

from fnad.numpy import fft, linalg  # noqa: E402  (register np.fft.*, np.linalg.* for tracers)
