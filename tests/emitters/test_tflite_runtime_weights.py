"""TFLite lowerings of operands given at run time (Conv and ConvTranspose weights and bias,
Pad's pads, Tile's repeats, CumSum's axis), ConvTranspose's output windows and groups, and
the 1-D and 3-D pools: each .tflite runs in LiteRT on random inputs and is compared with
ONNX Runtime, and diagnose --target tflite says what the emitter does."""

from __future__ import annotations

import numpy as np
import pytest
from _tflite_checks import emitted_matches, normal, refused
from conftest import model_from_text

import graphkit

# Conv with weights and bias given at run time --------------------------------------------

CONV = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,{c},{x}] x, float[{o},{i},{k}] w, float[{o}] b) => (float[2,{o},{y}] y) {{
    y = Conv<{attrs}>(x, w, b)
}}"""


@pytest.mark.parametrize(("c", "o", "i", "attrs", "builtin"), [
    (4, 6, 4, "pads=[1, 0, 2, 1], strides=[2, 1]", "CONV_2D"),
    (4, 8, 1, "group=4, dilations=[2, 1]", "DEPTHWISE_CONV_2D"),  # multiplier 2
    (4, 6, 2, "group=2, auto_pad=\"SAME_UPPER\"", "SPLIT"),
])
def test_conv2d_weights_and_bias_at_run_time(tmp_path, rng, c, o, i, attrs, builtin):
    shape = {"pads=[1, 0, 2, 1], strides=[2, 1]": "[5,6]", "group=4, dilations=[2, 1]":
             "[3,5]"}.get(attrs, "[7,7]")
    text = CONV.format(c=c, o=o, i=i, k="3,3", x="7,7", y=shape[1:-1], attrs=attrs)
    feeds = {"x": normal(rng, 2, c, 7, 7), "w": normal(rng, o, i, 3, 3), "b": normal(rng, o)}
    assert builtin in emitted_matches(tmp_path, text, feeds).metadata["builtins"]


@pytest.mark.parametrize(("o", "i", "attrs", "y"), [
    (6, 4, "pads=[1, 1]", 11), (8, 1, "group=4", 9), (6, 2, "group=2, strides=[2]", 5)])
def test_conv1d_weights_at_run_time(tmp_path, rng, o, i, attrs, y):
    text = CONV.format(c=4, o=o, i=i, k=3, x=11, y=y, attrs=attrs)
    feeds = {"x": normal(rng, 2, 4, 11), "w": normal(rng, o, i, 3), "b": normal(rng, o)}
    emitted_matches(tmp_path, text, feeds)


def test_conv_weights_computed_at_run_time(tmp_path, rng):
    """Weights from a run-time input through other ops: read as a tensor like any other."""
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,3,6,6] x, float[5,3,3,3] v) => (float[1,5,4,4] y) {
        w = Mul(v, v)
        y = Conv(x, w)
    }"""
    emitted_matches(tmp_path, text, {"x": normal(rng, 1, 3, 6, 6), "v": normal(rng, 5, 3, 3, 3)})


def test_conv_weight_that_is_an_initializer_input_is_still_refused():
    """An IR-3 initializer that is also a graph input: a caller could override it, but a
    deployed model wants it constant, and fix folds it (tests/test_ir3_models.py)."""
    text = """<ir_version: 3, opset_import: ["" : 9]>
    g (float[1,3,6,6] x, float[5,3,3,3] w) => (float[1,5,4,4] y)
    <float[5,3,3,3] w = {...}> { y = Conv(x, w) }"""
    model = model_from_text(text.replace("{...}", "{" + ", ".join(["0.5"] * 135) + "}"))
    [blocker] = graphkit.diagnose(model, "tflite").blockers
    assert blocker.code == "GK105" and "it is a graph input" in blocker.message


# ConvTranspose ---------------------------------------------------------------------------

DECONV = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,{c},{x}] x, float[{c},{o},{k}] w, float[{units}] b) => (float[2,{units},{y}] y) {{
    y = ConvTranspose<{attrs}>(x, w, b)
}}"""


@pytest.mark.parametrize(("attrs", "y"), [
    ("strides=[3, 2]", "12,11"),
    ("strides=[3, 2], output_padding=[1, 1]", "13,12"),
    ("strides=[3, 2], pads=[1, 2, 1, 0]", "10,9"),
    ("strides=[2, 2], output_shape=[10, 9]", "10,9"),  # larger than the canvas: bias only
    ("strides=[2, 2], output_shape=[8, 7]", "8,7"),
    ("strides=[2, 2], auto_pad=\"SAME_UPPER\"", "8,10"),
    ("strides=[2, 3], auto_pad=\"SAME_LOWER\"", "8,15"),
    ("strides=[1, 1], auto_pad=\"SAME_LOWER\"", "4,5"),
])
@pytest.mark.parametrize("group", [1, 2])
def test_conv_transpose_2d(tmp_path, rng, attrs, y, group):
    text = DECONV.format(c=4, o=3, k="3,3", x="4,5", y=y, units=3 * group,
                         attrs=f"{attrs}, group={group}")
    feeds = {"x": normal(rng, 2, 4, 4, 5), "w": normal(rng, 4, 3, 3, 3),
             "b": normal(rng, 3 * group)}
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize(("attrs", "y"), [
    ("strides=[2]", 13), ("strides=[3], pads=[2, 1], output_padding=[1]", 16),
    ("strides=[2], auto_pad=\"SAME_UPPER\", group=2", 12)])
def test_conv_transpose_1d(tmp_path, rng, attrs, y):
    units = 6 if "group=2" in attrs else 3
    text = DECONV.format(c=4, o=3, k=3, x=6, y=y, units=units, attrs=attrs)
    feeds = {"x": normal(rng, 2, 4, 6), "w": normal(rng, 4, 3, 3), "b": normal(rng, units)}
    emitted_matches(tmp_path, text, feeds)


def test_conv_transpose_with_constant_weights(tmp_path, rng):
    weights = normal(rng, 4, 2, 2, 2)
    values = ", ".join(f"{v:.6f}" for v in weights.reshape(-1))
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,4,3,3] x) => (float[1,4,6,6] y) {{
        w = Constant<value = float[4,2,2,2] {{{values}}}>()
        y = ConvTranspose<strides=[2, 2], group=2>(x, w)
    }}"""
    emitted_matches(tmp_path, text, {"x": normal(rng, 1, 4, 3, 3)})


def test_conv_transpose_refusals():
    dilated = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,1,3,3] x, float[1,1,2,2] w) => (float[1,1,5,5] y) {
        y = ConvTranspose<dilations=[2, 2]>(x, w) }"""
    refused(dilated, "dilations has no TFLite builtin")
    early = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,1,3,3] x, float[1,1,3,3] w) => (float[1,1,9,9] y) {
        y = ConvTranspose<strides=[2, 2], auto_pad="SAME_UPPER", output_shape=[9, 9]>(x, w) }"""
    refused(early, "starts before")


# Pad, Tile and CumSum operands given at run time ------------------------------------------

PAD = """<ir_version: 9, opset_import: ["" : 19]>
g ({dtype}[2,3,4,5] x, int64[{n}] pads{extra}) => ({dtype}[{out}] y) {{
    y = Pad<mode="{mode}">(x, pads{args})
}}"""


@pytest.mark.parametrize(("mode", "pads", "out"), [
    ("constant", [0, 1, 2, 0, 1, 0, 1, 3], "3,4,7,8"),
    ("constant", [0, -1, 2, -2, 0, 1, -1, 3], "2,3,5,6"),  # negative pads crop
    ("reflect", [0, 0, 2, 1, 0, 1, -1, 3], "2,4,5,9"),
])
def test_pad_with_pads_at_run_time(tmp_path, rng, mode, pads, out):
    text = PAD.format(dtype="float", n=8, extra=", float value", out=out, mode=mode,
                      args=", value" if mode == "constant" else "")
    feeds = {"x": normal(rng, 2, 3, 4, 5), "pads": np.asarray(pads, np.int64)}
    if mode == "constant":
        feeds["value"] = np.asarray(1.5, np.float32)
    else:
        text = text.replace(", float value", "")
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize(("axes", "pads", "out"), [
    ([-1, 1], [2, 0, 1, -1], "2,2,4,8"), ([2], [1, 3], "2,3,8,5")])
def test_pad_with_axes_at_run_time(tmp_path, rng, axes, pads, out):
    text = PAD.format(dtype="int64", n=len(pads), extra=f", int64 value, int64[{len(axes)}] axes",
                      out=out, mode="constant", args=", value, axes")
    feeds = {"x": rng.integers(-9, 9, (2, 3, 4, 5)).astype(np.int64),
             "pads": np.asarray(pads, np.int64), "value": np.asarray(7, np.int64),
             "axes": np.asarray(axes, np.int64)}
    emitted_matches(tmp_path, text, feeds)


def test_pad_with_constant_negative_pads(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 19]>
    g (float[2,3,4,5] x) => (float[2,3,3,7] y) {
        pads = Constant<value = int64[8] {0, 0, -1, 1, 0, 0, 0, 1}>()
        y = Pad(x, pads)
    }"""
    emitted_matches(tmp_path, text, {"x": normal(rng, 2, 3, 4, 5)})


def test_tile_with_repeats_at_run_time(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 13]>
    g (float[2,3,4] x, int64[3] r) => (float[4,3,12] y) { y = Tile(x, r) }"""
    emitted_matches(tmp_path, text, {"x": normal(rng, 2, 3, 4),
                                      "r": np.asarray([2, 1, 3], np.int64)})


@pytest.mark.parametrize(("dtype", "axis"), [("int32", -1), ("int64", 0), ("int32", 1)])
def test_cumsum_with_axis_at_run_time(tmp_path, rng, dtype, axis):
    text = f"""<ir_version: 9, opset_import: ["" : 14]>
    g (float[3,4] x, {dtype} axis) => (float[3,4] y) {{
        y = CumSum<exclusive=1, reverse=1>(x, axis)
    }}"""
    emitted_matches(tmp_path, text, {"x": normal(rng, 3, 4),
                                      "axis": np.asarray(axis, np.dtype(dtype))})


# CausalConvWithState, as its ONNX function body ------------------------------------------

@pytest.mark.parametrize(("attrs", "inputs", "extra"), [
    ('activation="none"', "x, w", ""),
    ('activation="silu"', "x, w, b, past", ", float[4] b, float[2,4,2] past"),
    ('activation="swish"', "x, w, b", ", float[4] b"),
])
def test_causal_conv_with_state(tmp_path, rng, attrs, inputs, extra):
    """Depthwise causal 1-D Conv over the past state and the input; the present state is
    the last k - 1 steps. Compared with onnx's reference evaluator (its function body)."""
    text = f"""<ir_version: 11, opset_import: ["" : 27]>
    g (float[2,4,6] x, float[4,1,3] w{extra}) => (float[2,4,6] y, float[2,4,2] state) {{
        y, state = CausalConvWithState<{attrs}>({inputs})
    }}"""
    feeds = {"x": normal(rng, 2, 4, 6), "w": normal(rng, 4, 1, 3), "b": normal(rng, 4),
             "past": normal(rng, 2, 4, 2)}
    feeds = {name: array for name, array in feeds.items() if name in inputs.split(", ")}
    emitted_matches(tmp_path, text, feeds, evaluator=True)
