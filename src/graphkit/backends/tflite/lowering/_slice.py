"""Slice as STRIDED_SLICE and Split as SPLIT_V.

Slice with starts, ends, axes or steps given at run time: STRIDED_SLICE over every axis,
its begin, end and strides tensors built when the model runs.

The given values are scattered into full-rank vectors (SCATTER_ND) at their axes (negative
axes counted from the rank); an axis not given keeps begin 0, end its size and stride 1.
Values are clamped into int32 before the CAST STRIDED_SLICE needs: a start or end past a
dim clamps the same way in both, so ONNX's INT64_MAX "to the end" stays the end. Negative
starts and ends count from the end and are clamped as ONNX clamps them (as Python does).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    NUMERIC,
    EmitContext,
    Lowering,
    attr,
    entry,
    known,
    need_constant,
    static_shape,
)

INT32_LIMIT = 2**31 - 1


def given_at_run_time(node: ir.Node, values) -> bool:
    """Whether an input of the node's starts, ends, axes or steps is known only at run time."""
    return len(node.inputs) > 1 and any(
        v is not None and known(v, values) is None for v in node.inputs[1:5])


def check_run_time_slice(node: ir.Node, values) -> str | None:
    if static_shape(values, node.inputs[0]) is None:
        return "Slice by values given at run time needs a static input shape"
    lengths = {static_shape(values, v) for v in node.inputs[1:5] if v is not None}
    if None in lengths or len(lengths) != 1:
        return "Slice by values given at run time needs its starts, ends, axes and steps " \
            "of one static length"
    return None


def emit_run_time_slice(ctx: EmitContext, node: ir.Node) -> None:
    source = node.inputs[0]
    shape = ctx.shape(source)
    count = ctx.shape(node.inputs[1])[0]
    axes = _axes(ctx, node, len(shape), count)
    ones = ctx.int32(np.ones(count, np.int32))
    hit = ctx.temp("sliced_axes", np.bool_, [len(shape)])
    ctx.op("GREATER", [_scattered(ctx, axes, ones, len(shape)), ctx.int32(0)], [hit])
    begin = _scattered(ctx, axes, _int32(ctx, node.inputs[1]), len(shape))
    end = _chosen(ctx, hit, _scattered(ctx, axes, _int32(ctx, node.inputs[2]), len(shape)),
                  ctx.int32(list(shape)))
    steps = node.inputs[4] if len(node.inputs) > 4 else None
    stride = _chosen(ctx, hit, _scattered(ctx, axes, _int32(ctx, steps) if steps is not None
                                          else ones, len(shape)),
                     ctx.int32(np.ones(len(shape), np.int32)))
    ctx.op("STRIDED_SLICE", [ctx.input(source), begin, end, stride],
           [ctx.output(node.outputs[0])], options("StridedSliceOptions"))


def _axes(ctx: EmitContext, node: ir.Node, rank_: int, count: int) -> int:
    """[count, 1] int32 axes, negative ones counted from the rank."""
    given = node.inputs[3] if len(node.inputs) > 3 else None
    if given is None:
        return ctx.int32(np.arange(count).reshape(count, 1))
    axes = _int32(ctx, given)
    negative = ctx.temp("negative_axis", np.bool_, [count])
    ctx.op("LESS", [axes, ctx.int32(0)], [negative])
    shifted = ctx.temp("axis_from_end", np.int32, [count])
    ctx.op("ADD", [axes, ctx.int32(rank_)], [shifted], options("AddOptions"))
    wrapped = ctx.temp("axis", np.int32, [count])
    ctx.op("SELECT_V2", [negative, shifted, axes], [wrapped])
    column = ctx.temp("axis_column", np.int32, [count, 1])
    ctx.op("RESHAPE", [wrapped, ctx.int32([count, 1])], [column])
    return column


def _int32(ctx: EmitContext, value: ir.Value) -> int:
    """The value as int32, clamped into its range first."""
    array = known(value, ctx.values)
    if array is not None:
        return ctx.int32(np.clip(array, -INT32_LIMIT, INT32_LIMIT).astype(np.int32))
    shape = ctx.shape(value)
    data = ctx.input(value)
    if ctx.dtype(value) != np.int32:
        high = ctx.temp("clamped_high", ctx.dtype(value), shape)
        ctx.op("MINIMUM", [data, ctx.const(np.asarray(INT32_LIMIT, ctx.dtype(value)))], [high])
        low = ctx.temp("clamped", ctx.dtype(value), shape)
        ctx.op("MAXIMUM", [high, ctx.const(np.asarray(-INT32_LIMIT, ctx.dtype(value)))], [low])
        data = ctx.temp("narrowed", np.int32, shape)
        ctx.op("CAST", [low], [data])
    return data


def _scattered(ctx: EmitContext, axes: int, values: int, rank_: int) -> int:
    full = ctx.temp("per_axis", np.int32, [rank_])
    ctx.op("SCATTER_ND", [axes, values, ctx.int32([rank_])], [full])
    return full


def _chosen(ctx: EmitContext, hit: int, given: int, default: int) -> int:
    rank_ = ctx.builder.tensors[given].shape
    chosen = ctx.temp("per_axis_or_default", np.int32, rank_)
    ctx.op("SELECT_V2", [hit, given, default], [chosen])
    return chosen


def _slice_inputs(node: ir.Node, values):
    starts, ends = known(node.inputs[1], values), known(node.inputs[2], values)
    axes, steps = (known(node.inputs[i], values) if len(node.inputs) > i and node.inputs[i]
                   else None for i in (3, 4))
    if node.op_type == "Slice" and len(node.inputs) == 1:  # opset < 10: attributes
        starts, ends, axes = (np.asarray(attr(node, k)) if attr(node, k) is not None else None
                              for k in ("starts", "ends", "axes"))
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in zip(starts, ends, steps, axes)]


def slice_params(node: ir.Node, shape: tuple, values):
    """STRIDED_SLICE's begin, end, strides and masks. A dynamic dim (not an int) is sliced
    with a positive step only: TFLite then clamps and counts from the end as ONNX does, and
    an end past the dim becomes the end mask."""
    rank_ = len(shape)
    begin, end, stride = [0] * rank_, [0] * rank_, [1] * rank_
    begin_mask, end_mask = 0, 0
    sliced = {}
    for start, stop, step, axis in _slice_inputs(node, values):
        sliced[axis % rank_] = (start, stop, step)
    for axis in range(rank_):
        if axis not in sliced:
            begin_mask, end_mask = begin_mask | 1 << axis, end_mask | 1 << axis
            continue
        start, stop, step = sliced[axis]
        if not isinstance(shape[axis], int):
            begin[axis], stride[axis] = max(min(start, INT32_LIMIT), -INT32_LIMIT), step
            end[axis] = max(min(stop, INT32_LIMIT), -INT32_LIMIT)
            if stop >= INT32_LIMIT:
                end_mask |= 1 << axis
            continue
        first, last, step = slice(start, stop, step).indices(shape[axis])
        begin[axis], end[axis], stride[axis] = first, last, step
        if last < 0:  # before the first element: TFLite would read -1 as the last one
            end_mask |= 1 << axis
    return begin, end, stride, begin_mask, end_mask


def check_slice(node: ir.Node, values) -> str | None:
    if given_at_run_time(node, values):
        return check_run_time_slice(node, values)
    if len(node.inputs) > 1:
        for index, what in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")):
            found = need_constant(node, index, what, values)
            if found:
                return found
    shape = values.shape(node.inputs[0])
    if shape is None:
        return "Slice needs the input's rank"
    for _, _, step, axis in _slice_inputs(node, values):
        if step < 0 and not isinstance(shape[axis % len(shape)], int):
            return "Slice with a negative step on a dynamic dim is not lowered"
    return None


def emit_slice(ctx: EmitContext, node: ir.Node) -> None:
    if given_at_run_time(node, ctx.values):
        emit_run_time_slice(ctx, node)
        return
    shape = ctx.values.shape(node.inputs[0])
    begin, end, stride, begin_mask, end_mask = slice_params(node, shape, ctx.values)
    made = options("StridedSliceOptions", beginMask=begin_mask, endMask=end_mask)
    ctx.op("STRIDED_SLICE", [ctx.input(node.inputs[0]), ctx.int32(begin), ctx.int32(end),
                             ctx.int32(stride)], [ctx.output(node.outputs[0])], made)


def emit_split(ctx: EmitContext, node: ir.Node) -> None:
    """SPLIT_V by the output sizes; an empty part is left out (LiteRT holds no tensor
    without elements), and only Concat may read it, which leaves it out too."""
    shape = ctx.shape(node.inputs[0])
    axis = attr(node, "axis", 0) % len(shape)
    parts = [out for out in node.outputs if ctx.shape(out)[axis] != 0]
    sizes = [ctx.shape(out)[axis] for out in parts]
    made = options("SplitVOptions", numSplits=len(sizes))
    ctx.op("SPLIT_V", [ctx.input(node.inputs[0]), ctx.int32(sizes), ctx.int32(axis)],
           [ctx.output(out) for out in parts], made)


def check_split(node: ir.Node, values) -> str | None:
    # the sizes are read off the static output shapes, which a split input given at run
    # time must agree with (ONNX's shapes are its sizes)
    if any(static_shape(values, out) is None for out in node.outputs):
        split = node.inputs[1] if len(node.inputs) > 1 else None
        if split is not None and known(split, values) is None:
            return "Split by sizes given at run time needs static output shapes"
        return "Split needs static output shapes"
    return None


def entries() -> dict[str, list[Lowering]]:
    return {
        "Slice": [entry("STRIDED_SLICE", emit_slice, dtypes=ANY_DATA, check=check_slice)],
        "Split": [entry("SPLIT_V", emit_split, dtypes=NUMERIC, check=check_split)],
    }
