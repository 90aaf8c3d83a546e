"""Ops that pick or move elements by a condition or a length:

    Shrink(x)              -> SELECT_V2(x < -l, x + b, SELECT_V2(x > l, x - b, 0))
    NonZero(x)             -> TRANSPOSE(WHERE(x != 0))          ([n, rank] -> [rank, n])
    Compress(x, c, axis)   -> GATHER(x, RESHAPE(WHERE(c), [-1]), axis)   (x flattened
                              first without an axis)
    ReverseSequence(x, n)  -> REVERSE_SEQUENCE(x, n, seq_dim=time_axis, batch_dim=batch_axis)
    Scatter (opset 9, 10)  -> ScatterElements' lowering (_scatter.py): opset 11 renamed it,
                              with the same inputs and meaning
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    MOVE_DATA,
    EmitContext,
    Lowering,
    attr,
    entry,
    rank,
)
from graphkit.backends.tflite.lowering._scatter import (
    SCATTERED,
    check_scatter,
    emit_scatter_elements,
)

NONZERO = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64, ir.DataType.BOOL})
# REVERSE_SEQUENCE's kernel takes these (not bool)
REVERSED = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})


def emit_shrink(ctx: EmitContext, node: ir.Node) -> None:
    x = node.inputs[0]
    lambd = np.float32(attr(node, "lambd", 0.5))
    bias = np.float32(attr(node, "bias", 0.0))
    shape = ctx.shape_or_none(x)

    def temp(name: str, dtype=np.float32) -> int:
        return ctx.temp(f"{x.name}_{name}", dtype, shape)

    low, high, plus, minus, upper = (temp("low", np.bool_), temp("high", np.bool_),
                                     temp("plus"), temp("minus"), temp("upper"))
    ctx.op("LESS", [ctx.input(x), ctx.const(np.asarray(-lambd))], [low])
    ctx.op("GREATER", [ctx.input(x), ctx.const(np.asarray(lambd))], [high])
    ctx.op("ADD", [ctx.input(x), ctx.const(np.asarray(bias))], [plus], options("AddOptions"))
    ctx.op("SUB", [ctx.input(x), ctx.const(np.asarray(bias))], [minus], options("SubOptions"))
    ctx.op("SELECT_V2", [high, minus, ctx.const(np.zeros((), np.float32))], [upper])
    ctx.op("SELECT_V2", [low, plus, upper], [ctx.output(node.outputs[0])])


def check_nonzero(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) in (None, 0):
        return "NonZero needs an input of known rank, 1 or more"
    return None


def emit_nonzero(ctx: EmitContext, node: ir.Node) -> None:
    x = node.inputs[0]
    rank_ = ctx.rank(x)
    condition = ctx.input(x)
    if ctx.dtype(x) != np.bool_:
        condition = ctx.temp(f"{x.name}_nonzero", np.bool_, ctx.shape_or_none(x))
        ctx.op("NOT_EQUAL", [ctx.input(x), ctx.const(np.zeros((), ctx.dtype(x)))], [condition])
    coordinates = ctx.temp("coordinates", np.int64, [1, rank_])
    ctx.op("WHERE", [condition], [coordinates])
    ctx.op("TRANSPOSE", [coordinates, ctx.int32([1, 0])], [ctx.output(node.outputs[0])])


def check_compress(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) is None:
        return "Compress needs the rank of its input"
    if rank(values, node.inputs[1]) != 1:
        return "Compress needs a 1-D condition"
    return None


def emit_compress(ctx: EmitContext, node: ir.Node) -> None:
    x, condition = node.inputs
    axis = attr(node, "axis", None)
    data = ctx.input(x)
    if axis is None:
        flat = ctx.temp(f"{x.name}_flat", ctx.dtype(x), None)
        ctx.op("RESHAPE", [data, ctx.int32([-1])], [flat])
        data, axis = flat, 0
    axis %= max(ctx.rank(x), 1)
    chosen = ctx.temp("chosen", np.int64, [1, 1])
    ctx.op("WHERE", [ctx.input(condition)], [chosen])
    index = ctx.temp("chosen_index", np.int64, [1])
    ctx.op("RESHAPE", [chosen, ctx.int32([-1])], [index])
    ctx.op("GATHER", [data, index], [ctx.output(node.outputs[0])],
           options("GatherOptions", axis=axis))


def check_reverse_sequence(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) is None:
        return "ReverseSequence needs the rank of its input"
    return None


def emit_reverse_sequence(ctx: EmitContext, node: ir.Node) -> None:
    x, lengths = node.inputs
    made = options("ReverseSequenceOptions", seqDim=attr(node, "time_axis", 0),
                   batchDim=attr(node, "batch_axis", 1))
    ctx.op("REVERSE_SEQUENCE", [ctx.input(x), ctx.input(lengths)],
           [ctx.output(node.outputs[0])], made)


def entries() -> dict[str, list[Lowering]]:
    return {
        "Shrink": [entry(("LESS", "GREATER", "ADD", "SUB", "SELECT_V2"), emit_shrink)],
        "NonZero": [entry(("NOT_EQUAL", "WHERE", "TRANSPOSE"), emit_nonzero, dtypes=NONZERO,
                          check=check_nonzero)],
        "Compress": [entry(("RESHAPE", "WHERE", "GATHER"), emit_compress, dtypes=MOVE_DATA,
                           check=check_compress)],
        "ReverseSequence": [entry("REVERSE_SEQUENCE", emit_reverse_sequence, dtypes=REVERSED,
                                  check=check_reverse_sequence)],
        "Scatter": [entry(("CONCATENATION", "SCATTER_ND", "CAST", "ADD", "GREATER",
                           "SELECT_V2"), emit_scatter_elements, dtypes=SCATTERED,
                          check=check_scatter, since=9)],
    }

