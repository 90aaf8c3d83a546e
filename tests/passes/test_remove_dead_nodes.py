import numpy as np
import onnx_ir as ir
from conftest import model_from_text, ops, run_ort

from graphkit.passes.remove_dead_nodes import RemoveDeadNodes
from graphkit.passmanager import PassContext


def _same_outputs(model_text: str, feeds: dict[str, np.ndarray]) -> ir.Model:
    """Run the pass; assert it changed something and the outputs did not change."""
    model = model_from_text(model_text)
    before = run_ort(model, feeds)
    assert RemoveDeadNodes().run(model, PassContext()).modified
    for b, a in zip(before, run_ort(model, feeds), strict=True):
        np.testing.assert_array_equal(b, a)
    return model


def test_a_dead_chain_goes_in_one_sweep_with_its_initializer(rng):
    model = _same_outputs("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[2, 3] y) <float[1] unused_scale = {3.0}> {
            y = Relu(x)
            a = Mul(x, unused_scale)
            b = Sigmoid(a)
            c = Neg(b)
        }
    """, {"x": rng.standard_normal((2, 3)).astype(np.float32)})
    assert ops(model) == ["Relu"]
    assert not model.graph.initializers


def test_an_initializer_that_is_also_an_input_stays(rng):
    model = _same_outputs("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[2] x, float[1] w) => (float[2] y) <float[1] w = {1.0}> {
            y = Relu(x)
            dead = Mul(x, w)
        }
    """, {"x": rng.standard_normal(2).astype(np.float32)})
    assert list(model.graph.initializers) == ["w"]


def test_an_unread_optional_output_is_dropped_and_its_node_kept(rng):
    model = _same_outputs("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[2, 3] y) {
            d, mask = Dropout(x)
            y = Relu(d)
        }
    """, {"x": rng.standard_normal((2, 3)).astype(np.float32)})
    [dropout, _] = list(model.graph)
    assert dropout.op_type == "Dropout" and len(dropout.outputs) == 1


BATCH_NORM = """
    <ir_version: 10, opset_import: ["" : 15]>
    g (float[2, 3, 4] x) => (float[2, 3, 4] y)
      <float[3] s = {1.0, 2.0, 0.5}, float[3] b = {0.1, 0.2, 0.3},
       float[3] m = {0.0, 1.0, -1.0}, float[3] v = {1.0, 4.0, 0.25}> {
        y, rm, rv = BatchNormalization <training_mode = MODE> (x, s, b, m, v)
        dead = Relu(x)
    }
"""


def test_batch_norm_in_training_mode_keeps_its_running_statistics(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    model = _same_outputs(BATCH_NORM.replace("MODE", "1"), {"x": x})  # only `dead` goes
    assert [len(n.outputs) for n in model.graph] == [3]


def test_batch_norm_in_inference_mode_loses_the_unread_statistics(rng):
    # ORT refuses this node as written (inference mode computes one output), so the check is
    # against the formula: y = s * (x - m) / sqrt(v + eps) + b, per channel.
    model = model_from_text(BATCH_NORM.replace("MODE", "0"))
    assert RemoveDeadNodes().run(model, PassContext()).modified
    [batch_norm] = list(model.graph)
    assert len(batch_norm.outputs) == 1 and "training_mode" not in batch_norm.attributes
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    s, b = np.array([1.0, 2.0, 0.5]), np.array([0.1, 0.2, 0.3])
    m, v = np.array([0.0, 1.0, -1.0]), np.array([1.0, 4.0, 0.25])
    expected = (s[:, None] * (x - m[:, None]) / np.sqrt(v[:, None] + 1e-5) + b[:, None])
    np.testing.assert_allclose(run_ort(model, {"x": x})[0], expected, rtol=1e-5, atol=1e-6)


def test_dead_nodes_inside_a_branch_go_too(rng):
    model = _same_outputs("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (bool c, float[2] x) => (float[2] y) {
            y = If (c) <
                then_branch = t () => (float[2] ty) { ty = Relu(x)  unused = Neg(x) },
                else_branch = e () => (float[2] ey) { ey = Sigmoid(x) }
            >
        }
    """, {"c": np.array(True), "x": rng.standard_normal(2).astype(np.float32)})
    then_branch = next(iter(model.graph)).attributes["then_branch"].as_graph()
    assert [n.op_type for n in then_branch] == ["Relu"]
