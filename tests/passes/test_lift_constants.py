"""lift-constants: Constant nodes become initializers; the outputs do not move."""

import numpy as np
import onnx_ir as ir
from conftest import model_from_text, ops, run_ort

from graphkit.passes.lift_constants import LiftConstants
from graphkit.passmanager import PassContext, PassManager

BEFORE = """<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x, bool c) => (float[2, 3] y, float[3] bias_out, float[2, 3] z) {
    w = Constant <value = float[2, 3] {1, 2, 3, 4, 5, 6}> ()
    k = Constant <value_float = 0.5> ()
    shape = Constant <value_ints = [3, 2]> ()
    bias_out = Constant <value_floats = [0.1, 0.2, 0.3]> ()
    a = Mul(x, w)
    b = Mul(a, k)
    r = Reshape(b, shape)
    t = Transpose(r)
    y = Add(t, bias_out)
    z = If(c) <then_branch = then_g () => (float[2, 3] out) {
                  two = Constant <value_float = 2.0> ()
                  out = Mul(x, two)
              },
              else_branch = else_g () => (float[2, 3] out) {
                  out = Identity(x)
              }>
}"""


def test_constants_become_initializers_and_outputs_stay(rng):
    model = model_from_text(BEFORE)
    feeds = {"x": rng.standard_normal((2, 3)).astype(np.float32), "c": np.array(True)}
    before = run_ort(model, feeds)
    result = LiftConstants().run(model, PassContext())
    assert result.changes == ["turned 4 Constant node(s) into initializers"]
    # bias_out is a graph output: an initializer cannot stand in for it in every IR version.
    assert ops(model) == ["Constant", "Mul", "Mul", "Reshape", "Transpose", "Add", "If"]
    init = model.graph.initializers
    assert set(init) == {"w", "k", "shape"}
    assert init["k"].dtype == ir.DataType.FLOAT and init["k"].shape == ir.Shape([])
    assert init["shape"].dtype == ir.DataType.INT64
    np.testing.assert_array_equal(init["shape"].const_value.numpy(), [3, 2])
    then_graph = model.graph.node(6).attributes["then_branch"].value
    assert [n.op_type for n in then_graph] == ["Mul"] and "two" in then_graph.initializers
    for got, want in zip(run_ort(model, feeds), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_pass_manager_proves_it(rng):
    model, report = PassManager([LiftConstants()]).run(model_from_text(BEFORE))
    assert report.validated and not report.passes[0].rolled_back
    assert all(diff.max_abs == 0.0 for diff in report.validation)


def test_nothing_to_lift_changes_nothing():
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
        g (float[2] x) => (float[2] y) { y = Relu(x) }""")
    assert not LiftConstants().run(model, PassContext()).modified
