"""jit: compiled results equal the interpreter; composition, static arguments, re-tracing
without re-compiling, errors. Many cases are compiled into one graph per test, because
each Numba compile costs about a second."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import fd_grad

import fnad
from fnad.codegen.cpu import CodegenError
from fnad.core.primitive import PRIMITIVES
from fnad.core.spec import is_float
from fnad.core.trace import bind


def _compilable(prim, args, params):
    index = params.get("index")
    if index is None:
        return prim.name != "fused"
    # What codegen/indexing.py compiles: basic indexing (0-d index arrays act as ints), or
    # one index array of any rank among slices.
    arrays = args[len(args) - index.num_arrays :]
    if all(np.ndim(a) == 0 for a in arrays):
        return True
    return index.num_arrays == 1 and all(isinstance(e, slice | tuple) for e in index.entries)


def _registry_cases():
    rng = np.random.default_rng(1)
    cases = []
    for name in sorted(PRIMITIVES):
        prim = PRIMITIVES[name]
        for args, params in prim.cases(rng):
            args = tuple(np.asarray(a) for a in args)
            if _compilable(prim, args, params):
                cases.append((prim, args, params))
    return cases


CASES = _registry_cases()


#: Registry cases per compiled function: Numba's compile time grows faster than the size
#: of a function, so the cases are compiled in parts of about this many.
PART = 40


def _parts() -> list:
    f32 = [c for c in CASES if c[0].elementwise]
    return [
        pytest.param(dtype, k, id=f"{np.dtype(dtype).name}-{k}")
        for dtype, cases in ((np.float64, CASES), (np.float32, f32))
        for k in range(-(-len(cases) // PART))
    ]


@pytest.mark.parametrize("dtype,part", _parts())
def test_every_primitive_compiled_equals_interpreter(dtype, part):
    """All registry cases in float64; the elementwise ones (where float32 arithmetic
    differs) again in float32. One compile for each part of ``PART`` cases."""
    cases = CASES if dtype == np.float64 else [c for c in CASES if c[0].elementwise]
    cases = cases[part * PART : (part + 1) * PART]
    flat = [
        tuple(a.astype(dtype) if a.dtype == np.float64 else a for a in args) for _, args, _ in cases
    ]

    names = [p.name for p, a, k in cases for _ in _outputs(p, p.impl(*a, **k))]

    def everything(*all_args):
        outs, k = [], 0
        for (prim, _, params), case in zip(cases, flat):
            xs = all_args[k : k + len(case)]
            k += len(case)
            outs.extend(_outputs(prim, bind(prim, *xs, **params)))
        return outs

    leaves = [a for case in flat for a in case]
    got = fnad.jit(everything)(*leaves)
    want = everything(*leaves)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for name, g, w in zip(names, got, want, strict=True):
        assert np.shape(g) == np.shape(w), name
        assert np.asarray(g).dtype == np.asarray(w).dtype, name
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=name)


def _outputs(prim, out):
    return list(out) if prim.multiple_results else [out]


@pytest.mark.slow
def test_every_primitive_gradient_compiled_equals_interpreter():
    """Reverse mode through every differentiable case, compiled once (a minute of Numba)."""
    cases = [
        c
        for c in CASES
        if not c[0].nondiff
        and "first_order_only" not in c[0].tags
        and any(is_float(a.dtype) for a in c[1])
    ]
    rng = np.random.default_rng(2)
    weights = [
        [rng.normal(size=np.shape(o)) for o in _outputs(p, p.impl(*a, **k))] for p, a, k in cases
    ]

    def loss(floats):
        total, k = 0.0, 0
        for (prim, args, params), w in zip(cases, weights):
            full = list(args)
            for i, a in enumerate(args):
                if is_float(a.dtype):
                    full[i] = floats[k]
                    k += 1
            outs = _outputs(prim, bind(prim, *full, **params))
            total = total + sum(np.real(np.sum(o * v)) for o, v in zip(outs, w))
        return total

    floats = [a for _, args, _ in cases for a in args if is_float(a.dtype)]
    got = fnad.jit(fnad.grad(loss))(floats)
    want = fnad.grad(loss)(floats)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _programs(x, y, w):
    h = np.tanh(x @ w)
    return [
        np.sum(np.sin(x) * x**2 + np.exp(-x)),
        np.mean(h, axis=0),
        np.max(x, axis=1, keepdims=True) - x,
        np.where(x > 0, x, 0.1 * x).sum(axis=0),
        np.concatenate([x, y], axis=1)[:, ::2],
        (x[:, None, :] * y[None, :, :]).sum(axis=-1),
        np.einsum("ij,kj->ik", x, y),
        x.T @ y,
        np.clip(x, -0.5, 0.5) ** 3 / (1.0 + y**2),
        x[1] + y[::-1][0],
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_whole_programs_and_their_gradients(dtype):
    rng = np.random.default_rng(3)
    x, y, w = (rng.normal(size=s).astype(dtype) for s in [(4, 3), (4, 3), (3, 5)])

    def loss(x, y, w):
        return sum(np.sum(np.square(o)) for o in _programs(x, y, w))

    def both(x, y, w):
        return _programs(x, y, w), fnad.grad(loss, argnums=(0, 1, 2))(x, y, w)

    got_outs, got_grads = fnad.jit(both)(x, y, w)
    want_outs, want_grads = both(x, y, w)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for g, e in zip(got_outs + list(got_grads), want_outs + list(want_grads)):
        assert np.asarray(g).dtype == dtype
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


def test_new_size_retraces_but_reuses_compiled_code():
    f = fnad.jit(fnad.grad(lambda x: np.sum(np.sin(x) * x)))
    for n in (5, 6, 7):
        x = np.linspace(0, 1, n)
        np.testing.assert_allclose(f(x), np.sin(x) + x * np.cos(x))
    assert f.trace_count == 3
    assert f.compile_count == 1
    f(np.linspace(0, 1, 5).astype(np.float32))
    assert (f.trace_count, f.compile_count) == (4, 2)


def test_lower_exposes_graph_and_source():
    lowered = fnad.jit(lambda x: np.sum(np.exp(x))).lower(np.ones(10))
    fnad.verify(lowered.graph)
    assert "math.exp(" in lowered.source
    assert "# " in lowered.source and "10" not in lowered.source
    assert lowered.compile()(np.zeros(3)) == 3.0


def test_static_arguments():
    @fnad.jit(static_argnums=1, static_argnames="mode")
    def f(x, power, mode="sum"):
        y = x**power
        return y.sum() if mode == "sum" else y.max()

    x = np.array([1.0, 2.0, 3.0])
    assert f(x, 2) == 14.0
    assert f(x, 3, mode="max") == 27.0
    assert f.trace_count == 2
    with pytest.raises(TypeError, match="must be hashable"):
        f(x, [2])


def test_composition_in_both_orders():
    def f(x):
        return np.sum(np.sin(x) ** 2)

    x = np.linspace(-1, 1, 6)
    want = 2 * np.sin(x) * np.cos(x)
    np.testing.assert_allclose(fnad.jit(fnad.grad(f))(x), want)
    np.testing.assert_allclose(fnad.grad(fnad.jit(f))(x), want)
    value, g = fnad.jit(fnad.value_and_grad(f))(x)
    np.testing.assert_allclose(value, f(x))
    np.testing.assert_allclose(g, want)
    inner = fnad.jit(f)
    np.testing.assert_allclose(fnad.jit(lambda x: inner(x) * 2)(x), 2 * f(x))
    np.testing.assert_allclose(
        fnad.grad(fnad.grad(lambda s: fnad.jit(np.sin)(s)))(0.5), -np.sin(0.5)
    )


def test_pytrees_in_and_out():
    @fnad.jit
    def f(params, x):
        return {"out": params["w"] * x + params["b"], "n": x.size}

    out = f({"w": np.float64(2.0), "b": np.ones(3)}, np.arange(3.0))
    np.testing.assert_allclose(out["out"], [1.0, 3.0, 5.0])
    assert int(out["n"]) == 3


def test_disable_jit_runs_python():
    seen = []

    @fnad.jit
    def f(x):
        seen.append(type(x))
        return x * 2

    with fnad.disable_jit():
        f(np.ones(2))
    assert seen == [np.ndarray]


def test_errors_name_the_argument():
    f = fnad.jit(lambda x: x)
    with pytest.raises(TypeError, match="argument 0.*dtype <U"):
        f(np.array(["a"]))
    with pytest.raises(TypeError, match="argument 0.*object"):
        f(object())


def test_unsupported_pattern_is_a_clear_error():
    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(CodegenError, match="gather"):
        fnad.jit(lambda x: x[np.array([0, 1]), np.array([1, 2])])(x)


def test_jit_of_callables_without_a_name():
    import functools

    class Double:
        def __call__(self, x):
            return x * 2

    x = np.arange(3.0)
    np.testing.assert_array_equal(fnad.jit(Double())(x), 2 * x)
    scaled = fnad.jit(functools.partial(lambda x, y: x * y, y=3.0))
    np.testing.assert_array_equal(scaled(x), 3 * x)
    assert "partial" in repr(scaled)


def test_reshape_sizes_are_read_at_run_time():
    def f(x):
        n, m = x.shape[0], x.shape[1]
        return x.reshape(n * m, 1) * 2.0, x.reshape(2, -1), x.T.reshape(-1)

    jitted = fnad.jit(f)
    small, large = np.arange(12.0).reshape(4, 3), np.arange(30.0).reshape(10, 3)
    source = jitted.lower(small).source
    assert not re.search(r"\b(12|6)\b", source), source
    assert jitted.lower(large).source == source
    for x in (small, large):
        for got, want in zip(jitted(x), f(x), strict=True):
            np.testing.assert_array_equal(got, want)
    assert jitted.compile_count <= 1


def test_new_axes_on_a_0d_value_compile_with_their_gradient():
    def f(s):
        return s[None, None] * 2.0, s[None], s[()] + 1.0, np.sum(np.sin(s[None, None] * W23))

    W23 = np.arange(6.0).reshape(2, 3)
    s = np.float64(0.7)
    for got, want in zip(fnad.jit(f)(s), f(s), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert np.shape(got) == np.shape(want)
    loss = fnad.grad(lambda s: f(s)[3] + np.sum(f(s)[0]))
    np.testing.assert_allclose(fnad.jit(loss)(s), np.sum(W23 * np.cos(s * W23)) + 2.0)


def test_traced_0d_and_2d_integer_indices_compile_with_their_gradients():
    def f(x, cube, i, j, rows):
        return x[i], x[:, j], x[i, j], x[None, i], x[rows], x[:, rows], cube[:, rows, 1:]

    def loss(x, i, rows):
        # Gathers whose transposes (index_add) the gradient compiles; rows repeats indices.
        parts = (x[i], x[None, i], x[rows], x[:, rows])
        return sum(np.sum(np.arange(1.0, p.size + 1).reshape(p.shape) * p * p) for p in parts)

    rng = np.random.default_rng(0)
    x, cube = rng.normal(size=(4, 5)), rng.normal(size=(2, 4, 3))
    i, j, rows = np.int64(-2), np.int64(4), np.array([[0, 3, 3], [-1, 1, 0]])
    for got, want in zip(fnad.jit(f)(x, cube, i, j, rows), f(x, cube, i, j, rows), strict=True):
        np.testing.assert_array_equal(got, want)
    grad = fnad.grad(loss)
    np.testing.assert_allclose(fnad.jit(grad)(x, i, rows), grad(x, i, rows), rtol=1e-12)
    np.testing.assert_allclose(grad(x, i, rows), fd_grad(lambda x: loss(x, i, rows), x), rtol=1e-6)


def test_pytree_arguments_take_the_fast_path_and_keep_signatures_apart():
    from fnad.dispatch import SlowPath, tree_key

    f = fnad.jit(lambda p, x: [p["w"] * x + p["b"], len(p)])
    p = {"w": np.ones(3), "b": np.zeros(3)}
    x = np.arange(3.0)
    f(p, x)
    leaves: list = []
    assert tree_key((p, x), leaves) in f._fast_trees
    assert [id(a) for a in leaves] == [id(p["b"]), id(p["w"]), id(x)]  # fnad.tree order
    q = {"w": np.full(3, 2.0), "b": np.ones(3)}
    np.testing.assert_array_equal(f(q, x)[0], 2.0 * x + 1.0)
    wide = {"w": np.ones(3, np.float32), "b": np.zeros(3, np.float32)}
    assert f(wide, x.astype(np.float32))[0].dtype == np.float32
    extra = {**p, "c": np.ones(3)}
    assert f(extra, x)[1] == 3 and f(p, x)[1] == 2
    assert f.trace_count == 3
    with pytest.raises(SlowPath):
        tree_key(({"w": 1.0},), [])


def test_division_by_zero_gives_what_numpy_gives_not_an_exception():
    def f(x, y):
        return x / y, np.fmod(x, y), fnad.grad(lambda s: np.log(s))(x[0] * 0.0)

    x, y = np.array([1.0, -1.0, 0.0]), np.zeros(3)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = f(x, y)
        got = fnad.jit(f)(x, y)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
