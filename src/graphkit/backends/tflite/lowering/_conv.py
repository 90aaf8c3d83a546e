"""Conv (CONV_2D, DEPTHWISE_CONV_2D, grouped as SPLIT + CONV_2D + CONCATENATION) and
ConvTranspose (TRANSPOSE_CONV), in NHWC: the input is asked for as NHWC and the output is
held as NHWC, so consecutive convolutions need no TRANSPOSE between them.

ONNX pads become SAME when they equal what SAME computes (TFLite puts the odd pixel after,
as SAME_UPPER does), VALID when zero, else an explicit PAD before a VALID convolution."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import PADDING, options
from graphkit.backends.tflite.lowering._base import (
    NHWC,
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    rank,
    static_but_batch,
)


def spatial_pads(node: ir.Node, size: tuple[int, int], kernel: tuple[int, int],
                 strides: tuple[int, int], dilations: tuple[int, int]) -> list[list[int]]:
    """[[top, bottom], [left, right]] as ONNX computes them for this node."""
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return [[0, 0], [0, 0]]
    if auto_pad in {"SAME_UPPER", "SAME_LOWER"}:
        same = same_pads(size, kernel, strides, dilations)
        return same if auto_pad == "SAME_UPPER" else [[a, b] for b, a in same]
    pads = attr(node, "pads") or [0, 0, 0, 0]
    return [[pads[0], pads[2]], [pads[1], pads[3]]]


def same_pads(size, kernel, strides, dilations) -> list[list[int]]:
    result = []
    for extent, k, s, d in zip(size, kernel, strides, dilations):
        out = -(-extent // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - extent, 0)
        result.append([total // 2, total - total // 2])
    return result


def padding_mode(pads, size, kernel, strides, dilations) -> str | None:
    """'VALID', 'SAME', or None: an explicit PAD is needed."""
    if all(p == 0 for pair in pads for p in pair):
        return "VALID"
    if pads == same_pads(size, kernel, strides, dilations):
        return "SAME"
    return None


def check_conv(node: ir.Node, values) -> str | None:
    ranks = (3, 4) if node.op_type == "Conv" else (4,)
    if rank(values, node.inputs[0]) not in ranks:
        images = "1-D and 2-D images (3-D or 4-D" if node.op_type == "Conv" else \
            "2-D images (4-D"
        return f"{node.op_type} is lowered for {images} NCHW input) only"
    if static_but_batch(values, node.inputs[0]) is None:
        return f"{node.op_type} needs static channel and spatial input dims"
    if static_but_batch(values, node.inputs[1]) is None \
            or rank(values, node.inputs[1]) != rank(values, node.inputs[0]):
        return f"{node.op_type}'s weights (input 1) need a static shape"
    # weights at run time would run (CONV_2D reads them as a tensor), but a deployed model
    # wants them constant: an IR-3 weight that is also a graph input is folded by fix
    if const_or_dequantized(node.inputs[1]) is None:
        return f"{node.op_type}'s weights (input 1) must be a constant"
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    if bias is not None and const_or_dequantized(bias) is None:
        return f"{node.op_type}'s bias (input 2) must be a constant"
    return None


def conv_geometry(ctx: EmitContext, node: ir.Node):
    shape = ctx.image_shape(node.inputs[0])
    weights = node.inputs[1]
    kernel = tuple(ctx.shape(weights)[2:])
    strides = tuple(attr(node, "strides") or (1, 1))
    dilations = tuple(attr(node, "dilations") or (1, 1))
    pads = spatial_pads(node, shape[2:], kernel, strides, dilations)
    return shape, weights, kernel, strides, dilations, pads


def emit_conv(ctx: EmitContext, node: ir.Node) -> None:
    if ctx.rank(node.inputs[0]) == 3:
        emit_conv1d(ctx, node)
        return
    shape, weights, kernel, strides, dilations, pads = conv_geometry(ctx, node)
    source = ctx.input(node.inputs[0], NHWC)
    mode = padding_mode(pads, shape[2:], kernel, strides, dilations)
    if mode is None:
        source = explicit_pad(ctx, source, shape, pads, 0.0)
        mode = "VALID"
    units = ctx.shape(weights)[0]
    bias = _bias(ctx, node, units)
    group = attr(node, "group", 1)
    out = ctx.output(node.outputs[0], NHWC)
    geometry = dict(paddingMode=mode, strides=strides, dilations=dilations)
    if group == 1:
        _conv2d(ctx, source, ctx.input(weights, (0, 2, 3, 1)), bias, out, geometry)
    elif group == shape[1]:
        filters = ctx.input(weights, (1, 2, 3, 0))
        _depthwise(ctx, source, filters, bias, out, geometry, units // group)
    else:
        arrays = const_or_dequantized(weights).astype(np.float32), _bias_array(node, units)
        _grouped(ctx, source, *arrays, out, geometry, group)


ROWS_LAST = (0, 2, 1)  # [N, C, L] held as [N, L, C]


def emit_conv1d(ctx: EmitContext, node: ir.Node) -> None:
    """A 1-D Conv as a 2-D one on images of height 1: [N, L, C] (the input held with its
    channels last) reshaped to [N, 1, L, C], the weights to [O, 1, k, I], and the result
    held as [N, L', O] (channels last again)."""
    batch, channels, length = ctx.image_shape(node.inputs[0])
    weights = node.inputs[1]
    units, per_group, size = ctx.shape(weights)
    strides = (1, *(attr(node, "strides") or (1,)))
    dilations = (1, *(attr(node, "dilations") or (1,)))
    pads = attr(node, "pads") or [0, 0]
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if auto_pad != "NOTSET":
        found = spatial_pads(node, (1, length), (1, size), strides, dilations)[1]
        pads = [found[0], found[1]] if auto_pad != "SAME_LOWER" else [found[1], found[0]]
    image = (batch, channels, 1, length)
    source = _height_one(ctx, ctx.input(node.inputs[0], ROWS_LAST), [batch, 1, length, channels])
    two_d = [[0, 0], [pads[0], pads[1]]] if auto_pad != "VALID" else [[0, 0], [0, 0]]
    mode = padding_mode(two_d, image[2:], (1, size), strides, dilations)
    if mode is None:
        source = explicit_pad(ctx, source, image, two_d, 0.0)
        mode = "VALID"
    out_length = ctx.image_shape(node.outputs[0])[2]
    result = ctx.temp("conv1d", np.float32, [batch, 1, out_length, units])
    geometry = dict(paddingMode=mode, strides=strides, dilations=dilations)
    bias = _bias(ctx, node, units)
    group = attr(node, "group", 1)
    if group == 1:
        filters = _height_one(ctx, ctx.input(weights, ROWS_LAST), [units, 1, size, per_group])
        _conv2d(ctx, source, filters, bias, result, geometry)
    elif group == channels:
        filters = _height_one(ctx, ctx.input(weights, (1, 2, 0)), [1, 1, size, units])
        _depthwise(ctx, source, filters, bias, result, geometry, units // group)
    else:
        arrays = const_or_dequantized(weights).astype(np.float32), _bias_array(node, units)
        _grouped(ctx, source, arrays[0][:, :, None, :], arrays[1], result, geometry, group)
    out = ctx.output(node.outputs[0], ROWS_LAST)
    ctx.op("RESHAPE", [result, ctx.int32([-1, out_length, units])], [out])


def _height_one(ctx: EmitContext, tensor: int, shape: list[int]) -> int:
    """The 3-D tensor as 4-D with a height of 1 (the batch left to the run: -1)."""
    made = ctx.temp("height_one", np.float32, shape)
    ctx.op("RESHAPE", [tensor, ctx.int32([-1, *shape[1:]])], [made])
    return made


def _bias(ctx: EmitContext, node: ir.Node, units: int) -> int:
    """The bias tensor (zeros where the node has none: some kernels require one)."""
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        return ctx.input(node.inputs[2])
    return ctx.const(np.zeros(units, np.float32), "bias")


def _bias_array(node: ir.Node, units: int) -> np.ndarray:
    bias = const_or_dequantized(node.inputs[2]) if len(node.inputs) > 2 else None
    return np.zeros(units, np.float32) if bias is None else bias.astype(np.float32)


def _conv2d(ctx, source: int, filters: int, bias: int, out: int, geometry) -> None:
    made = options("Conv2DOptions", padding=PADDING[geometry["paddingMode"]],
                   strideH=geometry["strides"][0], strideW=geometry["strides"][1],
                   dilationHFactor=geometry["dilations"][0],
                   dilationWFactor=geometry["dilations"][1])
    ctx.op("CONV_2D", [source, filters, bias], [out], made)


def _depthwise(ctx, source: int, filters: int, bias: int, out: int, geometry,
               multiplier: int) -> None:
    made = options("DepthwiseConv2DOptions", padding=PADDING[geometry["paddingMode"]],
                   strideH=geometry["strides"][0], strideW=geometry["strides"][1],
                   dilationHFactor=geometry["dilations"][0],
                   dilationWFactor=geometry["dilations"][1], depthMultiplier=multiplier)
    ctx.op("DEPTHWISE_CONV_2D", [source, filters, bias], [out], made)


def _grouped(ctx, source: int, weights, bias, out: int, geometry, group: int) -> None:
    """Each group's channels as their own CONV_2D, concatenated on the channel axis."""
    in_shape = ctx.builder.tensors[source].shape
    parts_in = []
    for index in range(group):
        part_shape = [*in_shape[:3], in_shape[3] // group]
        parts_in.append(ctx.temp(f"group{index}_in", np.float32, part_shape))
    ctx.op("SPLIT", [ctx.int32(3), source], parts_in, options("SplitOptions", numSplits=group))
    per_group = weights.shape[0] // group
    parts_out = []
    out_shape = ctx.builder.tensors[out].shape
    for index, part in enumerate(parts_in):
        chosen = slice(index * per_group, (index + 1) * per_group)
        result = ctx.temp(f"group{index}_out", np.float32, [*out_shape[:3], per_group])
        filters = ctx.const(np.ascontiguousarray(weights[chosen].transpose(0, 2, 3, 1)))
        _conv2d(ctx, part, filters, ctx.const(bias[chosen], "bias"), result, geometry)
        parts_out.append(result)
    ctx.op("CONCATENATION", parts_out, [out], options("ConcatenationOptions", axis=3))


def explicit_pad(ctx: EmitContext, source: int, nchw: tuple[int, ...], pads, value: float) -> int:
    """PAD (or PADV2 with `value`) of an NHWC tensor's spatial dims."""
    amounts = np.asarray([[0, 0], pads[0], pads[1], [0, 0]], dtype=np.int32)
    shape = [nchw[0], nchw[2] + sum(pads[0]), nchw[3] + sum(pads[1]), nchw[1]]
    padded = ctx.temp("padded", np.float32, shape)
    if value == 0.0:
        ctx.op("PAD", [source, ctx.const(amounts)], [padded])
    else:
        fill = ctx.const(np.asarray(value, np.float32))
        ctx.op("PADV2", [source, ctx.const(amounts), fill], [padded])
    return padded


def check_conv_transpose(node: ir.Node, values) -> str | None:
    found = check_conv(node, values)
    if found:
        return found
    if attr(node, "group", 1) != 1:
        return "ConvTranspose with group > 1 is not lowered"
    if any(d != 1 for d in attr(node, "dilations") or (1, 1)):
        return "ConvTranspose with dilations has no TFLite builtin"
    if attr(node, "auto_pad", "NOTSET") not in {"NOTSET", "VALID"} \
            or attr(node, "output_shape") is not None:
        return "ConvTranspose is lowered with explicit pads only"
    if static_but_batch(values, node.outputs[0]) is None:
        return "ConvTranspose needs static channel and spatial output dims"
    return None


def emit_conv_transpose(ctx: EmitContext, node: ir.Node) -> None:
    """TRANSPOSE_CONV (VALID: the full output), then a crop where ONNX pads."""
    shape = ctx.image_shape(node.inputs[0])
    weights = ctx.shape(node.inputs[1])  # [C_in, C_out, kH, kW]
    strides = tuple(attr(node, "strides") or (1, 1))
    extra = attr(node, "output_padding") or (0, 0)
    full = [(shape[2 + i] - 1) * strides[i] + weights[2 + i] + extra[i] for i in (0, 1)]
    bias = _bias(ctx, node, weights[1])
    made = options("TransposeConvOptions", padding=PADDING["VALID"], strideH=strides[0],
                   strideW=strides[1])
    full_shape = [shape[0], *full, weights[1]]
    out_shape = ctx.image_shape(node.outputs[0])
    pads = attr(node, "pads") or [0, 0, 0, 0]
    cropped = list(out_shape[2:]) != full
    out = ctx.output(node.outputs[0], NHWC)
    target = ctx.temp("deconv_full", np.float32, full_shape) if cropped else out
    filters = ctx.input(node.inputs[1], (1, 2, 3, 0))
    ctx.op("TRANSPOSE_CONV", [ctx.int32(full_shape), filters, ctx.input(node.inputs[0], NHWC),
                              bias], [target], made)
    if cropped:
        begin = [0, pads[0], pads[1], 0]
        size = [out_shape[0], out_shape[2], out_shape[3], out_shape[1]]
        ctx.op("SLICE", [target, ctx.int32(begin), ctx.int32(size)], [out])


def entries() -> dict[str, list[Lowering]]:
    return {
        "Conv": [entry(("CONV_2D", "DEPTHWISE_CONV_2D"), emit_conv, check=check_conv)],
        "ConvTranspose": [entry("TRANSPOSE_CONV", emit_conv_transpose,
                                check=check_conv_transpose)],
    }
