"""Newton's method on the Rosenbrock function with fnad.grad and fnad.hessian.

Newton's step solves ``H dx = -g``; far from the minimum the Hessian of this banana-shaped
valley is not positive definite, so the step is damped (Levenberg-Marquardt style: add
``mu * I`` and shrink ``mu`` after a step that lowers f). fnad's Hessian is first checked
against the one derived by hand.

    python examples/rosenbrock_newton.py
"""

import numpy as np

import fnad


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def hand_hessian_2d(x):
    a, b = x
    return np.array([[1200 * a**2 - 400 * b + 2, -400 * a], [-400 * a, 200.0]])


grad = fnad.grad(rosenbrock)
hessian = fnad.hessian(rosenbrock)

x = np.array([-1.2, 1.0])
assert np.allclose(hessian(x), hand_hessian_2d(x)), "hessian differs from the hand-derived one"


def newton(x, grad, hessian, max_iter=200):
    """Damped Newton from ``x``; returns the minimizer and the number of iterations."""
    mu = 1e-3
    for it in range(max_iter):
        g = grad(x)
        if np.linalg.norm(g) < 1e-10:
            return x, it
        dx = np.linalg.solve(hessian(x) + mu * np.eye(len(x)), -g)
        if rosenbrock(x + dx) < rosenbrock(x):
            x, mu = x + dx, mu / 3
            print(f"iter {it:3d}  f {float(rosenbrock(x)):.3e}  |g| {np.linalg.norm(g):.2e}")
        else:
            mu *= 10  # rejected: lean towards gradient descent
    raise RuntimeError(f"no convergence in {max_iter} iterations, at {x}")


x, iters = newton(np.array([-1.2, 1.0]), grad, hessian)
print(f"minimum at {x} after {iters} iterations")
assert np.allclose(x, [1.0, 1.0], atol=1e-8), "Newton did not reach the minimum (1, 1)"

# the same in 5 dimensions, with gradient and Hessian jitted (compiled once, reused)
x, iters = newton(np.full(5, 0.5), fnad.jit(grad), fnad.jit(hessian))
print(f"5-d: minimum at {x} after {iters} iterations")
assert np.allclose(x, 1.0, atol=1e-8), "Newton did not reach the minimum (1, ..., 1)"
