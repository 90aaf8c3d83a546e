"""Time limits on model runs: a Loop that never ends stops graphkit with exit 2 naming the node.

The subprocess timeouts below are hang guards (before the limit existed these commands ran
forever), not speed assertions.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

import graphkit
from graphkit._time_limit import RunTimeout, run_python
from graphkit.errors import InputError
from graphkit.runner import ModelRunner
from graphkit.validation import choose_input_shapes

HANG_GUARD = 300  # seconds: far beyond the 2 s limit plus start-up on a loaded machine

NEVER_ENDS = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[N] x) => (float[N] y) {
  trip = Constant <value = int64 {9223372036854775807}> ()
  cond = Constant <value = bool {1}> ()
  y = Loop (trip, cond, x) <body = body (int64 i, bool c, float[N] acc) => (bool c2, float[N] s) {
      c2 = Identity(c)
      s = Identity(acc)
  }>
}
"""


def _never_ending_loop() -> onnx.ModelProto:
    """Cond stays true and the trip count is int64's largest: the Loop runs forever."""
    proto = onnx.parser.parse_model(NEVER_ENDS)
    proto.graph.node[2].name = "forever"
    onnx.checker.check_model(proto)
    return proto


@pytest.fixture
def loop_file(tmp_path):
    path = tmp_path / "loop.onnx"
    onnx.save(_never_ending_loop(), path)
    return path


@pytest.mark.parametrize("prefer", ["ort", "reference"])
def test_a_run_past_the_limit_stops_and_names_the_loop(prefer):
    runner = ModelRunner(_never_ending_loop(), prefer=prefer, timeout=0.5)
    with pytest.raises(RunTimeout, match=r"Loop node 'forever' did not finish within 0.5 s"):
        runner.run({"x": np.ones(2, np.float32)})


@pytest.mark.parametrize("prefer", ["ort", "reference"])
def test_runs_that_finish_keep_their_results(prefer):
    relu = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[3] x) => (float[3] y) { y = Relu(x) }""")
    runner = ModelRunner(relu, prefer=prefer, timeout=30)
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(runner.run({"x": x})["y"], np.maximum(x, 0))


def test_the_python_limit_stops_a_plain_python_loop():
    def spin() -> None:
        while True:
            pass

    with pytest.raises(RunTimeout, match="the model did not finish"):
        run_python(spin, 0.2)


def test_fix_api_raises_the_input_error(loop_file):
    with pytest.raises(InputError, match="Loop node 'forever' did not finish within 1 s"):
        graphkit.fix(str(loop_file), "ort", timeout=1)


def test_validate_api_limits_the_reference_run(loop_file):
    with pytest.raises(RunTimeout, match="Loop node 'forever'"):
        graphkit.validate(loop_file, loop_file, timeout=1)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "10", True])
def test_a_timeout_that_is_not_a_positive_number_is_refused(loop_file, timeout):
    with pytest.raises(InputError, match="timeout must be a positive number"):
        graphkit.fix(str(loop_file), "ort", timeout=timeout)


class _SlowRunner:
    """A runner whose every run runs out of time, counting the runs tried."""

    timeout = 1.0

    def __init__(self) -> None:
        self.runs = 0

    def run(self, feeds, *, seconds=None):
        self.runs += 1
        raise RunTimeout("Loop node 'forever' did not finish within 1 s")


def test_the_shape_search_stops_at_the_first_run_out_of_time():
    """The model has several candidate shapes (N=1, and the Reshape's baked 5): once one run
    runs out of time, the others are not tried, so the search takes one limit, not seven."""
    model = graphkit.load(onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[N] x) => (float[5] y) {
            shape = Constant <value = int64[1] {5}> ()
            y = Reshape(x, shape)
        }"""))
    runner = _SlowRunner()
    with pytest.raises(RunTimeout):
        choose_input_shapes(model, runner)
    assert runner.runs == 1


@pytest.mark.parametrize("command", [
    ["fix", "-t", "ort", "-o", "{out}.onnx"],
    ["fix", "-t", "tflite", "-o", "{out}.onnx"],
    ["convert", "--to", "ort", "-o", "{out}.onnx"],
    ["convert", "--to", "ort", "--no-fix", "-o", "{out}.onnx"],
])
def test_cli_exits_2_naming_the_loop_and_writes_nothing(loop_file, tmp_path, command):
    out = tmp_path / "out"
    argv = [part.format(out=out) for part in command]
    done = subprocess.run(
        [sys.executable, "-m", "graphkit", argv[0], str(loop_file), *argv[1:], "--timeout", "2"],
        capture_output=True, text=True, timeout=HANG_GUARD,
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line == ("graphkit: error: Loop node 'forever' did not finish within 2 s "
                    "(a loop that never ends?); allow more time with --timeout SECONDS")
    assert not list(tmp_path.glob("out*"))


def test_cli_refuses_a_timeout_of_zero(loop_file, capsys):
    from graphkit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["fix", str(loop_file), "-o", "x.onnx", "--timeout", "0"])
    assert exited.value.code == 2
    assert "not a positive number of seconds" in capsys.readouterr().err
