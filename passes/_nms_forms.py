"""Target forms of NMS: TensorRT's EfficientNMS_TRT plugin node and a fixed-size padded form
in ONNX ops.

Both give EfficientNMS's four outputs: num_detections [B, 1] int32, detection_boxes
[B, K, 4] (corners), detection_scores [B, K], detection_classes [B, K] int32, the top K
detections over all classes by score, padded with zeros past num_detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passes._decompose_activation import attr
from graphkit.rewrite import Builder, Decline, const_array, static_shape

PLUGIN_DOMAIN = "TRT"  # the domain TensorRT's ONNX parser maps to its plugin registry
DETECTION_OUTPUTS = ("num_detections", "detection_boxes", "detection_scores", "detection_classes")


@dataclass(frozen=True)
class NmsSpec:
    """What an ONNX NonMaxSuppression node asks for, read from its constant inputs."""

    boxes: ir.Value  # [B, N, 4]
    scores: ir.Value  # [B, C, N]
    max_per_class: int
    iou_threshold: float
    score_threshold: float | None
    center_point_box: int


def read_nms(node: ir.Node) -> NmsSpec:
    inputs = list(node.inputs) + [None] * (5 - len(node.inputs))
    consts = [const_array(value) if value is not None else None for value in inputs[2:]]
    for name, value, array in zip(
            ("max_output_boxes_per_class", "iou_threshold", "score_threshold"), inputs[2:], consts):
        if value is not None and array is None:
            raise Decline(f"{name} is computed at run time; the target forms need it constant")
    max_per_class = int(consts[0].reshape(())) if consts[0] is not None else 0
    iou = float(consts[1].reshape(())) if consts[1] is not None else 0.0
    score = float(consts[2].reshape(())) if consts[2] is not None else None
    return NmsSpec(inputs[0], inputs[1], max_per_class, iou, score,
                   attr(node, "center_point_box", 0))


def max_detections(spec: NmsSpec, requested: int) -> int:
    """The static K: the option when given, else every box NMS could keep (per class x classes)."""
    if requested > 0:
        return requested
    shape = static_shape(spec.scores)
    if shape is None or spec.max_per_class <= 0:
        raise Decline("set max-detections: the class count or per-class limit is not static")
    return spec.max_per_class * shape[1]


def plugin(op: Builder, spec: NmsSpec, k: int) -> tuple[ir.Value, ...]:
    """EfficientNMS_TRT(boxes [B,N,4], scores [B,N,C]) with the ONNX node's thresholds."""
    scores_bnc = op.Transpose(spec.scores, perm=[0, 2, 1])
    outputs = op.op(
        "EfficientNMS_TRT", spec.boxes, scores_bnc, _outputs=4, _domain=PLUGIN_DOMAIN,
        background_class=-1,
        box_coding=spec.center_point_box,  # 0: corners, 1: center + size, as in ONNX
        iou_threshold=spec.iou_threshold,
        max_output_boxes=k,
        plugin_version="1",
        score_activation=0,
        score_threshold=spec.score_threshold if spec.score_threshold is not None else 0.0,
    )
    batch = (spec.boxes.shape or [None])[0]
    _declare(op, outputs, batch, k, spec.boxes.dtype)
    return outputs


def padded(op: Builder, node: ir.Node, spec: NmsSpec, k: int) -> tuple[ir.Value, ...]:
    """ONNX NMS, then the top k detections by score, padded to exactly k (batch 1)."""
    if static_shape(spec.boxes) is None or static_shape(spec.boxes)[0] != 1:
        raise Decline("the padded form is written for a static batch of 1")
    i64 = lambda *v: op.const(np.array(v, np.int64))  # noqa: E731
    selected = node.outputs[0]  # [M, 3]: (batch, class, box)
    scores = op.GatherND(spec.scores, selected)  # [M]
    count = op.Min(op.Shape(scores), i64(k))  # [1]
    top_scores, order = op.TopK(scores, count, axis=0, largest=1, sorted=1, _outputs=2)
    ranked = op.Gather(selected, order, axis=0)  # [count, 3]
    classes = op.Reshape(op.Gather(ranked, i64(1), axis=1), i64(1, -1))
    box_index = op.Reshape(op.Gather(ranked, i64(2), axis=1), i64(-1))
    boxes = op.Gather(spec.boxes, box_index, axis=1)  # [1, count, 4]
    if spec.center_point_box:
        boxes = _corners(op, boxes)
    dtype = boxes.dtype.numpy() if boxes.dtype else np.float32
    outputs = (
        op.Reshape(op.Cast(count, to=ir.DataType.INT32), i64(1, 1)),
        _pad_to(op, boxes, np.zeros((1, k, 4), dtype), k),
        _pad_to(op, op.Reshape(top_scores, i64(1, -1)), np.zeros((1, k), dtype), k),
        _pad_to(op, op.Cast(classes, to=ir.DataType.INT32), np.zeros((1, k), np.int32), k),
    )
    _declare(op, outputs, 1, k, spec.boxes.dtype)
    return outputs


def _pad_to(op: Builder, x: ir.Value, zeros: np.ndarray, k: int) -> ir.Value:
    """x [1, count, ...] -> [1, k, ...] zero padded: append k zeros, keep the first k. Unlike a Pad
    by (k - count), every shape input is constant, which TFLite's PAD/SLICE lowering needs."""
    i64 = lambda *v: op.const(np.array(v, np.int64))  # noqa: E731
    return op.Slice(op.Concat(x, op.const(zeros), axis=1), i64(0), i64(k), i64(1))


def _corners(op: Builder, boxes: ir.Value) -> ir.Value:
    """[x, y, w, h] -> [x - w/2, y - h/2, x + w/2, y + h/2], as EfficientNMS always outputs
    corners.
    """
    i64 = lambda *v: op.const(np.array(v, np.int64))  # noqa: E731
    center, size = op.Slice(boxes, i64(0), i64(2), i64(2)), op.Slice(boxes, i64(2), i64(4), i64(2))
    half = op.Mul(size, op.const(np.array(0.5, boxes.dtype.numpy() if boxes.dtype else np.float32)))
    return op.Concat(op.Sub(center, half), op.Add(center, half), axis=2)


def _declare(op: Builder, outputs: tuple[ir.Value, ...], batch: object, k: int,
             dtype: ir.DataType | None) -> None:
    count, boxes, scores, classes = outputs
    for value, name in zip(outputs, DETECTION_OUTPUTS):
        # the plugin's own output names, unless the model uses them already
        if name not in op.taken:
            op.taken.add(name)
            value.name = name
    count.type, count.shape = ir.TensorType(ir.DataType.INT32), ir.Shape([batch, 1])
    boxes.type, boxes.shape = ir.TensorType(dtype or ir.DataType.FLOAT), ir.Shape([batch, k, 4])
    scores.type, scores.shape = ir.TensorType(dtype or ir.DataType.FLOAT), ir.Shape([batch, k])
    classes.type, classes.shape = ir.TensorType(ir.DataType.INT32), ir.Shape([batch, k])
