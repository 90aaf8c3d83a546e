"""Bitwise ops. BitShift left as X * 2^Y in a type wide enough for 2^width (int32 for 8-
and 16-bit X, int64 for 32-bit), then CAST back to X's type, which wraps what the shift
pushed out; 2^Y comes from a GATHER of a table of powers whose last entry, 0, is what an
amount outside [0, width) picks (ONNX: the result is then the sign fill alone). BitShift
right as RIGHT_SHIFT (arithmetic for signed X). BitwiseXor is BITWISE_XOR, BitwiseNot an
XOR with all ones, BitCast is BITCAST.

BitwiseAnd and BitwiseOr have no builtin. For integers in two's complement (infinitely
sign-extended) a + b = (a ^ b) + 2 (a & b) exactly, so a & b = (a + b - (a ^ b)) >> 1 and
a | b = (a + b + (a ^ b)) >> 1. In int32 the sum would overflow, so each operand is split
into hi = a >> 16 (arithmetic: [-2^15, 2^15)) and lo = a - hi * 2^16 ([0, 2^16)), the
formula runs on the halves (sums within 2^17) and the result is hi * 2^16 + lo, which
fits int32 again. uint32 is BITCAST to int32 and back; int64 and uint64 are BITCAST to
pairs of int32 (a trailing dim of 2), which broadcast as the 64-bit values do; the 8- and
16-bit types are computed in int32 (_widen: sign or zero extension commutes with & and |)."""

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


def check_bitcast(node: ir.Node, values) -> str | None:
    source = values.dtype(node.inputs[0]) or node.inputs[0].dtype
    target = values.dtype(node.outputs[0]) or node.outputs[0].dtype
    if target not in BITCAST_TYPES:
        name = target.name.lower() if target is not None else "an unknown type"
        return f"BitCast to {name} is not lowered"
    if source.itemsize != target.itemsize:
        return "BitCast between types of different widths is not valid ONNX"
    return None


def emit_bitcast(ctx: EmitContext, node: ir.Node) -> None:
    value = node.inputs[0]
    perm = ctx.perm_of(value)
    ctx.op("BITCAST", [ctx.input(value, perm)], [ctx.output(node.outputs[0], perm)])


LOGIC_BUILTINS = ("BITCAST", "RIGHT_SHIFT", "MUL", "SUB", "ADD", "BITWISE_XOR")
# what LiteRT's BITCAST moves (float64 is refused by the target as a whole)
BITCAST_TYPES = BITS | {ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.INT64,
                        ir.DataType.UINT64, ir.DataType.BOOL}
LOGIC = frozenset({ir.DataType.INT32, ir.DataType.UINT32, ir.DataType.INT64,
                   ir.DataType.UINT64})
HALF = 1 << 16


def check_and_or(node: ir.Node, values) -> str | None:
    if any(rank(values, v) is None for v in [*node.inputs, *node.outputs]):
        return f"{node.op_type} needs the rank of its inputs and output"
    return None


def emit_and_or(ctx: EmitContext, node: ir.Node) -> None:
    tensors, perm = binary_inputs(ctx, node, list(node.inputs))
    dtype = ctx.dtype(node.inputs[0])
    out = ctx.output(node.outputs[0], perm)
    union = node.op_type == "BitwiseOr"
    if dtype == np.int32:
        _int32_and_or(ctx, tensors, out, union)
        return
    pairs = dtype.itemsize == 8
    words = [_bitcast(ctx, t, np.int32, pairs) for t in tensors]
    result = ctx.temp("logic_words", np.int32, _broadcast(ctx, words))
    _int32_and_or(ctx, words, result, union)
    ctx.op("BITCAST", [result], [out])


def _shape(ctx: EmitContext, tensor: int) -> list[int] | None:
    shape = ctx.builder.tensors[tensor].shape
    return None if shape is None else list(shape)


def _broadcast(ctx: EmitContext, tensors: list[int]) -> list[int] | None:
    shapes = [_shape(ctx, t) for t in tensors]
    return None if None in shapes else list(np.broadcast_shapes(*shapes))


def _bitcast(ctx: EmitContext, tensor: int, dtype, pairs: bool) -> int:
    shape = _shape(ctx, tensor)
    if pairs and shape is not None:
        shape = [*shape, 2]
    made = ctx.temp("words", dtype, shape)
    ctx.op("BITCAST", [tensor], [made])
    return made


def _int32_and_or(ctx: EmitContext, tensors: list[int], out: int, union: bool) -> None:
    """out = a & b (or a | b) on int32 tensors, by the halves (see the module's doc)."""
    halves = [_split(ctx, t) for t in tensors]
    parts = []
    for which in (0, 1):  # hi, lo
        a, b = halves[0][which], halves[1][which]
        shape = _broadcast(ctx, [a, b])
        made = [ctx.temp(f"logic_{name}", np.int32, shape) for name in ("x", "s", "t", "r")]
        ctx.op("BITWISE_XOR", [a, b], [made[0]])
        ctx.op("ADD", [a, b], [made[1]], options("AddOptions"))
        if union:
            ctx.op("ADD", [made[1], made[0]], [made[2]], options("AddOptions"))
        else:
            ctx.op("SUB", [made[1], made[0]], [made[2]], options("SubOptions"))
        ctx.op("RIGHT_SHIFT", [made[2], ctx.int32(1)], [made[3]])
        parts.append(made[3])
    shifted = ctx.temp("logic_hi_shifted", np.int32, _shape(ctx, parts[0]))
    ctx.op("MUL", [parts[0], ctx.int32(HALF)], [shifted], options("MulOptions"))
    ctx.op("ADD", [shifted, parts[1]], [out], options("AddOptions"))


def _split(ctx: EmitContext, tensor: int) -> tuple[int, int]:
    """(a >> 16, a - (a >> 16) * 2^16) of an int32 tensor."""
    shape = _shape(ctx, tensor)
    hi, hi_shifted, lo = (ctx.temp(name, np.int32, shape) for name in ("hi", "hi_s", "lo"))
    ctx.op("RIGHT_SHIFT", [tensor, ctx.int32(16)], [hi])
    ctx.op("MUL", [hi, ctx.int32(HALF)], [hi_shifted], options("MulOptions"))
    ctx.op("SUB", [tensor, hi_shifted], [lo], options("SubOptions"))
    return hi, lo


def entries() -> dict[str, list[Lowering]]:
    return {
        "BitShift": [entry(("CAST", "GATHER", "MUL", "RIGHT_SHIFT", "SELECT_V2"), emit_bit_shift,
                           dtypes=SHIFTED, check=check_bit_shift)],
        "BitwiseXor": [entry("BITWISE_XOR", emit_xor, dtypes=BITS)],
        "BitwiseNot": [entry("BITWISE_XOR", emit_not, dtypes=BITS)],
        "BitwiseAnd": [entry(LOGIC_BUILTINS, emit_and_or, dtypes=LOGIC, check=check_and_or)],
        "BitwiseOr": [entry(LOGIC_BUILTINS, emit_and_or, dtypes=LOGIC, check=check_and_or)],
        "BitCast": [entry("BITCAST", emit_bitcast, dtypes=BITCAST_TYPES, check=check_bitcast,
                          since=26)],
    }
