"""Gather, GatherND and GatherElements: TFLite's GATHER and GATHER_ND, with ONNX's negative
indices wrapped by the size of the dim they index (TFLite refuses them)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    need_static,
    static_shape,
)


def emit_gather(ctx: EmitContext, node: ir.Node) -> None:
    data, indices = node.inputs
    shape = ctx.values.shape(data)
    axis = attr(node, "axis", 0) % len(shape)
    array = const_or_dequantized(indices)
    if array is not None:
        size = shape[axis] if isinstance(shape[axis], int) else 0  # unused: no negatives
        index = ctx.const(np.where(array < 0, array + size, array).astype(np.int32))
    else:
        dtype = ctx.dtype(indices)
        length = ctx.const(np.asarray(shape[axis], dtype)) if isinstance(shape[axis], int) \
            else _dim_size(ctx, data, axis, dtype)
        index = wrapped_indices(ctx, indices, length)
    made = options("GatherOptions", axis=axis, batchDims=0)
    ctx.op("GATHER", [ctx.input(data), index], [ctx.output(node.outputs[0])], made)


def _dim_size(ctx: EmitContext, data: ir.Value, axis: int, dtype) -> int:
    """A dynamic dim's size at run time, as a scalar of the indices' type."""
    rank_ = ctx.rank(data)
    shape = ctx.temp("shape", dtype, [rank_])
    ctx.op("SHAPE", [ctx.input(data)], [shape],
           options("ShapeOptions", outType=4 if dtype == np.int64 else 2))
    size = ctx.temp("size", dtype, [])
    ctx.op("GATHER", [shape, ctx.int32(axis)], [size], options("GatherOptions", axis=0))
    return size


def wrapped_indices(ctx: EmitContext, indices: ir.Value, length: int) -> int:
    """Negative indices count from the end in ONNX; TFLite's GATHER refuses them.
    `length`: the tensor holding the axis's length (a constant, or computed for a dynamic
    dim)."""
    dtype = ctx.dtype(indices)
    shape = ctx.shape_or_none(indices)
    raw = ctx.input(indices)
    negative = ctx.temp(f"{indices.name}_neg", np.bool_, shape)
    ctx.op("LESS", [raw, ctx.const(np.asarray(0, dtype))], [negative])
    shifted = ctx.temp(f"{indices.name}_wrapped", dtype, shape)
    ctx.op("ADD", [raw, length], [shifted], options("AddOptions"))
    chosen = ctx.temp(f"{indices.name}_index", dtype, shape)
    ctx.op("SELECT_V2", [negative, shifted, raw], [chosen])
    return chosen


def check_gather(node: ir.Node, values) -> str | None:
    """The gathered axis's size must be known where an index may count from the end; the
    indices are int32 or int64 (ONNX's rule; GATHER refuses others when prepared)."""
    dtype = values.dtype(node.inputs[1]) or node.inputs[1].dtype
    if dtype is not None and dtype not in (ir.DataType.INT32, ir.DataType.INT64):
        return f"Gather's indices are {dtype.name.lower()}; they must be int32 or int64"
    shape = values.shape(node.inputs[0])
    if shape is None:
        return "Gather needs the input's rank"
    size = shape[attr(node, "axis", 0) % max(len(shape), 1)]
    array = const_or_dequantized(node.inputs[1])
    if not isinstance(size, int) and array is not None and (array < 0).any():
        return "Gather on a dynamic axis with constant negative indices is not lowered"
    return None


def check_gather_elements(node: ir.Node, values) -> str | None:
    data, indices = values.shape(node.inputs[0]), values.shape(node.inputs[1])
    if data is None or indices is None or len(data) != len(indices):
        return "GatherElements needs the data's and the indices' rank (the same)"
    return None


def emit_gather_elements(ctx: EmitContext, node: ir.Node) -> None:
    """GATHER_ND with full coordinates (element_coordinates, or built at run time where a
    shape is dynamic)."""
    static = static_shape(ctx.values, node.inputs[1]) is not None \
        and need_static(ctx.values, node) is None
    coords = element_coordinates(ctx, node) if static else run_time_coordinates(ctx, node)
    ctx.op("GATHER_ND", [ctx.input(node.inputs[0]), coords], [ctx.output(node.outputs[0])])


def run_time_coordinates(ctx: EmitContext, node: ir.Node) -> int:
    """element_coordinates for dynamic shapes: the grid of dim d is RANGE(indices' dim d),
    reshaped to lie along d and broadcast to the indices' shape (SHAPE at run time); the
    axis's own column is the wrapped index (by the data's axis size, read at run time
    where dynamic). All int32, which GATHER_ND takes."""
    data, indices = node.inputs[0], node.inputs[1]
    rank_ = ctx.rank(data)
    axis = attr(node, "axis", 0) % rank_
    size = ctx.values.shape(data)[axis]
    dtype = ctx.dtype(indices)
    length = ctx.const(np.asarray(size, dtype)) if isinstance(size, int) \
        else _dim_size(ctx, data, axis, dtype)
    held = ctx.shape_or_none(indices)
    wrapped = wrapped_indices(ctx, indices, length)
    if dtype != np.int32:
        narrowed = ctx.temp("index_i32", np.int32, held)
        ctx.op("CAST", [wrapped], [narrowed])
        wrapped = narrowed
    shape = ctx.temp("index_shape", np.int32, [rank_])
    ctx.op("SHAPE", [ctx.input(indices)], [shape], options("ShapeOptions", outType=2))
    last = ctx.int32(-1)
    parts = []
    for dim in range(rank_):
        if dim == axis:
            grid = wrapped
        else:
            count = ctx.temp(f"count{dim}", np.int32, [])
            ctx.op("GATHER", [shape, ctx.int32(dim)], [count], options("GatherOptions", axis=0))
            line = ctx.temp(f"positions{dim}", np.int32, [held[dim]])
            ctx.op("RANGE", [ctx.int32(0), count, ctx.int32(1)], [line])
            along = [1] * rank_
            along[dim] = -1
            placed = ctx.temp(f"positions{dim}_placed", np.int32,
                              [held[dim] if d == dim else 1 for d in range(rank_)])
            ctx.op("RESHAPE", [line, ctx.int32(along)], [placed])
            grid = ctx.temp(f"grid{dim}", np.int32, held)
            ctx.op("BROADCAST_TO", [placed, shape], [grid])
        column = ctx.temp(f"coords{dim}", np.int32, [*held, 1])
        ctx.op("EXPAND_DIMS", [grid, last], [column])
        parts.append(column)
    coords = ctx.temp("coords", np.int32, [*held, rank_])
    ctx.op("CONCATENATION", parts, [coords], options("ConcatenationOptions", axis=rank_))
    return coords


def element_coordinates(ctx: EmitContext, node: ir.Node) -> int:
    """[*indices.shape, rank]: each element's full coordinates in the data, the index
    tensor (wrapped) on `axis`, constant grids (the element's own position) elsewhere."""
    data, indices = node.inputs[0], node.inputs[1]
    shape, index_shape = ctx.shape(data), ctx.shape(indices)
    axis = attr(node, "axis", 0) % len(shape)
    array = const_or_dequantized(indices)
    if array is not None:
        wrapped = ctx.const(np.where(array < 0, array + shape[axis], array).astype(np.int64))
    else:
        length = ctx.const(np.asarray(shape[axis], ctx.dtype(indices)))
        wrapped = wrapped_indices(ctx, indices, length)
    dtype = ctx.dtype(indices) if array is None else np.dtype(np.int64)
    column = ctx.temp("axis_coords", dtype, [*index_shape, 1])
    ctx.op("RESHAPE", [wrapped, ctx.int32([*index_shape, 1])], [column])
    grids = np.indices(index_shape).astype(dtype)
    parts = [column if dim == axis else ctx.const(grids[dim][..., None]) for dim in
             range(len(shape))]
    coords = ctx.temp("coords", dtype, [*index_shape, len(shape)])
    ctx.op("CONCATENATION", parts, [coords],
           options("ConcatenationOptions", axis=len(index_shape)))
    return coords


def check_gather_nd(node: ir.Node, values) -> str | None:
    batch = attr(node, "batch_dims", 0)
    indices = values.shape(node.inputs[1])  # a dynamic count of rows (NMS's) is fine
    data = values.shape(node.inputs[0])
    if not indices or not isinstance(indices[-1], int) or data is None:
        return "GatherND needs a static index depth (last dim) and the data's rank"
    if not all(isinstance(d, int) for d in data[:batch + indices[-1]]):
        return "GatherND needs static sizes for the dims it indexes"
    if batch and static_shape(values, node.inputs[1]) is None:
        return "GatherND with batch_dims needs static index shapes"
    return None


def emit_gather_nd(ctx: EmitContext, node: ir.Node) -> None:
    """GATHER_ND, negative indices wrapped by the sizes of the dims they index; with
    batch_dims b, each index row led by its own batch coordinates (a constant grid)."""
    data, indices = node.inputs
    batch = attr(node, "batch_dims", 0)
    depth = ctx.values.shape(indices)[-1]
    sizes = np.asarray(ctx.values.shape(data)[batch:batch + depth], ctx.dtype(indices))
    array = const_or_dequantized(indices)
    if array is not None:
        index = ctx.const(np.where(array < 0, array + sizes, array).astype(array.dtype))
    else:
        index = wrapped_indices(ctx, indices, ctx.const(sizes))
    if batch:
        index = _led_by_batch(ctx, index, ctx.shape(indices), batch,
                              array.dtype if array is not None else ctx.dtype(indices))
    ctx.op("GATHER_ND", [ctx.input(data), index], [ctx.output(node.outputs[0])])


def _led_by_batch(ctx: EmitContext, index: int, shape: tuple[int, ...], batch: int,
                  dtype) -> int:
    """[..., batch + depth]: each row's first `batch` coordinates, then its index row."""
    rows = shape[:-1]
    grids = np.indices(rows)[:batch]  # grids[d][position] = the position's d-th coordinate
    lead = ctx.const(np.stack(list(grids), axis=-1).astype(dtype), "batch_coords")
    full = ctx.temp("batch_index", dtype, [*rows, batch + shape[-1]])
    ctx.op("CONCATENATION", [lead, index], [full],
           options("ConcatenationOptions", axis=len(rows)))
    return full


def entries() -> dict[str, list[Lowering]]:
    return {
        "Gather": [entry("GATHER", emit_gather, dtypes=ANY_DATA, check=check_gather)],
        "GatherND": [entry(("GATHER_ND", "CONCATENATION"), emit_gather_nd, dtypes=ANY_DATA,
                           check=check_gather_nd)],
        "GatherElements": [entry(("GATHER_ND", "CONCATENATION", "RANGE", "BROADCAST_TO"),
                                 emit_gather_elements,
                                 dtypes=ANY_DATA, check=check_gather_elements)],
    }
