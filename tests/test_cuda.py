"""The CUDA target equals the interpreter: every registry case, whole programs (an MLP
training step, reductions along each axis, broadcasting, indexing gradients), device
arrays in and out, buffers reused across calls, errors.

Without a GPU the kernels run on Numba's CUDA simulator: importing this module turns it
on (before anything imports ``numba.cuda``), which is why it is set up at import time. The
simulator runs every GPU thread as a Python thread, so sizes are tiny and many cases are
compiled into one function per test. On a machine with a GPU the same tests use it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest


def _gpu_present() -> bool:
    if not os.path.exists("/dev/nvidiactl"):
        return False
    probe = "from numba import cuda; print(cuda.is_available())"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return run.stdout.strip() == "True"


if "numba.cuda" not in sys.modules and not _gpu_present():
    from numba.core import config

    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    config.reload_config()

from test_jit import CASES  # noqa: E402

import fnad  # noqa: E402
from fnad.codegen.control import CONTROL  # noqa: E402
from fnad.codegen.cuda_kernels import EMITTERS  # noqa: E402
from fnad.codegen.linalg import STACKED  # noqa: E402
from fnad.codegen.region import REDUCE_STEP  # noqa: E402
from fnad.core.trace import bind  # noqa: E402

pytestmark = pytest.mark.skipif(
    not fnad.cuda.is_available(), reason="numba.cuda was imported before the simulator was set"
)


def _check(got, want, tol: float, names) -> None:
    got = fnad.device_get(got)
    for name, g, w in zip(names, got, want):
        assert np.shape(g) == np.shape(w), name
        assert np.asarray(g).dtype == np.asarray(w).dtype, name
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=name)


def _together(cases):
    """One function computing every case, and its flat arguments."""

    def everything(*all_args):
        outs, k = [], 0
        for prim, args, params in cases:
            out = bind(prim, *all_args[k : k + len(args)], **params)
            outs += out if prim.multiple_results else [out]
            k += len(args)
        return outs

    return everything, [a for _, args, _ in cases for a in args]


def _on_cuda(prim, args, params) -> bool:
    """What the CUDA backend compiles so far: elementwise primitives with a plain scalar
    template, reductions, the kernels of cuda_kernels and control flow. Sort and scans,
    linear algebra, FFT, special functions with compiled helpers and complex numbers run
    on the CPU backend only (the CUDA backend names the primitive in its error)."""
    if any(np.iscomplexobj(a) for a in args) or prim.name in STACKED:
        return False
    if prim.name in EMITTERS or prim.name in REDUCE_STEP or prim.name in CONTROL:
        return True
    return prim.elementwise and prim.scalar is not None and not prim.tags.get("helpers")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_primitive_on_cuda_equals_interpreter(dtype):
    """Every registry case the CUDA backend compiles, in one CUDA module (float64), and the
    elementwise ones again in float32."""
    cases = [c for c in CASES if _on_cuda(*c)]
    cases = cases if dtype == np.float64 else [c for c in cases if c[0].elementwise]
    cases = [
        (p, tuple(a.astype(dtype) if a.dtype == np.float64 else a for a in args), k)
        for p, args, k in cases
    ]
    everything, leaves = _together(cases)
    got = fnad.jit(everything, device="cuda")(*leaves)
    want = fnad.eval_graph(fnad.make_graph(everything)(*leaves), *leaves)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    names = [p.name for p, a, k in cases for _ in (p.impl(*a, **k) if p.multiple_results else [0])]
    _check(got, want, tol, names)


def _mlp_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = np.tanh(h @ w + b)
    w, b = params[-1]
    return np.mean((h @ w + b - y) ** 2)


def _mlp_step(params, x, y):
    loss, grads = fnad.value_and_grad(_mlp_loss)(params, x, y)
    new = fnad.tree.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    return new, loss


def test_mlp_training_step_keeps_parameters_on_the_device():
    rng = np.random.default_rng(0)
    sizes = [3, 5, 2]
    params = [(rng.normal(size=(m, n)), rng.normal(size=n)) for m, n in zip(sizes, sizes[1:])]
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    step = fnad.jit(_mlp_step, device="cuda")
    on_device = fnad.device_put(params)
    want = params
    for _ in range(2):
        on_device, loss = step(on_device, x, y)
        want, want_loss = _mlp_step(want, x, y)
        assert all(fnad.cuda.is_device_array(p) for p in fnad.tree.tree_leaves(on_device))
        np.testing.assert_allclose(fnad.device_get(loss), want_loss, rtol=1e-12)
    got = fnad.device_get(on_device)
    for g, w in zip(fnad.tree.tree_leaves(got), fnad.tree.tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    assert step.compile_count == 1


def _reductions(x, v, c, w):
    return [
        np.sum(w, axis=0),
        np.max(w * 2.0, axis=0),
        np.sum(w),
        np.sum(x, axis=0),
        np.sum(x, axis=1),
        np.sum(x, axis=2),
        np.max(x, axis=(0, 2)),
        np.min(x),
        np.prod(x[:, :, :2], axis=(1, 2)),
        np.sum(np.exp(x), axis=1) + np.max(x, axis=1),
        v[:, None] * c[None, :] + c,
        np.sum(v[:, None] - c[None, :] ** 2, axis=0),
        np.argmax(x, axis=1),
        np.argmin(x, axis=2),
        x.transpose(2, 0, 1) * 2.0,
        np.einsum("ijk,jk->ki", x, x[0]),
        np.einsum("bij,bkj->bik", x, x),
        np.mean(v) * c,
    ]


def test_reductions_along_each_axis_and_broadcasting():
    rng = np.random.default_rng(1)
    # NOTE: w is long enough that its reductions are split into chunks (a second pass).
    args = (
        rng.normal(size=(3, 4, 5)),
        rng.normal(size=4),
        rng.normal(size=7),
        rng.normal(size=(40, 3)),
    )
    got = fnad.jit(_reductions, device="cuda")(*args)
    _check(got, _reductions(*args), 1e-12, range(100))


def _indexing(x, idx):
    def loss(x):
        picked = x[idx] * x[1:, ::2].sum() + x[::-1][0]
        return np.sum(np.sin(picked)) + np.sum(np.concatenate([x, x[:1]], axis=0) ** 2)

    return fnad.grad(loss)(x)


def test_indexing_gradients_scatter_with_repeated_indices():
    rng = np.random.default_rng(2)
    x, idx = rng.normal(size=(4, 3)), np.array([0, 2, 2, -1, 0])
    got = fnad.jit(_indexing, device="cuda")(x, idx)
    np.testing.assert_allclose(fnad.device_get(got), _indexing(x, idx), rtol=1e-12)


def test_device_inputs_are_used_in_place_and_new_sizes_reuse_the_code():
    f = fnad.jit(lambda x, s: np.sum(x * s, axis=0), device="cuda")
    for rows in (3, 5):
        x = np.arange(rows * 2.0).reshape(rows, 2)
        on_device = fnad.device_put(x)
        got = f(on_device, 2.0)
        assert fnad.cuda.is_device_array(got)
        np.testing.assert_allclose(fnad.device_get(got), np.sum(x * 2.0, axis=0))
        np.testing.assert_array_equal(fnad.device_get(on_device), x)
    assert f.trace_count == 2 and f.compile_count == 1


def test_results_are_not_reused_buffers():
    f = fnad.jit(lambda x: (np.exp(x).reshape(-1), x), device="cuda")
    first, same = f(np.zeros(3))
    f(np.ones(3))
    np.testing.assert_array_equal(fnad.device_get(first), np.ones(3))
    np.testing.assert_array_equal(fnad.device_get(same), np.zeros(3))


def test_default_device_context():
    f = fnad.jit(lambda x: x + 1.0)
    with fnad.default_device("cuda"):
        assert fnad.cuda.is_device_array(f(np.zeros(2)))
    assert isinstance(f(np.zeros(2)), np.ndarray)
    with pytest.raises(ValueError, match="device must be one of"):
        fnad.default_device("tpu")
    with pytest.raises(ValueError, match="device must be one of"):
        fnad.jit(np.sin, device="gpu")


def test_source_is_deterministic_and_commented():
    def f(x, w):
        return np.sum(np.tanh(x @ w), axis=1)

    args = np.ones((2, 3)), np.ones((3, 4))
    first = fnad.jit(f, device="cuda").lower(*args).source
    assert first == fnad.jit(f, device="cuda").lower(*args).source
    assert "# c = einsum[spec=ij,jk->ik] a b" in first
    assert "@cuda.jit(cache=True)" in first
    assert "2, 3" not in first and "3, 4" not in first
