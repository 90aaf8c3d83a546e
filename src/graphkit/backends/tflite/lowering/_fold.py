"""Values known when converting: constant-only subgraphs, computed once and written as
constants, so none of their nodes reaches the .tflite file.

A node folds where every input is known (an initializer, a Constant, a dequantized
constant, an output that folds itself, or a value whose static shape has no elements) or
where it reads only the static shape of its input (Shape, Size); an output whose static
shape has no elements is known whatever computes it. onnx's reference evaluator computes
it, with the model's opset: the value is ONNX's by definition, whatever builtin the op
would have needed (integer Div, BitShift, a float64 step of a shape computation). Only
the main graph folds (its nodes know their opset); If/Loop bodies are lowered as they
are.

The results live in the model's ValueFacts (`folded`), filled for a whole graph in one
pass in node order the first time any value of it is asked about: analysis and emission
ask the same facts, and so they see the same constants.

Shapes downstream of a folded value (a Reshape by a computed shape) are then inferred
again with the folded values as initializers (`refined`): what onnx's data propagation
cannot follow (Div, Where, ConstantOfShape, ...) the evaluator has computed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.backends.tflite.lowering._constants import const_or_dequantized
from graphkit.ir._light import keep_value
from graphkit.targets._facts import facts_from_graph_proto
from graphkit.targets.base import ValueFacts

# Ops that must run when the model runs: random draws, and the quantization steps the
# lowering keeps as they are (a Q/DQ weight is read as an int8 weight by Conv and MatMul).
UNFOLDED = frozenset({
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli",
    "Multinomial", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
    "If", "Loop", "Scan", "SequenceMap",
})
READS_SHAPE_ONLY = frozenset({"Shape", "Size"})
REDUCTIONS = frozenset({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                        "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
                        "ReduceLogSumExp"})
REFINE_ROUNDS = 3  # each round can make more Shape nodes static, and so fold
MAX_ELEMENTS = 1 << 20  # larger results stay computed at run time (the file stays small)
FOLDABLE_DTYPES = frozenset({np.dtype(t) for t in (
    np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8,
    np.uint16, np.uint32, np.uint64, np.bool_)})


def refined(graph: ir.Graph | None, values: ValueFacts) -> ValueFacts:
    """The facts with the shapes that folding makes known (`values` itself where nothing
    folds, or the graph gives no opset). Computed once per graph and kept in `values`."""
    if graph is not None and _opset(graph) is None:
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
    if _opset(node.graph) in (None, 8):
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
        if node.op_type != "Scan" or _opset(graph) < 9 or all(
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
    table = _graph_folds(graph, values)
    if not table:
        return None
    proto = _folded_proto(graph, table)
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


def _folded_proto(graph: ir.Graph, table: dict[ir.Value, np.ndarray]) -> onnx.ModelProto:
    """The graph for inference: folded nodes left out, their outputs as initializers, large
    weights as typed inputs (their values never decide a shape)."""
    # with their shapes: an initializer whose value_info has a type but no shape makes
    # onnx's inference misread it (a Slice's axes, as in CausalConvWithState's body)
    constants = [ir.Value(name=v.name, type=v.type, const_value=ir.tensor(a),
                          shape=ir.Shape(np.shape(a)) if v.type is not None else None)
                 for v, a in table.items() if v.name]
    small = [v for v in graph.initializers.values() if keep_value(v)]
    large = [v for v in graph.initializers.values()
             if not keep_value(v) and not v.is_graph_input()]
    nodes = [n for n in graph if not (n.outputs and all(o in table for o in n.outputs))]
    view = ir.GraphView(inputs=[*graph.inputs, *large], outputs=list(graph.outputs),
                        nodes=nodes, initializers=[*small, *constants], name=graph.name)
    proto = onnx.ModelProto(ir_version=10)
    for domain, version in graph.opset_imports.items():
        proto.opset_import.add(domain=domain, version=version)
    ir.serde.serialize_graph_into(proto.graph, view)
    return proto


def folded(value: ir.Value | None, values: ValueFacts) -> np.ndarray | None:
    """The value's data when it is known when converting (None: only the run knows it)."""
    if value is None:
        return None
    producer = value.producer()
    if producer is None or _opset(producer.graph) is None:
        return None
    return _graph_folds(producer.graph, values).get(value)


def node_folds(node: ir.Node, values: ValueFacts) -> bool:
    """Whether every output of the node is known when converting."""
    return bool(node.outputs) and all(folded(v, values) is not None for v in node.outputs)


def empty_array(value: ir.Value | None, values: ValueFacts) -> np.ndarray | None:
    """The data of a value whose static shape has no elements: the shape says it all,
    whatever computes the value (None: the value has elements, or its shape or type is
    not known)."""
    shape = values.shape(value) if value is not None else None
    if shape is None or not all(isinstance(d, int) for d in shape) or 0 not in shape:
        return None
    found = _numpy_dtype(value, values)
    return np.zeros(shape, found) if found in FOLDABLE_DTYPES else None


def _numpy_dtype(value: ir.Value, values: ValueFacts) -> np.dtype | None:
    dtype = values.dtype(value) or value.dtype
    try:
        return np.dtype(dtype.numpy()) if dtype is not None else None
    except (TypeError, ValueError):
        return None


def _opset(graph: ir.Graph | None) -> int | None:
    if graph is None:
        return None
    return graph.opset_imports.get("", graph.opset_imports.get("ai.onnx"))


def _graph_folds(graph: ir.Graph, values: ValueFacts) -> dict[ir.Value, np.ndarray]:
    key = ("graph", id(graph))
    found = values.folded.get(key)
    if found is not None and found[0] is graph:
        return found[1]
    table: dict[ir.Value, np.ndarray] = {}
    values.folded[key] = (graph, table)  # the same graph's lookups read it as it fills
    opset = _opset(graph)
    for node in graph:
        results = _fold_node(node, values, opset)
        if results is not None:
            table.update(zip(node.outputs, results, strict=True))
            continue
        if not all(_numpy_dtype(v, values) in FOLDABLE_DTYPES for v in node.inputs if v):
            continue  # a string input, say: the lowering judges the node
        for value in node.outputs:  # an output without elements is known by its shape
            array = empty_array(value, values)
            if array is not None:
                table[value] = array
    return table


def _fold_node(node: ir.Node, values: ValueFacts, opset: int) -> list[np.ndarray] | None:
    if node.domain not in ("", "ai.onnx") or node.op_type in UNFOLDED or not node.outputs:
        return None
    if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
           for a in node.attributes.values()):
        return None
    if node.op_type in READS_SHAPE_ONLY:
        return _shape_only(node, values)
    if node.op_type in REDUCTIONS:
        nothing = _reduced_nothing(node, values, opset)
        if nothing is not None:
            return nothing
    arrays = [None if v is None else _known(v, values) for v in node.inputs]
    if any(a is None for a, v in zip(arrays, node.inputs, strict=True) if v is not None):
        return None
    if not arrays and node.op_type != "Constant":
        return None  # generators without inputs (EyeLike has one) are lowered as they are
    return _evaluate(node, arrays, opset)


def _reduced_nothing(node: ir.Node, values: ValueFacts, opset: int
                     ) -> list[np.ndarray] | None:
    """A reduction whose input has no elements and whose output has some: every output
    element reduces an empty set, whichever axes are reduced (the axes may be known only
    when the model runs), so each is the op's value on nothing, as the evaluator gives it
    for an empty vector (sum 0, product 1, max -inf, ...)."""
    data = values.shape(node.inputs[0]) if node.inputs else None
    shape = values.shape(node.outputs[0])
    if data is None or shape is None or 0 not in data \
            or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    array = empty_array(node.inputs[0], values)
    if array is None:
        return None
    alone = ir.Node("", node.op_type, [ir.Value(name="data")],
                    attributes=[ir.AttrInt64("keepdims", 0)], num_outputs=1)
    results = _evaluate(alone, [np.zeros((0,), array.dtype)], opset)
    if results is None or results[0].ndim != 0:
        return None
    return [np.full(shape, results[0], results[0].dtype)]


def _known(value: ir.Value, values: ValueFacts) -> np.ndarray | None:
    array = const_or_dequantized(value)
    if array is None:
        array = folded(value, values)
    return array if array is not None else empty_array(value, values)


def _shape_only(node: ir.Node, values: ValueFacts) -> list[np.ndarray] | None:
    shape = values.shape(node.inputs[0])
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    if node.op_type == "Size":
        return [np.asarray(int(np.prod(shape)), dtype=np.int64)]
    start = node.attributes.get("start")
    end = node.attributes.get("end")
    dims = np.asarray(shape, dtype=np.int64)
    low = start.value if start is not None else 0
    high = end.value if end is not None else len(dims)
    return [dims[slice(max(low, -len(dims)), high)]]


def _evaluate(node: ir.Node, arrays: list[Any], opset: int) -> list[np.ndarray] | None:
    """The node run by onnx's reference evaluator (None where it cannot run it)."""
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if a is not None else "" for i, a in enumerate(arrays)]
    outputs = [f"out{i}" for i in range(len(node.outputs))]
    proto = ir.serde.serialize_node(node)
    del proto.input[:], proto.output[:]
    proto.input.extend(names)
    proto.output.extend(outputs)
    untyped = onnx.TypeProto()
    graph = onnx.helper.make_graph(
        [proto], "fold", [onnx.helper.make_value_info(n, untyped) for n in names if n],
        [onnx.helper.make_value_info(n, untyped) for n in outputs])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    feeds = {n: a for n, a in zip(names, arrays, strict=True) if n}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            results = ReferenceEvaluator(model).run(None, feeds)
    except Exception:  # noqa: BLE001 - an op the evaluator cannot run stays a node
        return None
    arrays_out = [np.asarray(r) if isinstance(r, (np.ndarray, np.generic)) else None
                  for r in results]
    if any(a is None or a.dtype not in FOLDABLE_DTYPES or a.size > MAX_ELEMENTS
           for a in arrays_out):
        return None
    return arrays_out
