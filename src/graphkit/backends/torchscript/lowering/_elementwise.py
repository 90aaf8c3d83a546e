"""Lowering entries: elementwise math, comparisons, logic, bitwise ops and activations."""

from __future__ import annotations

import math

import onnx_ir as ir
import torch

from graphkit.backends.torchscript.kernels import activation as act
from graphkit.backends.torchscript.kernels import elementwise as ew
from graphkit.backends.torchscript.lowering._base import (
    ALL_TORCH,
    FLOATS,
    INTS,
    NUMERIC,
    SHELL_DTYPES,
    WIDENED,
    EmitContext,
    Lowering,
    attr_float,
    attr_str,
    constant,
    kernel,
    variadic,
    widen_unsigned,
)

UNSIGNED = frozenset({ir.DataType.UINT8}) | SHELL_DTYPES
BITS = INTS | UNSIGNED
COMPARABLE = NUMERIC | {ir.DataType.BOOL}  # comparisons output bool


def _unary(fn) -> Lowering:
    return Lowering(kernel(fn, 1), dtypes=NUMERIC)


def _float_unary(fn) -> Lowering:
    return Lowering(kernel(fn, 1), dtypes=FLOATS)


def _binary(fn, dtypes=NUMERIC) -> Lowering:
    return Lowering(widen_unsigned(kernel(fn, 2)), dtypes=dtypes | WIDENED)


def _bitshift(cx: EmitContext, node: ir.Node) -> list:
    left = attr_str(node, "direction", "LEFT") == "LEFT"
    return cx.call(ew.bitshift, [*cx.inputs(node, 2), left])


def _clip(cx: EmitContext, node: ir.Node) -> list:
    if cx.opset < 11:
        lo = attr_float(node, "min", float("-inf"))
        hi = attr_float(node, "max", float("inf"))
        return cx.call(ew.clip_attrs, [*cx.inputs(node, 1), lo, hi])
    bounds = _constant_bounds(node)
    if bounds is not None:  # torch.clamp with numbers: one op frozen TorchScript can fuse
        return cx.call(torch.clamp, [cx.inputs(node)[0], *bounds])
    return cx.call(ew.clip, cx.inputs(node, 3))


def _constant_bounds(node: ir.Node) -> list[float | None] | None:
    """Clip's min and max as numbers, when both are absent or one-element constants of the
    input's float type (and not both absent: torch.clamp needs one); else None."""
    x = node.inputs[0]
    if x is None or x.dtype not in FLOATS:
        return None
    bounds: list[float | None] = []
    for value in (*node.inputs[1:3], None, None)[:2]:
        if value is None or value.name == "":
            bounds.append(None)
            continue
        const = constant(value)
        if const is None or const.dtype != x.dtype or const.size != 1:
            return None
        bound = float(const.numpy().reshape(-1)[0])
        if math.isnan(bound):
            return None
        bounds.append(bound)
    return bounds if any(b is not None for b in bounds) else None


def _gelu(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(act.gelu, [*cx.inputs(node, 1), attr_str(node, "approximate", "none")])


def entries() -> dict[str, tuple[Lowering, ...]]:
    float_fns = {
        "Exp": torch.exp, "Log": torch.log, "Sqrt": torch.sqrt, "Sin": torch.sin,
        "Cos": torch.cos, "Tan": torch.tan, "Asin": torch.asin, "Acos": torch.acos,
        "Atan": torch.atan, "Sinh": torch.sinh, "Cosh": torch.cosh, "Asinh": torch.asinh,
        "Acosh": torch.acosh, "Atanh": torch.atanh, "Tanh": torch.tanh,
        "Sigmoid": torch.sigmoid, "Ceil": torch.ceil, "Floor": torch.floor,
        "Round": ew.round_half_even, "Erf": act.erf,
        "Softplus": act.softplus, "Softsign": act.softsign, "HardSwish": act.hard_swish,
        "Mish": act.mish, "Reciprocal": ew.reciprocal,
    }
    table: dict[str, tuple[Lowering, ...]] = {
        op: (_float_unary(fn),) for op, fn in float_fns.items()
    }
    table["IsNaN"] = (Lowering(kernel(torch.isnan, 1), dtypes=FLOATS | {ir.DataType.BOOL}),)
    table.update({
        "Abs": (_unary(torch.abs),),
        "Neg": (_unary(torch.neg),),
        "Sign": (_unary(ew.sign),),
        "Relu": (_unary(torch.relu),),
        "Add": (_binary(torch.add),),
        "Sub": (_binary(torch.sub),),
        "Mul": (_binary(torch.mul),),
        "Div": (_binary(ew.div),),
        "Pow": (_binary(ew.pow_),),
        "Mod": (Lowering(widen_unsigned(kernel(ew.mod, 2, ("fmod", 0))),
                         dtypes=NUMERIC | WIDENED),),
        "Equal": (_binary(torch.eq, ALL_TORCH - SHELL_DTYPES),),
        "Greater": (_binary(torch.gt, COMPARABLE),),
        "GreaterOrEqual": (_binary(torch.ge, COMPARABLE),),
        "Less": (_binary(torch.lt, COMPARABLE),),
        "LessOrEqual": (_binary(torch.le, COMPARABLE),),
        "And": (_binary(torch.logical_and, ALL_TORCH),),
        "Or": (_binary(torch.logical_or, ALL_TORCH),),
        "Xor": (_binary(ew.logical_xor, ALL_TORCH),),
        "Not": (Lowering(kernel(torch.logical_not, 1)),),
        "BitShift": (Lowering(_bitshift, dtypes=BITS),),
        "BitwiseAnd": (_binary(torch.bitwise_and, INTS | {ir.DataType.BOOL}),),
        "BitwiseOr": (_binary(torch.bitwise_or, INTS | {ir.DataType.BOOL}),),
        "BitwiseXor": (_binary(torch.bitwise_xor, INTS | {ir.DataType.BOOL}),),
        "BitwiseNot": (Lowering(widen_unsigned(kernel(ew.bitwise_not, 1)),
                                dtypes=INTS | WIDENED | {ir.DataType.BOOL}),),
        "Where": (Lowering(kernel(ew.where, 3), dtypes=ALL_TORCH - SHELL_DTYPES),),
        "Clip": (Lowering(_clip, dtypes=NUMERIC),),
        "Max": (Lowering(widen_unsigned(variadic(ew.variadic_max)), dtypes=NUMERIC | WIDENED),),
        "Min": (Lowering(widen_unsigned(variadic(ew.variadic_min)), dtypes=NUMERIC | WIDENED),),
        "Sum": (Lowering(variadic(ew.variadic_sum), dtypes=NUMERIC),),
        "Mean": (Lowering(variadic(ew.variadic_mean), dtypes=FLOATS),),
        "IsInf": (Lowering(kernel(ew.is_inf, 1, ("detect_negative", 1), ("detect_positive", 1)),
                           dtypes=FLOATS | {ir.DataType.BOOL}),),
        "LeakyRelu": (Lowering(kernel(act.leaky_relu, 1, ("alpha", 0.01)), dtypes=FLOATS),),
        "Elu": (Lowering(kernel(act.elu, 1, ("alpha", 1.0)), dtypes=FLOATS),),
        "Selu": (Lowering(kernel(act.selu, 1, ("alpha", 1.67326319217681884765625),
                                 ("gamma", 1.05070102214813232421875)), dtypes=FLOATS),),
        "Celu": (Lowering(kernel(act.celu, 1, ("alpha", 1.0)), dtypes=FLOATS),),
        "HardSigmoid": (Lowering(kernel(act.hard_sigmoid, 1, ("alpha", 0.2), ("beta", 0.5)),
                                 dtypes=FLOATS),),
        "ThresholdedRelu": (Lowering(kernel(act.thresholded_relu, 1, ("alpha", 1.0)),
                                     dtypes=FLOATS),),
        "Shrink": (Lowering(kernel(act.shrink, 1, ("bias", 0.0), ("lambd", 0.5)), dtypes=NUMERIC),),
        "Gelu": (Lowering(_gelu, dtypes=FLOATS),),
        "Swish": (Lowering(kernel(act.swish, 1, ("alpha", 1.0)), dtypes=FLOATS),),
        "SwiGLU": (Lowering(kernel(act.swiglu, 2, ("alpha", 1.0)), since=28, dtypes=FLOATS),),
        "PRelu": (Lowering(kernel(act.prelu, 2), dtypes=NUMERIC),),
    })
    return table
