import numpy as np
from conftest import model_from_text, run_ort

from graphkit.passes.int64_to_int32 import Int64ToInt32
from graphkit.passmanager import PassContext

# Token ids index a 10-row table; ArgMax indices are < 8; Shape feeds a Reshape (int64 only).
INDICES = """
<ir_version: 10, opset_import: ["" : 17]>
g (int64[2, 5] ids, float[2, 8] scores) => (float[2, 5, 4] emb, int64[2] best, float[2, 20] flat) {
    table = Constant <value = float[10, 4] {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,
                                             20,21,22,23,24,25,26,27,28,29,
                                             30,31,32,33,34,35,36,37,38,39}> ()
    emb = Gather <axis = 0> (table, ids)
    top = ArgMax <axis = 1, keepdims = 0> (scores)
    one = Constant <value = int64 {1}> ()
    best = Add(top, one)
    s = Shape(emb)
    n = Constant <value = int64[1] {2}> ()
    k = Constant <value = int64[1] {20}> ()
    target = Concat <axis = 0> (n, k)
    flat = Reshape(emb, target)
}
"""

# A Mul whose result may pass int32: the product of two unbounded int64 inputs.
OVERFLOW = """
<ir_version: 10, opset_import: ["" : 17]>
g (int64[2] a) => (int64[2] y) {
    big = Constant <value = int64[2] {3000000000, 1}> ()
    y = Mul(a, big)
}
"""


def _int64_inside(model):
    return [v.name for n in model.graph for v in n.outputs
            if v.dtype is not None and v.dtype.name == "INT64" and not v.is_graph_output()]


def test_bounded_indices_become_int32_and_outputs_match(rng):
    model = model_from_text(INDICES)
    feeds = {"ids": rng.integers(0, 10, size=(2, 5)).astype(np.int64),
             "scores": rng.standard_normal((2, 8)).astype(np.float32)}
    before = run_ort(model, feeds)
    result = Int64ToInt32().run(model, PassContext())
    assert result.modified
    # Interface kept; ids are cast on entry; ArgMax gets a Cast behind it.
    assert [v.dtype.name for v in model.graph.inputs] == ["INT64", "FLOAT"]
    assert [v.dtype.name for v in model.graph.outputs] == ["FLOAT", "INT64", "FLOAT"]
    gather = [n for n in model.graph if n.op_type == "Gather"][0]
    assert gather.inputs[1].dtype.name == "INT32"
    add = [n for n in model.graph if n.op_type == "Add"][0]
    assert add.outputs[0].dtype.name == "INT32"
    reshape = [n for n in model.graph if n.op_type == "Reshape"][0]
    assert reshape.inputs[1].dtype.name == "INT64"  # the spec demands int64 there
    after = run_ort(model, feeds)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def test_unprovable_values_stay_int64(rng):
    model = model_from_text(OVERFLOW)
    result = Int64ToInt32().run(model, PassContext())
    assert not result.modified
    assert [n.outputs[0].dtype.name for n in model.graph if n.op_type == "Mul"] == ["INT64"]
    a = np.array([2, -3], dtype=np.int64)
    [y] = run_ort(model, {"a": a})
    assert y.tolist() == [6000000000, -3]


def test_without_boundary_inputs_turn_int32(rng):
    model = model_from_text(INDICES)
    ids = rng.integers(0, 10, size=(2, 5)).astype(np.int64)
    scores = rng.standard_normal((2, 8)).astype(np.float32)
    before = run_ort(model, {"ids": ids, "scores": scores})
    Int64ToInt32(keep_boundary=False).run(model, PassContext())
    assert model.graph.inputs[0].dtype.name == "INT32"
    assert model.graph.outputs[1].dtype.name == "INT32"
    after = run_ort(model, {"ids": ids.astype(np.int32), "scores": scores})
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def _unread(model):
    """Initializers and nodes whose results nothing reads (graph outputs count as read)."""
    read = {v for n in model.graph for v in n.inputs if v is not None} | set(model.graph.outputs)
    return ([name for name, v in model.graph.initializers.items() if v not in read],
            [n.name or n.outputs[0].name for n in model.graph
             if not any(out in read for out in n.outputs)])


def test_a_second_run_reports_nothing_and_leaves_nothing_dead(rng):
    # It used to report "2 int64 value(s) proven to fit int32" on every run, each time
    # adding int32 copies nothing read.
    model = model_from_text(INDICES)
    feeds = {"ids": rng.integers(0, 10, size=(2, 5)).astype(np.int64),
             "scores": rng.standard_normal((2, 8)).astype(np.float32)}
    before = run_ort(model, feeds)
    assert Int64ToInt32().run(model, PassContext()).modified
    assert _unread(model) == ([], ["s"])  # the Shape nobody read before the pass either
    nodes, initializers = len(model.graph), set(model.graph.initializers)
    for _ in range(2):
        again = Int64ToInt32().run(model, PassContext())
        assert not again.modified and not again.changes
        assert len(model.graph) == nodes and set(model.graph.initializers) == initializers
    assert _unread(model) == ([], ["s"])
    for b, a in zip(before, run_ort(model, feeds), strict=True):
        np.testing.assert_array_equal(b, a)


def test_a_result_that_fits_from_an_input_that_does_not_is_cast_not_retyped():
    # Mod(3000000001, 7) fits int32 and 3000000001 does not: retyping the Mod's result
    # left it int32 with int64 inputs, which ORT refuses.
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[2, 8] x) => (float[2, 2] y) <int64[2] big = {3000000001, 7}> {
        seven = Constant <value = int64 {7}> ()
        r = Mod(big, seven)
        y = Gather <axis = 1> (x, r)
    }""")
    x = np.arange(16, dtype=np.float32).reshape(2, 8)
    [before] = run_ort(model, {"x": x})
    assert Int64ToInt32().run(model, PassContext()).modified
    mod = next(n for n in model.graph if n.op_type == "Mod")
    assert mod.outputs[0].dtype.name == "INT64"
    [after] = run_ort(model, {"x": x})
    np.testing.assert_array_equal(before, after)
    assert not Int64ToInt32().run(model, PassContext()).modified
