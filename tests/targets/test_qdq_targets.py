"""Q/DQ models (QuantizeLinear/DequantizeLinear around float ops) read as quantized ops.

A DequantizeLinear of constants is a quantized weight for every target that runs Q/DQ
(TFLite, TensorRT, ORT and its NNAPI EP), and an int32 one is a quantized bias; a target
that really refuses a Q/DQ says so under its own code (TensorRT: zero point not 0, GK110).
The real models (an int8 .tflite and an onnxruntime quantize_static model) are in
tests/frontends/test_quantized_models.py.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from _helpers import check, codes, header
from conftest import model_from_text, run_ort

import graphkit

# Conv whose weight and bias enter through DequantizeLinear of int8/int32 initializers,
# between a Q/DQ pair on the activation: the QDQ form every quantizer writes.
QDQ_CONV = """
g (float[1,2,5,5] x) => (float[1,3,3,3] y)
<int8[3,2,3,3] w = {{{w}}}, float ws = {{0.05}}, int8 wz = {{{wz}}},
 int32[3] b = {{10, -4, 7}}, float bs = {{0.001}}, int32 bz = {{0}},
 float xs = {{0.02}}, int8 xz = {{{xz}}}> {{
  q = QuantizeLinear(x, xs, xz)
  dq = DequantizeLinear(q, xs, xz)
  wf = DequantizeLinear(w, ws, wz)
  bf = DequantizeLinear(b, bs, bz)
  y = Conv(dq, wf, bf)
}}"""
WEIGHTS = ", ".join(str((i * 7) % 19 - 9) for i in range(54))


def qdq_conv(weight_zero: int = 0, activation_zero: int = 0) -> str:
    return QDQ_CONV.format(w=WEIGHTS, wz=weight_zero, xz=activation_zero)


def test_tflite_takes_quantized_weight_and_int32_bias():
    convertible, findings = check(qdq_conv(), "tflite")
    assert convertible, findings
    assert "GK105" not in codes(findings) and "GK203" not in codes(findings)


def test_tflite_refuses_an_int8_weight_with_a_zero_point():
    # TFLite's int8 kernels take weights as symmetric: a zero point of 3 would be ignored.
    convertible, findings = check(qdq_conv(weight_zero=3), "tflite")
    assert not convertible and codes(findings) == ["GK110"]
    assert findings[0].op == "Conv" and "zero point [3]" in findings[0].message


def test_tflite_int32_dequantize_of_a_computed_value_is_float_arithmetic():
    """Not a bias: the emitter computes it as (float(a) - z) * s (CAST, SUB, MUL; its
    outputs are checked in LiteRT by tests/emitters/test_tflite_quant_ops.py)."""
    text = """
    g (int32[3] a) => (float[3] y) <float s = {0.5}, int32 z = {0}> {
      y = DequantizeLinear(a, s, z)
    }"""
    convertible, findings = check(text, "tflite")
    assert convertible and findings == []


def test_tensorrt_symmetric_qdq_is_convertible():
    convertible, findings = check(qdq_conv(), "tensorrt")
    # The int32 bias is TensorRT's one real refusal here: its DequantizeLinear takes
    # int8/fp8/int4/fp4 only.
    assert set(codes(findings)) == {"GK203"}, findings
    assert {f.node for f in findings} == {"#3 DequantizeLinear"}
    assert not convertible


def test_tensorrt_zero_point_is_its_own_finding_not_a_missing_constant():
    findings = check(qdq_conv(activation_zero=5), "tensorrt")[1]
    qdq = [f for f in findings if f.op in ("QuantizeLinear", "DequantizeLinear")
           and f.code != "GK203"]
    assert [f.code for f in qdq] == ["GK110", "GK110"], findings
    assert all("zero point must be 0" in f.message and "holds 5" in f.message for f in qdq)
    assert all(f.fix is None for f in qdq)
    assert "GK105" not in codes(findings)


def test_nnapi_runs_conv_on_a_quantized_weight():
    findings = check(qdq_conv(), "ort-nnapi")[1]
    assert "Conv" not in {f.op for f in findings}, findings


def test_coreml_without_qdq_still_sees_a_computed_weight():
    # The CoreML EP takes no DequantizeLinear: it runs on the CPU EP, so Conv's weight is
    # a run-time tensor there and Conv falls back too.
    findings = check(qdq_conv(), "ort-coreml")[1]
    conv = [f for f in findings if f.op == "Conv"]
    assert conv and "computed by DequantizeLinear" in conv[0].message


def test_ort_takes_qdq():
    convertible, findings = check(qdq_conv(weight_zero=3, activation_zero=5), "ort")
    assert convertible and not findings


def _dequantizes(model) -> int:
    return sum(node.op_type == "DequantizeLinear" for node in model.graph)


@pytest.mark.parametrize("target", ["tflite", "tensorrt", "ort-nnapi", "ort"])
def test_fix_keeps_quantized_weights_for_targets_that_take_qdq(target):
    # At opset 21 onnx's reference evaluator runs DequantizeLinear, so fold-constants used
    # to fold every weight's DQ into a float weight: the model lost its quantization.
    model = model_from_text(header(21) + qdq_conv())
    fixed, report = graphkit.fix(model, target)
    weights = [n for n in fixed.graph if n.op_type == "DequantizeLinear"
               and n.inputs[0].const_value is not None and n.inputs[0].dtype == ir.DataType.INT8]
    assert len(weights) == 1, report.passes
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 2, 5, 5), np.float32)}
    np.testing.assert_allclose(run_ort(fixed, feeds)[0], run_ort(model, feeds)[0], atol=1e-6)


def test_fix_folds_the_weights_for_an_ep_without_qdq():
    model = model_from_text(header(21) + qdq_conv())
    (finding,) = [f for f in graphkit.diagnose(model, "ort-coreml").findings if f.op == "Conv"]
    assert finding.fix == "fold-constants{dequantize=all}"
    fixed, _ = graphkit.fix(model, "ort-coreml")
    assert _dequantizes(fixed) == 1  # the activation's, after its QuantizeLinear
    assert "Conv" not in {f.op for f in graphkit.diagnose(fixed, "ort-coreml").findings}


@pytest.mark.parametrize("opset", [17, 21])
def test_fix_folds_only_the_int32_bias_for_tensorrt(opset):
    # TensorRT dequantizes no int32: the bias folds into the float constant it stands for,
    # the int8 weight and the activation's Q/DQ stay (below opset 19 onnx's evaluator has
    # no DequantizeLinear: fold-constants evaluates it as version 19, the same function).
    model = model_from_text(header(opset) + qdq_conv())
    (bias,) = graphkit.diagnose(model, "tensorrt").findings
    assert bias.fix == "fold-constants{dequantize=int32}"
    fixed, report = graphkit.fix(model, "tensorrt")
    assert report.fixed and _dequantizes(fixed) == 2, report.passes
    assert graphkit.diagnose(fixed, "tensorrt").convertible
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 2, 5, 5), np.float32)}
    np.testing.assert_allclose(run_ort(fixed, feeds)[0], run_ort(model, feeds)[0], atol=1e-6)
