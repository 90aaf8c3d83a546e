"""What does an op with an ONNX function body expand to, for this node's attributes and types?

Runtimes without a kernel for such an op (onnxruntime among them) inline its body, so
the op runs when every node of the body does. The body comes from onnx's schema (plain
or context-dependent on the node's input types); onnx's inliner substitutes the node's
attributes, and shape inference types the body's values so targets can check them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import onnx
import onnx.inliner
import onnx_ir as ir

from graphkit.targets._facts import facts_from_graph_proto
from graphkit.targets.base import NodeContext, ValueFacts

EXPAND_DOMAIN = "graphkit.expand"  # the body is called through this private domain


@dataclass(frozen=True)
class Body:
    """A function body inlined into a graph of its own, with its types inferred."""

    graph: ir.Graph
    opsets: dict[str, int]
    values: ValueFacts

    def sites(self, outer: NodeContext) -> Iterator[tuple[ir.Node, NodeContext]]:
        ctx = NodeContext(
            opset=self.opsets.get("", outer.opset), opsets=self.opsets, graph=self.graph,
            in_subgraph=True, values=self.values,
        )
        for node in self.graph:
            yield node, ctx


def expand(node: ir.Node, domain: str, opset: int, values: ValueFacts,
           onnx_opset: int | None = None) -> Body | None:
    """The node's function body, or None when its op has none (or it cannot be built).
    `onnx_opset`: the ai.onnx opset of the model, for a body of another domain's op that
    uses ai.onnx ops without importing them (onnx's FlexAttention body does)."""
    if not _has_body(node.op_type, domain, opset):
        return None
    input_types = tuple(_type_proto(values, v) if v is not None else b"" for v in node.inputs)
    if any(t is None for t in input_types):
        return None  # an input of unknown type: the body (and onnxruntime) cannot be typed
    proto = ir.serde.serialize_node(node)
    proto.name = ""
    return _expand_cached(proto.SerializeToString(), domain, opset, input_types, onnx_opset)


@functools.cache
def _has_body(op: str, domain: str, opset: int) -> bool:
    try:
        schema = onnx.defs.get_schema(op, opset, domain)
    except onnx.defs.SchemaError:
        return False
    return schema.has_function or schema.has_context_dependent_function


@functools.lru_cache(maxsize=512)
def _expand_cached(node_bytes: bytes, domain: str, opset: int,
                   input_types: tuple[bytes, ...], onnx_opset: int | None = None
                   ) -> Body | None:
    node = onnx.NodeProto()
    node.ParseFromString(node_bytes)
    _add_default_attributes(node, domain, opset)
    function = _function_proto(node, domain, opset, input_types)
    if function is None:
        return None
    _import_onnx_opset(function, onnx_opset)
    model = _calling_model(node, function, input_types)
    try:
        inlined = onnx.inliner.inline_local_functions(model)
        inferred = _infer(inlined)
        graph = ir.serde.deserialize_graph(inferred.graph)
    except Exception:  # a body onnx cannot inline or type: treat the op as having none
        return None
    opsets = {entry.domain: entry.version for entry in function.opset_import}
    return Body(graph, opsets, facts_from_graph_proto(inferred.graph))


def _import_onnx_opset(function: onnx.FunctionProto, onnx_opset: int | None) -> None:
    """The model's ai.onnx opset, imported by a body that uses ai.onnx ops and imports no
    ai.onnx opset itself (onnx cannot type it otherwise)."""
    imported = {entry.domain for entry in function.opset_import}
    uses_onnx = any(node.domain in ("", "ai.onnx") for node in function.node)
    if onnx_opset is None or not uses_onnx or imported & {"", "ai.onnx"}:
        return
    function.opset_import.add(domain="", version=onnx_opset)


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    """Types and shapes, with data propagated where onnx can (a body's Reshape by a shape
    it computes from Shape then has a static output)."""
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - plain inference decides, as before
        return onnx.shape_inference.infer_shapes(model)


def _add_default_attributes(node: onnx.NodeProto, domain: str, opset: int) -> None:
    """Bodies refer to the node's attributes (`@alpha`); an omitted one means its default."""
    schema = onnx.defs.get_schema(node.op_type, opset, domain)
    present = {attr.name for attr in node.attribute}
    for name, attr in schema.attributes.items():
        default = attr.default_value
        if name in present or default.type == onnx.AttributeProto.UNDEFINED:
            continue
        node.attribute.append(default)
        node.attribute[-1].name = name


def _function_proto(node: onnx.NodeProto, domain: str, opset: int,
                    input_types: tuple[bytes, ...]) -> onnx.FunctionProto | None:
    schema = onnx.defs.get_schema(node.op_type, opset, domain)
    # A body is written for some opsets only: take the newest one the model's opset allows.
    # A fixed body must also still hold at the model's opset (onnx validates it, so
    # onnxruntime gets none otherwise); a context-dependent one is built for it.
    if schema.has_function:
        version = _newest(schema.function_opset_versions, opset, schema.since_version)
        raw = schema.get_function_with_opset_version(version)
        valid = _still_valid
    else:
        version = _newest(schema.context_dependent_function_opset_versions, opset,
                          schema.since_version)
        try:
            raw = schema.get_context_dependent_function_with_opset_version(
                version, node.SerializeToString(), list(input_types))
        except (ValueError, RuntimeError):  # a malformed node (SequenceMap without its body)
            return None
        valid = None
    if not raw:
        return None
    function = onnx.FunctionProto()
    function.ParseFromString(raw)
    if valid is not None and not valid(function, version, opset):
        return None
    return function


def _still_valid(function: onnx.FunctionProto, written_for: int, opset: int) -> bool:
    """A body written for an older opset holds at the model's opset only if none of its ops
    changed in between; onnx (and so onnxruntime) refuses the body otherwise."""
    if written_for == opset:
        return True
    for node in function.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        try:
            then = onnx.defs.get_schema(node.op_type, written_for, "").since_version
            now = onnx.defs.get_schema(node.op_type, opset, "").since_version
        except onnx.defs.SchemaError:
            return False
        if then != now:
            return False
    return True


def _newest(versions: list[int], opset: int, fallback: int) -> int:
    return max((v for v in versions if v <= opset), default=fallback)


def _calling_model(node: onnx.NodeProto, function: onnx.FunctionProto,
                   input_types: tuple[bytes, ...]) -> onnx.ModelProto:
    """A one-node model that calls the body as a model-local function."""
    function.domain = EXPAND_DOMAIN
    function.name = node.op_type
    call = onnx.NodeProto()
    call.CopyFrom(node)
    call.domain = EXPAND_DOMAIN
    graph = onnx.GraphProto(name="body", node=[call])
    for name, raw in zip(node.input, input_types, strict=True):
        if not name:
            continue
        value_type = onnx.TypeProto()
        value_type.ParseFromString(raw)
        graph.input.add(name=name, type=value_type)
    for name in node.output:
        if name:
            graph.output.add(name=name)
    model = onnx.ModelProto(ir_version=onnx.IR_VERSION, graph=graph, functions=[function])
    for entry in function.opset_import:
        model.opset_import.add(domain=entry.domain, version=entry.version)
    model.opset_import.add(domain=EXPAND_DOMAIN, version=1)
    return model


def _type_proto(values: ValueFacts, value: ir.Value) -> bytes | None:
    """The value's type with its shape: some bodies are built from the input ranks."""
    found = values.type(value)
    if found is None:
        return None
    proto = onnx.TypeProto()
    ir.serde.serialize_type_into(proto, found)
    shape = values.shape(value)
    if shape is not None and proto.HasField("tensor_type"):
        ir.serde.serialize_shape_into(proto, ir.Shape(shape))
    return proto.SerializeToString()
