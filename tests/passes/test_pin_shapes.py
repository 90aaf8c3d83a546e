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


def _input_dims(model) -> dict[str, list]:
    return {v.name: [d if isinstance(d, int) else d.value for d in v.shape]
            for v in model.graph.inputs}


def test_a_dim_pin_fixes_that_dim_and_leaves_the_others_dynamic(rng):
    model = model_from_text(DYNAMIC)
    original = model_from_text(DYNAMIC)
    result = PinShapes(pin=("batch=2",)).run(model, PassContext())
    assert result.modified
    assert _input_dims(model) == {"x": [2, "seq", 8]}
    for seq in (3, 5):  # seq still varies, and every length gives the original's outputs
        x = rng.standard_normal((2, seq, 8)).astype(np.float32)
        np.testing.assert_array_equal(run_ort(original, {"x": x})[0], run_ort(model, {"x": x})[0])


TWO_INPUTS = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[batch, seq] x, float[batch, seq] m) => (float[batch, seq] y) {
    y = Mul(x, m)
}
"""


def test_an_input_pin_fixes_its_named_dims_in_every_input(rng):
    model = model_from_text(TWO_INPUTS)
    PinShapes(pin=("x=1x4",)).run(model, PassContext())
    assert _input_dims(model) == {"x": [1, 4], "m": [1, 4]}  # batch and seq are one dim each
    x, m = (rng.standard_normal((1, 4)).astype(np.float32) for _ in range(2))
    [after] = run_ort(model, {"x": x, "m": m})
    np.testing.assert_array_equal(after, x * m)


@pytest.mark.parametrize("pins, words", [
    (("batch=0",), "at least 1"),
    (("x=0x4",), "at least 1"),
    (("x=1x4", "batch=2"), "dim 'batch', pinned to 2"),
])
def test_pins_that_give_no_size_or_disagree_are_refused(pins, words):
    model = model_from_text(TWO_INPUTS)
    with pytest.raises(InputError, match=words):
        PinShapes(pin=pins).run(model, PassContext())


def test_static_fills_the_dims_the_pins_leave_with_the_recorded_sizes(rng):
    from graphkit.validation import record_example_shapes, recorded_example_shapes

    model = model_from_text(TWO_INPUTS)
    record_example_shapes(model, {"x": (2, 6), "m": (2, 6)})
    result = PinShapes(pin=("batch=1",), static=True).run(model, PassContext())
    assert _input_dims(model) == {"x": [1, 6], "m": [1, 6]}
    assert "seq=6: the recorded export size" in result.changes[0]
    assert recorded_example_shapes(model) == {"x": (1, 6), "m": (1, 6)}
    x, m = (rng.standard_normal((1, 6)).astype(np.float32) for _ in range(2))
    np.testing.assert_array_equal(run_ort(model, {"x": x, "m": m})[0], x * m)


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
