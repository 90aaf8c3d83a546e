"""Reductions (MEAN, SUM, REDUCE_MAX/MIN/PROD), ArgMax/ArgMin, Softmax and LogSoftmax.

A reduction follows its input's layout: the axes are renumbered into the held order, and
the output keeps what is left of that order."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    BOOL,
    F32,
    NUMERIC,
    EmitContext,
    Lowering,
    attr,
    entry,
    known,
    rank,
    static_shape,
)
from graphkit.backends.tflite.lowering._operands import scalar_axis

REDUCERS = {"ReduceMean": ("MEAN", F32), "ReduceSum": ("SUM", NUMERIC),
            "ReduceProd": ("REDUCE_PROD", NUMERIC)}
EXTREMES = {"ReduceMax": ("REDUCE_MAX", "REDUCE_ANY"), "ReduceMin": ("REDUCE_MIN", "REDUCE_ALL")}
# op -> (builtin before the reduction, the reduction, builtin after it)
COMPOSED = {"ReduceL1": ("ABS", "SUM", None), "ReduceL2": ("SQUARE", "SUM", "SQRT"),
            "ReduceSumSquare": ("SQUARE", "SUM", None), "ReduceLogSum": (None, "SUM", "LOG"),
            "ReduceLogSumExp": ("EXP", "SUM", "LOG")}

# the reductions whose kernels give ONNX's value on an empty set: SUM 0, REDUCE_PROD 1,
# MEAN NaN (REDUCE_MAX/MIN give the largest finite float where ONNX has infinities)
OF_NOTHING = frozenset({"ReduceMean", "ReduceSum", "ReduceProd", *COMPOSED})


def reduce_axes(node: ir.Node, rank_: int, values) -> list[int] | None:
    """The axes reduced; None: none (noop_with_empty_axes)."""
    axes = attr(node, "axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
        given = known(node.inputs[1], values)
        axes = given.tolist() if given is not None else []  # run-time axes known empty
    if not axes:
        return None if attr(node, "noop_with_empty_axes", 0) else list(range(rank_))
    return sorted({int(a) % rank_ for a in axes})


def run_time_axes(node: ir.Node, values) -> ir.Value | None:
    """The axes input when only the run gives its values (and it has some: a run-time
    axes input of static length 0 is known empty when converting)."""
    axes = node.inputs[1] if len(node.inputs) > 1 else None
    if axes is None or known(axes, values) is not None:
        return None
    return axes if static_shape(values, axes) != (0,) else None


def check_reduce(node: ir.Node, values) -> str | None:
    axes = node.inputs[1] if len(node.inputs) > 1 else None
    if axes is not None and known(axes, values) is None \
            and static_shape(values, axes) is None:
        return f"{node.op_type}'s axes (input 1) must be a constant or of static length"
    if rank(values, node.inputs[0]) is None:
        return f"{node.op_type} needs the input's rank"
    shape = static_shape(values, node.inputs[0])
    if shape is not None and 0 in shape and node.op_type not in OF_NOTHING:
        return f"{node.op_type} of an empty tensor is not lowered"
    return None


def emit_reduce(builtin: str, before: str | None = None, after: str | None = None):
    """`before`/`after`: an elementwise builtin on the input / the result (ReduceL2 is
    SQUARE, SUM, SQRT)."""

    def emit(ctx: EmitContext, node: ir.Node) -> None:
        source, out = node.inputs[0], node.outputs[0]
        if run_time_axes(node, ctx.values) is not None:
            _reduce_by_run_time_axes(ctx, node, builtin, before, after)
            return
        rank_ = ctx.rank(source)
        axes = reduce_axes(node, rank_, ctx.values)
        perm = ctx.perm_of(source)
        held = perm or tuple(range(rank_))
        data = ctx.input(source, perm)
        if before is not None:
            data = _elementwise(ctx, before, data, ctx.builder.tensors[data].shape)
        if axes is None:  # noop_with_empty_axes: only the elementwise steps
            axes_done = data
        else:
            keep = bool(attr(node, "keepdims", 1))
            perm = perm if keep else _remaining(held, axes)
            made = options("ReducerOptions", keepDims=keep)
            axes_done = ctx.output(out, perm) if after is None else \
                ctx.temp("reduced", ctx.dtype(out), ctx._stored_shape(out, perm))
            ctx.op(builtin, [data, ctx.int32([held.index(a) for a in axes])], [axes_done], made)
        if after is not None:
            ctx.op(after, [axes_done], [ctx.output(out, perm)])
        elif axes is None:
            ctx.op("RESHAPE", [axes_done, ctx.int32(ctx.builder.tensors[axes_done].shape)],
                   [ctx.output(out, perm)])

    return emit


def emit_extreme(builtin: str, logical: str):
    """ReduceMax/ReduceMin: REDUCE_MAX/MIN, or on bool (False < True) REDUCE_ANY/ALL."""
    numeric, boolean = emit_reduce(builtin), emit_reduce(logical)

    def emit(ctx: EmitContext, node: ir.Node) -> None:
        (boolean if ctx.dtype(node.inputs[0]) == np.bool_ else numeric)(ctx, node)

    return emit


def _reduce_by_run_time_axes(ctx: EmitContext, node: ir.Node, builtin: str,
                             before: str | None, after: str | None) -> None:
    """Axes given at run time: the reducers take them as an int32 tensor (negative axes
    count from the end, as in ONNX), so the input is read in the ONNX order and the
    kernel sizes the output when it runs."""
    source, out = node.inputs[0], node.outputs[0]
    data = ctx.input(source)
    if before is not None:
        data = _elementwise(ctx, before, data, ctx.shape_or_none(source))
    axes = ctx.temp("axes", np.int32, ctx.shape_or_none(node.inputs[1]))
    ctx.op("CAST", [ctx.input(node.inputs[1])], [axes])
    made = options("ReducerOptions", keepDims=bool(attr(node, "keepdims", 1)))
    reduced = ctx.output(out) if after is None else \
        ctx.temp("reduced", ctx.dtype(out), ctx.shape_or_none(out))
    ctx.op(builtin, [data, axes], [reduced], made)
    if after is not None:
        ctx.op(after, [reduced], [ctx.output(out)])


def _elementwise(ctx: EmitContext, builtin: str, tensor: int, shape) -> int:
    result = ctx.temp(builtin.lower(), np.float32, shape)
    ctx.op(builtin, [tensor], [result])
    return result


def _remaining(held: tuple[int, ...], axes: list[int]):
    kept = [a for a in held if a not in axes]
    order = sorted(kept)
    perm = tuple(order.index(a) for a in kept)
    return None if perm == tuple(range(len(perm))) else perm


def emit_arg(builtin: str, kind: str):
    """select_last_index=1: the first extreme of the input reversed along the axis is the
    last one of the input, at (dim - 1) - its index."""

    def emit(ctx: EmitContext, node: ir.Node) -> None:
        source = node.inputs[0]
        shape = ctx.shape(source)
        axis = attr(node, "axis", 0) % len(shape)
        out = node.outputs[0]
        made = options(kind, outputType=4)  # int64, ONNX's index type
        data = ctx.input(source)
        last = bool(attr(node, "select_last_index", 0))
        if last:
            reversed_ = ctx.temp("reversed", ctx.dtype(source), list(shape))
            ctx.op("REVERSE_V2", [data, ctx.int32([axis])], [reversed_])
            data = reversed_
        keep = bool(attr(node, "keepdims", 1))
        reduced = [d for i, d in enumerate(shape) if i != axis]
        found = ctx.temp(f"{out.name}_flat", np.int64, reduced) if keep or last \
            else ctx.output(out)
        ctx.op(builtin, [data, ctx.int32([axis])], [found], made)
        if last:
            counted = ctx.temp(f"{out.name}_last", np.int64, reduced) if keep \
                else ctx.output(out)
            ctx.op("SUB", [ctx.const(np.asarray(shape[axis] - 1, np.int64)), found], [counted],
                   options("SubOptions"))
            found = counted
        if keep:
            ctx.op("RESHAPE", [found, ctx.int32(ctx.shape(out))], [ctx.output(out)])

    return emit


def check_arg(node: ir.Node, values) -> str | None:
    if static_shape(values, node.inputs[0]) is None:
        return f"{node.op_type} needs a static input shape"
    return None


def emit_softmax(builtin: str, flattens: bool):
    """`flattens`: the semantics before opset 13 (softmax over the input flattened to 2-D)."""

    def emit(ctx: EmitContext, node: ir.Node) -> None:
        source = node.inputs[0]
        rank_ = ctx.rank(source)
        axis = attr(node, "axis", 1 if flattens else -1) % rank_
        made = options("SoftmaxOptions", beta=1.0) if builtin == "SOFTMAX" else None
        if flattens and axis != rank_ - 1:
            _flattened_softmax(ctx, node, builtin, axis, made)
            return
        perm = ctx.perm_of(source)
        if perm is None or perm[-1] != axis:
            perm = None if axis == rank_ - 1 else _axis_last(rank_, axis)
        ctx.op(builtin, [ctx.input(source, perm)], [ctx.output(node.outputs[0], perm)], made)

    return emit


def _axis_last(rank_: int, axis: int) -> tuple[int, ...]:
    return tuple([a for a in range(rank_) if a != axis] + [axis])


def _flattened_softmax(ctx: EmitContext, node: ir.Node, builtin: str, axis: int, made) -> None:
    """Before opset 13, softmax runs over the input flattened to 2-D at `axis`."""
    shape = ctx.shape(node.inputs[0])
    flat = [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))]
    dtype = ctx.dtype(node.inputs[0])
    two_d = ctx.temp("softmax_in", dtype, flat)
    ctx.op("RESHAPE", [ctx.input(node.inputs[0]), ctx.int32(flat)], [two_d])
    result = ctx.temp("softmax_out", dtype, flat)
    ctx.op(builtin, [two_d], [result], made)
    ctx.op("RESHAPE", [result, ctx.int32(shape)], [ctx.output(node.outputs[0])])


def check_softmax(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) is None:
        return f"{node.op_type} needs the input's rank"
    return None


def check_topk(node: ir.Node, values) -> str | None:
    if not attr(node, "sorted", 1):
        return "TopK with sorted=0 is not lowered"
    if rank(values, node.inputs[0]) is None:
        return "TopK needs the input's rank"
    return None


def emit_topk(ctx: EmitContext, node: ir.Node) -> None:
    """TOPK_V2 works on the last axis: the input is asked for with `axis` moved last (a
    TRANSPOSE where needed) and the outputs are held in that order. largest=0 is the
    top k of the negated input; the int32 indices are cast to ONNX's int64."""
    source = node.inputs[0]
    rank_ = ctx.rank(source)
    axis = attr(node, "axis", -1) % rank_
    perm = None if axis == rank_ - 1 else _axis_last(rank_, axis)
    values_out, indices_out = node.outputs
    data = ctx.input(source, perm)
    dtype = ctx.dtype(source)
    shape = ctx._stored_shape(values_out, perm)
    largest = attr(node, "largest", 1)
    if not largest:
        negated = ctx.temp("negated", dtype, ctx._stored_shape(source, perm))
        ctx.op("NEG", [data], [negated])
        data = negated
    top = ctx.temp("top", dtype, shape) if not largest else ctx.output(values_out, perm)
    indices = ctx.temp("top_indices", np.int32, shape)
    ctx.op("TOPK_V2", [data, _k_tensor(ctx, node)], [top, indices])
    if not largest:
        ctx.op("NEG", [top], [ctx.output(values_out, perm)])
    ctx.op("CAST", [indices], [ctx.output(indices_out, perm)])


def _k_tensor(ctx: EmitContext, node: ir.Node) -> int:
    """k as TOPK_V2 takes it: an int32 scalar (ONNX gives a 1-element int64 tensor)."""
    if len(node.inputs) < 2:  # before opset 10: an attribute
        return ctx.int32(attr(node, "k"))
    given = known(node.inputs[1], ctx.values)
    if given is not None:
        return ctx.int32(int(given.reshape(-1)[0]))
    scalar = ctx.temp("k", np.int64, [])
    ctx.op("RESHAPE", [ctx.input(node.inputs[1]), ctx.int32([])], [scalar])
    narrow = ctx.temp("k32", np.int32, [])
    ctx.op("CAST", [scalar], [narrow])
    return narrow


def emit_cumsum(ctx: EmitContext, node: ir.Node) -> None:
    """CUMSUM reads the axis (negative ones too) as an int32 scalar at run time as well."""
    given = known(node.inputs[1], ctx.values)
    axis = ctx.int32(int(given) % ctx.rank(node.inputs[0])) if given is not None \
        else scalar_axis(ctx, node.inputs[1])
    made = options("CumsumOptions", exclusive=bool(attr(node, "exclusive", 0)),
                   reverse=bool(attr(node, "reverse", 0)))
    ctx.op("CUMSUM", [ctx.input(node.inputs[0]), axis], [ctx.output(node.outputs[0])], made)


def check_cumsum(node: ir.Node, values) -> str | None:
    return None if rank(values, node.inputs[0]) is not None else "CumSum needs the input's rank"


def check_softmax_2d(node: ir.Node, values) -> str | None:
    shape = values.shape(node.inputs[0])
    if shape is None:
        return f"{node.op_type} needs the input's rank"
    axis = attr(node, "axis", 1) % max(len(shape), 1)
    if axis != len(shape) - 1 and static_shape(values, node.inputs[0]) is None:
        return f"{node.op_type} (before opset 13) over several axes needs a static shape"
    return None


def entries() -> dict[str, list[Lowering]]:
    table: dict[str, list[Lowering]] = {}
    for op, (builtin, dtypes) in REDUCERS.items():
        table[op] = [entry(builtin, emit_reduce(builtin), dtypes=dtypes, check=check_reduce,
                           takes_empty=op in OF_NOTHING)]
    for op, (builtin, logical) in EXTREMES.items():
        table[op] = [entry((builtin, logical), emit_extreme(builtin, logical),
                           dtypes=NUMERIC | BOOL, check=check_reduce)]
    for op, (before, builtin, after) in COMPOSED.items():
        table[op] = [entry(tuple(b for b in (before, builtin, after) if b),
                           emit_reduce(builtin, before, after), check=check_reduce,
                           takes_empty=True)]
    table["TopK"] = [entry(("TOPK_V2", "CAST"), emit_topk, dtypes=NUMERIC,
                           check=check_topk)]
    table["CumSum"] = [entry(("CUMSUM", "RESHAPE", "CAST"), emit_cumsum, dtypes=NUMERIC,
                             check=check_cumsum)]
    for op, builtin, kind in (("ArgMax", "ARG_MAX", "ArgMaxOptions"),
                              ("ArgMin", "ARG_MIN", "ArgMinOptions")):
        table[op] = [entry((builtin, "REVERSE_V2", "SUB"), emit_arg(builtin, kind),
                           dtypes=NUMERIC, check=check_arg)]
    for op, builtin in (("Softmax", "SOFTMAX"), ("LogSoftmax", "LOG_SOFTMAX")):
        table[op] = [
            entry(builtin, emit_softmax(builtin, flattens=True), check=check_softmax_2d),
            entry(builtin, emit_softmax(builtin, flattens=False), check=check_softmax, since=13),
        ]
    return table
