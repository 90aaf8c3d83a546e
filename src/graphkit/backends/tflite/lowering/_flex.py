"""Select TF ops (Flex): an ONNX op the table marks `flex`, written as the custom op
"Flex<TF op>" that LiteRT's Flex delegate runs with TensorFlow's kernel. Only with the
emitter's `allow_flex` (convert --allow-flex); builtins only otherwise.

The custom op's options are what TensorFlow's converter writes: a FlexBuffer vector of
the TF op's name and its NodeDef (protobuf) with the op, one empty input name per input,
and the attributes the kernel reads. The NodeDef is encoded here by hand (a few protobuf
fields), so no TensorFlow is needed to write it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import EmitContext, attr
from graphkit.targets._data import load_target_data

# numpy dtype -> TensorFlow's DataType enum (types.proto)
TF_TYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3,
            np.dtype(np.uint8): 4, np.dtype(np.int16): 5, np.dtype(np.int8): 6,
            np.dtype(np.int64): 9, np.dtype(np.bool_): 10, np.dtype(np.float16): 19,
            np.dtype(np.uint16): 17, np.dtype(np.uint32): 22, np.dtype(np.uint64): 23,
            np.dtype(object): 7}  # DT_STRING

Attrs = dict[str, tuple[str, object]]  # name -> (kind: "type" | "i" | "s", value)


def _regex(ctx: EmitContext, node: ir.Node) -> Attrs:
    return {"pattern": ("s", attr(node, "pattern"))}


# ONNX op -> how its TF op's attributes are made (the TF op's name is the table's)
# (Einsum, Det and the bitwise ops were Flex until graphkit lowered them to builtins)
ATTRIBUTES: dict[str, Callable[[EmitContext, ir.Node], Attrs]] = {"RegexFullMatch": _regex}


@cache
def flex_names() -> dict[str, str]:
    """ONNX op -> the TF op its Flex form runs, for the table's `flex` rows graphkit writes."""

    found = {}
    for entry in load_target_data("tflite").ops:
        if entry.status == "flex" and entry.op in ATTRIBUTES and len(entry.flex) == 1:
            found[entry.op] = entry.flex[0]
    return found


def flex_reason(node: ir.Node, values) -> str | None:
    """None when `node` can be written as a Flex op; else why not."""
    if node.domain not in {"", "ai.onnx"} or node.op_type not in flex_names():
        return f"graphkit writes no Select TF ops (Flex) form of {node.op_type}"
    for value in node.inputs:
        dtype = values.dtype(value) if value is not None else None
        if value is None or dtype is None or np.dtype(dtype.numpy()) not in TF_TYPES:
            return f"{node.op_type}: Flex needs every input's type"
    return None


def emit_flex(ctx: EmitContext, node: ir.Node) -> str:
    """Write the node as Flex<TF op>; the TF op's name."""
    op = flex_names()[node.op_type]
    inputs = [ctx.input(value) for value in node.inputs]
    outputs = [ctx.output(value) for value in node.outputs]
    options = custom_options(op, len(inputs), ATTRIBUTES[node.op_type](ctx, node))
    ctx.builder.custom_operator(f"Flex{op}", inputs, outputs, options)
    return op


def custom_options(op: str, inputs: int, attrs: Attrs) -> bytes:
    """The FlexBuffer vector [op, NodeDef bytes] the Flex delegate reads."""
    from flatbuffers import flexbuffers

    builder = flexbuffers.Builder()
    with builder.Vector():
        builder.String(op)
        # NodeDef bytes in a FlexBuffer *string*, as TensorFlow's converter writes them
        builder._WriteBlob(node_def(op, inputs, attrs), append_zero=True,
                           type_=flexbuffers.Type.STRING)
    return bytes(builder.Finish())


def node_def(op: str, inputs: int, attrs: Attrs) -> bytes:
    """tensorflow.NodeDef: op (2), input (3, repeated), attr (5, map of AttrValue)."""
    out = _bytes_field(2, op.encode())
    out += b"".join(_bytes_field(3, b"") for _ in range(inputs))
    for name, (kind, value) in attrs.items():
        entry = _bytes_field(1, name.encode()) + _bytes_field(2, _attr_value(kind, value))
        out += _bytes_field(5, entry)
    return out


def _attr_value(kind: str, value) -> bytes:
    """tensorflow.AttrValue: s (2, bytes), i (3, int64), type (6, enum)."""
    if kind == "s":
        return _bytes_field(2, str(value).encode())
    return _varint((3 if kind == "i" else 6) << 3) + _varint(int(value))


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64: negative numbers as ten bytes of two's complement
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)
