"""diagnose's text, Markdown and HTML say each finding's severity: a verdict "BLOCKED by 1
finding" followed by three findings must tell which one blocks."""

import json

import onnx
import pytest

from graphkit.cli import main

# For tflite: one error (MaxRoiPool has no lowering), one blocker through Flex
# (RegexFullMatch: string ops have no builtin) and one note (AveragePool leaving its
# padding out of the mean).
MIXED = """
    <ir_version: 8, opset_import: ["" : 20]>
    g (float[1,2,4,4] x, float[3,5] rois, string[4] s)
        => (float[3,2,2,2] y, float[1,2,5,5] p, bool[4] e) {
        y = MaxRoiPool<pooled_shape = [2, 2]>(x, rois)
        p = AveragePool<kernel_shape = [2, 2], pads = [1, 1, 1, 1]>(x)
        e = RegexFullMatch<pattern = "a+">(s)
    }"""


@pytest.fixture
def mixed_path(tmp_path):
    path = tmp_path / "mixed.onnx"
    onnx.save(onnx.parser.parse_model(MIXED), path)
    return path


def _group_heads(out: str) -> dict[str, str]:
    """op -> the first word of its group's head line ("error   GK104 slug  Op  fix: ...")."""
    heads = [line.split() for line in out.splitlines() if line.startswith("  ")
             and not line.startswith("    ")]
    return {words[3]: words[0] for words in heads if len(words) > 3}


def test_text_names_the_severity_of_each_group(mixed_path, capsys):
    assert main(["diagnose", str(mixed_path), "-t", "tflite"]) == 1
    out = capsys.readouterr().out
    # RegexFullMatch needs Flex, which diagnose without --allow-flex counts as a blocker too
    assert "BLOCKED by 2 findings on 2 nodes" in out
    assert "1 more finding below does not block" in out
    assert _group_heads(out) == {"MaxRoiPool": "error", "RegexFullMatch": "error",
                                  "AveragePool": "info"}


def test_markdown_has_a_severity_column_and_json_keeps_it(mixed_path, capsys):
    main(["diagnose", str(mixed_path), "-t", "tflite", "--format", "md"])
    markdown = capsys.readouterr().out
    assert "| severity | code | op |" in markdown
    assert "| error | GK107 flex-op | RegexFullMatch |" in markdown
    main(["diagnose", str(mixed_path), "-t", "tflite", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["targets"]["tflite"]["findings"]
    assert sorted(f["severity"] for f in findings) == ["error", "error", "info"]
