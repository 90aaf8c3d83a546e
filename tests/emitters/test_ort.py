"""The ORT emitter writes optimized ONNX / .ort files that match the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphkit
from graphkit.backends.ort import emitter as ort_emitter
from graphkit.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"


@pytest.fixture(scope="module")
def model():
    return graphkit.load(EXAMPLE)


@pytest.fixture
def image(rng):
    return {"image": rng.standard_normal((2, 3, 32, 32)).astype(np.float32)}


@pytest.mark.parametrize(("name", "level"), [("m.onnx", "basic"), ("m.onnx", "extended"),
                                             ("m.onnx", "all"), ("m.ort", "extended")])
def test_artifact_matches_reference(model, image, tmp_path, name, level):
    artifact = ort_emitter.emit(model, tmp_path / name, optimization=level)
    diffs = graphkit.validate(artifact, EXAMPLE, inputs=image)
    assert [d.name for d in diffs] == ["logits"]
    assert all(d.ok and d.max_abs < 1e-5 for d in diffs)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"staging files left behind: {leftovers}"


def test_ort_format_comes_with_reduced_build_config(model, tmp_path):
    artifact = ort_emitter.emit(model, tmp_path / "m.ort")
    config = (tmp_path / "m.ort.config").read_text()
    assert artifact.metadata["format"] == "ort"
    assert "ai.onnx;11;Conv" in config and "m.ort" in config
    assert str(tmp_path) not in config  # no staging paths leak into it


def test_unknown_level_is_a_clear_error(model, tmp_path):
    with pytest.raises(graphkit.InputError, match="unknown ORT optimization level"):
        ort_emitter.emit(model, tmp_path / "m.onnx", optimization="max")


def test_convert_cli_writes_and_validates(tmp_path, capsys):
    out = tmp_path / "cnn.ort"
    assert main(["convert", str(EXAMPLE), "--to", "ort", "-o", str(out), "--no-fix"]) == 0
    assert out.exists() and "logits" in capsys.readouterr().out


def test_convert_refuses_to_overwrite_its_input(tmp_path, capsys):
    copy = tmp_path / "m.onnx"
    copy.write_bytes(EXAMPLE.read_bytes())
    assert main(["convert", str(copy), "--to", "ort", "-o", str(copy), "--no-fix"]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert copy.read_bytes() == EXAMPLE.read_bytes()


def test_validate_cli_catches_a_different_model(model, tmp_path, capsys):
    # Zero the last Gemm bias: same interface, different numbers.
    gemm = next(node for node in model.graph if node.op_type == "Gemm")
    bias = gemm.inputs[2]
    changed = graphkit.load(EXAMPLE)
    changed_bias = next(n for n in changed.graph if n.op_type == "Gemm").inputs[2]
    changed_bias.const_value = graphkit_tensor(np.asarray(bias.const_value.numpy()) + 1.0)
    wrong = tmp_path / "wrong.onnx"
    graphkit.save(changed, wrong)
    assert main(["validate", str(wrong), "--reference", str(EXAMPLE)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def graphkit_tensor(array: np.ndarray):
    import onnx_ir as ir

    return ir.tensor(array.astype(np.float32))


def test_conformance_leaves_cases_ort_cannot_be_fed_out_of_the_agreement(tmp_path):
    # numpy has no bfloat16 ORT's Python API takes: such a case says nothing of the analysis.
    from graphkit.backends import conformance

    cases = {c.name: c for c in conformance.load_cases(keyword="test_cast_")}
    target = conformance.adapter("ort")
    assert not target.feeds_nonstandard
    bf16 = conformance.run_case(cases["test_cast_BFLOAT16_to_FLOAT"], target, tmp_path)
    plain = conformance.run_case(cases["test_cast_FLOAT_to_DOUBLE"], target, tmp_path)
    assert not bf16.standard and not bf16.measured and not bf16.passed and bf16.agrees
    assert plain.measured and plain.passed and plain.agrees
    summary = conformance.Summary([bf16, plain])
    assert summary.measured() == 1 and not summary.disagreements()
