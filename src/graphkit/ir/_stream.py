"""model -> .onnx bytes on disk, with the main graph's initializers streamed one at a time.

`ir.to_proto(model).SerializeToString()` copies every weight twice (into the new proto, then
into one large bytes object) and faults in fresh memory for both; on the 8,064-node benchmark
that is most of the save time. Here onnx-ir serializes the graph's structure with each
initializer stood in for by a metadata-only placeholder, and the weights are written after it,
each straight from the TensorProto it was loaded from where there is one, or from the
array's own memory (its TensorProto fields, then the raw_data field by hand: no copy).

The result is the same ModelProto; only the order of fields in the file differs (protobuf
allows any order): the main graph's initializers come after its other fields. Its single
`graph` field is length-prefixed, so every protobuf reader sees one ordinary GraphProto.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
from onnx_ir.serde import TensorProtoTensor

from graphkit.errors import InputError
from graphkit.ir._wire import field_size, key, varint

PROTOBUF_LIMIT = (1 << 31) - 1
_GRAPH_FIELD = onnx.ModelProto.DESCRIPTOR.fields_by_name["graph"].number
_INITIALIZER_FIELD = onnx.GraphProto.DESCRIPTOR.fields_by_name["initializer"].number
# onnx-ir validates 6-bit float payloads when it serializes them; let it.
_VALIDATED_DTYPES = frozenset({ir.DataType.FLOAT6E2M3, ir.DataType.FLOAT6E3M2})
_RAW_DATA_FIELD = onnx.TensorProto.DESCRIPTOR.fields_by_name["raw_data"].number


def write_model(model: ir.Model, path: Path, origin: str | os.PathLike) -> None:
    """Write `model` as one protobuf file; its tensors must not be external."""
    values, tensors = _initialized(model.graph)
    for value, tensor in zip(values, tensors, strict=True):
        value.const_value = _placeholder(value.name or "", tensor)
    try:
        proto = ir.to_proto(model)
    finally:
        for value, tensor in zip(values, tensors, strict=True):
            value.const_value = tensor
    del proto.graph.initializer[:]  # the placeholders; the real tensors follow below
    names = [value.name or "" for value in values]
    initializers = [_tensor_parts(name, t) for name, t in zip(names, tensors, strict=True)]
    graph_bytes = proto.graph.SerializeToString()
    proto.ClearField("graph")
    head = proto.SerializeToString()
    sizes = [len(fields) + (field_size(_RAW_DATA_FIELD, raw.nbytes) if raw is not None else 0)
             for fields, raw in initializers]
    graph_size = len(graph_bytes) + sum(field_size(_INITIALIZER_FIELD, size) for size in sizes)
    if len(head) + field_size(_GRAPH_FIELD, graph_size) > PROTOBUF_LIMIT:
        raise InputError(
            f"{origin}: the model is over protobuf's 2 GiB limit for one file; "
            "save it with external_data=True"
        )
    with open(path, "wb") as file:
        file.write(head)
        file.write(key(_GRAPH_FIELD) + varint(graph_size))
        file.write(graph_bytes)
        for (fields, raw), size in zip(initializers, sizes, strict=True):
            file.write(key(_INITIALIZER_FIELD) + varint(size))
            file.write(fields)
            if raw is not None:
                file.write(key(_RAW_DATA_FIELD) + varint(raw.nbytes))
                file.write(raw)


def _initialized(graph: ir.Graph) -> tuple[list[ir.Value], list[ir.TensorProtocol]]:
    values, tensors = [], []
    for value in graph.initializers.values():
        if value.const_value is not None:
            values.append(value)
            tensors.append(value.const_value)
    return values, tensors


def _placeholder(name: str, tensor: ir.TensorProtocol) -> ir.ExternalTensor:
    """Carries name, dtype and shape for onnx-ir's serializer without reading any data."""
    shape = ir.Shape(list(tensor.shape.numpy()))
    return ir.ExternalTensor("graphkit-placeholder", 0, 0, tensor.dtype, shape=shape, name=name)


def _tensor_parts(name: str, tensor: ir.TensorProtocol) -> tuple[bytes, memoryview | None]:
    """The serialized TensorProto of `tensor`: its fields, and where onnx-ir would copy the
    array into raw_data, the array's memory to write after them (None: the fields hold all)."""
    raw = _raw_memory(tensor)
    if raw is None:
        return _tensor_proto(name, tensor).SerializeToString(), None
    tensor.name = name
    fields = onnx.TensorProto(name=name, data_type=tensor.dtype.value,
                              dims=list(tensor.shape.numpy()))
    if tensor.doc_string:
        fields.doc_string = tensor.doc_string
    for prop, value in tensor.metadata_props.items():
        fields.metadata_props.add(key=prop, value=value)
    return fields.SerializeToString(), raw


def _raw_memory(tensor: ir.TensorProtocol) -> memoryview | None:
    """The bytes tensor.tobytes() would give, as a view of the array, where they are the
    same: a plain ir.Tensor of whole-byte elements, C-ordered, little-endian."""
    if type(tensor) is not ir.Tensor or tensor.dtype == ir.DataType.STRING or \
            tensor.dtype in _VALIDATED_DTYPES or tensor.dtype.bitwidth % 8:
        return None
    array = tensor.numpy()
    if not array.flags.c_contiguous or array.dtype.byteorder == ">" or not array.nbytes or \
            array.nbytes != tensor.nbytes or not np.little_endian:
        return None
    return memoryview(array.reshape(-1).view(np.uint8))


def _tensor_proto(name: str, tensor: ir.TensorProtocol) -> onnx.TensorProto:
    tensor.name = name  # as onnx-ir's serializer does; for a TensorProtoTensor this sets raw.name
    plain = (
        isinstance(tensor, TensorProtoTensor)
        and not tensor.metadata_props
        and tensor.dtype not in _VALIDATED_DTYPES
    )
    return tensor.raw if plain else ir.serde.serialize_tensor(tensor)
