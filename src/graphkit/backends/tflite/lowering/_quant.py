"""QuantizeLinear / DequantizeLinear as the float arithmetic ONNX defines them.

A DequantizeLinear of constants is folded into a float32 constant when converting (see
_base.const_or_dequantized), so a Q/DQ model's Conv or MatMul gets ordinary float weights; on
activations, Q is DIV, ROUND (half to even, as ONNX), ADD, clamp and CAST, and DQ is
CAST, SUB and MUL. The artifact computes what ONNX Runtime computes on the Q/DQ graph:
it is not an int8-kernel TFLite model (that lowering is still to come)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    Stored,
    attr,
    const_or_dequantized,
    dequantized,
    entry,
    rank,
)

QUANTIZED = frozenset({ir.DataType.INT8, ir.DataType.UINT8})
LIMITS = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}


def check_quant(node: ir.Node, values) -> str | None:
    if attr(node, "block_size", 0):
        return f"{node.op_type} with blocks (block_size) is not lowered"
    for index in (1, 2):
        value = node.inputs[index] if index < len(node.inputs) else None
        if value is not None and const_or_dequantized(value) is None:
            return f"{node.op_type}'s scale and zero point must be constants"
    if rank(values, node.inputs[0]) is None:
        return f"{node.op_type} needs the input's rank"
    out = values.dtype(node.outputs[0]) if node.op_type == "QuantizeLinear" else None
    if out is not None and out not in QUANTIZED:
        return f"QuantizeLinear to {out.name.lower()} is not lowered (int8 and uint8 are)"
    return None


def _broadcast(ctx: EmitContext, node: ir.Node, index: int, dtype, default: float) -> int:
    """Scale or zero point as a float32 constant shaped to broadcast along `axis`."""
    value = node.inputs[index] if index < len(node.inputs) else None
    array = const_or_dequantized(value) if value is not None else None
    array = np.asarray(default if array is None else array).astype(dtype)
    rank_ = ctx.rank(node.inputs[0])
    if array.ndim == 1 and rank_ > 0:
        shape = [1] * rank_
        shape[attr(node, "axis", 1) % rank_] = -1
        array = array.reshape(shape)
    return ctx.const(array)


def emit_quantize(ctx: EmitContext, node: ir.Node) -> None:
    out = node.outputs[0]
    target = ctx.dtype(out)
    shape = ctx.shape_or_none(node.inputs[0])
    steps = [ctx.temp(f"q{i}", np.float32, shape) for i in range(5)]
    ctx.op("DIV", [ctx.input(node.inputs[0]), _broadcast(ctx, node, 1, np.float32, 1.0)],
           [steps[0]], options("DivOptions"))
    ctx.op("ROUND", [steps[0]], [steps[1]])
    ctx.op("ADD", [steps[1], _broadcast(ctx, node, 2, np.float32, 0.0)], [steps[2]],
           options("AddOptions"))
    low, high = LIMITS[target]
    ctx.op("MAXIMUM", [steps[2], ctx.const(np.asarray(low, np.float32))], [steps[3]])
    ctx.op("MINIMUM", [steps[3], ctx.const(np.asarray(high, np.float32))], [steps[4]])
    ctx.op("CAST", [steps[4]], [ctx.output(out)])


def emit_dequantize(ctx: EmitContext, node: ir.Node) -> None:
    out = node.outputs[0]
    folded = dequantized(node)
    if folded is not None:  # constants: a float32 constant, as const_or_dequantized gives it
        ctx.stored[id(out)] = Stored(ctx.const(folded, out.name or "weights"))
        return
    shape = ctx.shape_or_none(node.inputs[0])
    widened = ctx.temp("dq_in", np.float32, shape)
    ctx.op("CAST", [ctx.input(node.inputs[0])], [widened])
    centered = ctx.temp("dq_centered", np.float32, shape)
    ctx.op("SUB", [widened, _broadcast(ctx, node, 2, np.float32, 0.0)], [centered],
           options("SubOptions"))
    ctx.op("MUL", [centered, _broadcast(ctx, node, 1, np.float32, 1.0)], [ctx.output(out)],
           options("MulOptions"))


def entries() -> dict[str, list[Lowering]]:
    return {
        "QuantizeLinear": [entry(("DIV", "ROUND", "ADD", "MAXIMUM", "MINIMUM", "CAST"),
                                 emit_quantize, check=check_quant)],
        "DequantizeLinear": [entry(("CAST", "SUB", "MUL"), emit_dequantize,
                                   dtypes=QUANTIZED | {ir.DataType.INT32}, check=check_quant)],
    }
