"""External data is read from the model's folder in every step, never from the working directory.

The proofs hand ONNX Runtime and onnx's reference evaluator the model as bytes, and bytes
have no folder: a reference to `w.bin` left in them is resolved against the working
directory. Run from elsewhere the model failed (exit 3); run from a folder holding a decoy
`w.bin`, the proof and the written model silently used the decoy's weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import graphkit
from graphkit.cli import main
from graphkit.proof import Reference
from graphkit.runner import LightModel, ModelRunner

X = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)


def _weights(scale: float) -> dict[str, np.ndarray]:
    return {
        "W": (np.arange(9, dtype=np.float32).reshape(3, 3) + 1) * scale,  # small: kept in the proto
        "B": np.full((2000,), scale, dtype=np.float32),  # 8 KB: fed to ORT as an input
    }


def _expected(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """y = x @ W + 1 and s = sum(B), computed here with numpy from the weights themselves."""
    weights = _weights(scale)
    return X @ weights["W"] + 1, np.float32(weights["B"].sum())


def _write_model(folder: Path, scale: float, opset: int = 17) -> Path:
    """y = MatMul(x, W) + 1, s = ReduceSum(B), every weight in `w.bin` beside the model."""
    folder.mkdir(parents=True)
    weights = _weights(scale)
    initializers, offset, data = [], 0, b""
    for name, array in weights.items():
        tensor = onnx.TensorProto(name=name, data_type=onnx.TensorProto.FLOAT,
                                  dims=list(array.shape), data_location=onnx.TensorProto.EXTERNAL)
        for key, value in {"location": "w.bin", "offset": str(offset),
                           "length": str(array.nbytes)}.items():
            tensor.external_data.add(key=key, value=value)
        initializers.append(tensor)
        data += array.tobytes()
        offset += array.nbytes
    initializers.append(onnx.numpy_helper.from_array(np.ones(3, np.float32), "one"))
    (folder / "w.bin").write_bytes(data)
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["t"]),
         helper.make_node("Add", ["t", "one"], ["y"]),
         helper.make_node("ReduceSum", ["B"], ["s"], keepdims=0)],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("s", onnx.TensorProto.FLOAT, [])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = folder / "m.onnx"
    path.write_bytes(model.SerializeToString())  # not onnx.save: it must not touch w.bin
    return path


def _run(path: Path) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": X})


def _assert_real_outputs(path: Path) -> None:
    y, s = _run(path)
    want_y, want_s = _expected(1.0)
    np.testing.assert_allclose(y, want_y, rtol=1e-6)
    np.testing.assert_allclose(s, want_s, rtol=1e-6)


@pytest.fixture
def model(tmp_path) -> Path:
    return _write_model(tmp_path / "model", 1.0)


@pytest.fixture
def decoy_cwd(tmp_path, monkeypatch) -> Path:
    """The working directory, holding a `w.bin` with other weights (100x the real ones)."""
    decoy = _write_model(tmp_path / "decoy", 100.0).parent
    (decoy / "m.onnx").unlink()
    monkeypatch.chdir(decoy)
    return decoy


@pytest.mark.parametrize("command", [
    ["fix", "--target", "ort"],
    ["convert", "--to", "ort"],
    ["convert", "--to", "ort", "--no-fix"],
    ["convert", "--to", "torchscript"],
])
def test_a_model_with_external_data_works_from_another_folder(model, tmp_path, monkeypatch,
                                                              command):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    suffix = ".pt" if "torchscript" in command else ".onnx"
    out = tmp_path / f"out{suffix}"
    assert main([*command[:1], str(model), *command[1:], "-o", str(out)]) == 0
    if suffix == ".onnx":
        _assert_real_outputs(out)


@pytest.mark.parametrize("command", [
    ["fix", "--target", "ort"],
    ["convert", "--to", "ort"],
    ["convert", "--to", "ort", "--no-fix"],
])
def test_a_decoy_data_file_in_the_working_directory_is_never_read(model, decoy_cwd, tmp_path,
                                                                   command):
    out = tmp_path / "out.onnx"
    assert main([*command[:1], str(model), *command[1:], "-o", str(out)]) == 0
    _assert_real_outputs(out)  # the decoy's weights would give 100x these


def test_the_proof_runs_on_the_real_weights(model, decoy_cwd):
    want_y, want_s = _expected(1.0)
    reference = Reference.of(graphkit.load(model), inputs={"x": X}).result()  # what fix proves with
    np.testing.assert_allclose(reference.outputs["y"], want_y, rtol=1e-6)
    np.testing.assert_allclose(reference.outputs["s"], want_s, rtol=1e-6)
    fixed, report = graphkit.fix(model, "ort")
    assert report.validated
    outputs = ModelRunner(LightModel.of(fixed)).run({"x": X})
    np.testing.assert_allclose(outputs["y"], want_y, rtol=1e-6)
    np.testing.assert_allclose(outputs["s"], want_s, rtol=1e-6)


def test_protos_handed_to_runtimes_carry_their_data(model, decoy_cwd):
    loaded = graphkit.load(model)
    for proto in (LightModel.of(loaded).proto, ModelRunner(loaded).proto):
        tensors = [*proto.graph.initializer]
        assert tensors and not any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors)


def test_opset_conversion_keeps_reading_the_models_folder(tmp_path, decoy_cwd):
    """tensorrt needs opset 9 or later: convert-opset rebuilds the graph from a proto."""
    old = _write_model(tmp_path / "old", 1.0, opset=7)
    out = tmp_path / "out.onnx"
    assert main(["fix", str(old), "--target", "tensorrt", "-o", str(out)]) == 0
    assert onnx.load(out).opset_import[0].version >= 9
    _assert_real_outputs(out)
