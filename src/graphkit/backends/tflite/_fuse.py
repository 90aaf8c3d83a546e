"""Fusions on the emitted operators, so that op counts match TF's converter.

Each lowering writes its node's builtins on their own; these rules then fold what TFLite
computes in one op, on the main subgraph, before it is packed:

    CONV(PAD(x), VALID)      -> CONV(x, SAME)             the PAD's zeros are SAME's
    x + 0, x * 1 (no broadcast)   -> x
    CONV(MUL(x, s))          -> CONV(x) with w * s       s per input channel
    MUL(CONV(x, w, b), s)    -> CONV(x, w * s, b * s)     s constant, per output channel
    ADD(CONV(x, w, b), c)    -> CONV(x, w, b + c)         (SUB: b - c; also FULLY_CONNECTED)
    RELU(OP(...))            -> OP(..., fused RELU)       RELU6, RELU_N1_TO_1 alike
    RESHAPE(RESHAPE(x, s1), s2) -> RESHAPE(x, s2)
    RESHAPE(MEAN(x, axes)) -> MEAN(x, axes, keep_dims)   the RESHAPE drops or keeps reduced dims
    RESHAPE(OP(...)) to the shape OP writes -> OP(...)

A rule fires only where the intermediate tensor has exactly one reader and is no graph
output, so no value a caller asks for disappears. Tensors and buffers nothing reads any
more are dropped afterwards (`compact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graphkit.backends.tflite._flatbuffer import PADDING, ModelBuilder, options, schema
from graphkit.backends.tflite.lowering._conv import same_pads

# builtin -> its options table, for the ops that carry fusedActivationFunction
ACTIVATION_CARRIERS = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "SUB": "SubOptions",
    "MUL": "MulOptions", "DIV": "DivOptions", "CONCATENATION": "ConcatenationOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
}
ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}
# builtin -> the filter's output-channel axis (CONV_2D [O,H,W,I], DEPTHWISE [1,H,W,O],
# FULLY_CONNECTED [O,I])
AFFINE_HOSTS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
FLOAT32, INT32 = 0, 2  # the schema's TensorType values


@dataclass
class Graph:
    """The main subgraph's operators and tensors, with who reads what."""

    builder: ModelBuilder
    outputs: set[int]
    names: dict[int, str]

    def builtin(self, op: Any) -> str | None:
        code = self.builder.op_codes[op.opcodeIndex].builtinCode
        return self.names.get(code)

    def readers(self) -> dict[int, list[Any]]:
        found: dict[int, list[Any]] = {}
        for op in self.builder.operators:
            for index in op.inputs:
                if index >= 0:
                    found.setdefault(int(index), []).append(op)
        return found

    def only_reader(self, readers: dict[int, list[Any]], tensor: int) -> Any | None:
        """The one op that reads `tensor`, when it is also no graph output."""
        found = readers.get(tensor, [])
        if len(found) != 1 or tensor in self.outputs:
            return None
        return found[0]

    def constant(self, tensor: int) -> np.ndarray | None:
        held = self.builder.tensors[tensor]
        data = self.builder.buffers[held.buffer].data if held.buffer else None
        if data is None or held.type != FLOAT32:
            return None
        return np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float32) \
            .reshape([int(d) for d in held.shape])


def fuse(builder: ModelBuilder, outputs: set[int]) -> None:
    """Let each op absorb the readers the rules allow, sweeping in operator order (an op
    absorbs its reader, then that reader's reader: CONV, MUL, ADD, RELU6) until a sweep
    changes nothing (a rule may enable one for an earlier op: RESHAPE pairs after MEAN)."""
    names = {code: name for name, code in vars(schema().BuiltinOperator).items()
             if not name.startswith("_")}
    _drop_unread(builder, outputs)
    graph = Graph(builder, outputs, names)
    while _sweep(graph):
        pass
    builder.counts = {}
    for op in builder.operators:
        name = graph.builtin(op) or builder.op_codes[op.opcodeIndex].customCode
        builder.counts[name] = builder.counts.get(name, 0) + 1


def _drop_unread(builder: ModelBuilder, outputs: set[int]) -> None:
    """Drop the ops none of whose outputs is read, a graph output or a variable (state)
    tensor: an exporter's leftovers, such as the zero initial states of an LSTM that the
    builtin fills for itself (LiteRT would run them on every call)."""
    live = set(outputs)
    kept = []
    for op in reversed(builder.operators):
        written = [int(i) for i in op.outputs if i >= 0]
        if not written or any(t in live or builder.tensors[t].isVariable for t in written):
            kept.append(op)
            live.update(int(i) for i in op.inputs if i >= 0)
    builder.operators = kept[::-1]


def _sweep(graph: Graph) -> bool:
    readers = graph.readers()
    absorbed: set[int] = set()
    for op in graph.builder.operators:
        while id(op) not in absorbed and len(op.outputs) == 1:
            before = int(op.outputs[0])
            reader = graph.only_reader(readers, before)
            if reader is None or not any(rule(graph, op, reader) for rule in RULES):
                break
            absorbed.add(id(reader))
            del readers[before]
    graph.builder.operators = [op for op in graph.builder.operators if id(op) not in absorbed]
    return bool(absorbed)


def _activation(op: Any) -> int:
    made = op.builtinOptions
    return getattr(made, "fusedActivationFunction", 0) if made is not None else 0


def fold_affine(graph: Graph, host: Any, reader: Any) -> bool:
    """MUL/ADD/SUB of a per-channel constant into the host's filter and bias."""
    kind, reading = graph.builtin(host), graph.builtin(reader)
    if kind not in AFFINE_HOSTS or reading not in {"MUL", "ADD", "SUB"} \
            or _activation(host) or _activation(reader) or len(host.inputs) < 3:
        return False
    out = int(host.outputs[0])
    other = [int(i) for i in reader.inputs if int(i) != out]
    if len(other) != 1 or reading == "SUB" and int(reader.inputs[0]) != out:
        return False
    channels = graph.builder.tensors[out].shape[-1]
    factor = _per_channel(graph.constant(other[0]), int(channels),
                          len(graph.builder.tensors[out].shape))
    weights = graph.constant(int(host.inputs[1]))
    bias = graph.constant(int(host.inputs[2])) if host.inputs[2] >= 0 \
        else np.zeros(channels, np.float32)
    if factor is None or weights is None or bias is None:
        return False
    host.inputs = [int(i) for i in host.inputs]
    if reading == "MUL":
        shape = [1] * weights.ndim
        shape[AFFINE_HOSTS[kind]] = -1
        weights, bias = weights * factor.reshape(shape), bias * factor
        host.inputs[1] = graph.builder.constant("filter", weights.astype(np.float32))
    else:
        bias = bias + factor if reading == "ADD" else bias - factor
    host.inputs[2] = graph.builder.constant("bias", bias.astype(np.float32))
    host.outputs = [int(reader.outputs[0])]
    return True


def _per_channel(array: np.ndarray | None, channels: int, rank: int) -> np.ndarray | None:
    """The constant as one value per channel (the last axis), or None when it varies along
    another axis or would broadcast the host's output to a larger shape."""
    if array is None or array.ndim > rank or any(d != 1 for d in array.shape[:-1]):
        return None
    flat = array.reshape(-1)
    if flat.size == 1:
        return np.full(channels, flat[0], np.float32)
    return flat if flat.size == channels else None


def fuse_activation(graph: Graph, host: Any, reader: Any) -> bool:
    """A RELU/RELU6/RELU_N1_TO_1 after an op that carries fusedActivationFunction."""
    kind, reading = graph.builtin(host), graph.builtin(reader)
    if kind not in ACTIVATION_CARRIERS or reading not in ACTIVATIONS or _activation(host) \
            or graph.builder.tensors[int(host.outputs[0])].type != FLOAT32:
        return False
    if host.builtinOptions is None:
        host.builtinOptions = options(ACTIVATION_CARRIERS[kind])
        host.builtinOptionsType = getattr(schema().BuiltinOptions, ACTIVATION_CARRIERS[kind])
    host.builtinOptions.fusedActivationFunction = getattr(
        schema().ActivationFunctionType, ACTIVATIONS[reading])
    host.outputs = [int(reader.outputs[0])]
    return True


def merge_reshapes(graph: Graph, host: Any, reader: Any) -> bool:
    """RESHAPE(RESHAPE(x)): the second alone, from x."""
    if graph.builtin(host) != "RESHAPE" or graph.builtin(reader) != "RESHAPE" \
            or int(reader.inputs[0]) != int(host.outputs[0]):
        return False
    shape = [int(i) for i in reader.inputs[1:]]
    if any(i >= 0 and not graph.builder.tensors[i].buffer for i in shape):
        return False  # a computed shape may be written after the first RESHAPE runs
    host.inputs = [int(host.inputs[0]), *shape]
    host.outputs = [int(reader.outputs[0])]
    host.builtinOptions, host.builtinOptionsType = reader.builtinOptions, \
        reader.builtinOptionsType
    return True


def reshape_mean(graph: Graph, host: Any, reader: Any) -> bool:
    """RESHAPE(MEAN(x, axes)) that only drops the reduced dims, or only puts them back as
    1s: MEAN with keep_dims off, or on."""
    if graph.builtin(host) != "MEAN" or graph.builtin(reader) != "RESHAPE" \
            or host.builtinOptions is None:
        return False
    axes = graph.builder.tensors[int(host.inputs[1])]
    data = graph.builder.buffers[axes.buffer].data if axes.buffer else None
    if data is None or axes.type != INT32:
        return False
    shape = list(graph.builder.tensors[int(host.inputs[0])].shape)
    reduced = {int(a) % len(shape) for a in np.frombuffer(
        np.asarray(data, np.uint8).tobytes(), np.int32)}
    kept = [d for axis, d in enumerate(shape) if axis not in reduced]
    ones = [1 if axis in reduced else d for axis, d in enumerate(shape)]
    wanted = list(graph.builder.tensors[int(reader.outputs[0])].shape)
    if wanted not in (kept, ones):
        return False
    host.builtinOptions.keepDims = wanted == ones and wanted != kept
    host.outputs = [int(reader.outputs[0])]
    return True


def absorb_pad(graph: Graph, host: Any, reader: Any) -> bool:
    """CONV(PAD(x)) with VALID padding, where the PAD's zeros are what SAME pads: the
    convolution with SAME, from x (the host PAD becomes that convolution)."""
    reading = graph.builtin(reader)
    if graph.builtin(host) != "PAD" or reading not in {"CONV_2D", "DEPTHWISE_CONV_2D"} \
            or int(reader.inputs[0]) != int(host.outputs[0]) \
            or reader.builtinOptions.padding != PADDING["VALID"]:
        return False
    amounts = graph.builder.tensors[int(host.inputs[1])]
    data = graph.builder.buffers[amounts.buffer].data if amounts.buffer else None
    source = graph.builder.tensors[int(host.inputs[0])]
    if data is None or amounts.type != INT32 or len(source.shape) != 4 \
            or any(d < 0 for d in _signature(source)[1:3]):
        return False  # SAME's pads depend on the spatial size: it must be static
    pads = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.int32).reshape(-1, 2)
    made = reader.builtinOptions
    kernel = graph.builder.tensors[int(reader.inputs[1])].shape[1:3]
    same = same_pads(source.shape[1:3], kernel, (made.strideH, made.strideW),
                     (made.dilationHFactor, made.dilationWFactor))
    if pads[0].any() or pads[3].any() or pads[1:3].tolist() != same:
        return False
    made.padding = PADDING["SAME"]
    host.opcodeIndex, host.builtinOptions = reader.opcodeIndex, made
    host.builtinOptionsType = reader.builtinOptionsType
    host.inputs = [int(host.inputs[0]), *(int(i) for i in reader.inputs[1:])]
    host.outputs = [int(reader.outputs[0])]
    return True


def drop_identity_reshape(graph: Graph, host: Any, reader: Any) -> bool:
    """A RESHAPE to the shape its input already has (static, or the same dynamic dims):
    the host writes the RESHAPE's output itself."""
    if graph.builtin(reader) != "RESHAPE" or int(reader.inputs[0]) != int(host.outputs[0]):
        return False
    before = graph.builder.tensors[int(host.outputs[0])]
    after = graph.builder.tensors[int(reader.outputs[0])]
    if not before.hasRank or list(before.shape) != list(after.shape) \
            or _signature(before) != _signature(after):
        return False
    host.outputs = [int(reader.outputs[0])]
    return True


def _signature(tensor: Any) -> list[int]:
    found = tensor.shapeSignature
    return list(found) if found is not None and len(found) else list(tensor.shape)


def drop_neutral_arithmetic(graph: Graph, host: Any, reader: Any) -> bool:
    """x + 0, x - 0, x * 1, x / 1 with a constant that broadcasts to nothing larger: the
    host writes the reader's output itself."""
    reading = graph.builtin(reader)
    neutral = {"ADD": 0.0, "SUB": 0.0, "MUL": 1.0, "DIV": 1.0}.get(reading)
    out = int(host.outputs[0])
    if neutral is None or _activation(reader) or int(reader.inputs[0]) != out \
            and reading in {"SUB", "DIV"}:
        return False
    other = [int(i) for i in reader.inputs if int(i) != out]
    shape = graph.builder.tensors[out].shape
    array = graph.constant(other[0]) if len(other) == 1 else None
    if array is None or _per_channel(array, int(shape[-1]) if len(shape) else 1,
                                     len(shape)) is None or not np.all(array == neutral):
        return False
    host.outputs = [int(reader.outputs[0])]
    return True


def scale_into_conv(graph: Graph, host: Any, reader: Any) -> bool:
    """CONV(MUL(x, s)), s per input channel: CONV(x) with the filter's input channels
    scaled (a zero padding of x * s is the padding of x times s; the host MUL becomes the
    convolution)."""
    reading = graph.builtin(reader)
    if graph.builtin(host) != "MUL" or reading not in {"CONV_2D", "DEPTHWISE_CONV_2D"} \
            or _activation(host) or int(reader.inputs[0]) != int(host.outputs[0]):
        return False
    out = int(host.outputs[0])
    other = [int(i) for i in host.inputs if int(i) != out]
    variable = [int(i) for i in host.inputs if graph.constant(int(i)) is None]
    weights = graph.constant(int(reader.inputs[1]))
    shape = graph.builder.tensors[out].shape
    if len(other) != 2 or len(variable) != 1 or weights is None or len(shape) != 4:
        return False
    constant = next(i for i in other if i != variable[0])
    factor = _per_channel(graph.constant(constant), int(shape[3]), 4)
    multiplier = getattr(reader.builtinOptions, "depthMultiplier", 1)
    if factor is None or reading == "DEPTHWISE_CONV_2D" and multiplier != 1:
        return False
    host.opcodeIndex, host.builtinOptions = reader.opcodeIndex, reader.builtinOptions
    host.builtinOptionsType = reader.builtinOptionsType
    scaled = graph.builder.constant("filter", (weights * factor).astype(np.float32))
    host.inputs = [variable[0], scaled, *(int(i) for i in reader.inputs[2:])]
    host.outputs = [int(reader.outputs[0])]
    return True


RULES = (absorb_pad, drop_neutral_arithmetic, scale_into_conv, fold_affine, fuse_activation,
         merge_reshapes, reshape_mean, drop_identity_reshape)


def compact(builder: ModelBuilder, keep: list[int]) -> dict[int, int]:
    """Drop the main subgraph's tensors no op reads or writes and that are not in `keep`
    (its inputs and outputs), and the buffers no tensor holds. Returns old -> new index."""
    used = set(keep)
    for op in builder.operators:
        used.update(int(i) for i in op.inputs if i >= 0)
        used.update(int(i) for i in op.outputs if i >= 0)
    remap = {old: new for new, old in enumerate(sorted(used))}
    builder.tensors = [builder.tensors[old] for old in sorted(used)]
    for op in builder.operators:
        op.inputs = [remap[int(i)] if i >= 0 else -1 for i in op.inputs]
        op.outputs = [remap[int(i)] if i >= 0 else -1 for i in op.outputs]
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = [remap[int(i)] for i in op.intermediates]
    _compact_buffers(builder)
    return remap


def _compact_buffers(builder: ModelBuilder) -> None:
    graphs = [builder.tensors, *(body.tensors for body in builder.bodies)]
    used = sorted({t.buffer for tensors in graphs for t in tensors if t.buffer})
    remap = {0: 0, **{old: new for new, old in enumerate(used, start=1)}}
    builder.buffers = [builder.buffers[0], *(builder.buffers[old] for old in used)]
    for tensors in graphs:
        for tensor in tensors:
            tensor.buffer = remap[tensor.buffer]
