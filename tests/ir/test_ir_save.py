"""save_onnx: tensors made in memory (not loaded from a proto) survive the streamed write."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import run_ort
from onnx import numpy_helper

from graphkit.errors import InputError
from graphkit.ir import load_onnx, save_onnx

FLOAT = ir.DataType.FLOAT
HALF = np.array([0.5, -1.5, 3.0], dtype=ml_dtypes.bfloat16)
INT4 = np.array([-8, 7, 1], dtype=ml_dtypes.int4)
NAMES = [b"alpha", "\u03b2".encode()]


def _typed(value: ir.Value, dtype: ir.DataType, shape: list[int]) -> ir.Value:
    value.type, value.shape = ir.TensorType(dtype), ir.Shape(shape)
    return value


def _model() -> ir.Model:
    """Initializers of the kinds a pass creates in memory: numpy, bfloat16, int4, strings."""
    x = _typed(ir.Value(name="x"), FLOAT, [3])
    inits = {
        "w": ir.tensor(np.array([1, 2, 3], dtype=np.float32), name="w"),
        "half": ir.tensor(HALF, name="half"),
        "q4": ir.tensor(INT4, name="q4"),
        "names": ir.StringTensor(NAMES, shape=ir.Shape([2]), name="names"),
    }
    values = {name: ir.Value(name=name, const_value=t) for name, t in inits.items()}
    mul = ir.node("Mul", [x, values["w"]])
    cast = ir.node("Cast", [values["half"]], attributes={"to": FLOAT})
    add = ir.node("Add", [cast.outputs[0], x])
    names = ir.node("Identity", [values["names"]])
    unpack = ir.node("Cast", [values["q4"]], attributes={"to": FLOAT})
    outputs = [
        _typed(mul.outputs[0], FLOAT, [3]),
        _typed(add.outputs[0], FLOAT, [3]),
        _typed(names.outputs[0], ir.DataType.STRING, [2]),
        _typed(unpack.outputs[0], FLOAT, [3]),
    ]
    for index, value in enumerate(outputs):
        value.name = f"out{index}"
    graph = ir.Graph(
        [x],
        outputs,
        nodes=[mul, cast, add, names, unpack],
        initializers=list(values.values()),
        opset_imports={"": 21},
        name="g",
    )
    return ir.Model(graph, ir_version=10, producer_name="test")


def test_in_memory_tensors_of_every_kind_are_saved_exactly(tmp_path):
    path = save_onnx(_model(), tmp_path / "m.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    saved = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert saved["w"].tolist() == [1.0, 2.0, 3.0]
    assert saved["half"].tobytes() == HALF.tobytes() and saved["half"].dtype == HALF.dtype
    assert saved["q4"].astype(np.int8).tolist() == [-8, 7, 1]
    assert saved["names"].tolist() == [n.decode() for n in NAMES]
    x = np.array([1.0, -2.0, 0.25], dtype=np.float32)
    y, added, names, unpacked = run_ort(proto, {"x": x})
    np.testing.assert_array_equal(y, x * [1, 2, 3])
    np.testing.assert_array_equal(added, HALF.astype(np.float32) + x)
    assert [n.encode() for n in names] == NAMES
    np.testing.assert_array_equal(unpacked, [-8.0, 7.0, 1.0])


def test_streamed_file_parses_to_what_onnx_ir_would_write(tmp_path):
    """Same ModelProto as ir.to_proto; only the position of the initializers in the file differs."""
    model = _model()
    expected = ir.to_proto(model)
    saved = onnx.load(save_onnx(model, tmp_path / "m.onnx"))
    assert saved == expected


def test_arrays_written_from_their_own_memory_parse_as_onnx_ir_writes_them(tmp_path):
    """The raw_data written straight from an array: every layout and field it must get right."""
    arrays = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,  # not C-ordered
        "i64": np.array([[1, -2], [3, 1 << 40]], dtype=np.int64),
        "flags": np.array([True, False, True]),
        "f16": np.array([0.5, -2.0], dtype=np.float16),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    model = _model()
    for name, array in arrays.items():
        tensor = ir.tensor(array, name=name)
        tensor.doc_string = f"{name} doc"
        tensor.metadata_props["origin"] = name
        model.graph.register_initializer(ir.Value(name=name, const_value=tensor))
    expected = ir.to_proto(model)
    saved = onnx.load(save_onnx(model, tmp_path / "m.onnx"))
    assert saved == expected
    written = {t.name: numpy_helper.to_array(t) for t in saved.graph.initializer}
    for name, array in arrays.items():
        np.testing.assert_array_equal(written[name], array)


def test_subgraph_initializers_and_renamed_initializers_survive(tmp_path):
    source = tmp_path / "src.onnx"
    onnx.save(
        onnx.parser.parse_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[2] x, bool c) => (float[2] y) <float[2] w = {2, 3}> {
            y = If(c) <then_branch = t () => (float[2] o) <float[2] k = {5, 7}> { o = Mul(x, k) },
                       else_branch = e () => (float[2] o) { o = Mul(x, w) }>
        }"""),
        source,
    )
    model = load_onnx(source)
    model.graph.initializers["w"].name = "weights"  # a pass renamed it
    out = save_onnx(model, tmp_path / "out.onnx")
    x = np.array([1.0, -1.0], dtype=np.float32)
    for cond, factor in ((True, [5, 7]), (False, [2, 3])):
        result = run_ort(onnx.load(out), {"x": x, "c": np.array(cond)})[0]
        np.testing.assert_array_equal(result, x * factor)
    assert [t.name for t in onnx.load(out).graph.initializer] == ["weights"]


def test_output_folder_must_exist_and_path_must_not_be_a_folder(tmp_path):
    with pytest.raises(InputError, match="output folder .* does not exist"):
        save_onnx(_model(), tmp_path / "nowhere" / "m.onnx")
    with pytest.raises(InputError, match="is a folder"):
        save_onnx(_model(), tmp_path)
