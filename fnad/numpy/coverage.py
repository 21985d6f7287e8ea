"""The coverage table of docs/numpy-coverage.md, generated from the code.

Every NumPy function and ufunc that ``fnad.numpy`` routes, and every function of
``fnad.scipy.special`` and ``fnad.scipy.stats``, is traced on a sample input; its modes
are those that every primitive in the resulting graph supports (a VJP rule for grad, a
JVP rule for jvp, a batching rule for vmap, a code path in the CPU compiler for jit).
``python -m fnad.numpy.coverage`` prints the table; a test checks the page is in sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnad.core.graph import Graph
from fnad.core.primitive import Primitive
from fnad.make_graph import make_graph

X = np.linspace(0.2, 0.8, 12).reshape(3, 4)
V = np.linspace(0.2, 0.8, 4)
I = np.array([[0, 2, 1, 3]] * 3)


def _square_samples() -> dict[str, Callable[[Any], Any]]:
    """Linear algebra on a symmetric positive definite matrix made from ``X``."""

    def spd(x: Any) -> Any:
        return x[:, :3] @ x[:, :3].T + np.eye(3)

    return {
        "cholesky": lambda x: np.linalg.cholesky(spd(x)),
        "det": lambda x: np.linalg.det(spd(x)),
        "slogdet": lambda x: np.linalg.slogdet(spd(x))[1],
        "inv": lambda x: np.linalg.inv(spd(x)),
        "solve": lambda x: np.linalg.solve(spd(x), x[:, 0]),
        "eigh": lambda x: np.linalg.eigh(spd(x))[1],
        "eigvalsh": lambda x: np.linalg.eigvalsh(spd(x)),
        "matrix_power": lambda x: np.linalg.matrix_power(spd(x), -2),
    }


def _modulus_of(transform: Callable) -> Callable[[Any], Any]:
    """A real-valued sample of a complex transform (grad needs a real output)."""
    return lambda x: np.abs(transform(x))


#: Sample calls for functions that take more than one or two arrays like ``X``.
SAMPLES: dict[str, Callable[[Any], Any]] = {
    "take_along_axis": lambda x: np.take_along_axis(x, I, 1),
    "pad": lambda x: np.pad(x, 1),
    "split": lambda x: np.split(x, 2, 1)[0],
    "array_split": lambda x: np.array_split(x, 3, 1)[0],
    "repeat": lambda x: np.repeat(x, 2),
    "tile": lambda x: np.tile(x, 2),
    "roll": lambda x: np.roll(x, 1),
    "broadcast_to": lambda x: np.broadcast_to(x, (2, 3, 4)),
    "reshape": lambda x: np.reshape(x, (4, 3)),
    "full_like": lambda x: np.full_like(x, 2.0) * x,
    "moveaxis": lambda x: np.moveaxis(x, 0, 1),
    "swapaxes": lambda x: np.swapaxes(x, 0, 1),
    "expand_dims": lambda x: np.expand_dims(x, 0),
    "where": lambda x: np.where(x > 0.5, x, 0.0),
    "clip": lambda x: np.clip(x, 0.3, 0.6),
    "einsum": lambda x: np.einsum("ij,kj->ik", x, x),
    "concatenate": lambda x: np.concatenate([x, x]),
    "stack": lambda x: np.stack([x, x]),
    "hstack": lambda x: np.hstack([x, x]),
    "vstack": lambda x: np.vstack([x, x]),
    "meshgrid": lambda x: np.meshgrid(x[0], x[1])[0],
    "broadcast_arrays": lambda x: np.broadcast_arrays(x, x[0])[1],
    "add_at": lambda x: __import__("fnad.numpy").numpy.add_at(x, (0, 1), 1.0),
    "setitem": lambda x: __import__("fnad.numpy").numpy.setitem(x, (0, 1), 1.0),
    "polygamma": lambda x: __import__("fnad.scipy.special").scipy.special.polygamma(1, x),
    "matmul": lambda x: x @ x.T,
    "dot": lambda x: np.dot(x, x.T),
    "tensordot": lambda x: np.tensordot(x, x, 2),
    "average": lambda x: np.average(x, 1, V),
    "bitwise_and": lambda x: np.bitwise_and(x > 0.5, x < 0.7),
    "bitwise_or": lambda x: np.bitwise_or(x > 0.5, x < 0.7),
    "bitwise_xor": lambda x: np.bitwise_xor(x > 0.5, x < 0.7),
    "bitwise_not": lambda x: np.bitwise_not(x > 0.5),
    "invert": lambda x: np.invert(x > 0.5),
    "real": lambda x: np.real(x * (1 + 2j)),
    "imag": lambda x: np.imag(x * (1 + 2j)),
    "conj": lambda x: np.imag(np.conj(x * (1 + 2j))),
    "conjugate": lambda x: np.imag(np.conjugate(x * (1 + 2j))),
    "angle": lambda x: np.angle(x * (1 + 2j) - 0.5),
    **{f"linalg.{name}": fn for name, fn in _square_samples().items()},
    "linalg.svd": lambda x: np.linalg.svd(x, full_matrices=False)[0],
    "linalg.qr": lambda x: np.linalg.qr(x.T)[0],
    "linalg.multi_dot": lambda x: np.linalg.multi_dot([x, x.T, x]),
    "linalg.matmul": lambda x: np.linalg.matmul(x, x.T),
    "linalg.tensordot": lambda x: np.linalg.tensordot(x, x, axes=2),
    "linalg.outer": lambda x: np.linalg.outer(x[0], x[1]),
    **{
        f"fft.{name}": _modulus_of(getattr(np.fft, name))
        for name in ("fft", "ifft", "rfft", "fft2", "ifft2", "fftn", "ifftn")
    },
}


#: Methods that raise ``UnsupportedError`` on traced values (listed on the page's
#: "What is not supported").
NOT_TRACEABLE = ("multivariate_normal.cdf", "multivariate_normal.logcdf")


def _graph(fn: Callable, name: str) -> Graph | None:
    sample = SAMPLES.get(name)
    attempts = [sample] if sample else [fn, lambda x: fn(x, x), lambda x: fn(x, V, V)]
    for attempt in attempts:
        try:
            return make_graph(attempt)(X)
        except Exception:  # noqa: BLE001  (the next sample signature is tried)
            continue
    return None


def _compiles(prim: Primitive) -> bool:
    from fnad.codegen.cpu import _SIMPLE
    from fnad.codegen.linalg import STACKED
    from fnad.passes.fuse import REDUCTIONS

    if prim.elementwise:
        return prim.scalar is not None or prim.name == "broadcast_to"
    return prim.name in (*_SIMPLE, *REDUCTIONS, *STACKED, "einsum")


def modes(graph: Graph) -> dict[str, str]:
    """``yes`` when every primitive in ``graph`` supports the mode."""
    prims = [node.prim for node in graph.nodes]
    float_out = all(v.spec.dtype.kind == "f" for v in graph.outputs)
    if not float_out:
        diff = "n/a"
    else:
        diff = "yes" if all(p.nondiff or p.vjp for p in prims) else "no"
    jvp = diff if diff != "yes" else ("yes" if all(p.nondiff or p.jvp for p in prims) else "no")
    return {
        "grad": diff,
        "jvp": jvp,
        "vmap": "yes" if all(p.batch for p in prims) else "no",
        "jit": "yes" if all(_compiles(p) for p in prims) else "no",
    }


def functions() -> list[tuple[str, str, Callable]]:
    """``(section, name, function)`` for every supported function."""
    from fnad.numpy import _methods, fft, linalg
    from fnad.scipy import special, stats

    numpy_names = dict(_numpy_names(_methods))
    rows = [("numpy", name, fn) for name, fn in sorted(numpy_names.items())]
    for module in (linalg, fft):
        short = module.__name__.rsplit(".", 1)[-1]
        for name in sorted(module.__all__):
            if name not in ("LinAlgError", "fftfreq", "rfftfreq"):
                rows.append((f"numpy.{short}", f"{short}.{name}", getattr(module, name)))
    for name in sorted(vars(special)):
        fn = getattr(special, name)
        if (
            not name.startswith("_")
            and callable(fn)
            and getattr(fn, "__module__", "") == special.__name__
        ):
            rows.append(("scipy.special", name, fn))
    for dist in ("norm", "t", "gamma", "beta", "poisson", "multivariate_normal"):
        obj = getattr(stats, dist)
        for method in (m for m in dir(type(obj)) if not m.startswith("_")):
            if f"{dist}.{method}" not in NOT_TRACEABLE:
                rows.append(("scipy.stats", f"{dist}.{method}", getattr(obj, method)))
    return rows


def _numpy_names(methods: Any) -> list[tuple[str, Callable]]:
    import fnad.numpy as fnp

    out = []
    for name in sorted(vars(fnp)):
        fn = getattr(fnp, name)
        target = getattr(np, name, None)
        routed = callable(target) and (target in methods._UFUNCS or target in methods._FUNCTIONS)
        if routed or name in ("add_at", "setitem"):
            out.append((name, fn))
    return out


def table() -> str:
    """The Markdown table of every supported function and its modes."""
    lines = ["| module | function | grad | jvp | vmap | jit |", "|---|---|---|---|---|---|"]
    for section, name, fn in functions():
        graph = _graph(fn, name.split(".")[-1] if section == "numpy" else name)
        row = (
            modes(graph)
            if graph is not None
            else dict.fromkeys(("grad", "jvp", "vmap", "jit"), "dynamic only")
        )
        cells = [section, f"`{name}`", *(row[k] for k in ("grad", "jvp", "vmap", "jit"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
