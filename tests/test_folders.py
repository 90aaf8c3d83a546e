"""graphkit diagnose DIR / graphkit table DIR: every model in a folder, in child processes or
on a (local) Ray cluster; each row must say what diagnosing that model alone says."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from conftest import require

import graphkit
import graphkit.folders
from graphkit.cli import main
from graphkit.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiny_cnn.onnx"
TARGETS = ["ort", "tflite"]


def _cumprod_refused_by_ort() -> onnx.ModelProto:
    text = """<ir_version: 10, opset_import: ["" : 26]>
    g (float[2,3] x) => (float[2,3] y) { axis = Constant<value = int64 {1}>()
                                          y = CumProd<exclusive = -1>(x, axis) }"""
    return onnx.parser.parse_model(text)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two good models (one nested), one ORT refuses, one that is not ONNX, one non-model."""
    root = tmp_path / "models"
    (root / "nested").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "cnn.onnx")
    shutil.copy(EXAMPLE, root / "nested" / "cnn_copy.onnx")
    onnx.save(_cumprod_refused_by_ort(), root / "cumprod.onnx")
    (root / "broken.onnx").write_bytes(b"\x08\x07garbage")
    (root / "notes.txt").write_text("not a model")
    return root


def _verdict(report) -> str:
    if report.convertible:
        return "warn" if report.findings else "ok"
    return "fix" if all(f.fix for f in report.blockers) else "no"


def test_each_row_says_what_diagnosing_the_model_alone_says(folder):
    result = graphkit.folders.diagnose_folder(folder, TARGETS, jobs=2)
    assert [row.path for row in result.rows] == [
        "broken.onnx", "cnn.onnx", "cumprod.onnx", "nested/cnn_copy.onnx"]
    for row in result.rows[1:]:
        alone = graphkit.diagnose(str(folder / row.path), TARGETS)
        assert {t: c.status for t, c in row.verdicts.items()} == {
            t: _verdict(report) for t, report in alone.reports.items()}
        assert row.nodes == alone.nodes
    broken = result.rows[0]
    assert "broken.onnx" in broken.error and not broken.verdicts
    assert result.rows[2].verdicts["ort"].status == "no"  # the kernel refuses exclusive=-1
    assert not result.convertible


def test_the_op_matrix_counts_the_models_that_block_an_op(folder):
    matrix = graphkit.folders.diagnose_folder(folder, TARGETS).op_matrix()
    assert matrix.rows["CumProd"]["ort"].status == "no"
    assert matrix.rows["CumProd"]["ort"].detail.startswith("blocked in 1/1 models")
    assert matrix.rows["Conv"]["tflite"].text() == "ok: 2 model(s)"  # both copies of the CNN
    assert set(matrix.rows) >= {"Conv", "Relu", "CumProd", "Gemm"}


def test_a_model_that_kills_or_hangs_its_process_costs_only_its_row(folder, monkeypatch):
    real = graphkit.folders.diagnose_model

    def misbehaving(path: str, targets):
        if path.endswith("cnn_copy.onnx"):
            os._exit(9)  # as a segfaulting loader would
        if path.endswith("cumprod.onnx"):
            time.sleep(60)
        return real(path, targets)

    monkeypatch.setattr(graphkit.folders, "diagnose_model", misbehaving)  # forked children see it
    result = graphkit.folders.diagnose_folder(folder, TARGETS, jobs=2, timeout=3)
    rows = {row.path: row for row in result.rows}
    assert rows["nested/cnn_copy.onnx"].error == "the diagnosing process died (exit code 9)"
    assert rows["cumprod.onnx"].error == "diagnose took over 3 s"
    assert rows["cnn.onnx"].verdicts["ort"].status == "ok"


def test_cli_formats_and_exit_codes(folder, capsys):
    assert main(["table", str(folder), "--targets", "ort,tflite", "--format", "csv"]) == 1
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["model", "ort", "tflite"]
    assert [r[0] for r in rows[1:]] == ["broken.onnx", "cnn.onnx", "cumprod.onnx",
                                        "nested/cnn_copy.onnx"]
    assert rows[2][1] == "ok"

    assert main(["diagnose", str(folder), "-t", "ort", "--jobs", "2", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["models"][1] == {"model": "cnn.onnx", "nodes": 20, "error": None,
                                 "targets": {"ort": {"status": "ok", "detail": ""}}}
    assert data["ops"]["CumProd"]["ort"]["status"] == "no"

    assert main(["diagnose", str(folder), "-t", "ort", "--format", "html"]) == 1
    page = capsys.readouterr().out
    assert page.count("<table>") == 2 and "cumprod.onnx" in page

    good = folder / "nested"
    assert main(["diagnose", str(good), "-t", "ort", "--format", "md"]) == 0
    assert "| model | ort |" in capsys.readouterr().out


def test_bad_folder_options_are_exit_2(folder, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diagnose", str(empty)]) == 2
    assert "no models in it" in capsys.readouterr().err
    assert main(["table", str(folder), "--jobs", "0"]) == 2
    with pytest.raises(InputError, match="unknown target|no target"):
        graphkit.folders.diagnose_folder(folder, ["nonsense"])


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A one-node Ray cluster on this machine, as `ray start --head` starts one for users."""
    require("ray", "ray")
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():  # a venv that borrows its packages from another one
        ray = Path(shutil.which("ray") or ray)
    port = "6391"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run([str(ray), "start", "--head", f"--port={port}", "--num-cpus=1",
                    "--include-dashboard=false", "--disable-usage-stats"],
                   check=True, capture_output=True, env=env, timeout=300)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ray), "stop", "--force"], capture_output=True, env=env, timeout=120)


def test_on_a_ray_cluster_the_rows_are_the_same(folder, ray_cluster, capsys):
    assert main(["table", str(folder), "--targets", "ort,tflite", "--format", "json"]) == 1
    local = json.loads(capsys.readouterr().out)
    assert main(["table", str(folder), "--targets", "ort,tflite", "--format", "json",
                 "--ray", ray_cluster]) == 1
    on_ray = json.loads(capsys.readouterr().out)
    assert on_ray["models"] == local["models"]
    assert on_ray["ops"] == local["ops"]
