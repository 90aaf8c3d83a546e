"""Conv (CONV_2D, DEPTHWISE_CONV_2D, grouped as SPLIT + CONV_2D + CONCATENATION), in
NHWC: the input is asked for as NHWC and the output is held as NHWC, so consecutive
convolutions need no TRANSPOSE between them (ConvTranspose: _conv_transpose.py).
Weights and bias given at run time are read as tensors, the weights through a TRANSPOSE
to the filter's layout.

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
    static_shape,
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
    if rank(values, node.inputs[0]) not in (3, 4):
        return f"{node.op_type} is lowered for 1-D and 2-D images (3-D or 4-D NCHW input) only"
    if static_but_batch(values, node.inputs[0]) is None:
        return f"{node.op_type} needs static channel and spatial input dims"
    # weights and bias may be given at run time: CONV_2D, DEPTHWISE_CONV_2D and
    # TRANSPOSE_CONV read them as tensors (the filter's layout is a run-time TRANSPOSE);
    # the table refuses an IR-3 weight that is also a graph input, which fix folds
    if static_shape(values, node.inputs[1]) is None \
            or rank(values, node.inputs[1]) != rank(values, node.inputs[0]):
        return f"{node.op_type}'s weights (input 1) need a static shape"
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
        filters = _filters(ctx, weights, (0, 2, 3, 1))
        _grouped(ctx, source, filters, _bias_parts(ctx, node, units), out, geometry, group)


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
    source = height_one(ctx, ctx.input(node.inputs[0], ROWS_LAST), [batch, 1, length, channels])
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
        filters = height_one(ctx, ctx.input(weights, ROWS_LAST), [units, 1, size, per_group])
        _conv2d(ctx, source, filters, bias, result, geometry)
    elif group == channels:
        filters = height_one(ctx, ctx.input(weights, (1, 2, 0)), [1, 1, size, units])
        _depthwise(ctx, source, filters, bias, result, geometry, units // group)
    else:
        filters = _filters(ctx, weights, ROWS_LAST, [units, 1, size, per_group])
        _grouped(ctx, source, filters, _bias_parts(ctx, node, units), result, geometry, group)
    out = ctx.output(node.outputs[0], ROWS_LAST)
    ctx.op("RESHAPE", [result, ctx.int32([-1, out_length, units])], [out])


def height_one(ctx: EmitContext, tensor: int, shape: list[int], batch: bool = True) -> int:
    """The 3-D tensor as 4-D with a height of 1 (a batch left to the run: -1)."""
    made = ctx.temp("height_one", np.float32, shape)
    ctx.op("RESHAPE", [tensor, ctx.int32([-1, *shape[1:]] if batch else shape)], [made])
    return made


def _bias(ctx: EmitContext, node: ir.Node, units: int) -> int:
    """The bias tensor (zeros where the node has none: some kernels require one)."""
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        return ctx.input(node.inputs[2])
    return ctx.const(np.zeros(units, np.float32), "bias")


def _bias_parts(ctx: EmitContext, node: ir.Node, units: int) -> np.ndarray | int:
    """The bias: its array when known (zeros where the node has none), else its tensor."""
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    if bias is None:
        return np.zeros(units, np.float32)
    array = const_or_dequantized(bias)
    return ctx.input(bias) if array is None else array.astype(np.float32)


def _filters(ctx: EmitContext, weights: ir.Value, perm: tuple[int, ...],
             shape: list[int] | None = None) -> np.ndarray | int:
    """The weights in layout `perm` (reshaped to `shape`): an array when they are constant,
    else the tensor of a run-time TRANSPOSE (and RESHAPE)."""
    array = const_or_dequantized(weights)
    if array is not None:
        found = np.transpose(array.astype(np.float32), perm)
        return np.ascontiguousarray(found.reshape(shape) if shape else found)
    tensor = ctx.input(weights, perm)
    return tensor if shape is None else height_one(ctx, tensor, shape, batch=False)


def _parts(ctx: EmitContext, data: np.ndarray | int, axis: int, group: int,
           name: str) -> list[int]:
    """`group` equal parts along `axis`: constants sliced now, a tensor by a run-time SPLIT."""
    if isinstance(data, np.ndarray):
        return [ctx.const(np.ascontiguousarray(part), name)
                for part in np.split(data, group, axis=axis)]
    shape = list(ctx.builder.tensors[data].shape)
    shape[axis] //= group
    parts = [ctx.temp(f"{name}{index}", np.float32, shape) for index in range(group)]
    ctx.op("SPLIT", [ctx.int32(axis), data], parts, options("SplitOptions", numSplits=group))
    return parts


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


def _grouped(ctx, source: int, filters: np.ndarray | int, bias: np.ndarray | int, out: int,
             geometry, group: int) -> None:
    """Each group's channels as their own CONV_2D, concatenated on the channel axis;
    `filters` is [O, kH, kW, I/group]."""
    parts_in = _parts(ctx, source, 3, group, "group_in")
    kernels = _parts(ctx, filters, 0, group, "filter")
    biases = _parts(ctx, bias, 0, group, "bias")
    out_shape = ctx.builder.tensors[out].shape
    parts_out = []
    for index, part in enumerate(parts_in):
        per_group = out_shape[3] // group
        result = ctx.temp(f"group{index}_out", np.float32, [*out_shape[:3], per_group])
        _conv2d(ctx, part, kernels[index], biases[index], result, geometry)
        parts_out.append(result)
    ctx.op("CONCATENATION", parts_out, [out], options("ConcatenationOptions", axis=3))


def explicit_pad(ctx: EmitContext, source: int, nchw: tuple[int, ...], pads, value: float,
                 dtype: type | np.dtype = np.float32) -> int:
    """PAD (or PADV2 with `value`) of an NHWC tensor's spatial dims."""
    amounts = np.asarray([[0, 0], pads[0], pads[1], [0, 0]], dtype=np.int32)
    shape = [nchw[0], nchw[2] + sum(pads[0]), nchw[3] + sum(pads[1]), nchw[1]]
    padded = ctx.temp("padded", dtype, shape)
    if value == 0.0:
        ctx.op("PAD", [source, ctx.const(amounts)], [padded])
    else:
        fill = ctx.const(np.asarray(value, dtype))
        ctx.op("PADV2", [source, ctx.const(amounts), fill], [padded])
    return padded


def entries() -> dict[str, list[Lowering]]:
    return {
        "Conv": [entry(("CONV_2D", "DEPTHWISE_CONV_2D"), emit_conv, check=check_conv)],
    }
