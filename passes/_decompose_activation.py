"""Activations as primitive ops: Gelu, HardSwish, HardSigmoid, Softplus, Mish, Swish."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.rewrite import Builder


def attr(node: ir.Node, name: str, default: object) -> object:
    found = node.attributes.get(name)
    return default if found is None else found.value


def scalar(op: Builder, value: float, like: ir.Value) -> ir.Value:
    """A scalar constant of `like`'s element type (broadcasts against it)."""
    dtype = like.dtype.numpy() if like.dtype is not None else np.float32
    return op.const(np.array(value, dtype=dtype))


def gelu(node: ir.Node, op: Builder) -> ir.Value:
    """Gelu(x) -> x/2 * (1 + erf(x / sqrt2));
    tanh form: x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    """
    x = node.inputs[0]
    if attr(node, "approximate", "none") == "tanh":
        cube = op.Mul(x, op.Mul(x, x))
        inner = op.Add(x, op.Mul(cube, scalar(op, 0.044715, x)))
        gate = op.Tanh(op.Mul(inner, scalar(op, np.sqrt(2 / np.pi), x)))
    else:
        gate = op.Erf(op.Mul(x, scalar(op, 1 / np.sqrt(2), x)))
    return op.Mul(op.Mul(x, scalar(op, 0.5, x)), op.Add(gate, scalar(op, 1.0, x)))


def hard_sigmoid(node: ir.Node, op: Builder) -> ir.Value:
    """HardSigmoid(x) -> max(0, min(1, alpha x + beta))"""
    x = node.inputs[0]
    alpha, beta = attr(node, "alpha", 0.2), attr(node, "beta", 0.5)
    linear = op.Add(op.Mul(x, scalar(op, alpha, x)), scalar(op, beta, x))
    return op.Max(op.Min(linear, scalar(op, 1.0, x)), scalar(op, 0.0, x))


def hard_swish(node: ir.Node, op: Builder) -> ir.Value:
    """HardSwish(x) -> x * max(0, min(1, x/6 + 1/2))"""
    x = node.inputs[0]
    linear = op.Add(op.Mul(x, scalar(op, 1 / 6, x)), scalar(op, 0.5, x))
    return op.Mul(x, op.Max(op.Min(linear, scalar(op, 1.0, x)), scalar(op, 0.0, x)))


def _softplus(op: Builder, x: ir.Value) -> ir.Value:
    # relu(x) + log(1 + exp(-|x|)): equal to log(1 + exp(x)) without overflowing for large x.
    tail = op.Log(op.Add(op.Exp(op.Neg(op.Abs(x))), scalar(op, 1.0, x)))
    return op.Add(op.Relu(x), tail)


def softplus(node: ir.Node, op: Builder) -> ir.Value:
    """Softplus(x) -> relu(x) + log(1 + exp(-|x|))"""
    return _softplus(op, node.inputs[0])


def mish(node: ir.Node, op: Builder) -> ir.Value:
    """Mish(x) -> x * tanh(softplus(x))"""
    x = node.inputs[0]
    return op.Mul(x, op.Tanh(_softplus(op, x)))


def swish(node: ir.Node, op: Builder) -> ir.Value:
    """Swish(x, alpha) -> x * sigmoid(alpha x)"""
    x = node.inputs[0]
    alpha = attr(node, "alpha", 1.0)
    gate_input = x if alpha == 1.0 else op.Mul(x, scalar(op, alpha, x))
    return op.Mul(x, op.Sigmoid(gate_input))
