"""``fnad.export``: write a function as a standalone Python module that needs only NumPy
and Numba.

The module holds the source ``jit`` generates for the example arguments' signature (the
optimized graph as one Numba function and the helpers it calls), the graph's large
constants embedded as base64 text (one self-contained file, nothing beside it to lose),
and a public function of the same name that checks its arguments against the exported
shapes and dtypes, flattens tuples, lists and dicts the way fnad does, and rebuilds the
output structure. ``fnad.export(fnad.grad(f), ...)`` exports the gradient. Linear algebra
and FFTs call kernels that generated code imports from ``fnad.backends.kernels``: the
exported module holds a copy of their source instead.
"""

from __future__ import annotations

import ast
import base64
import keyword
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import fnad
from fnad.backends import cpu_blas, kernels
from fnad.jit import Jitted, jit
from fnad.tree import tree_flatten, tree_unflatten

_LINE = 96
#: Module-level names of an exported module that the public function must not shadow.
_TAKEN = {"np", "math", "base64", "njit", "args", "outs"}

_RUNTIME = '''
def _const(dtype, shape, data):
    raw = base64.b64decode("".join(data))
    return np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)


def _leaves(tree):
    """Array leaves in fnad's order: tuples and lists in order, dicts by sorted key."""
    if tree is None:
        return []
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    return [tree]


def _arrays(args):
    leaves = _leaves(args)
    if len(leaves) != len(_IN_SPECS):
        raise TypeError(
            f"{_NAME}: expected {len(_IN_SPECS)} arrays in the arguments, got {len(leaves)}"
        )
    arrays = []
    for k, (leaf, (shape, dtype)) in enumerate(zip(leaves, _IN_SPECS)):
        array = np.asarray(leaf)
        if array.shape != shape or array.dtype != np.dtype(dtype):
            raise TypeError(
                f"{_NAME}: array {k} must be {dtype}{list(shape)} as exported, got "
                f"{array.dtype}{list(array.shape)}; export again for other shapes or dtypes"
            )
        arrays.append(array)
    return arrays
'''


def export(f: Callable, *example_args: Any, path: str | Path = "model.py", name: str = "") -> Path:
    """Write a module computing ``f`` for arguments shaped like ``example_args``.

    The module's function (named after ``f``, or ``name``) takes the same arguments and
    returns the same structure of arrays; it depends on NumPy and Numba only.

    >>> import fnad, numpy as np, tempfile, os
    >>> path = fnad.export(np.tanh, np.zeros(3), path=os.path.join(tempfile.mkdtemp(), "m.py"))
    >>> "def tanh(*args)" in path.read_text()
    True
    """
    if isinstance(f, Jitted):
        if f.static_argnums or f.static_argnames:
            jitted = f
        else:
            # NOTE: libm math keeps the module free of fnad's vectorized-math helpers.
            jitted = jit(f.fun, fastmath=f.fastmath, precise=True)
    else:
        jitted = jit(f, precise=True)
    if jitted.static_argnums or jitted.static_argnames:
        raise TypeError(
            "fnad.export: export a function without static arguments; fix their values "
            "first, e.g. fnad.export(lambda x: f(x, 3), x)"
        )
    with cpu_blas.forced("blas"):
        # NOTE: fnad's GEMM is reached through an address of this process; np.dot is not.
        lowered = jitted.lower(*example_args)
    public = _public_name(name or getattr(f, "__name__", ""), "name" if name else "f.__name__")
    leaves, _ = tree_flatten(list(example_args))
    found = _module_leaves(list(example_args))
    if len(leaves) != len(found) or any(a is not b for a, b in zip(leaves, found)):
        raise TypeError(
            "fnad.export: arguments must be arrays in tuples, lists and dicts (other "
            "containers cannot be rebuilt without fnad)"
        )
    source = _module(lowered, public, getattr(f, "__qualname__", public))
    path = Path(path)
    path.write_text(source, encoding="utf-8")
    return path


def _module(lowered: Any, public: str, origin: str) -> str:
    generated = lowered.generated
    header, _, kernel = generated.source.partition("\n")
    assert header.startswith('"""'), "generated source starts with its docstring"
    # fnad's huge-page hint for large results is a pure optimization: dropped here.
    kernel = kernel.replace("from fnad.codegen import memory\n", "")
    kernel = kernel.replace("memory.advise(", "(")
    kernel = _inline_kernels(kernel)
    assert "from fnad" not in kernel, "the exported kernel must not import fnad"
    in_specs = tuple((s.shape, s.dtype.name) for s in lowered.traced.in_specs)
    scalar_outs = tuple(
        (i, s.dtype.name) for i, s in enumerate(lowered.graph.out_specs) if not s.shape
    )
    signature = "\n".join(f"    {k}: {dt}{list(shape)}" for k, (shape, dt) in enumerate(in_specs))
    doc = (
        f'"""{public}: exported by fnad {fnad.__version__} from {origin}.\n\n'
        "Depends on NumPy and Numba only. Call it with arrays of these dtypes and shapes\n"
        f"(in the same tuples, lists and dicts as when it was exported):\n\n{signature}\n"
        '"""\n\nimport base64\n'
    )
    outs = _output_expr(lowered.out_tree)
    entry = [
        "",
        "",
        f"_NAME = {public!r}",
        f"_IN_SPECS = {in_specs!r}",
        f"_SCALAR_OUTS = {scalar_outs!r}",
        _RUNTIME,
        f"_CONSTS = ({''.join(_const_expr(c) + ',' for c in generated.consts)})",
        "",
        "",
        f"def {public}(*args):",
        f'    """{public}(*args) as exported; see the module docstring."""',
        f"    outs = list({generated.function}(*_arrays(args), *_CONSTS))",
        "    for i, dtype in _SCALAR_OUTS:",
        "        outs[i] = np.asarray(outs[i], dtype)",
        f"    return {outs}",
    ]
    return doc + kernel + "\n".join(entry) + "\n"


def _inline_kernels(kernel: str) -> str:
    """``kernel`` with its imports from ``fnad.backends.kernels`` replaced by the source of
    that module's functions, put where the first import was."""
    prefix = f"from {kernels.__name__} import "
    lines = kernel.splitlines(keepends=True)
    imports = [k for k, line in enumerate(lines) if line.startswith(prefix)]
    if not imports:
        return kernel
    text = Path(kernels.__file__).read_text(encoding="utf-8")
    first = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef))
    start = min([first.lineno, *(d.lineno for d in first.decorator_list)])
    # NOTE: the kernels module imports only numpy as np and numba's njit, as generated
    # modules do, so its functions run unchanged below the module's own imports.
    body = "".join(text.splitlines(keepends=True)[start - 1 :])
    kept = [line for k, line in enumerate(lines) if k not in imports]
    kept.insert(imports[0], f"# From {kernels.__name__}:\n\n{body}\n")
    return "".join(kept)


def _const_expr(value: np.ndarray) -> str:
    raw = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
    text = base64.b64encode(raw).decode("ascii")
    chunks = [text[i : i + _LINE] for i in range(0, len(text), _LINE)] or [""]
    data = "".join(f"\n        {c!r}," for c in chunks)
    return f"\n    _const({value.dtype.name!r}, {value.shape!r}, ({data}\n    ))"


class _Out:
    """A placeholder leaf: prints as the expression reading output ``k``."""

    def __init__(self, k: int) -> None:
        self.k = k


def _output_expr(out_tree: Any) -> str:
    template = tree_unflatten(out_tree, [_Out(k) for k in range(out_tree.num_leaves)])
    return _render(template)


def _render(node: Any) -> str:
    if isinstance(node, _Out):
        return f"outs[{node.k}]"
    if node is None:
        return "None"
    if type(node) in (tuple, list):
        inner = ", ".join(_render(v) for v in node)
        if type(node) is list:
            return f"[{inner}]"
        return f"({inner},)" if len(node) == 1 else f"({inner})"
    if type(node) is dict and all(isinstance(k, (str, int)) for k in node):
        return "{" + ", ".join(f"{k!r}: {_render(node[k])}" for k in sorted(node)) + "}"
    raise TypeError(
        f"fnad.export: the function returns a {type(node).__name__}; exported modules "
        "rebuild tuples, lists and dicts with str or int keys only"
    )


def _module_leaves(tree: Any) -> list[Any]:
    """The leaves the exported module will find (it knows tuples, lists and dicts)."""
    if tree is None:
        return []
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _module_leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _module_leaves(tree[key])]
    return [tree]


def _public_name(name: str, what: str) -> str:
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_")
    taken = clean in _TAKEN or clean.startswith("fnad_") or keyword.iskeyword(clean)
    if not clean or clean[0].isdigit() or taken:
        if what == "name":
            raise ValueError(f"fnad.export: name must be a Python identifier, got {name!r}")
        return "model"
    return clean
