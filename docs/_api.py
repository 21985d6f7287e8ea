"""Generate docs/api.md, the API reference, from fnad's public names and docstrings.

Each public name gets its call signature (without type hints, for reading) and the first
line of its docstring. ``tests/test_api_docs.py`` regenerates the text and compares it with
the committed page, so the reference stays in sync with the code. Regenerate with:

    python docs/_api.py
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import numpy as np

PAGE = Path(__file__).resolve().parent / "api.md"
COMMAND = "python docs/_api.py"
_WIDTH = 92

_INTRO = """\
# API reference

Every public name of `fnad` (its `__all__`) and of its submodules `fnad.nn`, `fnad.optim`,
`fnad.testing`, `fnad.tree`, `fnad.viz`, `fnad.cuda` and `fnad.numpy`, with its signature
(type hints left out) and the first paragraph of its docstring. `help(name)` shows the full
docstring, often with an example. The guides in this folder show the names at work; start with
[getting-started.md](getting-started.md).

This page is generated from the code by `{command}`; a test
(`tests/test_api_docs.py`) fails when it is out of date.

```python
import fnad

assert all(hasattr(fnad, name) for name in fnad.__all__)
assert callable(fnad.grad) and callable(fnad.nn.Sequential)
```
"""

# NOTE: submodules documented in their own sections, in this order.
_SUBMODULES = ("nn", "optim", "testing", "tree", "viz", "cuda")


def _signature(obj: Any) -> str:
    """``(a, b=1, *, c=2)``: the signature without annotations, or "" when there is none."""
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return ""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    params = [
        p.replace(annotation=inspect.Parameter.empty)
        for p in sig.parameters.values()
        if not p.name.startswith("_")  # private keyword arguments fnad passes itself
    ]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _summary(name: str, obj: Any) -> str:
    """The first line of ``obj``'s own docstring (not one inherited from a builtin type)."""
    if not isinstance(obj, type | types.ModuleType) and not callable(obj):
        return f"a `{type(obj).__name__}`"
    doc = obj.__doc__ if isinstance(obj, type) else inspect.getdoc(obj)
    if not doc or (isinstance(obj, type) and doc.startswith(f"{obj.__name__}(")):
        return ""  # no docstring, or the one a dataclass makes up
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, type):
        return "exception" if issubclass(obj, BaseException) else "class"
    return ""


def _entry(prefix: str, name: str, obj: Any) -> str:
    kind = _kind(obj)
    head = f"`{prefix}{name}{_signature(obj) if kind != 'module' else ''}`"
    if kind:
        head += f" ({kind})"
    summary = _summary(name, obj)
    return f"* {head}: {summary}" if summary else f"* {head}"


def _public(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and callable(v)
            and getattr(v, "__module__", "").startswith(module.__name__)
        ]
    return sorted(names, key=str.lower)


def _section(module: types.ModuleType, names: list[str]) -> list[str]:
    prefix = f"{module.__name__}."
    lines = [f"## `{module.__name__}`", "", _summary(module.__name__, module), ""]
    lines += [_entry(prefix, n, getattr(module, n)) for n in names]
    return [*lines, ""]


def _numpy_section(fnp: types.ModuleType) -> list[str]:
    """``fnad.numpy``: NumPy's names listed compactly, fnad's own with signatures."""
    names = sorted(n for n in dir(fnp) if not n.startswith("_"))
    mirrored = [n for n in names if hasattr(np, n) and not isinstance(getattr(fnp, n), type)]
    functions = [n for n in mirrored if callable(getattr(fnp, n))]
    constants = [n for n in mirrored if isinstance(getattr(fnp, n), float)]
    own = [
        n
        for n in names
        if not hasattr(np, n)
        and callable(getattr(fnp, n))
        and getattr(getattr(fnp, n), "__module__", "").startswith("fnad")
    ]
    lines = [f"## `{fnp.__name__}`", "", _summary(fnp.__name__, fnp), ""]
    lines += ["Functions with NumPy's names and semantics (`import fnad.numpy as fnp`):", ""]
    lines += [*_wrap(functions), ""]
    lines += ["Constants:", "", *_wrap(constants), ""]
    lines += ["fnad's own:", ""]
    lines += [_entry("fnad.numpy.", n, getattr(fnp, n)) for n in own]
    return [*lines, ""]


def _wrap(names: list[str]) -> list[str]:
    return textwrap.wrap(", ".join(f"`{n}`" for n in names), width=_WIDTH, break_on_hyphens=False)


def render() -> str:
    """The text of docs/api.md for the fnad that is imported."""
    import fnad

    lines = [_INTRO.format(command=COMMAND)]
    lines += _section(fnad, sorted(fnad.__all__, key=str.lower))
    for sub in _SUBMODULES:
        module = getattr(fnad, sub)
        lines += _section(module, _public(module))
    lines += _numpy_section(fnad.numpy)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PAGE.parent.parent))  # document this checkout's fnad
    sys.exit(main())
