"""The light copy of a model that shape inference and the runner's checkpoints use: the
whole model, but with its large weights as typed graph inputs.

Shape inference needs a weight's type and shape, never its values (values matter only for
the small integer tensors that feed Reshape, Slice, Expand..., and those stay); the runner
feeds the left-out weights back at run time (graphkit.runner.LightModel). Below both, in
the IR layer, so that neither reaches up into the other's.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx
import onnx_ir as ir

from graphkit.ir._save import external_tensors_in_memory

# Initializers up to this size keep their values for inference; larger ones are typed
# inputs. Integer tensors get a larger allowance: they are the ones that hold shapes.
KEEP_BYTES = 4096
KEEP_INT_BYTES = 65536
INTEGER_TYPES = frozenset({
    ir.DataType.INT64, ir.DataType.INT32, ir.DataType.INT16, ir.DataType.INT8,
    ir.DataType.UINT64, ir.DataType.UINT32, ir.DataType.UINT16, ir.DataType.UINT8,
})


def inference_proto(model: ir.Model, keep: Callable[[ir.Value], bool] | None = None
                    ) -> onnx.ModelProto:
    """The whole model but for the initializers `keep` rejects (default: the large ones),
    which become typed graph inputs. graphkit.runner.LightModel feeds them back at run time
    and restores the IR from this proto, so every other field is kept. The tensors it keeps
    carry their data: runtimes get this proto as bytes, and would resolve a reference to
    the model's data file against the working directory, not the model's folder."""
    graph = model.graph
    keep = keep or keep_value
    kept = [v for v in graph.initializers.values() if keep(v)]
    kept_names = {v.name for v in kept}
    left_out = [v for v in graph.initializers.values() if v.name not in kept_names]
    typed = [v for v in left_out if not v.is_graph_input()]
    view = ir.GraphView(
        inputs=[*graph.inputs, *typed], outputs=list(graph.outputs), nodes=list(graph),
        initializers=kept, name=graph.name, doc_string=graph.doc_string,
        metadata_props=dict(graph.metadata_props),
    )
    proto = onnx.ModelProto(
        ir_version=model.ir_version, producer_name=model.producer_name or "",
        producer_version=model.producer_version or "", domain=model.domain or "",
        model_version=model.model_version or 0, doc_string=model.doc_string or "",
    )
    for key, value in model.metadata_props.items():
        proto.metadata_props.add(key=key, value=value)
    for domain, version in model.opset_imports.items():
        proto.opset_import.add(domain=domain, version=version)
    with external_tensors_in_memory(model, skip=set(left_out)):
        ir.serde.serialize_graph_into(proto.graph, view, model_ir_version=model.ir_version)
        for function in model.functions.values():
            ir.serde.serialize_function_into(proto.functions.add(), function)
    return proto


def keep_value(value: ir.Value) -> bool:
    """Whether inference needs this initializer's values (small, or integer: shapes).

    Never for one that is a graph input too: a caller may feed other values (its
    initializer is only the default), so they are not facts that shapes may be derived from;
    inference sees its declared type and shape."""
    tensor = value.const_value
    if tensor is None:
        return True
    if value.is_graph_input():
        return False
    limit = KEEP_INT_BYTES if tensor.dtype in INTEGER_TYPES else KEEP_BYTES
    return tensor.nbytes <= limit or value.type is None or value.shape is None
