"""Bad input through `graphkit inspect`: exit 2 and one stderr line that says what is wrong."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import run_graphkit

from graphkit.cli import main

GOOD = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 8] x) => (float[2, 8] y) <float[8] b = {1, 2, 3, 4, 5, 6, 7, 8}> {
    h = Add(x, b)
    y = Relu(h)
}
"""


def _model(text: str = GOOD) -> onnx.ModelProto:
    return onnx.parser.parse_model(text)


def _graph(nodes: list[onnx.NodeProto], outputs: tuple[str, ...] = ("y",)) -> onnx.ModelProto:
    """A model made node by node, for graphs onnx's parser would refuse to write."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    ys = [onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [2]) for name in outputs]
    graph = onnx.helper.make_graph(nodes, "g", [x], ys)
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])


def _node(op: str, inputs: list[str], output: str) -> onnx.NodeProto:
    return onnx.helper.make_node(op, inputs, [output], name=f"{op.lower()}_{output}")


def _bytes_of(kind: str) -> bytes:
    if kind == "random":
        return np.random.default_rng(0).bytes(4096)
    if kind == "text":
        return b"name,score\nalice,3\nbob,5\n" * 40
    if kind == "truncated":
        data = _model().SerializeToString()
        return data[: len(data) // 2]
    if kind == "empty":
        return b""
    if kind == "zip":  # what a renamed torch.save checkpoint looks like
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/data.pkl", b"never read")
        return buffer.getvalue()
    if kind == "pickle":
        return pickle.dumps({"weights": [1.0, 2.0]})
    if kind == "no-graph":
        proto = onnx.ModelProto(ir_version=10)
        proto.opset_import.add(domain="", version=17)
        return proto.SerializeToString()
    cases = {
        "cycle": _graph(
            [_node("Add", ["x", "b"], "a"), _node("Relu", ["a"], "b"), _node("Neg", ["a"], "y")]
        ),
        "undefined": _graph([_node("Add", ["x", "ghost"], "y")]),
        "duplicate": _graph([_node("Relu", ["x"], "y"), _node("Neg", ["x"], "y")]),
        "no-producer": _graph([_node("Relu", ["x"], "h")]),
    }
    return cases[kind].SerializeToString()


BAD_FILES = {
    # kind: what the one line must say
    "random": "does not parse as a ModelProto",
    "text": "not an ONNX model",
    "truncated": "not an ONNX model, or a truncated one",
    "empty": "is empty (0 bytes)",
    "zip": "not an ONNX model: it is a zip archive (a PyTorch .pt checkpoint",
    "pickle": "not an ONNX model: it is a Python pickle, which graphkit never loads",
    "no-graph": "not an ONNX model (it has no graph)",
    "cycle": "main graph has a cycle: node 'add_a' (Add) -> node 'relu_b' (Relu) -> node 'add_a'",
    "undefined": "node 'add_y' (Add) reads 'ghost', which no node, graph input or initializer",
    "duplicate": "node 'neg_y' (Neg) writes 'y', which node 'relu_y' (Relu) already defines",
    "no-producer": "output 'y' is not produced by any node, input or initializer",
}


def _inspect(capsys, path: Path) -> str:
    code = main(["inspect", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, f"exit code {code}; stderr: {err}"
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("graphkit: error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_model_file_is_one_clear_line_and_exit_2(tmp_path, capsys, kind):
    path = tmp_path / "model.onnx"
    path.write_bytes(_bytes_of(kind))
    err = _inspect(capsys, path)
    assert str(path) in err
    assert BAD_FILES[kind] in err


def test_missing_file(tmp_path, capsys):
    err = _inspect(capsys, tmp_path / "absent.onnx")
    assert "absent.onnx" in err and "no such file" in err


def test_folder_instead_of_file(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    err = _inspect(capsys, tmp_path / "models")
    assert "models" in err and "folder" in err


def test_good_model_is_still_inspected(tmp_path, capsys):
    path = tmp_path / "model.onnx"
    onnx.save(_model(), path)
    assert main(["inspect", str(path)]) == 0
    assert "Relu" in capsys.readouterr().out


def test_real_process_prints_no_traceback(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(_bytes_of("cycle"))
    done = run_graphkit("inspect", path)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "main graph has a cycle" in line


@pytest.mark.parametrize("command", ["inspect", "diagnose", "fix"])
@pytest.mark.parametrize("name", ["model.onnx", "model.tflite", "model.keras"])
def test_fifo_is_refused_not_waited_on(tmp_path, command, name):
    path = tmp_path / name
    os.mkfifo(path)  # opening it for reading would wait for a writer forever
    extra = {"inspect": [], "diagnose": ["-t", "ort"]}.get(command, ["-t", "ort", "-o", "out.onnx"])
    done = run_graphkit(command, str(path), *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert f"{path}: is a FIFO (named pipe), not a model file" in line
    assert not (tmp_path / "out.onnx").exists()


def test_symlink_to_a_device_says_what_it_points_at(tmp_path, capsys):
    path = tmp_path / "model.onnx"
    path.symlink_to("/dev/zero")
    err = _inspect(capsys, path)
    assert "is a symlink to /dev/zero, a character device, not a model file" in err


def test_dangling_symlink_is_named(tmp_path, capsys):
    path = tmp_path / "model.onnx"
    path.symlink_to(tmp_path / "gone.onnx")
    err = _inspect(capsys, path)
    assert "a symlink to" in err and "gone.onnx" in err and "which does not exist" in err
