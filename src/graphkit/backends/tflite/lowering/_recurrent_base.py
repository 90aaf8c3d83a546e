"""What both forms of ONNX's recurrent ops read from a node: its directions, one
direction's weights (constants for the builtin; constants or tensors unrolled), and
whether an initial state is zeros."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext, attr, const_or_dequantized


def directions(node: ir.Node) -> list[str]:
    direction = attr(node, "direction", "forward")
    return ["forward", "reverse"] if direction == "bidirectional" else [direction]


def is_zeros(value: ir.Value | None) -> bool:
    """Absent, a constant of zeros, or what exporters build one with: Expand or Tile of
    zeros, ConstantOfShape of 0."""
    if value is None:
        return True
    array = const_or_dequantized(value)
    if array is not None:
        return not np.any(array)
    producer = value.producer()
    if producer is None or producer.domain not in {"", "ai.onnx"}:
        return False
    if producer.op_type in {"Expand", "Tile", "Slice", "Reshape", "Squeeze", "Unsqueeze",
                            "Transpose"}:  # they move or repeat elements, never make one
        return is_zeros(producer.inputs[0])
    if producer.op_type == "ConstantOfShape":
        filled = attr(producer, "value", None)
        return filled is None or not np.any(filled.numpy())
    return False


def optional_input(node: ir.Node, index: int) -> ir.Value | None:
    return node.inputs[index] if index < len(node.inputs) else None


@dataclass
class Weights:
    """One direction's weights: W [gates*H, input], R [gates*H, H], the two biases."""
    w: np.ndarray
    r: np.ndarray
    wb: np.ndarray
    rb: np.ndarray
    peephole: np.ndarray | None = None  # LSTM's P: i, o, f


def weights(node: ir.Node, index: int) -> Weights:
    w = const_or_dequantized(node.inputs[1])[index].astype(np.float32)
    r = const_or_dequantized(node.inputs[2])[index].astype(np.float32)
    rows = w.shape[0]
    bias = optional_input(node, 3)
    b = const_or_dequantized(bias)[index].astype(np.float32) if bias is not None \
        else np.zeros(2 * rows, np.float32)
    peephole = optional_input(node, 7)
    p = const_or_dequantized(peephole)[index].astype(np.float32) if peephole is not None else None
    return Weights(w, r, b[:rows], b[rows:], p)


Part = np.ndarray | int  # a constant's data, or a tensor written already


class DirectionWeights:
    """One direction's rows of W, R, B and P for the unrolled form: numpy where the input
    is a constant, else sliced out of the input's tensor (STRIDED_SLICE)."""

    def __init__(self, ctx: EmitContext, node: ir.Node, index: int, rows: int) -> None:
        self.ctx, self.node, self.index, self.rows = ctx, node, index, rows

    def w(self, start: int, stop: int) -> Part:
        return self._rows(1, start, stop)

    def r(self, start: int, stop: int) -> Part:
        return self._rows(2, start, stop)

    def bias(self, start: int, stop: int, of_w: bool = True, of_r: bool = True) -> Part | None:
        """W's bias rows, R's, or their sum (None: no B)."""
        parts = ([self._rows(3, start, stop)] if of_w else []) + \
            ([self._rows(3, self.rows + start, self.rows + stop)] if of_r else [])
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        if len(parts) == 1 or all(isinstance(p, np.ndarray) for p in parts):
            return sum(parts[1:], parts[0])
        out = self.ctx.temp("bias", np.float32, [stop - start])
        self.ctx.op("ADD", [self.tensor(p) for p in parts], [out], options("AddOptions"))
        return out

    def peephole(self, gate: int, hidden: int) -> Part | None:
        """P's rows of gate `gate` (0 i, 1 o, 2 f); None without P."""
        return self._rows(7, gate * hidden, (gate + 1) * hidden)

    def tensor(self, part: Part) -> int:
        return self.ctx.const(part, "weights") if isinstance(part, np.ndarray) else part

    def _rows(self, input_index: int, start: int, stop: int) -> Part | None:
        value = optional_input(self.node, input_index)
        if value is None:
            return None
        array = const_or_dequantized(value)
        if array is not None:
            return np.ascontiguousarray(array[self.index, start:stop], np.float32)
        rank = self.ctx.rank(value)
        tail = [0] * (rank - 2)
        shape = [stop - start, *(self.ctx.shape_or_none(value) or [])[2:]]
        out = self.ctx.temp("rows", np.float32, shape)
        ends = (1 << rank) - 1 & ~0b11  # every axis after the first two: to its end
        made = options("StridedSliceOptions", endMask=ends, shrinkAxisMask=1)
        self.ctx.op("STRIDED_SLICE", [self.ctx.input(value),
                                      self.ctx.int32([self.index, start, *tail]),
                                      self.ctx.int32([self.index + 1, stop, *tail]),
                                      self.ctx.int32([1] * rank)], [out], made)
        return out
