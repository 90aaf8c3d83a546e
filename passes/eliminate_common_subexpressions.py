"""Op(a, b) computed twice with equal inputs and attributes -> one Op(a, b) feeding both uses.

Equal small initializers are merged first, so that nodes reading two copies of the same
constant (an exporter writes one `axes=[0]` per Unsqueeze) are recognised as equal too.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir
from onnx_ir.passes.common import CommonSubexpressionEliminationPass, DeduplicateInitializersPass

from graphkit.passmanager import Pass, PassContext, PassResult, count_nodes


@dataclass(frozen=True)
class EliminateCommonSubexpressions(Pass):
    name = "eliminate-common-subexpressions"
    kind = "rewrite"
    preserves_shapes = True
    max_elements: int = 1024  # initializers larger than this are not compared

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        nodes = count_nodes(model)
        initializers = len(model.graph.initializers)
        merged = DeduplicateInitializersPass(size_limit=self.max_elements)(model).modified
        merged |= CommonSubexpressionEliminationPass(size_limit=self.max_elements)(model).modified
        changes = []
        merged_inits = initializers - len(model.graph.initializers)
        merged_nodes = nodes - count_nodes(model)
        if merged_inits:
            changes.append(f"merged {merged_inits} duplicate initializer(s)")
        if merged_nodes:
            changes.append(f"merged {merged_nodes} node(s) that recomputed an existing value")
        return PassResult(modified=merged, changes=changes)
