"""fnad's own matrix product: a blocked GEMM around an AVX-512 micro-kernel.

NumPy's and SciPy's bundled OpenBLAS can pick kernels narrower than the CPU's vectors (its
Haswell kernels on an AVX-512 CPU, or whatever ``OPENBLAS_CORETYPE`` forces); Numba's
``np.dot`` then runs at half the machine's single-thread peak. When
``fnad.backends.cpu_blas`` says so, generated code calls this GEMM instead, through the
address of a C entry point (``address``; see fnad/codegen/gemm.py for why).

The layout is the classic one: ``B`` is packed per block of ``KC`` rows into panels of
``NR`` columns (zero-padded); ``A`` is read where it lies when one of its strides is 1 (its
last partial row panel is copied into a padded buffer); the micro-kernel keeps an
``MR x NR`` tile of ``C`` in ``MR * NV`` vector registers over a loop on ``k``, written in
LLVM IR so that the accumulators stay in registers. Every size goes through the same code.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from numba import cfunc, from_dtype, njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

#: Rows of the register tile; vectors per row (NR = NV * lanes: 32 float32, 16 float64).
MR, NV = 12, 2
#: Depth of a packed block of B, rows of A per block (kept in L2), columns per packed block.
KC, MC, NC = 256, 240, 512

# NOTE: every helper is inlined into the entry point: each separately compiled function
# costs a fixed few tenths of a second of a cold start, and linked code is optimized again.
_inline = njit(cache=True, nogil=True, boundscheck=False, inline="always")


def _lanes(dtype: types.Type) -> int:
    # NOTE: must agree with ``64 // itemsize`` in the drivers: 64-byte (AVX-512) vectors.
    return 512 // dtype.bitwidth


@intrinsic
def _micro(typingctx, a, aoff, ars, acs, b, boff, c, coff, ldc, kc, first):
    """``c[i*ldc + j] (+)= sum_p a[i*ars + p*acs] * b[p*NR + j]`` for an MR x NR tile;
    ``first`` overwrites instead of adding. Offsets and strides are in elements."""
    ip = types.intp
    sig = types.void(a, ip, ip, ip, b, ip, c, ip, ip, ip, types.boolean)
    lanes = _lanes(a.dtype)

    def codegen(context, builder, signature, args):
        a_, aoff_, ars_, acs_, b_, boff_, c_, coff_, ldc_, kc_, first_ = args
        ptr = [
            builder.gep(context.make_array(signature.args[k])(context, builder, v).data, [off])
            for k, v, off in ((0, a_, aoff_), (4, b_, boff_), (6, c_, coff_))
        ]
        _tile_loop(builder, ptr, (ars_, acs_, ldc_, kc_, first_), lanes)
        return context.get_dummy_value()

    return sig, codegen


def _tile_loop(builder: ir.IRBuilder, ptr: list, ints: tuple, lanes: int) -> None:
    ap, bp, cp = ptr
    ars, acs, ldc, kc, first = ints
    elt = ap.type.pointee
    vty = ir.VectorType(elt, lanes)
    align = 4 if isinstance(elt, ir.FloatType) else 8
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{lanes}f{align * 8}"
    )
    intp = ars.type

    def const(v: int) -> ir.Constant:
        return ir.Constant(intp, v)

    def vector_at(base, offset):
        return builder.bitcast(builder.gep(base, [const(offset)]), vty.as_pointer())

    rows = [builder.gep(ap, [builder.mul(const(i), ars)]) for i in range(MR)]
    entry, function = builder.block, builder.function
    head, body, done = (function.append_basic_block(f"gemm.{n}") for n in ("head", "body", "done"))
    builder.branch(head)
    builder.position_at_end(head)
    p = builder.phi(intp)
    p.add_incoming(const(0), entry)
    accs = [builder.phi(vty) for _ in range(MR * NV)]
    for acc in accs:
        acc.add_incoming(ir.Constant(vty, None), entry)
    builder.cbranch(builder.icmp_signed("<", p, kc), body, done)

    builder.position_at_end(body)
    brow = builder.gep(bp, [builder.mul(p, const(NV * lanes))])
    bv = [builder.load(vector_at(brow, j * lanes), align=align) for j in range(NV)]
    column = builder.mul(p, acs)
    undef = ir.Constant(vty, ir.Undefined)
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
    new = []
    for i in range(MR):
        s = builder.load(builder.gep(rows[i], [column]))
        lane0 = builder.insert_element(undef, s, ir.Constant(ir.IntType(32), 0))
        av = builder.shuffle_vector(lane0, undef, zeros)
        new += [builder.call(fma, [av, bv[j], accs[i * NV + j]]) for j in range(NV)]
    latch = builder.block
    p.add_incoming(builder.add(p, const(1)), latch)
    for acc, value in zip(accs, new, strict=True):
        acc.add_incoming(value, latch)
    builder.branch(head)

    builder.position_at_end(done)
    with builder.if_else(first) as (overwrite, accumulate):
        for block, add in ((overwrite, False), (accumulate, True)):
            with block:
                for i in range(MR):
                    crow = builder.gep(cp, [builder.mul(const(i), ldc)])
                    for j in range(NV):
                        q = vector_at(crow, j * lanes)
                        v = accs[i * NV + j]
                        v = builder.fadd(builder.load(q, align=align), v) if add else v
                        builder.store(v, q, align=align)


@_inline
def _pack_b(b, bp, pc, kc, jc, nc):
    """Rows ``pc:pc+kc`` and columns ``jc:jc+nc`` of ``b`` into panels of NR columns, each
    panel ``kc`` rows of NR values, zero past column ``nc``."""
    nr = NV * (64 // b.itemsize)
    panels = (nc + nr - 1) // nr
    for t in range((panels - 1) * kc * nr, panels * kc * nr):
        bp[t] = 0  # the last panel, which may be partial
    if b.strides[1] == b.itemsize:
        for p in range(kc):
            row = b[pc + p]
            for q in range(panels):
                at, col = (q * kc + p) * nr, jc + q * nr
                for j in range(min(nr, nc - q * nr)):
                    bp[at + j] = row[col + j]
    else:
        for q in range(panels):
            for j in range(min(nr, nc - q * nr)):
                at, col = q * kc * nr + j, jc + q * nr + j
                for p in range(kc):
                    bp[at + p * nr] = b[pc + p, col]


@_inline
def _blocked(a, b, c):
    m, k = a.shape
    n = b.shape[1]
    nr = NV * (64 // a.itemsize)
    # NOTE: A is read where it lies, through its element strides (fast when one is 1).
    ars, acs = a.strides[0] // a.itemsize, a.strides[1] // a.itemsize
    bp = np.empty(min(KC, k) * (min(NC, n) + nr), a.dtype)
    edge = np.zeros((min(KC, k), MR), a.dtype)
    tile = np.empty((MR, nr), a.dtype)
    full = m - m % MR
    for jc in range(0, n, NC):
        nc = min(NC, n - jc)
        for pc in range(0, k, KC):
            kc = min(KC, k - pc)
            _pack_b(b, bp, pc, kc, jc, nc)
            for p in range(kc):
                for i in range(m - full):
                    edge[p, i] = a[full + i, pc + p]
            for ic in range(0, m, MC):
                for q in range((nc + nr - 1) // nr):
                    width = min(nr, nc - q * nr)
                    for ir_ in range(ic, min(ic + MC, m), MR):
                        height = min(MR, m - ir_)
                        inside = height == MR and width == nr
                        # NOTE: one call site: the kernel's IR is large, and each copy costs
                        # compile time. A tile past C's edge goes through ``tile``.
                        if height == MR:
                            src, off, rs, cs = a, ir_ * ars + pc * acs, ars, acs
                        else:
                            src, off, rs, cs = edge, 0, 1, MR
                        at = ir_ * n + jc + q * nr
                        dst, to, ld = (c, at, n) if inside else (tile, 0, nr)
                        first = pc == 0 or not inside
                        _micro(src, off, rs, cs, bp, q * kc * nr, dst, to, ld, kc, first)
                        if not inside:
                            _add_tile(c[ir_:, jc + q * nr :], tile, height, width, pc == 0)


@_inline
def _add_tile(c, tile, height, width, first):
    """The leading ``height x width`` of ``tile`` written into ``c`` (or, after the first
    K block, added)."""
    for i in range(height):
        for j in range(width):
            if first:
                c[i, j] = tile[i, j]
            else:
                c[i, j] += tile[i, j]


@intrinsic
def _view(typingctx, data, rows, cols, rs, cs):
    """An array of layout A over ``data``: shape (rows, cols), strides in elements."""
    array = types.Array(data.dtype, 2, "A")

    def codegen(context, builder, signature, args):
        data, rows, cols, rs, cs = args
        view = context.make_array(array)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(data.type.pointee))
        populate_array(
            view,
            data=data,
            shape=cgutils.pack_array(builder, [rows, cols]),
            strides=cgutils.pack_array(builder, [builder.mul(v, itemsize) for v in (rs, cs)]),
            itemsize=itemsize,
            meminfo=None,
        )
        return view._getvalue()

    return array(data, rows, cols, rs, cs), codegen


def _entry(a, ars, acs, b, brs, bcs, c, m, k, n):
    """The C entry point: ``c (m x n, C order) = a (m x k) @ b (k x n)``, strides in elements."""
    out = _view(c, m, n, n, 1)
    if k == 0:
        for i in range(m):
            for j in range(n):
                out[i, j] = 0
    else:
        # NOTE: the GEMM's only compiled function: every helper is inlined here.
        _blocked(_view(a, m, k, ars, acs), _view(b, k, n, brs, bcs), out)


@functools.cache
def address(dtype: np.dtype) -> int:
    """The address of the C entry point for float32 or float64 operands, compiled (or
    loaded from Numba's cache) on first use in a process."""
    p, ip = types.CPointer(from_dtype(np.dtype(dtype))), types.intp
    sig = types.void(p, ip, ip, p, ip, ip, p, ip, ip, ip)  # _entry's arguments
    return cfunc(sig, cache=True)(_entry).address
