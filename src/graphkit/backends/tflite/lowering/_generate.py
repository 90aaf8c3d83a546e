"""Values known when converting, and generators: Constant, Shape and Size (constants
from the static shapes), ConstantOfShape (a constant, or FILL at run time) and Range."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    INDEX,
    EmitContext,
    Lowering,
    Stored,
    attr,
    constant_node_value,
    entry,
    need_static,
    static_shape,
)


def emit_constant(ctx: EmitContext, node: ir.Node) -> None:
    """Nothing to emit: consumers read the value through const_or_dequantized and write it as a
    constant tensor in the layout they want."""


def check_constant(node: ir.Node, values) -> str | None:
    if constant_node_value(node) is None:
        return "Constant is lowered for tensor, float and int values only"
    return None


def emit_static(compute):
    """An op whose output the static shapes decide: written as a constant tensor."""

    def emit(ctx: EmitContext, node: ir.Node) -> None:
        array = compute(ctx, node)
        ctx.stored[id(node.outputs[0])] = Stored(ctx.const(array, node.outputs[0].name))

    return emit


def emit_shape(ctx: EmitContext, node: ir.Node) -> None:
    """A constant where the input's shape is static; else SHAPE (int64) at run time, and a
    STRIDED_SLICE for start/end."""
    if static_shape(ctx.values, node.inputs[0]) is not None:
        emit_static(_shape_of)(ctx, node)
        return
    rank_ = ctx.rank(node.inputs[0])
    out = node.outputs[0]
    start, end = attr(node, "start", 0), attr(node, "end")
    first, last, _ = slice(start, end).indices(rank_)
    made = options("ShapeOptions", outType=4)  # int64
    if (first, last) == (0, rank_):
        ctx.op("SHAPE", [ctx.input(node.inputs[0])], [ctx.output(out)], made)
        return
    whole = ctx.temp("shape", np.int64, [rank_])
    ctx.op("SHAPE", [ctx.input(node.inputs[0])], [whole], made)
    ctx.op("STRIDED_SLICE", [whole, ctx.int32([first]), ctx.int32([last]), ctx.int32([1])],
           [ctx.output(out)], options("StridedSliceOptions"))


def check_shape(node: ir.Node, values) -> str | None:
    return None if values.shape(node.inputs[0]) is not None else "Shape needs the input's rank"


def _shape_of(ctx: EmitContext, node: ir.Node) -> np.ndarray:
    shape = ctx.shape(node.inputs[0])
    start, end = attr(node, "start", 0), attr(node, "end")
    return np.asarray(shape[start:end], dtype=np.int64)


def _size_of(ctx: EmitContext, node: ir.Node) -> np.ndarray:
    return np.asarray(int(np.prod(ctx.shape(node.inputs[0]))), dtype=np.int64)


def _fill_value(node: ir.Node) -> np.ndarray:
    value = attr(node, "value")
    return value.numpy().reshape(()) if value is not None else np.asarray(0, np.float32)


def emit_constant_of_shape(ctx: EmitContext, node: ir.Node) -> None:
    """A constant where the output shape is static; else FILL with the shape at run time."""
    fill = _fill_value(node)
    out = node.outputs[0]
    if static_shape(ctx.values, out) is not None:
        array = np.full(ctx.shape(out), fill, dtype=fill.dtype)
        ctx.stored[id(out)] = Stored(ctx.const(array, out.name))
        return
    ctx.op("FILL", [ctx.input(node.inputs[0]), ctx.const(fill)], [ctx.output(out)])


def check_constant_of_shape(node: ir.Node, values) -> str | None:
    if np.dtype(_fill_value(node).dtype) not in (np.float32, np.int32, np.int64, np.bool_):
        return "ConstantOfShape of this type has no TFLite tensor type that runs it"
    return None


def emit_range(ctx: EmitContext, node: ir.Node) -> None:
    ctx.op("RANGE", [ctx.input(v) for v in node.inputs], [ctx.output(node.outputs[0])])


def check_static_input(node: ir.Node, values) -> str | None:
    return need_static(values, node)


def entries() -> dict[str, list[Lowering]]:
    return {
        "Constant": [entry((), emit_constant, dtype_inputs=(), check=check_constant)],
        "Shape": [entry("SHAPE", emit_shape, dtypes=ANY_DATA, check=check_shape)],
        "Size": [entry((), emit_static(_size_of), dtypes=ANY_DATA, check=check_static_input)],
        "ConstantOfShape": [entry("FILL", emit_constant_of_shape, dtypes=INDEX,
                                  check=check_constant_of_shape)],
        # opset 27 added float16/bfloat16 with stash_type; the types RANGE takes are as before
        "Range": [entry("RANGE", emit_range, dtypes=ANY_DATA - {ir.DataType.BOOL}),
                  entry("RANGE", emit_range, dtypes=ANY_DATA - {ir.DataType.BOOL}, since=27)],
    }
