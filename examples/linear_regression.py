"""Linear regression, X @ W + b, fitted by gradient descent with a jitted training step.

The step function computes the loss and its gradient with ``fnad.value_and_grad`` and
applies ``fnad.optim.sgd``; ``fnad.jit`` compiles the whole step once. The fitted weights
are checked against the least-squares solution from ``numpy.linalg.lstsq``.

    python examples/linear_regression.py
"""

import numpy as np

import fnad

rng = np.random.default_rng(0)
n, d, k = 256, 5, 2
X = rng.normal(size=(n, d))
W_true, b_true = rng.normal(size=(d, k)), np.array([0.5, -2.0])
Y = X @ W_true + b_true + 0.01 * rng.normal(size=(n, k))


def loss(params, x, y):
    pred = x @ params["W"] + params["b"]
    return np.mean((pred - y) ** 2)


opt = fnad.optim.sgd(0.1)


@fnad.jit
def step(params, state, x, y):
    value, grads = fnad.value_and_grad(loss)(params, x, y)
    params, state = opt.update(grads, state, params)
    return params, state, value


params = {"W": np.zeros((d, k)), "b": np.zeros(k)}
state = opt.init(params)
for epoch in range(200):
    params, state, value = step(params, state, X, Y)
    if epoch % 40 == 0:
        print(f"step {epoch:3d}  loss {float(value):.6f}")

# the exact least-squares fit, for comparison
ones = np.ones((n, 1))
exact, *_ = np.linalg.lstsq(np.hstack([X, ones]), Y, rcond=None)
print("fitted b:", params["b"], " exact b:", exact[-1])
assert np.allclose(params["W"], exact[:-1], atol=1e-6), "W did not converge"
assert np.allclose(params["b"], exact[-1], atol=1e-6), "b did not converge"
print(f"converged: final loss {float(loss(params, X, Y)):.6f}, {step.compile_count} compile")
