"""An .onnx file's large weights read in place: numpy views of the memory-mapped file.

Parsing copies every tensor's raw_data out of the file into protobuf's memory, and every
numpy() of a tensor loaded that way copies it once more (protobuf hands out copies of bytes
fields). On the 8,064-node benchmark transformer each copy is 150 MB and 0.05-0.06 s.

`find_weights` walks the protobuf wire format just far enough to find the raw_data of the
main graph's large initializers: ModelProto.graph, then GraphProto.initializer, then each
initializer's own fields. It returns the file without those bytes (a few MB, quick to
parse) and where each tensor's data lies; `attach_weights` then gives those initializers
numpy arrays over the file's own pages. Nothing is copied until something writes a tensor
out, and tensors are never written into (passes replace them).

The walk trusts nothing: every length is checked against the buffer. What it does not
expect leaves a tensor, or the whole file, to the ordinary parse: a repeated graph field
(protobuf would merge the two), a tensor with external data, segments, typed data beside
raw_data, a second raw_data, or an element type numpy does not hold. A file that is not
valid protobuf goes to the ordinary parser too, which says what is wrong with it.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.ir._wire import (
    LENGTH_DELIMITED,
    VARINT,
    Field,
    WireError,
    fields,
    key,
    read_varint,
    varint,
)

# Initializers smaller than this keep their data in the parsed proto: the proofs' light
# models keep float tensors up to 4 KiB inline anyway, and small ones save nothing.
MIN_MAPPED_BYTES = 4096

_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
_DATA_TYPE, _RAW_DATA = 2, 9  # TensorProto fields
# TensorProto fields that mean the data is not (only) in raw_data: segment, the typed
# *_data fields, external_data, data_location.
_NOT_RAW_ONLY = frozenset({3, 4, 5, 6, 7, 10, 11, 13, 14})
# Element types whose raw_data numpy reads as it is (little-endian, one element per item).
_PLAIN = {
    dtype.value: dtype.numpy().newbyteorder("<")
    for dtype in (ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.FLOAT16, ir.DataType.INT8,
                  ir.DataType.UINT8, ir.DataType.INT16, ir.DataType.UINT16, ir.DataType.INT32,
                  ir.DataType.UINT32, ir.DataType.INT64, ir.DataType.UINT64, ir.DataType.BOOL)
}


@dataclass(frozen=True)
class MappedWeights:
    stripped: bytes  # the file without the raw_data of the tensors in `spans`
    # initializer index in the main graph -> (offset, length) of its raw_data in the file
    spans: dict[int, tuple[int, int]]


def find_weights(data: mmap.mmap | bytes) -> MappedWeights | None:
    """Where the main graph's large initializers keep their data; None to parse as usual."""
    view = memoryview(data)
    try:
        return _find(view)
    except WireError:  # the ordinary parse takes the file, and says what is wrong with it
        return None
    finally:
        view.release()


def attach_weights(model: ir.Model, proto: onnx.ModelProto, mapped: MappedWeights,
                   data: mmap.mmap, origin: str) -> None:
    """Give the initializers `find_weights` stripped arrays over `data` (kept open by them)."""
    for index, (offset, length) in mapped.spans.items():
        tensor = proto.graph.initializer[index]
        dtype = _PLAIN[tensor.data_type]
        dims = tuple(tensor.dims)
        count = int(np.prod(dims, dtype=np.int64))
        if count * dtype.itemsize != length:
            raise InputError(
                f"{origin}: initializer {tensor.name!r} holds {length} bytes of raw data, "
                f"but {count} elements of {ir.DataType(tensor.data_type).name} take "
                f"{count * dtype.itemsize}")
        value = model.graph.initializers.get(tensor.name)
        if value is None:  # the loader keeps every initializer; nothing to attach to otherwise
            continue
        old = value.const_value
        array = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(dims)
        value.const_value = ir.Tensor(
            array, name=tensor.name, doc_string=old.doc_string if old is not None else None,
            metadata_props=dict(old.metadata_props) if old is not None else None)


def _find(view: memoryview) -> MappedWeights | None:
    graphs = [f for f in fields(view, 0, len(view)) if f.number == _MODEL_GRAPH]
    if len(graphs) != 1 or graphs[0].wire != LENGTH_DELIMITED:
        return None  # no graph, or several that protobuf would merge: parse as usual
    graph = graphs[0]
    parts: list[bytes | memoryview] = []
    spans: dict[int, tuple[int, int]] = {}
    copied_to = graph.start  # graph bytes before this are in `parts` already
    index = 0
    for entry in fields(view, graph.start, graph.end):
        if entry.number != _GRAPH_INITIALIZER:
            continue
        raw = _raw_data(view, entry) if entry.wire == LENGTH_DELIMITED else None
        if raw is not None:
            tensor = bytes(view[entry.start:raw.key]) + bytes(view[raw.end:entry.end])
            parts += [view[copied_to:entry.key], key(_GRAPH_INITIALIZER), varint(len(tensor)),
                      tensor]
            copied_to = entry.end
            spans[index] = (raw.start, raw.end - raw.start)
        index += 1
    if not spans:
        return None
    parts.append(view[copied_to:graph.end])
    body = b"".join(parts)
    stripped = b"".join([view[:graph.key], key(_MODEL_GRAPH), varint(len(body)), body,
                         view[graph.end:]])
    return MappedWeights(stripped, spans)


def _raw_data(view: memoryview, tensor: Field) -> Field | None:
    """The tensor's raw_data field, if the tensor keeps its data there only, in a plain type."""
    raw = None
    data_type = None
    for field in fields(view, tensor.start, tensor.end):
        if field.number in _NOT_RAW_ONLY:
            return None
        if field.number == _RAW_DATA:
            if raw is not None or field.wire != LENGTH_DELIMITED:
                return None
            raw = field
        elif field.number == _DATA_TYPE:
            if data_type is not None or field.wire != VARINT:
                return None
            data_type, _ = read_varint(view, field.start, field.end)
    if raw is None or data_type not in _PLAIN or raw.end - raw.start < MIN_MAPPED_BYTES:
        return None
    return raw
