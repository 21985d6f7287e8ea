"""custom_vjp, custom_jvp and stop_gradient: the custom rules are the ones used (a
deliberately different rule shows in the derivative), correct rules match finite
differences, and everything composes with jit (compiled equals interpreter), vmap,
higher order, nondiff_argnums and pytrees; bad rules give errors naming what is wrong.
Checkpointing is tested in tests/test_rematerialize.py."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp

RNG = np.random.default_rng(7)


def fd_grad(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function of one array."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = eps
        g[k] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


# -- a custom_vjp with a correct rule, and one with a deliberately scaled rule ------------


@fnad.custom_vjp
def sin_mul(x, y):
    return np.sin(x) * y


def _sin_mul_fwd(x, y):
    return sin_mul(x, y), (np.cos(x), np.sin(x), y)


def _sin_mul_bwd(res, ct):
    cos_x, sin_x, y = res
    return ct * cos_x * y, ct * sin_x


sin_mul.defvjp(_sin_mul_fwd, _sin_mul_bwd)


@fnad.custom_vjp
def scaled(x):
    """sin(x), whose custom gradient is 3 cos(x): visibly not the true one."""
    return np.sin(x)


scaled.defvjp(lambda x: (np.sin(x), x), lambda x, ct: (3.0 * ct * np.cos(x),))


def test_custom_vjp_rule_is_used():
    x = RNG.normal(size=4)
    g = fnad.grad(lambda x: np.sum(scaled(x)))(x)
    np.testing.assert_allclose(g, 3.0 * np.cos(x))
    # forward mode differentiates the function itself (documented)
    _, t = fnad.jvp(scaled, (x,), (np.ones(4),))
    np.testing.assert_allclose(t, np.cos(x))


def test_custom_vjp_matches_finite_differences():
    x, y = RNG.normal(size=3), RNG.normal(size=3)

    def loss(x, y):
        return np.sum(sin_mul(x, y) ** 2)

    gx, gy = fnad.grad(loss, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, fd_grad(lambda x: loss(x, y), x), rtol=1e-6)
    np.testing.assert_allclose(gy, fd_grad(lambda y: loss(x, y), y), rtol=1e-6)


def test_custom_vjp_second_order():
    """grad of grad differentiates the bwd, written with fnad ops."""
    x, y = RNG.normal(size=3), RNG.normal(size=3)

    def first(x):
        return fnad.grad(lambda x: np.sum(sin_mul(x, y)))(x)

    hvp = fnad.grad(lambda x: np.sum(first(x) * y))(x)
    np.testing.assert_allclose(hvp, fd_grad(lambda x: np.sum(first(x) * y), x), rtol=1e-5)
    # the scaled rule's second derivative is the derivative of 3 cos: -3 sin
    g2 = fnad.grad(lambda x: np.sum(fnad.grad(lambda x: np.sum(scaled(x)))(x)))(x)
    np.testing.assert_allclose(g2, -3.0 * np.sin(x))


def test_custom_vjp_under_jit_equals_interpreter():
    x, y = RNG.normal(size=5), RNG.normal(size=5)

    def both(x, y):
        g1 = fnad.grad(lambda x: np.sum(sin_mul(x, y) ** 2))(x)
        g2 = fnad.grad(lambda x: np.sum(scaled(x)))(x)
        return g1, g2, sin_mul(x, y)

    jitted = fnad.jit(both)
    for got, want in zip(jitted(x, y), both(x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(jitted(x, y)[1], 3.0 * np.cos(x))
    lowered = jitted.lower(x, y)
    assert "custom_vjp_call" in str(lowered.traced)
    assert "custom_vjp_call" not in str(lowered.graph)


def test_custom_vjp_vmap_and_grad_of_vmap_use_the_rule():
    xs = RNG.normal(size=(4, 3))
    batched = fnad.vmap(fnad.grad(lambda x: np.sum(scaled(x))))(xs)
    np.testing.assert_allclose(batched, 3.0 * np.cos(xs))
    # grad through a vmapped custom function: the batched node keeps the rule
    g = fnad.grad(lambda xs: np.sum(fnad.vmap(scaled)(xs)))(xs)
    np.testing.assert_allclose(g, 3.0 * np.cos(xs))
    # an unbatched argument's cotangent is summed over the batch
    y = RNG.normal(size=3)
    gy = fnad.grad(lambda y: np.sum(fnad.vmap(sin_mul, in_axes=(0, None))(xs, y)))(y)
    np.testing.assert_allclose(gy, np.sum(np.sin(xs), axis=0))
    g = fnad.jit(fnad.grad(lambda xs: np.sum(fnad.vmap(scaled)(xs))))(xs)
    np.testing.assert_allclose(g, 3.0 * np.cos(xs))


def test_custom_vjp_nondiff_argnums_and_pytrees():
    def power(n, p):
        return {"a": p["x"] ** n, "b": p["y"] * 2.0}

    f = fnad.custom_vjp(power, nondiff_argnums=(0,))
    seen = []

    def fwd(n, p):
        return power(n, p), p["x"]

    def bwd(n, x, ct):
        seen.append(n)
        return ({"x": n * x ** (n - 1) * ct["a"] * 10.0, "y": None},)

    f.defvjp(fwd, bwd)
    p = {"x": RNG.normal(size=3), "y": RNG.normal(size=2)}
    g = fnad.grad(lambda p: np.sum(f(3, p)["a"]) + np.sum(f(3, p)["b"]))(p)
    np.testing.assert_allclose(g["x"], 30.0 * p["x"] ** 2)
    np.testing.assert_allclose(g["y"], np.zeros(2))
    assert seen and set(seen) == {3}
    np.testing.assert_allclose(f(2, p)["a"], p["x"] ** 2)


def test_custom_vjp_integer_argument_and_float32():
    @fnad.custom_vjp
    def take(x, i):
        return x[i]

    take.defvjp(lambda x, i: (x[i], (x, i)), lambda r, ct: (fnp.zeros_like(r[0]) + ct, None))
    x = np.arange(4.0, dtype=np.float32)
    g = fnad.grad(lambda x: take(x, np.int64(2)) * 2.0)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.full(4, 2.0, np.float32))
    # a Python float cotangent is cast to the argument's dtype
    double = fnad.custom_vjp(lambda x: x * 2.0)
    double.defvjp(lambda x: (x * 2.0, None), lambda r, ct: (1.0,))
    g = fnad.grad(double)(np.float32(3.0))
    assert g.dtype == np.float32 and g == 1.0


def test_custom_vjp_errors():
    @fnad.custom_vjp
    def nodef(x):
        return x

    with pytest.raises(TypeError, match=r"'nodef' has no rule: call nodef.defvjp"):
        nodef(1.0)

    @fnad.custom_vjp
    def two(x, y):
        return x * y

    two.defvjp(lambda x, y: (x * y, (x, y)), lambda r, ct: (ct * r[1],))
    with pytest.raises(TypeError, match=r"tuple of 2 cotangent\(s\).*'x'.*'y'.*length 1"):
        fnad.grad(two)(1.0, 2.0)
    two.defvjp(lambda x, y: (x * y, (x, y)), lambda r, ct: (ct * r[1], np.ones(3)))
    with pytest.raises(ValueError, match=r"argument 1 \('y'\): cotangent of shape \(3,\)"):
        fnad.grad(two)(1.0, 2.0)
    two.defvjp(lambda x, y: x * y, lambda r, ct: (ct, ct))
    with pytest.raises(TypeError, match="fwd of 'two' must return a pair"):
        fnad.grad(two)(1.0, 2.0)
    two.defvjp(lambda x, y: ((x, y), None), lambda r, ct: (ct, ct))
    with pytest.raises(TypeError, match="fwd of 'two' returned an output of structure"):
        fnad.grad(two)(1.0, 2.0)
    with pytest.raises(TypeError, match="fwd must be callable"):
        two.defvjp(None, lambda r, ct: ct)


def test_custom_vjp_closure_and_nondiff_errors():
    def outer(w):
        @fnad.custom_vjp
        def f(x):
            return x * w

        f.defvjp(lambda x: (x * w, None), lambda r, ct: (ct * w,))
        return f(2.0)

    with pytest.raises(TypeError, match=r"custom_vjp\(f\) closes over 1 traced value"):
        fnad.grad(outer)(3.0)
    # without differentiation a closure is fine, compiled too
    np.testing.assert_allclose(fnad.jit(outer)(np.float64(3.0)), 6.0)
    g = fnad.custom_vjp(lambda n, x: x * n, nondiff_argnums=(0,))
    g.defvjp(lambda n, x: (x * n, None), lambda n, r, ct: (ct * n,))
    with pytest.raises(TypeError, match="is in nondiff_argnums but holds a traced array"):
        fnad.grad(lambda x: g(x, x))(1.0)
    with pytest.raises(ValueError, match="nondiff_argnums 0 is out of range"):
        fnad.custom_vjp(lambda: 1.0, nondiff_argnums=(0,))()


# -- custom_jvp -----------------------------------------------------------------------


@fnad.custom_jvp
def log1pexp(x):
    return np.log1p(np.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t / (1.0 + np.exp(-x))


@fnad.custom_jvp
def safe_norm(x):
    return np.sqrt(np.sum(x**2))


@safe_norm.defjvp
def _safe_norm_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    out = safe_norm(x)
    nonzero = out > 0
    denom = fnp.where(nonzero, out, 1.0)
    return out, fnp.where(nonzero, np.sum(x * t) / denom, 0.0)


def test_custom_jvp_fixes_unstable_gradients():
    x = np.array([-3.0, 0.0, 5.0, 800.0])
    with np.errstate(over="ignore", invalid="ignore"):
        plain = fnad.elementwise_grad(lambda x: np.log1p(np.exp(x)))(x)
        assert np.isnan(plain[-1])
        g = fnad.elementwise_grad(log1pexp)(x)
    np.testing.assert_allclose(g, 1.0 / (1.0 + np.exp(-x)))
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(fnad.grad(lambda x: np.sqrt(np.sum(x**2)))(np.zeros(3))).all()
    np.testing.assert_array_equal(fnad.grad(safe_norm)(np.zeros(3)), np.zeros(3))
    x = RNG.normal(size=3)
    np.testing.assert_allclose(fnad.grad(safe_norm)(x), fd_grad(safe_norm, x), rtol=1e-6)


def test_custom_jvp_rule_is_used_both_modes():
    @fnad.custom_jvp
    def f(x, y):
        return np.sin(x) * y

    @f.defjvp
    def _(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), 2.0 * tx * np.cos(x) * y + 5.0 * ty * np.sin(x)

    x, y = RNG.normal(size=3), RNG.normal(size=3)
    _, t = fnad.jvp(f, (x, y), (np.ones(3), np.zeros(3)))
    np.testing.assert_allclose(t, 2.0 * np.cos(x) * y)
    gx, gy = fnad.grad(lambda x, y: np.sum(f(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 2.0 * np.cos(x) * y)
    np.testing.assert_allclose(gy, 5.0 * np.sin(x))
    jitted = fnad.jit(fnad.grad(lambda x, y: np.sum(f(x, y)), argnums=(0, 1)))
    for got, want in zip(jitted(x, y), (gx, gy)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert "custom_jvp_call" not in str(jitted.lower(x, y).graph)


def test_custom_jvp_higher_order_vmap_and_jit():
    x = RNG.normal(size=4) * 3
    sig = 1.0 / (1.0 + np.exp(-x))
    h = fnad.elementwise_grad(fnad.elementwise_grad(log1pexp))(x)
    np.testing.assert_allclose(h, sig * (1 - sig), rtol=1e-10)
    xs = RNG.normal(size=(3, 4))
    got = fnad.vmap(fnad.grad(lambda v: np.sum(log1pexp(v) ** 2)))(xs)
    want = np.stack([fd_grad(lambda v: np.sum(np.log1p(np.exp(v)) ** 2), v) for v in xs])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    g = fnad.grad(lambda xs: np.sum(fnad.vmap(log1pexp)(xs * 400.0)))(xs)
    np.testing.assert_allclose(g, 400.0 / (1.0 + np.exp(-400.0 * xs)))
    jitted = fnad.jit(fnad.grad(lambda xs: np.sum(fnad.vmap(log1pexp)(xs * 400.0))))
    np.testing.assert_allclose(jitted(xs), g, rtol=1e-12)


def test_custom_jvp_nondiff_argnums_and_errors():
    def scale(k, x):
        return x * k

    f = fnad.custom_jvp(scale, nondiff_argnums=(0,))
    f.defjvp(lambda k, p, t: (scale(k, p[0]), t[0] * k * 10.0))
    np.testing.assert_allclose(fnad.grad(lambda x: f(2.0, x))(1.0), 20.0)

    @fnad.custom_jvp
    def nodef(x):
        return x

    with pytest.raises(TypeError, match=r"'nodef' has no rule: call nodef.defjvp"):
        nodef(1.0)
    g = fnad.custom_jvp(lambda x: x * 2.0)
    g.defjvp(lambda p, t: p[0] * 2.0)
    with pytest.raises(TypeError, match="must return a pair"):
        fnad.jvp(g, (1.0,), (1.0,))
    g.defjvp(lambda p, t: (p[0] * 2.0, np.ones(3)))
    with pytest.raises(ValueError, match=r"tangent of shape \(3,\) for output 0 of shape \(\)"):
        fnad.grad(g)(1.0)


# -- stop_gradient ----------------------------------------------------------------------


def test_stop_gradient():
    x = RNG.normal(size=3)
    np.testing.assert_allclose(fnad.grad(lambda x: np.sum(x * fnad.stop_gradient(x)))(x), x)
    tree = fnad.stop_gradient({"a": x, "b": (1.0, x)})
    assert tree["b"][0] == 1.0 and tree["a"] is x
    g = fnad.grad(lambda p: np.sum(fnad.stop_gradient(p)["a"] * p["b"]))({"a": x, "b": x})
    np.testing.assert_allclose(g["a"], 0.0)
    np.testing.assert_allclose(g["b"], x)
    _, t = fnad.jvp(lambda x: fnad.stop_gradient(x) * x, (x,), (np.ones(3),))
    np.testing.assert_allclose(t, x)
    h = fnad.hessian(lambda x: np.sum(fnad.stop_gradient(x) * x**2))(x)
    np.testing.assert_allclose(h, np.diag(2 * x))
    np.testing.assert_allclose(fnad.vmap(fnad.stop_gradient)(np.ones((2, 3))), np.ones((2, 3)))
    jitted = fnad.jit(fnad.grad(lambda x: np.sum(np.sin(x) * fnad.stop_gradient(np.cos(x)))))
    np.testing.assert_allclose(jitted(x), np.cos(x) ** 2, rtol=1e-12)
    assert "stop_gradient" not in str(jitted.lower(x).graph)
