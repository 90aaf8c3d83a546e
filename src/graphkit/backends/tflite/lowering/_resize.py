"""Resize where no TFLite builtin matches (cubic, the nearest roundings and coordinate
modes RESIZE_NEAREST_NEIGHBOR lacks, tf_crop_and_resize, antialias, scales that are not
the size ratio): every ONNX Resize mode is separable, each output pixel a fixed weighted
sum of input pixels along each axis, so with static sizes it is two matrix products.

The weights along an axis are what ONNX's Resize gives for the unit vectors: the same
node (mode, coordinate mode, rounding, cubic coefficient, antialias, roi and scale of that
axis) run by onnx's reference evaluator on an identity image. On the NHWC image
[N, H, W, C]: BATCH_MATMUL(A_h, [N, H, W*C]) then BATCH_MATMUL(A_w, [N*H', W, C])."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    NHWC,
    EmitContext,
    attr,
    const_or_dequantized,
    static_but_batch,
)

MAX_SIDE = 2048  # an axis's matrix is out x in floats, kept in the model
ATTRIBUTES = ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
              "exclude_outside", "extrapolation_value", "antialias")


def _given(node: ir.Node, index: int) -> np.ndarray | None:
    value = node.inputs[index] if index < len(node.inputs) else None
    if value is None:
        return None
    array = const_or_dequantized(value)
    return None if array is None or array.size == 0 else array


def check_separable(node: ir.Node, values) -> str | None:
    """Why the matrix form cannot lower the node (None: it can)."""
    if attr(node, "mode", "nearest") not in {"nearest", "linear", "cubic"}:
        return f"Resize mode '{attr(node, 'mode')}' is not lowered"
    if attr(node, "axes") is not None:
        return "Resize with axes is not lowered"
    if attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        return "Resize with keep_aspect_ratio_policy is not lowered"
    # roi is read by tf_crop_and_resize only, which takes it at run time (_resize_dynamic)
    for index, what in ((2, "scales"), (3, "sizes")):
        value = node.inputs[index] if index < len(node.inputs) else None
        if value is not None and value.name and const_or_dequantized(value) is None:
            return f"Resize's {what} (input {index}) must be a constant"
    source = static_but_batch(values, node.inputs[0])
    out = static_but_batch(values, node.outputs[0])
    if source is None or out is None:
        return "Resize needs static channel and spatial input and output dims"
    if max(*source[2:], *out[2:]) > MAX_SIDE:
        return f"Resize beyond {MAX_SIDE} pixels a side is not lowered"
    return None


def axis_matrix(node: ir.Node, axis: int, size: int, out: int) -> np.ndarray:
    """[out, size]: the weights ONNX's Resize gives along `axis` (2: H, 3: W)."""
    scales, roi = _given(node, 2), _given(node, 1)
    kept = {name: attr(node, name) for name in ATTRIBUTES if attr(node, name) is not None}
    inputs = ["x", "roi" if roi is not None else "", "", ""]
    initializers = []
    if roi is not None:
        roi = np.asarray(roi, np.float32)
        start, end = roi[axis], roi[axis + 4]
        initializers.append(onnx.numpy_helper.from_array(
            np.asarray([0, 0, 0, start, 1, 1, 1, end], np.float32), "roi"))
    if scales is not None:
        inputs[2] = "scales"
        initializers.append(onnx.numpy_helper.from_array(
            np.asarray([1, 1, 1, scales[axis]], np.float32), "scales"))
    else:
        inputs[3] = "sizes"
        initializers.append(onnx.numpy_helper.from_array(
            np.asarray([1, size, 1, out], np.int64), "sizes"))
    made = onnx.helper.make_node("Resize", inputs, ["y"], **kept)
    graph = onnx.helper.make_graph(
        [made], "axis", [onnx.helper.make_tensor_value_info("x", 1, [1, size, 1, size])],
        [onnx.helper.make_tensor_value_info("y", 1, None)], initializers)
    # opset 19: Resize's newest definition, which reads every earlier one's attributes alike
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 19)])
    from onnx.reference import ReferenceEvaluator

    identity = np.eye(size, dtype=np.float32).reshape(1, size, 1, size)
    (result,) = ReferenceEvaluator(model).run(None, {"x": identity})
    weights = np.asarray(result, np.float32).reshape(size, -1).T
    if weights.shape != (out, size):
        raise ValueError(f"Resize '{node.name}': the weights along axis {axis} came out "
                         f"{weights.shape}, not {(out, size)}")
    return np.ascontiguousarray(weights)


def emit_separable(ctx: EmitContext, node: ir.Node) -> None:
    batch, channels, height, width = ctx.image_shape(node.inputs[0])
    _, _, out_h, out_w = ctx.image_shape(node.outputs[0])
    rows = axis_matrix(node, 2, height, out_h)
    cols = axis_matrix(node, 3, width, out_w)
    source = ctx.input(node.inputs[0], NHWC)
    flat = ctx.temp("resize_rows_in", np.float32, [batch, height, width * channels])
    ctx.op("RESHAPE", [source, ctx.int32([-1, height, width * channels])], [flat])
    mixed = ctx.temp("resize_rows", np.float32, [batch, out_h, width * channels])
    ctx.op("BATCH_MATMUL", [ctx.const(rows, "resize_rows"), flat], [mixed],
           options("BatchMatMulOptions"))
    lines = ctx.temp("resize_cols_in", np.float32, [batch * out_h, width, channels])
    ctx.op("RESHAPE", [mixed, ctx.int32([-1, width, channels])], [lines])
    done = ctx.temp("resize_cols", np.float32, [batch * out_h, out_w, channels])
    ctx.op("BATCH_MATMUL", [ctx.const(cols, "resize_cols"), lines], [done],
           options("BatchMatMulOptions"))
    ctx.op("RESHAPE", [done, ctx.int32([-1, out_h, out_w, channels])],
           [ctx.output(node.outputs[0], NHWC)])
