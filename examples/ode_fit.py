"""Fit the parameters of an ODE by differentiating through a ``fori_loop`` integrator.

A damped oscillator ``x'' = -k x - c x'`` is integrated with fourth-order Runge-Kutta
inside ``fnad.fori_loop``, which stays one loop in the graph (and in the compiled code)
however many steps it takes. The loss sums the squared distance between the simulated
and the observed positions after every step, accumulated in the loop's carry. Observations
come from the true parameters plus noise; Adam (``fnad.optim.adam``) fits ``k`` and ``c``
with a jitted loss-and-gradient step, and the fit must land close to the true values.

    python examples/ode_fit.py
"""

import numpy as np

import fnad

DT, STEPS = 0.05, 300
TRUE = {"k": np.float64(4.0), "c": np.float64(0.3)}
Y0 = np.array([1.0, 0.0])  # position, velocity


def field(params, y):
    """The oscillator as a first-order system: d(x, v)/dt = (v, -k x - c v)."""
    x, v = y[0], y[1]
    return np.stack([v, -params["k"] * x - params["c"] * v])


def rk4(params, y):
    k1 = field(params, y)
    k2 = field(params, y + 0.5 * DT * k1)
    k3 = field(params, y + 0.5 * DT * k2)
    k4 = field(params, y + DT * k3)
    return y + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def simulate(params):
    """Positions after each step, by a plain Python loop (only used to make the data)."""
    y, xs = Y0, []
    for _ in range(STEPS):
        y = rk4(params, y)
        xs.append(y[0])
    return np.array(xs)


def loss(params, observed):
    """Mean squared error of the position after every step."""

    def body(i, carry):
        y, total = carry
        y = rk4(params, y)
        return y, total + (y[0] - observed[i]) ** 2

    _, total = fnad.fori_loop(0, STEPS, body, (Y0, np.float64(0.0)))
    return total / STEPS


rng = np.random.default_rng(0)
observed = simulate(TRUE) + 0.01 * rng.normal(size=STEPS)

opt = fnad.optim.adam(0.05)


@fnad.jit
def step(params, state, observed):
    value, grads = fnad.value_and_grad(loss)(params, observed)
    params, state = opt.update(grads, state, params)
    return params, state, value


params = {"k": np.float64(2.0), "c": np.float64(1.0)}
state = opt.init(params)
for it in range(150):
    params, state, value = step(params, state, observed)
    if it % 50 == 0:
        k, c = float(params["k"]), float(params["c"])
        print(f"step {it:3d}  loss {float(value):.6f}  k {k:.4f}  c {c:.4f}")

k, c = float(params["k"]), float(params["c"])
assert step.compile_count == 1
print(f"fitted k = {k:.4f} (true 4.0), c = {c:.4f} (true 0.3)")
assert abs(k - 4.0) < 0.05 and abs(c - 0.3) < 0.05, (k, c)
