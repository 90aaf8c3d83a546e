"""Byte-level fuzzing of the hand-written protobuf reader (ir/_wire.py, ir/_mapped.py).

load_onnx walks the wire format itself to leave large weights in the file (find_weights), and
only files with an initializer of at least MIN_MAPPED_BYTES take that path: not one model of
the main fuzz corpus (onnx's node cases and light models) has one. Here real models with large
weights are mutated byte by byte (flips, truncations, and edits aimed at the keys and lengths
the walk reads) and each mutant is loaded both ways, in place and by the ordinary parse. Both
must end alike: the same model, or an InputError; never another exception.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from _fuzz_mutate import flip_bytes, truncate
from onnx import TensorProto, numpy_helper
from onnx import helper as h

from graphkit.errors import GraphkitError
from graphkit.ir import load_onnx
from graphkit.ir._mapped import MIN_MAPPED_BYTES, find_weights
from graphkit.ir._wire import LENGTH_DELIMITED, WireError, fields, varint

SEED = 20261204
MUTANTS_PER_MODEL = 150


def _weights(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    rng = np.random.default_rng(sum(shape))
    return (rng.standard_normal(shape) * 10).astype(dtype)


def _matmul_model() -> onnx.ModelProto:
    """Two large weights (float32, float16 via a Cast) and one small one, kept inline."""
    inits = [numpy_helper.from_array(_weights((64, 64)), "w"),
             numpy_helper.from_array(_weights((64, 48), np.float16), "w16"),
             numpy_helper.from_array(_weights((48,)), "b")]
    nodes = [h.make_node("MatMul", ["x", "w"], ["a"]),
             h.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT),
             h.make_node("MatMul", ["a", "w32"], ["m"]),
             h.make_node("Add", ["m", "b"], ["y"])]
    graph = h.make_graph(nodes, "mm", [h.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                         [h.make_tensor_value_info("y", TensorProto.FLOAT, [2, 48])], inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def _conv_gather_model() -> onnx.ModelProto:
    """A conv weight, an int64 embedding table read by Gather, and an IR-3 style initializer
    that is also a graph input."""
    inits = [numpy_helper.from_array(_weights((16, 8, 3, 3)), "k"),
             numpy_helper.from_array(np.arange(1024, dtype=np.int64).reshape(128, 8), "table"),
             numpy_helper.from_array(_weights((16,)), "bias")]
    nodes = [h.make_node("Conv", ["x", "k", "bias"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("Gather", ["table", "i"], ["g"], axis=0)]
    graph = h.make_graph(
        nodes, "cg",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 6, 6]),
         h.make_tensor_value_info("i", TensorProto.INT64, [3]),
         h.make_tensor_value_info("bias", TensorProto.FLOAT, [16])],
        [h.make_tensor_value_info("c", TensorProto.FLOAT, [1, 16, 6, 6]),
         h.make_tensor_value_info("g", TensorProto.INT64, [3, 8])], inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)], ir_version=8)


MODELS = {"matmul": _matmul_model, "conv-gather": _conv_gather_model}


# --- mutations aimed at what the walk reads: keys and length varints ---------------------


def _spots(data: bytes) -> list[tuple[int, int]]:
    """(where a field's key starts, where its value starts) for the model's fields, the main
    graph's and its initializers' (the levels find_weights walks)."""
    view = memoryview(data)
    found = []
    stack = [(0, len(data), 0)]
    while stack:
        start, end, depth = stack.pop()
        for field in fields(view, start, end):
            found.append((field.key, field.start))
            if field.wire == LENGTH_DELIMITED and depth < 2 and field.number in (7, 5):
                stack.append((field.start, field.end, depth + 1))
    return found


def rewrite_length(rng: random.Random, data: bytes) -> bytes:
    """A length-delimited field whose length is off by a little, or absurd."""
    key_at, value_at = rng.choice(_spots(data))
    length_at = key_at + 1 if data[key_at] < 0x80 else key_at + 2
    if length_at >= value_at:
        return flip_bytes(rng, data)
    new = rng.choice((0, 1, 2**31, 2**63 - 1)) if rng.random() < 0.3 else \
        max(0, _varint_at(data, length_at) + rng.choice((-3, -1, 1, 2, 7)))
    return data[:length_at] + varint(new) + data[value_at:]


def rewrite_key(rng: random.Random, data: bytes) -> bytes:
    """A key with another wire type or field number (group, zero field, a repeated field)."""
    key_at, _ = rng.choice(_spots(data))
    out = bytearray(data)
    out[key_at] = rng.choice((out[key_at] ^ rng.randrange(1, 8), out[key_at] & 0x07,
                              0x3A, 0x4A, 0x12, 0x0B))  # 0x3A: graph, 0x4A: raw_data, ...
    return bytes(out)


def repeat_field(rng: random.Random, data: bytes) -> bytes:
    """A field written twice (protobuf merges, or keeps the last): the walk must not differ."""
    view = memoryview(data)
    spots = [f for f in fields(view, 0, len(data))]
    field = rng.choice(spots)
    return data + bytes(view[field.key:field.end])


def _varint_at(data: bytes, at: int) -> int:
    value = shift = 0
    while at < len(data):
        value |= (data[at] & 0x7F) << shift
        if not data[at] & 0x80:
            break
        at, shift = at + 1, shift + 7
    return value


MUTATIONS: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    flip_bytes, flip_bytes, truncate, rewrite_length, rewrite_length, rewrite_key, repeat_field)


def _mutant(base: bytes, rng: random.Random) -> bytes:
    data = base
    for _ in range(rng.choice((1, 1, 2))):
        try:
            data = rng.choice(MUTATIONS)(rng, data)
        except WireError:  # an earlier mutation left nothing the targeted ones can walk
            data = flip_bytes(rng, data)
    return data


# --- loading both ways ---------------------------------------------------------------------


def _outcome(path, in_place: bool):
    """What loading gives: ('model', comparable summary) or ('refused', None)."""
    try:
        model = load_onnx(path, in_place=in_place)
    except GraphkitError:
        return "refused", None
    return "model", _summary(model)


def _summary(model: ir.Model):
    graph = model.graph
    arrays = {name: (value.const_value.dtype, value.const_value.numpy().tobytes(),
                     tuple(value.const_value.shape))
              for name, value in graph.initializers.items() if value.const_value is not None}
    nodes = [(node.op_type, [v.name if v else "" for v in node.inputs]) for node in graph]
    return arrays, nodes, [v.name for v in graph.inputs], [v.name for v in graph.outputs]


def test_the_models_take_the_mapped_path_before_mutation():
    for build in MODELS.values():
        mapped = find_weights(build().SerializeToString())
        assert mapped is not None and all(n >= MIN_MAPPED_BYTES for _, n in mapped.spans.values())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mutated_bytes_load_alike_in_place_and_parsed(name, tmp_path):
    base = MODELS[name]().SerializeToString()
    rng = random.Random(f"{SEED}-{name}")
    mapped = disagreements = 0
    for index in range(MUTANTS_PER_MODEL):
        data = _mutant(base, rng)
        path = tmp_path / f"{index}.onnx"
        path.write_bytes(data)
        mapped += find_weights(data) is not None
        in_place, parsed = _outcome(path, True), _outcome(path, False)
        if in_place != parsed:
            disagreements += 1
            (tmp_path / f"disagree-{index}.onnx").write_bytes(data)
        assert in_place == parsed, f"mutant {index}: in place {in_place[0]}, parsed {parsed[0]}"
    # The walk's own path must really be taken by many mutants, or this covers nothing.
    assert mapped >= MUTANTS_PER_MODEL // 4, f"only {mapped} mutants took the mapped path"
    assert disagreements == 0
