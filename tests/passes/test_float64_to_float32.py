import numpy as np
from conftest import model_from_text, ops, run_ort

from graphkit.passes.float64_to_float32 import Float64ToFloat32
from graphkit.passmanager import PassContext

DOUBLE = """
<ir_version: 10, opset_import: ["" : 17]>
g (double[3] x, float[3] f) => (double[3] y, float[3] g) {
    w = Constant <value = double[3] {0.5, -1.25, 3.0}> ()
    a = Mul(x, w)
    fd = Cast <to = 11> (f)
    b = Add(a, fd)
    y = Tanh(b)
    g = Cast <to = 1> (b)
}
"""


def _no_double_inside(model):
    inner = [v for n in model.graph for v in n.outputs if not v.is_graph_output()]
    return all(v.dtype != 11 for v in inner)


def test_interface_kept_and_no_float64_inside(rng):
    model = model_from_text(DOUBLE)
    feeds = {"x": rng.standard_normal(3), "f": rng.standard_normal(3).astype(np.float32)}
    before = run_ort(model, feeds)
    result = Float64ToFloat32().run(model, PassContext())
    assert result.modified
    assert _no_double_inside(model)
    assert [v.dtype.name for v in model.graph.inputs] == ["DOUBLE", "FLOAT"]
    assert [v.dtype.name for v in model.graph.outputs] == ["DOUBLE", "FLOAT"]
    after = run_ort(model, feeds)
    assert after[0].dtype == np.float64
    for b, a in zip(before, after):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


def test_without_boundary_the_interface_turns_float32(rng):
    model = model_from_text(DOUBLE)
    x = rng.standard_normal(3)
    f = rng.standard_normal(3).astype(np.float32)
    [y_before, _] = run_ort(model, {"x": x, "f": f})
    Float64ToFloat32(keep_boundary=False).run(model, PassContext())
    assert [v.dtype.name for v in model.graph.inputs] == ["FLOAT", "FLOAT"]
    assert "Cast" not in ops(model)[:1]
    [y_after, _] = run_ort(model, {"x": x.astype(np.float32), "f": f})
    assert y_after.dtype == np.float32
    np.testing.assert_allclose(y_before, y_after, rtol=1e-6, atol=1e-6)
