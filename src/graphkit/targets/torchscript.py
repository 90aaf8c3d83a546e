"""TorchScript through graphkit's torch.fx emitter: the emitter's lowering table decides.

The TorchScript emitter owns the table (graphkit.emitters.torchscript.lowering); this
target only asks it, per node, `unsupported_reason(node, opset)`, so that the analysis and
the emitter can never disagree. The emitter is imported on first use: torch is optional.

What "convertible" means here: the emitter has a lowering for every node, so it builds a
torch.fx GraphModule and writes a scripted (or, as fallback, traced) `.pt`. On the ONNX
conformance cases that verdict is measured against the emitter really converting and
reproducing the expected outputs: `python tools/agreement.py --target torchscript`.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx_ir as ir

from graphkit.errors import GraphkitError, MissingDependencyError
from graphkit.findings import Finding, Severity
from graphkit.targets.base import NodeContext

ReasonFn = Callable[[ir.Node, int], "str | None"]


def _emitter_reason_fn() -> ReasonFn:
    try:
        from graphkit.emitters.torchscript.lowering import unsupported_reason
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] == "torch":
            raise MissingDependencyError("torch", "torch", "the torchscript target") from None
        raise GraphkitError(
            f"the torchscript target needs its emitter, missing: {error.name}"
        ) from None
    return unsupported_reason


class TorchScriptTarget:
    name = "torchscript"
    description = "TorchScript (.pt) through graphkit's torch.fx lowering table"

    def __init__(self, reason_fn: ReasonFn | None = None) -> None:
        self._reason_fn = reason_fn

    def opset_range(self) -> tuple[int, int]:
        from onnx.defs import onnx_opset_version

        return 1, onnx_opset_version()

    def check_model(self, model: ir.Model) -> list[Finding]:
        return []

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        if ctx.is_local_function(node):
            return []
        if self._reason_fn is None:
            self._reason_fn = _emitter_reason_fn()
        version = ctx.domain_version(node.domain) or ctx.opset
        reason = self._reason_fn(node, version)
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
