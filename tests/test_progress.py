"""Progress: the library says what it is doing (graphkit._progress); the CLI shows it beside
its spinner on a terminal, and nothing with --quiet or when stderr is not a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

import graphkit
from graphkit._progress import listening, step
from graphkit.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiny_cnn.onnx"


def test_convert_tells_each_stage_in_order(tmp_path):
    said: list[str] = []
    with listening(said.append):
        graphkit.convert(str(EXAMPLE), "ort", tmp_path / "m.onnx")
    stages = ["fixing for ort", "running the original model for the proof",
              "proving the rewrites on ONNX Runtime", "emitting the ort artifact",
              "validating it against ONNX Runtime"]
    assert [s for s in said if s in stages] == stages
    passes = [s for s in said if s.startswith("pass ")]
    assert "pass fold-constants" in passes and len(passes) >= 5


def test_nobody_listening_is_fine_and_listeners_nest():
    step("nobody hears this")
    outer: list[str] = []
    inner: list[str] = []
    with listening(outer.append):
        step("a")
        with listening(inner.append):
            step("b")
        step("c")
    assert (outer, inner) == (["a", "c"], ["b"])


@pytest.mark.parametrize("quiet", [False, True])
def test_the_spinner_shows_on_a_terminal_unless_quiet(tmp_path, capsys, monkeypatch, quiet):
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    flags = ["--quiet"] if quiet else []
    assert main([*flags, "fix", str(EXAMPLE), "-t", "ort", "-o", str(tmp_path / "f.onnx")]) == 0
    err = capsys.readouterr().err
    assert (err == "") is quiet


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path, capsys):
    assert main(["fix", str(EXAMPLE), "-t", "ort", "-o", str(tmp_path / "f.onnx")]) == 0
    assert capsys.readouterr().err == ""
