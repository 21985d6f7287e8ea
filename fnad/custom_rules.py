"""The rule objects behind ``custom_vjp`` and ``custom_jvp``, and the tracing of a call.

A call of a decorated function is traced (abstractly, on the shapes and dtypes of its
arguments) into a sub-graph; a ``Signature`` records how the call's pytree arguments map
to the primitive's flat operands. The rule objects wrap the user's callables for one
signature: they translate between flat leaves and the user's pytrees, check what the
callables return, and make batched copies of themselves for ``vmap`` (running the user's
callables under ``vmap``), so ``grad(vmap(f))`` still uses the custom rule. Rules print
as ``custom_vjp(name)``, compare by identity, and are the ``rule`` param of the node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fnad.core.spec import ArraySpec, is_float
from fnad.core.trace import Builder, Tracer, to_spec
from fnad.numpy import astype
from fnad.transforms.common import describe_arg
from fnad.tree import PyTreeDef, tree_flatten, tree_leaves, tree_structure, tree_unflatten


@dataclass(frozen=True)
class Signature:
    """How a call's arguments map to the flat operands of its primitive."""

    name: str
    #: (position, value) of the arguments in ``nondiff_argnums``, passed as they are.
    nondiff: tuple[tuple[int, Any], ...]
    #: Positions of the differentiable arguments, and each one's pytree structure.
    positions: tuple[int, ...]
    arg_trees: tuple[PyTreeDef, ...]
    in_specs: tuple[ArraySpec, ...]
    out_tree: PyTreeDef
    fun: Callable

    def args(self, leaves: Sequence[Any]) -> list[Any]:
        """The full argument list from the differentiable leaves."""
        full: dict[int, Any] = dict(self.nondiff)
        k = 0
        for pos, tree in zip(self.positions, self.arg_trees):
            full[pos] = tree_unflatten(tree, leaves[k : k + tree.num_leaves])
            k += tree.num_leaves
        return [full[i] for i in range(len(full))]

    def diff_args(self, leaves: Sequence[Any]) -> tuple:
        full = self.args(leaves)
        return tuple(full[p] for p in self.positions)

    @property
    def nondiff_values(self) -> list[Any]:
        return [v for _, v in self.nondiff]

    def describe(self, k: int) -> str:
        return describe_arg(self.fun, self.positions[k])

    def check_outputs(self, out: Any, who: str) -> list[Any]:
        """The leaves of ``out``, which must be shaped like the function's output."""
        leaves, tree = tree_flatten(out)
        if tree != self.out_tree:
            raise TypeError(
                f"fnad: {who} of '{self.name}' returned an output of structure {tree}, "
                f"but the function returns {self.out_tree}"
            )
        return leaves

    def check_cotangents(self, grads: Any, who: str) -> list[Any]:
        """One leaf per differentiable input leaf (``None`` for zero), checked."""
        n = len(self.positions)
        if not isinstance(grads, tuple | list) or len(grads) != n:
            got = f"a {type(grads).__name__}" + (
                f" of length {len(grads)}" if isinstance(grads, tuple | list) else ""
            )
            names = ", ".join(self.describe(k) for k in range(n))
            raise TypeError(
                f"fnad: {who} of '{self.name}' must return a tuple of {n} cotangent(s), one "
                f"per differentiable argument ({names}); got {got}"
            )
        out: list[Any] = []
        for k, (g, tree) in enumerate(zip(grads, self.arg_trees)):
            specs = self.in_specs[len(out) : len(out) + tree.num_leaves]
            out += self._leaves(g, tree, specs, f"{who} of '{self.name}', {self.describe(k)}")
        return out

    @staticmethod
    def _leaves(g: Any, tree: PyTreeDef, specs: Sequence[ArraySpec], where: str) -> list[Any]:
        if g is None:
            return [None] * len(specs)
        leaves, g_tree = tree_flatten(g, is_leaf=lambda v: v is None)
        if g_tree != tree:
            leaves, g_tree = tree_flatten(g)
            if g_tree != tree:
                raise TypeError(f"fnad: {where}: cotangent structure {g_tree}, expected {tree}")
        out = []
        for leaf, spec in zip(leaves, specs):
            if leaf is None or not is_float(spec.dtype):
                out.append(None)
                continue
            got = to_spec(leaf, "cotangent")
            if got.shape != spec.shape:
                raise ValueError(
                    f"fnad: {where}: cotangent of shape {got.shape}, the argument has "
                    f"shape {spec.shape}"
                )
            out.append(leaf if got.dtype == spec.dtype else astype(leaf, spec.dtype))
        return out


def _nondiff_positions(fun: Callable, args: tuple, nums: tuple[int, ...], kind: str):
    name = getattr(fun, "__name__", "function")
    what = "static_argnums" if kind == "checkpoint" else "nondiff_argnums"
    for n in nums:
        if not -len(args) <= n < len(args):
            raise ValueError(
                f"fnad.{kind}: {what} {n} is out of range: '{name}' was called "
                f"with {len(args)} argument(s)"
            )
    nondiff = tuple(sorted({n % len(args) for n in nums}))
    for i in nondiff:
        if any(isinstance(v, Tracer) for v in tree_leaves(args[i])):
            raise TypeError(
                f"fnad.{kind}: {describe_arg(fun, i)} of '{name}' is in {what} but holds a "
                "traced array; such arguments are Python values (ints, functions, ...). "
                "Make it an ordinary argument (for custom_vjp, return None as its cotangent)."
            )
    return nondiff


def trace_call(fun: Callable, args: tuple, nondiff_argnums: tuple[int, ...], kind: str):
    """Trace ``fun(*args)`` abstractly: ``(graph, operands, signature)``; the operands are
    the differentiable leaves, then the traced values ``fun`` closed over."""
    nondiff = _nondiff_positions(fun, args, nondiff_argnums, kind)
    positions = tuple(i for i in range(len(args)) if i not in nondiff)
    leaves, arg_trees, specs = [], [], []
    for i in positions:
        arg_leaves, tree = tree_flatten(args[i])
        arg_trees.append(tree)
        for v in arg_leaves:
            leaves.append(v if isinstance(v, Tracer) else np.asarray(v))
            specs.append(to_spec(v, describe_arg(fun, i)))
    name = getattr(fun, "__name__", "function")
    sig = Signature(
        name, tuple((i, args[i]) for i in nondiff), positions, tuple(arg_trees), tuple(specs),
        tree_structure(None), fun,
    )  # fmt: skip
    with Builder(concrete=False) as builder:
        tracers = [builder.new_input(s) for s in specs]
        out_leaves, out_tree = tree_flatten(fun(*sig.args(tracers)))
        graph = builder.finish(out_leaves)
    captured = [x for _, x in builder.captured.values()]
    return graph, [*leaves, *captured], dataclasses.replace(sig, out_tree=out_tree)


@dataclass(frozen=True, eq=False)
class VJPRule:
    """The user's ``fwd``/``bwd`` for one call signature, on flat leaves."""

    sig: Signature
    fwd_fn: Callable
    bwd_fn: Callable

    @property
    def num_args(self) -> int:
        return len(self.sig.in_specs)

    def __repr__(self) -> str:
        return f"custom_vjp({self.sig.name})"

    def fwd(self, xs: list[Any]) -> tuple[list[Any], Any]:
        result = self.fwd_fn(*self.sig.args(xs))
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(
                f"fnad.custom_vjp: fwd of '{self.sig.name}' must return a pair "
                f"(output, residuals), got {type(result).__name__}"
            )
        return self.sig.check_outputs(result[0], "fwd"), result[1]

    def bwd(self, residuals: Any, cts: list[Any]) -> list[Any]:
        ct = tree_unflatten(self.sig.out_tree, cts)
        grads = self.bwd_fn(*self.sig.nondiff_values, residuals, ct)
        return self.sig.check_cotangents(grads, "custom_vjp: bwd")

    def batched(self, flags: tuple[bool, ...], size: int) -> BatchedVJPRule:
        return BatchedVJPRule(self, flags, size)


@dataclass(frozen=True, eq=False)
class _Batched:
    """A rule vmapped along the inputs marked in ``flags`` (batch axis first)."""

    inner: Any
    flags: tuple[bool, ...]
    size: int

    @property
    def num_args(self) -> int:
        return self.inner.num_args

    @property
    def in_axes(self) -> tuple[int | None, ...]:
        return tuple(0 if f else None for f in self.flags)

    def __repr__(self) -> str:
        return f"vmap({self.inner!r})"

    def batched(self, flags: tuple[bool, ...], size: int) -> _Batched:
        return type(self)(self, flags, size)


class BatchedVJPRule(_Batched):
    """``inner`` vmapped: residuals come back batched, unbatched inputs' cotangents summed."""

    def fwd(self, xs: list[Any]) -> tuple[list[Any], Any]:
        from fnad.transforms.vmap import vmap

        fwd = vmap(lambda *a: self.inner.fwd(list(a)), in_axes=self.in_axes, axis_size=self.size)
        return fwd(*xs)

    def bwd(self, residuals: Any, cts: list[Any]) -> list[Any]:
        from fnad.numpy import sum as fnp_sum
        from fnad.transforms.vmap import vmap

        grads = vmap(lambda r, c: self.inner.bwd(r, c), axis_size=self.size)(residuals, cts)
        return [g if g is None or f else fnp_sum(g, axis=0) for g, f in zip(grads, self.flags)]


@dataclass(frozen=True, eq=False)
class JVPRule:
    """The user's ``jvp_fn`` for one call signature, on flat leaves."""

    sig: Signature
    jvp_fn: Callable

    @property
    def num_args(self) -> int:
        return len(self.sig.in_specs)

    def __repr__(self) -> str:
        return f"custom_jvp({self.sig.name})"

    def jvp(self, xs: list[Any], ts: list[Any]) -> tuple[list[Any], list[Any]]:
        primals, tangents = self.sig.diff_args(xs), self.sig.diff_args(ts)
        result = self.jvp_fn(*self.sig.nondiff_values, primals, tangents)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(
                f"fnad.custom_jvp: the jvp rule of '{self.sig.name}' must return a pair "
                f"(output, output_tangent), got {type(result).__name__}"
            )
        outs = self.sig.check_outputs(result[0], "the jvp rule")
        t_tree = tree_structure(result[1], is_leaf=lambda v: v is None)
        if t_tree != self.sig.out_tree and tree_structure(result[1]) != self.sig.out_tree:
            raise TypeError(
                f"fnad.custom_jvp: the jvp rule of '{self.sig.name}' returned a tangent of "
                f"structure {t_tree}, but the function returns {self.sig.out_tree}"
            )
        t_outs = tree_flatten(result[1], is_leaf=lambda v: v is None)[0]
        for k, (t, o) in enumerate(zip(t_outs, outs)):
            if t is not None and np.shape(t) != np.shape(o):
                raise ValueError(
                    f"fnad.custom_jvp: the jvp rule of '{self.sig.name}' returned a tangent "
                    f"of shape {np.shape(t)} for output {k} of shape {np.shape(o)}"
                )
        return outs, [np.zeros_like(o) if t is None else t for t, o in zip(t_outs, outs)]

    def batched(self, flags: tuple[bool, ...], size: int) -> BatchedJVPRule:
        return BatchedJVPRule(self, flags, size)


class BatchedJVPRule(_Batched):
    """``inner`` vmapped along primals and tangents alike."""

    def jvp(self, xs: list[Any], ts: list[Any]) -> tuple[list[Any], list[Any]]:
        from fnad.transforms.vmap import vmap

        n = len(xs)

        def one(*a: Any) -> Any:
            return self.inner.jvp(list(a[:n]), list(a[n:]))

        return vmap(one, in_axes=self.in_axes * 2, axis_size=self.size)(*xs, *ts)
