"""GPU workloads of the benchmark script (``python bench/benchmarks.py --only GPU``).

Every figure is measured in the same run as its reference, with the kernels launched per
call (``fnad.cuda.launch_count``) beside each time:

* W2 on the GPU: grad of sum(sin(x) * x**2 + exp(-x)) at float32[100_000_000], against the
  device's own copy bandwidth (a device-to-device copy moves the same bytes: one read,
  one write per element).
* W3 on the GPU: the MLP step (784-256-256-10, batch 4096, float32, loss + grads + SGD)
  with parameters kept on the device, with the tiled Numba contraction kernel and with
  cuBLAS through CuPy (``FNAD_CUDA_BLAS``), against JAX on the same GPU when JAX sees one.
* Per-call overhead: a jitted gradient of float32[16] on the device, against JAX.

Without a GPU it prints "no GPU". Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)
it runs the same code at tiny sizes, so that a test keeps it working; those times are the
simulator's, not a GPU's.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import fnad


class Sizes(NamedTuple):
    w2: int
    batch: int
    mlp: tuple[int, ...]
    small: int


GPU = Sizes(100_000_000, 4096, (784, 256, 256, 10), 16)
SIMULATED = Sizes(64, 4, (4, 4, 4, 2), 16)


def _median_time(fn: Callable, sync: Callable, rounds: int) -> float:
    fn()
    sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _jax_gpu():
    try:
        import jax

        return jax if jax.devices("gpu") else None
    except Exception:
        return None


def _counted(fn: Callable) -> tuple:
    """(what one call of ``fn`` returns, how many kernels it launched)."""
    before = fnad.cuda.launch_count()
    out = fn()
    return out, fnad.cuda.launch_count() - before


def _loss_w2(x):
    return np.sum(np.sin(x) * x**2 + np.exp(-x))


def w2_gpu(rounds: int, n: int) -> None:
    cuda = fnad.backends.cuda.cuda()
    x = np.random.default_rng(0).uniform(-2.0, 2.0, n).astype(np.float32)
    dx = fnad.device_put(x)
    out = cuda.device_array_like(dx)
    grad = fnad.jit(fnad.grad(_loss_w2), device="cuda")
    got, kernels = _counted(lambda: grad(dx))
    got = fnad.device_get(got)
    want = np.cos(x) * x * x + 2 * x * np.sin(x) - np.exp(-x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    t_copy = _median_time(lambda: out.copy_to_device(dx), cuda.synchronize, rounds)
    t_grad = _median_time(lambda: grad(dx), cuda.synchronize, rounds)
    gbs = 2 * x.nbytes / 1e9
    print(f"  device copy   {t_copy * 1e3:8.2f} ms  {gbs / t_copy:7.1f} GB/s")
    print(f"  fnad grad     {t_grad * 1e3:8.2f} ms  {gbs / t_grad:7.1f} GB/s  ({kernels} kernels)")
    print(f"  W2 GPU: {t_copy / t_grad:.0%} of copy bandwidth (target 70%)")


def _blas_modes() -> list[str]:
    """The contraction kernels to measure: Numba's, and cuBLAS when CuPy can run."""
    if fnad.cuda.simulated() or importlib.util.find_spec("cupy") is None:
        print(
            "  CuPy is not installed (or no GPU): cuBLAS figure skipped (pip install cupy-cuda12x)"
        )
        return ["numba"]
    return ["numba", "cupy"]


def w3_gpu(rounds: int, mlp_step: Callable, mlp_data: Callable, sizes: Sizes) -> None:
    cuda = fnad.backends.cuda.cuda()
    p, x, y = mlp_data(batch=sizes.batch, sizes=sizes.mlp)
    step = fnad.jit(mlp_step, device="cuda")
    dp, dx, dy = fnad.device_put((p, x, y))
    want_loss, want = mlp_step(p, x, y)
    previous = os.environ.get("FNAD_CUDA_BLAS")
    times = {}
    try:
        for mode in _blas_modes():
            os.environ["FNAD_CUDA_BLAS"] = mode
            (loss, new), kernels = _counted(lambda: step(dp, dx, dy))
            np.testing.assert_allclose(fnad.device_get(loss), want_loss, rtol=1e-3)
            for k in sorted(want):
                got = fnad.device_get(new[k])
                np.testing.assert_allclose(got, want[k], rtol=1e-3, atol=1e-4)
            times[mode] = _median_time(lambda: step(dp, dx, dy), cuda.synchronize, rounds)
            label = f"fnad step ({mode})"
            print(f"  {label:<19}{times[mode] * 1e3:8.3f} ms  ({kernels} kernels per step)")
    finally:
        os.environ.pop("FNAD_CUDA_BLAS", None)
        if previous is not None:
            os.environ["FNAD_CUDA_BLAS"] = previous
    jax = _jax_gpu()
    if jax is None:
        print("  JAX with a GPU backend is not installed: no ratio")
        return
    import jax.numpy as jnp

    jstep = jax.jit(lambda p, x, y: mlp_step(p, x, y, jax.value_and_grad, jnp))
    jp, jx, jy = jax.device_put((p, x, y))
    t_jax = _median_time(
        lambda: jstep(jp, jx, jy), lambda: jax.block_until_ready(jstep(jp, jx, jy)), rounds
    )
    print(f"  JAX step           {t_jax * 1e3:8.3f} ms")
    for mode, t in times.items():
        print(f"  W3 GPU fnad ({mode}) / JAX: {t / t_jax:.2f} (target 2)")


def overhead_gpu(rounds: int, n: int) -> None:
    cuda = fnad.backends.cuda.cuda()
    x = np.random.default_rng(0).uniform(-2.0, 2.0, n).astype(np.float32)
    dx = fnad.device_put(x)
    grad = fnad.jit(fnad.grad(_loss_w2), device="cuda")
    _, kernels = _counted(lambda: grad(dx))
    t_fnad = _median_time(lambda: grad(dx), cuda.synchronize, rounds)
    print(f"  fnad small grad call  {t_fnad * 1e6:8.1f} us  ({kernels} kernels)")
    jax = _jax_gpu()
    if jax is not None:
        import jax.numpy as jnp

        jg = jax.jit(jax.grad(lambda x: jnp.sum(jnp.sin(x) * x**2 + jnp.exp(-x))))
        jx = jax.device_put(x)
        t_jax = _median_time(lambda: jg(jx).block_until_ready(), lambda: None, rounds)
        print(f"  JAX small grad call   {t_jax * 1e6:8.1f} us  (fnad / JAX {t_fnad / t_jax:.1f})")


def run(quick: bool, mlp_step: Callable, mlp_data: Callable) -> None:
    print("\nGPU workloads")
    if not fnad.cuda.is_available():
        print("  no GPU: skipped (fnad.cuda.is_available() is False)")
        return
    sizes, rounds = GPU, 3 if quick else 10
    if fnad.cuda.simulated():
        print("  CUDA simulator: tiny sizes; times are the simulator's, not a GPU's")
        sizes, rounds = SIMULATED, 1
    w2_gpu(rounds, sizes.w2)
    w3_gpu(rounds, mlp_step, mlp_data, sizes)
    overhead_gpu(rounds * 20 if sizes is GPU else rounds, sizes.small)
