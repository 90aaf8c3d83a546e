"""Does every attribute of a standard op have the type its schema gives, and hold that value?

onnx-ir reads an attribute by its declared type: an INT attribute whose value sits in `t`
reads as 0, a Constant whose `value` is an INT passes load and fails inside a pass. ORT
refuses such nodes ("wrong type", "Unrecognized attribute"), so graphkit does, at load, naming
the node. Ops without a schema here (other domains, unknown ops) are left to diagnose, but
every attribute must have a type: onnx-ir reads an untyped one as no value at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

import onnx

from graphkit.errors import InputError
from graphkit.ir._schema import onnx_schema

_A = onnx.AttributeProto
# The value field each attribute type keeps its value in.
_FIELD = {
    _A.FLOAT: "f", _A.INT: "i", _A.STRING: "s", _A.TENSOR: "t", _A.GRAPH: "g",
    _A.SPARSE_TENSOR: "sparse_tensor", _A.TYPE_PROTO: "tp", _A.FLOATS: "floats",
    _A.INTS: "ints", _A.STRINGS: "strings", _A.TENSORS: "tensors", _A.GRAPHS: "graphs",
    _A.SPARSE_TENSORS: "sparse_tensors", _A.TYPE_PROTOS: "type_protos",
}
_VALUE_FIELDS = frozenset(_FIELD.values())
_SINGULAR = ("f", "i", "s", "t", "g", "sparse_tensor", "tp")
_CONSTANT_VALUES = frozenset({"value", "value_float", "value_floats", "value_int", "value_ints",
                              "value_string", "value_strings", "sparse_value"})
_DEFAULT_DOMAINS = ("", "ai.onnx")


def check_attributes(proto: onnx.ModelProto, origin: str) -> None:
    """Raise InputError naming the first node whose attributes its schema refuses."""
    opsets = {entry.domain: entry.version for entry in proto.opset_import}
    _check_opsets(proto, origin)
    for where, node, node_opsets in _nodes(proto, opsets):
        label = f"{origin}: {where} ({node.op_type})"
        _check_untyped(node, label)
        if node.domain not in _DEFAULT_DOMAINS:
            continue
        version = next((node_opsets[d] for d in _DEFAULT_DOMAINS if d in node_opsets), None)
        if version is None:
            raise InputError(f"{label} is an ONNX op, but no opset of 'ai.onnx' is imported to "
                             "say which version")
        table = _attribute_table(node.op_type, version)
        if table is not None:
            _check_node(node, table, version, label)


def _check_opsets(proto: onnx.ModelProto, origin: str) -> None:
    """Opset versions start at 1. (A newer ai.onnx opset than ORT or onnx knows is a
    finding of diagnose, GK103, which convert-opset fixes.)"""
    for where, entries in [("model", proto.opset_import),
                           *((f"function {f.name!r}", f.opset_import) for f in proto.functions)]:
        for entry in entries:
            if entry.version < 1:
                domain = entry.domain or "ai.onnx"
                raise InputError(f"{origin}: {where} imports opset {entry.version} of {domain!r}")


class _AttributeTable(NamedTuple):
    types: dict[str, int]  # attribute name -> the AttributeProto type its schema gives
    required: tuple[str, ...]


@functools.cache
def _attribute_table(op_type: str, version: int) -> _AttributeTable | None:
    """What the schema says of the op's attributes, read once per op and opset: the
    schema's `attributes` builds a new dict of new objects on every access (several
    microseconds), once or twice per node of a large graph."""
    schema = onnx_schema(op_type, version)
    if schema is None:
        return None
    attributes = schema.attributes
    return _AttributeTable({name: int(a.type) for name, a in attributes.items()},
                           tuple(name for name, a in attributes.items() if a.required))


def _check_node(node: onnx.NodeProto, table: _AttributeTable, version: int, label: str) -> None:
    for attr in node.attribute:
        expected = table.types.get(attr.name)
        if expected is None:
            raise InputError(
                f"{label}: attribute {attr.name!r} is not one {node.op_type} defines at opset "
                f"{version}"
            )
        if attr.ref_attr_name:
            continue  # a function's reference to its own attribute
        if attr.type != expected:
            raise InputError(
                f"{label}: attribute {attr.name!r} is {_type_name(attr.type)}, but "
                f"{node.op_type} takes {_type_name(expected)}"
            )
    names = {attr.name for attr in node.attribute}
    missing = [name for name in table.required if name not in names]
    if missing:
        raise InputError(f"{label}: required attribute {missing[0]!r} is missing")
    if node.op_type == "Constant" and len(names & _CONSTANT_VALUES) != 1:
        raise InputError(f"{label}: a Constant needs exactly one value attribute, has "
                         f"{sorted(names & _CONSTANT_VALUES) or 'none'}")


def _check_untyped(node: onnx.NodeProto, label: str) -> None:
    """Every attribute needs its type (onnx.proto: required from IR version 2): onnx-ir does
    not infer one from the value, so an untyped attribute would lose its value and fail to
    save. And its value must sit in that type's field, whatever the op (onnx-ir reads a TENSOR
    attribute with no tensor as an UNDEFINED tensor that fails wherever it is read)."""
    for attr in node.attribute:
        if attr.type == _A.UNDEFINED:
            raise InputError(f"{label}: attribute {attr.name!r} has no type")
        if not attr.ref_attr_name:
            _check_value_field(attr, label)


def _check_value_field(attr: onnx.AttributeProto, label: str) -> None:
    """The value must be in the field of the declared type, and in no other. (ListFields
    names the set fields in one call: asking each of the 14 in turn cost 0.1 s at 8,000
    nodes.)"""
    field = _FIELD.get(attr.type)
    present = [fd.name for fd, _ in attr.ListFields() if fd.name in _VALUE_FIELDS]
    if field in _SINGULAR and field not in {"f", "i", "s"} and field not in present:
        raise InputError(f"{label}: attribute {attr.name!r} is {_type_name(attr.type)} but "
                         "holds no value")
    others = [name for name in present if name != field]
    if others:
        raise InputError(f"{label}: attribute {attr.name!r} is {_type_name(attr.type)} but "
                         f"holds a value in '{others[0]}'")


def _type_name(kind: int) -> str:
    return _A.AttributeType.Name(kind) if kind in _A.AttributeType.values() else str(kind)


def _nodes(
    proto: onnx.ModelProto, opsets: dict[str, int]
) -> Iterator[tuple[str, onnx.NodeProto, dict[str, int]]]:
    """Every node with where it is and the opsets it is read under (a function's own)."""
    yield from _graph_nodes(proto.graph, "main graph", opsets)
    for function in proto.functions:
        own = {entry.domain: entry.version for entry in function.opset_import} or opsets
        where = f"function {function.domain + '.' if function.domain else ''}{function.name}"
        for index, node in enumerate(function.node):
            yield from _node_and_subgraphs(node, index, where, own)


def _graph_nodes(graph: onnx.GraphProto, where: str, opsets: dict[str, int]):
    for index, node in enumerate(graph.node):
        yield from _node_and_subgraphs(node, index, where, opsets)


def _node_and_subgraphs(node: onnx.NodeProto, index: int, where: str, opsets: dict[str, int]):
    yield f"{where}: node {repr(node.name) if node.name else f'#{index}'}", node, opsets
    for attr in node.attribute:
        graphs = [attr.g] if attr.HasField("g") else []
        graphs.extend(attr.graphs)
        for graph in graphs:
            sub = f"{where} > {node.op_type} {node.name!r} attribute {attr.name!r}"
            yield from _graph_nodes(graph, sub, opsets)
