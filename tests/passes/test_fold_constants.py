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


def test_an_op_the_evaluator_lacks_does_not_stop_the_others_folding(rng):
    # The reference evaluator has no MaxRoiPool: evaluating every foldable node in one run
    # fails, and the pass goes node by node instead.
    model = model_from_text("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[1, 1, 4, 4] x) => (float[1, 1, 2, 2] y, float[1, 1, 2, 2] z)
          <float[1, 1, 4, 4] img = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0,
                                    9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0},
           float[1, 5] rois = {0.0, 0.0, 0.0, 3.0, 3.0}, float[1] two = {2.0}> {
            pooled = MaxRoiPool <pooled_shape = [2, 2]> (img, rois)
            scaled = Mul(img, two)
            small = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (scaled)
            x_pool = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
            y = Add(pooled, x_pool)
            z = Add(small, x_pool)
        }
    """)
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    before = run_ort(model, {"x": x})
    result = FoldConstants().run(model, PassContext())
    assert len(result.changes) == 2  # Mul, then the MaxPool of its result
    assert ops(model) == ["MaxRoiPool", "MaxPool", "Add", "Add"]
    for b, a in zip(before, run_ort(model, {"x": x}), strict=True):
        np.testing.assert_array_equal(b, a)


def test_a_result_over_the_cap_stays_and_so_do_the_nodes_that_read_it(rng):
    model = model_from_text("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[1] x) => (float[1] y) <int64[1] n = {300000}, int64[1] axes = {0}> {
            big = ConstantOfShape <value = float[1] {0.5}> (n)
            total = ReduceSum <keepdims = 1> (big, axes)
            y = Add(x, total)
        }
    """)
    x = rng.standard_normal(1).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    assert not FoldConstants(max_bytes=1 << 20).run(model, PassContext()).modified
    assert ops(model) == ["ConstantOfShape", "ReduceSum", "Add"]  # 1.2 MB: over the cap
    assert FoldConstants(max_bytes=2 << 20).run(model, PassContext()).modified
    assert ops(model) == ["Add"]
    np.testing.assert_allclose(run_ort(model, {"x": x})[0], before, rtol=1e-6)
