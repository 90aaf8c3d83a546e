"""Real quantized models through diagnose: an int8 .tflite from TFLiteConverter (loaded
through tf2onnx, which writes it as Q/DQ around float ops) and an onnxruntime
quantize_static QDQ model. Both are what TFLite, NNAPI and ORT run as quantized ops; the
Q/DQ forms are analysed in tests/targets/test_qdq_targets.py."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import require
from onnx import TensorProto, helper, numpy_helper

import graphkit


def _codes(report, op: str | None = None) -> set[str]:
    return {f.code for f in report.findings if op is None or f.op == op}


@pytest.fixture(scope="module")
def int8_tflite(tmp_path_factory):
    tf = require("tensorflow", "tensorflow")
    keras = require("keras", "tensorflow")
    keras.utils.set_random_seed(0)
    net = keras.Sequential([
        keras.Input((12, 12, 3), batch_size=1),
        keras.layers.Conv2D(6, 3, activation="relu"),
        keras.layers.DepthwiseConv2D(3, padding="same"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4),
    ])
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: (
        [rng.standard_normal((1, 12, 12, 3)).astype(np.float32)] for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path = tmp_path_factory.mktemp("int8") / "int8.tflite"
    path.write_bytes(converter.convert())
    return path


def test_int8_tflite_is_convertible_for_tflite_and_nnapi(int8_tflite):
    model = graphkit.load(int8_tflite, opset=17)
    ops = {node.op_type for node in model.graph}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    tflite = graphkit.diagnose(model, "tflite")
    assert tflite.convertible, tflite.findings
    assert not _codes(tflite) & {"GK105", "GK203"}
    nnapi = graphkit.diagnose(model, "ort-nnapi")
    assert not [f for f in nnapi.findings if f.op in ("Conv", "MatMul")], nnapi.findings
    assert graphkit.diagnose(model, "ort").convertible


def test_int8_tflite_for_tensorrt_names_the_zero_point_not_a_constant(int8_tflite):
    # TFLite quantizes activations asymmetrically; TensorRT only symmetrically: a real
    # refusal, under its own code.
    report = graphkit.diagnose(graphkit.load(int8_tflite, opset=17), "tensorrt")
    assert "GK105" not in _codes(report)
    assert _codes(report, "QuantizeLinear") == {"GK110"}
    assert all("zero point must be 0" in f.message for f in report.findings if f.code == "GK110")


def _float_cnn() -> onnx.ModelProto:
    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("w2", 8, 8, 3, 3), weight("b2", 8),
         weight("w3", 4, 8), weight("b3", 4)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def qdq_model(tmp_path_factory):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Samples(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(1)
            self.samples = iter([{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)}
                                 for _ in range(4)])

        def get_next(self):
            return next(self.samples, None)

    folder = tmp_path_factory.mktemp("qdq")
    onnx.save(_float_cnn(), folder / "float.onnx")
    quantize_static(folder / "float.onnx", folder / "qdq.onnx", Samples(),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, extra_options={"ActivationSymmetric": True})
    return graphkit.load(folder / "qdq.onnx")


def test_quantize_static_qdq_is_convertible_for_tflite_and_nnapi(qdq_model):
    tflite = graphkit.diagnose(qdq_model, "tflite")
    assert tflite.convertible, tflite.findings
    nnapi = graphkit.diagnose(qdq_model, "ort-nnapi")
    assert nnapi.findings == [], nnapi.findings


def test_quantize_static_qdq_for_tensorrt_refuses_only_the_int32_bias(qdq_model):
    # Symmetric int8 Q/DQ is TensorRT's own form; its DequantizeLinear has no int32 input,
    # so the quantized biases are the one real refusal.
    report = graphkit.diagnose(qdq_model, "tensorrt")
    assert _codes(report) == {"GK203"}
    assert {f.op for f in report.findings} == {"DequantizeLinear"}
    assert all("int32" in f.message for f in report.findings)
    # ... which fix folds into float biases, keeping the int8 weights quantized.
    fixed, fix_report = graphkit.fix(qdq_model, "tensorrt")
    assert fix_report.fixed and graphkit.diagnose(fixed, "tensorrt").convertible
    weights = [n for n in fixed.graph if n.op_type == "DequantizeLinear"
               and n.inputs[0].dtype == onnx.TensorProto.INT8 and n.inputs[0].const_value]
    assert len(weights) == 3
