"""Integer matrix products: MatMulInteger and QLinearMatMul as float32 arithmetic that is
exact on the integers (the helpers here serve ConvInteger and QLinearConv too: _qconv).

The operands are centered (x - zero_point, CAST to float32 and SUB: integers within
+-255) and multiplied by BATCH_MATMUL in float32. Every partial sum of such a product is
an integer no larger than K * max|a| * max|b|, so where that bound is below 2^24 float32
holds each one exactly, whatever order the kernel adds in; the bound is computed when
converting (from the zero points where they are constants, else from the types' ranges).
A K past it is computed in slices that each stay below it (SPLIT_V), each CAST to int32
and added there (refused where the sum can pass int32). MatMulInteger gives that int32
sum; QLinearMatMul requantizes it as onnx's reference does:
saturate(round(sum * (a_scale * b_scale / y_scale)) + y_zero_point), the multiplier
computed in the scales' type (float16 scales: each step rounded to float16) and the
product in float32, as ONNX Runtime computes it (onnx's reference evaluator multiplies in
float64: the two differ only where the product lies within float32 rounding of a half,
or where a sum past 2^24 is rounded to float32 first)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    const_or_dequantized,
    entry,
)
from graphkit.backends.tflite.lowering._quant import SCALES, saturate, to_float16_and_back

INTEGERS = frozenset({ir.DataType.INT8, ir.DataType.UINT8})
EXACT = 1 << 24  # float32 holds every integer below this
INT32_MAX = (1 << 31) - 1
MAX_BATCH_RANK = 5  # BATCH_MATMUL's limit


def optional(node: ir.Node, index: int) -> ir.Value | None:
    return node.inputs[index] if index < len(node.inputs) else None


def _dtype(values, value: ir.Value | None) -> ir.DataType | None:
    return None if value is None else values.dtype(value) or value.dtype


def _largest_centered(values, data: ir.Value, zero: ir.Value | None) -> int:
    """The largest |x - zero_point| the node can see."""
    info = np.iinfo(np.dtype(_dtype(values, data).numpy()))
    if zero is None:
        return max(-info.min, info.max)
    array = const_or_dequantized(zero)
    if array is None:  # any zero point of the type
        return info.max - info.min
    array = np.asarray(array, np.int64)
    return int(max(np.max(info.max - array), np.max(array - info.min)))


def largest_term(values, pairs) -> int:
    """The largest |(a - za) * (b - zb)| one term of the sum can be."""
    bound = 1
    for data, zero in pairs:
        bound *= _largest_centered(values, data, zero)
    return bound


def per_tensor(node: ir.Node, values, indices: tuple[int, ...]) -> str | None:
    for index in indices:
        value = optional(node, index)
        shape = values.shape(value) if value is not None else ()
        if shape is None or int(np.prod(shape)) != 1:
            return f"{node.op_type}: input {index} must hold one value (per tensor)"
    return None


def per_channel(node: ir.Node, values, indices: tuple[int, ...], channels: int) -> str | None:
    for index in indices:
        value = optional(node, index)
        shape = values.shape(value) if value is not None else ()
        if shape is None or len(shape) > 1 or int(np.prod(shape)) not in (1, channels):
            return f"{node.op_type}: input {index} must be per tensor or per output channel"
    return None


def check_scales(node: ir.Node, values, indices: tuple[int, ...]) -> str | None:
    found = {_dtype(values, node.inputs[i]) for i in indices}
    if len(found) != 1 or not found <= SCALES:
        return f"{node.op_type}'s scales must all be float32 or all float16"
    return None


# MatMulInteger and QLinearMatMul ------------------------------------------------------

def _check_matmul(node: ir.Node, values, a: int, b: int) -> str | None:
    shapes = [values.shape(node.inputs[i]) for i in (a, b)]
    if any(s is None or not 2 <= len(s) <= MAX_BATCH_RANK for s in shapes):
        return f"{node.op_type} is lowered for inputs of known rank 2 to {MAX_BATCH_RANK}"
    depth = shapes[0][-1] if isinstance(shapes[0][-1], int) else shapes[1][-2]
    if not isinstance(depth, int):
        return f"{node.op_type} needs the inner dimension (K) when converting"
    columns = shapes[1][-1]
    # b's scale and zero point (inputs b+1, b+2) may be per column; MatMulInteger's b has
    # its zero point at b+2 as well, after a's
    bound = depth * largest_term(values, [(node.inputs[a], optional(node, a + 2)),
                                       (node.inputs[b], optional(node, b + 2))])
    if bound > INT32_MAX:
        return f"{node.op_type}: sums of up to {bound} (depth {depth}) overflow int32"
    return per_channel(node, values, (b + 1, b + 2) if b == 3 else (b + 2,),
                        columns if isinstance(columns, int) else -1)


def check_matmul_integer(node: ir.Node, values) -> str | None:
    return per_tensor(node, values, (2,)) or _check_matmul(node, values, 0, 1)


def check_qlinear_matmul(node: ir.Node, values) -> str | None:
    return check_scales(node, values, (1, 4, 6)) \
        or per_tensor(node, values, (1, 2, 6, 7)) \
        or _check_matmul(node, values, 0, 3)


def centered(ctx: EmitContext, data: ir.Value, zero: ir.Value | None, perm=None,
              zero_shape: list[int] | None = None) -> int:
    """CAST(data) - CAST(zero) in float32 (`zero_shape`: a RESHAPE of the zero point),
    the data held in layout `perm`; computed when converting where both are constants
    (quantized weights), as a DequantizeLinear of constants is."""
    array = const_or_dequantized(data)
    offset = const_or_dequantized(zero) if zero is not None else np.zeros((), np.float32)
    if array is not None and offset is not None:
        held = array.astype(np.float32) if perm is None else \
            np.transpose(array, perm).astype(np.float32)
        offset = np.asarray(offset, np.float32)
        if zero_shape is not None:
            offset = offset.reshape(zero_shape)
        return ctx.const(held - offset, f"{data.name}_centered")
    held = ctx.input(data, perm)
    shape = ctx.builder.tensors[held].shape
    shape = None if shape is None else list(shape)
    widened = ctx.temp(f"{data.name}_f32", np.float32, shape)
    ctx.op("CAST", [held], [widened])
    if zero is None:
        return widened
    centered = ctx.temp(f"{data.name}_centered", np.float32, shape)
    ctx.op("SUB", [widened, _as_float(ctx, zero, zero_shape)], [centered], options("SubOptions"))
    return centered


def _as_float(ctx: EmitContext, value: ir.Value, shape: list[int] | None = None) -> int:
    """A zero point or scale as float32 (reshaped to `shape` where given)."""
    array = const_or_dequantized(value)
    if array is not None:
        array = np.asarray(array).astype(np.float32)
        return ctx.const(array if shape is None else array.reshape(shape))
    tensor = ctx.input(value)
    if ctx.dtype(value) != np.float32:
        made = ctx.temp(f"{value.name}_f32", np.float32, ctx.shape_or_none(value))
        ctx.op("CAST", [tensor], [made])
        tensor = made
    if shape is None:
        return tensor
    laid = ctx.temp(f"{value.name}_laid", np.float32, shape)
    ctx.op("RESHAPE", [tensor, ctx.int32(shape)], [laid])
    return laid


def emit_matmul_integer(ctx: EmitContext, node: ir.Node) -> None:
    a, b = node.inputs[:2]
    _product(ctx, node, a, optional(node, 2), b, optional(node, 3),
             ctx.output(node.outputs[0]))


def _product(ctx: EmitContext, node: ir.Node, a, a_zero, b, b_zero, out: int) -> None:
    """out (int32) = the sum over K of (a - a_zero) * (b - b_zero): one float32
    BATCH_MATMUL where every sum is exact, else one per slice of K that keeps its sums
    below 2^24 (SPLIT_V), each CAST to int32 and added there."""
    shape = ctx.shape_or_none(node.outputs[0])
    depth = _depth(ctx, a, b)
    sizes = slices(depth, (EXACT - 1) // largest_term(ctx.values, [(a, a_zero), (b, b_zero)]))
    lefts = split(ctx, centered(ctx, a, a_zero), sizes, -1)
    rights = split(ctx, centered(ctx, b, b_zero), sizes, -2)
    parts = []
    for left, right in zip(lefts, rights, strict=True):
        parts.append(ctx.temp("integer_product", np.float32, shape))
        ctx.op("BATCH_MATMUL", [left, right], [parts[-1]],
               options("BatchMatMulOptions", adjX=False, adjY=False))
    accumulate(ctx, parts, out, shape)


def slices(depth: int, per_slice: int) -> list[int]:
    """Sizes that cut `depth` into parts of at most `per_slice`."""
    return [per_slice] * (depth // per_slice) + ([depth % per_slice] if depth % per_slice
                                                 else [])


def accumulate(ctx: EmitContext, parts: list[int], out: int, shape) -> None:
    """out (int32) = the sum of the float32 parts, each an exact integer: CAST, ADD."""
    total = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        exact = out if last and total is None else ctx.temp("integer_part", np.int32, shape)
        ctx.op("CAST", [part], [exact])
        if total is not None:
            summed = out if last else ctx.temp("integer_sum", np.int32, shape)
            ctx.op("ADD", [total, exact], [summed], options("AddOptions"))
            exact = summed
        total = exact


def _depth(ctx: EmitContext, a: ir.Value, b: ir.Value) -> int:
    inner = ctx.values.shape(a)[-1]
    return inner if isinstance(inner, int) else ctx.values.shape(b)[-2]


def split(ctx: EmitContext, tensor: int, sizes: list[int], axis: int) -> list[int]:
    """The tensor's parts along `axis` (itself where there is one part)."""
    if len(sizes) == 1:
        return [tensor]
    shape = held_shape(ctx, tensor)
    axis %= len(shape)
    parts = [ctx.temp("integer_slice", np.float32, [*shape[:axis], size, *shape[axis + 1:]])
             for size in sizes]
    ctx.op("SPLIT_V", [tensor, ctx.int32(sizes), ctx.int32(axis)], parts,
           options("SplitVOptions", numSplits=len(sizes)))
    return parts


def emit_qlinear_matmul(ctx: EmitContext, node: ir.Node) -> None:
    a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = node.inputs
    shape = ctx.shape_or_none(node.outputs[0])
    summed = ctx.temp("integer_sum", np.int32, shape)
    _product(ctx, node, a, a_zero, b, b_zero, summed)
    product = ctx.temp("integer_sum_f32", np.float32, shape)
    ctx.op("CAST", [summed], [product])
    requantize(ctx, product, (a_scale, b_scale, y_scale), y_zero, ctx.output(node.outputs[0]))


def held_shape(ctx: EmitContext, tensor: int) -> list[int] | None:
    shape = ctx.builder.tensors[tensor].shape
    return None if shape is None else list(shape)


def requantize(ctx: EmitContext, total: int, scales, y_zero: ir.Value, out: int) -> None:
    """out = saturate(round(total * (s_a * s_b / s_y)) + y_zero), float32 `total`; s_b
    may be per output channel (the last axis of `total`)."""
    half = ctx.dtype(scales[0]) == np.float16
    shape = held_shape(ctx, total)
    factors = [_as_float(ctx, s) for s in scales]
    shapes = [held_shape(ctx, f) for f in factors]
    channel_shape = None if None in shapes else list(np.broadcast_shapes(*shapes))
    both = ctx.temp("scales_ab", np.float32, channel_shape)
    ctx.op("MUL", factors[:2], [both], options("MulOptions"))
    if half:
        both = to_float16_and_back(ctx, both, channel_shape)
    multiplier = ctx.temp("multiplier", np.float32, channel_shape)
    ctx.op("DIV", [both, factors[2]], [multiplier], options("DivOptions"))
    if half:
        multiplier = to_float16_and_back(ctx, multiplier, channel_shape)
    steps = [ctx.temp(f"requantized{i}", np.float32, shape) for i in range(4)]
    ctx.op("MUL", [total, multiplier], [steps[0]], options("MulOptions"))
    ctx.op("ROUND", [steps[0]], [steps[1]])
    ctx.op("ADD", [steps[1], _as_float(ctx, y_zero)], [steps[2]], options("AddOptions"))
    saturate(ctx, steps[2], steps[3], ctx.dtype(y_zero), shape)
    ctx.op("CAST", [steps[3]], [out])


QLINEAR = ("CAST", "SUB", "MUL", "DIV", "ROUND", "ADD", "MAXIMUM", "MINIMUM", "RESHAPE")


def entries() -> dict[str, list[Lowering]]:
    return {
        "MatMulInteger": [entry(("CAST", "SUB", "SPLIT_V", "BATCH_MATMUL", "ADD"),
                                emit_matmul_integer,
                                dtypes=INTEGERS, dtype_inputs=(0, 1),
                                check=check_matmul_integer)],
        "QLinearMatMul": [entry(("SPLIT_V", "BATCH_MATMUL", *QLINEAR), emit_qlinear_matmul,
                                dtypes=INTEGERS, dtype_inputs=(0, 3),
                                check=check_qlinear_matmul)],
    }
