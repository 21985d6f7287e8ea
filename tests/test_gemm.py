"""fnad's own GEMM (fnad/backends/gemm.py, which generated code calls through
fnad/codegen/gemm.py) against NumPy, and the choice of kernel (fnad/backends/cpu_blas.py).

The GEMM is called through its C entry point, as generated code calls it, on strided
operands; shapes cover the edges of the register tile (MR rows, NR columns), of the packed
blocks (KC deep, MC rows, NC columns), narrow products, an empty contraction, and both
storage orders of each operand.
"""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.backends import cpu_blas, gemm
from fnad.codegen import gemm as generated_gemm

TOL = {np.float32: 2e-5, np.float64: 1e-13}


def strided(x: np.ndarray, transposed: bool) -> np.ndarray:
    """``x`` as a view that is neither C- nor F-contiguous (Numba's 'A' layout), stored
    rows-first or, with ``transposed``, columns-first."""
    if transposed:
        return strided(np.ascontiguousarray(x.T), False).T
    buffer = np.zeros((x.shape[0], x.shape[1] + 3), x.dtype)
    buffer[:, : x.shape[1]] = x
    return buffer[:, : x.shape[1]]


def operands(rng, m: int, k: int, n: int, dtype, layout: int):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    return a, b, strided(a, bool(layout & 1)), strided(b, bool(layout & 2))


SHAPES = [
    (gemm.MR, 16, 32),  # one full tile (float32)
    (gemm.MR + 1, 17, 33),  # one row and one column past a tile
    (2, 1, 3),
    (5, 3, 40),  # fewer rows than a tile: the edge buffer alone
    (2 * gemm.MC + 7, gemm.KC + 5, gemm.NC + 9),  # past every block edge
    (40, 2 * gemm.KC, 20),  # a second K block adds into C
    (3 * gemm.MR + 5, 70, 9),  # narrower than a tile
    (7, 0, 5),  # an empty contraction: zeros
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_matches_numpy_for_every_edge_and_layout(dtype):
    rng = np.random.default_rng(0)
    entry = np.array([gemm.address(np.dtype(dtype))])
    for m, k, n in SHAPES:
        for layout in range(4):
            a, b, sa, sb = operands(rng, m, k, n, dtype, layout)
            c = np.full((3, m, n), np.nan, dtype)
            generated_gemm.matmul_into(entry, sa, sb, c[1])
            assert np.isnan(c[0]).all() and np.isnan(c[2]).all()
            c = c[1]
            a, b = a.astype(np.float64), b.astype(np.float64)
            want, scale = a @ b, np.abs(a) @ np.abs(b)
            err = np.max(np.abs(c - want) / np.maximum(scale, 1e-300), initial=0.0)
            assert err <= TOL[dtype] * np.sqrt(k), ((m, k, n), layout, err)


def test_matmul_and_matmul_into_take_any_layout_and_size():
    rng = np.random.default_rng(1)
    for m, k, n in [(3, 4, 5), (300, 20, 7), (64, 80, 96), (4, 0, 6)]:
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        entry = np.array([gemm.address(np.dtype(np.float64))])
        got = generated_gemm.matmul(entry, a, b)
        np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)
        got = generated_gemm.matmul(entry, a, b.T.copy().T)
        np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)
        out = np.zeros((2, m, n))
        generated_gemm.matmul_into(entry, a, b, out[1])
        np.testing.assert_allclose(out[1], a @ b, rtol=1e-12, atol=1e-12)
        assert not out[0].any()


def mlp_loss(params, x, y):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    h = fnp.maximum(h @ params["w2"], 0.0)
    return fnp.mean((h @ params["w3"] - y) ** 2)


def test_jitted_gradients_through_the_kernel_match_the_interpreter(monkeypatch):
    monkeypatch.setenv("FNAD_GEMM", "fnad")
    rng = np.random.default_rng(2)
    shapes = {"w1": (70, 96), "b1": (96,), "w2": (96, 64), "w3": (64, 33)}
    params = {k: (0.2 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    x = rng.standard_normal((50, 70)).astype(np.float32)
    y = rng.standard_normal((50, 33)).astype(np.float32)
    step = fnad.jit(fnad.value_and_grad(mlp_loss))
    assert step.lower(params, x, y).source.count("gemm.matmul(") >= 5
    (loss, grads), (want_loss, want) = (
        step(params, x, y),
        fnad.value_and_grad(mlp_loss)(params, x, y),
    )
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    for name in shapes:
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-4, atol=1e-6)


def test_batched_contractions_fill_each_batch_through_the_kernel(monkeypatch):
    monkeypatch.setenv("FNAD_GEMM", "fnad")
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 40, 50)), rng.standard_normal((3, 50, 60))
    f = fnad.jit(lambda a, b: fnp.einsum("bij,bjk->bik", a, b))
    assert "gemm.matmul_into(" in f.lower(a, b).source
    np.testing.assert_allclose(f(a, b), np.einsum("bij,bjk->bik", a, b), rtol=1e-12)


def test_blas_choice_writes_np_dot(monkeypatch):
    monkeypatch.setenv("FNAD_GEMM", "blas")
    w = np.ones((30, 40))
    source = fnad.jit(lambda x: x @ w).lower(np.ones((20, 30))).source
    assert "np.dot(" in source and "gemm" not in source


def test_auto_uses_the_kernel_only_where_blas_runs_narrower_vectors_on_one_thread(
    monkeypatch,
):
    monkeypatch.setenv("FNAD_GEMM", "auto")
    cases = [
        (True, ("haswell", 1), True),
        (True, ("skylakex", 1), False),  # OpenBLAS already uses 512-bit kernels
        (True, ("haswell", 4), False),  # OpenBLAS on several threads
        (False, ("haswell", 1), False),  # no AVX-512 on this CPU
        (True, (None, 0), False),  # no OpenBLAS found
    ]
    for wide, blas, want in cases:
        monkeypatch.setattr(cpu_blas, "host_has_avx512", lambda wide=wide: wide)
        monkeypatch.setattr(cpu_blas, "openblas", lambda blas=blas: blas)
        assert cpu_blas.use_fnad_gemm() is want, (wide, blas)


def test_a_bad_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FNAD_GEMM", "mkl")
    with pytest.raises(ValueError, match=r"FNAD_GEMM must be one of .*'mkl'"):
        cpu_blas.use_fnad_gemm()


def test_export_writes_np_dot_whatever_the_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("FNAD_GEMM", "fnad")
    w = np.random.default_rng(4).standard_normal((40, 50))
    path = fnad.export(lambda x: x @ w, np.ones((30, 40)), path=tmp_path / "m.py", name="f")
    text = path.read_text()
    assert "np.dot(" in text and "gemm" not in text and "from fnad" not in text
