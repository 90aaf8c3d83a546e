"""GELU written out in primitive ops -> a call to a model-local GELU function:

    x/2 * (1 + erf(x/sqrt2))                        -> graphkit.fused::Gelu(x)
    x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  -> graphkit.fused::GeluTanh(x)

Below opset 20 ONNX has no Gelu op, so `fuse` leaves these five-to-eight node chains as
they are (torch's exporter writes them for nn.GELU), and a target that has a GELU kernel
would run the pieces: for TFLite, Erf alone is a 22-builtin rational approximation. This
pass gives such a target one node to lower. The function's body is the exact formula in
opset-`n` ops, so ONNX Runtime inlines and runs the rewritten model and the pass manager
proves it like any rewrite. A convert step for the emitter that maps the call to its
builtin (backends/tflite/emitter.PREPARE), not part of `fix`: a fixed .onnx stays plain ONNX.

At opset 20 and later the pass does nothing: `fuse{rules=gelu}` writes ONNX's own Gelu.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.ir._walk import every_graph
from graphkit.passes._fusions_activation import SQRT2, SQRT_2_OVER_PI, gelu_rules
from graphkit.passes._graph_edit import ensure_shapes
from graphkit.passmanager import Pass, PassContext, PassResult
from graphkit.rewrite import Builder, RewriteLog, names_in_model, rewrite

FUSED_DOMAIN = "graphkit.fused"
GELU_OPSET = 20  # ONNX's own Gelu from here on
# the `approximate` attribute of ONNX's Gelu -> the function that computes that form
FUNCTIONS = {"none": "Gelu", "tanh": "GeluTanh"}


@dataclass(frozen=True)
class OutlineGelu(Pass):
    name = "outline-gelu"
    kind = "rewrite"
    fixes = ()

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1))
        if opset >= GELU_OPSET:
            return PassResult(modified=False)
        ensure_shapes(model, ctx)  # the element types: the functions are float32
        used: set[str] = set()

        def call(op: Builder, x: ir.Value, approximate: str | None) -> ir.Value | None:
            if x.dtype != ir.DataType.FLOAT:
                return None  # the function is float32; the pieces stay
            name = FUNCTIONS[approximate or "none"]
            used.add(name)
            return op.op(name, x, _domain=FUSED_DOMAIN)

        rules = gelu_rules(call, min_opset=1)
        log = RewriteLog()
        taken = names_in_model(model)
        for scope in every_graph(model):
            if scope.in_function:  # a call there would need the function's own import
                continue
            part = rewrite(scope.graph, rules, scope.opset, taken=taken,
                           in_function=scope.in_function)
            log.rewrites += part.rewrites
            log.changes += part.changes
        if not log.rewrites:
            return PassResult(modified=False)
        model.opset_imports[FUSED_DOMAIN] = 1
        for name in sorted(used):
            model.functions[(FUSED_DOMAIN, name, "")] = _function(name, opset)
        return PassResult(modified=True, changes=log.changes)


def _function(name: str, opset: int) -> ir.Function:
    """The GELU form `name` as a function of X in opset-`opset` ops."""
    x = ir.Value(name="X")
    op = Builder(ir.Graph([], [], nodes=[]), opset, name, taken={"X"}, constant_nodes=True)

    def scalar(number: float) -> ir.Value:
        return op.const(np.array(number, np.float32))

    if name == "Gelu":  # x/2 * (1 + erf(x/sqrt2))
        factor = op.Erf(op.Div(x, scalar(SQRT2)))
    else:  # x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = op.Mul(x, op.Mul(x, x))
        factor = op.Tanh(op.Mul(op.Add(x, op.Mul(cube, scalar(0.044715))),
                                scalar(SQRT_2_OVER_PI)))
    y = op.Mul(op.Mul(x, scalar(0.5)), op.Add(factor, scalar(1.0)))
    y.name = "Y"
    graph = ir.Graph([x], [y], nodes=op.nodes, opset_imports={"": opset}, name=name)
    return ir.Function(FUSED_DOMAIN, name, graph=graph, attributes=[])
