"""TorchScript emitter speed levers: torch's own conv/pool/linear/norm/clamp calls where the
ONNX attributes fit them exactly, the general kernels where they do not, and a frozen
artifact. Each case checks the emitted graph's ops and the outputs against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import require, run_ort
from onnx import numpy_helper

torch = require("torch", "torch")

from graphkit.backends.torchscript.emitter import emit  # noqa: E402
from graphkit.backends.torchscript.runner import load_metadata, run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402

HEADER = '<ir_version: 10, opset_import: ["" : 17]>'


def _model(body: str, initializers: dict[str, np.ndarray]) -> ir.Model:
    proto = onnx.parser.parse_model(f"{HEADER}\n{body}")
    proto.graph.initializer.extend(
        numpy_helper.from_array(array, name) for name, array in initializers.items())
    onnx.checker.check_model(proto)
    # Types of intermediate values, as `fix` would have inferred them before emitting.
    return ir.serde.deserialize_model(onnx.shape_inference.infer_shapes(proto))


def _weights(rng, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]


def _emit_and_compare(model: ir.Model, feeds: dict[str, np.ndarray], path, **options):
    """The artifact's TorchScript op kinds, after checking its outputs against ORT."""
    artifact = emit(model, path, **options)
    got = list(run_artifact(artifact.path, feeds).values())
    want = run_ort(model, feeds)
    assert len(got) == len(want)
    for actual, expected in zip(got, want):
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
    module, _ = load_metadata(artifact.path)
    return _kinds(module.inlined_graph)


def _kinds(block) -> set[str]:
    """Op kinds in a TorchScript graph or block, the blocks of If/Loop nodes included."""
    kinds = set()
    for node in block.nodes():
        kinds.add(node.kind())
        for inner in node.blocks():
            kinds |= _kinds(inner)
    return kinds


CONV = """g (float[2, 3, 9, 9] x) => (float[2, 4, H, W] y) {{
  y = Conv <{attrs}> (x, w, b)
}}"""


@pytest.mark.parametrize(("attrs", "native"), [
    ("pads = [1, 1, 1, 1], strides = [2, 2]", True),
    ("pads = [0, 0, 1, 1], strides = [2, 2]", True),  # uneven: an explicit pad, then conv2d
    ("dilations = [2, 2], group = 1", True),
    ("auto_pad = \"SAME_UPPER\", strides = [2, 2]", False),  # the padding is shape-dependent
])
def test_conv_calls_conv2d_where_its_padding_fits(attrs, native, tmp_path, rng):
    w, b = _weights(rng, (4, 3, 3, 3), (4,))
    model = _model(CONV.format(attrs=attrs), {"w": w, "b": b})
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    kinds = _emit_and_compare(model, {"x": x}, tmp_path / "conv.pt")
    assert ("aten::conv2d" in kinds) == native
    assert ("aten::contiguous" in kinds) == native  # to channels-last first
    assert ("aten::convolution" in kinds) != native  # the general kernel's call


POOL = """g (float[1, 2, 7, 7] x) => (float[1, 2, H, W] y) {{
  y = {op} <{attrs}> (x)
}}"""


@pytest.mark.parametrize(("op", "attrs", "native"), [
    ("MaxPool", "kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]", "max_pool2d"),
    ("MaxPool", "kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1", "max_pool2d"),
    ("MaxPool", "kernel_shape = [2, 2], dilations = [2, 2]", "max_pool2d"),
    ("MaxPool", "kernel_shape = [3, 3], pads = [0, 0, 1, 1]", None),  # uneven pads
    ("MaxPool", "kernel_shape = [3, 3], pads = [2, 2, 2, 2]", None),  # pad over half a window
    ("AveragePool", "kernel_shape = [3, 3], pads = [1, 1, 1, 1]", "avg_pool2d"),
    ("AveragePool", "kernel_shape = [3, 3], pads = [1, 1, 1, 1], count_include_pad = 1",
     "avg_pool2d"),
    ("AveragePool", "kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1", None),
])
def test_pools_call_torch_pools_where_the_onnx_form_is_theirs(op, attrs, native, tmp_path, rng):
    model = _model(POOL.format(op=op, attrs=attrs), {})
    x = rng.standard_normal((1, 2, 7, 7)).astype(np.float32)
    kinds = _emit_and_compare(model, {"x": x}, tmp_path / "pool.pt")
    natives = {kind for kind in kinds if kind in ("aten::max_pool2d", "aten::avg_pool2d")}
    assert natives == ({f"aten::{native}"} if native else set())


def test_conv_transpose_calls_conv_transpose2d_unless_output_shape_is_given(tmp_path, rng):
    w, b = _weights(rng, (3, 2, 2, 2), (2,))
    x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    # output_shape [7, 7] crops one of 8 rows: the spec puts it at the start (not at the end)
    cases = (("strides = [2, 2]", True), ("strides = [2, 2], output_shape = [7, 7]", False))
    for attrs, native in cases:
        body = f"g (float[1, 3, 4, 4] x) => (float[1, 2, H, W] y) {{ y = ConvTranspose " \
               f"<{attrs}> (x, w, b) }}"
        kinds = _emit_and_compare(_model(body, {"w": w, "b": b}), {"x": x}, tmp_path / "t.pt")
        assert ("aten::conv_transpose2d" in kinds) == native


def test_gemm_with_transposed_weight_is_linear(tmp_path, rng):
    w, b = _weights(rng, (5, 4), (5,))
    body = "g (float[N, 4] x) => (float[N, 5] y) { y = Gemm <transB = 1> (x, w, b) }"
    x = rng.standard_normal((3, 4)).astype(np.float32)
    kinds = _emit_and_compare(_model(body, {"w": w, "b": b}), {"x": x}, tmp_path / "g.pt")
    assert "aten::linear" in kinds
    scaled = "g (float[N, 4] x) => (float[N, 5] y) { y = Gemm <transB = 1, alpha = 2.0> (x, w, b) }"
    kinds = _emit_and_compare(_model(scaled, {"w": w, "b": b}), {"x": x}, tmp_path / "s.pt")
    assert "aten::linear" not in kinds


def test_freezing_folds_batch_norm_into_the_conv_before_it(tmp_path, rng):
    w, b, scale, bias, mean = _weights(rng, (4, 3, 3, 3), (4,), (4,), (4,), (4,))
    var = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    body = """g (float[1, 3, 8, 8] x) => (float[1, 4, 8, 8] y) {
      c = Conv <pads = [1, 1, 1, 1]> (x, w, b)
      y = BatchNormalization <epsilon = 0.001> (c, scale, bias, mean, var)
    }"""
    model = _model(body, {"w": w, "b": b, "scale": scale, "bias": bias, "mean": mean,
                          "var": var})
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    frozen = _emit_and_compare(model, {"x": x}, tmp_path / "frozen.pt")
    assert "aten::conv2d" in frozen and "aten::batch_norm" not in frozen
    plain = _emit_and_compare(model, {"x": x}, tmp_path / "plain.pt", optimize="none")
    assert "aten::batch_norm" in plain


def test_layer_norm_and_clip_use_torch_calls_when_the_shapes_and_bounds_allow(tmp_path, rng):
    scale, bias = _weights(rng, (6,), (6,))
    lo, hi = np.array(-0.5, np.float32), np.array(0.5, np.float32)
    body = """g (float[2, 3, 6] x) => (float[2, 3, 6] y) {
      n = LayerNormalization <axis = -1> (x, scale, bias)
      y = Clip (n, lo, hi)
    }"""
    model = _model(body, {"scale": scale, "bias": bias, "lo": lo, "hi": hi})
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    kinds = _emit_and_compare(model, {"x": x}, tmp_path / "ln.pt")
    assert {"aten::layer_norm", "aten::clamp"} <= kinds
    # A scale that broadcasts (ONNX allows it, torch.layer_norm does not) takes the kernel.
    broadcast = _model(body.replace("Clip (n, lo, hi)", "Identity (n)"),
                       {"scale": np.full((1,), 1.5, np.float32), "bias": bias})
    _emit_and_compare(broadcast, {"x": x}, tmp_path / "broadcast.pt")


def test_artifacts_are_frozen_unless_asked_not_to_be(tmp_path, rng):
    model = _model("g (float[2, 3] x) => (float[2, 3] y) { y = Add (x, c) }",
                   {"c": np.ones((2, 3), np.float32)})
    frozen = emit(model, tmp_path / "f.pt")
    plain = emit(model, tmp_path / "p.pt", optimize="none")
    assert frozen.metadata["optimized"] == "freeze" and plain.metadata["optimized"] == "none"
    assert not list(load_metadata(frozen.path)[0].named_buffers())  # weights became constants
    assert [name for name, _ in load_metadata(plain.path)[0].named_buffers()] == ["c"]
    with pytest.raises(InputError, match="unknown TorchScript optimize 'max'"):
        emit(model, tmp_path / "m.pt", optimize="max")


SHAPE_OPS = """g (float[2, 1, 3] x) => (float[A, B, C, D] y, float[E, F] s, float[G, H] r,
                                      float[I] p, float[J, K] q) {{
  axes_u = Constant <value = int64[2] {{-1, 0}}> ()
  y = Unsqueeze (x, axes_u)
  axes_s = Constant <value = int64[1] {{-2}}> ()
  s = Squeeze (x, axes_s)
  shape = Constant <value = int64[2] {shape}> ()
  r = Reshape (x, shape)
  index = Constant <value = int64 {{-1}}> ()
  p = Gather <axis = 1> (s, index)
  rows = Constant <value = int64[3] {rows}> ()
  q = Gather <axis = -1> (s, rows)
}}"""


@pytest.mark.parametrize(("shape", "rows", "native"), [
    ("{3, -1}", "{2, 0, 2}", True),
    ("{0, -1}", "{-1, 0, 1}", False),  # a 0 in Reshape's shape, a negative index: kernels
])
def test_shape_ops_with_constant_operands_are_single_torch_calls(shape, rows, native,
                                                                  tmp_path, rng):
    model = _model(SHAPE_OPS.format(shape=shape, rows=rows), {})
    x = rng.standard_normal((2, 1, 3)).astype(np.float32)
    kinds = _emit_and_compare(model, {"x": x}, tmp_path / "shape.pt")
    assert {"aten::unsqueeze", "aten::squeeze", "aten::select"} <= kinds
    assert "aten::sorted" not in kinds  # the Unsqueeze kernel sorts axes at run time
    assert ("aten::where" in kinds) != native  # the Gather kernel wraps negative indices
    assert ("prim::Loop" in kinds) != native  # the Reshape kernel's loop over the dims
