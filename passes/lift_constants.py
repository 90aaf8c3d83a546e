"""Constant() -> initializer, so that constants are data rather than nodes to schedule.

Every Constant node (in subgraphs too: the initializer goes to the graph that held the
node) whose one attribute is a tensor or a scalar/list value becomes an initializer named
after its output. Left alone: a Constant that is itself a graph output (an initializer
cannot be one in every IR version), a sparse_value, and malformed nodes with other than
one attribute. Written here rather than with onnx-ir's LiftConstantsToInitializersPass:
its runtime-checkable-protocol isinstance calls cost ~0.1 s on the benchmark's 2,595
Constants, most of this pass's time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passmanager import Pass, PassContext, PassResult

_LISTS = {"value_int": ir.DataType.INT64, "value_ints": ir.DataType.INT64,
          "value_float": ir.DataType.FLOAT, "value_floats": ir.DataType.FLOAT}


@dataclass(frozen=True)
class LiftConstants(Pass):
    name = "lift-constants"
    kind = "rewrite"
    preserves_shapes = True

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        lifted = 0
        for node in list(ir.traversal.RecursiveGraphIterator(model.graph)):
            if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
                continue
            output = node.outputs[0]
            if output.is_graph_output() or len(node.attributes) != 1 or node.graph is None:
                continue
            [(attr_name, attr)] = node.attributes.items()
            tensor = _tensor(attr_name, attr, output.name or "")
            if tensor is None:
                continue
            initializer = ir.Value(name=output.name, shape=ir.Shape(tensor.shape),
                                   type=ir.TensorType(tensor.dtype), const_value=tensor,
                                   metadata_props=output.metadata_props.copy())
            initializer.meta.update(output.meta)
            node.graph.register_initializer(initializer)
            output.replace_all_uses_with(initializer)
            node.graph.remove(node)
            lifted += 1
        return PassResult(modified=lifted > 0,
                          changes=[f"turned {lifted} Constant node(s) into initializers"]
                          if lifted else [])


def _tensor(attr_name: str, attr: ir.Attr, name: str) -> ir.TensorProtocol | None:
    if attr_name == "value" and attr.type == ir.AttributeType.TENSOR:
        return attr.value
    if attr_name in _LISTS:
        return ir.tensor(attr.value, dtype=_LISTS[attr_name], name=name)
    if attr_name in ("value_string", "value_strings"):
        return ir.StringTensor(np.array(attr.value, dtype=np.bytes_), name=name)
    return None  # sparse_value, or an attribute a Constant does not have
