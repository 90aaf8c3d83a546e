"""The user sees graphkit's output only: no TensorFlow/absl log lines, numpy warnings or ONNX
Runtime `[E:]` lines on stderr, whether the command fails or succeeds; --debug shows them.

Each case runs the CLI as its own process: TensorFlow and ONNX Runtime print from C++, to the
process's file descriptor 2, where no in-process capture of sys.stderr would see them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from conftest import require
from detector_models import detector_with_topk

import graphkit

# Left to the libraries, each of these printed its own lines before graphkit's.
RESIZE_ORT_REFUSES = """<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 1, 2, 2] x) => (float[1, 1, 4, 4] y) <float[4] s = {1.0, 1.0, 2.0, 2.0}> {
    y = Resize<mode="cubicx">(x, , s)
}"""
LOG_OF_ZERO = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) <float[1] zero = {0.0}, float[1] big = {1e30}> {
    l = Log(zero)
    t = Add(x, l)
    y = Mul(t, big)
}"""


def _graphkit(*args: str | Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TF_", "ABSL", "PYTHONWARNINGS"))}
    return subprocess.run([sys.executable, "-m", "graphkit", *map(str, args)],
                          capture_output=True, text=True, env=env)


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    [line] = done.stderr.splitlines()  # graphkit's line and nothing else
    assert line.startswith("graphkit: error: ")
    return line


@pytest.mark.parametrize("kind", ["keras", "tflite", "saved_model"])
def test_a_bad_tensorflow_model_is_one_line_without_tensorflows_logs(tmp_path, kind):
    require("tensorflow", "tensorflow")
    if kind == "keras":
        path = tmp_path / "m.keras"
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif kind == "tflite":
        path = tmp_path / "m.tflite"
        path.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"garbage" * 3)  # passes the identifier check
    else:
        path = tmp_path / "saved"
        path.mkdir()
        (path / "saved_model.pb").write_bytes(b"not a SavedModel")
    done = _graphkit("inspect", path)
    assert done.returncode == 2
    assert path.name in _one_error_line(done)


def test_an_ort_session_that_fails_prints_no_ort_lines(tmp_path):
    path = tmp_path / "resize.onnx"
    onnx.save(onnx.parser.parse_model(RESIZE_ORT_REFUSES), path)
    done = _graphkit("fix", path, "-o", tmp_path / "out.onnx")
    assert done.returncode == 2
    assert "[E:" not in done.stderr
    _one_error_line(done)


def test_numpy_warnings_stay_out_unless_debug(tmp_path):
    path = tmp_path / "log0.onnx"
    onnx.save(onnx.parser.parse_model(LOG_OF_ZERO), path)
    # fold-constants computes Log(0) = -inf; float16 turns 1e30 into inf: both by design
    args = ("fix", path, "-o", tmp_path / "out.onnx", "--passes", "float16")
    done = _graphkit(*args)
    assert done.returncode == 0 and done.stderr == ""
    debug = _graphkit("--debug", *args)
    assert debug.returncode == 0 and "RuntimeWarning" in debug.stderr


@pytest.mark.parametrize("target", ["tflite", "tensorrt"])
def test_nms_cut_prints_graphkits_report_only(tmp_path, target):
    path = tmp_path / "det.onnx"
    graphkit.save(detector_with_topk(), path)
    done = _graphkit("fix", path, "--target", target, "--nms", "cut", "-o", tmp_path / "o.onnx")
    assert done.returncode == 0 and done.stderr == ""
    assert "post-processing model written to" in done.stdout
