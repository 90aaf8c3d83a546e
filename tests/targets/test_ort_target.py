"""The ort target: verdicts checked against what ONNX Runtime really does with each model."""

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, run_ort

import graphkit
from graphkit._ort_registry import ort_registry
from graphkit.backends.ort.target import OrtTarget


def ort_fails(model: ir.Model, feeds: dict) -> bool:
    try:
        run_ort(model, feeds)
    except Exception:
        return True
    return False


def unary(op: str, dtype: str, opset: int = 17) -> ir.Model:
    return model_from_text(f"""
        <ir_version: 8, opset_import: ["" : {opset}]>
        g ({dtype}[2, 3] x) => ({dtype}[2, 3] y) {{ y = {op}(x) }}""")


@pytest.mark.parametrize(
    ("op", "dtype", "numpy", "code", "fix"),
    [
        ("Erf", "double", np.float64, "GK202", "float64-to-float32"),  # ORT: Erf float only
        ("Relu", "int64", np.int64, "GK201", "int64-to-int32"),  # ORT: Relu int32/int8
        ("Relu", "int16", np.int16, "GK203", None),
    ],
)
def test_dtype_without_a_cpu_kernel_blocks_and_ort_agrees(op, dtype, numpy, code, fix):
    model = unary(op, dtype)
    report = graphkit.diagnose(model, "ort")
    assert not report.convertible
    (finding,) = report.findings
    assert (finding.code, finding.op, finding.node, finding.fix) == (code, op, "#0 " + op, fix)
    assert f"is tensor({dtype})" in finding.message and f"{op}-" in finding.message
    assert ort_fails(model, {"x": np.ones((2, 3), numpy)})


def test_float16_runs_through_casts_onnxruntime_inserts():
    model = unary("Erf", "float16")  # no float16 Erf kernel, but a float one
    assert graphkit.diagnose(model, "ort").convertible
    (out,) = run_ort(model, {"x": np.full((2, 3), 0.5, np.float16)})
    assert out.dtype == np.float16 and abs(float(out[0, 0]) - 0.5205) < 1e-2


def test_op_with_a_function_body_runs_when_its_body_does():
    model = unary("Mish", "float", opset=18)  # Mish has no CPU kernel: ORT inlines its body
    assert not ort_registry().kernels_for("", "Mish", 18)
    assert graphkit.diagnose(model, "ort").convertible
    (out,) = run_ort(model, {"x": np.ones((2, 3), np.float32)})
    assert np.allclose(out, np.tanh(np.log1p(np.e)))  # mish(1) = tanh(softplus(1))


def test_function_body_that_does_not_hold_at_the_models_opset_blocks():
    # Swish's body is written for opset 24 and uses CastLike, which changed at 25:
    # onnx refuses that body at opset 28, so onnxruntime has neither kernel nor body.
    model = unary("Swish", "float", opset=28)
    report = graphkit.diagnose(model, "ort")
    assert [f.code for f in report.blockers] == ["GK101"]
    assert "no CPU kernel for Swish-24" in report.blockers[0].message
    assert ort_fails(model, {"x": np.ones((2, 3), np.float32)})
    assert graphkit.diagnose(unary("Swish", "float", opset=24), "ort").convertible


def test_unknown_domain_blocks_with_the_node_named():
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17, "com.acme" : 1]>
        g (float[2] x) => (float[2] y) { t = Relu(x) y = com.acme.Frobnicate(t) }""")
    model.graph.node(1).name = "frob"
    report = graphkit.diagnose(model, "ort")
    (finding,) = report.blockers
    assert (finding.code, finding.node, finding.op) == ("GK102", "frob", "Frobnicate")
    assert "com.acme" in finding.message
    assert ort_fails(model, {"x": np.ones(2, np.float32)})


def test_op_newer_than_the_models_opset_names_the_opset_and_the_fix():
    proto = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2] x) => (float[2] y) { y = Mish(x) }""")  # Mish first appears in opset 18
    report = graphkit.diagnose(proto, "ort")
    (finding,) = report.blockers
    assert finding.code == "GK101" and finding.fix == "convert-opset"
    assert "first appears in ai.onnx opset 18" in finding.message


def test_opset_beyond_what_onnxruntime_knows_is_a_model_level_blocker():
    high = OrtTarget().opset_range()[1] + 1
    proto = onnx.parser.parse_model(f"""
        <ir_version: 8, opset_import: ["" : {high}]>
        g (float[2] x) => (float[2] y) {{ y = Relu(x) }}""")
    report = graphkit.diagnose(proto, "ort")
    assert [f.code for f in report.blockers] == ["GK103"]
    assert report.blockers[0].fix == "convert-opset"
    assert ort_fails(ir.serde.deserialize_model(proto), {"x": np.ones(2, np.float32)})


def test_clean_model_runs_and_constant_needs_no_kernel():
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 2] y) {
            w = Constant <value = float[4, 2] {1, 2, 3, 4, 5, 6, 7, 8}> ()
            m = MatMul(x, w)
            y = Relu(m)
        }""")
    report = graphkit.diagnose(model, "ort")
    assert report.convertible and report.findings == []
    assert (report.partitions.supported, report.partitions.count) == (3, 1)
    (out,) = run_ort(model, {"x": np.ones((2, 4), np.float32)})
    assert out.tolist() == [[16.0, 20.0], [16.0, 20.0]]
