"""float64 value -> float32 value (constants rounded, Cast(to=DOUBLE) -> Cast(to=FLOAT)).

The graph's interface keeps its float64 inputs and outputs unless keep-boundary=false:
an input gets Cast(to=FLOAT) behind it and an output Cast(to=DOUBLE) in front of it.
Those Casts are the boundary on a second run: an input read only by Casts and an output a
Cast produces are left as they are, so the second run changes nothing.
Constants beyond float32's range would become inf; the pass manager's numerical check
is what catches a model whose values need float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passes._graph_edit import cast_after_input, cast_before_output, ensure_shapes
from graphkit.passmanager import Pass, PassContext, PassResult

F64, F32 = ir.DataType.DOUBLE, ir.DataType.FLOAT
# Ops whose output type is an attribute: attribute name -> how it names the type.
DTYPE_ATTRS = {"Cast": "to", "RandomNormal": "dtype", "RandomUniform": "dtype",
               "RandomNormalLike": "dtype", "RandomUniformLike": "dtype", "EyeLike": "dtype"}


@dataclass(frozen=True)
class Float64ToFloat32(Pass):
    name = "float64-to-float32"
    kind = "rewrite"
    fixes = ("GK202",)
    keep_boundary: bool = True

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        graph = model.graph
        ensure_shapes(model, ctx)
        # One line per edit: the edits made are the lines listed.
        changes = _convert_constants(graph) + _convert_attributes(graph, self.keep_boundary)
        changes += self._convert_interface(graph)
        retyped = 0
        for node in graph:
            for out in node.outputs:
                if out.dtype == F64 and not (node.op_type == "Cast" and out.is_graph_output()):
                    out.dtype = F32
                    retyped += 1
        if retyped:
            changes.append(f"{retyped} float64 intermediate value(s) are float32 now")
        return PassResult(modified=bool(changes), changes=changes)

    def _convert_interface(self, graph: ir.Graph) -> list[str]:
        changes = []
        for value in [v for v in graph.inputs if v.dtype == F64 and not v.is_initializer()]:
            if self.keep_boundary and _only_cast(value):
                continue  # cast on entry already
            if self.keep_boundary:
                cast_after_input(graph, value, F32)
                changes.append(f"input '{value.name}' stays float64, cast to float32 on entry")
            else:
                value.dtype = F32
                changes.append(f"input '{value.name}' is float32 now")
        for value in [v for v in graph.outputs if v.dtype == F64]:
            if self.keep_boundary and _is_cast(value.producer()):
                continue  # cast on exit already
            name, value.dtype = value.name, F32
            if self.keep_boundary:
                cast_before_output(graph, value, F64)
                changes.append(f"output '{name}' stays float64, cast on exit")
            else:
                changes.append(f"output '{value.name}' is float32 now")
        return changes


def _convert_constants(graph: ir.Graph) -> list[str]:
    changes = []
    for value in graph.initializers.values():
        if value.const_value is None or value.const_value.dtype != F64:
            continue
        array = value.const_value.numpy().astype(np.float32)
        value.const_value = ir.tensor(array, name=value.name)
        value.dtype = F32
        changes.append(f"initializer '{value.name}' rounded to float32")
    return changes


def _only_cast(value: ir.Value) -> bool:
    return bool(value.uses()) and all(_is_cast(use.node) for use in value.uses())


def _is_cast(node: ir.Node | None) -> bool:
    return node is not None and node.op_type == "Cast" and node.domain in ("", "ai.onnx")


def _convert_attributes(graph: ir.Graph, keep_boundary: bool) -> list[str]:
    changes = []
    for node in graph:
        if keep_boundary and _is_cast(node) and node.outputs[0].is_graph_output():
            continue  # the Cast on exit that keeps an output float64
        attr_name = DTYPE_ATTRS.get(node.op_type)
        if attr_name and node.attributes.get_int(attr_name, -1) == F64:
            node.attributes[attr_name] = ir.AttrInt64(attr_name, F32)
            changes.append(f"{node.op_type} '{node.name}' produces float32")
        tensor_attr = (node.attributes.get("value")
                       if node.op_type in ("Constant", "ConstantOfShape") else None)
        if tensor_attr is not None and tensor_attr.type == ir.AttributeType.TENSOR \
                and tensor_attr.value.dtype == F64:
            array = tensor_attr.value.numpy().astype(np.float32)
            node.attributes["value"] = ir.AttrTensor("value", ir.tensor(array))
            changes.append(f"{node.op_type} '{node.name}' holds float32")
    return changes
