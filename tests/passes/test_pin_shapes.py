import numpy as np
import pytest
from conftest import model_from_text, ops, run_ort

from graphkit.errors import InputError
from graphkit.passes.pin_shapes import PinShapes
from graphkit.passmanager import PassContext

DYNAMIC = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[batch, seq, 8] x) => (float[batch, K] y) {
    s = Shape(x)
    i0 = Constant <value = int64[1] {0}> ()
    b = Gather <axis = 0> (s, i0)
    i1 = Constant <value = int64[1] {1}> ()
    t = Gather <axis = 0> (s, i1)
    eight = Constant <value = int64[1] {8}> ()
    flat = Mul(t, eight)
    target = Concat <axis = 0> (b, flat)
    y = Reshape(x, target)
}
"""


def _every_value_static(model):
    values = [v for n in model.graph for v in n.outputs] + list(model.graph.outputs)
    return all(v.shape is not None and all(isinstance(d, int) for d in v.shape) for v in values)


@pytest.mark.parametrize("pins", [("x=2x5x8",), ("batch=2", "seq=5")])
def test_pins_make_every_shape_static(rng, pins):
    model = model_from_text(DYNAMIC)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    result = PinShapes(pin=pins).run(model, PassContext())
    assert result.modified
    assert list(model.graph.inputs[0].shape) == [2, 5, 8]
    assert ops(model) == ["Reshape"] and _every_value_static(model)
    assert list(model.graph.outputs[0].shape) == [2, 40]
    [after] = run_ort(model, {"x": x})
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("pin, words", [
    ("y=1x2", "no input named 'y'"),
    ("x=1x2", "rank 3"),
    ("x=1x2x9", "axis 2 is fixed at 8"),
    ("heads=4", "no input or dynamic dim"),
    ("x=1xbx8", "whole numbers"),
])
def test_bad_pins_say_what_is_wrong(pin, words):
    model = model_from_text(DYNAMIC)
    with pytest.raises(InputError, match=words):
        PinShapes(pin=(pin,)).run(model, PassContext())


def test_pinning_a_pinned_dim_again_is_done_and_another_size_is_refused():
    # Once pinned, 'batch' names no dim of any input; a second run with the same pin was
    # refused as naming no dim at all.
    model = model_from_text(DYNAMIC)
    assert PinShapes(pin=("batch=2", "seq=5")).run(model, PassContext()).modified
    again = PinShapes(pin=("batch=2", "seq=5")).run(model, PassContext())
    assert not again.modified and not again.changes
    assert list(model.graph.inputs[0].shape) == [2, 5, 8]
    with pytest.raises(InputError, match="'batch' is pinned to 2 already"):
        PinShapes(pin=("batch=1",)).run(model, PassContext())
