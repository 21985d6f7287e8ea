"""CPU code generation: one Numba-compilable Python function per graph.

Fused regions become explicit loop nests over the primitives' scalar templates, with no
intermediate arrays; reductions in a region accumulate inside the same loop. Contractions
go to BLAS through ``np.dot``. Sizes are read from the arrays at run time, never written
into the source: a dimension is spelled ``x.shape[k]`` for the first array ``x`` known to
have it. Every statement carries a ``# <node>`` comment. This module only writes strings.
"""

from __future__ import annotations

import keyword
import logging
from dataclasses import dataclass

import numpy as np

from fnad.codegen.control import CONTROL
from fnad.codegen.einsum import emit_einsum
from fnad.codegen.indexing import emit_gather, emit_index_add
from fnad.codegen.linalg import STACKED
from fnad.codegen.region import emit_region, vector_function
from fnad.codegen.scan import emit_argsort, emit_cumsum
from fnad.core.graph import Atom, Graph, Literal, Node, Var, _letters, format_literal, subgraphs
from fnad.core.spec import ArraySpec

log = logging.getLogger("fnad")

#: The most vectorizable-math calls (exp, sin...) one generated function inlines. Each is
#: inlined into its loop so that the loop vectorizes; Numba's and LLVM's compile time grows
#: faster than linearly with their number (200 in one function: about 15 s). Beyond this,
#: the function calls libm, as ``jit(precise=True)`` does, and says so in a warning.
VECTOR_MATH_BUDGET = 128

_RESERVED = set(keyword.kwlist) | {"np", "math", "nb", "njit", "range", "min", "max", "abs"}
_RESERVED |= {"prange"}
_RESERVED |= {"vmath", "vmath32", "vtrig", "vtrig32", "memory", "gemm"}

HELPERS = """
@njit(cache=True, inline="always")
def _sign(x):
    return (x > 0) - (x < 0) if x == x else x


@njit(cache=True, inline="always")
def _rint(x):
    return np.rint(x)


@njit(cache=True, inline="always")
def _maximum(x, y):
    return x if (x >= y or x != x) else y


@njit(cache=True, inline="always")
def _minimum(x, y):
    return x if (x <= y or x != x) else y


@njit(cache=True, inline="always")
def _logaddexp(x, y):
    hi = _maximum(x, y)
    if hi == -np.inf:
        return hi
    return hi + math.log1p(math.exp(-abs(x - y)))
"""


class CodegenError(NotImplementedError):
    """The graph uses something the CPU code generator cannot express."""


@dataclass(frozen=True)
class Generated:
    """Source of a module defining ``function``; ``consts`` are passed after the inputs.

    ``parallel_function``, when the module has one, computes the same with the outer loops
    of its fused regions run by Numba's threads; ``parallel_elements`` is the size of the
    largest such region for the signature lowered (never written into the source)."""

    source: str
    function: str
    consts: tuple[np.ndarray, ...]
    parallel_function: str | None = None
    parallel_elements: int = 0


class Emitter:
    """Names, constants, known dimensions and the lines of one generated function."""

    def __init__(self, precise: bool = False, parallel: bool = False, gemm: bool = False) -> None:
        self.lines: list[str] = []
        #: Float matrix products through fnad.codegen.gemm rather than ``np.dot``.
        self.gemm = gemm
        #: libm for every function (``jit(precise=True)``) rather than fnad.codegen.vmath.
        self.precise = precise
        #: Outer loops of fused regions as ``prange`` (the function compiled parallel).
        self.parallel = parallel
        #: Elements of the largest region given a ``prange`` (0: none).
        self.parallel_elements = 0
        #: The fnad.codegen modules of vectorizable functions the source uses.
        self.modules: set[str] = set()
        self.names: dict[int, str] = {}
        self.consts: list[np.ndarray] = []
        self.const_names: list[str] = []
        self.dims: dict[int, str] = {}
        self.counter = 0
        #: Extra indentation for statements inside loops and branches of control flow.
        self.indent = 0
        #: Extra module-level helpers this function calls, by name (emitted sorted).
        self.helpers: dict[str, str] = {}
        #: Names of the constants made by ``process_const``, by key.
        self.keyed: dict[str, str] = {}

    def name(self, var: Var) -> str:
        got = self.names.get(id(var))
        if got is None:
            got = _letters(len(self.names))
            got = got + "_" if got in _RESERVED else got
            self.names[id(var)] = got
        return got

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * (depth + self.indent) + line)

    def atom(self, atom: Atom) -> str:
        """An expression for a whole value: a name, a scalar literal or a constant argument."""
        if isinstance(atom, Var):
            return self.name(atom)
        if atom.value.ndim == 0:
            return scalar_literal(atom.value)
        name = f"k{len(self.consts)}"
        self.consts.append(np.ascontiguousarray(atom.value))
        self.const_names.append(name)
        self.learn_dims(name, atom.spec)
        return name

    def process_const(self, key: str, make) -> str:
        """The name of a constant argument made by ``make()`` when lowering, once per
        ``key``: a value of this process (an address) that the source must not hold."""
        name = self.keyed.get(key)
        if name is None:
            name = self.keyed[key] = f"k{len(self.consts)}"
            self.consts.append(make())
            self.const_names.append(name)
        return name

    def learn_dims(self, name: str, spec: ArraySpec) -> None:
        for k, d in enumerate(spec.shape):
            self.dims.setdefault(d, f"{name}.shape[{k}]")

    def dim(self, value: int) -> str:
        """A run-time expression for a dimension of this size."""
        return self.dims.get(value, str(value)) if value not in (0, 1) else str(value)

    def shape(self, shape: tuple[int, ...]) -> str:
        return tuple_text([self.dim(d) for d in shape])


def tuple_text(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def scalar_literal(value: np.ndarray) -> str:
    """Source text for a scalar of this dtype (Numba types untyped literals as 64-bit)."""
    value = np.asarray(value)
    item = value.item()
    if value.dtype == np.bool_:
        return repr(bool(item))
    if value.dtype.kind == "f" and not np.isfinite(item):
        text = "np.nan" if item != item else ("np.inf" if item > 0 else "-np.inf")
    else:
        text = repr(item)
    return text if value.dtype in (np.float64, np.int64) else f"np.{value.dtype.name}({text})"


def node_comment(node: Node, em: Emitter) -> str:
    outs = " ".join(em.name(v) for v in node.outs)
    # NOTE: shapes stay out of the source, so that a new size reuses compiled code.
    # Sub-graphs are written out as code below the comment, not inside it.
    shown = [
        k
        for k in sorted(node.params)
        if k not in ("region", "shape") and not subgraphs(node.params[k])
    ]
    params = ", ".join(f"{k}={node.params[k]}" for k in shown)
    head = node.prim.name + (f"[{params}]" if params else "")
    args = " ".join(
        em.name(a) if isinstance(a, Var) else format_literal(a.value) for a in node.inputs
    )
    return f"# {outs} = {head} {args}".rstrip()


def generate(
    graph: Graph,
    function: str = "kernel",
    fastmath: bool = False,
    precise: bool = False,
    parallel: bool | None = False,
    gemm: bool = False,
) -> Generated:
    """Python source of a module whose ``function`` computes ``graph`` (and, unless
    ``parallel`` is False and where a fused region allows it, ``function + "_parallel"``).
    ``gemm`` writes float matrix products as calls to fnad.codegen.gemm."""
    calls = vector_math_calls(graph)
    if not precise and calls > VECTOR_MATH_BUDGET:
        log.warning(
            "fnad.jit: %s holds %d vectorizable math calls (more than VECTOR_MATH_BUDGET=%d); "
            "it calls libm instead, to keep compiling fast: its loops will not vectorize",
            function,
            calls,
            VECTOR_MATH_BUDGET,
        )
        precise = True
    em = _body(graph, Emitter(precise, gemm=gemm))
    # NOTE: error_model="numpy": a division by zero gives inf or nan as in NumPy, not a
    # raised ZeroDivisionError (Python's rule, Numba's default).
    flags = f"cache=True, nogil=True, fastmath={fastmath}, error_model='numpy'"
    functions = _function(em, graph, flags, function)
    par = _body(graph, Emitter(precise, True, gemm)) if parallel is not False else None
    if par is not None and par.parallel_elements:
        functions += _function(par, graph, flags + ", parallel=True", f"{function}_parallel")
    else:
        par = None
    helpers = [em.helpers[name] for name in sorted(em.helpers)]
    header = [
        '"""Generated by fnad from a traced graph. Do not edit."""',
        "",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit" + (", prange" if par else ""),
        *_math_imports(em.modules),
        HELPERS + declared_helpers(graph),
        *helpers,
    ]
    return Generated(
        "\n".join(header + functions) + "\n",
        function,
        tuple(em.consts),
        par and f"{function}_parallel",
        par.parallel_elements if par else 0,
    )


def vector_math_calls(graph: Graph) -> int:
    """How many calls to fnad's vectorizable math ``graph`` (its fused regions and other
    sub-graphs included) would inline."""
    count = 0
    for node in graph.nodes:
        count += vector_function(node.prim.name, node.outs[0].spec.dtype) is not None
        for key in sorted(node.params):
            count += sum(vector_math_calls(sub) for sub in subgraphs(node.params[key]))
    return count


def _body(graph: Graph, em: Emitter) -> Emitter:
    """``em`` holding the statements computing ``graph`` from its inputs."""
    for v in graph.inputs:
        if v.spec.ndim:
            em.learn_dims(em.name(v), v.spec)
    for v in graph.inputs:
        if not v.spec.ndim:
            em.emit(f"{em.name(v)} = {em.name(v)}[()]  # 0-d input read as a scalar")
    for node in graph.nodes:
        emit_node(node, em)
    outs = []
    for a in graph.outputs:
        expr = em.atom(a)
        if isinstance(a, Literal) or (a in graph.inputs and a.spec.ndim):
            expr = f"np.copy({expr})" if a.spec.ndim else expr
        outs.append(expr)
    em.emit(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    return em


def _function(em: Emitter, graph: Graph, flags: str, function: str) -> list[str]:
    params = [em.name(v) for v in graph.inputs]
    signature = ", ".join(params + em.const_names)
    return ["", f"@njit({flags})", f"def {function}({signature}):", *em.lines]


def _math_imports(modules: set[str]) -> list[str]:
    # NOTE: the cache key includes these modules' source (backends/cache.py), because
    # Numba's cache checks only the generated file and would keep stale inlined code.
    return [f"from fnad.codegen import {module}" for module in sorted(modules)]


def declared_helpers(graph: Graph) -> str:
    """Source of the scalar helpers the graph's primitives declare in ``tags["helpers"]``
    (fused regions included), in name order so the module is byte-identical across runs."""
    found = _helpers_of(graph)
    return "".join(found[k] for k in sorted(found))


def _helpers_of(graph: Graph) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in graph.nodes:
        found.update(node.prim.tags.get("helpers", {}))
        for value in node.params.values():  # fused regions and control-flow bodies
            for sub in subgraphs(value):
                found.update(_helpers_of(sub))
    return found


def emit_node(node: Node, em: Emitter) -> None:
    name = node.prim.name
    em.emit(node_comment(node, em))
    if name == "fused":
        emit_region(node, em)
    elif name == "einsum":
        emit_einsum(node, em)
    elif name in _SIMPLE:
        _SIMPLE[name](node, em)
    elif name in CONTROL:
        CONTROL[name](node, em)
    elif name in STACKED:
        STACKED[name](node, em)
    else:
        raise CodegenError(
            f"fnad.jit: the CPU backend cannot compile primitive '{name}' yet; run it "
            "without jit (or under fnad.disable_jit()) meanwhile"
        )
    for v in node.outs:
        if v.spec.ndim:
            em.learn_dims(em.name(v), v.spec)


def _assign(node: Node, em: Emitter, expr: str) -> None:
    em.emit(f"{em.name(node.outs[0])} = {expr}")


def _reshape(node: Node, em: Emitter) -> None:
    (x,) = node.inputs
    out = node.outs[0].spec
    src = em.atom(x)
    if x.spec.ndim == 0:
        _assign(node, em, f"np.full({em.shape(out.shape)}, {src})")
    elif out.ndim == 0:
        _assign(node, em, f"np.ascontiguousarray({src}).ravel()[0]")
    else:
        shape = reshaped(em, src, out.shape)
        _assign(node, em, f"np.ascontiguousarray({src}).reshape({shape})")


def reshaped(em: Emitter, src: str, shape: tuple[int, ...]) -> str:
    """A run-time expression for ``shape``, the new shape of array ``src``. A size no known
    array has (``x.reshape(n * m, 3)``) is what ``src.size`` leaves; when several are new,
    the largest is taken as the one that grows with the input, the others as constants."""
    unknown = [k for k, d in enumerate(shape) if d not in (0, 1) and d not in em.dims]
    if not unknown or 0 in shape:
        return em.shape(shape)
    # NOTE: max keeps the first of equal sizes; ties stay deterministic.
    derived = max(unknown, key=lambda k: shape[k])
    dims = [em.dim(d) for d in shape]
    dims[derived] = f"{src}.size" + "".join(
        f" // {d}" for k, d in enumerate(dims) if k != derived and d != "1"
    )
    return tuple_text(dims)


def _transpose(node: Node, em: Emitter) -> None:
    x, perm = em.atom(node.inputs[0]), node.params["perm"]
    # NOTE: ``.T`` keeps a Fortran-contiguous type, which np.dot hands to BLAS as is.
    _assign(node, em, f"{x}.T" if perm == (1, 0) else f"np.transpose({x}, {perm})")


def _concatenate(node: Node, em: Emitter) -> None:
    parts = ", ".join(em.atom(a) for a in node.inputs)
    _assign(node, em, f"np.concatenate(({parts},), axis={node.params['axis']})")


def _arg(node: Node, em: Emitter) -> None:
    fn = "np.argmax" if node.prim.name == "argmax" else "np.argmin"
    _assign(node, em, f"{fn}({em.atom(node.inputs[0])}, axis={node.params['axis']})")


_SIMPLE = {
    "reshape": _reshape,
    "transpose": _transpose,
    "concatenate": _concatenate,
    "gather": emit_gather,
    "index_add": emit_index_add,
    "argmax": _arg,
    "argmin": _arg,
    "cumsum": emit_cumsum,
    "argsort": emit_argsort,
}
