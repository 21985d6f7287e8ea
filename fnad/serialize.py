"""Graphs as JSON: ``graph.to_json()`` and ``Graph.from_json(text)``, a lossless round trip.

The file is data only. Loading parses JSON, looks primitives up by name in the registry,
rebuilds every parameter from an explicit tagged encoding and re-runs each node's shape
rule on the loaded parameters; nothing in a file is ever evaluated, imported or unpickled.

Layout (keys sorted, so equal graphs give byte-identical files)::

    {"format": "fnad.graph", "version": 1, "graph": GRAPH}
    GRAPH  = {"inputs": [VAR...], "nodes": [NODE...], "outputs": [ATOM...]}
    VAR    = {"id": 0, "spec": "f64[3]"} (+ "hint" when the variable has one), or the id
             of a variable defined before (sub-graphs share variables with their graph)
    NODE   = {"prim": "sin", "inputs": [ATOM...], "params": {name: PARAM}, "outs": [VAR...]}
    ATOM   = a variable id, or {"literal": ARRAY}
    ARRAY  = {"dtype": "float64", "shape": [3], "data": base64 of little-endian bytes}

A parameter is a JSON int, bool, string or null, or one tagged object: ``{"float": repr}``
(exact, NaN and infinities included), ``{"tuple": [...]}``, ``{"dtype": name}``,
``{"slice": [start, stop, step]}``, ``{"index": [...]}`` (an ``IndexSpec``),
``{"array": ARRAY}``, ``{"scalar": ARRAY}`` (a NumPy scalar) or ``{"graph": GRAPH}``: fused
regions and control-flow bodies are sub-graphs stored inline, to any depth. Variable ids
are numbered once per file, in definition order, across sub-graphs.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import numpy as np

from fnad.core.graph import Atom, Graph, Literal, Node, Var
from fnad.core.primitive import PRIMITIVES
from fnad.core.spec import ArraySpec
from fnad.core.verify import GraphError, verify
from fnad.ops.indexing import IndexSpec

FORMAT = "fnad.graph"
#: The newest format this fnad writes and reads. Bump it when the layout changes.
VERSION = 1
# NOTE: an allowlist: object, void and string dtypes could smuggle arbitrary data.
_DTYPES = {
    name: np.dtype(name)
    for name in (
        "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
        "float16 float32 float64 complex64 complex128"
    ).split()
}


class GraphFormatError(ValueError):
    """A graph file is malformed, from a newer fnad, or names something fnad does not know."""


def to_json(graph: Graph, indent: int | None = None) -> str:
    """The graph as JSON text. ``Graph.from_json`` reads it back.

    >>> import fnad, numpy as np
    >>> g = fnad.make_graph(np.sin)(np.ones(3))
    >>> str(fnad.Graph.from_json(g.to_json())) == str(g)
    True
    """
    doc = {"format": FORMAT, "version": VERSION, "graph": _Encoder().graph(graph)}
    return json.dumps(doc, indent=indent, sort_keys=True, allow_nan=False)


def from_json(text: str | bytes) -> Graph:
    """The graph stored by ``to_json``, checked against the registry and the verifier."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise GraphFormatError(f"fnad.Graph.from_json: not a JSON graph file ({exc})") from None
    _check_header(doc)
    try:
        return _Decoder().graph(doc["graph"], "graph")
    except RecursionError:
        raise GraphFormatError("fnad.Graph.from_json: the file nests too deeply") from None


def _check_header(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GraphFormatError(
            f'fnad.Graph.from_json: expected a JSON object with "format": "{FORMAT}"'
        )
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise GraphFormatError(f"fnad.Graph.from_json: bad format version {version!r}")
    if version > VERSION:
        raise GraphFormatError(
            f"fnad.Graph.from_json: the file has format version {version}, but this fnad "
            f"reads versions up to {VERSION}; it was written by a newer fnad, so upgrade fnad "
            "to load it"
        )
    _keys(doc, {"format", "version", "graph"}, set(), "file")


def encode_array(value: np.ndarray) -> dict[str, Any]:
    dtype = np.dtype(value.dtype)
    if dtype.name not in _DTYPES:
        raise TypeError(f"fnad.Graph.to_json: cannot store an array of dtype {dtype}")
    raw = np.ascontiguousarray(value, dtype=dtype.newbyteorder("<")).tobytes()
    return {
        "dtype": dtype.name,
        "shape": list(value.shape),
        "data": base64.b64encode(raw).decode("ascii"),
    }


def decode_array(obj: Any, where: str) -> np.ndarray:
    _keys(obj, {"dtype", "shape", "data"}, set(), where)
    dtype = _dtype(obj["dtype"], where)
    shape = obj["shape"]
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise GraphFormatError(f"{where}: shape must be a list of sizes, got {shape!r}")
    try:
        raw = base64.b64decode(_str(obj["data"], where), validate=True)
    except (binascii.Error, ValueError):
        raise GraphFormatError(f"{where}: array data is not valid base64") from None
    count = math.prod(shape)  # Python ints: a forged huge shape cannot overflow
    if len(raw) != count * dtype.itemsize:
        raise GraphFormatError(
            f"{where}: {len(raw)} bytes of data for a {dtype.name} array of shape "
            f"{tuple(shape)} (needs {count * dtype.itemsize})"
        )
    return np.frombuffer(raw, dtype.newbyteorder("<")).astype(dtype).reshape(shape)


class _Encoder:
    def __init__(self) -> None:
        self.ids: dict[int, int] = {}

    def graph(self, graph: Graph) -> dict[str, Any]:
        return {
            "inputs": [self.define(v) for v in graph.inputs],
            "nodes": [self.node(node) for node in graph.nodes],
            "outputs": [self.atom(a) for a in graph.outputs],
        }

    def define(self, var: Var) -> Any:
        if id(var) in self.ids:
            return self.ids[id(var)]
        self.ids[id(var)] = n = len(self.ids)
        out: dict[str, Any] = {"id": n, "spec": repr(var.spec)}
        return {**out, "hint": var.hint} if var.hint else out

    def atom(self, atom: Atom) -> Any:
        if isinstance(atom, Literal):
            return {"literal": encode_array(atom.value)}
        return self.ids[id(atom)]

    def node(self, node: Node) -> dict[str, Any]:
        inputs = [self.atom(a) for a in node.inputs]
        params = {}
        for key in sorted(node.params):
            try:
                params[key] = self.param(node.params[key])
            except TypeError as exc:
                raise TypeError(f"{exc} (param '{key}' of a {node.prim.name} node)") from None
        outs = [self.define(v) for v in node.outs]
        return {"prim": node.prim.name, "inputs": inputs, "params": params, "outs": outs}

    def param(self, value: Any) -> Any:
        # NOTE: bool before int (bool is an int subclass); NumPy scalars before float.
        if value is None or isinstance(value, (bool, str)) or type(value) is int:
            return value
        if isinstance(value, np.generic):
            return {"scalar": encode_array(np.asarray(value))}
        if type(value) is float:
            return {"float": repr(value)}
        if type(value) is tuple:
            return {"tuple": [self.param(v) for v in value]}
        if isinstance(value, np.dtype) and value.name in _DTYPES:
            return {"dtype": value.name}
        if isinstance(value, slice):
            return {"slice": [self.param(v) for v in (value.start, value.stop, value.step)]}
        if isinstance(value, IndexSpec):
            return {"index": [self.param(e) for e in value.entries]}
        if isinstance(value, np.ndarray):
            return {"array": encode_array(value)}
        if isinstance(value, Graph):
            return {"graph": self.graph(value)}
        raise TypeError(
            f"fnad.Graph.to_json: cannot store a parameter of type {type(value).__name__}"
        )


class _Decoder:
    def __init__(self) -> None:
        self.vars: dict[int, Var] = {}

    def graph(self, obj: Any, where: str) -> Graph:
        _keys(obj, {"inputs", "nodes", "outputs"}, set(), where)
        inputs = tuple(
            self.define(v, f"{where} input {i}") for i, v in _items(obj, "inputs", where)
        )
        nodes = tuple(self.node(n, f"{where} node {i}") for i, n in _items(obj, "nodes", where))
        outputs = tuple(
            self.atom(a, f"{where} output {i}") for i, a in _items(obj, "outputs", where)
        )
        try:
            return verify(Graph(inputs, nodes, outputs))
        except GraphError as exc:
            raise GraphFormatError(f"{where}: {exc}") from None

    def define(self, obj: Any, where: str) -> Var:
        if type(obj) is int:
            # NOTE: a variable shared with an enclosing graph (a fused region's inputs and
            # outputs are the outer graph's variables); the verifier checks its use.
            return self.atom(obj, where)
        _keys(obj, {"id", "spec"}, {"hint"}, where)
        n = obj["id"]
        if type(n) is not int or n in self.vars:
            raise GraphFormatError(f"{where}: variable id {n!r} is not a new integer")
        try:
            spec = ArraySpec.parse(_str(obj["spec"], where))
        except ValueError as exc:
            raise GraphFormatError(f"{where}: {exc}") from None
        self.vars[n] = var = Var(spec, _str(obj.get("hint", ""), where))
        return var

    def atom(self, obj: Any, where: str) -> Atom:
        if type(obj) is int:
            if obj not in self.vars:
                raise GraphFormatError(f"{where}: variable {obj} is used before it is defined")
            return self.vars[obj]
        _keys(obj, {"literal"}, set(), where)
        return Literal(decode_array(obj["literal"], where))

    def node(self, obj: Any, where: str) -> Node:
        _keys(obj, {"prim", "inputs", "params", "outs"}, set(), where)
        name = _str(obj["prim"], where)
        prim = PRIMITIVES.get(name)
        if prim is None:
            raise GraphFormatError(
                f"{where}: unknown primitive {name!r}; this fnad's registry has no such "
                "operation (written by a newer fnad, or by code that registered its own?)"
            )
        where = f"{where} ({name})"
        inputs = tuple(self.atom(a, f"{where} input {i}") for i, a in _items(obj, "inputs", where))
        if not isinstance(obj["params"], dict):
            raise GraphFormatError(f"{where}: params must be an object")
        params = {k: self.param(v, f"{where} param '{k}'") for k, v in obj["params"].items()}
        try:
            specs = prim.abstract(*(a.spec for a in inputs), **params)
        except Exception as exc:  # any rejection by the rule means a bad file
            raise GraphFormatError(
                f"{where}: the primitive rejects these inputs or params: {exc}"
            ) from None
        specs = tuple(specs) if prim.multiple_results else (specs,)
        outs = tuple(self.define(v, f"{where} out {i}") for i, v in _items(obj, "outs", where))
        if specs != tuple(v.spec for v in outs):
            raise GraphFormatError(
                f"{where}: outputs are declared {[v.spec for v in outs]}, the shape rule "
                f"gives {list(specs)}"
            )
        return Node(prim, inputs, params, outs)

    def param(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)) or type(obj) is int:
            return obj
        if not isinstance(obj, dict) or len(obj) != 1:
            raise GraphFormatError(f"{where}: not a parameter encoding: {obj!r:.80}")
        ((tag, body),) = obj.items()
        decode = _PARAM_DECODERS.get(tag)
        if decode is None:
            raise GraphFormatError(f"{where}: unknown parameter kind {tag!r}")
        return decode(self, body, where)

    def seq(self, body: Any, where: str) -> tuple:
        if not isinstance(body, list):
            raise GraphFormatError(f"{where}: expected a list")
        return tuple(self.param(v, f"{where}[{i}]") for i, v in enumerate(body))


def _float(dec: _Decoder, body: Any, where: str) -> float:
    try:
        return float(_str(body, where))
    except ValueError:
        raise GraphFormatError(f"{where}: {body!r} is not a float") from None


def _slice(dec: _Decoder, body: Any, where: str) -> slice:
    parts = dec.seq(body, where)
    if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
        raise GraphFormatError(f"{where}: a slice is [start, stop, step] of ints or nulls")
    return slice(*parts)


def _index(dec: _Decoder, body: Any, where: str) -> IndexSpec:
    entries = dec.seq(body, where)
    for e in entries:
        array_ref = isinstance(e, tuple) and len(e) == 2 and e[0] == "array" and type(e[1]) is int
        if not (e is None or type(e) is int or isinstance(e, slice) or array_ref):
            raise GraphFormatError(f"{where}: {e!r} is not an index entry")
    return IndexSpec(entries)


def _scalar(dec: _Decoder, body: Any, where: str) -> np.generic:
    value = decode_array(body, where)
    if value.shape != ():
        raise GraphFormatError(f"{where}: a scalar must have shape []")
    return value[()]


_PARAM_DECODERS = {
    "float": _float,
    "tuple": _Decoder.seq,
    "dtype": lambda dec, body, where: _dtype(body, where),
    "slice": _slice,
    "index": _index,
    "array": lambda dec, body, where: decode_array(body, where),
    "scalar": _scalar,
    "graph": _Decoder.graph,
}


def _dtype(name: Any, where: str) -> np.dtype:
    if not isinstance(name, str) or name not in _DTYPES:
        raise GraphFormatError(f"{where}: dtype must be one of {sorted(_DTYPES)}, got {name!r}")
    return _DTYPES[name]


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise GraphFormatError(f"{where}: expected a string, got {value!r:.80}")
    return value


def _keys(obj: Any, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(obj, dict):
        raise GraphFormatError(f"{where}: expected a JSON object, got {obj!r:.80}")
    missing, extra = required - obj.keys(), obj.keys() - required - optional
    if missing or extra:
        raise GraphFormatError(
            f"{where}: expected keys {sorted(required)}, missing {sorted(missing)}, "
            f"unexpected {sorted(extra)}"
        )


def _items(obj: dict, key: str, where: str) -> list[tuple[int, Any]]:
    if not isinstance(obj[key], list):
        raise GraphFormatError(f"{where}: '{key}' must be a list")
    return list(enumerate(obj[key]))
