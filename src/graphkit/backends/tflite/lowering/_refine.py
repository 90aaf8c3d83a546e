"""Shapes that folding makes known (lowering/_fold.py computes the values): downstream of
a folded value (a Reshape by a computed shape) the graph is inferred again with the folded
values as initializers, so what onnx's data propagation cannot follow (Div, Where,
ConstantOfShape, ...) the evaluator has computed. Scan bodies are inferred with their
per-step input shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.backends.tflite.lowering._constants import const_or_dequantized
from graphkit.backends.tflite.lowering._fold import folded, folded_proto, graph_folds, graph_opset
from graphkit.targets._facts import facts_from_graph_proto
from graphkit.targets.base import ValueFacts

REFINE_ROUNDS = 3  # each round can make more Shape nodes static, and so fold


def refined(graph: ir.Graph | None, values: ValueFacts) -> ValueFacts:
    """The facts with the shapes that folding makes known (`values` itself where nothing
    folds, or the graph gives no opset). Computed once per graph and kept in `values`."""
    if graph is not None and graph_opset(graph) is None:
        return _body_refined(graph, values)
    if graph is None or values.folded.get("refined") is values:
        return values
    key = ("refined", id(graph))
    found = values.folded.get(key)
    if found is not None and found[0] is graph:
        return found[1]
    current = values
    for _ in range(REFINE_ROUNDS):
        better = _reinferred(graph, current)
        if better is None:
            break
        current = better
    current.folded["refined"] = current
    current.folded["main"] = (graph, current)
    values.folded[key] = (graph, current)
    return current


def _body_refined(body: ir.Graph, values: ValueFacts) -> ValueFacts:
    """A Scan body's facts, inferred once more as a graph of its own: its inputs with the
    shapes of one step of the node's inputs, the constants it reads from outside as
    initializers (onnx's inference of a body sees the outer values' types, not their data).
    Other bodies (If, Loop: a loop variable may change shape) keep the facts as they are."""
    key = ("body", id(body))
    found = values.folded.get(key)
    if found is not None and found[0] is body:
        return found[1]
    mains = [held for k, held in values.folded.items()
             if isinstance(k, tuple) and k[0] == "refined"] or [values.folded.get("main")]
    if len(mains) != 1 or mains[0] is None:
        return values  # no main graph refined yet: the facts as they are
    graph, main = mains[0]
    owner = next((n for n in graph if n.op_type == "Scan"
                  and n.attributes["body"].value is body), None)
    result = values
    if owner is not None:
        result = _reinferred_body(body, main, graph.opset_imports, owner) or main
    values.folded[key] = (body, result)
    return result


def _static(shape: tuple | None) -> bool:
    return shape is not None and all(isinstance(d, int) for d in shape)


def _scan_step_shapes(node: ir.Node, values: ValueFacts) -> dict[str, tuple]:
    """A Scan body's input shapes (opset 9 on): a state's as the node's input, a scan
    input's with its scan axis left out."""
    if graph_opset(node.graph) in (None, 8):
        return {}
    body = node.attributes["body"].value
    count = node.attributes["num_scan_inputs"].value
    axes_attr = node.attributes.get("scan_input_axes")
    axes = list(axes_attr.value) if axes_attr is not None else [0] * count
    states = len(node.inputs) - count
    shapes = {}
    for k, (inner, outer) in enumerate(zip(body.inputs, node.inputs)):
        array = const_or_dequantized(outer)
        array = array if array is not None else folded(outer, values)
        shape = array.shape if array is not None else values.shape(outer)
        if shape is None:
            continue
        if k >= states:
            axis = axes[k - states] % len(shape)
            shape = (*shape[:axis], *shape[axis + 1:])
        shapes[inner.name] = tuple(shape)
    return shapes


def _reinferred_body(body: ir.Graph, values: ValueFacts, opsets,
                     owner: ir.Node) -> ValueFacts | None:
    """The facts with what inferring the body of Scan `owner` on its own adds (None: it
    adds nothing)."""
    steps = _scan_step_shapes(owner, values)

    def typed(value: ir.Value) -> ir.Value | None:
        shape, dtype = steps.get(value.name, values.shape(value)), values.dtype(value)
        if dtype is None:
            return None
        return ir.Value(name=value.name, type=ir.TensorType(dtype),
                        shape=None if shape is None else ir.Shape(shape))

    inside = {v.name for n in ir.traversal.RecursiveGraphIterator(body) for v in n.outputs}
    inside |= {v.name for v in body.inputs}
    outer = {v.name: v for n in ir.traversal.RecursiveGraphIterator(body) for v in n.inputs
             if v is not None and v.name not in inside}
    constants, inputs = [], [typed(v) for v in body.inputs]
    for value in outer.values():
        array = const_or_dequantized(value)
        array = array if array is not None else folded(value, values)
        if array is not None:
            array = np.asarray(array)
            constants.append(ir.Value(name=value.name, type=ir.TensorType(
                ir.DataType.from_numpy(array.dtype)), const_value=ir.tensor(array)))
        else:
            inputs.append(typed(value))
    if any(v is None for v in inputs):
        return None
    view = ir.GraphView(inputs=inputs, outputs=list(body.outputs), nodes=list(body),
                        initializers=constants, name=body.name)
    proto = onnx.ModelProto(ir_version=10)
    for domain, version in opsets.items():
        proto.opset_import.add(domain=domain, version=version)
    ir.serde.serialize_graph_into(proto.graph, view)
    # the body's annotations of outer values (a type, no shape) would hide the initializers
    given = {v.name for v in [*proto.graph.input, *proto.graph.initializer]}
    kept = [v for v in proto.graph.value_info if v.name not in given]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(kept)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False,
                                                     strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - the facts as they were stay right
        return None
    fresh = facts_from_graph_proto(inferred.graph, list(range(len(inferred.graph.node))))
    gained = {name: shape for name, shape in fresh.shapes.items()
              if name in inside and _more_static(shape, values.shapes.get(name))}
    if not gained:
        return None
    earlier = values.gained if isinstance(values, RefinedFacts) else {}
    made = RefinedFacts({**fresh.types, **values.types}, {**values.shapes, **gained},
                        gained={**earlier, **gained})
    made.folded.update({k: v for k, v in values.folded.items() if k != "refined"})
    made.folded["refined"] = made
    return made


def _scan_outputs(graph: ir.Graph, values: ValueFacts) -> list[onnx.ValueInfoProto]:
    """The shapes of Scan outputs (opset 9 on) that its body's own inference gives, for
    the nodes that read them: a final state as the body's, a scan output with the scan
    length inserted at its axis."""
    found = []
    for node in graph:
        if node.op_type != "Scan" or graph_opset(graph) < 9 or all(
                _static(values.shape(v)) for v in node.outputs):
            continue
        body = node.attributes["body"].value
        facts = _reinferred_body(body, values, graph.opset_imports, node)
        scans = node.inputs[len(node.inputs) - node.attributes["num_scan_inputs"].value:]
        first = values.shape(scans[0]) if facts is not None and scans else None
        if first is None:
            continue
        axes = node.attributes.get("scan_input_axes")
        axis = axes.value[0] if axes is not None else 0
        length = first[axis]
        states = len(node.inputs) - len(scans)
        out_axes = node.attributes.get("scan_output_axes")
        for k, (inner, outer) in enumerate(zip(body.outputs, node.outputs)):
            shape, dtype = facts.shape(inner), facts.dtype(inner)
            if shape is None or dtype is None:
                continue
            if k >= states:
                at = out_axes.value[k - states] if out_axes is not None else 0
                at = at + len(shape) + 1 if at < 0 else at
                shape = (*shape[:at], length, *shape[at:])
            found.append(onnx.helper.make_tensor_value_info(outer.name, int(dtype), shape))
    return found


def _reinferred(graph: ir.Graph, values: ValueFacts) -> ValueFacts | None:
    """Inference once more, folded nodes replaced by their values; None: nothing new."""
    table = graph_folds(graph, values)
    if not table:
        return None
    proto = folded_proto(graph, table)
    proto.graph.value_info.extend(_scan_outputs(graph, values))
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False,
                                                     strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - the facts as they were stay right
        return None
    fresh = facts_from_graph_proto(inferred.graph)
    known = {v.name: values.shape(v) for v in _graph_values(graph)}
    gained = {name: shape for name, shape in fresh.shapes.items()
              if _more_static(shape, known.get(name, values.shapes.get(name)))}
    if not gained:
        return None
    earlier = values.gained if isinstance(values, RefinedFacts) else {}
    types = {**fresh.types, **values.types}
    return RefinedFacts(types, {**values.shapes, **gained}, gained={**earlier, **gained})


@dataclass(frozen=True)
class RefinedFacts(ValueFacts):
    """Facts whose shapes folding made more static: those win over the IR's annotations
    (a function body's values carry the shapes inference gave them before folding)."""

    gained: Mapping[str, tuple] = field(default_factory=dict, compare=False)

    def shape(self, value: ir.Value | None):
        if value is not None and value.name in self.gained:
            return self.gained[value.name]
        return super().shape(value)


def _graph_values(graph: ir.Graph):
    yield from graph.inputs
    for node in graph:
        yield from node.outputs


def _more_static(new: tuple | None, old: tuple | None) -> bool:
    if new is None:
        return False
    if old is None:
        return True
    count = sum(isinstance(d, int) for d in new)
    return len(new) == len(old) and count > sum(isinstance(d, int) for d in old)
