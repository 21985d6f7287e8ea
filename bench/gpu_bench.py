"""GPU workloads of the benchmark script (``python bench/benchmarks.py --only GPU``).

Run only when a CUDA GPU is present (prints "no GPU" otherwise, and never runs on the
simulator). Every figure is measured in the same run as its reference:

* W2 on the GPU: grad of sum(sin(x) * x**2 + exp(-x)) at float32[100_000_000], against the
  device's own copy bandwidth (a device-to-device copy moves the same bytes: one read,
  one write per element).
* W3 on the GPU: the MLP step (784-256-256-10, batch 4096, float32, loss + grads + SGD)
  with parameters kept on the device, against JAX on the same GPU when JAX sees one, and
  the number of kernels launched per step.
* Per-call overhead: a jitted gradient of float32[16] on the device, against JAX.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np

import fnad


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


class LaunchCounter:
    """Counts kernel launches of one compiled CUDA function by wrapping its kernels."""

    def __init__(self, jitted) -> None:
        self.count = 0
        for plan in jitted._plans.values():
            names = plan.fn.__globals__
            for name, value in list(names.items()):
                kernel = type(value).__name__ in ("CUDADispatcher", "FakeCUDAKernel")
                # NOTE: device functions (_maximum, ...) are dispatchers too; kernels only.
                if kernel and re.search(r"_k\d+$|^_finish_|^_gemm_", name):
                    names[name] = self._wrap(value)

    def _wrap(self, kernel):
        counter = self

        class Counted:
            def __getitem__(self, config):
                launch = kernel[config]

                def run(*args):
                    counter.count += 1
                    return launch(*args)

                return run

        return Counted()


def w2_gpu(rounds: int) -> None:
    cuda = fnad.backends.cuda.cuda()
    x = np.random.default_rng(0).uniform(-2.0, 2.0, 100_000_000).astype(np.float32)
    dx = fnad.device_put(x)
    out = cuda.device_array_like(dx)
    grad = fnad.jit(fnad.grad(lambda x: np.sum(np.sin(x) * x**2 + np.exp(-x))), device="cuda")
    got = fnad.device_get(grad(dx))
    want = np.cos(x) * x * x + 2 * x * np.sin(x) - np.exp(-x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    t_copy = _median_time(lambda: out.copy_to_device(dx), cuda.synchronize, rounds)
    t_grad = _median_time(lambda: grad(dx), cuda.synchronize, rounds)
    gbs = 2 * x.nbytes / 1e9
    print(f"  device copy   {t_copy * 1e3:8.2f} ms  {gbs / t_copy:7.0f} GB/s")
    print(f"  fnad grad     {t_grad * 1e3:8.2f} ms  {gbs / t_grad:7.0f} GB/s")
    print(f"  W2 GPU: {t_copy / t_grad:.0%} of copy bandwidth (target 70%)")


def w3_gpu(rounds: int, mlp_step: Callable, mlp_data: Callable) -> None:
    cuda = fnad.backends.cuda.cuda()
    p, x, y = mlp_data(batch=4096)
    step = fnad.jit(mlp_step, device="cuda")
    dp, dx, dy = fnad.device_put((p, x, y))
    loss, new = step(dp, dx, dy)
    want_loss, want = mlp_step(p, x, y)
    np.testing.assert_allclose(fnad.device_get(loss), want_loss, rtol=1e-3)
    for k in sorted(want):
        np.testing.assert_allclose(fnad.device_get(new[k]), want[k], rtol=1e-3, atol=1e-4)
    counter = LaunchCounter(step)
    step(dp, dx, dy)
    launches = counter.count
    t_fnad = _median_time(lambda: step(dp, dx, dy), cuda.synchronize, rounds)
    print(f"  fnad step     {t_fnad * 1e3:8.3f} ms  ({launches} kernels per step)")
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
    print(f"  JAX step      {t_jax * 1e3:8.3f} ms")
    print(f"  W3 GPU fnad / JAX: {t_fnad / t_jax:.2f} (target 2)")


def overhead_gpu(rounds: int) -> None:
    cuda = fnad.backends.cuda.cuda()
    x = np.random.default_rng(0).uniform(-2.0, 2.0, 16).astype(np.float32)
    dx = fnad.device_put(x)
    grad = fnad.jit(fnad.grad(lambda x: np.sum(np.sin(x) * x**2 + np.exp(-x))), device="cuda")
    t_fnad = _median_time(lambda: grad(dx), cuda.synchronize, rounds * 20)
    print(f"  fnad small grad call  {t_fnad * 1e6:8.1f} us")
    jax = _jax_gpu()
    if jax is not None:
        import jax.numpy as jnp

        jg = jax.jit(jax.grad(lambda x: jnp.sum(jnp.sin(x) * x**2 + jnp.exp(-x))))
        jx = jax.device_put(x)
        t_jax = _median_time(lambda: jg(jx).block_until_ready(), lambda: None, rounds * 20)
        print(f"  JAX small grad call   {t_jax * 1e6:8.1f} us  (fnad / JAX {t_fnad / t_jax:.1f})")


def run(quick: bool, mlp_step: Callable, mlp_data: Callable) -> None:
    print("\nGPU workloads")
    if not fnad.cuda.is_available() or fnad.cuda.simulated():
        print("  no GPU: skipped (fnad.cuda.is_available() is False or the simulator is on)")
        return
    rounds = 3 if quick else 10
    w2_gpu(rounds)
    w3_gpu(rounds, mlp_step, mlp_data)
    overhead_gpu(rounds)
