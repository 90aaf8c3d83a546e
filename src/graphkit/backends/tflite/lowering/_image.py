"""NCHW image ops held as NHWC: BatchNormalization (folded into MUL + ADD where its
statistics are constants), Resize (nearest, bilinear), DepthToSpace/SpaceToDepth, LRN and
InstanceNormalization. The pools are _pool.py's."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
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
from graphkit.backends.tflite.lowering._resize import check_separable, emit_separable
from graphkit.backends.tflite.lowering._resize_dynamic import (
    BUILTINS,
    check_dynamic,
    emit_dynamic,
    needs_dynamic,
)


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
