"""graphkit diagnose on the command line: formats, grouping, exit codes."""

import json

import onnx
import pytest

from graphkit.cli import main

# 12 Relu nodes on int64 (ORT has no int64 Relu kernel) and one clean Abs.
INT64_RELUS = """
    <ir_version: 8, opset_import: ["" : 17]>
    g (int64[3] x) => (int64[3] y) {{
        {body}
        y = Abs(r11)
    }}"""


@pytest.fixture
def blocked_path(tmp_path):
    lines = ["r0 = Relu(x)"] + [f"r{i} = Relu(r{i - 1})" for i in range(1, 12)]
    path = tmp_path / "relus.onnx"
    onnx.save(onnx.parser.parse_model(INT64_RELUS.format(body="\n".join(lines))), path)
    return path


@pytest.fixture
def clean_path(tmp_path):
    path = tmp_path / "clean.onnx"
    onnx.save(onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[3] x) => (float[3] y) { y = Relu(x) }"""), path)
    return path


def test_json_has_the_documented_shape_and_exit_1_on_blockers(blocked_path, capsys):
    before = blocked_path.read_bytes()
    assert main(["diagnose", str(blocked_path), "--target", "ort", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"model", "min_opset", "targets"}
    ort = data["targets"]["ort"]
    assert ort["convertible"] is False
    assert len(ort["findings"]) == 12
    first = ort["findings"][0]
    assert set(first) >= {"code", "severity", "node", "op", "message", "fix"}
    assert (first["code"], first["op"], first["fix"]) == ("GK201", "Relu", "int64-to-int32")
    assert ort["partitions"] == {"nodes": 13, "supported": 1, "count": 1, "largest": 1}
    assert blocked_path.read_bytes() == before  # input files are never modified


def test_text_groups_repeated_findings(blocked_path, capsys):
    assert main(["diagnose", str(blocked_path)]) == 1
    out = capsys.readouterr().out
    assert "BLOCKED by 12 findings on 12 nodes" in out
    assert out.count("GK201") == 1  # one row for the group, not twelve
    assert "12x #0 Relu, #1 Relu, #2 Relu (+9 more)" in out
    assert "int64-to-int32" in out


def test_clean_model_exits_0(clean_path, capsys):
    assert main(["diagnose", str(clean_path), "-t", "ort"]) == 0
    assert "ort: takes the model as it is" in capsys.readouterr().out


def test_markdown_and_html_list_the_blockers(blocked_path, capsys):
    main(["diagnose", str(blocked_path), "--format", "md"])
    markdown = capsys.readouterr().out
    assert "## ort" in markdown and "| GK201 int64-tensor | Relu | 12: " in markdown
    main(["diagnose", str(blocked_path), "--format", "html"])
    page = capsys.readouterr().out
    assert page.startswith("<!doctype html>") and "<style>" in page
    assert "GK201" in page and "int64-to-int32" in page
    assert "<script" not in page and "<link" not in page and "http" not in page


def test_unknown_target_exits_2_and_lists_the_known_ones(clean_path, capsys):
    assert main(["diagnose", str(clean_path), "--target", "tpu"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'tpu'" in err and "ort" in err
    assert len(err.strip().splitlines()) == 1


def test_unreadable_model_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["diagnose", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.onnx" in err and len(err.strip().splitlines()) == 1


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["diagnose", "--help"])
    assert "graphkit diagnose model.onnx --target ort --target tflite" in capsys.readouterr().out
