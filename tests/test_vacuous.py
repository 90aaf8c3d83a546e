"""GK506: a check whose reference hardly moves with its input is called out, not trusted."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import graphkit
from graphkit._vacuous import shuffled
from graphkit.cli import main

MODEL = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,16] x) => (float[1,10] y) {{ h = MatMul(x, w)  y = {head}(h) }}
"""


def _model(path, head: str, scale: float):
    model = onnx.parser.parse_model(MODEL.format(head=head))
    weights = np.random.default_rng(0).standard_normal((16, 10)).astype(np.float32) * scale
    model.graph.initializer.append(onnx.numpy_helper.from_array(weights, "w"))
    onnx.save(model, path)
    return path


CASES = {
    # an untrained classifier: tiny weights, softmax answers ~0.1 for every class
    "random-init classifier": ("Softmax", 1e-5, True),
    # constant weights: zero, so the output is the same whatever the input
    "constant-weight model": ("Relu", 0.0, True),
    "a model whose outputs follow its input": ("Tanh", 1.0, False),
}


@pytest.mark.parametrize("case", CASES)
def test_convert_warns_only_when_the_outputs_ignore_the_input(tmp_path, case):
    head, scale, vacuous = CASES[case]
    source = _model(tmp_path / "m.onnx", head, scale)
    artifact = graphkit.convert(str(source), "ort", tmp_path / "out.onnx")
    assert artifact.validated  # a warning, not a failure
    warnings = artifact.metadata.get("warnings", [])
    assert bool(warnings) is vacuous
    if vacuous:
        assert warnings[0].startswith("GK506") and "--inputs" in warnings[0]


def test_validate_cli_says_the_check_proves_little_and_exits_0(tmp_path, capsys):
    source = _model(tmp_path / "m.onnx", "Softmax", 1e-5)
    artifact = graphkit.convert(str(source), "ort", tmp_path / "out.onnx").path
    assert main(["validate", str(artifact), "--reference", str(source)]) == 0
    assert "warning: GK506 the outputs hardly change with the input" in capsys.readouterr().out
    assert main(["validate", str(artifact), "--reference", str(source), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"][0].startswith("GK506")
    honest = _model(tmp_path / "t.onnx", "Tanh", 1.0)
    artifact = graphkit.convert(str(honest), "ort", tmp_path / "t_out.onnx").path
    assert main(["validate", str(artifact), "--reference", str(honest), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


def test_only_float_inputs_are_shuffled_and_a_constant_one_gives_no_verdict():
    ids = np.arange(6, dtype=np.int64)
    assert shuffled({"ids": ids}) is None
    assert shuffled({"x": np.ones(5, np.float32)}) is None
    varied = shuffled({"x": np.arange(6, dtype=np.float32), "ids": ids})
    assert sorted(varied["x"]) == list(range(6)) and not np.array_equal(varied["x"], range(6))
    assert varied["ids"] is ids
