"""fnad: functional automatic differentiation for NumPy code.

Pure functions written against NumPy are traced into a graph; ``grad`` derives the
backward graph symbolically; graphs run on the reference interpreter (and, compiled, on
Numba). See README.md and docs/.
"""

from fnad import numpy, ops, scipy, tree  # noqa: F401  (numpy installs the tracer protocols)
from fnad.core.graph import Graph, Literal, Node, Var
from fnad.core.primitive import PRIMITIVES, Primitive
from fnad.core.spec import ArraySpec
from fnad.core.trace import ConcretizationError, LeakedTracerError, eval_graph
from fnad.core.verify import GraphError, verify
from fnad.jit import disable_jit, jit
from fnad.make_graph import make_graph
from fnad.numpy import UnsupportedError
from fnad.transforms.jacobian import (
    elementwise_grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    linearize,
)
from fnad.transforms.jvp import jvp, jvp_graph
from fnad.transforms.vjp import grad, value_and_grad, vjp, vjp_graph
from fnad.transforms.vmap import vmap

__version__ = "0.1.0"

__all__ = [
    "PRIMITIVES",
    "ArraySpec",
    "ConcretizationError",
    "Graph",
    "GraphError",
    "LeakedTracerError",
    "Literal",
    "Node",
    "Primitive",
    "UnsupportedError",
    "Var",
    "disable_jit",
    "elementwise_grad",
    "eval_graph",
    "grad",
    "hessian",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jit",
    "jvp",
    "jvp_graph",
    "linearize",
    "make_graph",
    "numpy",
    "scipy",
    "tree",
    "value_and_grad",
    "verify",
    "vjp",
    "vjp_graph",
    "vmap",
]
