"""Hypothesis strategies for testing code written with fnad (requires ``hypothesis``).

* :func:`arrays`: arrays with well-conditioned defaults (finite, no subnormals, in
  ``[-2, 2]``, every element drawn on its own rather than from a shared fill value);
* :func:`shapes`, :func:`broadcastable_shapes`: small shapes, and shapes that broadcast;
* :func:`pytrees`: nested lists, tuples and dicts of arrays;
* :func:`programs`: random programs of fnad primitives with inputs in their domains
  (see :mod:`fnad.testing.programs`), which shrink to short failing programs;
* :func:`register_profiles` registers a bounded ``ci`` profile and a long ``thorough`` one;
  :func:`max_examples` scales an example budget by the loaded profile.

>>> from hypothesis import given
>>> @given(arrays(shape=(3,)))
... def test_square_is_nonnegative(x):
...     assert (x * x >= 0).all()
>>> test_square_is_nonnegative()
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fnad.testing.programs import Program, candidate_steps, check_op_names

__all__ = [
    "arrays",
    "broadcastable_shapes",
    "max_examples",
    "programs",
    "pytrees",
    "register_profiles",
    "shapes",
]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[int, ...]]:
    """Small array shapes (by default rank 0 to 3, sides 1 to 4)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``num_shapes`` shapes that broadcast together, e.g. ``((3, 1), (4,))``."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda s: s.input_shapes)


def arrays(
    shape: Any = None,
    dtype: Any = np.float64,
    elements: st.SearchStrategy | None = None,
    *,
    min_value: float = -2.0,
    max_value: float = 2.0,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` (a tuple, an int or a strategy; default :func:`shapes`).

    Float elements default to finite, non-subnormal values in ``[min_value, max_value]``;
    integer and boolean dtypes use hypothesis's defaults unless ``elements`` is given.
    """
    shape = shapes() if shape is None else shape
    dtype = np.dtype(dtype)
    if elements is None and np.issubdtype(dtype, np.floating):
        elements = st.floats(
            min_value,
            max_value,
            width=8 * dtype.itemsize,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=False,
        )
    fill = st.nothing() if np.issubdtype(dtype, np.floating) else None
    return hnp.arrays(dtype, shape, elements=elements, fill=fill)


def pytrees(leaves: st.SearchStrategy | None = None, max_leaves: int = 4) -> st.SearchStrategy[Any]:
    """Nested lists, tuples and string-keyed dicts whose leaves come from ``leaves``
    (default: float64 :func:`arrays` of rank up to 2)."""
    leaves = arrays(shape=shapes(max_dims=2, max_side=3)) if leaves is None else leaves
    keys = st.sampled_from("abcdefgh")

    def containers(children):
        return st.one_of(
            st.lists(children, min_size=1, max_size=3),
            st.lists(children, min_size=1, max_size=3).map(tuple),
            st.dictionaries(keys, children, min_size=1, max_size=3),
        )

    return st.recursive(leaves, containers, max_leaves=max_leaves)


@st.composite
def programs(
    draw: Any,
    max_steps: int = 5,
    max_inputs: int = 3,
    dtype: Any = np.float64,
    shape: Any = None,
    smooth: bool = True,
    ops: list[str] | None = None,
) -> Program:
    """Random :class:`~fnad.testing.programs.Program` s with their inputs.

    Inputs have the drawn ``shape`` or, after the first, a suffix of it (a broadcasting
    operand). Each step applies one primitive to the previous value (and possibly earlier ones),
    chosen among the steps valid for the values drawn so far. ``smooth=True`` (the default)
    keeps kinked primitives away from their kinks, so the program is differentiable at its
    inputs; ``ops`` restricts the primitives (names from ``fnad.testing.programs.OPS``).
    Use ``prog(*prog.args)``; ``repr(prog)`` lists the inputs and the steps.
    """
    check_op_names(ops)
    shape = shapes(max_dims=2, max_side=3) if shape is None else shape
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    n_inputs = draw(st.integers(1, max_inputs))
    # Inputs after the first may drop leading axes, as broadcasting operands do.
    suffixes = [0] + [draw(st.integers(0, len(shape))) for _ in range(n_inputs - 1)]
    args = tuple(draw(arrays(shape[k:], dtype)) for k in suffixes)
    values, steps = list(args), []
    # NOTE: a "stop here?" draw before each further step lets hypothesis shrink by dropping
    # steps; choices index lists ordered simplest first, so steps shrink towards add/mul.
    while len(steps) < max_steps and (not steps or draw(st.integers(0, 4)) != 0):
        options = candidate_steps(values, smooth, ops)
        if not options:
            break
        step = draw(st.sampled_from(options[draw(st.sampled_from(list(options)))]))
        values.append(np.asarray(step.apply(values)))
        steps.append(step)
    if not steps:
        raise ValueError(f"fnad.testing.programs: no op of {ops} applies to these inputs")
    return Program(tuple(steps), args)


def register_profiles() -> None:
    """Register the hypothesis profiles ``ci`` (bounded, derandomized) and ``thorough``.

    Load one with ``hypothesis.settings.load_profile("ci")``. Under ``ci`` tests keep their
    own ``max_examples``; ``thorough`` multiplies budgets given with :func:`max_examples`.
    """
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("ci", max_examples=100, derandomize=True, print_blob=True, **common)
    settings.register_profile("thorough", max_examples=1000, **common)


def max_examples(n: int) -> int:
    """``n`` examples under a profile of 100 (``ci`` or hypothesis's default), scaled by
    the loaded profile: ``max_examples(20)`` is 200 under ``thorough``."""
    return max(1, n * settings.default.max_examples // 100)
