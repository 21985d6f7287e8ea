"""Benchmarks of fnad side by side with JAX, PyTorch, HIPS autograd and hand-written Numba.

``python bench/benchmarks.py [--only W1,W3] [--quick] [--full]``, single-threaded. A peer that
fails to import is reported as "not installed". Each workload first checks with assert_allclose
that every implementation computes fnad's result, then times them round-robin; tables show the
median per-call time and the median over rounds of (time / fnad time in the same round).
Workloads and targets are described in docs/performance.md.
"""
# ruff: noqa: E402  (the thread settings must precede every import)

import os

THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
os.environ.update(dict.fromkeys(THREADS, "1"))
# NOTE: Numba gets a pool of 2 threads for the "2 threads" rows; everything else runs with
# numba.set_num_threads(1).
os.environ["NUMBA_NUM_THREADS"] = "2"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import argparse
import contextlib
import ctypes
import gc
import glob
import importlib
import importlib.metadata
import inspect
import json
import platform
import subprocess
import sys
import tempfile
import time
import timeit
from functools import partial

import numba
import numpy as np

# NOTE: Numba's pool starts here, on every CPU, for the "2 threads" rows; then the main thread
# is pinned to one CPU, so the threads a peer starts later (XLA's intra-op pool, which
# xla_cpu_multi_thread_eigen=false does not stop) inherit one CPU and the peers run
# single-threaded, as the tables claim. ``two_threads`` widens the main thread's CPUs.


@numba.njit(parallel=True)
def _start_pool(n):
    # NOTE: a first parallel loop creates the pool's threads (OpenMP's at this point).
    total = 0
    for i in numba.prange(n):
        total += i
    return total


_start_pool(1000)
numba.set_num_threads(1)
ALL_CPUS = os.sched_getaffinity(0)
ONE_CPU = {min(ALL_CPUS)}
os.sched_setaffinity(0, ONE_CPU)

import fnad
from fnad.backends import cpu_blas

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_bench

os.environ["FNAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="fnad-bench-")
PEERS = dict.fromkeys(("jax", "torch", "autograd", "autograd.numpy"))
for _name in PEERS:
    with contextlib.suppress(Exception):
        PEERS[_name] = importlib.import_module(_name)
jax, torch, autograd, agnp = PEERS.values()
jnp = jax and jax.numpy
if jax:
    jax.config.update("jax_enable_x64", True)
if torch:
    torch.set_num_threads(1)
numba.set_num_threads(1)
SUMMARY: list[tuple[str, float, str, str]] = []
LR, KEYS = 0.01, ("w1", "b1", "w2", "b2", "w3", "b3")


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def to_numpy(tree) -> list:
    """The leaves of a result (dicts in key order) as NumPy arrays."""
    if isinstance(tree, dict):
        tree = [tree[k] for k in sorted(tree)]
    if isinstance(tree, list | tuple):
        return [a for t in tree for a in to_numpy(t)]
    return [np.asarray(tree)]


def _blocking(fn):
    return jax.block_until_ready(fn())


def build(title: str, cands: list, rtol: float, atol: float) -> tuple[dict, dict]:
    """(name, callable or None) -> those that run and agree with the first; notes for others."""
    print(f"\n{title}")
    impls, notes, ref = {}, {}, None
    for name, fn in cands:
        if fn is None:
            notes[name] = "not installed"
            continue
        if name.startswith("JAX"):
            # NOTE: JAX dispatches asynchronously: a call must wait for its result, or the
            # time measured is the dispatch alone.
            fn = partial(_blocking, fn)
        try:
            got = to_numpy(fn())
            ref = got if ref is None else ref
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
            impls[name] = fn
        except Exception as exc:  # AssertionError: a result that differs from the first
            wrong = isinstance(exc, AssertionError)
            notes[name] = "WRONG RESULT" if wrong else f"failed: {type(exc).__name__}"
            print(f"  {name}: {type(exc).__name__}: {str(exc).strip()[:500]}")
    return impls, notes


def two_threads(fn):
    """``fn`` run with Numba's pool at 2 threads (the benchmark's default is 1)."""

    def call():
        os.sched_setaffinity(0, ALL_CPUS)
        numba.set_num_threads(2)
        try:
            return fn()
        finally:
            numba.set_num_threads(1)
            os.sched_setaffinity(0, ONE_CPU)

    return call


def fnad_jit(label: str, fun, args: tuple, **options) -> tuple:
    """(label, ``fnad.jit(fun)`` on args); if it fails to compile, say why and run without jit."""
    try:
        (jitted := fnad.jit(fun, **options))(*args)
        return label, lambda: jitted(*args)
    except Exception as exc:
        print(f"  fnad.jit FAILED, measuring fnad WITHOUT jit: {type(exc).__name__}: {exc}")
        return "fnad WITHOUT jit (jit failed)", lambda: fun(*args)


def measure(impls: dict, rounds: int, target: float = 0.2) -> dict:
    """Per-call seconds per round (~target s each); implementations interleaved per round."""
    numbers, times = {}, {name: [] for name in impls}
    for name, fn in impls.items():
        n = 1
        while (t := timeit.timeit(fn, number=n)) < 0.02:
            n *= 10
        numbers[name] = max(1, round(n * target / t))
    for _ in range(rounds):
        for name, fn in impls.items():
            times[name].append(timeit.timeit(fn, number=numbers[name]) / numbers[name])
    return times


def table(times: dict, notes: dict) -> dict:
    """Print medians and median per-round ratios to the first row; return {name: median}."""
    ref = np.array(next(iter(times.values())))
    print(f"  {'implementation':<34}{'median':>10}{'time / fnad':>13}")
    for name, ts in times.items():
        print(f"  {name:<34}{fmt(np.median(ts)):>10}{np.median(np.array(ts) / ref):>12.2f}x")
    for name, note in notes.items():
        print(f"  {name:<34}{note:>23}")
    return {name: float(np.median(ts)) for name, ts in times.items()}


def target(label: str, times: dict, a: str | None, b: str | None, goal: float, unit="x"):
    """Record median over rounds of a / b (a: None for the first row; b: None for a alone)."""
    a = a or next(iter(times), "")
    if a not in times or (b is not None and b not in times):
        return SUMMARY.append((label, float("nan"), f"<= {goal:g}{unit}", "n/a"))
    value = float(np.median(np.array(times[a]) / (np.array(times[b]) if b else 1.0)))
    SUMMARY.append((label, value, f"<= {goal:g}{unit}", "met" if value <= goal else "MISSED"))


def make_f(m):
    """W1, W2: f(x) = sum(sin(x) * x**2 + exp(-x)) against the namespace ``m``."""
    return lambda x: m.sum(m.sin(x) * x**2 + m.exp(-x))


@numba.njit(nogil=True)
def numba_grad(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        xi = x[i]
        out[i] = np.cos(xi) * xi * xi + (xi + xi) * np.sin(xi) - np.exp(-xi)
    return out


def elementwise(args, small: bool) -> None:
    """W1: float64[16], per-call overhead. W2: float64 and float32 [10_000_000], bandwidth."""
    x64 = np.random.default_rng(0).uniform(-2.0, 2.0, 16 if small else 10_000_000)
    for x in [x64] if small else [x64, x64.astype(np.float32)]:

        def torch_grad(x=x):
            t = torch.from_numpy(x).requires_grad_()
            return torch.autograd.grad(make_f(torch)(t), t)[0].numpy()

        jg, ag = jax and jax.jit(jax.grad(make_f(jnp))), autograd and autograd.grad(make_f(agnp))
        cands = [
            fnad_jit("fnad jit(grad)", fnad.grad(make_f(np)), (x,)),
            *(() if small else [fnad_2_threads("fnad jit(grad), 2 threads", make_f(np), x)]),
            fnad_jit("fnad jit(grad, precise=True)", fnad.grad(make_f(np)), (x,), precise=True),
            ("JAX jit(grad)", jax and (lambda x=x, jg=jg: np.asarray(jg(x)))),
            ("torch autograd.grad", torch and torch_grad),
            ("HIPS autograd.grad", autograd and (lambda x=x, ag=ag: ag(x))),
            ("numba hand-written loop", lambda x=x: numba_grad(x)),
        ]
        title = f"{'W1 small call' if small else 'W2 large elementwise'}: grad of f"
        tol = 1e-10 if x.dtype == np.float64 else 1e-4
        impls, notes = build(f"{title}, {x.dtype}[{x.size:_}]", cands, tol, tol)
        if not small:
            impls["np.copy (memcpy reference)"] = lambda x=x: np.copy(x)
        times = measure(impls, 3 if args.quick else 7 if small else 5)
        table(times, notes)
        peer, goal = ("JAX jit(grad)", 0.4) if small else ("JAX jit(grad)", 0.25)
        target(f"{title[:2]} fnad / {peer}, {x.dtype}", times, None, peer, goal)
        if not small:
            target(f"W2 fnad / memcpy, {x.dtype}", times, None, "np.copy (memcpy reference)", 4)
            two = "fnad jit(grad), 2 threads"
            target(f"W2 fnad 2 threads / JAX, {x.dtype}", times, two, peer, goal)


def fnad_2_threads(label: str, f, x) -> tuple:
    """(label, ``fnad.jit(grad(f), parallel=True)`` on x with 2 Numba threads)."""
    numba.set_num_threads(2)
    try:
        label, fn = fnad_jit(label, fnad.grad(f), (x,), parallel=True)
    finally:
        numba.set_num_threads(1)
    return label, two_threads(fn)


MATH = ("exp", "expm1", "exp2", "log", "log2", "log10", "log1p")
MATH += ("sin", "cos", "tan", "sinh", "cosh", "tanh", "sqrt")
FNAD_SERIAL = ("fnad jit", "fnad precise")


def numba_math_loop(name: str):
    """A plain Numba loop over ``math.<name>`` (libm, one element at a time)."""
    fn = {"exp2": "2.0 ** x[i]"}.get(name, f"math.{name}(x[i])")
    src = f"def loop(x, out):\n    for i in range(x.shape[0]):\n        out[i] = {fn}\n"
    namespace = {"math": __import__("math")}
    exec(src, namespace)
    return numba.njit(nogil=True)(namespace["loop"])


def math_table(args) -> None:
    """M: elements per second of each function: fnad jit, NumPy, JAX, a Numba math.* loop."""
    n = 1_000_000
    for dtype in (np.float64, np.float32):
        x = np.random.default_rng(0).uniform(0.1, 3.0, n).astype(dtype)
        out = np.empty_like(x)
        print(f"\nM throughput, {np.dtype(dtype)}[{n:_}], 1e9 elements/s (ratio to fnad)")
        cols = ("fnad jit", "fnad 2 threads", "fnad precise", "NumPy", "JAX jit")
        cols += ("numba math.*", "memcpy")
        print(f"  {'function':<10}" + "".join(f"{c:>22}" for c in cols))
        rounds = 3 if args.quick else 5
        copy = measure({"memcpy": partial(np.copyto, out, x)}, rounds)["memcpy"]
        for name in MATH:
            f = getattr(np, name)
            impls = {"fnad jit": fnad.jit(f, parallel=False)}
            numba.set_num_threads(2)
            impls["fnad 2 threads"] = two_threads(partial(fnad.jit(f, parallel=True), x))
            impls["fnad 2 threads"]()  # compiles (the plan is chosen with 2 threads)
            numba.set_num_threads(1)
            impls["fnad precise"] = fnad.jit(f, precise=True, parallel=False)
            impls["NumPy"] = partial(f, x, out=out)
            if jax:
                jf = jax.jit(getattr(jnp, name))
                impls["JAX jit"] = lambda jf=jf, x=x: jf(x).block_until_ready()
            loop = numba_math_loop(name)
            impls["numba math.*"] = partial(loop, x, out)
            impls = {k: (partial(v, x) if k in FNAD_SERIAL else v) for k, v in impls.items()}
            np.testing.assert_allclose(impls["fnad jit"](), f(x), rtol=4 * np.finfo(dtype).eps)
            times = measure(impls, rounds, target=0.1)
            times["memcpy"] = copy
            ref = np.array(times["fnad jit"])
            row = [
                f"{n / np.median(times[c]) / 1e9:7.2f} ({np.median(ref / times[c]):5.2f}x)"
                if c in times
                else "not installed"
                for c in cols
            ]
            print(f"  {name:<10}" + "".join(f"{r:>22}" for r in row))
            if name != "sqrt":
                target(f"M fnad / NumPy {name}, {np.dtype(dtype)}", times, None, "NumPy", 1.0)


def mlp_loss(p, x, y, m=np):
    h = m.maximum(x @ p["w1"] + p["b1"], 0)
    h = m.maximum(h @ p["w2"] + p["b2"], 0)
    z = h @ p["w3"] + p["b3"]
    zmax = m.max(z, axis=1, keepdims=True)
    lse = m.log(m.sum(m.exp(z - zmax), axis=1, keepdims=True)) + zmax
    return -m.sum(y * (z - lse)) / x.shape[0]


def mlp_data(batch=256, sizes=(784, 256, 256, 10)):
    rng, p = np.random.default_rng(0), {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        p[f"w{i}"] = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        p[f"b{i}"] = np.full(b, 0.01, np.float32)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    return p, x, np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]


def mlp_step(p, x, y, value_and_grad=fnad.value_and_grad, m=np):
    value, g = value_and_grad(lambda p, x, y: mlp_loss(p, x, y, m))(p, x, y)
    return value, {k: p[k] - LR * g[k] for k in p}


# Manual backprop for NumPy or Numba (``kernel``); Numba lacks max(axis=1), hence the sort.
MANUAL_SRC = """
@kernel
def mlp_grads(w1, b1, w2, b2, w3, b3, x, y):
    a1 = x @ w1 + b1
    h1 = np.maximum(a1, np.float32(0))
    a2 = h1 @ w2 + b2
    h2 = np.maximum(a2, np.float32(0))
    z = h2 @ w3 + b3
    zmax = np.sort(z)[:, -1:]
    e = np.exp(z - zmax)
    s = e.sum(axis=1).reshape(-1, 1)
    n = np.float32(x.shape[0])
    loss = -np.sum(y * (z - zmax - np.log(s))) / n
    dz = (e / s - y) / n
    d2 = (dz @ w3.T) * (a2 > 0)
    d1 = (d2 @ w2.T) * (a1 > 0)
    return loss, (x.T @ d1, d1.sum(axis=0), h1.T @ d2, d2.sum(axis=0), h2.T @ dz, dz.sum(axis=0))
"""


def manual_step(compiled: bool):
    """Manual loss and gradients (plain NumPy or Numba-compiled), then the SGD update."""
    exec(MANUAL_SRC, ns := {"np": np, "kernel": numba.njit if compiled else lambda f: f})

    def step(p, x, y):
        loss, g = ns["mlp_grads"](*[p[k] for k in KEYS], x, y)
        return loss, {k: p[k] - LR * d for k, d in zip(KEYS, g)}

    return step


def w3(args) -> None:
    p, x, y = mlp_data()
    cands = [fnad_jit("fnad jit(step)", mlp_step, (p, x, y))]
    if cpu_blas.use_fnad_gemm():
        with cpu_blas.forced("blas"):  # the same step with every product on OpenBLAS
            cands.append(fnad_jit("fnad jit(step), FNAD_GEMM=blas", mlp_step, (p, x, y)))
    if jax:
        jstep = jax.jit(partial(mlp_step, value_and_grad=jax.value_and_grad, m=jnp))
        jargs = jax.device_put((p, x, y))
    cands.append(("JAX jit(step)", jax and (lambda: jax.block_until_ready(jstep(*jargs)))))
    if torch:
        tp = {k: torch.from_numpy(v).requires_grad_() for k, v in p.items()}
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            h = torch.relu(tx @ tp["w1"] + tp["b1"])
            z = torch.relu(h @ tp["w2"] + tp["b2"]) @ tp["w3"] + tp["b3"]
            loss = -(ty * torch.log_softmax(z, 1)).sum() / tx.shape[0]
            grads = torch.autograd.grad(loss, [tp[k] for k in KEYS])
            with torch.no_grad():
                return loss.detach(), {k: tp[k] - LR * g for k, g in zip(KEYS, grads)}

    cands.append(("torch autograd.grad", torch and torch_step))
    cands.append(("numba manual grads + NumPy SGD", partial(manual_step(True), p, x, y)))
    cands.append(("numpy manual backprop", partial(manual_step(False), p, x, y)))
    title = "W3 MLP step: float32 784-256-256-10, batch 256, loss + grads + SGD; fnad's "
    title += f"products: {'its own GEMM' if cpu_blas.use_fnad_gemm() else 'np.dot'}"
    impls, notes = build(title, cands, 2e-4, 2e-5)
    times = measure(impls, 3 if args.quick else 7)
    medians = table(times, notes)
    if args.child:
        return print("CHILD_RESULT " + json.dumps(medians))
    target("W3 fnad / JAX", times, None, "JAX jit(step)", 1.3)
    cmd = [sys.executable, __file__, "--only", "W3", "--child"] + ["--quick"] * args.quick
    env = dict(os.environ, OPENBLAS_CORETYPE="SKYLAKEX")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout
    if not (lines := [ln for ln in out.splitlines() if ln.startswith("CHILD_RESULT ")]):
        return print("  OPENBLAS_CORETYPE=SKYLAKEX child process failed:\n" + out[-2000:])
    skx, here = json.loads(lines[-1].split(" ", 1)[1]), os.environ.get("OPENBLAS_CORETYPE", "unset")
    print(f"\n  W3 in a second process with OPENBLAS_CORETYPE=SKYLAKEX (this one: {here}):")
    print(f"  {'implementation':<34}{here:>10}{'SKYLAKEX':>10}{'speed-up':>10}")
    for name in (n for n in medians if n in skx):
        speed = f"{medians[name] / skx[name]:.2f}x"
        print(f"  {name:<34}{fmt(medians[name]):>10}{fmt(skx[name]):>10}{speed:>10}")


CHILD = "import sys\nimport time\n{imports}\nimport numpy as np\n\n{defs}\nP, X, Y = mlp_data()\n"
CHILD += "{setup}\nt0 = time.perf_counter()\n{call}\nprint(time.perf_counter() - t0)\n"
FNAD_CALL = "fnad.jit(fnad.grad(mlp_loss))(P, X, Y)"
NUMBA_CALL = f"import mlp_kernel\nmlp_kernel.mlp_grads(*[P[k] for k in {KEYS!r}], X, Y)"
JAX_CALL = "jax.block_until_ready(jax.jit(jax.grad(partial(mlp_loss, m=jnp)))(P, X, Y))"
JAX_IMPORTS = "from functools import partial\nimport jax\nimport jax.numpy as jnp"
JAX_CACHE = "jax.config.update('jax_compilation_cache_dir', {d!r})\njax.config.update("
JAX_CACHE += "'jax_persistent_cache_min_compile_time_secs', 0)"


def run_child(imports: str, call: str, setup: str = "", **env: str) -> float:
    """W4: seconds from after the imports to the end of ``call`` in a fresh interpreter."""
    defs = inspect.getsource(mlp_loss) + "\n\n" + inspect.getsource(mlp_data)
    code = CHILD.format(imports=imports, defs=defs, setup=setup, call=call)
    env = dict(os.environ, **env)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    return float(proc.stdout.split()[-1])


def w4(args) -> None:
    print("\nW4 start-up: fresh process, after imports to the end of the first grad(mlp_loss)")
    rows: dict[str, list[float]] = {} if jax else {"JAX jit(grad)": []}
    for _ in range(1 if args.quick else 3):
        fdir, ndir, kdir, mdir, jdir = (tempfile.mkdtemp() for _ in range(5))
        with open(os.path.join(kdir, "mlp_kernel.py"), "w") as fh:
            fh.write("import numpy as np\nfrom numba import njit\n\nkernel = njit(cache=True)\n")
            fh.write(MANUAL_SRC)
        path, cache = f"sys.path.insert(0, {kdir!r})", JAX_CACHE.format(d=jdir)
        for kind in ("cold", "warm"):
            t = run_child("import fnad", FNAD_CALL, FNAD_CACHE_DIR=fdir, NUMBA_CACHE_DIR=ndir)
            rows.setdefault(f"fnad jit(grad) {kind}", []).append(t)
        for kind in ("cold", "warm"):
            t = run_child("", NUMBA_CALL, path, NUMBA_CACHE_DIR=mdir)
            rows.setdefault(f"numba hand-written, cache=True {kind}", []).append(t)
        if jax:
            rows.setdefault("JAX jit(grad) cold", []).append(run_child(JAX_IMPORTS, JAX_CALL))
            run_child(JAX_IMPORTS, JAX_CALL, cache)  # fills the persistent cache
            t = run_child(JAX_IMPORTS, JAX_CALL, cache)
            rows.setdefault("JAX jit(grad) warm (persistent cache)", []).append(t)
    print(f"  {'implementation':<42}{'median':>10}{'runs':>6}")
    for name, ts in rows.items():
        print(f"  {name:<42}{fmt(float(np.median(ts))) if ts else 'not installed':>10}{len(ts):>6}")
    target("W4 fnad warm start (s)", rows, "fnad jit(grad) warm", None, 0.3, " s")
    cold = "numba hand-written, cache=True cold"
    target("W4 fnad cold / numba cold", rows, "fnad jit(grad) cold", cold, 1.0)


def make_chain(n: int, m=np):
    def f(x):
        for _ in range(n):
            x = m.sin(x) * 0.9 + x * 0.1
        return m.sum(x)

    return f


def w6(args) -> None:
    print("\nW6 scaling: N unrolled steps x = sin(x) * 0.9 + x * 0.1, then sum; float64[1000]")
    head = ("N", "trace+grad+opt", "per N", "fnad 1st call", "JAX 1st call", "nodes in->out")
    print("  " + "".join(f"{h:>15}" for h in head))
    x = np.linspace(0.0, 1.0, 1000)
    for n in (100, 1000, 5000):
        t0 = time.perf_counter()
        lowered = fnad.jit(fnad.grad(make_chain(n))).lower(x)
        lower, first, jfirst = time.perf_counter() - t0, "--full", "-" if jax else "not installed"
        if n < 5000 or args.full:
            t0 = time.perf_counter()
            got = fnad.jit(fnad.grad(make_chain(n)))(x)
            first = fmt(time.perf_counter() - t0)
            np.testing.assert_allclose(got, fnad.grad(make_chain(n))(x), rtol=1e-10)
        if n <= 1000 and jax:
            t0 = time.perf_counter()
            ref = np.asarray(jax.jit(jax.grad(make_chain(n, jnp)))(x))
            jfirst = fmt(time.perf_counter() - t0)
            np.testing.assert_allclose(got, ref, rtol=1e-10)
        nodes = f"{len(lowered.traced.nodes)}->{len(lowered.graph.nodes)}"
        row = (n, fmt(lower), fmt(lower / n), first, jfirst, nodes)
        print("  " + "".join(f"{c:>15}" for c in row))


def fori_chain(n: int):
    """W8: W6's chain as a loop: x = sin(x) * 0.9 + x * 0.1, n times, then sum."""
    return lambda x: np.sum(fnad.fori_loop(0, n, lambda i, v: np.sin(v) * 0.9 + v * 0.1, x))


@numba.njit(nogil=True)
def numba_chain_grad(x, n):
    tape = np.empty((n, x.shape[0]))
    for k in range(n):
        tape[k] = x
        x = np.sin(x) * 0.9 + x * 0.1
    g = np.ones_like(x)
    for k in range(n - 1, -1, -1):
        g = g * (np.cos(tape[k]) * 0.9 + 0.1)
    return g


def w8(args) -> None:
    """W8: W6 with fori_loop: compile time flat in N; per call vs a hand-written loop."""
    x = np.linspace(0.0, 1.0, 100)
    for n in (10, 100_000):
        t0 = time.perf_counter()
        jitted = fnad.jit(fnad.grad(fori_chain(n)))
        jitted(x)
        first = time.perf_counter() - t0
        print(
            f"\nW8 fori_loop chain, N={n:_}, float64[100]: first call (trace+compile) {fmt(first)}"
        )
        numba_chain_grad(x, n)
        cands = [
            ("fnad jit(grad) of fori_loop", lambda j=jitted: j(x)),
            ("numba hand-written loop + tape", lambda n=n: numba_chain_grad(x, n)),
        ]
        impls, notes = build(f"W8 N={n:_}", cands, 1e-10, 1e-12)
        times = measure(impls, 3 if args.quick else 5)
        table(times, notes)
        target(f"W8 N={n:_} fnad / numba loop", times, None, "numba hand-written loop + tape", 2)
        SUMMARY.append((f"W8 N={n:_} first call (s)", first, "flat in N", "-"))


def rnn_loss(w, u, xs, m=np, scan=None, wrap=lambda f: f):
    """W9: a tanh RNN over a sequence, squared-activation loss (``wrap``: e.g. checkpoint
    the step)."""

    def step(h, x):
        h = m.tanh(h @ w + x @ u)
        return h, m.sum(h * h)

    h, ys = scan(wrap(step), m.zeros((xs.shape[1], w.shape[0])), xs)
    return m.sum(ys) / xs.shape[0]


def peak_rss_growth(fn) -> float:
    """Bytes the resident set grows by at its peak during ``fn()`` (Linux: the high-water
    mark is reset through /proc/self/clear_refs first); NaN elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return float("nan")

    def status(key: str) -> float:
        with open("/proc/self/status") as f:
            line = next(x for x in f if x.startswith(key))
        return float(line.split()[1]) * 1024

    before = status("VmRSS")
    fn()
    return status("VmHWM") - before


def w9_memory(w, u) -> None:
    """Peak memory of the RNN gradient, plain and with the step checkpointed, at a long
    sequence (2000 steps) where the stored residuals dominate."""
    xs = np.random.default_rng(1).normal(size=(2000, 32, 16))
    print("\n  peak memory growth during one call, sequence 2000 (residuals stored for backward):")
    for label, wrap in (("plain", lambda f: f), ("checkpoint(step)", fnad.checkpoint)):
        f = fnad.jit(fnad.value_and_grad(partial(rnn_loss, scan=fnad.scan, wrap=wrap), (0, 1)))
        f(w, u, xs[:3])  # compiles; the long call below reuses the code
        gc.collect()
        peak = peak_rss_growth(lambda f=f: f(w, u, xs))
        loop = next(n for n in f.lower(w, u, xs).graph.nodes if n.prim.name == "scan")
        stacked = loop.outs[loop.params["num_carry"] :]
        size = sum(v.spec.size * v.spec.dtype.itemsize for v in stacked)
        print(
            f"  {label:<20}{peak / 2**20:8.1f} MiB   "
            f"(the forward loop stacks {size / 2**20:.1f} MiB)"
        )


def w9(args) -> None:
    """W9: scan-based RNN, hidden 128, sequence 100, batch 32: loss and gradient."""
    rng = np.random.default_rng(0)
    w, u = rng.normal(size=(128, 128)) * 0.05, rng.normal(size=(16, 128)) * 0.1
    xs = rng.normal(size=(100, 32, 16))
    f = fnad.value_and_grad(partial(rnn_loss, scan=fnad.scan), argnums=(0, 1))
    jf = jax and jax.jit(
        jax.value_and_grad(partial(rnn_loss, m=jnp, scan=jax.lax.scan), argnums=(0, 1))
    )
    cands = [
        fnad_jit("fnad jit(value_and_grad) of scan", f, (w, u, xs)),
        ("JAX jit(value_and_grad) of lax.scan", jax and (lambda: jf(w, u, xs))),
    ]
    impls, notes = build("W9 RNN scan, hidden 128, seq 100, batch 32", cands, 1e-9, 1e-12)
    times = measure(impls, 3 if args.quick else 5)
    table(times, notes)
    target("W9 RNN fnad / JAX lax.scan", times, None, "JAX jit(value_and_grad) of lax.scan", 1.5)
    w9_memory(w, u)


def h_scalar(x, m=np):
    """W5: a scalar function of a scalar."""
    return m.sin(x) * m.exp(x) / (1 + x**2)


@numba.njit(nogil=True)
def numba_h2(x):
    s, c, e, v = np.sin(x), np.cos(x), np.exp(x), 1.0 / (1.0 + x * x)
    dv, d2v = -2.0 * x * v * v, -2.0 * v * v + 8.0 * x * x * v * v * v
    return 2.0 * e * c * v + 2.0 * e * (s + c) * dv + s * e * d2v


@numba.njit(nogil=True)
def numba_hessian(x):
    out = np.zeros((x.shape[0], x.shape[0]))
    for i in range(x.shape[0]):
        xi = x[i]
        out[i, i] = -np.sin(xi) * xi * xi + 4.0 * xi * np.cos(xi) + 2.0 * np.sin(xi) + np.exp(-xi)
    return out


def w5(args) -> None:
    """W5: grad(grad(h)) of a scalar at a float; hessian of W1's f at float64[16]."""
    x = 0.5
    jg2 = jax and jax.jit(jax.grad(jax.grad(partial(h_scalar, m=jnp))))

    def torch_g2(x=x):
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(h_scalar(t, torch), t, create_graph=True)
        return torch.autograd.grad(g, t)[0].numpy()

    ag2 = autograd and autograd.grad(autograd.grad(partial(h_scalar, m=agnp)))
    cands = [
        fnad_jit("fnad jit(grad(grad))", fnad.grad(fnad.grad(h_scalar)), (x,)),
        ("JAX jit(grad(grad))", jax and (lambda: np.asarray(jg2(x)))),
        ("torch autograd.grad twice", torch and torch_g2),
        ("HIPS autograd.grad twice", autograd and (lambda: ag2(x))),
        ("numba hand-written h''", lambda: numba_h2(x)),
    ]
    impls, notes = build("W5 grad(grad(h)) at a Python float", cands, 1e-10, 1e-12)
    times = measure(impls, 3 if args.quick else 7)
    table(times, notes)
    target("W5 grad(grad) fnad / JAX", times, None, "JAX jit(grad(grad))", 0.3)

    x16 = np.random.default_rng(0).uniform(-2.0, 2.0, 16)
    jh = jax and jax.jit(jax.hessian(make_f(jnp)))
    ah = autograd and autograd.hessian(make_f(agnp))

    def torch_h():
        t = torch.from_numpy(x16)
        return torch.autograd.functional.hessian(make_f(torch), t).numpy()

    cands = [
        fnad_jit("fnad jit(hessian)", fnad.hessian(make_f(np)), (x16,)),
        ("JAX jit(hessian)", jax and (lambda: np.asarray(jh(x16)))),
        ("torch functional.hessian", torch and torch_h),
        ("HIPS autograd.hessian", autograd and (lambda: ah(x16))),
        ("numba hand-written Hessian", lambda: numba_hessian(x16)),
    ]
    impls, notes = build("W5 hessian of f at float64[16]", cands, 1e-10, 1e-12)
    times = measure(impls, 3 if args.quick else 7)
    table(times, notes)
    target("W5 hessian fnad / JAX", times, None, "JAX jit(hessian)", 0.3)


def logistic_loss(w, x, t, m=np):
    """W7: the logistic-regression loss of one example."""
    z = x @ w
    return m.logaddexp(0.0, z) - t * z


@numba.njit(nogil=True)
def numba_per_example(w, xs, ts):
    out = np.empty_like(xs)
    for i in range(xs.shape[0]):
        z = 0.0
        for j in range(xs.shape[1]):
            z += xs[i, j] * w[j]
        g = 1.0 / (1.0 + np.exp(-z)) - ts[i]
        for j in range(xs.shape[1]):
            out[i, j] = g * xs[i, j]
    return out


def w7(args) -> None:
    """W7: per-example gradients of a logistic-regression loss, batch 1024, 100 features."""
    rng = np.random.default_rng(0)
    w, xs = rng.normal(size=100) * 0.1, rng.normal(size=(1024, 100))
    ts = (rng.uniform(size=1024) > 0.5).astype(np.float64)
    jv = jax and jax.jit(jax.vmap(jax.grad(partial(logistic_loss, m=jnp)), in_axes=(None, 0, 0)))

    def torch_loss(w, x, t):
        z = x @ w
        return torch.nn.functional.softplus(z) - t * z

    tv = torch and torch.func.vmap(torch.func.grad(torch_loss), in_dims=(None, 0, 0))
    tw, txs, tts = (torch.from_numpy(a) for a in (w, xs, ts)) if torch else (None,) * 3
    per_example = fnad.vmap(fnad.grad(logistic_loss), in_axes=(None, 0, 0))
    cands = [
        fnad_jit("fnad jit(vmap(grad))", per_example, (w, xs, ts)),
        ("JAX jit(vmap(grad))", jax and (lambda: np.asarray(jv(w, xs, ts)))),
        ("torch.func vmap(grad)", torch and (lambda: tv(tw, txs, tts).numpy())),
        ("numba hand-written loop", lambda: numba_per_example(w, xs, ts)),
    ]
    impls, notes = build("W7 per-example gradients, float64[1024, 100]", cands, 1e-10, 1e-12)
    times = measure(impls, 3 if args.quick else 7)
    table(times, notes)
    target("W7 jit(vmap(grad)) fnad / JAX", times, None, "JAX jit(vmap(grad))", 1.5)


def machine() -> None:
    model = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if "model name" in ln), model)
    cores = []  # the OpenBLAS kernels NumPy and SciPy (Numba's np.dot) picked, e.g. SkylakeX
    for path in glob.glob(os.path.join(os.path.dirname(np.__path__[0]), "*.libs", "*openblas*")):
        lib, sym = ctypes.CDLL(path), "scipy_openblas_get_corename"
        if fn := getattr(lib, sym + "64_", None) or getattr(lib, sym, None):
            fn.restype = ctypes.c_char_p
            cores.append(f"{os.path.basename(os.path.dirname(path))} {fn().decode()}")
    print(
        f"machine: {model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
        f"OpenBLAS kernels: {', '.join(cores) or 'unknown'} "
        f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})"
    )
    mods = dict(fnad=fnad, numpy=np, numba=numba, jax=jax, torch=torch, autograd=autograd)
    vers = {k: importlib.metadata.version(k) if m else "not installed" for k, m in mods.items()}
    print(f"versions: python {platform.python_version()}, {', '.join(map(' '.join, vers.items()))}")
    print(
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; single-threaded: {', '.join(THREADS)}=1, "
        "numba.set_num_threads(1) except the '2 threads' rows"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "W1,W2,W3,W4,W5,W6,W7,W8,W9,M,GPU"
    parser.add_argument("--only", default=default, help="comma-separated workloads")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and start-up runs")
    parser.add_argument("--full", action="store_true", help="also compile the N=5000 chain")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workloads = {"W1": partial(elementwise, small=True), "W2": partial(elementwise, small=False)}
    workloads.update(W3=w3, W4=w4, W5=w5, W6=w6, W7=w7, W8=w8, W9=w9, M=math_table)
    workloads["GPU"] = lambda args: gpu_bench.run(args.quick, mlp_step, mlp_data)
    chosen = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    if unknown := [w for w in chosen if w not in workloads]:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(workloads)}")
    start = time.perf_counter()
    machine()
    for name in chosen:
        workloads[name](args)
    if not args.child:
        print("\nSummary vs targets (ratios: fnad time / peer time, median over rounds)")
        for label, value, goal, verdict in SUMMARY:
            print(f"  {label:<44}{value:>8.2f}  target {goal:<9}{verdict:>8}")
        print(f"\ntotal time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
