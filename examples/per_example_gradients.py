"""Per-example gradients with ``vmap(grad(loss))``, as used for per-example clipping.

Differentially private SGD clips each example's gradient to a maximum norm before
averaging, so it needs one gradient per example rather than the batch mean.
``fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0))`` maps the gradient of a single-example
loss over the batch axis of ``x`` and ``y`` while sharing the parameters; ``fnad.jit``
compiles the batched graph once. The result is checked against a Python loop of
``fnad.grad``, one example at a time.

    python examples/per_example_gradients.py
"""

import numpy as np

import fnad

rng = np.random.default_rng(0)
batch, d_in, d_hidden = 32, 4, 8
X = rng.normal(size=(batch, d_in))
Y = np.sin(X.sum(axis=1))
params = {
    "W1": rng.normal(size=(d_in, d_hidden)) / 2,
    "b1": np.zeros(d_hidden),
    "w2": rng.normal(size=d_hidden) / 3,
    "b2": np.zeros(()),
}


def loss(params, x, y):
    """Squared error of a one-hidden-layer network on a single example."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    pred = h @ params["w2"] + params["b2"]
    return (pred - y) ** 2


per_example = fnad.jit(fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0)))
grads = per_example(params, X, Y)
print({name: g.shape for name, g in sorted(grads.items())})

# the same gradients, one example at a time
grad_one = fnad.grad(loss)
for i in range(batch):
    expected = grad_one(params, X[i], Y[i])
    for name in params:
        assert np.allclose(grads[name][i], expected[name], rtol=1e-10, atol=1e-12), (i, name)
print(f"{batch} per-example gradients match a loop of fnad.grad")


def per_example_norms(grads):
    """The L2 norm of each example's whole gradient (all parameters together)."""
    squares = [np.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in grads.values()]
    return np.sqrt(sum(squares))


norms = per_example_norms(grads)
print("per-example gradient norms:", np.round(norms[:8], 4), "...")

# clip each example's gradient to norm <= clip, then average (the DP-SGD update direction)
clip = float(np.median(norms))
scale = np.minimum(1.0, clip / norms)
clipped = {name: g * scale.reshape((-1,) + (1,) * (g.ndim - 1)) for name, g in grads.items()}
clipped_norms = per_example_norms(clipped)
assert np.all(clipped_norms <= clip * (1 + 1e-12))
update = {name: g.mean(axis=0) for name, g in clipped.items()}
print(f"clipped to norm {clip:.4f}: max norm now {clipped_norms.max():.4f}")
print("mean clipped gradient norm:", np.sqrt(sum(np.sum(u**2) for u in update.values())))
