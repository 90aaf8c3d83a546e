"""min_opset: the lowest opset each node is valid at as written, and how low conversion reaches."""

from __future__ import annotations

from conftest import model_from_text

from graphkit.findings import Severity
from graphkit.min_opset import min_opset_findings, model_min_opset


def model(body: str, opset: int = 17, ir_version: int = 8):
    return model_from_text(f'<ir_version: {ir_version}, opset_import: ["" : {opset}]>\n{body}')


SQUEEZE_ATTR = "g (float[1,3] x) => (float[3] y) { y = Squeeze<axes=[0]>(x) }"
SQUEEZE_INPUT = "g (float[1,3] x, int64[1] a) => (float[3] y) { y = Squeeze(x, a) }"
SQUEEZE_CONST = """g (float[1,3] x) => (float[3] y) {
  a = Constant<value = int64[1] {0}>()
  y = Squeeze(x, a)
}"""
GELU = "g (float[4] x) => (float[4] y) { y = Gelu(x) }"


def test_squeeze_axes_attribute_is_valid_1_to_12():
    result = model_min_opset(model(SQUEEZE_ATTR, opset=11))
    assert (result["as_written"], result["as_written_max"]) == (1, 12)
    assert result["per_node"] == [
        {"node": "", "op": "Squeeze", "min": 1, "max": 12, "reachable": 1}
    ]


def test_squeeze_axes_input_needs_13_unless_it_is_constant():
    result = model_min_opset(model(SQUEEZE_INPUT, opset=13))
    assert (result["as_written"], result["reachable"]) == (13, 13)
    result = model_min_opset(model(SQUEEZE_CONST, opset=13))
    # convert-opset can turn a constant axes input back into the attribute
    assert (result["as_written"], result["reachable"]) == (13, 1)


def test_gelu_needs_20_and_decomposes_to_9():
    result = model_min_opset(model(GELU, opset=20, ir_version=9))
    assert (result["as_written"], result["reachable"]) == (20, 9)
    assert result["targets"]["tensorrt@10.1"]["verdict"] == "ok"
    assert result["targets"]["tensorrt"]["verdict"] == "ok"


def test_dtypes_raise_the_floor():
    add_int = "g (int64[4] a, int64[4] b) => (int64[4] y) { y = Add(a, b) }"
    assert model_min_opset(model(add_int))["as_written"] == 6  # Add-1 takes floats only
    cast_bf16 = "g (float[4] x) => (bfloat16[4] y) { y = Cast<to=16>(x) }"
    assert model_min_opset(model(cast_bf16))["as_written"] == 13


def test_no_common_opset_as_written_but_reachable():
    both = """g (float[1,4] x) => (float[4] y) {
      s = Squeeze<axes=[0]>(x)
      y = Gelu(s)
    }"""
    # The text parser's checker would reject this model at any single opset, so build it
    # at 20 and let the analysis say so.
    import onnx
    import onnx_ir as ir

    proto = onnx.parser.parse_model(f'<ir_version: 9, opset_import: ["" : 20]>\n{both}')
    result = model_min_opset(ir.serde.deserialize_model(proto))
    assert result["as_written"] is None
    assert result["reachable"] == 9  # Squeeze goes up, Gelu decomposes
    assert result["targets"]["tensorrt"]["verdict"] == "convert"


def test_target_verdicts_blocked_and_convert():
    rms = """g (float[2,4] x) => (float[2,4] y) {
      s = Constant<value = float[4] {1,1,1,1}>()
      y = RMSNormalization(x, s)
    }"""
    result = model_min_opset(model(rms, opset=23, ir_version=10))
    assert result["as_written"] == 23 and result["reachable"] == 23
    assert result["targets"]["tensorrt"]["verdict"] == "ok"
    blocked = result["targets"]["tensorrt@10.1"]
    assert blocked["verdict"] == "blocked" and "needs opset >= 23" in blocked["why"]
    relu = model(GELU.replace("Gelu", "Relu"), opset=21, ir_version=10)
    converted = model_min_opset(relu)["targets"]["tensorrt@10.1"]
    assert converted == {"range": [9, 20], "verdict": "convert", "fix": "convert-opset"}


def test_subgraph_nodes_count():
    text = """g (bool c, float[4] x) => (float[4] y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Gelu(x) },
                 else_branch = e () => (float[4] b) { b = Relu(x) }>
    }"""
    result = model_min_opset(model(text, opset=20, ir_version=9))
    assert result["as_written"] == 20
    assert {n["op"] for n in result["per_node"]} == {"If", "Gelu", "Relu"}


def test_findings_name_the_floor_node():
    two = """g (float[4] x) => (float[4] y) {
      r = Relu(x)
      y = Gelu(r)
    }"""
    findings = min_opset_findings(model(two, opset=20, ir_version=9))
    assert [(f.code, f.op, f.severity) for f in findings] == [("GK401", "Gelu", Severity.INFO)]
    assert "needs opset >= 20" in findings[0].message and "reaches 9" in findings[0].message


def test_schema_lookups_are_cached_per_signature():
    from graphkit.min_opset import valid_ranges

    body = "\n".join(f"  r{i} = Relu(r{i - 1})" for i in range(1, 200))
    text = f"g (float[4] r0) => (float[4] r199) {{\n{body}\n}}"
    valid_ranges.cache_clear()
    model_min_opset(model(text))
    # typed input, untyped intermediates, typed output: three signatures for 199 nodes
    info = valid_ranges.cache_info()
    assert info.currsize == 3 and info.misses == 3
