"""IR-3 models, whose initializers are graph inputs too (as IR < 4 required), for the tests.

`small_ir3_model()` is built in code: a Conv whose weight and bias are initializer-inputs,
a second Conv whose weight is ConstantOfShape of an initializer-input shape (as in the
onnx package's 'light' models), and a Reshape of its result to the first Conv's shape,
which fold-shapes folds (that Conv's weight has a declared shape).
`light_model(name)` is one of the 'light' model-zoo files the onnx wheel ships.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import graphkit

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def light_model(name: str) -> Path:
    return LIGHT / f"light_{name}.onnx"


def small_ir3_proto() -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    initializers = {
        "w": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
        "b": rng.standard_normal(3).astype(np.float32),
        "w2_shape": np.array([3, 3, 1, 1], dtype=np.int64),
    }
    fill = numpy_helper.from_array(np.array([0.5], dtype=np.float32))
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["y1"], name="conv1"),
        helper.make_node("ConstantOfShape", ["w2_shape"], ["w2"], name="w2_fill", value=fill),
        helper.make_node("Conv", ["y1", "w2"], ["y2"], name="conv2"),
        helper.make_node("Shape", ["y1"], ["y1_shape"], name="shape"),
        helper.make_node("Reshape", ["y2", "y1_shape"], ["y"], name="reshape"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])]
    inputs += [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                             array.shape) for name, array in initializers.items()]
    graph = helper.make_graph(
        nodes, "ir3", inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 3, 3])],
        [numpy_helper.from_array(array, name) for name, array in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 3
    onnx.checker.check_model(model)  # valid IR 3: every initializer is an input
    return model


def small_ir3_model():
    return graphkit.load(small_ir3_proto())


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiny_cnn.onnx"


def ir3_style_example(path: Path) -> Path:
    """The bundled example with its BatchNorms' running statistics written as an IR-3
    exporter wrote them: initializers that are graph inputs too, which a caller may
    override. TFLite wants them constant (GK105 on both BatchNorms, fixed by
    fold-constants); ONNX Runtime runs it as it is."""
    model = onnx.load(EXAMPLE)
    sources = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    given = {t.name: t for t in model.graph.initializer}
    kept = [n for n in model.graph.node if n.output[0] not in sources]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    for name, source in sources.items():
        tensor = onnx.TensorProto()
        tensor.CopyFrom(given[source])
        tensor.name = name
        model.graph.initializer.append(tensor)
        model.graph.input.append(helper.make_tensor_value_info(
            name, tensor.data_type, list(tensor.dims)))
    onnx.save(model, path)
    return path
