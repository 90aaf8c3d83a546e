"""BitShift as arithmetic: X << Y is X * 2^Y and X >> Y is floor(X / 2^Y) (an arithmetic
shift for signed X), in a type wide enough for 2^width (int32 for 8- and 16-bit X, int64
for 32-bit, left shifts only: LiteRT's FLOOR_DIV takes no int64), then CAST back to X's
type, which wraps what a left shift pushed out.

2^Y comes from a GATHER of a table of powers; a shift amount outside [0, width) (which
ONNX defines as the sign fill alone: 0, or -1 for a right shift of a negative X) picks the
table's last entry: 0 for a left shift, 2^width for a right one (floor(X / 2^width) is
that fill for every X of the type)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext, Lowering, attr, entry, rank

SHIFTED = frozenset({ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16,
                     ir.DataType.UINT16, ir.DataType.INT32, ir.DataType.UINT32})


def check_bit_shift(node: ir.Node, values) -> str | None:
    ranks = [rank(values, v) for v in node.inputs]
    if any(r is None for r in ranks) or max(ranks) > 5:
        return "BitShift needs inputs of known rank up to 5"
    dtype = values.dtype(node.inputs[0]) or node.inputs[0].dtype
    if attr(node, "direction", "") == "RIGHT" and dtype is not None and dtype.itemsize == 4:
        return "BitShift right of 32-bit integers is not lowered (LiteRT's FLOOR_DIV takes " \
            "no int64)"
    return None


def emit_bit_shift(ctx: EmitContext, node: ir.Node) -> None:
    x, y = node.inputs
    dtype = ctx.dtype(x)
    width = dtype.itemsize * 8
    wide = np.dtype(np.int32 if width < 32 else np.int64)
    left = attr(node, "direction", "") == "LEFT"
    x_shape, y_shape = ctx.shape_or_none(x), ctx.shape_or_none(y)
    out = node.outputs[0]

    x_wide = ctx.temp("shift_x", wide, x_shape)
    ctx.op("CAST", [ctx.input(x)], [x_wide])
    amount = ctx.temp("shift_y", np.int32, y_shape)
    ctx.op("CAST", [ctx.input(y)], [amount])
    # an amount outside [0, width) becomes `width`: the table's fill entry
    in_range = [ctx.temp(f"shift_{name}", np.bool_, y_shape) for name in ("ge", "lt", "ok")]
    ctx.op("GREATER_EQUAL", [amount, ctx.int32(0)], [in_range[0]])
    ctx.op("LESS", [amount, ctx.int32(width)], [in_range[1]])
    ctx.op("LOGICAL_AND", in_range[:2], [in_range[2]])
    index = ctx.temp("shift_index", np.int32, y_shape)
    ctx.op("SELECT_V2", [in_range[2], amount, ctx.int32(width)], [index])
    powers = [2**k for k in range(width)] + [0 if left else 2**width]
    factor = ctx.temp("shift_factor", wide, y_shape)
    ctx.op("GATHER", [ctx.const(np.asarray(powers, wide)), index], [factor],
           options("GatherOptions", axis=0))
    result = ctx.temp("shifted", wide, ctx.shape_or_none(out))
    if left:
        ctx.op("MUL", [x_wide, factor], [result], options("MulOptions"))
    else:
        ctx.op("FLOOR_DIV", [x_wide, factor], [result])
    ctx.op("CAST", [result], [ctx.output(out)])


def entries() -> dict[str, list[Lowering]]:
    return {
        "BitShift": [entry(("CAST", "GATHER", "MUL", "FLOOR_DIV", "SELECT_V2"), emit_bit_shift,
                           dtypes=SHIFTED, check=check_bit_shift)],
    }
