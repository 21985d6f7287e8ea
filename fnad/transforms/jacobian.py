"""Derived transforms: Jacobians, Hessians, ``linearize`` and ``elementwise_grad``.

Each is a composition of the primitive transforms. ``jacrev`` maps the VJP over the rows
of an identity matrix and ``jacfwd`` the JVP over its columns, both with ``vmap``, so a
Jacobian is one batched graph (one compiled kernel under ``jit``), not a loop of passes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.core.spec import is_float
from fnad.core.trace import Tracer, to_spec
from fnad.numpy import moveaxis, reshape
from fnad.numpy import sum as fnp_sum
from fnad.ops.shape import iota
from fnad.transforms.common import check_differentiable, normalize_argnums, to_user, trace_concrete
from fnad.transforms.jvp import jvp, jvp_pass
from fnad.transforms.vjp import grad, vjp
from fnad.transforms.vmap import vmap
from fnad.tree import tree_flatten, tree_unflatten


def _split_args(f: Callable, args: tuple, argnums: Any, fname: str):
    """``(partial, diff_args)``: ``f`` as a function of the ``argnums`` arguments only."""
    nums = normalize_argnums(argnums, len(args), fname)
    check_differentiable(f, args, nums, fname)

    def partial(*diff_args: Any) -> Any:
        full = list(args)
        for i, v in zip(nums, diff_args):
            full[i] = v
        return f(*full)

    return partial, tuple(args[i] for i in nums)


def _basis(leaves: list[Any], what: str) -> list[Any]:
    """Rows of an identity matrix, cut and shaped like ``leaves``: one batch per leaf."""
    specs = [to_spec(leaf, what) for leaf in leaves]
    for spec in specs:
        if not is_float(spec.dtype):
            raise TypeError(
                f"fnad: the {what} must be floating point to form a Jacobian, got {spec!r}"
            )
    total = sum(s.size for s in specs)
    pieces, start = [], 0
    for s in specs:
        eye = _eye(leaves, total, start, s.size, s.dtype)
        pieces.append(eye if s.ndim == 1 else reshape(eye, (total, *s.shape)))
        start += s.size
    return pieces


def _eye(leaves: list[Any], rows: int, start: int, cols: int, dtype: Any) -> Any:
    """Columns ``start:start+cols`` of the identity of size ``rows``.

    Under a trace it is recorded as a comparison of indices, which a fused loop computes
    in place: as a constant it would be an argument as large as the Jacobian."""
    tracer = next((x for x in leaves if isinstance(x, Tracer)), None)
    if tracer is None:
        return np.eye(rows, dtype=dtype)[:, start : start + cols]
    shape = (rows, cols)
    row, col = iota(tracer.builder, shape, 0), iota(tracer.builder, shape, 1)
    return fnp.asarray(fnp.equal(row, col + start) if start else fnp.equal(row, col), dtype)


def _rows(x: Any, start: int, n: int, total: int) -> Any:
    """Rows ``start:start+n`` of ``x``, or ``x`` itself when that is all of it."""
    return x if n == total else x[start : start + n]


def _pick(argnums: Any, per_arg: tuple) -> Any:
    return per_arg[0] if isinstance(argnums, int) else per_arg


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``f`` by reverse mode: one VJP per output element, batched.

    Shaped ``out.shape + in.shape`` for each (output leaf, input leaf) pair; the outer
    structure is the output's, the inner the arguments'.

    >>> import fnad, numpy as np
    >>> fnad.jacrev(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """

    @functools.wraps(f)
    def jac(*args: Any) -> Any:
        partial, diff_args = _split_args(f, args, argnums, "jacrev")
        out, vjp_fn, *aux = vjp(partial, *diff_args, has_aux=has_aux)
        out_leaves, out_tree = tree_flatten(out)
        total = sum(int(np.size(leaf)) for leaf in out_leaves)
        if total == 1:  # one output element: one plain VJP, with no batch axis to handle
            # NOTE: ones_like of the traced output records the seed, as grad does.
            rows = vjp_fn(tree_unflatten(out_tree, [fnp.ones_like(o) for o in out_leaves]))
        else:
            rows = vmap(vjp_fn)(tree_unflatten(out_tree, _basis(out_leaves, "output")))
        in_leaves, in_tree = tree_flatten(rows)
        results, start = [], 0
        for leaf in out_leaves:
            shape = np.shape(leaf)
            n = int(np.prod(shape, dtype=np.int64))
            per_in = [
                to_user(reshape(g, shape + np.shape(g)))
                if total == 1
                else to_user(reshape(_rows(g, start, n, total), (*shape, *np.shape(g)[1:])))
                for g in in_leaves
            ]
            results.append(_pick(argnums, tree_unflatten(in_tree, per_in)))
            start += n
        result = tree_unflatten(out_tree, results)
        return (result, aux[0]) if has_aux else result

    return jac


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``f`` by forward mode: one JVP per input element, batched.
    Shaped like ``jacrev``'s; cheaper when inputs are fewer than outputs.

    >>> import fnad, numpy as np
    >>> fnad.jacfwd(lambda x: np.sin(x) * x[0])(np.array([0.0, 1.0]))
    array([[0.        , 0.        ],
           [0.84147098, 0.        ]])
    """

    @functools.wraps(f)
    def jac(*args: Any) -> Any:
        partial, diff_args = _split_args(f, args, argnums, "jacfwd")
        in_leaves, in_tree = tree_flatten(diff_args)
        basis = _basis(in_leaves, "input")

        def push(*tangents: Any) -> Any:
            out, t_out, *aux = jvp(partial, diff_args, tangents, has_aux=has_aux)
            return (t_out, aux[0]) if has_aux else t_out

        columns = vmap(push, out_axes=(0, None) if has_aux else 0)(*tree_unflatten(in_tree, basis))
        columns, aux = columns if has_aux else (columns, None)
        out_leaves, out_tree = tree_flatten(columns)
        results = []
        for col in out_leaves:
            shape, per_in, start = np.shape(col)[1:], [], 0
            for leaf in in_leaves:
                n = int(np.prod(np.shape(leaf), dtype=np.int64))
                block = moveaxis(_rows(col, start, n, len(basis[0])), 0, -1)
                per_in.append(to_user(reshape(block, (*shape, *np.shape(leaf)))))
                start += n
            results.append(_pick(argnums, tree_unflatten(in_tree, per_in)))
        result = tree_unflatten(out_tree, results)
        return (result, aux) if has_aux else result

    return jac


jacobian = jacrev


def hessian(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Hessian of scalar ``f``: forward mode over reverse mode.

    >>> import fnad, numpy as np
    >>> fnad.hessian(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(f, argnums, has_aux), argnums, has_aux)


def elementwise_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The derivative of a function applied elementwise: the gradient of ``sum(f(x))``,
    which for an elementwise ``f`` holds each element's own derivative.

    >>> import fnad, numpy as np
    >>> fnad.elementwise_grad(np.tanh)(np.array([0.0, 1.0]))
    array([1.        , 0.41997434])
    """

    @functools.wraps(f)
    def summed(*args: Any, **kwargs: Any) -> Any:
        return fnp_sum(f(*args, **kwargs))

    return grad(summed, argnums)


def linearize(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(f(*primals), f_jvp)``: ``f`` is traced once; ``f_jvp(*tangents)`` then pushes
    tangents through the recorded graph without running ``f`` again.

    >>> import fnad, numpy as np
    >>> out, f_jvp = fnad.linearize(np.sin, np.zeros(2))
    >>> f_jvp(np.ones(2))
    array([1., 1.])
    """
    check_differentiable(f, primals, tuple(range(len(primals))), "linearize")
    trace = trace_concrete(f, primals, fname="linearize")
    p_leaves, p_tree = tree_flatten(primals)
    specs = [to_spec(p) for p in p_leaves]

    def f_jvp(*tangents: Any) -> Any:
        t_leaves, t_tree = tree_flatten(tangents)
        if t_tree != p_tree:
            raise ValueError(f"fnad.linearize: tangents {t_tree} do not match primals {p_tree}")
        for k, (t, spec) in enumerate(zip(t_leaves, specs)):
            got = to_spec(t, "tangent")
            if got.shape != spec.shape:
                raise ValueError(
                    f"fnad.linearize: tangent {k} has shape {got.shape}, its primal {spec.shape}"
                )
        extra = [None] * (len(trace.graph.inputs) - trace.num_args)
        t_out = jvp_pass(trace.graph, trace.env, [*t_leaves, *extra])
        outs = trace.out_values
        t_out = [np.zeros_like(o) if t is None else t for t, o in zip(t_out, outs)]
        return tree_unflatten(trace.out_tree, [to_user(t) for t in t_out])

    out = tree_unflatten(trace.out_tree, [to_user(o) for o in trace.out_values])
    return out, f_jvp
