"""graphkit reduce: a model that fails at a known node is bisected down to that node."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys

import numpy as np
import onnx
import pytest

from graphkit._reduce_checks import command_check, convert_check
from graphkit.backends.torchscript import lowering
from graphkit.cli import main
from graphkit.errors import InputError
from graphkit.reduce import NothingToReduce, reduce_model
from tests.conftest import require

# A chain, two branches and a join; the Tanh on one branch is the node made to fail.
MODEL = """
<ir_version: 8, opset_import: ["" : 17]>
model (float[2,8] x) => (float[2,4] y) {
    h1 = MatMul(x, w1)
    a1 = Relu(h1)
    t = Tanh(a1)
    s = Sigmoid(a1)
    z = Add(t, s)
    n = Neg(z)
    y = MatMul(n, w2)
}
"""
NAMES = ["mm1", "relu", "bad_tanh", "sigmoid", "join", "neg", "mm2"]
# Fails (exit 3) on any model holding a Tanh: a runtime graphkit cannot run, in one line.
# The op type is a string in the protobuf, and no other name here contains 'Tanh' (the
# node is 'bad_tanh'); reading bytes keeps each try to a bare interpreter's start.
FAILS_ON_TANH = ("import sys; "
                 "sys.exit(3 if b'Tanh' in open(sys.argv[1], 'rb').read() else 0)")


@pytest.fixture()
def model_path(tmp_path):
    model = onnx.parser.parse_model(MODEL)
    for node, name in zip(model.graph.node, NAMES):
        node.name = name
    rng = np.random.default_rng(0)
    model.graph.initializer.extend([
        onnx.numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w1"),
        onnx.numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w2"),
    ])
    onnx.checker.check_model(model)
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


def _check_command() -> str:
    return f"{shlex.quote(sys.executable)} -S -c {shlex.quote(FAILS_ON_TANH)} {{model}}"


def _assert_only_the_tanh(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model, full_check=True)
    assert [node.name for node in model.graph.node] == ["bad_tanh"]
    assert [value.name for value in model.graph.input] == ["a1"]
    assert [value.name for value in model.graph.output] == ["t"]


def test_a_command_check_is_reduced_to_the_node_it_fails_on(model_path):
    result = reduce_model(model_path, command_check(_check_command()))
    assert result.node == "bad_tanh" and result.op == "Tanh"
    assert result.reason.startswith("check exits 3")
    assert result.nodes_before == 7
    _assert_only_the_tanh(result.model)


def test_graphkits_own_convert_is_reduced_to_the_node_the_emitter_refuses(
        model_path, monkeypatch):
    """diagnose accepts the model; the emitter fails on its Tanh (the lowering of Tanh is
    replaced by one that raises, as a broken kernel would)."""
    require("torch", "torch")
    original = lowering.entry_for

    def emit_fails(_builder, node):
        raise InputError(f"node '{node.name}' ({node.op_type}): induced failure for the test")

    def failing_tanh(node, opset):
        if node.op_type == "Tanh":
            return dataclasses.replace(original(node, opset), emit=emit_fails)
        return original(node, opset)

    monkeypatch.setattr(lowering, "entry_for", failing_tanh)
    check = convert_check("torchscript", timeout=60, rtol=1e-3, atol=1e-4)
    result = reduce_model(model_path, check)
    assert result.node == "bad_tanh" and "induced failure" in result.reason
    _assert_only_the_tanh(result.model)


def test_a_wrong_lowering_is_reduced_to_the_node_whose_outputs_differ(model_path, monkeypatch):
    """Conversion succeeds, validation fails: the emitter lowers Tanh as a Sigmoid."""
    require("torch", "torch")
    original = lowering.entry_for

    def sigmoid_for_tanh(node, opset):
        if node.op_type != "Tanh":
            return original(node, opset)
        return lowering.entry_at(lowering.lowering_table(), _as_sigmoid(node), opset)

    monkeypatch.setattr(lowering, "entry_for", sigmoid_for_tanh)
    check = convert_check("torchscript", timeout=60, rtol=1e-3, atol=1e-4)
    result = reduce_model(model_path, check)
    assert result.reason.startswith("mismatch: output 't' differs")
    assert result.node == "bad_tanh"
    _assert_only_the_tanh(result.model)


def _as_sigmoid(node):
    import onnx_ir as ir

    return ir.Node("", "Sigmoid", inputs=[])


def test_a_model_that_passes_has_nothing_to_reduce(model_path):
    passing = f"{shlex.quote(sys.executable)} -c pass {{model}}"
    with pytest.raises(NothingToReduce):
        reduce_model(model_path, command_check(passing))


def test_cli_reduce_writes_the_part_and_names_the_node(model_path, capsys):
    before = model_path.read_bytes()
    assert main(["reduce", str(model_path), "--check", _check_command()]) == 0
    out = capsys.readouterr().out
    assert "failing node: 'bad_tanh' (Tanh)" in out and "1 of 7 nodes" in out
    written = model_path.with_name("model.min.onnx")
    _assert_only_the_tanh(onnx.load(written))
    assert model_path.read_bytes() == before  # the input is never modified
    output = model_path.with_name("small.onnx")
    assert main(["reduce", str(model_path), "--check", _check_command(), "-o", str(output),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["node"] == "bad_tanh" and report["nodes_after"] == 1
    assert output.exists()


def test_cli_reduce_usage_errors_are_one_line_exit_2(model_path, capsys):
    assert main(["reduce", str(model_path)]) == 2
    assert "--target" in capsys.readouterr().err
    assert main(["reduce", str(model_path), "--check", "true"]) == 2  # no {model}
    assert "{model}" in capsys.readouterr().err
    assert main(["reduce", str(model_path), "--check", "no-such-tool-xyz {model}"]) == 2
    assert "no-such-tool-xyz" in capsys.readouterr().err
    assert main(["reduce", str(model_path), "--target", "ort-nnapi"]) == 2
    assert "no emitter" in capsys.readouterr().err
    assert main(["reduce", str(model_path), "--target", "tensorrt"]) == 2  # no TensorRT here
    assert "cannot be run here" in capsys.readouterr().err
    passing = f"{shlex.quote(sys.executable)} -c pass {{model}}"
    assert main(["reduce", str(model_path), "--check", passing]) == 1
    assert "nothing to reduce" in capsys.readouterr().out


def test_a_check_runs_without_a_shell(model_path, tmp_path):
    marker = tmp_path / "injected"
    check = command_check(f"{shlex.quote(sys.executable)} -c pass {{model}}; touch {marker}")
    assert check(model_path) is None  # ';' and 'touch' are arguments, not a second command
    assert not marker.exists()
