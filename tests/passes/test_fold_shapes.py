import numpy as np
from conftest import model_from_text, ops, run_ort

from graphkit.passes.fold_shapes import FoldShapes
from graphkit.passmanager import PassContext

# Reshape whose target is computed from Shape(x) at run time; x's last dims are static.
SHAPE_SUBGRAPH = """
<ir_version: 10, opset_import: ["" : 18]>
g (float[N, 4, 6] x) => (float[N, 24] y, int64[2] tail) {
    s = Shape(x)
    i0 = Constant <value = int64[1] {0}> ()
    n = Gather <axis = 0> (s, i0)
    i1 = Constant <value = int64[2] {1, 2}> ()
    rest = Gather <axis = 0> (s, i1)
    tail = Identity(rest)
    axes = Constant <value = int64[1] {0}> ()
    prod = ReduceProd <keepdims = 1> (rest, axes)
    target = Concat <axis = 0> (n, prod)
    y = Reshape(x, target)
}
"""

STATIC_SHAPE = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x) => (float[3, 2] y) {
    s = Shape(x)
    starts = Constant <value = int64[1] {1}> ()
    ends = Constant <value = int64[1] {2}> ()
    last = Slice(s, starts, ends)
    first = Shape <end = 1> (x)
    target = Concat <axis = 0> (last, first)
    y = Reshape(x, target)
}
"""


def test_dynamic_batch_becomes_copy_dim_and_shape_ops_go(rng):
    model = model_from_text(SHAPE_SUBGRAPH)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    before = run_ort(model, {"x": x})
    result = FoldShapes().run(model, PassContext())
    assert result.modified
    # Reshape's shape is now the constant [0, 24]: the Shape chain is gone.
    assert ops(model) == ["Reshape"]  # `tail` is the constant [4, 6] now
    reshape = [n for n in model.graph if n.op_type == "Reshape"][0]
    assert reshape.inputs[1].const_value.numpy().tolist() == [0, 24]
    after = run_ort(model, {"x": x})
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)
    # Still dynamic: another batch size runs too.
    x5 = rng.standard_normal((5, 4, 6)).astype(np.float32)
    [y5, _] = run_ort(model, {"x": x5})
    np.testing.assert_array_equal(y5, x5.reshape(5, 24))


def test_static_input_folds_everything(rng):
    model = model_from_text(STATIC_SHAPE)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    FoldShapes().run(model, PassContext())
    assert ops(model) == ["Reshape"]
    [after] = run_ort(model, {"x": x})
    np.testing.assert_array_equal(before, after)


def test_two_unknown_dims_give_copy_and_infer(rng):
    text = SHAPE_SUBGRAPH.replace("float[N, 4, 6] x", "float[N, M, 6] x").replace(
        "float[N, 24] y", "float[N, K] y")
    model = model_from_text(text)
    FoldShapes().run(model, PassContext())
    reshape = [n for n in model.graph if n.op_type == "Reshape"][0]
    assert reshape.inputs[1].const_value.numpy().tolist() == [0, -1]
    assert "Shape" in ops(model)  # `tail` still reads the dynamic M at run time
    for m in (2, 5):
        x = rng.standard_normal((3, m, 6)).astype(np.float32)
        y, tail = run_ort(model, {"x": x})
        np.testing.assert_array_equal(y, x.reshape(3, m * 6))
        assert tail.tolist() == [m, 6]


def test_reshape_with_allowzero_never_gets_a_copy_dim():
    text = SHAPE_SUBGRAPH.replace("y = Reshape(x, target)",
                                  "y = Reshape <allowzero = 1> (x, target)")
    model = model_from_text(text)
    FoldShapes().run(model, PassContext())
    reshape = [n for n in model.graph if n.op_type == "Reshape"][0]
    spec = reshape.inputs[1].const_value
    assert spec is None or 0 not in spec.numpy().tolist()


def test_folding_an_ir3_model_is_kept_not_rolled_back(rng):
    """IR < 4 lists every initializer as a graph input: the constant fold-shapes adds needs
    IR 4, which the manager gives the model (the checker rejected it before)."""
    from ir3_models import small_ir3_model, small_ir3_proto

    from graphkit.passmanager import PassManager

    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    [before] = run_ort(small_ir3_proto(), {"x": x})
    model, report = PassManager([FoldShapes()]).run(small_ir3_model())
    assert not report.passes[0].rolled_back
    assert not [f for f in report.findings if f.code.startswith("GK5")]
    assert "Shape" not in ops(model) and model.ir_version == 4
    [after] = run_ort(model, {"x": x})
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)  # ORT packs constant weights


def test_an_overridable_initializer_is_not_folded_into_a_shape(rng):
    """`s` is a graph input with a default: a caller may feed another shape, so fold-shapes
    must not bake the default into the Reshape."""
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x, int64[2] s) => (float[a, b] y) <int64[2] s = {3, 2}> {
            y = Reshape(x, s)
        }
    """)
    FoldShapes().run(model, PassContext())
    x = rng.standard_normal((2, 3)).astype(np.float32)
    [y] = run_ort(model, {"x": x, "s": np.array([6, 1], dtype=np.int64)})
    np.testing.assert_array_equal(y, x.reshape(6, 1))
    [y] = run_ort(model, {"x": x})  # the default still applies when it is not fed
    np.testing.assert_array_equal(y, x.reshape(3, 2))
