"""tensorrt: known blockers and known clean models, per TensorRT version."""

from __future__ import annotations

import pytest
from _helpers import check, codes, only

from graphkit.findings import Severity

CONV_RELU = """
g (float[1,3,8,8] x) => (float[1,4,8,8] y) {
  w = Constant<value = float[4,3,1,1] {1,2,3,4,5,6,7,8,9,10,11,12}>()
  c = Conv(x, w)
  y = Relu(c)
}"""


@pytest.mark.parametrize("target", ["tensorrt", "tensorrt@10.15", "tensorrt@10.1"])
def test_clean_cnn_converts(target):
    convertible, findings = check(CONV_RELU, target)
    # 11.x adds one info line: strongly typed, this float32 graph builds a float32 engine.
    assert convertible and codes(findings) == (["GK204"] if target == "tensorrt" else [])


def test_unsupported_op_is_gk101():
    convertible, findings = check("g (float[4] x) => (float[N] y) { y = Unique(x) }", "tensorrt")
    assert not convertible
    assert only(findings, "GK101").op == "Unique"


def test_op_missing_from_the_matrix_is_unsupported():
    text = "g (float[4] x) => (float[4] y) { y = Swish(x) }"
    convertible, findings = check(text, "tensorrt@10.15", opset=24)
    assert not convertible and codes(findings) == ["GK101"]


def test_opset_outside_version_range():
    text = "g (float[4] x) => (float[4] y) { y = Relu(x) }"
    assert check(text, "tensorrt", opset=22)[0]
    convertible, findings = check(text, "tensorrt@10.1", opset=22)
    assert not convertible
    finding = only(findings, "GK103")
    assert finding.fix == "convert-opset" and "9..20" in finding.message


def test_resize_mode_checked_as_attribute():
    text = """
    g (float[1,3,8,8] x) => (float[1,3,16,16] y) {
      s = Constant<value = float[4] {1,1,2,2}>()
      y = Resize<mode="cubic">(x, , s)
    }"""
    convertible, findings = check(text, "tensorrt")
    assert not convertible
    assert "mode='cubic'" in only(findings, "GK104").message


def test_nms_is_gk109_with_nms_fix():
    text = """
    g (float[1,10,4] boxes, float[1,1,10] scores) => (int64[N,3] keep) {
      keep = NonMaxSuppression(boxes, scores)
    }"""
    convertible, findings = check(text, "tensorrt")
    finding = only(findings, "GK109")
    assert finding.fix == "nms" and finding.severity is Severity.WARNING
    assert convertible


def test_squeeze_axes_must_be_constant():
    text = "g (float[1,3] x, int64[1] a) => (float[3] y) { y = Squeeze(x, a) }"
    convertible, findings = check(text, "tensorrt")
    assert not convertible
    finding = only(findings, "GK105")
    assert finding.fix == "fold-constants" and "'a'" in finding.message
    const_axes = """
    g (float[1,3] x) => (float[3] y) {
      a = Constant<value = int64[1] {0}>()
      y = Squeeze(x, a)
    }"""
    assert check(const_axes, "tensorrt")[0]


def test_pad_axes_rule_differs_between_versions():
    text = """
    g (float[2,3] x, int64[1] axes) => (float[2,5] y) {
      p = Constant<value = int64[2] {1,1}>()
      y = Pad(x, p, , axes)
    }"""
    assert check(text, "tensorrt", opset=18)[0]
    convertible, findings = check(text, "tensorrt@10.1", opset=18)
    assert not convertible and codes(findings) == ["GK105"]


def test_uint8_only_at_io_and_int8_only_through_qdq():
    uint8 = "g (uint8[4] x) => (uint8[4] y) { y = Relu(x) }"
    convertible, findings = check(uint8, "tensorrt")
    assert not convertible and "network input or output" in only(findings, "GK203").message
    cast_at_input = "g (uint8[4] x) => (float[4] y) { y = Cast<to=1>(x) }"
    assert check(cast_at_input, "tensorrt")[0]
    int8 = "g (int8[4] x, int8[4] z) => (int8[4] y) { y = Add(x, z) }"
    assert "QuantizeLinear" in only(check(int8, "tensorrt")[1], "GK203").message


def test_float64_is_cast_down_with_a_warning():
    text = "g (double[4] x, double[4] z) => (double[4] y) { y = Add(x, z) }"
    convertible, findings = check(text, "tensorrt")
    assert convertible
    finding = only(findings, "GK202")
    assert finding.severity is Severity.WARNING and finding.fix == "float64-to-float32"


def test_dequantize_zero_point_must_be_zero():
    text = """
    g (int8[4] x) => (float[4] y) {
      s = Constant<value = float {0.5}>()
      z = Constant<value = int8 {3}>()
      y = DequantizeLinear(x, s, z)
    }"""
    convertible, findings = check(text, "tensorrt")
    assert not convertible and "must be zero" in findings[0].message


def test_topk_k_limit_and_maxpool_indices():
    topk = """
    g (float[1,5000] x) => (float[1,4000] v, int64[1,4000] i) {
      k = Constant<value = int64[1] {4000}>()
      v, i = TopK(x, k)
    }"""
    assert "<= 3839" in only(check(topk, "tensorrt")[1], "GK104").message
    pool = """
    g (float[1,1,4,4] x) => (float[1,1,2,2] y, int64[1,1,2,2] i) {
      y, i = MaxPool<kernel_shape=[2,2], strides=[2,2]>(x)
    }"""
    assert "output 1 ('i')" in only(check(pool, "tensorrt")[1], "GK104").message


def test_lstm_layout_attribute():
    text = """
    g (float[2,1,3] x) => (float[2,1,1,4] y) {
      w = Constant<value = float[1,16,3] {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}>()
      rs = Constant<value = int64[3] {1,16,4}>()
      r = ConstantOfShape<value = float[1] {0}>(rs)
      y = LSTM<hidden_size=4, layout=1>(x, w, r)
    }"""
    findings = check(text, "tensorrt")[1]
    assert "layout=1" in only(findings, "GK104").message
