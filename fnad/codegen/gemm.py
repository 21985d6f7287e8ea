"""Matrix products in generated code through fnad's GEMM (fnad/backends/gemm.py).

Generated code calls the GEMM's C entry point through its address, passed in as a constant
argument (a one-element int64 array, never written into the source). A direct call to a
Numba function would link the GEMM's code into every generated module, and Numba optimizes
a module's linked code again each time: seconds of every cold start. Through the address,
the GEMM compiles once per process and dtype (and is then loaded from Numba's cache).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _call(typingctx, entry, a, b, c):
    """Call the entry point at address ``entry`` on 2-d ``a``, ``b`` and C-ordered ``c``."""
    if not all(isinstance(t, types.Array) and t.ndim == 2 for t in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        entry, *arrays = args
        views = [
            context.make_array(t)(context, builder, v)
            for t, v in zip(signature.args[1:], arrays, strict=True)
        ]
        item = context.get_constant(types.intp, context.get_abi_sizeof(views[0].data.type.pointee))
        shape = [builder.extract_value(views[0].shape, 0), builder.extract_value(views[0].shape, 1)]
        n = builder.extract_value(views[2].shape, 1)
        values = []
        for view in views[:2]:
            values.append(view.data)
            values += [builder.sdiv(builder.extract_value(view.strides, d), item) for d in (0, 1)]
        values += [views[2].data, *shape, n]
        function = ir.FunctionType(ir.VoidType(), [v.type for v in values])
        builder.call(builder.inttoptr(entry, function.as_pointer()), values)
        return context.get_dummy_value()

    return types.void(types.int64, a, b, c), codegen


@njit(cache=True, nogil=True, inline="always")
def matmul(entry, a, b):
    """``np.dot(a, b)`` of 2-d float32 or float64 operands; ``entry[0]`` is the address
    of the GEMM for their dtype."""
    c = np.empty((a.shape[0], b.shape[1]), a.dtype)
    _call(entry[0], a, b, c)
    return c


@njit(cache=True, nogil=True, inline="always")
def matmul_into(entry, a, b, out):
    """``out[...] = np.dot(a, b)`` for a C-contiguous ``out`` (a batch loop's slice)."""
    _call(entry[0], a, b, out)
