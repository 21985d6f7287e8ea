"""A Sequential MLP on scikit-learn's bundled 8x8 digits (no download), trained with Adam.

One jitted training step (forward, ``value_and_grad``, optimizer update) compiled once;
a tqdm progress bar over the epochs; the test accuracy must reach 95%; the loss curve is
written as a PNG (to the system's temp directory unless ``--out`` says where).

    pip install ".[examples]"
    python examples/mlp_digits.py [--epochs 30] [--out loss.png]
"""

import argparse
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import fnad
from fnad import nn

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--batch", type=int, default=64)
parser.add_argument(
    "--out", type=Path, default=Path(tempfile.gettempdir()) / "fnad_digits_loss.png"
)
args = parser.parse_args()

digits = load_digits()
x = digits.data / 16.0  # pixels in [0, 1]
x_train, x_test, y_train, y_test = train_test_split(
    x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
)

# The last layer is linear: the loss takes logits (stable); softmax turns them into
# probabilities for prediction.
model = nn.Sequential(
    [nn.Dense(64, activation="relu"), nn.Dense(32, activation="relu"), nn.Dense(10)]
)
params = model.init(0, (None, 64))
opt = fnad.optim.adam(3e-3)
state = opt.init(params)


def loss(params, x, y):
    return nn.softmax_cross_entropy(model.apply(params, x), y)


@fnad.jit
def train_step(params, state, x, y):
    value, grads = fnad.value_and_grad(loss)(params, x, y)
    params, state = opt.update(grads, state, params)
    return params, state, value


rng = np.random.default_rng(0)
steps = len(x_train) // args.batch  # full batches only: one signature, one compile
losses = []
for _ in (bar := tqdm(range(args.epochs), desc="training", unit="epoch")):
    order = rng.permutation(len(x_train))
    for i in range(steps):
        batch = order[i * args.batch : (i + 1) * args.batch]
        params, state, value = train_step(params, state, x_train[batch], y_train[batch])
        losses.append(float(value))
    bar.set_postfix(loss=f"{np.mean(losses[-steps:]):.4f}")

probs = nn.softmax(model.apply(params, x_test))
accuracy = np.mean(np.argmax(probs, axis=1) == y_test)
print(
    f"test accuracy {accuracy:.3f} after {args.epochs} epochs ({train_step.compile_count} compile)"
)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(losses, lw=0.8)
ax.set(xlabel="step", ylabel="training loss", yscale="log", title="MLP on 8x8 digits")
fig.tight_layout()
fig.savefig(args.out, dpi=100)
print(f"loss curve written to {args.out}")
assert accuracy >= 0.95, f"test accuracy {accuracy:.3f} is below 0.95"
