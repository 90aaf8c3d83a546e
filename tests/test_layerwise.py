"""graphkit compare: an artifact made to drift at a known node, and compare names that node."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import graphkit
from graphkit.cli import main
from graphkit.layerwise import compare
from tests.conftest import require

# Five nodes in a chain; 'scale2' multiplies by the constant 'k2', which the drifting
# artifacts change. Everything above it must compare clean, everything from it drift.
CHAIN = """
<ir_version: 8, opset_import: ["" : 17]>
chain (float[2,8] x) => (float[2,8] y) {
    h1 = MatMul(x, w1)
    a1 = Tanh(h1)
    s2 = Mul(a1, k2)
    h3 = MatMul(s2, w3)
    y = Sigmoid(h3)
}
"""
NODE_NAMES = ["mm1", "tanh1", "scale2", "mm3", "sigmoid"]
DRIFTING = "scale2"


def _chain(k2_offset: float = 0.0) -> onnx.ModelProto:
    model = onnx.parser.parse_model(CHAIN)
    for node, name in zip(model.graph.node, NODE_NAMES):
        node.name = name
    rng = np.random.default_rng(1)
    weights = {
        "w1": rng.standard_normal((8, 8)).astype(np.float32),
        "k2": (rng.uniform(0.5, 1.5, 8) + k2_offset).astype(np.float32),
        "w3": rng.standard_normal((8, 8)).astype(np.float32),
    }
    model.graph.initializer.extend(onnx.numpy_helper.from_array(v, k) for k, v in weights.items())
    onnx.checker.check_model(model)
    return model


@pytest.fixture()
def models(tmp_path):
    original, drifted = tmp_path / "chain.onnx", tmp_path / "drifted.onnx"
    onnx.save(_chain(), original)
    onnx.save(_chain(k2_offset=0.5), drifted)
    return original, drifted


def _assert_names_the_drift(result) -> None:
    assert not result.ok
    assert result.first.node == DRIFTING and result.first.value == "s2"
    assert [d.value for d in result.inputs_of_first] == ["a1"]
    assert all(d.ok for d in result.inputs_of_first)
    # the error is followed from the drifting node to the output
    assert [d.node for d in result.path] == [DRIFTING, "mm3", "sigmoid"]
    assert result.path[0].max_abs > 0.1


def test_an_onnx_artifact_drifting_at_a_known_node_is_named(models):
    original, drifted = models
    result = compare(original, drifted)
    assert [d.value for d in result.values] == ["h1", "a1", "s2", "h3", "y"]
    assert [d.ok for d in result.values] == [True, True, False, False, False]
    _assert_names_the_drift(result)


def test_an_artifact_that_matches_has_no_drift(models):
    original, _ = models
    result = compare(original, original)
    assert result.ok and len(result.values) == 5 and result.path == []


def test_a_tflite_artifact_exposes_every_tensor(models, tmp_path):
    require("ai_edge_litert", "tensorflow")
    original, drifted = models
    artifact = graphkit.convert(str(drifted), "tflite", tmp_path / "drifted.tflite", fix=False)
    result = compare(original, artifact.path)
    assert {d.value for d in result.values} >= {"h1", "a1", "s2", "h3", "y"}
    _assert_names_the_drift(result)
    clean = graphkit.convert(str(original), "tflite", tmp_path / "chain.tflite", fix=False)
    assert compare(original, clean.path).ok


def test_a_torchscript_artifact_exposes_the_values_the_emitter_recorded(models, tmp_path):
    require("torch", "torch")
    original, drifted = models
    artifact = graphkit.convert(str(drifted), "torchscript", tmp_path / "drifted.pt", fix=False)
    result = compare(original, artifact.path)
    assert [d.value for d in result.values] == ["h1", "a1", "s2", "h3", "y"]
    _assert_names_the_drift(result)
    clean = graphkit.convert(str(original), "torchscript", tmp_path / "chain.pt", fix=False)
    assert compare(original, clean.path).ok


def test_an_ort_file_is_compared_on_its_outputs_with_a_note(models, tmp_path):
    original, drifted = models
    artifact = graphkit.convert(str(drifted), "ort", tmp_path / "drifted.ort", fix=False)
    result = compare(original, artifact.path)
    assert "outputs only" in result.note
    assert [d.value for d in result.values] == ["y"] and not result.ok


def test_cli_compare_text_json_and_exit_codes(models, capsys, tmp_path):
    original, drifted = models
    assert main(["compare", str(original), str(drifted)]) == 1
    text = capsys.readouterr().out
    assert "first drift: node 'scale2' (Mul)" in text and "its input 'a1'" in text
    assert main(["compare", str(original), str(original), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["validate", str(drifted), "--reference", str(original), "--layerwise",
                 "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["first_drift"]["node"] == DRIFTING
    assert [step["node"] for step in report["path"]] == [DRIFTING, "mm3", "sigmoid"]
    assert main(["compare", str(original), str(tmp_path / "missing.tflite")]) == 2
    assert "missing.tflite" in capsys.readouterr().err


def test_cli_compare_takes_inputs_from_npz(models, tmp_path, capsys):
    original, drifted = models
    data = tmp_path / "x.npz"
    np.savez(data, x=np.zeros((2, 8), np.float32))  # tanh(0) = 0: the drift cannot show
    assert main(["compare", str(original), str(drifted), "--inputs", str(data)]) == 0
    assert "no drift" in capsys.readouterr().out
