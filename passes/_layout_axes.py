"""Ops that carry axes, moved across a Transpose by renumbering their axes (a helper of
convert-layout, not a pass):

    Softmax(Transpose(a, p), axis)            -> Transpose(Softmax(a, axis = p[axis]), p)
    ReduceX(Transpose(a, p), axes, keepdims)  -> ReduceX(a, axes = p[axes]), then only the
                                                  Transpose the kept axes need (none when
                                                  an NHWC image is reduced over H and W)
    Pad(Transpose(a, p), pads)                -> Transpose(Pad(a, pads in a's order), p)
    Split(Transpose(a, p), axis)              -> Transpose(each part of Split(a, p[axis]), p)
    Slice(Transpose(a, p), starts, ends, axes) -> Transpose(Slice(a, ..., axes = p[axes]), p)
    Gather(Transpose(a, p), i, axis)          -> Gather(a, i, p[axis]), then the Transpose
                                                  its output needs (i a scalar or 1-D)
    Squeeze(Transpose(a, p), axes)            -> Squeeze(a, p[axes]), then likewise
    Reshape/Flatten(Transpose(a, p))          -> Reshape/Flatten(a) where p moves only
                                                  size-1 dims ([N,1,1,C] -> [N,C,1,1] keeps
                                                  the order of the elements)

Axes are moved only where they are constants; a node whose axes are computed at run time
keeps its Transpose before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passes._graph_edit import add_constant
from graphkit.rewrite import const_array

SOFTMAX = frozenset({"Softmax", "LogSoftmax"})
REDUCTIONS = frozenset({"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum"})
AXIS_OPS = SOFTMAX | REDUCTIONS | {"Pad", "Split", "Slice", "Gather", "Squeeze"}
# ops that read their input's elements in order: a Transpose moving only size-1 dims is
# nothing to them
ORDER_ONLY = frozenset({"Reshape", "Flatten"})


@dataclass(frozen=True)
class Move:
    """How an axis op moves across the Transpose before it: `after`, the perm of the
    Transpose its outputs then need (None: none), and `apply`, which renumbers its axes."""

    after: tuple[int, ...] | None
    apply: Callable[[], None]


def plan(graph: ir.Graph, node: ir.Node, perm: tuple[int, ...], opset: int) -> Move | None:
    """How the node would run on the Transpose's input instead (None: it cannot: axes
    computed at run time, or a form not handled). Nothing changes until `apply`."""
    if node.op_type in SOFTMAX:
        return _softmax(node, perm, opset)
    if node.op_type in REDUCTIONS:
        return _reduction(graph, node, perm)
    if node.op_type == "Split":
        return _split(node, perm)
    if node.op_type == "Slice":
        return _slice(graph, node, perm)
    if node.op_type == "Gather":
        return _gather(node, perm)
    if node.op_type == "Squeeze":
        return _squeeze(graph, node, perm)
    return _pad(graph, node, perm)


def reads_past(node: ir.Node, perm: tuple[int, ...], shape: ir.Shape | None) -> bool:
    """Whether a Reshape or Flatten gives the same result on `a` (of `shape`) as on
    Transpose(a, perm): the Transpose keeps the elements in order (the dims that are not 1
    stay in order) and the node's output shape does not read the input's dims one by one."""
    if shape is None or len(shape) != len(perm) \
            or not all(isinstance(d, int) for d in shape):
        return False
    moving = [axis for axis in perm if shape[axis] != 1]
    if moving != sorted(moving):
        return False
    if node.op_type == "Flatten":
        axis = (node.attributes["axis"].as_int() if "axis" in node.attributes else 1) \
            % (len(perm) + 1)
        transposed = [shape[a] for a in perm]
        return int(np.prod(transposed[:axis])) == int(np.prod(list(shape)[:axis]))
    target = const_array(node.inputs[1]) if len(node.inputs) > 1 else None
    allow_zero = "allowzero" in node.attributes and node.attributes["allowzero"].as_int() == 1
    # a 0 in the target copies the input's dim there (unless allowzero): not order-only
    return target is not None and (allow_zero or not np.any(target == 0))


def _set_attr(node: ir.Node, attribute: ir.Attr) -> Callable[[], None]:
    def apply() -> None:
        node.attributes[attribute.name] = attribute
    return apply


def _set_input(graph: ir.Graph, node: ir.Node, index: int, array: np.ndarray,
               name: str) -> Callable[[], None]:
    def apply() -> None:
        if len(node.inputs) <= index:
            node.resize_inputs(index + 1)
        node.replace_input_with(index, add_constant(graph, array, name))
    return apply


def _after_removing(perm, removed: list[int]):
    """The perm of the Transpose a node's output needs when the node drops the dims
    `removed` of its (transposed) input: a reduction with keepdims=0, a Squeeze, a Gather
    by a scalar."""
    kept = [axis for axis in range(len(perm)) if axis not in removed]
    order = sorted(perm[axis] for axis in kept)
    after = tuple(order.index(perm[axis]) for axis in kept)
    return None if after == tuple(range(len(after))) else after


def _constant_axes(graph: ir.Graph, node: ir.Node, index: int):
    """The node's axes from its `axes` attribute or its constant input `index`, with how to
    write renumbered ones back (None: absent or computed at run time)."""
    if "axes" in node.attributes:
        axes = list(node.attributes["axes"].as_ints())
        return axes, lambda moved: _set_attr(node, ir.AttrInt64s("axes", moved))
    if len(node.inputs) > index and node.inputs[index] is not None \
            and const_array(node.inputs[index]) is not None:
        axes = const_array(node.inputs[index]).astype(int).reshape(-1).tolist()
        return axes, lambda moved: _set_input(graph, node, index,
                                              np.asarray(moved, np.int64), "axes")
    return None, None


def _softmax(node: ir.Node, perm, opset: int):
    if opset < 13:
        return None  # before 13 the axis splits the input into 2-D: not a single axis
    axis = node.attributes["axis"].as_int() if "axis" in node.attributes else -1
    return Move(perm, _set_attr(node, ir.AttrInt64("axis", perm[axis % len(perm)])))


def _reduction(graph: ir.Graph, node: ir.Node, perm):
    axes, write = _constant_axes(graph, node, 1)
    if axes is None:
        return None  # every axis, or axes computed at run time
    reduced = sorted({a % len(perm) for a in axes})
    keep = node.attributes["keepdims"].as_int() if "keepdims" in node.attributes else 1
    after = perm if keep else _after_removing(perm, reduced)
    return Move(after, write(sorted(perm[a] for a in reduced)))


def _split(node: ir.Node, perm):
    if len(node.inputs) > 1 and node.inputs[1] is not None \
            and const_array(node.inputs[1]) is None:
        return None  # the part sizes are computed at run time
    axis = node.attributes["axis"].as_int() if "axis" in node.attributes else 0
    return Move(perm, _set_attr(node, ir.AttrInt64("axis", perm[axis % len(perm)])))


def _slice(graph: ir.Graph, node: ir.Node, perm):
    if len(node.inputs) < 3 or "starts" in node.attributes:
        return None  # opset < 10: starts/ends/axes as attributes
    starts, ends = (const_array(v) for v in node.inputs[1:3])
    given = node.inputs[3] if len(node.inputs) > 3 else None
    axes = const_array(given) if given is not None else None
    if starts is None or ends is None or given is not None and axes is None:
        return None  # computed at run time
    if axes is None:
        axes = np.arange(starts.size)
    moved = np.asarray([perm[int(a) % len(perm)] for a in axes.reshape(-1)], np.int64)
    return Move(perm, _set_input(graph, node, 3, moved, "axes"))


def _gather(node: ir.Node, perm):
    shape = node.inputs[1].shape
    if shape is None or len(shape) > 1:
        return None  # more index dims would need the Transpose widened: not moved
    axis = (node.attributes["axis"].as_int() if "axis" in node.attributes else 0) % len(perm)
    after = perm if len(shape) == 1 else _after_removing(perm, [axis])
    return Move(after, _set_attr(node, ir.AttrInt64("axis", perm[axis])))


def _squeeze(graph: ir.Graph, node: ir.Node, perm):
    axes, write = _constant_axes(graph, node, 1)
    if axes is None:
        return None  # every size-1 dim, or axes computed at run time
    removed = sorted({a % len(perm) for a in axes})
    return Move(_after_removing(perm, removed), write(sorted(perm[a] for a in removed)))


def _pad(graph: ir.Graph, node: ir.Node, perm):
    pads = const_array(node.inputs[1]) if len(node.inputs) > 1 else None
    if pads is None or "pads" in node.attributes or len(node.inputs) > 3 \
            and node.inputs[3] is not None or pads.size != 2 * len(perm):
        return None  # pads as an attribute (opset < 11), computed, or on chosen axes
    rank = len(perm)
    moved = np.zeros_like(pads)
    for axis in range(rank):
        moved[perm[axis]], moved[rank + perm[axis]] = pads[axis], pads[rank + axis]
    return Move(perm, _set_input(graph, node, 1, moved.astype(np.int64), "pads"))
