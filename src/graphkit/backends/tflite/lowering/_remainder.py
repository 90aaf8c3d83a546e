"""Mod, both remainders, from FLOOR_MOD (whose float kernel is std::fmod, moved onto the
divisor's side where the signs differ, as numpy's mod is):

fmod=0, any type:  FLOOR_MOD(a, b)                      (the divisor's sign, as Python's %)
fmod=1, floats:    m = FLOOR_MOD(|a|, |b|)              (both positive: std::fmod itself)
                   SELECT_V2(a < 0, -m, m)              (the dividend's sign, as C's fmod)
fmod=1, integers:  r = FLOOR_MOD(a, b)
                   SELECT_V2(r != 0 and (r < 0) != (a < 0), r - b, r)

Each is exact: fmod's result is representable, a sign flip is exact, and for integers
|r - b| < |b| cannot overflow. (For floats r - b would round: fmod(1e-30, -1) is 1e-30,
floor mod is 1e-30 - 1 = -1 in float32, and -1 - (-1) is 0.) float16 and the small
integer types are computed in float32 / int32 (_widen): their remainders are exact there.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import EmitContext, Lowering, attr, entry
from graphkit.backends.tflite.lowering._elementwise import binary_inputs, check_broadcast

REMAINDER_TYPES = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})


def emit_mod(ctx: EmitContext, node: ir.Node) -> None:
    (a, b), perm = binary_inputs(ctx, node, list(node.inputs))
    out = node.outputs[0]
    if not attr(node, "fmod", 0):
        ctx.op("FLOOR_MOD", [a, b], [ctx.output(out, perm)])
        return
    dtype = ctx.dtype(out)

    def step(builtin: str, inputs: list[int], result: np.dtype = dtype) -> int:
        made = ctx.temp(builtin.lower(), result, None)  # the kernel sizes it (broadcast)
        ctx.op(builtin, inputs, [made])
        return made

    zero = ctx.const(np.asarray(0, dtype))
    negative = step("LESS", [a, zero], np.bool_)
    if np.issubdtype(dtype, np.floating):
        magnitude = step("FLOOR_MOD", [step("ABS", [a]), step("ABS", [b])])
        flipped = step("NEG", [magnitude])
        ctx.op("SELECT_V2", [negative, flipped, magnitude], [ctx.output(out, perm)])
        return
    floor = step("FLOOR_MOD", [a, b])
    other_side = step("NOT_EQUAL", [step("LESS", [floor, zero], np.bool_), negative], np.bool_)
    moved = step("LOGICAL_AND", [step("NOT_EQUAL", [floor, zero], np.bool_), other_side],
                 np.bool_)
    ctx.op("SELECT_V2", [moved, step("SUB", [floor, b]), floor], [ctx.output(out, perm)])


def entries() -> dict[str, list[Lowering]]:
    builtins = ("FLOOR_MOD", "ABS", "NEG", "LESS", "NOT_EQUAL", "LOGICAL_AND", "SUB",
                "SELECT_V2")
    return {"Mod": [entry(builtins, emit_mod, dtypes=REMAINDER_TYPES,
                          dtype_inputs=(0, 1), check=check_broadcast)]}
