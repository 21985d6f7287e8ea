"""User-defined derivatives: ``custom_vjp``, ``custom_jvp`` and ``stop_gradient``.

A call of a decorated function is traced into a sub-graph held by one
``custom_vjp_call`` / ``custom_jvp_call`` node (fnad/ops/custom.py), together with a rule
object wrapping the user's callables (fnad/custom_rules.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.trace import Tracer, bind
from fnad.custom_rules import JVPRule, Signature, VJPRule, trace_call
from fnad.ops.custom import custom_jvp_call_p, custom_vjp_call_p, stop_gradient_p
from fnad.tree import PyTreeDef, tree_map, tree_unflatten


def stop_gradient(x: Any) -> Any:
    """``x`` itself, as a constant for differentiation: no derivative flows through it.
    Works on pytrees.

    >>> import fnad, numpy as np
    >>> float(fnad.grad(lambda x: x * fnad.stop_gradient(x))(3.0))
    3.0
    """
    return tree_map(lambda v: bind(stop_gradient_p, v) if isinstance(v, Tracer) else v, x)


class _Custom:
    """What ``custom_vjp`` and ``custom_jvp`` share: tracing a call and binding it."""

    kind = ""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        # NOTE: prefixed names: functools.wraps (in grad, jit...) copies this __dict__ onto
        # the wrappers of this function, where plain names like `fun` would collide.
        self._custom_fun = fun
        self._custom_nondiff = tuple(nondiff_argnums)

    def _rule(self, sig: Signature) -> Any:
        raise NotImplementedError

    def prepare(self, args: tuple) -> tuple[list[Any], dict[str, Any], PyTreeDef]:
        """``(operands, params, out_tree)`` of the node a call with ``args`` records."""
        graph, operands, sig = trace_call(self._custom_fun, args, self._custom_nondiff, self.kind)
        return operands, {"graph": graph, "rule": self._rule(sig)}, sig.out_tree

    def __call__(self, *args: Any) -> Any:
        operands, params, out_tree = self.prepare(args)
        prim = custom_vjp_call_p if self.kind == "custom_vjp" else custom_jvp_call_p
        return tree_unflatten(out_tree, bind(prim, *operands, **params))

    def __repr__(self) -> str:
        return f"<fnad.{self.kind} {self.__name__}>"


class custom_vjp(_Custom):  # noqa: N801  (a decorator, named like the function it makes)
    """A function with a user-defined reverse-mode derivative.

    ``f.defvjp(fwd, bwd)``: ``fwd(*args) -> (out, residuals)``, ``bwd(*nondiff_args,
    residuals, ct) -> tuple`` of one cotangent per differentiable argument (``None`` for
    zero). The rule is used by ``grad``/``vjp``; forward mode differentiates ``f`` itself.

    >>> import fnad, numpy as np
    >>> @fnad.custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, ct: (np.clip(ct, -1, 1),))
    >>> float(fnad.grad(lambda x: 5 * clip_grad(x))(2.0))
    1.0
    """

    kind = "custom_vjp"
    _custom_fwd: Callable | None = None
    _custom_bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        for what, fn in (("fwd", fwd), ("bwd", bwd)):
            if not callable(fn):
                raise TypeError(f"fnad.custom_vjp.defvjp: {what} must be callable, got {fn!r}")
        self._custom_fwd, self._custom_bwd = fwd, bwd

    def _rule(self, sig: Signature) -> VJPRule:
        if self._custom_fwd is None or self._custom_bwd is None:
            raise TypeError(
                f"fnad.custom_vjp: '{self.__name__}' has no rule: call "
                f"{self.__name__}.defvjp(fwd, bwd) before calling it"
            )
        return VJPRule(sig, self._custom_fwd, self._custom_bwd)


class custom_jvp(_Custom):  # noqa: N801
    """A function with a user-defined forward-mode derivative.

    ``f.defjvp(jvp_fn)``: ``jvp_fn(*nondiff_args, primals, tangents) -> (out,
    tangent_out)``, linear in ``tangents``. Reverse mode transposes it, so ``grad`` uses
    the rule too.

    >>> import fnad, numpy as np
    >>> @fnad.custom_jvp
    ... def log1pexp(x):
    ...     return np.log1p(np.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t / (1 + np.exp(-x))
    >>> float(fnad.grad(log1pexp)(50.0))
    1.0
    """

    kind = "custom_jvp"
    _custom_jvp: Callable | None = None

    def defjvp(self, jvp_fn: Callable) -> Callable:
        if not callable(jvp_fn):
            raise TypeError(f"fnad.custom_jvp.defjvp: the rule must be callable, got {jvp_fn!r}")
        self._custom_jvp = jvp_fn
        return jvp_fn

    def _rule(self, sig: Signature) -> JVPRule:
        if self._custom_jvp is None:
            raise TypeError(
                f"fnad.custom_jvp: '{self.__name__}' has no rule: call "
                f"{self.__name__}.defjvp(jvp_fn) before calling it"
            )
        return JVPRule(sig, self._custom_jvp)


# -- registry cases -----------------------------------------------------------------------


def _case_fun(x: Any, y: Any) -> tuple:
    return np.sin(x) * y, np.sum(x * y)


def _case_fwd(x: Any, y: Any) -> tuple:
    return _case_fun(x, y), (x, y)


def _case_bwd(res: tuple, ct: tuple) -> tuple:
    x, y = res
    c0, c1 = ct
    return c0 * np.cos(x) * y + c1 * y, c0 * np.sin(x) + c1 * x


def _case_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (tx, ty) = primals, tangents
    t0 = tx * np.cos(x) * y + ty * np.sin(x)
    return _case_fun(x, y), (t0, np.sum(tx * y + x * ty))


_CASE_VJP = custom_vjp(_case_fun)
_CASE_VJP.defvjp(_case_fwd, _case_bwd)
_CASE_JVP = custom_jvp(_case_fun)
_CASE_JVP.defjvp(_case_jvp)


def registry_cases(kind: str, rng: np.random.Generator) -> list[tuple[tuple, dict]]:
    """Inputs for the registry-driven tests of ``custom_vjp_call``/``custom_jvp_call``."""
    fn = _CASE_VJP if kind == "vjp" else _CASE_JVP
    x, y = rng.normal(size=3), rng.normal(size=3)
    operands, params, _ = fn.prepare((x, y))
    return [(tuple(operands), params)]
