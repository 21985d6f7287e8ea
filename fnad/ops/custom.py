"""Primitives for user-defined derivatives and rematerialization.

* ``stop_gradient``: the identity whose output carries no derivative.
* ``custom_vjp_call`` / ``custom_jvp_call``: a traced function (param ``graph``) with a
  user rule (param ``rule``, see ``fnad.custom``) that replaces its reverse-mode
  (respectively forward-mode) derivative.
* ``checkpoint_call``: a traced function whose VJP recomputes its intermediates from its
  inputs instead of reading them from the forward pass.
* ``barrier``: the identity on several values, which the compiler's CSE cannot see
  through; the recomputation of a ``checkpoint_call`` starts from it, so it is not merged
  with the forward computation it repeats.

The call primitives run by evaluating their sub-graph; under ``jit`` they are inlined
before optimization (``fnad.passes.inline``), so the code generator never sees them.
Operands are the function's flattened arguments followed by the traced values it closed
over; a rule covers the first ``rule.num_args`` of them.
"""

from __future__ import annotations

import numpy as np

from fnad.core.graph import Graph
from fnad.core.primitive import Primitive, float_cases, register, same_spec
from fnad.core.spec import ArraySpec, is_float, spec_of
from fnad.core.trace import Tracer, bind, eval_env, eval_graph, trace_graph


def _abstract(*specs: ArraySpec, graph: Graph, **params) -> tuple[ArraySpec, ...]:
    if tuple(specs) != graph.in_specs:
        raise TypeError(f"fnad: the traced function takes {graph.in_specs}, got {specs}")
    return graph.out_specs


def _impl(*xs, graph: Graph, **params) -> tuple:
    return tuple(eval_graph(graph, *xs))


def _graph_jvp(ts, *xs, outs, graph: Graph, **params) -> tuple:
    """Forward mode through the sub-graph itself."""
    from fnad.transforms.jvp import jvp_pass

    env, _ = eval_env(graph, xs)
    return tuple(jvp_pass(graph, env, ts))


def batched_graph(graph: Graph, batched: tuple[bool, ...], size: int) -> Graph:
    """``graph`` vmapped: inputs batched where ``batched``, every output batched."""
    from fnad.ops.shape import batch_all
    from fnad.transforms.vmap import vmap_pass

    specs = [
        ArraySpec((size, *s.shape), s.dtype) if b else s for s, b in zip(graph.in_specs, batched)
    ]

    def run(*xs):
        outs, out_batched = vmap_pass(graph, xs, batched, size)
        return batch_all(outs, out_batched, size)

    return trace_graph(run, specs)


def _zeros_for_none(values, like) -> list:
    return [np.zeros_like(o) if v is None else v for v, o in zip(values, like)]


def _check_closure(xs: tuple, rule, mode: str) -> None:
    """User rules see the function's arguments only; values it closed over would be stale."""
    extra = xs[rule.num_args :]
    if extra:
        specs = ", ".join(repr(spec_of(x)) for x in extra)
        raise TypeError(
            f"fnad: {rule!r} closes over {len(extra)} traced value(s) ({specs}); its rule "
            f"cannot account for them in {mode}. Pass them as explicit arguments."
        )


# -- stop_gradient ------------------------------------------------------------------------

stop_gradient_p = register(
    Primitive(
        "stop_gradient",
        impl=lambda x: x,
        abstract=same_spec,
        scalar="{x}",
        cases=float_cases(1, (-2.0, 2.0)),
        nondiff=True,
        elementwise=True,
        # NOTE: erased by the compiler after differentiation (it is the identity there).
        tags={"transparent": True},
    )
)


# -- barrier ------------------------------------------------------------------------------


def _barrier_batch(xs, batched, size):
    from fnad.ops.shape import batch_all

    return bind(barrier_p, *batch_all(xs, batched, size))


barrier_p = register(
    Primitive(
        "barrier",
        impl=lambda *xs: tuple(xs),
        abstract=lambda *specs: tuple(specs),
        vjp=lambda cts, *xs, outs: tuple(cts),
        jvp=lambda ts, *xs, outs: tuple(ts),
        batch=_barrier_batch,
        cases=lambda rng: [((rng.normal(size=3), rng.normal(size=(2, 2))), {})],
        multiple_results=True,
        # NOTE: erased by the compiler only after CSE, whose merging it exists to prevent.
        tags={"barrier": True},
    )
)


def shield(xs: tuple) -> list:
    """``xs`` with the traced ones passed through one ``barrier``."""
    traced = [i for i, x in enumerate(xs) if isinstance(x, Tracer)]
    if not traced:
        return list(xs)
    out = list(xs)
    for i, y in zip(traced, bind(barrier_p, *(xs[i] for i in traced))):
        out[i] = y
    return out


# -- custom_vjp_call ----------------------------------------------------------------------


def _custom_vjp_vjp(cts, *xs, outs, graph: Graph, rule) -> tuple:
    _check_closure(xs, rule, "reverse mode")
    _, residuals = rule.fwd(list(xs))
    return tuple(rule.bwd(residuals, _zeros_for_none(cts, outs)))


def _custom_vjp_batch(xs, batched, size, *, graph: Graph, rule) -> tuple:
    brule = rule.batched(tuple(batched[: rule.num_args]), size)
    return bind(custom_vjp_call_p, *xs, graph=batched_graph(graph, batched, size), rule=brule)


def _custom_cases(kind: str):
    def cases(rng):
        from fnad import custom

        return custom.registry_cases(kind, rng)

    return cases


custom_vjp_call_p = register(
    Primitive(
        "custom_vjp_call",
        impl=_impl,
        abstract=_abstract,
        vjp=_custom_vjp_vjp,
        # NOTE: forward mode differentiates the function itself; the rule is reverse-only.
        jvp=_graph_jvp,
        batch=_custom_vjp_batch,
        cases=_custom_cases("vjp"),
        multiple_results=True,
        tags={"inline": True},
    )
)


# -- custom_jvp_call ----------------------------------------------------------------------


def _custom_jvp_jvp(ts, *xs, outs, graph: Graph, rule) -> tuple:
    _check_closure(xs, rule, "forward mode")
    _, t_outs = rule.jvp(list(xs), _zeros_for_none(ts, xs))
    return tuple(t_outs)


def _custom_jvp_vjp(cts, *xs, outs, graph: Graph, rule) -> tuple:
    """The transpose of the user's JVP, which is linear in the tangents: the VJP of
    ``t -> jvp(xs, t)`` (at ``t = 0``; any point gives the same linear map)."""
    from fnad.transforms.vjp import vjp

    _check_closure(xs, rule, "reverse mode")
    floats = [i for i, x in enumerate(xs) if is_float(spec_of(x).dtype)]

    def tangent_out(*float_ts):
        ts = [np.zeros_like(x) for x in xs]
        for i, t in zip(floats, float_ts):
            ts[i] = t
        return list(rule.jvp(list(xs), ts)[1])

    _, pullback = vjp(tangent_out, *(np.zeros_like(xs[i]) for i in floats))
    grads = pullback(_zeros_for_none(cts, outs))
    out: list = [None] * len(xs)
    for i, g in zip(floats, grads):
        out[i] = g
    return tuple(out)


def _custom_jvp_batch(xs, batched, size, *, graph: Graph, rule) -> tuple:
    brule = rule.batched(tuple(batched[: rule.num_args]), size)
    return bind(custom_jvp_call_p, *xs, graph=batched_graph(graph, batched, size), rule=brule)


custom_jvp_call_p = register(
    Primitive(
        "custom_jvp_call",
        impl=_impl,
        abstract=_abstract,
        vjp=_custom_jvp_vjp,
        jvp=_custom_jvp_jvp,
        batch=_custom_jvp_batch,
        cases=_custom_cases("jvp"),
        multiple_results=True,
        tags={"inline": True},
    )
)


# -- checkpoint_call ----------------------------------------------------------------------


def _checkpoint_vjp(cts, *xs, outs, graph: Graph, name: str) -> tuple:
    """Recompute the intermediates from the inputs, then run the backward pass on them."""
    from fnad.transforms.vjp import backward_pass

    env, _ = eval_env(graph, shield(xs))
    return tuple(backward_pass(graph, env, cts, [True] * len(xs)))


def _checkpoint_batch(xs, batched, size, *, graph: Graph, name: str) -> tuple:
    return bind(checkpoint_call_p, *xs, graph=batched_graph(graph, batched, size), name=name)


def _checkpoint_cases(rng):
    spec = ArraySpec((3,), np.dtype(np.float64))
    graph = trace_graph(lambda x, y: [np.tanh(x * y), np.sum(np.sin(x) * y)], [spec, spec])
    return [((rng.normal(size=3), rng.normal(size=3)), {"graph": graph, "name": "f"})]


checkpoint_call_p = register(
    Primitive(
        "checkpoint_call",
        impl=_impl,
        abstract=_abstract,
        vjp=_checkpoint_vjp,
        jvp=_graph_jvp,
        batch=_checkpoint_batch,
        cases=_checkpoint_cases,
        multiple_results=True,
        tags={"inline": True},
    )
)
