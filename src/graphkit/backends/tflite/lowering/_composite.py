"""ONNX ops that no single builtin implements, written as a few builtins each:
Erf (a rational approximation: builtins only, no Flex) and LayerNormalization."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    entry,
    needed,
    rank,
)

# Abramowitz & Stegun 7.1.26: erf(x) = 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1/(1 + p x)
# for x >= 0, odd in x; absolute error at most 1.5e-7, below float32's resolution near 1.
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


class _Chain:
    """Consecutive elementwise builtins on tensors of one shape and layout."""

    def __init__(self, ctx: EmitContext, name: str, shape: list[int] | None) -> None:
        self.ctx, self.name, self.shape, self.count = ctx, name, shape, 0

    def op(self, builtin: str, *inputs: int, kind: str | None = None, out: int | None = None,
           shape: list[int] | None = None) -> int:
        self.count += 1
        if out is None:
            out = self.ctx.temp(f"{self.name}_{self.count}", np.float32,
                                shape if shape is not None else self.shape)
        made = options(kind) if kind else None
        self.ctx.op(builtin, list(inputs), [out], made)
        return out

    def scalar(self, value: float) -> int:
        return self.ctx.const(np.asarray(value, np.float32))


def emit_erf(ctx: EmitContext, node: ir.Node) -> None:
    source = node.inputs[0]
    perm = ctx.perm_of(source)
    x = ctx.input(source, perm)
    chain = _Chain(ctx, node.outputs[0].name or "erf", ctx._stored_shape(source, perm))
    magnitude = chain.op("ABS", x)
    denominator = chain.op("ADD", chain.op("MUL", magnitude, chain.scalar(ERF_P),
                                           kind="MulOptions"),
                           chain.scalar(1.0), kind="AddOptions")
    t = chain.op("DIV", chain.scalar(1.0), denominator, kind="DivOptions")
    poly = chain.op("MUL", t, chain.scalar(ERF_A[-1]), kind="MulOptions")
    for coefficient in reversed(ERF_A[:-1]):  # Horner: (((a5 t + a4) t + a3) t + a2) t + a1
        poly = chain.op("ADD", poly, chain.scalar(coefficient), kind="AddOptions")
        poly = chain.op("MUL", poly, t, kind="MulOptions")
    gauss = chain.op("EXP", chain.op("NEG", chain.op("MUL", x, x, kind="MulOptions")))
    tail = chain.op("MUL", poly, gauss, kind="MulOptions")
    positive = chain.op("SUB", chain.scalar(1.0), tail, kind="SubOptions")
    chain.op("MUL", positive, chain.op("SIGN", x), kind="MulOptions",
             out=ctx.output(node.outputs[0], perm))


def check_layer_norm(node: ir.Node, values) -> str | None:
    if any(needed(out) for out in node.outputs[1:]):
        return "LayerNormalization's mean and inverse deviation outputs are not lowered"
    if rank(values, node.inputs[0]) is None:
        return "LayerNormalization needs the input's rank"
    return None


def emit_layer_norm(ctx: EmitContext, node: ir.Node) -> None:
    """(x - mean) * rsqrt(mean((x - mean)^2) + epsilon) * scale + bias over axes [axis:]."""
    source = node.inputs[0]
    rank_ = ctx.rank(source)
    axes = list(range(attr(node, "axis", -1) % rank_, rank_))
    shape = ctx.shape_or_none(source)
    reduced = None if shape is None else [1 if i in axes else d for i, d in enumerate(shape)]
    chain = _Chain(ctx, node.outputs[0].name or "layer_norm", shape)
    x, axes_tensor = ctx.input(source), ctx.int32(axes)
    keep = options("ReducerOptions", keepDims=True)
    mean = ctx.temp("ln_mean", np.float32, reduced)
    ctx.op("MEAN", [x, axes_tensor], [mean], keep)
    centered = chain.op("SUB", x, mean, kind="SubOptions")
    variance = ctx.temp("ln_var", np.float32, reduced)
    ctx.op("MEAN", [chain.op("MUL", centered, centered, kind="MulOptions"), axes_tensor],
           [variance], options("ReducerOptions", keepDims=True))
    epsilon = chain.scalar(attr(node, "epsilon", 1e-5))
    spread = chain.op("RSQRT", chain.op("ADD", variance, epsilon, kind="AddOptions",
                                        shape=reduced), shape=reduced)
    normed = chain.op("MUL", centered, spread, kind="MulOptions")
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    out = ctx.output(node.outputs[0])
    scaled = chain.op("MUL", normed, ctx.input(node.inputs[1]), kind="MulOptions",
                      out=None if bias is not None else out)
    if bias is not None:
        chain.op("ADD", scaled, ctx.input(bias), kind="AddOptions", out=out)


def emit_rms_norm(ctx: EmitContext, node: ir.Node) -> None:
    """x * rsqrt(mean(x^2 over axes [axis:]) + epsilon) * scale."""
    source = node.inputs[0]
    rank_ = ctx.rank(source)
    axes = list(range(attr(node, "axis", -1) % rank_, rank_))
    shape = ctx.shape_or_none(source)
    reduced = None if shape is None else [1 if i in axes else d for i, d in enumerate(shape)]
    chain = _Chain(ctx, node.outputs[0].name or "rms_norm", shape)
    x = ctx.input(source)
    mean = ctx.temp("rms_mean", np.float32, reduced)
    ctx.op("MEAN", [chain.op("MUL", x, x, kind="MulOptions"), ctx.int32(axes)], [mean],
           options("ReducerOptions", keepDims=True))
    epsilon = chain.scalar(attr(node, "epsilon", 1e-5))
    spread = chain.op("RSQRT", chain.op("ADD", mean, epsilon, kind="AddOptions",
                                        shape=reduced), shape=reduced)
    normed = chain.op("MUL", x, spread, kind="MulOptions")
    chain.op("MUL", normed, ctx.input(node.inputs[1]), kind="MulOptions",
             out=ctx.output(node.outputs[0]))


def check_rms_norm(node: ir.Node, values) -> str | None:
    if attr(node, "stash_type", 1) != 1:
        return "RMSNormalization with a stash_type other than float32 is not lowered"
    return None if rank(values, node.inputs[0]) is not None else \
        "RMSNormalization needs the input's rank"


def emit_hard_sigmoid(ctx: EmitContext, node: ir.Node) -> None:
    """max(0, min(1, alpha * x + beta)): MUL, ADD, then RELU_0_TO_1."""
    perm = ctx.perm_of(node.inputs[0])
    shape = ctx._stored_shape(node.inputs[0], perm)
    chain = _Chain(ctx, node.outputs[0].name or "hard_sigmoid", shape)
    x = ctx.input(node.inputs[0], perm)
    scaled = chain.op("MUL", x, chain.scalar(attr(node, "alpha", 0.2)), kind="MulOptions")
    shifted = chain.op("ADD", scaled, chain.scalar(attr(node, "beta", 0.5)), kind="AddOptions")
    chain.op("RELU_0_TO_1", shifted, out=ctx.output(node.outputs[0], perm))


def emit_softsign(ctx: EmitContext, node: ir.Node) -> None:
    """x / (1 + |x|)."""
    perm = ctx.perm_of(node.inputs[0])
    chain = _Chain(ctx, "softsign", ctx._stored_shape(node.inputs[0], perm))
    x = ctx.input(node.inputs[0], perm)
    denominator = chain.op("ADD", chain.op("ABS", x), chain.scalar(1.0), kind="AddOptions")
    chain.op("DIV", x, denominator, kind="DivOptions", out=ctx.output(node.outputs[0], perm))


def emit_softplus(ctx: EmitContext, node: ir.Node) -> None:
    """log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)): no overflow for large x."""
    perm = ctx.perm_of(node.inputs[0])
    chain = _Chain(ctx, "softplus", ctx._stored_shape(node.inputs[0], perm))
    x = ctx.input(node.inputs[0], perm)
    decay = chain.op("EXP", chain.op("NEG", chain.op("ABS", x)))
    tail = chain.op("LOG", chain.op("ADD", decay, chain.scalar(1.0), kind="AddOptions"))
    chain.op("ADD", chain.op("RELU", x), tail, kind="AddOptions",
             out=ctx.output(node.outputs[0], perm))


def _unary_chain(ctx: EmitContext, node: ir.Node, name: str):
    """(chain, x, out): the input in its own layout and the output held in the same one."""
    perm = ctx.perm_of(node.inputs[0])
    chain = _Chain(ctx, name, ctx._stored_shape(node.inputs[0], perm))
    return chain, ctx.input(node.inputs[0], perm), ctx.output(node.outputs[0], perm)


def _negative_part(chain: _Chain, x: int, alpha: float) -> int:
    """alpha * (exp(x) - 1) where x < 0, else 0: alpha * MINIMUM(ELU(x), 0)."""
    elu = chain.op("MINIMUM", chain.op("ELU", x), chain.scalar(0.0))
    return chain.op("MUL", elu, chain.scalar(alpha), kind="MulOptions")


def emit_selu(ctx: EmitContext, node: ir.Node) -> None:
    chain, x, out = _unary_chain(ctx, node, "selu")
    alpha = attr(node, "alpha", 1.67326319217681884765625)
    gamma = attr(node, "gamma", 1.05070102214813232421875)
    both = chain.op("ADD", chain.op("RELU", x), _negative_part(chain, x, alpha),
                    kind="AddOptions")
    chain.op("MUL", both, chain.scalar(gamma), kind="MulOptions", out=out)


def emit_celu(ctx: EmitContext, node: ir.Node) -> None:
    chain, x, out = _unary_chain(ctx, node, "celu")
    alpha = attr(node, "alpha", 1.0)
    scaled = chain.op("MUL", x, chain.scalar(1.0 / alpha), kind="MulOptions")
    chain.op("ADD", chain.op("RELU", x), _negative_part(chain, scaled, alpha),
             kind="AddOptions", out=out)


def emit_thresholded_relu(ctx: EmitContext, node: ir.Node) -> None:
    chain, x, out = _unary_chain(ctx, node, "thresholded")
    above = ctx.temp("above", np.bool_, chain.shape)
    ctx.op("GREATER", [x, chain.scalar(attr(node, "alpha", 1.0))], [above])
    ctx.op("SELECT_V2", [above, x, chain.scalar(0.0)], [out])


def emit_mish(ctx: EmitContext, node: ir.Node) -> None:
    """x * tanh(softplus(x)), softplus as max(x, 0) + log(1 + exp(-|x|))."""
    chain, x, out = _unary_chain(ctx, node, "mish")
    decay = chain.op("EXP", chain.op("NEG", chain.op("ABS", x)))
    tail = chain.op("LOG", chain.op("ADD", decay, chain.scalar(1.0), kind="AddOptions"))
    softplus = chain.op("ADD", chain.op("RELU", x), tail, kind="AddOptions")
    chain.op("MUL", x, chain.op("TANH", softplus), kind="MulOptions", out=out)


def emit_swish(ctx: EmitContext, node: ir.Node) -> None:
    chain, x, out = _unary_chain(ctx, node, "swish")
    scaled = chain.op("MUL", x, chain.scalar(attr(node, "alpha", 1.0)), kind="MulOptions")
    chain.op("MUL", x, chain.op("LOGISTIC", scaled), kind="MulOptions", out=out)


def entries() -> dict[str, list[Lowering]]:
    return {
        "Erf": [entry(("ABS", "MUL", "ADD", "DIV", "EXP", "NEG", "SUB", "SIGN"), emit_erf)],
        "LayerNormalization": [entry(("MEAN", "SUB", "MUL", "ADD", "RSQRT"), emit_layer_norm,
                                     check=check_layer_norm, since=17)],
        "HardSigmoid": [entry(("MUL", "ADD", "RELU_0_TO_1"), emit_hard_sigmoid)],
        "Softsign": [entry(("ABS", "ADD", "DIV"), emit_softsign)],
        "Softplus": [entry(("ABS", "NEG", "EXP", "ADD", "LOG", "RELU"), emit_softplus)],
        "Selu": [entry(("RELU", "ELU", "MINIMUM", "MUL", "ADD"), emit_selu)],
        "Celu": [entry(("RELU", "ELU", "MINIMUM", "MUL", "ADD"), emit_celu)],
        "ThresholdedRelu": [entry(("GREATER", "SELECT_V2"), emit_thresholded_relu)],
        "Mish": [entry(("ABS", "NEG", "EXP", "ADD", "LOG", "RELU", "TANH", "MUL"), emit_mish)],
        "Swish": [entry(("MUL", "LOGISTIC"), emit_swish)],
        "RMSNormalization": [entry(("MEAN", "MUL", "ADD", "RSQRT"), emit_rms_norm,
                                   check=check_rms_norm, since=23)],
    }
