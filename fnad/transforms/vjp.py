"""Reverse mode. The backward pass walks the graph from the outputs, calling each node's
VJP rule on the values of its inputs. Run on arrays it computes gradients; run on tracers it
records them, which is how ``vjp_graph`` derives the backward graph symbolically and why
``grad(grad(f))`` works: the derivative of a graph is another graph of primitives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.graph import Graph, Node, Var
from fnad.core.spec import is_float
from fnad.core.trace import eval_env, read, to_spec, trace_graph, var_hint
from fnad.transforms.common import (
    check_differentiable,
    function_name,
    global_name,
    normalize_argnums,
    to_user,
    trace_concrete,
)
from fnad.tree import tree_flatten, tree_unflatten

#: The hint of variables recorded by the backward pass (``fnad.viz`` draws them apart).
BACKWARD_HINT = "ct"


def active_vars(graph: Graph, wrt: Sequence[bool]) -> set[Var]:
    """Variables whose value depends differentiably on the inputs marked in ``wrt``."""
    active = {v for v, w in zip(graph.inputs, wrt) if w and is_float(v.spec.dtype)}
    for node in graph.nodes:
        if not node.prim.nondiff and any(a in active for a in node.inputs if isinstance(a, Var)):
            active.update(v for v in node.outs if is_float(v.spec.dtype))
    return active


def call_vjp(node: Node, cts: list[Any], xs: list[Any], env: dict[Var, Any]) -> Sequence[Any]:
    rule = node.prim.rule("vjp")
    if node.prim.multiple_results:
        return rule(tuple(cts), *xs, outs=tuple(env[v] for v in node.outs), **node.params)
    return rule(cts[0], *xs, out=env[node.outs[0]], **node.params)


def backward_pass(
    graph: Graph, env: dict[Var, Any], cts: Sequence[Any], wrt: Sequence[bool]
) -> list[Any]:
    """Cotangents of ``graph.inputs`` given output cotangents ``cts``; ``None`` is zero."""
    active = active_vars(graph, wrt)
    ct_env: dict[Var, Any] = {}

    def accumulate(var: Var, ct: Any, node: Node | None) -> None:
        if ct is None or var not in active:
            return
        if tuple(np.shape(ct)) != var.spec.shape:
            who = f"primitive '{node.prim.name}'" if node else "the output cotangent"
            raise ValueError(
                f"fnad: {who} produced a cotangent of shape {np.shape(ct)} for a "
                f"value of shape {var.spec.shape}"
            )
        prev = ct_env.get(var)
        ct_env[var] = ct if prev is None else prev + ct

    for out, ct in zip(graph.outputs, cts):
        if isinstance(out, Var):
            accumulate(out, ct, None)
    with var_hint(BACKWARD_HINT):
        for node in reversed(graph.nodes):
            cts_out = [ct_env.pop(v, None) for v in node.outs]
            if all(ct is None for ct in cts_out):
                continue
            xs = [read(env, a) for a in node.inputs]
            for a, ct in zip(node.inputs, call_vjp(node, cts_out, xs, env)):
                if isinstance(a, Var):
                    accumulate(a, ct, node)
    return [ct_env.get(v) for v in graph.inputs]


def vjp_graph(graph: Graph) -> Graph:
    """The backward graph: inputs ``(*primals, *output_cotangents)``, outputs
    ``(*outputs, *input_cotangents)``. Non-float inputs get zero cotangents.

    >>> import fnad, numpy as np
    >>> g = fnad.make_graph(lambda x: np.sum(np.sin(x)))(np.ones(3))
    >>> print(fnad.vjp_graph(g))  # doctest: +ELLIPSIS
    { lambda a:f64[3] b:f64[] .
        c:f64[3] = sin a
        ...
    """
    n = len(graph.inputs)

    def forward_backward(*args: Any) -> list[Any]:
        primals, cts = args[:n], args[n:]
        env, outs = eval_env(graph, primals)
        grads = backward_pass(graph, env, cts, [True] * n)
        return [*outs, *(np.zeros_like(p) if g is None else g for g, p in zip(grads, primals))]

    return trace_graph(forward_backward, [*graph.in_specs, *graph.out_specs])


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(ct)`` returns one cotangent per primal.

    >>> import fnad, numpy as np
    >>> out, vjp_fn = fnad.vjp(np.sin, np.zeros(2))
    >>> vjp_fn(np.ones(2))
    (array([1., 1.]),)
    """
    check_differentiable(f, primals, tuple(range(len(primals))), "vjp")
    trace = trace_concrete(f, primals, has_aux, "vjp")
    out = tree_unflatten(trace.out_tree, [to_user(v) for v in trace.out_values])
    out_specs = trace.graph.out_specs

    def vjp_fn(ct: Any) -> tuple:
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != trace.out_tree:
            raise ValueError(
                f"fnad.vjp: cotangent structure {ct_tree} does not match the "
                f"output structure {trace.out_tree}"
            )
        for k, (c, spec) in enumerate(zip(ct_leaves, out_specs)):
            got = to_spec(c, "cotangent")
            if got.shape != spec.shape:
                raise ValueError(
                    f"fnad.vjp: cotangent {k} has shape {got.shape}, the output "
                    f"has shape {spec.shape}"
                )
        grads = backward_pass(trace.graph, trace.env, ct_leaves, trace.wrt())
        leaves = [to_user(g) for g in trace.zeros(grads)]
        return tuple(tree_unflatten(trace.in_tree, leaves))

    return (out, vjp_fn, trace.aux) if has_aux else (out, vjp_fn)


def _grad_output(trace: Any, fname: str) -> Any:
    specs = trace.graph.out_specs
    if len(specs) != 1:
        raise TypeError(
            f"fnad.{fname}: the function must return one scalar, but it returned a "
            f"{trace.out_tree} with {len(specs)} arrays. If it returns (loss, aux), pass "
            "has_aux=True; for several outputs use fnad.vjp or fnad.jacrev."
        )
    (spec,) = specs
    if spec.shape != ():
        raise TypeError(
            f"fnad.{fname}: the function must return a scalar (shape ()), but it returned "
            f"an array of shape {spec.shape}. Use fnad.vjp or fnad.jacrev for non-scalar "
            "outputs, or reduce it (e.g. .sum())."
        )
    if not np.issubdtype(spec.dtype, np.floating):
        raise TypeError(
            f"fnad.{fname}: the function must return a real floating-point scalar, got "
            f"dtype {spec.dtype}"
        )
    return spec


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """``f``'s value and its gradient with respect to the ``argnums`` arguments.

    >>> import fnad, numpy as np
    >>> fnad.value_and_grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    (array(5.), array([2., 4.]))
    """
    return GradFunction(f, argnums, has_aux, with_value=True)


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """The gradient of scalar-valued ``f`` with respect to argument(s) ``argnums``.

    >>> import fnad, numpy as np
    >>> fnad.grad(lambda x: np.sum(np.sin(x) * x))(np.array([0.0, 1.0]))
    array([0.        , 1.38177329])
    """
    return GradFunction(f, argnums, has_aux, with_value=False)


class GradFunction:
    """What ``grad`` and ``value_and_grad`` return: a function object, so that it pickles
    (``f`` by reference) and can be sent to other processes or stored with a model."""

    def __init__(self, f: Callable, argnums: Any, has_aux: bool, with_value: bool) -> None:
        functools.update_wrapper(self, f)
        # NOTE: set after update_wrapper, which copies f's __dict__ (f may be another one).
        self._config = (f, argnums, has_aux, with_value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        f, argnums, has_aux, with_value = self._config
        out = _value_and_grad(f, argnums, has_aux, args, kwargs)
        if with_value:
            return out
        (value, g) = out
        return (g, value[1]) if has_aux else g

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __reduce__(self) -> str | tuple:
        return global_name(self) or (GradFunction, self._config)

    def __repr__(self) -> str:
        kind = "value_and_grad" if self._config[3] else "grad"
        return f"<fnad.{kind} of {self.__name__}>"


def _value_and_grad(f: Callable, argnums: Any, has_aux: bool, args: tuple, kwargs: dict) -> Any:
    nums = normalize_argnums(argnums, len(args), "grad")
    check_differentiable(f, args, nums, "grad")

    def partial(*diff_args: Any) -> Any:
        full = list(args)
        for i, v in zip(nums, diff_args):
            full[i] = v
        return f(*full, **kwargs)

    partial.__name__ = function_name(f)  # for errors naming the trace

    trace = trace_concrete(partial, tuple(args[i] for i in nums), has_aux, "grad")
    spec = _grad_output(trace, "grad")
    # NOTE: under an enclosing trace the seed must be traced too, or rules would fold
    # it into constants as large as the arrays it is broadcast to.
    with var_hint(BACKWARD_HINT):
        ct = np.ones_like(trace.out_values[0], dtype=spec.dtype)
    grads = backward_pass(trace.graph, trace.env, [ct], trace.wrt())
    per_arg = tree_unflatten(trace.in_tree, [to_user(g) for g in trace.zeros(grads)])
    g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
    value = to_user(trace.out_values[0])
    return ((value, trace.aux), g) if has_aux else (value, g)
