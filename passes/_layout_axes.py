"""Ops that carry axes, moved across a Transpose by renumbering their axes (a helper of
convert-layout, not a pass):

    Softmax(Transpose(a, p), axis)            -> Transpose(Softmax(a, axis = p[axis]), p)
    ReduceX(Transpose(a, p), axes, keepdims)  -> ReduceX(a, axes = p[axes]), then only the
                                                  Transpose the kept axes need (none when
                                                  an NHWC image is reduced over H and W)
    Pad(Transpose(a, p), pads)                -> Transpose(Pad(a, pads in a's order), p)
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.passes._graph_edit import add_constant
from graphkit.rewrite import const_array

SOFTMAX = frozenset({"Softmax", "LogSoftmax"})
REDUCTIONS = frozenset({"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum"})
AXIS_OPS = SOFTMAX | REDUCTIONS | {"Pad"}


def renumber(graph: ir.Graph, node: ir.Node, perm: tuple[int, ...],
             opset: int) -> tuple[int, ...] | None | bool:
    """Point the node at the Transpose's input with its axes renumbered. Returns the perm
    of the Transpose its output needs after it (None: none), or False where it cannot
    move (the node is then unchanged)."""
    if node.op_type in SOFTMAX:
        return _softmax(node, perm, opset)
    if node.op_type in REDUCTIONS:
        return _reduction(graph, node, perm)
    return _pad(graph, node, perm)


def _softmax(node: ir.Node, perm, opset: int):
    if opset < 13:
        return False  # before 13 the axis splits the input into 2-D: not a single axis
    axis = node.attributes["axis"].as_int() if "axis" in node.attributes else -1
    node.attributes["axis"] = ir.AttrInt64("axis", perm[axis % len(perm)])
    return perm


def _reduction(graph: ir.Graph, node: ir.Node, perm):
    rank = len(perm)
    if "axes" in node.attributes:
        axes = list(node.attributes["axes"].as_ints())
    elif len(node.inputs) > 1 and const_array(node.inputs[1]) is not None:
        axes = const_array(node.inputs[1]).astype(int).tolist()
    else:
        return False  # every axis, or axes computed at run time
    reduced = sorted({a % rank for a in axes})
    moved = sorted(perm[a] for a in reduced)
    if "axes" in node.attributes:
        node.attributes["axes"] = ir.AttrInt64s("axes", moved)
    else:
        node.replace_input_with(1, add_constant(graph, np.asarray(moved, np.int64), "axes"))
    keep = node.attributes["keepdims"].as_int() if "keepdims" in node.attributes else 1
    if keep:
        return perm
    kept = [axis for axis in range(rank) if axis not in reduced]
    order = sorted(perm[axis] for axis in kept)
    after = tuple(order.index(perm[axis]) for axis in kept)
    return None if after == tuple(range(len(after))) else after


def _pad(graph: ir.Graph, node: ir.Node, perm):
    pads = const_array(node.inputs[1]) if len(node.inputs) > 1 else None
    if pads is None or "pads" in node.attributes or len(node.inputs) > 3 \
            and node.inputs[3] is not None or pads.size != 2 * len(perm):
        return False  # pads as an attribute (opset < 11), computed, or on chosen axes
    rank = len(perm)
    moved = np.zeros_like(pads)
    for axis in range(rank):
        moved[perm[axis]], moved[rank + perm[axis]] = pads[axis], pads[rank + axis]
    node.replace_input_with(1, add_constant(graph, moved.astype(np.int64), "pads"))
    return perm
