"""Data the flatbuffer can hold as it is: initializers, Constant nodes and DequantizeLinear
of constants (what a lowering may read when converting without computing anything)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx_ir as ir


def attr(node: ir.Node, name: str, default: Any = None) -> Any:
    attribute = node.attributes.get(name)
    return default if attribute is None else attribute.value


def const_or_dequantized(value: ir.Value | None) -> np.ndarray | None:
    """The data the flatbuffer can hold for the value: an initializer (one that is also a graph
    input too: the emitter bakes initializers), a Constant node's output, or a DequantizeLinear
    of constants, dequantized. rewrite.const_array is the passes' stricter question."""
    if value is None:
        return None
    if value.const_value is not None:
        return value.const_value.numpy()
    producer = value.producer()
    if producer is None or producer.domain not in {"", "ai.onnx"}:
        return None
    if producer.op_type == "Constant":
        return constant_node_value(producer)
    if producer.op_type == "DequantizeLinear":
        return dequantized(producer)
    return None


def dequantized(node: ir.Node) -> np.ndarray | None:
    """A DequantizeLinear of constants, computed as ONNX defines it: float32
    (x - zero_point) * scale, per tensor or per `axis`. None: not all constant, or blocked."""
    if attr(node, "block_size", 0):
        return None
    arrays = [const_or_dequantized(v) if v is not None else None for v in node.inputs]
    if arrays[0] is None or arrays[1] is None or len(arrays) > 2 and node.inputs[2] is not None \
            and arrays[2] is None:
        return None
    data, scale = arrays[0], arrays[1].astype(np.float32)
    zero = arrays[2] if len(arrays) > 2 and arrays[2] is not None else np.zeros_like(scale)
    if scale.ndim == 1 and data.ndim > 0:
        shape = [1] * data.ndim
        shape[attr(node, "axis", 1) % data.ndim] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    centered = data.astype(np.float32) - zero.astype(np.float32)
    return (centered * scale).astype(np.float32)


CONSTANT_SCALARS = {"value_float": np.float32, "value_floats": np.float32,
                    "value_int": np.int64, "value_ints": np.int64}


def constant_node_value(node: ir.Node) -> np.ndarray | None:
    for name, attribute in node.attributes.items():
        if name == "value":
            return attribute.value.numpy()
        if name in CONSTANT_SCALARS:
            return np.asarray(attribute.value, dtype=CONSTANT_SCALARS[name])
    return None  # sparse_value, value_string(s): not lowered


