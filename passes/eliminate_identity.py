"""Identity(x) -> x, where the graph's interface allows."""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir
from onnx_ir.passes.common import IdentityEliminationPass

from graphkit.passmanager import Pass, PassContext, PassResult, count_nodes


@dataclass(frozen=True)
class EliminateIdentity(Pass):
    name = "eliminate-identity"
    kind = "rewrite"
    reaches_subgraphs = True  # If/Loop/Scan bodies and functions too (diagnose reads it)
    preserves_shapes = True

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        before = count_nodes(model)
        modified = IdentityEliminationPass()(model).modified
        removed = before - count_nodes(model)
        return PassResult(modified=modified,
                          changes=[f"removed {removed} Identity node(s)"] if modified else [])
