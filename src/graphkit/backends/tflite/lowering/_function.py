"""Ops ONNX defines as functions (Attention, the training losses, RotaryEmbedding,
CenterCropPad, LayerNormalization with its statistics, ...): where the op's own entry
declines a node, its body is lowered instead, node by node, when every node of it lowers.

The body is onnx's (graphkit.targets._schema_functions: the schema's function, plain or
built for the node's input types, with the node's attributes substituted and its values
typed by shape inference), so what the artifact computes is ONNX's definition of the op.
Only main-graph nodes expand: their graph says the opset the body is built for.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import EmitContext, Stored
from graphkit.targets._schema_functions import Body, expand
from graphkit.targets.base import ValueFacts

# the domains whose ops' bodies onnx defines: ONNX's, and its preview ops (FlexAttention)
BODY_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.preview"})

# node, opset, facts -> why it is not lowered (the table's unsupported_reason)
Reason = Callable[[ir.Node, int, ValueFacts], "str | None"]
# context, node, opset -> None (the table's emit_node)
EmitNode = Callable[[EmitContext, ir.Node, int], None]


def body_of(node: ir.Node, opset: int, values: ValueFacts) -> Body | None:
    """The node's function body, typed, with the opsets its nodes are lowered at."""
    if node.domain not in BODY_DOMAINS or node.graph is None \
            or not node.graph.opset_imports:
        return None
    domain = "" if node.domain == "ai.onnx" else node.domain
    version = node.graph.opset_imports.get(domain, opset) if domain else opset
    body = expand(node, domain, version, values, onnx_opset=opset)
    if body is None:
        return None
    if not body.graph.opset_imports:  # what lets the body's constant parts fold
        body.graph.opset_imports.update(body.opsets)
    return body


def body_lowers(node: ir.Node, opset: int, values: ValueFacts, reason: Reason) -> bool:
    """Whether every node of the node's body lowers (False where it has none)."""
    body = body_of(node, opset, values)
    if body is None:
        return False
    inner = body.opsets.get("", opset)
    return all(reason(part, inner, body.values) is None for part in body.graph)


def emit_body(ctx: EmitContext, node: ir.Node, opset: int, emit_node: EmitNode) -> None:
    """The body's nodes emitted in a context of their own (its values have facts of their
    own), reading the node's inputs and giving the node's outputs, in ONNX order."""
    body = body_of(node, opset, ctx.values)
    if body is None:
        raise ValueError(f"{node.op_type} has no function body to lower")
    inner = EmitContext(ctx.builder, body.values)
    given = {v.name: v for v in node.inputs if v is not None}
    for value in body.graph.inputs:
        inner.stored[id(value)] = Stored(ctx.input(given[value.name]))
    for part in body.graph:
        emit_node(inner, part, body.opsets.get("", opset))
    results = {v.name: v for v in body.graph.outputs}
    for value in node.outputs:
        if value.name in results:
            ctx.stored[id(value)] = Stored(inner.input(results[value.name]))
