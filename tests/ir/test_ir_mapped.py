"""Large weights are read in place from the file, and only where that is exactly right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphkit.errors import InputError
from graphkit.ir import load_onnx, save_onnx
from graphkit.ir._mapped import MIN_MAPPED_BYTES, find_weights

RNG = np.random.default_rng(0)
W = RNG.standard_normal((64, 32)).astype(np.float32)  # 8 KiB: mapped
B = RNG.standard_normal(32).astype(np.float32)  # 128 bytes: parsed as usual


def _model(weights: list[TensorProto]) -> onnx.ModelProto:
    """y = x @ W + B, with the given initializers (W and B, in whatever form the test needs)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 32])
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Add", ["h", "B"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _write(folder: Path, model: onnx.ModelProto | bytes, name: str = "m.onnx") -> Path:
    path = folder / name
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def _outputs(model: onnx.ModelProto | ir.Model, x: np.ndarray) -> np.ndarray:
    proto = model if isinstance(model, onnx.ModelProto) else ir.to_proto(model)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_large_weights_are_views_of_the_file_and_equal_to_parsed_ones(tmp_path):
    original = _model([numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    path = _write(tmp_path, original)
    model = load_onnx(path)
    w = model.graph.initializers["W"].const_value.numpy()
    assert not w.flags.owndata and not w.flags.writeable  # the file's pages, not a copy
    np.testing.assert_array_equal(w, W)
    assert isinstance(model.graph.initializers["B"].const_value, ir.serde.TensorProtoTensor)
    x = RNG.standard_normal((2, 64)).astype(np.float32)
    np.testing.assert_array_equal(_outputs(model, x), _outputs(original, x))


def test_a_saved_copy_is_the_same_model_even_over_its_own_input(tmp_path):
    original = _model([numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    path = _write(tmp_path, original)
    before = path.read_bytes()
    model = load_onnx(path)
    save_onnx(model, tmp_path / "copy.onnx")
    assert path.read_bytes() == before  # loading never writes the input
    save_onnx(model, path)  # atomic replace: the arrays still read the old file's pages
    np.testing.assert_array_equal(model.graph.initializers["W"].const_value.numpy(), W)
    for copy in (tmp_path / "copy.onnx", path):
        saved = {t.name: numpy_helper.to_array(t) for t in onnx.load(copy).graph.initializer}
        np.testing.assert_array_equal(saved["W"], W)
        np.testing.assert_array_equal(saved["B"], B)


def test_in_place_false_leaves_nothing_tied_to_the_file(tmp_path):
    path = _write(tmp_path, _model([numpy_helper.from_array(W, "W"),
                                    numpy_helper.from_array(B, "B")]))
    model = load_onnx(path, in_place=False)
    path.unlink()  # what a frontend's temporary folder does
    np.testing.assert_array_equal(model.graph.initializers["W"].const_value.numpy(), W)
    assert isinstance(model.graph.initializers["W"].const_value, ir.serde.TensorProtoTensor)


def _typed_data(name: str, array: np.ndarray) -> TensorProto:
    tensor = helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.ravel().tolist())
    assert not tensor.raw_data  # float_data, not raw bytes
    return tensor


@pytest.mark.parametrize("weights, why", [
    (lambda: [_typed_data("W", W), numpy_helper.from_array(B, "B")], "typed float_data"),
    (lambda: [helper.make_tensor("W", TensorProto.BFLOAT16, W.shape,
                                 np.zeros(W.size * 2, np.uint8).tobytes(), raw=True),
              numpy_helper.from_array(B, "B")], "an element type numpy lacks"),
])
def test_what_the_scan_does_not_handle_is_parsed_as_usual(tmp_path, weights, why):
    path = _write(tmp_path, _model(weights()))
    with open(path, "rb") as file:
        assert find_weights(file.read()) is None, why
    model = load_onnx(path)
    assert isinstance(model.graph.initializers["W"].const_value, ir.serde.TensorProtoTensor)


def test_a_repeated_graph_field_is_left_to_protobuf(tmp_path):
    # protobuf merges two `graph` fields; the scan must not strip one of them.
    model = _model([numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    second = onnx.ModelProto(graph=onnx.GraphProto(doc_string="merged in")).SerializeToString()
    data = model.SerializeToString() + second
    assert find_weights(data) is None
    loaded = load_onnx(_write(tmp_path, data))
    assert loaded.graph.doc_string == "merged in"
    np.testing.assert_array_equal(loaded.graph.initializers["W"].const_value.numpy(), W)


def test_raw_data_that_does_not_fit_its_dims_is_an_error_naming_the_tensor(tmp_path):
    short = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[64, 32],
                        raw_data=W.tobytes()[: MIN_MAPPED_BYTES])  # half of what 64x32 needs
    path = _write(tmp_path, _model([short, numpy_helper.from_array(B, "B")]))
    with pytest.raises(InputError, match=r"initializer 'W' holds 4096 bytes .* take 8192"):
        load_onnx(path)


@pytest.mark.parametrize("cut", [1, 100, 5000])
def test_a_truncated_file_gets_the_parsers_error(tmp_path, cut):
    data = _model([numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    path = _write(tmp_path, data.SerializeToString()[:-cut])
    with pytest.raises(InputError, match="truncated"):
        load_onnx(path)


def test_a_malformed_tensor_after_a_mapped_one_gets_the_parsers_error(tmp_path):
    # The scan has stripped W when it meets B's broken field: it must give up cleanly.
    data = bytearray(_model([numpy_helper.from_array(W, "W"),
                             numpy_helper.from_array(B, "B")]).SerializeToString())
    name_of_b = data.rfind(b"\x42\x01B")  # TensorProto.name (field 8) = "B"
    data[name_of_b] = 0x47  # field 8 with wire type 7, which protobuf does not have
    assert find_weights(bytes(data)) is None
    with pytest.raises(InputError, match="does not parse as a ModelProto"):
        load_onnx(_write(tmp_path, bytes(data)))
