"""``fnad.export``: the written module runs where fnad cannot be imported.

The exported modules run in a separate interpreter (``python -I``, fnad blocked from
importing even though it may be installed), and their results are compared with NumPy and
with gradients from the reference interpreter (``fnad.grad`` without ``jit``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fnad

TABLE = np.random.default_rng(5).normal(size=(7, 3))  # a constant too large to inline


def model(params, x, labels):
    h = np.tanh(x @ params["w"] + TABLE[:5])
    return {"out": h[labels] * params["scale"], "norm": np.sum(h**2)}, [labels * 2]


def loss(params, x, labels):
    outs, _ = model(params, x, labels)
    return outs["norm"] + np.sum(outs["out"] ** 3)


def _args():
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(4, 3)), "scale": np.float64(1.5)}
    return params, rng.normal(size=(5, 4)), np.array([0, 4, 2, 2])


def _numpy_model(params, x, labels):
    h = np.tanh(x @ params["w"] + TABLE[:5])
    return h[labels] * params["scale"], np.sum(h**2), labels * 2


RUNNER = textwrap.dedent("""\
    import sys
    sys.modules["fnad"] = None  # NOTE: installed or not, fnad cannot be imported here
    sys.path.insert(0, ".")
    import numpy as np
    import fwd, bwd
    try:
        import fnad
        sys.exit("fnad was importable")
    except ImportError:
        pass
    data = np.load("args.npz")
    params = {"w": data["w"], "scale": data["scale"]}
    outs, (twice,) = fwd.model(params, data["x"], data["labels"])
    grads = bwd.grad_loss(params, data["x"], data["labels"])
    np.savez("outs.npz", out=outs["out"], norm=outs["norm"], twice=twice,
             gw=grads["w"], gscale=grads["scale"])
    try:
        fwd.model(params, data["x"][:2], data["labels"])
    except TypeError as exc:
        print(exc)
    """)


def test_exported_modules_run_without_fnad(tmp_path):
    params, x, labels = _args()
    fnad.export(model, params, x, labels, path=tmp_path / "fwd.py")
    fnad.export(fnad.grad(loss), params, x, labels, path=tmp_path / "bwd.py", name="grad_loss")
    for name in ("fwd.py", "bwd.py"):
        text = (tmp_path / name).read_text()
        assert "import fnad" not in text and "from fnad" not in text
    np.savez(tmp_path / "args.npz", w=params["w"], scale=params["scale"], x=x, labels=labels)
    (tmp_path / "run.py").write_text(RUNNER)
    done = subprocess.run(
        [sys.executable, "-I", "run.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "array 2 must be float64[5, 4] as exported, got float64[2, 4]" in done.stdout
    got = np.load(tmp_path / "outs.npz")
    out, norm, twice = _numpy_model(params, x, labels)
    np.testing.assert_allclose(got["out"], out, rtol=1e-12)
    np.testing.assert_allclose(got["norm"], norm, rtol=1e-12)
    assert got["norm"].shape == () and got["twice"].dtype == labels.dtype
    np.testing.assert_array_equal(got["twice"], twice)
    want = fnad.grad(loss)(params, x, labels)  # the reference interpreter
    np.testing.assert_allclose(got["gw"], want["w"], rtol=1e-10)
    np.testing.assert_allclose(got["gscale"], want["scale"], rtol=1e-10)


def test_export_checks_its_arguments(tmp_path):
    with pytest.raises(TypeError, match="without static arguments"):
        fnad.export(fnad.jit(np.tile, static_argnums=1), np.ones(2), 3, path=tmp_path / "m.py")
    with pytest.raises(ValueError, match="name must be a Python identifier"):
        fnad.export(np.sin, np.ones(2), path=tmp_path / "m.py", name="2fast")
    path = fnad.export(lambda x: np.sin(x), np.ones(2), path=tmp_path / "m.py")
    assert "def model(*args)" in path.read_text()


def _linalg_loss(a, b):
    spd = a @ a.T + 3.0 * np.eye(3)
    power = np.abs(np.fft.fft(b)) ** 2
    return np.sum(np.linalg.solve(spd, b) ** 2) + np.sum(power)


LINALG_RUNNER = textwrap.dedent("""\
    import sys
    sys.modules["fnad"] = None  # NOTE: installed or not, fnad cannot be imported here
    sys.path.insert(0, ".")
    import numpy as np
    import la
    data = np.load("args.npz")
    value, (ga, gb) = la.value_and_grad(data["a"], data["b"])
    np.savez("outs.npz", value=value, ga=ga, gb=gb)
    """)


def test_exported_linalg_and_fft_carry_their_kernels(tmp_path):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    both = fnad.value_and_grad(_linalg_loss, argnums=(0, 1))
    fnad.export(both, a, b, path=tmp_path / "la.py", name="value_and_grad")
    text = (tmp_path / "la.py").read_text()
    assert "import fnad" not in text and "from fnad" not in text
    assert "def _la_solve(" in text and "def _fft_rows(" in text
    np.savez(tmp_path / "args.npz", a=a, b=b)
    (tmp_path / "run.py").write_text(LINALG_RUNNER)
    done = subprocess.run(
        [sys.executable, "-I", "run.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    got = np.load(tmp_path / "outs.npz")
    spd = a @ a.T + 3.0 * np.eye(3)
    want_value = np.sum(np.linalg.solve(spd, b) ** 2) + np.sum(np.abs(np.fft.fft(b)) ** 2)
    np.testing.assert_allclose(got["value"], want_value, rtol=1e-12)
    want = both(a, b)[1]  # the reference interpreter
    np.testing.assert_allclose(got["ga"], want[0], rtol=1e-10)
    np.testing.assert_allclose(got["gb"], want[1], rtol=1e-10)
