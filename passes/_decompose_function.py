"""Op -> its ONNX function body: onnx's own definition of the op in other ops.

CenterCropPad, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, RotaryEmbedding and
Attention are defined by onnx as functions; a runtime without a kernel for one inlines
that body. This decomposition does the same in the graph, so a target that lacks the op
runs the ops of its body. The body is built for the node's attributes and input types
(graphkit.targets._schema_functions); a function op inside it (SoftmaxCrossEntropyLoss
calls NegativeLogLikelihoodLoss) is expanded in turn. Bodies with subgraphs are declined.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx_ir as ir

from graphkit.rewrite import Builder, Decline
from graphkit.targets._schema_functions import Body, expand
from graphkit.targets.base import ValueFacts

# op -> since when its body holds (the op's own first opset, read by the min-opset analysis).
FUNCTION_BODY_OPS: dict[str, int] = {
    "CenterCropPad": 18,
    "NegativeLogLikelihoodLoss": 12,
    "SoftmaxCrossEntropyLoss": 12,
    "RotaryEmbedding": 23,
    "Attention": 23,
}
MAX_DEPTH = 3  # nested function ops expanded per body


def function_body(node: ir.Node, builder: Builder) -> Sequence[ir.Value]:
    body = expand(node, node.domain, builder.opset, ValueFacts())
    if body is None:
        raise Decline("onnx builds no function body for these attributes and input types")
    return _splice(body, list(node.inputs), builder, MAX_DEPTH)


def _splice(body: Body, inputs: list[ir.Value | None], builder: Builder,
            depth: int) -> list[ir.Value]:
    """Copy the body's nodes through `builder`, its inputs bound to `inputs`; its outputs."""
    given = [value for value in inputs if value is not None and value.name != ""]
    if len(given) != len(body.graph.inputs):
        raise Decline("the body's inputs do not match the node's")
    bound: dict[str, ir.Value] = {v.name: g for v, g in zip(body.graph.inputs, given)}
    for inner in body.graph:
        _copy(inner, body, bound, builder, depth)
    return [bound[value.name] for value in body.graph.outputs]


def _copy(inner: ir.Node, body: Body, bound: dict[str, ir.Value], builder: Builder,
          depth: int) -> None:
    if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
           for a in inner.attributes.values()):
        raise Decline(f"its body holds {inner.op_type} with a subgraph")
    inputs = [bound[v.name] if v is not None and v.name else None for v in inner.inputs]
    if inner.op_type in FUNCTION_BODY_OPS and inner.domain in ("", "ai.onnx") and depth > 0:
        nested = expand(inner, inner.domain, builder.opset, body.values)
        if nested is None:
            raise Decline(f"its body calls {inner.op_type}, which has no body here")
        outputs = _splice(nested, inputs, builder, depth - 1)
    else:
        made = builder.op(inner.op_type, *inputs, _outputs=len(inner.outputs),
                          _domain=inner.domain, **dict(inner.attributes))
        outputs = [made] if len(inner.outputs) == 1 else list(made)
    for old, new in zip(inner.outputs, outputs):
        if old.name:
            bound[old.name] = new
