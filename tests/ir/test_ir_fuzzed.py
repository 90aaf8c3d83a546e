"""Mutations that fuzzing found crashing graphkit after load (TypeError, UnicodeDecodeError,
onnx-ir's SerdeError, ORT's refusals as exit 3). Each is now an InputError at load that names
the node or field: the Python API raises graphkit's own error, never a builtin one."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import run_ort
from onnx import helper

import graphkit
from graphkit.errors import InputError
from graphkit.summary import summarize

GOOD = """
<ir_version: 10, opset_import: ["" : 17]>
graph_g (float[2, 3, 4, 4] x) => (float[2, 3, 2, 2] y) {
    p = MaxPool <kernel_shape = [2, 2], strides = [2, 2], auto_pad = "NOTSET"> (x)
    y = Relu(p)
}
"""


def _good() -> onnx.ModelProto:
    proto = onnx.parser.parse_model(GOOD)
    proto.graph.node[0].name = "pool_node"
    proto.graph.node[0].doc_string = "doc_text"
    proto.metadata_props.add(key="author", value="meta_text")
    return proto


def _with_invalid_utf8(text: str) -> bytes:
    """The model's bytes with the one occurrence of `text` replaced by invalid UTF-8."""
    data = _good().SerializeToString()
    assert data.count(text.encode()) == 1
    return data.replace(text.encode(), b"\xff" * len(text))


FF = b"\xff"
NOT_UTF8 = {
    # string replaced: where the message says it is
    "pool_node": f"graph 'graph_g' > node {FF * 9!r} (MaxPool): name",
    "MaxPool": f"graph 'graph_g' > node 'pool_node' ({FF * 7!r}): op_type",
    "graph_g": f"graph {FF * 7!r}: name",
    "doc_text": "node 'pool_node' (MaxPool): doc_string",
    "meta_text": "model: value",
    "NOTSET": "node 'pool_node' (MaxPool) > attribute 'auto_pad': s",
}


@pytest.mark.parametrize("text", sorted(NOT_UTF8))
def test_invalid_utf8_is_refused_at_load(text):
    with pytest.raises(InputError) as caught:
        graphkit.load(_with_invalid_utf8(text))
    message = str(caught.value)
    assert NOT_UTF8[text] in message and "is not valid UTF-8 text" in message, message


def test_the_unmutated_model_loads_and_runs():
    model = graphkit.load(_good().SerializeToString())
    summarize(model)
    x = np.arange(96, dtype=np.float32).reshape(2, 3, 4, 4) - 40
    expected = np.maximum(x.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5)), 0)
    np.testing.assert_array_equal(run_ort(model, {"x": x})[0], expected)


def _one_node(node: onnx.NodeProto, opset: int | None = 17) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    graph = helper.make_graph([node], "g", [x], [y])
    opsets = [] if opset is None else [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets)


def _constant(**attributes) -> onnx.NodeProto:
    return helper.make_node("Constant", [], ["y"], name="k", **attributes)


def _typed_int_holding_tensor() -> onnx.NodeProto:
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    node.op_type = "LeakyRelu"
    node.attribute.add(name="alpha", type=onnx.AttributeProto.FLOAT)  # no f: 0.0 is its value
    node.attribute[0].t.CopyFrom(helper.make_tensor("z", onnx.TensorProto.FLOAT, [1], [1.0]))
    return node


def _untyped(**value: float) -> onnx.NodeProto:
    """An attribute without its type: onnx-ir would keep it with no value, and fail to save."""
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="r")
    node.attribute.add(name="alpha", **value)
    return node


def _tensor_typed_without_tensor() -> onnx.NodeProto:
    node = helper.make_node("Attention", ["x", "x", "x"], ["y"], name="a")
    node.attribute.add(name="qk_matmul_output_mode", type=onnx.AttributeProto.TENSOR)
    return node


BAD_NODES = {
    "attribute without type": (
        _one_node(_untyped(f=0.5)),
        "node 'r' (LeakyRelu): attribute 'alpha' has no type",
    ),
    "attribute without type or value": (
        _one_node(_untyped()),
        "node 'r' (LeakyRelu): attribute 'alpha' has no type",
    ),
    "Constant value is an INT": (
        _one_node(_constant(value=3)),
        "node 'k' (Constant): attribute 'value' is INT, but Constant takes TENSOR",
    ),
    "Constant value is a STRING": (
        _one_node(_constant(value="text")),
        "node 'k' (Constant): attribute 'value' is STRING, but Constant takes TENSOR",
    ),
    "Constant with two values": (
        _one_node(_constant(value_float=1.0, value_int=2)),
        "a Constant needs exactly one value attribute, has ['value_float', 'value_int']",
    ),
    "Constant with no value": (
        _one_node(_constant()),
        "a Constant needs exactly one value attribute, has none",
    ),
    "value in the wrong field": (
        _one_node(_typed_int_holding_tensor()),
        "node 'r' (LeakyRelu): attribute 'alpha' is FLOAT but holds a value in 't'",
    ),
    # Fuzz mutant 7-1151: an op with no schema at the model's opset (Attention at 7) is
    # still held to its attributes' own types; the empty tensor crashed diagnose (exit 3).
    "TENSOR attribute with no tensor, op without a schema": (
        _one_node(_tensor_typed_without_tensor(), opset=7),
        "node 'a' (Attention): attribute 'qk_matmul_output_mode' is TENSOR but holds no value",
    ),
    "unknown attribute": (
        _one_node(helper.make_node("Relu", ["x"], ["y"], name="r", slope=2)),
        "node 'r' (Relu): attribute 'slope' is not one Relu defines at opset 17",
    ),
    "required attribute missing": (
        _one_node(helper.make_node("Cast", ["x"], ["y"], name="c")),
        "node 'c' (Cast): required attribute 'to' is missing",
    ),
    "no ai.onnx opset": (
        _one_node(helper.make_node("Relu", ["x"], ["y"], name="r"), opset=None),
        "node 'r' (Relu) is an ONNX op, but no opset of 'ai.onnx' is imported",
    ),
    "opset 0": (
        _one_node(helper.make_node("Relu", ["x"], ["y"], name="r"), opset=0),
        "model imports opset 0 of 'ai.onnx'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_NODES))
def test_node_its_schema_refuses_is_named_at_load(case):
    proto, said = BAD_NODES[case]
    with pytest.raises(InputError) as caught:
        graphkit.load(proto.SerializeToString())
    assert said in str(caught.value)


@pytest.mark.parametrize("case", ["Constant value is an INT", "value in the wrong field"])
def test_fix_exits_2_on_a_node_its_schema_refuses(tmp_path, case):
    onnx.save(BAD_NODES[case][0], tmp_path / "m.onnx")
    done = subprocess.run(
        [sys.executable, "-m", "graphkit", "fix", "m.onnx", "-t", "ort", "-o", "out.onnx"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,  # a hang guard only
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert BAD_NODES[case][1] in line
    assert not (tmp_path / "out.onnx").exists()
