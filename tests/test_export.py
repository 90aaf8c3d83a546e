"""graphkit export: each source format written once as the ONNX graphkit works on; .pt2
archives are read without unpickling anything."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile

import numpy as np
import onnx
import pytest
from conftest import require, run_ort

import graphkit
from graphkit.cli import main
from graphkit.errors import UnsafeModelError
from graphkit.export import export
from graphkit.frontends._provenance import read_provenance


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pt2_file(tmp_path_factory):
    torch = require("torch", "torch")
    require("onnxscript", "all")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)
            self.register_buffer("shift", torch.arange(3, dtype=torch.float32))

        def forward(self, x):
            return torch.tanh(self.fc(x)) + self.shift

    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(2, 4)
    path = tmp_path_factory.mktemp("pt2") / "net.pt2"
    torch.export.save(torch.export.export(net, (x,)), str(path))
    with torch.no_grad():
        expected = net(x).numpy()
    return path, x.numpy(), expected


def test_a_pt2_is_exported_and_computes_what_torch_does(pt2_file, tmp_path, monkeypatch):
    path, x, expected = pt2_file
    before = _digest(path)

    def no_unpickling(*_args, **_kwargs):
        raise AssertionError("graphkit unpickled part of a .pt2")

    import torch

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    model, written = export(path, tmp_path / "net.onnx")
    assert _digest(path) == before
    loaded = graphkit.load(written)
    (got,) = run_ort(loaded, {"x": x})
    assert np.abs(got - expected).max() <= 1e-5
    assert [v.name for v in loaded.graph.outputs] == ["output"]
    assert json.loads(read_provenance(loaded)["example_shapes"]) == {"x": [2, 4]}


def _rewritten(path, out, change) -> None:
    """A copy of the archive with `change(name, data) -> (name, data) | None` applied."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            changed = change(info.filename, src.read(info))
            if changed is not None:
                dst.writestr(*changed)


def _pickled_weights(name: str, data: bytes):
    if name.endswith("_weights_config.json"):
        config = json.loads(data)
        next(iter(config["config"].values()))["use_pickle"] = True
        return name, json.dumps(config).encode()
    return name, data


def _compiled_code(name: str, data: bytes):
    return name, data


@pytest.mark.parametrize(("what", "change", "extra"), [
    ("a weight stored as a pickle", _pickled_weights, None),
    ("compiled AOTInductor code", _compiled_code, "data/aotinductor/model/model.so"),
    ("legacy pickled weights", _compiled_code, "data/weights/model.pt"),
    ("a torchbind object", _compiled_code, "data/constants/custom_obj_0"),
])
def test_a_pt2_that_would_unpickle_or_run_code_is_refused_unread(
        pt2_file, tmp_path, monkeypatch, what, change, extra):
    path, _, _ = pt2_file
    hostile = tmp_path / "hostile.pt2"
    _rewritten(path, hostile, change)
    if extra is not None:
        with zipfile.ZipFile(hostile, "a") as archive:
            root = archive.namelist()[0].split("/")[0]
            archive.writestr(f"{root}/{extra}", pickle.dumps({"x": 1}))
    import torch

    def never(*_args, **_kwargs):
        raise AssertionError("torch.export.load reached")

    monkeypatch.setattr(torch.export, "load", never)
    with pytest.raises(UnsafeModelError, match="pickle|compiled code"):
        graphkit.load(hostile)


def test_a_pt2_that_is_not_a_zip_is_bad_input(tmp_path, capsys):
    require("torch", "torch")
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip")
    existing = tmp_path / "out.onnx"
    existing.write_bytes(b"keep me")
    assert main(["export", str(bad), "-o", str(existing)]) == 2
    assert "bad.pt2: not a torch.export.save archive" in capsys.readouterr().err
    assert existing.read_bytes() == b"keep me"  # a failed export leaves the output alone


def test_cli_export_json_and_usage_errors(pt2_file, tmp_path, capsys):
    path, _, _ = pt2_file
    out = tmp_path / "net.onnx"
    assert main(["export", str(path), "-o", str(out), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"] == ["x"] and report["provenance"]["framework"] == "torch"
    onnx.checker.check_model(onnx.load(out))
    assert main(["export", str(path), "-o", str(tmp_path / "net.tflite")]) == 2
    assert ".onnx" in capsys.readouterr().err
    assert main(["export", str(out), "-o", str(out)]) == 2
    assert "never overwrites its input" in capsys.readouterr().err


def test_a_tflite_file_is_exported(tmp_path):
    require("ai_edge_litert", "tensorflow")
    require("tf2onnx", "tensorflow")
    source = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1,6] x) => (float[1,6] y) { t = Tanh(x)  y = Relu(t) }""")
    onnx.save(source, tmp_path / "src.onnx")
    tflite = graphkit.convert(str(tmp_path / "src.onnx"), "tflite", tmp_path / "m.tflite").path
    before = _digest(tflite)
    model, written = export(tflite, tmp_path / "m.onnx")
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(1, 6)
    (got,) = run_ort(graphkit.load(written), {model.graph.inputs[0].name: x})
    assert np.abs(got - np.maximum(np.tanh(x), 0)).max() <= 1e-6
    assert read_provenance(graphkit.load(written))["framework"] == "tflite"
    assert _digest(tflite) == before


def test_keras_and_saved_model_are_exported(tmp_path):
    tf = require("tensorflow", "tensorflow")
    keras = require("keras", "tensorflow")
    require("tf2onnx", "tensorflow")
    net = keras.Sequential([keras.Input((5,), name="feat"), keras.layers.Dense(3, name="dense")])
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    expected = np.asarray(net(x))
    keras_path = tmp_path / "net.keras"
    net.save(keras_path)
    folder = tmp_path / "saved"
    net.export(str(folder), verbose=False)
    for source in (keras_path, folder):
        _, written = export(source, tmp_path / f"{source.stem}.onnx")
        loaded = graphkit.load(written)
        (got,) = run_ort(loaded, {loaded.graph.inputs[0].name: x})
        assert np.abs(got - expected).max() <= 1e-5, source
        assert read_provenance(loaded)["framework"] in {"keras", "tensorflow"}
    del tf
