"""The graph printer, fingerprints and ``ArraySpec`` text.

The printed form is jaxpr-like and is part of the API (docs, snapshot tests and caches
depend on it), so the golden texts below are written out by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fnad
from fnad import ArraySpec


def trace(f, *args):
    return fnad.verify(fnad.make_graph(f)(*args))


def test_golden_promotion_and_broadcast():
    def f(x, y):
        return np.sum(np.sin(x) * y, axis=1)

    graph = trace(f, np.ones((2, 3)), np.ones(3, np.float32))
    assert str(graph) == textwrap.dedent("""\
        { lambda a:f64[2,3] b:f32[3] .
            c:f64[2,3] = sin a
            d:f64[3] = convert[dtype=float64] b
            e:f64[2,3] = broadcast_to[shape=(2,3)] d
            f:f64[2,3] = mul c e
            g:f64[2] = reduce_sum[axes=(1,)] f
          return g }""")


def test_golden_indexing_and_float32_literal():
    def f(x, i):
        return np.maximum(x[i, ::-1], 0.5)

    graph = trace(f, np.ones((4, 3), np.float32), np.array([0, 2]))
    assert str(graph) == textwrap.dedent("""\
        { lambda a:f32[4,3] b:i64[2] .
            c:f32[2,3] = gather[index=[#0,::-1]] a b
            d:f32[2,3] = broadcast_to[shape=(2,3)] 0.5:f32
            e:f32[2,3] = maximum c d
          return e }""")


def test_golden_backward_graph():
    graph = fnad.verify(fnad.vjp_graph(trace(lambda x: np.sum(x**3), np.ones(2))))
    assert str(graph) == textwrap.dedent("""\
        { lambda a:f64[2] b:f64[] .
            c:f64[2] = integer_pow[n=3] a
            d:f64[] = reduce_sum[axes=(0,)] c
            e:f64[1] = reshape[shape=(1,)] b
            f:f64[2] = broadcast_to[shape=(2,)] e
            g:f64[2] = integer_pow[n=2] a
            h:f64[2] = broadcast_to[shape=(2,)] 3.0
            i:f64[2] = mul h g
            j:f64[2] = mul f i
          return d j }""")


def test_literals_print_values_when_small_and_a_digest_when_large():
    small = str(trace(lambda x: x @ np.eye(2), np.ones((2, 2))))
    assert "[[1.0, 0.0], [0.0, 1.0]]:f64" in small
    large = str(trace(lambda x: x + np.arange(5.0), np.ones(5)))
    assert "const<f64[5] #" in large and "4.0" not in large
    assert "return a 3.0 }" in str(trace(lambda x: (x, 3.0), np.ones(1)))


def test_names_continue_past_z_and_graph_repr():
    def chain(x):
        for _ in range(27):
            x = np.sin(x)
        return x

    graph = trace(chain, np.ones(()))
    lines = str(graph).splitlines()
    assert lines[26].strip() == "ba:f64[] = sin z"
    assert lines[-1].strip() == "return bb }"
    assert repr(graph) == "<Graph 1 inputs, 27 nodes>"


# --- fingerprints --------------------------------------------------------------------------

FINGERPRINT_SOURCE = """
import numpy as np, fnad
def f(x, w):
    h = np.tanh(x @ w + np.arange(3.0))
    return np.sum(np.where(h > 0, h, 0.1 * h)[::-1] ** 2, axis=0)
g = fnad.make_graph(f)(np.ones((4, 2), np.float32), np.ones((2, 3)))
print(g.fingerprint())
print(fnad.vjp_graph(g).fingerprint())
"""


def test_fingerprint_is_stable_across_processes():
    namespace = {}
    lines = []
    namespace["print"] = lines.append
    exec(FINGERPRINT_SOURCE, namespace)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", FINGERPRINT_SOURCE],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert result.stdout.split() == lines
    assert all(len(fp) == 64 and int(fp, 16) >= 0 for fp in lines)
    assert lines[0] != lines[1]


def test_fingerprint_ignores_identity_and_names_of_values():
    def f(x):
        return np.sum(np.exp(x) * 2.0)

    def g(value):
        return np.sum(np.exp(value) * 2.0)

    fp = trace(f, np.ones(3)).fingerprint()
    assert trace(f, np.zeros(3)).fingerprint() == fp
    assert trace(g, ArraySpec((3,), np.float64)).fingerprint() == fp
    assert trace(f, np.ones(4)).fingerprint() != fp
    assert trace(f, np.ones(3, np.float32)).fingerprint() != fp


RAMP = np.arange(5.0)
CHANGES = {
    "small constant": (lambda x: x * 2.0, lambda x: x * 3.0),
    "large constant": (lambda x: x[..., None] + RAMP, lambda x: x[..., None] + RAMP[::-1]),
    "constant dtype": (lambda x: (x, 3.0), lambda x: (x, np.float32(3.0))),
    "index constant": (lambda x: x[np.array([0, 1])], lambda x: x[np.array([1, 0])]),
    "reduction axes": (lambda x: np.sum(x, axis=0), lambda x: np.sum(x, axis=1)),
    "reshape shape": (lambda x: x.reshape(2, 2), lambda x: x.reshape(4, 1)),
    "transpose perm": (lambda x: x[None].transpose(1, 0, 2), lambda x: x[None].transpose(2, 1, 0)),
    "slice step": (lambda x: x[::2], lambda x: x[::-2]),
    "primitive": (np.sin, np.cos),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_fingerprint_changes_with_constants_and_params(what):
    before, after = CHANGES[what]
    x = np.ones((2, 2))
    assert trace(before, x).fingerprint() == trace(before, x).fingerprint()
    assert trace(before, x).fingerprint() != trace(after, x).fingerprint()


# --- ArraySpec text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, text",
    [
        (ArraySpec((3, 4), np.float64), "f64[3,4]"),
        (ArraySpec((), np.float32), "f32[]"),
        (ArraySpec((0, 1), np.int32), "i32[0,1]"),
        (ArraySpec((5,), np.bool_), "bool[5]"),
        (ArraySpec((2,), np.complex128), "c128[2]"),
        (ArraySpec((7, 1, 2), np.uint8), "u8[7,1,2]"),
        (ArraySpec([2, np.int64(3)], "float16"), "f16[2,3]"),
    ],
)
def test_array_spec_repr_and_parse_round_trip(spec, text):
    assert repr(spec) == text
    parsed = ArraySpec.parse(text)
    assert parsed == spec and repr(parsed) == text
    assert all(type(d) is int for d in spec.shape) and isinstance(spec.dtype, np.dtype)


def test_array_spec_equality_hash_and_properties():
    spec = ArraySpec((2, 3), np.float32)
    assert spec == ArraySpec((2, 3), "float32") and hash(spec) == hash(ArraySpec([2, 3], "f4"))
    assert spec != ArraySpec((3, 2), np.float32) and spec != ArraySpec((2, 3), np.float64)
    assert (spec.ndim, spec.size) == (2, 6) and ArraySpec((), np.int8).size == 1


@pytest.mark.parametrize("text", ["x32[2]", "f64[2", "f64", "f64[a]", "float64[2]", ""])
def test_array_spec_parse_rejects_bad_text(text):
    with pytest.raises(ValueError):
        ArraySpec.parse(text)


def test_graph_specs_print_like_array_specs():
    graph = trace(lambda x, n: (x.astype(np.float32), n > 0), np.ones((1, 2)), np.arange(3))
    assert [repr(s) for s in graph.in_specs] == ["f64[1,2]", "i64[3]"]
    assert [repr(s) for s in graph.out_specs] == ["f32[1,2]", "bool[3]"]
    header = str(graph).splitlines()[0]
    assert header == "{ lambda a:f64[1,2] b:i64[3] ."
