"""Node whose outputs nobody reads -> (removed); unused initializers too."""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir
from onnx_ir.passes.common import RemoveUnusedNodesPass

from graphkit.passmanager import Pass, PassContext, PassResult, count_nodes


@dataclass(frozen=True)
class RemoveDeadNodes(Pass):
    name = "remove-dead-nodes"
    kind = "rewrite"
    preserves_shapes = True

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        nodes = count_nodes(model)
        initializers = len(model.graph.initializers)
        RemoveUnusedNodesPass()(model)
        removed_nodes = nodes - count_nodes(model)
        removed_inits = initializers - len(model.graph.initializers)
        changes = []
        if removed_nodes:
            changes.append(f"removed {removed_nodes} node(s) whose outputs were never used")
        if removed_inits:
            changes.append(f"removed {removed_inits} unused initializer(s)")
        return PassResult(changes=changes)
