"""The TFLite lowering of the math ops without a builtin of their own (CumProd, Det,
Einsum, DFT, STFT, CenterCropPad): each emitted .tflite runs in LiteRT on real inputs and
is compared with ONNX Runtime (or onnx's reference evaluator where ORT has no kernel), and
diagnose --target tflite says the same as the emitter."""

from __future__ import annotations

import numpy as np
import pytest
from _tflite_checks import emitted_matches, refused

# CumProd ------------------------------------------------------------------------------

CUMPROD = """<ir_version: 13, opset_import: ["" : 26]>
g ({t}[{dims}] x, {axis_type} axis) => ({t}[{dims}] y) {{
    y = CumProd<exclusive={exclusive}, reverse={reverse}>(x, axis)
}}"""
CUMPROD_CONST = """<ir_version: 13, opset_import: ["" : 26]>
g ({t}[{dims}] x) => ({t}[{dims}] y) {{
    axis = Constant<value = int64 {{{axis}}}>()
    y = CumProd<exclusive={exclusive}, reverse={reverse}>(x, axis)
}}"""


def _factors(rng, shape, dtype) -> np.ndarray:
    """Zeros, negatives and numbers near 1, so that a log-based scan would be wrong."""
    x = rng.choice(np.asarray([-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.25, 2, 3]), size=shape)
    return x.astype(dtype)


@pytest.mark.parametrize(("exclusive", "reverse"), [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumprod_by_a_constant_axis(tmp_path, rng, exclusive, reverse, axis):
    text = CUMPROD_CONST.format(t="float", dims="3,7,2", axis=axis, exclusive=exclusive,
                                reverse=reverse)
    emitted_matches(tmp_path, text, {"x": _factors(rng, (3, 7, 2), np.float32)},
                    evaluator=True)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("axis", [0, 1, -2, -1])
def test_cumprod_of_integers_by_a_run_time_axis(tmp_path, rng, dtype, axis):
    text = CUMPROD.format(t=dtype, dims="4,5", axis_type="int64", exclusive=1, reverse=0)
    x = rng.integers(-3, 4, size=(4, 5)).astype(dtype)
    emitted_matches(tmp_path, text, {"x": x, "axis": np.asarray(axis, np.int64)},
                    evaluator=True)


def test_cumprod_of_int32_wraps_as_onnx_does(tmp_path, rng):
    text = CUMPROD_CONST.format(t="int32", dims="9", axis=0, exclusive=0, reverse=1)
    x = rng.integers(1000, 100000, size=9).astype(np.int32)
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)


def test_cumprod_of_float64_is_refused(tmp_path):
    text = CUMPROD_CONST.format(t="double", dims="5", axis=0, exclusive=0, reverse=0)
    refused(text, "CumProd takes no double")


def test_cumprod_with_a_dynamic_axis_length_is_refused(tmp_path):
    text = CUMPROD_CONST.format(t="float", dims="N,3", axis=0, exclusive=0, reverse=0)
    refused(text, "static length along its axis")


# DFT ----------------------------------------------------------------------------------

DFT17 = """<ir_version: 9, opset_import: ["" : 17]>
g (float[{dims}] x) => (float{out} y) {{
    {length}
    y = DFT<axis={axis}, inverse={inverse}, onesided={onesided}>(x{length_input})
}}"""
DFT20 = """<ir_version: 10, opset_import: ["" : 20]>
g (float[{dims}] x, int64 axis) => (float{out} y) {{
    y = DFT<inverse={inverse}, onesided={onesided}>(x, , axis)
}}"""


def _dft17(dims: str, axis: int, inverse: int, onesided: int, length: int | None) -> str:
    constant = f"n = Constant<value = int64 {{{length}}}>()" if length is not None else ""
    return DFT17.format(dims=dims, out="", axis=axis, inverse=inverse, onesided=onesided,
                        length=constant, length_input=", n" if length is not None else "")


@pytest.mark.parametrize(("inverse", "onesided"), [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize(("axis", "length"), [(1, None), (2, None), (1, 5), (2, 12), (1, 9)])
def test_dft_along_a_constant_axis(tmp_path, rng, inverse, onesided, parts, axis, length):
    """Real and complex input, one-sided, inverse (the one-sided inverse is numpy's irfft),
    dft_length truncating (5 < 8) and padding (12 > 7, 9 > 8), odd and even lengths."""
    text = _dft17(f"2,8,7,{parts}", axis, inverse, onesided, length)
    x = rng.standard_normal((2, 8, 7, parts)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("axis", "onesided", "out"), [
    (1, 0, "[1,6,4,2]"), (2, 0, "[1,6,4,2]"), (-2, 0, "[1,6,4,2]"), (0, 0, "[1,6,4,2]"),
    (1, 1, "[1,4,4,2]")])
def test_dft_along_an_axis_given_at_run_time(tmp_path, rng, axis, onesided, out):
    """Opset 20 takes the axis as an input: every axis whose result has the output's shape
    is computed, and the one the run asks for chosen."""
    text = DFT20.format(dims="1,6,4,1", out=out, inverse=0, onesided=onesided)
    x = rng.standard_normal((1, 6, 4, 1)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "axis": np.asarray(axis, np.int64)},
                    evaluator=True, rtol=1e-4, atol=1e-4)


def test_dft_with_a_run_time_length_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 17]>
g (float[2,8,1] x, int64 n) => (float[2,8,2] y) {
    y = DFT<axis=1>(x, n)
}"""
    refused(text, "dft_length \\(input 1\\) must be a constant")


def test_dft_whose_matrix_would_be_too_large_is_refused():
    """A declared length of 2**16 asks for a 2**32-entry matrix: refused before allocating."""
    text = """<ir_version: 9, opset_import: ["" : 17]>
g (float[1,65536,1] x) => (float[1,65536,2] y) {
    y = DFT<axis=1>(x)
}"""
    refused(text, "needs a 8,589,934,592-entry constant matrix")


# CenterCropPad ------------------------------------------------------------------------

CROP_RUN_TIME = """<ir_version: 9, opset_import: ["" : 18]>
g ({t}[{dims}] x, int64[{n}] shape) => ({t}[{out}] y) {{
    y = CenterCropPad{axes}(x, shape)
}}"""
CROP_CONSTANT = """<ir_version: 9, opset_import: ["" : 18]>
g ({t}[{dims}] x) => ({t}{out} y) {{
    shape = Constant<value = int64[{n}] {{{sizes}}}>()
    y = CenterCropPad{axes}(x, shape)
}}"""


@pytest.mark.parametrize(("axes", "sizes"), [
    ("", [3, 9, 6]), ("", [8, 4, 5]), ("<axes = [0, 2]>", [5, 2]),
    ("<axes = [-1, -2]>", [9, 1]), ("<axes = [1]>", [7])])
@pytest.mark.parametrize("dtype", ["float", "int32"])
def test_center_crop_pad_by_constant_sizes(tmp_path, rng, axes, sizes, dtype):
    """Odd and even differences, cropping and padding on one node, some axes only."""
    text = CROP_CONSTANT.format(t=dtype, dims="6,4,5", out="", n=len(sizes), axes=axes,
                                sizes=", ".join(map(str, sizes)))
    x = (rng.standard_normal((6, 4, 5)) * 10).astype(dtype.replace("float", "float32"))
    emitted_matches(tmp_path, text, {"x": x})


def test_center_crop_pad_by_run_time_sizes_the_output_shape_decides(tmp_path, rng):
    text = CROP_RUN_TIME.format(t="float", dims="7,4,3", n=2, out="4,7,3",
                                axes="<axes = [0, 1]>")
    x = rng.standard_normal((7, 4, 3)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "shape": np.asarray([4, 7], np.int64)})


def test_center_crop_pad_by_run_time_sizes_and_no_output_shape_is_refused():
    text = CROP_RUN_TIME.format(t="float", dims="7,4,3", n=2, out="A,B,3",
                                axes="<axes = [0, 1]>")
    refused(text, "shape \\(input 1\\) must be a constant where the output shape")


# Det ----------------------------------------------------------------------------------

DET = """<ir_version: 9, opset_import: ["" : 22]>
g (float[{dims}] x) => (float{out} y) {{
    y = Det(x)
}}"""


@pytest.mark.parametrize(("dims", "out"), [
    ("1,1", ""), ("2,2", ""), ("3,3", ""), ("4,4", ""), ("5,3,3", "[5]"), ("2,3,4,4", "[2,3]")])
def test_det_of_small_matrices(tmp_path, rng, dims, out):
    shape = tuple(int(d) for d in dims.split(","))
    x = rng.standard_normal(shape).astype(np.float32)
    emitted_matches(tmp_path, DET.format(dims=dims, out=out), {"x": x}, rtol=1e-4, atol=1e-4)


def test_det_of_a_singular_matrix_is_zero(tmp_path):
    x = np.asarray([[1, 2, 3], [2, 4, 6], [0, 1, 5]], np.float32)
    emitted_matches(tmp_path, DET.format(dims="3,3", out=""), {"x": x}, rtol=1e-5, atol=1e-5)


def test_det_of_a_5x5_matrix_is_refused():
    refused(DET.format(dims="5,5", out=""), "Det of 5x5 matrices is not lowered")


# STFT ---------------------------------------------------------------------------------

STFT = """<ir_version: 9, opset_import: ["" : 17]>
g (float[2,40,{parts}] x, float[{width}] w) => (float{out} y) {{
    step = Constant<value = int64 {{{step}}}>()
    {length}
    y = STFT<onesided={onesided}>(x, step, {window}{length_input})
}}"""


@pytest.mark.parametrize(("step", "width", "length", "window"), [
    (5, 8, None, True), (3, 9, None, True), (4, 8, 10, True), (6, 10, 8, True),
    (7, 8, 12, False), (40, 8, None, False)])
@pytest.mark.parametrize(("parts", "onesided"), [(1, 1), (1, 0), (2, 0)])
def test_stft_by_a_constant_step(tmp_path, rng, step, width, length, window, parts, onesided):
    """With and without a window, frame_length above and below the window's width (the
    frame padded or cut), a real or complex signal, one-sided or not."""
    given = f"n = Constant<value = int64 {{{length}}}>()" if length is not None else ""
    text = STFT.format(parts=parts, width=width, out="", step=step, onesided=onesided,
                       length=given, window="w" if window else "",
                       length_input=", n" if length is not None else "")
    if not window and length is None:
        text = text.replace(", )", ")")
    x = rng.standard_normal((2, 40, parts)).astype(np.float32)
    w = rng.uniform(0.1, 1, width).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "w": w}, evaluator=True, rtol=1e-4, atol=1e-4)


def test_stft_by_a_run_time_step_the_output_shape_decides(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 17]>
g (float[1,64,1] x, int64 step, float[16] w) => (float[1,7,9,2] y) {
    y = STFT(x, step, w)
}"""
    x = rng.standard_normal((1, 64, 1)).astype(np.float32)
    w = rng.uniform(0.1, 1, 16).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "step": np.asarray(8, np.int64), "w": w},
                    evaluator=True, rtol=1e-4, atol=1e-4)


def test_stft_by_a_run_time_frame_length_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 17]>
g (float[1,64,1] x, int64 step, int64 n) => (float[1,7,9,2] y) {
    y = STFT(x, step, , n)
}"""
    refused(text, "frame_length \\(input 3\\) must be a constant")


# MelWeightMatrix and CenterCropPad's function body: folded when converting ------------

def test_mel_weight_matrix_of_constants_is_folded(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 17]>
g (float[3,9] x) => (float[3,8] y) {
    bins = Constant<value = int32 {8}>()
    length = Constant<value = int32 {16}>()
    rate = Constant<value = int32 {8192}>()
    low = Constant<value = float {0.0}>()
    high = Constant<value = float {4096.0}>()
    m = MelWeightMatrix(bins, length, rate, low, high)
    y = MatMul(x, m)
}"""
    x = rng.standard_normal((3, 9)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)


def test_mel_weight_matrix_of_run_time_sizes_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 17]>
g (int32 bins, int32 length, int32 rate, float low, float high) => (float[9,8] y) {
    y = MelWeightMatrix(bins, length, rate, low, high)
}"""
    refused(text, "MelWeightMatrix")


def test_center_crop_pad_body_folds_its_shape_arithmetic(tmp_path, rng):
    """The int64 Div of CenterCropPad's function body is computed when converting where
    the sizes are a constant (in the conformance cases they are a graph input)."""
    text = """<ir_version: 9, opset_import: ["" : 18]>
g (float[7,4,3] x) => (float[4,7,3] y) {
    shape = Constant<value = int64[3] {4, 7, 3}>()
    two = Constant<value = int64[1] {2}>()
    size = Shape(x)
    padded_size = Max(size, shape)
    pad = Sub(padded_size, size)
    left = Div(pad, two)
    right = Sub(pad, left)
    pads = Concat<axis = 0>(left, right)
    padded = Pad(x, pads)
    size2 = Shape(padded)
    extra = Sub(size2, shape)
    start = Div(extra, two)
    end = Add(start, shape)
    y = Slice(padded, start, end)
}"""
    x = rng.standard_normal((7, 4, 3)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x})


# Einsum -------------------------------------------------------------------------------

EINSUM_CASES = [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij->ji", [(3, 4)]), ("ii->i", [(4, 4)]), ("i,i->", [(5,), (5,)]), ("i,i", [(5,), (5,)]),
    ("...ii->...i", [(3, 5, 5)]), ("ij->i", [(3, 4)]), ("->", [()]), ("ij,jk", [(2, 3), (3, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (1, 5, 4, 2)]), ("ii", [(3, 3)]), ("iij->j", [(3, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("i,j->ij", [(3,), (4,)]),
    ("bi,bi->b", [(4, 3), (4, 3)]), ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("ij,kj->", [(2, 3), (4, 3)]), ("iji->j", [(3, 2, 3)]), ("ij,j->ij", [(3, 1), (4,)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
]


def _einsum_text(equation: str, shapes: list[tuple[int, ...]], out: str = "") -> str:
    names = [f"x{i}" for i in range(len(shapes))]
    typed = ", ".join(f"float[{','.join(map(str, s))}] {n}" if s else f"float {n}"
                      for n, s in zip(names, shapes, strict=True))
    return f"""<ir_version: 9, opset_import: ["" : 17]>
g ({typed}) => (float{out} y) {{
    y = Einsum<equation = "{equation}">({", ".join(names)})
}}"""


@pytest.mark.parametrize(("equation", "shapes"), EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum(tmp_path, rng, equation, shapes):
    """Contractions, batch labels, transposes, sums, diagonals (GATHER), an ellipsis that
    broadcasts, implicit outputs, scalars and three operands."""
    feeds = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    emitted_matches(tmp_path, _einsum_text(equation, shapes), feeds, rtol=1e-5, atol=1e-5)


def test_einsum_of_dynamic_shapes_is_refused():
    text = _einsum_text("ij,jk->ik", [(7, 3), (3, 4)]).replace("float[7,3]", "float[N,3]")
    refused(text, "Einsum needs static input shapes")


def test_einsum_of_float64_is_refused():
    text = _einsum_text("ij->ji", [(3, 4)]).replace("float", "double")
    refused(text, "Einsum takes no double")
