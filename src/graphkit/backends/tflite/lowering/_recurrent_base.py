"""What both forms of ONNX's recurrent ops read from a node: its directions, one
direction's weights, and whether an initial state is zeros."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import attr, const_array


def directions(node: ir.Node) -> list[str]:
    direction = attr(node, "direction", "forward")
    return ["forward", "reverse"] if direction == "bidirectional" else [direction]


def is_zeros(value: ir.Value | None) -> bool:
    """Absent, a constant of zeros, or what exporters build one with: Expand or Tile of
    zeros, ConstantOfShape of 0."""
    if value is None:
        return True
    array = const_array(value)
    if array is not None:
        return not np.any(array)
    producer = value.producer()
    if producer is None or producer.domain not in {"", "ai.onnx"}:
        return False
    if producer.op_type in {"Expand", "Tile"}:
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
    w = const_array(node.inputs[1])[index].astype(np.float32)
    r = const_array(node.inputs[2])[index].astype(np.float32)
    rows = w.shape[0]
    bias = optional_input(node, 3)
    b = const_array(bias)[index].astype(np.float32) if bias is not None \
        else np.zeros(2 * rows, np.float32)
    peephole = optional_input(node, 7)
    p = const_array(peephole)[index].astype(np.float32) if peephole is not None else None
    return Weights(w, r, b[:rows], b[rows:], p)
