"""``jit``: trace statically per call signature, optimize, generate source, compile with Numba.

A signature is the pytree structure, shapes and dtypes of the array arguments and the
values of the static ones. A new signature re-traces (cheap); compiled code is found by the
digest of the generated source, so a new array size reuses the code compiled for an old
one. The per-call path of a known signature is a dict lookup and the Numba call.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from fnad.backends import cache, cpu_blas
from fnad.codegen.cpu import Generated, generate
from fnad.core.graph import Graph
from fnad.core.spec import ArraySpec
from fnad.core.trace import Tracer, eval_graph, trace_graph
from fnad.device import check_device, current_device
from fnad.dispatch import SlowPath, converting, fast_key, tree_key
from fnad.passes import optimize
from fnad.transforms.common import describe_arg, global_name
from fnad.tree import PyTreeDef, tree_flatten, tree_structure, tree_unflatten

log = logging.getLogger("fnad.jit")
_DISABLED = [False]
_COMPILABLE = "biufc"
_LEAF = tree_structure(0)


@contextlib.contextmanager
def disable_jit() -> Iterator[None]:
    """Run jitted functions as plain Python on NumPy arrays, line by line, for debugging.

    >>> import fnad, numpy as np
    >>> with fnad.disable_jit():
    ...     fnad.jit(np.sin)(np.zeros(2))
    array([0., 0.])
    """
    previous, _DISABLED[0] = _DISABLED[0], True
    try:
        yield
    finally:
        _DISABLED[0] = previous


@dataclass
class Lowered:
    """A traced, optimized graph and its generated source, for one call signature."""

    traced: Graph
    graph: Graph
    generated: Generated
    out_tree: PyTreeDef
    device: str = "cpu"
    #: ``jit``'s ``parallel`` option: None chooses by size, True and False force.
    parallel: bool | None = None

    @property
    def source(self) -> str:
        return self.generated.source

    def compile(self) -> Compiled:
        gen = self.generated
        fn = cache.load(gen.source, gen.function)
        if self.device == "cuda":
            from fnad.backends.cuda import CudaCompiled

            return CudaCompiled(fn, self.generated.consts, self.graph.out_specs, self.out_tree)
        if uses_threads(gen, self.parallel):
            fn = _Threaded(cache.load(gen.source, gen.parallel_function), fn)
        return Compiled(fn, self.generated.consts, self.graph.out_specs, self.out_tree)


PARALLEL_MIN_ELEMENTS = 1 << 17
"""With ``jit(parallel=None)``, the size from which a fused region runs on Numba's threads
(smaller loops finish before the threads would start)."""


def uses_threads(generated: Generated, parallel: bool | None) -> bool:
    """Whether the lowered signature runs the parallel function of its module."""
    if generated.parallel_function is None or parallel is False or numba.get_num_threads() < 2:
        return False
    return parallel is True or generated.parallel_elements >= PARALLEL_MIN_ELEMENTS


class _Threaded:
    """The parallel function of a module, or its serial one if Numba cannot compile it."""

    __slots__ = ("fn", "serial")

    def __init__(self, fn: Callable, serial: Callable) -> None:
        self.fn, self.serial = fn, serial

    def __call__(self, *args: Any) -> Any:
        try:
            return self.fn(*args)
        except numba.core.errors.NumbaError as exc:
            # NOTE: Numba compiles on the first call; a failure there is permanent.
            if self.fn is self.serial:
                raise
            log.warning("fnad.jit: the parallel loops failed to compile (%s); serial", exc)
            self.fn = self.serial
            return self.fn(*args)


class Compiled:
    """The compiled function of one signature: takes the flat array leaves."""

    __slots__ = ("fn", "consts", "scalar_outs", "out_tree", "single", "scalar_dtype")

    def __init__(self, fn: Callable, consts, out_specs: Sequence[ArraySpec], out_tree) -> None:
        self.fn = fn
        self.consts = tuple(consts)
        self.scalar_outs = tuple((i, s.dtype) for i, s in enumerate(out_specs) if not s.shape)
        self.out_tree = out_tree
        self.single = out_tree == _LEAF
        #: The dtype of the one output when it is a scalar (a 0-d array for the caller).
        self.scalar_dtype = out_specs[0].dtype if self.single and not out_specs[0].shape else None

    def __call__(self, *leaves: Any) -> Any:
        outs = self.fn(*leaves, *self.consts)
        if self.scalar_dtype is not None:
            return np.array(outs[0], self.scalar_dtype)
        if self.scalar_outs:
            outs = list(outs)
            for i, dtype in self.scalar_outs:
                outs[i] = np.asarray(outs[i], dtype)
        return outs[0] if self.single else tree_unflatten(self.out_tree, outs)


class Jitted:
    """A function compiled per call signature. Counts traces and compiles."""

    def __init__(
        self,
        fun: Callable,
        static_argnums: Sequence[int],
        static_argnames: Sequence[str],
        fastmath: bool,
        device: str | None = None,
        precise: bool = False,
        parallel: bool | None = None,
    ) -> None:
        self.fun = fun
        self.fastmath = fastmath
        self.precise = precise
        if parallel not in (None, True, False):
            raise TypeError(
                f"fnad.jit: parallel must be None (by size), True or False, got {parallel!r}"
            )
        self.parallel = parallel
        #: None follows fnad.default_device at each call.
        self.device = None if device is None else check_device(device)
        names = _positional_names(fun)
        self.static_argnums = tuple(sorted(set(static_argnums)))
        #: Positions of static_argnames, static when the value is passed positionally.
        self._named_positions = tuple(names.index(n) for n in static_argnames if n in names)
        self.static_argnames = tuple(static_argnames)
        self.trace_count = 0
        self.compile_count = 0
        self._plans: dict[Any, Compiled] = {}
        self._fast: dict[tuple, Compiled] = {}
        self._fast_trees: dict[tuple, Compiled] = {}
        self._lowered: dict[Any, Lowered] = {}
        self._last_key: Any = None
        functools.update_wrapper(self, fun)
        if not hasattr(self, "__name__"):  # callable objects and partials have none
            self.__name__ = type(fun).__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # NOTE: the fast path: plain ndarray (or Python float) arguments of a known signature.
        if not kwargs and not _DISABLED[0]:
            try:
                plan = self._fast.get(fast_key(args))
            except AttributeError:
                plan = None
            if plan is not None and (self.device or current_device()) == "cpu":
                return plan(*args)
            # NOTE: the second fast path: pytrees (dicts, lists, tuples) of ndarrays.
            if self._fast_trees:
                leaves: list = []
                try:
                    plan = self._fast_trees.get(tree_key(args, leaves))
                except SlowPath:
                    plan = None
                if plan is not None and (self.device or current_device()) == "cpu":
                    return plan(*leaves)
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        if _DISABLED[0]:
            return self.fun(*args, **kwargs)
        leaves, key = self._signature(args, kwargs)
        device = self.device or current_device()
        key = (*key, device)
        if any(isinstance(x, Tracer) for x in leaves):
            lowered = self._lower(key, args, kwargs)
            outs = eval_graph(lowered.traced, *leaves)
            return tree_unflatten(lowered.out_tree, outs)
        plan = self._plans.get(key)
        if plan is None:
            lowered = self._lower(key, args, kwargs)
            fresh = not cache.is_loaded(lowered.source)
            plan = lowered.compile()
            if fresh:
                self.compile_count += 1
                if os.environ.get("FNAD_LOG_COMPILES"):
                    log.warning("fnad.jit: compiled %s (%s)", self.__name__, self._reason(key))
            self._plans[key] = plan
            self._last_key = key
        if device == "cuda":
            return plan(*leaves)
        if (
            not kwargs
            and not self._static_positions(len(args))
            and all(type(a) is np.ndarray or type(a) is float for a in args)
        ):
            floats = any(type(a) is float for a in args)
            self._fast[fast_key(args)] = converting(plan) if floats else plan
        elif not kwargs and not self._static_positions(len(args)):
            with contextlib.suppress(SlowPath):
                self._fast_trees[tree_key(args, [])] = plan
        arrays = [x if type(x) is np.ndarray else np.asarray(x) for x in leaves]
        return plan(*arrays)

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Trace and optimize for these arguments; ``.graph``, ``.source``, ``.compile()``."""
        _, key = self._signature(args, kwargs)
        return self._lower((*key, self.device or current_device()), args, kwargs)

    def _signature(self, args: tuple, kwargs: dict) -> tuple[list, Any]:
        """The flat dynamic leaves and the cache key of this call."""
        statics = []
        static = self._static_positions(len(args))
        for i in static:
            if i >= len(args):
                raise TypeError(
                    f"fnad.jit: static_argnums includes {i}, but "
                    f"{self.__name__} was called with {len(args)} arguments"
                )
            statics.append(_hashable(args[i], describe_arg(self.fun, i)))
        static_kw = tuple(
            sorted(
                (k, _hashable(v, f"argument '{k}'"))
                for k, v in kwargs.items()
                if k in self.static_argnames
            )
        )
        dyn = [a for i, a in enumerate(args) if i not in static]
        dyn_kw = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        leaves, tree = tree_flatten((dyn, dyn_kw))
        specs = tuple(self._leaf_spec(x, n) for n, x in enumerate(leaves))
        return leaves, (tree, specs, tuple(statics), static_kw)

    def _leaf_spec(self, x: Any, n: int) -> tuple:
        if isinstance(x, Tracer):
            return (x.shape, x.dtype)
        if _on_device(x):
            return _device_spec(x)
        try:
            arr = x if isinstance(x, np.ndarray) else np.asarray(x)
        except Exception:
            arr = None
        if arr is None or arr.dtype.kind not in _COMPILABLE:
            what = type(x).__name__ if arr is None else f"dtype {arr.dtype}"
            raise TypeError(
                f"fnad.jit: array argument {n} of {self.__name__} has {what}; jit compiles "
                "bool, integer, float and complex arrays. Pass other values as static "
                "arguments (static_argnums=...)."
            )
        return (arr.shape, arr.dtype)

    def _static_positions(self, nargs: int) -> tuple[int, ...]:
        named = tuple(i for i in self._named_positions if i < nargs)
        return tuple(sorted(set(self.static_argnums) | set(named)))

    def _lower(self, key: Any, args: tuple, kwargs: dict) -> Lowered:
        lowered = self._lowered.get(key)
        if lowered is not None:
            return lowered
        self.trace_count += 1
        tree, specs_key, _, _, device = key
        specs = [ArraySpec(s, d) for s, d in specs_key]
        out_tree_box: list[PyTreeDef] = []

        def run(*tracers: Any) -> list[Any]:
            dyn, dyn_kw = tree_unflatten(tree, tracers)
            it = iter(dyn)
            static = self._static_positions(len(args))
            full = [args[i] if i in static else next(it) for i in range(len(args))]
            static_kw = {k: v for k, v in kwargs.items() if k in self.static_argnames}
            out_leaves, out_tree = tree_flatten(self.fun(*full, **dyn_kw, **static_kw))
            out_tree_box.append(out_tree)
            return out_leaves

        traced = trace_graph(run, specs, f"jit({self.__name__})")
        graph = optimize(traced)
        if device == "cuda":
            from fnad.backends import cuda

            cuda.require()
            generated = cuda.generate(graph, _function_name(self.__name__))
        else:
            name = _function_name(self.__name__)
            gemm = cpu_blas.use_fnad_gemm()
            generated = generate(graph, name, self.fastmath, self.precise, self.parallel, gemm)
        lowered = Lowered(traced, graph, generated, out_tree_box[0], device, self.parallel)
        self._lowered[key] = lowered
        return lowered

    def _reason(self, key) -> str:
        old = self._last_key
        if old is None:
            return "first call"
        if old[-1] != key[-1]:
            return f"new device {key[-1]}"
        if old[0] != key[0]:
            return f"new argument structure {key[0]}"
        for n, ((s0, d0), (s1, d1)) in enumerate(zip(old[1], key[1])):
            if d0 != d1:
                return f"new dtype for array argument {n}: {d1} (was {d0})"
            if len(s0) != len(s1):
                return f"new rank for array argument {n}: {len(s1)} (was {len(s0)})"
            if s0 != s1:
                return f"new shape for array argument {n}: {s1} (was {s0})"
        return "new static argument values"

    def __repr__(self) -> str:
        return (
            f"<fnad.jit {self.__name__}: {self.trace_count} traces, {self.compile_count} compiles>"
        )

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __reduce__(self) -> str | tuple:
        # NOTE: pickles the configuration, not the compiled code: a new process traces
        # again and finds the machine code in the disk cache.
        config = (self.fun, self.static_argnums, self.static_argnames, self.fastmath)
        config += (self.device, self.precise, self.parallel)
        return global_name(self) or (Jitted, config)


def _on_device(x: Any) -> bool:
    """A GPU array (``__cuda_array_interface__``, or the CUDA simulator's arrays)."""
    return hasattr(x, "__cuda_array_interface__") or type(x).__name__ == "FakeCUDAArray"


def _device_spec(x: Any) -> tuple:
    """(shape, dtype) of a device array, from its interface (PyTorch dtypes are not NumPy's)."""
    interface = getattr(x, "__cuda_array_interface__", None)
    if interface is None:
        return (tuple(x.shape), np.dtype(x.dtype))
    return (tuple(interface["shape"]), np.dtype(interface["typestr"]))


def _positional_names(fun: Callable) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fun).parameters.values()]
    except (TypeError, ValueError):
        return []


def _function_name(name: str) -> str:
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return f"fnad_{clean}" if clean else "fnad_kernel"


def _hashable(value: Any, what: str) -> Any:
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"fnad.jit: static {what} must be hashable, got {type(value).__name__}; use a "
            "tuple instead of a list, or pass arrays as non-static arguments"
        ) from None
    return value


def jit(
    fun: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    fastmath: bool = False,
    device: str | None = None,
    precise: bool = False,
    parallel: bool | None = None,
):
    """Compile ``fun`` with Numba, per call signature. Usable as ``@jit`` or ``@jit(...)``.

    ``device="cuda"`` compiles CUDA kernels and returns device arrays (see docs/gpu.md);
    by default the device is ``fnad.default_device``'s (``"cpu"`` unless set).

    ``precise=True`` computes exp, log, sin and the other transcendental functions with libm
    (bit-for-bit NumPy's float64 results, one element at a time); the default uses fnad's
    vectorizable versions, within 2 ulp of NumPy and several times faster (docs/math.md).

    ``parallel`` runs the outer loops of fused elementwise regions (and their full sums) on
    Numba's threads (``NUMBA_NUM_THREADS``): None (the default) for call signatures whose
    largest such region has at least ``PARALLEL_MIN_ELEMENTS`` elements, True always, False
    never. On two free cores the threaded loops ran 1.7-2x faster from 131,072 elements
    (docs/performance.md); on cores busy with other processes a thread may wait for its
    turn, so pass False there (or set ``NUMBA_NUM_THREADS=1``). Sums then add per-thread
    partial results, so they may differ from the serial ones in the last bits.

    >>> import fnad, numpy as np
    >>> f = fnad.jit(fnad.grad(lambda x: np.sum(np.sin(x))))
    >>> f(np.zeros(3))
    array([1., 1., 1.])
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    if fun is None:
        return lambda f: Jitted(f, nums, names, fastmath, device, precise, parallel)
    return Jitted(fun, nums, names, fastmath, device, precise, parallel)
