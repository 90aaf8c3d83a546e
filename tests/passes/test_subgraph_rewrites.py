"""Rewrites reach If/Loop/Scan bodies and model-local functions, as diagnose does; where a pass
cannot, diagnose's finding says so instead of naming it as the fix."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from conftest import model_from_text, run_ort

import graphkit
from graphkit.ir._walk import every_graph
from graphkit.passes.decompose import Decompose
from graphkit.passes.fuse import Fuse
from graphkit.passes.remove_redundant_casts import RemoveRedundantCasts
from graphkit.passmanager import PassContext

HARD_SWISH_IN_IF = """
<ir_version: 10, opset_import: ["" : 14]>
g (float[2, 5] x, bool c) => (float[2, 5] y) {
    y = If(c) <
        then_branch = t () => (float[2, 5] a) {
            g = HardSigmoid <alpha = 0.16666667, beta = 0.5> (x)
            a = Mul(x, g)
        },
        else_branch = e () => (float[2, 5] b) { b = Neg(x) }
    >
}
"""

SOFTPLUS_IN_LOOP = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[3] x, int64 n) => (float[3] y) {
    go = Constant <value = bool {1}> ()
    y = Loop(n, go, x) <
        body = body (int64 i, bool c, float[3] acc) => (bool c_out, float[3] next) {
            c_out = Identity(c)
            s = Softplus(acc)
            next = Sub(s, x)
        }
    >
}
"""

HARD_SWISH_IN_FUNCTION = """
<ir_version: 10, opset_import: ["" : 14, "local" : 1]>
g (float[2, 5] x) => (float[2, 5] y) {
    y = local.act(x)
}
<domain: "local", opset_import: ["" : 14]>
act (a) => (b) {
    b = HardSwish(a)
}
"""

CAST_IN_IF = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[4] x, bool c) => (float[4] y) {
    y = If(c) <
        then_branch = t () => (float[4] a) {
            same = Cast <to = 1> (x)
            a = Relu(same)
        },
        else_branch = e () => (float[4] b) { b = Neg(x) }
    >
}
"""

# The HardSigmoid is the main graph's; only the Mul is in the branch: no fusion may take both.
ACROSS_SCOPES = """
<ir_version: 10, opset_import: ["" : 14]>
g (float[2, 5] x, bool c) => (float[2, 5] y, float[2, 5] h) {
    h = HardSigmoid <alpha = 0.16666667, beta = 0.5> (x)
    y = If(c) <
        then_branch = t () => (float[2, 5] a) { a = Mul(x, h) },
        else_branch = e () => (float[2, 5] b) { b = Neg(x) }
    >
}
"""


def body_ops(model: ir.Model) -> list[str]:
    """The op types of every graph but the main one (bodies, branches, functions)."""
    return [node.op_type for scope in every_graph(model)[1:] for node in scope.graph]


def floats(rng, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) * 4).astype(np.float32)


def assert_same_outputs(before: list[np.ndarray], after: list[np.ndarray]) -> None:
    assert len(before) == len(after)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fuse_rewrites_a_pattern_inside_an_if_branch(rng):
    model = model_from_text(HARD_SWISH_IN_IF)
    x = floats(rng, 2, 5)
    feeds = [{"x": x, "c": np.array(flag)} for flag in (True, False)]
    before = [run_ort(model, f) for f in feeds]
    result = Fuse(rules=("hard-swish",)).run(model, PassContext())
    assert result.modified
    assert "HardSwish" in body_ops(model) and "HardSigmoid" not in body_ops(model)
    for f, b in zip(feeds, before):
        assert_same_outputs(b, run_ort(model, f))


def test_fuse_does_not_match_across_a_subgraph_boundary(rng):
    model = model_from_text(ACROSS_SCOPES)
    feeds = {"x": floats(rng, 2, 5), "c": np.array(True)}
    before = run_ort(model, feeds)
    result = Fuse(rules=("hard-swish",)).run(model, PassContext())
    assert not result.modified
    assert any("reaches out of a subgraph" in f.message for f in result.findings)
    assert_same_outputs(before, run_ort(model, feeds))


def test_decompose_rewrites_an_op_inside_a_loop_body(rng):
    model = model_from_text(SOFTPLUS_IN_LOOP)
    feeds = {"x": floats(rng, 3), "n": np.array(3, np.int64)}
    before = run_ort(model, feeds)
    result = Decompose(ops=("Softplus",)).run(model, PassContext())
    assert result.modified
    assert "Softplus" not in body_ops(model)
    assert_same_outputs(before, run_ort(model, feeds))


def test_decompose_rewrites_an_op_inside_a_model_local_function(rng):
    model = model_from_text(HARD_SWISH_IN_FUNCTION)
    feeds = {"x": floats(rng, 2, 5)}
    before = run_ort(model, feeds)
    result = Decompose(ops=("HardSwish",)).run(model, PassContext())
    assert result.modified
    assert "HardSwish" not in body_ops(model)
    assert_same_outputs(before, run_ort(model, feeds))


def test_remove_redundant_casts_reaches_an_if_branch(rng):
    model = model_from_text(CAST_IN_IF)
    feeds = [{"x": floats(rng, 4), "c": np.array(flag)} for flag in (True, False)]
    before = [run_ort(model, f) for f in feeds]
    result = RemoveRedundantCasts().run(model, PassContext())
    assert result.modified
    assert "Cast" not in body_ops(model)
    for f, b in zip(feeds, before):
        assert_same_outputs(b, run_ort(model, f))


DOUBLE_IN_IF = """
<ir_version: 10, opset_import: ["" : 17]>
g (double[2] x, bool c) => (double[2] y) {
    y = If(c) <
        then_branch = t () => (double[2] a) { a = Add(x, x) },
        else_branch = e () => (double[2] b) { b = Neg(x) }
    >
}
"""


def test_diagnose_does_not_promise_a_main_graph_pass_for_a_node_in_a_subgraph():
    findings = graphkit.diagnose(model_from_text(DOUBLE_IN_IF), "tflite").findings
    inside = [f for f in findings if "/then_branch/" in (f.node or "")]
    assert inside and all(f.fix is None for f in inside)
    assert all("'float64-to-float32' pass rewrites only the main graph" in f.message
               for f in inside)
    outside = [f for f in findings if f.node == "#0 If"]
    assert outside and outside[0].fix == "float64-to-float32"  # the main graph's own finding


CENTER_CROP_IN_IF = """
<ir_version: 10, opset_import: ["" : 18]>
g (float[4, 6] x, bool c) => (float[2, 2] y) {
    shape = Constant <value = int64[2] {2, 2}> ()
    y = If(c) <
        then_branch = t () => (float[2, 2] a) { a = CenterCropPad(x, shape) },
        else_branch = e () => (float[2, 2] b) { b = CenterCropPad(x, shape) }
    >
}
"""


def test_diagnose_keeps_the_fix_of_a_pass_that_reaches_subgraphs():
    findings = graphkit.diagnose(model_from_text(CENTER_CROP_IN_IF), "tensorrt").findings
    inside = [f for f in findings if f.op == "CenterCropPad"]
    assert inside and all((f.fix or "").startswith("decompose") for f in inside)
    assert not any("rewrites only the main graph" in f.message for f in inside)


# The branch returns a Cast of a value of the main graph: bypassing the Cast would make the
# branch return an outer scope value directly, which ONNX Runtime refuses.
CAST_OF_AN_OUTER_VALUE = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[4] x, bool c) => (float[4] y, float[4] z) {
    r = Relu(x)
    z = Neg(x)
    y = If(c) <
        then_branch = t () => (float[4] a) { a = Cast <to = 1> (r) },
        else_branch = e () => (float[4] b) { b = Neg(r) }
    >
}
"""


def test_a_branch_output_is_not_replaced_by_an_outer_scope_value(rng):
    model = model_from_text(CAST_OF_AN_OUTER_VALUE)
    feeds = {"x": floats(rng, 4), "c": np.array(True)}
    before = run_ort(model, feeds)
    RemoveRedundantCasts().run(model, PassContext())
    assert_same_outputs(before, run_ort(model, feeds))
