"""ScatterND and ScatterElements through SCATTER_ND, which writes updates into zeros and
sums the ones that land on the same element.

add:  data + SCATTER_ND(indices, updates)             (ONNX adds duplicates too)
none: SELECT_V2(hit, SCATTER_ND(indices, updates), data), hit marking the written
      elements (SCATTER_ND of ones); duplicate indices, whose result ONNX leaves
      undefined, come out summed.
mul, max, min: one update row at a time (at most MAX_STEPS rows), since summing
      duplicates is wrong for them: each row scattered alone, combined with what is
      there (MUL, MAXIMUM, MINIMUM) and selected where it lands.
ScatterElements first turns its indices into full coordinates, as GatherElements does.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    MAX_STEPS,
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    static_shape,
)
from graphkit.backends.tflite.lowering._gather import element_coordinates, wrapped_indices

SCATTERED = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})
COMBINE = {"mul": ("MUL", "MulOptions"), "max": ("MAXIMUM", None), "min": ("MINIMUM", None)}


def check_scatter(node: ir.Node, values) -> str | None:
    reduction = attr(node, "reduction", "none")
    if reduction not in ("none", "add", *COMBINE):
        return f"{node.op_type} with reduction '{reduction}' is not lowered"
    if any(static_shape(values, v) is None for v in node.inputs):
        return f"{node.op_type} needs static data, index and update shapes"
    index_shape = static_shape(values, node.inputs[1])
    if node.op_type == "ScatterND" and not index_shape:
        return "ScatterND needs indices of rank 1 or more"
    if reduction in COMBINE:
        rows = _rows(node, index_shape)
        if rows > MAX_STEPS:
            return f"{node.op_type} with reduction '{reduction}' writes its {rows} update " \
                f"rows one at a time; graphkit unrolls at most {MAX_STEPS}"
    return None


def _rows(node: ir.Node, index_shape) -> int:
    """Update rows: index tuples of ScatterND, elements of ScatterElements' indices."""
    counted = index_shape[:-1] if node.op_type == "ScatterND" else index_shape
    return int(np.prod(counted, dtype=np.int64))


def emit_scatter_nd(ctx: EmitContext, node: ir.Node) -> None:
    data, indices, _ = node.inputs
    depth = ctx.shape(indices)[-1]
    sizes = np.asarray(ctx.shape(data)[:depth], ctx.dtype(indices))
    array = const_or_dequantized(indices)
    if array is not None:
        index = ctx.const(np.where(array < 0, array + sizes, array).astype(array.dtype))
    else:
        index = wrapped_indices(ctx, indices, ctx.const(sizes))
    _scatter(ctx, node, index, ctx.dtype(indices))


def emit_scatter_elements(ctx: EmitContext, node: ir.Node) -> None:
    coords = element_coordinates(ctx, node)  # int64 where the indices are constants
    indices = node.inputs[1]
    dtype = np.int64 if const_or_dequantized(indices) is not None else ctx.dtype(indices)
    _scatter(ctx, node, coords, dtype)


def _scatter(ctx: EmitContext, node: ir.Node, index: int, index_dtype) -> None:
    data, _, updates = node.inputs
    shape = list(ctx.shape(data))
    dtype = ctx.dtype(data)
    if np.dtype(index_dtype) != np.int32:  # SCATTER_ND takes int32 indices only
        narrow = ctx.temp("indices32", np.int32, ctx.builder.tensors[index].shape)
        ctx.op("CAST", [index], [narrow])
        index = narrow
    target = ctx.int32(shape)
    reduction = attr(node, "reduction", "none")
    if reduction in COMBINE:
        _scatter_rows(ctx, node, index, target, COMBINE[reduction])
        return
    written = ctx.temp("scattered", dtype, shape)
    ctx.op("SCATTER_ND", [index, ctx.input(updates), target], [written])
    out = ctx.output(node.outputs[0])
    if attr(node, "reduction", "none") == "add":
        ctx.op("ADD", [ctx.input(data), written], [out], options("AddOptions"))
        return
    ones = ctx.const(np.ones(ctx.shape(updates), np.float32))
    count = ctx.temp("hits", np.float32, shape)
    ctx.op("SCATTER_ND", [index, ones, target], [count])
    hit = ctx.temp("hit", np.bool_, shape)
    ctx.op("GREATER", [count, ctx.const(np.zeros((), np.float32))], [hit])
    ctx.op("SELECT_V2", [hit, written, ctx.input(data)], [out])


def _scatter_rows(ctx: EmitContext, node: ir.Node, index: int, target: int,
                  combine: tuple[str, str | None]) -> None:
    """Each update row scattered alone into zeros, combined with the data so far and
    selected where it lands (a row's own elements are distinct, so nothing is summed)."""
    data, _, updates = node.inputs
    shape, dtype = list(ctx.shape(data)), ctx.dtype(data)
    index_shape = ctx.builder.tensors[index].shape
    depth = int(index_shape[-1])
    rows = _rows(node, ctx.shape(node.inputs[1]))
    part = list(ctx.shape(updates))[len(index_shape) - 1:]  # one row's update
    flat_index = ctx.temp("index_rows", np.int32, [rows, depth])
    ctx.op("RESHAPE", [index, ctx.int32([rows, depth])], [flat_index])
    flat_updates = ctx.temp("update_rows", dtype, [rows, *part])
    ctx.op("RESHAPE", [ctx.input(updates), ctx.int32([rows, *part])], [flat_updates])
    ones = ctx.const(np.ones([1, *part], np.float32))
    zero = ctx.const(np.zeros((), np.float32))
    builtin, made = combine
    current = ctx.input(data)
    if rows == 0:  # nothing to write: the data as it is
        ctx.op("RESHAPE", [current, target], [ctx.output(node.outputs[0])])
        return
    for row in range(rows):
        which = ctx.int32([row])
        at = ctx.temp("row_index", np.int32, [1, depth])
        ctx.op("GATHER", [flat_index, which], [at], options("GatherOptions", axis=0))
        update = ctx.temp("row_update", dtype, [1, *part])
        ctx.op("GATHER", [flat_updates, which], [update], options("GatherOptions", axis=0))
        placed = ctx.temp("row_placed", dtype, shape)
        ctx.op("SCATTER_ND", [at, update, target], [placed])
        count = ctx.temp("row_hits", np.float32, shape)
        ctx.op("SCATTER_ND", [at, ones, target], [count])
        hit = ctx.temp("row_hit", np.bool_, shape)
        ctx.op("GREATER", [count, zero], [hit])
        combined = ctx.temp("row_combined", dtype, shape)
        ctx.op(builtin, [current, placed], [combined], options(made) if made else None)
        out = ctx.output(node.outputs[0]) if row == rows - 1 else \
            ctx.temp("row_result", dtype, shape)
        ctx.op("SELECT_V2", [hit, combined, current], [out])
        current = out


def entries() -> dict[str, list[Lowering]]:
    builtins = ("SCATTER_ND", "CAST", "ADD", "GREATER", "SELECT_V2", "RESHAPE", "GATHER",
                "MUL", "MAXIMUM", "MINIMUM")
    return {
        "ScatterND": [entry(builtins, emit_scatter_nd, dtypes=SCATTERED, check=check_scatter)],
        "ScatterElements": [entry(("CONCATENATION", *builtins), emit_scatter_elements,
                                  dtypes=SCATTERED, check=check_scatter)],
    }
