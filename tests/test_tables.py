"""graphkit table: model tables from diagnose, op-set tables from generated conformance data."""

from __future__ import annotations

import json
from pathlib import Path

from ir3_models import ir3_style_example

from graphkit.cli import main
from graphkit.tables import operator_set_table, render

ROOT = Path(__file__).resolve().parent.parent


def test_docs_compatibility_is_generated_from_the_current_data():
    rendered = render(operator_set_table(["ort", "torchscript", "tflite"]), "md")
    committed = (ROOT / "docs" / "compatibility.md").read_text()
    assert committed == rendered, (
        "docs/compatibility.md is stale: graphkit table --targets ort,torchscript,tflite "
        "--format md > docs/compatibility.md"
    )


def test_op_set_cells_count_the_cases_the_conformance_run_recorded():
    data = json.loads((ROOT / "opsets" / "generated" / "torchscript.json").read_text())
    table = operator_set_table(["torchscript"])
    for op in ("Conv", "Abs", "StringNormalizer"):
        runs = data["ops"][op].values()
        passed = sum(r["pass"] for r in runs)
        total = passed + sum(r["fail"] for r in runs)
        assert table.rows[op]["torchscript"].detail.startswith(f"{passed}/{total} cases")


def test_model_table_marks_what_each_target_needs(capsys, tmp_path):
    source = ir3_style_example(tmp_path / "cnn.onnx")  # statistics a caller may override
    assert main(["table", str(source), "--targets", "ort,tflite", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    batchnorm = data["ops"]["BatchNormalization"]
    assert batchnorm["ort"]["status"] == "ok"
    assert batchnorm["tflite"]["status"] == "fix"  # running stats must be constant: folded
    assert data["ops"]["Conv"]["tflite"]["status"] == "ok"


def test_unknown_data_target_is_a_clear_error(capsys):
    assert main(["table", "--targets", "nonesuch"]) == 2
    assert "no conformance data" in capsys.readouterr().err
