"""The pools, NCHW images held as NHWC: MaxPool, AveragePool and LpPool by TFLite's 2-D
builtins (1-D ones as 2-D on images of height 1, like a 1-D Conv), tap by tap where the
builtins cannot take them (_pool_taps.py); the global pools as reductions."""

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
    counted,
    emit_pool_taps,
    size_reason,
    taps_reason,
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
    counts = [counted(size[axis], out[axis], kernel[axis], strides[axis], 1, pads[axis], False)
              for axis in (0, 1)]
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
    }
