"""Fusion rules for activations written out in primitive ops (GELU, SiLU, Mish, hard-*)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import onnx_ir as ir

from graphkit.rewrite import Builder, Constraint, Match, Op, P, Pattern, Rule, Var

SQRT2 = float(np.sqrt(2.0))
SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def _half_x_times(x: Var, factor: Pattern) -> Iterator[Op]:
    """0.5 * x * factor, in the three bracketings exporters write."""
    yield P.Mul(P.Mul(x, factor), 0.5)
    yield P.Mul(P.Mul(x, 0.5), factor)
    yield P.Mul(x, P.Mul(factor, 0.5))


def gelu_rules(make: Callable[[Builder, ir.Value, str | None], ir.Value | None] | None = None,
               min_opset: int = 20) -> tuple[Rule, ...]:
    """GELU written out -> `make(op, x, approximate)` (None: leave this match), by default
    ONNX's Gelu (opset 20); outline-gelu passes its own for a model-local function."""
    x = Var("x")
    fused = make or (lambda op, value, approximate: op.Gelu(value, approximate=approximate))
    erf_forms = (P.Add(P.Erf(P.Div(x, SQRT2)), 1.0), P.Add(P.Erf(P.Mul(x, 1 / SQRT2)), 1.0))
    cubes = (P.Pow(x, 3.0), P.Mul(x, P.Mul(x, x)))
    tanh_forms = tuple(
        P.Add(P.Tanh(P.Mul(P.Add(x, P.Mul(cube, 0.044715)), SQRT_2_OVER_PI)), 1.0) for cube in cubes
    )
    exact = [
        # 0.5 * x * (1 + erf(x / sqrt(2)))  ->  Gelu(x)
        Rule("gelu", pattern, lambda m, op: fused(op, m[x], None), min_opset=min_opset)
        for form in erf_forms for pattern in _half_x_times(x, form)
    ]
    approximate = [
        # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  ->  Gelu(x, approximate="tanh")
        Rule("gelu-tanh", pattern, lambda m, op: fused(op, m[x], "tanh"), min_opset=min_opset)
        for form in tanh_forms for pattern in _half_x_times(x, form)
    ]
    return tuple(exact + approximate)


def silu_rules() -> tuple[Rule, ...]:
    x = Var("x")
    # x * Sigmoid(x)  ->  Swish(x)   (Swish entered ai.onnx at opset 24)
    return (Rule("silu", P.Mul(x, P.Sigmoid(x)), lambda m, op: op.Swish(m[x]), min_opset=24),)


def mish_rules() -> tuple[Rule, ...]:
    x = Var("x")
    # x * tanh(softplus(x))  ->  Mish(x)
    return (
        Rule("mish", P.Mul(x, P.Tanh(P.Softplus(x))), lambda m, op: op.Mish(m[x]), min_opset=18),
    )


def _relu6_of_x_plus_3(x: Var) -> Op:
    return P.Clip(P.Add(x, 3.0), 0.0, 6.0)


def hard_sigmoid_rules() -> tuple[Rule, ...]:
    x = Var("x")

    def build(m: Match, op) -> object:
        return op.HardSigmoid(m[x], alpha=1 / 6, beta=0.5)

    return (
        # Clip(x + 3, 0, 6) / 6  ->  HardSigmoid(x, 1/6, 0.5)
        Rule("hard-sigmoid", P.Div(_relu6_of_x_plus_3(x), 6.0), build, min_opset=6),
        # Clip(x + 3, 0, 6) * (1/6)  ->  HardSigmoid(x, 1/6, 0.5)
        Rule("hard-sigmoid", P.Mul(_relu6_of_x_plus_3(x), 1 / 6), build, min_opset=6),
    )


def hard_swish_rules() -> tuple[Rule, ...]:
    x = Var("x")
    gate = P.HardSigmoid(x)

    def is_hard_swish_gate(m: Match) -> bool:
        alpha, beta = m.attr(gate, "alpha", 0.2), m.attr(gate, "beta", 0.5)
        return bool(np.isclose(alpha, 1 / 6, rtol=1e-4) and np.isclose(beta, 0.5, rtol=1e-4))

    def build(m: Match, op) -> object:
        return op.HardSwish(m[x])

    gate_constraint = Constraint("HardSigmoid is not x/6 + 1/2 (alpha 1/6, beta 0.5)",
                                 is_hard_swish_gate)
    return (
        # x * HardSigmoid(x, 1/6, 0.5)  ->  HardSwish(x)
        Rule("hard-swish", P.Mul(x, gate), build, (gate_constraint,), min_opset=14),
        # x * Clip(x + 3, 0, 6) / 6  ->  HardSwish(x)
        Rule("hard-swish", P.Div(P.Mul(x, _relu6_of_x_plus_3(x)), 6.0), build, min_opset=14),
        # x * (Clip(x + 3, 0, 6) * (1/6))  ->  HardSwish(x)   (tf2onnx's form of Keras')
        Rule("hard-swish", P.Mul(x, P.Mul(_relu6_of_x_plus_3(x), 1 / 6)), build, min_opset=14),
    )
