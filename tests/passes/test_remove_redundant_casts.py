import numpy as np
from conftest import model_from_text, ops, run_ort

from graphkit.passes.remove_redundant_casts import RemoveRedundantCasts
from graphkit.passmanager import PassContext

ROUND_TRIP = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[4] x, int32[4] i) => (float[4] y, int64[4] j, float[4] z) {
    d = Cast <to = 11> (x)
    f = Cast <to = 1> (d)
    same = Cast <to = 1> (f)
    y = Relu(same)
    wide = Cast <to = 7> (i)
    back = Cast <to = 6> (wide)
    j = Cast <to = 7> (back)
    h = Cast <to = 10> (x)
    z = Cast <to = 1> (h)
}
"""


def test_exact_round_trips_vanish_lossy_ones_stay(rng):
    model = model_from_text(ROUND_TRIP)
    feeds = {"x": (rng.standard_normal(4) * 1000).astype(np.float32),
             "i": rng.integers(-(2**31), 2**31 - 1, size=4).astype(np.int32)}
    before = run_ort(model, feeds)
    result = RemoveRedundantCasts().run(model, PassContext())
    assert result.modified
    # f32 -> f64 -> f32 -> f32 is x; i32 -> i64 -> i32 -> i64 is one Cast; f32 -> f16 -> f32 rounds.
    assert ops(model).count("Cast") == 3
    assert ops(model).count("Relu") == 1
    relu = [n for n in model.graph if n.op_type == "Relu"][0]
    assert relu.inputs[0].name == "x"
    after = run_ort(model, feeds)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)
    assert not np.array_equal(after[2], feeds["x"])  # the f16 round trip really rounds


def test_cast_between_graph_input_and_output_stays():
    text = """
    <ir_version: 10, opset_import: ["" : 17]>
    g (float[2] x) => (float[2] y) {
        y = Cast <to = 1> (x)
    }
    """
    model = model_from_text(text)
    assert not RemoveRedundantCasts().run(model, PassContext()).modified
    assert ops(model) == ["Cast"]
