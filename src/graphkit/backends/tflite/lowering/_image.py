"""NCHW image ops held as NHWC: MaxPool, AveragePool (1-D ones as 2-D on images of height
1, like a 1-D Conv), the global pools, BatchNormalization (folded into MUL + ADD) and Resize
(nearest, bilinear)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import PADDING, options
from graphkit.backends.tflite.lowering._base import (
    F32,
    NHWC,
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    needed,
    rank,
    static_but_batch,
)
from graphkit.backends.tflite.lowering._conv import (
    ROWS_LAST,
    explicit_pad,
    height_one,
    padding_mode,
    spatial_pads,
)
from graphkit.backends.tflite.lowering._pool_taps import (
    LOWEST_FLOAT32,
    emit_pool_taps,
    size_reason,
    taps_reason,
)
from graphkit.backends.tflite.lowering._resize import check_separable, emit_separable
from graphkit.backends.tflite.lowering._resize_dynamic import (
    BUILTINS,
    check_dynamic,
    emit_dynamic,
    needs_dynamic,
)

TAPS = ("PADV2", "STRIDED_SLICE", "MAXIMUM", "ADD", "MUL", "RESHAPE")  # _pool_taps


def check_pool(node: ir.Node, values) -> str | None:
    """None where the 2-D builtin takes the pool, or where it can be written tap by tap
    (_pool_taps: 3-D images, dilations); else why the builtin cannot."""
    reason = _pool_builtin_reason(node, values)
    if reason is None:
        return None
    taps = taps_reason(node, values)
    if taps is None:
        return None
    return reason if taps == reason else f"{reason}; tap by tap: {taps}"


def _pool_builtin_reason(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) not in (3, 4):
        return f"{node.op_type} is lowered for 1-D and 2-D images (3-D or 4-D NCHW input) only"
    if static_but_batch(values, node.inputs[0]) is None:
        return f"{node.op_type} needs static channel and spatial input dims"
    if any(d != 1 for d in attr(node, "dilations") or (1, 1)):
        return f"{node.op_type} with dilations has no TFLite builtin"
    if len(node.outputs) > 1 and needed(node.outputs[1]):
        return "MaxPool's Indices output has no TFLite builtin"
    if attr(node, "storage_order", 0):
        return "MaxPool with storage_order=1 is not lowered"
    if attr(node, "ceil_mode", 0):
        out = static_but_batch(values, node.outputs[0])
        if out is None:
            return f"{node.op_type} with ceil_mode=1 needs static output dims"
        if node.op_type != "MaxPool" and attr(node, "count_include_pad", 0):
            return f"{node.op_type} with ceil_mode=1 and count_include_pad=1 is not lowered"
        return size_reason(node, static_but_batch(values, node.inputs[0]), out)
    return None


def _geometry(node: ir.Node, shape: tuple[int, ...], out: tuple[int, ...]):
    """(kernel, strides, pads) of the pool on the NCHW image `shape` giving spatial dims
    `out` (a 1-D pool: as 2-D on height 1); with ceil_mode, the end pads grown to hold the
    last window ONNX keeps (the output's size says which), so a floor-mode pool of the
    padded image gives the ceil-mode output."""
    kernel = tuple(attr(node, "kernel_shape"))
    strides = tuple(attr(node, "strides") or (1,) * len(kernel))
    if len(kernel) == 1:
        kernel, strides = (1, *kernel), (1, *strides)
        if attr(node, "auto_pad", "NOTSET") == "NOTSET":
            given = attr(node, "pads") or [0, 0]
            pads = [[0, 0], [given[0], given[1]]]
        else:
            pads = spatial_pads(node, shape[2:], kernel, strides, (1, 1))
    else:
        pads = spatial_pads(node, shape[2:], kernel, strides, (1, 1))
    if attr(node, "ceil_mode", 0):
        for axis in (0, 1):
            needed_ = (out[axis] - 1) * strides[axis] + kernel[axis]
            extra = needed_ - (shape[2 + axis] + sum(pads[axis]))
            pads[axis] = [pads[axis][0], pads[axis][1] + max(extra, 0)]
    return kernel, strides, pads


def emit_pool(builtin: str):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        if _pool_builtin_reason(node, ctx.values) is not None:
            emit_pool_taps(ctx, node)
            return
        if ctx.rank(node.inputs[0]) == 4:
            shape, out = ctx.image_shape(node.inputs[0]), node.outputs[0]
            _pool(ctx, builtin, node, ctx.input(node.inputs[0], NHWC), shape,
                  ctx.image_shape(out)[2:], ctx.output(out, NHWC))
            return
        # [N, C, L] held as [N, L, C], pooled as [N, 1, L, C]
        batch, channels, length = ctx.image_shape(node.inputs[0])
        out_length = ctx.image_shape(node.outputs[0])[2]
        source = height_one(ctx, ctx.input(node.inputs[0], ROWS_LAST),
                            [batch, 1, length, channels])
        result = ctx.temp("pool1d", ctx.dtype(node.inputs[0]), [batch, 1, out_length, channels])
        _pool(ctx, builtin, node, source, (batch, channels, 1, length), (1, out_length), result)
        ctx.op("RESHAPE", [result, ctx.int32([-1, out_length, channels])],
               [ctx.output(node.outputs[0], ROWS_LAST)])

    return emit


def _pool(ctx: EmitContext, builtin: str, node: ir.Node, source: int, shape: tuple[int, ...],
          out_size: tuple[int, int], result: int) -> None:
    """The pool of the NHWC tensor `source` (NCHW `shape`) into `result`, [N, *out_size, C]."""
    kernel, strides, pads = _geometry(node, shape, out_size)
    mode = padding_mode(pads, shape[2:], kernel, strides, (1, 1))
    include_pad = builtin == "AVERAGE_POOL_2D" and attr(node, "count_include_pad", 0)
    made_pad = mode is None or (mode == "SAME" and include_pad)
    if made_pad:
        dtype = np.dtype(ctx.dtype(node.inputs[0]))
        lowest = np.iinfo(dtype).min if dtype.kind in "iu" else LOWEST_FLOAT32
        fill = 0.0 if builtin == "AVERAGE_POOL_2D" else lowest
        source = explicit_pad(ctx, source, shape, pads, fill, dtype)
        mode = "VALID"
    made = options("Pool2DOptions", padding=PADDING[mode], strideH=strides[0],
                   strideW=strides[1], filterHeight=kernel[0], filterWidth=kernel[1])
    if not (made_pad and builtin == "AVERAGE_POOL_2D" and not include_pad):
        ctx.op(builtin, [source], [result], made)
        return
    # the zeros PAD added were counted: rescale each window to its real pixels
    pooled = ctx.temp("pooled", np.float32, [shape[0], *out_size, shape[1]])
    ctx.op(builtin, [source], [pooled], made)
    factor = _window_factor(shape[2:], out_size, kernel, strides, pads)
    ctx.op("MUL", [pooled, ctx.const(factor)], [result], options("MulOptions"))


def check_lp_pool(node: ir.Node, values) -> str | None:
    if attr(node, "p", 2) < 1:
        return "LpPool is lowered for p >= 1"
    return check_pool(node, values)


def _lp_pool_by_builtin(node: ir.Node, values) -> bool:
    return rank(values, node.inputs[0]) == 4 and _pool_builtin_reason(node, values) is None


def emit_lp_pool(ctx: EmitContext, node: ir.Node) -> None:
    """(sum of |x|^p over each window)^(1/p): |x|^p zero-padded where ONNX pads, a VALID
    AVERAGE_POOL_2D times the window's size (padding counts as zeros), then the root; tap
    by tap where the builtin cannot take the pool (_pool_taps)."""
    if not _lp_pool_by_builtin(node, ctx.values):
        emit_pool_taps(ctx, node)
        return
    shape = ctx.image_shape(node.inputs[0])
    kernel, strides, pads = _geometry(node, shape, ctx.image_shape(node.outputs[0])[2:])
    p = attr(node, "p", 2)
    stored = [shape[0], shape[2], shape[3], shape[1]]
    powered = ctx.temp("lp_abs", np.float32, stored)
    ctx.op("SQUARE" if p == 2 else "ABS", [ctx.input(node.inputs[0], NHWC)], [powered])
    if p > 2:
        raised = ctx.temp("lp_pow", np.float32, stored)
        ctx.op("POW", [powered, ctx.const(np.asarray(p, np.float32))], [raised])
        powered = raised
    if any(amount for pair in pads for amount in pair):
        powered = explicit_pad(ctx, powered, shape, pads, 0.0)
    out = node.outputs[0]
    out_stored = ctx._stored_shape(out, NHWC)
    pooled = ctx.temp("lp_mean", np.float32, out_stored)
    ctx.op("AVERAGE_POOL_2D", [powered], [pooled],
           options("Pool2DOptions", padding=PADDING["VALID"], strideH=strides[0],
                   strideW=strides[1], filterHeight=kernel[0], filterWidth=kernel[1]))
    window = np.asarray(kernel[0] * kernel[1], np.float32)
    if p == 1:
        ctx.op("MUL", [pooled, ctx.const(window)], [ctx.output(out, NHWC)], options("MulOptions"))
        return
    summed = ctx.temp("lp_sum", np.float32, out_stored)
    ctx.op("MUL", [pooled, ctx.const(window)], [summed], options("MulOptions"))
    if p == 2:
        ctx.op("SQRT", [summed], [ctx.output(out, NHWC)])
        return
    ctx.op("POW", [summed, ctx.const(np.asarray(1.0 / p, np.float32))],
           [ctx.output(out, NHWC)])


def _window_factor(size, out, kernel, strides, pads) -> np.ndarray:
    """[1, H', W', 1]: kernel area / the input pixels (not padding) in each window."""
    counts = []
    for axis in (0, 1):
        starts = np.arange(out[axis]) * strides[axis] - pads[axis][0]
        ends = np.minimum(starts + kernel[axis], size[axis])
        counts.append(ends - np.maximum(starts, 0))
    area = kernel[0] * kernel[1]
    return (area / np.outer(counts[0], counts[1])).astype(np.float32)[None, :, :, None]


def emit_global(builtin: str):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        source = ctx.input(node.inputs[0], NHWC)
        made = options("ReducerOptions", keepDims=True)
        ctx.op(builtin, [source, ctx.int32([1, 2])], [ctx.output(node.outputs[0], NHWC)], made)

    return emit


def check_global(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) != 4:
        return f"{node.op_type} is lowered for 2-D images (4-D NCHW input) only"
    return None


def check_batch_norm(node: ir.Node, values) -> str | None:
    # before opset 14, training was asked for by the outputs mean, var, saved_mean, saved_var
    if not attr(node, "training_mode", 0) and any(needed(out) for out in node.outputs[1:]):
        return "BatchNormalization's training outputs before opset 14 are not lowered"
    if (rank(values, node.inputs[0]) or 0) < 2:
        return "BatchNormalization needs an input of rank 2 or more"
    return None


def emit_batch_norm(ctx: EmitContext, node: ir.Node) -> None:
    """x * factor + offset per channel, factor = scale / sqrt(var + epsilon) and offset =
    bias - mean * factor: folded when converting where all four are constants, else
    computed at run time (RSQRT, MUL, SUB) from the given statistics. In training mode the
    statistics are the batch's (MEAN over every axis but the channel's, the variance
    without Bessel's correction), and the running ones are updated by the momentum."""
    source = node.inputs[0]
    perm = ctx.perm_of(source)
    rank_ = ctx.rank(source)
    channel = (perm or tuple(range(rank_))).index(1)
    shape = [1] * rank_
    shape[channel] = -1
    image = ctx.input(source, perm)
    statistics = None
    if attr(node, "training_mode", 0):
        statistics = _batch_statistics(ctx, node, image, channel, shape)
    factor, offset = _batch_norm_terms(ctx, node, shape, statistics)
    out = node.outputs[0]
    scaled = ctx.temp(f"{out.name}_scaled", np.float32, ctx._stored_shape(out, perm))
    ctx.op("MUL", [image, factor], [scaled], options("MulOptions"))
    ctx.op("ADD", [scaled, offset], [ctx.output(out, perm)], options("AddOptions"))


def _batch_statistics(ctx: EmitContext, node: ir.Node, image: int, channel: int,
                      shape: list[int]) -> tuple[int, int]:
    """The batch's mean and variance, [C] each; writes the running mean and variance
    (outputs 1 and 2, where read): given * momentum + batch's * (1 - momentum)."""
    channels = ctx.shape(node.inputs[1])[0]
    held = ctx.builder.tensors[image].shape
    axes = ctx.int32([axis for axis in range(len(held)) if axis != channel])
    reduce = options("ReducerOptions", keepDims=False)
    mean = ctx.temp("bn_batch_mean", np.float32, [channels])
    ctx.op("MEAN", [image, axes], [mean], reduce)
    flat = [channels if d == -1 else 1 for d in shape]
    shaped = ctx.temp("bn_batch_mean_shaped", np.float32, flat)
    ctx.op("RESHAPE", [mean, ctx.int32(flat)], [shaped])
    squares = ctx.temp("bn_squares", np.float32, list(held))
    ctx.op("SQUARED_DIFFERENCE", [image, shaped], [squares])
    var = ctx.temp("bn_batch_var", np.float32, [channels])
    ctx.op("MEAN", [squares, axes], [var], reduce)
    momentum = attr(node, "momentum", 0.9)
    for given, batch, out in zip(node.inputs[3:5], (mean, var), node.outputs[1:3]):
        if not needed(out):
            continue
        kept = ctx.temp("bn_kept", np.float32, [channels])
        ctx.op("MUL", [ctx.input(given), ctx.const(np.asarray(momentum, np.float32))], [kept],
               options("MulOptions"))
        moved = ctx.temp("bn_moved", np.float32, [channels])
        ctx.op("MUL", [batch, ctx.const(np.asarray(1 - momentum, np.float32))], [moved],
               options("MulOptions"))
        ctx.op("ADD", [kept, moved], [ctx.output(out)], options("AddOptions"))
    return mean, var


def _batch_norm_terms(ctx: EmitContext, node: ir.Node, shape: list[int],
                      statistics: tuple[int, int] | None) -> tuple[int, int]:
    """(factor, offset) tensors, each of `shape` (the channel axis -1); `statistics`: the
    batch's mean and variance, in place of the node's inputs 3 and 4."""
    epsilon = attr(node, "epsilon", 1e-5)
    given = [const_or_dequantized(v) for v in node.inputs[1:5]]
    if statistics is None and all(array is not None for array in given):
        scale, bias, mean, var = (array.astype(np.float64) for array in given)
        factor = scale / np.sqrt(var + epsilon)
        offset = bias - mean * factor
        return (ctx.const(factor.astype(np.float32).reshape(shape)),
                ctx.const(offset.astype(np.float32).reshape(shape)))
    channels = ctx.shape(node.inputs[1])[0]
    scale, bias = ctx.input(node.inputs[1]), ctx.input(node.inputs[2])
    mean, var = statistics or (ctx.input(node.inputs[3]), ctx.input(node.inputs[4]))

    def step(builtin: str, inputs: list[int], made: str | None = None) -> int:
        result = ctx.temp(f"bn_{builtin.lower()}", np.float32, [channels])
        ctx.op(builtin, inputs, [result], options(made) if made else None)
        return result

    shifted = step("ADD", [var, ctx.const(np.asarray(epsilon, np.float32))], "AddOptions")
    factor = step("MUL", [scale, step("RSQRT", [shifted])], "MulOptions")
    offset = step("SUB", [bias, step("MUL", [mean, factor], "MulOptions")], "SubOptions")
    flat = [channels if d == -1 else 1 for d in shape]
    shaped = []
    for term in (factor, offset):
        shaped.append(ctx.temp("bn_term", np.float32, flat))
        ctx.op("RESHAPE", [term, ctx.int32(flat)], [shaped[-1]])
    return shaped[0], shaped[1]


def resize_flags(node: ir.Node, opset_10: bool, integral: bool = False
                 ) -> tuple[str, bool, bool] | str:
    """(builtin, align_corners, half_pixel_centers), or why it has no builtin. `integral`:
    each output size is a whole multiple of the input's, where ONNX's half-pixel
    round_prefer_floor picks the pixels TFLite's half-pixel nearest picks (the source
    coordinate (o + 0.5) / s is never a whole number, so the two roundings agree)."""
    mode = attr(node, "mode", "nearest")
    coords = "asymmetric" if opset_10 else attr(node, "coordinate_transformation_mode",
                                                  "half_pixel")
    if mode == "linear":
        flags = {"half_pixel": (False, True), "pytorch_half_pixel": (False, True),
                 "align_corners": (True, False), "asymmetric": (False, False)}
        if coords not in flags:
            return f"Resize linear with coordinate_transformation_mode={coords} has no builtin"
        return ("RESIZE_BILINEAR", *flags[coords])
    if mode == "nearest":
        rounding = "floor" if opset_10 else attr(node, "nearest_mode", "round_prefer_floor")
        flags = {("asymmetric", "floor"): (False, False),
                 ("half_pixel", "round_prefer_ceil"): (False, True),
                 ("tf_half_pixel_for_nn", "floor"): (False, True)}
        if integral and coords == "half_pixel" and rounding == "round_prefer_floor":
            return ("RESIZE_NEAREST_NEIGHBOR", False, True)
        if (coords, rounding) not in flags:
            return (f"Resize nearest with {coords} coordinates and nearest_mode={rounding} "
                    "has no builtin")
        return ("RESIZE_NEAREST_NEIGHBOR", *flags[(coords, rounding)])
    return f"Resize mode '{mode}' has no TFLite builtin (nearest and linear do)"


def check_resize(opset_10: bool):
    def check(node: ir.Node, values) -> str | None:
        if not opset_10 and needs_dynamic(node, values):
            return check_dynamic(node, values)  # weights built at run time (_resize_dynamic)
        reason = _builtin_reason(node, values, opset_10)
        if reason is None or opset_10 or rank(values, node.inputs[0]) != 4:
            return reason
        if _batch_or_channel_changes(node, values):
            return "Resize of the batch or channel axis has no TFLite builtin"
        return check_separable(node, values)  # weights in two matrix products (_resize)

    return check


def _batch_or_channel_changes(node: ir.Node, values) -> bool:
    out = static_but_batch(values, node.outputs[0])
    source = static_but_batch(values, node.inputs[0])
    return out is not None and source is not None and (
        out[1] != source[1] or _batch_changes(values, node))


def _builtin_reason(node: ir.Node, values, opset_10: bool) -> str | None:
    """Why neither RESIZE_BILINEAR nor RESIZE_NEAREST_NEIGHBOR computes the node."""
    if rank(values, node.inputs[0]) != 4:
        return "Resize is lowered for 4-D NCHW images only"
    out = static_but_batch(values, node.outputs[0])
    source = static_but_batch(values, node.inputs[0])
    flags = resize_flags(node, opset_10, _integral(source, out))
    if isinstance(flags, str):
        return flags
    if attr(node, "antialias", 0) or attr(node, "axes") is not None:
        return "Resize with antialias or axes is not lowered"
    if out is None or source is None:
        return "Resize needs static channel and spatial input and output dims"
    if out[1] != source[1] or _batch_changes(values, node):
        return "Resize of the batch or channel axis has no TFLite builtin"
    if _scales_disagree(node, source, out, opset_10):
        return ("Resize by scales that are not the output/input size ratio (TFLite maps "
                "coordinates by the size ratio, ONNX by the scale)")
    if attr(node, "coordinate_transformation_mode") == "pytorch_half_pixel" \
            and min(out[2:]) == 1:
        return "Resize pytorch_half_pixel to a size of 1 differs from TFLite's half-pixel"
    return None


def _batch_changes(values, node: ir.Node) -> bool:
    before, after = values.shape(node.inputs[0])[0], values.shape(node.outputs[0])[0]
    return before != after


def _integral(source, out) -> bool:
    if source is None or out is None:
        return False
    return all(o % i == 0 for o, i in zip(out[2:], source[2:]))


def _scales_disagree(node: ir.Node, source, out, opset_10: bool) -> bool:
    index = 1 if opset_10 else 2
    value = node.inputs[index] if index < len(node.inputs) else None
    if value is None:
        return False
    scales = const_or_dequantized(value)
    if scales is None:
        return True  # known at run time only: the ratio cannot be checked
    if scales.size != 4:
        return False
    ratios = [o / i for o, i in zip(out[2:], source[2:])]
    return any(abs(float(s) - r) > 1e-6 for s, r in zip(scales[2:], ratios))


def emit_resize(opset_10: bool):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        if not opset_10 and needs_dynamic(node, ctx.values):
            emit_dynamic(ctx, node)
            return
        if _builtin_reason(node, ctx.values, opset_10) is not None:
            emit_separable(ctx, node)
            return
        integral = _integral(ctx.image_shape(node.inputs[0]), ctx.image_shape(node.outputs[0]))
        builtin, align, half = resize_flags(node, opset_10, integral)
        size = ctx.image_shape(node.outputs[0])[2:]
        kind = "ResizeBilinearOptions" if builtin == "RESIZE_BILINEAR" \
            else "ResizeNearestNeighborOptions"
        made = options(kind, alignCorners=align, halfPixelCenters=half)
        ctx.op(builtin, [ctx.input(node.inputs[0], NHWC), ctx.int32(list(size))],
               [ctx.output(node.outputs[0], NHWC)], made)

    return emit


def _upsample_removed(node: ir.Node, values) -> str | None:
    return "Upsample was removed at opset 10 (Resize replaces it)"


def check_depth_space(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) != 4:
        return f"{node.op_type} is lowered for 4-D NCHW input only"
    if attr(node, "mode", "DCR") != "DCR":
        return f"{node.op_type} in CRD mode has no TFLite builtin (DCR mode does)"
    return None


def emit_depth_space(builtin: str, kind: str):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        made = options(kind, blockSize=int(attr(node, "blocksize")))
        ctx.op(builtin, [ctx.input(node.inputs[0], NHWC)], [ctx.output(node.outputs[0], NHWC)],
               made)

    return emit


def check_lrn(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) != 4:
        return "LRN is lowered for 4-D NCHW input only"
    if attr(node, "size") % 2 == 0:
        return "LRN with an even size (a window off centre) has no TFLite builtin"
    return None


def emit_lrn(ctx: EmitContext, node: ir.Node) -> None:
    """LOCAL_RESPONSE_NORMALIZATION on NHWC: ONNX divides alpha by the window size."""
    size = attr(node, "size")
    made = options("LocalResponseNormalizationOptions", radius=(size - 1) // 2,
                   bias=float(attr(node, "bias", 1.0)),
                   alpha=float(attr(node, "alpha", 1e-4)) / size,
                   beta=float(attr(node, "beta", 0.75)))
    ctx.op("LOCAL_RESPONSE_NORMALIZATION", [ctx.input(node.inputs[0], NHWC)],
           [ctx.output(node.outputs[0], NHWC)], made)


def check_instance_norm(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) != 4:
        return "InstanceNormalization is lowered for 4-D NCHW input only"
    return None


def emit_instance_norm(ctx: EmitContext, node: ir.Node) -> None:
    """Per image and channel over H, W (NHWC axes 1, 2): (x - mean) * rsqrt(var + eps)
    * scale + bias, the scale and bias on the channel axis."""
    out = node.outputs[0]
    shape = ctx._stored_shape(node.inputs[0], NHWC)
    reduced = None if shape is None else [shape[0], 1, 1, shape[3]]
    x = ctx.input(node.inputs[0], NHWC)
    axes = ctx.int32([1, 2])
    keep = options("ReducerOptions", keepDims=True)
    steps = {name: ctx.temp(f"in_{name}", np.float32, reduced if name in
                            {"mean", "var", "eps", "inv"} else shape)
             for name in ("mean", "centered", "square", "var", "eps", "inv", "normed", "scaled")}
    ctx.op("MEAN", [x, axes], [steps["mean"]], keep)
    ctx.op("SUB", [x, steps["mean"]], [steps["centered"]], options("SubOptions"))
    ctx.op("MUL", [steps["centered"], steps["centered"]], [steps["square"]],
           options("MulOptions"))
    ctx.op("MEAN", [steps["square"], axes], [steps["var"]], keep)
    epsilon = ctx.const(np.asarray(attr(node, "epsilon", 1e-5), np.float32))
    ctx.op("ADD", [steps["var"], epsilon], [steps["eps"]], options("AddOptions"))
    ctx.op("RSQRT", [steps["eps"]], [steps["inv"]])
    ctx.op("MUL", [steps["centered"], steps["inv"]], [steps["normed"]], options("MulOptions"))
    ctx.op("MUL", [steps["normed"], ctx.input(node.inputs[1])], [steps["scaled"]],
           options("MulOptions"))
    ctx.op("ADD", [steps["scaled"], ctx.input(node.inputs[2])], [ctx.output(out, NHWC)],
           options("AddOptions"))


def entries() -> dict[str, list[Lowering]]:
    return {
        # int8/uint8 (a QOperator model's MaxPool) by the builtin only
        "MaxPool": [entry(("MAX_POOL_2D", *TAPS), emit_pool("MAX_POOL_2D"), check=check_pool,
                          dtypes=F32 | {ir.DataType.INT8, ir.DataType.UINT8})],
        "AveragePool": [entry(("AVERAGE_POOL_2D", *TAPS), emit_pool("AVERAGE_POOL_2D"),
                              check=check_pool)],
        "LpPool": [entry(("SQUARE", "ABS", "POW", "PAD", "AVERAGE_POOL_2D", "MUL", "SQRT", *TAPS),
                         emit_lp_pool, check=check_lp_pool)],
        "GlobalAveragePool": [entry("MEAN", emit_global("MEAN"), check=check_global)],
        "GlobalMaxPool": [entry("REDUCE_MAX", emit_global("REDUCE_MAX"), check=check_global)],
        "BatchNormalization": [entry(("MUL", "ADD", "RSQRT", "SUB", "RESHAPE", "MEAN",
                                      "SQUARED_DIFFERENCE"), emit_batch_norm,
                                     check=check_batch_norm)],
        "DepthToSpace": [entry("DEPTH_TO_SPACE", emit_depth_space(
            "DEPTH_TO_SPACE", "DepthToSpaceOptions"), check=check_depth_space)],
        "SpaceToDepth": [  # opset 28 gave it DepthToSpace's mode attribute
            entry("SPACE_TO_DEPTH", emit_depth_space("SPACE_TO_DEPTH", "SpaceToDepthOptions"),
                  check=check_depth_space),
            entry("SPACE_TO_DEPTH", emit_depth_space("SPACE_TO_DEPTH", "SpaceToDepthOptions"),
                  check=check_depth_space, since=28),
        ],
        "LRN": [entry("LOCAL_RESPONSE_NORMALIZATION", emit_lrn, check=check_lrn)],
        "InstanceNormalization": [entry(("MEAN", "SUB", "MUL", "ADD", "RSQRT"),
                                        emit_instance_norm, check=check_instance_norm)],
        "Resize": [
            entry(("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"), emit_resize(True),
                  check=check_resize(True), since=10),
            entry(("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", *BUILTINS), emit_resize(False),
                  check=check_resize(False), since=11),
        ],
        # Resize-10's forerunner (asymmetric coordinates, nearest by floor), removed at 10
        "Upsample": [
            entry(BUILTINS, emit_dynamic, check=check_dynamic, since=9),
            entry((), emit_dynamic, check=_upsample_removed, since=10),
        ],
    }
