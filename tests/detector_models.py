"""A small real detector built in code, shared by the nms and fix tests.

A torch conv backbone (exported with torch.onnx.export, dynamo=False) whose head emits
boxes and scores, plus what exporters leave around NMS: Slice/Transpose in, int64
Gather/GatherND out. Also EfficientNMS's semantics in numpy, the reference for the
padded (native) form.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.ir import model_from_proto

CLASSES, PER_CLASS, IOU, SCORE = 3, 10, 0.5, 0.3


def efficient_nms_reference(boxes, scores_bnc, iou_thr, score_thr, k, center=False):
    """EfficientNMS semantics in numpy: per-class greedy NMS, top k over classes, zero padded."""
    if center:
        xy, wh = boxes[..., :2], boxes[..., 2:]
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=-1)
    batch = boxes.shape[0]
    out = (
        np.zeros((batch, 1), np.int32),
        np.zeros((batch, k, 4), np.float32),
        np.zeros((batch, k), np.float32),
        np.zeros((batch, k), np.int32),
    )
    for b in range(batch):
        found = []
        for c in range(scores_bnc.shape[2]):
            s = scores_bnc[b, :, c]
            kept: list[int] = []
            for i in sorted(np.flatnonzero(s > score_thr), key=lambda i: -s[i]):
                if all(_iou(boxes[b, i], boxes[b, j]) <= iou_thr for j in kept):
                    kept.append(i)
            found += [(s[i], c, i) for i in kept]
        found = sorted(found, key=lambda d: -d[0])[:k]
        out[0][b, 0] = len(found)
        for row, (score, c, i) in enumerate(found):
            out[1][b, row], out[2][b, row], out[3][b, row] = boxes[b, i], score, c
    return out


def _iou(a, b):
    a = np.array([min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])])
    b = np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])])
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@functools.cache
def torch_head_bytes() -> bytes:
    """A conv backbone whose head emits [1, 64, 4 + classes]: corner boxes and sigmoid scores."""
    import torch

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Conv2d(3, 16, 3, stride=2, padding=1),
                torch.nn.ReLU(),
                torch.nn.Conv2d(16, 16, 3, stride=2, padding=1),
                torch.nn.ReLU(),
            )
            self.out = torch.nn.Conv2d(16, 4 + CLASSES, 1)

        def forward(self, image):
            raw = self.out(self.body(image)).flatten(2).transpose(1, 2)  # [1, 64, 4 + C]
            corner = torch.sigmoid(raw[..., :2]) * 100
            boxes = torch.cat([corner, corner + torch.sigmoid(raw[..., 2:4]) * 30 + 1], dim=2)
            return torch.cat([boxes, torch.sigmoid(raw[..., 4:])], dim=2)

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.onnx.export(
        Head().eval(),
        (torch.randn(1, 3, 32, 32),),
        buffer,
        dynamo=False,
        opset_version=13,
        input_names=["image"],
        output_names=["head"],
    )
    return buffer.getvalue()


def detector() -> ir.Model:
    """The torch head plus what exporters leave around NMS: Slice/Transpose in, int64 Gather out."""
    proto = onnx.load_from_string(torch_head_bytes())
    tail = onnx.parser.parse_graph(f"""
    tail (float[1, 64, 7] head)
        => (float[M, 4] det_boxes, float[M] det_scores, int64[M] det_classes) {{
        s0 = Constant <value = int64[1] {{0}}> ()
        s4 = Constant <value = int64[1] {{4}}> ()
        s7 = Constant <value = int64[1] {{7}}> ()
        ax = Constant <value = int64[1] {{2}}> ()
        boxes = Slice(head, s0, s4, ax)
        raw_scores = Slice(head, s4, s7, ax)
        scores = Transpose <perm = [0, 2, 1]> (raw_scores)
        per_class = Constant <value = int64[1] {{{PER_CLASS}}}> ()
        iou = Constant <value = float[1] {{{IOU}}}> ()
        thr = Constant <value = float[1] {{{SCORE}}}> ()
        selected = NonMaxSuppression(boxes, scores, per_class, iou, thr)
        one = Constant <value = int64 {{1}}> ()
        two = Constant <value = int64 {{2}}> ()
        det_classes = Gather <axis = 1> (selected, one)
        box_index = Gather <axis = 1> (selected, two)
        flat_boxes = Squeeze(boxes, s0)
        det_boxes = Gather <axis = 0> (flat_boxes, box_index)
        det_scores = GatherND(scores, selected)
    }}""")
    return _append_tail(proto, tail)


def detector_with_topk() -> ir.Model:
    """The torch head with a YOLO-style pre-selection: the top 32 boxes by best class score
    (ReduceMax, TopK), each box's best class (ArgMax), all int64 index ops, then NMS on the 32."""
    proto = onnx.load_from_string(torch_head_bytes())
    tail = onnx.parser.parse_graph(f"""
    tail (float[1, 64, 7] head) => (float[M, 4] det_boxes, float[M] det_scores,
                                    int64[M] det_classes, int64[M] det_best_class) {{
        s0 = Constant <value = int64[1] {{0}}> ()
        s4 = Constant <value = int64[1] {{4}}> ()
        s7 = Constant <value = int64[1] {{7}}> ()
        ax = Constant <value = int64[1] {{2}}> ()
        k = Constant <value = int64[1] {{32}}> ()
        boxes = Slice(head, s0, s4, ax)
        classes = Slice(head, s4, s7, ax)
        best = ReduceMax <axes = [2], keepdims = 0> (classes)
        top_scores, top_index = TopK <axis = 1> (best, k)
        pick = Squeeze(top_index, s0)
        top_boxes = Gather <axis = 1> (boxes, pick)
        top_classes = Gather <axis = 1> (classes, pick)
        scores = Transpose <perm = [0, 2, 1]> (top_classes)
        best_class = ArgMax <axis = 2, keepdims = 0> (top_classes)
        per_class = Constant <value = int64[1] {{{PER_CLASS}}}> ()
        iou = Constant <value = float[1] {{{IOU}}}> ()
        thr = Constant <value = float[1] {{{SCORE}}}> ()
        selected = NonMaxSuppression(top_boxes, scores, per_class, iou, thr)
        one = Constant <value = int64 {{1}}> ()
        two = Constant <value = int64 {{2}}> ()
        det_classes = Gather <axis = 1> (selected, one)
        box_index = Gather <axis = 1> (selected, two)
        flat_boxes = Squeeze(top_boxes, s0)
        flat_best = Squeeze(best_class, s0)
        det_boxes = Gather <axis = 0> (flat_boxes, box_index)
        det_best_class = Gather <axis = 0> (flat_best, box_index)
        det_scores = GatherND(scores, selected)
    }}""")
    return _append_tail(proto, tail)


def _append_tail(proto: onnx.ModelProto, tail: onnx.GraphProto) -> ir.Model:
    """The torch head with `tail` after it: the tail's outputs become the model's."""
    proto.graph.node.extend(tail.node)
    proto.graph.value_info.extend(proto.graph.output)  # "head" keeps its declared type and shape
    del proto.graph.output[:]
    proto.graph.output.extend(tail.output)
    onnx.checker.check_model(proto, full_check=True)
    return model_from_proto(proto)
