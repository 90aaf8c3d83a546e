"""graphkit.fix on models built in code: the loop, pinning, and the proof against the original."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import model_from_text, ops, run_ort

import graphkit
from graphkit.cli import main
from graphkit.findings import Finding, Severity
from graphkit.passmanager import count_nodes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


@pytest.fixture(scope="module")
def transformer(tmp_path_factory) -> Path:
    from models import transformer_onnx

    return transformer_onnx(tmp_path_factory.mktemp("fix") / "t2.onnx", blocks=2)


def _all_static(model) -> bool:
    values = [v for n in model.graph for v in n.outputs] + list(model.graph.inputs)
    return all(v.shape is not None and all(isinstance(d, int) for d in v.shape) for v in values)


def test_pinned_transformer_is_fully_static_and_matches(transformer, rng):
    fixed, report = graphkit.fix(str(transformer), "ort", pin=("batch=2", "seq=128"))
    assert "Shape" not in ops(fixed)
    assert _all_static(fixed)
    assert report.validated and report.fixed
    original = graphkit.load(str(transformer))
    x = rng.standard_normal((2, 128, 256)).astype(np.float32)
    [before] = run_ort(original, {"x": x})
    [after] = run_ort(fixed, {"x": x})
    np.testing.assert_allclose(before, after, rtol=1e-4, atol=1e-5)
    assert count_nodes(fixed) < count_nodes(original) / 3


def test_dynamic_transformer_keeps_batch_dynamic(transformer, rng):
    fixed, report = graphkit.fix(str(transformer), "ort")
    assert report.validated
    original = graphkit.load(str(transformer))
    for batch in (1, 3):
        x = rng.standard_normal((batch, 128, 256)).astype(np.float32)
        np.testing.assert_allclose(run_ort(original, {"x": x})[0], run_ort(fixed, {"x": x})[0],
                                   rtol=1e-4, atol=1e-5)


def test_the_closing_diagnosis_reads_the_capture_of_the_model_returned(transformer):
    # fix hands its last diagnosis the proof's light capture instead of serializing again:
    # that capture must be of the very model fix returns.
    fixed, report = graphkit.fix(str(transformer), "ort")
    assert report.capture is not None
    assert [n.op_type for n in report.capture.proto.graph.node] == ops(fixed)
    fresh = graphkit.diagnose(fixed, "ort").findings
    assert report.findings[:len(fresh)] == fresh  # fix lists the diagnosis's findings first


class OpsetWindow:
    """A target that accepts opsets 13..17 only and every node: exercises the GK103 loop."""

    name = "window"
    description = "opsets 13..17"

    def opset_range(self):
        return (13, 17)

    def check_model(self, model):
        opset = model.opset_imports.get("", 1)
        if 13 <= opset <= 17:
            return []
        return [Finding("GK103", Severity.ERROR, f"opset {opset} outside 13..17",
                        fix="convert-opset", target=self.name)]

    def check_node(self, node, ctx):
        return []


def test_opset_outside_the_target_range_is_converted(rng):
    model = model_from_text("""
    <ir_version: 7, opset_import: ["" : 11]>
    g (float[2, 3] x) => (float[2, 3] y) { y = Softmax <axis = 1> (x) }
    """)
    fixed, report = graphkit.fix(model, OpsetWindow(), legalize_only=True)
    assert fixed.opset_imports[""] == 13
    assert report.fixed and report.validated and report.blockers_before == 1
    assert [p.name for p in report.passes] == ["convert-opset"]
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(run_ort(fixed, {"x": x})[0], run_ort(model, {"x": x})[0], rtol=1e-6)


def test_cli_writes_output_and_never_touches_input(transformer, tmp_path):
    data = transformer.read_bytes()
    out = tmp_path / "fixed.onnx"
    code = main(["fix", str(transformer), "--target", "ort", "-o", str(out), "--pin", "batch=1",
                 "--pin", "seq=128", "--format", "json"])
    assert code == 0 and out.exists()
    assert transformer.read_bytes() == data
    assert main(["fix", str(transformer), "-o", str(transformer)]) == 2
    assert main(["fix", str(transformer), "-o", str(tmp_path / "o.onnx"), "--pin", "heads=4"]) == 2


def test_a_wrong_rewrite_in_the_pipeline_is_rolled_back_and_the_rest_kept(monkeypatch, rng):
    # The optimistic proof of the whole list fails, so fix's manager goes back to the model its
    # reference captured and proves pass by pass.
    from test_passmanager import ReluToSigmoid

    import graphkit.fixing as fix_module
    from graphkit.passes import pass_registry

    registry = pass_registry()
    monkeypatch.setattr(fix_module, "target_pipeline", lambda target, model: [
        registry["eliminate-identity"](), ReluToSigmoid(), registry["remove-dead-nodes"]()])
    model = model_from_text("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[2, 8] x) => (float[2, 8] y) {
            a = Identity(x)
            r = Relu(a)
            y = Add(r, x)
        }
    """)
    fixed, report = graphkit.fix(model, "ort")
    assert ops(fixed) == ["Relu", "Add"]
    by_name = {record.name: record for record in report.passes}
    assert by_name["relu-to-sigmoid"].rolled_back and not by_name["eliminate-identity"].rolled_back
    assert any(f.code == "GK501" and "relu-to-sigmoid" in f.message for f in report.findings)
    x = rng.standard_normal((2, 8)).astype(np.float32)
    assert np.array_equal(run_ort(fixed, {"x": x})[0], np.maximum(x, 0) + x)
    assert all(diff.ok and diff.max_abs == 0.0 for diff in report.validation)


def test_cli_passes_runs_a_pipeline_besides_the_fixes(tmp_path, rng, capsys):
    source = Path(__file__).resolve().parents[1] / "examples" / "tiny_cnn.onnx"
    out = tmp_path / "half.onnx"
    assert main(["fix", str(source), "-o", str(out), "--passes", "float16", "--legalize-only",
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [p["pass"] for p in report["passes"]][-1] == "float16"
    assert report["validation"]["ok"]
    half = graphkit.load(out)
    assert any(v.const_value.dtype.name == "FLOAT16" for v in half.graph.initializers.values())
    original = graphkit.load(source)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(run_ort(half, {"image": x})[0], run_ort(original, {"image": x})[0],
                               rtol=1e-2, atol=1e-3)
    assert main(["fix", str(source), "-o", str(tmp_path / "x.onnx"), "--passes", "nope"]) == 2
    assert "unknown pass 'nope'" in capsys.readouterr().err


def test_the_module_behind_graphkit_fix_has_its_own_name():
    # The function graphkit.fix no longer hides a module of the same name.
    import graphkit.fixing

    assert graphkit.fix is graphkit.fixing.fix
    assert "graphkit.fix" not in sys.modules
