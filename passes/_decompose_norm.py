"""LayerNormalization and GroupNormalization as ReduceMean / Sub / Div chains
(for opsets < 17 / 18).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.passes._decompose_activation import attr, scalar
from graphkit.rewrite import Builder, Decline, static_shape

LOW_PRECISION = frozenset({ir.DataType.FLOAT16, ir.DataType.BFLOAT16})


def _normalize(op: Builder, x: ir.Value, axes: list[int], eps: float) -> ir.Value:
    """(x - mean) / sqrt(mean((x - mean)^2) + eps) over `axes`."""
    centered = op.Sub(x, op.reduce("ReduceMean", x, axes))
    variance = op.reduce("ReduceMean", op.Mul(centered, centered), axes)
    return op.Div(centered, op.Sqrt(op.Add(variance, scalar(op, eps, x))))


def _in_stash_type(op: Builder, node: ir.Node, x: ir.Value) -> tuple[ir.Value, ir.DataType | None]:
    """Compute in float32 where the node asks for it (stash_type=1, the default) on 16-bit input."""
    if x.dtype in LOW_PRECISION and attr(node, "stash_type", 1) == 1:
        wide = op.Cast(x, to=ir.DataType.FLOAT)
        wide.dtype = ir.DataType.FLOAT
        return wide, x.dtype
    return x, None


def layer_normalization(node: ir.Node, op: Builder) -> ir.Value:
    """LayerNormalization(x, s, b) -> (x - mean) / sqrt(var + eps) * s + b over axes [axis, rank)"""
    if any(out.uses() or out.is_graph_output() for out in node.outputs[1:]):
        raise Decline("its Mean/InvStdDev outputs are used")
    x = node.inputs[0]
    if x.shape is None:
        raise Decline("the input rank is unknown")
    rank = len(x.shape)
    axis = attr(node, "axis", -1) % rank
    computed, narrow = _in_stash_type(op, node, x)
    y = _normalize(op, computed, list(range(axis, rank)), attr(node, "epsilon", 1e-5))
    if narrow is not None:
        y = op.Cast(y, to=narrow)
    y = op.Mul(y, node.inputs[1])
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    return y if bias is None else op.Add(y, bias)


def group_normalization(node: ir.Node, op: Builder) -> ir.Value:
    """GroupNormalization(x, s, b, G) -> normalize x over [C/G, spatial] per group,
    then s * . + b per channel
    """
    x, scale, bias = node.inputs[0], node.inputs[1], node.inputs[2]
    shape = static_shape(x)
    if shape is None or len(shape) < 3:
        raise Decline("needs a static input shape of rank >= 3")
    groups = attr(node, "num_groups", 1)
    channels = shape[1]
    computed, narrow = _in_stash_type(op, node, x)
    grouped = op.Reshape(computed, op.const(np.array([shape[0], groups, -1], np.int64)))
    normed = _normalize(op, grouped, [2], attr(node, "epsilon", 1e-5))
    y = op.Reshape(normed, op.const(np.array(shape, np.int64)))
    if narrow is not None:
        y = op.Cast(y, to=narrow)
    per_channel = (channels, *[1] * (len(shape) - 2))
    scale_c, bias_c = _per_channel(op, scale, groups, channels, per_channel), \
        _per_channel(op, bias, groups, channels, per_channel)
    return op.Add(op.Mul(y, scale_c), bias_c)


def _per_channel(op: Builder, value: ir.Value, groups: int, channels: int,
                 shape: tuple[int, ...]) -> ir.Value:
    """Scale/bias as [C, 1, ...]; opset 18's per-group [G] form is repeated to its channels."""
    length = static_shape(value)
    if length == (channels,):
        return op.Reshape(value, op.const(np.array(shape, np.int64)))
    if length != (groups,):
        raise Decline(f"scale/bias length {length} is neither C={channels} nor num_groups={groups}")
    # Opset 18 semantics: one scale per group, shared by the group's C/G channels.
    expanded = op.Tile(op.Reshape(value, op.const(np.array([groups, 1], np.int64))),
                       op.const(np.array([1, channels // groups], np.int64)))
    return op.Reshape(expanded, op.const(np.array(shape, np.int64)))
