"""fnad in one screen: an ordinary NumPy function, its traced graph, the derived backward
graph, its gradient, and a finite-difference check; then the same for a small model."""

import inspect

import numpy as np

import fnad


def f(x):
    return np.sum(np.sin(x) * x**2 + np.exp(-x))


def loss(params, x, y):
    hidden = np.tanh(x @ params["w1"] + params["b1"])
    pred = hidden @ params["w2"] + params["b2"]
    return np.mean((pred - y) ** 2)


def heading(title):
    print(f"\n{title}\n{'-' * len(title)}")


def numeric_grad(fun, x, eps=1e-6):
    """Central finite differences of scalar ``fun`` at array ``x``, one element at a time."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        g[i] = (fun(x + step) - fun(x - step)) / (2 * eps)
    return g


heading("an ordinary NumPy function")
print(inspect.getsource(f))
x = np.array([0.5, 1.0, 2.0])

heading("its graph, traced on shapes and dtypes only: fnad.make_graph(f)(x)")
graph = fnad.make_graph(f)(x)
print(graph)

heading("the backward graph, derived from it: fnad.make_graph(fnad.grad(f))(x)")
print(fnad.make_graph(fnad.grad(f))(x))

heading("fnad.vjp_graph(graph): inputs (x, output cotangent), outputs (f(x), grad)")
print(fnad.vjp_graph(graph))

heading("gradient vs central finite differences")
value, g = fnad.value_and_grad(f)(x)
fd = numeric_grad(f, x)
print(f"f(x)             = {value:.6f}")
print(f"fnad.grad(f)(x)  = {g}")
print(f"finite diff      = {fd}")
print(f"max |difference| = {np.max(np.abs(g - fd)):.2e}")
assert np.allclose(g, fd, rtol=1e-6, atol=1e-8)

heading("a 2-layer model: the loss takes a dict of parameters")
print(inspect.getsource(loss))
rng = np.random.default_rng(0)
params = {"w1": rng.normal(size=(3, 4)), "b1": np.zeros(4),
          "w2": rng.normal(size=(4, 1)), "b2": np.zeros(1)}  # fmt: skip
xs, ys = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
print(fnad.make_graph(loss)(params, xs, ys))

heading("gradients per parameter (a dict like params) vs finite differences")
grads = fnad.grad(loss)(params, xs, ys)
for name in sorted(params):

    def loss_of(p, name=name):
        return loss({**params, name: p}, xs, ys)

    fd = numeric_grad(loss_of, params[name])
    err = np.max(np.abs(grads[name] - fd))
    print(f"{name}: shape {grads[name].shape}, max |grad - finite diff| = {err:.2e}")
    assert np.allclose(grads[name], fd, rtol=1e-5, atol=1e-7)
print("\nall gradients agree with finite differences")
