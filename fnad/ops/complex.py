"""Complex parts: ``real``, ``imag``, ``conj`` and ``angle`` of complex arrays.

Gradient convention (the one JAX and autograd use): a VJP is the transpose of the JVP
under the real pairing ``<a, b> = Re(sum(a * b))`` (no conjugation). Holomorphic rules
therefore read as in the real case (``ct * f'(z)``), and the gradient of a real-valued
``f`` of ``z = x + iy`` is ``df/dx - i df/dy``; gradient descent steps along its conjugate.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind
from fnad.ops.elementwise import convert


def real_dtype(dtype: np.dtype) -> np.dtype:
    """The real dtype of a complex one (``complex64 -> float32``); real dtypes as they are."""
    return np.empty(0, dtype).real.dtype


def _complex_abstract(name: str, real_out: bool):
    def abstract(x: ArraySpec) -> ArraySpec:
        if x.dtype.kind != "c":
            raise TypeError(f"fnad: {name} takes a complex array, got {x!r}")
        return ArraySpec(x.shape, real_dtype(x.dtype) if real_out else x.dtype)

    return abstract


def _complex_cases(rng):
    def z(*shape):
        return rng.uniform(0.5, 2.0, shape) * np.exp(1j * rng.uniform(-3.0, 3.0, shape))

    return [((z(),), {}), ((z(3),), {}), ((z(2, 3),), {})]


def real(z):
    return bind(real_p, z)


def imag(z):
    return bind(imag_p, z)


def conj(z):
    return bind(conj_p, z)


def angle(z):
    return bind(angle_p, z)


real_p = register(
    Primitive(
        "real",
        impl=np.real,
        abstract=_complex_abstract("real", True),
        vjp=lambda ct, z, *, out: (convert(ct, z.dtype),),
        jvp=lambda ts, z, *, out: real(ts[0]),
        scalar="{x}.real",
        cases=_complex_cases,
        elementwise=True,
    )
)
imag_p = register(
    Primitive(
        "imag",
        impl=np.imag,
        abstract=_complex_abstract("imag", True),
        vjp=lambda ct, z, *, out: (convert(ct, z.dtype) * -1j,),
        jvp=lambda ts, z, *, out: imag(ts[0]),
        scalar="{x}.imag",
        cases=_complex_cases,
        elementwise=True,
    )
)
conj_p = register(
    Primitive(
        "conj",
        impl=np.conjugate,
        abstract=_complex_abstract("conj", False),
        vjp=lambda ct, z, *, out: (conj(ct),),
        jvp=lambda ts, z, *, out: conj(ts[0]),
        scalar="{x}.conjugate()",
        cases=_complex_cases,
        elementwise=True,
    )
)
# NOTE: d angle = Im(dz / z), so the transposed rule is ct * (-i / z).
angle_p = register(
    Primitive(
        "angle",
        impl=np.angle,
        abstract=_complex_abstract("angle", True),
        vjp=lambda ct, z, *, out: (convert(ct, z.dtype) * -1j / z,),
        jvp=lambda ts, z, *, out: imag(ts[0] / z),
        scalar="math.atan2({x}.imag, {x}.real)",
        cases=_complex_cases,
        elementwise=True,
    )
)
