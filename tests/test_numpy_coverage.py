"""NumPy and SciPy coverage: each composition in fnad.numpy and fnad.scipy, traced, equals
NumPy's or SciPy's value; its reverse-mode derivative matches central finite differences
of the NumPy/SciPy function itself; and per group, one jitted function computing every
case (and one computing every gradient) equals the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as ss
from helpers import fd_grad

import fnad
import fnad.numpy as fnp
import fnad.scipy.special as fsp
import fnad.scipy.stats as fst

R = np.random.default_rng(0)
M = R.normal(size=(3, 4))
V = R.normal(size=(5,))
P = R.uniform(0.1, 0.9, size=(4,))
POS = R.uniform(0.5, 3.0, size=(4,))
ZEROS = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, -1.2], [0.7, 1.1, 0.9]])

# name -> (fnad function, reference function, args, differentiable)
ELEMENTWISE = {
    "deg2rad": (np.deg2rad, None, (V,), True),
    "rad2deg": (np.rad2deg, None, (V,), True),
    "sinc": (np.sinc, None, (np.array([0.3, -1.7, 2.2]),), True),
    "fabs": (np.fabs, None, (V,), True),
    "fmod": (np.fmod, None, (M * 3, POS[:, None][:3] * np.ones((3, 4))), True),
    "remainder": (np.remainder, None, (M * 3, np.full((3, 4), 1.3)), True),
    "copysign": (np.copysign, None, (V, V[::-1]), True),
    "logaddexp2": (np.logaddexp2, None, (M, M[::-1] * 2), True),
    "hypot": (np.hypot, None, (M, M + 1), True),
    "exp2": (np.exp2, None, (V,), True),
    "round": (lambda x: np.round(x, 2), None, (V * 10,), False),
    "around": (lambda x: np.around(x), None, (V * 3,), False),
    "floor": (np.floor, None, (V * 3,), False),
    "signbit": (np.signbit, None, (np.array([-0.0, 0.0, -1.0, 2.0]),), False),
    "nan_to_num": (
        lambda x: np.nan_to_num(x, posinf=9.0) * x[0],
        None,
        (np.array([0.5, np.nan, np.inf, -np.inf, 2.0]),),
        False,
    ),
    "fmax": (np.fmax, None, (np.array([1.0, np.nan, 3.0]), np.array([np.nan, 2.0, -1.0])), False),
    "isposinf": (np.isposinf, None, (np.array([np.inf, -np.inf, 1.0]),), False),
}
REDUCTIONS = {
    "var_ddof": (lambda x: np.var(x, axis=1, ddof=1), None, (M,), True),
    "std": (lambda x: np.std(x, axis=0), None, (M,), True),
    "cumsum": (lambda x: np.cumsum(x, axis=1), None, (M,), True),
    "cumsum_flat": (np.cumsum, None, (M,), True),
    "cumprod": (lambda x: np.cumprod(x, axis=1), None, (ZEROS,), True),
    "cumprod_axis0": (lambda x: np.cumprod(x, axis=0), None, (ZEROS,), True),
    "sort": (lambda x: np.sort(x, axis=0), None, (M,), True),
    "sort_flat": (lambda x: np.sort(x, axis=None), None, (M,), True),
    "argsort": (lambda x: np.argsort(x, axis=1), None, (M,), False),
    "take_along_axis": (
        lambda x: np.take_along_axis(x, np.array([[2, 0], [1, 1], [-1, 3]]), axis=1),
        None,
        (M,),
        True,
    ),
    "argmax": (lambda x: np.argmax(x, axis=0), None, (M,), False),
    "max_ties": (lambda x: np.max(x, axis=1), None, (np.array([[1.0, 3.0, 3.0]]),), True),
    "any": (lambda x: np.any(x > 1, axis=1), None, (M,), False),
    "all": (lambda x: np.all(x > -3), None, (M,), False),
    "average": (lambda x: np.average(x, axis=1, weights=POS), None, (M,), True),
    "average_full": (lambda x, w: np.average(x, weights=w), None, (M, M * M), True),
    "nansum": (lambda x: np.nansum(x), None, (np.array([1.0, np.nan, 2.5]),), True),
    "nanmean": (lambda x: np.nanmean(x, axis=0), None, (np.array([[1.0, np.nan], [3, 4]]),), True),
}
SHAPES = {
    "tile": (lambda x: np.tile(x, (2, 1, 2)), None, (M,), True),
    "repeat": (lambda x: np.repeat(x, 2, axis=1), None, (M,), True),
    "repeat_array": (lambda x: np.repeat(x, [1, 0, 3], axis=0), None, (M,), True),
    "pad_constant": (lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=3.0), None, (M,), True),
    "pad_reflect": (lambda x: np.pad(x, 2, mode="reflect"), None, (M,), True),
    "pad_edge": (lambda x: np.pad(x, (1, 3), mode="edge"), None, (V,), True),
    "pad_wrap": (lambda x: np.pad(x, 2, mode="wrap"), None, (M,), True),
    "flip": (np.flip, None, (M,), True),
    "roll": (lambda x: np.roll(x, (1, -5), axis=(0, 1)), None, (M,), True),
    "roll_flat": (lambda x: np.roll(x, 3), None, (M,), True),
    "rot90": (lambda x: np.rot90(x), None, (M,), True),
    "rot90_3": (lambda x: np.rot90(x, 3), None, (M,), True),
    "diag_vector": (lambda x: np.diag(x, 1), None, (V,), True),
    "diag_matrix": (lambda x: np.diag(x, -1), None, (M,), True),
    "diagonal": (lambda x: np.diagonal(x, 1), None, (M,), True),
    "trace_offset": (lambda x: np.trace(x, 1), None, (M,), True),
    "triu": (lambda x: np.triu(x, 1), None, (M,), True),
    "tril": (np.tril, None, (M,), True),
    "kron": (np.kron, None, (M[:2, :2], M[1:, 2:]), True),
    "split": (lambda x: np.split(x, 2, axis=1)[1], None, (M,), True),
    "array_split": (lambda x: np.array_split(x, 3, axis=1)[0], None, (M,), True),
    "meshgrid": (lambda x, y: np.meshgrid(x, y)[0] * np.meshgrid(x, y)[1], None, (V, P), True),
    "atleast_3d": (np.atleast_3d, None, (V,), True),
    "stack_scalars": (
        lambda x: fnp.stack([x[0], 2.0, x[1]]),
        lambda x: np.stack([x[0], 2.0, x[1]]),
        (V,),
        True,
    ),
    "array_nested": (
        lambda x: fnp.array([[x[0], 1.0], [x[1] * x[2], x[3]]]),
        lambda x: np.array([[x[0], 1.0], [x[1] * x[2], x[3]]]),
        (V,),
        True,
    ),
}
SCIPY = {
    "gammaln": (sc.gammaln, None, (POS,), True),
    "digamma": (sc.digamma, None, (POS,), True),
    "polygamma": (lambda x: fsp.polygamma(2, x), lambda x: sc.polygamma(2, x), (POS,), True),
    "erf": (sc.erf, None, (V,), True),
    "erfc": (sc.erfc, None, (V,), True),
    "erfinv": (sc.erfinv, None, (P,), True),
    "expit": (sc.expit, None, (V * 5,), True),
    "logit": (sc.logit, None, (P,), True),
    "xlogy": (sc.xlogy, None, (np.array([0.0, 1.5, 2.0]), np.array([0.5, 2.0, 0.3])), True),
    "xlog1py": (sc.xlog1py, None, (np.array([0.0, 1.5, 2.0]), np.array([0.5, 2.0, 0.3])), True),
    "logsumexp": (
        lambda x: fsp.logsumexp(x, axis=1),
        lambda x: sc.logsumexp(x, axis=1),
        (M * 30,),
        True,
    ),
    "logsumexp_b": (
        lambda x: fsp.logsumexp(x, b=POS),
        lambda x: sc.logsumexp(x, b=POS),
        (M[0],),
        True,
    ),
    "softmax": (lambda x: fsp.softmax(x, axis=0), lambda x: sc.softmax(x, axis=0), (M,), True),
    "log_softmax": (fsp.log_softmax, sc.log_softmax, (M,), True),
    "betaln": (sc.betaln, None, (POS, POS[::-1] + 1), True),
    "norm.logpdf": (
        lambda x, m, s: fst.norm.logpdf(x, m, s),
        lambda x, m, s: ss.norm.logpdf(x, m, s),
        (V[:4], P, POS),
        True,
    ),
    "norm.cdf": (fst.norm.cdf, ss.norm.cdf, (V,), True),
    "norm.logcdf": (fst.norm.logcdf, ss.norm.logcdf, (np.array([-40.0, -3.0, 0.5, 4.0]),), True),
    "norm.ppf": (fst.norm.ppf, ss.norm.ppf, (P,), True),
    "t.logpdf": (fst.t.logpdf, ss.t.logpdf, (V[:4], POS), True),
    "gamma.logpdf": (
        lambda x, a: fst.gamma.logpdf(x, a, scale=1.5),
        lambda x, a: ss.gamma.logpdf(x, a, scale=1.5),
        (np.array([0.5, 1.0, 2.5, -1.0]), POS),
        True,
    ),
    "beta.pdf": (fst.beta.pdf, ss.beta.pdf, (np.array([0.2, 0.5, 0.9, 1.5]), POS, POS + 1), True),
    "gammainc": (sc.gammainc, None, (POS, POS[::-1] * 2), True),
    "gammaincc": (sc.gammaincc, None, (POS, POS[::-1] * 2), True),
    "betainc": (sc.betainc, None, (POS, POS[::-1], P), True),
    "t.cdf": (fst.t.cdf, ss.t.cdf, (np.array([-30.0, -1.2, 0.3, 2.5]), POS), True),
    "t.logcdf": (fst.t.logcdf, ss.t.logcdf, (np.array([-300.0, -1.2, 0.3, 40.0]), POS), True),
    "t.sf": (
        lambda x, df, m, s: fst.t.sf(x, df, m, s),
        lambda x, df, m, s: ss.t.sf(x, df, m, s),
        (np.array([-3.0, 0.2, 1.1, 6.0]), POS, P, POS[::-1]),
        True,
    ),
    "gamma.cdf": (
        lambda x, a, m, s: fst.gamma.cdf(x, a, m, s),
        lambda x, a, m, s: ss.gamma.cdf(x, a, m, s),
        (np.array([0.5, 1.0, 4.5, -1.0]), POS, P, POS[::-1]),
        True,
    ),
    "gamma.logcdf": (
        fst.gamma.logcdf,
        ss.gamma.logcdf,
        (np.array([1e-3, 0.7, 3.0, 40.0]), POS),
        True,
    ),
    "gamma.sf": (fst.gamma.sf, ss.gamma.sf, (np.array([0.1, 1.0, 5.0, 30.0]), POS), True),
    "gamma.logsf": (fst.gamma.logsf, ss.gamma.logsf, (np.array([0.1, 1.0, 5.0, 60.0]), POS), True),
    "beta.cdf": (fst.beta.cdf, ss.beta.cdf, (np.array([0.2, 0.5, 0.9, 1.5]), POS, POS + 1), True),
    "beta.logcdf": (
        fst.beta.logcdf,
        ss.beta.logcdf,
        (np.array([1e-2, 0.5, 0.9, 0.999]), POS, POS + 1),
        True,
    ),
    "beta.sf": (
        lambda x, a, b, m, s: fst.beta.sf(x, a, b, m, s),
        lambda x, a, b, m, s: ss.beta.sf(x, a, b, m, s),
        (np.array([0.2, 0.5, 0.9, -1.5]), POS, POS + 1, P / 4, POS[::-1]),
        True,
    ),
    "poisson.cdf": (
        lambda mu: fst.poisson.cdf(np.array([0.0, 2.0, 5.0, 1.5, -1.0]), mu),
        lambda mu: ss.poisson.cdf(np.array([0.0, 2.0, 5.0, 1.5, -1.0]), mu),
        (np.append(POS, 2.0),),
        True,
    ),
    "poisson.logcdf": (
        lambda mu: fst.poisson.logcdf(np.array([0, 2, 5, 30]), mu),
        lambda mu: ss.poisson.logcdf(np.array([0, 2, 5, 30]), mu),
        (POS,),
        True,
    ),
    "poisson.sf": (
        lambda k, mu: fst.poisson.sf(k, mu),
        lambda k, mu: ss.poisson.sf(k, mu),
        (np.array([0.5, 2.3, 5.7, 3.5]), POS),
        True,
    ),
    "multivariate_normal.logpdf": (
        fst.multivariate_normal.logpdf,
        ss.multivariate_normal.logpdf,
        (M.T, P[:3] - 1, M[:, :3] @ M[:, :3].T + np.eye(3)),
        True,
    ),
    "multivariate_normal.pdf": (
        lambda x, m: fst.multivariate_normal.pdf(x, m, POS[:3]),
        lambda x, m: ss.multivariate_normal.pdf(x, m, POS[:3]),
        (M.T, P[:3]),
        True,
    ),
    "poisson.logpmf": (
        lambda mu: fst.poisson.logpmf(np.array([0.0, 2.0, 5.0, 1.5]), mu),
        lambda mu: ss.poisson.logpmf(np.array([0.0, 2.0, 5.0, 1.5]), mu),
        (POS,),
        True,
    ),
}
GROUPS = {"elementwise": ELEMENTWISE, "reductions": REDUCTIONS, "shapes": SHAPES, "scipy": SCIPY}
ALL = [
    pytest.param(f, ref or f, args, diff, id=name)
    for group in GROUPS.values()
    for name, (f, ref, args, diff) in group.items()
]


def _traced(f, args):
    """``f`` run by the interpreter on an abstract trace (the static, jit-like mode)."""
    graph = fnad.verify(fnad.make_graph(lambda *xs: f(*xs))(*args))
    return fnad.eval_graph(graph, *args)[0]


@pytest.mark.parametrize("f,ref,args,diff", ALL)
def test_value_matches_reference(f, ref, args, diff):
    want = ref(*args)
    got, _ = fnad.vjp(f, *args)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(_traced(f, args), want, rtol=1e-12, atol=1e-14)


def _finite(x):
    return np.where(np.isfinite(x), x, 0.0)


@pytest.mark.parametrize("f,ref,args,diff", [p for p in ALL if p.values[3]])
def test_gradient_matches_finite_differences(f, ref, args, diff):
    rng = np.random.default_rng(1)
    out, vjp_fn = fnad.vjp(f, *args)
    u = rng.normal(size=np.shape(out))
    vs = [rng.normal(size=np.shape(a)) for a in args]
    eps = 1e-6
    hi = ref(*[a + eps * v for a, v in zip(args, vs)])
    lo = ref(*[a - eps * v for a, v in zip(args, vs)])
    with np.errstate(invalid="ignore"):  # -inf - -inf outside a support
        expected = np.sum(_finite(u * (hi - lo) / (2 * eps)))
    got = sum(np.sum(g * v) for g, v in zip(vjp_fn(u), vs))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_cumprod_gradient_exact_at_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0])
    got = fnad.grad(lambda x: np.sum(np.cumprod(x)))(x)
    # d/dx_i of sum_j prod_{k<=j} x_k, by hand.
    np.testing.assert_array_equal(got, [1.0, 1.0 * 2 + 2 * 3, 0.0, 0.0])


def test_setitem_is_functional_with_gradients():
    def f(x):
        y = x * 1.0
        y[0, 1:] = 7.0
        y[1] += x[0]
        y[np.array([2, 2]), 0] = fnp.array([x[0, 0], 2 * x[0, 0]])  # last write wins
        return np.sum(y * y)

    x = np.arange(12.0).reshape(3, 4) / 4
    y = x.copy()
    y[0, 1:] = 7.0
    y[1] += x[0]
    y[2, 0] = 2 * x[0, 0]
    assert f(x) == pytest.approx(np.sum(y * y))
    want = 2 * y
    want[0, 1:] = 0
    want[0] += 2 * y[1]
    want[2, 0] = 0
    want[0, 0] += 2 * 2 * y[2, 0]
    np.testing.assert_allclose(fnad.grad(f)(x), want)
    np.testing.assert_allclose(fnad.jit(fnad.grad(f))(x), want)


def _assign_by_traced_indices(x, i, rows, m):
    """Item assignments whose indices are computed from the arguments."""
    y = x * 1.0
    y[i] = x[0] * 3.0  # a 0-d traced index, a row value
    y[np.argmax(x[:, 0]), 1] = 5.0  # a traced index next to an int
    y[rows] = x[:2] * 2.0  # a traced index array, no repeats
    y[m] = 0.5  # a traced index array with repeats, a scalar value
    y[y > 2.5] = -1.0  # a traced mask
    return y


def test_setitem_with_traced_indices_under_jit_equals_numpy():
    def numpy_version(x, i, rows, m):
        y = x.copy()
        y[i] = x[0] * 3.0
        y[np.argmax(x[:, 0]), 1] = 5.0
        y[rows] = x[:2] * 2.0
        y[m] = 0.5
        y[y > 2.5] = -1.0
        return y

    x = np.arange(12.0).reshape(4, 3) / 5
    args = (x, np.int64(1), np.array([3, 0]), np.array([[2, 2], [1, 2]]))
    want = numpy_version(*args)
    np.testing.assert_array_equal(fnad.jit(_assign_by_traced_indices)(*args), want)
    np.testing.assert_array_equal(_assign_by_traced_indices(*args), want)

    def loss(x, i, rows, m):
        return np.sum(np.arange(12.0).reshape(4, 3) * _assign_by_traced_indices(x, i, rows, m))

    grad = fnad.grad(loss)
    expected = fd_grad(lambda x: loss(x, *args[1:]), x)
    np.testing.assert_allclose(fnad.jit(grad)(*args), expected, atol=1e-6)
    np.testing.assert_allclose(grad(*args), expected, atol=1e-6)


def test_setitem_with_a_traced_mask_and_an_array_value_is_a_clear_error():
    def f(x):
        y = x * 1.0
        y[y > 0.5] = x[:2]
        return y

    with pytest.raises(TypeError, match="traced mask.*fnad.numpy.where"):
        fnad.jit(f)(np.linspace(0, 1, 4))


def test_sort_method_sorts_in_place():
    def f(x):
        x.sort()
        return x[-1] - x[0]

    x = np.array([3.0, -1.0, 2.0])
    np.testing.assert_array_equal(fnad.grad(f)(x), [1.0, -1.0, 0.0])


def test_t_tails_for_many_degrees_of_freedom():
    """Far tails with large ``df`` (where ``1 - I`` would cancel to 0) and points near 0."""
    x = np.array([-14.0, 20.5, -1.5, 0.9, 1e-7, 0.0, -3.0])
    df = np.array([1.1e4, 3.2e4, 2e3, 50.0, 0.3, 7.0, 0.5])
    cdf, sf = fnad.vjp(lambda x: (fst.t.cdf(x, df), fst.t.sf(x, df)), x)[0]
    np.testing.assert_allclose(cdf, ss.t.cdf(x, df), rtol=1e-10)
    np.testing.assert_allclose(sf, ss.t.sf(x, df), rtol=1e-10)
    slope = fnad.grad(lambda x: np.sum(fst.t.logcdf(x, df)))(x)
    np.testing.assert_allclose(slope, np.exp(ss.t.logpdf(x, df) - ss.t.logcdf(x, df)), rtol=1e-9)


@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax"])
@pytest.mark.parametrize("mode", ["grad", "jit"])
def test_scipy_python_functions_name_the_fnad_namesake(name, mode):
    """SciPy's Python-level functions call np.asarray on their arguments, so they cannot
    be traced: the error names fnad's function and the caller's line, under a concrete
    (grad) and an abstract (jit) trace alike."""
    scipy_fn = getattr(sc, name)
    transform = fnad.grad if mode == "grad" else fnad.jit

    def f(x):
        return np.sum(scipy_fn(x, axis=0))

    with pytest.raises(TypeError, match=rf"scipy\.special\.{name} .*fnad\.scipy\.special\.{name}"):
        transform(f)(V)
    with pytest.raises(TypeError, match=r"at .*test_numpy_coverage\.py:\d+"):
        transform(f)(V)


def test_scipy_distributions_point_to_the_coverage_page():
    with pytest.raises(TypeError, match=r"scipy\.stats\.rv_continuous\.logpdf .*coverage"):
        fnad.grad(lambda x: np.sum(ss.norm.logpdf(x)))(V)


def _compiled_equals_interpreter(cases):
    """Every case's value and gradient in one jitted function (one Numba compile)."""
    leaves = [a for _, _, args, _ in cases for a in args]

    def values(*xs):
        outs, k = [], 0
        for f, _, args, _ in cases:
            outs.append(f(*xs[k : k + len(args)]))
            k += len(args)
        return outs

    def loss(*xs):
        floats = [o for o in values(*xs) if o.dtype.kind == "f"]
        return sum(np.sum(np.where(np.isfinite(o), o, 0.0)) for o in floats)

    grads = fnad.grad(loss, argnums=tuple(range(len(leaves))))

    def both(*xs):
        return values(*xs), grads(*xs)

    (got_values, got_grads), (want_values, want_grads) = fnad.jit(both)(*leaves), both(*leaves)
    for got, want in zip(got_values, want_values):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for got, want in zip(got_grads, want_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


SAMPLE = [
    ("elementwise", "sinc"),
    ("elementwise", "nan_to_num"),
    ("reductions", "cumsum"),
    ("reductions", "cumprod"),
    ("reductions", "sort"),
    ("reductions", "take_along_axis"),
    ("shapes", "pad_reflect"),
    ("shapes", "diag_vector"),
    ("scipy", "digamma"),
    ("scipy", "erfinv"),
    ("scipy", "norm.logcdf"),
    ("scipy", "betainc"),
    ("scipy", "t.logcdf"),
    ("scipy", "gamma.logsf"),
    ("scipy", "poisson.cdf"),
    ("scipy", "multivariate_normal.logpdf"),
]


def test_sample_compiled_equals_interpreter():
    """A case of each new code path (scans, sorts, gathers, scalar helpers), one compile."""
    _compiled_equals_interpreter([GROUPS[group][name] for group, name in SAMPLE])


@pytest.mark.slow
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_group_compiled_equals_interpreter(group):
    """Every case of the group, compiled (minutes of Numba: run with -m slow)."""
    _compiled_equals_interpreter(list(GROUPS[group].values()))


def test_coverage_page_is_in_sync_with_the_code():
    from pathlib import Path

    from fnad.numpy.coverage import table

    page = (Path(__file__).resolve().parent.parent / "docs" / "numpy-coverage.md").read_text()
    start = page.index("-->\n", page.index("<!-- coverage table")) + 4
    shown = page[start : page.index("<!-- end of coverage table -->")]
    assert shown == table(), "regenerate the table: python -m fnad.numpy.coverage"
    assert "| no |" not in shown
