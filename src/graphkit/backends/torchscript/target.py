"""TorchScript through graphkit's torch.fx emitter: the emitter's lowering table decides.

The TorchScript emitter owns the table (graphkit.backends.torchscript.lowering); this
target only asks it, per node, `unsupported_reason(node, opset)`, so that the analysis and
the emitter can never disagree. The emitter is imported on first use: torch is optional.

What "convertible" means here: the emitter has a lowering for every node, so it builds a
torch.fx GraphModule and writes a scripted (or, as fallback, traced) `.pt`. On the ONNX
conformance cases that verdict is measured against the emitter really converting and
reproducing the expected outputs: `python tools/agreement.py --target torchscript`.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx
import onnx_ir as ir

from graphkit.errors import GraphkitError, MissingDependencyError
from graphkit.findings import Finding, Severity
from graphkit.targets.base import NodeContext, ValueFacts

ReasonFn = Callable[[ir.Node, int], "str | None"]


def _emitter_reason_fn() -> ReasonFn:
    try:
        from graphkit.backends.torchscript.lowering import unsupported_reason
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] == "torch":
            raise MissingDependencyError("torch", "torch", "the torchscript target") from None
        raise GraphkitError(
            f"the torchscript target needs its emitter, missing: {error.name}"
        ) from None
    return unsupported_reason


def with_inferred_types(node: ir.Node, values: ValueFacts) -> ir.Node:
    """The node as the emitter sees it after `fix`, which writes inferred types and shapes
    onto the graph: where an input or output carries none, a detached copy that has the
    inferred ones, so that a check on rank or dtype does not refuse what inference knows.
    The model is not touched (the copy's values are new). Nodes with subgraphs are asked
    as they are: their bodies belong to the node."""
    values_of = [*node.inputs, *node.outputs]
    if all(v is None or (v.type is not None and v.shape is not None) for v in values_of):
        return node
    if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
           for a in node.attributes.values()):
        return node
    return ir.Node(
        node.domain, node.op_type,
        [_typed_copy(v, values) if v is not None else None for v in node.inputs],
        attributes=list(node.attributes.values()), overload=node.overload,
        outputs=[_typed_copy(v, values) for v in node.outputs], name=node.name,
    )


def _typed_copy(value: ir.Value, values: ValueFacts) -> ir.Value:
    shape = values.shape(value)
    return ir.Value(
        name=value.name, type=values.type(value), const_value=value.const_value,
        shape=ir.Shape(shape) if shape is not None else None,
    )


class TorchScriptTarget:
    name = "torchscript"
    description = "TorchScript (.pt) through graphkit's torch.fx lowering table"

    def __init__(self, reason_fn: ReasonFn | None = None) -> None:
        self._reason_fn = reason_fn

    def opset_range(self) -> tuple[int, int]:
        return 1, onnx.defs.onnx_opset_version()

    def check_model(self, model: ir.Model) -> list[Finding]:
        return []

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        if ctx.is_local_function(node):
            return []
        if self._reason_fn is None:
            self._reason_fn = _emitter_reason_fn()
        version = ctx.domain_version(node.domain) or ctx.opset
        reason = self._reason_fn(node, version)
        typed = with_inferred_types(node, ctx.values) if reason is not None else node
        if typed is not node:
            # Asked again only on a refusal: copying every unannotated node cost 0.3 s on
            # 8,000 nodes, and only checks that need a rank or dtype refuse without one.
            reason = self._reason_fn(typed, version)
        if reason is None:
            return []
        return [
            Finding(
                code="GK101",
                severity=Severity.ERROR,
                message=reason,
                node=node.name,
                op=node.op_type,
                target=self.name,
            )
        ]
