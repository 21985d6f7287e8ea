"""Tests of fnad.testing: check_grads passes on correct derivatives and catches planted wrong
rules (naming the argument, mode and order); assert_allclose and check_backends name what
differs; the strategies draw what they promise and programs shrink to the culprit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import find, given, settings

import fnad
from fnad.core.primitive import PRIMITIVES
from fnad.testing import assert_allclose, check_backends, check_grads
from fnad.testing import strategies as fst
from fnad.testing.paths import describe_leaves, leaf_paths

Params = namedtuple("Params", ["w", "b"])


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- check_grads on correct functions ---------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3])
def test_passes_on_correct_functions(order):
    x, y = _rng().uniform(0.5, 2.0, (2, 3)), _rng(1).normal(size=(3,))
    check_grads(lambda x, y: np.log(x) * np.sin(y) + x**3 / y.sum(), (x, y), order=order)
    check_grads(lambda x: np.tanh(x @ x.T).sum(axis=0), (x,), order=order)


def test_passes_on_pytrees_in_and_out():
    params = {"layer": Params(_rng().normal(size=(3, 2)), _rng(1).normal(size=2)), "s": 0.5}
    xs = [_rng(2).normal(size=(4, 3)), _rng(3).normal(size=(4, 3))]

    def f(params, xs):
        w, b = params["layer"]
        hidden = [np.tanh(x @ w + b) * params["s"] for x in xs]
        return {"sum": hidden[0] + hidden[1], "prod": (hidden[0] * hidden[1]).sum()}

    check_grads(f, (params, xs), order=2)


def test_integer_leaves_are_held_fixed():
    idx = np.array([2, 0, 0])
    check_grads(lambda x, idx: np.sin(x[idx]), (np.linspace(0.1, 1.0, 3), idx), order=2)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_float32_uses_float32_step_and_tolerances(order):
    x = np.linspace(-1.5, 1.5, 7).astype(np.float32)

    def f(x):
        return np.exp(np.sin(x)) * x

    check_grads(f, (x,), order=order)
    # float64's step drowns in float32 rounding: the defaults are what make this pass.
    with pytest.raises(AssertionError):
        check_grads(f, (x,), order=1, eps=1e-6, rtol=1e-5, atol=1e-6)


def test_works_on_jitted_functions():
    f = fnad.jit(lambda x, y: np.sum(np.cos(x) * y))
    check_grads(f, (np.linspace(0.0, 1.0, 4), np.ones(4)), order=2)


# --- planted wrong rules ----------------------------------------------------------------------


def _wrong_sin_vjp(ct, x, *, out):
    return (ct * np.sin(x),)


def _wrong_sin_jvp(ts, x, *, out):
    return None if ts[0] is None else ts[0] * np.sin(x)


def _f(x, y):
    return np.sin(y) * x


ARGS = (np.linspace(0.1, 1.0, 3), np.linspace(-1.0, 2.0, 3))


def test_catches_a_wrong_vjp_and_names_argument_and_mode(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["sin"], "vjp", _wrong_sin_vjp)
    with pytest.raises(AssertionError) as info:
        check_grads(_f, ARGS, order=1)
    message = str(info.value)
    assert "mode 'rev' at order 1" in message
    assert "argument 1 ('y')" in message
    assert "direction v:" in message and "expected" in message and "got" in message
    assert "worst relative error" in message


def test_catches_a_wrong_jvp_and_names_argument_and_mode(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["sin"], "jvp", _wrong_sin_jvp)
    with pytest.raises(AssertionError) as info:
        check_grads(_f, ARGS, order=1)
    message = str(info.value)
    assert "mode 'fwd' at order 1" in message
    assert "argument 1 ('y')" in message
    assert "worst element" in message


def test_modes_select_the_checks(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["sin"], "jvp", _wrong_sin_jvp)
    check_grads(_f, ARGS, order=2, modes=("rev",))
    with pytest.raises(AssertionError, match="mode 'fwd'"):
        check_grads(_f, ARGS, order=1, modes="fwd")


def test_names_the_leaf_of_a_pytree_argument(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["sin"], "vjp", _wrong_sin_vjp)

    def f(params, x):
        return np.sin(params.w) * x + params.b * x

    with pytest.raises(AssertionError, match=r"argument 0 \('params'\) at \.w\n"):
        check_grads(f, (Params(np.ones(3), np.ones(3)), np.arange(3.0)), modes=("rev",))


def test_names_the_output_leaf(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["sin"], "jvp", _wrong_sin_jvp)

    def f(x):
        return {"ok": x * 2.0, "bad": [x, np.sin(x)]}

    with pytest.raises(AssertionError, match=r"worst element: output \['bad'\]\[1\] at index"):
        check_grads(f, (ARGS[1],), modes="fwd")


def test_catches_a_wrong_second_derivative_at_order_2(monkeypatch):
    # sin's own rules are right; the VJP of cos, reached only by differentiating sin's
    # derivative, is wrong.
    monkeypatch.setattr(PRIMITIVES["cos"], "vjp", lambda ct, x, *, out: (ct * np.sin(x),))
    check_grads(np.sin, (ARGS[0],), order=1)
    with pytest.raises(AssertionError) as info:
        check_grads(np.sin, (ARGS[0],), order=2)
    assert "mode 'rev' at order 2" in str(info.value)
    assert "vjp(" in str(info.value) or "jvp(" in str(info.value)


def test_dot_product_test_catches_what_finite_differences_miss(monkeypatch):
    # Off by one part in a million: inside the finite-difference tolerance, far outside
    # the tolerance of comparing the two modes with each other.
    monkeypatch.setattr(
        PRIMITIVES["sin"], "vjp", lambda ct, x, *, out: (ct * np.cos(x) * (1 + 1e-6),)
    )
    check_grads(_f, ARGS, order=1, modes=("rev",))
    with pytest.raises(AssertionError, match="disagrees with forward mode"):
        check_grads(_f, ARGS, order=1)


def test_failure_is_deterministic(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["sin"], "vjp", _wrong_sin_vjp)
    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as info:
            check_grads(_f, ARGS, order=1, seed=3)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize(
    "args,kwargs,error,match",
    [
        (np.ones(3), {}, TypeError, "args must be a tuple"),
        ((np.ones(3),), {"order": 0}, ValueError, "order must be an int >= 1"),
        ((np.ones(3),), {"modes": ("fwd", "backward")}, ValueError, "modes must be"),
        ((np.arange(3),), {}, TypeError, "no floating-point input"),
        ((np.ones(2) * 1j,), {}, TypeError, r"argument 0 \('x'\) is complex"),
    ],
)
def test_bad_input_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_grads(np.sin, args, **kwargs)


# --- assert_allclose, check_backends, leaf names ----------------------------------------------


def test_assert_allclose_names_the_leaf():
    tree = {"a": [np.ones(2), 3.0], "b": Params(np.zeros(1), 1.0)}
    assert_allclose(tree, {"a": [np.ones(2), 3.0 + 1e-9], "b": Params(np.zeros(1), 1.0)}, 1e-8)
    with pytest.raises(AssertionError, match=r"leaf \['a'\]\[1\]"):
        assert_allclose(tree, {"a": [np.ones(2), 3.1], "b": Params(np.zeros(1), 1.0)})
    with pytest.raises(AssertionError, match=r"leaf \['b'\]\.w: actual has shape \(1,\)"):
        assert_allclose(tree, {"a": [np.ones(2), 3.0], "b": Params(np.zeros(()), 1.0)})
    with pytest.raises(AssertionError, match="structures differ"):
        assert_allclose(tree, {"a": [np.ones(2)], "b": Params(np.zeros(1), 1.0)})


def test_leaf_descriptions():
    assert leaf_paths({"b": [1, 2], "a": None, "c": 3}) == ["['b'][0]", "['b'][1]", "['c']"]

    def f(x, params, *rest):
        pass

    names = describe_leaves(f, (1.0, {"w": 1, "b": (2,)}, 3, 4))
    assert names == [
        "argument 0 ('x')",
        "argument 1 ('params') at ['b'][0]",
        "argument 1 ('params') at ['w']",
        "argument 2 ('rest[0]')",
        "argument 3 ('rest[1]')",
    ]


def test_check_backends_passes_and_returns_the_interpreter_result():
    def f(x, p):
        return {"y": np.tanh(x * p["a"]).sum(axis=0), "z": x.T @ x}

    x = _rng().normal(size=(3, 2))
    out = check_backends(f, (x, {"a": np.full((3, 2), 0.5)}))
    assert_allclose(out, {"y": np.tanh(x * 0.5).sum(axis=0), "z": x.T @ x}, rtol=1e-12)


def test_check_backends_catches_a_planted_codegen_bug(monkeypatch):
    # arctan's fused-loop code comes from its scalar template (no vectorized helper).
    monkeypatch.setattr(PRIMITIVES["arctan"], "scalar", "math.cos({x})")
    with pytest.raises(AssertionError, match=r"compiled function.*\n.*leaf \['s'\]"):
        check_backends(lambda x: {"s": np.arctan(x) * 2.0}, (np.linspace(0.0, 1.0, 5),))


def test_importing_fnad_testing_does_not_import_hypothesis():
    code = "import sys, fnad, fnad.testing; assert 'hypothesis' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert fnad.testing.check_grads is check_grads


# --- strategies -------------------------------------------------------------------------------


@settings(max_examples=fst.max_examples(50))
@given(fst.arrays(dtype=np.float32), fst.pytrees(), fst.broadcastable_shapes(num_shapes=3))
def test_strategies_draw_what_they_promise(x, tree, shapes):
    assert x.dtype == np.float32 and np.all(np.abs(x) <= 2.0) and np.all(np.isfinite(x))
    assert all(isinstance(leaf, np.ndarray) for leaf in fnad.tree.tree_leaves(tree))
    np.broadcast_shapes(*shapes)


@settings(max_examples=fst.max_examples(100))
@given(fst.programs(ops=["add", "log", "sqrt", "div", "arcsin", "reduce_max"]))
def test_programs_stay_in_each_primitive_domain(prog):
    values = list(prog.args)
    for step in prog.steps:
        xs = [values[i] for i in step.args]
        if step.op in ("log", "sqrt"):
            assert np.all(xs[0] >= 0.1)
        if step.op == "div":
            assert np.all(np.abs(xs[1]) >= 0.2)
        if step.op == "arcsin":
            assert np.all(np.abs(xs[0]) <= 0.9)
        values.append(step.apply(values))
    assert np.all(np.isfinite(values[-1]))


def test_program_repr_lists_inputs_and_steps():
    prog = find(fst.programs(ops=["sin", "mul"]), lambda p: len(p.steps) >= 2)
    text = repr(prog)
    assert text.startswith("Program:\n  x0 = np.array(")
    assert "v1 = " in text and "v2 = " in text and text.endswith("return v2")


def test_programs_shrink_to_the_planted_bug(monkeypatch):
    monkeypatch.setattr(PRIMITIVES["tanh"], "vjp", lambda ct, x, *, out: (ct * out,))

    def gradient_is_wrong(prog):
        try:
            check_grads(prog, prog.args, order=1, modes=("rev",))
        except AssertionError:
            return True
        return False

    smallest = find(
        fst.programs(max_steps=5),
        gradient_is_wrong,
        settings=settings(max_examples=300, database=None, derandomize=True),
    )
    assert [step.op for step in smallest.steps] == ["tanh"], repr(smallest)


def test_profiles():
    selected = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    assert settings.default.max_examples == settings.get_profile(selected).max_examples
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.deadline is None and ci.max_examples == 100
    try:
        settings.load_profile("thorough")
        assert fst.max_examples(20) == 200
        settings.load_profile("ci")
        assert fst.max_examples(20) == 20
    finally:
        settings.load_profile(selected)
