"""ai.onnx.preview.training's optimizers (Adagrad, Adam, Momentum): one update step each, as
the elementwise formulas of their ONNX definitions, per (X, G, state...) group.

    Adagrad:  r = R / (1 + T * decay_factor);  g = norm_coefficient * X + G
              H' = H + g * g;  X' = X - r * g / (sqrt(H') + epsilon)
    Adam:     g = norm_coefficient * X + G;  V' = alpha * V + (1 - alpha) * g
              H' = beta * H + (1 - beta) * g * g
              r = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R
              X' = (1 - norm_coefficient_post) * (X - r * V' / (sqrt(H') + epsilon))
    Momentum: g = norm_coefficient * X + G;  b = T > 0 ? beta : 1;  V' = alpha * V + b * g
              X' = X - R * V'  (standard),  X - R * (g + alpha * V')  (nesterov)

The step count T (int64) enters as float32: exact up to 2^24 steps, and beyond that within
float32's rounding of the products it scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import F32, EmitContext, Lowering, attr, entry

TRAINING_DOMAIN = "ai.onnx.preview.training"
BUILTINS = ("CAST", "ADD", "SUB", "MUL", "DIV", "SQRT", "POW", "GREATER", "SELECT_V2")
_OPTIONS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}


@dataclass
class _Math:
    """Elementwise float32 arithmetic on tensors (ints) and Python numbers (constants)."""
    ctx: EmitContext

    def value(self, x) -> int:
        return x if isinstance(x, int) else self.ctx.const(np.asarray(x, np.float32))

    def op(self, builtin: str, *args, out: int | None = None) -> int:
        out = out if out is not None else self.ctx.temp(builtin.lower(), np.float32, None)
        made = options(_OPTIONS[builtin]) if builtin in _OPTIONS else None
        self.ctx.op(builtin, [self.value(a) for a in args], [out], made)
        return out

    def add(self, a, b, out: int | None = None) -> int:
        return self.op("ADD", a, b, out=out)

    def sub(self, a, b, out: int | None = None) -> int:
        return self.op("SUB", a, b, out=out)

    def mul(self, a, b, out: int | None = None) -> int:
        return self.op("MUL", a, b, out=out)

    def div(self, a, b) -> int:
        return self.op("DIV", a, b)

    def sqrt(self, a) -> int:
        return self.op("SQRT", a)

    def steps(self, node: ir.Node) -> tuple[int, int]:
        """(T as float32, T > 0)."""
        count = self.ctx.temp("steps", np.float32, [])
        self.ctx.op("CAST", [self.ctx.input(node.inputs[1])], [count])
        positive = self.ctx.temp("steps_positive", np.bool_, [])
        self.ctx.op("GREATER", [count, self.value(0.0)], [positive])
        return count, positive

    def select(self, condition: int, a, b) -> int:
        out = self.ctx.temp("selected", np.float32, None)
        self.ctx.op("SELECT_V2", [condition, self.value(a), self.value(b)], [out])
        return out


def _groups(node: ir.Node, per: int) -> list[list[ir.Value]]:
    """The (X, G, state...) groups: inputs after R and T come as per blocks of n."""
    rest = list(node.inputs[2:])
    n = len(rest) // per
    return [[rest[k * n + i] for k in range(per)] for i in range(n)]


def _check(per: int):
    def check(node: ir.Node, values) -> str | None:
        rest = len(node.inputs) - 2
        if rest <= 0 or rest % per:
            return f"{node.op_type} needs R, T and {per} inputs per optimized tensor"
        for value in node.inputs[2:]:
            if values.dtype(value) not in (None, ir.DataType.FLOAT):
                return f"{node.op_type}: graphkit lowers float32 tensors only ('{value.name}')"
        if values.dtype(node.inputs[1]) not in (None, ir.DataType.INT64):
            return f"{node.op_type}'s T must be int64"
        return None
    return check


def _regularized(m: _Math, node: ir.Node, x: ir.Value, g: ir.Value) -> int:
    coefficient = attr(node, "norm_coefficient", 0.0)
    return m.add(m.mul(coefficient, m.ctx.input(x)), m.ctx.input(g))


def emit_adagrad(ctx: EmitContext, node: ir.Node) -> None:
    m = _Math(ctx)
    count, _ = m.steps(node)
    decay = attr(node, "decay_factor", 0.0)
    rate = m.div(ctx.input(node.inputs[0]), m.add(1.0, m.mul(count, decay)))
    groups = _groups(node, 3)
    for i, (x, g, h) in enumerate(groups):
        reg = _regularized(m, node, x, g)
        h_new = m.add(ctx.input(h), m.mul(reg, reg), out=ctx.output(node.outputs[len(groups) + i]))
        scale = m.add(m.sqrt(h_new), attr(node, "epsilon", 0.0))
        m.sub(ctx.input(x), m.div(m.mul(rate, reg), scale), out=ctx.output(node.outputs[i]))


def emit_adam(ctx: EmitContext, node: ir.Node) -> None:
    m = _Math(ctx)
    count, positive = m.steps(node)
    alpha, beta = attr(node, "alpha", 0.9), attr(node, "beta", 0.999)
    rate = ctx.input(node.inputs[0])
    alpha_t, beta_t = m.op("POW", alpha, count), m.op("POW", beta, count)
    corrected = m.div(m.mul(rate, m.sqrt(m.sub(1.0, beta_t))), m.sub(1.0, alpha_t))
    rate = m.select(positive, corrected, rate)
    groups = _groups(node, 4)
    n = len(groups)
    for i, (x, g, v, h) in enumerate(groups):
        reg = _regularized(m, node, x, g)
        v_new = m.add(m.mul(alpha, ctx.input(v)), m.mul(1.0 - alpha, reg),
                      out=ctx.output(node.outputs[n + i]))
        h_new = m.add(m.mul(beta, ctx.input(h)), m.mul(1.0 - beta, m.mul(reg, reg)),
                      out=ctx.output(node.outputs[2 * n + i]))
        scale = m.add(m.sqrt(h_new), attr(node, "epsilon", 1e-6))
        x_new = m.sub(ctx.input(x), m.mul(rate, m.div(v_new, scale)))
        m.mul(1.0 - attr(node, "norm_coefficient_post", 0.0), x_new,
              out=ctx.output(node.outputs[i]))


def check_momentum(node: ir.Node, values) -> str | None:
    if attr(node, "alpha") is None or attr(node, "beta") is None:
        return "Momentum needs its alpha and beta attributes"
    if attr(node, "mode", "standard") not in ("standard", "nesterov"):
        return f"Momentum's mode '{attr(node, 'mode')}' is not one ONNX defines"
    return _check(3)(node, values)


def emit_momentum(ctx: EmitContext, node: ir.Node) -> None:
    m = _Math(ctx)
    _, positive = m.steps(node)
    alpha, beta = attr(node, "alpha"), attr(node, "beta")
    rate = ctx.input(node.inputs[0])
    factor = m.select(positive, beta, 1.0)
    groups = _groups(node, 3)
    for i, (x, g, v) in enumerate(groups):
        reg = _regularized(m, node, x, g)
        v_new = m.add(m.mul(alpha, ctx.input(v)), m.mul(factor, reg),
                      out=ctx.output(node.outputs[len(groups) + i]))
        step = v_new if attr(node, "mode", "standard") == "standard" \
            else m.add(reg, m.mul(alpha, v_new))
        m.sub(ctx.input(x), m.mul(rate, step), out=ctx.output(node.outputs[i]))


def entries() -> dict[str, list[Lowering]]:
    return {
        "Adagrad": [entry(BUILTINS, emit_adagrad, dtypes=F32, check=_check(3))],
        "Adam": [entry(BUILTINS, emit_adam, dtypes=F32, check=_check(4))],
        "Momentum": [entry(BUILTINS, emit_momentum, dtypes=F32, check=check_momentum)],
    }
