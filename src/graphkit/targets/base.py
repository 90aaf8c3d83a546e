"""What a target is: something that can say, per node, whether it runs it and why not.

A target is data (its table under opsets/) plus small named predicates in code. The
diagnose driver walks every node once (main graph, subgraphs, function bodies), after
shape and type inference, and asks the target; the findings it returns carry the code
and the fix (a pass name) that `graphkit fix` uses to choose passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import onnx_ir as ir

from graphkit.findings import Finding


@dataclass(frozen=True)
class NodeContext:
    """Where a node sits: what a target may need besides the node itself."""

    opset: int  # the model's ai.onnx opset (opset of the node's domain: see `opsets`)
    opsets: dict[str, int]  # domain -> version, as imported by the model
    graph: ir.Graph | ir.Function  # the graph or function body that holds the node
    in_subgraph: bool  # inside If/Loop/Scan bodies or a function

    def domain_version(self, domain: str) -> int | None:
        return self.opsets.get("" if domain == "ai.onnx" else domain)


class Target(Protocol):
    """The interface every target implements (see targets/__init__.py for the table)."""

    name: str  # as typed on the command line: "ort", "tensorrt", "tflite", ...
    description: str  # one line for --help and reports

    def opset_range(self) -> tuple[int, int]:
        """The ai.onnx opsets this target accepts, inclusive."""
        ...

    def check_model(self, model: ir.Model) -> list[Finding]:
        """Model-level findings (opset outside the range, unsupported domains, ...)."""
        ...

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        """Findings for one node; an empty list means the target runs it as it is."""
        ...
