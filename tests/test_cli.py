"""The CLI's contract: exit codes, one-line errors, --help with examples for every command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graphkit.cli import COMMANDS, build_parser, main


def test_no_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: graphkit" in capsys.readouterr().err


def test_every_command_has_help_with_examples():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert len(subparsers.choices) >= len(COMMANDS)
    for name, sub in subparsers.choices.items():
        assert "examples:" in (sub.epilog or ""), f"'graphkit {name} --help' has no examples"


def test_bad_input_is_one_line_on_stderr_with_exit_2(tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_text("this is not a model")
    done = subprocess.run([sys.executable, "-m", "graphkit", "inspect", str(bogus)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("graphkit: error:") and str(bogus) in line


def test_pickles_are_refused_without_being_opened(tmp_path, capsys):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"\x80\x04 not even read")
    assert main(["inspect", str(weights)]) == 2
    err = capsys.readouterr().err
    assert "pickle" in err and "torch.onnx.export" in err


def test_internal_errors_are_one_line_unless_debug(monkeypatch, capsys):
    def explode(_args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("graphkit.cli._inspect.run", explode)
    assert main(["inspect", "x.onnx"]) == 3
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: boom" in err and "Traceback" not in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "inspect", "x.onnx"])


EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "tiny_cnn.onnx")


def test_fix_text_never_cuts_a_pass_name(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = str(tmp_path / "f.onnx")
    assert main(["fix", EXAMPLE, "--target", "tflite", "-o", out, "--format", "json"]) == 0
    changed = {p["pass"] for p in json.loads(capsys.readouterr().out)["passes"] if p["modified"]}
    assert main(["fix", EXAMPLE, "--target", "tflite", "-o", out]) == 0
    said = capsys.readouterr().out
    assert changed and all(f"  {name} " in said for name in changed), (changed, said)
    assert "…" not in said.split("output ")[0]


def test_fix_text_says_when_no_pass_changed_the_model(tmp_path, capsys):
    fixed = tmp_path / "f.onnx"
    assert main(["fix", EXAMPLE, "--target", "tflite", "-o", str(fixed)]) == 0
    capsys.readouterr()
    assert main(["fix", str(fixed), "--target", "tflite", "-o", str(tmp_path / "g.onnx")]) == 0
    said = capsys.readouterr().out
    assert "no pass changed the model" in said
    assert "seconds" not in said  # no empty table header


def test_inspect_never_cuts_an_input_name_or_dim(tmp_path, capsys, monkeypatch):
    import onnx
    from onnx import TensorProto, helper

    monkeypatch.setenv("COLUMNS", "60")
    name = "encoder_input_ids_with_a_very_long_exporter_generated_name_0"
    value = helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch_size_dimension", 768])
    graph = helper.make_graph([helper.make_node("Relu", [name], ["y"])], "g", [value],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "long.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert main(["inspect", str(path)]) == 0
    said = capsys.readouterr().out
    assert f"{name}  float  [batch_size_dimension, 768]" in said
