"""Bitwise ops. BitShift left as X * 2^Y in a type wide enough for 2^width (int32 for 8-
and 16-bit X, int64 for 32-bit), then CAST back to X's type, which wraps what the shift
pushed out; 2^Y comes from a GATHER of a table of powers whose last entry, 0, is what an
amount outside [0, width) picks (ONNX: the result is then the sign fill alone). BitShift
right as RIGHT_SHIFT (arithmetic for signed X). BitwiseXor is BITWISE_XOR, BitwiseNot an
XOR with all ones (BitwiseAnd and BitwiseOr stay Flex ops: _flex.py)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext, Lowering, attr, entry, rank
from graphkit.backends.tflite.lowering._elementwise import binary_inputs

SHIFTED = frozenset({ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16,
                     ir.DataType.UINT16, ir.DataType.INT32, ir.DataType.UINT32})


def check_bit_shift(node: ir.Node, values) -> str | None:
    ranks = [rank(values, v) for v in node.inputs]
    if any(r is None for r in ranks) or max(ranks) > 5:
        return "BitShift needs inputs of known rank up to 5"
    return None


def emit_bit_shift(ctx: EmitContext, node: ir.Node) -> None:
    x, y = node.inputs
    dtype = ctx.dtype(x)
    width = dtype.itemsize * 8
    wide = np.dtype(np.int32 if width < 32 else np.int64)
    if attr(node, "direction", "") != "LEFT":
        _right_shift(ctx, node, dtype, width)
        return
    x_shape, y_shape = ctx.shape_or_none(x), ctx.shape_or_none(y)
    out = node.outputs[0]

    x_wide = ctx.temp("shift_x", wide, x_shape)
    ctx.op("CAST", [ctx.input(x)], [x_wide])
    amount = ctx.temp("shift_y", np.int32, y_shape)
    ctx.op("CAST", [ctx.input(y)], [amount])
    # an amount outside [0, width) becomes `width`: the table's fill entry
    index = ctx.temp("shift_index", np.int32, y_shape)
    ctx.op("SELECT_V2", [_in_range(ctx, amount, width, y_shape), amount, ctx.int32(width)],
           [index])
    powers = [2**k for k in range(width)] + [0]
    factor = ctx.temp("shift_factor", wide, y_shape)
    ctx.op("GATHER", [ctx.const(np.asarray(powers, wide)), index], [factor],
           options("GatherOptions", axis=0))
    result = ctx.temp("shifted", wide, ctx.shape_or_none(out))
    ctx.op("MUL", [x_wide, factor], [result], options("MulOptions"))
    ctx.op("CAST", [result], [ctx.output(out)])


def _right_shift(ctx: EmitContext, node: ir.Node, dtype: np.dtype, width: int) -> None:
    """RIGHT_SHIFT (arithmetic for signed types, logical for unsigned) by the amount, or by
    width - 1 where it is outside [0, width): the sign fill for a signed X; an unsigned X's
    result is then 0 (SELECT_V2)."""
    x, y = node.inputs
    y_shape, out = ctx.shape_or_none(y), node.outputs[0]
    amount = ctx.temp("shift_y", np.int32, y_shape)
    ctx.op("CAST", [ctx.input(y)], [amount])
    valid = _in_range(ctx, amount, width, y_shape)
    clamped = ctx.temp("shift_amount", np.int32, y_shape)
    ctx.op("SELECT_V2", [valid, amount, ctx.int32(width - 1)], [clamped])
    by = ctx.temp("shift_by", dtype, y_shape)
    ctx.op("CAST", [clamped], [by])
    if dtype.kind == "i":
        ctx.op("RIGHT_SHIFT", [ctx.input(x), by], [ctx.output(out)])
        return
    shifted = ctx.temp("shifted", dtype, ctx.shape_or_none(out))
    ctx.op("RIGHT_SHIFT", [ctx.input(x), by], [shifted])
    ctx.op("SELECT_V2", [valid, shifted, ctx.const(np.zeros((), dtype))], [ctx.output(out)])


def _in_range(ctx: EmitContext, amount: int, width: int, shape) -> int:
    made = [ctx.temp(f"shift_{name}", np.bool_, shape) for name in ("ge", "lt", "ok")]
    ctx.op("GREATER_EQUAL", [amount, ctx.int32(0)], [made[0]])
    ctx.op("LESS", [amount, ctx.int32(width)], [made[1]])
    ctx.op("LOGICAL_AND", made[:2], [made[2]])
    return made[2]


BITS = frozenset({ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16,
                  ir.DataType.UINT16, ir.DataType.INT32, ir.DataType.UINT32})


def emit_xor(ctx: EmitContext, node: ir.Node) -> None:
    tensors, perm = binary_inputs(ctx, node, list(node.inputs))
    ctx.op("BITWISE_XOR", tensors, [ctx.output(node.outputs[0], perm)])


def emit_not(ctx: EmitContext, node: ir.Node) -> None:
    """~x as x XOR all ones (-1 for a signed type, the largest value for an unsigned one)."""
    value = node.inputs[0]
    perm = ctx.perm_of(value)
    dtype = ctx.dtype(value)
    ones = np.asarray(-1 if dtype.kind == "i" else np.iinfo(dtype).max, dtype)
    ctx.op("BITWISE_XOR", [ctx.input(value, perm), ctx.const(ones)],
           [ctx.output(node.outputs[0], perm)])


def entries() -> dict[str, list[Lowering]]:
    return {
        "BitShift": [entry(("CAST", "GATHER", "MUL", "RIGHT_SHIFT", "SELECT_V2"), emit_bit_shift,
                           dtypes=SHIFTED, check=check_bit_shift)],
        "BitwiseXor": [entry("BITWISE_XOR", emit_xor, dtypes=BITS)],
        "BitwiseNot": [entry("BITWISE_XOR", emit_not, dtypes=BITS)],
    }
