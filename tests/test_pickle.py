"""Jitted and grad functions pickle by reference to the user's module-level function.

One process compiles and pickles; a fresh process unpickles, runs them and must find the
compiled code in the disk cache (Numba reports cache hits and no misses). Results are
compared with NumPy and with the reference interpreter.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fnad

ROOT = Path(__file__).resolve().parent.parent

USER_MODULE = textwrap.dedent("""\
    import numpy as np
    import fnad

    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    @fnad.jit
    def predict(w, x):
        return np.tanh(x @ w)

    train_grad = fnad.jit(fnad.grad(loss))

    @fnad.grad
    def sin_grad(x):
        return np.sum(np.sin(x))

    class Model:
        @fnad.jit
        def apply(self, w, x):
            return x @ w
    """)

SAVE = textwrap.dedent("""\
    import pickle, numpy as np, fnad, usermod
    w, x = np.full((3, 2), 0.5), np.ones((4, 3))
    usermod.predict(w, x), usermod.train_grad(w, x)
    things = [usermod.predict, usermod.train_grad, fnad.grad(usermod.loss),
              fnad.value_and_grad(usermod.loss, argnums=(0, 1)), usermod.sin_grad]
    with open("things.pkl", "wb") as fh:
        pickle.dump(things, fh)
    """)

LOAD = textwrap.dedent("""\
    import pickle, numpy as np
    with open("things.pkl", "rb") as fh:
        predict, train_grad, grad, value_and_grad, sin_grad = pickle.load(fh)
    w, x = np.full((3, 2), 0.5), np.ones((4, 3))
    (value, (gw, gx)) = value_and_grad(w, x)
    np.savez("outs.npz", predict=predict(w, x), train_grad=train_grad(w, x), grad=grad(w, x),
             value=value, gw=gw, gx=gx, sin_grad=sin_grad(np.zeros(2)))
    for f in (predict, train_grad):
        stats = next(iter(f._plans.values())).fn.stats
        print(f.__name__, sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    """)


def _run(script: str, cwd: Path) -> str:
    env = dict(os.environ, FNAD_CACHE_DIR=str(cwd / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pickled_functions_run_in_a_new_process_from_the_disk_cache(tmp_path):
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    _run(SAVE, tmp_path)
    stats = _run(LOAD, tmp_path).split()
    # name, cache hits, cache misses: the machine code came from the disk cache.
    assert stats[0::3] == ["predict", "loss"]
    assert all(int(h) > 0 for h in stats[1::3]) and stats[2::3] == ["0", "0"]
    got = np.load(tmp_path / "outs.npz")
    w, x = np.full((3, 2), 0.5), np.ones((4, 3))
    np.testing.assert_allclose(got["predict"], np.tanh(x @ w), rtol=1e-13)
    h = np.tanh(x @ w)
    want_gw = x.T @ (2 * h * (1 - h**2))
    np.testing.assert_allclose(got["train_grad"], want_gw, rtol=1e-12)
    np.testing.assert_allclose(got["grad"], want_gw, rtol=1e-12)
    np.testing.assert_allclose(got["gw"], want_gw, rtol=1e-12)
    np.testing.assert_allclose(got["gx"], (2 * h * (1 - h**2)) @ w.T, rtol=1e-12)
    np.testing.assert_allclose(got["value"], np.sum(h**2), rtol=1e-13)
    np.testing.assert_allclose(got["sin_grad"], np.ones(2))


def _cube(x):
    return np.sum(x**3)


def _quartic(x):
    return x**4


def test_grad_functions_round_trip_in_process():
    x = np.array([1.0, 2.0])
    back = pickle.loads(pickle.dumps(fnad.grad(_cube)))
    np.testing.assert_allclose(back(x), 3 * x**2)
    value, g = pickle.loads(pickle.dumps(fnad.value_and_grad(_cube)))(x)
    np.testing.assert_allclose(value, 9.0)
    np.testing.assert_allclose(g, 3 * x**2)
    second = pickle.loads(pickle.dumps(fnad.grad(fnad.grad(_quartic))))
    np.testing.assert_allclose(second(np.float64(2.0)), 12 * 2.0**2)
    assert repr(back) == "<fnad.grad of _cube>"


def test_local_functions_cannot_be_pickled():
    def local(x):
        return x

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(fnad.jit(local))
