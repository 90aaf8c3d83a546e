"""MatMul and Gemm: FULLY_CONNECTED when the weights are a 2-D constant (the usual case in
exported models), else BATCH_MATMUL."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    rank,
)

MAX_BATCH_RANK = 5  # BATCH_MATMUL's limit


def check_matmul(node: ir.Node, values) -> str | None:
    ranks = [rank(values, v) for v in node.inputs]
    if any(r is None for r in ranks):
        return "MatMul needs the rank of both inputs"
    if min(ranks) < 1:
        return "MatMul of a scalar is not defined"
    if max(ranks) > MAX_BATCH_RANK:
        return f"MatMul of rank over {MAX_BATCH_RANK} has no TFLite builtin"
    return None


def emit_matmul(ctx: EmitContext, node: ir.Node) -> None:
    a, b = node.inputs
    weights = const_or_dequantized(b)
    if weights is not None and weights.ndim == 2 and ctx.rank(a) >= 2:
        fully_connected(ctx, a, weights.T, None, ctx.output(node.outputs[0]))
        return
    made = options("BatchMatMulOptions", adjX=False, adjY=False)
    left, right = _as_matrix(ctx, a, 0), _as_matrix(ctx, b, -1)
    squeezed = [axis for axis, value in ((-2, a), (-1, b)) if ctx.rank(value) == 1]
    if not squeezed:
        ctx.op("BATCH_MATMUL", [left, right], [ctx.output(node.outputs[0])], made)
        return
    # a 1-D operand is a matrix of one row (a) or one column (b), that dim dropped after
    product = ctx.temp("matmul_1d", ctx.dtype(node.outputs[0]), None)
    ctx.op("BATCH_MATMUL", [left, right], [product], made)
    ctx.op("SQUEEZE", [product], [ctx.output(node.outputs[0])],
           options("SqueezeOptions", squeezeDims=squeezed))


def _as_matrix(ctx: EmitContext, value: ir.Value, axis: int) -> int:
    """The operand as BATCH_MATMUL takes it: a 1-D one with a dim of 1 added at `axis`."""
    if ctx.rank(value) != 1:
        return ctx.input(value)
    shape = [1, ctx.shape_or_none(value)[0]] if axis == 0 else [ctx.shape_or_none(value)[0], 1]
    grown = ctx.temp(f"{value.name}_2d", ctx.dtype(value), shape)
    ctx.op("EXPAND_DIMS", [ctx.input(value), ctx.int32(axis)], [grown])
    return grown


def fully_connected(ctx: EmitContext, a: ir.Value, weights: np.ndarray,
                    bias: np.ndarray | None, out: int) -> None:
    """out = a @ weights.T + bias, `weights` as [units, depth]."""
    inputs = [ctx.input(a), ctx.const(np.ascontiguousarray(weights, np.float32), "weights")]
    inputs.append(ctx.const(bias.astype(np.float32), "bias") if bias is not None else -1)
    made = options("FullyConnectedOptions", keepNumDims=True)
    ctx.op("FULLY_CONNECTED", inputs, [out], made)


def check_gemm(node: ir.Node, values) -> str | None:
    if any(rank(values, v) != 2 for v in node.inputs[:2]):
        return "Gemm needs 2-D A and B"
    return None


def emit_gemm(ctx: EmitContext, node: ir.Node) -> None:
    """FULLY_CONNECTED for constant B (alpha and beta folded into the weights and bias),
    else BATCH_MATMUL, then MUL by alpha and ADD of beta * C where they are not 1 and 0."""
    b = const_or_dequantized(node.inputs[1])
    c_value = node.inputs[2] if len(node.inputs) > 2 else None
    c = const_or_dequantized(c_value)
    alpha = np.float32(attr(node, "alpha", 1.0))
    beta = np.float32(attr(node, "beta", 1.0))
    out = node.outputs[0]
    if b is not None and not attr(node, "transA", 0):
        weights = (b if attr(node, "transB", 0) else b.T).astype(np.float32) * alpha
        units = weights.shape[0]
        if c_value is None or c is not None and c.size == units and c.shape[-1:] == (units,):
            bias = None if c is None else (c.reshape(units) * beta).astype(np.float32)
            fully_connected(ctx, node.inputs[0], weights, bias, ctx.output(out))
            return
        product = ctx.temp(f"{out.name}_ab", np.float32, ctx.shape_or_none(out))
        fully_connected(ctx, node.inputs[0], weights, None, product)
    else:
        product = _batch_matmul(ctx, node, alpha)
    if c_value is None:
        return
    term = ctx.const((c * beta).astype(np.float32)) if c is not None \
        else _scaled(ctx, ctx.input(c_value), beta, ctx.shape_or_none(c_value))
    ctx.op("ADD", [product, term], [ctx.output(out)], options("AddOptions"))


def _batch_matmul(ctx: EmitContext, node: ir.Node, alpha: np.float32) -> int:
    out = node.outputs[0]
    last = len(node.inputs) < 3 or node.inputs[2] is None
    made = options("BatchMatMulOptions", adjX=bool(attr(node, "transA", 0)),
                   adjY=bool(attr(node, "transB", 0)))
    target = ctx.output(out) if last and alpha == 1 else \
        ctx.temp(f"{out.name}_ab", np.float32, ctx.shape_or_none(out))
    ctx.op("BATCH_MATMUL", [ctx.input(node.inputs[0]), ctx.input(node.inputs[1])], [target],
           made)
    if alpha == 1:
        return target
    scaled = ctx.output(out) if last else ctx.temp(f"{out.name}_alpha", np.float32,
                                                   ctx.shape_or_none(out))
    ctx.op("MUL", [target, ctx.const(np.asarray(alpha, np.float32))], [scaled],
           options("MulOptions"))
    return scaled


def _scaled(ctx: EmitContext, tensor: int, factor: np.float32, shape) -> int:
    if factor == 1:
        return tensor
    scaled = ctx.temp("scaled", np.float32, shape)
    ctx.op("MUL", [tensor, ctx.const(np.asarray(factor, np.float32))], [scaled],
           options("MulOptions"))
    return scaled


def entries() -> dict[str, list[Lowering]]:
    return {
        "MatMul": [entry(("FULLY_CONNECTED", "BATCH_MATMUL", "EXPAND_DIMS", "SQUEEZE"),
                         emit_matmul, dtype_inputs=(0, 1),
                         check=check_matmul)],
        "Gemm": [entry(("FULLY_CONNECTED", "BATCH_MATMUL"), emit_gemm, check=check_gemm)],
    }
