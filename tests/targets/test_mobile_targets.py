"""ort-nnapi / ort-coreml / ort-coreml-mlprogram: nodes the EP will not take run on CPU (GK108)."""

from __future__ import annotations

import pytest
from _helpers import check, codes, header
from conftest import model_from_text

from graphkit.backends import get_target
from graphkit.diagnose import diagnose
from graphkit.findings import Severity
from graphkit.partitions import Partitions

CONV = """
g (float[1,3,8,8] x) => (float[1,4,8,8] y) {
  w = Constant<value = float[4,3,1,1] {1,2,3,4,5,6,7,8,9,10,11,12}>()
  y = Conv(x, w)
}"""
CONV_RUNTIME_WEIGHT = (
    "g (float[1,3,8,8] x, float[4,3,1,1] w) => (float[1,4,8,8] y) { y = Conv(x, w) }"
)


@pytest.mark.parametrize("target", ["ort-nnapi", "ort-coreml", "ort-coreml-mlprogram"])
def test_constant_weight_conv_runs_on_the_ep(target):
    assert check(CONV, target) == (True, [])


@pytest.mark.parametrize("target", ["ort-nnapi", "ort-coreml"])
def test_runtime_weight_conv_falls_back(target):
    convertible, findings = check(CONV_RUNTIME_WEIGHT, target)
    assert convertible  # the session still runs: the Conv goes to CPU
    (finding,) = findings
    assert finding.code == "GK108" and finding.severity is Severity.WARNING
    assert "input 1 ('w') must be a constant" in finding.message
    assert finding.fix == "fold-constants"


def test_mlprogram_conv_takes_runtime_weights():
    assert check(CONV_RUNTIME_WEIGHT, "ort-coreml-mlprogram") == (True, [])


def test_unlisted_op_is_a_partition():
    convertible, findings = check("g (float[4] x) => (float[4] y) { y = Erf(x) }", "ort-nnapi")
    assert convertible and codes(findings) == ["GK108"] and "not in its list" in findings[0].message


def test_nnapi_gemm_runtime_b_needs_transb():
    text = "g (float[2,3] a, float[{}] b) => (float[2,4] y) {{ y = Gemm<transB={}>(a, b) }}"
    assert codes(check(text.format("3,4", 0), "ort-nnapi")[1]) == ["GK108"]
    assert check(text.format("4,3", 1), "ort-nnapi") == (True, [])


def test_mlprogram_where_needs_float_values():
    text = "g (bool[4] c, {t}[4] a, {t}[4] b) => ({t}[4] y) {{ y = Where(c, a, b) }}"
    assert check(text.format(t="float"), "ort-coreml-mlprogram") == (True, [])
    findings = check(text.format(t="int32"), "ort-coreml-mlprogram")[1]
    assert codes(findings) == ["GK108"] and "int32" in findings[0].message


def test_coreml_pad_only_last_two_axes():
    text = """
    g (float[1,3,4,4] x) => (float[{}] y) {{
      p = Constant<value = int64[8] {{{}}}>()
      y = Pad(x, p)
    }}"""
    assert check(text.format("1,3,6,6", "0,0,1,1,0,0,1,1"), "ort-coreml", opset=13) == (True, [])
    findings = check(text.format("1,5,4,4", "0,1,0,0,0,1,0,0"), "ort-coreml", opset=13)[1]
    assert codes(findings) == ["GK108"] and "axis 1" in findings[0].message


def test_nnapi_needs_static_shapes():
    assert get_target("ort-nnapi").static_shapes
    assert not get_target("ort-coreml").static_shapes


DYNAMIC_CHAIN = "g (float[N,4] x) => (float[N,4] y) { a = Relu(x)\n b = Erf(a)\n y = Relu(b) }"
STATIC_CHAIN = DYNAMIC_CHAIN.replace("N,", "2,")


def test_nnapi_leaves_dynamic_shaped_nodes_to_the_cpu():
    convertible, findings = check(DYNAMIC_CHAIN, "ort-nnapi")
    assert convertible
    relu = [f for f in findings if f.op == "Relu"]
    assert len(relu) == 2 and all(f.code == "GK108" and f.fix == "pin-shapes" for f in relu)
    assert "input 'x' has dynamic shape ['N', 4]" in relu[0].message
    # CoreML takes dynamic shapes: only the unlisted Erf falls back there.
    assert codes(check(DYNAMIC_CHAIN, "ort-coreml")[1]) == ["GK108"]


def test_ep_partitions_split_at_the_nodes_left_to_the_cpu():
    # Relu -> Erf (not on NNAPI) -> Relu: ORT's partitioner makes two NNAPI pieces.
    report = diagnose(model_from_text(header() + STATIC_CHAIN), "ort-nnapi")
    assert report.convertible and report.fallback
    assert report.partitions == Partitions(nodes=3, supported=2, count=2, largest=1)
    dynamic = diagnose(model_from_text(header() + DYNAMIC_CHAIN), "ort-nnapi")
    assert (dynamic.partitions.supported, dynamic.partitions.count) == (0, 0)
