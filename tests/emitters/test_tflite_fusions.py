"""The TFLite emitter's fusions (backends/tflite/_fuse.py): each model is written in ONNX
text, emitted without `fix` (so the emitter's own rules do the folding), run in LiteRT and
compared with ONNX Runtime; the builtins left are the ones TF's converter writes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import model_from_text, require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")

from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402

HEADER = '<ir_version: 10, opset_import: ["" : 17]>'


def _weights(rng, *shape) -> str:
    values = ", ".join(f"{v:.4f}" for v in rng.standard_normal(shape).ravel())
    return f"[{', '.join(map(str, shape))}]", values


def _check(model, tmp_path, feeds, builtins: dict[str, int]) -> None:
    artifact = emit(model, tmp_path / "m.tflite")
    got = run_artifact(artifact.path, feeds)
    want = run_ort(model, feeds)
    for (name, value), expected in zip(got.items(), want, strict=True):
        assert value.shape == expected.shape, name
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4)
        assert np.ptp(expected) > 0.1  # the output moves with the input
    assert artifact.metadata["builtins"] == builtins


def test_conv_batchnorm_as_mul_add_and_relu6_become_one_conv(tmp_path, rng):
    shape, w = _weights(rng, 4, 3, 3, 3)
    model = model_from_text(f"""{HEADER}
    g (float[1, 3, 8, 8] x) => (float[1, 4, 8, 8] y)
    <float{shape} w = {{{w}}}, float[4] b = {{0.1, -0.2, 0.3, 0.0}},
     float[4, 1, 1] s = {{0.5, 2.0, -1.0, 1.5}}, float[4, 1, 1] t = {{1.0, -1.0, 0.5, 0.0}},
     float lo = {{0.0}}, float hi = {{6.0}}>
    {{
        c = Conv <pads = [1, 1, 1, 1]> (x, w, b)
        m = Mul (c, s)
        a = Add (m, t)
        y = Clip (a, lo, hi)
    }}""")
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32) * 2
    # NCHW in and out: a TRANSPOSE at each end, nothing between
    _check(model, tmp_path, {"x": x}, {"CONV_2D": 1, "TRANSPOSE": 2})


def test_a_transpose_before_conv_costs_nothing_and_pad_becomes_same(tmp_path, rng):
    """tf2onnx's form of a Keras stem: NHWC input, Transpose to NCHW, a Pad of what SAME
    pads, a VALID stride-2 conv, the per-channel input scale before it, GlobalAveragePool
    and a Squeeze: CONV_2D and MEAN only."""
    shape, w = _weights(rng, 4, 3, 3, 3)
    model = model_from_text(f"""{HEADER}
    g (float[1, 8, 8, 3] x) => (float[1, 4] y)
    <float{shape} w = {{{w}}}, float[3] k = {{0.5, 2.0, -1.0}}, float zero = {{0.0}},
     int64[8] p = {{0, 0, 0, 0, 0, 0, 1, 1}}, int64[2] axes = {{2, 3}}>
    {{
        s = Mul (x, k)
        z = Add (s, zero)
        n = Transpose <perm = [0, 3, 1, 2]> (z)
        q = Pad (n, p)
        c = Conv <strides = [2, 2]> (q, w)
        r = Relu (c)
        m = GlobalAveragePool (r)
        y = Squeeze (m, axes)
    }}""")
    x = rng.standard_normal((1, 8, 8, 3)).astype(np.float32) * 2
    _check(model, tmp_path, {"x": x}, {"CONV_2D": 1, "MEAN": 1})


def test_matmul_add_relu_become_one_fully_connected(tmp_path, rng):
    shape, w = _weights(rng, 6, 5)
    model = model_from_text(f"""{HEADER}
    g (float[2, 6] x) => (float[2, 5] y)
    <float{shape} w = {{{w}}}, float[5] b = {{0.1, 0.2, 0.3, 0.4, 0.5}}>
    {{
        m = MatMul (x, w)
        a = Add (m, b)
        y = Relu (a)
    }}""")
    x = rng.standard_normal((2, 6)).astype(np.float32) * 2
    _check(model, tmp_path, {"x": x}, {"FULLY_CONNECTED": 1})


@pytest.mark.parametrize("reads_twice", [False, True])
def test_a_value_read_twice_or_returned_is_not_fused_away(tmp_path, rng, reads_twice):
    """c feeds the Relu and (here) a second output: the CONV cannot take the RELU in."""
    shape, w = _weights(rng, 2, 2, 1, 1)
    outputs = "float[1, 2, 4, 4] y, float[1, 2, 4, 4] c" if reads_twice \
        else "float[1, 2, 4, 4] y"
    model = model_from_text(f"""{HEADER}
    g (float[1, 2, 4, 4] x) => ({outputs})
    <float{shape} w = {{{w}}}>
    {{
        c = Conv (x, w)
        y = Relu (c)
    }}""")
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32) * 2
    fused = {"CONV_2D": 1, "TRANSPOSE": 2}
    _check(model, tmp_path, {"x": x},
           {**fused, "RELU": 1, "TRANSPOSE": 3} if reads_twice else fused)


def test_a_mean_whose_reduced_dims_a_reshape_puts_back_keeps_them(tmp_path, rng):
    """Squeeze-and-excite as tf2onnx writes it (a mean without its reduced dims, reshaped
    back to [1, 1, 1, C] to scale the image): MEAN with keep_dims, no RESHAPE."""
    model = model_from_text(f"""{HEADER}
    g (float[1, 4, 4, 3] x) => (float[1, 4, 4, 3] y) <int64[4] shape = {{1, 1, 1, 3}}> {{
        m = ReduceMean <axes = [1, 2], keepdims = 0> (x)
        r = Reshape (m, shape)
        s = Sigmoid (r)
        y = Mul (x, s)
    }}""")
    x = rng.standard_normal((1, 4, 4, 3)).astype(np.float32) * 2
    _check(model, tmp_path, {"x": x}, {"LOGISTIC": 1, "MEAN": 1, "MUL": 1})
