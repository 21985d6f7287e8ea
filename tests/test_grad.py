"""Whole-function tests of the public API: grad, value_and_grad, vjp, jvp, make_graph,
vjp_graph, jvp_graph, eval_graph and verify, on plain NumPy code.

Every expected value comes from NumPy itself, central finite differences or a closed form
written by hand, never from fnad.
"""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.graph import Graph, Node, Var
from fnad.core.primitive import Primitive, same_spec
from fnad.core.trace import bind
from fnad.ops.elementwise import sin_p

HERE = os.path.basename(__file__)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))
W = RNG.normal(size=(4, 2))
C = np.arange(12.0).reshape(3, 4) / 7.0


def numeric_grad(f, x, eps=1e-6):
    """Central finite differences of scalar ``f`` at ``x`` (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        g[i] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return g


PROGRAMS = {
    "sin-sum-keepdims": lambda x: np.sum(np.sum(np.sin(x), axis=1, keepdims=True) * C[:, :1]),
    "mean-axis": lambda x: np.sum(np.mean(x**2, axis=0) * C[0]),
    "max-axis": lambda x: np.sum(np.max(x, axis=1) * C[:, 0]),
    "dot-tanh": lambda x: np.sum(np.tanh(np.dot(x, W))),
    "matmul-operator": lambda x: np.sum((x @ W) ** 2) + np.sum(x.T @ x),
    "einsum-three": lambda x: np.einsum("ij,jk,ik->", x, W, np.cos(x @ W)),
    "einsum-diagonal": lambda x: np.einsum("ii->", x[:, :3] @ x[:, :3].T),
    "where": lambda x: np.sum(np.where(x > 0, x**2, -3.0 * x)),
    "clip": lambda x: np.sum(np.clip(x, -0.5, 0.5) * C),
    "concatenate": lambda x: np.sum(np.concatenate([x, np.exp(x)], axis=1) ** 2),
    "stack": lambda x: np.sum(np.stack([x, np.sin(x)], axis=-1)[..., 1] * C),
    "reshape-T-swapaxes": lambda x: np.sum(x.reshape(2, 6).T.swapaxes(0, 1).ravel() * C.ravel()),
    "transpose-moveaxis": lambda x: np.sum(np.moveaxis(x[None], 0, -1)[..., 0].transpose() ** 3),
    "expand-squeeze": lambda x: np.sum(np.squeeze(np.expand_dims(x, (0, 2)), 0) ** 2 * C[:, None]),
    "astype-mask": lambda x: np.sum(x * (x > 0.1).astype(x.dtype) * x),
    "likes": lambda x: np.sum((x + np.ones_like(x)) * np.full_like(x, 2.5) + np.zeros_like(x)),
    "basic-index": lambda x: np.sum(x[1:, ::-2] ** 2) + x[0, 1] * x[-1, -1],
    "var-std": lambda x: np.sum(np.var(x, axis=1)) + np.std(x),
    "prod": lambda x: np.sum(np.prod(x, axis=0)),
    "logsumexp": lambda x: np.log(np.sum(np.exp(x - np.max(x)))) + np.max(x),
    "ufunc-reduce": lambda x: np.add.reduce(x, axis=0) @ C[0] + np.maximum.reduce(x).sum(),
    "division-power": lambda x: np.sum(1.0 / (1.0 + x**2) + np.abs(x) ** 1.5),
    "minimum-broadcast": lambda x: np.sum(np.minimum(x, x[:, :1].T[:, :3].T)),
    "python-iteration": lambda x: sum(np.dot(row, row) for row in x),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_numpy_program_matches_finite_differences(name):
    f = PROGRAMS[name]
    g = fnad.grad(f)(X)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == X.shape
    np.testing.assert_allclose(g, numeric_grad(f, X), rtol=1e-6, atol=1e-7)


def test_pytree_arguments_give_gradients_of_the_same_structure():
    def loss(params, x):
        hidden = np.tanh(x @ params["layers"][0] + params["pair"][1])
        return np.sum((hidden @ params["layers"][1]) ** 2) * params["pair"][0]

    params = {
        "layers": [RNG.normal(size=(4, 3)), RNG.normal(size=(3, 2))],
        "pair": (np.array(1.5), RNG.normal(size=3)),
        "unused": None,
    }
    g = fnad.grad(loss)(params, X)
    assert sorted(g) == ["layers", "pair", "unused"] and g["unused"] is None
    assert isinstance(g["layers"], list) and isinstance(g["pair"], tuple)
    for path in [("layers", 0), ("layers", 1), ("pair", 0), ("pair", 1)]:

        def leaf_loss(leaf, path=path):
            p = {"layers": list(params["layers"]), "pair": list(params["pair"]), "unused": None}
            p[path[0]][path[1]] = leaf
            return loss(p, X)

        expected = numeric_grad(leaf_loss, params[path[0]][path[1]])
        np.testing.assert_allclose(g[path[0]][path[1]], expected, rtol=1e-6, atol=1e-7)


def test_argnums_tuple_and_value_and_grad():
    def f(a, b, c):
        return np.sum(np.sin(a) * b) * c

    a, b, c = np.array([0.1, 0.2]), np.array([3.0, 4.0]), 2.0
    value, (ga, gc) = fnad.value_and_grad(f, argnums=(0, 2))(a, b, c)
    np.testing.assert_allclose(value, np.sum(np.sin(a) * b) * c)
    np.testing.assert_allclose(ga, np.cos(a) * b * c)
    np.testing.assert_allclose(gc, np.sum(np.sin(a) * b))
    assert fnad.grad(f, argnums=(1,))(a, b, c)[0].shape == (2,)


def test_has_aux_returns_aux_untouched():
    def f(x):
        return np.sum(x**2), {"mean": np.mean(x), "label": "run-1"}

    g, aux = fnad.grad(f, has_aux=True)(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0])
    assert aux["label"] == "run-1" and float(aux["mean"]) == 2.0
    (value, aux), g = fnad.value_and_grad(f, has_aux=True)(np.array([1.0, 2.0]))
    assert float(value) == 5.0 and float(aux["mean"]) == 1.5


def test_closure_over_arrays_and_over_outer_tracers():
    weights = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(fnad.grad(lambda x: np.sum(weights * x**2))(np.ones(3)), 2 * weights)

    def outer(x):
        inner = fnad.grad(lambda y: np.sum(np.sin(x * y)))  # closes over the outer tracer x
        return np.sum(inner(x) ** 2)

    x = np.array([0.3, 0.7, -1.1])
    # inner(x) = x cos(x^2), so d/dx sum(inner^2) = 2 x cos(x^2) (cos(x^2) - 2 x^2 sin(x^2)).
    expected = 2 * x * np.cos(x**2) * (np.cos(x**2) - 2 * x**2 * np.sin(x**2))
    np.testing.assert_allclose(fnad.grad(outer)(x), expected)


def test_higher_orders_match_closed_forms():
    d2 = fnad.grad(fnad.grad(lambda x: x**3 * np.exp(x)))
    for x in [-1.0, 0.5, 2.0]:
        np.testing.assert_allclose(d2(x), (6 * x + 6 * x**2 + x**3) * np.exp(x))
    d3 = fnad.grad(fnad.grad(fnad.grad(np.sin)))
    np.testing.assert_allclose(d3(0.7), -np.cos(0.7))
    np.testing.assert_allclose(fnad.grad(fnad.grad(lambda x: np.sum(x**4)))(1.5), 12 * 1.5**2)


def test_python_control_flow_differentiates_the_path_taken():
    def branch(x):
        if x > 0:
            return x**2
        return -3 * x

    assert fnad.grad(branch)(2.0) == 4.0 and fnad.grad(branch)(-2.0) == -3.0

    def doubling(x):
        while x < 10:
            x = x * 2
        return x

    assert fnad.grad(doubling)(1.5) == 8.0  # 1.5 -> 12 takes three doublings
    assert fnad.grad(lambda x: sum(x**i for i in range(4)))(2.0) == 1 + 2 * 2 + 3 * 4


def test_vjp_with_nonscalar_output_and_several_primals():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0])
    out, vjp_fn = fnad.vjp(lambda a, b: np.outer(np.sin(a), b), a, b)
    np.testing.assert_allclose(out, np.outer(np.sin(a), b))
    ct = np.arange(6.0).reshape(3, 2)
    ga, gb = vjp_fn(ct)
    np.testing.assert_allclose(ga, np.cos(a) * (ct @ b))
    np.testing.assert_allclose(gb, np.sin(a) @ ct)
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(np.ones(3))


def test_pytree_outputs_in_vjp_and_jvp():
    def f(d):
        return {"double": d["x"] * 2, "total": (np.sum(d["x"] ** 2),), "none": None}

    x = np.array([1.0, -1.0])
    out, vjp_fn = fnad.vjp(f, {"x": x})
    assert sorted(out) == ["double", "none", "total"] and out["none"] is None
    (g,) = vjp_fn({"double": np.ones(2), "total": (np.array(3.0),), "none": None})
    np.testing.assert_allclose(g["x"], 2 + 6 * x)
    _, t = fnad.jvp(f, ({"x": x},), ({"x": np.array([1.0, 0.0])},))
    np.testing.assert_allclose(t["double"], [2.0, 0.0])
    np.testing.assert_allclose(t["total"][0], 2.0)
    assert t["none"] is None


def test_jvp_and_vjp_agree_on_a_program():
    def program(x, w):
        h = np.tanh(x @ w)
        h = np.concatenate([h, h[:, ::-1] ** 2], axis=1)
        return np.max(h, axis=0) + np.mean(np.where(h > 0, h, 0.1 * h), axis=0)

    tx, tw, u = RNG.normal(size=X.shape), RNG.normal(size=W.shape), RNG.normal(size=4)
    out, jv = fnad.jvp(program, (X, W), (tx, tw))
    _, vjp_fn = fnad.vjp(program, X, W)
    gx, gw = vjp_fn(u)
    np.testing.assert_allclose(out, program(X, W))
    np.testing.assert_allclose(u @ jv, np.sum(gx * tx) + np.sum(gw * tw))
    eps = 1e-6
    fd = (program(X + eps * tx, W + eps * tw) - program(X - eps * tx, W - eps * tw)) / (2 * eps)
    np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-8)


def test_graph_transforms_run_on_the_interpreter():
    f = PROGRAMS["dot-tanh"]
    graph = fnad.verify(fnad.make_graph(f)(X))
    value, g = fnad.eval_graph(fnad.verify(fnad.vjp_graph(graph)), X, np.array(1.0))
    np.testing.assert_allclose(value, f(X))
    np.testing.assert_allclose(g, numeric_grad(f, X), rtol=1e-6)
    t = RNG.normal(size=X.shape)
    _, tangent = fnad.eval_graph(fnad.verify(fnad.jvp_graph(graph)), X, t)
    np.testing.assert_allclose(tangent, np.sum(numeric_grad(f, X) * t), rtol=1e-6)
    fnad.verify(fnad.vjp_graph(fnad.vjp_graph(graph)))
    fnad.verify(fnad.jvp_graph(fnad.vjp_graph(graph)))


# --- errors ---------------------------------------------------------------------------


def test_concretization_error_names_the_user_line():
    lines = []

    def f(x):
        lines.append(inspect.currentframe().f_lineno + 1)
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(fnad.ConcretizationError) as info:
        fnad.make_graph(f)(np.ones(3))
    assert f"{HERE}:{lines[0]}" in str(info.value)
    with pytest.raises(fnad.ConcretizationError, match=HERE):
        fnad.make_graph(lambda x: x[x > 0])(np.ones(3))  # a mask decides the result's shape
    np.testing.assert_allclose(fnad.grad(lambda x: np.sum(f(x)))(np.ones(2)), [1.0, 1.0])


@pytest.mark.parametrize("bad", [np.arange(3), np.array([True, False]), 3])
def test_integer_and_boolean_inputs_are_named(bad):
    def f(scale, counts):
        return np.sum(counts * scale)

    with pytest.raises(TypeError, match="'counts'"):
        fnad.grad(f, argnums=1)(1.0, bad)


def test_nonscalar_output_points_to_vjp_and_jacrev():
    with pytest.raises(TypeError, match="vjp.*jacrev"):
        fnad.grad(np.sin)(np.ones(3))


def test_shape_mismatch_names_the_user_file():
    with pytest.raises(ValueError, match="broadcast") as info:
        fnad.grad(lambda x: np.sum(x + np.ones(4)))(np.ones(3))
    assert HERE in str(info.value)


@pytest.mark.parametrize("fn", [np.median, np.linalg.eig, np.nanvar])
def test_unsupported_numpy_function_on_a_tracer(fn):
    with pytest.raises(fnad.UnsupportedError, match="not supported on traced values"):
        fnad.grad(lambda x: np.sum(fn(x)).real)(np.ones(3))


def test_asarray_of_a_tracer_is_a_type_error():
    with pytest.raises(TypeError, match="cannot be converted to a NumPy array"):
        fnad.grad(lambda x: np.sum(np.asarray(x)))(np.ones(3))


def test_missing_rule_is_named():
    throwaway = Primitive("throwaway", impl=np.sin, abstract=same_spec)
    with pytest.raises(NotImplementedError, match="fnad: primitive 'throwaway' has no vjp rule"):
        fnad.grad(lambda x: np.sum(bind(throwaway, x)))(np.ones(2))
    with pytest.raises(NotImplementedError, match="has no jvp rule"):
        fnad.jvp(lambda x: bind(throwaway, x), (np.ones(2),), (np.ones(2),))


@pytest.mark.parametrize("argnums", [2, -3, (0, 5)])
def test_argnums_out_of_range(argnums):
    with pytest.raises(ValueError, match="out of range"):
        fnad.grad(lambda x, y: np.sum(x * y), argnums=argnums)(np.ones(2), np.ones(2))


# --- dtypes (NEP 50, as NumPy 2 does it) -----------------------------------------------

F32, F64 = np.ones(3, np.float32), np.linspace(0.5, 1.5, 3)
I64, I32, B = np.arange(1, 4), np.arange(1, 4, dtype=np.int32), np.array([True, False, True])
DTYPE_CASES = [
    (lambda x: x * 2.5, (F32,)),
    (lambda x, y: x + y, (F32, F64)),
    (lambda x: x + 1.5, (I64,)),
    (lambda x: np.float64(2.0) * x, (F32,)),
    (lambda x: x * np.float32(2.0), (I32,)),
    (lambda x: x * 2, (I32,)),
    (lambda x: x / 2, (I32,)),
    (lambda x: x // 2, (I32,)),
    (lambda x: x % 3, (I64,)),
    (lambda x: x**2, (I32,)),
    (lambda x: np.sin(x), (np.arange(3, dtype=np.int8),)),
    (lambda x: np.sum(x), (B,)),
    (lambda x: np.mean(x), (I32,)),
    (lambda x: np.where(x > 1, x, 0.0), (F32,)),
    (lambda x, y: np.concatenate([x, y]), (F32, I64)),
    (lambda x, y: x @ y, (I32, F32)),
    (lambda x: x + 1j, (F32,)),
]


@pytest.mark.parametrize("f, args", DTYPE_CASES)
def test_result_dtypes_match_numpy(f, args):
    expected = np.asarray(f(*args))
    (spec,) = fnad.make_graph(f)(*args).out_specs
    assert (spec.dtype, spec.shape) == (expected.dtype, expected.shape)


def test_float32_inputs_give_float32_gradients():
    g = fnad.grad(lambda x: np.sum(np.sin(x) * 2.5 + x**2))(F32)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(1.0) * 2.5 + 2.0, rtol=1e-6)
    assert fnad.grad(lambda x: np.sum(x.astype(np.float32) * 2))(F64).dtype == np.float64


def test_integer_floor_division_result_can_index():
    x = np.array([-7.0, -3.5, 2.0, 5.0])
    np.testing.assert_allclose(fnad.grad(lambda x: x[np.argmax(x) // 2] * 2)(x), [0, 2, 0, 0])


# --- ties and indexing -------------------------------------------------------------------


def test_extremes_split_gradients_evenly_between_ties():
    grad = fnad.grad
    np.testing.assert_allclose(grad(np.max)(np.array([1.0, 3.0, 3.0])), [0, 0.5, 0.5])
    np.testing.assert_allclose(grad(np.min)(np.array([2.0, 2.0, 2.0, 5.0])), [1 / 3] * 3 + [0])
    rows = np.array([[1.0, 4.0, 4.0], [2.0, 2.0, 0.0]])
    expected = [[0, 0.5, 0.5], [0.5, 0.5, 0]]
    np.testing.assert_allclose(grad(lambda x: np.sum(np.max(x, axis=1)))(rows), expected)
    gx, gy = grad(lambda x, y: np.sum(np.maximum(x, y)), argnums=(0, 1))(
        np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    )
    np.testing.assert_allclose(gx, [0, 0.5, 1])
    np.testing.assert_allclose(gy, [1, 0.5, 0])
    clipped = grad(lambda x: np.sum(np.clip(x, 0.0, 1.0)))(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]))
    np.testing.assert_allclose(clipped, [0, 0.5, 1, 0.5, 0])


def test_indexing_gradients():
    def f(c):
        return c[:, [0, 2, 2], ..., 1]

    x = np.arange(1.0, 7.0)
    np.testing.assert_allclose(fnad.grad(lambda x: np.sum(x[[0, 0, 1]]))(x), [2, 1, 0, 0, 0, 0])
    mask_grad = fnad.grad(lambda x: np.sum(x[x > 3.5] ** 2))(x)
    np.testing.assert_allclose(mask_grad, [0, 0, 0, 8, 10, 12])
    np.testing.assert_allclose(fnad.grad(lambda x: x[::-2] @ x[4::-2])(x), [2, 1, 4, 3, 6, 5])
    m = x.reshape(2, 3)
    w = np.arange(6.0).reshape(2, 3)
    g = fnad.grad(lambda m: np.sum(m[None, ..., ::-1, None][..., 0] * w))(m)
    np.testing.assert_allclose(g, [[2, 1, 0], [5, 4, 3]])  # m[i, 2 - j] meets w[i, j]
    assert fnad.make_graph(lambda m: m[[]])(m).out_specs[0].shape == m[[]].shape
    # An empty Ellipsis still separates advanced indices: NumPy moves their axes first.
    cube = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(fnad.eval_graph(fnad.make_graph(f)(cube), cube)[0], f(cube))


# --- the verifier --------------------------------------------------------------------------


def test_verify_accepts_derived_graphs_and_rejects_broken_ones():
    graph = fnad.make_graph(PROGRAMS["where"])(X)
    for derived in [graph, fnad.vjp_graph(graph), fnad.jvp_graph(graph)]:
        assert fnad.verify(derived) is derived
    spec = fnad.ArraySpec((3,), np.float64)
    a, stray, out = Var(spec), Var(spec), Var(spec)
    broken = [
        Graph((a,), (Node(sin_p, (stray,), {}, (out,)),), (out,)),  # undefined input
        Graph((a,), (Node(sin_p, (a,), {}, (a,)),), (a,)),  # defined twice
        Graph((a,), (), (out,)),  # undefined output
        Graph((a,), (Node(sin_p, (a,), {}, (Var(fnad.ArraySpec((2,), np.float64)),)),), (a,)),
    ]
    for bad in broken:
        with pytest.raises(fnad.GraphError):
            fnad.verify(bad)


def test_leaked_tracer_names_the_trace_it_escaped():
    saved = []

    def keep(x):
        saved.append(x)
        return np.sin(x)

    x = np.ones(3)
    uses = {
        "numpy": lambda t: np.sin(t) * 2.0,  # fnad.numpy records without bind
        "operator": lambda t: t + 1.0,
        "method": lambda t: t.sum(),
        "index": lambda t: t[0],
        "fnp": lambda t: fnp.where(t > 0, t, 0.0),
    }

    def loss(x):
        return np.sum(keep(x))

    for wrapped, name in [(fnad.jit(keep), "jit(keep)"), (fnad.grad(loss), "grad(loss)")]:
        saved.clear()
        wrapped(x)
        (leaked,) = saved
        for what, use in uses.items():
            with pytest.raises(
                fnad.LeakedTracerError, match=re.escape(f"escaped the trace of {name}")
            ) as info:
                use(leaked)
            assert HERE in str(info.value), what
