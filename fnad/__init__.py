"""fnad: functional automatic differentiation for NumPy code.

Pure functions written against NumPy are traced into a graph; ``grad`` derives the
backward graph symbolically; graphs run on the reference interpreter (and, compiled, on
Numba). See README.md and docs/.
"""

from fnad import cuda, nn, numpy, ops, optim, scipy, testing, tree, viz  # noqa: F401
from fnad.control import cond, fori_loop, scan, switch, while_loop
from fnad.core.graph import Graph, Literal, Node, Var
from fnad.core.primitive import PRIMITIVES, Primitive
from fnad.core.spec import ArraySpec
from fnad.core.trace import ConcretizationError, LeakedTracerError, eval_graph
from fnad.core.verify import GraphError, verify
from fnad.custom import custom_jvp, custom_vjp, stop_gradient
from fnad.device import default_device, device_get, device_put
from fnad.export import export
from fnad.jit import disable_jit, jit
from fnad.make_graph import make_graph
from fnad.numpy import UnsupportedError
from fnad.rematerialize import Residual, checkpoint, remat, saved_residuals
from fnad.serialize import GraphFormatError
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
    "GraphFormatError",
    "LeakedTracerError",
    "Literal",
    "Node",
    "Primitive",
    "Residual",
    "UnsupportedError",
    "Var",
    "cond",
    "cuda",
    "default_device",
    "device_get",
    "device_put",
    "checkpoint",
    "custom_jvp",
    "custom_vjp",
    "disable_jit",
    "elementwise_grad",
    "eval_graph",
    "export",
    "fori_loop",
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
    "nn",
    "numpy",
    "optim",
    "remat",
    "saved_residuals",
    "scan",
    "scipy",
    "stop_gradient",
    "switch",
    "testing",
    "tree",
    "value_and_grad",
    "viz",
    "verify",
    "vjp",
    "vjp_graph",
    "vmap",
    "while_loop",
]
