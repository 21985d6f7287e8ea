"""Contractions with NumPy's names: einsum, dot, matmul, tensordot, inner, outer, vdot, trace.

All become two-operand ``einsum`` nodes in normal form. ``einsum`` here accepts any
subscripts NumPy does: implicit output, ellipses with broadcasting, repeated indices
(diagonals) and any number of operands (contracted left to right).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from fnad.core.trace import with_location
from fnad.numpy._core import innermost, is_traced, multiply, operand, result_type, shape_of
from fnad.numpy._shape import moveaxis, reshape, transpose
from fnad.ops.contract import einsum2
from fnad.ops.indexing import IndexSpec, gather
from fnad.ops.reduce import reduce_sum
from fnad.ops.shape import broadcast_to


def _parse(subscripts: str, ndims: list[int]) -> tuple[list[str], str]:
    subscripts = subscripts.replace(" ", "")
    ins, arrow, out = subscripts.partition("->")
    terms = ins.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"fnad: einsum has {len(terms)} terms for {len(ndims)} operands")
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in subscripts]
    n_ell = max(
        (nd - len(t.replace("...", "")) for t, nd in zip(terms, ndims) if "..." in t), default=0
    )
    ell = "".join(spare[:n_ell])
    expanded = []
    for term, nd in zip(terms, ndims):
        if "..." in term:
            k = nd - len(term.replace("...", ""))
            term = term.replace("...", ell[n_ell - k :] if k else "")
        if len(term) != nd:
            raise ValueError(f"fnad: einsum term {term!r} does not fit a {nd}-d operand")
        expanded.append(term)
    if not arrow:
        counts = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(counts) - set(ell) if counts.count(c) == 1))
    else:
        out = out.replace("...", ell)
    return expanded, out


def _diagonal(x: Any, term: str) -> tuple[Any, str]:
    """Take diagonals until no index repeats within ``term``."""
    while len(set(term)) < len(term):
        c = next(ch for ch in term if term.count(ch) > 1)
        i, j = term.index(c), term.index(c, term.index(c) + 1)
        x = moveaxis(x, (i, j), (-2, -1))
        term = "".join(ch for k, ch in enumerate(term) if k not in (i, j)) + c
        idx = np.arange(shape_of(x)[-1])
        spec = IndexSpec((slice(None),) * (len(term) - 1) + (("array", 0), ("array", 0)))
        x = gather(x, spec, idx)
    return x, term


def _sum_out(x: Any, term: str, keep: set[str]) -> tuple[Any, str]:
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    return reduce_sum(x, axes), "".join(c for c in term if c in keep)


def einsum(subscripts: str, *operands: Any, optimize: Any = False) -> Any:
    """``numpy.einsum`` for any subscripts; differentiable in every operand."""
    if not is_traced(*operands):
        return np.einsum(subscripts, *operands, optimize=optimize)
    try:
        terms, out = _parse(subscripts, [len(shape_of(o)) for o in operands])
    except ValueError as exc:
        raise with_location(exc) from None
    dtype = result_type(*operands)
    builder = innermost(operands)
    sizes: dict[str, int] = {}
    for term, o in zip(terms, operands):
        for c, d in zip(term, shape_of(o)):
            if d != 1 and sizes.setdefault(c, d) != d:
                raise with_location(
                    ValueError(f"fnad: einsum index {c!r} has sizes {sizes[c]} and {d}")
                )
    ops = []
    for term, o in zip(terms, operands):
        x = operand(o, dtype, shape_of(o), builder)
        x = broadcast_to(x, tuple(sizes.get(c, 1) for c in term))
        ops.append(list(_diagonal(x, term)))
    if set(out) - set("".join(t for _, t in ops)):
        raise with_location(ValueError(f"fnad: einsum output {out!r} has unknown indices"))
    for k, (x, term) in enumerate(ops):
        others = set(out).union(*(t for i, (_, t) in enumerate(ops) if i != k))
        ops[k] = list(_sum_out(x, term, others))
    cur, cur_term = ops[0]
    for k in range(1, len(ops)):
        nxt, nxt_term = ops[k]
        later = set(out).union(*(t for _, t in ops[k + 1 :]))
        cur, cur_term = _sum_out(cur, cur_term, later | set(nxt_term))
        nxt, nxt_term = _sum_out(nxt, nxt_term, later | set(cur_term))
        res = "".join(dict.fromkeys(c for c in cur_term + nxt_term if c in later))
        cur, cur_term = einsum2(f"{cur_term},{nxt_term}->{res}", cur, nxt), res
    cur, cur_term = _sum_out(cur, cur_term, set(out))
    return transpose(cur, [cur_term.index(c) for c in out]) if cur_term != out else cur


def dot(a: Any, b: Any) -> Any:
    """``numpy.dot``."""
    if not is_traced(a, b):
        return np.dot(a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return multiply(a, b)
    la = string.ascii_lowercase[: na - 1]
    if nb == 1:
        return einsum(f"{la}z,z->{la}", a, b)
    lb = string.ascii_uppercase[: nb - 2]
    return einsum(f"{la}z,{lb}zy->{la}{lb}y", a, b)


def matmul(a: Any, b: Any) -> Any:
    """``numpy.matmul`` (``@``) with broadcasting over leading dimensions."""
    if not is_traced(a, b):
        return np.matmul(a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        raise with_location(
            ValueError(
                "fnad: matmul: input operand does not have enough "
                "dimensions (0-d arrays are not matrices)"
            )
        )
    if na == 1 and nb == 1:
        return einsum("i,i->", a, b)
    if na == 1:
        return einsum("j,...jk->...k", a, b)
    if nb == 1:
        return einsum("...ij,j->...i", a, b)
    return einsum("...ij,...jk->...ik", a, b)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    if not is_traced(a, b):
        return np.tensordot(a, b, axes)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if isinstance(axes, int | np.integer):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    ax_a, ax_b = [x % na for x in ax_a], [x % nb for x in ax_b]
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(na)]
    tb = [next(letters) for _ in range(nb)]
    for i, j in zip(ax_a, ax_b):
        tb[j] = ta[i]
    out = [c for i, c in enumerate(ta) if i not in ax_a] + [
        c for j, c in enumerate(tb) if j not in ax_b
    ]
    return einsum(f"{''.join(ta)},{''.join(tb)}->{''.join(out)}", a, b)


def inner(a: Any, b: Any) -> Any:
    if not is_traced(a, b):
        return np.inner(a, b)
    if len(shape_of(a)) == 0 or len(shape_of(b)) == 0:
        return multiply(a, b)
    return tensordot(a, b, ([-1], [-1]))


def outer(a: Any, b: Any) -> Any:
    if not is_traced(a, b):
        return np.outer(a, b)
    return einsum("i,j->ij", reshape(a, (-1,)), reshape(b, (-1,)))


def vdot(a: Any, b: Any) -> Any:
    if not is_traced(a, b):
        return np.vdot(a, b)
    return einsum("i,i->", reshape(a, (-1,)), reshape(b, (-1,)))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
    if not is_traced(a):
        return np.trace(a, offset, axis1, axis2, dtype)
    if offset != 0 or dtype is not None or a.shape[axis1] != a.shape[axis2]:
        from fnad.numpy._construct import diagonal
        from fnad.numpy._reductions import sum as total

        return total(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)
    x = moveaxis(a, (axis1, axis2), (-2, -1))
    return einsum("...ii->...", x)
