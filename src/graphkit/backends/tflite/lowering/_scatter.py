"""ScatterND and ScatterElements (reduction none or add) through SCATTER_ND, which writes
updates into zeros and sums the ones that land on the same element.

add:  data + SCATTER_ND(indices, updates)             (ONNX adds duplicates too)
none: SELECT_V2(hit, SCATTER_ND(indices, updates), data), hit marking the written
      elements (SCATTER_ND of ones); duplicate indices, whose result ONNX leaves
      undefined, come out summed.
ScatterElements first turns its indices into full coordinates, as GatherElements does.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    static_shape,
)
from graphkit.backends.tflite.lowering._gather import element_coordinates, wrapped_indices

SCATTERED = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})


def check_scatter(node: ir.Node, values) -> str | None:
    if attr(node, "reduction", "none") not in ("none", "add"):
        return f"{node.op_type} with reduction '{attr(node, 'reduction')}' is not lowered"
    if any(static_shape(values, v) is None for v in node.inputs):
        return f"{node.op_type} needs static data, index and update shapes"
    if node.op_type == "ScatterND" and not static_shape(values, node.inputs[1]):
        return "ScatterND needs indices of rank 1 or more"
    return None


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


def entries() -> dict[str, list[Lowering]]:
    builtins = ("SCATTER_ND", "CAST", "ADD", "GREATER", "SELECT_V2")
    return {
        "ScatterND": [entry(builtins, emit_scatter_nd, dtypes=SCATTERED, check=check_scatter)],
        "ScatterElements": [entry(("CONCATENATION", *builtins), emit_scatter_elements,
                                  dtypes=SCATTERED, check=check_scatter)],
    }
