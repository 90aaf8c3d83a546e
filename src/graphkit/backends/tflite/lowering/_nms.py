"""ONNX NonMaxSuppression as one NON_MAX_SUPPRESSION_V4 per batch and class.

The builtin takes one image's boxes [N, 4] and one class's scores [N], and returns the
kept indices (padded to max_output_size) and how many are valid. ONNX's output is every
kept box of every (batch, class) as a [batch, class, box] triplet, in batch then class
order, each class's boxes by falling score (the builtin's order too): for each pair the
valid indices are gathered (RANGE of the count), given their batch and class columns
(PACK), and the pairs are concatenated. The count of rows is known only when the model runs.

IoU is the same for boxes given as [y1, x1, y2, x2] or [x1, y1, x2, y2], and both sides
order a box's corners themselves, so corner boxes go in as they are; center_point_box=1
boxes [xc, yc, w, h] become corners with one FULLY_CONNECTED.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    static_shape,
)

MAX_CALLS = 1024  # batch * classes: one builtin each
# [xc, yc, w, h] @ CENTER_TO_CORNERS.T = [xc - w/2, yc - h/2, xc + w/2, yc + h/2]
CENTER_TO_CORNERS = np.array([[1, 0, -0.5, 0], [0, 1, 0, -0.5], [1, 0, 0.5, 0], [0, 1, 0, 0.5]],
                             np.float32)
CUT = "graphkit fix --nms cut"
BUILTINS = ("NON_MAX_SUPPRESSION_V4", "UNPACK", "RESHAPE", "RANGE", "GATHER", "MUL", "ADD",
            "PACK", "CONCATENATION", "CAST", "FULLY_CONNECTED", "MINIMUM", "BITCAST")


def _scalar(node: ir.Node, index: int) -> np.ndarray | None:
    value = node.inputs[index] if index < len(node.inputs) else None
    array = const_or_dequantized(value)
    return None if array is None else array.reshape(-1)


def check_nms(node: ir.Node, values) -> str | None:
    boxes = static_shape(values, node.inputs[0])
    scores = static_shape(values, node.inputs[1])
    if boxes is None or scores is None:
        return ("NonMaxSuppression needs static box and score shapes (graphkit fix --pin "
                f"makes them static, or {CUT} moves NMS to a post-processing model)")
    for index, what in ((2, "max_output_boxes_per_class"), (3, "iou_threshold"),
                        (4, "score_threshold")):
        value = node.inputs[index] if index < len(node.inputs) else None
        array = _scalar(node, index)
        one = array.size == 1 if array is not None else \
            values.shape(value) in ((), (1,)) if value is not None else True
        if not one:
            return f"NonMaxSuppression's {what} (input {index}) must hold one value"
    limit = _scalar(node, 2)
    if len(node.inputs) < 3 or node.inputs[2] is None or limit is not None and limit[0] <= 0:
        return "NonMaxSuppression with max_output_boxes_per_class 0 selects nothing"
    if boxes[0] * scores[1] > MAX_CALLS:
        return (f"NonMaxSuppression over {boxes[0]} images x {scores[1]} classes is over "
                f"{MAX_CALLS} builtin calls ({CUT} moves NMS to a post-processing model)")
    return None


def emit_nms(ctx: EmitContext, node: ir.Node) -> None:
    batch, count, _ = ctx.shape(node.inputs[0])
    classes = ctx.shape(node.inputs[1])[1]
    per_image = _boxes(ctx, node, batch, count)
    scores = ctx.temp("nms_scores", np.float32, [batch * classes, count])
    ctx.op("RESHAPE", [ctx.input(node.inputs[1]), ctx.int32([batch * classes, count])], [scores])
    per_class = _unpack(ctx, scores, batch * classes, [count], np.float32)
    limit = _scalar(node, 2)
    keep = min(int(limit[0]), count) if limit is not None else count
    arguments = [_max_output(ctx, node, keep), _iou(ctx, node), _score(ctx, node)]
    rows = [_triplets(ctx, per_image[b], per_class[b * classes + c], arguments, keep, b, c)
            for b in range(batch) for c in range(classes)]
    found = rows[0]
    if len(rows) > 1:
        found = ctx.temp("nms_rows", np.int32, [keep * len(rows), 3])
        ctx.op("CONCATENATION", rows, [found], options("ConcatenationOptions", axis=0))
    ctx.op("CAST", [found], [ctx.output(node.outputs[0])])


def _given(ctx: EmitContext, node: ir.Node, index: int, dtype) -> int | None:
    """A non-constant one-value input as a scalar of `dtype` (None: absent or constant)."""
    value = node.inputs[index] if index < len(node.inputs) else None
    if value is None or const_or_dequantized(value) is not None:
        return None
    tensor = ctx.input(value)
    if ctx.dtype(value) != np.dtype(dtype):
        cast = ctx.temp("nms_cast", dtype, ctx.shape_or_none(value))
        ctx.op("CAST", [tensor], [cast])
        tensor = cast
    scalar = ctx.temp("nms_scalar", dtype, [])
    ctx.op("RESHAPE", [tensor, ctx.int32([])], [scalar])
    return scalar


def _max_output(ctx: EmitContext, node: ir.Node, keep: int) -> int:
    given = _given(ctx, node, 2, np.int32)
    if given is None:
        return ctx.const(np.asarray(keep, np.int32), "nms_max")
    capped = ctx.temp("nms_max", np.int32, [])  # at most the box count
    ctx.op("MINIMUM", [given, ctx.const(np.asarray(keep, np.int32))], [capped])
    return capped


def _iou(ctx: EmitContext, node: ir.Node) -> int:
    """ONNX suppresses a box whose IoU is over the threshold, the builtin one whose IoU is
    at least its threshold: the next float32 up gives ONNX's (disjoint boxes, IoU 0, stay
    under ONNX's default threshold 0). A threshold given at run time is stepped up the same
    way, on its bits (BITCAST, + 1: the next float for a threshold >= 0)."""
    given = _given(ctx, node, 3, np.float32)
    if given is None:
        iou = _scalar(node, 3)
        threshold = np.float32(iou[0] if iou is not None else 0.0)
        return ctx.const(np.nextafter(threshold, np.float32(np.inf), dtype=np.float32), "iou")
    bits = ctx.temp("iou_bits", np.int32, [])
    ctx.op("BITCAST", [given], [bits])
    stepped = ctx.temp("iou_next_bits", np.int32, [])
    ctx.op("ADD", [bits, ctx.const(np.asarray(1, np.int32))], [stepped], options("AddOptions"))
    out = ctx.temp("iou", np.float32, [])
    ctx.op("BITCAST", [stepped], [out])
    return out


def _score(ctx: EmitContext, node: ir.Node) -> int:
    given = _given(ctx, node, 4, np.float32)
    if given is not None:
        return given
    threshold = _scalar(node, 4)  # none: every score counts
    value = threshold[0] if threshold is not None else np.finfo(np.float32).min
    return ctx.const(np.asarray(value, np.float32), "score")


def _boxes(ctx: EmitContext, node: ir.Node, batch: int, count: int) -> list[int]:
    boxes = ctx.input(node.inputs[0])
    if attr(node, "center_point_box", 0):
        corners = ctx.temp("nms_corners", np.float32, [batch, count, 4])
        ctx.op("FULLY_CONNECTED", [boxes, ctx.const(CENTER_TO_CORNERS, "corners"), -1],
               [corners], options("FullyConnectedOptions", keepNumDims=True))
        boxes = corners
    return _unpack(ctx, boxes, batch, [count, 4], np.float32)


def _unpack(ctx: EmitContext, tensor: int, num: int, shape: list[int], dtype) -> list[int]:
    parts = [ctx.temp("nms_part", dtype, shape) for _ in range(num)]
    ctx.op("UNPACK", [tensor], parts, options("UnpackOptions", num=num, axis=0))
    return parts


def _triplets(ctx: EmitContext, boxes: int, scores: int, arguments: list[int], keep: int,
              batch: int, klass: int) -> int:
    """[valid, 3] int32 rows [batch, class, index] of one image and class."""
    indices = ctx.temp("nms_indices", np.int32, [keep])
    valid = ctx.temp("nms_valid", np.int32, [])
    ctx.op("NON_MAX_SUPPRESSION_V4", [boxes, scores, *arguments], [indices, valid],
           options("NonMaxSuppressionV4Options"))
    positions = ctx.temp("nms_positions", np.int32, [keep])  # 0 .. valid - 1
    ctx.op("RANGE", [ctx.int32(0), valid, ctx.int32(1)], [positions])
    kept = ctx.temp("nms_kept", np.int32, [keep])
    ctx.op("GATHER", [indices, positions], [kept], options("GatherOptions", axis=0))
    zero = ctx.temp("nms_zero", np.int32, [keep])
    ctx.op("MUL", [kept, ctx.int32(0)], [zero], options("MulOptions"))
    columns = [_plus(ctx, zero, batch), _plus(ctx, zero, klass), kept]
    rows = ctx.temp("nms_rows", np.int32, [keep, 3])
    ctx.op("PACK", columns, [rows], options("PackOptions", valuesCount=3, axis=1))
    return rows


def _plus(ctx: EmitContext, zero: int, value: int) -> int:
    if value == 0:
        return zero
    out = ctx.temp("nms_column", np.int32, ctx.builder.tensors[zero].shape)
    ctx.op("ADD", [zero, ctx.int32(value)], [out], options("AddOptions"))
    return out


def entries() -> dict[str, list[Lowering]]:
    return {"NonMaxSuppression": [entry(BUILTINS, emit_nms, dtype_inputs=(0, 1),
                                        check=check_nms, since=11)]}
