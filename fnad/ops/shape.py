"""Shape primitives: reshape, transpose, broadcast_to, concatenate, iota.

``squeeze``, ``expand_dims``, ``ravel``, ``swapaxes``, ``moveaxis`` and ``stack`` are
compositions of these in ``fnad.numpy``. All are linear, so their VJPs are each other.
"""

from __future__ import annotations

import numpy as np

from fnad.core.primitive import Primitive, register
from fnad.core.spec import ArraySpec
from fnad.core.trace import Tracer, bind


def reshape(x, shape: tuple[int, ...]):
    shape = tuple(int(d) for d in shape)
    return x if tuple(x.shape) == shape else bind(reshape_p, x, shape=shape)


def _reshape_abstract(x: ArraySpec, *, shape: tuple[int, ...]) -> ArraySpec:
    if int(np.prod(shape, dtype=np.int64)) != x.size or any(d < 0 for d in shape):
        raise ValueError(f"fnad: cannot reshape {x!r} into shape {shape}")
    return ArraySpec(shape, x.dtype)


reshape_p = register(
    Primitive(
        "reshape",
        impl=lambda x, *, shape: np.reshape(x, shape),
        abstract=_reshape_abstract,
        vjp=lambda ct, x, *, out, shape: (reshape(ct, x.shape),),
        jvp=lambda ts, x, *, out, shape: None if ts[0] is None else reshape(ts[0], shape),
        batch=lambda xs, batched, size, *, shape: reshape(xs[0], (size, *shape)),
        cases=lambda rng: [
            ((rng.normal(size=(2, 3)),), {"shape": (3, 2)}),
            ((rng.normal(size=(4,)),), {"shape": (2, 1, 2)}),
            ((rng.normal(size=()),), {"shape": (1, 1)}),
        ],
    )
)


def transpose(x, perm: tuple[int, ...]):
    perm = tuple(int(p) for p in perm)
    return x if perm == tuple(range(len(perm))) else bind(transpose_p, x, perm=perm)


def _transpose_abstract(x: ArraySpec, *, perm: tuple[int, ...]) -> ArraySpec:
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"fnad: axes {perm} are not a permutation of {x.ndim} axes")
    return ArraySpec(tuple(x.shape[p] for p in perm), x.dtype)


transpose_p = register(
    Primitive(
        "transpose",
        impl=lambda x, *, perm: np.transpose(x, perm),
        abstract=_transpose_abstract,
        vjp=lambda ct, x, *, out, perm: (transpose(ct, tuple(np.argsort(perm))),),
        jvp=lambda ts, x, *, out, perm: None if ts[0] is None else transpose(ts[0], perm),
        batch=lambda xs, batched, size, *, perm: transpose(xs[0], (0, *(p + 1 for p in perm))),
        cases=lambda rng: [
            ((rng.normal(size=(2, 3)),), {"perm": (1, 0)}),
            ((rng.normal(size=(2, 3, 4)),), {"perm": (2, 0, 1)}),
        ],
    )
)


def broadcast_axes(x_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """Axes of ``shape`` along which an array of ``x_shape`` is repeated by broadcasting."""
    lead = len(shape) - len(x_shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(x_shape) if d == 1 and shape[lead + i] != 1
    )


def broadcast_to(x, shape: tuple[int, ...]):
    shape = tuple(int(d) for d in shape)
    return x if tuple(np.shape(x)) == shape else bind(broadcast_to_p, x, shape=shape)


def _broadcast_abstract(x: ArraySpec, *, shape: tuple[int, ...]) -> ArraySpec:
    lead = len(shape) - x.ndim
    if lead < 0 or any(d not in (1, shape[lead + i]) for i, d in enumerate(x.shape)):
        raise ValueError(f"fnad: cannot broadcast {x!r} to shape {shape}")
    return ArraySpec(shape, x.dtype)


def _broadcast_vjp(ct, x, *, out, shape):
    from fnad.ops.reduce import reduce_sum

    return (reshape(reduce_sum(ct, broadcast_axes(x.shape, shape)), x.shape),)


def _broadcast_batch(xs, batched, size, *, shape):
    (x,) = xs
    lead = len(shape) - (x.ndim - 1)
    return broadcast_to(reshape(x, (size, *(1,) * lead, *x.shape[1:])), (size, *shape))


broadcast_to_p = register(
    Primitive(
        "broadcast_to",
        impl=lambda x, *, shape: np.broadcast_to(x, shape),
        abstract=_broadcast_abstract,
        vjp=_broadcast_vjp,
        jvp=lambda ts, x, *, out, shape: None if ts[0] is None else broadcast_to(ts[0], shape),
        batch=_broadcast_batch,
        cases=lambda rng: [
            ((rng.normal(size=(3,)),), {"shape": (2, 3)}),
            ((rng.normal(size=(2, 1)),), {"shape": (2, 4)}),
            ((rng.normal(size=()),), {"shape": (3, 2)}),
            ((rng.normal(size=(1, 3, 1)),), {"shape": (2, 2, 3, 4)}),
        ],
        elementwise=True,
    )
)


def batch_all(xs, batched, size: int) -> list:
    """Batching helper: unbatched operands broadcast along a new first axis of ``size``."""
    ref = next((x for x in xs if isinstance(x, Tracer)), None)
    out = []
    for x, b in zip(xs, batched):
        shape = (size, *np.shape(x))
        if b or isinstance(x, Tracer) or ref is None:
            out.append(x if b else broadcast_to(x, shape))
        else:
            # NOTE: recorded, not computed: a constant broadcast to the batch size would
            # otherwise enter the graph as a literal as large as the batch.
            out.append(ref.builder.apply(broadcast_to_p, [x], {"shape": shape}))
    return out


def moveaxis(x, src: int, dst: int):
    perm = [i for i in range(np.ndim(x)) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def concatenate(xs, axis: int):
    return xs[0] if len(xs) == 1 else bind(concatenate_p, *xs, axis=int(axis))


def _concatenate_abstract(*xs: ArraySpec, axis: int) -> ArraySpec:
    first = xs[0]
    if not 0 <= axis < first.ndim:
        raise ValueError(f"fnad: concatenate axis {axis} is out of range for {first!r}")
    for x in xs[1:]:
        same = x.ndim == first.ndim and all(
            a == b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis
        )
        if not same or x.dtype != first.dtype:
            raise ValueError(f"fnad: cannot concatenate {first!r} and {x!r} along axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return ArraySpec(tuple(shape), first.dtype)


def _concatenate_vjp(ct, *xs, out, axis):
    from fnad.ops.indexing import IndexSpec, gather

    cts, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        cts.append(gather(ct, IndexSpec.axis_slice(x.ndim, axis, start, stop)))
        start = stop
    return tuple(cts)


def _concatenate_jvp(ts, *xs, out, axis):
    if all(t is None for t in ts):
        return None
    return concatenate([np.zeros_like(x) if t is None else t for t, x in zip(ts, xs)], axis)


concatenate_p = register(
    Primitive(
        "concatenate",
        impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
        abstract=_concatenate_abstract,
        vjp=_concatenate_vjp,
        jvp=_concatenate_jvp,
        batch=lambda xs, batched, size, *, axis: concatenate(
            batch_all(xs, batched, size), axis + 1
        ),
        cases=lambda rng: [
            ((rng.normal(size=(2, 3)), rng.normal(size=(1, 3))), {"axis": 0}),
            (
                (rng.normal(size=(2, 1)), rng.normal(size=(2, 2)), rng.normal(size=(2, 3))),
                {"axis": 1},
            ),
        ],
    )
)


def iota(builder, shape: tuple[int, ...], axis: int, dtype=np.int64):
    """Each element's index along ``axis``, recorded on ``builder`` (it has no inputs to
    find a trace from): ``eq(iota(s, 0), iota(s, 1))`` is an identity matrix that a fused
    loop computes from its indices instead of reading a constant."""
    params = {"shape": tuple(int(d) for d in shape), "axis": int(axis), "dtype": np.dtype(dtype)}
    return builder.apply(iota_p, [], params)


def _iota_impl(*, shape, axis, dtype):
    index = np.arange(shape[axis], dtype=dtype).reshape((-1,) + (1,) * (len(shape) - axis - 1))
    return np.broadcast_to(index, shape)


def _iota_abstract(*, shape, axis, dtype) -> ArraySpec:
    if not 0 <= axis < len(shape):
        raise ValueError(f"fnad: iota axis {axis} is out of range for shape {shape}")
    return ArraySpec(tuple(shape), np.dtype(dtype))


iota_p = register(
    Primitive(
        "iota",
        impl=_iota_impl,
        abstract=_iota_abstract,
        nondiff=True,
        elementwise=True,
        cases=lambda rng: [
            ((), {"shape": (3, 4), "axis": 1, "dtype": np.dtype(np.int64)}),
            ((), {"shape": (2, 3, 2), "axis": 0, "dtype": np.dtype(np.float64)}),
        ],
    )
)
