"""convert-layout{to=NHWC}: NCHW image ops as graphkit.nhwc functions, Transposes pushed out
and cancelled; the rewritten model runs in ONNX Runtime (which inlines the functions) and
gives the original's outputs."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, require, run_ort

from graphkit.passes.convert_layout import NHWC_DOMAIN, ConvertLayout
from graphkit.passmanager import PassContext
from graphkit.rewrite import const_array


def _floats(rng, *shape) -> str:
    return ", ".join(f"{v:.4f}" for v in rng.standard_normal(shape).ravel())


def cnn_text(seed: int = 0) -> str:
    """Stem conv, a residual block (Relu, Add), a Concat of two branches, a MaxPool, a
    per-channel Mul by a constant, GlobalAveragePool and a Flatten: NCHW in, logits out."""
    rng = np.random.default_rng(seed)
    return f"""<ir_version: 10, opset_import: ["" : 17]>
    g (float[1, 3, 8, 8] x) => (float[1, 8] y)
    <float[4, 3, 3, 3] w1 = {{{_floats(rng, 4, 3, 3, 3)}}}, float[4] b1 = {{{_floats(rng, 4)}}},
     float[4, 4, 3, 3] w2 = {{{_floats(rng, 4, 4, 3, 3)}}},
     float[4, 1, 3, 3] dw = {{{_floats(rng, 4, 1, 3, 3)}}},
     float[8, 1, 1] s = {{{_floats(rng, 8, 1, 1)}}}, float lo = {{0.0}}, float hi = {{6.0}}>
    {{
        c1 = Conv <pads = [1, 1, 1, 1]> (x, w1, b1)
        r1 = Relu (c1)
        c2 = Conv <pads = [1, 1, 1, 1]> (r1, w2)
        a = Add (c2, r1)
        r2 = Clip (a, lo, hi)
        d = Conv <pads = [1, 1, 1, 1], group = 4> (r2, dw)
        cat = Concat <axis = 1> (r2, d)
        p = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (cat)
        m = Mul (p, s)
        g = GlobalAveragePool (m)
        y = Flatten (g)
    }}"""


def _run(model: ir.Model):
    return ConvertLayout().run(model, PassContext())


def test_a_cnn_becomes_nhwc_with_one_transpose_at_its_input(rng):
    before = model_from_text(cnn_text())
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = run_ort(before, {"x": x})
    after = model_from_text(cnn_text())
    result = _run(after)
    assert result.modified
    ops = collections.Counter((node.domain, node.op_type) for node in after.graph)
    assert ops[(NHWC_DOMAIN, "Conv")] == 3 and ops[(NHWC_DOMAIN, "MaxPool")] == 1
    # the input's Transpose only: Flatten reads the [N,1,1,C] mean past its Transpose
    assert ops[("", "Transpose")] == 1
    first = next(iter(after.graph))
    assert first.op_type == "Transpose" and first.inputs[0].name == "x"
    onnx.checker.check_model(ir.to_proto(after), full_check=True)
    got = run_ort(after, {"x": x})
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
    assert np.ptp(expected[0]) > 0.1


def test_the_concat_axis_follows_the_layout(rng):
    model = model_from_text(cnn_text())
    _run(model)
    [concat] = [node for node in model.graph if node.op_type == "Concat"]
    assert concat.attributes["axis"].as_int() == 3  # channels, in NHWC


def test_a_model_without_image_ops_is_left_alone():
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[2, 3] x) => (float[2, 3] y) { y = Relu (x) }""")
    result = _run(model)
    assert not result.modified
    assert NHWC_DOMAIN not in model.opset_imports


def test_only_nhwc_is_a_layout_it_converts_to():
    with pytest.raises(ValueError, match="only NHWC"):
        ConvertLayout(to="NCHW").run(model_from_text(cnn_text()), PassContext())


def test_the_tflite_emitter_writes_the_nhwc_ops_with_no_transpose_between(tmp_path, rng):
    """What convert-layout writes lowers straight to builtins: one TRANSPOSE at the NCHW
    input, none inside."""
    require("ai_edge_litert.interpreter", "tensorflow")
    from graphkit.backends.tflite.emitter import emit
    from graphkit.backends.tflite.runner import run_artifact

    model = model_from_text(cnn_text())
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = run_ort(model, {"x": x})[0]
    assert _run(model).modified
    artifact = emit(model, tmp_path / "cnn.tflite")
    np.testing.assert_allclose(run_artifact(artifact.path, {"x": x})["y"], expected,
                               rtol=1e-4, atol=1e-4)
    builtins = artifact.metadata["builtins"]
    assert builtins["TRANSPOSE"] == 1, builtins
    assert builtins["CONV_2D"] == 2 and builtins["DEPTHWISE_CONV_2D"] == 1, builtins
    assert builtins["MAX_POOL_2D"] == 1 and builtins["CONCATENATION"] == 1, builtins


WEIGHTS = np.random.default_rng(1)
AXES_TEXT = f"""<ir_version: 10, opset_import: ["" : 17]>
g (float[1, 3, 8, 8] x) => (float[1, 4] y, float[1, 4, 8, 8] s)
<float[4, 3, 3, 3] w1 = {{{_floats(WEIGHTS, 4, 3, 3, 3)}}},
 float[4, 4, 3, 3] w2 = {{{_floats(WEIGHTS, 4, 4, 3, 3)}}},
 int64[8] p = {{0, 0, 1, 2, 0, 0, 1, 0}}>
{{
    c1 = Conv <pads = [1, 1, 1, 1]> (x, w1)
    q = Pad (c1, p)
    c2 = Conv (q, w2)
    s = Softmax <axis = 1> (c2)
    y = ReduceMean <axes = [2, 3], keepdims = 0> (c2)
}}"""


def test_softmax_reductions_and_pad_follow_the_layout(rng):
    """A Pad between two convolutions and a Softmax over channels move into NHWC with
    their axes renumbered; a mean over H and W needs no Transpose after it at all."""
    text = AXES_TEXT
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = run_ort(model_from_text(text), {"x": x})
    model = model_from_text(text)
    assert _run(model).modified
    ops = collections.Counter(node.op_type for node in model.graph)
    assert ops["Transpose"] == 2  # at the input, and before the NCHW output s
    [pad] = [node for node in model.graph if node.op_type == "Pad"]
    assert const_array(pad.inputs[1]).tolist() == [0, 1, 2, 0, 0, 1, 0, 0]
    [softmax] = [node for node in model.graph if node.op_type == "Softmax"]
    assert softmax.attributes["axis"].as_int() == 3
    [mean] = [node for node in model.graph if node.op_type == "ReduceMean"]
    assert mean.outputs[0].is_graph_output()  # no Transpose after it
    for got, want in zip(run_ort(model, {"x": x}), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert np.ptp(want) > 0.01


def _emitted_after_layout(tmp_path, rng, text: str, names):
    """convert-layout, then the TFLite emitter: every output in LiteRT matches ONNX Runtime
    running the original. Returns the artifact."""
    require("ai_edge_litert.interpreter", "tensorflow")
    from graphkit.backends.tflite.emitter import emit
    from graphkit.backends.tflite.runner import run_artifact

    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = run_ort(model_from_text(text), {"x": x})
    model = model_from_text(text)
    assert _run(model).modified
    artifact = emit(model, tmp_path / "m.tflite")
    got = run_artifact(artifact.path, {"x": x})
    for name, want in zip(names, expected, strict=True):
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-5)
    return artifact


def test_the_moved_axes_lower_to_tflite(tmp_path, rng):
    """The Pad, Softmax and mean convert-layout renumbered run in LiteRT as ONNX Runtime
    runs the original."""
    artifact = _emitted_after_layout(tmp_path, rng, AXES_TEXT, ("y", "s"))
    assert artifact.metadata["transposes"] == 2, artifact.metadata["builtins"]


SLICING_TEXT = f"""<ir_version: 10, opset_import: ["" : 18]>
g (float[1, 3, 8, 8] x) => (float[1, 4, 8, 4] a, float[1, 2, 8, 8] b, float[1, 6, 8] g,
                           float[1, 6, 8, 2] d, float[1, 6, 8] e)
<float[8, 3, 3, 3] w = {{{_floats(WEIGHTS, 8, 3, 3, 3)}}},
 float[6, 2, 1, 1] v = {{{_floats(WEIGHTS, 6, 2, 1, 1)}}},
 int64[2] starts = {{0, 2}}, int64[2] ends = {{4, 6}}, int64[2] axes = {{-3, 3}},
 int64[2] pick = {{1, 6}}, int64 row = {{5}}, int64[1] unit = {{3}}>
{{
    c = Conv <pads = [1, 1, 1, 1]> (x, w)
    s1, s2 = Split <axis = 1, num_outputs = 2> (c)
    a = Slice (s1, starts, ends, axes)
    r = Relu (s2)
    b = Slice (r, starts, ends)
    p = Conv (b, v)
    g = Gather <axis = 2> (p, row)
    d = Gather <axis = 3> (p, pick)
    m = MaxPool <kernel_shape = [1, 8], strides = [1, 8]> (p)
    e = Squeeze (m, unit)
}}"""


def test_split_slice_gather_and_squeeze_follow_the_layout(rng):
    """Split and Slice (with and without axes) of NHWC values run on them with their axes
    renumbered, reading no Transpose; the Gathers share one Transpose (moving them would
    add one per Gather), and the outputs are the original's."""
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = run_ort(model_from_text(SLICING_TEXT), {"x": x})
    model = model_from_text(SLICING_TEXT)
    assert _run(model).modified
    for node in model.graph:
        if node.op_type in ("Split", "Slice"):
            assert node.inputs[0].producer().op_type != "Transpose", node.op_type
    for got, want in zip(run_ort(model, {"x": x}), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert np.ptp(want) > 0.01


def test_the_renumbered_slicing_lowers_to_tflite(tmp_path, rng):
    artifact = _emitted_after_layout(tmp_path, rng, SLICING_TEXT, "abgde")
    # the input's, one each for the NCHW outputs a, b, e, and one the two Gathers share
    assert artifact.metadata["transposes"] == 5, artifact.metadata["builtins"]
