"""CenterCropPad as PAD then SLICE, both by amounts known when converting.

Along each of `axes`, a dim smaller than the target size is padded with zeros, (target -
size) // 2 in front and the rest behind; a larger one is cut to the target, starting at
(size - target) // 2: ONNX's function body, computed here from the static input shape and
the target sizes. Those are the `shape` input where it is known when converting; else the
output's static shape, which the sizes decide (a run giving other sizes would produce an
output of another shape than the model's own output type says).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import (
    NUMERIC,
    EmitContext,
    Lowering,
    attr,
    entry,
    known,
    static_shape,
)


def _targets(node: ir.Node, values) -> tuple[int, ...] | str:
    """The output's size along every dim, or why it is not known when converting."""
    shape = static_shape(values, node.inputs[0])
    if shape is None:
        return "CenterCropPad needs a static input shape"
    axes = [a % len(shape) for a in (attr(node, "axes") or range(len(shape)))]
    given = known(node.inputs[1], values)
    if given is not None:
        sizes = [int(s) for s in np.asarray(given).reshape(-1)]
        if len(sizes) != len(axes):
            return "CenterCropPad's shape has not one size per axis"
        targets = list(shape)
        for axis, size in zip(axes, sizes, strict=True):
            targets[axis] = size
        return tuple(targets)
    out = static_shape(values, node.outputs[0])
    if out is None or len(out) != len(shape):
        return "CenterCropPad's shape (input 1) must be a constant where the output shape " \
            "is not static"
    if any(out[d] != shape[d] for d in range(len(shape)) if d not in axes):
        return "CenterCropPad's output shape differs from the input outside its axes"
    return out


def check_center_crop_pad(node: ir.Node, values) -> str | None:
    found = _targets(node, values)
    if isinstance(found, str):
        return found
    if any(size < 1 for size in found):
        return "CenterCropPad to an empty size is not lowered"
    return None


def emit_center_crop_pad(ctx: EmitContext, node: ir.Node) -> None:
    shape = ctx.shape(node.inputs[0])
    targets = _targets(node, ctx.values)
    source = ctx.input(node.inputs[0])
    pads = np.zeros((len(shape), 2), np.int32)
    for axis, (size, target) in enumerate(zip(shape, targets, strict=True)):
        if target > size:
            pads[axis] = [(target - size) // 2, target - size - (target - size) // 2]
    padded_shape = [max(size, target) for size, target in zip(shape, targets, strict=True)]
    if pads.any():
        padded = ctx.temp("padded", ctx.dtype(node.inputs[0]), padded_shape)
        ctx.op("PAD", [source, ctx.const(pads, "pads")], [padded])
        source = padded
    begin = [(size - target) // 2 for size, target in zip(padded_shape, targets, strict=True)]
    ctx.op("SLICE", [source, ctx.int32(begin), ctx.int32(list(targets))],
           [ctx.output(node.outputs[0])])


def entries() -> dict[str, list[Lowering]]:
    return {"CenterCropPad": [entry(("PAD", "SLICE"), emit_center_crop_pad,
                                    dtypes=NUMERIC,
                                    check=check_center_crop_pad, since=18)]}
