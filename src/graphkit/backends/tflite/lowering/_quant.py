"""QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear as the float arithmetic
ONNX defines them.

A DequantizeLinear of constants writes nothing: its readers take the float32 constant
_base.const_or_dequantized gives, so a Q/DQ model's Conv or MatMul gets ordinary float
weights; on activations, Q is DIV, ROUND (half to even, as ONNX), ADD, clamp and CAST, and
DQ is CAST, SUB and MUL, in whatever layout the input is held (an NHWC activation between
convolutions stays NHWC). Scale and zero point may be constants or tensors given at run
time, per tensor, per `axis` or per block (`block_size`: each scale repeated over its
block along the axis, a GATHER). The artifact computes what ONNX Runtime computes on the
Q/DQ graph: it is not an int8-kernel TFLite model.

float16: ONNX divides in float16; DIV in float32 rounded to float16 (CAST there and back)
is that same quotient, since float32 keeps more than twice float16's bits plus two."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    Perm,
    attr,
    const_or_dequantized,
    dequantized,
    entry,
    rank,
)

QUANTIZED = frozenset({ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16,
                       ir.DataType.UINT16})
SCALES = frozenset({ir.DataType.FLOAT, ir.DataType.FLOAT16})
LIMITS = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255),
          np.dtype(np.int16): (-32768, 32767), np.dtype(np.uint16): (0, 65535)}


def _dtype(values, value: ir.Value | None) -> ir.DataType | None:
    return None if value is None else values.dtype(value) or value.dtype


def _optional(node: ir.Node, index: int) -> ir.Value | None:
    return node.inputs[index] if index < len(node.inputs) else None


def check_quant(node: ir.Node, values) -> str | None:
    x, scale = node.inputs[0], node.inputs[1]
    x_rank = rank(values, x)
    if x_rank is None:
        return f"{node.op_type} needs the input's rank"
    if _dtype(values, scale) not in SCALES:
        return f"{node.op_type}'s scale must be float32 or float16"
    precision = attr(node, "precision", 0)
    if precision and precision != ir.DataType.FLOAT:
        return f"{node.op_type} with precision={ir.DataType(precision).name.lower()} is not lowered"
    out = _dtype(values, node.outputs[0])
    if node.op_type == "QuantizeLinear" and out not in QUANTIZED:
        name = out.name.lower() if out is not None else "an unknown type"
        return f"QuantizeLinear to {name} is not lowered (int8, uint8, int16, uint16 are)"
    if node.op_type == "DequantizeLinear" and out not in SCALES:
        return "DequantizeLinear is lowered to float32 and float16 only"
    if attr(node, "block_size", 0):
        return _check_blocks(node, values, x_rank)
    for value in (scale, _optional(node, 2)):
        shape = values.shape(value) if value is not None else ()
        if shape is None or len(shape) > 1:
            return f"{node.op_type}'s scale and zero point must be scalars or 1-D"
    return None


def _check_blocks(node: ir.Node, values, x_rank: int) -> str | None:
    shape = values.shape(node.inputs[0])
    axis = attr(node, "axis", 1) % max(x_rank, 1)
    if x_rank == 0 or not isinstance(shape[axis], int):
        return f"{node.op_type} with blocks needs the input's size along the axis"
    for value in (node.inputs[1], _optional(node, 2)):
        if value is not None and rank(values, value) != x_rank:
            return f"{node.op_type} with blocks needs scale and zero point of the input's rank"
    return None


def _layout(ctx: EmitContext, node: ir.Node) -> Perm:
    """The layout the input is held in, kept (an NHWC activation between convolutions
    needs no TRANSPOSE); blocked scales are repeated in the ONNX order."""
    return None if attr(node, "block_size", 0) else ctx.perm_of(node.inputs[0])


def _held_shape(ctx: EmitContext, tensor: int) -> list[int] | None:
    shape = ctx.builder.tensors[tensor].shape
    return None if shape is None else list(shape)


def _param(ctx: EmitContext, node: ir.Node, index: int, default: float, perm: Perm) -> int:
    """Scale (1) or zero point (2) as a float32 tensor that broadcasts against the input
    held in layout `perm`: a 1-D one laid along `axis` (where the layout holds it), a
    blocked one repeated over its blocks."""
    value = _optional(node, index)
    x_rank = ctx.rank(node.inputs[0])
    axis = attr(node, "axis", 1) % max(x_rank, 1)
    block = attr(node, "block_size", 0)
    if perm is not None:
        axis = perm.index(axis)
    array = const_or_dequantized(value) if value is not None else np.asarray(default)
    if array is not None:
        array = np.asarray(array).astype(np.float32)
        if block and array.ndim == x_rank:
            array = np.repeat(array, block, axis=axis)
            array = np.take(array, range(ctx.shape_or_none(node.inputs[0])[axis]), axis=axis)
        elif array.ndim == 1 and x_rank > 1:
            array = array.reshape([-1 if d == axis else 1 for d in range(x_rank)])
        return ctx.const(array)
    tensor = ctx.input(value)
    shape = ctx.shape_or_none(value)
    if ctx.dtype(value) != np.float32:
        widened = ctx.temp(f"{value.name}_f32", np.float32, shape)
        ctx.op("CAST", [tensor], [widened])
        tensor = widened
    if block:
        size = ctx.shape_or_none(node.inputs[0])[axis]
        index_of = ctx.int32([i // block for i in range(size)])
        shape = None if shape is None else [*shape[:axis], size, *shape[axis + 1:]]
        repeated = ctx.temp(f"{value.name}_blocks", np.float32, shape)
        ctx.op("GATHER", [tensor, index_of], [repeated], options("GatherOptions", axis=axis))
        return repeated
    if shape is not None and len(shape) == 1 and x_rank > 1:
        target = [-1 if d == axis else 1 for d in range(x_rank)]
        laid = ctx.temp(f"{value.name}_axis", np.float32, [shape[0] if t == -1 else 1
                                                            for t in target])
        ctx.op("RESHAPE", [tensor, ctx.int32(target)], [laid])
        return laid
    return tensor


def to_float16_and_back(ctx: EmitContext, tensor: int, shape) -> int:
    """The float32 tensor rounded to float16 (and held as float32 again)."""
    half = ctx.temp("half", np.float16, shape)
    ctx.op("CAST", [tensor], [half])
    back = ctx.temp("half_f32", np.float32, shape)
    ctx.op("CAST", [half], [back])
    return back


def emit_quantize(ctx: EmitContext, node: ir.Node) -> None:
    """y = saturate(round(x / scale) + zero_point)."""
    x, out = node.inputs[0], node.outputs[0]
    perm = _layout(ctx, node)
    source = ctx.input(x, perm)
    shape = _held_shape(ctx, source)
    half = ctx.dtype(x) == np.float16
    if half:
        widened = ctx.temp("q_x", np.float32, shape)
        ctx.op("CAST", [source], [widened])
        source = widened
    steps = [ctx.temp(f"q{i}", np.float32, shape) for i in range(5)]
    ctx.op("DIV", [source, _param(ctx, node, 1, 1.0, perm)], [steps[0]], options("DivOptions"))
    quotient = steps[0]
    if half and ctx.dtype(node.inputs[1]) == np.float16 \
            and attr(node, "precision", 0) != ir.DataType.FLOAT:
        quotient = to_float16_and_back(ctx, quotient, shape)
    ctx.op("ROUND", [quotient], [steps[1]])
    ctx.op("ADD", [steps[1], _param(ctx, node, 2, 0.0, perm)], [steps[2]],
           options("AddOptions"))
    saturate(ctx, steps[2], steps[3], ctx.dtype(out), shape)
    ctx.op("CAST", [steps[3]], [ctx.output(out, perm)])


def saturate(ctx: EmitContext, source: int, target: int, dtype: np.dtype, shape) -> None:
    """target = source clamped to the integer type's range (both float32)."""
    low, high = LIMITS[np.dtype(dtype)]
    floor = ctx.temp("saturated_low", np.float32, shape)
    ctx.op("MAXIMUM", [source, ctx.const(np.asarray(low, np.float32))], [floor])
    ctx.op("MINIMUM", [floor, ctx.const(np.asarray(high, np.float32))], [target])


def emit_dequantize(ctx: EmitContext, node: ir.Node) -> None:
    """y = (x - zero_point) * scale, in float32 (then float16 where y is float16)."""
    out = node.outputs[0]
    if dequantized(node) is not None and ctx.dtype(out) == np.float32:
        # constants: whoever reads y gets the float32 constant const_or_dequantized gives,
        # in the layout it asks for (a Conv's weights transposed when converting)
        return
    perm = _layout(ctx, node)
    source = ctx.input(node.inputs[0], perm)
    shape = _held_shape(ctx, source)
    widened = ctx.temp("dq_in", np.float32, shape)
    ctx.op("CAST", [source], [widened])
    centered = ctx.temp("dq_centered", np.float32, shape)
    ctx.op("SUB", [widened, _param(ctx, node, 2, 0.0, perm)], [centered],
           options("SubOptions"))
    scale = _param(ctx, node, 1, 1.0, perm)
    if ctx.dtype(out) == np.float32:
        ctx.op("MUL", [centered, scale], [ctx.output(out, perm)], options("MulOptions"))
        return
    product = ctx.temp("dq_scaled", np.float32, shape)
    ctx.op("MUL", [centered, scale], [product], options("MulOptions"))
    ctx.op("CAST", [product], [ctx.output(out, perm)])


def check_dynamic(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) is None:
        return "DynamicQuantizeLinear needs the input's rank"
    return None


def emit_dynamic_quantize(ctx: EmitContext, node: ir.Node) -> None:
    """uint8 quantization with the range of x (0 included), as onnx's reference computes
    it: scale = (max - min) / 255 (1 / 255 where max == min, where ONNX's function body
    would divide by 0), zero point = round(clamp(-min / scale, 0, 255))."""
    x = node.inputs[0]
    y, y_scale, y_zero = (node.outputs[i] if i < len(node.outputs) else None for i in range(3))
    perm = ctx.perm_of(x)
    source = ctx.input(x, perm)
    shape = _held_shape(ctx, source)
    every = ctx.int32(list(range(ctx.rank(x))))
    zero, one = (ctx.const(np.asarray(v, np.float32)) for v in (0.0, 1.0))
    scalar = [ctx.temp(f"dq_{name}", np.float32, []) for name in
                ("min", "low", "max", "high", "range", "range1", "scale", "shift", "zp",
                 "zp_low", "zp_clamped", "zp_round")]
    reduced = options("ReducerOptions", keepDims=False)
    ctx.op("REDUCE_MIN", [source, every], [scalar[0]], reduced)
    ctx.op("MINIMUM", [scalar[0], zero], [scalar[1]])
    ctx.op("REDUCE_MAX", [source, every], [scalar[2]], reduced)
    ctx.op("MAXIMUM", [scalar[2], zero], [scalar[3]])
    ctx.op("SUB", [scalar[3], scalar[1]], [scalar[4]], options("SubOptions"))
    empty = ctx.temp("dq_empty_range", np.bool_, [])
    ctx.op("EQUAL", [scalar[4], zero], [empty])
    ctx.op("SELECT_V2", [empty, one, scalar[4]], [scalar[5]])
    scale = ctx.output(y_scale) if y_scale is not None else scalar[6]
    ctx.op("DIV", [scalar[5], ctx.const(np.asarray(255, np.float32))], [scale],
           options("DivOptions"))
    ctx.op("DIV", [scalar[1], scale], [scalar[7]], options("DivOptions"))
    ctx.op("SUB", [zero, scalar[7]], [scalar[8]], options("SubOptions"))
    saturate(ctx, scalar[8], scalar[10], np.dtype(np.uint8), [])
    ctx.op("ROUND", [scalar[10]], [scalar[11]])
    if y_zero is not None:
        ctx.op("CAST", [scalar[11]], [ctx.output(y_zero)])
    if y is None:
        return
    steps = [ctx.temp(f"dq_y{i}", np.float32, shape) for i in range(4)]
    ctx.op("DIV", [source, scale], [steps[0]], options("DivOptions"))
    ctx.op("ROUND", [steps[0]], [steps[1]])
    ctx.op("ADD", [steps[1], scalar[11]], [steps[2]], options("AddOptions"))
    saturate(ctx, steps[2], steps[3], np.dtype(np.uint8), shape)
    ctx.op("CAST", [steps[3]], [ctx.output(y, perm)])


def entries() -> dict[str, list[Lowering]]:
    return {
        "QuantizeLinear": [entry(("DIV", "ROUND", "ADD", "MAXIMUM", "MINIMUM", "CAST",
                                  "RESHAPE", "GATHER"),
                                 emit_quantize, dtypes=SCALES, check=check_quant)],
        "DequantizeLinear": [entry(("CAST", "SUB", "MUL", "RESHAPE", "GATHER"), emit_dequantize,
                                   dtypes=QUANTIZED | {ir.DataType.INT32}, check=check_quant)],
        "DynamicQuantizeLinear": [entry(("REDUCE_MIN", "REDUCE_MAX", "MINIMUM", "MAXIMUM",
                                         "SUB", "EQUAL", "SELECT_V2", "DIV", "ROUND", "ADD",
                                         "CAST"),
                                        emit_dynamic_quantize, check=check_dynamic)],
    }
