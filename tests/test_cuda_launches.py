"""Kernels launched per call (``fnad.cuda.launch_count``) and the BLAS switch
(``FNAD_CUDA_BLAS``): contractions go to CuPy's ``matmul`` when chosen, else to the tiled
Numba kernel, with the same results.

CuPy needs a real GPU, so the dispatch is tested with a small stand-in ``cupy`` module
whose ``asarray`` views the simulator's arrays (host memory) as NumPy arrays and whose
``matmul`` is NumPy's, counting its calls. Importing ``test_cuda`` first switches on Numba's
CUDA simulator when there is no GPU.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from test_cuda import _check, _mlp_step, pytestmark  # noqa: F401  (the skip mark applies)

import fnad

needs_simulator = pytest.mark.skipif(
    not fnad.cuda.simulated(), reason="the stand-in cupy reads simulator arrays as host memory"
)


def _launches(fn, *args):
    before = fnad.cuda.launch_count()
    out = fn(*args)
    return fnad.cuda.launch_count() - before, out


def _mlp_args():
    rng = np.random.default_rng(0)
    sizes = [3, 5, 2]
    params = [(rng.normal(size=(m, n)), rng.normal(size=n)) for m, n in zip(sizes, sizes[1:])]
    return params, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))


def test_mlp_step_launches_one_kernel_per_region_and_contraction():
    args = _mlp_args()
    step = fnad.jit(_mlp_step, device="cuda")
    source = step.lower(*args).source
    # NOTE: straight-line code whose reductions fit one chunk: each launch line runs once.
    written = source.count("rt.launch(") + source.count("rt.gemm(")
    first, _ = _launches(step, *args)
    again, (new, loss) = _launches(step, *args)
    assert first == again == written == 14
    want, want_loss = _mlp_step(*args)
    np.testing.assert_allclose(fnad.device_get(loss), want_loss, rtol=1e-12)


def test_launches_in_a_loop_are_counted_per_iteration():
    def f(x, n):
        return fnad.fori_loop(0, n, lambda i, v: np.tanh(v @ v) + v, x)

    jf, x = fnad.jit(f, device="cuda"), np.eye(2) * 0.3
    counts = [_launches(jf, x, n)[0] for n in (1, 2, 4)]
    per_step = counts[1] - counts[0]
    assert per_step >= 2  # the contraction and the elementwise region at least
    assert counts[2] - counts[1] == 2 * per_step


def _fake_cupy() -> types.ModuleType:
    fake = types.ModuleType("cupy")
    fake.calls = []

    def matmul(x, y, out):
        fake.calls.append((x.shape, y.shape))
        np.matmul(x, y, out=out)

    fake.asarray = np.asarray
    fake.matmul = matmul
    fake.lib = types.SimpleNamespace(stride_tricks=np.lib.stride_tricks)
    return fake


def _contractions(x, y, b, k):
    return [
        x @ y,
        np.einsum("bij,bkj->bik", b, b),
        x.T @ x,
        np.einsum("ij,i->j", x, x[:, 0]),
        k @ k,
    ]


def _contraction_args():
    rng = np.random.default_rng(5)
    return (
        rng.normal(size=(4, 3)),
        rng.normal(size=(3, 5)),
        rng.normal(size=(2, 3, 4)),
        np.arange(9).reshape(3, 3),
    )


@needs_simulator
def test_contractions_go_to_cupy_when_chosen(monkeypatch):
    fake = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    args = _contraction_args()
    f = fnad.jit(_contractions, device="cuda")
    want = _contractions(*args)
    monkeypatch.setenv("FNAD_CUDA_BLAS", "cupy")
    assert fnad.cuda.blas(np.float64) == "cupy" and fnad.cuda.blas(np.int64) == "numba"
    _check(f(*args), want, 1e-12, range(5))
    # NOTE: the integer product stays on the Numba kernel: cuBLAS multiplies floats.
    assert sorted(fake.calls) == [
        ((1, 3, 4), (1, 4, 1)),  # ij,i->j: x read transposed (strides) times a column
        ((1, 3, 4), (1, 4, 3)),  # x.T @ x
        ((1, 4, 3), (1, 3, 5)),  # x @ y
        ((2, 3, 4), (2, 4, 3)),  # the batched einsum
    ]
    for mode in ("numba", "auto"):
        monkeypatch.setenv("FNAD_CUDA_BLAS", mode)
        assert fnad.cuda.blas() == "numba"
        _check(f(*args), want, 1e-12, range(5))
        assert len(fake.calls) == 4
    assert f.compile_count == 1


def test_blas_switch_errors(monkeypatch):
    monkeypatch.setenv("FNAD_CUDA_BLAS", "cublas")
    with pytest.raises(ValueError, match="FNAD_CUDA_BLAS must be one of"):
        fnad.cuda.blas()
    monkeypatch.setenv("FNAD_CUDA_BLAS", "cupy")
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy now raises ImportError
    with pytest.raises(fnad.cuda.CudaUnavailableError, match="pip install cupy-cuda12x"):
        fnad.cuda.blas()


def _bench_loss(p, x, y, m=np):
    h = m.tanh(x @ p["w1"] + p["b1"])
    h = m.tanh(h @ p["w2"] + p["b2"])
    return m.mean((h @ p["w3"] + p["b3"] - y) ** 2)


def _bench_step(p, x, y, value_and_grad=fnad.value_and_grad, m=np):
    value, g = value_and_grad(lambda p, x, y: _bench_loss(p, x, y, m))(p, x, y)
    return value, {k: p[k] - 0.1 * g[k] for k in p}


def _bench_data(batch, sizes):
    rng, p = np.random.default_rng(6), {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        p[f"w{i}"] = rng.normal(size=(a, b)).astype(np.float32)
        p[f"b{i}"] = np.zeros(b, np.float32)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    return p, x, rng.normal(size=(batch, sizes[-1])).astype(np.float32)


@needs_simulator
def test_gpu_benchmark_script_runs_reduced_on_the_simulator(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "bench"))
    import gpu_bench

    gpu_bench.run(True, _bench_step, _bench_data)
    out = capsys.readouterr().out
    assert "CUDA simulator: tiny sizes" in out
    assert "fnad grad" in out and "(1 kernels)" in out  # the whole W2 gradient is one region
    assert re.search(r"fnad step \(numba\) .* \(\d+ kernels per step\)", out)
    assert "fnad small grad call" in out
