"""TensorRT 11.5 (`tensorrt`) against 10.15 (`tensorrt@10.15`): one test per fact that changed.

Sources (NVIDIA's release notes): github.com/NVIDIA/TensorRT/releases/tag/v11.0 (Swish,
TRT_Attention/TRT_MoE/TRT_KVCacheUpdate, deprecated plugins removed) and tag/v11.5 (ONNX
opset 25, Squeeze without its axes input). tools/_tensorrt11.py holds the same facts as data.
"""

from __future__ import annotations

import pytest
from _helpers import check as check_all
from _helpers import codes, only

from graphkit.findings import Severity

RELU = "g (float[4] x) => (float[4] y) { y = Relu(x) }"


def check(text: str, target: str, opset: int = 17):
    """The verdict and the findings besides info lines (11.x adds GK204 for float32 graphs;
    tests/emitters/test_tensorrt.py tests it)."""
    convertible, findings = check_all(text, target, opset)
    return convertible, [f for f in findings if f.severity is not Severity.INFO]


def _custom(op: str, domain: str) -> str:
    return (f'<ir_version: 10, opset_import: ["" : 17, "{domain}" : 1]>\n'
            f"g (float[1,10,4] a, float[1,10,4] b) => (float[1,10,4] y) "
            f"{{ y = {domain}.{op}(a, b) }}")


def _check_custom(op: str, domain: str, target: str):
    from conftest import model_from_text

    from graphkit.diagnose import diagnose

    report = diagnose(model_from_text(_custom(op, domain)), target)
    return report.convertible, [f for f in report.findings if f.severity is not Severity.INFO]


def test_default_is_11_5_and_the_older_versions_stay_selectable():
    from graphkit.backends import get_target

    assert get_target("tensorrt").label == "TensorRT 11.5"
    assert get_target("tensorrt@10.15").label == "TensorRT 10.15"
    assert get_target("tensorrt@10.1").label == "TensorRT 10.1"


def test_opset_25_is_in_range_on_11_5_only():
    assert check(RELU, "tensorrt", opset=25) == (True, [])
    convertible, findings = check(RELU, "tensorrt@10.15", opset=25)
    assert not convertible
    assert "9..24" in only(findings, "GK103").message


def test_swish_is_imported_from_11_0():
    text = "g (float[1,3,4] x) => (float[1,3,4] y) { y = Swish(x) }"
    assert check(text, "tensorrt", opset=24) == (True, [])
    convertible, findings = check(text, "tensorrt@10.15", opset=24)
    assert not convertible and only(findings, "GK101").op == "Swish"


def test_squeeze_without_axes_from_11_5():
    text = "g (float[1,3,1,4] x) => (float[3,4] y) { y = Squeeze(x) }"
    assert check(text, "tensorrt", opset=13) == (True, [])
    convertible, findings = check(text, "tensorrt@10.15", opset=13)
    assert not convertible
    assert "axes input" in findings[0].message and codes(findings) == ["GK104"]
    # Before opset 13 axes is an attribute: its absence was never the question.
    assert check(text, "tensorrt@10.15", opset=11) == (True, [])


@pytest.mark.parametrize("op", ["TRT_Attention", "TRT_MoE", "TRT_KVCacheUpdate"])
def test_custom_ops_are_imported_from_11_0(op):
    assert _check_custom(op, "trt", "tensorrt") == (True, [])
    convertible, findings = _check_custom(op, "trt", "tensorrt@10.15")
    assert not convertible and codes(findings) == ["GK102"]


@pytest.mark.parametrize("op", ["NMS_TRT", "Normalize_TRT", "Proposal", "LReLU_TRT",
                                "CustomGeluPluginDynamic", "CropAndResize", "Clip_TRT"])
def test_deprecated_plugins_are_removed_in_11(op):
    convertible, findings = _check_custom(op, "TRT", "tensorrt")
    assert not convertible
    assert "TensorRT 11 removed" in only(findings, "GK101").message
    assert _check_custom(op, "TRT", "tensorrt@10.15") == (True, [])


def test_efficient_nms_plugin_remains_in_11():
    text = """<ir_version: 10, opset_import: ["" : 17, "TRT" : 1]>
    g (float[1,10,4] boxes, float[1,10,2] scores) => (int32[1,1] n, float[1,5,4] b,
                                                      float[1,5] s, int32[1,5] c) {
      n, b, s, c = TRT.EfficientNMS_TRT(boxes, scores)
    }"""
    from conftest import model_from_text

    from graphkit.diagnose import diagnose

    for target in ("tensorrt", "tensorrt@10.15"):
        assert diagnose(model_from_text(text), target).convertible
