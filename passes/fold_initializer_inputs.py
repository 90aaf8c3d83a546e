"""graph input x with initializer x -> initializer x (a constant no caller can override).

Before IR version 4, ONNX required every initializer to be listed among the graph inputs
too, so the classic model-zoo files (and the onnx package's 'light' test models) declare
all their weights as inputs. The spec reads such an input as overridable with a default:
a caller may feed it, else the initializer is used. That keeps every analysis and rewrite
from treating the weights as constants: a target that needs a constant weight refuses
them (GK105), folding stops at them, and ONNX Runtime's ORT format drops the defaults of
some. Deployment almost always wants the defaults baked in (onnxsim and onnxslim do the
same), so `fix` applies this pass wherever diagnose reports GK306; the report says how
many inputs became constants.

The model's IR version goes to 4 where it was lower (graphkit.ir._initializers).
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from graphkit.ir._initializers import allow_initializers_apart, overridable_initializers
from graphkit.passmanager import Pass, PassContext, PassResult


@dataclass(frozen=True)
class FoldInitializerInputs(Pass):
    name = "fold-initializer-inputs"
    kind = "rewrite"
    fixes = ("GK306",)
    # Not shape-preserving: inference reads constants' values, never an overridable input's
    # (graphkit.ir._light.keep_value), so after this pass it may know more shapes.

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        graph = model.graph
        folded = overridable_initializers(graph)
        for value in folded:
            graph.inputs.remove(value)
        if not folded:
            return PassResult()
        old_ir = model.ir_version
        changes = [f"{len(folded)} initializer(s) that were also graph inputs are now "
                   "constants (their values were the inputs' defaults)"]
        if allow_initializers_apart(model):
            changes.append(f"IR version {old_ir} -> {model.ir_version}, which lets "
                           "initializers stand apart from the inputs")
        return PassResult(modified=True, changes=changes)
