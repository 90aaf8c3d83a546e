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

# Einsum, Det and the bitwise ops were the examples until graphkit lowered them to builtins;
# ONNX's string ops have no builtin form.
REGEX = """<ir_version: 10, opset_import: ["" : 20]>
g (string[3] s) => (bool[3] y) { y = RegexFullMatch<pattern = "gr[a-z]+kit">(s) }"""


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


@pytest.mark.parametrize("text, tf_op", [(REGEX, "StaticRegexFullMatch")])
def test_without_allow_flex_only_builtins_and_diagnose_names_the_tf_op(tmp_path, text, tf_op):
    model = model_from_text(text)
    flex = [f for f in graphkit.diagnose(model, "tflite").blockers if f.code == "GK107"]
    assert len(flex) == 1 and f"({tf_op})" in flex[0].message
    with pytest.raises(InputError):
        emit(model, tmp_path / "m.tflite")


@pytest.mark.parametrize("text, tf_op", [(REGEX, "StaticRegexFullMatch")])
def test_allow_flex_writes_the_op_and_says_it_is_not_validated_here(tmp_path, text, tf_op):
    model = model_from_text(text)
    artifact = emit(model, tmp_path / "m.tflite", allow_flex=True)
    assert artifact.metadata["flex"] == [tf_op]
    assert [name for name, _ in _custom_ops(artifact.path)] == [f"Flex{tf_op}"]
    feeds = {"s": np.array([b"graphkit", b"grid", b"grapHkit"], dtype=object)}
    if "not_runnable_here" in artifact.metadata:  # this LiteRT: no Flex delegate
        assert "no Flex delegate" in artifact.metadata["not_runnable_here"]
        with pytest.raises(InputError, match="Flex delegate"):
            run_artifact(artifact.path, feeds)
    else:  # a LiteRT with the delegate runs it: then it must match
        got = run_artifact(artifact.path, feeds)
        np.testing.assert_array_equal(got["y"], run_ort(model, feeds)[0])


def test_the_flex_op_is_what_tensorflows_converter_writes(tmp_path):
    tf = require("tensorflow", "tensorflow")

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([3], tf.string)])
        def run(self, s):
            return tf.strings.regex_full_match(s, "gr[a-z]+kit")

    module = Module()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.run.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.SELECT_TF_OPS]
    path = tmp_path / "tf.tflite"
    path.write_bytes(converter.convert())
    [(name, options)] = [op for op in _custom_ops(path) if op[0] == "FlexStaticRegexFullMatch"]
    want_op, want = _node_def(options)
    artifact = emit(model_from_text(REGEX), tmp_path / "m.tflite", allow_flex=True)
    [(name, options)] = _custom_ops(artifact.path)
    got_op, got = _node_def(options)
    assert (got_op, got.op, list(got.input)) == (want_op, want.op, list(want.input))
    assert dict(got.attr) == dict(want.attr)


def test_cli_allow_flex_writes_the_file_and_exits_1_unvalidated(tmp_path, capsys):
    source = tmp_path / "regex.onnx"
    graphkit.save(model_from_text(REGEX), source)
    out = tmp_path / "m.tflite"
    assert main(["convert", str(source), "--to", "tflite", "-o", str(out)]) == 2
    assert not out.exists()
    code = main(["convert", str(source), "--to", "tflite", "-o", str(out), "--allow-flex"])
    printed = capsys.readouterr().out
    assert "Select TF ops (Flex): StaticRegexFullMatch" in printed
    if "not validated" in printed:
        assert code == 1 and out.exists()
    else:
        assert code == 0
    assert main(["convert", str(source), "--to", "ort", "-o", str(tmp_path / "m.onnx"),
                 "--allow-flex"]) == 2
