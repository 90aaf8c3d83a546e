import numpy as np
from conftest import model_from_text, ops, run_ort

from graphkit.passes.fold_constants import FoldConstants
from graphkit.passmanager import PassContext

SHAPE_MATH = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 6] x) => (float[3, 4] y) {
    a = Constant <value = int64[2] {3, 2}> ()
    b = Constant <value = int64[2] {1, 2}> ()
    shape = Mul(a, b)
    y = Reshape(x, shape)
}
"""

RANDOM = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) {
    r = RandomNormal <shape = [2], seed = 1.0> ()
    y = Add(x, r)
}
"""


def test_folds_shape_arithmetic_and_keeps_outputs(rng):
    model = model_from_text(SHAPE_MATH)
    x = rng.standard_normal((2, 6)).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    result = FoldConstants().run(model, PassContext())
    assert result.modified
    assert "Mul" not in ops(model)
    [after] = run_ort(model, {"x": x})
    np.testing.assert_array_equal(before, after)


def test_size_cap_declines_large_results():
    model = model_from_text(SHAPE_MATH)
    result = FoldConstants(max_bytes=8).run(model, PassContext())
    assert "Mul" in ops(model)
    assert not [c for c in result.changes if "Mul" in c]


def test_never_folds_random_ops():
    model = model_from_text(RANDOM)
    FoldConstants().run(model, PassContext())
    assert "RandomNormal" in ops(model)
