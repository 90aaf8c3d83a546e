"""Other projects' passes as graphkit passes, run under graphkit's proof like its own.

    PassManager([OnnxIRPass(CommonSubexpressionEliminationPass())]).run(model)

onnx-ir passes (onnx_ir.passes.PassBase: onnx_ir.passes.common, and onnxscript's optimizer
and rewriter passes, which build on it) take a model and return PassResult(model, modified).
The adapter runs one on the model the manager gives it: an in-place pass edits that model,
and a functional pass's new model is adopted into it, since graphkit's passes edit in place.
The manager then proves the result and rolls it back if it changed the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import onnx_ir as ir

from graphkit.passmanager import Pass, PassContext, PassKind, PassResult, count_nodes


@dataclass(frozen=True)
class OnnxIRPass(Pass):
    """An onnx-ir pass (onnx_ir.passes.PassBase) as a graphkit rewrite.

    Not in the pass registry: it wraps a pass object, which a pipeline string cannot name.
    """

    kind: ClassVar[PassKind] = "rewrite"
    inner: Any  # an onnx_ir.passes.PassBase

    @property
    def name(self) -> str:  # type: ignore[override]  # one per wrapped pass, for the report
        return f"onnx-ir:{type(self.inner).__name__}"

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        nodes_before = count_nodes(model)
        result = self.inner(model)
        if result.model is not model:
            _adopt(model, result.model)
        if not result.modified:
            return PassResult()
        change = f"{type(self.inner).__name__}: {nodes_before} -> {count_nodes(model)} nodes"
        return PassResult(modified=True, changes=[change])


def _adopt(model: ir.Model, new: ir.Model) -> None:
    """Give `model`, in place, what a functional pass returned in a new model."""
    model.graph = new.graph
    model.functions.clear()
    model.functions.update(new.functions)
    model.ir_version = new.ir_version  # the opset imports are the graph's


__all__ = ["OnnxIRPass"]
