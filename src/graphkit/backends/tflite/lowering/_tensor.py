"""Data movement: Reshape and its kin (Squeeze, Unsqueeze, Flatten), Transpose, Concat,
Expand, Tile, Pad, Identity (Gather and its kin: _gather.py; Slice and Split: _slice.py).

Reshapes write the inferred static output shape, so ONNX's 0 and -1 never reach TFLite.
Transpose, Concat and Pad follow the layout their input is held in (no TRANSPOSE is
emitted to bring it back first)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    CAST_TYPES,
    NUMERIC,
    REARRANGE,
    EmitContext,
    Lowering,
    Stored,
    attr,
    cast_refused,
    entry,
    known,
    need_constant,
    needed,
    rank,
    static_shape,
)
from graphkit.backends.tflite.lowering._operands import (
    PAD_AT_RUN_TIME,
    crop_then_pad_amounts,
    pad_amounts_tensor,
)
from graphkit.backends.tflite.lowering._widen import wider


def check_static_output(node: ir.Node, values) -> str | None:
    if static_shape(values, node.outputs[0]) is None:
        return f"{node.op_type} needs a static output shape"
    return None


def reshape_target(values, value: ir.Value) -> list[int] | None:
    """RESHAPE's new shape: the output's dims, -1 for the one dynamic dim (if any)."""
    shape = values.shape(value)
    if shape is None:
        return None
    dynamic = [i for i, d in enumerate(shape) if not isinstance(d, int)]
    if len(dynamic) > 1:
        return None
    return [d if isinstance(d, int) else -1 for d in shape]


def check_reshape_output(node: ir.Node, values) -> str | None:
    if reshape_target(values, node.outputs[0]) is None:
        return f"{node.op_type} needs an output shape with at most one dynamic dim"
    return None


def check_axes_reshape(node: ir.Node, values) -> str | None:
    """Squeeze/Unsqueeze: a RESHAPE to the output shape, so axes (an input from opset 13)
    given at run time need that shape static (it is what they decide). With two dynamic
    dims or more, SQUEEZE or EXPAND_DIMS by the axes known when converting."""
    if reshape_target(values, node.outputs[0]) is not None \
            or (_given_axes(node, values) is not None and rank(values, node.inputs[0])):
        return None
    return need_constant(node, 1, "axes", values) or check_reshape_output(node, values)


def _given_axes(node: ir.Node, values) -> list[int] | None:
    """The axes as given (an input from opset 13, an attribute before), None when absent or
    known only at run time."""
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        array = known(node.inputs[1], values)
        return None if array is None else [int(a) for a in np.asarray(array).reshape(-1)]
    given = attr(node, "axes", None)
    return None if given is None else [int(a) for a in given]


def emit_axes_reshape(ctx: EmitContext, node: ir.Node) -> None:
    if reshape_target(ctx.values, node.outputs[0]) is not None:
        emit_reshape(ctx, node)
        return
    axes = _given_axes(node, ctx.values)
    source = ctx.input(node.inputs[0])
    if node.op_type == "Squeeze":
        count = ctx.rank(node.inputs[0])
        ctx.op("SQUEEZE", [source], [ctx.output(node.outputs[0])],
               options("SqueezeOptions", squeezeDims=sorted(a % count for a in axes)))
        return
    count = ctx.rank(node.outputs[0])
    placed = sorted(a % count for a in axes)  # ascending: each lands where the output has it
    shape = ctx.shape_or_none(node.outputs[0])
    for index, axis in enumerate(placed):
        last = index == len(placed) - 1
        out = ctx.output(node.outputs[0]) if last else ctx.temp(
            "unsqueezed", ctx.dtype(node.inputs[0]),
            [d for i, d in enumerate(shape) if i not in placed[index + 1:]])
        ctx.op("EXPAND_DIMS", [source, ctx.int32(axis)], [out])
        source = out


def known_target(node: ir.Node, values) -> list[int] | None:
    """Reshape's new shape from a shape input known when converting (a constant, or
    folded) and a static input: ONNX's 0 (copy the input's dim) resolved, -1 kept."""
    if node.op_type != "Reshape" or len(node.inputs) < 2:
        return None
    wanted, shape = known(node.inputs[1], values), static_shape(values, node.inputs[0])
    if wanted is None or shape is None or attr(node, "allowzero", 0):
        return None
    target = [shape[i] if d == 0 and i < len(shape) else int(d)
              for i, d in enumerate(wanted.reshape(-1).tolist())]
    return target if target.count(-1) <= 1 else None


def emit_reshape(ctx: EmitContext, node: ir.Node) -> None:
    shape = reshape_target(ctx.values, node.outputs[0])
    shape = known_target(node, ctx.values) if shape is None else shape
    source = ctx.input(node.inputs[0])
    # None: Reshape by a shape computed at run time
    new_shape = _run_time_shape(ctx, node) if shape is None else ctx.int32(shape)
    ctx.op("RESHAPE", [source, new_shape], [ctx.output(node.outputs[0])])


def check_reshape(node: ir.Node, values) -> str | None:
    """ONNX Reshape: a static output (at most one dynamic dim), or a shape tensor of static
    length, read at run time with ONNX's 0 (copy the input's dim) resolved by builtins."""
    if reshape_target(values, node.outputs[0]) is not None \
            or known_target(node, values) is not None:
        return None
    if attr(node, "allowzero", 0):
        return "Reshape with allowzero=1 by a shape known only at run time is not lowered"
    length = static_shape(values, node.inputs[1])
    if length is None or len(length) != 1 or values.shape(node.inputs[0]) is None:
        return "Reshape by a run-time shape needs that shape's length and the input's rank"
    return None


def _run_time_shape(ctx: EmitContext, node: ir.Node) -> int:
    """int32 new shape: the shape input, a 0 replaced by the input's dim at that place."""
    length = ctx.shape(node.inputs[1])[0]
    rank_ = ctx.rank(node.inputs[0])
    wanted = ctx.temp("wanted", np.int32, [length])
    ctx.op("CAST", [ctx.input(node.inputs[1])], [wanted])
    actual = ctx.temp("actual", np.int32, [rank_])
    ctx.op("SHAPE", [ctx.input(node.inputs[0])], [actual], options("ShapeOptions", outType=2))
    if length > rank_:  # a 0 past the input's rank is invalid ONNX: compare with ones
        padded = ctx.temp("actual_padded", np.int32, [length])
        ctx.op("CONCATENATION", [actual, ctx.int32([1] * (length - rank_))], [padded],
               options("ConcatenationOptions", axis=0))
        actual = padded
    elif length < rank_:
        prefix = ctx.temp("actual_prefix", np.int32, [length])
        ctx.op("SLICE", [actual, ctx.int32([0]), ctx.int32([length])], [prefix])
        actual = prefix
    zero = ctx.temp("is_zero", np.bool_, [length])
    ctx.op("EQUAL", [wanted, ctx.int32(0)], [zero])
    resolved = ctx.temp("new_shape", np.int32, [length])
    ctx.op("SELECT_V2", [zero, actual, wanted], [resolved])
    return resolved


def emit_identity(ctx: EmitContext, node: ir.Node) -> None:
    ctx.alias(node.outputs[0], node.inputs[0])


def emit_transpose(ctx: EmitContext, node: ir.Node) -> None:
    """No TRANSPOSE here: the output is the input's tensor, held in another layout, and a
    reader that needs another one gets the TRANSPOSE (ctx.input), so a Transpose an
    exporter put before NCHW ops that TFLite runs as NHWC costs nothing."""
    source = node.inputs[0]
    order = list(attr(node, "perm") or reversed(range(ctx.rank(source))))
    held = ctx.perm_of(source) or tuple(range(ctx.rank(source)))
    tensor = ctx.input(source, ctx.perm_of(source))
    # stored = source.transpose(held) = output.transpose(perm): perm[j] = order.index(held[j])
    perm = tuple(order.index(axis) for axis in held)
    ctx.stored[id(node.outputs[0])] = Stored(tensor, None if perm == tuple(sorted(perm))
                                             else perm)


def emit_concat(ctx: EmitContext, node: ir.Node) -> None:
    """In the layout most inputs are held in (a TRANSPOSE only for the others)."""
    live = [v for v in node.inputs if known(v, ctx.values) is None]
    held = [ctx.perm_of(v) for v in live]
    perm = max(held, key=held.count) if held else None
    out_rank = ctx.rank(node.outputs[0])
    axis = attr(node, "axis") % out_rank
    stored_axis = perm.index(axis) if perm is not None else axis
    tensors = [ctx.input(v, perm) for v in node.inputs
               if ctx.shape_or_none(v) != [] and not _empty(ctx, v)]
    made = options("ConcatenationOptions", axis=stored_axis)
    ctx.op("CONCATENATION", tensors, [ctx.output(node.outputs[0], perm)], made)


def check_concat(node: ir.Node, values) -> str | None:
    if any(rank(values, v) is None for v in node.inputs):
        return "Concat needs the rank of every input"
    return None


def _empty(ctx: EmitContext, value: ir.Value) -> bool:
    shape = static_shape(ctx.values, value)
    return shape is not None and 0 in shape


def emit_expand(ctx: EmitContext, node: ir.Node) -> None:
    if static_shape(ctx.values, node.outputs[0]) is None:
        _expand_at_run_time(ctx, node)
        return
    _expand_static(ctx, node)


def _expand_at_run_time(ctx: EmitContext, node: ir.Node) -> None:
    """Expand broadcasts both ways: input * ones(shape) (AND with trues for bool) does
    exactly that, with the shape known only when the model runs."""
    dtype = ctx.dtype(node.inputs[0])
    boolean = dtype == np.bool_
    ones = ctx.temp("ones", dtype, None)
    ctx.op("FILL", [ctx.input(node.inputs[1]), ctx.const(np.ones((), dtype))], [ones])
    builtin = "LOGICAL_AND" if boolean else "MUL"
    made = None if boolean else options("MulOptions")
    ctx.op(builtin, [ctx.input(node.inputs[0]), ones], [ctx.output(node.outputs[0])], made)


def check_expand(node: ir.Node, values) -> str | None:
    if static_shape(values, node.outputs[0]) is not None:
        return None
    dtype = values.dtype(node.inputs[0]) or node.inputs[0].dtype
    if dtype not in NUMERIC | {ir.DataType.BOOL} and wider("Expand", dtype, NUMERIC) is None:
        return "Expand to a shape known at run time is lowered for numbers and bools only"
    return None


def _expand_static(ctx: EmitContext, node: ir.Node) -> None:
    """In the input's layout where the ranks match (a pooled NHWC branch stays NHWC)."""
    source, out = node.inputs[0], node.outputs[0]
    perm = ctx.perm_of(source) if ctx.rank(source) == ctx.rank(out) else None
    shape = ctx._stored_shape(out, perm)
    ctx.op("BROADCAST_TO", [ctx.input(source, perm), ctx.int32(shape)],
           [ctx.output(out, perm)])


def emit_tile(ctx: EmitContext, node: ir.Node) -> None:
    """TILE reads the repeats as an int64 tensor at run time as well."""
    repeats = known(node.inputs[1], ctx.values)
    given = ctx.int32(repeats) if repeats is not None else ctx.input(node.inputs[1])
    ctx.op("TILE", [ctx.input(node.inputs[0]), given], [ctx.output(node.outputs[0])])


def pad_amounts(node: ir.Node, rank_: int, values) -> np.ndarray:
    """[rank, 2] (before, after) per axis."""
    pads = attr(node, "pads") if len(node.inputs) < 2 else known(node.inputs[1], values)
    pads = np.asarray(pads, dtype=np.int64)
    axes_value = node.inputs[3] if len(node.inputs) > 3 else None
    axes = known(axes_value, values) if axes_value is not None else None
    axes = list(range(rank_)) if axes is None else [int(a) % rank_ for a in axes]
    amounts = np.zeros((rank_, 2), dtype=np.int32)
    for index, axis in enumerate(axes):
        amounts[axis] = (pads[index], pads[index + len(axes)])
    return amounts


def check_pad(node: ir.Node, values) -> str | None:
    mode = attr(node, "mode", "constant")
    if mode not in {"constant", "reflect"}:
        return f"Pad mode '{mode}' has no TFLite builtin (constant and reflect do)"
    # PAD reads the pads and PADV2 the value at run time (negative pads crop, axes given
    # at run time are scattered: _operands)
    if rank(values, node.inputs[0]) is None:
        return "Pad needs the input's rank"
    return None


def emit_pad(ctx: EmitContext, node: ir.Node) -> None:
    source = node.inputs[0]
    given = attr(node, "pads") if len(node.inputs) < 2 else known(node.inputs[1], ctx.values)
    axes = node.inputs[3] if len(node.inputs) > 3 else None
    constant_axes = axes is None or known(axes, ctx.values) is not None
    if given is not None and constant_axes and np.min(given, initial=0) >= 0:
        perm = ctx.perm_of(source)
        amounts = pad_amounts(node, ctx.rank(source), ctx.values)
        if perm is not None:
            amounts = amounts[list(perm)]
        tensors = [ctx.input(source, perm), ctx.int32(amounts)]
    else:  # pads known only at run time, or cropping
        perm, rank_ = None, ctx.rank(source)
        amounts = pad_amounts_tensor(ctx, node, rank_) if given is None or not constant_axes \
            else ctx.const(pad_amounts(node, rank_, ctx.values).astype(np.int64))
        tensors = list(crop_then_pad_amounts(ctx, ctx.input(source), amounts, rank_,
                                             ctx.dtype(source)))
    out = ctx.output(node.outputs[0], perm)
    if attr(node, "mode", "constant") == "reflect":
        ctx.op("MIRROR_PAD", tensors, [out], options("MirrorPadOptions", mode=0))
        return
    fill = node.inputs[2] if len(node.inputs) > 2 else None
    value = known(fill, ctx.values) if fill else None
    if value is None and fill:
        scalar = ctx.temp("pad_value", ctx.dtype(source), [])
        ctx.op("RESHAPE", [ctx.input(fill), ctx.int32([])], [scalar])
        ctx.op("PADV2", [*tensors, scalar], [out])
        return
    if value is None:
        value = np.asarray(attr(node, "value", 0.0))
    if float(value) == 0.0:
        ctx.op("PAD", tensors, [out])
        return
    fill = ctx.const(np.asarray(value, ctx.dtype(source)).reshape(()))
    ctx.op("PADV2", [*tensors, fill], [out])


def check_trilu(node: ir.Node, values) -> str | None:
    shape = static_shape(values, node.inputs[0])
    if shape is None or len(shape) < 2:
        return "Trilu needs a static input shape of rank 2 or more"
    return None


def emit_trilu(ctx: EmitContext, node: ir.Node) -> None:
    """SELECT_V2 between the input and zeros, by the triangle as a mask: a constant, or
    for k given at run time, (column - row) compared with k (upper: >= k, lower: <= k)."""
    shape = ctx.shape(node.inputs[0])
    k_value = node.inputs[1] if len(node.inputs) > 1 else None
    k = known(k_value, ctx.values) if k_value is not None else np.asarray(0)
    upper = attr(node, "upper", 1)
    if k is not None:
        ones = np.ones(shape[-2:], dtype=bool)
        mask = ctx.const(np.triu(ones, int(k)) if upper else np.tril(ones, int(k)))
    else:
        mask = _run_time_triangle(ctx, k_value, shape[-2:], upper)
    zero = ctx.const(np.zeros((), ctx.dtype(node.inputs[0])))
    ctx.op("SELECT_V2", [mask, ctx.input(node.inputs[0]), zero],
           [ctx.output(node.outputs[0])])


def _run_time_triangle(ctx: EmitContext, k_value: ir.Value, size, upper: bool) -> int:
    rows, cols = size
    offsets = np.arange(cols)[None, :] - np.arange(rows)[:, None]  # column - row
    # k beyond +-(rows + cols) selects all or nothing: clamped, it fits int32
    bound = rows + cols
    wide = ctx.temp("k", np.int64, [])
    ctx.op("RESHAPE", [ctx.input(k_value), ctx.int32([])], [wide])
    low = ctx.temp("k_low", np.int64, [])
    ctx.op("MAXIMUM", [wide, ctx.const(np.asarray(-bound, np.int64))], [low])
    high = ctx.temp("k_clamped", np.int64, [])
    ctx.op("MINIMUM", [low, ctx.const(np.asarray(bound, np.int64))], [high])
    narrow = ctx.temp("k32", np.int32, [])
    ctx.op("CAST", [high], [narrow])
    mask = ctx.temp("triangle", np.bool_, [rows, cols])
    ctx.op("GREATER_EQUAL" if upper else "LESS_EQUAL",
           [ctx.const(offsets.astype(np.int32)), narrow], [mask])
    return mask


def entries() -> dict[str, list[Lowering]]:
    reshape = dict(dtypes=REARRANGE, check=check_reshape_output)
    return {
        "Reshape": [entry("RESHAPE", emit_reshape, dtypes=REARRANGE, check=check_reshape)],
        "Squeeze": [entry(("RESHAPE", "SQUEEZE"), emit_axes_reshape, dtypes=REARRANGE,
                          check=check_axes_reshape)],
        "Unsqueeze": [entry(("RESHAPE", "EXPAND_DIMS"), emit_axes_reshape, dtypes=REARRANGE,
                            check=check_axes_reshape)],
        "Flatten": [entry("RESHAPE", emit_reshape, **reshape)],
        "Identity": [entry((), emit_identity, dtypes=ANY_DATA | {ir.DataType.DOUBLE})],
        "CastLike": [entry("CAST", _emit_cast_like, dtypes=CAST_TYPES,
                           check=_check_cast_like)],
        "Dropout": [entry((), emit_dropout, dtypes=ANY_DATA, check=_inference_dropout)],
        "Transpose": [entry("TRANSPOSE", emit_transpose, dtypes=REARRANGE,
                            check=lambda n, v: None if rank(v, n.inputs[0]) is not None
                            else "Transpose needs the input's rank")],
        "Concat": [entry("CONCATENATION", emit_concat, dtypes=NUMERIC, check=check_concat)],
        "Expand": [entry(("BROADCAST_TO", "FILL", "MUL"), emit_expand, dtypes=ANY_DATA,
                         check=check_expand)],
        "Tile": [entry("TILE", emit_tile, dtypes=ANY_DATA)],
        "Trilu": [entry("SELECT_V2", emit_trilu, dtypes=ANY_DATA, check=check_trilu)],
        "Pad": [entry(("PAD", "PADV2", "MIRROR_PAD", *PAD_AT_RUN_TIME), emit_pad, dtypes=NUMERIC,
                      check=check_pad)],
    }


def _inference_dropout(node: ir.Node, values) -> str | None:
    """Dropout passes its input through (and a mask of trues) where it is known not to
    train, or to drop nothing: ratio 0."""
    ratio_value = node.inputs[1] if len(node.inputs) > 1 else None
    ratio = known(ratio_value, values) if ratio_value is not None \
        else np.asarray(attr(node, "ratio", 0.5))
    training_value = node.inputs[2] if len(node.inputs) > 2 else None
    training = known(training_value, values) if training_value is not None \
        else np.asarray(False)
    drops_nothing = ratio is not None and float(ratio) == 0.0
    if not drops_nothing and (training is None or bool(training)):
        return "Dropout is lowered only where training_mode is a constant false (or ratio 0)"
    if len(node.outputs) > 1 and needed(node.outputs[1]) \
            and static_shape(values, node.outputs[1]) is None:
        return "Dropout's mask output needs a static shape"
    return None


def emit_dropout(ctx: EmitContext, node: ir.Node) -> None:
    ctx.alias(node.outputs[0], node.inputs[0])
    if len(node.outputs) > 1 and needed(node.outputs[1]):
        mask = np.ones(ctx.shape(node.outputs[1]), dtype=bool)
        ctx.stored[id(node.outputs[1])] = Stored(ctx.const(mask, "dropout_mask"))


def _emit_cast_like(ctx: EmitContext, node: ir.Node) -> None:
    ctx.op("CAST", [ctx.input(node.inputs[0])], [ctx.output(node.outputs[0])])


def _check_cast_like(node: ir.Node, values) -> str | None:
    target = values.dtype(node.inputs[1])
    if target not in CAST_TYPES:
        return "CastLike to this type has no TFLite tensor type that runs it"
    return cast_refused(values.dtype(node.inputs[0]) or node.inputs[0].dtype, target)
