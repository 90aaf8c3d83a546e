"""Select TF ops (Flex): written only with allow_flex (convert --allow-flex), said per op;
builtins only otherwise, with diagnose naming the TF ops a node would need.

The LiteRT installed here (ai-edge-litert) has no Flex delegate, nor has TensorFlow's own
tf.lite.Interpreter: a Flex artifact cannot run here, so it is not validated, and the
metadata says so. What is checked instead: the custom op's options decode to the NodeDef
TensorFlow's own converter writes for the same op."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import model_from_text, require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.backends.tflite import _flatbuffer  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.cli import main  # noqa: E402
from graphkit.errors import InputError  # noqa: E402

# Einsum was the example until graphkit lowered it to builtins (lowering/_einsum.py)
BITWISE_OR = """<ir_version: 10, opset_import: ["" : 18]>
g (int32[4] a, int32[4] b) => (int32[4] y) {
    e = BitwiseOr(a, b)
    y = Add(e, a)
}"""
BITWISE = """<ir_version: 10, opset_import: ["" : 18]>
g (int32[4] a, int32[4] b) => (int32[4] y) { y = BitwiseAnd(a, b) }"""


def _custom_ops(path) -> list[tuple[str, bytes]]:
    model = _flatbuffer.schema().ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    found = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if code.customCode:
            found.append((code.customCode.decode(), bytes(op.customOptions)))
    return found


def _node_def(options: bytes):
    """The NodeDef inside a Flex op's options, parsed by TensorFlow's own protobuf class."""
    node_def_pb2 = require("tensorflow.core.framework.node_def_pb2", "tensorflow")
    from flatbuffers import flexbuffers

    op, raw = flexbuffers.GetRoot(options).AsVector
    parsed = node_def_pb2.NodeDef()
    parsed.ParseFromString(bytes(raw.AsStringBytes))
    return op.AsString, parsed


@pytest.mark.parametrize("text, tf_op", [(BITWISE_OR, "BitwiseOr"), (BITWISE, "BitwiseAnd")])
def test_without_allow_flex_only_builtins_and_diagnose_names_the_tf_op(tmp_path, text, tf_op):
    model = model_from_text(text)
    flex = [f for f in graphkit.diagnose(model, "tflite").blockers if f.code == "GK107"]
    assert len(flex) == 1 and f"({tf_op})" in flex[0].message
    with pytest.raises(InputError):
        emit(model, tmp_path / "m.tflite")


@pytest.mark.parametrize("text, tf_op", [(BITWISE_OR, "BitwiseOr"), (BITWISE, "BitwiseAnd")])
def test_allow_flex_writes_the_op_and_says_it_is_not_validated_here(tmp_path, rng, text, tf_op):
    model = model_from_text(text)
    artifact = emit(model, tmp_path / "m.tflite", allow_flex=True)
    assert artifact.metadata["flex"] == [tf_op]
    assert [name for name, _ in _custom_ops(artifact.path)] == [f"Flex{tf_op}"]
    feeds = {v.name: rng.integers(-9, 9, v.shape.dims).astype(v.dtype.numpy())
             for v in model.graph.inputs}
    if "not_runnable_here" in artifact.metadata:  # this LiteRT: no Flex delegate
        assert "no Flex delegate" in artifact.metadata["not_runnable_here"]
        with pytest.raises(InputError, match="Flex delegate"):
            run_artifact(artifact.path, feeds)
    else:  # a LiteRT with the delegate runs it: then it must match
        got = run_artifact(artifact.path, feeds)
        np.testing.assert_allclose(got["y"], run_ort(model, feeds)[0], rtol=1e-5, atol=1e-5)


def test_the_flex_op_is_what_tensorflows_converter_writes(tmp_path):
    tf = require("tensorflow", "tensorflow")

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32),
                                      tf.TensorSpec([3, 4], tf.float32)])
        def run(self, a, b):
            return tf.einsum("ij,jk->ik", a, b)

    module = Module()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.run.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.SELECT_TF_OPS]
    path = tmp_path / "tf.tflite"
    path.write_bytes(converter.convert())
    [(name, options)] = [op for op in _custom_ops(path) if op[0] == "FlexEinsum"]
    want_op, want = _node_def(options)
    from graphkit.backends.tflite.lowering._flex import custom_options

    got_op, got = _node_def(custom_options("Einsum", 2, {
        "T": ("type", 1), "equation": ("s", "ij,jk->ik"), "N": ("i", 2)}))
    assert (got_op, got.op, list(got.input)) == (want_op, want.op, list(want.input))
    assert dict(got.attr) == dict(want.attr)


def test_cli_allow_flex_writes_the_file_and_exits_1_unvalidated(tmp_path, capsys):
    source = tmp_path / "bitwise.onnx"
    graphkit.save(model_from_text(BITWISE), source)
    out = tmp_path / "m.tflite"
    assert main(["convert", str(source), "--to", "tflite", "-o", str(out)]) == 2
    assert not out.exists()
    code = main(["convert", str(source), "--to", "tflite", "-o", str(out), "--allow-flex"])
    printed = capsys.readouterr().out
    assert "Select TF ops (Flex): BitwiseAnd" in printed
    if "not validated" in printed:
        assert code == 1 and out.exists()
    else:
        assert code == 0
    assert main(["convert", str(source), "--to", "ort", "-o", str(tmp_path / "m.onnx"),
                 "--allow-flex"]) == 2
