"""Arithmetic with a neutral constant: x + 0, x - 0, x * 1, x / 1 -> x.

Exporters write them where a layer's bias or scale is all zeros or ones (a freshly built
transformers model has zero biases); onnxslim drops them too. A constant that would
broadcast x to a larger shape (or whose broadcast cannot be told from x's shape) stays.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.rewrite import Constraint, Match, Op, Rule, Var

# op -> the constant that leaves x as it is (the matcher also tries 0 + x and 1 * x: Add and
# Mul are in rewrite.COMMUTATIVE)
NEUTRAL = {"Add": 0, "Sub": 0, "Mul": 1, "Div": 1}


def neutral_rules() -> tuple[Rule, ...]:
    return tuple(_neutral_rule(op, neutral) for op, neutral in NEUTRAL.items())


def _neutral_rule(op_type: str, neutral: int) -> Rule:
    x, c = Var("x"), Var("c", const=True)
    pattern = Op(op_type, (x, c))

    def is_neutral(m: Match) -> bool:
        const = m.const(c)
        return const.size > 0 and bool(np.all(const == neutral))

    constraints = (
        Constraint(f"the {op_type} constant is not all {neutral}", is_neutral),
        Constraint("the constant's dtype is not the input's",
                   lambda m: ir.DataType.from_numpy(m.const(c).dtype) == m[x].dtype),
        Constraint("the constant may broadcast the input to a larger shape",
                   lambda m: _broadcast_keeps(m[x].shape, m.const(c).shape)),
    )
    # Add(x, 0) -> x, Sub(x, 0) -> x, Mul(x, 1) -> x, Div(x, 1) -> x
    return Rule(f"{op_type.lower()}-neutral", pattern, lambda m, op: m[x], constraints)


def _broadcast_keeps(shape: ir.Shape | None, const_shape: tuple[int, ...]) -> bool:
    """Whether broadcasting a constant of `const_shape` against `shape` leaves `shape` as is."""
    if all(d == 1 for d in const_shape):
        return shape is not None and len(shape) >= len(const_shape)
    if shape is None or len(shape) < len(const_shape):
        return False
    ends = tuple(shape)[len(shape) - len(const_shape):]
    return all(c == 1 or (isinstance(d, int) and d == c) for d, c in zip(ends, const_shape,
                                                                          strict=True))
