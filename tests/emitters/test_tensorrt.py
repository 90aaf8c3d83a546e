"""convert --to tensorrt: the bundle where TensorRT is absent, the engine where it is.

Without `tensorrt` (CI, and this machine) convert writes model.trt.onnx, the profile and
build_engine.sh, builds and validates nothing, and exits 1 saying so. The tests marked
requires_tensorrt build the engine and run it against ONNX Runtime (tests/conftest.py skips
them only where `import tensorrt` fails).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from conftest import model_from_text, run_ort

import graphkit
from graphkit.backends.tensorrt import runner
from graphkit.cli import main

CNN = """<ir_version: 10, opset_import: ["" : 17]>
g (float[N,3,8,8] x) => (float[N,4,8,8] y) {
  w = Constant<value = float[4,3,1,1] {0.5,-1,2,0.25,1,-0.5,0.75,1.5,-2,1,0.5,-0.25}>()
  b = Constant<value = float[4] {0.1,-0.2,0.3,0.05}>()
  c = Conv(x, w, b)
  s = Softmax<axis=1>(c)
  y = Relu(s)
}"""


@pytest.fixture
def cnn(tmp_path):
    path = tmp_path / "cnn.onnx"
    graphkit.save(model_from_text(CNN), path)
    return path


def _outputs(path, x: np.ndarray) -> np.ndarray:
    return run_ort(onnx.load(str(path)), {"x": x})[0]


def test_without_tensorrt_the_bundle_is_written_and_nothing_is_claimed(cnn, tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(runner, "available", lambda: "tensorrt is not installed (test)")
    out = tmp_path / "out"
    out.mkdir()
    code = main(["convert", str(cnn), "--to", "tensorrt", "-o", str(out / "model.engine"),
                 "--shapes", "x=1x3x8x8:4x3x8x8:16x3x8x8", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # no engine: never exit 0 for what did not run
    assert report["validated"] is False and report["validation"] == []
    assert report["metadata"]["built"] is False
    assert "NOT built and NOT validated" in report["metadata"]["notes"][0]
    assert sorted(p.name for p in out.iterdir()) == ["build_engine.sh", "model.profile.json",
                                                      "model.trt.onnx"]
    profile = json.loads((out / "model.profile.json").read_text())
    assert profile["profiles"] == [{"x": {"min": [1, 3, 8, 8], "opt": [4, 3, 8, 8],
                                          "max": [16, 3, 8, 8], "source": "--shapes"}}]
    script = (out / "build_engine.sh").read_text()
    for flag in ("--onnx=model.trt.onnx", "--stronglyTyped", "--minShapes=x:1x3x8x8",
                 "--optShapes=x:4x3x8x8", "--maxShapes=x:16x3x8x8", "--saveEngine=model.engine",
                 "polygraphy run model.trt.onnx", "--trt --onnxrt"):
        assert flag in script
    # The TRT-ready ONNX computes what the original does, at a batch inside the profile.
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_outputs(out / "model.trt.onnx", x), _outputs(cnn, x),
                               rtol=1e-5, atol=1e-6)


def test_fp16_bundle_is_a_proven_float16_graph(cnn, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "available", lambda: "tensorrt is not installed (test)")
    artifact = graphkit.convert(cnn, "tensorrt", tmp_path / "m.engine",
                                fix_options={"passes": "float16"})
    assert not artifact.validated and artifact.path == tmp_path / "m.trt.onnx"
    assert artifact.metadata["precision"] == "float16"
    fix = artifact.metadata["fix"]
    assert any(p["pass"] == "float16" and p["modified"] and not p["rolled_back"]
               for p in fix["passes"])
    assert fix["validation"]["outputs"] and all(o["ok"] for o in fix["validation"]["outputs"])
    half = onnx.load(str(artifact.path))
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # keep-io
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in half.graph.initializer)
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_outputs(artifact.path, x), _outputs(cnn, x), rtol=1e-2, atol=1e-3)


def test_fix_precision_fp16_runs_the_float16_rewrite(cnn, tmp_path):
    out = tmp_path / "half.onnx"
    assert main(["fix", str(cnn), "--target", "tensorrt", "-o", str(out),
                 "--precision", "fp16"]) == 0
    half = onnx.load(str(out))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in half.graph.initializer)
    plain = tmp_path / "plain.onnx"
    assert main(["fix", str(cnn), "--target", "tensorrt", "-o", str(plain)]) == 0
    assert not any(t.data_type == onnx.TensorProto.FLOAT16
                   for t in onnx.load(str(plain)).graph.initializer)


def test_diagnose_says_float32_builds_float32_and_names_dynamic_inputs(cnn, capsys):
    assert main(["diagnose", str(cnn), "-t", "tensorrt", "-t", "tensorrt@10.15",
                 "--precision", "fp16", "--format", "json"]) == 0
    targets = json.loads(capsys.readouterr().out)["targets"]
    [precision] = [f for f in targets["tensorrt"]["findings"] if f["code"] == "GK204"]
    assert precision["severity"] == "warning" and precision["fix"] == "float16"
    assert not [f for f in targets["tensorrt@10.15"]["findings"] if f["code"] == "GK204"]
    [profile] = [f for f in targets["tensorrt"]["findings"] if f["code"] == "GK307"]
    assert "x (N)" in profile["message"]
    assert main(["diagnose", str(cnn), "-t", "tensorrt", "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["targets"]["tensorrt"]["findings"]
    assert [f["severity"] for f in findings if f["code"] == "GK204"] == ["info"]


@pytest.mark.parametrize(("args", "needle"), [
    (["--shapes", "y=1x3x8x8"], "no input 'y'"),
    (["--shapes", "x=1x3x8x8:4x3x8x8"], "one shape or three"),
    (["--shapes", "x=8x3x8x8:4x3x8x8:16x3x8x8"], "MIN <= OPT <= MAX"),
    (["--shapes", "x=1x4x8x8"], "dim 1 of 'x' is fixed at 3"),
    (["--shapes", "x=1x3x8"], "rank 4"),
    (["--shapes", "x=1xAx8x8"], "not a shape"),
])
def test_bad_shapes_are_exit_2_with_one_line(cnn, tmp_path, capsys, args, needle):
    code = main(["convert", str(cnn), "--to", "tensorrt", "-o", str(tmp_path / "m.engine"),
                 *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]
    assert list(tmp_path.glob("m*")) == []


def test_engine_options_belong_to_tensorrt(cnn, tmp_path, capsys):
    assert main(["convert", str(cnn), "--to", "ort", "-o", str(tmp_path / "m.onnx"),
                 "--precision", "fp16"]) == 2
    assert "--precision is an option of the tensorrt target" in capsys.readouterr().err
    assert main(["fix", str(cnn), "--target", "ort", "-o", str(tmp_path / "f.onnx"),
                 "--precision", "fp16"]) == 2


def test_runner_says_why_it_cannot_run_without_tensorrt(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorrt" else real(name, *a))
    assert "tensorrt Python package is not installed" in runner.available()


@pytest.mark.requires_tensorrt
def test_engine_is_built_and_matches_onnx_runtime(cnn, tmp_path):
    cache = tmp_path / "timing.cache"
    artifact = graphkit.convert(cnn, "tensorrt", tmp_path / "model.engine",
                                shapes=("x=1x3x8x8:2x3x8x8:4x3x8x8",), workspace_mib=256,
                                timing_cache=cache)
    assert artifact.metadata["built"] is True, artifact.metadata
    assert artifact.path == tmp_path / "model.engine" and artifact.path.stat().st_size > 0
    assert artifact.validated, [d.to_json() for d in artifact.validation]
    assert cache.stat().st_size > 0
    x = np.random.default_rng(2).standard_normal((3, 3, 8, 8)).astype(np.float32)
    got = runner.run_artifact(artifact.path, {"x": x})
    np.testing.assert_allclose(next(iter(got.values())), _outputs(cnn, x), rtol=1e-3, atol=1e-4)


@pytest.mark.requires_tensorrt
def test_fp16_engine_is_built_strongly_typed_and_matches(cnn, tmp_path):
    artifact = graphkit.convert(cnn, "tensorrt", tmp_path / "half.engine",
                                fix_options={"passes": "float16"}, rtol=1e-2, atol=1e-3,
                                shapes=("x=1x3x8x8:2x3x8x8:4x3x8x8",))
    assert artifact.metadata["built"] is True and artifact.metadata["precision"] == "float16"
    assert artifact.validated, [d.to_json() for d in artifact.validation]


def test_a_float16_graph_or_static_inputs_ask_for_nothing(cnn, tmp_path, capsys):
    half = tmp_path / "half.onnx"
    assert main(["fix", str(cnn), "--target", "tensorrt", "-o", str(half), "--precision", "fp16",
                 "--pin", "N=2"]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(half), "-t", "tensorrt", "--precision", "fp16",
                 "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["targets"]["tensorrt"]["findings"]
    assert [f for f in findings if f["code"] in ("GK204", "GK307")] == []
