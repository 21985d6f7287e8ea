"""Property-based tests (hypothesis) of whole traced expressions.

* Broadcasting binary operations: for random mutually broadcastable shapes, the gradient of
  ``sum(op(x, y) * w)`` with respect to both operands matches central finite differences.
* Indexing: for random index expressions (ints, slices with any step, ``None``,
  ``Ellipsis``, integer arrays with repeats), the gradient of ``sum(x[idx] * w)`` matches
  finite differences and a NumPy reference built with ``np.add.at``.

Examples are bounded (``max_examples=50``) so the file runs in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnad

EPS = 1e-6


def numeric_grad(f, x):
    """Central finite differences of scalar ``f`` at float64 ``x``."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = EPS
        g[i] = (f(x + step) - f(x - step)) / (2 * EPS)
    return g


# --- broadcasting binary operations ---------------------------------------------------------


def _where(x, y, mask):
    return np.where(mask, x, y)


BINARY = {
    "add": lambda x, y, mask: x + y,
    "mul": lambda x, y, mask: x * y,
    "sub": lambda x, y, mask: np.subtract(x, y),
    "div": lambda x, y, mask: x / y,
    "maximum": lambda x, y, mask: np.maximum(x, y),
    "where": _where,
}


@st.composite
def binary_cases(draw):
    name = draw(st.sampled_from(sorted(BINARY)))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x_shape, y_shape = shapes.input_shapes
    x = rng.uniform(-2.0, 2.0, x_shape)
    # Divisors stay away from zero; the other operations are smooth almost everywhere.
    y = rng.uniform(0.5, 2.0, y_shape) * rng.choice([-1.0, 1.0], y_shape)
    if name != "div":
        y = rng.uniform(-2.0, 2.0, y_shape)
    w = rng.normal(size=shapes.result_shape)
    mask = rng.random(shapes.result_shape) > 0.5
    return name, x, y, w, mask


@settings(max_examples=50, deadline=None)
@given(binary_cases())
def test_broadcasting_binary_gradients(case):
    name, x, y, w, mask = case
    op = BINARY[name]

    def loss(x, y):
        return np.sum(op(x, y, mask) * w)

    value, (gx, gy) = fnad.value_and_grad(loss, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(value, loss(x, y), rtol=1e-12, atol=1e-12)
    assert gx.shape == x.shape and gy.shape == y.shape
    assert gx.dtype == gy.dtype == np.float64
    np.testing.assert_allclose(gx, numeric_grad(lambda v: loss(v, y), x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gy, numeric_grad(lambda v: loss(x, v), y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_static_shapes_match_numpy(name):
    x, y = np.ones((3, 1, 2)), np.full((4, 1), 0.5)
    mask = np.ones((3, 4, 2), bool)
    graph = fnad.verify(fnad.make_graph(lambda x, y: BINARY[name](x, y, mask))(x, y))
    expected = BINARY[name](x, y, mask)
    assert graph.out_specs == (fnad.ArraySpec(expected.shape, expected.dtype),)
    np.testing.assert_allclose(fnad.eval_graph(graph, x, y)[0], expected)


# --- index expressions --------------------------------------------------------------------


def _slices(d):
    bound = st.one_of(st.none(), st.integers(-d - 2, d + 2))
    step = st.sampled_from([None, 1, 2, 3, -1, -2, -3])
    return st.builds(slice, bound, bound, step)


def _entry(draw, d, n_array):
    kind = draw(st.sampled_from(["int", "slice", "slice", "array"]))
    if kind == "int":
        return draw(st.integers(-d, d - 1))
    if kind == "slice":
        return draw(_slices(d))
    # Every integer array has length n_array, so several of them broadcast together.
    values = draw(st.lists(st.integers(-d, d - 1), min_size=n_array, max_size=n_array))
    return np.array(values)


@st.composite
def index_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    n_array = draw(st.integers(1, 4))
    ellipsis = draw(st.booleans())
    consumed = draw(st.integers(0, len(shape)))
    split = draw(st.integers(0, consumed)) if ellipsis else consumed
    front = [_entry(draw, d, n_array) for d in shape[:split]]
    back = [_entry(draw, d, n_array) for d in shape[len(shape) - (consumed - split) :]]
    entries = front + ([Ellipsis] if ellipsis else []) + back
    index = []
    for entry in entries:
        index += [None] * (draw(st.integers(0, 3)) == 0) + [entry]
    index += [None] * (draw(st.integers(0, 3)) == 0)
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, tuple(index), seed


@settings(max_examples=50, deadline=None)
@given(index_cases())
def test_index_gradients(case):
    shape, index, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    expected_out = x[index]
    w = rng.normal(size=expected_out.shape)

    def loss(x):
        return np.sum(x[index] * w)

    graph = fnad.verify(fnad.make_graph(lambda x: x[index])(x))
    assert graph.out_specs == (fnad.ArraySpec(expected_out.shape, np.float64),)
    np.testing.assert_array_equal(fnad.eval_graph(graph, x)[0], expected_out)
    g = fnad.grad(loss)(x)
    reference = np.zeros_like(x)
    np.add.at(reference, index, w)
    np.testing.assert_allclose(g, reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)


@settings(max_examples=50, deadline=None)
@given(index_cases())
def test_index_forward_mode_agrees_with_reverse_mode(case):
    shape, index, seed = case
    rng = np.random.default_rng(seed)
    x, t = rng.normal(size=shape), rng.normal(size=shape)
    out, tangent = fnad.jvp(lambda x: x[index] * 2.0, (x,), (t,))
    np.testing.assert_array_equal(out, x[index] * 2.0)
    np.testing.assert_allclose(tangent, t[index] * 2.0, rtol=1e-12, atol=1e-12)
