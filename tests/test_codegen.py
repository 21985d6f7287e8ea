"""Snapshot tests of the CPU code generator's source for a few canonical graphs.

The expected sources live in ``tests/snapshots/<case>.py.txt`` and are compared exactly;
run with ``FNAD_UPDATE_SNAPSHOTS=1`` to rewrite them after an intended change, then read
the diff. Beyond the snapshots: one loop nest per fused region, a comment for every node,
no array size written into the source (so one compiled function serves every size), and
byte-identical source in separate processes. Nothing here compiles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fnad

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "snapshots"
UPDATE = os.environ.get("FNAD_UPDATE_SNAPSHOTS") == "1"
SIZES = (16, 32)


def elementwise_sum(x):
    return np.sum(np.sin(x) * x + 1.0)


def loss(x):
    return np.sum(np.sin(x) * x**2 + np.exp(-x))


def matmul_tanh(x, w):
    return np.tanh(x @ w)


def sum_axis(x):
    return np.sum(np.exp(x) * x, axis=1)


# name -> (function, input shapes for size n); the other dimensions grow with n as well, so
# no two dimensions coincide and none is 0, 1 or 2.
CASES = {
    "elementwise_sum": (elementwise_sum, lambda n: [(n,)]),
    "grad": (fnad.grad(loss), lambda n: [(n,)]),
    "matmul_tanh": (matmul_tanh, lambda n: [(n, n // 4 + 1), (n // 4 + 1, n // 4 + 3)]),
    "sum_axis": (sum_axis, lambda n: [(n, n // 4 + 1)]),
}


@pytest.fixture(autouse=True)
def _blas_products(monkeypatch):
    # NOTE: FNAD_GEMM=auto depends on the machine's CPU and BLAS: snapshots pin np.dot.
    monkeypatch.setenv("FNAD_GEMM", "blas")


def lower(name: str, n: int):
    f, shapes = CASES[name]
    return fnad.jit(f).lower(*(np.ones(s) for s in shapes(n)))


def sources(n: int) -> dict[str, str]:
    return {name: lower(name, n).source for name in sorted(CASES)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name):
    source = lower(name, SIZES[0]).source
    path = SNAPSHOTS / f"{name}.py.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(source)
    assert source == path.read_text(), f"run with FNAD_UPDATE_SNAPSHOTS=1 to rewrite {path}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_loop_nest_and_comment_per_node(name):
    lowered = lower(name, SIZES[0])
    source = lowered.source.split(f"def {lowered.generated.function}(", 1)[1]
    body = source.split("\n@njit", 1)[0].splitlines()[1:]  # the serial function alone
    comments = [line for line in body if line.startswith("    # ")]
    assert len(comments) == len(lowered.graph.nodes)
    assert body[0].startswith("    # ")  # every node starts with its comment
    fused = [node for node in lowered.graph.nodes if node.prim.name == "fused"]
    assert len([line for line in body if line.startswith("    for ")]) == len(fused)
    assert fused, "each canonical graph has a fused region"


@pytest.mark.parametrize("name", sorted(CASES))
def test_sizes_are_not_written_into_the_source(name):
    found = {}
    for n in SIZES:
        lowered = lower(name, n)
        # The generated functions (not the fixed helpers, which unroll by a lane count).
        source = lowered.source.split(f"def {lowered.generated.function}(", 1)[1]
        dims = {d for shape in CASES[name][1](n) for d in shape}
        found[n] = source
        for d in sorted(dims):
            assert not re.search(rf"\b{d}\b", source), f"size {d} appears in the source"
    assert found[SIZES[0]] == found[SIZES[1]]


def test_keepdims_reduction_source_does_not_depend_on_size():
    def f(x):
        return x - np.max(x, axis=1, keepdims=True)

    assert fnad.jit(f).lower(np.ones((16, 5))).source == fnad.jit(f).lower(np.ones((32, 9))).source


def test_source_is_byte_identical_across_processes():
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import test_codegen; "
        f"print(json.dumps(test_codegen.sources({SIZES[0]})))"
    )
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**env, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1] == sources(SIZES[0])


def test_reductions_of_computed_values_fold_in_chunks_and_match_numpy():
    def f(x, z):
        t = np.tanh(x)
        return (
            np.sum(t * x),
            np.sum(np.exp(x) * 0.5, axis=1),
            np.max(np.sin(x), axis=-1),
            np.min(x * 2.0),
            np.prod(1.0 + 0.001 * np.cos(x), axis=1),
            np.sum(np.float32(2.0) * x.astype(np.float32), axis=1),
            np.sum(z * 1j + z),
        )

    jitted = fnad.jit(f)
    rng = np.random.default_rng(3)
    for n in (7, 511, 512, 513, 1030):
        x = rng.normal(size=(3, n))
        x[1, n // 2] = np.nan if n > 7 else x[1, n // 2]  # NaN propagates through max/min
        z = rng.normal(size=n)
        got, want = jitted(x, z), f(x, z)
        for g, w in zip(got, want):
            assert np.asarray(g).dtype == np.asarray(w).dtype
            np.testing.assert_allclose(g, w, rtol=2e-6 if g.dtype == np.float32 else 1e-12)
    assert jitted.compile_count == 1
    source = jitted.lower(x, z).source
    assert "_fold_sum(" in source and "_fold_max(" in source and "_fold_prod(" in source


def test_contractions_over_leading_axes_read_operands_without_transposing_copies():
    specs = ["zij,zik->jk", "abc,abd->cd", "abc,dab->cd", "ji,ik->jk", "abij,abjk->ik"]
    rng = np.random.default_rng(5)

    def f(*xs):
        return [np.einsum(s, xs[2 * k], xs[2 * k + 1]) for k, s in enumerate(specs)]

    args = []
    for s in specs:
        ins = s.split("->")[0].split(",")
        sizes = {c: i + 2 for i, c in enumerate(sorted(set("".join(ins))))}
        args += [rng.normal(size=[sizes[c] for c in sub]) for sub in ins]
    jitted = fnad.jit(f)
    for got, want in zip(jitted(*args), f(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    first = jitted.lower(*args).source.split("einsum[spec=zij,zik->jk]")[1].split("\n")[1]
    assert "np.transpose" not in first and ".T" in first  # a free view, not a copy


def test_a_function_past_the_vector_math_budget_calls_libm_and_says_so(monkeypatch, caplog):
    from fnad.codegen import cpu

    def chain(x):
        for _ in range(3):
            x = np.sin(x) * 0.9 + x * 0.1
        return np.sum(x)

    x = np.linspace(0.0, 1.0, 7)
    within = fnad.jit(fnad.grad(chain)).lower(x)
    assert "vtrig.sin_f64(" in within.source and "math.sin(" in within.source  # libm rerun
    calls = cpu.vector_math_calls(within.graph)
    regions = [n.params["region"] for n in within.graph.nodes if n.prim.name == "fused"]
    trig = [n for r in regions for n in r.nodes if n.prim.name in ("sin", "cos")]
    assert calls == len(trig) >= 3
    monkeypatch.setattr(cpu, "VECTOR_MATH_BUDGET", calls - 1)
    with caplog.at_level("WARNING", logger="fnad"):
        past = fnad.jit(fnad.grad(chain))
        source = past.lower(x).source
    assert "vtrig" not in source and "math.sin(" in source
    assert f"holds {calls} vectorizable math calls" in caplog.text
    np.testing.assert_allclose(past(x), within.compile()(x), rtol=1e-13)
