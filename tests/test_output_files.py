"""What fix and convert write: the name checked before any work, nothing left behind when they
fail, files with the umask's mode, and exit 2 (not 3) for a model nothing here can run."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import graphkit
from graphkit.backends import emitter, emitter_names, runner, runners_by_suffix
from graphkit.cli import main
from graphkit.errors import InputError

RELU = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 3] x) => (float[2, 3] y) { y = Relu(x) }"""
UNKNOWN_DOMAIN = """<ir_version: 8, opset_import: ["" : 17, "com.acme" : 1]>
g (float[2, 3] x) => (float[2, 3] y) { t = Relu(x)  y = com.acme.Foo(t) }"""
CONVERT = importlib.import_module("graphkit.convert")  # graphkit.convert is the function


def _write(folder: Path, text: str, name: str = "m.onnx") -> Path:
    path = folder / name
    onnx.save(onnx.parser.parse_model(text), path)
    return path


def _files(folder: Path) -> list[str]:
    """Every entry in the folder, hidden staging folders included."""
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def relu(tmp_path) -> Path:
    return _write(tmp_path, RELU, "relu.onnx")


# --- the output name, checked before any work ---------------------------------------------


def _no_work(*_args, **_kwargs):
    raise AssertionError("the model was loaded before the output name was checked")


@pytest.mark.parametrize(("target", "name"), [
    ("torchscript", "m.onnx"),  # was exit 3 (DecodeError), with a TorchScript zip left as m.onnx
    ("ort", "m.txt"),  # was exit 2, after writing m.txt
    ("ort", "m.pt"),
    ("torchscript", "m"),
])
def test_convert_refuses_an_output_name_its_target_does_not_write(relu, tmp_path, monkeypatch,
                                                                   capsys, target, name):
    monkeypatch.setattr(CONVERT, "load", _no_work)
    assert main(["convert", str(relu), "--to", target, "-o", str(tmp_path / name)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert name in line
    assert (".pt" if target == "torchscript" else ".onnx or .ort") in line
    assert _files(tmp_path) == ["relu.onnx"]


@pytest.mark.parametrize("command", [["fix"], ["convert", "--to", "ort"]])
def test_an_output_folder_that_does_not_exist_is_refused_before_any_work(
        relu, tmp_path, monkeypatch, capsys, command):
    monkeypatch.setattr(graphkit, "load", _no_work)  # what `fix` loads with
    monkeypatch.setattr(CONVERT, "load", _no_work)
    out = tmp_path / "missing" / "out.onnx"
    assert main([command[0], str(relu), *command[1:], "-o", str(out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "output folder" in line and "does not exist" in line


@pytest.mark.parametrize("command", [["fix"], ["convert", "--to", "ort"]])
def test_an_output_that_is_a_folder_is_refused(relu, tmp_path, capsys, command):
    (tmp_path / "out.onnx").mkdir()
    assert main([command[0], str(relu), *command[1:], "-o", str(tmp_path / "out.onnx")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_every_emitter_names_its_suffixes_and_the_runners_agree():
    for target in emitter_names():
        for suffix in emitter(target).SUFFIXES:
            assert runners_by_suffix()[suffix] == target


def test_convert_api_refuses_a_wrong_suffix_and_its_own_input(relu, tmp_path):
    with pytest.raises(InputError, match=r"\.pt"):
        graphkit.convert(relu, "torchscript", tmp_path / "m.onnx")
    with pytest.raises(InputError, match="never overwrites its input"):
        graphkit.convert(relu, "ort", relu)
    assert _files(tmp_path) == ["relu.onnx"]


# --- failures leave nothing behind; a mismatch is written --------------------------------


@pytest.mark.parametrize(("target", "name"), [("ort", "out.ort"), ("torchscript", "out.pt")])
def test_a_check_that_fails_leaves_no_file_and_the_old_one_as_it_was(relu, tmp_path, monkeypatch,
                                                                     target, name):
    old = tmp_path / name
    old.write_bytes(b"the user's earlier artifact")

    def broken(*_args, **_kwargs):
        raise RuntimeError("the artifact crashed")

    monkeypatch.setattr(runner(target), "run_artifact", broken)
    with pytest.raises(RuntimeError, match="crashed"):
        graphkit.convert(relu, target, old)
    assert _files(tmp_path) == sorted(["relu.onnx", name])
    assert old.read_bytes() == b"the user's earlier artifact"


def test_an_artifact_whose_outputs_differ_is_written_and_says_so(relu, tmp_path, monkeypatch):
    module = runner("ort")
    real = module.run_artifact

    def off_by_one(path, feeds):
        return {name: value + 1 for name, value in real(path, feeds).items()}

    monkeypatch.setattr(module, "run_artifact", off_by_one)
    artifact = graphkit.convert(relu, "ort", tmp_path / "out.ort")
    assert not artifact.validated
    assert artifact.path == tmp_path / "out.ort"
    assert artifact.metadata["files"] == [str(tmp_path / "out.ort"),
                                          str(tmp_path / "out.ort.config")]
    assert _files(tmp_path) == ["out.ort", "out.ort.config", "relu.onnx"]


# --- a model that nothing here can run ------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["fix", "--target", "ort"],
    ["fix", "--target", "tensorrt"],
    ["convert", "--to", "ort"],
    ["convert", "--to", "torchscript"],
])
def test_an_op_in_an_unknown_domain_is_exit_2_naming_the_node(tmp_path, capsys, command):
    model = _write(tmp_path, UNKNOWN_DOMAIN)
    suffix = ".pt" if "torchscript" in command else ".onnx"
    out = tmp_path / f"out{suffix}"
    assert main([command[0], str(model), *command[1:], "-o", str(out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "node 'Foo' (com.acme:Foo)" in line
    assert _files(tmp_path) == ["m.onnx"]


def test_diagnose_of_that_model_still_answers_1(tmp_path):
    assert main(["diagnose", str(_write(tmp_path, UNKNOWN_DOMAIN)), "--target", "ort"]) == 1


# --- permissions ---------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_every_written_file_gets_the_umasks_mode(relu, tmp_path, umask):
    assert main(["fix", str(relu), "-o", str(tmp_path / "fixed.onnx")]) == 0
    assert main(["convert", str(relu), "--to", "ort", "-o", str(tmp_path / "m.ort")]) == 0
    assert main(["convert", str(relu), "--to", "ort", "-o", str(tmp_path / "m.onnx")]) == 0
    assert main(["convert", str(relu), "--to", "torchscript", "-o", str(tmp_path / "m.pt")]) == 0
    weight = onnx.numpy_helper.from_array(np.ones(4096, np.float32), "w")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Add", ["x", "w"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4096])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [4096])], [weight])
    heavy = graphkit.load(onnx.helper.make_model(graph))
    graphkit.save(heavy, tmp_path / "saved.onnx", external_data=True)
    written = [p for p in tmp_path.iterdir() if p.name != "relu.onnx"]
    assert sorted(p.name for p in written) == [
        "fixed.onnx", "m.onnx", "m.ort", "m.ort.config", "m.pt", "saved.onnx", "saved.onnx.data"]
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in written}
    assert modes == dict.fromkeys(modes, oct(0o666 & ~umask))
    np.testing.assert_array_equal(  # and the .pt is the model
        graphkit.backends.torchscript.runner.run_artifact(tmp_path / "m.pt", {"x": -np.ones((2, 3),
                                                                                  np.float32)})["y"],
        np.zeros((2, 3), np.float32))
