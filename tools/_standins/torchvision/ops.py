"""torchvision.ops as onnx2torch uses it, in plain torch (no model in the benchmark has NMS
or RoiAlign; these exist so that the import succeeds and a stray use is still correct)."""

from __future__ import annotations

import torch
from torch import Tensor


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    if (in_fmt, out_fmt) != ("cxcywh", "xyxy"):
        raise NotImplementedError(f"stand-in box_convert: {in_fmt} -> {out_fmt}")
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS over xyxy boxes: indices kept, by decreasing score."""
    order = torch.argsort(scores, descending=True)
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    kept: list[int] = []
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    for rank, index in enumerate(order.tolist()):
        if suppressed[rank]:
            continue
        kept.append(index)
        rest = order[rank + 1:]
        low = torch.maximum(boxes[index, :2], boxes[rest, :2])
        high = torch.minimum(boxes[index, 2:], boxes[rest, 2:])
        inter = (high - low).clamp(min=0).prod(-1)
        iou = inter / (area[index] + area[rest] - inter)
        suppressed[rank + 1:] |= iou > iou_threshold
    return torch.tensor(kept, dtype=torch.int64)


def roi_align(*args, **kwargs) -> Tensor:
    raise NotImplementedError("the benchmark's stand-in torchvision has no roi_align")
