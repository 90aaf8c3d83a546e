import numpy as np
import pytest
from conftest import model_from_text, ops, run_ort

from graphkit.errors import InputError
from graphkit.passes.convert_opset import ConvertOpset
from graphkit.passmanager import PassContext

# onnx's converter has no step down for Split-18, Pad-18 or ReduceMean-13 (graphkit adapters),
# and no LayerNormalization below 17 (decomposed first).
DOWN = """
<ir_version: 8, opset_import: ["" : 18]>
g (float[4, 6] x) => (float[2, 8] y, float[2, 1] z, float[4, 6] n) {
    a, b = Split <axis = 0, num_outputs = 2> (x)
    p = Constant <value = int64[4] {0, 1, 0, 1}> ()
    y = Pad(a, p)
    z = ReduceMean <keepdims = 1> (b, p_axes)
    p_axes = Constant <value = int64[1] {1}> ()
    s = Constant <value = float[6] {1, 2, 3, 4, 5, 6}> ()
    n = LayerNormalization <axis = -1> (x, s)
}
"""


def _sorted(text):  # the parser wants producers before uses
    return text.replace("""    z = ReduceMean <keepdims = 1> (b, p_axes)
    p_axes = Constant <value = int64[1] {1}> ()""",
                        """    p_axes = Constant <value = int64[1] {1}> ()
    z = ReduceMean <keepdims = 1> (b, p_axes)""")


@pytest.mark.parametrize("to", [17, 13, 11])
def test_down_conversion_with_graphkit_adapters(rng, to):
    model = model_from_text(_sorted(DOWN))
    x = rng.standard_normal((4, 6)).astype(np.float32)
    before = run_ort(model, {"x": x})
    result = ConvertOpset(to=to).run(model, PassContext())
    assert model.opset_imports[""] == to
    assert ("LayerNormalization" in ops(model)) == (to >= 17)
    assert any("graphkit adapter" in change for change in result.changes)
    after = run_ort(model, {"x": x})
    for b, a in zip(before, after):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_up_conversion(rng):
    model = model_from_text("""
    <ir_version: 7, opset_import: ["" : 11]>
    g (float[2, 3] x) => (float[2, 3] y) { y = Softmax <axis = 1> (x) }
    """)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    ConvertOpset(to=21).run(model, PassContext())
    assert model.opset_imports[""] == 21
    [after] = run_ort(model, {"x": x})
    np.testing.assert_allclose(before, after, rtol=1e-6)


def test_a_form_with_no_older_equivalent_is_refused_by_name():
    model = model_from_text("""
    <ir_version: 8, opset_import: ["" : 18]>
    g (float[2, 3] x) => (float[2, 5] y) {
        p = Constant <value = int64[2] {1, 1}> ()
        axes = Constant <value = int64[1] {1}> ()
        c = Constant <value = float {0.0}> ()
        y = Pad(x, p, c, axes)
    }
    """)
    with pytest.raises(InputError, match="Pad .* no equivalent at opset 13"):
        ConvertOpset(to=13).run(model, PassContext())
