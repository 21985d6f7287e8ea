"""Registry-driven checks over every primitive, with inputs from each one's ``cases``.

For every case: the shape rule matches the NumPy implementation; the traced graph verifies
and the interpreter reproduces the implementation; reverse-mode derivatives match central
finite differences; VJP and JVP agree by the dot-product test; second derivatives match
finite differences of first derivatives; float32 inputs give float32 gradients; JVPs
match finite differences; ``vmap`` matches a loop over examples, for random batch axes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fnad
from fnad.core.graph import subgraphs
from fnad.core.primitive import PRIMITIVES
from fnad.core.spec import is_float, spec_of
from fnad.core.trace import bind

EPS = 1e-6


def _cases():
    rng = np.random.default_rng(0)
    out = []
    for name in sorted(PRIMITIVES):
        prim = PRIMITIVES[name]
        for i, (args, params) in enumerate(prim.cases(rng)):
            args = tuple(np.asarray(a) for a in args)
            out.append(pytest.param(prim, args, params, id=f"{name}-{i}"))
    return out


CASES = _cases()
DIFF_CASES = [
    c
    for c in CASES
    if not c.values[0].nondiff
    and "first_order_only" not in c.values[0].tags
    and any(is_float(a.dtype) for a in c.values[1])
]

#: Primitives without inputs (``iota``) have nothing to batch.
BATCH_CASES = [c for c in CASES if c.values[1]]


def _positions(args):
    return [i for i, a in enumerate(args) if is_float(a.dtype)]


def _fn(prim, args, params):
    """The primitive as a function of its float arguments only (the outputs of a
    multiple-result primitive raveled into one vector of their common dtype)."""
    pos = _positions(args)

    def call(*xs):
        full = list(args)
        for p, x in zip(pos, xs):
            full[p] = x
        out = bind(prim, *full, **params)
        if not prim.multiple_results:
            return out
        # NOTE: one flat array of a common dtype, so every check sees a single output.
        dtype = np.result_type(*(o.dtype for o in out))
        return np.concatenate([np.ravel(o).astype(dtype) for o in out])

    return call, [args[p] for p in pos]


def _low_precision(prim, args, params):
    out = prim.impl(*args, **params)
    outs = out if prim.multiple_results else (out,)
    return any(np.asarray(a).dtype in (np.float32, np.complex64) for a in (*args, *outs))


_DOUBLE = {np.dtype(np.float32): np.float64, np.dtype(np.complex64): np.complex128}


def _double(a):
    return a.astype(_DOUBLE[a.dtype]) if a.dtype in _DOUBLE else a


def _directions(xs, seed):
    rng = np.random.default_rng(seed)
    out = []
    for x in xs:
        dtype, shape = np.asarray(x).dtype, np.shape(x)
        v = rng.normal(size=shape) + (1j * rng.normal(size=shape) if dtype.kind == "c" else 0)
        out.append(v.astype(dtype))
    return out


def _pair(a, b):
    """The real pairing VJPs transpose under: ``Re(sum(a * b))`` (complex: no conjugate)."""
    return np.real(np.sum(a * b))


def _fd(f, xs, vs, eps=EPS, side=0):
    """Directional derivative of f at xs along vs: central (side=0) or one-sided."""
    hi = f(*[x + (eps if side >= 0 else 0) * v for x, v in zip(xs, vs)])
    lo = f(*[x - (eps if side <= 0 else 0) * v for x, v in zip(xs, vs)])
    return (np.asarray(hi) - np.asarray(lo)) / (eps * (2 if side == 0 else 1))


def _smooth(f, xs, vs):
    """Whether f is differentiable at xs along vs: continuous, one-sided differences agree."""
    hi, lo = f(*[x + EPS * v for x, v in zip(xs, vs)]), f(*[x - EPS * v for x, v in zip(xs, vs)])
    fwd, bwd = _fd(f, xs, vs, side=1), _fd(f, xs, vs, side=-1)
    continuous = np.allclose(hi, lo, rtol=1e-4, atol=1e-4)
    return continuous and np.allclose(fwd, bwd, rtol=1e-3, atol=1e-4)


def test_every_primitive_declares_cases():
    assert [name for name, p in PRIMITIVES.items() if not p.cases] == []


def test_every_differentiable_primitive_has_rules():
    missing = [
        n
        for n, p in PRIMITIVES.items()
        if not p.nondiff and "first_order_only" not in p.tags and (p.vjp is None or p.jvp is None)
    ]
    assert missing == []


@pytest.mark.parametrize("prim,args,params", CASES)
def test_shape_rule_and_interpreter(prim, args, params):
    out = prim.impl(*args, **params)
    outs = out if prim.multiple_results else (out,)
    specs = prim.abstract(*(spec_of(a) for a in args), **params)
    specs = specs if prim.multiple_results else (specs,)
    assert [spec_of(o) for o in outs] == list(specs)
    graph = fnad.verify(fnad.make_graph(lambda *xs: bind(prim, *xs, **params))(*args))
    for got, want in zip(fnad.eval_graph(graph, *args), outs):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("prim,args,params", DIFF_CASES)
def test_vjp_matches_finite_differences(prim, args, params):
    if _low_precision(prim, args, params):
        args = tuple(_double(a) for a in args)
        params = {k: np.dtype(np.float64) if k == "dtype" else v for k, v in params.items()}
    f, xs = _fn(prim, args, params)
    vs = _directions(xs, 1)
    if not _smooth(f, xs, vs):
        pytest.skip("not differentiable at this point (a tie or kink); covered by the dot test")
    out, vjp_fn = fnad.vjp(f, *xs)
    (u,) = _directions([out], 2)
    expected = _pair(_fd(f, xs, vs), u)
    got = sum(_pair(g, v) for g, v in zip(vjp_fn(u), vs))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("prim,args,params", DIFF_CASES)
def test_vjp_matches_jvp(prim, args, params):
    f, xs = _fn(prim, args, params)
    vs = _directions(xs, 3)
    out, jv = fnad.jvp(f, xs, vs)
    (u,) = _directions([out], 4)
    _, vjp_fn = fnad.vjp(f, *xs)
    lhs = _pair(u, jv)
    rhs = sum(_pair(g, v) for g, v in zip(vjp_fn(u), vs))
    tol = 1e-5 if _low_precision(prim, args, params) else 1e-10
    np.testing.assert_allclose(lhs, rhs, rtol=tol, atol=tol)


SECOND_ORDER_CASES = [c for c in DIFF_CASES if c.values[0].tags.get("max_reverse_order") != 1]


@pytest.mark.parametrize("prim,args,params", SECOND_ORDER_CASES)
def test_second_order(prim, args, params):
    f, xs = _fn(prim, args, params)
    w = _directions([f(*xs)], 5)[0]
    n = len(xs)

    def scalar(*xs):
        return _pair(f(*xs), w)

    def first(*xs):
        return fnad.grad(scalar, argnums=tuple(range(n)))(*xs)

    vs, us = _directions(xs, 6), _directions(xs, 7)
    if not _smooth(lambda *z: np.concatenate([np.ravel(g) for g in first(*z)]), xs, us):
        pytest.skip("first derivative is not differentiable at this point")

    def along_v(*xs):
        return sum(_pair(g, v) for g, v in zip(first(*xs), vs))

    hvp = fnad.grad(along_v, argnums=tuple(range(n)))(*xs)
    got = sum(_pair(h, u) for h, u in zip(hvp, us))
    fd = [_fd(lambda *z, k=k: first(*z)[k], xs, us) for k in range(n)]
    expected = sum(_pair(d, v) for d, v in zip(fd, vs))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def _holds_graphs(params) -> bool:
    return any(subgraphs(v) for v in params.values())


# Sub-graph params are typed for the case's dtype, so those cases stay float64.
F32_CASES = [c for c in DIFF_CASES if not _holds_graphs(c.values[2])]


@pytest.mark.parametrize("prim,args,params", F32_CASES)
def test_float32_gives_float32_gradients(prim, args, params):
    single = {np.dtype(np.float64): np.float32, np.dtype(np.complex128): np.complex64}
    args32 = tuple(a.astype(single.get(a.dtype, a.dtype)) for a in args)
    f, xs = _fn(prim, args32, params)
    out, vjp_fn = fnad.vjp(f, *xs)
    ct = np.ones_like(np.asarray(out))
    for g, x in zip(vjp_fn(ct), xs):
        assert g.dtype == x.dtype and x.dtype in (np.float32, np.complex64)
        assert g.shape == x.shape


@pytest.mark.parametrize("prim,args,params", DIFF_CASES)
def test_jvp_matches_finite_differences(prim, args, params):
    if _low_precision(prim, args, params):
        args = tuple(_double(a) for a in args)
        params = {k: np.dtype(np.float64) if k == "dtype" else v for k, v in params.items()}
    f, xs = _fn(prim, args, params)
    vs = _directions(xs, 8)
    if not _smooth(f, xs, vs):
        pytest.skip("not differentiable at this point (a tie or kink); covered by the dot test")
    _, jv = fnad.jvp(f, xs, vs)
    np.testing.assert_allclose(jv, _fd(f, xs, vs), rtol=1e-5, atol=1e-7)


def test_every_primitive_has_a_batching_rule():
    assert [name for name, p in PRIMITIVES.items() if p.batch is None] == []


def _variant(a, k, rng):
    """The k-th example of a batch built around a case argument, valid where it is."""
    if k == 0 or a.size == 0:
        return a
    if is_float(a.dtype):
        return (a * (1 + 0.05 * rng.uniform(-1, 1, a.shape))).astype(a.dtype)
    return rng.permutation(a.ravel()).reshape(a.shape)


@pytest.mark.parametrize("prim,args,params", BATCH_CASES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_vmap_matches_a_loop(prim, args, params, data):
    size = data.draw(st.integers(1, 3), label="size")
    mask = data.draw(st.lists(st.booleans(), min_size=len(args), max_size=len(args)))
    if not any(mask):
        mask[data.draw(st.integers(0, len(args) - 1))] = True
    axes = [
        data.draw(st.integers(0, a.ndim), label=f"axis {i}") if b else None
        for i, (a, b) in enumerate(zip(args, mask))
    ]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    examples = [[_variant(a, k, rng) if b else a for a, b in zip(args, mask)] for k in range(size)]
    stacked = [
        np.stack([ex[i] for ex in examples], axis=ax) if ax is not None else a
        for i, (a, ax) in enumerate(zip(args, axes))
    ]
    got = fnad.vmap(lambda *xs: bind(prim, *xs, **params), in_axes=tuple(axes))(*stacked)
    want = [prim.impl(*ex, **params) for ex in examples]
    if prim.multiple_results:
        for j, g in enumerate(got):
            np.testing.assert_allclose(g, np.stack([w[j] for w in want]), rtol=1e-12, atol=0)
    else:
        np.testing.assert_allclose(got, np.stack(want), rtol=1e-12, atol=0)
