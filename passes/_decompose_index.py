"""Index ops as simpler ones: GatherElements -> GatherND, ScatterND -> one-hot MatMul,
Mod -> Div/Floor.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.passes._decompose_activation import attr
from graphkit.rewrite import Builder, Decline, static_shape

FLOATS = frozenset({ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.FLOAT16})
MAX_ONE_HOT = 1 << 24  # elements of the [updates, positions] one-hot matrix ScatterND builds


def gather_elements(node: ir.Node, op: Builder) -> ir.Value:
    """GatherElements(x, idx, axis) -> GatherND(x, stack(grid_0, .., idx, .., grid_r))"""
    data, indices = node.inputs
    shape, data_shape = static_shape(indices), static_shape(data)
    if shape is None or data_shape is None:
        raise Decline("needs static shapes for data and indices")
    axis = attr(node, "axis", 0) % len(shape)
    index = op.Cast(indices, to=ir.DataType.INT64)
    # Negative indices count from the end of the axis.
    size = op.const(np.array(data_shape[axis], np.int64))
    index = op.Where(op.Less(index, op.const(np.array(0, np.int64))), op.Add(index, size), index)
    columns = []
    for dim in range(len(shape)):
        if dim == axis:
            columns.append(op.Reshape(index, op.const(np.array([*shape, 1], np.int64))))
            continue
        grid = np.indices(shape)[dim].astype(np.int64)[..., None]
        columns.append(op.const(grid))
    return op.GatherND(data, op.Concat(*columns, axis=-1))


def scatter_nd(node: ir.Node, op: Builder) -> ir.Value:
    """ScatterND(x, idx, u) -> x * (1 - mask) + H^T u, H = one_hot(flat(idx))
    (reduction none/add)
    """
    data, indices, updates = node.inputs
    reduction = attr(node, "reduction", "none")
    data_shape, index_shape = static_shape(data), static_shape(indices)
    if reduction not in ("none", "add"):
        raise Decline(f"reduction '{reduction}' has no one-hot form")
    if data.dtype not in FLOATS:
        raise Decline("the one-hot form needs floating-point data")
    if data_shape is None or index_shape is None:
        raise Decline("needs static shapes for data and indices")
    depth = index_shape[-1]
    positions = int(np.prod(data_shape[:depth]))
    rows = int(np.prod(index_shape[:-1]))
    if positions * rows > MAX_ONE_HOT:
        raise Decline(f"the one-hot matrix would hold {positions * rows} elements")
    slice_size = int(np.prod(data_shape[depth:]))
    strides = np.array([int(np.prod(data_shape[d + 1:depth])) for d in range(depth)], np.int64)
    index = op.Reshape(op.Cast(indices, to=ir.DataType.INT64),
                       op.const(np.array([rows, depth], np.int64)))
    dims = op.const(np.array(data_shape[:depth], np.int64))
    index = op.Where(op.Less(index, op.const(np.array(0, np.int64))), op.Add(index, dims), index)
    flat = op.reduce("ReduceSum", op.Mul(index, op.const(strides[None])), [1])  # [rows, 1]
    one_hot = op.Cast(op.Equal(flat, op.const(np.arange(positions, dtype=np.int64)[None])),
                      to=data.dtype)  # [rows, positions]
    flat_updates = op.Reshape(updates, op.const(np.array([rows, slice_size], np.int64)))
    scattered = op.MatMul(op.Transpose(one_hot, perm=[1, 0]), flat_updates)  # [positions, slice]
    flat_data = op.Reshape(data, op.const(np.array([positions, slice_size], np.int64)))
    if reduction == "none":
        mask = op.reduce("ReduceMax", one_hot, [0], keepdims=0)
        keep = op.Sub(op.const(np.array(1, data.dtype.numpy())), op.Reshape(
            mask, op.const(np.array([positions, 1], np.int64))))
        flat_data = op.Mul(flat_data, keep)
    return op.Reshape(op.Add(flat_data, scattered), op.const(np.array(data_shape, np.int64)))


def mod(node: ir.Node, op: Builder) -> ir.Value:
    """Mod(a, b) -> a - b * floor(a / b) (sign of b); fmod=1: a - b * trunc(a / b) (sign of a)"""
    a, b = node.inputs
    if a.dtype in FLOATS:  # floats allow only fmod=1: the remainder takes a's sign
        quotient = op.Div(a, b)
        return op.Sub(a, op.Mul(b, op.Mul(op.Sign(quotient), op.Floor(op.Abs(quotient)))))
    # Integer Div truncates toward zero, which gives fmod; shift by b where the signs differ.
    rem = op.Sub(a, op.Mul(b, op.Div(a, b)))
    if attr(node, "fmod", 0):
        return rem
    zero = op.const(np.array(0, a.dtype.numpy()))
    signs_differ = op.Xor(op.Less(rem, zero), op.Less(b, zero))
    needs_shift = op.And(signs_differ, op.Not(op.Equal(rem, zero)))
    return op.Where(needs_shift, op.Add(rem, b), rem)
