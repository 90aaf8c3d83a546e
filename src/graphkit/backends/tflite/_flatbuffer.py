"""Build a .tflite flatbuffer with the schema's object API (ModelT, SubGraphT, ...).

No TensorFlow: the schema's generated Python classes ship inside ai-edge-litert, and the
`flatbuffers` package packs them. The main subgraph (0), then one per control-flow body
(IF branches, WHILE condition and body); one signature ("serving_default") on the main
one, keeping the ONNX input and output names.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from graphkit.errors import MissingDependencyError

SIGNATURE_KEY = "serving_default"
FILE_IDENTIFIER = b"TFL3"
# Builtin codes up to this one also go in the deprecated int8 field; later ones put this
# placeholder there (the schema's rule for codes that no longer fit in a byte).
PLACEHOLDER_FOR_GREATER_OP_CODES = 127
# Builtins whose version 1 kernel LiteRT no longer registers: the lowest one it runs.
MIN_VERSIONS = {"BROADCAST_TO": 2}
# The flatbuffer's offsets are 32-bit: it holds at most this. Weights over INLINE_WEIGHT_BYTES
# go after it instead, each constant buffer naming its bytes by `offset` and `size` from the
# start of the file (the schema's form for models over 2 GB), leaving room for the rest.
MAX_FLATBUFFER_BYTES = 2**31 - 1
INLINE_WEIGHT_BYTES = MAX_FLATBUFFER_BYTES - 2**27
# Operators one .tflite may get, all subgraphs together. Unrolling (Scan, recurrences, attention
# over a sequence) copies a body per step; a model that asks for more than this is refused
# before it takes minutes and gigabytes to write. The largest models here have a few hundred.
MAX_OPERATORS = 200_000
BUFFER_ALIGNMENT = 16

# numpy dtype -> the schema's TensorType (values fixed by the schema; written out so that
# the lowering table, which diagnose reads, imports without ai-edge-litert).
TENSOR_TYPES: dict[np.dtype, int] = {
    np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2,
    np.dtype(np.uint8): 3, np.dtype(np.int64): 4, np.dtype(np.bool_): 6,
    np.dtype(np.int16): 7, np.dtype(np.int8): 9, np.dtype(np.float64): 10,
    np.dtype(np.uint64): 12, np.dtype(np.uint32): 15, np.dtype(np.uint16): 16,
    np.dtype(object): 5,  # STRING: ONNX's string tensors, as Flex ops' inputs and outputs
}
INT32_MAX = 2**31 - 1  # a dim TFLite's schema holds
PADDING = {"SAME": 0, "VALID": 1}


@functools.cache
def schema() -> ModuleType:
    """The TFLite schema's generated Python classes, as ai-edge-litert ships them."""
    try:
        from ai_edge_litert import schema_py_generated
    except ModuleNotFoundError:
        raise MissingDependencyError("ai_edge_litert", "tensorflow",
                                     "the TFLite emitter") from None
    return schema_py_generated


class ModelBuilder:
    """Tensors, constant buffers and operators, packed by `finish`. `tensors` and
    `operators` are those of the subgraph being written: the main one, or the body between
    `begin_subgraph` and `end_subgraph` (which may nest)."""

    def __init__(self) -> None:
        self.tensors: list[Any] = []
        self.buffers: list[Any] = [schema().BufferT()]  # buffer 0: the empty one, by convention
        self.operators: list[Any] = []
        self.op_codes: list[Any] = []
        self._code_index: dict[int, int] = {}
        self._custom_index: dict[str, int] = {}
        self._names: set[str] = set()
        self.counts: dict[str, int] = {}
        self.written = 0  # operators written, every subgraph's
        self.bodies: list[Any] = []  # finished control-flow subgraphs: index 1, 2, ...
        self._outer: list[tuple[list[Any], list[Any], set[str]]] = []

    def tensor(self, name: str, dtype: np.dtype, shape: list[int] | None,
               data: np.ndarray | None = None, signature: list[int] | None = None) -> int:
        """A new tensor; `data` makes it a constant. `shape` None: the rank is unknown
        (the kernels compute it when the model is prepared)."""
        tensor = schema().TensorT()
        tensor.name = self._unique(name)
        tensor.type = tensor_type(dtype)
        tensor.shape = [int(d) for d in shape] if shape is not None else []
        if any(d > INT32_MAX for d in tensor.shape):  # the schema's dims are int32
            raise ValueError(f"tensor '{name}' has a dim over {INT32_MAX}, past TFLite's "
                             f"int32 dims: {tensor.shape}")
        tensor.hasRank = shape is not None
        if signature is not None and signature != tensor.shape:
            tensor.shapeSignature = signature
        if data is not None:
            buffer = schema().BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(buffer)
            tensor.buffer = len(self.buffers) - 1
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def constant(self, name: str, array: np.ndarray) -> int:
        array = np.asarray(array)
        return self.tensor(name, array.dtype, list(array.shape), data=array)

    def operator(self, builtin: str, inputs: list[int], outputs: list[int],
                 options: Any = None) -> None:
        code = getattr(schema().BuiltinOperator, builtin)
        op = schema().OperatorT()
        op.opcodeIndex = self._opcode(code, MIN_VERSIONS.get(builtin, 1))
        op.inputs = inputs
        op.outputs = outputs
        if options is not None:
            union = type(options).__name__.removesuffix("T")
            op.builtinOptionsType = getattr(schema().BuiltinOptions, union)
            op.builtinOptions = options
        self._append(op)
        self.counts[builtin] = self.counts.get(builtin, 0) + 1

    def custom_operator(self, name: str, inputs: list[int], outputs: list[int],
                        custom_options: bytes) -> None:
        """A custom op (a Flex op: "Flex<TF op>"), its options a FlexBuffer."""
        if name not in self._custom_index:
            entry = schema().OperatorCodeT()
            entry.builtinCode = entry.deprecatedBuiltinCode = schema().BuiltinOperator.CUSTOM
            entry.customCode, entry.version = name, 1
            self.op_codes.append(entry)
            self._custom_index[name] = len(self.op_codes) - 1
        op = schema().OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = self._custom_index[name], inputs, outputs
        op.customOptions = np.frombuffer(custom_options, np.uint8)
        op.customOptionsFormat = schema().CustomOptionsFormat.FLEXBUFFERS
        self._append(op)
        self.counts[name] = self.counts.get(name, 0) + 1

    def _append(self, op: Any) -> None:
        self.written += 1
        if self.written > MAX_OPERATORS:
            raise ValueError(f"it would take over {MAX_OPERATORS:,} TFLite operators (an "
                             "unrolled loop or sequence is too long)")
        self.operators.append(op)

    def begin_subgraph(self) -> None:
        """Start a body: the tensors and operators written next are its own."""
        self._outer.append((self.tensors, self.operators, self._names))
        self.tensors, self.operators, self._names = [], [], set()

    def end_subgraph(self, name: str, inputs: list[int], outputs: list[int]) -> int:
        """Close the body begun last; its subgraph index (for IF and WHILE options)."""
        body = schema().SubGraphT()
        body.tensors, body.operators = self.tensors, self.operators
        body.inputs, body.outputs, body.name = inputs, outputs, name
        self.bodies.append(body)
        self.tensors, self.operators, self._names = self._outer.pop()
        return len(self.bodies)

    def finish(self, inputs: list[tuple[str, int]], outputs: list[tuple[str, int]],
               description: str, metadata: dict[str, bytes] | None = None,
               external: bool | None = None) -> bytes:
        """The packed model; `inputs`/`outputs`: (signature name, tensor index). `external`:
        the weights after the flatbuffer (None: when they are over INLINE_WEIGHT_BYTES)."""
        subgraph = schema().SubGraphT()
        subgraph.tensors = self.tensors
        subgraph.operators = self.operators
        subgraph.inputs = [index for _, index in inputs]
        subgraph.outputs = [index for _, index in outputs]
        subgraph.name = "main"
        model = schema().ModelT()
        model.version = 3
        model.description = description
        model.operatorCodes = self.op_codes
        model.subgraphs = [subgraph, *self.bodies]
        model.buffers = self.buffers
        model.signatureDefs = [_signature(inputs, outputs)]
        weights = sorted({t.buffer for graph in model.subgraphs for t in graph.tensors
                          if t.buffer})
        model.metadata = [self._metadata(name, data) for name, data in (metadata or {}).items()]
        if external is None:
            external = self.weight_bytes() > INLINE_WEIGHT_BYTES
        if external:
            return _with_external_buffers(model, [self.buffers[i] for i in weights])
        return _packed(model)

    def _metadata(self, name: str, data: bytes) -> Any:
        buffer = schema().BufferT()
        buffer.data = np.frombuffer(data, np.uint8)
        self.buffers.append(buffer)
        entry = schema().MetadataT()
        entry.name = name
        entry.buffer = len(self.buffers) - 1
        return entry

    def weight_bytes(self) -> int:
        return sum(len(b.data) for b in self.buffers if b.data is not None)

    def _opcode(self, code: int, version: int) -> int:
        if code not in self._code_index:
            entry = schema().OperatorCodeT()
            entry.builtinCode = code
            entry.deprecatedBuiltinCode = min(code, PLACEHOLDER_FOR_GREATER_OP_CODES)
            entry.version = version
            self.op_codes.append(entry)
            self._code_index[code] = len(self.op_codes) - 1
        return self._code_index[code]

    def _unique(self, name: str) -> str:
        candidate, suffix = name, 1
        while candidate in self._names:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        self._names.add(candidate)
        return candidate


def _packed(model: Any) -> bytes:
    import flatbuffers  # a dependency of ai-edge-litert

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    if builder.Offset() > MAX_FLATBUFFER_BYTES:
        raise ValueError(f"the flatbuffer is {builder.Offset():,} bytes, over the "
                         f"{MAX_FLATBUFFER_BYTES:,} its 32-bit offsets reach")
    return bytes(builder.Output())


def _with_external_buffers(model: Any, buffers: list[Any]) -> bytes:
    """The flatbuffer, then each buffer's bytes (aligned), which the buffer names by offset
    and size. Packed twice: the offsets depend on the flatbuffer's length, and since every
    offset is non-zero in both packings (a zero field is left out), the length stays."""
    blobs = [bytes(buffer.data) for buffer in buffers]
    for buffer, blob in zip(buffers, blobs, strict=True):
        buffer.data, buffer.offset, buffer.size = None, 1, len(blob)
    position = _aligned(len(_packed(model)))
    for buffer, blob in zip(buffers, blobs, strict=True):
        buffer.offset = position
        position = _aligned(position + len(blob))
    head = _packed(model)
    out = bytearray(head)
    for buffer, blob in zip(buffers, blobs, strict=True):
        out += bytes(buffer.offset - len(out))
        out += blob
    return bytes(out)


def _aligned(size: int) -> int:
    return -(-size // BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT


def tensor_type(dtype: np.dtype) -> int:
    dtype = np.dtype(dtype)
    if dtype not in TENSOR_TYPES:
        raise ValueError(f"TFLite has no tensor type for {dtype}")
    return TENSOR_TYPES[dtype]


def _signature(inputs: list[tuple[str, int]], outputs: list[tuple[str, int]]) -> Any:
    signature = schema().SignatureDefT()
    signature.signatureKey = SIGNATURE_KEY
    signature.subgraphIndex = 0
    signature.inputs = [_tensor_map(name, index) for name, index in inputs]
    signature.outputs = [_tensor_map(name, index) for name, index in outputs]
    return signature


def _tensor_map(name: str, index: int) -> Any:
    entry = schema().TensorMapT()
    entry.name = name
    entry.tensorIndex = index
    return entry


def options(kind: str, **fields: Any) -> Any:
    """`options("Conv2DOptions", strideW=1, ...)`: an options object with those fields."""
    made = getattr(schema(), f"{kind}T")()
    for key, value in fields.items():
        if not hasattr(made, key):
            raise AttributeError(f"{kind} has no field {key}")
        setattr(made, key, value)
    return made

