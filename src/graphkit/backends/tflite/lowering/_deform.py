"""DeformConv (2-D): a convolution whose kernel taps are moved by the offsets.

Kernel tap (a, b) of output pixel (i, j), in offset group o, samples the image at
  y = i * stride_h - pad_top + a * dilation_h + offset[n, o, a, b, 0, i, j]   (x alike)
bilinearly, a pixel outside the image reading 0 (GridSample linear, zeros, align_corners,
as onnx's reference computes it), times mask[n, o, a, b, i, j] where there is a mask. The
samples of all taps come from one GATHER ([N * offset_group, kh*kw*OH*OW, C/offset_group]),
laid out as im2col columns [N*OH*OW, C*kh*kw]; the convolution is then one BATCH_MATMUL
with the weights per group, and ADD of the bias.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    NHWC,
    EmitContext,
    Lowering,
    attr,
    entry,
    static_but_batch,
    static_shape,
)
from graphkit.backends.tflite.lowering._calc import Calc, T
from graphkit.backends.tflite.lowering._col2im import window_reason
from graphkit.backends.tflite.lowering._grid import combine, gather_taps, taps_at

MAX_READ = 1 << 24  # taps x channels read by the one GATHER


def _given(node: ir.Node, index: int) -> ir.Value | None:
    return node.inputs[index] if index < len(node.inputs) else None


def check_deform_conv(node: ir.Node, values) -> str | None:
    shape, weight = static_but_batch(values, node.inputs[0]), static_shape(values, node.inputs[1])
    offset = static_but_batch(values, node.inputs[2])
    if shape is None or weight is None or offset is None:
        return "DeformConv needs static X (but for the batch), W and offset shapes"
    if len(shape) != 4:
        return "DeformConv is lowered for 2-D images (4-D X) only"
    group, offsets = attr(node, "group", 1), attr(node, "offset_group", 1)
    bad = window_reason(node, 2)
    if bad is not None or group < 1 or offsets < 1:
        return bad or "DeformConv's group and offset_group must be at least 1"
    kernel = tuple(attr(node, "kernel_shape") or weight[2:])
    if tuple(weight[2:]) != kernel or shape[1] != weight[1] * group or weight[0] % group \
            or shape[1] % offsets or offset[1] != offsets * kernel[0] * kernel[1] * 2:
        return "DeformConv's X, W and offset shapes do not fit its group and offset_group"
    mask = _given(node, 4)
    if mask is not None and static_but_batch(values, mask) != (offset[0], offset[1] // 2,
                                                                *offset[2:]):
        return "DeformConv needs a static mask shape [N, offset_group*kh*kw, OH, OW]"
    if np.prod(offset) * 2 * shape[1] // offsets > MAX_READ:
        return f"DeformConv reading over {MAX_READ} taps is not lowered"
    return None


def _sample_coordinates(calc: Calc, offset: T, node: ir.Node, kernel, out) -> tuple[T, T]:
    """y and x of every tap: [N*og, kh*kw*OH*OW, 1] each."""
    rows = offset.shape[0]  # N * offset_group
    dilations = attr(node, "dilations") or [1, 1]
    strides = attr(node, "strides") or [1, 1]
    pads = attr(node, "pads") or [0, 0, 0, 0]
    a, b, i, j = np.meshgrid(*(np.arange(n) for n in (*kernel, *out)), indexing="ij")
    base = (i * strides[0] - pads[0] + a * dilations[0],
            j * strides[1] - pads[1] + b * dilations[1])
    points = int(np.prod(kernel) * np.prod(out))
    coords = []
    for axis in (0, 1):
        moved = calc.reshape(calc.take(offset, 2, axis, axis + 1), [rows, points, 1])
        coords.append(calc.add(calc.const(base[axis].reshape(1, points, 1)), moved))
    return coords[0], coords[1]


def emit_deform_conv(ctx: EmitContext, node: ir.Node) -> None:
    x, w, offset_value = node.inputs[:3]
    calc = Calc(ctx, dynamic=static_shape(ctx.values, x) is None)  # the batch at run time
    batch, channels, height, width = ctx.image_shape(x)
    filters, per_group, kh, kw = ctx.shape(w)
    group, offsets = attr(node, "group", 1), attr(node, "offset_group", 1)
    out = ctx.image_shape(offset_value)[2:]
    taps_count, pixels_out = kh * kw, out[0] * out[1]
    rows, per_offset = batch * offsets, channels // offsets
    offset = calc.reshape(calc.tensor(ctx.input(offset_value), ctx.image_shape(offset_value),
                                      np.float32), [rows, taps_count, 2, pixels_out])
    ys, xs = _sample_coordinates(calc, offset, node, (kh, kw), out)
    taps = combine(calc, taps_at(calc, ys, height, "linear", "zeros", 0.0, height - 1.0),
                   taps_at(calc, xs, width, "linear", "zeros", 0.0, width - 1.0), width)
    image = calc.reshape(calc.tensor(ctx.input(x, NHWC), (batch, height, width, channels),
                                     np.float32), [batch, height * width, offsets, per_offset])
    if offsets > 1:  # each offset group's channels a table of their own
        image = calc.transpose(image, (0, 2, 1, 3))
    table = calc.reshape(image, [rows * height * width, per_offset])
    sampled = gather_taps(calc, table, height * width, taps)  # [N*og, kh*kw*OH*OW, C/og]
    mask = _given(node, 4)
    if mask is not None:
        weights = calc.tensor(ctx.input(mask), ctx.image_shape(mask), np.float32)
        sampled = calc.mul(sampled, calc.reshape(weights, [rows, taps_count * pixels_out, 1]))
    columns = calc.transpose(
        calc.reshape(sampled, [batch, offsets, taps_count, pixels_out, per_offset]),
        (0, 3, 1, 4, 2))  # [N, OH*OW, og, C/og, kh*kw]
    result = _grouped_matmul(calc, ctx, calc.reshape(columns, [batch * pixels_out,
                                                               channels * taps_count]),
                             w, group, (filters, per_group * taps_count))
    result = calc.reshape(result, [batch, *out, filters])
    bias = _given(node, 3)
    held = ctx.output(node.outputs[0], NHWC)
    if bias is None:
        ctx.op("RESHAPE", [result.index, ctx.int32([-1, *result.shape[1:]])], [held])
        return
    ctx.op("ADD", [result.index, ctx.input(bias)], [held], options("AddOptions"))


def _grouped_matmul(calc: Calc, ctx: EmitContext, columns: T, w: ir.Value, group: int,
                    w_shape: tuple[int, int]) -> T:
    """columns [M, K] times W^T per group ([Cout, K/group]) -> [M, Cout]."""
    m, k = columns.shape
    filters, per_group = w_shape
    weights = calc.reshape(calc.tensor(ctx.input(w), ctx.shape(w), np.float32),
                           [group, filters // group, per_group])
    if group > 1:
        lhs = calc.transpose(calc.reshape(columns, [m, group, k // group]), (1, 0, 2))
    else:  # M is the dim known at run time only: not the leading one here
        lhs = calc.temp([1, m, k], np.float32, "columns")
        ctx.op("RESHAPE", [columns.index, ctx.int32([1, -1, k])], [lhs.index])
    product = calc.temp([group, m, filters // group], np.float32, "deform")
    ctx.op("BATCH_MATMUL", [lhs.index, weights.index], [product.index],
           options("BatchMatMulOptions", adjY=True))
    if group > 1:
        product = calc.transpose(product, (1, 0, 2))
    return calc.reshape(product, [m, filters])


def entries() -> dict[str, list[Lowering]]:
    builtins = ("RESHAPE", "STRIDED_SLICE", "ADD", "SUB", "MUL", "FLOOR", "GREATER_EQUAL",
                "LESS_EQUAL", "LOGICAL_AND", "MAXIMUM", "MINIMUM", "CAST", "CONCATENATION",
                "TRANSPOSE", "GATHER", "SELECT_V2", "SUM", "BATCH_MATMUL")
    return {"DeformConv": [entry(builtins, emit_deform_conv, dtype_inputs=(0, 1, 2),
                                 check=check_deform_conv, since=19)]}
