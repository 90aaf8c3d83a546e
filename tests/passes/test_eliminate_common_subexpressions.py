import numpy as np
from conftest import model_from_text, ops, run_ort

from graphkit.passes.eliminate_common_subexpressions import EliminateCommonSubexpressions
from graphkit.passes.lift_constants import LiftConstants
from graphkit.passmanager import PassContext

TWICE = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x) => (float[2, 3] y, float[2, 3] z) {
    a = Relu(x)
    b = Relu(x)
    c1 = Constant <value = float[1] {2.0}> ()
    c2 = Constant <value = float[1] {2.0}> ()
    m1 = Mul(a, c1)
    m2 = Mul(b, c2)
    y = Add(m1, m2)
    z = Sigmoid(m2)
}
"""


def test_duplicate_nodes_and_constants_merge(rng):
    model = model_from_text(TWICE)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    before = run_ort(model, {"x": x})
    LiftConstants().run(model, PassContext())
    assert "Constant" not in ops(model)
    result = EliminateCommonSubexpressions().run(model, PassContext())
    assert result.modified
    assert sorted(ops(model)) == ["Add", "Mul", "Relu", "Sigmoid"]
    after = run_ort(model, {"x": x})
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def test_random_ops_are_not_merged():
    text = """
    <ir_version: 10, opset_import: ["" : 17]>
    g (float[2] x) => (float[2] y) {
        r1 = RandomUniform <shape = [2]> ()
        r2 = RandomUniform <shape = [2]> ()
        s = Add(r1, r2)
        y = Add(x, s)
    }
    """
    model = model_from_text(text)
    EliminateCommonSubexpressions().run(model, PassContext())
    assert ops(model).count("RandomUniform") == 2
