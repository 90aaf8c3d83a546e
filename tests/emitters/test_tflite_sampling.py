"""The TFLite lowerings of sampling ops (GridSample, AffineGrid, Col2Im, MaxUnpool, RoiAlign,
DeformConv): each emitted .tflite runs in LiteRT on random inputs and matches ONNX Runtime
and onnx's reference evaluator, and diagnose --target tflite says the same as the emitter."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from _tflite_checks import emitted_matches, refused
from conftest import model_from_text, run_ort

import graphkit

# GridSample ---------------------------------------------------------------------------

GRID_SAMPLE = """<ir_version: 9, opset_import: ["" : {opset}]>
g (float{x} x, float{grid} grid) => (float{y} y) {{
    y = GridSample<mode="{mode}", padding_mode="{padding}", align_corners={align}>(x, grid)
}}"""


def _grid_sample(opset, mode, padding, align, x=(2, 3, 5, 6), grid=(2, 4, 7, 2)):
    y = (*x[:2], *grid[1:-1])
    return GRID_SAMPLE.format(opset=opset, mode=mode, padding=padding, align=align,
                              x=list(x), grid=list(grid), y=list(y))


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_2d(tmp_path, rng, mode, padding, align):
    """Grid values beyond [-1, 1] (up to 3 image widths out) exercise every padding mode,
    reflection folding more than once. Cubic with border padding follows torch and ONNX
    Runtime, which clamp each tap; onnx's reference evaluator clamps the point first."""
    text = _grid_sample(20, mode, padding, align)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    grid = rng.uniform(-3.5, 3.5, (2, 4, 7, 2)).astype(np.float32)
    clamped_taps = (mode, padding) == ("cubic", "border")
    emitted_matches(tmp_path, text, {"x": x, "grid": grid}, evaluator=not clamped_taps, ort=True)


@pytest.mark.parametrize(("old", "new"), [("bilinear", "linear"), ("bicubic", "cubic")])
def test_grid_sample_opset_16_names(tmp_path, rng, old, new):
    """Opset 16 calls the modes bilinear and bicubic; they lower as linear and cubic."""
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    grid = rng.uniform(-1.2, 1.2, (1, 3, 3, 2)).astype(np.float32)
    text = _grid_sample(16, old, "border", 0, x.shape, grid.shape)
    # onnx's reference evaluator knows only the opset-20 names
    emitted_matches(tmp_path, text, {"x": x, "grid": grid})
    refused(_grid_sample(20, old, "border", 0, x.shape, grid.shape), "not one of",
            blocker_says="first")


def test_grid_sample_nearest_rounds_half_to_even(tmp_path):
    """Grid points exactly between two pixels (x = 0.5, 1.5, 2.5) take the even one."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    ties = np.asarray([-0.5, 0.0, 0.5], np.float32)  # align_corners=0, 4 pixels
    grid = np.stack(np.meshgrid(ties, ties, indexing="xy"), axis=-1)[None].astype(np.float32)
    text = _grid_sample(20, "nearest", "zeros", 0, x.shape, grid.shape)
    emitted_matches(tmp_path, text, {"x": x, "grid": grid}, evaluator=True, ort=True)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_volumetric(tmp_path, rng, mode, padding):
    x = rng.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    grid = rng.uniform(-1.6, 1.6, (2, 2, 3, 4, 3)).astype(np.float32)
    text = _grid_sample(20, mode, padding, 1, x.shape, grid.shape)
    emitted_matches(tmp_path, text, {"x": x, "grid": grid}, evaluator=True, ort=True)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_one_pixel_side_with_align_corners(tmp_path, rng, mode, padding):
    """A side of one pixel spans nothing to reflect in: every tap lands on it, as in ONNX
    Runtime and torch (onnx's reference evaluator divides by the zero span and fails)."""
    x = rng.standard_normal((1, 2, 1, 5)).astype(np.float32)
    grid = rng.uniform(-2, 2, (1, 3, 4, 2)).astype(np.float32)
    text = _grid_sample(20, mode, padding, 1, x.shape, grid.shape)
    emitted_matches(tmp_path, text, {"x": x, "grid": grid})


@pytest.mark.parametrize("batch", [3, 1])
def test_grid_sample_batch_known_at_run_time(tmp_path, rng, batch):
    text = _grid_sample(20, "linear", "border", 0, (2, 3, 5, 6), (2, 4, 7, 2)).replace(
        "[2, ", "[N, ")
    feeds = {"x": rng.standard_normal((batch, 3, 5, 6)).astype(np.float32),
             "grid": rng.uniform(-1.5, 1.5, (batch, 4, 7, 2)).astype(np.float32)}
    emitted_matches(tmp_path, text, feeds, evaluator=True, ort=True)


def test_grid_sample_refusals():
    refused(_grid_sample(20, "cubic", "zeros", 0, (1, 1, 2, 3, 4), (1, 2, 2, 2, 3)),
            "cubic is defined for 4-D input only", blocker_says="first")
    refused(_grid_sample(20, "linear", "zeros", 0, (1, 1, 3, 4), (1, 2, 2, 2))
            .replace("float[1, 1, 3, 4]", "float[1,1,H,4]"),
            "needs static input and grid shapes", blocker_says="first")


# AffineGrid ---------------------------------------------------------------------------

AFFINE_GRID = """<ir_version: 9, opset_import: ["" : 20]>
g (float{theta} theta, int64[{n}] size) => (float{grid} grid) {{
    grid = AffineGrid<align_corners={align}>(theta, size)
}}"""

AFFINE_CONSTANT_SIZE = """<ir_version: 9, opset_import: ["" : 20]>
g (float[N,2,3] theta) => (float[N,?,?,2] grid) {{
    size = Constant<value = int64[4] {{3, 3, 4, 7}}>()
    grid = AffineGrid<align_corners={align}>(theta, size)
}}"""


@pytest.mark.parametrize(("align", "spatial"), [
    (0, (5, 6)), (1, (5, 6)), (0, (1, 4)), (0, (3, 4, 5)), (1, (3, 4, 5)), (0, (4, 1, 2))])
def test_affine_grid_from_the_output_shape(tmp_path, rng, align, spatial):
    """A side of 1 only without align_corners (test_affine_grid_refusals)."""
    rank = len(spatial)
    theta = rng.standard_normal((2, rank, rank + 1)).astype(np.float32)
    text = AFFINE_GRID.format(theta=list(theta.shape), n=rank + 2, align=align,
                              grid=[2, *spatial, rank])
    size = np.asarray([2, 3, *spatial], np.int64)
    emitted_matches(tmp_path, text, {"theta": theta, "size": size}, evaluator=True, ort=True)


@pytest.mark.parametrize("align", [0, 1])
def test_affine_grid_constant_size(tmp_path, rng, align):
    """The size a constant, the output's spatial dims and batch not declared."""
    theta = rng.standard_normal((3, 2, 3)).astype(np.float32)
    emitted_matches(tmp_path, AFFINE_CONSTANT_SIZE.format(align=align), {"theta": theta},
                    evaluator=True, ort=True)


def test_affine_grid_refusals():
    text = AFFINE_GRID.format(theta=[2, 2, 3], n=4, align=0, grid="[2,?,?,2]")
    refused(text, "needs a constant size or a static output shape", blocker_says="first")
    text = AFFINE_GRID.format(theta=[2, 2, 3], n=4, align=1, grid=[2, 1, 4, 2])
    refused(text, "a side of 1 with align_corners=1", blocker_says="first")


# Col2Im -------------------------------------------------------------------------------

COL2IM = """<ir_version: 9, opset_import: ["" : 18]>
g ({dtype}{data} data{extra}) => ({dtype}{out} y) {{
    {constants}
    y = Col2Im{attributes}(data, image_shape, block_shape)
}}"""


def _col2im(data, out, image, block, attributes, runtime_block=False, dtype="float"):
    listed = ", ".join(map(str, image))
    constants = f"image_shape = Constant<value = int64[{len(image)}] {{{listed}}}>()"
    extra = ""
    if runtime_block:
        extra = f", int64[{len(block)}] block_shape"
    else:
        constants += (f"\n    block_shape = Constant<value = int64[{len(block)}] "
                      f"{{{', '.join(map(str, block))}}}>()")
    return COL2IM.format(dtype=dtype, data=list(data), out=list(out), extra=extra,
                         constants=constants, attributes=f"<{attributes}>" if attributes else "")


@pytest.mark.parametrize(("image", "block", "attributes"), [
    ((5, 6), (2, 3), "strides=[1, 1]"),
    ((7, 6), (3, 2), "strides=[2, 1], pads=[1, 0, 2, 1]"),
    ((8, 7), (2, 2), "dilations=[3, 2], strides=[2, 2], pads=[0, 1, 1, 0]"),
    ((3, 4, 5), (2, 1, 3), "strides=[1, 2, 1], pads=[0, 0, 1, 1, 1, 0]"),
])
def test_col2im_with_constant_shapes(tmp_path, rng, image, block, attributes):
    """Overlapping blocks sum; pads and dilations leave entries that land nowhere."""
    model = onnx.parser.parse_model(_col2im((1, 1, 1), (1, 1, *image), image, block, attributes))
    dims = dict(zip(["dilations", "strides", "pads"], [None] * 3, strict=True))
    for attribute in model.graph.node[-1].attribute:
        dims[attribute.name] = list(attribute.ints)
    rank = len(image)
    dilations, strides = dims["dilations"] or [1] * rank, dims["strides"] or [1] * rank
    pads = dims["pads"] or [0] * 2 * rank
    blocks = [(size + pads[i] + pads[rank + i] - dilations[i] * (k - 1) - 1) // strides[i] + 1
              for i, (size, k) in enumerate(zip(image, block, strict=True))]
    shape = (2, 3 * int(np.prod(block)), int(np.prod(blocks)))
    text = _col2im(shape, (2, 3, *image), image, block, attributes)
    data = rng.standard_normal(shape).astype(np.float32)
    emitted_matches(tmp_path, text, {"data": data}, evaluator=True, ort=rank == 2)


def test_col2im_block_shape_at_run_time(tmp_path, rng):
    """[1, 5, 5] into 5x5 fits blocks 1x5 and 5x1: the one given is the one applied."""
    text = _col2im((1, 5, 5), (1, 1, 5, 5), (5, 5), (1, 5), "", runtime_block=True)
    data = rng.standard_normal((1, 5, 5)).astype(np.float32)
    for block in ([1, 5], [5, 1]):
        feeds = {"data": data, "block_shape": np.asarray(block)}
        emitted_matches(tmp_path, text, feeds, evaluator=True, ort=True)


def test_col2im_integers_and_non_finite_values(tmp_path, rng):
    """Each pixel sums only its own entries: an inf reaches its pixels and no others."""
    text = _col2im((1, 4, 16), (1, 1, 5, 5), (5, 5), (2, 2), "")
    data = rng.standard_normal((1, 4, 16)).astype(np.float32)
    data[0, 0, 0] = np.inf
    emitted_matches(tmp_path, text, {"data": data}, evaluator=True, ort=True)
    ints = rng.integers(-1000, 1000, (1, 4, 16)).astype(np.int64)
    emitted_matches(tmp_path, text.replace("float", "int64"), {"data": ints}, evaluator=True)


def test_col2im_without_known_shapes_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,4,16] data, int64[2] image, int64[2] block) => (float{out} y) {
        y = Col2Im(data, image, block)
    }"""
    refused(text.replace("{out}", "[1,1,?,?]"),
            "needs a constant image_shape or a static output shape", blocker_says="first")
    refused(text.replace("{out}", "[1,1,5,5]").replace("[1,4,16]", "[1,4,L]"),
            "needs a static input shape", blocker_says="first")


# MaxUnpool ----------------------------------------------------------------------------

MAX_UNPOOL = """<ir_version: 9, opset_import: ["" : 22]>
g (float{x} x, int64{x} i{extra}) => (float{y} y) {{
    y = MaxUnpool<{attributes}>(x, i{operands})
}}"""


def _pooled(rng, shape, attributes):
    """A MaxPool's values and indices (ONNX Runtime's), as a MaxUnpool reads them."""
    text = f"""<ir_version: 9, opset_import: ["" : 22]>
    g (float{list(shape)} a) => (float y, int64 i) {{ y, i = MaxPool<{attributes}>(a) }}"""
    source = rng.standard_normal(shape).astype(np.float32)
    values, indices = run_ort(model_from_text(text), {"a": source})
    # ORT's int64 arrays are numpy's longlong, which LiteRT's SetTensor does not take
    return values, indices.astype(np.int64)


@pytest.mark.parametrize(("shape", "attributes", "out"), [
    ((2, 3, 6, 8), "kernel_shape=[2, 2], strides=[2, 2]", (2, 3, 6, 8)),
    # overlapping windows: one element is the maximum of several, its index repeated
    ((1, 2, 7, 7), "kernel_shape=[3, 3], strides=[2, 2]", (1, 2, 7, 7)),
    ((1, 2, 6, 5), "kernel_shape=[3, 2], strides=[1, 2], pads=[1, 0, 1, 1]", (1, 2, 6, 5)),
])
def test_max_unpool_of_max_pool_indices(tmp_path, rng, shape, attributes, out):
    x, i = _pooled(rng, shape, attributes)
    text = MAX_UNPOOL.format(x=list(x.shape), y=list(out), extra="", operands="",
                             attributes=attributes)
    emitted_matches(tmp_path, text, {"x": x, "i": i}, evaluator=True, ort=True)


def test_max_unpool_duplicate_indices_keep_the_last(tmp_path, rng):
    """Indices need not come from MaxPool: of two values written to one element, the last
    stays, as in onnx's reference and ONNX Runtime."""
    x = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    i = rng.integers(0, 8, (1, 2, 3, 3)).astype(np.int64)  # 18 values into 8 of 50 elements
    text = MAX_UNPOOL.format(x=[1, 2, 3, 3], y=[1, 2, 5, 5], extra="", operands="",
                             attributes="kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 0, 0]")
    emitted_matches(tmp_path, text, {"x": x, "i": i}, evaluator=True, ort=True)


def test_max_unpool_output_shape(tmp_path, rng):
    """output_shape equal to the unpooled shape lowers; another is refused (onnx's
    reference and ONNX Runtime read the indices in different shapes)."""
    attributes = "kernel_shape=[2, 2], strides=[2, 2]"
    x, i = _pooled(rng, (1, 1, 4, 4), attributes)
    text = MAX_UNPOOL.format(x=[1, 1, 2, 2], y="{out}", extra=", int64[4] shape",
                             operands=", shape", attributes=attributes)
    emitted_matches(tmp_path, text.replace("{out}", "[1,1,4,4]"),
                    {"x": x, "i": i, "shape": np.asarray([1, 1, 4, 4])}, evaluator=True, ort=True)
    refused(text.replace("{out}", "[1,1,5,5]"), "output_shape other than the unpooled shape",
            blocker_says="first")


# RoiAlign -----------------------------------------------------------------------------

ROI_ALIGN = """<ir_version: 9, opset_import: ["" : {opset}]>
g (float[2,3,9,11] x, float[5,4] rois, int64[5] batch) => (float[5,3,{h},{w}] y) {{
    y = RoiAlign<{attributes}>(x, rois, batch)
}}"""


def _rois(rng):
    """Boxes (x1, y1, x2, y2) inside the 11x9 image, over its edges, beyond them, and one
    smaller than a pixel."""
    corner = rng.uniform(-3, 12, (5, 2))
    size = rng.uniform(0.3, 8, (5, 2))
    boxes = np.concatenate([corner, corner + size], axis=1)
    boxes[0] = [1.2, 0.7, 1.5, 1.1]
    return boxes.astype(np.float32)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("transform", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize(("ratio", "scale", "h", "w"), [(2, 1.0, 3, 4), (3, 0.5, 2, 2),
                                                        (1, 1.5, 4, 3)])
def test_roi_align(tmp_path, rng, mode, transform, ratio, scale, h, w):
    attributes = (f'mode="{mode}", coordinate_transformation_mode="{transform}", '
                  f"sampling_ratio={ratio}, spatial_scale={scale}, output_height={h}, "
                  f"output_width={w}")
    text = ROI_ALIGN.format(opset=16, attributes=attributes, h=h, w=w)
    feeds = {"x": rng.standard_normal((2, 3, 9, 11)).astype(np.float32),
             "rois": _rois(rng), "batch": rng.integers(0, 2, 5).astype(np.int64)}
    emitted_matches(tmp_path, text, feeds, evaluator=True, ort=True)


def test_roi_align_opset_10_boxes_are_output_half_pixel(tmp_path, rng):
    text = ROI_ALIGN.format(opset=10, attributes="sampling_ratio=2", h=1, w=1)
    feeds = {"x": rng.standard_normal((2, 3, 9, 11)).astype(np.float32),
             "rois": _rois(rng), "batch": np.asarray([0, 1, 1, 0, 1], np.int64)}
    # onnx's reference evaluator reads the opset-16 attribute, absent here
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize("count", [5, 1])
def test_roi_align_of_a_run_time_number_of_rois(tmp_path, rng, count):
    """RoIs from a detector come in a number known at run time only."""
    text = ROI_ALIGN.format(opset=16, attributes='mode="max", sampling_ratio=2', h=2, w=3)
    text = text.replace("[5,4]", "[R,4]").replace("int64[5]", "int64[R]").replace(
        "float[5,3,", "float[R,3,")
    feeds = {"x": rng.standard_normal((2, 3, 9, 11)).astype(np.float32),
             "rois": _rois(rng)[:count], "batch": rng.integers(0, 2, count).astype(np.int64)}
    emitted_matches(tmp_path, text, feeds, evaluator=True, ort=True)


def test_roi_align_adaptive_sampling_is_refused():
    refused(ROI_ALIGN.format(opset=16, attributes="sampling_ratio=0", h=1, w=1),
            "sampling_ratio 0", blocker_says="first")


# DeformConv ---------------------------------------------------------------------------

DEFORM_CONV = """<ir_version: 9, opset_import: ["" : 22]>
g (float{x} x, float{w} w, float{offset} offset{extra}) => (float{y} y) {{
    y = DeformConv<{attributes}>(x, w, offset{operands})
}}"""


@pytest.mark.parametrize(("group", "offsets", "attributes", "masked"), [
    (1, 1, "pads=[1, 1, 1, 1]", False),
    (2, 1, "strides=[2, 1], pads=[0, 1, 1, 0]", True),
    (1, 2, "dilations=[2, 1], pads=[1, 0, 1, 0]", True),
    (2, 2, "strides=[1, 2], dilations=[1, 2]", False),
])
def test_deform_conv(tmp_path, rng, group, offsets, attributes, masked):
    """Offsets of a few pixels move taps across pixels and outside the image; onnx's
    reference evaluator and ONNX Runtime both compare."""
    n, c, h, w, filters, (kh, kw) = 2, 4, 6, 7, 6, (3, 2)
    model = onnx.parser.parse_model(DEFORM_CONV.format(
        x=[1, 1, 1, 1], w=[1, 1, 1, 1], offset=[1, 1, 1, 1], extra="", operands="", y=[1],
        attributes=attributes))
    found = {a.name: list(a.ints) for a in model.graph.node[0].attribute}
    strides, dilations = found.get("strides", [1, 1]), found.get("dilations", [1, 1])
    pads = found.get("pads", [0, 0, 0, 0])
    out = [(size + pads[i] + pads[i + 2] - dilations[i] * (k - 1) - 1) // strides[i] + 1
           for i, (size, k) in enumerate([(h, kh), (w, kw)])]
    feeds = {"x": rng.standard_normal((n, c, h, w)).astype(np.float32),
             "w": rng.standard_normal((filters, c // group, kh, kw)).astype(np.float32),
             "offset": rng.uniform(-2.5, 2.5, (n, offsets * kh * kw * 2, *out)).astype(np.float32),
             "b": rng.standard_normal(filters).astype(np.float32)}
    extra, operands = ", float[6] b", ", b"
    if masked:
        feeds["mask"] = rng.uniform(0, 1, (n, offsets * kh * kw, *out)).astype(np.float32)
        extra, operands = extra + f", float{[n, offsets * kh * kw, *out]} mask", ", b, mask"
    text = DEFORM_CONV.format(
        x=[n, c, h, w], w=[filters, c // group, kh, kw], offset=list(feeds["offset"].shape),
        extra=extra, operands=operands, y=[n, filters, *out],
        attributes=f"group={group}, offset_group={offsets}, {attributes}")
    emitted_matches(tmp_path, text, feeds, evaluator=True, ort=True)


@pytest.mark.parametrize(("group", "bias"), [(1, False), (2, True)])
def test_deform_conv_batch_known_at_run_time(tmp_path, rng, group, bias):
    text = DEFORM_CONV.format(
        x="[N,4,5,5]", w=[6, 4 // group, 2, 2], offset="[N,8,4,4]", y="[N,6,4,4]",
        extra=", float[6] b" if bias else "", operands=", b" if bias else "",
        attributes=f"group={group}")
    feeds = {"x": rng.standard_normal((3, 4, 5, 5)).astype(np.float32),
             "w": rng.standard_normal((6, 4 // group, 2, 2)).astype(np.float32),
             "offset": rng.uniform(-2, 2, (3, 8, 4, 4)).astype(np.float32)}
    if bias:
        feeds["b"] = rng.standard_normal(6).astype(np.float32)
    emitted_matches(tmp_path, text, feeds, evaluator=True, ort=True)


def test_deform_conv_of_volumes_is_refused():
    text = DEFORM_CONV.format(x=[1, 1, 3, 3, 3], w=[1, 1, 2, 2, 2], offset=[1, 24, 2, 2, 2],
                              extra="", operands="", y=[1, 1, 2, 2, 2], attributes="group=1")
    refused(text, "2-D images", blocker_says="first")


# In a model ---------------------------------------------------------------------------

SAMPLING_MODEL = """<ir_version: 9, opset_import: ["" : 20]>
g (float[1,3,8,8] x, float[1,6,5,2] grid, float[1,8,7,7] offset)
  => (float[1,4,6,5] y, float[1,4,7,7] z) {{
    w = Constant<value = float[4,3,3,3] {{{w}}}>()
    c = Conv<pads=[1,1,1,1]>(x, w)
    r = Relu(c)
    s = GridSample<mode="cubic", padding_mode="reflection">(r, grid)
    y = Relu(s)
    wd = Constant<value = float[4,4,2,2] {{{wd}}}>()
    z = DeformConv<pads=[0,0,0,0]>(r, wd, offset)
}}"""


def test_convert_validates_sampling_after_an_nhwc_conv(tmp_path, rng):
    """graphkit.convert: the samplers read the Conv's NHWC output as it is held, and the
    artifact matches ONNX Runtime on the proof's inputs."""
    text = SAMPLING_MODEL.format(w=", ".join(map(str, rng.standard_normal(108).round(3))),
                                 wd=", ".join(map(str, rng.standard_normal(64).round(3))))
    artifact = graphkit.convert(model_from_text(text), "tflite", tmp_path / "m.tflite")
    assert artifact.validated
    assert artifact.metadata["builtins"].get("CONV_2D") == 1


def test_window_attributes_that_do_not_fit_are_refused():
    """One line naming the attribute, not a traceback from dividing by a zero stride."""
    text = _col2im((1, 4, 16), (1, 1, 5, 5), (5, 5), (2, 2), "strides=[0, 1]")
    refused(text, "Col2Im's strides must be at least 1", blocker_says="first")
    text = MAX_UNPOOL.format(x=[1, 1, 2, 2], y=[1, 1, 4, 4], extra="", operands="",
                             attributes="kernel_shape=[2, 2], pads=[0, 0]")
    refused(text, "MaxUnpool's pads has 2 values, not 4", blocker_says="first")
    text = DEFORM_CONV.format(x=[1, 1, 3, 3], w=[1, 1, 2, 2], offset=[1, 8, 2, 2], extra="",
                              operands="", y=[1, 1, 2, 2], attributes="dilations=[1]")
    refused(text, "DeformConv's dilations has 1 values, not 2", blocker_says="first")
