"""Fusion rules around Conv and MatMul: folding BatchNorm and Pad in, MatMul + Add -> Gemm."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.rewrite import Builder, Constraint, Match, Op, P, Rule, Var, static_shape

FLOAT_TYPES = frozenset({ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.FLOAT16})


def copy_attrs(node: ir.Node, **overrides: object) -> dict[str, object]:
    attrs: dict[str, object] = {name: attr.value for name, attr in node.attributes.items()}
    attrs.update(overrides)
    return attrs


# --- Conv + BatchNormalization -------------------------------------------------------


def conv_bn_rules() -> tuple[Rule, ...]:
    rules = []
    for conv_op in ("Conv", "ConvTranspose"):
        for with_bias in (False, True):
            rules.append(_conv_bn_rule(conv_op, with_bias))
    return tuple(rules)


def _conv_bn_rule(conv_op: str, with_bias: bool) -> Rule:
    x, w, b = Var("x"), Var("w", const=True), Var("b", const=True)
    scale, shift, mean, var = (Var(n, const=True) for n in ("scale", "shift", "mean", "var"))
    conv = Op(conv_op, (x, w, b) if with_bias else (x, w))
    bn = P.BatchNormalization(conv, scale, shift, mean, var)

    def build(m: Match, op: Builder) -> ir.Value:
        weight = m.const(w)
        factor = m.const(scale) / np.sqrt(m.const(var) + m.attr(bn, "epsilon", 1e-5))
        bias = m.const(b) if with_bias else np.zeros_like(m.const(mean))
        new_bias = (bias - m.const(mean)) * factor + m.const(shift)
        node = m.node(conv)
        new_weight = _scale_out_channels(weight, factor, conv_op, m.attr(conv, "group", 1))
        return op.op(conv_op, m[x], op.const(new_weight.astype(weight.dtype)),
                     op.const(new_bias.astype(weight.dtype)), **copy_attrs(node))

    constraints = (
        Constraint("BatchNormalization is in training mode",
                   lambda m: not m.attr(bn, "training_mode", 0)),
        Constraint("BatchNormalization's running statistics are used",
                   lambda m: len(m.node(bn).outputs) == 1),
        Constraint("weights are not floating point", lambda m: m.const(w).dtype.kind == "f"),
    )
    # BatchNormalization(Conv(x, w, b)) -> Conv(x, w * s, (b - mean) * s + shift),
    # s = scale / sqrt(var + eps)
    return Rule(f"{conv_op.lower()}-bn", bn, build, constraints)


def _scale_out_channels(weight: np.ndarray, factor: np.ndarray, conv_op: str,
                        group: int) -> np.ndarray:
    """Multiply each output channel's kernel by its factor (layouts differ for ConvTranspose)."""
    spatial = (1,) * (weight.ndim - 2)
    if conv_op == "Conv":  # weight: [C_out, C_in / group, k...]
        return weight * factor.reshape((-1, 1, *spatial))
    # ConvTranspose weight: [C_in, C_out / group, k...]; output channel = g * (C_out / group) + j
    c_in, per_group = weight.shape[0], weight.shape[1]
    grouped = weight.reshape((group, c_in // group, per_group, *weight.shape[2:]))
    grouped = grouped * factor.reshape((group, 1, per_group, *spatial))
    return grouped.reshape(weight.shape)


# --- Conv followed by a per-channel Mul or Add ------------------------------------------


def conv_scale_rules() -> tuple[Rule, ...]:
    return tuple(_conv_affine_rule(op, with_bias) for op in ("Mul", "Add")
                 for with_bias in (False, True))


def _conv_affine_rule(op_type: str, with_bias: bool) -> Rule:
    x, w, b, c = Var("x"), Var("w", const=True), Var("b", const=True), Var("c", const=True)
    conv = P.Conv(x, w, b) if with_bias else P.Conv(x, w)

    def channels(m: Match) -> np.ndarray | None:
        """c as one number per output channel, when it broadcasts along the channel only."""
        const, out_channels = m.const(c), m.const(w).shape[0]
        rank = m.const(w).ndim  # the Conv's output rank: [N, C, spatial...]
        if const.ndim > rank:
            return None
        shape = (1,) * (rank - const.ndim) + const.shape
        if shape[0] != 1 or any(d != 1 for d in shape[2:]) or shape[1] not in (1, out_channels):
            return None
        return np.broadcast_to(const.reshape(-1), (out_channels,))

    def build(m: Match, op: Builder) -> ir.Value:
        weight, per_channel = m.const(w), channels(m)
        bias = m.const(b) if with_bias else np.zeros(weight.shape[0], weight.dtype)
        if op_type == "Mul":
            weight, bias = _scale_out_channels(weight, per_channel, "Conv", 1), bias * per_channel
        else:
            bias = bias + per_channel
        return op.Conv(m[x], op.const(weight.astype(m.const(w).dtype)),
                       op.const(bias.astype(m.const(w).dtype)), **copy_attrs(m.node(conv)))

    constraints = (
        Constraint("weights are not floating point", lambda m: m.const(w).dtype.kind == "f"),
        Constraint(f"the {op_type} constant's dtype is not the weights'",
                   lambda m: m.const(c).dtype == m.const(w).dtype),
        Constraint(f"the {op_type} constant varies along more than the output channel",
                   lambda m: channels(m) is not None),
    )
    # Mul(Conv(x, w, b), s) -> Conv(x, w * s, b * s);  Add(Conv(x, w, b), t) -> Conv(x, w, b + t)
    # for s, t constant per output channel (as tf2onnx writes a BatchNorm after a Conv)
    return Rule(f"conv-{op_type.lower()}", Op(op_type, (conv, c)), build, constraints)


# --- MatMul + Add -> Gemm -------------------------------------------------------------


def gemm_rules() -> tuple[Rule, ...]:
    a, b, c = Var("a"), Var("b"), Var("c")
    matmul = P.MatMul(a, b)

    def bias_broadcasts(m: Match) -> bool:
        # Gemm broadcasts C one way only, to [M, N]: the Add must not grow the result.
        out, bias = static_shape(m[a]), m[c].shape
        if out is None or bias is None or len(bias) > 2 or static_shape(m[b]) is None:
            return False
        target = (out[0], static_shape(m[b])[1])
        return all(d == 1 or d == t for d, t in zip(tuple(bias)[::-1], target[::-1]))

    constraints = (
        Constraint("MatMul inputs are not both 2-D (Gemm is 2-D only)",
                   lambda m: _rank(m[a]) == 2 and _rank(m[b]) == 2),
        Constraint("the bias does not broadcast one-way to [M, N]", bias_broadcasts),
        Constraint("the dtype is not floating point", lambda m: m[a].dtype in FLOAT_TYPES),
    )
    # Add(MatMul(a, b), c) -> Gemm(a, b, c)   where a, b are 2-D and c broadcasts to [M, N]
    return (Rule("matmul-add", P.Add(matmul, c), lambda m, op: op.Gemm(m[a], m[b], m[c]),
                 constraints, min_opset=7),)


def _rank(value: ir.Value) -> int | None:
    return None if value.shape is None else len(value.shape)


# --- Pad + Conv -----------------------------------------------------------------------


def pad_conv_rules() -> tuple[Rule, ...]:
    return tuple(_pad_conv_rule(with_value, with_bias)
                 for with_value in (False, True) for with_bias in (False, True))


def _pad_conv_rule(with_value: bool, with_bias: bool) -> Rule:
    x, pads, fill = Var("x"), Var("pads", const=True), Var("fill", const=True)
    w, b = Var("w"), Var("b")
    pad = P.Pad(x, pads, fill) if with_value else P.Pad(x, pads)
    conv = P.Conv(pad, w, b) if with_bias else P.Conv(pad, w)

    def spatial_zero_pad(m: Match) -> bool:
        amounts = m.const(pads).astype(np.int64)
        rank = len(amounts) // 2
        return bool((amounts >= 0).all() and not amounts[[0, 1, rank, rank + 1]].any())

    def build(m: Match, op: Builder) -> ir.Value:
        amounts = [int(v) for v in m.const(pads)]
        rank = len(amounts) // 2
        spatial = rank - 2
        old = list(m.attr(conv, "pads", [0] * (2 * spatial)))
        new = [old[i] + amounts[2 + i] for i in range(spatial)]
        new += [old[spatial + i] + amounts[rank + 2 + i] for i in range(spatial)]
        inputs = (m[x], m[w], m[b]) if with_bias else (m[x], m[w])
        return op.Conv(*inputs, **copy_attrs(m.node(conv), pads=new))

    constraints = (
        Constraint("Pad mode is not constant",
                   lambda m: m.attr(pad, "mode", "constant") == "constant"),
        Constraint("Pad value is not zero", lambda m: not with_value or not m.const(fill).any()),
        Constraint("Pad touches batch/channel dims or crops", spatial_zero_pad),
        Constraint("Conv uses auto_pad", lambda m: m.attr(conv, "auto_pad", "NOTSET") == "NOTSET"),
    )
    # Conv(Pad(x, p, 0), w) -> Conv(x, w, pads = pads + p)   (constant zero pad on spatial dims)
    return Rule("pad-conv", conv, build, constraints, min_opset=11)
