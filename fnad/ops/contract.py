"""Contraction: one ``einsum`` primitive of two operands covers dot, matmul, tensordot, outer.

Invariants (``fnad.numpy.einsum`` establishes them for any user subscripts): no index
repeats within an operand, and every operand index appears in the other operand or in the
output. Under these the VJP of an einsum is again such an einsum, with the cotangent in
the place of the differentiated operand, so every order of derivative stays in this form.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind
from fnad.ops.elementwise import mul_p
from fnad.ops.shape import broadcast_to, reshape, transpose


def parse(spec: str) -> tuple[str, str, str]:
    ins, out = spec.split("->")
    a, b = ins.split(",")
    return a, b, out


def _einsum_abstract(x: ArraySpec, y: ArraySpec, *, spec: str) -> ArraySpec:
    a, b, out = parse(spec)
    if x.dtype != y.dtype:
        raise TypeError(f"fnad: einsum operands differ in dtype: {x!r} vs {y!r}")
    sizes: dict[str, int] = {}
    for subs, operand in ((a, x), (b, y)):
        if len(subs) != operand.ndim or len(set(subs)) != len(subs):
            raise ValueError(f"fnad: einsum subscripts {subs!r} do not fit {operand!r}")
        for letter, dim in zip(subs, operand.shape):
            if sizes.setdefault(letter, dim) != dim:
                raise ValueError(
                    f"fnad: einsum '{spec}': index {letter!r} has sizes {sizes[letter]} and {dim}"
                )
    if set(a) - set(b) - set(out) or set(b) - set(a) - set(out) or set(out) - set(a + b):
        raise ValueError(f"fnad: einsum '{spec}' is not in normal form")
    return ArraySpec(tuple(sizes[c] for c in out), x.dtype)


def einsum2(spec: str, x, y):
    """A normalized two-operand einsum node (see the module docstring). One that sums
    over nothing is a broadcast product, recorded as such so that fusion can take it."""
    a, b, out = parse(spec)
    if set(a) | set(b) != set(out):
        return bind(einsum_p, x, y, spec=spec)
    sizes = dict(zip(a + b, (*np.shape(x), *np.shape(y))))
    return bind(mul_p, _spread(x, a, out, sizes), _spread(y, b, out, sizes))


def _spread(x, subs: str, out: str, sizes: dict[str, int]):
    """``x`` with subscripts ``subs`` transposed, reshaped and broadcast to ``out``."""
    order = [c for c in out if c in subs]
    moved = transpose(x, tuple(subs.index(c) for c in order))
    kept = reshape(moved, tuple(sizes[c] if c in subs else 1 for c in out))
    return broadcast_to(kept, tuple(sizes[c] for c in out))


def _impl(x, y, *, spec):
    return np.einsum(spec, x, y, optimize=np.size(x) * np.size(y) > 4096)


def _vjp(ct, x, y, *, out, spec):
    a, b, o = parse(spec)
    return einsum2(f"{o},{b}->{a}", ct, y), einsum2(f"{a},{o}->{b}", x, ct)


def _jvp(ts, x, y, *, out, spec):
    tx, ty = ts
    terms = [einsum2(spec, tx, y)] if tx is not None else []
    terms += [einsum2(spec, x, ty)] if ty is not None else []
    return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _batch(xs, batched, size, *, spec):
    a, b, o = parse(spec)
    letters = "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
    z = next(c for c in letters if c not in spec)
    a, b = (z + a if batched[0] else a), (z + b if batched[1] else b)
    return einsum2(f"{a},{b}->{z}{o}", *xs)


def _cases(rng):
    def n(*shape):
        return rng.normal(size=shape)

    return [
        ((n(2, 3), n(3, 4)), {"spec": "ij,jk->ik"}),
        ((n(3), n(3)), {"spec": "i,i->"}),
        ((n(2), n(3)), {"spec": "i,j->ij"}),
        ((n(2, 2, 3), n(2, 3, 4)), {"spec": "bij,bjk->bik"}),
        ((n(2, 3), n(3, 2)), {"spec": "ij,ji->"}),
    ]


einsum_p = register(
    Primitive(
        "einsum",
        impl=_impl,
        abstract=_einsum_abstract,
        vjp=_vjp,
        jvp=_jvp,
        batch=_batch,
        cases=_cases,
    )
)
