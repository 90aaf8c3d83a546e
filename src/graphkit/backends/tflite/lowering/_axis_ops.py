"""Ops over one axis that no single builtin is: Hardmax (ARG_MAX, then ONE_HOT on that
axis) and LpNormalization (x / the p-norm along the axis, p = 1 or 2)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    entry,
    static_shape,
)


def check_static(node: ir.Node, values) -> str | None:
    shape = static_shape(values, node.inputs[0])
    if shape is None or not shape:
        return f"{node.op_type} needs a static input shape of rank 1 or more"
    return None


def emit_hardmax(ctx: EmitContext, node: ir.Node) -> None:
    """1 at the first largest element along `axis` (ARG_MAX takes the first), 0 elsewhere."""
    source = node.inputs[0]
    shape = ctx.shape(source)
    axis = attr(node, "axis", -1) % len(shape)
    reduced = [d for i, d in enumerate(shape) if i != axis]
    index = ctx.temp("hardmax_index", np.int32, reduced)
    ctx.op("ARG_MAX", [ctx.input(source), ctx.int32([axis])], [index],
           options("ArgMaxOptions", outputType=2))  # int32
    dtype = ctx.dtype(source)
    on, off = ctx.const(np.ones((), dtype)), ctx.const(np.zeros((), dtype))
    ctx.op("ONE_HOT", [index, ctx.int32(shape[axis]), on, off], [ctx.output(node.outputs[0])],
           options("OneHotOptions", axis=axis))


def check_lp_norm(node: ir.Node, values) -> str | None:
    if attr(node, "p", 2) not in (1, 2):
        return "LpNormalization is lowered for p = 1 and p = 2"
    return check_static(node, values)


def emit_lp_norm(ctx: EmitContext, node: ir.Node) -> None:
    """ONNX's definition: x / (sum |x|^p along axis) ^ (1/p), the norm kept as a dim of 1."""
    source = node.inputs[0]
    shape = ctx.shape(source)
    axis = attr(node, "axis", -1) % len(shape)
    data = ctx.input(source)
    powered = ctx.temp("lp_powered", np.float32, list(shape))
    ctx.op("ABS" if attr(node, "p", 2) == 1 else "SQUARE", [data], [powered])
    kept = [1 if i == axis else d for i, d in enumerate(shape)]
    norm = ctx.temp("lp_sum", np.float32, kept)
    ctx.op("SUM", [powered, ctx.int32([axis])], [norm], options("ReducerOptions", keepDims=True))
    if attr(node, "p", 2) == 2:
        root = ctx.temp("lp_norm", np.float32, kept)
        ctx.op("SQRT", [norm], [root])
        norm = root
    # a zero norm divides zeros: ONNX gives 0 there, so divide by 1 instead
    zero = ctx.temp("lp_zero", np.bool_, kept)
    ctx.op("EQUAL", [norm, ctx.const(np.zeros((), np.float32))], [zero])
    safe = ctx.temp("lp_divisor", np.float32, kept)
    ctx.op("SELECT_V2", [zero, ctx.const(np.ones((), np.float32)), norm], [safe])
    ctx.op("DIV", [data, safe], [ctx.output(node.outputs[0])], options("DivOptions"))


def entries() -> dict[str, list[Lowering]]:
    return {
        # before opset 13 Hardmax flattened its input to 2-D at `axis`: not lowered
        "Hardmax": [entry(("ARG_MAX", "ONE_HOT"), emit_hardmax, check=check_static, since=13)],
        "LpNormalization": [entry(("ABS", "SQUARE", "SUM", "SQRT", "EQUAL", "SELECT_V2",
                                   "DIV"), emit_lp_norm,
                                  check=check_lp_norm)],
    }
