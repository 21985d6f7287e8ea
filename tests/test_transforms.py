"""Derived transforms on whole programs: Jacobians and Hessians against finite-difference
matrices, third derivatives against closed forms, Hessian-vector products, ``linearize``,
``elementwise_grad``, ``vmap``'s axes and errors, and every transform under ``jit``."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fd_jacobian

import fnad
from fnad.core.primitive import Primitive
from fnad.core.spec import ArraySpec
from fnad.core.trace import bind

RNG = np.random.default_rng(42)


def program(x):
    """A whole program with a reduction, a contraction, indexing and broadcasting."""
    m = np.reshape(x, (2, 3))
    y = np.tanh(m @ np.arange(1.0, 4.0)) * np.sum(m**2, axis=1)
    return np.concatenate([y, np.exp(x[1:3]) / (1 + x[0] ** 2)])


def test_jacobians_match_finite_differences():
    x = RNG.normal(size=6)
    want = fd_jacobian(program, x)
    np.testing.assert_allclose(fnad.jacrev(program)(x), want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fnad.jacfwd(program)(x), want, rtol=1e-6, atol=1e-8)
    assert fnad.jacobian is fnad.jacrev


def test_jacobian_pytrees_are_shaped_as_out_then_in():
    def f(x, p):
        return {"u": np.sin(x) * p["a"], "v": np.sum(x) * p["b"]}

    x, p = RNG.normal(size=(2, 3)), {"a": RNG.normal(), "b": RNG.normal(size=4)}
    for jac in (fnad.jacrev, fnad.jacfwd):
        j = jac(f, argnums=(0, 1))(x, p)
        assert j["u"][0].shape == (2, 3, 2, 3) and j["u"][1]["b"].shape == (2, 3, 4)
        assert j["v"][0].shape == (4, 2, 3) and j["v"][1]["a"].shape == (4,)
        np.testing.assert_allclose(
            j["u"][0], fd_jacobian(lambda z: f(z, p)["u"], x), rtol=1e-6, atol=1e-8
        )
        np.testing.assert_allclose(
            j["v"][1]["b"], fd_jacobian(lambda b: f(x, {**p, "b": b})["v"], p["b"]), atol=1e-6
        )
        single = jac(f)(x, p)
        np.testing.assert_allclose(single["u"], j["u"][0])


def test_hessian_matches_finite_differences_and_every_composition():
    def f(x):
        return np.sum(np.sin(x) * x[::-1] ** 2) + np.prod(x[:3]) + np.log(np.sum(x**2))

    x = RNG.normal(size=5)
    want = fd_jacobian(fnad.grad(f), x)
    h = fnad.hessian(f)(x)
    np.testing.assert_allclose(h, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-12)
    for compose in (fnad.jacrev(fnad.jacrev(f)), fnad.jacfwd(fnad.jacfwd(f))):
        np.testing.assert_allclose(compose(x), h, rtol=1e-10, atol=1e-12)


def test_hessian_with_aux_and_argnums():
    def f(x, y):
        return np.sum(x**2 * y), {"norm": np.sum(x**2)}

    x, y = RNG.normal(size=3), RNG.normal(size=3)
    hess, aux = fnad.hessian(f, argnums=(0, 1), has_aux=True)(x, y)
    (hxx, hxy), (hyx, hyy) = hess
    np.testing.assert_allclose(hxx, np.diag(2 * y), atol=1e-12)
    np.testing.assert_allclose(hxy, np.diag(2 * x), atol=1e-12)
    np.testing.assert_allclose(hyx, hxy.T, atol=1e-12)
    np.testing.assert_allclose(hyy, np.zeros((3, 3)), atol=1e-12)
    np.testing.assert_allclose(aux["norm"], np.sum(x**2))


@pytest.mark.parametrize(
    "f,third",
    [
        (np.sin, lambda x: -np.cos(x)),
        (lambda x: x**4, lambda x: 24 * x),
        (lambda x: np.exp(2 * x), lambda x: 8 * np.exp(2 * x)),
        (np.log, lambda x: 2 / x**3),
        (lambda x: np.sin(x) * np.exp(x) / (1 + x**2), None),
    ],
)
def test_third_derivatives_of_scalar_functions(f, third):
    x = 0.7
    d3 = fnad.grad(fnad.grad(fnad.grad(f)))
    if third is None:
        d2 = fnad.grad(fnad.grad(f))
        expected = (d2(x + 1e-5) - d2(x - 1e-5)) / 2e-5
        np.testing.assert_allclose(d3(x), expected, rtol=1e-6)
    else:
        np.testing.assert_allclose(d3(x), third(x), rtol=1e-12)
    fwd = fnad.jacfwd(fnad.jacfwd(fnad.jacfwd(f)))(np.float64(x))
    np.testing.assert_allclose(fwd, d3(x), rtol=1e-12)


def test_hessian_vector_products_without_the_hessian():
    def f(x):
        return np.sum(np.cos(x) * x[::-1] ** 2)

    x, v = RNG.normal(size=6), RNG.normal(size=6)
    want = fnad.hessian(f)(x) @ v
    forward_over_reverse = fnad.jvp(fnad.grad(f), (x,), (v,))[1]
    reverse_over_reverse = fnad.grad(lambda z: np.vdot(fnad.grad(f)(z), v))(x)
    np.testing.assert_allclose(forward_over_reverse, want, rtol=1e-12)
    np.testing.assert_allclose(reverse_over_reverse, want, rtol=1e-12)
    # No node of the HVP graph is as large as the Hessian.
    graph = fnad.make_graph(lambda x, v: fnad.jvp(fnad.grad(f), (x,), (v,))[1])(x, v)
    sizes = [var.spec.size for node in graph.nodes for var in node.outs]
    assert max(sizes) < x.size**2


def test_linearize_matches_jvp():
    def f(x, y):
        return {"s": np.sin(x) * y, "t": np.sum(x * y)}

    x, y, tx, ty = (RNG.normal(size=3) for _ in range(4))
    out, f_jvp = fnad.linearize(f, x, y)
    want_out, want_t = fnad.jvp(f, (x, y), (tx, ty))
    for k in ("s", "t"):
        np.testing.assert_allclose(out[k], want_out[k])
        np.testing.assert_allclose(f_jvp(tx, ty)[k], want_t[k], rtol=1e-12)
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        f_jvp(np.ones(2), ty)


def test_elementwise_grad():
    x = RNG.normal(size=(2, 3))
    np.testing.assert_allclose(fnad.elementwise_grad(np.tanh)(x), 1 - np.tanh(x) ** 2)
    g = fnad.elementwise_grad(lambda x, y: x * y, argnums=1)(x, 2 * x)
    np.testing.assert_allclose(g, x)


# --- vmap ---------------------------------------------------------------------------


def test_vmap_axes_pytrees_and_axis_size():
    def f(p, x):
        return {"y": p["w"] @ x + p["b"], "n": np.sum(x**2)}

    p = {"w": RNG.normal(size=(2, 3)), "b": RNG.normal(size=2)}
    xs = RNG.normal(size=(3, 4))  # examples along axis 1
    out = fnad.vmap(f, in_axes=({"w": None, "b": None}, 1), out_axes={"y": 1, "n": 0})(p, xs)
    loop = [f(p, xs[:, i]) for i in range(4)]
    np.testing.assert_allclose(out["y"], np.stack([o["y"] for o in loop], axis=1))
    np.testing.assert_allclose(out["n"], np.stack([o["n"] for o in loop]))
    same = fnad.vmap(f, in_axes=(None, -1))(p, xs)
    np.testing.assert_allclose(same["y"], out["y"].T)
    copies = fnad.vmap(lambda x: x * 2, in_axes=None, axis_size=3)(np.ones(2))
    np.testing.assert_array_equal(copies, np.full((3, 2), 2.0))
    nested = fnad.vmap(fnad.vmap(lambda a, b: a * b, in_axes=(0, None)), in_axes=(None, 0))
    a, b = RNG.normal(size=4), RNG.normal(size=5)
    np.testing.assert_allclose(nested(a, b), b[:, None] * a[None, :])


def test_vmap_errors_name_the_problem():
    x, y = np.ones((3, 2)), np.ones((4, 2))
    with pytest.raises(ValueError, match="different sizes: size 3 for inputs \\[0\\]"):
        fnad.vmap(lambda a, b: a + b)(x, y)
    with pytest.raises(ValueError, match="pass axis_size"):
        fnad.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(ValueError, match="in_axes 2 is out of range for input 0"):
        fnad.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(ValueError, match="does not match the structure"):
        fnad.vmap(lambda a, b: a, in_axes=(0, 0, 0))(x, x)
    with pytest.raises(ValueError, match="out_axes is None for output 0"):
        fnad.vmap(lambda a: a * 2, out_axes=None)(x)


def test_missing_rules_name_the_primitive_and_transform():
    bare = Primitive("bare_sin", impl=np.sin, abstract=lambda s: s)
    with pytest.raises(NotImplementedError, match="primitive 'bare_sin' has no batch rule"):
        fnad.vmap(lambda x: bind(bare, x))(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="primitive 'bare_sin' has no jvp rule"):
        fnad.jvp(lambda x: bind(bare, x), (np.ones(2),), (np.ones(2),))


def loss(w, x, t):
    """Logistic-regression loss of one example."""
    z = x @ w
    return np.logaddexp(0.0, z) - t * z


def test_per_example_gradients_are_one_batched_graph():
    w = RNG.normal(size=5)

    def graph_for(n):
        xs, ts = RNG.normal(size=(n, 5)), (RNG.uniform(size=n) > 0.5).astype(float)
        per_example = fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0))
        return fnad.make_graph(per_example)(w, xs, ts), (xs, ts)

    small, _ = graph_for(4)
    large, (xs, ts) = graph_for(64)
    assert len(small.nodes) == len(large.nodes)  # no unrolled loop over examples
    got = fnad.eval_graph(large, w, xs, ts)[0]
    want = np.stack([fnad.grad(loss)(w, x, t) for x, t in zip(xs, ts)])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_grad_of_vmap_closes_over_the_outer_trace():
    w, xs, ts = RNG.normal(size=5), RNG.normal(size=(6, 5)), RNG.uniform(size=6)

    def total(w):
        return np.sum(fnad.vmap(lambda x, t: loss(w, x, t))(xs, ts))

    want = sum(fnad.grad(loss)(w, x, t) for x, t in zip(xs, ts))
    np.testing.assert_allclose(fnad.grad(total)(w), want, rtol=1e-12)


# --- everything under jit, in one compiled graph --------------------------------------


def test_transforms_under_jit_equal_the_interpreter():
    def h(x):
        return np.sum(np.sin(x) * x**2 + np.exp(-x))

    def everything(x, w, xs, ts):
        return {
            "hessian": fnad.hessian(h)(x),
            "jacfwd_jacrev": fnad.jacfwd(fnad.jacrev(program))(x[:6]),
            "per_example": fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0))(w, xs, ts),
            "grad3": fnad.grad(fnad.grad(fnad.grad(lambda s: np.sin(s) * s)))(x[0]),
            "hvp": fnad.jvp(fnad.grad(h), (x,), (np.cos(x),))[1],
            "grad_of_jit": fnad.grad(fnad.jit(h))(x),
        }

    x, w = RNG.normal(size=8), RNG.normal(size=5)
    xs, ts = RNG.normal(size=(7, 5)), RNG.uniform(size=7)
    compiled = fnad.jit(everything)(x, w, xs, ts)
    with fnad.disable_jit():
        reference = everything(x, w, xs, ts)
    assert sorted(compiled) == sorted(reference)
    for key in reference:
        np.testing.assert_allclose(compiled[key], reference[key], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reference["hessian"], fd_jacobian(fnad.grad(h), x), atol=1e-6)


def _array_constants(graph) -> list:
    from fnad.core.graph import Literal, subgraphs

    found = [
        a for n in graph.nodes for a in n.inputs if isinstance(a, Literal) and a.value.size > 1
    ]
    for node in graph.nodes:
        for sub in subgraphs(node):
            found += _array_constants(sub)
    return found


def test_jacobian_bases_and_seeds_are_computed_in_the_loop_not_passed_as_constants():
    def h(x):
        return np.sum(np.sin(x) * x**2 + np.exp(-x))

    x = RNG.normal(size=6)
    for transform in (fnad.hessian, lambda f: fnad.jacfwd(fnad.jacfwd(f))):
        lowered = fnad.jit(transform(h)).lower(x)
        assert _array_constants(lowered.graph) == []
        assert "iota" in str(lowered.graph)
        np.testing.assert_allclose(lowered.compile()(x), fd_jacobian(fnad.grad(h), x), atol=1e-6)
    # The identity basis is exact, for several cut points of a pytree of inputs.
    jac = fnad.jit(fnad.jacfwd(lambda a, b: (a * b[0], b**2), argnums=(0, 1)))
    (da_a, da_b), (db_a, db_b) = jac(x[:3], x[3:])
    np.testing.assert_array_equal(da_a, np.diag(np.full(3, x[3])))
    np.testing.assert_array_equal(db_b, np.diag(2 * x[3:]))
    np.testing.assert_array_equal(db_a, np.zeros((3, 3)))
    np.testing.assert_array_equal(da_b[:, 1:], np.zeros((3, 2)))
    np.testing.assert_array_equal(da_b[:, 0], x[:3])


def test_vmap_of_a_jitted_function_and_jit_of_vmap_agree():
    f = fnad.jit(lambda a, b: np.tanh(a @ b) * np.max(b))
    a, bs = RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3, 2))
    want = np.stack([f(a, b) for b in bs])
    np.testing.assert_allclose(fnad.vmap(f, in_axes=(None, 0))(a, bs), want, rtol=1e-12)
    assert fnad.vmap(f, in_axes=(None, 0))(a, bs).shape == (4, 2, 2)
    spec = ArraySpec((4, 3, 2), np.dtype(float))
    assert fnad.make_graph(fnad.vmap(f, in_axes=(None, 0)))(a, bs).in_specs[1] == spec
