"""TensorFlow Lite through graphkit's own lowering table (opsets/tflite.toml).

The table says, per ONNX op, which TFLite builtins it lowers to, or that it needs Select
TF ops (Flex, GK107), or that it cannot be converted. Flex is a blocker under both names
while graphkit's emitter writes builtins only (its fix, where the table names one, e.g.
decompose{ops=Einsum}, removes the op); `tflite-builtins` is the name that keeps refusing
Flex once the emitter can write it behind an option.

Analysis and emission never disagree: where the table maps an op to builtins, graphkit's
TFLite emitter (graphkit.backends.tflite) is asked too, and a node its lowering declines
(no lowering for the op yet, or a dtype, rank or attribute it refuses) is a blocker with
the emitter's own sentence. Measured on the ONNX conformance cases with
`python tools/agreement.py --target tflite`.

What "convertible" means here: every node has a lowering in the table whose dtype and
attribute conditions hold, the emitter lowers it, and no float64 tensor remains (no
builtin kernel takes it).
Findings with a fix (fold-constants, float64-to-float32, ...) name the pass that
`graphkit fix --target tflite` runs to remove them.
"""

from __future__ import annotations

import dataclasses
import weakref

import onnx_ir as ir

from graphkit.backends.tflite.lowering import (
    LOCAL_DOMAINS,
    graph_attributes,
    input_refused,
    lowers_by_body,
    node_folds,
    opset_range,
    refined,
    takes_double,
    unsupported_reason,
)
from graphkit.findings import Finding, Severity
from graphkit.targets._data import OpEntry, load_target_data
from graphkit.targets._table import TableTarget
from graphkit.targets.base import NodeContext, ValueFacts
from graphkit.targets.checks import GenericChecks


class TFLiteTarget(TableTarget):
    def __init__(self, allow_flex: bool = True) -> None:
        data = load_target_data("tflite")
        name = "tflite" if allow_flex else "tflite-builtins"
        # No arithmetic kernel takes float64: only CAST and the ops that rearrange it
        # (takes_double), whose rows list float64, hold a float64 tensor.
        super().__init__(
            data, name=name, label="TFLite", generic=GenericChecks(float64=Severity.ERROR)
        )
        self.allow_flex = allow_flex
        # graph attributes of nodes lowered as their function body, which inlines them
        # (FlexAttention's score_mod): their nodes are not lowered on their own
        self._inlined: weakref.WeakSet[ir.Graph] = weakref.WeakSet()
        if not allow_flex:
            self.description = f"{data.description}, builtins only (no Flex)"

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        if isinstance(ctx.graph, ir.Function) and ctx.graph.domain in LOCAL_DOMAINS:
            return []  # a convert step's reference body: the emitter lowers the call itself
        if node.domain in LOCAL_DOMAINS:
            reason = unsupported_reason(node, ctx.opset, ctx.values)
            return [] if reason is None else [self._finding("GK101", Severity.ERROR, reason,
                                                            node)]
        if ctx.graph in self._inlined:
            self._inlined.update(graph_attributes(node))
            return []
        values = refined(node.graph, ctx.values)
        if not isinstance(ctx.graph, ir.Function) and (
                node_folds(node, values) or lowers_by_body(node, ctx.opset, values)):
            # computed when converting (lowering/_fold.py), or lowered as its ONNX function
            # body, each node of which the lowering accepts (lowering/_function.py)
            self._inlined.update(graph_attributes(node))
            return []
        findings = super().check_node(node, ctx)
        if not any(f.blocking for f in findings):
            findings += self._emitter_findings(node, ctx)
        # Flex is a blocker under both names: the emitter writes builtins only
        return [
            dataclasses.replace(f, severity=Severity.ERROR) if f.code == "GK107" else f
            for f in findings
        ]

    def check_model(self, model: ir.Model) -> list[Finding]:
        """The opset range, and each graph input the emitter cannot make a tensor for."""
        found = super().check_model(model)
        values = ValueFacts()  # the inputs as declared: the emitter's tensors follow them
        for value in model.graph.inputs:
            if value.name not in model.graph.initializers \
                    and (why := input_refused(value, values)):
                found.append(self._finding("GK101", Severity.ERROR, why))
        return found

    def _generic(self, node: ir.Node, ctx: NodeContext, seen: set[str]) -> list[Finding]:
        found = super()._generic(node, ctx, seen)
        if takes_double(node, ctx.opset):
            return [f for f in found if f.code != "GK202"]
        return found

    def opset_range(self) -> tuple[int, int]:
        """The table's lowest opset; the emitter's newest (an op ONNX redefined after the
        opset the lowering was checked against is the emitter's finding, per node)."""
        return self.data.opset[0], opset_range()[1]

    def _emitter_findings(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        """The emitter's refusal of a node the table maps to builtins, If and Loop bodies
        included (Flex ops and nodes inside functions are the table's to judge)."""
        entry = self.entry_for(node, ctx)
        if entry is None or entry.status == "unsupported" or isinstance(ctx.graph, ir.Function):
            return []
        if entry.status == "flex":
            return []  # GK107, a blocker while the emitter writes builtins only
        reason = unsupported_reason(node, ctx.opset, ctx.values)
        if reason is None:
            return []
        return [self._finding("GK101", Severity.ERROR, reason, node)]

    def lowering(self, node: ir.Node, ctx: NodeContext) -> OpEntry | None:
        """The table entry the emitter follows for this node (None: not in the table)."""
        return self.entry_for(node, ctx)
