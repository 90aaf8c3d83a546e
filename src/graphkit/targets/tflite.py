"""TensorFlow Lite through graphkit's own lowering table (opsets/tflite.toml).

The table says, per ONNX op, which TFLite builtins it lowers to, or that it needs Select
TF ops (Flex, GK107), or that it cannot be converted. Flex is a warning by default (the
model converts, but the runtime must link the Flex delegate); `allow_flex=False` makes it
a blocker, as `tflite-builtins` on the command line. `lowering(op)` is the entry a TFLite
emitter is to follow, so that analysis and emission share one table; no such emitter
exists yet, so this verdict is not yet measured against a real conversion.

What "convertible" means here: every node has a lowering in the table whose dtype and
attribute conditions hold, and no float64 tensor remains (no builtin kernel takes it):
builtins, plus Select TF ops where the table says Flex (a warning here, a blocker for
`tflite-builtins`).
Findings with a fix (fold-constants, float64-to-float32, ...) name the pass that
`graphkit fix --target tflite` runs to remove them.
"""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from graphkit.findings import Finding, Severity
from graphkit.targets._data import OpEntry, load_target_data
from graphkit.targets._table import TableTarget
from graphkit.targets.base import NodeContext
from graphkit.targets.checks import GenericChecks


class TFLiteTarget(TableTarget):
    def __init__(self, allow_flex: bool = True) -> None:
        data = load_target_data("tflite")
        name = "tflite" if allow_flex else "tflite-builtins"
        # No builtin kernel takes float64, wherever it appears (a Cast to double included).
        super().__init__(
            data, name=name, label="TFLite", generic=GenericChecks(float64=Severity.ERROR)
        )
        self.allow_flex = allow_flex
        if not allow_flex:
            self.description = f"{data.description}, builtins only (no Flex)"

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        findings = super().check_node(node, ctx)
        if self.allow_flex:
            return findings
        return [
            dataclasses.replace(f, severity=Severity.ERROR) if f.code == "GK107" else f
            for f in findings
        ]

    def lowering(self, node: ir.Node, ctx: NodeContext) -> OpEntry | None:
        """The table entry the emitter follows for this node (None: not in the table)."""
        return self.entry_for(node, ctx)
