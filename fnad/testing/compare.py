"""Comparing pytrees of arrays, and comparing fnad's ways of running one function.

``check_backends(f, args)`` runs ``f`` four ways and compares each with the reference
interpreter on the traced graph (``fnad.eval_graph``), so a disagreement says which stage
is wrong: plain Python under ``fnad.disable_jit()`` (tracing), the optimized graph in the
interpreter (the passes), and the compiled function (code generation and Numba).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.trace import eval_graph
from fnad.jit import disable_jit, jit
from fnad.testing.paths import leaf_paths
from fnad.tree import tree_flatten, tree_leaves, tree_unflatten


def assert_allclose(
    actual: Any, desired: Any, rtol: float = 1e-7, atol: float = 0.0, err_msg: str = ""
) -> None:
    """Like ``numpy.testing.assert_allclose``, leaf by leaf over two pytrees.

    The structures must be equal and each pair of leaves must have the same shape; the
    ``AssertionError`` names the path of the first leaf that differs.

    >>> import numpy as np
    >>> assert_allclose({"w": np.ones(2), "b": 0.5}, {"w": np.ones(2), "b": 0.5})
    """
    a_leaves, a_tree = tree_flatten(actual)
    d_leaves, d_tree = tree_flatten(desired)
    prefix = f"{err_msg}\n" if err_msg else ""
    if a_tree != d_tree:
        raise AssertionError(
            f"{prefix}fnad.testing.assert_allclose: structures differ: actual is {a_tree}, "
            f"desired is {d_tree}"
        )
    for path, a, d in zip(leaf_paths(desired), a_leaves, d_leaves):
        where = f"leaf {path}" if path else "the value"
        a, d = np.asarray(a), np.asarray(d)
        if a.shape != d.shape:
            raise AssertionError(
                f"{prefix}fnad.testing.assert_allclose: {where}: actual has shape {a.shape}, "
                f"desired has shape {d.shape}"
            )
        try:
            np.testing.assert_allclose(a, d, rtol=rtol, atol=atol)
        except AssertionError as e:
            raise AssertionError(f"{prefix}fnad.testing.assert_allclose: {where}:{e}") from None


_BACKEND_TOL = {np.dtype(np.float64): (1e-9, 1e-12), np.dtype(np.float32): (1e-5, 1e-6)}


def _tolerance(outs: Sequence[Any], rtol: float | None, atol: float | None):
    floats = [np.asarray(o).dtype for o in outs if np.issubdtype(np.asarray(o).dtype, np.inexact)]
    least = max(floats, key=lambda d: np.finfo(d).eps, default=np.dtype(np.float64))
    real = np.dtype(np.finfo(least).dtype)
    d_rtol, d_atol = _BACKEND_TOL.get(real, (1e-3, 1e-4))
    return d_rtol if rtol is None else rtol, d_atol if atol is None else atol


def _named(f: Callable) -> Callable:
    """A plain function calling ``f``, for callables without a ``__name__`` (jit needs one)."""

    def call(*args: Any) -> Any:
        return f(*args)

    call.__name__ = call.__qualname__ = type(f).__name__
    return call


def check_backends(
    f: Callable, args: Sequence[Any], rtol: float | None = None, atol: float | None = None
) -> Any:
    """Check that the interpreter and the compiled ``fnad.jit(f)`` agree on ``args``.

    Compares with the interpreter on the traced graph: ``f`` run as plain Python (under
    ``fnad.disable_jit()``), the optimized graph in the interpreter, and the compiled
    function. Tolerances default to ``rtol=1e-9`` for float64 and ``1e-5`` for float32
    results (compiled code may sum in another order). Returns the interpreter's result.

    >>> import numpy as np
    >>> check_backends(lambda x: np.exp(x).sum(), (np.ones(3),))
    array(8.15484549)
    """
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            "fnad.testing.check_backends: args must be a tuple of positional arguments, got "
            f"{type(args).__name__}; write check_backends(f, (x,)) for one argument"
        )
    args = tuple(args)
    jitted = jit(f if hasattr(f, "__name__") else _named(f))
    lowered = jitted.lower(*args)
    leaves = [np.asarray(x) for x in tree_leaves(list(args))]
    reference = tree_unflatten(lowered.out_tree, eval_graph(lowered.traced, *leaves))
    rtol, atol = _tolerance(tree_leaves(reference), rtol, atol)
    with disable_jit():
        python = jitted(*args)
    stages = [
        ("plain Python under fnad.disable_jit() (so tracing changed the result)", python),
        (
            "the optimized graph in the interpreter (so a graph pass changed the result)",
            tree_unflatten(lowered.out_tree, eval_graph(lowered.graph, *leaves)),
        ),
        ("the compiled function fnad.jit(f) (so code generation is wrong)", jitted(*args)),
    ]
    for stage, value in stages:
        assert_allclose(
            value,
            reference,
            rtol=rtol,
            atol=atol,
            err_msg=f"fnad.testing.check_backends: {stage} disagrees with the interpreter "
            "on the traced graph",
        )
    return reference
