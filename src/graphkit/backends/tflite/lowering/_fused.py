"""The graphkit.fused ops that outline-gelu writes (passes/outline_gelu.py): GELU below
opset 20, where ONNX has no Gelu op, as one GELU builtin instead of the Erf (or Tanh)
composition its pieces lower to."""

from __future__ import annotations

import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import F32, Emit, EmitContext, Lowering, entry
from graphkit.passes.outline_gelu import FUNCTIONS, FUSED_DOMAIN


def _emit_gelu(approximate: bool) -> Emit:
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        perm = ctx.perm_of(node.inputs[0])
        source = ctx.input(node.inputs[0], perm)
        made = options("GeluOptions", approximate=approximate)
        ctx.op("GELU", [source], [ctx.output(node.outputs[0], perm)], made)

    return emit


def entries() -> dict[str, list[Lowering]]:
    """graphkit.fused op -> its entry (the functions take float32 only)."""
    return {name: [entry("GELU", _emit_gelu(form == "tanh"), dtypes=F32)]
            for form, name in FUNCTIONS.items()}


__all__ = ["FUSED_DOMAIN", "entries"]
