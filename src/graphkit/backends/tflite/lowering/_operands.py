"""Operands ONNX gives as tensors that may only be known at run time, as the TFLite
builtins take them: Pad's pads (an int64 [n, 2] tensor, cropping where negative), and a
scalar axis (an int32 scalar).

ONNX pads are [b1..bn, e1..en], and negative ones remove elements (as ONNX Runtime does,
the crop comes first, then the padding): SLICE by the negative parts, then PAD by the
positive ones, which is exact whatever values arrive at run time.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext

I64 = np.int64
# the builtins a Pad of run-time (or negative) pads adds
PAD_AT_RUN_TIME = ("CAST", "RESHAPE", "TRANSPOSE", "FLOOR_MOD", "EQUAL", "MUL", "SUM",
                   "MINIMUM", "NEG", "SLICE", "SHAPE", "SUB", "MAXIMUM")


def pad_amounts_tensor(ctx: EmitContext, node: ir.Node, rank_: int) -> int:
    """[rank, 2] int64 (before, after) per axis: ONNX's [b..., e...] reshaped and
    transposed; with `axes`, each axis's pair is scattered to its row (0 for the others)."""
    pads = _int64(ctx, node.inputs[1], "pads")
    axes_value = node.inputs[3] if len(node.inputs) > 3 else None
    if axes_value is None:
        rows = ctx.temp("pads_rows", I64, [2, rank_])
        ctx.op("RESHAPE", [pads, ctx.int32([2, rank_])], [rows])
        amounts = ctx.temp("pads_amounts", I64, [rank_, 2])
        ctx.op("TRANSPOSE", [rows, ctx.int32([1, 0])], [amounts])
        return amounts
    # one[i, a] = (axes[i] mod rank == a); amounts[a] = sum over i of one[i, a] * pair[i]
    axes = ctx.temp("axes_mod", I64, None)
    ctx.op("FLOOR_MOD", [_int64(ctx, axes_value, "axes"), ctx.const(np.asarray(rank_, I64))],
           [axes])
    column = ctx.temp("axes_column", I64, None)
    ctx.op("RESHAPE", [axes, ctx.int32([-1, 1])], [column])
    hits = ctx.temp("axes_hits", np.bool_, None)
    ctx.op("EQUAL", [column, ctx.const(np.arange(rank_, dtype=I64)[None, :], "axis_ids")], [hits])
    one = ctx.temp("axes_one_hot", I64, None)
    ctx.op("CAST", [hits], [one])
    one3 = ctx.temp("axes_one_hot3", I64, None)
    ctx.op("RESHAPE", [one, ctx.int32([-1, rank_, 1])], [one3])
    rows = ctx.temp("pads_rows", I64, None)
    ctx.op("RESHAPE", [pads, ctx.int32([2, -1])], [rows])
    pairs = ctx.temp("pads_pairs", I64, None)
    ctx.op("TRANSPOSE", [rows, ctx.int32([1, 0])], [pairs])
    pairs3 = ctx.temp("pads_pairs3", I64, None)
    ctx.op("RESHAPE", [pairs, ctx.int32([-1, 1, 2])], [pairs3])
    placed = ctx.temp("pads_placed", I64, None)
    ctx.op("MUL", [one3, pairs3], [placed], options("MulOptions"))
    amounts = ctx.temp("pads_amounts", I64, [rank_, 2])
    ctx.op("SUM", [placed, ctx.int32([0])], [amounts], options("ReducerOptions", keepDims=False))
    return amounts


def _int64(ctx: EmitContext, value: ir.Value, name: str) -> int:
    tensor = ctx.input(value)
    if ctx.dtype(value) == I64:
        return tensor
    wide = ctx.temp(f"{name}64", I64, None)
    ctx.op("CAST", [tensor], [wide])
    return wide


def crop_then_pad_amounts(ctx: EmitContext, data: int, amounts: int, rank_: int,
                          dtype: np.dtype) -> tuple[int, int]:
    """(data SLICEd by the negative amounts, the amounts with those set to 0)."""
    zero = ctx.const(np.zeros((), I64), "zero")
    negative = ctx.temp("pads_negative", I64, [rank_, 2])
    ctx.op("MINIMUM", [amounts, zero], [negative])
    crop = ctx.temp("pads_crop", I64, [rank_, 2])
    ctx.op("NEG", [negative], [crop])
    begin = ctx.temp("crop_begin", I64, [rank_, 1])
    ctx.op("SLICE", [crop, ctx.const(np.zeros(2, I64)), ctx.const(np.asarray([rank_, 1], I64))],
           [begin])
    flat_begin = ctx.temp("crop_begin_flat", I64, [rank_])
    ctx.op("RESHAPE", [begin, ctx.int32([rank_])], [flat_begin])
    removed = ctx.temp("crop_total", I64, [rank_])
    ctx.op("SUM", [crop, ctx.int32([1])], [removed], options("ReducerOptions", keepDims=False))
    dims = ctx.temp("data_shape", I64, [rank_])
    ctx.op("SHAPE", [data], [dims], options("ShapeOptions", outType=4))  # INT64
    size = ctx.temp("crop_size", I64, [rank_])
    ctx.op("SUB", [dims, removed], [size], options("SubOptions"))
    cropped = ctx.temp("cropped", dtype, None)
    ctx.op("SLICE", [data, flat_begin, size], [cropped])
    positive = ctx.temp("pads_positive", I64, [rank_, 2])
    ctx.op("MAXIMUM", [amounts, zero], [positive])
    return cropped, positive


def scalar_axis(ctx: EmitContext, value: ir.Value) -> int:
    """An axis given at run time as the int32 scalar TFLite takes (a valid axis lies in
    [-rank, rank - 1], so int32 holds every one exactly)."""
    scalar = ctx.temp("axis", ctx.dtype(value), [])
    ctx.op("RESHAPE", [ctx.input(value), ctx.int32([])], [scalar])
    if ctx.dtype(value) == np.int32:
        return scalar
    narrow = ctx.temp("axis32", np.int32, [])
    ctx.op("CAST", [scalar], [narrow])
    return narrow
