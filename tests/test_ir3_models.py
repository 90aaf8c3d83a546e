"""IR-3 models, whose initializers are graph inputs too: diagnose says what it assumes, and
fix / convert fold them into constants for deployment (fold-initializer-inputs, GK306).

The real files are the onnx wheel's 'light' model-zoo models (weights as ConstantOfShape of
initializer-inputs); the small one is built in code (tests/ir3_models.py).
"""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from conftest import run_ort
from ir3_models import light_model, small_ir3_model, small_ir3_proto

import graphkit
from graphkit.cli import main
from graphkit.passmanager import count_nodes
from graphkit.proof import Reference

SQUEEZENET = light_model("squeezenet")
SQUEEZENET_INPUT = "data_0"  # its one input that is not an initializer
FOLDED_LINE = "52 initializer(s) that were also graph inputs are now constants"


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)


def _outputs_match(original, fixed, feeds) -> None:
    [before] = run_ort(original, feeds)
    [after] = run_ort(fixed, feeds)
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)


def _changes(report) -> list[str]:
    return [line for record in report.passes for line in record.changes]


def test_diagnose_says_it_takes_initializer_inputs_as_run_time_inputs():
    report = graphkit.diagnose(small_ir3_model(), "ort")
    [assumed] = [f for f in report.findings if f.code == "GK306"]
    assert not assumed.blocking and report.convertible  # ORT runs the model as it is
    assert "3 initializer(s) are also graph inputs ('w', 'b', 'w2_shape')" in assumed.message
    assert "as IR version < 4 required" in assumed.message
    assert "treats them as run-time inputs, not constants" in assumed.message
    assert assumed.fix == "fold-initializer-inputs"


def test_tflite_sees_the_overridable_weight_as_a_graph_input():
    report = graphkit.diagnose(small_ir3_model(), "tflite")
    blockers = {(f.code, f.node): f.message for f in report.blockers}
    assert "it is a graph input" in blockers[("GK105", "conv1")]
    assert "computed by ConstantOfShape" in blockers[("GK105", "conv2")]


def test_the_proof_feeds_only_the_declared_inputs():
    # The initializer-inputs keep their defaults in every proof run: nothing invents them.
    reference = Reference.of(small_ir3_model())
    assert list(reference.result().feeds) == ["x"]


def test_fix_for_tflite_makes_the_small_model_convertible(rng):
    fixed, report = graphkit.fix(small_ir3_model(), "tflite")
    assert report.fixed and report.blockers_before == 2
    assert "3 initializer(s) that were also graph inputs are now constants" in \
        "\n".join(_changes(report))
    assert [value.name for value in fixed.graph.inputs] == ["x"]
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    _outputs_match(small_ir3_proto(), fixed, {"x": x})


def test_fix_for_tflite_makes_light_squeezenet_convertible(image):
    fixed, report = graphkit.fix(SQUEEZENET, "tflite")
    assert report.fixed, report.unresolved[:1]
    assert not [f for f in report.findings if f.code in ("GK105", "GK306", "GK503")]
    assert FOLDED_LINE in "\n".join(_changes(report))
    assert [value.name for value in fixed.graph.inputs] == [SQUEEZENET_INPUT]
    # TFLite needs every weight constant, of any size: all 39 ConstantOfShape are folded.
    assert not [node for node in fixed.graph if node.op_type == "ConstantOfShape"]
    assert all(diff.ok for diff in report.validation)
    _outputs_match(graphkit.load(SQUEEZENET), fixed, {SQUEEZENET_INPUT: image})


def test_fix_for_ort_folds_what_the_initializer_inputs_held_back(image):
    original = graphkit.load(SQUEEZENET)
    fixed, report = graphkit.fix(SQUEEZENET, "ort")
    assert not [f for f in report.findings if f.code in ("GK306", "GK503")]
    assert FOLDED_LINE in "\n".join(_changes(report))
    # 105 nodes: 39 ConstantOfShape make the weights. The cleanup folds all but conv10's
    # (1000x512x1x1 float32, 2 MB, over fold-constants' 1 MiB cap for the ort pipeline).
    # onnxslim leaves 65: it folds that one too and drops the Dropout.
    assert count_nodes(original) == 105
    assert count_nodes(fixed) == 67
    left = [node.outputs[0].name for node in fixed.graph if node.op_type == "ConstantOfShape"]
    assert left == ["conv10_w_0"]
    _outputs_match(original, fixed, {SQUEEZENET_INPUT: image})


def test_convert_to_ort_format_runs_on_the_declared_input_alone(tmp_path, image, capsys):
    out = tmp_path / "squeezenet.ort"
    assert main(["convert", str(SQUEEZENET), "--to", "ort", "-o", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [info.name for info in session.get_inputs()] == [SQUEEZENET_INPUT]
    [after] = session.run(None, {SQUEEZENET_INPUT: image})
    [before] = run_ort(graphkit.load(SQUEEZENET), {SQUEEZENET_INPUT: image})
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)


def test_convert_without_fix_refuses_the_broken_ort_artifact_and_leaves_nothing(tmp_path,
                                                                                 capsys):
    # ORT's optimizer drops the defaults of some initializer-inputs (those it would
    # deduplicate): its .ort would ask for 17 of squeezenet's shape tensors at every run.
    out = tmp_path / "squeezenet.ort"
    assert main(["convert", str(SQUEEZENET), "--to", "ort", "-o", str(out), "--no-fix"]) == 2
    err = capsys.readouterr().err
    assert "dropped the defaults of 17 initializer(s) that are also graph inputs" in err
    assert "fold-initializer-inputs" in err
    assert list(tmp_path.iterdir()) == []


def test_fix_cli_for_tflite_exits_0_and_says_what_it_folded(tmp_path, capsys):
    out = tmp_path / "squeezenet.tflite-ready.onnx"
    assert main(["fix", str(SQUEEZENET), "--target", "tflite", "-o", str(out),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unresolved"] == []
    assert FOLDED_LINE in "\n".join(line for record in report["passes"]
                                   for line in record["changes"])
    fixed = graphkit.load(out)
    assert [value.name for value in fixed.graph.inputs] == [SQUEEZENET_INPUT]
