"""Loop nests for fused regions: elementwise nodes as scalar statements, broadcasts as
index arithmetic, reductions as accumulators, materialized outputs stored in the loop."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from fnad.core.graph import Atom, Literal, Node, Var

if TYPE_CHECKING:
    from fnad.codegen.cpu import Emitter

REDUCE_STEP = {
    "reduce_sum": "{acc} += {v}",
    "reduce_prod": "{acc} *= {v}",
    "reduce_max": "{acc} = _maximum({acc}, {v})",
    "reduce_min": "{acc} = _minimum({acc}, {v})",
}
_ARG_NAMES = {1: ("x",), 2: ("x", "y"), 3: ("cond", "x", "y")}
_CMATH = re.compile(
    r"\bmath\.(exp|log|log10|sqrt|sin|cos|tan|asin|acos|atan|sinh|cosh|tanh|asinh|acosh|atanh)\("
)
#: Complex scalar code where cmath has no namesake; NumPy's own formulas, so results agree.
_COMPLEX_TEMPLATES = {
    "expm1": "complex(math.expm1({x}.real) * math.cos({x}.imag) - 2.0 * "
    "math.sin(0.5 * {x}.imag) ** 2, math.exp({x}.real) * math.sin({x}.imag))",
    "log1p": "complex(math.log(math.hypot({x}.real + 1.0, {x}.imag)), "
    "math.atan2({x}.imag, {x}.real + 1.0))",
    "log2": "(cmath.log({x}) * 1.4426950408889634)",
}
_TEMPLATES = {"maximum": "_maximum({x}, {y})", "minimum": "_minimum({x}, {y})"}
_EXP_LOG = ("exp", "expm1", "exp2", "log", "log2", "log10", "log1p")
_TRIG = ("sin", "cos", "tan")
_HYPERBOLIC = ("sinh", "cosh", "tanh")
VECTOR_MATH = {
    np.dtype(np.float64): {
        **dict.fromkeys(_EXP_LOG, "vmath"),
        **dict.fromkeys(_TRIG + _HYPERBOLIC, "vtrig"),
    },
    np.dtype(np.float32): {
        **dict.fromkeys(_EXP_LOG + _HYPERBOLIC, "vmath32"),
        **dict.fromkeys(_TRIG, "vtrig32"),
    },
}
"""Per dtype, the primitives whose scalar code is a vectorizable function of fnad.codegen
and its module (``vmath.exp_f64``, ``vmath32.exp_f32`` ...), used unless the user asks for
libm (``jit(..., precise=True)``)."""
_SUFFIX = {np.dtype(np.float64): "f64", np.dtype(np.float32): "f32"}


def vector_function(name: str, dtype: np.dtype) -> str | None:
    """``module.function`` computing primitive ``name`` in ``dtype`` vectorizably, if any."""
    module = VECTOR_MATH.get(np.dtype(dtype), {}).get(name)
    return None if module is None else f"{module}.{name}_{_SUFFIX[np.dtype(dtype)]}"


def _identity(name: str, dtype: np.dtype) -> np.ndarray:
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max if dtype.kind in "iu" else 1
    small = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min if dtype.kind in "iu" else 0
    value = {"reduce_sum": 0, "reduce_prod": 1, "reduce_max": small, "reduce_min": big}[name]
    return np.asarray(value).astype(dtype)


def _loop_shape(region) -> tuple[int, ...]:
    node = region.nodes[0]
    return node.inputs[0].spec.shape if node.prim.name in REDUCE_STEP else node.outs[0].spec.shape


def _sizes(region, shape: tuple[int, ...], em: Emitter) -> list[str]:
    """Run-time expressions for the loop bounds, read from the region's inputs."""
    found: dict[int, str] = {}
    for node in region.nodes:
        if node.prim.name == "broadcast_to":
            src = node.inputs[0]
            if isinstance(src, Var):
                lead = len(shape) - src.spec.ndim
                for j, d in enumerate(src.spec.shape):
                    if d == shape[lead + j]:
                        found.setdefault(lead + j, f"{em.name(src)}.shape[{j}]")
            continue
        for a in node.inputs:
            if isinstance(a, Var) and a in region.inputs and a.spec.shape == shape:
                for k in range(len(shape)):
                    found.setdefault(k, f"{em.name(a)}.shape[{k}]")
    return [found.get(k, em.dim(d)) for k, d in enumerate(shape)]


def _read(atom: Atom, local: dict, idx: list[str], em: Emitter) -> str:
    """A scalar expression for ``atom`` at the current loop position."""
    if isinstance(atom, Var) and atom in local:
        return local[atom]
    if isinstance(atom, Literal) and atom.value.size == 1:
        from fnad.codegen.cpu import scalar_literal

        return scalar_literal(atom.value.reshape(()))
    name = em.atom(atom)
    if atom.spec.ndim == 0:
        return name
    return f"{name}[{', '.join(idx)}]"


def _broadcast_read(node: Node, local: dict, idx: list[str], em: Emitter) -> str:
    src = node.inputs[0]
    if isinstance(src, Literal) and src.value.size == 1 or src.spec.ndim == 0:
        return _read(src, local, idx, em)
    out = node.outs[0].spec.shape
    lead = len(out) - src.spec.ndim
    sub = [
        "0" if d == 1 and out[lead + j] != 1 else idx[lead + j]
        for j, d in enumerate(src.spec.shape)
    ]
    return f"{em.atom(src)}[{', '.join(sub)}]"


def _vector_math(node: Node, em: Emitter) -> str | None:
    """The vectorizable function computing ``node``, when there is one and it is wanted."""
    function = None if em.precise else vector_function(node.prim.name, node.outs[0].spec.dtype)
    if function is not None:
        em.modules.add(function.split(".")[0])
    return function


def _scalar_expr(node: Node, args: list[str], em: Emitter) -> str:
    name = node.prim.name
    vector = _vector_math(node, em)
    if vector is not None:
        return f"{vector}({args[0]})"
    if name == "convert":
        dtype = node.params["dtype"]
        return f"({args[0]} != 0)" if dtype == np.bool_ else f"np.{dtype.name}({args[0]})"
    if name == "integer_pow":
        n = node.params["n"]
        if n in (2, 3):
            return "(" + " * ".join([args[0]] * n) + ")"
    template = _TEMPLATES.get(name, node.prim.scalar)
    if template is None:
        from fnad.codegen.cpu import CodegenError

        raise CodegenError(f"fnad.jit: primitive '{name}' has no scalar template")
    if any(a.spec.dtype.kind == "c" for a in node.inputs):
        # NOTE: Numba's math functions take real numbers; cmath's namesakes take complex.
        template = _COMPLEX_TEMPLATES.get(name) or _CMATH.sub(r"cmath.\1(", template)
    return template.format(**dict(zip(_ARG_NAMES[len(args)], args)), **node.params)


def emit_region(fused: Node, em: Emitter) -> None:
    region = fused.params["region"]
    trig = [n for n in region.nodes if n.prim.name in _TRIG and _vector_math(n, em)]
    if not trig:
        _emit_loops(region, em, None)
        return
    # NOTE: the vectorized reduction of sin/cos/tan is exact up to vtrig.HUGE only (float32:
    # vtrig32.HUGE). The loop ORs a flag (which vectorizes) and, if an argument was beyond,
    # the region runs again with libm: the common path never holds a call.
    flag = em.fresh("huge")
    # NOTE: a bool ORed per element vectorizes as a mask; an int flag would be widened to
    # int64 lanes and halve a float32 loop's throughput. Numba's parallel loops reduce with
    # += and *= only, so there each chunk ORs a bool of its own and adds it (_emit_loops).
    em.emit(f"{flag} = {0 if em.parallel and parallel_ok(region) else False}")
    _emit_loops(region, em, flag)
    em.emit(f"if {flag}:  # an argument of sin/cos/tan beyond vtrig.HUGE: use libm")
    em.indent, em.precise = em.indent + 1, True
    # NOTE: the second loop's temporaries get names of their own: Numba's SSA pass slows
    # down sharply when many names are assigned in both branches of a function.
    kept = set(map(id, region.outputs))
    temps = [v for n in region.nodes for v in n.outs if id(v) not in kept and id(v) in em.names]
    saved = {id(v): em.names[id(v)] for v in temps}
    em.names.update({k: name + "_p" for k, name in saved.items()})
    _emit_loops(region, em, None)
    em.names.update(saved)
    em.indent, em.precise = em.indent - 1, False


def parallel_ok(region) -> bool:
    """Whether the outer loop of ``region`` can be a ``prange``: every reduction either
    keeps axis 0 (each iteration owns its slots) or sums or multiplies into a scalar (Numba
    gives each thread a partial result and combines them)."""
    if not _loop_shape(region):
        return False
    for node in region.nodes:
        if node.prim.name in REDUCE_STEP and 0 in node.params["axes"]:
            scalar = not node.outs[0].spec.ndim
            if not (scalar and node.prim.name in ("reduce_sum", "reduce_prod")):
                return False
    return True


#: Elements per chunk of a loop whose reductions are split off (see ``_split``).
CHUNK = 512
_FOLD_COMBINE = {
    "reduce_sum": "{a} + {b}",
    "reduce_prod": "{a} * {b}",
    "reduce_max": "_maximum({a}, {b})",
    "reduce_min": "_minimum({a}, {b})",
}


def _split(region, depth: int) -> list[Node]:
    """Float reductions along the innermost axis of a region that also computes.

    Their accumulator is a chain through the innermost loop, which LLVM may not reorder,
    so the loop would stay scalar: the loop instead stores each chunk's values in a small
    buffer (it vectorizes) and a second loop folds the buffer with eight partial results.
    """
    computes = any(
        n.prim.name not in REDUCE_STEP and n.prim.name != "broadcast_to" for n in region.nodes
    )
    if not depth or not computes:
        return []
    return [
        n
        for n in region.nodes
        if n.prim.name in REDUCE_STEP
        and depth - 1 in n.params["axes"]
        and n.inputs[0].spec.dtype.kind in "fc"
    ]


def _fold_helper(name: str, em: Emitter) -> str:
    helper = "_fold_" + name.removeprefix("reduce_")
    if helper not in em.helpers:
        lanes = [f"s{k}" for k in range(8)]
        step = "; ".join(
            f"{v} = {_FOLD_COMBINE[name].format(a=v, b=f'buf[j + {k}]')}"
            for k, v in enumerate(lanes)
        )

        def pair(vs: list[str]) -> str:
            if len(vs) == 1:
                return vs[0]
            half = len(vs) // 2
            return _FOLD_COMBINE[name].format(a=pair(vs[:half]), b=pair(vs[half:]))

        tail = _FOLD_COMBINE[name].format(a="s0", b="buf[j]")
        em.helpers[helper] = f"""
@njit(cache=True, nogil=True)
def {helper}(buf, m, identity):
    {" = ".join(lanes)} = identity
    j = 0
    while j + 8 <= m:
        {step}
        j += 8
    while j < m:
        s0 = {tail}
        j += 1
    return {pair(lanes)}
"""
    return helper


def _emit_loops(region, em: Emitter, flag: str | None) -> None:
    from fnad.codegen.cpu import scalar_literal

    shape = _loop_shape(region)
    depth = len(shape)
    parallel = em.parallel and parallel_ok(region)
    if parallel:
        em.parallel_elements = max(em.parallel_elements, int(np.prod(shape)))
    idx = [f"i{k}" for k in range(depth)]
    outputs = set(region.outputs)
    split = _split(region, depth)
    buffers = {node.outs[0]: em.fresh("chunk") for node in split}
    for k, size in enumerate(_sizes(region, shape, em)):
        em.emit(f"n{k} = {size}")
    for node in region.nodes:
        out = node.outs[0]
        if node.prim.name in REDUCE_STEP:
            value = scalar_literal(_identity(node.prim.name, out.spec.dtype))
            em.emit(
                f"{em.name(out)} = np.full({em.shape(out.spec.shape)}, {value})"
                if out.spec.ndim
                else f"{em.name(out)} = {value}"
            )
        elif out in outputs and depth:
            em.modules.add("memory")
            empty = f"np.empty({em.shape(shape)}, np.{out.spec.dtype.name})"
            em.emit(f"{em.name(out)} = memory.advise({empty})")
    # NOTE: a parallel loop gives each chunk its own buffers; a serial one allocates once.
    alloc = [f"{buf} = np.empty({CHUNK}, np.{out.spec.dtype.name})" for out, buf in buffers.items()]
    for line in alloc if not parallel else []:
        em.emit(line)
    outer = depth - 1 if split else depth
    # the flag each element ORs into: a parallel loop's chunk (or row) has one of its own
    seen = em.fresh("seen") if flag and parallel else flag
    body = depth + 1
    if seen != flag and outer == depth == 1:
        block = em.fresh("b")
        em.emit(f"for {block} in prange((n0 + {CHUNK - 1}) // {CHUNK}):")
        em.emit(f"{seen} = False", 2)
        lo, hi = f"{block} * {CHUNK}", f"min({block} * {CHUNK} + {CHUNK}, n0)"
        em.emit(f"for i0 in range({_unsigned(lo)}, {_unsigned(hi)}):", 2)
        body, outer = 3, 0
    for k in range(outer):
        loop = "prange" if parallel and k == 0 else "range"
        em.emit(f"for i{k} in {loop}(n{k}):", k + 1)
        if k == 0 and seen != flag:
            em.emit(f"{seen} = False", 2)
    if split:
        last, start, count, j = depth - 1, em.fresh("c"), em.fresh("m"), em.fresh("j")
        if parallel and last == 0:
            # NOTE: Numba's prange takes a step of 1 only: it runs over chunk numbers.
            block = em.fresh("b")
            em.emit(f"for {block} in prange((n0 + {CHUNK - 1}) // {CHUNK}):", depth)
            em.emit(f"{start} = {block} * {CHUNK}", depth + 1)
        else:
            em.emit(f"for {start} in range(0, n{last}, {CHUNK}):", depth)
        for line in alloc if parallel else []:
            em.emit(line, depth + 1)
        if last == 0 and seen != flag:
            em.emit(f"{seen} = False", 2)
        em.emit(f"{count} = min({CHUNK}, n{last} - {start})", depth + 1)
        em.emit(f"for {j} in range({count}):", depth + 1)
        em.emit(f"i{last} = {_unsigned(f'{start} + {j}')}", depth + 2)
        body = depth + 2
    local: dict[Var, str] = {}
    guarded: set[str] = set()
    for node in region.nodes:
        out = node.outs[0]
        if out in buffers:
            em.emit(f"{buffers[out]}[{j}] = {_read(node.inputs[0], local, idx, em)}", body)
        else:
            _emit_body(node, local, idx, outputs, em, body)
        if flag and node.prim.name in _TRIG:
            arg = _read(node.inputs[0], local, idx, em)
            if arg not in guarded:
                guarded.add(arg)
                module = vector_function(node.prim.name, out.spec.dtype).split(".")[0]
                em.emit(f"{seen} |= {module}.trig_huge({arg})", body)
    for out, buf in buffers.items():
        node = next(n for n in split if n.outs[0] is out)
        kept = [i for k, i in enumerate(idx) if k not in node.params["axes"]]
        acc = em.name(out) + (f"[{', '.join(kept)}]" if out.spec.ndim else "")
        ident = scalar_literal(_identity(node.prim.name, out.spec.dtype))
        fold = f"{_fold_helper(node.prim.name, em)}({buf}, {count}, {ident})"
        em.emit(REDUCE_STEP[node.prim.name].format(acc=acc, v=fold), depth + 1)
    if seen != flag:
        em.emit(f"{flag} += {seen}", 2)


def _unsigned(index: str) -> str:
    """``index`` as an unsigned integer, for a loop index that does not start at 0.

    NOTE: Numba wraps a signed index that may be negative (``i < 0 ? i + n : i``); LLVM
    proves ``i >= 0`` for ``range(n)`` but not for ``range(lo, hi)`` or ``lo + j``, and the
    select turns every load and store of the loop into a gather or scatter (2.4x slower
    for the W2 gradient). An unsigned index is never wrapped.
    """
    return f"np.uint64({index})"


def _emit_body(node: Node, local, idx, outputs, em: Emitter, depth: int) -> None:
    out = node.outs[0]
    name = node.prim.name
    if name in REDUCE_STEP:
        axes = node.params["axes"]
        kept = [i for k, i in enumerate(idx) if k not in axes]
        acc = em.name(out) + (f"[{', '.join(kept)}]" if out.spec.ndim else "")
        value = _read(node.inputs[0], local, idx, em)
        em.emit(REDUCE_STEP[name].format(acc=acc, v=value), depth)
        return
    if name == "broadcast_to":
        expr = _broadcast_read(node, local, idx, em)
    elif name == "iota":
        lead = len(idx) - out.spec.ndim
        expr = f"np.{out.spec.dtype.name}({idx[lead + node.params['axis']]})"
    else:
        expr = _scalar_expr(node, [_read(a, local, idx, em) for a in node.inputs], em)
        if "cmath." in expr:
            em.helpers["cmath"] = "import cmath"
    stored = out in outputs and idx
    target = em.name(out) + ("_" if stored else "")
    em.emit(f"{target} = {expr}", depth)
    local[out] = target
    if stored:
        em.emit(f"{em.name(out)}[{', '.join(idx)}] = {target}", depth)
