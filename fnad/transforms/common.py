"""What the transforms share: tracing a user function concretely, argument checks, names."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fnad.core.graph import Graph, Var
from fnad.core.spec import is_float, short_dtype
from fnad.core.trace import Builder, Tracer, read, to_spec
from fnad.tree import PyTreeDef, tree_flatten, tree_map, tree_unflatten


def arg_names(f: Callable) -> list[str]:
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def describe_arg(f: Callable, argnum: int) -> str:
    names = arg_names(f)
    return f"argument {argnum} ('{names[argnum]}')" if argnum < len(names) else f"argument {argnum}"


def function_name(f: Callable) -> str:
    """``f``'s name for messages; callable objects and partials have none of their own."""
    return getattr(f, "__name__", type(f).__name__)


def global_name(obj: Any) -> str | None:
    """``obj``'s qualified name when its module holds ``obj`` itself under that name (a
    function decorated with ``@jit`` or ``@grad``), so that pickle can store it by name."""
    target: Any = sys.modules.get(getattr(obj, "__module__", None) or "")
    for part in getattr(obj, "__qualname__", "<none>").split("."):
        target = getattr(target, part, None)
    return obj.__qualname__ if target is obj else None


def normalize_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(
                f"fnad.{fname}: argnums={argnums!r} is out of range: the function was called "
                f"with {nargs} positional argument(s)"
            )
    return tuple(n % nargs for n in nums)


def check_differentiable(f: Callable, args: tuple, argnums: tuple[int, ...], fname: str) -> None:
    """Integer, boolean and non-numeric inputs cannot be differentiated: say which one."""
    for n in argnums:
        leaves, _ = tree_flatten(args[n])
        for k, leaf in enumerate(leaves):
            where = describe_arg(f, n) + (f", leaf {k}" if len(leaves) > 1 else "")
            spec = to_spec(leaf, where)
            if not is_float(spec.dtype):
                raise TypeError(
                    f"fnad.{fname}: {where} has dtype {spec.dtype} ({short_dtype(spec.dtype)}"
                    f"{list(spec.shape)}); differentiation needs floating-point (or complex) "
                    "inputs. Convert it (x.astype(float)) or leave it out of argnums."
                )


def to_user(x: Any) -> Any:
    """Values handed back to users: NumPy arrays (or tracers of an enclosing transform)."""
    return x if isinstance(x, Tracer) else np.asarray(x)


@dataclass
class ConcreteTrace:
    """A user function traced on concrete values: its graph and every variable's value."""

    graph: Graph
    env: dict[Var, Any]
    in_tree: PyTreeDef
    out_tree: PyTreeDef
    num_args: int
    aux: Any

    @property
    def out_values(self) -> list[Any]:
        return [read(self.env, a) for a in self.graph.outputs]

    def wrt(self) -> list[bool]:
        """Differentiate by the explicit inputs, not by captured outer values."""
        return [i < self.num_args for i in range(len(self.graph.inputs))]

    def zeros(self, values: Sequence[Any]) -> list[Any]:
        """``values`` per explicit input, symbolic zeros made explicit."""
        out = []
        for v, var in zip(values, self.graph.inputs[: self.num_args]):
            out.append(np.zeros(var.spec.shape, var.spec.dtype) if v is None else v)
        return out


def trace_concrete(
    f: Callable, args: tuple, has_aux: bool = False, fname: str = ""
) -> ConcreteTrace:
    """Run ``f(*args)`` on tracers that carry the values of ``args`` (dynamic mode)."""
    leaves, in_tree = tree_flatten(args)
    with Builder(concrete=True, name=f"{fname}({function_name(f)})") as builder:
        tracers = [
            builder.new_input(
                to_spec(x, f"{fname} input"), x if isinstance(x, Tracer) else np.asarray(x)
            )
            for x in leaves
        ]
        out = f(*tree_unflatten(in_tree, tracers))
        aux = None
        if has_aux:
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError(
                    f"fnad.{fname}: with has_aux=True the function must return a pair "
                    f"(output, aux), got {type(out).__name__}"
                )
            out, aux = out
            aux = tree_map(
                lambda t: t.val if isinstance(t, Tracer) and t.builder is builder else t, aux
            )
        out_leaves, out_tree = tree_flatten(out)
        graph = builder.finish(out_leaves)
    return ConcreteTrace(graph, builder.vals, in_tree, out_tree, len(leaves), aux)
