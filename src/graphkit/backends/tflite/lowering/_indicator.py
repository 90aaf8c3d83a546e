"""OneHot (ONE_HOT) and EyeLike (a constant where the shape is static).

ONNX's OneHot counts a negative index from the end (-1: depth - 1) and leaves an index
outside [-depth, depth) all off; ONE_HOT leaves any index outside [0, depth) all off, so
an index in range is taken modulo depth (FLOOR_MOD) and one outside becomes -1."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    EmitContext,
    Lowering,
    Stored,
    attr,
    entry,
    known,
    static_shape,
)

ONE_HOT_VALUES = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64,
                            ir.DataType.BOOL})


def check_one_hot(node: ir.Node, values) -> str | None:
    for index, what in ((1, "depth"), (2, "values")):
        shape = values.shape(node.inputs[index])
        if shape is None or int(np.prod(shape)) != (1 if index == 1 else 2):
            return f"OneHot's {what} (input {index}) needs a static shape of its size"
    dtype = values.dtype(node.inputs[2]) or node.inputs[2].dtype
    if dtype not in ONE_HOT_VALUES:
        return "OneHot's values have a type ONE_HOT does not write"
    if values.shape(node.inputs[0]) is None:
        return "OneHot needs the rank of its indices"
    return None


def emit_one_hot(ctx: EmitContext, node: ir.Node) -> None:
    indices, depth_value, on_off = node.inputs
    depth = _scalar_depth(ctx, depth_value)
    negative = ctx.temp("onehot_neg_depth", np.int32, [])
    ctx.op("NEG", [depth], [negative])
    shape = ctx.shape_or_none(indices)
    index = ctx.temp("onehot_index", np.int32, shape)
    ctx.op("CAST", [ctx.input(indices)], [index])
    made = [ctx.temp(f"onehot_{name}", np.bool_, shape) for name in ("ge", "lt", "ok")]
    ctx.op("GREATER_EQUAL", [index, negative], [made[0]])
    ctx.op("LESS", [index, depth], [made[1]])
    ctx.op("LOGICAL_AND", made[:2], [made[2]])
    wrapped = ctx.temp("onehot_wrapped", np.int32, shape)
    ctx.op("FLOOR_MOD", [index, depth], [wrapped])
    chosen = ctx.temp("onehot_chosen", np.int32, shape)
    ctx.op("SELECT_V2", [made[2], wrapped, ctx.int32(-1)], [chosen])
    off, on = (_pick(ctx, on_off, position) for position in (0, 1))
    axis = attr(node, "axis", -1)
    if axis < -1:  # ONE_HOT takes -1 (last) or a non-negative axis of the output
        axis += ctx.rank(indices) + 1
    ctx.op("ONE_HOT", [chosen, depth, on, off], [ctx.output(node.outputs[0])],
           options("OneHotOptions", axis=axis))


def _scalar_depth(ctx: EmitContext, value: ir.Value) -> int:
    """The depth as an int32 scalar: a constant, or cast and reshaped at run time."""
    array = known(value, ctx.values)
    if array is not None:
        return ctx.const(np.asarray(int(np.asarray(array).reshape(-1)[0]), np.int32), "depth")
    cast = ctx.temp("onehot_depth", np.int32, ctx.shape_or_none(value))
    ctx.op("CAST", [ctx.input(value)], [cast])
    scalar = ctx.temp("onehot_depth_scalar", np.int32, [])
    ctx.op("RESHAPE", [cast, ctx.int32(np.zeros(0, np.int32))], [scalar])
    return scalar


def _pick(ctx: EmitContext, value: ir.Value, position: int) -> int:
    """values[position] as a scalar: a constant, or a GATHER at run time."""
    array = known(value, ctx.values)
    if array is not None:
        return ctx.const(np.asarray(np.asarray(array).reshape(-1)[position]), "onehot_value")
    picked = ctx.temp("onehot_value", ctx.dtype(value), [])
    flat = ctx.temp("onehot_values", ctx.dtype(value), [2])
    ctx.op("RESHAPE", [ctx.input(value), ctx.int32([2])], [flat])
    ctx.op("GATHER", [flat, ctx.int32(position)], [picked], options("GatherOptions", axis=0))
    return picked


def check_eye_like(node: ir.Node, values) -> str | None:
    shape = static_shape(values, node.inputs[0])
    if shape is None or len(shape) != 2:
        return "EyeLike needs a static 2-D input shape"
    dtype = values.dtype(node.outputs[0]) or node.outputs[0].dtype
    if dtype is None or dtype not in ANY_DATA:
        return "EyeLike of this type has no TFLite tensor type that runs it"
    return None


def emit_eye_like(ctx: EmitContext, node: ir.Node) -> None:
    rows, cols = ctx.shape(node.inputs[0])
    out = node.outputs[0]
    array = np.eye(rows, cols, k=attr(node, "k", 0), dtype=ctx.dtype(out))
    ctx.stored[id(out)] = Stored(ctx.const(array, out.name or "eye"))


def entries() -> dict[str, list[Lowering]]:
    return {
        "OneHot": [entry(("CAST", "FLOOR_MOD", "SELECT_V2", "ONE_HOT", "GATHER"), emit_one_hot,
                         dtypes=ANY_DATA - {ir.DataType.BOOL}, check=check_one_hot)],
        "EyeLike": [entry((), emit_eye_like, dtypes=ANY_DATA, check=check_eye_like)],
    }
