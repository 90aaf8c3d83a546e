"""Seeded mutations of ONNX models: the hostile inputs the fuzzer feeds graphkit.

A mutant is fully determined by (seed, index): the base model, the mutations and their
arguments all come from one `random.Random` seeded with both, so any mutant can be made
again from its id alone (`tools/fuzz.py --only ID`).

Structural mutations edit the ModelProto (dims, dtypes, initializers, edge names, node
order, attribute types, opsets); byte mutations (truncation, byte flips) edit the
serialized file, as a damaged download would.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import onnx
from onnx import AttributeProto, TensorProto

# Dims that break things in different ways: zero, negative, huge, symbolic.
ODD_DIMS = (0, 1, 2, 3, 7, -1, -4, 1 << 31, 10**12, "N")
# Every elem_type number, plus UNDEFINED (0) and one past the last.
ELEM_TYPES = tuple(range(0, 27))
ODD_OPSETS = (0, 1, 7, 11, 13, 17, 21, 23, 99)


@dataclass(frozen=True)
class Mutant:
    id: str  # "<seed>-<index>"
    base: str  # the corpus model it was made from
    mutations: tuple[str, ...]
    data: bytes


def make_mutant(corpus: list[tuple[str, bytes]], seed: int, index: int) -> Mutant:
    """The mutant `index` of run `seed`: one to three mutations of one corpus model."""
    rng = random.Random(f"{seed}-{index}")
    name, data = rng.choice(corpus)
    proto = onnx.ModelProto()
    proto.ParseFromString(data)
    applied: list[str] = []
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        mutation = rng.choice(STRUCTURAL)
        if mutation(rng, proto):
            applied.append(mutation.__name__)
    out = proto.SerializeToString()
    if out == data or rng.random() < 0.2:  # a byte mutation, also where the rest changed nothing
        mutation = rng.choice(BYTES)
        out = mutation(rng, out)
        applied.append(mutation.__name__)
    return Mutant(f"{seed}-{index}", name, tuple(applied), out)


# --- structural mutations: each returns whether it changed anything -------------------------


def change_dim(rng: random.Random, proto: onnx.ModelProto) -> bool:
    shapes = [value.type.tensor_type.shape for value in _value_infos(proto)
              if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape")]
    dims = [dim for shape in shapes for dim in shape.dim]
    tensors = [t for t in _tensors(proto) if t.dims]
    if tensors and (not dims or rng.random() < 0.4):
        tensor = rng.choice(tensors)
        axis = rng.randrange(len(tensor.dims))
        value = rng.choice([d for d in ODD_DIMS if isinstance(d, int)])
        tensor.dims[axis] = value
        return True
    if not dims:
        return False
    dim = rng.choice(dims)
    value = rng.choice(ODD_DIMS)
    if isinstance(value, str):
        dim.dim_param = value
    else:
        dim.dim_value = value
    return True


def change_dtype(rng: random.Random, proto: onnx.ModelProto) -> bool:
    choices: list[Callable[[int], None]] = []
    for value in _value_infos(proto):
        if value.type.HasField("tensor_type"):
            choices.append(lambda t, v=value: setattr(v.type.tensor_type, "elem_type", t))
    for tensor in _tensors(proto):
        choices.append(lambda t, x=tensor: setattr(x, "data_type", t))
    for node in _nodes(proto):
        for attr in node.attribute:
            if attr.name == "to" and attr.type == AttributeProto.INT:
                choices.append(lambda t, a=attr: setattr(a, "i", t))
    if not choices:
        return False
    rng.choice(choices)(rng.choice(ELEM_TYPES))
    return True


def drop_initializer(rng: random.Random, proto: onnx.ModelProto) -> bool:
    graph = proto.graph
    constants = [n for n in graph.node if n.op_type == "Constant"]
    if graph.initializer and (not constants or rng.random() < 0.5):
        del graph.initializer[rng.randrange(len(graph.initializer))]
        return True
    if not constants:
        return False
    graph.node.remove(rng.choice(constants))
    return True


def rename_edge(rng: random.Random, proto: onnx.ModelProto) -> bool:
    """Point one node input or output at another name: new, existing (a second producer,
    a cycle), empty, or not UTF-8-clean text."""
    nodes = [n for n in _nodes(proto) if n.input or n.output]
    if not nodes:
        return False
    node = rng.choice(nodes)
    ports = node.input if node.input and (not node.output or rng.random() < 0.6) else node.output
    names = sorted({name for n in _nodes(proto) for name in (*n.input, *n.output) if name})
    new = rng.choice(["renamed", "", "x" * 300, "\u00e9\u00e8\ud7ff", *names[:20]])
    ports[rng.randrange(len(ports))] = new
    return True


def reorder_nodes(rng: random.Random, proto: onnx.ModelProto) -> bool:
    nodes = list(proto.graph.node)
    if len(nodes) < 2:
        return False
    rng.shuffle(nodes)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    return True


def wrong_attribute_type(rng: random.Random, proto: onnx.ModelProto) -> bool:
    """Give an attribute a value of another kind (the proto's `type` says one thing, the
    field set says another), or a plausible name with an absurd value."""
    attrs = [a for n in _nodes(proto) for a in n.attribute]
    if not attrs:
        return False
    attr = rng.choice(attrs)
    kind = rng.randrange(6)
    if kind == 0:
        attr.type = rng.choice((AttributeProto.INT, AttributeProto.FLOAT, AttributeProto.STRING,
                                AttributeProto.TENSOR, AttributeProto.GRAPH,
                                AttributeProto.INTS, AttributeProto.STRINGS))
    elif kind == 1:
        attr.ClearField("i")
        attr.ClearField("ints")
        attr.type = AttributeProto.STRING
        attr.s = bytes([0xFF, 0xFE, 0x80])
    elif kind == 2:
        attr.type = AttributeProto.INT
        attr.i = rng.choice((-(1 << 62), -1, 0, 1 << 40))
    elif kind == 3:
        attr.type = AttributeProto.INTS
        del attr.ints[:]
        attr.ints.extend(rng.choice(([], [-1, -1], [0] * 9, [1 << 40])))
    elif kind == 4:
        attr.type = AttributeProto.FLOAT
        attr.f = rng.choice((float("nan"), float("inf"), -1e30))
    else:
        attr.type = AttributeProto.TENSOR
        attr.t.CopyFrom(TensorProto(name="t", data_type=TensorProto.FLOAT, dims=[1 << 20]))
    return True


def drop_attribute(rng: random.Random, proto: onnx.ModelProto) -> bool:
    nodes = [n for n in _nodes(proto) if n.attribute]
    if not nodes:
        return False
    node = rng.choice(nodes)
    del node.attribute[rng.randrange(len(node.attribute))]
    return True


def change_op_type(rng: random.Random, proto: onnx.ModelProto) -> bool:
    nodes = list(_nodes(proto))
    if not nodes:
        return False
    ops = sorted({n.op_type for n in nodes} | {"Loop", "If", "Reshape", "Gather", "Conv",
                                                "NoSuchOp", "Resize", "Einsum", "Split"})
    node = rng.choice(nodes)
    node.op_type = rng.choice(ops)
    if rng.random() < 0.2:
        node.domain = rng.choice(("com.microsoft", "ai.onnx.ml", "unknown.domain"))
    return True


def change_opset(rng: random.Random, proto: onnx.ModelProto) -> bool:
    if rng.random() < 0.3:
        proto.ir_version = rng.choice((0, 1, 3, 4, 7, 10, 11, 99))
        return True
    if not proto.opset_import:
        return False
    rng.choice(proto.opset_import).version = rng.choice(ODD_OPSETS)
    return True


def drop_graph_input(rng: random.Random, proto: onnx.ModelProto) -> bool:
    values = proto.graph.input if proto.graph.input and rng.random() < 0.5 else proto.graph.output
    if not values:
        return False
    del values[rng.randrange(len(values))]
    return True


def huge_claimed_size(rng: random.Random, proto: onnx.ModelProto) -> bool:
    """A tensor whose dims claim far more data than it holds."""
    tensors = list(_tensors(proto))
    if not tensors:
        return False
    tensor = rng.choice(tensors)
    del tensor.dims[:]
    tensor.dims.extend(rng.choice(([1 << 28], [1 << 16, 1 << 16], [1 << 40], [3, 1 << 30])))
    return True


STRUCTURAL = (change_dim, change_dim, change_dtype, drop_initializer, rename_edge, reorder_nodes,
              wrong_attribute_type, drop_attribute, change_op_type, change_opset,
              drop_graph_input, huge_claimed_size)


# --- byte mutations of the serialized model --------------------------------------------------


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice((1, 2, 4, 16))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


BYTES = (truncate, flip_bytes)


# --- where the things to mutate are ----------------------------------------------------------


def _graphs(proto: onnx.ModelProto):
    """The main graph, its subgraphs (Loop/If/Scan bodies) and the functions' bodies."""
    stack = [proto.graph]
    while stack:
        graph = stack.pop()
        yield graph
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)


def _nodes(proto: onnx.ModelProto):
    for graph in _graphs(proto):
        yield from graph.node
    for function in proto.functions:
        yield from function.node


def _value_infos(proto: onnx.ModelProto):
    for graph in _graphs(proto):
        yield from graph.input
        yield from graph.output
        yield from graph.value_info


def _tensors(proto: onnx.ModelProto):
    for graph in _graphs(proto):
        yield from graph.initializer
    for node in _nodes(proto):
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
