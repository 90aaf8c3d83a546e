"""Resize whose scales, sizes or roi arrive at run time, or that names its axes, and
Upsample: the two matrix products of _resize, each axis's weight matrix built in the model.

Along a resized axis of static input length n, the output positions y = 0 .. m-1 (RANGE, m
known at run time) map to source coordinates x by the coordinate mode, in float32. The
pixels j around x get the mode's weights: nearest a one at the pixel its rounding picks;
linear and cubic K(|j - x| * sc), K the triangle or Keys' cubic (coefficient A),
sc = min(scale, 1) with antialias (the support widened by 1/scale, each row renormalised)
and 1 without; exclude_outside drops the pixels outside the image and renormalises. j runs
over an extended range: its pixels beyond the edge stand for the edge pixel (onnx pads by
the edge), so [m, j] weights times a 0/1 matrix clamping j into [0, n) give the [m, n]
matrix. tf_crop_and_resize's positions outside the image become extrapolation_value after
each product (SELECT_V2).

Where float32 alone would change the result rather than round it, the arithmetic is exact
(_resize_axis): the output length floor(scale * n), and the side of a rounding tie that
nearest's coordinate lands on (exact while m * n < 2**24); nearest modes whose coordinate
cannot be made so are refused. Linear and cubic weights are continuous in x: float32
rounds them, as ONNX Runtime's do.

Batch and channel are never resized: given at run time, a scale other than 1 (a size other
than the input's) makes the last RESHAPE's element count wrong, so LiteRT fails the call
rather than return a wrong tensor.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import NHWC, EmitContext, attr, known
from graphkit.backends.tflite.lowering._resize_axis import Axis, Spec, axis_weights

MAX_SIDE = 2048  # as _resize; below 2**12, which keeps _resize_axis's scale * n exact
COORDS = ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
          "half_pixel_symmetric", "tf_crop_and_resize")
ROUNDINGS = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
BUILTINS = ("RANGE", "GATHER", "CAST", "FLOOR", "CEIL", "ADD", "SUB", "MUL", "DIV", "ABS",
            "MAXIMUM", "MINIMUM", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER",
            "GREATER_EQUAL", "LOGICAL_OR", "SELECT_V2", "SUM", "ONE_HOT", "BATCH_MATMUL",
            "RESHAPE", "CONCATENATION", "SHAPE", "SLICE")


def _present(node: ir.Node, index: int, values) -> bool:
    """Whether the input is given and not known empty (opset 11-12 pass empty scales)."""
    value = node.inputs[index] if index < len(node.inputs) else None
    if value is None:
        return False
    array = known(value, values)
    if array is not None:
        return array.size > 0
    return values is None or list(values.shape(value) or [None]) != [0]


def spec_of(node: ir.Node, values) -> Spec | str:
    """The node's Spec, or why it cannot be read as one."""
    if node.op_type == "Upsample":
        mode = attr(node, "mode", "nearest")
        mode = "linear" if mode == "bilinear" else mode
        return Spec(mode, "asymmetric", "floor", -0.75, False, 0.0, False, (0, 1, 2, 3),
                    "stretch", 1, False, None, True)
    scales, sizes = _present(node, 2, values), _present(node, 3, values)
    if scales == sizes:
        return "Resize needs exactly one of scales and sizes"
    axes = attr(node, "axes")
    axes = tuple(int(a) % 4 for a in axes) if axes is not None else (0, 1, 2, 3)
    coords = attr(node, "coordinate_transformation_mode", "half_pixel")
    roi = 1 if coords == "tf_crop_and_resize" and _present(node, 1, values) else None
    return Spec(attr(node, "mode", "nearest"), coords,
                attr(node, "nearest_mode", "round_prefer_floor"),
                float(attr(node, "cubic_coeff_a", -0.75)), bool(attr(node, "exclude_outside", 0)),
                float(attr(node, "extrapolation_value", 0.0)), bool(attr(node, "antialias", 0)),
                axes, attr(node, "keep_aspect_ratio_policy", "stretch"), 3 if sizes else 2,
                sizes, roi, False)


def needs_dynamic(node: ir.Node, values) -> bool:
    """Whether the node's weights are known at run time only, or it names its axes (the
    static matrices of _resize take neither)."""
    if node.op_type == "Upsample" or attr(node, "axes") is not None \
            or attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        return True
    coords = attr(node, "coordinate_transformation_mode", "half_pixel")
    indices = (1, 2, 3) if coords == "tf_crop_and_resize" else (2, 3)
    return any(index < len(node.inputs) and node.inputs[index] is not None
               and known(node.inputs[index], values) is None for index in indices)


def check_dynamic(node: ir.Node, values) -> str | None:
    """Why the run-time matrices cannot lower the node (None: they can)."""
    spec = spec_of(node, values)
    if isinstance(spec, str):
        return spec
    shape = values.shape(node.inputs[0])
    if shape is None or len(shape) != 4:
        return f"{node.op_type} is lowered for 4-D NCHW images only"
    if not all(isinstance(d, int) for d in shape[1:]):
        return f"{node.op_type} needs static channel and spatial input dims"
    if max(shape[2:]) > MAX_SIDE:
        return f"{node.op_type} of images beyond {MAX_SIDE} pixels a side is not lowered"
    return _spec_reason(node, spec, values)


def _spec_reason(node: ir.Node, spec: Spec, values) -> str | None:
    if spec.mode not in {"nearest", "linear", "cubic"}:
        return f"{node.op_type} mode '{spec.mode}' is not lowered"
    if spec.coords not in COORDS:
        return f"Resize coordinate_transformation_mode '{spec.coords}' is not lowered"
    if spec.mode == "nearest" and spec.rounding not in ROUNDINGS:
        return f"Resize nearest_mode '{spec.rounding}' is not lowered"
    if spec.mode == "nearest" and spec.antialias:
        return "Resize nearest with antialias is not defined"
    inexact = _inexact_nearest(spec)
    if inexact is not None:
        return (f"Resize nearest with {spec.coords} and {inexact} given at run time is not "
                "lowered: float32 coordinates can round to another pixel than ONNX's")
    if len(set(spec.axes)) != len(spec.axes):
        return "Resize's axes repeat an axis"
    if spec.axes != (0, 1, 2, 3) and {0, 1} & set(spec.axes):
        return "Resize along the batch or channel axis has no TFLite lowering"
    if spec.policy not in {"stretch", "not_larger", "not_smaller"}:
        return f"Resize keep_aspect_ratio_policy '{spec.policy}' is not lowered"
    if spec.policy != "stretch" and spec.sizes and {0, 1} & set(spec.axes):
        return ("Resize keeping the aspect ratio is lowered with axes that leave out batch "
                "and channel")
    if spec.coords == "tf_crop_and_resize" and spec.roi is None:
        return "Resize tf_crop_and_resize needs roi"
    wanted = {spec.given: len(spec.axes)}
    if spec.roi is not None:
        wanted[spec.roi] = 2 * len(spec.axes)
    for index, length in wanted.items():
        shape = values.shape(node.inputs[index])
        if shape is None or list(shape) != [length]:
            return (f"{node.op_type}'s input {index} must have the static shape [{length}] "
                    "(one entry per axis)")
    return None


def _inexact_nearest(spec: Spec) -> str | None:
    """What makes nearest's float32 coordinate unsure of its side of a rounding tie (None:
    x is a quotient whose exact remainder decides, _resize_axis): the roi; for
    align_corners and half_pixel_symmetric, scales or a kept aspect ratio."""
    if spec.mode != "nearest":
        return None
    if spec.coords == "tf_crop_and_resize":
        return "roi"
    if spec.coords not in {"align_corners", "half_pixel_symmetric"}:
        return None
    if not spec.sizes:
        return "scales"
    return None if spec.policy == "stretch" else "sizes (keep_aspect_ratio_policy)"


def emit_dynamic(ctx: EmitContext, node: ir.Node) -> None:
    spec = spec_of(node, ctx.values)
    batch, channels, height, width = ctx.image_shape(node.inputs[0])
    given = ctx.input(node.inputs[spec.given])
    roi = ctx.input(node.inputs[spec.roi]) if spec.roi is not None else None
    inputs = {2: height, 3: width}
    axes = [Axis(a, spec.axes.index(a), inputs[a]) for a in (2, 3) if a in spec.axes]
    lengths = {2: ctx.int32([height]), 3: ctx.int32([width])}
    source = source_nhwc = ctx.input(node.inputs[0], NHWC)
    for axis in axes:
        weights = axis_weights(ctx, spec, axis, given, roi, inputs)
        # H: [N, H, W*C] rows; W: [N*H', W, C] lines; each a [m, n] @ [B, n, k]
        inner = [height, width * channels] if axis.onnx == 2 else [width, channels]
        flat = _reshape(ctx, source, ctx.int32([-1, *inner]))
        source = _apply(ctx, weights, flat)
        lengths[axis.onnx] = weights.length
    channel = _guarded_channels(ctx, spec, source_nhwc, given, channels)
    shape = ctx.temp("resize_shape", np.int32, [4])
    ctx.op("CONCATENATION", [ctx.int32([-1]), lengths[2], lengths[3], channel], [shape],
           options("ConcatenationOptions", axis=0))
    ctx.op("RESHAPE", [source, shape], [ctx.output(node.outputs[0], NHWC)])


def _reshape(ctx: EmitContext, tensor: int, shape: int) -> int:
    out = ctx.temp("resize_in", np.float32, None)
    ctx.op("RESHAPE", [tensor, shape], [out])
    return out


def _apply(ctx: EmitContext, weights, lines: int) -> int:
    """[m, n] @ [B, n, k] -> [B, m, k]; the extrapolated rows set to their value."""
    mixed = ctx.temp("resized", np.float32, None)
    ctx.op("BATCH_MATMUL", [weights.matrix, lines], [mixed], options("BatchMatMulOptions"))
    if weights.outside is None:
        return mixed
    done = ctx.temp("resized_cropped", np.float32, None)
    ctx.op("SELECT_V2", [weights.outside, weights.fill, mixed], [done])
    return done


def _guarded_channels(ctx: EmitContext, spec: Spec, image: int, given: int,
                      channels: int) -> int:
    """[C], plus the count of batch/channel entries that would resize those axes (and, for
    Upsample nearest, of scales below 1, where onnx and ONNX Runtime round differently):
    any such entry at run time makes the last RESHAPE fail."""
    if spec.axes != (0, 1, 2, 3):
        return ctx.int32([channels])
    dtype = np.int64 if spec.sizes else np.float32
    first = ctx.temp("resize_nc", dtype, [2])
    ctx.op("SLICE", [given, ctx.int32([0]), ctx.int32([2])], [first])
    if spec.sizes:
        expected = ctx.temp("resize_nc_in", np.int64, [2])
        whole = ctx.temp("resize_in_shape", np.int64, [4])  # of the NHWC image
        ctx.op("SHAPE", [image], [whole], options("ShapeOptions", outType=4))
        ctx.op("GATHER", [whole, ctx.int32([0, 3])], [expected], options("GatherOptions", axis=0))
    else:
        expected = ctx.const(np.ones(2, np.float32))
    wrong = ctx.temp("resize_nc_wrong", np.bool_, [2])
    ctx.op("NOT_EQUAL", [first, expected], [wrong])
    counts = ctx.temp("resize_nc_count", np.int32, [2])
    ctx.op("CAST", [wrong], [counts])
    if spec.upsample and spec.mode == "nearest":
        below = ctx.temp("resize_below_one", np.bool_, [4])
        ctx.op("LESS", [given, ctx.const(np.ones(4, np.float32))], [below])
        more = ctx.temp("resize_below_count", np.int32, [4])
        ctx.op("CAST", [below], [more])
        both = ctx.temp("resize_counts", np.int32, [6])
        ctx.op("CONCATENATION", [counts, more], [both], options("ConcatenationOptions", axis=0))
        counts = both
    bad = ctx.temp("resize_bad", np.int32, [1])
    ctx.op("SUM", [counts, ctx.int32([0])], [bad], options("ReducerOptions", keepDims=True))
    channel = ctx.temp("resize_channels", np.int32, [1])
    ctx.op("ADD", [ctx.int32([channels]), bad], [channel], options("AddOptions"))
    return channel
