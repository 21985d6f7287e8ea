"""``fused``: a region of elementwise nodes (and trailing reductions) held as a sub-graph.

Made by the fusion pass after differentiation; the compiler emits each as one loop nest.
The interpreter runs it by evaluating the sub-graph, so fused graphs stay testable."""

from __future__ import annotations

import numpy as np

from fnad.core.graph import Graph
from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import eval_graph, trace_graph


def _abstract(*specs: ArraySpec, region: Graph) -> tuple[ArraySpec, ...]:
    if tuple(specs) != region.in_specs:
        raise TypeError(f"fnad: fused region takes {region.in_specs}, got {specs}")
    return region.out_specs


def _cases(rng):
    spec = ArraySpec((3,), np.dtype(np.float64))
    region = trace_graph(lambda x, y: [np.sin(x) * y, np.sum(x)], [spec, spec])
    return [((rng.normal(size=3), rng.normal(size=3)), {"region": region})]


def _batch(xs, batched, size, *, region):
    from fnad.ops.shape import batch_all
    from fnad.transforms.vmap import vmap_pass

    outs, out_batched = vmap_pass(region, xs, batched, size)
    return tuple(batch_all(outs, out_batched, size))


fused_p = register(
    Primitive(
        "fused",
        impl=lambda *xs, region: tuple(eval_graph(region, *xs)),
        abstract=_abstract,
        batch=_batch,
        cases=_cases,
        multiple_results=True,
        nondiff=True,
    )
)
