"""Constant() -> initializer, so that constants are data rather than nodes to schedule."""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir
from onnx_ir.passes.common import LiftConstantsToInitializersPass

from graphkit.passmanager import Pass, PassContext, PassResult, count_nodes


@dataclass(frozen=True)
class LiftConstants(Pass):
    name = "lift-constants"
    kind = "rewrite"

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        nodes = count_nodes(model)
        # size_limit=0: small constants (shape pieces, axes) are the ones that clutter graphs.
        LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(model)
        lifted = nodes - count_nodes(model)
        return PassResult(
            changes=[f"turned {lifted} Constant node(s) into initializers"] if lifted else []
        )
