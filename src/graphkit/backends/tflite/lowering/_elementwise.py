"""Elementwise ONNX ops: unary builtins, broadcasting binary builtins, comparisons, Where,
activations (Relu, Clip, LeakyRelu, HardSwish, Gelu) and Cast.

Unary ops keep their input's layout (an NHWC tensor stays NHWC); binary ops keep it when
both sides share it or the other side is a constant (transposed when written)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    BOOL,
    CAST_TYPES,
    F32,
    NUMERIC,
    EmitContext,
    Lowering,
    attr,
    cast_refused,
    const_or_dequantized,
    entry,
    rank,
)

# LiteRT's ABS refuses int64 when the model is prepared (and SIGN when it runs); its DIV
# takes float32 and int32 (which it truncates toward zero, as ONNX's integer Div does)
INT32_OR_FLOAT = frozenset({ir.DataType.FLOAT, ir.DataType.INT32})
UNARY = {
    "Abs": ("ABS", INT32_OR_FLOAT), "Neg": ("NEG", NUMERIC), "Exp": ("EXP", F32),
    "Log": ("LOG", F32),
    "Sqrt": ("SQRT", F32), "Sin": ("SIN", F32), "Cos": ("COS", F32), "Relu": ("RELU", F32),
    "Sigmoid": ("LOGISTIC", F32), "Tanh": ("TANH", F32), "Floor": ("FLOOR", F32),
    "Ceil": ("CEIL", F32), "Round": ("ROUND", F32), "Sign": ("SIGN", F32),
    "Not": ("LOGICAL_NOT", BOOL), "HardSwish": ("HARD_SWISH", F32),
}
# op -> (builtin, dtypes, options kind); every one broadcasts.
BINARY = {
    "Add": ("ADD", NUMERIC, "AddOptions"), "Sub": ("SUB", NUMERIC, "SubOptions"),
    "Mul": ("MUL", NUMERIC, "MulOptions"), "Div": ("DIV", INT32_OR_FLOAT, "DivOptions"),
    "Equal": ("EQUAL", ANY_DATA, None),
    "Less": ("LESS", NUMERIC, None), "Greater": ("GREATER", NUMERIC, None),
    "LessOrEqual": ("LESS_EQUAL", NUMERIC, None),
    "GreaterOrEqual": ("GREATER_EQUAL", NUMERIC, None),
    "And": ("LOGICAL_AND", BOOL, None), "Or": ("LOGICAL_OR", BOOL, None),
    "Xor": ("NOT_EQUAL", BOOL, None), "PRelu": ("PRELU", F32, None),
}
MAX_BROADCAST_RANK = 6


def emit_unary(builtin: str):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        perm = ctx.perm_of(node.inputs[0])
        source = ctx.input(node.inputs[0], perm)
        ctx.op(builtin, [source], [ctx.output(node.outputs[0], perm)])

    return emit


def binary_inputs(ctx: EmitContext, node: ir.Node, values: list[ir.Value]):
    """Tensors for a broadcasting op's inputs, and the layout they share."""
    out_rank = ctx.rank(node.outputs[0])
    perms = {ctx.perm_of(v) for v in values if const_or_dequantized(v) is None}
    perm = perms.pop() if len(perms) == 1 else None
    if perm is not None and any(const_or_dequantized(v) is None and ctx.rank(v) != out_rank
                                for v in values):
        perm = None
    tensors = []
    for value in values:
        array = const_or_dequantized(value)
        if array is not None and perm is not None:
            full = array.reshape((1,) * (out_rank - array.ndim) + array.shape)
            tensors.append(ctx.const(np.transpose(full, perm), value.name or "const"))
        else:
            tensors.append(ctx.input(value, perm))
    return tensors, perm


def emit_binary(builtin: str, kind: str | None):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        tensors, perm = binary_inputs(ctx, node, list(node.inputs))
        made = options(kind) if kind else None
        ctx.op(builtin, tensors, [ctx.output(node.outputs[0], perm)], made)

    return emit


def emit_pow(ctx: EmitContext, node: ir.Node) -> None:
    """POW takes one type: an integer exponent is cast to the base's float32."""
    (base, exponent), perm = binary_inputs(ctx, node, list(node.inputs))
    if ctx.dtype(node.inputs[1]) != np.float32:
        shape = ctx.builder.tensors[exponent].shape
        widened = ctx.temp("exponent", np.float32, shape)
        ctx.op("CAST", [exponent], [widened])
        exponent = widened
    ctx.op("POW", [base, exponent], [ctx.output(node.outputs[0], perm)])


# variadic op -> (the binary builtin that folds it, its options)
VARIADIC = {"Sum": ("ADD", "AddOptions"), "Mean": ("ADD", "AddOptions"),
            "Max": ("MAXIMUM", None), "Min": ("MINIMUM", None)}


def emit_variadic(ctx: EmitContext, node: ir.Node) -> None:
    """Sum/Mean/Max/Min of any number of inputs: the binary builtin, folded left; Mean
    then divides by the count."""
    builtin, kind = VARIADIC[node.op_type]
    out = node.outputs[0]
    inputs = list(node.inputs)
    if len(inputs) == 1 and node.op_type != "Mean":
        ctx.alias(out, inputs[0])
        return
    tensors, perm = binary_inputs(ctx, node, inputs)
    shape = ctx._stored_shape(out, perm)
    dtype = ctx.dtype(out)
    steps = len(tensors) - 1 + (node.op_type == "Mean")
    result = tensors[0]
    for index, tensor in enumerate(tensors[1:], start=1):
        target = ctx.output(out, perm) if index == steps else ctx.temp("acc", dtype, shape)
        ctx.op(builtin, [result, tensor], [target], options(kind) if kind else None)
        result = target
    if node.op_type == "Mean":
        count = ctx.const(np.asarray(len(tensors), dtype))
        ctx.op("DIV", [result, count], [ctx.output(out, perm)], options("DivOptions"))


def check_pow(node: ir.Node, values) -> str | None:
    if values.dtype(node.inputs[1]) not in {ir.DataType.FLOAT, ir.DataType.INT32,
                                            ir.DataType.INT64}:
        return "Pow's exponent must be float32, int32 or int64"
    return check_broadcast(node, values)


def emit_elu(ctx: EmitContext, node: ir.Node) -> None:
    """ELU has alpha 1; another alpha is RELU(x) + alpha * MINIMUM(ELU(x), 0)."""
    alpha = float(attr(node, "alpha", 1.0))
    perm = ctx.perm_of(node.inputs[0])
    source = ctx.input(node.inputs[0], perm)
    out = node.outputs[0]
    if alpha == 1.0:
        ctx.op("ELU", [source], [ctx.output(out, perm)])
        return
    shape = ctx._stored_shape(out, perm)
    steps = [ctx.temp(f"elu_{i}", np.float32, shape) for i in range(4)]
    ctx.op("ELU", [source], [steps[0]])
    ctx.op("MINIMUM", [steps[0], ctx.const(np.asarray(0, np.float32))], [steps[1]])
    ctx.op("MUL", [steps[1], ctx.const(np.asarray(alpha, np.float32))], [steps[2]],
           options("MulOptions"))
    ctx.op("RELU", [source], [steps[3]])
    ctx.op("ADD", [steps[3], steps[2]], [ctx.output(out, perm)], options("AddOptions"))


def emit_is_nan(ctx: EmitContext, node: ir.Node) -> None:
    """NaN is the one value not equal to itself."""
    perm = ctx.perm_of(node.inputs[0])
    x = ctx.input(node.inputs[0], perm)
    ctx.op("NOT_EQUAL", [x, x], [ctx.output(node.outputs[0], perm)])


def emit_is_inf(ctx: EmitContext, node: ir.Node) -> None:
    """EQUAL to +inf and/or -inf, as detect_positive / detect_negative ask."""
    perm = ctx.perm_of(node.inputs[0])
    x = ctx.input(node.inputs[0], perm)
    out = node.outputs[0]
    signs = [s for s, flag in ((np.inf, "detect_positive"), (-np.inf, "detect_negative"))
             if attr(node, flag, 1)]
    if not signs:  # no detection asked for: all false (nothing is below -inf)
        ctx.op("LESS", [x, ctx.const(np.asarray(-np.inf, np.float32))], [ctx.output(out, perm)])
        return
    shape = ctx._stored_shape(out, perm)
    hits = []
    for index, sign in enumerate(signs):
        target = ctx.output(out, perm) if len(signs) == 1 else ctx.temp(f"inf{index}",
                                                                          np.bool_, shape)
        ctx.op("EQUAL", [x, ctx.const(np.asarray(sign, np.float32))], [target])
        hits.append(target)
    if len(hits) == 2:
        ctx.op("LOGICAL_OR", hits, [ctx.output(out, perm)])


def emit_reciprocal(ctx: EmitContext, node: ir.Node) -> None:
    perm = ctx.perm_of(node.inputs[0])
    one = ctx.const(np.asarray(1, ctx.dtype(node.inputs[0])))
    ctx.op("DIV", [one, ctx.input(node.inputs[0], perm)], [ctx.output(node.outputs[0], perm)],
           options("DivOptions"))


def check_broadcast(node: ir.Node, values) -> str | None:
    ranks = [rank(values, v) for v in node.inputs if v is not None]
    if any(r is None for r in ranks):
        return f"{node.op_type} needs the rank of every input"
    if max(ranks, default=0) > MAX_BROADCAST_RANK:
        return f"{node.op_type} broadcasts up to rank {MAX_BROADCAST_RANK} in TFLite"
    return None


def emit_where(ctx: EmitContext, node: ir.Node) -> None:
    tensors, perm = binary_inputs(ctx, node, list(node.inputs))
    ctx.op("SELECT_V2", tensors, [ctx.output(node.outputs[0], perm)])


def emit_cast(ctx: EmitContext, node: ir.Node) -> None:
    perm = ctx.perm_of(node.inputs[0])
    source = ctx.input(node.inputs[0], perm)
    ctx.op("CAST", [source], [ctx.output(node.outputs[0], perm)])


def check_cast(node: ir.Node, values) -> str | None:
    to = ir.DataType(attr(node, "to", 0))
    if to not in CAST_TYPES:
        return f"Cast to {to.name.lower()} has no TFLite tensor type that runs it"
    return cast_refused(values.dtype(node.inputs[0]) or node.inputs[0].dtype, to)


def emit_leaky_relu(ctx: EmitContext, node: ir.Node) -> None:
    perm = ctx.perm_of(node.inputs[0])
    source = ctx.input(node.inputs[0], perm)
    made = options("LeakyReluOptions", alpha=float(attr(node, "alpha", 0.01)))
    ctx.op("LEAKY_RELU", [source], [ctx.output(node.outputs[0], perm)], made)


def emit_gelu(ctx: EmitContext, node: ir.Node) -> None:
    perm = ctx.perm_of(node.inputs[0])
    source = ctx.input(node.inputs[0], perm)
    made = options("GeluOptions", approximate=attr(node, "approximate", "none") == "tanh")
    ctx.op("GELU", [source], [ctx.output(node.outputs[0], perm)], made)


def clip_bounds(node: ir.Node) -> tuple[float | None, float | None]:
    if "min" in node.attributes or "max" in node.attributes:  # opset < 11
        return attr(node, "min"), attr(node, "max")
    bounds = []
    for index in (1, 2):
        value = node.inputs[index] if index < len(node.inputs) else None
        array = const_or_dequantized(value)
        bounds.append(None if array is None else float(array))
    return bounds[0], bounds[1]


def check_clip(node: ir.Node, values) -> str | None:
    return check_broadcast(node, values)


def emit_clip(ctx: EmitContext, node: ir.Node) -> None:
    if any(const_or_dequantized(v) is None for v in node.inputs[1:] if v is not None):
        _clip_by_tensors(ctx, node)
        return
    low, high = clip_bounds(node)
    perm = ctx.perm_of(node.inputs[0])
    source = ctx.input(node.inputs[0], perm)
    out = node.outputs[0]
    named = {(0.0, 6.0): "RELU6", (-1.0, 1.0): "RELU_N1_TO_1", (0.0, None): "RELU"}
    if (low, high) in named:
        ctx.op(named[(low, high)], [source], [ctx.output(out, perm)])
        return
    dtype = ctx.dtype(out)
    shape = ctx._stored_shape(out, perm)
    if low is not None:
        bounded = ctx.temp(f"{out.name}_low", dtype, shape) if high is not None \
            else ctx.output(out, perm)
        ctx.op("MAXIMUM", [source, ctx.const(np.asarray(low, dtype))], [bounded])
        source = bounded
    if high is not None:
        ctx.op("MINIMUM", [source, ctx.const(np.asarray(high, dtype))], [ctx.output(out, perm)])
    if low is None and high is None:
        ctx.alias(out, node.inputs[0])


def _clip_by_tensors(ctx: EmitContext, node: ir.Node) -> None:
    """Bounds computed at run time: MAXIMUM with min, then MINIMUM with max."""
    out = node.outputs[0]
    bounds = [(index, builtin) for index, builtin in ((1, "MAXIMUM"), (2, "MINIMUM"))
              if index < len(node.inputs) and node.inputs[index] is not None]
    if not bounds:
        ctx.alias(out, node.inputs[0])
        return
    result = ctx.input(node.inputs[0])
    for step, (index, builtin) in enumerate(bounds, start=1):
        target = ctx.output(out) if step == len(bounds) else \
            ctx.temp("clipped", ctx.dtype(out), ctx.shape_or_none(out))
        ctx.op(builtin, [result, ctx.input(node.inputs[index])], [target])
        result = target


def entries() -> dict[str, list[Lowering]]:
    table: dict[str, list[Lowering]] = {}
    for op, (builtin, dtypes) in UNARY.items():
        table[op] = [entry(builtin, emit_unary(builtin), dtypes=dtypes)]
    for op, (builtin, dtypes, kind) in BINARY.items():
        table[op] = [entry(builtin, emit_binary(builtin, kind), dtypes=dtypes,
                           check=check_broadcast)]
    table["Pow"] = [entry(("POW", "CAST"), emit_pow, check=check_pow)]
    table["Elu"] = [entry(("ELU", "RELU", "MINIMUM", "MUL", "ADD"), emit_elu)]
    table["IsNaN"] = [entry("NOT_EQUAL", emit_is_nan)]
    table["IsInf"] = [entry(("EQUAL", "LOGICAL_OR"), emit_is_inf)]
    table["Reciprocal"] = [entry("DIV", emit_reciprocal)]
    for op, (builtin, _) in VARIADIC.items():
        dtypes = F32 if op == "Mean" else NUMERIC
        table[op] = [entry(builtin, emit_variadic, dtypes=dtypes, check=check_broadcast)]
    table["Where"] = [entry("SELECT_V2", emit_where, dtypes=ANY_DATA, dtype_inputs=(1,),
                            check=check_broadcast)]
    table["Cast"] = [entry("CAST", emit_cast, dtypes=CAST_TYPES, check=check_cast)]
    table["LeakyRelu"] = [entry("LEAKY_RELU", emit_leaky_relu)]
    table["Gelu"] = [entry("GELU", emit_gelu)]
    table["Clip"] = [entry(("MAXIMUM", "MINIMUM", "RELU6"), emit_clip, check=check_clip)]
    return table
