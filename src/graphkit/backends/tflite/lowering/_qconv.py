"""ConvInteger and QLinearConv: CONV_2D (DEPTHWISE_CONV_2D where group is the channel
count) in float32 on the centered integers, exact as _qlinear explains: each output is a
sum of C/group * kh * kw products, and where that sum can pass 2^24 the input channels
are cut into slices whose sums cannot (SPLIT_V of image and filters), each convolved,
CAST to int32 and added there. Padding is zeros after centering, which is the zero point
before it, as ONNX pads. The int32 sum is ConvInteger's output; QLinearConv adds its
int32 bias and requantizes it (_qlinear.requantize, per output channel where w_scale is).
Image and result are held as NHWC, like Conv's."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import PADDING, options
from graphkit.backends.tflite.lowering._base import (
    NHWC,
    EmitContext,
    Lowering,
    attr,
    entry,
    rank,
    static_but_batch,
    static_shape,
)
from graphkit.backends.tflite.lowering._conv import explicit_pad, padding_mode, spatial_pads
from graphkit.backends.tflite.lowering._qlinear import (
    EXACT,
    INT32_MAX,
    INTEGERS,
    QLINEAR,
    accumulate,
    centered,
    check_scales,
    largest_term,
    optional,
    per_channel,
    per_tensor,
    requantize,
    slices,
    split,
)

OHWI = (0, 2, 3, 1)  # [O, I, kh, kw] held as CONV_2D's filters
DEPTHWISE = (1, 2, 3, 0)  # [O, 1, kh, kw] held as DEPTHWISE_CONV_2D's [1, kh, kw, O]


def _check_conv(node: ir.Node, values, w: int) -> str | None:
    image = static_but_batch(values, node.inputs[0])
    if rank(values, node.inputs[0]) != 4 or image is None:
        return f"{node.op_type} is lowered for 2-D images (4-D NCHW input of static " \
            "channel and spatial dims) only"
    shape = static_shape(values, node.inputs[w])
    if shape is None or len(shape) != 4:
        return f"{node.op_type}'s weights (input {w}) need a static 4-D shape"
    if attr(node, "group", 1) not in (1, image[1]):
        return f"{node.op_type} with groups other than 1 or one per channel (depthwise) " \
            "is not lowered"
    terms = largest_term(values, [(node.inputs[0], optional(node, 2)),
                                  (node.inputs[w], optional(node, w + 2))])
    taps = shape[2] * shape[3]
    if taps * terms >= EXACT:
        return f"{node.op_type}: a {shape[2]}x{shape[3]} kernel's sums are not exact in " \
            "float32 even for one input channel"
    if shape[1] * taps * terms > INT32_MAX:
        return f"{node.op_type}: sums of up to {shape[1] * taps * terms} overflow int32"
    return per_tensor(node, values, (2,)) or per_channel(node, values, (w + 2,), shape[0])


def check_conv_integer(node: ir.Node, values) -> str | None:
    return _check_conv(node, values, 1)


def check_qlinear_conv(node: ir.Node, values) -> str | None:
    units = (static_shape(values, node.inputs[3]) or (-1,))[0]
    return check_scales(node, values, (1, 4, 6)) \
        or per_tensor(node, values, (1, 6, 7)) \
        or per_channel(node, values, (4,), units) \
        or _check_conv(node, values, 3)


def _convolved(ctx: EmitContext, node: ir.Node, index: int, out: int) -> None:
    """out (int32, NHWC) = the convolution of the centered image and the centered weights
    (input `index`, its zero point two after it)."""
    x, x_zero = node.inputs[0], optional(node, 2)
    w, w_zero = node.inputs[index], optional(node, index + 2)
    shape = ctx.image_shape(x)
    units, per_group, *kernel = ctx.shape(w)
    strides = tuple(attr(node, "strides") or (1, 1))
    dilations = tuple(attr(node, "dilations") or (1, 1))
    pads = spatial_pads(node, shape[2:], tuple(kernel), strides, dilations)
    source = centered(ctx, x, x_zero, NHWC)
    mode = padding_mode(pads, shape[2:], tuple(kernel), strides, dilations)
    if mode is None:
        source = explicit_pad(ctx, source, shape, pads, 0.0)
        mode = "VALID"
    geometry = dict(padding=PADDING[mode], strideH=strides[0], strideW=strides[1],
                    dilationHFactor=dilations[0], dilationWFactor=dilations[1])
    n, _, height, width = ctx.image_shape(node.outputs[0])
    result_shape = [n, height, width, units]
    bias = ctx.const(np.zeros(units, np.float32), "bias")
    if attr(node, "group", 1) != 1:  # depthwise: the zero point [O] lies along the last axis
        filters = centered(ctx, w, w_zero, DEPTHWISE)
        result = ctx.temp("conv_integer", np.float32, result_shape)
        ctx.op("DEPTHWISE_CONV_2D", [source, filters, bias], [result],
               options("DepthwiseConv2DOptions", depthMultiplier=units // shape[1],
                       **geometry))
        accumulate(ctx, [result], out, result_shape)
        return
    w_zero_shape = [units, 1, 1, 1] if w_zero is not None and rank(ctx.values, w_zero) == 1 \
        else None
    filters = centered(ctx, w, w_zero, OHWI, w_zero_shape)
    terms = largest_term(ctx.values, [(x, x_zero), (w, w_zero)])
    sizes = slices(per_group, (EXACT - 1) // (terms * kernel[0] * kernel[1]))
    parts = []
    for image, weights in zip(split(ctx, source, sizes, 3), split(ctx, filters, sizes, 3),
                              strict=True):
        parts.append(ctx.temp("conv_integer", np.float32, result_shape))
        ctx.op("CONV_2D", [image, weights, bias], [parts[-1]],
               options("Conv2DOptions", **geometry))
    accumulate(ctx, parts, out, result_shape)


def emit_conv_integer(ctx: EmitContext, node: ir.Node) -> None:
    _convolved(ctx, node, 1, ctx.output(node.outputs[0], NHWC))


def emit_qlinear_conv(ctx: EmitContext, node: ir.Node) -> None:
    x_scale, w_scale, y_scale, y_zero = (node.inputs[i] for i in (1, 4, 6, 7))
    out = node.outputs[0]
    n, units, height, width = ctx.image_shape(out)
    shape = [n, height, width, units]
    summed = ctx.temp("conv_sum", np.int32, shape)
    _convolved(ctx, node, 3, summed)
    bias = optional(node, 8)
    if bias is not None:  # added in int32, as ONNX does
        biased = ctx.temp("conv_biased", np.int32, shape)
        ctx.op("ADD", [summed, ctx.input(bias)], [biased], options("AddOptions"))
        summed = biased
    total = ctx.temp("conv_sum_f32", np.float32, shape)
    ctx.op("CAST", [summed], [total])
    requantize(ctx, total, (x_scale, w_scale, y_scale), y_zero, ctx.output(out, NHWC))


CONV = ("CAST", "SUB", "PAD", "TRANSPOSE", "SPLIT_V", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD")


def entries() -> dict[str, list[Lowering]]:
    return {
        "ConvInteger": [entry(CONV, emit_conv_integer, dtypes=INTEGERS, dtype_inputs=(0, 1),
                              check=check_conv_integer)],
        "QLinearConv": [entry((*CONV, *QLINEAR), emit_qlinear_conv, dtypes=INTEGERS,
                              dtype_inputs=(0, 3), check=check_qlinear_conv)],
    }
